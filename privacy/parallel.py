"""Independent LP work run side by side on this machine's cores.

HiGHS releases the interpreter's lock while it solves, so threads (not processes: no copying
of cell systems) keep two cores busy where the work is independent: a round's neighbourhood
LPs, an audit's groups of components, a custom table's re-proof of earlier cells beside the
attack on its new cells. Results never depend on the number of threads: callers read them in
a fixed order, and with one thread the same work runs in turn.

Whole protections of independent parts run in worker processes instead (`Processes`): each
is seconds of work in Python as much as in HiGHS.
"""

from __future__ import annotations

import gc
import heapq
import importlib
import importlib.util
import itertools
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Generic, TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")

_THREADS = min(2, os.cpu_count() or 1)
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None  # `in_threads`
_in_pool = threading.local()  # .active: this thread runs a task of `_pool`
_cores_taken = False  # a worker process of a pool that has a process per core (`_import`)


def threads() -> int:
    """How many pieces of independent work run at once."""
    return _THREADS


def cores() -> int:
    """The cores this process may run on (a container may allow fewer than the machine has):
    the worker processes a command line gives a release's protection."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1  # pragma: no cover - platforms without affinity (macOS)


def in_threads(fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """``[fn(item) for item in items]``, up to `threads()` at a time (same results, in order).

    ``fn`` must only read shared state. Called from a task of the pool itself, the items run
    in turn (waiting on the pool from inside it could leave no worker free); so they do in a
    worker process of `Processes` with a process per core, whose other processes keep every
    core busy already: threads there only took turns with them. (Scale-1 release of 2023-24
    on two cores: 8 alternated pairs, 7 faster, median 11.42 -> 11.22 s, CPU 21.6 -> 21.4 s;
    the same statuses, as the results do not depend on where the items ran.)
    """
    global _pool
    if _THREADS < 2 or len(items) < 2 or _cores_taken or getattr(_in_pool, "active", False):
        return [fn(item) for item in items]
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_THREADS, thread_name_prefix="edudash-lp")
        pool = _pool

    def task(item: _T) -> _R:
        _in_pool.active = True
        try:
            return fn(item)
        finally:
            _in_pool.active = False

    return list(pool.map(task, items))


def beside(fn: Callable[..., _R], *args: object) -> Future[_R]:
    """``fn(*args)`` on a thread of its own while the caller goes on (with one thread: now).

    Either way the caller reads the answer from the returned future, at a point of its
    choosing, so what it does with the answer does not depend on the machine. ``fn`` must
    only read state the caller leaves alone until then. Each call gets a new thread: a
    caller never waits behind another's work (two staff members' custom tables at once).
    """
    done: Future[_R] = Future()

    def run() -> None:
        try:
            done.set_result(fn(*args))
        except BaseException as exc:  # raised where the caller reads the answer
            done.set_exception(exc)

    if _THREADS < 2:
        run()
    else:
        threading.Thread(target=run, name="edudash-beside", daemon=True).start()
    return done


class Processes:
    """Worker processes started once and kept for several batches of work (a release's levels).

    Forked from a fork server (`_context`), never from this process: the server is a new
    interpreter that holds none of DuckDB's or Polars' threads, imports ``modules`` once and
    forks each process from that state, and lives as long as this process, so later pools
    start in milliseconds. Where a platform has no fork server (Windows), they are spawned,
    and each imports ``modules`` itself (about 0.5 s of CPU for `privacy.suppression`).
    Either way each process imports the caller's main script again: a script that starts
    them needs Python's ``if __name__ == "__main__":`` guard, or they die at once and every
    `submit` raises ``BrokenProcessPool``. They start at once, on a thread of their own, while
    the caller goes on: started before the first work is ready, the first batch does not wait
    for them, and the caller prepares it meanwhile (the first start waits until the fork
    server has imported ``modules``: the constructor took 0.25 s of a release's start when it
    started them itself; scale 1, 2023-24, on two cores, 4 alternated pairs, 3 faster: median
    10.41 -> 10.35 s, and more where the first population prepares alone, see
    `privacy.release._protect_top_down`).

    Work waits here, not in the processes' queue: each process gets its next piece only when
    it is free, the piece of highest ``priority`` submitted so far (then the first submitted).
    Several callers share the processes (a release's populations, each on its own thread),
    so a long piece one of them submits late does not wait behind another's many short ones.
    """

    def __init__(self, count: int, modules: Sequence[str] = ()) -> None:
        """count: processes (at least 1); modules: imported by each as it starts."""
        if count < 1:
            raise ValueError(f"a pool needs at least one process, not {count}")
        self.count = count
        self._waiting: list[tuple[tuple[float, ...], int, Callable, object, Future]] = []  # a heap
        self._order = itertools.count()
        self._running = 0
        self._closed = False
        # True once a piece failed because the processes broke (e.g. one failed to start):
        # every later piece would fail the same way, so callers may do the work themselves
        self.broken = False
        self._state = threading.Lock()
        self._executor = ProcessPoolExecutor(
            count,
            mp_context=_context(modules),
            initializer=_import,
            initargs=(tuple(modules), count >= cores(), _origins(modules)),
        )
        # processes start as work arrives: one call each starts them all, on a thread of its
        # own, since the first waits until the fork server has imported ``modules``
        self._starting = threading.Thread(target=self._start, name="edudash-start", daemon=True)
        self._starting.start()

    def _start(self) -> None:
        """Start every process now (see `__init__`).

        On a thread: the first start waits for the fork server to be up, which imports
        ``modules`` first (`privacy.suppression`: a quarter of a second), and the caller
        prepares the first work meanwhile; a piece handed out before the processes are up
        waits for them on the thread that hands it out (`_dispatch`).
        """
        try:
            for _ in range(self.count):
                self._executor.submit(_import, ())
        except Exception:  # broken at once (e.g. no __main__ guard): `submit` raises it again
            pass

    def submit(
        self, fn: Callable[[_T], _R], item: _T, priority: float | tuple[float, ...] = 0.0
    ) -> Future[_R]:
        """``fn(item)`` in a worker process (both must pickle; ``fn`` by its module's name),
        as soon as a process is free and no piece of higher ``priority`` waits (a tuple of
        numbers compares as tuples do: its first number first; give every piece of one pool
        the same kind)."""
        key = tuple(-float(p) for p in (priority if isinstance(priority, tuple) else (priority,)))
        done: Future[_R] = Future()
        with self._state:
            if self._closed:
                raise RuntimeError("the worker processes are closed")
            heapq.heappush(self._waiting, (key, next(self._order), fn, item, done))
        self._dispatch()
        return done

    def _dispatch(self) -> None:
        """Hand waiting pieces to free processes, highest priority first."""
        while True:
            with self._state:
                if self._closed or self._running >= self.count or not self._waiting:
                    return
                _, _, fn, item, done = heapq.heappop(self._waiting)
                if not done.set_running_or_notify_cancel():
                    continue  # cancelled while it waited
                self._running += 1
            try:
                inner = self._executor.submit(fn, item)
            except BaseException as exc:  # e.g. the processes are broken: the caller sees it
                with self._state:
                    self._running -= 1
                    self.broken |= isinstance(exc, BrokenProcessPool)
                done.set_exception(exc)
                continue
            inner.add_done_callback(lambda f, done=done: self._finished(f, done))

    def _finished(self, inner: Future, done: Future) -> None:
        with self._state:
            self._running -= 1
        if inner.cancelled():
            done.set_exception(CancelledError())
        elif inner.exception() is not None:
            self.broken |= isinstance(inner.exception(), BrokenProcessPool)
            done.set_exception(inner.exception())
        else:
            done.set_result(inner.result())
        # the next piece is handed out on a thread of its own: this callback runs on the
        # executor's own thread, which reports results and should not submit work itself
        threading.Thread(target=self._dispatch, name="edudash-dispatch", daemon=True).start()

    def close(self, *, terminate: bool = False) -> None:
        """Stop the processes: after their work, or at once (``terminate``, work lost).

        Pieces still waiting for a process are cancelled either way (as the processes' own
        queue was): close after reading every result the work needs."""
        with self._state:
            self._closed = True
            waiting, self._waiting = self._waiting, []
        for *_, done in waiting:
            done.cancel()
        self._starting.join()  # no process starts after the executor is shut down
        if terminate:
            running = getattr(self._executor, "_processes", None) or {}
            for process in list(running.values()):
                process.terminate()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.close(terminate=kind is not None)


def _context(modules: Sequence[str]) -> multiprocessing.context.BaseContext:
    """The fork server's context, its server importing ``modules`` before it forks (they are
    taken when it starts: the first pool's modules serve every later one); spawn where there
    is no fork server.

    The server does not import the caller's main script (the context's default): a script
    run as a worker's main module is imported in each process anyway, and one without the
    ``__main__`` guard must fail in its processes, not run in the server. Two processes
    importing `privacy.suppression` under a small main script: their start 0.98 -> 0.68 s of
    CPU (one import instead of two). Scale-1 release of 2023-24, 4 alternated pairs against
    spawned processes: median CPU 20.05 -> 19.83 s, wall unchanged (10.74 / 10.75 s: the
    processes wait for their first work either way); the same statuses.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")  # pragma: no cover - Windows
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(modules))
    return context


def _origins(modules: Sequence[str]) -> tuple[str | None, ...]:
    """The file each of ``modules`` is (or would be) imported from in this process."""
    found: list[str | None] = []
    for name in modules:
        module = sys.modules.get(name)
        if module is not None:
            found.append(getattr(module, "__file__", None))
        else:
            spec = importlib.util.find_spec(name)
            found.append(None if spec is None else spec.origin)
    return tuple(found)


def _real(path: str | None) -> str | None:
    return None if path is None else os.path.realpath(path)


def _import(
    modules: tuple[str, ...],
    cores_taken: bool | None = None,
    origins: tuple[str | None, ...] | None = None,
) -> None:
    """A worker process's start: import ``modules``, then set every object so far aside from
    the garbage collector (`gc.freeze`): modules live as long as the process, and each full
    collection walked them all again (scale-1 release: about 0.25 s of the workers' time in
    four collections, 0.02 s once they are set aside).

    cores_taken: whether the pool has a process per core (`in_threads` then runs its items in
        turn here); None leaves it as it is.
    origins: the files the caller imports ``modules`` from (`_origins`): a process that
        imported others fails to start, so no work runs in code other than the caller's. (The
        fork server of Python 3.11 imports them with the folder it was started from first
        on its path: run from another checkout, its processes protected with that
        checkout's code.) Its pool is then broken, and a release protects in its own
        process instead (`privacy.release._run_parts`).
    """
    global _cores_taken
    if cores_taken is not None:
        _cores_taken = cores_taken
    for name in modules:
        importlib.import_module(name)
    if origins is not None:
        mine = _origins(modules)
        for name, theirs, ours in zip(modules, origins, mine, strict=True):
            if _real(theirs) != _real(ours):
                raise ImportError(
                    f"worker process imported {name} from {ours}, its caller from {theirs}"
                )
    gc.freeze()


class Later(Generic[_R]):
    """``fn(*args)``, started beside the caller (`beside`) when `start` is first called, or run
    when its result is first asked for. For work a caller can do while it waits on others."""

    def __init__(self, fn: Callable[..., _R], *args: object) -> None:
        self._fn = fn
        self._args = args
        self._future: Future[_R] | None = None

    def start(self) -> None:
        """Start the work now, on a thread of its own (again: nothing)."""
        if self._future is None:
            self._future = beside(self._fn, *self._args)

    def result(self) -> _R:
        """The work's result (waited for; the work is done here if never started)."""
        self.start()
        assert self._future is not None
        return self._future.result()


def _forget_threads() -> None:
    """In a forked child the parent's threads are not there: new ones start when needed."""
    global _pool, _lock
    _pool, _lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_threads)
