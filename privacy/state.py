"""The operational state database: users, audit trail, release registry, budget ledger, requests.

It sits beside the warehouse file (`x.duckdb` -> `x.state.sqlite`, see
`warehouse.connection.state_path`). The warehouse file is read-only for the app and replaced
whole by rebuilds; this state changes while the app runs and must survive rebuilds, and several
processes (the app, the CLI) write it at once. SQLite in WAL mode gives exactly that: many
readers, serialised writers, and transactions that either commit whole or not at all.

Each module that owns state declares its tables as a DDL string and calls `ensure_schema`;
statements must be idempotent (CREATE ... IF NOT EXISTS).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from warehouse.connection import state_path

BUSY_TIMEOUT_MS = 10_000


def open_state(db_path: str | os.PathLike[str], *ddl: str) -> sqlite3.Connection:
    """Open (creating if needed) the state database of warehouse `db_path` and apply `ddl`."""
    path = state_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    con.row_factory = sqlite3.Row
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA foreign_keys=ON")
    con.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    for script in ddl:
        ensure_schema(con, script)
    return con


def ensure_schema(con: sqlite3.Connection, ddl: str) -> None:
    """Apply an idempotent DDL script."""
    con.executescript(ddl)


@contextmanager
def write_transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT: the block's writes land together or not at all."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def state_file(db_path: str | os.PathLike[str]) -> Path:
    """Path of the state database (for messages and tests)."""
    return state_path(db_path)
