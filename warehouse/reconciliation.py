"""Reconciliation of incoming people without a state ID against the roster, and ID merges.

The policy: duplicates are reconciled on first and last name, date of birth, gender,
race/ethnicity, parent/guardian name and SSN (if available). A Fellegi-Sunter model in Splink
(DuckDB backend, in-memory connection: the warehouse file is only read) scores every candidate
pair found by blocking. Its u probabilities (how often fields agree by chance) are trained on
the roster by random sampling, with term-frequency adjustment of names; the prior comes from
deterministic rules; the m probabilities (how often a true match agrees) are stated priors that
EM can refine (off by default: it costs half the time budget and the priors already separate).
A first name that agrees at no level (twins share surname, guardian and birth date) never
attaches without SSN agreement. For each incoming record the best candidate decides: at or
above `Thresholds.attach` the existing ID is attached, below `Thresholds.new` a new ID is
minted, in between the record waits for review.

Merging two IDs found to be one person keeps one, records the other as an alias (never reused)
and moves every history row to the kept ID in one copy-on-write transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import polars as pl

from warehouse.connection import connect_readonly, rewrite_warehouse

logging.getLogger("splink").setLevel(logging.ERROR)


def _first(result: duckdb.DuckDBPyConnection) -> tuple | None:
    """The first row of a result, reading it to the end (DuckDB 2 refuses unfinished results)."""
    rows = result.fetchall()
    return rows[0] if rows else None


@dataclass(frozen=True)
class Thresholds:
    """Match-probability cut-offs. `attach` <= p: same person; p < `new`: a new person."""

    attach: float = 0.99
    new: float = 0.2
    # Refine m probabilities by EM only when the batch has at least this many records (EM needs
    # many true matches; the stated priors already separate well and EM costs time).
    em_min_records: int = 1_000_000
    # Estimate the prior from deterministic rules only for batches at least this large.
    prior_min_records: int = 200
    # Random record pairs drawn from the roster to train the u probabilities.
    u_sample_pairs: float = 3e5

    def __post_init__(self) -> None:
        if not 0 < self.new <= self.attach < 1:
            raise ValueError("thresholds must satisfy 0 < new <= attach < 1")


# Nickname groups: every name in a group is an accepted form of the others.
NICKNAME_GROUPS: tuple[tuple[str, ...], ...] = (
    ("robert", "bob", "bobby", "rob", "robbie", "bert"),
    ("william", "bill", "billy", "will", "willie", "liam"),
    ("elizabeth", "liz", "lizzie", "beth", "betsy", "eliza", "libby", "betty", "ellie"),
    ("katherine", "kate", "katie", "kathy", "kat", "kay"),
    ("catherine", "cathy", "cate", "katie", "kate"),
    ("kathryn", "kate", "katie", "kathy"),
    ("michael", "mike", "mikey", "mick"),
    ("jennifer", "jen", "jenny", "jenn"),
    ("christopher", "chris", "kit", "topher"),
    ("christina", "chris", "tina", "christy"),
    ("christine", "chris", "tina", "christy"),
    ("matthew", "matt", "matty"),
    ("joseph", "joe", "joey"),
    ("josephine", "jo", "josie"),
    ("daniel", "dan", "danny"),
    ("danielle", "dani"),
    ("anthony", "tony"),
    ("nicholas", "nick", "nicky", "nico"),
    ("nicole", "nikki", "nicky"),
    ("jessica", "jess", "jessie"),
    ("samantha", "sam", "sammy"),
    ("samuel", "sam", "sammy"),
    ("alexander", "alex", "al", "xander", "lex"),
    ("alexandra", "alex", "lexi", "sandra", "alexa"),
    ("benjamin", "ben", "benny", "benji"),
    ("jonathan", "jon", "jonny", "john"),
    ("john", "jack", "johnny"),
    ("margaret", "maggie", "meg", "peggy", "marge", "greta"),
    ("rebecca", "becky", "becca"),
    ("victoria", "tori", "vicky", "vicki"),
    ("zachary", "zach", "zack"),
    ("andrew", "andy", "drew"),
    ("timothy", "tim", "timmy"),
    ("thomas", "tom", "tommy"),
    ("james", "jim", "jimmy", "jamie"),
    ("richard", "rick", "rich", "dick", "ricky"),
    ("patricia", "pat", "patty", "trish"),
    ("patrick", "pat", "paddy"),
    ("kimberly", "kim"),
    ("abigail", "abby", "abbie", "gail"),
    ("madison", "maddie", "maddy"),
    ("madeline", "maddie", "maddy"),
    ("olivia", "liv", "livvy"),
    ("isabella", "bella", "izzy", "isa"),
    ("isabelle", "bella", "izzy"),
    ("joshua", "josh"),
    ("david", "dave", "davey"),
    ("steven", "steve", "stevie"),
    ("stephen", "steve", "stevie"),
    ("jacob", "jake"),
    ("nathan", "nate"),
    ("nathaniel", "nate", "nat"),
    ("gabriel", "gabe"),
    ("gabrielle", "gabby", "gabi"),
    ("charles", "charlie", "chuck", "chaz"),
    ("charlotte", "charlie", "lottie"),
    ("edward", "ed", "eddie", "ted", "ned"),
    ("theodore", "theo", "ted", "teddy"),
    ("jeffrey", "jeff"),
    ("gregory", "greg"),
    ("kenneth", "ken", "kenny"),
    ("ronald", "ron", "ronnie"),
    ("donald", "don", "donnie"),
    ("raymond", "ray"),
    ("lawrence", "larry"),
    ("frederick", "fred", "freddie"),
    ("douglas", "doug"),
    ("peter", "pete"),
    ("philip", "phil"),
    ("phillip", "phil"),
    ("susan", "sue", "susie"),
    ("deborah", "deb", "debbie"),
    ("barbara", "barb"),
    ("jacqueline", "jackie"),
    ("emily", "em", "emmy"),
    ("emma", "em", "emmy"),
    ("amanda", "mandy"),
    ("allison", "ally", "allie"),
    ("alyssa", "ally", "allie"),
    ("ashley", "ash"),
    ("brittany", "britt"),
    ("stephanie", "steph"),
    ("melissa", "missy", "mel"),
    ("melanie", "mel"),
    ("natalie", "nat"),
    ("natasha", "tasha", "nat"),
    ("sophia", "sophie"),
    ("evelyn", "evie"),
    ("eleanor", "ellie", "nora"),
    ("caroline", "carrie", "carol"),
    ("valerie", "val"),
    ("anna", "annie"),
    ("hannah", "annie"),
    ("mary", "molly", "polly", "mae"),
    ("sarah", "sally", "sadie"),
    ("benedict", "ben"),
    ("harold", "harry", "hal"),
    ("henry", "harry", "hank", "hal"),
    ("jason", "jay"),
    ("joel", "joe"),
    ("louis", "lou"),
    ("lucas", "luke"),
    ("maximilian", "max"),
    ("maxwell", "max"),
    ("oliver", "ollie"),
    ("ryan", "ry"),
    ("tyler", "ty"),
    ("wesley", "wes"),
    ("gerald", "gerry", "jerry"),
    ("jeremy", "jerry"),
    ("cameron", "cam"),
    ("dominic", "dom"),
    ("vincent", "vince", "vinny"),
    ("walter", "walt"),
    ("eugene", "gene"),
    ("frances", "fran", "frannie"),
    ("francis", "frank", "fran"),
    ("franklin", "frank"),
    ("judith", "judy"),
    ("cynthia", "cindy"),
    ("pamela", "pam"),
    ("teresa", "terry", "tess"),
    ("theresa", "terry", "tess"),
    ("tiffany", "tiff"),
    ("veronica", "ronnie"),
    ("virginia", "ginny"),
    ("alfred", "alfie", "al"),
    ("albert", "al", "bert"),
    ("allen", "al"),
    ("alan", "al"),
)


def _nickname_forms() -> dict[str, list[str]]:
    forms: dict[str, set[str]] = {}
    for group in NICKNAME_GROUPS:
        for name in group:
            forms.setdefault(name, {name}).update(group)
    return {k: sorted(v) for k, v in forms.items()}


_FORMS = _nickname_forms()


def _norm(col: str) -> pl.Expr:
    """Lower-case ASCII letters only: accents, spaces, hyphens and apostrophes removed."""
    return (
        pl.col(col)
        .cast(pl.String)
        .str.normalize("NFKD")
        .str.to_lowercase()
        .str.replace_all(r"[^a-z]", "")
        .replace("", None)
    )


def prepare_people(frame: pl.DataFrame, id_col: str) -> pl.DataFrame:
    """The comparison columns of people records (roster or incoming), normalised for matching."""
    cols = set(frame.columns)

    def maybe(name: str) -> pl.Expr:
        return _norm(name) if name in cols else pl.lit(None, dtype=pl.String)

    guardian = (
        pl.col("guardian_name").cast(pl.String).str.strip_chars()
        if "guardian_name" in cols
        else pl.lit(None, dtype=pl.String)
    )
    out = frame.select(
        pl.col(id_col).cast(pl.String).alias("unique_id"),
        maybe("first_name").alias("first_name"),
        maybe("last_name").alias("last_name"),
        pl.col("birth_date").cast(pl.Date).dt.strftime("%Y-%m-%d").alias("dob"),
        pl.col("birth_date").cast(pl.Date).dt.year().cast(pl.String).alias("birth_year"),
        (pl.col("gender") if "gender" in cols else pl.lit(None, dtype=pl.String)).alias("gender"),
        (
            pl.col("race_ethnicity") if "race_ethnicity" in cols else pl.lit(None, dtype=pl.String)
        ).alias("race"),
        guardian.str.extract(r"^(\S+)").alias("_gf"),
        guardian.str.extract(r"(\S+)$").alias("_gl"),
        (pl.col("ssn") if "ssn" in cols else pl.lit(None, dtype=pl.String))
        .cast(pl.String)
        .str.replace_all(r"[^0-9]", "")
        .replace("", None)
        .alias("ssn"),
    ).with_columns(
        pl.col("_gf").str.to_lowercase().str.replace_all(r"[^a-z]", "").alias("guardian_first"),
        pl.col("_gl").str.to_lowercase().str.replace_all(r"[^a-z]", "").alias("guardian_last"),
    )
    out = out.with_columns(
        pl.when(pl.col("guardian_first").is_not_null() & pl.col("guardian_last").is_not_null())
        .then(pl.col("guardian_first") + " " + pl.col("guardian_last"))
        .otherwise(None)
        .alias("guardian"),
    ).drop("_gf", "_gl")
    names = out["first_name"].drop_nulls().unique()
    lookup = pl.DataFrame(
        {
            "first_name": names,
            "first_forms": [_FORMS.get(n, [n]) for n in names.to_list()],
        },
        schema={"first_name": pl.String, "first_forms": pl.List(pl.String)},
    )
    return out.join(lookup, on="first_name", how="left")


# ---------------------------------------------------------------------------------------------
# The model


def _student_comparisons() -> list:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    def level(c, m: float):  # noqa: ANN001, ANN202
        return c.configure(m_probability=m)

    return [
        cl.CustomComparison(
            output_column_name="first_name",
            comparison_levels=[
                cll.NullLevel("first_name"),
                level(
                    cll.ExactMatchLevel("first_name").configure(tf_adjustment_column="first_name"),
                    0.86,
                ),
                level(
                    cll.CustomLevel(
                        "list_has_any(first_forms_l, first_forms_r)", label_for_charts="nickname"
                    ),
                    0.05,
                ),
                level(cll.DamerauLevenshteinLevel("first_name", 1), 0.04),
                level(cll.JaroWinklerLevel("first_name", 0.88), 0.03),
                level(cll.ElseLevel(), 0.02),
            ],
        ),
        cl.CustomComparison(
            output_column_name="last_name",
            comparison_levels=[
                cll.NullLevel("last_name"),
                level(
                    cll.ExactMatchLevel("last_name").configure(tf_adjustment_column="last_name"),
                    0.88,
                ),
                level(cll.DamerauLevenshteinLevel("last_name", 1), 0.04),
                level(cll.JaroWinklerLevel("last_name", 0.88), 0.02),
                level(cll.ElseLevel(), 0.06),
            ],
        ),
        cl.CustomComparison(
            output_column_name="dob",
            comparison_levels=[
                cll.NullLevel("dob"),
                level(cll.ExactMatchLevel("dob"), 0.90),
                level(cll.DamerauLevenshteinLevel("dob", 1), 0.08),
                level(cll.ElseLevel(), 0.02),
            ],
        ),
        cl.CustomComparison(
            output_column_name="gender",
            comparison_levels=[
                cll.NullLevel("gender"),
                level(cll.ExactMatchLevel("gender"), 0.98),
                level(cll.ElseLevel(), 0.02),
            ],
        ),
        cl.CustomComparison(
            output_column_name="race",
            comparison_levels=[
                cll.NullLevel("race"),
                level(cll.ExactMatchLevel("race"), 0.95),
                level(cll.ElseLevel(), 0.05),
            ],
        ),
        cl.CustomComparison(
            output_column_name="guardian",
            comparison_levels=[
                cll.NullLevel("guardian"),
                level(cll.ExactMatchLevel("guardian"), 0.82),
                level(cll.JaroWinklerLevel("guardian", 0.9), 0.06),
                level(cll.ExactMatchLevel("guardian_first"), 0.07),
                level(cll.ElseLevel(), 0.05),
            ],
        ),
        cl.CustomComparison(
            output_column_name="ssn",
            comparison_levels=[
                cll.NullLevel("ssn"),
                # SSNs are unique: random sampling never sees two agree, so u is stated.
                cll.ExactMatchLevel("ssn").configure(m_probability=0.97, u_probability=1e-6),
                cll.DamerauLevenshteinLevel("ssn", 1).configure(
                    m_probability=0.025, u_probability=1e-5
                ),
                level(cll.ElseLevel(), 0.005),
            ],
        ),
    ]


# Match weight of exact SSN agreement is log2(0.97 / 1e-6), about 20.
_SSN_AGREES_WEIGHT = 15.0
_PAIR_SCHEMA = {
    "record_id": pl.String,
    "candidate_id": pl.String,
    "match_probability": pl.Float64,
    "needs_review": pl.Boolean,
}


def _staff_comparisons() -> list:
    comps = _student_comparisons()
    return [
        c
        for c in comps
        if c.create_output_column_name() in ("first_name", "last_name", "dob", "ssn")
    ]


_STUDENT_BLOCKING = (
    ("dob",),
    ("ssn",),
    ("first_name", "last_name"),
    ("guardian",),
    ("substr(first_name, 1, 1)", "last_name", "birth_year"),
)
_STAFF_BLOCKING = (("dob",), ("ssn",), ("first_name", "last_name"))


def _settings(comparisons: list, blocking: Sequence[tuple[str, ...]]):  # noqa: ANN202
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=[block_on(*cols) for cols in blocking],
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
    )


def score_candidates(
    roster: pl.DataFrame,
    incoming: pl.DataFrame,
    *,
    comparisons: list,
    blocking: Sequence[tuple[str, ...]],
    deterministic: Sequence[tuple[str, ...]],
    thresholds: Thresholds,
) -> pl.DataFrame:
    """Scored candidate pairs (record_id, candidate_id, match_probability) above `new`/2.

    `roster` and `incoming` are already prepared (`prepare_people`). Runs on a private
    in-memory DuckDB connection; nothing is written anywhere.
    """
    from splink import DuckDBAPI, Linker, block_on

    con = duckdb.connect(":memory:")
    con.execute("SET threads TO 2")
    try:
        db_api = DuckDBAPI(con)
        left = db_api.register(roster.to_arrow(), table_name="roster_people")
        right = db_api.register(incoming.to_arrow(), table_name="incoming_people")
        linker = Linker([left, right], _settings(comparisons, blocking), log_level=None)
        # The prior: the share of roster x incoming pairs that are the same person. Small
        # batches carry too little signal to estimate it, and a batch of strangers would give
        # zero; the floor assumes at least a tenth of incoming records are already known.
        floor = 0.1 / max(roster.height, 1)
        prior = floor
        if incoming.height >= thresholds.prior_min_records:
            linker.training.estimate_probability_two_random_records_match(
                [block_on(*cols) for cols in deterministic], recall=0.8
            )
            prior = max(linker._settings_obj._probability_two_random_records_match, floor)
        linker._settings_obj._probability_two_random_records_match = prior
        linker.training.estimate_u_using_random_sampling(
            max_pairs=thresholds.u_sample_pairs, seed=1
        )
        if incoming.height >= thresholds.em_min_records:
            for cols in (("dob",), ("first_name", "last_name")):
                linker.training.estimate_parameters_using_expectation_maximisation(
                    block_on(*cols),
                    fix_u_probabilities=True,
                    estimate_without_term_frequencies=True,
                )
        preds = linker.inference.predict(threshold_match_probability=thresholds.new / 2)
        rows = con.execute(
            f"SELECT source_dataset_l, unique_id_l, unique_id_r, match_probability, "
            f"mw_first_name, mw_ssn FROM {preds.physical_name}"
        ).fetchall()
    finally:
        con.close()
    pairs = pl.DataFrame(
        rows,
        schema={
            "src_l": pl.String,
            "id_l": pl.String,
            "id_r": pl.String,
            "match_probability": pl.Float64,
            "mw_first_name": pl.Float64,
            "mw_ssn": pl.Float64,
        },
        orient="row",
    )
    # Fellegi-Sunter assumes independent fields; twins break that (same surname, guardian and
    # birth date). A first name that agrees at no level never attaches without SSN agreement.
    first_disagrees = pl.col("mw_first_name") < 0
    ssn_agrees = pl.col("mw_ssn") > _SSN_AGREES_WEIGHT
    roster_left = pl.col("src_l") == "roster_people"
    return pairs.select(
        pl.when(roster_left).then("id_r").otherwise("id_l").alias("record_id"),
        pl.when(roster_left).then("id_l").otherwise("id_r").alias("candidate_id"),
        "match_probability",
        (first_disagrees & ~ssn_agrees).alias("needs_review"),
    )


def decide(incoming_ids: pl.Series, pairs: pl.DataFrame, thresholds: Thresholds) -> pl.DataFrame:
    """One decision per incoming record from its best-scoring candidate."""
    if not pairs.columns:
        pairs = pl.DataFrame(schema=_PAIR_SCHEMA)
    best = (
        pairs.sort("match_probability", descending=True)
        .group_by("record_id", maintain_order=True)
        .first()
    )
    out = pl.DataFrame({"record_id": incoming_ids.cast(pl.String)}).join(
        best, on="record_id", how="left"
    )
    p = pl.col("match_probability")
    capped = (
        pl.col("needs_review").fill_null(False) if "needs_review" in out.columns else pl.lit(False)
    )
    return out.with_columns(
        pl.when((p >= thresholds.attach) & ~capped)
        .then(pl.lit("ATTACH"))
        .when(p >= thresholds.new)
        .then(pl.lit("REVIEW"))
        .otherwise(pl.lit("NEW"))
        .alias("decision")
    ).select("record_id", "decision", "candidate_id", "match_probability")


def reconcile_students(
    roster: pl.DataFrame, incoming: pl.DataFrame, thresholds: Thresholds | None = None
) -> pl.DataFrame:
    """Decide for each incoming student (column `record_id`, no state ID) ATTACH/NEW/REVIEW.

    `roster` is the students table. The result holds record_id, decision, candidate_id (the
    existing state ID for ATTACH/REVIEW) and match_probability. SSN is used only inside this
    private computation and never appears in the result.
    """
    thresholds = thresholds or Thresholds()
    if incoming.height == 0:
        return decide(pl.Series([], dtype=pl.String), pl.DataFrame(), thresholds)
    r = prepare_people(roster, "state_student_id")
    i = prepare_people(incoming, "record_id")
    pairs = score_candidates(
        r,
        i,
        comparisons=_student_comparisons(),
        blocking=_STUDENT_BLOCKING,
        deterministic=(("first_name", "last_name", "dob"), ("ssn",)),
        thresholds=thresholds,
    )
    return decide(i["unique_id"], pairs, thresholds)


def reconcile_staff(
    roster: pl.DataFrame, incoming: pl.DataFrame, thresholds: Thresholds | None = None
) -> pl.DataFrame:
    """The same for staff (names, date of birth, SSN), against the staff table."""
    thresholds = thresholds or Thresholds()
    if incoming.height == 0:
        return decide(pl.Series([], dtype=pl.String), pl.DataFrame(), thresholds)
    r = prepare_people(roster, "state_staff_id")
    i = prepare_people(incoming, "record_id")
    pairs = score_candidates(
        r,
        i,
        comparisons=_staff_comparisons(),
        blocking=_STAFF_BLOCKING,
        deterministic=(("first_name", "last_name", "dob"), ("ssn",)),
        thresholds=thresholds,
    )
    return decide(i["unique_id"], pairs, thresholds)


# ---------------------------------------------------------------------------------------------
# IDs ever issued, merges and the review queue


def _tables_with(con: duckdb.DuckDBPyConnection, column: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'main' "
            "AND column_name = ? ORDER BY 1",
            [column],
        ).fetchall()
    ]


def issued_id_set(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Every student and staff ID ever issued: current, retired (aliases) and minted."""
    taken: set[str] = set()
    sources = [
        ("students", "state_student_id"),
        ("staff", "state_staff_id"),
        ("student_id_aliases", "alias_id"),
        ("staff_id_aliases", "alias_id"),
        ("issued_ids", "state_id"),
    ]
    existing = {
        r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    for table, col in sources:
        if table in existing:
            taken.update(r[0] for r in con.execute(f"SELECT {col} FROM {table}").fetchall())
    return taken


@dataclass(frozen=True)
class MergeResult:
    """Rows moved from the retired ID to the kept one, and duplicate rows dropped (same key)."""

    keep: str
    alias: str
    moved: dict[str, int]
    dropped_duplicates: dict[str, int]


_PERSON = {
    "student": ("students", "state_student_id", "student_id_aliases"),
    "staff": ("staff", "state_staff_id", "staff_id_aliases"),
}


def merge_in(
    con: duckdb.DuckDBPyConnection,
    keep: str,
    alias: str,
    merged_by: str,
    *,
    person: str = "student",
    now: dt.datetime | None = None,
) -> MergeResult:
    """Merge `alias` into `keep` inside an open write transaction (see `merge_ids`)."""
    from warehouse.submissions import ensure_intake_tables

    table, key, alias_table = _PERSON[person]
    if keep == alias:
        raise ValueError("cannot merge an ID into itself")
    ensure_intake_tables(con)
    for sid in (keep, alias):
        if not _first(con.execute(f"SELECT 1 FROM {table} WHERE {key} = ?", [sid])):
            retired = _first(
                con.execute(f"SELECT {key} FROM {alias_table} WHERE alias_id = ?", [sid])
            )
            hint = f" (it was merged into {retired[0]})" if retired else ""
            raise LookupError(f"no current {person} with ID {sid}{hint}")
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    pk = {
        t: cols
        for t, cols in con.execute(
            "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
            "WHERE constraint_type = 'PRIMARY KEY' AND schema_name = 'main'"
        ).fetchall()
    }
    moved: dict[str, int] = {}
    dropped: dict[str, int] = {}
    for t in _tables_with(con, key):
        if t in (table, alias_table):
            continue
        others = [c for c in pk.get(t, []) if c != key]
        if key in pk.get(t, []):
            match = " AND ".join(f"k.{c} IS NOT DISTINCT FROM a.{c}" for c in others) or "TRUE"
            (n_dup,) = _first(
                con.execute(
                    f"SELECT count(*) FROM {t} a WHERE a.{key} = ? AND EXISTS "
                    f"(SELECT 1 FROM {t} k WHERE k.{key} = ? AND {match})",
                    [alias, keep],
                )
            )  # type: ignore[misc]
            if n_dup:
                con.execute(
                    f"DELETE FROM {t} a WHERE a.{key} = ? AND EXISTS "
                    f"(SELECT 1 FROM {t} k WHERE k.{key} = ? AND {match})",
                    [alias, keep],
                )
                dropped[t] = int(n_dup)
        (n,) = _first(con.execute(f"SELECT count(*) FROM {t} WHERE {key} = ?", [alias]))  # type: ignore[misc]
        if n:
            con.execute(f"UPDATE {t} SET {key} = ? WHERE {key} = ?", [keep, alias])
            moved[t] = int(n)
    fill = ", ".join(
        f"{c} = coalesce(k.{c}, a.{c})"
        for c in (
            ("middle_name", "guardian_name", "ssn", "mainecare_id")
            if person == "student"
            else ("ssn",)
        )
    )
    con.execute(
        f"UPDATE {table} AS k SET {fill} FROM (SELECT * FROM {table} WHERE {key} = ?) AS a "
        f"WHERE k.{key} = ?",
        [alias, keep],
    )
    con.execute(f"DELETE FROM {table} WHERE {key} = ?", [alias])
    con.execute(f"UPDATE {alias_table} SET {key} = ? WHERE {key} = ?", [keep, alias])
    con.execute(f"INSERT INTO {alias_table} VALUES (?, ?, ?, ?)", [alias, keep, now, merged_by])
    return MergeResult(keep, alias, moved, dropped)


def merge_ids(
    db_path: str | os.PathLike[str],
    keep: str,
    alias: str,
    merged_by: str,
    *,
    person: str = "student",
) -> MergeResult:
    """Merge two IDs that prove to be one person: keep `keep`, retire `alias`, move all history.

    `merged_by` (an MDOE user) is recorded with the alias. The retired ID is never reissued.
    """
    with rewrite_warehouse(db_path, copy_existing=True) as con:
        return merge_in(con, keep, alias, merged_by, person=person)


def pending_reviews(db_path: str | os.PathLike[str]) -> pl.DataFrame:
    """The review queue side by side: the incoming record and its candidate, field by field.

    This shows Level 1 identifying fields (SSN excepted: only whether the two SSNs agree) and is
    for MDOE reviewers only; the privacy layer checks the caller.
    """
    con = connect_readonly(db_path)
    try:
        existing = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        if "id_review_queue" not in existing:
            return pl.DataFrame()
        sql = (
            "SELECT q.review_id, q.submission_id, q.id_kind, q.match_probability, "
            "q.new_id, n.first_name AS new_first_name, n.last_name AS new_last_name, "
            "n.birth_date AS new_birth_date, n.gender AS new_gender, "
            "n.race_ethnicity AS new_race_ethnicity, n.guardian_name AS new_guardian_name, "
            "q.candidate_id, c.first_name AS candidate_first_name, "
            "c.last_name AS candidate_last_name, c.birth_date AS candidate_birth_date, "
            "c.gender AS candidate_gender, c.race_ethnicity AS candidate_race_ethnicity, "
            "c.guardian_name AS candidate_guardian_name, "
            "CASE WHEN n.ssn IS NULL OR c.ssn IS NULL THEN 'not both known' "
            "WHEN n.ssn = c.ssn THEN 'same' ELSE 'different' END AS ssn_agreement "
            "FROM id_review_queue q "
            "LEFT JOIN students n ON n.state_student_id = q.new_id "
            "LEFT JOIN students c ON c.state_student_id = q.candidate_id "
            "WHERE q.status = 'PENDING' AND q.id_kind = 'STUDENT' "
            "UNION ALL BY NAME "
            "SELECT q.review_id, q.submission_id, q.id_kind, q.match_probability, "
            "q.new_id, n.first_name AS new_first_name, n.last_name AS new_last_name, "
            "n.birth_date AS new_birth_date, q.candidate_id, "
            "c.first_name AS candidate_first_name, c.last_name AS candidate_last_name, "
            "c.birth_date AS candidate_birth_date, "
            "CASE WHEN n.ssn = c.ssn THEN 'same' ELSE 'different' END AS ssn_agreement "
            "FROM id_review_queue q "
            "LEFT JOIN staff n ON n.state_staff_id = q.new_id "
            "LEFT JOIN staff c ON c.state_staff_id = q.candidate_id "
            "WHERE q.status = 'PENDING' AND q.id_kind = 'STAFF' "
            "ORDER BY match_probability DESC"
        )
        return pl.from_arrow(con.sql(sql).to_arrow_table())  # type: ignore[return-value]
    finally:
        con.close()


def decide_review(
    db_path: str | os.PathLike[str], review_id: str, same_person: bool, decided_by: str
) -> MergeResult | None:
    """Record a reviewer's decision. Same person: the provisional ID is merged into the candidate.

    Different people: the provisional ID stays as the new person's permanent ID.
    """
    with rewrite_warehouse(db_path, copy_existing=True) as con:
        row = _first(
            con.execute(
                "SELECT id_kind, new_id, candidate_id, status FROM id_review_queue WHERE review_id = ?",
                [review_id],
            )
        )
        if row is None:
            raise LookupError(f"no review item {review_id}")
        kind, new_id, candidate, status = row
        if status != "PENDING":
            raise ValueError(f"review item {review_id} was already decided ({status})")
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        result = None
        if same_person:
            result = merge_in(con, candidate, new_id, decided_by, person=kind.lower(), now=now)
        con.execute(
            "UPDATE id_review_queue SET status = ?, decided_by = ?, decided_at = ? WHERE review_id = ?",
            ["SAME" if same_person else "DIFFERENT", decided_by, now, review_id],
        )
        return result
