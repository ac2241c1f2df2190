"""`edudash submit`: load a district's CSV submission, all or nothing, or print the error report."""

from __future__ import annotations

import argparse
import getpass
import math
from pathlib import Path

from edudash.cli import CommandError, output_path
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


MAX_MB = 1 << 20  # a terabyte: any larger limit is no limit at all


def run(args: argparse.Namespace) -> int:
    if not (math.isfinite(args.max_mb) and 0 < args.max_mb <= MAX_MB):
        raise CommandError(f"--max-mb must be a number of megabytes above 0 and at most {MAX_MB}")
    for f in args.files:
        if not Path(f).is_file():
            raise FileNotFoundError(f"no such file: {f}")
    # outputs named checked before anything is stored: an --ids-out that failed afterwards
    # left the IDs issued and their file unwritten (the default report, in the current
    # folder, is only needed if the submission is rejected: it is not asked of a valid one)
    report = Path(f"submission-errors-{args.district}-{args.period}.csv")
    if args.report is not None:
        report = output_path(args.report, "--report", folder=False)
    ids_out = None if args.ids_out is None else output_path(args.ids_out, "--ids-out", folder=False)
    for path in (report, ids_out):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
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
        print(f"REJECTED: {len(result.problems)} problem(s); nothing was stored.")
        for p in result.problems[:SHOWN_PROBLEMS]:
            where = f"{p.file} row {p.row}" + (f", {p.field}" if p.field else "")
            print(f"  {where}: {p.problem} -> {p.how_to_fix}")
        if len(result.problems) > SHOWN_PROBLEMS:
            print(f"  ... and {len(result.problems) - SHOWN_PROBLEMS} more")
        # after the summary: a report that cannot be written still leaves the problems shown
        report.write_text(problems_to_csv(result.problems), encoding="utf-8")
        print(f"Error report: {report.resolve()}")
        return 1
    print(f"Accepted submission {result.submission_id} for district {args.district}, {args.period}")
    for kind, name, rows in result.files:
        print(f"  {kind:<22} {name:<40} {rows:>8,} rows")
    print(
        f"  IDs: {result.matched_ids} matched to existing, {result.new_ids} new, "
        f"{result.queued_for_review} provisional pending MDOE review"
    )
    if ids_out is not None and result.id_assignments is not None:
        result.id_assignments.write_csv(ids_out)
        print(f"ID assignments: {ids_out.resolve()}")
    return 0
