"""District submissions: upload CSV files, download the error report, and see each district's
status (on time, late, missing, with errors) against the data calendar."""

from __future__ import annotations

import datetime as dt

import streamlit as st

import privacy
from privacy import intake

user = privacy.viewer(None, st.session_state.get(privacy.SESSION_TOKEN_KEY))
st.title("District submissions")
districts = intake.submittable_districts(None, user)
sees_status = intake.can_view_status(user, user.district_id)
if not districts and not sees_status:
    st.error("Sign in with a superintendent or MDOE account to submit or follow district data.")
    st.stop()

years = privacy.school_years(None)
names = {
    d: n for d, n in privacy.list_districts(None).select("district_id", "district_name").iter_rows()
}

# --- Upload ---------------------------------------------------------------------------------
if districts:
    st.header("Submit files")
    st.caption(
        "Files are checked against the data dictionary before anything is stored. If any row "
        "has a problem nothing is stored and you get an error report to fix and resubmit. A "
        "resubmission replaces your district's data of that kind for the school year; earlier "
        "files stay in the history."
    )
    with st.expander("File formats (CSV templates)"):
        for kind, header in intake.file_templates().items():
            st.download_button(
                f"{kind}.csv template",
                header,
                file_name=f"{kind}.csv",
                mime="text/csv",
                key=f"t_{kind}",
            )
    with st.form("submit"):
        district = st.selectbox(
            "District",
            districts,
            format_func=lambda d: f"{names.get(d, d)} ({d})",
            key="sub_district",
        )
        year = st.selectbox("School year", list(reversed(years)), key="sub_year")
        uploads = st.file_uploader(
            "CSV files (UTF-8)", type=["csv"], accept_multiple_files=True, key="sub_files"
        )
        send = st.form_submit_button("Validate and submit", type="primary")
    if send:
        if not uploads:
            st.error("Choose at least one CSV file.")
            st.stop()
        files = [intake.UploadedFile(u.name, u.getvalue()) for u in uploads]
        with st.spinner("Checking files and reconciling state IDs..."):
            try:
                result = intake.submit_district_files(None, user, district, year, files)
            except (ValueError, LookupError, intake.IntakeAccessError) as exc:
                st.error(str(exc))
                st.stop()
        if not result.accepted:
            st.error(f"{len(result.problems)} problem(s) found. Nothing was stored.")
            st.dataframe(intake.error_report_table(result.problems), hide_index=True)
            st.download_button(
                "Download the error report (CSV)",
                intake.error_report_csv(result.problems),
                file_name=f"submission-errors-{district}-{year}.csv",
                mime="text/csv",
            )
        else:
            st.success(
                f"Accepted: {sum(n for _, _, n in result.files):,} rows in {len(result.files)} "
                f"file(s). IDs: {result.matched_ids} matched, {result.new_ids} new, "
                f"{result.queued_for_review} provisional pending MDOE review."
            )
            if result.id_assignments is not None and result.id_assignments.height:
                st.download_button(
                    "Download state ID assignments (CSV)",
                    result.id_assignments.write_csv(),
                    file_name=f"state-ids-{district}-{year}.csv",
                    mime="text/csv",
                )

# --- Status ---------------------------------------------------------------------------------
if sees_status:
    st.header("Status")
    status_year = st.selectbox("School year", list(reversed(years)), key="status_year")
    status = intake.status_view(None, user, status_year, today=dt.date.today())
    st.dataframe(
        status.select("district_id", "district_name", "kind", "due", "first_at", "status"),
        hide_index=True,
    )
    st.subheader("Submission history")
    st.dataframe(intake.history_view(None, user).drop("sha256", strict=False), hide_index=True)
