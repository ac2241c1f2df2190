"""The disclosure log: legal bases from the policy, one log entry and one audit entry per
release, filters, CSV export, append-only storage, and bad input refused with nothing stored."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import pytest

from privacy.disclosures import (
    LEGAL_BASES,
    NATURES,
    disclosures_csv,
    list_disclosures,
    record_disclosure,
)
from privacy.users import Operator, create_user
from tests.access_helpers import FAST, query
from tests.disclosure_helpers import EDM_ID, cli, count, log_counts, open_page, setup_db
from warehouse.connection import state_path

# The conditions the policy lists under "Federal Disclosure Restrictions" (34 CFR 99.31, 99.35).
POLICY_CONDITIONS = {
    "school_officials": "legitimate educational interest",
    "contractors": "outsourced",
    "audit_evaluation": "audit or evaluation",
    "federal_officials": "federal officials",
    "financial_aid": "financial aid",
    "studies": "studies",
    "accreditation": "Accrediting",
    "judicial_order": "subpoena",
    "health_safety_emergency": "health and safety emergencies",
    "juvenile_justice": "juvenile",
}


@pytest.fixture
def env(built_db: Path, tmp_path: Path):
    return setup_db(built_db, tmp_path)


def _students(db: Path, n: int = 3) -> list[str]:
    return [s for (s,) in query(db, f"SELECT state_student_id FROM students ORDER BY 1 LIMIT {n}")]


@pytest.mark.parametrize("code, words", sorted(POLICY_CONDITIONS.items()))
def test_every_policy_condition_is_a_legal_basis(code: str, words: str) -> None:
    basis = LEGAL_BASES[code]
    assert words.lower() in basis.label.lower()
    assert "99.3" in basis.citation


def test_every_nature_rests_only_on_known_bases() -> None:
    for nature in NATURES.values():
        assert nature.bases and nature.bases <= set(LEGAL_BASES)
    assert NATURES["subpoena"].bases == {"judicial_order"}
    assert NATURES["research_extract"].bases == {"studies"}


def test_recorded_subpoena_is_one_log_and_one_audit_entry(env, capsys, tmp_path: Path) -> None:
    db, edm = env
    ids = _students(db)
    before = log_counts(db)
    out, _ = cli(
        capsys,
        db,
        "disclosures",
        "record",
        "--as",
        EDM_ID,
        "--nature",
        "subpoena",
        "--basis",
        "judicial_order",
        "--recipient",
        "Clerk, Cumberland County Superior Court",
        "--purpose",
        "Subpoena duces tecum in State v. Doe",
        "--data",
        "enrollment history",
        "--field",
        "enrollments.school_id,enrollments.entry_date",
        "--subject",
        ids[0],
        "--subject",
        f"{ids[1]},{ids[2]}",
        "--reference",
        "CR-26-4411",
    )
    assert "recorded disclosure #1 (subpoena, judicial_order, 3 people)" in out
    assert log_counts(db) == (before[0] + 1, before[1] + 1)
    assert count(db, "audit_log", "WHERE action = 'disclosure.subpoena'") == 1
    assert count(db, "disclosure_subjects") == 3

    out, _ = cli(capsys, db, "disclosures", "list", "--as", EDM_ID, "--subject", ids[1])
    assert "subpoena" in out and "Cumberland" in out
    out, _ = cli(capsys, db, "disclosures", "list", "--as", EDM_ID, "--nature", "audit")
    assert "no disclosures" in out

    target = tmp_path / "log.csv"
    before = log_counts(db)
    for bad, message in [("  ", "--out is empty"), (str(tmp_path), "is a folder: name a file")]:
        _, err = cli(capsys, db, "disclosures", "export", "--as", EDM_ID, "--out", bad, ok=False)
        assert message in err
    assert log_counts(db) == before and not (tmp_path / "  ").exists()
    cli(capsys, db, "disclosures", "export", "--as", EDM_ID, "--out", str(target))
    assert log_counts(db) == (before[0], before[1] + 1)  # the export is audited, not a disclosure
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == 1
    row = rows[0]
    assert row["legal_basis"] == "judicial_order" and row["legal_citation"] == "34 CFR 99.31(a)(9)"
    assert row["approved_by"] == EDM_ID and row["subject_count"] == "3"
    assert row["fields"] == "enrollments.school_id enrollments.entry_date"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"nature": "subpoena", "legal_basis": "studies"}, "rests on one of"),
        ({"nature": "research_extract", "legal_basis": "studies"}, "own workflow"),
        ({"legal_basis": "because"}, "unknown legal basis"),
        ({"fields": ["students.shoe_size"]}, "unknown field"),
        ({"fields": []}, "name the fields"),
        ({"subject_ids": ["0000000000"]}, "no student or staff member"),
        ({"subject_ids": []}, "name the students"),
        ({"purpose": "x"}, "purpose"),
        ({"recipient": ""}, "recipient"),
    ],
)
def test_bad_disclosures_store_nothing(env, change, message) -> None:
    db, edm = env
    args = dict(
        nature="health_safety_emergency",
        legal_basis="health_safety_emergency",
        recipient="Maine CDC epidemiologist",
        purpose="Measles exposure contact tracing at one school",
        data_description="names and guardians",
        fields=["students.first_name", "students.guardian_name"],
        subject_ids=_students(db, 2),
    )
    before = log_counts(db)
    with pytest.raises(ValueError, match=message):
        record_disclosure(db, edm, **{**args, **change})
    assert log_counts(db) == before


def test_only_the_data_manager_reads_or_writes_the_log(env, capsys) -> None:
    db, edm = env
    teacher_school = query(db, "SELECT district_id, school_id FROM schools ORDER BY 2 LIMIT 1")[0]
    create_user(
        db,
        user_id="teach.one",
        role="teacher",
        password="Harbor-Lighthouse-Granite-42",
        district_id=teacher_school[0],
        school_ids=(teacher_school[1],),
        created_by=Operator("tests"),
        policy=FAST,
    )
    _, err = cli(capsys, db, "disclosures", "list", "--as", "teach.one", ok=False)
    assert "Education Data Manager" in err
    from privacy.users import get_user

    teacher = get_user(db, "teach.one")
    with pytest.raises(PermissionError):
        list_disclosures(db, teacher)
    with pytest.raises(PermissionError):
        record_disclosure(
            db,
            teacher,
            nature="audit",
            legal_basis="audit_evaluation",
            recipient="x",
            purpose="an audit of something",
            data_description="x",
            fields=["students.gender"],
            subject_ids=_students(db, 1),
        )


def test_log_is_append_only_and_export_is_formula_safe(env) -> None:
    db, edm = env
    record_disclosure(
        db,
        edm,
        nature="audit",
        legal_basis="federal_officials",
        recipient='=HYPERLINK("http://evil")',
        recipient_organization="@US ED OIG",
        purpose="Federal audit of Title I allocations",
        data_description="program flags",
        fields=["program_participation.title1"],
        subject_ids=_students(db, 1),
    )
    con = sqlite3.connect(state_path(db))
    try:
        for sql in (
            "UPDATE disclosures SET recipient = 'x'",
            "DELETE FROM disclosures",
            "DELETE FROM disclosure_subjects",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                con.execute(sql)
    finally:
        con.close()
    text = disclosures_csv(list_disclosures(db, edm))
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["recipient"].startswith("'=") and row["recipient_organization"].startswith("'@")


def test_page_lists_and_records(env, monkeypatch) -> None:
    db, edm = env
    at = open_page(monkeypatch, db, "disclosure_log", None)
    assert not at.exception and at.error
    record_disclosure(
        db,
        edm,
        nature="audit",
        legal_basis="audit_evaluation",
        recipient="Office of the State Auditor",
        purpose="Single audit sample check",
        data_description="enrollment",
        fields=["enrollments.grade"],
        subject_ids=_students(db, 2),
    )
    at = open_page(monkeypatch, db, "disclosure_log")
    assert not at.exception and not at.error
    frame = at.dataframe[0].value
    assert frame["recipient"].to_list() == ["Office of the State Auditor"]
    assert frame["legal_citation"].to_list() == ["34 CFR 99.31(a)(3), 99.35"]
