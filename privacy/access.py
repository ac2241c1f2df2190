"""Who may see what: the policy's roles and access levels, written as data, and small pure rules.

Every access decision in edudash is one of the functions below, applied to a `User` (whose role,
district and schools come from the state database, never from a URL or a form) and to data read
from the data dictionary. Anything not granted by a rule here is denied.

Reading of the policy:

- A field of dictionary level L is visible to a user of clearance C when C <= L (Level 1 is the
  highest clearance). Field levels come only from `warehouse.dictionary.load_dictionary()`.
- Level 2 (superintendents) "may see all of the fields ... of the students in his or her school
  district". The dictionary puts SSN and MaineCare ID at level 1, so by the rule above a Level 2
  user does NOT see them: the dictionary is the single source of field levels, and the policy's
  "all of the fields" is read as "all fields a Level 2 clearance opens", not as an override.
- Level 3 (teachers) see the level-3 and level-4 fields of their own students: students enrolled
  in one of the user's stored schools in the current school year.
- Level 4 (registrars) see no records; they use the statewide locator, which returns only
  level-4 fields.
- MDOE reporting staff see aggregates and the fields the dictionary marks `reporting = true`;
  they open no individual record.
- The Education Data Manager has clearance 1, approves access and reads the audit trail; they
  see and may revoke every account (including teachers approved by a District Administrator).
- District Administrators approve teacher and registrar accounts of their own district and see
  no records themselves.

>>> teacher = User("t1", Role.TEACHER, district_id="D1", school_ids=("S1",))
>>> row_scope(teacher)
Scope(kind='school', district_ids=frozenset(), school_ids=frozenset({'S1'}))
>>> from warehouse.dictionary import load_dictionary
>>> can_see_field(teacher, load_dictionary().field("students", "ssn"))
False
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol

from warehouse.dictionary import Field, load_dictionary


class Role(StrEnum):
    """The roles of the policy; the value is what the state database and the CLI store."""

    PUBLIC = "public"
    LEVEL1 = "level1"
    SUPERINTENDENT = "superintendent"
    TEACHER = "teacher"
    REGISTRAR = "registrar"
    REPORTING = "reporting"
    DATA_MANAGER = "data_manager"
    DISTRICT_ADMIN = "district_admin"


ROLE_ALIASES = {"level2": Role.SUPERINTENDENT, "level3": Role.TEACHER, "level4": Role.REGISTRAR}

ScopeKind = Literal["none", "state", "district", "school"]
FieldRule = Literal["public_directory", "clearance", "reporting"]

# Page identifiers the dashboard maps to Streamlit pages. "public" stands for every public page;
# "sign_in" is the account page (sign in, or sign out and change password once signed in).
PAGE_PUBLIC = "public"
PAGE_SIGN_IN = "sign_in"
PAGE_ACCOUNT_REQUEST = "account_request"
PAGE_STAFF_EXPLORER = "staff_explorer"
PAGE_STUDENT_RECORD = "student_record"
PAGE_STUDENT_LOCATOR = "student_locator"
PAGE_APPROVALS = "approvals"
PAGE_AUDIT_TRAIL = "audit_trail"
# Workflow pages of district submissions, ID review, disclosures, retention and the noise budget.
PAGE_SUBMISSIONS = "submissions"
PAGE_ID_REVIEW = "id_review"
PAGE_RESEARCH_REQUESTS = "research_requests"
PAGE_RECORD_REQUESTS = "record_requests"
PAGE_DISCLOSURE_LOG = "disclosure_log"
PAGE_RETENTION = "retention"
PAGE_BUDGET_LEDGER = "budget_ledger"

# The page files of the access pages, relative to the project root, with their titles.
PAGE_FILES: dict[str, tuple[str, str]] = {
    PAGE_SIGN_IN: ("pages/sign_in.py", "Sign in"),
    PAGE_ACCOUNT_REQUEST: ("pages/account_request.py", "Request an account"),
    PAGE_STUDENT_RECORD: ("pages/student_record.py", "Student record"),
    PAGE_STUDENT_LOCATOR: ("pages/student_locator.py", "Student locator"),
    PAGE_APPROVALS: ("pages/approvals.py", "Account approvals"),
    PAGE_AUDIT_TRAIL: ("pages/audit_trail.py", "Audit trail"),
}


@dataclass(frozen=True)
class RoleRule:
    """What one role may do. `clearance` is the policy level (1 highest); None opens no field
    by level. `record_scope` is which students' records the role may open ("none" = none)."""

    role: Role
    label: str
    clearance: int | None
    field_rule: FieldRule
    record_scope: ScopeKind
    needs_district: bool = False
    needs_school: bool = False
    locator: bool = False
    resubmission: bool = False
    reads_audit: bool = False
    approves: frozenset[Role] = frozenset()
    approves_own_district_only: bool = False
    revokes_any: bool = False
    pages: tuple[str, ...] = ()


_SIGNED_IN = (PAGE_PUBLIC, PAGE_SIGN_IN)
_ANY_ACCOUNT = frozenset(Role) - {Role.PUBLIC}

ROLE_RULES: dict[Role, RoleRule] = {
    Role.PUBLIC: RoleRule(
        Role.PUBLIC,
        "The public (aggregates only)",
        clearance=None,
        field_rule="public_directory",
        record_scope="none",
        pages=(PAGE_PUBLIC, PAGE_SIGN_IN, PAGE_ACCOUNT_REQUEST),
    ),
    Role.LEVEL1: RoleRule(
        Role.LEVEL1,
        "Level 1: MDOE data staff",
        clearance=1,
        field_rule="clearance",
        record_scope="state",
        locator=True,
        pages=(
            *_SIGNED_IN,
            PAGE_STAFF_EXPLORER,
            PAGE_STUDENT_RECORD,
            PAGE_STUDENT_LOCATOR,
            PAGE_SUBMISSIONS,
            PAGE_ID_REVIEW,
        ),
    ),
    Role.SUPERINTENDENT: RoleRule(
        Role.SUPERINTENDENT,
        "Level 2: superintendent or designee",
        clearance=2,
        field_rule="clearance",
        record_scope="district",
        needs_district=True,
        resubmission=True,
        pages=(*_SIGNED_IN, PAGE_STUDENT_RECORD, PAGE_SUBMISSIONS),
    ),
    Role.TEACHER: RoleRule(
        Role.TEACHER,
        "Level 3: teacher",
        clearance=3,
        field_rule="clearance",
        record_scope="school",
        needs_district=True,
        needs_school=True,
        pages=(*_SIGNED_IN, PAGE_STUDENT_RECORD),
    ),
    Role.REGISTRAR: RoleRule(
        Role.REGISTRAR,
        "Level 4: registrar (student locator)",
        clearance=4,
        field_rule="clearance",
        record_scope="none",
        needs_district=True,
        locator=True,
        pages=(*_SIGNED_IN, PAGE_STUDENT_LOCATOR),
    ),
    Role.REPORTING: RoleRule(
        Role.REPORTING,
        "MDOE reporting staff",
        clearance=None,
        field_rule="reporting",
        record_scope="none",
        pages=(*_SIGNED_IN, PAGE_STAFF_EXPLORER, PAGE_SUBMISSIONS),
    ),
    Role.DATA_MANAGER: RoleRule(
        Role.DATA_MANAGER,
        "Education Data Manager",
        clearance=1,
        field_rule="clearance",
        record_scope="state",
        locator=True,
        reads_audit=True,
        approves=_ANY_ACCOUNT - {Role.TEACHER, Role.REGISTRAR},
        revokes_any=True,
        pages=(
            *_SIGNED_IN,
            PAGE_STAFF_EXPLORER,
            PAGE_STUDENT_RECORD,
            PAGE_STUDENT_LOCATOR,
            PAGE_APPROVALS,
            PAGE_AUDIT_TRAIL,
            PAGE_SUBMISSIONS,
            PAGE_ID_REVIEW,
            PAGE_RESEARCH_REQUESTS,
            PAGE_RECORD_REQUESTS,
            PAGE_DISCLOSURE_LOG,
            PAGE_RETENTION,
            PAGE_BUDGET_LEDGER,
        ),
    ),
    Role.DISTRICT_ADMIN: RoleRule(
        Role.DISTRICT_ADMIN,
        "District Administrator",
        clearance=None,
        field_rule="public_directory",
        record_scope="none",
        needs_district=True,
        approves=frozenset({Role.TEACHER, Role.REGISTRAR}),
        approves_own_district_only=True,
        pages=(*_SIGNED_IN, PAGE_APPROVALS),
    ),
}


def parse_role(text: str) -> Role:
    """The role named by `text` (a role value, or level2/level3/level4); ValueError otherwise."""
    key = text.strip().lower()
    if key in ROLE_ALIASES:
        return ROLE_ALIASES[key]
    try:
        return Role(key)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {text!r}; use one of: {names}") from None


@dataclass(frozen=True)
class User:
    """A signed-in person (or the public). Built only from the state database: its role,
    district and schools are the stored grant, never request parameters."""

    user_id: str
    role: Role
    name: str = ""
    district_id: str | None = None
    school_ids: tuple[str, ...] = ()

    @property
    def rule(self) -> RoleRule:
        return ROLE_RULES[self.role]

    @property
    def level(self) -> int | None:
        """Policy clearance (1 highest); None when the role opens no field by level."""
        return self.rule.clearance


PUBLIC_USER = User("public", Role.PUBLIC, "The public")


@dataclass(frozen=True)
class Scope:
    """The students whose records a user may open: none, all, or those enrolled (in the current
    school year) in one of `district_ids` / `school_ids`."""

    kind: ScopeKind
    district_ids: frozenset[str] = field(default_factory=frozenset)
    school_ids: frozenset[str] = field(default_factory=frozenset)

    def contains(
        self, district_ids: set[str] | frozenset[str], school_ids: set[str] | frozenset[str]
    ) -> bool:
        """Whether a student currently enrolled in these districts/schools is in scope."""
        if self.kind == "state":
            return True
        if self.kind == "district":
            return bool(self.district_ids & set(district_ids))
        if self.kind == "school":
            return bool(self.school_ids & set(school_ids))
        return False


NO_SCOPE = Scope("none")


class _HasRoleAndDistrict(Protocol):
    role: Role
    district_id: str | None


def can_see_field(user: User, field: Field) -> bool:
    """Level 1 is the highest; a field of level L is visible to users of clearance <= L.

    Reporting staff see the fields marked `reporting`; the public and District Administrators
    see directory fields marked `public_directory` only.
    """
    rule = user.rule
    if rule.field_rule == "clearance":
        return rule.clearance is not None and rule.clearance <= field.access_level
    if rule.field_rule == "reporting":
        return field.reporting
    return field.public_directory


def visible_fields(user: User, table: str) -> list[str]:
    """The fields of `table` the user may see, in column order (KeyError for unknown tables)."""
    return [f.name for f in load_dictionary().table(table).fields if can_see_field(user, f)]


def row_scope(user: User) -> Scope:
    """The students whose records `user` may open, from the user's stored district/schools.

    A role that needs a district or school the user does not have gets no scope at all.
    """
    rule = user.rule
    if rule.record_scope == "state":
        return Scope("state")
    if rule.record_scope == "district" and user.district_id:
        return Scope("district", district_ids=frozenset({user.district_id}))
    if rule.record_scope == "school" and user.school_ids:
        return Scope("school", school_ids=frozenset(user.school_ids))
    return NO_SCOPE


def can_view_records(user: User) -> bool:
    """Whether the user may open individual student records at all (within `row_scope`)."""
    return row_scope(user).kind != "none"


def can_use_locator(user: User) -> bool:
    """Whether the user may search the statewide student locator (level-4 fields only)."""
    return user.rule.locator


def can_request_resubmission(user: User) -> bool:
    """Whether the user may direct that a student's records be resubmitted (Level 2)."""
    return user.rule.resubmission and row_scope(user).kind != "none"


def can_read_audit(user: User) -> bool:
    """Whether the user may read the audit trail (the Education Data Manager)."""
    return user.rule.reads_audit


def can_approve(approver: User, request: _HasRoleAndDistrict) -> bool:
    """Whether `approver` may approve (or deny) an account request or revoke an account.

    District Administrators decide teacher and registrar accounts of their own district; the
    Education Data Manager decides all other roles. Nobody decides a public "account".
    """
    rule = approver.rule
    if request.role not in rule.approves:
        return False
    if rule.approves_own_district_only:
        return approver.district_id is not None and request.district_id == approver.district_id
    return True


def can_revoke(actor: User, target: _HasRoleAndDistrict) -> bool:
    """Whether `actor` may revoke an account (and see it and its decisions on the approvals
    page): whoever may approve such an account, and the Education Data Manager for every
    account, since the policy makes them answer for all access."""
    return actor.rule.revokes_any or can_approve(actor, target)


def pages_for(user: User | None) -> tuple[str, ...]:
    """The page identifiers `user` may open (None = not signed in = the public)."""
    return (user or PUBLIC_USER).rule.pages


def roles_allowed_page(page: str) -> frozenset[Role]:
    """The roles that may open `page` (for the dashboard's navigation and for tests)."""
    return frozenset(r for r, rule in ROLE_RULES.items() if page in rule.pages)
