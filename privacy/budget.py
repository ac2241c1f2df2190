"""The privacy-loss budget ledger: what every noisy release of a school year has spent.

The ledger lives in the state database (`privacy.state`), so it is shared by every process and
survives restarts and warehouse rebuilds: a rebuild holds the same students, so it does not
reset their budget. Each school year has a cap set by the Education Data Manager, in epsilon
(pure differential privacy, Laplace noise only) or in rho (zero-concentrated DP; a Laplace
release of epsilon counts as epsilon^2 / 2, a Gaussian release as its rho). Privacy losses of
releases add up (sequential composition), so a year's spend is the sum of its entries.

`charge` runs inside the caller's write transaction: a release that would pass the cap raises
`BudgetExceededError` naming the cap and what is left, and the transaction rolls back, so a
refused release leaves the ledger exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from privacy.state import open_state, write_transaction
from warehouse.connection import resolve_db_path

UNITS: tuple[str, ...] = ("epsilon", "rho")
_EPS = 1e-9

BUDGET_DDL = """
CREATE TABLE IF NOT EXISTS budget_caps (
    school_year TEXT PRIMARY KEY,
    unit        TEXT NOT NULL CHECK (unit IN ('epsilon', 'rho')),
    cap         REAL NOT NULL CHECK (cap > 0),
    set_by      TEXT NOT NULL,
    set_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS budget_cap_history (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    school_year TEXT NOT NULL,
    unit        TEXT NOT NULL,
    cap         REAL NOT NULL,
    set_by      TEXT NOT NULL,
    set_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS budget_ledger (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    school_year TEXT NOT NULL,
    build_id    TEXT NOT NULL,
    release_id  TEXT NOT NULL UNIQUE,
    mechanism   TEXT NOT NULL CHECK (mechanism IN ('laplace', 'gaussian')),
    epsilon     REAL CHECK (epsilon IS NULL OR epsilon > 0),
    rho         REAL NOT NULL CHECK (rho > 0),
    scale       REAL NOT NULL,
    sensitivity INTEGER NOT NULL,
    tables      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    CHECK ((mechanism = 'laplace') = (epsilon IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS budget_ledger_by_year ON budget_ledger (school_year, seq);
"""


class BudgetExceededError(ValueError):
    """A noisy release would spend more than the school year's cap (nothing was recorded)."""


@dataclass(frozen=True)
class BudgetCap:
    """The cap of one school year: `cap` in `unit` (epsilon or rho)."""

    school_year: str
    unit: str
    cap: float
    set_by: str
    set_at: str


@dataclass(frozen=True)
class LedgerEntry:
    """One noisy release: what it cost (epsilon for Laplace, rho always), for which tables."""

    seq: int
    school_year: str
    build_id: str
    release_id: str
    mechanism: str
    epsilon: float | None
    rho: float
    scale: float
    sensitivity: int
    tables: tuple[str, ...]
    created_by: str
    created_at: str

    def cost(self, unit: str) -> float | None:
        """The entry's cost in `unit`; None when a Gaussian release meets an epsilon cap."""
        return self.rho if unit == "rho" else self.epsilon


@dataclass(frozen=True)
class BudgetStatus:
    """A school year's cap, spend and remaining budget (in the cap's unit)."""

    school_year: str
    cap: BudgetCap | None
    spent: float
    entries: tuple[LedgerEntry, ...]

    @property
    def remaining(self) -> float | None:
        return None if self.cap is None else max(0.0, self.cap.cap - self.spent)


def open_budget(db_path: str | os.PathLike[str] | None) -> sqlite3.Connection:
    """Open the state database (of the default warehouse when None) with the budget tables."""
    return open_state(resolve_db_path(db_path), BUDGET_DDL)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _check_year(school_year: str) -> None:
    from privacy.requests import TableRequest

    TableRequest("enrollment", school_year)  # one-line ValueError on a malformed year


def set_cap(
    db_path: str | os.PathLike[str] | None,
    school_year: str,
    *,
    epsilon: float | None = None,
    rho: float | None = None,
    set_by: str,
) -> BudgetCap:
    """Set (or replace) the year's cap: exactly one of `epsilon` or `rho`, positive.

    An epsilon cap cannot be set over a year that already holds Gaussian releases (they have
    no finite pure-DP epsilon). Lowering a cap below what is spent is allowed: it freezes the
    year (every further noisy release is refused). Every change is kept in the cap history.
    """
    _check_year(school_year)
    if (epsilon is None) == (rho is None):
        raise ValueError("set a cap with exactly one of --epsilon or --rho")
    unit, value = ("epsilon", epsilon) if epsilon is not None else ("rho", rho)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"the {unit} cap must be a positive number, got {value!r}")
    if value == float("inf"):
        raise ValueError(f"the {unit} cap must be finite")
    con = open_budget(db_path)
    try:
        with write_transaction(con):
            if unit == "epsilon":
                gauss = con.execute(
                    "SELECT count(*) FROM budget_ledger WHERE school_year = ? "
                    "AND mechanism = 'gaussian'",
                    (school_year,),
                ).fetchone()[0]
                if gauss:
                    raise ValueError(
                        f"{school_year} already holds {gauss} Gaussian release(s), which have "
                        "no pure-DP epsilon; set the cap in rho instead"
                    )
            now = _now()
            con.execute(
                "INSERT INTO budget_caps VALUES (?, ?, ?, ?, ?) ON CONFLICT (school_year) DO "
                "UPDATE SET unit = excluded.unit, cap = excluded.cap, set_by = excluded.set_by, "
                "set_at = excluded.set_at",
                (school_year, unit, float(value), set_by, now),
            )
            con.execute(
                "INSERT INTO budget_cap_history (school_year, unit, cap, set_by, set_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (school_year, unit, float(value), set_by, now),
            )
    finally:
        con.close()
    return BudgetCap(school_year, unit, float(value), set_by, now)


def _cap(con: sqlite3.Connection, school_year: str) -> BudgetCap | None:
    row = con.execute("SELECT * FROM budget_caps WHERE school_year = ?", (school_year,)).fetchone()
    return None if row is None else BudgetCap(**dict(row))


def _entries(con: sqlite3.Connection, school_year: str | None) -> list[LedgerEntry]:
    sql = "SELECT * FROM budget_ledger"
    params: tuple = ()
    if school_year is not None:
        sql += " WHERE school_year = ?"
        params = (school_year,)
    out = []
    for row in con.execute(sql + " ORDER BY seq", params):
        raw = dict(row)
        raw["tables"] = tuple(json.loads(raw["tables"]))
        out.append(LedgerEntry(**raw))
    return out


def _spent(entries: Sequence[LedgerEntry], unit: str) -> float:
    total = 0.0
    for e in entries:
        cost = e.cost(unit)
        if cost is None:
            return float("inf")
        total += cost
    return total


def budget_status(db_path: str | os.PathLike[str] | None, school_year: str) -> BudgetStatus:
    """The year's cap, spend (in the cap's unit; rho when no cap is set) and ledger entries."""
    _check_year(school_year)
    con = open_budget(db_path)
    try:
        cap = _cap(con, school_year)
        entries = _entries(con, school_year)
    finally:
        con.close()
    unit = cap.unit if cap is not None else "rho"
    return BudgetStatus(school_year, cap, _spent(entries, unit), tuple(entries))


def ledger(
    db_path: str | os.PathLike[str] | None, school_year: str | None = None
) -> list[LedgerEntry]:
    """Every ledger entry (of one school year, or all), oldest first."""
    con = open_budget(db_path)
    try:
        return _entries(con, school_year)
    finally:
        con.close()


def cap_history(
    db_path: str | os.PathLike[str] | None, school_year: str | None = None
) -> list[BudgetCap]:
    """Every cap ever set (who and when), oldest first."""
    con = open_budget(db_path)
    try:
        sql = "SELECT school_year, unit, cap, set_by, set_at FROM budget_cap_history"
        rows = con.execute(
            sql + (" WHERE school_year = ? ORDER BY seq" if school_year else " ORDER BY seq"),
            (school_year,) if school_year else (),
        ).fetchall()
    finally:
        con.close()
    return [BudgetCap(**dict(r)) for r in rows]


@dataclass(frozen=True)
class Charge:
    """What a noisy release is about to spend (see `charge`)."""

    school_year: str
    build_id: str
    release_id: str
    mechanism: str
    epsilon: float | None
    rho: float
    scale: float
    sensitivity: int
    tables: tuple[str, ...]
    created_by: str


def check_affordable(con: sqlite3.Connection, item: Charge) -> None:
    """Raise BudgetExceededError unless `item` fits under its year's cap (reads only)."""
    cap = _cap(con, item.school_year)
    year = item.school_year
    if cap is None:
        raise BudgetExceededError(
            f"no privacy budget cap is set for {year}; the Education Data Manager sets one "
            f"with `edudash budget set-cap --year {year} --epsilon E` (or --rho R)"
        )
    cost = item.epsilon if cap.unit == "epsilon" else item.rho
    if cost is None:
        raise BudgetExceededError(
            f"the {year} cap is epsilon {cap.cap:g} (pure DP); Gaussian noise has no pure-DP "
            "epsilon: use Laplace noise, or ask the Education Data Manager for a rho cap"
        )
    entries = _entries(con, year)
    spent = _spent(entries, cap.unit)
    left = max(0.0, cap.cap - spent)
    if spent + cost > cap.cap + _EPS:
        raise BudgetExceededError(
            f"refused: this release would spend {cap.unit} {cost:.4g} but the {year} cap is "
            f"{cap.unit} {cap.cap:g} and only {left:.4g} is left ({spent:.4g} spent by "
            f"{len(entries)} release(s)); nothing was recorded"
        )


def charge(con: sqlite3.Connection, item: Charge) -> None:
    """Record `item` in the ledger if it fits under the cap; call inside `write_transaction`."""
    if not con.in_transaction:
        raise RuntimeError("charge() must run inside a write transaction")
    check_affordable(con, item)
    con.execute(
        "INSERT INTO budget_ledger (school_year, build_id, release_id, mechanism, epsilon, rho, "
        "scale, sensitivity, tables, created_by, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            item.school_year,
            item.build_id,
            item.release_id,
            item.mechanism,
            item.epsilon,
            item.rho,
            item.scale,
            item.sensitivity,
            json.dumps(list(item.tables)),
            item.created_by,
            _now(),
        ),
    )
