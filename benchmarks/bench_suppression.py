"""Benchmark the suppression engine: information loss against the exact minimum, and speed.

1. Information loss: on small random school x race tables with margins, the complements that
   `protect` hides versus the exact minimum number of complements, found by integer
   programming (a master MILP over "hide this cell" variables, with a cut from every hidden
   pattern the attacker breaks; target: within 10% of the minimum).
2. Speed: a custom staff table of 600 schools x 7 races with margins, protected and audited
   (target under 2 s), and the same table through acro's crosstab with suppression.

Run: .venv/bin/python benchmarks/bench_suppression.py [--quick] [--skip-acro]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import statistics
import time

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from privacy.auditor import Attacker, audit
from privacy.cells import CellSystem, add_table
from privacy.policy import Policy
from privacy.suppression import protect

RACES = ("AM", "AS", "BL", "HI", "PI", "MU", "WH")
# Maine-like shares: mostly white, small minority groups (many cells below ten)
RACE_SHARES = np.array([0.01, 0.02, 0.04, 0.03, 0.002, 0.04, 0.858])


def school_by_race(n_schools: int, seed: int, median_size: float = 250.0) -> np.ndarray:
    """Synthetic enrolment counts: lognormal school sizes, Dirichlet race mixes."""
    rng = np.random.default_rng(seed)
    sizes = np.maximum(1, rng.lognormal(np.log(median_size), 0.8, size=n_schools).astype(int))
    counts = np.zeros((n_schools, len(RACES)), dtype=np.int64)
    for i, size in enumerate(sizes):
        counts[i] = rng.multinomial(size, rng.dirichlet(RACE_SHARES * 40))
    return counts


def primaries_pass(system: CellSystem, hidden: set[int], primary: set[int], policy: Policy) -> bool:
    """The criterion for the cells hidden as small (monotone: hiding more never hurts).

    Complements are left out on purpose: a complement the attacker recovers exactly can be
    shown instead without changing anything else, so a minimum pattern never has one.
    """
    cells = np.array(sorted(primary), dtype=np.int64)
    need_upper = np.full(len(cells), float(policy.min_upper_bound))
    need_width = np.full(len(cells), float(policy.min_interval_width))
    attacker = Attacker(system, np.array(sorted(hidden), dtype=np.int64))
    lower, upper, _ = attacker.bounds(cells, need_upper=need_upper, need_width=need_width)
    return bool(((upper >= need_upper) & (upper - lower >= need_width)).all())


def exact_minimum(system: CellSystem, primary: set[int], policy: Policy) -> int:
    """Fewest complements that protect ``primary`` (MILP master + attacker cuts)."""
    candidates = [c for c in range(len(system)) if c not in primary]
    index = {c: j for j, c in enumerate(candidates)}
    cuts: list[np.ndarray] = []
    while True:
        if cuts:
            constraint = [LinearConstraint(np.array(cuts), 1, np.inf)]
        else:
            constraint = []
        res = milp(
            np.ones(len(candidates)),
            constraints=constraint,
            integrality=np.ones(len(candidates)),
            bounds=Bounds(0, 1),
        )
        chosen = {candidates[j] for j in np.flatnonzero(res.x > 0.5)}
        hidden = primary | chosen
        if primaries_pass(system, hidden, primary, policy):
            return len(chosen)
        # grow the failing pattern: every subset of a failing pattern fails too, so any
        # protection must hide a cell outside the largest failing pattern found
        failing = set(hidden)
        for c in sorted(candidates, key=lambda c: system.values[c]):
            if c not in failing and not primaries_pass(system, failing | {c}, primary, policy):
                failing.add(c)
        row = np.zeros(len(candidates))
        row[[index[c] for c in candidates if c not in failing]] = 1
        if not row.any():
            raise RuntimeError("no protection exists")
        cuts.append(row)


def bench_information_loss(policy: Policy, tables: int) -> list[tuple]:
    """Per table: cells, small cells, complements (greedy only / default / generous budget),
    and the exact minimum."""
    rows = []
    for seed in range(tables):
        counts = school_by_race(4, seed, median_size=40)[:, [1, 2, 3, 6]]
        system = CellSystem()
        add_table(system, "t", counts)
        greedy = protect(system, policy, minimise=False)
        default = protect(system, policy)
        generous = protect(system, policy, minimise_seconds=30)
        for protection in (greedy, default, generous):
            report = audit(system, protection.hidden, policy, primary=protection.primary)
            assert report.ok, report.violations[:3]
        minimum = exact_minimum(system, generous.primary, policy)
        rows.append(
            (
                seed,
                len(system),
                len(generous.primary),
                len(greedy.complements),
                len(default.complements),
                len(generous.complements),
                minimum,
            )
        )
    return rows


def bench_speed(policy: Policy, runs: int) -> dict[str, float]:
    """Median wall and CPU seconds of protect, audit and both on 600 schools x 7 races."""
    counts = school_by_race(600, seed=2024)
    system = CellSystem()
    add_table(system, "enrolment", counts)
    times: dict[str, list[float]] = {}
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        protection = protect(system, policy)
        wall_mid, cpu_mid = time.perf_counter(), time.process_time()
        report = audit(system, protection.hidden, policy, primary=protection.primary)
        wall_end, cpu_end = time.perf_counter(), time.process_time()
        assert report.ok, report.violations[:3]
        for name, value in (
            ("protect", wall_mid - wall),
            ("audit", wall_end - wall_mid),
            ("total", wall_end - wall),
            ("protect_cpu", cpu_mid - cpu),
            ("audit_cpu", cpu_end - cpu_mid),
            ("total_cpu", cpu_end - cpu),
        ):
            times.setdefault(name, []).append(value)
    start = time.perf_counter()
    exact = audit(system, protection.hidden, policy, primary=protection.primary, exact=True)
    exact_seconds = time.perf_counter() - start
    assert exact.ok
    result = {name: statistics.median(values) for name, values in times.items()}
    result.update(
        cells=len(system),
        small=len(protection.primary),
        complements=len(protection.complements),
        exact_audit=exact_seconds,
    )
    return result


def bench_acro(runs: int) -> tuple[float | None, str]:
    try:
        import acro
        import pandas as pd
    except ImportError as exc:  # reported, not hidden
        return None, f"acro not installed ({exc}); pip install acro"
    counts = school_by_race(600, seed=2024)
    schools = np.repeat(np.arange(counts.shape[0]), counts.sum(axis=1))
    races = np.concatenate([np.repeat(RACES, row) for row in counts])
    frame = pd.DataFrame({"school": schools, "race": races})
    logging.disable(logging.INFO)
    times = []
    for _ in range(runs):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            session = acro.ACRO(suppress=True)
            start = time.perf_counter()
            session.crosstab(frame["school"], frame["race"], margins=True)
            times.append(time.perf_counter() - start)
    return statistics.median(times), f"acro {getattr(acro, '__version__', '')}".strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tables and runs")
    parser.add_argument("--skip-acro", action="store_true", help="leave out acro's crosstab")
    args = parser.parse_args()
    policy = Policy()
    runs = 3 if args.quick else 5

    print("== Information loss: complements hidden vs exact minimum (MILP + attacker cuts) ==")
    print("   4 schools x 4 races with all margins (25 cells), Maine-like small counts")
    print(
        f"{'seed':>4} {'cells':>6} {'small':>6} {'greedy':>7} {'default':>8} "
        f"{'budget30s':>10} {'minimum':>8}"
    )
    rows = bench_information_loss(policy, 4 if args.quick else 10)
    for seed, cells, small, greedy, default, generous, minimum in rows:
        print(
            f"{seed:>4} {cells:>6} {small:>6} {greedy:>7} {default:>8} {generous:>10} {minimum:>8}"
        )
    total_min = max(sum(r[6] for r in rows), 1)
    for name, col in (("greedy only", 3), ("default protect", 4), ("30 s budget", 5)):
        total = sum(r[col] for r in rows)
        print(
            f"{name:<16} complements {total:>4} vs minimum {total_min:>4}: "
            f"excess {100 * (total - total_min) / total_min:5.1f}% (target <= 10%)"
        )

    print()
    print(f"== Speed: 600 schools x 7 races with margins (median of {runs} runs) ==")
    speed = bench_speed(policy, runs)
    print(
        f"cells {speed['cells']:.0f}, hidden as small {speed['small']:.0f}, "
        f"as complement {speed['complements']:.0f}"
    )
    print(f"{'step':<28} {'wall s':>8} {'cpu s':>8}")
    print(f"{'protect':<28} {speed['protect']:>8.3f} {speed['protect_cpu']:>8.3f}")
    print(f"{'audit (decides violations)':<28} {speed['audit']:>8.3f} {speed['audit_cpu']:>8.3f}")
    print(
        f"{'protect + audit':<28} {speed['total']:>8.3f} {speed['total_cpu']:>8.3f}  (target < 2 s)"
    )
    print(f"{'audit, exact intervals':<28} {speed['exact_audit']:>8.3f}  (one run)")
    print(f"load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    acro_seconds, acro_note = (None, "--skip-acro") if args.skip_acro else bench_acro(1)
    if acro_seconds is None:
        print(f"acro: not run: {acro_note}")
    else:
        print(
            f"{acro_note + ' crosstab, suppress':<28} {acro_seconds:>8.3f}  "
            "(one run; primary suppression only, from 150k microdata rows)"
        )
        print(f"{'ratio edudash / acro':<28} {speed['total'] / acro_seconds:>8.2f}")


if __name__ == "__main__":
    main()
