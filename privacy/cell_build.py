"""The cell system of released tables: every cell once by key, and every sum that ties them.

Tables are linked by the cells they share (a school's total appears in its race, gender and
grade tables) and by sums no single table holds: a district is the sum of its schools
(`_geography_sums`), and a cell is the sum of its filtered versions over a dimension's codes
(`_filter_groups`). The attacker knows all of them, so protection and the auditor work on this
whole system.

`build_system` lays out a set of tables at once. A custom table is protected together with
everything released before it; `SystemBase` keeps the system of those earlier tables, and
`SystemBase.extend` adds a new table's cells and the sums it takes part in, without laying the
earlier tables out again. Both give the attacker the same cells and the same sums.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from privacy.cells import CellSystem
from privacy.tables import TableLayout

GroupKey = tuple[str, str, str]  # (parent key, dimension, head) of a filter sum
Equation = tuple[int, tuple[int, ...]]  # (parent, sorted children)


def build_system(layouts: Sequence[TableLayout], units: dict[str, pl.DataFrame]) -> CellSystem:
    """One cell system for `layouts`: shared cells by key, table sums and geography sums.

    units: population -> the schools counted in it (district_id, school_id), used to add a
    district = sum of its schools (state = sum of districts) relation only when every child
    cell is published.
    """
    return _assemble(layouts, units)[0]


def _assemble(
    layouts: Sequence[TableLayout], units: dict[str, pl.DataFrame], *, groups: bool = False
) -> tuple[CellSystem, set[Equation], dict[GroupKey, dict[str, int]], dict[GroupKey, int]]:
    """The system of `layouts`, with what `SystemBase` keeps of its making: the sums as a set,
    the filter groups (only with ``groups``: else empty), and the rows of the sums that hold
    a latent remainder."""
    cells = _unique_cells(layouts)
    keys = cells["cell_key"].to_list()
    system = CellSystem(keys=keys, values=np.asarray(cells["value"].to_numpy(), dtype=np.int64))
    seen: set[Equation] = set()
    pending: list[Equation] = []
    _add_sums(system, seen, pending, layouts, cells.select("cell_key"), units)
    rows = _filter_rows(keys, 0)
    latent_rows: dict[GroupKey, int] = {}
    for group, eq, latent in _group_sums(system, rows):
        if _add(seen, pending, eq) and latent:
            latent_rows[group] = len(pending) - 1
    system.add_constraints(pending)
    return system, seen, _groups_of(rows, {}) if groups else {}, latent_rows


@dataclass(frozen=True, eq=False)
class SystemBase:
    """The cell system of tables released before, to add new tables to (`extend`).

    Never changed after it is built: `extend` returns a new system, so one base serves every
    custom table of a population and year until the registry changes what was released.
    requests: the JSON of each base layout's request, in order (`extend` checks that the
        layouts it is given start with them).
    groups: every filter group of the base cells, its parent released or not (a new table
        may release the parent), code -> cell; by_parent: parent key -> its groups.
    latent_rows: groups whose sum holds a latent remainder -> the row of that sum (a new
        table releasing one of the remainder's codes replaces the sum).
    """

    requests: tuple[str, ...]
    system: CellSystem
    seen: frozenset[Equation]
    groups: dict[GroupKey, dict[str, int]]
    by_parent: dict[str, tuple[GroupKey, ...]]
    latent_rows: dict[GroupKey, int]
    cells: pl.DataFrame  # cell_key, pop, dims of the base's released cells
    units: dict[str, pl.DataFrame]

    @classmethod
    def build(cls, layouts: Sequence[TableLayout], units: dict[str, pl.DataFrame]) -> SystemBase:
        """The system of `layouts` (see `build_system`), kept for `extend`."""
        system, seen, groups, latent_rows = _assemble(layouts, units, groups=True)
        by_parent: dict[str, list[GroupKey]] = {}
        for group in groups:
            by_parent.setdefault(group[0], []).append(group)
        return cls(
            requests=tuple(lay.request.to_json() for lay in layouts),
            system=system,
            seen=frozenset(seen),
            groups=groups,
            by_parent={k: tuple(v) for k, v in by_parent.items()},
            latent_rows=latent_rows,
            cells=_key_parts(
                pl.DataFrame(
                    {"cell_key": [k for k in system.keys if not is_latent(k)]},
                    schema={"cell_key": pl.String},
                )
            ).select("cell_key", "pop", "dims"),
            units=units,
        )

    def extend(self, layouts: Sequence[TableLayout]) -> CellSystem:
        """The cell system of `layouts`, which start with this base's layouts.

        Holds the same cells and sums as `build_system(layouts, units)`: the base's, with the
        new tables' cells appended, their own sums, the geography sums of every dimension
        combination they hold, and the filter sums they join (a filter sum that gains codes
        replaces the base's; its old latent remainder stays as a cell in no sum). Only the
        order differs from `build_system`'s; it is the same for the same base and layouts.
        """
        return self._extended(layouts, keep=False)[0]

    def grow(self, layouts: Sequence[TableLayout]) -> SystemBase:
        """A base for `layouts` (which start with this base's layouts): `extend`'s system."""
        grown = self._extended(layouts, keep=True)[1]
        assert grown is not None
        return grown

    def _extended(
        self, layouts: Sequence[TableLayout], *, keep: bool
    ) -> tuple[CellSystem, SystemBase | None]:
        requests = tuple(lay.request.to_json() for lay in layouts)
        if requests[: len(self.requests)] != self.requests:
            raise ValueError("the layouts do not start with the base's layouts")
        new_layouts = list(layouts[len(self.requests) :])
        base = self.system
        cells = _unique_cells(new_layouts)
        keys = cells["cell_key"].to_list()
        values = cells["value"].to_numpy()
        known = [base.index.get(k) for k in keys]
        if any(at is not None and int(base.values[at]) != values[i] for i, at in enumerate(known)):
            raise RuntimeError("a cell key carries two values; the table layout is inconsistent")
        fresh = [i for i, at in enumerate(known) if at is None]
        fresh_keys = [keys[i] for i in fresh]
        system = _copy(base, [], fresh_keys, values[fresh])
        seen = set(self.seen)
        pending: list[Equation] = []
        # the geography sums of every (population, dimensions) that a new cell has
        new_parts = _key_parts(
            pl.DataFrame({"cell_key": fresh_keys}, schema={"cell_key": pl.String})
        )
        new_parts = new_parts.select("cell_key", "pop", "dims")
        geo_cells = (
            pl.concat([self.cells, new_parts])
            .join(new_parts.select("pop", "dims").unique(), on=["pop", "dims"], how="semi")
            .select("cell_key")
        )
        _add_sums(system, seen, pending, new_layouts, geo_cells, self.units)
        # the filter sums that a new cell joins, as a code or as the parent
        changed = _filter_groups(fresh_keys, len(base), {})
        for group, codes in changed.items():
            changed[group] = {**self.groups.get(group, {}), **codes}
        for key in fresh_keys:
            for group in self.by_parent.get(key, ()):
                changed.setdefault(group, dict(self.groups[group]))
        replaced: list[int] = []
        latent_new: list[tuple[GroupKey, int]] = []
        for group in sorted(changed):
            eq = _group_sum(system, group, changed[group])
            if eq is None:
                continue
            row = self.latent_rows.get(group)
            if row is not None:
                replaced.append(row)
                seen.discard(_equation_of(base.constraints[row]))
            if _add(seen, pending, eq[0]) and eq[1]:
                latent_new.append((group, len(pending) - 1))
        gone = set(replaced)
        system.constraints = [c for r, c in enumerate(base.constraints) if r not in gone]
        kept = len(system.constraints)
        system.add_constraints(pending)
        if not keep:
            return system, None
        # rows of the base move up past the replaced sums before them
        shift = np.searchsorted(
            np.sort(np.asarray(replaced, dtype=np.int64)), np.arange(len(base.constraints))
        )
        latent_rows = {g: int(r - shift[r]) for g, r in self.latent_rows.items() if r not in gone}
        latent_rows.update((g, kept + i) for g, i in latent_new)
        by_parent = dict(self.by_parent)
        for group in changed:
            if group not in self.groups:
                by_parent[group[0]] = (*by_parent.get(group[0], ()), group)
        grown = SystemBase(
            requests=requests,
            system=system,
            seen=frozenset(seen),
            groups={**self.groups, **changed},
            by_parent=by_parent,
            latent_rows=latent_rows,
            cells=pl.concat([self.cells, new_parts]),
            units=self.units,
        )
        return system, grown


def _unique_cells(layouts: Sequence[TableLayout]) -> pl.DataFrame:
    """Each cell key once (first occurrence kept), checking that a shared key has one value."""
    frames = [lay.rows.select("cell_key", "value") for lay in layouts]
    if not frames:
        return pl.DataFrame(schema={"cell_key": pl.String, "value": pl.Int64})
    cells = pl.concat(frames).unique("cell_key", keep="first", maintain_order=True)
    dup = pl.concat(frames).group_by("cell_key").agg(pl.col("value").n_unique().alias("k"))
    if dup["k"].max() is not None and dup["k"].max() > 1:
        raise RuntimeError("a cell key carries two values; the table layout is inconsistent")
    return cells


def _copy(
    base: CellSystem,
    constraints: list[tuple[int, list[int]]],
    keys: Sequence[str] = (),
    values: np.ndarray | None = None,
) -> CellSystem:
    """A new system with `base`'s cells (plus `keys` with `values`), holding `constraints`."""
    more = np.zeros(0, dtype=np.int64) if values is None else np.asarray(values, dtype=np.int64)
    system = CellSystem(keys=[*base.keys, *keys], values=np.concatenate([base.values, more]))
    system.constraints = list(constraints)
    return system


def _add(seen: set[Equation], pending: list[Equation], eq: Equation) -> bool:
    """Queue `eq` unless it is there already; True if queued."""
    if eq in seen:
        return False
    seen.add(eq)
    pending.append(eq)
    return True


def _equation_of(row: tuple[int, list[int]]) -> Equation:
    return row[0], tuple(sorted(row[1]))


def _add_sums(
    system: CellSystem,
    seen: set[Equation],
    pending: list[Equation],
    layouts: Iterable[TableLayout],
    geo_cells: pl.DataFrame,
    units: dict[str, pl.DataFrame],
) -> None:
    """Queue the layouts' own sums and the geography sums among `geo_cells`.

    Keys are looked up and each sum's children sorted on whole arrays, not sum by sum (a
    scale-1 assessment system has some 30,000 sums over 270,000 children).
    """
    sums = [eq for lay in layouts for eq in lay.constraints]
    sums.extend(_geography_sums(geo_cells, units))
    if not sums:
        return
    at = system.index.__getitem__
    parents = list(map(at, (parent for parent, _ in sums)))
    sizes = np.fromiter(map(len, (children for _, children in sums)), np.int64, len(sums))
    flat = np.fromiter(
        map(at, itertools.chain.from_iterable(children for _, children in sums)),
        np.int64,
        int(sizes.sum()),
    )
    row = np.repeat(np.arange(len(sums)), sizes)
    kids = flat[np.lexsort((flat, row))].tolist()  # each sum's children, in order
    end = 0
    for parent, size in zip(parents, sizes.tolist(), strict=True):
        start, end = end, end + size
        _add(seen, pending, (parent, tuple(kids[start:end])))


LATENT = "~rest|"


def is_latent(key: str) -> bool:
    """True for cells the attacker can form but no table publishes (see `_filter_sums`)."""
    return key.startswith(LATENT)


def _filter_groups(
    keys: Sequence[str], first: int, groups: dict[GroupKey, dict[str, int]]
) -> dict[GroupKey, dict[str, int]]:
    """Filter groups of `keys` (cell `first + i` for ``keys[i]``), added to `groups`.

    A table filtered to gender F and one filtered to gender M, next to the unfiltered table,
    let anyone subtract: the unfiltered cell is F + M + X even though no single table holds
    that sum. Every cell whose key fixes a dimension d belongs to the group of its key
    without d (its parent, released or not), under its code (see `_filter_rows`).
    """
    return _groups_of(_filter_rows(keys, first), groups)


def _groups_of(
    rows: pl.DataFrame, groups: dict[GroupKey, dict[str, int]]
) -> dict[GroupKey, dict[str, int]]:
    """`_filter_rows` as filter groups, added to `groups`: (parent, dimension, head) ->
    code -> cell, in the order the rows first give each group and code."""
    by_group = rows.group_by("parent", "name", "head", maintain_order=True).agg("code", "i")
    for parent, name, head, codes, cells in by_group.iter_rows():
        groups.setdefault((parent, name, head), {}).update(zip(codes, cells, strict=True))
    return groups


def _filter_rows(keys: Sequence[str], first: int) -> pl.DataFrame:
    """One row per dimension that a cell key fixes: the cell (``i``: ``first`` + its position
    in `keys`), its parent key (the key without that dimension), the dimension (``name``), the
    key's head (population and geography) and its ``code``; in the order of `keys`, then of
    the dimensions in each key.

    A key is ``head|d1=c1;d2=c2;`` (dimensions after the last "|"); latent keys and keys
    starting with "~" (public bounds' cells) fix none. A parent lists the other dimensions
    in their order, each followed by ";". Worked out on whole columns: some 110,000 rows per
    scale-1 population.
    """
    frame = pl.DataFrame({"key": list(keys)}, schema={"key": pl.String})
    frame = frame.with_row_index("i", offset=first).with_columns(pl.col("i").cast(pl.Int64))
    frame = frame.filter(~pl.col("key").str.starts_with("~"))
    split = pl.col("key").str.extract_groups(r"^(.*)\|([^|]*)$")  # at the last "|"
    frame = frame.select("i", head=split.struct.field("1"), dims=split.struct.field("2")).filter(
        pl.col("dims").is_not_null() & (pl.col("dims") != "")
    )
    frame = frame.select(
        "i", "head", part=pl.col("dims").str.split(";").list.filter(pl.element() != "")
    ).filter(pl.col("part").list.len() > 0)
    frame = frame.with_columns(dims=pl.col("part").list.join(";") + ";").explode("part")
    width = pl.col("part").str.len_chars() + 1  # the part and its ";"
    frame = frame.with_columns(width=width).with_columns(
        start=pl.col("width").cum_sum().over("i") - pl.col("width")
    )
    name_code = pl.col("part").str.splitn("=", 2)  # at the first "=" (a code may hold more)
    return frame.select(
        "i",
        parent=pl.concat_str(
            "head",
            pl.lit("|"),
            pl.col("dims").str.slice(0, pl.col("start")),
            pl.col("dims").str.slice(pl.col("start") + pl.col("width")),
        ),
        name=name_code.struct.field("field_0"),
        head="head",
        code=name_code.struct.field("field_1").fill_null(""),
    )


def _group_sums(system: CellSystem, rows: pl.DataFrame) -> list[tuple[GroupKey, Equation, bool]]:
    """`_group_sum` of every filter group of ``rows`` (`_filter_rows` of the system's keys)
    whose parent is released, in the order of the groups (each with its sum, and whether the
    sum holds a latent cell, added to `system` here); on whole columns, and the same sums as
    `_group_sum` on the groups one by one (a scale-1 assessment system, with `_filter_rows`:
    about 0.2 s instead of 0.25-0.34 s)."""
    from privacy.requests import dimension_codes

    released = pl.DataFrame({"parent": system.keys}, schema={"parent": pl.String})
    rows = rows.join(released.with_row_index("at").cast({"at": pl.Int64}), on="parent")
    # one cell per code (two keys naming the same dimensions in another order: the last)
    rows = rows.unique(["parent", "name", "head", "code"], keep="last", maintain_order=True)
    if rows.is_empty():
        return []
    codes = pl.DataFrame(
        [
            (name, code, place)
            for name in sorted(rows["name"].unique().to_list())
            for place, (code, _) in enumerate(dimension_codes(name))
        ],
        schema={"name": pl.String, "code": pl.String, "place": pl.Int64},
        orient="row",
    )
    every = codes.group_by("name").agg(pl.col("code").sort_by("place").alias("every"))
    rows = rows.with_columns(value=pl.Series(system.values[rows["i"].to_numpy()]))
    found = (
        rows.join(codes, on=["name", "code"])  # codes the dimension does not hold: left out
        .group_by("parent", "name", "head")
        .agg(pl.col("at").first(), pl.col("i").sort(), pl.col("code"), pl.col("value").sum())
        .join(every, on="name")
        .sort("parent", "name", "head")
    )
    at = found["at"].to_numpy()
    remainders = system.values[at] - found["value"].to_numpy()
    # every code released (each group holds each code once)
    whole = (found["code"].list.len() == found["every"].list.len()).to_numpy()
    bad = (remainders < 0) | (whole & (remainders != 0))
    if bad.any():  # the first group that does not add up, as a loop over them would find
        first = int(np.argmax(bad))
        parent = found["parent"][first]
        if remainders[first] < 0:
            raise RuntimeError(f"cells under {parent} add up to more than it holds")
        raise RuntimeError(f"cells under {parent} do not add up to it")
    out: list[tuple[GroupKey, Equation, bool]] = []
    for parent, name, head, parent_at, kids, present, every_code, remainder, complete in zip(
        found["parent"].to_list(),
        found["name"].to_list(),
        found["head"].to_list(),
        at.tolist(),
        found["i"].to_list(),
        found["code"].to_list(),
        found["every"].to_list(),
        remainders.tolist(),
        whole.tolist(),
        strict=True,
    ):
        if not complete:
            have = set(present)
            missing = "+".join(c for c in every_code if c not in have)
            # the latent cell is the newest: last in order
            kids.append(system.add_cell(f"{LATENT}{parent}|{name}={missing}", remainder))
        out.append(((parent, name, head), (parent_at, tuple(kids)), not complete))
    return out


def _group_sum(
    system: CellSystem, group: GroupKey, present: dict[str, int]
) -> tuple[Equation, bool] | None:
    """The sum of a filter group whose parent is released: (equation, has a latent cell).

    parent = the released codes + a latent cell for the codes not released (the attacker
    knows it exists and is >= 0; it is a real count, protected like any hidden cell, and never
    published); added to `system` as needed. None if the parent is not released.
    """
    from privacy.requests import dimension_codes

    parent, name, _ = group
    at = system.index.get(parent)
    if at is None:
        return None
    codes = [c for c, _ in dimension_codes(name)]
    kids = [present[c] for c in codes if c in present]
    if not kids:
        return None
    missing = [c for c in codes if c not in present]
    remainder = int(system.values[at]) - int(system.values[kids].sum())
    if remainder < 0:
        raise RuntimeError(f"cells under {parent} add up to more than it holds")
    if missing:
        kids.append(system.add_cell(f"{LATENT}{parent}|{name}={'+'.join(missing)}", remainder))
    elif remainder:
        raise RuntimeError(f"cells under {parent} do not add up to it")
    return (at, tuple(sorted(kids))), bool(missing)


def _filter_sums(
    keys: list[str], values: np.ndarray
) -> list[tuple[str, list[int], tuple[str, int] | None]]:
    """The filter sums of `keys` alone: (parent key, children indices, (latent key, value) or
    None), in the order `build_system` adds them (see `_filter_groups`, `_group_sum`)."""
    system = CellSystem(keys=list(keys), values=values)
    out: list[tuple[str, list[int], tuple[str, int] | None]] = []
    for (parent, _, _), (_, kids), latent in _group_sums(system, _filter_rows(keys, 0)):
        rest = (system.keys[kids[-1]], int(system.values[kids[-1]])) if latent else None
        out.append((parent, [k for k in kids if k < len(keys)], rest))
    return out


def _key_parts(cells: pl.DataFrame) -> pl.DataFrame:
    """cell_key with its population-and-year, geography and dimensions parts."""
    parts = cells.with_columns(
        pl.col("cell_key").str.split_exact("|", 2).struct.rename_fields(["pop", "geo", "dims"])
    ).unnest("cell_key")
    return parts.with_columns(cell_key=pl.concat_str(["pop", "geo", "dims"], separator="|"))


def _geography_sums(
    cells: pl.DataFrame, units: dict[str, pl.DataFrame]
) -> list[tuple[str, list[str]]]:
    parts = _key_parts(cells).with_columns(
        population=pl.col("pop").str.split(":").list.first(),
        level=pl.col("geo").str.slice(0, 2),
        unit=pl.col("geo").str.slice(2),
    )
    school_map = (
        pl.concat(
            [
                u.select("school_id", "district_id").with_columns(population=pl.lit(p))
                for p, u in units.items()
            ]
        )
        if units
        else pl.DataFrame(
            schema={"school_id": pl.String, "district_id": pl.String, "population": pl.String}
        )
    )
    n_schools = school_map.group_by("population", "district_id").agg(pl.len().alias("need"))
    n_districts = school_map.group_by("population").agg(
        pl.col("district_id").n_unique().alias("need")
    )
    out: list[tuple[str, list[str]]] = []
    schools = (
        parts.filter(pl.col("level") == "S:")
        .join(school_map.rename({"school_id": "unit"}), on=["population", "unit"], how="inner")
        .group_by("pop", "population", "district_id", "dims")
        .agg(pl.col("cell_key").alias("children"))
    )
    districts = parts.filter(pl.col("level") == "D:").rename({"unit": "district_id"})
    joined = (
        districts.join(schools, on=["pop", "population", "district_id", "dims"])
        .join(n_schools, on=["population", "district_id"])
        .filter(pl.col("children").list.len() == pl.col("need"))
    )
    out.extend(zip(joined["cell_key"].to_list(), joined["children"].to_list(), strict=True))
    states = parts.filter(pl.col("geo") == "state")
    dgroups = districts.group_by("pop", "population", "dims").agg(
        pl.col("cell_key").alias("children")
    )
    joined = (
        states.join(dgroups, on=["pop", "population", "dims"])
        .join(n_districts, on="population")
        .filter(pl.col("children").list.len() == pl.col("need"))
    )
    out.extend(zip(joined["cell_key"].to_list(), joined["children"].to_list(), strict=True))
    # a fixed order (group_by does not keep one): the same warehouse always gives the same
    # cell system, hence the same protection pattern
    return sorted((parent, sorted(children)) for parent, children in out)
