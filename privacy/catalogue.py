"""The public release catalogue: every table the public dashboard and the open-data export show.

The catalogue is the same every year; `public_catalogue(year)` fills the year into each request.
All tables of one year are protected together as one cell system (see `privacy.release`), so
the school total that heads a school's race, gender, grade and program tables is one cell.
Assessment subgroup tables stop at district level: school x subgroup x subject x level is where
nearly every cell is small, and the dashboard shows it from the district tables instead. The
district subgroup tables carry proficiency only (proficient and tested, see
`TableRequest.proficiency_only`): at scale 1, 30% of their level 1-4 cells are below ten, and
publishing them hid nearly every cell of those tables as small or as a complement.
"""

from __future__ import annotations

from dataclasses import dataclass

from privacy.requests import GEOGRAPHIES, TableRequest
from privacy.tables import table_title
from warehouse.aggregates import PROGRAM_FLAGS

SUBGROUPS: tuple[str, ...] = (
    "race_ethnicity",
    "gender",
    "economically_disadvantaged",
    "english_learner",
    "disability",
)
ASSESSMENT_SUBGROUP_GEOGRAPHIES: tuple[str, ...] = ("state", "district")


@dataclass(frozen=True)
class CatalogueEntry:
    """One public table: a stable name (file name of its CSV), a title and its request."""

    name: str
    title: str
    request: TableRequest


def _entry(
    measure: str,
    year: str,
    geography: str,
    dims: tuple[str, ...] = (),
    *,
    proficiency_only: bool = False,
) -> CatalogueEntry:
    name = "_".join([measure, geography, *dims])
    request = TableRequest(measure, year, geography, dims, proficiency_only=proficiency_only)
    return CatalogueEntry(name, table_title(request).rsplit(", ", 1)[0], request)


def public_catalogue(school_year: str = "2024-25") -> list[CatalogueEntry]:
    """Every public table for `school_year` (names and titles do not depend on the year)."""
    out: list[CatalogueEntry] = []
    for geo in GEOGRAPHIES:
        for dim in ("grade", "race_ethnicity", "gender"):
            out.append(_entry("enrollment", school_year, geo, (dim,)))
        for flag in PROGRAM_FLAGS:
            out.append(_entry("programs", school_year, geo, (flag,)))
        out.append(_entry("assessment", school_year, geo))
        if geo in ASSESSMENT_SUBGROUP_GEOGRAPHIES:
            for dim in SUBGROUPS:
                out.append(
                    _entry("assessment", school_year, geo, (dim,), proficiency_only=geo != "state")
                )
        out.append(_entry("graduation", school_year, geo))
        for dim in SUBGROUPS:
            out.append(_entry("graduation", school_year, geo, (dim,)))
        out.append(_entry("staff", school_year, geo, ("role",)))
    return out


def catalogue_entry(name: str, school_year: str = "2024-25") -> CatalogueEntry:
    """The catalogue entry called `name` (ValueError listing the names if unknown)."""
    for entry in public_catalogue(school_year):
        if entry.name == name:
            return entry
    raise ValueError(f"no public table named {name!r}")
