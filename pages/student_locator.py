"""The statewide student locator for registrars (Level 4): find a transferring student's state ID
by exact name and date of birth. Returns level-4 fields only; searches are rate-limited and
recorded."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

import privacy

user = privacy.viewer(None, st.session_state.get(privacy.SESSION_TOKEN_KEY))
st.title("Student locator")
if "student_locator" not in privacy.pages_for(user):
    st.error("Sign in with a registrar account to use the student locator.")
    st.stop()
st.caption(
    "Search by the student's exact first and last name and date of birth. Only the state ID and "
    "level-4 fields are returned. Each search is recorded in the audit trail."
)

districts = privacy.list_districts(None)
names = dict(zip(districts["district_id"], districts["district_name"], strict=True))
with st.form("locator"):
    first = st.text_input("First name", key="loc_first")
    last = st.text_input("Last name", key="loc_last")
    born = st.date_input(
        "Date of birth",
        value=None,
        min_value=dt.date(1995, 1, 1),
        max_value=dt.date.today(),
        key="loc_birth",
    )
    former = st.selectbox(
        "Former district (optional)",
        [None, *names],
        format_func=lambda d: "Any district" if d is None else f"{names[d]} ({d})",
        key="loc_former",
    )
    search = st.form_submit_button("Search", type="primary")

if search:
    if born is None:
        st.error("Give the date of birth.")
        st.stop()
    try:
        matches = privacy.locate_student(
            None, user, first_name=first, last_name=last, birth_date=born, former_district_id=former
        )
    except (ValueError, privacy.LocatorRateLimitError, privacy.RecordAccessError) as exc:
        st.error(str(exc))
        st.stop()
    if not matches:
        st.info("No student matches exactly. Check the spelling and the date of birth.")
    else:
        st.dataframe(
            pl.DataFrame([m.fields for m in matches], infer_schema_length=None), hide_index=True
        )
