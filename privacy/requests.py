"""Table requests: what a page, an export or a staff member asks the privacy layer to count.

A request names a measure, a school year, a geography level, the dimensions to cross and the
filters that restrict it. It carries no values, only what to count; the privacy layer decides
what of the answer may be shown. Requests are validated here with one-line ValueErrors so a bad
request never reaches the warehouse.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache

from warehouse.aggregates import PROGRAM_FLAGS
from warehouse.dictionary import load_dictionary

MEASURES: tuple[str, ...] = ("enrollment", "assessment", "graduation", "programs", "staff")
GEOGRAPHIES: tuple[str, ...] = ("state", "district", "school")
ALL = "All"
PROFICIENT = "P34"
# levels 1 and 2; only in proficiency tables, where All = NOT_PROFICIENT + PROFICIENT
NOT_PROFICIENT = "P12"
FLAG_CODES: tuple[tuple[str, str], ...] = (("true", "Yes"), ("false", "No"))
GRADUATED = "REGULAR_DIPLOMA"
# Published graduation outcomes: graduates and everyone else in the cohort. The finer outcomes
# (still enrolled, other completer, dropped out) are small in nearly every school and group;
# publishing them would hide most of each table.
OUTCOME_CODES: tuple[tuple[str, str], ...] = (
    (GRADUATED, "Graduated with a regular diploma within four years"),
    (
        "NOT_GRADUATED",
        "Did not graduate within four years (still enrolled, other completer or dropped out)",
    ),
)

_STUDENT_DIMS = ("grade", "race_ethnicity", "gender", *PROGRAM_FLAGS)
VALID_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "enrollment": _STUDENT_DIMS,
    "programs": _STUDENT_DIMS,
    "assessment": (*_STUDENT_DIMS, "subject", "performance_level"),
    "graduation": ("race_ethnicity", "gender", *PROGRAM_FLAGS, "outcome"),
    "staff": ("role", "assignment_subject"),
}
# The dimension every table of the measure always carries, and whose "All" is the rate's
# denominator (tested students, the cohort).
RATE_DIMENSION: dict[str, str] = {"assessment": "performance_level", "graduation": "outcome"}
# Dimensions without an "All" margin: a sum over subjects counts tests, not students.
NO_MARGIN: frozenset[str] = frozenset({"subject"})

_CODE_SET_OF = {
    "grade": "grade",
    "race_ethnicity": "race_ethnicity",
    "gender": "gender",
    "subject": "subject",
    "performance_level": "performance_level",
    "role": "staff_role",
    "assignment_subject": "assignment_subject",
}
_YEAR = re.compile(r"^(\d{4})-(\d{2})$")


@cache
def dimension_codes(dimension: str) -> tuple[tuple[str, str], ...]:
    """(code, label) pairs of a dimension, in display order (program flags: true/false)."""
    if dimension in PROGRAM_FLAGS:
        return FLAG_CODES
    if dimension == "outcome":
        return OUTCOME_CODES
    try:
        return load_dictionary().code_sets[_CODE_SET_OF[dimension]].codes
    except KeyError:
        raise ValueError(f"unknown dimension {dimension!r}") from None


def code_label(dimension: str, code: str) -> str:
    """Human label of a code (the derived proficient row and "All" included)."""
    if code == ALL:
        return ALL
    if dimension == "performance_level" and code == PROFICIENT:
        return "Proficient (levels 3 and 4)"
    if dimension == "performance_level" and code == NOT_PROFICIENT:
        return "Not proficient (levels 1 and 2)"
    return dict(dimension_codes(dimension)).get(code, code)


@dataclass(frozen=True)
class TableRequest:
    """What to count. Nothing here is secret: requests are stored in the release registry.

    - `measure`: enrollment, assessment, graduation, programs (participation rates) or staff.
    - `school_year`: 'YYYY-YY'; for graduation, the year the cohort was due to graduate.
    - `geography`: state, district or school rows.
    - `dimensions`: columns to cross; every margin ("All") is part of the table. Assessment
      tables always carry subject and performance level, graduation tables the outcome.
    - `filters`: (name, code) pairs that fix a dimension, a district_id or a school_id.
    - `proficiency_only`: assessment only; instead of the four performance levels, the rows
      not proficient (levels 1 and 2), proficient (3 and 4) and the number tested, which is
      their sum. Levels 1 to 4 of small groups are mostly below ten; the two halves of the
      same groups mostly are not, so far fewer cells are hidden.
    """

    measure: str
    school_year: str
    geography: str = "state"
    dimensions: tuple[str, ...] = ()
    filters: tuple[tuple[str, str], ...] = ()
    proficiency_only: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "dimensions", tuple(self.dimensions))
        object.__setattr__(self, "filters", tuple(tuple(f) for f in self.filters))
        validate_shape(self)

    @property
    def table_dimensions(self) -> tuple[str, ...]:
        """The dimension columns of the table: the requested ones plus the measure's implicit."""
        dims = list(self.dimensions)
        fixed = {name for name, _ in self.filters}
        if self.measure == "assessment" and "subject" not in dims and "subject" not in fixed:
            dims.append("subject")
        rate_dim = RATE_DIMENSION.get(self.measure)
        if rate_dim and rate_dim not in dims:
            dims.append(rate_dim)
        return tuple(dims)

    @property
    def fixed_dimensions(self) -> tuple[tuple[str, str], ...]:
        """Filters on dimensions (not on geography), sorted by name."""
        return tuple(
            sorted((n, v) for n, v in self.filters if n not in ("district_id", "school_id"))
        )

    def filter_value(self, name: str) -> str | None:
        for n, v in self.filters:
            if n == name:
                return v
        return None

    def to_json(self) -> str:
        """Canonical JSON (the registry stores this; equal requests give equal text)."""
        raw = {
            "measure": self.measure,
            "school_year": self.school_year,
            "geography": self.geography,
            "dimensions": list(self.dimensions),
            "filters": sorted([list(f) for f in self.filters]),
        }
        if self.proficiency_only:  # absent when false: older stored requests stay equal
            raw["proficiency_only"] = True
        return json.dumps(raw, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TableRequest:
        raw = json.loads(text)
        return cls(
            measure=raw["measure"],
            school_year=raw["school_year"],
            geography=raw["geography"],
            dimensions=tuple(raw["dimensions"]),
            filters=tuple(tuple(f) for f in raw["filters"]),
            proficiency_only=raw.get("proficiency_only", False),
        )


def validate_shape(request: TableRequest) -> None:
    """Check everything that needs no warehouse: measure, year format, dimensions, filter codes."""
    r = request
    if r.measure not in MEASURES:
        raise ValueError(f"unknown measure {r.measure!r}; choose one of {', '.join(MEASURES)}")
    m = _YEAR.match(r.school_year) if isinstance(r.school_year, str) else None
    if not m or (int(m.group(1)) + 1) % 100 != int(m.group(2)):
        raise ValueError(f"school year {r.school_year!r} is not of the form YYYY-YY, e.g. 2024-25")
    if r.geography not in GEOGRAPHIES:
        raise ValueError(f"unknown geography {r.geography!r}; choose state, district or school")
    if not isinstance(r.proficiency_only, bool):
        raise ValueError(f"proficiency_only is true or false, not {r.proficiency_only!r}")
    if r.proficiency_only and r.measure != "assessment":
        raise ValueError("proficiency_only applies to assessment tables only")
    valid = VALID_DIMENSIONS[r.measure]
    if len(set(r.dimensions)) != len(r.dimensions):
        raise ValueError(f"a dimension is listed twice in {r.dimensions}")
    for d in r.dimensions:
        if d not in valid:
            raise ValueError(
                f"dimension {d!r} is not valid for {r.measure}; valid: {', '.join(valid)}"
            )
    if r.measure == "programs" and not any(d in PROGRAM_FLAGS for d in r.dimensions):
        raise ValueError("a programs table needs a program flag dimension, e.g. english_learner")
    if r.measure != "staff" and len(r.dimensions) > 3:
        raise ValueError("a student table may cross at most three dimensions")
    seen: set[str] = set()
    for item in r.filters:
        if len(item) != 2 or not all(isinstance(x, str) for x in item):
            raise ValueError(f"a filter is a (name, code) pair of strings, not {item!r}")
        name, value = item
        if name in seen:
            raise ValueError(f"filter {name!r} is given twice")
        seen.add(name)
        if name == "district_id":
            if r.geography == "state":
                raise ValueError(
                    "a state table cannot be filtered by district; use geography district"
                )
        elif name == "school_id":
            if r.geography != "school":
                raise ValueError("only a school table can be filtered by school_id")
        elif name in valid:
            if name in r.dimensions:
                raise ValueError(f"{name!r} is both a dimension and a filter")
            if name == RATE_DIMENSION.get(r.measure):
                raise ValueError(
                    f"{name!r} cannot be filtered: every row shows its share of the group"
                )
            codes = [c for c, _ in dimension_codes(name)]
            if value not in codes:
                raise ValueError(f"{value!r} is not a code of {name}; valid: {', '.join(codes)}")
        else:
            raise ValueError(f"cannot filter {r.measure} by {name!r}")
