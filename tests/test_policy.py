"""Policy loading: defaults from policy.toml and a clear error for every malformed file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from privacy.policy import POLICY_PATH, PercentBand, Policy, PolicyError, load_policy


def test_default_policy_matches_mdoe_and_nces() -> None:
    policy = load_policy()
    assert policy == Policy()
    assert (policy.min_cell, policy.min_interval_width, policy.min_upper_bound) == (10, 5, 10)
    assert [(b.min_group, b.max_group, b.edge_percent) for b in policy.percent_bands] == [
        (10, 20, 10.0),
        (21, 40, 5.0),
        (41, 100, 2.0),
        (101, 200, 1.0),
        (201, None, 0.5),
    ]
    assert policy.show_zero_counts is True


@pytest.mark.parametrize(
    "count, small", [(0, False), (1, True), (9, True), (10, False), (11, False), (500, False)]
)
def test_is_small(count: int, small: bool) -> None:
    assert Policy().is_small(count) is small


def test_zero_is_small_when_zeros_are_not_shown() -> None:
    assert Policy(show_zero_counts=False).is_small(0)


@pytest.mark.parametrize("show_zero_counts", [True, False])
def test_small_counts_at_once_are_those_is_small_names(show_zero_counts: bool) -> None:
    policy = Policy(show_zero_counts=show_zero_counts)
    counts = np.array([0, 1, 6, 9, 10, 11, 0, 250])
    assert policy.small(counts).tolist() == [policy.is_small(int(c)) for c in counts]
    assert policy.small(counts).dtype == bool and not len(policy.small(np.zeros(0, int)))


@pytest.mark.parametrize(
    "size, low, high",
    [
        (10, "<=10%", ">=90%"),
        (20, "<=10%", ">=90%"),
        (21, "<=5%", ">=95%"),
        (100, "<=2%", ">=98%"),
        (101, "<=1%", ">=99%"),
        (201, "<=0.5%", ">=99.5%"),
        (100_000, "<=0.5%", ">=99.5%"),
    ],
)
def test_band_for_group_size(size: int, low: str, high: str) -> None:
    band = Policy().band_for(size)
    assert band is not None
    assert (band.low_display, band.high_display) == (low, high)


def test_no_band_below_min_cell() -> None:
    assert Policy().band_for(9) is None


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _default_text() -> str:
    return POLICY_PATH.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t.replace("min_cell = 10", "min_cell = 0"), "min_cell must be at least 1"),
        (lambda t: t.replace("min_cell = 10", 'min_cell = "ten"'), "must be an integer"),
        (
            lambda t: t.replace("min_interval_width = 5", "min_interval_width = 0"),
            "min_interval_width must be at least 1",
        ),
        (
            lambda t: t.replace("min_upper_bound = 10", "min_upper_bound = 8"),
            "must be at least min_cell",
        ),
        (lambda t: t.replace("min_cell = 10\n", ""), "missing min_cell"),
        (lambda t: t.replace("[cells]", "[cells]\nmin_cel = 3"), "unknown key(s) in [cells]"),
        (lambda t: t.replace("max_group = 40", "max_group = 39"), "must be contiguous"),
        (
            lambda t: t.replace("edge_percent = 10.0", "edge_percent = 60.0"),
            "edge_percent must be above 0 and below 50",
        ),
        (
            lambda t: t.replace("min_group = 201\n", "min_group = 201\nmax_group = 999\n"),
            "last percent band must have no max_group",
        ),
        (
            lambda t: t.replace("min_group = 10\n", "min_group = 11\n"),
            "first percent band must start at min_cell",
        ),
        (
            lambda t: t.replace("show_zero_counts = true", 'show_zero_counts = "yes"'),
            "show_zero_counts must be true or false",
        ),
        (lambda t: t.split("[[percent_bands]]")[0], "must list at least one band"),
        (lambda t: t.replace("[zeros]", "[zeroes]"), "unknown key(s) in top level"),
    ],
)
def test_malformed_policy_is_refused_with_a_clear_error(tmp_path: Path, edit, message: str) -> None:
    path = _write(tmp_path, edit(_default_text()))
    with pytest.raises(PolicyError) as excinfo:
        load_policy(path)
    assert message in str(excinfo.value)
    assert str(path) in str(excinfo.value)


def test_not_toml_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "min_cell = = 10")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "absent.toml")


def test_policy_constructor_validates_too() -> None:
    with pytest.raises(PolicyError, match="contiguous"):
        Policy(percent_bands=(PercentBand(10, 20, 10.0), PercentBand(30, None, 5.0)))


@pytest.mark.parametrize(
    "module",
    [
        "privacy.policy",
        "privacy.cells",
        "privacy.percent_coding",
        "privacy.auditor",
        "privacy.suppression",
    ],
)
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def _agrees_here(policy: Policy) -> bool:
    """In a fresh process: the policy received equals one built there, and hashes the same."""
    return policy == load_policy() and hash(policy) == hash(load_policy())


def test_a_policy_sent_to_a_worker_process_hashes_as_one_built_there() -> None:
    """Protection sends the policy to worker processes (other interpreters); its hash is kept
    for speed, and must be worked out again there (the hash of None differs from process to
    process)."""
    import pickle
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    policy = load_policy()
    again = pickle.loads(pickle.dumps(policy))
    assert again == policy and hash(again) == hash(policy)
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        assert pool.submit(_agrees_here, policy).result(timeout=120)
