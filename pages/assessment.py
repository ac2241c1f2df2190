"""State assessment results: proficiency and the four performance levels by subject and subgroup.

Rows come from the public release's assessment tables (school tables have no subgroups: at
school level nearly every subgroup cell would be small). The trend is the proficient share
(levels 3 and 4) of each year's release.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import caching, charts, downloads, filters
from dashboard.labels import ONE_UNIT_GEOGRAPHIES as GEOGRAPHIES
from dashboard.labels import SUBGROUP_LABELS as SUBGROUPS
from dashboard.tables import Column, pick, show_table
from dashboard.trends import show_trend

SUBJECTS = {"ELA": "English language arts", "MATH": "Mathematics", "SCI": "Science"}

st.title("Assessment results")
st.caption(
    "Share of tested students at each performance level; proficient = levels 3 and 4. "
    "Subgroups are published statewide with every level and by district as percent "
    "proficient (levels 1 to 4 of small groups are mostly below ten students)."
)

c1, c2, c3, c4 = filters.filter_row(4)
year = filters.year_select(container=c1)
subject = filters.select(
    "Subject", list(SUBJECTS), key="subject", format_func=SUBJECTS.get, container=c2
)
geo = filters.select(
    "Geography", list(GEOGRAPHIES), key="geo", format_func=GEOGRAPHIES.get, container=c3
)
sub_options = list(SUBGROUPS) if geo != "school" else ["none"]
subgroup = filters.select(
    "Subgroup", sub_options, key="subgroup", format_func=SUBGROUPS.get, container=c4
)

name = f"assessment_{geo}" + ("" if subgroup == "none" else f"_{subgroup}")
table = caching.public_table(year, name)
unit_codes: dict[str, str] = {}
unit_col = {"district": "district_id", "school": "school_id"}.get(geo)
if unit_col:
    name_col = unit_col.replace("_id", "_name")
    units = dict(table.data.select(unit_col, name_col).unique().sort(name_col).iter_rows())
    unit = filters.select(
        "District" if geo == "district" else "School",
        list(units),
        key="unit",
        format_func=lambda u: units.get(u, u),
    )
    unit_codes = {unit_col: unit}
    table = pick(table, note=units.get(unit, unit), **unit_codes)
table = pick(table, note=SUBJECTS[subject], subject=subject)

if table.request.proficiency_only:
    # district subgroups: one bar per group, its percent proficient
    frame = table.chart_frame().filter(pl.col("performance_level") == "P34")
    spec = charts.ChartSpec(
        x=f"{subgroup}_label",
        value="rate",
        title=f"{SUBJECTS[subject]}: percent proficient (levels 3 and 4) by "
        f"{SUBGROUPS[subgroup].lower()}, {year}",
        x_title=SUBGROUPS[subgroup],
        value_title="Percent proficient",
    )
else:
    frame = table.chart_frame().filter(pl.col("performance_level").is_in(["1", "2", "3", "4"]))
    series = None if subgroup == "none" else f"{subgroup}_label"
    if series:
        frame = frame.filter(pl.col(subgroup) != "All")
    spec = charts.ChartSpec(
        x="performance_level_label",
        value="rate",
        series=series,
        title=f"{SUBJECTS[subject]}: share of tested students by performance level, {year}",
        x_title="Performance level",
        value_title="Percent of tested students",
    )
charts.show_chart(frame, spec, key="as_chart")

columns = [
    *([Column(f"{subgroup}_label", SUBGROUPS[subgroup])] if subgroup != "none" else []),
    Column("performance_level_label", "Performance level"),
    Column("count_display", "Students"),
    Column("rate_display", "Percent"),
    Column("denominator_display", "Tested"),
]
show_table(table, columns=columns, key="as_table")
downloads.download_button(table, key="as_dl")

st.header("Proficiency over time")
with st.spinner("Loading every year's protected release..."):
    trend = []
    for y in caching.years():
        t = caching.public_table(y, f"assessment_{geo}")
        trend.append(
            pick(t, note="proficient", performance_level="P34", subject=subject, **unit_codes)
        )
show_trend(
    trend,
    charts.ChartSpec(
        x="school_year",
        value="rate",
        title=f"{SUBJECTS[subject]}: percent proficient (levels 3 and 4)",
        x_title="School year",
        value_title="Percent proficient",
    ),
    [Column("rate_display", "Proficient"), Column("denominator_display", "Tested")],
    caption=f"{SUBJECTS[subject]} percent proficient by school year",
    key="as_trend",
    name=f"assessment_{geo}",
)
