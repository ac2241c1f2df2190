"""DuckDB SQL for retention runs: when each record closes, what to archive, what to destroy.

The archive is a separate DuckDB file beside the warehouse (`x.duckdb` -> `x.archive.duckdb`)
holding, per scheduled table, the archived rows plus `archived_on` and `retention_run_id`. It is
kept out of the warehouse so that nothing reading the warehouse (the privacy layer, the
dashboard) ever sees archived records, and so the archive can be stored and permissioned apart.

Everything runs on one connection with catalogs attached: `src` (the current warehouse,
read-only) and `old_arch` (the current archive, read-only, or an empty in-memory stand-in),
seen through temp views `_old_<table>` that exist even when the archive lacks a table. A real
run (`apply_retention`) builds a NEW warehouse file from scratch (schema copied, kept rows
inserted), so destroyed rows are not left behind in free blocks of a copied file, and a new
archive file the same way; the archive is swapped in first, then the warehouse (via
`rewrite_warehouse`). A failure before the swaps changes nothing; a crash between the two swaps
leaves archived rows in both files, which the next run does not duplicate (the archive skips
rows it already holds by primary key). This module knows nothing of users or logs. Table and column names come from a schedule the privacy layer has checked against the
data dictionary, and are quoted; dates are bound parameters.

A record "closes" on a date: the end of its school year (30 June of the second calendar year of
"YYYY-YY"), a date column (e.g. a certification's expiry), or, for a person (students, staff),
the latest close of any of their records, active or archived ("last activity"). A person with no
records at all never closes and is kept.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb

from warehouse.connection import WarehouseMissingError, rewrite_warehouse

Basis = Literal["school_year", "date", "last_activity"]


@dataclass(frozen=True)
class ScheduledTable:
    """A record type as SQL sees it: table, how it closes, and its cutoffs for this run.

    Rows closing on or before `archive_cutoff` leave the warehouse (archived, or destroyed when
    they also close on or before `destroy_cutoff`)."""

    name: str
    table: str
    basis: Basis
    column: str
    key: str
    children: tuple[tuple[str, Basis, str], ...]
    archive_cutoff: dt.date
    destroy_cutoff: dt.date


def _q(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"bad identifier {name!r}")
    return f'"{name}"'


def close_expr(basis: Basis, column: str, alias: str) -> str:
    """SQL for the close date of a row of `alias` (school_year or date basis)."""
    col = f"{alias}.{_q(column)}"
    if basis == "school_year":
        return f"make_date(CAST(substr({col}, 1, 4) AS INTEGER) + 1, 6, 30)"
    if basis == "date":
        return f"CAST({col} AS DATE)"
    raise ValueError(f"basis {basis!r} has no per-row close date")


def _old(table: str) -> str:
    return f"temp.main.{_q('_old_' + table)}"


def _path_literal(path: str | os.PathLike[str]) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def archive_path(db_path: str | os.PathLike[str]) -> Path:
    """The archive file of a warehouse: `x.duckdb` -> `x.archive.duckdb`."""
    p = Path(db_path)
    return p.with_name(p.stem + ".archive.duckdb")


def _attach_sources(
    con: duckdb.DuckDBPyConnection, db_path: str | os.PathLike[str], archive: Path
) -> bool:
    """Attach the warehouse as `src` and the archive (if any) as `old_arch`, both read-only."""
    if not Path(db_path).is_file():
        raise WarehouseMissingError(f"no warehouse at {db_path}")
    con.execute(f"ATTACH {_path_literal(db_path)} AS src (READ_ONLY)")
    if archive.is_file():
        con.execute(f"ATTACH {_path_literal(archive)} AS old_arch (READ_ONLY)")
        return True
    con.execute("ATTACH ':memory:' AS old_arch")
    return False


def _prepare(con: duckdb.DuckDBPyConnection, tables: Sequence[ScheduledTable]) -> None:
    """The `_old_<table>` views and the person close-date tables."""
    present = {t for s, t in source_tables(con, "old_arch") if s == "main"}
    for t in tables:
        if t.table in present:
            body = f"SELECT * FROM old_arch.main.{_q(t.table)}"
        else:
            body = (
                "SELECT *, CAST(NULL AS DATE) AS archived_on,"
                f" CAST(NULL AS VARCHAR) AS retention_run_id FROM src.main.{_q(t.table)} WHERE false"
            )
        con.execute(f"CREATE OR REPLACE TEMP VIEW {_q('_old_' + t.table)} AS {body}")
    prepare_person_closes(con, tables)


@contextmanager
def planning_connection(
    db_path: str | os.PathLike[str], tables: Sequence[ScheduledTable]
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory connection with the warehouse and archive attached read-only: a dry run
    reads through it and cannot change either file."""
    con = duckdb.connect()
    try:
        _attach_sources(con, db_path, archive_path(db_path))
        _prepare(con, tables)
        yield con
    finally:
        con.close()


def plan_retention(
    db_path: str | os.PathLike[str], tables: Sequence[ScheduledTable]
) -> dict[str, list[tuple[str, int, int]]]:
    """Per record type, what a run would do (see `plan_counts`), reading only."""
    with planning_connection(db_path, tables) as con:
        return {t.name: plan_counts(con, t) for t in tables}


def apply_retention(
    db_path: str | os.PathLike[str],
    tables: Sequence[ScheduledTable],
    *,
    run_id: str,
    archived_on: dt.date,
) -> dict[str, list[tuple[str, int, int]]]:
    """Archive and destroy as planned by writing a new warehouse and a new archive and swapping
    them in (see the module docstring). Returns the plan that was carried out; raises (changing
    nothing) if the rows written do not add up to it."""
    archive = archive_path(db_path)
    tmp_archive = archive.with_name(f".{archive.name}.tmp-{uuid.uuid4().hex}")
    by_table = {t.table: t for t in tables}
    with rewrite_warehouse(db_path, copy_existing=False) as con:
        try:
            (target,) = con.execute("SELECT current_database()").fetchone()
            had_archive = _attach_sources(con, db_path, archive)
            _prepare(con, tables)
            plan = {t.name: plan_counts(con, t) for t in tables}
            copy_schema(con, str(target))
            kept: dict[str, int] = {}
            for schema, table in source_tables(con, "src"):
                scheduled = by_table.get(table) if schema == "main" else None
                kept[f"{schema}.{table}"] = copy_kept_rows(
                    con, str(target), schema, table, scheduled
                )
            con.execute(f"ATTACH {_path_literal(tmp_archive)} AS new_arch")
            added: dict[str, int] = {}
            for t in tables:
                _, added[t.name] = write_archive_table(
                    con, t, archived_on=archived_on, run_id=run_id
                )
            if had_archive:
                for schema, table in source_tables(con, "old_arch"):
                    if schema == "main" and table not in by_table:
                        copy_archive_table_as_is(con, table)
            for t in tables:
                gone = sum(n for a, _, n in plan[t.name] if a in ("archive", "destroy"))
                to_archive = sum(n for a, _, n in plan[t.name] if a == "archive")
                before = count_rows(con, "src", t.table)
                if before - kept[f"main.{t.table}"] != gone:
                    raise RuntimeError(f"retention of {t.name}: rows removed do not match the plan")
                if added[t.name] > to_archive:
                    raise RuntimeError(f"retention of {t.name}: rows archived exceed the plan")
            con.execute("DETACH new_arch")
            con.execute("DETACH old_arch")
            con.execute("DETACH src")
            os.replace(tmp_archive, archive)
        except BaseException:
            for leftover in (tmp_archive, tmp_archive.with_name(tmp_archive.name + ".wal")):
                leftover.unlink(missing_ok=True)
            raise
    return plan


def _close_table(name: str) -> str:
    return _q(f"_close_{name}")


def prepare_person_closes(con: duckdb.DuckDBPyConnection, tables: Sequence[ScheduledTable]) -> None:
    """Temp tables of each person's last-activity close date, over active and archived records."""
    for t in tables:
        if t.basis != "last_activity":
            continue
        parts = []
        for child, basis, column in t.children:
            for source in (f"src.main.{_q(child)}", _old(child)):
                parts.append(
                    f"SELECT c.{_q(t.key)} AS k, {close_expr(basis, column, 'c')} AS closes "
                    f"FROM {source} c"
                )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_close_table(t.name)} AS "
            f"SELECT k, max(closes) AS closes FROM ({' UNION ALL '.join(parts)}) GROUP BY k"
        )


def row_close(t: ScheduledTable, alias: str) -> str:
    """SQL for the close date of a row of `t` under `alias` (NULL: never closes)."""
    if t.basis == "last_activity":
        return f"(SELECT p.closes FROM {_close_table(t.name)} p WHERE p.k = {alias}.{_q(t.key)})"
    return close_expr(t.basis, t.column, alias)


def _past(t: ScheduledTable, alias: str, cutoff: str) -> str:
    return f"coalesce({row_close(t, alias)} <= {cutoff}, false)"


def plan_counts(con: duckdb.DuckDBPyConnection, t: ScheduledTable) -> list[tuple[str, int, int]]:
    """(action, close year, rows) of what a run would do to `t`: "archive" and "destroy" for
    warehouse rows, "destroy_archived" for rows already in the archive."""
    arch, dest = "CAST(? AS DATE)", "CAST(? AS DATE)"
    rows = con.execute(
        f"""
        SELECT action, year(closes) AS close_year, count(*) AS n FROM (
            SELECT CASE WHEN {_past(t, "w", dest)} THEN 'destroy' ELSE 'archive' END AS action,
                   {row_close(t, "w")} AS closes
            FROM src.main.{_q(t.table)} w WHERE {_past(t, "w", arch)}
            UNION ALL
            SELECT 'destroy_archived', {row_close(t, "a")}
            FROM {_old(t.table)} a WHERE {_past(t, "a", dest)}
        ) GROUP BY ALL ORDER BY action, close_year
        """,
        [t.destroy_cutoff, t.archive_cutoff, t.destroy_cutoff],
    ).fetchall()
    return [(str(a), int(y), int(n)) for a, y, n in rows]


def source_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[tuple[str, str]]:
    """(schema, table) of every table in an attached catalog."""
    rows = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ?"
        " ORDER BY schema_name, table_name",
        [catalog],
    ).fetchall()
    return [(str(s), str(t)) for s, t in rows]


def primary_key(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The primary-key columns of `src.main.table` (empty when it has none)."""
    rows = con.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() WHERE database_name = 'src'"
        " AND schema_name = 'main' AND table_name = ? AND constraint_type = 'PRIMARY KEY'",
        [table],
    ).fetchall()
    return list(rows[0][0]) if rows else []


def create_empty_archive_table(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> None:
    """An archive table shaped like `src.main.table` plus `archived_on` and `retention_run_id`."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {catalog}.main.{_q(table)} AS SELECT *,"
        " CAST(NULL AS DATE) AS archived_on, CAST(NULL AS VARCHAR) AS retention_run_id"
        f" FROM src.main.{_q(table)} WHERE false"
    )


def copy_schema(con: duckdb.DuckDBPyConnection, target: str) -> None:
    """Create every schema and table of `src`, empty, in catalog `target`."""
    con.execute(f"COPY FROM DATABASE src TO {_q_catalog(target)} (SCHEMA)")


def _q_catalog(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def copy_kept_rows(
    con: duckdb.DuckDBPyConnection,
    target: str,
    schema: str,
    table: str,
    scheduled: ScheduledTable | None,
) -> int:
    """Copy the rows of `src.schema.table` that stay in the warehouse into `target`; return how
    many. A scheduled table keeps rows that have not closed past their active period."""
    keep = f"WHERE NOT {_past(scheduled, 's', 'CAST(? AS DATE)')}" if scheduled else ""
    params = [scheduled.archive_cutoff] if scheduled else []
    con.execute(
        f"INSERT INTO {_q_catalog(target)}.{_q(schema)}.{_q(table)} "
        f"SELECT * FROM src.{_q(schema)}.{_q(table)} s {keep}",
        params,
    )
    (n,) = con.execute(
        f"SELECT count(*) FROM {_q_catalog(target)}.{_q(schema)}.{_q(table)}"
    ).fetchone()
    return int(n)


def write_archive_table(
    con: duckdb.DuckDBPyConnection,
    t: ScheduledTable,
    *,
    archived_on: dt.date,
    run_id: str,
) -> tuple[int, int]:
    """Fill `new_arch.main.<table>`: the old archive's rows not yet past retention, plus the
    warehouse rows past their active period but not past retention (skipping any already in
    the old archive by primary key, so a rerun after an interrupted swap adds no duplicates).
    Returns (rows kept from the old archive, rows newly archived)."""
    create_empty_archive_table(con, "new_arch", t.table)
    dest = "CAST(? AS DATE)"
    con.execute(
        f"INSERT INTO new_arch.main.{_q(t.table)} BY NAME SELECT * FROM "
        f"{_old(t.table)} a WHERE NOT {_past(t, 'a', dest)}",
        [t.destroy_cutoff],
    )
    (kept,) = con.execute(f"SELECT count(*) FROM new_arch.main.{_q(t.table)}").fetchone()
    pk = primary_key(con, t.table)
    dedupe = ""
    if pk:
        match = " AND ".join(f"a.{_q(c)} = w.{_q(c)}" for c in pk)
        dedupe = f"AND NOT EXISTS (SELECT 1 FROM {_old(t.table)} a WHERE {match})"
    con.execute(
        f"INSERT INTO new_arch.main.{_q(t.table)} BY NAME SELECT w.*, "
        "CAST(? AS DATE) AS archived_on, CAST(? AS VARCHAR) AS retention_run_id "
        f"FROM src.main.{_q(t.table)} w WHERE {_past(t, 'w', 'CAST(? AS DATE)')} "
        f"AND NOT {_past(t, 'w', 'CAST(? AS DATE)')} {dedupe}",
        [archived_on, run_id, t.archive_cutoff, t.destroy_cutoff],
    )
    (total,) = con.execute(f"SELECT count(*) FROM new_arch.main.{_q(t.table)}").fetchone()
    return int(kept), int(total) - int(kept)


def copy_archive_table_as_is(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Carry an archive table the schedule no longer names into the new archive unchanged."""
    con.execute(
        f"CREATE TABLE new_arch.main.{_q(table)} AS SELECT * FROM old_arch.main.{_q(table)}"
    )


def count_rows(con: duckdb.DuckDBPyConnection, catalog: str, table: str) -> int:
    """Rows of `catalog.main.table`."""
    (n,) = con.execute(f"SELECT count(*) FROM {_q_catalog(catalog)}.main.{_q(table)}").fetchone()
    return int(n)
