"""CellSystem: bulk constraints check like single ones; the incidence matrix follows growth."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy.cells import (
    CellSystem,
    add_table,
    distinct,
    distinct_where,
    side_by_side,
    sorted_distinct,
)


def _system() -> CellSystem:
    return CellSystem(keys=["t", "a", "b", "c"], values=[3, 1, 2, 0])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([(0, [1, 2]), (0, [])], "has no children"),
        ([(0, [1, 2]), (0, [9])], "unknown cell index"),
        ([(0, [1, 2]), (1, [3, 3])], "repeats a cell"),
        ([(0, [1, 2]), (1, [1, 3])], "repeats a cell"),
        ([(-1, [1])], "unknown cell index"),
    ],
)
def test_bulk_constraints_are_checked_and_nothing_is_half_added(bad, message) -> None:  # noqa: ANN001
    system = _system()
    with pytest.raises(ValueError, match=message):
        system.add_constraints(bad)
    assert system.constraints == []


def test_bulk_constraints_equal_single_ones_and_incidence_follows() -> None:
    one, many = _system(), _system()
    pairs = [(0, [1, 2, 3]), (0, [2, 1, 3])]
    for p, ch in pairs:
        one.add_constraint(p, ch)
    many.add_constraints(pairs)
    assert one.constraints == many.constraints
    first = many.incidence()
    assert (first.toarray() == one.incidence().toarray()).all()
    assert many.incidence() is first  # built once per shape
    many.add_constraint(many.add_cell("d", 0), [3])
    grown = many.incidence()
    assert grown.shape == (3, 5)
    assert (grown @ many.values == 0).all()
    assert np.array_equal(grown.toarray()[2], [0, 0, 0, -1, 1])


def test_a_system_with_a_repeated_key_is_refused() -> None:
    """Two cells under one key would let one count stand for another: refused, naming it."""
    with pytest.raises(ValueError, match="duplicate cell key 'b'"):
        CellSystem(keys=["a", "b", "c", "b"], values=np.array([1, 2, 3, 2]))
    system = CellSystem(keys=["a", "b", "c"], values=np.array([1, 2, 3]))
    assert system.index == {"a": 0, "b": 1, "c": 2}


def test_a_copy_grows_without_changing_the_system_it_copies() -> None:
    """Cells, bounds and sums added to a copy stay out of the original (whose constraints'
    children lists the copy shares: no constraint is ever changed in place)."""
    system = CellSystem()
    add_table(system, "t", np.array([[2, 30], [40, 5]]))
    before = (
        list(system.keys),
        system.values.copy(),
        [(p, list(ch)) for p, ch in system.constraints],
    )
    copy = system.copy()
    cell = copy.add_cell("extra", int(system.values[0]))
    copy.add_constraint(cell, [0])  # a sum the original does not hold
    copy.add_bounds({1: (1, 40)})
    assert len(copy) > len(system) and len(copy.constraints) > len(system.constraints)
    after = (list(system.keys), system.values, [(p, list(ch)) for p, ch in system.constraints])
    assert before[0] == after[0] and (before[1] == after[1]).all() and before[2] == after[2]
    assert "extra" not in system.index
    system.validate()
    copy.validate()


def test_systems_side_by_side_keep_every_sum_renumbered() -> None:
    """Populations' cell systems joined for the audit: the cells in turn, and every sum of each
    system over the same cells, moved past the systems before it (the first as it is)."""
    rng = np.random.default_rng(5)
    systems = []
    for rows, cols in ((3, 4), (2, 5), (4, 2)):
        system = CellSystem()
        add_table(system, f"t{rows}", rng.integers(0, 40, size=(rows, cols)))
        systems.append(system)
    systems.append(CellSystem(keys=["lone"], values=[7]))  # a system of no sum
    joined = side_by_side(systems)
    assert joined.keys == [k for s in systems for k in s.keys]
    offset, expected = 0, []
    for s in systems:
        expected += [(p + offset, [c + offset for c in ch]) for p, ch in s.constraints]
        offset += len(s)
    assert joined.constraints == expected
    joined.validate()
    assert side_by_side([]).constraints == [] and len(side_by_side([])) == 0


def _bounds_one_by_one(system: CellSystem, bounds: dict) -> tuple[list[int], list[int]]:
    """`add_bounds` through `add_cell` and `add_constraint`, one bound after another (the way
    it takes where a new key exists already)."""
    system._add_bounds_at_once = lambda _: None  # noqa: SLF001
    return system.add_bounds(bounds)


def test_bounds_added_at_once_are_those_added_one_by_one() -> None:
    """The same constants and slacks, numbered alike, with the same equations and index."""
    rng = np.random.default_rng(11)
    for _ in range(200):
        n = int(rng.integers(1, 30))
        values = rng.integers(0, 60, n)
        system = CellSystem(keys=[f"k{i}" for i in range(n)], values=values)
        bounds = {}
        for cell in rng.choice(n, int(rng.integers(0, n + 1)), replace=False).tolist():
            v = int(values[cell])
            lo = int(rng.integers(0, v + 1))
            bounds[cell] = (lo, None if rng.random() < 0.4 else v + int(rng.integers(0, 5)))
        at_once, one_by_one = system.copy(), system.copy()
        assert at_once.add_bounds(bounds) == _bounds_one_by_one(one_by_one, bounds)
        assert at_once.keys == one_by_one.keys and at_once.index == one_by_one.index
        assert at_once.values.tolist() == one_by_one.values.tolist()
        assert at_once.constraints == one_by_one.constraints
        at_once.validate()


def test_a_bound_its_count_breaks_adds_nothing_and_a_known_key_is_reused() -> None:
    system = CellSystem(keys=["a", "b", "c"], values=[5, 9, 2])
    with pytest.raises(ValueError, match="outside its public bounds"):
        system.add_bounds({0: (1, None), 1: (10, None)})  # b = 9 is below 10
    assert len(system) == 3 and system.constraints == [] and set(system.index) == {"a", "b", "c"}
    system.add_cell("~lo|a", 1)  # a bound's constant that exists already: found, not doubled
    constants, slacks = system.add_bounds({0: (1, 6)})
    assert constants[0] == system.index["~lo|a"] and len(system) == 7
    assert system.keys[slacks[0]] == "~lo~slack|a" and system.keys[constants[1]] == "~hi|a"
    system.validate()


def test_a_system_of_distinct_keys_reads_and_grows_like_a_checked_one() -> None:
    keys, values = ["t", "a", "b", "c"], np.array([3, 1, 2, 0])
    checked = CellSystem(keys=list(keys), values=values)
    trusted = CellSystem.of_distinct_keys(keys, values)
    assert trusted._index is None  # noqa: SLF001 - built only when read
    assert trusted.keys == checked.keys and (trusted.values == checked.values).all()
    assert trusted.index == checked.index == {"t": 0, "a": 1, "b": 2, "c": 3}
    values[0] = 99  # its values are its own
    assert trusted.values[0] == 3
    for system in (checked, trusted):
        assert system.add_cell("d", 5) == 4
        assert system.add_cell("a", 1) == 1
        with pytest.raises(ValueError, match="already holds"):
            system.add_cell("b", 7)
        system.add_constraint(0, [1, 2, 3])
        system.validate()
    assert trusted.index == checked.index and trusted.keys == checked.keys


def test_a_pickled_system_leaves_its_index_behind_and_rebuilds_it() -> None:
    import pickle

    system = _system()
    system.add_constraint(0, [1, 2, 3])
    system.add_bounds({1: (1, 4)})
    sent = pickle.dumps(system)
    again = pickle.loads(sent)
    assert again._index is None  # noqa: SLF001
    assert again.index == system.index and again.keys == system.keys
    assert again.constraints == system.constraints and (again.values == system.values).all()
    again.add_cell("e", 1)
    assert "e" in again.index and "e" not in system.index


def test_a_copy_grows_apart_from_its_original() -> None:
    system = _system()
    system.index  # noqa: B018 - built before the copy
    for original in (system, CellSystem.of_distinct_keys(system.keys, system.values)):
        copy = original.copy()
        copy.add_cell("x", 4)
        copy.add_bounds({0: (1, 5)})
        assert "x" in copy.index and "x" not in original.index
        assert len(original) == 4 and len(copy.keys) == len(copy.index)


def test_an_incidence_grown_from_a_kept_one_is_the_one_built_from_nothing() -> None:
    """A copy (or the system itself) that adds cells, sums and bounds after its incidence
    was built extends it: the same matrix, entry for entry and type for type, as one built
    from its constraints alone."""
    system = CellSystem()
    add_table(system, "t", np.array([[2, 30, 4], [40, 5, 0]]))
    kept = system.incidence()
    copy = system.copy()
    copy.add_bounds({1: (1, 40), 5: (0, 12)})
    extra = copy.add_cell("extra", int(copy.values[0]))
    copy.add_constraint(extra, [0])
    system.add_constraint(system.add_cell("twin", int(system.values[2])), [2])
    assert system.incidence() is not kept
    for grown in (copy, system):
        fresh = CellSystem(keys=list(grown.keys), values=grown.values)
        fresh.constraints = list(grown.constraints)
        got, want = grown.incidence(), fresh.incidence()
        assert got.shape == want.shape and got.has_canonical_format
        for part in ("data", "indices", "indptr"):
            assert getattr(got, part).dtype == getattr(want, part).dtype
            assert np.array_equal(getattr(got, part), getattr(want, part))
        assert (got @ grown.values == 0).all()


def test_constraints_added_at_once_leave_their_incidence_as_built_from_nothing() -> None:
    system = CellSystem(keys=list("tabcde"), values=[3, 1, 2, 0, 4, 4])
    system.add_constraints([(0, [3, 1, 2]), (4, [5]), (5, [4])])
    fresh = CellSystem(keys=list(system.keys), values=system.values)
    fresh.constraints = list(system.constraints)
    got, want = system.incidence(), fresh.incidence()
    for part in ("data", "indices", "indptr"):
        assert getattr(got, part).dtype == getattr(want, part).dtype
        assert np.array_equal(getattr(got, part), getattr(want, part))
    system.add_constraints([(1, [3, 2, 0])])  # more: the kept rows, then theirs
    assert np.array_equal(system.incidence().toarray()[3], [-1, 1, -1, -1, 0, 0])


def test_a_list_of_constraints_put_in_place_of_another_gets_its_own_incidence() -> None:
    """An incidence kept for one list of constraints is never read for another put in its
    place (as `privacy.cell_build` does), even one as long or longer."""
    system = CellSystem(keys=list("tabc"), values=[3, 1, 2, 0])
    system.add_constraints([(0, [1, 2])])
    system.incidence()
    system.constraints = [(0, [1, 2, 3]), (2, [1, 3, 0])]
    got = system.incidence()
    assert got.shape == (2, 4)
    assert np.array_equal(got.toarray(), [[1, -1, -1, -1], [-1, -1, 1, -1]])


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 300),
    st.lists(st.integers(0, 10**6), max_size=400),
    st.sampled_from([np.int32, np.int64]),
)
def test_distinct_numbers_are_numpys_unique(size, raw, kind) -> None:  # noqa: ANN001
    """Marked or sorted, the same arrays as ``np.unique`` (with its inverse)."""
    values = (np.array(raw, dtype=np.int64) % size).astype(kind)
    found, want = distinct(values, size), np.unique(values)
    assert found.dtype == want.dtype and np.array_equal(found, want)
    found, where = distinct_where(values, size)
    want, inverse = np.unique(values, return_inverse=True)
    assert np.array_equal(found, want) and np.array_equal(where, inverse)
    assert where.dtype == inverse.dtype


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(10**12), 10**12), max_size=300), st.sampled_from([np.int64, float]))
def test_sorted_distinct_numbers_are_numpys_unique(raw, kind) -> None:  # noqa: ANN001
    """Any numbers, however far apart (a few repeated), by a plain sort: ``np.unique``."""
    values = np.array(raw + raw[: len(raw) // 3], dtype=kind)
    found, want = sorted_distinct(values), np.unique(values)
    assert found.dtype == want.dtype and np.array_equal(found, want)
