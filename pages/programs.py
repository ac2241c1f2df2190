"""Program participation: English learners, migrant, Title I, CTE, special education, homeless.

A participation rate is the share of enrolled students of the group in the program; each comes
from the public release's `programs_<geography>_<program>` table.
"""

from __future__ import annotations

import streamlit as st

import privacy
from dashboard import caching, charts, downloads, filters
from dashboard.labels import PROGRAM_LABELS
from dashboard.tables import Column, pick, show_table
from dashboard.trends import show_trend
from privacy.tables import DIMENSION_TITLES

PROGRAMS = {
    flag: PROGRAM_LABELS.get(flag, DIMENSION_TITLES[flag].capitalize())
    for flag in (
        e.request.dimensions[0]
        for e in privacy.public_catalogue()
        if e.name.startswith("programs_state_")
    )
}
GEOGRAPHIES = {"state": "Statewide", "district": "By district", "school": "By school"}

st.title("Programs")
st.caption(
    "Share of enrolled students taking part in each state and federal program; a student "
    "without a participation record counts as not participating."
)

c1, c2, c3 = filters.filter_row(3)
year = filters.year_select(container=c1)
program = filters.select(
    "Program", list(PROGRAMS), key="program", format_func=PROGRAMS.get, container=c2
)
geo = filters.select(
    "Geography", list(GEOGRAPHIES), key="geo", format_func=GEOGRAPHIES.get, container=c3
)

release = caching.public_release(year)
st.subheader(f"Statewide participation, {year}")
statewide = [pick(release.table(f"programs_state_{p}"), **{p: "true"}) for p in PROGRAMS]
overview = charts.stacked_chart_frame(
    {PROGRAMS[p]: t for p, t in zip(PROGRAMS, statewide, strict=True)}, "program"
)
charts.show_chart(
    overview,
    charts.ChartSpec(
        x="program",
        value="rate",
        title=f"Percent of students in each program, {year}",
        x_title="Program",
        value_title="Percent of enrolled students",
    ),
    key="pr_overview_chart",
)

st.subheader(f"{PROGRAMS[program]}: {GEOGRAPHIES[geo].lower()}")
table = pick(
    caching.public_table(year, f"programs_{geo}_{program}"),
    note="participants",
    **{program: "true"},
)
if geo != "state":
    unit = "district_name" if geo == "district" else "school_name"
    charts.show_chart(
        table.chart_frame(),
        charts.ChartSpec(
            x=unit,
            value="rate",
            title=f"{PROGRAMS[program]} participation by {'district' if geo == 'district' else 'school'}, {year}",
            x_title="District" if geo == "district" else "School",
            value_title="Percent of enrolled students",
        ),
        key="pr_unit_chart",
    )
geo_cols = [
    Column(c, c.replace("_name", "").capitalize())
    for c in ("district_name", "school_name")
    if c in table.data.columns
]
show_table(
    table,
    columns=[
        *geo_cols,
        Column("count_display", "Participants"),
        Column("rate_display", "Participation rate"),
        Column("denominator_display", "Enrolled"),
    ],
    key="pr_table",
)
downloads.download_button(table, key="pr_dl")

if geo == "state":
    st.subheader("Participation over time")
    with st.spinner("Loading every year's protected release..."):
        trend = [
            pick(
                caching.public_table(y, f"programs_state_{program}"),
                note="participants",
                **{program: "true"},
            )
            for y in caching.years()
        ]
    show_trend(
        trend,
        charts.ChartSpec(
            x="school_year",
            value="rate",
            title=f"{PROGRAMS[program]} participation statewide",
            x_title="School year",
            value_title="Percent of enrolled students",
        ),
        [Column("count_display", "Participants"), Column("rate_display", "Participation rate")],
        caption=f"{PROGRAMS[program]} participation statewide by school year",
        key="pr_trend",
        name=f"programs_state_{program}",
    )
