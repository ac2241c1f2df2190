"""Independent LP work run side by side on this machine's cores.

HiGHS releases the interpreter's lock while it solves, so threads (not processes: no copying
of cell systems) keep two cores busy where the work is independent: a round's neighbourhood
LPs, an audit's groups of components, a custom table's re-proof of earlier cells beside the
attack on its new cells. Results never depend on the number of threads: callers read them in
a fixed order, and with one thread the same work runs in turn.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")

_THREADS = min(2, os.cpu_count() or 1)
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None  # `in_threads`
_in_pool = threading.local()  # .active: this thread runs a task of `_pool`


def threads() -> int:
    """How many pieces of independent work run at once."""
    return _THREADS


def in_threads(fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """``[fn(item) for item in items]``, up to `threads()` at a time (same results, in order).

    ``fn`` must only read shared state. Called from a task of the pool itself, the items run
    in turn (waiting on the pool from inside it could leave no worker free).
    """
    global _pool
    if _THREADS < 2 or len(items) < 2 or getattr(_in_pool, "active", False):
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


def _forget_threads() -> None:
    """In a forked child the parent's threads are not there: new ones start when needed."""
    global _pool, _lock
    _pool, _lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_threads)
