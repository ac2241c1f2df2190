"""One student's record, for Levels 1-3: only students in your stored scope, only the fields your
level opens. Superintendents can direct that a record be resubmitted. Every view is recorded."""

from __future__ import annotations

import polars as pl
import streamlit as st

import privacy

user = privacy.viewer(None, st.session_state.get(privacy.SESSION_TOKEN_KEY))
if "student_record" not in privacy.pages_for(user):
    st.title("Student record")
    st.error("Sign in with an account that opens student records to use this page.")
    st.stop()

st.title("Student record")
scope_text = {
    "state": "all students statewide",
    "district": f"students enrolled in district {user.district_id} this school year",
    "school": "students enrolled in your school(s) this school year: " + ", ".join(user.school_ids),
}
st.caption(
    f"{user.rule.label}. You can open {scope_text.get(user.rule.record_scope, 'no students')}. "
    "Every record you open is recorded in the audit trail."
)

query = st.text_input("Find a student by name or state ID", key="sr_query")
matches = privacy.students_in_scope(None, user, name_contains=query or None, limit=200)
if not matches:
    st.info("No students in your scope match.")
    st.stop()

labels = {
    m["state_student_id"]: f"{m['last_name']}, {m['first_name']} — {m['state_student_id']} "
    f"(grade {m.get('grade', '?')}, school {m.get('school_id', '?')})"
    for m in matches
}
student_id = st.selectbox(
    f"Student ({len(matches)} shown)", list(labels), format_func=labels.get, key="sr_student"
)
if not st.toggle("Open this record", key="sr_open"):
    st.stop()

try:
    record = privacy.view_student_record(None, user, student_id)
except (privacy.RecordNotFoundError, privacy.RecordAccessError) as exc:
    st.error(str(exc))
    st.stop()

TITLES = {
    "students": "Student",
    "enrollments": "Enrollments",
    "program_participation": "Program participation",
    "assessments": "State assessments",
    "graduation_cohorts": "Graduation cohort",
}
for table, rows in record.sections.items():
    st.subheader(TITLES.get(table, table))
    if rows:
        st.dataframe(pl.DataFrame(rows, infer_schema_length=None), hide_index=True)
    else:
        st.caption("No rows.")
if record.fields_withheld:
    st.caption(
        f"{record.fields_withheld} fields of this record are above your access level and are "
        "not shown."
    )

if record.can_request_resubmission:
    with st.form("resubmission"):
        st.subheader("Direct a resubmission")
        reason = st.text_area("What looks wrong and must be corrected", key="sr_reason")
        send = st.form_submit_button("Request resubmission")
    if send:
        try:
            req = privacy.request_resubmission(None, user, student_id, reason=reason)
        except (ValueError, LookupError, PermissionError) as exc:
            st.error(str(exc))
        else:
            st.success(f"Resubmission request {req.request_id} recorded for the district.")
    open_requests = privacy.resubmission_requests(None, user)
    if open_requests:
        st.subheader("Resubmission requests in your district")
        st.dataframe(
            pl.DataFrame(
                [
                    {
                        "request": r.request_id,
                        "at": r.at,
                        "student": r.state_student_id,
                        "by": r.requested_by,
                        "reason": r.reason,
                        "status": r.status,
                    }
                    for r in open_requests
                ]
            ),
            hide_index=True,
        )
