"""The disclosure log: every release of personally identifiable data, and why it was lawful.

The policy: "The Education Data Manager will ... account for all disclosures. This includes
keeping a list of the data, nature, and purposes of the disclosure, and to whom the disclosure
was made", and no private data leave MDOE "except to the following parties or under the
following conditions as set forth in 34 CFR 99.31". Every disclosure path in edudash (research
extracts, record copies, and disclosures made outside the system such as a subpoena, a health or
safety emergency or an audit, recorded by hand) goes through `append_disclosure`, which writes
exactly one log entry and exactly one audit-trail entry in the caller's transaction, so a release
and its accounting commit together or not at all.

The log also keeps which people each disclosure was about (`disclosure_subjects`): FERPA
(34 CFR 99.32) asks that the record of disclosures be kept with each student's record, and a
parent or eligible student may see it; the record copies of `privacy.record_requests` include it.

The log is append-only: SQLite triggers refuse UPDATE and DELETE. Only the Education Data Manager
reads it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from privacy.access import Role, User
from privacy.audit_log import AUDIT_DDL, append_event, record_event
from privacy.state import open_state, write_transaction
from warehouse import extracts_sql
from warehouse.connection import connect_readonly, resolve_db_path
from warehouse.dictionary import load_dictionary

DISCLOSURES_DDL = """
CREATE TABLE IF NOT EXISTS disclosures (
    disclosure_id          INTEGER PRIMARY KEY,
    at                     TEXT NOT NULL,
    nature                 TEXT NOT NULL,
    legal_basis            TEXT NOT NULL,
    recipient              TEXT NOT NULL,
    recipient_organization TEXT NOT NULL DEFAULT '',
    purpose                TEXT NOT NULL,
    data_description       TEXT NOT NULL,
    fields                 TEXT NOT NULL,
    subject_count          INTEGER NOT NULL,
    approved_by            TEXT NOT NULL,
    recorded_by            TEXT NOT NULL,
    reference              TEXT NOT NULL DEFAULT '',
    watermark              TEXT
);
CREATE INDEX IF NOT EXISTS disclosures_by_at ON disclosures (at);
CREATE TABLE IF NOT EXISTS disclosure_subjects (
    disclosure_id INTEGER NOT NULL REFERENCES disclosures (disclosure_id),
    subject_id    TEXT NOT NULL,
    PRIMARY KEY (disclosure_id, subject_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS disclosure_subjects_by_subject ON disclosure_subjects (subject_id);
CREATE TRIGGER IF NOT EXISTS disclosures_no_update BEFORE UPDATE ON disclosures
BEGIN SELECT RAISE(ABORT, 'the disclosure log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS disclosures_no_delete BEFORE DELETE ON disclosures
BEGIN SELECT RAISE(ABORT, 'the disclosure log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS disclosure_subjects_no_update BEFORE UPDATE ON disclosure_subjects
BEGIN SELECT RAISE(ABORT, 'the disclosure log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS disclosure_subjects_no_delete BEFORE DELETE ON disclosure_subjects
BEGIN SELECT RAISE(ABORT, 'the disclosure log is append-only'); END;
"""

MAX_TEXT = 2000


@dataclass(frozen=True)
class LegalBasis:
    """One lawful condition for a disclosure without consent (a code of the code set)."""

    code: str
    label: str
    citation: str


# The conditions the policy lists under 34 CFR 99.31 and 99.35, plus the two ways a person sees
# their own record: 99.31(a)(12) (to the parent of a minor, or to the eligible student; the
# policy's "Requests for Student Data Access by Students or Their Parents", 34 CFR 99.20) and a
# staff member's own record (the policy's "Requests for Data Access by a Staff Person"; staff
# records fall under FOAA, not FERPA).
LEGAL_BASES: dict[str, LegalBasis] = {
    b.code: b
    for b in (
        LegalBasis(
            "school_officials",
            "School officials with a legitimate educational interest",
            "34 CFR 99.31(a)(1)(i)(A)",
        ),
        LegalBasis(
            "contractors",
            "Contractors, consultants or volunteers to which school officials have outsourced "
            "institutional services or functions",
            "34 CFR 99.31(a)(1)(i)(B)",
        ),
        LegalBasis(
            "audit_evaluation",
            "Specified officials for audit or evaluation purposes",
            "34 CFR 99.31(a)(3), 99.35",
        ),
        LegalBasis("federal_officials", "Specified federal officials", "34 CFR 99.31(a)(3)"),
        LegalBasis(
            "financial_aid",
            "Appropriate parties in connection with financial aid to a student",
            "34 CFR 99.31(a)(4)",
        ),
        LegalBasis(
            "studies",
            "Organizations conducting certain studies for or on behalf of the school",
            "34 CFR 99.31(a)(6)",
        ),
        LegalBasis("accreditation", "Accrediting organizations", "34 CFR 99.31(a)(7)"),
        LegalBasis(
            "judicial_order",
            "To comply with a judicial order or lawfully issued subpoena",
            "34 CFR 99.31(a)(9)",
        ),
        LegalBasis(
            "health_safety_emergency",
            "Appropriate officials in cases of health and safety emergencies",
            "34 CFR 99.31(a)(10), 99.36",
        ),
        LegalBasis(
            "juvenile_justice",
            "State and local authorities, within a juvenile justice system, pursuant to "
            "specific state law",
            "34 CFR 99.31(a)(5)",
        ),
        LegalBasis(
            "parent_or_eligible_student",
            "To the parent of a student under 18, or to the student",
            "34 CFR 99.31(a)(12), 99.10, 99.20",
        ),
        LegalBasis(
            "staff_own_record",
            "A staff member's copy of their own record",
            "MDOE policy, Requests for Data Access by a Staff Person (Maine FOAA)",
        ),
    )
}


@dataclass(frozen=True)
class Nature:
    """A kind of disclosure and the legal bases it may rest on."""

    code: str
    label: str
    bases: frozenset[str]


NATURES: dict[str, Nature] = {
    n.code: n
    for n in (
        Nature("research_extract", "Research extract (loan of data)", frozenset({"studies"})),
        Nature(
            "record_copy",
            "Copy of a person's own record",
            frozenset({"parent_or_eligible_student", "staff_own_record"}),
        ),
        Nature("subpoena", "Judicial order or subpoena", frozenset({"judicial_order"})),
        Nature(
            "health_safety_emergency",
            "Health or safety emergency",
            frozenset({"health_safety_emergency"}),
        ),
        Nature(
            "audit",
            "Audit, evaluation or accreditation",
            frozenset({"audit_evaluation", "federal_officials", "accreditation"}),
        ),
        Nature(
            "other",
            "Other disclosure under 34 CFR 99.31",
            frozenset(LEGAL_BASES) - {"parent_or_eligible_student", "staff_own_record"},
        ),
    )
}

# Natures recorded by hand for releases made outside edudash; the others are written only by
# the workflow that makes the release.
MANUAL_NATURES = ("subpoena", "health_safety_emergency", "audit", "other")

CSV_COLUMNS = (
    "disclosure_id",
    "at",
    "nature",
    "legal_basis",
    "legal_citation",
    "recipient",
    "recipient_organization",
    "purpose",
    "data_description",
    "fields",
    "subject_count",
    "approved_by",
    "recorded_by",
    "reference",
    "watermark",
)


@dataclass(frozen=True)
class Disclosure:
    """One entry of the disclosure log. `fields` are "table.field" names of the data released;
    `subject_count` is how many people the data were about."""

    disclosure_id: int
    at: datetime
    nature: str
    legal_basis: str
    recipient: str
    recipient_organization: str
    purpose: str
    data_description: str
    fields: tuple[str, ...]
    subject_count: int
    approved_by: str
    recorded_by: str
    reference: str
    watermark: str | None

    def as_row(self) -> dict[str, Any]:
        """The entry as one CSV row (see `CSV_COLUMNS`)."""
        return {
            "disclosure_id": self.disclosure_id,
            "at": self.at.isoformat(timespec="seconds"),
            "nature": self.nature,
            "legal_basis": self.legal_basis,
            "legal_citation": LEGAL_BASES[self.legal_basis].citation,
            "recipient": self.recipient,
            "recipient_organization": self.recipient_organization,
            "purpose": self.purpose,
            "data_description": self.data_description,
            "fields": " ".join(self.fields),
            "subject_count": self.subject_count,
            "approved_by": self.approved_by,
            "recorded_by": self.recorded_by,
            "reference": self.reference,
            "watermark": self.watermark or "",
        }


class NotDataManagerError(PermissionError):
    """Only the Education Data Manager may take this action."""


def require_data_manager(user: User | None) -> User:
    """`user` if they are the Education Data Manager; NotDataManagerError otherwise."""
    if user is None or user.role != Role.DATA_MANAGER:
        raise NotDataManagerError("only the Education Data Manager may do this")
    return user


def data_manager_account(db_path: str | os.PathLike[str] | None, user_id: str) -> User:
    """The active Education Data Manager account `user_id` (for the command line's --as)."""
    from privacy.users import get_user

    user = get_user(resolve_db_path(db_path), (user_id or "").strip()) if user_id else None
    if user is None:
        raise NotDataManagerError(f"no active account {user_id!r}")
    return require_data_manager(user)


def now_utc(now: datetime | None = None) -> datetime:
    """`now` (or the current time) in UTC; naive times are refused."""
    at = now or datetime.now(UTC)
    if at.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return at.astimezone(UTC)


def clean_text(value: str | None, what: str, *, min_len: int = 1, max_len: int = MAX_TEXT) -> str:
    """`value` with whitespace collapsed; ValueError when shorter than `min_len` or too long."""
    text = " ".join((value or "").split())
    if len(text) < min_len:
        more = f" (at least {min_len} characters)" if min_len > 1 else ""
        raise ValueError(f"{what} is required{more}")
    if len(text) > max_len:
        raise ValueError(f"{what} is too long (at most {max_len} characters)")
    return text


_FIELD = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")


def check_field_names(fields: Iterable[str]) -> tuple[str, ...]:
    """Distinct "table.field" names, each checked against the data dictionary (ValueError)."""
    d = load_dictionary()
    out: list[str] = []
    for raw in fields:
        name = (raw or "").strip().lower()
        if not name:
            continue
        if not _FIELD.match(name):
            raise ValueError(f"field {raw!r}: write fields as table.field (e.g. students.gender)")
        table, field = name.split(".", 1)
        try:
            d.field(table, field)
        except KeyError:
            raise ValueError(f"unknown field {name!r}: it is not in the data dictionary") from None
        if name not in out:
            out.append(name)
    return tuple(out)


def open_disclosures(db_path: str | os.PathLike[str] | None) -> sqlite3.Connection:
    """The state database with the disclosure log and the audit trail in place."""
    return open_state(resolve_db_path(db_path), DISCLOSURES_DDL, AUDIT_DDL)


def check_disclosure(nature: str, legal_basis: str) -> None:
    """ValueError unless `nature` is known and may rest on `legal_basis`."""
    if nature not in NATURES:
        raise ValueError(f"unknown nature {nature!r}; use one of: {', '.join(NATURES)}")
    if legal_basis not in LEGAL_BASES:
        raise ValueError(
            f"unknown legal basis {legal_basis!r}; use one of: {', '.join(LEGAL_BASES)}"
        )
    if legal_basis not in NATURES[nature].bases:
        allowed = ", ".join(sorted(NATURES[nature].bases))
        raise ValueError(f"a {nature} disclosure rests on one of: {allowed}")


def append_disclosure(
    con: sqlite3.Connection,
    db_path: str | os.PathLike[str],
    *,
    nature: str,
    legal_basis: str,
    recipient: str,
    purpose: str,
    data_description: str,
    fields: Sequence[str],
    subject_ids: Sequence[str],
    approved_by: str,
    recorded_by: str,
    recipient_organization: str = "",
    reference: str = "",
    watermark: str | None = None,
    now: datetime | None = None,
) -> int:
    """Write one disclosure-log entry and its one audit entry inside the caller's open write
    transaction on `con`; return the disclosure ID.

    `subject_ids` are the state student or staff IDs whose data left MDOE (kept so each person's
    record of disclosures can be shown to them); `fields` the "table.field" names released.
    """
    check_disclosure(nature, legal_basis)
    at = now_utc(now)
    subjects = sorted(set(subject_ids))
    cur = con.execute(
        "INSERT INTO disclosures (at, nature, legal_basis, recipient, recipient_organization,"
        " purpose, data_description, fields, subject_count, approved_by, recorded_by, reference,"
        " watermark) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            at.isoformat(timespec="microseconds"),
            nature,
            legal_basis,
            recipient,
            recipient_organization,
            purpose,
            data_description,
            json.dumps(list(fields)),
            len(subjects),
            approved_by,
            recorded_by,
            reference,
            watermark,
        ),
    )
    disclosure_id = int(cur.lastrowid or 0)
    con.executemany(
        "INSERT INTO disclosure_subjects (disclosure_id, subject_id) VALUES (?, ?)",
        [(disclosure_id, s) for s in subjects],
    )
    append_event(
        con,
        db_path,
        recorded_by,
        f"disclosure.{nature}",
        {
            "disclosure_id": disclosure_id,
            "legal_basis": legal_basis,
            "recipient": recipient,
            "recipient_organization": recipient_organization,
            "reference": reference,
            "fields": list(fields),
            "subject_count": len(subjects),
            "approved_by": approved_by,
            "watermark": watermark,
        },
        now=at,
    )
    return disclosure_id


def record_disclosure(
    db_path: str | os.PathLike[str] | None,
    approver: User,
    *,
    nature: str,
    legal_basis: str,
    recipient: str,
    purpose: str,
    data_description: str,
    fields: Sequence[str],
    subject_ids: Sequence[str],
    recipient_organization: str = "",
    reference: str = "",
    now: datetime | None = None,
) -> Disclosure:
    """Record a disclosure made outside edudash (a subpoena, a health or safety emergency, an
    audit...), approved by the Education Data Manager `approver`. `subject_ids` must name
    students or staff in the warehouse; `fields` must be dictionary fields. Nothing is stored
    when anything is wrong."""
    db = resolve_db_path(db_path)
    require_data_manager(approver)
    if nature not in MANUAL_NATURES:
        raise ValueError(
            f"{nature!r} disclosures are recorded by their own workflow; record one of: "
            + ", ".join(MANUAL_NATURES)
        )
    check_disclosure(nature, legal_basis)
    who = clean_text(recipient, "the recipient", max_len=200)
    org = clean_text(recipient_organization, "the recipient's organization", min_len=0, max_len=200)
    why = clean_text(purpose, "the purpose", min_len=10)
    what = clean_text(data_description, "a description of the data", min_len=3)
    ref = clean_text(reference, "the reference", min_len=0, max_len=200)
    names = check_field_names(fields)
    if not names:
        raise ValueError("name the fields that were disclosed (table.field)")
    ids = sorted({s.strip() for s in subject_ids if s and s.strip()})
    if not ids:
        raise ValueError("name the students or staff whose data were disclosed")
    con = connect_readonly(db)
    try:
        unknown = extracts_sql.unknown_person_ids(con, ids)
    finally:
        con.close()
    if unknown:
        raise ValueError(f"no student or staff member with ID {', '.join(unknown[:5])}")
    state = open_disclosures(db)
    try:
        with write_transaction(state):
            disclosure_id = append_disclosure(
                state,
                db,
                nature=nature,
                legal_basis=legal_basis,
                recipient=who,
                recipient_organization=org,
                purpose=why,
                data_description=what,
                fields=names,
                subject_ids=ids,
                approved_by=approver.user_id,
                recorded_by=approver.user_id,
                reference=ref,
                now=now,
            )
    finally:
        state.close()
    return get_disclosure(db, approver, disclosure_id)


def _entry(row: sqlite3.Row) -> Disclosure:
    return Disclosure(
        disclosure_id=row["disclosure_id"],
        at=datetime.fromisoformat(row["at"]),
        nature=row["nature"],
        legal_basis=row["legal_basis"],
        recipient=row["recipient"],
        recipient_organization=row["recipient_organization"],
        purpose=row["purpose"],
        data_description=row["data_description"],
        fields=tuple(json.loads(row["fields"])),
        subject_count=row["subject_count"],
        approved_by=row["approved_by"],
        recorded_by=row["recorded_by"],
        reference=row["reference"],
        watermark=row["watermark"],
    )


def get_disclosure(
    db_path: str | os.PathLike[str] | None, viewer: User, disclosure_id: int
) -> Disclosure:
    """One entry of the log (Education Data Manager only); LookupError when there is none."""
    require_data_manager(viewer)
    con = open_disclosures(db_path)
    try:
        row = con.execute(
            "SELECT * FROM disclosures WHERE disclosure_id = ?", (int(disclosure_id),)
        ).fetchone()
    finally:
        con.close()
    if row is None:
        raise LookupError(f"no disclosure #{disclosure_id}")
    return _entry(row)


def list_disclosures(
    db_path: str | os.PathLike[str] | None,
    viewer: User,
    *,
    nature: str | None = None,
    legal_basis: str | None = None,
    recipient_contains: str | None = None,
    subject_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 10_000,
) -> list[Disclosure]:
    """The disclosure log, newest first, filtered (Education Data Manager only)."""
    require_data_manager(viewer)
    clauses: list[str] = []
    params: list[Any] = []
    if nature:
        if nature not in NATURES:
            raise ValueError(f"unknown nature {nature!r}; use one of: {', '.join(NATURES)}")
        clauses.append("nature = ?")
        params.append(nature)
    if legal_basis:
        if legal_basis not in LEGAL_BASES:
            raise ValueError(f"unknown legal basis {legal_basis!r}")
        clauses.append("legal_basis = ?")
        params.append(legal_basis)
    if recipient_contains:
        clauses.append("instr(lower(recipient || ' ' || recipient_organization), lower(?)) > 0")
        params.append(recipient_contains.strip())
    if subject_id:
        clauses.append(
            "disclosure_id IN (SELECT disclosure_id FROM disclosure_subjects WHERE subject_id = ?)"
        )
        params.append(subject_id.strip())
    if since:
        clauses.append("at >= ?")
        params.append(now_utc(since).isoformat(timespec="microseconds"))
    if until:
        clauses.append("at < ?")
        params.append(now_utc(until).isoformat(timespec="microseconds"))
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    con = open_disclosures(db_path)
    try:
        rows = con.execute(
            f"SELECT * FROM disclosures {where} ORDER BY disclosure_id DESC LIMIT ?",
            (*params, int(limit)),
        ).fetchall()
    finally:
        con.close()
    return [_entry(r) for r in rows]


def disclosures_about(db_path: str | os.PathLike[str] | None, subject_id: str) -> list[Disclosure]:
    """Every disclosure of one person's data, oldest first (for that person's own record copy:
    34 CFR 99.32(c) lets a parent or eligible student see the record of disclosures)."""
    con = open_disclosures(db_path)
    try:
        rows = con.execute(
            "SELECT d.* FROM disclosures d JOIN disclosure_subjects s USING (disclosure_id)"
            " WHERE s.subject_id = ? ORDER BY d.disclosure_id",
            (subject_id,),
        ).fetchall()
    finally:
        con.close()
    return [_entry(r) for r in rows]


def count_disclosures(db_path: str | os.PathLike[str] | None) -> int:
    """How many entries the log holds (for checks and tests)."""
    con = open_disclosures(db_path)
    try:
        return int(con.execute("SELECT count(*) FROM disclosures").fetchone()[0])
    finally:
        con.close()


def csv_safe(value: Any) -> str:
    """A cell value that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "@", "\t", "\r") or (
        text[:1] == "-" and not re.fullmatch(r"-\d+(\.\d+)?", text)
    ):
        return "'" + text
    return text


def disclosures_csv(entries: Iterable[Disclosure]) -> str:
    """The entries as CSV text (one row each, columns `CSV_COLUMNS`)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for e in entries:
        writer.writerow({k: csv_safe(v) for k, v in e.as_row().items()})
    return buf.getvalue()


def export_disclosures(
    db_path: str | os.PathLike[str] | None,
    viewer: User,
    out: str | os.PathLike[str] | None = None,
    *,
    now: datetime | None = None,
    **filters: Any,
) -> str:
    """The (filtered) log as CSV text, written to `out` when given; the export is audited."""
    entries = list_disclosures(db_path, viewer, **filters)
    text = disclosures_csv(entries)
    if out is not None:
        Path(out).write_text(text, encoding="utf-8")
    record_event(
        resolve_db_path(db_path),
        viewer.user_id,
        "disclosures.export",
        {"entries": len(entries), "filters": {k: str(v) for k, v in filters.items() if v}},
        now=now,
    )
    return text
