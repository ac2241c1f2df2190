"""Accounts: the Login Request Form, approvals by the right approver only, denials, revocations,
demo users, and the `edudash users` command."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edudash.cli import main
from privacy.access import Role, User
from privacy.audit_log import search_entries, verify_chain
from privacy.auth import SignInError, change_password, sign_in
from privacy.users import (
    ApprovalError,
    Operator,
    access_decisions,
    account_requests,
    approve_request,
    create_demo_users,
    create_user,
    deny_request,
    list_accounts,
    revoke_user,
    submit_account_request,
)
from tests.access_helpers import FAST, memory_folder, private_db, query
from warehouse.connection import state_path

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
OPERATOR = Operator("tester")
WHY = "I register new students at the high school and need to find their state IDs."


@pytest.fixture
def db(built_db: Path, tmp_path: Path) -> Iterator[Path]:
    with memory_folder(tmp_path) as folder:
        yield private_db(built_db, folder)


@pytest.fixture
def places(db: Path) -> dict[str, list[str]]:
    """District -> its schools, the two largest districts first."""
    rows = query(
        db,
        "SELECT district_id, list(school_id ORDER BY school_id) FROM schools GROUP BY 1"
        " ORDER BY count(*) DESC, 1",
    )
    return {d: s for d, s in rows}


def _admins(db: Path, places: dict[str, list[str]]) -> tuple[User, User, User]:
    home, other = list(places)[:2]
    dm = create_user(
        db,
        user_id="dm.boss",
        role="data_manager",
        password="Data-Manager-Pass-1",
        created_by=OPERATOR,
        policy=FAST,
    )
    admin_home = create_user(
        db,
        user_id="admin.home",
        role="district_admin",
        password="Admin-Home-Pass-1",
        district_id=home,
        created_by=OPERATOR,
        policy=FAST,
    )
    admin_other = create_user(
        db,
        user_id="admin.other",
        role="district_admin",
        password="Admin-Other-Pass-1",
        district_id=other,
        created_by=OPERATOR,
        policy=FAST,
    )
    return dm, admin_home, admin_other


def _teacher_request(db: Path, places: dict[str, list[str]], uid: str = "t.smith") -> int:
    home = next(iter(places))
    req = submit_account_request(
        db,
        user_id=uid,
        name="Terry Smith",
        role="teacher",
        district_id=home,
        school_id=places[home][0],
        justification=WHY,
        policy_acknowledged=True,
        now=T0,
    )
    assert req.status == "pending" and req.role == Role.TEACHER
    return req.request_id


def test_request_needs_policy_acknowledgement(db: Path, places: dict[str, list[str]]) -> None:
    home = next(iter(places))
    with pytest.raises(ValueError, match="acknowledge"):
        submit_account_request(
            db,
            user_id="t.x",
            name="T",
            role="teacher",
            district_id=home,
            school_id=places[home][0],
            justification=WHY,
            policy_acknowledged=False,
        )


@pytest.mark.parametrize(
    "change, message",
    [
        ({"school_id": "OTHER"}, "not a school of district"),
        ({"district_id": "0000"}, "no district"),
        ({"school_id": None}, "needs a school"),
        ({"justification": "short"}, "justification"),
        ({"name": "  "}, "name"),
        ({"user_id": "1bad id"}, "user ID"),
        ({"role": "public"}, "no account"),
        ({"role": "wizard"}, "unknown role"),
        ({"role": "level1"}, "statewide"),
    ],
)
def test_bad_requests_are_refused_and_nothing_is_stored(
    db: Path, places: dict[str, list[str]], change: dict, message: str
) -> None:
    home, other = list(places)[:2]
    form = dict(
        user_id="t.x",
        name="Terry",
        role="teacher",
        district_id=home,
        school_id=places[home][0],
        justification=WHY,
        policy_acknowledged=True,
    )
    if change.get("school_id") == "OTHER":
        change = {"school_id": places[other][0]}
    form.update(change)
    with pytest.raises(ValueError, match=message):
        submit_account_request(db, **form)
    if state_path(db).exists():
        con = sqlite3.connect(state_path(db))
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        if "account_requests" in tables:
            assert con.execute("SELECT count(*) FROM account_requests").fetchone()[0] == 0
        con.close()


def test_district_admin_approves_own_district_teacher(
    db: Path, places: dict[str, list[str]]
) -> None:
    dm, admin_home, admin_other = _admins(db, places)
    rid = _teacher_request(db, places)
    assert [r.request_id for r in account_requests(db, admin_home)] == [rid]
    assert account_requests(db, admin_other) == []
    assert account_requests(db, dm) == []  # teachers go through their District Administrator
    for wrong in (admin_other, dm):
        with pytest.raises(ApprovalError):
            approve_request(db, wrong, rid, policy=FAST)
    user, initial = approve_request(
        db, admin_home, rid, note="verified with principal", policy=FAST, now=T0
    )
    assert user.role == Role.TEACHER and user.school_ids
    session = sign_in(db, "t.smith", initial, policy=FAST)
    assert session.must_change_password and session.user == user
    change_password(db, "t.smith", initial, "Pine-Needle-River-8", policy=FAST)
    assert not sign_in(db, "t.smith", "Pine-Needle-River-8", policy=FAST).must_change_password
    with pytest.raises(ValueError, match="already approved"):
        approve_request(db, admin_home, rid, policy=FAST)
    [decision] = [d for d in access_decisions(db, admin_home) if d.action == "approve"]
    assert (decision.actor, decision.user_id, decision.request_id, decision.note) == (
        "admin.home",
        "t.smith",
        rid,
        "verified with principal",
    )
    audit = search_entries(db, action_prefix="account.approve")
    assert audit[0].actor == "admin.home" and audit[0].details["user_id"] == "t.smith"
    assert verify_chain(db).ok


def test_data_manager_approves_superintendent_and_denies(
    db: Path, places: dict[str, list[str]]
) -> None:
    dm, admin_home, _ = _admins(db, places)
    home = next(iter(places))
    sup = submit_account_request(
        db,
        user_id="supt",
        name="Sam Supt",
        role="superintendent",
        district_id=home,
        school_id=None,
        justification=WHY,
        policy_acknowledged=True,
    )
    other = submit_account_request(
        db,
        user_id="analyst",
        name="Ann Lyst",
        role="reporting",
        district_id=None,
        school_id=None,
        justification=WHY,
        policy_acknowledged=True,
    )
    assert account_requests(db, admin_home) == []
    with pytest.raises(ApprovalError):
        approve_request(db, admin_home, sup.request_id, policy=FAST)
    user, _ = approve_request(db, dm, sup.request_id, policy=FAST)
    assert user.role == Role.SUPERINTENDENT and user.district_id == home
    denied = deny_request(db, dm, other.request_id, note="no need to access shown")
    assert denied.status == "denied" and denied.decided_by == "dm.boss"
    with pytest.raises(SignInError):
        sign_in(db, "analyst", "whatever-password", policy=FAST)
    actions = [d.action for d in access_decisions(db, OPERATOR)]
    assert actions[:2] == ["deny", "approve"]
    assert (
        search_entries(db, action_prefix="account.deny")[0].details["note"]
        == "no need to access shown"
    )


def test_taken_user_id_is_refused(db: Path, places: dict[str, list[str]]) -> None:
    _admins(db, places)
    with pytest.raises(ValueError, match="taken"):
        _teacher_request(db, places, uid="dm.boss")
    _teacher_request(db, places, uid="t.one")
    with pytest.raises(ValueError, match="taken"):
        _teacher_request(db, places, uid="t.one")


def test_revocation_rules(db: Path, places: dict[str, list[str]]) -> None:
    dm, admin_home, admin_other = _admins(db, places)
    rid = _teacher_request(db, places)
    approve_request(db, admin_home, rid, policy=FAST)
    with pytest.raises(ApprovalError):
        revoke_user(db, admin_other, "t.smith")
    with pytest.raises(ApprovalError):
        revoke_user(db, admin_home, "admin.home")
    with pytest.raises(ApprovalError):
        revoke_user(db, admin_home, "dm.boss")
    assert {a.user.user_id for a in list_accounts(db, dm)} == {
        "dm.boss",
        "admin.home",
        "admin.other",
        "t.smith",
    }
    assert "approve" in [d.action for d in access_decisions(db, dm)]  # the EDM keeps every record
    revoke_user(db, admin_home, "t.smith", reason="left the district")
    with pytest.raises(ValueError, match="already revoked"):
        revoke_user(db, admin_home, "t.smith")
    revoke_user(db, dm, "admin.other", reason="retired")
    with pytest.raises(LookupError):
        revoke_user(db, dm, "nobody")
    revoked = {a.user.user_id: a for a in list_accounts(db, OPERATOR) if a.status == "revoked"}
    assert set(revoked) == {"t.smith", "admin.other"}
    assert revoked["t.smith"].revoked_by == "admin.home"
    assert [a.user.user_id for a in list_accounts(db, admin_home)] == ["t.smith"]


def test_demo_users_one_per_role_and_they_sign_in(db: Path) -> None:
    first = create_demo_users(db, policy=FAST)
    assert sorted(role for _, role, _ in first) == sorted(r.value for r in Role if r != Role.PUBLIC)
    for uid, role, password in first:
        session = sign_in(db, uid, password, policy=FAST)
        assert session.user.role.value == role
        if session.user.rule.needs_district:
            assert session.user.district_id
    again = create_demo_users(db, policy=FAST)
    assert {p for *_, p in again}.isdisjoint({p for *_, p in first})
    with pytest.raises(SignInError):
        sign_in(db, first[0][0], first[0][2], policy=FAST)
    assert all(a.demo for a in list_accounts(db, OPERATOR))


def test_cli_create_list_revoke(
    db: Path,
    places: dict[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = "Harbor-Seal-Morning-5"
    monkeypatch.setattr("sys.stdin", io.StringIO(secret + "\n"))
    assert (
        main(
            [
                "users",
                "create",
                "--db",
                str(db),
                "--role",
                "data_manager",
                "--user-id",
                "first.dm",
                "--name",
                "First DM",
                "--password-stdin",
            ]
        )
        == 0
    )
    out = capsys.readouterr()
    assert "created first.dm" in out.out and secret not in out.out + out.err
    assert sign_in(db, "first.dm", secret, policy=FAST).user.role == Role.DATA_MANAGER

    home = next(iter(places))
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert (
        main(
            [
                "users",
                "create",
                "--db",
                str(db),
                "--role",
                "teacher",
                "--user-id",
                "t.weak",
                "--district",
                home,
                "--school",
                places[home][0],
                "--password-stdin",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "at least 12" in err
    monkeypatch.setattr("sys.stdin", io.StringIO(secret + "\n"))
    assert (
        main(
            [
                "users",
                "create",
                "--db",
                str(db),
                "--role",
                "teacher",
                "--user-id",
                "t.nosch",
                "--district",
                home,
                "--password-stdin",
            ]
        )
        == 1
    )
    assert "needs a school" in capsys.readouterr().err

    assert main(["users", "list", "--db", str(db)]) == 0
    listing = capsys.readouterr().out
    assert "first.dm" in listing and "data_manager" in listing and "argon2" not in listing
    assert main(["users", "revoke", "--db", str(db), "first.dm", "--reason", "test"]) == 0
    assert "revoked first.dm" in capsys.readouterr().out
    assert main(["users", "revoke", "--db", str(db), "first.dm"]) == 1
    capsys.readouterr()
    pasted = "x" * 100_000  # a file pasted as the ID: refused, not echoed back whole
    assert main(["users", "revoke", "--db", str(db), pasted]) == 1
    err = capsys.readouterr().err
    assert "no user " + "x" * 40 + "... (100000 characters)" in err and len(err) < 200
    blob = b"".join(
        p.read_bytes() for p in db.parent.iterdir() if p.is_file() and not p.is_symlink()
    )
    assert secret.encode() not in blob
    assert search_entries(db, action_prefix="account.create")[0].actor.startswith("cli:")
