"""Percent coding: NCES bands by group size, hidden small groups, and hidden counts behind codes."""

from __future__ import annotations

import pytest

from privacy.percent_coding import code_rate
from privacy.policy import Policy

POLICY = Policy()


@pytest.mark.parametrize(
    "numerator, denominator, display, coded, hide_counts",
    [
        (12, 12, ">=90%", True, True),  # 100% of a group of 12 tells every outcome
        (0, 12, "<=10%", True, True),  # 0% likewise
        (1, 12, "<=10%", True, True),  # 8.3%
        (11, 12, ">=90%", True, True),  # 91.7%
        (2, 12, "16.7%", False, False),
        (2, 20, "<=10%", True, True),  # exactly on the edge is coded
        (18, 20, ">=90%", True, True),
        (1, 21, "<=5%", True, True),  # 4.8%: band 21-40
        (2, 21, "9.5%", False, False),
        (38, 40, ">=95%", True, True),
        (37, 40, "92.5%", False, False),
        (2, 100, "<=2%", True, True),
        (3, 100, "3.0%", False, False),
        (100, 101, ">=99%", True, True),
        (199, 200, ">=99%", True, True),  # 99.5% in 101-200: >= 99
        (1, 201, "<=0.5%", True, True),  # 0.497%
        (2, 201, "1.0%", False, False),
        (1000, 1000, ">=99.5%", True, True),
        (5, 9, "*", False, True),  # group below 10: never shown
        (0, 0, "*", False, True),
        (9, 9, "*", False, True),
    ],
)
def test_code_rate_table(
    numerator: int, denominator: int, display: str, coded: bool, hide_counts: bool
) -> None:
    rate = code_rate(numerator, denominator, POLICY)
    assert rate.display == display
    assert rate.coded is coded
    assert rate.hide_counts is hide_counts
    if display.endswith("%") and not coded:
        assert rate.value == pytest.approx(100 * numerator / denominator)
        assert rate.reason == ""
    else:
        assert rate.value is None  # the exact rate never leaves with a hidden/coded display
        assert rate.reason


def test_every_rate_in_every_group_is_either_far_from_the_edges_or_coded() -> None:
    for denominator in range(0, 260):
        for numerator in range(0, denominator + 1):
            rate = code_rate(numerator, denominator, POLICY)
            if denominator < 10:
                assert rate.display == "*"
                continue
            edge = POLICY.band_for(denominator).edge_percent
            pct = 100 * numerator / denominator
            if pct <= edge or pct >= 100 - edge:
                assert rate.coded and rate.hide_counts and rate.value is None
            else:
                assert not rate.coded and rate.value == pytest.approx(pct)
            if numerator in (0, denominator):
                assert rate.coded


@pytest.mark.parametrize(
    "numerator, denominator, message",
    [
        (5, 4, "exceeds"),
        (-1, 10, "non-negative"),
        (1, -10, "non-negative"),
        (1.5, 10, "integer"),
        (True, 10, "integer"),
    ],
)
def test_bad_counts_are_refused(numerator, denominator, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        code_rate(numerator, denominator, POLICY)
