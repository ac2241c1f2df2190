"""Benchmark: Splink reconciliation of incoming students against a Maine-sized roster.

Two measurements on a synthetic warehouse (built at --scale if --db does not exist):

1. Incoming batch: N records without IDs (existing students with typos, nicknames, transposed
   birth dates, changed last names, missing SSNs; new strangers, siblings and twins) reconciled
   against the whole roster; precision and recall of "same student" (ATTACH) and wall time.
2. Planted duplicates: the warehouse's planted duplicate records, stripped of their IDs, are
   reconciled against the roster without them; each should attach to its original.

Targets: precision >= 99.5 %, recall >= 98 %, 10,000 incoming against scale 1 in < 60 s.

    .venv/bin/python benchmarks/bench_reconciliation.py --db /tmp/maine.duckdb --n 10000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import polars as pl

from warehouse.build import build_warehouse
from warehouse.connection import connect_readonly
from warehouse.incoming import make_incoming
from warehouse.reconciliation import Thresholds, reconcile_students


def _score(decisions: pl.DataFrame, truth: pl.DataFrame, same: dict[str, str]) -> dict[str, float]:
    res = decisions.join(truth, on="record_id").with_columns(
        pl.col("candidate_id").replace(same).alias("cand"),
    )
    res = res.with_columns((pl.col("cand") == pl.col("true_id")).fill_null(False).alias("correct"))
    attached = res.filter(pl.col("decision") == "ATTACH")
    existing = res.filter(pl.col("true_id").is_not_null())
    new = res.filter(pl.col("true_id").is_null())
    review = res.filter(pl.col("decision") == "REVIEW")
    return {
        "records": res.height,
        "existing": existing.height,
        "attached": attached.height,
        "correct_attached": int(attached["correct"].sum()),
        "review": review.height,
        "new_minted": res.filter(pl.col("decision") == "NEW").height,
        "precision": attached["correct"].mean() if attached.height else 1.0,  # type: ignore[dict-item]
        "recall": (attached["correct"].sum() / existing.height) if existing.height else 1.0,
        "recall_incl_review": (
            (attached["correct"].sum() + review.filter(pl.col("correct")).height) / existing.height
            if existing.height
            else 1.0
        ),
        "new_wrongly_attached": new.filter(pl.col("decision") == "ATTACH").height,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="/tmp/edudash-bench/maine.duckdb")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=20261128)
    ap.add_argument("--n", type=int, default=10_000)
    args = ap.parse_args()
    db = Path(args.db)
    if not db.is_file():
        t = time.perf_counter()
        build_warehouse(db, scale=args.scale, seed=args.seed)
        print(f"built {db} (scale {args.scale}) in {time.perf_counter() - t:.1f} s")
    con = connect_readonly(db)
    roster = pl.from_arrow(con.sql("SELECT * FROM students").to_arrow_table())
    dups = pl.from_arrow(con.sql("SELECT * FROM ground_truth.planted_duplicates").to_arrow_table())
    con.close()
    assert isinstance(roster, pl.DataFrame) and isinstance(dups, pl.DataFrame)
    same = dict(zip(dups["duplicate_id"].to_list(), dups["original_id"].to_list(), strict=True))
    thresholds = Thresholds()

    batch = make_incoming(roster, args.n, seed=args.seed, exclude_ids=frozenset(same))
    t = time.perf_counter()
    decisions = reconcile_students(roster, batch.records, thresholds)
    incoming_s = time.perf_counter() - t
    incoming = _score(decisions, batch.truth, same)

    dup_records = (
        roster.filter(pl.col("state_student_id").is_in(list(same)))
        .with_columns(pl.col("state_student_id").alias("record_id"))
        .drop("state_student_id")
    )
    dup_truth = dups.select(
        pl.col("duplicate_id").alias("record_id"),
        pl.col("original_id").alias("true_id"),
        pl.col("perturbation").alias("kind"),
    )
    t = time.perf_counter()
    dup_decisions = reconcile_students(
        roster.filter(~pl.col("state_student_id").is_in(list(same))), dup_records, thresholds
    )
    planted_s = time.perf_counter() - t
    planted = _score(dup_decisions, dup_truth, {})

    print(
        f"\nroster: {roster.height:,} students; thresholds attach >= {thresholds.attach}, "
        f"new < {thresholds.new}\n"
    )
    header = f"{'measure':<24}{'incoming batch':>16}{'planted duplicates':>20}"
    print(header)
    print("-" * len(header))
    for key in (
        "records",
        "existing",
        "attached",
        "correct_attached",
        "review",
        "new_minted",
        "new_wrongly_attached",
        "precision",
        "recall",
        "recall_incl_review",
    ):
        a, b = incoming[key], planted[key]
        fmt = (lambda v: f"{100 * v:.2f} %") if key.startswith(("precision", "recall")) else str
        print(f"{key:<24}{fmt(a):>16}{fmt(b):>20}")
    print(f"{'seconds':<24}{incoming_s:>16.1f}{planted_s:>20.1f}")
    by_kind = (
        decisions.join(batch.truth, on="record_id")
        .group_by("kind", "decision")
        .len()
        .pivot(on="decision", index="kind", values="len")
        .fill_null(0)
        .sort("kind")
    )
    print("\nincoming batch by kind:")
    print(by_kind)
    ok = (
        incoming["precision"] >= 0.995
        and incoming["recall"] >= 0.98
        and planted["precision"] >= 0.995
        and planted["recall"] >= 0.98
        and (args.n < 10_000 or incoming_s < 60)
    )
    print(f"\ntargets (precision >= 99.5 %, recall >= 98 %, < 60 s): {'MET' if ok else 'NOT MET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
