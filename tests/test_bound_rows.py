"""`privacy.bound_rows`: a model without its rows that only bound one cell has the same points.

The attacker's kept models (`privacy.auditor._WarmLP`, `_WarmAggregate`) and its whole-component
points solve the reduced model and put the slacks back: a wrong sign or offset there would turn
an infeasible point into a "proof", or miss the true optimum (a bound the attacker could prove
that the audit never finds).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy import highs
from privacy.auditor import _WarmLP
from privacy.bound_rows import BoundRows
from privacy.cells import CellSystem


@st.composite
def bounded_systems(draw: st.DrawFn) -> tuple:
    """(a, b, truth, lo, hi, c): sums over a few cells, public bounds on some of them as
    ``cell - slack = lo`` / ``cell + slack = hi`` rows (a slack in no other row), some cells
    (slacks too) held at their true value, and an objective over every column."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(2, 8))
    truth = list(rng.integers(0, 9, size=n))
    rows: list[dict[int, int]] = []
    for _ in range(draw(st.integers(1, 4))):
        members = rng.choice(n, size=int(rng.integers(2, n + 1)), replace=False)
        rows.append({int(j): int(rng.choice([-1, 1])) for j in members})
    for j in rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False).tolist():
        kind = rng.integers(0, 3)  # a lower bound, an upper bound, or both
        if kind in (0, 2):
            lo = int(truth[j]) - int(rng.integers(0, 3))
            truth.append(int(truth[j]) - lo)  # its slack
            rows.append({j: 1, len(truth) - 1: -1})
        if kind in (1, 2):
            hi = int(truth[j]) + int(rng.integers(0, 3))
            truth.append(hi - int(truth[j]))
            rows.append({j: 1, len(truth) - 1: 1})
    size = len(truth)
    a = sp.lil_matrix((len(rows), size))
    for r, row in enumerate(rows):
        for j, coef in row.items():
            a[r, j] = coef
    a = sp.csr_matrix(a)
    x0 = np.array(truth, dtype=float)
    held = rng.random(size) < 0.2
    lo = np.where(held, x0, 0.0)
    hi = np.where(held, x0, np.where(rng.random(size) < 0.3, x0 + 4, np.inf))
    c = rng.integers(-3, 4, size=size).astype(float)
    keep = rng.random(size) < 0.2
    return a, a @ x0, x0, lo, hi, c, keep


def _lp(c: np.ndarray, a: sp.csr_matrix, b: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    return highs.milp(c, a, (b, b), (lo, hi), presolve=False)[0]


@settings(max_examples=300, deadline=None)
@given(system=bounded_systems())
def test_the_reduced_model_has_the_same_optimum_and_points(system: tuple) -> None:
    a, b, x0, lo, hi, c, keep = system
    whole = _lp(c, a, b, lo, hi)
    rows = BoundRows(a, b, keep=np.flatnonzero(keep))
    assert (rows.position[keep] >= 0).all()  # a column the caller links to stays
    # one row out per slack taken out, each a column of that row alone
    assert rows.a.shape[0] + len(rows.slack) == a.shape[0]
    assert (np.bincount(a.indices, minlength=a.shape[1])[rows.slack] == 1).all()
    assert len(rows.slack) or keep[-1]  # the last column is a bound's slack: it goes unless kept
    found = _lp(rows.costs(c), rows.a, rows.b, *rows.bounds(lo, hi))
    # bounded above by 4 over its truth or held, every column but a slack of an unbounded
    # cell: the truth is feasible, so an optimum exists unless the objective is unbounded
    assert (whole is None) == (found is None)
    if whole is None:
        return
    point = rows.restore(found)
    assert c @ point == pytest.approx(c @ whole, abs=1e-6)
    assert np.allclose(a @ point, b) and (point >= lo - 1e-9).all() and (point <= hi + 1e-9).all()
    # the truth, reduced and put back, is the truth
    assert np.array_equal(rows.restore(x0[rows.columns]), x0)


def test_a_kept_lp_holds_a_cell_whose_bound_slack_is_held() -> None:
    """A rate bound's slack held at its value (the bound's count shown) pins its cell."""
    system = CellSystem()
    _, cells = system.add_sum((("T",), 30), [(("a",), 5), (("b",), 10), (("c",), 15)])
    _, slacks = system.add_bounds({cells[0]: (2, 9)})  # 2 <= a <= 9
    a = system.incidence()[:, 1:].tocsr()  # every cell but the shown total
    b = -system.incidence()[:, [0]].toarray().ravel() * 30
    members = np.arange(1, len(system))
    free_cells = np.isin(members, [*cells, *slacks])
    lp = _WarmLP(members, a, b)
    truth = system.values[members].astype(float)
    up = lp.solve(cells[0], 1, free_cells, truth)
    assert up is not None and up[0] == 9  # the bound, not the total's 30
    assert np.allclose(a @ up, b)
    held = free_cells & (members != slacks[-1])  # the upper bound's slack held
    up = lp.solve(cells[0], 1, held, truth)
    assert up is not None and up[0] == 5
    down = lp.solve(cells[0], -1, free_cells, truth)
    assert down is not None and down[0] == 2 and np.allclose(a @ down, b)


def test_a_bound_row_with_another_coefficient_is_refused() -> None:
    """`bounds` shifts a slack's range by its constant: right only for coefficients +-1."""
    a = sp.csr_matrix(np.array([[1.0, 1.0, 0.0], [2.0, 0.0, -1.0]]))  # x2 a slack of 2 x0
    with pytest.raises(ValueError, match="coefficient"):
        BoundRows(a, np.array([5.0, 4.0]))
