"""`edudash budget`: the privacy-loss budget of noisy releases, per school year.

`show` prints each year's cap, spend and ledger (what every noisy release spent, on which
tables, who asked and when); `set-cap` is for the Education Data Manager: it sets the year's
cap in epsilon (Laplace noise) or rho (zCDP; Laplace and Gaussian noise).
"""

from __future__ import annotations

import argparse
import getpass

from edudash.cli import CommandError
from privacy.budget import BudgetStatus, budget_status, set_cap
from warehouse.connection import resolve_db_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "budget", help="privacy budget of noisy releases: show the ledger, set a year's cap"
    )
    sub = parser.add_subparsers(dest="budget_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="print each year's cap, spend and ledger entries")
    show.add_argument("--year", metavar="YYYY-YY", help="only this school year")
    show.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help="warehouse file")
    show.set_defaults(func=run_show)
    cap = sub.add_parser("set-cap", help="set a school year's cap (Education Data Manager)")
    cap.add_argument("--year", required=True, metavar="YYYY-YY", help="school year")
    unit = cap.add_mutually_exclusive_group(required=True)
    unit.add_argument("--epsilon", type=float, help="cap in epsilon (pure DP; Laplace only)")
    unit.add_argument("--rho", type=float, help="cap in rho (zCDP; Laplace and Gaussian)")
    cap.add_argument("--by", metavar="NAME", help="who sets it (default: cli:<login name>)")
    cap.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help="warehouse file")
    cap.set_defaults(func=run_set_cap)


def _years(db: str | None, year: str | None) -> list[str]:
    if year:
        return [year]
    from privacy.release import release_years

    return release_years(db)


def _print_status(status: BudgetStatus) -> None:
    cap = status.cap
    if cap is None:
        print(
            f"{status.school_year}: no cap set (noisy releases are refused); spent rho "
            f"{status.spent:.4g} in {len(status.entries)} release(s)"
        )
    else:
        print(
            f"{status.school_year}: cap {cap.unit} {cap.cap:g} (set by {cap.set_by} at "
            f"{cap.set_at}); spent {status.spent:.4g}; left {status.remaining:.4g}; "
            f"{len(status.entries)} release(s)"
        )
    for e in status.entries:
        eps = f"{e.epsilon:.4g}" if e.epsilon is not None else "-"
        tables = "; ".join(e.tables)
        if len(tables) > 70:
            tables = tables[:67] + "..."
        print(
            f"  #{e.seq:<4} {e.created_at}  {e.mechanism:<8} eps {eps:<8} rho {e.rho:<8.4g} "
            f"{e.created_by:<14} {e.release_id}  {tables}"
        )


def run_show(args: argparse.Namespace) -> int:
    db = resolve_db_path(args.db)
    try:
        for year in _years(args.db, args.year):
            _print_status(budget_status(db, year))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return 0


def run_set_cap(args: argparse.Namespace) -> int:
    by = args.by or f"cli:{getpass.getuser()}"
    try:
        cap = set_cap(
            resolve_db_path(args.db), args.year, epsilon=args.epsilon, rho=args.rho, set_by=by
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    print(f"{cap.school_year}: cap set to {cap.unit} {cap.cap:g} by {cap.set_by}")
    return 0
