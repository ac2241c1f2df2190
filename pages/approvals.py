"""Account approvals: District Administrators decide teacher and registrar requests of their
district; the Education Data Manager decides all other roles. Every decision is recorded."""

from __future__ import annotations

import polars as pl
import streamlit as st

import privacy

user = privacy.viewer(None, st.session_state.get(privacy.SESSION_TOKEN_KEY))
st.title("Account approvals")
if "approvals" not in privacy.pages_for(user):
    st.error("Sign in as the Education Data Manager or a District Administrator.")
    st.stop()

issued = st.session_state.pop("approvals_issued", None)
if issued:
    st.success(
        f"Account {issued[0]} created. Give this one-time password to its holder in person or by "
        f"phone; it is shown only now and must be changed at first sign-in: `{issued[1]}`"
    )

st.subheader("Pending requests")
pending = privacy.account_requests(None, user)
if not pending:
    st.caption("No requests wait for your decision.")
for req in pending:
    with st.expander(f"#{req.request_id} {req.name} — {req.role.value} ({req.requested_user_id})"):
        st.write(
            f"District: {req.district_id or '-'} · School: {req.school_id or '-'} · "
            f"Submitted {req.submitted_at:%Y-%m-%d %H:%M} UTC"
        )
        st.write(req.justification)
        note = st.text_input("Note (recorded with the decision)", key=f"note_{req.request_id}")
        approve_col, deny_col = st.columns(2)
        if approve_col.button("Approve", key=f"approve_{req.request_id}", type="primary"):
            try:
                account, password = privacy.approve_request(None, user, req.request_id, note=note)
            except (ValueError, LookupError, PermissionError) as exc:
                st.error(str(exc))
            else:
                st.session_state["approvals_issued"] = (account.user_id, password)
                st.rerun()
        if deny_col.button("Deny", key=f"deny_{req.request_id}"):
            try:
                privacy.deny_request(None, user, req.request_id, note=note)
            except (ValueError, LookupError, PermissionError) as exc:
                st.error(str(exc))
            else:
                st.rerun()

st.subheader("Accounts you manage")
accounts = privacy.list_accounts(None, user)
if accounts:
    st.dataframe(
        pl.DataFrame(
            [
                {
                    "user_id": a.user.user_id,
                    "name": a.user.name,
                    "role": a.user.role.value,
                    "district": a.user.district_id,
                    "schools": ", ".join(a.user.school_ids),
                    "status": a.status,
                    "created": a.created_at,
                    "created_by": a.created_by,
                }
                for a in accounts
            ]
        ),
        hide_index=True,
    )
    active = [
        a.user.user_id for a in accounts if a.status == "active" and a.user.user_id != user.user_id
    ]
    if active:
        with st.form("revoke"):
            target = st.selectbox("Revoke account", active, key="revoke_target")
            reason = st.text_input("Reason", key="revoke_reason")
            revoke = st.form_submit_button("Revoke")
        if revoke:
            try:
                privacy.revoke_user(None, user, target, reason=reason)
            except (ValueError, LookupError, PermissionError) as exc:
                st.error(str(exc))
            else:
                st.success(f"{target} revoked; its sessions have ended.")
else:
    st.caption("No accounts in your care yet.")

st.subheader("Decision history")
decisions = privacy.access_decisions(None, user, limit=200)
if decisions:
    st.dataframe(
        pl.DataFrame(
            [
                {
                    "at": d.at,
                    "by": d.actor,
                    "action": d.action,
                    "user_id": d.user_id,
                    "role": d.role.value,
                    "district": d.district_id,
                    "request": d.request_id,
                    "note": d.note,
                }
                for d in decisions
            ]
        ),
        hide_index=True,
    )
else:
    st.caption("No decisions recorded yet.")
