"""Build benchmark: wall time and peak memory of `edudash build` at several scales.

Usage: python benchmarks/bench_build.py [--repeats N] [--with-10]

Each build runs in its own process (so peak memory is that build's alone) and writes to a
temporary file. Targets (2 cores, 24 GB): scale 1 under 60 s; scale 10 completes within memory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_once(scale: float, seed: int) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one build in a child process."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        code = (
            "from warehouse.build import build_warehouse; "
            f"build_warehouse({str(db)!r}, scale={scale!r}, seed={seed})"
        )
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        took = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"build at scale {scale} failed")
        return took, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--with-10", action="store_true", help="also build scale 10 (once)")
    args = ap.parse_args()
    scales = [(0.1, args.repeats), (1.0, args.repeats)] + ([(10.0, 1)] if args.with_10 else [])
    print(f"{'scale':>6} {'runs':>5} {'median s':>9} {'min s':>7} {'peak MiB':>9}  target")
    for scale, runs in scales:
        results = [build_once(scale, seed=20261128 + i) for i in range(runs)]
        times = [t for t, _ in results]
        peak = max(m for _, m in results)
        target = {1.0: "< 60 s", 10.0: "completes"}.get(scale, "")
        print(
            f"{scale:>6} {runs:>5} {statistics.median(times):>9.1f} {min(times):>7.1f} "
            f"{peak:>9.0f}  {target}"
        )


if __name__ == "__main__":
    main()
