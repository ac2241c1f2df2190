"""Record requests: a student, a parent or guardian of a student under 18, or a staff member asks
for a copy of their own record.

The policy: "Upon the request of any individual (or the individual's parent/guardian if the
individual is under the age of eighteen) ... the Education Data Manager will provide a copy of
all or any portion in a comprehensible format"; "since the originating sources of the
information are local education agencies, parents/guardians should seek first to review and
amend the student's record through the originating local education agency"; and the same for
staff ("Requests for Data Access by a Staff Person").

The workflow: the Education Data Manager records the request (who asks, in what relationship,
about whom, which part of the record), then records how the requester's identity (and, for a
parent, the relationship) was verified, then produces the copy: a printable HTML page and a CSV,
with field descriptions and code labels, naming the originating district(s) where corrections
must be asked for, and listing the record of disclosures of the person's data (34 CFR 99.32(c)).

Rules: a parent or guardian may ask only while the student is under 18 on the day of the
request; a staff record is asked for by the staff member only; the person must exist. SSN and
MaineCare ID are left out of every copy by default: Maine law restricts releasing SSNs, and a
copy can be lost or mailed to the wrong address. The Education Data Manager may choose to include
the person's OWN identifiers (`include_ssn=True`) when the person asks for them; nobody else's
are ever in a copy. Producing a copy writes one disclosure-log entry and one audit entry.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from privacy.access import User
from privacy.audit_log import AUDIT_DDL, append_event
from privacy.disclosures import (
    DISCLOSURES_DDL,
    Disclosure,
    append_disclosure,
    clean_text,
    csv_safe,
    disclosures_about,
    now_utc,
    require_data_manager,
)
from privacy.state import open_state, write_transaction
from warehouse import extracts_sql
from warehouse.connection import connect_readonly, resolve_db_path
from warehouse.dictionary import load_dictionary

RECORD_REQUESTS_DDL = """
CREATE TABLE IF NOT EXISTS record_requests (
    request_id          INTEGER PRIMARY KEY,
    submitted_at        TEXT NOT NULL,
    recorded_by         TEXT NOT NULL,
    requester_name      TEXT NOT NULL,
    relationship        TEXT NOT NULL CHECK (relationship IN ('self', 'parent_guardian')),
    subject_kind        TEXT NOT NULL CHECK (subject_kind IN ('student', 'staff')),
    subject_id          TEXT NOT NULL,
    contact             TEXT NOT NULL,
    portion             TEXT NOT NULL,
    status              TEXT NOT NULL
        CHECK (status IN ('received', 'verified', 'produced', 'denied')),
    verified_by         TEXT,
    verified_at         TEXT,
    verification_method TEXT,
    verification_note   TEXT,
    denied_reason       TEXT,
    copies              INTEGER NOT NULL DEFAULT 0
);
"""

ADULT_AGE = 18
SENSITIVE_IDS = frozenset({"students.ssn", "students.mainecare_id", "staff.ssn"})
VERIFICATION_METHODS: dict[str, str] = {
    "photo_id_in_person": "Government photo ID checked in person",
    "notarized_request": "Notarized written request",
    "district_confirmed": "Identity and relationship confirmed by the originating district",
    "other": "Other (described in the note)",
}
RELATIONSHIPS: dict[str, str] = {
    "self": "The person the record is about",
    "parent_guardian": "Parent or guardian of a student under 18",
}
CORRECTIONS_NOTE = (
    "MDOE receives these data from the school district(s) named below. To review or correct "
    "anything in this record, contact the originating district first; MDOE will make other "
    "arrangements for review when needed."
)


class RecordRequestError(ValueError):
    """The request is not in a state that allows this step."""


@dataclass(frozen=True)
class RecordRequest:
    """A request for a copy of one's own (or one's minor child's) record."""

    request_id: int
    submitted_at: datetime
    recorded_by: str
    requester_name: str
    relationship: str
    subject_kind: str
    subject_id: str
    contact: str
    portion: tuple[str, ...]
    status: str
    verified_by: str | None
    verification_method: str | None
    verification_note: str | None
    denied_reason: str | None
    copies: int

    @property
    def label(self) -> str:
        return f"REC-{self.request_id}"


@dataclass(frozen=True)
class RecordCopy:
    """A produced copy: printable HTML and CSV text, and what they hold."""

    request_id: int
    subject_id: str
    html: str
    csv: str
    fields: tuple[str, ...]
    districts: tuple[tuple[str, str], ...]
    disclosure_id: int


def open_record_requests(db_path: str | os.PathLike[str] | None) -> sqlite3.Connection:
    """The state database with record-request, disclosure and audit tables in place."""
    return open_state(resolve_db_path(db_path), RECORD_REQUESTS_DDL, DISCLOSURES_DDL, AUDIT_DDL)


def _row(row: sqlite3.Row) -> RecordRequest:
    return RecordRequest(
        request_id=row["request_id"],
        submitted_at=datetime.fromisoformat(row["submitted_at"]),
        recorded_by=row["recorded_by"],
        requester_name=row["requester_name"],
        relationship=row["relationship"],
        subject_kind=row["subject_kind"],
        subject_id=row["subject_id"],
        contact=row["contact"],
        portion=tuple(json.loads(row["portion"])),
        status=row["status"],
        verified_by=row["verified_by"],
        verification_method=row["verification_method"],
        verification_note=row["verification_note"],
        denied_reason=row["denied_reason"],
        copies=row["copies"],
    )


def _load(con: sqlite3.Connection, request_id: int) -> RecordRequest:
    row = con.execute(
        "SELECT * FROM record_requests WHERE request_id = ?", (int(request_id),)
    ).fetchone()
    if row is None:
        raise LookupError(f"no record request #{request_id}")
    return _row(row)


def age_on(birth: date, day: date) -> int:
    """Completed years of age on `day`."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _check_portion(kind: str, portion: Sequence[str]) -> tuple[str, ...]:
    tables = extracts_sql.PERSON_TABLES[kind]
    chosen = tuple(dict.fromkeys(p.strip().lower() for p in portion if p and p.strip()))
    unknown = [t for t in chosen if t not in tables]
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: a {kind} record has the parts {', '.join(tables)}")
    return chosen


def submit_record_request(
    db_path: str | os.PathLike[str] | None,
    edm: User,
    *,
    requester_name: str,
    relationship: str,
    subject_kind: str,
    subject_id: str,
    contact: str,
    portion: Sequence[str] = (),
    now: datetime | None = None,
) -> RecordRequest:
    """Record a request for a copy of a record, received by the Education Data Manager.

    `relationship` is "self" or "parent_guardian" (students under 18 on the day of the request
    only); `subject_kind` "student" or "staff" (staff ask for themselves only); `portion` the
    parts (tables) wanted, empty for the whole record. Invalid requests store nothing."""
    db = resolve_db_path(db_path)
    require_data_manager(edm)
    at = now_utc(now)
    name = clean_text(requester_name, "the requester's name", max_len=200)
    reach = clean_text(contact, "how to reach the requester", min_len=3, max_len=300)
    if relationship not in RELATIONSHIPS:
        raise ValueError(f"relationship must be one of: {', '.join(RELATIONSHIPS)}")
    if subject_kind not in extracts_sql.PERSON_TABLES:
        raise ValueError("the record must be a student or a staff record")
    if subject_kind == "staff" and relationship != "self":
        raise ValueError("a staff record is given to the staff member only")
    sid = (subject_id or "").strip()
    if not sid or len(sid) > 20 or not sid.isalnum():
        raise ValueError(f"{subject_id!r} is not a state ID")
    parts = _check_portion(subject_kind, portion)
    con = connect_readonly(db)
    try:
        person = extracts_sql.person_summary(con, subject_kind, sid)  # type: ignore[arg-type]
    finally:
        con.close()
    if person is None:
        raise LookupError(f"no {subject_kind} with state ID {sid}")
    if relationship == "parent_guardian":
        age = age_on(person["birth_date"], at.date())
        if age >= ADULT_AGE:
            raise PermissionError(
                f"the student is {age}: a parent or guardian may ask only for the record of a "
                "student under 18; the student must ask"
            )
    state = open_record_requests(db)
    try:
        with write_transaction(state):
            cur = state.execute(
                "INSERT INTO record_requests (submitted_at, recorded_by, requester_name,"
                " relationship, subject_kind, subject_id, contact, portion, status)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'received')",
                (
                    at.isoformat(),
                    edm.user_id,
                    name,
                    relationship,
                    subject_kind,
                    sid,
                    reach,
                    json.dumps(list(parts)),
                ),
            )
            request_id = int(cur.lastrowid or 0)
            append_event(
                state,
                db,
                edm.user_id,
                "record_request.submit",
                {
                    "request_id": request_id,
                    "relationship": relationship,
                    "subject_kind": subject_kind,
                    "student_id" if subject_kind == "student" else "staff_id": sid,
                },
                now=at,
            )
            return _load(state, request_id)
    finally:
        state.close()


def get_record_request(
    db_path: str | os.PathLike[str] | None, viewer: User, request_id: int
) -> RecordRequest:
    """One record request (Education Data Manager only)."""
    require_data_manager(viewer)
    con = open_record_requests(db_path)
    try:
        return _load(con, request_id)
    finally:
        con.close()


def list_record_requests(
    db_path: str | os.PathLike[str] | None, viewer: User, *, status: str | None = None
) -> list[RecordRequest]:
    """Record requests, newest first (Education Data Manager only)."""
    require_data_manager(viewer)
    con = open_record_requests(db_path)
    try:
        rows = con.execute(
            "SELECT * FROM record_requests WHERE (? IS NULL OR status = ?)"
            " ORDER BY request_id DESC",
            (status, status),
        ).fetchall()
    finally:
        con.close()
    return [_row(r) for r in rows]


def guardian_on_file(
    db_path: str | os.PathLike[str] | None, viewer: User, request_id: int
) -> str | None:
    """The parent/guardian name the district reported for the student of a request, to compare
    with the requester while verifying identity (Education Data Manager only)."""
    req = get_record_request(db_path, viewer, request_id)
    if req.subject_kind != "student":
        return None
    con = connect_readonly(resolve_db_path(db_path))
    try:
        person = extracts_sql.person_summary(con, "student", req.subject_id)
    finally:
        con.close()
    return person["guardian_name"] if person else None


def verify_identity(
    db_path: str | os.PathLike[str] | None,
    edm: User,
    request_id: int,
    *,
    method: str,
    note: str,
    now: datetime | None = None,
) -> RecordRequest:
    """Record how the requester's identity (and a parent's relationship) was verified."""
    db = resolve_db_path(db_path)
    require_data_manager(edm)
    at = now_utc(now)
    if method not in VERIFICATION_METHODS:
        raise ValueError(f"verification method must be one of: {', '.join(VERIFICATION_METHODS)}")
    text = clean_text(note, "a note on the verification", min_len=5)
    state = open_record_requests(db)
    try:
        with write_transaction(state):
            req = _load(state, request_id)
            if req.status != "received":
                raise RecordRequestError(f"{req.label} is {req.status}; it cannot be verified")
            state.execute(
                "UPDATE record_requests SET status = 'verified', verified_by = ?, verified_at = ?,"
                " verification_method = ?, verification_note = ? WHERE request_id = ?",
                (edm.user_id, at.isoformat(), method, text, req.request_id),
            )
            append_event(
                state,
                db,
                edm.user_id,
                "record_request.verify",
                {"request_id": req.request_id, "method": method},
                now=at,
            )
            return _load(state, request_id)
    finally:
        state.close()


def deny_record_request(
    db_path: str | os.PathLike[str] | None,
    edm: User,
    request_id: int,
    *,
    reason: str,
    now: datetime | None = None,
) -> RecordRequest:
    """Deny a request that was not yet answered (e.g. identity could not be verified)."""
    db = resolve_db_path(db_path)
    require_data_manager(edm)
    at = now_utc(now)
    why = clean_text(reason, "the reason", min_len=10)
    state = open_record_requests(db)
    try:
        with write_transaction(state):
            req = _load(state, request_id)
            if req.status not in ("received", "verified"):
                raise RecordRequestError(f"{req.label} is {req.status}; it cannot be denied")
            state.execute(
                "UPDATE record_requests SET status = 'denied', denied_reason = ?"
                " WHERE request_id = ?",
                (why, req.request_id),
            )
            append_event(
                state,
                db,
                edm.user_id,
                "record_request.deny",
                {"request_id": req.request_id, "reason": why},
                now=at,
            )
            return _load(state, request_id)
    finally:
        state.close()


def _display(value: Any, code_labels: dict[str, str] | None) -> tuple[str, str]:
    """(value as written, its meaning) for one cell."""
    if value is None:
        return "", "not reported"
    if isinstance(value, bool):
        return ("true", "Yes") if value else ("false", "No")
    text = value.isoformat() if isinstance(value, date) else str(value)
    return text, (code_labels or {}).get(text, "")


def _sections(
    con: Any, kind: str, person_id: str, tables: Sequence[str], include_ssn: bool
) -> tuple[list[tuple[str, str, list[dict[str, Any]]]], list[str]]:
    d = load_dictionary()
    sections = []
    shown: list[str] = []
    for table in tables:
        spec = d.table(table)
        fields = [f for f in spec.fields if include_ssn or f"{table}.{f.name}" not in SENSITIVE_IDS]
        rows = extracts_sql.person_rows(con, kind, table, person_id, [f.name for f in fields])  # type: ignore[arg-type]
        cells = []
        for i, row in enumerate(rows, start=1):
            for f in fields:
                labels = d.code_sets[f.code_set].labels() if f.code_set else None
                value, meaning = _display(row[f.name], labels)
                cells.append(
                    {
                        "section": table,
                        "row": i,
                        "field": f.name,
                        "description": f.description,
                        "value": value,
                        "meaning": meaning,
                    }
                )
        sections.append((table, spec.description, cells))
        shown += [f"{table}.{f.name}" for f in fields]
    return sections, shown


def _render_csv(
    req: RecordRequest,
    sections: Sequence[tuple[str, str, list[dict[str, Any]]]],
    districts: Sequence[tuple[str, str]],
    produced: datetime,
) -> str:
    buf = io.StringIO()
    buf.write(
        f"# Copy of the MDOE {req.subject_kind} record {req.subject_id}, request "
        f"{req.label}, produced {produced.date()}\n"
    )
    where = "; ".join(f"{n} ({i})" for i, n in districts) or "none on file"
    buf.write(f"# {CORRECTIONS_NOTE} Originating district(s): {where}\n")
    writer = csv.DictWriter(
        buf,
        fieldnames=("section", "row", "field", "description", "value", "meaning"),
        lineterminator="\n",
    )
    writer.writeheader()
    for _, _, cells in sections:
        for cell in cells:
            writer.writerow({k: csv_safe(v) for k, v in cell.items()})
    return buf.getvalue()


def _render_html(
    req: RecordRequest,
    person: dict[str, Any],
    sections: Sequence[tuple[str, str, list[dict[str, Any]]]],
    districts: Sequence[tuple[str, str]],
    disclosures: Sequence[Disclosure],
    produced: datetime,
    include_ssn: bool,
) -> str:
    e = html.escape
    name = f"{person['first_name']} {person['last_name']}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>MDOE record copy {e(req.label)}</title>",
        "<style>body{font-family:Georgia,serif;margin:2em;max-width:60em}"
        "table{border-collapse:collapse;width:100%;margin-bottom:1.5em}"
        "th,td{border:1px solid #555;padding:.25em .5em;text-align:left;vertical-align:top}"
        ".note{border:2px solid #000;padding:.5em 1em}"
        "@media print{.note{page-break-inside:avoid}}</style></head><body>",
        f"<h1>Copy of the {e(req.subject_kind)} record of {e(name)}</h1>",
        f"<p>State {e(req.subject_kind)} ID <strong>{e(req.subject_id)}</strong>. Request "
        f"{e(req.label)} by {e(req.requester_name)} "
        f"({e(RELATIONSHIPS[req.relationship].lower())}); produced {e(str(produced.date()))} "
        "by the Maine Department of Education, Education Data Manager.</p>",
        f'<div class="note"><p><strong>Corrections.</strong> {e(CORRECTIONS_NOTE)}</p><ul>',
    ]
    parts += [f"<li>{e(n)} (district {e(i)})</li>" for i, n in districts] or [
        "<li>No originating district on file.</li>"
    ]
    parts.append("</ul>")
    if not include_ssn:
        parts.append(
            "<p>Social Security number and MaineCare ID are not included in this copy.</p>"
        )
    parts.append("</div>")
    for table, description, cells in sections:
        parts.append(f"<h2>{e(table.replace('_', ' ').capitalize())}</h2><p>{e(description)}</p>")
        if not cells:
            parts.append("<p>No records.</p>")
            continue
        parts.append(
            "<table><thead><tr><th>#</th><th>Field</th><th>Value</th><th>Meaning</th></tr>"
            "</thead><tbody>"
        )
        for c in cells:
            parts.append(
                f"<tr><td>{c['row']}</td><td>{e(c['description'])}</td>"
                f"<td>{e(c['value'])}</td><td>{e(c['meaning'])}</td></tr>"
            )
        parts.append("</tbody></table>")
    parts.append("<h2>Record of disclosures</h2>")
    if disclosures:
        parts.append(
            "<table><thead><tr><th>Date</th><th>To</th><th>Purpose</th><th>Legal basis</th>"
            "</tr></thead><tbody>"
        )
        for d in disclosures:
            to = d.recipient + (
                f" ({d.recipient_organization})" if d.recipient_organization else ""
            )
            parts.append(
                f"<tr><td>{e(str(d.at.date()))}</td><td>{e(to)}</td><td>{e(d.purpose)}</td>"
                f"<td>{e(d.legal_basis)}</td></tr>"
            )
        parts.append("</tbody></table>")
    else:
        parts.append("<p>No earlier disclosures of this record are on file.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def produce_record_copy(
    db_path: str | os.PathLike[str] | None,
    edm: User,
    request_id: int,
    *,
    tables: Sequence[str] | None = None,
    include_ssn: bool = False,
    now: datetime | None = None,
) -> RecordCopy:
    """Produce the copy of a verified request: all of the record, or the parts in `tables`
    (default: the parts asked for). `include_ssn` adds the person's OWN SSN and MaineCare ID
    (left out by default). Writes one disclosure-log entry and one audit entry."""
    db = resolve_db_path(db_path)
    require_data_manager(edm)
    at = now_utc(now)
    req = get_record_request(db, edm, request_id)
    if req.status not in ("verified", "produced"):
        raise RecordRequestError(
            f"{req.label} is {req.status}: verify the requester's identity first"
            if req.status == "received"
            else f"{req.label} is {req.status}: no copy can be produced"
        )
    kind = req.subject_kind
    chosen = _check_portion(kind, tables or ()) or req.portion or extracts_sql.PERSON_TABLES[kind]
    con = connect_readonly(db)
    try:
        person = extracts_sql.person_summary(con, kind, req.subject_id)  # type: ignore[arg-type]
        if person is None:
            raise LookupError(f"{req.subject_id} is no longer in the warehouse")
        sections, shown = _sections(con, kind, req.subject_id, chosen, include_ssn)
        districts = extracts_sql.originating_districts(con, kind, req.subject_id)  # type: ignore[arg-type]
    finally:
        con.close()
    earlier = disclosures_about(db, req.subject_id)
    text_csv = _render_csv(req, sections, districts, at)
    text_html = _render_html(req, person, sections, districts, earlier, at, include_ssn)
    student = kind == "student"
    state = open_record_requests(db)
    try:
        with write_transaction(state):
            current = _load(state, request_id)
            if current.status not in ("verified", "produced"):
                raise RecordRequestError(f"{req.label} is {current.status}")
            disclosure_id = append_disclosure(
                state,
                db,
                nature="record_copy",
                legal_basis="parent_or_eligible_student" if student else "staff_own_record",
                recipient=req.requester_name,
                recipient_organization="",
                purpose=(
                    "Access to one's own education record (34 CFR 99.10, 99.20)"
                    if student
                    else "A staff member's access to their own record"
                ),
                data_description=(
                    f"copy of {kind} record {req.subject_id} ({', '.join(chosen)}) as HTML and "
                    f"CSV; requester: {RELATIONSHIPS[req.relationship].lower()}"
                    + ("; includes own SSN/MaineCare ID" if include_ssn else "")
                ),
                fields=shown,
                subject_ids=[req.subject_id],
                approved_by=req.verified_by or edm.user_id,
                recorded_by=edm.user_id,
                reference=f"record_request:{req.request_id}",
                now=at,
            )
            state.execute(
                "UPDATE record_requests SET status = 'produced', copies = copies + 1"
                " WHERE request_id = ?",
                (req.request_id,),
            )
    finally:
        state.close()
    return RecordCopy(
        req.request_id,
        req.subject_id,
        text_html,
        text_csv,
        tuple(shown),
        tuple(districts),
        disclosure_id,
    )
