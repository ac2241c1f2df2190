"""Research requests: a written request, a case-by-case decision, a signed MOA, a watermarked loan.

The policy's "Release of Student Data to Researchers and Other Agencies": researchers submit a
written request (purpose, the educational agency or institution the study is for, the data
requested, how confidentiality and security will be ensured); the Education Data Manager decides
case by case and documents the decision with reasons; every recipient signs a Memorandum of
Agreement; the release is a loan that ends on a stated date, after which the data are destroyed;
the Education Data Manager receives a copy of every resulting report.

How edudash holds to it:

- A request names its fields as "table.field" from the data dictionary, student record tables
  only. SSN and MaineCare ID are refused outright: an extract identifies students by state
  student ID only. Unknown fields, an end date that is not in the future (or more than
  `MAX_LOAN_YEARS` ahead), a malformed request: a clear error and nothing stored.
- Approval may narrow the fields; an extract needs an approved request AND a recorded signed MOA
  (approval takes effect only with it), a loan that has not ended, and a party that is not barred.
  A denied request can never produce an extract.
- Each extract is one CSV per table plus a manifest and a README. Every CSV starts with a
  `# ...` line naming the request, the recipient, the end date and a per-extract watermark ID,
  and every row carries the watermark in an `extract_watermark` column, so a leaked file names
  the loan it came from. Making it writes one disclosure-log entry and one audit entry, in one
  transaction with the extract's own record; the files appear only if that commits.
- `loans_due` lists loans ending within N days and those past their end date (overdue) until a
  certification of destruction is recorded, which closes the loan.
- "If an improper disclosure is made by someone other than a Maine official, then the parties
  will be restricted from any access to MDOE student data for five years": a recorded finding
  bars the organization and the person (matched by normalized organization name or e-mail) until
  the day five years after the finding; their new requests are refused automatically (the
  refusal itself is recorded, as the policy asks that all correspondence be documented), and
  approvals and extracts of their open requests are refused too. Matching by name cannot catch a
  party that renames itself; the Education Data Manager still reviews every request.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from privacy.access import User
from privacy.audit_log import AUDIT_DDL, append_event
from privacy.disclosures import (
    DISCLOSURES_DDL,
    append_disclosure,
    check_field_names,
    clean_text,
    now_utc,
    require_data_manager,
)
from privacy.state import open_state, write_transaction
from warehouse import extracts_sql
from warehouse.connection import connect_readonly, resolve_db_path
from warehouse.dictionary import load_dictionary

RESEARCH_DDL = """
CREATE TABLE IF NOT EXISTS research_requests (
    request_id        INTEGER PRIMARY KEY,
    submitted_at      TEXT NOT NULL,
    entered_by        TEXT NOT NULL,
    researcher        TEXT NOT NULL,
    researcher_email  TEXT NOT NULL,
    organization      TEXT NOT NULL,
    study_for         TEXT NOT NULL,
    purpose           TEXT NOT NULL,
    security_plan     TEXT NOT NULL,
    fields            TEXT NOT NULL,
    school_years      TEXT NOT NULL,
    end_date          TEXT NOT NULL,
    status            TEXT NOT NULL
        CHECK (status IN ('submitted', 'approved', 'denied', 'refused', 'closed')),
    approved_fields   TEXT,
    decided_by        TEXT,
    decided_at        TEXT,
    decision_reasons  TEXT,
    moa_signed_by     TEXT,
    moa_signed_on     TEXT,
    moa_document      TEXT,
    moa_recorded_by   TEXT,
    moa_recorded_at   TEXT,
    destruction_certified_by TEXT,
    destruction_certified_on TEXT,
    destruction_method       TEXT,
    destruction_recorded_by  TEXT,
    destruction_recorded_at  TEXT
);
CREATE TABLE IF NOT EXISTS research_extracts (
    watermark     TEXT PRIMARY KEY,
    request_id    INTEGER NOT NULL REFERENCES research_requests (request_id),
    at            TEXT NOT NULL,
    made_by       TEXT NOT NULL,
    fields        TEXT NOT NULL,
    student_count INTEGER NOT NULL,
    files         TEXT NOT NULL,
    disclosure_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS research_reports (
    report_id   INTEGER PRIMARY KEY,
    request_id  INTEGER NOT NULL REFERENCES research_requests (request_id),
    title       TEXT NOT NULL,
    received_on TEXT NOT NULL,
    document    TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS improper_disclosures (
    finding_id       INTEGER PRIMARY KEY,
    organization     TEXT NOT NULL,
    organization_key TEXT NOT NULL,
    person_email     TEXT NOT NULL DEFAULT '',
    maine_official   INTEGER NOT NULL CHECK (maine_official IN (0, 1)),
    found_on         TEXT NOT NULL,
    barred_until     TEXT,
    finding          TEXT NOT NULL,
    request_id       INTEGER,
    recorded_by      TEXT NOT NULL,
    recorded_at      TEXT NOT NULL
);
"""

# Never in a research extract: students are identified by state student ID only.
FORBIDDEN_FIELDS = frozenset({"students.ssn", "students.mainecare_id", "staff.ssn"})
BAR_YEARS = 5
MAX_LOAN_YEARS = 5
WATERMARK_COLUMN = "extract_watermark"
STATUSES = ("submitted", "approved", "denied", "refused", "closed")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class BarredPartyError(PermissionError):
    """The organization or person was found to have disclosed improperly and is barred."""


class ResearchStateError(ValueError):
    """The request is not in a state that allows this step."""


@dataclass(frozen=True)
class ResearchRequest:
    """A researcher's written request and everything decided about it."""

    request_id: int
    submitted_at: datetime
    entered_by: str
    researcher: str
    researcher_email: str
    organization: str
    study_for: str
    purpose: str
    security_plan: str
    fields: tuple[str, ...]
    school_years: tuple[str, ...]
    end_date: date
    status: str
    approved_fields: tuple[str, ...]
    decided_by: str | None
    decided_at: datetime | None
    decision_reasons: str | None
    moa_signed_by: str | None
    moa_signed_on: date | None
    moa_document: str | None
    destruction_certified_by: str | None
    destruction_certified_on: date | None
    destruction_method: str | None

    @property
    def moa_recorded(self) -> bool:
        return self.moa_signed_on is not None

    @property
    def label(self) -> str:
        return f"RR-{self.request_id}"

    def overdue(self, today: date) -> bool:
        """An approved loan past its end date without a certification of destruction."""
        return self.status == "approved" and self.end_date < today


@dataclass(frozen=True)
class Bar:
    """A finding of improper disclosure; `barred_until` is None for a Maine official (the
    five-year bar applies to others only)."""

    finding_id: int
    organization: str
    person_email: str
    maine_official: bool
    found_on: date
    barred_until: date | None
    finding: str
    request_id: int | None
    recorded_by: str

    def active_on(self, day: date) -> bool:
        return self.barred_until is not None and self.found_on <= day < self.barred_until


@dataclass(frozen=True)
class Extract:
    """One research extract: where it was written, its watermark, what it holds."""

    request_id: int
    watermark: str
    folder: Path
    files: dict[str, str]
    row_counts: dict[str, int]
    student_count: int
    fields: tuple[str, ...]
    disclosure_id: int


@dataclass(frozen=True)
class LoanReminder:
    """A loan that ends within the reminder window, or has ended without certified destruction."""

    request_id: int
    researcher: str
    researcher_email: str
    organization: str
    end_date: date
    days_left: int
    overdue: bool
    extracts: int


@dataclass(frozen=True)
class ReportCopy:
    """A copy of an analysis or report made with loaned data, received by the Data Manager."""

    report_id: int
    request_id: int
    title: str
    received_on: date
    document: str
    recorded_by: str


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def organization_key(name: str) -> str:
    """How organizations are compared for bars: case, punctuation and spacing ignored."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", name.casefold()).split())


def _date(value: date | str, what: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"{what}: give a date as YYYY-MM-DD, not {value!r}") from None


def _email(value: str) -> str:
    text = (value or "").strip().lower()
    if not _EMAIL.match(text) or len(text) > 200:
        raise ValueError(f"{value!r} is not an e-mail address")
    return text


def requestable_fields() -> list[str]:
    """Every "table.field" a research request may name (student tables, no SSN/MaineCare ID)."""
    d = load_dictionary()
    return [
        f"{t}.{f.name}"
        for t in extracts_sql.STUDENT_TABLES
        for f in d.table(t).fields
        if f"{t}.{f.name}" not in FORBIDDEN_FIELDS
    ]


def check_research_fields(fields: Sequence[str]) -> tuple[str, ...]:
    """Dictionary fields of student record tables, SSN and MaineCare ID refused (ValueError)."""
    raw = [f.strip().lower() for f in fields if f and f.strip()]
    forbidden = sorted(set(raw) & FORBIDDEN_FIELDS)
    if forbidden:
        raise ValueError(
            f"{', '.join(forbidden)} cannot be released to researchers: extracts identify "
            "students by state student ID only"
        )
    names = check_field_names(raw)
    if not names:
        raise ValueError("name the data requested as table.field (e.g. assessments.scale_score)")
    others = [n for n in names if n.split(".")[0] not in extracts_sql.STUDENT_TABLES]
    if others:
        raise ValueError(
            f"{', '.join(others)}: research extracts hold fields of the student record tables "
            f"only ({', '.join(extracts_sql.STUDENT_TABLES)})"
        )
    return names


def open_research(db_path: str | os.PathLike[str] | None) -> sqlite3.Connection:
    """The state database with research, disclosure and audit tables in place."""
    return open_state(resolve_db_path(db_path), RESEARCH_DDL, DISCLOSURES_DDL, AUDIT_DDL)


def _opt_date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _request(row: sqlite3.Row) -> ResearchRequest:
    return ResearchRequest(
        request_id=row["request_id"],
        submitted_at=datetime.fromisoformat(row["submitted_at"]),
        entered_by=row["entered_by"],
        researcher=row["researcher"],
        researcher_email=row["researcher_email"],
        organization=row["organization"],
        study_for=row["study_for"],
        purpose=row["purpose"],
        security_plan=row["security_plan"],
        fields=tuple(json.loads(row["fields"])),
        school_years=tuple(json.loads(row["school_years"])),
        end_date=date.fromisoformat(row["end_date"]),
        status=row["status"],
        approved_fields=tuple(json.loads(row["approved_fields"] or "[]")),
        decided_by=row["decided_by"],
        decided_at=datetime.fromisoformat(row["decided_at"]) if row["decided_at"] else None,
        decision_reasons=row["decision_reasons"],
        moa_signed_by=row["moa_signed_by"],
        moa_signed_on=_opt_date(row["moa_signed_on"]),
        moa_document=row["moa_document"],
        destruction_certified_by=row["destruction_certified_by"],
        destruction_certified_on=_opt_date(row["destruction_certified_on"]),
        destruction_method=row["destruction_method"],
    )


def _bar(row: sqlite3.Row) -> Bar:
    return Bar(
        finding_id=row["finding_id"],
        organization=row["organization"],
        person_email=row["person_email"],
        maine_official=bool(row["maine_official"]),
        found_on=date.fromisoformat(row["found_on"]),
        barred_until=_opt_date(row["barred_until"]),
        finding=row["finding"],
        request_id=row["request_id"],
        recorded_by=row["recorded_by"],
    )


def _active_bar(con: sqlite3.Connection, organization: str, email: str, day: date) -> Bar | None:
    rows = con.execute(
        "SELECT * FROM improper_disclosures WHERE barred_until IS NOT NULL"
        " AND found_on <= ? AND barred_until > ?"
        " AND (organization_key = ? OR (person_email != '' AND person_email = ?))"
        " ORDER BY barred_until DESC",
        (day.isoformat(), day.isoformat(), organization_key(organization), email.lower()),
    ).fetchall()
    return _bar(rows[0]) if rows else None


def active_bar(
    db_path: str | os.PathLike[str] | None, organization: str, email: str, day: date
) -> Bar | None:
    """The bar in force on `day` against this organization or person, if any."""
    con = open_research(db_path)
    try:
        return _active_bar(con, organization, email, day)
    finally:
        con.close()


def _bar_message(bar: Bar) -> str:
    return (
        f"{bar.organization} was found to have disclosed student data improperly on "
        f"{bar.found_on} and is barred from MDOE student data until {bar.barred_until}"
    )


def _load(con: sqlite3.Connection, request_id: int) -> ResearchRequest:
    row = con.execute(
        "SELECT * FROM research_requests WHERE request_id = ?", (int(request_id),)
    ).fetchone()
    if row is None:
        raise LookupError(f"no research request #{request_id}")
    return _request(row)


def submit_research_request(
    db_path: str | os.PathLike[str] | None,
    entered_by: User,
    *,
    researcher: str,
    researcher_email: str,
    organization: str,
    study_for: str,
    purpose: str,
    security_plan: str,
    fields: Sequence[str],
    end_date: date | str,
    school_years: Sequence[str] = (),
    now: datetime | None = None,
) -> ResearchRequest:
    """Record a researcher's written request, entered by the Education Data Manager who received
    it. `fields` ("table.field") are the data asked for; `school_years` limit the extract to those
    years (empty: every year); the loan ends on `end_date`. A barred party's request is recorded
    as refused and BarredPartyError raised; invalid input stores nothing."""
    db = resolve_db_path(db_path)
    require_data_manager(entered_by)
    at = now_utc(now)
    today = at.date()
    person = clean_text(researcher, "the researcher's name", max_len=200)
    email = _email(researcher_email)
    org = clean_text(organization, "the researcher's organization", max_len=200)
    study = clean_text(study_for, "the educational agency or institution the study is for")
    why = clean_text(purpose, "the purpose of the study", min_len=20)
    security = clean_text(security_plan, "how confidentiality and security are ensured", min_len=20)
    names = check_research_fields(fields)
    ends = _date(end_date, "the end date")
    if ends <= today:
        raise ValueError(f"the end date {ends} is not in the future")
    if ends > add_years(today, MAX_LOAN_YEARS):
        raise ValueError(
            f"a loan lasts at most {MAX_LOAN_YEARS} years; end it by "
            f"{add_years(today, MAX_LOAN_YEARS)}"
        )
    years = tuple(dict.fromkeys(y.strip() for y in school_years if y and y.strip()))
    if years:
        con = connect_readonly(db)
        try:
            known = set(extracts_sql.school_years(con))
        finally:
            con.close()
        unknown = [y for y in years if y not in known]
        if unknown:
            raise ValueError(f"unknown school year(s) {', '.join(unknown)}")
    state = open_research(db)
    try:
        with write_transaction(state):
            bar = _active_bar(state, org, email, today)
            cur = state.execute(
                "INSERT INTO research_requests (submitted_at, entered_by, researcher,"
                " researcher_email, organization, study_for, purpose, security_plan, fields,"
                " school_years, end_date, status, decided_by, decided_at, decision_reasons)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    at.isoformat(),
                    entered_by.user_id,
                    person,
                    email,
                    org,
                    study,
                    why,
                    security,
                    json.dumps(list(names)),
                    json.dumps(list(years)),
                    ends.isoformat(),
                    "refused" if bar else "submitted",
                    "system:five-year-bar" if bar else None,
                    at.isoformat() if bar else None,
                    _bar_message(bar) if bar else None,
                ),
            )
            request_id = int(cur.lastrowid or 0)
            append_event(
                state,
                db,
                entered_by.user_id,
                "research.refused" if bar else "research.submit",
                {
                    "request_id": request_id,
                    "organization": org,
                    "researcher_email": email,
                    "fields": list(names),
                    "end_date": ends.isoformat(),
                    **({"bar_finding_id": bar.finding_id} if bar else {}),
                },
                now=at,
            )
    finally:
        state.close()
    if bar:
        raise BarredPartyError(f"request RR-{request_id} refused: {_bar_message(bar)}")
    return get_research_request(db, entered_by, request_id)


def get_research_request(
    db_path: str | os.PathLike[str] | None, viewer: User, request_id: int
) -> ResearchRequest:
    """One request (Education Data Manager only); LookupError when there is none."""
    require_data_manager(viewer)
    con = open_research(db_path)
    try:
        return _load(con, request_id)
    finally:
        con.close()


def list_research_requests(
    db_path: str | os.PathLike[str] | None, viewer: User, *, status: str | None = None
) -> list[ResearchRequest]:
    """Requests, newest first, optionally of one status (Education Data Manager only)."""
    require_data_manager(viewer)
    if status and status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; use one of: {', '.join(STATUSES)}")
    con = open_research(db_path)
    try:
        rows = con.execute(
            "SELECT * FROM research_requests WHERE (? IS NULL OR status = ?)"
            " ORDER BY request_id DESC",
            (status, status),
        ).fetchall()
    finally:
        con.close()
    return [_request(r) for r in rows]


def _decide(
    db_path: str | os.PathLike[str] | None,
    edm: User,
    request_id: int,
    *,
    approve: bool,
    reasons: str,
    fields: Sequence[str] | None,
    now: datetime | None,
) -> ResearchRequest:
    db = resolve_db_path(db_path)
    require_data_manager(edm)
    at = now_utc(now)
    why = clean_text(reasons, "the reasons for the decision", min_len=10)
    state = open_research(db)
    try:
        with write_transaction(state):
            req = _load(state, request_id)
            if req.status != "submitted":
                raise ResearchStateError(
                    f"{req.label} is {req.status}; only a submitted request can be decided"
                )
            approved: tuple[str, ...] = ()
            if approve:
                bar = _active_bar(state, req.organization, req.researcher_email, at.date())
                if bar:
                    raise BarredPartyError(f"{req.label} cannot be approved: {_bar_message(bar)}")
                if req.end_date <= at.date():
                    raise ResearchStateError(
                        f"{req.label} ended on {req.end_date}; it cannot be approved"
                    )
                approved = check_research_fields(fields) if fields else req.fields
                extra = sorted(set(approved) - set(req.fields))
                if extra:
                    raise ValueError(
                        f"{', '.join(extra)} were not requested; approval may only "
                        "narrow the request"
                    )
            state.execute(
                "UPDATE research_requests SET status = ?, approved_fields = ?, decided_by = ?,"
                " decided_at = ?, decision_reasons = ? WHERE request_id = ?",
                (
                    "approved" if approve else "denied",
                    json.dumps(list(approved)) if approve else None,
                    edm.user_id,
                    at.isoformat(),
                    why,
                    req.request_id,
                ),
            )
            append_event(
                state,
                db,
                edm.user_id,
                "research.approve" if approve else "research.deny",
                {"request_id": req.request_id, "reasons": why, "fields": list(approved)},
                now=at,
            )
    finally:
        state.close()
    return get_research_request(db, edm, request_id)


def approve_research_request(
    db_path: str | os.PathLike[str] | None,
    edm: User,
    request_id: int,
    *,
    reasons: str,
    fields: Sequence[str] | None = None,
    now: datetime | None = None,
) -> ResearchRequest:
    """Approve a submitted request with reasons, optionally narrowing it to `fields`. The
    approval takes effect (an extract can be made) only once a signed MOA is recorded."""
    return _decide(db_path, edm, request_id, approve=True, reasons=reasons, fields=fields, now=now)


def deny_research_request(
    db_path: str | os.PathLike[str] | None,
    edm: User,
    request_id: int,
    *,
    reasons: str,
    now: datetime | None = None,
) -> ResearchRequest:
    """Deny a submitted request with reasons; no extract can ever be made for it."""
    return _decide(db_path, edm, request_id, approve=False, reasons=reasons, fields=None, now=now)


def record_moa(
    db_path: str | os.PathLike[str] | None,
    edm: User,
    request_id: int,
    *,
    signed_by: str,
    signed_on: date | str,
    document: str,
    now: datetime | None = None,
) -> ResearchRequest:
    """Record the signed Memorandum of Agreement for Disclosure of Individually Identifiable
    Records (who signed, when, and where the signed document is kept)."""
    db = resolve_db_path(db_path)
    require_data_manager(edm)
    at = now_utc(now)
    signer = clean_text(signed_by, "who signed the MOA", max_len=200)
    doc = clean_text(document, "where the signed MOA is kept", min_len=3, max_len=500)
    signed = _date(signed_on, "the signing date")
    if signed > at.date():
        raise ValueError(f"the MOA signing date {signed} is in the future")
    state = open_research(db)
    try:
        with write_transaction(state):
            req = _load(state, request_id)
            if req.status not in ("submitted", "approved"):
                raise ResearchStateError(f"{req.label} is {req.status}; no MOA can be recorded")
            if req.moa_recorded:
                raise ResearchStateError(f"{req.label} already has a signed MOA on record")
            state.execute(
                "UPDATE research_requests SET moa_signed_by = ?, moa_signed_on = ?,"
                " moa_document = ?, moa_recorded_by = ?, moa_recorded_at = ?"
                " WHERE request_id = ?",
                (signer, signed.isoformat(), doc, edm.user_id, at.isoformat(), req.request_id),
            )
            append_event(
                state,
                db,
                edm.user_id,
                "research.moa",
                {"request_id": req.request_id, "signed_by": signer, "signed_on": str(signed)},
                now=at,
            )
    finally:
        state.close()
    return get_research_request(db, edm, request_id)


def _check_extract_allowed(con: sqlite3.Connection, req: ResearchRequest, today: date) -> None:
    if req.status == "denied":
        raise ResearchStateError(f"{req.label} was denied: no extract can be made")
    if req.status != "approved":
        raise ResearchStateError(f"{req.label} is {req.status}, not approved: no extract")
    if not req.moa_recorded:
        raise ResearchStateError(
            f"{req.label} has no signed Memorandum of Agreement on record; record it first"
        )
    if req.end_date < today:
        raise ResearchStateError(f"the loan of {req.label} ended on {req.end_date}")
    bar = _active_bar(con, req.organization, req.researcher_email, today)
    if bar:
        raise BarredPartyError(f"no extract for {req.label}: {_bar_message(bar)}")


def _write_csv(path: Path, header: str, frame: Any) -> str:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(header + "\n")
        frame.write_csv(fh)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_extract(
    db_path: str | os.PathLike[str] | None,
    edm: User,
    request_id: int,
    out_dir: str | os.PathLike[str],
    *,
    now: datetime | None = None,
) -> Extract:
    """Write the extract of an approved request with a signed MOA into `out_dir` (which must
    not exist or be empty): the approved fields only, students by state ID, every file and row
    watermarked. Writes one disclosure-log entry and one audit entry."""
    db = resolve_db_path(db_path)
    require_data_manager(edm)
    at = now_utc(now)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty folder")
    state = open_research(db)
    try:
        req = _load(state, request_id)
        _check_extract_allowed(state, req, at.date())
    finally:
        state.close()
    watermark = f"WM-{req.request_id}-{secrets.token_hex(6).upper()}"
    by_table: dict[str, list[str]] = {}
    for name in req.approved_fields:
        table, column = name.split(".", 1)
        by_table.setdefault(table, []).append(column)
    header = (
        f"# MDOE research extract {req.label} for {req.researcher} ({req.organization}); "
        f"watermark {watermark}; made {at.date()}; loan ends {req.end_date}: destroy every copy "
        "by then and certify it; no redisclosure without written consent (34 CFR 99.31(a)(6))"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex}")
    tmp.mkdir()
    try:
        con = connect_readonly(db)
        try:
            files: dict[str, str] = {}
            counts: dict[str, int] = {}
            students: set[str] = set()
            for table in extracts_sql.STUDENT_TABLES:
                if table not in by_table:
                    continue
                frame = extracts_sql.extract_frame(
                    con, table, by_table[table], req.school_years or None
                )
                students.update(frame["state_student_id"].to_list())
                frame = frame.with_columns(pl.lit(watermark).alias(WATERMARK_COLUMN))
                files[f"{table}.csv"] = _write_csv(tmp / f"{table}.csv", header, frame)
                counts[table] = frame.height
        finally:
            con.close()
        manifest = {
            "request": req.label,
            "watermark": watermark,
            "recipient": req.researcher,
            "organization": req.organization,
            "study_for": req.study_for,
            "made": at.isoformat(timespec="seconds"),
            "loan_ends": req.end_date.isoformat(),
            "fields": list(req.approved_fields),
            "school_years": list(req.school_years) or "all",
            "students": len(students),
            "files": {n: {"sha256": h, "rows": counts[n[:-4]]} for n, h in files.items()},
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        (tmp / "README.txt").write_text(
            header.lstrip("# ")
            + "\n\nThis is a loan of data: the recipient does not own it. Students are identified"
            " by state student ID only. Send the Education Data Manager a copy of every analysis"
            " or report made with these data.\n"
        )
        state = open_research(db)
        try:
            with write_transaction(state):
                current = _load(state, request_id)
                _check_extract_allowed(state, current, at.date())
                disclosure_id = append_disclosure(
                    state,
                    db,
                    nature="research_extract",
                    legal_basis="studies",
                    recipient=req.researcher,
                    recipient_organization=req.organization,
                    purpose=req.purpose,
                    data_description=(
                        f"research extract {req.label} for {req.study_for}: "
                        + ", ".join(f"{t} ({n} rows)" for t, n in counts.items())
                    ),
                    fields=req.approved_fields,
                    subject_ids=sorted(students),
                    approved_by=req.decided_by or edm.user_id,
                    recorded_by=edm.user_id,
                    reference=f"research:{req.request_id}",
                    watermark=watermark,
                    now=at,
                )
                state.execute(
                    "INSERT INTO research_extracts (watermark, request_id, at, made_by, fields,"
                    " student_count, files, disclosure_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        watermark,
                        req.request_id,
                        at.isoformat(),
                        edm.user_id,
                        json.dumps(list(req.approved_fields)),
                        len(students),
                        json.dumps(files),
                        disclosure_id,
                    ),
                )
        finally:
            state.close()
        # After the commit: a release is never made without its log entry (a failed rename
        # leaves an entry for files that never left, the safe direction).
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Extract(
        req.request_id,
        watermark,
        out,
        files,
        counts,
        len(students),
        req.approved_fields,
        disclosure_id,
    )


def extracts_of(
    db_path: str | os.PathLike[str] | None, viewer: User, request_id: int
) -> list[dict[str, Any]]:
    """The extracts made for a request (watermark, when, by whom, students, files)."""
    require_data_manager(viewer)
    con = open_research(db_path)
    try:
        rows = con.execute(
            "SELECT * FROM research_extracts WHERE request_id = ? ORDER BY at", (int(request_id),)
        ).fetchall()
    finally:
        con.close()
    return [
        {
            "watermark": r["watermark"],
            "at": r["at"],
            "made_by": r["made_by"],
            "student_count": r["student_count"],
            "files": json.loads(r["files"]),
            "disclosure_id": r["disclosure_id"],
        }
        for r in rows
    ]


def find_watermark(db_path: str | os.PathLike[str] | None, viewer: User, watermark: str) -> int:
    """The request a leaked file's watermark belongs to (LookupError when unknown)."""
    require_data_manager(viewer)
    con = open_research(db_path)
    try:
        row = con.execute(
            "SELECT request_id FROM research_extracts WHERE watermark = ?", (watermark.strip(),)
        ).fetchone()
    finally:
        con.close()
    if row is None:
        raise LookupError(f"no extract has watermark {watermark!r}")
    return int(row[0])


def record_report_copy(
    db_path: str | os.PathLike[str] | None,
    edm: User,
    request_id: int,
    *,
    title: str,
    received_on: date | str,
    document: str,
    now: datetime | None = None,
) -> ReportCopy:
    """Record a copy of an analysis or report made with the loaned data."""
    db = resolve_db_path(db_path)
    require_data_manager(edm)
    at = now_utc(now)
    name = clean_text(title, "the report's title", min_len=3, max_len=300)
    doc = clean_text(document, "where the copy is kept", min_len=3, max_len=500)
    received = _date(received_on, "the date received")
    if received > at.date():
        raise ValueError(f"the date received {received} is in the future")
    state = open_research(db)
    try:
        with write_transaction(state):
            req = _load(state, request_id)
            if req.status not in ("approved", "closed"):
                raise ResearchStateError(f"{req.label} is {req.status}: it has no loan")
            cur = state.execute(
                "INSERT INTO research_reports (request_id, title, received_on, document,"
                " recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
                (req.request_id, name, received.isoformat(), doc, edm.user_id, at.isoformat()),
            )
            report_id = int(cur.lastrowid or 0)
            append_event(
                state,
                db,
                edm.user_id,
                "research.report_copy",
                {"request_id": req.request_id, "report_id": report_id, "title": name},
                now=at,
            )
    finally:
        state.close()
    return ReportCopy(report_id, req.request_id, name, received, doc, edm.user_id)


def reports_of(
    db_path: str | os.PathLike[str] | None, viewer: User, request_id: int
) -> list[ReportCopy]:
    """The report copies recorded for a request."""
    require_data_manager(viewer)
    con = open_research(db_path)
    try:
        rows = con.execute(
            "SELECT * FROM research_reports WHERE request_id = ? ORDER BY report_id",
            (int(request_id),),
        ).fetchall()
    finally:
        con.close()
    return [
        ReportCopy(
            r["report_id"],
            r["request_id"],
            r["title"],
            date.fromisoformat(r["received_on"]),
            r["document"],
            r["recorded_by"],
        )
        for r in rows
    ]


def certify_destruction(
    db_path: str | os.PathLike[str] | None,
    edm: User,
    request_id: int,
    *,
    certified_by: str,
    certified_on: date | str,
    method: str,
    now: datetime | None = None,
) -> ResearchRequest:
    """Record the researcher's certification that every copy of the loaned data was destroyed
    (who certified, when, how); this closes the loan."""
    db = resolve_db_path(db_path)
    require_data_manager(edm)
    at = now_utc(now)
    who = clean_text(certified_by, "who certified the destruction", max_len=200)
    how = clean_text(method, "how the data were destroyed", min_len=5, max_len=500)
    day = _date(certified_on, "the date of certification")
    if day > at.date():
        raise ValueError(f"the certification date {day} is in the future")
    state = open_research(db)
    try:
        with write_transaction(state):
            req = _load(state, request_id)
            if req.status != "approved":
                raise ResearchStateError(f"{req.label} is {req.status}: no loan to close")
            state.execute(
                "UPDATE research_requests SET status = 'closed', destruction_certified_by = ?,"
                " destruction_certified_on = ?, destruction_method = ?,"
                " destruction_recorded_by = ?, destruction_recorded_at = ? WHERE request_id = ?",
                (who, day.isoformat(), how, edm.user_id, at.isoformat(), req.request_id),
            )
            append_event(
                state,
                db,
                edm.user_id,
                "research.destruction_certified",
                {"request_id": req.request_id, "certified_by": who, "certified_on": str(day)},
                now=at,
            )
    finally:
        state.close()
    return get_research_request(db, edm, request_id)


def record_improper_disclosure(
    db_path: str | os.PathLike[str] | None,
    edm: User,
    *,
    finding: str,
    organization: str | None = None,
    person_email: str | None = None,
    maine_official: bool = False,
    found_on: date | str | None = None,
    request_id: int | None = None,
    now: datetime | None = None,
) -> Bar:
    """Record the Education Data Manager's finding that a party disclosed improperly. Unless the
    party is a Maine official, it is barred for five years from `found_on`: its new requests
    are refused until that date. With `request_id`, organization and e-mail default to it."""
    db = resolve_db_path(db_path)
    require_data_manager(edm)
    at = now_utc(now)
    text = clean_text(finding, "the finding", min_len=20)
    day = _date(found_on, "the date of the finding") if found_on else at.date()
    if day > at.date():
        raise ValueError(f"the finding date {day} is in the future")
    state = open_research(db)
    try:
        with write_transaction(state):
            req = _load(state, request_id) if request_id is not None else None
            org = clean_text(
                organization or (req.organization if req else ""),
                "the organization",
                max_len=200,
            )
            email_raw = person_email or (req.researcher_email if req else "")
            email = _email(email_raw) if email_raw else ""
            until = None if maine_official else add_years(day, BAR_YEARS)
            cur = state.execute(
                "INSERT INTO improper_disclosures (organization, organization_key, person_email,"
                " maine_official, found_on, barred_until, finding, request_id, recorded_by,"
                " recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    org,
                    organization_key(org),
                    email,
                    int(maine_official),
                    day.isoformat(),
                    until.isoformat() if until else None,
                    text,
                    req.request_id if req else None,
                    edm.user_id,
                    at.isoformat(),
                ),
            )
            finding_id = int(cur.lastrowid or 0)
            append_event(
                state,
                db,
                edm.user_id,
                "research.improper_disclosure",
                {
                    "finding_id": finding_id,
                    "organization": org,
                    "person_email": email,
                    "maine_official": maine_official,
                    "barred_until": until.isoformat() if until else None,
                    "request_id": req.request_id if req else None,
                },
                now=at,
            )
            row = state.execute(
                "SELECT * FROM improper_disclosures WHERE finding_id = ?", (finding_id,)
            ).fetchone()
    finally:
        state.close()
    return _bar(row)


def list_bars(db_path: str | os.PathLike[str] | None, viewer: User) -> list[Bar]:
    """Every finding of improper disclosure, newest first."""
    require_data_manager(viewer)
    con = open_research(db_path)
    try:
        rows = con.execute("SELECT * FROM improper_disclosures ORDER BY finding_id DESC")
        return [_bar(r) for r in rows.fetchall()]
    finally:
        con.close()


def loans_due(
    db_path: str | os.PathLike[str] | None,
    viewer: User,
    *,
    within_days: int = 30,
    today: date | None = None,
) -> list[LoanReminder]:
    """Approved loans ending within `within_days` of `today`, and every loan past its end date
    whose destruction is not yet certified (overdue), soonest first."""
    require_data_manager(viewer)
    if within_days < 0:
        raise ValueError("the reminder window cannot be negative")
    day = today or now_utc().date()
    horizon = day + timedelta(days=within_days)
    con = open_research(db_path)
    try:
        rows = con.execute(
            "SELECT r.*, (SELECT count(*) FROM research_extracts x"
            " WHERE x.request_id = r.request_id) AS n_extracts FROM research_requests r"
            " WHERE status = 'approved' AND end_date <= ? ORDER BY end_date, request_id",
            (horizon.isoformat(),),
        ).fetchall()
    finally:
        con.close()
    out = []
    for r in rows:
        ends = date.fromisoformat(r["end_date"])
        out.append(
            LoanReminder(
                r["request_id"],
                r["researcher"],
                r["researcher_email"],
                r["organization"],
                ends,
                (ends - day).days,
                ends < day,
                int(r["n_extracts"]),
            )
        )
    return out


def record_reminders(
    db_path: str | os.PathLike[str] | None,
    edm: User,
    reminders: Sequence[LoanReminder],
    *,
    now: datetime | None = None,
) -> None:
    """Note in the audit trail that these reminders were issued (one entry per run)."""
    db = resolve_db_path(db_path)
    require_data_manager(edm)
    state = open_research(db)
    try:
        with write_transaction(state):
            append_event(
                state,
                db,
                edm.user_id,
                "research.reminders",
                {
                    "request_ids": [r.request_id for r in reminders],
                    "overdue": [r.request_id for r in reminders if r.overdue],
                },
                now=now_utc(now),
            )
    finally:
        state.close()
