"""Sign-in: argon2id password hashes, lockout, idle-expiring server-side sessions, password policy.

The policy requires "restricted access based upon User ID and Password validation". Passwords
are stored only as argon2id hashes (argon2-cffi); a wrong user ID costs the same hash
verification as a wrong password, so timing does not reveal which IDs exist. Failed sign-ins are
counted per submitted user ID (existing or not), so the lockout message reveals nothing either.
A session is a random token handed to the browser; the state database stores only its SHA-256,
so a copy of the database opens no session. No password, hash or token is ever logged: the audit
entries name the user ID and the outcome only.

Times are injected (`now=`) so tests control the clock.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from privacy.access import PUBLIC_USER, Role, User
from privacy.audit_log import AUDIT_DDL, append_event
from privacy.state import open_state, write_transaction
from warehouse.connection import resolve_db_path

USERS_DDL = """
CREATE TABLE IF NOT EXISTS users (
    user_id              TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    role                 TEXT NOT NULL,
    district_id          TEXT,
    school_ids           TEXT NOT NULL DEFAULT '',
    status               TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    password_hash        TEXT NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    demo                 INTEGER NOT NULL DEFAULT 0,
    created_at           TEXT NOT NULL,
    created_by           TEXT NOT NULL,
    revoked_at           TEXT,
    revoked_by           TEXT
);
CREATE TABLE IF NOT EXISTS sign_in_failures (
    user_id      TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    locked_until TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (user_id),
    created_at   TEXT NOT NULL,
    last_seen    TEXT NOT NULL
);
"""

# The Streamlit session-state key under which pages keep the session token.
SESSION_TOKEN_KEY = "edudash_session_token"

USER_ID_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{2,39}$")

# A short list of the most common passwords of 12+ characters and their stems; the policy check
# also rejects any password that is one of these stems padded with digits or punctuation.
COMMON_PASSWORDS = frozenset(
    {
        "123456789012",
        "1234567890123",
        "qwertyuiop12",
        "qwertyuiopasdfgh",
        "password1234",
        "password12345",
        "passwordpassword",
        "iloveyou1234",
        "letmein12345",
        "welcome12345",
        "abc123456789",
        "111111111111",
        "000000000000",
        "aaaaaaaaaaaa",
        "correcthorsebatterystaple",
    }
)
COMMON_STEMS = frozenset(
    {
        "password",
        "passw0rd",
        "qwerty",
        "qwertyuiop",
        "letmein",
        "welcome",
        "iloveyou",
        "admin",
        "administrator",
        "changeme",
        "maine",
        "education",
        "edudash",
        "teacher",
        "student",
        "school",
        "superintendent",
        "registrar",
        "abc",
        "abcdef",
    }
)


@dataclass(frozen=True)
class AuthPolicy:
    """Sign-in settings. `max_failures` failed sign-ins in a row for one user ID lock that ID for
    `lockout` (whether or not it exists); a session unused for `idle_timeout` ends, and any
    session ends after `max_session`. A session's idle timer is written at most once per
    `touch_interval` (so page loads do not all write), which may end it up to that much early.
    The argon2 costs default to argon2-cffi's RFC 9106 low-memory profile; tests may lower
    them, production must not."""

    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    idle_timeout: timedelta = timedelta(minutes=30)
    max_session: timedelta = timedelta(hours=12)
    touch_interval: timedelta = timedelta(minutes=1)
    min_password_length: int = 12
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4


DEFAULT_POLICY = AuthPolicy()


class SignInError(Exception):
    """Sign-in refused. The message is safe to show: it never says whether the ID exists."""


class PasswordPolicyError(ValueError):
    """A proposed password breaks the password policy (the message lists why, not the password)."""


@dataclass(frozen=True)
class Session:
    """A signed-in session. `token` goes to the browser once and is never stored or logged."""

    token: str
    user: User
    must_change_password: bool
    last_seen: datetime


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return now.astimezone(UTC)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


@cache
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def hasher_for(policy: AuthPolicy) -> PasswordHasher:
    """The argon2id hasher with the policy's costs."""
    return _hasher(policy.argon2_time_cost, policy.argon2_memory_kib, policy.argon2_parallelism)


@cache
def _dummy_hash(time_cost: int, memory_kib: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_kib, parallelism).hash(secrets.token_hex(16))


def hash_password(password: str, policy: AuthPolicy = DEFAULT_POLICY) -> str:
    """The argon2id hash (with a random salt) to store; the password itself is never stored."""
    return hasher_for(policy).hash(password)


def verify_password(stored_hash: str, password: str, policy: AuthPolicy = DEFAULT_POLICY) -> bool:
    """Whether `password` matches `stored_hash` (argon2 compares in constant time)."""
    try:
        return hasher_for(policy).verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def normalize_user_id(user_id: str) -> str:
    """User IDs are case-insensitive: stored and compared in lower case, trimmed."""
    return user_id.strip().lower()


def check_user_id(user_id: str) -> str:
    """The normalised ID, or ValueError: 3-40 characters, a letter then letters, digits, . _ -."""
    uid = normalize_user_id(user_id)
    if not USER_ID_PATTERN.fullmatch(uid):
        raise ValueError(
            "a user ID is 3-40 characters: a letter, then letters, digits, '.', '_' or '-'"
        )
    return uid


def password_problems(
    password: str, user_id: str, policy: AuthPolicy = DEFAULT_POLICY
) -> list[str]:
    """Why `password` breaks the policy (empty when it is acceptable). Never echoes it."""
    problems: list[str] = []
    if len(password) < policy.min_password_length:
        problems.append(f"use at least {policy.min_password_length} characters")
    lowered = password.lower()
    uid = normalize_user_id(user_id)
    if uid and uid in lowered:
        problems.append("do not include your user ID")
    letters = re.sub(r"[^a-z]", "", lowered)
    if (
        lowered in COMMON_PASSWORDS
        or letters in COMMON_STEMS
        or (letters == "" and len(set(lowered)) < 6)
    ):
        problems.append("this is a commonly used password")
    if len(set(password)) < 5:
        problems.append("use more different characters")
    return problems


def check_password_policy(password: str, user_id: str, policy: AuthPolicy = DEFAULT_POLICY) -> None:
    """Raise PasswordPolicyError listing every rule `password` breaks."""
    problems = password_problems(password, user_id, policy)
    if problems:
        raise PasswordPolicyError("password rejected: " + "; ".join(problems))


def generate_password(user_id: str, policy: AuthPolicy = DEFAULT_POLICY) -> str:
    """A random password that meets the policy (for one-time initial and demo passwords)."""
    while True:
        candidate = secrets.token_urlsafe(15)
        if not password_problems(candidate, user_id, policy):
            return candidate


def open_auth(db_path: str | os.PathLike[str] | None) -> sqlite3.Connection:
    """The state database with the user, session and audit tables in place."""
    return open_state(resolve_db_path(db_path), USERS_DDL, AUDIT_DDL)


def user_from_row(row: sqlite3.Row) -> User:
    """A `User` from a `users` row (never carrying the hash)."""
    schools = tuple(s for s in row["school_ids"].split(",") if s)
    return User(row["user_id"], Role(row["role"]), row["name"], row["district_id"], schools)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _lock_state(con: sqlite3.Connection, uid: str) -> tuple[int, datetime | None]:
    row = con.execute(
        "SELECT failures, locked_until FROM sign_in_failures WHERE user_id = ?", (uid,)
    ).fetchone()
    if row is None:
        return 0, None
    locked = datetime.fromisoformat(row["locked_until"]) if row["locked_until"] else None
    return row["failures"], locked


def sign_in(
    db_path: str | os.PathLike[str] | None,
    user_id: str,
    password: str,
    *,
    policy: AuthPolicy = DEFAULT_POLICY,
    now: datetime | None = None,
) -> Session:
    """Check a user ID and password; on success open a session, else raise SignInError.

    Every attempt is recorded in the audit trail (user ID and outcome, never the password).
    After `policy.max_failures` failures in a row the ID is locked for `policy.lockout`, and
    even the right password is refused until then.
    """
    at = _now(now)
    uid = normalize_user_id(user_id)[:80]
    generic = "the user ID or password is wrong"
    con = open_auth(db_path)
    try:
        failures, locked_until = _lock_state(con, uid)
        if locked_until is not None and locked_until > at:
            with write_transaction(con):
                append_event(
                    con, db_path, uid or "?", "sign_in.failure", {"reason": "locked"}, now=at
                )
            minutes = max(1, int((locked_until - at).total_seconds() // 60) + 1)
            raise SignInError(f"too many failed sign-ins; try again in {minutes} minutes")
        row = con.execute("SELECT * FROM users WHERE user_id = ?", (uid,)).fetchone()
        p = policy
        if row is None or row["status"] != "active":
            verify_password(
                _dummy_hash(p.argon2_time_cost, p.argon2_memory_kib, p.argon2_parallelism),
                password,
                policy,
            )
            ok = False
            reason = "unknown user" if row is None else "account revoked"
        else:
            ok = verify_password(row["password_hash"], password, policy)
            reason = "wrong password"
        if not ok:
            with write_transaction(con):
                failures, locked_until = _lock_state(con, uid)
                if locked_until is not None and locked_until <= at:
                    failures = 0
                failures += 1
                lock = _iso(at + policy.lockout) if failures >= policy.max_failures else None
                con.execute(
                    "INSERT INTO sign_in_failures (user_id, failures, locked_until) VALUES (?, ?, ?)"
                    " ON CONFLICT (user_id) DO UPDATE SET failures = excluded.failures,"
                    " locked_until = excluded.locked_until",
                    (uid, 0 if lock else failures, lock),
                )
                details = {"reason": reason, "failures_in_a_row": failures}
                if lock:
                    details["locked_until"] = lock
                append_event(con, db_path, uid or "?", "sign_in.failure", details, now=at)
            raise SignInError(generic)
        token = secrets.token_urlsafe(32)
        hasher = hasher_for(policy)
        rehashed = (
            hasher.hash(password) if hasher.check_needs_rehash(row["password_hash"]) else None
        )
        with write_transaction(con):
            _, locked_until = _lock_state(con, uid)
            locked = locked_until is not None and locked_until > at
            if locked:
                append_event(con, db_path, uid, "sign_in.failure", {"reason": "locked"}, now=at)
            else:
                con.execute("DELETE FROM sign_in_failures WHERE user_id = ?", (uid,))
                if rehashed:
                    con.execute(
                        "UPDATE users SET password_hash = ? WHERE user_id = ?", (rehashed, uid)
                    )
                con.execute(
                    "INSERT INTO sessions (token_sha256, user_id, created_at, last_seen)"
                    " VALUES (?, ?, ?, ?)",
                    (_token_digest(token), uid, _iso(at), _iso(at)),
                )
                append_event(con, db_path, uid, "sign_in.success", {"role": row["role"]}, now=at)
        if locked:
            raise SignInError("too many failed sign-ins; try again later")
        return Session(token, user_from_row(row), bool(row["must_change_password"]), at)
    finally:
        con.close()


def current_session(
    db_path: str | os.PathLike[str] | None,
    token: str | None,
    *,
    policy: AuthPolicy = DEFAULT_POLICY,
    now: datetime | None = None,
) -> Session | None:
    """The live session for `token` (refreshing its idle timer), or None when the token is
    unknown, idle longer than `policy.idle_timeout`, older than `policy.max_session`, or its
    user has been revoked. Role and scope are re-read from the database on every call."""
    if not token:
        return None
    at = _now(now)
    digest = _token_digest(token)
    query = (
        "SELECT s.created_at, s.last_seen, u.* FROM sessions s JOIN users u USING (user_id)"
        " WHERE s.token_sha256 = ?"
    )
    con = open_auth(db_path)
    try:
        row = con.execute(query, (digest,)).fetchone()
        if row is None:
            return None
        idle = at - datetime.fromisoformat(row["last_seen"])
        age = at - datetime.fromisoformat(row["created_at"])
        if idle > policy.idle_timeout or age > policy.max_session or row["status"] != "active":
            with write_transaction(con):
                gone = con.execute("DELETE FROM sessions WHERE token_sha256 = ?", (digest,))
                if gone.rowcount:
                    reason = "revoked" if row["status"] != "active" else "expired"
                    append_event(
                        con, db_path, row["user_id"], "session.end", {"reason": reason}, now=at
                    )
            return None
        if idle >= policy.touch_interval:
            with write_transaction(con):
                con.execute(
                    "UPDATE sessions SET last_seen = ? WHERE token_sha256 = ? AND last_seen < ?",
                    (_iso(at), digest, _iso(at)),
                )
        return Session(token, user_from_row(row), bool(row["must_change_password"]), at)
    finally:
        con.close()


def current_user(
    db_path: str | os.PathLike[str] | None,
    token: str | None,
    *,
    policy: AuthPolicy = DEFAULT_POLICY,
    now: datetime | None = None,
) -> User | None:
    """The signed-in user for a session token, or None (then treat the viewer as the public)."""
    session = current_session(db_path, token, policy=policy, now=now)
    return session.user if session else None


def viewer(
    db_path: str | os.PathLike[str] | None,
    token: str | None,
    *,
    policy: AuthPolicy = DEFAULT_POLICY,
    now: datetime | None = None,
) -> User:
    """Who is looking at a page: the signed-in user of `token`, else the public."""
    return current_user(db_path, token, policy=policy, now=now) or PUBLIC_USER


def sign_out(
    db_path: str | os.PathLike[str] | None, token: str | None, *, now: datetime | None = None
) -> None:
    """End the session for `token` (no-op when it is unknown)."""
    if not token:
        return
    con = open_auth(db_path)
    try:
        with write_transaction(con):
            row = con.execute(
                "SELECT user_id FROM sessions WHERE token_sha256 = ?", (_token_digest(token),)
            ).fetchone()
            if row is not None:
                con.execute("DELETE FROM sessions WHERE token_sha256 = ?", (_token_digest(token),))
                append_event(
                    con, db_path, row["user_id"], "session.end", {"reason": "signed out"}, now=now
                )
    finally:
        con.close()


def change_password(
    db_path: str | os.PathLike[str] | None,
    user_id: str,
    old_password: str,
    new_password: str,
    *,
    policy: AuthPolicy = DEFAULT_POLICY,
    now: datetime | None = None,
) -> None:
    """Replace a user's password after checking the old one (used to retire one-time initial
    passwords). Raises SignInError for a wrong old password, PasswordPolicyError for a weak one."""
    at = _now(now)
    uid = normalize_user_id(user_id)
    check_password_policy(new_password, uid, policy)
    if new_password == old_password:
        raise PasswordPolicyError("password rejected: choose a new password")
    con = open_auth(db_path)
    try:
        row = con.execute(
            "SELECT password_hash, status FROM users WHERE user_id = ?", (uid,)
        ).fetchone()
        if (
            row is None
            or row["status"] != "active"
            or not verify_password(row["password_hash"], old_password, policy)
        ):
            raise SignInError("the current password is wrong")
        new_hash = hash_password(new_password, policy)
        with write_transaction(con):
            con.execute(
                "UPDATE users SET password_hash = ?, must_change_password = 0 WHERE user_id = ?",
                (new_hash, uid),
            )
            append_event(con, db_path, uid, "password.change", {}, now=at)
    finally:
        con.close()
