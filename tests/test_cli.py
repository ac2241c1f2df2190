"""The `edudash` command line: --db everywhere, human output, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edudash import cli
from edudash.commands import serve


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
