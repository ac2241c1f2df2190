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


@pytest.mark.parametrize("threads", [1, 2])
def test_later_work_runs_once_started_or_asked_for(threads: int, monkeypatch) -> None:  # noqa: ANN001
    """`Later` runs its work once: beside the caller from `start` (twice: still once), or at
    the first `result` if never started; an error is raised where the result is read."""
    monkeypatch.setattr(parallel, "_THREADS", threads)
    runs: list[int] = []

    def work(x: int) -> int:
        runs.append(x)
        return 2 * x

    started = parallel.Later(work, 4)
    started.start()
    started.start()
    assert started.result() == 8 and started.result() == 8
    asked = parallel.Later(work, 5)
    assert runs == [4]  # nothing runs before it is started or asked for
    assert asked.result() == 10
    assert runs == [4, 5]

    def fails() -> None:
        raise ValueError("not laid out")

    broken = parallel.Later(fails)
    broken.start()
    with pytest.raises(ValueError, match="not laid out"):
        broken.result()


def test_worker_processes_start_at_once_and_are_kept_for_more_work() -> None:
    """`Processes` starts its processes before any work reaches them (they import what they are
    told), on a thread of its own so that the caller goes on meanwhile, runs work in them, not
    here, and keeps them for later batches until closed."""
    import os

    with pytest.raises(ValueError, match="at least one process"):
        parallel.Processes(0)
    with parallel.Processes(2, ("privacy.suppression",)) as pool:
        pool._starting.join(timeout=60)  # noqa: SLF001 - the thread that starts them
        running = pool._executor._processes  # noqa: SLF001
        assert len(running) == 2  # started before any work was submitted
        pids = {pool.submit(_pid, i).result(timeout=60) for i in range(4)}
        assert pids and os.getpid() not in pids and pids <= set(running)
        later = pool.submit(_pid, 0).result(timeout=60)
        assert later in running  # the same processes serve later work
        processes = list(running.values())
    assert len(processes) == 2 and not any(p.is_alive() for p in processes)


def test_the_caller_goes_on_while_the_worker_processes_start(monkeypatch) -> None:  # noqa: ANN001
    """Starting a process waits for the fork server, which imports the modules first (a quarter
    of a second for `privacy.suppression`): `Processes` returns at once and starts them on a
    thread, and the work submitted then runs in them."""
    import threading
    from concurrent.futures import ProcessPoolExecutor

    up = threading.Event()  # held until the test lets the processes start
    real_submit = ProcessPoolExecutor.submit

    def submit(self, fn, *args):  # noqa: ANN001, ANN002, ANN202
        assert up.wait(timeout=60)
        return real_submit(self, fn, *args)

    monkeypatch.setattr(ProcessPoolExecutor, "submit", submit)
    with parallel.Processes(2, ("privacy.suppression",)) as pool:
        assert pool._starting.is_alive()  # noqa: SLF001 - returned while they start
        up.set()
        assert pool.submit(_pid, 0).result(timeout=60) in pool._executor._processes  # noqa: SLF001


def _parent(_: int) -> int:
    import os

    return os.getppid()


def test_worker_processes_are_forked_from_one_server_that_outlives_a_pool() -> None:
    """`Processes` forks its processes from a fork server, not from this process (which holds
    DuckDB's and Polars' threads), and the server is kept: a later pool's processes come from
    the same server, without starting a new interpreter."""
    import multiprocessing
    import os

    if "forkserver" not in multiprocessing.get_all_start_methods():
        pytest.skip("this platform has no fork server: processes are spawned")
    with parallel.Processes(1, ("privacy.suppression",)) as pool:
        first = pool.submit(_parent, 0).result(timeout=60)
    with parallel.Processes(1, ("privacy.suppression",)) as pool:
        second = pool.submit(_parent, 0).result(timeout=60)
    assert first != os.getpid() and first == second


def _pid(_: int) -> int:
    import os

    return os.getpid()


def _frozen(_: int) -> tuple[int, bool]:
    import gc
    import sys

    return gc.get_freeze_count(), "privacy.suppression" in sys.modules


def test_worker_processes_set_what_they_import_aside_from_the_collector() -> None:
    """A worker's modules live as long as it does: its full collections skip them
    (`gc.freeze` once they are imported), while this process's own objects stay collectable."""
    import gc

    before = gc.get_freeze_count()
    with parallel.Processes(1, ("privacy.suppression",)) as pool:
        frozen, imported = pool.submit(_frozen, 0).result(timeout=60)
    assert imported and frozen > 10_000
    assert gc.get_freeze_count() == before


def test_worker_processes_interrupted_as_they_start_are_stopped(monkeypatch) -> None:  # noqa: ANN001
    """A Ctrl-C that reaches the caller while `Processes` still starts its processes (on its
    own thread) stops every process it started, those it starts after the Ctrl-C included:
    none is left waiting for work until the program exits."""
    from concurrent.futures import ProcessPoolExecutor

    spawned: list[object] = []  # every process the pool started
    real_submit = ProcessPoolExecutor.submit

    def submit(self, fn, *args):  # noqa: ANN001, ANN002, ANN202
        future = real_submit(self, fn, *args)
        spawned.extend(p for p in self._processes.values() if p not in spawned)  # noqa: SLF001
        return future

    monkeypatch.setattr(ProcessPoolExecutor, "submit", submit)
    with (
        pytest.raises(KeyboardInterrupt),
        parallel.Processes(2, ("privacy.suppression",)),
    ):
        raise KeyboardInterrupt  # at once: the processes may still be starting
    assert spawned and not any(p.is_alive() for p in spawned)


def test_worker_processes_take_the_waiting_work_of_highest_priority_first() -> None:
    """Work waits in `Processes`, not in the processes' queue: a process that comes free takes
    the piece of highest priority submitted so far (the first submitted among equals). A long
    piece submitted late by one population's level starts before the many short ones another
    level submitted earlier. Pieces still waiting when the processes close are cancelled."""
    import time
    from concurrent.futures import CancelledError

    with parallel.Processes(1, ()) as pool:
        busy = pool.submit(_started_after, 1.0)  # holds the only process for a second
        low = [pool.submit(_started_after, 0.0, priority=1) for _ in range(2)]
        high = pool.submit(_started_after, 0.0, priority=5)
        middle = pool.submit(_started_after, 0.0, priority=3)
        level = pool.submit(_started_after, 0.0, priority=1)
        starts = [f.result(timeout=60) for f in (busy, high, middle, *low, level)]
        assert starts == sorted(starts)  # busy, then high, middle, the lows and the last low
    with parallel.Processes(1, ()) as pool:
        running = pool.submit(_started_after, 2.0)
        time.sleep(0.2)
        waiting = pool.submit(_started_after, 0.0, priority=9)
        pool.close(terminate=True)
        with pytest.raises(CancelledError):
            waiting.result(timeout=60)
        with pytest.raises(RuntimeError, match="closed"):
            pool.submit(_started_after, 0.0)
    assert running.done()


def test_a_priority_of_several_numbers_ranks_by_its_first_number_first() -> None:
    """A release ranks a level's parts by the levels still to come after it, then by their
    work: (1, 2) waits for nothing ranked (2, x), and goes before (0, 500) and (1, 1)."""
    with parallel.Processes(1, ()) as pool:
        busy = pool.submit(_started_after, 1.0, priority=(0, 0))
        last = pool.submit(_started_after, 0.0, priority=(0, 500))
        third = pool.submit(_started_after, 0.0, priority=(1, 1))
        second = pool.submit(_started_after, 0.0, priority=(1, 2))
        first = pool.submit(_started_after, 0.0, priority=(2, 0))
        starts = [f.result(timeout=60) for f in (busy, first, second, third, last)]
        assert starts == sorted(starts)


def test_an_error_in_a_worker_process_is_raised_where_the_answer_is_read() -> None:
    with parallel.Processes(1, ()) as pool:
        failed = pool.submit(_fails, "no part")
        after = pool.submit(_pid, 0)  # the process goes on with the next piece
        with pytest.raises(ValueError, match="no part"):
            failed.result(timeout=60)
        assert after.result(timeout=60) > 0


def _threads_used(_: int) -> int:
    """How many threads `in_threads` ran two items on in this process (each item holds its
    thread a moment, so two threads, where it may use them, each take one)."""
    import time

    def item(_: int) -> int:
        time.sleep(0.2)
        return threading.get_ident()

    return len(set(parallel.in_threads(item, [0, 1])))


def test_a_worker_of_a_pool_with_a_process_per_core_runs_its_items_in_turn() -> None:
    """The pool's other processes keep every core busy already: in its workers `in_threads`
    (a part's LP chunks) runs its items one after the other, not on threads that would only
    take turns with them; a worker of a pool with fewer processes than cores still uses
    them, as this process does."""
    if parallel.threads() < 2 or parallel.cores() < 2:
        pytest.skip("one core here: in_threads runs its items in turn in every process")
    assert _threads_used(0) == 2
    with parallel.Processes(parallel.cores()) as pool:
        assert pool.submit(_threads_used, 0).result(timeout=60) == 1
    with parallel.Processes(parallel.cores() - 1) as pool:
        assert pool.submit(_threads_used, 0).result(timeout=60) == 2


def _started_after(seconds: float) -> float:
    """When this piece started (then it holds its process for ``seconds``)."""
    import time

    started = time.time()
    time.sleep(seconds)
    return started


def _fails(message: str) -> None:
    raise ValueError(message)


def test_cores_are_those_this_process_may_run_on() -> None:
    """What a command line's release protection gets: the cores of this process's affinity
    (fewer than the machine's in a container that limits them), at least one."""
    import os

    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert parallel.cores() == max(1, expected or 1)


_MISMATCH_SCRIPT = """
import sys
from concurrent.futures.process import BrokenProcessPool

sys.path.insert(0, sys.argv[1])  # the caller's copy of the module

import edudash_probe
from privacy import parallel

if __name__ == "__main__":
    with parallel.Processes(1, ("edudash_probe",)) as pool:
        try:
            print(pool.submit(edudash_probe.where, 0).result(timeout=60))
        except BrokenProcessPool:
            print("refused" if pool.broken else "refused, not marked broken")
"""


@pytest.mark.parametrize("other_copy", [True, False])
def test_worker_processes_run_only_the_callers_code(tmp_path, other_copy: bool) -> None:  # noqa: ANN001
    """Python 3.11's fork server imports a pool's modules with the folder it was started from
    first on its path: started in another checkout, its processes would protect with that
    checkout's code. A process that imported a module from another file than its caller
    refuses to start (the pool is marked broken: a release then protects in its own
    process)."""
    import multiprocessing
    import os
    import subprocess
    import sys

    if "forkserver" not in multiprocessing.get_all_start_methods():
        pytest.skip("this platform has no fork server: processes are spawned")
    ours, here = tmp_path / "ours", tmp_path / "here"
    ours.mkdir()
    here.mkdir()
    probe = "def where(_):\n    return __file__\n"
    (ours / "edudash_probe.py").write_text(probe, encoding="utf-8")
    if other_copy:
        (here / "edudash_probe.py").write_text(probe, encoding="utf-8")
    (tmp_path / "run.py").write_text(_MISMATCH_SCRIPT, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(tmp_path / "run.py"), str(ours)],
        cwd=here,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 0, done.stderr
    answer = done.stdout.strip().splitlines()[-1]
    if other_copy:
        assert answer == "refused"
        assert "edudash_probe" in done.stderr and str(here) in done.stderr
    else:
        assert answer == str(ours / "edudash_probe.py")
