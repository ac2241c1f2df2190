"""Releasing tables: request validation, table shape, linked cells, custom tables attacked."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from privacy import TableRequest, public_release, release_table
from privacy.policy import load_policy
from privacy.registry import known_cells, releases
from privacy.release import (
    ReleaseRefusedError,
    _snapshot,
    _units_for,
    audit_year,
    build_system,
)
from privacy.tables import ProtectedTable
from tests.conftest import RELEASE_YEAR as YEAR


class Staff:
    def __init__(self, user_id: str) -> None:
        self.user_id = user_id


# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(measure="income", school_year=YEAR), "unknown measure"),
        (dict(measure="enrollment", school_year="2024"), "YYYY-YY"),
        (dict(measure="enrollment", school_year="2024-26"), "YYYY-YY"),
        (dict(measure="enrollment", school_year=YEAR, geography="county"), "geography"),
        (dict(measure="enrollment", school_year=YEAR, dimensions=("subject",)), "not valid"),
        (dict(measure="staff", school_year=YEAR, dimensions=("race_ethnicity",)), "not valid"),
        (dict(measure="graduation", school_year=YEAR, dimensions=("grade",)), "not valid"),
        (dict(measure="programs", school_year=YEAR, dimensions=("grade",)), "program flag"),
        (
            dict(measure="enrollment", school_year=YEAR, filters=(("race_ethnicity", "ZZ"),)),
            "not a code",
        ),
        (
            dict(measure="assessment", school_year=YEAR, filters=(("subject", "math"),)),
            "not a code",
        ),
        (
            dict(
                measure="enrollment",
                school_year=YEAR,
                dimensions=("gender",),
                filters=(("gender", "F"),),
            ),
            "both a dimension and a filter",
        ),
        (
            dict(measure="enrollment", school_year=YEAR, filters=(("district_id", "1"),)),
            "state table cannot be filtered",
        ),
        (
            dict(measure="graduation", school_year=YEAR, filters=(("outcome", "DROPPED_OUT"),)),
            "cannot be filtered",
        ),
        (dict(measure="enrollment", school_year=YEAR, filters=(("ssn", "1"),)), "cannot filter"),
    ],
)
def test_bad_requests_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TableRequest(**kwargs)


def test_unknown_year_and_unit(released_db) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="unknown school year"):
        release_table(released_db, TableRequest("enrollment", "1999-00"))
    with pytest.raises(ValueError, match="unknown district_id"):
        release_table(
            released_db, TableRequest("enrollment", YEAR, "school", (), (("district_id", "x"),))
        )
    with pytest.raises(ValueError, match="unknown school_id"):
        release_table(
            released_db, TableRequest("enrollment", YEAR, "school", (), (("school_id", "'; --"),))
        )


# -- the public release ----------------------------------------------------------------------


def test_public_release_has_every_table_and_is_reused(released_db) -> None:  # noqa: ANN001
    rel = public_release(released_db, YEAR)
    assert rel is public_release(released_db, YEAR)
    assert len(releases(released_db, kind="public", school_year=YEAR)) == 1
    for name, table in rel.tables.items():
        assert isinstance(table, ProtectedTable)
        assert table.release_id == rel.release_id, name
        assert table.data.height > 0, name
    with pytest.raises(ValueError, match="no public table"):
        rel.table("nope")


def test_release_is_rebuilt_identically_from_the_registry(released_db) -> None:  # noqa: ANN001
    rel = public_release(released_db, YEAR)
    _snapshot(released_db).public.clear()  # as a fresh process would see it
    again = public_release(released_db, YEAR)
    assert again is not rel and again.release_id == rel.release_id
    for name, table in rel.tables.items():
        assert again.tables[name].data.equals(table.data), name


def test_tables_are_tidy_with_all_margins(released_db) -> None:  # noqa: ANN001
    rel = public_release(released_db, YEAR)
    grade = rel.table("enrollment_school_grade").data
    assert {"district_id", "district_name", "school_id", "school_name", "grade"} <= set(
        grade.columns
    )
    assert grade.schema["count"] == pl.Int64 and grade.schema["rate"] == pl.Float64
    assert (grade.group_by("school_id").agg((pl.col("grade") == "All").sum())["grade"] == 1).all()
    asm = rel.table("assessment_state").data
    assert set(asm["performance_level"]) == {"1", "2", "3", "4", "P34", "All"}
    assert set(asm["subject"]) == {"ELA", "MATH", "SCI"}
    grad = rel.table("graduation_state").data
    tested = grad.filter(pl.col("outcome") == "All")
    assert (tested["rate_display"] == "").all()
    staff = rel.table("staff_state_role").data
    assert (staff["status"] == "shown").all() and "fte" in staff.columns
    assert not any("ssn" in c for c in staff.columns)


def test_shown_values_respect_every_sum(released_db) -> None:  # noqa: ANN001
    """Shown parts never exceed their shown total, and a fully shown sum is exact."""
    snap = _snapshot(released_db)
    rel = public_release(released_db, YEAR)
    layouts = [snap.layout(e.request) for e in rel.catalogue if e.request.measure != "staff"]
    system = build_system(layouts, {})
    shown: dict[str, int] = {}
    for e, lay in zip(
        [e for e in rel.catalogue if e.request.measure != "staff"], layouts, strict=True
    ):
        data = rel.tables[e.name].data
        for key, count in zip(lay.rows["cell_key"], data["count"], strict=True):
            if count is not None:
                assert shown.setdefault(key, count) == count, f"{key} shown twice differently"
    for parent, children in system.constraints:
        p = shown.get(system.keys[parent])
        kids = [shown.get(system.keys[c]) for c in children]
        if p is not None and all(k is not None for k in kids):
            assert p == sum(kids)


def test_linked_cells_agree_across_tables(released_db) -> None:  # noqa: ANN001
    rel = public_release(released_db, YEAR)
    totals = []
    for name in (
        "enrollment_school_grade",
        "enrollment_school_race_ethnicity",
        "enrollment_school_gender",
        "programs_school_english_learner",
    ):
        data = rel.table(name).data
        dim = rel.table(name).dimensions[0]
        totals.append(
            data.filter(pl.col(dim) == "All").select("school_id", "count_display").sort("school_id")
        )
    for other in totals[1:]:
        assert other.equals(totals[0])


def test_rates_are_shown_only_over_shown_counts(released_db) -> None:  # noqa: ANN001
    policy = load_policy()
    for table in public_release(released_db, YEAR).tables.values():
        d = table.data
        with_rate = d.filter(pl.col("rate").is_not_null())
        assert with_rate["count"].null_count() == 0
        assert (with_rate["denominator_display"] != "*").all()
        assert (with_rate["denominator_display"].cast(pl.Int64) >= policy.min_cell).all()
        coded = d.filter(pl.col("status") == "coded")
        assert coded["count"].null_count() == coded.height
        assert coded["rate_display"].str.contains(r"^(<=|>=)\d|^\*$").all()


def test_chart_frame_hides_what_is_hidden(released_db) -> None:  # noqa: ANN001
    table = public_release(released_db, YEAR).table("graduation_school_race_ethnicity")
    chart = table.chart_frame()
    hidden = chart.filter(pl.col("marker") != "")
    assert hidden.height > 0
    assert hidden["count"].null_count() == hidden.height
    assert hidden["rate"].null_count() == hidden.height
    assert set(hidden["count_display"]) == {"*"}


# -- custom tables ---------------------------------------------------------------------------


def _attack_bounds(
    snap,
    layouts,
    shown: dict[str, int],
    targets: list[str],  # noqa: ANN001
) -> dict[str, tuple[float, float]]:
    """Integer min/max of each target from shown values and the tables' sums (scipy MILP)."""
    system = build_system(layouts, _units_for(snap, YEAR))
    hidden = [i for i, k in enumerate(system.keys) if k not in shown]
    col = {c: j for j, c in enumerate(hidden)}
    rows, rhs = [], []
    for parent, children in system.constraints:
        coef = {parent: 1.0}
        for c in children:
            coef[c] = coef.get(c, 0.0) - 1.0
        row = np.zeros(len(hidden))
        b = 0.0
        for c, v in coef.items():
            if c in col:
                row[col[c]] += v
            else:
                b -= v * shown[system.keys[c]]
        if row.any():
            rows.append(row)
            rhs.append(b)
    a = np.array(rows)
    out = {}
    for key in targets:
        j = col[system.index[key]]
        bounds = []
        for sense in (1.0, -1.0):
            c = np.zeros(len(hidden))
            c[j] = sense
            res = milp(
                c,
                constraints=[LinearConstraint(a, rhs, rhs)],
                integrality=np.ones(len(hidden)),
                bounds=Bounds(0, 10**6),
            )
            assert res.status == 0, res.message
            bounds.append(round(res.x[j]))
        out[key] = (bounds[0], bounds[1])
    return out


def _biggest_district(db) -> str:  # noqa: ANN001
    schools = _snapshot(db).units("enrollment", YEAR)
    return schools.group_by("district_id").len().sort("len", descending=True)["district_id"][0]


def test_custom_table_cannot_undo_public_suppression(released_db) -> None:  # noqa: ANN001
    """A race x gender cross of a district's schools shares the race and gender totals of the
    public tables. Released with primary suppression only, it lets an attacker solve for a
    cell the public release hid; released through `release_table` it does not."""
    snap = _snapshot(released_db)
    policy = load_policy()
    rel = public_release(released_db, YEAR)
    district = _biggest_district(released_db)
    request = TableRequest(
        "enrollment", YEAR, "school", ("race_ethnicity", "gender"), (("district_id", district),)
    )
    public_layouts = [snap.layout(e.request) for e in rel.catalogue if e.request.measure != "staff"]
    custom_layout = snap.layout(request)
    before = known_cells(released_db, snap.build_id, YEAR)
    values = dict(zip(custom_layout.rows["cell_key"], custom_layout.rows["value"], strict=True))
    public_shown = {}
    for lay in public_layouts:
        for k, v in zip(lay.rows["cell_key"], lay.rows["value"], strict=True):
            if before.statuses[k] == "shown":
                public_shown[k] = v
    targets = [k for k in values if before.statuses.get(k) == "suppressed_small"]
    assert targets, "the district has no small race or gender total; pick another fixture"

    # 1. the naive custom table (primary suppression only) leaks a public small cell
    naive = dict(public_shown)
    naive.update({k: v for k, v in values.items() if not policy.is_small(v)})
    leaks = _attack_bounds(snap, [*public_layouts, custom_layout], naive, targets)
    assert any(hi - lo < policy.min_interval_width for lo, hi in leaks.values()), leaks

    # 2. the jointly protected custom table does not
    table = release_table(released_db, request, Staff("analyst-1"))
    shown = dict(public_shown)
    for k, count in zip(custom_layout.rows["cell_key"], table.data["count"], strict=True):
        if count is not None:
            shown[k] = count
            assert before.statuses.get(k, "shown") == "shown", f"{k} was hidden before"
        else:
            assert before.statuses.get(k, "hidden") != "shown", f"{k} was shown before"
    bounds = _attack_bounds(snap, [*public_layouts, custom_layout], shown, targets)
    for key, (lo, hi) in bounds.items():
        assert hi - lo >= policy.min_interval_width and hi >= policy.min_upper_bound, key
    assert table.data.filter(pl.col("status") != "shown").height > sum(
        policy.is_small(v) for v in values.values()
    ), "joint protection must hide more than the small cells"
    report = audit_year(released_db, YEAR)
    assert report.ok, (report.problems, report.report.violations[:5])


def test_repeat_requests_are_consistent(released_db) -> None:  # noqa: ANN001
    district = _biggest_district(released_db)
    request = TableRequest("graduation", YEAR, "school", ("gender",), (("district_id", district),))
    first = release_table(released_db, request, Staff("a"))
    second = release_table(released_db, request, Staff("b"))
    public = release_table(released_db, request)
    assert first.release_id != second.release_id
    for other in (second, public):
        assert other.data.drop("reason").equals(first.data.drop("reason"))
    mine = [r for r in releases(released_db, kind="custom") if r.request == request.to_json()]
    assert {r.created_by for r in mine} >= {"a", "b"}


def test_public_catalogue_subset_is_served_from_the_public_release(released_db) -> None:  # noqa: ANN001
    rel = public_release(released_db, YEAR)
    district = _biggest_district(released_db)
    request = TableRequest("enrollment", YEAR, "school", ("grade",), (("district_id", district),))
    n = len(releases(released_db))
    table = release_table(released_db, request)
    assert len(releases(released_db)) == n  # nothing new released
    full = rel.table("enrollment_school_grade").data.filter(pl.col("district_id") == district)
    assert table.data.select("school_id", "grade", "count_display").equals(
        full.select("school_id", "grade", "count_display")
    )


def test_refused_table_records_nothing(released_db, monkeypatch) -> None:  # noqa: ANN001
    import privacy.suppression as suppression

    def impossible(*args, **kwargs):  # noqa: ANN002, ANN003
        raise suppression.ProtectionError("cannot", [])

    monkeypatch.setattr(suppression, "protect", impossible)
    n = len(releases(released_db))
    request = TableRequest("enrollment", YEAR, "district", ("grade", "gender"))
    with pytest.raises(ReleaseRefusedError, match="consistently"):
        release_table(released_db, request, Staff("x"))
    assert len(releases(released_db)) == n


def test_public_gets_only_the_public_release(released_db) -> None:  # noqa: ANN001
    n = len(releases(released_db))
    request = TableRequest("enrollment", YEAR, "district", ("grade", "gender"))
    with pytest.raises(ReleaseRefusedError, match="not part of the public release"):
        release_table(released_db, request)
    assert len(releases(released_db)) == n


def test_filtered_tables_are_tied_to_the_unfiltered_one(released_db) -> None:  # noqa: ANN001
    """Two custom tables filtered to gender F and M, next to the public school x race table:
    the attacker adds them up (the rest is gender X). The cell system must know that sum, with
    a latent cell for the codes no table published (never recorded, protected if small)."""
    from privacy.release import _filter_sums, is_latent

    snap = _snapshot(released_db)
    base = TableRequest("enrollment", YEAR, "school", ("race_ethnicity",))
    female = TableRequest("enrollment", YEAR, "school", ("race_ethnicity",), (("gender", "F"),))
    male = TableRequest("enrollment", YEAR, "school", ("race_ethnicity",), (("gender", "M"),))
    layouts = [snap.layout(r) for r in (base, female, male)]
    system = build_system(layouts, _units_for(snap, YEAR))
    sums = {system.keys[p]: [system.keys[c] for c in kids] for p, kids in system.constraints}
    parent = next(k for k in layouts[0].rows["cell_key"] if k.endswith("race_ethnicity=WH;"))
    head = parent.rsplit("|", 1)[0]
    tied = [kids for p, kids in sums.items() if p == parent and any("gender=F" in k for k in kids)]
    assert len(tied) == 1
    kids = tied[0]
    assert f"{head}|gender=F;race_ethnicity=WH;" in kids
    assert f"{head}|gender=M;race_ethnicity=WH;" in kids
    latent = [k for k in kids if is_latent(k)]
    assert len(latent) == 1 and latent[0].endswith("gender=X")
    values = dict(zip(system.keys, system.values.tolist(), strict=True))
    assert values[parent] == sum(values[k] for k in kids)
    # every group is complete: all codes released means no latent cell, and the sum must hold
    keys = ["m|S:1|", "m|S:1|gender=F;", "m|S:1|gender=M;", "m|S:1|gender=X;"]
    ((p, children, rest),) = _filter_sums(keys, np.array([9, 4, 5, 0]))
    assert (p, children, rest) == ("m|S:1|", [1, 2, 3], None)
    with pytest.raises(RuntimeError, match="do not add up"):
        _filter_sums(keys, np.array([9, 4, 4, 0]))
