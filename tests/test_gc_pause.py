"""The collector pause around protections and audits (privacy.gc_pause)."""

from __future__ import annotations

import gc
import os
import threading

import numpy as np
import pytest

import privacy.auditor
import privacy.suppression
from privacy import gc_pause
from privacy.cells import CellSystem, add_table
from privacy.policy import Policy
from privacy.suppression import protect


@pytest.fixture(autouse=True)
def collector_running():  # noqa: ANN201
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_nested_and_overlapping_pauses_restart_the_collector_only_at_the_last_end() -> None:
    with gc_pause.paused():
        assert not gc.isenabled()
        with gc_pause.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause is still open
    assert gc.isenabled()
    # two threads: the first to end leaves the collector paused for the other
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with gc_pause.paused():
            inside.set()
            release.wait(timeout=10)

    worker = threading.Thread(target=other)
    worker.start()
    assert inside.wait(timeout=10)
    with gc_pause.paused():
        pass
    assert not gc.isenabled()
    release.set()
    worker.join()
    assert gc.isenabled()


def test_a_pause_ends_on_an_error_and_never_starts_a_collector_that_was_off() -> None:
    with pytest.raises(RuntimeError), gc_pause.paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    with gc_pause.paused():
        pass
    assert not gc.isenabled()  # the caller had it off: it stays off


def test_protect_and_audit_run_with_the_collector_paused(monkeypatch) -> None:  # noqa: ANN001
    """The attack inside `protect` and `audit` sees the collector off (and the verdicts of a
    minimum that `protect` finds at once, which may leave the attack nothing to do); after
    them it runs, and the pause changes no result (the same pattern with the collector forced
    on throughout)."""
    seen: list[bool] = []
    bounds = privacy.auditor.Attacker.bounds
    verdict = privacy.suppression._RegionLP.verdict  # noqa: SLF001

    def spy(self, *args, **kwargs):  # noqa: ANN001, ANN202
        seen.append(gc.isenabled())
        return bounds(self, *args, **kwargs)

    def spy_verdict(self, *args, **kwargs):  # noqa: ANN001, ANN202
        seen.append(gc.isenabled())
        return verdict(self, *args, **kwargs)

    monkeypatch.setattr(privacy.auditor.Attacker, "bounds", spy)
    monkeypatch.setattr(privacy.suppression._RegionLP, "verdict", spy_verdict)  # noqa: SLF001
    system = CellSystem()
    counts = np.random.default_rng(5).choice([0, 1, 2, 3, 5, 8, 13, 30], size=(5, 4))
    add_table(system, "t", counts)
    policy = Policy()
    result = protect(system, policy)
    assert seen and not any(seen)
    assert gc.isenabled()
    seen.clear()
    report = privacy.auditor.audit(system, result.hidden, policy, primary=result.primary)
    assert seen and not any(seen) and gc.isenabled()
    assert not report.violations
    monkeypatch.setattr(gc, "disable", lambda: None)  # the pause now pauses nothing
    seen.clear()
    assert protect(system, policy).hidden == result.hidden
    assert all(seen)


def test_a_whole_release_runs_with_the_collector_paused(monkeypatch) -> None:  # noqa: ANN001
    """From the first step of `_protect_top_down` to its last, not only inside each level's
    `_protect`: between two levels the collector walked every object of the release."""
    import privacy.release

    seen: list[bool] = []
    populations = privacy.release._populations  # noqa: SLF001

    def spy(layouts):  # noqa: ANN001, ANN202
        seen.append(gc.isenabled())
        return populations(layouts)

    monkeypatch.setattr(privacy.release, "_populations", spy)
    found = privacy.release._protect_top_down([], {}, Policy())  # noqa: SLF001
    assert found.statuses == {} and seen == [False] and gc.isenabled()


def test_a_child_forked_during_a_pause_runs_its_collector() -> None:
    """The child has none of the parent's open pauses: left off, its collector would never
    run again."""
    read, write = os.pipe()
    with gc_pause.paused():
        pid = os.fork()
        if pid == 0:  # the child: report, then leave without running the parent's cleanup
            os.write(write, b"on" if gc.isenabled() else b"off")
            os._exit(0)
        assert not gc.isenabled()
    os.close(write)
    answer = os.read(read, 8)
    os.close(read)
    os.waitpid(pid, 0)
    assert answer == b"on"
    assert gc.isenabled()
