"""Validation of submission files: every rule has a bad file, and the report tells how to fix it."""

from __future__ import annotations

import csv
import io
import os
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from warehouse.state_ids import new_student_ids
from warehouse.validation import (
    ReferenceData,
    check_rows,
    problems_to_csv,
    read_submission_bytes,
    read_submission_file,
    read_submission_stream,
    validate_submission,
)

KNOWN, OTHER, RETIRED = new_student_ids(3, rng=np.random.default_rng(42))
REF = ReferenceData(
    district_id="1111",
    school_year="2024-25",
    district_school_ids=frozenset({"0101", "0102"}),
    school_district={"0101": "1111", "0102": "1111", "0909": "2222"},
    student_birth_dates={KNOWN: date(2016, 3, 9), OTHER: date(2008, 1, 2)},
    student_aliases={RETIRED: KNOWN},
    staff_ids=frozenset(),
    staff_aliases={},
)

STUDENTS = (
    "local_student_id,state_student_id,first_name,middle_name,last_name,birth_date,gender,"
    "race_ethnicity,guardian_name,ssn,mainecare_id\n"
    "L1,,Ana,,O'Brien-Núñez,2016-05-01,F,HI,María Núñez,,\n"
    f"L2,{KNOWN},Ben,J,Smith,2016-03-09,M,WH,Jo Smith,123-45-6789,A12345678\n"
)
ENROLL = (
    "school_year,state_student_id,local_student_id,school_id,grade,entry_date,exit_date,exit_code\n"
    "2024-25,,L1,0101,03,2024-08-28,,\n"
    f"2024-25,{KNOWN},,0101,03,2024-08-28,2025-06-12,COMPLETED_YEAR\n"
)


def parse(text: str, name: str, kind: str | None = None):  # noqa: ANN201
    return read_submission_bytes(text.encode("utf-8"), name, kind=kind)


def problems_of(*files: tuple[str, str]):  # noqa: ANN201
    _, problems = validate_submission([parse(t, n) for n, t in files], REF)
    return problems


def test_a_good_submission_has_no_problems_and_typed_values() -> None:
    files, problems = validate_submission(
        [parse(STUDENTS, "students.csv"), parse(ENROLL, "enrollments.csv")], REF
    )
    assert problems == []
    students = next(f for f in files if f.kind == "students").frame
    assert students["birth_date"].to_list() == [date(2016, 5, 1), date(2016, 3, 9)]
    assert students["last_name"][0] == "O'Brien-Núñez"


def test_utf8_byte_order_mark_is_accepted() -> None:
    p = read_submission_bytes(b"\xef\xbb\xbf" + STUDENTS.encode(), "students.csv")
    assert not p.problems and p.header[0] == "local_student_id"


def _replace(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


# (what is wrong, file name, file text, field, words in the problem)
BAD_ROWS = [
    (
        "missing value",
        "students.csv",
        _replace(STUDENTS, "L1,,Ana", "L1,,"),
        "first_name",
        "required",
    ),
    (
        "bad date",
        "students.csv",
        _replace(STUDENTS, "2016-05-01", "05/01/2016"),
        "birth_date",
        "YYYY-MM-DD",
    ),
    (
        "impossible date",
        "students.csv",
        _replace(STUDENTS, "2016-05-01", "2016-02-30"),
        "birth_date",
        "calendar",
    ),
    (
        "future birth",
        "students.csv",
        _replace(STUDENTS, "2016-05-01", "2099-05-01"),
        "birth_date",
        "future",
    ),
    ("bad code", "students.csv", _replace(STUDENTS, ",F,HI", ",female,HI"), "gender", "code set"),
    (
        "bad race",
        "students.csv",
        _replace(STUDENTS, ",F,HI", ",F,Hispanic"),
        "race_ethnicity",
        "code set",
    ),
    (
        "bad ssn",
        "students.csv",
        _replace(STUDENTS, "123-45-6789", "123456789"),
        "ssn",
        "Social Security",
    ),
    (
        "bad check digit",
        "students.csv",
        _replace(STUDENTS, KNOWN, KNOWN[:-1] + str((int(KNOWN[-1]) + 1) % 10)),
        "state_student_id",
        "check digit",
    ),
    (
        "formula injection",
        "students.csv",
        _replace(STUDENTS, "Ana", "=cmd|' /C calc'!A0"),
        "first_name",
        "formula",
    ),
    (
        "formula at sign",
        "students.csv",
        _replace(STUDENTS, "Ana", "@SUM(A1)"),
        "first_name",
        "formula",
    ),
    (
        "sql in a name",
        "students.csv",
        _replace(STUDENTS, "Ana", "Robert'); DROP TABLE students;--"),
        "first_name",
        "not part of a name",
    ),
    ("too long", "students.csv", _replace(STUDENTS, "Ana", "A" * 81), "first_name", "longer"),
    (
        "duplicate local id",
        "students.csv",
        STUDENTS + "L1,,Cy,,Doe,2016-01-01,M,WH,,,\n",
        "local_student_id",
        "duplicate",
    ),
    (
        "duplicate state id",
        "students.csv",
        STUDENTS + f"L9,{KNOWN},Cy,,Doe,2016-01-01,M,WH,,,\n",
        "state_student_id",
        "duplicate",
    ),
    (
        "duplicate ssn",
        "students.csv",
        STUDENTS + "L9,,Cy,,Doe,2016-01-01,M,WH,,123-45-6789,\n",
        "ssn",
        "duplicate",
    ),
    (
        "grade without zero",
        "enrollments.csv",
        _replace(ENROLL, ",03,2024-08-28,,", ",3,2024-08-28,,"),
        "grade",
        "03",
    ),
    (
        "wrong year",
        "enrollments.csv",
        ENROLL.replace("2024-25,", "2023-24,"),
        "school_year",
        "2024-25",
    ),
    (
        "entry outside year",
        "enrollments.csv",
        _replace(ENROLL, "2024-08-28,,", "2023-08-28,,"),
        "entry_date",
        "outside",
    ),
    (
        "exit without code",
        "enrollments.csv",
        _replace(ENROLL, "2025-06-12,COMPLETED_YEAR", "2025-06-12,"),
        "exit_code",
        "together",
    ),
    (
        "exit before entry",
        "enrollments.csv",
        _replace(ENROLL, "2025-06-12", "2024-06-12"),
        "exit_date",
        "before",
    ),
    (
        "duplicate enrollment",
        "enrollments.csv",
        ENROLL + f"2024-25,{KNOWN},,0101,03,2024-09-01,,\n",
        "state_student_id+school_id",
        "duplicate",
    ),
    (
        "nobody named",
        "enrollments.csv",
        ENROLL + "2024-25,,,0101,03,2024-09-01,,\n",
        "state_student_id / local_student_id",
        "which person",
    ),
    (
        "bad school id",
        "enrollments.csv",
        _replace(ENROLL, ",0101,03,2024-08-28,,", ",1 OR 1=1,03,2024-08-28,,"),
        "school_id",
        "4 digits",
    ),
    ("wrong column count", "enrollments.csv", ENROLL + "2024-25,x\n", "", "values"),
]


@pytest.mark.parametrize("what, name, text, field, words", BAD_ROWS, ids=[b[0] for b in BAD_ROWS])
def test_each_row_rule_reports_row_field_and_fix(what, name, text, field, words) -> None:  # noqa: ANN001
    vf, problems = check_rows(parse(text, name), REF.school_year)
    assert vf is None, what
    hit = [
        p
        for p in problems
        if p.field == field and words.lower() in (p.problem + p.how_to_fix).lower()
    ]
    assert hit, f"{what}: {problems}"
    assert all(p.row >= 1 and p.how_to_fix for p in hit)


BAD_REFS = [
    (
        "school of another district",
        _replace(ENROLL, ",0101,03,2024-08-28,,", ",0909,03,2024-08-28,,"),
        "school_id",
        "belongs to district 2222",
    ),
    (
        "no such school",
        _replace(ENROLL, ",0101,03,2024-08-28,,", ",4444,03,2024-08-28,,"),
        "school_id",
        "no school",
    ),
    ("unknown local id", _replace(ENROLL, ",L1,", ",L7,"), "local_student_id", "no row"),
    (
        "unknown state id",
        ENROLL.replace(KNOWN, new_student_ids(1, taken={KNOWN, OTHER, RETIRED})[0]),
        "state_student_id",
        "no student",
    ),
    (
        "grade implausible for age",
        _replace(ENROLL, ",L1,0101,03,", ",L1,0101,11,"),
        "grade",
        "implausible",
    ),
    ("roster age implausible", ENROLL.replace(KNOWN, OTHER), "grade", "implausible"),
]


@pytest.mark.parametrize("what, enroll, field, words", BAD_REFS, ids=[b[0] for b in BAD_REFS])
def test_reference_rules(what, enroll, field, words) -> None:  # noqa: ANN001
    problems = problems_of(("students.csv", STUDENTS), ("enrollments.csv", enroll))
    assert any(p.field == field and words in p.problem for p in problems), f"{what}: {problems}"


def test_retired_alias_id_is_accepted_as_a_reference() -> None:
    assert (
        problems_of(("students.csv", STUDENTS), ("enrollments.csv", ENROLL.replace(KNOWN, RETIRED)))
        == []
    )


def test_students_file_cannot_invent_a_state_id() -> None:
    made_up = new_student_ids(1, taken={KNOWN, OTHER, RETIRED})[0]
    problems = problems_of(("students.csv", STUDENTS.replace(KNOWN, made_up)))
    assert any(p.field == "state_student_id" and "no student" in p.problem for p in problems)


def test_missing_and_unknown_columns() -> None:
    text = STUDENTS.replace("race_ethnicity", "ethnicity")
    vf, problems = check_rows(parse(text, "students.csv"), REF.school_year)
    fields = {(p.field, p.problem) for p in problems}
    assert vf is None
    assert ("race_ethnicity", "required column is missing") in fields
    assert any(f == "ethnicity" and "not a column" in pr for f, pr in fields)
    assert all(p.row == 1 for p in problems)


def test_wrong_encoding_is_a_clear_error() -> None:
    p = read_submission_bytes(STUDENTS.encode("latin-1"), "students.csv")
    assert p.rows == [] and len(p.problems) == 1
    assert "not UTF-8" in p.problems[0].problem and "CSV UTF-8" in p.problems[0].how_to_fix


def test_a_one_gigabyte_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "students.csv"
    with open(big, "wb") as fh:
        fh.write(STUDENTS.encode())
        fh.truncate(1 << 30)  # sparse: 1 GB on paper, nothing to read
    p = read_submission_file(big, max_bytes=50 << 20)
    assert p.rows == [] and p.sha256 == ""
    assert "1.0 GB" in p.problems[0].value and "limit" in p.problems[0].problem


class _Endless(io.RawIOBase):
    """A stream that never ends; counts what was read from it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # noqa: ANN001
        n = len(b)
        b[:n] = (b"L1,,Ana,,Smith,2016-05-01,F,WH,,,\n" * (n // 34 + 1))[:n]
        self.read_bytes += n
        return n


def test_a_stream_of_unknown_size_stops_at_the_limit() -> None:
    stream = _Endless()
    p = read_submission_stream(stream, "students.csv", max_bytes=2 << 20)
    assert p.rows == [] and "limit" in p.problems[0].problem
    assert stream.read_bytes <= (2 << 20) + (1 << 17)


def test_nul_bytes_are_refused() -> None:
    p = read_submission_bytes(STUDENTS.encode().replace(b"Ana", b"A\x00a"), "students.csv")
    vf, problems = check_rows(p, REF.school_year)
    assert vf is None and problems[0].field == "first_name"
    assert "control characters" in problems[0].problem


def test_kind_comes_from_name_or_header() -> None:
    assert parse(STUDENTS, "2024-25 upload.csv").kind == "students"
    assert parse(ENROLL, "file.csv").kind == "enrollments"
    assert parse(ENROLL, "rsu5_enrollment.csv").kind == "enrollments"
    assert parse("a,b\n1,2\n", "x.csv").problems[0].problem.startswith("cannot tell")


def test_problem_cap_keeps_the_report_bounded() -> None:
    rows = "".join(f"L{i},,Ana,,Smith,2016-05-01,Q,WH,,,\n" for i in range(3000))
    vf, problems = check_rows(
        parse(STUDENTS.splitlines()[0] + "\n" + rows, "students.csv"), "2024-25"
    )
    assert vf is None and len(problems) == 1001 and "not listed" in problems[-1].problem


def test_error_report_csv_is_actionable_and_spreadsheet_safe() -> None:
    text = _replace(STUDENTS, "Ana", '=HYPERLINK("http://x")')
    _, problems = check_rows(parse(text, "students.csv"), REF.school_year)
    report = list(csv.DictReader(io.StringIO(problems_to_csv(problems))))
    assert list(report[0]) == ["file", "row", "field", "value", "problem", "how_to_fix"]
    row = report[0]
    assert row["file"] == "students.csv" and row["row"] == "2" and row["field"] == "first_name"
    assert row["value"].startswith("'=")  # shown as text, never run by a spreadsheet
    assert all(not v.startswith(("=", "+", "@")) for r in report for v in r.values())


def test_validation_is_pure(tmp_path: Path) -> None:
    f = tmp_path / "students.csv"
    f.write_text(STUDENTS, encoding="utf-8")
    before = (f.read_bytes(), os.stat(f).st_mtime_ns)
    read_submission_file(f)
    assert (f.read_bytes(), os.stat(f).st_mtime_ns) == before
