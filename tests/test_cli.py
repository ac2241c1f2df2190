"""The `edudash` command line: --db everywhere, human output, one-line errors."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edudash import cli
from edudash.commands import serve
from tests.access_helpers import private_db
from tests.disclosure_helpers import EDM_ID, make_edm


def test_help_lists_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("build", "serve"):
        assert name in out


def test_every_subcommand_takes_db() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sub.choices
    for name, sp in sub.choices.items():
        assert any(a.dest == "db" for a in sp._actions), name


def test_build_reports_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "w.duckdb"
    assert cli.main(["build", "--scale", "0.02", "--seed", "3", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "Built warehouse" in out and "students" in out
    assert db.is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["build", "--scale", "0"], "--scale must be greater than 0"),
        (["build", "--scale", "51"], "at most 50"),
        (["build", "--seed", "-4"], "--seed must be a non-negative integer"),
    ],
)
def test_bad_arguments_fail_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    db = tmp_path / "w.duckdb"
    assert cli.main([*argv, "--db", str(db)]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("edudash build:")
    assert not db.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["users", "list"],
        ["users", "create", "--user-id", "frank1", "--role", "data_manager", "--password-stdin"],
        ["budget", "set-cap", "--year", "2024-25", "--rho", "1"],
        ["budget", "show"],
        ["audit-log", "verify"],
        ["ids", "review"],
        ["export", "--out", "OUT"],
    ],
)
@pytest.mark.parametrize("kind", ["missing", "folder", "text", "empty"])
def test_a_db_that_names_no_warehouse_is_refused_before_anything_is_written(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    kind: str,
) -> None:
    """A misspelt, empty, folder or non-DuckDB --db: one line, exit 1, and no state database,
    key or folder is started beside it (nor at the default warehouse, for an empty one)."""
    monkeypatch.chdir(tmp_path)
    default = tmp_path / "default" / "edudash.duckdb"
    monkeypatch.setenv("EDUDASH_DB", str(default))
    monkeypatch.setattr("sys.stdin", io.StringIO("Zq8!xLm#4vTr9pWk\n"))
    place = tmp_path / "place"
    place.mkdir()
    db = {"missing": place / "nope" / "x.duckdb", "folder": place, "text": place / "t.duckdb"}.get(
        kind
    )
    if kind == "text":
        db.write_text("not a warehouse\n")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    argv = [a.replace("OUT", str(tmp_path / "out")) for a in argv]
    assert cli.main([*argv, "--db", "" if db is None else str(db)]) == 1
    err = capsys.readouterr().err.strip()
    expected = {
        "missing": "no warehouse at",
        "folder": "is a folder, not a warehouse file",
        "text": "is not a DuckDB warehouse file",
        "empty": "--db is empty",
    }[kind]
    assert expected in err and "\n" not in err and err.startswith(f"edudash {argv[0]}:")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    "argv, message",
    [
        (["audit-log", "show", "--limit", str(2**63)], "--limit must be between 1 and 100,000"),
        (["ids", "review", "--limit", "-1"], "--limit must be between 1 and 100,000"),
        (["ids", "review", "--limit", str(10**20)], "--limit must be between 1 and 100,000"),
        (["users", "create", "--user-id", "eve5", "--role", "level1"], "no password given"),
        (["audit", "--show", "-1"], "--show must be between 0 and 100,000"),
        (["retention", "runs", "--limit", "-1"], "--limit must be between 1 and 100,000"),
        (["disclosures", "list", "--limit", str(10**20), "--as", "x"], "--limit must be between"),
    ],
)
def test_bad_values_fail_in_one_line_on_a_warehouse(
    built_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    """Limits too large for SQLite or polars, and a password prompt that meets the end of its
    input (no terminal, nothing piped in), each fail in one line instead of a traceback."""

    def no_input(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr("getpass.getpass", no_input)
    db = private_db(built_db, tmp_path / "w")
    assert cli.main([*argv, "--db", str(db)]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith(f"edudash {argv[0]}:")


@pytest.mark.parametrize(
    "argv",
    [
        ["research", "show", str(10**20)],
        ["record-requests", "show", str(10**20)],
        ["disclosures", "list", "--since", "0001-01-01T00:00+05:00"],
    ],
)
def test_numbers_and_dates_out_of_range_fail_in_one_line(
    built_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """An id SQLite cannot hold, or a date before the calendar's first day once moved to UTC:
    one line, not an OverflowError's traceback."""
    db = private_db(built_db, tmp_path / "w")
    make_edm(db)
    assert cli.main([*argv, "--as", EDM_ID, "--db", str(db)]) == 1
    err = capsys.readouterr().err.strip()
    assert "out of range" in err and "\n" not in err and err.startswith(f"edudash {argv[0]}:")


def test_a_huge_bad_value_fails_in_one_short_line(
    built_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reason that repeats a bad value back (here a school year of 20,000 characters) is cut
    to a readable line that says how long it was, not echoed whole."""
    assert cli.main(["audit", "--year", "2" * 20_000, "--db", str(built_db)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("edudash audit: school year '2222")
    assert "\n" not in err and len(err) < 400 and "characters in all)" in err


def test_output_cut_short_by_its_reader_is_no_error(built_db: Path, tmp_path: Path) -> None:
    """`edudash ... | head -1`: the reader closes the pipe early; nothing on stderr (it said
    "[Errno 32] Broken pipe"), exit 1 as Python's own convention for EPIPE."""
    db = private_db(built_db, tmp_path / "w")
    cmd = f"{sys.executable} -m edudash budget show --db {db} | head -1"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    for unbuffered in ("", "", "1", "1"):  # written as printed, or all at exit
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", cmd],
            capture_output=True,
            text=True,
            check=False,
            env={**env, "PYTHONUNBUFFERED": unbuffered} if unbuffered else env,
        )
        assert done.stdout.count("\n") == 1 and done.stderr == ""
        assert done.returncode in (0, 1)


def test_a_db_under_a_file_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "f").write_text("x")
    assert cli.main(["build", "--scale", "0.02", "--db", str(tmp_path / "f" / "w.duckdb")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"edudash build: {tmp_path / 'f'} is a file, not a folder: "
        f"no warehouse can be at {tmp_path / 'f' / 'w.duckdb'}"
    )


def test_db_defaults_to_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "env.duckdb"
    monkeypatch.setenv("EDUDASH_DB", str(db))
    assert cli.main(["build", "--scale", "0.02", "--seed", "1"]) == 0
    assert db.is_file()


def test_serve_builds_a_missing_warehouse_then_starts_streamlit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "serve.duckdb"
    calls: list[tuple[list[str], dict]] = []
    prepared: list[Path] = []
    monkeypatch.setattr(serve, "prepare_public_releases", prepared.append)
    monkeypatch.setattr(serve.os, "execve", lambda exe, cmd, env: calls.append((cmd, env)))
    assert cli.main(["serve", "--db", str(db), "--port", "8765", "--scale", "0.02"]) == 0
    assert db.is_file() and prepared == [db]
    # A second start finds the warehouse: no rebuild; the years not yet released are
    # protected before serving (`--released-only` serves at once with those recorded).
    before = db.stat().st_mtime_ns
    assert cli.main(["serve", "--db", str(db), "--port", "8765"]) == 0
    assert db.stat().st_mtime_ns == before and prepared == [db, db]
    assert cli.main(["serve", "--db", str(db), "--port", "8765", "--released-only"]) == 0
    assert db.stat().st_mtime_ns == before and prepared == [db, db]
    calls.pop()
    calls.pop()
    ((cmd, env),) = calls
    assert cmd[1:4] == ["-m", "streamlit", "run"] and "8765" in cmd
    assert env["EDUDASH_DB"] == str(db.resolve())


def test_module_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edudash", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "build" in result.stdout


def test_stopping_serve_stops_the_server(released_db: Path, tmp_path: Path) -> None:
    """SIGTERM to `edudash serve` (as a service manager sends it) frees the port: no server is
    left running behind a parent that ended."""
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "edudash", "serve", "--db", str(released_db)]
    cmd += ["--port", str(port), "--address", "127.0.0.1", "--released-only"]
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        with socket.socket() as s:  # nothing listens on the port (closed connections may linger)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen()
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
