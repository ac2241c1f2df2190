"""`edudash disclosures`: list, export and record entries of the disclosure log.

Every command acts as an Education Data Manager account named with `--as USER_ID` (the log and
its approvals name that person). `record` is for releases made outside edudash (a subpoena, a
health or safety emergency, an audit); research extracts and record copies log themselves.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from edudash.cli import CommandError, add_db_argument, check_count, output_path
from privacy.access import User
from privacy.disclosures import (
    LEGAL_BASES,
    MANUAL_NATURES,
    NATURES,
    data_manager_account,
    export_disclosures,
    list_disclosures,
    record_disclosure,
)
from warehouse.connection import resolve_db_path


def db_option(parser: argparse.ArgumentParser) -> None:
    """--db after the action too; the parent's value stands when it is not given here."""
    parser.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help="warehouse file")


def actor_option(parser: argparse.ArgumentParser) -> None:
    """--as: the Education Data Manager account acting (recorded as approver/recorder)."""
    parser.add_argument(
        "--as",
        dest="as_user",
        required=True,
        metavar="USER_ID",
        help="the Education Data Manager account acting",
    )


def data_manager(args: argparse.Namespace) -> User:
    """The Education Data Manager named by --as (PermissionError otherwise)."""
    return data_manager_account(resolve_db_path(args.db), args.as_user)


def parse_when(text: str | None, what: str) -> datetime | None:
    """An ISO date or date-time (UTC when no zone is given), or None."""
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{what} {text!r} is not an ISO date or date-time") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def split_list(values: list[str] | None) -> list[str]:
    """Repeatable options that also accept comma-separated values."""
    return [v.strip() for raw in values or [] for v in raw.split(",") if v.strip()]


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nature", choices=sorted(NATURES), help="only this kind of disclosure")
    parser.add_argument("--basis", choices=sorted(LEGAL_BASES), help="only this legal basis")
    parser.add_argument("--recipient", help="recipient or organization contains this text")
    parser.add_argument("--subject", help="only disclosures about this state student/staff ID")
    parser.add_argument("--since", help="only entries at or after this ISO date/time")
    parser.add_argument("--until", help="only entries before this ISO date/time")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "disclosures", help="the disclosure log: every release of personally identifiable data"
    )
    add_db_argument(parser)
    sub = parser.add_subparsers(dest="disclosures_command", metavar="ACTION", required=True)

    listing = sub.add_parser("list", help="print disclosure-log entries, newest first")
    db_option(listing)
    actor_option(listing)
    _filters(listing)
    listing.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    listing.set_defaults(func=_list)

    export = sub.add_parser("export", help="write the (filtered) log as CSV")
    db_option(export)
    actor_option(export)
    _filters(export)
    export.add_argument("--out", required=True, metavar="FILE", help="CSV file to write")
    export.set_defaults(func=_export)

    record = sub.add_parser("record", help="record a disclosure made outside edudash")
    db_option(record)
    actor_option(record)
    record.add_argument("--nature", required=True, choices=MANUAL_NATURES)
    record.add_argument("--basis", required=True, choices=sorted(LEGAL_BASES))
    record.add_argument("--recipient", required=True, help="to whom the data were disclosed")
    record.add_argument("--organization", default="", help="the recipient's organization")
    record.add_argument("--purpose", required=True, help="why (at least 10 characters)")
    record.add_argument("--data", required=True, help="what was disclosed, in words")
    record.add_argument(
        "--field", action="append", required=True, help="table.field disclosed (repeatable)"
    )
    record.add_argument(
        "--subject",
        action="append",
        required=True,
        help="state student or staff ID whose data were disclosed (repeatable)",
    )
    record.add_argument("--reference", default="", help="court order number, case, letter ...")
    record.set_defaults(func=_record)


def _filter_values(args: argparse.Namespace) -> dict[str, object]:
    return {
        "nature": args.nature,
        "legal_basis": args.basis,
        "recipient_contains": args.recipient,
        "subject_id": args.subject,
        "since": parse_when(args.since, "--since"),
        "until": parse_when(args.until, "--until"),
    }


def _list(args: argparse.Namespace) -> int:
    check_count(args.limit, "--limit")
    entries = list_disclosures(
        resolve_db_path(args.db), data_manager(args), limit=args.limit, **_filter_values(args)
    )
    for e in entries:
        to = e.recipient + (f" ({e.recipient_organization})" if e.recipient_organization else "")
        print(
            f"#{e.disclosure_id:<5} {e.at:%Y-%m-%d %H:%M}Z  {e.nature:<24} {e.legal_basis:<26} "
            f"{e.subject_count:>6} people  to {to}; approved by {e.approved_by}; {e.reference}"
        )
    if not entries:
        print("no disclosures")
    return 0


def _export(args: argparse.Namespace) -> int:
    db = resolve_db_path(args.db)
    out = output_path(args.out, "--out", folder=False)
    text = export_disclosures(db, data_manager(args), out, **_filter_values(args))
    rows = max(text.count("\n") - 1, 0)
    print(f"wrote {rows} disclosure(s) to {args.out}")
    return 0


def _record(args: argparse.Namespace) -> int:
    db = resolve_db_path(args.db)
    entry = record_disclosure(
        db,
        data_manager(args),
        nature=args.nature,
        legal_basis=args.basis,
        recipient=args.recipient,
        recipient_organization=args.organization,
        purpose=args.purpose,
        data_description=args.data,
        fields=split_list(args.field),
        subject_ids=split_list(args.subject),
        reference=args.reference,
    )
    print(
        f"recorded disclosure #{entry.disclosure_id} ({entry.nature}, {entry.legal_basis}, "
        f"{entry.subject_count} people)"
    )
    return 0
