"""Noisy releases end to end: stable stored answers, the budget, consistency, no 1-9 shown."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import privacy.noisy_release as nr
import privacy.release as rel
from edudash.cli import main
from privacy.budget import BudgetExceededError, ledger, set_cap
from privacy.consistency import reconcile
from privacy.noise import NoiseSpec, plan_noise
from privacy.release import ReleaseRefusedError, build_system, release_table
from privacy.requests import TableRequest

YEAR = "2024-25"
PUBLIC_NOISE = NoiseSpec("gaussian", rho=0.5)


@dataclass(frozen=True)
class Staff:
    user_id: str


@pytest.fixture(scope="module")
def db(built_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the session warehouse (noisy answers write its state file)."""
    path = tmp_path_factory.mktemp("noisy") / "edudash.duckdb"
    shutil.copy(built_db, path)
    set_cap(path, YEAR, rho=2.0, set_by="edm")
    return path


def _forget_process_caches() -> None:
    """As if a new process (another user, a rerun) asked."""
    rel._SNAPSHOTS.clear()
    nr._PUBLIC_CACHE.clear()


def _state_rows(db: Path, table: str) -> list[tuple]:
    con = sqlite3.connect(db.with_name(db.stem + ".state.sqlite"))
    try:
        return con.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608 - fixed names
    finally:
        con.close()


def test_repeated_request_returns_identical_bytes_and_costs_nothing(db: Path) -> None:
    request = TableRequest("enrollment", YEAR, "school", ("gender",))
    spec = NoiseSpec("laplace", epsilon=0.2)
    first = release_table(db, request, Staff("ann"), noise=spec)
    spent = len(ledger(db, YEAR))
    again = [release_table(db, request, Staff("bob"), noise=spec)]
    _forget_process_caches()
    again.append(nr.noisy_release_table(db, request, spec, Staff("cy")))
    for table in again:
        assert table.to_csv_bytes() == first.to_csv_bytes()
        assert table.release_id == first.release_id
    assert len(ledger(db, YEAR)) == spent
    assert ledger(db, YEAR)[-1].created_by == "ann"
    # Another budget is another (charged) answer.
    other = release_table(db, request, Staff("ann"), noise=NoiseSpec("laplace", epsilon=0.1))
    assert other.release_id != first.release_id
    assert len(ledger(db, YEAR)) == spent + 1


def test_release_over_the_cap_is_refused_and_nothing_changes(db: Path) -> None:
    before = (_state_rows(db, "budget_ledger"), _state_rows(db, "noisy_answers"))
    request = TableRequest("enrollment", YEAR, "district", ("race_ethnicity",))
    with pytest.raises(BudgetExceededError, match=r"cap is rho 2 and only [0-9.]+ is left"):
        release_table(db, request, Staff("ann"), noise=NoiseSpec("gaussian", rho=5.0))
    assert (_state_rows(db, "budget_ledger"), _state_rows(db, "noisy_answers")) == before


def test_the_public_cannot_spend_budget_on_custom_tables(db: Path) -> None:
    custom = TableRequest("enrollment", YEAR, "school", ("grade", "gender"))
    with pytest.raises(ReleaseRefusedError, match="needs a signed-in user"):
        release_table(db, custom, None, noise=PUBLIC_NOISE)
    public = TableRequest("enrollment", YEAR, "district", ("grade",))
    table = release_table(db, public, None, noise=PUBLIC_NOISE)
    assert table.noise is not None and table.noise.release_id == table.release_id


@pytest.fixture(scope="module")
def public(db: Path) -> rel.PublicRelease:
    return rel.public_release(db, YEAR, noise=PUBLIC_NOISE)


def test_noisy_children_sum_to_noisy_parents_everywhere(
    db: Path, public: rel.PublicRelease
) -> None:
    snap = rel._snapshot(db)
    entries = [e for e in public.catalogue if e.request.measure != "staff"]
    system = build_system([snap.layout(e.request) for e in entries], rel._units_for(snap, YEAR))
    row = _state_rows(db, "noisy_answers")
    stored = next(json.loads(r[6]) for r in row if r[4] == public.release_id)
    values = np.array([stored[k] for k in system.keys])
    assert values.min() >= 0
    assert len(system.constraints) > 1000
    for parent, children in system.constraints:
        assert values[parent] == values[children].sum(), system.keys[parent]
    # The published tables show exactly these stored values wherever a count is shown.
    for table in public.tables.values():
        if table.request.measure == "staff":
            continue
        keys = snap.layout(table.request).rows["cell_key"].to_list()
        for key, count in zip(keys, table.data["count"].to_list(), strict=True):
            assert count is None or count == stored[key]


def test_no_noisy_count_from_1_to_9_reaches_any_output(public: rel.PublicRelease) -> None:
    hidden_small = 0
    for name, table in public.tables.items():
        if table.request.measure == "staff":
            assert table.noise is None
            continue
        assert table.noise is not None and table.noise.moe > 0
        assert "moe" in table.data.columns and "noise added" in table.title
        assert any("noise was added" in f for f in table.footnotes)
        counts = [c for c in table.data["count"].to_list() if c is not None]
        assert not any(1 <= c <= 9 for c in counts), name
        chart = table.chart_frame()
        assert not any(1 <= c <= 9 for c in chart["count"].drop_nulls().to_list()), name
        assert "moe" in chart.columns
        lines = [ln for ln in table.to_csv_bytes().decode().splitlines() if not ln.startswith("#")]
        rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
        assert rows and "moe" in rows[0]
        for r in rows:
            assert r["count"] == "*" or not 1 <= int(r["count"]) <= 9, name
            assert r["moe"] == str(table.noise.moe)
        hidden_small += sum(1 for r in rows if r["count"] == "*")
        assert {r["status"] for r in rows} <= {"shown", "suppressed", "coded"}
    assert hidden_small > 0  # the rule had work to do


def test_export_uses_the_same_stored_answer(
    db: Path, public: rel.PublicRelease, tmp_path: Path
) -> None:
    spent = len(ledger(db, YEAR))
    out = tmp_path / "export"
    code = main(
        [
            "export",
            "--db",
            str(db),
            "--out",
            str(out),
            "--year",
            YEAR,
            "--noise",
            "gaussian",
            "--rho",
            "0.5",
        ]
    )
    assert code == 0
    assert len(ledger(db, YEAR)) == spent
    name = "graduation_district_race_ethnicity"
    assert (out / f"{name}_{YEAR}.csv").read_bytes() == public.tables[name].to_csv_bytes()
    package = json.loads((out / "datapackage.json").read_text())
    resource = next(r for r in package["resources"] if r["name"] == f"{name}_{YEAR}")
    assert resource["noise"]["rho"] == pytest.approx(0.5, rel=1e-6)
    assert resource["noise"]["release_id"] == public.release_id
    assert main(["export", "--db", str(db), "--out", str(out), "--epsilon", "1"]) == 1


def test_published_error_matches_the_stated_margin(db: Path) -> None:
    """Draw, reconcile and publish 150 times: published counts fall within +/-moe ~95%."""
    snap = rel._snapshot(db)
    layout = snap.layout(TableRequest("enrollment", YEAR, "district", ("grade",)))
    system = build_system([layout], {})
    groups, perm = nr.contribution_groups(system.keys)
    plan = plan_noise(NoiseSpec("laplace", epsilon=0.5), groups)
    levels, order = nr.rounding_order(system.keys)
    truth = system.values
    raw_inside, published_inside = [], []
    for _ in range(150):
        noisy = np.empty(len(truth), dtype=np.int64)
        noisy[perm] = plan.draw(truth[perm])
        published = reconcile(noisy, system.constraints, levels, order)
        raw_inside.append(np.abs(noisy - truth) <= plan.moe)
        published_inside.append(np.abs(published - truth) <= plan.moe)
    raw = float(np.mean(raw_inside))
    final = float(np.mean(published_inside))
    assert 0.94 <= raw <= 0.97, raw
    assert 0.94 <= final <= 1.0, final


def test_simultaneous_first_requests_are_charged_once(db: Path) -> None:
    """Two users ask for the same new noisy table at once: one draw is stored and charged."""
    from concurrent.futures import ThreadPoolExecutor

    request = TableRequest("graduation", YEAR, "district", ("gender",))
    spec = NoiseSpec("laplace", epsilon=0.05)
    spent = len(ledger(db, YEAR))
    with ThreadPoolExecutor(max_workers=2) as pool:
        tables = list(
            pool.map(lambda who: release_table(db, request, Staff(who), noise=spec), ["ann", "bob"])
        )
    assert tables[0].to_csv_bytes() == tables[1].to_csv_bytes()
    assert len(ledger(db, YEAR)) == spent + 1
