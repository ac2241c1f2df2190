"""Caches for the dashboard, keyed on the warehouse file's identity, the year and the viewer's scope.

The public release of a year is protected once (by `privacy.public_release`) and then held here
for every viewer: pages never protect on a click. A staff member's custom table is cached per
(warehouse identity, request, user scope), so one person's table is never served to another
and a rebuilt warehouse never serves stale tables.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading

import polars as pl
import streamlit as st

import privacy
from dashboard.db import noise_setting, warehouse_identity, warehouse_path
from privacy.access import User
from privacy.audit_log import record_event
from privacy.release import prepare_custom_tables as _read_ahead
from privacy.release import published_years, release_years

log = logging.getLogger(__name__)


def identity() -> tuple[str, int, int, int]:
    """The current warehouse file identity (path, device, inode, mtime)."""
    return warehouse_identity(warehouse_path())


def user_scope(user: User | None) -> tuple[str, str, str, tuple[str, ...]]:
    """Everything about a viewer that can change what they are shown: part of every user key."""
    if user is None:
        return ("public", "public", "", ())
    return (user.user_id, str(user.role), user.district_id or "", tuple(user.school_ids))


@st.cache_resource(show_spinner=False, max_entries=64)
def _public_release(
    ident: tuple[str, int, int, int], year: str, noise_key: str
) -> privacy.PublicRelease:
    noise = noise_setting()
    if noise is None:
        return privacy.public_release(ident[0], year)
    return privacy.public_release(ident[0], year, noise=noise)


def _noise_key() -> str:
    noise = noise_setting()
    return "" if noise is None else repr(noise)


_READY: set[tuple] = set()


def public_release(year: str) -> privacy.PublicRelease:
    """The jointly protected public release of `year` (protected once per warehouse build).

    The first viewer of a year also starts rendering all of its tables in the background
    (`_rendering`): a page renders a table when it first shows it, and the school-level
    tables a profile switches to took most of a second to render on a first click.
    """
    key = (identity(), year, _noise_key())
    if key in _READY:
        release = _public_release(*key)
    else:
        with st.spinner(f"Preparing the protected {year} tables (once per warehouse build)..."):
            release = _public_release(*key)
        _READY.add(key)
    _rendering(*key)  # once per release held (a cache hit after that)
    return release


def _render_quietly(release: privacy.PublicRelease) -> None:
    try:
        release.render_all(stop=_STOPPING)
    except Exception:  # noqa: BLE001 - rendering ahead only saves time; a page renders again
        log.exception("rendering the %s public tables ahead failed", release.school_year)


# Set when the process exits: a thread still rendering stops after its current table (a daemon
# thread killed inside polars or DuckDB at exit aborts the process).
_STOPPING = threading.Event()
_AHEAD_PREFIX = "render-ahead "


def stop_rendering_ahead(timeout: float = 30.0, *, resume: bool = False) -> None:
    """Stop every background rendering thread: each returns after the table it is on.

    resume: let threads started from now on render again (a test ending, not the process).
    """
    _STOPPING.set()
    for thread in threading.enumerate():
        if thread.name.startswith(_AHEAD_PREFIX) and thread is not threading.current_thread():
            thread.join(timeout)
    if resume:
        _STOPPING.clear()


atexit.register(stop_rendering_ahead)


@st.cache_resource(show_spinner=False, max_entries=64)
def _rendering(ident: tuple[str, int, int, int], year: str, noise_key: str) -> threading.Thread:
    release = _public_release(ident, year, noise_key)
    thread = threading.Thread(
        target=_render_quietly, args=(release,), name=f"{_AHEAD_PREFIX}{year}", daemon=True
    )
    thread.start()
    return thread


def public_table(year: str, name: str) -> privacy.ProtectedTable:
    """One table of the public release of `year`, by catalogue name."""
    return public_release(year).table(name)


@st.cache_resource(show_spinner=False, max_entries=256)
def _open_table(ident: tuple[str, int, int, int], request_json: str) -> privacy.ProtectedTable:
    return privacy.release_table(ident[0], privacy.TableRequest.from_json(request_json), None)


def open_records_table(request: privacy.TableRequest) -> privacy.ProtectedTable:
    """A public staff (open records) table outside the catalogue: never a student count."""
    if request.measure != "staff":
        raise ValueError("only staff tables are served outside the public catalogue")
    return _open_table(identity(), request.to_json())


@st.cache_data(show_spinner=False, max_entries=256, ttl=3600)
def _custom_table(
    ident: tuple[str, int, int, int],
    request_json: str,
    scope: tuple[str, str, str, tuple[str, ...]],
    noise_key: str,
    _user: User,
) -> privacy.ProtectedTable:
    request = privacy.TableRequest.from_json(request_json)
    noise = noise_setting()
    if noise is None:
        table = privacy.release_table(ident[0], request, _user)
    else:
        table = privacy.release_table(ident[0], request, _user, noise=noise)
    # Runs only when the table is actually released (a cache hit re-serves the same release).
    record_event(
        ident[0],
        _user.user_id,
        "release",
        {"release_id": table.release_id, "request": json.loads(request_json), "via": "explorer"},
    )
    return table


def _read_ahead_quietly(path: str, year: str) -> None:
    try:
        _read_ahead(path, year)
    except Exception:  # noqa: BLE001 - a read-ahead only saves time; the table build reports
        log.exception("reading ahead for the %s custom tables failed", year)


@st.cache_resource(show_spinner=False, max_entries=16)
def _reading_ahead(ident: tuple[str, int, int, int], year: str) -> threading.Thread:
    thread = threading.Thread(
        target=_read_ahead_quietly, args=(ident[0], year), name=f"read-ahead {year}", daemon=True
    )
    thread.start()
    return thread


def prepare_custom_tables(year: str) -> None:
    """Start, once per warehouse file and year, a background read-ahead of what a staff custom
    table of `year` needs (`privacy.release.prepare_custom_tables`), so the first table a staff
    member builds is not the slow one. Nothing is released; noisy tables need none of it."""
    if noise_setting() is None:
        _reading_ahead(identity(), year)


def custom_table(request: privacy.TableRequest, user: User) -> privacy.ProtectedTable:
    """A staff member's custom table, protected with everything already released for its year.

    The first call for (warehouse, request, user scope) releases it: it enters the release
    registry under the user's ID and the audit trail records the release. Later calls within
    the hour re-serve that same release to the same user only.
    """
    return _custom_table(identity(), request.to_json(), user_scope(user), _noise_key(), user)


@st.cache_data(show_spinner=False, max_entries=16)
def _years(ident: tuple[str, int, int, int]) -> list[str]:
    return release_years(ident[0])


def years() -> list[str]:
    """The school years whose public release is ready, oldest first.

    Without noise, the years whose suppressed release is recorded (`privacy.release.
    published_years`): protecting a Maine-sized year takes many minutes, so pages never start
    it; `edudash serve` protects the missing years before it serves.
    """
    if _noise_key():
        # a noisy release is drawn in seconds: every year of the warehouse is offered
        return _years(identity())
    # not cached: a year released while the app runs appears at once (one registry query)
    return published_years(identity()[0])


@st.cache_data(show_spinner=False, max_entries=16)
def _districts(ident: tuple[str, int, int, int]) -> pl.DataFrame:
    return privacy.list_districts(ident[0])


def districts() -> pl.DataFrame:
    """Public directory of districts."""
    return _districts(identity())


@st.cache_data(show_spinner=False, max_entries=16)
def _schools(ident: tuple[str, int, int, int]) -> pl.DataFrame:
    return privacy.list_schools(ident[0])


def schools() -> pl.DataFrame:
    """Public directory of schools."""
    return _schools(identity())


@st.cache_data(show_spinner=False, max_entries=16)
def _dictionary(ident: tuple[str, int, int, int]) -> tuple[pl.DataFrame, pl.DataFrame]:
    return privacy.data_dictionary(ident[0]), privacy.code_sets(ident[0])


def dictionary() -> tuple[pl.DataFrame, pl.DataFrame]:
    """(fields, code sets) of the data dictionary."""
    return _dictionary(identity())
