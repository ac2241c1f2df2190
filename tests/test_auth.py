"""Sign-in: argon2id hashes, password policy, lockout and idle expiry on an injected clock, and
no plaintext password or token anywhere on disk or in logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from privacy import auth
from privacy.access import Role
from privacy.audit_log import search_entries, verify_chain
from privacy.auth import (
    AuthPolicy,
    PasswordPolicyError,
    SignInError,
    change_password,
    check_password_policy,
    current_user,
    hash_password,
    password_problems,
    sign_in,
    sign_out,
    verify_password,
)
from privacy.users import Operator, create_user, revoke_user
from tests.access_helpers import FAST, memory_folder, private_db

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
PASSWORD = "Blue-Lobster-Harbor-42"
OPERATOR = Operator("tester")


@pytest.fixture
def db(built_db: Path, tmp_path: Path) -> Iterator[Path]:
    with memory_folder(tmp_path) as folder:
        yield _with_manager(private_db(built_db, folder))


def _with_manager(path: Path) -> Path:
    create_user(
        path,
        user_id="dm.jones",
        role=Role.DATA_MANAGER,
        password=PASSWORD,
        name="Dana Jones",
        created_by=OPERATOR,
        policy=FAST,
        now=T0,
    )
    return path


def test_hash_is_argon2id_and_salted() -> None:
    h1, h2 = hash_password(PASSWORD, FAST), hash_password(PASSWORD, FAST)
    assert h1.startswith("$argon2id$") and h1 != h2
    assert PASSWORD not in h1
    assert verify_password(h1, PASSWORD, FAST)
    assert not verify_password(h1, PASSWORD + "x", FAST)
    assert not verify_password("not a hash", PASSWORD, FAST)


def test_default_policy_uses_library_costs() -> None:
    assert AuthPolicy().argon2_memory_kib >= 65536 and AuthPolicy().argon2_time_cost >= 3
    assert AuthPolicy().max_failures == 5 and AuthPolicy().lockout == timedelta(minutes=15)


@pytest.mark.parametrize(
    "password, user_id, problem",
    [
        ("short-Pw1", "kim", "at least 12"),
        ("kim.lee-is-great-2026", "kim.lee", "user ID"),
        ("KIM.LEE-is-great-2026", "kim.lee", "user ID"),
        ("password1234", "kim", "commonly used"),
        ("Password!!2026", "kim", "commonly used"),
        ("123456789012", "kim", "commonly used"),
        ("aaaaaaaaaaaaaaaa", "kim", "different characters"),
    ],
)
def test_password_policy_rejects(password: str, user_id: str, problem: str) -> None:
    problems = password_problems(password, user_id)
    assert any(problem in p for p in problems), problems
    with pytest.raises(PasswordPolicyError) as err:
        check_password_policy(password, user_id)
    assert password not in str(err.value)


@pytest.mark.parametrize("password", [PASSWORD, "correct horse battery staple 9", "Zq8!vK2#pL5@"])
def test_password_policy_accepts(password: str) -> None:
    assert password_problems(password, "kim") == []


def test_sign_in_opens_a_session(db: Path) -> None:
    session = sign_in(db, "DM.Jones ", PASSWORD, policy=FAST, now=T0)
    assert session.user.user_id == "dm.jones" and session.user.role == Role.DATA_MANAGER
    assert not session.must_change_password
    assert (
        current_user(db, session.token, policy=FAST, now=T0 + timedelta(minutes=1)) == session.user
    )
    assert current_user(db, "forged-token", policy=FAST, now=T0) is None
    assert current_user(db, None, policy=FAST, now=T0) is None
    actions = [e.action for e in search_entries(db, actor="dm.jones")]
    assert "sign_in.success" in actions


def test_wrong_password_and_unknown_user_look_the_same(db: Path) -> None:
    with pytest.raises(SignInError) as wrong:
        sign_in(db, "dm.jones", "not-the-password-1", policy=FAST, now=T0)
    with pytest.raises(SignInError) as unknown:
        sign_in(db, "nobody.here", "not-the-password-1", policy=FAST, now=T0)
    assert str(wrong.value) == str(unknown.value)
    failures = search_entries(db, action_prefix="sign_in.failure")
    assert {e.actor for e in failures} == {"dm.jones", "nobody.here"}


def test_lockout_after_five_failures_for_fifteen_minutes(db: Path) -> None:
    for i in range(5):
        with pytest.raises(SignInError, match="wrong"):
            sign_in(
                db,
                "dm.jones",
                f"wrong-password-{i:03d}",
                policy=FAST,
                now=T0 + timedelta(seconds=i),
            )
    locked_at = T0 + timedelta(seconds=4)
    # the right password is refused while locked
    with pytest.raises(SignInError, match="too many"):
        sign_in(
            db, "dm.jones", PASSWORD, policy=FAST, now=locked_at + timedelta(minutes=14, seconds=59)
        )
    session = sign_in(
        db, "dm.jones", PASSWORD, policy=FAST, now=locked_at + timedelta(minutes=15, seconds=1)
    )
    assert session.user.user_id == "dm.jones"
    entry = search_entries(db, action_prefix="sign_in.failure", limit=2)[-1]
    assert entry.details["failures_in_a_row"] == 5 and "locked_until" in entry.details


def test_success_resets_the_failure_count(db: Path) -> None:
    for i in range(4):
        with pytest.raises(SignInError):
            sign_in(
                db, "dm.jones", "wrong-password-xyz", policy=FAST, now=T0 + timedelta(seconds=i)
            )
    sign_in(db, "dm.jones", PASSWORD, policy=FAST, now=T0 + timedelta(seconds=5))
    for i in range(4):
        with pytest.raises(SignInError, match="wrong"):
            sign_in(
                db,
                "dm.jones",
                "wrong-password-xyz",
                policy=FAST,
                now=T0 + timedelta(seconds=10 + i),
            )
    sign_in(db, "dm.jones", PASSWORD, policy=FAST, now=T0 + timedelta(seconds=20))


def test_lockout_is_configurable_and_applies_to_unknown_ids_too(db: Path) -> None:
    policy = AuthPolicy(
        max_failures=2,
        lockout=timedelta(minutes=1),
        argon2_time_cost=1,
        argon2_memory_kib=8,
        argon2_parallelism=1,
    )
    for uid in ("dm.jones", "ghost.user"):
        for _ in range(2):
            with pytest.raises(SignInError, match="wrong"):
                sign_in(db, uid, "wrong-password-xyz", policy=policy, now=T0)
        with pytest.raises(SignInError, match="too many"):
            sign_in(db, uid, PASSWORD, policy=policy, now=T0 + timedelta(seconds=30))
    assert sign_in(db, "dm.jones", PASSWORD, policy=policy, now=T0 + timedelta(seconds=61))


def test_idle_sessions_expire(db: Path) -> None:
    policy = AuthPolicy(
        idle_timeout=timedelta(minutes=30),
        argon2_time_cost=1,
        argon2_memory_kib=8,
        argon2_parallelism=1,
    )
    token = sign_in(db, "dm.jones", PASSWORD, policy=policy, now=T0).token
    # activity every 29 minutes keeps it alive for two hours
    at = T0
    for _ in range(4):
        at += timedelta(minutes=29)
        assert current_user(db, token, policy=policy, now=at) is not None
    assert current_user(db, token, policy=policy, now=at + timedelta(minutes=31)) is None
    # once expired it stays gone
    assert current_user(db, token, policy=policy, now=at + timedelta(minutes=32)) is None
    assert any(
        e.details.get("reason") == "expired"
        for e in search_entries(db, action_prefix="session.end")
    )


def test_page_loads_within_a_minute_do_not_write(db: Path) -> None:
    token = sign_in(db, "dm.jones", PASSWORD, policy=FAST, now=T0).token

    def last_seen() -> str:
        con = auth.open_auth(db)
        try:
            return con.execute("SELECT last_seen FROM sessions").fetchone()[0]
        finally:
            con.close()

    before = last_seen()
    assert current_user(db, token, policy=FAST, now=T0 + timedelta(seconds=30))
    assert last_seen() == before
    assert current_user(db, token, policy=FAST, now=T0 + timedelta(minutes=2))
    assert last_seen() > before


def test_sessions_have_a_maximum_age(db: Path) -> None:
    policy = AuthPolicy(
        max_session=timedelta(hours=1),
        argon2_time_cost=1,
        argon2_memory_kib=8,
        argon2_parallelism=1,
    )
    token = sign_in(db, "dm.jones", PASSWORD, policy=policy, now=T0).token
    for minutes in (10, 20, 30, 40, 50, 60):
        assert current_user(db, token, policy=policy, now=T0 + timedelta(minutes=minutes))
    assert current_user(db, token, policy=policy, now=T0 + timedelta(minutes=61)) is None


def test_sign_out_ends_the_session(db: Path) -> None:
    token = sign_in(db, "dm.jones", PASSWORD, policy=FAST, now=T0).token
    sign_out(db, token, now=T0)
    assert current_user(db, token, policy=FAST, now=T0) is None


def test_revoked_user_loses_sessions_and_sign_in(db: Path) -> None:
    token = sign_in(db, "dm.jones", PASSWORD, policy=FAST, now=T0).token
    revoke_user(db, OPERATOR, "dm.jones", reason="left MDOE", now=T0)
    assert current_user(db, token, policy=FAST, now=T0) is None
    with pytest.raises(SignInError, match="wrong"):
        sign_in(db, "dm.jones", PASSWORD, policy=FAST, now=T0)


def test_role_changes_apply_to_live_sessions(db: Path) -> None:
    token = sign_in(db, "dm.jones", PASSWORD, policy=FAST, now=T0).token
    con = auth.open_auth(db)
    con.execute("UPDATE users SET role = 'reporting' WHERE user_id = 'dm.jones'")
    con.close()
    assert current_user(db, token, policy=FAST, now=T0).role == Role.REPORTING


def test_change_password(db: Path) -> None:
    new = "Granite-Coast-Fog-77"
    with pytest.raises(SignInError):
        change_password(db, "dm.jones", "wrong-old-password", new, policy=FAST, now=T0)
    with pytest.raises(PasswordPolicyError):
        change_password(db, "dm.jones", PASSWORD, "dm.jones-2026-pw", policy=FAST, now=T0)
    change_password(db, "dm.jones", PASSWORD, new, policy=FAST, now=T0)
    with pytest.raises(SignInError):
        sign_in(db, "dm.jones", PASSWORD, policy=FAST, now=T0)
    assert sign_in(db, "dm.jones", new, policy=FAST, now=T0)


def _disk_bytes(db: Path) -> bytes:
    folder = db.parent
    return b"".join(
        p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and not p.is_symlink()
    )


def test_no_plaintext_password_or_token_on_disk_or_in_logs(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    session = sign_in(db, "dm.jones", PASSWORD, policy=FAST, now=T0)
    with pytest.raises(SignInError):
        sign_in(db, "dm.jones", PASSWORD + "-typo", policy=FAST, now=T0)
    change_password(db, "dm.jones", PASSWORD, "Granite-Coast-Fog-77", policy=FAST, now=T0)
    current_user(db, session.token, policy=FAST, now=T0)
    blob = _disk_bytes(db)  # the state database, its WAL, and the audit key
    assert b"dm.jones" in blob  # sanity: we are looking at the right files
    for secret in (PASSWORD, PASSWORD + "-typo", "Granite-Coast-Fog-77", session.token):
        assert secret.encode() not in blob
        assert secret not in caplog.text
    for entry in search_entries(db):
        text = repr(entry.details)
        assert PASSWORD not in text and "argon2" not in text
    assert verify_chain(db).ok


def test_naive_times_are_refused(db: Path) -> None:
    with pytest.raises(ValueError, match="timezone"):
        sign_in(db, "dm.jones", PASSWORD, policy=FAST, now=datetime(2026, 1, 1))
