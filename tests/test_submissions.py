"""District submissions: all or nothing, resubmission history, IDs, status, and the CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from edudash.cli import main as cli_main
from privacy import intake
from privacy.access import Role, User
from warehouse.state_ids import is_valid_staff_id, is_valid_student_id
from warehouse.submissions import (
    submission_history,
    submission_status,
    submit_paths,
    warehouse_checksum,
)

DISTRICT, YEAR = "1905", "2025-26"


@pytest.fixture
def db(built_db: Path, tmp_path: Path) -> Path:
    """A private copy of the session's small warehouse that the test may change."""
    path = tmp_path / "wh" / "edudash.duckdb"
    path.parent.mkdir()
    shutil.copyfile(built_db, path)
    return path


def _q(db: Path, sql: str, params: list | None = None) -> pl.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return pl.from_arrow(con.sql(sql, params=params).to_arrow_table())  # type: ignore[return-value]
    finally:
        con.close()


def _district_enrollments(db: Path, limit: int = 30) -> pl.DataFrame:
    return _q(
        db,
        "SELECT e.* FROM enrollments e JOIN schools s USING (school_id) "
        "WHERE s.district_id = ? AND e.school_year = ? ORDER BY e.state_student_id LIMIT ?",
        [DISTRICT, YEAR, limit],
    )


def write_submission(db: Path, folder: Path, *, limit: int = 30) -> dict[str, Path]:
    """A valid students + enrollments submission: half the students without their ID, one new."""
    enr = _district_enrollments(db, limit)
    ids = enr["state_student_id"].unique().sort()
    stu = _q(
        db, "SELECT * FROM students WHERE state_student_id IN (SELECT unnest(?))", [ids.to_list()]
    )
    stu = (
        stu.sort("state_student_id")
        .with_row_index("n")
        .with_columns(
            pl.format("L{}", pl.col("n")).alias("local_student_id"),
            pl.when(pl.col("n") % 2 == 0).then(pl.col("state_student_id")).alias("given_id"),
        )
    )
    cols = [
        "local_student_id",
        "given_id",
        "first_name",
        "middle_name",
        "last_name",
        "birth_date",
        "gender",
        "race_ethnicity",
        "guardian_name",
        "ssn",
        "mainecare_id",
    ]
    school = enr["school_id"][0]
    new = pl.DataFrame(
        [
            {
                "local_student_id": "NEW1",
                "given_id": None,
                "first_name": "Zebulon",
                "middle_name": None,
                "last_name": "Quackenbush",
                "birth_date": dt.date(2016, 3, 4),
                "gender": "M",
                "race_ethnicity": "WH",
                "guardian_name": "Ada Quackenbush",
                "ssn": None,
                "mainecare_id": None,
            }
        ],
        schema={c: (pl.Date if c == "birth_date" else pl.String) for c in cols},
    )
    students = pl.concat([stu.select(cols), new], how="vertical_relaxed").rename(
        {"given_id": "state_student_id"}
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"students": folder / "students.csv", "enrollments": folder / "enrollments.csv"}
    students.write_csv(paths["students"])
    grade_of_new = "04"
    e = enr.join(stu.select("state_student_id", "local_student_id"), on="state_student_id").select(
        "school_year",
        pl.lit(None, pl.String).alias("state_student_id"),
        "local_student_id",
        "school_id",
        "grade",
        "entry_date",
        "exit_date",
        "exit_code",
    )
    extra = pl.DataFrame(
        [
            {
                "school_year": YEAR,
                "state_student_id": None,
                "local_student_id": "NEW1",
                "school_id": school,
                "grade": grade_of_new,
                "entry_date": dt.date(2025, 9, 2),
                "exit_date": None,
                "exit_code": None,
            }
        ],
        schema=e.schema,
    )
    pl.concat([e, extra]).write_csv(paths["enrollments"])
    return paths


def _file_state(db: Path) -> tuple[str, str, int]:
    return warehouse_checksum(db), hashlib.sha256(db.read_bytes()).hexdigest(), db.stat().st_ino


def test_valid_submission_loads_all_and_attaches_or_mints_ids(db: Path, tmp_path: Path) -> None:
    paths = write_submission(db, tmp_path / "sub")
    enr_before = _district_enrollments(db, 10_000)
    others_before = _q(
        db,
        "SELECT count(*) AS n FROM enrollments e JOIN schools s USING (school_id) "
        "WHERE s.district_id <> ? OR e.school_year <> ?",
        [DISTRICT, YEAR],
    )["n"][0]
    result = submit_paths(db, DISTRICT, YEAR, list(paths.values()), "clerk@1905")
    assert result.accepted, result.problems
    a = result.id_assignments
    assert a is not None
    truth = dict(
        zip(
            [f"L{i}" for i in range(enr_before.height)],
            enr_before["state_student_id"].unique().sort().to_list(),
            strict=False,
        )
    )
    how = dict(zip(a["local_id"], a["how"], strict=True))
    got = dict(zip(a["local_id"], a["state_id"], strict=True))
    # Students sent without their ID were recognised as themselves: no duplicate IDs were made.
    for local, sid in truth.items():
        if local in got:
            assert got[local] == sid, (local, how[local])
    assert result.matched_ids == sum(h == "attach" for h in how.values()) > 0
    assert how["NEW1"] == "new" and is_valid_student_id(got["NEW1"])
    assert got["NEW1"] not in truth.values()
    after = _district_enrollments(db, 10_000)
    assert after.height == pl.read_csv(paths["enrollments"]).height
    assert got["NEW1"] in after["state_student_id"].to_list()
    others_after = _q(
        db,
        "SELECT count(*) AS n FROM enrollments e JOIN schools s USING (school_id) "
        "WHERE s.district_id <> ? OR e.school_year <> ?",
        [DISTRICT, YEAR],
    )["n"][0]
    assert others_after == others_before
    issued = _q(db, "SELECT * FROM issued_ids")
    assert issued["state_id"].to_list() == [got["NEW1"]]
    assert _q(db, "SELECT count(*) AS n FROM students WHERE last_name = 'Quackenbush'")["n"][0] == 1


def _bad_inputs(tmp: Path, good: dict[str, Path]) -> dict[str, list[Path]]:
    tmp.mkdir(parents=True, exist_ok=True)
    students = good["students"].read_text(encoding="utf-8")
    enroll = good["enrollments"].read_text(encoding="utf-8")
    lines = students.splitlines()

    def write(name: str, text: str | bytes) -> Path:
        p = tmp / name
        p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        return p

    big = tmp / "big_students.csv"
    with open(big, "wb") as fh:
        fh.write(students.encode())
        fh.truncate(1 << 30)
    first_row = lines[1].split(",")
    injected = ",".join([first_row[0], first_row[1], "=cmd|' /C calc'!A0", *first_row[3:]])
    sql = ",".join([first_row[0], first_row[1], "Robert'); DROP TABLE students;--", *first_row[3:]])
    dup = lines[2].split(",")
    dup_line = ",".join(["L999", *dup[1:]])
    return {
        "wrong encoding": [
            write("students.csv", students.replace("Ada", "Adé").encode("latin-1")),
            good["enrollments"],
        ],
        "missing columns": [
            write("students.csv", "\n".join(",".join(r.split(",")[:5]) for r in lines) + "\n"),
            good["enrollments"],
        ],
        "1 GB file": [big, good["enrollments"]],
        "formula injection": [
            write("students.csv", "\n".join([lines[0], injected, *lines[2:]]) + "\n"),
            good["enrollments"],
        ],
        "sql-looking string": [
            write("students.csv", "\n".join([lines[0], sql, *lines[2:]]) + "\n"),
            good["enrollments"],
        ],
        "duplicate ids": [write("students.csv", students + dup_line + "\n"), good["enrollments"]],
        "school of another district": [
            good["students"],
            write(
                "enrollments.csv",
                enroll.replace(f",{YEAR},", ",")
                .replace(",NEW1,", ",NEW1,")
                .replace(enroll.splitlines()[1].split(",")[3], "9999", 1),
            ),
        ],
        "good students, bad enrollments": [
            good["students"],
            write(
                "enrollments.csv",
                enroll.replace("2025-26,", "2025-26,", 1) + "2025-26,,L0,0000,03,2025-09-01,,\n",
            ),
        ],
    }


BAD = [
    "wrong encoding",
    "missing columns",
    "1 GB file",
    "formula injection",
    "sql-looking string",
    "duplicate ids",
    "school of another district",
    "good students, bad enrollments",
]


@pytest.mark.parametrize("case", BAD)
def test_invalid_submission_changes_nothing(db: Path, tmp_path: Path, case: str) -> None:
    good = write_submission(db, tmp_path / "good")
    files = _bad_inputs(tmp_path / "bad", good)[case]
    before = _file_state(db)
    result = submit_paths(db, DISTRICT, YEAR, files, "clerk@1905", max_bytes=50 << 20)
    assert not result.accepted and result.problems, case
    assert all(p.problem and p.how_to_fix for p in result.problems)
    assert _file_state(db) == before
    leftovers = [p.name for p in db.parent.iterdir() if p.name.startswith(f".{db.name}.tmp")]
    assert leftovers == []


def test_resubmission_replaces_the_period_and_keeps_history(db: Path, tmp_path: Path) -> None:
    enr = _district_enrollments(db, 10_000)
    cols = [
        "school_year",
        "state_student_id",
        "school_id",
        "grade",
        "entry_date",
        "exit_date",
        "exit_code",
    ]
    first, second = tmp_path / "enrollments_v1.csv", tmp_path / "enrollments_v2.csv"
    enr.select(cols).write_csv(first)
    enr.select(cols).head(25).write_csv(second)
    t1, t2 = dt.datetime(2025, 10, 20, 9), dt.datetime(2025, 11, 2, 14)
    r1 = submit_paths(db, DISTRICT, YEAR, [first], "alice", now=t1)
    r2 = submit_paths(db, DISTRICT, YEAR, [second], "bob", now=t2)
    assert r1.accepted and r2.accepted
    assert _district_enrollments(db, 10_000).height == 25
    hist = submission_history(db, DISTRICT)
    assert hist.select("file_name", "submitted_by", "status", "row_count").rows() == [
        ("enrollments_v1.csv", "alice", "SUPERSEDED", enr.height),
        ("enrollments_v2.csv", "bob", "CURRENT", 25),
    ]
    assert hist["superseded_by"][0] == r2.submission_id
    assert hist["sha256"][0] == hashlib.sha256(first.read_bytes()).hexdigest()
    status = submission_status(db, YEAR, dt.date(2025, 12, 1), district_id=DISTRICT)
    by_kind = dict(zip(status["kind"], status["status"], strict=True))
    assert by_kind["enrollments"] == "ON_TIME"
    assert by_kind["students"] == "MISSING" and by_kind["assessments"] == "OPEN"
    errors = submission_status(
        db,
        YEAR,
        dt.date(2025, 12, 1),
        district_id=DISTRICT,
        rejected_attempts={
            (DISTRICT, "enrollments"): dt.datetime(2025, 11, 3),
            (DISTRICT, "staff"): dt.datetime(2025, 11, 20),
        },
    )
    by_kind = dict(zip(errors["kind"], errors["status"], strict=True))
    assert by_kind["enrollments"] == "ERRORS" and by_kind["staff"] == "ERRORS"


def test_a_file_of_no_rows_is_refused_and_erases_nothing(db: Path, tmp_path: Path) -> None:
    """A header-only resubmission (an export gone wrong) would replace the district's rows of
    its kind with none: it is refused, with a problem that says so, and the rows stay."""
    enr = _district_enrollments(db, 10_000)
    cols = ["school_year", "state_student_id", "school_id", "grade", "entry_date"]
    cols += ["exit_date", "exit_code"]
    full, header_only = tmp_path / "enrollments.csv", tmp_path / "h" / "enrollments.csv"
    header_only.parent.mkdir()
    enr.select(cols).write_csv(full)
    header_only.write_text(full.read_text(encoding="utf-8").splitlines()[0] + "\n")
    assert submit_paths(db, DISTRICT, YEAR, [full], "alice").accepted
    before = _file_state(db)
    result = submit_paths(db, DISTRICT, YEAR, [header_only], "bob")
    assert not result.accepted
    assert [p.problem for p in result.problems] == [
        "the file has a header but no rows (it would replace the district's rows of this kind "
        "for the year with none)"
    ]
    assert _file_state(db) == before
    assert _district_enrollments(db, 10_000).height == enr.height


def test_late_submission_is_late(db: Path, tmp_path: Path) -> None:
    enr = _district_enrollments(db, 5)
    f = tmp_path / "enrollments.csv"
    enr.drop("school_year").insert_column(0, pl.lit(YEAR).alias("school_year")).write_csv(f)
    assert submit_paths(db, DISTRICT, YEAR, [f], "carol", now=dt.datetime(2026, 1, 5)).accepted
    status = submission_status(db, YEAR, dt.date(2026, 1, 6), district_id=DISTRICT)
    assert dict(zip(status["kind"], status["status"], strict=True))["enrollments"] == "LATE"


def test_sql_looking_text_is_stored_verbatim_never_executed(db: Path, tmp_path: Path) -> None:
    enr = _district_enrollments(db, 3)
    name = "x'); DROP TABLE students; --.csv"
    f = tmp_path / name
    enr.write_csv(f)
    n_students = _q(db, "SELECT count(*) AS n FROM students")["n"][0]
    r = submit_paths(db, DISTRICT, YEAR, [f], "eve'; DELETE FROM enrollments; --")
    assert r.accepted, r.problems
    hist = submission_history(db)
    assert hist["file_name"].to_list() == [name]
    assert hist["submitted_by"].to_list() == ["eve'; DELETE FROM enrollments; --"]
    assert _q(db, "SELECT count(*) AS n FROM students")["n"][0] == n_students


def test_staff_get_state_staff_ids_and_the_ssn_never_leaves(db: Path, tmp_path: Path) -> None:
    staff = _q(db, "SELECT * FROM staff ORDER BY state_staff_id LIMIT 2")
    existing = staff.row(0, named=True)
    rows = [
        {
            "local_staff_id": "T1",
            "state_staff_id": None,
            **{
                k: existing[k]
                for k in (
                    "first_name",
                    "last_name",
                    "birth_date",
                    "ssn",
                    "highest_degree",
                    "years_experience",
                )
            },
        },
        {
            "local_staff_id": "T2",
            "state_staff_id": None,
            "first_name": "Hortense",
            "last_name": "Vandersloot",
            "birth_date": dt.date(1980, 4, 4),
            "ssn": "912-34-5678",
            "highest_degree": "MA",
            "years_experience": 12,
        },
    ]
    f = tmp_path / "staff.csv"
    pl.DataFrame(rows).write_csv(f)
    school = _q(db, "SELECT school_id FROM schools WHERE district_id = ? LIMIT 1", [DISTRICT])[
        "school_id"
    ][0]
    g = tmp_path / "staff_assignments.csv"
    pl.DataFrame(
        [
            {
                "school_year": YEAR,
                "state_staff_id": None,
                "local_staff_id": lid,
                "school_id": school,
                "role": "TEACHER",
                "subject": "MATH",
                "fte": "1.00",
            }
            for lid in ("T1", "T2")
        ]
    ).write_csv(g)
    r = submit_paths(db, DISTRICT, YEAR, [f, g], "hr@1905")
    assert r.accepted, r.problems
    a = r.id_assignments
    assert a is not None
    got = dict(zip(a["local_id"], zip(a["state_id"], a["how"], strict=True), strict=True))
    assert got["T1"] == (existing["state_staff_id"], "attach")
    assert got["T2"][1] == "new" and is_valid_staff_id(got["T2"][0])
    # What goes back to the district carries state staff IDs, never an SSN.
    released = a.write_csv() + submission_history(db).write_csv()
    assert existing["ssn"] not in released and "912-34-5678" not in released
    assign = _q(
        db,
        "SELECT * FROM staff_assignments WHERE school_year = ? AND school_id = ?",
        [YEAR, school],
    )
    assert set(assign["state_staff_id"]) == {existing["state_staff_id"], got["T2"][0]}


def test_bad_request_arguments_are_clear(db: Path, tmp_path: Path) -> None:
    f = tmp_path / "enrollments.csv"
    _district_enrollments(db, 2).write_csv(f)
    with pytest.raises(LookupError, match="no district"):
        submit_paths(db, "0000", YEAR, [f], "x")
    with pytest.raises(ValueError, match="school year"):
        submit_paths(db, DISTRICT, "2025", [f], "x")
    with pytest.raises(LookupError, match="not in the data calendar"):
        submit_paths(db, DISTRICT, "2030-31", [f], "x")


def test_cli_submit_reports_errors_and_exits_nonzero(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "students.csv"
    bad.write_text(
        "local_student_id,first_name,last_name,birth_date,gender,race_ethnicity\nA1,=1+1,Smith,2015-01-01,F,WH\n"
    )
    report = tmp_path / "report.csv"
    before = _file_state(db)
    rc = cli_main(
        [
            "submit",
            "--db",
            str(db),
            "--district",
            DISTRICT,
            "--period",
            YEAR,
            "--report",
            str(report),
            str(bad),
        ]
    )
    out = capsys.readouterr().out
    assert rc == 1 and "REJECTED" in out and str(report) in out
    assert "formula" in report.read_text() and _file_state(db) == before
    good = tmp_path / "enrollments.csv"
    _district_enrollments(db, 3).write_csv(good)
    rc = cli_main(["submit", "--db", str(db), "--district", DISTRICT, "--period", YEAR, str(good)])
    assert rc == 0 and "Accepted" in capsys.readouterr().out


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--max-mb", "inf", "--max-mb must be a number of megabytes above 0"),
        ("--max-mb", "nan", "--max-mb must be a number of megabytes above 0"),
        ("--max-mb", "-1", "--max-mb must be a number of megabytes above 0"),
        ("--ids-out", "FILE/ids.csv", "is a file, not a folder"),
        ("--ids-out", "DIR", "is a folder: name a file to write"),
        ("--report", "FILE/sub/report.csv", "is a file, not a folder"),
    ],
)
def test_cli_submit_refuses_bad_options_before_storing_anything(
    db: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    option: str,
    value: str,
    message: str,
) -> None:
    """An output that cannot be written, or a size limit that is no number, fails in one line
    before the submission is stored (an --ids-out that failed afterwards left the IDs issued
    and their file unwritten)."""
    good = tmp_path / "enrollments.csv"
    _district_enrollments(db, 3).write_csv(good)
    value = value.replace("FILE", str(good)).replace("DIR", str(tmp_path))
    before = _file_state(db)
    argv = ["submit", "--db", str(db), "--district", DISTRICT, "--period", YEAR, option, value]
    assert cli_main([*argv, str(good)]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("edudash submit:")
    assert _file_state(db) == before


def test_cli_submit_shows_the_problems_even_when_the_default_report_cannot_be_written(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default report (in the current folder) is only written for a rejected submission,
    after its summary: a folder in its place fails in one line, the problems already shown."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / f"submission-errors-{DISTRICT}-{YEAR}.csv").mkdir()
    bad = tmp_path / "students.csv"
    bad.write_text("local_student_id,first_name\nA1,Ann\n")
    argv = ["submit", "--db", str(db), "--district", DISTRICT, "--period", YEAR, str(bad)]
    assert cli_main(argv) == 1
    out, err = capsys.readouterr()
    assert out.startswith("REJECTED:") and "students.csv row" in out
    assert "Is a directory" in err and "\n" not in err.strip()


# --- The privacy facade: who may submit, review and see status ------------------------------

SUPER = User("sup1905", Role.SUPERINTENDENT, district_id=DISTRICT)
OTHER_SUPER = User("sup8021", Role.SUPERINTENDENT, district_id="8021")
TEACHER = User("t1905", Role.TEACHER, district_id=DISTRICT, school_ids=("7169",))
MDOE = User("mdoe1", Role.LEVEL1)


@pytest.mark.parametrize(
    "user, district, allowed",
    [
        (SUPER, DISTRICT, True),
        (SUPER, "8021", False),
        (OTHER_SUPER, DISTRICT, False),
        (TEACHER, DISTRICT, False),
        (MDOE, "8021", True),
        (User("p", Role.PUBLIC), DISTRICT, False),
        (User("da", Role.DISTRICT_ADMIN, district_id=DISTRICT), DISTRICT, False),
        (User("r", Role.REPORTING), DISTRICT, False),
    ],
)
def test_who_may_submit(user: User, district: str, allowed: bool) -> None:
    assert intake.can_submit(user, district) is allowed


def test_facade_refuses_other_districts_and_logs_rejections(db: Path, tmp_path: Path) -> None:
    f = tmp_path / "enrollments.csv"
    _district_enrollments(db, 3).write_csv(f)
    upload = [intake.UploadedFile("enrollments.csv", f.read_bytes())]
    before = _file_state(db)
    with pytest.raises(intake.IntakeAccessError):
        intake.submit_district_files(db, OTHER_SUPER, DISTRICT, YEAR, upload)
    bad = [
        intake.UploadedFile("enrollments.csv", f.read_bytes().replace(b"2025-26,", b"2025-2X,", 1))
    ]
    r = intake.submit_district_files(db, SUPER, DISTRICT, YEAR, bad, now=dt.datetime(2025, 11, 1))
    assert not r.accepted and _file_state(db) == before
    assert "how_to_fix" in intake.error_report_csv(r.problems).splitlines()[0]
    status = intake.status_view(db, SUPER, YEAR, today=dt.date(2025, 11, 2), district_id="8021")
    assert set(status["district_id"]) == {DISTRICT}  # a superintendent sees only their district
    assert dict(zip(status["kind"], status["status"], strict=True))["enrollments"] == "ERRORS"
    ok = intake.submit_district_files(
        db, SUPER, DISTRICT, YEAR, upload, now=dt.datetime(2025, 11, 3)
    )
    assert ok.accepted
    status = intake.status_view(db, MDOE, YEAR, today=dt.date(2025, 11, 4))
    assert len(set(status["district_id"])) > 1
    mine = status.filter(pl.col("district_id") == DISTRICT)
    assert dict(zip(mine["kind"], mine["status"], strict=True))["enrollments"] == "ON_TIME"
    with pytest.raises(intake.IntakeAccessError):
        intake.status_view(db, TEACHER, YEAR)


def test_only_level1_reviews_ids(db: Path) -> None:
    for user in (SUPER, TEACHER, User("r", Role.REPORTING)):
        with pytest.raises(intake.IntakeAccessError):
            intake.id_review_queue(db, user)
        with pytest.raises(intake.IntakeAccessError):
            intake.merge_state_ids(db, user, "1", "2")
    assert intake.id_review_queue(db, MDOE).height == 0


# --- The pages (Streamlit AppTest) ----------------------------------------------------------


def _page(path: str, db: Path, token: str | None, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN202
    from streamlit.testing.v1 import AppTest

    import privacy

    monkeypatch.setenv("EDUDASH_DB", str(db))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / path), default_timeout=60)
    if token:
        at.session_state[privacy.SESSION_TOKEN_KEY] = token
    return at.run()


def test_pages_open_only_for_their_roles(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from privacy.auth import sign_in
    from privacy.users import create_demo_users
    from tests.access_helpers import FAST

    demo = {role: (uid, pw) for uid, role, pw in create_demo_users(db, policy=FAST)}

    def token(role: str) -> str:
        uid, pw = demo[role]
        return sign_in(db, uid, pw, policy=FAST).token

    sup = _page("pages/submissions.py", db, token("superintendent"), monkeypatch)
    assert not sup.exception and not sup.error
    assert any("status" in h.value.lower() for h in sup.header)
    for role in ("teacher", "registrar", None):
        at = _page("pages/submissions.py", db, token(role) if role else None, monkeypatch)
        assert not at.exception and at.error and not at.dataframe
    review = _page("pages/id_review.py", db, token("level1"), monkeypatch)
    assert not review.exception and not review.error
    for role in ("superintendent", "reporting"):
        at = _page("pages/id_review.py", db, token(role), monkeypatch)
        assert not at.exception and at.error and not at.dataframe
