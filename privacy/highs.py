"""HiGHS models kept between solves (scipy's bundled bindings), for warm re-solves.

The attacker (`privacy.auditor`) and the suppressor (`privacy.suppression`) re-solve one LP
many times with only a few bounds or costs changed; a kept model restarts the simplex from its
last basis. The bindings are scipy's private ones: where a scipy build lacks them, `available`
is False and callers fall back to `scipy.optimize.linprog` or to slower rules.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import scipy
import scipy.sparse as sp

_CORE = "scipy.optimize._highspy._core"


def _bundled_core() -> ModuleType | None:
    """scipy's bundled HiGHS bindings (the same solver as ``linprog``, without its per-call
    overhead), or None where this scipy build lacks them.

    Loaded from its file, without importing `scipy.optimize` first: importing
    `privacy.suppression`, as the fork server of a release's worker processes does
    (`privacy.parallel`), took 0.54 s with it and takes 0.33 s without. A later
    ``import scipy.optimize`` finds this module in `sys.modules` and uses it, so there is
    only ever one copy. Where the file is not where this scipy keeps it, the usual import.
    """
    if _CORE in sys.modules:
        return sys.modules[_CORE]
    folder = Path(scipy.__file__).parent / "optimize" / "_highspy"
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = folder / f"_core{suffix}"
        spec = importlib.util.spec_from_file_location(_CORE, path) if path.is_file() else None
        if spec is None or spec.loader is None:
            continue
        try:  # an extension module runs its initialisation as it is created
            module = importlib.util.module_from_spec(spec)
            sys.modules[_CORE] = module
            spec.loader.exec_module(module)
        except Exception:  # pragma: no cover - a build whose module needs its package
            sys.modules.pop(_CORE, None)
            break
        return module
    try:
        import scipy.optimize._highspy._core as bundled
    except ImportError:  # pragma: no cover - other scipy builds
        return None
    return bundled


core = _bundled_core()


def available() -> bool:
    """Can models be kept for warm solves here?"""
    return core is not None


def solver(
    c: np.ndarray, a: sp.csc_matrix, b: np.ndarray, *, strategy: int, presolve: bool = True
) -> Any:  # noqa: ANN401
    """A HiGHS solver loaded with min c x s.t. a x = b, x >= 0 (simplex ``strategy``; see
    `bounded_solver` for ``presolve``)."""
    n = a.shape[1]
    return bounded_solver(
        c, a, (b, b), (np.zeros(n), np.full(n, np.inf)), strategy=strategy, presolve=presolve
    )


def bounded_solver(
    c: np.ndarray,
    a: sp.csc_matrix,
    rows: tuple[np.ndarray, np.ndarray],
    cols: tuple[np.ndarray, np.ndarray],
    *,
    strategy: int | None,
    integrality: np.ndarray | None = None,
    presolve: bool = True,
) -> Any:  # noqa: ANN401
    """A HiGHS solver loaded with min c x s.t. rows[0] <= a x <= rows[1], cols[0] <= x <= cols[1].

    strategy: HiGHS's ``simplex_strategy``; None keeps its default.
    integrality: per column, nonzero where x must be an integer (None: none must).
    presolve: False to solve the model as it is. A model solved once, cold, over a whole
        component of cells costs less without HiGHS's presolve (see the callers); a kept
        model re-solved from its basis skips presolve anyway.

    The arrays go to HiGHS as they are (its array form of ``passModel``): filling a
    ``HighsLp`` field by field costs several times more, element by element, for a model
    that is solved in milliseconds.
    """
    m, n = a.shape
    integer = np.zeros(n, dtype=np.int32)
    if integrality is not None:
        integer[np.asarray(integrality) != 0] = 1
    model = core._Highs()
    model.setOptionValue("output_flag", False)
    if strategy is not None:
        model.setOptionValue("simplex_strategy", strategy)
    if not presolve:
        model.setOptionValue("presolve", "off")
    status = model.passModel(
        n,
        m,
        a.nnz,
        int(core.MatrixFormat.kColwise),
        int(core.ObjSense.kMinimize),
        0.0,
        np.ascontiguousarray(c, dtype=np.float64),
        np.ascontiguousarray(cols[0], dtype=np.float64),
        np.ascontiguousarray(cols[1], dtype=np.float64),
        np.ascontiguousarray(rows[0], dtype=np.float64),
        np.ascontiguousarray(rows[1], dtype=np.float64),
        a.indptr[:-1].astype(np.int32),  # column starts (HiGHS takes n of them)
        a.indices.astype(np.int32),
        a.data.astype(np.float64),
        integer,
    )
    if status == core.HighsStatus.kError:
        raise ValueError("HiGHS rejected the model (a repeated matrix entry, or a NaN bound)")
    return model


def milp(
    c: np.ndarray,
    a: sp.spmatrix,
    rows: tuple[np.ndarray, np.ndarray],
    cols: tuple[np.ndarray, np.ndarray],
    *,
    integrality: np.ndarray | None = None,
    time_limit: float | None = None,
    node_limit: int | None = None,
    presolve: bool = True,
) -> tuple[np.ndarray | None, bool]:
    """min c x s.t. rows[0] <= a x <= rows[1], cols[0] <= x <= cols[1] (x[j] integer where
    ``integrality[j]``): (x or None, proven optimal). ``presolve``: as `bounded_solver`'s.

    What `scipy.optimize.milp` answers, with the same solver and options, without its
    per-column Python work (a Python object per column, twice, on every call): x is the
    optimum, or for an integer program stopped by a limit the best point found (not proven);
    None if there is none. (A program of no column gives None, where scipy raises.)
    """
    n = a.shape[1]
    if core is None:  # pragma: no cover - other scipy builds: scipy's own wrapper
        return _scipy_milp(c, a, rows, cols, integrality, time_limit, node_limit)
    try:
        model = bounded_solver(
            np.asarray(c, dtype=np.float64),
            sp.csc_matrix(a),
            rows,
            (np.broadcast_to(cols[0], (n,)), np.broadcast_to(cols[1], (n,))),
            strategy=None,
            integrality=integrality,
            presolve=presolve,
        )
    except ValueError:
        return None, False  # as scipy: no point for a model HiGHS will not take
    model.setOptionValue("log_to_console", False)
    if time_limit is not None:
        model.setOptionValue("time_limit", float(time_limit))
    if node_limit is not None:
        model.setOptionValue("mip_max_nodes", int(node_limit))
    integer = np.flatnonzero(np.asarray(integrality)) if integrality is not None else []
    model.run()
    status = model.getModelStatus()
    done = status == core.HighsModelStatus.kOptimal
    stopped = len(integer) and status in (
        core.HighsModelStatus.kTimeLimit,
        core.HighsModelStatus.kIterationLimit,
        core.HighsModelStatus.kSolutionLimit,
    )
    if not done and not (stopped and model.getInfo().objective_function_value != core.kHighsInf):
        return None, False
    return np.array(model.getSolution().col_value), bool(done)


def optimal(model: Any) -> bool:  # noqa: ANN401
    """Did the last solve of ``model`` end at an optimum?"""
    return model.getModelStatus() == core.HighsModelStatus.kOptimal


def _scipy_milp(
    c: np.ndarray,
    a: sp.spmatrix,
    rows: tuple[np.ndarray, np.ndarray],
    cols: tuple[np.ndarray, np.ndarray],
    integrality: np.ndarray | None,
    time_limit: float | None,
    node_limit: int | None,
) -> tuple[np.ndarray | None, bool]:  # pragma: no cover - other scipy builds
    from scipy.optimize import Bounds, LinearConstraint
    from scipy.optimize import milp as scipy_milp

    options: dict[str, Any] = {}
    if time_limit is not None:
        options["time_limit"] = time_limit
    if node_limit is not None:
        options["node_limit"] = node_limit
    res = scipy_milp(
        c,
        constraints=[LinearConstraint(a, rows[0], rows[1])] if a.shape[0] else [],
        integrality=integrality,
        bounds=Bounds(cols[0], cols[1]),
        options=options,
    )
    return res.x, res.status == 0
