"""Releasing tables: request validation, table shape, linked cells, custom tables attacked."""

from __future__ import annotations

import threading

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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


def _public_year(db: str) -> tuple[list, dict[str, pl.DataFrame]]:
    """The public catalogue's tables of `YEAR` laid out (the staff tables aside: they have a
    release of their own), and the year's units."""
    from privacy.catalogue import public_catalogue

    snap = _snapshot(db)
    entries = [e for e in public_catalogue(YEAR) if e.request.measure != "staff"]
    return [snap.layout(e.request) for e in entries], _units_for(snap, YEAR)


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
        (dict(measure="enrollment", school_year=YEAR, proficiency_only=True), "assessment"),
        (dict(measure="assessment", school_year=YEAR, proficiency_only="yes"), "true or false"),
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


def test_a_release_read_back_renders_only_the_tables_asked_for(released_db, monkeypatch) -> None:  # noqa: ANN001
    import privacy.release as release_module

    rel = public_release(released_db, YEAR)
    rel.render_all()  # compared with below: rendered here, not counted (in any test order)
    _snapshot(released_db).public.clear()  # as a fresh process would see it
    rendered: list[str] = []
    render = release_module._render

    def counting(snap, request, *args):  # noqa: ANN001, ANN002, ANN202
        rendered.append(request.to_json())
        return render(snap, request, *args)

    monkeypatch.setattr(release_module, "_render", counting)
    again = public_release(released_db, YEAR)
    assert rendered == []  # a page opening a year waits for no table it does not show
    assert list(again.tables) == list(rel.tables) and len(again.tables) == len(rel.tables)
    name = next(iter(rel.tables))
    assert again.table(name).data.equals(rel.tables[name].data)
    assert again.table(name) is again.table(name) and len(rendered) == 1
    with pytest.raises(ValueError, match="no public table"):
        again.table("nope")
    assert "nope" not in again.tables and len(rendered) == 1
    # a server renders the rest ahead: each once, the same tables, and none after a stop
    stop = threading.Event()
    stop.set()
    again.render_all(stop=stop)
    assert len(rendered) == 1
    again.render_all()
    assert sorted(rendered) == sorted(e.request.to_json() for e in again.catalogue)
    again.render_all()
    assert len(rendered) == len(again.catalogue)
    for n, table in rel.tables.items():
        assert again.tables[n].data.equals(table.data), n


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


def test_district_subgroup_assessment_is_proficiency_only(released_db) -> None:  # noqa: ANN001
    rel = public_release(released_db, YEAR)
    state = rel.table("assessment_state_gender").data
    assert set(state["performance_level"]) == {"1", "2", "3", "4", "P34", "All"}
    district = rel.table("assessment_district_gender")
    assert district.request.proficiency_only
    assert "proficiency" in district.title
    assert set(district.data["performance_level"]) == {"P12", "P34", "All"}
    # the attacker knows tested = not proficient + proficient: it is an equation of the table
    layout = _snapshot(released_db).layout(district.request)
    values = dict(zip(layout.rows["cell_key"], layout.rows["value"], strict=True))
    level = "performance_level"
    sums = [(p, c) for p, c in layout.constraints if level not in p and level in c[0]]
    assert len(sums) == layout.rows.height // 3
    for parent, children in sums:
        assert [k.split("performance_level=")[1][:3] for k in children] == ["P12", "P34"]
        assert values[parent] == sum(values[c] for c in children)
    # the same cells as the full district table: one cell system, so the same shown values
    full = rel.table("assessment_district").data
    mine = district.data.filter(
        (pl.col("gender") == "All") & (pl.col("performance_level") != "P12")
    )
    both = mine.join(full, on=["district_id", "subject", "performance_level"], suffix="_full")
    assert both.height == mine.height
    assert (both["status"] == both["status_full"]).all()
    assert (both["count_display"] == both["count_display_full"]).all()
    request = district.request
    assert TableRequest.from_json(request.to_json()) == request
    plain = TableRequest("assessment", YEAR, "district", ("gender",))
    assert "proficiency_only" not in plain.to_json()


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
    from privacy.cell_build import _filter_sums, is_latent

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


def test_public_release_is_protected_top_down(built_db, monkeypatch) -> None:  # noqa: ANN001
    """State tables first, then districts with the state fixed, then schools."""
    import privacy.release as release_module
    from privacy.catalogue import public_catalogue

    snap = release_module._snapshot(built_db)
    entries = [e for e in public_catalogue(YEAR) if e.request.measure != "staff"]
    layouts = [snap.layout(e.request) for e in entries]
    calls: list[tuple[set[str], dict[str, str], dict[str, str]]] = []
    real = release_module._protect

    def spy(stage, units, policy, *, known=None, **kwargs):  # noqa: ANN001, ANN003, ANN202
        result = real(stage, units, policy, known=known, **kwargs)
        calls.append(({lay.request.geography for lay in stage}, dict(known), result.statuses))
        return result

    monkeypatch.setattr(release_module, "_protect", spy)
    final = release_module._protect_top_down(
        layouts, release_module._units_for(snap, YEAR), load_policy()
    ).statuses
    levels = [geos for geos, _, _ in calls]
    assert levels[:2] == [{"state"}, {"state", "district"}]
    assert levels[-1] == {"state", "district", "school"}
    state_only = calls[0][2]
    assert state_only and calls[0][1] == {}
    # the district level is protected with every state cell fixed, and keeps them
    assert calls[1][1] == state_only
    assert {k: final[k] for k in state_only} == state_only
    assert set(final) == {k for lay in layouts for k in lay.rows["cell_key"].to_list()}


def test_districts_mostly_hidden_anyway_are_protected_with_their_schools(
    built_db,  # noqa: ANN001
    monkeypatch,  # noqa: ANN001
) -> None:
    """A population whose district cells are mostly hidden whatever the pattern (small, or
    behind a coded rate) is protected in two stages, state first and then districts with
    schools, the state statuses fixed; the others level by level. The share decides: with a
    threshold of 0 every population goes so, above 1 none does, and the result passes the
    attacker either way."""
    from dataclasses import replace

    import privacy.release as release_module
    from privacy.tables import hide_required

    layouts, units = _public_year(built_db)
    policy = load_policy()
    stages: dict[str, list[tuple[set[str], dict[str, str]]]] = {}
    real = release_module._protect

    def spy(stage, units, policy, *, known=None, **kwargs):  # noqa: ANN001, ANN003, ANN202
        pop = stage[0].request.measure
        stages.setdefault(pop, []).append(({lay.request.geography for lay in stage}, dict(known)))
        return real(stage, units, policy, known=known, **kwargs)

    monkeypatch.setattr(release_module, "_protect", spy)
    shares = {}
    for group in release_module._populations(layouts):
        district = [lay for lay in group if lay.request.geography == "district"]
        values = {k: v for lay in district for k, v in lay.rows.select("cell_key", "value").rows()}
        forced = {k for lay in district for k in hide_required(lay, policy)}
        forced |= {k for k, v in values.items() if policy.is_small(int(v))}
        shares[group[0].request.measure] = len(forced) / len(values)
    # the sample: graduation mostly forced, enrollment not
    assert shares["graduation"] >= 0.5 > shares["enrollment"]
    everything = {"state", "district", "school"}

    def geo_of(key: str) -> str:
        return "state" if key.split("|")[1] == "state" else "lower"

    runs = {}
    for threshold in (release_module._TOGETHER_MIN_SHARE, 0.0, 1.01):
        monkeypatch.setattr(release_module, "_TOGETHER_MIN_SHARE", threshold)
        stages.clear()
        found = release_module._protect_top_down(layouts, units, policy, check=True)
        assert found.report is not None and found.report.ok
        runs[threshold] = found.statuses
        assert set(stages) == set(shares)
        for pop, calls in stages.items():
            levels = [geos for geos, _ in calls]
            if shares[pop] >= threshold:
                assert levels == [{"state"}, everything], pop
            else:
                assert levels == [{"state"}, {"state", "district"}, everything], pop
            # the second stage starts from every state status, and keeps them
            assert calls[1][1] and {geo_of(k) for k in calls[1][1]} == {"state"}
            assert all(runs[threshold][k] == st for k, st in calls[1][1].items())
    assert runs[0.0] != runs[1.01]  # the stages do change the pattern
    # no district cell at all: nothing is mostly hidden, even with a threshold of 0
    monkeypatch.setattr(release_module, "_TOGETHER_MIN_SHARE", 0.0)
    emptied = [
        replace(lay, rows=lay.rows.head(0)) if lay.request.geography == "district" else lay
        for lay in layouts
    ]
    assert release_module._districts_mostly_hidden(layouts, policy)
    assert not release_module._districts_mostly_hidden(emptied, policy)


def test_top_down_frees_the_district_above_a_school_it_cannot_protect(monkeypatch) -> None:  # noqa: ANN001
    """A school level refused under fixed district statuses retries with that district free."""
    from types import SimpleNamespace

    import privacy.release as release_module

    def layout(geography: str, keys: list[str]) -> SimpleNamespace:
        return SimpleNamespace(
            request=SimpleNamespace(geography=geography), rows=pl.DataFrame({"cell_key": keys})
        )

    layouts = [
        layout("state", ["e:y|state|"]),
        layout("district", ["e:y|D:1|", "e:y|D:2|"]),
        layout("school", ["e:y|S:10|", "e:y|S:20|"]),
    ]
    units = {"enrollment": pl.DataFrame({"school_id": ["10", "20"], "district_id": ["1", "2"]})}
    calls: list[set[str]] = []
    systems: list[object] = []  # the system each protection was given (None: its own)
    laid_out: list[int] = []  # tables of each level laid out by the caller
    school_system = object()

    def fake(stage, units, policy, *, known=None, system=None, **kwargs):  # noqa: ANN001, ANN003, ANN202
        calls.append(set(known))
        systems.append(system)
        keys = [k for lay in stage for k in lay.rows["cell_key"].to_list()]
        if len(calls) == 3:
            raise release_module.ReleaseRefusedError("refused", ["e:y|S:10|"])
        return release_module._Protected({k: known.get(k, "shown") for k in keys})

    def build(stage, units):  # noqa: ANN001, ANN202
        laid_out.append(len(stage))
        return school_system

    def neighbours(stage, units, keys, system):  # noqa: ANN001, ANN202
        assert system is school_system  # the level's own, not laid out again
        return {"e:y|S:10|", "e:y|D:1|"}  # what S:10 adds up with: its district cell

    monkeypatch.setattr(release_module, "_protect", fake)
    # (build_system, _neighbours and the rule that joins two levels are tested elsewhere)
    monkeypatch.setattr(release_module, "build_system", build)
    monkeypatch.setattr(release_module, "_neighbours", neighbours)
    monkeypatch.setattr(release_module, "_districts_mostly_hidden", lambda *_: False)
    result = release_module._protect_top_down(layouts, units, load_policy())
    assert calls[0] == set()
    assert calls[1] == {"e:y|state|"}
    assert calls[2] == {"e:y|state|", "e:y|D:1|", "e:y|D:2|"}
    assert calls[3] == {"e:y|state|", "e:y|D:2|"}  # the district cell S:10 adds up to is free
    assert len(calls) == 4 and len(result.statuses) == 5
    # the refused level is laid out once, for its neighbours and for its retry
    assert laid_out == [3] and systems == [None, None, None, school_system]


def test_a_changed_catalogue_is_released_anew_with_the_old_release_known(
    fresh_db,
    monkeypatch,  # noqa: ANN001
) -> None:
    """An upgrade that changes the catalogue: the old public release stays binding."""
    import privacy.release as release_module

    full = release_module.public_catalogue(YEAR)
    older = [e for e in full if e.request.geography != "school"]  # an older, smaller catalogue
    monkeypatch.setattr(release_module, "public_catalogue", lambda year: older)
    old = public_release(fresh_db, YEAR)
    old_statuses = dict(release_module._snapshot(fresh_db).public_statuses[YEAR])
    monkeypatch.setattr(release_module, "public_catalogue", lambda year: full)
    release_module._snapshot(fresh_db).public.clear()  # a fresh process after the upgrade
    new = public_release(fresh_db, YEAR)
    assert new.release_id != old.release_id
    assert len(releases(fresh_db, kind="public", school_year=YEAR)) == 2
    assert set(new.tables) == {e.name for e in full}
    new_statuses = release_module._snapshot(fresh_db).public_statuses[YEAR]
    for key, status in old_statuses.items():
        assert (new_statuses[key] == "shown") == (status == "shown"), key
    assert public_release(fresh_db, YEAR).release_id == new.release_id
    audit = audit_year(fresh_db, YEAR)
    assert audit.ok, audit.problems[:3]


def test_a_group_size_whose_rate_pins_a_neighbour_is_hidden_too(monkeypatch) -> None:  # noqa: ANN001
    """A "*" rate over a shown group size can bound its hidden count and starve a small cell.

    One district's graduation by race (scale-1 district 2212): 18 did not graduate, of whom
    1, 2 and 2 are small. The white non-graduates (13 of 126) are the natural complement, but
    their "*" rate tells the public they are at least 13 ("<=10%" would have shown otherwise),
    so in a row of at most 18 the small cells could be at most 5. The release must hide the
    group size as well, and the result must hold against the attacker with the rate bounds.
    The run after the refusal reuses the cell system the first one laid out.
    """
    import privacy.release as release_module
    from privacy.auditor import audit
    from privacy.release import _protect, rate_bounds
    from privacy.tables import layout_table

    runs: list[int] = []
    builds: list[int] = []
    once, build = release_module._protect_once, release_module.build_system
    monkeypatch.setattr(
        release_module, "_protect_once", lambda *a, **k: runs.append(1) or once(*a, **k)
    )
    monkeypatch.setattr(
        release_module, "build_system", lambda *a, **k: builds.append(1) or build(*a, **k)
    )

    rows = []
    for race, grad, not_grad in [
        ("AM", 2, 1), ("BL", 21, 2), ("HI", 16, 2), ("WH", 113, 13), ("MU", 10, 0), ("AS", 9, 0)
    ]:  # fmt: skip
        rows.append(("10", "1", race, "REGULAR_DIPLOMA", grad))
        if not_grad:
            rows.append(("10", "1", race, "NOT_GRADUATED", not_grad))
    facts = pl.DataFrame(
        rows, schema=["school_id", "district_id", "race_ethnicity", "outcome", "n"], orient="row"
    )
    units = pl.DataFrame(
        {"district_id": ["1"], "district_name": ["D"], "school_id": ["10"], "school_name": ["S"]}
    )
    request = TableRequest("graduation", YEAR, "district", ("race_ethnicity",))
    lay = layout_table(request, facts, units)
    policy = load_policy()
    statuses = _protect([lay], {"graduation": units}, policy).statuses
    assert len(runs) == 2 and len(builds) == 1  # refused once, laid out once
    key = f"graduation:{YEAR}|D:1|"
    assert statuses[f"{key}race_ethnicity=WH;"] != "shown"
    system = build_system([lay], {"graduation": units})
    hidden = [i for i, k in enumerate(system.keys) if statuses[k] != "shown"]
    primary = [i for i in hidden if policy.is_small(int(system.values[i]))]
    bounds = rate_bounds([lay], statuses, policy)
    _, slacks = system.add_bounds({system.index[k]: b for k, b in bounds.items()})
    report = audit(system, hidden + slacks, policy, primary=primary, unchecked=slacks)
    assert report.ok, report.violations
    am = report.intervals[system.index[f"{key}outcome=NOT_GRADUATED;race_ethnicity=AM;"]]
    assert am.upper >= policy.min_upper_bound


def test_independent_parts_protect_the_same_in_worker_processes(monkeypatch) -> None:  # noqa: ANN001
    """Parts run in worker processes give the statuses of a run in-process; refusals carry over."""
    from concurrent.futures.process import BrokenProcessPool

    import privacy.release as release_module
    from privacy.cells import CellSystem
    from privacy.suppression import ProtectionError

    def grid(tag: str, values: list[list[int]]) -> CellSystem:
        keys, vals, constraints = [], [], []
        for i, row in enumerate(values):
            for j, v in enumerate(row):
                keys.append(f"{tag}{i}{j}")
                vals.append(v)
        cols = len(values[0])
        for i, row in enumerate(values):
            keys.append(f"{tag}r{i}")
            vals.append(sum(row))
            constraints.append((len(keys) - 1, [i * cols + j for j in range(cols)]))
        for j in range(cols):
            keys.append(f"{tag}c{j}")
            vals.append(sum(row[j] for row in values))
            constraints.append((len(keys) - 1, [i * cols + j for i in range(len(values))]))
        return CellSystem(keys=keys, values=np.array(vals), constraints=constraints)

    policy = load_policy()
    parts = [
        (grid("a", [[3, 20, 15], [25, 30, 12], [14, 2, 40]]), policy, {}),
        (grid("b", [[50, 4, 33], [18, 22, 11], [6, 19, 27]]), policy, {}),
    ]
    monkeypatch.setattr(release_module, "_PARALLEL_MIN_CELLS", 0)
    alone = release_module._run_parts(parts, workers=1)
    assert release_module._run_parts(parts, workers=2) == alone
    assert alone[1] == []
    alone = alone[0]
    assert any(s != "shown" for s in alone[0]) and any(s != "shown" for s in alone[1])

    class BrokenPool:  # what a script without the __main__ guard gets from its worker processes
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            pass

        def submit(self, *args) -> None:  # noqa: ANN002
            raise BrokenProcessPool("a child process died")

        def shutdown(self, **kwargs) -> None:  # noqa: ANN003
            return None

    monkeypatch.setattr(release_module.parallel, "ProcessPoolExecutor", BrokenPool)
    assert release_module._run_parts(parts, workers=2) == (alone, [])
    monkeypatch.undo()
    monkeypatch.setattr(release_module, "_PARALLEL_MIN_CELLS", 0)
    # the small cell's whole row and column are shown: no protection exists
    a = parts[0][0]
    fixed = frozenset(i for i, k in enumerate(a.keys) if k in {"a01", "a02", "ar0"})
    refused = [(a, policy, {"must_show": fixed}), parts[1]]
    results, errors = release_module._run_parts(refused, workers=2)
    assert results[0] is None and results[1] == alone[1]  # the other part is kept
    assert len(errors) == 1 and isinstance(errors[0], ProtectionError)
    assert "a00" in errors[0].keys


def test_a_group_size_retry_keeps_the_parts_it_does_not_touch(monkeypatch) -> None:  # noqa: ANN001
    """After a refusal, parts already protected are kept unless a group size hidden now is in them."""
    import privacy.release as release_module

    calls: list[dict[str, str]] = []

    def once(
        layouts,
        units,
        policy,
        known,
        bounds,
        hidden,
        old=None,
        *,
        system=None,
        workers=1,
        witnesses=None,
        pool=None,
        meanwhile=None,
        hold=frozenset(),
        settle_with=(),
        levels_after=0,
    ):  # noqa: ANN001, ANN202
        calls.append(dict(known))
        if len(calls) == 1:
            settled = [{"a": "shown", "b": "suppressed_small"}, {"g": "shown", "h": "shown"}]
            raise release_module.ReleaseRefusedError("refused", ["x"], settled)
        assert hidden == {"g"}
        return {"a": known["a"], "b": known["b"], "g": "suppressed_complement", "x": "shown"}

    monkeypatch.setattr(release_module, "_protect_once", once)
    monkeypatch.setattr(release_module, "_possible_rate_bounds", lambda *args: {})
    monkeypatch.setattr(release_module, "_bounding_groups", lambda *args: {"g"})
    monkeypatch.setattr(release_module, "rate_bounds", lambda *args: {})
    result = release_module._protect([], {}, load_policy(), known={"k": "shown"})
    assert calls[0] == {"k": "shown"}
    # the part holding the group size now hidden is protected again; the other is kept
    assert calls[1] == {"k": "shown", "a": "shown", "b": "suppressed_small"}
    assert result.statuses["g"] == "suppressed_complement"


def test_a_cell_the_public_already_knows_is_shown_not_refused() -> None:
    """A zero under a shown zero is known before the custom table is released.

    One school (scale-1 school 6298): no Asian or American Indian students, so none who are
    economically disadvantaged either. Their 0% share of the 89 disadvantaged students would be
    coded and its count hidden, but a hidden count the public already knows exactly can never
    be protected: the custom table was refused. Such a cell is shown (it tells nothing new), and
    the whole release, old and new, holds against the attacker.
    """
    from privacy.auditor import audit
    from privacy.release import _protect
    from privacy.tables import layout_table

    rows = []
    for race, disadvantaged, other in [
        ("WH", 85, 100), ("BL", 1, 3), ("HI", 1, 2), ("PI", 0, 1), ("MU", 2, 1)
    ]:  # fmt: skip
        rows.append(("10", "1", race, "true", disadvantaged))
        rows.append(("10", "1", race, "false", other))
    facts = pl.DataFrame(
        rows,
        schema=["school_id", "district_id", "race_ethnicity", "economically_disadvantaged", "n"],
        orient="row",
    )
    units = pl.DataFrame(
        {"district_id": ["1"], "district_name": ["D"], "school_id": ["10"], "school_name": ["S"]}
    )
    policy = load_policy()
    public = [
        layout_table(TableRequest(measure, YEAR, "school", (dim,)), facts, units)
        for measure, dim in [
            ("enrollment", "race_ethnicity"),
            ("programs", "economically_disadvantaged"),
        ]
    ]
    key = f"enrollment:{YEAR}|S:10|"
    # the scale-1 public statuses (its other tables hid the school's total and the 89)
    known = _protect(
        public, {"enrollment": units}, policy, known={key: "suppressed_complement"}
    ).statuses
    assert known[f"{key}race_ethnicity=AS;"] == "shown"
    assert known[f"{key}economically_disadvantaged=true;"] != "shown"
    custom = layout_table(
        TableRequest(
            "enrollment",
            YEAR,
            "school",
            ("race_ethnicity",),
            filters=(("economically_disadvantaged", "true"),),
        ),
        facts,
        units,
    )
    statuses = _protect(
        [*public, custom], {"enrollment": units}, policy, known=known, earlier=public
    ).statuses
    for race in ("AS", "AM"):
        assert statuses[f"{key}economically_disadvantaged=true;race_ethnicity={race};"] == "shown"
    assert all(statuses[k] == st for k, st in known.items()), "an earlier status changed"
    system = build_system([*public, custom], {"enrollment": units})
    hidden = [i for i, k in enumerate(system.keys) if statuses.get(k, "latent") != "shown"]
    primary = [i for i in hidden if policy.is_small(int(system.values[i]))]
    assert {system.keys[i] for i in primary} >= {
        f"{key}economically_disadvantaged=true;race_ethnicity={r};" for r in ("BL", "HI", "MU")
    }
    latent = [i for i in hidden if system.keys[i] not in statuses]
    report = audit(system, hidden, policy, primary=primary, unchecked=latent)
    assert report.ok, report.violations


def test_a_custom_table_protects_only_what_its_equations_reach(released_db, monkeypatch) -> None:  # noqa: ANN001
    """Parts of the year's cell system that no new cell or equation reaches keep their proof.

    Each part handed to the suppression engine holds an equation the earlier releases lack;
    the others (every school's and district's public cells, for a statewide table) are not
    protected again.
    """
    import privacy.suppression as suppression

    calls: list[tuple[int, int]] = []
    original = suppression.protect

    def spy(system, policy, **kwargs):  # noqa: ANN001, ANN003, ANN202
        calls.append((len(system), len(kwargs.get("fresh_rows", ()))))
        return original(system, policy, **kwargs)

    monkeypatch.setattr(suppression, "protect", spy)
    request = TableRequest("enrollment", YEAR, "state", ("english_learner", "homeless"))
    table = release_table(released_db, request, Staff("parts"))
    assert table.data.height
    assert calls, "the new table was not protected"
    assert all(fresh for _, fresh in calls), calls


def test_reading_ahead_releases_nothing_and_spares_the_first_custom_table_the_work(
    released_db,  # noqa: ANN001
    monkeypatch,  # noqa: ANN001
) -> None:
    import privacy.release as release_module
    import privacy.tables as tables_module

    before = len(releases(released_db, school_year=YEAR))
    _snapshot(released_db).equations.clear()  # as a fresh process would have them
    _snapshot(released_db).layouts.clear()  # and with them what each layout keeps
    hide_required = tables_module._hide_required
    looked_at: list[str] = []  # layouts whose counts behind coded rates were worked out

    def coding(layout, policy):  # noqa: ANN001, ANN202
        looked_at.append(layout.request.to_json())
        return hide_required(layout, policy)

    monkeypatch.setattr(tables_module, "_hide_required", coding)
    release_module.prepare_custom_tables(released_db, YEAR)
    assert looked_at  # the read-ahead worked them out for the tables released so far
    looked_at.clear()
    assert len(releases(released_db, school_year=YEAR)) == before  # nothing released
    assert (YEAR, "enrollment") in _snapshot(released_db).equations
    computed: list[int] = []
    equation_keys = release_module._equation_keys

    def counting(*args):  # noqa: ANN002, ANN202
        computed.append(1)
        return equation_keys(*args)

    monkeypatch.setattr(release_module, "_equation_keys", counting)
    request = TableRequest("enrollment", YEAR, "state", ("english_learner", "homeless"))
    table = release_table(released_db, request, Staff("rep.ahead"))
    assert table.data.height > 0 and computed == []  # the read-ahead's equations were used
    # and its counts behind coded rates: only the new table's are worked out (if it is new)
    assert set(looked_at) <= {request.to_json()}
    with pytest.raises(ValueError, match="school year"):
        release_module.prepare_custom_tables(released_db, "1999-00")


def test_a_release_that_fails_its_audit_is_refused_and_not_recorded(fresh_db, monkeypatch) -> None:  # noqa: ANN001
    """`public_release` attacks its result before recording it. A protection that lost its
    complements (primary-only suppression) and offers the old proving points, most of them now
    moving shown cells, is caught: the points are checked, those fail, and nothing is
    recorded."""
    import privacy.release as release_module

    original = release_module._protect_levels

    def without_complements(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        # each population's protection, before the check that `public_release` asks for
        got = original(*args, **kwargs)
        weak = {
            k: ("shown" if s == "suppressed_complement" else s) for k, s in got.statuses.items()
        }
        return release_module._Protected(weak, got.witnesses, got.system)

    monkeypatch.setattr(release_module, "_protect_levels", without_complements)
    with pytest.raises(ReleaseRefusedError, match="failed its audit, nothing recorded") as exc:
        public_release(fresh_db, YEAR)
    assert exc.value.keys and "upper bound" not in str(exc.value)  # no interval told
    assert releases(fresh_db) == []
    # the old points were all rejected, and the attacker alone finds the same violations
    snap = _snapshot(fresh_db)
    catalogue = release_module.public_catalogue(YEAR)
    layouts = [snap.layout(e.request) for e in catalogue if e.request.measure != "staff"]
    units, policy = _units_for(snap, YEAR), load_policy()
    weak = release_module._protect_top_down(layouts, units, policy, check=True)
    assert weak.report is not None and not weak.report.ok  # the check made while protecting
    given = release_module.checked_release(layouts, units, weak.statuses, policy, weak.witnesses)
    alone = release_module.checked_release(layouts, units, weak.statuses, policy)
    # a point that moves a cell now shown is no proof: most were rejected, and no more were
    # kept than the points that move no shown cell
    still = sum(
        not any(weak.statuses.get(k) == "shown" for k in table[cells].tolist())
        for table, cells, _ in weak.witnesses
    )
    assert given.valid_witnesses <= still < len(weak.witnesses) // 2
    assert {v.key for v in given.violations} == {v.key for v in alone.violations} != set()
    assert {v.key for v in weak.report.violations} == {v.key for v in alone.violations}
    monkeypatch.undo()
    release_module._SNAPSHOTS.clear()
    rel = public_release(fresh_db, YEAR)  # the real protection passes and is recorded
    assert [r.release_id for r in releases(fresh_db)] == [rel.release_id]


def test_the_release_audit_rests_on_checked_proofs(built_db) -> None:  # noqa: ANN001
    """The points that proved the public release, named by cell keys, are found again in the
    year's whole cell system and decide its hidden cells there; the same points each moved by
    one are all rejected, and the attacker then decides every cell itself, to the same
    verdict."""
    import privacy.release as release_module

    layouts, units = _public_year(built_db)
    policy = load_policy()
    protected = release_module._protect_top_down(layouts, units, policy)
    assert protected.witnesses
    report = release_module.checked_release(
        layouts, units, protected.statuses, policy, protected.witnesses
    )
    assert report.ok and report.valid_witnesses > 0
    assert report.by_witnesses >= 0.9 * len(report.intervals)
    nudged = [(table, cells, values + 1) for table, cells, values in protected.witnesses]
    alone = release_module.checked_release(layouts, units, protected.statuses, policy, nudged)
    assert alone.ok and alone.valid_witnesses == 0 and alone.by_witnesses == 0
    assert alone.intervals.keys() == report.intervals.keys()
    # the cell system the protection laid out is the year's (its populations side by side:
    # the same cells and sums, in another order), and the check leaves it as it is
    kept = protected.system

    def by_keys(system):  # noqa: ANN001, ANN202
        cells = dict(zip(system.keys, system.values.tolist(), strict=True))
        sums = {release_module._equation_key(system, p, ch) for p, ch in system.constraints}
        return cells, sums

    fresh = release_module.build_system(layouts, units)
    assert by_keys(kept) == by_keys(fresh)
    again = release_module.checked_release(
        layouts, units, protected.statuses, policy, protected.witnesses, kept
    )
    assert len(kept) == len(fresh) and len(kept.constraints) == len(fresh.constraints)
    assert {i.key: (i.lower, i.upper) for i in again.intervals.values()} == {
        i.key: (i.lower, i.upper) for i in report.intervals.values()
    }


def test_a_release_that_shows_a_small_count_is_refused(fresh_db, monkeypatch) -> None:  # noqa: ANN001
    """The check before recording also refuses a small count shown, as `edudash audit` would."""
    import privacy.release as release_module

    original = release_module._protect_levels

    def one_small_shown(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        got = original(*args, **kwargs)
        small = sorted(k for k, s in got.statuses.items() if s == "suppressed_small")
        assert small
        shown = {**got.statuses, small[0]: "shown"}
        return release_module._Protected(shown, got.witnesses, got.system)

    monkeypatch.setattr(release_module, "_protect_levels", one_small_shown)
    with pytest.raises(ReleaseRefusedError, match="small count"):
        public_release(fresh_db, YEAR)
    assert releases(fresh_db) == []


def test_worker_processes_start_with_the_parts_that_have_most_to_prove(monkeypatch) -> None:  # noqa: ANN001
    """Large parts go to the worker processes with the most cells to prove first (hidden and
    checked), so that a long part does not start last and leave a core idle at the end; the
    statuses are those of a run in this process."""
    from concurrent.futures import Future

    import privacy.release as release_module
    from privacy import suppression
    from privacy.cells import CellSystem, add_table

    submitted: list[int] = []

    class InOrder:  # a pool that runs each part at once, recording the order it was given
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            pass

        def submit(self, fn, batch):  # noqa: ANN001, ANN202
            if fn is suppression.protect_parts:  # not the processes' start-up calls
                submitted.append([len(part[0]) for part in batch])
            done: Future = Future()
            done.set_result(fn(batch))
            return done

        def shutdown(self, **kwargs) -> None:  # noqa: ANN003
            return None

    policy = load_policy()
    parts = []
    for rows in (3, 6, 4, 5):  # more rows, more small cells to prove
        system = CellSystem()
        add_table(system, "t", np.tile([2, 3, 30, 45], (rows, 1)))
        parts.append((system, policy, {}))
    for part in parts:  # what protect would take as small by default, made explicit
        part[2]["primary"] = [i for i, v in enumerate(part[0].values) if policy.is_small(int(v))]
    work = [len(p[2]["primary"]) for p in parts]
    assert len(set(work)) == len(work)
    monkeypatch.setattr(release_module, "_PARALLEL_MIN_CELLS", 0)
    alone = release_module._run_parts(parts, workers=1)
    monkeypatch.setattr(release_module.parallel, "ProcessPoolExecutor", InOrder)
    assert release_module._run_parts(parts, workers=2) == alone
    by_work = sorted(range(len(parts)), key=lambda i: -work[i])
    assert submitted == [[len(parts[i][0])] for i in by_work]


def test_small_parts_go_to_the_worker_processes_in_batches(monkeypatch) -> None:  # noqa: ANN001
    """Each large part is a job of its own, the most work first; the small ones follow in
    batches of about `_PARALLEL_MIN_CELLS` cells, in order; every part is in exactly one job."""
    import privacy.release as release_module
    from privacy.cells import CellSystem, add_table

    policy = load_policy()
    parts = []
    for rows in (2, 9, 3, 2, 7, 2, 2, 3):
        system = CellSystem()
        add_table(system, "t", np.tile([2, 3, 30, 45], (rows, 1)))
        parts.append((system, policy, {"primary": [0]}))
    sizes = [len(p[0]) for p in parts]
    limit = 30
    monkeypatch.setattr(release_module, "_PARALLEL_MIN_CELLS", limit)
    jobs = release_module._jobs(parts)
    large = [i for i, n in enumerate(sizes) if n >= limit]
    assert large == [1, 4]
    assert jobs[: len(large)] == [[1], [4]]  # alone (here equal work: in their order)
    batches = jobs[len(large) :]
    assert [i for batch in batches for i in batch] == [0, 2, 3, 5, 6, 7]
    assert all(sum(sizes[i] for i in batch) >= limit for batch in batches[:-1])
    assert all(sum(sizes[i] for i in batch[:-1]) < limit for batch in batches)
    assert len(batches) > 1
    # and in a pool, each part's result is the one protected in this process
    alone = release_module._run_parts(parts, workers=1)
    assert release_module._run_parts(parts, workers=2) == alone


def test_one_pool_of_worker_processes_serves_every_level(built_db, monkeypatch) -> None:  # noqa: ANN001
    """A top-down release with workers starts its processes once, before the first level, and
    sends every level's parts to them (a lone part too, if large), ranked by the levels of its
    population still to come; it lays out the next level's tables while they work. The
    statuses are those of a release protected in this process alone."""
    import privacy.release as release_module

    layouts, units = _public_year(built_db)
    alone = release_module._protect_top_down(layouts, units, load_policy()).statuses

    started: list[object] = []
    sent: list[tuple[int, int]] = []  # (pool, jobs) per call of _run_parts that used it
    after: list[int] = []  # levels_after per call of _run_parts
    lone: list[bool] = []  # per call of one large part: did it reach the processes?
    priorities: list[tuple[float, ...]] = []  # as submitted to the processes
    batches: list[list] = []  # the parts of each job submitted
    laid_out: list[int] = []
    waited: list[int] = []  # tables laid out when the next level's layout could start
    handed: list[int] = []  # per call of _run_parts: large parts handed over as cut out
    real_processes = release_module.parallel.Processes
    real_run = release_module._run_parts
    real_build = release_module.build_system

    class Counted(real_processes):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            super().__init__(*args, **kwargs)
            started.append(self)

        def submit(self, fn, item, priority=0.0):  # noqa: ANN001, ANN202
            priorities.append(priority)
            batches.append(item)
            return super().submit(fn, item, priority)

    def run(parts, workers, witnesses=None, pool=None, meanwhile=None, levels_after=0, early=None):  # noqa: ANN001, ANN202, E501
        after.append(levels_after)
        handed.append(len(early or {}))
        if pool is not None:
            jobs = release_module._jobs(parts)
            sent.append((started.index(pool), len(jobs)))
            if len(jobs) == 1 and len(parts[jobs[0][0]][0]) >= release_module._PARALLEL_MIN_CELLS:
                found = real_run(parts, workers, witnesses, pool, meanwhile, levels_after, early)
                lone.append(any(b[0][0] is parts[jobs[0][0]][0] for b in batches))
                return found
        if meanwhile is not None:
            real_meanwhile = meanwhile

            def meanwhile() -> None:
                waited.append(len(laid_out))
                real_meanwhile()

        return real_run(parts, workers, witnesses, pool, meanwhile, levels_after, early)

    def build(stage, units):  # noqa: ANN001, ANN202
        laid_out.append(len(stage))
        return real_build(stage, units)

    monkeypatch.setattr(release_module.parallel, "Processes", Counted)
    cells = sum(lay.rows.height for lay in layouts)
    assert cells < release_module._POOL_MIN_CELLS
    # a small release is done sooner than processes start: none are
    small = release_module._protect_top_down(layouts, units, load_policy(), workers=2)
    assert small.statuses == alone and started == []
    monkeypatch.setattr(release_module, "_run_parts", run)
    monkeypatch.setattr(release_module, "build_system", build)
    monkeypatch.setattr(release_module, "_PARALLEL_MIN_CELLS", 200)
    monkeypatch.setattr(release_module, "_POOL_MIN_CELLS", cells)
    found = release_module._protect_top_down(layouts, units, load_policy(), workers=2)
    assert found.statuses == alone
    assert len(started) == 1
    # state, district and school level of each population (or state, then district and
    # school together), all in the one pool
    populations = release_module._populations(layouts)
    assert len(populations) == 3
    together = [release_module._districts_mostly_hidden(g, load_policy()) for g in populations]
    levels = sum(2 if joined else 3 for joined in together)
    assert any(together) and not all(together)  # the sample has both kinds
    assert len(sent) == levels and {p for p, _ in sent} == {0}
    assert any(jobs > 1 for _, jobs in sent)
    # each population's levels count down to its last (2, 1, 0; or 1, 0 where district and
    # school go together), and every job went to the processes under its level's rank
    assert sorted(after) == sorted(
        n for joined in together for n in range(1 if joined else 2, -1, -1)
    )
    assert {p[0] for p in priorities} <= set(after) and {p[0] for p in priorities} > {0}
    assert lone and all(lone)  # a lone large part is protected by the processes too
    assert any(handed)  # large parts reached the processes as soon as they were cut out
    assert len(laid_out) == levels  # each level of each population laid out once
    # while the processes protect a level (of two jobs or more), the next level's tables
    # are laid out; the last level has none to lay out
    assert 0 < len(waited) <= levels - len(populations)


def test_the_other_populations_wait_until_the_first_hands_its_workers_a_level(
    built_db,  # noqa: ANN001
    monkeypatch,  # noqa: ANN001
) -> None:
    """With worker processes, the population of most cells starts alone, and the others start
    once it has handed the processes the parts of a level after its first (its state level is
    cheap; the levels after it wait on that one): this process's interpreter lock, shared
    with them, does not slow the way to its first large parts. The statuses are unchanged."""
    import threading

    import privacy.release as release_module

    layouts, units = _public_year(built_db)
    policy = load_policy()
    alone = release_module._protect_top_down(layouts, units, policy).statuses
    populations = release_module._populations(layouts)
    leader = populations[0][0].request.measure
    stages = 2 if release_module._districts_mostly_hidden(populations[0], policy) else 3
    events: list[tuple[str, str, int]] = []  # (what, population, levels after) in order
    lock = threading.Lock()
    real_levels = release_module._protect_levels
    real_processes = release_module.parallel.Processes

    def levels(group, *args):  # noqa: ANN001, ANN002, ANN202
        with lock:
            events.append(("start", group[0].request.measure, -1))
        return real_levels(group, *args)

    class Watched(real_processes):  # type: ignore[misc, valid-type]
        def submit(self, fn, item, priority=0.0):  # noqa: ANN001, ANN202
            pop = item[0][0].keys[0].split("|")[0].split(":")[0]  # "assessment:2023-24|..."
            with lock:
                events.append(("submit", pop, int(priority[0])))
            return super().submit(fn, item, priority)

    monkeypatch.setattr(release_module, "_protect_levels", levels)
    monkeypatch.setattr(release_module.parallel, "Processes", Watched)
    monkeypatch.setattr(release_module, "_PARALLEL_MIN_CELLS", 200)
    monkeypatch.setattr(release_module, "_POOL_MIN_CELLS", 1)
    found = release_module._protect_top_down(layouts, units, policy, workers=2)
    assert found.statuses == alone
    assert events[0] == ("start", leader, -1)
    handed = next(
        i
        for i, (what, pop, after) in enumerate(events)
        if what == "submit" and pop == leader and after < stages - 1
    )
    others = [i for i, (what, pop, _) in enumerate(events) if what == "start" and pop != leader]
    assert len(others) == len(populations) - 1 and min(others) > handed


def test_each_population_is_protected_apart_with_the_statuses_of_a_joint_run(
    built_db,  # noqa: ANN001
    monkeypatch,  # noqa: ANN001
) -> None:
    """No sum joins two populations, so each population's tables are protected on their own
    (`_populations`, the largest first): the statuses and the proofs' validity are those of
    one joint top-down run over every table."""
    import privacy.release as release_module

    layouts, units = _public_year(built_db)
    policy = load_policy()
    system = release_module.build_system(layouts, units)
    population = [str(k).lstrip("~").split("|")[0] for k in system.keys]
    population = [
        str(k).split("|")[1] if str(k).startswith("~") else p
        for k, p in zip(system.keys, population, strict=True)
    ]
    assert all(len({population[c] for c in (p, *ch)}) == 1 for p, ch in system.constraints)

    groups = release_module._populations(layouts)
    assert sorted(id(lay) for g in groups for lay in g) == sorted(id(lay) for lay in layouts)
    for group in groups:
        assert len({lay.rows["cell_key"][0].split("|")[0] for lay in group}) == 1
    sizes = [sum(lay.rows.height for lay in g) for g in groups]
    assert len(groups) == 3 and sizes == sorted(sizes, reverse=True)

    # (the same stages for every population, as one run over all of them has: level by
    # level, or districts with schools)
    for threshold in (0.0, 1.01):
        monkeypatch.setattr(release_module, "_TOGETHER_MIN_SHARE", threshold)
        joint = release_module._protect_levels(layouts, units, policy, None, 1, None)
        apart = release_module._protect_top_down(layouts, units, policy)
        assert apart.statuses == joint.statuses
        assert list(apart.statuses) == list(joint.statuses)  # in the order of the tables
    report = release_module.checked_release(
        layouts, units, apart.statuses, policy, apart.witnesses, apart.system
    )
    assert report.ok and report.by_witnesses >= 0.9 * len(report.intervals)


def test_each_population_is_checked_as_soon_as_it_is_protected(built_db, monkeypatch) -> None:  # noqa: ANN001
    """With ``check``, the attacker checks each population on its own cell system right after
    its protection (one `_attack` per population, on its tables only), and the joined report
    is the joint audit's: the same interval for every hidden cell, numbered as in the
    populations' systems side by side. The statuses are those of an unchecked run."""
    import privacy.release as release_module

    layouts, units = _public_year(built_db)
    policy = load_policy()
    attacked: list[set[str]] = []
    real = release_module._attack

    def spy(system, tables, statuses, policy, witnesses=()):  # noqa: ANN001, ANN202
        attacked.append({lay.rows["cell_key"][0].split("|")[0] for lay in tables})
        return real(system, tables, statuses, policy, witnesses)

    monkeypatch.setattr(release_module, "_attack", spy)
    checked = release_module._protect_top_down(layouts, units, policy, check=True)
    assert len(attacked) == 3 and all(len(pops) == 1 for pops in attacked)
    assert len(set.union(*attacked)) == 3
    plain = release_module._protect_top_down(layouts, units, policy)
    assert len(attacked) == 3  # unchecked: no attack
    assert checked.statuses == plain.statuses and plain.report is None
    assert checked.report is not None and checked.system is None
    joint = release_module.checked_release(
        layouts, units, plain.statuses, policy, plain.witnesses, plain.system
    )
    report = checked.report
    assert report.ok and joint.ok and report.by_witnesses == joint.by_witnesses > 0
    assert report.intervals.keys() == joint.intervals.keys()
    for cell, iv in report.intervals.items():
        assert (iv.cell, iv.key) == (cell, plain.system.keys[cell])
        assert (iv.lower, iv.upper, iv.primary) == (
            joint.intervals[cell].lower,
            joint.intervals[cell].upper,
            joint.intervals[cell].primary,
        )


def test_a_table_of_two_populations_is_refused_by_the_grouping() -> None:
    from types import SimpleNamespace

    import privacy.release as release_module

    mixed = SimpleNamespace(rows=pl.DataFrame({"cell_key": ["e:y|state|", "g:y|state|"]}))
    with pytest.raises(ValueError, match="2 populations"):
        release_module._populations([mixed])
    empty = SimpleNamespace(rows=pl.DataFrame({"cell_key": []}, schema={"cell_key": pl.String}))
    assert release_module._populations([]) == []
    assert release_module._populations([empty]) == [[empty]]


def test_large_parts_keep_the_pattern_their_attack_settled_on(built_db, monkeypatch) -> None:  # noqa: ANN001
    """Parts of `_MINIMISE_MAX_CELLS` cells or more skip the passes that hide fewer
    complements, smaller parts run them; either way the release passes its own audit on
    checked proofs. With every part that large, no complement is ever shown again or
    re-chosen, so none of the smaller parts' savings remain."""
    import privacy.release as release_module
    import privacy.suppression as suppression

    layouts, units = _public_year(built_db)
    policy = load_policy()
    asked: list[tuple[int, bool]] = []  # (cells, minimise) per part protected
    real = suppression.protect

    def spy(system, policy, **kwargs):  # noqa: ANN001, ANN003, ANN202
        asked.append((len(system), kwargs["minimise"]))
        return real(system, policy, **kwargs)

    monkeypatch.setattr(suppression, "protect", spy)
    sizes = []
    results = {}
    for limit in (None, 40, 0):
        if limit is not None:
            monkeypatch.setattr(release_module, "_MINIMISE_MAX_CELLS", limit)
        asked.clear()
        protected = release_module._protect_top_down(layouts, units, policy)
        threshold = release_module._MINIMISE_MAX_CELLS
        assert asked and all(minimise == (cells < threshold) for cells, minimise in asked)
        sizes = [cells for cells, _ in asked]
        report = release_module.checked_release(
            layouts, units, protected.statuses, policy, protected.witnesses
        )
        assert report.ok
        results[limit] = protected.statuses
    # the small warehouse's parts are all under the default: none skips the passes
    assert max(sizes) < 2000 and any(size >= 40 for size in sizes)
    hidden = {k: sum(s != "shown" for s in st.values()) for k, st in results.items()}
    assert results[40] != results[None]  # parts of 40 cells or more lost their savings
    assert hidden[0] > hidden[None]  # the passes did show complements again


def test_a_checked_protection_of_no_table_is_an_empty_passing_audit() -> None:
    """No table: nothing is hidden, and the check reports no interval and no violation."""
    import privacy.release as release_module

    found = release_module._protect_top_down([], {}, load_policy(), check=True)
    assert found.statuses == {} and found.report is not None and found.report.ok
    assert (
        found.report.intervals == {}
        and release_module._protect_top_down([], {}, load_policy()).report is None
    )


@pytest.fixture(scope="module")
def db05(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A scale-0.05, seed-7 warehouse (read-only): large enough for parts that scale 0.02
    lacks, built in about a second."""
    from warehouse.build import build_warehouse

    path = tmp_path_factory.mktemp("wh05") / "edudash.duckdb"
    build_warehouse(path, scale=0.05, seed=7)
    return str(path)


def test_a_part_of_only_unpublished_cells_is_not_protected(
    db05: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A part whose own cells are all never published (the slack of a public bound beside its
    shown count) has nothing to protect and nothing to prove: it never reaches `protect`,
    its cells are simply hidden, and the release still passes its own audit on checked
    proofs. (Such parts appear where a count that the public already knows exactly, shown
    at the school level, has a rate bound: none at scale 0.02, 22 at scale 0.05.)"""
    import privacy.release as release_module
    import privacy.suppression as suppression

    layouts, units = _public_year(db05)
    policy = load_policy()
    alone: list[list[str]] = []  # the parts of slack cells only, as `_protect_once` splits them
    free_parts = release_module._free_parts

    def parts_spy(system, fixed_shown):  # noqa: ANN001, ANN202
        found = free_parts(system, fixed_shown)
        for part in found:
            keys = [str(system.keys[c]) for c in part]
            if all(k.startswith(("~lo~slack|", "~hi~slack|")) for k in keys):
                alone.append(keys)
        return found

    asked: list[bool] = []  # per part protected: are all its own cells unpublished?
    real = suppression.protect

    def spy(system, policy, **kwargs):  # noqa: ANN001, ANN003, ANN202
        own = set(range(len(system))) - set(kwargs["must_show"])
        asked.append(own <= set(kwargs["unchecked"]))
        return real(system, policy, **kwargs)

    monkeypatch.setattr(release_module, "_free_parts", parts_spy)
    monkeypatch.setattr(suppression, "protect", spy)
    protected = release_module._protect_top_down(layouts, units, policy)
    assert len(alone) > 10  # such parts exist in this release
    assert asked and not any(asked)  # and none of them was protected
    report = release_module.checked_release(
        layouts, units, protected.statuses, policy, protected.witnesses
    )
    assert report.ok and report.by_witnesses == len(report.intervals)


def test_a_level_settles_the_cells_that_the_coarser_levels_points_still_prove(
    db05: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Top-down, a level's first proofs leave alone the cells that the next level's sums will
    hold (`_tied_below`), and the next level does not attack again the cells hidden before
    whose checked points prove them (`_settled_by`). Both runs pass their own audit on checked
    proofs; the points found differ, so a complement may too, but hardly ever (scale 0.05:
    2-5 of about 2,900 hidden cells differ per year, either way; scale 1, 2023-24: none)."""
    import privacy.release as release_module
    import privacy.suppression as suppression

    layouts, units = _public_year(db05)
    policy = load_policy()
    asked: list[tuple[int, int, int]] = []  # per part: (cells held, cells settled, must_hide)
    real = suppression.protect

    def spy(system, policy, **kwargs):  # noqa: ANN001, ANN003, ANN202
        settled = set(kwargs["settled"])
        assert settled <= set(kwargs["must_hide"]) and not settled & set(kwargs["unchecked"])
        asked.append((len(kwargs["hold"]), len(settled), len(kwargs["must_hide"])))
        return real(system, policy, **kwargs)

    monkeypatch.setattr(suppression, "protect", spy)
    protected = release_module._protect_top_down(layouts, units, policy)
    held = sum(h for h, _, _ in asked)
    settled = sum(s for _, s, _ in asked)
    assert held > 0 and settled > 100
    report = release_module.checked_release(
        layouts, units, protected.statuses, policy, protected.witnesses
    )
    assert report.ok and report.by_witnesses == len(report.intervals)

    monkeypatch.setattr(release_module, "_tied_below", lambda *args: frozenset())
    monkeypatch.setattr(
        release_module, "_settled_by", lambda system, *args: np.zeros(len(system), dtype=bool)
    )
    asked.clear()
    plain = release_module._protect_top_down(layouts, units, policy)
    assert not any(h or s for h, s, _ in asked)
    assert list(plain.statuses) == list(protected.statuses)
    differ = [k for k, st in plain.statuses.items() if protected.statuses[k] != st]
    hidden = sum(st != "shown" for st in plain.statuses.values())
    assert len(differ) <= 0.005 * hidden
    again = release_module.checked_release(layouts, units, plain.statuses, policy, plain.witnesses)
    assert again.ok


def test_only_valid_points_settle_a_cell() -> None:
    """`_settled_by` believes a point only if it moves cells hidden before alone and keeps
    every equation: a point that breaks a sum, or moves a shown cell, settles nothing."""
    import privacy.release as release_module
    from privacy.cells import CellSystem

    system = CellSystem()
    total, (a, b, c) = system.add_sum(("T", 40), [("a", 3), ("b", 17), ("c", 20)])
    n = len(system)
    hidden = np.zeros(n, dtype=bool)
    hidden[[a, b]] = True
    primary = np.zeros(n, dtype=bool)
    primary[a] = True
    keys = np.array(system.keys, dtype=object)
    policy = load_policy()

    def settled(*points: tuple[list[int], list[int]]) -> np.ndarray:
        witnesses = [(keys, np.array(cells), np.array(values)) for cells, values in points]
        return release_module._settled_by(system, witnesses, hidden, hidden, primary, policy)

    far = ([a, b], [12, 8])  # a up to 12 (>= 10, width 9 with its true 3), b down to 8
    assert settled(far).tolist() == [False, True, True, False]
    assert not settled(([a], [12])).any()  # breaks T = a + b + c
    assert not settled(([a, c], [12, 11])).any()  # moves c, which is shown
    assert settled(([a, b], [8, 12])).tolist() == [False, False, True, False]  # a only to 8


def test_rate_bounds_are_worked_out_once_per_layout_and_policy(monkeypatch) -> None:  # noqa: ANN001
    """`rate_bounds` reads each layout's informative bounds (`TableLayout.rate_bounds`), kept
    per policy: read again they are the same without `public_bounds` being asked again;
    another policy, or another layout of the same rows' content, gets them worked out afresh,
    as a first reading does."""
    import privacy.tables as tables_module
    from privacy.policy import PercentBand, Policy
    from privacy.release import rate_bounds
    from privacy.tables import layout_table

    facts = pl.DataFrame(
        [
            ("10", "1", r, o, n)
            for r, o, n in [
                ("WH", "REGULAR_DIPLOMA", 230),
                ("WH", "NOT_GRADUATED", 1),
                ("BL", "REGULAR_DIPLOMA", 21),
                ("BL", "NOT_GRADUATED", 2),
                ("HI", "REGULAR_DIPLOMA", 60),
                ("HI", "NOT_GRADUATED", 3),
            ]
        ],  # fmt: skip
        schema=["school_id", "district_id", "race_ethnicity", "outcome", "n"],
        orient="row",
    )
    units = pl.DataFrame(
        {"district_id": ["1"], "district_name": ["D"], "school_id": ["10"], "school_name": ["S"]}
    )
    request = TableRequest("graduation", YEAR, "district", ("race_ethnicity",))
    lay = layout_table(request, facts, units)
    hidden = {k: "suppressed_small" for k in lay.rows["cell_key"].to_list()}
    hidden.update({k: "shown" for k in lay.rows["denominator_key"].drop_nulls().to_list()})
    asked: list[int] = []
    real = tables_module.public_bounds
    monkeypatch.setattr(tables_module, "public_bounds", lambda *a: asked.append(1) or real(*a))
    policy = load_policy()
    first = rate_bounds([lay], hidden, policy)
    assert first and asked
    asked.clear()
    assert rate_bounds([lay], hidden, policy) == first and not asked
    wide = Policy(percent_bands=(PercentBand(10, None, 10.0),))
    other = rate_bounds([lay], hidden, wide)
    assert asked and other != first
    again = layout_table(request, facts, units)  # same content, new rows
    asked.clear()
    assert rate_bounds([again], hidden, policy) == first and asked
    asked.clear()
    assert rate_bounds([again], hidden, wide) == other and asked


def _subsystem_cell_by_cell(system, cells, incidence):  # noqa: ANN001, ANN202
    """`_subsystem` as it was first written, one cell and one equation at a time: the
    reference its whole-array form must match exactly."""
    from privacy.cells import CellSystem

    rows = np.unique(
        np.concatenate(
            [incidence.indices[incidence.indptr[c] : incidence.indptr[c + 1]] for c in cells]
        )
    )
    keys = system.keys
    around = {
        c for r in rows.tolist() for c in (system.constraints[r][0], *system.constraints[r][1])
    }
    order = sorted(cells, key=keys.__getitem__) + sorted(around - set(cells), key=keys.__getitem__)
    local = {c: i for i, c in enumerate(order)}
    equations = [
        (local[p], sorted(local[c] for c in ch))
        for p, ch in (system.constraints[r] for r in rows.tolist())
    ]
    by_key = sorted(range(len(rows)), key=lambda i: (equations[i][0], equations[i][1]))
    sub = CellSystem(keys=[keys[c] for c in order], values=system.values[order])
    sub.constraints = [equations[i] for i in by_key]
    return sub, local, order, rows[by_key]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_a_part_is_cut_out_as_cell_by_cell(data) -> None:  # noqa: ANN001
    """The part's cells and equations, numbered and ordered by key, exactly as the reference;
    equations that share their first cells (one sum over several splits of the same terms)
    exercise the order past the first three."""
    from privacy.cells import CellSystem
    from privacy.release import _subsystem

    n = data.draw(st.integers(4, 30))
    names = data.draw(st.permutations([f"k{i:02d}" for i in range(n)]))
    system = CellSystem(keys=names, values=np.arange(n) + 10)
    for _ in range(data.draw(st.integers(1, 25))):
        cells = data.draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=8, unique=True))
        system.add_constraint(cells[0], cells[1:])
        if data.draw(st.booleans()) and len(cells) > 3:  # the same sum and first terms again
            rest = [c for c in range(n) if c not in cells]
            extra = (
                data.draw(st.lists(st.sampled_from(rest), max_size=3, unique=True)) if rest else []
            )
            system.add_constraint(cells[0], cells[1:3] + extra)
    part = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    incidence = system.incidence().tocsc()
    if all(incidence.indptr[c] == incidence.indptr[c + 1] for c in part):
        return  # a part without an equation is never cut out (`_protect_once`)
    got = _subsystem(system, part, incidence)
    want = _subsystem_cell_by_cell(system, part, incidence)
    assert got[0].keys == want[0].keys
    assert (got[0].values == want[0].values).all()
    assert got[0].constraints == want[0].constraints
    assert got[1] == want[1] and got[2] == want[2]
    assert got[3].tolist() == want[3].tolist()


def test_the_cells_tied_below_are_each_next_level_cells_unit_one_level_up() -> None:
    """A school's cell ties its district's, a district's the state's (a school of no known
    district: the state's); keys without a geography, and tables the stage has, tie none."""
    from privacy.release import _tied_below
    from privacy.tables import TableLayout

    def table(*keys: str) -> TableLayout:
        return TableLayout(None, pl.DataFrame({"cell_key": list(keys)}), (), ())  # type: ignore[arg-type]

    had = table("enrollment:2024-25|S:9|grade=01;")
    below = [
        table("enrollment:2024-25|S:1001|grade=01;", "enrollment:2024-25|S:1002|"),
        table("enrollment:2024-25|D:10|race_ethnicity=HI;", "enrollment:2024-25|S:7777|x=1;"),
        table("no-geography", "enrollment:2024-25|state|gender=F;|extra"),
        had,
    ]
    tied = _tied_below([had], below, {"1001": "10", "1002": "20"})
    assert tied == {
        "enrollment:2024-25|D:10|grade=01;",
        "enrollment:2024-25|D:20|",
        "enrollment:2024-25|state|race_ethnicity=HI;",
        "enrollment:2024-25|state|x=1;",
        "enrollment:2024-25|state|gender=F;|extra",
    }
    assert _tied_below([had], [had], {}) == frozenset()


def test_a_level_laid_out_ahead_is_the_level_built_with_its_tables_read(released_db) -> None:  # noqa: ANN001
    """`_laid_out_ahead` gives the cell system `build_system` gives, its incidence kept, and
    leaves on each table what the level's protection reads of it alone (the counts behind
    coded rates, the bounds its rates could tell), as the protection would work them out."""
    from privacy.policy import load_policy
    from privacy.release import _laid_out_ahead
    from privacy.tables import hide_required

    snap = _snapshot(released_db)
    policy = load_policy()
    requests = [
        TableRequest("graduation", YEAR, "school", ("outcome",)),
        TableRequest("graduation", YEAR, "district", ("outcome", "gender")),
    ]
    units = _units_for(snap, YEAR)
    fresh = [snap.layout(r) for r in requests]
    for lay in fresh:  # laid out anew: nothing kept on them yet
        lay.__dict__.pop("_hide_required", None)
        lay.__dict__.pop("_rate_bounds", None)
        lay.__dict__.pop("_denominator_keys", None)
    system = _laid_out_ahead(fresh, units, policy)
    want = build_system(fresh, units)
    assert system.keys == want.keys and (system.values == want.values).all()
    assert system.constraints == want.constraints
    kept = system._kept_incidence()  # noqa: SLF001
    assert kept is not None and kept.shape == (len(system.constraints), len(system))
    for lay in fresh:
        assert policy in lay.__dict__["_hide_required"] and policy in lay.__dict__["_rate_bounds"]
        assert hide_required(lay, policy) == set(lay.__dict__["_hide_required"][policy])
        kept_groups = lay.__dict__["_denominator_keys"]
        assert lay.denominator_keys() is kept_groups  # read, not worked out again
        with pytest.raises(TypeError):  # read-only: every reader shares it
            kept_groups["x"] = "y"  # type: ignore[index]
        with_rate = lay.rows.filter(pl.col("denominator_key").is_not_null())
        assert kept_groups == dict(
            zip(
                with_rate["cell_key"].to_list(), with_rate["denominator_key"].to_list(), strict=True
            )
        )
        assert len(kept_groups) == len(with_rate) > 0


def test_parts_handed_over_early_are_read_not_sent_again(monkeypatch) -> None:  # noqa: ANN001
    """A large part the caller handed to the processes as soon as it was cut out (``early``)
    is not sent again: its result is read with the others', each the one protected in this
    process; the rest go as `_jobs` makes them."""
    import privacy.release as release_module
    from privacy.cells import CellSystem, add_table
    from privacy.suppression import protect_parts

    policy = load_policy()
    parts = []
    for rows in (2, 9, 3, 7):
        system = CellSystem()
        add_table(system, "t", np.tile([2, 3, 30, 45], (rows, 1)))
        parts.append((system, policy, {"primary": [0]}))
    monkeypatch.setattr(release_module, "_PARALLEL_MIN_CELLS", 30)
    alone = release_module._run_parts(parts, workers=1)
    sent: list[object] = []

    class Seen(release_module.parallel.Processes):  # type: ignore[misc, name-defined]
        def submit(self, fn, item, priority=0.0):  # noqa: ANN001, ANN202
            sent.extend(p[0] for p in item)
            return super().submit(fn, item, priority)

    here: list[object] = []  # parts protected in this process
    real_part = release_module.protect_part
    monkeypatch.setattr(
        release_module, "protect_part", lambda part: here.append(part[0]) or real_part(part)
    )
    with Seen(2, ["privacy.suppression"]) as pool:
        early = {1: pool.submit(protect_parts, [parts[1]], priority=(0, 1))}
        points: list = []
        found = release_module._run_parts(parts, 2, points, pool, early=early)
    assert found == alone and here == []
    assert sorted(map(id, sent)) == sorted(id(p[0]) for p in parts)  # each part sent once
    assert len(points) == len(parts)
