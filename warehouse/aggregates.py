"""Parameterized DuckDB SQL that counts students and staff: the raw material of every table.

This module knows nothing of suppression or users: it returns exact counts, which only the
privacy layer may read. Every identifier in the SQL comes from the fixed mappings below, never
from caller text; every value (school year, filter code) is a bound parameter.

Counting rules (documented for the data dictionary page and the export):
- enrollment: each student is counted once per school year, at the school of their first
  enrollment that year (earliest entry date, then lowest school id), in that enrollment's grade.
- program flags come from `program_participation` for the same school year; a student without
  a participation row counts as not participating, so the (flag true, flag false) pair always
  sums to the total.
- assessment: one row per student and subject tested; the tested count is the sum of the four
  performance levels.
- graduation: the four-year cohort whose `cohort_year` is the school year, by outcome.
- staff: distinct staff members (headcount) and the sum of FTE of their assignments.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import polars as pl

PROGRAM_FLAGS: tuple[str, ...] = (
    "economically_disadvantaged",
    "english_learner",
    "disability",
    "migrant",
    "homeless",
    "title1",
    "cte",
)

_FLAG_SELECT = ",\n    ".join(
    f"CASE WHEN coalesce(p.{f}, false) THEN 'true' ELSE 'false' END AS {f}" for f in PROGRAM_FLAGS
)

# One SELECT per student population: school, district and every dimension the population can be
# cut by, counted at the finest grain. The privacy layer rolls these up into margins.
_FACT_SQL: dict[str, str] = {
    "enrollment": f"""
WITH first_enrollment AS (
    SELECT school_year, state_student_id, school_id, grade
    FROM enrollments
    WHERE school_year = $year
    QUALIFY row_number() OVER (
        PARTITION BY state_student_id ORDER BY entry_date, school_id) = 1
)
SELECT e.school_id, sc.district_id, e.grade, st.race_ethnicity, st.gender,
    {_FLAG_SELECT},
    count(*)::BIGINT AS n
FROM first_enrollment e
JOIN students st ON st.state_student_id = e.state_student_id
JOIN schools sc ON sc.school_id = e.school_id
LEFT JOIN program_participation p
    ON p.school_year = e.school_year AND p.state_student_id = e.state_student_id
GROUP BY ALL
""",
    "assessment": f"""
SELECT a.school_id, sc.district_id, a.grade, a.subject, a.performance_level,
    st.race_ethnicity, st.gender,
    {_FLAG_SELECT},
    count(*)::BIGINT AS n
FROM assessments a
JOIN students st ON st.state_student_id = a.state_student_id
JOIN schools sc ON sc.school_id = a.school_id
LEFT JOIN program_participation p
    ON p.school_year = a.school_year AND p.state_student_id = a.state_student_id
WHERE a.school_year = $year
GROUP BY ALL
""",
    "graduation": f"""
SELECT g.school_id, sc.district_id, g.outcome, st.race_ethnicity, st.gender,
    {_FLAG_SELECT},
    count(*)::BIGINT AS n
FROM graduation_cohorts g
JOIN students st ON st.state_student_id = g.state_student_id
JOIN schools sc ON sc.school_id = g.school_id
LEFT JOIN program_participation p
    ON p.school_year = g.cohort_year AND p.state_student_id = g.state_student_id
WHERE g.cohort_year = $year
GROUP BY ALL
""",
}

STUDENT_POPULATIONS: tuple[str, ...] = tuple(_FACT_SQL)

# Staff dimensions: request name -> column of staff_assignments (fixed, never caller text).
_STAFF_COLUMNS: dict[str, str] = {
    "role": "a.role",
    "assignment_subject": "a.subject",
    "district_id": "sc.district_id",
    "school_id": "a.school_id",
}


def fact_counts(con: duckdb.DuckDBPyConnection, population: str, school_year: str) -> pl.DataFrame:
    """Exact counts of `population` for one school year at the finest grain (school x dims).

    Columns: school_id, district_id, the population's dimensions (codes as text; program flags
    as 'true'/'false'), and `n` (Int64). Rows with zero count are absent.
    """
    try:
        sql = _FACT_SQL[population]
    except KeyError:
        raise ValueError(f"unknown student population {population!r}") from None
    return con.sql(sql, params={"year": school_year}).pl()


def staff_counts(
    con: duckdb.DuckDBPyConnection,
    school_year: str,
    geography: str,
    dimensions: Sequence[str],
    filters: Sequence[tuple[str, str]] = (),
) -> pl.DataFrame:
    """Staff headcount and FTE for one school year, with every margin of `dimensions`.

    `geography` is state, district or school; margins carry NULL in a dimension column (the
    caller writes "All"). Headcount counts distinct staff members at each level. Staff
    assignments are open records; no SSN or name is read here.
    """
    geo_cols = {"state": [], "district": ["district_id"], "school": ["district_id", "school_id"]}
    if geography not in geo_cols:
        raise ValueError(f"unknown geography {geography!r}")
    for name in (*dimensions, *(f for f, _ in filters)):
        if name not in _STAFF_COLUMNS:
            raise ValueError(f"staff tables cannot use {name!r}")
    keys = geo_cols[geography]
    select = [f"{_STAFF_COLUMNS[k]} AS {k}" for k in (*keys, *dimensions)]
    sets = []
    for mask in range(1 << len(dimensions)):
        chosen = [d for i, d in enumerate(dimensions) if mask >> i & 1]
        sets.append("(" + ", ".join(_STAFF_COLUMNS[c] for c in (*keys, *chosen)) + ")")
    where = ["a.school_year = ?"]
    params: list[str] = [school_year]
    for name, value in filters:
        where.append(f"{_STAFF_COLUMNS[name]} = ?")
        params.append(value)
    sql = f"""
SELECT {
        ", ".join(
            [
                *select,
                "count(DISTINCT a.state_staff_id)::BIGINT AS headcount",
                "sum(a.fte)::DOUBLE AS fte",
            ]
        )
    }
FROM staff_assignments a JOIN schools sc ON sc.school_id = a.school_id
WHERE {" AND ".join(where)}
GROUP BY GROUPING SETS ({", ".join(sets)})
"""
    return con.sql(sql, params=params).pl()


def build_id(con: duckdb.DuckDBPyConnection) -> str:
    """The id of the warehouse build (releases are tied to the build they were computed from)."""
    rows = con.execute("SELECT build_id FROM build_info ORDER BY built_at DESC LIMIT 1").fetchall()
    if not rows:
        raise LookupError("the warehouse has no build_info row; rebuild it")
    return str(rows[0][0])


def school_years(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The school years the warehouse holds, oldest first."""
    return [r[0] for r in con.execute("SELECT school_year FROM school_years ORDER BY 1").fetchall()]


def public_directory_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Columns of `table` the dictionary marks as public directory information."""
    rows = con.execute(
        "SELECT field_name FROM data_dictionary WHERE table_name = ? AND public_directory "
        "ORDER BY ordinal",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


def directory_rows(
    con: duckdb.DuckDBPyConnection, table: str, district_id: str | None = None
) -> pl.DataFrame:
    """Public directory columns of `districts` or `schools`, optionally within one district."""
    if table not in ("districts", "schools"):
        raise ValueError(f"{table!r} is not a directory table")
    cols = public_directory_columns(con, table)
    if not cols:
        raise LookupError(f"the dictionary marks no public columns in {table}")
    known = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
    cols = [c for c in cols if c in known]
    order = "district_id" if table == "districts" else "district_id, school_id"
    sql = f"SELECT {', '.join(cols)} FROM {table}"
    params: list[str] = []
    if district_id is not None:
        sql += " WHERE district_id = ?"
        params.append(district_id)
    return con.sql(sql + f" ORDER BY {order}", params=params).pl()


def data_dictionary(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The data dictionary table (descriptions of every field; no data values)."""
    return con.sql("SELECT * FROM data_dictionary ORDER BY table_name, ordinal").pl()


def code_sets(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every code set: code, label, order."""
    return con.sql("SELECT * FROM code_sets ORDER BY code_set, ordinal").pl()
