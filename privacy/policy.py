"""The disclosure-control policy as data: minimum cell, protection criterion, percent coding.

The numbers live in `privacy/policy.toml` (defaults from the MDOE policy and NCES 2011-603) and
are read once by `load_policy`; the resulting frozen `Policy` is passed down to the suppression
engine, the auditor and the percent coder.

What an attacker who sees every released table can and cannot learn under this policy:

- He never sees a count from 1 to ``min_cell - 1``, nor a rate over a denominator below
  ``min_cell``.
- For every cell hidden as small, the tightest interval he can prove with integer programming
  from all shown values, all additive relations (totals, hierarchies, linked tables) and
  non-negativity is at least ``min_interval_width`` wide and reaches at least
  ``min_upper_bound``. No hidden cell of any kind is ever exactly recoverable.
- He does see zero counts (they name no student) and counts of ``min_cell`` or more.
- A rate near 0% or 100% is coded to a band (e.g. ">=95%" in a group of 21-40); from a coded rate
  and a shown denominator he learns only that the numerator lies in the band.

>>> policy = load_policy()
>>> (policy.min_cell, policy.min_interval_width, policy.min_upper_bound)
(10, 5, 10)
>>> policy.band_for(12).edge_percent
10.0
"""

from __future__ import annotations

import functools
import math
import tomllib
from dataclasses import astuple, dataclass, fields
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

POLICY_PATH = Path(__file__).with_name("policy.toml")


class PolicyError(ValueError):
    """The policy file is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class PercentBand:
    """Percent coding for groups of ``min_group``..``max_group`` members (None = no upper end).

    A rate at or below ``edge_percent`` is shown as "<=edge%", a rate at or above
    ``100 - edge_percent`` as ">=(100-edge)%"; the counts behind a coded rate are hidden.
    """

    min_group: int
    max_group: int | None
    edge_percent: float

    def contains(self, group_size: int) -> bool:
        return group_size >= self.min_group and (
            self.max_group is None or group_size <= self.max_group
        )

    @property
    def low_display(self) -> str:
        return f"<={_fmt_percent(self.edge_percent)}%"

    @property
    def high_display(self) -> str:
        return f">={_fmt_percent(100.0 - self.edge_percent)}%"


@dataclass(frozen=True)
class Policy:
    """The statistical disclosure policy.

    min_cell: counts from 1 to ``min_cell - 1`` are never shown (suppressed as small), and no
        rate is shown over a denominator below ``min_cell``.
    min_interval_width: for every cell suppressed as small, the attacker's tightest integer
        interval (from everything released) is at least this wide.
    min_upper_bound: ... and its upper end is at least this value, so the attacker cannot rule
        out that the group has ``min_cell`` members.
    percent_bands: NCES-style coding of rates near 0% and 100% by group size.
    show_zero_counts: zeros are true counts that name no student and are shown; a hidden zero is
        still never exactly recoverable, and a 0%/100% rate is coded by ``percent_bands``.
    """

    min_cell: int = 10
    min_interval_width: int = 5
    min_upper_bound: int = 10
    percent_bands: tuple[PercentBand, ...] = (
        PercentBand(10, 20, 10.0),
        PercentBand(21, 40, 5.0),
        PercentBand(41, 100, 2.0),
        PercentBand(101, 200, 1.0),
        PercentBand(201, None, 0.5),
    )
    show_zero_counts: bool = True

    def __post_init__(self) -> None:
        _validate(self)
        # a policy is part of the key of every cached rate code and bound: hash it once
        object.__setattr__(self, "_hash", hash(astuple(self)))

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined]

    def __reduce__(self) -> tuple:
        # rebuilt through __init__, so a process that unpickles it hashes it afresh (the hash
        # of None, in every policy's last band, differs between processes)
        return (self.__class__, tuple(getattr(self, f.name) for f in fields(self)))

    def is_small(self, count: int) -> bool:
        """True if ``count`` must never be shown (primary suppression)."""
        if count == 0:
            return not self.show_zero_counts
        return 0 < count < self.min_cell

    def small(self, counts: np.ndarray) -> np.ndarray:
        """`is_small` of each of ``counts`` (an array of counts), as a boolean array."""
        counts = np.asarray(counts)
        return np.where(
            counts == 0, not self.show_zero_counts, (counts > 0) & (counts < self.min_cell)
        )

    @functools.lru_cache(maxsize=4096)  # noqa: B019 (policies are few, frozen and hashable)
    def coding_edge(self, group_size: int) -> float | None:
        """The edge (percent) at which rates of a group of ``group_size`` are coded, or None.

        The NCES band's edge, widened to the next band edge until a coded range admits at
        least ``min_upper_bound`` members: "<=0.5%" of 818 would tell the public that fewer
        than 5 students are in the group, which the protection criterion forbids for a small
        count. None when no band edge does (groups under about 100): a rate near 0% or 100%
        in such a group is then hidden ("*") instead of coded.
        """
        band = self.band_for(group_size)
        if band is None:
            return None
        edges = sorted({b.edge_percent for b in self.percent_bands})
        for edge in edges:
            if edge < band.edge_percent:
                continue
            if math.floor(Fraction(str(edge)) * group_size / 100) >= self.min_upper_bound:
                return edge
        return None

    def band_for(self, group_size: int) -> PercentBand | None:
        """The coding band of a group of ``group_size`` members (None below ``min_cell``)."""
        for band in self.percent_bands:
            if band.contains(group_size):
                return band
        return None


def load_policy(path: str | Path | None = None) -> Policy:
    """Read and validate the policy TOML (default: ``privacy/policy.toml``)."""
    source = Path(path) if path is not None else POLICY_PATH
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PolicyError(f"policy file not found: {source}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy file {source} is not valid TOML: {exc}") from exc
    try:
        return _policy_from_dict(raw)
    except PolicyError as exc:
        raise PolicyError(f"{source}: {exc}") from exc


def _policy_from_dict(raw: dict[str, Any]) -> Policy:
    _only_keys(raw, {"cells", "zeros", "percent_bands"}, "top level")
    cells = _table(raw, "cells")
    _only_keys(cells, {"min_cell", "min_interval_width", "min_upper_bound"}, "[cells]")
    zeros = _table(raw, "zeros")
    _only_keys(zeros, {"show_zero_counts"}, "[zeros]")
    bands_raw = raw.get("percent_bands")
    if not isinstance(bands_raw, list) or not bands_raw:
        raise PolicyError("[[percent_bands]] must list at least one band")
    bands = []
    for number, band in enumerate(bands_raw, start=1):
        where = f"percent band {number}"
        if not isinstance(band, dict):
            raise PolicyError(f"{where} must be a table")
        _only_keys(band, {"min_group", "max_group", "edge_percent"}, where)
        max_group = band.get("max_group")
        bands.append(
            PercentBand(
                min_group=_int(band, "min_group", where),
                max_group=None if max_group is None else _int(band, "max_group", where),
                edge_percent=_number(band, "edge_percent", where),
            )
        )
    show_zero = zeros.get("show_zero_counts", True)
    if not isinstance(show_zero, bool):
        raise PolicyError("[zeros] show_zero_counts must be true or false")
    return Policy(
        min_cell=_int(cells, "min_cell", "[cells]"),
        min_interval_width=_int(cells, "min_interval_width", "[cells]"),
        min_upper_bound=_int(cells, "min_upper_bound", "[cells]"),
        percent_bands=tuple(bands),
        show_zero_counts=show_zero,
    )


def _validate(policy: Policy) -> None:
    if policy.min_cell < 1:
        raise PolicyError(f"min_cell must be at least 1, got {policy.min_cell}")
    if policy.min_interval_width < 1:
        raise PolicyError(
            f"min_interval_width must be at least 1 (0 would allow exact recovery), "
            f"got {policy.min_interval_width}"
        )
    if policy.min_upper_bound < policy.min_cell:
        raise PolicyError(
            f"min_upper_bound ({policy.min_upper_bound}) must be at least min_cell "
            f"({policy.min_cell}), or an attacker could prove a hidden group is small"
        )
    bands = policy.percent_bands
    if not bands:
        raise PolicyError("percent_bands must not be empty")
    if bands[0].min_group != policy.min_cell:
        raise PolicyError(
            f"the first percent band must start at min_cell ({policy.min_cell}), "
            f"got {bands[0].min_group}"
        )
    for number, band in enumerate(bands, start=1):
        if not 0 < band.edge_percent < 50:
            raise PolicyError(
                f"percent band {number}: edge_percent must be above 0 and below 50, "
                f"got {band.edge_percent}"
            )
        if band.max_group is not None and band.max_group < band.min_group:
            raise PolicyError(
                f"percent band {number}: max_group {band.max_group} < min_group {band.min_group}"
            )
        if number < len(bands):
            following = bands[number]
            if band.max_group is None or following.min_group != band.max_group + 1:
                raise PolicyError(
                    f"percent bands {number} and {number + 1} must be contiguous "
                    f"(max_group + 1 == next min_group)"
                )
    if bands[-1].max_group is not None:
        raise PolicyError("the last percent band must have no max_group (it covers all sizes)")


def _table(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name)
    if not isinstance(value, dict):
        raise PolicyError(f"missing table [{name}]")
    return value


def _only_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise PolicyError(f"unknown key(s) in {where}: {', '.join(unknown)}")


def _int(table: dict[str, Any], key: str, where: str) -> int:
    if key not in table:
        raise PolicyError(f"{where}: missing {key}")
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(f"{where}: {key} must be an integer, got {value!r}")
    return value


def _number(table: dict[str, Any], key: str, where: str) -> float:
    if key not in table:
        raise PolicyError(f"{where}: missing {key}")
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PolicyError(f"{where}: {key} must be a number, got {value!r}")
    return float(value)


def _fmt_percent(value: float) -> str:
    return f"{value:g}"
