"""The PR curves kind: per tag, each run's precision-recall curve at its last step, and the
curves' thresholds, counts, precision and recall as CSV."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from tbreport.kinds import DATA, IMAGE, Media
from tbreport.kinds.pr_curves.report import PRChart, PRCurve, elements
from tbreport.kinds.scalars import csv_safe

if TYPE_CHECKING:
    from tbreport.charts.figure import Painter
    from tbreport.kinds import KindContext

__all__ = ["KIND", "PRChart", "PRCurve"]

#: thresholds the tables show per run (evenly spaced, the first and last included)
TABLE_THRESHOLDS = 5


def curves_csv(chart: PRChart) -> bytes:
    """Every threshold of every curve shown: run, step, threshold, the six rows of the tensor."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["run", "step", "threshold", "tp", "fp", "tn", "fn", "precision", "recall"])
    for curve in chart.curves:
        name = csv_safe(curve.run)
        for threshold, column in zip(
            curve.thresholds.tolist(), curve.values.T.tolist(), strict=True
        ):
            writer.writerow([name, curve.step, repr(threshold), *map(repr, column)])
    return buf.getvalue().encode("utf-8")


def table_rows(chart: PRChart) -> list[dict[str, Any]]:
    """Each run's precision and recall at a few thresholds (formats without the image)."""
    from tbreport.kinds.histograms.transform import spread

    rows = []
    for curve in chart.curves:
        for i in spread(curve.values.shape[1], TABLE_THRESHOLDS).tolist():
            rows.append(
                {
                    "curve": curve,
                    "threshold": float(curve.thresholds[i]),
                    "precision": float(curve.precision[i]),
                    "recall": float(curve.recall[i]),
                }
            )
    return rows


class PRCurves:
    name = "pr_curves"
    plugins = ("pr_curves",)
    makes = frozenset({IMAGE, DATA})

    def elements(self, ctx: KindContext) -> list[PRChart]:
        return elements(ctx)

    def figure(self, element: PRChart) -> dict[str, Any]:
        return {"rows": table_rows(element)}

    def draw(self, element: PRChart, image_format: str, painter: Painter) -> bytes:
        from tbreport.kinds.pr_curves.chart import draw

        return draw(element, image_format, painter)

    def export(self, element: PRChart) -> bytes:
        return curves_csv(element)

    def files(self, element: PRChart) -> tuple[Media, ...]:
        return ()


KIND = PRCurves()
