"""Staff explorer: any measure, year, geography, subgroup filters and breakdowns, protected.

For signed-in MDOE staff whose stored role opens it. A table is built only when asked: it is
protected together with everything already released for its year, recorded in the release
registry and the audit trail under the user's ID, and its CSV download is audited as an export.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

import privacy
from dashboard import caching, charts, downloads, filters, session
from dashboard.tables import default_columns, show_table
from privacy.requests import RATE_DIMENSION, VALID_DIMENSIONS, dimension_codes
from privacy.tables import DIMENSION_TITLES, MEASURE_TITLES, rate_dimension

user = session.require_page("staff_explorer", "Staff explorer")

MEASURES = {m: MEASURE_TITLES[m] for m in ("enrollment", "assessment", "graduation", "programs")}
GEOGRAPHIES = {"state": "Statewide", "district": "Districts", "school": "Schools"}
ANY = "any"
ALL_DISTRICTS = "all"
RATE_ROW = {"assessment": "P34", "graduation": "REGULAR_DIPLOMA"}

st.title("Staff explorer")
st.caption(
    f"Signed in as {user.user_id} ({user.rule.label}). A table you build is protected together "
    "with everything already released for its year, then recorded in the release registry and "
    "the audit trail under your user ID. Downloads are recorded as exports."
)

c1, c2, c3 = filters.filter_row(3)
measure = filters.select(
    "Measure", list(MEASURES), key="measure", format_func=MEASURES.get, container=c1
)
year = filters.year_select(container=c2)
caching.prepare_custom_tables(year)  # in the background, while the table is being chosen
geo = filters.select(
    "Geography", list(GEOGRAPHIES), key="geo", format_func=GEOGRAPHIES.get, container=c3
)

district = ALL_DISTRICTS
if geo != "state":
    directory = caching.districts()
    names = dict(directory.select("district_id", "district_name").sort("district_name").iter_rows())
    district = filters.select(
        "District",
        [ALL_DISTRICTS, *names],
        key="district",
        format_func=lambda d: "All districts" if d == ALL_DISTRICTS else names.get(d, d),
    )

rate_dim = RATE_DIMENSION.get(measure)
choosable = [d for d in VALID_DIMENSIONS[measure] if d != rate_dim]
breakdowns = filters.choose_many(
    "Break down by (up to 3)",
    choosable,
    key="by",
    format_func=lambda d: DIMENSION_TITLES.get(d, d).capitalize(),
    max_selections=3,
    help="Programs tables need one program flag (e.g. English learner) as a breakdown.",
)
fixed: list[tuple[str, str]] = []
with st.expander("Filter to a subgroup", expanded=False):
    cols = st.columns(3)
    for i, dim in enumerate(d for d in choosable if d not in breakdowns):
        codes = dict(dimension_codes(dim))
        choice = filters.select(
            DIMENSION_TITLES.get(dim, dim).capitalize(),
            [ANY, *codes],
            key=f"f_{dim}",
            format_func=lambda c, codes=codes: "Any" if c == ANY else codes.get(c, c),
            container=cols[i % 3],
        )
        if choice != ANY:
            fixed.append((dim, choice))

request_filters = list(fixed)
if district != ALL_DISTRICTS:
    request_filters.append(("district_id", district))
try:
    request = privacy.TableRequest(
        measure, year, geo, tuple(breakdowns), tuple(sorted(request_filters))
    )
except ValueError as exc:
    st.warning(f"This combination is not a valid table: {exc}")
    st.stop()

built = st.session_state.get("ex_built_request")
if st.button("Build protected table", key="ex_build", type="primary", icon=":material/lock:"):
    st.session_state["ex_built_request"] = built = request.to_json()

if built != request.to_json():
    st.info("Choose the table, then build it. Nothing is released until you do.")
    st.stop()

try:
    slow = (
        f" (a table over every {geo} can take from several seconds to a minute)"
        if geo in ("district", "school")
        else ""
    )
    with st.spinner(f"Protecting the table together with everything already released{slow}..."):
        table = caching.custom_table(request, user)
except privacy.ReleaseRefusedError as exc:
    st.error(
        f"Not released, and nothing was recorded: this table cannot be protected together with "
        f"what is already released for {year}."
    )
    st.caption(
        "Fewer breakdowns, a coarser geography or a single district can usually be released. "
        f"The reason, for the Education Data Manager: {exc}"
    )
    st.stop()
except ValueError as exc:
    st.error(f"This table cannot be built: {exc}")
    st.stop()

st.subheader(table.title)
dims = list(table.dimensions)
frame = table.chart_frame()
share_of = rate_dimension(request)
value = "rate" if share_of else "count"
if share_of:
    frame = frame.filter(pl.col(share_of) == RATE_ROW.get(measure, "true"))
others = [d for d in breakdowns if d != share_of]
for d in others[2:]:
    frame = frame.filter(pl.col(d) == "All")
x = f"{others[0]}_label" if others else None
series = f"{others[1]}_label" if len(others) > 1 else None
if x:
    frame = frame.filter(pl.col(others[0]) != "All")
if series:
    frame = frame.filter(pl.col(others[1]) != "All")
if "subject" in dims and "subject" not in breakdowns:
    if x is None:
        x = "subject_label"
    elif series is None:
        series = "subject_label"
    else:
        frame = frame.filter(pl.col("subject") == "ELA")
place = {"district": "district_name", "school": "school_name"}.get(geo)
chartable = True
if place and x is None:
    x = place
elif place and frame.select(pl.col(place).n_unique()).item() > 1:
    if series is None:
        series = place
    else:
        chartable = False
if x is not None and chartable:
    charts.show_chart(
        frame,
        charts.ChartSpec(
            x=x,
            value=value,
            series=series,
            title=table.title,
            x_title=x.replace("_label", "").replace("_name", "").replace("_", " ").capitalize(),
            value_title="Percent" if value == "rate" else "Students",
        ),
        key="ex_chart",
    )
else:
    st.caption(
        "No chart for this table: add a breakdown, or choose one district, to chart it."
        if x is None
        else "No chart for this many dimensions: choose one district or fewer breakdowns."
    )
show_table(
    table,
    columns=default_columns(table, denominator_label="Group size" if value == "rate" else None),
    key="ex_table",
)
downloads.download_button(table, key="ex_dl", user=user, label="Export CSV (recorded)")
st.caption(f"Release {table.release_id} is recorded in the release registry under {user.user_id}.")
