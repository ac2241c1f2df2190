"""Benchmark: protect + audit the whole public release of one year, and one custom table.

Targets (issue 3): the whole public release of one year at scale 1 in under 10 s; one custom
table of about 600 schools x 7 races protected and audited in under 2 s.

    .venv/bin/python benchmarks/bench_release.py [--db PATH] [--year 2024-25] [--repeat 3]
        [--workers N] [--independent]

The audit is `public_release`'s check before it records a release (`_protect_top_down` with
``check``): as soon as a population's tables are protected, its proving points are checked
against its whole cell system and only the cells they leave open are attacked, while the
other populations are still being protected; it models the public bounds that rate displays
tell, as `edudash audit` does. "median s" is protect + that audit, from the start to the end
of both; "audit s" is the time the audits took within it. With --independent, "scratch s" is
an audit from scratch that attacks every hidden cell itself (what `edudash audit` does on a
recorded year, which has no proving points: they are never stored).

"cpu s" is the CPU time of protect + audit in this process and its worker processes together,
and "cpu/core s" that divided by the cores it may run on: no schedule of the same work finishes
sooner than that, so where "median s" is near it the step is bound by the work itself, and
only less work (not more overlap) brings it down.

Without --db a scale-1 warehouse is built once under /tmp/edudash-bench/ (a --db that does not
exist, or a year it does not hold, is refused with a one-line reason). Prints one row per
step with the median of the repeats.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from privacy.requests import TableRequest

DEFAULT_DB = Path("/tmp/edudash-bench/maine.duckdb")


def _timed(fn: Callable[[], dict], repeat: int) -> tuple[float, dict]:
    """(median of protect + audit, the last run's figures, with the medians of each figure)."""
    runs = [fn() for _ in range(repeat)]
    info = dict(runs[-1])
    for step in ("wall_s", "audit_s", "scratch_s", "cpu_s"):
        info[step] = statistics.median(r[step] for r in runs)
    return statistics.median(r["wall_s"] for r in runs), info


def protect_and_audit(  # noqa: ANN001
    snap, requests: list[TableRequest], year: str, workers: int = 1, independent: bool = False
) -> dict:
    """Lay out, protect (top-down) and audit `requests` as `public_release` does, unrecorded.

    The audit is `public_release`'s own check before it records anything (each population's
    proving points checked as soon as it is protected, the cells they leave open attacked).
    independent: also time an audit from scratch, attacking every hidden cell, as
        `edudash audit` does on a recorded year (it has no proving points: they are never
        stored).
    """
    from privacy.policy import load_policy
    from privacy.release import _protect_top_down, _units_for, build_system, checked_release
    from privacy.tables import hide_required

    policy = load_policy()
    snap.layouts.clear()
    layouts = [snap.layout(r) for r in requests]
    units = _units_for(snap, year)
    c0 = _cpu()
    t0 = time.perf_counter()
    protected = _protect_top_down(layouts, units, policy, workers=workers, check=True)
    t1 = time.perf_counter()
    _stop_fork_server()
    cpu = _cpu() - c0
    report = protected.report
    if report is None:  # check=True audits each population as it is protected
        raise RuntimeError("the protection came back unchecked")
    from_scratch = float("nan")
    violations = len(report.violations)
    if independent:
        alone = checked_release(layouts, units, protected.statuses, policy)
        from_scratch = time.perf_counter() - t1
        violations = max(violations, len(alone.violations))
    system = build_system(layouts, units)
    hidden = [i for i, k in enumerate(system.keys) if protected.statuses[k] != "shown"]
    primary = [i for i in hidden if policy.is_small(int(system.values[i]))]
    coded = sum(len(hide_required(lay, policy)) for lay in layouts)
    return {
        "cells": len(system),
        "small": len(primary),
        "hidden": len(hidden),
        "coded": coded,
        "violations": violations,
        "by_points": report.by_witnesses,
        "wall_s": t1 - t0,
        "audit_s": report.seconds,
        "scratch_s": from_scratch,
        "cpu_s": cpu,
    }


def _cpu() -> float:
    """CPU seconds so far of this process (all its threads) and of its worker processes that
    have ended: a release's pool is closed before `_protect_top_down` returns, and its fork
    server by `_stop_fork_server` (its processes' CPU is counted once it ends)."""
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ended.ru_utime + ended.ru_stime


def _stop_fork_server() -> None:
    """Stop the fork server of the worker processes (`privacy.parallel.Processes`), as the end
    of a command line does: its processes' CPU reaches this process only once it has ended,
    and each run then starts its processes from nothing, as `edudash export` does."""
    import multiprocessing.forkserver as forkserver

    stop = getattr(forkserver._forkserver, "_stop", None)  # noqa: SLF001 - no public way
    if stop is not None:
        stop()


def main() -> None:
    # imported here, not at the top: each worker process imports this script again as its
    # main module, as it imports the `edudash` command's (which imports nothing heavy)
    from privacy import parallel
    from privacy.catalogue import public_catalogue
    from privacy.release import _snapshot
    from privacy.requests import TableRequest
    from warehouse.build import build_warehouse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--year", default="2024-25")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-public", action="store_true", help="time only the custom table")
    parser.add_argument("--workers", type=int, default=1, help="processes for independent parts")
    parser.add_argument(
        "--independent",
        action="store_true",
        help="also time an audit from scratch (every hidden cell attacked, as `edudash audit`)",
    )
    args = parser.parse_args()
    if args.repeat < 1 or args.workers < 1:
        parser.error("--repeat and --workers take a whole number of at least 1")
    if args.db is not None and not args.db.exists():
        parser.error(f"no warehouse at {args.db}; build one with `edudash build --db {args.db}`")
    db = args.db or DEFAULT_DB
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        print(f"building a scale-1 warehouse at {db} ...")
        build_warehouse(db, scale=1.0, seed=20261128)
    snap = _snapshot(db)
    if args.year not in snap.years:
        parser.error(
            f"unknown school year {args.year!r}; the warehouse holds {', '.join(snap.years)}"
        )
    for pop in ("enrollment", "assessment", "graduation"):
        snap.fact(pop, args.year)
    catalogue = [e.request for e in public_catalogue(args.year) if e.request.measure != "staff"]
    custom = [TableRequest("enrollment", args.year, "school", ("race_ethnicity",))]
    rows = []
    steps = [
        (f"public release {args.year} ({len(catalogue)} tables)", catalogue, 10.0),
        ("custom: schools x 7 races", custom, 2.0),
    ]
    if args.skip_public:
        steps = steps[1:]
    for label, requests, target in steps:
        median, info = _timed(
            lambda r=requests: protect_and_audit(
                snap, r, args.year, args.workers, args.independent
            ),
            args.repeat,
        )
        rows.append((label, median, target, info))
    header = (
        f"{'step':<44} {'cells':>8} {'small':>7} {'coded':>7} {'hidden':>7} {'viol':>5} "
        f"{'by points':>9} {'audit s':>8} {'median s':>9} {'target s':>9} "
        f"{'scratch s':>10} {'cpu s':>7} {'cpu/core s':>10}"
    )
    cores = parallel.cores()
    print(
        f"warehouse {db} (build {snap.build_id}), median of {args.repeat}, {args.workers} worker(s)"
    )
    print(header)
    print("-" * len(header))
    for label, median, target, i in rows:
        print(
            f"{label:<44} {i['cells']:>8} {i['small']:>7} {i['coded']:>7} {i['hidden']:>7} "
            f"{i['violations']:>5} {i['by_points']:>9} {i['audit_s']:>8.2f} "
            f"{median:>9.2f} {target:>9.1f} {i['scratch_s']:>10.2f} {i['cpu_s']:>7.2f} "
            f"{i['cpu_s'] / cores:>10.2f}"
        )


if __name__ == "__main__":
    main()
