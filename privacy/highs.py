"""HiGHS models kept between solves (scipy's bundled bindings), for warm re-solves.

The attacker (`privacy.auditor`) and the suppressor (`privacy.suppression`) re-solve one LP
many times with only a few bounds or costs changed; a kept model restarts the simplex from its
last basis. The bindings are scipy's private ones: where a scipy build lacks them, `available`
is False and callers fall back to `scipy.optimize.linprog` or to slower rules.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

try:  # scipy's bundled HiGHS bindings: same solver as linprog, without its per-call overhead
    import scipy.optimize._highspy._core as core
except ImportError:  # pragma: no cover - other scipy builds
    core = None


def available() -> bool:
    """Can models be kept for warm solves here?"""
    return core is not None


def solver(c: np.ndarray, a: sp.csc_matrix, b: np.ndarray, *, strategy: int) -> Any:  # noqa: ANN401
    """A HiGHS solver loaded with min c x s.t. a x = b, x >= 0 (simplex ``strategy``)."""
    n = a.shape[1]
    return bounded_solver(c, a, (b, b), (np.zeros(n), np.full(n, np.inf)), strategy=strategy)


def bounded_solver(
    c: np.ndarray,
    a: sp.csc_matrix,
    rows: tuple[np.ndarray, np.ndarray],
    cols: tuple[np.ndarray, np.ndarray],
    *,
    strategy: int,
) -> Any:  # noqa: ANN401
    """A HiGHS solver loaded with min c x s.t. rows[0] <= a x <= rows[1], cols[0] <= x <= cols[1]."""
    m, n = a.shape
    lp = core.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = m
    lp.a_matrix_.num_col_ = n
    lp.a_matrix_.num_row_ = m
    lp.a_matrix_.format_ = core.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(np.float64)
    lp.col_cost_ = c.astype(np.float64)
    lp.col_lower_ = np.asarray(cols[0], dtype=np.float64)
    lp.col_upper_ = np.asarray(cols[1], dtype=np.float64)
    lp.row_lower_ = np.asarray(rows[0], dtype=np.float64)
    lp.row_upper_ = np.asarray(rows[1], dtype=np.float64)
    model = core._Highs()
    model.setOptionValue("output_flag", False)
    model.setOptionValue("simplex_strategy", strategy)
    model.passModel(lp)
    return model


def optimal(model: Any) -> bool:  # noqa: ANN401
    """Did the last solve of ``model`` end at an optimum?"""
    return model.getModelStatus() == core.HighsModelStatus.kOptimal
