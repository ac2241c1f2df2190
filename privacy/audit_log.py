"""The audit trail: an append-only, hash-chained log of sign-ins, record views, searches, exports.

Each entry stores `entry_hash = SHA-256(prev_hash + canonical JSON of the entry)`, where the
canonical JSON holds the entry's sequence number, time, actor, action and details. A separate
one-row head table holds the entry count and the last hash, signed with HMAC-SHA256 under a key
kept outside the state database (the file `x.audit-key` beside the warehouse, created with mode
0600, or `$EDUDASH_AUDIT_KEY`). SQLite triggers reject UPDATE and DELETE on the log.

What `verify_chain` detects, for someone who can write the state database with sqlite3:
- an edited entry (its hash no longer matches);
- a deleted or inserted entry anywhere in the chain (the sequence has a gap or a link breaks);
- deleted trailing entries (the signed head's count and last hash no longer match);
- forged entries appended with correctly recomputed hashes (the head signature does not match);
- a rewritten head, or a deleted head or key while entries exist.
What it cannot detect: someone who can also read the key rewriting the whole log and re-signing
its head. Write the `head` line that `edudash audit-log verify` prints somewhere else (a ticket,
an email) to anchor the log against that too.

Entries never hold passwords, password hashes or session tokens: `record_event` refuses details
whose keys name a password, secret or token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from privacy.access import User, can_read_audit
from privacy.state import open_state, write_transaction
from warehouse.connection import resolve_db_path

GENESIS_HASH = "0" * 64
KEY_ENV_VAR = "EDUDASH_AUDIT_KEY"

AUDIT_DDL = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq        INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    details    TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    entry_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_actor_action_at ON audit_log (actor, action, at);
CREATE TABLE IF NOT EXISTS audit_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    count     INTEGER NOT NULL,
    last_hash TEXT NOT NULL,
    mac       TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN SELECT RAISE(ABORT, 'the audit head cannot be deleted'); END;
"""

# Detail keys that would name a credential: refused, so no caller can log one by mistake.
_FORBIDDEN_DETAIL_WORDS = ("password", "passwd", "secret")


def _names_credential(key: str) -> bool:
    k = key.lower()
    return any(w in k for w in _FORBIDDEN_DETAIL_WORDS) or k == "token" or k.endswith("_token")


@dataclass(frozen=True)
class AuditEntry:
    """One audit entry. `details` is free-form JSON (never credentials)."""

    seq: int
    at: datetime
    actor: str
    action: str
    details: dict[str, Any]
    prev_hash: str
    entry_hash: str


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of `verify_chain`: ok, the number of entries, the last hash, and the problems."""

    ok: bool
    count: int
    last_hash: str
    problems: tuple[str, ...]


def key_path(db_path: str | os.PathLike[str] | None) -> Path:
    """The file holding the head-signing key: `x.duckdb` -> `x.audit-key`."""
    p = resolve_db_path(db_path)
    return p.with_name(p.stem + ".audit-key")


def _load_key(db_path: str | os.PathLike[str] | None, *, create: bool) -> bytes | None:
    env = os.environ.get(KEY_ENV_VAR)
    if env:
        return env.encode()
    path = key_path(db_path)
    if path.is_file():
        return path.read_bytes().strip()
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def _head_mac(key: bytes, count: int, last_hash: str) -> str:
    return hmac.new(key, f"{count}:{last_hash}".encode(), hashlib.sha256).hexdigest()


def _iso(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(seq: int, at: str, actor: str, action: str, details: Mapping[str, Any]) -> str:
    """The exact text an entry's hash covers (sorted keys, no spaces)."""
    body = {"seq": seq, "at": at, "actor": actor, "action": action, "details": details}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, canonical: str) -> str:
    """SHA-256 of the previous entry's hash followed by this entry's canonical JSON."""
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _check_details(details: Any, path: str = "details") -> None:
    if isinstance(details, Mapping):
        for k, v in details.items():
            if not isinstance(k, str):
                raise ValueError(f"{path} keys must be strings")
            if _names_credential(k):
                raise ValueError(f"{path}.{k}: audit entries never hold credentials")
            _check_details(v, f"{path}.{k}")
    elif isinstance(details, list | tuple):
        for item in details:
            _check_details(item, path)


def append_event(
    con: sqlite3.Connection,
    db_path: str | os.PathLike[str] | None,
    actor: str,
    action: str,
    details: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's open write transaction on `con` (same state DB).

    Use this when the audited change and its entry must commit together.
    """
    if not con.in_transaction:
        raise RuntimeError("append_event must run inside privacy.state.write_transaction")
    _check_details(details)
    if not actor or not action:
        raise ValueError("an audit entry needs an actor and an action")
    clean = json.loads(json.dumps(details, default=str))
    at = _iso(now or datetime.now(UTC))
    key = _load_key(db_path, create=True)
    assert key is not None
    head = con.execute("SELECT count, last_hash FROM audit_head WHERE id = 1").fetchone()
    count, prev = (head["count"], head["last_hash"]) if head else (0, GENESIS_HASH)
    seq = count + 1
    digest = entry_hash(prev, canonical_json(seq, at, actor, action, clean))
    con.execute(
        "INSERT INTO audit_log (seq, at, actor, action, details, prev_hash, entry_hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (seq, at, actor, action, json.dumps(clean, sort_keys=True), prev, digest),
    )
    con.execute(
        "INSERT INTO audit_head (id, count, last_hash, mac) VALUES (1, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET count = excluded.count,"
        " last_hash = excluded.last_hash, mac = excluded.mac",
        (seq, digest, _head_mac(key, seq, digest)),
    )
    return AuditEntry(seq, datetime.fromisoformat(at), actor, action, clean, prev, digest)


def open_audit(db_path: str | os.PathLike[str] | None) -> sqlite3.Connection:
    """The state database with the audit tables in place."""
    return open_state(resolve_db_path(db_path), AUDIT_DDL)


def record_event(
    db_path: str | os.PathLike[str] | None,
    actor: str,
    action: str,
    details: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> AuditEntry:
    """Append one entry to the audit trail of warehouse `db_path` and return it.

    `actor` is the user ID (or "cli:<name>", "public"); `action` a dotted name such as
    "sign_in.success", "record.view", "locator.search", "export", "release". `details` is
    JSON-serialisable and must not hold credentials (keys naming a password, secret or token
    are refused; content hashes such as `csv_sha256` are fine). Everything in it is readable by the Education Data Manager.
    """
    con = open_audit(db_path)
    try:
        with write_transaction(con):
            return append_event(con, db_path, actor, action, details, now=now)
    finally:
        con.close()


def _row_entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        row["seq"],
        datetime.fromisoformat(row["at"]),
        row["actor"],
        row["action"],
        json.loads(row["details"]),
        row["prev_hash"],
        row["entry_hash"],
    )


def verify_chain(db_path: str | os.PathLike[str] | None) -> VerifyResult:
    """Recompute the whole chain and check it against the signed head (see module docstring)."""
    con = open_audit(db_path)
    try:
        rows = con.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
        head = con.execute("SELECT count, last_hash, mac FROM audit_head WHERE id = 1").fetchone()
    finally:
        con.close()
    problems: list[str] = []
    prev = GENESIS_HASH
    for expected_seq, row in enumerate(rows, start=1):
        seq = row["seq"]
        if seq != expected_seq:
            problems.append(
                f"entry {seq}: expected sequence number {expected_seq} (entry missing or inserted)"
            )
        if row["prev_hash"] != prev:
            problems.append(f"entry {seq}: does not link to the entry before it")
        try:
            details = json.loads(row["details"])
            canonical = canonical_json(seq, row["at"], row["actor"], row["action"], details)
        except (TypeError, ValueError):
            problems.append(f"entry {seq}: unreadable details")
            canonical = ""
        if entry_hash(row["prev_hash"], canonical) != row["entry_hash"]:
            problems.append(f"entry {seq}: content does not match its hash (edited)")
        prev = row["entry_hash"]
        if len(problems) > 50:
            problems.append("... (stopped after 50 problems)")
            break
    count = len(rows)
    key = _load_key(db_path, create=False)
    if head is None:
        if rows:
            problems.append("the signed head is missing")
        elif key is not None and key_path(db_path).is_file():
            problems.append("the log is empty but a signing key exists: entries were removed")
    else:
        if head["count"] != count:
            problems.append(f"the signed head counts {head['count']} entries; the log has {count}")
        if head["last_hash"] != prev:
            problems.append("the last entry is not the one the signed head names")
        if key is None:
            problems.append("the head-signing key is missing; the head cannot be checked")
        elif not hmac.compare_digest(head["mac"], _head_mac(key, head["count"], head["last_hash"])):
            problems.append("the head signature does not match (head rewritten or entries forged)")
    return VerifyResult(not problems, count, prev, tuple(problems))


def search_entries(
    db_path: str | os.PathLike[str] | None,
    *,
    actor: str | None = None,
    action_prefix: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    student_id: str | None = None,
    limit: int = 1000,
) -> list[AuditEntry]:
    """Audit entries, newest first, filtered by actor, action prefix ("record."), time range and
    the student an entry names. Only the Education Data Manager may be shown the result."""
    clauses: list[str] = []
    params: list[Any] = []
    if actor:
        clauses.append("actor = ?")
        params.append(actor)
    if action_prefix:
        clauses.append("substr(action, 1, ?) = ?")
        params += [len(action_prefix), action_prefix]
    if since:
        clauses.append("at >= ?")
        params.append(_iso(since))
    if until:
        clauses.append("at < ?")
        params.append(_iso(until))
    if student_id:
        clauses.append(
            "(json_extract(details, '$.student_id') = ? OR EXISTS (SELECT 1 FROM"
            " json_each(details, '$.result_student_ids') WHERE value = ?))"
        )
        params += [student_id, student_id]
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    con = open_audit(db_path)
    try:
        rows = con.execute(
            f"SELECT * FROM audit_log {where} ORDER BY seq DESC LIMIT ?", (*params, int(limit))
        ).fetchall()
    finally:
        con.close()
    return [_row_entry(r) for r in rows]


def read_audit_trail(
    db_path: str | os.PathLike[str] | None,
    viewer: User,
    *,
    actor: str | None = None,
    action_prefix: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    student_id: str | None = None,
    limit: int = 1000,
) -> list[AuditEntry]:
    """`search_entries` for a page: only a user who may read the audit trail (the Education
    Data Manager) gets entries; anyone else gets PermissionError."""
    if not can_read_audit(viewer):
        raise PermissionError("only the Education Data Manager reads the audit trail")
    return search_entries(
        db_path,
        actor=actor,
        action_prefix=action_prefix,
        since=since,
        until=until,
        student_id=student_id,
        limit=limit,
    )


def count_recent(
    db_path: str | os.PathLike[str] | None, actor: str, action: str, since: datetime
) -> int:
    """How many `action` entries `actor` made at or after `since` (for rate limits)."""
    con = open_audit(db_path)
    try:
        row = con.execute(
            "SELECT count(*) FROM audit_log WHERE actor = ? AND action = ? AND at >= ?",
            (actor, action, _iso(since)),
        ).fetchone()
    finally:
        con.close()
    return int(row[0])


@dataclass(frozen=True)
class UnusualActivityConfig:
    """Thresholds for `flag_unusual`. Times of day are in `timezone` (Maine local time).

    A user is flagged for `many_views` record views within `many_views_window`, and for
    `outside_district_searches` locator searches within `outside_district_window` whose matches
    lie outside the user's own district (registrars look up students transferring in, so a few
    such searches are normal; set it to 1 to flag every one). A sign-in (or failed attempt) from
    `odd_hours_start` to `odd_hours_end` local time is flagged.
    """

    many_views: int = 25
    many_views_window: timedelta = timedelta(minutes=10)
    outside_district_searches: int = 5
    outside_district_window: timedelta = timedelta(days=1)
    odd_hours_start: int = 22
    odd_hours_end: int = 6
    timezone: str = "America/New_York"


@dataclass(frozen=True)
class Flag:
    """One piece of unusual activity for the Education Data Manager to review."""

    kind: str
    actor: str
    at: datetime
    seqs: tuple[int, ...]
    message: str


VIEW_ACTIONS = frozenset({"record.view"})
SEARCH_ACTIONS = frozenset({"locator.search"})
SIGN_IN_ACTIONS = frozenset({"sign_in.success", "sign_in.failure"})


def _window_text(window: timedelta) -> str:
    minutes = window.total_seconds() / 60
    return f"{minutes / 60:g} hours" if minutes >= 120 else f"{minutes:g} minutes"


def flag_unusual(
    entries: Iterable[AuditEntry], config: UnusualActivityConfig = UnusualActivityConfig()
) -> list[Flag]:
    """Flag many record views in a short window, repeated locator searches whose matches lie
    outside the searcher's district, and sign-ins at odd hours. Entries may be in any order."""
    ordered = sorted(entries, key=lambda e: e.seq)
    flags: list[Flag] = []
    views: dict[str, list[AuditEntry]] = defaultdict(list)
    outside: dict[str, list[AuditEntry]] = defaultdict(list)
    zone = ZoneInfo(config.timezone)
    for e in ordered:
        if e.action in VIEW_ACTIONS:
            views[e.actor].append(e)
        elif e.action in SEARCH_ACTIONS:
            own = e.details.get("actor_district_id")
            found = set(e.details.get("result_district_ids") or [])
            if own and found - {own}:
                outside[e.actor].append(e)
        elif e.action in SIGN_IN_ACTIONS:
            hour = e.at.astimezone(zone).hour
            start, end = config.odd_hours_start, config.odd_hours_end
            odd = (hour >= start or hour < end) if start > end else (start <= hour < end)
            if odd:
                local = e.at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
                flags.append(
                    Flag("odd_hours", e.actor, e.at, (e.seq,), f"{e.action} at {local} local time")
                )
    for actor, seen in views.items():
        for run in _bursts(seen, config.many_views, config.many_views_window):
            text = f"{len(run)} record views within {_window_text(config.many_views_window)}"
            flags.append(Flag("many_views", actor, run[0].at, tuple(e.seq for e in run), text))
    for actor, seen in outside.items():
        for run in _bursts(seen, config.outside_district_searches, config.outside_district_window):
            own = run[0].details.get("actor_district_id")
            text = (
                f"{len(run)} locator searches within "
                f"{_window_text(config.outside_district_window)} matched students outside the "
                f"user's district {own}"
            )
            flags.append(
                Flag("outside_district", actor, run[0].at, tuple(e.seq for e in run), text)
            )
    return sorted(flags, key=lambda f: (f.at, f.kind))


def _bursts(
    seen: Sequence[AuditEntry], threshold: int, window: timedelta
) -> list[Sequence[AuditEntry]]:
    """The maximal runs of time-ordered entries in which `threshold` of them fall within
    `window` of the run's first entry; runs do not overlap."""
    runs: list[Sequence[AuditEntry]] = []
    start = 0
    flagged_until = -1
    for end in range(len(seen)):
        while seen[end].at - seen[start].at > window:
            start += 1
        if end - start + 1 >= max(threshold, 1) and start > flagged_until:
            run_end = end
            while run_end + 1 < len(seen) and seen[run_end + 1].at - seen[start].at <= window:
                run_end += 1
            runs.append(seen[start : run_end + 1])
            flagged_until = run_end
    return runs
