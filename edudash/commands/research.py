"""`edudash research`: research requests, MOAs, watermarked extracts, reminders, destruction.

Every command acts as an Education Data Manager account named with `--as USER_ID`.
Typical flow: `submit` (the researcher's written request) -> `approve`/`deny` with reasons ->
`moa` (the signed Memorandum of Agreement) -> `extract --out DIR` -> `report` (copies of the
resulting reports) -> `destroyed` (certification of destruction). `reminders` lists loans ending
soon and overdue ones; `bar` records an improper disclosure (five-year bar).
"""

from __future__ import annotations

import argparse
from datetime import date

from edudash.cli import CommandError, add_db_argument, output_path
from edudash.commands.disclosures import actor_option, data_manager, db_option, split_list
from privacy.research import (
    STATUSES,
    ResearchRequest,
    approve_research_request,
    certify_destruction,
    deny_research_request,
    extracts_of,
    get_research_request,
    list_bars,
    list_research_requests,
    loans_due,
    make_extract,
    record_improper_disclosure,
    record_moa,
    record_reminders,
    record_report_copy,
    reports_of,
    submit_research_request,
)
from warehouse.connection import resolve_db_path


def _action(sub: argparse._SubParsersAction, name: str, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text)
    db_option(p)
    actor_option(p)
    return p


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("research", help="research requests and data loans")
    add_db_argument(parser)
    sub = parser.add_subparsers(dest="research_command", metavar="ACTION", required=True)

    p = _action(sub, "submit", "record a researcher's written request")
    p.add_argument("--researcher", required=True, help="the researcher's name")
    p.add_argument("--email", required=True, help="the researcher's e-mail")
    p.add_argument("--organization", required=True, help="the researcher's organization")
    p.add_argument(
        "--study-for", required=True, help="the educational agency or institution the study is for"
    )
    p.add_argument("--purpose", required=True, help="the purpose of the study")
    p.add_argument(
        "--security", required=True, help="how confidentiality and security will be ensured"
    )
    p.add_argument(
        "--field", action="append", required=True, help="table.field requested (repeatable)"
    )
    p.add_argument("--year", action="append", help="school year YYYY-YY (repeatable; default all)")
    p.add_argument("--end-date", required=True, help="the loan's end date, YYYY-MM-DD")
    p.set_defaults(func=_submit)

    p = _action(sub, "list", "list requests, newest first")
    p.add_argument("--status", choices=STATUSES)
    p.set_defaults(func=_list)

    p = _action(sub, "show", "show one request, its extracts and reports")
    p.add_argument("request_id", type=int)
    p.set_defaults(func=_show)

    p = _action(sub, "approve", "approve a request (optionally narrowing its fields)")
    p.add_argument("request_id", type=int)
    p.add_argument("--reasons", required=True, help="why it is approved")
    p.add_argument("--field", action="append", help="approve only these table.fields")
    p.set_defaults(func=_approve)

    p = _action(sub, "deny", "deny a request")
    p.add_argument("request_id", type=int)
    p.add_argument("--reasons", required=True, help="why it is denied")
    p.set_defaults(func=_deny)

    p = _action(sub, "moa", "record the signed Memorandum of Agreement")
    p.add_argument("request_id", type=int)
    p.add_argument("--signed-by", required=True)
    p.add_argument("--signed-on", required=True, help="YYYY-MM-DD")
    p.add_argument("--document", required=True, help="where the signed MOA is kept")
    p.set_defaults(func=_moa)

    p = _action(sub, "extract", "write the watermarked extract of an approved request")
    p.add_argument("request_id", type=int)
    p.add_argument("--out", required=True, metavar="DIR", help="new or empty folder")
    p.set_defaults(func=_extract)

    p = _action(sub, "reminders", "loans ending within N days, and overdue loans")
    p.add_argument("--within", type=int, default=30, metavar="DAYS", help="window (30 days)")
    p.add_argument("--as-of", default=None, help="the day to count from (default today)")
    p.set_defaults(func=_reminders)

    p = _action(sub, "report", "record a copy of a report made with loaned data")
    p.add_argument("request_id", type=int)
    p.add_argument("--title", required=True)
    p.add_argument("--received-on", required=True, help="YYYY-MM-DD")
    p.add_argument("--document", required=True, help="where the copy is kept")
    p.set_defaults(func=_report)

    p = _action(sub, "destroyed", "record the certification of destruction (closes the loan)")
    p.add_argument("request_id", type=int)
    p.add_argument("--certified-by", required=True)
    p.add_argument("--certified-on", required=True, help="YYYY-MM-DD")
    p.add_argument("--method", required=True, help="how the data were destroyed")
    p.set_defaults(func=_destroyed)

    p = _action(sub, "bar", "record an improper disclosure (bars a third party for five years)")
    p.add_argument("--organization", default=None)
    p.add_argument("--email", default=None, help="the person responsible")
    p.add_argument("--request", type=int, default=None, help="the request the data came from")
    p.add_argument("--finding", required=True, help="what was found")
    p.add_argument("--found-on", default=None, help="YYYY-MM-DD (default today)")
    p.add_argument(
        "--maine-official", action="store_true", help="the party is a Maine official (no bar)"
    )
    p.set_defaults(func=_bar)

    p = _action(sub, "bars", "list findings of improper disclosure and bars")
    p.set_defaults(func=_bars)


def _line(r: ResearchRequest) -> str:
    moa = "MOA" if r.moa_recorded else "no MOA"
    return (
        f"{r.label:<7} {r.status:<9} {moa:<6} ends {r.end_date}  {r.researcher} "
        f"({r.organization}): {len(r.approved_fields or r.fields)} fields"
    )


def _submit(args: argparse.Namespace) -> int:
    req = submit_research_request(
        resolve_db_path(args.db),
        data_manager(args),
        researcher=args.researcher,
        researcher_email=args.email,
        organization=args.organization,
        study_for=args.study_for,
        purpose=args.purpose,
        security_plan=args.security,
        fields=split_list(args.field),
        school_years=split_list(args.year),
        end_date=args.end_date,
    )
    print(f"recorded {req.label} ({req.status}): {', '.join(req.fields)}")
    return 0


def _list(args: argparse.Namespace) -> int:
    requests = list_research_requests(
        resolve_db_path(args.db), data_manager(args), status=args.status
    )
    for r in requests:
        print(_line(r))
    if not requests:
        print("no research requests")
    return 0


def _show(args: argparse.Namespace) -> int:
    db = resolve_db_path(args.db)
    edm = data_manager(args)
    r = get_research_request(db, edm, args.request_id)
    print(_line(r))
    print(f"  study for: {r.study_for}")
    print(f"  purpose: {r.purpose}")
    print(f"  security: {r.security_plan}")
    print(f"  requested: {', '.join(r.fields)}; years: {', '.join(r.school_years) or 'all'}")
    if r.decided_by:
        print(f"  decided by {r.decided_by}: {r.decision_reasons}")
    if r.approved_fields:
        print(f"  approved: {', '.join(r.approved_fields)}")
    if r.moa_recorded:
        print(f"  MOA signed by {r.moa_signed_by} on {r.moa_signed_on} ({r.moa_document})")
    for x in extracts_of(db, edm, r.request_id):
        print(f"  extract {x['watermark']} at {x['at']} ({x['student_count']} students)")
    for rep in reports_of(db, edm, r.request_id):
        print(f"  report copy #{rep.report_id} {rep.title!r} received {rep.received_on}")
    if r.destruction_certified_on:
        print(
            f"  destruction certified by {r.destruction_certified_by} on "
            f"{r.destruction_certified_on}: {r.destruction_method}"
        )
    return 0


def _approve(args: argparse.Namespace) -> int:
    r = approve_research_request(
        resolve_db_path(args.db),
        data_manager(args),
        args.request_id,
        reasons=args.reasons,
        fields=split_list(args.field) or None,
    )
    note = "" if r.moa_recorded else "; record the signed MOA before any extract"
    print(f"approved {r.label}: {', '.join(r.approved_fields)}{note}")
    return 0


def _deny(args: argparse.Namespace) -> int:
    r = deny_research_request(
        resolve_db_path(args.db), data_manager(args), args.request_id, reasons=args.reasons
    )
    print(f"denied {r.label}")
    return 0


def _moa(args: argparse.Namespace) -> int:
    r = record_moa(
        resolve_db_path(args.db),
        data_manager(args),
        args.request_id,
        signed_by=args.signed_by,
        signed_on=args.signed_on,
        document=args.document,
    )
    print(f"recorded the signed MOA of {r.label}")
    return 0


def _extract(args: argparse.Namespace) -> int:
    out = output_path(args.out, "--out", folder=True)
    x = make_extract(resolve_db_path(args.db), data_manager(args), args.request_id, out)
    rows = ", ".join(f"{t} {n}" for t, n in x.row_counts.items())
    print(
        f"wrote extract {x.watermark} of RR-{x.request_id} to {x.folder}: {rows} rows, "
        f"{x.student_count} students (disclosure #{x.disclosure_id})"
    )
    return 0


def _reminders(args: argparse.Namespace) -> int:
    db = resolve_db_path(args.db)
    edm = data_manager(args)
    try:
        today = date.fromisoformat(args.as_of) if args.as_of else None
    except ValueError:
        raise CommandError(f"--as-of {args.as_of!r} is not a date YYYY-MM-DD") from None
    due = loans_due(db, edm, within_days=args.within, today=today)
    for r in due:
        when = f"OVERDUE by {-r.days_left} days" if r.overdue else f"ends in {r.days_left} days"
        print(
            f"RR-{r.request_id:<4} {when:<22} end {r.end_date}  {r.researcher} <{r.researcher_email}>"
            f" ({r.organization}); {r.extracts} extract(s): destroy and certify"
        )
    if not due:
        print(f"no loans end within {args.within} days")
    record_reminders(db, edm, due)
    return 0


def _report(args: argparse.Namespace) -> int:
    rep = record_report_copy(
        resolve_db_path(args.db),
        data_manager(args),
        args.request_id,
        title=args.title,
        received_on=args.received_on,
        document=args.document,
    )
    print(f"recorded report copy #{rep.report_id} for RR-{rep.request_id}")
    return 0


def _destroyed(args: argparse.Namespace) -> int:
    r = certify_destruction(
        resolve_db_path(args.db),
        data_manager(args),
        args.request_id,
        certified_by=args.certified_by,
        certified_on=args.certified_on,
        method=args.method,
    )
    print(f"recorded the certification of destruction; {r.label} is closed")
    return 0


def _bar(args: argparse.Namespace) -> int:
    if args.organization is None and args.request is None:
        raise CommandError("name the --organization or the --request the data came from")
    bar = record_improper_disclosure(
        resolve_db_path(args.db),
        data_manager(args),
        organization=args.organization,
        person_email=args.email,
        request_id=args.request,
        finding=args.finding,
        found_on=args.found_on,
        maine_official=args.maine_official,
    )
    if bar.barred_until:
        print(
            f"recorded finding #{bar.finding_id}: {bar.organization} barred until {bar.barred_until}"
        )
    else:
        print(f"recorded finding #{bar.finding_id} (Maine official: no bar)")
    return 0


def _bars(args: argparse.Namespace) -> int:
    bars = list_bars(resolve_db_path(args.db), data_manager(args))
    for b in bars:
        until = f"barred until {b.barred_until}" if b.barred_until else "no bar (Maine official)"
        who = b.organization + (f" / {b.person_email}" if b.person_email else "")
        print(f"#{b.finding_id:<4} found {b.found_on}  {until:<24} {who}: {b.finding}")
    if not bars:
        print("no findings of improper disclosure")
    return 0
