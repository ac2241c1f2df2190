"""An audit's intervals kept as arrays read exactly as the intervals made one by one."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy.auditor import AuditReport, joined_reports
from privacy.intervals import Interval, Intervals, Violation, violation_reason
from privacy.policy import Policy

POLICY = Policy()

# (lower, upper or None for no upper end, primary, exact); ends may be fractional, as an
# outer bound can be
_ends = st.tuples(
    st.floats(0, 40, allow_nan=False),
    st.one_of(st.none(), st.floats(0, 40, allow_nan=False)),
    st.booleans(),
    st.booleans(),
)


def _table(rows: list, first: int = 0) -> tuple[Intervals, dict[int, Interval]]:
    """The rows as a table, and as the intervals `audit` made one by one before it."""
    cells = np.arange(first, first + 2 * len(rows), 2)
    lower = np.array([lo for lo, _, _, _ in rows], dtype=float)
    upper = np.array([max(lo, up) if up is not None else math.inf for lo, up, _, _ in rows])
    primary = np.array([p for _, _, p, _ in rows], dtype=bool)
    exact = np.array([e for _, _, _, e in rows], dtype=bool)
    keys = [("k", int(c)) for c in cells]
    table = Intervals(cells, keys, lower, upper, primary, exact)
    one_by_one = {
        int(c): Interval(
            cell=int(c),
            key=keys[i],
            lower=int(lower[i]),
            upper=math.inf if math.isinf(upper[i]) else int(upper[i]),
            primary=bool(primary[i]),
            exact=bool(exact[i]),
        )
        for i, c in enumerate(cells)
    }
    return table, one_by_one


@settings(max_examples=150, deadline=None)
@given(st.lists(_ends, max_size=40), st.integers(0, 12))
def test_a_table_reads_as_the_intervals_made_one_by_one(rows, k) -> None:  # noqa: ANN001
    table, want = _table(rows)
    assert table == want and dict(table.items()) == want and len(table) == len(want)
    assert list(table) == list(want)
    violations = [Violation(iv, violation_reason(iv, POLICY)) for iv in want.values()]
    assert table.violations(POLICY) == [v for v in violations if v.reason]
    by_hand = sorted(want.values(), key=lambda iv: (iv.width, iv.upper, not iv.primary, iv.cell))
    assert table.narrowest(k) == by_hand[:k]
    assert AuditReport(table, [], 0, 0.0, POLICY).narrowest(k) == by_hand[:k]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(_ends, max_size=12), min_size=1, max_size=4))
def test_reports_joined_side_by_side_renumber_every_interval(parts) -> None:  # noqa: ANN001
    """Joined as arrays, or as intervals made one by one: the same report."""
    tables = [_table(rows) for rows in parts]
    sizes = [2 * len(rows) + 3 for rows in parts]  # each system holds some shown cells too
    as_arrays = [AuditReport(t, t.violations(POLICY), 1, 0.0, POLICY) for t, _ in tables]
    as_dicts = [
        AuditReport(d, r.violations, 1, 0.0, POLICY)
        for (_, d), r in zip(tables, as_arrays, strict=True)
    ]
    joined, by_hand = joined_reports(as_arrays, sizes), joined_reports(as_dicts, sizes)
    assert isinstance(joined.intervals, Intervals)
    assert joined.intervals == by_hand.intervals
    assert joined.violations == by_hand.violations
    offset = 0
    for (_, want), size in zip(tables, sizes, strict=True):
        for c, iv in want.items():
            got = joined.intervals[c + offset]
            assert (got.cell, got.key, got.lower, got.upper) == (
                c + offset,
                iv.key,
                iv.lower,
                iv.upper,
            )
        offset += size


def test_a_table_refuses_what_it_cannot_hold() -> None:
    one = np.array([1.0])
    with pytest.raises(ValueError, match="ascending"):
        Intervals(np.array([3, 1]), ["a", "b"], [0, 0], [5, 5], [True, True], [True, True])
    with pytest.raises(ValueError, match="ascending"):
        Intervals(np.array([2, 2]), ["a", "b"], [0, 0], [5, 5], [True, True], [True, True])
    with pytest.raises(ValueError, match="one key"):
        Intervals(np.array([1]), ["a", "b"], one, one, [True], [True])
    with pytest.raises(ValueError, match="one key"):
        Intervals(np.array([1, 2]), ["a", "b"], one, [1.0, 2.0], [True, True], [True, True])
    table = Intervals(np.array([4]), ["a"], [0.0], [12.0], [True], [True])
    for missing in (3, 5, -1):
        with pytest.raises(KeyError):
            table[missing]
    assert 4 in table and 3 not in table and table.get(3) is None
    assert "4" not in table and None not in table  # not cell numbers: not held, as in a dict
