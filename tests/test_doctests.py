"""The runnable examples in the privacy and warehouse docstrings still hold (doctests)."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    f"{p.parent.name}.{p.stem}"
    for pkg in ("privacy", "warehouse")
    for p in (ROOT / pkg).glob("*.py")
    if ">>>" in p.read_text(encoding="utf-8")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has '>>>' but no doctest ran"
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
