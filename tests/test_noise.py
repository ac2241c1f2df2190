"""OpenDP noise: calibration, composition over contribution groups, and the margin of error."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from privacy.noise import (
    ContributionGroup,
    NoiseError,
    NoiseSpec,
    margin_of_error,
    noise_spec,
    plan_noise,
)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mechanism": "uniform", "epsilon": 1.0}, "unknown noise mechanism"),
        ({"mechanism": "laplace"}, "needs --epsilon"),
        ({"mechanism": "laplace", "epsilon": 1.0, "rho": 0.5}, "not --rho"),
        ({"mechanism": "gaussian", "epsilon": 1.0}, "not --epsilon"),
        ({"mechanism": "laplace", "epsilon": 0.0}, "in [1e-06, 50]"),
        ({"mechanism": "laplace", "epsilon": -1.0}, "in [1e-06, 50]"),
        ({"mechanism": "laplace", "epsilon": float("inf")}, "in [1e-06, 50]"),
        ({"mechanism": "laplace", "epsilon": float("nan")}, "in [1e-06, 50]"),
        ({"mechanism": "gaussian", "rho": 1e-12}, "in [1e-06, 50]"),
        ({"mechanism": "laplace", "epsilon": 1e-300}, "in [1e-06, 50]"),
        ({"mechanism": "gaussian", "rho": True}, "must be a number"),
        ({"mechanism": "gaussian", "rho": "1"}, "must be a number"),
    ],
)
def test_bad_specs_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(NoiseError, match=re.escape(message)):
        NoiseSpec(**kwargs)


@pytest.mark.parametrize(
    "spec, multiplicity",
    [(NoiseSpec("laplace", epsilon=1e-6), 1), (NoiseSpec("gaussian", rho=1e-6), 20_001)],
)
def test_a_budget_whose_noise_would_hide_every_count_is_refused_before_any_work(
    spec: NoiseSpec, multiplicity: int
) -> None:
    """A tiny budget (or one spread over very many cells per student) means noise of a scale
    beyond any count; working out its margin of error once took gigabytes, or never ended."""
    with pytest.raises(NoiseError, match="would hide them all"):
        plan_noise(spec, [ContributionGroup("t", size=40, multiplicity=multiplicity)])
    fine = NoiseSpec(spec.mechanism, **{spec.unit: 1e-4})
    assert plan_noise(fine, [ContributionGroup("t", size=40, multiplicity=1)]).scale <= 1e5


def test_noise_spec_from_settings() -> None:
    assert noise_spec(None) is None
    assert noise_spec("none") is None
    assert noise_spec("laplace", epsilon=2) == NoiseSpec("laplace", epsilon=2.0)
    with pytest.raises(NoiseError, match="need --noise"):
        noise_spec(None, epsilon=1.0)


def test_laplace_release_spends_exactly_its_epsilon_summed_over_groups() -> None:
    groups = [
        ContributionGroup("state total", 1, 1),
        ContributionGroup("district by grade", 40, 1),
        ContributionGroup("district by subject and level", 60, 3),
    ]
    plan = plan_noise(NoiseSpec("laplace", epsilon=1.0), groups)
    assert plan.sensitivity == 5
    assert plan.scale == pytest.approx(5.0, rel=1e-6)
    assert plan.epsilon <= 1.0
    assert plan.epsilon == pytest.approx(1.0, rel=1e-6)
    assert plan.rho == pytest.approx(0.5, rel=1e-6)  # pure DP eps -> eps^2/2 zCDP
    # The measurement's own privacy map: two students cost twice as much (group privacy).
    assert float(plan.measurement.map(2)) == pytest.approx(2.0, rel=1e-6)
    # Composition is the sum: each group alone costs multiplicity / scale.
    alone = plan_noise(NoiseSpec("laplace", epsilon=1.0), groups[2:])
    assert alone.scale == pytest.approx(3.0, rel=1e-6)


def test_gaussian_release_spends_its_rho() -> None:
    groups = [ContributionGroup("a", 10, 1), ContributionGroup("b", 30, 3)]
    plan = plan_noise(NoiseSpec("gaussian", rho=0.5), groups)
    assert plan.epsilon is None
    assert plan.rho <= 0.5
    assert plan.rho == pytest.approx(0.5, rel=1e-6)
    assert plan.scale == pytest.approx(math.sqrt(4 / (2 * 0.5)), rel=1e-6)


def test_draw_shape_and_bad_input() -> None:
    plan = plan_noise(NoiseSpec("laplace", epsilon=1.0), [ContributionGroup("g", 3, 1)])
    out = plan.draw([5, 6, 7])
    assert out.dtype == np.int64 and len(out) == 3
    with pytest.raises(ValueError, match="4 counts for groups of 3 cells"):
        plan.draw([1, 2, 3, 4])
    with pytest.raises(ValueError, match="multiplicity"):
        plan_noise(NoiseSpec("laplace", epsilon=1.0), [ContributionGroup("g", 3, 0)])


def _exact_coverage(mechanism: str, scale: float, moe: int) -> float:
    ks = np.arange(-int(60 * scale) - 60, int(60 * scale) + 61)
    if mechanism == "laplace":
        weights = np.exp(-np.abs(ks) / scale)
    else:
        weights = np.exp(-(ks.astype(float) ** 2) / (2 * scale**2))
    weights /= weights.sum()
    return float(weights[np.abs(ks) <= moe].sum())


@pytest.mark.parametrize(
    "spec", [NoiseSpec("laplace", epsilon=0.5), NoiseSpec("gaussian", rho=0.05)]
)
def test_empirical_error_matches_stated_margin(spec: NoiseSpec) -> None:
    """Over 20,000 OpenDP draws, |noise| <= moe about 95% of the time (as stated)."""
    plan = plan_noise(spec, [ContributionGroup("g", 2_000, 1)])
    truth = np.full(2_000, 50)
    inside = []
    for _ in range(10):
        inside.append(np.abs(plan.draw(truth) - truth) <= plan.moe)
    coverage = float(np.mean(inside))
    exact = _exact_coverage(spec.mechanism, plan.scale, plan.moe)
    assert exact >= 0.95
    assert plan.moe == margin_of_error(spec.mechanism, plan.scale)
    assert abs(coverage - exact) < 0.01, (coverage, exact)
    # ... and the margin is tight: one unit less would cover under 95%.
    assert _exact_coverage(spec.mechanism, plan.scale, plan.moe - 1) < 0.95
