"""Protected tables: the only form in which counts leave the privacy layer.

This module lays a `TableRequest` out as tidy rows (one row per published cell, "All" for
margins), gives every student count a stable cell key so linked tables share cells, lists the
additive relations an attacker knows within the table, and renders the result of protection as a
`ProtectedTable`: counts, rates and displays in which a hidden or coded cell is never present.

Cell keys look like ``enrollment:2024-25|S:1001|grade=01;race_ethnicity=HI`` (population and
year, geography unit, then every dimension not at its "All" margin in name order). Two tables
that publish the same group publish the same cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

import polars as pl

from privacy.percent_coding import code_rate, hides_counts, public_bounds
from privacy.policy import Policy
from privacy.requests import (
    ALL,
    GRADUATED,
    NO_MARGIN,
    NOT_PROFICIENT,
    PROFICIENT,
    RATE_DIMENSION,
    TableRequest,
    code_label,
    dimension_codes,
)
from warehouse.aggregates import PROGRAM_FLAGS

SHOWN = "shown"
SUPPRESSED_SMALL = "suppressed_small"
SUPPRESSED_COMPLEMENT = "suppressed_complement"
CODED = "coded"
STATUSES = (SHOWN, SUPPRESSED_SMALL, SUPPRESSED_COMPLEMENT, CODED)
HIDDEN_MARK = "*"
# What published outputs (CSV, datapackage) say of any hidden cell, whatever hid it.
PUBLIC_SUPPRESSED = "suppressed"
PUBLIC_HIDDEN_REASON = (
    "fewer than 10 students, or hidden so that a small group cannot be worked out"
)

POPULATION_OF = {
    "enrollment": "enrollment",
    "programs": "enrollment",
    "assessment": "assessment",
    "graduation": "graduation",
}
MEASURE_TITLES = {
    "enrollment": "Enrollment",
    "programs": "Program participation",
    "assessment": "State assessment results",
    "graduation": "Four-year graduation cohort outcomes",
    "staff": "Staff headcount and FTE",
}
DIMENSION_TITLES = {
    "grade": "grade",
    "race_ethnicity": "race/ethnicity",
    "gender": "gender",
    "economically_disadvantaged": "economically disadvantaged",
    "english_learner": "English learner",
    "disability": "students with disabilities",
    "migrant": "migrant",
    "homeless": "homeless",
    "title1": "Title I",
    "cte": "career and technical education",
    "subject": "subject",
    "performance_level": "performance level",
    "outcome": "outcome",
    "role": "role",
    "assignment_subject": "assignment subject",
}
REASONS = {
    SHOWN: "",
    SUPPRESSED_SMALL: "fewer than {min_cell} students",
    SUPPRESSED_COMPLEMENT: "hidden so that a small count cannot be worked out from the totals",
    CODED: "rate near 0% or 100% shown only as a range; its counts are hidden",
}
STAFF_REASON = "staff assignments are open records; counts are of staff, not students"
COUNTING_RULES = {
    "enrollment": "Each student is counted once per school year, at the school of their first "
    "enrollment that year.",
    "programs": "Rate = share of enrolled students of the group in the program; a student "
    "without a participation record counts as not participating.",
    "assessment": "Rate = share of students tested; 'P34' (proficient) = levels 3 and 4.",
    "graduation": "Rate = share of the four-year cohort; the school year is the year the "
    "cohort was due to graduate. NOT_GRADUATED = still enrolled, other completer or dropped out.",
    "staff": "Headcount = distinct staff members; FTE = sum of assignment FTE. Staff "
    "assignments are open records and are not suppressed.",
}


def rate_dimension(request: TableRequest) -> str | None:
    """The dimension whose "All" row is the denominator of each row's rate (None: no rate)."""
    if request.measure in RATE_DIMENSION:
        return RATE_DIMENSION[request.measure]
    if request.measure == "programs":
        return next(d for d in request.dimensions if d in PROGRAM_FLAGS)
    return None


def geo_columns(geography: str) -> tuple[str, ...]:
    """Geography columns of a table at that level."""
    return {
        "state": (),
        "district": ("district_id", "district_name"),
        "school": ("district_id", "district_name", "school_id", "school_name"),
    }[geography]


def _margin_codes(dim: str, *, proficiency_only: bool = False) -> list[str]:
    if dim == "performance_level" and proficiency_only:
        return [NOT_PROFICIENT, PROFICIENT, ALL]
    codes = [c for c, _ in dimension_codes(dim)]
    if dim == "performance_level":
        codes.append(PROFICIENT)
    if dim not in NO_MARGIN:
        codes.append(ALL)
    return codes


def _sum_codes(dim: str) -> list[str]:
    return [c for c, _ in dimension_codes(dim)]


_T = TypeVar("_T")


@dataclass(frozen=True)
class TableLayout:
    """A request laid out as cells, before protection.

    rows: geography columns, dimension columns, `cell_key`, `value` (the true count: never
        published as such), `denominator_key` / `denominator` (null when the row has no rate).
    constraints: (parent_key, child_keys) sums an attacker knows from the table alone.
    """

    request: TableRequest
    rows: pl.DataFrame
    constraints: tuple[tuple[str, tuple[str, ...]], ...]
    dimensions: tuple[str, ...]

    def rate_bounds(self, policy: Policy) -> list[tuple[str, str, tuple[int, int | None]]]:
        """(count key, group size key, (lo, hi or None)) of each count whose rate display
        would bound it once hidden over a shown group size (`public_bounds`: lo above 0, or
        hi below the group size; None: no bound beyond it). Worked out once per policy: a
        release reads them some twenty times (every level and run)."""
        return _kept(self, "_rate_bounds", policy, _informative_bounds)

    def denominator_keys(self) -> Mapping[str, str]:
        """Cell key -> the key of the group size its rate is computed on (rows with a rate).
        Worked out once and kept on the layout, read-only: a release reads it on every
        refused run, while the worker processes may wait for the run's parts."""
        kept: Mapping[str, str] | None = self.__dict__.get("_denominator_keys")
        if kept is None:
            rows = self.rows.filter(pl.col("denominator_key").is_not_null())
            kept = MappingProxyType(
                dict(
                    zip(rows["cell_key"].to_list(), rows["denominator_key"].to_list(), strict=True)
                )
            )
            self.__dict__["_denominator_keys"] = kept
        return kept


def _kept(
    layout: TableLayout, name: str, policy: Policy, work: Callable[[TableLayout, Policy], _T]
) -> _T:
    """``work(layout, policy)``, worked out once per layout and policy and kept on the
    layout itself (immutable; a release reads such answers for each of its levels, the
    dashboard for every custom table of a year). Sessions in threads may work one out
    twice, with the same answer."""
    kept: dict[Policy, _T] = layout.__dict__.setdefault(name, {})
    if policy not in kept:
        kept[policy] = work(layout, policy)
    return kept[policy]


def _informative_bounds(
    layout: TableLayout, policy: Policy
) -> list[tuple[str, str, tuple[int, int | None]]]:
    """`TableLayout.rate_bounds`, worked out."""
    out: list[tuple[str, str, tuple[int, int | None]]] = []
    known: dict[tuple[int, int], tuple[int, int]] = {}  # (count, group size) recur: one each
    with_rate = layout.rows.filter(pl.col("denominator").is_not_null())
    for key, num, dkey, den in zip(
        with_rate["cell_key"].to_list(),
        with_rate["value"].to_list(),
        with_rate["denominator_key"].to_list(),
        with_rate["denominator"].to_list(),
        strict=True,
    ):
        pair = (int(num), int(den))
        found = known.get(pair)
        if found is None:
            found = known[pair] = public_bounds(pair[0], pair[1], policy)
        lo, hi = found
        if lo > 0 or hi < den:
            out.append((key, dkey, (lo, hi if hi < den else None)))
    return out


def layout_table(request: TableRequest, facts: pl.DataFrame, units: pl.DataFrame) -> TableLayout:
    """Lay out a student-count request from exact `facts` (see `warehouse.aggregates`).

    units: the geography units of the population (columns district_id, district_name,
    school_id, school_name), i.e. the schools with at least one member in the year.
    """
    population = POPULATION_OF[request.measure]
    dims = request.table_dimensions
    geo = request.geography
    district = request.filter_value("district_id")
    school = request.filter_value("school_id")
    if district is not None:
        facts = facts.filter(pl.col("district_id") == district)
        units = units.filter(pl.col("district_id") == district)
    if school is not None:
        facts = facts.filter(pl.col("school_id") == school)
        units = units.filter(pl.col("school_id") == school)
    if "outcome" in facts.columns:
        facts = facts.with_columns(
            outcome=pl.when(pl.col("outcome") == GRADUATED)
            .then(pl.lit(GRADUATED))
            .otherwise(pl.lit("NOT_GRADUATED"))
        )
    for name, value in request.fixed_dimensions:
        facts = facts.filter(pl.col(name) == value)

    if geo == "state":
        unit_frame = pl.DataFrame({"geo": ["state"]})
        facts = facts.with_columns(geo=pl.lit("state"))
    elif geo == "district":
        unit_frame = (
            units.select("district_id", "district_name")
            .unique()
            .sort("district_id")
            .with_columns(geo=pl.lit("D:") + pl.col("district_id"))
        )
        facts = facts.with_columns(geo=pl.lit("D:") + pl.col("district_id"))
    else:
        unit_frame = units.sort("district_id", "school_id").with_columns(
            geo=pl.lit("S:") + pl.col("school_id")
        )
        facts = facts.with_columns(geo=pl.lit("S:") + pl.col("school_id"))

    grid = unit_frame
    for d in dims:
        codes = _margin_codes(d, proficiency_only=request.proficiency_only)
        grid = grid.join(pl.DataFrame({d: codes}), how="cross")

    parts = []
    for mask in range(1 << len(dims)):
        chosen = [d for i, d in enumerate(dims) if mask >> i & 1]
        if any(d in NO_MARGIN and d not in chosen for d in dims):
            continue
        agg = facts.group_by(["geo", *chosen]).agg(pl.col("n").sum())
        agg = agg.with_columns([pl.lit(ALL).alias(d) for d in dims if d not in chosen])
        parts.append(agg.select("geo", *dims, "n"))
        if "performance_level" in chosen:
            rollups = [(PROFICIENT, ["3", "4"])]
            if request.proficiency_only:
                rollups.append((NOT_PROFICIENT, ["1", "2"]))
            for code, levels in rollups:
                prof = (
                    facts.filter(pl.col("performance_level").is_in(levels))
                    .group_by(["geo", *[c for c in chosen if c != "performance_level"]])
                    .agg(pl.col("n").sum())
                    .with_columns(performance_level=pl.lit(code))
                    .with_columns([pl.lit(ALL).alias(d) for d in dims if d not in chosen])
                )
                parts.append(prof.select("geo", *dims, "n"))
    counts = pl.concat(parts) if parts else pl.DataFrame()
    rows = grid.join(counts, on=["geo", *dims], how="left").with_columns(
        value=pl.col("n").fill_null(0).cast(pl.Int64)
    )
    rows = rows.drop("n")

    key_parts: list[pl.Expr] = [pl.lit(f"{population}:{request.school_year}|"), pl.col("geo")]
    key_parts.append(pl.lit("|"))
    fixed = dict(request.fixed_dimensions)
    for name in sorted([*dims, *fixed]):
        if name in fixed:
            key_parts.append(pl.lit(f"{name}={fixed[name]};"))
        else:
            key_parts.append(
                pl.when(pl.col(name) != ALL)
                .then(pl.lit(f"{name}=") + pl.col(name) + pl.lit(";"))
                .otherwise(pl.lit(""))
            )
    rows = rows.with_columns(cell_key=pl.concat_str(key_parts))

    rate_dim = rate_dimension(request)
    if rate_dim is not None:
        others = ["geo", *[d for d in dims if d != rate_dim]]
        denom = rows.filter(pl.col(rate_dim) == ALL).select(
            *others,
            pl.col("cell_key").alias("denominator_key"),
            pl.col("value").alias("denominator"),
        )
        rows = rows.join(denom, on=others, how="left").with_columns(
            denominator_key=pl.when(pl.col(rate_dim) == ALL)
            .then(None)
            .otherwise(pl.col("denominator_key")),
            denominator=pl.when(pl.col(rate_dim) == ALL)
            .then(None)
            .otherwise(pl.col("denominator")),
        )
    else:
        rows = rows.with_columns(
            denominator_key=pl.lit(None, pl.String), denominator=pl.lit(None, pl.Int64)
        )

    constraints: list[tuple[str, tuple[str, ...]]] = []
    for d in dims:
        if d in NO_MARGIN:
            continue
        others = ["geo", *[o for o in dims if o != d]]
        sums = [(ALL, _sum_codes(d))]
        if d == "performance_level" and request.proficiency_only:
            sums = [(ALL, [NOT_PROFICIENT, PROFICIENT])]
        elif d == "performance_level":
            sums.append((PROFICIENT, ["3", "4"]))
        for parent_code, child_codes in sums:
            parents = rows.filter(pl.col(d) == parent_code).select(
                *others, pl.col("cell_key").alias("parent")
            )
            kids = (
                rows.filter(pl.col(d).is_in(child_codes))
                .group_by(others, maintain_order=True)
                .agg(pl.col("cell_key").alias("children"))
            )
            joined = parents.join(kids, on=others, how="inner")
            constraints.extend(
                (p, tuple(c))
                for p, c in zip(
                    joined["parent"].to_list(), joined["children"].to_list(), strict=True
                )
            )

    sort_cols = [c for c in geo_columns(geo) if c in rows.columns]
    rows = rows.with_columns(
        [
            pl.col(d).replace_strict(_order_map(d), return_dtype=pl.Int32).alias(f"_o_{d}")
            for d in dims
        ]
    ).sort([*sort_cols, *[f"_o_{d}" for d in dims]])
    rows = rows.drop([f"_o_{d}" for d in dims])
    return TableLayout(request, rows, tuple(constraints), dims)


def _display_codes(dim: str) -> list[str]:
    """Every code a table may carry for `dim`, in display order (both kinds of level rows)."""
    codes = _margin_codes(dim)
    if dim == "performance_level":
        codes.insert(codes.index(PROFICIENT), NOT_PROFICIENT)
    return codes


def _order_map(dim: str) -> dict[str, int]:
    return {c: i for i, c in enumerate(_display_codes(dim))}


def hide_required(layout: TableLayout, policy: Policy) -> set[str]:
    """Cells that must be hidden whatever else is shown: counts behind coded or hidden rates.

    A 0% or 100% outcome, or one near it, tells (nearly) every member's outcome; a rate over a
    group below the minimum does too. The policy codes such rates; their numerators are hidden
    here and complementary suppression keeps them from being recomputed. Remembered per layout
    object (`_kept`: layouts are immutable and reused for every custom table of a year).
    """
    return set(_kept(layout, "_hide_required", policy, _hide_required))


def _hide_required(layout: TableLayout, policy: Policy) -> frozenset[str]:
    """`hide_required`, worked out: every rate at once (`hides_counts`; row by row, the
    first release of a scale-1 year spent 0.15 s on assessment's district tables alone,
    before its first part could be protected)."""
    rows = layout.rows.filter(pl.col("denominator").is_not_null())
    if rows.height == 0:
        return frozenset()
    if rows["value"].null_count():  # a rate with no count: `code_rate` says what is wrong
        bad = rows.filter(pl.col("value").is_null()).row(0, named=True)
        code_rate(bad["value"], int(bad["denominator"]), policy)
    hide = hides_counts(rows["value"].to_numpy(), rows["denominator"].to_numpy(), policy)
    return frozenset(rows["cell_key"].filter(pl.Series(hide)).to_list())


@dataclass(frozen=True)
class ProtectedTable:
    """A table as it may be published: no hidden or coded count is present in any column.

    data columns: geography (`district_id`, `district_name`, `school_id`, `school_name` as
    applicable), one column per dimension (codes; "All" for margins) and `<dim>_label`,
    `count` (Int64, null when hidden), `count_display` (digits or "*"), `rate` (percent 0-100,
    Float64, null when hidden, coded or not applicable), `rate_display` ("85.2%", "*", ">=95%"
    or "" when the row has no rate), `denominator_display`, `status` (shown, suppressed_small,
    suppressed_complement, coded), `reason`; staff tables add `fte`.
    """

    request: TableRequest
    release_id: str
    title: str
    data: pl.DataFrame
    footnotes: tuple[str, ...]
    noise: object | None = None
    dimensions: tuple[str, ...] = field(default=())

    def csv_columns(self) -> list[str]:
        """Columns written to CSV, in order (numeric columns replaced by their displays)."""
        geo = [c for c in geo_columns(self.request.geography) if c in self.data.columns]
        dims: list[str] = []
        for d in self.dimensions:
            dims.extend([d, f"{d}_label"])
        tail = ["count", "rate", "denominator", "status", "reason"]
        if "fte" in self.data.columns:
            tail.insert(1, "fte")
        for after, noise_col in (("count", "moe"), ("rate", "rate_moe")):
            if noise_col in self.data.columns:  # noisy tables (privacy.noisy_release)
                tail.insert(tail.index(after) + 1, noise_col)
        return [*geo, *dims, *tail]

    def to_csv_bytes(self) -> bytes:
        """The table as tidy CSV, exactly the bytes `edudash export` writes.

        Format: leading comment lines starting with "# " carry the title, the release id and
        the footnotes (declared as `dialect.commentChar` in the datapackage); then one header
        row and one row per cell. `count` holds an integer or "*", `rate` a percentage such as
        "85.2%", "*", a coded range such as ">=95%", or "" when the row has no rate. Every cell
        that starts with = + - @ or a control character is prefixed with a quote (') so a
        spreadsheet never evaluates it.
        """
        out = io.StringIO()
        for line in (self.title, f"release_id: {self.release_id}", *self.footnotes):
            out.write("# " + " ".join(neutralise(line).split()) + "\n")
        writer = csv.writer(out, lineterminator="\n")
        columns = self.csv_columns()
        writer.writerow(columns)
        source = {
            "count": "count_display",
            "rate": "rate_display",
            "denominator": "denominator_display",
        }
        # Published status and reason never tell a cell hidden as small from one hidden as a
        # complement: that difference alone tells an attacker which hidden cells are 1-9 and
        # which are 0 or 10+, and undoes the suppression.
        hidden = pl.col("status").is_in([SUPPRESSED_SMALL, SUPPRESSED_COMPLEMENT])
        public = {
            "status": pl.when(hidden).then(pl.lit(PUBLIC_SUPPRESSED)).otherwise(pl.col("status")),
            "reason": pl.when(hidden)
            .then(pl.lit(PUBLIC_HIDDEN_REASON))
            .otherwise(pl.col("reason")),
        }
        frame = self.data.select(
            [
                (
                    public[c]
                    if c in public
                    else pl.col(source.get(c, c))
                    if c != "fte"
                    else pl.col("fte").round(2)
                )
                .cast(pl.String)
                .fill_null("")
                .alias(c)
                for c in columns
            ]
        )
        for row in frame.iter_rows():
            writer.writerow([neutralise(v) for v in row])
        return out.getvalue().encode("utf-8")

    def chart_frame(self) -> pl.DataFrame:
        """Rows for plotting: `count`/`rate` null when hidden or coded, `marker` says why.

        marker: "" (shown), "suppressed" (hidden; draw no bar) or "coded" (rate only as a
        range, in `rate_display`). `count_display` / `rate_display` are safe for hover text.
        """
        geo = [c for c in geo_columns(self.request.geography) if c in self.data.columns]
        dims: list[str] = []
        for d in self.dimensions:
            dims.extend([d, f"{d}_label"])
        extra = [c for c in ("fte", "moe", "rate_moe") if c in self.data.columns]
        return self.data.select(
            *geo,
            *dims,
            "count",
            "rate",
            *extra,
            "count_display",
            "rate_display",
            pl.when(pl.col("status") == SHOWN)
            .then(pl.lit(""))
            .when(pl.col("status") == CODED)
            .then(pl.lit("coded"))
            .otherwise(pl.lit("suppressed"))
            .alias("marker"),
        )


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def neutralise(value: object) -> str:
    """A cell as text that no spreadsheet will evaluate as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def table_title(request: TableRequest) -> str:
    """A plain-language title from the request (filters included)."""
    parts = [
        MEASURE_TITLES[request.measure] + (" (proficiency)" if request.proficiency_only else "")
    ]
    by = [DIMENSION_TITLES[d] for d in request.dimensions]
    parts.append(f"by {request.geography}" + (" and " + ", ".join(by) if by else ""))
    for name, value in request.filters:
        if name in ("district_id", "school_id"):
            parts.append(f"{name.replace('_id', '')} {value}")
        else:
            parts.append(f"{DIMENSION_TITLES.get(name, name)}: {code_label(name, value)}")
    return ", ".join(parts) + f", {request.school_year}"


def footnotes(request: TableRequest, policy: Policy, build_id: str) -> tuple[str, ...]:
    """Standard footnotes: markers, the counting rule and the build the release came from."""
    notes = [
        "All = total over that column.",
        f"* = hidden to protect student privacy: fewer than {policy.min_cell} students, or "
        "hidden so that a small count cannot be worked out from other published numbers.",
        "A rate such as <=5% or >=95% is coded because it lies near 0% or 100% for a group of "
        "its size; the counts behind it are hidden.",
        COUNTING_RULES[request.measure],
        f"Warehouse build {build_id}.",
    ]
    if request.measure == "staff":
        notes = [notes[0], notes[3], notes[4]]
    return tuple(notes)


def render_table(
    layout: TableLayout,
    statuses: Mapping[str, str],
    units: pl.DataFrame,
    policy: Policy,
    release_id: str,
    build_id: str,
) -> ProtectedTable:
    """Turn a laid-out table and the status of every cell into a publishable table.

    statuses: cell_key -> shown | suppressed_small | suppressed_complement (from protection or
    the registry). A hidden numerator whose rate the policy codes gets status `coded` with the
    range as its rate (only when the denominator is shown). A rate is shown exactly only when
    its numerator and denominator are both shown.
    """
    request = layout.request
    rows = layout.rows
    keys = rows["cell_key"].to_list()
    values = rows["value"].to_list()
    dkeys = rows["denominator_key"].to_list()
    dens = rows["denominator"].to_list()
    out_status, count, count_display, rate, rate_display, den_display, reason = (
        [],
        [],
        [],
        [],
        [],
        [],
        [],
    )
    small_reason = REASONS[SUPPRESSED_SMALL].format(min_cell=policy.min_cell)
    for key, value, dkey, den in zip(keys, values, dkeys, dens, strict=True):
        status = statuses[key]
        shown = status == SHOWN
        coded = None
        den_shown = dkey is not None and statuses[dkey] == SHOWN
        if dkey is not None:
            coded = code_rate(int(value), int(den), policy)
        if not shown and coded is not None and coded.coded and den_shown:
            # a range is published only over a shown group size (what the attacker is told
            # in privacy.release.rate_bounds); small or not, the count stays hidden
            status = CODED
        out_status.append(status)
        count.append(int(value) if shown else None)
        count_display.append(str(int(value)) if shown else HIDDEN_MARK)
        if dkey is None:
            rate.append(None)
            rate_display.append("")
            den_display.append("")
        else:
            den_display.append(str(int(den)) if den_shown else HIDDEN_MARK)
            if shown and den_shown and coded is not None and coded.value is not None:
                rate.append(round(coded.value, 1))
                rate_display.append(coded.display)
            elif status == CODED and den_shown:
                rate.append(None)
                rate_display.append(coded.display)
            else:
                rate.append(None)
                rate_display.append(HIDDEN_MARK)
        if status == SUPPRESSED_SMALL:
            reason.append(small_reason)
        elif status == CODED:
            reason.append(coded.reason + "; its counts are hidden")
        else:
            reason.append(REASONS[status])
    geo_cols = list(geo_columns(request.geography))
    data = rows.select(geo_cols)
    label_cols = []
    for d in layout.dimensions:
        mapping = {c: code_label(d, c) for c in _display_codes(d)}
        label_cols.extend(
            [rows[d], rows[d].replace_strict(mapping, return_dtype=pl.String).alias(f"{d}_label")]
        )
    data = pl.concat(
        [
            data,
            pl.DataFrame(label_cols),
            pl.DataFrame(
                {
                    "count": pl.Series(count, dtype=pl.Int64),
                    "count_display": pl.Series(count_display, dtype=pl.String),
                    "rate": pl.Series(rate, dtype=pl.Float64),
                    "rate_display": pl.Series(rate_display, dtype=pl.String),
                    "denominator_display": pl.Series(den_display, dtype=pl.String),
                    "status": pl.Series(out_status, dtype=pl.String),
                    "reason": pl.Series(reason, dtype=pl.String),
                }
            ),
        ],
        how="horizontal",
    )
    return ProtectedTable(
        request=request,
        release_id=release_id,
        title=table_title(request),
        data=data,
        footnotes=footnotes(request, policy, build_id),
        dimensions=layout.dimensions,
    )


def staff_table(
    request: TableRequest,
    counts: pl.DataFrame,
    units: pl.DataFrame,
    policy: Policy,
    release_id: str,
    build_id: str,
) -> ProtectedTable:
    """Staff headcount and FTE (open records: shown as counted; no SSN or name is read)."""
    dims = request.table_dimensions
    frame = counts.with_columns([pl.col(d).fill_null(ALL) for d in dims])
    if request.geography == "district":
        names = units.select("district_id", "district_name").unique()
        frame = frame.join(names, on="district_id", how="left")
    elif request.geography == "school":
        frame = frame.join(
            units.select("school_id", "district_name", "school_name"), on="school_id", how="left"
        )
    geo = list(geo_columns(request.geography))
    for d in dims:
        frame = frame.with_columns(
            pl.col(d)
            .replace_strict(_order_map(d), default=999, return_dtype=pl.Int32)
            .alias(f"_o_{d}")
        )
    frame = frame.sort([*geo[:1], *geo[2:3], *[f"_o_{d}" for d in dims]])
    labels = [
        frame[d]
        .replace_strict({c: code_label(d, c) for c in _display_codes(d)}, default=frame[d])
        .alias(f"{d}_label")
        for d in dims
    ]
    n = frame.height
    dim_cols: list[pl.Series] = []
    for d, lab in zip(dims, labels, strict=True):
        dim_cols.extend([frame[d], lab])
    data = pl.concat(
        [
            frame.select(geo),
            pl.DataFrame(dim_cols) if dim_cols else pl.DataFrame(),
            pl.DataFrame(
                {
                    "count": frame["headcount"].cast(pl.Int64),
                    "fte": frame["fte"].cast(pl.Float64),
                    "count_display": frame["headcount"].cast(pl.String),
                    "rate": pl.Series([None] * n, dtype=pl.Float64),
                    "rate_display": pl.Series([""] * n, dtype=pl.String),
                    "denominator_display": pl.Series([""] * n, dtype=pl.String),
                    "status": pl.Series([SHOWN] * n, dtype=pl.String),
                    "reason": pl.Series([STAFF_REASON] * n, dtype=pl.String),
                }
            ),
        ],
        how="horizontal",
    )
    return ProtectedTable(
        request=request,
        release_id=release_id,
        title=table_title(request),
        data=data,
        footnotes=footnotes(request, policy, build_id),
        dimensions=dims,
    )
