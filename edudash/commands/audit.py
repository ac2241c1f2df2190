"""`edudash audit`: attack everything released for a year and fail on any violation."""

from __future__ import annotations

import argparse
import math

from edudash.cli import check_count
from privacy.release import audit_year, release_years


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "audit",
        help="solve for every hidden cell from everything released; exit 1 on any violation",
        description="Rebuild the cell system of every release of the school year(s) recorded "
        "in the release registry, bound each hidden cell with integer programming (the "
        "attacker knows every shown value and that counts are non-negative integers), print "
        "the narrowest intervals and every violation. Exit status 1 if there is any.",
    )
    p.add_argument(
        "--year",
        action="append",
        metavar="YYYY-YY",
        help="school year to audit (repeatable; default: every year of the warehouse)",
    )
    p.add_argument(
        "--show", type=int, default=10, metavar="N", help="narrowest intervals to print (10)"
    )
    p.set_defaults(func=run)


def _fmt(upper: float) -> str:
    return "inf" if math.isinf(upper) else str(int(upper))


def run(args: argparse.Namespace) -> int:
    check_count(args.show, "--show", low=0)
    years = args.year or release_years(args.db)
    failed = 0
    for year in years:
        result = audit_year(args.db, year)
        if result.report is None:
            print(f"{year}: nothing released yet (build {result.build_id})")
            continue
        rep = result.report
        print(
            f"{year}: {result.releases} release(s), {result.cells} cells, "
            f"{len(rep.intervals)} hidden, {len(rep.violations)} violation(s), "
            f"{len(result.problems)} other problem(s), {rep.seconds:.1f} s"
        )
        for iv in rep.narrowest(args.show):
            kind = "small" if iv.primary else "complement"
            print(f"  [{iv.lower}, {_fmt(iv.upper)}] width {iv.width:g} ({kind}) {iv.key}")
        for v in rep.violations:
            print(f"  VIOLATION {v.key}: {v.reason} [{v.interval.lower}, {_fmt(v.interval.upper)}]")
        for problem in result.problems:
            print(f"  PROBLEM {problem}")
        if not result.ok:
            failed += 1
    if failed:
        print(f"audit failed for {failed} year(s)")
        return 1
    print("audit passed: no hidden cell can be narrowed below the policy")
    return 0
