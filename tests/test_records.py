"""Student records through the API: only permitted fields, only students in the stored scope,
the Level 2 resubmission action, the rate-limited Level 4 locator, and every view audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacy.access import ROLE_RULES, Role, User
from privacy.audit_log import search_entries, verify_chain
from privacy.records import (
    LocatorLimits,
    LocatorRateLimitError,
    RecordAccessError,
    RecordNotFoundError,
    locate_student,
    request_resubmission,
    resubmission_requests,
    students_in_scope,
    view_student_record,
)
from tests.access_helpers import memory_folder, placements, private_db, query
from warehouse.dictionary import load_dictionary

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
LEVEL = {(f.table, f.name): f.access_level for f in load_dictionary().fields()}


@pytest.fixture(scope="module")
def db(built_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with memory_folder(tmp_path_factory.mktemp("records")) as folder:
        yield private_db(built_db, folder)


@pytest.fixture(scope="module")
def world(db: Path) -> dict:
    """A home school and district, and students in it, elsewhere in the district, and outside."""
    place = placements(db)
    by_school: dict[str, list[str]] = {}
    for sid, spots in place.items():
        for _, school in spots:
            by_school.setdefault(school, []).append(sid)
    district_of = dict(query(db, "SELECT school_id, district_id FROM schools"))
    home_school = max(by_school, key=lambda s: len(by_school[s]))
    home = district_of[home_school]
    only = {sid for sid, spots in place.items() if len(spots) == 1}
    in_school = sorted(s for s in by_school[home_school] if s in only)
    same_district = sorted(
        sid
        for sid, spots in place.items()
        if sid in only and spots[0][0] == home and spots[0][1] != home_school
    )
    outside = sorted(sid for sid, spots in place.items() if sid in only and spots[0][0] != home)
    not_enrolled = sorted(
        r[0] for r in query(db, "SELECT state_student_id FROM students") if r[0] not in place
    )
    return {
        "home": home,
        "school": home_school,
        "in_school": in_school,
        "same_district": same_district,
        "outside": outside,
        "not_enrolled": not_enrolled,
        "place": place,
        "district_of": district_of,
    }


def make(role: Role, world: dict) -> User:
    rule = ROLE_RULES[role]
    return User(
        f"t-{role.value}",
        role,
        district_id=world["home"] if rule.needs_district else None,
        school_ids=(world["school"],) if rule.needs_school else (),
    )


def ssn_of(db: Path, sid: str) -> str | None:
    return query(db, "SELECT ssn FROM students WHERE state_student_id = ?", [sid])[0][0]


# Which placement each record-viewing role may open, by hand.
RECORD_TABLE = [
    (Role.LEVEL1, "in_school", True),
    (Role.LEVEL1, "same_district", True),
    (Role.LEVEL1, "outside", True),
    (Role.LEVEL1, "not_enrolled", True),
    (Role.DATA_MANAGER, "outside", True),
    (Role.SUPERINTENDENT, "in_school", True),
    (Role.SUPERINTENDENT, "same_district", True),
    (Role.SUPERINTENDENT, "outside", False),
    (Role.SUPERINTENDENT, "not_enrolled", False),
    (Role.TEACHER, "in_school", True),
    (Role.TEACHER, "same_district", False),
    (Role.TEACHER, "outside", False),
    (Role.TEACHER, "not_enrolled", False),
]


@pytest.mark.parametrize("role, where, allowed", RECORD_TABLE)
def test_record_view_scope(db: Path, world: dict, role: Role, where: str, allowed: bool) -> None:
    if not world[where]:
        pytest.skip(f"the test warehouse has no {where} student")
    sid = world[where][0]
    user = make(role, world)
    if allowed:
        record = view_student_record(db, user, sid)
        assert record.sections["students"][0]["state_student_id"] == sid
        entry = search_entries(db, actor=user.user_id, action_prefix="record.view", limit=1)[0]
        assert entry.action == "record.view" and entry.details["student_id"] == sid
        assert entry.details["fields"] == list(record.fields_shown)
    else:
        with pytest.raises(RecordNotFoundError) as err:
            view_student_record(db, user, sid)
        with pytest.raises(RecordNotFoundError) as missing:
            view_student_record(db, user, "000000000")
        assert str(err.value) == str(missing.value)  # no oracle for who exists
        entry = search_entries(db, actor=user.user_id, limit=1)[0]
        assert entry.action == "record.view_denied"


@pytest.mark.parametrize("role", [Role.REGISTRAR, Role.REPORTING, Role.DISTRICT_ADMIN, Role.PUBLIC])
def test_roles_without_records_are_refused(db: Path, world: dict, role: Role) -> None:
    user = make(role, world)
    with pytest.raises(RecordAccessError):
        view_student_record(db, user, world["in_school"][0])
    assert students_in_scope(db, user) == []


@pytest.mark.parametrize(
    "role, shown, withheld",
    [
        (Role.LEVEL1, {"ssn", "mainecare_id", "guardian_name", "race_ethnicity"}, set()),
        (Role.SUPERINTENDENT, {"guardian_name", "race_ethnicity"}, {"ssn", "mainecare_id"}),
        (Role.TEACHER, {"race_ethnicity", "first_name"}, {"guardian_name", "ssn", "mainecare_id"}),
    ],
)
def test_record_fields_by_level(
    db: Path, world: dict, role: Role, shown: set, withheld: set
) -> None:
    sid = world["in_school"][0]
    record = view_student_record(db, make(role, world), sid)
    student = record.sections["students"][0]
    assert shown <= set(student) and not (withheld & set(student))
    clearance = ROLE_RULES[role].clearance
    for table, rows in record.sections.items():
        for row in rows:
            for name in row:
                assert LEVEL[(table, name)] >= clearance
    secret = ssn_of(db, sid)
    if secret and "ssn" in withheld:
        assert secret not in repr(record)
    if role == Role.TEACHER:
        assert "program_participation" in record.sections
        assert all(
            "economically_disadvantaged" not in r for r in record.sections["program_participation"]
        )


def test_students_in_scope_lists_only_scope(db: Path, world: dict) -> None:
    teacher = make(Role.TEACHER, world)
    rows = students_in_scope(db, teacher, limit=10_000)
    ids = {r["state_student_id"] for r in rows}
    assert ids and all(world["school"] in {s for _, s in world["place"][i]} for i in ids)
    sup_ids = {
        r["state_student_id"]
        for r in students_in_scope(db, make(Role.SUPERINTENDENT, world), limit=10_000)
    }
    assert ids <= sup_ids
    assert all(world["home"] in {d for d, _ in world["place"][i]} for i in sup_ids)
    first = rows[0]
    found = students_in_scope(db, teacher, name_contains=first["last_name"].upper())
    assert first["state_student_id"] in {r["state_student_id"] for r in found}
    assert set(first) == {"state_student_id", "first_name", "last_name", "grade", "school_id"}


def test_resubmission(db: Path, world: dict) -> None:
    sup = make(Role.SUPERINTENDENT, world)
    sid = world["same_district"][0] if world["same_district"] else world["in_school"][0]
    req = request_resubmission(db, sup, sid, reason="Grade level looks wrong for 2025-26.", now=T0)
    assert req.district_id == world["home"] and req.state_student_id == sid
    assert req in resubmission_requests(db, sup)
    assert req in resubmission_requests(db, make(Role.LEVEL1, world))
    assert resubmission_requests(db, make(Role.TEACHER, world)) == []
    with pytest.raises(RecordAccessError):
        request_resubmission(
            db, make(Role.TEACHER, world), world["in_school"][0], reason="looks wrong to me"
        )
    if world["outside"]:
        with pytest.raises(RecordNotFoundError):
            request_resubmission(db, sup, world["outside"][0], reason="not my student at all")
    with pytest.raises(ValueError, match="correcting"):
        request_resubmission(db, sup, sid, reason="bad")
    assert (
        search_entries(db, action_prefix="record.resubmission", limit=1)[0].details["student_id"]
        == sid
    )


def _identity(db: Path, sid: str) -> tuple[str, str, object]:
    return query(
        db,
        "SELECT first_name, last_name, birth_date FROM students WHERE state_student_id = ?",
        [sid],
    )[0]


def test_locator_returns_level_four_fields_only(db: Path, world: dict) -> None:
    registrar = make(Role.REGISTRAR, world)
    sid = world["outside"][0] if world["outside"] else world["in_school"][0]
    first, last, born = _identity(db, sid)
    for user in (registrar, make(Role.LEVEL1, world)):
        matches = locate_student(
            db,
            user,
            first_name=f"  {first.upper()} ",
            last_name=last.lower(),
            birth_date=born.isoformat(),
            now=T0,
        )
        assert sid in [m.state_student_id for m in matches]
        for m in matches:
            for name in m.fields:
                levels = {
                    LEVEL[(t, name)]
                    for t in ("students", "enrollments", "program_participation")
                    if (t, name) in LEVEL
                }
                assert levels == {4}, name
            assert (
                "ssn" not in m.fields
                and "race_ethnicity" not in m.fields
                and "entry_date" not in m.fields
            )
    entry = search_entries(db, actor=registrar.user_id, action_prefix="locator.search", limit=1)[0]
    assert sid in entry.details["result_student_ids"]
    assert entry.details["actor_district_id"] == world["home"]


def test_locator_former_district_filter_and_refusals(db: Path, world: dict) -> None:
    registrar = make(Role.REGISTRAR, world)
    sid = world["in_school"][0]
    first, last, born = _identity(db, sid)
    assert locate_student(
        db,
        registrar,
        first_name=first,
        last_name=last,
        birth_date=born,
        former_district_id=world["home"],
    )
    other = next(d for d in set(world["district_of"].values()) if d != world["home"])
    hits = locate_student(
        db, registrar, first_name=first, last_name=last, birth_date=born, former_district_id=other
    )
    assert sid not in [m.state_student_id for m in hits]
    wrong_day = locate_student(
        db, registrar, first_name=first, last_name=last, birth_date=born + timedelta(days=1)
    )
    assert sid not in [m.state_student_id for m in wrong_day]
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        locate_student(db, registrar, first_name=first, last_name=last, birth_date="03/04/2010")
    with pytest.raises(ValueError, match="first and last"):
        locate_student(db, registrar, first_name=" ", last_name=last, birth_date=born)
    for role in (
        Role.TEACHER,
        Role.SUPERINTENDENT,
        Role.REPORTING,
        Role.DISTRICT_ADMIN,
        Role.PUBLIC,
    ):
        with pytest.raises(RecordAccessError):
            locate_student(db, make(role, world), first_name=first, last_name=last, birth_date=born)


def test_locator_rate_limit(db: Path, world: dict) -> None:
    user = User("busy.registrar", Role.REGISTRAR, district_id=world["home"])
    limits = LocatorLimits(max_searches=3, window=timedelta(minutes=10))
    for i in range(3):
        locate_student(
            db,
            user,
            first_name="Nobody",
            last_name="Here",
            birth_date="2010-01-01",
            limits=limits,
            now=T0 + timedelta(minutes=i),
        )
    with pytest.raises(LocatorRateLimitError):
        locate_student(
            db,
            user,
            first_name="Nobody",
            last_name="Here",
            birth_date="2010-01-01",
            limits=limits,
            now=T0 + timedelta(minutes=5),
        )
    # the first search leaves the window at T0 + 10 minutes
    locate_student(
        db,
        user,
        first_name="Nobody",
        last_name="Here",
        birth_date="2010-01-01",
        limits=limits,
        now=T0 + timedelta(minutes=10, seconds=1),
    )
    actions = [e.action for e in search_entries(db, actor=user.user_id)]
    assert actions.count("locator.search") == 4 and actions.count("locator.rate_limited") == 1


def test_audit_chain_holds_after_record_activity(db: Path) -> None:
    assert verify_chain(db).ok


# --- property: random users and random students, through the API


@pytest.fixture(scope="module")
def pool(db: Path, world: dict) -> dict:
    districts = sorted(set(world["district_of"].values()))
    schools = sorted(world["district_of"])
    students = (
        world["in_school"][:5]
        + world["same_district"][:5]
        + world["outside"][:5]
        + world["not_enrolled"][:3]
    )
    return {"districts": districts, "schools": schools, "students": students}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_users_never_see_out_of_scope_rows_or_high_fields(
    db: Path, world: dict, pool: dict, data: st.DataObject
) -> None:
    role = data.draw(st.sampled_from(list(Role)))
    user = User(
        "prop.user",
        role,
        district_id=data.draw(st.sampled_from([None, *pool["districts"]])),
        school_ids=tuple(data.draw(st.lists(st.sampled_from(pool["schools"]), max_size=2))),
    )
    sid = data.draw(st.sampled_from(pool["students"]))
    spots = world["place"].get(sid, [])
    rule = ROLE_RULES[role]
    expected = {
        "state": True,
        "district": user.district_id is not None and user.district_id in {d for d, _ in spots},
        "school": bool(set(user.school_ids) & {s for _, s in spots}),
        "none": False,
    }[rule.record_scope]
    try:
        record = view_student_record(db, user, sid)
    except RecordAccessError:
        assert rule.record_scope == "none" or not expected
        return
    except RecordNotFoundError:
        assert not expected
        return
    assert expected, f"{role} saw {sid} outside its scope"
    for table, rows in record.sections.items():
        for row in rows:
            if "state_student_id" in row:
                assert row["state_student_id"] == sid
            for name in row:
                assert rule.clearance is not None and LEVEL[(table, name)] >= rule.clearance
