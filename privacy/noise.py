"""Noise mechanisms through OpenDP: discrete Laplace (epsilon) or discrete Gaussian (rho).

Noise is never hand-rolled here: every draw comes from an OpenDP measurement, and every privacy
loss recorded in the budget ledger is what OpenDP's privacy map reports for the composed
measurement of the whole release.

We use OpenDP's core measurements on plain integer vectors (`dp.m.make_laplace`,
`dp.m.make_gaussian`), not `opendp.polars`: `opendp[polars]` 0.16 pins polars 1.36.1 while
edudash runs polars 2.1, and the counts are already aggregated by the warehouse, so a vector of
integers is all the mechanism needs.

The privacy unit is ONE STUDENT, added to or removed from the data (OpenDP's
`symmetric_distance` with ``d_in = 1``). A release is split into contribution groups: the cells
of one "marginal" (one population, one geography level, one set of dimensions, e.g. every
school x grade cell of the enrollment). A student falls in exactly one cell of such a group per
record they have: one enrollment record, one graduation cohort record, and at most one
assessment per subject, so a group's L1 sensitivity is its `multiplicity` (1, or the number of
subjects). A table with margins contributes one group per margin level (school x grade, school
total, ...), so a table's sensitivity is its number of levels, computed from its cells. The
release measurement is OpenDP's composition of one measurement per group, and its privacy loss
(``.map(1)``) is the sum over groups: the release's epsilon (or rho) is what a student in every
group of the release risks.

>>> groups = [ContributionGroup("state total", 1, 1), ContributionGroup("by grade", 14, 1)]
>>> plan = plan_noise(NoiseSpec("laplace", epsilon=1.0), groups)
>>> (plan.sensitivity, plan.scale, round(plan.epsilon, 9))
(2, 2.0, 1.0)
>>> len(plan.draw([100] + [7] * 14))
15
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import opendp.prelude as dp

# "honest-but-curious" is needed for `make_user_transformation`, which we use only to slice a
# group's cells out of the release vector and to state that slice's stability (one student
# changes at most `multiplicity` cells of the group by one each).
dp.enable_features("contrib", "honest-but-curious")

MECHANISMS: tuple[str, ...] = ("laplace", "gaussian")
CONFIDENCE = 0.95
MAX_EPSILON = 50.0
MAX_RHO = 50.0
MIN_BUDGET = 1e-6  # epsilon or rho: any less is noise that hides every count
# the largest noise scale a plan accepts: a larger one hides every count (Maine has about
# 171,000 students) and its margin of error cannot even be worked out in reasonable memory
MAX_NOISE_SCALE = 1e5
_INT_VECTOR = dp.vector_domain(dp.atom_domain(T=dp.i64))


class NoiseError(ValueError):
    """A noise setting is invalid (bad mechanism, budget missing, negative or absurd)."""


@dataclass(frozen=True)
class NoiseSpec:
    """What noise a release gets, and how much privacy loss it may cost.

    mechanism: "laplace" (discrete Laplace, pure epsilon-DP) or "gaussian" (discrete Gaussian,
        rho-zCDP).
    epsilon: the whole release's epsilon (laplace only). Smaller = more noise, more privacy.
    rho: the whole release's rho (gaussian only); epsilon-DP implies (epsilon^2/2)-zCDP.
    The spec is public: it is printed in every footnote and stored with the release.
    """

    mechanism: str
    epsilon: float | None = None
    rho: float | None = None

    def __post_init__(self) -> None:
        if self.mechanism not in MECHANISMS:
            raise NoiseError(
                f"unknown noise mechanism {self.mechanism!r}; choose laplace or gaussian"
            )
        budget, other, name, limit = (
            (self.epsilon, self.rho, "epsilon", MAX_EPSILON)
            if self.mechanism == "laplace"
            else (self.rho, self.epsilon, "rho", MAX_RHO)
        )
        if other is not None:
            wrong = "rho" if name == "epsilon" else "epsilon"
            raise NoiseError(f"{self.mechanism} noise takes --{name}, not --{wrong}")
        if budget is None:
            raise NoiseError(f"{self.mechanism} noise needs --{name}")
        if isinstance(budget, bool) or not isinstance(budget, int | float):
            raise NoiseError(f"{name} must be a number, got {budget!r}")
        if not math.isfinite(budget) or not MIN_BUDGET <= budget <= limit:
            raise NoiseError(
                f"{name} must be a number in [{MIN_BUDGET:g}, {limit:g}], got {budget!r}"
            )
        object.__setattr__(self, name, float(budget))

    @property
    def budget(self) -> float:
        """The release's budget in its own unit (epsilon or rho)."""
        return float(self.epsilon if self.mechanism == "laplace" else self.rho)  # type: ignore[arg-type]

    @property
    def unit(self) -> str:
        return "epsilon" if self.mechanism == "laplace" else "rho"

    def key(self) -> str:
        """Canonical text of the spec (part of the key of a stored noisy answer)."""
        return json.dumps({"mechanism": self.mechanism, self.unit: self.budget}, sort_keys=True)

    @classmethod
    def from_key(cls, text: str) -> NoiseSpec:
        return cls(**json.loads(text))

    def describe(self) -> str:
        name = "discrete Laplace" if self.mechanism == "laplace" else "discrete Gaussian"
        return f"{name} noise, {self.unit} = {self.budget:g}"


@dataclass(frozen=True)
class ContributionGroup:
    """Cells of a release in which one student appears at most `multiplicity` times.

    name: a label (e.g. "enrollment|S|grade"); public.
    size: number of cells in the group.
    multiplicity: how many of the group's cells one student can be counted in (1, or the
        number of subjects a student can be tested in). Each is changed by one when the student
        is added or removed, so this is the group's L1 sensitivity.
    """

    name: str
    size: int
    multiplicity: int


@dataclass(frozen=True)
class NoiseInfo:
    """What a reader needs to know about the noise of a published table (`table.noise`).

    moe: 95% margin of error of each published count, in students: the count the mechanism
        drew lies within +-moe of the true count with at least 95% probability (post-processing
        to consistent totals moves it little; the test suite checks the coverage).
    scale: the mechanism's noise scale (Laplace scale, or Gaussian standard deviation).
    sensitivity: cells one student can change (L1) across the release.
    epsilon / rho: the privacy loss of the whole release the table belongs to (epsilon is None
        for Gaussian noise; rho is always given, for Laplace as epsilon^2/2).
    release_id: the stored noisy answer this table came from.
    """

    mechanism: str
    epsilon: float | None
    rho: float
    scale: float
    sensitivity: int
    moe: int
    confidence: float
    release_id: str

    def describe(self) -> str:
        """One plain-language sentence for footnotes and captions."""
        name = "discrete Laplace" if self.mechanism == "laplace" else "discrete Gaussian"
        budget = (
            f"epsilon = {self.epsilon:g}" if self.epsilon is not None else f"rho = {self.rho:g}"
        )
        return (
            f"Random noise was added to every count ({name}, {budget} for the whole release, "
            f"via OpenDP): a published count is within +/-{self.moe} of the true count with "
            f"{self.confidence:.0%} confidence."
        )

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class NoisePlan:
    """A calibrated, composed OpenDP measurement for a release vector (group by group).

    epsilon / rho: the privacy loss OpenDP's privacy map reports for one student (d_in = 1).
    """

    spec: NoiseSpec
    groups: tuple[ContributionGroup, ...]
    scale: float
    sensitivity: int
    epsilon: float | None
    rho: float
    moe: int
    measurement: dp.Measurement

    def draw(self, true_counts: Sequence[int]) -> np.ndarray:
        """One draw of the noisy vector (groups laid out contiguously, in `groups` order)."""
        counts = [int(v) for v in true_counts]
        if len(counts) != sum(g.size for g in self.groups):
            raise ValueError(
                f"{len(counts)} counts for groups of {sum(g.size for g in self.groups)} cells"
            )
        parts = self.measurement(counts)
        return np.concatenate([np.asarray(p, dtype=np.int64) for p in parts])

    @property
    def spent(self) -> float:
        """The budget this release spends, in the spec's unit."""
        return float(self.epsilon if self.spec.mechanism == "laplace" else self.rho)  # type: ignore[arg-type]


def _group_measurement(
    start: int, group: ContributionGroup, spec: NoiseSpec, scale: float
) -> dp.Measurement:
    end = start + group.size
    k = group.multiplicity
    if spec.mechanism == "laplace":
        metric = dp.l1_distance(T=dp.i64)

        def stability(d_in: int) -> int:
            return d_in * k

    else:
        metric = dp.l2_distance(T=float)

        def stability(d_in: int) -> float:
            return d_in * math.sqrt(k)

    select = dp.t.make_user_transformation(
        _INT_VECTOR,
        dp.symmetric_distance(),
        _INT_VECTOR,
        metric,
        lambda x: x[start:end],
        stability,
    )
    if spec.mechanism == "laplace":
        return select >> dp.m.then_laplace(scale=scale)
    return select >> dp.m.then_gaussian(scale=scale)


def _compose(groups: Sequence[ContributionGroup], spec: NoiseSpec, scale: float) -> dp.Measurement:
    parts = []
    start = 0
    for g in groups:
        parts.append(_group_measurement(start, g, spec, scale))
        start += g.size
    return dp.c.make_composition(parts)


def margin_of_error(mechanism: str, scale: float, confidence: float = CONFIDENCE) -> int:
    """Half-width (integer) of the interval holding the noise with `confidence` (OpenDP)."""
    alpha = 1.0 - confidence
    if mechanism == "laplace":
        # Exact for the discrete Laplace; the noise is an integer, so flooring keeps the
        # coverage (OpenDP's documentation).
        return int(math.floor(dp.discrete_laplacian_scale_to_accuracy(scale, alpha)))
    bound = int(math.floor(dp.discrete_gaussian_scale_to_accuracy(scale, alpha)))
    # OpenDP's Gaussian figure is an upper bound; the exact quantile of the discrete Gaussian
    # (its probabilities are proportional to exp(-k^2 / 2 sigma^2)) is often one or two less.
    ks = np.arange(0, bound + 1)
    tail = np.arange(bound + 1, bound + int(40 * scale) + 40)
    weight = np.exp(-(ks.astype(float) ** 2) / (2 * scale**2))
    total = 2 * (weight.sum() + np.exp(-(tail.astype(float) ** 2) / (2 * scale**2)).sum()) - 1
    covered = (2 * np.cumsum(weight) - 1) / total >= confidence
    return int(np.argmax(covered)) if covered.any() else bound


def plan_noise(spec: NoiseSpec, groups: Sequence[ContributionGroup]) -> NoisePlan:
    """Calibrate one scale for every cell so the composed release spends exactly `spec`.

    L1 sensitivity = sum of group multiplicities. Laplace: scale = L1 / epsilon. Gaussian:
    sigma = sqrt(L1 / (2 rho)) (each group costs multiplicity / (2 sigma^2)). The loss
    actually recorded is OpenDP's `.map(1)` of the composition (and for Laplace its zCDP
    equivalent via `make_pureDP_to_zCDP`); if float rounding puts it above the spec, the scale
    is nudged up until it is not.
    """
    groups = tuple(g for g in groups if g.size > 0)
    if not groups:
        raise ValueError("a noisy release needs at least one cell")
    for g in groups:
        if g.multiplicity < 1:
            raise ValueError(f"group {g.name} has multiplicity {g.multiplicity}")
    sensitivity = sum(g.multiplicity for g in groups)
    if spec.mechanism == "laplace":
        scale = sensitivity / spec.budget
    else:
        scale = math.sqrt(sensitivity / (2.0 * spec.budget))
    if scale > MAX_NOISE_SCALE:
        raise NoiseError(
            f"{spec.unit} = {spec.budget:g} over {sensitivity} cells per student needs noise of "
            f"scale {scale:,.0f} on every count, which would hide them all; raise --{spec.unit}"
        )
    for _ in range(60):
        measurement = _compose(groups, spec, scale)
        loss = float(measurement.map(1))
        if loss <= spec.budget:
            break
        scale *= 1.0 + 1e-9
    else:
        raise RuntimeError("could not calibrate the noise scale to the budget")
    if spec.mechanism == "laplace":
        epsilon: float | None = loss
        rho = float(dp.c.make_pureDP_to_zCDP(measurement).map(1))
    else:
        epsilon, rho = None, loss
    return NoisePlan(
        spec=spec,
        groups=groups,
        scale=scale,
        sensitivity=sensitivity,
        epsilon=epsilon,
        rho=rho,
        moe=margin_of_error(spec.mechanism, scale),
        measurement=measurement,
    )


def noise_spec(
    mechanism: str | None, epsilon: float | None = None, rho: float | None = None
) -> NoiseSpec | None:
    """The spec from CLI/page settings: None (no noise) when `mechanism` is None or "none".

    >>> noise_spec("gaussian", rho=0.5).describe()
    'discrete Gaussian noise, rho = 0.5'
    """
    if mechanism in (None, "", "none"):
        if epsilon is not None or rho is not None:
            raise NoiseError("--epsilon / --rho need --noise laplace or --noise gaussian")
        return None
    return NoiseSpec(mechanism, epsilon=epsilon, rho=rho)
