"""The custom scalars kind: the charts of the runs' custom scalars layouts (multiline and
margin), drawn like scalar charts, and their lines as CSV."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

import numpy as np

from tbreport.kinds import DATA, IMAGE, Media
from tbreport.kinds.custom_scalars.report import LayoutChart, elements
from tbreport.kinds.scalars import csv_safe

if TYPE_CHECKING:
    from tbreport.charts.figure import Painter
    from tbreport.kinds import KindContext

__all__ = ["KIND", "LayoutChart"]


def layout_csv(element: LayoutChart) -> bytes:
    """The plotted points of every line: run, tag, x, value, smoothed, and the band's bounds."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    chart = element.chart
    x_name = "wall_time" if chart.x_axis == "wall" else chart.x_axis
    writer.writerow(["run", "tag", x_name, "value", "smoothed", "lower", "upper"])
    for (run, tag), line in zip(element.sources, chart.lines, strict=True):
        x = line.x.astype(np.int64).tolist() if chart.x_axis == "step" else line.x.tolist()
        smoothed = (line.smoothed if line.smoothed is not None else line.y).tolist()
        nan = np.full(len(x), np.nan)
        lower = line.lower if line.lower is not None else nan
        upper = line.upper if line.upper is not None else nan
        for row in zip(x, line.y.tolist(), smoothed, lower.tolist(), upper.tolist(), strict=True):
            writer.writerow([csv_safe(run), csv_safe(tag), *map(repr, row)])
    return buf.getvalue().encode("utf-8")


class CustomScalars:
    name = "custom_scalars"
    plugins = ("custom_scalars",)
    makes = frozenset({IMAGE, DATA})

    def elements(self, ctx: KindContext) -> list[LayoutChart]:
        return elements(ctx)

    def figure(self, element: LayoutChart) -> dict[str, Any]:
        rows = [
            {"run": run, "tag": tag, "line": line, "summary": line.summary}
            for (run, tag), line in zip(element.sources, element.chart.lines, strict=True)
        ]
        return {"rows": rows}

    def draw(self, element: LayoutChart, image_format: str, painter: Painter) -> bytes:
        from tbreport.kinds.scalars.chart import draw_chart

        return draw_chart(element.chart, image_format, painter=painter)

    def export(self, element: LayoutChart) -> bytes:
        return layout_csv(element)

    def files(self, element: LayoutChart) -> tuple[Media, ...]:
        return ()


KIND = CustomScalars()
