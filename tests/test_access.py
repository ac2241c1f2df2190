"""The access rules as tables: every role x every field level x in or out of scope, approvals,
pages, and a property test over random users and students."""

from __future__ import annotations

import dataclasses
import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

import privacy.access
from privacy.access import (
    PAGE_APPROVALS,
    PAGE_AUDIT_TRAIL,
    PAGE_STUDENT_LOCATOR,
    PAGE_STUDENT_RECORD,
    PUBLIC_USER,
    ROLE_RULES,
    Role,
    User,
    can_approve,
    can_read_audit,
    can_request_resubmission,
    can_revoke,
    can_see_field,
    can_use_locator,
    can_view_records,
    pages_for,
    parse_role,
    roles_allowed_page,
    row_scope,
    visible_fields,
)
from warehouse.dictionary import Field, load_dictionary

D_HOME, D_OTHER = "1001", "2002"
S_HOME, S_SAME_DISTRICT, S_OTHER_DISTRICT = "5001", "5002", "6001"


def user(role: Role, district: str | None = D_HOME, schools: tuple[str, ...] = (S_HOME,)) -> User:
    rule = ROLE_RULES[role]
    return User(
        f"u-{role.value}",
        role,
        district_id=district if rule.needs_district else None,
        school_ids=schools if rule.needs_school else (),
    )


def field(level: int, *, reporting: bool = False, public: bool = False) -> Field:
    return Field(
        table="students",
        name="f",
        type="VARCHAR",
        description="",
        periodicity="annual",
        source="district_submission",
        pii=True,
        access_level=level,
        format="x",
        public_directory=public,
        reporting=reporting,
    )


# Visible field levels 1..4 for each role, written out by hand from the policy.
CLEARANCE_TABLE = {
    Role.LEVEL1: (True, True, True, True),
    Role.DATA_MANAGER: (True, True, True, True),
    Role.SUPERINTENDENT: (False, True, True, True),
    Role.TEACHER: (False, False, True, True),
    Role.REGISTRAR: (False, False, False, True),
}
# Roles that see no field by level: reporting staff see `reporting` fields, the public and
# District Administrators see `public_directory` fields.
FLAG_RULE = {Role.REPORTING: "reporting", Role.PUBLIC: "public", Role.DISTRICT_ADMIN: "public"}


def test_every_role_is_in_one_table() -> None:
    assert set(CLEARANCE_TABLE) | set(FLAG_RULE) == set(Role)


MATRIX = [
    (role, level, reporting, public)
    for role in Role
    for level in (1, 2, 3, 4)
    for reporting in (False, True)
    for public in (False, True)
]


@pytest.mark.parametrize("role, level, reporting, public", MATRIX)
def test_field_visibility_matrix(role: Role, level: int, reporting: bool, public: bool) -> None:
    if role in CLEARANCE_TABLE:
        expected = CLEARANCE_TABLE[role][level - 1]
    else:
        expected = reporting if FLAG_RULE[role] == "reporting" else public
    f = field(level, reporting=reporting, public=public)
    assert can_see_field(user(role), f) is expected


# Student placement: in the user's school / another school of the user's district / another
# district. Expected record access per role, by hand.
SCOPE_TABLE = {
    Role.LEVEL1: (True, True, True),
    Role.DATA_MANAGER: (True, True, True),
    Role.SUPERINTENDENT: (True, True, False),
    Role.TEACHER: (True, False, False),
    Role.REGISTRAR: (False, False, False),
    Role.REPORTING: (False, False, False),
    Role.DISTRICT_ADMIN: (False, False, False),
    Role.PUBLIC: (False, False, False),
}
PLACES = [
    ({D_HOME}, {S_HOME}),
    ({D_HOME}, {S_SAME_DISTRICT}),
    ({D_OTHER}, {S_OTHER_DISTRICT}),
]


@pytest.mark.parametrize(
    "role, place, expected",
    [(r, i, SCOPE_TABLE[r][i]) for r in Role for i in range(3)],
)
def test_row_scope_matrix(role: Role, place: int, expected: bool) -> None:
    districts, schools = PLACES[place]
    assert row_scope(user(role)).contains(districts, schools) is expected


@pytest.mark.parametrize("role", [Role.SUPERINTENDENT, Role.TEACHER])
def test_missing_stored_grant_means_no_scope(role: Role) -> None:
    bare = User("x", role)  # no district, no schools stored
    assert row_scope(bare).kind == "none"
    assert not row_scope(bare).contains({D_HOME}, {S_HOME})
    assert not can_view_records(bare)


def test_unenrolled_student_is_in_no_local_scope() -> None:
    for role in (Role.SUPERINTENDENT, Role.TEACHER):
        assert not row_scope(user(role)).contains(set(), set())


@pytest.mark.parametrize(
    "role, table, must_include, must_exclude",
    [
        (Role.LEVEL1, "students", {"ssn", "mainecare_id", "guardian_name"}, set()),
        (
            Role.SUPERINTENDENT,
            "students",
            {"guardian_name", "race_ethnicity"},
            {"ssn", "mainecare_id"},
        ),
        (Role.SUPERINTENDENT, "program_participation", {"homeless"}, set()),
        (Role.TEACHER, "students", {"race_ethnicity", "first_name"}, {"guardian_name", "ssn"}),
        (
            Role.TEACHER,
            "program_participation",
            {"disability"},
            {"economically_disadvantaged", "homeless"},
        ),
        (Role.REGISTRAR, "students", {"first_name", "birth_date"}, {"race_ethnicity", "ssn"}),
        (Role.REGISTRAR, "assessments", set(), {"scale_score"}),
        (Role.REPORTING, "students", {"state_student_id", "gender"}, {"first_name", "ssn"}),
        (Role.PUBLIC, "students", set(), {"state_student_id", "first_name"}),
        (Role.PUBLIC, "schools", {"school_name"}, set()),
        (Role.DISTRICT_ADMIN, "students", set(), {"first_name"}),
    ],
)
def test_visible_fields_on_the_real_dictionary(
    role: Role, table: str, must_include: set[str], must_exclude: set[str]
) -> None:
    shown = set(visible_fields(user(role), table))
    assert must_include <= shown
    assert not (must_exclude & shown)


def test_visible_fields_follow_the_dictionary_levels_only() -> None:
    d = load_dictionary()
    for role, levels in CLEARANCE_TABLE.items():
        for table in d.tables:
            expected = [f.name for f in table.fields if levels[f.access_level - 1]]
            assert visible_fields(user(role), table.name) == expected


def test_reporting_staff_see_exactly_the_reporting_fields() -> None:
    d = load_dictionary()
    for table in d.tables:
        assert visible_fields(user(Role.REPORTING), table.name) == [
            f.name for f in table.fields if f.reporting
        ]


APPROVAL_TABLE = [
    # approver, requested role, requested district, expected
    (Role.DISTRICT_ADMIN, Role.TEACHER, D_HOME, True),
    (Role.DISTRICT_ADMIN, Role.REGISTRAR, D_HOME, True),
    (Role.DISTRICT_ADMIN, Role.TEACHER, D_OTHER, False),
    (Role.DISTRICT_ADMIN, Role.REGISTRAR, D_OTHER, False),
    (Role.DISTRICT_ADMIN, Role.SUPERINTENDENT, D_HOME, False),
    (Role.DISTRICT_ADMIN, Role.DISTRICT_ADMIN, D_HOME, False),
    (Role.DISTRICT_ADMIN, Role.LEVEL1, None, False),
    (Role.DATA_MANAGER, Role.LEVEL1, None, True),
    (Role.DATA_MANAGER, Role.REPORTING, None, True),
    (Role.DATA_MANAGER, Role.DATA_MANAGER, None, True),
    (Role.DATA_MANAGER, Role.SUPERINTENDENT, D_OTHER, True),
    (Role.DATA_MANAGER, Role.DISTRICT_ADMIN, D_OTHER, True),
    (Role.DATA_MANAGER, Role.TEACHER, D_HOME, False),
    (Role.DATA_MANAGER, Role.REGISTRAR, D_HOME, False),
    (Role.DATA_MANAGER, Role.PUBLIC, None, False),
    *[
        (r, Role.TEACHER, D_HOME, False)
        for r in (
            Role.LEVEL1,
            Role.SUPERINTENDENT,
            Role.TEACHER,
            Role.REGISTRAR,
            Role.REPORTING,
            Role.PUBLIC,
        )
    ],
    *[
        (r, Role.LEVEL1, None, False)
        for r in (
            Role.LEVEL1,
            Role.SUPERINTENDENT,
            Role.TEACHER,
            Role.REGISTRAR,
            Role.REPORTING,
            Role.PUBLIC,
        )
    ],
]


@dataclasses.dataclass
class _Request:
    role: Role
    district_id: str | None


@pytest.mark.parametrize("approver, role, district, expected", APPROVAL_TABLE)
def test_can_approve(approver: Role, role: Role, district: str | None, expected: bool) -> None:
    assert can_approve(user(approver), _Request(role, district)) is expected


@pytest.mark.parametrize(
    "actor, role, district, expected",
    [
        (Role.DATA_MANAGER, Role.TEACHER, D_OTHER, True),
        (Role.DATA_MANAGER, Role.REGISTRAR, D_HOME, True),
        (Role.DATA_MANAGER, Role.LEVEL1, None, True),
        (Role.DISTRICT_ADMIN, Role.TEACHER, D_HOME, True),
        (Role.DISTRICT_ADMIN, Role.TEACHER, D_OTHER, False),
        (Role.DISTRICT_ADMIN, Role.SUPERINTENDENT, D_HOME, False),
        (Role.LEVEL1, Role.TEACHER, D_HOME, False),
        (Role.SUPERINTENDENT, Role.TEACHER, D_HOME, False),
    ],
)
def test_can_revoke(actor: Role, role: Role, district: str | None, expected: bool) -> None:
    assert can_revoke(user(actor), _Request(role, district)) is expected


def test_district_admin_without_district_approves_nothing() -> None:
    assert not can_approve(User("a", Role.DISTRICT_ADMIN), _Request(Role.TEACHER, None))


PAGE_TABLE = {
    PAGE_STUDENT_RECORD: {Role.LEVEL1, Role.DATA_MANAGER, Role.SUPERINTENDENT, Role.TEACHER},
    PAGE_STUDENT_LOCATOR: {Role.LEVEL1, Role.DATA_MANAGER, Role.REGISTRAR},
    PAGE_APPROVALS: {Role.DATA_MANAGER, Role.DISTRICT_ADMIN},
    PAGE_AUDIT_TRAIL: {Role.DATA_MANAGER},
    "submissions": {Role.LEVEL1, Role.DATA_MANAGER, Role.SUPERINTENDENT, Role.REPORTING},
    "id_review": {Role.LEVEL1, Role.DATA_MANAGER},
    "research_requests": {Role.DATA_MANAGER},
    "record_requests": {Role.DATA_MANAGER},
    "disclosure_log": {Role.DATA_MANAGER},
    "retention": {Role.DATA_MANAGER},
    "budget_ledger": {Role.DATA_MANAGER},
}


@pytest.mark.parametrize("page", sorted(PAGE_TABLE))
def test_pages_per_role(page: str) -> None:
    assert roles_allowed_page(page) == PAGE_TABLE[page]
    for role in Role:
        assert (page in pages_for(user(role))) is (role in PAGE_TABLE[page])


def test_pages_agree_with_capabilities() -> None:
    for role in Role:
        u = user(role)
        pages = pages_for(u)
        assert (PAGE_STUDENT_RECORD in pages) is can_view_records(u)
        assert (PAGE_STUDENT_LOCATOR in pages) is can_use_locator(u)
        assert (PAGE_AUDIT_TRAIL in pages) is can_read_audit(u)
        assert (PAGE_APPROVALS in pages) is bool(ROLE_RULES[role].approves)


def test_module_examples() -> None:
    assert doctest.testmod(privacy.access).failed == 0


def test_not_signed_in_is_the_public() -> None:
    assert pages_for(None) == pages_for(PUBLIC_USER)
    assert "public" in pages_for(None) and "sign_in" in pages_for(None)


def test_only_superintendents_direct_resubmission() -> None:
    assert [r for r in Role if can_request_resubmission(user(r))] == [Role.SUPERINTENDENT]


@pytest.mark.parametrize(
    "text, role",
    [
        ("teacher", Role.TEACHER),
        ("LEVEL2", Role.SUPERINTENDENT),
        (" data_manager ", Role.DATA_MANAGER),
    ],
)
def test_parse_role(text: str, role: Role) -> None:
    assert parse_role(text) == role


def test_parse_role_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="unknown role"):
        parse_role("admin")


# --- property: random users and students never get a row outside scope or a field above level

DISTRICT_OF = {"5001": "1001", "5002": "1001", "6001": "2002", "6002": "2002"}
ALL_FIELDS = load_dictionary().fields()

users_st = st.builds(
    User,
    user_id=st.just("u"),
    role=st.sampled_from(list(Role)),
    district_id=st.sampled_from([None, "1001", "2002"]),
    school_ids=st.lists(st.sampled_from(sorted(DISTRICT_OF)), max_size=2).map(tuple),
)
places_st = st.lists(st.sampled_from(sorted(DISTRICT_OF)), max_size=2)


@given(u=users_st, schools=places_st, f=st.sampled_from(ALL_FIELDS))
def test_random_users_never_exceed_scope_or_level(u: User, schools: list[str], f: Field) -> None:
    districts = {DISTRICT_OF[s] for s in schools}
    allowed = row_scope(u).contains(districts, set(schools))
    rule = ROLE_RULES[u.role]
    if allowed:
        assert rule.record_scope != "none"
        if rule.record_scope == "district":
            assert u.district_id in districts
        if rule.record_scope == "school":
            assert set(u.school_ids) & set(schools)
    if can_see_field(u, f):
        if rule.clearance is not None:
            assert rule.clearance <= f.access_level
        elif rule.field_rule == "reporting":
            assert f.reporting
        else:
            assert f.public_directory and f.table not in {"students", "enrollments"}
