"""Individual student records: the record view (Levels 1-3), resubmission requests (Level 2) and
the statewide student locator (Level 4).

Which students a user may open is `privacy.access.row_scope(user)`, computed from the user's
stored grant; which fields, `privacy.access.visible_fields`. A student outside the scope and a
student who does not exist get the same answer, so the view is no oracle for who exists.
Every view, refusal, resubmission request and locator search is written to the audit trail with
the student and the fields shown.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from privacy.access import (
    User,
    can_request_resubmission,
    can_use_locator,
    can_view_records,
    row_scope,
    visible_fields,
)
from privacy.audit_log import AUDIT_DDL, append_event, count_recent, record_event
from privacy.state import open_state, write_transaction
from warehouse import records_sql
from warehouse.connection import connect_readonly, resolve_db_path
from warehouse.dictionary import load_dictionary

RECORDS_DDL = """
CREATE TABLE IF NOT EXISTS resubmission_requests (
    request_id       INTEGER PRIMARY KEY,
    at               TEXT NOT NULL,
    requested_by     TEXT NOT NULL,
    district_id      TEXT,
    state_student_id TEXT NOT NULL,
    reason           TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed'))
);
"""

# Locator results: the level-4 fields of these tables, from the student's most recent row.
LOCATOR_TABLES: tuple[str, ...] = ("students", "enrollments", "program_participation")
MAX_ID_LENGTH = 20
MAX_NAME_LENGTH = 100


class RecordAccessError(PermissionError):
    """The user's role does not allow this action."""


class RecordNotFoundError(LookupError):
    """No such student in the user's scope (also said when the student does not exist)."""


class LocatorRateLimitError(RuntimeError):
    """Too many locator searches in the rate-limit window."""


@dataclass(frozen=True)
class LocatorLimits:
    """At most `max_searches` locator searches per user in any `window`, and at most
    `max_results` matches per search: the locator answers "what is this student's ID", it is
    not a way to list students."""

    max_searches: int = 20
    window: timedelta = timedelta(minutes=10)
    max_results: int = 10


@dataclass(frozen=True)
class StudentRecord:
    """One student's record as one user may see it: per table, the rows with permitted fields
    only. `fields_shown` names every field shown ("table.field"); `fields_withheld` counts the
    fields the user's level does not open."""

    state_student_id: str
    school_year: str
    sections: dict[str, list[dict[str, Any]]]
    fields_shown: tuple[str, ...]
    fields_withheld: int
    can_request_resubmission: bool


@dataclass(frozen=True)
class LocatorMatch:
    """A locator match: the state ID and level-4 fields (name, birth date, gender, the most
    recent school year, school and grade, English learner status)."""

    state_student_id: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class ResubmissionRequest:
    """A Level 2 direction that a student's records be resubmitted by the district."""

    request_id: int
    at: datetime
    requested_by: str
    district_id: str | None
    state_student_id: str
    reason: str
    status: str


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def _clean_id(student_id: str) -> str:
    sid = (student_id or "").strip()
    if not sid or len(sid) > MAX_ID_LENGTH or not sid.isalnum():
        raise RecordNotFoundError("no such student record in your scope")
    return sid


def _in_scope(con: Any, user: User, sid: str, school_year: str) -> tuple[bool, list[str]]:
    """Whether `sid` is in the user's stored scope, and the student's current districts."""
    scope = row_scope(user)
    places = records_sql.student_places(con, sid, school_year)
    districts = sorted({d for d, _ in places})
    if scope.kind == "state":
        return records_sql.student_exists(con, sid), districts
    return scope.contains({d for d, _ in places}, {s for _, s in places}), districts


def view_student_record(
    db_path: str | os.PathLike[str] | None,
    user: User,
    student_id: str,
    *,
    now: datetime | None = None,
) -> StudentRecord:
    """The record of `student_id` with only the fields `user` may see, if the student is in the
    user's scope (Level 1: all students; Level 2: enrolled in their district this school year;
    Level 3: enrolled in one of their schools this school year). Audited, including refusals."""
    at = _now(now)
    if not can_view_records(user):
        record_event(
            db_path,
            user.user_id,
            "record.view_denied",
            {"student_id": str(student_id)[:40], "reason": "role"},
            now=at,
        )
        raise RecordAccessError("your role does not open individual student records")
    try:
        sid = _clean_id(student_id)
    except RecordNotFoundError:
        record_event(
            db_path,
            user.user_id,
            "record.view_denied",
            {"student_id": str(student_id)[:40], "reason": "malformed"},
            now=at,
        )
        raise
    sections: dict[str, list[dict[str, Any]]] = {}
    shown: list[str] = []
    withheld = 0
    con = connect_readonly(resolve_db_path(db_path))
    try:
        year = records_sql.current_school_year(con)
        allowed, districts = _in_scope(con, user, sid, year)
        for table in records_sql.STUDENT_RECORD_TABLES if allowed else ():
            cols = visible_fields(user, table)
            withheld += len(load_dictionary().table(table).fields) - len(cols)
            if not cols:
                continue
            sections[table] = records_sql.fetch_student_rows(con, table, sid, cols)
            shown += [f"{table}.{c}" for c in cols]
    finally:
        con.close()
    if not allowed:
        record_event(
            db_path,
            user.user_id,
            "record.view_denied",
            {"student_id": sid, "reason": "out of scope"},
            now=at,
        )
        raise RecordNotFoundError("no such student record in your scope")
    record_event(
        db_path,
        user.user_id,
        "record.view",
        {
            "student_id": sid,
            "fields": shown,
            "actor_district_id": user.district_id,
            "student_district_ids": districts,
        },
        now=at,
    )
    return StudentRecord(
        sid, year, sections, tuple(shown), withheld, can_request_resubmission(user)
    )


def students_in_scope(
    db_path: str | os.PathLike[str] | None,
    user: User,
    *,
    name_contains: str | None = None,
    limit: int = 200,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The students `user` may open (ID, first and last name, grade, school), to pick one from;
    filtered by a name fragment or exact ID. Empty for roles that open no records. Audited."""
    if not can_view_records(user):
        return []
    scope = row_scope(user)
    text = (name_contains or "").strip()[:MAX_NAME_LENGTH] or None
    con = connect_readonly(resolve_db_path(db_path))
    try:
        year = records_sql.current_school_year(con)
        rows = records_sql.list_enrolled_students(
            con,
            school_year=year,
            district_ids=sorted(scope.district_ids) if scope.kind == "district" else None,
            school_ids=sorted(scope.school_ids) if scope.kind == "school" else None,
            statewide=scope.kind == "state",
            name_contains=text,
            limit=limit,
        )
    finally:
        con.close()
    allowed = set(visible_fields(user, "students")) | set(visible_fields(user, "enrollments"))
    rows = [{k: v for k, v in r.items() if k in allowed} for r in rows]
    record_event(
        db_path, user.user_id, "record.list", {"name_contains": text, "count": len(rows)}, now=now
    )
    return rows


def open_records_state(db_path: str | os.PathLike[str] | None) -> Any:
    return open_state(resolve_db_path(db_path), RECORDS_DDL, AUDIT_DDL)


def request_resubmission(
    db_path: str | os.PathLike[str] | None,
    user: User,
    student_id: str,
    *,
    reason: str,
    now: datetime | None = None,
) -> ResubmissionRequest:
    """Direct that a student's records be resubmitted (Level 2, students in their district).
    `reason` says what looks wrong; it is stored and audited."""
    at = _now(now)
    if not can_request_resubmission(user):
        raise RecordAccessError("only a superintendent or designee can direct a resubmission")
    text = " ".join((reason or "").split())
    if len(text) < 10 or len(text) > 2000:
        raise ValueError("say what needs correcting (10-2000 characters)")
    sid = _clean_id(student_id)
    con = connect_readonly(resolve_db_path(db_path))
    try:
        allowed, _ = _in_scope(con, user, sid, records_sql.current_school_year(con))
    finally:
        con.close()
    if not allowed:
        raise RecordNotFoundError("no such student record in your scope")
    state = open_records_state(db_path)
    try:
        with write_transaction(state):
            cur = state.execute(
                "INSERT INTO resubmission_requests (at, requested_by, district_id,"
                " state_student_id, reason) VALUES (?, ?, ?, ?, ?)",
                (at.isoformat(), user.user_id, user.district_id, sid, text),
            )
            request_id = int(cur.lastrowid or 0)
            append_event(
                state,
                db_path,
                user.user_id,
                "record.resubmission_request",
                {"student_id": sid, "request_id": request_id, "district_id": user.district_id},
                now=at,
            )
    finally:
        state.close()
    return ResubmissionRequest(request_id, at, user.user_id, user.district_id, sid, text, "open")


def resubmission_requests(
    db_path: str | os.PathLike[str] | None, user: User
) -> list[ResubmissionRequest]:
    """Resubmission requests the user may see: their district's (Level 2) or all (statewide
    record scope); none otherwise. Newest first."""
    scope = row_scope(user)
    if scope.kind not in ("state", "district"):
        return []
    state = open_records_state(db_path)
    try:
        if scope.kind == "state":
            rows = state.execute(
                "SELECT * FROM resubmission_requests ORDER BY request_id DESC"
            ).fetchall()
        else:
            rows = state.execute(
                "SELECT * FROM resubmission_requests WHERE district_id = ? ORDER BY request_id DESC",
                (user.district_id,),
            ).fetchall()
    finally:
        state.close()
    return [
        ResubmissionRequest(
            r["request_id"],
            datetime.fromisoformat(r["at"]),
            r["requested_by"],
            r["district_id"],
            r["state_student_id"],
            r["reason"],
            r["status"],
        )
        for r in rows
    ]


def locator_fields(user: User) -> dict[str, list[str]]:
    """Per locator table, the fields a locator search returns: dictionary level 4 and visible
    to the user. Never anything above level 4, whatever the user's own clearance."""
    d = load_dictionary()
    return {
        t: [
            f.name
            for f in d.table(t).fields
            if f.access_level == 4 and f.name in visible_fields(user, t)
        ]
        for t in LOCATOR_TABLES
    }


def _parse_birth_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError("give the date of birth as YYYY-MM-DD") from None


def locate_student(
    db_path: str | os.PathLike[str] | None,
    user: User,
    *,
    first_name: str,
    last_name: str,
    birth_date: dt.date | str,
    former_district_id: str | None = None,
    limits: LocatorLimits = LocatorLimits(),
    now: datetime | None = None,
) -> list[LocatorMatch]:
    """Find a student's state ID by exact first and last name and date of birth (optionally
    only students once enrolled in `former_district_id`). Returns level-4 fields only, at most
    `limits.max_results` matches; at most `limits.max_searches` searches per `limits.window`.
    Each search is audited with its terms, the matches and their districts."""
    at = _now(now)
    if not can_use_locator(user):
        raise RecordAccessError("your role does not use the student locator")
    first = " ".join((first_name or "").split())
    last = " ".join((last_name or "").split())
    if not first or not last:
        raise ValueError("give the student's first and last name")
    if len(first) > MAX_NAME_LENGTH or len(last) > MAX_NAME_LENGTH:
        raise ValueError("names are at most 100 characters")
    born = _parse_birth_date(birth_date)
    former = (former_district_id or "").strip() or None
    if (
        count_recent(db_path, user.user_id, "locator.search", at - limits.window)
        >= limits.max_searches
    ):
        record_event(db_path, user.user_id, "locator.rate_limited", {}, now=at)
        minutes = limits.window.total_seconds() / 60
        raise LocatorRateLimitError(
            f"at most {limits.max_searches} locator searches in {minutes:g} minutes; try again later"
        )
    fields = locator_fields(user)
    con = connect_readonly(resolve_db_path(db_path))
    try:
        ids = records_sql.locate_students(
            con,
            first_name=first,
            last_name=last,
            birth_date=born,
            former_district_id=former,
            limit=limits.max_results,
        )
        matches: list[LocatorMatch] = []
        for sid in ids:
            found: dict[str, Any] = {"state_student_id": sid}
            for table, cols in fields.items():
                if not cols:
                    continue
                rows = records_sql.fetch_student_rows(con, table, sid, cols)
                if rows:
                    found.update({k: v for k, v in rows[0].items() if k not in found})
            matches.append(LocatorMatch(sid, found))
        districts = records_sql.latest_districts(con, ids)
    finally:
        con.close()
    record_event(
        db_path,
        user.user_id,
        "locator.search",
        {
            "first_name": first,
            "last_name": last,
            "birth_date": born.isoformat(),
            "former_district_id": former,
            "result_student_ids": ids,
            "actor_district_id": user.district_id,
            "result_district_ids": sorted(set(districts.values())),
        },
        now=at,
    )
    return matches
