"""Synthetic Maine at scale 1 looks like Maine: sizes, shares and rates within stated tolerances.

Targets come from the issue (public Maine figures); sizes are compared with the real district and
graduation-cohort files in shared/real-data/.
"""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import pytest

from tests.conftest import real_data_dir
from warehouse.connection import connect_readonly

pytestmark = pytest.mark.slow
YEAR = "2025-26"


def _one(db: Path, sql: str, params: list | None = None) -> float:
    con = connect_readonly(db)
    try:
        return con.execute(sql, params or []).fetchone()[0]
    finally:
        con.close()


def _district_sizes(db: Path) -> list[int]:
    con = connect_readonly(db)
    rows = con.execute(
        "SELECT count(*) FROM enrollments e JOIN schools s USING (school_id) "
        "WHERE school_year = ? GROUP BY s.district_id",
        [YEAR],
    ).fetchall()
    con.close()
    return [r[0] for r in rows]


def test_counts_of_students_districts_schools_staff(maine_db: Path) -> None:
    students = _one(maine_db, "SELECT count(*) FROM enrollments WHERE school_year = ?", [YEAR])
    assert 160_000 <= students <= 182_000
    assert 190 <= _one(maine_db, "SELECT count(*) FROM districts") <= 260
    assert 540 <= _one(maine_db, "SELECT count(*) FROM schools") <= 660
    staff = _one(
        maine_db,
        "SELECT count(DISTINCT state_staff_id) FROM staff_assignments WHERE school_year = ?",
        [YEAR],
    )
    assert 14_500 <= staff <= 17_500
    years = _one(maine_db, "SELECT count(DISTINCT school_year) FROM enrollments")
    assert years >= 3


def test_district_size_skew_matches_real_maine(maine_db: Path) -> None:
    folder = real_data_dir("tidytuesday_school_diversity")
    with open(folder / "maine_districts_2016_17.csv", encoding="utf-8") as fh:
        real = [int(float(r["Total"])) for r in csv.DictReader(fh) if r["Total"] not in ("", "NA")]
    ours = _district_sizes(maine_db)
    assert 0.75 <= statistics.median(ours) / statistics.median(real) <= 1.3
    # A long tail of tiny districts, as in the real file.
    assert sum(n < 50 for n in ours) >= 4
    assert sum(n < 50 for n in ours) / len(ours) == pytest.approx(
        sum(n < 50 for n in real) / len(real), abs=0.05
    )
    # The largest district is a few thousand students, like Portland.
    assert 0.4 <= max(ours) / max(real) <= 2.5
    tiny_schools = _one(
        maine_db,
        "SELECT count(*) FROM (SELECT school_id FROM enrollments "
        "WHERE school_year = ? GROUP BY 1 HAVING count(*) < 10)",
        [YEAR],
    )
    assert tiny_schools >= 1


def test_high_school_cohorts_look_like_real_maine(maine_db: Path) -> None:
    folder = real_data_dir("edfacts_acgr_school")
    real: list[int] = []
    with open(folder / "maine_acgr_sch_sy2014-15.csv", encoding="latin-1") as fh:
        for r in csv.DictReader(fh):
            v = r["ALL_COHORT_1415"]
            if v.isdigit():
                real.append(int(v))
    con = connect_readonly(maine_db)
    ours = [
        n
        for (n,) in con.execute(
            "SELECT count(*) FROM graduation_cohorts WHERE cohort_year = ? GROUP BY school_id",
            [YEAR],
        ).fetchall()
    ]
    con.close()
    assert 0.6 <= statistics.median(ours) / statistics.median(real) <= 1.6
    assert 0.75 <= sum(ours) / sum(real) <= 1.35
    assert 0.6 <= len(ours) / len(real) <= 1.6


@pytest.mark.parametrize(
    "race, target, tol",
    [
        ("WH", 0.85, 0.02),
        ("BL", 0.05, 0.012),
        ("HI", 0.04, 0.01),
        ("MU", 0.04, 0.01),
        ("AS", 0.013, 0.005),
        ("AM", 0.006, 0.004),
        ("PI", 0.001, 0.001),
    ],
)
def test_race_shares(maine_db: Path, race: str, target: float, tol: float) -> None:
    share = _one(
        maine_db,
        "SELECT avg((race_ethnicity = ?)::INT) FROM enrollments JOIN students USING (state_student_id) "
        "WHERE school_year = ?",
        [race, YEAR],
    )
    assert share == pytest.approx(target, abs=tol)


@pytest.mark.parametrize(
    "flag, target, tol",
    [
        ("economically_disadvantaged", 0.42, 0.02),
        ("english_learner", 0.04, 0.008),
        ("disability", 0.20, 0.015),
        ("homeless", 0.024, 0.005),
        ("migrant", 0.004, 0.004),
    ],
)
def test_program_shares(maine_db: Path, flag: str, target: float, tol: float) -> None:
    share = _one(
        maine_db,
        f"SELECT avg({flag}::INT) FROM program_participation WHERE school_year = ?",
        [YEAR],
    )
    assert share == pytest.approx(target, abs=tol)


def test_english_learners_and_migrants_are_concentrated(maine_db: Path) -> None:
    con = connect_readonly(maine_db)
    el = [
        r[0]
        for r in con.execute(
            "SELECT sum(english_learner::INT) FROM program_participation p JOIN enrollments e "
            "USING (school_year, state_student_id) JOIN schools s USING (school_id) "
            "WHERE school_year = ? GROUP BY s.district_id ORDER BY 1 DESC",
            [YEAR],
        ).fetchall()
    ]
    mig = [
        r[0]
        for r in con.execute(
            "SELECT sum(migrant::INT) FROM program_participation p JOIN enrollments e "
            "USING (school_year, state_student_id) JOIN schools s USING (school_id) "
            "WHERE school_year = ? GROUP BY s.district_id",
            [YEAR],
        ).fetchall()
    ]
    con.close()
    assert sum(el[:5]) / sum(el) >= 0.4, "English learners concentrate in a few cities"
    assert 0 < sum(m > 0 for m in mig) <= 12, "migrant students cluster in a few districts"


@pytest.mark.parametrize("subject, target", [("ELA", 0.58), ("MATH", 0.40)])
def test_proficiency(maine_db: Path, subject: str, target: float) -> None:
    first_year = _one(maine_db, "SELECT min(school_year) FROM assessments")
    share = _one(
        maine_db,
        "SELECT avg((performance_level IN ('3', '4'))::INT) FROM assessments "
        "WHERE subject = ? AND school_year = ?",
        [subject, first_year],
    )
    assert share == pytest.approx(target, abs=0.03)
    gap = _one(
        maine_db,
        """
        SELECT avg((performance_level IN ('3','4'))::INT) FILTER (WHERE NOT p.economically_disadvantaged)
             - avg((performance_level IN ('3','4'))::INT) FILTER (WHERE p.economically_disadvantaged)
        FROM assessments a JOIN program_participation p USING (school_year, state_student_id)
        WHERE subject = ?""",
        [subject],
    )
    assert 0.08 <= gap <= 0.30


@pytest.mark.parametrize(
    "flag, target",
    [
        (None, 0.87),
        ("economically_disadvantaged", 0.79),
        ("disability", 0.74),
        ("english_learner", 0.70),
    ],
)
def test_graduation_rates(maine_db: Path, flag: str | None, target: float) -> None:
    if flag is None:
        rate = _one(
            maine_db, "SELECT avg((outcome = 'REGULAR_DIPLOMA')::INT) FROM graduation_cohorts"
        )
        assert rate == pytest.approx(target, abs=0.015)
        return
    # Subgroup membership: the student's program record in the cohort year or the last year before.
    rate = _one(
        maine_db,
        f"""
        SELECT avg((g.outcome = 'REGULAR_DIPLOMA')::INT)
        FROM graduation_cohorts g
        JOIN (SELECT state_student_id, arg_max({flag}, school_year) AS f
              FROM program_participation GROUP BY 1) p USING (state_student_id)
        WHERE p.f""",
    )
    assert rate == pytest.approx(target, abs=0.04)
