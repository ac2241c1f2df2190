"""Cells made equal by one-child sums: merged for protection, and attacked unmerged."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacy.aliases import merge
from privacy.auditor import audit
from privacy.cells import CellSystem, add_table
from privacy.policy import Policy
from privacy.suppression import SHOWN, ProtectionError, protect
from tests.test_suppression import COUNTS, assert_protected

POLICY = Policy()


def _copied(counts: np.ndarray, copies: int) -> tuple[CellSystem, dict[tuple, int], list]:
    """A table ("D") and `copies` copies of it ("S0", ...), each cell tied to D's by a
    one-child sum (a district and its only school, tables and all)."""
    system = CellSystem()
    index = add_table(system, "D", counts)
    twins = []
    for k in range(copies):
        other = add_table(system, f"S{k}", counts)
        for key, cell in index.items():
            system.add_constraint(cell, [other[key]])
        twins.append(other)
    return system, index, twins


def test_merge_keeps_one_cell_per_class_and_each_sum_once() -> None:
    counts = np.array([[3, 20], [12, 40]])
    system, index, (twin,) = _copied(counts, 1)
    merged = merge(system)
    assert merged is not None
    assert len(merged.system) == len(index)
    assert merged.system.keys == [system.keys[c] for c in index.values()]
    # the copy's table sums repeat D's: one row each; the one-child sums are gone
    assert len(merged.system.constraints) == len(system.constraints) // 2 - len(index) // 2
    assert (merged.row_of >= 0).sum() == 2 * len(merged.system.constraints)
    for key, cell in index.items():
        assert merged.cell_of[cell] == merged.cell_of[twin[key]]
    merged.system.validate()
    point = (np.array([0, 1]), np.array([7, 8]))
    cells, values = merged.expand_point(*point)
    assert sorted(zip(cells.tolist(), values.tolist(), strict=True)) == sorted(
        [(index[(0, 0)], 7), (twin[(0, 0)], 7), (index[(0, 1)], 8), (twin[(0, 1)], 8)]
    )


def test_merge_leaves_systems_without_copies_and_sums_it_cannot_state() -> None:
    plain = CellSystem()
    add_table(plain, "t", np.array([[3, 20], [12, 40]]))
    assert merge(plain) is None
    # a = b + c with c = a: once merged, a sum that holds its own parent
    loop = CellSystem()
    a, (b, c) = loop.add_sum(("a", 5), [("b", 0), ("c", 5)])
    loop.add_constraint(a, [c])
    assert merge(loop) is None
    # a = b + c with b = c: a child counted twice
    twice = CellSystem()
    a, (b, c) = twice.add_sum(("a", 8), [("b", 4), ("c", 4)])
    twice.add_constraint(b, [c])
    assert merge(twice) is None
    protection = protect(twice, POLICY)  # protected as it is
    assert_protected(twice, protection)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(2, 4), min_size=2, max_size=2).flatmap(
        lambda shape: st.lists(
            COUNTS, min_size=shape[0] * shape[1], max_size=shape[0] * shape[1]
        ).map(lambda v: np.array(v).reshape(shape))
    ),
    st.integers(1, 2),
)
def test_copies_are_protected_as_their_original_and_never_apart(counts, copies) -> None:  # noqa: ANN001
    """Copies of a table hide exactly what the table alone hides, and the attacker, who sees
    every copy and every sum, learns nothing more; showing one twin of a hidden small cell
    would give it away."""
    system, index, twins = _copied(counts, copies)
    protection = protect(system, POLICY)
    assert_protected(system, protection)
    alone = CellSystem()
    add_table(alone, "D", counts)
    expected = protect(alone, POLICY).status
    assert [protection.status[c] for c in index.values()] == expected
    for twin in twins:
        assert [protection.status[twin[k]] for k in index] == expected
    assert protection.stats["merged_cells"] == copies * len(index)
    small = [c for c in index.values() if protection.status[c] != SHOWN]
    small = [c for c in small if c in protection.primary]
    if small:
        cell = small[0]
        key = next(k for k, c in index.items() if c == cell)
        leaked = protection.hidden - {twins[0][key]}
        report = audit(system, leaked, POLICY, primary=protection.primary - {twins[0][key]})
        assert cell in {v.interval.cell for v in report.violations}
        assert report.intervals[cell].lower == report.intervals[cell].upper


def _released_then_copied() -> tuple[CellSystem, set[int], set[int], list[int], dict, dict]:
    """Table D released and protected; then a copy S of it, tied cell by cell (fresh sums)."""
    counts = np.array([[3, 20, 15, 40], [12, 4, 30, 22], [25, 18, 2, 35]])
    first = CellSystem()
    index = add_table(first, "D", counts)
    old_hidden = set(protect(first, POLICY).hidden)
    shown = set(range(len(first))) - old_hidden
    system = CellSystem(
        keys=list(first.keys), values=first.values.copy(), constraints=list(first.constraints)
    )
    fresh_from = len(system.constraints)
    twin = add_table(system, "S", counts)
    for key, cell in index.items():
        system.add_constraint(cell, [twin[key]])
    fresh = list(range(fresh_from, len(system.constraints)))
    return system, old_hidden, shown, fresh, index, twin


def test_a_copy_of_a_released_table_re_attacks_nothing() -> None:
    """The copy's sums repeat the released table's once merged: no fresh equation reaches a
    cell proven before, so every one stays settled, and the copy hides what its original
    hides."""
    system, old_hidden, shown, fresh, index, twin = _released_then_copied()
    result = protect(
        system, POLICY, must_hide=old_hidden, must_show=shown, proven=old_hidden, fresh_rows=fresh
    )
    assert_protected(system, result)
    assert result.stats["settled"] == len(old_hidden)
    assert all(result.status[twin[k]] == result.status[c] for k, c in index.items())


def test_a_fresh_sum_making_two_earlier_cells_equal_re_attacks_them() -> None:
    """Two cells hidden before, proven apart, that a new one-child sum says are equal: no
    longer proven (the new sum is known to the attacker), so they are attacked again."""
    counts_a = np.array([[3, 20], [12, 40]])
    counts_b = np.array([[3, 22], [11, 41]])
    first = CellSystem()
    a = add_table(first, "A", counts_a)
    b = add_table(first, "B", counts_b)
    old_hidden = set(protect(first, POLICY).hidden)
    assert {a[(0, 0)], b[(0, 0)]} <= old_hidden
    shown = set(range(len(first))) - old_hidden
    system = CellSystem(
        keys=list(first.keys), values=first.values.copy(), constraints=list(first.constraints)
    )
    system.add_constraint(a[(0, 0)], [b[(0, 0)]])
    fresh = [len(system.constraints) - 1]
    result = protect(
        system, POLICY, must_hide=old_hidden, must_show=shown, proven=old_hidden, fresh_rows=fresh
    )
    assert_protected(system, result)
    assert result.stats["settled"] <= len(old_hidden) - 2
    with pytest.raises(ValueError, match="among must_hide"):
        protect(system, POLICY, proven=old_hidden, fresh_rows=fresh)


def test_a_class_that_must_be_shown_and_hidden_is_refused_by_name() -> None:
    """One twin shown before, the other small now: protected as the system is, the refusal
    names the cells."""
    system, index, (twin,) = _copied(np.array([[3, 20], [12, 40]]), 1)
    with pytest.raises(ValueError, match="shown in an earlier release"):
        protect(system, POLICY, must_show=[twin[(0, 0)]])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(COUNTS, min_size=12, max_size=12).map(lambda v: np.array(v).reshape(3, 4)),
    st.lists(st.booleans(), min_size=20, max_size=20),
    st.integers(0, 19),
)
def test_the_attacker_sees_copies_as_one_cell(counts, hide, twin_shown) -> None:  # noqa: ANN001
    """Exact intervals over a table and its copy are the table's own intervals, for every
    hidden pattern; a copy hidden beside its shown twin is known exactly (a violation)."""
    system, index, (twin,) = _copied(counts, 1)
    alone = CellSystem()
    add_table(alone, "D", counts)
    hidden = [c for c, h in zip(index.values(), hide, strict=True) if h]
    if not hidden:
        return
    expected = audit(alone, hidden, POLICY, primary=[], exact=True)
    keys = list(index)
    both = hidden + [twin[keys[c]] for c in hidden]
    report = audit(system, both, POLICY, primary=[], exact=True)
    for c in hidden:
        for cell in (c, twin[keys[c]]):
            got, want = report.intervals[cell], expected.intervals[c]
            assert (got.lower, got.upper) == (want.lower, want.upper)
    leak = hidden[twin_shown % len(hidden)]
    report = audit(system, [c for c in both if c != twin[keys[leak]]], POLICY, primary=[])
    interval = report.intervals[leak]
    assert interval.lower == interval.upper == system.values[leak]
    assert leak in {v.interval.cell for v in report.violations}


def test_points_that_split_a_class_are_rejected_and_change_no_verdict() -> None:
    """The protection's points over copies decide the audit; the same points with one twin
    given another value are no points of the system: rejected, and the attacker (on the
    merged system) decides alone, the same way."""
    counts = np.array([[3, 20, 15, 40], [12, 4, 30, 22], [25, 18, 2, 35]])
    system, index, (twin,) = _copied(counts, 1)
    protection = protect(system, POLICY)
    hidden = protection.hidden
    with_points = audit(
        system, hidden, POLICY, primary=protection.primary, witnesses=protection.witnesses
    )
    assert with_points.ok and with_points.by_witnesses == len(with_points.intervals)
    assert with_points.valid_witnesses == len(protection.witnesses)
    twins = set(twin.values())
    split = []
    for cells, values in protection.witnesses:
        values = values.copy()
        values[np.isin(cells, list(twins))] += 1
        split.append((cells, values))
    alone = audit(system, hidden, POLICY, primary=protection.primary, witnesses=split)
    assert alone.valid_witnesses == 0 and alone.by_witnesses == 0
    assert alone.ok and alone.intervals.keys() == with_points.intervals.keys()


def _refused_or_safe(system: CellSystem, **options) -> set | None:  # noqa: ANN003
    """`protect` with `options`, attacked exactly on the system as it is: the refused keys,
    or None when it protected (and then nothing is recoverable)."""
    try:
        protection = protect(system, POLICY, **options)
    except ProtectionError as exc:
        return set(exc.keys)
    report = audit(system, protection.hidden, POLICY, primary=protection.primary, exact=True)
    assert report.ok, [(v.key, v.reason) for v in report.violations]
    return None


def test_a_fresh_sum_joining_two_hidden_cells_re_attacks_their_neighbours() -> None:
    """A new one-child sum says a cell hidden in A equals one hidden in B: the cells proven
    beside them are no longer proven (a review found them left settled and recoverable); the
    release is refused, as without merging or without earlier proofs."""
    first = CellSystem()
    a = add_table(first, "A", np.array([[3, 20], [12, 40]]))
    b = add_table(first, "B", np.array([[40, 3], [12, 20]]))
    old_hidden = set(protect(first, POLICY).hidden)
    shown = set(range(len(first))) - old_hidden
    system = first.copy()
    system.add_constraint(a[(1, 1)], [b[(0, 0)]])
    fresh = [len(system.constraints) - 1]
    options = {"must_hide": old_hidden, "must_show": shown, "fresh_rows": fresh}
    assert _refused_or_safe(system, proven=old_hidden, **options)
    assert _refused_or_safe(system, **options)


def test_a_small_twin_of_a_proven_complement_is_proven_as_small() -> None:
    """A complement proven wide enough for a complement ([10, 14]) gains a twin that is hidden
    as small: its class is attacked again for the small cell's criterion (width 5), not
    taken as proven (a review found it kept with width 4); refused as without merging, and
    the refusal names both twins."""
    first = CellSystem()
    _, (k, m) = first.add_sum(("S1", 14), [("k", 12), ("m", 2)])
    _, (_, w) = first.add_sum(("k", 12), [("L", 10), ("w", 2)])
    old_hidden = set(protect(first, POLICY, primary=[], must_hide=[k, m, w]).hidden)
    shown = set(range(len(first))) - old_hidden
    system = first.copy()
    x = system.add_cell("X", 12)
    system.add_constraint(k, [x])
    refused = _refused_or_safe(
        system,
        primary=[x],
        must_hide=old_hidden,
        must_show=shown,
        proven=old_hidden,
        fresh_rows=[len(system.constraints) - 1],
    )
    assert refused is not None and {"k", "X"} <= refused


def test_a_never_published_cell_does_not_hide_its_published_twin() -> None:
    """b is never published and its parent and sibling are shown; its twin b' may be shown
    (it tells only what the shown cells tell), as without merging; b itself stays hidden."""
    system = CellSystem()
    total, (a, b) = system.add_sum(("T", 30), [("a", 18), ("b", 12)])
    twin = system.add_cell("b'", 12)
    system.add_constraint(b, [twin])
    protection = protect(system, POLICY, must_show=[total, a], unchecked=[b])
    assert protection.status[twin] == SHOWN and b in protection.hidden
    report = audit(system, protection.hidden, POLICY, primary=protection.primary, unchecked=[b])
    assert report.ok
