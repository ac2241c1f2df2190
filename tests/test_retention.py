"""Retention runs: a dry run changes nothing, a run archives and destroys on schedule, destroyed
records are gone from both files, a failed run changes nothing, every run is logged."""

from __future__ import annotations

import shutil
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

import privacy.retention as retention_module
from privacy.retention import (
    SCHEDULE_PATH,
    ScheduleError,
    file_sha256,
    load_schedule,
    parse_schedule,
    retention_runs,
    run_retention,
)
from privacy.users import Operator
from tests.disclosure_helpers import EDM_ID, cli, count, make_edm, open_page
from warehouse import retention_sql
from warehouse.retention_sql import archive_path

OP = Operator("tests")
AFTER_2029 = datetime(2029, 1, 1, 12, tzinfo=UTC)  # a run is dated today or earlier
IN_2043 = datetime(2043, 7, 1, 12, tzinfo=UTC)


@pytest.fixture
def db(built_db: Path, tmp_path: Path) -> Path:
    """A private copy of the shared warehouse that the test may change."""
    path = tmp_path / "edudash.duckdb"
    shutil.copyfile(built_db, path)
    return path


def _q(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _student_last_active_in(db: Path, year: str) -> str:
    """A student whose every record closed in `year` (e.g. a 2022-23 graduate)."""
    return _q(
        db,
        """
        SELECT state_student_id FROM (
            SELECT state_student_id, school_year AS y FROM enrollments
            UNION ALL SELECT state_student_id, school_year FROM assessments
            UNION ALL SELECT state_student_id, school_year FROM program_participation
            UNION ALL SELECT state_student_id, cohort_year FROM graduation_cohorts
        ) GROUP BY 1 HAVING max(y) = ? ORDER BY 1 LIMIT 1
        """,
        [year],
    )[0][0]


def test_the_shipped_schedule_is_valid_and_keeps_five_years_active() -> None:
    schedule = load_schedule()
    assert {rt.table for rt in schedule.record_types} >= {"students", "enrollments", "staff"}
    assert all(rt.active_years >= 5 for rt in schedule.record_types)


def _raw() -> dict:
    with open(SCHEDULE_PATH, "rb") as fh:
        return tomllib.load(fh)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: r["record_types"][0].update(table="shoes"), "unknown table"),
        (lambda r: r["record_types"][0].update(table="districts", name="d"), "not a student"),
        (lambda r: r["record_types"][0].update(retain_years=1), "retain_years"),
        (lambda r: r["record_types"][0].update(basis="weekly"), "basis"),
        (lambda r: r["record_types"][0].update(column="nope"), "no column"),
        (lambda r: r["record_types"][2].update(retain_years=99), "at least as long"),
        (lambda r: r["record_types"][4]["children"].remove("enrollments"), "not a child"),
        (lambda r: r.update(record_types="abc"), "must be a list of"),
        (lambda r: r.update(record_types=[1, 2]), "must be a list of"),
        (lambda r: r.update(record_types=5), "must be a list of"),
        (lambda r: r["record_types"][4].update(children=5), "children must be a list"),
        (lambda r: r["record_types"][4].update(children="assessments"), "children must be a list"),
        (lambda r: r["record_types"][0].update(active_years=2**62), "from 0 to 200"),
    ],
)
def test_unsafe_schedules_are_refused(mutate, message) -> None:
    raw = _raw()
    mutate(raw)
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(raw)


def test_dry_run_changes_nothing_and_is_logged(db: Path, capsys) -> None:
    before = file_sha256(db)
    out, _ = cli(capsys, db, "retention", "run", "--dry-run", "--as-of", "2029-01-01")
    assert "would archive" in out and "enrollments rows that closed in 2023" in out
    assert "(nothing changed)" in out
    assert file_sha256(db) == before
    assert not archive_path(db).exists()
    assert _q(db, "SELECT count(*) FROM enrollments WHERE school_year = '2022-23'")[0][0] > 0
    assert count(db, "retention_runs", "WHERE dry_run = 1 AND status = 'ok'") == 1
    assert count(db, "audit_log", "WHERE action = 'retention.dry_run'") == 1


def test_run_archives_then_destroys(db: Path, capsys, monkeypatch) -> None:
    sid = _student_last_active_in(db, "2022-23")
    n_2223 = _q(db, "SELECT count(*) FROM enrollments WHERE school_year = '2022-23'")[0][0]
    plan = run_retention(db, OP, as_of=date(2029, 1, 1), dry_run=True)
    result = run_retention(db, OP, as_of=date(2029, 1, 1), now=AFTER_2029)
    assert [ln for ln in result.lines] == [ln for ln in plan.lines]
    assert result.sha256_before != result.sha256_after == file_sha256(db)
    assert _q(db, "SELECT count(*) FROM enrollments WHERE school_year = '2022-23'")[0][0] == 0
    assert _q(db, "SELECT count(*) FROM enrollments WHERE school_year = '2023-24'")[0][0] > 0
    arch = archive_path(db)
    assert _q(arch, "SELECT count(*), min(archived_on), max(archived_on) FROM enrollments") == [
        (n_2223, date(2029, 1, 1), date(2029, 1, 1))
    ]
    assert _q(db, "SELECT count(*) FROM students WHERE state_student_id = ?", [sid]) == [(0,)]
    assert _q(arch, "SELECT count(*) FROM students WHERE state_student_id = ?", [sid]) == [(1,)]
    assert result.total("archive", "enrollments") == n_2223

    # Rerunning the same day finds nothing to do.
    again = run_retention(db, OP, as_of=date(2029, 1, 1), dry_run=True)
    assert again.lines == ()

    # Ten-plus years on, 2022-23 assessments and that student are destroyed everywhere.
    monkeypatch.setattr(retention_module, "now_utc", lambda now=None: now or IN_2043)
    out, _ = cli(capsys, db, "retention", "run", "--as-of", "2043-07-01")
    assert "did destroy (archived)" in out
    for path in (db, arch):
        for table in (
            "students",
            "enrollments",
            "assessments",
            "program_participation",
            "graduation_cohorts",
        ):
            found = _q(path, f"SELECT count(*) FROM {table} WHERE state_student_id = ?", [sid])
            assert found == [(0,)], f"{sid} still in {path.name}:{table}"
    assert _q(arch, "SELECT count(*) FROM assessments WHERE school_year = '2022-23'") == [(0,)]
    # Tables outside the schedule are untouched: the ID is never reused.
    assert _q(db, "SELECT count(*) FROM districts")[0][0] > 0
    assert count(db, "retention_runs", "WHERE dry_run = 0 AND status = 'ok'") == 2


def test_failed_run_changes_nothing_and_is_logged(db: Path, monkeypatch) -> None:
    before = file_sha256(db)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(retention_sql, "write_archive_table", broken)
    with pytest.raises(RuntimeError, match="simulated"):
        run_retention(db, OP, as_of=date(2029, 1, 1), now=AFTER_2029)
    assert file_sha256(db) == before
    assert not archive_path(db).exists()
    assert sorted(p.name for p in db.parent.iterdir() if ".tmp-" in p.name) == []
    runs = retention_runs(db, OP)
    assert runs[0].status == "failed" and "simulated" in (runs[0].error or "")
    assert count(db, "audit_log", "WHERE action = 'retention.run_failed'") == 1


def test_data_manager_runs_and_others_cannot(db: Path, capsys) -> None:
    make_edm(db)
    cli(capsys, db, "retention", "run", "--dry-run", "--as", EDM_ID)
    _, err = cli(capsys, db, "retention", "run", "--dry-run", "--as", "nobody", ok=False)
    assert "no active account" in err
    out, _ = cli(capsys, db, "retention", "runs")
    assert EDM_ID in out and "dry run" in out


def test_bad_as_of_is_a_clear_error(db: Path, capsys) -> None:
    _, err = cli(capsys, db, "retention", "run", "--as-of", "someday", ok=False)
    assert "not a date" in err
    assert count(db, "retention_runs") == 0


def test_page_dry_run_changes_nothing(db: Path, monkeypatch) -> None:
    make_edm(db)
    before = file_sha256(db)
    at = open_page(monkeypatch, db, "retention", None)
    assert not at.exception and at.error
    at = open_page(monkeypatch, db, "retention")
    assert not at.exception and not at.error
    at.date_input(key="ret_as_of").set_value(date(2029, 1, 1))
    at.button(key="ret_dry").click().run()
    assert not at.exception and not at.error
    plan = at.dataframe[1].value
    assert "archive" in plan["action"].to_list()
    assert file_sha256(db) == before and not archive_path(db).exists()
    assert count(db, "retention_runs", "WHERE dry_run = 1") == 1


def test_a_run_dated_after_today_is_refused_and_a_dry_run_is_not(db: Path, capsys) -> None:
    """A real run as of a future day (a year mistyped) would destroy records before their
    time: refused in one line, nothing changed; a dry run may still preview that day."""
    before = file_sha256(db)
    _, err = cli(capsys, db, "retention", "run", "--as-of", "2099-01-01", ok=False)
    assert "cannot be dated after today" in err and "\n" not in err.strip()
    assert file_sha256(db) == before and not archive_path(db).exists()
    assert count(db, "retention_runs", "WHERE dry_run = 0") == 0
    with pytest.raises(ValueError, match="cannot be dated after today"):
        run_retention(db, OP, as_of=date(2029, 1, 1), now=datetime(2028, 12, 31, 23, tzinfo=UTC))
    assert run_retention(db, OP, as_of=date(2099, 1, 1), dry_run=True).lines
    assert file_sha256(db) == before
