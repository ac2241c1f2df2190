"""The data dictionary and the warehouse schema describe exactly the same columns."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from warehouse.connection import connect_readonly
from warehouse.dictionary import DictionaryError, load_dictionary, parse_dictionary

INTERNAL_TABLES = {"data_dictionary", "code_sets"}


def _columns(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main'"
    ).fetchall()
    return {(t, c): ty for t, c, ty in rows if t not in INTERNAL_TABLES}


def test_every_column_has_an_entry_and_every_entry_a_column(built_db: Path) -> None:
    con = connect_readonly(built_db)
    actual = _columns(con)
    described = {(f.table, f.name): f for f in load_dictionary().fields()}
    missing_entry = sorted(set(actual) - set(described))
    missing_column = sorted(set(described) - set(actual))
    assert not missing_entry, f"columns without a dictionary entry: {missing_entry}"
    assert not missing_column, f"dictionary entries without a column: {missing_column}"


def test_declared_types_match_the_schema(built_db: Path) -> None:
    con = connect_readonly(built_db)
    actual = _columns(con)
    for f in load_dictionary().fields():
        assert actual[(f.table, f.name)] == f.type, f"{f.table}.{f.name}"


def test_dictionary_is_loaded_into_the_warehouse(built_db: Path) -> None:
    con = connect_readonly(built_db)
    (n,) = con.execute("SELECT count(*) FROM data_dictionary").fetchone()
    assert n == len(load_dictionary().fields())
    levels = dict(
        con.execute(
            "SELECT table_name || '.' || field_name, access_level FROM data_dictionary"
        ).fetchall()
    )
    assert levels["students.ssn"] == 1
    assert levels["students.mainecare_id"] == 1
    assert levels["staff.ssn"] == 1


def test_coded_fields_hold_only_their_codes(built_db: Path) -> None:
    con = connect_readonly(built_db)
    d = load_dictionary()
    for f in d.fields():
        if f.code_set is None:
            continue
        codes = set(d.code_sets[f.code_set].labels())
        values = {
            v for (v,) in con.execute(f'SELECT DISTINCT "{f.name}" FROM {f.table}').fetchall()
        }
        assert values - {None} <= codes, f"{f.table}.{f.name}: {values - codes}"


def test_pii_fields_are_never_public_directory() -> None:
    for f in load_dictionary().fields():
        assert not (f.pii and f.public_directory), f"{f.table}.{f.name}"


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"access_level": 5}, "access level 5"),
        ({"source": "rumour"}, "unknown source"),
        ({"code_set": "nope"}, "unknown code set"),
    ],
)
def test_malformed_dictionary_is_rejected(patch: dict, message: str) -> None:
    field = {
        "name": "x",
        "type": "VARCHAR",
        "format": "text",
        "description": "d",
        "periodicity": "annual",
        "source": "derived",
        "pii": False,
        "access_level": 3,
    }
    raw = {
        "tables": [
            {"name": "t", "kind": "student", "description": "d", "fields": [{**field, **patch}]}
        ]
    }
    with pytest.raises(DictionaryError, match=message):
        parse_dictionary(raw)
