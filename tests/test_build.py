"""The synthetic build: deterministic, referentially whole, atomic."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from warehouse import build as build_module
from warehouse.build import REFERENCES, build_warehouse, check_references
from warehouse.connection import connect_readonly
from warehouse.state_ids import is_valid_staff_id, is_valid_student_id

DATA_TABLES = [
    "districts",
    "schools",
    "administrators",
    "students",
    "enrollments",
    "program_participation",
    "assessments",
    "graduation_cohorts",
    "staff",
    "staff_certifications",
    "staff_assignments",
    "school_years",
    "ground_truth.planted_duplicates",
]


def _fingerprint(path: Path) -> dict[str, str]:
    con = connect_readonly(path)
    out = {}
    for t in DATA_TABLES:
        rows = con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
        out[t] = hashlib.sha256(repr(rows).encode()).hexdigest()
    con.close()
    return out


def test_same_seed_same_warehouse(tmp_path: Path, built_db: Path) -> None:
    again = tmp_path / "again.duckdb"
    build_warehouse(again, scale=0.02, seed=7)
    assert _fingerprint(again) == _fingerprint(built_db)


def test_other_seed_other_warehouse(tmp_path: Path, built_db: Path) -> None:
    other = tmp_path / "other.duckdb"
    build_warehouse(other, scale=0.02, seed=8)
    assert _fingerprint(other)["students"] != _fingerprint(built_db)["students"]


def test_references_all_resolve(built_db: Path) -> None:
    con = connect_readonly(built_db)
    assert check_references(con) == []
    # The check itself can fail: a dangling row is reported.
    mem = duckdb.connect()
    mem.execute(f"ATTACH '{built_db}' AS w (READ_ONLY)")
    mem.execute("COPY FROM DATABASE w TO memory")
    mem.execute(
        "INSERT INTO enrollments VALUES ('2025-26', '0000000000', '0000', '05', "
        "DATE '2025-09-01', NULL, NULL)"
    )
    assert any("enrollments.state_student_id" in p for p in check_references(mem))
    assert any("enrollments.school_id" in p for p in check_references(mem))
    assert len(REFERENCES) >= 10


def test_ids_are_valid_and_unique(built_db: Path) -> None:
    con = connect_readonly(built_db)
    ids = [r[0] for r in con.execute("SELECT state_student_id FROM students").fetchall()]
    assert len(ids) == len(set(ids))
    assert all(is_valid_student_id(i) for i in ids)
    staff = [r[0] for r in con.execute("SELECT state_staff_id FROM staff").fetchall()]
    assert len(staff) == len(set(staff)) and all(is_valid_staff_id(i) for i in staff)


def test_one_enrollment_per_student_and_year(built_db: Path) -> None:
    con = connect_readonly(built_db)
    (dups,) = con.execute(
        "SELECT count(*) FROM (SELECT school_year, state_student_id FROM enrollments "
        "GROUP BY ALL HAVING count(*) > 1)"
    ).fetchone()
    assert dups == 0


def test_students_attend_schools_that_serve_their_grade(built_db: Path) -> None:
    con = connect_readonly(built_db)
    grades = ["PK", "K"] + [f"{g:02d}" for g in range(1, 13)]
    order = {g: i for i, g in enumerate(grades)}
    rows = con.execute(
        "SELECT e.grade, s.grade_low, s.grade_high FROM enrollments e JOIN schools s USING (school_id)"
    ).fetchall()
    assert rows
    assert all(order[lo] <= order[g] <= order[hi] for g, lo, hi in rows)


def test_planted_duplicates_are_the_same_person_with_another_id(built_db: Path) -> None:
    con = connect_readonly(built_db)
    rows = con.execute(
        "SELECT t.perturbation, a.first_name, b.first_name, a.birth_date, b.birth_date, "
        "a.last_name, b.last_name, a.ssn, b.ssn "
        "FROM ground_truth.planted_duplicates t "
        "JOIN students a ON a.state_student_id = t.original_id "
        "JOIN students b ON b.state_student_id = t.duplicate_id"
    ).fetchall()
    assert len(rows) >= 5
    kinds = {r[0] for r in rows}
    assert {"typo", "ssn_missing"} <= kinds
    for kind, fa, fb, da, db, la, lb, sa, sb in rows:
        if kind in ("typo", "nickname"):
            assert fa != fb and da == db
        if kind == "dob_transposed":
            assert da != db and fa == fb
        if kind == "last_name_changed":
            assert la != lb
        if kind == "ssn_missing":
            assert sa is not None and sb is None
    # A duplicate never double-counts: one enrollment per person per year.
    (overlap,) = con.execute(
        "SELECT count(*) FROM ground_truth.planted_duplicates t "
        "JOIN enrollments a ON a.state_student_id = t.original_id "
        "JOIN enrollments b ON b.state_student_id = t.duplicate_id AND a.school_year = b.school_year"
    ).fetchone()
    assert overlap == 0


def test_failed_build_leaves_the_old_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.duckdb"
    build_warehouse(path, scale=0.02, seed=1)
    before = path.read_bytes()

    def broken(con: duckdb.DuckDBPyConnection) -> list[str]:
        return ["simulated failure"]

    monkeypatch.setattr(build_module, "check_references", broken)
    with pytest.raises(build_module.BuildError, match="simulated failure"):
        build_warehouse(path, scale=0.02, seed=2)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == ["w.duckdb"]


def test_invalid_scale_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="scale"):
        build_warehouse(tmp_path / "x.duckdb", scale=0, seed=1)
    assert not (tmp_path / "x.duckdb").exists()


def test_concurrent_writers_do_not_lose_changes(tmp_path: Path) -> None:
    """Two copy-on-write writers at once: both changes survive (the writer lock serialises them)."""
    import threading

    from warehouse.connection import rewrite_warehouse

    path = tmp_path / "w.duckdb"
    build_warehouse(path, scale=0.02, seed=1)
    inside = threading.Event()

    def writer(name: str, wait: bool) -> None:
        with rewrite_warehouse(path, copy_existing=True) as con:
            if wait:
                inside.set()
                threading.Event().wait(0.5)
            con.execute(
                "INSERT INTO school_years VALUES (?, DATE '2030-07-01', DATE '2031-06-30')", [name]
            )

    first = threading.Thread(target=writer, args=("2030-31", True))
    first.start()
    inside.wait(5)
    second = threading.Thread(target=writer, args=("2031-32", False))
    second.start()
    first.join()
    second.join()
    con = connect_readonly(path)
    years = {y for (y,) in con.execute("SELECT school_year FROM school_years").fetchall()}
    assert {"2030-31", "2031-32"} <= years


def test_a_rewrite_of_a_file_that_is_no_warehouse_leaves_no_copy(tmp_path: Path) -> None:
    """A copy DuckDB cannot open (the file is text, not a warehouse) is removed, not left behind
    beside the file on every attempt; the file itself is untouched."""
    import duckdb

    from warehouse.connection import rewrite_warehouse

    path = tmp_path / "w.duckdb"
    path.write_text("not a warehouse\n")
    with pytest.raises(duckdb.Error), rewrite_warehouse(path, copy_existing=True):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == [".w.duckdb.lock", "w.duckdb"]
    assert path.read_text() == "not a warehouse\n"
