"""Render protected tables: only display columns reach `st.dataframe`, with caption and footnotes.

A page picks rows of a `ProtectedTable` (row filtering only: no page computes a statistic) and
shows them through `show_table`. Counts appear as `count_display` (digits or "*"), rates as
`rate_display` (e.g. "85.2%", ">=95%", "*"); the numeric `count`/`rate` columns never reach
the browser's table (whose toolbar can download what it shows). The footnote for "*" and for
coded ranges is printed whenever such a cell is on screen.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pandas  # noqa: F401  (see below)
import polars as pl
import streamlit as st

from privacy import ProtectedTable

# `st.dataframe` takes the table through pandas, which pyarrow imports on first use: about
# 0.2 s, paid here with the page's other imports rather than by the first table a user builds.

HIDDEN_FOOTNOTE = "\\* fewer than 10 students, or hidden so that a small group cannot be worked out"
CODED_FOOTNOTE = (
    "A rate shown as a range (such as <=5% or >=95%) lies near 0% or 100% for a group of its "
    "size; the exact rate and the counts behind it are hidden."
)
# Display labels of columns that hold student counts (the tests check none shows 1..9).
STUDENT_COUNT_LABELS: frozenset[str] = frozenset(
    {"Students", "Tested", "Cohort", "Group size", "Participants", "Enrolled"}
)
STAFF_COUNT_LABELS: frozenset[str] = frozenset({"Staff (headcount)", "FTE"})

_NUMERIC_SOURCES = (
    "count_display",
    "rate_display",
    "denominator_display",
    "fte",
    "moe",
    "rate_moe",
)
GEO_LABELS = {
    "district_id": "District ID",
    "district_name": "District",
    "school_id": "School ID",
    "school_name": "School",
}


@dataclasses.dataclass(frozen=True)
class Column:
    """One displayed column: `source` is a display column of the protected table."""

    source: str
    label: str


SAFE_SOURCES = frozenset(
    {
        *GEO_LABELS,
        "count_display",
        "rate_display",
        "denominator_display",
        "fte",
        "moe",
        "rate_moe",
        "reason",
        "school_year",
    }
)


def default_columns(
    table: ProtectedTable,
    *,
    count_label: str = "Students",
    rate_label: str = "Rate",
    denominator_label: str | None = None,
    dimension_titles: dict[str, str] | None = None,
    with_ids: bool = False,
) -> list[Column]:
    """Geography names, dimension labels, then count, rate and group size (if the table has rates)."""
    titles = dimension_titles or {}
    cols: list[Column] = []
    for c in ("district_id", "district_name", "school_id", "school_name"):
        if c in table.data.columns and (with_ids or not c.endswith("_id")):
            cols.append(Column(c, GEO_LABELS[c]))
    for d in table.dimensions:
        cols.append(Column(f"{d}_label", titles.get(d, d.replace("_", " ").capitalize())))
    cols.append(Column("count_display", count_label))
    if "moe" in table.data.columns:
        cols.append(Column("moe", "± margin (95%)"))
    if "fte" in table.data.columns:
        cols.append(Column("fte", "FTE"))
    if (table.data["rate_display"] != "").any():
        cols.append(Column("rate_display", rate_label))
        if denominator_label:
            cols.append(Column("denominator_display", denominator_label))
    return cols


def subset(table: ProtectedTable, rows: pl.DataFrame, note: str = "") -> ProtectedTable:
    """The same protected table restricted to `rows` (a row filter of `table.data`).

    Its CSV is exactly these rows in the `edudash export` format, with the table's footnotes
    and release id; the title says which selection it is.
    """
    if rows.columns != table.data.columns:
        raise ValueError("a subset must keep every column of the protected table")
    title = table.title + (f" ({note})" if note else "")
    return dataclasses.replace(table, data=rows, title=title)


def display_frame(rows: pl.DataFrame, columns: Sequence[Column]) -> pl.DataFrame:
    """The displayed frame: only safe display columns, all as text (hidden cells are "*")."""
    out = []
    for col in columns:
        if col.source not in SAFE_SOURCES and not col.source.endswith("_label"):
            raise ValueError(f"column {col.source!r} is not a display column of a protected table")
        series = rows[col.source]
        if col.source in ("fte", "rate_moe"):
            series = series.round(1).cast(pl.String).fill_null("")
        out.append(series.cast(pl.String).fill_null("").alias(col.label))
    return pl.DataFrame(out) if out else pl.DataFrame()


def show_table(
    table: ProtectedTable,
    *,
    columns: Sequence[Column] | None = None,
    caption: str | None = None,
    key: str | None = None,
    height: int | str = "auto",
) -> pl.DataFrame:
    """Show a protected table (or a `subset`) with its caption, markers footnote and notes.

    Returns the displayed frame (text only), which is also what the CSV download holds.
    """
    cols = list(columns) if columns is not None else default_columns(table)
    shown = display_frame(table.data, cols)
    noise_banner(table)
    st.dataframe(
        shown.to_pandas(),
        hide_index=True,
        width="stretch",
        height=height,
        key=key,
        column_config={
            c.label: st.column_config.TextColumn(c.label, alignment="right")
            for c in cols
            if c.source in _NUMERIC_SOURCES
        },
    )
    st.caption(f"Table: {caption or table.title}. Release {table.release_id}.")
    markers = set()
    for c in cols:
        if c.source in ("count_display", "rate_display", "denominator_display"):
            values = set(table.data[c.source].to_list())
            if "*" in values:
                markers.add("hidden")
            if any(
                isinstance(v, str) and (v.startswith("<=") or v.startswith(">=")) for v in values
            ):
                markers.add("coded")
    if "hidden" in markers:
        st.caption(HIDDEN_FOOTNOTE)
    if "coded" in markers:
        st.caption(CODED_FOOTNOTE)
    with st.expander("Notes and source"):
        for note in table.footnotes:
            st.markdown(f"- {_escape(note)}")
        st.markdown(f"- Release: `{table.release_id}`")
    return shown


def noise_banner(table: ProtectedTable) -> None:
    """When noise is on, say so and give the margin of error the privacy layer reports."""
    noise = table.noise
    if noise is None:
        return
    moe = margin_of_error(table)
    text = "Noise is on: counts in this table include random noise to protect privacy."
    if moe is not None:
        text += f" Margin of error: about ±{moe:g} students (95%)."
    described = getattr(noise, "description", None)
    if described:
        text += f" {described}"
    st.info(text)


def margin_of_error(table: ProtectedTable) -> float | None:
    """The 95% margin of error of a noisy table's counts, as the privacy layer states it."""
    noise = table.noise
    if noise is None:
        return None
    for attr in ("margin_of_error", "moe", "margin"):
        value = getattr(noise, attr, None)
        if callable(value):
            try:
                value = value()
            except TypeError:
                value = None
        if isinstance(value, int | float):
            return float(value)
    return None


def _escape(text: str) -> str:
    return text.replace("*", "\\*").replace("<", "&lt;").replace(">", "&gt;")


def pick(table: ProtectedTable, note: str = "", **codes: str | Sequence[str]) -> ProtectedTable:
    """The rows of `table` whose columns equal (or are in) the given codes, as a `subset`.

    E.g. `pick(t, grade="All")` or `pick(t, district_id="1001", subject=["ELA", "MATH"])`.
    """
    frame = table.data
    for column, value in codes.items():
        if isinstance(value, str):
            frame = frame.filter(pl.col(column) == value)
        else:
            frame = frame.filter(pl.col(column).is_in(list(value)))
    return subset(table, frame, note)


def with_year(table: ProtectedTable) -> pl.DataFrame:
    """`table.chart_frame()` with a `school_year` column (for trends across releases)."""
    return table.chart_frame().with_columns(school_year=pl.lit(table.request.school_year))


def show_trend_table(
    parts: Sequence[ProtectedTable],
    columns: Sequence[Column],
    *,
    caption: str,
    key: str | None = None,
) -> pl.DataFrame:
    """One displayed table over several yearly releases: a School year column, then `columns`.

    Each year's rows come from that year's protected release (its id is listed below).
    """
    frames = []
    for part in parts:
        shown = display_frame(part.data, columns)
        frames.append(shown.select(pl.lit(part.request.school_year).alias("School year"), pl.all()))
    if not frames:
        st.info("No rows for this selection.")
        return pl.DataFrame()
    out = pl.concat(frames, how="vertical")
    for part in parts:
        noise_banner(part)
        break
    st.dataframe(
        out.to_pandas(),
        hide_index=True,
        width="stretch",
        key=key,
        column_config={
            c.label: st.column_config.TextColumn(c.label, alignment="right")
            for c in columns
            if c.source in _NUMERIC_SOURCES
        },
    )
    ids = ", ".join(f"{p.request.school_year}: {p.release_id}" for p in parts)
    st.caption(f"Table: {caption}. Releases {ids}.")
    flat = set(out.drop("School year").to_numpy().ravel().tolist()) if out.width > 1 else set()
    if "*" in flat:
        st.caption(HIDDEN_FOOTNOTE)
    if any(isinstance(v, str) and v[:2] in ("<=", ">=") for v in flat):
        st.caption(CODED_FOOTNOTE)
    return out
