"""The text kind: per tag, each run's latest text (Markdown rendered and sanitised as
TensorBoard does, arrays as tables) with its earlier steps collapsed, and the texts as CSV."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from tbreport.kinds import DATA, Media
from tbreport.kinds.text.report import TextPanel, elements

if TYPE_CHECKING:
    from tbreport.charts.figure import Painter
    from tbreport.kinds import KindContext

__all__ = ["KIND", "TextPanel"]


class Text:
    name = "text"
    plugins = ("text",)
    #: no image: the texts are HTML in the page; the CSV holds them as written
    makes = frozenset({DATA})

    def elements(self, ctx: KindContext) -> list[TextPanel]:
        return elements(ctx)

    def figure(self, element: TextPanel) -> dict[str, Any]:
        return {}

    def draw(self, element: TextPanel, image_format: str, painter: Painter) -> bytes:
        raise NotImplementedError("text panels are not drawn (makes has no IMAGE)")

    def files(self, element: TextPanel) -> tuple[Media, ...]:
        return ()

    def export(self, element: TextPanel) -> bytes:
        from tbreport.kinds.scalars import csv_safe

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["run", "step", "wall_time", "text"])
        for run in element.runs:
            for entry in (run.latest, *run.earlier):
                writer.writerow(
                    [csv_safe(run.run), entry.step, repr(entry.wall_time), csv_safe(entry.plain)]
                )
        return buf.getvalue().encode("utf-8")


KIND = Text()
