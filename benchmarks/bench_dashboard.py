"""Benchmark: server time of a filter change on every dashboard page, and of a staff custom table.

Usage:
    .venv/bin/python benchmarks/bench_dashboard.py [--db PATH | --scale 1.0] [--repeat 5]
        [--released-only]

With --db the warehouse is used as is (its public releases are read back from its registry, or
protected once here, timed separately). Without it a warehouse of --scale is built in a temp
folder. Each page runs in Streamlit's AppTest (the server side of a page: script, privacy calls,
charts and tables); a "filter change" is one widget change and the rerun it causes. The staff
explorer row times building a new custom table: protection with everything already released,
the registry record, the audit event and the render. Targets: median < 200 ms per filter
change; custom table < 2 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# (page, widget key, values to cycle through: formatted labels are not needed for set_value)
FILTER_CHANGES: list[tuple[str, str, list[str]]] = [
    ("pages/overview.py", "year", ["<years>"]),
    ("pages/enrollment.py", "by", ["gender", "race_ethnicity", "grade"]),
    ("pages/assessment.py", "subject", ["MATH", "SCI", "ELA"]),
    ("pages/graduation.py", "subgroup", ["gender", "race_ethnicity", "none"]),
    ("pages/programs.py", "program", ["english_learner", "title1", "cte"]),
    ("pages/staff.py", "geo", ["district", "state"]),
    ("pages/profiles.py", "kind", ["school", "district"]),
    ("pages/dictionary.py", "table", ["students", "enrollments", "all"]),
]


def _timed_run(at) -> float:  # noqa: ANN001
    start = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(f"page raised: {[e.value for e in at.exception]}")
    return elapsed


def bench_page(path: str, key: str, values: list[str], repeat: int) -> tuple[float, float, float]:
    """(first render s, median filter change s, max filter change s) for one page."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / path), default_timeout=3600)
    first = _timed_run(at)
    _let_read_ahead_finish()
    times = []
    for i in range(repeat * len(values)):
        at.selectbox(key=key).set_value(values[i % len(values)])
        times.append(_timed_run(at))
    return first, statistics.median(times), max(times)


def _let_read_ahead_finish(limit: float = 60.0) -> None:
    """Wait for the background work a first page view starts, as a viewer reading the page
    does before changing a filter: the explorer's read-ahead (the time to first choose a
    table is not part of building it) and the rendering ahead of a year's public tables
    (a few seconds per year at scale 1, once per server)."""
    import threading

    for thread in threading.enumerate():
        if thread.name.startswith(("read-ahead", "render-ahead")):
            thread.join(limit)


def bench_explorer(db: Path, repeat: int, geo: str = "state") -> list[float]:
    """Seconds to build new custom tables (protect + registry + audit + render) in the explorer.

    geo: the explorer's geography; "district" and "school" build one table over every
    district or school (the latter is the largest a staff member can ask for).
    """
    from streamlit.testing.v1 import AppTest

    import privacy
    from privacy.users import Operator, create_user

    uid = f"bench.{int(time.time())}"
    password = "bench-Password-12345"
    create_user(db, user_id=uid, role="reporting", password=password, created_by=Operator("bench"))
    token = privacy.sign_in(db, uid, password).token
    combos = [
        ("enrollment", ["gender", "economically_disadvantaged"]),
        ("enrollment", ["english_learner", "grade"]),
        ("assessment", ["gender"]),
        ("graduation", ["economically_disadvantaged"]),
        ("programs", ["english_learner", "gender"]),
        ("enrollment", ["race_ethnicity", "homeless"]),
    ][: max(1, repeat)]
    if geo != "state":
        combos = [("enrollment", ["gender", "economically_disadvantaged"])]
    times = []
    for measure, by in combos:
        at = AppTest.from_file(str(ROOT / "pages/explorer.py"), default_timeout=3600)
        at.session_state[privacy.SESSION_TOKEN_KEY] = token
        at.run()
        _let_read_ahead_finish()
        at.selectbox(key="measure").set_value(measure)
        at.run()
        if geo != "state":
            at.selectbox(key="geo").set_value(geo)
            at.run()
        at.multiselect(key="by").set_value(by)
        at.run()
        at.button(key="ex_build").click()
        times.append(_timed_run(at))
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="existing warehouse (default: build one)")
    parser.add_argument("--scale", type=float, default=1.0, help="scale of a built warehouse")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--repeat", type=int, default=3, help="filter changes per option")
    parser.add_argument(
        "--released-only",
        action="store_true",
        help="protect no year: time the pages over the years whose public release is recorded "
        "(the pages offer only those)",
    )
    args = parser.parse_args(argv)

    if args.db is None:
        from warehouse.build import build_warehouse

        folder = Path(tempfile.mkdtemp(prefix="bench-dash-"))
        db = folder / "edudash.duckdb"
        t = time.perf_counter()
        build_warehouse(db, scale=args.scale, seed=args.seed)
        print(f"built scale-{args.scale} warehouse in {time.perf_counter() - t:.1f} s: {db}")
    else:
        db = args.db.resolve()
    os.environ["EDUDASH_DB"] = str(db)

    import privacy
    from privacy.release import published_years

    print("public releases (protected once per build, then read back from the registry):")
    released = published_years(db)
    for year in released if args.released_only else privacy.school_years(db):
        t = time.perf_counter()
        release = privacy.public_release(db, year)
        print(f"  {year}: {time.perf_counter() - t:8.2f} s  {release.release_id}")
    if not published_years(db):
        print("no public release is recorded: nothing to time", file=sys.stderr)
        return 1

    # building custom tables records them in the registry: a second run on the same warehouse
    # would only read them back, so the state file is put back as it was after timing
    from warehouse.connection import state_path

    state = state_path(db)
    kept = Path(tempfile.mkdtemp(prefix="bench-dash-state-")) / state.name
    _copy_sqlite(state, kept)
    try:
        return _time_pages(db, args.repeat)
    finally:
        _copy_sqlite(kept, state)  # through SQLite: the state file is in WAL mode
        shutil.rmtree(kept.parent, ignore_errors=True)


def _copy_sqlite(source: Path, target: Path) -> None:
    import sqlite3

    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def _time_pages(db: Path, repeat: int) -> int:
    from privacy.release import published_years

    rows = []
    years = list(reversed(published_years(db)))
    for path, key, values in FILTER_CHANGES:
        values = years[1:] + years[:1] if values == ["<years>"] else values
        first, median, worst = bench_page(path, key, values, repeat)
        rows.append((path, key, first, median, worst))
    explorer = bench_explorer(db, repeat)
    explorer_district = bench_explorer(db, 1, geo="district")
    explorer_school = bench_explorer(db, 1, geo="school")

    print()
    print(
        f"{'page':<24} {'filter':<10} {'first render':>13} {'median change':>14} {'max change':>11}  target"
    )
    for path, key, first, median, worst in rows:
        ok = "ok" if median < 0.2 else "SLOW"
        print(
            f"{Path(path).stem:<24} {key:<10} {first * 1000:>10.0f} ms {median * 1000:>11.0f} ms "
            f"{worst * 1000:>8.0f} ms  <200 ms {ok}"
        )
    for label, times in (
        ("explorer, statewide", explorer),
        ("explorer, every district", explorer_district),
        ("explorer, every school", explorer_school),
    ):
        med = statistics.median(times)
        ok = "ok" if med < 2.0 else "SLOW"
        print(
            f"{label:<24} {'build':<10} {'':>13} {med * 1000:>11.0f} ms "
            f"{max(times) * 1000:>8.0f} ms  <2 s {ok}  (n={len(times)})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
