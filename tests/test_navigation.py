"""Every page file is reachable from the navigation of some role, and only of the roles allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.app import PUBLIC_PAGES, page_entries
from privacy.access import ROLE_RULES, Role, User, pages_for

ROOT = Path(__file__).resolve().parents[1]


def _user(role: Role) -> User:
    rule = ROLE_RULES[role]
    return User(
        f"u-{role.value}",
        role,
        district_id="1000" if rule.needs_district else None,
        school_ids=("2000",) if rule.needs_school else (),
    )


def test_every_page_file_is_in_some_navigation() -> None:
    reachable = {e.path for role in Role for e in page_entries(_user(role), ROOT)}
    reachable |= {e.path for e in PUBLIC_PAGES}
    files = {f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py") if p.name != "__init__.py"}
    assert files - reachable == set(), "pages no role can open"


@pytest.mark.parametrize("role", list(Role))
def test_navigation_follows_the_role(role: Role) -> None:
    allowed = set(pages_for(_user(role)))
    for entry in page_entries(_user(role), ROOT):
        assert entry.page_id in allowed or entry in PUBLIC_PAGES
