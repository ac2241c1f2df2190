"""`edudash retention`: archive and destroy records on schedule, or list what would happen.

`run --dry-run` changes nothing (the warehouse checksum is printed before and after). A real run
writes a new warehouse and a new archive (`x.archive.duckdb`) and swaps them in; a failed run
changes nothing. Every run is logged (`edudash retention runs`, and the audit trail). The actor
is the operator at the command line, or the Education Data Manager named with `--as`.
"""

from __future__ import annotations

import argparse
from datetime import date

from edudash.cli import CommandError, add_db_argument, check_count
from edudash.commands.disclosures import db_option
from privacy.disclosures import data_manager_account
from privacy.retention import load_schedule, retention_runs, run_retention
from privacy.users import Operator, cli_operator
from warehouse.connection import resolve_db_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("retention", help="archive and destroy records on schedule")
    add_db_argument(parser)
    sub = parser.add_subparsers(dest="retention_command", metavar="ACTION", required=True)

    run = sub.add_parser("run", help="apply the retention schedule")
    db_option(run)
    run.add_argument(
        "--dry-run", action="store_true", help="list what would happen; change nothing"
    )
    run.add_argument("--as-of", default=None, help="apply the schedule as of this day (YYYY-MM-DD)")
    run.add_argument("--schedule", default=None, metavar="TOML", help="schedule file")
    run.add_argument("--as", dest="as_user", default=None, help="Education Data Manager account")
    run.set_defaults(func=_run)

    runs = sub.add_parser("runs", help="list logged retention runs")
    db_option(runs)
    runs.add_argument("--limit", type=int, default=20)
    runs.set_defaults(func=_runs)


def _actor(args: argparse.Namespace) -> Operator | object:
    if args.as_user:
        return data_manager_account(resolve_db_path(args.db), args.as_user)
    return cli_operator()


def _run(args: argparse.Namespace) -> int:
    db = resolve_db_path(args.db)
    try:
        as_of = date.fromisoformat(args.as_of) if args.as_of else None
    except ValueError:
        raise CommandError(f"--as-of {args.as_of!r} is not a date YYYY-MM-DD") from None
    schedule = load_schedule(args.schedule)
    result = run_retention(
        db,
        _actor(args),
        schedule=schedule,
        as_of=as_of,
        dry_run=args.dry_run,  # type: ignore[arg-type]
    )
    verb = {"archive": "archive", "destroy": "destroy", "destroy_archived": "destroy (archived)"}
    head = "would" if result.dry_run else "did"
    for line in result.lines:
        print(
            f"{head} {verb[line.action]:<19} {line.rows:>8} {line.record_type} rows that closed "
            f"in {line.close_year}"
        )
    if not result.lines:
        print(f"nothing is due as of {result.as_of}")
    print(
        f"{'dry run' if result.dry_run else 'run'} {result.run_id} as of {result.as_of}: "
        f"archived {result.total('archive')}, destroyed "
        f"{result.total('destroy') + result.total('destroy_archived')} rows"
        + (" (nothing changed)" if result.dry_run else "")
    )
    print(f"warehouse sha256 before {result.sha256_before}")
    print(f"warehouse sha256 after  {result.sha256_after}")
    return 0


def _runs(args: argparse.Namespace) -> int:
    check_count(args.limit, "--limit")
    for r in retention_runs(resolve_db_path(args.db), cli_operator(), limit=args.limit):
        kind = "dry run" if r.dry_run else "run"
        print(
            f"{r.at:%Y-%m-%d %H:%M}Z {r.run_id} {kind:<7} as of {r.as_of} {r.status:<6} by "
            f"{r.actor}: {r.summary}" + (f" error: {r.error}" if r.error else "")
        )
    return 0
