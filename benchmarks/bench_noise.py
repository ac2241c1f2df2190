"""Benchmark: noise (OpenDP + consistent rounding) against suppression on one public release.

For one school year of a scale-1 warehouse, the whole public catalogue (every student table,
one cell system with shared cells and school -> district -> state sums) is released three ways:
exact counts with complementary suppression (`privacy.public_release`), discrete Laplace noise
and discrete Gaussian noise. Printed per approach and geography level: cells left usable (a
number is shown: not suppressed, not a noisy 1-9), the median absolute error of the shown
counts, and for noise the time to draw and to reconcile (least squares + controlled rounding).

    .venv/bin/python benchmarks/bench_noise.py [--db PATH] [--year 2024-25] [--epsilon 1 --rho 0.5]

Without --db a scale-1 warehouse is built in a temporary folder (about a minute).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from privacy import release as rel
from privacy.consistency import constraint_matrix, least_squares, round_top_down
from privacy.noise import NoiseSpec, plan_noise
from privacy.noisy_release import contribution_groups, rounding_order
from privacy.policy import load_policy
from privacy.tables import SHOWN

LEVELS = ("state", "district", "school")


def _suppression(db: Path, year: str, keys: list[str]) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    public = rel.public_release(db, year)
    seconds = time.perf_counter() - started
    snap = rel._snapshot(db)
    status: dict[str, str] = {}
    for table in public.tables.values():
        if table.request.measure == "staff":
            continue
        layout = snap.layout(table.request)
        status.update(
            zip(layout.rows["cell_key"].to_list(), table.data["status"].to_list(), strict=True)
        )
    return np.array([status.get(k) == SHOWN for k in keys]), seconds


def _noise(
    spec: NoiseSpec,
    keys: list[str],
    truth: np.ndarray,
    constraints: Sequence[tuple[int, Sequence[int]]],
) -> dict:
    started = time.perf_counter()
    groups, perm = contribution_groups(keys)
    plan = plan_noise(spec, groups)
    noisy = np.empty(len(truth), dtype=np.int64)
    noisy[perm] = plan.draw(truth[perm])
    drawn = time.perf_counter()
    levels, order = rounding_order(keys)
    a = constraint_matrix(constraints, len(truth))
    fitted = least_squares(noisy.astype(float), a)
    fitted_at = time.perf_counter()
    published = round_top_down(fitted, a, levels, order)
    done = time.perf_counter()
    assert np.abs(a @ published.astype(float)).max() == 0 and published.min() >= 0
    return {
        "plan": plan,
        "published": published,
        "raw": noisy,
        "draw_s": drawn - started,
        "lsq_s": fitted_at - drawn,
        "round_s": done - fitted_at,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a built warehouse (default: build scale 1)")
    parser.add_argument("--year", default="2024-25")
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--rho", type=float, default=0.5)
    parser.add_argument(
        "--skip-suppression", action="store_true", help="noise only (protection can be slow)"
    )
    args = parser.parse_args()
    db = args.db
    if db is None:
        from warehouse.build import build_warehouse

        db = Path(tempfile.mkdtemp(prefix="bench-noise-")) / "edudash.duckdb"
        started = time.perf_counter()
        build_warehouse(db, scale=1.0)
        print(f"built scale-1 warehouse in {time.perf_counter() - started:.0f} s: {db}")
    policy = load_policy()
    snap = rel._snapshot(db)
    entries = [e for e in rel.public_catalogue(args.year) if e.request.measure != "staff"]
    system = rel.build_system(
        [snap.layout(e.request) for e in entries], rel._units_for(snap, args.year)
    )
    keys = list(system.keys)
    truth = np.asarray(system.values, dtype=np.int64)
    level = np.array(rounding_order(keys)[0])
    print(
        f"{args.year}: {len(entries)} student tables, {len(keys):,} distinct cells, "
        f"{len(system.constraints):,} sums"
    )
    runs = {
        f"laplace eps={args.epsilon:g}": _noise(
            NoiseSpec("laplace", epsilon=args.epsilon), keys, truth, system.constraints
        ),
        f"gaussian rho={args.rho:g}": _noise(
            NoiseSpec("gaussian", rho=args.rho), keys, truth, system.constraints
        ),
    }
    for name, run in runs.items():
        plan = run["plan"]
        print(
            f"{name}: L1 sensitivity {plan.sensitivity} cells/student, scale {plan.scale:.2f}, "
            f"moe +/-{plan.moe}; draw {run['draw_s']:.1f} s, least squares {run['lsq_s']:.1f} s, "
            f"controlled rounding {run['round_s']:.1f} s",
            flush=True,
        )
    if args.skip_suppression:
        shown_sup, sup_s = np.zeros(len(keys), dtype=bool), float("nan")
    else:
        shown_sup, sup_s = _suppression(db, args.year, keys)
    print(
        f"suppression: public release {sup_s:.1f} s (protect, or read back if recorded)", flush=True
    )
    header = f"\n{'approach':<22} {'level':<9} {'cells':>8} {'usable':>8} {'usable%':>8} {'MAE':>6} {'MAE>=10':>8} {'MAE raw':>8} {'in moe%':>8}"
    print(header)
    print("-" * (len(header) - 1))
    for li, lname in enumerate(LEVELS):
        sel = level == li
        n = int(sel.sum())
        usable = int(shown_sup[sel].sum())
        print(
            f"{'suppression':<22} {lname:<9} {n:>8,} {usable:>8,} {100 * usable / n:>7.1f}% {0:>6} {0:>8} {'-':>8} {'-':>8}"
        )
        for name, run in runs.items():
            pub, raw, moe = run["published"][sel], run["raw"][sel], run["plan"].moe
            shown = ~np.array([policy.is_small(int(v)) for v in pub])
            err = np.abs(pub - truth[sel])
            big = truth[sel] >= 10
            print(
                f"{name:<22} {lname:<9} {n:>8,} {int(shown.sum()):>8,} {100 * shown.mean():>7.1f}% "
                f"{np.median(err[shown]) if shown.any() else float('nan'):>6.1f} "
                f"{np.median(err[truth[sel] >= 10]) if big.any() else float('nan'):>8.1f} "
                f"{np.median(np.abs(raw - truth[sel])):>8.1f} {100 * np.mean(err <= moe):>7.1f}%"
            )
    print(
        "\nusable = a number is shown (not '*'); MAE = median |published - true| over shown "
        "cells; MAE>=10 = over cells whose true count is 10 or more; MAE raw = before post-processing; in moe% = published within +/-moe of the truth."
    )


if __name__ == "__main__":
    main()
