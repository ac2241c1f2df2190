"""Retention: archive records past their active period and destroy those past retention.

The policy ("Destruction of Data", for students and staff): individual data are active, then
archived for the length of time the Maine records retention schedules require, then destroyed
in a manner that protects the privacy of the individuals. The schedule is data
(`privacy/retention.toml`, or any file passed in): per record type, how the record's close date
is found, how many years it stays active and how many years it is kept in all.

`run_retention` is the only entry point. A dry run reads the warehouse and the archive through a
read-only connection and reports what a run would archive and destroy, per record type and year
of closing; it changes neither file. A real run writes a new warehouse and a new archive from
scratch and swaps them in (`warehouse.retention_sql.apply_retention`): destroyed rows are gone
from both files (not merely marked deleted), and a failed run changes nothing. Every run, dry,
real or failed, is logged in the `retention_runs` table of the state database and in the audit
trail, with the warehouse file's SHA-256 before and after.

Retention changes warehouse data, so run it when no district submission is being loaded: two
writers swapping the warehouse at once would lose one of the changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tomllib
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from privacy.access import User
from privacy.audit_log import AUDIT_DDL, append_event
from privacy.disclosures import now_utc, require_data_manager
from privacy.research import add_years
from privacy.state import open_state, write_transaction
from privacy.users import Operator
from warehouse import retention_sql
from warehouse.connection import resolve_db_path
from warehouse.dictionary import load_dictionary

SCHEDULE_PATH = Path(__file__).with_name("retention.toml")
SCHEDULABLE_KINDS = frozenset({"student", "staff"})
BASES = ("school_year", "date", "last_activity")

RETENTION_DDL = """
CREATE TABLE IF NOT EXISTS retention_runs (
    run_id          TEXT PRIMARY KEY,
    at              TEXT NOT NULL,
    actor           TEXT NOT NULL,
    as_of           TEXT NOT NULL,
    dry_run         INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
    status          TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    schedule        TEXT NOT NULL,
    summary         TEXT NOT NULL,
    sha256_before   TEXT,
    sha256_after    TEXT,
    error           TEXT
);
"""


class ScheduleError(ValueError):
    """The retention schedule is malformed or unsafe (e.g. a person outlives none of their
    records' retention)."""


@dataclass(frozen=True)
class RecordType:
    """One line of the schedule: a record of `table` closes by `basis`; it is archived
    `active_years` after closing and destroyed `retain_years` after closing."""

    name: str
    table: str
    basis: str
    active_years: int
    retain_years: int
    column: str = ""
    key: str = ""
    children: tuple[str, ...] = ()


@dataclass(frozen=True)
class Schedule:
    """The retention schedule: record types in order, and a digest of its content (logged)."""

    record_types: tuple[RecordType, ...]
    digest: str

    def get(self, name: str) -> RecordType:
        for rt in self.record_types:
            if rt.name == name:
                return rt
        raise KeyError(name)


@dataclass(frozen=True)
class PlanLine:
    """What a run does (or would do) to the rows of one record type that closed in one year."""

    record_type: str
    action: str
    close_year: int
    rows: int


@dataclass(frozen=True)
class RetentionRun:
    """The outcome of a run: what was (or would be) archived and destroyed, and the file digests."""

    run_id: str
    as_of: date
    dry_run: bool
    lines: tuple[PlanLine, ...]
    sha256_before: str
    sha256_after: str

    def total(self, action: str, record_type: str | None = None) -> int:
        return sum(
            ln.rows
            for ln in self.lines
            if ln.action == action and record_type in (None, ln.record_type)
        )


def _int(spec: dict[str, Any], key: str, where: str) -> int:
    value = spec.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _MAX_YEARS:
        raise ScheduleError(
            f"{where}: {key} must be a whole number of years from 0 to {_MAX_YEARS}"
        )
    return value


_MAX_YEARS = 200  # longer than any record is kept; a larger number is a typo


def _tables_of(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """The schedule's ``[[record_types]]`` entries, checked to be tables (a TOML file that
    gives them another shape would otherwise fail on its first lookup)."""
    specs = raw.get("record_types", [])
    if not isinstance(specs, list) or not all(isinstance(spec, dict) for spec in specs):
        raise ScheduleError("record_types must be a list of [[record_types]] tables")
    for spec in specs:
        children = spec.get("children", [])
        if not isinstance(children, list) or not all(isinstance(c, str) for c in children):
            raise ScheduleError(
                f"record type {spec.get('name') or '?'}: children must be a list of names"
            )
    return specs


def parse_schedule(raw: dict[str, Any]) -> Schedule:
    """Validate a parsed schedule document against the data dictionary."""
    d = load_dictionary()
    types: list[RecordType] = []
    for spec in _tables_of(raw):
        name = str(spec.get("name", ""))
        where = f"record type {name or '?'}"
        table = str(spec.get("table", ""))
        try:
            t = d.table(table)
        except KeyError:
            raise ScheduleError(f"{where}: unknown table {table!r}") from None
        if t.kind not in SCHEDULABLE_KINDS:
            raise ScheduleError(f"{where}: {table} is not a student or staff table")
        basis = spec.get("basis")
        if basis not in BASES:
            raise ScheduleError(f"{where}: basis must be one of {', '.join(BASES)}")
        active = _int(spec, "active_years", where)
        retain = _int(spec, "retain_years", where)
        if retain < active or retain < 1:
            raise ScheduleError(f"{where}: retain_years must be >= active_years and >= 1")
        column = str(spec.get("column", ""))
        key = str(spec.get("key", ""))
        children = tuple(str(c) for c in spec.get("children", []))
        names = {f.name for f in t.fields}
        if basis == "last_activity":
            if key not in names or not children:
                raise ScheduleError(f"{where}: last_activity needs a key column and children")
        elif column not in names:
            raise ScheduleError(f"{where}: {table} has no column {column!r}")
        types.append(RecordType(name, table, basis, active, retain, column, key, children))
    if not types:
        raise ScheduleError("the schedule lists no record types")
    by_name = {rt.name: rt for rt in types}
    if len(by_name) != len(types) or len({rt.table for rt in types}) != len(types):
        raise ScheduleError("each record type and each table may appear once")
    for rt in types:
        if rt.basis != "last_activity":
            continue
        for child_name in rt.children:
            child = by_name.get(child_name)
            if child is None or child.basis == "last_activity":
                raise ScheduleError(f"{rt.name}: child {child_name!r} is not a dated record type")
            if rt.key not in {f.name for f in d.table(child.table).fields}:
                raise ScheduleError(f"{rt.name}: child {child.table} has no column {rt.key}")
            if child.active_years > rt.active_years or child.retain_years > rt.retain_years:
                raise ScheduleError(
                    f"{rt.name} must stay active and be kept at least as long as {child.name}"
                )
        for other in types:
            if (
                other.basis != "last_activity"
                and other.name not in rt.children
                and rt.key in {f.name for f in d.table(other.table).fields}
            ):
                raise ScheduleError(
                    f"{other.name} holds {rt.key} but is not a child of {rt.name}: a person "
                    "could be destroyed while their records remain"
                )
    canonical = json.dumps(raw, sort_keys=True, default=str)
    return Schedule(tuple(types), hashlib.sha256(canonical.encode()).hexdigest()[:16])


def load_schedule(path: str | os.PathLike[str] | None = None) -> Schedule:
    """Read and validate a schedule file (default: privacy/retention.toml)."""
    with open(path or SCHEDULE_PATH, "rb") as fh:
        try:
            raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ScheduleError(f"the schedule is not valid TOML: {exc}") from None
    return parse_schedule(raw)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (logged before and after every run)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _scheduled(schedule: Schedule, as_of: date) -> list[retention_sql.ScheduledTable]:
    by_name = {rt.name: rt for rt in schedule.record_types}
    out = []
    for rt in schedule.record_types:
        children = tuple(
            (by_name[c].table, by_name[c].basis, by_name[c].column)  # type: ignore[misc]
            for c in rt.children
        )
        out.append(
            retention_sql.ScheduledTable(
                name=rt.name,
                table=rt.table,
                basis=rt.basis,  # type: ignore[arg-type]
                column=rt.column,
                key=rt.key,
                children=children,
                archive_cutoff=add_years(as_of, -rt.active_years),
                destroy_cutoff=add_years(as_of, -rt.retain_years),
            )
        )
    return out


def _lines(plan: dict[str, list[tuple[str, int, int]]]) -> tuple[PlanLine, ...]:
    return tuple(PlanLine(name, a, y, n) for name, rows in plan.items() for a, y, n in rows)


def open_retention(db_path: str | os.PathLike[str] | None) -> sqlite3.Connection:
    """The state database with the retention-run and audit tables in place."""
    return open_state(resolve_db_path(db_path), RETENTION_DDL, AUDIT_DDL)


def _actor_label(actor: User | Operator) -> str:
    if isinstance(actor, Operator):
        return actor.label
    return require_data_manager(actor).user_id


def run_retention(
    db_path: str | os.PathLike[str] | None,
    actor: User | Operator,
    *,
    schedule: Schedule | None = None,
    as_of: date | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> RetentionRun:
    """Apply the retention schedule as of `as_of` (default: today), or with `dry_run` only
    report what would happen. `actor` is the Education Data Manager or a command-line operator.
    Logged in `retention_runs` and the audit trail whether it succeeds or fails."""
    db = resolve_db_path(db_path)
    label = _actor_label(actor)
    at = now_utc(now)
    day = as_of or at.date()
    if not dry_run and day > at.date():
        # a future day would destroy records before their time (a typo in a year is enough)
        raise ValueError(
            f"a retention run cannot be dated after today ({day} is after {at.date()}): it "
            "would destroy records before their time; a dry run previews any day"
        )
    sched = schedule or load_schedule()
    run_id = uuid.uuid4().hex[:16]
    tables = _scheduled(sched, day)
    before = file_sha256(db) if db.is_file() else ""
    try:
        if dry_run:
            plan = retention_sql.plan_retention(db, tables)
        else:
            plan = retention_sql.apply_retention(db, tables, run_id=run_id, archived_on=day)
    except Exception as exc:
        _log(
            db,
            run_id,
            at,
            label,
            day,
            dry_run,
            "failed",
            sched,
            {},
            before,
            file_sha256(db) if db.is_file() else "",
            str(exc)[:500],
        )
        raise
    after = file_sha256(db)
    lines = _lines(plan)
    summary = {
        name: {a: sum(n for a2, _, n in rows if a2 == a) for a in {r[0] for r in rows}}
        for name, rows in plan.items()
    }
    _log(db, run_id, at, label, day, dry_run, "ok", sched, summary, before, after, None)
    return RetentionRun(run_id, day, dry_run, lines, before, after)


def _log(
    db: Path,
    run_id: str,
    at: datetime,
    actor: str,
    as_of: date,
    dry_run: bool,
    status: str,
    schedule: Schedule,
    summary: dict[str, Any],
    before: str,
    after: str,
    error: str | None,
) -> None:
    state = open_retention(db)
    try:
        with write_transaction(state):
            state.execute(
                "INSERT INTO retention_runs (run_id, at, actor, as_of, dry_run, status, schedule,"
                " summary, sha256_before, sha256_after, error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    at.isoformat(),
                    actor,
                    as_of.isoformat(),
                    int(dry_run),
                    status,
                    schedule.digest,
                    json.dumps(summary, sort_keys=True),
                    before,
                    after,
                    error,
                ),
            )
            action = "retention.dry_run" if dry_run else "retention.run"
            append_event(
                state,
                db,
                actor,
                action if status == "ok" else action + "_failed",
                {
                    "run_id": run_id,
                    "as_of": as_of.isoformat(),
                    "schedule": schedule.digest,
                    "summary": summary,
                    "sha256_before": before,
                    "sha256_after": after,
                    **({"error": error} if error else {}),
                },
                now=at,
            )
    finally:
        state.close()


@dataclass(frozen=True)
class RunRecord:
    """One logged retention run."""

    run_id: str
    at: datetime
    actor: str
    as_of: date
    dry_run: bool
    status: str
    schedule: str
    summary: dict[str, Any]
    sha256_before: str
    sha256_after: str
    error: str | None


def retention_runs(
    db_path: str | os.PathLike[str] | None, viewer: User | Operator, *, limit: int = 200
) -> list[RunRecord]:
    """Logged runs, newest first (Education Data Manager or operator)."""
    _actor_label(viewer)
    con = open_retention(db_path)
    try:
        rows = con.execute(
            "SELECT * FROM retention_runs ORDER BY at DESC LIMIT ?", (int(limit),)
        ).fetchall()
    finally:
        con.close()
    return [
        RunRecord(
            r["run_id"],
            datetime.fromisoformat(r["at"]),
            r["actor"],
            date.fromisoformat(r["as_of"]),
            bool(r["dry_run"]),
            r["status"],
            r["schedule"],
            json.loads(r["summary"]),
            r["sha256_before"] or "",
            r["sha256_after"] or "",
            r["error"],
        )
        for r in rows
    ]
