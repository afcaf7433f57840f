"""PR curves kind, drawing: a ``PRChart`` in, one PNG or SVG image out: each run's
precision (y) against recall (x) at its last step, in the run's colour, the step in the legend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib
import matplotlib.ticker as mticker
import numpy as np

from tbreport.charts.figure import (
    BOTTOM_IN,
    INK,
    LABEL_SIZE,
    LEGEND_SIZE,
    MAX_NAME_CHARS,
    RC,
    RIGHT_IN,
    TITLE_SIZE,
    TOP_IN,
    check_format,
    check_size,
    clean_text,
    figure_rect,
    shorten,
)
from tbreport.kinds.pr_curves.report import PRChart

if TYPE_CHECKING:
    from tbreport.charts.figure import Painter


def legend_label(run: str, step: int) -> str:
    return f"{shorten(clean_text(run), MAX_NAME_CHARS)} (step {step})"


def draw(chart: PRChart, image_format: str, painter: Painter) -> bytes:
    check_format(image_format)
    # square-ish: both axes are [0, 1]; a size of its own, the painter reuses figures per size
    size = check_size(5.6, 4.6, 110.0)
    with matplotlib.rc_context(RC):
        fig, ax = painter.canvas(size, y_label=True)
        # room on the left for the y label besides the tick labels
        left = 0.8
        ax.set_position(
            figure_rect(left, BOTTOM_IN, size.width - left - RIGHT_IN, size.height - TOP_IN
                        - BOTTOM_IN, size)
        )  # fmt: skip
        for curve in chart.curves:
            recall, precision = curve.recall, curve.precision
            ax.plot(
                recall, precision, color=curve.color, linewidth=1.5, marker="o", markersize=2.5,
                label=legend_label(curve.run, curve.step),
            )  # fmt: skip
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(mticker.MultipleLocator(0.2))
        ax.set_xlabel("recall", fontsize=LABEL_SIZE, parse_math=False)
        ax.set_ylabel("precision", fontsize=LABEL_SIZE, parse_math=False)
        ax.set_title(
            shorten(clean_text(chart.tag), 60), loc="left", fontsize=TITLE_SIZE,
            fontweight="bold", color=INK, parse_math=False,
        )  # fmt: skip
        if not any(np.isfinite(c.precision).any() for c in chart.curves):
            ax.text(0.5, 0.5, "no finite values", transform=ax.transAxes, ha="center")
        # a fixed corner: "best" placement searches the data, slower and less predictable
        ax.legend(loc="lower left", fontsize=LEGEND_SIZE, frameon=False)
        return painter.save(fig, image_format, size.dpi)
