"""Shared fixtures: small real warehouse files built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from warehouse.build import build_warehouse

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "real-data"


@pytest.fixture(scope="session")
def built_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scale-0.02, seed-7 warehouse (4 districts, ~3,400 students). Treat it as read-only."""
    path = tmp_path_factory.mktemp("wh") / "edudash.duckdb"
    build_warehouse(path, scale=0.02, seed=7)
    return path


RELEASE_YEAR = "2024-25"


@pytest.fixture(scope="session")
def released_db(built_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of `built_db` whose 2024-25 public release is built and recorded once.

    Release tests write the registry (the state file beside the copy), never `built_db`'s.
    """
    import shutil

    from privacy.release import public_release

    path = tmp_path_factory.mktemp("released") / "edudash.duckdb"
    shutil.copyfile(built_db, path)
    public_release(path, RELEASE_YEAR)
    return path


@pytest.fixture(scope="session")
def maine_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Maine-sized (scale 1) warehouse, built once; read-only."""
    path = tmp_path_factory.mktemp("maine") / "edudash.duckdb"
    build_warehouse(path, scale=1.0, seed=20261128)
    return path


@pytest.fixture
def fresh_db(tmp_path: Path) -> Path:
    """A private scale-0.02 warehouse that a test may change (copy of a fresh build)."""
    path = tmp_path / "edudash.duckdb"
    build_warehouse(path, scale=0.02, seed=7)
    return path


def real_data_dir(name: str) -> Path:
    """A folder of shared/real-data, or skip the test with a clear message when it is absent."""
    folder = REAL_DATA / name
    if not folder.is_dir():
        pytest.skip(f"real data folder {folder} is absent; these checks need shared/real-data/")
    return folder


@pytest.fixture(autouse=True)
def _pages_leave_nothing_behind():  # noqa: ANN202
    """What a page test leaves in the process is put back when it ends.

    - Streamlit's test runner leaves `sys.modules["__main__"]` set to the page script, and a
      worker process started after that (protection's) runs the page as its main module: the
      original is restored.
    - Pages start background threads that render a year's public tables: they are stopped, so
      that none renders into a later test (which may count renders).
    """
    import sys

    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main
    caching = sys.modules.get("dashboard.caching")
    if caching is not None:
        caching.stop_rendering_ahead(resume=True)
