"""Splink reconciliation of people without IDs, ID merges that keep history, and the review queue."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from warehouse.incoming import make_incoming
from warehouse.reconciliation import (
    Thresholds,
    decide_review,
    issued_id_set,
    merge_ids,
    pending_reviews,
    reconcile_students,
)
from warehouse.state_ids import new_student_ids

STUDENT_TABLES = ("enrollments", "program_participation", "assessments", "graduation_cohorts")


@pytest.fixture
def db(built_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "edudash.duckdb"
    shutil.copyfile(built_db, path)
    return path


def _q(db: Path, sql: str, params: list | None = None) -> pl.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return pl.from_arrow(con.sql(sql, params=params).to_arrow_table())  # type: ignore[return-value]
    finally:
        con.close()


@pytest.fixture(scope="module")
def roster(built_db: Path) -> pl.DataFrame:
    return _q(built_db, "SELECT * FROM students")


@pytest.fixture(scope="module")
def planted(built_db: Path) -> pl.DataFrame:
    return _q(built_db, "SELECT * FROM ground_truth.planted_duplicates")


def test_incoming_batch_is_reconciled_with_high_precision_and_recall(
    roster: pl.DataFrame, planted: pl.DataFrame
) -> None:
    same = dict(zip(planted["duplicate_id"], planted["original_id"], strict=True))
    batch = make_incoming(roster, 600, seed=3, exclude_ids=frozenset(same))
    assert (
        batch.records.columns[0] == "record_id" and "state_student_id" not in batch.records.columns
    )
    d = reconcile_students(roster, batch.records).join(batch.truth, on="record_id")
    d = d.with_columns(
        (pl.col("candidate_id").replace(same) == pl.col("true_id")).fill_null(False).alias("ok")
    )
    attached = d.filter(pl.col("decision") == "ATTACH")
    existing = d.filter(pl.col("true_id").is_not_null())
    assert attached["ok"].mean() >= 0.99
    assert attached["ok"].sum() / existing.height >= 0.97
    # Every perturbation kind is recognised, not only exact copies.
    found = set(attached.filter("ok")["kind"])
    assert {"typo", "nickname", "dob_transposed", "last_name_changed", "ssn_missing"} <= found
    # Twins share surname, guardian and birth date: never attached automatically.
    assert d.filter((pl.col("kind") == "twin") & (pl.col("decision") == "ATTACH")).height == 0


def test_planted_duplicates_find_their_originals(
    roster: pl.DataFrame, planted: pl.DataFrame
) -> None:
    dups = roster.filter(pl.col("state_student_id").is_in(planted["duplicate_id"].to_list()))
    rest = roster.filter(~pl.col("state_student_id").is_in(planted["duplicate_id"].to_list()))
    d = reconcile_students(rest, dups.rename({"state_student_id": "record_id"}))
    truth = dict(zip(planted["duplicate_id"], planted["original_id"], strict=True))
    attached = d.filter(pl.col("decision") == "ATTACH")
    assert all(truth[r] == c for r, c in attached.select("record_id", "candidate_id").iter_rows())
    assert d.filter(pl.col("decision") == "NEW").height == 0


def test_thresholds_route_to_new_review_and_attach(roster: pl.DataFrame) -> None:
    one = roster.head(1).rename({"state_student_id": "record_id"})
    # Everything agrees but the first name (a twin, or a data-entry mix-up): a person decides.
    renamed = one.with_columns(
        pl.lit("renamed").alias("record_id"),
        pl.lit("Quintessa").alias("first_name"),
        pl.lit(None, pl.String).alias("ssn"),
    )
    stranger = one.with_columns(
        pl.lit("stranger").alias("record_id"),
        pl.lit("Xylophia").alias("first_name"),
        pl.lit("Quorndon").alias("last_name"),
        pl.lit("Ida Quorndon").alias("guardian_name"),
        pl.lit(None, pl.String).alias("ssn"),
    ).with_columns(pl.col("birth_date").dt.offset_by("-3y"))
    d = reconcile_students(roster, pl.concat([one, renamed, stranger]))
    got = {r: (dec, c) for r, dec, c, _ in d.iter_rows()}
    assert got[one["record_id"][0]] == ("ATTACH", one["record_id"][0])
    assert got["renamed"] == ("REVIEW", one["record_id"][0])
    assert got["stranger"][0] == "NEW"
    with pytest.raises(ValueError):
        Thresholds(attach=0.2, new=0.9)


def test_empty_batch(roster: pl.DataFrame) -> None:
    empty = roster.head(0).rename({"state_student_id": "record_id"})
    assert reconcile_students(roster, empty).height == 0


def _history(db: Path, sid: str) -> dict[str, int]:
    return {
        t: _q(db, f"SELECT count(*) AS n FROM {t} WHERE state_student_id = ?", [sid])["n"][0]
        for t in STUDENT_TABLES
    }


def test_merge_keeps_one_id_records_alias_and_moves_all_history(
    db: Path, planted: pl.DataFrame
) -> None:
    keep, alias = planted["original_id"][0], planted["duplicate_id"][0]
    before_keep, before_alias = _history(db, keep), _history(db, alias)
    assert sum(before_alias.values()) > 0
    result = merge_ids(db, keep, alias, "mdoe.reviewer")
    after = _history(db, keep)
    for t in STUDENT_TABLES:
        assert after[t] == before_keep[t] + before_alias[t] - result.dropped_duplicates.get(t, 0)
    assert sum(_history(db, alias).values()) == 0
    assert (
        _q(db, "SELECT count(*) AS n FROM students WHERE state_student_id = ?", [alias])["n"][0]
        == 0
    )
    aliases = _q(db, "SELECT * FROM student_id_aliases")
    assert aliases.select("alias_id", "state_student_id", "merged_by").rows() == [
        (alias, keep, "mdoe.reviewer")
    ]
    con = duckdb.connect(str(db), read_only=True)
    taken = issued_id_set(con)
    con.close()
    assert alias in taken
    # The retired number is never issued again, even by a generator that would redraw it.
    assert alias not in new_student_ids(50, taken=taken, rng=np.random.default_rng(0))


def test_merge_refuses_nonsense(db: Path, planted: pl.DataFrame) -> None:
    keep, alias = planted["original_id"][1], planted["duplicate_id"][1]
    with pytest.raises(ValueError, match="itself"):
        merge_ids(db, keep, keep, "x")
    with pytest.raises(LookupError, match="no current student"):
        merge_ids(db, keep, "1234567890", "x")
    merge_ids(db, keep, alias, "x")
    with pytest.raises(LookupError, match="merged into"):
        merge_ids(db, keep, alias, "x")


def test_review_queue_same_person_merges_and_different_keeps(
    db: Path, planted: pl.DataFrame
) -> None:
    con = duckdb.connect(str(db))
    rows = [
        (
            f"r{i - 2}",
            "sub",
            "STUDENT",
            planted["duplicate_id"][i],
            planted["original_id"][i],
            0.6,
            "PENDING",
            None,
            None,
        )
        for i in (2, 3)
    ]
    con.executemany("INSERT INTO id_review_queue VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute("CHECKPOINT")
    con.close()
    queue = pending_reviews(db)
    assert queue.height == 2 and {"new_first_name", "candidate_first_name", "ssn_agreement"} <= set(
        queue.columns
    )
    assert not any("ssn" == c or c.endswith("_ssn") for c in queue.columns)
    merged = decide_review(db, "r0", True, "reviewer")
    assert merged is not None and merged.keep == planted["original_id"][2]
    assert decide_review(db, "r1", False, "reviewer") is None
    status = _q(db, "SELECT review_id, status, decided_by FROM id_review_queue ORDER BY 1").rows()
    assert status == [("r0", "SAME", "reviewer"), ("r1", "DIFFERENT", "reviewer")]
    assert pending_reviews(db).height == 0
    with pytest.raises(ValueError, match="already decided"):
        decide_review(db, "r0", False, "reviewer")
