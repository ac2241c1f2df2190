"""Releasing tables: joint protection of everything published for a school year.

Every table leaves through here. For each school year there is one public release: the whole
public catalogue laid out as ONE cell system (linked tables share cells; school -> district ->
state sums; performance levels sum to the tested; program flag pairs sum to the total),
protected once, level by level (`_protect_top_down`), recorded in the release registry and
reused by every page and export. A
custom table is protected together with everything already released for its year: cells shown
before must stay shown, cells hidden before must stay hidden, so no combination of tables
undoes a suppression; if that is impossible the request is refused.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from privacy import gc_pause, parallel
from privacy.auditor import AuditReport, audit, joined_reports, proven_by_points
from privacy.catalogue import CatalogueEntry, public_catalogue
from privacy.cell_build import SystemBase, build_system, is_latent
from privacy.cells import (
    CellSystem,
    concat_ranges,
    constraints_of,
    distinct,
    matrix_entries,
    side_by_side,
)
from privacy.noise import NoiseSpec
from privacy.policy import Policy, load_policy
from privacy.registry import (
    KnownCells,
    RegistryConflictError,
    known_cells,
    last_seq,
    new_release_id,
    record_release,
    release_cells,
    releases,
)
from privacy.requests import GEOGRAPHIES, TableRequest
from privacy.suppression import Part, PartResult, ProtectionError, protect_part, protect_parts
from privacy.tables import (
    POPULATION_OF,
    SHOWN,
    SUPPRESSED_COMPLEMENT,
    SUPPRESSED_SMALL,
    ProtectedTable,
    TableLayout,
    hide_required,
    layout_table,
    render_table,
    staff_table,
)
from warehouse import aggregates
from warehouse.connection import connect_readonly, file_identity, resolve_db_path

_MAX_ATTEMPTS = 4
_PARALLEL_MIN_CELLS = 2000  # parts this large are worth a process of their own
# a top-down release of this many cells keeps worker processes for all its levels (two
# processes: 11,500 cells at scale 0.1 took 3.9 s instead of 4.8 s; 2,100 at scale 0.01,
# 2.7 s instead of 2.2 s)
_POOL_MIN_CELLS = 5_000
# parts this large skip the passes that hide fewer complements (exact re-choice, show again):
# they pay on small parts, not on large ones (see `_protect_once`)
_MINIMISE_MAX_CELLS = 2000
# what worker processes import as they start, before the first part reaches them (the
# module of `protect_parts` only: not the release, registry and warehouse code around it)
_WORKER_MODULES = ("privacy.suppression",)
STAFF_RELEASE_ID = "open-records"


class Requester(Protocol):
    """Anyone signed in: only the id is used (it is stored with the release)."""

    user_id: str


log = logging.getLogger(__name__)


class ReleaseRefusedError(ValueError):
    """The table cannot be protected consistently with what is already released.

    keys: the cells at fault, when known.
    settled: the statuses of the independent parts that were protected (key -> status, one
        dict per part), which a retry that changes nothing in them may keep.
    """

    def __init__(
        self,
        message: str,
        keys: Sequence[str] = (),
        settled: Sequence[dict[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.keys = list(keys)
        self.settled = list(settled)


class LazyTables(Mapping[str, ProtectedTable]):
    """Catalogue name -> ProtectedTable, each rendered from the release's statuses on first use.

    A page needs a few of a year's tables; rendering all of them when the release is read back
    cost seconds at scale 1. Every table renders the same recorded statuses, so rendering
    later (or twice, by two threads at once) never changes what is shown.
    """

    def __init__(self, names: Sequence[str], render: Callable[[str], ProtectedTable]) -> None:
        self._names = list(names)
        self._known = frozenset(self._names)
        self._render = render
        self._done: dict[str, ProtectedTable] = {}

    def __getitem__(self, name: str) -> ProtectedTable:
        table = self._done.get(name)
        if table is None:
            if name not in self._known:
                raise KeyError(name)
            # no lock held while rendering (it takes the snapshot's locks): a race renders
            # the same table twice and keeps the first
            table = self._done.setdefault(name, self._render(name))
        return table

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@dataclass
class PublicRelease:
    """The jointly protected public release of one school year.

    tables: catalogue name -> ProtectedTable; every table carries this release's id (read
    back from the registry, a table is rendered when first asked for).
    """

    release_id: str
    school_year: str
    build_id: str
    tables: Mapping[str, ProtectedTable]
    catalogue: list[CatalogueEntry] = field(repr=False)

    def render_all(self, stop: threading.Event | None = None) -> None:
        """Render every table of the release now, in catalogue order.

        For a server warming its cache, so that no viewer's first click waits for a table to
        render; what any table shows is the same whenever it is rendered.
        stop: when set, return before the next table (a server shutting down).
        """
        for name in self.tables:
            if stop is not None and stop.is_set():
                return
            self.tables[name]

    def table(self, name: str) -> ProtectedTable:
        """The public table `name` (ValueError naming the catalogue if unknown)."""
        try:
            return self.tables[name]
        except KeyError:
            raise ValueError(
                f"no public table named {name!r}; see privacy.public_catalogue()"
            ) from None


# -- warehouse snapshot --------------------------------------------------------------------


@dataclass
class _Snapshot:
    """Exact counts read once per warehouse file (never leaves this module unprotected)."""

    path: Path
    build_id: str
    years: tuple[str, ...]
    schools: pl.DataFrame
    districts: frozenset[str]
    facts: dict[tuple[str, str], pl.DataFrame] = field(default_factory=dict)
    staff: dict[tuple, pl.DataFrame] = field(default_factory=dict)
    layouts: dict[str, TableLayout] = field(default_factory=dict)
    public: dict[str, PublicRelease] = field(default_factory=dict)
    public_statuses: dict[str, dict[str, str]] = field(default_factory=dict)
    # per year: the registry's cells as of its last sequence number; per (year, population):
    # the equations of what was released as of a sequence number (see `_old_equations`)
    known: dict[str, KnownCells] = field(default_factory=dict)
    equations: dict[tuple[str, str], tuple[int, set[tuple[str, tuple[str, ...]]]]] = field(
        default_factory=dict
    )
    lock: threading.RLock = field(default_factory=threading.RLock)
    # one computation of a population's equations at a time (a read-ahead thread and a staff
    # member's first table must not both compute them)
    equation_locks: dict[tuple[str, str], threading.Lock] = field(default_factory=dict)
    # per (year, population): the cell system of what was released (see `_system_base`)
    bases: dict[tuple[str, str], SystemBase] = field(default_factory=dict)
    base_locks: dict[tuple[str, str], threading.Lock] = field(default_factory=dict)

    def known_cells(self, year: str) -> KnownCells:
        """Every cell released so far for `year` (re-read only when a release was recorded)."""
        seq = last_seq(self.path, self.build_id, year)
        with self.lock:
            cached = self.known.get(year)
            if cached is not None and cached.last_seq == seq:
                return cached
        fresh = known_cells(self.path, self.build_id, year, since=cached)
        with self.lock:
            self.known[year] = fresh
        return fresh

    def fact(self, population: str, year: str) -> pl.DataFrame:
        with self.lock:
            if (population, year) not in self.facts:
                con = connect_readonly(self.path)
                try:
                    self.facts[(population, year)] = aggregates.fact_counts(con, population, year)
                finally:
                    con.close()
            return self.facts[(population, year)]

    def units(self, population: str, year: str) -> pl.DataFrame:
        present = self.fact(population, year).select("school_id").unique()
        return self.schools.join(present, on="school_id", how="semi")

    def layout(self, request: TableRequest) -> TableLayout:
        key = request.to_json()
        with self.lock:
            if key not in self.layouts:
                pop = POPULATION_OF[request.measure]
                year = request.school_year
                self.layouts[key] = layout_table(
                    request, self.fact(pop, year), self.units(pop, year)
                )
            return self.layouts[key]

    def staff_counts(self, request: TableRequest) -> pl.DataFrame:
        key = request.to_json()
        with self.lock:
            if key not in self.staff:
                con = connect_readonly(self.path)
                try:
                    self.staff[key] = aggregates.staff_counts(
                        con,
                        request.school_year,
                        request.geography,
                        request.table_dimensions,
                        request.filters,
                    )
                finally:
                    con.close()
            return self.staff[key]


_SNAPSHOTS: dict[tuple[str, tuple[int, int, int]], _Snapshot] = {}
_SNAPSHOT_LOCK = threading.Lock()


def _snapshot(db_path: str | os.PathLike[str] | None) -> _Snapshot:
    path = resolve_db_path(db_path).resolve()
    if path.is_file():
        # the file as it is now (a rebuild swaps in a new file: a new identity)
        with _SNAPSHOT_LOCK:
            snap = _SNAPSHOTS.get((str(path), file_identity(path)))
        if snap is not None:
            return snap
    con = connect_readonly(path)
    try:
        ident = file_identity(path)
        cache_key = (str(path), ident)
        with _SNAPSHOT_LOCK:
            snap = _SNAPSHOTS.get(cache_key)
            if snap is not None:
                return snap
        build = aggregates.build_id(con)
        years = tuple(aggregates.school_years(con))
        schools = con.sql(
            "SELECT s.school_id, s.district_id, s.school_name, d.district_name "
            "FROM schools s JOIN districts d ON d.district_id = s.district_id"
        ).pl()
    finally:
        con.close()
    snap = _Snapshot(
        path=path,
        build_id=build,
        years=years,
        schools=schools.select("district_id", "district_name", "school_id", "school_name"),
        districts=frozenset(schools["district_id"].to_list()),
    )
    with _SNAPSHOT_LOCK:
        for old in [k for k in _SNAPSHOTS if k[0] == str(path)]:
            del _SNAPSHOTS[old]
        _SNAPSHOTS[cache_key] = snap
    return snap


def _check_year(years: Sequence[str], year: str) -> None:
    if year not in years:
        raise ValueError(f"unknown school year {year!r}; the warehouse holds {', '.join(years)}")


def _check_against_warehouse(snap: _Snapshot, request: TableRequest) -> None:
    _check_year(snap.years, request.school_year)
    district = request.filter_value("district_id")
    if district is not None and district not in snap.districts:
        raise ValueError(f"unknown district_id {district!r}")
    school = request.filter_value("school_id")
    if school is not None:
        match = snap.schools.filter(pl.col("school_id") == school)
        if match.is_empty():
            raise ValueError(f"unknown school_id {school!r}")
        if district is not None and match["district_id"][0] != district:
            raise ValueError(f"school {school} is not in district {district}")


# -- the cell system -----------------------------------------------------------------------


def complement_ranks(keys: Sequence[str]) -> np.ndarray:
    """How reluctantly each cell is hidden as a complement: by geography, school 0 to state 2.

    A small school cell is then covered by other school cells, and a statewide figure is
    hidden only when nothing finer can do. The geography is a key's second part (see
    `_geography_of`): "state", "D:<district>" (1); anything else, schools included, is 0.
    """
    parts = pl.Series("key", list(keys), dtype=pl.String).str.split("|")
    geography = pl.when(parts.list.len() > 2).then(parts.list.get(1, null_on_oob=True))
    ranks = pl.select(
        pl.when(geography == "state")
        .then(2)
        .when(geography.str.starts_with("D"))
        .then(1)
        .otherwise(0)
        .fill_null(0)
    ).to_series()
    return ranks.to_numpy().astype(np.int64)


# a proving point: (a table of cell keys, shared by the points of one protection run; the
# cells the point moves, as positions in that table; their values in the point)
Witness = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class _Protected:
    statuses: dict[str, str]
    # the points that proved the hidden cells, as (cell keys, values) each (see
    # `privacy.suppression.Protection.witnesses`): proofs an audit checks, not trusts
    witnesses: list[Witness] = field(default_factory=list, repr=False)
    # the cell system of the layouts protected (no public bounds added), for an audit of the
    # result (`checked_release`), so that it is not laid out twice; None if not kept
    system: CellSystem | None = field(default=None, repr=False)
    # the built-in attacker's check of the result, where the protection made it (see
    # `_protect_top_down`'s ``check``); None if not made
    report: AuditReport | None = field(default=None, repr=False)


@gc_pause.pausing
def _protect(
    layouts: Sequence[TableLayout],
    units: dict[str, pl.DataFrame],
    policy: Policy,
    *,
    known: dict[str, str] | None = None,
    earlier: Sequence[TableLayout] = (),
    old_equations: set[tuple[str, tuple[str, ...]]] | None = None,
    base: SystemBase | None = None,
    workers: int = 1,
    pool: parallel.Processes | None = None,
    system: CellSystem | None = None,
    meanwhile: Callable[[], None] | None = None,
    hold: frozenset[str] = frozenset(),
    settle_with: Sequence[Witness] = (),
    levels_after: int = 0,
) -> _Protected:
    """Protect `layouts` jointly; cells released before (`known`: key -> status) keep it.

    workers: processes for independent parts of the cell system (see `_run_parts`).
    pool: worker processes the caller keeps (for every level of `_protect_top_down`).
    system: the cell system of `layouts` (`build_system`), if the caller laid it out already
        (`_protect_levels` does so while the worker processes protect the level before).
    meanwhile: called once the worker processes have the parts (see `_run_parts`).
    hold: keys of cells that the next level's new sums will hold; their proofs should leave
        them alone (`privacy.suppression.protect`'s ``hold``; see `_tied_below`).
    settle_with: proving points of the levels protected before (`_Protected.witnesses`): a cell
        hidden before whose checked points prove it passes, moving only cells hidden before,
        is not attacked again (`privacy.suppression.protect`'s ``settled``).
    levels_after: how many levels of the population wait for this one (see `_run_parts`).

    earlier: the layouts released before (among `layouts`), whose hidden cells in `known` were
    proven safe against them; those cells are attacked again only where a new equation
    reaches them (see `privacy.suppression.protect`'s `proven`).
    old_equations: the equations of `earlier` (`_equation_keys`), if the caller has them.
    base: the cell system of the first layouts (`SystemBase`, e.g. of `earlier`), extended by
        the others instead of laying them all out again; the attacker sees the same sums.

    The rate displays of the result tell the public bounds on hidden counts (a coded range,
    or a "*" that could have been a range: see `rate_bounds`). Which bounds are read depends
    on which counts end up hidden over shown group sizes, so every bound that could be read
    is modelled from the start (`_possible_rate_bounds`): a bound on a count that ends up
    shown adds nothing, and one over a group size that ends up hidden only makes the
    attacker stronger (safe side). Where such a bound leaves a small cell no room, the
    protection is refused; the group sizes behind the bounds near it are then hidden too
    (`_bounding_groups`) and protection runs again. If a bound ever appears that was not
    modelled, protection runs again with it, keeping what the previous run hid.
    """
    known = known or {}
    if old_equations is None and earlier:
        old_equations = _equation_keys(earlier, units, known, policy)
    # every bound a rate display could tell, modelled from the start: a bound for a count that
    # ends up shown says nothing new, and one whose group size ends up hidden only makes the
    # attacker stronger; the loop below then usually ends after one protection
    bounds = _possible_rate_bounds(layouts, known, policy)
    hidden_before: set[str] = set()
    opened: set[str] = set()  # group sizes hidden so that their rates bound nothing
    kept: dict[str, str] = {}  # parts protected in a refused run that the retry leaves alone
    # the cell system of `layouts`, laid out once: every run copies it (and adds its bounds)
    if system is None:
        system = build_system(layouts, units) if base is None else base.extend(layouts)
    while True:
        witnesses: list[Witness] = []
        try:
            statuses = _protect_once(
                layouts,
                units,
                policy,
                {**kept, **known},
                bounds,
                hidden_before | opened,
                old_equations,
                system=system,
                workers=workers,
                witnesses=witnesses,
                pool=pool,
                meanwhile=meanwhile,
                hold=hold,
                settle_with=settle_with,
                levels_after=levels_after,
            )
        except ReleaseRefusedError as exc:
            more = _bounding_groups(layouts, units, exc.keys, bounds, known, system) - opened
            if not more:
                raise
            log.info("hiding %d group size(s) whose rates pinned refused cells", len(more))
            opened |= more
            # a part that holds no group size hidden now is independent of the change
            kept = {
                k: st for part in exc.settled if not opened & part.keys() for k, st in part.items()
            }
            denominator = _denominator_keys(layouts)
            bounds = {k: b for k, b in bounds.items() if denominator.get(k) not in opened}
            continue
        found = rate_bounds(layouts, statuses, policy)
        new = [k for k, b in found.items() if bounds.get(k) != b]
        if not new:
            return _Protected(statuses, witnesses, system)
        log.info("%d rate bound(s) not modelled, e.g. %s: protecting again", len(new), new[:3])
        bounds.update(found)
        hidden_before = {k for k, st in statuses.items() if st != SHOWN}


def _possible_rate_bounds(
    layouts: Sequence[TableLayout], known: dict[str, str], policy: Policy
) -> dict[str, tuple[int, int | None]]:
    """The bounds `rate_bounds` would read for each count if it were hidden and its group shown.

    Left out where that cannot happen: counts shown before, group sizes hidden before.
    """
    return _bounds_where(layouts, policy, known, (None, SHOWN))


def _denominator_keys(layouts: Sequence[TableLayout]) -> dict[str, str]:
    """Cell key -> the key of the group size its rate is computed on."""
    out: dict[str, str] = {}
    for lay in layouts:
        out.update(lay.denominator_keys())
    return out


def _bounding_groups(
    layouts: Sequence[TableLayout],
    units: dict[str, pl.DataFrame],
    keys: Sequence[str],
    bounds: dict[str, tuple[int, int | None]],
    known: dict[str, str],
    system: CellSystem,
) -> set[str]:
    """Shown group sizes whose rate displays bound cells near the refused ``keys``.

    A hidden count's rate display ("*", or a coded range) tells the public bounds on it once
    its group size is shown (`rate_bounds`). Such a bound beside a small cell can leave the
    small cell no room: a "*" over 126 students says at least 13, which in a row of 18 caps
    its neighbours at 5. Protection takes the bounds as given, so it cannot see that hiding
    the group size would lift them; the caller hides these group sizes and retries. Group
    sizes released before (``known``) cannot be hidden and are left out. Looks at the
    refused cells' equation neighbours, then at theirs (in ``system``, that of `layouts`).
    """
    denominator = _denominator_keys(layouts)
    near = set(keys)
    for _ in range(2):
        near = _neighbours(layouts, units, sorted(near), system)
        found = {
            denominator[k]
            for k in near
            if k in bounds and k in denominator and denominator[k] not in known
        }
        if found:
            return found
    return set()


def _equation_keys(
    layouts: Sequence[TableLayout],
    units: dict[str, pl.DataFrame],
    statuses: dict[str, str],
    policy: Policy,
    base: SystemBase | None = None,
) -> set[tuple[str, tuple[str, ...]]]:
    """Every equation of a released cell system (with its public bounds), by cell keys.

    base: the cell system of `layouts` if the caller keeps one (`_system_base`).
    """
    system = build_system(layouts, units) if base is None else base.extend(layouts)
    found = rate_bounds(layouts, statuses, policy)
    system.add_bounds({system.index[k]: b for k, b in found.items()})
    return {_equation_key(system, p, ch) for p, ch in system.constraints}


def _equation_key(
    system: CellSystem, parent: int, children: list[int]
) -> tuple[str, tuple[str, ...]]:
    """An equation named by its cell keys, the same in any cell system that holds it."""
    return system.keys[parent], tuple(sorted(system.keys[c] for c in children))


@gc_pause.pausing
def _protect_top_down(
    layouts: Sequence[TableLayout],
    units: dict[str, pl.DataFrame],
    policy: Policy,
    *,
    known: dict[str, str] | None = None,
    workers: int = 1,
    check: bool = False,
) -> _Protected:
    """Protect `layouts` level by level (`_protect_levels`), each population on its own.

    No sum joins two populations (`privacy.cell_build` sums cells of one population and
    year only), so the tables of each population (`_populations`) are protected apart, with
    the statuses a joint run gives, and a unit freed after a refusal frees only the cells of
    the population at fault.

    check: also attack each population's result as soon as it is protected (`_attack`, with
    its proving points, as `checked_release` attacks the whole), while the other populations
    are still being protected; the result's ``report`` joins those audits
    (`privacy.auditor.joined_reports`): the same intervals and violations as one audit of the
    whole, since no equation joins two populations. The result then keeps no joint system.

    With ``workers`` processes, they are started once, before the first level (they import
    the protection code meanwhile), and serve every level of every population: the
    populations run side by side on threads of this process, so while one population's
    level waits for its slowest part, the parts of the others keep the processes busy. They
    are started only where the tables hold `_POOL_MIN_CELLS` cells (enough for large parts:
    a smaller release is protected sooner than the processes start).

    The population of most cells starts alone; the others start once it has handed the
    processes the parts of a level after its first (or has no such level, or has ended):
    `_protect_levels`' ``handed``. Its levels are the longest chain of the release (scale 1:
    assessment, whose district parts take 5-6 s of the processes' time before its school
    level can start), and the way to its first large parts is this process's work alone
    (laying out its district tables, the first parts' subsystems), which the others' threads
    slowed down by sharing the interpreter lock: its district parts then reached the
    processes after graduation's lone large part, which held one process for 4 s while the
    other protected the three district parts in turn. (Scale 1, 2023-24, on two cores, 4
    alternated pairs, each faster: median 10.15 -> 10.01 s, CPU 19.3 -> 19.2 s; the same
    statuses.)

    The garbage collector stays paused from start to end (`privacy.gc_pause`), not only
    within each `_protect`: between two of them, while no other population was inside one,
    it walked every live object of the release (scale 1, 2023-24: two full walks, 0.35 s of
    this process's time, for almost no garbage).
    """
    groups = _populations(layouts)
    if not groups and check:  # nothing to protect: nothing for the attacker either
        return _Protected({}, [], None, AuditReport({}, [], 0, 0.0, policy))
    cells = sum(lay.rows.height for lay in layouts)
    if workers < 2 or cells < _POOL_MIN_CELLS:
        found = [
            _protect_population(group, units, policy, known, workers, None, check)
            for group in groups
        ]
        return _joined(layouts, found)
    with parallel.Processes(workers, _WORKER_MODULES) as pool:
        handed = threading.Event()
        running = [
            parallel.beside(
                _protect_population, groups[0], units, policy, known, workers, pool, check, handed
            )
        ]
        handed.wait()
        running += [
            parallel.beside(_protect_population, group, units, policy, known, workers, pool, check)
            for group in groups[1:]
        ]
        outcomes: list[_Protected | BaseException] = []
        for future in running:  # every population ends before the processes do
            try:
                outcomes.append(future.result())
            except Exception as exc:
                outcomes.append(exc)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
    return _joined(layouts, [o for o in outcomes if isinstance(o, _Protected)])


def _protect_population(
    layouts: Sequence[TableLayout],
    units: dict[str, pl.DataFrame],
    policy: Policy,
    known: dict[str, str] | None,
    workers: int,
    pool: parallel.Processes | None,
    check: bool,
    handed: threading.Event | None = None,
) -> _Protected:
    """`_protect_levels` of one population's `layouts`, then (``check``) the attacker's check
    of its result on that population's cell system alone (see `_protect_top_down`).

    handed: set as `_protect_levels` sets it, and at the latest when that ends (or fails)."""
    try:
        found = _protect_levels(layouts, units, policy, known, workers, pool, handed)
    finally:
        if handed is not None:
            handed.set()
    if not check:
        return found
    system = found.system if found.system is not None else build_system(layouts, units)
    report = _attack(system.copy(), layouts, found.statuses, policy, found.witnesses)
    return _Protected(found.statuses, found.witnesses, system, report)


def _populations(layouts: Sequence[TableLayout]) -> list[list[TableLayout]]:
    """`layouts` grouped by population and year (the first part of their cell keys), the
    group of most cells first; a layout of no cell goes with the first group."""
    groups: dict[str, list[TableLayout]] = {}
    empty: list[TableLayout] = []
    for lay in layouts:
        if lay.rows.height == 0:
            empty.append(lay)
            continue
        pops = set(lay.rows["cell_key"].str.split("|").list.first().unique().to_list())
        if len(pops) != 1:
            raise ValueError(f"a table holds cells of {len(pops)} populations: {sorted(pops)}")
        groups.setdefault(pops.pop(), []).append(lay)
    ordered = sorted(
        groups.items(), key=lambda item: (-sum(lay.rows.height for lay in item[1]), item[0])
    )
    out = [group for _, group in ordered]
    if empty:
        out = [[*out[0], *empty], *out[1:]] if out else [empty]
    return out


def _joined(layouts: Sequence[TableLayout], parts: list[_Protected]) -> _Protected:
    """The protections of `layouts`' populations (`_populations`) as one: statuses in the
    order of `layouts`, every population's proving points, and either their audits joined
    (where each part has one: `privacy.auditor.joined_reports`) or their cell systems side
    by side (None if one is missing)."""
    statuses: dict[str, str] = {}
    witnesses: list[Witness] = []
    if not parts:
        return _Protected({}, [], None)
    for part in parts:
        statuses.update(part.statuses)
        witnesses += part.witnesses
    ordered = {k: statuses[k] for lay in layouts for k in lay.rows["cell_key"].to_list()}
    reports = [part.report for part in parts if part.report is not None]
    if reports and len(reports) == len(parts):  # each audited on its system (`_protect_population`)
        sizes = [len(part.system) for part in parts if part.system is not None]
        return _Protected(ordered, witnesses, None, joined_reports(reports, sizes))
    systems = [part.system for part in parts if part.system is not None]
    system = None
    if len(systems) == len(parts):
        system = systems[0] if len(systems) == 1 else side_by_side(systems)
    return _Protected(ordered, witnesses, system)


def _protect_levels(
    layouts: Sequence[TableLayout],
    units: dict[str, pl.DataFrame],
    policy: Policy,
    known: dict[str, str] | None,
    workers: int,
    pool: parallel.Processes | None,
    handed: threading.Event | None = None,
) -> _Protected:
    """Protect `layouts` level by level: state tables, then districts, then schools (or
    districts and schools together, where most district cells must be hidden anyway:
    `_districts_mostly_hidden`).

    Each level is protected with the statuses of the coarser levels fixed, as if they had been
    released before: a small school cell is then covered by other school cells and never by a
    statewide or district figure, and a district's problems never spread into its schools'
    tables until the school level, where only what the district level hid must be covered.
    The attacker of every level sees all tables protected so far, so the result is as safe as
    a joint protection. Where a level cannot be protected under the coarser statuses, the
    coarser cells that share an equation with the cells at fault are freed and the level is
    protected again; then every coarser cell of the unit above them (their district, or the
    state); when nothing more can be freed, the level is protected jointly with the coarser
    ones (only `known` fixed).

    A level's proofs leave alone, where they can, the cells that the next level's sums will
    hold (`_tied_below`: a district's count, which its schools' counts add up to), so that
    most of them remain proofs there: the next level settles the cells that its checked
    points prove (`_settled_by`) instead of attacking them again (scale 1, 2023-24:
    assessment's school level settles 16,600 of its 23,000 district cells). Whether a cell
    passes never changes, but the points found do, so a complement chosen may too: at scale 1
    (2023-24) none did; at scale 0.05, 2-5 of about 2,900 hidden cells per year, either way.

    handed: if given, set once the worker processes have the parts of a level after the
    first (or that level is done, or there is none): what the release's other populations
    wait for before they start (see `_protect_top_down`).
    """
    known = dict(known or {})
    statuses: dict[str, str] = dict(known)
    witnesses: list[Witness] = []  # every level's: an audit checks each
    district_of = _district_of_schools(units)
    stages = [
        (level, [lay for lay in layouts if GEOGRAPHIES.index(lay.request.geography) <= depth])
        for depth, level in enumerate(GEOGRAPHIES)
        if any(lay.request.geography == level for lay in layouts)
    ]
    if _districts_mostly_hidden(layouts, policy):
        # the district level then goes with the schools (see `_districts_mostly_hidden`)
        stages = [(level, stage) for level, stage in stages if level != "district"]
    if handed is not None and len(stages) == 1:
        handed.set()  # no level for the others to wait on
    ahead: parallel.Later[CellSystem] | None = None
    for number, (level, stage) in enumerate(stages):
        system = None if ahead is None else ahead.result()
        ahead = None
        if pool is not None and number + 1 < len(stages):
            # while this process waits for the worker processes, it lays out the next level's
            # tables (they depend on no status)
            ahead = parallel.Later(_laid_out_ahead, stages[number + 1][1], units, policy)
        fixed = dict(statuses)
        freed: set[str] = set()
        hold: frozenset[str] = frozenset()
        if number + 1 < len(stages):
            hold = _tied_below(stage, stages[number + 1][1], district_of)
        while True:
            started = time.perf_counter()
            try:
                level_protected = _protect(
                    stage,
                    units,
                    policy,
                    known=fixed,
                    workers=workers,
                    pool=pool,
                    system=system,
                    meanwhile=_both(
                        None if ahead is None else ahead.start,
                        handed.set if handed is not None and number > 0 else None,
                    ),
                    hold=hold,
                    settle_with=witnesses,
                    levels_after=len(stages) - number - 1,
                )
                found = level_protected.statuses
                log.info("protected up to %s level in %.1f s", level, time.perf_counter() - started)
                break
            except ReleaseRefusedError as exc:
                log.info("%s level refused with %d cells fixed: %s", level, len(fixed), exc)
                if system is None:  # laid out once for the level's retries and neighbours
                    system = build_system(stage, units)
                near = _neighbours(stage, units, exc.keys, system) & (fixed.keys() - known.keys())
                if near:  # first free only the coarser cells the cells at fault add up with
                    fixed = {k: st for k, st in fixed.items() if k not in near}
                    continue
                units_at_fault = {
                    _geography_of(k) if k in fixed and k not in known else _parent(k, district_of)
                    for k in exc.keys
                } - freed
                if not exc.keys or not units_at_fault or fixed == known:
                    if fixed == known:
                        raise
                    fixed = dict(known)
                    continue
                freed |= units_at_fault
                fixed = {
                    k: st for k, st in fixed.items() if k in known or _geography_of(k) not in freed
                }
        statuses.update(found)
        witnesses += level_protected.witnesses
        if handed is not None and number > 0:
            handed.set()
    return _Protected(
        {k: statuses[k] for lay in layouts for k in lay.rows["cell_key"].to_list()},
        witnesses,
        level_protected.system if len(stage) == len(layouts) else None,
    )


def _laid_out_ahead(
    stage: Sequence[TableLayout], units: dict[str, pl.DataFrame], policy: Policy
) -> CellSystem:
    """`build_system` of a level's tables, laid out while the worker processes protect the
    level before, and what its protection reads of them alone, worked out then too and kept
    (the system's incidence matrix; each table's counts behind coded rates, the bounds its
    rates could tell, and its counts' group sizes, which a refused run reads): otherwise they
    are worked out when the level before ends, while the processes wait for the level's
    first parts."""
    system = build_system(stage, units)
    system.incidence()
    for lay in stage:
        hide_required(lay, policy)
        lay.rate_bounds(policy)
        lay.denominator_keys()
    return system


def _both(
    first: Callable[[], None] | None, second: Callable[[], None] | None
) -> Callable[[], None] | None:
    """Call ``first`` then ``second`` (either may be None; None if both are)."""
    if first is None or second is None:
        return first or second

    def run() -> None:
        first()
        second()

    return run


def _tied_below(
    stage: Sequence[TableLayout], below: Sequence[TableLayout], district_of: dict[str, str]
) -> frozenset[str]:
    """Keys of the cells of `stage` that the geography sums of the next level hold: for each
    cell of a table of `below` that `stage` has not, the cell of the same dimensions one unit
    up (a school's district, a district's state; ``district_of``: school id -> district id).
    Keys `stage` lacks are ignored where used. As `_parent` goes up, in whole columns: each
    unit once, not each of the next level's 40,000-odd keys, which the first parts of a
    release wait for."""
    have = {id(lay) for lay in stage}
    keys = [lay.rows["cell_key"] for lay in below if id(lay) not in have]
    if not keys:
        return frozenset()
    parts = pl.concat(keys).str.splitn("|", 3).struct.unnest()
    parts = parts.filter(pl.col("field_2").is_not_null())  # keys of a geography
    units = parts["field_1"].unique().to_list()  # (a few hundred: `_unit_above` each)
    above = {unit: _unit_above(unit, district_of) for unit in units}
    up = pl.col("field_1").replace_strict(above, return_dtype=pl.String)
    found = parts.select(pl.concat_str([pl.col("field_0"), up, pl.col("field_2")], separator="|"))
    return frozenset(found.to_series().to_list())


# a population whose district tables must hide at least this share of their cells whatever
# the pattern (small counts, and the counts behind coded rates) has its district and school
# levels protected together (`_districts_mostly_hidden`); scale-1 shares: graduation
# 0.57-0.59, assessment 0.39, enrollment 0.30 (scale 0.01: 0.57-0.72, 0.46-0.49, 0.33-0.35)
_TOGETHER_MIN_SHARE = 0.5


def _districts_mostly_hidden(layouts: Sequence[TableLayout], policy: Policy) -> bool:
    """Are most of the district tables' cells hidden whatever the pattern (small, or behind a
    coded rate: at least `_TOGETHER_MIN_SHARE` of them), with school tables below them?

    Such a population's district and school levels are protected together, state cells fixed
    first, instead of one after the other. The district level's own protection then decides
    little (its hidden cells are mostly forced), while each of its hidden cells would be proven
    twice: at the district level, and again at the school level, where the schools' sums
    reach it. At scale 1, graduation protected so took 2.7-3.1 s of CPU instead of 4.4-5.9 s
    (one process, 2022-23 to 2025-26) and hid 6-11 more of about 12,000 cells; the other
    populations, under half, lose more cells than that when protected so (2023-24: assessment
    741 of 46,131 for 5.5 s of CPU saved, enrollment 101 of 30,849 for 2 s), and stay
    top-down. Safety is the same either way: the last stage's attacker sees every table.
    """
    district = [lay for lay in layouts if lay.request.geography == "district"]
    if not district or not any(lay.request.geography == "school" for lay in layouts):
        return False
    # each distinct cell once (a key in several tables is one cell, with one count)
    cells = pl.concat(
        [lay.rows.select("cell_key", "value") for lay in district], how="vertical_relaxed"
    ).unique("cell_key", keep="last")
    if cells.height == 0:
        return False
    forced: set[str] = set()
    for lay in district:
        forced.update(hide_required(lay, policy))
    hidden = (
        policy.small(cells["value"].to_numpy()) | cells["cell_key"].is_in(list(forced)).to_numpy()
    )
    return int(hidden.sum()) >= _TOGETHER_MIN_SHARE * cells.height


def witnesses_in(
    system: CellSystem, witnesses: Sequence[Witness]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Proving points given by cell keys (`_Protected.witnesses`) as cell numbers of `system`.

    Cells `system` does not hold are left out (e.g. the slack of a public bound that the
    release did not end up telling): `privacy.auditor.checked_witnesses` then checks what is
    left against `system`'s own equations, so a point is only ever a proof for this system.
    Each key table is looked up once, for the keys its points use.
    """
    index = system.index
    cells_of: dict[int, tuple[np.ndarray, list[np.ndarray]]] = {}  # id -> (table, its points)
    for table, cells, _ in witnesses:
        cells_of.setdefault(id(table), (table, []))[1].append(cells)
    numbers: dict[int, np.ndarray] = {}  # id of a key table -> system cell per position
    for at, (table, points) in cells_of.items():
        used = distinct(np.concatenate(points).astype(np.int64), len(table))
        lookup = np.full(len(table), -1, dtype=np.int64)
        lookup[used] = np.fromiter(
            (index.get(k, -1) for k in table[used].tolist()), dtype=np.int64, count=len(used)
        )
        numbers[at] = lookup
    out = []
    for table, cells, values in witnesses:
        found = numbers[id(table)][cells]
        keep = found >= 0
        out.append((found[keep], np.asarray(values)[keep]))
    return out


def checked_release(
    layouts: Sequence[TableLayout],
    units: dict[str, pl.DataFrame],
    statuses: Mapping[str, str],
    policy: Policy,
    witnesses: Sequence[Witness] = (),
    system: CellSystem | None = None,
) -> AuditReport:
    """Attack `layouts` under `statuses` (key -> status) before they are released.

    system: the cell system of `layouts` if the caller has it (`_Protected.system`; not
    changed here), else it is laid out again.

    As `audit_year` attacks a recorded year (latent remainders and the public bounds that rate
    displays tell included), but given the protection's proving points (`_Protected.witnesses`):
    each is checked against the year's whole cell system first, and only the cells they leave
    open are attacked. The points never leave the process: a point moves some cells and
    leaves the others at their true values, so with the equations it could tell a hidden
    count (the registry never holds one).
    """
    system = build_system(layouts, units) if system is None else system.copy()
    report = _attack(system, layouts, statuses, policy, witnesses)
    _log_check(report, len(witnesses))
    return report


def _log_check(report: AuditReport, points: int) -> None:
    """Log what the check of a release found (counts only: no interval, which would tell
    about a hidden count)."""
    log.info(
        "checked %d of %d proving points; they decided %d of %d hidden cells, %d attacked "
        "(%.1f s, %d violation(s))",
        report.valid_witnesses,
        points,
        report.by_witnesses,
        len(report.intervals),
        len(report.intervals) - report.by_witnesses,
        report.seconds,
        len(report.violations),
    )


def _attack(
    system: CellSystem,
    layouts: Sequence[TableLayout],
    statuses: Mapping[str, str],
    policy: Policy,
    witnesses: Sequence[Witness] = (),
) -> AuditReport:
    """The attacker on `system` (the cell system of `layouts`) under `statuses`.

    Hidden: every cell whose status is not shown (a key without one counts as shown: the
    attacker then knows more) and every latent remainder (formed by the attacker, never
    published; checked only if small). Primary: cells suppressed as small, or small. The public
    bounds that rate displays tell are added to `system` (as `rate_bounds` reads them).
    """
    hidden: list[int] = []
    primary: list[int] = []
    unchecked: list[int] = []
    small = policy.small(system.values).tolist()
    for i, key in enumerate(system.keys):
        if is_latent(key):  # formed by the attacker, never published
            hidden.append(i)
            (primary if small[i] else unchecked).append(i)
            continue
        status = statuses.get(key, SHOWN)
        if status != SHOWN:
            hidden.append(i)
            if status == SUPPRESSED_SMALL or small[i]:
                primary.append(i)
    bounds = rate_bounds(layouts, dict(statuses), policy)
    _, slacks = system.add_bounds({system.index[k]: b for k, b in bounds.items()})
    return audit(
        system,
        hidden + slacks,
        policy,
        primary=primary,
        unchecked=unchecked + slacks,
        witnesses=witnesses_in(system, witnesses),
    )


def _neighbours(
    layouts: Sequence[TableLayout],
    units: dict[str, pl.DataFrame],
    keys: Sequence[str],
    system: CellSystem | None = None,
) -> set[str]:
    """Every cell that shares an equation with one of `keys`.

    system: the cell system of `layouts` if the caller has it (else it is laid out here).
    """
    if system is None:
        system = build_system(layouts, units)
    wanted = {system.index[k] for k in keys if k in system.index}
    out: set[int] = set()
    for parent, children in system.constraints:
        cells = (parent, *children)
        if wanted.intersection(cells):
            out.update(cells)
    return {system.keys[c] for c in out}


def _geography_of(key: str) -> str:
    """The geography part of a cell key: "state", "D:<district_id>" or "S:<school_id>"."""
    parts = key.split("|")
    return parts[1] if len(parts) > 2 else ""


def _parent(key: str, district_of: dict[str, str]) -> str:
    """The geography unit one level above a cell's: its district, or the state."""
    return _unit_above(_geography_of(key), district_of)


def _unit_above(unit: str, district_of: dict[str, str]) -> str:
    """The geography unit one level above ``unit`` ("S:<school>": its district, if known;
    anything else: the state)."""
    if unit.startswith("S:") and unit[2:] in district_of:
        return f"D:{district_of[unit[2:]]}"
    return "state"


def _district_of_schools(units: dict[str, pl.DataFrame]) -> dict[str, str]:
    out: dict[str, str] = {}
    for frame in units.values():
        out.update(zip(frame["school_id"].to_list(), frame["district_id"].to_list(), strict=True))
    return out


def rate_bounds(
    layouts: Sequence[TableLayout], statuses: dict[str, str], policy: Policy
) -> dict[str, tuple[int, int | None]]:
    """Public bounds on hidden numerators, read from the rate displays (cell key -> (lo, hi)).

    Only where the group size (denominator) is shown: there a coded rate bounds its count, and
    a "*" says the rate is not near 0% or 100% (see `privacy.percent_coding.public_bounds`).
    hi is None when it says nothing beyond the group size.
    """
    return _bounds_where(layouts, policy, statuses, (SHOWN, None))


def _bounds_where(
    layouts: Sequence[TableLayout],
    policy: Policy,
    statuses: dict[str, str],
    absent: tuple[str | None, str | None],
) -> dict[str, tuple[int, int | None]]:
    """`public_bounds` of each count that ``statuses`` hide over a group size they show, if
    informative. absent: the status a count key, and a group size key, that ``statuses`` lack
    reads as (one pass per layout with the test inline: a release asks about twenty times,
    over some 60,000 rates at scale 1)."""
    out: dict[str, tuple[int, int | None]] = {}
    status = statuses.get
    count_absent, group_absent = absent
    for lay in layouts:
        out.update(
            (key, bound)
            for key, dkey, bound in lay.rate_bounds(policy)
            if status(key, count_absent) != SHOWN and status(dkey, group_absent) == SHOWN
        )
    return out


def _protect_once(
    layouts: Sequence[TableLayout],
    units: dict[str, pl.DataFrame],
    policy: Policy,
    known: dict[str, str],
    bounds: dict[str, tuple[int, int | None]],
    hidden_before: set[str],
    old_equations: set[tuple[str, tuple[str, ...]]] | None = None,
    *,
    system: CellSystem,
    workers: int = 1,
    witnesses: list[Witness] | None = None,
    pool: parallel.Processes | None = None,
    meanwhile: Callable[[], None] | None = None,
    hold: frozenset[str] = frozenset(),
    settle_with: Sequence[Witness] = (),
    levels_after: int = 0,
) -> dict[str, str]:
    """One protection of `layouts` with the public `bounds` modelled (see `_protect`).

    system: the cell system of `layouts` (before any bound); left unchanged (a copy takes the
        bounds), so that every run of `_protect` reads the one laid out.
    witnesses: if given, receives the proving points of the parts protected (`Witness`).
    pool, meanwhile: worker processes the caller keeps, and what to do while they work (see
        `_run_parts`).
    hold, settle_with: see `_protect`.
    levels_after: see `_run_parts`.

    Cells shown before are constants to the attacker, so they do not tie the rest together:
    the system splits into independent parts joined only through cells still free or hidden.
    Each part that holds a new cell is protected on its own (with the shown constants of its
    equations); parts made only of earlier cells keep their statuses untouched.

    A part of `_MINIMISE_MAX_CELLS` cells or more keeps the pattern its attack settled on:
    the passes that then hide fewer complements (`privacy.suppression.protect`'s
    ``minimise``) are for the smaller parts. On the scale-1 release of 2023-24 they showed
    about 690 cells again, all but 3 of them in the 2,282 parts under 2,000 cells; on the
    10 larger parts they took 2.8 s of CPU for those 3 cells, and the release took 2.2 s
    longer on two workers.
    """

    system.incidence()  # kept on the level's system: its copies (here, `_attack`) extend it
    system = system.copy()
    n_real = len(system)
    constants, slacks = system.add_bounds({system.index[k]: b for k, b in bounds.items()})
    n = len(system)
    keys = system.keys
    status_before: list[str | None] = [known.get(k) for k in keys]
    for c in constants:
        status_before[c] = SHOWN
    must_show = np.array([s == SHOWN for s in status_before], dtype=bool)
    must_hide = np.array([s is not None and s != SHOWN for s in status_before], dtype=bool)
    hidden_before_now = must_hide.copy()  # hidden by an earlier release
    must_hide[slacks] = True
    for k in hidden_before:
        must_hide[system.index[k]] = True
    index = system.index
    must_hide[[index[k] for lay in layouts for k in hide_required(lay, policy)]] = True
    primary = policy.small(system.values)
    primary[n_real:] = False
    latent = np.fromiter(map(is_latent, keys), dtype=bool, count=n)
    unchecked = (latent & ~primary) | np.isin(np.arange(n), slacks)
    must_hide |= unchecked | latent
    clash = np.flatnonzero((must_hide | primary) & must_show)
    if len(clash):
        raise ReleaseRefusedError(
            f"cell {keys[int(clash[0])]} was shown before but must be hidden now; refusing"
        )
    lo, hi = _outer_bounds(system, must_show)
    # a cell the public already knows exactly (a zero under a shown zero: no Asian students,
    # so none who are economically disadvantaged) tells nothing new when shown, and a hidden
    # one could never be protected; one hidden before stays hidden (its status is kept)
    given = (hi - lo < 0.5) & ~must_show & ~primary & ~latent
    given[n_real:] = False
    given &= np.array([s is None for s in status_before], dtype=bool)
    if given.any():
        log.info("%d cell(s) already known exactly from earlier releases: shown", given.sum())
        must_show |= given
        must_hide &= ~given
    starved = np.flatnonzero(
        primary & ((hi < policy.min_upper_bound) | (hi - lo < policy.min_interval_width))
    )
    if len(starved):
        raise ReleaseRefusedError(
            f"{len(starved)} small cell(s) cannot be protected even if every other cell were "
            f"hidden (cells released before and public bounds pin them), e.g. "
            f"{[keys[c] for c in starved[:5]]}",
            [keys[c] for c in starved.tolist()],
        )
    statuses: list[str | None] = list(status_before)
    held = np.zeros(n, dtype=bool)
    held[[c for c in map(system.index.get, hold) if c is not None]] = True
    settled_by = _settled_by(
        system, settle_with, hidden_before_now & must_hide & ~unchecked, must_hide, primary, policy
    )
    if settled_by.any():
        log.info("%d cell(s) hidden before settled by their checked points", settled_by.sum())
    ranks = complement_ranks(keys)
    parts = _free_parts(system, must_show)
    incidence = system.incidence().tocsc() if system.constraints else None
    # equations new since the earlier releases, and the cells they hold (None: no earlier)
    fresh_row = _fresh_rows(system, old_equations)
    reached = None
    if fresh_row is not None:
        reached = np.zeros(n, dtype=bool)
        if fresh_row.any():
            reached[system.incidence()[np.flatnonzero(fresh_row)].indices] = True
    settled = (
        np.array([s is not None for s in status_before], dtype=bool) | unchecked
    )  # statuses kept, or never published (latent cells, bound slacks)
    todo: list[int] = []  # the parts to protect, by their number in `parts`
    for number, cells in enumerate(parts):
        if all(status_before[c] is not None for c in cells):
            continue
        if reached is not None and not reached[cells].any() and settled[cells].all():
            # no new cell and no new equation: an earlier release proved this part as it is
            continue
        if unchecked[cells].all():
            # only cells that are never published and that no one may recover anyway (the
            # slack of a public bound beside its shown count; a latent remainder): nothing to
            # protect, nothing to prove (at scale 1, 1,854 such parts cost about 0.5 s of CPU)
            for c in cells:
                statuses[c] = SUPPRESSED_COMPLEMENT
            continue
        if incidence is None or all(incidence.indptr[c] == incidence.indptr[c + 1] for c in cells):
            for c in cells:
                statuses[c] = (
                    SUPPRESSED_SMALL
                    if primary[c]
                    else (SUPPRESSED_COMPLEMENT if must_hide[c] else SHOWN)
                )
            continue
        todo.append(number)

    def cut(cells: list[int]) -> tuple[list[int], dict[int, int], CellSystem, dict, np.ndarray]:
        assert incidence is not None  # (parts of no equation were settled above)
        sub, local, order, rows = _subsystem(system, cells, incidence)
        own = np.asarray(order[: len(cells)])  # the part's own cells come first
        around = np.asarray(order)

        def where(mask: np.ndarray, among: np.ndarray = own) -> frozenset[int]:
            return frozenset(np.flatnonzero(mask[among]).tolist())

        proven: frozenset[int] = frozenset()
        fresh: list[int] = []
        if fresh_row is not None:
            proven = where(hidden_before_now & must_hide)
            fresh = np.flatnonzero(fresh_row[rows]).tolist()
        kwargs = {
            "primary": where(primary),
            "must_hide": where(must_hide),
            "must_show": where(must_show, around),
            "unchecked": where(unchecked),
            "rank": ranks[around],
            "proven": proven,
            "fresh_rows": fresh,
            "minimise": len(sub) < _MINIMISE_MAX_CELLS,
            "hold": where(held),
            "settled": where(settled_by),
        }
        return cells, local, sub, kwargs, around

    # the parts likely to get a process of their own are cut out first, the most proof work
    # first (`_proof_work`, read off the whole system), and each one that does is handed to
    # the worker processes as soon as it is cut out (`_run_parts`' ``early``), while this
    # process cuts out the rest
    proof = (primary | must_hide) & ~unchecked & ~settled_by
    big = sorted(
        (i for i in todo if len(parts[i]) >= _PARALLEL_MIN_CELLS // 2),
        key=lambda i: -int(proof[parts[i]].sum()),
    )
    hand = pool is not None and not pool.broken
    built: dict[int, tuple[list[int], dict[int, int], CellSystem, dict, np.ndarray]] = {}
    early: dict[int, Future[list[PartResult]]] = {}
    try:
        for i in [*big, *sorted(set(todo) - set(big))]:
            built[i] = cut(parts[i])
            sub, kwargs = built[i][2], built[i][3]
            if hand and pool is not None and len(sub) >= _PARALLEL_MIN_CELLS:
                early[i] = pool.submit(
                    protect_parts,
                    [(sub, policy, kwargs)],
                    priority=(levels_after, _proof_work(kwargs)),
                )
    except BaseException:
        for future in early.values():
            future.cancel()
        raise
    jobs = [built[i] for i in todo]
    place = {i: at for at, i in enumerate(todo)}
    points: list[list[tuple[np.ndarray, np.ndarray]]] = []
    results, errors = _run_parts(
        [(sub, policy, kw) for _, _, sub, kw, _ in jobs],
        workers,
        points,
        pool,
        meanwhile,
        levels_after,
        early={place[i]: future for i, future in early.items()},
    )
    if errors:
        settled = [
            {keys[c]: status[local[c]] for c in cells if c < n_real}
            for (cells, local, _, _, _), status in zip(jobs, results, strict=True)
            if status is not None
        ]
        raise ReleaseRefusedError(
            "the table cannot be protected consistently with what is already released: "
            + "; ".join(str(e) for e in errors),
            [str(k) for e in errors for k in e.keys],
            settled,
        ) from errors[0]
    for (cells, local, _, _, _), status in zip(jobs, results, strict=True):
        for c in cells:
            statuses[c] = status[local[c]]
    if witnesses is not None and points:
        key_of = np.array(keys, dtype=object)
        for (_, _, _, _, around), found in zip(jobs, points, strict=True):
            witnesses.extend((key_of, around[moved], values) for moved, values in found)
    for i in range(n):
        if statuses[i] is None:
            statuses[i] = SHOWN
    return {
        k: st
        for k, st, unpublished in zip(
            keys[:n_real], statuses[:n_real], latent[:n_real].tolist(), strict=True
        )
        if not unpublished
    }


def _fresh_rows(
    system: CellSystem, old_equations: set[tuple[str, tuple[str, ...]]] | None
) -> np.ndarray | None:
    """Per equation of `system`: is it missing from `old_equations`? (None without them.)"""
    if old_equations is None:
        return None
    return np.array(
        [_equation_key(system, p, ch) not in old_equations for p, ch in system.constraints],
        dtype=bool,
    )


def _settled_by(
    system: CellSystem,
    points: Sequence[Witness],
    candidates: np.ndarray,
    hidden: np.ndarray,
    primary: np.ndarray,
    policy: Policy,
) -> np.ndarray:
    """Per cell: is it among ``candidates`` and proven to pass by valid ``points``?

    A point counts only if it moves cells of ``hidden`` alone and satisfies every equation of
    `system` (`privacy.auditor.checked_witnesses`, in exact integer arithmetic): hiding more
    keeps it feasible, so a cell whose valid points already meet the criterion (the small
    cell's, or an interval of width 1 for a complement) needs no new proof.
    """
    if not len(points) or not candidates.any():
        return np.zeros(len(system), dtype=bool)
    proven, _ = proven_by_points(
        system, np.flatnonzero(hidden), witnesses_in(system, points), primary, policy
    )
    return candidates & proven


def _run_parts(
    parts: list[Part],
    workers: int,
    witnesses: list[list[tuple[np.ndarray, np.ndarray]]] | None = None,
    pool: parallel.Processes | None = None,
    meanwhile: Callable[[], None] | None = None,
    levels_after: int = 0,
    early: Mapping[int, Future[list[PartResult]]] | None = None,
) -> tuple[list[list[str] | None], list[ProtectionError]]:
    """`protect` each independent part: (statuses per part, None where refused; refusals).

    witnesses: if given, receives per part its proving points (`Protection.witnesses`, in the
    part's own cell numbers; none where refused).
    pool: worker processes kept by the caller (`_protect_top_down`: one pool for every level);
        without one, ``workers`` > 1 starts a pool for this call.
    meanwhile: called once the worker processes have every job, before waiting for them
        (e.g. to start other work on a thread); not called when no process gets a job.
    levels_after: how many levels of the caller's population wait for these parts (see
        below).
    early: parts (by number) the caller handed to ``pool`` already, each alone as a job of its
        own (`protect_parts` of that one part, with the priority given below), as soon as it
        had cut it out: their results are read here. Only parts of `_PARALLEL_MIN_CELLS`
        cells or more, which this function would send as jobs of their own anyway.

    Every part runs, so that a refusal in one still leaves the others' results to keep. With
    a kept pool and at least two jobs (`_jobs`) or one part of `_PARALLEL_MIN_CELLS` cells,
    or ``workers`` > 1 and two such parts (worth starting processes for), every job runs in
    worker processes while this process waits. A kept pool serves the jobs of every caller (a
    release's populations, each on a thread of this process) by priority: first those of the
    callers with the most levels still to come after this one (``levels_after``: the longest
    chain of levels sets when the release ends), then the most proof work (`_proof_work`).
    A lone large part goes to the pool too: protected here, its Python work would share this
    process's interpreter lock with the other populations' threads. (Scale 1, 2023-24, on
    two cores, against the graduation and enrollment parts protected here and the levels
    unranked: 6 alternated pairs, each faster, median 12.61 -> 12.04 s, CPU 23.9 -> 23.0 s,
    cores left idle 1.46 -> 0.99 core-seconds; the same statuses.) The processes are forked
    from a fork server, not from this process, so they are safe beside DuckDB's and Polars'
    threads; a script calling this needs Python's ``if __name__ == "__main__":`` guard, or the
    parts are protected here after all (see `privacy.parallel.Processes`). Each part's result
    does not depend on where it ran.
    """
    early = dict(early or {})
    work = [_proof_work(kwargs) for _, _, kwargs in parts]
    jobs = _jobs(parts, work, handed=frozenset(early))
    large = len(early) + sum(len(parts[job[0]][0]) >= _PARALLEL_MIN_CELLS for job in jobs)
    out: list[PartResult | None] = [None] * len(parts)
    # a pool whose processes broke (`parallel.Processes.broken`) was already reported: the
    # parts are protected here, as after the first failure
    kept = pool is not None and not pool.broken and (len(jobs) + len(early) > 1 or large > 0)
    if kept or (pool is None and len(jobs) > 1 and workers > 1 and large > 1):
        own = None
        if pool is None:
            own = pool = parallel.Processes(min(workers, len(jobs)), _WORKER_MODULES)
        try:
            futures = [
                (
                    job,
                    pool.submit(
                        protect_parts,
                        [parts[i] for i in job],
                        priority=(levels_after, sum(work[i] for i in job)),
                    ),
                )
                for job in jobs
            ]
            futures += [([i], future) for i, future in sorted(early.items())]
            if meanwhile is not None:
                meanwhile()
            for job, future in futures:
                for i, result in zip(job, future.result(), strict=True):
                    out[i] = result
        except BrokenProcessPool as exc:
            # e.g. a script without the `if __name__ == "__main__":` guard that the worker
            # processes need: finish here, in this process
            log.warning("worker processes failed (%s); protecting in this process", exc)
        except BaseException:
            for future in early.values():
                future.cancel()
            if own is not None:
                own.close(terminate=True)
                own = None
            raise
        finally:
            if own is not None:
                own.close()
    else:  # the pool broke since the parts were handed over: they are protected here
        for future in early.values():
            future.cancel()
    for i, part in enumerate(parts):
        if out[i] is None:
            out[i] = protect_part(part)
    errors = [r for r in out if isinstance(r, ProtectionError)]
    if witnesses is not None:
        witnesses.extend([] if isinstance(r, ProtectionError) else r[1] for r in out)
    return [r[0] if not isinstance(r, ProtectionError) else None for r in out], errors


def _jobs(
    parts: list[Part], work: Sequence[int] | None = None, handed: frozenset[int] = frozenset()
) -> list[list[int]]:
    """The parts (by number) of each job for worker processes, in the order to start them
    (``handed``: parts handed to the processes already, left out).

    Each part of `_PARALLEL_MIN_CELLS` cells or more is a job of its own, the most work first
    (``work``: each part's `_proof_work`, worked out here if not given), so that no long part
    starts last; the smaller parts follow in batches of about that many cells (in their
    order), which fill the processes' last gaps.
    """
    if work is None:
        work = [_proof_work(kwargs) for _, _, kwargs in parts]
    large = [
        i
        for i, (sub, _, _) in enumerate(parts)
        if len(sub) >= _PARALLEL_MIN_CELLS and i not in handed
    ]
    large.sort(key=lambda i: -work[i])
    jobs = [[i] for i in large]
    batch: list[int] = []
    size = 0
    for i, (sub, _, _) in enumerate(parts):
        if len(sub) >= _PARALLEL_MIN_CELLS or i in handed:
            continue
        batch.append(i)
        size += len(sub)
        if size >= _PARALLEL_MIN_CELLS:
            jobs.append(batch)
            batch, size = [], 0
    if batch:
        jobs.append(batch)
    return jobs


def _proof_work(kwargs: dict) -> int:
    """How many cells a part's protection starts out proving (hidden and checked): a guess of
    its work, to start the parts that take longest first."""
    hidden = set(kwargs.get("primary") or ()) | set(kwargs.get("must_hide") or ())
    return len(hidden - set(kwargs.get("unchecked") or ()) - set(kwargs.get("settled") or ()))


def _outer_bounds(system: CellSystem, must_show: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outer bounds of every cell with every cell not ``must_show`` hidden.

    By propagating the equations (`Attacker.outer_bounds`: cheap, and wider than the
    attacker's exact ones), so a small cell they pin is certainly unprotectable (a refusal
    now, before any protection work, lets the caller hide the group sizes whose rate bounds
    pin it, see `_bounding_groups`), and a cell they fix is certainly known to the public.
    """
    from privacy.auditor import Attacker

    return Attacker(system, np.flatnonzero(~must_show)).outer_bounds()


def _free_parts(system: CellSystem, fixed_shown: np.ndarray) -> list[list[int]]:
    """Groups of cells (not shown before) tied together by equations through such cells."""
    n = len(system)
    m = len(system.constraints)
    incidence = system.incidence()
    rows = np.repeat(np.arange(m, dtype=np.int64), np.diff(incidence.indptr))
    cols = incidence.indices.astype(np.int64)
    keep = ~fixed_shown[cols]
    rows, cols = rows[keep], cols[keep]
    graph = sp.coo_matrix((np.ones(len(rows)), (cols, n + rows)), shape=(n + m, n + m))
    _, labels = connected_components(graph, directed=False)
    free = np.flatnonzero(~fixed_shown)
    order = np.argsort(labels[free], kind="stable")
    cells = free[order]
    cuts = np.flatnonzero(np.diff(labels[cells])) + 1
    return [part.tolist() for part in np.split(cells, cuts)] if len(cells) else []


def _subsystem(
    system: CellSystem, cells: list[int], incidence: sp.csc_matrix
) -> tuple[CellSystem, dict[int, int], list[int], np.ndarray]:
    """The cells of one part plus the shown constants of its equations, as a cell system.

    incidence: constraints x cells (CSC). Returns the subsystem, global -> local index, the
    global index of each local cell (the part's own cells first), and the global index of
    each local equation.

    Cells and equations are in the order of their keys, not of `system`: the same part gets
    the same subsystem, hence the same protection, however `system` was put together (laid
    out at once, or extended from a kept one, see `privacy.cell_build`). The equations' cells
    are read in whole-array steps from `system`'s incidence matrix, and the subsystem builds
    no key index (`CellSystem.of_distinct_keys`): this process cuts out the parts before
    the worker processes can start on them (scale 1, 2023-24: the release's 317 parts took
    0.58-0.78 s of its CPU cut out cell by cell, 0.31-0.33 s so; the same subsystems).
    """
    own = np.asarray(cells, dtype=np.int64)
    rows = distinct(incidence.indices[matrix_entries(incidence, own)[1]], incidence.shape[0])
    by_row = system.incidence()  # CSR: +1 for each equation's sum, -1 for its terms
    sizes, at = matrix_entries(by_row, rows)
    held, is_sum = by_row.indices[at].astype(np.int64), by_row.data[at] > 0
    keys = system.keys
    near = np.zeros(len(keys), dtype=bool)
    near[held] = True
    near[own] = False
    around = np.flatnonzero(near).tolist()  # the shown cells of its equations
    order = sorted(cells, key=keys.__getitem__) + sorted(around, key=keys.__getitem__)
    local = np.empty(len(keys), dtype=np.int64)
    local[order] = np.arange(len(order))
    local_of = local[held]
    # per equation: its sum, then its terms in increasing local number
    row_of = np.repeat(np.arange(len(rows)), sizes)
    flat = local_of[np.lexsort((local_of, ~is_sum, row_of))]
    # the equations in the order of their cells' local numbers (the sum's, then the terms'
    # in turn: as Python compares them), by their first three cells; those the first three
    # do not tell apart go as Python sorts them
    starts = np.cumsum(sizes) - sizes
    first, second = flat[starts], flat[starts + 1]  # (an equation has a term or more)
    third = np.where(sizes > 2, flat[np.minimum(starts + 2, len(flat) - 1)], -1)
    by_key = np.lexsort((third, second, first))
    tied = (np.diff(first[by_key]) == 0) & (np.diff(second[by_key]) == 0)
    tied &= np.diff(third[by_key]) == 0
    if tied.any():
        cut = list(constraints_of(sizes, flat))
        by_key = np.array(sorted(range(len(rows)), key=lambda i: (cut[i][0], cut[i][1])))
    sub = CellSystem.of_distinct_keys([keys[c] for c in order], system.values[order])
    # the system's own equations, renumbered one to one: valid as they were
    sub.constraints = list(
        constraints_of(sizes[by_key], flat[concat_ranges(starts[by_key], sizes[by_key])])
    )
    return sub, dict(zip(order, range(len(order)), strict=True)), order, rows[by_key]


# -- public release ------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _catalogue_json(school_year: str) -> str:
    """The registry request of `school_year`'s public catalogue (what a release records)."""
    return _public_request_json(public_catalogue(school_year))


def _public_request_json(entries: Sequence[CatalogueEntry]) -> str:
    return json.dumps(
        {"tables": {e.name: json.loads(e.request.to_json()) for e in entries}}, sort_keys=True
    )


def _requests_of(release_request: str) -> list[TableRequest]:
    raw = json.loads(release_request)
    if "tables" in raw and isinstance(raw["tables"], dict):
        return [TableRequest.from_json(json.dumps(r)) for r in raw["tables"].values()]
    if "measure" in raw:
        return [TableRequest.from_json(release_request)]
    return []


def public_release(
    db_path: str | os.PathLike[str] | None,
    school_year: str,
    noise: NoiseSpec | None = None,
    *,
    workers: int = 1,
) -> PublicRelease:
    """The public release of `school_year`: built and recorded once, then reused.

    Every table of the public catalogue is protected jointly with every other; the first call
    for a warehouse build records the release in the registry, later calls (any process) read
    the statuses back, and within a process the result is cached. If the catalogue changed
    since the year was released (a newer edudash), the current catalogue is released anew,
    protected together with every table released before: cells shown stay shown.
    noise: None for exact counts with suppression; a `privacy.noise.NoiseSpec` for the noisy
    release of the catalogue (see `privacy.noisy_release`: stored, charged to the year's budget).
    workers: processes to protect independent parts in (the command line uses every core;
        the result is the same with any number).
    """
    if noise is not None:
        from privacy.noisy_release import noisy_public_release

        return noisy_public_release(db_path, school_year, noise)
    snap = _snapshot(db_path)
    _check_against_warehouse(snap, TableRequest("enrollment", school_year))
    with snap.lock:
        cached = snap.public.get(school_year)
        if cached is not None:
            return cached
        policy = load_policy()
        entries = public_catalogue(school_year)
        counted = [e for e in entries if e.request.measure != "staff"]
        catalogue_json = _public_request_json(entries)
        for _ in range(_MAX_ATTEMPTS):
            existing = [
                r
                for r in releases(snap.path, snap.build_id, school_year, kind="public")
                if r.request == catalogue_json
            ]
            if existing:
                rid = existing[0].release_id
                stored = release_cells(snap.path, [rid])
                statuses = {k: s for k, (_, s) in stored.items()}
                break
            layouts = [snap.layout(e.request) for e in counted]
            known = known_cells(snap.path, snap.build_id, school_year)
            # tables released before (an older catalogue, custom tables) stay known to the
            # public: protect the catalogue together with them
            mine = {e.request.to_json() for e in counted}
            earlier = [
                lay
                for lay in _released_layouts(snap, school_year)
                if lay.request.to_json() not in mine
            ]
            # the built-in attacker checks the release before anything is recorded: each
            # population as soon as it is protected
            protected = _protect_top_down(
                [*layouts, *earlier],
                _units_for(snap, school_year),
                policy,
                known=known.statuses,
                workers=workers,
                check=True,
            )
            report = protected.report
            if report is None:  # pragma: no cover - `check` always gives one
                raise RuntimeError("the protection of the release came back unchecked")
            _log_check(report, len(protected.witnesses))
            values = _values(layouts)
            # and that no small count is shown (as `audit_year` checks a recorded year)
            shown_small = sorted(
                k
                for k, v in values.items()
                if protected.statuses.get(k) == SHOWN and 0 < v < policy.min_cell
            )
            if not report.ok or shown_small:
                # keys and counts only: a violation's interval would tell about a hidden count
                bad = sorted(str(v.key) for v in report.violations) + shown_small
                raise ReleaseRefusedError(
                    f"the public release of {school_year} failed its audit, nothing recorded: "
                    f"{len(report.violations)} violation(s), {len(shown_small)} small count(s) "
                    f"shown, e.g. cell {bad[0]}",
                    bad,
                )
            rid = new_release_id(school_year, "public")
            statuses = {
                k: protected.statuses[k] for lay in layouts for k in lay.rows["cell_key"].to_list()
            }
            try:
                record_release(
                    snap.path,
                    release_id=rid,
                    build_id=snap.build_id,
                    school_year=school_year,
                    kind="public",
                    request=catalogue_json,
                    created_by="system",
                    cells=((k, values[k] if s == SHOWN else None, s) for k, s in statuses.items()),
                    expect_last_seq=known.last_seq,
                )
            except RegistryConflictError:
                continue
            break
        else:
            raise RuntimeError("the release registry kept changing; try again")
        requests = {e.name: e.request for e in entries}
        tables = LazyTables(
            list(requests), lambda name: _render(snap, requests[name], statuses, policy, rid)
        )
        release = PublicRelease(rid, school_year, snap.build_id, tables, entries)
        snap.public[school_year] = release
        snap.public_statuses[school_year] = statuses
        return release


def _units_for(snap: _Snapshot, year: str) -> dict[str, pl.DataFrame]:
    return {p: snap.units(p, year) for p in aggregates.STUDENT_POPULATIONS}


def _values(layouts: Sequence[TableLayout]) -> dict[str, int]:
    out: dict[str, int] = {}
    for lay in layouts:
        out.update(zip(lay.rows["cell_key"].to_list(), lay.rows["value"].to_list(), strict=True))
    return out


def _render(
    snap: _Snapshot,
    request: TableRequest,
    statuses: dict[str, str],
    policy: Policy,
    release_id: str,
) -> ProtectedTable:
    if request.measure == "staff":
        return staff_table(
            request, snap.staff_counts(request), snap.schools, policy, release_id, snap.build_id
        )
    pop = POPULATION_OF[request.measure]
    return render_table(
        snap.layout(request),
        statuses,
        snap.units(pop, request.school_year),
        policy,
        release_id,
        snap.build_id,
    )


# -- custom tables -------------------------------------------------------------------------


def release_table(
    db_path: str | os.PathLike[str] | None,
    request: TableRequest,
    requester: Requester | None = None,
    noise: NoiseSpec | None = None,
) -> ProtectedTable:
    """Release one table, protected together with everything already released for its year.

    noise: None for exact counts with suppression; a `privacy.noise.NoiseSpec` for a noisy table
    (see `privacy.noisy_release`: the same request gets the same stored answer).

    requester: None for the public, who get only tables made of cells of the year's public
    release (a catalogue table or a filtered part of one; anything else raises
    ReleaseRefusedError); otherwise a signed-in user (only `user_id` is read and stored with
    the release). A signed-in user's table is protected jointly with every earlier release of
    the year (cells shown before stay shown, hidden stay hidden), recorded in the registry and
    returned; if that is impossible, ReleaseRefusedError (a ValueError) says why and nothing is
    recorded.
    """
    if not isinstance(request, TableRequest):
        raise ValueError("release_table needs a privacy.TableRequest")
    if noise is not None:
        from privacy.noisy_release import noisy_release_table

        return noisy_release_table(db_path, request, noise, requester)
    snap = _snapshot(db_path)
    _check_against_warehouse(snap, request)
    year = request.school_year
    policy = load_policy()
    created_by = "public" if requester is None else str(requester.user_id)
    if request.measure == "staff":
        # Staff assignments are open records: nothing to protect, nothing to keep consistent.
        if requester is None:
            return _render(snap, request, {}, policy, STAFF_RELEASE_ID)
        table = _render(snap, request, {}, policy, new_release_id(year, "custom"))
        record_release(
            snap.path,
            release_id=table.release_id,
            build_id=snap.build_id,
            school_year=year,
            kind="custom",
            request=request.to_json(),
            created_by=created_by,
            cells=(),
        )
        return table
    public = public_release(snap.path, year)
    if requester is None:
        for entry in public.catalogue:
            if entry.request == request:
                return public.tables[entry.name]
    layout = snap.layout(request)
    keys = layout.rows["cell_key"].to_list()
    if requester is None:
        # The public sees the precomputed public release only: no protection run per click.
        public_statuses = snap.public_statuses[year]
        missing = [k for k in keys if k not in public_statuses]
        if missing:
            raise ReleaseRefusedError(
                f"this table is not part of the public release of {year} (e.g. cell "
                f"{missing[0]}); a signed-in user can request it as a custom table"
            )
        return _render(snap, request, public_statuses, policy, public.release_id)
    population = POPULATION_OF[request.measure]
    for _ in range(_MAX_ATTEMPTS):
        known = snap.known_cells(year)
        if all(k in known.statuses for k in keys):
            statuses = known.statuses
        else:
            earlier, units, old_equations, base = _custom_inputs(
                snap, year, population, known, policy
            )
            protected = _protect(
                [*earlier, layout],
                units,
                policy,
                known=known.statuses,
                earlier=earlier,
                old_equations=old_equations,
                base=base,
            )
            statuses = protected.statuses
        rid = new_release_id(year, "custom")
        values = dict(zip(keys, layout.rows["value"].to_list(), strict=True))
        try:
            record_release(
                snap.path,
                release_id=rid,
                build_id=snap.build_id,
                school_year=year,
                kind="custom",
                request=request.to_json(),
                created_by=created_by,
                cells=((k, values[k] if statuses[k] == SHOWN else None, statuses[k]) for k in keys),
                expect_last_seq=known.last_seq,
            )
        except RegistryConflictError:
            continue
        return _render(snap, request, statuses, policy, rid)
    raise RuntimeError("the release registry kept changing; try again")


def prepare_custom_tables(db_path: str | os.PathLike[str] | None, school_year: str) -> None:
    """Read ahead, in this process, what protecting a custom table of `school_year` needs.

    Releases nothing and records nothing: it loads the year's public release, the cells
    released so far, the group sizes and, per population, the equations of the tables
    already released (see `_old_equations`) and their cell system (`_system_base`), so that
    a staff member's first table is protected as fast as later ones (the counts behind coded
    rates of those tables too). Safe to run in a background thread.
    """
    snap = _snapshot(db_path)
    _check_against_warehouse(snap, TableRequest("enrollment", school_year))
    public_release(snap.path, school_year)
    policy = load_policy()
    known = snap.known_cells(school_year)
    for population in aggregates.STUDENT_POPULATIONS:
        earlier, _, _, _ = _custom_inputs(snap, school_year, population, known, policy)
        for lay in earlier:
            hide_required(lay, policy)  # remembered per layout, read by every protection


def _custom_inputs(
    snap: _Snapshot, year: str, population: str, known: KnownCells, policy: Policy
) -> tuple[
    list[TableLayout],
    dict[str, pl.DataFrame],
    set[tuple[str, tuple[str, ...]]] | None,
    SystemBase | None,
]:
    """What a custom table of `population` is protected with: the layouts released before
    for it, the group sizes, the equations of those layouts (cached, `_old_equations`) and
    their cell system (kept, `_system_base`)."""
    earlier = _released_layouts(snap, year, population)
    units = _units_for(snap, year)
    base = _system_base(snap, year, population, earlier, units)
    old = _old_equations(snap, year, population, known, earlier, policy, base)
    return earlier, units, old, base


_STALE_EQUATIONS = 10  # releases after which the cached equations are computed again


def _old_equations(
    snap: _Snapshot,
    year: str,
    population: str,
    known: KnownCells,
    earlier: Sequence[TableLayout],
    policy: Policy,
    base: SystemBase | None = None,
) -> set[tuple[str, tuple[str, ...]]] | None:
    """The equations of `earlier` (None if nothing was released), cached per population.

    base: the cell system of `earlier`, if kept (`_system_base`).

    Equations only change by growing (a filter sum gains codes, a table is added), so a set
    computed a few releases ago holds none that the current system lacks: the equations since
    count as fresh, and the cells they reach are attacked again (slower, never unsafe).
    """
    if not earlier:
        return None
    with snap.lock:
        computing = snap.equation_locks.setdefault((year, population), threading.Lock())
    with computing:
        with snap.lock:
            cached = snap.equations.get((year, population))
        if cached is not None and 0 <= known.last_seq - cached[0] <= _STALE_EQUATIONS:
            return cached[1]
        found = _equation_keys(earlier, _units_for(snap, year), known.statuses, policy, base)
        with snap.lock:
            snap.equations[(year, population)] = (known.last_seq, found)
        return found


def _system_base(
    snap: _Snapshot,
    year: str,
    population: str,
    earlier: Sequence[TableLayout],
    units: dict[str, pl.DataFrame],
) -> SystemBase | None:
    """The cell system of `earlier` (None if nothing was released), kept per population.

    A custom table extends it (`SystemBase.extend`) instead of laying out every table released
    before again. After a release, the kept system grows by the tables released since, which
    come after the earlier ones (`_released_layouts` keeps the registry's order); it is built
    afresh only if that does not hold. Grown or built afresh, it holds the same cells and sums,
    and each part is protected in the order of its keys (`_subsystem`): the same registry
    gives the same pattern whatever this process did before.
    """
    if not earlier:
        return None
    requests = tuple(lay.request.to_json() for lay in earlier)
    with snap.lock:
        building = snap.base_locks.setdefault((year, population), threading.Lock())
    with building:
        with snap.lock:
            cached = snap.bases.get((year, population))
        if cached is not None and cached.requests == requests:
            return cached
        if cached is not None and cached.requests[: len(requests)] == requests:
            # the kept one is newer (this caller read the registry before a release): the
            # caller's table will meet that release when it is recorded, and start again
            return SystemBase.build(earlier, units)
        if cached is not None and requests[: len(cached.requests)] == cached.requests:
            found = cached.grow(earlier)
        else:
            found = SystemBase.build(earlier, units)
        with snap.lock:
            snap.bases[(year, population)] = found
        return found


def _released_layouts(
    snap: _Snapshot, year: str, population: str | None = None
) -> list[TableLayout]:
    """Layouts of every table already released for `year` under the current build.

    population: only the tables counting that population (e.g. "enrollment", which the
    programs tables count too). Cells of different populations share no equation and no
    rate, so a table is protected with its own population's releases alone.
    """
    out: dict[str, TableLayout] = {}
    for rel in releases(snap.path, snap.build_id, year):
        for req in _requests_of(rel.request):
            if req.measure == "staff":
                continue
            if population is not None and POPULATION_OF[req.measure] != population:
                continue
            out.setdefault(req.to_json(), snap.layout(req))
    return list(out.values())


# -- audit ---------------------------------------------------------------------------------


@dataclass
class YearAudit:
    """The attacker's result for everything released for one school year."""

    school_year: str
    build_id: str
    releases: int
    cells: int
    report: AuditReport | None
    problems: list[str]
    system: CellSystem | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return not self.problems and (self.report is None or self.report.ok)


def audit_year(db_path: str | os.PathLike[str] | None, school_year: str) -> YearAudit:
    """Rebuild the cell system of every release of `school_year` and attack it.

    Besides the auditor's intervals, checks that every shown cell matches the warehouse, that
    no shown count lies in 1..min_cell-1 and that no cell is shown in one release and hidden
    in another.
    """
    snap = _snapshot(db_path)
    _check_against_warehouse(snap, TableRequest("enrollment", school_year))
    policy = load_policy()
    recorded = releases(snap.path, snap.build_id, school_year)
    layouts = _released_layouts(snap, school_year)
    if not layouts:
        return YearAudit(school_year, snap.build_id, len(recorded), 0, None, [])
    system = build_system(layouts, _units_for(snap, school_year))
    problems: list[str] = []
    status_of: dict[str, str] = {}
    con_values: dict[str, int | None] = {}
    for rel in recorded:
        for key, (value, status) in release_cells(snap.path, [rel.release_id]).items():
            before = status_of.get(key)
            if before is not None and (before == SHOWN) != (status == SHOWN):
                problems.append(f"{key}: shown in one release, hidden in another")
            status_of[key] = status if before is None or status == SHOWN else before
            con_values[key] = value
    for i, key in enumerate(system.keys):
        status = status_of.get(key)
        true = int(system.values[i])
        if is_latent(key):
            continue
        if status is None:
            problems.append(f"{key}: laid out but not recorded in any release")
            continue
        if status == SHOWN:
            if con_values[key] != true:
                problems.append(
                    f"{key}: released as {con_values[key]} but the warehouse has {true}"
                )
            if 0 < true < policy.min_cell:
                problems.append(f"{key}: shows a count of {true}")
    report = _attack(system, layouts, status_of, policy)
    return YearAudit(
        school_year, snap.build_id, len(recorded), len(system), report, problems, system
    )


def release_years(
    db_path: str | os.PathLike[str] | None, wanted: Sequence[str] | None = None
) -> list[str]:
    """The school years of the warehouse (the years a public release can be built for), or
    ``wanted`` once each is checked to be one of them (ValueError naming the first that is
    not), each once, in the order first given."""
    years = list(_snapshot(db_path).years)
    for year in wanted or ():
        _check_year(years, year)
    return list(dict.fromkeys(wanted)) if wanted else years


def published_years(db_path: str | os.PathLike[str] | None) -> list[str]:
    """The school years whose public release (current catalogue, this build) is recorded.

    What the dashboard offers: reading a recorded release back takes a moment, while
    protecting a Maine-sized year takes many minutes, which no click should start
    (`edudash serve` protects the missing years before it serves).
    """
    snap = _snapshot(db_path)
    recorded = {
        (r.school_year, r.request) for r in releases(snap.path, snap.build_id, kind="public")
    }
    return [year for year in snap.years if (year, _catalogue_json(year)) in recorded]
