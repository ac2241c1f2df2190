"""Sign in with user ID and password; once signed in, sign out or change the password.

The session token lives only in this browser session's server-side state; the password is never
kept, shown or logged. Failed attempts count towards the lockout whatever the user ID.
"""

from __future__ import annotations

import streamlit as st

import privacy

token = st.session_state.get(privacy.SESSION_TOKEN_KEY)
session = privacy.current_session(None, token)

if session is None:
    st.session_state.pop(privacy.SESSION_TOKEN_KEY, None)
    st.title("Sign in")
    st.caption(
        "Access to student records is restricted by user ID and password under the MDOE data "
        "privacy policy. Every sign-in and every record viewed is recorded."
    )
    with st.form("sign_in"):
        user_id = st.text_input("User ID", key="sign_in_user_id")
        password = st.text_input("Password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            new = privacy.sign_in(None, user_id, password)
        except privacy.SignInError as exc:
            st.error(str(exc))
        else:
            st.session_state[privacy.SESSION_TOKEN_KEY] = new.token
            st.rerun()
    st.caption("No account? Use the Request an account page.")
    st.stop()

user = session.user
st.title("Your account")
st.write(f"Signed in as **{user.name or user.user_id}** (`{user.user_id}`), {user.rule.label}.")
if user.district_id:
    where = f"District {user.district_id}"
    if user.school_ids:
        where += ", school " + ", ".join(user.school_ids)
    st.caption(where)

if session.must_change_password:
    st.warning("You signed in with a one-time password. Choose your own password now.")

with st.form("change_password"):
    st.subheader("Change password")
    old = st.text_input("Current password", type="password", key="cp_old")
    new_password = st.text_input("New password (12+ characters)", type="password", key="cp_new")
    repeat = st.text_input("Repeat new password", type="password", key="cp_repeat")
    change = st.form_submit_button("Change password")
if change:
    if new_password != repeat:
        st.error("The new passwords do not match.")
    else:
        try:
            privacy.change_password(None, user.user_id, old, new_password)
        except (privacy.SignInError, privacy.PasswordPolicyError) as exc:
            st.error(str(exc))
        else:
            st.success("Password changed.")

if st.button("Sign out", key="sign_out"):
    privacy.sign_out(None, token)
    st.session_state.pop(privacy.SESSION_TOKEN_KEY, None)
    st.rerun()
