"""A custom table's cell system, extended from what was released before, is the whole one.

The attacker of a custom table must know every sum of every released table. `SystemBase`
keeps the cell system of the tables released before and adds a new table to it; these tests
check it against laying every table out again (`build_system`), on random tables of a real
warehouse, and that releases use and keep it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacy.catalogue import public_catalogue
from privacy.cell_build import SystemBase, build_system, is_latent
from privacy.cells import CellSystem
from privacy.release import _protect, _snapshot, _units_for, release_table
from privacy.requests import PROGRAM_FLAGS, TableRequest, dimension_codes
from privacy.tables import POPULATION_OF, TableLayout
from tests.conftest import RELEASE_YEAR as YEAR

DIMS = ("grade", "race_ethnicity", "gender", *PROGRAM_FLAGS)


def _sums(system: CellSystem) -> set[tuple[Hashable, tuple[Hashable, ...]]]:
    return {
        (system.keys[p], tuple(sorted(str(system.keys[c]) for c in kids)))
        for p, kids in system.constraints
    }


def _assert_same_system(extended: CellSystem, full: CellSystem) -> None:
    """Same cells with the same counts and the same sums; extra cells are latent, in no sum."""
    extended.validate()
    assert _sums(extended) == _sums(full)
    values = dict(zip(extended.keys, extended.values.tolist(), strict=True))
    assert values.items() >= dict(zip(full.keys, full.values.tolist(), strict=True)).items()
    in_sums = {c for p, kids in extended.constraints for c in (p, *kids)}
    extra = [k for i, k in enumerate(extended.keys) if k not in full.index]
    assert all(is_latent(k) for k in extra), extra
    assert not {extended.index[k] for k in extra} & in_sums


def _public_enrollment(db: Path) -> list[TableLayout]:
    snap = _snapshot(db)
    return [
        snap.layout(e.request)
        for e in public_catalogue(YEAR)
        if e.request.measure != "staff" and POPULATION_OF[e.request.measure] == "enrollment"
    ]


@st.composite
def enrollment_requests(draw: st.DrawFn) -> TableRequest:
    geography = draw(st.sampled_from(("state", "district", "school")))
    dims = draw(st.lists(st.sampled_from(DIMS), min_size=1, max_size=2, unique=True))
    filters: tuple[tuple[str, str], ...] = ()
    if draw(st.booleans()):
        name = draw(st.sampled_from([d for d in DIMS if d not in dims]))
        code = draw(st.sampled_from([c for c, _ in dimension_codes(name)]))
        filters = ((name, code),)
    return TableRequest("enrollment", YEAR, geography, tuple(dims), filters)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(new=st.lists(enrollment_requests(), min_size=1, max_size=4), cut=st.integers(0, 30))
def test_a_base_extended_or_grown_holds_every_sum_of_laying_all_out_again(
    built_db: Path, new: list[TableRequest], cut: int
) -> None:
    """Random tables (filtered ones too, whose filter sums gain codes) added to the public
    enrollment tables, or to some of them: one extension, or a base grown table by table."""
    snap = _snapshot(built_db)
    units = _units_for(snap, YEAR)
    public = _public_enrollment(built_db)
    earlier = public[: max(1, cut)]
    added = [snap.layout(r) for r in new]
    base = SystemBase.build(earlier, units)
    _assert_same_system(base.system, build_system(earlier, units))
    _assert_same_system(base.extend([*earlier, *added]), build_system([*earlier, *added], units))
    grown, layouts = base, list(earlier)
    for lay in added:
        layouts.append(lay)
        grown = grown.grow(layouts)
        full = build_system(layouts, units)
        _assert_same_system(grown.system, full)
        # the sums a later table may replace are where the base says they are
        for (parent, _, _), row in grown.latent_rows.items():
            p, kids = grown.system.constraints[row]
            assert grown.system.keys[p] == parent
            assert any(is_latent(grown.system.keys[c]) for c in kids)
    last = snap.layout(
        TableRequest("enrollment", YEAR, "school", ("gender",), (("homeless", "true"),))
    )
    _assert_same_system(grown.extend([*layouts, last]), build_system([*layouts, last], units))


def test_a_filter_sum_that_gains_codes_replaces_the_one_before(built_db: Path) -> None:
    """School x race for gender F, then for M: the unfiltered cell is F + M + a latent rest
    (gender X), no longer F + a rest (M and X) that the earlier base held."""
    snap = _snapshot(built_db)
    units = _units_for(snap, YEAR)
    public = _public_enrollment(built_db)
    female, male = (
        snap.layout(
            TableRequest("enrollment", YEAR, "school", ("race_ethnicity",), (("gender", g),))
        )
        for g in ("F", "M")
    )
    base = SystemBase.build([*public, female], units)
    assert base.latent_rows
    extended = base.extend([*public, female, male])
    _assert_same_system(extended, build_system([*public, female, male], units))
    rests = {k for k in extended.keys if is_latent(k)}
    assert any(k.endswith("gender=M+X") for k in rests)  # the rest before: now in no sum
    sums = _sums(extended)
    assert not any(any(str(k).endswith("gender=M+X") for k in kids) for _, kids in sums)
    assert any(any(str(k).endswith("gender=X") for k in kids) for _, kids in sums)
    # grown instead: the homeless sums kept after the gender ones replaced are still found
    homeless = [
        snap.layout(
            TableRequest("enrollment", YEAR, "school", ("race_ethnicity",), (("homeless", f),))
        )
        for f in ("true", "false")
    ]
    layouts = [*public, female, homeless[0]]
    grown = SystemBase.build(layouts, units)
    for lay in (male, homeless[1]):
        layouts.append(lay)
        grown = grown.grow(layouts)
        _assert_same_system(grown.system, build_system(layouts, units))
    assert {name for _, name, _ in grown.latent_rows} == {"gender"}  # homeless: every code


def test_an_extension_refuses_other_tables_and_inconsistent_counts(built_db: Path) -> None:
    snap = _snapshot(built_db)
    units = _units_for(snap, YEAR)
    public = _public_enrollment(built_db)
    base = SystemBase.build(public, units)
    with pytest.raises(ValueError, match="do not start with the base's layouts"):
        base.extend(public[1:])
    changed = dataclasses.replace(public[0], rows=public[0].rows.with_columns(pl.col("value") + 1))
    changed = dataclasses.replace(
        changed,
        request=TableRequest("enrollment", YEAR, "state", ("gender",), (("homeless", "true"),)),
    )
    with pytest.raises(RuntimeError, match="carries two values"):
        base.extend([*public, changed])
    assert _sums(base.extend(public)) == _sums(base.system)  # nothing new: the same system


def test_custom_tables_extend_the_kept_base_and_grow_it(released_db: Path, monkeypatch) -> None:  # noqa: ANN001
    """After the read-ahead, custom tables lay out only themselves: the kept system of what was
    released grows by each released table instead of being built again; and what they show
    passes the year's audit, whose attacker lays every table out afresh."""
    import privacy.cell_build as cell_build
    from privacy.release import audit_year, prepare_custom_tables

    class Staff:
        user_id = "cell.build"

    prepare_custom_tables(released_db, YEAR)
    built: list[int] = []
    original = cell_build.SystemBase.build.__func__

    def counting(cls, layouts, units):  # noqa: ANN001, ANN202
        built.append(len(layouts))
        return original(cls, layouts, units)

    monkeypatch.setattr(cell_build.SystemBase, "build", classmethod(counting))
    first, second = (
        TableRequest("enrollment", YEAR, "district", dims)
        for dims in (("gender", "economically_disadvantaged"), ("homeless", "english_learner"))
    )
    for request in (first, second):
        assert release_table(released_db, request, Staff()).data.height
    assert built == []
    # the second table was protected with the base grown by the first
    assert _snapshot(released_db).bases[(YEAR, "enrollment")].requests[-1] == first.to_json()
    report = audit_year(released_db, YEAR)
    assert report.ok, (report.problems, report.report.violations[:5])


def test_the_same_registry_gives_the_same_pattern_whatever_the_process_did_before(
    released_db: Path, tmp_path: Path
) -> None:
    """A kept base grown release by release, one built afresh (a restarted server) and no base
    at all order cells and sums differently; the protection of a custom table must not care."""
    import shutil

    from privacy.policy import load_policy
    from privacy.release import _custom_inputs
    from warehouse.connection import state_path

    db = tmp_path / "copy.duckdb"
    shutil.copyfile(released_db, db)
    shutil.copyfile(state_path(released_db), state_path(db))

    class Staff:
        user_id = "same.pattern"

    for request in (  # the kept bases grow by each (filter sums gain codes: orphan rests)
        TableRequest("assessment", YEAR, "district", ("gender",), (("race_ethnicity", "AS"),)),
        TableRequest("assessment", YEAR, "district", ("gender",), (("race_ethnicity", "WH"),)),
        TableRequest("enrollment", YEAR, "school", ("race_ethnicity",), (("gender", "F"),)),
        TableRequest("graduation", YEAR, "school", ("gender",), (("homeless", "true"),)),
    ):
        release_table(db, request, Staff())
    snap = _snapshot(db)
    policy = load_policy()
    for request in (
        TableRequest("assessment", YEAR, "district", ("gender", "race_ethnicity")),
        TableRequest("graduation", YEAR, "district", ("gender", "homeless")),
        TableRequest("enrollment", YEAR, "school", ("race_ethnicity",), (("gender", "X"),)),
    ):
        known = snap.known_cells(YEAR)
        population = POPULATION_OF[request.measure]
        earlier, units, old, grown = _custom_inputs(snap, YEAR, population, known, policy)
        assert grown is not None and len(grown.requests) == len(earlier)
        fresh = SystemBase.build(earlier, units)
        new = snap.layout(request)
        found = [
            _protect(
                [*earlier, new],
                units,
                policy,
                known=known.statuses,
                earlier=earlier,
                old_equations=old,
                base=base,
            ).statuses
            for base in (grown, fresh, None)
        ]
        assert found[0] == found[1] == found[2], request
        assert any(st != "shown" for k, st in found[0].items() if k not in known.statuses)


def _parents_one_by_one(key: str) -> list[tuple[str, str, str, str]]:
    """(parent, dimension, head, code) per dimension a key fixes, by plain string work: what
    `_filter_rows` must give on whole columns."""
    if key.startswith("~"):
        return []
    head, sep, dims = key.rpartition("|")
    parts = [p for p in dims.split(";") if p] if sep else []
    out = []
    for j, part in enumerate(parts):
        name, _, code = part.partition("=")
        rest = "".join(f"{p};" for p in parts[:j] + parts[j + 1 :])
        out.append((f"{head}|{rest}", name, head, code))
    return out


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), keep=st.floats(0.3, 1.0))
def test_filter_sums_on_whole_columns_are_those_of_each_group_in_turn(
    seed: int, keep: float
) -> None:
    """The filter groups and sums `build_system` works out on whole columns (`_filter_rows`,
    `_group_sums`) against the groups read key by key and summed one at a time (`_group_sum`):
    the same groups, the same sums in the same order, the same latent cells. Keys hold codes a
    dimension lacks, dimensions in either order (one cell under both: the last counts), a code
    with "=", "~" keys and bare heads."""
    import numpy as np

    from privacy.cell_build import _filter_rows, _group_sum, _group_sums, _groups_of

    rng = np.random.default_rng(seed)
    genders = [c for c, _ in dimension_codes("gender")]
    races = [c for c, _ in dimension_codes("race_ethnicity")][:4]
    counts = {(g, r): int(rng.integers(0, 30)) for g in genders for r in races}
    values: dict[str, int] = {}
    for head in ("m:Y|S:1", "m:Y|S:2"):
        values[f"{head}|"] = sum(counts.values())
        for g in genders:
            values[f"{head}|gender={g};"] = sum(counts[g, r] for r in races)
        for r in races:
            values[f"{head}|race_ethnicity={r};"] = sum(counts[g, r] for g in genders)
        for (g, r), v in counts.items():
            order = (f"gender={g};race_ethnicity={r};", f"race_ethnicity={r};gender={g};")
            values[f"{head}|{order[int(rng.integers(0, 2))]}"] = v
        values[f"{head}|gender=??;"] = 1  # a code the dimension does not hold: in no sum
        g, r = genders[0], races[0]  # one cell under two keys (dimensions in both orders)
        values[f"{head}|gender={g};race_ethnicity={r};"] = counts[g, r]
        values[f"{head}|race_ethnicity={r};gender={g};"] = counts[g, r]
        values[f"{head}|race_ethnicity=A=B;"] = 2
    values["~lo|m:Y|S:1|"] = 0
    values["m:Y"] = 5  # no "|": fixes nothing
    keys = [k for k in values if k.startswith(("~", "m:Y|S:1|;")) or rng.random() < keep]
    if not keys:
        return
    rows = _filter_rows(keys, 0)
    expected = [
        (parent, name, head, code, i)
        for i, key in enumerate(keys)
        for parent, name, head, code in _parents_one_by_one(key)
    ]
    assert [
        tuple(r) for r in rows.select("parent", "name", "head", "code", "i").iter_rows()
    ] == expected
    groups = _groups_of(rows, {})
    one = CellSystem(keys=list(keys), values=[values[k] for k in keys])
    whole = CellSystem(keys=list(keys), values=[values[k] for k in keys])
    wanted = []
    for group in sorted(groups):
        eq = _group_sum(one, group, groups[group])
        if eq is not None:
            wanted.append((group, *eq))
    assert _group_sums(whole, rows) == wanted
    assert whole.keys == one.keys and whole.values.tolist() == one.values.tolist()


def test_filter_sums_that_do_not_add_up_are_refused_on_whole_columns() -> None:
    from privacy.cell_build import _filter_rows, _group_sums

    keys = ["m|S:1|", "m|S:1|gender=F;", "m|S:1|gender=M;"]
    for values, message in (([3, 2, 2], "more than it holds"), ([9, 2, 2], None)):
        system = CellSystem(keys=keys, values=values)
        if message:
            with pytest.raises(RuntimeError, match=message):
                _group_sums(system, _filter_rows(keys, 0))
        else:  # X is missing: a latent cell holds the 5 left
            ((_, (parent, kids), latent),) = _group_sums(system, _filter_rows(keys, 0))
            assert latent and parent == 0 and system.keys[kids[-1]].endswith("gender=X")
            assert int(system.values[kids[-1]]) == 5
    complete = CellSystem(keys=[*keys, "m|S:1|gender=X;"], values=[9, 2, 2, 1])
    with pytest.raises(RuntimeError, match="do not add up"):
        _group_sums(complete, _filter_rows(complete.keys, 0))
