"""Build a complete warehouse file from the synthetic generator, swapped in atomically.

A build writes a new DuckDB file beside the target and renames it over the old one only after
every table is loaded and checked, so a failed or interrupted build never leaves a half-built
warehouse where the app reads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from warehouse.connection import rewrite_warehouse
from warehouse.dictionary import load_dictionary
from warehouse.synthetic import SyntheticConfig, generate

SCHEMA_PATH = Path(__file__).with_name("schema.sql")
SCHEMA_VERSION = 1

# (child table, child column, parent table, parent column)
REFERENCES: tuple[tuple[str, str, str, str], ...] = (
    ("schools", "district_id", "districts", "district_id"),
    ("administrators", "district_id", "districts", "district_id"),
    ("administrators", "school_id", "schools", "school_id"),
    ("enrollments", "state_student_id", "students", "state_student_id"),
    ("enrollments", "school_id", "schools", "school_id"),
    ("enrollments", "school_year", "school_years", "school_year"),
    ("program_participation", "state_student_id", "students", "state_student_id"),
    ("assessments", "state_student_id", "students", "state_student_id"),
    ("assessments", "school_id", "schools", "school_id"),
    ("graduation_cohorts", "state_student_id", "students", "state_student_id"),
    ("graduation_cohorts", "school_id", "schools", "school_id"),
    ("staff_certifications", "state_staff_id", "staff", "state_staff_id"),
    ("staff_assignments", "state_staff_id", "staff", "state_staff_id"),
    ("staff_assignments", "school_id", "schools", "school_id"),
)


class BuildError(RuntimeError):
    """The generated data failed a consistency check; nothing was swapped in."""


@dataclass(frozen=True)
class BuildSummary:
    path: Path
    build_id: str
    row_counts: dict[str, int]


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every warehouse table and load the data dictionary and code sets."""
    con.execute(SCHEMA_PATH.read_text())
    dictionary = load_dictionary()
    _insert(con, "data_dictionary", dictionary.to_frame())
    _insert(con, "code_sets", dictionary.code_sets_frame())


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    cols = ", ".join(f'"{c}"' for c in frame.columns)
    con.register("_incoming", frame.to_arrow())
    try:
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _incoming")
    finally:
        con.unregister("_incoming")


def check_references(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every foreign-key-like reference that points nowhere, as readable messages."""
    problems = []
    for child, col, parent, pcol in REFERENCES:
        (n,) = con.execute(
            f"SELECT count(*) FROM {child} c WHERE c.{col} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {parent} p WHERE p.{pcol} = c.{col})"
        ).fetchone()
        if n:
            problems.append(f"{n} rows of {child}.{col} reference no {parent}.{pcol}")
    return problems


def build_warehouse(
    db_path: str | os.PathLike[str], *, scale: float = 1.0, seed: int = 20261128
) -> BuildSummary:
    """Generate synthetic Maine at `scale` with `seed` and swap it in at `db_path`."""
    cfg = SyntheticConfig(scale=scale, seed=seed)
    tables = generate(cfg)
    build_id = hashlib.sha256(
        f"synthetic:{scale!r}:{seed}:{SCHEMA_VERSION}:{dt.datetime.now(dt.UTC).isoformat()}".encode()
    ).hexdigest()[:32]
    counts: dict[str, int] = {}
    with rewrite_warehouse(db_path, copy_existing=False) as con:
        create_schema(con)
        for name, frame in tables.items():
            _insert(con, name, frame)
            counts[name] = frame.height
        con.execute(
            "INSERT INTO build_info VALUES (?, ?, ?, ?, ?, ?)",
            [
                build_id,
                dt.datetime.now(dt.UTC).replace(tzinfo=None),
                "synthetic",
                scale,
                seed,
                SCHEMA_VERSION,
            ],
        )
        problems = check_references(con)
        if problems:
            raise BuildError("; ".join(problems))
    return BuildSummary(Path(db_path), build_id, counts)
