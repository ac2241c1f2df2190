"""Percent coding: how a rate may be displayed, given the counts behind it and the policy.

A rate over a small group is hidden; a rate near 0% or 100% is coded to the band of its group
size (NCES 2011-603), because "100% of 12 graduated" tells every member's outcome. Whenever a
rate is hidden or coded, the counts behind it (the numerator and the denominator - numerator
cell) must be hidden too, or the exact rate can be recomputed; `CodedRate.hide_counts` says so
and the caller passes those cells to `privacy.suppression.protect` as ``must_hide``.

A rate that is shown exactly lets an attacker who also sees the denominator recompute the
numerator; so when `protect` hides a numerator or its complement, the caller must show that
rate as "*" as well.

>>> from privacy.policy import load_policy
>>> code_rate(12, 12, load_policy()).display
'*'
>>> code_rate(995, 1000, load_policy()).display
'>=99%'
>>> code_rate(30, 40, load_policy()).display
'75.0%'
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from privacy.policy import Policy

HIDDEN = "*"

_Count = int | np.ndarray  # a count, or an array of counts
_Flag = bool | np.ndarray


@dataclass(frozen=True)
class CodedRate:
    """A rate as it may be published.

    value: the exact percentage (0-100) when it may be shown, else None (never put the exact
        value of a hidden or coded rate in a chart, tooltip or export).
    display: the text to publish: "75.0%", a coded range such as ">=95%", or "*".
    coded: True when the rate is shown only as a range near 0% or 100%.
    reason: why the rate is hidden or coded (empty when shown).
    hide_counts: True when the numerator and denominator - numerator counts must be hidden so
        the exact rate cannot be recomputed.
    """

    value: float | None
    display: str
    coded: bool
    reason: str
    hide_counts: bool = False


@functools.lru_cache(maxsize=65536, typed=True)
def code_rate(numerator: int, denominator: int, policy: Policy) -> CodedRate:
    """Code ``numerator / denominator`` for publication under ``policy``.

    The denominator is the group size (e.g. a graduation cohort); the numerator the members
    with the outcome. Raises ValueError on negative counts or numerator > denominator.
    """
    for name, count in (("numerator", numerator), ("denominator", denominator)):
        if isinstance(count, bool) or not isinstance(count, int):
            raise ValueError(f"{name} must be an integer count, got {count!r}")
        if count < 0:
            raise ValueError(f"{name} must be non-negative, got {count}")
    if numerator > denominator:
        raise ValueError(f"numerator {numerator} exceeds denominator {denominator}")
    if denominator < policy.min_cell:
        return CodedRate(
            value=None,
            display=HIDDEN,
            coded=False,
            reason=f"group of {denominator} is below the minimum of {policy.min_cell}",
            hide_counts=True,
        )
    scaled = 100 * numerator
    edge, coded = _edge(denominator, policy)
    low, high = _near_edge(scaled, denominator, *_ratio(edge))
    if not coded:
        if low or high:
            return CodedRate(
                value=None,
                display=HIDDEN,
                coded=False,
                reason=(
                    f"rate near 0% or 100% in a group of {denominator}, too small a group for "
                    f"a range that admits {policy.min_upper_bound} students"
                ),
                hide_counts=True,
            )
        return _exact(scaled, denominator)
    if low:
        return CodedRate(
            value=None,
            display=low_display(edge),
            coded=True,
            reason=f"rate at or below {edge:g}% in a group of {denominator}",
            hide_counts=True,
        )
    if high:
        return CodedRate(
            value=None,
            display=high_display(edge),
            coded=True,
            reason=f"rate at or above {100 - edge:g}% in a group of {denominator}",
            hide_counts=True,
        )
    return _exact(scaled, denominator)


def hides_counts(numerators: np.ndarray, denominators: np.ndarray, policy: Policy) -> np.ndarray:
    """`code_rate`'s ``hide_counts`` for each rate ``numerators[i] / denominators[i]``.

    True where the rate is hidden or coded, so the counts behind it must be hidden too: the
    same answer as `code_rate`, row by row, in whole-array integer arithmetic (a year's
    district tables hold some 44,000 rates). Bad counts raise `code_rate`'s ValueError for
    the first of them (negative, or a numerator over its denominator), as does a group size
    with no percent band.
    """
    num = np.asarray(numerators)
    den = np.asarray(denominators)
    if num.shape != den.shape or num.ndim != 1:
        raise ValueError("one numerator per denominator, in two flat arrays")
    if len(num) and (num.dtype.kind not in "iu" or den.dtype.kind not in "iu"):
        raise ValueError("numerators and denominators must be integer counts")
    num, den = num.astype(np.int64), den.astype(np.int64)
    bad = (num < 0) | (den < 0) | (num > den)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        code_rate(int(num[first]), int(den[first]), policy)  # raises its ValueError
    small = den < policy.min_cell  # hidden, whatever the rate
    sizes, of_size = np.unique(den, return_inverse=True)
    p, q = np.zeros(len(sizes), dtype=np.int64), np.ones(len(sizes), dtype=np.int64)
    for j, size in enumerate(sizes.tolist()):
        if size >= policy.min_cell:
            p[j], q[j] = _ratio(_edge(size, policy)[0])
    low, high = _near_edge(100 * num, den, p[of_size], q[of_size])
    return small | low | high


def _edge(group_size: int, policy: Policy) -> tuple[float, bool]:
    """(the edge (percent) near 0% and 100% of rates over ``group_size``, at least the
    minimum cell; whether rates beyond it are coded): coded from `Policy.coding_edge`, or,
    where no coded range is wide enough, hidden from the band's own edge."""
    band = policy.band_for(group_size)
    if band is None:
        raise ValueError(f"the policy has no percent band for a group of {group_size}")
    edge = policy.coding_edge(group_size)
    return (band.edge_percent, False) if edge is None else (edge, True)


def _near_edge(scaled: _Count, denominator: _Count, p: _Count, q: _Count) -> tuple[_Flag, _Flag]:
    """(at or below the edge p / q percent, at or above 100 - p / q) of the rate
    ``scaled / 100 / denominator`` (``scaled``: 100 times the numerator), compared exactly in
    integers; for single counts or, element by element, for arrays of them."""
    return scaled * q <= p * denominator, scaled * q >= (100 * q - p) * denominator


def _exact(scaled: int, denominator: int) -> CodedRate:
    value = scaled / denominator  # int / int rounds correctly, as float(Fraction(...)) did
    return CodedRate(value=value, display=f"{value:.1f}%", coded=False, reason="")


@functools.lru_cache(maxsize=64)
def _ratio(edge_percent: float) -> tuple[int, int]:
    """An edge such as 0.5 as the exact ratio of its decimal text (1, 2)."""
    edge = Fraction(str(edge_percent))
    return edge.numerator, edge.denominator


def low_display(edge_percent: float) -> str:
    """The coded display of a rate at or below ``edge_percent``, e.g. "<=5%"."""
    return f"<={_fmt(edge_percent)}%"


def high_display(edge_percent: float) -> str:
    """The coded display of a rate at or above ``100 - edge_percent``, e.g. ">=95%"."""
    return f">={_fmt(100 - edge_percent)}%"


def coded_displays(policy: Policy) -> list[tuple[str, float]]:
    """Every coded display the policy can produce, with its edge (for export notes)."""
    out: list[tuple[str, float]] = []
    for edge in sorted({b.edge_percent for b in policy.percent_bands}):
        out += [(low_display(edge), edge), (high_display(edge), edge)]
    return out


def public_bounds(numerator: int, denominator: int, policy: Policy) -> tuple[int, int]:
    """What the public learns about a hidden ``numerator`` from its rate's display.

    Applies when the denominator is shown: a coded "<=e%" says numerator <= e% of it, ">=..."
    the converse; a hidden rate ("*") that could have been coded says the rate is NOT near the
    edges (else it would read as a range), which bounds the numerator too. The protection and
    the auditor add these inequalities to what the attacker knows.
    """
    cuts = _cuts(denominator, policy)
    if cuts is None:
        return 0, denominator  # near-edge rates read "*", like any hidden rate
    low_cut, high_cut = cuts
    # for a whole numerator, rate <= e% exactly when numerator <= floor(e% of the group)
    if numerator <= low_cut:
        return 0, low_cut
    if numerator >= high_cut:
        return high_cut, denominator
    return low_cut + 1, high_cut - 1


@functools.lru_cache(maxsize=65536)
def _cuts(denominator: int, policy: Policy) -> tuple[int, int] | None:
    """The most members a rate coded low (at most the edge) and the fewest a rate coded high
    (at least 100 minus the edge) can stand for in a group of ``denominator``, in exact
    arithmetic; None where rates of such a group are never coded. Once per group size: a
    release asks about some 20,000 (count, group size) pairs over far fewer group sizes."""
    if denominator < policy.min_cell:
        return None
    edge_value = policy.coding_edge(denominator)
    if edge_value is None:
        return None
    p, q = _ratio(edge_value)  # as `code_rate` compares: in integers
    return p * denominator // (100 * q), -(-(100 * q - p) * denominator // (100 * q))


def _fmt(value: float) -> str:
    return f"{value:g}"
