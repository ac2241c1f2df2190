"""`edudash audit-log`: verify the hash chain of the audit trail, and show or flag its entries.

`verify` exits 1 when any entry was edited, inserted or deleted (see `privacy.audit_log`).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from edudash.cli import MAX_LIMIT, CommandError, add_db_argument, check_count
from privacy.audit_log import flag_unusual, search_entries, verify_chain
from warehouse.connection import resolve_db_path, state_path


def _db_option(parser: argparse.ArgumentParser) -> None:
    """--db after the action too (`edudash users create --db X`); the parent's value stands
    when it is not given here."""
    parser.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help="warehouse file")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("audit-log", help="verify and read the audit trail")
    add_db_argument(parser)
    sub = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)

    verify = sub.add_parser("verify", help="check the hash chain; exit 1 if it was tampered with")
    _db_option(verify)
    verify.set_defaults(func=_verify)

    show = sub.add_parser("show", help="print audit entries, newest first")
    _db_option(show)
    show.add_argument("--user", default=None, help="only entries by this user ID")
    show.add_argument("--action", default=None, help="only actions starting with this text")
    show.add_argument("--student", default=None, help="only entries naming this state student ID")
    show.add_argument("--since", default=None, help="only entries at or after this ISO date/time")
    show.add_argument("--flagged", action="store_true", help="only unusual activity")
    show.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    show.set_defaults(func=_show)


def _verify(args: argparse.Namespace) -> int:
    db = resolve_db_path(args.db)
    if not state_path(db).is_file():
        raise CommandError(f"no state database at {state_path(db)}")
    result = verify_chain(db)
    if not result.ok:
        for problem in result.problems:
            print(f"TAMPERED: {problem}")
        print(f"audit log FAILED verification ({result.count} entries)")
        return 1
    print(f"audit log OK: {result.count} entries")
    print(f"head: {result.count} {result.last_hash}")
    return 0


def _parse_since(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--since {text!r} is not an ISO date or date-time") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _show(args: argparse.Namespace) -> int:
    db = resolve_db_path(args.db)
    check_count(args.limit, "--limit")
    if not state_path(db).is_file():
        raise CommandError(f"no state database at {state_path(db)}")
    entries = search_entries(
        db,
        actor=args.user,
        action_prefix=args.action,
        student_id=args.student,
        since=_parse_since(args.since),
        limit=args.limit if not args.flagged else MAX_LIMIT,
    )
    if args.flagged:
        flags = flag_unusual(entries)[-args.limit :]
        for f in flags:
            seqs = ",".join(map(str, f.seqs[:10])) + ("..." if len(f.seqs) > 10 else "")
            print(f"{f.at:%Y-%m-%d %H:%M:%S}Z  {f.kind:<16} {f.actor:<20} {f.message}  [#{seqs}]")
        if not flags:
            print("no unusual activity")
        return 0
    for e in entries:
        details = json.dumps(e.details, sort_keys=True, ensure_ascii=False)
        print(f"#{e.seq:<6} {e.at:%Y-%m-%d %H:%M:%S}Z  {e.actor:<20} {e.action:<28} {details}")
    if not entries:
        print("no entries")
    return 0
