"""Research requests end to end: request -> decision -> MOA -> watermarked extract -> destruction,
with the five-year bar, overdue loans and every bad input refused with nothing stored."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from privacy.disclosures import list_disclosures
from privacy.research import (
    BarredPartyError,
    ResearchStateError,
    add_years,
    approve_research_request,
    certify_destruction,
    deny_research_request,
    find_watermark,
    loans_due,
    make_extract,
    record_improper_disclosure,
    record_moa,
    record_report_copy,
    reports_of,
    submit_research_request,
)
from privacy.users import Operator, create_user
from tests.access_helpers import FAST, query
from tests.disclosure_helpers import EDM_ID, cli, count, log_counts, open_page, setup_db

T0 = datetime(2026, 9, 1, 12, tzinfo=UTC)
END = date(2027, 6, 30)

REQUEST = dict(
    researcher="Ann Lee",
    researcher_email="ann.lee@usm.example.edu",
    organization="University of Southern Maine",
    study_for="Maine Department of Education, Office of Research",
    purpose="How grade 8 mathematics results relate to graduation four years later",
    security_plan="Encrypted laptop, two named analysts, locked office, no cloud storage",
    fields=["students.gender", "assessments.scale_score", "assessments.subject"],
    end_date=END,
)


@pytest.fixture
def env(built_db: Path, tmp_path: Path):
    return setup_db(built_db, tmp_path)


def _approved_loan(db: Path, edm, **overrides) -> int:
    req = submit_research_request(db, edm, **{**REQUEST, **overrides}, now=T0)
    approve_research_request(db, edm, req.request_id, reasons="Meets 34 CFR 99.31(a)(6)", now=T0)
    record_moa(
        db,
        edm,
        req.request_id,
        signed_by="Ann Lee",
        signed_on="2026-08-30",
        document="MOA #7",
        now=T0,
    )
    return req.request_id


def _read_extract(path: Path) -> tuple[str, list[dict[str, str]]]:
    lines = path.read_text().splitlines()
    return lines[0], list(csv.DictReader(lines[1:]))


def test_full_loan_through_the_commands(env, capsys, tmp_path: Path) -> None:
    db, _ = env
    out, _ = cli(
        capsys,
        db,
        "research",
        "submit",
        "--as",
        EDM_ID,
        "--researcher",
        "Ann Lee",
        "--email",
        "ann.lee@usm.example.edu",
        "--organization",
        "University of Southern Maine",
        "--study-for",
        "Maine Department of Education",
        "--purpose",
        "How grade 8 mathematics results relate to graduation",
        "--security",
        "Encrypted laptop, two named analysts, no cloud storage",
        "--field",
        "students.gender,assessments.scale_score",
        "--field",
        "graduation_cohorts.outcome",
        "--year",
        "2024-25",
        "--end-date",
        (date.today() + timedelta(days=200)).isoformat(),
    )
    assert "RR-1 (submitted)" in out
    out, _ = cli(
        capsys,
        db,
        "research",
        "approve",
        "1",
        "--as",
        EDM_ID,
        "--reasons",
        "Study of graduation for MDOE; narrowed to two fields",
        "--field",
        "assessments.scale_score",
        "--field",
        "graduation_cohorts.outcome",
    )
    assert "record the signed MOA" in out
    cli(
        capsys,
        db,
        "research",
        "moa",
        "1",
        "--as",
        EDM_ID,
        "--signed-by",
        "Ann Lee",
        "--signed-on",
        date.today().isoformat(),
        "--document",
        "MOA scan, EDM files #12",
    )
    before = log_counts(db)
    for blank in ("", "   "):  # no extract into the current folder, or a folder named by spaces
        _, err = cli(
            capsys, db, "research", "extract", "1", "--as", EDM_ID, "--out", blank, ok=False
        )
        assert "--out is empty: name a folder to write" in err
    assert log_counts(db) == before
    folder = tmp_path / "extract"
    out, _ = cli(capsys, db, "research", "extract", "1", "--as", EDM_ID, "--out", str(folder))
    assert log_counts(db) == (before[0] + 1, before[1] + 1)

    manifest = json.loads((folder / "manifest.json").read_text())
    watermark = manifest["watermark"]
    assert watermark in out
    assert sorted(p.name for p in folder.glob("*.csv")) == [
        "assessments.csv",
        "graduation_cohorts.csv",
    ]
    header, rows = _read_extract(folder / "assessments.csv")
    assert header.startswith("# MDOE research extract RR-1") and watermark in header
    assert list(rows[0]) == ["state_student_id", "scale_score", "extract_watermark"]
    assert {r["extract_watermark"] for r in rows} == {watermark}
    truth = query(
        db,
        "SELECT state_student_id, subject, scale_score FROM assessments"
        " WHERE school_year = '2024-25'",
    )
    assert len(rows) == len(truth)
    assert {r["state_student_id"] for r in rows} == {sid for sid, _, _ in truth}
    assert sorted(int(r["scale_score"]) for r in rows) == sorted(int(v) for _, _, v in truth)
    # Nothing that was not approved: no names, no SSN, no gender (requested, not approved).
    text = "".join(p.read_text() for p in folder.glob("*.csv"))
    ssns = [s for (s,) in query(db, "SELECT ssn FROM students WHERE ssn IS NOT NULL LIMIT 50")]
    assert ssns and not any(s in text for s in ssns)
    assert "gender" not in text

    entry = list_disclosures(db, env[1])[0]
    assert entry.nature == "research_extract" and entry.legal_basis == "studies"
    assert entry.watermark == watermark and entry.approved_by == EDM_ID
    assert entry.fields == ("assessments.scale_score", "graduation_cohorts.outcome")
    assert entry.subject_count == len(
        {r["state_student_id"] for r in rows}
        | {r["state_student_id"] for r in _read_extract(folder / "graduation_cohorts.csv")[1]}
    )
    assert find_watermark(db, env[1], watermark) == 1

    out, _ = cli(capsys, db, "research", "show", "1", "--as", EDM_ID)
    assert watermark in out and "MOA signed by Ann Lee" in out
    cli(
        capsys,
        db,
        "research",
        "report",
        "1",
        "--as",
        EDM_ID,
        "--title",
        "Grade 8 math study",
        "--received-on",
        date.today().isoformat(),
        "--document",
        "reports/usm-2027.pdf",
    )
    cli(
        capsys,
        db,
        "research",
        "destroyed",
        "1",
        "--as",
        EDM_ID,
        "--certified-by",
        "Ann Lee",
        "--certified-on",
        date.today().isoformat(),
        "--method",
        "Secure erase of laptop disk",
    )
    out, _ = cli(capsys, db, "research", "list", "--as", EDM_ID)
    assert "closed" in out


@pytest.mark.parametrize(
    "change, message",
    [
        ({"fields": ["students.nickname"]}, "unknown field"),
        ({"fields": ["students.ssn", "students.gender"]}, "students.ssn cannot be released"),
        ({"fields": ["students.mainecare_id"]}, "cannot be released"),
        ({"fields": ["staff.first_name"]}, "student record tables only"),
        ({"fields": ["students gender"]}, "table.field"),
        ({"fields": []}, "name the data requested"),
        ({"end_date": date(2026, 8, 31)}, "not in the future"),
        ({"end_date": date(2026, 9, 1)}, "not in the future"),
        ({"end_date": date(2032, 1, 1)}, "at most 5 years"),
        ({"researcher_email": "not-an-email"}, "not an e-mail"),
        ({"purpose": "research"}, "purpose"),
        ({"school_years": ["1999-00"]}, "unknown school year"),
    ],
)
def test_bad_requests_store_nothing(env, change, message) -> None:
    db, edm = env
    before = (count(db, "research_requests"), count(db, "audit_log"))
    with pytest.raises(ValueError, match=message):
        submit_research_request(db, edm, **{**REQUEST, **change}, now=T0)
    assert (count(db, "research_requests"), count(db, "audit_log")) == before


def test_ssn_request_through_the_command_is_refused(env, capsys) -> None:
    db, _ = env
    _, err = cli(
        capsys,
        db,
        "research",
        "submit",
        "--as",
        EDM_ID,
        "--researcher",
        "X Y",
        "--email",
        "x@y.org",
        "--organization",
        "Org",
        "--study-for",
        "MDOE",
        "--purpose",
        "A purpose long enough to pass",
        "--security",
        "A plan long enough to pass",
        "--field",
        "students.ssn",
        "--end-date",
        "2099-01-01",
        ok=False,
    )
    assert "students.ssn cannot be released" in err
    assert count(db, "research_requests") == 0


def test_extract_needs_an_moa_and_an_approval(env, tmp_path: Path) -> None:
    db, edm = env
    req = submit_research_request(db, edm, **REQUEST, now=T0)
    before = log_counts(db)
    with pytest.raises(ResearchStateError, match="not approved"):
        make_extract(db, edm, req.request_id, tmp_path / "x1", now=T0)
    approve_research_request(db, edm, req.request_id, reasons="Meets the conditions", now=T0)
    with pytest.raises(ResearchStateError, match="Memorandum of Agreement"):
        make_extract(db, edm, req.request_id, tmp_path / "x2", now=T0)
    assert log_counts(db) == (before[0], before[1] + 1)  # only the approval was audited
    assert not (tmp_path / "x1").exists() and not (tmp_path / "x2").exists()
    assert not list(tmp_path.glob(".x*"))


def test_denied_request_never_yields_an_extract(env, capsys, tmp_path: Path) -> None:
    db, edm = env
    req = submit_research_request(db, edm, **REQUEST, now=T0)
    deny_research_request(db, edm, req.request_id, reasons="Not an educational purpose", now=T0)
    with pytest.raises(ResearchStateError):
        approve_research_request(db, edm, req.request_id, reasons="changed my mind", now=T0)
    with pytest.raises(ResearchStateError):
        record_moa(
            db, edm, req.request_id, signed_by="A", signed_on="2026-08-01", document="MOA", now=T0
        )
    before = log_counts(db)
    _, err = cli(
        capsys,
        db,
        "research",
        "extract",
        str(req.request_id),
        "--as",
        EDM_ID,
        "--out",
        str(tmp_path / "x"),
        ok=False,
    )
    assert "was denied" in err
    assert log_counts(db) == before and not (tmp_path / "x").exists()


def test_barred_party_is_refused_until_the_date_and_allowed_after(env) -> None:
    db, edm = env
    found = date(2026, 9, 1)
    bar = record_improper_disclosure(
        db,
        edm,
        organization="Acme Analytics, Inc.",
        person_email="leaker@acme.example",
        finding="Posted an extract with student IDs on a public website",
        found_on=found,
        now=T0,
    )
    assert bar.barred_until == date(2031, 9, 1)
    for when, org, email in [
        (T0 + timedelta(days=1), "ACME analytics inc", "someone@else.example"),
        (T0 + timedelta(days=400), "Other Org", "LEAKER@acme.example"),
        (datetime(2031, 8, 31, 23, tzinfo=UTC), "Acme Analytics Inc.", "a@b.example"),
    ]:
        with pytest.raises(
            BarredPartyError, match="barred from MDOE student data until 2031-09-01"
        ):
            submit_research_request(
                db,
                edm,
                **{
                    **REQUEST,
                    "organization": org,
                    "researcher_email": email,
                    "end_date": when.date() + timedelta(days=100),
                },
                now=when,
            )
    # The refusals are documented, never approvable.
    assert count(db, "research_requests", "WHERE status = 'refused'") == 3
    assert count(db, "audit_log", "WHERE action = 'research.refused'") == 3
    after = datetime(2031, 9, 1, 9, tzinfo=UTC)
    req = submit_research_request(
        db,
        edm,
        **{**REQUEST, "organization": "Acme Analytics, Inc.", "end_date": date(2032, 6, 30)},
        now=after,
    )
    assert req.status == "submitted"


def test_bar_stops_an_approved_loan_and_a_maine_official_is_not_barred(env, tmp_path) -> None:
    db, edm = env
    rid = _approved_loan(db, edm)
    official = record_improper_disclosure(
        db,
        edm,
        organization="Maine DOE Office of Research",
        finding="Emailed a file to the wrong colleague inside MDOE",
        maine_official=True,
        now=T0,
    )
    assert official.barred_until is None
    record_improper_disclosure(
        db,
        edm,
        request_id=rid,
        finding="Shared the extract with an unapproved vendor",
        now=T0 + timedelta(days=1),
    )
    before = log_counts(db)
    with pytest.raises(BarredPartyError):
        make_extract(db, edm, rid, tmp_path / "x", now=T0 + timedelta(days=2))
    assert log_counts(db) == before


def test_overdue_loan_is_flagged_reminded_and_closed_by_certification(
    env, capsys, tmp_path: Path
) -> None:
    db, edm = env
    rid = _approved_loan(db, edm)
    make_extract(db, edm, rid, tmp_path / "x", now=T0)
    assert [
        r.request_id for r in loans_due(db, edm, within_days=30, today=END - timedelta(10))
    ] == [rid]
    assert loans_due(db, edm, within_days=5, today=END - timedelta(10)) == []
    late = loans_due(db, edm, within_days=0, today=END + timedelta(days=3))
    assert len(late) == 1 and late[0].overdue and late[0].days_left == -3
    out, _ = cli(
        capsys,
        db,
        "research",
        "reminders",
        "--as",
        EDM_ID,
        "--as-of",
        (END + timedelta(days=3)).isoformat(),
    )
    assert "OVERDUE by 3 days" in out and "ann.lee@usm.example.edu" in out
    assert count(db, "audit_log", "WHERE action = 'research.reminders'") == 1
    with pytest.raises(ResearchStateError, match="ended"):
        make_extract(db, edm, rid, tmp_path / "y", now=datetime(2027, 7, 2, tzinfo=UTC))
    record_report_copy(
        db,
        edm,
        rid,
        title="Final report",
        received_on="2027-07-01",
        document="reports/final.pdf",
        now=datetime(2027, 7, 2, tzinfo=UTC),
    )
    assert [r.title for r in reports_of(db, edm, rid)] == ["Final report"]
    certify_destruction(
        db,
        edm,
        rid,
        certified_by="Ann Lee",
        certified_on="2027-07-02",
        method="Disk wiped; paper shredded",
        now=datetime(2027, 7, 3, tzinfo=UTC),
    )
    assert loans_due(db, edm, within_days=0, today=END + timedelta(days=3)) == []


def test_only_the_data_manager_acts(env, capsys) -> None:
    db, edm = env
    create_user(
        db,
        user_id="staff.one",
        role="level1",
        password="Harbor-Lighthouse-Granite-42",
        created_by=Operator("tests"),
        policy=FAST,
    )
    req = submit_research_request(db, edm, **REQUEST, now=T0)
    _, err = cli(
        capsys,
        db,
        "research",
        "approve",
        str(req.request_id),
        "--as",
        "staff.one",
        "--reasons",
        "looks fine to me",
        ok=False,
    )
    assert "Education Data Manager" in err
    _, err = cli(capsys, db, "research", "list", "--as", "nobody", ok=False)
    assert "no active account" in err


def test_extract_refuses_a_non_empty_folder(env, tmp_path: Path) -> None:
    db, edm = env
    rid = _approved_loan(db, edm)
    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    before = log_counts(db)
    with pytest.raises(FileExistsError):
        make_extract(db, edm, rid, folder, now=T0)
    assert log_counts(db) == before and (folder / "keep.txt").read_text() == "mine"


def test_five_years_from_a_leap_day() -> None:
    assert add_years(date(2028, 2, 29), 5) == date(2033, 2, 28)


def test_page_makes_the_extract_and_refuses_others(env, monkeypatch) -> None:
    db, edm = env
    rid = _approved_loan(db, edm, end_date=date.today() + timedelta(days=20))
    at = open_page(monkeypatch, db, "research_requests", None)
    assert not at.exception and at.error and not at.dataframe
    at = open_page(monkeypatch, db, "research_requests")
    assert not at.exception and not at.error
    due, requests = at.dataframe[0].value, at.dataframe[1].value
    assert due["request"].to_list() == [f"RR-{rid}"]
    assert requests["status"].to_list() == ["approved"]
    before = log_counts(db)
    next(b for b in at.button if b.label.startswith("Make the watermarked")).click().run()
    assert not at.exception and not at.error
    assert log_counts(db) == (before[0] + 1, before[1] + 1)
    assert any("logged as disclosure #1" in s.value for s in at.success)


def test_bar_through_the_commands_and_its_bad_input(env, capsys) -> None:
    db, edm = env
    loan = _approved_loan(db, edm)
    before = (count(db, "improper_disclosures"), count(db, "audit_log"))
    bar = ["research", "bar", "--as", EDM_ID, "--finding", "Posted an extract on a website"]
    for args, message in [
        ([], "name the --organization or the --request"),
        (["--request", "0"], "no research request #0"),
        (["--request", "99"], "no research request #99"),
        (["--organization", "Acme", "--found-on", "2999-01-01"], "in the future"),
    ]:
        _, err = cli(capsys, db, *bar, *args, ok=False)
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert (count(db, "improper_disclosures"), count(db, "audit_log")) == before
    out, _ = cli(capsys, db, *bar, "--request", str(loan))
    assert f"{REQUEST['organization']} barred until" in out
    out, _ = cli(capsys, db, "research", "bars", "--as", EDM_ID)
    assert REQUEST["organization"] in out and "Posted an extract" in out
    assert count(db, "improper_disclosures") == before[0] + 1
