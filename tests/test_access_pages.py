"""The access pages through Streamlit's AppTest: each demo role sees only its pages and fields,
sign-in stores a session, and no page shows a field above the viewer's level."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import privacy
from privacy.access import PAGE_FILES, Role
from privacy.auth import sign_in
from privacy.users import create_demo_users, submit_account_request
from tests.access_helpers import FAST, memory_folder, private_db, query
from warehouse.dictionary import load_dictionary

ROOT = Path(__file__).resolve().parents[1]
LEVEL = {(f.table, f.name): f.access_level for f in load_dictionary().fields()}
GUARDED = ("student_record", "student_locator", "approvals", "audit_trail")


@pytest.fixture(scope="module")
def site(built_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with memory_folder(tmp_path_factory.mktemp("pages")) as folder:
        yield _demo_site(private_db(built_db, folder))


def _demo_site(db: Path) -> dict:
    demo = create_demo_users(db, policy=FAST)
    return {"db": db, "demo": {role: (uid, pw) for uid, role, pw in demo}}


@pytest.fixture(autouse=True)
def _env(site: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDUDASH_DB", str(site["db"]))


def page(name: str, token: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / PAGE_FILES[name][0]), default_timeout=30)
    if token:
        at.session_state[privacy.SESSION_TOKEN_KEY] = token
    return at.run()


def token_for(site: dict, role: Role) -> str:
    uid, pw = site["demo"][role.value]
    return sign_in(site["db"], uid, pw, policy=FAST).token


def frames(at: AppTest) -> list:
    return [d.value for d in at.dataframe]


@pytest.mark.parametrize("role", [None, *[r for r in Role if r != Role.PUBLIC]])
@pytest.mark.parametrize("name", GUARDED)
def test_each_role_opens_only_its_pages(site: dict, role: Role | None, name: str) -> None:
    token = token_for(site, role) if role else None
    at = page(name, token)
    assert not at.exception
    user = privacy.User("x", role or Role.PUBLIC)
    allowed = name in privacy.pages_for(user)
    assert bool(at.error) is not allowed, [e.value for e in at.error]
    if not allowed:
        assert not at.dataframe


def test_sign_in_page(site: dict) -> None:
    uid, pw = site["demo"]["teacher"]
    at = page("sign_in")
    at.text_input(key="sign_in_user_id").input(uid)
    at.text_input(key="sign_in_password").input("wrong-password-123")
    at.button[0].click().run()
    assert at.error and "wrong" in at.error[0].value
    assert privacy.SESSION_TOKEN_KEY not in at.session_state
    at.text_input(key="sign_in_password").input(pw)
    at.button[0].click().run()
    assert not at.exception
    token = at.session_state[privacy.SESSION_TOKEN_KEY]
    assert privacy.current_user(site["db"], token).user_id == uid
    assert any("Your account" in t.value for t in at.title)
    assert pw not in str([m.value for m in at.markdown])


def test_teacher_record_page_shows_only_level_three_and_four(site: dict) -> None:
    at = page("student_record", token_for(site, Role.TEACHER))
    at.toggle(key="sr_open").set_value(True).run()
    assert not at.exception and at.dataframe
    tables = [
        "students",
        "enrollments",
        "program_participation",
        "assessments",
        "graduation_cohorts",
    ]
    shown_columns = {c for df in frames(at) for c in df.columns}
    assert "guardian_name" not in shown_columns and "ssn" not in shown_columns
    assert "economically_disadvantaged" not in shown_columns
    for col in shown_columns:
        levels = {LEVEL[(t, col)] for t in tables if (t, col) in LEVEL}
        assert min(levels) >= 3, col


def test_superintendent_sees_guardian_but_not_ssn_and_can_request_resubmission(site: dict) -> None:
    at = page("student_record", token_for(site, Role.SUPERINTENDENT))
    at.toggle(key="sr_open").set_value(True).run()
    student = frames(at)[0]
    assert "guardian_name" in student.columns and "ssn" not in student.columns
    at.text_area(key="sr_reason").input("Grade is wrong for this school year.")
    submit = [b for b in at.button if b.label == "Request resubmission"][0]
    submit.click().run()
    assert not at.exception and any("Resubmission request" in s.value for s in at.success)


def test_locator_page_returns_level_four_fields(site: dict) -> None:
    sid, first, last, born = query(
        site["db"],
        "SELECT state_student_id, first_name, last_name, birth_date FROM students LIMIT 1",
    )[0]
    at = page("student_locator", token_for(site, Role.REGISTRAR))
    at.text_input(key="loc_first").input(first)
    at.text_input(key="loc_last").input(last)
    at.date_input(key="loc_birth").set_value(born)
    at.button[0].click().run()
    assert not at.exception and not at.error
    [df] = frames(at)
    assert sid in list(df["state_student_id"])
    for col in df.columns:
        levels = {
            LEVEL[(t, col)]
            for t in ("students", "enrollments", "program_participation")
            if (t, col) in LEVEL
        }
        assert levels == {4}, col


def test_approvals_page_issues_a_one_time_password(site: dict) -> None:
    admin = privacy.current_user(site["db"], token_for(site, Role.DISTRICT_ADMIN))
    school = query(
        site["db"],
        "SELECT school_id FROM schools WHERE district_id = ? LIMIT 1",
        [admin.district_id],
    )[0][0]
    req = submit_account_request(
        site["db"],
        user_id="page.teacher",
        name="Page Teacher",
        role="teacher",
        district_id=admin.district_id,
        school_id=school,
        justification="I teach grade 5 and need my students' records.",
        policy_acknowledged=True,
    )
    at = page("approvals", token_for(site, Role.DISTRICT_ADMIN))
    approve = [b for b in at.button if b.key == f"approve_{req.request_id}"][0]
    approve.click().run()
    assert not at.exception
    message = at.success[0].value
    password = message.rsplit("`", 2)[1]
    session = sign_in(site["db"], "page.teacher", password, policy=FAST)
    assert session.must_change_password and session.user.role == Role.TEACHER


def test_audit_trail_page_verifies_and_lists(site: dict) -> None:
    at = page("audit_trail", token_for(site, Role.DATA_MANAGER))
    assert not at.exception
    assert "Hash chain intact" in at.success[0].value
    assert any(
        "sign_in.success" in list(df["action"]) for df in frames(at) if "action" in df.columns
    )


def test_account_request_page(site: dict) -> None:
    at = page("account_request")
    at.selectbox(key="ar_role").set_value(Role.REPORTING).run()
    at.text_input(key="ar_name").input("Robin Reporter")
    at.text_input(key="ar_user_id").input("robin.reporter")
    at.text_area(key="ar_justification").input(
        "I prepare the federal EDFacts submissions each year."
    )
    at.button[0].click().run()
    assert at.error and "acknowledge" in at.error[0].value
    at.checkbox(key="ar_ack").check()
    at.button[0].click().run()
    assert not at.exception and "submitted" in at.success[0].value
