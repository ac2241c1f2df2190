"""Post-processing noisy counts into non-negative integers that add up everywhere.

Noisy counts straight from a mechanism do not add up (a district is not the sum of its noisy
schools) and can be negative. Post-processing a differentially private answer costs no privacy,
so we repair it in two steps:

1. Least squares: project the noisy vector onto the linear space where every constraint
   ``parent == sum(children)`` holds (sparse LSQR on the constraint matrix). Every cell then
   borrows strength from every measurement of it: a state total is averaged with the sum of its
   districts, so aggregates become more accurate than the raw noise.
2. Controlled rounding, top-down: cells are fixed stage by stage (state, then districts, then
   schools; within a level, totals before their breakdowns). At each stage the cells of that
   stage are chosen as non-negative integers closest (L1) to the least-squares values subject to
   every constraint whose other cells are already fixed, so children sum exactly to their
   already rounded parent. Each stage splits into small independent integer programs (one per
   connected component, e.g. the schools of one district) solved with HiGHS.

>>> import numpy as np
>>> noisy = np.array([10, 4, 3, -2])          # total, and three parts
>>> out = reconcile(noisy, [(0, [1, 2, 3])], levels=[0, 1, 1, 1])
>>> bool(out[0] == out[1:].sum() and out.min() >= 0)
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import lsqr

MILP_TIME_LIMIT_S = 60.0
STAGE_TIME_LIMIT_S = 20.0


class ReconcileError(RuntimeError):
    """No non-negative integer solution was found for some stage (should not happen)."""


def constraint_matrix(constraints: Sequence[tuple[int, Sequence[int]]], n: int) -> sp.csr_matrix:
    """Constraints x cells: +1 for the parent, -1 for each child (A @ x == 0 when consistent)."""
    rows, cols, data = [], [], []
    for r, (parent, children) in enumerate(constraints):
        rows.append(r)
        cols.append(int(parent))
        data.append(1.0)
        for c in children:
            rows.append(r)
            cols.append(int(c))
            data.append(-1.0)
    return sp.csr_matrix((data, (rows, cols)), shape=(len(constraints), n))


def least_squares(noisy: np.ndarray, a: sp.csr_matrix) -> np.ndarray:
    """The consistent vector closest (L2) to `noisy`: noisy - A^T lam, lam = argmin |A^T lam - noisy|."""
    y = np.asarray(noisy, dtype=float)
    if a.shape[0] == 0:
        return y.copy()
    lam = lsqr(a.T.tocsr(), y, atol=1e-12, btol=1e-12, iter_lim=50_000)[0]
    return y - a.T @ lam


def _milp_l1(
    a: sp.csr_matrix, rhs: np.ndarray, target: np.ndarray, widen: int | None
) -> np.ndarray | None:
    """Non-negative integers x with a @ x == rhs minimising sum |x - target| (None: no solution).

    widen: keep each x within `widen` of floor/ceil(target) (None: only x >= 0).
    """
    m = len(target)
    eye = sp.identity(m, format="csr")
    cons = [
        LinearConstraint(sp.hstack([a, sp.csr_matrix((a.shape[0], m))]), rhs, rhs),
        LinearConstraint(sp.hstack([eye, -eye]), -np.inf, target),
        LinearConstraint(sp.hstack([-eye, -eye]), -np.inf, -target),
    ]
    if widen is None:
        upper = np.full(m, np.inf)
        lower = np.zeros(m)
    else:
        lower = np.maximum(0, np.floor(target) - widen)
        upper = np.ceil(target) + widen
    res = milp(
        np.concatenate([np.zeros(m), np.ones(m)]),
        constraints=cons,
        integrality=np.concatenate([np.ones(m), np.zeros(m)]),
        bounds=Bounds(
            np.concatenate([lower, np.zeros(m)]), np.concatenate([upper, np.full(m, np.inf)])
        ),
        options={"time_limit": MILP_TIME_LIMIT_S, "mip_rel_gap": 1e-2},
    )
    return None if res.x is None else np.round(res.x[:m]).astype(np.int64)


def _round_up_or_down(
    a: sp.csr_matrix, rhs: np.ndarray, target: np.ndarray, time_limit: float
) -> np.ndarray | None:
    """Each x in {floor, ceil} of a non-negative target with a @ x == rhs (None: none found).

    A 0/1 integer program over "round up or not", closest in L1; for two-way structures its
    LP relaxation is integral (controlled rounding, Cox 1987), so HiGHS needs no branching.
    """
    lo = np.floor(target + 1e-9)
    frac = np.clip(target - lo, 0.0, 1.0)
    need = rhs - a @ lo
    res = milp(
        1.0 - 2.0 * frac,
        constraints=[LinearConstraint(a, need, need)],
        integrality=np.ones(len(target)),
        bounds=Bounds(np.zeros(len(target)), np.ones(len(target))),
        options={"time_limit": time_limit, "mip_rel_gap": 1e-2},
    )
    return None if res.x is None else (lo + np.round(res.x)).astype(np.int64)


def _controlled_rounding(a: sp.csr_matrix, rhs: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Integers near a non-negative target with a @ x == rhs: up-or-down rounding if possible.

    One row (children summing to their parent): largest remainders get the spare units. More
    rows: `_round_up_or_down`. Falls back to a wider L1 integer program when no such rounding
    exists.
    """
    if a.shape[0] == 1 and a.min() == 1:
        lo = np.floor(target + 1e-9)
        k = int(round(float((rhs - a @ lo)[0])))
        if 0 <= k <= len(target):
            out = lo.copy()
            out[np.argsort(-(target - lo), kind="stable")[:k]] += 1
            return out.astype(np.int64)
    elif a.shape[0] > 1:
        got = _round_up_or_down(a, rhs, target, MILP_TIME_LIMIT_S)
        if got is not None:
            return got
    for widen in (3, None):
        out = _milp_l1(a, rhs, target, widen)
        if out is not None:
            return out
    raise ReconcileError("no non-negative integer rounding satisfies the fixed totals")


def _row_families(a: sp.csr_matrix) -> list[np.ndarray]:
    """Rows grouped so no two rows of a group share a cell (greedy colouring)."""
    conflict = (a @ a.T).tocsr()
    colour = np.full(a.shape[0], -1)
    for r in range(a.shape[0]):
        used = {colour[c] for c in conflict.indices[conflict.indptr[r] : conflict.indptr[r + 1]]}
        k = 0
        while k in used:
            k += 1
        colour[r] = k
    return [np.flatnonzero(colour == k) for k in range(colour.max() + 1)]


def fit_margins(
    a: sp.csr_matrix, rhs: np.ndarray, start: np.ndarray, sweeps: int = 2000
) -> np.ndarray:
    """Iterative proportional fitting: non-negative x near `start` with a @ x ~= rhs (a is 0/1)."""
    x = np.maximum(start, 0.0) + 1e-3
    families = [(a[rows], rhs[rows]) for rows in _row_families(a)]
    for _ in range(sweeps):
        worst = 0.0
        for fam, b in families:
            sums = fam @ x
            factor = np.divide(b, sums, out=np.ones_like(b), where=sums > 0)
            worst = max(worst, float(np.abs(sums - b).max(initial=0.0)))
            x = x * (1.0 + fam.T @ (factor - 1.0))
        if worst < 1e-6:
            break
    return x


def _level_block(
    a_csc: sp.csc_matrix, seed: np.ndarray, level_cells: np.ndarray, later: np.ndarray
) -> np.ndarray:
    """Cells of the level connected to `seed` by rows free of later-level cells."""
    rows_ok = np.ones(a_csc.shape[0], dtype=bool)
    if len(later):
        rows_ok &= ~(np.diff(a_csc[:, later].tocsr().indptr) > 0)
    sub = a_csc[np.flatnonzero(rows_ok)][:, level_cells].tocsr()
    _, label = connected_components(sub.T @ sub, directed=False)
    wanted = np.unique(label[np.isin(level_cells, seed)])
    return level_cells[np.isin(label, wanted)]


def _ready_rows(a_csc: sp.csc_matrix, cols: np.ndarray, free: np.ndarray) -> np.ndarray:
    touches = np.diff(a_csc[:, cols].tocsr().indptr) > 0
    others = np.flatnonzero(free)
    others = others[~np.isin(others, cols)]
    if len(others):
        touches &= ~(np.diff(a_csc[:, others].tocsr().indptr) > 0)
    return np.flatnonzero(touches)


def _solve_stage(
    a_csc: sp.csc_matrix, cols: np.ndarray, free: np.ndarray, out: np.ndarray, target: np.ndarray
) -> list[np.ndarray]:
    """Fix the free cells `cols`; return components that had no rounding (left free)."""
    rows = _ready_rows(a_csc, cols, free)
    if len(rows) == 0:
        out[cols] = np.maximum(0, np.round(target[cols])).astype(np.int64)
        free[cols] = False
        return []
    block = a_csc[rows]
    fixed = np.flatnonzero(~free)
    rhs = -(block[:, fixed] @ out[fixed].astype(float)) if len(fixed) else np.zeros(len(rows))
    sub = block[:, cols].tocsr()
    # Orient every row as "sum of these cells == rhs" (a stage holds either the children of a
    # fixed parent, or a parent whose children are fixed).
    sign = np.sign(np.asarray(sub.sum(axis=1)).ravel())
    sign[sign == 0] = 1
    sub = sp.diags(sign) @ sub
    rhs = sign * rhs
    touched = np.diff(sub.tocsc().indptr) > 0
    lone = cols[~touched]
    out[lone] = np.maximum(0, np.round(target[lone])).astype(np.int64)
    free[lone] = False
    if sub.min() >= 0 and rhs.min() >= -1e-9 and touched.any():
        # Fast path: the whole stage as one fit and one up-or-down rounding (one HiGHS call
        # instead of thousands); component by component only if that finds nothing.
        t_cols = cols[touched]
        a_t = sub[:, np.flatnonzero(touched)].tocsr()
        got = _round_up_or_down(a_t, rhs, fit_margins(a_t, rhs, target[t_cols]), STAGE_TIME_LIMIT_S)
        if got is not None:
            out[t_cols] = got
            free[t_cols] = False
            return []
    _, label = connected_components(sub.T @ sub, directed=False)
    row_label = label[sub.indices[sub.indptr[:-1]]]
    failed: list[np.ndarray] = []
    order = np.argsort(label, kind="stable")
    bounds = np.searchsorted(label[order], np.arange(label.max() + 2))
    row_order = np.argsort(row_label, kind="stable")
    row_bounds = np.searchsorted(row_label[row_order], np.arange(label.max() + 2))
    for comp in range(label.max() + 1):
        idx = order[bounds[comp] : bounds[comp + 1]]
        ridx = row_order[row_bounds[comp] : row_bounds[comp + 1]]
        if len(ridx) == 0 or not touched[idx].all():
            continue
        a_c = sub[ridx][:, idx]
        b_c = rhs[ridx]
        if a_c.min() < 0 or b_c.min() < -1e-9:
            fitted = target[cols[idx]]
        else:
            fitted = fit_margins(a_c, b_c, target[cols[idx]])
        try:
            out[cols[idx]] = _controlled_rounding(a_c, b_c, fitted)
            free[cols[idx]] = False
        except ReconcileError:
            failed.append(cols[idx])
    return failed


def round_top_down(
    target: np.ndarray, a: sp.csr_matrix, levels: Sequence[int], order: Sequence[int]
) -> np.ndarray:
    """Controlled rounding of a consistent real vector, level by level, top level first.

    Within a level, cells are fixed in `order` (totals before breakdowns). Each stage's targets
    are first fitted (non-negative, iterative proportional fitting) to the totals already
    fixed, then rounded up or down so every sum holds exactly. When fixed margins leave a
    component without an integer solution (a three-way table whose two-way margins are all
    fixed need not have one), it is solved again jointly with the cells of its level it is
    tied to.
    """
    n = len(target)
    level = np.asarray(levels)
    rank = np.asarray(order)
    out = np.full(n, -1, dtype=np.int64)
    free = np.ones(n, dtype=bool)
    a_csc = a.tocsc()
    for lev in np.unique(level):
        level_cells = np.flatnonzero(level == lev)
        later = np.flatnonzero(level > lev)
        for r in np.unique(rank[level_cells]):
            cols = level_cells[(rank[level_cells] == r) & free[level_cells]]
            if len(cols) == 0:
                continue
            for cells in _solve_stage(a_csc, cols, free, out, target):
                if not free[cells].all():
                    continue
                block = _level_block(a_csc, cells, level_cells, later)
                free[block] = True
                rows = _ready_rows(a_csc, block, free)
                fixed = np.flatnonzero(~free)
                sub = a_csc[rows]
                rhs = (
                    -(sub[:, fixed] @ out[fixed].astype(float))
                    if len(fixed)
                    else np.zeros(len(rows))
                )
                got = _milp_l1(sub[:, block].tocsr(), rhs, target[block], None)
                if got is None:
                    raise ReconcileError("controlled rounding found no consistent solution")
                out[block] = got
                free[block] = False
    return out


def reconcile(
    noisy: Sequence[int] | np.ndarray,
    constraints: Sequence[tuple[int, Sequence[int]]],
    levels: Sequence[int],
    order: Sequence[int] | None = None,
) -> np.ndarray:
    """Non-negative integers that satisfy every ``x[parent] == sum(x[children])``.

    noisy: the mechanism's output (any integers; privacy is not affected by what we do here).
    levels: per cell, its geography level (0 state, 1 district, 2 school): rounded top-down,
        so children are rounded to sum exactly to their already rounded parent.
    order: per cell, the order within its level (0 totals, then breakdowns); default all 0.
    """
    y = np.asarray(noisy, dtype=float)
    if len(levels) != len(y):
        raise ValueError(f"{len(levels)} levels for {len(y)} cells")
    order = [0] * len(y) if order is None else order
    a = constraint_matrix(constraints, len(y))
    target = least_squares(y, a)
    out = round_top_down(target, a, levels, order)
    if a.shape[0] and np.abs(a @ out.astype(float)).max() > 0:
        raise ReconcileError("rounded counts do not add up")
    return out
