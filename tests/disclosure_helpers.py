"""Helpers for the disclosure-workflow tests: a private state database, a Data Manager, counts.

The counts read the state database directly with sqlite3, independently of the code under test.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edudash.cli import main
from privacy.access import User
from privacy.users import Operator, create_user
from tests.access_helpers import FAST, private_db
from warehouse.connection import state_path

EDM_ID = "edm.one"
EDM_PASSWORD = "Harbor-Lighthouse-Granite-42"


def make_edm(db: Path, user_id: str = EDM_ID) -> User:
    """An Education Data Manager account in the state database of `db`."""
    return create_user(
        db,
        user_id=user_id,
        role="data_manager",
        password=EDM_PASSWORD,
        created_by=Operator("tests"),
        policy=FAST,
    )


def setup_db(built_db: Path, tmp_path: Path) -> tuple[Path, User]:
    """A private view of the shared warehouse with its own state database and a Data Manager."""
    db = private_db(built_db, tmp_path / "wh")
    return db, make_edm(db)


def count(db: Path, table: str, where: str = "", params: tuple = ()) -> int:
    """Rows of a state table (0 when the table does not exist yet)."""
    path = state_path(db)
    if not path.exists():
        return 0
    con = sqlite3.connect(path)
    try:
        exists = con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        if not exists:
            return 0
        return int(con.execute(f"SELECT count(*) FROM {table} {where}", params).fetchone()[0])
    finally:
        con.close()


def log_counts(db: Path) -> tuple[int, int]:
    """(disclosure-log entries, audit entries)."""
    return count(db, "disclosures"), count(db, "audit_log")


def cli(
    capsys: pytest.CaptureFixture[str], db: Path, *args: str, ok: bool = True
) -> tuple[str, str]:
    """Run `edudash ARGS --db DB`; assert the exit status; return (stdout, stderr)."""
    status = main([*args, "--db", str(db)])
    out, err = capsys.readouterr()
    assert (status == 0) == ok, f"exit {status}: {out}{err}"
    return out, err


ROOT = Path(__file__).resolve().parents[1]


def open_page(monkeypatch: pytest.MonkeyPatch, db: Path, page: str, user_id: str | None = EDM_ID):
    """Run `pages/<page>.py` in Streamlit's AppTest against `db`, signed in as `user_id`."""
    from streamlit.testing.v1 import AppTest

    import privacy
    from privacy.auth import sign_in

    monkeypatch.setenv("EDUDASH_DB", str(db))
    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=60)
    if user_id:
        at.session_state[privacy.SESSION_TOKEN_KEY] = sign_in(
            db, user_id, EDM_PASSWORD, policy=FAST
        ).token
    return at.run()
