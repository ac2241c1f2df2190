"""The Login Request Form: ask for an account; an approver decides it.

Teachers and registrars are approved by their District Administrator; every other role by the
Education Data Manager. Nothing is granted until then.
"""

from __future__ import annotations

import streamlit as st

import privacy

REQUESTABLE = [r for r in privacy.Role if r != privacy.Role.PUBLIC]

st.title("Request an account")
st.caption(
    "Individual student data are released only to people with a legitimate educational "
    "interest who are approved by the MDOE. Your request is recorded."
)

role = st.selectbox(
    "Access you need",
    REQUESTABLE,
    format_func=lambda r: privacy.User("x", r).rule.label,
    key="ar_role",
)
rule = privacy.User("x", role).rule
district_id = school_id = None
if rule.needs_district:
    districts = privacy.list_districts(None)
    names = dict(zip(districts["district_id"], districts["district_name"], strict=True))
    district_id = st.selectbox(
        "District", list(names), format_func=lambda d: f"{names[d]} ({d})", key="ar_district"
    )
    if rule.needs_school and district_id:
        schools = privacy.list_schools(None, district_id)
        snames = dict(zip(schools["school_id"], schools["school_name"], strict=True))
        school_id = st.selectbox(
            "School", list(snames), format_func=lambda s: f"{snames[s]} ({s})", key="ar_school"
        )

with st.form("account_request"):
    name = st.text_input("Your full name", key="ar_name")
    user_id = st.text_input("User ID you would like (letters, digits, . _ -)", key="ar_user_id")
    justification = st.text_area(
        "Why you need this access (your duties that require it)", key="ar_justification"
    )
    acknowledged = st.checkbox(
        "I have read the MDOE data privacy policy and will use student data only for the "
        "purposes it allows.",
        key="ar_ack",
    )
    submitted = st.form_submit_button("Submit request", type="primary")

if submitted:
    try:
        request = privacy.submit_account_request(
            None,
            user_id=user_id,
            name=name,
            role=role,
            district_id=district_id,
            school_id=school_id,
            justification=justification,
            policy_acknowledged=acknowledged,
        )
    except ValueError as exc:
        st.error(str(exc))
    else:
        approver = (
            "your District Administrator"
            if rule.needs_district and role in (privacy.Role.TEACHER, privacy.Role.REGISTRAR)
            else "the Education Data Manager"
        )
        st.success(
            f"Request {request.request_id} submitted for user ID {request.requested_user_id}. "
            f"{approver.capitalize()} will decide it and give you a one-time password."
        )
