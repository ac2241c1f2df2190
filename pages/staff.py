"""Staff: headcount and FTE by role and by assignment subject (open records; no name, no SSN).

Staff assignments are open records under FOAA, so staff counts are shown as counted; the
privacy layer never reads a staff name or Social Security Number for these tables.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

import privacy
from dashboard import caching, charts, downloads, filters
from dashboard.tables import Column, pick, show_table

GEOGRAPHIES = {"state": "Statewide", "district": "By district", "school": "By school"}
VIEWS = {"role": "Role", "assignment_subject": "Assignment subject"}

st.title("Staff")
st.caption(
    "Staff headcount (distinct people) and full-time equivalents. Staff assignment records are "
    "open records; Social Security Numbers are never published."
)

c1, c2, c3 = filters.filter_row(3)
year = filters.year_select(container=c1)
view = filters.select("Count by", list(VIEWS), key="view", format_func=VIEWS.get, container=c2)
geo = filters.select(
    "Geography", list(GEOGRAPHIES), key="geo", format_func=GEOGRAPHIES.get, container=c3
)

if view == "role":
    table = caching.public_table(year, f"staff_{geo}_role")
else:
    table = caching.open_records_table(
        privacy.TableRequest("staff", year, geo, ("assignment_subject",))
    )
if geo != "state":
    names = dict(
        table.data.select("district_id", "district_name").unique().sort("district_name").iter_rows()
    )
    district = filters.select(
        "District", list(names), key="district", format_func=lambda d: names.get(d, d)
    )
    table = pick(table, note=names.get(district, district), district_id=district)

label = f"{view}_label"
frame = table.chart_frame().filter(pl.col(view) != "All")
if geo == "school":
    series = "school_name"
else:
    series = None
charts.show_chart(
    frame,
    charts.ChartSpec(
        x=label,
        value="count",
        series=series,
        title=f"Staff headcount by {VIEWS[view].lower()}, {year}",
        x_title=VIEWS[view],
        value_title="Staff (headcount)",
        count_label="Staff",
    ),
    key="st_chart",
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
        Column(label, VIEWS[view]),
        Column("count_display", "Staff (headcount)"),
        Column("fte", "FTE"),
    ],
    key="st_table",
)
downloads.download_button(table, key="st_dl")
