"""State ID review (Level 1 MDOE staff): incoming people whose best roster match was uncertain,
side by side with the candidate; decide same person (merge) or different people, or merge two
IDs directly. The retired ID is kept as an alias and never reissued."""

from __future__ import annotations

import polars as pl
import streamlit as st

import privacy
from privacy import intake

user = privacy.viewer(None, st.session_state.get(privacy.SESSION_TOKEN_KEY))
st.title("State ID review")
if not intake.can_review_ids(user):
    st.error("Only Level 1 MDOE staff review and merge state IDs.")
    st.stop()

FIELDS = ("first_name", "last_name", "birth_date", "gender", "race_ethnicity", "guardian_name")
queue = intake.id_review_queue(None, user)
st.caption(f"{queue.height} pending item(s), most likely matches first.")

for row in queue.head(25).iter_rows(named=True):
    st.subheader(f"{row['id_kind'].title()}: p(same person) = {row['match_probability']:.3f}")
    shown = [f for f in FIELDS if f"new_{f}" in row]
    st.dataframe(
        pl.DataFrame(
            {
                "field": [*shown, "SSN"],
                f"incoming ({row['new_id']})": [str(row[f"new_{f}"]) for f in shown]
                + [row["ssn_agreement"]],
                f"candidate ({row['candidate_id']})": [str(row[f"candidate_{f}"]) for f in shown]
                + [row["ssn_agreement"]],
            }
        ),
        hide_index=True,
    )
    same, different = st.columns(2)
    if same.button("Same person: merge", key=f"same_{row['review_id']}"):
        intake.decide_id_review(None, user, row["review_id"], True)
        st.rerun()
    if different.button("Different people", key=f"diff_{row['review_id']}"):
        intake.decide_id_review(None, user, row["review_id"], False)
        st.rerun()

st.header("Merge two IDs")
with st.form("merge"):
    person = st.radio("Kind", ["student", "staff"], horizontal=True)
    keep = st.text_input("ID to keep")
    alias = st.text_input("ID to retire (becomes an alias)")
    merge = st.form_submit_button("Merge", type="primary")
if merge:
    try:
        result = intake.merge_state_ids(None, user, keep.strip(), alias.strip(), person=person)
    except (ValueError, LookupError) as exc:
        st.error(str(exc))
    else:
        st.success(
            f"Merged {result.alias} into {result.keep}; moved {sum(result.moved.values())} rows."
        )
