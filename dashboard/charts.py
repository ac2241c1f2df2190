"""Plotly charts of protected tables that never draw a hidden or coded value as if it were known.

Input is always `ProtectedTable.chart_frame()` rows (optionally filtered): `count`/`rate` are
null when hidden or coded, `marker` says why, and `count_display`/`rate_display` are the only
texts used for hover. A hidden value is a gap with a "*" mark at the axis; a coded rate (e.g.
">=95%") is a hatched bar spanning its whole range, never a point. Colours are the Okabe-Ito
palette (safe for the common colour-vision deficiencies) and every chart comes with alt text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from privacy.tables import ProtectedTable

OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
)
HIDDEN_NOTE = (
    "* hidden: fewer than 10 students, or hidden so that a small group cannot be worked out"
)
CODED_NOTE = "hatched = rate shown only as a range near 0% or 100% (its exact value is withheld)"
_CODED = re.compile(r"^(<=|>=)\s*(\d+(?:\.\d+)?)%$")


@dataclass(frozen=True)
class ChartSpec:
    """What a chart shows: `value` is "count" (students) or "rate" (percent)."""

    x: str
    value: str
    series: str | None = None
    title: str = ""
    x_title: str = ""
    value_title: str = ""
    count_label: str = "Students"


def _frame_hash(frame: pl.DataFrame) -> tuple:
    """Order-sensitive identity of the rows drawn (the row order is the bar order)."""
    return (tuple(frame.columns), tuple(frame.hash_rows(seed=7).to_list()))


def coded_range(display: str) -> tuple[float, float] | None:
    """The (low, high) percent range a coded rate display stands for, e.g. '>=95%' -> (95, 100)."""
    m = _CODED.match(display.strip())
    if not m:
        return None
    bound = float(m.group(2))
    return (0.0, bound) if m.group(1) == "<=" else (bound, 100.0)


def _hover(spec: ChartSpec) -> str:
    value, x_title = spec.value, spec.x_title
    lines = [f"{x_title or 'Group'}: %{{x}}", f"{spec.count_label}: %{{customdata[0]}}"]
    if value == "rate":
        lines.append("Rate: %{customdata[1]}")
    lines.append("%{customdata[2]}")
    return "<br>".join(lines) + "<extra>%{fullData.name}</extra>"


def _error_bars(g: pl.DataFrame, value: str, markers: list[str]) -> dict | None:
    """Plotly error_y from a noisy table's margin of error (None when the table has no noise)."""
    column = "moe" if value == "count" else "rate_moe"
    if column not in g.columns:
        return None
    moe = [m if mk == "" else None for m, mk in zip(g[column].to_list(), markers, strict=True)]
    if all(m is None for m in moe):
        return None
    return {"type": "data", "array": moe, "visible": True, "thickness": 1.5, "width": 4}


def _note(marker: str) -> str:
    if marker == "suppressed":
        return HIDDEN_NOTE
    if marker == "coded":
        return "range only: " + CODED_NOTE.split("= ", 1)[1]
    return ""


def _groups(frame: pl.DataFrame, spec: ChartSpec) -> list[tuple[str, pl.DataFrame]]:
    if spec.series is None:
        return [(spec.value_title or spec.value, frame)]
    return [(str(k[0]), g) for k, g in frame.group_by(spec.series, maintain_order=True)]


def _wrap(text: str, width: int = 16) -> str:
    """A category label broken into lines (Plotly <br>) so long labels need no steep rotation."""
    words, lines, line = str(text).split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "<br>".join(lines[:4]) + ("..." if len(lines) > 4 else "")


def _custom(g: pl.DataFrame, markers: list[str]) -> list[list[str]]:
    return [
        [c, r, _note(m)]
        for c, r, m in zip(
            g["count_display"].to_list(), g["rate_display"].to_list(), markers, strict=True
        )
    ]


def _add_marks(
    fig: go.Figure,
    spec: ChartSpec,
    label: str,
    colour: str,
    xs: list[str],
    markers: list[str],
    custom: list[list[str]],
    displays: list[str],
    *,
    range_width: float | None = None,
) -> tuple[bool, bool]:
    """One hatched trace for coded ranges and one "*" trace for hidden values of a series."""
    coded_x, coded_base, coded_h, coded_custom = [], [], [], []
    hidden_x, hidden_custom = [], []
    for x, m, c, disp in zip(xs, markers, custom, displays, strict=True):
        rng = coded_range(disp) if (m == "coded" and spec.value == "rate") else None
        if rng is not None:
            coded_x.append(x)
            coded_base.append(rng[0])
            coded_h.append(rng[1] - rng[0])
            coded_custom.append(c)
        elif m != "":
            hidden_x.append(x)
            hidden_custom.append(c)
    if coded_x:
        fig.add_bar(
            x=coded_x,
            y=coded_h,
            base=coded_base,
            width=range_width,
            name=f"{label} (range only)",
            legendgroup=label,
            showlegend=False,
            marker={
                "color": "rgba(0,0,0,0)",
                "line": {"color": colour, "width": 1.5},
                "pattern": {"shape": "/", "fgcolor": colour, "solidity": 0.35},
            },
            customdata=coded_custom,
            hovertemplate=_hover(spec),
            meta={"value": spec.value, "coded_range": True},
        )
    if hidden_x:
        fig.add_scatter(
            x=hidden_x,
            y=[0] * len(hidden_x),
            mode="text",
            text=["*"] * len(hidden_x),
            textposition="top center",
            textfont={"size": 16, "color": colour},
            name=f"{label} (hidden)",
            legendgroup=label,
            showlegend=False,
            customdata=hidden_custom,
            hovertemplate=_hover(spec),
            meta={"value": spec.value, "hidden_marker": True},
        )
    return bool(hidden_x), bool(coded_x)


def bar_chart(frame: pl.DataFrame, spec: ChartSpec) -> go.Figure:
    """Grouped bars of `spec.value` by `spec.x` (and `spec.series`) with honest markers.

    Shown values are solid bars; hidden values draw nothing but a "*" at the axis; coded rates
    draw a hatched bar over their whole range (e.g. 95-100%) with the range in the hover.
    """
    fig = go.Figure()
    any_hidden = any_coded = False
    for i, (label, g) in enumerate(_groups(frame, spec)):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        xs = [_wrap(v) for v in g[spec.x].to_list()]
        markers = g["marker"].to_list()
        custom = _custom(g, markers)
        shown = [
            v if m == "" else None for v, m in zip(g[spec.value].to_list(), markers, strict=True)
        ]
        fig.add_bar(
            x=xs,
            y=shown,
            error_y=_error_bars(g, spec.value, markers),
            name=label,
            legendgroup=label,
            marker_color=colour,
            customdata=custom,
            hovertemplate=_hover(spec),
            meta={"value": spec.value},
        )
        hidden, coded = _add_marks(
            fig, spec, label, colour, xs, markers, custom, g["rate_display"].to_list()
        )
        any_hidden |= hidden
        any_coded |= coded
    _layout(fig, spec, any_hidden, any_coded)
    if spec.value == "rate":
        fig.update_yaxes(range=[0, 100], ticksuffix="%")
    fig.update_layout(barmode="group")
    return fig


def trend_chart(frame: pl.DataFrame, spec: ChartSpec) -> go.Figure:
    """Lines over school years; a hidden year is a gap, a coded year a hatched range bar.

    The coded bar spans its whole range (e.g. 95-100 for '>=95%') with the range in the hover,
    so no exact value is implied; a hidden year breaks the line and shows "*" at the axis.
    """
    fig = go.Figure()
    any_hidden = any_coded = False
    symbols = ("circle", "square", "diamond", "triangle-up", "x", "star", "hexagon", "cross")
    for i, (label, g) in enumerate(_groups(frame, spec)):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        xs = [str(v) for v in g[spec.x].to_list()]
        markers = g["marker"].to_list()
        values = [
            v if m == "" else None for v, m in zip(g[spec.value].to_list(), markers, strict=True)
        ]
        custom = _custom(g, markers)
        fig.add_scatter(
            x=xs,
            y=values,
            mode="lines+markers",
            error_y=_error_bars(g, spec.value, markers),
            name=label,
            legendgroup=label,
            line={"color": colour, "width": 2.5},
            marker={"symbol": symbols[i % len(symbols)], "size": 9, "color": colour},
            connectgaps=False,
            customdata=custom,
            hovertemplate=_hover(spec),
            meta={"value": spec.value},
        )
        hidden, coded = _add_marks(
            fig,
            spec,
            label,
            colour,
            xs,
            markers,
            custom,
            g["rate_display"].to_list(),
            range_width=0.15,
        )
        any_hidden |= hidden
        any_coded |= coded
    _layout(fig, spec, any_hidden, any_coded)
    if spec.value == "rate":
        fig.update_yaxes(range=[0, 100], ticksuffix="%")
    else:
        fig.update_yaxes(rangemode="tozero")
    fig.update_xaxes(type="category")
    return fig


def _layout(fig: go.Figure, spec: ChartSpec, hidden: bool, coded: bool) -> None:
    notes = [n for n, on in ((HIDDEN_NOTE, hidden), (CODED_NOTE, coded)) if on]
    fig.update_layout(
        title={"text": spec.title, "font": {"size": 15}, "y": 0.98, "yanchor": "top"},
        colorway=list(OKABE_ITO),
        showlegend=spec.series is not None,
        margin={"l": 10, "r": 10, "t": 90 if spec.series else 50, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        hoverlabel={"align": "left"},
        font={"family": "sans-serif"},
    )
    fig.update_xaxes(title_text=spec.x_title, automargin=True)
    fig.update_yaxes(title_text=spec.value_title, automargin=True, rangemode="tozero")
    shown = any(
        v is not None
        for trace in fig.data
        if not (trace.meta or {}).get("hidden_marker")
        for v in (trace.y or ())
    )
    if not shown:
        fig.add_annotation(
            text="Every value in this chart is hidden (*) to protect student privacy",
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5,
            showarrow=False,
            font={"size": 13},
        )
    fig.layout.meta = {"notes": notes}


def describe(frame: pl.DataFrame, spec: ChartSpec) -> str:
    """Alt text: what the chart plots, with every value as published (markers included)."""
    value_col = "rate_display" if spec.value == "rate" else "count_display"
    parts = []
    keys = [spec.series, spec.x] if spec.series else [spec.x]
    for row in frame.select(*keys, value_col).iter_rows():
        *names, shown = row
        parts.append(f"{' '.join(str(n) for n in names)}: {shown or '*'}")
    head = f"{spec.title}. {spec.value_title or spec.value} by {spec.x_title or spec.x}"
    if spec.series:
        head += f" and {spec.series.replace('_label', '').replace('_', ' ')}"
    listed = "; ".join(parts[:40]) + ("; ..." if len(parts) > 40 else "")
    return f"{head}. Values: {listed}. * = hidden; <=/>= = range only."


def show_chart(
    frame: pl.DataFrame, spec: ChartSpec, *, kind: str = "bar", key: str | None = None
) -> None:
    """Draw the chart full-width with alt text and a caption naming the markers used."""
    if frame.is_empty():
        st.info("No rows to chart for this selection.")
        return
    fig, alt = _figure(frame, spec, kind)
    st.plotly_chart(
        fig,
        width="stretch",
        key=key,
        alt=alt,
        config={"displaylogo": False, "responsive": True},
    )
    notes = fig.layout.meta.get("notes", []) if isinstance(fig.layout.meta, dict) else []
    caption = f"Chart: {spec.title}." + (" " + " ".join(notes) if notes else "")
    st.caption(caption, help=alt)


@st.cache_resource(show_spinner=False, max_entries=512, hash_funcs={pl.DataFrame: _frame_hash})
def _figure(frame: pl.DataFrame, spec: ChartSpec, kind: str) -> tuple[go.Figure, str]:
    """The figure and its alt text, cached on the protected rows drawn (never on who asks)."""
    fig = trend_chart(frame, spec) if kind == "trend" else bar_chart(frame, spec)
    return fig, describe(frame, spec)


def series_order(values: Sequence[str]) -> list[str]:
    """Stable, de-duplicated order of series names as they first appear."""
    return list(dict.fromkeys(values))


def stacked_chart_frame(tables: dict[str, ProtectedTable], column: str) -> pl.DataFrame:
    """One chart frame from several protected tables, each labelled in `column` by its key.

    Only the tables' own chart frames are used, so hidden and coded cells keep their markers.
    """
    return pl.concat(
        [
            t.chart_frame().select(
                pl.lit(label).alias(column),
                "count",
                "rate",
                "count_display",
                "rate_display",
                "marker",
            )
            for label, t in tables.items()
        ]
    )
