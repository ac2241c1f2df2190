"""Public directory information and the data dictionary, for pages that may not touch the warehouse.

Districts, schools (the columns the dictionary marks `public_directory`), the school years and
the data dictionary with its code sets describe the data but hold no student value, so they
are passed through unprotected. Pages import these from `privacy`, never from `warehouse`.
"""

from __future__ import annotations

import os

import polars as pl

from warehouse import aggregates
from warehouse.connection import connect_readonly, resolve_db_path


def _read(db_path: str | os.PathLike[str] | None, fn, *args) -> pl.DataFrame:  # noqa: ANN001
    con = connect_readonly(resolve_db_path(db_path))
    try:
        return fn(con, *args)
    finally:
        con.close()


def list_districts(db_path: str | os.PathLike[str] | None) -> pl.DataFrame:
    """Every district's public directory columns (id, name, type, county, locale, address)."""
    return _read(db_path, aggregates.directory_rows, "districts")


def list_schools(
    db_path: str | os.PathLike[str] | None, district_id: str | None = None
) -> pl.DataFrame:
    """Every school's public directory columns, optionally within one district."""
    return _read(db_path, aggregates.directory_rows, "schools", district_id)


def school_years(db_path: str | os.PathLike[str] | None) -> list[str]:
    """The school years the warehouse holds, oldest first."""
    con = connect_readonly(resolve_db_path(db_path))
    try:
        return aggregates.school_years(con)
    finally:
        con.close()


def data_dictionary(db_path: str | os.PathLike[str] | None) -> pl.DataFrame:
    """The data dictionary: one row per field of every table (descriptions, levels, code set)."""
    return _read(db_path, aggregates.data_dictionary)


def code_sets(db_path: str | os.PathLike[str] | None) -> pl.DataFrame:
    """Every code set: code_set, code, label, ordinal, description."""
    return _read(db_path, aggregates.code_sets)
