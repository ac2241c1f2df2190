"""Percent coding: NCES bands by group size, hidden small groups, and hidden counts behind codes."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy.percent_coding import code_rate, hides_counts, public_bounds
from privacy.policy import PercentBand, Policy

POLICY = Policy()


@pytest.mark.parametrize(
    "numerator, denominator, display, coded, hide_counts",
    [
        # groups under 100: no band edge admits 10 students, so near-edge rates read "*"
        (12, 12, "*", False, True),  # 100% of a group of 12 tells every outcome
        (0, 12, "*", False, True),  # 0% likewise
        (1, 12, "*", False, True),  # 8.3%
        (11, 12, "*", False, True),  # 91.7%
        (2, 12, "16.7%", False, False),
        (2, 20, "*", False, True),  # exactly on the NCES edge (10%)
        (1, 21, "*", False, True),  # 4.8%: band 21-40
        (2, 21, "9.5%", False, False),
        (38, 40, "*", False, True),
        (37, 40, "92.5%", False, False),
        (2, 99, "2.0%", False, False),  # just above the NCES edge of 41-100 (2%)
        # 100 and more: the band edge widened until a range admits 10 students
        (2, 100, "<=10%", True, True),  # NCES would say "<=2%": fewer than 3 students
        (10, 100, "<=10%", True, True),
        (11, 100, "11.0%", False, False),
        (100, 101, ">=90%", True, True),
        (199, 200, ">=95%", True, True),  # 10 students is 5% of 200
        (1, 201, "<=5%", True, True),
        (11, 201, "5.5%", False, False),
        (4, 818, "<=2%", True, True),  # the known leak: "<=0.5%" of 818 said "at most 4"
        (1000, 1000, ">=99%", True, True),
        (2000, 2000, ">=99.5%", True, True),
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
    for denominator in [*range(0, 260), 499, 500, 999, 1000, 1999, 2000, 2500]:
        for numerator in range(0, denominator + 1):
            rate = code_rate(numerator, denominator, POLICY)
            if denominator < 10:
                assert rate.display == "*"
                continue
            nces = POLICY.band_for(denominator).edge_percent
            edge = POLICY.coding_edge(denominator)
            pct = 100 * numerator / denominator
            if edge is None:
                near = pct <= nces or pct >= 100 - nces
                assert (rate.display == "*") is near and rate.hide_counts is near
                assert not rate.coded
                continue
            assert edge >= nces
            if pct <= edge or pct >= 100 - edge:
                assert rate.coded and rate.hide_counts and rate.value is None
            else:
                assert not rate.coded and rate.value == pytest.approx(pct)
            if numerator in (0, denominator):
                assert rate.coded


def test_a_coded_range_never_tells_fewer_than_ten_students() -> None:
    """What a range says about the count (and the count outside it) is at most 10 wide."""
    for denominator in range(10, 2600):
        for numerator in (0, 1, denominator - 1, denominator):
            if not 0 <= numerator <= denominator:
                continue
            rate = code_rate(numerator, denominator, POLICY)
            lo, hi = public_bounds(numerator, denominator, POLICY)
            assert lo <= numerator <= hi
            if rate.coded:
                # the count near the edge (numerator or denominator - numerator) may be 0..>=10
                assert hi >= POLICY.min_upper_bound if lo == 0 else denominator - lo >= 10


def test_public_bounds_are_exactly_the_counts_a_display_leaves_possible() -> None:
    """Attack the displays: with the group size shown, the public can list every count whose
    rate would read as this one does (a coded range, or "*" for a hidden rate that is not near
    an edge). The bounds must be the least and the most of those counts: no wider (the
    attacker would know more than the protection models) and no narrower."""
    sizes = [*range(0, 420), 818, 999, 1000, 1001, 2000, 2001, 4399, 12345]
    for denominator in sizes:
        least: dict[str, int] = {}
        most: dict[str, int] = {}
        reads = []
        for n in range(denominator + 1):
            rate = code_rate(n, denominator, POLICY)
            read = rate.display if rate.coded else "*"
            reads.append(read)
            least.setdefault(read, n)
            most[read] = n
        for numerator, read in enumerate(reads):
            found = public_bounds(numerator, denominator, POLICY)
            assert found == (least[read], most[read]), (numerator, denominator)


def test_a_hidden_rate_that_could_have_been_coded_bounds_the_count() -> None:
    # a "*" over a shown group of 818 says the rate is not near the edges: 17..801
    assert public_bounds(50, 818, POLICY) == (17, 801)
    assert public_bounds(4, 818, POLICY) == (0, 16)
    assert public_bounds(814, 818, POLICY) == (802, 818)
    assert public_bounds(3, 50, POLICY) == (0, 50)  # no range below 100: "*" says nothing


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


@given(
    numerator=st.integers(0, 5000),
    extra=st.integers(0, 5000),
    edge=st.sampled_from([0.1, 0.3, 0.5, 0.7, 1.0, 2.5, 3.3]),
)
def test_rates_are_compared_with_their_edge_exactly(
    numerator: int, extra: int, edge: float
) -> None:
    """The edge is the decimal written in the policy (0.3 is 3/10, not the nearest float)."""
    policy = Policy(
        percent_bands=(
            PercentBand(10, 20, 10.0),
            PercentBand(21, 40, 5.0),
            PercentBand(41, 100, 2.0),
            PercentBand(101, None, edge),
        )
    )
    denominator = numerator + extra
    coded = code_rate(numerator, denominator, policy)
    if denominator < policy.min_cell:
        assert coded.display == "*"
        return
    used = policy.coding_edge(denominator)
    exact = Fraction(100 * numerator, denominator)
    if used is None:
        band = Fraction(str(policy.band_for(denominator).edge_percent))
        near = exact <= band or exact >= 100 - band
        assert (coded.display == "*") == near and not coded.coded
    else:
        e = Fraction(str(used))
        assert coded.coded == (exact <= e or exact >= 100 - e)
    if coded.value is not None:
        assert coded.value == float(exact) and coded.display == f"{float(exact):.1f}%"


_POLICIES = [
    POLICY,
    Policy(
        min_cell=5,
        min_upper_bound=5,
        percent_bands=(
            PercentBand(5, 20, 10.0),
            PercentBand(21, 40, 5.0),
            PercentBand(41, None, 1.0),
        ),
    ),
    Policy(
        percent_bands=(
            PercentBand(10, 20, 10.0),
            PercentBand(21, 40, 5.0),
            PercentBand(41, 100, 2.0),
            PercentBand(101, 300, 0.3),
            PercentBand(301, None, 0.1),
        )
    ),
]


@given(
    rows=st.lists(
        st.tuples(st.integers(0, 3000), st.integers(0, 3000)).map(lambda t: (t[0], t[0] + t[1])),
        max_size=60,
    ),
    which=st.sampled_from(range(len(_POLICIES))),
)
def test_hides_counts_is_code_rate_row_by_row(rows: list[tuple[int, int]], which: int) -> None:
    """The whole-array answer is `code_rate`'s ``hide_counts`` for every rate, on groups
    around each band edge and each policy's minimum cell as much as anywhere."""
    policy = _POLICIES[which]
    num = np.array([r[0] for r in rows], dtype=np.int64)
    den = np.array([r[1] for r in rows], dtype=np.int64)
    got = hides_counts(num, den, policy)
    assert got.dtype == bool and got.shape == (len(rows),)
    assert got.tolist() == [code_rate(n, d, policy).hide_counts for n, d in rows]


def test_hides_counts_on_every_rate_of_small_groups() -> None:
    """Every numerator of every group size up to 1,000, at once: row by row the same."""
    pairs = [(n, d) for d in range(1001) for n in range(d + 1)]
    num = np.array([p[0] for p in pairs], dtype=np.int64)
    den = np.array([p[1] for p in pairs], dtype=np.int64)
    for policy in _POLICIES:
        want = [code_rate(n, d, policy).hide_counts for n, d in pairs]
        assert hides_counts(num, den, policy).tolist() == want


@pytest.mark.parametrize(
    "num, den, message",
    [
        ([3, 12], [10, 11], "exceeds denominator 11"),
        ([-1], [10], "non-negative"),
        ([1], [-10], "non-negative"),
        ([1.0], [10.0], "integer counts"),
        ([1, 2], [10], "one numerator per denominator"),
    ],
)
def test_hides_counts_refuses_bad_counts(num: list, den: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        hides_counts(np.array(num), np.array(den), POLICY)
