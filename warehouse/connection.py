"""Where the warehouse file lives and how it is opened: read-only for readers, swapped for writers.

DuckDB allows one writer per file. Readers (the app, the privacy layer) open the file read-only;
anything that changes warehouse data writes a new file next to it and swaps it in with an atomic
rename, so a reader never sees a half-written warehouse. Operational state that changes while the
app runs (users, audit trail, release registry, budget ledger) lives in the companion state
database (see `state_path`), which supports many processes writing at once.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

ENV_VAR = "EDUDASH_DB"
DEFAULT_DB = Path(__file__).resolve().parent / "data" / "edudash.duckdb"


class WarehouseMissingError(FileNotFoundError):
    """No warehouse file exists at the given path."""


def default_db_path() -> Path:
    """The warehouse used when no --db is given: $EDUDASH_DB, else the embedded default file."""
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else DEFAULT_DB


def resolve_db_path(path: str | os.PathLike[str] | None) -> Path:
    return Path(path).expanduser() if path else default_db_path()


def state_path(db_path: str | os.PathLike[str]) -> Path:
    """The companion state database of a warehouse file: `x.duckdb` -> `x.state.sqlite`."""
    p = Path(db_path)
    return p.with_name(p.stem + ".state.sqlite")


def connect_readonly(db_path: str | os.PathLike[str]) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only; raise WarehouseMissingError with a clear reason if absent."""
    p = Path(db_path)
    if not p.is_file():
        raise WarehouseMissingError(f"no warehouse at {p}; run `edudash build --db {p}` first")
    con = duckdb.connect(str(p), read_only=True)
    con.execute("SET enable_progress_bar = false")
    return con


def file_identity(db_path: str | os.PathLike[str]) -> tuple[int, int, int]:
    """(device, inode, mtime_ns) of the file: changes whenever a new warehouse is swapped in."""
    st = os.stat(db_path)
    return (st.st_dev, st.st_ino, st.st_mtime_ns)


@contextmanager
def rewrite_warehouse(
    db_path: str | os.PathLike[str], *, copy_existing: bool
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Write a new warehouse file and swap it in only if the block finishes without error.

    With `copy_existing`, the new file starts as a copy of the current warehouse (for changes to
    existing data); otherwise it starts empty (a fresh build). On any exception the temporary file
    is removed and the current warehouse is untouched.
    """
    target = Path(db_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with writer_lock(target):
        tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex}")
        if copy_existing:
            if not target.is_file():
                raise WarehouseMissingError(f"no warehouse at {target}; run `edudash build` first")
            shutil.copyfile(target, tmp)
        con: duckdb.DuckDBPyConnection | None = None
        try:
            # inside the try: a copy that DuckDB cannot open (the current file is no
            # warehouse) is removed like any other failed rewrite
            con = duckdb.connect(str(tmp))
            con.execute("SET enable_progress_bar = false")
            yield con
            con.execute("CHECKPOINT")
            con.close()
            os.replace(tmp, target)
        except BaseException:
            if con is not None:
                con.close()
            for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
                leftover.unlink(missing_ok=True)
            raise


@contextmanager
def writer_lock(db_path: str | os.PathLike[str]) -> Iterator[None]:
    """Serialise writers of one warehouse (builds, submissions, merges, retention runs).

    Each writer copies the current file, changes the copy and swaps it in; without this lock two
    writers at once would each start from the same file and the second swap would silently drop
    the first one's change. Readers never take it.
    """
    target = Path(db_path)
    lock_path = target.with_name(f".{target.name}.lock")
    with open(lock_path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
