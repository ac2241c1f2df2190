"""Statewide overview: enrollment trend, demographics, headline proficiency and graduation.

Every number comes from the jointly protected public release of its school year.
"""

from __future__ import annotations

import streamlit as st

from dashboard import caching, charts, downloads, filters
from dashboard.tables import Column, pick, show_table
from dashboard.trends import show_graduation_trend, show_trend

st.title("Maine public schools: statewide overview")
st.caption(
    "Synthetic data for demonstration. Every count and rate is from the protected public "
    "release of its school year: * marks a number hidden to protect student privacy."
)

year = filters.year_select()
years = caching.years()
release = caching.public_release(year)

enrolled = pick(release.table("enrollment_state_grade"), grade="All")
proficiency = pick(release.table("assessment_state"), performance_level="P34")
graduates = pick(release.table("graduation_state"), outcome="REGULAR_DIPLOMA")

cols = st.columns(4)
cols[0].metric("Students enrolled", enrolled.data["count_display"][0], border=True)
for col, subject in zip(cols[1:3], ("ELA", "MATH"), strict=True):
    row = proficiency.data.filter(proficiency.data["subject"] == subject)
    col.metric(
        f"Proficient in {'ELA' if subject == 'ELA' else 'math'}",
        row["rate_display"][0] if row.height else "n/a",
        border=True,
        help="Share of tested students at levels 3 and 4",
    )
grad_value = graduates.data["rate_display"][0] if graduates.data.height else "n/a"
cols[3].metric(
    "Graduation rate", grad_value or "n/a", border=True, help="Four-year cohort, regular diploma"
)

st.header("Enrollment over time")
with st.spinner("Loading every year's protected release..."):
    trend = [pick(caching.public_table(y, "enrollment_state_grade"), grade="All") for y in years]
show_trend(
    trend,
    charts.ChartSpec(
        x="school_year",
        value="count",
        title="Students enrolled statewide",
        x_title="School year",
        value_title="Students",
    ),
    [Column("count_display", "Students")],
    caption="Students enrolled statewide by school year",
    key="ov_trend",
    name="enrollment_state_grade",
)

st.header(f"Who Maine's students are, {year}")
left, right = st.columns(2)
with left:
    race = release.table("enrollment_state_race_ethnicity")
    charts.show_chart(
        race.chart_frame().filter(race.chart_frame()["race_ethnicity"] != "All"),
        charts.ChartSpec(
            x="race_ethnicity_label",
            value="count",
            title="Students by race/ethnicity",
            x_title="Race/ethnicity",
            value_title="Students",
        ),
        key="ov_race_chart",
    )
    show_table(
        race,
        columns=[
            Column("race_ethnicity_label", "Race/ethnicity"),
            Column("count_display", "Students"),
        ],
        key="ov_race_table",
    )
    downloads.download_button(race, key="ov_race_dl", name="enrollment_state_race_ethnicity")
with right:
    gender = release.table("enrollment_state_gender")
    charts.show_chart(
        gender.chart_frame().filter(gender.chart_frame()["gender"] != "All"),
        charts.ChartSpec(
            x="gender_label",
            value="count",
            title="Students by gender",
            x_title="Gender",
            value_title="Students",
        ),
        key="ov_gender_chart",
    )
    show_table(
        gender,
        columns=[Column("gender_label", "Gender"), Column("count_display", "Students")],
        key="ov_gender_table",
    )
    downloads.download_button(gender, key="ov_gender_dl", name="enrollment_state_gender")

st.header("Proficiency and graduation over time")
with st.spinner("Loading every year's protected release..."):
    prof_trend = [
        pick(caching.public_table(y, "assessment_state"), performance_level="P34") for y in years
    ]
    grad_trend = [
        pick(caching.public_table(y, "graduation_state"), outcome="REGULAR_DIPLOMA") for y in years
    ]
left, right = st.columns(2)
with left:
    show_trend(
        prof_trend,
        charts.ChartSpec(
            x="school_year",
            value="rate",
            series="subject_label",
            title="Students proficient (levels 3 and 4) by subject",
            x_title="School year",
            value_title="Percent proficient",
        ),
        [
            Column("subject_label", "Subject"),
            Column("rate_display", "Proficient"),
            Column("denominator_display", "Tested"),
        ],
        caption="Percent of tested students proficient, by subject and year",
        key="ov_prof",
        name="assessment_state",
    )
with right:
    show_graduation_trend(grad_trend, key="ov_grad", name="graduation_state")
