"""Parameterized DuckDB SQL for disclosures: research extracts and one person's own record.

This module knows nothing of users, approvals or the disclosure log: the privacy layer decides
which fields and people a release holds and passes them here explicitly. Table and column names
are checked against the data dictionary (and a fixed list of tables) before they are quoted into
SQL; every value is a bound parameter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import duckdb
import polars as pl

from warehouse.dictionary import load_dictionary

PersonKind = Literal["student", "staff"]

STUDENT_TABLES: tuple[str, ...] = (
    "students",
    "enrollments",
    "program_participation",
    "assessments",
    "graduation_cohorts",
)
STAFF_TABLES: tuple[str, ...] = ("staff", "staff_certifications", "staff_assignments")
PERSON_TABLES: dict[str, tuple[str, ...]] = {"student": STUDENT_TABLES, "staff": STAFF_TABLES}
PERSON_KEY: dict[str, str] = {"student": "state_student_id", "staff": "state_staff_id"}

# The school-year column of each table that has one (graduation cohorts use the same format).
YEAR_COLUMN: dict[str, str] = {
    "enrollments": "school_year",
    "program_participation": "school_year",
    "assessments": "school_year",
    "graduation_cohorts": "cohort_year",
    "staff_assignments": "school_year",
}

_ORDER_BY: dict[str, str] = {
    "students": "state_student_id",
    "enrollments": "school_year DESC, entry_date DESC, school_id",
    "program_participation": "school_year DESC",
    "assessments": "school_year DESC, subject",
    "graduation_cohorts": "cohort_year DESC",
    "staff": "state_staff_id",
    "staff_certifications": "certification_area",
    "staff_assignments": "school_year DESC, school_id, role, subject",
}


def _columns(table: str, columns: Sequence[str], allowed: Sequence[str]) -> str:
    if table not in allowed:
        raise ValueError(f"{table!r} cannot be used here")
    known = {f.name for f in load_dictionary().table(table).fields}
    unknown = [c for c in columns if c not in known]
    if unknown or not columns:
        raise ValueError(f"unknown or missing columns for {table}: {unknown}")
    return ", ".join(f'"{c}"' for c in columns)


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description or ()]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def school_years(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The school years of the warehouse, oldest first."""
    return [
        str(r[0]) for r in con.execute("SELECT school_year FROM school_years ORDER BY 1").fetchall()
    ]


def unknown_person_ids(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> list[str]:
    """The IDs in `ids` that are neither a state student ID nor a state staff ID."""
    if not ids:
        return []
    rows = con.execute(
        """
        SELECT id FROM (SELECT unnest(?::VARCHAR[]) AS id)
        WHERE id NOT IN (SELECT state_student_id FROM students)
          AND id NOT IN (SELECT state_staff_id FROM staff)
        ORDER BY id
        """,
        [list(ids)],
    ).fetchall()
    return [str(r[0]) for r in rows]


def person_summary(
    con: duckdb.DuckDBPyConnection, kind: PersonKind, person_id: str
) -> dict[str, Any] | None:
    """Name, birth date (and, for students, the guardian's name) of one person, or None."""
    if kind == "student":
        cur = con.execute(
            "SELECT state_student_id AS person_id, first_name, last_name, birth_date,"
            " guardian_name FROM students WHERE state_student_id = ?",
            [person_id],
        )
    elif kind == "staff":
        cur = con.execute(
            "SELECT state_staff_id AS person_id, first_name, last_name, birth_date,"
            " NULL AS guardian_name FROM staff WHERE state_staff_id = ?",
            [person_id],
        )
    else:
        raise ValueError(f"unknown kind of person {kind!r}")
    rows = _rows(cur)
    return rows[0] if rows else None


def person_rows(
    con: duckdb.DuckDBPyConnection,
    kind: PersonKind,
    table: str,
    person_id: str,
    columns: Sequence[str],
) -> list[dict[str, Any]]:
    """The rows of `table` about one person, only `columns`, newest first."""
    cols = _columns(table, columns, PERSON_TABLES[kind])
    key = PERSON_KEY[kind]
    cur = con.execute(
        f'SELECT {cols} FROM {table} WHERE "{key}" = ? ORDER BY {_ORDER_BY[table]}',
        [person_id],
    )
    return _rows(cur)


def originating_districts(
    con: duckdb.DuckDBPyConnection, kind: PersonKind, person_id: str
) -> list[tuple[str, str]]:
    """(district ID, district name) of every district that submitted data about the person,
    most recent first: where corrections must be asked for."""
    table = "enrollments" if kind == "student" else "staff_assignments"
    key = PERSON_KEY[kind]
    rows = con.execute(
        f"""
        SELECT d.district_id, d.district_name, max(t.school_year) AS latest
        FROM {table} t JOIN schools s USING (school_id) JOIN districts d USING (district_id)
        WHERE t."{key}" = ?
        GROUP BY ALL ORDER BY latest DESC, d.district_id
        """,
        [person_id],
    ).fetchall()
    return [(str(d), str(n)) for d, n, _ in rows]


def extract_frame(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    years: Sequence[str] | None = None,
) -> pl.DataFrame:
    """`columns` of a student table for a research extract, state student ID first.

    With `years`, tables with a school year keep only those years, and the students table
    keeps only students enrolled in one of them. No other filter exists: the extract is the
    approved fields of the whole population of those years.
    """
    cols = ["state_student_id", *[c for c in columns if c != "state_student_id"]]
    select = _columns(table, cols, STUDENT_TABLES)
    params: list[Any] = []
    where = ""
    if years:
        if table in YEAR_COLUMN:
            where = f'WHERE "{YEAR_COLUMN[table]}" IN (SELECT unnest(?::VARCHAR[]))'
        else:
            where = (
                "WHERE state_student_id IN (SELECT state_student_id FROM enrollments"
                " WHERE school_year IN (SELECT unnest(?::VARCHAR[])))"
            )
        params.append(list(years))
    relation = con.sql(
        f"SELECT {select} FROM {table} {where} ORDER BY {_ORDER_BY[table]}, state_student_id",
        params=params,
    )
    frame = pl.from_arrow(relation.to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def birth_date(con: duckdb.DuckDBPyConnection, student_id: str) -> dt.date | None:
    """A student's date of birth (None for an unknown student)."""
    row = con.execute(
        "SELECT birth_date FROM students WHERE state_student_id = ?", [student_id]
    ).fetchone()
    return row[0] if row else None
