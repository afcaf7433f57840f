"""Scalars kind, chart: a ``Chart`` in, one PNG or SVG image out, every run overlaid (raw
faint, smoothed on top), NaN and infinities marked on the edges.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import matplotlib
import matplotlib.dates as mdates
import matplotlib.ticker as mticker
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import ScaledTranslation

from tbreport.charts.figure import (
    BOTTOM_IN,
    FALLBACK_DPI,
    INK,
    LABEL_SIZE,
    LEGEND_GAP_IN,
    LEGEND_SIZE,
    MIN_LEFT_IN,
    MUTED,
    NOTE_SIZE,
    RAW_ALPHA,
    RIGHT_IN,
    TICK_SIZE,
    TITLE_SIZE,
    TOP_IN,
    CompactFormatter,
    LogFormatter,
    Painter,
    ScaledFormatter,
    ScaledLocator,
    Size,
    Style,
    check_format,
    check_size,
    clean_text,
    compact_labels,
    draw_legend,
    duration_unit,
    figure_rect,
    fit,
    legend_layout,
    text_width,
)
from tbreport.kinds.scalars.transform import padded_range
from tbreport.model import WALL_TIME_END, WALL_TIME_MIN, Chart, ColorScale, Line
from tbreport.options import X_AXES

#: dots per inch of a chart image
DPI = 110.0


def draw_chart(
    chart: Chart,
    image_format: str = "png",
    *,
    painter: Painter | None = None,
    width: float = 7.2,
    height: float = 4.0,
    dpi: float | None = None,
) -> bytes:
    """One chart as PNG or SVG bytes: every run overlaid, raw faint and smoothed on top.

    ``width`` x ``height`` inches is the size without a legend; a legend (more than one run)
    adds rows below the x axis, so the plot area is the same in every chart of a report.
    NaN and +-inf points are marked on the axes edges, and a note counts them. Draws on a
    figure of its own unless a :class:`Painter` is given, which reuses figures across charts.
    """
    painter = painter or Painter()
    check_format(image_format)
    if dpi is None:  # a fallback (the page's script draws the chart) is drawn smaller
        dpi = FALLBACK_DPI if painter.fallback else DPI
    size = check_size(width, height, dpi)
    if chart.x_axis not in X_AXES:
        raise ValueError(
            f"chart {chart.tag!r}: x_axis must be one of {X_AXES}, got {chart.x_axis!r}"
        )
    with matplotlib.rc_context(painter.rc):
        fig = _build_figure(painter, chart, size)
        return painter.save(fig, image_format, size.dpi)


# --------------------------------------------------------------------------------------------
# The figure
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    """A line's arrays ready to draw: float64, inf (and non-positive on log) turned to NaN."""

    line: Line
    x: np.ndarray
    y: np.ndarray
    smoothed: np.ndarray | None
    nan: np.ndarray
    posinf: np.ndarray
    neginf: np.ndarray
    nonpositive: np.ndarray


def _prepare(line: Line, log_y: bool) -> _Prepared:
    x = np.asarray(line.x, dtype=np.float64).ravel()
    raw = np.asarray(line.y, dtype=np.float64).ravel()
    n = min(x.size, raw.size)
    x, raw = x[:n], raw[:n]
    placeable = np.isfinite(x)
    nan = np.isnan(raw) & placeable
    posinf = (raw == np.inf) & placeable
    neginf = (raw == -np.inf) & placeable
    nonpositive = (raw <= 0) & np.isfinite(raw) & placeable if log_y else np.zeros(n, dtype=bool)
    y = np.where(np.isfinite(raw) & ~nonpositive & placeable, raw, np.nan)
    smoothed = None
    if line.smoothed is not None:
        s = np.asarray(line.smoothed, dtype=np.float64).ravel()[:n]
        if s.size == n:
            keep = np.isfinite(s) & placeable & ((s > 0) if log_y else True)
            smoothed = np.where(keep, s, np.nan)
    return _Prepared(line, x, y, smoothed, nan, posinf, neginf, nonpositive)


def _x_limits(lines: list[_Prepared]) -> tuple[float, float]:
    xs = [p.x[np.isfinite(p.x)] for p in lines]
    xs = [x for x in xs if x.size]
    if not xs:
        return 0.0, 1.0
    lo = float(min(x.min() for x in xs))
    hi = float(max(x.max() for x in xs))
    # room for the end markers; at least a relative step, so lo - pad differs from lo even
    # for 2**62 (singular limits would make matplotlib warn)
    pad = (hi - lo) * 0.02 if hi > lo else 1.0
    pad = max(pad, abs(lo) * 1e-9, abs(hi) * 1e-9)
    return lo - pad, hi + pad


def _y_limits(chart: Chart, lines: list[_Prepared]) -> tuple[float, float]:
    values = [p.y[np.isfinite(p.y)] for p in lines]
    values += [p.smoothed[np.isfinite(p.smoothed)] for p in lines if p.smoothed is not None]
    finite = np.concatenate(values) if values else np.empty(0)
    rng = chart.y_range
    if rng is not None:
        lo, hi = float(rng[0]), float(rng[1])
        if math.isfinite(lo) and math.isfinite(hi) and lo < hi and (hi > 0 or not chart.log_y):
            if chart.log_y and lo <= 0:
                lo = float(finite.min()) / 2 if finite.size and finite.min() < hi else hi / 1000
            return lo, hi
    if finite.size == 0:
        return (0.1, 10.0) if chart.log_y else (-1.0, 1.0)
    return padded_range(float(finite.min()), float(finite.max()), log=chart.log_y)


def _build_figure(painter: Painter, chart: Chart, size: Size) -> Figure:
    lines = [_prepare(line, chart.log_y) for line in chart.lines]
    fig, ax = painter.canvas(size)
    plot_height = max(0.5, size.height - TOP_IN - BOTTOM_IN)

    # limits before ticks; the data never sets them (no autoscale surprises or warnings)
    if chart.log_y:
        ax.set_yscale("log", nonpositive="mask")
    y_lo, y_hi = _y_limits(chart, lines)
    ax.set_ylim(y_lo, y_hi)
    x_lo, x_hi = _x_limits(lines)
    x_label, to_axis = _setup_x_axis(ax, chart, x_lo, x_hi)
    _setup_y_axis(ax, chart.log_y)

    # the left margin fits the widest y tick label (tick positions depend on the plot height
    # only, which is fixed)
    ticks = [t for t in ax.yaxis.get_major_locator()() if y_lo <= t <= y_hi]
    labels = ax.yaxis.get_major_formatter().format_ticks(ticks) if ticks else []
    label_width = max((text_width(label, TICK_SIZE) for label in labels if label), default=0.0)
    left = max(MIN_LEFT_IN, label_width + 0.16)
    ax_width = max(0.5, size.width - left - RIGHT_IN)

    # a legend (and a colour bar) adds rows below the axes: the plot area stays the same
    legend = legend_layout(chart.lines, ax_width)
    bar = COLORBAR_IN if chart.color_scale is not None else 0.0
    fig_height = size.height + legend.height + bar
    fig.set_size_inches(size.width, fig_height)
    ax.set_position(
        figure_rect(
            left,
            legend.height + bar + BOTTOM_IN,
            ax_width,
            plot_height,
            Size(size.width, fig_height, size.dpi),
        )
    )

    if len(lines) > MANY_LINES or (painter.fallback and all(map(_plain, lines))):
        _draw_many(ax, lines, to_axis)
    else:
        for index, p in enumerate(lines):
            _draw_line(ax, p, to_axis, zorder=2 + index * 0.001)
    counts = _draw_nonfinite(ax, fig, lines, to_axis)
    _draw_clipped(ax, fig, lines, to_axis, y_lo, y_hi)

    note = _nonfinite_note(counts)
    note_width = 0.0
    if note:
        ax.annotate(
            note, xy=(1.0, 1.0), xycoords="axes fraction", xytext=(0, 8),
            textcoords="offset points", ha="right", va="baseline",
            fontsize=NOTE_SIZE, color=MUTED, parse_math=False,
        )  # fmt: skip
        note_width = text_width(note, NOTE_SIZE) + 0.2
    title = fit(clean_text(chart.tag), TITLE_SIZE, ax_width - note_width, weight="bold")
    # an explicit y skips matplotlib's title auto-positioning, a full tight-bbox pass
    ax.set_title(
        title, loc="left", y=1.0, pad=8, fontsize=TITLE_SIZE, fontweight="bold", color=INK,
        parse_math=False,
    )  # fmt: skip
    ax.set_xlabel(x_label, fontsize=LABEL_SIZE, color=MUTED, labelpad=4, parse_math=False)

    if not any(p.x.size for p in lines):
        _center_note(ax, "no data")
    elif not any(np.isfinite(p.y).any() for p in lines):
        _center_note(ax, "no finite values")

    if legend.entries:
        draw_legend(
            fig,
            chart.lines,
            legend,
            left / size.width,
            legend.height + bar - LEGEND_GAP_IN,
            fig_height,
        )
    if chart.color_scale is not None:
        _draw_colorbar(fig, chart.color_scale, left, ax_width, fig_height)
    return fig


#: height of the ``--colour-by`` colour bar row under the legend, inches
COLORBAR_IN = 0.34


def _draw_colorbar(
    fig: Figure, scale: ColorScale, left: float, room: float, fig_height: float
) -> None:
    """The hyperparameter's name, its lowest value, the ramp and its highest value, in one row
    at the bottom of the figure (plain figure artists, as the legend)."""
    from matplotlib.patches import Rectangle

    width = fig.get_figwidth()
    y = 0.12  # inches from the bottom: the bar's bottom edge
    height = 0.11
    name = fit(
        clean_text(scale.name) + (" (log scale)" if scale.log else ""), LEGEND_SIZE, room / 3
    )
    low, high = compact_labels([scale.low, scale.high]) if scale.high != scale.low else (
        compact_labels([scale.low]) * 2
    )  # fmt: skip
    x = left
    for text in (name, low):
        fig.text(
            x / width, (y + height / 2) / fig_height, text, fontsize=LEGEND_SIZE, color=INK,
            va="center_baseline", ha="left", parse_math=False,
        )  # fmt: skip
        x += text_width(text, LEGEND_SIZE) + 0.08
    bar_width = min(1.8, max(0.6, room - (x - left) - text_width(high, LEGEND_SIZE) - 0.1))
    # one rectangle per gap between stops, each interpolated in 8 steps
    stops = scale.stops
    pieces = 8 * (len(stops) - 1)
    for i in range(pieces):
        t = i / max(pieces - 1, 1)
        fig.add_artist(
            Rectangle(
                ((x + bar_width * i / pieces) / width, y / fig_height),
                bar_width / pieces / width * 1.02, height / fig_height,
                transform=fig.transFigure, facecolor=_interpolate(stops, t), linewidth=0,
            )
        )  # fmt: skip
    fig.text(
        (x + bar_width + 0.08) / width, (y + height / 2) / fig_height, high,
        fontsize=LEGEND_SIZE, color=INK, va="center_baseline", ha="left", parse_math=False,
    )  # fmt: skip


def _interpolate(stops: tuple[str, ...], t: float) -> str:
    pos = t * (len(stops) - 1)
    i = min(int(pos), len(stops) - 2)
    frac = pos - i
    a, b = stops[i], stops[i + 1]
    return "#" + "".join(
        f"{round(int(a[k : k + 2], 16) * (1 - frac) + int(b[k : k + 2], 16) * frac):02x}"
        for k in (1, 3, 5)
    )


def _setup_x_axis(
    ax: Axes, chart: Chart, lo: float, hi: float
) -> tuple[str, Callable[[np.ndarray], np.ndarray]]:
    """Limits, locator and formatter for the x axis; returns its label and a data-to-axis map."""
    if chart.x_axis == "wall" and WALL_TIME_MIN <= lo and hi < WALL_TIME_END:
        epoch = float(mdates.date2num(datetime(1970, 1, 1, tzinfo=timezone.utc)))

        def to_days(x: np.ndarray) -> np.ndarray:
            return x / 86400.0 + epoch

        ax.set_xlim(lo / 86400.0 + epoch, hi / 86400.0 + epoch)
        locator = mdates.AutoDateLocator(tz=timezone.utc, minticks=3, maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=timezone.utc))
        return "wall time (UTC)", to_days

    ax.set_xlim(lo, hi)
    if chart.x_axis == "relative":
        unit, name, steps = duration_unit(max(abs(lo), abs(hi)))
        ax.xaxis.set_major_locator(ScaledLocator(unit, steps))
        ax.xaxis.set_major_formatter(ScaledFormatter(unit))
        return f"time since start ({name})", _identity
    ax.xaxis.set_major_locator(mticker.MaxNLocator(nbins=7, steps=[1, 2, 2.5, 5, 10], integer=True))
    ax.xaxis.set_major_formatter(CompactFormatter())
    # wall times outside the datetime range (a broken clock) are shown as plain seconds
    return ("step" if chart.x_axis == "step" else "wall time (unix s)"), _identity


def _identity(x: np.ndarray) -> np.ndarray:
    return x


def _setup_y_axis(ax: Axes, log_y: bool) -> None:
    if log_y:
        ax.yaxis.set_major_locator(mticker.LogLocator(base=10, numticks=8))
        ax.yaxis.set_minor_locator(mticker.LogLocator(base=10, subs=(2.0, 5.0), numticks=8))
        ax.yaxis.set_major_formatter(LogFormatter(minor=False))
        ax.yaxis.set_minor_formatter(LogFormatter(minor=True))
    else:
        ax.yaxis.set_major_locator(mticker.MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
        ax.yaxis.set_major_formatter(CompactFormatter())
        ax.yaxis.set_minor_locator(mticker.NullLocator())


#: Line.style names (a trial's runs) as matplotlib dash specs
LINE_STYLES: dict[str, str] = {"solid": "-", "dashed": "--", "dotted": ":", "dashdot": "-."}


def _draw_line(
    ax: Axes, p: _Prepared, to_axis: Callable[[np.ndarray], np.ndarray], zorder: float
) -> None:
    if p.x.size == 0:
        return
    x = to_axis(p.x)
    style: Style = "--" if p.line.dashed else LINE_STYLES.get(p.line.style, "-")  # type: ignore[assignment]
    if p.line.faint:
        # a group's member run: context under the group's line, never competing with it
        _add_series(ax, x, p.y, p.line.color, FAINT_ALPHA, 0.8, style, 1.0 + zorder / 100)
        return
    if p.line.lower is not None and p.line.upper is not None:
        _draw_band(ax, x, p, zorder)
    if p.smoothed is not None:
        _add_series(ax, x, p.y, p.line.color, RAW_ALPHA, 1.0, style, zorder)
        _add_series(ax, x, p.smoothed, p.line.color, 1.0, 1.6, style, zorder + 1)
    else:
        _add_series(ax, x, p.y, p.line.color, 1.0, 1.4, style, zorder + 1)


#: a group's band and its faint member runs
BAND_ALPHA = 0.22
FAINT_ALPHA = 0.28


def _draw_band(ax: Axes, x: np.ndarray, p: _Prepared, zorder: float) -> None:
    lower = np.asarray(p.line.lower, dtype=np.float64)[: x.size]
    upper = np.asarray(p.line.upper, dtype=np.float64)[: x.size]
    where = np.isfinite(lower) & np.isfinite(upper) & np.isfinite(x)
    if not where.any():
        return
    ax.fill_between(
        x, np.where(where, lower, 0.0), np.where(where, upper, 0.0), where=where,
        color=p.line.color, alpha=BAND_ALPHA, linewidth=0, zorder=zorder, interpolate=False,
    )  # fmt: skip


#: lines on one chart beyond which they are drawn as collections: one artist per line costs
#: about 1 ms of matplotlib time (a sweep of 20,000 runs took a minute on one chart)
MANY_LINES = 200


def _plain(p: _Prepared) -> bool:
    """A run's own solid or dashed line (no group band, faint member or trial style): what
    ``_draw_many`` draws as ``_draw_line`` would, but for how the edges are rasterised."""
    line = p.line
    return not line.faint and line.lower is None and line.style == "solid"


def _draw_many(
    ax: Axes, lines: list[_Prepared], to_axis: Callable[[np.ndarray], np.ndarray]
) -> None:
    """Every line in two collections (raw, smoothed) and their lonely points in one scatter."""
    raw: tuple[list[np.ndarray], list[str], list[str]] = ([], [], [])
    smooth: tuple[list[np.ndarray], list[str], list[str]] = ([], [], [])
    dots: tuple[list[np.ndarray], list[np.ndarray], list[str], list[float]] = ([], [], [], [])
    for p in lines:
        if p.x.size == 0:
            continue
        x = to_axis(p.x)
        # line styles tell apart runs that share a colour (past the palette's colours)
        style = "--" if p.line.dashed else LINE_STYLES.get(p.line.style, "-")
        has_smooth = p.smoothed is not None
        for y, target, alpha in (
            (p.y, raw if has_smooth else smooth, RAW_ALPHA if has_smooth else 1.0),
            (p.smoothed, smooth, 1.0),
        ):
            if y is None:
                continue
            target[0].append(np.column_stack([x, y]))
            target[1].append(p.line.color)
            target[2].append(style)
            finite = np.isfinite(y)
            before = np.concatenate(([False], finite[:-1]))
            after = np.concatenate((finite[1:], [False]))
            lonely = finite & ~before & ~after
            if lonely.any():
                dots[0].append(x[lonely])
                dots[1].append(y[lonely])
                dots[2].extend([p.line.color] * int(lonely.sum()))
                dots[3].extend([alpha] * int(lonely.sum()))
    for (segments, colors, styles), alpha, width, zorder in (
        (raw, RAW_ALPHA, 1.0, 2.0),
        (smooth, 1.0, 1.6 if raw[0] else 1.4, 3.0),
    ):
        if segments:
            ax.add_collection(
                LineCollection(
                    segments, colors=colors, linestyles=styles, linewidths=width, alpha=alpha,
                    antialiaseds=True, joinstyle="round", capstyle="round", zorder=zorder,
                ),
                autolim=False,
            )  # fmt: skip
    if dots[0]:
        rgba = matplotlib.colors.to_rgba_array(dots[2])
        rgba[:, 3] = dots[3]
        ax.scatter(
            np.concatenate(dots[0]), np.concatenate(dots[1]), s=3.5**2, c=rgba, linewidths=0,
            marker="o", zorder=3.5,
        )  # fmt: skip


def _add_series(
    ax: Axes,
    x: np.ndarray,
    y: np.ndarray,
    color: str,
    alpha: float,
    width: float,
    style: Style,
    zorder: float,
) -> None:
    ax.add_line(
        Line2D(
            x, y, color=color, alpha=alpha, linewidth=width, linestyle=style, antialiased=True,
            solid_joinstyle="round", solid_capstyle="round", dash_capstyle="butt", zorder=zorder,
        )
    )  # fmt: skip
    # a finite point between gaps (or alone) draws no segment: give it a dot
    finite = np.isfinite(y)
    before = np.concatenate(([False], finite[:-1]))
    after = np.concatenate((finite[1:], [False]))
    lonely = finite & ~before & ~after
    if lonely.any():
        ax.add_line(
            Line2D(
                x[lonely], y[lonely], color=color, alpha=alpha, linestyle="none", marker="o",
                markersize=3.5, markeredgewidth=0, antialiased=True, zorder=zorder,
            )
        )  # fmt: skip


def _draw_nonfinite(
    ax: Axes, fig: Figure, lines: list[_Prepared], to_axis: Callable[[np.ndarray], np.ndarray]
) -> dict[str, int]:
    """Markers for points the line cannot show: +inf on the top edge, -inf (and <= 0 on a log
    axis) on the bottom edge, NaN as crosses on the bottom edge."""
    inset = 4.0 / 72.0
    top = ax.get_xaxis_transform() + ScaledTranslation(0, -inset, fig.dpi_scale_trans)
    bottom = ax.get_xaxis_transform() + ScaledTranslation(0, inset, fig.dpi_scale_trans)
    counts = {"nan": 0, "posinf": 0, "neginf": 0, "nonpositive": 0}
    for p in lines:
        for kind, mask, marker, where, y in (
            ("posinf", p.posinf, "^", top, 1.0),
            ("neginf", p.neginf, "v", bottom, 0.0),
            ("nonpositive", p.nonpositive, "v", bottom, 0.0),
            ("nan", p.nan, "x", bottom, 0.0),
        ):
            n = int(np.count_nonzero(mask))
            if not n:
                continue
            counts[kind] += n
            filled = marker != "x"
            ax.add_line(
                Line2D(
                    to_axis(p.x[mask]), np.full(n, y), transform=where, linestyle="none",
                    marker=marker, markersize=5.5 if filled else 5.0,
                    markerfacecolor=p.line.color if filled else "none",
                    markeredgecolor=p.line.color, markeredgewidth=0 if filled else 1.3,
                    clip_on=False, zorder=5,
                )
            )  # fmt: skip
    return counts


def _draw_clipped(
    ax: Axes,
    fig: Figure,
    lines: list[_Prepared],
    to_axis: Callable[[np.ndarray], np.ndarray],
    y_lo: float,
    y_hi: float,
) -> None:
    """Small dots on the top or bottom edge for raw points beyond the y range (outliers); the
    caption counts them (``Chart.clipped``). Centred on the edge, so half of each dot lies
    outside the plot, where no line can be."""
    top = bottom = ax.get_xaxis_transform()
    for p in lines:
        finite = np.isfinite(p.y)
        for mask, where, y in (
            (finite & (p.y > y_hi), top, 1.0),
            (finite & (p.y < y_lo), bottom, 0.0),
        ):
            n = int(np.count_nonzero(mask))
            if n:
                ax.add_line(
                    Line2D(
                        to_axis(p.x[mask]), np.full(n, y), transform=where, linestyle="none",
                        marker="o", markersize=3.2, markeredgewidth=0,
                        markerfacecolor=p.line.color, alpha=0.8, clip_on=False, zorder=4,
                    )
                )  # fmt: skip


def _nonfinite_note(counts: dict[str, int]) -> str:
    parts = []
    if counts["posinf"]:
        parts.append(f"\u25b2 {counts['posinf']} +inf")
    if counts["neginf"]:
        parts.append(f"\u25bc {counts['neginf']} \u2212inf")
    if counts["nonpositive"]:
        parts.append(f"\u25bc {counts['nonpositive']} \u2264 0 (log)")
    if counts["nan"]:
        parts.append(f"\u00d7 {counts['nan']} NaN")
    return "   ".join(parts)


def _center_note(ax: Axes, text: str) -> None:
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=LABEL_SIZE,
        color=MUTED,
        parse_math=False,
    )
