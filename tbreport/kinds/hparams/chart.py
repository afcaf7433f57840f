"""HParams kind, charts: parallel coordinates of the trials' hyperparameters and metrics, and
a metric-vs-hyperparameter scatter, in the trials' colours (matplotlib, on the chart workers).
"""

from __future__ import annotations

import math

import matplotlib
import matplotlib.ticker as mticker
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from tbreport.charts.figure import (
    INK,
    MUTED,
    SPINE,
    TICK_SIZE,
    TITLE_SIZE,
    Painter,
    Size,
    check_format,
    clean_text,
    compact_labels,
    log_label,
    shorten,
)
from tbreport.kinds.hparams.decode import format_value
from tbreport.kinds.hparams.report import HParamsScatter, HParamsTable

#: axis names longer than this lose their middle to an ellipsis
_AXIS_CHARS = 18
_DPI = 110.0


def _axis(values: list[object]) -> tuple[list[float | None], list[tuple[float, str]]]:
    """Positions in [0, 1] per trial and tick (position, label)s of one parallel axis."""
    numbers = [
        float(v)  # type: ignore[arg-type]
        for v in values
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v))
    ]
    present = [v for v in values if v is not None]
    if present and len(numbers) == len(present):
        lo, hi = min(numbers), max(numbers)
        log = lo > 0 and hi / lo >= 100
        f = (lambda x: math.log10(x)) if log else (lambda x: x)  # noqa: E731
        span = (f(hi) - f(lo)) or 1.0
        pos: list[float | None] = [
            None if v is None else (f(float(v)) - f(lo)) / span  # type: ignore[arg-type]
            for v in values
        ]
        ticks = [(0.0, lo), (1.0, hi)] if hi != lo else [(0.0, lo)]
        return pos, [
            (p, label)
            for (p, _), label in zip(ticks, compact_labels([t for _, t in ticks]), strict=True)
        ]
    cats = sorted({format_value(v) for v in present})
    where = {c: (i / (len(cats) - 1) if len(cats) > 1 else 0.5) for i, c in enumerate(cats)}
    pos = [None if v is None else where[format_value(v)] for v in values]
    return pos, [(p, shorten(clean_text(c), _AXIS_CHARS)) for c, p in where.items()]


def _figure(size: Size) -> tuple[Figure, Axes]:
    # a figure of its own, not the painter's reused ones: these few charts set up their axes
    # differently from the scalar charts (no frame, own limits) and must not leak that
    fig = Figure(figsize=(size.width, size.height), dpi=size.dpi, facecolor="white")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def draw_parallel(table: HParamsTable, image_format: str, painter: Painter) -> bytes:
    check_format(image_format)
    names = [*table.columns, *(m.label for m in table.metrics)]
    columns = [[r.values[i] for r in table.rows] for i in range(len(table.columns))]
    columns += [[r.metrics[i] for r in table.rows] for i in range(len(table.metrics))]
    width = max(6.0, min(12.0, 1.3 * len(names) + 1.0))
    size = Size(width, 4.0, _DPI)
    with matplotlib.rc_context(painter.rc):
        fig, ax = _figure(size)
        fig.subplots_adjust(left=0.08, right=0.92, top=0.84, bottom=0.1)
        axes = [_axis(col) for col in columns]
        n = len(names)
        for j, (_, ticks) in enumerate(axes):
            ax.plot([j, j], [0, 1], color=SPINE, linewidth=1.0, zorder=1)
            for p, label in ticks:
                ax.text(j + 0.04, p, label, fontsize=TICK_SIZE, color=MUTED, va="center",
                        ha="left", parse_math=False)  # fmt: skip
            ax.text(j, 1.06, shorten(clean_text(names[j]), _AXIS_CHARS), fontsize=TICK_SIZE,
                    color=INK, ha="center", va="bottom", parse_math=False,
                    weight="bold" if j >= len(table.columns) else "normal")  # fmt: skip
        for k, row in enumerate(table.rows):
            ys = np.array([np.nan if pos[k] is None else pos[k] for pos, _ in axes], float)
            ax.plot(range(n), ys, color=row.color, linewidth=1.6, marker="o", markersize=3,
                    zorder=2 + k)  # fmt: skip
        ax.set_xlim(-0.3, n - 0.4)
        ax.set_ylim(-0.05, 1.12)
        ax.set_axis_off()
        fig.suptitle(
            f"Hyperparameters and metrics of {len(table.rows)} trials", fontsize=TITLE_SIZE,
            color=INK, x=0.02, ha="left",
        )  # fmt: skip
        return painter.save(fig, image_format, size.dpi)


def draw_scatter(element: HParamsScatter, image_format: str, painter: Painter) -> bytes:
    check_format(image_format)
    size = Size(4.8, 3.4, _DPI)
    with matplotlib.rc_context(painter.rc):
        fig, ax = _figure(size)
        fig.subplots_adjust(left=0.16, right=0.92, top=0.86, bottom=0.16)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for _, color, x, y in element.points:
            ax.scatter([x], [y], color=color, s=36, zorder=3, edgecolors="white", linewidths=0.6)
        if element.log_x:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: log_label(v)))
            ax.xaxis.set_minor_formatter(mticker.NullFormatter())
        ax.set_xlabel(clean_text(element.hparam), fontsize=TICK_SIZE, color=INK)
        ax.set_ylabel(clean_text(element.metric.label), fontsize=TICK_SIZE, color=INK)
        ax.grid(True, color="#ebebeb", linewidth=0.8)
        fig.suptitle(
            shorten(clean_text(f"{element.metric.label} vs {element.hparam}"), 60),
            fontsize=TITLE_SIZE, color=INK, x=0.02, ha="left",
        )  # fmt: skip
        return painter.save(fig, image_format, size.dpi)
