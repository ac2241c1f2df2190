"""Benchmark of the independent attacker (tests/attacker.py) against an `edudash export` folder.

Usage: .venv/bin/python benchmarks/bench_attack.py EXPORT_DIR [--status] [--top N]
Prints the attack time, the number of MILP solves, violations, and the narrowest intervals.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.attacker import attack, load_export  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export_dir")
    parser.add_argument("--status", action="store_true", help="trust the status column")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    tables = load_export(args.export_dir)
    start = time.perf_counter()
    result = attack(tables, use_status=args.status)
    seconds = time.perf_counter() - start
    exact = result.exactly_recovered()
    narrow = result.violations(5, 10)
    print(f"{'tables':<28}{len(tables)}")
    print(f"{'hidden cells':<28}{len(result.intervals)}")
    print(f"{'attack seconds':<28}{seconds:.1f}")
    print(f"{'MILP solves':<28}{result.milp_solves}")
    print(f"{'shown counts 1-9':<28}{len(result.shown_small)}")
    print(f"{'exactly recovered':<28}{len(exact)} {dict(Counter(i.status for i in exact))}")
    print(f"{'width<5 or upper<10':<28}{len(narrow)} {dict(Counter(i.status for i in narrow))}")
    print("narrowest intervals:")
    for i in result.narrowest(args.top):
        print(f"  [{i.low:>5}, {i.high:>5}] {i.status:<22} {i.where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
