"""`privacy.highs.milp` answers as `scipy.optimize.milp`, whose per-call overhead it avoids.

The attacker's shared points and integer optima go through it: a wrong optimum or a point
reported for an infeasible program would be a wrong proof.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from privacy import highs


@st.composite
def programs(draw: st.DrawFn) -> tuple:
    n = draw(st.integers(1, 7))
    m = draw(st.integers(0, 5))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    a = rng.integers(-2, 3, size=(m, n)).astype(float)
    x0 = rng.integers(0, 6, size=n).astype(float)  # a feasible integer point, most of the time
    b = a @ x0 + (rng.integers(0, 2, size=m) if draw(st.booleans()) else 0)
    lo_rows = np.where(rng.random(m) < 0.3, -np.inf, b)
    c = rng.integers(-3, 4, size=n).astype(float)
    upper = np.where(rng.random(n) < 0.5, np.inf, 8.0)
    integral = rng.random(n) < 0.5 if draw(st.booleans()) else np.zeros(n, dtype=bool)
    return c, a, (lo_rows, b), (np.zeros(n), upper), integral


@settings(max_examples=300, deadline=None)
@given(program=programs())
def test_the_optimum_and_its_status_are_scipys(program: tuple) -> None:
    c, a, rows, cols, integral = program
    x, proven = highs.milp(c, sp.csr_matrix(a), rows, cols, integrality=integral.astype(float))
    constraints = [LinearConstraint(a, rows[0], rows[1])] if a.shape[0] else []
    res = milp(c, constraints=constraints, integrality=integral, bounds=Bounds(*cols))
    assert (x is None) == (res.x is None)
    if x is None:
        assert not proven
        return
    assert proven == (res.status == 0)
    assert c @ x == pytest.approx(res.fun, abs=1e-6)
    # and x is a point of the program
    assert (x >= cols[0] - 1e-9).all() and (x <= cols[1] + 1e-9).all()
    assert (a @ x >= rows[0] - 1e-6).all() and (a @ x <= rows[1] + 1e-6).all()
    assert np.abs(x[integral] - np.round(x[integral])).max(initial=0) < 1e-6
    # without presolve (whole-component points are solved so): the same optimum
    bare, bare_proven = highs.milp(
        c, sp.csr_matrix(a), rows, cols, integrality=integral.astype(float), presolve=False
    )
    assert bare is not None and bare_proven == proven
    assert c @ bare == pytest.approx(res.fun, abs=1e-6)


def test_presolve_is_off_only_where_asked() -> None:
    a = sp.csc_matrix(np.ones((1, 2)))
    cols = (np.zeros(2), np.full(2, np.inf))
    off = highs.bounded_solver(
        np.ones(2), a, (np.ones(1), np.ones(1)), cols, strategy=1, presolve=False
    )
    assert off.getOptionValue("presolve")[1] == "off"
    default = highs.solver(np.ones(2), a, np.ones(1), strategy=1)
    assert default.getOptionValue("presolve")[1] == "choose"
    assert (
        highs.solver(np.ones(2), a, np.ones(1), strategy=1, presolve=False).getOptionValue(
            "presolve"
        )[1]
        == "off"
    )


def test_an_infeasible_program_has_no_point() -> None:
    # x0 = x1 and x0 + x1 + x2 = 7.5 has no integer point
    a = sp.csr_matrix(np.array([[1.0, 1.0, 1.0], [1.0, -1.0, 0.0]]))
    rows = (np.array([7.5, 0.0]), np.array([7.5, 0.0]))
    x, proven = highs.milp(np.array([-1.0, 0, 0]), a, rows, (0.0, np.inf), integrality=np.ones(3))
    assert x is None and not proven
    x, proven = highs.milp(np.array([-1.0, 0, 0]), a, rows, (0.0, 10.0))  # as an LP it has one
    assert proven and x is not None and x[0] == pytest.approx(3.75)


def test_a_model_highs_rejects_has_no_point() -> None:
    """A repeated matrix entry or a NaN bound: scipy answers no point; so does `milp` (and
    the solver is never run on it: a repeated entry crashed the process)."""
    repeated = sp.csr_matrix(
        (np.array([1.0, 1.0, 1.0]), np.array([0, 0, 1]), np.array([0, 3])), shape=(1, 2)
    )
    rows = (np.array([3.0]), np.array([3.0]))
    assert highs.milp(np.array([-1.0, 0.0]), repeated, rows, (0.0, 10.0)) == (None, False)
    single = sp.csr_matrix(np.array([[1.0]]))
    nan = (np.array([np.nan]), np.array([1.0]))
    assert highs.milp(np.array([-1.0]), single, nan, (0.0, 10.0)) == (None, False)
    with pytest.raises(ValueError, match="rejected"):
        highs.solver(np.array([-1.0, 0.0]), repeated.tocsc(), np.array([3.0]), strategy=1)


def test_the_bindings_load_without_scipy_optimize_and_stay_one_module() -> None:
    """A worker process imports `privacy.suppression` only: the bindings come without
    `scipy.optimize` (0.2 s of that import's 0.54 s), and a later ``import scipy.optimize``
    (as ``linprog`` needs) uses the same module, so models of either are one solver's."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "import privacy.suppression\n"
        "from privacy import highs\n"
        "assert highs.available()\n"
        "assert 'scipy.optimize' not in sys.modules, 'scipy.optimize was imported'\n"
        "import numpy as np, scipy.sparse as sp\n"
        "x, proven = highs.milp(np.array([-1.0, -1.0]), sp.csr_matrix([[1.0, 2.0]]),\n"
        "                       (np.array([-np.inf]), np.array([4.0])), (0.0, 3.0),\n"
        "                       integrality=np.ones(2))\n"
        "assert proven and x.round().sum() == 3.0 and x[0] + 2 * x[1] <= 4.0 + 1e-9, x\n"
        "from scipy.optimize import linprog\n"
        "assert sys.modules['scipy.optimize._highspy._core'] is highs.core\n"
        "assert linprog([1.0, 1.0], A_eq=[[1.0, 1.0]], b_eq=[2.0], method='highs').fun == 2.0\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
