"""The cell system: every count of a release as one variable, and the sums that tie them.

An attacker knows each additive relation of a release (a row total is the sum of its row, a
district is the sum of its schools, a school total appears in the race table and in the gender
table). The cell system records exactly that: cells with their true counts, and constraints
``values[parent] == sum(values[children])``. Linked tables share cells by key, so a school total
that appears in several tables is one cell, parent of several constraints. Suppression and the
auditor work on this structure only; what a key means is opaque to them.

>>> system = CellSystem()
>>> total = system.add_cell(("school", "A", "All"), 12)
>>> parts = [system.add_cell(("school", "A", r), v) for r, v in (("AS", 3), ("WH", 9))]
>>> system.add_constraint(total, parts)
>>> system.validate()
>>> len(system)
3
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp


@dataclass
class CellSystem:
    """Cells ``0..n-1`` with hashable ``keys``, true non-negative ``values`` and constraints.

    keys: one hashable key per cell (e.g. (measure, year, geo_level, geo_id, dim values...)).
    values: the true counts (int64); never published as such, only through a `Protection`.
    constraints: ``(parent, children)`` pairs meaning ``values[parent] == sum(values[children])``;
        the attacker is assumed to know all of them.
    """

    keys: list[Hashable] = field(default_factory=list)
    values: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    constraints: list[tuple[int, list[int]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.int64)
        if len(self.values) != len(self.keys):
            raise ValueError(f"{len(self.keys)} keys but {len(self.values)} values")
        index = dict(zip(self.keys, range(len(self.keys)), strict=True))
        if len(index) != len(self.keys):
            seen: set[Hashable] = set()
            for key in self.keys:
                if key in seen:
                    raise ValueError(f"duplicate cell key {key!r}")
                seen.add(key)
        self._hold(self.keys, self.values, index)
        constraints, self.constraints = list(self.constraints), []
        for parent, children in constraints:
            self.add_constraint(parent, children)

    @classmethod
    def of_distinct_keys(cls, keys: Sequence[Hashable], values: np.ndarray) -> CellSystem:
        """A system of cells ``keys`` holding ``values``, and no constraint yet, where the keys
        are known to be distinct (e.g. some of another system's cells): they are not checked,
        and `index` is built only if it is read (a release's subsystems go to worker
        processes that seldom read it; at scale 1 building it took about a third of the
        time to cut them out)."""
        system = cls.__new__(cls)
        system.constraints = []
        system._hold(keys, np.asarray(values, dtype=np.int64), None)
        return system

    def _hold(
        self, keys: Sequence[Hashable], values: np.ndarray, index: dict[Hashable, int] | None
    ) -> None:
        """Keep ``keys`` and a copy of ``values`` (in a buffer that grows as cells are added),
        and ``index`` (None: built when first read)."""
        self._buffer = values.copy()
        self.values = self._buffer[: len(keys)]
        self.keys = list(keys)
        self._index = index

    @property
    def index(self) -> dict[Hashable, int]:
        """Each cell's number by its key (kept up to date as cells are added)."""
        if self._index is None:
            self._index = dict(zip(self.keys, range(len(self.keys)), strict=True))
        return self._index

    def __getstate__(self) -> dict[str, object]:
        """Pickled without `index` (rebuilt where it is read: see `of_distinct_keys`)."""
        return {**self.__dict__, "_index": None}

    def __len__(self) -> int:
        return len(self.keys)

    def add_cell(self, key: Hashable, value: int) -> int:
        """Add (or find) the cell ``key`` holding the true count ``value``; return its index.

        A key seen before must carry the same value: linked tables share a cell, they do not
        redefine it.
        """
        value = int(value)
        if value < 0:
            raise ValueError(f"cell {key!r} has a negative count {value}")
        existing = self.index.get(key)
        if existing is not None:
            if int(self.values[existing]) != value:
                raise ValueError(
                    f"cell {key!r} added with value {value} but already holds "
                    f"{int(self.values[existing])}"
                )
            return existing
        n = len(self.keys)
        if n == len(self._buffer):
            grown = np.zeros(max(16, 2 * n), dtype=np.int64)
            grown[:n] = self._buffer[:n]
            self._buffer = grown
        self._buffer[n] = value
        self.keys.append(key)
        self.index[key] = n
        self.values = self._buffer[: n + 1]
        return n

    def add_constraint(self, parent: int, children: Iterable[int]) -> None:
        """Record ``values[parent] == sum(values[children])`` (checked by `validate`)."""
        kids = [int(c) for c in children]
        n = len(self.keys)
        if not kids:
            raise ValueError(f"constraint on {self._key(parent)!r} has no children")
        for cell in (parent, *kids):
            if not 0 <= int(cell) < n:
                raise ValueError(f"constraint refers to unknown cell index {cell}")
        if len(set(kids)) != len(kids) or int(parent) in kids:
            raise ValueError(
                f"constraint on {self._key(parent)!r} repeats a cell or contains its parent"
            )
        self.constraints.append((int(parent), kids))

    def add_constraints(self, constraints: Sequence[tuple[int, Sequence[int]]]) -> None:
        """`add_constraint` for many at once (the same checks, done together)."""
        if not constraints:
            return
        sizes, flat = _flat_cells(constraints)
        lengths = sizes - 1
        if not lengths.all():
            bad = constraints[int(np.argmin(lengths))][0]
            raise ValueError(f"constraint on {self._key(bad)!r} has no children")
        if flat.min() < 0 or flat.max() >= len(self.keys):
            raise ValueError("constraint refers to unknown cell index")
        # a repeated cell within one constraint (parent among its children included): the
        # constraints' rows of the incidence matrix then merge two entries (each row's cells
        # sorted in C, not all of them in one sort); they are that matrix where they are all
        rows = _incidence_from_flat(sizes, flat, len(self.keys))
        if rows.nnz != len(flat):
            for parent, children in constraints:
                if len({parent, *children}) != len(children) + 1:
                    raise ValueError(
                        f"constraint on {self._key(parent)!r} repeats a cell or contains its parent"
                    )
        first = not self.constraints
        self.constraints.extend(constraints_of(sizes, flat))
        if first:
            self._keep_incidence(rows)

    def add_sum(
        self, parent: tuple[Hashable, int], children: Sequence[tuple[Hashable, int]]
    ) -> tuple[int, list[int]]:
        """Add a parent cell and its children as ``(key, value)`` pairs plus their constraint."""
        p = self.add_cell(*parent)
        kids = [self.add_cell(key, value) for key, value in children]
        self.add_constraint(p, kids)
        return p, kids

    def add_bounds(self, bounds: dict[int, tuple[int, int | None]]) -> tuple[list[int], list[int]]:
        """Add public inequalities ``lo <= values[cell] <= hi`` as equations; return new cells.

        A coded rate ("<=5%" of a shown group) tells the public a bound, not a sum. Each bound
        becomes an equation with a constant cell (known: shown) and a slack cell (unknown,
        hidden, >= 0): ``cell = lo + slack`` and ``hi = cell + slack`` (``hi`` None: no upper). Returns the constant
        cells and the slack cells (keys ``~lo|key``, ``~lo~slack|key``, ``~hi|key``, ...).
        """
        added = self._add_bounds_at_once(bounds)
        if added is not None:
            return added
        constants: list[int] = []
        slacks: list[int] = []
        for cell, (lo, hi) in sorted(bounds.items()):
            key = self.keys[cell]
            v = int(self.values[cell])
            if v < lo or (hi is not None and v > hi):
                raise ValueError(f"cell {key!r} = {v} is outside its public bounds [{lo}, {hi}]")
            if lo > 0:
                const = self.add_cell(f"~lo|{key}", lo)
                slack = self.add_cell(f"~lo~slack|{key}", v - lo)
                self.add_constraint(cell, [const, slack])
                constants.append(const)
                slacks.append(slack)
            if hi is None:
                continue
            const = self.add_cell(f"~hi|{key}", hi)
            slack = self.add_cell(f"~hi~slack|{key}", hi - v)
            self.add_constraint(const, [cell, slack])
            constants.append(const)
            slacks.append(slack)
        return constants, slacks

    def _add_bounds_at_once(
        self, bounds: dict[int, tuple[int, int | None]]
    ) -> tuple[list[int], list[int]] | None:
        """`add_bounds` in whole-array steps: the same cells, numbers and equations, in the
        same order (a scale-1 release adds some 20,000 bounds per level, about ten times).
        None (nothing added) where one of the new keys exists already: `add_bounds` then
        goes one by one, reusing or refusing it as `add_cell` does."""
        if not bounds:
            return [], []
        cells = sorted(bounds)
        rows = []  # per cell: (lo, hi, value)
        for cell, v in zip(cells, self.values[cells].tolist(), strict=True):
            lo, hi = bounds[cell]
            if v < lo or (hi is not None and v > hi):
                key = self.keys[cell]
                raise ValueError(f"cell {key!r} = {v} is outside its public bounds [{lo}, {hi}]")
            rows.append((lo, hi, v))
        keys: list[Hashable] = []
        new_values: list[int] = []
        kinds: list[tuple[int, bool]] = []  # per equation: (cell, an upper bound)
        for cell, (lo, hi, v) in zip(cells, rows, strict=True):
            key = self.keys[cell]
            if lo > 0:
                keys += (f"~lo|{key}", f"~lo~slack|{key}")
                new_values += (lo, v - lo)
                kinds.append((cell, False))
            if hi is not None:
                keys += (f"~hi|{key}", f"~hi~slack|{key}")
                new_values += (hi, hi - v)
                kinds.append((cell, True))
        if any(k in self.index for k in keys):
            return None
        n = len(self.keys)
        size = n + len(keys)
        if size > len(self._buffer):
            grown = np.zeros(max(16, 2 * size), dtype=np.int64)
            grown[:n] = self._buffer[:n]
            self._buffer = grown
        self._buffer[n:size] = new_values
        self.keys.extend(keys)
        self.index.update(zip(keys, range(n, size), strict=True))
        self.values = self._buffer[:size]
        constants = list(range(n, size, 2))
        slacks = list(range(n + 1, size, 2))
        for (cell, upper), const, slack in zip(kinds, constants, slacks, strict=True):
            if upper:  # hi = cell + slack
                self.constraints.append((const, [cell, slack]))
            else:  # cell = lo + slack
                self.constraints.append((cell, [const, slack]))
        return constants, slacks

    def copy(self) -> CellSystem:
        """A copy to add to (cells, bounds, constraints) without changing this system.

        The constraints' lists of children are shared, not copied: a constraint is never
        changed once added (copying them took 0.2 s on the scale-1 public release of a year).
        """
        out = CellSystem.of_distinct_keys(self.keys, self.values)
        out._index = None if self._index is None else dict(self._index)
        out.constraints = list(self.constraints)
        kept = self._kept_incidence()
        if kept is not None:  # read-only: shared; its rows are the copy's first ones
            out._keep_incidence(kept)
        return out

    def cell(self, key: Hashable) -> int:
        """The index of the cell ``key`` (KeyError if absent)."""
        return self.index[key]

    def validate(self) -> None:
        """Raise ValueError if a value is negative or a constraint does not hold."""
        values = self.values
        if len(values) and values.min() < 0:
            bad = int(np.argmin(values))
            raise ValueError(f"cell {self.keys[bad]!r} has a negative count {int(values[bad])}")
        if not self.constraints:
            return
        residual = self.incidence() @ values
        broken = np.flatnonzero(residual)
        if len(broken):
            parent, children = self.constraints[int(broken[0])]
            raise ValueError(
                f"{len(broken)} constraint(s) do not hold, e.g. {self.keys[parent]!r} = "
                f"{int(values[parent])} but its {len(children)} children sum to "
                f"{int(values[children].sum())}"
            )

    def incidence(self) -> sp.csr_matrix:
        """Constraints x cells matrix: +1 for the parent, -1 for each child (rows sum to 0).

        Built once per shape (cells and constraints are only ever added); treat it as
        read-only. Where an earlier shape's matrix is kept (this system's, or the original's
        of a `copy`), only the rows of the constraints added since are built (a release
        adds some 20,000 bounds to a copy of each level's system, about ten times).
        """
        shape = (len(self.constraints), len(self.keys))
        cached = self._kept_incidence()
        if cached is not None and cached.shape == shape:
            return cached
        if cached is not None and cached.shape[0] <= shape[0] and cached.shape[1] <= shape[1]:
            head = sp.csr_matrix(
                (cached.data, cached.indices, cached.indptr), shape=(cached.shape[0], shape[1])
            )
            tail = _incidence_of(self.constraints[cached.shape[0] :], shape[1])
            matrix = sp.csr_matrix(sp.vstack([head, tail], format="csr"), dtype=np.int64)
            matrix.sum_duplicates()  # each part's rows are sorted already: marks them so
        else:
            matrix = _incidence_of(self.constraints, shape[1])
        self._keep_incidence(matrix)
        return matrix

    def _keep_incidence(self, matrix: sp.csr_matrix) -> None:
        """Keep ``matrix`` as the incidence of the first constraints of this system's list."""
        self._incidence = (matrix, self.constraints)

    def _kept_incidence(self) -> sp.csr_matrix | None:
        """The incidence matrix kept for this system's list of constraints, if any (a list
        put in its place since, e.g. `privacy.cell_build`'s, holds other rows: none)."""
        kept = getattr(self, "_incidence", None)
        if kept is None or kept[1] is not self.constraints:
            return None
        return kept[0]

    def _key(self, i: int) -> Hashable:
        return self.keys[i] if 0 <= int(i) < len(self.keys) else i


def side_by_side(systems: Sequence[CellSystem]) -> CellSystem:
    """Cell systems that share no cell as one: their cells in turn, each system's sums over the
    same cells, renumbered past the systems before it (the first system's kept as they are).

    Children lists are shared with ``systems`` where no number changes (a constraint is never
    changed once added) and renumbered in whole-array steps elsewhere (a scale-1 year's 60,000
    sums: 0.26 s one by one, 0.03-0.10 s so).
    """
    out = CellSystem(
        keys=[k for s in systems for k in s.keys],
        values=np.concatenate([np.zeros(0, dtype=np.int64), *(s.values for s in systems)]),
    )
    offset = 0
    for s in systems:
        if offset == 0 or not s.constraints:
            out.constraints.extend(s.constraints)
        else:
            sizes, flat = _flat_cells(s.constraints)
            out.constraints.extend(constraints_of(sizes, flat + offset))
        offset += len(s)
    return out


def _incidence_of(constraints: Sequence[tuple[int, Sequence[int]]], n: int) -> sp.csr_matrix:
    """`CellSystem.incidence` of ``constraints`` over ``n`` cells, built from nothing."""
    return _incidence_from_flat(*_flat_cells(constraints), n)


def _incidence_from_flat(sizes: np.ndarray, flat: np.ndarray, n: int) -> sp.csr_matrix:
    """`_incidence_of` the constraints of `_flat_cells`' arrays (a cell twice in one
    constraint makes one entry of their sum, none if it is 0)."""
    indptr = np.concatenate(([0], np.cumsum(sizes)))
    data = np.full(len(flat), -1, dtype=np.int64)
    data[indptr[:-1]] = 1
    matrix = sp.csr_matrix((data, flat, indptr), shape=(len(sizes), n))
    matrix.sum_duplicates()  # sorts the indices of each row
    return matrix


def matrix_entries(
    matrix: sp.csr_matrix | sp.csc_matrix, major: np.ndarray
) -> tuple[np.ndarray, ...]:
    """(entries per row of a CSR matrix, or per column of a CSC one, for each of ``major``;
    their positions in ``matrix.indices`` and ``matrix.data``, in that order)."""
    starts = matrix.indptr[major]
    counts = matrix.indptr[major + 1] - starts
    return counts, concat_ranges(starts, counts)


def concat_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenate ``arange(s, s + n)`` for each (s, n), vectorised."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + offsets


def distinct(values: np.ndarray, size: int) -> np.ndarray:
    """``np.unique(values)`` of numbers in ``range(size)``, the same array: where they are
    many, marked in an array of ``size`` instead of sorted (a propagation sweep over every
    equation of a scale-1 level sorted some 200,000 numbers)."""
    if len(values) * 8 < size:
        return sorted_distinct(values)
    seen = np.zeros(size, dtype=bool)
    seen[values] = True
    return np.flatnonzero(seen).astype(values.dtype, copy=False)


def sorted_distinct(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)``, the same array, by one plain sort: numpy 2.4's `np.unique`
    gathers the values in a hash table first, 3-4 times as slow on a few thousand numbers
    and 15 times on 600,000."""
    ordered = np.sort(values)
    if not len(ordered):
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def distinct_where(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` of numbers in ``range(size)``, the same
    arrays, as `distinct` finds them."""
    if len(values) * 8 < size:
        found = sorted_distinct(values)
        return found, np.searchsorted(found, values)
    found = distinct(values, size)
    where = np.empty(size, dtype=np.int64)
    where[found] = np.arange(len(found))
    return found, where[values]


def constraints_of(sizes: np.ndarray, flat: np.ndarray) -> Iterator[tuple[int, list[int]]]:
    """The constraints of `_flat_cells`' arrays again, as (parent, children) of Python ints
    (cut from one list: a scale-1 assessment system's 30,000 sums in 0.014 s, where
    converting them one by one took 0.081 s)."""
    cells = flat.tolist()
    ends = np.cumsum(sizes).tolist()
    for end, size in zip(ends, sizes.tolist(), strict=True):
        yield cells[end - size], cells[end - size + 1 : end]


def _flat_cells(constraints: Sequence[tuple[int, Sequence[int]]]) -> tuple[np.ndarray, np.ndarray]:
    """(cells per constraint, parent then children of each in turn) as arrays."""
    sizes = np.fromiter((len(ch) + 1 for _, ch in constraints), dtype=np.int64)
    flat = np.fromiter(
        itertools.chain.from_iterable((p, *ch) for p, ch in constraints),
        dtype=np.int64,
        count=int(sizes.sum()),
    )
    return sizes, flat


ALL = "All"


def add_table(system: CellSystem, name: Hashable, counts: np.ndarray) -> dict[tuple, int]:
    """Add an n-way table of ``counts`` with every margin (coordinate ``"All"``) to ``system``.

    Each cell key is ``(name, i1, ..., ik)`` with ``ij`` an index or ``"All"``; for every
    margin and every dimension it totals, one constraint ties it to the cells it sums. Returns
    the key -> cell index map (margins included).
    """
    counts = np.asarray(counts, dtype=np.int64)
    shape = counts.shape
    index: dict[tuple, int] = {}
    for coords in np.ndindex(*(s + 1 for s in shape)):
        key = tuple(ALL if c == s else c for c, s in zip(coords, shape, strict=True))
        sel = tuple(slice(None) if c == ALL else c for c in key)
        index[key] = system.add_cell((name, *key), int(counts[sel].sum()))
    for key, cell in index.items():
        for d, c in enumerate(key):
            if c == ALL:
                children = [index[key[:d] + (j,) + key[d + 1 :]] for j in range(shape[d])]
                system.add_constraint(cell, children)
    return index
