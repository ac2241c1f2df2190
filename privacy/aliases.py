"""Cells that a one-child sum makes equal, merged into one variable.

A sum with one child says two cells hold the same count: a district with one high school has
its graduation cells once as the district's and once as the school's. To an attacker they are
one unknown (an integer point of the merged system is one of the whole system, each cell
taking its class's value), so an interval proven for one is proven for all, and a pattern that
shows one member of a class and hides another tells the hidden one exactly. Protection and
the auditor therefore work on the merged system (`merge`): at scale 1 the school level of the
public release holds thousands of such copies, each otherwise proven again.

>>> from privacy.cells import CellSystem
>>> s = CellSystem()
>>> d, (d1, d2) = s.add_sum(("D", 12), [("D|a", 5), ("D|b", 7)])
>>> school, (a, b) = s.add_sum(("S", 12), [("S|a", 5), ("S|b", 7)])
>>> for parent, child in ((d, school), (d1, a), (d2, b)):
...     s.add_constraint(parent, [child])
>>> merged = merge(s)
>>> len(merged.system), len(merged.system.constraints)
(3, 1)
>>> merged.expand(np.array(["x", "y", "z"])).tolist()
['x', 'y', 'z', 'x', 'y', 'z']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from privacy.cells import CellSystem


@dataclass(frozen=True, eq=False)
class Merged:
    """`system` with each class of equal cells as one cell (see `merge`).

    system: the merged cell system; each cell is a class, numbered in the order of its
        lowest-numbered member, whose key and count it keeps.
    cell_of: per original cell, its cell in ``system``.
    row_of: per original constraint, its row in ``system`` (-1: a one-child sum, or a sum
        that repeats another once merged).
    """

    system: CellSystem
    cell_of: np.ndarray
    row_of: np.ndarray

    def any_of(self, cells: np.ndarray) -> np.ndarray:
        """Merged cells with at least one member among the original `cells` (sorted)."""
        return np.unique(self.cell_of[np.asarray(cells, dtype=np.int64)])

    def all_of(self, cells: np.ndarray) -> np.ndarray:
        """Merged cells whose members are all among the original `cells` (sorted)."""
        mask = np.zeros(len(self.cell_of), dtype=bool)
        mask[np.asarray(cells, dtype=np.int64)] = True
        outside = np.zeros(len(self.system), dtype=bool)
        outside[self.cell_of[~mask]] = True
        return np.flatnonzero(~outside)

    def expand(self, per_cell: np.ndarray) -> np.ndarray:
        """A per-merged-cell array as a per-original-cell one (each member its class's)."""
        return np.asarray(per_cell)[self.cell_of]

    def expand_point(self, cells: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A point of the merged system (cells it moves, their values) in original cells."""
        moved = np.zeros(len(self.system), dtype=bool)
        moved[cells] = True
        value = np.zeros(len(self.system), dtype=np.asarray(values).dtype)
        value[cells] = values
        out = np.flatnonzero(moved[self.cell_of])
        return out, value[self.cell_of[out]]


def merge(system: CellSystem) -> Merged | None:
    """`system` with the cells of each one-child sum merged; None when there is nothing to merge.

    Also None when merging would turn a sum into one the cell system cannot state (a parent
    equal to one of its own children, or a child counted twice): the caller then works on the
    system as it is, which is always right, only slower.
    """
    n = len(system)
    incidence = system.incidence()  # +1 for a sum's parent (first), -1 for each child
    lengths = np.diff(incidence.indptr) - 1
    single = np.flatnonzero(lengths == 1)
    if not len(single):
        return None
    starts = incidence.indptr[single]
    pair = incidence.indices[np.stack([starts, starts + 1], axis=1)]
    graph = sp.coo_matrix((np.ones(len(single)), (pair[:, 0], pair[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # number the classes in the order of their first member, so the merged system keeps the
    # original order (and the same input always gives the same merged system)
    first_of_label = np.full(labels.max() + 1, n, dtype=np.int64)
    np.minimum.at(first_of_label, labels, np.arange(n, dtype=np.int64))
    first = np.sort(first_of_label)
    number = np.empty(len(first_of_label), dtype=np.int64)
    number[np.argsort(first_of_label, kind="stable")] = np.arange(len(first_of_label))
    cell_of = number[labels]
    values = system.values
    if not np.array_equal(values, values[first][cell_of]):
        return None  # a one-child sum that does not hold: `validate` will say so
    # the other sums on the classes, each row's parent first, its children in class order
    sums = np.flatnonzero(lengths != 1)
    rows = incidence[sums]
    size = np.diff(rows.indptr)
    row = np.repeat(np.arange(len(sums)), size)
    cls = cell_of[rows.indices]
    order = np.lexsort((cls, rows.data < 0, row))  # per row: the parent (+1), then children
    cls = cls[order]
    entry = np.sort(row * len(first) + cls)
    if (entry[1:] == entry[:-1]).any():
        return None  # a class twice in one sum (a parent among its children, a child twice)
    flat = cls.tolist()
    bounds = rows.indptr.tolist()
    class_size = np.bincount(cell_of, minlength=len(first))
    touched = np.zeros(len(sums), dtype=bool)
    touched[row[class_size[cls] > 1]] = True
    row_of = np.full(len(lengths), -1, dtype=np.int64)
    seen: dict[tuple[int, ...], int] = {}
    merged: list[tuple[int, list[int]]] = []
    for i, is_touched in enumerate(touched.tolist()):
        entries = flat[bounds[i] : bounds[i + 1]]
        if is_touched:  # only a sum on a merged class can now repeat another
            at = seen.setdefault(tuple(entries), len(merged))
            if at < len(merged):
                row_of[sums[i]] = at
                continue
        row_of[sums[i]] = len(merged)
        merged.append((entries[0], entries[1:]))
    keys = system.keys
    out = CellSystem(keys=[keys[i] for i in first.tolist()], values=values[first])
    out.add_constraints(merged)
    return Merged(system=out, cell_of=cell_of, row_of=row_of)
