"""Complementary cell suppression that holds against the integer-programming attacker.

`protect` hides every small count (primary suppression) and then as few and as small other
cells as it can (complements) so that an attacker who knows every shown value, every additive
constraint of the cell system (totals, hierarchies, linked tables sharing cells) and that counts
are non-negative integers still cannot:

- narrow a cell hidden as small to an interval narrower than ``policy.min_interval_width`` or
  with an upper end below ``policy.min_upper_bound``;
- recover any hidden cell exactly.

It works in three passes:

1. local rules, cheap and necessary: no equation with a lone hidden cell, no equation whose
   hidden cells are all zero (their sum is known to be 0), and enough hidden room beside each
   small cell in each equation with a shown total; complements are chosen among the cells of
   the equation at fault, preferring cells that do not create a new lone hidden cell elsewhere,
   then cells large enough to give the room needed, then the smallest such cell;
2. the attacker (`privacy.auditor.Attacker`): every hidden cell is attacked; each violation
   gets a complement in its own equations, until none is left (hiding more never narrows an
   interval, so cells that passed keep passing); from the second round on, a failing cell
   gets at once every complement of the cheapest move it needs, found by one LP over the
   whole system (`_MoveLP`), instead of one complement per round (complements that fail in
   turn made chains of a hundred rounds on a district level at scale 1);
3. minimising, with a fixed amount of work (or a time budget): the complements of each small
   component are re-chosen by exact integer programming (`minimum_complements`) when that
   hides fewer cells; then the other complements (those of a component at its proven minimum
   have none to spare) are tried back (largest first) and kept shown when the attacker still
   finds no violation (only cells whose proving points moved the complement are re-attacked).

A small system of two sums or more (at most `_EXACT_FIRST_MAX_CANDIDATES` candidate
complements and `_EXACT_FIRST_MAX_JUDGED` cells to judge: most parts of a release under 2,000
cells; a single sum keeps its closed-form attack and the passes below) skips
passes 1 and 3: its minimum is chosen at once by the same exact integer programming over
every cell (`_Suppressor.choose_exactly`), and pass 2 proves it.

Before these passes, cells that a one-child sum makes equal (a district's and its only
school's) are merged into one cell (`privacy.aliases`): the passes run on the merged system,
whose integer points are exactly the whole system's, so each class is shown or hidden whole.

Every hidden cell of the result was proven on a pattern that the result only adds to, or proven
again after a complement that its proving points moved was shown again; `verify` attacks a
result afresh.

Zero rule (see ``policy.toml``): zero counts are shown unless the policy says otherwise; a zero
may be hidden as a complement only when nothing else fits, and hidden zeros are protected like
any hidden cell.

>>> from privacy.cells import CellSystem
>>> from privacy.policy import Policy
>>> s = CellSystem()
>>> _ = s.add_sum((("T",), 40), [(("a",), 3), (("b",), 17), (("c",), 20)])
>>> p = protect(s, Policy())
>>> p.status
['shown', 'suppressed_small', 'suppressed_complement', 'shown']
"""

from __future__ import annotations

import math
import operator
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from privacy import gc_pause, highs, parallel
from privacy.aliases import Merged, merge
from privacy.auditor import Attacker, audit, criterion, proven_by_points
from privacy.cells import CellSystem
from privacy.policy import Policy

SHOWN = "shown"
# the minimising pass's fixed amount of work (deterministic: no clock involved)
_UNHIDE_MAX_TRIES = 400
_NO_CELLS = np.zeros(0, dtype=np.int64)
# an equation of at most this many cells: its local rules are read cell by cell (`_short_row`)
_SHORT_ROW = 16
_SCREEN_MIN_ROWS = 32  # local rules over fewer rows look at each closely (see local_rules)
# ... and at most this many hidden cells re-attacked over all tries (scale-1 release 2023-24:
# 800 showed 3 more cells than 200, for 5 s more; most complements shown go early, largest first)
_UNHIDE_MAX_WORK = 200
_EXACT_MAX_COMPONENTS = 60
_EXACT_MAX_ROUNDS = 40
# ... and at most this many patterns attacked per component
_EXACT_MAX_ATTACKS = 60
# a complement whose removal would need more cells re-attacked than this stays hidden
_UNHIDE_MAX_AFFECTED = 150
# complements tried at once when showing unnecessary ones again (at first, and at most: a batch
# that stays shown doubles the next one, one that fails halves it), and the cells they may affect
_UNHIDE_FIRST_BATCH = 4
_UNHIDE_BATCH = 32
_UNHIDE_BATCH_CELLS = 400
# the re-proof of earlier cells (`_proven_apart`) ends a phase of shared points sooner than the
# attacker's default (a custom table of every district at scale 1: 3.1 s -> 2.7 s; the same
# setting for a whole release made it about 7% slower)
_REPROOF_GAIN = 10
# components this small get their complements re-chosen by exact integer programming
_EXACT_MAX_CANDIDATES = 40
# a system with at most this many candidate complements and cells to judge gets its minimum
# at once (`_Suppressor.choose_exactly`); scale-1 release's parts under 2,000 cells: up to 80
# candidates its search was cheaper than the greedy passes and minimising (3.0 against 4.8 s
# over 876 parts, before the attack that proves it, 1 s), above them dearer (0.4 against 0.2 s
# over 7)
_EXACT_FIRST_MAX_CANDIDATES = 80
_EXACT_FIRST_MAX_JUDGED = 32
# ... with at most this many master problems, patterns judged, and branches of its master
# problems in all (`_cheapest_cover`; no HiGHS): past them it gives up, and the greedy passes
# run. Scale 1, 2023-24: the 823 searches that end take at most 17 masters and 17 verdicts; 11
# give up, with the same cells hidden in the end. Without the branch budget, one part of a
# scale-0.02 release spent 15 s on 83 set covers that HiGHS had to decide.
_EXACT_FIRST_MAX_ROUNDS = 40
_EXACT_FIRST_MAX_ATTACKS = 60
_EXACT_FIRST_MAX_BRANCHES = 1000
# `_cheapest_cover` hands a master to HiGHS past this many branches (the release's took at
# most 1,000)
_COVER_MAX_NODES = 5000
# a reduced cost this close to zero is zero (`_RegionLP._still_failing`)
_DUAL_TOL = 1e-9
# the search for a complement away from a cell gives up past this many hidden cells
_RING_MAX_CELLS = 2000
# ... and with at most this many cells judged (small ones, and those hidden before that stay
# hidden): the kept LP of each pattern holds two blocks per judged cell
_EXACT_MAX_JUDGED = 16
SUPPRESSED_SMALL = "suppressed_small"
SUPPRESSED_COMPLEMENT = "suppressed_complement"


class ProtectionError(ValueError):
    """The cells cannot be protected under the constraints given (e.g. earlier releases).

    ``keys`` names the cells at fault so the caller can refuse the new table.
    """

    def __init__(self, message: str, keys: list[Hashable]) -> None:
        super().__init__(message)
        self.keys = keys

    def __reduce__(self) -> tuple:  # raised in a worker process, re-raised in the caller
        return (type(self), (str(self), self.keys))


@dataclass
class Protection:
    """Which cells of a cell system may be shown, and why the others are hidden.

    status: per cell, one of "shown", "suppressed_small", "suppressed_complement".
    reason: per cell, why it is hidden ("" when shown).
    hidden: the hidden cells; an attacker who sees every other cell cannot narrow a
        "suppressed_small" cell below the policy's criterion nor recover any hidden cell.
    primary: the cells hidden as small (the ones the criterion is about).
    witnesses: the feasible integer points that proved the hidden cells' intervals, each as
        (the cells it moves, their values in it): a proof that an auditor can check instead
        of searching for the points again (`privacy.auditor.audit`'s ``witnesses``). Only a
        proof once checked: a point that a later change made infeasible is rejected there.
    """

    status: list[str]
    reason: list[str]
    hidden: set[int]
    primary: set[int]
    seconds: float = 0.0
    stats: dict[str, int] = field(default_factory=dict)
    witnesses: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list, repr=False)

    def is_shown(self, cell: int) -> bool:
        return self.status[cell] == SHOWN

    @property
    def complements(self) -> set[int]:
        return self.hidden - self.primary

    def published(self, values: np.ndarray) -> list[int | None]:
        """The counts as they may leave: the true value when shown, None when hidden."""
        return [None if i in self.hidden else int(v) for i, v in enumerate(values)]


@gc_pause.pausing
def protect(
    system: CellSystem,
    policy: Policy,
    *,
    primary: Iterable[int] | None = None,
    must_hide: Iterable[int] = frozenset(),
    must_show: Iterable[int] = frozenset(),
    unchecked: Iterable[int] = frozenset(),
    rank: Sequence[int] | np.ndarray | None = None,
    proven: Iterable[int] = frozenset(),
    fresh_rows: Iterable[int] = frozenset(),
    minimise: bool = True,
    minimise_seconds: float | None = None,
    hold: Iterable[int] = frozenset(),
    settled: Iterable[int] = frozenset(),
) -> Protection:
    """Choose the cells to hide so that the release meets the policy's protection criterion.

    primary: cells that must be hidden as small and meet the criterion; default: every cell the
        policy calls small (1 to ``min_cell - 1``; zeros only if ``show_zero_counts`` is off).
    must_hide: cells hidden by earlier releases of the same year; they stay hidden (a cell once
        hidden and then shown would undo the earlier protection).
    must_show: cells shown by earlier releases; they stay shown. If that makes protection
        impossible a `ProtectionError` names the cells, and the new table must be refused.
    unchecked: cells that are never published at all (hidden, like ``must_hide``) and whose
        exact recovery is no disclosure: they are not attacked unless primary (e.g. the slack
        of a public bound, or a latent remainder of 0 or 10+ that the attacker can form).
    rank: per cell, how reluctantly it is hidden as a complement (default: all 0). A
        complement is taken from the lowest rank an equation offers, before any other
        preference: a release ranks cells by geography (school 0, district 1, state 2) so that
        a school's small cell is covered by other school cells, not by a statewide count.
        Rank changes which cells are hidden, never whether the result is protected.
    proven: cells of ``must_hide`` that an earlier run proved safe against every constraint
        except ``fresh_rows`` (indices into ``system.constraints``: the equations new since),
        with every other cell's status then as it is now. Such a cell is attacked again only
        if a fresh equation holds a hidden cell tied to it: otherwise the attacker's view of
        it is unchanged, and hiding more only widens it. A custom table re-attacks only what
        it touches.
    minimise: re-choose the complements of small components by exact integer programming,
        then try to show again the other complements that turn out unnecessary (slower,
        hides less).
    minimise_seconds: an optional time budget for that pass; the result is protected whatever
        the budget. By default (None) the pass has a fixed amount of work instead
        (``_EXACT_MAX_COMPONENTS`` components of at most ``_EXACT_MAX_ROUNDS`` master
        problems each, then the ``_UNHIDE_MAX_TRIES`` largest complements re-attacking at
        most ``_UNHIDE_MAX_WORK`` cells), so the same input always gives the same pattern on
        any machine; a time budget makes it depend on machine speed.
    hold: cells that a later release will tie to new equations (a district's count, which
        the school sums of the next level hold). The first attack's first rounds of shared
        points leave them at their true values, so that most proofs move none of them and
        remain proofs then (``settled`` there). It changes which points prove a cell, never
        whether it passes.
    settled: cells of ``must_hide`` already proven safe by checked points that move only
        cells of ``must_hide`` (`privacy.auditor.checked_witnesses`, against this system):
        hiding more keeps such a point feasible, so they are not attacked again. Not with
        ``proven``, which settles cells by another rule.

    Cells that a one-child sum makes equal (a district's and its only school's) are protected
    as one cell (`privacy.aliases`): they are shown or hidden together.
    """
    started = time.perf_counter()
    system.validate()
    options = {
        "primary": primary,
        "must_hide": must_hide,
        "must_show": must_show,
        "unchecked": unchecked,
        "rank": rank,
        "proven": proven,
        "fresh_rows": fresh_rows,
        "hold": hold,
        "settled": settled,
    }
    merged = merge(system)
    if merged is not None:
        found = _protect_merged(system, merged, policy, options, minimise, minimise_seconds)
        if found is not None:
            found.seconds = time.perf_counter() - started
            return found
    return _protect_cells(
        system,
        policy,
        **options,
        minimise=minimise,
        minimise_seconds=minimise_seconds,
        started=started,
    )


# one part of a release for `protect_part`: (cells, policy, keyword arguments of `protect`)
Part = tuple[CellSystem, Policy, dict]
# what `protect_part` answers: (status per cell, proving points), or the part's refusal
PartResult = tuple[list[str], list[tuple[np.ndarray, np.ndarray]]] | ProtectionError


def protect_part(part: Part) -> PartResult:
    """One part's (statuses, proving points), or its refusal (returned, so that the other
    parts of a release go on). Privacy meaning as `protect`'s: the part's cells only."""
    system, policy, kwargs = part
    try:
        protection = protect(system, policy, **kwargs)
    except ProtectionError as exc:
        return exc
    return protection.status, protection.witnesses


def protect_parts(batch: list[Part]) -> list[PartResult]:
    """`protect_part` of each part of a batch, in order: one job of a release's worker
    process, which imports this module (and what it needs) only."""
    return [protect_part(part) for part in batch]


def _protect_cells(
    system: CellSystem,
    policy: Policy,
    *,
    primary: Iterable[int] | None,
    must_hide: Iterable[int],
    must_show: Iterable[int],
    unchecked: Iterable[int],
    rank: Sequence[int] | np.ndarray | None,
    proven: Iterable[int],
    fresh_rows: Iterable[int],
    minimise: bool,
    minimise_seconds: float | None,
    started: float,
    hold: Iterable[int] = frozenset(),
    settled: Iterable[int] = frozenset(),
) -> Protection:
    """`protect` on `system` as it is (its arguments checked here)."""
    n = len(system)
    values = system.values
    if primary is None:
        primary_set = set(np.flatnonzero(policy.small(values)).tolist())
    else:
        primary_set = _cells(primary, n, "primary")
    hide_set = _cells(must_hide, n, "must_hide")
    show_set = _cells(must_show, n, "must_show")
    clash = sorted((primary_set | hide_set) & show_set)
    if clash:
        keys = [system.keys[c] for c in clash]
        raise ProtectionError(
            f"{len(clash)} cell(s) must be hidden now but were shown in an earlier release: "
            f"{keys[:10]}",
            keys,
        )
    unchecked_set = _cells(unchecked, n, "unchecked") - primary_set
    engine = _Suppressor(system, policy, primary_set, hide_set | unchecked_set, show_set)
    if rank is not None:
        engine.rank = np.asarray(rank, dtype=np.int64)
        if engine.rank.shape != (n,):
            raise ValueError(f"rank has {engine.rank.shape} entries for {n} cells")
    engine.unchecked[list(unchecked_set)] = True
    proven_set = _cells(proven, n, "proven")
    if not proven_set <= hide_set:
        raise ValueError("proven cells must be among must_hide")
    engine.proven[list(proven_set)] = True
    engine.fresh_rows = np.array(sorted(_cells(fresh_rows, len(system.constraints), "fresh_rows")))
    engine.hold[list(_cells(hold, n, "hold"))] = True
    settled_set = _cells(settled, n, "settled")
    if settled_set:
        if not settled_set <= hide_set:
            raise ValueError("settled cells must be among must_hide")
        if proven_set:
            raise ValueError("settled and proven cells cannot both be given")
        engine.settled = np.zeros(n, dtype=bool)
        engine.settled[list(settled_set)] = True
        engine.stats["settled"] = len(settled_set)
    engine.pin_determined()  # may refuse at once: before any re-proof is started
    engine.start_settling()
    # a small part's minimum, found at once, needs no greedy pass and nothing to minimise:
    # the attack then only proves it (and would cover anything it missed)
    exact = minimise and not proven_set and engine.choose_exactly()
    if not exact:
        engine.local_rules(range(engine.nrows))
    engine.attack_until_safe()
    if minimise and not exact:
        deadline = math.inf if minimise_seconds is None else time.perf_counter() + minimise_seconds
        stale, minimal = engine.reoptimise_small_components(deadline)
        if len(stale):
            # the components re-chosen exactly are attacked again here (their cells' proving
            # points may have moved a complement now shown)
            engine.attack_until_safe(stale)
        # then the other complements: each one shown again is proven unnecessary by
        # re-attacking the cells whose proving points moved it (a group at its proven
        # minimum has none to spare)
        engine.unhide_unnecessary(deadline, keep=minimal)
    hidden = set(np.flatnonzero(engine.hidden).tolist())
    status, reason = [], []
    for i in range(n):
        if i not in hidden:
            status.append(SHOWN)
            reason.append("")
        elif i in primary_set:
            status.append(SUPPRESSED_SMALL)
            small = policy.is_small(int(values[i]))
            reason.append(
                f"count below {policy.min_cell}" if small else "hidden as small by request"
            )
        else:
            status.append(SUPPRESSED_COMPLEMENT)
            reason.append(engine.reason.get(i, "complementary suppression"))
    return Protection(
        status=status,
        reason=reason,
        hidden=hidden,
        primary=set(primary_set),
        seconds=time.perf_counter() - started,
        stats=dict(engine.stats),
        witnesses=engine.witnesses(),
    )


def _protect_merged(
    system: CellSystem,
    merged: Merged,
    policy: Policy,
    options: dict,
    minimise: bool,
    minimise_seconds: float | None,
) -> Protection | None:
    """`protect` on `merged` (the classes of equal cells of `system`), as `system`'s protection.

    A class is primary, must be hidden or must be shown when one of its members must. A member
    that is never published (unchecked) stays hidden whatever its class shows; the class is
    unchecked only when all its members are. A class is proven when a member is, every member
    hidden before is, and, if it is primary, every proven member is primary too (a proof made
    for a complement does not meet a small cell's criterion). None, and the caller protects
    `system` as it is, when a class must be both shown and hidden (that run names the cells)
    or when a fresh one-child sum makes two cells hidden before equal (the unmerged engine
    re-attacks what that sum reaches).
    """
    n = len(system)
    primary = options["primary"]
    if primary is None:
        primary_set = set(np.flatnonzero(policy.small(system.values)).tolist())
    else:
        primary_set = _cells(primary, n, "primary")
    hide = _sorted_cells(options["must_hide"], n, "must_hide")
    show = _sorted_cells(options["must_show"], n, "must_show")
    small = np.array(sorted(primary_set), dtype=np.int64)
    unchecked_set = _cells(options["unchecked"], n, "unchecked") - primary_set
    unchecked = np.array(sorted(unchecked_set), dtype=np.int64)
    proven_set = _cells(options["proven"], n, "proven")
    if not proven_set <= set(hide.tolist()):
        raise ValueError("proven cells must be among must_hide")
    fresh = np.array(
        sorted(_cells(options["fresh_rows"], len(system.constraints), "fresh_rows")),
        dtype=np.int64,
    )
    m_primary = merged.any_of(small)
    m_hide = merged.any_of(hide)
    m_show = merged.any_of(show)
    if len(np.intersect1d(m_show, np.union1d(m_hide, m_primary))):
        return None
    rows = merged.row_of[fresh]
    joined = merged.any_of(
        np.array([system.constraints[r][0] for r in fresh[rows < 0].tolist()], dtype=np.int64)
    )
    hidden_before = np.bincount(merged.cell_of[hide], minlength=len(merged.system))
    if (hidden_before[joined] > 1).any():
        return None
    m_unchecked = np.setdiff1d(merged.all_of(unchecked), m_primary)
    proven_cells = np.array(sorted(proven_set), dtype=np.int64)
    m_proven = np.setdiff1d(
        merged.any_of(proven_cells), merged.any_of(np.setdiff1d(hide, proven_cells))
    )
    proven_not_small = merged.any_of(np.setdiff1d(proven_cells, small))
    m_proven = np.setdiff1d(m_proven, np.intersect1d(m_primary, proven_not_small))
    # a merged sum is fresh only if every sum it stands for is: one known before is known
    total = np.bincount(merged.row_of[merged.row_of >= 0], minlength=len(merged.system.constraints))
    fresh_sums = np.bincount(rows[rows >= 0], minlength=len(merged.system.constraints))
    m_fresh = np.flatnonzero((fresh_sums > 0) & (fresh_sums == total))
    rank = options["rank"]
    m_rank = None
    if rank is not None:
        rank = np.asarray(rank, dtype=np.int64)
        if rank.shape != (n,):
            raise ValueError(f"rank has {rank.shape} entries for {n} cells")
        # hiding a class hides its most reluctant member too
        m_rank = np.full(len(merged.system), np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(m_rank, merged.cell_of, rank)
    try:
        found = _protect_cells(
            merged.system,
            policy,
            primary=m_primary.tolist(),
            must_hide=np.union1d(m_hide, m_unchecked).tolist(),
            must_show=m_show.tolist(),
            unchecked=m_unchecked.tolist(),
            rank=m_rank,
            proven=m_proven.tolist(),
            fresh_rows=m_fresh.tolist(),
            minimise=minimise,
            minimise_seconds=minimise_seconds,
            started=time.perf_counter(),
            # a class is held when a member is; settled when every member is
            hold=merged.any_of(_sorted_cells(options["hold"], n, "hold")).tolist(),
            settled=merged.all_of(_sorted_cells(options["settled"], n, "settled")).tolist(),
        )
    except ProtectionError as exc:  # named by every member of the classes at fault
        at_fault = np.isin(merged.cell_of, [merged.system.index[k] for k in exc.keys])
        raise ProtectionError(
            str(exc), [system.keys[c] for c in np.flatnonzero(at_fault).tolist()]
        ) from exc
    hidden_class = np.zeros(len(merged.system), dtype=bool)
    hidden_class[list(found.hidden)] = True
    hidden_mask = merged.expand(hidden_class)
    keys = merged.system.keys
    status, reason = [], []
    for i, j in enumerate(merged.cell_of.tolist()):
        if not hidden_mask[i] and i in unchecked_set:
            hidden_mask[i] = True  # never published, though its class is
            status.append(SUPPRESSED_COMPLEMENT)
            reason.append(f"never published (the same count as {keys[j]!r})")
        elif not hidden_mask[i]:
            status.append(SHOWN)
            reason.append("")
        elif i in primary_set:
            status.append(SUPPRESSED_SMALL)
            reason.append(found.reason[j])
        else:
            status.append(SUPPRESSED_COMPLEMENT)
            reason.append(
                found.reason[j]
                if found.status[j] == SUPPRESSED_COMPLEMENT
                else f"holds the same count as {keys[j]!r}, hidden as small"
            )
    stats = dict(found.stats)
    stats["merged_cells"] = n - len(merged.system)
    return Protection(
        status=status,
        reason=reason,
        hidden=set(np.flatnonzero(hidden_mask).tolist()),
        primary=primary_set,
        stats=stats,
        witnesses=[merged.expand_point(c, v) for c, v in found.witnesses],
    )


def verify(
    system: CellSystem,
    protection: Protection,
    policy: Policy,
    unchecked: Iterable[int] = frozenset(),
) -> list[str]:
    """Re-attack a protection from scratch; return the violations as text (empty = safe)."""
    report = audit(
        system, protection.hidden, policy, primary=protection.primary, unchecked=unchecked
    )
    return [f"{v.key!r}: {v.reason}" for v in report.violations]


class Minimum(NamedTuple):
    """What `minimum_complements` found: a pattern (or None), and whether it is proven a minimum.

    proven: the pattern is a minimum, or (pattern None) ``improve_on`` is: no cheaper pattern
    of the candidates exists. False when the search stopped short (work, rounds or deadline
    spent) or found nothing that works: then nothing is known.
    points: where the kept LP judged the pattern (`_RegionLP`), the integer points of its
    blocks (cells moved, their values): the attacker's points that show each judged cell's
    interval, unchecked (see `_Suppressor.choose_exactly`); else none.
    """

    pattern: list[int] | None
    proven: bool
    points: tuple[tuple[np.ndarray, np.ndarray], ...] = ()


def minimum_complements(
    system: CellSystem,
    policy: Policy,
    *,
    primary: np.ndarray,
    fixed_hidden: np.ndarray,
    candidates: np.ndarray,
    deadline: float | None = None,
    incidence: sp.csr_matrix | None = None,
    max_rounds: int | None = None,
    rank: np.ndarray | None = None,
    improve_on: np.ndarray | None = None,
    max_attacks: int | None = None,
    guarded: np.ndarray | None = None,
    max_branches: int | None = None,
) -> Minimum:
    """Fewest ``candidates`` to hide besides ``fixed_hidden`` so that ``primary`` cells pass.

    Integer programming with attacker cuts: a master problem (`_master`) picks the fewest
    (then smallest) candidates not yet ruled out; the pattern is judged (by one kept LP,
    `_RegionLP`, where that is exact; else by the attacker); a failing pattern is grown to a
    larger failing one ``F`` (by the kept LP's reduced costs, else to a maximal one by more
    verdicts: `_search`; every subset of a failing pattern fails too, since hiding less never
    widens an interval), and the cut "hide at least one candidate outside F" is added. Only
    the criterion of the small cells (and of ``guarded`` cells) is used: a complement among
    ``candidates`` that the attacker recovers exactly could be shown instead at no cost, so a
    minimum never holds one.
    The master starts with the cuts no attack is needed for (`_lone_cuts`: a small cell alone
    hidden in an equation is recovered from it), which often decide the minimum at once.
    rank: per cell, the complement preference of `protect` (a cell of rank r costs as much as
        r + 1 cells of rank 0).
    guarded: cells of ``fixed_hidden`` that are not small but must not be recovered exactly
        either (a complement that an earlier release hid and cannot now show): each needs an
        interval of width at least 1. Without them a pattern could give such a cell away,
        and the complements added afterwards to cover it would undo the saving.
    improve_on: a pattern of ``candidates`` known to work (the complements chosen so far):
        only a cheaper one is sought, and no pattern is returned as soon as the master's
        bound shows that there is none (``improve_on`` is then a proven minimum).
    max_branches: if given, the master problems are decided by `_cheapest_cover` alone,
        within this many branches over the whole search (a hard one gives the search up,
        where by default HiGHS decides it).
    Returns a `Minimum`: its pattern is None when the deadline passes, ``max_rounds`` master
    problems are solved, ``max_branches`` spent or ``max_attacks`` patterns judged first (by
    the kept LP, `_RegionLP`, or in full), or when no pattern works; it says whether what it
    found is proven a minimum.
    """
    candidates = np.asarray(candidates, dtype=np.int64)
    primary = np.asarray(primary, dtype=np.int64)
    fixed = np.asarray(fixed_hidden, dtype=np.int64)
    guard = np.zeros(0, dtype=np.int64) if guarded is None else np.asarray(guarded, np.int64)
    guard = np.setdiff1d(guard, primary)
    if not np.isin(guard, fixed).all():
        raise ValueError("guarded cells must be among fixed_hidden")
    if not len(primary) and not len(guard):
        return Minimum([], True)
    judged = np.concatenate([primary, guard])  # small cells first, then guarded ones
    values = system.values[candidates].astype(np.float64)
    ranks = np.zeros(len(candidates)) if rank is None else np.asarray(rank)[candidates]
    cost = _complement_cost(values, ranks, values.sum() + 1.0)
    need_upper, need_width = criterion(np.arange(len(judged)) < len(primary), policy)

    region = _Region(system, np.union1d(fixed, candidates), judged, incidence)
    sub_judged = region.local(judged)
    cuts = _lone_cuts(region, judged, fixed, candidates)
    room = _room_cuts(region, primary, fixed, candidates, float(policy.min_upper_bound))
    if cuts is None or room is None:
        # a small cell alone, or without room, whatever is hidden: nothing works
        return Minimum(None, False)
    cuts += room
    to_beat = math.inf
    if improve_on is not None and np.isin(improve_on, candidates).all():
        to_beat = float(cost[np.isin(candidates, improve_on)].sum()) - 1e-9

    verdicts: dict[bytes, bool] = {}  # patterns recur across rounds: judge each once
    points_of: dict[bytes, tuple] = {}  # per pattern the kept LP passed: its points
    grown: dict[bytes, np.ndarray] = {}  # per failing pattern: candidates it may add
    quick = (
        _RegionLP(region, sub_judged, policy, need_upper, need_width) if highs.available() else None
    )

    def passes(chosen: np.ndarray) -> bool:
        key = np.sort(chosen).tobytes()
        if key not in verdicts:
            if max_attacks is not None and len(verdicts) >= max_attacks:
                raise _OutOfWork
            hidden = region.local(np.union1d(fixed, chosen))
            verdict = quick.verdict(hidden) if quick is not None else None
            if verdict is True and quick is not None:
                points_of[key] = quick.points()
            if verdict is False and quick is not None and quick.addable is not None:
                add = np.zeros(len(candidates), dtype=bool)
                inside = region.inside[candidates]
                add[inside] = quick.addable[region.local(candidates)]
                grown[key] = add
            if verdict is None:
                attacker = Attacker(region, hidden, region.matrix)
                lower, upper, _ = attacker.bounds(
                    sub_judged, need_upper=need_upper, need_width=need_width, until_failure=True
                )
                verdict = bool(((upper >= need_upper) & (upper - lower >= need_width)).all())
            verdicts[key] = verdict
        return verdicts[key]

    try:
        found = _search(
            cost,
            cuts,
            candidates,
            values,
            passes,
            to_beat,
            deadline,
            max_rounds,
            lambda chosen: grown.get(np.sort(chosen).tobytes()),
            None if max_branches is None else [max_branches],
        )
    except _OutOfWork:
        return Minimum(None, False)
    if found.pattern is None:
        return found
    key = np.sort(np.asarray(found.pattern, dtype=np.int64)).tobytes()
    return found._replace(points=points_of.get(key, ()))


@dataclass
class _UnhideBudget:
    """What `_Suppressor.unhide_unnecessary` may still do: a fixed amount of work (no clock),
    so the same input gives the same pattern on any machine."""

    tries: int  # complements that may still be tried
    work: int  # cells that may still be attacked, over every attack
    size: int  # complements in the next batch
    out: bool = False  # the next complement would need more work than is left


class _OutOfWork(Exception):
    """`minimum_complements` ran out of the attacks it may make."""


def _search(
    cost: np.ndarray,
    cuts: list[np.ndarray],
    candidates: np.ndarray,
    values: np.ndarray,
    passes: Callable[[np.ndarray], bool],
    to_beat: float,
    deadline: float | None,
    max_rounds: int | None,
    also_failing: Callable[[np.ndarray], np.ndarray | None] = lambda chosen: None,
    branches: list[int] | None = None,
) -> Minimum:
    """The master/attacker loop of `minimum_complements`.

    The master's optimum under cuts that every working pattern meets is a lower bound: a
    pattern that reaches it, or a bound no cheaper than ``to_beat``, is a proven minimum.
    A failing pick is widened to a larger failing pattern for its cut: by the candidates the
    verdict's own duals allow (``also_failing``: a mask of candidates, or None), at no cost,
    else one slice of candidates at a time (`_grow_failing`, more verdicts). The dual cut
    may be weaker than a maximal one, so masters are more (scale-1 release's one-school
    parts: 892 against 680), but verdicts are fewer (1,018 against 5,273), and more searches
    end inside their `_EXACT_MAX_ATTACKS`: 123 fewer cells hidden.
    """
    checked = False
    order = np.argsort(values, kind="stable")
    rounds = 0
    while deadline is None or time.perf_counter() < deadline:
        rounds += 1
        if max_rounds is not None and rounds > max_rounds:
            return Minimum(None, False)
        x = _master(cost, cuts, to_beat, branches)
        if x is None:
            return Minimum(None, False)  # no pattern of the candidates works
        if float(cost @ x) >= to_beat:
            return Minimum(None, True)  # none cheaper than the one to improve on
        if not checked:
            # hiding every candidate is the most any pattern can do
            if not passes(candidates):
                return Minimum(None, False)
            checked = True
        pick = x > 0.5
        if passes(candidates[pick]):
            return Minimum(sorted(candidates[pick].tolist()), True)
        failing = pick.copy()
        more = also_failing(candidates[pick])
        if more is not None:
            failing |= more
        elif not _grow_failing(
            failing, order[~pick[order]], lambda m: passes(candidates[m]), deadline
        ):
            return Minimum(None, False)
        cuts.append((~failing).astype(np.float64))
    return Minimum(None, False)


def _master(
    cost: np.ndarray, cuts: list[np.ndarray], to_beat: float, branches: list[int] | None = None
) -> np.ndarray | None:
    """The cheapest 0/1 choice of candidates that meets every cut (None: none does).

    A choice whose cost reaches ``to_beat`` may come back instead when nothing is cheaper
    (the caller then reads only its cost). `_cheapest_cover` decides first; past its work
    limit, HiGHS: the LP relaxation, then the integer program only where it is needed
    (HiGHS's start-up alone took about 1.6 ms on these problems of at most
    `_EXACT_MAX_CANDIDATES` columns). An integral LP optimum is the integer one. An LP bound
    that reaches ``to_beat`` already says that nothing is cheaper: that LP point comes back,
    fractional or not.

    branches: a budget of branches (one number in a list, spent in place): `_cheapest_cover`
    alone decides, within it, and `_OutOfWork` is raised past it.
    """
    if branches is not None:
        found, spent = _cheapest_cover(cost, cuts, to_beat, min(branches[0], _COVER_MAX_NODES))
        branches[0] -= spent
        if found is _TOO_LONG:
            raise _OutOfWork
        return found
    found, _ = _cheapest_cover(cost, cuts, to_beat)
    if found is not _TOO_LONG:
        return found
    k = len(cost)
    matrix = sp.csr_matrix(np.array(cuts)) if cuts else sp.csr_matrix((0, k))
    rows = (np.ones(len(cuts)), np.full(len(cuts), np.inf))
    x, _ = highs.milp(cost, matrix, rows, (0.0, 1.0))
    if x is None:
        return None  # the relaxation has no point: nor has the integer program
    if float(cost @ x) >= to_beat:
        return x
    if np.abs(x - np.round(x)).max() <= 1e-9:
        return np.round(x)
    x, _ = highs.milp(cost, matrix, rows, (0.0, 1.0), integrality=np.ones(k))
    return x


class _TooLong:
    """`_cheapest_cover` stopped at its work limit (`_master` then asks HiGHS, or gives the
    search up when it has a budget of branches)."""


_TOO_LONG = _TooLong()


def _cheapest_cover(
    cost: np.ndarray, cuts: list[np.ndarray], to_beat: float, max_nodes: int | None = None
) -> tuple[np.ndarray | None | _TooLong, int]:
    """`_master`'s problem by depth-first branch and bound: the cheapest choice of candidates
    holding at least one of each cut's (a 0/1 row), costs all positive. A cut with fractional
    entries (`_room_cuts`: ``sum(c_j x_j) >= 1``, each ``c_j`` at most 1) is relaxed to "at
    least one of its nonzero entries", which every choice meeting it meets: the optimum is
    then a lower bound, and `_search` judges the pattern anyway. (Rounding its entries
    instead would demand more than the cut does: siblings worth 0.4 each, three of which
    give the room, would be no option at all.)

    Returns (answer, branches taken). The answer: the optimum if it costs less than
    ``to_beat``; else all candidates (which meet every cut, and cost at least ``to_beat``
    when it is finite: it is the cost of a choice of them); None if no choice meets every
    cut; `_TOO_LONG` after ``max_nodes`` branches (default `_COVER_MAX_NODES`).

    Each branch takes the open cut with the fewest options left and tries each of them in
    turn, cheapest first, leaving out the ones tried before (so no choice is reached twice);
    it is cut off when its cost plus a lower bound reaches the best so far: the cheapest
    option of each of a set of open cuts that share no option. The masters of the re-choice
    of small components (at most `_EXACT_MAX_CANDIDATES` candidates, a few dozen cuts) took
    at most 1,000 branches each: for the scale-1 release's 892 masters, 0.07 s against 2.4 s
    for HiGHS, which spends most of that starting up, same costs.
    """
    limit = _COVER_MAX_NODES if max_nodes is None else max_nodes
    k = len(cost)
    price = [float(v) for v in cost]
    by_price = sorted(range(k), key=price.__getitem__)
    masks: set[int] = set()
    for row in cuts:
        # bit j for candidate j (the bytes of the packed row, least significant first)
        mask = int.from_bytes(
            np.packbits(np.asarray(row) > 0, bitorder="little").tobytes(), "little"
        )
        if not mask:
            return None, 0  # a cut no choice meets
        masks.add(mask)
    # a cut holding all of another's options is met whenever the other is
    kept: list[int] = []
    for mask in sorted(masks, key=int.bit_count):
        if not any(other & mask == other for other in kept):
            kept.append(mask)
    options = [[j for j in by_price if mask >> j & 1] for mask in kept]
    best_cost, best = to_beat, -1
    nodes = 0

    def lower(open_cuts: list[int], banned: int) -> float:
        taken, bound = 0, 0.0
        for i in open_cuts:
            if kept[i] & taken:
                continue
            cheapest = next((price[j] for j in options[i] if not banned >> j & 1), None)
            if cheapest is None:
                return math.inf
            bound += cheapest
            taken |= kept[i]
        return bound

    def branch(chosen: int, spent: float, banned: int) -> None:
        nonlocal best_cost, best, nodes
        nodes += 1
        if nodes > limit:
            raise _OutOfWork
        open_cuts = [i for i, mask in enumerate(kept) if not mask & chosen]
        if not open_cuts:
            if spent < best_cost:
                best_cost, best = spent, chosen
            return
        open_cuts.sort(key=lambda i: (kept[i] & ~banned).bit_count())
        if spent + lower(open_cuts, banned) >= best_cost:
            return
        for j in options[open_cuts[0]]:
            if not banned >> j & 1:
                branch(chosen | 1 << j, spent + price[j], banned)
                banned |= 1 << j

    try:
        branch(0, 0.0, 0)
    except _OutOfWork:
        return _TOO_LONG, nodes - 1
    if best >= 0:
        return np.array([float(best >> j & 1) for j in range(k)]), nodes
    return (np.ones(k) if math.isfinite(to_beat) else None), nodes


def _complement_cost(values: np.ndarray, rank: np.ndarray, scale: float) -> np.ndarray:
    """What hiding each cell costs: 1 + its rank, then its count over ``scale`` (more than any
    sum of the counts weighed), so fewest lowest-rank cells come first, then the smallest."""
    return 1.0 + np.asarray(rank, dtype=np.float64) + np.asarray(values) / scale


def _lone_cuts(
    region: _Region, primary: np.ndarray, fixed: np.ndarray, candidates: np.ndarray
) -> list[np.ndarray] | None:
    """Cuts every working pattern meets, found without an attack (None: no pattern works).

    An equation whose only hidden cell is a judged one (``primary``: small, or guarded) gives
    that cell away exactly, so every equation where a judged cell is the lone cell of
    ``fixed`` needs at least one of its ``candidates`` hidden too. Per such equation, the 0/1
    row over ``candidates``.
    """
    n = len(region)
    mask = np.zeros(n, dtype=np.float64)
    mask[region.local(fixed)] = 1.0
    mask[region.local(primary)] = 1.0
    small = np.zeros(n, dtype=np.float64)
    small[region.local(primary)] = 1.0
    matrix = abs(region.matrix).tocsr()
    matrix.data[:] = 1.0
    lone = np.flatnonzero((matrix @ mask == 1) & (matrix @ small == 1))
    if not len(lone):
        return []
    inside = region.inside[candidates]
    local = np.full(len(candidates), -1, dtype=np.int64)
    local[inside] = region.local(candidates[inside])
    cols = np.flatnonzero(local >= 0)
    sub = matrix[lone].toarray()[:, local[cols]]  # (a region is small: dense is cheaper)
    if (sub.sum(axis=1) == 0).any():
        return None
    cuts = np.zeros((len(lone), len(candidates)))
    cuts[:, cols] = sub
    return _distinct_rows(cuts)


def _room_cuts(
    region: _Region,
    primary: np.ndarray,
    fixed: np.ndarray,
    candidates: np.ndarray,
    need_upper: float,
) -> list[np.ndarray] | None:
    """Cuts on room every working pattern meets, found without an attack (None: none works).

    A small cell ``p`` that is a child of a shown total can rise only as far as its hidden
    siblings can fall: its upper end is at most ``v(p)`` plus their values. Reaching
    ``need_upper`` takes hidden siblings worth ``need = need_upper - v(p)`` in all, less what
    the siblings in ``fixed`` bring; a candidate total, if hidden, lifts the limit. Per such
    equation the row ``sum(min(v(s) / need, 1) x_s) + x_total >= 1`` over ``candidates``:
    the master then stops offering the smallest complements of a row (the cheapest) where
    they cannot give the cell room, patterns that each cost an attack to rule out.
    """
    n = len(region)
    matrix = region.matrix.tocsr()
    is_fixed = np.zeros(n, dtype=bool)
    is_fixed[region.local(fixed)] = True
    column = np.full(n, -1, dtype=np.int64)  # region cell -> its place among candidates
    inside = region.inside[candidates]
    column[region.local(candidates[inside])] = np.flatnonzero(inside)
    by_cell = matrix.tocsc()
    cuts: list[np.ndarray] = []
    for p in region.local(primary).tolist():
        short = need_upper - float(region.values[p])
        if short <= 0:
            continue
        at = slice(by_cell.indptr[p], by_cell.indptr[p + 1])
        for r in by_cell.indices[at][by_cell.data[at] < 0].tolist():  # p is a child of r
            row = slice(matrix.indptr[r], matrix.indptr[r + 1])
            cells, signs = matrix.indices[row], matrix.data[row]
            total = int(cells[signs > 0][0])
            if is_fixed[total]:
                continue  # a hidden total bounds nothing here
            siblings = cells[(signs < 0) & (cells != p)]
            need = short - float(region.values[siblings[is_fixed[siblings]]].sum())
            if need <= 0:
                continue
            cut = np.zeros(len(candidates))
            free = siblings[column[siblings] >= 0]
            # a hair over the exact share, so that siblings worth exactly the need pass
            cut[column[free]] = np.minimum(region.values[free] / need + 1e-9, 1.0)
            if column[total] >= 0:
                cut[column[total]] = 1.0
            if cut.sum() < 1.0:
                return None
            cuts.append(cut)
    return _distinct_rows(np.array(cuts)) if cuts else []


def _distinct_rows(rows: np.ndarray) -> list[np.ndarray]:
    """``list(np.unique(rows, axis=0))``: the distinct rows in increasing order (compared
    number by number, first column first), by one sort of the columns as keys (numpy's
    `np.unique` over rows compares them as records: some 0.2 ms a call, and the exact search
    of a release's small parts makes some 500 such calls)."""
    if not len(rows):
        return []
    ordered = rows[np.lexsort(rows.T[::-1])]
    keep = np.ones(len(ordered), dtype=bool)
    keep[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    return list(ordered[keep])


def _grow_failing(
    failing: np.ndarray,
    rest: np.ndarray,
    passes: Callable[[np.ndarray], bool],
    deadline: float | None,
) -> bool:
    """Grow the failing pattern ``failing`` (a mask, changed in place) to a maximal one.

    Adds each of ``rest`` in turn if the pattern still fails with it. Hiding more never hurts,
    so when a whole slice of ``rest`` can be added at once and the pattern still fails, each
    of its cells would have been added one at a time too: slices are tried first and split
    only when they pass. The result is the one-at-a-time result, in far fewer attacks when few
    cells are needed. False if the deadline passed first.
    """
    if not len(rest):
        return True
    if deadline is not None and time.perf_counter() > deadline:
        return False
    failing[rest] = True
    if not passes(failing):
        return True
    failing[rest] = False
    if len(rest) == 1:
        return True
    half = len(rest) // 2
    return _grow_failing(failing, rest[:half], passes, deadline) and _grow_failing(
        failing, rest[half:], passes, deadline
    )


class _Region:
    """The cells and equations that decide ``primary`` cells' bounds under any hidden pattern
    inside ``widest``: the components of the primaries when all of ``widest`` is hidden, and
    the shown cells of their equations (constants to the attacker).

    A narrower pattern only splits those components, and no equation outside the region holds
    one of their hidden cells, so an attacker over the region finds the same bounds as one
    over the whole system, at the cost of the region instead of the system (per pattern tried
    by `minimum_complements`, which tries many on one small group).
    """

    def __init__(
        self,
        system: CellSystem,
        widest: np.ndarray,
        primary: np.ndarray,
        incidence: sp.csr_matrix | None = None,
    ) -> None:
        full = incidence if incidence is not None else system.incidence()
        inside = np.zeros(len(system), dtype=bool)
        inside[widest] = True
        labels = _components_through(full, inside)
        inside &= np.isin(labels, labels[primary])
        rows = np.flatnonzero(abs(full) @ inside.astype(np.float64))
        touched = full[rows]
        self.cells = np.unique(touched.indices)
        self.matrix = touched[:, self.cells].tocsr()
        self.values = system.values[self.cells]
        self.inside = inside

    def __len__(self) -> int:
        return len(self.cells)

    def local(self, cells: np.ndarray) -> np.ndarray:
        """Region indices of those of ``cells`` that lie in the region's components."""
        cells = np.asarray(cells, dtype=np.int64)
        cells = cells[self.inside[cells]]
        return np.searchsorted(self.cells, cells)


def _components_through(incidence: sp.spmatrix, hidden: np.ndarray) -> np.ndarray:
    """Per cell, a label of its component: cells joined by equations through ``hidden`` cells
    (a mask), as `Attacker.components` labels them (without an attacker's matrices).
    ``incidence``: equations x cells, in any sparse format (only its entries are read)."""
    n = incidence.shape[1]
    coo = incidence.tocoo()
    keep = hidden[coo.col] & (coo.data != 0)
    graph = sp.coo_matrix(
        (np.ones(int(keep.sum())), (coo.col[keep], n + coo.row[keep])),
        shape=(n + incidence.shape[0],) * 2,
    )
    return connected_components(graph, directed=False)[1][:n]


class _RegionLP:
    """Exact verdicts on `minimum_complements`' patterns from one kept LP, where it can give one.

    One block per judged cell (small, or guarded: see `minimum_complements`) and direction:
    the region's equations over a copy of its cells (those not hidden held at their values by
    their bounds), maximising the judged cell's value or minimising it. All blocks sit in one
    HiGHS model, kept across the patterns of one search: a pattern changes only bounds, so
    each solve starts (dual simplex) from the last pattern's basis instead of building an
    attacker. Cells are capped far above any value, so that a block without an upper end still
    has an optimum.

    An optimum whose blocks are all integral holds each judged cell's exact integer bounds (an
    integral LP optimum is an integer optimum), or, where a block reached the cap, a witness
    of the system (a point as far as the cap allows): enough to decide the pattern either way
    unless a capped bound is the one that falls short. An LP bound that already breaks the
    criterion proves failure (the integer bound is no better). Anything else is left
    undecided (None): the caller attacks the pattern in full.
    """

    def __init__(
        self,
        region: _Region,
        primary: np.ndarray,
        policy: Policy,
        need_upper: np.ndarray | None = None,
        need_width: np.ndarray | None = None,
    ) -> None:
        """need_upper, need_width: per judged cell (``primary``), the upper end and width its
        interval needs; default: the policy's criterion for every one (all small)."""
        a = sp.csr_matrix(region.matrix, dtype=np.float64)
        self.cells = region.cells  # the system's cell of each region cell
        self.n, k = len(region), 2 * len(primary)
        self.primary = np.asarray(primary, dtype=np.int64)
        self.values = region.values.astype(np.float64)
        p = len(self.primary)
        self.need_upper = (
            np.full(p, float(policy.min_upper_bound)) if need_upper is None else need_upper
        )
        self.need_width = (
            np.full(p, float(policy.min_interval_width)) if need_width is None else need_width
        )
        reach = float(policy.min_upper_bound) + float(policy.min_interval_width)
        self.cap = 4.0 * (float(self.values.sum()) + reach + 1.0)
        # each block's objective cell, among all the blocks' columns: up blocks, then down
        self.cols = np.arange(k) * self.n + np.tile(self.primary, 2)
        c = np.zeros(k * self.n)
        c[self.cols[: len(primary)]] = -1.0
        c[self.cols[len(primary) :]] = 1.0
        b = np.tile(a @ self.values, k)
        self.solver = highs.solver(c, _copies_side_by_side(a, k), b, strategy=1)
        self.k = k

    def verdict(self, hidden: np.ndarray) -> bool | None:
        """Do the judged cells pass with region cells ``hidden`` (and only those) hidden?

        After a False, `addable` holds the region cells (a mask, or None where the solver
        gave no duals) that could be hidden too without ending the failure (`_still_failing`).
        """
        self.addable: np.ndarray | None = None
        free = np.zeros(self.n, dtype=bool)
        free[hidden] = True
        lo = np.tile(np.where(free, 0.0, self.values), self.k)
        hi = np.tile(np.where(free, self.cap, self.values), self.k)
        every = np.arange(self.k * self.n, dtype=np.int32)
        self.solver.changeColsBounds(len(every), every, lo, hi)
        self.solver.run()
        if not highs.optimal(self.solver):
            return None
        flat = np.asarray(self.solver.getSolution().col_value)
        x = flat.reshape(self.k, self.n)
        integral = (np.abs(x - np.round(x)) <= 1e-6).all(axis=1)
        capped = (x >= self.cap - 0.5).any(axis=1)  # a bound beyond the block's optimum
        value = flat[self.cols]
        p = len(self.primary)
        up, down = value[:p], value[p:]
        # LP bounds rounded inwards: the integer bounds can be no wider
        up_bound, down_bound = np.floor(up + 1e-6), np.ceil(down - 1e-6)
        exact_up, exact_down = ~capped[:p], ~capped[p:]
        short = exact_up & (up_bound < self.need_upper)
        narrow = exact_up & exact_down & (up_bound - down_bound < self.need_width)
        if (short | narrow).any():
            self.addable = self._still_failing(free, short, narrow)
            return False
        if not integral.all():
            return None  # no integer witness for some bound: attacked in full
        passing = (up >= self.need_upper) & (up - down >= self.need_width)
        self._blocks = x
        return True if passing.all() else None

    def points(self) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        """The last verdict's blocks (all integral) as points of the system: per block, the
        system cells it moves and their values. Each block is the region's equations, whose
        other cells keep their values, over copies of its cells with only the pattern's hidden
        ones free: a feasible integer point of the whole system under that pattern."""
        out = []
        for block in self._blocks:
            moved = np.abs(block - self.values) > 0.5
            if moved.any():
                out.append((self.cells[moved], np.round(block[moved]).astype(np.int64)))
        return tuple(out)

    def _still_failing(
        self, free: np.ndarray, short: np.ndarray, narrow: np.ndarray
    ) -> np.ndarray | None:
        """Cells not in ``free`` (the pattern judged) that could all be hidden as well while
        one judged cell still fails, read from the last solve's reduced costs: its upper end
        falls ``short`` (its up block), or its interval is too ``narrow`` (both blocks).

        Hiding a cell frees its column from its value to [0, cap]. Where every freed column
        has a zero reduced cost (a zero count: a non-negative one), the same point and duals
        stay optimal, so the block's LP bound does not move and the integer bound, no wider,
        still fails. No column of a failing block sits at the cap (only exact bounds fail),
        so the duals also prove the bound without it. The cell that allows the most is taken.
        """
        solution = self.solver.getSolution()
        if not solution.dual_valid:
            return None
        reduced = np.asarray(solution.col_dual).reshape(self.k, self.n)
        p = len(self.primary)
        at_zero = self.values <= 0
        best: np.ndarray | None = None
        for i in np.flatnonzero(short | narrow).tolist():
            ok = ~free
            for block in (i,) if short[i] else (i, p + i):
                d = reduced[block]
                ok &= np.where(at_zero, d >= -_DUAL_TOL, np.abs(d) <= _DUAL_TOL)
            if best is None or ok.sum() > best.sum():
                best = ok
        return best


def _copies_side_by_side(a: sp.spmatrix, k: int) -> sp.csc_matrix:
    """``scipy.sparse.block_diag([a] * k)`` in CSC, built from ``a``'s entries at once
    (block_diag handles each copy on its own: a tenth of the exact search's time on small
    parts)."""
    csc = sp.csc_matrix(a)
    if not csc.has_canonical_format:  # each column's rows once, in order
        csc = csc.copy()
        csc.sum_duplicates()
    m, n = csc.shape
    nnz = csc.nnz
    shift = np.arange(k)[:, None]
    indptr = np.append((csc.indptr[:-1][None, :] + nnz * shift).ravel(), nnz * k)
    indices = (csc.indices[None, :] + m * shift).ravel()
    return sp.csc_matrix((np.tile(csc.data, k), indices, indptr), shape=(m * k, n * k))


def _span(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Concatenate ``arange(a, b)`` for each (a, b), vectorised."""
    counts = hi - lo
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    return np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(total)


def _sorted_cells(cells: Iterable[int], n: int, what: str) -> np.ndarray:
    """`_cells` as a sorted array."""
    return np.array(sorted(_cells(cells, n, what)), dtype=np.int64)


def _cells(cells: Iterable[int], n: int, what: str) -> set[int]:
    """``cells`` as a set of cell indices of a system of ``n`` cells (``what`` names the
    argument in errors): each must be a whole number (an int, not 1.5 or "1") in range."""
    try:
        out = {operator.index(c) for c in cells}
    except TypeError as exc:
        raise ValueError(f"{what} must hold cell indices (whole numbers): {exc}") from exc
    bad = [c for c in out if not 0 <= c < n]
    if bad:
        raise ValueError(f"{what} refers to unknown cell index {bad[0]}")
    return out


class _Dependents:
    """For each cell, the hidden cells whose proving points move it (support -> cells).

    Built once as compressed arrays, per distinct proving point: the cells it moves, and the
    cells it proves (one point often proves thousands of cells and moves thousands: expanded
    per cell, its pairs ran to millions at scale 1). A cell proven again later keeps its new
    support beside them (`update`), and their entries for that cell are ignored.
    """

    def __init__(
        self,
        supports: dict[int, tuple[np.ndarray, ...]],
        n: int,
        only: np.ndarray | None = None,
    ) -> None:
        """supports: per cell, the arrays of cells its proving points move (`Attacker`'s: one
        array per point, shared by the cells a point proves, so each is read once here).
        only: the support cells that `of` will be asked about (None: every cell); the
        others are dropped before indexing."""
        asked = None
        if only is not None:
            asked = np.zeros(n, dtype=bool)
            asked[only] = True
        point_of: dict[int, int] = {}  # id of a point's array -> its number
        moved: list[np.ndarray] = []  # per point: the cells it moves (among those asked)
        proves: list[list[int]] = []  # per point: the cells it proves
        for cell, pieces in supports.items():
            for piece in pieces:
                k = point_of.get(id(piece))  # `supports` keeps `piece` alive: its id is its own
                if k is None:
                    part = np.unique(np.asarray(piece, dtype=np.int64))
                    if asked is not None:
                        part = part[asked[part]]
                    k = point_of[id(piece)] = len(moved)
                    moved.append(part)
                    proves.append([])
                if len(moved[k]):
                    proves[k].append(cell)
        lengths = np.array([len(m) for m in moved], dtype=np.int64)
        rows = np.concatenate(moved) if moved else np.zeros(0, dtype=np.int64)
        points = np.repeat(np.arange(len(moved), dtype=np.int64), lengths)
        # moved cell -> points that move it, as CSR arrays
        self.points = points[np.argsort(rows, kind="stable")]
        self.indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=n))))
        self.proves = [np.unique(np.asarray(p, dtype=np.int64)) for p in proves]
        self.changed: dict[int, np.ndarray] = {}  # cell -> its current support, sorted
        self.asked = asked

    def of(self, s: int) -> set[int]:
        if self.asked is not None and not self.asked[s]:
            raise ValueError(f"cell {s} was not among the cells asked about")
        points = self.points[self.indptr[s] : self.indptr[s + 1]].tolist()
        found: set[int] = set()
        for k in points:
            found.update(self.proves[k].tolist())
        found.difference_update(self.changed)
        for a, support in self.changed.items():
            i = np.searchsorted(support, s)
            if i < len(support) and support[i] == s:
                found.add(a)
        return found

    def update(self, cell: int, support: tuple[np.ndarray, ...]) -> None:
        """`cell` is proven again by points that move `support` (its old ones no longer count).

        A support is a few sorted runs (one per proving point), so a stable sort merges them
        in linear time; duplicates are harmless to `of`'s binary search.
        """
        joined = np.concatenate(support) if support else np.zeros(0, dtype=np.int64)
        self.changed[cell] = np.sort(joined, kind="stable")


class _MoveLP:
    """The LP of `_Suppressor._move_for` over a whole cell system, kept for warm solves.

    Two columns per cell that may move (cells that must stay shown are constants: left out),
    its move up and its move down, and one row per equation that holds such a cell
    (``A (up - down) = 0``). From one solve to the next only a few bounds and costs change
    (the cell to move, cells hidden or shown since): the model is kept, and each solve starts
    HiGHS's dual simplex from the logical basis (no move at all, optimal before the cell is
    fixed, since no cost is negative), not from the last solve's basis, which the simplex
    must first take apart (scale 1, 2023-24: the 49 moves of the release's parts 1.25 ->
    0.48 s of CPU, every status the same).
    """

    def __init__(self, engine: _Suppressor) -> None:
        self.n = engine.n
        self.cells = np.flatnonzero(~engine.forbidden)  # the columns' cells, in order
        self.column = np.full(self.n, -1, dtype=np.int64)
        self.column[self.cells] = np.arange(len(self.cells))
        self.k = len(self.cells)
        self.values = engine.values[self.cells].astype(np.float64)
        self.rank = engine.rank[self.cells].astype(np.float64)
        self.scale = float(engine.values.sum()) + 1.0
        a = engine.csr[:, self.cells].astype(np.float64).tocsr()
        a = a[np.flatnonzero(np.diff(a.indptr))]  # rows of constants only hold anyway
        self.hidden = engine.hidden[self.cells].copy()
        cost = self._cost(np.arange(self.k))
        self.solver = highs.solver(
            np.concatenate([cost, cost]),
            sp.hstack([a, -a]).tocsc(),
            np.zeros(a.shape[0]),
            strategy=1,
            presolve=False,  # its first, cold solve is faster without (scale 1: 2.4 -> 1.7 s)
        )
        self.up_max = np.full(self.k, np.inf)
        self.down_max = self.values.copy()
        self._bounds(np.arange(self.k), self.up_max, self.down_max)

    def _cost(self, cols: np.ndarray) -> np.ndarray:
        shown = _complement_cost(self.values[cols], self.rank[cols], self.scale)
        return np.where(self.hidden[cols], 1e-3, shown)

    def _bounds(self, cols: np.ndarray, up: np.ndarray, down: np.ndarray) -> None:
        both = np.concatenate([cols, cols + self.k]).astype(np.int32)
        self.solver.changeColsBounds(
            len(both), both, np.zeros(len(both)), np.concatenate([up, down])
        )

    def solve(self, cell: int, amount: float, hidden: np.ndarray) -> np.ndarray | None:
        """The cheapest move (per cell, up minus down) with ``cell`` up by ``amount``."""
        at = int(self.column[cell])
        if at < 0:
            return None  # a cell that must stay shown does not move
        now = hidden[self.cells]
        changed = np.flatnonzero(now != self.hidden)
        if len(changed):
            self.hidden = now
            cost = self._cost(changed)
            both = np.concatenate([changed, changed + self.k]).astype(np.int32)
            self.solver.changeColsCost(len(both), both, np.concatenate([cost, cost]))
        pair = np.array([at, at + self.k], dtype=np.int32)
        self.solver.changeColsBounds(2, pair, np.array([amount, 0.0]), np.array([amount, 0.0]))
        self.solver.setBasis()  # the logical basis: every cell unmoved (see the class)
        self.solver.run()
        ok = highs.optimal(self.solver)
        x = np.asarray(self.solver.getSolution().col_value) if ok else None
        self._bounds(np.array([at]), self.up_max[[at]], self.down_max[[at]])
        if x is None:
            return None
        move = np.zeros(self.n)
        move[self.cells] = x[: self.k] - x[self.k :]
        return move


class _Suppressor:
    """The state of one protection run: hidden cells, per-equation counts, the attacker."""

    def __init__(
        self,
        system: CellSystem,
        policy: Policy,
        primary: set[int],
        must_hide: set[int],
        must_show: set[int],
    ) -> None:
        self.system = system
        self.policy = policy
        self.n = len(system)
        self.values = system.values.astype(np.int64)
        self.incidence = system.incidence()
        self.nrows = self.incidence.shape[0]
        self.csr = self.incidence
        self.csc = self.incidence.tocsc()
        self.abs_csc = abs(self.csc).astype(np.int64)
        self.abs_csr = abs(self.csr).astype(np.int64)
        self.primary = np.zeros(self.n, dtype=bool)
        self.primary[list(primary)] = True
        self.locked = self.primary.copy()
        self.locked[list(must_hide)] = True
        self.forbidden = np.zeros(self.n, dtype=bool)
        self.forbidden[list(must_show)] = True
        self.hidden = self.locked.copy()
        self.rank = np.zeros(self.n, dtype=np.int64)
        self.proven = np.zeros(self.n, dtype=bool)
        self.fresh_rows = np.zeros(0, dtype=np.int64)
        self.settled: np.ndarray | None = None
        self.hold = np.zeros(self.n, dtype=bool)  # see `protect`'s ``hold``
        self.pending: Future | None = None  # `_settled`'s answer, while it is worked out
        self.early: Future | None = None  # the cells `_settled` will leave open, known sooner
        self.unchecked = np.zeros(self.n, dtype=bool)
        self.hidden_per_row = self.abs_csr @ self.hidden.astype(np.int64)
        # per cell: how many of its equations hold no hidden cell (hiding it makes one lone)
        self.empty_rows_of = self.abs_csc.T @ (self.hidden_per_row == 0).astype(np.int64)
        self.reason: dict[int, str] = {
            c: "hidden in an earlier release" for c in must_hide if c not in primary
        }
        self.stats = {"local": 0, "attack": 0, "unhidden": 0, "attack_rounds": 0}
        self.supports: dict[int, tuple[np.ndarray, ...]] = {}
        self.points: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # see `Attacker.points`
        self.move_lp: _MoveLP | None = None
        self.need_upper = float(policy.min_upper_bound)
        self.need_width = float(policy.min_interval_width)
        self._short_rows: dict[int, tuple[list[int], list[float]] | None] = {}

    # -- bookkeeping -----------------------------------------------------------------------

    def witnesses(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The points behind the hidden cells' current supports, each once (see `Protection`)."""
        out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for cell, support in self.supports.items():
            if not self.hidden[cell]:
                continue
            for piece in support:
                point = self.points.get(id(piece))
                if point is not None:
                    out[id(piece)] = point
        return [(cells, np.round(values).astype(np.int64)) for cells, values in out.values()]

    def row(self, r: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.csr.indptr[r], self.csr.indptr[r + 1]
        return self.csr.indices[lo:hi], self.csr.data[lo:hi]

    def rows_of(self, c: int) -> np.ndarray:
        return self.csc.indices[self.csc.indptr[c] : self.csc.indptr[c + 1]]

    def set_hidden(self, c: int, hidden: bool) -> None:
        if self.hidden[c] == hidden:
            return
        self.hidden[c] = hidden
        rows = self.rows_of(c)
        before_empty = self.hidden_per_row[rows] == 0
        self.hidden_per_row[rows] += 1 if hidden else -1
        after_empty = self.hidden_per_row[rows] == 0
        for r, now_empty in zip(
            rows[before_empty != after_empty].tolist(),
            after_empty[before_empty != after_empty].tolist(),
            strict=True,
        ):
            cells, _ = self.row(r)
            self.empty_rows_of[cells] += 1 if now_empty else -1

    def pin_determined(self) -> None:
        """Forbid hiding cells that the cells which must stay shown determine exactly.

        An equation whose other cells must all stay shown gives its last cell away, so hiding
        that cell protects nothing; with it forbidden, complements are looked for elsewhere
        (e.g. a one-school district whose district row was released before). A cell that must
        be hidden and is determined so cannot be protected at all: `ProtectionError`.
        """
        bad: list[int] = []
        while True:
            open_per_row = self.abs_csr @ (~self.forbidden).astype(np.int64)
            rows = np.flatnonzero(open_per_row == 1)
            pinned = set()
            for r in rows.tolist():
                cells, _ = self.row(r)
                pinned.add(int(cells[~self.forbidden[cells]][0]))
            if not pinned:
                break
            bad += [c for c in sorted(pinned) if self.locked[c] and not self.unchecked[c]]
            self.forbidden[sorted(pinned)] = True
        if bad:
            keys = [self.system.keys[c] for c in bad]
            raise ProtectionError(
                f"{len(bad)} cell(s) that must be hidden are given away by cells that must "
                f"stay shown (earlier releases), e.g. {keys[:10]}",
                keys,
            )

    def _minimum(self, **kwargs: object) -> Minimum:
        """`minimum_complements` on this system, with its equations and complement ranks."""
        return minimum_complements(
            self.system, self.policy, incidence=self.incidence, rank=self.rank, **kwargs
        )

    def choose_exactly(self) -> bool:
        """Hide the fewest (then smallest) complements that protect everything, chosen by
        exact integer programming over the whole system (`minimum_complements`, every cell
        not yet hidden nor forbidden a candidate), where the system is small enough:
        at most `_EXACT_FIRST_MAX_CANDIDATES` candidates and `_EXACT_FIRST_MAX_JUDGED` cells
        to judge (small ones, and those hidden before that must not be given away), in two
        sums or more (one sum is attacked in closed form, cheaper than an LP per pattern:
        a custom table of 600 schools' races took 0.93 s instead of 0.35 s). True if
        it did; False (nothing changed) where the system is larger or the search ran out of
        work: the greedy passes and minimising then run as before.

        A proven minimum holds no complement that the attacker recovers exactly (showing it
        would cost nothing), and the attack that follows proves every hidden cell. Scale-1
        release, 2023-24: on the 883 parts under 2,000 cells, 11,656 cells hidden instead of
        11,878 (the greedy passes, then minimising); 823 parts at a proven minimum.
        """
        candidates = np.flatnonzero(~self.hidden & ~self.forbidden)
        primary = np.flatnonzero(self.primary)
        guarded = np.flatnonzero(self.hidden & ~self.primary & ~self.unchecked)
        judged = len(primary) + len(guarded)
        if (
            not judged
            or self.nrows < 2  # one sum: attacked in closed form, greedy then re-chosen
            or len(candidates) > _EXACT_FIRST_MAX_CANDIDATES
            or judged > _EXACT_FIRST_MAX_JUDGED
        ):
            return False
        found = self._minimum(
            primary=primary,
            fixed_hidden=np.flatnonzero(self.hidden),
            candidates=candidates,
            max_rounds=_EXACT_FIRST_MAX_ROUNDS,
            max_attacks=_EXACT_FIRST_MAX_ATTACKS,
            guarded=guarded,
            max_branches=_EXACT_FIRST_MAX_BRANCHES,
        )
        best = found.pattern
        if best is None:
            return False
        judged_mask = np.zeros(self.n, dtype=bool)
        judged_mask[primary] = judged_mask[guarded] = True
        for c in best:
            near = self._cells_of_rows(self.rows_of(c))
            near = near[judged_mask[near]]
            if len(near):  # named after a cell it shares an equation with, as the greedy does
                self.hide_complement(c, int(near[0]))
            else:
                self.set_hidden(c, True)
                self.reason[c] = "complementary suppression (exact minimum)"
        self.stats["exact_first"] = len(best)
        self._settle_by(found.points)
        return True

    def _settle_by(self, points: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
        """Settle the hidden cells (not `unchecked`) that ``points`` prove to pass.

        The points of the kept LP's passing verdict on the pattern now hidden (`Minimum`):
        each judged cell's interval, and the complements they move (moved one way, a cell's
        interval is at least 1 wide). Believed only if every one of them is a feasible integer
        point under the hidden pattern (`checked_witnesses`, in exact integer arithmetic);
        the attack that follows then proves only the cells they leave open (scale-1 release:
        the final attack of most small parts), and the points are the settled cells' support
        (`witnesses`), which the release's own audit checks again.
        """
        if not points:
            return
        passing, valid = proven_by_points(
            self.system, np.flatnonzero(self.hidden), points, self.primary, self.policy
        )
        if valid != len(points):
            return  # one point is not what it claims: trust none of them
        proven = np.flatnonzero(passing & self.hidden & ~self.unchecked)
        if not len(proven):
            return
        settled = np.zeros(self.n, dtype=bool) if self.settled is None else self.settled.copy()
        settled[proven] = True
        self.settled = settled
        pieces = tuple(moved for moved, _ in points)
        for moved, values in points:
            self.points[id(moved)] = (moved, values)
        for cell in proven.tolist():
            self.supports[cell] = pieces
        self.stats["settled_at_minimum"] = len(proven)

    def hide_complement(self, c: int, target: int) -> None:
        self.set_hidden(c, True)
        self.reason[c] = f"complementary suppression protecting {self.system.keys[target]!r}"

    # -- pass 1: local rules ---------------------------------------------------------------

    def local_rules(self, rows: Iterable[int]) -> list[int]:
        """Apply the local rules to ``rows`` (and rows they touch); return the cells added."""
        queue = [int(r) for r in rows if self.hidden_per_row[r] > 0]
        queued = set(queue)
        # a row's need depends only on its own cells: rows found without one at the start
        # are skipped until a cell of theirs is hidden (the same rows, in the same order, as
        # checking each one; most rows need nothing)
        check = np.zeros(self.nrows, dtype=bool)
        if len(queue) >= _SCREEN_MIN_ROWS:
            check[queue] = self._may_need(np.asarray(queue, dtype=np.int64))
        else:  # the screen costs about 0.1 ms, a close look a few microseconds per row
            check[queue] = True
        added: list[int] = []
        while queue:
            r = queue.pop()
            queued.discard(r)
            if not check[r]:
                continue
            need = self._local_need(r)
            if need is None:
                check[r] = False
                continue
            target, deficit = need
            c = self.choose(r, target, deficit)
            if c is None:
                continue
            self.hide_complement(c, target)
            self.stats["local"] += 1
            added.append(c)
            for r2 in [r, *self.rows_of(c).tolist()]:
                check[r2] = True
                if r2 not in queued:
                    queued.add(r2)
                    queue.append(r2)
        return added

    def _may_need(self, rows: np.ndarray) -> np.ndarray:
        """Per row of ``rows``: False only where `_local_need` finds nothing (vectorised)."""
        if not len(rows):
            return np.zeros(0, dtype=bool)
        sub = self.csr[rows]
        cells, coefs = sub.indices, sub.data
        starts = sub.indptr[:-1]
        hid = self.hidden[cells]
        checked = hid & ~self.unchecked[cells]
        values = self.values[cells]
        child = hid & (coefs < 0)
        count = np.add.reduceat(hid.astype(np.int64), starts)
        n_checked = np.add.reduceat(checked.astype(np.int64), starts)
        hidden_sum = np.add.reduceat(np.where(hid, values, 0), starts)
        parent_hidden = np.add.reduceat((hid & (coefs > 0)).astype(np.int64), starts) > 0
        children_sum = np.add.reduceat(np.where(child, values, 0), starts)
        small = child & self.primary[cells]
        row_of = np.repeat(np.arange(len(rows)), np.diff(sub.indptr))
        room = children_sum[row_of] - values
        needed = np.maximum(
            np.maximum(int(self.need_upper) - values, int(self.need_width) - values), 1
        )
        short = np.add.reduceat((small & (room < needed)).astype(np.int64), starts) > 0
        lone = (count == 1) & (n_checked > 0)
        zeros = (count > 1) & (hidden_sum == 0) & (n_checked > 0)
        cramped = (count > 1) & (hidden_sum > 0) & ~parent_hidden & short
        return lone | zeros | cramped

    def _short_row(self, r: int) -> tuple[list[int], list[float]] | None:
        """Equation ``r``'s (cells, coefficients) as lists if it holds at most `_SHORT_ROW`
        cells (kept: the equations never change), else None."""
        found = self._short_rows.get(r, False)
        if found is False:
            cells, coefs = self.row(r)
            found = (cells.tolist(), coefs.tolist()) if len(cells) <= _SHORT_ROW else None
            self._short_rows[r] = found
        return found

    def _local_need(self, r: int) -> tuple[int, int] | None:
        """(cell to protect, room it needs) if equation ``r`` breaks a local rule."""
        short_row = self._short_row(r)
        if short_row is not None:
            return self._short_local_need(*short_row)
        cells, coefs = self.row(r)
        hid = self.hidden[cells]
        count = int(hid.sum())
        if count == 0:
            return None
        hidden_cells = cells[hid]
        checked = hidden_cells[~self.unchecked[hidden_cells]]
        if count == 1:
            if not len(checked):
                return None
            target = int(hidden_cells[0])
            return target, self._room_needed(target)
        if not self.values[hidden_cells].any():
            return (int(checked[0]), 1) if len(checked) else None
        parent = int(cells[coefs > 0][0])
        if self.hidden[parent]:
            return None
        children = cells[(coefs < 0) & hid]
        small = children[self.primary[children]]
        if not len(small):
            return None
        v = self.values[small]
        room = int(self.values[children].sum()) - v
        needed = np.maximum(np.maximum(int(self.need_upper) - v, int(self.need_width) - v), 1)
        short = np.flatnonzero(room < needed)
        if not len(short):
            return None
        j = int(short[0])
        return int(small[j]), int(needed[j] - room[j])

    def _short_local_need(self, cells: list[int], coefs: list[float]) -> tuple[int, int] | None:
        """`_local_need` of a short equation, cell by cell (the same answer: numpy's cost per
        call outweighs its work on a few cells)."""
        hidden = self.hidden
        hidden_cells = [c for c in cells if hidden[c]]
        if not hidden_cells:
            return None
        unchecked = self.unchecked
        checked = [c for c in hidden_cells if not unchecked[c]]
        if len(hidden_cells) == 1:
            if not checked:
                return None
            return hidden_cells[0], self._room_needed(hidden_cells[0])
        values = self.values
        if not any(values[c] for c in hidden_cells):
            return (checked[0], 1) if checked else None
        parent = [c for c, a in zip(cells, coefs, strict=True) if a > 0][0]
        if hidden[parent]:
            return None
        children = [c for c, a in zip(cells, coefs, strict=True) if a < 0 and hidden[c]]
        primary = self.primary
        small = [c for c in children if primary[c]]
        if not small:
            return None
        total = sum(int(values[c]) for c in children)
        need_upper, need_width = int(self.need_upper), int(self.need_width)
        for c in small:
            v = int(values[c])
            needed = max(need_upper - v, need_width - v, 1)
            if total - v < needed:
                return c, needed - (total - v)
        return None

    def _room_needed(self, cell: int) -> int:
        if not self.primary[cell]:
            return 1
        v = int(self.values[cell])
        return max(int(self.need_upper) - v, int(self.need_width) - v, 1)

    def choose(self, r: int, target: int, deficit: float) -> int | None:
        """The complement to hide in equation ``r`` for ``target`` needing ``deficit`` room."""
        short_row = self._short_row(r)
        if short_row is not None:
            return self._short_choose(r, *short_row, target, deficit)
        cells, coefs = self.row(r)
        ok = ~self.hidden[cells] & ~self.forbidden[cells]
        target_coef = coefs[cells == target][0] if target in cells else -1
        # a cell on the target's side gives room up to its value; the other side is unbounded
        room_all = np.where(coefs == target_coef, self.values[cells], np.inf)
        if self.primary[target] or self.values[target] == 0:
            # the target must be able to go up: a zero beside it cannot go down to make room
            ok &= room_all > 0
        if not ok.any():
            return None
        cand = cells[ok]
        v = self.values[cand].astype(np.float64)
        room = room_all[ok]
        adequate = room >= deficit
        order = np.lexsort(
            (
                np.where(adequate, v, -v),
                ~adequate,
                self.empty_rows_of[cand] - (self.hidden_per_row[r] == 0),
                self.rank[cand],
                v == 0,
            )
        )
        return int(cand[order[0]])

    def _short_choose(
        self, r: int, cells: list[int], coefs: list[float], target: int, deficit: float
    ) -> int | None:
        """`choose` in a short equation, cell by cell (the same cell: the least by the same
        keys, the first of equals)."""
        hidden, forbidden, values = self.hidden, self.forbidden, self.values
        rank, empty_rows_of = self.rank, self.empty_rows_of
        target_coef = coefs[cells.index(target)] if target in cells else -1
        must_rise = bool(self.primary[target] or values[target] == 0)
        row_empty = int(self.hidden_per_row[r] == 0)
        best, best_key = None, None
        for c, a in zip(cells, coefs, strict=True):
            if hidden[c] or forbidden[c]:
                continue
            room = float(values[c]) if a == target_coef else math.inf
            if must_rise and not room > 0:
                continue
            v = float(values[c])
            adequate = room >= deficit
            key = (
                v == 0,
                rank[c],
                empty_rows_of[c] - row_empty,
                not adequate,
                v if adequate else -v,
            )
            if best_key is None or key < best_key:
                best, best_key = c, key
        return best

    # -- pass 2: the attacker --------------------------------------------------------------

    def _needs(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return criterion(self.primary[cells], self.policy)

    def _passes(self, cells: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
        need_upper, need_width = self._needs(cells)
        return (upper >= need_upper) & (upper - lower >= need_width)

    def attack_until_safe(self, cells: np.ndarray | None = None) -> None:
        """Attack hidden cells; add complements for each violation until none is left.

        cells: the hidden cells whose proof is not known to hold (default: every hidden cell
        not settled by an earlier release's proof, see `_settled`).
        """
        chosen = np.ones(self.n, dtype=bool)
        if cells is not None:
            chosen[:] = False
            chosen[cells] = True
        pending, self.pending = self.pending, None
        early, self.early = self.early, None
        if self.settled is None:
            self._set_settled(self._settled(self.hidden))
        to_check = np.flatnonzero(self.hidden & ~self.unchecked & ~self.settled & chosen)
        later = False
        attacked = np.zeros(self.n, dtype=bool)  # earlier cells taken on before `pending` is read
        while len(to_check) or pending is not None:
            if not len(to_check):
                if early is not None:
                    to_check, early = self._early_open(early, chosen, attacked), None
                else:
                    to_check, pending = self._still_open(pending, chosen, attacked), None
                continue
            self.stats["attack_rounds"] += 1
            # the earlier cells the re-proof is sure to leave open ride along as targets of the
            # shared points (no LPs of their own): most pass here, on a pattern that later
            # rounds only add to; the others are attacked in full in the next round
            riding = _NO_CELLS if early is None else self._early_open(early, chosen, attacked)
            riding = riding[~np.isin(riding, to_check)]
            both = np.concatenate([to_check, riding])
            attacker = Attacker(self.system, np.flatnonzero(self.hidden), self.incidence)
            if not later and self.hold.any():
                attacker.hold = self.hold  # the first round, where most cells are proven
            need_upper, need_width = self._needs(both)
            lower, upper, _ = attacker.bounds(
                both,
                need_upper=need_upper,
                need_width=need_width,
                shared_only=np.arange(len(both)) >= len(to_check) if len(riding) else None,
            )
            # hiding more keeps every proving point feasible: supports stay valid
            self.supports.update(attacker.supports)
            self.points.update(attacker.points)
            passes = self._passes(both, lower, upper)
            failing = ~passes[: len(to_check)]
            lower, upper = lower[: len(to_check)], upper[: len(to_check)]
            unsettled = _NO_CELLS
            if early is not None:
                passed = passes[len(to_check) :]
                self.stats["rode_along"] = int(passed.sum())
                unsettled, early = riding[~passed], None  # attacked in full next
            elif pending is not None:
                unsettled, pending = self._still_open(pending, chosen, attacked), None
            if not failing.any():
                to_check = unsettled  # attacked as they would have been in the first round
                continue
            added: list[int] = []
            moved_already: list[tuple[int, float]] = []
            # how far up and down the integer moves of this round's LPs take each cell: each
            # is a feasible point once the shown cells it moves are hidden (they are, below),
            # so a failing cell that they already take far enough needs no LP of its own (it
            # is attacked again next round, as every failing cell is)
            went_up, went_down = np.zeros(self.n), np.zeros(self.n)
            for cell, lo, hi in zip(
                to_check[failing].tolist(), lower[failing], upper[failing], strict=True
            ):
                if self.primary[cell]:
                    deficit = max(self.need_upper - hi, self.need_width - (hi - lo), 1.0)
                    reach = max(self.need_upper, lo + self.need_width)
                else:
                    deficit, reach = 1.0, self.values[cell] + 1.0
                value = self.values[cell]
                low, high = min(lo, value + went_down[cell]), max(hi, value + went_up[cell])
                if later and self._passes(np.array([cell]), np.array([low]), np.array([high]))[0]:
                    self.stats["moved_along"] = self.stats.get("moved_along", 0) + 1
                    moved_already.append((cell, deficit))  # a complement only as below
                    continue
                # after the first round (cells failing again, or complements that fail in
                # turn): one LP for the whole move a cell needs, instead of a chain of rounds
                move, step = self._move_for(cell, reach - value) if later else (None, None)
                if step is not None:
                    np.maximum(went_up, step, out=went_up)
                    np.minimum(went_down, step, out=went_down)
                if move is None:
                    move = self._complements_for(cell, deficit)
                elif not move:
                    # the LP's move needs no shown cell (cells hidden for others this round
                    # may be enough): attacked again first, a complement only if nothing else
                    # changes
                    moved_already.append((cell, deficit))
                added += self._hide_for(cell, move)
            if not added:
                for cell, deficit in moved_already:
                    added += self._hide_for(cell, self._complements_for(cell, deficit))
            if not added:
                bad = to_check[failing]
                keys = [self.system.keys[c] for c in bad.tolist()]
                raise ProtectionError(
                    f"{len(bad)} hidden cell(s) cannot be protected: every cell that could "
                    f"hide them is already hidden or must stay shown (earlier releases), "
                    f"e.g. {keys[:10]}",
                    keys,
                )
            later = True
            rows = np.unique(np.concatenate([self.rows_of(c) for c in added]))
            added += self.local_rules(rows.tolist())
            to_check = np.unique(np.concatenate([to_check[failing], np.array(added), unsettled]))
            to_check = to_check[~self.unchecked[to_check]]

    def start_settling(self) -> None:
        """Start the re-proof of the earlier cells (`_settled`) beside the work that follows.

        Its answer does not depend on which new cells end up hidden: every new cell sits in
        fresh equations only, so it is held fixed by `_proven_apart` whether hidden or not,
        and joins no component of earlier cells that holds no hidden cell of a fresh equation
        itself. It can therefore start before the local rules choose the first complements.
        The cells it is sure to leave open (``early``) are read before the first attack round;
        its answer, after it: until then the other earlier cells count as settled. (A refusal
        raised later, in the first attack round, leaves it to finish unread.)
        """
        if self.proven.any() and len(self.fresh_rows):
            self.early = Future()
            self.pending = parallel.beside(self._settled, self.hidden.copy(), self.early)
            self.settled = self.proven.copy()

    def _early_open(self, early: Future, chosen: np.ndarray, attacked: np.ndarray) -> np.ndarray:
        """The earlier cells the re-proof is sure to leave open (``early``, see `_proven_apart`),
        known long before its answer; marked in ``attacked``, as the rounds take them on while
        it goes on (riding along as targets of shared points, then in full if still open).

        A cell proven before the re-proof ends is proven on a pattern that the rounds after
        only add to, so its proof holds as if it had been attacked after.
        """
        cells = early.result()
        cells = cells[self.hidden[cells] & ~self.unchecked[cells] & chosen[cells]]
        attacked[cells] = True
        return cells

    def _still_open(self, pending: Future, chosen: np.ndarray, attacked: np.ndarray) -> np.ndarray:
        """The re-proof's answer (``pending``, waited for): the cells it leaves open that are
        not in ``attacked`` already."""
        cells = self._set_settled(pending.result(), chosen)
        return cells[~attacked[cells]]

    def _set_settled(self, settled: np.ndarray, chosen: np.ndarray | None = None) -> np.ndarray:
        """Keep `_settled`'s answer; return the proven cells (among ``chosen``) it leaves open."""
        self.settled = settled
        self.stats["settled"] = int(settled.sum())
        left = self.proven & ~settled & self.hidden & ~self.unchecked
        if chosen is not None:
            left &= chosen
        return np.flatnonzero(left)

    def _settled(self, hidden: np.ndarray, early: Future | None = None) -> np.ndarray:
        """Proven cells whose component holds no hidden cell of a fresh equation.

        hidden: the first hidden pattern, before the local rules (a copy: this may run beside
        them and the first attack round, see `start_settling`). Computed once, on that
        pattern: later complements are new cells, which sit in fresh equations only, so they
        never join a settled component; showing a complement again only returns towards the
        pattern the proof was made on. Reads nothing else that changes.
        early: given the proven cells left open for certain as soon as they are known, long
            before the answer (see `_proven_apart`); always given something by the end.
        """
        early = Future() if early is None else early
        try:
            settled = self.proven.copy()
            if not settled.any():
                return settled
            if len(self.fresh_rows):
                lo, hi = self.csr.indptr[self.fresh_rows], self.csr.indptr[self.fresh_rows + 1]
                cells = np.unique(
                    np.concatenate([self.csr.indices[a:b] for a, b in zip(lo, hi, strict=True)])
                )
                cells = cells[hidden[cells]]
                if len(cells):
                    labels = Attacker(self.system, np.flatnonzero(hidden), self.incidence)
                    labels = labels.components()
                    settled &= ~np.isin(labels, labels[cells])
                    settled |= self._proven_apart(cells, hidden, early)
            return settled
        finally:
            if not early.done():
                early.set_result(_NO_CELLS)

    def _proven_apart(
        self, touched: np.ndarray, hidden: np.ndarray, early: Future | None = None
    ) -> np.ndarray:
        """Proven cells that still pass with every hidden cell of a fresh equation held fixed.

        touched: the hidden cells of the fresh equations (of the ``hidden`` pattern). A point
        that moves none of them satisfies every fresh equation as the truth does, and every
        other one as before, so it proves bounds against the new release too (and against any
        larger hidden pattern). Holding those cells fixed also splits the large components that
        they tie together, so these attacks are cheap; a cell that fails here is attacked in
        full.
        early: given, before any LP, the cells certain not to be settled here: the proven
            ``touched`` cells, and those whose outer bounds with ``touched`` held already fail
            (the attack rounds take them on at once, see `attack_until_safe`).
        """
        apart = hidden.copy()
        apart[touched] = False
        cells = np.flatnonzero(self.proven & apart & ~self.unchecked)
        found = np.zeros(self.n, dtype=bool)
        held = touched[self.proven[touched]]  # never settled here
        if not len(cells):
            if early is not None:
                early.set_result(held)
            return found
        attacker = Attacker(self.system, np.flatnonzero(apart), self.incidence)
        if early is not None:
            # cells whose outer bounds (cheap) already fail here cannot pass apart: with the
            # held cells, the attack rounds may take them on at once, beside the LPs below
            lo, hi = attacker.outer_bounds()
            fails = ~self._passes(cells, lo[cells], hi[cells])
            early.set_result(np.union1d(held, cells[fails]))
        # nearly every such cell passes, most in the first rounds of shared points: a round
        # that decides under a tenth of what is left ends its phase (neighbourhoods, then whole
        # components; what the last phase leaves goes to per-cell LPs)
        attacker.aggregate_gain = _REPROOF_GAIN
        need_upper, need_width = self._needs(cells)
        lower, upper, _ = attacker.bounds(
            cells, need_upper=need_upper, need_width=need_width, keep_supports=False
        )
        found[cells[self._passes(cells, lower, upper)]] = True
        return found

    def _move_for(self, cell: int, amount: float) -> tuple[list[int] | None, np.ndarray | None]:
        """(Shown cells to hide so that hidden ``cell`` can move up by ``amount``, the move).

        The cheapest move of the cell by ``amount`` that keeps every equation (`_MoveLP`):
        hidden cells move freely (down to zero), shown cells at a cost per unit moved (their
        rank, then their size), cells that must stay shown not at all. The shown cells it
        needs, hidden with the cell, close the cycles the attacker could follow to move it as
        far as the criterion asks: hiding them at once replaces a complement per attack round.
        (None, None) when no such move exists (or no warm LP solver is at hand).
        The move (per cell, up minus down) is returned only where it is integral: it is then an
        integer point of the system once the cells it moves are hidden, which may already take
        other failing cells of the round far enough.
        """
        if not highs.available():
            return None, None
        if self.move_lp is None:
            self.move_lp = _MoveLP(self)
        move = self.move_lp.solve(cell, amount, self.hidden)
        if move is None:
            return None, None
        shown = np.flatnonzero((np.abs(move) > 1e-7) & ~self.hidden).tolist()
        integral = np.abs(move - np.round(move)).max() <= 1e-6
        return shown, (np.round(move) if integral else None)

    def _hide_for(self, cell: int, complements: list[int]) -> list[int]:
        """Hide ``complements`` for the attack on ``cell``; return them."""
        for c in complements:
            self.hide_complement(c, cell)
            self.stats["attack"] += 1
        return complements

    def _complements_for(self, cell: int, deficit: float) -> list[int]:
        """`_complement_for`, as a list (empty when nothing fits)."""
        c = self._complement_for(cell, deficit)
        return [] if c is None else [c]

    def _complement_for(self, cell: int, deficit: float) -> int | None:
        rows = self.rows_of(cell)
        rooms = [self._row_room(int(r), cell) for r in rows]
        for _, r in sorted(zip(rooms, rows.tolist(), strict=True)):
            c = self.choose(r, cell, deficit)
            if c is not None:
                return c
        # nothing beside the cell: widen ring by ring through the hidden cells tied to it
        # (its component), and take the best candidate of the nearest ring that has one;
        # past _RING_MAX_CELLS, where cells are fixed shown, it counts as unprotectable
        seen = np.zeros(self.n, dtype=bool)
        seen[cell] = True
        ring = np.array([cell], dtype=np.int64)
        # with cells fixed shown by earlier releases a refusal has a way out (the caller frees
        # them or refuses the table); without, the search goes on through the component
        limit = _RING_MAX_CELLS if self.forbidden.any() else math.inf
        reached = 1
        while len(ring) and reached <= limit:
            beside = self._cells_of_rows(self._rows_of_cells(ring))
            ring = beside[self.hidden[beside] & ~seen[beside]]
            seen[ring] = True
            reached += len(ring)
            c = self._ring_candidate(ring) if len(ring) else None
            if c is not None:
                return c
        return None

    def _rows_of_cells(self, cells: np.ndarray) -> np.ndarray:
        lo, hi = self.csc.indptr[cells], self.csc.indptr[cells + 1]
        return np.unique(self.csc.indices[_span(lo, hi)])

    def _cells_of_rows(self, rows: np.ndarray) -> np.ndarray:
        lo, hi = self.csr.indptr[rows], self.csr.indptr[rows + 1]
        return np.unique(self.csr.indices[_span(lo, hi)])

    def _ring_candidate(self, ring: np.ndarray) -> int | None:
        """The best complement in the equations of the hidden ``ring`` cells, or None.

        A nonzero cell can always make room, so the lowest rank then the smallest nonzero
        cell is taken; failing that a zero cell on the other side of an equation from a ring
        cell (it can go up to make room), lowest rank first.
        """
        rows = self._rows_of_cells(ring)
        lo, hi = self.csr.indptr[rows], self.csr.indptr[rows + 1]
        spans = _span(lo, hi)
        cells, coefs = self.csr.indices[spans], self.csr.data[spans]
        open_ = ~self.hidden[cells] & ~self.forbidden[cells]
        nonzero = cells[open_ & (self.values[cells] > 0)]
        if len(nonzero):
            return int(nonzero[np.lexsort((self.values[nonzero], self.rank[nonzero]))[0]])
        row_of = np.repeat(rows, hi - lo)
        in_ring = np.isin(cells, ring)
        ring_parent = np.zeros(self.nrows, dtype=bool)
        ring_child = np.zeros(self.nrows, dtype=bool)
        ring_parent[row_of[in_ring & (coefs > 0)]] = True
        ring_child[row_of[in_ring & (coefs < 0)]] = True
        opposite = np.where(coefs > 0, ring_child[row_of], ring_parent[row_of])
        zeros = cells[open_ & opposite]
        if len(zeros):
            return int(zeros[np.argmin(self.rank[zeros])])
        return None

    def _row_room(self, r: int, cell: int) -> float:
        cells, coefs = self.row(r)
        own = coefs[cells == cell][0]
        other_side = cells[coefs != own]
        if self.hidden[other_side].any():
            return np.inf
        same = cells[(coefs == own) & self.hidden[cells] & (cells != cell)]
        return float(self.values[same].sum())

    # -- pass 3: un-hide -------------------------------------------------------------------

    def unhide_unnecessary(self, deadline: float, keep: np.ndarray | None = None) -> int:
        """Show again complements that the attacker proves unnecessary; return how many.

        keep: per cell, True for complements not to try (a group's proven minimum).

        A cell's bounds were proven by feasible points (``supports``: the cells they move);
        showing a complement that none of them moves cannot change those bounds, so only
        the cells whose points move it are attacked again. Complements are tried in batches
        (group testing): one attack of the cells that any of a batch's complements affects
        shows them all again if every cell still passes; a batch that fails is split in
        halves, down to single complements, so each complement still stays hidden only if
        showing it (with those shown before it) fails. Batches grow while they succeed and
        shrink when they fail: where almost every try succeeds (a custom table) this takes a
        few attacks where one per complement took seconds each, and where almost every try
        fails it costs about one attack per complement, as one by one.
        """
        candidates = np.flatnonzero(self.hidden & ~self.locked)
        if keep is not None:
            candidates = candidates[~keep[candidates]]
        if not len(candidates):
            return 0
        attacker = Attacker(self.system, np.flatnonzero(self.hidden), self.incidence)
        attacker.supports.update(self.supports)
        attacker.outer_bounds()  # each try then narrows these instead of starting afresh
        dependents = _Dependents(self.supports, self.n, only=candidates)
        order = candidates[np.argsort(-self.values[candidates], kind="stable")].tolist()
        budget = _UnhideBudget(
            _UNHIDE_MAX_TRIES, _UNHIDE_MAX_WORK, min(_UNHIDE_FIRST_BATCH, _UNHIDE_BATCH)
        )
        removed = 0
        pos = 0
        while pos < len(order) and budget.tries > 0 and not budget.out:
            if time.perf_counter() > deadline:
                break
            shown, pos = self._show_batch(order, pos, attacker, dependents, budget)
            removed += shown
        for a in attacker.supports:
            if self.hidden[a]:
                self.supports[a] = attacker.supports[a]
        self.points.update(attacker.points)
        return removed

    def _unhide_batch(
        self,
        order: list[int],
        pos: int,
        dependents: _Dependents,
        budget: _UnhideBudget,
        max_cells: float | None = None,
    ) -> tuple[list[int], set[int], int, int]:
        """The next batch of complements to try showing, from ``order[pos:]``.

        Each is shown here (tentatively: `_show_batch` decides) so that the next one's
        structural test and dependents see it shown; one that fails the test with the batch
        shown is passed over, as it would be one by one after the batch (if the batch fails,
        it is tried again). max_cells: a batch stops growing before it affects more cells
        (default `_UNHIDE_BATCH_CELLS`).
        """
        max_cells = _UNHIDE_BATCH_CELLS if max_cells is None else max_cells
        batch: list[int] = []
        affected: set[int] = set()
        tries = budget.tries
        while pos < len(order) and len(batch) < budget.size and budget.tries > 0:
            c = order[pos]
            if not self._structurally_removable(c):
                pos += 1
                continue
            deps = {d for d in dependents.of(c) if d != c and self.hidden[d]}
            if len(deps) > _UNHIDE_MAX_AFFECTED:
                budget.tries -= 1
                pos += 1
                continue
            grown = affected | deps
            if batch and len(grown) > max_cells:
                break  # c starts the next batch
            if len(grown) > budget.work:
                budget.out = True  # out of work: c and what follows stay hidden
                break
            budget.tries -= 1
            pos += 1
            batch.append(c)
            affected = grown
            self.set_hidden(c, False)
        return batch, affected - set(batch), pos, tries - budget.tries

    def _show_batch(
        self,
        order: list[int],
        pos: int,
        attacker: Attacker,
        dependents: _Dependents,
        budget: _UnhideBudget,
        max_cells: float | None = None,
    ) -> tuple[int, int]:
        """Try showing the next batch of ``order[pos:]`` again.

        The batch stays shown if every cell it affects still passes. Otherwise it is hidden
        again and the complements it spans (passed-over ones included) are tried again in
        two halves, each batch by batch, down to single complements. Returns how many stay
        shown, and where in ``order`` the next batch starts.
        """
        batch, affected, end, tries = self._unhide_batch(order, pos, dependents, budget, max_cells)
        if not batch:
            return 0, end
        for c in batch:
            attacker.fix(c)
        cells = np.array(sorted(affected), dtype=np.int64)
        safe = True
        if len(cells):
            budget.work -= len(cells)
            need_upper, need_width = self._needs(cells)
            old = {int(a): attacker.supports.get(int(a)) for a in cells}
            lower, upper, _ = attacker.bounds(
                cells, need_upper=need_upper, need_width=need_width, until_failure=True
            )
            safe = bool(self._passes(cells, lower, upper).all())
            for a, support in old.items():
                if safe:
                    dependents.update(a, attacker.supports[a])
                elif support is not None:
                    # the old proving points are still valid once the batch is hidden again
                    attacker.supports[a] = support
        if safe:
            for c in batch:
                self.reason.pop(c, None)
                self.supports.pop(c, None)
            self.stats["unhidden"] += len(batch)
            budget.size = min(2 * budget.size, _UNHIDE_BATCH)
            return len(batch), end
        for c in reversed(batch):
            attacker.unfix(c)
            self.set_hidden(c, True)
        budget.size = max(1, budget.size // 2)
        if len(batch) == 1:
            return 0, end
        budget.tries += tries  # tried again, not anew
        # the work that stopped this batch growing may still buy its halves; the next batch
        # after them checks the work left again
        budget.out = False
        middle = order.index(batch[len(batch) // 2], pos)
        shown = 0
        for half in (order[pos:middle], order[middle:end]):
            at = 0
            while at < len(half) and budget.tries > 0 and not budget.out:
                kept, at = self._show_batch(half, at, attacker, dependents, budget, math.inf)
                shown += kept
        return shown, end

    def reoptimise_small_components(self, deadline: float) -> tuple[np.ndarray, np.ndarray]:
        """Re-choose the complements of each small component by exact integer programming.

        Candidates are the cells of the equations that touch the component; the complements
        outside it stay as they are. Returns (stale, minimal):
        stale: the hidden cells of the components that got cheaper complements (fewer, or of
            lower rank: see `_cost`): their proving points may have moved a complement now
            shown, so they must be attacked again;
        minimal: per cell, True for the complements of a component now at its proven minimum
            (none of them can be spared: `unhide_unnecessary` leaves them alone).
        """
        hidden_cells = np.flatnonzero(self.hidden)
        stale: list[np.ndarray] = []
        minimal = np.zeros(self.n, dtype=bool)
        if not len(hidden_cells):
            return _NO_CELLS, minimal
        labels = Attacker(self.system, hidden_cells, self.incidence).components()
        tried = 0
        for label in np.unique(labels[hidden_cells]).tolist():
            if time.perf_counter() > deadline or tried >= _EXACT_MAX_COMPONENTS:
                break
            comp = hidden_cells[labels[hidden_cells] == label]
            current = comp[~self.locked[comp]]
            if not len(current):
                continue
            primary = comp[self.primary[comp]]
            # hidden before and not small: it stays hidden, so it must not be given away
            guarded = comp[self.locked[comp] & ~self.primary[comp] & ~self.unchecked[comp]]
            rows = np.unique(np.concatenate([self.rows_of(int(c)) for c in comp]))
            region = np.unique(np.concatenate([self.row(int(r))[0] for r in rows]))
            candidates = region[~self.locked[region] & ~self.forbidden[region]]
            if (
                len(candidates) > _EXACT_MAX_CANDIDATES
                or len(primary) + len(guarded) > _EXACT_MAX_JUDGED
                or len(current) <= 1
            ):
                continue
            tried += 1
            # the group is judged alone: the hidden cells of other groups count as known to
            # the attacker (a stronger attacker than the real one), so a pattern that passes
            # here passes in the whole release too, at the cost of the group's equations
            # instead of the whole part's (scale-1 school level: 45 s -> 5 s per large part)
            found = self._minimum(
                primary=primary,
                fixed_hidden=comp[self.locked[comp]],
                candidates=candidates,
                deadline=None if math.isinf(deadline) else deadline,
                max_rounds=_EXACT_MAX_ROUNDS,
                improve_on=current,
                max_attacks=_EXACT_MAX_ATTACKS,
                guarded=guarded,
            )
            best, proven = found.pattern, found.proven
            if best is None or self._cost(best) >= self._cost(current.tolist()):
                minimal[current] = proven
                continue
            minimal[np.asarray(best, dtype=np.int64)] = proven
            for c in current.tolist():
                self.set_hidden(c, False)
                self.reason.pop(c, None)
                self.supports.pop(c, None)
            for c in best:
                self.hide_complement(c, int(primary[0]) if len(primary) else c)
                self.reason[c] = "complementary suppression (exact minimum for its group)"
            stale.append(np.union1d(comp, np.asarray(best, dtype=np.int64)))
            self.stats["exact_saved"] = self.stats.get("exact_saved", 0) + len(current) - len(best)
        return (np.unique(np.concatenate(stale)) if stale else _NO_CELLS), minimal

    def _cost(self, cells: list[int]) -> tuple[int, int]:
        """What hiding `cells` costs: cells weighted by rank, then their total count."""
        idx = np.asarray(cells, dtype=np.int64)
        return int((1 + self.rank[idx]).sum()), int(self.values[idx].sum())

    def _structurally_removable(self, c: int) -> bool:
        """Cheap necessary test: showing ``c`` must not leave a lone or all-zero equation."""
        for r in self.rows_of(c).tolist():
            cells, _ = self.row(r)
            others = cells[self.hidden[cells] & (cells != c)]
            if len(others) == 1 or (len(others) and not self.values[others].any()):
                return False
        return True
