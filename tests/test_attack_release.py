"""An independent attacker (tests/attacker.py) against the exported public release and custom tables.

The attacker reads only published CSVs; `privacy` is imported here only to produce them. The
sanity tests prove the attacker does find leaks, so its silence on the real release means
something.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path

import pytest

from edudash.cli import main
from tests.attacker import PublishedTable, attack, load_export, parse_csv
from warehouse.build import build_warehouse

YEAR = "2024-25"
POLICY = tomllib.loads(
    (Path(__file__).resolve().parents[1] / "privacy" / "policy.toml").read_text(encoding="utf-8")
)["cells"]
MIN_CELL = POLICY["min_cell"]
MIN_WIDTH = POLICY["min_interval_width"]
MIN_UPPER = POLICY["min_upper_bound"]


def _explain(intervals: list) -> str:
    return "\n".join(f"{i.where} [{i.low}, {i.high}] status={i.status}" for i in intervals[:15])


# -- sanity: the attacker finds what it should ---------------------------------------------

HEADER = "# a hand-made table\n# release_id: test\n"


def _state_gender(counts: dict[str, str], statuses: dict[str, str] | None = None) -> bytes:
    statuses = statuses or {}
    lines = [HEADER + "gender,gender_label,count,rate,denominator,status,reason"]
    for code, label in (("F", "Female"), ("M", "Male"), ("X", "Nonbinary"), ("All", "All")):
        st = statuses.get(code, "shown" if counts[code] != "*" else "suppressed_small")
        lines.append(f"{code},{label},{counts[code]},,,{st},")
    return ("\n".join(lines) + "\n").encode()


def _table(data: bytes, name: str = "t", measure: str = "enrollment") -> PublishedTable:
    return parse_csv(data, name=name, measure=measure, school_year=YEAR)


def test_lone_hidden_cell_is_recovered_exactly() -> None:
    """Primary-only suppression: X hidden, F, M and the total shown -> X is known."""
    t = _table(_state_gender({"F": "120", "M": "127", "X": "*", "All": "250"}))
    result = attack([t], exact=True)
    (cell,) = result.intervals
    assert (cell.low, cell.high) == (3, 3)
    assert result.exactly_recovered() == [cell]
    assert result.violations(MIN_WIDTH, MIN_UPPER) == [cell]


def test_linked_subtotal_from_a_second_table_undoes_a_pattern() -> None:
    """Two hidden cells protect each other in one table; a second table's row gives one away."""
    by_gender = _table(_state_gender({"F": "*", "M": "*", "X": "0", "All": "40"}), "gender")
    school = (
        HEADER + "district_id,district_name,school_id,school_name,gender,gender_label,count,"
        "rate,denominator,status,reason\n"
        "D1,Dist,S1,One,F,Female,33,,,shown,\n"
        "D1,Dist,S1,One,M,Male,*,,,suppressed_small,\n"
        "D1,Dist,S1,One,X,Nonbinary,0,,,shown,\n"
        "D1,Dist,S1,One,All,All,*,,,suppressed_complement,\n"
    ).encode()
    alone = attack([by_gender], exact=True)
    assert not alone.exactly_recovered()
    together = attack([by_gender, _table(school, "school")], exact=True)
    f = next(i for i in together.intervals if "gender=F" in i.key and "state" in i.key)
    assert (f.low, f.high) == (33, 33)
    m = next(i for i in together.intervals if "gender=M" in i.key and "state" in i.key)
    assert (m.low, m.high) == (7, 7)


def test_coded_rate_and_status_narrow_a_cell() -> None:
    """A coded ">=90%" rate bounds its numerator; the status column tells small from complement."""
    data = (
        HEADER + "outcome,outcome_label,count,rate,denominator,status,reason\n"
        "REGULAR_DIPLOMA,Regular diploma,*,>=90%,12,coded,\n"
        "STILL_ENROLLED,Still enrolled,*,*,12,suppressed_small,\n"
        "OTHER_COMPLETER,Other completer,0,0.0%,12,shown,\n"
        "DROPPED_OUT,Dropped out,0,0.0%,12,shown,\n"
        "All,All,12,,,shown,\n"
    ).encode()
    t = parse_csv(data, name="grad", measure="graduation", school_year=YEAR)
    blind = attack([t], exact=True)
    diploma = next(i for i in blind.intervals if "REGULAR" in i.key)
    assert (diploma.low, diploma.high) == (11, 12)
    aware = attack([t], exact=True, use_status=True)
    diploma = next(i for i in aware.intervals if "REGULAR" in i.key)
    assert (diploma.low, diploma.high) == (11, 11)


def test_protected_pattern_is_not_flagged() -> None:
    """Four hidden cells in a 2x2 block with wide ranges: nothing recoverable."""
    rows = [
        "district_id,district_name,gender,gender_label,count,rate,denominator,status,reason",
    ]
    values = {
        ("D1", "F"): "*", ("D1", "M"): "*", ("D1", "X"): "0", ("D1", "All"): "60",
        ("D2", "F"): "*", ("D2", "M"): "*", ("D2", "X"): "0", ("D2", "All"): "70",
    }  # fmt: skip
    for (d, g), v in values.items():
        rows.append(f"{d},{d},{g},{g},{v},,,{'shown' if v != '*' else 'suppressed_small'},")
    district = _table((HEADER + "\n".join(rows) + "\n").encode(), "district")
    state = _table(_state_gender({"F": "61", "M": "69", "X": "0", "All": "130"}), "state")
    result = attack([district, state], exact=True)
    assert len(result.intervals) == 4
    assert not result.violations(MIN_WIDTH, MIN_UPPER)


# -- the real release ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def attack_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private scale-0.1, seed-11 warehouse (its registry is written by the exports)."""
    path = tmp_path_factory.mktemp("attack") / "edudash.duckdb"
    build_warehouse(path, scale=0.1, seed=11)
    return path


def _export(db: Path, out: Path) -> list[PublishedTable]:
    assert main(["export", "--out", str(out), "--year", YEAR, "--db", str(db)]) == 0
    return load_export(out)


def _assert_no_leak(tables: list[PublishedTable]) -> None:
    """Blind attacker (ignores the status column). policy.toml applies the width/upper
    criterion to cells hidden as small; coded cells are narrow by design (a "<=10%" rate over 12
    students bounds the count to 0..1), so the criterion is checked on suppressed_small cells
    and exactness on every hidden cell."""
    result = attack(tables, min_cell=MIN_CELL, min_width=MIN_WIDTH, min_upper=MIN_UPPER)
    assert not result.infeasible, "the attacker's model contradicts the published tables"
    assert not result.conflicts, result.conflicts
    assert not result.shown_small, result.shown_small[:10]
    assert result.intervals, "the release hides nothing: the attack is vacuous"
    exact = result.exactly_recovered()
    assert not exact, "hidden cells recovered exactly:\n" + _explain(exact)
    # Published CSVs no longer tell small from complement cells (both read "suppressed"), so the
    # criterion is applied to every suppressed cell: stricter than the policy, which needs it
    # for small cells only.
    narrow = [
        i
        for i in result.violations(MIN_WIDTH, MIN_UPPER)
        if i.status in ("suppressed_small", "suppressed", "")
    ]
    assert not narrow, "small cells narrower than the policy criterion:\n" + _explain(narrow)


@pytest.fixture(scope="module")
def released_copy(released_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the session's released scale-0.02 warehouse and its registry, so the
    exports and custom tables of this module write no one else's registry."""
    folder = tmp_path_factory.mktemp("attack_released")
    for f in released_db.parent.iterdir():
        if f.name.startswith(released_db.stem):
            shutil.copyfile(f, folder / f.name)
    return folder / released_db.name


def test_public_release_resists_the_attack(released_copy: Path, tmp_path: Path) -> None:
    _assert_no_leak(_export(released_copy, tmp_path / "export"))


@pytest.mark.skip(reason="takes over 30 minutes (export of a scale-0.1 release); run by hand")
def test_public_release_at_scale_0_1_resists_the_attack(attack_db: Path, tmp_path: Path) -> None:
    """Scale 0.1 (seed 11): its export alone takes minutes on a loaded machine, hence slow."""
    _assert_no_leak(_export(attack_db, tmp_path / "export"))


ENROLLMENT_TABLES = tuple(
    f"enrollment_{geo}_{dim}_{YEAR}"
    for geo in ("state", "district", "school")
    for dim in ("grade", "race_ethnicity", "gender")
)


def test_status_column_lets_the_public_recover_hidden_cells(
    released_copy: Path, tmp_path: Path
) -> None:
    """KNOWN LEAK (for P1/P2). Every CSV row carries `status` (and `reason`): suppressed_small
    means 1..9 and suppressed_complement / coded means 0 or >= 10 (true of every hidden cell).
    A complement cell under a small total is then exactly 0: in the scale-0.02 seed-7 build,
    school 4255 (the only school of district 6930) has total `suppressed_small`, so every race
    but WH (`suppressed_complement`) is exactly 0 - all its students are White - and grades
    01-04, 06-08 (`suppressed_small`, 7 cells >= 1 under a total <= 9) are each in [1, 3].
    Only the nine enrollment tables are attacked, to keep the test fast."""
    tables = [t for t in _export(released_copy, tmp_path / "export") if t.name in ENROLLMENT_TABLES]
    assert len(tables) == len(ENROLLMENT_TABLES)
    result = attack(tables, use_status=True, min_width=MIN_WIDTH, min_upper=MIN_UPPER)
    assert not result.infeasible
    exact = result.exactly_recovered()
    narrow_small = [
        i for i in result.intervals if i.status == "suppressed_small" and i.width < MIN_WIDTH
    ]
    assert not exact and not narrow_small, (
        f"{len(exact)} hidden cells recovered exactly and {len(narrow_small)} small cells "
        "narrower than the criterion by reading the status column:\n"
        + _explain(exact)
        + "\n"
        + _explain(narrow_small)
    )


def _custom_requests() -> list:
    from privacy.requests import TableRequest

    return [
        TableRequest("enrollment", YEAR, "school", ("race_ethnicity",)),
        TableRequest("enrollment", YEAR, "school", ("race_ethnicity",), (("gender", "F"),)),
        TableRequest("enrollment", YEAR, "school", ("race_ethnicity",), (("gender", "M"),)),
        TableRequest("enrollment", YEAR, "school", ("gender",), (("english_learner", "true"),)),
        TableRequest("enrollment", YEAR, "district", ("race_ethnicity", "gender")),
        TableRequest(
            "assessment",
            YEAR,
            "district",
            ("subject", "performance_level"),
            (("economically_disadvantaged", "true"),),
        ),
        TableRequest("assessment", YEAR, "school", ("grade",)),
    ]


def _release_custom(db: Path, requests: list) -> list[PublishedTable]:
    from privacy.release import ReleaseRefusedError, release_table

    class Staff:
        user_id = "staff-attacker"

    out = []
    for n, request in enumerate(requests):
        try:
            table = release_table(db, request, Staff())
        except ReleaseRefusedError:
            continue  # refusing is a safe answer
        out.append(
            parse_csv(
                table.to_csv_bytes(),
                name=f"custom{n}",
                measure=request.measure,
                school_year=request.school_year,
                filters=request.filters,
            )
        )
    return out


@pytest.mark.skipif(
    os.environ.get("EDUDASH_SLOW_TESTS") != "1",
    reason="slow (about 5 minutes: seven custom tables, each protected with the whole year); "
    "passes; run with EDUDASH_SLOW_TESTS=1",
)
def test_public_plus_custom_tables_resist_differencing(released_copy: Path, tmp_path: Path) -> None:
    """Custom tables that share subtotals with the public ones (race x gender filters,
    a coarser geography, a subgroup's assessment) attacked together with the public export."""
    public = _export(released_copy, tmp_path / "export")
    custom = _release_custom(released_copy, _custom_requests())
    assert custom, "every custom request was refused"
    _assert_no_leak(public + custom)
