"""Research requests, for the Education Data Manager: loans due, new written requests, decisions
with reasons, the signed MOA, watermarked extracts, report copies, destruction and bars."""

from __future__ import annotations

import datetime as dt
import io
import tempfile
import zipfile
from pathlib import Path

import polars as pl
import streamlit as st

import privacy
from privacy import research

user = privacy.viewer(None, st.session_state.get(privacy.SESSION_TOKEN_KEY))
st.title("Research requests")
if user.role != privacy.Role.DATA_MANAGER:
    st.error("Only the Education Data Manager handles research requests.")
    st.stop()

ERRORS = (ValueError, LookupError, PermissionError, OSError)
done = st.session_state.pop("research_done", None)
if done:
    st.success(done)


def _finish(message: str) -> None:
    st.session_state["research_done"] = message
    st.rerun()


st.subheader("Loans ending within 30 days, and overdue loans")
due = research.loans_due(None, user, within_days=30)
if due:
    st.dataframe(
        pl.DataFrame(
            [
                {
                    "request": f"RR-{r.request_id}",
                    "researcher": r.researcher,
                    "e-mail": r.researcher_email,
                    "organization": r.organization,
                    "ends": r.end_date,
                    "status": f"OVERDUE by {-r.days_left} days"
                    if r.overdue
                    else f"ends in {r.days_left} days",
                    "extracts": r.extracts,
                }
                for r in due
            ]
        ),
        hide_index=True,
    )
else:
    st.caption("No loan ends within 30 days and none is overdue.")

with st.expander("Record a researcher's written request"):
    with st.form("research_submit"):
        researcher = st.text_input("Researcher")
        email = st.text_input("E-mail")
        organization = st.text_input("Organization")
        study_for = st.text_input("Educational agency or institution the study is for")
        purpose = st.text_area("Purpose of the study")
        security = st.text_area("How confidentiality and security will be ensured")
        fields = st.multiselect("Data requested", research.requestable_fields())
        years = st.multiselect("School years (none = all)", privacy.school_years(None))
        end = st.date_input("Loan end date", value=dt.date.today() + dt.timedelta(days=365))
        if st.form_submit_button("Record the request"):
            try:
                req = research.submit_research_request(
                    None,
                    user,
                    researcher=researcher,
                    researcher_email=email,
                    organization=organization,
                    study_for=study_for,
                    purpose=purpose,
                    security_plan=security,
                    fields=fields,
                    school_years=years,
                    end_date=end,
                )
            except ERRORS as exc:
                st.error(str(exc))
            else:
                _finish(f"Recorded {req.label}.")

st.subheader("Requests")
requests = research.list_research_requests(None, user)
if not requests:
    st.caption("No research requests yet.")
else:
    st.dataframe(
        pl.DataFrame(
            [
                {
                    "request": r.label,
                    "status": r.status,
                    "MOA": r.moa_recorded,
                    "researcher": r.researcher,
                    "organization": r.organization,
                    "ends": r.end_date,
                    "fields": ", ".join(r.approved_fields or r.fields),
                }
                for r in requests
            ]
        ),
        hide_index=True,
    )
    chosen = st.selectbox(
        "Open a request", requests, format_func=lambda r: f"{r.label} — {r.researcher} ({r.status})"
    )
    st.markdown(
        f"**Study for:** {chosen.study_for}  \n**Purpose:** {chosen.purpose}  \n"
        f"**Security:** {chosen.security_plan}  \n**Requested:** {', '.join(chosen.fields)}  \n"
        f"**Years:** {', '.join(chosen.school_years) or 'all'} · **Ends:** {chosen.end_date}"
    )
    if chosen.decision_reasons:
        st.info(f"Decided by {chosen.decided_by}: {chosen.decision_reasons}")
    rid = chosen.request_id
    if chosen.status == "submitted":
        reasons = st.text_area("Reasons for the decision", key=f"rr_reasons_{rid}")
        narrowed = st.multiselect(
            "Approve only these fields",
            chosen.fields,
            default=list(chosen.fields),
            key=f"rr_fields_{rid}",
        )
        approve_col, deny_col = st.columns(2)
        if approve_col.button("Approve", key=f"rr_approve_{rid}", type="primary"):
            try:
                research.approve_research_request(None, user, rid, reasons=reasons, fields=narrowed)
            except ERRORS as exc:
                st.error(str(exc))
            else:
                _finish(f"Approved {chosen.label}; record the signed MOA before any extract.")
        if deny_col.button("Deny", key=f"rr_deny_{rid}"):
            try:
                research.deny_research_request(None, user, rid, reasons=reasons)
            except ERRORS as exc:
                st.error(str(exc))
            else:
                _finish(f"Denied {chosen.label}.")
    if chosen.status in ("submitted", "approved") and not chosen.moa_recorded:
        with st.form(f"rr_moa_{rid}"):
            st.write("Signed Memorandum of Agreement")
            signer = st.text_input("Signed by")
            signed_on = st.date_input("Signed on", value=dt.date.today())
            document = st.text_input("Where the signed MOA is kept")
            if st.form_submit_button("Record the MOA"):
                try:
                    research.record_moa(
                        None, user, rid, signed_by=signer, signed_on=signed_on, document=document
                    )
                except ERRORS as exc:
                    st.error(str(exc))
                else:
                    _finish(f"Recorded the MOA of {chosen.label}.")
    if chosen.status == "approved":
        if st.button("Make the watermarked extract", key=f"rr_extract_{rid}"):
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    extract = research.make_extract(None, user, rid, Path(tmp) / "extract")
                    buffer = io.BytesIO()
                    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                        for file in sorted(extract.folder.iterdir()):
                            archive.write(file, f"{extract.watermark}/{file.name}")
            except ERRORS as exc:
                st.error(str(exc))
            else:
                st.success(
                    f"Extract {extract.watermark}: {extract.student_count} students; logged as "
                    f"disclosure #{extract.disclosure_id}. Download it now; it is not kept here."
                )
                st.download_button(
                    "Download the extract (zip)",
                    buffer.getvalue(),
                    file_name=f"{extract.watermark}.zip",
                    mime="application/zip",
                    on_click="ignore",
                )
        with st.form(f"rr_report_{rid}"):
            st.write("Copy of a report made with the data")
            title = st.text_input("Title")
            received = st.date_input("Received on", value=dt.date.today())
            kept = st.text_input("Where the copy is kept")
            if st.form_submit_button("Record the report copy"):
                try:
                    research.record_report_copy(
                        None, user, rid, title=title, received_on=received, document=kept
                    )
                except ERRORS as exc:
                    st.error(str(exc))
                else:
                    _finish("Recorded the report copy.")
        with st.form(f"rr_destroyed_{rid}"):
            st.write("Certification of destruction (closes the loan)")
            certifier = st.text_input("Certified by")
            certified_on = st.date_input("Certified on", value=dt.date.today())
            method = st.text_input("How the data were destroyed")
            if st.form_submit_button("Record the certification"):
                try:
                    research.certify_destruction(
                        None,
                        user,
                        rid,
                        certified_by=certifier,
                        certified_on=certified_on,
                        method=method,
                    )
                except ERRORS as exc:
                    st.error(str(exc))
                else:
                    _finish(f"{chosen.label} is closed.")
    extracts = research.extracts_of(None, user, rid)
    if extracts:
        st.caption("Extracts: " + "; ".join(f"{x['watermark']} ({x['at'][:10]})" for x in extracts))
    reports = research.reports_of(None, user, rid)
    if reports:
        st.caption("Report copies: " + "; ".join(f"{r.title} ({r.received_on})" for r in reports))

st.subheader("Improper disclosures and five-year bars")
with st.expander("Record a finding of improper disclosure"):
    with st.form("rr_bar"):
        organization = st.text_input("Organization")
        person = st.text_input("E-mail of the person responsible (optional)")
        finding = st.text_area("What was found")
        official = st.checkbox("The party is a Maine official (no five-year bar)")
        if st.form_submit_button("Record the finding"):
            try:
                bar = research.record_improper_disclosure(
                    None,
                    user,
                    organization=organization,
                    person_email=person or None,
                    finding=finding,
                    maine_official=official,
                )
            except ERRORS as exc:
                st.error(str(exc))
            else:
                _finish(
                    f"{bar.organization} barred until {bar.barred_until}."
                    if bar.barred_until
                    else "Finding recorded (Maine official: no bar)."
                )
bars = research.list_bars(None, user)
if bars:
    st.dataframe(
        pl.DataFrame(
            [
                {
                    "organization": b.organization,
                    "person": b.person_email,
                    "found on": b.found_on,
                    "barred until": b.barred_until,
                    "finding": b.finding,
                }
                for b in bars
            ]
        ),
        hide_index=True,
    )
else:
    st.caption("No findings recorded.")
