"""The built-in attacker: the tightest interval integer programming proves for each hidden cell.

The attacker knows every shown value, every additive constraint of the cell system and that
counts are non-negative integers. Nothing else is assumed: a hidden cell whose constraints do
not bound it above gets an infinite upper end. For each hidden cell the auditor solves
``min x_i`` and ``max x_i`` over ``{x integer >= 0 : A x = b}`` (HiGHS through scipy).

How it stays exact and fast on ~100k-cell releases with thousands of hidden cells:

- *Local column generation.* Each bound is first solved on a small neighbourhood ``S`` of the
  cell, every other hidden cell held at its true value (a feasible completion). The LP duals of
  the neighbourhood price every held cell; if none would improve the objective, the local LP
  optimum is the optimum of the LP over the whole system (LP duality), otherwise the improving
  cells join ``S`` and the job is solved again. After a few rounds a job falls back to its whole
  connected component.
- *Integrality.* When that LP optimum is attained at an integer point, it is the integer
  optimum too (the integer optimum can only be lower, and this point is feasible). Otherwise
  the job is solved with MILP: locally, and on the whole component unless the local integer
  optimum already meets the floor of the LP bound.
- Many jobs are solved as one block-diagonal LP, so solver overhead is paid a few times only.
- *Copies merged.* Cells that a one-child sum makes equal are one unknown: `audit` attacks
  each class once on the merged system (`privacy.aliases`); a cell hidden beside a shown twin
  is known exactly.

When a component MILP cannot finish within its time limit the auditor reports the best
*feasible* bound it found, which can only make the interval look narrower than it is: the
conservative side for privacy (such intervals carry ``exact=False``).

>>> from privacy.cells import CellSystem
>>> from privacy.policy import Policy
>>> s = CellSystem()
>>> _ = s.add_sum((("T",), 20), [(("a",), 3), (("b",), 17)])
>>> report = audit(s, {1}, Policy(), exact=True)
>>> report.intervals[1].lower, report.intervals[1].upper
(3, 3)
>>> report.ok
False
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from privacy import gc_pause, highs, parallel
from privacy.aliases import Merged, merge
from privacy.bound_rows import BoundRows
from privacy.cells import CellSystem, distinct, distinct_where, matrix_entries
from privacy.intervals import Interval, Intervals, Violation
from privacy.policy import Policy

_TOL = 1e-7
_NEIGHBOURS_PER_ROW = 5
_MAX_LOCAL_ROUNDS = 12
_COLUMNS_PER_ROUND = 8
_CLOSING_CELLS = 12
_NOTHING = np.zeros(0, dtype=np.int64)
_SMALL_COMPONENT = 60
_PROPAGATION_SWEEPS = 12
_MAX_LOCAL_PAIRS = 4000
_BATCH_PAIRS = 4000
_WARM_MIN_PAIRS = 500
# a kept aggregate model (`_WarmAggregate`) of fewer candidates skips presolve: scale 1,
# 2023-24, the 9 large parts, 3 alternated runs: its solves 0.69-0.74 -> 0.41-0.54 s of CPU,
# those of larger models unchanged, the same statuses
_WARM_PRESOLVE_MIN_CANDIDATES = 200
_MILP_TIME_LIMIT = 30.0
_ROUNDING_MAX_CELLS = 2000  # fractional cells an LP optimum may leave to round by `_rounded_point`
_ROUNDING_RINGS = 2  # rings of cells around them that it may free as well
# ... grown first through equations of at most this many cells (a table's lines), and through
# every equation only where those add none: a long one (a total over every school) frees a
# whole component at once, past `_ROUNDING_MAX_CELLS` (scale 1, 2023-24: every fractional
# shared point of the school graduation part failed to round so and went on to a cold LP;
# grown through short equations all were rounded, that part 6.95 -> 5.45 s of CPU)
_ROUNDING_SHORT_ROW = 4
_ROUNDING_NODES = 200  # branch-and-bound nodes it may spend before the whole MILP decides
# fewer open cells than this go straight to their own LPs (a shared point is worth it from a
# handful of cells on: unhiding re-attacks a few cells at a time, scale-0.1 release 43 s -> 25 s)
_AGGREGATE_MIN_CELLS = 8
# an aggregate LP with a fractional optimum is solved as an integer program from this many
# cells on (below, the cells go to their own LPs)
_AGGREGATE_MILP_MIN_CELLS = 40
_AGGREGATE_ROUNDS = 30
_AGGREGATE_TIME_LIMIT = 5.0
_AGGREGATE_CHUNK = 1500
# after the neighbourhood rounds stall, one round over the open cells' whole components
_AGGREGATE_WHOLE = True
# a round over neighbourhoods that decides fewer than 1/this of its cells ends their phase (the
# whole components' rounds, from a kept model, decide the rest sooner, going on while they
# decide any: see `Attacker._aggregate_witnesses`; scale 1, 2023-24, 1/50 -> 1/15, the 9 large
# parts in one process, 3 side-by-side pairs, each faster, about 5% less CPU; the same statuses)
_AGGREGATE_GAIN = 15
# the first rounds of shared points over neighbourhoods that keep `Attacker.hold` at its true
# values: enough for most cells (scale 1, 2023-24: 16,600 of assessment's district cells then
# need no new proof at the school level), while the later rounds, unrestricted, decide the
# rest as cheaply as before (every round held: the district level 1.5-2 s slower)
_HOLD_ROUNDS = 4
# an audit of this many cells or more attacks its components in groups side by side
_AUDIT_SPLIT_MIN_CELLS = 2000
# the largest value a proving point may claim for a cell (far above any count): keeps the
# check of its equations exact in 64-bit integers
_MAX_WITNESS_VALUE = 2**40
_AUDIT_GROUPS = 2


@dataclass
class AuditReport:
    """The attacker's result for every hidden cell of a release."""

    intervals: Mapping[int, Interval]  # an `Intervals` table where `audit` made it
    violations: list[Violation]
    components: int
    seconds: float
    policy: Policy = field(repr=False)
    # cells decided by checked proving points (``witnesses``) rather than attacked, and the
    # points that passed the check
    by_witnesses: int = 0
    valid_witnesses: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations

    def narrowest(self, k: int = 10) -> list[Interval]:
        """The ``k`` hidden cells the attacker pins down best (primary cells first on ties)."""
        if isinstance(self.intervals, Intervals):
            return self.intervals.narrowest(k)
        ordered = sorted(
            self.intervals.values(), key=lambda iv: (iv.width, iv.upper, not iv.primary, iv.cell)
        )
        return ordered[:k]


def joined_reports(reports: Sequence[AuditReport], sizes: Sequence[int]) -> AuditReport:
    """The reports of cell systems that share no equation, as one report on those systems side
    by side (`privacy.cells.side_by_side`): the cells of system i numbered after the
    ``sizes`` (cells) of the systems before it. No equation joins them, so the attacker of the
    whole learns of each system exactly what the attacker of that system alone learns: the
    same intervals and violations."""
    if len(reports) != len(sizes) or not reports:
        raise ValueError(f"{len(reports)} report(s) for {len(sizes)} system(s)")
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1])).tolist()
    tables = [r.intervals for r in reports]
    intervals: Mapping[int, Interval]
    if all(isinstance(t, Intervals) for t in tables):
        intervals = Intervals.side_by_side(tables, offsets)  # arrays joined, no object made
    else:
        intervals = {
            c + offset: Interval(
                cell=c + offset,
                key=iv.key,
                lower=iv.lower,
                upper=iv.upper,
                primary=iv.primary,
                exact=iv.exact,
            )
            for table, offset in zip(tables, offsets, strict=True)
            for c, iv in table.items()
        }
    violations = [
        Violation(intervals[v.cell + offset], v.reason)
        for report, offset in zip(reports, offsets, strict=True)
        for v in report.violations
    ]
    return AuditReport(
        intervals=intervals,
        violations=violations,
        components=sum(r.components for r in reports),
        seconds=sum(r.seconds for r in reports),
        policy=reports[0].policy,
        by_witnesses=sum(r.by_witnesses for r in reports),
        valid_witnesses=sum(r.valid_witnesses for r in reports),
    )


@gc_pause.pausing
def audit(
    system: CellSystem,
    hidden: Iterable[int],
    policy: Policy,
    *,
    primary: Iterable[int] | None = None,
    exact: bool = False,
    unchecked: Iterable[int] = frozenset(),
    witnesses: Iterable[tuple[np.ndarray, np.ndarray]] = (),
) -> AuditReport:
    """Attack a release: the integer interval of every hidden cell, and every violation.

    exact: solve every bound to optimality. By default (False) a bound search stops as soon as
        feasible integer points prove that the cell meets the criterion: its interval is then
        one the attacker provably cannot narrow below (``Interval.exact`` is False, the true
        interval contains it). Violations are always decided exactly.

    hidden: cells not shown; every other cell's value is known to the attacker.
    unchecked: hidden cells never published whose exact recovery is no disclosure (slack of a
        public bound, latent remainder): not attacked unless primary.
    primary: cells hidden as small, which must meet the protection criterion (width at least
        ``policy.min_interval_width`` and upper end at least ``policy.min_upper_bound``);
        default: hidden cells that the policy calls small. Every hidden cell, primary or not,
        must not be exactly recoverable.
    witnesses: candidate proofs, e.g. the points a protection found (`Protection.witnesses`),
        each as (cells, integer values). Trusted only after checking: a point is a proof only
        if it moves hidden cells alone, keeps them non-negative integers and satisfies every
        equation (`checked_witnesses`); it then counts for every cell it moves, as a point the
        attacker found would. The cells such points decide are not attacked again (their
        intervals are inner ones, as without ``exact``); the others are attacked as usual.
        Ignored with ``exact``.
    """
    started = time.perf_counter()
    hidden_set = {int(h) for h in hidden}
    _check_cells(system, hidden_set, "hidden")
    if primary is None:
        small = policy.small(system.values)
        primary_set = {h for h in hidden_set if small[h]}
    else:
        primary_set = {int(p) for p in primary}
        _check_cells(system, primary_set, "primary")
        missing = primary_set - hidden_set
        if missing:
            keys = [system.keys[c] for c in sorted(missing)[:5]]
            raise ValueError(f"{len(missing)} primary cell(s) are not hidden, e.g. {keys}")
    skip = {int(u) for u in unchecked} - primary_set
    hidden_cells = np.array(sorted(hidden_set), dtype=np.int64)
    cells = np.array(sorted(hidden_set - skip), dtype=np.int64)
    is_primary = np.isin(cells, np.fromiter(primary_set, dtype=np.int64, count=len(primary_set)))
    need_upper, need_width = criterion(is_primary, policy)
    lower, upper = np.zeros(len(cells)), np.zeros(len(cells))
    is_exact = np.zeros(len(cells), dtype=bool)
    proven = np.zeros(len(cells), dtype=bool)
    valid = 0
    if not exact:
        wit_lo, wit_hi, valid = checked_witnesses(system, hidden_cells, witnesses)
        lo, hi = wit_lo[cells], wit_hi[cells]
        proven = (hi >= need_upper) & (hi - lo >= need_width)
        lower[proven], upper[proven] = lo[proven], hi[proven]
    left = np.flatnonzero(~proven)  # what the checked points leave to the attacker
    merged = merge(system) if len(left) else None
    if merged is None:
        attack = _attack_cells(
            system, hidden_cells, cells[left], need_upper[left], need_width[left], exact
        )
    else:
        attack = _attack_merged(
            merged, hidden_cells, cells[left], need_upper[left], need_width[left], exact
        )
    lower[left], upper[left], is_exact[left] = attack.lower, attack.upper, attack.exact
    intervals = Intervals(
        cells,
        [system.keys[c] for c in cells.tolist()],
        lower,
        upper,
        is_primary,
        is_exact,
    )
    violations = intervals.violations(policy)
    return AuditReport(
        intervals=intervals,
        violations=violations,
        components=attack.components,
        seconds=time.perf_counter() - started,
        policy=policy,
        by_witnesses=int(proven.sum()),
        valid_witnesses=valid,
    )


@dataclass(frozen=True)
class _CellAttack:
    """`_attack_cells`' answer: per attacked cell its bounds and whether they are exact."""

    lower: np.ndarray
    upper: np.ndarray
    exact: np.ndarray
    components: int


def _attack_cells(
    system: CellSystem,
    hidden_cells: np.ndarray,
    cells: np.ndarray,
    need_upper: np.ndarray,
    need_width: np.ndarray,
    exact: bool,
) -> _CellAttack:
    """`audit`'s attack: bounds of `cells` (sorted, among `hidden_cells`), each searched until
    it reaches `need_upper` and `need_width` (to optimality if `exact`)."""
    attacker = Attacker(system, hidden_cells)
    lower, upper = np.zeros(len(cells)), np.zeros(len(cells))
    is_exact = np.zeros(len(cells), dtype=bool)
    # independent components attacked in halves side by side, each by an attacker of its own
    # (cells of other components are constants to a component's equations: the same bounds)
    halves = _halves(attacker.components(), hidden_cells, cells)

    def attack(half: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, ...]:
        own_hidden, own = half
        own_attacker = attacker if len(halves) == 1 else Attacker(system, own_hidden)
        if exact:
            return own_attacker.bounds(cells[own], keep_supports=False)
        return own_attacker.bounds(
            cells[own],
            need_upper=need_upper[own],
            need_width=need_width[own],
            keep_supports=False,
        )

    if len(cells):
        for (_, own), found in zip(halves, parallel.in_threads(attack, halves), strict=True):
            lower[own], upper[own], is_exact[own] = found
    return _CellAttack(lower, upper, is_exact, attacker.component_count())


def _attack_merged(
    merged: Merged,
    hidden_cells: np.ndarray,
    cells: np.ndarray,
    need_upper: np.ndarray,
    need_width: np.ndarray,
    exact: bool,
) -> _CellAttack:
    """`_attack_cells` on the classes of equal cells (`privacy.aliases`), per original cell.

    A class is hidden when all its members are: a member hidden beside a shown one is known
    exactly (its interval is its value). Each hidden class is attacked once, for the most any
    of its members needs.
    """
    n_classes = len(merged.system)
    known = np.ones(len(merged.cell_of), dtype=bool)
    known[hidden_cells] = False
    hidden_class = np.ones(n_classes, dtype=bool)
    hidden_class[merged.cell_of[known]] = False
    of = merged.cell_of[cells]
    open_ = hidden_class[of]
    targets = np.unique(of[open_])
    class_upper = np.full(n_classes, -np.inf)
    class_width = np.zeros(n_classes)
    np.maximum.at(class_upper, of[open_], need_upper[open_])
    np.maximum.at(class_width, of[open_], need_width[open_])
    found = _attack_cells(
        merged.system,
        np.flatnonzero(hidden_class),
        targets,
        class_upper[targets],
        class_width[targets],
        exact,
    )
    value = merged.system.values[of].astype(np.float64)
    lower, upper = value.copy(), value.copy()
    is_exact = np.ones(len(cells), dtype=bool)
    at = np.searchsorted(targets, of[open_])
    lower[open_], upper[open_], is_exact[open_] = found.lower[at], found.upper[at], found.exact[at]
    return _CellAttack(lower, upper, is_exact, found.components)


def criterion(is_primary: np.ndarray, policy: Policy) -> tuple[np.ndarray, np.ndarray]:
    """(upper end, width) each hidden cell's interval needs: a cell hidden as small (where
    ``is_primary``) the policy's protection criterion; any other hidden cell no upper end and
    a width of 1 (it must not be recovered exactly)."""
    is_primary = np.asarray(is_primary, dtype=bool)
    need_upper = np.where(is_primary, float(policy.min_upper_bound), -np.inf)
    need_width = np.where(is_primary, float(policy.min_interval_width), 1.0)
    return need_upper, need_width


def proven_by_points(
    system: CellSystem,
    hidden: np.ndarray,
    points: Sequence[tuple[np.ndarray, np.ndarray]],
    primary: np.ndarray,
    policy: Policy,
) -> tuple[np.ndarray, int]:
    """(per cell: do valid ``points`` prove it meets its `criterion`?, valid points).

    ``points`` are checked against ``hidden`` (`checked_witnesses`); ``primary``: per cell of
    `system`, whether it is hidden as small. A cell no valid point moves is proven of nothing.
    """
    lo, hi, valid = checked_witnesses(system, hidden, points)
    need_upper, need_width = criterion(primary, policy)
    return (hi >= need_upper) & (hi - lo >= need_width), valid


def checked_witnesses(
    system: CellSystem, hidden: np.ndarray, points: Iterable[tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray, int]:
    """(lowest, highest value each cell takes in a valid point, valid points) over ``points``.

    A point (the cells it moves, their values) is valid, i.e. a feasible integer point of the
    attacker's program and so a proof that each cell it moves can take its value there, if
    every cell it moves is among ``hidden`` (once), every value is a non-negative integer (at
    most ``_MAX_WITNESS_VALUE``), and every equation holds once the moved cells take their
    values (every other cell keeps its true value), in exact integer arithmetic. Invalid points
    are ignored: nothing a point claims is believed unchecked. Cells no valid point moves get
    their true value at both ends.
    """
    n = len(system)
    truth = system.values.astype(np.float64)
    lo, hi = truth.copy(), truth.copy()
    shaped: list[tuple[np.ndarray, np.ndarray]] = []
    for cells, values in points:  # the shape of each claim first, one by one
        cells, values = np.asarray(cells), np.asarray(values)
        # dtype kinds: "i"/"u" integers, "f" floats (a release holds some 100,000 points:
        # `np.issubdtype` four times a point took about a tenth of a second)
        if (
            cells.ndim == 1
            and cells.shape == values.shape
            and len(cells)
            and cells.dtype.kind in "iu"
            and values.dtype.kind in "iuf"
        ):
            shaped.append(
                (cells.astype(np.int64, copy=False), values.astype(np.float64, copy=False))
            )
    if not shaped:
        return lo, hi, 0
    # then every entry of every point at once: entry -> its point
    owner = np.repeat(np.arange(len(shaped)), [len(c) for c, _ in shaped])
    cells = np.concatenate([c for c, _ in shaped])
    values = np.concatenate([v for _, v in shaped])
    is_hidden = np.zeros(n, dtype=bool)
    is_hidden[np.asarray(hidden, dtype=np.int64)] = True
    inside = (cells >= 0) & (cells < n)
    cells = np.where(inside, cells, 0)
    ok_entry = (
        inside
        & is_hidden[cells]
        & np.isfinite(values)
        & (values >= 0)
        & (values <= _MAX_WITNESS_VALUE)
        & (values == np.round(values))
    )
    bad = np.zeros(len(shaped), dtype=bool)
    bad[owner[~ok_entry]] = True
    # a cell twice in one point: one sort of (point, cell) as one number (a scale-1
    # release's checks: 0.14 s by two keys, 0.11 s so)
    pair = np.sort(owner * np.int64(n) + cells)
    bad[pair[1:][pair[1:] == pair[:-1]] // n] = True
    # every equation holds at each remaining point: A (x - x*) = 0, one sparse product in
    # integers (values are capped, so no sum can overflow or lose a unit as floats would)
    keep = ~bad[owner]
    moved = cells[keep]
    # entries run point by point, so the points are the matrix's columns as they stand
    # (built from coordinates, the matrix sorted them again: 0.075 s of the release's
    # checks, 0.007 s so)
    starts = np.concatenate(([0], np.cumsum(np.bincount(owner[keep], minlength=len(shaped)))))
    delta = sp.csc_matrix(
        (
            values[keep].astype(np.int64) - system.values[moved].astype(np.int64),
            moved,
            starts[np.concatenate((np.flatnonzero(~bad), [len(shaped)]))],
        ),
        shape=(n, int((~bad).sum())),
    )
    residual = (system.incidence().astype(np.int64) @ delta).tocoo()
    broken = np.unique(residual.col[residual.data != 0])
    bad[np.flatnonzero(~bad)[broken]] = True
    good = ~bad[owner]
    np.minimum.at(lo, cells[good], values[good])
    np.maximum.at(hi, cells[good], values[good])
    return lo, hi, int((~bad).sum())


def _halves(
    labels: np.ndarray, hidden: np.ndarray, cells: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Whole components in `_AUDIT_GROUPS` groups of about equal hidden cells (largest first):
    per group, its hidden cells and the positions in ``cells`` of the cells it attacks. The
    groups do not depend on the machine, so neither does the report."""
    if len(cells) < _AUDIT_SPLIT_MIN_CELLS:
        return [(hidden, np.arange(len(cells)))]
    comps, sizes = np.unique(labels[hidden], return_counts=True)
    group_of = np.zeros(labels.max() + 1, dtype=np.int64)
    load = np.zeros(_AUDIT_GROUPS, dtype=np.int64)
    for comp, size in sorted(zip(comps.tolist(), sizes.tolist(), strict=True), key=lambda p: -p[1]):
        g = int(np.argmin(load))
        group_of[comp] = g
        load[g] += size
    out = []
    for g in range(_AUDIT_GROUPS):
        own = np.flatnonzero(group_of[labels[cells]] == g)
        if len(own):
            out.append((hidden[group_of[labels[hidden]] == g], own))
    return out


def _check_cells(system: CellSystem, cells: set[int], what: str) -> None:
    n = len(system)  # once: an audit of a release checks some 30,000 cells
    bad = [c for c in cells if not 0 <= c < n]
    if bad:
        raise ValueError(f"{what} refers to unknown cell index {bad[0]}")


class Attacker:
    """Integer bounds of hidden cells of one cell system under one hidden set.

    Internal engine shared by `audit` and `privacy.suppression.protect`. `fix` / `unfix` show
    or re-hide a hidden cell cheaply (used to try un-hiding complements); ``supports[cell]``
    holds, after `bounds`, the cells whose values differ from the truth in the points that
    realise that cell's bounds, as arrays (one per point; a cell may repeat, and one point's
    array is shared by every cell it proves): showing any other cell cannot change its bounds.
    """

    def __init__(
        self, system: CellSystem, hidden: np.ndarray, incidence: sp.csr_matrix | None = None
    ) -> None:
        self.system = system
        self.n = len(system)
        self.xstar = system.values.astype(np.float64)
        self.hidden = np.zeros(self.n, dtype=bool)
        self.hidden[np.asarray(hidden, dtype=np.int64)] = True
        self.free = self.hidden.copy()
        self.supports: dict[int, tuple[np.ndarray, ...]] = {}
        # the feasible integer points behind ``supports``: id of a support array -> (the cells
        # it moves, their values in the point); the release keeps them as proof (`witnesses`)
        self.points: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        # a round of shared points that decides fewer than 1/this of its open cells ends its
        # phase (neighbourhoods, then whole components); see `_aggregate_witnesses`
        self.aggregate_gain = _AGGREGATE_GAIN
        # cells that the first rounds of shared points leave at their true values (see
        # `_HOLD_ROUNDS`): cells a later release will tie to new equations, so that a point
        # moving none of them is a proof there too; None: none held. Never changes whether a
        # cell passes, only which points prove it.
        self.hold: np.ndarray | None = None
        full = incidence if incidence is not None else system.incidence()
        self.nrows = full.shape[0]
        self._full = full
        self._rows_csr: sp.csr_matrix | None = None
        self._cols_csc: sp.csc_matrix | None = None
        self._first_order: np.ndarray | None = None
        # one equation or none (a school's row of races under its total, say): bounds in
        # closed form, and the sparse matrices only if another method asks for them
        self._one_row: tuple[np.ndarray, np.ndarray] | None = None
        if self.nrows == 0:
            self._one_row = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        elif self.nrows == 1:
            row = sp.csr_matrix(full)
            cells, coef = row.indices.astype(np.int64), row.data
            # only a sum (one parent +1, its children -1, each cell once) has the closed form
            if (
                int((coef == 1).sum()) == 1
                and bool((np.abs(coef) == 1).all())
                and len(np.unique(cells)) == len(cells)
            ):
                self._one_row = (cells, coef.astype(np.int64))
        if self._one_row is None:
            self._build_matrices()
        self._components: np.ndarray | None = None
        self._unbounded: np.ndarray | None = None
        self._unbounded_stale = False
        self._outer: tuple[np.ndarray, np.ndarray] | None = None
        # bounds still valid after `fix` (showing a cell only narrows them): the next
        # propagation starts there; and the bounds of before the last `fix`, for its `unfix`
        self._outer_seed: tuple[np.ndarray, np.ndarray] | None = None
        # the bounds of before the cells shown since (and whether they were a fixed point),
        # for `unfix`: (the cells shown since, in order; those bounds; converged)
        self._outer_undo: tuple[list[int], tuple[np.ndarray, np.ndarray], bool] | None = None
        # `_outer` is a fixed point of the propagation (not cut short by its sweep limit);
        # and, for the seed, the cells shown since such a fixed point (None: not one)
        self._outer_converged = False
        self._seed_shown: list[int] | None = None
        self._rhs: np.ndarray | None = None  # each equation's constant: rows_csr @ xstar
        self._neighbours: sp.csr_matrix | None = None  # under the current `free`
        self._member: sp.csr_matrix | None = None
        self._warm: dict[int, _WarmLP] = {}
        self._initial: dict[int, np.ndarray] = {}  # per cell, under the current `free`

    def _build_matrices(self) -> None:
        # the equations' entries of hidden cells, each equation's in reverse order: what the
        # product with a diagonal mask gave (the order breaks ties between neighbours, see
        # `_neighbour_matrix`), without a sparse product per attacker; on the canonical form
        # (sorted, no repeated entry), which every incidence matrix has
        full = sp.csr_matrix(self._full)
        if not full.has_canonical_format:
            full = full.copy()
            full.sum_duplicates()
        nr = full.shape[0]
        rows = np.repeat(np.arange(nr), np.diff(full.indptr))
        rev = full.indptr[rows] + full.indptr[rows + 1] - 1 - np.arange(len(full.indices))
        cols, data = full.indices[rev], full.data[rev]
        keep = self.hidden[cols] & (data != 0)
        indptr = np.zeros(nr + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows[keep], minlength=nr), out=indptr[1:])
        mh = sp.csr_matrix((data[keep].astype(np.float64), cols[keep], indptr), shape=full.shape)
        self._rows_csr = mh
        # each equation's cells in their first order (scipy may sort ``mh`` in place later)
        self._first_order = mh.indices.copy()
        self._cols_csc = mh.tocsc()

    @property
    def rows_csr(self) -> sp.csr_matrix:
        """Equations x cells, the hidden cells' columns only (as hidden when built)."""
        if self._rows_csr is None:
            self._build_matrices()
        return self._rows_csr

    @property
    def cols_csc(self) -> sp.csc_matrix:
        if self._cols_csc is None:
            self._build_matrices()
        return self._cols_csc

    @property
    def _row_cells(self) -> np.ndarray:
        if self._first_order is None:
            self._build_matrices()
        return self._first_order

    def fix(self, cell: int) -> None:
        """Show hidden ``cell`` to the attacker (its true value becomes known)."""
        if not self.free[cell]:
            # showing it twice would leave it pinned in the bounds kept for `unfix`
            raise ValueError("fix of a cell that is not hidden now")
        self.free[cell] = False
        self._unbounded_stale = True
        if self._outer is not None:
            start = self._outer
            self._outer_undo = ([cell], self._outer, self._outer_converged)
            self._seed_shown = [cell] if self._outer_converged else None
        else:
            start = self._outer_seed
            if self._outer_undo is not None:
                self._outer_undo[0].append(cell)
            if self._seed_shown is not None:
                self._seed_shown = [*self._seed_shown, cell]
        if start is not None:
            lo, hi = start[0].copy(), start[1].copy()
            lo[cell] = hi[cell] = self.xstar[cell]
            self._outer_seed = (lo, hi)
        else:
            self._seed_shown = None
        self._outer = None
        self._initial.clear()
        self._neighbours = None

    def unfix(self, cell: int) -> None:
        """Hide ``cell`` again after `fix`."""
        if not self.hidden[cell]:
            raise ValueError("unfix of a cell that was never hidden")
        self.free[cell] = True
        undo, self._outer_undo, self._outer_seed = self._outer_undo, None, None
        self._seed_shown = None
        self._outer = None
        if undo is not None and undo[0] and undo[0][-1] == cell:
            # the last cell shown since known bounds: those bounds, with the cells shown
            # before it still pinned, hold again (valid as a seed: showing only narrows)
            shown, (lo, hi), converged = undo[0][:-1], undo[1], undo[2]
            if not shown:
                self._outer, self._outer_converged = (lo, hi), converged
            else:
                lo, hi = lo.copy(), hi.copy()
                lo[shown] = hi[shown] = self.xstar[shown]
                self._outer_seed = (lo, hi)
                self._seed_shown = list(shown) if converged else None
                self._outer_undo = (shown, undo[1], converged)
        self._initial.clear()
        self._neighbours = None
        # hiding more can only add rays: recompute lazily
        self._unbounded = None

    # -- structure -------------------------------------------------------------------------

    def components(self) -> np.ndarray:
        """Component label per cell (cells joined by constraints through hidden cells)."""
        if self._components is None and self._one_row is not None:
            # labels numbered by each component's first cell, as `connected_components` does
            cells, _ = self._one_row
            first = np.arange(self.n)
            joined = cells[self.hidden[cells]]
            if len(joined):
                first[joined] = joined.min()
            self._components = np.unique(first, return_inverse=True)[1].reshape(-1)
        if self._components is None:
            coo = self.cols_csc.tocoo()
            graph = sp.coo_matrix(
                (np.ones(len(coo.data)), (coo.col, self.n + coo.row)),
                shape=(self.n + self.nrows, self.n + self.nrows),
            )
            _, labels = connected_components(graph, directed=False)
            self._components = labels[: self.n]
        return self._components

    def component_count(self) -> int:
        labels = self.components()[self.free]
        return len(np.unique(labels)) if len(labels) else 0

    def _component_cells(self, cell: int) -> np.ndarray:
        labels = self.components()
        return np.flatnonzero((labels == labels[cell]) & self.free)

    def unbounded(self) -> np.ndarray:
        """Per cell: True if nothing released bounds it above (a ray of the hidden system)."""
        if self._unbounded is not None:
            return self._unbounded
        if self._one_row is not None:
            # one sum: its outer bounds are exact (`_one_row_bounds`), so no upper end is a ray
            self._unbounded = self.free & np.isinf(self.outer_bounds()[1])
            self._unbounded_stale = False
            return self._unbounded
        free = self.free
        bounded = ~free
        csr = self.rows_csr
        counts = np.diff(csr.indptr)
        entry_row = np.repeat(np.arange(self.nrows), counts)
        keep = free[csr.indices]
        rows_k, cols_k, data_k = entry_row[keep], csr.indices[keep], csr.data[keep]
        has_free_parent = np.zeros(self.nrows, dtype=bool)
        has_free_parent[rows_k[data_k > 0]] = True
        # A hidden child of a shown parent is bounded by it.
        bounded[cols_k[(data_k < 0) & ~has_free_parent[rows_k]]] = True
        # Propagate: a child of a bounded parent, a parent of bounded children, is bounded
        # (whole sweeps over the equations with a hidden parent, until nothing changes).
        rows = np.flatnonzero(has_free_parent)
        sub_counts, pos = matrix_entries(csr, rows)
        sub_row = np.repeat(np.arange(len(rows)), sub_counts)
        sub_col, sub_data = csr.indices[pos], csr.data[pos]
        up = sub_data > 0
        first_row, first = np.unique(sub_row[up], return_index=True)
        parent_of = np.zeros(len(rows), dtype=np.int64)
        parent_of[first_row] = sub_col[up][first]
        par_row, par_col = sub_row[up], sub_col[up]
        down = (sub_data < 0) & free[sub_col]
        kid_row, kid_col = sub_row[down], sub_col[down]
        while len(rows) and not bounded[free].all():
            before = int(bounded.sum())
            bounded[kid_col[bounded[parent_of][kid_row]]] = True
            open_kids = np.bincount(kid_row, weights=~bounded[kid_col], minlength=len(rows))
            done = open_kids == 0
            bounded[par_col[done[par_row]]] = True
            if int(bounded.sum()) == before:
                break
        candidates = np.flatnonzero(free & ~bounded)
        unbounded = np.zeros(self.n, dtype=bool)
        if len(candidates):
            a = self.cols_csc[:, candidates]
            used = np.unique(a.nonzero()[0])
            a = a[used]
            # Cells on some ray d >= 0, A d = 0; add supports until no new cell is found.
            while True:
                known = unbounded[candidates]
                if known.all():
                    break
                c = -(~known).astype(np.float64)
                from scipy.optimize import linprog  # rarely needed: see `privacy.highs`

                if a.shape[0]:
                    res = linprog(
                        c, A_eq=a, b_eq=np.zeros(a.shape[0]), bounds=(0, 1), method="highs"
                    )
                else:
                    res = linprog(c, bounds=(0, 1), method="highs")
                if res.status != 0:
                    raise RuntimeError(f"ray search failed: {res.message}")
                support = res.x > 1e-7
                if not (support & ~known).any():
                    break
                unbounded[candidates[support]] = True
        self._unbounded = unbounded
        self._unbounded_stale = False
        return unbounded

    def outer_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Proven outer bounds (lo, hi) of every cell by propagating the equations.

        Each equation ``sum a_j x_j = rhs`` (a = +-1) bounds each of its cells by the others'
        bounds; a few sweeps give intervals that contain the attacker's exact ones. Shown
        cells get their value. Used to stop a bound search as soon as a feasible point
        reaches them.
        """
        if self._outer is not None:
            return self._outer
        if self._one_row is not None:
            self._outer_seed = None
            self._outer = self._one_row_bounds()
            return self._outer
        csr = self.rows_csr
        if self._rhs is None:
            self._rhs = csr @ self.xstar
        if self._outer_seed is not None:
            lo, hi = self._outer_seed
            shown, self._outer_seed, self._seed_shown = self._seed_shown, None, None
        else:
            lo = np.where(self.free, 0.0, self.xstar)
            hi = np.where(self.free, np.inf, self.xstar)
            shown = None
        # Jacobi sweeps over the equations whose cells' bounds changed in the sweep before
        # (all of them in the first, unless the seed is a fixed point but for the cells shown
        # since: then theirs). Any other equation would give what it gave in an earlier
        # sweep, already applied: the bounds are those of sweeping every equation each time.
        if shown is None:
            rows = np.arange(self.nrows)
        else:
            rows = self._rows_of_cells(np.asarray(shown, dtype=np.int64))
        self._outer_converged = False
        for _ in range(_PROPAGATION_SWEEPS):
            if not len(rows):
                self._outer_converged = True
                break
            lo, hi, changed = self._propagate(rows, lo, hi)
            if not len(changed):
                self._outer_converged = True
                break
            rows = self._rows_of_cells(changed)
        self._outer = (lo, hi)
        return self._outer

    def _rows_of_cells(self, cells: np.ndarray) -> np.ndarray:
        """The equations that hold any of ``cells`` (sorted)."""
        _, pos = matrix_entries(self.cols_csc, cells)
        return distinct(self.cols_csc.indices[pos], self.nrows)

    def _propagate(
        self, rows: np.ndarray, lo: np.ndarray, hi: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One sweep of `outer_bounds` over the equations ``rows`` (sorted): the bounds after
        it, and the cells whose bounds it narrowed."""
        csr = self.rows_csr
        counts, pos = matrix_entries(csr, rows)
        row = np.repeat(np.arange(len(rows)), counts)
        col, a = csr.indices[pos], csr.data[pos]
        rhs = self._rhs[rows]
        nr = len(rows)
        term_min = np.where(a > 0, lo[col], -hi[col])
        term_max = np.where(a > 0, hi[col], -lo[col])
        min_inf = np.isinf(term_min)
        max_inf = np.isinf(term_max)
        min_sum = np.bincount(row, weights=np.where(min_inf, 0.0, term_min), minlength=nr)
        max_sum = np.bincount(row, weights=np.where(max_inf, 0.0, term_max), minlength=nr)
        min_infs = np.bincount(row, weights=min_inf, minlength=nr)
        max_infs = np.bincount(row, weights=max_inf, minlength=nr)
        # bounds on a_j x_j from the others: rhs - sum(others)
        others_min_inf = min_infs[row] - min_inf > 0
        others_max_inf = max_infs[row] - max_inf > 0
        ax_hi = np.where(
            others_min_inf, np.inf, rhs[row] - (min_sum[row] - np.where(min_inf, 0.0, term_min))
        )
        ax_lo = np.where(
            others_max_inf,
            -np.inf,
            rhs[row] - (max_sum[row] - np.where(max_inf, 0.0, term_max)),
        )
        new_hi = np.where(a > 0, ax_hi, -ax_lo)
        new_lo = np.where(a > 0, ax_lo, -ax_hi)
        cells, at = distinct_where(col, self.n)
        cand_hi = np.full(len(cells), np.inf)
        np.minimum.at(cand_hi, at, new_hi)
        cand_lo = np.full(len(cells), -np.inf)
        np.maximum.at(cand_lo, at, new_lo)
        cand_hi = np.floor(cand_hi + 1e-9)
        cand_lo = np.ceil(cand_lo - 1e-9)
        free = self.free[cells]
        next_hi = np.where(free, np.minimum(hi[cells], cand_hi), hi[cells])
        next_lo = np.where(free, np.maximum(lo[cells], cand_lo), lo[cells])
        moved = (next_hi != hi[cells]) | (next_lo != lo[cells])
        if not moved.any():
            return lo, hi, _NOTHING
        lo, hi = lo.copy(), hi.copy()
        lo[cells], hi[cells] = next_lo, next_hi
        return lo, hi, cells[moved]

    # -- one equation: closed forms ---------------------------------------------------------

    def _one_row_free(self) -> tuple[np.ndarray, int | None]:
        """The free cells of the one equation, and its parent if that is free."""
        cells, coef = self._one_row
        free = cells[self.free[cells]]
        parent = int(cells[coef > 0][0]) if len(cells) else None
        return free, parent if parent is not None and self.free[parent] else None

    def _one_row_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The exact integer bounds of every cell under one sum ``parent = sum(children)``.

        Free cells in no equation: [0, inf). One free cell: its value. A shown parent leaves
        its free children [0, R] each (R: their true sum; all of R can sit on any one of
        them). A free parent with free children: the children [0, inf), the parent at least
        the sum of its shown children, without end. (Bounds propagation, with which
        `outer_bounds` starts, finds the same: these outer bounds are exact.)
        """
        lo = np.where(self.free, 0.0, self.xstar)
        hi = np.where(self.free, np.inf, self.xstar)
        free, parent = self._one_row_free()
        if len(free) == 1:
            lo[free] = hi[free] = self.xstar[free]
        elif len(free) > 1:
            if parent is None:
                hi[free] = self.xstar[free].sum()
            else:
                children = free[free != parent]
                lo[parent] = self.xstar[parent] - self.xstar[children].sum()
        return lo, hi

    def _neighbour_matrix(self) -> sp.csr_matrix:
        """Equations x cells: each equation's `_NEIGHBOURS_PER_ROW` largest free hidden cells
        (most room to move; ties in the order the equation's cells were first listed:
        breaking them by index instead made a heavily hidden school-level part's attacks
        about 25% slower)."""
        if self._neighbours is None:
            row = np.repeat(np.arange(self.nrows), np.diff(self.rows_csr.indptr))
            col = self._row_cells.astype(np.int64)
            pos = np.arange(len(col))
            keep = self.free[col]
            row, col, pos = row[keep], col[keep], pos[keep]
            order = np.lexsort((pos, -self.xstar[col], row))
            row, col = row[order], col[order]
            top = _first_of_each(row, _NEIGHBOURS_PER_ROW)
            self._neighbours = sp.csr_matrix(
                (np.ones(int(top.sum()), dtype=np.int32), (row[top], col[top])),
                shape=(self.nrows, self.n),
            )
        return self._neighbours

    def _initial_set(self, cell: int) -> np.ndarray:
        """The cell, its largest hidden neighbours, and the cells that close cycles with them.

        Moving a cell needs a compensating move in each of its equations, which needs one in
        each equation of the compensating cell...: a neighbour's neighbour whose equations are
        all already touched closes such a cycle, so it is added up front.
        """
        return self._initial_sets(np.array([cell], dtype=np.int64))[0]

    def _initial_sets(self, cells: np.ndarray) -> list[np.ndarray]:
        """`_initial_set` of each of ``cells``, those not known yet computed together.

        For a cell x: first = x and the largest free neighbours in each of its equations;
        touched = the equations of those; second = the largest free neighbours in touched
        equations, not in first; a cell of second closes a cycle if at least min(its
        equations, 2) of its equations are touched; the `_CLOSING_CELLS` largest of those
        (ties by index) join first. Sparse products over all the cells at once.
        """
        cells = np.asarray(cells, dtype=np.int64)
        todo = np.unique([c for c in cells.tolist() if c not in self._initial])
        if len(todo):
            for c, found in zip(todo.tolist(), self._first_neighbourhoods(todo), strict=True):
                self._initial[c] = found
        return [self._initial[c] for c in cells.tolist()]

    def _first_neighbourhoods(self, cells: np.ndarray) -> list[np.ndarray]:
        """`_initial_sets`, computed (they depend only on which cells are free)."""
        k, n, m = len(cells), self.n, self.nrows
        near = self._neighbour_matrix()
        if self._member is None:
            self._member = (self.rows_csr != 0).astype(np.int32).tocsr()
        member = self._member  # equations x hidden cells
        pick = sp.csr_matrix((np.ones(k, dtype=np.int32), (np.arange(k), cells)), shape=(k, n))
        first = ((pick @ member.T) @ near + pick).tocsr()
        first.data[:] = 1
        touched = (first @ member.T).tocsr()
        touched.data[:] = 1
        second = (touched @ near).tocsr()
        second.data[:] = 1
        second = (second - second.multiply(first)).tocoo()
        second.eliminate_zeros()
        x, c = second.row.astype(np.int64), second.col.astype(np.int64)
        # how many of each second cell's equations are touched (for its own target)
        csc = self.cols_csc
        degree, pos = matrix_entries(csc, c)
        offsets = np.concatenate(([0], np.cumsum(degree)))
        rows = csc.indices[pos]
        touched_keys = touched.tocoo()
        known = np.sort(touched_keys.row.astype(np.int64) * m + touched_keys.col)
        wanted = np.repeat(x, degree) * m + rows
        hit = np.zeros(len(wanted), dtype=bool)
        if len(known):
            at = np.minimum(np.searchsorted(known, wanted), len(known) - 1)
            hit = known[at] == wanted
        linked = np.add.reduceat(hit.astype(np.int64), offsets[:-1]) if len(c) else np.zeros(0)
        linked[degree == 0] = 0
        closing = linked >= np.minimum(degree, 2)
        x, c = x[closing], c[closing]
        order = np.lexsort((c, -self.xstar[c], x))
        x, c = x[order], c[order]
        keep = _first_of_each(x, _CLOSING_CELLS)
        closed = sp.csr_matrix(
            (np.ones(int(keep.sum()), dtype=np.int32), (x[keep], c[keep])), shape=(k, n)
        )
        found = (first + closed).tocsr()
        found.sort_indices()
        return [
            found.indices[found.indptr[i] : found.indptr[i + 1]].astype(np.int64) for i in range(k)
        ]

    # -- bounds ----------------------------------------------------------------------------

    def bounds(
        self,
        cells: np.ndarray,
        *,
        need_upper: np.ndarray | None = None,
        need_width: np.ndarray | None = None,
        until_failure: bool = False,
        keep_supports: bool = True,
        shared_only: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Integer (lower, upper, exact) of the attacker for hidden ``cells``.

        With ``need_upper``/``need_width`` (check mode) a cell stops as soon as feasible integer
        points prove ``upper >= need_upper`` and ``upper - lower >= need_width``; the bounds
        returned for such a cell are those witnesses (inner bounds): enough to decide that it
        passes. Cells that do not pass get exact bounds.
        until_failure: (check mode) the caller only asks whether every cell passes, so the
            attack stops at the first cell proven to fail; the bounds returned then show that
            it fails, and those of cells not decided yet mean nothing.
        keep_supports: record in ``supports`` the cells that each cell's proving points move
            (False where nothing reads them, e.g. an audit: at scale 1 the copies take about
            a second).
        shared_only: (check mode) per cell, True for a cell that only shared points may
            decide: it is a target of the phase of shared points (`_aggregate_witnesses`, which
            runs when at least `_AGGREGATE_MIN_CELLS` cells are open) and a witness for any
            point found, but gets no LP of its own. Its bounds returned are then inner ones
            (witnesses; the true value where no point moved it) unless decided: enough to show
            that it passes, not that it fails. For cells the caller expects to pass and attacks
            in full later if not.
        """
        cells = np.asarray(cells, dtype=np.int64)
        k = len(cells)
        lower = np.full(k, np.nan)
        upper = np.full(k, np.nan)
        exact = np.ones(k, dtype=bool)
        if k == 0:
            return lower, upper, exact
        if not self.free[cells].all():
            raise ValueError("bounds asked for a cell that is not hidden")
        if self._unbounded_stale and self._unbounded is not None:
            if self._unbounded[cells].any():
                self._unbounded = None
        unbounded = self.unbounded()[cells]
        check = need_upper is not None
        if until_failure and not check:
            raise ValueError("until_failure needs the criterion (need_upper, need_width)")
        if shared_only is not None:
            shared_only = np.asarray(shared_only, dtype=bool)
            if not check or shared_only.shape != (k,):
                raise ValueError("shared_only needs the criterion and one flag per cell")
        empty = np.zeros(0, dtype=np.int64)
        if self._one_row is not None:
            # one equation: its outer bounds are the exact ones, no solver (each is reached by
            # a point that moves only the equation's free cells: those are the supports)
            lo, hi = self.outer_bounds()
            if keep_supports:
                free, _ = self._one_row_free()
                moving = free if len(free) > 1 else empty
                in_row = np.isin(cells, free)
                for c, inside in zip(cells.tolist(), in_row.tolist(), strict=True):
                    self.supports[c] = (moving,) if inside else (np.array([c], dtype=np.int64),)
            return lo[cells], hi[cells], exact
        truth = self.xstar[cells]
        wit_hi, wit_lo = truth.copy(), truth.copy()
        sup_hi: list[np.ndarray] = [empty] * k
        sup_lo: list[np.ndarray] = [empty] * k
        outer_lo, outer_hi = self.outer_bounds()
        outer_lo, outer_hi = outer_lo[cells], outer_hi[cells]
        upper[unbounded] = np.inf
        for i in np.flatnonzero(unbounded):
            sup_hi[i] = self._component_cells(int(cells[i]))
        # the truth is feasible: where it meets a proven outer bound, that bound is exact
        done_hi = unbounded | (outer_hi <= truth)
        done_lo = outer_lo >= truth
        upper[done_hi & ~unbounded] = truth[done_hi & ~unbounded]
        lower[done_lo] = truth[done_lo]
        failed = np.zeros(k, dtype=bool)

        def proven_failing() -> bool:
            """Mark the cells that fail already on their exact ends and outer bounds."""
            hi = np.where(done_hi, upper, outer_hi)
            lo = np.where(done_lo, lower, outer_lo)
            now = (hi < need_upper) | (hi - lo < need_width)
            failed[now] = True
            return bool(now.any())

        if check:
            proven_failing()  # outer bounds that already break the criterion: stop there

        def decided() -> np.ndarray:
            if not check:
                return np.zeros(k, dtype=bool)
            hi = np.where(done_hi, upper, wit_hi)
            lo = np.where(done_lo, lower, wit_lo)
            return failed | ((hi >= need_upper) & (hi - lo >= need_width))

        labels = self.components()
        comp_size = np.bincount(labels[self.free], minlength=labels.max() + 1)
        position = np.full(self.n, -1, dtype=np.int64)
        position[cells] = np.arange(k)
        initial: dict[int, np.ndarray] = {}

        def start_jobs(which: np.ndarray, senses: tuple[int, ...], first_round: int) -> list:
            out = []
            new = which[[i not in initial for i in which.tolist()]]
            large = new[comp_size[labels[cells[new]]] > _SMALL_COMPONENT]
            self._initial_sets(cells[large])  # computed together, read back below
            for i in which.tolist():
                init = initial.get(i)
                if init is None:
                    if comp_size[labels[cells[i]]] <= _SMALL_COMPONENT:
                        init = self._component_cells(int(cells[i]))
                    else:
                        init = self._initial_set(int(cells[i]))
                    initial[i] = init
                for sense in senses:
                    if not (done_hi[i] if sense > 0 else done_lo[i]):
                        out.append((i, sense, init, first_round))
            return out

        def credit(moves: list[tuple[np.ndarray, np.ndarray]]) -> None:
            """Every feasible integer point is a witness for every cell it moves.

            moves: (cells, integer values) per independent move of one point (they move
            distinct cells); a cell witnessed anew takes its move's cells as its support.
            """
            if len(moves) == 1:
                moved, vals = moves[0]
                owner = np.zeros(len(moved), dtype=np.int64)
            else:
                moved = np.concatenate([c for c, _ in moves])
                vals = np.concatenate([v for _, v in moves])
                owner = np.repeat(np.arange(len(moves)), [len(c) for c, _ in moves])
            pos = position[moved]
            ours = pos >= 0
            pos, vals, owner = pos[ours], np.round(vals[ours]), owner[ours]
            up = vals > wit_hi[pos]
            down = ~up & (vals < wit_lo[pos])
            for better, wit, sup, done, bound, outer, reached in (
                (up, wit_hi, sup_hi, done_hi, upper, outer_hi, np.greater_equal),
                (down, wit_lo, sup_lo, done_lo, lower, outer_lo, np.less_equal),
            ):
                idx = np.flatnonzero(better)
                if not len(idx):
                    continue
                p, v = pos[idx], vals[idx]
                wit[p] = v
                for q, o in zip(p.tolist(), owner[idx].tolist(), strict=True):
                    sup[q] = moves[o][0]
                if keep_supports:
                    for o in np.unique(owner[idx]).tolist():
                        self.points[id(moves[o][0])] = moves[o]
                # a witness on a proven outer bound is the exact bound
                hit = reached(v, outer[p]) & ~done[p]
                bound[p[hit]] = v[hit]
                done[p[hit]] = True

        def goal(i: int, sense: int) -> float | None:
            """(check mode) Where a point must take cell ``i`` (``sense``: up or down) to decide
            it, with its other end as proven so far; None where no such point decides it."""
            if not check:
                return None
            hi = upper[i] if done_hi[i] else wit_hi[i]
            lo = lower[i] if done_lo[i] else wit_lo[i]
            up, down = _goals(hi, lo, need_upper[i], need_width[i])
            found = float(up if sense > 0 else down)
            return None if math.isnan(found) or found < 0 else found

        def share(pairs: np.ndarray, sol: np.ndarray) -> None:
            """`credit` the point ``sol`` over ``pairs`` (every other cell at its true value)."""
            moved_mask = np.abs(sol - self.xstar[pairs]) > 0.5
            if moved_mask.any():
                credit([(pairs[moved_mask], np.round(sol[moved_mask]))])

        stop = until_failure and check and bool(failed.any())
        if check and k >= _AGGREGATE_MIN_CELLS and not stop:
            self._aggregate_witnesses(
                cells,
                need_upper,
                need_width,
                decided,
                failed,
                credit,
                (done_hi, done_lo, upper, lower, wit_hi, wit_lo, outer_lo, outer_hi),
            )

        labels = self.components()
        comp_size = np.bincount(labels[self.free], minlength=labels.max() + 1)
        everyone = np.arange(k) if shared_only is None else np.flatnonzero(~shared_only)
        # phases: (cells, senses, first round); round -1 = witnesses only, no pricing
        if check:
            phases = [
                # cells that must reach an upper end first: their points often decide others
                (everyone[np.isfinite(need_upper[everyone])], (1,), -1),
                (everyone, (1, -1), -1),
                (everyone, (1, -1), 0),
            ]
        else:
            phases = [(everyone, (1, -1), 0)]
        jobs: list[tuple[int, int, np.ndarray, int]] = []
        while not stop:
            ok = decided()
            jobs = [j for j in jobs if not ok[j[0]] and not (done_hi, done_lo)[j[1] < 0][j[0]]]
            if not jobs:
                if not phases:
                    break
                which, senses, first_round = phases.pop(0)
                open_cells = which[~ok[which] & ~(done_hi[which] & done_lo[which])]
                jobs = start_jobs(open_cells, senses, first_round)
                continue
            next_jobs: list[tuple[int, int, np.ndarray, int]] = []
            for whole, batch in self._split_whole(jobs, comp_size, labels, cells):
                if whole:
                    ((i, sense, pairs, _),) = batch
                    results = [self._whole_lp(int(cells[i]), sense, pairs, goal(i, sense))]
                else:
                    results = self._lp_batch(cells, batch)
                for (i, sense, pairs, rounds), (value, integral, sol, extra) in zip(
                    batch, results, strict=True
                ):
                    if integral:
                        share(pairs, sol)
                        # a feasible point on a proven outer bound is optimal
                        if (sense > 0 and wit_hi[i] >= outer_hi[i]) or (
                            sense < 0 and wit_lo[i] <= outer_lo[i]
                        ):
                            extra = _NOTHING
                    if extra is None:  # witnesses only: a later phase prices it
                        continue
                    if len(extra):
                        grown = np.union1d(pairs, extra)
                        if rounds + 1 >= _MAX_LOCAL_ROUNDS or len(grown) > _MAX_LOCAL_PAIRS:
                            grown = self._component_cells(int(cells[i]))
                        next_jobs.append((i, sense, grown, rounds + 1))
                        continue
                    rounded, on_bound = (
                        (None, False)
                        if integral
                        else self._rounded_point(cells[i], sense, pairs, sol, goal(i, sense))
                    )
                    if rounded is not None:
                        share(pairs, rounded)
                        if not on_bound:  # a point that reaches the goal: decided, not exact
                            continue
                        # an integer point on the LP's bound: optimal
                        integral, value = True, float(rounded[np.searchsorted(pairs, cells[i])])
                    if integral:
                        best, is_exact = float(round(value)), True
                    else:
                        best, is_exact, pairs = self._integer_optimum(
                            int(cells[i]), sense, pairs, value
                        )
                        # the MILP point is not kept: depend on every cell it could move
                        if sense > 0:
                            sup_hi[i] = pairs
                        else:
                            sup_lo[i] = pairs
                    # a witness found by another job may be better (it reached the bound)
                    if sense > 0:
                        best = max(best, wit_hi[i])
                        upper[i], done_hi[i], wit_hi[i] = best, True, best
                    else:
                        best = min(best, wit_lo[i])
                        lower[i], done_lo[i], wit_lo[i] = best, True, best
                    exact[i] &= is_exact
                if until_failure and proven_failing():
                    stop = True
                    break
            jobs = next_jobs
        exact &= done_hi & done_lo
        # a failing cell not decided on both ends: its exact end, and the other's outer bound
        best_hi = np.where(done_hi, upper, outer_hi)
        best_lo = np.where(done_lo, lower, outer_lo)
        upper = np.where(done_hi, upper, wit_hi)
        lower = np.where(done_lo, lower, wit_lo)
        undecided_fail = failed & ~(done_hi & done_lo)
        upper[undecided_fail] = best_hi[undecided_fail]
        lower[undecided_fail] = best_lo[undecided_fail]
        if stop or not keep_supports:
            # cut short (some cells hold no complete proof), or nothing reads the supports
            return lower, upper, exact
        for i in range(k):
            # the points' own arrays, shared: copies would cost more than the attack
            self.supports[int(cells[i])] = (sup_hi[i], sup_lo[i])
        return lower, upper, exact

    def _split_whole(
        self,
        jobs: list[tuple[int, int, np.ndarray, int]],
        comp_size: np.ndarray,
        labels: np.ndarray,
        cells: np.ndarray,
    ) -> Iterable[tuple[bool, list[tuple[int, int, np.ndarray, int]]]]:
        """(False, batch of local jobs) and (True, [job]) for a job over a whole large component.

        A job whose local set has grown to its whole component is the same LP as every other
        such job of that component but for the objective: `_whole_lp` solves those warm.
        """
        local = []
        for job in jobs:
            size = len(job[2])
            if (
                highs.available()
                and size >= _WARM_MIN_PAIRS
                and (size == comp_size[labels[cells[job[0]]]])
            ):
                yield True, [job]
            else:
                local.append(job)
        for batch in _batches(local):
            yield False, batch

    def _whole_lp(
        self, cell: int, sense: int, pairs: np.ndarray, goal: float | None = None
    ) -> tuple[float, bool, np.ndarray, np.ndarray | None]:
        """The LP optimum of ``sense * x_cell`` over the whole component of ``cell``.

        One HiGHS model per component is kept and re-solved by primal simplex from the last
        optimal basis (only the objective changes; cells shown since by `fix` are held at
        their value by their bounds): about ten times fewer pivots than a cold solve. A
        fractional optimum is rounded (`_rounded_point`), or else solved again from scratch in
        the same model (`_WarmLP.resolve`).
        Returns what `_lp_batch` returns for a job: (value, integral, point over ``pairs``,
        no columns to add, since nothing lies outside the component); a point still
        fractional is the caller's to round, or to settle by an integer program.
        goal: (check mode) where a point must take the cell to decide it (see `bounds`): a
            rounded point that reaches it but not the LP's bound decides the cell without
            proving its bound, and comes back as a witness only (columns None, as a job that
            is not priced): no cold re-solve for it (scale 1, the school graduation part: 12
            -> 9 cold re-solves, its whole-component LPs 1.39 -> 1.19 s).
        """
        label = int(self.components()[cell])
        warm = self._warm.get(label)
        if warm is None:
            members = np.flatnonzero(self.components() == label)
            members = members[self.hidden[members]]
            a, b = self._local_matrix(members)
            warm = self._warm[label] = _WarmLP(members, a, b)
        free = self.free[warm.members]
        x = warm.solve(cell, sense, free, self.xstar[warm.members])
        if x is not None and np.abs(x - np.round(x)).max() > 1e-6:
            # a fractional vertex: its few fractional cells rounded onto the LP's bound (an
            # integer point there is the optimum), else the LP solved again from scratch,
            # which costs about ten warm solves (scale 1, the school graduation part: 28 -> 13
            # cold solves, 6.3 -> 5.4 s)
            rounded, on_bound = self._rounded_point(cell, sense, pairs, x[free], goal)
            if rounded is not None:
                value = float(rounded[np.searchsorted(pairs, cell)])
                return value, True, rounded, _NOTHING if on_bound else None
            x = warm.resolve()
        if x is None:  # pragma: no cover - HiGHS found no optimum in the kept model: cold
            return self._lp_batch(np.array([cell]), [(0, sense, pairs, 0)])[0]
        x = x[free]
        # fractional even when solved from scratch (see `_WarmLP.solve`): the caller rounds
        # it (`_rounded_point`), or solves the integer program
        integral = not (np.abs(x - np.round(x)) > 1e-6).any()
        return float(x[np.searchsorted(pairs, cell)]), integral, x, _NOTHING

    def _lp_batch(
        self, cells: np.ndarray, batch: list[tuple[int, int, np.ndarray, int]]
    ) -> list[tuple[float, bool, np.ndarray, np.ndarray]]:
        """Solve the local LPs of ``batch`` as one block-diagonal LP; price held cells."""
        nj = len(batch)
        sizes = np.array([len(p) for _, _, p, _ in batch])
        p_job = np.repeat(np.arange(nj), sizes)
        p_cell = np.concatenate([p for _, _, p, _ in batch]).astype(np.int64)
        job_cell = np.array([cells[i] for i, _, _, _ in batch], dtype=np.int64)
        job_sense = np.array([s for _, s, _, _ in batch], dtype=np.float64)
        csc = self.cols_csc
        counts, pos = matrix_entries(csc, p_cell)
        pair_rep = np.repeat(np.arange(len(p_cell)), counts)
        rows = csc.indices[pos]
        coef = csc.data[pos]
        keys = p_job[pair_rep] * np.int64(self.nrows) + rows
        ukeys, brow = np.unique(keys, return_inverse=True)
        nbr = len(ukeys)
        objective = p_cell == job_cell[p_job]
        c = np.zeros(len(p_cell))
        c[objective] = -job_sense[p_job[objective]]
        # the pairs' columns in order, each column's rows as the attacker's matrix holds them
        col_start = np.zeros(len(p_cell) + 1, dtype=np.int64)
        np.cumsum(counts, out=col_start[1:])
        a = sp.csc_matrix((coef, brow, col_start), shape=(nbr, len(p_cell)))
        x, y = _solve_lp(c, a, a @ self.xstar[p_cell])
        values = np.zeros(nj)
        values[p_job[objective]] = x[objective]
        fractional = np.abs(x - np.round(x)) > 1e-6
        job_fractional = np.bincount(p_job, weights=fractional, minlength=nj) > 0
        priced_job = np.array([r >= 0 for _, _, _, r in batch], dtype=bool)
        extra: list[np.ndarray | None] = [_NOTHING if priced_job[j] else None for j in range(nj)]
        if nbr and priced_job.any():
            big = (np.abs(y) > _TOL) & priced_job[ukeys // self.nrows]
            if big.any():
                br_job = ukeys[big] // self.nrows
                br_row = ukeys[big] % self.nrows
                ymat = sp.csr_matrix((y[big], (br_job, br_row)), shape=(nj, self.nrows))
                priced = (ymat @ self.rows_csr).tocsr()
                inside = sp.csr_matrix((np.ones(len(p_cell)), (p_job, p_cell)), shape=(nj, self.n))
                outside = (priced - priced.multiply(inside)).tocoo()
                g = outside.data
                # a held cell improves the objective if moving it (up, or down when > 0)
                # lowers the minimised objective: then the local optimum is not global
                improving = ((g > _TOL) | ((g < -_TOL) & (self.xstar[outside.col] > 0))) & (
                    self.free[outside.col]
                )
                if improving.any():
                    picked = self._pick_columns(
                        nj,
                        ukeys,
                        outside.row[improving],
                        outside.col[improving],
                        np.abs(g[improving]),
                        np.maximum(_COLUMNS_PER_ROUND, sizes // 2),
                    )
                    for j in np.flatnonzero(priced_job).tolist():
                        extra[j] = picked[j]
        starts = np.concatenate([[0], np.cumsum(sizes)])
        return [
            (float(values[j]), not job_fractional[j], x[starts[j] : starts[j + 1]], extra[j])
            for j in range(nj)
        ]

    def _aggregate_witnesses(
        self,
        cells: np.ndarray,
        need_upper: np.ndarray,
        need_width: np.ndarray,
        decided,
        failed: np.ndarray,
        credit,
        state: tuple[np.ndarray, ...],
    ) -> None:
        """Find feasible integer points that decide many cells at once (check mode only).

        Per round and per chunk of open cells, one LP over the chunk's neighbourhoods (every
        other cell held at its true value, which keeps the point feasible for the whole
        system): maximise, over the chunk, the share of the move each cell still needs (up to
        the upper end it must reach, or down to widen its interval), capped at that move. An
        integral optimum (the usual case on sum systems; otherwise a time-limited MILP) is a
        witness for every cell it moves (`credit`), exactly like a point found for one cell.
        Cells left open go on to their own LPs; most cells of a heavily hidden release are
        decided here in a few solver calls instead of two LPs each. When a round over the
        neighbourhoods decides few cells (or after `_AGGREGATE_ROUNDS` of them), the points are
        sought over the whole components of the open cells, for as many rounds again while
        each decides a few cells (on a custom table at scale 1, cells whose move must run
        through other districts: 1,250 whole-component LPs became one LP, 31 s -> 3 s; a
        school-level part whose neighbourhood rounds ran out left 440 cells to their own
        whole-component LPs, 82 s -> 22 s with whole rounds of their own).

        The whole-component rounds re-solve one kept model (`_WarmAggregate`): each round
        changes only which credits count, and starts from the last round's basis.
        """
        done_hi, done_lo, upper, lower, wit_hi, wit_lo, outer_lo, outer_hi = state
        truth = self.xstar[cells]
        labels = self.components()
        pool: _WarmAggregate | None = None
        # phases: neighbourhoods, then whole components; each up to _AGGREGATE_ROUNDS rounds
        turns = itertools.count()  # rounds alternate up and down moves across both phases
        phases = (False, True) if _AGGREGATE_WHOLE else (False,)
        comp_size = np.bincount(labels[self.free], minlength=labels.max() + 1)
        sizes = comp_size[labels[cells]]
        # cells of the targets' components (a kept model is worth it only for large ones)
        reach = int(comp_size[np.unique(labels[cells])].sum())
        if _AGGREGATE_WHOLE and sizes.max() <= _SMALL_COMPONENT:
            # small components: a neighbourhood is most of one, and whole ones cost no more
            phases = (True,)
        for whole in phases:
            for _ in range(_AGGREGATE_ROUNDS):
                round_no = next(turns)
                ok = decided()
                open_ = np.flatnonzero(~ok & ~failed)
                if len(open_) < _AGGREGATE_MIN_CELLS:
                    return
                hi = np.where(done_hi, upper, wit_hi)[open_]
                lo = np.where(done_lo, lower, wit_lo)[open_]
                t_up, t_down = _goals(hi, lo, need_upper[open_], need_width[open_])
                can_up = t_up <= outer_hi[open_]
                can_down = t_down >= np.maximum(outer_lo[open_], 0)  # never where NaN
                down = can_down & (~can_up | (round_no % 2 == 1))
                up = can_up & ~down
                pick = up | down
                if pick.sum() < _AGGREGATE_MIN_CELLS:
                    return
                sel = open_[pick]
                sign = np.where(up[pick], 1.0, -1.0)
                gap = np.where(up[pick], t_up[pick] - truth[sel], truth[sel] - t_down[pick])
                before = int(ok.sum())
                if whole and pool is None and highs.available() and reach >= _WARM_MIN_PAIRS:
                    pool = self._warm_aggregate(cells[open_])
                if whole:
                    point = None
                    if pool is not None and pool.worth(cells[sel], labels):
                        point = pool.solve(cells[sel], sign, gap)
                    if point is None:
                        point = self._aggregate_point(cells[sel], sign, gap, True)
                    points = [point]
                else:
                    # the chunks' LPs depend only on the round's targets: solved side by side
                    # (HiGHS frees the interpreter while it solves), shared in chunk order
                    self._initial_sets(cells[sel])  # every chunk's neighbourhoods, here
                    parts = [
                        slice(start, start + _AGGREGATE_CHUNK)
                        for start in range(0, len(sel), _AGGREGATE_CHUNK)
                    ]
                    held = self.hold is not None and round_no < _HOLD_ROUNDS
                    points = parallel.in_threads(
                        lambda args: self._aggregate_point(*args),
                        [(cells[sel[p]], sign[p], gap[p], False, held) for p in parts],
                    )
                for point in points:
                    if point is not None:
                        moves = self._independent_moves(*point)
                        if moves:
                            credit(moves)
                # few cells decided: on to the next phase; the rounds of a kept model go on
                # while they decide any (a round costs one or two of the cells' own LPs, and
                # its last cells are the ones that the shared points of many cells pull
                # apart: scale 1, the 9 large parts of 2023-24, 7 side-by-side pairs, each
                # faster, median about 4% less CPU; the same statuses)
                least = max(_AGGREGATE_MIN_CELLS // 2, len(sel) // self.aggregate_gain)
                if int(decided().sum()) - before < (1 if whole and pool is not None else least):
                    break

    def _warm_aggregate(self, candidates: np.ndarray) -> _WarmAggregate:
        """A kept whole-component aggregate LP for targets among ``candidates``."""
        labels = self.components()
        members = np.flatnonzero(np.isin(labels, labels[candidates]) & self.free)
        a, b = self._local_matrix(members)
        return _WarmAggregate(members, a, b, np.unique(candidates), self.xstar)

    def _independent_moves(
        self, members: np.ndarray, x: np.ndarray
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Split a feasible point into independent moves: (cells, values) per piece.

        The cells the point moves, joined when they share an equation, fall into connected
        pieces; every equation's moved cells lie in one piece, so each piece alone is a
        feasible move too. A cell's witness is then only its own piece (a small support), so
        showing a complement later re-attacks only the cells whose piece moved it.
        """
        moved_mask = np.abs(x - self.xstar[members]) > 0.5
        moved, values = members[moved_mask], x[moved_mask]
        if not len(moved):
            return []
        sub = self.cols_csc[:, moved].tocoo()
        k = len(moved)
        graph = sp.coo_matrix(
            (np.ones(len(sub.data)), (sub.col, k + sub.row)), shape=(k + self.nrows,) * 2
        )
        _, labels = connected_components(graph, directed=False)
        labels = labels[:k]
        order = np.argsort(labels, kind="stable")
        cuts = np.flatnonzero(np.diff(labels[order])) + 1
        return [(moved[idx], values[idx]) for idx in np.split(order, cuts)]

    def _aggregate_point(
        self,
        targets: np.ndarray,
        sign: np.ndarray,
        gap: np.ndarray,
        whole: bool = False,
        held: bool = False,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(cells, integer values) of one feasible point moving ``targets`` by ``sign * gap``.

        whole: the point may move any cell of the targets' components, not only their
        neighbourhoods (either way every other cell keeps its true value).
        held: the cells of `hold` keep their true values too.
        """
        if whole:
            labels = self.components()
            members = np.flatnonzero(np.isin(labels, labels[targets]) & self.free)
        else:
            members = distinct(np.concatenate(self._initial_sets(targets)), self.n)
        a, b = self._local_matrix(members)
        nx, m = len(members), len(targets)
        col = np.searchsorted(members, targets)
        v = self.xstar[targets]
        # A x = b; each target's move counts up to the move it needs, so it is capped there by
        # its bounds (a credit column and row per target instead, as `_WarmAggregate` keeps
        # them, made these LPs about half again as slow: scale 1, the large parts'
        # neighbourhood points 8.7 -> 5.7 s); it may go the other way, as far as the move it
        # needs (and never below zero), so that one target's loss never outweighs many
        # targets' gains
        lo, hi = np.zeros(nx), np.full(nx, np.inf)
        lo[col] = np.maximum(v - gap, 0.0)
        hi[col] = v + gap
        if held and self.hold is not None:
            keep = self.hold[members]
            lo[keep] = hi[keep] = self.xstar[members[keep]]
        c = _credit_costs(nx, col, sign, gap)
        # without HiGHS's presolve (its presolve and postsolve took more than they saved), so
        # the rows that only bound a cell are its bounds here instead. At scale 1, the large
        # parts' whole-component points: 3.3 -> 2.4 s; their 168 neighbourhood points, solved
        # again alone: 4.49 -> 3.83 s (median of 3, alternated; presolve alone off: 4.9 s),
        # the same objective values
        rows = BoundRows(a, b, keep=col)
        found, _ = highs.milp(
            rows.costs(c), rows.a, (rows.b, rows.b), rows.bounds(lo, hi), presolve=False
        )
        if found is not None:
            found = rows.restore(found)
        if found is not None and np.abs(found - np.round(found)).max() > 1e-6:
            # a fractional vertex: its few fractional cells rounded (a small integer program)
            x = _integer_near(a, b, found, c, _any_point)
            if x is not None:
                return members, x
            if m < _AGGREGATE_MILP_MIN_CELLS:
                return None  # a few cells: their own LPs are cheaper than an integer program
            found, _ = highs.milp(
                c, a, (b, b), (lo, hi), integrality=np.ones(nx), time_limit=_AGGREGATE_TIME_LIMIT
            )
        if found is None:
            return None
        x = np.round(found)
        if not _satisfies(x, a, b):
            return None  # not an integer point of the system: no witness from it
        return members, x

    def _pick_columns(
        self,
        nj: int,
        local_rows: np.ndarray,
        jobs_hit: np.ndarray,
        cells_hit: np.ndarray,
        gain: np.ndarray,
        per_job: np.ndarray,
    ) -> list[np.ndarray]:
        """Per job, the few improving held cells most likely to close a cycle with ``S``.

        A held cell whose equations are already in the local problem can move without
        disturbing anything outside it, so it is preferred; then the larger reduced cost,
        then the larger true value (more room to move down).
        """
        csc = self.cols_csc
        counts, pos = matrix_entries(csc, cells_hit)
        rep = np.repeat(np.arange(len(cells_hit)), counts)
        rows = csc.indices[pos]
        keys = jobs_hit[rep] * np.int64(self.nrows) + rows
        where = np.searchsorted(local_rows, keys)
        where[where == len(local_rows)] = 0
        inside = local_rows[where] == keys
        linked = np.bincount(rep, weights=inside, minlength=len(cells_hit))
        order = np.lexsort((-self.xstar[cells_hit], -gain, -linked, jobs_hit))
        jobs_sorted = jobs_hit[order]
        cells_sorted = cells_hit[order]
        cuts = np.searchsorted(jobs_sorted, np.arange(nj + 1))
        empty = np.zeros(0, dtype=np.int64)
        extra = [empty] * nj
        for j in np.unique(jobs_sorted).tolist():
            extra[j] = cells_sorted[cuts[j] : min(cuts[j + 1], cuts[j] + int(per_job[j]))]
        return extra

    def _local_matrix(self, pairs: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
        """The equations that hold any of ``pairs``, over ``pairs`` (in their order), and
        their constants with every cell at its true value."""
        csc = self.cols_csc
        counts, pos = matrix_entries(csc, pairs)
        rows, row = distinct_where(csc.indices[pos], self.nrows)
        col = np.repeat(np.arange(len(pairs)), counts)
        a = sp.csr_matrix((csc.data[pos], (row, col)), shape=(len(rows), len(pairs)))
        return a, a @ self.xstar[pairs]

    def _rounded_point(
        self,
        cell: int,
        sense: int,
        pairs: np.ndarray,
        point: np.ndarray,
        goal: float | None = None,
    ) -> tuple[np.ndarray | None, bool]:
        """An integer point over ``pairs`` on the fractional LP optimum ``point`` rounded, or None.

        ``point`` must be the LP optimum of ``sense * x_cell`` over every cell that can move
        (``pairs`` with nothing outside it improving: a priced local LP, or the whole
        component), so that its value rounded bounds the integer optimum. The cells the LP left
        integral are held at their values; an integer program over the fractional ones (and
        ``cell``, then up to `_ROUNDING_RINGS` rings of cells sharing an equation with them)
        looks for that bound. Every point it finds is feasible for the whole system (checked),
        so reaching the bound proves it the integer optimum, without an integer program over
        the whole component.

        goal: also take a point that takes the cell to ``goal`` (up, or down for ``sense`` -1):
            it decides the cell in check mode (see `bounds`) without proving the bound.
        Returns (the point or None, whether it reaches the bound).
        """
        where = int(np.searchsorted(pairs, cell))
        fractional = np.abs(point - np.round(point)) > 1e-6
        fractional[where] = True
        if int(fractional.sum()) > _ROUNDING_MAX_CELLS:
            return None, False  # before building the local matrix
        value = float(point[where])
        bound = math.floor(value + 1e-6) if sense > 0 else math.ceil(value - 1e-6)
        c = np.zeros(len(pairs))
        c[where] = -sense
        a, b = self._local_matrix(pairs)

        def accept(x: np.ndarray) -> bool:
            reached = round(x[where])
            return reached == bound or (goal is not None and sense * reached >= sense * goal)

        found = _integer_near(a, b, point, c, accept, always_free=np.array([where]))
        return found, found is not None and round(found[where]) == bound

    def _integer_optimum(
        self, cell: int, sense: int, pairs: np.ndarray, lp_value: float
    ) -> tuple[float, bool, np.ndarray]:
        """Integer optimum when the (whole-system) LP optimum ``lp_value`` is fractional."""
        bound = math.floor(lp_value + 1e-6) if sense > 0 else math.ceil(lp_value - 1e-6)
        local, local_ok = self._milp(cell, sense, pairs)
        if local == bound:
            return float(bound), True, pairs
        component = self._component_cells(cell)
        if len(component) == len(pairs):
            return local, local_ok, pairs
        full, full_ok = self._milp(cell, sense, component)
        best = max(full, local) if sense > 0 else min(full, local)
        return best, full_ok, component

    def _milp(self, cell: int, sense: int, pairs: np.ndarray) -> tuple[float, bool]:
        """Integer optimum of x_cell over ``pairs`` (others held); (feasible value, proven)."""
        a, b = self._local_matrix(pairs)
        c = np.zeros(len(pairs))
        where = int(np.searchsorted(pairs, cell))
        c[where] = -sense
        found, proven = highs.milp(
            c,
            a,
            (b, b),
            (0.0, np.inf),
            integrality=np.ones(len(pairs)),
            time_limit=_MILP_TIME_LIMIT,
        )
        if found is None:
            return float(self.xstar[cell]), False
        return float(round(found[where])), proven


def _solve_lp(c: np.ndarray, a: sp.csc_matrix, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """min c x s.t. a x = b, x >= 0 by HiGHS dual simplex: (vertex solution, row duals).

    The row duals are the sensitivities d(objective)/d(b), as ``linprog``'s marginals.
    """
    m, n = a.shape
    if not highs.available() or m == 0:
        from scipy.optimize import linprog  # see `privacy.highs`

        kwargs = {"A_eq": a, "b_eq": b} if m else {}
        res = linprog(c, bounds=(0, None), method="highs-ds", **kwargs)
        if res.status != 0:
            raise RuntimeError(f"local LP failed ({res.status}): {res.message}")
        duals = res.eqlin.marginals if m else np.zeros(0)
        return res.x, np.asarray(duals, dtype=np.float64)
    solver = highs.solver(c, a, b, strategy=1)  # dual simplex: a vertex, as highs-ds
    solver.run()
    if not highs.optimal(solver):
        status = solver.modelStatusToString(solver.getModelStatus())
        raise RuntimeError(f"local LP failed: {status}")
    solution = solver.getSolution()
    return np.asarray(solution.col_value), np.asarray(solution.row_dual)


class _WarmLP:
    """One component's LP (A x = A x*, x >= 0 over its hidden cells), kept for warm solves.

    Rows that only bound one cell (public rate bounds) are that cell's bounds in the model
    (`privacy.bound_rows`): a kept model skips presolve, which would take them out of a cold
    one."""

    def __init__(self, members: np.ndarray, a: sp.csr_matrix, b: np.ndarray) -> None:
        self.members = members
        n = len(members)
        self.rows = BoundRows(a, b)
        lo, hi = self.rows.bounds(np.zeros(n), np.full(n, np.inf))
        # the first solve, from scratch: dual simplex without presolve, later ones primal (see
        # `solve`). Scale 1, 2023-24, the 9 large parts, 3 alternated runs: the 7 first solves
        # took 0.29-0.33 s of CPU, against 0.80-0.88 s by primal simplex with presolve, and
        # all solves of these models 0.71-0.84 s against 1.14-1.24 s; the same statuses
        self.solver = highs.bounded_solver(
            np.zeros(len(lo)),
            self.rows.a.tocsc(),
            (self.rows.b, self.rows.b),
            (lo, hi),
            strategy=1,
            presolve=False,
        )
        self.solved = False
        self.lo, self.hi = lo, hi  # the kept columns' bounds now
        self.free = np.ones(n, dtype=bool)
        self.costed = np.zeros(0, dtype=np.int32)

    def solve(
        self, cell: int, sense: int, free: np.ndarray, truth: np.ndarray
    ) -> np.ndarray | None:
        """A vertex maximising ``sense * x_cell``; cells not ``free`` held at ``truth``.

        Primal simplex from the last optimal basis (the model's first solve: dual simplex,
        from scratch); the vertex may be fractional (the caller rounds it, or solves the LP
        again from scratch: `resolve`).
        """
        if (free != self.free).any():
            lo, hi = self.rows.bounds(np.where(free, 0.0, truth), np.where(free, np.inf, truth))
            changed = np.flatnonzero((lo != self.lo) | (hi != self.hi))
            if len(changed):
                self.solver.changeColsBounds(
                    len(changed), changed.astype(np.int32), lo[changed], hi[changed]
                )
            self.lo, self.hi, self.free = lo, hi, free.copy()
        c = np.zeros(len(self.members))
        c[int(np.searchsorted(self.members, cell))] = -float(sense)
        costs = self.rows.costs(c)
        if len(self.costed):
            self.solver.changeColsCost(len(self.costed), self.costed, np.zeros(len(self.costed)))
        self.costed = np.flatnonzero(costs).astype(np.int32)
        self.solver.changeColsCost(len(self.costed), self.costed, costs[self.costed])
        self.solver.run()
        if not self.solved:
            self.solved = True
            self.solver.setOptionValue("simplex_strategy", 4)  # primal: warm after cost changes
        return self._optimum()

    def resolve(self) -> np.ndarray | None:
        """The last LP solved again, from scratch, by dual simplex.

        On these sum systems it usually lands on an integral vertex, and it leaves the model
        there: warm solves started from an integral vertex mostly stay integral, while those
        started from a fractional one mostly do not (on the largest part of a scale-1 public
        release, 128 of 184 warm solves were fractional and each went on to a cold solve of
        its own; re-solving in place, 26 cold solves in all, 21 s -> 10 s).
        """
        self.solver.clearSolver()  # the basis, not the model
        # as the first solve: dual simplex, without presolve (the model's setting: at scale 1,
        # the graduation parts' cold re-solves 2.2 -> 1.0 s with it off, and fewer of them)
        self.solver.setOptionValue("simplex_strategy", 1)
        self.solver.run()
        self.solver.setOptionValue("simplex_strategy", 4)
        return self._optimum()

    def _optimum(self) -> np.ndarray | None:
        """The last optimum over every member (slacks put back), or None."""
        if not highs.optimal(self.solver):
            return None
        return self.rows.restore(np.asarray(self.solver.getSolution().col_value))


class _WarmAggregate:
    """The whole-component LP of `Attacker._aggregate_point`, kept for warm re-solves.

    Columns: the members' values ``x``, then per candidate target an up credit ``u`` and a
    down credit ``d``; rows: the members' equations (every other cell held at its true value,
    so any solution is a feasible point of the whole system), then ``u_j - x_j <= -v_j`` and
    ``d_j + x_j <= v_j`` (v: true values). A round switches on the rows and credits of its
    targets (their costs, bounds and row bounds) and switches off the rest (credit 0, row
    free), so each round asks what the cold LP of `_aggregate_point` asks (which caps each
    target's move by its own bounds instead), started from the last basis: the first solve by
    dual simplex, later ones by primal simplex (warm after cost changes). Capping by bounds
    here too made the warm solves faster but left more to the cold and per-cell LPs (scale 1:
    the large parts about 1 s slower in all). Rows that only bound a cell (public rate
    bounds) are that cell's bounds in the model, as in `_WarmLP` (the targets' own columns
    stay: their credit rows hold them).
    """

    def __init__(
        self,
        members: np.ndarray,
        a: sp.csr_matrix,
        b: np.ndarray,
        candidates: np.ndarray,
        xstar: np.ndarray,
    ) -> None:
        self.members = members
        self.candidates = candidates  # sorted
        self.xstar = xstar
        self.a, self.b = a, b
        col = np.searchsorted(members, candidates)
        # rows that only bound a cell are its bounds (see `_WarmLP`); the targets keep theirs
        self.rows = BoundRows(a, b, keep=col)
        x_lo, x_hi = self.rows.bounds(np.zeros(len(members)), np.full(len(members), np.inf))
        col = self.rows.position[col]
        nx, m, r = len(x_lo), len(candidates), self.rows.a.shape[0]
        self.nx, self.m, self.r = nx, m, r
        j = np.arange(m)
        link = sp.csr_matrix(
            (
                np.concatenate([np.ones(m), -np.ones(m), np.ones(m), np.ones(m)]),
                (
                    np.concatenate([j, j, m + j, m + j]),
                    np.concatenate([nx + j, col, nx + m + j, col]),
                ),
            ),
            shape=(2 * m, nx + 2 * m),
        )
        full = sp.vstack([sp.hstack([self.rows.a, sp.csr_matrix((r, 2 * m))]), link]).tocsc()
        inf = np.full(2 * m, np.inf)
        self.solver = highs.bounded_solver(
            np.zeros(nx + 2 * m),
            full,
            (np.concatenate([self.rows.b, -inf]), np.concatenate([self.rows.b, inf])),
            (np.concatenate([x_lo, np.zeros(2 * m)]), np.concatenate([x_hi, np.zeros(2 * m)])),
            strategy=1,
            # few candidates (a later attack round's): a few rounds at most, so the first
            # solve is most of the work, and it is faster without presolve; many: presolve
            # (without it, their later rounds slowed by as much as their first solve gained)
            presolve=m >= _WARM_PRESOLVE_MIN_CANDIDATES,
        )
        self.active = np.zeros(2 * m, dtype=bool)  # credit slots switched on
        self.solved = False

    def worth(self, targets: np.ndarray, labels: np.ndarray) -> bool:
        """Do ``targets``' components hold at least half the kept members? (Else a cold LP
        over those components alone is the smaller problem.)"""
        mine = np.isin(labels[self.members], labels[targets])
        return 2 * int(mine.sum()) >= len(self.members)

    def solve(
        self, targets: np.ndarray, sign: np.ndarray, gap: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(members, integer point) as `Attacker._aggregate_point` with ``whole``, or None
        (a target outside the candidates, no optimum, or a fractional one that `_integer_near`
        could not round)."""
        nx, m, r = self.nx, self.m, self.r
        j = np.searchsorted(self.candidates, targets)
        if (j >= m).any() or (self.candidates[np.minimum(j, m - 1)] != targets).any():
            return None
        v = self.xstar[targets]
        slot = np.where(sign > 0, j, m + j)
        now = np.zeros(2 * m, dtype=bool)
        now[slot] = True
        off = np.flatnonzero(self.active & ~now)
        for s in off.tolist():
            self.solver.changeRowBounds(r + s, -np.inf, np.inf)
        if len(off):
            zero = np.zeros(len(off))
            self.solver.changeColsCost(len(off), (nx + off).astype(np.int32), zero)
            self.solver.changeColsBounds(len(off), (nx + off).astype(np.int32), zero, zero)
        for s, rhs in zip(slot.tolist(), np.where(sign > 0, -v, v).tolist(), strict=True):
            self.solver.changeRowBounds(r + s, -np.inf, rhs)
        cols = (nx + slot).astype(np.int32)
        self.solver.changeColsCost(len(slot), cols, -1.0 / gap)
        # as in `_aggregate_point`: a credit may go negative, capped so that one target's loss
        # never outweighs many targets' gains
        lo = -np.where(sign > 0, np.minimum(v, gap), gap)
        self.solver.changeColsBounds(
            len(slot), cols, lo.astype(np.float64), np.asarray(gap, dtype=np.float64)
        )
        self.active = now
        self.solver.run()
        if not self.solved:
            self.solved = True
            self.solver.setOptionValue("simplex_strategy", 4)  # primal: warm after cost changes
            # without perturbing bounds against degenerate pivots: on these systems, whose
            # vertices are very degenerate, the perturbation's clean-up cost more than it
            # saved (the school table's large part: 0.70 -> 0.46 s of CPU in these solves)
            self.solver.setOptionValue("primal_simplex_bound_perturbation_multiplier", 0.0)
        if not highs.optimal(self.solver):
            return None
        x = self.rows.restore(np.asarray(self.solver.getSolution().col_value)[:nx])
        if np.abs(x - np.round(x)).max() > 1e-6:
            # its few fractional cells rounded; else the cold path solves it as an integer
            # program where worth it
            col = np.searchsorted(self.members, targets)
            costs = _credit_costs(len(self.members), col, sign, gap)
            near = _integer_near(self.a, self.b, x, costs, _any_point)
            return None if near is None else (self.members, near)
        x = np.round(x)
        if not _satisfies(x, self.a, self.b):
            return None
        return self.members, x


def _integer_near(
    a: sp.csr_matrix,
    b: np.ndarray,
    point: np.ndarray,
    c: np.ndarray,
    accept: Callable[[np.ndarray], bool],
    always_free: np.ndarray = _NOTHING,
) -> np.ndarray | None:
    """An integer point of ``a x = b, x >= 0`` near the fractional feasible ``point``, or None.

    The cells ``point`` leaves integral are held at their values; a small integer program
    (objective ``c``, at most `_ROUNDING_NODES` nodes) solves for the fractional ones and
    ``always_free``, then for up to `_ROUNDING_RINGS` rings of cells sharing an equation with
    them (a short equation where there is one, see `_ROUNDING_SHORT_ROW`), until it finds a
    point that ``accept`` takes (given the whole integer point). Every point returned
    satisfies ``a x = b`` exactly (checked): with ``a, b`` a part of the system whose other
    cells keep their true values, a feasible point of the whole system.
    """
    rounded = np.round(point)
    fractional = np.abs(point - rounded) > 1e-6
    fractional[always_free] = True
    if fractional.sum() > _ROUNDING_MAX_CELLS:
        return None
    a_csc = a.tocsc()
    lengths = np.diff(a.indptr)
    for _ in range(_ROUNDING_RINGS + 1):
        free = np.flatnonzero(fractional)
        sub = a_csc[:, free].tocsr()
        rows = np.flatnonzero(np.diff(sub.indptr))
        rhs = b - a @ np.where(fractional, 0.0, rounded)
        found, _ = highs.milp(
            c[free],
            sub[rows],
            (rhs[rows], rhs[rows]),
            (0.0, np.inf),
            integrality=np.ones(len(free)),
            node_limit=_ROUNDING_NODES,  # a cap on work, not on time
        )
        if found is not None:
            candidate = rounded.copy()
            candidate[free] = np.round(found)
            if accept(candidate) and _satisfies(candidate, a, b):
                return candidate
        # free the cells that share a short equation with those free now (else any
        # equation), and try again
        grown = fractional.copy()
        short = rows[lengths[rows] <= _ROUNDING_SHORT_ROW]
        grown[a[short].indices] = True
        if grown.sum() == fractional.sum():
            grown[a[rows].indices] = True
        if grown.sum() == fractional.sum() or grown.sum() > _ROUNDING_MAX_CELLS:
            return None
        fractional = grown
    return None


def _goals(
    hi: np.ndarray, lo: np.ndarray, need_upper: np.ndarray, need_width: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(check mode) Where a point must take each cell, up or down, to decide it, given the
    highest (``hi``) and lowest (``lo``) values proven for it so far: up to the upper end it
    needs and a width from ``lo``; down to a width below ``hi``, and only where ``hi`` already
    reaches the upper end it needs (NaN elsewhere: no point down decides it)."""
    up = np.maximum(need_upper, lo + need_width)
    down = np.where(hi >= need_upper, hi - need_width, np.nan)
    return up, down


def _credit_costs(nx: int, col: np.ndarray, sign: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """Costs over the moving cells that reward moving each target (column ``col``) its way,
    per unit of the move it needs (``sign * gap``): what rounding a shared point keeps."""
    c = np.zeros(nx)
    np.add.at(c, col, -sign / gap)
    return c


def _any_point(_: np.ndarray) -> bool:
    """Any feasible integer point is a witness for every cell it moves."""
    return True


def _satisfies(x: np.ndarray, a: sp.csr_matrix, b: np.ndarray) -> bool:
    """Is the integer vector ``x`` (the moving cells' values) non-negative with ``a x = b``
    (their equations, every other cell at its true value)? Then it is a feasible point of the
    whole system, a witness for every cell it moves. (Integer data: compared exactly.)"""
    return bool((x >= 0).all()) and (a.shape[0] == 0 or bool(np.array_equal(a @ x, b)))


def _first_of_each(groups: np.ndarray, k: int) -> np.ndarray:
    """Mask of the first ``k`` entries of each run of equal values in sorted ``groups``."""
    return np.arange(len(groups)) - np.searchsorted(groups, groups) < k


def _batches(
    jobs: list[tuple[int, int, np.ndarray, int]],
) -> Iterable[list[tuple[int, int, np.ndarray, int]]]:
    batch: list[tuple[int, int, np.ndarray, int]] = []
    size = 0
    for job in jobs:
        batch.append(job)
        size += len(job[2])
        if size >= _BATCH_PAIRS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch
