"""Open-data export: every public table as tidy CSV plus a Frictionless `datapackage.json`.

The CSV bytes are exactly `ProtectedTable.to_csv_bytes()` (what the dashboard's download button
gives). Each CSV starts with "# " comment lines (title, release id, footnotes), declared in the
datapackage as `dialect.commentChar`. Files are written to a temporary folder and moved into
place only when all are written, so an interrupted export never leaves a half-written file.
Each export is recorded in the release registry (kind `export`), pointing at the public
release whose cells it contains.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from privacy.noise import NoiseSpec
from privacy.percent_coding import coded_displays
from privacy.policy import Policy, load_policy
from privacy.registry import new_release_id, record_release
from privacy.release import PublicRelease, public_release, release_years
from privacy.requests import ALL, NOT_PROFICIENT, PROFICIENT, TableRequest, dimension_codes
from privacy.tables import ProtectedTable
from warehouse.connection import resolve_db_path

DATAPACKAGE = "datapackage.json"


def marker_meanings(policy: Policy) -> dict[str, str]:
    """What each marker in a CSV means (also written into the datapackage)."""
    out = {
        "All": "total over that dimension (a margin of the table)",
        "*": f"hidden to protect student privacy: fewer than {policy.min_cell} students, or "
        "hidden so that a small count cannot be worked out from other published numbers (the "
        "two are deliberately not told apart: status 'suppressed')",
        "": "no rate for this row (it is the group total, or the table has no rates)",
        "'": "a leading apostrophe neutralises text a spreadsheet would run as a formula",
    }
    for display, edge in coded_displays(policy):
        out[display] = (
            f"rate within {edge:g} points of 0% or 100% (coded by group size; a range always "
            f"admits at least {policy.min_upper_bound} students); the counts behind it are hidden"
        )
    return out


def resource_name(name: str, school_year: str) -> str:
    return f"{name}_{school_year}"


def _fields(table: ProtectedTable) -> list[dict]:
    fields: list[dict] = []
    descriptions = {
        "district_id": "State district id",
        "district_name": "District name",
        "school_id": "State school id",
        "school_name": "School name",
        "count": "Number of students (staff tables: headcount); '*' when hidden",
        "fte": "Full-time equivalent staff",
        "rate": "Percentage of the group (e.g. 85.2%), '*' when hidden, a coded range such as "
        "'>=95%' near 0% or 100%, or empty when the row has no rate",
        "denominator": "Size of the group the rate is a share of; '*' when hidden",
        "status": "shown, suppressed or coded",
        "reason": "Why the cell is hidden or coded",
        "moe": "Noisy tables: 95% margin of error of the count (+/- students)",
        "rate_moe": "Noisy tables: approximate margin of error of the rate (percentage points)",
    }
    for col in table.csv_columns():
        field: dict = {"name": col, "type": "string"}
        if col in table.dimensions:
            field["description"] = f"{col} code; 'All' = total over {col}"
            codes = [c for c, _ in dimension_codes(col)]
            if col == "performance_level" and table.request.proficiency_only:
                codes = [NOT_PROFICIENT, PROFICIENT]
            elif col == "performance_level":
                codes.append(PROFICIENT)
            field["constraints"] = {"enum": [*codes, ALL]}
        elif col.endswith("_label"):
            field["description"] = f"label of the {col[: -len('_label')]} code"
        else:
            field["description"] = descriptions.get(col, col)
        if col in ("count", "denominator", "moe"):
            field["type"] = "integer"
        if col in ("fte", "rate_moe"):
            field["type"] = "number"
        if col == "status":
            field["constraints"] = {"enum": ["shown", "suppressed", "coded"]}
        fields.append(field)
    return fields


def _resource(name: str, table: ProtectedTable, path: str) -> dict:
    r: TableRequest = table.request
    return {
        "name": resource_name(name, r.school_year),
        "path": path,
        "title": table.title,
        "profile": "tabular-data-resource",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "dialect": {"delimiter": ",", "header": True, "commentChar": "#"},
        "schema": {"fields": _fields(table), "missingValues": ["", "*"]},
        "measure": r.measure,
        "school_year": r.school_year,
        "geography": r.geography,
        "dimensions": list(table.dimensions),
        "filters": [list(f) for f in r.filters],
        "release_id": table.release_id,
        "footnotes": list(table.footnotes),
        **({"noise": table.noise.as_dict()} if table.noise is not None else {}),
    }


def datapackage(releases: Sequence[PublicRelease], policy: Policy) -> dict:
    """The Frictionless data package describing the CSVs of `releases`."""
    resources = []
    for rel in releases:
        for name, table in rel.tables.items():
            resources.append(_resource(name, table, f"{resource_name(name, rel.school_year)}.csv"))
    return {
        "profile": "tabular-data-package",
        "name": "edudash-public-release",
        "title": "Maine Department of Education public data tables (edudash)",
        "description": (
            f"Every public table, protected jointly per school year: no count from 1 to "
            f"{policy.min_cell - 1} is published, and no hidden cell can be worked out from "
            "the others."
        ),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "markers": marker_meanings(policy),
        "releases": [
            {"school_year": r.school_year, "release_id": r.release_id, "build_id": r.build_id}
            for r in releases
        ],
        "resources": resources,
    }


def export_public(
    db_path: str | os.PathLike[str] | None,
    out_dir: str | os.PathLike[str],
    years: Sequence[str] | None = None,
    *,
    exported_by: str = "cli",
    noise: NoiseSpec | None = None,
    workers: int = 1,
) -> list[Path]:
    """Write every public table of `years` (default: all) and `datapackage.json` to `out_dir`.

    Returns the written paths. Existing files of the same names are replaced only once every
    new file is complete. The export is recorded in the release registry.
    noise: None for the exact, suppressed release; a NoiseSpec for the noisy release of each
    year (the same stored answer the dashboard shows; the first one is charged to the budget).
    workers: processes to protect a year's exact release in if it is not recorded yet (see
    `public_release`: the same cells are hidden with any number).
    """
    policy = load_policy()
    if not str(out_dir).strip():
        raise ValueError("the output folder is empty: name a folder to write into")
    wanted = release_years(db_path, years)
    # the folder first: a path that cannot be written fails before any year is protected,
    # recorded or (noisy) charged to its budget
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    written: list[Path] = []
    try:
        rels = [public_release(db_path, y, noise=noise, workers=workers) for y in wanted]
        names: list[str] = []
        for rel in rels:
            for name, table in rel.tables.items():
                fname = f"{resource_name(name, rel.school_year)}.csv"
                (tmp / fname).write_bytes(table.to_csv_bytes())
                names.append(fname)
        package = datapackage(rels, policy)
        (tmp / DATAPACKAGE).write_text(json.dumps(package, indent=2) + "\n", encoding="utf-8")
        for fname in [*names, DATAPACKAGE]:
            os.replace(tmp / fname, out / fname)
            written.append(out / fname)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for rel in rels:
        record_release(
            resolve_db_path(db_path),
            release_id=new_release_id(rel.school_year, "export"),
            build_id=rel.build_id,
            school_year=rel.school_year,
            kind="export",
            request=json.dumps(
                {
                    "public_release_id": rel.release_id,
                    "out_dir": str(out.resolve()),
                    "tables": {n: json.loads(t.request.to_json()) for n, t in rel.tables.items()},
                }
                if noise is None
                # A noisy export's cells are in the budget ledger, not the (exact) registry.
                else {"noisy_release_id": rel.release_id, "noise": json.loads(noise.key())},
                sort_keys=True,
            ),
            created_by=exported_by,
            cells=(),
        )
    return written
