"""Work run side by side (privacy.parallel)."""

from __future__ import annotations

import threading

import pytest

from privacy import parallel


def test_work_beside_one_caller_never_waits_behind_another_callers(monkeypatch) -> None:  # noqa: ANN001
    """Two protections at once (two staff members' custom tables) each get their re-proof
    started at once: the first one here finishes only when the second has run."""
    monkeypatch.setattr(parallel, "_THREADS", 2)
    second_ran = threading.Event()
    first = parallel.beside(second_ran.wait, 10)
    second = parallel.beside(second_ran.set)
    assert first.result(timeout=20) is True  # it did not time out waiting for the second
    second.result(timeout=20)


@pytest.mark.parametrize("threads", [1, 2])
def test_an_error_beside_is_raised_where_the_answer_is_read(threads: int, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(parallel, "_THREADS", threads)

    def fails() -> None:
        raise ValueError("no answer")

    future = parallel.beside(fails)
    with pytest.raises(ValueError, match="no answer"):
        future.result(timeout=20)
