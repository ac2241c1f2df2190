"""Record requests, for the Education Data Manager: a student, a parent of a student under 18, or
a staff member asks for a copy of their own record; identity is verified first; the copy is a
printable page and a CSV naming the district where corrections go."""

from __future__ import annotations

import polars as pl
import streamlit as st

import privacy
from privacy import record_requests as rr

user = privacy.viewer(None, st.session_state.get(privacy.SESSION_TOKEN_KEY))
st.title("Record requests")
if user.role != privacy.Role.DATA_MANAGER:
    st.error("Only the Education Data Manager answers record requests.")
    st.stop()

ERRORS = (ValueError, LookupError, PermissionError, OSError)
done = st.session_state.pop("records_done", None)
if done:
    st.success(done)

with st.expander("Record a request"):
    with st.form("rec_submit"):
        requester = st.text_input("Who asks")
        relationship = st.selectbox(
            "Relationship", list(rr.RELATIONSHIPS), format_func=rr.RELATIONSHIPS.__getitem__
        )
        kind = st.selectbox("Record", ["student", "staff"])
        subject = st.text_input("State student or staff ID")
        contact = st.text_input("How to reach the requester")
        if st.form_submit_button("Record the request"):
            try:
                req = rr.submit_record_request(
                    None,
                    user,
                    requester_name=requester,
                    relationship=relationship,
                    subject_kind=kind,
                    subject_id=subject,
                    contact=contact,
                )
            except ERRORS as exc:
                st.error(str(exc))
            else:
                st.session_state["records_done"] = f"Recorded {req.label}; verify identity next."
                st.rerun()

st.subheader("Requests")
requests = rr.list_record_requests(None, user)
if not requests:
    st.caption("No record requests yet.")
    st.stop()
st.dataframe(
    pl.DataFrame(
        [
            {
                "request": r.label,
                "status": r.status,
                "record": f"{r.subject_kind} {r.subject_id}",
                "asked by": r.requester_name,
                "relationship": r.relationship,
                "copies": r.copies,
            }
            for r in requests
        ]
    ),
    hide_index=True,
)
chosen = st.selectbox(
    "Open a request", requests, format_func=lambda r: f"{r.label} — {r.requester_name} ({r.status})"
)
rid = chosen.request_id
if chosen.subject_kind == "student":
    st.write(f"Parent/guardian on file: {rr.guardian_on_file(None, user, rid) or '-'}")
if chosen.status == "received":
    method = st.selectbox(
        "How identity was verified",
        list(rr.VERIFICATION_METHODS),
        format_func=rr.VERIFICATION_METHODS.__getitem__,
        key=f"rec_method_{rid}",
    )
    note = st.text_input("What was checked", key=f"rec_note_{rid}")
    if st.button("Record the verification", key=f"rec_verify_{rid}", type="primary"):
        try:
            rr.verify_identity(None, user, rid, method=method, note=note)
        except ERRORS as exc:
            st.error(str(exc))
        else:
            st.session_state["records_done"] = f"{chosen.label} verified."
            st.rerun()
if chosen.status in ("received", "verified"):
    reason = st.text_input("Reason for a denial", key=f"rec_reason_{rid}")
    if st.button("Deny", key=f"rec_deny_{rid}"):
        try:
            rr.deny_record_request(None, user, rid, reason=reason)
        except ERRORS as exc:
            st.error(str(exc))
        else:
            st.session_state["records_done"] = f"{chosen.label} denied."
            st.rerun()
if chosen.status in ("verified", "produced"):
    parts = st.multiselect(
        "Parts of the record (none = as asked)",
        ["students", "enrollments", "program_participation", "assessments", "graduation_cohorts"]
        if chosen.subject_kind == "student"
        else ["staff", "staff_certifications", "staff_assignments"],
        key=f"rec_parts_{rid}",
    )
    include_ssn = st.checkbox(
        "Include the person's own SSN / MaineCare ID (left out by default)", key=f"rec_ssn_{rid}"
    )
    if st.button("Produce the copy", key=f"rec_produce_{rid}", type="primary"):
        try:
            copy = rr.produce_record_copy(
                None, user, rid, tables=parts or None, include_ssn=include_ssn
            )
        except ERRORS as exc:
            st.error(str(exc))
        else:
            st.success(f"Copy produced; logged as disclosure #{copy.disclosure_id}.")
            stem = f"record-{copy.request_id}-{copy.disclosure_id}"
            left, right = st.columns(2)
            left.download_button(
                "Printable page (HTML)",
                copy.html,
                file_name=f"{stem}.html",
                mime="text/html",
                on_click="ignore",
            )
            right.download_button(
                "CSV", copy.csv, file_name=f"{stem}.csv", mime="text/csv", on_click="ignore"
            )
if chosen.status == "denied":
    st.info(f"Denied: {chosen.denied_reason}")
