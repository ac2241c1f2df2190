"""Validation of district submission files before anything is stored.

Pure functions: a file is read as a stream (size limit, strict UTF-8, SHA-256 while reading),
checked row by row against its intake format (required fields, types, code sets, dates, formats,
formula injection, duplicates inside the file) and then against reference data read from the
warehouse (the school belongs to the submitting district, referenced students and staff exist in
the submission or the roster, date of birth plausible for the grade). Every finding is a
`Problem` a district clerk can act on: row, field, value, what is wrong, how to fix it.

Values are never interpolated into SQL anywhere; a name that looks like SQL is rejected here only
because it contains characters no name has, and a value that a spreadsheet would run as a formula
is rejected because the file may be opened again by someone else.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

import polars as pl

from warehouse.dictionary import load_dictionary
from warehouse.intake_formats import KINDS, IntakeColumn, IntakeFormat, guess_kind, intake_format
from warehouse.state_ids import is_valid_staff_id, is_valid_student_id

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
MAX_PROBLEMS_PER_FILE = 1000
MAX_TEXT_LENGTH = 80

_FORMULA_START = ("=", "+", "@", "\t", "\r", "-")
_NAME_RE = re.compile(r"^[^\W\d_](?:[^\W\d_]|[ '\-.\u2019])*$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LOCAL_ID_RE = re.compile(r"^[A-Za-z0-9\-]{1,20}$")
_SSN_RE = re.compile(r"^(\d{3})-(\d{2})-(\d{4})$")
_MAINECARE_RE = re.compile(r"^[A-Z]\d{8}$")
_SCHOOL_ID_RE = re.compile(r"^\d{4}$")
_YEAR_RE = re.compile(r"^(\d{4})-(\d{2})$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
_NAME_FIELDS = {"first_name", "middle_name", "last_name", "guardian_name"}
_RANGES = {"scale_score": (300, 900), "years_experience": (0, 60)}
# Typical age on September 1 of the school year for each grade; plausible = typical -2 .. +4
# (held back, special education through age 21).
_GRADE_AGE = {"PK": 4, "K": 5, **{f"{g:02d}": g + 5 for g in range(1, 13)}}


@dataclass(frozen=True)
class Problem:
    """One finding in a submission file, worded for the district clerk who must fix it.

    `row` is the row number a spreadsheet shows (the header is row 1; 0 = the whole file).
    `value` echoes what the file holds; it is shown only to the submitting district.
    """

    row: int
    field: str
    value: str
    problem: str
    how_to_fix: str
    file: str = ""


class SubmissionRejected(ValueError):
    """A submission failed validation; nothing was stored. `problems` holds the error report."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s) found; nothing was stored")


@dataclass
class ParsedFile:
    """A submission file read into raw strings (not yet checked against its format)."""

    name: str
    kind: str | None
    sha256: str
    size_bytes: int
    header: list[str]
    rows: list[list[str]]
    problems: list[Problem] = field(default_factory=list)


@dataclass
class ValidatedFile:
    """A file that passed its row checks, with values converted to warehouse types."""

    name: str
    kind: str
    sha256: str
    size_bytes: int
    frame: pl.DataFrame


@dataclass(frozen=True)
class ReferenceData:
    """What the warehouse knows that a submission is checked against.

    `student_birth_dates` maps every current state student ID to its date of birth;
    `student_aliases` maps retired (merged) IDs to the ID kept. The same for staff.
    """

    district_id: str
    school_year: str
    district_school_ids: frozenset[str]
    school_district: Mapping[str, str]
    student_birth_dates: Mapping[str, date]
    student_aliases: Mapping[str, str]
    staff_ids: frozenset[str]
    staff_aliases: Mapping[str, str]


# ---------------------------------------------------------------------------------------------
# Reading


class _TooLarge(Exception):
    pass


class _HashingReader(io.RawIOBase):
    """Reads a binary stream, hashing and counting bytes; stops at `limit` bytes."""

    def __init__(self, raw: IO[bytes], limit: int):
        self._raw = raw
        self._limit = limit
        self.count = 0
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._raw.read(min(len(buffer), 1 << 16))
        if not chunk:
            return 0
        self.count += len(chunk)
        if self.count > self._limit:
            raise _TooLarge
        self.sha.update(chunk)
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _size_text(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def kind_from_name(name: str) -> str | None:
    """The file kind named in a file name (e.g. '2024-25_staff_assignments.csv')."""
    stem = Path(name).stem.lower()
    for kind in sorted(KINDS, key=len, reverse=True):
        if kind in stem:
            return kind
    if "enrol" in stem:
        return "enrollments"
    if "program" in stem:
        return "program_participation"
    if "assess" in stem:
        return "assessments"
    return None


def read_submission_stream(
    stream: IO[bytes],
    name: str,
    *,
    kind: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    size_hint: int | None = None,
) -> ParsedFile:
    """Read one CSV submission from a binary stream without ever holding more than `max_bytes`.

    A file over the limit, not in UTF-8, or not parseable as CSV comes back with a whole-file
    problem and no rows.
    """
    empty = ParsedFile(name, kind, "", size_hint or 0, [], [])
    if size_hint is not None and size_hint > max_bytes:
        empty.problems.append(_too_large(name, size_hint, max_bytes))
        return empty
    reader = _HashingReader(stream, max_bytes)
    text = io.TextIOWrapper(
        io.BufferedReader(reader), encoding="utf-8-sig", errors="strict", newline=""
    )
    rows: list[list[str]] = []
    header: list[str] = []
    try:
        records = csv.reader(text, strict=True)
        for i, rec in enumerate(records):
            if i == 0:
                header = [h.strip().lower() for h in rec]
            elif any(v.strip() for v in rec):
                rows.append(rec)
    except _TooLarge:
        empty.problems.append(_too_large(name, reader.count, max_bytes))
        return empty
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1].hex() if exc.object else "?"
        empty.problems.append(
            Problem(
                len(rows) + 2,
                "",
                f"byte 0x{bad}",
                "the file is not UTF-8 text (it looks like another encoding, e.g. Windows-1252 "
                "or Latin-1)",
                "save the file as 'CSV UTF-8 (comma delimited)' in your spreadsheet program "
                "and submit it again",
                name,
            )
        )
        return empty
    except csv.Error as exc:
        empty.problems.append(
            Problem(
                len(rows) + 2,
                "",
                "",
                f"the file is not a readable CSV file ({exc})",
                "export the sheet again as CSV; remove stray quotes and control characters",
                name,
            )
        )
        return empty
    finally:
        text.detach()
    parsed = ParsedFile(name, kind, reader.sha.hexdigest(), reader.count, header, rows)
    if not header:
        parsed.problems.append(
            Problem(0, "", "", "the file is empty", "submit a CSV file with a header row", name)
        )
    elif not rows:
        # a resubmission replaces the district's rows of its kind for the year: a file of no
        # rows, sent by mistake, would erase them all
        parsed.problems.append(
            Problem(
                0,
                "",
                "",
                "the file has a header but no rows (it would replace the district's rows of "
                "this kind for the year with none)",
                "add the rows, or leave the file out of the submission if there is nothing to send",
                name,
            )
        )
    if parsed.kind is None and header:
        parsed.kind = guess_kind(header) or kind_from_name(name)
    if parsed.kind is None and header:
        parsed.problems.append(
            Problem(
                1,
                "",
                "",
                "cannot tell which kind of file this is",
                f"name the file after its kind ({', '.join(KINDS)}) or use the template header",
                name,
            )
        )
    return parsed


def read_submission_file(
    path: str | Path, *, kind: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> ParsedFile:
    """Read a submission file from disk; a file over `max_bytes` is refused before reading."""
    p = Path(path)
    size = p.stat().st_size
    with open(p, "rb") as fh:
        return read_submission_stream(fh, p.name, kind=kind, max_bytes=max_bytes, size_hint=size)


def read_submission_bytes(
    data: bytes, name: str, *, kind: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> ParsedFile:
    """Read an uploaded submission held in memory (the web upload path)."""
    return read_submission_stream(
        io.BytesIO(data), name, kind=kind, max_bytes=max_bytes, size_hint=len(data)
    )


def _too_large(name: str, size: int, limit: int) -> Problem:
    return Problem(
        0,
        "",
        _size_text(size),
        f"the file is larger than the {_size_text(limit)} limit",
        "split the submission into several smaller files (for example one per school) or "
        "ask MDOE to raise the limit",
        name,
    )


# ---------------------------------------------------------------------------------------------
# Row checks


class _Collector:
    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []
        self.truncated = False

    def add(self, row: int, fld: str, value: str, problem: str, fix: str) -> None:
        if len(self.problems) >= MAX_PROBLEMS_PER_FILE:
            self.truncated = True
            return
        self.problems.append(Problem(row, fld, value, problem, fix, self.file))

    def finish(self) -> list[Problem]:
        if self.truncated:
            self.problems.append(
                Problem(
                    0,
                    "",
                    "",
                    f"more than {MAX_PROBLEMS_PER_FILE} problems; the rest are not listed",
                    "fix the problems listed (often one cause) and submit again",
                    self.file,
                )
            )
        return self.problems


def _codes(code_set: str) -> list[str]:
    return [c for c, _ in load_dictionary().code_sets[code_set].codes]


def _school_year_ok(value: str) -> bool:
    m = _YEAR_RE.match(value)
    return bool(m) and (int(m.group(1)) + 1) % 100 == int(m.group(2))


def _convert(col: IntakeColumn, value: str) -> tuple[Any, str | None, str | None]:
    """(typed value, problem, how to fix) for one non-empty cell."""
    name = col.name
    if _CONTROL_RE.search(value):
        return (
            None,
            "contains control characters (such as NUL or escape bytes) that no value may hold",
            "retype the value; export the sheet again as CSV UTF-8",
        )
    if value[0] in _FORMULA_START and not (
        value[0] == "-" and col.type in ("SMALLINT", "DECIMAL(3,2)")
    ):
        return (
            None,
            f"starts with '{value[0]!s}', which spreadsheet programs run as a formula "
            "(formula injection); the value was not accepted",
            "remove the leading character; names and codes never start with = + - @",
        )
    if col.code_set:
        codes = _codes(col.code_set)
        if value in codes:
            return value, None, None
        hint = ""
        if col.code_set == "grade" and value.isdigit() and f"{int(value):02d}" in codes:
            hint = f" (write {int(value):02d}, with the leading zero)"
        elif value.upper() in codes:
            hint = f" (write {value.upper()} in capitals)"
        return (
            None,
            f"not a code of the {col.code_set} code set",
            f"use one of: {', '.join(codes)}{hint}",
        )
    if col.type == "DATE":
        if not _DATE_RE.match(value):
            return (
                None,
                "not a date in the form YYYY-MM-DD",
                "write the date as YYYY-MM-DD, e.g. 2014-03-09",
            )
        try:
            d = date.fromisoformat(value)
        except ValueError:
            return None, "not a real calendar date", "check the month and day"
        if not date(1900, 1, 1) <= d <= date(2100, 12, 31):
            return None, "date out of range", "check the year"
        if name == "birth_date" and d > date.today():
            return None, "date of birth is in the future", "check the year of birth"
        return d, None, None
    if col.type == "BOOLEAN":
        low = value.lower()
        if low in _TRUE:
            return True, None, None
        if low in _FALSE:
            return False, None, None
        return None, "not true or false", "write true or false"
    if col.type == "SMALLINT":
        if not re.fullmatch(r"-?\d{1,5}", value):
            return None, "not a whole number", "write digits only, e.g. 512"
        n = int(value)
        lo, hi = _RANGES.get(name, (-32768, 32767))
        if not lo <= n <= hi:
            return None, f"outside the allowed range {lo}-{hi}", f"use a number from {lo} to {hi}"
        return n, None, None
    if col.type.startswith("DECIMAL"):
        try:
            x = Decimal(value)
        except InvalidOperation:
            return None, "not a number", "write a decimal number such as 0.50"
        if not x.is_finite() or x.as_tuple().exponent < -2 or not Decimal("0.05") <= x <= 1:  # type: ignore[operator]
            return (
                None,
                "FTE must be between 0.05 and 1.00 with at most two decimals",
                "e.g. 1.00 or 0.50",
            )
        return float(x), None, None
    return _check_text(name, value)


def _check_text(name: str, value: str) -> tuple[Any, str | None, str | None]:
    if len(value) > MAX_TEXT_LENGTH:
        return None, f"longer than {MAX_TEXT_LENGTH} characters", "shorten the value"
    if name == "state_student_id":
        if not is_valid_student_id(value):
            why = (
                "fails the check digit, so a digit was probably mistyped"
                if value.isdigit() and len(value) == 10
                else "is not 10 digits"
            )
            return (
                None,
                f"not a valid state student ID: it {why}",
                (
                    "copy the ID from the student locator, or leave it empty for a student who "
                    "has never had one"
                ),
            )
        return value, None, None
    if name == "state_staff_id":
        if not is_valid_staff_id(value):
            return (
                None,
                "not a valid state staff ID (S + 9 digits with a check digit)",
                ("copy the staff ID from MDOE, or leave it empty for new staff"),
            )
        return value, None, None
    if name in ("local_student_id", "local_staff_id"):
        if not _LOCAL_ID_RE.match(value):
            return (
                None,
                "local ID must be 1-20 letters, digits or '-'",
                "use your district's own number for the person",
            )
        return value, None, None
    if name == "ssn":
        m = _SSN_RE.match(value)
        if not m or m.group(1) in ("000", "666"):
            return (
                None,
                "not a valid Social Security Number in the form NNN-NN-NNNN",
                "check the number; leave it empty if unknown (students)",
            )
        return value, None, None
    if name == "mainecare_id":
        if not _MAINECARE_RE.match(value):
            return (
                None,
                "not a MaineCare ID (one capital letter and 8 digits)",
                "check the ID or leave it empty",
            )
        return value, None, None
    if name == "school_id":
        if not _SCHOOL_ID_RE.match(value):
            return None, "not a school ID (4 digits)", "use the 4-digit MDOE school ID"
        return value, None, None
    if name == "school_year":
        if not _school_year_ok(value):
            return None, "not a school year in the form YYYY-YY", "e.g. 2024-25"
        return value, None, None
    if name in _NAME_FIELDS:
        if not _NAME_RE.match(value):
            return (
                None,
                'contains characters that are not part of a name (digits or symbols such as ; ( ) " =)',
                ("use letters, spaces, hyphens, apostrophes and periods only"),
            )
        return value, None, None
    return value, None, None


def _student_key(row: dict[str, Any], person: str = "student") -> str | None:
    sid = row.get(f"state_{person}_id")
    if sid:
        return sid
    lid = row.get(f"local_{person}_id")
    return f"local:{lid}" if lid else None


_DUPLICATE_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "students": (("local_student_id",), ("state_student_id",), ("ssn",)),
    "enrollments": (("@student", "school_id"),),
    "program_participation": (("@student",),),
    "assessments": (("@student", "subject"),),
    "staff": (("local_staff_id",), ("state_staff_id",), ("ssn",)),
    "staff_assignments": (("@staff", "school_id", "role", "subject"),),
}


def check_rows(parsed: ParsedFile, school_year: str) -> tuple[ValidatedFile | None, list[Problem]]:
    """Check one parsed file against its format; return typed rows when it has no problems."""
    if parsed.problems or parsed.kind is None:
        return None, list(parsed.problems)
    fmt = intake_format(parsed.kind)
    out = _Collector(parsed.name)
    _check_header(parsed.header, fmt, out)
    if out.problems:
        return None, out.finish()
    index = {h: i for i, h in enumerate(parsed.header)}
    typed_rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, ...], dict[tuple[Any, ...], int]] = {}
    for offset, raw in enumerate(parsed.rows):
        rownum = offset + 2
        if len(raw) != len(parsed.header):
            out.add(
                rownum,
                "",
                f"{len(raw)} values",
                f"the row has {len(raw)} values but the header has {len(parsed.header)}",
                "check for extra commas; quote values that contain commas",
            )
            continue
        row: dict[str, Any] = {}
        ok = True
        for col in fmt.columns:
            value = raw[index[col.name]].strip() if col.name in index else ""
            if not value:
                row[col.name] = None
                if col.required:
                    ok = False
                    out.add(
                        rownum,
                        col.name,
                        "",
                        "required value is missing",
                        f"fill in {col.name} ({col.format or 'code from the ' + str(col.code_set) + ' code set'})",
                    )
                continue
            typed, problem, fix = _convert(col, value)
            if problem:
                ok = False
                out.add(rownum, col.name, value, problem, fix or "")
            row[col.name] = typed
        if not ok:
            continue
        if fmt.one_of and not any(row.get(c) for c in fmt.one_of):
            out.add(
                rownum,
                " / ".join(fmt.one_of),
                "",
                "the row does not say which person it is about",
                f"fill in {' or '.join(fmt.one_of)}",
            )
            continue
        _check_row_rules(parsed.kind, row, rownum, school_year, out)
        for key_cols in _DUPLICATE_KEYS[parsed.kind]:
            key = tuple(_resolve_key_part(row, c) for c in key_cols)
            if any(k is None for k in key):
                continue
            first = seen.setdefault(key_cols, {}).setdefault(key, rownum)
            if first != rownum:
                shown = ", ".join(str(k) for k in key)
                out.add(
                    rownum,
                    "+".join(_key_label(row, c) for c in key_cols),
                    shown,
                    f"duplicate: row {first} already has {shown}",
                    "keep one row per person (and school/subject); remove or merge the duplicate",
                )
        typed_rows.append(row)
    problems = out.finish()
    if problems:
        return None, problems
    frame = (
        pl.DataFrame(typed_rows, schema=_polars_schema(fmt), orient="row")
        if typed_rows
        else pl.DataFrame(schema=_polars_schema(fmt))
    )
    return ValidatedFile(parsed.name, parsed.kind, parsed.sha256, parsed.size_bytes, frame), []


def _key_label(row: dict[str, Any], col: str) -> str:
    if col.startswith("@"):
        person = col[1:]
        return f"state_{person}_id" if row.get(f"state_{person}_id") else f"local_{person}_id"
    return col


def _resolve_key_part(row: dict[str, Any], col: str) -> Any:
    if col == "@student":
        return _student_key(row, "student")
    if col == "@staff":
        return _student_key(row, "staff")
    return row.get(col)


def _check_header(header: list[str], fmt: IntakeFormat, out: _Collector) -> None:
    seen: set[str] = set()
    for h in header:
        if h in seen:
            out.add(1, h, h, "the column appears twice", "keep one column of each name")
        seen.add(h)
        if h not in fmt.names:
            out.add(
                1,
                h,
                h,
                f"not a column of the {fmt.kind} format",
                f"remove it; the columns are: {', '.join(fmt.names)}",
            )
    for c in fmt.columns:
        if c.name not in seen and (
            c.required or c.name in fmt.one_of and not any(o in seen for o in fmt.one_of)
        ):
            out.add(
                1,
                c.name,
                "",
                "required column is missing",
                f"add a column named {c.name}; the columns are: {', '.join(fmt.names)}",
            )


def _check_row_rules(
    kind: str, row: dict[str, Any], rownum: int, school_year: str, out: _Collector
) -> None:
    year = row.get("school_year")
    if year is not None and year != school_year:
        out.add(
            rownum,
            "school_year",
            year,
            f"this submission is for {school_year}",
            f"submit {year} rows separately, or correct the year to {school_year}",
        )
    if kind == "enrollments":
        entry, exit_ = row["entry_date"], row["exit_date"]
        start = int(school_year[:4])
        if entry is not None and not date(start, 7, 1) <= entry <= date(start + 1, 6, 30):
            out.add(
                rownum,
                "entry_date",
                entry.isoformat(),
                f"entry date is outside school year {school_year}",
                f"use a date between {start}-07-01 and {start + 1}-06-30",
            )
        if exit_ is not None and entry is not None and exit_ < entry:
            out.add(
                rownum,
                "exit_date",
                exit_.isoformat(),
                "exit date is before the entry date",
                "check both dates",
            )
        if (exit_ is None) != (row["exit_code"] is None):
            out.add(
                rownum,
                "exit_code",
                row["exit_code"] or "",
                "exit_date and exit_code go together",
                "fill in both (the student left) or neither (still enrolled)",
            )


_POLARS = {"VARCHAR": pl.String, "DATE": pl.Date, "BOOLEAN": pl.Boolean, "SMALLINT": pl.Int16}


def _polars_schema(fmt: IntakeFormat) -> dict[str, Any]:
    return {c.name: _POLARS.get(c.type, pl.Float64) for c in fmt.columns}


# ---------------------------------------------------------------------------------------------
# Cross-file checks


def _age_on(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def check_references(files: Sequence[ValidatedFile], ref: ReferenceData) -> list[Problem]:
    """Checks across the files of one submission and against the warehouse."""
    problems: list[Problem] = []
    by_kind: dict[str, ValidatedFile] = {}
    for f in files:
        if f.kind in by_kind:
            problems.append(
                Problem(
                    0,
                    "",
                    f.name,
                    f"a second {f.kind} file in one submission (first: {by_kind[f.kind].name})",
                    "combine them into one file",
                )
            )
        by_kind.setdefault(f.kind, f)
    local_students: dict[str, dict[str, Any]] = {}
    if "students" in by_kind:
        for i, r in enumerate(by_kind["students"].frame.iter_rows(named=True)):
            local_students[r["local_student_id"]] = r
            sid = r["state_student_id"]
            if sid and sid not in ref.student_birth_dates and sid not in ref.student_aliases:
                problems.append(
                    Problem(
                        i + 2,
                        "state_student_id",
                        sid,
                        "no student has this state ID",
                        "leave state_student_id empty for a student new to Maine; MDOE assigns the ID",
                        by_kind["students"].name,
                    )
                )
    local_staff: dict[str, dict[str, Any]] = {}
    if "staff" in by_kind:
        for i, r in enumerate(by_kind["staff"].frame.iter_rows(named=True)):
            local_staff[r["local_staff_id"]] = r
            sid = r["state_staff_id"]
            if sid and sid not in ref.staff_ids and sid not in ref.staff_aliases:
                problems.append(
                    Problem(
                        i + 2,
                        "state_staff_id",
                        sid,
                        "no staff member has this state staff ID",
                        "leave state_staff_id empty for staff new to Maine schools",
                        by_kind["staff"].name,
                    )
                )
    sept1 = date(int(ref.school_year[:4]), 9, 1)
    for kind in ("enrollments", "program_participation", "assessments"):
        if kind in by_kind:
            problems += _check_person_refs(by_kind[kind], ref, local_students, "student", sept1)
    if "staff_assignments" in by_kind:
        problems += _check_person_refs(
            by_kind["staff_assignments"], ref, local_staff, "staff", sept1
        )
    return problems


def _check_person_refs(
    f: ValidatedFile,
    ref: ReferenceData,
    local: Mapping[str, dict[str, Any]],
    person: str,
    sept1: date,
) -> list[Problem]:
    out = _Collector(f.name)
    state_col, local_col = f"state_{person}_id", f"local_{person}_id"
    for i, r in enumerate(f.frame.iter_rows(named=True)):
        rownum = i + 2
        school = r.get("school_id")
        if school is not None and school not in ref.district_school_ids:
            owner = ref.school_district.get(school)
            why = (
                f"school {school} belongs to district {owner}"
                if owner
                else f"there is no school {school}"
            )
            out.add(
                rownum,
                "school_id",
                school,
                f"{why}, not to district {ref.district_id}",
                "use the 4-digit ID of one of your district's schools",
            )
        sid, lid = r.get(state_col), r.get(local_col)
        birth: date | None = None
        if lid is not None:
            if lid not in local:
                out.add(
                    rownum,
                    local_col,
                    lid,
                    f"no row of the {person} file of this submission has this local ID",
                    f"add the {person} to the {person} file, or use the state ID",
                )
                continue
            listed = local[lid].get(state_col)
            if sid is not None and listed is not None and listed != sid:
                out.add(
                    rownum,
                    state_col,
                    sid,
                    f"the {person} file gives {listed} for local ID {lid}",
                    "make the two files agree",
                )
            birth = local[lid].get("birth_date")
        elif sid is not None:
            if person == "student":
                current = ref.student_aliases.get(sid, sid)
                birth = ref.student_birth_dates.get(current)
                known = birth is not None or any(v.get(state_col) == sid for v in local.values())
            else:
                known = (
                    sid in ref.staff_ids
                    or sid in ref.staff_aliases
                    or any(v.get(state_col) == sid for v in local.values())
                )
            if not known:
                out.add(
                    rownum,
                    state_col,
                    sid,
                    f"no {person} has this state ID",
                    f"check the ID in the locator, or submit the {person} in the {person} file",
                )
                continue
        grade = r.get("grade")
        if person == "student" and birth is not None and grade is not None:
            age = _age_on(birth, sept1)
            typical = _GRADE_AGE[grade]
            if not typical - 2 <= age <= typical + 4:
                out.add(
                    rownum,
                    "grade",
                    grade,
                    f"grade {grade} is implausible for a student aged {age} on {sept1.isoformat()} (date of birth {birth.isoformat()})",
                    "check the grade and the date of birth",
                )
    return out.finish()


def validate_submission(
    parsed: Iterable[ParsedFile], ref: ReferenceData
) -> tuple[list[ValidatedFile], list[Problem]]:
    """All checks on a submission: files that pass, and every problem found (empty = valid)."""
    files: list[ValidatedFile] = []
    problems: list[Problem] = []
    for p in parsed:
        vf, probs = check_rows(p, ref.school_year)
        problems += probs
        if vf is not None:
            files.append(vf)
    if not problems:
        problems += check_references(files, ref)
    return files, problems


# ---------------------------------------------------------------------------------------------
# The error report

REPORT_COLUMNS = ("file", "row", "field", "value", "problem", "how_to_fix")


def _spreadsheet_safe(value: str) -> str:
    """Prefix a quote so a spreadsheet shows a formula-like value as text instead of running it."""
    return "'" + value if value and value[0] in ("=", "+", "-", "@", "\t", "\r") else value


def problems_to_csv(problems: Sequence[Problem]) -> str:
    """The error report as CSV text (UTF-8), safe to open in a spreadsheet."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(REPORT_COLUMNS)
    for p in problems:
        w.writerow(
            [
                _spreadsheet_safe(str(v))
                for v in (p.file, p.row, p.field, p.value, p.problem, p.how_to_fix)
            ]
        )
    return buf.getvalue()


def problems_frame(problems: Sequence[Problem]) -> pl.DataFrame:
    """The error report as a table (for a page to show)."""
    return pl.DataFrame(
        [
            {
                "file": p.file,
                "row": p.row,
                "field": p.field,
                "value": p.value,
                "problem": p.problem,
                "how_to_fix": p.how_to_fix,
            }
            for p in problems
        ],
        schema={
            "file": pl.String,
            "row": pl.Int64,
            "field": pl.String,
            "value": pl.String,
            "problem": pl.String,
            "how_to_fix": pl.String,
        },
    )


__all__ = [
    "DEFAULT_MAX_BYTES",
    "ParsedFile",
    "Problem",
    "ReferenceData",
    "SubmissionRejected",
    "ValidatedFile",
    "check_references",
    "check_rows",
    "kind_from_name",
    "problems_frame",
    "problems_to_csv",
    "read_submission_bytes",
    "read_submission_file",
    "read_submission_stream",
    "validate_submission",
]
