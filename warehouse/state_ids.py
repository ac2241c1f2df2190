"""State student and staff identifiers: random digits plus a Damm check digit.

The policy: computer generated, no embedded meaning, checked for duplicates, permanent. Digits
are drawn from a cryptographic-quality generator (or a seeded one for synthetic builds), never
sequential. The Damm check digit detects every single-digit error and every adjacent
transposition, which Luhn does not (it misses 09 <-> 90).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

import numpy as np

# Damm's totally anti-symmetric quasigroup of order 10.
_DAMM = np.array(
    [
        [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
        [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
        [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
        [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
        [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
        [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
        [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
        [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
        [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
        [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
    ],
    dtype=np.int8,
)

STUDENT_BODY_DIGITS = 9
STAFF_BODY_DIGITS = 8
STAFF_PREFIX = "S"


def damm_digit(digits: str) -> int:
    """The Damm check digit of a string of decimal digits."""
    interim = 0
    for ch in digits:
        interim = int(_DAMM[interim, int(ch)])
    return interim


def _damm_vector(bodies: np.ndarray) -> np.ndarray:
    """Check digits for a 2-D array of digit rows (vectorised over rows)."""
    interim = np.zeros(bodies.shape[0], dtype=np.int8)
    for col in range(bodies.shape[1]):
        interim = _DAMM[interim, bodies[:, col]]
    return interim


def is_valid_student_id(value: str) -> bool:
    """True when `value` is 10 digits, does not start with 0, and its check digit holds."""
    return (
        isinstance(value, str)
        and len(value) == STUDENT_BODY_DIGITS + 1
        and value.isascii()
        and value.isdigit()
        and value[0] != "0"
        and damm_digit(value) == 0
    )


def is_valid_staff_id(value: str) -> bool:
    """True when `value` is 'S' + 9 digits whose Damm check holds."""
    body = value[1:] if isinstance(value, str) and value.startswith(STAFF_PREFIX) else ""
    return (
        len(body) == STAFF_BODY_DIGITS + 1
        and body.isascii()
        and body.isdigit()
        and damm_digit(body) == 0
    )


def _draw_bodies(n: int, width: int, rng: np.random.Generator | None) -> np.ndarray:
    if rng is None:
        rng = np.random.default_rng(secrets.randbits(128))
    bodies = rng.integers(0, 10, size=(n, width), dtype=np.int8)
    bodies[:, 0] = rng.integers(1, 10, size=n, dtype=np.int8)
    return bodies


def _format(bodies: np.ndarray, prefix: str) -> list[str]:
    check = _damm_vector(bodies)
    full = np.concatenate([bodies, check[:, None]], axis=1) + ord("0")
    w = full.shape[1]
    as_text = np.frombuffer(full.astype(np.uint8).tobytes(), dtype=f"S{w}").astype(f"U{w}")
    return (np.char.add(prefix, as_text) if prefix else as_text).tolist()


def _new_ids(
    n: int, width: int, prefix: str, taken: Iterable[str], rng: np.random.Generator | None
) -> list[str]:
    used = set(taken)
    out: list[str] = []
    while len(out) < n:
        for candidate in _format(_draw_bodies(n - len(out), width, rng), prefix):
            if candidate not in used:
                used.add(candidate)
                out.append(candidate)
    return out


def new_student_ids(
    n: int, taken: Iterable[str] = (), rng: np.random.Generator | None = None
) -> list[str]:
    """`n` new student IDs, distinct from each other and from every ID in `taken`.

    `taken` must hold every ID ever issued (including retired aliases), so no number is reused.
    `rng` is only for reproducible synthetic builds; production draws use OS randomness.
    """
    return _new_ids(n, STUDENT_BODY_DIGITS, "", taken, rng)


def new_staff_ids(
    n: int, taken: Iterable[str] = (), rng: np.random.Generator | None = None
) -> list[str]:
    """`n` new staff IDs ('S' + 8 random digits + check digit), unique against `taken`."""
    return _new_ids(n, STAFF_BODY_DIGITS, STAFF_PREFIX, taken, rng)
