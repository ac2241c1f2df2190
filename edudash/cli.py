"""The `edudash` command: argument parsing, --db, and one-line errors with a non-zero exit.

Each subcommand lives in `edudash/commands/<name>.py` and exposes `register(subparsers)`,
which adds its parser and sets `func(args) -> int`. Handlers raise `CommandError` (or any
ValueError / LookupError / OSError from the layers below) for a clear one-line failure.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

import duckdb

from warehouse.connection import ENV_VAR, resolve_db_path

# commands that may run where no warehouse exists yet: they build one
_MAKE_WAREHOUSE = frozenset({"build", "serve"})
_DUCKDB_MAGIC = (8, b"DUCK")  # a DuckDB file's header: 8 bytes of checksum, then the magic
_MAX_REASON = 300  # characters of a failure's reason printed (a pasted value can be megabytes)

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


MAX_LIMIT = 100_000  # entries one listing may show


def check_count(value: int, option: str, *, low: int = 1, high: int = MAX_LIMIT) -> int:
    """``value`` of a count option (how many to list), between ``low`` and ``high``: a
    negative one would mean "all but the last", a huge one overflows SQLite."""
    if not low <= value <= high:
        raise CommandError(f"{option} must be between {low} and {high:,}")
    return value


def file_in_the_way(path: Path) -> Path | None:
    """The nearest existing folder of ``path`` that is a file instead (None if there is none):
    nothing can be written under it, and mkdir would only say "File exists"."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def output_path(value: str, option: str, *, folder: bool) -> Path:
    """The file or folder an option names for output, checked before any work is done or
    recorded (a disclosure logged for a copy that could not be written cannot be taken back).

    Refuses an empty or blank value (it would write into the current folder, or a folder
    named by spaces), a path under a file, a file where a folder is wanted and the reverse,
    and a place this process may not write. Creates nothing.
    """
    kind = "folder" if folder else "file"
    if not value.strip():
        raise CommandError(f"{option} is empty: name a {kind} to write")
    path = Path(value).expanduser()
    blocker = file_in_the_way(path)
    if blocker is not None:
        raise CommandError(f"{option} {path}: {blocker} is a file, not a folder")
    if folder and path.exists() and not path.is_dir():
        raise CommandError(f"{option} {path} is a file: name a folder to write into")
    if not folder and path.is_dir():
        raise CommandError(f"{option} {path} is a folder: name a file to write")
    nearest = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    if not os.access(nearest, os.W_OK):
        raise CommandError(f"{option} {path}: cannot write there")
    return path


def check_db(command: str, db: str | None) -> None:
    """Refuse a warehouse path that names no warehouse, before a command reads or writes.

    An empty --db would fall back to the default warehouse (a write there is a write to the
    wrong place); and every command but those that build one needs the warehouse file itself.
    Without this check, a command that keeps its state beside the warehouse (users, budget
    caps, the audit trail) would start a new state database next to a path with no warehouse,
    say a misspelt one, and report success.
    """
    if db is not None and not db.strip():
        raise CommandError("--db is empty: name the warehouse file")
    path = resolve_db_path(db)
    blocker = file_in_the_way(path)
    if blocker is not None:
        raise CommandError(f"{blocker} is a file, not a folder: no warehouse can be at {path}")
    if path.is_dir():
        raise CommandError(f"{path} is a folder, not a warehouse file")
    if command in _MAKE_WAREHOUSE:
        return
    if not path.is_file():
        raise CommandError(f"no warehouse at {path}; run `edudash build --db {path}` first")
    at, magic = _DUCKDB_MAGIC
    with open(path, "rb") as fh:
        fh.seek(at)
        if fh.read(len(magic)) != magic:
            raise CommandError(f"{path} is not a DuckDB warehouse file")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_db(args.command, getattr(args, "db", None))
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a reader gone away shows here (below), not at exit
        return status
    except KeyboardInterrupt:
        print("edudash: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): no error to tell, as `cat`
        try:  # and Python's own flush at exit must not fail again on the closed pipe
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # no real file behind stdout (a test's capture)
            pass
        return 1
    except (
        CommandError,
        ValueError,
        LookupError,
        OSError,
        RuntimeError,
        OverflowError,
        duckdb.Error,
        sqlite3.Error,
    ) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, OverflowError):  # an id, limit or date no store or calendar holds
            reason = f"a number or date is out of range ({reason})"
        if isinstance(exc, OSError) and exc.strerror and exc.filename:
            reason = f"{exc.filename}: {exc.strerror}"  # not Python's "[Errno 20] ..."
        if len(reason) > _MAX_REASON:  # a reason that repeats a huge value back stays readable
            reason = f"{reason[:_MAX_REASON]}... ({len(reason):,} characters in all)"
        print(f"edudash {args.command}: {reason}", file=sys.stderr)
        return 1
