"""`edudash export`: write every public table as tidy CSV plus a Frictionless datapackage.json."""

from __future__ import annotations

import argparse

from privacy import parallel
from privacy.export import export_public
from privacy.noise import MECHANISMS, noise_spec


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write the public release as CSV files and a datapackage.json",
        description="Write every public table (jointly protected per school year) as a tidy "
        "CSV and describe them in a Frictionless datapackage.json. The export is recorded in "
        "the release registry.",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    p.add_argument(
        "--year",
        action="append",
        metavar="YYYY-YY",
        help="school year to export (repeatable; default: every year of the warehouse)",
    )
    p.add_argument(
        "--noise",
        choices=MECHANISMS,
        help="export the noisy release instead (OpenDP; charged once to each year's budget)",
    )
    p.add_argument("--epsilon", type=float, help="the noisy release's epsilon (--noise laplace)")
    p.add_argument("--rho", type=float, help="the noisy release's rho (--noise gaussian)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    noise = noise_spec(args.noise, args.epsilon, args.rho)
    # a year not released yet is protected first, on every core (as `edudash serve` does)
    written = export_public(args.db, args.out, args.year, noise=noise, workers=parallel.cores())
    tables = sum(1 for p in written if p.suffix == ".csv")
    print(f"Wrote {tables} tables and {written[-1].name} to {args.out}")
    return 0
