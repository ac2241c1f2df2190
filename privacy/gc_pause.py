"""Python's cyclic garbage collector, paused while a protection or an audit runs.

Protecting a table allocates millions of short-lived tuples, lists and dicts. Each time enough
of them have been allocated, the collector walks the young objects, and every tenth such walk
it walks every live object of the process (in the dashboard, Streamlit's too). A custom table
over every district at scale 1 spent about 0.3 s of 2.8 s there, for almost no garbage: the
protection's objects are freed by reference counting as soon as they are dropped. Pausing
changes no result, only when unreachable cycles are freed (when the collector runs again).
"""

from __future__ import annotations

import functools
import gc
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")

_lock = threading.Lock()
_depth = 0  # pauses open in this process (nested, or in several threads at once)
_was_enabled = True


@contextmanager
def paused() -> Iterator[None]:
    """Pause the collector for the ``with`` block; it restarts when the last open pause ends
    (and only if it was running when the first began)."""
    global _depth, _was_enabled
    try:
        with _lock:
            _depth += 1  # counted first: an interrupt after it still ends the pause below
            if _depth == 1:
                _was_enabled = gc.isenabled()
                gc.disable()
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()


def _after_fork() -> None:
    """A forked child has none of the parent's open pauses: its collector runs again."""
    global _depth, _lock
    _lock = threading.Lock()
    if _depth and _was_enabled:
        gc.enable()
    _depth = 0


os.register_at_fork(after_in_child=_after_fork)


def pausing(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """``fn`` with the collector paused while it runs (see `paused`)."""

    @functools.wraps(fn)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with paused():
            return fn(*args, **kwargs)

    return run
