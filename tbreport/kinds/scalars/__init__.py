"""The scalars kind: one chart per tag with every run overlaid, and its plotted data as CSV."""

from __future__ import annotations

import csv
import io
import itertools
from typing import TYPE_CHECKING, Any

import numpy as np

from tbreport.model import Chart

if TYPE_CHECKING:
    from tbreport.charts.figure import Painter
    from tbreport.kinds import KindContext


def chart_csv(chart: Chart) -> bytes:
    """The plotted points of a chart, raw and smoothed per run, for re-plotting."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    x_name = "wall_time" if chart.x_axis == "wall" else chart.x_axis
    writer.writerow(["run", x_name, "value", "smoothed"])
    for line in chart.lines:
        smoothed = line.smoothed if line.smoothed is not None else line.y
        # repr() is the shortest text that reads back as the same float ('nan', 'inf' too)
        x = line.x.astype(np.int64).tolist() if chart.x_axis == "step" else line.x.tolist()
        name = _csv_safe(line.run)
        writer.writerows(
            zip(
                itertools.repeat(name, len(x)),
                map(repr, x),
                map(repr, line.y.tolist()),
                map(repr, smoothed.tolist()),
                strict=False,
            )
        )
    return buf.getvalue().encode("utf-8")


def _csv_safe(text: str) -> str:
    # spreadsheets run cells starting with = + - @ as formulas: run names are untrusted
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class Scalars:
    name = "scalars"
    plugins = ("scalars",)

    def elements(self, ctx: KindContext) -> list[Chart]:
        from tbreport.kinds.scalars.report import elements

        return elements(ctx)

    def figure(self, element: Chart) -> dict[str, Any]:
        from tbreport.kinds.scalars.transform import spark_scale, sparkline

        # the smoothed line is what a reader follows; raw when not smoothed
        shown = [line.y if line.smoothed is None else line.smoothed for line in element.lines]
        lo, hi = spark_scale(shown)
        rows = [
            {
                "line": line,
                "summary": line.summary,
                "best": line.run == element.best,
                "sparkline": sparkline(values, lo, hi),
            }
            for line, values in zip(element.lines, shown, strict=True)
        ]
        return {"rows": rows, "thinned": element.drawn < element.points}

    def draw(self, element: Chart, image_format: str, painter: Painter) -> bytes:
        from tbreport.kinds.scalars.chart import draw_chart

        return draw_chart(element, image_format, painter=painter)

    def export(self, element: Chart) -> bytes:
        return chart_csv(element)


KIND = Scalars()
