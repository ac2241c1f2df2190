"""The data dictionary: every field of every warehouse table, read from `data_dictionary.toml`.

This is the single source the schema test, the access rules (field levels) and the dictionary
page read. Nothing here knows about users; it only describes the data.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl

DICTIONARY_PATH = Path(__file__).with_name("data_dictionary.toml")

SOURCES = frozenset({"district_submission", "mdoe_assigned", "derived", "system"})
TABLE_KINDS = frozenset({"directory", "student", "staff", "metadata"})


@dataclass(frozen=True)
class CodeSet:
    """A named list of allowed codes with their labels."""

    name: str
    description: str
    codes: tuple[tuple[str, str], ...]

    def labels(self) -> dict[str, str]:
        return dict(self.codes)


@dataclass(frozen=True)
class Field:
    """One column of one table, with the policy's access level (1 = most restricted)."""

    table: str
    name: str
    type: str
    description: str
    periodicity: str
    source: str
    pii: bool
    access_level: int
    format: str = ""
    code_set: str | None = None
    public_directory: bool = False
    reporting: bool = False


@dataclass(frozen=True)
class Table:
    """A warehouse table and its fields, in column order."""

    name: str
    kind: str
    description: str
    fields: tuple[Field, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The table's column names, in order."""
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")


@dataclass(frozen=True)
class Dictionary:
    """The whole data dictionary: tables and code sets."""

    tables: tuple[Table, ...]
    code_sets: dict[str, CodeSet]

    def table(self, name: str) -> Table:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(f"the data dictionary has no table {name!r}")

    def field(self, table: str, name: str) -> Field:
        return self.table(table).field(name)

    def fields(self) -> list[Field]:
        return [f for t in self.tables for f in t.fields]

    def to_frame(self) -> pl.DataFrame:
        """The dictionary as the `data_dictionary` warehouse table."""
        return pl.DataFrame(
            [
                {
                    "table_name": f.table,
                    "field_name": f.name,
                    "ordinal": i,
                    "description": f.description,
                    "data_type": f.type,
                    "format": f.format,
                    "code_set": f.code_set,
                    "periodicity": f.periodicity,
                    "source": f.source,
                    "pii": f.pii,
                    "access_level": f.access_level,
                    "public_directory": f.public_directory,
                    "reporting": f.reporting,
                }
                for t in self.tables
                for i, f in enumerate(t.fields)
            ],
            schema={
                "table_name": pl.String,
                "field_name": pl.String,
                "ordinal": pl.Int32,
                "description": pl.String,
                "data_type": pl.String,
                "format": pl.String,
                "code_set": pl.String,
                "periodicity": pl.String,
                "source": pl.String,
                "pii": pl.Boolean,
                "access_level": pl.Int8,
                "public_directory": pl.Boolean,
                "reporting": pl.Boolean,
            },
        )

    def code_sets_frame(self) -> pl.DataFrame:
        """The code sets as the `code_sets` warehouse table: one row per code."""
        rows = [
            {
                "code_set": cs.name,
                "code": code,
                "label": label,
                "ordinal": i,
                "description": cs.description,
            }
            for cs in self.code_sets.values()
            for i, (code, label) in enumerate(cs.codes)
        ]
        return pl.DataFrame(
            rows,
            schema={
                "code_set": pl.String,
                "code": pl.String,
                "label": pl.String,
                "ordinal": pl.Int32,
                "description": pl.String,
            },
        )


class DictionaryError(ValueError):
    """The dictionary file is malformed."""


def parse_dictionary(raw: dict) -> Dictionary:
    """Validate and build a Dictionary from the parsed TOML document."""
    code_sets = {
        name: CodeSet(name, spec["description"], tuple((c, lbl) for c, lbl in spec["codes"]))
        for name, spec in raw.get("code_sets", {}).items()
    }
    tables: list[Table] = []
    seen_tables: set[str] = set()
    for spec in raw.get("tables", []):
        tname = spec["name"]
        if tname in seen_tables:
            raise DictionaryError(f"table {tname!r} is listed twice")
        seen_tables.add(tname)
        if spec["kind"] not in TABLE_KINDS:
            raise DictionaryError(f"table {tname!r} has unknown kind {spec['kind']!r}")
        fields: list[Field] = []
        seen: set[str] = set()
        for fs in spec["fields"]:
            name = fs["name"]
            where = f"{tname}.{name}"
            if name in seen:
                raise DictionaryError(f"field {where} is listed twice")
            seen.add(name)
            level = fs["access_level"]
            if level not in (1, 2, 3, 4):
                raise DictionaryError(f"field {where} has access level {level}; use 1-4")
            if fs["source"] not in SOURCES:
                raise DictionaryError(f"field {where} has unknown source {fs['source']!r}")
            cs = fs.get("code_set")
            if cs is not None and cs not in code_sets:
                raise DictionaryError(f"field {where} names unknown code set {cs!r}")
            if not fs.get("format") and cs is None and fs["type"] != "BOOLEAN":
                raise DictionaryError(f"field {where} needs a format or a code set")
            fields.append(
                Field(
                    table=tname,
                    name=name,
                    type=fs["type"],
                    description=fs["description"],
                    periodicity=fs["periodicity"],
                    source=fs["source"],
                    pii=bool(fs["pii"]),
                    access_level=int(level),
                    format=fs.get("format", "true / false" if fs["type"] == "BOOLEAN" else ""),
                    code_set=cs,
                    public_directory=bool(fs.get("public_directory", False)),
                    reporting=bool(fs.get("reporting", False)),
                )
            )
        tables.append(Table(tname, spec["kind"], spec["description"], tuple(fields)))
    return Dictionary(tuple(tables), code_sets)


@cache
def load_dictionary(path: Path = DICTIONARY_PATH) -> Dictionary:
    """Read and validate the data dictionary file (cached: it is read once per process)."""
    with open(path, "rb") as fh:
        return parse_dictionary(tomllib.load(fh))
