"""The `edudash` command: argument parsing, --db, and one-line errors with a non-zero exit.

Each subcommand lives in `edudash/commands/<name>.py` and exposes `register(subparsers)`,
which adds its parser and sets `func(args) -> int`. Handlers raise `CommandError` (or any
ValueError / LookupError / OSError from the layers below) for a clear one-line failure.
"""

from __future__ import annotations

import argparse
import importlib
import sqlite3
import sys
from collections.abc import Sequence

import duckdb

from warehouse.connection import ENV_VAR

COMMAND_MODULES = (
    "build",
    "serve",
    "users",
    "audit_log",
    "export",
    "audit",
    "submit",
    "ids",
    "research",
    "records",
    "disclosures",
    "retention",
    "budget",
)


class CommandError(Exception):
    """A failure to report to the user in one line, exiting with status 1."""


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=None,
        help=f"warehouse DuckDB file (default: ${ENV_VAR}, else the embedded warehouse file)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edudash",
        description=(
            "Maine DOE education data warehouse and dashboard. Every statistic leaves the "
            "warehouse through the privacy layer (ten-count cutoff)."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"edudash.commands.{name}")
        module.register(sub)
    for sp in sub.choices.values():
        if not any(a.dest == "db" for a in sp._actions):
            add_db_argument(sp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("edudash: interrupted", file=sys.stderr)
        return 130
    except (
        CommandError,
        ValueError,
        LookupError,
        OSError,
        RuntimeError,
        duckdb.Error,
        sqlite3.Error,
    ) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, OSError) and exc.strerror and exc.filename:
            reason = f"{exc.filename}: {exc.strerror}"  # not Python's "[Errno 20] ..."
        print(f"edudash {args.command}: {reason}", file=sys.stderr)
        return 1
