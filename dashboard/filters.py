"""Filters bound to the URL (`st.query_params`), so a link reopens the same view.

Every filter widget is bound with `bind="query-params"`: changing it updates the URL, and
opening a URL sets it (an invalid value in the URL is ignored by Streamlit). Filters only
choose WHICH protected rows a page shows; who may see what always comes from the viewer's
server-side session (`dashboard.session`), never from a URL parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import streamlit as st

T = TypeVar("T")

# URL parameter names that are never filters: the dashboard ignores them entirely.
NEVER_FROM_URL: frozenset[str] = frozenset(
    {"role", "user", "user_id", "token", "session", "district_scope", "level", "clearance"}
)


def unique_labels(options: Sequence[T], format_func: Callable[[Any], str]) -> Callable[[Any], str]:
    """A format function whose labels are unique (the URL holds the label of the choice).

    Streamlit writes a bound widget's formatted label into the URL, so two options with the
    same label (e.g. two schools of the same name) get their code appended.
    """
    labels = [str(format_func(o)) for o in options]
    seen = {lab for lab in labels if labels.count(lab) > 1}
    if not seen:
        return format_func

    def fmt(option: Any) -> str:
        text = str(format_func(option))
        return f"{text} ({option})" if text in seen else text

    return fmt


def select(
    label: str,
    options: Sequence[T],
    *,
    key: str,
    default: T | None = None,
    format_func: Callable[[Any], str] = str,
    help: str | None = None,
    container: Any = None,
) -> T:
    """A selectbox whose choice lives in the URL as `?<key>=<option>`."""
    if not options:
        raise ValueError(f"no options for {label}")
    if key in NEVER_FROM_URL:
        raise ValueError(f"{key!r} cannot be a URL filter")
    opts = list(options)
    index = opts.index(default) if default is not None and default in opts else 0
    where = container or st
    return where.selectbox(
        label,
        opts,
        index=index,
        key=key,
        format_func=unique_labels(opts, format_func),
        help=help,
        bind="query-params",
    )


def choose_many(
    label: str,
    options: Sequence[T],
    *,
    key: str,
    default: Sequence[T] = (),
    format_func: Callable[[Any], str] = str,
    max_selections: int | None = None,
    help: str | None = None,
    container: Any = None,
) -> list[T]:
    """A multiselect whose choices live in the URL."""
    if key in NEVER_FROM_URL:
        raise ValueError(f"{key!r} cannot be a URL filter")
    where = container or st
    return where.multiselect(
        label,
        list(options),
        default=list(default),
        key=key,
        format_func=unique_labels(list(options), format_func),
        max_selections=max_selections,
        help=help,
        bind="query-params",
    )


def segmented(
    label: str,
    options: Sequence[T],
    *,
    key: str,
    default: T,
    format_func: Callable[[Any], str] = str,
    container: Any = None,
) -> T:
    """A one-of-few segmented control bound to the URL; always returns a choice."""
    if key in NEVER_FROM_URL:
        raise ValueError(f"{key!r} cannot be a URL filter")
    where = container or st
    value = where.segmented_control(
        label,
        list(options),
        default=default,
        key=key,
        format_func=format_func,
        required=True,
        bind="query-params",
    )
    return default if value is None else value


def filter_row(n: int) -> list[Any]:
    """`n` columns for a row of filters (they stack on a phone-width screen)."""
    return list(st.columns(n))


def year_select(*, key: str = "year", container: Any = None, label: str = "School year") -> str:
    """The school year (default: the latest the warehouse holds), bound to `?year=`."""
    from dashboard.caching import years

    options = list(reversed(years()))
    if not options:
        st.error(
            "No school year's public release is ready yet: `edudash serve` protects each "
            "year's release before it serves the dashboard."
        )
        st.stop()
    return select(label, options, key=key, default=options[0], container=container)
