"""State student and staff IDs: random, unique against everything issued, check digit catches typos."""

from __future__ import annotations

import numpy as np
import pytest

from warehouse.state_ids import (
    damm_digit,
    is_valid_staff_id,
    is_valid_student_id,
    new_staff_ids,
    new_student_ids,
)


def test_a_million_draws_are_unique_and_valid() -> None:
    ids = new_student_ids(1_000_000)
    assert len(set(ids)) == 1_000_000
    sample = ids[::1000]
    assert all(is_valid_student_id(i) for i in sample)
    assert all(len(i) == 10 and i[0] != "0" for i in ids[:5000])


def test_ids_are_not_sequential_and_carry_no_meaning() -> None:
    ids = new_student_ids(20_000, rng=np.random.default_rng(3))
    values = np.array([int(i[:-1]) for i in ids])
    # Consecutive draws are not close to each other (no counter behind them).
    assert np.median(np.abs(np.diff(values))) > 10**7
    # Every body digit position is close to uniform.
    digits = np.array([[int(c) for c in i[1:-1]] for i in ids[:5000]])
    for col in digits.T:
        counts = np.bincount(col, minlength=10)
        assert counts.min() > 400 and counts.max() < 600


def test_taken_ids_are_never_reissued() -> None:
    first = new_student_ids(2000, rng=np.random.default_rng(11))
    # The same seed would redraw exactly the same numbers: every one must be refused.
    again = new_student_ids(2000, taken=first, rng=np.random.default_rng(11))
    assert not set(first) & set(again)
    assert len(set(again)) == 2000


@pytest.mark.parametrize(
    "make, valid", [(new_student_ids, is_valid_student_id), (new_staff_ids, is_valid_staff_id)]
)
def test_check_digit_catches_every_single_digit_error(make, valid) -> None:  # noqa: ANN001
    for sid in make(300, rng=np.random.default_rng(5)):
        assert valid(sid)
        prefix, body = ("S", sid[1:]) if sid.startswith("S") else ("", sid)
        for pos in range(len(body)):
            for d in "0123456789":
                if d != body[pos]:
                    typo = prefix + body[:pos] + d + body[pos + 1 :]
                    assert not valid(typo), (sid, typo)


@pytest.mark.parametrize(
    "make, valid", [(new_student_ids, is_valid_student_id), (new_staff_ids, is_valid_staff_id)]
)
def test_check_digit_catches_every_adjacent_transposition(make, valid) -> None:  # noqa: ANN001
    for sid in make(300, rng=np.random.default_rng(6)):
        prefix, body = ("S", sid[1:]) if sid.startswith("S") else ("", sid)
        for pos in range(len(body) - 1):
            a, b = body[pos], body[pos + 1]
            if a != b:
                swapped = prefix + body[:pos] + b + a + body[pos + 2 :]
                assert not valid(swapped), (sid, swapped)


def test_damm_catches_every_transposition_of_every_digit_pair() -> None:
    # Exhaustive over the alphabet: any pair ab != ba, in any position of a short body.
    for a in range(10):
        for b in range(10):
            if a == b:
                continue
            for left in ("", "7", "42"):
                x, y = left + f"{a}{b}", left + f"{b}{a}"
                assert damm_digit(x) != damm_digit(y), (x, y)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "123",
        "0123456789",
        "12345678901",
        "12345a7890",
        "１２３４５６７８９０",
        None,
        1234567890,
    ],
)
def test_malformed_student_ids_are_invalid(value) -> None:  # noqa: ANN001
    assert not is_valid_student_id(value)


def test_staff_ids_have_their_own_shape() -> None:
    sid = new_staff_ids(1, rng=np.random.default_rng(1))[0]
    assert sid.startswith("S") and len(sid) == 10
    assert not is_valid_student_id(sid)
    assert not is_valid_staff_id(sid[1:])
