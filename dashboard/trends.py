"""Trend blocks shown on more than one page (chart, table and download of yearly releases)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from dashboard import charts, downloads
from dashboard.tables import Column, show_trend_table, with_year
from privacy import ProtectedTable


def show_trend(
    trend: Sequence[ProtectedTable],
    spec: charts.ChartSpec,
    columns: Sequence[Column],
    *,
    caption: str,
    key: str,
    name: str,
) -> None:
    """One value over the years: chart, table and a zip of the yearly CSVs.

    trend: one protected table per year (from the privacy layer, already picked down to the
    rows to draw); hidden and coded values stay hidden or coded in all three. Widget keys are
    `<key>_chart`, `<key>_table` and `<key>_dl`.
    """
    charts.show_chart(
        pl.concat([with_year(t) for t in trend]), spec, kind="trend", key=f"{key}_chart"
    )
    show_trend_table(trend, list(columns), caption=caption, key=f"{key}_table")
    downloads.download_zip(trend, key=f"{key}_dl", name=name)


def show_graduation_trend(trend: Sequence[ProtectedTable], *, key: str, name: str) -> None:
    """The four-year graduation rate by cohort year (see `show_trend`)."""
    show_trend(
        trend,
        charts.ChartSpec(
            x="school_year",
            value="rate",
            title="Four-year graduation rate (regular diploma)",
            x_title="Cohort's graduation year",
            value_title="Percent of cohort",
        ),
        [Column("rate_display", "Graduation rate"), Column("denominator_display", "Cohort")],
        caption="Four-year graduation rate by cohort year",
        key=key,
        name=name,
    )
