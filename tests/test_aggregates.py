"""The warehouse counting SQL: exact, additive, parameterized, and blind to suppression."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from warehouse import aggregates
from warehouse.connection import connect_readonly

YEAR = "2024-25"


@pytest.fixture(scope="module")
def con(built_db) -> duckdb.DuckDBPyConnection:  # noqa: ANN001
    c = connect_readonly(built_db)
    yield c
    c.close()


def test_enrollment_counts_each_student_once(con) -> None:  # noqa: ANN001
    facts = aggregates.fact_counts(con, "enrollment", YEAR)
    students = con.execute(
        "SELECT count(DISTINCT state_student_id) FROM enrollments WHERE school_year = ?", [YEAR]
    ).fetchall()[0][0]
    assert facts["n"].sum() == students > 0


def test_program_flags_partition_the_total(con) -> None:  # noqa: ANN001
    facts = aggregates.fact_counts(con, "enrollment", YEAR)
    total = facts["n"].sum()
    for flag in aggregates.PROGRAM_FLAGS:
        by = facts.group_by(flag).agg(pl.col("n").sum())
        assert set(by[flag]) <= {"true", "false"}
        assert by["n"].sum() == total
    el = con.execute(
        "SELECT count(*) FROM program_participation WHERE school_year = ? AND english_learner",
        [YEAR],
    ).fetchall()[0][0]
    counted = facts.filter(pl.col("english_learner") == "true")["n"].sum()
    assert 0 < counted <= el


def test_assessment_and_graduation_counts(con) -> None:  # noqa: ANN001
    asm = aggregates.fact_counts(con, "assessment", YEAR)
    tests = con.execute(
        "SELECT count(*) FROM assessments WHERE school_year = ?", [YEAR]
    ).fetchall()[0]
    assert asm["n"].sum() == tests[0]
    assert set(asm["performance_level"]) <= {"1", "2", "3", "4"}
    grad = aggregates.fact_counts(con, "graduation", YEAR)
    cohort = con.execute(
        "SELECT count(*) FROM graduation_cohorts WHERE cohort_year = ?", [YEAR]
    ).fetchall()[0]
    assert grad["n"].sum() == cohort[0]


def test_unknown_population(con) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="unknown student population"):
        aggregates.fact_counts(con, "students; DROP TABLE students", YEAR)


def test_year_is_a_parameter_not_sql(con) -> None:  # noqa: ANN001
    facts = aggregates.fact_counts(con, "enrollment", "2024-25' OR '1'='1")
    assert facts.height == 0


def test_staff_margins_and_distinct_headcount(con) -> None:  # noqa: ANN001
    frame = aggregates.staff_counts(con, YEAR, "state", ["role"])
    total = frame.filter(pl.col("role").is_null())
    staff = con.execute(
        "SELECT count(DISTINCT state_staff_id) FROM staff_assignments WHERE school_year = ?",
        [YEAR],
    ).fetchall()[0][0]
    assert total["headcount"][0] == staff
    assert frame.filter(pl.col("role").is_not_null())["headcount"].sum() >= staff
    by_school = aggregates.staff_counts(con, YEAR, "school", [], [("role", "PRINCIPAL")])
    assert {"district_id", "school_id", "headcount", "fte"} <= set(by_school.columns)
    assert "ssn" not in frame.columns


def test_staff_refuses_unknown_columns(con) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="cannot use"):
        aggregates.staff_counts(con, YEAR, "state", ["ssn"])
    with pytest.raises(ValueError, match="cannot use"):
        aggregates.staff_counts(con, YEAR, "state", [], [("1=1; --", "x")])
    injected = aggregates.staff_counts(con, YEAR, "state", [], [("role", "x' OR 'a'='a")])
    assert injected["headcount"].to_list() == [0]


def test_directory_rows_are_public_columns_only(con) -> None:  # noqa: ANN001
    schools = aggregates.directory_rows(con, "schools")
    public = set(aggregates.public_directory_columns(con, "schools"))
    assert set(schools.columns) <= public and "school_name" in schools.columns
    one = schools["district_id"][0]
    assert set(aggregates.directory_rows(con, "schools", one)["district_id"]) == {one}
    with pytest.raises(ValueError, match="not a directory table"):
        aggregates.directory_rows(con, "students")


def test_build_id_and_years(con) -> None:  # noqa: ANN001
    assert aggregates.build_id(con)
    assert YEAR in aggregates.school_years(con)
