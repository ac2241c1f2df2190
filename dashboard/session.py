"""The viewer of this browser session: a server-side session token, checked on every run.

The browser never holds a role or a scope. Streamlit's `st.session_state` (server memory of
this browser tab) holds only the random session token issued by `privacy.sign_in`; on every
script run `privacy.current_session` re-reads the user's role and scope from the state
database, refreshes the idle timer and ends an idle, expired or revoked session. Nothing here
reads `st.query_params`: a URL can carry filters, never permissions.
"""

from __future__ import annotations

import streamlit as st

import privacy
from dashboard.db import warehouse_path
from privacy.access import PUBLIC_USER, Role, User, pages_for

TOKEN_KEY: str = getattr(privacy, "SESSION_TOKEN_KEY", "edudash_session_token")
_EXPIRED_FLAG = "_edudash_session_expired"


def current_user() -> User:
    """The signed-in user of this browser session, or `PUBLIC_USER` (role public).

    A token whose session has ended (idle too long, too old, account revoked) is dropped and
    the viewer becomes the public; `session_ended()` then reports it once.
    """
    token = st.session_state.get(TOKEN_KEY)
    if not token:
        return PUBLIC_USER
    session = privacy.current_session(warehouse_path(), token)
    if session is None:
        st.session_state.pop(TOKEN_KEY, None)
        st.session_state[_EXPIRED_FLAG] = True
        return PUBLIC_USER
    return session.user


def is_signed_in(user: User) -> bool:
    """Whether `user` is a signed-in account (not the public)."""
    return user.role != Role.PUBLIC


def session_ended() -> bool:
    """True once after a session ended by itself (so the app can say so)."""
    return bool(st.session_state.pop(_EXPIRED_FLAG, False))


def requester(user: User | None = None) -> User | None:
    """The requester to pass to `privacy.release_table`: the signed-in user, or None (public)."""
    user = user or current_user()
    return user if is_signed_in(user) else None


def sign_in(user_id: str, password: str) -> User:
    """Check credentials with the privacy layer (argon2id, lockout, audit) and start a session.

    Raises `privacy.SignInError` with a message that never says whether the ID exists.
    """
    session = privacy.sign_in(warehouse_path(), user_id, password)
    st.session_state[TOKEN_KEY] = session.token
    return session.user


def sign_out() -> None:
    """End this browser's session in the state database and forget its token."""
    token = st.session_state.pop(TOKEN_KEY, None)
    privacy.sign_out(warehouse_path(), token)


def require_page(page_id: str, title: str) -> User:
    """The viewer, if their stored role opens `page_id`; otherwise explain and stop the page.

    Checked inside the page itself (not only in the navigation), so a direct link or a
    hand-edited URL opens nothing the viewer's role does not allow.
    """
    user = current_user()
    if page_id not in pages_for(user):
        st.title(title)
        if is_signed_in(user):
            st.error(f"Your role ({user.rule.label}) does not open this page.")
        else:
            st.warning("Sign in with an MDOE staff account to use this page.")
        st.stop()
    return user


def sign_in_form() -> None:
    """A minimal sign-in form (used only when the sign-in page file is not installed)."""
    st.title("Sign in")
    with st.form("edudash_sign_in"):
        user_id = st.text_input("User ID")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            sign_in(user_id, password)
        except privacy.SignInError as exc:
            st.error(str(exc))
        else:
            st.rerun()
