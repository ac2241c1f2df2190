"""Synthetic incoming student records without IDs, with ground truth, for reconciliation tests.

From a built roster it draws a mix of existing students, each copied with a realistic
perturbation (none, a typo, a nickname, transposed birth-date digits, a changed last name, a
missing SSN), and genuinely new students: strangers, and the hard cases, siblings and twins of
roster students (same guardian and last name; a twin also shares the date of birth). Everything
is vectorised over columns with numpy and polars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from warehouse.synthetic import NICKNAMES

EXISTING_PERTURBATIONS = (
    "none",
    "typo",
    "nickname",
    "dob_transposed",
    "last_name_changed",
    "ssn_missing",
)
EXISTING_WEIGHTS = (0.25, 0.2, 0.1, 0.15, 0.15, 0.15)
NEW_KINDS = ("stranger", "sibling", "twin")
NEW_WEIGHTS = (0.85, 0.1, 0.05)
STUDENT_COLUMNS = (
    "first_name",
    "middle_name",
    "last_name",
    "birth_date",
    "gender",
    "race_ethnicity",
    "guardian_name",
    "ssn",
    "mainecare_id",
)


@dataclass(frozen=True)
class IncomingBatch:
    """`records`: incoming rows (record_id + student columns, no state ID).
    `truth`: record_id, true_id (None for a new student), kind (perturbation or new kind).
    """

    records: pl.DataFrame
    truth: pl.DataFrame


def _typo(col: str, pos: pl.Expr, kind: pl.Expr, letter: pl.Expr) -> pl.Expr:
    s = pl.col(col)
    n = s.str.len_chars()
    i = pos
    swap = s.str.slice(0, i) + s.str.slice(i + 1, 1) + s.str.slice(i, 1) + s.str.slice(i + 2)
    drop = s.str.slice(0, i) + s.str.slice(i + 1)
    sub = s.str.slice(0, i) + letter + s.str.slice(i + 1)
    return (
        pl.when(n < 3)
        .then(s + "e")
        .when(kind == 0)
        .then(swap)
        .when(kind == 1)
        .then(drop)
        .otherwise(sub)
    )


def _transposed_dob() -> tuple[pl.Expr, pl.Expr]:
    """(new date or null, applicable) for a birth date with two digits swapped."""
    b = pl.col("birth_date")
    day, month, year = b.dt.day(), b.dt.month(), b.dt.year()
    swapped = (day % 10) * 10 + day // 10
    day_swap_ok = ((day // 10) != (day % 10)) & (swapped >= 1) & (swapped <= 28)
    month_swap_ok = (day <= 12) & (day != month)
    new = (
        pl.when(day_swap_ok)
        .then(pl.date(year, month, swapped.clip(1, 28)))
        .when(month_swap_ok)
        .then(pl.date(year, day.clip(1, 12), month.clip(1, 28)))
        .otherwise(None)
    )
    return new, day_swap_ok | month_swap_ok


def make_incoming(
    roster: pl.DataFrame,
    n: int,
    *,
    existing_share: float = 0.6,
    seed: int = 0,
    exclude_ids: frozenset[str] = frozenset(),
) -> IncomingBatch:
    """`n` incoming records from `roster` (the students table), with ground truth.

    `exclude_ids` are roster IDs never drawn as the source of an existing record (e.g. the
    planted duplicate IDs, so the truth names the original).
    """
    rng = np.random.default_rng(seed)
    pool = (
        roster.filter(~pl.col("state_student_id").is_in(list(exclude_ids)))
        if exclude_ids
        else roster
    )
    n_exist = int(round(n * existing_share))
    n_new = n - n_exist
    existing = _existing(pool, n_exist, rng)
    new = _new(pool, roster, n_new, rng)
    records = pl.concat([existing, new], how="diagonal_relaxed")
    order = rng.permutation(records.height)
    records = records[order].with_columns(
        pl.format("IN{}", pl.int_range(pl.len()).cast(pl.String).str.zfill(7)).alias("record_id")
    )
    truth = records.select("record_id", "true_id", "kind")
    return IncomingBatch(records.select("record_id", *STUDENT_COLUMNS), truth)


def _existing(pool: pl.DataFrame, n: int, rng: np.random.Generator) -> pl.DataFrame:
    idx = rng.choice(pool.height, size=n, replace=False)
    base = pool[idx]
    kinds = rng.choice(np.array(EXISTING_PERTURBATIONS), size=n, p=np.array(EXISTING_WEIGHTS))
    nick = base["first_name"].is_in(list(NICKNAMES)).to_numpy()
    new_dob, dob_ok = (
        base.select(*_transposed_dob()).to_series(0),
        base.select(_transposed_dob()[1]).to_series(0).to_numpy(),
    )
    kinds = np.where((kinds == "nickname") & ~nick, "typo", kinds)
    kinds = np.where((kinds == "dob_transposed") & ~dob_ok, "typo", kinds)
    lengths = base["first_name"].str.len_chars().to_numpy()
    other_last = pool["last_name"].to_numpy()[rng.integers(0, pool.height, size=n)]
    df = base.with_columns(
        pl.Series("kind", kinds),
        pl.Series("_pos", (1 + rng.random(n) * np.maximum(lengths - 2, 1)).astype(np.int64)),
        pl.Series("_tk", rng.integers(0, 3, size=n)),
        pl.Series("_letter", np.array(list("aeiourstln"))[rng.integers(0, 10, size=n)]),
        pl.Series("_new_dob", new_dob),
        pl.Series("_other_last", other_last),
        pl.Series("_keep_ssn", rng.random(n) < 0.5),
        pl.Series("_keep_middle", rng.random(n) < 0.6),
    )
    typo = _typo("first_name", pl.col("_pos"), pl.col("_tk"), pl.col("_letter"))
    typo = pl.when(typo == pl.col("first_name")).then(pl.col("first_name") + "y").otherwise(typo)
    k = pl.col("kind")
    df = df.with_columns(
        pl.when(k == "typo")
        .then(typo)
        .when(k == "nickname")
        .then(pl.col("first_name").replace_strict(NICKNAMES, default=pl.col("first_name")))
        .otherwise(pl.col("first_name"))
        .alias("first_name"),
        pl.when(k == "dob_transposed")
        .then(pl.col("_new_dob"))
        .otherwise(pl.col("birth_date"))
        .alias("birth_date"),
        pl.when((k == "last_name_changed") & (pl.col("_other_last") != pl.col("last_name")))
        .then(pl.col("_other_last"))
        .when(k == "last_name_changed")
        .then(pl.col("last_name") + "-Smith")
        .otherwise(pl.col("last_name"))
        .alias("last_name"),
        pl.when((k == "ssn_missing") | ~pl.col("_keep_ssn"))
        .then(None)
        .otherwise(pl.col("ssn"))
        .alias("ssn"),
        pl.when(pl.col("_keep_middle"))
        .then(pl.col("middle_name"))
        .otherwise(None)
        .alias("middle_name"),
        pl.col("state_student_id").alias("true_id"),
    )
    return df.select("true_id", "kind", *STUDENT_COLUMNS)


def _new(
    pool: pl.DataFrame, roster: pl.DataFrame, n: int, rng: np.random.Generator
) -> pl.DataFrame:
    kinds = rng.choice(np.array(NEW_KINDS), size=n, p=np.array(NEW_WEIGHTS))

    # Strangers: every attribute drawn independently from the roster's own distributions.
    def col(name: str) -> np.ndarray:
        return roster[name].to_numpy()[rng.integers(0, roster.height, size=n)]

    gender = col("gender")
    female = roster.filter(pl.col("gender") == "F")["first_name"].to_numpy()
    male = roster.filter(pl.col("gender") != "F")["first_name"].to_numpy()
    first = np.where(
        gender == "F",
        female[rng.integers(0, len(female), size=n)],
        male[rng.integers(0, len(male), size=n)],
    )
    stranger = pl.DataFrame(
        {
            "first_name": first,
            "middle_name": col("first_name"),
            "last_name": col("last_name"),
            "birth_date": col("birth_date"),
            "gender": gender,
            "race_ethnicity": col("race_ethnicity"),
            "guardian_name": pl.Series(col("first_name")) + " " + pl.Series(col("last_name")),
            "ssn": _fresh_ssn(roster, n, rng),
            "mainecare_id": pl.Series([None] * n, dtype=pl.String),
        },
        schema_overrides={"birth_date": pl.Date},
    )
    stranger = stranger.with_columns(
        pl.when(pl.Series(rng.random(n) < 0.4)).then(None).otherwise(pl.col("ssn")).alias("ssn"),
        pl.when(pl.Series(rng.random(n) < 0.5))
        .then(pl.col("middle_name"))
        .otherwise(None)
        .alias("middle_name"),
    )
    # Siblings and twins: a roster student's household with a different first name.
    sib = pool[rng.integers(0, pool.height, size=n)]
    shift_days = rng.integers(400, 3000, size=n) * np.where(rng.random(n) < 0.5, -1, 1)
    sibling = sib.with_columns(
        pl.Series("first_name", first),
        pl.Series("gender", gender),
        pl.when(pl.Series(kinds == "twin"))
        .then(pl.col("birth_date"))
        .otherwise(pl.col("birth_date") + pl.duration(days=pl.Series(shift_days)))
        .alias("birth_date"),
        pl.Series("ssn", stranger["ssn"]),
        pl.lit(None, dtype=pl.String).alias("middle_name"),
        pl.lit(None, dtype=pl.String).alias("mainecare_id"),
    ).select(STUDENT_COLUMNS)
    # A sibling never carries the roster student's own first name.
    same = (sibling["first_name"] == sib["first_name"]).to_numpy()
    alt = first[(np.arange(n) + 1) % max(n, 1)]
    sibling = sibling.with_columns(
        pl.when(pl.Series(same))
        .then(pl.Series(alt))
        .otherwise(pl.col("first_name"))
        .alias("first_name")
    )
    is_stranger = pl.Series(kinds == "stranger")
    out = pl.concat(
        [stranger.with_row_index("_i"), sibling.with_row_index("_i")], how="vertical_relaxed"
    )
    pick = pl.DataFrame({"_i": np.arange(n, dtype=np.uint32), "_stranger": is_stranger})
    out = (
        out.with_columns(pl.Series("_src", np.r_[np.ones(n, bool), np.zeros(n, bool)]))
        .join(pick, on="_i")
        .filter(pl.col("_src") == pl.col("_stranger"))
        .sort("_i")
    )
    return out.select(
        pl.lit(None, dtype=pl.String).alias("true_id"),
        pl.Series("kind", kinds),
        *STUDENT_COLUMNS,
    )


def _fresh_ssn(roster: pl.DataFrame, n: int, rng: np.random.Generator) -> pl.Series:
    """SSNs in the never-issued 9xx area, distinct from each other and from the roster's."""
    used = roster["ssn"].drop_nulls()
    v = pl.Series(rng.integers(900_000_000, 1_000_000_000, size=2 * n + 64)).cast(pl.String)
    cand = (v.str.slice(0, 3) + "-" + v.str.slice(3, 2) + "-" + v.str.slice(5, 4)).unique(
        maintain_order=True
    )
    out = cand.filter(~cand.is_in(used.implode()))[:n]
    if out.len() < n:
        raise RuntimeError("could not draw enough distinct SSNs; increase the candidate pool")
    return pl.Series("ssn", out, dtype=pl.String)
