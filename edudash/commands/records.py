"""`edudash record-requests`: a person's (or a minor's parent's) request for a copy of a record.

Every command acts as an Education Data Manager account named with `--as USER_ID`.
Flow: `submit` -> `verify` (how identity was checked) -> `produce --out DIR` (a printable HTML
page and a CSV, noting that corrections go to the originating district). SSN and MaineCare ID
are left out unless `--include-ssn` (the person's own, at the Data Manager's choice).
"""

from __future__ import annotations

import argparse

from edudash.cli import add_db_argument, output_path
from edudash.commands.disclosures import actor_option, data_manager, db_option, split_list
from privacy.record_requests import (
    RELATIONSHIPS,
    VERIFICATION_METHODS,
    RecordRequest,
    deny_record_request,
    get_record_request,
    guardian_on_file,
    list_record_requests,
    produce_record_copy,
    submit_record_request,
    verify_identity,
)
from warehouse.connection import resolve_db_path


def _action(sub: argparse._SubParsersAction, name: str, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text)
    db_option(p)
    actor_option(p)
    return p


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "record-requests", help="requests for a copy of one's own student or staff record"
    )
    add_db_argument(parser)
    sub = parser.add_subparsers(dest="records_command", metavar="ACTION", required=True)

    p = _action(sub, "submit", "record a request for a copy of a record")
    p.add_argument("--requester", required=True, help="who asks")
    p.add_argument("--relationship", required=True, choices=sorted(RELATIONSHIPS))
    p.add_argument("--kind", required=True, choices=("student", "staff"))
    p.add_argument("--id", dest="subject_id", required=True, help="state student or staff ID")
    p.add_argument("--contact", required=True, help="how to reach the requester")
    p.add_argument("--part", action="append", help="only this part (table) of the record")
    p.set_defaults(func=_submit)

    p = _action(sub, "list", "list requests, newest first")
    p.set_defaults(func=_list)

    p = _action(sub, "show", "show one request (and the guardian name on file)")
    p.add_argument("request_id", type=int)
    p.set_defaults(func=_show)

    p = _action(sub, "verify", "record how the requester's identity was verified")
    p.add_argument("request_id", type=int)
    p.add_argument("--method", required=True, choices=sorted(VERIFICATION_METHODS))
    p.add_argument("--note", required=True, help="what was checked")
    p.set_defaults(func=_verify)

    p = _action(sub, "deny", "deny a request")
    p.add_argument("request_id", type=int)
    p.add_argument("--reason", required=True)
    p.set_defaults(func=_deny)

    p = _action(sub, "produce", "write the copy as HTML and CSV")
    p.add_argument("request_id", type=int)
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    p.add_argument("--part", action="append", help="only this part (table) of the record")
    p.add_argument(
        "--include-ssn",
        action="store_true",
        help="include the person's own SSN / MaineCare ID (left out by default)",
    )
    p.set_defaults(func=_produce)


def _line(r: RecordRequest) -> str:
    return (
        f"{r.label:<8} {r.status:<9} {r.subject_kind} {r.subject_id}  asked by {r.requester_name}"
        f" ({r.relationship}); parts: {', '.join(r.portion) or 'all'}; copies: {r.copies}"
    )


def _submit(args: argparse.Namespace) -> int:
    r = submit_record_request(
        resolve_db_path(args.db),
        data_manager(args),
        requester_name=args.requester,
        relationship=args.relationship,
        subject_kind=args.kind,
        subject_id=args.subject_id,
        contact=args.contact,
        portion=split_list(args.part),
    )
    print(f"recorded {r.label}; verify the requester's identity next")
    return 0


def _list(args: argparse.Namespace) -> int:
    requests = list_record_requests(resolve_db_path(args.db), data_manager(args))
    for r in requests:
        print(_line(r))
    if not requests:
        print("no record requests")
    return 0


def _show(args: argparse.Namespace) -> int:
    db = resolve_db_path(args.db)
    edm = data_manager(args)
    r = get_record_request(db, edm, args.request_id)
    print(_line(r))
    print(f"  contact: {r.contact}")
    if r.subject_kind == "student":
        print(f"  guardian on file: {guardian_on_file(db, edm, r.request_id) or '-'}")
    if r.verified_by:
        print(f"  verified by {r.verified_by}: {r.verification_method}: {r.verification_note}")
    if r.denied_reason:
        print(f"  denied: {r.denied_reason}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    r = verify_identity(
        resolve_db_path(args.db),
        data_manager(args),
        args.request_id,
        method=args.method,
        note=args.note,
    )
    print(f"{r.label} verified")
    return 0


def _deny(args: argparse.Namespace) -> int:
    r = deny_record_request(
        resolve_db_path(args.db), data_manager(args), args.request_id, reason=args.reason
    )
    print(f"{r.label} denied")
    return 0


def _produce(args: argparse.Namespace) -> int:
    # the folder first: the copy is logged as a disclosure as it is produced
    out = output_path(args.out, "--out", folder=True)
    out.mkdir(parents=True, exist_ok=True)
    copy = produce_record_copy(
        resolve_db_path(args.db),
        data_manager(args),
        args.request_id,
        tables=split_list(args.part) or None,
        include_ssn=args.include_ssn,
    )
    stem = f"record-{copy.request_id}-{copy.disclosure_id}"
    (out / f"{stem}.html").write_text(copy.html, encoding="utf-8")
    (out / f"{stem}.csv").write_text(copy.csv, encoding="utf-8")
    print(
        f"wrote {out / (stem + '.html')} and {stem}.csv ({len(copy.fields)} fields; "
        f"disclosure #{copy.disclosure_id})"
    )
    return 0
