"""Access-control benchmark: sign-in, session check, record view, locator, audit verify.

Usage: python benchmarks/bench_access.py [--scale F] [--repeats N] [--entries N]

Builds a warehouse at `--scale` in a temporary folder, creates the demo users with the real
(production) argon2id costs, and prints the median time of each operation a page performs. The
audit-chain verification is timed over `--entries` appended entries.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from privacy.audit_log import append_event, open_audit, record_event, verify_chain
from privacy.auth import current_user, sign_in
from privacy.records import LocatorLimits, locate_student, view_student_record
from privacy.state import write_transaction
from privacy.users import create_demo_users, get_user
from warehouse.build import build_warehouse


def timed(fn: Callable[[], object], repeats: int) -> float:
    """Median milliseconds of `fn` over `repeats` runs."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--entries", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        build_warehouse(db, scale=args.scale, seed=7)
        demo = {role: (uid, pw) for uid, role, pw in create_demo_users(db)}
        uid, pw = demo["superintendent"]
        token = sign_in(db, uid, pw).token
        sup = get_user(db, uid)
        registrar = get_user(db, demo["registrar"][0])
        assert sup is not None and registrar is not None
        con = duckdb.connect(str(db), read_only=True)
        sid = con.execute(
            "SELECT e.state_student_id FROM enrollments e JOIN schools s USING (school_id)"
            " WHERE s.district_id = ? AND e.school_year = (SELECT max(school_year) FROM"
            " enrollments) LIMIT 1",
            [sup.district_id],
        ).fetchone()[0]
        first, last, born = con.execute(
            "SELECT first_name, last_name, birth_date FROM students WHERE state_student_id = ?",
            [sid],
        ).fetchone()
        con.close()
        unlimited = LocatorLimits(max_searches=10**9)
        rows = [
            (
                "sign in (argon2id, RFC 9106 low-memory)",
                timed(lambda: sign_in(db, uid, pw), args.repeats),
            ),
            (
                "current user from session token",
                timed(lambda: current_user(db, token), args.repeats),
            ),
            (
                "student record view (level 2)",
                timed(lambda: view_student_record(db, sup, sid), args.repeats),
            ),
            (
                "locator search",
                timed(
                    lambda: locate_student(
                        db,
                        registrar,
                        first_name=first,
                        last_name=last,
                        birth_date=born,
                        limits=unlimited,
                    ),
                    args.repeats,
                ),
            ),
            (
                "audit record_event",
                timed(lambda: record_event(db, "bench", "export", {"n": 1}), args.repeats),
            ),
        ]
        have = verify_chain(db).count
        con = open_audit(db)
        with write_transaction(con):
            for i in range(max(0, args.entries - have)):
                append_event(con, db, "bench", "export", {"i": i})
        con.close()
        count = verify_chain(db).count
        rows.append((f"verify_chain over {count} entries", timed(lambda: verify_chain(db), 3)))
        print(f"scale {args.scale}, median of {args.repeats} runs")
        print(f"{'operation':<45} {'median ms':>10}")
        for name, ms in rows:
            print(f"{name:<45} {ms:>10.1f}")


if __name__ == "__main__":
    main()
