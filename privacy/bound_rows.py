"""Equations that only bound one cell, solved as that cell's column bounds instead.

A public rate bound ("<=5%" of a shown group, `privacy.cells.CellSystem.add_bounds`) becomes
an equation with a shown constant and a hidden slack found in no other equation:
``cell - slack = lo`` or ``cell + slack = hi``. To the attacker's LPs such a row says no more
than ``lo <= cell`` or ``cell <= hi``, and a row costs a simplex pivot more than a bound does:
every row is one more basic variable, every bound only a flip. HiGHS's presolve removes such
rows from a cold solve, but a kept model re-solved from its basis skips presolve, and so does
a cold solve without presolve (`privacy.auditor`'s whole-component LPs). `BoundRows` takes
them out of such a model and puts each slack back from its cell in every point found, so the
points are exactly those of the whole model: the same equations hold, the same cells are
integers. (Scale 1, 2023-24: such rows are 20-47% of the kept models' rows in the large parts,
which then took about 2.5% less CPU, every status the same.)

>>> import numpy as np, scipy.sparse as sp
>>> # x0 + x1 + x2 = 6, x0 - x3 = 2 (x3 a slack: x0 >= 2), x0 + x4 = 5 (x4: x0 <= 5)
>>> a = sp.csr_matrix(np.array([[1, 1, 1, 0, 0], [1, 0, 0, -1, 0], [1, 0, 0, 0, 1]]))
>>> reduced = BoundRows(a, np.array([6.0, 2.0, 5.0]))
>>> reduced.a.toarray(), reduced.columns.tolist()
(array([[1, 1, 1]]), [0, 1, 2])
>>> reduced.bounds(np.zeros(5), np.full(5, np.inf))
(array([2., 0., 0.]), array([ 5., inf, inf]))
>>> reduced.restore(np.array([4.0, 1.0, 1.0])).tolist()
[4.0, 1.0, 1.0, 2.0, 1.0]
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


class BoundRows:
    """``a x = b`` (CSR, coefficients +-1) without its rows that only bound one column.

    A row goes when it holds exactly two columns and one of them (its slack) is in no other
    row and not among ``keep`` (column numbers the caller's model links to, e.g. credit rows;
    none by default): the row then only bounds its other column. The slack's bounds turn
    into that column's bounds (`bounds`), a cost on it into a cost on that column (`costs`),
    and its value comes back from that column's in every point (`restore`). No privacy
    meaning of its own: the points of the reduced model are the points of ``a x = b``.

    Attributes: ``a`` and ``b``, the rows kept over the columns kept; ``columns``, the
    columns kept (increasing), ``position``, each column's place among them (-1 for a slack).
    """

    def __init__(self, a: sp.csr_matrix, b: np.ndarray, keep: np.ndarray | None = None) -> None:
        a = sp.csr_matrix(a)
        m, n = a.shape
        linked = np.zeros(n, dtype=bool)
        if keep is not None:
            linked[keep] = True
        self.n = n
        in_rows = np.bincount(a.indices, minlength=n)
        two = np.flatnonzero(np.diff(a.indptr) == 2)
        first, second = a.indices[a.indptr[two]], a.indices[a.indptr[two] + 1]
        alone_first = (in_rows[first] == 1) & ~linked[first]
        alone_second = (in_rows[second] == 1) & ~linked[second]
        use = alone_first | alone_second
        slack_is_second = alone_second[use]
        rows = two[use]
        slack = np.where(slack_is_second, second[use], first[use])
        cell = np.where(slack_is_second, first[use], second[use])
        # (two lone columns in one row: the second goes; a lone column is in no other row, so
        # a column bounded here is never a slack of another)
        where_first = a.indptr[rows]
        slack_first = ~slack_is_second
        coef_cell = a.data[np.where(slack_first, where_first + 1, where_first)].astype(float)
        coef_slack = a.data[np.where(slack_first, where_first, where_first + 1)].astype(float)
        if not (np.abs(coef_cell) == 1).all() or not (np.abs(coef_slack) == 1).all():
            raise ValueError("a bound row with a coefficient other than +1 or -1")
        # slack = offset + gain * cell, from coef_cell * cell + coef_slack * slack = b
        self.slack, self.cell = slack, cell
        self.offset = np.asarray(b, dtype=float)[rows] / coef_slack
        self.gain = -coef_cell / coef_slack
        kept_rows = np.ones(m, dtype=bool)
        kept_rows[rows] = False
        kept_cols = np.ones(n, dtype=bool)
        kept_cols[slack] = False
        self.columns = np.flatnonzero(kept_cols)
        self.position = np.full(n, -1, dtype=np.int64)
        self.position[self.columns] = np.arange(len(self.columns))
        self.a = a[kept_rows][:, self.columns]
        self.b = np.asarray(b)[kept_rows]

    def bounds(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The kept columns' bounds, given every column's (``lo``, ``hi``; a slack's bounds
        bound its column: a slack held at its value holds that column at its own)."""
        lo_kept = np.asarray(lo, dtype=float)[self.columns].copy()
        hi_kept = np.asarray(hi, dtype=float)[self.columns].copy()
        slack_lo, slack_hi = np.asarray(lo)[self.slack], np.asarray(hi)[self.slack]
        # slack = offset + gain * cell with gain +-1: its range is the cell's, shifted
        rising = self.gain > 0
        cell_lo = np.where(rising, slack_lo - self.offset, self.offset - slack_hi)
        cell_hi = np.where(rising, slack_hi - self.offset, self.offset - slack_lo)
        at = self.position[self.cell]
        np.maximum.at(lo_kept, at, cell_lo)
        np.minimum.at(hi_kept, at, cell_hi)
        return lo_kept, hi_kept

    def costs(self, c: np.ndarray) -> np.ndarray:
        """The kept columns' costs of the objective ``c`` over every column (up to a
        constant: a slack's cost goes to its column)."""
        out = np.asarray(c, dtype=float)[self.columns].copy()
        np.add.at(out, self.position[self.cell], np.asarray(c, dtype=float)[self.slack] * self.gain)
        return out

    def restore(self, x: np.ndarray) -> np.ndarray:
        """A point over every column from one over the kept columns (each slack from its
        column's value: exact where that value is an integer)."""
        full = np.zeros(self.n)
        full[self.columns] = x
        full[self.slack] = self.offset + self.gain * full[self.cell]
        return full
