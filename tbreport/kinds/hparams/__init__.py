"""The hparams kind: one table of the trials (a row per trial, the hyperparameters that differ,
each metric's final value), a parallel-coordinates chart and metric-vs-hyperparameter scatters.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from tbreport.kinds import DATA, IMAGE, Media
from tbreport.kinds.hparams.decode import format_value
from tbreport.kinds.hparams.report import HParamsScatter, HParamsTable
from tbreport.kinds.scalars import csv_safe

if TYPE_CHECKING:
    from tbreport.charts.figure import Painter
    from tbreport.kinds import KindContext


class HParams:
    name = "hparams"
    plugins = ("hparams",)
    makes = frozenset({IMAGE, DATA})

    def elements(self, ctx: KindContext) -> list[HParamsTable | HParamsScatter]:
        from tbreport.kinds.hparams.report import elements

        return elements(ctx)

    def figure(self, element: HParamsTable | HParamsScatter) -> dict[str, Any]:
        if isinstance(element, HParamsScatter):
            return {"view": "scatter"}
        rows = [
            {
                "row": row,
                "values": [None if v is None else format_value(v) for v in row.values],
                "metrics": list(zip(row.metrics, row.steps, strict=True)),
            }
            for row in element.rows
        ]
        return {"view": "table", "rows": rows}

    def draw(
        self, element: HParamsTable | HParamsScatter, image_format: str, painter: Painter
    ) -> bytes:
        from tbreport.kinds.hparams.chart import draw_parallel, draw_scatter

        if isinstance(element, HParamsScatter):
            return draw_scatter(element, image_format, painter)
        if not element.parallel:
            return b""  # a table only
        return draw_parallel(element, image_format, painter)

    def files(self, element: HParamsTable | HParamsScatter) -> tuple[Media, ...]:
        return ()

    def export(self, element: HParamsTable | HParamsScatter) -> bytes:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        if isinstance(element, HParamsScatter):
            writer.writerow(["trial", element.hparam, element.metric.label])
            writer.writerows((csv_safe(t), repr(x), repr(y)) for t, _, x, y in element.points)
        else:
            writer.writerow(
                ["trial", *(csv_safe(c) for c in element.columns),
                 *(csv_safe(m.label) for m in element.metrics)]
            )  # fmt: skip
            for row in element.rows:
                writer.writerow(
                    [csv_safe(row.name),
                     *("" if v is None else csv_safe(format_value(v)) for v in row.values),
                     *("" if m is None else repr(m) for m in row.metrics)]
                )  # fmt: skip
        return buf.getvalue().encode("utf-8")


KIND = HParams()
