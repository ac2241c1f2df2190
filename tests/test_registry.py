"""The release registry: atomic writes, no secret values stored, contradictions refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from privacy.registry import (
    RegistryConflictError,
    known_cells,
    last_seq,
    open_registry,
    record_release,
    release_cells,
    releases,
)

BUILD = "build-a"
YEAR = "2024-25"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "w.duckdb"  # only its state file is used


def _record(db: Path, rid: str, cells, **kw) -> None:  # noqa: ANN001
    args = dict(
        release_id=rid,
        build_id=BUILD,
        school_year=YEAR,
        kind="custom",
        request="{}",
        created_by="u1",
        cells=cells,
    )
    args.update(kw)
    record_release(db, **args)


def _count(db: Path, table: str) -> int:
    con = open_registry(db)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def test_record_and_read_back(db: Path) -> None:
    _record(db, "r1", [("a", 12, "shown"), ("b", None, "suppressed_small")])
    known = known_cells(db, BUILD, YEAR)
    assert known.statuses == {"a": "shown", "b": "suppressed_small"}
    assert known.shown() == {"a"} and known.hidden() == {"b"}
    assert release_cells(db, ["r1"]) == {"a": (12, "shown"), "b": (None, "suppressed_small")}
    assert [r.release_id for r in releases(db, BUILD, YEAR)] == ["r1"]


def test_known_cells_since_an_earlier_answer_reads_only_what_came_after(db: Path) -> None:
    assert last_seq(db, BUILD, YEAR) == 0
    _record(db, "r1", [("a", 12, "shown"), ("b", None, "suppressed_small")])
    first = known_cells(db, BUILD, YEAR)
    _record(db, "r2", [("a", 12, "shown"), ("c", None, "suppressed_complement")])
    _record(db, "r3", [("d", 30, "shown")], build_id="build-b")  # another build: not read
    assert last_seq(db, BUILD, YEAR) == first.last_seq + 1
    later = known_cells(db, BUILD, YEAR, since=first)
    assert later == known_cells(db, BUILD, YEAR)
    assert later.statuses == {"a": "shown", "b": "suppressed_small", "c": "suppressed_complement"}
    assert first.statuses == {"a": "shown", "b": "suppressed_small"}, "the earlier answer changed"
    assert known_cells(db, BUILD, YEAR, since=later) == later


def test_hidden_values_are_never_stored(db: Path) -> None:
    _record(db, "r1", [("b", 3, "suppressed_small"), ("c", 40, "suppressed_complement")])
    assert release_cells(db, ["r1"]) == {
        "b": (None, "suppressed_small"),
        "c": (None, "suppressed_complement"),
    }


def test_other_build_and_year_are_separate(db: Path) -> None:
    _record(db, "r1", [("a", 12, "shown")])
    _record(db, "r2", [("a", None, "suppressed_small")], build_id="build-b")
    _record(db, "r3", [("a", None, "suppressed_small")], school_year="2023-24")
    assert known_cells(db, BUILD, YEAR).statuses == {"a": "shown"}
    assert known_cells(db, "build-b", YEAR).statuses == {"a": "suppressed_small"}


def test_contradiction_is_refused_and_nothing_written(db: Path) -> None:
    _record(db, "r1", [("a", 12, "shown")])
    with pytest.raises(ValueError, match="shown in one release and hidden"):
        _record(db, "r2", [("z", 50, "shown"), ("a", None, "suppressed_complement")])
    assert _count(db, "releases") == 1
    assert _count(db, "released_cells") == 1


def test_bad_cell_midway_writes_nothing(db: Path) -> None:
    def cells():
        yield ("a", 12, "shown")
        yield ("b", 3, "bogus")

    with pytest.raises(ValueError, match="unknown status"):
        _record(db, "r1", cells())
    with pytest.raises(ValueError, match="no value"):
        _record(db, "r1", [("a", None, "shown")])
    assert _count(db, "releases") == 0 and _count(db, "released_cells") == 0


def test_stale_snapshot_conflicts(db: Path) -> None:
    before = known_cells(db, BUILD, YEAR)
    _record(db, "r1", [("a", 12, "shown")], expect_last_seq=before.last_seq)
    with pytest.raises(RegistryConflictError):
        _record(db, "r2", [("b", 20, "shown")], expect_last_seq=before.last_seq)
    assert known_cells(db, BUILD, YEAR).statuses == {"a": "shown"}


def test_failure_inside_transaction_rolls_back(db: Path) -> None:
    _record(db, "r1", [("a", 12, "shown")])
    with pytest.raises(Exception):  # noqa: B017 - duplicate release id violates UNIQUE
        _record(db, "r1", [("q", 30, "shown")])
    assert release_cells(db, ["r1"]) == {"a": (12, "shown")}
    assert _count(db, "released_cells") == 1


def test_unknown_kind(db: Path) -> None:
    with pytest.raises(ValueError, match="kind"):
        _record(db, "r1", [], kind="leak")
