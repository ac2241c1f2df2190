"""An independent attacker on published tables: bounds every hidden cell by integer programming.

It shares no code with `privacy/`: it reads only what a member of the public (or a staff member
who downloaded custom tables) holds - the tidy CSVs of `edudash export` (described by
`datapackage.json`) and `ProtectedTable.to_csv_bytes()` - and rebuilds the linear relations
itself from the published structure:

- a row whose dimension value is ``All`` is the sum of the rows with that dimension's codes
  (same other keys); performance levels 3 + 4 make ``P34`` and 1 + 2 make ``P12`` (a level
  no table publishes is a free unknown, so tested = P12 + P34 still binds);
- state rows are the sums of district rows, district rows the sums of their schools (the
  school -> district map is read from the school rows); a lower-level cell that no table
  publishes is a free non-negative unknown, so the relation still binds;
- the same (population, year, geography, dimension values) cell in two tables is one unknown;
  a filter on a dimension is part of every cell of the filtered table;
- a rate published with its denominator bounds the numerator: an exact rate "85.2%" within
  rounding, a coded range "<=5%" / ">=95%" as a one-sided inequality.

Optionally (`use_status=True`) it also reads the `status` column: a cell hidden as small is
1..min_cell-1; a cell hidden as a complement or coded is 0 or at least min_cell (binary
variables). Every hidden cell then gets its min and max from `scipy.optimize.milp` (HiGHS), over
non-negative integers. To stay fast, feasible solutions found on the way witness values each
cell can take; a cell whose witnesses already span the criterion is not solved further.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import connected_components

ALL = "All"
P34 = "P34"
ROLLUPS = {P34: ["3", "4"], "P12": ["1", "2"]}
HIDDEN = "*"
POPULATION_OF_MEASURE = {
    "enrollment": "enrollment",
    "programs": "enrollment",
    "assessment": "assessment",
    "graduation": "graduation",
}
RATE_DIMENSION = {"assessment": "performance_level", "graduation": "outcome"}
GEO_COLUMNS = {"school_id", "school_name", "district_id", "district_name"}
_RATE = re.compile(r"^(\d+(?:\.\d+)?)%$")
_CODED = re.compile(r"^(<=|>=)(\d+(?:\.\d+)?)%$")

Key = tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class PublishedTable:
    """One CSV as the attacker holds it.

    measure / school_year / filters: what the table says it counts (from datapackage.json for
    the public export; from the request for a custom table - the requester typed them).
    """

    name: str
    measure: str
    school_year: str
    filters: tuple[tuple[str, str], ...]
    columns: tuple[str, ...]
    rows: tuple[dict[str, str], ...]

    @property
    def geography(self) -> str:
        if "school_id" in self.columns:
            return "school"
        if "district_id" in self.columns:
            return "district"
        return "state"

    @property
    def dimensions(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if f"{c}_label" in self.columns)


def _clean(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def parse_csv(
    data: bytes | str,
    *,
    name: str,
    measure: str,
    school_year: str,
    filters: Iterable[tuple[str, str]] = (),
) -> PublishedTable:
    """Read one published CSV (comment lines start with "# ")."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    reader = csv.DictReader(io.StringIO(body))
    rows = tuple({k: _clean(v) for k, v in row.items()} for row in reader)
    return PublishedTable(
        name=name,
        measure=measure,
        school_year=school_year,
        filters=tuple((str(a), str(b)) for a, b in filters),
        columns=tuple(reader.fieldnames or ()),
        rows=rows,
    )


def load_export(folder: str | Path) -> list[PublishedTable]:
    """Every table of an `edudash export` folder, as described by its datapackage.json."""
    folder = Path(folder)
    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    out = []
    for res in package["resources"]:
        out.append(
            parse_csv(
                (folder / res["path"]).read_bytes(),
                name=res["name"],
                measure=res["measure"],
                school_year=res["school_year"],
                filters=[tuple(f) for f in res.get("filters", [])],
            )
        )
    return out


# -- the attacker's model ------------------------------------------------------------------


@dataclass
class Model:
    """Unknowns and the linear knowledge about them.

    known: key -> published value; hidden: keys published as "*"; status: key -> published
    status (when the CSV has the column); equations: (parent, children) sums; ratios: rows
    (numerator, denominator, low, high) meaning low <= num/den <= high (fractions, None =
    unbounded side).
    """

    index: dict[Key, int] = field(default_factory=dict)
    keys: list[Key] = field(default_factory=list)
    known: dict[int, int] = field(default_factory=dict)
    hidden: set[int] = field(default_factory=set)
    status: dict[int, str] = field(default_factory=dict)
    where: dict[int, str] = field(default_factory=dict)
    equations: set[tuple[int, tuple[int, ...]]] = field(default_factory=set)
    ratios: list[tuple[int, int, float | None, float | None]] = field(default_factory=list)
    shown_small: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    def var(self, key: Key) -> int:
        i = self.index.get(key)
        if i is None:
            i = len(self.keys)
            self.index[key] = i
            self.keys.append(key)
        return i


def _geo(table: PublishedTable, row: Mapping[str, str]) -> tuple[str, ...]:
    if table.geography == "school":
        return ("S", row["school_id"])
    if table.geography == "district":
        return ("D", row["district_id"])
    return ("state",)


def _rate_dim(table: PublishedTable, codes: Mapping[str, set[str]]) -> str | None:
    if table.measure in RATE_DIMENSION:
        return RATE_DIMENSION[table.measure]
    if table.measure == "programs":
        for d in table.dimensions:
            if codes.get(d) == {"true", "false"}:
                return d
    return None


def build_model(tables: Sequence[PublishedTable], *, min_cell: int = 10) -> Model:
    """Unknowns, published values and every relation the published structure implies."""
    counted = [t for t in tables if t.measure in POPULATION_OF_MEASURE]
    codes: dict[str, set[str]] = defaultdict(set)
    for t in counted:
        for d in t.dimensions:
            for row in t.rows:
                if row[d] != ALL and row[d] not in ROLLUPS:
                    codes[d].add(row[d])
    no_margin = {
        d for t in counted for d in t.dimensions if not any(row[d] == ALL for row in t.rows)
    }
    school_district: dict[str, str] = {}
    schools_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    districts_of: dict[str, set[str]] = defaultdict(set)
    m = Model()
    row_cells: list[tuple[PublishedTable, dict[str, str], int]] = []
    for t in counted:
        pop = f"{POPULATION_OF_MEASURE[t.measure]}:{t.school_year}"
        fixed = [(n, v) for n, v in t.filters if n not in ("district_id", "school_id")]
        for row in t.rows:
            if t.geography == "school":
                school_district[row["school_id"]] = row["district_id"]
                schools_of[(pop, row["district_id"])].add(row["school_id"])
            if t.geography in ("school", "district"):
                districts_of[pop].add(row["district_id"])
            dims = [(d, row[d]) for d in t.dimensions if row[d] != ALL]
            key: Key = (pop, _geo(t, row), tuple(sorted([*dims, *fixed])))
            i = m.var(key)
            m.where.setdefault(i, f"{t.name}: {_describe(key)}")
            row_cells.append((t, row, i))
            count = row["count"]
            if "status" in row and row["status"]:
                m.status[i] = row["status"]
            if count == HIDDEN:
                m.hidden.add(i)
            else:
                value = int(count)
                if m.known.get(i, value) != value:
                    m.conflicts.append(f"{_describe(key)}: {m.known[i]} and {value}")
                m.known[i] = value
                if 0 < value < min_cell:
                    m.shown_small.append(f"{t.name}: {_describe(key)} = {value}")
    # A cell shown in one table and hidden in another is simply known.
    m.hidden -= set(m.known)

    # Rates and denominators within each table.
    for t in counted:
        rdim = _rate_dim(t, codes)
        if rdim is None:
            continue
        pop = f"{POPULATION_OF_MEASURE[t.measure]}:{t.school_year}"
        fixed = [(n, v) for n, v in t.filters if n not in ("district_id", "school_id")]
        for row in t.rows:
            if row[rdim] == ALL:
                continue
            dims = [(d, row[d]) for d in t.dimensions if row[d] != ALL]
            num = m.index[(pop, _geo(t, row), tuple(sorted([*dims, *fixed])))]
            den_dims = [(d, v) for d, v in dims if d != rdim]
            den = m.var((pop, _geo(t, row), tuple(sorted([*den_dims, *fixed]))))
            shown_den = row.get("denominator", "")
            if shown_den not in ("", HIDDEN):
                m.known.setdefault(den, int(shown_den))
                m.hidden.discard(den)
            rate = row.get("rate", "")
            exact = _RATE.match(rate)
            coded = _CODED.match(rate)
            if exact:
                r = float(exact.group(1))
                m.ratios.append((num, den, (r - 0.05) / 100, (r + 0.05) / 100))
            elif coded:
                r = float(coded.group(2)) / 100
                if coded.group(1) == "<=":
                    m.ratios.append((num, den, None, r))
                else:
                    m.ratios.append((num, den, r, None))

    # Margins: a key with dimension d set, summed over d's codes, gives the key without d.
    for key in list(m.keys):
        pop, geo, items = key
        for pos, (d, v) in enumerate(items):
            if d in no_margin:
                continue
            rest = items[:pos] + items[pos + 1 :]
            if v in ROLLUPS:
                parts = ROLLUPS[v]
                parent = m.index[key]
            elif v in codes[d]:
                parts = sorted(codes[d])
                parent = m.var((pop, geo, rest))
            else:
                continue
            kids = [m.var((pop, geo, tuple(sorted([*rest, (d, c)])))) for c in parts]
            m.equations.add((parent, tuple(sorted(kids))))

    # Geography: district = sum of its schools, state = sum of districts. Every published cell
    # ties into its parent's sum (a missing parent or sibling is a free unknown: a school or
    # district with no row in a population counts no one).
    for level in ("S", "D"):
        for key in list(m.keys):
            pop, geo, items = key
            if geo[0] != level:
                continue
            if level == "S":
                district = school_district.get(geo[1])
                if district is None:
                    continue
                parent: Key = (pop, ("D", district), items)
                kids_geo = [("S", s) for s in sorted(schools_of.get((pop, district), ()))]
            else:
                parent = (pop, ("state",), items)
                kids_geo = [("D", d) for d in sorted(districts_of.get(pop, ()))]
            if geo not in kids_geo:
                continue
            kids = tuple(sorted(m.var((pop, g, items)) for g in kids_geo))
            m.equations.add((m.var(parent), kids))
    return m


def _describe(key: Key) -> str:
    pop, geo, items = key
    where = "state" if geo == ("state",) else f"{geo[0]}:{geo[1]}"
    dims = ",".join(f"{d}={v}" for d, v in items) or "total"
    return f"{pop} {where} {dims}"


# -- solving -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """What the attacker can prove about one hidden cell."""

    key: str
    where: str
    status: str
    low: int
    high: int
    exact: bool

    @property
    def width(self) -> int:
        return self.high - self.low


@dataclass
class AttackResult:
    """Intervals of every hidden cell, and what breaks the policy."""

    intervals: list[Interval]
    shown_small: list[str]
    conflicts: list[str]
    infeasible: bool = False
    milp_solves: int = 0

    def violations(self, min_width: int, min_upper: int) -> list[Interval]:
        """Hidden cells narrower than min_width or with an upper end below min_upper."""
        return [i for i in self.intervals if i.width < min_width or i.high < min_upper]

    def exactly_recovered(self) -> list[Interval]:
        return [i for i in self.intervals if i.width == 0]

    def narrowest(self, n: int = 10) -> list[Interval]:
        return sorted(self.intervals, key=lambda i: (i.width, i.high))[:n]


def attack(
    tables: Sequence[PublishedTable],
    *,
    min_cell: int = 10,
    min_width: int = 5,
    min_upper: int = 10,
    use_status: bool = False,
    exact: bool = False,
    time_limit: float = 20.0,
) -> AttackResult:
    """Bound every hidden cell of `tables` by integer programming.

    use_status: also trust the published `status` column (small = 1..min_cell-1; complement
        or coded = 0 or >= min_cell).
    exact: solve min and max of every hidden cell; otherwise stop once feasible solutions
        show the cell spans at least min_width and reaches min_upper (its interval is then
        reported as the witnessed span, a lower bound on the true width).
    """
    m = build_model(tables, min_cell=min_cell)
    result = AttackResult([], m.shown_small, m.conflicts)
    n = len(m.keys)
    if not m.hidden:
        return result
    free = np.array([i not in m.known for i in range(n)])
    # Components of unknowns tied by equations/ratios through unknowns.
    links: list[list[int]] = [[c for c in (p, *ch) if free[c]] for p, ch in m.equations] + [
        [c for c in (a, b) if free[c]] for a, b, _, _ in m.ratios
    ]
    rows, cols = [], []
    for r, cells in enumerate(links):
        for c in cells:
            rows.append(r)
            cols.append(c)
    k = len(links)
    graph = sp.coo_matrix(
        (np.ones(len(rows)), (np.array(cols, dtype=np.int64), n + np.array(rows, dtype=np.int64))),
        shape=(n + k, n + k),
    )
    _, labels = connected_components(graph, directed=False)
    comp_of_eq = defaultdict(list)
    for r, cells in enumerate(links):
        if cells:
            comp_of_eq[labels[cells[0]]].append(r)
    members = defaultdict(list)
    for i in np.flatnonzero(free):
        members[labels[i]].append(int(i))
    n_eq = len(m.equations)
    eqs = list(m.equations)
    for label, cells in members.items():
        targets = [c for c in cells if c in m.hidden]
        if not targets:
            continue
        local = {c: j for j, c in enumerate(cells)}
        eq_rows = [eqs[r] for r in comp_of_eq[label] if r < n_eq]
        ratio_rows = [m.ratios[r - n_eq] for r in comp_of_eq[label] if r >= n_eq]
        sol = _solve_component(
            m,
            cells,
            local,
            eq_rows,
            ratio_rows,
            targets,
            min_cell,
            min_width,
            min_upper,
            use_status,
            exact,
            time_limit,
        )
        if sol is None:
            result.infeasible = True
            continue
        ivals, solves = sol
        result.intervals.extend(ivals)
        result.milp_solves += solves
    return result


def _solve_component(
    m: Model,
    cells: list[int],
    local: dict[int, int],
    eq_rows: list[tuple[int, tuple[int, ...]]],
    ratio_rows: list[tuple[int, int, float | None, float | None]],
    targets: list[int],
    min_cell: int,
    min_width: int,
    min_upper: int,
    use_status: bool,
    exact: bool,
    time_limit: float,
) -> tuple[list[Interval], int] | None:
    nv = len(cells)
    a_rows: list[dict[int, float]] = []
    lo: list[float] = []
    hi: list[float] = []
    for parent, kids in eq_rows:
        coef: dict[int, float] = defaultdict(float)
        const = 0.0
        for c, s in ((parent, 1.0), *((k, -1.0) for k in kids)):
            if c in local:
                coef[local[c]] += s
            else:
                const += s * m.known[c]
        a_rows.append(dict(coef))
        lo.append(-const)
        hi.append(-const)
    for num, den, rlo, rhi in ratio_rows:
        for bound, sign in ((rlo, 1.0), (rhi, -1.0)):
            if bound is None:
                continue
            # sign * (num - bound * den) >= 0
            coef = defaultdict(float)
            const = 0.0
            for c, s in ((num, sign), (den, -sign * bound)):
                if c in local:
                    coef[local[c]] += s
                else:
                    const += s * m.known[c]
            a_rows.append(dict(coef))
            lo.append(-const - 1e-6)
            hi.append(np.inf)
    var_lo = np.zeros(nv)
    # A finite cap keeps HiGHS from calling the problem unbounded; it is far above any count,
    # so a cell that reaches it is wide open anyway.
    cap = _cap(m)
    var_hi = np.full(nv, cap)
    n_bin = 0
    binaries: list[int] = []
    if use_status:
        for c in cells:
            st = m.status.get(c)
            if st == "suppressed_small":
                var_lo[local[c]] = 1
                var_hi[local[c]] = min_cell - 1
            elif st in ("suppressed_complement", "coded"):
                binaries.append(c)
        n_bin = len(binaries)
    total = nv + n_bin
    big = cap
    for j, c in enumerate(binaries):
        b = nv + j
        # x >= min_cell * b and x <= big * b
        a_rows.append({local[c]: 1.0, b: -float(min_cell)})
        lo.append(0.0)
        hi.append(np.inf)
        a_rows.append({local[c]: 1.0, b: -big})
        lo.append(-np.inf)
        hi.append(0.0)
    mat = sp.lil_matrix((len(a_rows), total))
    for r, coef in enumerate(a_rows):
        for j, v in coef.items():
            mat[r, j] = v
    constraints = LinearConstraint(mat.tocsr(), np.array(lo), np.array(hi)) if a_rows else []
    b_lo = np.concatenate([var_lo, np.zeros(n_bin)])
    b_hi = np.concatenate([var_hi, np.ones(n_bin)])
    bounds = Bounds(b_lo, b_hi)
    integrality = np.ones(total)
    seen_lo: dict[int, int] = {}
    seen_hi: dict[int, int] = {}
    solved_lo: dict[int, int] = {}
    solved_hi: dict[int, int] = {}
    solves = 0

    def record(x: np.ndarray) -> None:
        for c in targets:
            v = round(float(x[local[c]]))
            seen_lo[c] = min(seen_lo.get(c, v), v)
            seen_hi[c] = max(seen_hi.get(c, v), v)

    def run(c: int, sense: float) -> float | None:
        nonlocal solves
        obj = np.zeros(total)
        obj[local[c]] = sense
        res = milp(
            obj,
            constraints=constraints,
            integrality=integrality,
            bounds=bounds,
            options={"time_limit": time_limit, "presolve": True},
        )
        solves += 1
        if res.x is None:
            return None
        record(res.x)
        if res.status != 0:
            # Time limit: the dual bound is still a valid (looser) bound.
            bound = getattr(res, "mip_dual_bound", None)
            if bound is not None and math.isfinite(bound):
                return sense * bound
        return float(res.x[local[c]])

    def passes(c: int) -> bool:
        return seen_hi.get(c, 0) - seen_lo.get(c, 0) >= min_width and seen_hi.get(c, 0) >= min_upper

    for c in targets:
        if not exact and c in seen_lo and passes(c):
            continue
        v = run(c, 1.0)
        if v is None:
            return None
        solved_lo[c] = math.ceil(v - 1e-6)
        if not exact and passes(c):
            continue
        v = run(c, -1.0)
        if v is None:
            return None
        solved_hi[c] = math.floor(v + 1e-6)
    out = []
    for c in targets:
        low = solved_lo.get(c, seen_lo[c])
        high = solved_hi.get(c, seen_hi[c])
        out.append(
            Interval(
                key=_describe(m.keys[c]),
                where=m.where.get(c, ""),
                status=m.status.get(c, ""),
                low=low,
                high=high,
                exact=c in solved_lo and c in solved_hi,
            )
        )
    return out, solves


def _cap(m: Model) -> float:
    """An upper bound on every unknown: ten times the largest published count, plus 1000."""
    return float(10 * max(m.known.values(), default=0) + 1000)
