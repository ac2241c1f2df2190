"""The edudash Streamlit app: public dashboard pages for everyone, staff pages by stored role.

Run with `streamlit run dashboard/app.py` (the warehouse is `$EDUDASH_DB` or the default file).
The page list is rebuilt on every run from the viewer's server-side session: a staff page is
listed only when its file exists and `privacy.access.pages_for(user)` allows it, and each staff
page checks the role again itself, so a URL never opens a page the role does not allow.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

import privacy  # noqa: E402
from dashboard import session  # noqa: E402
from privacy.access import PAGE_PUBLIC, User, pages_for  # noqa: E402


@dataclass(frozen=True)
class PageEntry:
    """One navigation entry: a page file (relative to the project root) and its title."""

    page_id: str
    path: str
    title: str
    icon: str
    section: str
    default: bool = False


PUBLIC_SECTION = "Public dashboard"
STAFF_SECTION = "MDOE staff"
ACCOUNT_SECTION = "Account"

PUBLIC_PAGES: tuple[PageEntry, ...] = (
    PageEntry(
        PAGE_PUBLIC,
        "pages/overview.py",
        "Statewide overview",
        ":material/insights:",
        PUBLIC_SECTION,
        True,
    ),
    PageEntry(
        PAGE_PUBLIC, "pages/enrollment.py", "Enrollment", ":material/groups:", PUBLIC_SECTION
    ),
    PageEntry(
        PAGE_PUBLIC, "pages/assessment.py", "Assessment results", ":material/quiz:", PUBLIC_SECTION
    ),
    PageEntry(
        PAGE_PUBLIC, "pages/graduation.py", "Graduation", ":material/school:", PUBLIC_SECTION
    ),
    PageEntry(
        PAGE_PUBLIC, "pages/programs.py", "Programs", ":material/diversity_3:", PUBLIC_SECTION
    ),
    PageEntry(PAGE_PUBLIC, "pages/staff.py", "Staff", ":material/badge:", PUBLIC_SECTION),
    PageEntry(
        PAGE_PUBLIC,
        "pages/profiles.py",
        "School and district profiles",
        ":material/location_city:",
        PUBLIC_SECTION,
    ),
    PageEntry(
        PAGE_PUBLIC,
        "pages/dictionary.py",
        "Data dictionary",
        ":material/menu_book:",
        PUBLIC_SECTION,
    ),
)

# Page ids of privacy.access that this app maps to files; any other id the access rules grant
# is looked up as pages/<id>.py (so new staff pages appear once their rule and file exist).
_STAFF_FILES: dict[str, tuple[str, str]] = {
    "staff_explorer": ("pages/explorer.py", "Staff explorer"),
    "submissions": ("pages/submissions.py", "District submissions"),
    "id_review": ("pages/id_review.py", "State ID review"),
    "research_requests": ("pages/research_requests.py", "Research requests"),
    "record_requests": ("pages/record_requests.py", "Record requests"),
    "disclosure_log": ("pages/disclosure_log.py", "Disclosure log"),
    "retention": ("pages/retention.py", "Retention"),
    "budget_ledger": ("pages/budget_ledger.py", "Noise budget ledger"),
}
_ICONS = {
    "staff_explorer": ":material/table_chart:",
    "student_record": ":material/person_search:",
    "student_locator": ":material/travel_explore:",
    "approvals": ":material/how_to_reg:",
    "audit_trail": ":material/receipt_long:",
    "sign_in": ":material/login:",
    "account_request": ":material/person_add:",
    "submissions": ":material/upload_file:",
    "id_review": ":material/compare:",
    "research_requests": ":material/science:",
    "record_requests": ":material/folder_shared:",
    "disclosure_log": ":material/policy:",
    "retention": ":material/auto_delete:",
    "budget_ledger": ":material/account_balance:",
}
_ACCOUNT_IDS = ("sign_in", "account_request", "change_password")


def page_entries(user: User, root: Path = ROOT) -> list[PageEntry]:
    """The pages `user` may open, from their stored role; staff pages only if the file exists."""
    allowed = pages_for(user)
    entries: list[PageEntry] = []
    if PAGE_PUBLIC in allowed:
        entries.extend(PUBLIC_PAGES)
    files: dict[str, tuple[str, str]] = {**getattr(privacy, "PAGE_FILES", {}), **_STAFF_FILES}
    for page_id in allowed:
        if page_id == PAGE_PUBLIC:
            continue
        path, title = files.get(
            page_id, (f"pages/{page_id}.py", page_id.replace("_", " ").capitalize())
        )
        if page_id == "sign_in" and session.is_signed_in(user):
            title = "Your account"
        if not (root / path).is_file():
            continue
        section = ACCOUNT_SECTION if page_id in _ACCOUNT_IDS else STAFF_SECTION
        entries.append(
            PageEntry(page_id, path, title, _ICONS.get(page_id, ":material/article:"), section)
        )
    return entries


def _navigation(user: User) -> tuple[dict[str, list], dict[str, st.Page]]:
    sections: dict[str, list] = {}
    by_id: dict[str, st.Page] = {}
    for e in page_entries(user):
        page = st.Page(ROOT / e.path, title=e.title, icon=e.icon, default=e.default)
        sections.setdefault(e.section, []).append(page)
        by_id.setdefault(e.page_id, page)
    if "sign_in" in pages_for(user) and "sign_in" not in by_id:
        page = st.Page(
            session.sign_in_form, title="Sign in", icon=_ICONS["sign_in"], url_path="sign_in"
        )
        sections.setdefault(ACCOUNT_SECTION, []).append(page)
        by_id["sign_in"] = page
    order = (PUBLIC_SECTION, STAFF_SECTION, ACCOUNT_SECTION)
    ordered = {name: sections[name] for name in order if name in sections}
    return ordered, by_id


def _sidebar_status(user: User, by_id: dict[str, st.Page]) -> None:
    with st.sidebar:
        st.markdown("**Maine Department of Education**  \nEducation data dashboard")
        if session.is_signed_in(user):
            st.success(f"Signed in as **{user.name or user.user_id}**  \n{user.rule.label}")
            if st.button("Sign out", key="app_sign_out", icon=":material/logout:"):
                session.sign_out()
                st.rerun()
        else:
            st.info("Browsing as the public: aggregates only, every small count hidden.")
            if "sign_in" in by_id:
                st.page_link(by_id["sign_in"], label="MDOE staff sign in", icon=":material/login:")
        st.caption("Counts of fewer than 10 students are never shown (*). Data are synthetic.")


def main() -> None:
    """Build the navigation for this viewer and run the chosen page."""
    st.set_page_config(
        page_title="Maine education data",
        page_icon=":material/school:",
        layout="wide",
        initial_sidebar_state="auto",
    )
    user = session.current_user()
    if session.session_ended():
        st.toast(
            "Your session ended; sign in again to use staff pages.", icon=":material/timer_off:"
        )
    sections, by_id = _navigation(user)
    nav = st.navigation(sections, position="sidebar", expanded=True)
    _sidebar_status(user, by_id)
    nav.run()


if __name__ == "__main__":
    main()
