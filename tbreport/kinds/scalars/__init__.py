"""The scalars kind: one chart per tag with every run overlaid, and its plotted data as CSV."""

from __future__ import annotations

import csv
import io
import itertools
from typing import TYPE_CHECKING, Any

import numpy as np

from tbreport.kinds import DATA, IMAGE
from tbreport.model import Chart, FinalValues, GroupSummary

if TYPE_CHECKING:
    from tbreport.charts.figure import Painter
    from tbreport.kinds import KindContext, Media


def chart_csv(chart: Chart) -> bytes:
    """The plotted points of a chart, raw and smoothed per run, for re-plotting."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    x_name = "wall_time" if chart.x_axis == "wall" else chart.x_axis
    grouped = chart.center is not None
    # a group's line: value is its centre, with its band and the runs behind each point
    band = ["lower", "upper", "n"] if grouped else []
    writer.writerow(["run", x_name, "value", "smoothed", *band])
    for line in chart.lines:
        smoothed = line.smoothed if line.smoothed is not None else line.y
        # repr() is the shortest text that reads back as the same float ('nan', 'inf' too)
        x = line.x.astype(np.int64).tolist() if chart.x_axis == "step" else line.x.tolist()
        name = csv_safe(line.run)
        columns = [
            itertools.repeat(name, len(x)),
            map(repr, x),
            map(repr, line.y.tolist()),
            map(repr, smoothed.tolist()),
        ]
        if grouped and line.lower is not None and line.upper is not None and line.n is not None:
            bounds = (line.lower.tolist(), line.upper.tolist())
            columns += [map(repr, bounds[0]), map(repr, bounds[1]), line.n.tolist()]
        elif grouped:  # a faint member run
            columns += [itertools.repeat("", len(x)) for _ in range(3)]
        writer.writerows(zip(*columns, strict=False))
    return buf.getvalue().encode("utf-8")


def final_csv(element: FinalValues) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["run", "step", "value"])
    writer.writerows((csv_safe(r.run), r.step, repr(r.value)) for r in element.rows)
    return buf.getvalue().encode("utf-8")


def csv_safe(text: str) -> str:
    # spreadsheets run cells starting with = + - @ as formulas: run names are untrusted
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


#: how a caption names each band
BAND_NAMES = {
    "std": "±1 standard deviation",
    "sem": "±1 standard error of the mean",
    "ci95": "95% confidence interval of the mean (Student's t)",
    "minmax": "minimum to maximum",
    "iqr": "25th to 75th percentile",
}


def group_row(group: GroupSummary, band: str | None) -> dict[str, Any]:
    """The numbers of a group's table row: centre, lower and upper, shown ``centre ± half``
    for the symmetric bands and ``centre [lower, upper]`` for the others."""
    return {
        "n": len(group.runs),
        "last": group.last,
        "best": group.best,
        "best_step": group.best_step,
        "symmetric": band not in ("minmax", "iqr"),
    }


class Scalars:
    name = "scalars"
    plugins = ("scalars",)
    makes = frozenset({IMAGE, DATA})

    def elements(self, ctx: KindContext) -> list[Chart | FinalValues]:
        from tbreport.kinds.scalars.report import elements

        return elements(ctx)

    def figure(self, element: Chart | FinalValues) -> dict[str, Any]:
        if isinstance(element, FinalValues):
            return {"final": True, "rows": element.rows}
        from tbreport.kinds.scalars.transform import spark_scale, sparkline

        # a group's faint member runs have no row: the group's row speaks for them
        listed = [line for line in element.lines if not line.faint]
        # the smoothed line is what a reader follows; raw when not smoothed
        shown = [line.y if line.smoothed is None else line.smoothed for line in listed]
        lo, hi = spark_scale(shown)
        groups = [line.group for line in listed if line.group is not None]
        rows = [
            {
                "line": line,
                "summary": line.summary,
                "best": line.run == element.best,
                "sparkline": sparkline(values, lo, hi),
                "group": None if line.group is None else group_row(line.group, element.band),
            }
            for line, values in zip(listed, shown, strict=True)
        ]
        return {
            "final": False,
            "rows": rows,
            "thinned": element.drawn < element.points,
            "grouped": element.center is not None,
            "faint_runs": len(element.lines) - len(listed),
            "band_name": BAND_NAMES.get(element.band or "", ""),
            "n_range": (
                min((g.n_min for g in groups), default=0),
                max((g.n_max for g in groups), default=0),
            ),
        }

    def draw(self, element: Chart | FinalValues, image_format: str, painter: Painter) -> bytes:
        if isinstance(element, FinalValues):
            return b""  # a table: nothing to draw
        from tbreport.kinds.scalars.chart import draw_chart

        return draw_chart(element, image_format, painter=painter)

    def export(self, element: Chart | FinalValues) -> bytes:
        if isinstance(element, FinalValues):
            return final_csv(element)
        return chart_csv(element)

    def files(self, element: Chart) -> tuple[Media, ...]:
        return ()

    def embeds(self, element: Chart | FinalValues) -> bool:
        return not isinstance(element, FinalValues)

    def embed(self, element: Chart | FinalValues) -> dict[str, Any] | None:
        from tbreport.kinds.scalars.embed import chart_payload

        # final values are a table: nothing for the script to draw
        return None if isinstance(element, FinalValues) else chart_payload(element)


KIND = Scalars()
