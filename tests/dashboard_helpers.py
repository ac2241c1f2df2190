"""Shared setup for the dashboard tests and benchmark: a small warehouse with its public releases.

Protecting a year's public release is the slow step (integer-programming attacks), so the
protected warehouse (warehouse file + state database with the release registry) is built once
and kept in pytest's cache folder, keyed by a hash of the warehouse and privacy sources; each
test session copies it. By default the releases are protected without the final
"minimise" pass of `privacy.suppression.protect` (that pass only shows again complements that
turn out unnecessary, so skipping it hides MORE cells; every privacy assertion still holds).
Set EDUDASH_TEST_FULL_PROTECTION=1 to use the full protection.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCALE = 0.005
SEED = 7
DB_NAME = "edudash.duckdb"


def source_hash() -> str:
    """Hash of everything that decides the protected tables (sources, policy, build params)."""
    h = hashlib.sha256(
        f"{SCALE}:{SEED}:{os.environ.get('EDUDASH_TEST_FULL_PROTECTION', '')}".encode()
    )
    for folder in ("warehouse", "privacy"):
        for p in sorted((ROOT / folder).rglob("*")):
            if p.suffix in (".py", ".toml", ".sql") and "__pycache__" not in p.parts:
                h.update(p.relative_to(ROOT).as_posix().encode())
                h.update(p.read_bytes())
    return h.hexdigest()[:16]


@contextmanager
def fast_protection() -> Iterator[None]:
    """Within the block, `protect` skips its minimise pass (hides a superset; see module doc)."""
    if os.environ.get("EDUDASH_TEST_FULL_PROTECTION") == "1":
        yield
        return
    import privacy.suppression as suppression

    original = suppression.protect

    def protect(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        kwargs["minimise"] = False
        return original(*args, **kwargs)

    suppression.protect = protect
    try:
        yield
    finally:
        suppression.protect = original


def _companions(db: Path) -> list[Path]:
    return [p for p in db.parent.iterdir() if p.name.startswith(db.stem)]


def build_protected_warehouse(folder: Path) -> Path:
    """Build the small warehouse in `folder` and record every year's public release."""
    from privacy import public_release, school_years
    from warehouse.build import build_warehouse

    folder.mkdir(parents=True, exist_ok=True)
    db = folder / DB_NAME
    build_warehouse(db, scale=SCALE, seed=SEED)
    with fast_protection():
        for year in school_years(db):
            public_release(db, year)
    return db


def protected_warehouse(cache_dir: Path, target: Path) -> Path:
    """A fresh copy (in `target`) of the cached protected warehouse, building it if needed."""
    cached = cache_dir / source_hash()
    db = cached / DB_NAME
    if not (cached / "complete").is_file():
        if cached.exists():
            shutil.rmtree(cached)
        build_protected_warehouse(cached)
        (cached / "complete").write_text("ok")
        for old in cache_dir.iterdir():
            if old.is_dir() and old != cached:
                shutil.rmtree(old, ignore_errors=True)
    target.mkdir(parents=True, exist_ok=True)
    for p in _companions(db):
        shutil.copy2(p, target / p.name)
    return target / DB_NAME


PASSWORD = "correct-Horse-battery-42"
# (user ID, role, needs a district): real accounts made with privacy.users.create_user.
TEST_USERS = (
    ("rep.staff", "reporting", False),
    ("edm.one", "data_manager", False),
    ("sup.one", "superintendent", True),
)


@pytest.fixture(scope="session")
def dash_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the cached small protected warehouse, with a few real (argon2) accounts."""
    import privacy
    from privacy.users import Operator, create_user

    cache = Path(request.config.cache.mkdir("edudash-dashboard"))
    db = protected_warehouse(cache, tmp_path_factory.mktemp("dash"))
    district = privacy.list_districts(db)["district_id"][0]
    for user_id, role, placed in TEST_USERS:
        create_user(
            db,
            user_id=user_id,
            role=role,
            password=PASSWORD,
            district_id=district if placed else None,
            created_by=Operator("test"),
        )
    return db


def count_violations(values: list[object]) -> list[object]:
    """Values that read as a count from 1 to 9 (text or number); '*' and '' are fine."""
    bad = []
    for v in values:
        if v is None:
            continue
        text = str(v).strip().replace(",", "")
        try:
            n = float(text)
        except ValueError:
            continue
        if 0 < n < 10:
            bad.append(v)
    return bad
