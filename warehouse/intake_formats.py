"""The CSV formats districts submit, one per file kind, derived from the data dictionary.

A submission column either is a warehouse field (its type, format and code set come from
`data_dictionary.toml`, so the intake format and the dictionary cannot drift apart) or is one of
the few intake-only columns: the district's own local student/staff number, which links rows of
one submission together (a new student has no state ID until reconciliation gives one) and is
never stored in the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from warehouse.dictionary import Dictionary, load_dictionary

KINDS = (
    "students",
    "enrollments",
    "program_participation",
    "assessments",
    "staff",
    "staff_assignments",
)

# Kinds that carry a school_year column and are replaced per (district, school year).
PERIOD_KINDS = frozenset(
    {"enrollments", "program_participation", "assessments", "staff_assignments"}
)

LOCAL_ID_FORMAT = "1-20 letters, digits or '-', the district's own number for the person"


@dataclass(frozen=True)
class IntakeColumn:
    """One column of a submission file.

    `required`: a value must be present. `table`/`field` name the dictionary entry that defines
    type, format and code set; intake-only columns (local IDs) have `table=None`.
    """

    name: str
    required: bool
    type: str
    format: str
    code_set: str | None = None
    table: str | None = None
    description: str = ""


@dataclass(frozen=True)
class IntakeFormat:
    """The expected columns of one file kind, and which warehouse table it loads into."""

    kind: str
    table: str
    columns: tuple[IntakeColumn, ...]
    # Columns of which at least one must be filled on every row (e.g. state or local ID).
    one_of: tuple[str, ...] = ()

    def column(self, name: str) -> IntakeColumn:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.kind} files have no column {name!r}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _from_dictionary(d: Dictionary, table: str, name: str, required: bool) -> IntakeColumn:
    f = d.field(table, name)
    return IntakeColumn(
        name=name,
        required=required,
        type=f.type,
        format=f.format,
        code_set=f.code_set,
        table=table,
        description=f.description,
    )


def _local(name: str, what: str) -> IntakeColumn:
    return IntakeColumn(
        name=name,
        required=False,
        type="VARCHAR",
        format=LOCAL_ID_FORMAT,
        description=f"The district's own {what} number; links rows of one submission",
    )


# (column, required) per kind; order is the order of the CSV template.
_SPEC: dict[str, tuple[str, tuple[tuple[str, bool], ...]]] = {
    "students": (
        "students",
        (
            ("local_student_id", True),
            ("state_student_id", False),
            ("first_name", True),
            ("middle_name", False),
            ("last_name", True),
            ("birth_date", True),
            ("gender", True),
            ("race_ethnicity", True),
            ("guardian_name", False),
            ("ssn", False),
            ("mainecare_id", False),
        ),
    ),
    "enrollments": (
        "enrollments",
        (
            ("school_year", True),
            ("state_student_id", False),
            ("local_student_id", False),
            ("school_id", True),
            ("grade", True),
            ("entry_date", True),
            ("exit_date", False),
            ("exit_code", False),
        ),
    ),
    "program_participation": (
        "program_participation",
        (
            ("school_year", True),
            ("state_student_id", False),
            ("local_student_id", False),
            ("economically_disadvantaged", True),
            ("english_learner", True),
            ("disability", True),
            ("migrant", True),
            ("homeless", True),
            ("title1", True),
            ("cte", True),
        ),
    ),
    "assessments": (
        "assessments",
        (
            ("school_year", True),
            ("state_student_id", False),
            ("local_student_id", False),
            ("school_id", True),
            ("grade", True),
            ("subject", True),
            ("scale_score", True),
            ("performance_level", True),
        ),
    ),
    "staff": (
        "staff",
        (
            ("local_staff_id", True),
            ("state_staff_id", False),
            ("first_name", True),
            ("last_name", True),
            ("birth_date", True),
            ("ssn", True),
            ("highest_degree", True),
            ("years_experience", True),
        ),
    ),
    "staff_assignments": (
        "staff_assignments",
        (
            ("school_year", True),
            ("state_staff_id", False),
            ("local_staff_id", False),
            ("school_id", True),
            ("role", True),
            ("subject", True),
            ("fte", True),
        ),
    ),
}

_ONE_OF = {
    "enrollments": ("state_student_id", "local_student_id"),
    "program_participation": ("state_student_id", "local_student_id"),
    "assessments": ("state_student_id", "local_student_id"),
    "staff_assignments": ("state_staff_id", "local_staff_id"),
}


@cache
def intake_format(kind: str) -> IntakeFormat:
    """The submission format of file kind `kind` (one of `KINDS`)."""
    if kind not in _SPEC:
        raise KeyError(f"unknown file kind {kind!r}; use one of {', '.join(KINDS)}")
    d = load_dictionary()
    table, spec = _SPEC[kind]
    cols: list[IntakeColumn] = []
    for name, required in spec:
        if name == "local_student_id":
            col = _local(name, "student")
        elif name == "local_staff_id":
            col = _local(name, "staff")
        else:
            col = _from_dictionary(d, table, name, required)
        if col.required != required:
            col = IntakeColumn(**{**col.__dict__, "required": required})
        cols.append(col)
    return IntakeFormat(kind, table, tuple(cols), _ONE_OF.get(kind, ()))


def all_formats() -> dict[str, IntakeFormat]:
    """Every file kind's format, in `KINDS` order."""
    return {k: intake_format(k) for k in KINDS}


def guess_kind(header: list[str]) -> str | None:
    """The kind whose required columns all appear in `header` and that matches it best."""
    present = {h.strip().lower() for h in header}
    best: tuple[int, str] | None = None
    for kind in KINDS:
        fmt = intake_format(kind)
        required = {c.name for c in fmt.columns if c.required}
        if not required <= present:
            continue
        score = len(present & set(fmt.names)) - len(present - set(fmt.names))
        if best is None or score > best[0]:
            best = (score, kind)
    return best[1] if best else None


def template_csv(kind: str) -> str:
    """An empty CSV template (the header row) for file kind `kind`."""
    return ",".join(intake_format(kind).names) + "\n"
