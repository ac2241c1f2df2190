"""The `privacy` package's public names, imported on first use; a release's worker processes
import the protection code only."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import privacy

ROOT = Path(__file__).resolve().parents[1]


def _modules_after(statement: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``statement``."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(out.stdout))


def test_every_public_name_is_its_modules_object() -> None:
    """Each name of ``privacy.__all__`` is the object its module defines (the same one
    whichever way it is imported), and listed by ``dir``."""
    assert len(set(privacy.__all__)) == len(privacy.__all__)
    for name in privacy.__all__:
        source = importlib.import_module(privacy._SOURCES[name])
        assert getattr(privacy, name) is getattr(source, name), name
    assert set(privacy.__all__) <= set(dir(privacy))
    namespace: dict[str, object] = {}
    exec("from privacy import *", namespace)  # noqa: S102 - the star import a user may write
    assert {n for n in namespace if not n.startswith("__")} == set(privacy.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'release_tabel'"):
        _ = privacy.release_tabel
    with pytest.raises(ImportError):
        exec("from privacy import release_tabel")  # noqa: S102


def test_submodules_still_import_by_name() -> None:
    from privacy import parallel, suppression

    assert suppression.__name__ == "privacy.suppression"
    assert parallel.__name__ == "privacy.parallel"


def test_a_release_worker_imports_the_protection_code_only() -> None:
    """What a release's worker process imports as it starts (`release._WORKER_MODULES`) and to
    run its jobs (`suppression.protect_parts`, pickled by module name) leaves out the
    warehouse, DuckDB, Polars and OpenDP: each process starts in about half the CPU."""
    from privacy import release, suppression

    assert release._WORKER_MODULES == (suppression.protect_parts.__module__,)
    statement = "; ".join(f"import {m}" for m in release._WORKER_MODULES)
    loaded = _modules_after(statement)
    assert "privacy.suppression" in loaded
    for heavy in ("duckdb", "polars", "opendp", "warehouse", "privacy.release", "privacy.auth"):
        assert heavy not in loaded, heavy


def test_the_package_alone_imports_nothing_heavy() -> None:
    """``import privacy`` costs nothing until a name is used; using one imports its module."""
    assert "privacy.release" not in _modules_after("import privacy")
    assert "privacy.release" in _modules_after("import privacy; privacy.public_release")
