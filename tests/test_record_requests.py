"""Record requests end to end: a parent of a minor, an adult student, a staff member; identity
verification first; a printable page and a CSV; SSN left out unless chosen; one log entry each."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from privacy.disclosures import record_disclosure
from privacy.record_requests import (
    CORRECTIONS_NOTE,
    RecordRequestError,
    age_on,
    deny_record_request,
    produce_record_copy,
    submit_record_request,
    verify_identity,
)
from tests.access_helpers import query
from tests.disclosure_helpers import EDM_ID, cli, count, log_counts, open_page, setup_db

NOW = datetime(2026, 11, 1, 15, tzinfo=UTC)


@pytest.fixture
def env(built_db: Path, tmp_path: Path):
    return setup_db(built_db, tmp_path)


def _minor_with_ssn(db: Path) -> tuple[str, str, str, str]:
    """(ID, guardian, SSN, district name) of a student under 18 with an SSN on file."""
    sid, guardian, ssn = query(
        db,
        "SELECT state_student_id, guardian_name, ssn FROM students WHERE ssn IS NOT NULL"
        " AND birth_date > DATE '2012-01-01' AND state_student_id IN"
        " (SELECT state_student_id FROM enrollments) ORDER BY 1 LIMIT 1",
    )[0]
    (district,) = query(
        db,
        "SELECT d.district_name FROM enrollments e JOIN schools USING (school_id)"
        " JOIN districts d USING (district_id) WHERE e.state_student_id = ?"
        " ORDER BY e.school_year DESC LIMIT 1",
        [sid],
    )[0]
    return sid, guardian, ssn, district


def test_parent_gets_a_copy_after_verification(env, capsys, tmp_path: Path) -> None:
    db, _ = env
    sid, guardian, ssn, district = _minor_with_ssn(db)
    out, _ = cli(
        capsys,
        db,
        "record-requests",
        "submit",
        "--as",
        EDM_ID,
        "--requester",
        guardian,
        "--relationship",
        "parent_guardian",
        "--kind",
        "student",
        "--id",
        sid,
        "--contact",
        "12 Main St, Augusta ME",
    )
    assert "REC-1" in out
    out, _ = cli(capsys, db, "record-requests", "show", "1", "--as", EDM_ID)
    assert f"guardian on file: {guardian}" in out
    before = log_counts(db)
    _, err = cli(
        capsys,
        db,
        "record-requests",
        "produce",
        "1",
        "--as",
        EDM_ID,
        "--out",
        str(tmp_path / "copy"),
        ok=False,
    )
    assert "verify the requester's identity first" in err
    assert log_counts(db) == before
    cli(
        capsys,
        db,
        "record-requests",
        "verify",
        "1",
        "--as",
        EDM_ID,
        "--method",
        "photo_id_in_person",
        "--note",
        "Driver licence checked; name matches file",
    )
    before = log_counts(db)
    # an output that cannot be written fails before the copy is produced: a disclosure logged
    # for a copy never written could not be taken back (the log is append-only)
    (tmp_path / "afile").write_text("x")
    for bad, message in [
        (str(tmp_path / "afile"), "is a file: name a folder"),
        (str(tmp_path / "afile" / "sub"), "is a file, not a folder"),
        ("", "--out is empty"),
        ("   ", "--out is empty"),
    ]:
        _, err = cli(
            capsys, db, "record-requests", "produce", "1", "--as", EDM_ID, "--out", bad, ok=False
        )
        assert message in err and "\n" not in err.strip()
    assert log_counts(db) == before
    cli(
        capsys,
        db,
        "record-requests",
        "produce",
        "1",
        "--as",
        EDM_ID,
        "--out",
        str(tmp_path / "copy"),
    )
    assert log_counts(db) == (before[0] + 1, before[1] + 1)

    page = next((tmp_path / "copy").glob("*.html")).read_text()
    table = next((tmp_path / "copy").glob("*.csv")).read_text()
    for text in (page, table):
        assert sid in text and district in text
        assert ssn not in text
    assert "contact the originating district" in page and "<!DOCTYPE html>" in page
    assert "Social Security number and MaineCare ID are not included" in page
    rows = list(csv.DictReader(line for line in table.splitlines() if not line.startswith("#")))
    assert {r["section"] for r in rows} == {
        "students",
        "enrollments",
        "program_participation",
        "assessments",
    } | ({"graduation_cohorts"} & {r["section"] for r in rows})
    assert not any(r["field"] in ("ssn", "mainecare_id") for r in rows)
    gender = next(r for r in rows if r["field"] == "gender")
    assert gender["meaning"] in ("Female", "Male", "Non-binary / not listed")
    assert count(db, "disclosures", "WHERE legal_basis = 'parent_or_eligible_student'") == 1


def test_own_ssn_only_when_the_data_manager_chooses(env) -> None:
    db, edm = env
    sid, guardian, ssn, _ = _minor_with_ssn(db)
    req = submit_record_request(
        db,
        edm,
        requester_name=guardian,
        relationship="parent_guardian",
        subject_kind="student",
        subject_id=sid,
        contact="phone 555",
        now=NOW,
    )
    verify_identity(
        db,
        edm,
        req.request_id,
        method="notarized_request",
        note="Notarized letter received",
        now=NOW,
    )
    assert ssn not in produce_record_copy(db, edm, req.request_id, now=NOW).html
    with_ssn = produce_record_copy(db, edm, req.request_id, include_ssn=True, now=NOW)
    assert ssn in with_ssn.html and ssn in with_ssn.csv
    assert "students.ssn" in with_ssn.fields
    assert count(db, "disclosures") == 2


def test_parent_of_an_adult_student_is_refused(env) -> None:
    db, edm = env
    sid, born = query(
        db,
        "SELECT state_student_id, birth_date FROM students "
        "WHERE birth_date < DATE '2007-01-01' ORDER BY 1 LIMIT 1",
    )[0]
    assert age_on(born, NOW.date()) >= 18
    before = (count(db, "record_requests"), count(db, "audit_log"))
    with pytest.raises(PermissionError, match="the student must ask"):
        submit_record_request(
            db,
            edm,
            requester_name="A Parent",
            relationship="parent_guardian",
            subject_kind="student",
            subject_id=sid,
            contact="x@y.org",
            now=NOW,
        )
    assert (count(db, "record_requests"), count(db, "audit_log")) == before
    # The adult student may ask.
    req = submit_record_request(
        db,
        edm,
        requester_name="The Student",
        relationship="self",
        subject_kind="student",
        subject_id=sid,
        contact="x@y.org",
        now=NOW,
    )
    assert req.status == "received"


def test_age_boundary() -> None:
    assert age_on(date(2008, 11, 2), date(2026, 11, 1)) == 17
    assert age_on(date(2008, 11, 1), date(2026, 11, 1)) == 18


def test_staff_copy_leaves_out_ssn_and_names_the_district(env, capsys, tmp_path: Path) -> None:
    db, edm = env
    staff_id, ssn = query(
        db,
        "SELECT state_staff_id, ssn FROM staff WHERE state_staff_id IN "
        "(SELECT state_staff_id FROM staff_assignments) ORDER BY 1 LIMIT 1",
    )[0]
    with pytest.raises(ValueError, match="staff member only"):
        submit_record_request(
            db,
            edm,
            requester_name="Spouse",
            relationship="parent_guardian",
            subject_kind="staff",
            subject_id=staff_id,
            contact="x@y.org",
            now=NOW,
        )
    req = submit_record_request(
        db,
        edm,
        requester_name="Teacher",
        relationship="self",
        subject_kind="staff",
        subject_id=staff_id,
        contact="t@school.org",
        now=NOW,
    )
    verify_identity(
        db, edm, req.request_id, method="district_confirmed", note="HR confirmed identity", now=NOW
    )
    copy = produce_record_copy(db, edm, req.request_id, now=NOW)
    assert ssn not in copy.html and ssn not in copy.csv and "staff.ssn" not in copy.fields
    assert copy.districts and copy.districts[0][1] in copy.html
    assert count(db, "disclosures", "WHERE legal_basis = 'staff_own_record'") == 1


def test_part_of_a_record_and_escaped_html(env) -> None:
    db, edm = env
    sid, *_ = _minor_with_ssn(db)
    req = submit_record_request(
        db,
        edm,
        requester_name="<script>alert(1)</script>",
        relationship="self",
        subject_kind="student",
        subject_id=sid,
        contact="x@y.org",
        portion=["assessments"],
        now=NOW,
    )
    verify_identity(db, edm, req.request_id, method="other", note="Video call with ID", now=NOW)
    copy = produce_record_copy(db, edm, req.request_id, now=NOW)
    assert "<script>" not in copy.html and "&lt;script&gt;" in copy.html
    assert {f.split(".")[0] for f in copy.fields} == {"assessments"}
    assert CORRECTIONS_NOTE.split(".")[0] in copy.csv


def test_copy_lists_earlier_disclosures_of_the_record(env) -> None:
    db, edm = env
    sid, *_ = _minor_with_ssn(db)
    record_disclosure(
        db,
        edm,
        nature="subpoena",
        legal_basis="judicial_order",
        recipient="Kennebec County Superior Court",
        purpose="Subpoena in a custody case",
        data_description="enrollment history",
        fields=["enrollments.school_id"],
        subject_ids=[sid],
        reference="Docket CV-26-101",
    )
    req = submit_record_request(
        db,
        edm,
        requester_name="Student",
        relationship="self",
        subject_kind="student",
        subject_id=sid,
        contact="x@y.org",
        now=NOW,
    )
    verify_identity(db, edm, req.request_id, method="other", note="Checked in person", now=NOW)
    copy = produce_record_copy(db, edm, req.request_id, now=NOW)
    assert "Kennebec County Superior Court" in copy.html


@pytest.mark.parametrize(
    "change, error",
    [
        ({"subject_id": "0000000000"}, LookupError),
        ({"subject_id": "'; DROP TABLE students; --"}, ValueError),
        ({"relationship": "friend"}, ValueError),
        ({"subject_kind": "teacher"}, ValueError),
        ({"portion": ["staff"]}, ValueError),
        ({"requester_name": "  "}, ValueError),
    ],
)
def test_bad_record_requests_store_nothing(env, change, error) -> None:
    db, edm = env
    sid, *_ = _minor_with_ssn(db)
    args = dict(
        requester_name="Student",
        relationship="self",
        subject_kind="student",
        subject_id=sid,
        contact="x@y.org",
    )
    before = (count(db, "record_requests"), count(db, "audit_log"))
    with pytest.raises(error):
        submit_record_request(db, edm, **{**args, **change}, now=NOW)
    assert (count(db, "record_requests"), count(db, "audit_log")) == before


def test_denied_request_produces_nothing(env) -> None:
    db, edm = env
    sid, *_ = _minor_with_ssn(db)
    req = submit_record_request(
        db,
        edm,
        requester_name="Someone",
        relationship="self",
        subject_kind="student",
        subject_id=sid,
        contact="x@y.org",
        now=NOW,
    )
    deny_record_request(db, edm, req.request_id, reason="Could not verify identity", now=NOW)
    before = log_counts(db)
    with pytest.raises(RecordRequestError, match="denied"):
        produce_record_copy(db, edm, req.request_id, now=NOW)
    assert log_counts(db) == before


def test_page_verifies_and_produces(env, monkeypatch) -> None:
    db, edm = env
    sid, guardian, ssn, _ = _minor_with_ssn(db)
    submit_record_request(
        db,
        edm,
        requester_name=guardian,
        relationship="parent_guardian",
        subject_kind="student",
        subject_id=sid,
        contact="x@y.org",
        now=NOW,
    )
    at = open_page(monkeypatch, db, "record_requests", None)
    assert not at.exception and at.error
    at = open_page(monkeypatch, db, "record_requests")
    assert not at.exception and not at.error
    assert any(guardian in m.value for m in at.markdown)
    at.text_input(key="rec_note_1").input("Photo ID checked at the front desk")
    at.button(key="rec_verify_1").click().run()
    assert not at.exception and not at.error
    before = log_counts(db)
    at.button(key="rec_produce_1").click().run()
    assert not at.exception and not at.error
    assert log_counts(db) == (before[0] + 1, before[1] + 1)
