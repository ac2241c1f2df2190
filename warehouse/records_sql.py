"""Parameterized DuckDB SQL that reads individual student records for the privacy layer.

This module knows nothing of users or access levels: callers pass explicit filters (a student
ID, district IDs, school IDs, a list of columns) and the privacy layer decides which filters and
columns a user gets. Column and table names are checked against the data dictionary before they
are quoted into SQL; every value is a bound parameter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import duckdb

from warehouse.dictionary import load_dictionary

STUDENT_RECORD_TABLES: tuple[str, ...] = (
    "students",
    "enrollments",
    "program_participation",
    "assessments",
    "graduation_cohorts",
)

# Newest first within a student's record.
_ORDER_BY = {
    "students": "",
    "enrollments": "ORDER BY school_year DESC, entry_date DESC, school_id",
    "program_participation": "ORDER BY school_year DESC",
    "assessments": "ORDER BY school_year DESC, subject",
    "graduation_cohorts": "ORDER BY cohort_year DESC",
}


def _checked_columns(table: str, columns: Sequence[str]) -> str:
    if table not in STUDENT_RECORD_TABLES:
        raise ValueError(f"{table!r} is not a student record table")
    known = {f.name for f in load_dictionary().table(table).fields}
    unknown = [c for c in columns if c not in known]
    if unknown or not columns:
        raise ValueError(f"unknown or missing columns for {table}: {unknown}")
    return ", ".join(f'"{c}"' for c in columns)


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description or ()]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def current_school_year(con: duckdb.DuckDBPyConnection) -> str:
    """The latest school year with enrollments ("own students" are enrolled in it)."""
    row = con.execute("SELECT max(school_year) FROM enrollments").fetchone()
    if row is None or row[0] is None:
        raise LookupError("the warehouse has no enrollments")
    return str(row[0])


def student_exists(con: duckdb.DuckDBPyConnection, student_id: str) -> bool:
    return (
        con.execute("SELECT 1 FROM students WHERE state_student_id = ?", [student_id]).fetchone()
        is not None
    )


def student_places(
    con: duckdb.DuckDBPyConnection, student_id: str, school_year: str
) -> list[tuple[str, str]]:
    """(district_id, school_id) of each enrollment of the student in `school_year`."""
    return [
        (str(d), str(s))
        for d, s in con.execute(
            """
            SELECT sc.district_id, e.school_id
            FROM enrollments e JOIN schools sc USING (school_id)
            WHERE e.state_student_id = ? AND e.school_year = ?
            ORDER BY e.entry_date, e.school_id
            """,
            [student_id, school_year],
        ).fetchall()
    ]


def latest_districts(con: duckdb.DuckDBPyConnection, student_ids: Sequence[str]) -> dict[str, str]:
    """The district of each student's most recent enrollment (students without one omitted)."""
    if not student_ids:
        return {}
    rows = con.execute(
        """
        SELECT e.state_student_id, sc.district_id
        FROM enrollments e JOIN schools sc USING (school_id)
        WHERE e.state_student_id IN (SELECT unnest(?::VARCHAR[]))
        QUALIFY row_number() OVER (
            PARTITION BY e.state_student_id ORDER BY e.school_year DESC, e.entry_date DESC) = 1
        """,
        [list(student_ids)],
    ).fetchall()
    return {str(s): str(d) for s, d in rows}


def fetch_student_rows(
    con: duckdb.DuckDBPyConnection, table: str, student_id: str, columns: Sequence[str]
) -> list[dict[str, Any]]:
    """The rows of `table` for one student, only `columns` (checked against the dictionary)."""
    cols = _checked_columns(table, columns)
    cur = con.execute(
        f"SELECT {cols} FROM {table} WHERE state_student_id = ? {_ORDER_BY[table]}",
        [student_id],
    )
    return _rows(cur)


def list_enrolled_students(
    con: duckdb.DuckDBPyConnection,
    *,
    school_year: str,
    district_ids: Sequence[str] | None = None,
    school_ids: Sequence[str] | None = None,
    statewide: bool = False,
    name_contains: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Students enrolled in `school_year` in the given districts or schools (or statewide, only
    when `statewide=True`): ID, first and last name, grade, school. No filter means no rows."""
    clauses = ["e.school_year = ?"]
    params: list[Any] = [school_year]
    if not statewide:
        if district_ids is None and school_ids is None:
            return []
        if district_ids is not None:
            clauses.append("sc.district_id IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(district_ids))
        if school_ids is not None:
            clauses.append("e.school_id IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(school_ids))
    if name_contains:
        clauses.append(
            "(strip_accents(lower(st.last_name || ' ' || st.first_name)) LIKE '%' || "
            "strip_accents(lower(?)) || '%' OR st.state_student_id = ?)"
        )
        params += [name_contains.strip(), name_contains.strip()]
    cur = con.execute(
        f"""
        SELECT e.state_student_id, st.first_name, st.last_name, e.grade, e.school_id
        FROM enrollments e
        JOIN schools sc USING (school_id)
        JOIN students st ON st.state_student_id = e.state_student_id
        WHERE {" AND ".join(clauses)}
        QUALIFY row_number() OVER (PARTITION BY e.state_student_id ORDER BY e.entry_date DESC) = 1
        ORDER BY st.last_name, st.first_name, e.state_student_id
        LIMIT ?
        """,
        [*params, int(limit)],
    )
    return _rows(cur)


def locate_students(
    con: duckdb.DuckDBPyConnection,
    *,
    first_name: str,
    last_name: str,
    birth_date: dt.date,
    former_district_id: str | None = None,
    limit: int = 10,
) -> list[str]:
    """IDs of students whose first and last name (case- and accent-insensitive) and birth date
    match exactly, optionally only those ever enrolled in `former_district_id`."""
    clauses = [
        "strip_accents(lower(trim(st.first_name))) = strip_accents(lower(trim(?)))",
        "strip_accents(lower(trim(st.last_name))) = strip_accents(lower(trim(?)))",
        "st.birth_date = ?",
    ]
    params: list[Any] = [first_name, last_name, birth_date]
    if former_district_id:
        clauses.append(
            "EXISTS (SELECT 1 FROM enrollments e JOIN schools sc USING (school_id)"
            " WHERE e.state_student_id = st.state_student_id AND sc.district_id = ?)"
        )
        params.append(former_district_id)
    rows = con.execute(
        f"SELECT st.state_student_id FROM students st WHERE {' AND '.join(clauses)}"
        " ORDER BY st.state_student_id LIMIT ?",
        [*params, int(limit)],
    ).fetchall()
    return [str(r[0]) for r in rows]


def district_exists(con: duckdb.DuckDBPyConnection, district_id: str) -> bool:
    return (
        con.execute("SELECT 1 FROM districts WHERE district_id = ?", [district_id]).fetchone()
        is not None
    )


def school_districts(con: duckdb.DuckDBPyConnection, school_ids: Sequence[str]) -> dict[str, str]:
    """The district of each known school in `school_ids` (unknown schools are omitted)."""
    if not school_ids:
        return {}
    rows = con.execute(
        "SELECT school_id, district_id FROM schools WHERE school_id IN (SELECT unnest(?::VARCHAR[]))",
        [list(school_ids)],
    ).fetchall()
    return {str(s): str(d) for s, d in rows}


def busiest_school(con: duckdb.DuckDBPyConnection) -> tuple[str, str] | None:
    """(district_id, school_id) of the school with the most enrollments in the latest year
    (a stable place for demo accounts)."""
    row = con.execute(
        """
        SELECT sc.district_id, e.school_id
        FROM enrollments e JOIN schools sc USING (school_id)
        WHERE e.school_year = (SELECT max(school_year) FROM enrollments)
        GROUP BY ALL
        ORDER BY count(*) DESC, e.school_id
        LIMIT 1
        """
    ).fetchone()
    return (str(row[0]), str(row[1])) if row else None
