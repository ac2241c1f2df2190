"""The privacy budget ledger: caps, charges, refusals that change nothing, and the CLI."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import pytest

from edudash.cli import main
from privacy.budget import (
    BudgetExceededError,
    Charge,
    budget_status,
    cap_history,
    charge,
    ledger,
    open_budget,
    set_cap,
)
from privacy.state import write_transaction

YEAR = "2024-25"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "edudash.duckdb"
    duckdb.connect(str(path)).close()  # an empty warehouse: only its state file is used here
    return path


def _item(
    n: int, *, epsilon: float | None = 1.0, rho: float = 0.5, mech: str = "laplace"
) -> Charge:
    return Charge(YEAR, "build", f"rel-{n}", mech, epsilon, rho, 2.0, 2, ("t",), "tester")


def _charge(db: Path, item: Charge) -> None:
    con = open_budget(db)
    try:
        with write_transaction(con):
            charge(con, item)
    finally:
        con.close()


def _rows(db: Path) -> list[tuple]:
    con = sqlite3.connect(db.with_name(db.stem + ".state.sqlite"))
    try:
        return con.execute("SELECT * FROM budget_ledger ORDER BY seq").fetchall()
    finally:
        con.close()


def test_no_cap_refuses_and_says_how_to_set_one(db: Path) -> None:
    with pytest.raises(BudgetExceededError, match="edudash budget set-cap --year 2024-25"):
        _charge(db, _item(1))
    assert ledger(db) == []


def test_over_cap_is_refused_and_the_ledger_is_unchanged(db: Path) -> None:
    set_cap(db, YEAR, epsilon=2.5, set_by="edm")
    _charge(db, _item(1))
    _charge(db, _item(2))
    before = _rows(db)
    with pytest.raises(BudgetExceededError) as err:
        _charge(db, _item(3))
    message = str(err.value)
    assert "cap is epsilon 2.5" in message and "only 0.5 is left" in message
    assert _rows(db) == before
    status = budget_status(db, YEAR)
    assert status.spent == pytest.approx(2.0) and status.remaining == pytest.approx(0.5)
    _charge(db, _item(4, epsilon=0.5, rho=0.125))  # exactly what is left still fits
    assert len(ledger(db, YEAR)) == 3


def test_rho_cap_counts_laplace_as_eps_squared_over_two(db: Path) -> None:
    set_cap(db, YEAR, rho=1.0, set_by="edm")
    _charge(db, _item(1, epsilon=1.0, rho=0.5))
    _charge(db, _item(2, epsilon=None, rho=0.5, mech="gaussian"))
    with pytest.raises(BudgetExceededError, match="cap is rho 1"):
        _charge(db, _item(3, epsilon=None, rho=0.01, mech="gaussian"))
    # A Gaussian release has no pure-DP epsilon: an epsilon cap cannot be set over it.
    with pytest.raises(ValueError, match="set the cap in rho"):
        set_cap(db, YEAR, epsilon=10.0, set_by="edm")
    assert budget_status(db, YEAR).cap.unit == "rho"


def test_gaussian_under_an_epsilon_cap_is_refused(db: Path) -> None:
    set_cap(db, YEAR, epsilon=5.0, set_by="edm")
    with pytest.raises(BudgetExceededError, match="no pure-DP epsilon"):
        _charge(db, _item(1, epsilon=None, rho=0.1, mech="gaussian"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "exactly one of"),
        ({"epsilon": 1.0, "rho": 1.0}, "exactly one of"),
        ({"epsilon": 0.0}, "positive"),
        ({"rho": -2.0}, "positive"),
        ({"rho": float("inf")}, "finite"),
    ],
)
def test_bad_caps(db: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        set_cap(db, YEAR, set_by="edm", **kwargs)
    with pytest.raises(ValueError, match="YYYY-YY"):
        set_cap(db, "2024", epsilon=1.0, set_by="edm")


def test_charge_needs_a_transaction(db: Path) -> None:
    set_cap(db, YEAR, epsilon=5.0, set_by="edm")
    con = open_budget(db)
    try:
        with pytest.raises(RuntimeError, match="write transaction"):
            charge(con, _item(1))
    finally:
        con.close()


def test_cap_history_and_cli(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["budget", "set-cap", "--db", str(db), "--year", YEAR, "--epsilon", "3"]) == 0
    assert (
        main(["budget", "set-cap", "--db", str(db), "--year", YEAR, "--rho", "2", "--by", "ann"])
        == 0
    )
    assert [c.cap for c in cap_history(db, YEAR)] == [3.0, 2.0]
    _charge(db, _item(1))
    capsys.readouterr()
    assert main(["budget", "show", "--db", str(db), "--year", YEAR]) == 0
    out = capsys.readouterr().out
    assert "cap rho 2 (set by ann" in out and "rel-1" in out and "left 1.5" in out
    assert main(["budget", "set-cap", "--db", str(db), "--year", YEAR, "--epsilon", "-1"]) == 1
    assert "positive" in capsys.readouterr().err


def test_ledger_page_is_for_the_data_manager_only(
    built_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    import privacy
    from privacy.auth import sign_in
    from privacy.users import create_demo_users
    from tests.access_helpers import FAST, private_db

    site = private_db(built_db, tmp_path / "site")
    monkeypatch.setenv("EDUDASH_DB", str(site))
    demo = {role: (uid, pw) for uid, role, pw in create_demo_users(site, policy=FAST)}
    set_cap(site, YEAR, epsilon=2.0, set_by="edm")
    _charge(site, _item(7))
    page = str(Path(__file__).resolve().parents[1] / "pages" / "budget_ledger.py")

    def run(role: str | None) -> AppTest:
        at = AppTest.from_file(page, default_timeout=30)
        if role:
            uid, pw = demo[role]
            at.session_state[privacy.SESSION_TOKEN_KEY] = sign_in(site, uid, pw, policy=FAST).token
        return at.run()

    for role in (None, "teacher"):
        at = run(role)
        assert at.error and "Only the Education Data Manager" in at.error[0].value
        assert not at.dataframe
    at = run("data_manager")
    assert not at.exception and not at.error
    at.selectbox(key="budget_year").set_value(YEAR).run()
    ledger_frame = at.dataframe[0].value
    assert ledger_frame["release"].to_list() == ["rel-7"]
    assert any("epsilon 2" in m.value for m in at.metric)
