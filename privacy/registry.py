"""The release registry: every table released for a school year, and the status of each cell.

A new table is protected together with what is already released for its year, so a cell once
shown stays shown and a cell once hidden stays hidden; this registry is what makes that
possible. It lives in the state database (not in the read-only warehouse) and is keyed by the
warehouse build: a rebuilt warehouse holds other counts, so its releases start afresh.

Hidden cells are stored with a NULL value: the registry never holds a secret count.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from privacy.state import open_state, write_transaction

RELEASE_KINDS = ("public", "export", "custom")
HIDDEN_STATUSES = frozenset({"suppressed_small", "suppressed_complement", "coded"})

REGISTRY_DDL = """
CREATE TABLE IF NOT EXISTS releases (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    release_id  TEXT NOT NULL UNIQUE,
    build_id    TEXT NOT NULL,
    school_year TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('public', 'export', 'custom')),
    request     TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS releases_by_year ON releases (build_id, school_year, kind);
CREATE TABLE IF NOT EXISTS released_cells (
    release_id TEXT NOT NULL REFERENCES releases (release_id),
    cell_key   TEXT NOT NULL,
    value      INTEGER,
    status     TEXT NOT NULL CHECK (status IN
               ('shown', 'suppressed_small', 'suppressed_complement', 'coded')),
    PRIMARY KEY (release_id, cell_key),
    CHECK ((status = 'shown') = (value IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS released_cells_by_key ON released_cells (cell_key);
"""


class RegistryConflictError(RuntimeError):
    """Another release for the same year was recorded while this one was being protected."""


@dataclass(frozen=True)
class Release:
    """One recorded release (what was asked for, by whom, when; not its values)."""

    seq: int
    release_id: str
    build_id: str
    school_year: str
    kind: str
    request: str
    created_by: str
    created_at: str


@dataclass(frozen=True)
class KnownCells:
    """What is already released for a year and build: cell_key -> status, and the last seq."""

    statuses: dict[str, str]
    last_seq: int

    def shown(self) -> frozenset[str]:
        return frozenset(k for k, s in self.statuses.items() if s == "shown")

    def hidden(self) -> frozenset[str]:
        return frozenset(k for k, s in self.statuses.items() if s != "shown")


def open_registry(db_path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Open the state database with the registry tables in place."""
    return open_state(db_path, REGISTRY_DDL)


def new_release_id(school_year: str, kind: str) -> str:
    return f"{school_year}-{kind}-{uuid.uuid4().hex[:16]}"


def _last_seq(con: sqlite3.Connection, build_id: str, school_year: str) -> int:
    row = con.execute(
        "SELECT coalesce(max(seq), 0) FROM releases WHERE build_id = ? AND school_year = ?",
        (build_id, school_year),
    ).fetchone()
    return int(row[0])


def last_seq(db_path: str | os.PathLike[str], build_id: str, school_year: str) -> int:
    """The sequence number of the year's newest release under this build (0 if none).

    It changes whenever a release of the year is recorded, so it versions `known_cells`.
    """
    con = open_registry(db_path)
    try:
        return _last_seq(con, build_id, school_year)
    finally:
        con.close()


def known_cells(
    db_path: str | os.PathLike[str],
    build_id: str,
    school_year: str,
    since: KnownCells | None = None,
) -> KnownCells:
    """Status of every cell released so far for the year under this build (one snapshot).

    A cell released in several tables has one status (the registry refuses to record a
    contradiction), so the last status read wins only among equal ones.
    since: an earlier answer for the same build and year; only the releases recorded after
    it are read (statuses never change once recorded).
    """
    after = since.last_seq if since is not None else 0
    con = open_registry(db_path)
    try:
        con.execute("BEGIN")
        try:
            seq = _last_seq(con, build_id, school_year)
            rows = con.execute(
                "SELECT c.cell_key, c.status FROM released_cells c "
                "JOIN releases r ON r.release_id = c.release_id "
                "WHERE r.build_id = ? AND r.school_year = ? AND r.seq > ? AND r.seq <= ?",
                (build_id, school_year, after, seq),
            ).fetchall()
        finally:
            con.execute("COMMIT")
    finally:
        con.close()
    statuses = dict(since.statuses) if since is not None else {}
    statuses.update((k, s) for k, s in rows)
    return KnownCells(statuses, seq)


def record_release(
    db_path: str | os.PathLike[str],
    *,
    release_id: str,
    build_id: str,
    school_year: str,
    kind: str,
    request: str,
    created_by: str,
    cells: Iterable[tuple[str, int | None, str]],
    expect_last_seq: int | None = None,
) -> None:
    """Record a release and its cells (cell_key, value or None when hidden, status) atomically.

    expect_last_seq: the registry state the release was protected against; if another release
    of the year was recorded since, nothing is written and RegistryConflictError is raised (the
    caller protects again). A cell whose status contradicts an earlier release is refused.
    """
    if kind not in RELEASE_KINDS:
        raise ValueError(f"unknown release kind {kind!r}")
    rows = []
    for key, value, status in cells:
        if status == "shown":
            if value is None:
                raise ValueError(f"shown cell {key} has no value")
            rows.append((release_id, key, int(value), status))
        elif status in HIDDEN_STATUSES:
            rows.append((release_id, key, None, status))
        else:
            raise ValueError(f"cell {key} has unknown status {status!r}")
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    con = open_registry(db_path)
    try:
        with write_transaction(con):
            if expect_last_seq is not None:
                seq = _last_seq(con, build_id, school_year)
                if seq != expect_last_seq:
                    raise RegistryConflictError(
                        f"another release for {school_year} was recorded meanwhile"
                    )
            con.execute(
                "INSERT INTO releases (release_id, build_id, school_year, kind, request, "
                "created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (release_id, build_id, school_year, kind, request, created_by, now),
            )
            con.executemany("INSERT INTO released_cells VALUES (?, ?, ?, ?)", rows)
            clash = con.execute(
                "SELECT c.cell_key FROM released_cells c "
                "JOIN released_cells o ON o.cell_key = c.cell_key "
                "JOIN releases r ON r.release_id = o.release_id "
                "WHERE c.release_id = ? AND o.release_id <> ? AND r.build_id = ? "
                "AND r.school_year = ? AND (o.status = 'shown') <> (c.status = 'shown') LIMIT 1",
                (release_id, release_id, build_id, school_year),
            ).fetchone()
            if clash is not None:
                raise ValueError(
                    f"cell {clash[0]} would be shown in one release and hidden in another"
                )
    finally:
        con.close()


def releases(
    db_path: str | os.PathLike[str],
    build_id: str | None = None,
    school_year: str | None = None,
    kind: str | None = None,
) -> list[Release]:
    """Recorded releases, oldest first, optionally for one build, year and kind."""
    sql = "SELECT * FROM releases WHERE 1 = 1"
    params: list[str] = []
    for col, value in (("build_id", build_id), ("school_year", school_year), ("kind", kind)):
        if value is not None:
            sql += f" AND {col} = ?"
            params.append(value)
    con = open_registry(db_path)
    try:
        rows = con.execute(sql + " ORDER BY seq", params).fetchall()
    finally:
        con.close()
    return [Release(**dict(r)) for r in rows]


def release_cells(
    db_path: str | os.PathLike[str], release_ids: Sequence[str]
) -> dict[str, tuple[int | None, str]]:
    """cell_key -> (value or None, status) over the given releases."""
    con = open_registry(db_path)
    out: dict[str, tuple[int | None, str]] = {}
    try:
        for rid in release_ids:
            for key, value, status in con.execute(
                "SELECT cell_key, value, status FROM released_cells WHERE release_id = ?", (rid,)
            ):
                out[key] = (value, status)
    finally:
        con.close()
    return out


def request_json(payload: dict) -> str:
    """Canonical JSON for a release's request column."""
    return json.dumps(payload, sort_keys=True)
