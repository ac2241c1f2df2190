"""Trend blocks shown on more than one page (chart, table and download of yearly releases)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from dashboard import charts, downloads
from dashboard.tables import Column, show_trend_table, with_year
from privacy import ProtectedTable


def show_graduation_trend(trend: Sequence[ProtectedTable], *, key: str, name: str) -> None:
    """The four-year graduation rate by cohort year: chart, table and CSV download.

    trend: one protected graduation table per year (from the privacy layer); hidden and coded
    rates stay hidden or coded in all three.
    """
    charts.show_chart(
        pl.concat([with_year(t) for t in trend]),
        charts.ChartSpec(
            x="school_year",
            value="rate",
            title="Four-year graduation rate (regular diploma)",
            x_title="Cohort's graduation year",
            value_title="Percent of cohort",
        ),
        kind="trend",
        key=f"{key}_chart",
    )
    show_trend_table(
        trend,
        [Column("rate_display", "Graduation rate"), Column("denominator_display", "Cohort")],
        caption="Four-year graduation rate by cohort year",
        key=f"{key}_table",
    )
    downloads.download_zip(trend, key=f"{key}_dl", name=name)
