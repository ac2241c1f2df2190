"""The real Maine graduation cohorts (EDFacts ACGR, school level), protected and attacked.

For each school year: a school x race table (school totals = sum of races, state race totals =
sum of schools) plus economically disadvantaged, disability and English learner tables linked
through the same school totals, each with its complement cell (ALL - group).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from privacy.auditor import audit
from privacy.cells import CellSystem
from privacy.policy import Policy
from privacy.suppression import protect

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "real-data" / "edfacts_acgr_school"
RACES = ("MAM", "MAS", "MBL", "MHI", "MTR", "MWH")
PROGRAMS = ("ECD", "CWD", "LEP")
POLICY = Policy()


def _files() -> list[Path]:
    if not REAL_DATA.is_dir():
        return []
    return sorted(REAL_DATA.glob("*.csv"))


def _count(row: dict[str, str], group: str, year: str) -> int:
    raw = (row.get(f"{group}_COHORT_{year}") or "").strip()
    return int(raw) if raw.isdigit() else 0


def cohort_system(path: Path) -> CellSystem:
    """The linked cohort tables of one file as a cell system (keys name group and school)."""
    with path.open(encoding="latin-1", newline="") as handle:
        rows = list(csv.DictReader(handle))
    year = next(k for k in rows[0] if k.startswith("ALL_COHORT_")).rsplit("_", 1)[1]
    system = CellSystem()
    schools = []
    for row in rows:
        school = row["NCESSCH"]
        total = _count(row, "ALL", year)
        if total == 0:
            continue
        races = {race: _count(row, race, year) for race in RACES}
        # a few schools report races that do not add up to ALL: the rest is "unreported"
        races["UNREPORTED"] = total - sum(races.values())
        assert races["UNREPORTED"] >= 0, school
        system.add_sum((("ALL", school), total), [((race, school), n) for race, n in races.items()])
        for program in PROGRAMS:
            n = min(_count(row, program, year), total)
            system.add_sum(
                (("ALL", school), total),
                [((program, school), n), ((f"NOT_{program}", school), total - n)],
            )
        schools.append(school)
    groups = [*RACES, "UNREPORTED", "ALL"]
    for program in PROGRAMS:
        groups += [program, f"NOT_{program}"]
    state = {}
    for group in groups:
        members = [system.cell((group, s)) for s in schools]
        value = int(system.values[members].sum())
        state[group] = system.add_cell((group, "STATE"), value)
        system.add_constraint(state[group], members)
    system.add_constraint(state["ALL"], [state[g] for g in (*RACES, "UNREPORTED")])
    for program in PROGRAMS:
        system.add_constraint(state["ALL"], [state[program], state[f"NOT_{program}"]])
    system.validate()
    return system


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.stem)
def test_real_cohorts_protected_and_audited(path: Path) -> None:
    system = cohort_system(path)
    protection = protect(system, POLICY)
    report = audit(system, protection.hidden, POLICY, primary=protection.primary)
    assert report.ok, [(v.key, v.reason) for v in report.violations[:5]]
    small = {i for i in range(len(system)) if POLICY.is_small(int(system.values[i]))}
    assert small and small <= protection.hidden
    published = protection.published(system.values)
    assert not any(v is not None and 0 < v < POLICY.min_cell for v in published)


def test_real_cohort_data_is_present() -> None:
    if not _files():
        pytest.skip(f"real EDFacts cohort files not found in {REAL_DATA}; real-data test skipped")
    assert len(_files()) == 4
