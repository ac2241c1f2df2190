"""Accounts: creating users, the Login Request Form, approvals, denials and revocations.

The policy: "Only individuals who have been authorized through submission of a signed Login
Request Form or through their designated District Administrator are allowed access", and "all
approvals ... will be documented and maintained by the Education Data Manager". Who may decide
which request is `privacy.access.can_approve`. Every creation, approval, denial and revocation is
written to the `access_decisions` table and to the audit trail in the same transaction.

An approved request becomes an account with a one-time initial password, returned once to the
approver to hand over; its holder must change it after signing in. The first Education Data
Manager is made at the command line (`edudash users create`); there are no default passwords.
"""

from __future__ import annotations

import getpass
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from privacy.access import ROLE_RULES, Role, User, can_approve, can_revoke, parse_role
from privacy.audit_log import append_event
from privacy.auth import (
    DEFAULT_POLICY,
    AuthPolicy,
    check_password_policy,
    check_user_id,
    generate_password,
    hash_password,
    open_auth,
    user_from_row,
)
from privacy.state import write_transaction
from warehouse import records_sql
from warehouse.connection import connect_readonly, resolve_db_path

ACCOUNTS_DDL = """
CREATE TABLE IF NOT EXISTS account_requests (
    request_id          INTEGER PRIMARY KEY,
    requested_user_id   TEXT NOT NULL,
    name                TEXT NOT NULL,
    role                TEXT NOT NULL,
    district_id         TEXT,
    school_id           TEXT,
    justification       TEXT NOT NULL,
    policy_acknowledged INTEGER NOT NULL CHECK (policy_acknowledged = 1),
    submitted_at        TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
    decided_by          TEXT,
    decided_at          TEXT,
    decision_note       TEXT
);
CREATE TABLE IF NOT EXISTS access_decisions (
    decision_id INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('create', 'approve', 'deny', 'revoke')),
    user_id     TEXT NOT NULL,
    role        TEXT NOT NULL,
    district_id TEXT,
    request_id  INTEGER,
    note        TEXT NOT NULL DEFAULT ''
);
"""

MIN_JUSTIFICATION = 20
MAX_TEXT = 2000


class ApprovalError(PermissionError):
    """The actor may not take this decision (wrong role or another district)."""


@dataclass(frozen=True)
class Operator:
    """Someone at the command line with access to the server: may create and revoke any account.
    Recorded in the audit trail as `cli:<name>`."""

    name: str

    @property
    def label(self) -> str:
        return f"cli:{self.name}"


def cli_operator() -> Operator:
    """The operator running this process (their login name)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Operator(name)


Actor = User | Operator


@dataclass(frozen=True)
class AccountInfo:
    """An account as the approvals page and `edudash users list` show it (never the hash)."""

    user: User
    status: str
    must_change_password: bool
    demo: bool
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None


@dataclass(frozen=True)
class AccountRequest:
    """A submitted Login Request Form and its decision."""

    request_id: int
    requested_user_id: str
    name: str
    role: Role
    district_id: str | None
    school_id: str | None
    justification: str
    submitted_at: datetime
    status: str
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None


@dataclass(frozen=True)
class AccessDecision:
    """One recorded creation, approval, denial or revocation."""

    decision_id: int
    at: datetime
    actor: str
    action: str
    user_id: str
    role: Role
    district_id: str | None
    request_id: int | None
    note: str


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def open_accounts(db_path: str | os.PathLike[str] | None) -> sqlite3.Connection:
    """The state database with user, session, account and audit tables in place."""
    con = open_auth(db_path)
    con.executescript(ACCOUNTS_DDL)
    return con


def _actor_label(actor: Actor) -> str:
    return actor.label if isinstance(actor, Operator) else actor.user_id


def _clean_text(value: str | None, what: str, *, required: bool, min_len: int = 1) -> str:
    text = " ".join((value or "").split())
    if required and len(text) < min_len:
        raise ValueError(
            f"{what} is required" + (f" ({min_len}+ characters)" if min_len > 1 else "")
        )
    if len(text) > MAX_TEXT:
        raise ValueError(f"{what} is too long (at most {MAX_TEXT} characters)")
    return text


def check_placement(
    db_path: str | os.PathLike[str] | None,
    role: Role,
    district_id: str | None,
    school_ids: tuple[str, ...],
) -> tuple[str | None, tuple[str, ...]]:
    """The (district, schools) an account of `role` is granted, checked against the warehouse:
    roles scoped to a district need an existing district; teachers need schools in it;
    statewide roles take neither."""
    rule = ROLE_RULES[role]
    district = (district_id or "").strip() or None
    schools = tuple(dict.fromkeys(s.strip() for s in school_ids if s and s.strip()))
    if not rule.needs_district:
        if district or schools:
            raise ValueError(f"the {role.value} role is statewide: give no district or school")
        return None, ()
    if not district:
        raise ValueError(f"the {role.value} role needs a district")
    if rule.needs_school and not schools:
        raise ValueError(f"the {role.value} role needs a school")
    if not rule.needs_school and schools:
        raise ValueError(f"the {role.value} role is district-wide: give no school")
    con = connect_readonly(resolve_db_path(db_path))
    try:
        if not records_sql.district_exists(con, district):
            raise ValueError(f"there is no district {district}")
        found = records_sql.school_districts(con, schools)
    finally:
        con.close()
    for school in schools:
        if found.get(school) != district:
            raise ValueError(f"school {school} is not a school of district {district}")
    return district, schools


def _decide(
    con: sqlite3.Connection,
    db_path: str | os.PathLike[str] | None,
    at: datetime,
    actor: str,
    action: str,
    user_id: str,
    role: Role,
    district_id: str | None,
    request_id: int | None,
    note: str,
) -> None:
    con.execute(
        "INSERT INTO access_decisions (at, actor, action, user_id, role, district_id, request_id,"
        " note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (_iso(at), actor, action, user_id, role.value, district_id, request_id, note),
    )
    details = {"user_id": user_id, "role": role.value, "district_id": district_id}
    if request_id is not None:
        details["request_id"] = request_id
    if note:
        details["note"] = note
    append_event(con, db_path, actor, f"account.{action}", details, now=at)


def _insert_user(
    con: sqlite3.Connection,
    *,
    user_id: str,
    name: str,
    role: Role,
    district_id: str | None,
    school_ids: tuple[str, ...],
    password_hash: str,
    must_change: bool,
    demo: bool,
    at: datetime,
    created_by: str,
) -> None:
    con.execute(
        "INSERT INTO users (user_id, name, role, district_id, school_ids, status, password_hash,"
        " must_change_password, demo, created_at, created_by)"
        " VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?)",
        (
            user_id,
            name,
            role.value,
            district_id,
            ",".join(school_ids),
            password_hash,
            int(must_change),
            int(demo),
            _iso(at),
            created_by,
        ),
    )


def create_user(
    db_path: str | os.PathLike[str] | None,
    *,
    user_id: str,
    role: Role | str,
    password: str,
    name: str = "",
    district_id: str | None = None,
    school_ids: tuple[str, ...] = (),
    created_by: Operator,
    policy: AuthPolicy = DEFAULT_POLICY,
    now: datetime | None = None,
) -> User:
    """Create an account directly (command line only; pages go through requests and approvals).

    The password must meet the policy; only its argon2id hash is stored.
    """
    at = _now(now)
    uid = check_user_id(user_id)
    role = parse_role(role) if isinstance(role, str) else role
    if role == Role.PUBLIC:
        raise ValueError("the public needs no account")
    check_password_policy(password, uid, policy)
    district, schools = check_placement(db_path, role, district_id, school_ids)
    display = _clean_text(name, "name", required=False) or uid
    password_hash = hash_password(password, policy)
    con = open_accounts(db_path)
    try:
        with write_transaction(con):
            if con.execute("SELECT 1 FROM users WHERE user_id = ?", (uid,)).fetchone():
                raise ValueError(f"user {uid} already exists")
            _insert_user(
                con,
                user_id=uid,
                name=display,
                role=role,
                district_id=district,
                school_ids=schools,
                password_hash=password_hash,
                must_change=False,
                demo=False,
                at=at,
                created_by=created_by.label,
            )
            _decide(con, db_path, at, created_by.label, "create", uid, role, district, None, "")
    finally:
        con.close()
    return User(uid, role, display, district, schools)


def get_user(db_path: str | os.PathLike[str] | None, user_id: str) -> User | None:
    """The active user with this ID, or None."""
    con = open_accounts(db_path)
    try:
        row = con.execute(
            "SELECT * FROM users WHERE user_id = ? AND status = 'active'",
            (user_id.strip().lower(),),
        ).fetchone()
    finally:
        con.close()
    return user_from_row(row) if row else None


def _account(row: sqlite3.Row) -> AccountInfo:
    return AccountInfo(
        user=user_from_row(row),
        status=row["status"],
        must_change_password=bool(row["must_change_password"]),
        demo=bool(row["demo"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        created_by=row["created_by"],
        revoked_at=_dt(row["revoked_at"]),
        revoked_by=row["revoked_by"],
    )


def list_accounts(db_path: str | os.PathLike[str] | None, viewer: Actor) -> list[AccountInfo]:
    """The accounts `viewer` may revoke (an operator and the Education Data Manager see all),
    ordered by user ID."""
    con = open_accounts(db_path)
    try:
        rows = con.execute("SELECT * FROM users ORDER BY user_id").fetchall()
    finally:
        con.close()
    accounts = [_account(r) for r in rows]
    if isinstance(viewer, Operator):
        return accounts
    return [a for a in accounts if can_revoke(viewer, a.user)]


def submit_account_request(
    db_path: str | os.PathLike[str] | None,
    *,
    user_id: str,
    name: str,
    role: Role | str,
    district_id: str | None,
    school_id: str | None,
    justification: str,
    policy_acknowledged: bool,
    now: datetime | None = None,
) -> AccountRequest:
    """File a Login Request Form. Nothing is granted until an approver decides it.

    The requested district and school are checked against the warehouse (a teacher's school must
    belong to the district whose administrator will approve it).
    """
    at = _now(now)
    if policy_acknowledged is not True:
        raise ValueError("you must acknowledge the MDOE data privacy policy")
    uid = check_user_id(user_id)
    role = parse_role(role) if isinstance(role, str) else role
    if role == Role.PUBLIC:
        raise ValueError("the public needs no account")
    display = _clean_text(name, "name", required=True)
    reason = _clean_text(justification, "justification", required=True, min_len=MIN_JUSTIFICATION)
    district, schools = check_placement(db_path, role, district_id, (school_id or "",))
    con = open_accounts(db_path)
    try:
        with write_transaction(con):
            if (
                con.execute("SELECT 1 FROM users WHERE user_id = ?", (uid,)).fetchone()
                or con.execute(
                    "SELECT 1 FROM account_requests WHERE requested_user_id = ? AND status = 'pending'",
                    (uid,),
                ).fetchone()
            ):
                raise ValueError(f"the user ID {uid} is taken; choose another")
            cur = con.execute(
                "INSERT INTO account_requests (requested_user_id, name, role, district_id,"
                " school_id, justification, policy_acknowledged, submitted_at, status)"
                " VALUES (?, ?, ?, ?, ?, ?, 1, ?, 'pending')",
                (
                    uid,
                    display,
                    role.value,
                    district,
                    schools[0] if schools else None,
                    reason,
                    _iso(at),
                ),
            )
            request_id = int(cur.lastrowid or 0)
            append_event(
                con,
                db_path,
                "public",
                "account.request",
                {
                    "request_id": request_id,
                    "user_id": uid,
                    "role": role.value,
                    "district_id": district,
                },
                now=at,
            )
    finally:
        con.close()
    return _load_request(db_path, request_id)


def _request(row: sqlite3.Row) -> AccountRequest:
    return AccountRequest(
        request_id=row["request_id"],
        requested_user_id=row["requested_user_id"],
        name=row["name"],
        role=Role(row["role"]),
        district_id=row["district_id"],
        school_id=row["school_id"],
        justification=row["justification"],
        submitted_at=datetime.fromisoformat(row["submitted_at"]),
        status=row["status"],
        decided_by=row["decided_by"],
        decided_at=_dt(row["decided_at"]),
        decision_note=row["decision_note"],
    )


def _load_request(db_path: str | os.PathLike[str] | None, request_id: int) -> AccountRequest:
    con = open_accounts(db_path)
    try:
        row = con.execute(
            "SELECT * FROM account_requests WHERE request_id = ?", (request_id,)
        ).fetchone()
    finally:
        con.close()
    if row is None:
        raise LookupError(f"no account request {request_id}")
    return _request(row)


def account_requests(
    db_path: str | os.PathLike[str] | None, approver: User, *, status: str | None = "pending"
) -> list[AccountRequest]:
    """The requests `approver` may decide (status None = all), oldest first."""
    con = open_accounts(db_path)
    try:
        if status is None:
            rows = con.execute("SELECT * FROM account_requests ORDER BY request_id").fetchall()
        else:
            rows = con.execute(
                "SELECT * FROM account_requests WHERE status = ? ORDER BY request_id", (status,)
            ).fetchall()
    finally:
        con.close()
    return [r for r in map(_request, rows) if can_approve(approver, r)]


def _pending_for(con: sqlite3.Connection, approver: User, request_id: int) -> AccountRequest:
    row = con.execute(
        "SELECT * FROM account_requests WHERE request_id = ?", (request_id,)
    ).fetchone()
    if row is None:
        raise LookupError(f"no account request {request_id}")
    request = _request(row)
    if not can_approve(approver, request):
        raise ApprovalError(f"you may not decide request {request_id}")
    if request.status != "pending":
        raise ValueError(f"request {request_id} was already {request.status}")
    return request


def approve_request(
    db_path: str | os.PathLike[str] | None,
    approver: User,
    request_id: int,
    *,
    note: str = "",
    policy: AuthPolicy = DEFAULT_POLICY,
    now: datetime | None = None,
) -> tuple[User, str]:
    """Approve a pending request: create the account and return it with its one-time initial
    password (show it once to the approver; its holder must change it at first sign-in)."""
    at = _now(now)
    text = _clean_text(note, "note", required=False)
    con = open_accounts(db_path)
    try:
        request = _pending_for(con, approver, request_id)
        schools = (request.school_id,) if request.school_id else ()
        # The warehouse may have been rebuilt since the request: the grant must still be valid.
        check_placement(db_path, request.role, request.district_id, schools)
        password = generate_password(request.requested_user_id, policy)
        password_hash = hash_password(password, policy)
        with write_transaction(con):
            request = _pending_for(con, approver, request_id)
            if con.execute(
                "SELECT 1 FROM users WHERE user_id = ?", (request.requested_user_id,)
            ).fetchone():
                raise ValueError(
                    f"the user ID {request.requested_user_id} is taken; deny this request"
                )
            _insert_user(
                con,
                user_id=request.requested_user_id,
                name=request.name,
                role=request.role,
                district_id=request.district_id,
                school_ids=schools,
                password_hash=password_hash,
                must_change=True,
                demo=False,
                at=at,
                created_by=approver.user_id,
            )
            con.execute(
                "UPDATE account_requests SET status = 'approved', decided_by = ?, decided_at = ?,"
                " decision_note = ? WHERE request_id = ?",
                (approver.user_id, _iso(at), text, request_id),
            )
            _decide(
                con,
                db_path,
                at,
                approver.user_id,
                "approve",
                request.requested_user_id,
                request.role,
                request.district_id,
                request_id,
                text,
            )
    finally:
        con.close()
    user = User(request.requested_user_id, request.role, request.name, request.district_id, schools)
    return user, password


def deny_request(
    db_path: str | os.PathLike[str] | None,
    approver: User,
    request_id: int,
    *,
    note: str = "",
    now: datetime | None = None,
) -> AccountRequest:
    """Deny a pending request, recording who, when and why."""
    at = _now(now)
    text = _clean_text(note, "note", required=False)
    con = open_accounts(db_path)
    try:
        with write_transaction(con):
            request = _pending_for(con, approver, request_id)
            con.execute(
                "UPDATE account_requests SET status = 'denied', decided_by = ?, decided_at = ?,"
                " decision_note = ? WHERE request_id = ?",
                (approver.user_id, _iso(at), text, request_id),
            )
            _decide(
                con,
                db_path,
                at,
                approver.user_id,
                "deny",
                request.requested_user_id,
                request.role,
                request.district_id,
                request_id,
                text,
            )
    finally:
        con.close()
    return _load_request(db_path, request_id)


def _echo(uid: str) -> str:
    """A user ID as an error message repeats it: no ID is longer than 40 characters, so a
    longer one is cut (a mistaken paste of a file should not come back whole)."""
    return uid if len(uid) <= 40 else f"{uid[:40]}... ({len(uid)} characters)"


def revoke_user(
    db_path: str | os.PathLike[str] | None,
    actor: Actor,
    user_id: str,
    *,
    reason: str = "",
    now: datetime | None = None,
) -> User:
    """Revoke an account: it can no longer sign in and its sessions end at once. A page user may
    revoke only the accounts they could have approved (the Education Data Manager: any), and
    never their own."""
    at = _now(now)
    uid = user_id.strip().lower()
    text = _clean_text(reason, "reason", required=False)
    label = _actor_label(actor)
    con = open_accounts(db_path)
    try:
        with write_transaction(con):
            row = con.execute("SELECT * FROM users WHERE user_id = ?", (uid,)).fetchone()
            if row is None:
                raise LookupError(f"no user {_echo(uid)}")
            target = user_from_row(row)
            if isinstance(actor, User):
                if actor.user_id == uid:
                    raise ApprovalError("you cannot revoke your own account")
                if not can_revoke(actor, target):
                    raise ApprovalError(f"you may not revoke {uid}")
            if row["status"] == "revoked":
                raise ValueError(f"user {uid} is already revoked")
            con.execute(
                "UPDATE users SET status = 'revoked', revoked_at = ?, revoked_by = ? WHERE user_id = ?",
                (_iso(at), label, uid),
            )
            con.execute("DELETE FROM sessions WHERE user_id = ?", (uid,))
            _decide(
                con, db_path, at, label, "revoke", uid, target.role, target.district_id, None, text
            )
    finally:
        con.close()
    return target


def access_decisions(
    db_path: str | os.PathLike[str] | None, viewer: Actor, *, limit: int = 500
) -> list[AccessDecision]:
    """The recorded decisions `viewer` may see (all for the Education Data Manager, who keeps
    the record of every approval; their district's teachers and registrars for a District
    Administrator), newest first."""
    con = open_accounts(db_path)
    try:
        rows = con.execute(
            "SELECT * FROM access_decisions ORDER BY decision_id DESC LIMIT ?", (int(limit),)
        ).fetchall()
    finally:
        con.close()
    decisions = [
        AccessDecision(
            r["decision_id"],
            datetime.fromisoformat(r["at"]),
            r["actor"],
            r["action"],
            r["user_id"],
            Role(r["role"]),
            r["district_id"],
            r["request_id"],
            r["note"],
        )
        for r in rows
    ]
    if isinstance(viewer, Operator):
        return decisions
    return [d for d in decisions if can_revoke(viewer, d)]


DEMO_PREFIX = "demo-"


def create_demo_users(
    db_path: str | os.PathLike[str] | None, *, policy: AuthPolicy = DEFAULT_POLICY
) -> list[tuple[str, str, str]]:
    """One demo account per role with a fresh random password: [(user_id, role, password)].

    For local use with synthetic data only; the accounts are marked demo. District and school
    come from the warehouse (its busiest school). Running it again gives new passwords.
    """
    con = connect_readonly(resolve_db_path(db_path))
    try:
        place = records_sql.busiest_school(con)
    finally:
        con.close()
    if place is None:
        raise LookupError("the warehouse has no enrollments to place demo users in")
    district, school = place
    at = _now(None)
    operator = Operator("demo")
    created: list[tuple[str, str, str]] = []
    accounts = open_accounts(db_path)
    try:
        for role, rule in ROLE_RULES.items():
            if role == Role.PUBLIC:
                continue
            uid = DEMO_PREFIX + role.value.replace("_", "-")
            password = generate_password(uid, policy)
            password_hash = hash_password(password, policy)
            schools = (school,) if rule.needs_school else ()
            dist = district if rule.needs_district else None
            with write_transaction(accounts):
                accounts.execute("DELETE FROM sessions WHERE user_id = ?", (uid,))
                accounts.execute(
                    "INSERT INTO users (user_id, name, role, district_id, school_ids, status,"
                    " password_hash, must_change_password, demo, created_at, created_by)"
                    " VALUES (?, ?, ?, ?, ?, 'active', ?, 0, 1, ?, ?)"
                    " ON CONFLICT (user_id) DO UPDATE SET name = excluded.name,"
                    " role = excluded.role, district_id = excluded.district_id,"
                    " school_ids = excluded.school_ids, status = 'active',"
                    " password_hash = excluded.password_hash, must_change_password = 0, demo = 1,"
                    " revoked_at = NULL, revoked_by = NULL",
                    (
                        uid,
                        f"Demo {rule.label}",
                        role.value,
                        dist,
                        ",".join(schools),
                        password_hash,
                        _iso(at),
                        operator.label,
                    ),
                )
                accounts.execute("DELETE FROM sign_in_failures WHERE user_id = ?", (uid,))
                _decide(
                    accounts,
                    db_path,
                    at,
                    operator.label,
                    "create",
                    uid,
                    role,
                    dist,
                    None,
                    "demo account",
                )
            created.append((uid, role.value, password))
    finally:
        accounts.close()
    return created
