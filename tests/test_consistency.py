"""Post-processing: noisy counts become non-negative integers that add up everywhere."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacy.consistency import constraint_matrix, least_squares, reconcile


def _hierarchy(n_districts: int, schools_per: int, n_codes: int):
    """State > districts > schools, each unit with a total and n_codes breakdown cells."""
    keys: list[tuple] = []
    index: dict[tuple, int] = {}

    def cell(unit: tuple, code: str) -> int:
        key = (*unit, code)
        if key not in index:
            index[key] = len(keys)
            keys.append(key)
        return index[key]

    units = [("state",)]
    for d in range(n_districts):
        units.append(("D", d))
        units.extend(("S", d, s) for s in range(schools_per))
    codes = [str(c) for c in range(n_codes)]
    constraints = []
    for unit in units:
        constraints.append((cell(unit, "All"), [cell(unit, c) for c in codes]))
    for code in ["All", *codes]:
        constraints.append(
            (cell(("state",), code), [cell(("D", d), code) for d in range(n_districts)])
        )
        for d in range(n_districts):
            constraints.append(
                (cell(("D", d), code), [cell(("S", d, s), code) for s in range(schools_per)])
            )
    levels = [0 if k[0] == "state" else 1 if k[0] == "D" else 2 for k in keys]
    order = [0 if k[-1] == "All" else 1 for k in keys]
    return keys, constraints, levels, order


def _check(out: np.ndarray, constraints) -> None:
    assert out.dtype == np.int64
    assert out.min() >= 0
    for parent, children in constraints:
        assert out[parent] == out[children].sum()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_districts=st.integers(1, 4),
    schools_per=st.integers(1, 4),
    n_codes=st.integers(1, 5),
    noise_scale=st.sampled_from([0.5, 3.0, 20.0]),
    seed=st.integers(0, 10_000),
)
def test_children_sum_to_parents_everywhere(
    n_districts: int, schools_per: int, n_codes: int, noise_scale: float, seed: int
) -> None:
    keys, constraints, levels, order = _hierarchy(n_districts, schools_per, n_codes)
    rng = np.random.default_rng(seed)
    noisy = rng.laplace(0, noise_scale, len(keys)).round().astype(np.int64) + rng.integers(
        0, 15, len(keys)
    )
    out = reconcile(noisy, constraints, levels, order)
    _check(out, constraints)


def test_three_way_tables_sharing_a_margin() -> None:
    """Race x outcome and gender x outcome share the outcome margin, across units and levels."""
    rng = np.random.default_rng(3)
    keys: list[tuple] = []
    index: dict[tuple, int] = {}

    def cell(*key: object) -> int:
        if key not in index:
            index[key] = len(keys)
            keys.append(key)
        return index[key]

    units = ["state", *[f"D{d}" for d in range(3)]]
    races, genders, outcomes = ["A", "B", "C"], ["F", "M"], ["G", "S", "X"]
    constraints = []
    for u in units:
        constraints.append((cell(u, "All", "All"), [cell(u, "All", o) for o in outcomes]))
        for dim, codes in (("race", races), ("gender", genders)):
            constraints.append(
                (cell(u, "All", "All"), [cell(u, f"{dim}={c}", "All") for c in codes])
            )
            for c in codes:
                constraints.append(
                    (cell(u, f"{dim}={c}", "All"), [cell(u, f"{dim}={c}", o) for o in outcomes])
                )
            for o in outcomes:
                constraints.append((cell(u, "All", o), [cell(u, f"{dim}={c}", o) for c in codes]))
    for k in list(keys):
        if k[0] == "state":
            constraints.append((index[k], [cell(f"D{d}", *k[1:]) for d in range(3)]))
    levels = [0 if k[0] == "state" else 1 for k in keys]
    rate_dim = {k: (k[1] == "All" and k[2] != "All") for k in keys}
    order = [
        0 if k[1] == "All" and k[2] == "All" else 10 if rate_dim[k] else 20 if k[2] != "All" else 30
        for k in keys
    ]
    for _ in range(5):
        noisy = rng.laplace(0, 4.0, len(keys)).round().astype(np.int64) + rng.integers(
            0, 6, len(keys)
        )
        _check(reconcile(noisy, constraints, levels, order), constraints)


def test_least_squares_is_consistent_and_never_adds_error() -> None:
    keys, constraints, levels, _ = _hierarchy(4, 4, 3)
    a = constraint_matrix(constraints, len(keys))
    rng = np.random.default_rng(0)
    truth = np.zeros(len(keys))
    leaves = [i for i, k in enumerate(keys) if k[0] == "S" and k[-1] != "All"]
    truth[leaves] = rng.integers(0, 50, len(leaves))
    for parent, children in itertools.chain(
        *[[c for c in constraints if levels[c[0]] == lev] for lev in (2, 1, 0)]
    ):
        truth[parent] = truth[children].sum()
    assert np.abs(a @ truth).max() == 0
    for _ in range(50):
        noisy = truth + rng.laplace(0, 5.0, len(keys))
        fitted = least_squares(noisy, a)
        assert np.abs(a @ fitted).max() < 1e-6
        # Projecting onto the constraints (where the truth lies) never increases total error.
        assert np.linalg.norm(fitted - truth) <= np.linalg.norm(noisy - truth) + 1e-9


def test_bad_input() -> None:
    import pytest

    with pytest.raises(ValueError, match="levels for"):
        reconcile([1, 2, 3], [(0, [1, 2])], [0, 1])
