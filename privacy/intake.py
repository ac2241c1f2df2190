"""District submissions and state-ID review behind the access rules: who may submit, review, see.

A thin facade over `warehouse.submissions` and `warehouse.reconciliation` for the pages:

- Submitting is for a superintendent (Level 2, the role that "can direct that data be
  resubmitted") for their own district, and for Level 1 MDOE staff for any district.
- The ID review queue and merges are Level 1 only: they show identifying fields side by side.
- The status view shows a superintendent their own district; Level 1 and reporting staff see all.

Every attempt, accepted or rejected, is logged in the state database (a rejected one never
touches the warehouse) and in the audit trail, with counts only, never record contents.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from privacy.access import Role, User, row_scope
from privacy.audit_log import record_event
from privacy.state import open_state, write_transaction
from warehouse.connection import connect_readonly, resolve_db_path
from warehouse.intake_formats import KINDS, template_csv
from warehouse.reconciliation import MergeResult, decide_review, merge_ids, pending_reviews
from warehouse.submissions import (
    SubmissionResult,
    reporting_calendar,
    submission_history,
    submission_status,
    submit_files,
)
from warehouse.validation import (
    DEFAULT_MAX_BYTES,
    Problem,
    problems_frame,
    problems_to_csv,
    read_submission_bytes,
)

INTAKE_DDL = """
CREATE TABLE IF NOT EXISTS submission_attempts (
    attempt_id    TEXT PRIMARY KEY,
    district_id   TEXT NOT NULL,
    school_year   TEXT NOT NULL,
    kinds         TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    at            TEXT NOT NULL,
    accepted      INTEGER NOT NULL,
    problem_count INTEGER NOT NULL,
    submission_id TEXT
);
"""


class IntakeAccessError(PermissionError):
    """The user may not do this (submit for that district, review IDs, see that status)."""


@dataclass(frozen=True)
class UploadedFile:
    """A file as uploaded: its name and bytes (the size limit applies before parsing)."""

    name: str
    data: bytes


def can_submit(user: User, district_id: str) -> bool:
    """Level 1 staff for any district; a superintendent for the district of their grant."""
    if user.level == 1:
        return True
    scope = row_scope(user)
    return user.rule.resubmission and scope.contains(frozenset({district_id}), frozenset())


def can_review_ids(user: User) -> bool:
    """Only Level 1 (MDOE staff who maintain the accuracy of the records) review and merge IDs."""
    return user.level == 1


def can_view_status(user: User, district_id: str | None) -> bool:
    """Status of all districts: Level 1 and reporting staff; a superintendent: own district."""
    if user.level == 1 or user.role == Role.REPORTING:
        return True
    return district_id is not None and can_submit(user, district_id)


def submittable_districts(db_path: str | os.PathLike[str] | None, user: User) -> list[str]:
    """The district IDs the user may submit for (empty when none)."""
    if user.level == 1:
        con = connect_readonly(resolve_db_path(db_path))
        try:
            return [
                r[0] for r in con.execute("SELECT district_id FROM districts ORDER BY 1").fetchall()
            ]
        finally:
            con.close()
    if user.district_id and can_submit(user, user.district_id):
        return [user.district_id]
    return []


def _log_attempt(
    db_path: str | os.PathLike[str],
    user: User,
    district_id: str,
    school_year: str,
    kinds: Sequence[str],
    result: SubmissionResult,
    at: dt.datetime,
) -> None:
    con = open_state(db_path, INTAKE_DDL)
    try:
        with write_transaction(con):
            con.execute(
                "INSERT INTO submission_attempts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    uuid.uuid4().hex,
                    district_id,
                    school_year,
                    ",".join(sorted(set(kinds))),
                    user.user_id,
                    at.isoformat(),
                    int(result.accepted),
                    len(result.problems),
                    result.submission_id,
                ),
            )
    finally:
        con.close()


def submit_district_files(
    db_path: str | os.PathLike[str] | None,
    user: User,
    district_id: str,
    school_year: str,
    files: Sequence[UploadedFile],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    now: dt.datetime | None = None,
) -> SubmissionResult:
    """Validate and load a district's files, all or nothing, as `user`.

    The returned result holds the error report (problems echo the submitted values, so it goes
    only to the submitter) or the ID assignments for the district's own people.
    """
    if not can_submit(user, district_id):
        raise IntakeAccessError(f"your account may not submit data for district {district_id}")
    path = resolve_db_path(db_path)
    aware = now or dt.datetime.now(dt.UTC)
    aware = aware.replace(tzinfo=dt.UTC) if aware.tzinfo is None else aware.astimezone(dt.UTC)
    at = aware.replace(tzinfo=None)
    parsed = [read_submission_bytes(f.data, f.name, max_bytes=max_bytes) for f in files]
    result = submit_files(path, district_id, school_year, parsed, user.user_id, now=at)
    kinds = [p.kind for p in parsed if p.kind]
    _log_attempt(path, user, district_id, school_year, kinds, result, at)
    record_event(
        path,
        user.user_id,
        "submission.accepted" if result.accepted else "submission.rejected",
        {
            "district_id": district_id,
            "school_year": school_year,
            "kinds": sorted(set(kinds)),
            "files": len(files),
            "problems": len(result.problems),
            "submission_id": result.submission_id,
            "new_ids": result.new_ids,
            "matched_ids": result.matched_ids,
            "queued_for_review": result.queued_for_review,
        },
        now=aware,
    )
    return result


def error_report_csv(problems: Sequence[Problem]) -> str:
    """The clerk's error report: row, field, value, problem, how to fix (spreadsheet-safe)."""
    return problems_to_csv(problems)


def error_report_table(problems: Sequence[Problem]) -> pl.DataFrame:
    """The error report as a table for the page."""
    return problems_frame(problems)


def file_templates() -> dict[str, str]:
    """An empty CSV template (header row) per file kind."""
    return {k: template_csv(k) for k in KINDS}


def _rejected_attempts(
    path: os.PathLike[str] | str, school_year: str
) -> dict[tuple[str, str], dt.datetime]:
    con = open_state(path, INTAKE_DDL)
    try:
        rows = con.execute(
            "SELECT district_id, kinds, max(at) FROM submission_attempts "
            "WHERE school_year = ? AND accepted = 0 GROUP BY district_id, kinds",
            (school_year,),
        ).fetchall()
    finally:
        con.close()
    out: dict[tuple[str, str], dt.datetime] = {}
    for district, kinds, at in rows:
        for kind in (kinds or "").split(","):
            if kind:
                t = dt.datetime.fromisoformat(at)
                out[(district, kind)] = max(out.get((district, kind), t), t)
    return out


def status_view(
    db_path: str | os.PathLike[str] | None,
    user: User,
    school_year: str,
    *,
    today: dt.date | None = None,
    district_id: str | None = None,
) -> pl.DataFrame:
    """Each district and kind: ON_TIME, LATE, MISSING, OPEN (not yet due) or ERRORS.

    A superintendent sees only their own district, whatever `district_id` says.
    """
    if not (user.level == 1 or user.role == Role.REPORTING):
        if not user.district_id or not can_view_status(user, user.district_id):
            raise IntakeAccessError("your account does not see submission status")
        district_id = user.district_id
    path = resolve_db_path(db_path)
    return submission_status(
        path,
        school_year,
        today or dt.date.today(),
        rejected_attempts=_rejected_attempts(path, school_year),
        district_id=district_id,
    )


def history_view(
    db_path: str | os.PathLike[str] | None, user: User, district_id: str | None = None
) -> pl.DataFrame:
    """Accepted files (who sent what, when, checksum, current or superseded), scoped as status."""
    if not (user.level == 1 or user.role == Role.REPORTING):
        if not user.district_id or not can_view_status(user, user.district_id):
            raise IntakeAccessError("your account does not see submission history")
        district_id = user.district_id
    return submission_history(resolve_db_path(db_path), district_id)


def calendar_view(db_path: str | os.PathLike[str] | None) -> pl.DataFrame:
    """The data calendar (public information: collections, opening and due dates)."""
    con = connect_readonly(resolve_db_path(db_path))
    try:
        return reporting_calendar(con)
    finally:
        con.close()


def id_review_queue(db_path: str | os.PathLike[str] | None, user: User) -> pl.DataFrame:
    """Pending review items side by side (identifying fields; SSN only as agree/differ)."""
    if not can_review_ids(user):
        raise IntakeAccessError("only Level 1 MDOE staff review state IDs")
    path = resolve_db_path(db_path)
    queue = pending_reviews(path)
    record_event(path, user.user_id, "id_review.view", {"pending": queue.height})
    return queue


def decide_id_review(
    db_path: str | os.PathLike[str] | None, user: User, review_id: str, same_person: bool
) -> MergeResult | None:
    """Record a reviewer's decision (same person: merge the provisional ID into the candidate)."""
    if not can_review_ids(user):
        raise IntakeAccessError("only Level 1 MDOE staff review state IDs")
    path = resolve_db_path(db_path)
    result = decide_review(path, review_id, same_person, user.user_id)
    record_event(
        path,
        user.user_id,
        "id_review.decide",
        {"review_id": review_id, "same_person": same_person, "merged": result is not None},
    )
    return result


def merge_state_ids(
    db_path: str | os.PathLike[str] | None,
    user: User,
    keep: str,
    alias: str,
    *,
    person: str = "student",
) -> MergeResult:
    """Merge two IDs of one person (Level 1 only); the alias is retired, history moves."""
    if not can_review_ids(user):
        raise IntakeAccessError("only Level 1 MDOE staff merge state IDs")
    path = resolve_db_path(db_path)
    result = merge_ids(path, keep, alias, user.user_id, person=person)
    record_event(
        path,
        user.user_id,
        "id.merge",
        {"person": person, "keep": keep, "alias": alias, "moved": result.moved},
    )
    return result
