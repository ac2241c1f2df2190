"""`edudash users`: create accounts at the command line, list them, revoke them.

`edudash users create --role data_manager --user-id X` makes the first Education Data Manager.
The password is read with getpass (not echoed) or from standard input with --password-stdin;
it is never a command-line argument, so it never lands in shell history or `ps`.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from edudash.cli import CommandError, add_db_argument
from privacy.access import Role, parse_role
from privacy.auth import PasswordPolicyError, password_problems
from privacy.users import cli_operator, create_user, list_accounts, revoke_user
from warehouse.connection import resolve_db_path


def _db_option(parser: argparse.ArgumentParser) -> None:
    """--db after the action too (`edudash users create --db X`); the parent's value stands
    when it is not given here."""
    parser.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help="warehouse file")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("users", help="create, list and revoke user accounts")
    add_db_argument(parser)
    sub = parser.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    create = sub.add_parser("create", help="create an account (e.g. the first data manager)")
    _db_option(create)
    create.add_argument("--user-id", required=True, help="3-40 characters, starting with a letter")
    create.add_argument(
        "--role",
        required=True,
        help="one of: " + ", ".join(r.value for r in Role if r != Role.PUBLIC),
    )
    create.add_argument("--name", default="", help="the person's name")
    create.add_argument("--district", default=None, help="district ID (district-scoped roles)")
    create.add_argument(
        "--school", action="append", default=[], help="school ID (teachers; repeatable)"
    )
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of prompting",
    )
    create.set_defaults(func=_create)

    listing = sub.add_parser("list", help="list accounts (never passwords or hashes)")
    _db_option(listing)
    listing.set_defaults(func=_list)

    revoke = sub.add_parser("revoke", help="revoke an account and end its sessions")
    _db_option(revoke)
    revoke.add_argument("user_id")
    revoke.add_argument("--reason", default="", help="why (recorded with the revocation)")
    revoke.set_defaults(func=_revoke)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise CommandError("no password on standard input")
        return password
    try:
        first = getpass.getpass("Password: ")
        problems = password_problems(first, args.user_id)
        if problems:
            raise PasswordPolicyError("password rejected: " + "; ".join(problems))
        if getpass.getpass("Repeat password: ") != first:
            raise CommandError("the passwords do not match")
    except EOFError:  # no terminal and nothing piped in (or Ctrl-D at the prompt)
        raise CommandError(
            "no password given: type it at the prompt, or pipe it in with --password-stdin"
        ) from None
    return first


def _create(args: argparse.Namespace) -> int:
    db = resolve_db_path(args.db)
    role = parse_role(args.role)
    password = _read_password(args)
    user = create_user(
        db,
        user_id=args.user_id,
        role=role,
        password=password,
        name=args.name,
        district_id=args.district,
        school_ids=tuple(args.school),
        created_by=cli_operator(),
    )
    where = ""
    if user.district_id:
        where = f" in district {user.district_id}"
    if user.school_ids:
        where += f", school {', '.join(user.school_ids)}"
    print(f"created {user.user_id} ({user.role.value}{where})")
    return 0


def _list(args: argparse.Namespace) -> int:
    db = resolve_db_path(args.db)
    accounts = list_accounts(db, cli_operator())
    if not accounts:
        print("no accounts")
        return 0
    header = ("user_id", "role", "district", "schools", "status", "created", "by")
    rows = [
        (
            a.user.user_id,
            a.user.role.value,
            a.user.district_id or "-",
            ",".join(a.user.school_ids) or "-",
            a.status + (" (demo)" if a.demo else ""),
            a.created_at.strftime("%Y-%m-%d %H:%M"),
            a.created_by,
        )
        for a in accounts
    ]
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _revoke(args: argparse.Namespace) -> int:
    db = resolve_db_path(args.db)
    user = revoke_user(db, cli_operator(), args.user_id, reason=args.reason)
    print(f"revoked {user.user_id}; its sessions have ended")
    return 0
