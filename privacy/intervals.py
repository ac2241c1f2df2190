"""What the attacker proves about each hidden cell: an interval, and whether it breaks the
protection criterion.

An audit of a release holds some 50,000 intervals, and most are only counted or joined with
another population's: `Intervals` keeps them as arrays and makes an `Interval` only when one
is read.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from privacy.policy import Policy


@dataclass(frozen=True)
class Interval:
    """What the attacker can prove about hidden cell ``cell``: ``lower <= value <= upper``.

    upper is ``math.inf`` when nothing released bounds the cell above. ``exact`` is False only
    when a MILP hit its time limit; the interval is then narrower than the attacker's (safe
    side).
    """

    cell: int
    key: Hashable
    lower: int
    upper: float
    primary: bool
    exact: bool = True

    @property
    def width(self) -> float:
        return self.upper - self.lower


@dataclass(frozen=True)
class Violation:
    """A hidden cell the attacker narrows too much, and why."""

    interval: Interval
    reason: str

    @property
    def cell(self) -> int:
        return self.interval.cell

    @property
    def key(self) -> Hashable:
        return self.interval.key


def violation_reason(interval: Interval, policy: Policy) -> str:
    """Why ``interval`` breaks the protection criterion, or "" if it does not."""
    if interval.width <= 0:
        return "exactly recoverable"
    if interval.primary:
        if interval.width < policy.min_interval_width:
            return (
                f"interval width {interval.width:g} < {policy.min_interval_width} "
                f"for a cell suppressed as small"
            )
        if interval.upper < policy.min_upper_bound:
            return (
                f"upper bound {interval.upper:g} < {policy.min_upper_bound} "
                f"for a cell suppressed as small"
            )
    return ""


class Intervals(Mapping[int, Interval]):
    """Hidden cell -> its `Interval`, held as one array per field (cells ascending).

    cells: the hidden cells (system cell numbers).
    cell_keys: their cell keys, in the same order.
    lower, upper: the ends the attacker proves (upper ``inf`` where nothing bounds the cell),
        cut to whole numbers as `Interval` holds them.
    primary: hidden as small (held to the whole criterion).
    exact: False where a MILP hit its time limit (the interval is then narrower than the
        attacker's: the safe side).
    """

    __slots__ = ("_cells", "cell_keys", "cells", "exact", "lower", "primary", "upper")

    def __init__(
        self,
        cells: np.ndarray,
        cell_keys: Sequence[Hashable],
        lower: np.ndarray,
        upper: np.ndarray,
        primary: np.ndarray,
        exact: np.ndarray,
    ) -> None:
        self.cells = np.asarray(cells, dtype=np.int64)
        n = len(self.cells)
        if len(cell_keys) != n or any(len(a) != n for a in (lower, upper, primary, exact)):
            raise ValueError("an interval table needs one key and one of each end per cell")
        if n > 1 and not bool((np.diff(self.cells) > 0).all()):
            raise ValueError("an interval table's cells must be distinct and ascending")
        self.cell_keys = list(cell_keys)
        # whole numbers, as `Interval` holds them (an outer bound may be fractional)
        self.lower = np.trunc(np.asarray(lower, dtype=np.float64))
        self.upper = np.trunc(np.asarray(upper, dtype=np.float64))
        self.primary = np.asarray(primary, dtype=bool)
        self.exact = np.asarray(exact, dtype=bool)
        self._cells: list[int] | None = None  # cells as Python ints, for lookups

    def __len__(self) -> int:
        return len(self.cells)

    def __iter__(self) -> Iterator[int]:
        return iter(self.cells.tolist())

    def __getitem__(self, cell: int) -> Interval:
        if self._cells is None:
            self._cells = self.cells.tolist()
        try:
            i = bisect.bisect_left(self._cells, cell)
        except TypeError:  # not a cell number: not held, as in a dict
            raise KeyError(cell) from None
        if i == len(self._cells) or self._cells[i] != cell:
            raise KeyError(cell)
        return self._at(i)

    def _at(self, i: int) -> Interval:
        upper = float(self.upper[i])
        return Interval(
            cell=int(self.cells[i]),
            key=self.cell_keys[i],
            lower=int(self.lower[i]),
            upper=math.inf if math.isinf(upper) else int(upper),
            primary=bool(self.primary[i]),
            exact=bool(self.exact[i]),
        )

    def violations(self, policy: Policy) -> list[Violation]:
        """Every interval that breaks ``policy``'s criterion (`violation_reason`), in cell
        order: found over the arrays, so only those intervals are made."""
        width = self.upper - self.lower
        breaks = (width <= 0) | (
            self.primary
            & ((width < policy.min_interval_width) | (self.upper < policy.min_upper_bound))
        )
        out = []
        for i in np.flatnonzero(breaks).tolist():
            interval = self._at(i)
            out.append(Violation(interval, violation_reason(interval, policy)))
        return out

    def narrowest(self, k: int) -> list[Interval]:
        """The ``k`` intervals the attacker pins down best: narrowest, then lowest upper end,
        primary cells first, then by cell."""
        order = np.lexsort((self.cells, ~self.primary, self.upper, self.upper - self.lower))
        return [self._at(i) for i in order[: max(k, 0)].tolist()]

    @classmethod
    def side_by_side(cls, tables: Sequence[Intervals], offsets: Sequence[int]) -> Intervals:
        """The tables of systems side by side, table i's cells numbered after ``offsets[i]``
        (each offset at least the cells of the systems before it, so cells stay ascending)."""
        if len(tables) != len(offsets):
            raise ValueError(f"{len(offsets)} offset(s) for {len(tables)} table(s)")
        return cls(
            np.concatenate([t.cells + o for t, o in zip(tables, offsets, strict=True)] or [[]]),
            [k for t in tables for k in t.cell_keys],
            *(
                np.concatenate([getattr(t, f) for t in tables] or [[]])
                for f in ("lower", "upper", "primary", "exact")
            ),
        )
