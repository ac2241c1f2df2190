"""The audit trail, for the Education Data Manager: is the hash chain intact, who did what, and
which activity looks unusual (many records viewed, searches outside a user's district, sign-ins
at odd hours)."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import streamlit as st

import privacy

user = privacy.viewer(None, st.session_state.get(privacy.SESSION_TOKEN_KEY))
st.title("Audit trail")
if "audit_trail" not in privacy.pages_for(user):
    st.error("Only the Education Data Manager reads the audit trail.")
    st.stop()

check = privacy.verify_chain(None)
if check.ok:
    st.success(f"Hash chain intact: {check.count} entries. Head: {check.count} {check.last_hash}")
else:
    st.error(
        "The audit trail has been tampered with:\n\n" + "\n".join(f"- {p}" for p in check.problems)
    )

left, middle, right = st.columns(3)
actor = left.text_input("User ID", key="at_actor").strip().lower() or None
action = middle.selectbox(
    "Action",
    [None, "sign_in", "record.", "locator.", "account.", "export", "release", "session."],
    format_func=lambda a: "All actions" if a is None else a,
    key="at_action",
)
student = right.text_input("State student ID", key="at_student").strip() or None
since = st.date_input("From date", value=dt.date.today() - dt.timedelta(days=30), key="at_since")
since_at = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC) if since else None

entries = privacy.read_audit_trail(
    None, user, actor=actor, action_prefix=action, student_id=student, since=since_at, limit=5000
)

st.subheader("Unusual activity")
flags = privacy.flag_unusual(entries)
if flags:
    st.dataframe(
        pl.DataFrame(
            [
                {
                    "at": f.at,
                    "kind": f.kind,
                    "user": f.actor,
                    "what": f.message,
                    "entries": len(f.seqs),
                }
                for f in flags
            ]
        ),
        hide_index=True,
    )
else:
    st.caption("Nothing unusual in the entries shown.")

st.subheader(f"Entries ({len(entries)}, newest first)")
if entries:
    st.dataframe(
        pl.DataFrame(
            [
                {
                    "#": e.seq,
                    "at": e.at,
                    "user": e.actor,
                    "action": e.action,
                    "details": json.dumps(e.details, sort_keys=True, ensure_ascii=False),
                }
                for e in entries
            ]
        ),
        hide_index=True,
    )
