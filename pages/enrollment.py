"""Enrollment by district and school, grade, race/ethnicity and gender, from the public release."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import caching, charts, downloads, filters
from dashboard.tables import default_columns, pick, show_table

BREAKDOWNS = {"grade": "Grade", "race_ethnicity": "Race/ethnicity", "gender": "Gender"}
GEOGRAPHIES = {"state": "Statewide", "district": "By district", "school": "By school"}
ALL_DISTRICTS = "all"

st.title("Enrollment")
st.caption("Students enrolled in Maine public schools (each student counted once per year).")

c1, c2, c3 = filters.filter_row(3)
year = filters.year_select(container=c1)
geo = filters.select(
    "Geography", list(GEOGRAPHIES), key="geo", format_func=GEOGRAPHIES.get, container=c2
)
by = filters.select(
    "Break down by", list(BREAKDOWNS), key="by", format_func=BREAKDOWNS.get, container=c3
)

table = caching.public_table(year, f"enrollment_{geo}_{by}")
district = ALL_DISTRICTS
if geo != "state":
    names = dict(
        table.data.select("district_id", "district_name").unique().sort("district_name").iter_rows()
    )
    options = ([ALL_DISTRICTS] if geo == "district" else []) + list(names)
    district = filters.select(
        "District",
        options,
        key="district",
        format_func=lambda d: "All districts" if d == ALL_DISTRICTS else names.get(d, d),
    )
    if district != ALL_DISTRICTS:
        table = pick(table, note=f"district {names.get(district, district)}", district_id=district)

label = f"{by}_label"
frame = table.chart_frame()
if geo == "state" or (geo == "district" and district != ALL_DISTRICTS):
    spec = charts.ChartSpec(
        x=label,
        value="count",
        title=f"Students by {BREAKDOWNS[by].lower()}, {year}",
        x_title=BREAKDOWNS[by],
        value_title="Students",
    )
    chart_rows = frame.filter(pl.col(by) != "All")
else:
    unit = "district_name" if geo == "district" else "school_name"
    spec = charts.ChartSpec(
        x=unit,
        value="count",
        title=f"Students by {'district' if geo == 'district' else 'school'}, {year}",
        x_title="District" if geo == "district" else "School",
        value_title="Students",
    )
    chart_rows = frame.filter(pl.col(by) == "All")
charts.show_chart(chart_rows, spec, key="enr_chart")

show_table(
    table,
    columns=default_columns(table, dimension_titles={by: BREAKDOWNS[by]}),
    key="enr_table",
)
downloads.download_button(
    table, key="enr_dl", name=None if district != ALL_DISTRICTS else f"enrollment_{geo}_{by}"
)
st.caption(
    "The CSV holds exactly the rows above, with the table's notes and its release id "
    "(the same format as `edudash export`)."
)
