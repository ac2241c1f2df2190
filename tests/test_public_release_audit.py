"""The whole public release of a year survives the built-in attacker; `edudash audit` says so."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import polars as pl

from edudash.cli import main
from privacy import public_release
from privacy.policy import load_policy
from privacy.registry import open_registry, release_cells
from privacy.release import _snapshot, _units_for, audit_year, build_system
from tests.conftest import RELEASE_YEAR as YEAR
from warehouse.connection import state_path


def test_public_release_passes_the_auditor(released_db: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    result = audit_year(released_db, YEAR)
    assert result.report is not None and result.cells > 0
    assert len(result.report.intervals) > 0, "nothing hidden: the fixture has no small cells?"
    assert result.problems == []
    assert result.report.violations == []
    policy = load_policy()
    for iv in result.report.intervals.values():
        assert iv.width >= 1
        if iv.primary:
            assert iv.width >= policy.min_interval_width and iv.upper >= policy.min_upper_bound
    # the CLI prints this result and exits 0 (the real end-to-end run is the failing case below)
    import edudash.commands.audit as audit_command

    monkeypatch.setattr(audit_command, "audit_year", lambda db, year: result)
    assert main(["audit", "--db", str(released_db), "--year", YEAR]) == 0
    out = capsys.readouterr().out
    assert "0 violation(s)" in out and "audit passed" in out
    assert out.count("width") == min(10, len(result.report.intervals))


def test_no_count_from_one_to_nine_reaches_any_output(released_db: Path) -> None:
    for name, table in public_release(released_db, YEAR).tables.items():
        if table.request.measure == "staff":
            continue  # open records about staff, not students
        d = table.data
        chart = table.chart_frame()
        for frame, col in ((d, "count"), (chart, "count")):
            small = frame.filter(pl.col(col).is_between(1, 9))
            assert small.is_empty(), (name, small.head(3))
        for col in ("count_display", "denominator_display"):
            digits = d.filter(pl.col(col).str.contains(r"^\d+$"))[col].cast(pl.Int64)
            assert not digits.is_between(1, 9).any(), (name, col)
        hover = chart["rate_display"].to_list() + chart["count_display"].to_list()
        assert all(not (h.isdigit() and 1 <= int(h) <= 9) for h in hover), name


def test_cli_audit_catches_an_undone_suppression(
    released_db: Path,
    tmp_path: Path,
    capsys,  # noqa: ANN001
) -> None:
    db = tmp_path / "leaky.duckdb"
    shutil.copyfile(released_db, db)
    src, dst = sqlite3.connect(state_path(released_db)), sqlite3.connect(state_path(db))
    src.backup(dst)  # a consistent copy, WAL included
    src.close()
    dst.close()
    snap = _snapshot(db)
    rel = public_release(db, YEAR)
    layouts = [snap.layout(e.request) for e in rel.catalogue if e.request.measure != "staff"]
    system = build_system(layouts, _units_for(snap, YEAR))
    stored = release_cells(db, [rel.release_id])
    hidden = {i for i, k in enumerate(system.keys) if stored[k][1] != "shown"}
    primary = {i for i in hidden if stored[system.keys[i]][1] == "suppressed_small"}
    reveal: list[int] = []
    for parent, children in system.constraints:
        cells = [parent, *children]
        h = [c for c in cells if c in hidden]
        if len(h) == 2 and len(set(h) & primary) == 1:
            reveal = [c for c in h if c not in primary]
            break
    if not reveal:
        reveal = sorted(hidden - primary)
    con = open_registry(db)
    try:
        with con:
            con.executemany(
                "UPDATE released_cells SET status = 'shown', value = ? WHERE cell_key = ?",
                [(int(system.values[c]), system.keys[c]) for c in reveal],
            )
    finally:
        con.close()
    _snapshot(db).public.clear()
    assert main(["audit", "--db", str(db), "--year", YEAR]) == 1
    out = capsys.readouterr().out
    assert "VIOLATION" in out and "audit failed" in out


def test_cli_audit_of_unreleased_year(released_db: Path, capsys) -> None:  # noqa: ANN001
    assert main(["audit", "--db", str(released_db), "--year", "2022-23"]) == 0
    assert "nothing released yet" in capsys.readouterr().out
