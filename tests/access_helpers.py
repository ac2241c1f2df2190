"""Helpers for the access-control tests: a private state database beside the shared warehouse.

The shared `built_db` warehouse is read-only; each test links it into its own folder so the
state database (users, sessions, audit trail) beside it is private to that test.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from privacy.auth import AuthPolicy

# Cheap argon2id costs so the tests run fast; the algorithm and code paths are the real ones.
FAST = AuthPolicy(argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1)


@contextmanager
def memory_folder(fallback: Path) -> Iterator[Path]:
    """A scratch folder in /dev/shm when there is one (SQLite's fsync on every audit entry costs
    ~30 ms on disk and nothing in memory; the code paths are the same), else `fallback`."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield fallback
        return
    folder = Path(tempfile.mkdtemp(prefix="edudash-access-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def private_db(built_db: Path, folder: Path) -> Path:
    """A path in `folder` that opens `built_db`, with its own empty state database."""
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "edudash.duckdb"
    if not link.exists():
        link.symlink_to(built_db)
    return link


def query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Read the warehouse directly (the test's independent oracle)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def placements(db: Path) -> dict[str, list[tuple[str, str]]]:
    """Each student's (district, school) enrollments in the latest school year."""
    rows = query(
        db,
        """
        SELECT e.state_student_id, sc.district_id, e.school_id
        FROM enrollments e JOIN schools sc USING (school_id)
        WHERE e.school_year = (SELECT max(school_year) FROM enrollments)
        """,
    )
    out: dict[str, list[tuple[str, str]]] = {}
    for sid, d, s in rows:
        out.setdefault(sid, []).append((d, s))
    return out
