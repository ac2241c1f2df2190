"""Pages and the dashboard reach data only through `privacy`: no duckdb, no warehouse imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("duckdb", "warehouse")
GUARDED = ("dashboard", "pages")


def _forbidden(module: str) -> bool:
    return any(module == f or module.startswith(f + ".") for f in FORBIDDEN)


def forbidden_imports(source: str, filename: str = "<src>") -> list[str]:
    """Every forbidden import in `source`: import statements and dynamic imports by name."""
    tree = ast.parse(source, filename)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if _forbidden(a.name)]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and _forbidden(node.module):
                found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Call):
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            if name in ("import_module", "__import__", "find_spec", "run_module"):
                for arg in node.args[:1]:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        if _forbidden(arg.value):
                            found.append(f"{name}({arg.value!r})")
    return found


def guarded_files() -> list[Path]:
    return sorted(p for d in GUARDED for p in (ROOT / d).rglob("*.py"))


@pytest.mark.parametrize(
    "source, bad",
    [
        ("import duckdb", True),
        ("import duckdb as db", True),
        ("from warehouse.connection import connect_readonly", True),
        ("import warehouse.aggregates", True),
        ("import importlib\nimportlib.import_module('warehouse.aggregates')", True),
        ("from importlib import import_module\nimport_module('duckdb')", True),
        ("__import__('warehouse')", True),
        ("import privacy\nfrom privacy import release_table", False),
        ("import duckdbx", False),
        ("from . import warehouse", False),
        ("x = 'warehouse'", False),
    ],
)
def test_detector(source: str, bad: bool) -> None:
    assert bool(forbidden_imports(source)) is bad


def test_guarded_folders_exist() -> None:
    for d in GUARDED:
        assert (ROOT / d).is_dir()


def test_dashboard_and_pages_import_only_privacy() -> None:
    offenders = {
        str(p.relative_to(ROOT)): hits
        for p in guarded_files()
        if (hits := forbidden_imports(p.read_text(encoding="utf-8"), str(p)))
    }
    assert offenders == {}, f"dashboard/pages must import data through privacy only: {offenders}"
