"""The histograms kind: TensorBoard's Distributions and Histograms views per tag and run, and
the buckets shown as CSV."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from tbreport.kinds import DATA, IMAGE, Media
from tbreport.kinds.histograms.report import HistogramChart
from tbreport.kinds.histograms.transform import distribution
from tbreport.kinds.scalars import csv_safe

if TYPE_CHECKING:
    from tbreport.charts.figure import Painter
    from tbreport.kinds import KindContext


def buckets_csv(chart: HistogramChart) -> bytes:
    """Every bucket of the histograms a view shows: run, step, wall time, left, right, count."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["run", "step", "wall_time", "left", "right", "count"])
    data = chart.data
    name = csv_safe(chart.run)
    for i in range(len(data)):
        step, wall = int(data.steps[i]), repr(float(data.wall_times[i]))
        writer.writerows((name, step, wall, *map(repr, row)) for row in data.at(i).tolist())
    return buf.getvalue().encode("utf-8")


class Histograms:
    name = "histograms"
    plugins = ("histograms",)
    makes = frozenset({IMAGE, DATA})

    def files(self, element: Any) -> tuple[Media, ...]:
        return ()

    def elements(self, ctx: KindContext) -> list[HistogramChart]:
        from tbreport.kinds.histograms.report import elements

        return elements(ctx)

    def figure(self, element: HistogramChart) -> dict[str, Any]:
        steps = element.data.steps
        fewest, most = element.buckets
        last = element.data.at(len(element.data) - 1) if len(element.data) else None
        return {
            # the last step's distribution, for formats without images
            "quantiles": None if last is None else distribution(last).tolist(),
            "view": element.view,
            "shown": len(element.data),
            "first_step": int(steps[0]) if steps.size else None,
            "last_step": int(steps[-1]) if steps.size else None,
            "bucket_text": str(most) if fewest == most else f"{fewest}–{most}",
        }

    def draw(self, element: HistogramChart, image_format: str, painter: Painter) -> bytes:
        from tbreport.kinds.histograms.chart import draw

        return draw(element, image_format, painter)

    def export(self, element: HistogramChart) -> bytes:
        return buckets_csv(element)


KIND = Histograms()
