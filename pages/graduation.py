"""Four-year graduation: the regular-diploma rate by subgroup and its trend, from the public release."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import caching, charts, downloads, filters
from dashboard.labels import ONE_UNIT_GEOGRAPHIES as GEOGRAPHIES
from dashboard.labels import SUBGROUP_LABELS as SUBGROUPS
from dashboard.tables import Column, pick, show_table
from dashboard.trends import show_graduation_trend

DIPLOMA = "REGULAR_DIPLOMA"

st.title("Graduation")
st.caption(
    "Four-year cohort outcomes: the school year is the year the cohort was due to graduate; "
    "the graduation rate is the share of the cohort with a regular diploma."
)

c1, c2, c3 = filters.filter_row(3)
year = filters.year_select(container=c1, label="Cohort's graduation year")
geo = filters.select(
    "Geography", list(GEOGRAPHIES), key="geo", format_func=GEOGRAPHIES.get, container=c2
)
subgroup = filters.select(
    "Subgroup", list(SUBGROUPS), key="subgroup", format_func=SUBGROUPS.get, container=c3
)

name = f"graduation_{geo}" + ("" if subgroup == "none" else f"_{subgroup}")
table = caching.public_table(year, name)
unit_codes: dict[str, str] = {}
unit_col = {"district": "district_id", "school": "school_id"}.get(geo)
if unit_col:
    name_col = unit_col.replace("_id", "_name")
    units = dict(table.data.select(unit_col, name_col).unique().sort(name_col).iter_rows())
    if not units:
        st.info("No graduation cohort in this year.")
        st.stop()
    unit = filters.select(
        "District" if geo == "district" else "School",
        list(units),
        key="unit",
        format_func=lambda u: units.get(u, u),
    )
    unit_codes = {unit_col: unit}
    table = pick(table, note=units.get(unit, unit), **unit_codes)

rates = table.chart_frame().filter(pl.col("outcome") == DIPLOMA)
if subgroup == "none":
    spec = charts.ChartSpec(
        x="outcome_label",
        value="rate",
        title=f"Cohort outcomes, {year}",
        x_title="Outcome",
        value_title="Percent of cohort",
    )
    chart_rows = table.chart_frame().filter(pl.col("outcome") != "All")
else:
    spec = charts.ChartSpec(
        x=f"{subgroup}_label",
        value="rate",
        title=f"Four-year graduation rate by {SUBGROUPS[subgroup].lower()}, {year}",
        x_title=SUBGROUPS[subgroup],
        value_title="Graduation rate (regular diploma)",
    )
    chart_rows = rates
charts.show_chart(chart_rows, spec, key="gr_chart")

columns = [
    *([Column(f"{subgroup}_label", SUBGROUPS[subgroup])] if subgroup != "none" else []),
    Column("outcome_label", "Outcome"),
    Column("count_display", "Students"),
    Column("rate_display", "Percent of cohort"),
    Column("denominator_display", "Cohort"),
]
show_table(table, columns=columns, key="gr_table")
downloads.download_button(table, key="gr_dl", name=None if unit_codes else name)

st.header("Graduation rate over time")
with st.spinner("Loading every year's protected release..."):
    trend = [
        pick(
            caching.public_table(y, f"graduation_{geo}"),
            note="regular diploma",
            outcome=DIPLOMA,
            **unit_codes,
        )
        for y in caching.years()
    ]
show_graduation_trend(trend, key="gr_trend", name=f"graduation_{geo}")
