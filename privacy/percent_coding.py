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
'>=90%'
>>> code_rate(30, 40, load_policy()).display
'75.0%'
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from privacy.policy import Policy

HIDDEN = "*"


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
    band = policy.band_for(denominator)
    if band is None:
        raise ValueError(f"the policy has no percent band for a group of {denominator}")
    rate = Fraction(100 * numerator, denominator)
    edge = Fraction(band.edge_percent)
    if rate <= edge:
        return CodedRate(
            value=None,
            display=band.low_display,
            coded=True,
            reason=f"rate at or below {band.edge_percent:g}% in a group of {denominator}",
            hide_counts=True,
        )
    if rate >= 100 - edge:
        return CodedRate(
            value=None,
            display=band.high_display,
            coded=True,
            reason=f"rate at or above {100 - band.edge_percent:g}% in a group of {denominator}",
            hide_counts=True,
        )
    return CodedRate(value=float(rate), display=f"{float(rate):.1f}%", coded=False, reason="")
