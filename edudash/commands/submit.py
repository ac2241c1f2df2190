"""`edudash submit`: load a district's CSV submission, all or nothing, or print the error report."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from warehouse.connection import resolve_db_path
from warehouse.submissions import submit_paths
from warehouse.validation import DEFAULT_MAX_BYTES, problems_to_csv

SHOWN_PROBLEMS = 10


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "submit",
        help="validate and load a district submission (CSV files); nothing is stored on errors",
        description="Validate district CSV files against the data dictionary, reconcile students "
        "and staff without a state ID, and load everything in one transaction. On any problem "
        "nothing is stored and an error report (CSV: row, field, value, problem, how to fix) is "
        "written. The file kind comes from the file name (students, enrollments, "
        "program_participation, assessments, staff, staff_assignments) or its header.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="CSV files, UTF-8")
    p.add_argument("--district", required=True, help="submitting district ID (4 digits)")
    p.add_argument("--period", required=True, help="school year, e.g. 2024-25")
    p.add_argument("--submitted-by", default=None, help="user recorded in the history")
    p.add_argument(
        "--max-mb",
        type=float,
        default=DEFAULT_MAX_BYTES / (1 << 20),
        help="refuse any file larger than this many MB (default %(default)s)",
    )
    p.add_argument("--report", default=None, help="where to write the error report CSV")
    p.add_argument("--ids-out", default=None, help="write local ID -> state ID assignments here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.max_mb <= 0:
        raise ValueError("--max-mb must be positive")
    for f in args.files:
        if not Path(f).is_file():
            raise FileNotFoundError(f"no such file: {f}")
    db = resolve_db_path(args.db)
    by = args.submitted_by or f"cli:{getpass.getuser()}"
    result = submit_paths(
        db,
        args.district,
        args.period,
        args.files,
        by,
        max_bytes=int(args.max_mb * (1 << 20)),
    )
    if not result.accepted:
        report = Path(args.report or f"submission-errors-{args.district}-{args.period}.csv")
        report.write_text(problems_to_csv(result.problems), encoding="utf-8")
        print(f"REJECTED: {len(result.problems)} problem(s); nothing was stored.")
        for p in result.problems[:SHOWN_PROBLEMS]:
            where = f"{p.file} row {p.row}" + (f", {p.field}" if p.field else "")
            print(f"  {where}: {p.problem} -> {p.how_to_fix}")
        if len(result.problems) > SHOWN_PROBLEMS:
            print(f"  ... and {len(result.problems) - SHOWN_PROBLEMS} more")
        print(f"Error report: {report.resolve()}")
        return 1
    print(f"Accepted submission {result.submission_id} for district {args.district}, {args.period}")
    for kind, name, rows in result.files:
        print(f"  {kind:<22} {name:<40} {rows:>8,} rows")
    print(
        f"  IDs: {result.matched_ids} matched to existing, {result.new_ids} new, "
        f"{result.queued_for_review} provisional pending MDOE review"
    )
    if args.ids_out and result.id_assignments is not None:
        result.id_assignments.write_csv(args.ids_out)
        print(f"ID assignments: {Path(args.ids_out).resolve()}")
    return 0
