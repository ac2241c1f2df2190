"""District submissions: validate, reconcile IDs, and load all or nothing; history and calendar.

A submission is a set of CSV files from one district for one school year. It is checked
completely before anything is written (`warehouse.validation`); people without a state ID are
reconciled against the statewide roster (`warehouse.reconciliation`); then every change is made
in one copy-on-write transaction (`rewrite_warehouse`) that is swapped in whole or not at all.

A resubmission of a kind replaces that district's rows of that kind for the school year; the
earlier file stays in `submission_files` (status SUPERSEDED) so who sent what, when, is never
lost. Student and staff records are never deleted: an ID, once issued, is permanent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from warehouse.connection import connect_readonly, rewrite_warehouse
from warehouse.dictionary import load_dictionary
from warehouse.intake_formats import KINDS
from warehouse.reconciliation import (
    Thresholds,
    issued_id_set,
    reconcile_staff,
    reconcile_students,
)
from warehouse.state_ids import new_staff_ids, new_student_ids
from warehouse.validation import (
    DEFAULT_MAX_BYTES,
    ParsedFile,
    Problem,
    ReferenceData,
    ValidatedFile,
    check_references,
    read_submission_file,
    validate_submission,
)

SCHEMA_PATH = Path(__file__).with_name("schema.sql")
INTAKE_TABLES = (
    "reporting_periods",
    "submissions",
    "submission_files",
    "issued_ids",
    "student_id_aliases",
    "staff_id_aliases",
    "id_review_queue",
)
_YEAR_RE = re.compile(r"^(\d{4})-(\d{2})$")

STUDENT_FIELDS = (
    "first_name",
    "middle_name",
    "last_name",
    "birth_date",
    "gender",
    "race_ethnicity",
    "guardian_name",
    "ssn",
    "mainecare_id",
)
STAFF_FIELDS = (
    "first_name",
    "last_name",
    "birth_date",
    "ssn",
    "highest_degree",
    "years_experience",
)


def _first(result: duckdb.DuckDBPyConnection) -> tuple | None:
    """The first row of a result, reading it to the end (DuckDB 2 refuses unfinished results)."""
    rows = result.fetchall()
    return rows[0] if rows else None


@dataclass
class SubmissionResult:
    """What happened to a submission. When `accepted` is False nothing was stored.

    `id_assignments` (local ID -> state ID and how it was decided) goes back to the submitting
    district only; it holds no data the district did not send except the state IDs.
    """

    accepted: bool
    district_id: str
    school_year: str
    problems: list[Problem] = field(default_factory=list)
    submission_id: str | None = None
    files: list[tuple[str, str, int]] = field(default_factory=list)
    new_ids: int = 0
    matched_ids: int = 0
    queued_for_review: int = 0
    id_assignments: pl.DataFrame | None = None


# ---------------------------------------------------------------------------------------------
# Schema, calendar and reference data


def intake_ddl() -> list[str]:
    """CREATE TABLE IF NOT EXISTS statements for the intake tables, taken from schema.sql."""
    out = []
    for stmt in SCHEMA_PATH.read_text().split(";"):
        body = "\n".join(ln for ln in stmt.splitlines() if not ln.strip().startswith("--")).strip()
        m = re.match(r"CREATE TABLE (\w+)", body)
        if m and m.group(1) in INTAKE_TABLES:
            out.append(body.replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ", 1))
    return out


def ensure_intake_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the intake tables in a warehouse built before they existed."""
    for ddl in intake_ddl():
        con.execute(ddl)


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = _first(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_name = ?",
            [name],
        )
    )
    return bool(row and row[0])


def default_calendar(school_years: Sequence[str]) -> pl.DataFrame:
    """The data calendar: October 1 collections due November 15; assessments due July 15."""
    rows = []
    for year in school_years:
        start = int(year[:4])
        for kind in KINDS:
            if kind == "assessments":
                opens, due = dt.date(start + 1, 5, 15), dt.date(start + 1, 7, 15)
            else:
                opens, due = dt.date(start, 10, 1), dt.date(start, 11, 15)
            rows.append({"school_year": year, "kind": kind, "opens": opens, "due": due})
    return pl.DataFrame(
        rows, schema={"school_year": pl.String, "kind": pl.String, "opens": pl.Date, "due": pl.Date}
    )


def reporting_calendar(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The stored data calendar, or the default one for every school year if none is stored."""
    if _has_table(con, "reporting_periods"):
        stored = pl.from_arrow(
            con.sql("SELECT school_year, kind, opens, due FROM reporting_periods").to_arrow_table()
        )
        if stored.height:
            return stored.sort("school_year", "kind")  # type: ignore[union-attr]
    years = [
        r[0] for r in con.execute("SELECT school_year FROM school_years ORDER BY 1").fetchall()
    ]
    return default_calendar(years)


def load_reference_data(
    con: duckdb.DuckDBPyConnection, district_id: str, school_year: str
) -> ReferenceData:
    """Read what validation checks a submission against (schools, existing IDs, aliases)."""
    schools = con.execute("SELECT school_id, district_id FROM schools").fetchall()
    students = con.execute("SELECT state_student_id, birth_date FROM students").fetchall()
    staff = con.execute("SELECT state_staff_id FROM staff").fetchall()
    s_alias: dict[str, str] = {}
    t_alias: dict[str, str] = {}
    if _has_table(con, "student_id_aliases"):
        s_alias = dict(
            con.execute("SELECT alias_id, state_student_id FROM student_id_aliases").fetchall()
        )
    if _has_table(con, "staff_id_aliases"):
        t_alias = dict(
            con.execute("SELECT alias_id, state_staff_id FROM staff_id_aliases").fetchall()
        )
    return ReferenceData(
        district_id=district_id,
        school_year=school_year,
        district_school_ids=frozenset(s for s, d in schools if d == district_id),
        school_district=dict(schools),
        student_birth_dates=dict(students),
        student_aliases=s_alias,
        staff_ids=frozenset(s for (s,) in staff),
        staff_aliases=t_alias,
    )


def _check_request(con: duckdb.DuckDBPyConnection, district_id: str, school_year: str) -> None:
    m = _YEAR_RE.match(school_year or "")
    if not m or (int(m.group(1)) + 1) % 100 != int(m.group(2)):
        raise ValueError(f"period {school_year!r} is not a school year like 2024-25")
    if not _first(con.execute("SELECT 1 FROM districts WHERE district_id = ?", [district_id])):
        raise LookupError(f"there is no district {district_id!r}")
    if not _first(con.execute("SELECT 1 FROM school_years WHERE school_year = ?", [school_year])):
        raise LookupError(f"school year {school_year} is not in the data calendar")


class _ChangedMeanwhile(Exception):
    """The warehouse changed between validation and the write so that references now fail."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems


# ---------------------------------------------------------------------------------------------
# Submitting


def submit_paths(
    db_path: str | os.PathLike[str],
    district_id: str,
    school_year: str,
    paths: Sequence[str | os.PathLike[str]],
    submitted_by: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    thresholds: Thresholds | None = None,
    now: dt.datetime | None = None,
) -> SubmissionResult:
    """Read files from disk (refusing any above `max_bytes`) and submit them."""
    parsed = [read_submission_file(p, max_bytes=max_bytes) for p in paths]
    return submit_files(
        db_path, district_id, school_year, parsed, submitted_by, thresholds=thresholds, now=now
    )


def submit_files(
    db_path: str | os.PathLike[str],
    district_id: str,
    school_year: str,
    parsed: Sequence[ParsedFile],
    submitted_by: str,
    *,
    thresholds: Thresholds | None = None,
    now: dt.datetime | None = None,
) -> SubmissionResult:
    """Validate, reconcile and load one district submission, all or nothing.

    `submitted_by` is recorded in the history; the caller (the privacy layer or the operator
    CLI) has already checked that this user may submit for `district_id`.
    """
    if not parsed:
        raise ValueError("no files to submit")
    if not submitted_by or not submitted_by.strip():
        raise ValueError("submitted_by must name the user who submits")
    thresholds = thresholds or Thresholds()
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    # Cheap checks on a read-only connection first: a rejected submission copies nothing.
    con = connect_readonly(db_path)
    try:
        _check_request(con, district_id, school_year)
        files, problems = validate_submission(
            parsed, load_reference_data(con, district_id, school_year)
        )
    finally:
        con.close()
    result = SubmissionResult(False, district_id, school_year, problems)
    if problems:
        return result
    submission_id = uuid.uuid4().hex
    try:
        # Under the writer lock, on a copy of the current file: re-check references (a merge may
        # have landed since), reconcile against the current roster, write, swap.
        with rewrite_warehouse(db_path, copy_existing=True) as wcon:
            ref = load_reference_data(wcon, district_id, school_year)
            again = check_references(files, ref)
            if again:
                raise _ChangedMeanwhile(again)
            plan = _plan(wcon, files, ref, thresholds)
            _apply(wcon, plan, files, ref, submission_id, submitted_by, now)
    except _ChangedMeanwhile as changed:
        result.problems = changed.problems
        return result
    result.accepted = True
    result.submission_id = submission_id
    result.files = [(f.kind, f.name, f.frame.height) for f in files]
    result.new_ids = plan.new_ids
    result.matched_ids = plan.matched_ids
    result.queued_for_review = plan.queued
    result.id_assignments = plan.assignments
    return result


@dataclass
class _Plan:
    frames: dict[str, pl.DataFrame]
    students_update: pl.DataFrame | None
    students_insert: pl.DataFrame | None
    staff_update: pl.DataFrame | None
    staff_insert: pl.DataFrame | None
    issued: list[tuple[str, str]]
    reviews: list[tuple[str, str, str, float]]
    assignments: pl.DataFrame
    new_ids: int = 0
    matched_ids: int = 0
    queued: int = 0


def _assign_ids(
    incoming: pl.DataFrame,
    decisions: pl.DataFrame,
    person: str,
    taken: set[str],
) -> tuple[pl.DataFrame, list[tuple[str, str, float]]]:
    """Give every incoming row a state ID: attached, newly minted, or provisional for review."""
    state_col, local_col = f"state_{person}_id", f"local_{person}_id"
    d = decisions.rename({"record_id": local_col})
    need_new = d.filter(pl.col("decision") != "ATTACH")
    minter = new_student_ids if person == "student" else new_staff_ids
    minted = minter(need_new.height, taken)
    taken.update(minted)
    new_map = dict(zip(need_new[local_col].to_list(), minted, strict=True))
    reviews = [
        (new_map[r[local_col]], r["candidate_id"], float(r["match_probability"]))
        for r in need_new.filter(pl.col("decision") == "REVIEW").iter_rows(named=True)
    ]
    assigned = d.with_columns(
        pl.when(pl.col("decision") == "ATTACH")
        .then(pl.col("candidate_id"))
        .otherwise(pl.col(local_col).replace_strict(new_map, default=None, return_dtype=pl.String))
        .alias("assigned_id")
    )
    out = incoming.join(
        assigned.select(local_col, "assigned_id", "decision", "match_probability"),
        on=local_col,
        how="left",
    )
    out = out.with_columns(pl.coalesce(state_col, "assigned_id").alias(state_col))
    return out, reviews


def _plan(
    con: duckdb.DuckDBPyConnection,
    files: Sequence[ValidatedFile],
    ref: ReferenceData,
    thresholds: Thresholds,
) -> _Plan:
    """Everything to write, computed from the read-only warehouse before the write starts."""
    frames = {f.kind: f.frame for f in files}
    taken = issued_id_set(con)
    issued: list[tuple[str, str]] = []
    reviews: list[tuple[str, str, str, float]] = []
    assignment_parts: list[pl.DataFrame] = []
    counts = {"new": 0, "matched": 0, "queued": 0}
    students_update = students_insert = staff_update = staff_insert = None
    for person, kind, fields, reconcile, id_kind in (
        ("student", "students", STUDENT_FIELDS, reconcile_students, "STUDENT"),
        ("staff", "staff", STAFF_FIELDS, reconcile_staff, "STAFF"),
    ):
        if kind not in frames:
            continue
        state_col, local_col = f"state_{person}_id", f"local_{person}_id"
        aliases = ref.student_aliases if person == "student" else ref.staff_aliases
        frame = frames[kind].with_columns(
            pl.col(state_col).replace(dict(aliases)) if aliases else pl.col(state_col)
        )
        known = frame.filter(pl.col(state_col).is_not_null())
        unknown = frame.filter(pl.col(state_col).is_null())
        attached = inserted = frame.clear()
        if unknown.height:
            table = "students" if person == "student" else "staff"
            roster = pl.from_arrow(con.sql(f"SELECT * FROM {table}").to_arrow_table())
            decisions = reconcile(roster, unknown.rename({local_col: "record_id"}), thresholds)  # type: ignore[arg-type]
            assigned, item_reviews = _assign_ids(unknown, decisions, person, taken)
            reviews += [(id_kind, a, b, p) for a, b, p in item_reviews]
            assignment_parts.append(
                assigned.select(
                    pl.lit(person).alias("person"),
                    pl.col(local_col).alias("local_id"),
                    pl.col(state_col).alias("state_id"),
                    pl.col("decision").str.to_lowercase().alias("how"),
                )
            )
            extra = ("decision", "match_probability", "assigned_id")
            attached = assigned.filter(pl.col("decision") == "ATTACH").drop(extra)
            inserted = assigned.filter(pl.col("decision") != "ATTACH").drop(extra)
            issued += [(sid, id_kind) for sid in inserted[state_col].to_list()]
            counts["matched"] += attached.height
            counts["queued"] += len(item_reviews)
            counts["new"] += inserted.height - len(item_reviews)
        assignment_parts.append(
            known.select(
                pl.lit(person).alias("person"),
                pl.col(local_col).alias("local_id"),
                pl.col(state_col).alias("state_id"),
                pl.lit("given").alias("how"),
            )
        )
        frames[kind] = pl.concat([known, attached, inserted])
        # A reconciled match only fills what the roster lacks; a given ID updates the record.
        update = pl.concat(
            [
                known.with_columns(pl.lit(True).alias("_overwrite")),
                attached.with_columns(pl.lit(False).alias("_overwrite")),
            ]
        )
        keep = [state_col, *fields]
        if person == "student":
            students_update = update.select(*keep, "_overwrite")
            students_insert = inserted.select(keep) if inserted.height else None
        else:
            staff_update = update.select(*keep, "_overwrite")
            staff_insert = inserted.select(keep) if inserted.height else None
    # Resolve local IDs and retired aliases in the per-year files.
    for kind, person in (
        ("enrollments", "student"),
        ("program_participation", "student"),
        ("assessments", "student"),
        ("staff_assignments", "staff"),
    ):
        if kind not in frames:
            continue
        state_col, local_col = f"state_{person}_id", f"local_{person}_id"
        people = "students" if person == "student" else "staff"
        aliases = ref.student_aliases if person == "student" else ref.staff_aliases
        f = frames[kind]
        if people in frames:
            lookup = frames[people].select(pl.col(local_col), pl.col(state_col).alias("_resolved"))
            f = (
                f.join(lookup, on=local_col, how="left")
                .with_columns(pl.coalesce(state_col, "_resolved").alias(state_col))
                .drop("_resolved")
            )
        if aliases:
            f = f.with_columns(pl.col(state_col).replace(dict(aliases)))
        frames[kind] = f
    assignments = (
        pl.concat(assignment_parts)
        if assignment_parts
        else pl.DataFrame(
            schema={
                "person": pl.String,
                "local_id": pl.String,
                "state_id": pl.String,
                "how": pl.String,
            }
        )
    )
    return _Plan(
        frames,
        students_update,
        students_insert,
        staff_update,
        staff_insert,
        issued,
        [(k, a, b, p) for k, a, b, p in reviews],
        assignments,
        counts["new"],
        counts["matched"],
        counts["queued"],
    )


# the tables replaced per (district, school year), in the order they are written
_PERIOD_TABLES = ("enrollments", "program_participation", "assessments", "staff_assignments")


@contextmanager
def _registered(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> Iterator[str]:
    con.register(name, frame.to_arrow())
    try:
        yield name
    finally:
        con.unregister(name)


def _apply(
    con: duckdb.DuckDBPyConnection,
    plan: _Plan,
    files: Sequence[ValidatedFile],
    ref: ReferenceData,
    submission_id: str,
    submitted_by: str,
    now: dt.datetime,
) -> None:
    """Every write of one submission, inside the copy-on-write transaction."""
    ensure_intake_tables(con)
    if not _first(con.execute("SELECT count(*) FROM reporting_periods"))[0]:  # type: ignore[index]
        years = [r[0] for r in con.execute("SELECT school_year FROM school_years").fetchall()]
        with _registered(con, "_calendar", default_calendar(years)):
            con.execute(
                "INSERT INTO reporting_periods SELECT school_year, kind, opens, due FROM _calendar"
            )
    district, year = ref.district_id, ref.school_year
    for table, upd, ins, fields, key in (
        (
            "students",
            plan.students_update,
            plan.students_insert,
            STUDENT_FIELDS,
            "state_student_id",
        ),
        ("staff", plan.staff_update, plan.staff_insert, STAFF_FIELDS, "state_staff_id"),
    ):
        if ins is not None and ins.height:
            cols = ", ".join((key, *fields))
            with _registered(con, "_ins", ins):
                con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _ins")
        if upd is not None and upd.height:
            sets = ", ".join(
                f"{c} = CASE WHEN u._overwrite THEN coalesce(u.{c}, t.{c}) "
                f"ELSE coalesce(t.{c}, u.{c}) END"
                for c in fields
            )
            with _registered(con, "_upd", upd):
                con.execute(
                    f"UPDATE {table} AS t SET {sets} FROM _upd AS u WHERE t.{key} = u.{key}"
                )
    frames = plan.frames
    schools_sql = "SELECT school_id FROM schools WHERE district_id = ?"
    if "program_participation" in frames:
        # The district's program rows for the year: its enrolled students (before enrollments
        # are replaced) and every student in the new file.
        with _registered(con, "_pp", frames["program_participation"]):
            con.execute(
                "DELETE FROM program_participation WHERE school_year = ? AND ("
                "state_student_id IN (SELECT state_student_id FROM enrollments WHERE school_year = ? "
                f"AND school_id IN ({schools_sql})) OR state_student_id IN (SELECT state_student_id FROM _pp))",
                [year, year, district],
            )
    for kind in ("enrollments", "assessments", "staff_assignments"):
        if kind in frames:
            con.execute(
                f"DELETE FROM {kind} WHERE school_year = ? AND school_id IN ({schools_sql})",
                [year, district],
            )
    for kind in _PERIOD_TABLES:
        if kind in frames:
            cols = load_dictionary().table(kind).columns  # the data dictionary's column order
            collist = ", ".join(cols)
            with _registered(con, "_rows", frames[kind].select(cols)):
                con.execute(f"INSERT INTO {kind} ({collist}) SELECT {collist} FROM _rows")
    row_count = sum(f.frame.height for f in files)
    con.execute(
        "INSERT INTO submissions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            submission_id,
            district,
            year,
            submitted_by,
            now,
            row_count,
            plan.new_ids,
            plan.matched_ids,
            plan.queued,
        ],
    )
    for f in files:
        con.execute(
            "UPDATE submission_files SET status = 'SUPERSEDED', superseded_by = ? "
            "WHERE status = 'CURRENT' AND kind = ? AND submission_id IN "
            "(SELECT submission_id FROM submissions WHERE district_id = ? AND school_year = ?)",
            [submission_id, f.kind, district, year],
        )
        con.execute(
            "INSERT INTO submission_files VALUES (?, ?, ?, ?, ?, ?, 'CURRENT', NULL)",
            [submission_id, f.kind, f.name, f.sha256, f.size_bytes, f.frame.height],
        )
    if plan.issued:
        con.executemany(
            "INSERT INTO issued_ids VALUES (?, ?, ?, ?)",
            [[sid, kind, now, submission_id] for sid, kind in plan.issued],
        )
    if plan.reviews:
        con.executemany(
            "INSERT INTO id_review_queue VALUES (?, ?, ?, ?, ?, ?, 'PENDING', NULL, NULL)",
            [
                [uuid.uuid4().hex, submission_id, k, new, cand, p]
                for k, new, cand, p in plan.reviews
            ],
        )


# ---------------------------------------------------------------------------------------------
# History, status, checksum


def submission_history(
    db_path: str | os.PathLike[str], district_id: str | None = None
) -> pl.DataFrame:
    """Every accepted file: who sent it, when, its checksum, and whether it is still current."""
    con = connect_readonly(db_path)
    try:
        if not _has_table(con, "submissions"):
            return pl.DataFrame()
        sql = (
            "SELECT s.submission_id, s.district_id, s.school_year, f.kind, f.file_name, f.sha256, "
            "f.row_count, s.submitted_by, s.submitted_at, f.status, f.superseded_by "
            "FROM submissions s JOIN submission_files f USING (submission_id) "
            + ("WHERE s.district_id = ? " if district_id else "")
            + "ORDER BY s.submitted_at, f.kind"
        )
        return pl.from_arrow(
            con.sql(sql, params=[district_id] if district_id else None).to_arrow_table()
        )  # type: ignore[return-value]
    finally:
        con.close()


def submission_status(
    db_path: str | os.PathLike[str],
    school_year: str,
    today: dt.date,
    *,
    rejected_attempts: Mapping[tuple[str, str], dt.datetime] | None = None,
    district_id: str | None = None,
) -> pl.DataFrame:
    """Each district and file kind for the year: ON_TIME, LATE, MISSING, OPEN or ERRORS.

    `rejected_attempts` maps (district, kind) to the time of the latest rejected attempt (kept by
    the privacy layer's state database); a rejection after the latest accepted file is ERRORS.
    """
    con = connect_readonly(db_path)
    try:
        cal = reporting_calendar(con).filter(pl.col("school_year") == school_year)
        districts = pl.from_arrow(
            con.sql("SELECT district_id, district_name FROM districts").to_arrow_table()
        )
        if _has_table(con, "submissions"):
            firsts = pl.from_arrow(
                con.sql(
                    "SELECT s.district_id, f.kind, min(s.submitted_at) AS first_at, "
                    "max(s.submitted_at) AS last_at FROM submissions s JOIN submission_files f "
                    "USING (submission_id) WHERE s.school_year = ? GROUP BY ALL",
                    params=[school_year],
                ).to_arrow_table()
            )
        else:
            firsts = pl.DataFrame(
                schema={
                    "district_id": pl.String,
                    "kind": pl.String,
                    "first_at": pl.Datetime,
                    "last_at": pl.Datetime,
                }
            )
    finally:
        con.close()
    grid = districts.join(cal, how="cross").join(firsts, on=["district_id", "kind"], how="left")  # type: ignore[union-attr, arg-type]
    if district_id:
        grid = grid.filter(pl.col("district_id") == district_id)
    status = (
        pl.when(pl.col("first_at").is_not_null() & (pl.col("first_at").dt.date() <= pl.col("due")))
        .then(pl.lit("ON_TIME"))
        .when(pl.col("first_at").is_not_null())
        .then(pl.lit("LATE"))
        .when(pl.lit(today) > pl.col("due"))
        .then(pl.lit("MISSING"))
        .otherwise(pl.lit("OPEN"))
    )
    grid = grid.with_columns(status.alias("status"))
    if rejected_attempts:
        rej = pl.DataFrame(
            [
                {"district_id": d, "kind": k, "rejected_at": t}
                for (d, k), t in rejected_attempts.items()
            ],
            schema={"district_id": pl.String, "kind": pl.String, "rejected_at": pl.Datetime},
        )
        grid = (
            grid.join(rej, on=["district_id", "kind"], how="left")
            .with_columns(
                pl.when(
                    pl.col("rejected_at").is_not_null()
                    & (pl.col("last_at").is_null() | (pl.col("rejected_at") > pl.col("last_at")))
                )
                .then(pl.lit("ERRORS"))
                .otherwise(pl.col("status"))
                .alias("status")
            )
            .drop("rejected_at")
        )
    return grid.sort("district_id", "kind")


def warehouse_checksum(db_path: str | os.PathLike[str]) -> str:
    """SHA-256 over every table's name, columns and sorted row contents (order-independent)."""
    con = connect_readonly(db_path)
    try:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' ORDER BY 1, 2"
        ).fetchall()
        h = hashlib.sha256()
        for schema, name in tables:
            ident = '"' + schema.replace('"', '""') + '"."' + name.replace('"', '""') + '"'
            cols = _first(
                con.execute(
                    "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) "
                    "FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
                    [schema, name],
                )
            )
            digest = _first(
                con.execute(
                    f"SELECT count(*), coalesce(md5(string_agg(h, ',' ORDER BY h)), '') "
                    f"FROM (SELECT md5(CAST(t AS VARCHAR)) AS h FROM {ident} AS t)"
                )
            )
            h.update(f"{schema}.{name}|{cols[0] if cols else ''}|{digest}\n".encode())
        return h.hexdigest()
    finally:
        con.close()
