"""benchmarks/ab_release.py: two trees' releases run at once and compared."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "ab_release.py"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The script run from ``cwd``, its temporary folders made in ``cwd / "tmp"``."""
    (cwd / "tmp").mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TMPDIR": str(cwd / "tmp")},
    )


def test_a_tree_against_itself_gives_the_same_statuses_in_every_pair(built_db, tmp_path) -> None:  # noqa: ANN001
    """Each pair runs both trees at once (one release each) and prints their CPU and a hash of
    their statuses: the same code twice gives the same statuses, and a ratio near 1."""
    done = _run(
        "--db", str(built_db), "--year", "2024-25", "--old", str(ROOT), "--new", str(ROOT),
        "--pairs", "2", "--workers", "1", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    rows = [line.split() for line in lines[3:-1]]
    assert [row[:2] for row in rows] == [["1", "old"], ["2", "new"]]  # the first alternates
    for row in rows:
        old_cpu, new_cpu, ratio = float(row[2]), float(row[3]), float(row[4])
        assert old_cpu > 0 and new_cpu > 0 and abs(ratio - new_cpu / old_cpu) < 0.01
        old_status, new_status = row[-1].split("/")
        assert old_status == new_status and len(old_status) == 12
        assert row[-2] == "0/0"  # no violation either side
    assert lines[-1].endswith("statuses the same in every pair")
    assert not list((tmp_path / "tmp").iterdir())  # the runs' folders are removed


def test_bad_input_is_refused_in_one_line(built_db, tmp_path) -> None:  # noqa: ANN001
    """A folder that is no checkout, a missing warehouse or tree, or an unknown year: refused
    with its reason, before or instead of any table."""
    cases = [
        (["--db", str(built_db), "--old", str(tmp_path), "--new", str(ROOT)], 2, "not a checkout"),
        (["--db", str(tmp_path / "x.duckdb"), "--old", str(ROOT), "--new", str(ROOT)], 2, "no warehouse"),
        (["--db", str(built_db), "--old", str(ROOT)], 2, "--old and --new are both needed"),
        (["--db", str(built_db), "--old", str(ROOT), "--new", str(ROOT), "--pairs", "0"], 2, "at least 1"),
        (
            ["--db", str(built_db), "--old", str(ROOT), "--new", str(ROOT), "--year", "1999-00",
             "--pairs", "1", "--workers", "1"],
            1,
            "unknown school year '1999-00'",
        ),
    ]  # fmt: skip
    for args, code, reason in cases:
        done = _run(*args, cwd=tmp_path)
        assert done.returncode == code, (args, done.stderr)
        assert done.stdout == ""
        assert reason in done.stderr.strip().splitlines()[-1]
        assert not list((tmp_path / "tmp").iterdir())  # a failed pair leaves nothing either
