"""School and district profiles: pick one and see its report card, all from the public release.

Each section is a row filter of a district- or school-level table of the year's jointly
protected release, so a profile never shows a number the statewide pages do not also protect.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import caching, charts, downloads, filters
from dashboard.labels import PROGRAM_LABELS
from dashboard.tables import Column, pick, show_table

KINDS = {"district": "District", "school": "School"}

st.title("School and district profiles")
c1, c2 = filters.filter_row(2)
year = filters.year_select(container=c1)
kind = filters.select("Profile of a", list(KINDS), key="kind", format_func=KINDS.get, container=c2)

release = caching.public_release(year)
id_col, name_col = f"{kind}_id", f"{kind}_name"
base = release.table(f"enrollment_{kind}_grade")
units = dict(base.data.select(id_col, name_col).unique().sort(name_col).iter_rows())
if not units:
    st.info("No schools enrolled students in this year.")
    st.stop()
unit = filters.select(KINDS[kind], list(units), key="unit", format_func=lambda u: units.get(u, u))
name = units[unit]
where = {id_col: unit}

st.header(f"{name} ({unit}), {year}")
if kind == "school":
    directory = caching.schools().filter(pl.col("school_id") == unit)
else:
    directory = caching.districts().filter(pl.col("district_id") == unit)
if directory.height:
    row = directory.row(0, named=True)
    st.caption(" · ".join(str(row[c]) for c in ("street", "city", "zip") if row.get(c)))

total = pick(base, grade="All", **where)
cols = st.columns(3)
cols[0].metric(
    "Students enrolled", total.data["count_display"][0] if total.data.height else "n/a", border=True
)
grad = pick(release.table(f"graduation_{kind}"), outcome="REGULAR_DIPLOMA", **where)
cols[1].metric(
    "Four-year graduation rate",
    (grad.data["rate_display"][0] or "n/a") if grad.data.height else "no cohort",
    border=True,
)
assess = pick(release.table(f"assessment_{kind}"), performance_level="P34", subject="ELA", **where)
cols[2].metric(
    "Proficient in ELA",
    assess.data["rate_display"][0] if assess.data.height else "n/a",
    border=True,
)

tabs = st.tabs(["Enrollment", "Programs", "Assessment", "Graduation", "Staff"])
with tabs[0]:
    by = filters.segmented(
        "Enrollment by",
        ["grade", "race_ethnicity", "gender"],
        key="by",
        default="grade",
        format_func=lambda d: {
            "grade": "Grade",
            "race_ethnicity": "Race/ethnicity",
            "gender": "Gender",
        }[d],
    )
    table = pick(release.table(f"enrollment_{kind}_{by}"), note=name, **where)
    charts.show_chart(
        table.chart_frame().filter(pl.col(by) != "All"),
        charts.ChartSpec(
            x=f"{by}_label",
            value="count",
            title=f"{name}: students by {by.replace('_', '/')}",
            x_title=by.replace("_", "/").capitalize(),
            value_title="Students",
        ),
        key="pf_enr_chart",
    )
    show_table(
        table,
        columns=[
            Column(f"{by}_label", by.replace("_", "/").capitalize()),
            Column("count_display", "Students"),
        ],
        key="pf_enr_table",
    )
    downloads.download_button(table, key="pf_enr_dl")
with tabs[1]:
    parts = [
        pick(release.table(f"programs_{kind}_{p}"), note=name, **{p: "true"}, **where)
        for p in PROGRAM_LABELS
    ]
    frame = charts.stacked_chart_frame(
        {PROGRAM_LABELS[p]: t for p, t in zip(PROGRAM_LABELS, parts, strict=True)}, "program"
    )
    charts.show_chart(
        frame,
        charts.ChartSpec(
            x="program",
            value="rate",
            title=f"{name}: program participation",
            x_title="Program",
            value_title="Percent of enrolled students",
        ),
        key="pf_prog_chart",
    )
    program = filters.select(
        "Program table", list(PROGRAM_LABELS), key="program", format_func=PROGRAM_LABELS.get
    )
    chosen = parts[list(PROGRAM_LABELS).index(program)]
    show_table(
        chosen,
        columns=[
            Column("count_display", "Participants"),
            Column("rate_display", "Participation rate"),
            Column("denominator_display", "Enrolled"),
        ],
        key="pf_prog_table",
    )
    downloads.download_button(chosen, key="pf_prog_dl")
with tabs[2]:
    table = pick(release.table(f"assessment_{kind}"), note=name, **where)
    charts.show_chart(
        table.chart_frame().filter(pl.col("performance_level").is_in(["1", "2", "3", "4"])),
        charts.ChartSpec(
            x="performance_level_label",
            value="rate",
            series="subject_label",
            title=f"{name}: performance levels by subject",
            x_title="Performance level",
            value_title="Percent of tested students",
        ),
        key="pf_as_chart",
    )
    show_table(
        table,
        columns=[
            Column("subject_label", "Subject"),
            Column("performance_level_label", "Performance level"),
            Column("count_display", "Students"),
            Column("rate_display", "Percent"),
            Column("denominator_display", "Tested"),
        ],
        key="pf_as_table",
    )
    downloads.download_button(table, key="pf_as_dl")
with tabs[3]:
    table = pick(release.table(f"graduation_{kind}"), note=name, **where)
    if table.data.height == 0:
        st.info("No four-year graduation cohort here in this year.")
    else:
        charts.show_chart(
            table.chart_frame().filter(pl.col("outcome") != "All"),
            charts.ChartSpec(
                x="outcome_label",
                value="rate",
                title=f"{name}: cohort outcomes",
                x_title="Outcome",
                value_title="Percent of cohort",
            ),
            key="pf_gr_chart",
        )
        show_table(
            table,
            columns=[
                Column("outcome_label", "Outcome"),
                Column("count_display", "Students"),
                Column("rate_display", "Percent of cohort"),
                Column("denominator_display", "Cohort"),
            ],
            key="pf_gr_table",
        )
        downloads.download_button(table, key="pf_gr_dl")
with tabs[4]:
    table = pick(release.table(f"staff_{kind}_role"), note=name, **where)
    show_table(
        table,
        columns=[
            Column("role_label", "Role"),
            Column("count_display", "Staff (headcount)"),
            Column("fte", "FTE"),
        ],
        caption=f"{name}: staff by role (open records)",
        key="pf_st_table",
    )
    downloads.download_button(table, key="pf_st_dl")
