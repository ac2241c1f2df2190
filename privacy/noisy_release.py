"""Noisy releases: tables with OpenDP noise, consistent totals, a budget and stable answers.

A noisy release is one request (a custom table, or the whole public catalogue of a year) laid
out as one cell system (the same cells and sums as `privacy.release`: linked tables share
cells, schools sum to districts, districts to the state, groups to totals). Every cell gets
noise from one composed OpenDP measurement (`privacy.noise`), the noisy vector is made into
non-negative integers that add up (`privacy.consistency`), and the answer is stored in the
state database keyed by (warehouse build, school year, canonical request, noise spec).

Stable answers: the same request with the same noise spec returns the stored answer to every
user in every process, so asking a thousand times reveals no more than asking once, and a
repeat costs no budget. Only the first answer is charged to the year's ledger
(`privacy.budget`), in the same transaction that stores it: a release over the cap is refused
and leaves the ledger and the stored answers unchanged.

The ten-count rule applies to the noisy values: a noisy count from 1 to 9 is shown as "*".
(Working it out by subtraction from its noisy parent yields a noisy value, which the noise
already protects; the true count is never used for any display decision.) Rates are computed
from the noisy counts and coded near 0%/100% like exact rates. Noisy answers are not recorded
in the release registry: the registry and its auditor vouch for exact published counts, and a
noisy count is protected by the privacy budget instead.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Sequence

import numpy as np
import polars as pl

from privacy.budget import BUDGET_DDL, Charge, charge, check_affordable
from privacy.catalogue import public_catalogue
from privacy.consistency import reconcile
from privacy.noise import ContributionGroup, NoiseInfo, NoiseSpec, plan_noise
from privacy.policy import Policy, load_policy
from privacy.release import (
    PublicRelease,
    ReleaseRefusedError,
    Requester,
    _check_against_warehouse,
    _public_request_json,
    _render,
    _Snapshot,
    _snapshot,
    _units_for,
    build_system,
)
from privacy.requests import (
    NOT_PROFICIENT,
    PROFICIENT,
    RATE_DIMENSION,
    TableRequest,
    dimension_codes,
)
from privacy.state import open_state, write_transaction
from privacy.tables import (
    COUNTING_RULES,
    POPULATION_OF,
    SHOWN,
    SUPPRESSED_COMPLEMENT,
    SUPPRESSED_SMALL,
    ProtectedTable,
    TableLayout,
    hide_required,
    render_table,
)

NOISY_DDL = """
CREATE TABLE IF NOT EXISTS noisy_answers (
    build_id    TEXT NOT NULL,
    school_year TEXT NOT NULL,
    request_key TEXT NOT NULL,
    noise_key   TEXT NOT NULL,
    release_id  TEXT NOT NULL UNIQUE,
    info        TEXT NOT NULL,
    cells       TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (build_id, school_year, request_key, noise_key)
);
"""
NOISY_SMALL_REASON = "noisy count from 1 to {top}: not shown (ten-count rule on noisy values)"
NOISY_RATE_REASON = "rate over a noisy group below {min_cell}: its counts are not shown"
_ASSESSMENT_SUBJECTS = len(dimension_codes("subject"))


@dataclasses.dataclass(frozen=True)
class NoisyAnswer:
    """A stored noisy answer: consistent non-negative counts per cell key (never true ones)."""

    release_id: str
    info: NoiseInfo
    values: dict[str, int]
    created_by: str


def open_noisy_state(db_path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Open the state database with the budget and stored-answer tables in place."""
    return open_state(db_path, BUDGET_DDL, NOISY_DDL)


# -- structure: contribution groups, levels ---------------------------------------------------


def _parse_key(key: str) -> tuple[str, int, tuple[str, ...], bool, str | None]:
    """(population, level 0/1/2, dimension names, is a level roll-up P34/P12, subject) of a key."""
    head, geo, dims = key.split("|", 2)
    population = head.split(":", 1)[0]
    level = 0 if geo == "state" else 1 if geo.startswith("D:") else 2
    names, subject, p34 = [], None, False
    for part in dims.split(";"):
        if not part:
            continue
        name, _, code = part.partition("=")
        names.append(name)
        if name == "subject":
            subject = code
        if name == "performance_level" and code in (PROFICIENT, NOT_PROFICIENT):
            p34 = True  # a roll-up of levels: a student is in it besides their own level
    return population, level, tuple(sorted(names)), p34, subject


def contribution_groups(keys: Sequence[str]) -> tuple[list[ContributionGroup], np.ndarray]:
    """Split cells into groups in which one student counts at most `multiplicity` times.

    A group is one population at one geography level crossed by one set of dimensions (plus
    the roll-ups P34 and P12, which a student is counted in besides their level; a student is
    in one of the two).
    Each student has one record per population and year (one first enrollment, one cohort
    record), or one assessment per subject, so in a group a student is in exactly one cell per
    record: multiplicity 1, or the number of subjects present in the group's cells.
    Returns the groups and the permutation of cell indices that lays them out contiguously.
    """
    members: dict[tuple, list[int]] = {}
    subjects: dict[tuple, set[str]] = {}
    for i, key in enumerate(keys):
        population, level, names, p34, subject = _parse_key(key)
        pattern = (population, level, names, p34)
        members.setdefault(pattern, []).append(i)
        if subject is not None:
            subjects.setdefault(pattern, set()).add(subject)
    groups: list[ContributionGroup] = []
    order: list[int] = []
    for pattern in sorted(members):
        population, level, names, p34 = pattern
        if population == "assessment":
            mult = len(subjects.get(pattern, ())) or _ASSESSMENT_SUBJECTS
        else:
            mult = 1
        label = f"{population}|{('state', 'district', 'school')[level]}|{','.join(names)}"
        groups.append(
            ContributionGroup(label + ("|P34" if p34 else ""), len(members[pattern]), mult)
        )
        order.extend(members[pattern])
    return groups, np.asarray(order, dtype=np.int64)


def rounding_order(keys: Sequence[str]) -> tuple[list[int], list[int]]:
    """Per cell: geography level (state first) and rounding order within the level.

    Within a unit: the total first, then the rate dimension (performance level, outcome: the
    margin every subgroup x outcome table shares), then the subgroup x outcome cells (each is
    then a two-way table of units x subgroup per outcome, which always has a controlled
    rounding), then other single dimensions (a subgroup margin is then the sum of its fixed
    cells). The proficient roll-up P34 comes right after the levels it adds up.
    """
    rate_dims = set(RATE_DIMENSION.values())
    levels, order = [], []
    for key in keys:
        _, level, names, p34, _ = _parse_key(key)
        dims = [n for n in names if n != "subject"]
        if not dims:
            rank = 0
        elif len(dims) == 1:
            rank = 1 if dims[0] in rate_dims else 3
        else:
            rank = 2
        levels.append(level)
        order.append(10 * rank + int(p34))
    return levels, order


# -- stored answers ---------------------------------------------------------------------------


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _load(
    con: sqlite3.Connection, build_id: str, year: str, request_key: str, noise_key: str
) -> NoisyAnswer | None:
    row = con.execute(
        "SELECT release_id, info, cells, created_by FROM noisy_answers WHERE build_id = ? "
        "AND school_year = ? AND request_key = ? AND noise_key = ?",
        (build_id, year, request_key, noise_key),
    ).fetchone()
    if row is None:
        return None
    return NoisyAnswer(
        row["release_id"],
        NoiseInfo(**json.loads(row["info"])),
        json.loads(row["cells"]),
        row["created_by"],
    )


def stored_answers(db_path: str | os.PathLike[str], school_year: str | None = None) -> list[dict]:
    """Summaries of stored noisy answers (no values): for the ledger page and tests."""
    con = open_noisy_state(db_path)
    try:
        sql = (
            "SELECT build_id, school_year, request_key, noise_key, release_id, created_by, "
            "created_at FROM noisy_answers"
        )
        rows = con.execute(
            sql + (" WHERE school_year = ?" if school_year else "") + " ORDER BY created_at",
            (school_year,) if school_year else (),
        ).fetchall()
    finally:
        con.close()
    return [dict(r) for r in rows]


def _answer(
    snap: _Snapshot,
    year: str,
    layouts: Sequence[TableLayout],
    request_key: str,
    noise: NoiseSpec,
    created_by: str,
    titles: Sequence[str],
) -> NoisyAnswer:
    """The stored answer for (build, year, request, noise), drawing and charging it if new."""
    noise_key = noise.key()
    con = open_noisy_state(snap.path)
    try:
        found = _load(con, snap.build_id, year, request_key, noise_key)
        if found is not None:
            return found
        system = build_system(layouts, _units_for(snap, year))
        groups, perm = contribution_groups(system.keys)
        plan = plan_noise(noise, groups)
        release_id = f"{year}-noisy-{uuid.uuid4().hex[:16]}"
        item = Charge(
            school_year=year,
            build_id=snap.build_id,
            release_id=release_id,
            mechanism=noise.mechanism,
            epsilon=plan.epsilon,
            rho=plan.rho,
            scale=plan.scale,
            sensitivity=plan.sensitivity,
            tables=tuple(titles),
            created_by=created_by,
        )
        check_affordable(con, item)  # refuse before spending time on the draw
        drawn = plan.draw(system.values[perm])
        noisy = np.empty(len(system), dtype=np.int64)
        noisy[perm] = drawn
        levels, order = rounding_order(system.keys)
        published = reconcile(noisy, system.constraints, levels, order)
        info = NoiseInfo(
            mechanism=noise.mechanism,
            epsilon=plan.epsilon,
            rho=plan.rho,
            scale=plan.scale,
            sensitivity=plan.sensitivity,
            moe=plan.moe,
            confidence=0.95,
            release_id=release_id,
        )
        values = dict(zip(system.keys, (int(v) for v in published), strict=True))
        with write_transaction(con):
            found = _load(con, snap.build_id, year, request_key, noise_key)
            if found is not None:
                return found  # another process answered first; our draw is never published
            charge(con, item)
            con.execute(
                "INSERT INTO noisy_answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    snap.build_id,
                    year,
                    request_key,
                    noise_key,
                    release_id,
                    json.dumps(info.as_dict(), sort_keys=True),
                    json.dumps(values),
                    created_by,
                    _now(),
                ),
            )
        return NoisyAnswer(release_id, info, values, created_by)
    finally:
        con.close()


# -- rendering ---------------------------------------------------------------------------------


def noisy_footnotes(
    request: TableRequest, info: NoiseInfo, policy: Policy, build_id: str
) -> tuple[str, ...]:
    """Footnotes of a noisy table: that noise was added, how much, and what '*' means."""
    return (
        "All = total over that column.",
        info.describe(),
        f"moe = margin of error (+/- students, {info.confidence:.0%}); rate_moe = its "
        "approximate effect on the rate, in percentage points.",
        "After the noise, counts were adjusted to whole numbers that are never negative and add "
        "up (schools to districts to the state, groups to totals); this uses no further "
        "private data.",
        f"* = a noisy count from 1 to {policy.min_cell - 1} (not shown), or a count behind a "
        "rate that is not shown; a rate such as <=5% or >=95% is coded near 0% or 100%.",
        COUNTING_RULES[request.measure],
        f"Warehouse build {build_id}; noisy release {info.release_id}.",
    )


def render_noisy(
    snap: _Snapshot, request: TableRequest, answer: NoisyAnswer, policy: Policy
) -> ProtectedTable:
    """A publishable table from stored noisy counts (the true counts are not read)."""
    if request.measure == "staff":
        return _render(snap, request, {}, policy, answer.release_id)
    layout = snap.layout(request)
    values = answer.values
    rows = layout.rows.with_columns(
        value=pl.col("cell_key").replace_strict(values, return_dtype=pl.Int64),
        denominator=pl.col("denominator_key").replace_strict(
            values, default=None, return_dtype=pl.Int64
        ),
    )
    noisy_layout = TableLayout(request, rows, layout.constraints, layout.dimensions)
    required = hide_required(noisy_layout, policy)
    statuses: dict[str, str] = {}
    for key, value in zip(rows["cell_key"].to_list(), rows["value"].to_list(), strict=True):
        if policy.is_small(int(value)):
            statuses[key] = SUPPRESSED_SMALL
        elif key in required:
            statuses[key] = SUPPRESSED_COMPLEMENT
        else:
            statuses[key] = SHOWN
    pop = POPULATION_OF[request.measure]
    table = render_table(
        noisy_layout,
        statuses,
        snap.units(pop, request.school_year),
        policy,
        answer.release_id,
        snap.build_id,
    )
    info = answer.info
    small = NOISY_SMALL_REASON.format(top=policy.min_cell - 1)
    rate_reason = NOISY_RATE_REASON.format(min_cell=policy.min_cell)
    denominators = rows["denominator"]
    data = table.data.with_columns(
        moe=pl.lit(info.moe, dtype=pl.Int64),
        rate_moe=pl.when(pl.col("rate").is_not_null())
        .then((100.0 * info.moe / denominators.cast(pl.Float64)).round(1))
        .otherwise(None),
        reason=pl.when(pl.col("status") == SUPPRESSED_SMALL)
        .then(pl.lit(small))
        .when(pl.col("status") == SUPPRESSED_COMPLEMENT)
        .then(pl.lit(rate_reason))
        .otherwise(pl.col("reason")),
    )
    return dataclasses.replace(
        table,
        title=table.title + " (noise added)",
        data=data,
        footnotes=noisy_footnotes(request, info, policy, snap.build_id),
        noise=info,
    )


# -- entry points ------------------------------------------------------------------------------

_PUBLIC_CACHE: dict[tuple[str, str, str, str], PublicRelease] = {}
_PUBLIC_LOCK = threading.Lock()


def noisy_public_release(
    db_path: str | os.PathLike[str] | None,
    school_year: str,
    noise: NoiseSpec,
    *,
    released_by: str = "system",
) -> PublicRelease:
    """The public catalogue of `school_year` with noise: drawn and charged once, then stored.

    noise: the mechanism and the WHOLE release's budget (every table of the catalogue shares
        it; one student's privacy loss over all of them is at most that epsilon / rho).
    released_by: recorded in the ledger for the first (charged) request only.
    Staff tables are open records and are published exactly, without noise.
    """
    if not isinstance(noise, NoiseSpec):
        raise ValueError("noise must be a privacy.noise.NoiseSpec")
    snap = _snapshot(db_path)
    _check_against_warehouse(snap, TableRequest("enrollment", school_year))
    cache_key = (str(snap.path), snap.build_id, school_year, noise.key())
    with _PUBLIC_LOCK:
        cached = _PUBLIC_CACHE.get(cache_key)
    if cached is not None:
        return cached
    policy = load_policy()
    entries = public_catalogue(school_year)
    counted = [e for e in entries if e.request.measure != "staff"]
    answer = _answer(
        snap,
        school_year,
        [snap.layout(e.request) for e in counted],
        "public:" + _public_request_json(entries),
        noise,
        released_by,
        [f"public catalogue {school_year} ({len(counted)} noisy tables)"],
    )
    tables = {e.name: render_noisy(snap, e.request, answer, policy) for e in entries}
    release = PublicRelease(answer.release_id, school_year, snap.build_id, tables, entries)
    with _PUBLIC_LOCK:
        _PUBLIC_CACHE[cache_key] = release
    return release


def noisy_release_table(
    db_path: str | os.PathLike[str] | None,
    request: TableRequest,
    noise: NoiseSpec,
    requester: Requester | None = None,
) -> ProtectedTable:
    """One table with noise; the same (request, noise) gives the same stored answer to everyone.

    requester: None for the public, who get only tables of the public catalogue (from the
        noisy public release): a custom noisy table spends budget, so it needs a signed-in
        user, whose id is recorded in the ledger.
    noise: the mechanism and this table's whole budget.
    Raises BudgetExceededError (a ValueError) when the year's cap would be passed.
    """
    if not isinstance(request, TableRequest):
        raise ValueError("release_table needs a privacy.TableRequest")
    if not isinstance(noise, NoiseSpec):
        raise ValueError("noise must be a privacy.noise.NoiseSpec")
    snap = _snapshot(db_path)
    _check_against_warehouse(snap, request)
    year = request.school_year
    if requester is None:
        for entry in public_catalogue(year):
            if entry.request == request:
                return noisy_public_release(snap.path, year, noise).tables[entry.name]
        raise ReleaseRefusedError(
            "a custom noisy table spends privacy budget, so it needs a signed-in user; the "
            "public can use the tables of the public catalogue"
        )
    policy = load_policy()
    if request.measure == "staff":
        from privacy.release import release_table

        return release_table(snap.path, request, requester)
    answer = _answer(
        snap,
        year,
        [snap.layout(request)],
        "table:" + request.to_json(),
        noise,
        str(requester.user_id),
        [request.to_json()],
    )
    return render_noisy(snap, request, answer, policy)
