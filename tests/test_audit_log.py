"""The audit trail: append-only triggers, hash chain, signed head, and attacks on all three with
sqlite3 directly, each of which `edudash audit-log verify` must report with a non-zero exit."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from edudash.cli import main
from privacy.access import Role, User
from privacy.audit_log import (
    GENESIS_HASH,
    AuditEntry,
    UnusualActivityConfig,
    append_event,
    canonical_json,
    entry_hash,
    flag_unusual,
    key_path,
    open_audit,
    read_audit_trail,
    record_event,
    search_entries,
    verify_chain,
)
from tests.access_helpers import memory_folder
from warehouse.connection import state_path

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 in Maine


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    with memory_folder(tmp_path) as folder:
        path = folder / "edudash.duckdb"
        duckdb.connect(str(path)).close()  # an empty warehouse: the trail needs only its state
        yield _six_entries(path)


def _six_entries(path: Path) -> Path:
    for i in range(6):
        record_event(
            path,
            f"user{i % 2}",
            "record.view",
            {"student_id": f"10000000{i}"},
            now=T0 + timedelta(minutes=i),
        )
    return path


def raw(db: Path) -> sqlite3.Connection:
    """The attacker's connection: plain sqlite3, triggers dropped."""
    con = sqlite3.connect(state_path(db), isolation_level=None)
    con.execute("DROP TRIGGER audit_log_no_update")
    con.execute("DROP TRIGGER audit_log_no_delete")
    con.execute("DROP TRIGGER audit_head_no_delete")
    return con


def cli_verify(db: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["audit-log", "verify", "--db", str(db)])
    return code, capsys.readouterr().out


def test_untouched_log_verifies(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = verify_chain(db)
    assert result.ok and result.count == 6 and result.problems == ()
    code, out = cli_verify(db, capsys)
    assert code == 0 and "OK: 6 entries" in out and result.last_hash in out


def test_entries_chain_to_each_other(db: Path) -> None:
    entries = sorted(search_entries(db), key=lambda e: e.seq)
    assert entries[0].prev_hash == GENESIS_HASH
    for before, after in zip(entries, entries[1:], strict=False):
        assert after.prev_hash == before.entry_hash
    e = entries[2]
    canonical = canonical_json(
        e.seq, e.at.isoformat(timespec="microseconds"), e.actor, e.action, e.details
    )
    assert e.entry_hash == hashlib.sha256((e.prev_hash + canonical).encode()).hexdigest()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_log SET actor = 'x' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 6",
        "DELETE FROM audit_head",
    ],
)
def test_triggers_refuse_update_and_delete(db: Path, sql: str) -> None:
    con = sqlite3.connect(state_path(db))
    with pytest.raises(sqlite3.IntegrityError, match="append-only|cannot be deleted"):
        con.execute(sql)
    con.close()
    assert verify_chain(db).ok


def _forge_next(con: sqlite3.Connection, seq: int, prev: str) -> str:
    at = (T0 + timedelta(hours=1)).isoformat(timespec="microseconds")
    details = {"student_id": "999999999"}
    digest = entry_hash(prev, canonical_json(seq, at, "mallory", "record.view", details))
    con.execute(
        "INSERT INTO audit_log VALUES (?, ?, 'mallory', 'record.view', ?, ?, ?)",
        (seq, at, json.dumps(details), prev, digest),
    )
    return digest


def _last(con: sqlite3.Connection) -> tuple[int, str]:
    return con.execute("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()


def edit_details(con: sqlite3.Connection) -> None:
    con.execute("""UPDATE audit_log SET details = '{"student_id":"555555555"}' WHERE seq = 3""")


def edit_actor_and_rehash(con: sqlite3.Connection) -> None:
    # recompute this entry's hash too: the next entry's link then breaks
    row = con.execute(
        "SELECT seq, at, action, details, prev_hash FROM audit_log WHERE seq = 3"
    ).fetchone()
    digest = entry_hash(
        row[4], canonical_json(row[0], row[1], "someone-else", row[2], json.loads(row[3]))
    )
    con.execute(
        "UPDATE audit_log SET actor = 'someone-else', entry_hash = ? WHERE seq = 3", (digest,)
    )


def delete_middle(con: sqlite3.Connection) -> None:
    con.execute("DELETE FROM audit_log WHERE seq = 3")


def delete_first(con: sqlite3.Connection) -> None:
    con.execute("DELETE FROM audit_log WHERE seq = 1")


def delete_last_rows(con: sqlite3.Connection) -> None:
    con.execute("DELETE FROM audit_log WHERE seq >= 5")


def delete_last_rows_and_rewrite_head(con: sqlite3.Connection) -> None:
    con.execute("DELETE FROM audit_log WHERE seq >= 5")
    seq, last = _last(con)
    con.execute("UPDATE audit_head SET count = ?, last_hash = ?", (seq, last))


def delete_everything(con: sqlite3.Connection) -> None:
    con.execute("DELETE FROM audit_log")
    con.execute("DELETE FROM audit_head")


def append_forged_entry(con: sqlite3.Connection) -> None:
    seq, last = _last(con)
    _forge_next(con, seq + 1, last)


def append_forged_entry_and_rewrite_head(con: sqlite3.Connection) -> None:
    seq, last = _last(con)
    digest = _forge_next(con, seq + 1, last)
    con.execute("UPDATE audit_head SET count = ?, last_hash = ?", (seq + 1, digest))


def insert_in_the_middle(con: sqlite3.Connection) -> None:
    # renumber entries 4.. to make room, then slot a forged entry in as number 4
    con.execute("UPDATE audit_log SET seq = seq + 100 WHERE seq >= 4")
    con.execute("UPDATE audit_log SET seq = seq - 99 WHERE seq >= 104")
    prev = con.execute("SELECT entry_hash FROM audit_log WHERE seq = 3").fetchone()[0]
    _forge_next(con, 4, prev)


def swap_two_entries(con: sqlite3.Connection) -> None:
    con.execute("UPDATE audit_log SET seq = -1 WHERE seq = 2")
    con.execute("UPDATE audit_log SET seq = 2 WHERE seq = 3")
    con.execute("UPDATE audit_log SET seq = 3 WHERE seq = -1")


ATTACKS: list[Callable[[sqlite3.Connection], None]] = [
    edit_details,
    edit_actor_and_rehash,
    delete_middle,
    delete_first,
    delete_last_rows,
    delete_last_rows_and_rewrite_head,
    delete_everything,
    append_forged_entry,
    append_forged_entry_and_rewrite_head,
    insert_in_the_middle,
    swap_two_entries,
]


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda f: f.__name__)
def test_tampering_is_detected(
    db: Path, attack: Callable, capsys: pytest.CaptureFixture[str]
) -> None:
    con = raw(db)
    attack(con)
    con.close()
    result = verify_chain(db)
    assert not result.ok and result.problems
    code, out = cli_verify(db, capsys)
    assert code == 1 and "TAMPERED" in out


def test_deleting_the_key_is_detected(db: Path) -> None:
    key_path(db).unlink()
    result = verify_chain(db)
    assert not result.ok and any("key" in p for p in result.problems)


def test_appending_after_verification_failure_keeps_failing(db: Path) -> None:
    con = raw(db)
    delete_middle(con)
    con.close()
    record_event(db, "user0", "record.view", {"student_id": "1"}, now=T0 + timedelta(hours=2))
    assert not verify_chain(db).ok


def test_credentials_are_refused_in_details(db: Path) -> None:
    for details in (
        {"password": "x"},
        {"nested": {"session_token": "x"}},
        {"list": [{"password_hash": "x"}]},
        {"token": "x"},
        {"Client_Secret": "x"},
    ):
        with pytest.raises(ValueError, match="credentials"):
            record_event(db, "u", "sign_in.failure", details)
    assert verify_chain(db).count == 6
    record_event(db, "u", "export", {"csv_sha256": "ab" * 32, "tokens_used": 3})
    assert verify_chain(db).count == 7


def test_append_outside_a_transaction_is_refused(db: Path) -> None:
    con = open_audit(db)
    try:
        with pytest.raises(RuntimeError, match="write_transaction"):
            append_event(con, db, "u", "export", {})
    finally:
        con.close()
    assert verify_chain(db).count == 6


def test_concurrent_writers_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "edudash.duckdb"
    record_event(path, "setup", "x", {})

    def write(n: int) -> None:
        for i in range(15):
            record_event(path, f"writer{n}", "export", {"i": i})

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = verify_chain(path)
    assert result.ok and result.count == 61


def test_search_filters(db: Path) -> None:
    assert [e.seq for e in search_entries(db, actor="user1")] == [6, 4, 2]
    assert [e.seq for e in search_entries(db, student_id="100000003")] == [4]
    assert len(search_entries(db, since=T0 + timedelta(minutes=4))) == 2
    assert len(search_entries(db, action_prefix="record.")) == 6
    assert search_entries(db, action_prefix="sign_in") == []


def test_only_the_data_manager_reads_the_trail(db: Path) -> None:
    assert len(read_audit_trail(db, User("dm", Role.DATA_MANAGER))) == 6
    for role in Role:
        if role != Role.DATA_MANAGER:
            with pytest.raises(PermissionError):
                read_audit_trail(db, User("x", role, district_id="1"))


# --- unusual activity


def entry(seq: int, at: datetime, actor: str, action: str, **details: object) -> AuditEntry:
    return AuditEntry(seq, at, actor, action, dict(details), "", "")


def test_many_views_in_a_short_window_are_flagged() -> None:
    config = UnusualActivityConfig(many_views=5, many_views_window=timedelta(minutes=10))
    burst = [
        entry(i, T0 + timedelta(minutes=i), "nosy", "record.view", student_id=str(i))
        for i in range(7)
    ]
    slow = [
        entry(100 + i, T0 + timedelta(minutes=5 * i), "calm", "record.view", student_id=str(i))
        for i in range(7)
    ]
    flags = flag_unusual(burst + slow, config)
    assert [(f.kind, f.actor) for f in flags] == [("many_views", "nosy")]
    assert len(flags[0].seqs) == 7


def test_searches_outside_the_users_district_are_flagged() -> None:
    def search(seq: int, minutes: int, found: list[str]) -> AuditEntry:
        return entry(
            seq,
            T0 + timedelta(minutes=minutes),
            "reg",
            "locator.search",
            actor_district_id="1001",
            result_district_ids=found,
        )

    entries = [search(1, 0, ["1001"]), search(2, 1, ["2002"]), search(3, 2, [])]
    every = UnusualActivityConfig(outside_district_searches=1)
    assert [(f.kind, f.seqs) for f in flag_unusual(entries, every)] == [("outside_district", (2,))]
    assert flag_unusual(entries) == []  # one lookup of a transferring student is normal
    many = [search(10 + i, 60 * i, ["2002", "3003"]) for i in range(6)]
    flags = flag_unusual(entries + many)
    assert [(f.kind, len(f.seqs)) for f in flags] == [("outside_district", 7)]
    spread = [search(10 + i, 60 * 24 * i, ["2002"]) for i in range(6)]  # one a day
    assert flag_unusual(spread) == []


@pytest.mark.parametrize(
    "utc_hour, odd",
    [(15, False), (12, False), (3, True), (4, True), (10, True), (11, False), (2, False)],
)
def test_sign_ins_at_odd_hours_are_flagged(utc_hour: int, odd: bool) -> None:
    # Maine is UTC-5 in March before DST: 02:00Z = 21:00, 03:00Z = 22:00, 10:00Z = 05:00,
    # 11:00Z = 06:00
    at = datetime(2026, 3, 2, utc_hour, 0, tzinfo=UTC)
    flags = flag_unusual([entry(1, at, "u", "sign_in.success")])
    assert bool(flags) is odd
    if odd:
        assert flags[0].kind == "odd_hours"


def test_cli_show_and_flagged(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record_event(
        db,
        "owl",
        "sign_in.success",
        {"role": "teacher"},
        now=datetime(2026, 3, 3, 7, 30, tzinfo=UTC),
    )
    assert main(["audit-log", "show", "--db", str(db), "--user", "user0"]) == 0
    out = capsys.readouterr().out
    assert out.count("record.view") == 3 and "user1" not in out
    assert main(["audit-log", "show", "--db", str(db), "--flagged"]) == 0
    out = capsys.readouterr().out
    assert "odd_hours" in out and "owl" in out and "user0" not in out


def test_cli_verify_without_state_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "none.duckdb"
    assert main(["audit-log", "verify", "--db", str(db)]) == 1
    assert "no warehouse at" in capsys.readouterr().err
    duckdb.connect(str(db)).close()  # a warehouse, but no state beside it yet
    assert main(["audit-log", "verify", "--db", str(db)]) == 1
    assert "no state database" in capsys.readouterr().err
    assert not state_path(db).exists()
