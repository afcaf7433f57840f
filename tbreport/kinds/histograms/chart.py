"""Histograms kind, drawing: TensorBoard's Distributions view (bands between symmetric basis
points of the compressed histogram, median line, over steps) and its Histograms view (a few
steps stacked with an offset, newer in front), in the run's colour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib
import matplotlib.ticker as mticker
import numpy as np
from matplotlib.colors import to_rgba

from tbreport.charts.figure import CompactFormatter, check_format, check_size, clean_text
from tbreport.kinds.histograms.report import DISTRIBUTIONS, HistogramChart
from tbreport.kinds.histograms.transform import distribution, finite, rebin

if TYPE_CHECKING:
    from tbreport.charts.figure import Painter

#: opacity of the bands from the outermost pair of basis points inwards; they overlap, so the
#: middle of the distribution is darkest, as in TensorBoard
BAND_ALPHA = 0.22
#: share of the plot height between two stacked histograms' baselines
OFFSET = 0.5
#: equal-width bins of the Histograms view (TensorBoard's default too)
BINS = 30


def compressed(chart: HistogramChart) -> np.ndarray:
    """[steps, 9]: the value of each step's histogram at the basis points."""
    data = chart.data
    rows = [distribution(data.at(i)) for i in range(len(data))]
    return np.array(rows) if rows else np.zeros((0, 9))


def draw(chart: HistogramChart, image_format: str, painter: Painter) -> bytes:
    check_format(image_format)
    # not the scalar charts' size: the painter reuses a figure per size, and these set their
    # own tick locators
    size = check_size(7.2, 4.2, 110.0)
    with matplotlib.rc_context(painter.rc):
        fig, ax = painter.canvas(size)
        if chart.view == DISTRIBUTIONS:
            _distributions(ax, chart)
        else:
            _histograms(ax, chart)
        ax.set_title(clean_text(chart.run), loc="left", fontsize=9, color=chart.color)
        return painter.save(fig, image_format, size.dpi)


def _distributions(ax, chart: HistogramChart) -> None:  # ax: matplotlib Axes
    values = compressed(chart)
    steps = chart.data.steps.astype(np.float64)
    pairs = values.shape[1] // 2
    for k in range(pairs):  # outermost band first: the inner ones are drawn over it
        ax.fill_between(
            steps, values[:, k], values[:, -1 - k], color=chart.color, alpha=BAND_ALPHA, lw=0
        )
    ax.plot(steps, values[:, pairs], color=chart.color, linewidth=1.2)
    if steps.size == 1:
        ax.plot(steps, values[:, pairs], "o", color=chart.color, markersize=3)
    ax.xaxis.set_major_locator(mticker.MaxNLocator(nbins=8, integer=True))
    ax.xaxis.set_major_formatter(CompactFormatter())
    ax.yaxis.set_major_locator(mticker.MaxNLocator(nbins=6))
    ax.yaxis.set_major_formatter(CompactFormatter())
    ax.set_xlabel("step")
    ax.relim()
    ax.autoscale_view()
    if not np.isfinite(values).any():
        # nothing to place (every bucket left out): autoscaling without data would keep the
        # limits of the chart drawn before on this reused figure
        lo, hi = (float(steps.min()), float(steps.max())) if steps.size else (0.0, 0.0)
        ax.set_xlim(*((lo - 0.5, hi + 0.5) if hi <= lo else (lo, hi)))
        ax.set_ylim(0.0, 1.0)


def _histograms(ax, chart: HistogramChart) -> None:  # ax: matplotlib Axes
    data = chart.data
    n = len(data)
    # equal-width bins over every step shown: writers' buckets can be exponential (torch)
    drawn = finite(data.buckets)[:, :2]
    low, high = (float(drawn.min()), float(drawn.max())) if drawn.size else (0.0, 1.0)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, BINS + 1)
    x = (edges[:-1] + edges[1:]) / 2
    shapes = [(x, rebin(finite(data.at(i)), edges)) for i in range(n)]
    tallest = max((float(h.max()) for _, h in shapes if h.size), default=0.0)
    scale = 1.0 / tallest if tallest > 0 else 1.0
    face = to_rgba(chart.color, 0.35)
    for i, (x, height) in enumerate(shapes):
        # oldest at the top and at the back; each newer histogram is lower and in front
        base = (n - 1 - i) * OFFSET
        y = base + height * scale
        ax.fill_between(x, base, y, facecolor="white", lw=0, zorder=2 + 2 * i)
        ax.fill_between(x, base, y, facecolor=face, edgecolor=chart.color, lw=0.8, zorder=3 + 2 * i)
    ticks = [(n - 1 - i) * OFFSET for i in range(n)]
    ax.yaxis.set_major_locator(mticker.FixedLocator(ticks))
    ax.yaxis.set_major_formatter(mticker.FixedFormatter([str(s) for s in data.steps.tolist()]))
    ax.xaxis.set_major_locator(mticker.MaxNLocator(nbins=8))
    ax.xaxis.set_major_formatter(CompactFormatter())
    ax.set_xlabel("value (rows: step)")
    ax.relim()
    ax.autoscale_view()
