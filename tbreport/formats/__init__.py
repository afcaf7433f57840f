"""Render stage: a Report (and the charts' images and data) in, the files of one format out.

Each output format is one module of this package with an object following :class:`Format`;
:mod:`tbreport.registry` finds them (and those of other packages) by name, so the pipeline
never branches on the format. See docs/extending.md.

A format of another package imports what it needs from this module only (the Format protocol,
its values, the escaping and number helpers re-exported here), so modules can move behind it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tbreport.errors import TbreportError
from tbreport.formats.escape import code_fence, md_cell, md_text, slug, text_line, yaml_str
from tbreport.formatting import format_number, format_utc
from tbreport.kinds import Media
from tbreport.model import Report
from tbreport.options import Options
from tbreport.output import OutputFile, Rendered
from tbreport.registry import get_kind

__all__ = [
    "Artifacts",
    "Format",
    "FutureDateError",
    "Media",
    "Options",
    "OutputFile",
    "Rendered",
    "Report",
    "code_fence",
    "context",
    "figures",
    "format_number",
    "md_cell",
    "md_text",
    "slug",
    "text_line",
    "yaml_str",
]


@dataclass(frozen=True)
class Artifacts:
    """What the charts stage made, in ``report.charts`` order (empty when not asked for).

    An element whose kind draws no image or exports no data (``Kind.makes``) has None there.
    """

    images: tuple[bytes | None, ...] = ()
    #: the plotted data of each chart (CSV)
    data: tuple[bytes | None, ...] = ()
    #: each element's own files (``Kind.files``: logged images, audio clips)
    files: tuple[tuple[Media, ...], ...] = ()


class Format(Protocol):
    """An output format. ``name`` is what ``--format`` takes."""

    name: str

    def needs(self, options: Options) -> frozenset[str]:
        """Which artifacts to make: "images", "data" (a subset; empty for text only),
        "static-images" and "static-data" for the images or data of only the elements the
        page's script does not draw (it draws the others from the embedded data), and
        "fallback" when the images of the charts the page's script draws are only what a
        reader without scripts sees (they are drawn smaller and with fewer colours)."""
        ...

    def check(self, report: Report, options: Options, now: dt.datetime | None) -> None:
        """Raise a TbreportError when this report cannot be built in this format."""
        ...

    def render(self, report: Report, options: Options, artifacts: Artifacts) -> Rendered:
        """Every file of the build, in memory."""
        ...


class FutureDateError(TbreportError):
    """A post dated in the future: Jekyll would silently skip it."""


def figures(
    report: Report,
    image_urls: Sequence[str | None],
    data_urls: Sequence[str | None],
    file_urls: Sequence[Mapping[str, str]] | None = None,
) -> list[dict]:
    """Per element, what the templates show: the element (``chart``), its number, image and
    data links (None where its kind makes none), the URL of each of its own files by name
    (``files``), and what its kind adds (the scalars' table rows)."""
    files = file_urls if file_urls is not None else [{} for _ in report.charts]
    out = []
    for number, (chart, image, data, urls) in enumerate(
        zip(report.charts, image_urls, data_urls, files, strict=True), 1
    ):
        figure = {
            "number": number,
            "chart": chart,
            "image": image,
            "data": data,
            "files": urls,
            # the author's caption (a --source block's), in place of the generated one
            "caption": None,
        }
        out.append({**figure, **get_kind(chart.kind).figure(chart)})
    return out


def context(report: Report, options: Options, figs: list[dict]) -> dict[str, Any]:
    """The values every report template gets."""
    runs = report.runs
    starts = [r.start_time for r in runs if r.start_time is not None]
    ends = [
        r.start_time + r.duration
        for r in runs
        if r.start_time is not None and r.duration is not None
    ]
    steps = [
        (r.first_step, r.last_step)
        for r in runs
        if r.first_step is not None and r.last_step is not None
    ]
    remaining = iter(figs)  # figures are in report.charts order: section by section
    return {
        "report": report,
        "options": options,
        "figures": figs,
        "sections": [
            {"section": section, "figures": [next(remaining) for _ in section.charts]}
            for section in report.sections
        ],
        "generated": report.date,
        "span": {
            "first_step": min((s[0] for s in steps), default=None),
            "last_step": max((s[1] for s in steps), default=None),
            "start": format_utc(min(starts)) if starts else None,
            "end": format_utc(max(ends)) if ends else None,
        },
        # a post may show a tag twice (with other options): tags, not charts
        "tag_count": len({element.tag for element in report.charts if element.kind == "scalars"}),
        "points": sum(r.points for r in runs),
        "runs_table": runs_table(report, options.top_runs),
        # a page's runs part lists the runs a --source block chose
        "runs_table_of": lambda chosen: runs_table(report, options.top_runs, chosen),
    }


#: hyperparameter columns of a runs table at most (the HParams table has them all)
HPARAM_COLUMNS = 8


def runs_table(report: Report, top: int, chosen: Any = None) -> dict[str, Any]:
    """The runs table: at most ``top`` rows shown (``top``), the rest collapsed (``rest``).

    A table of more than ``top`` runs is ranked best first by the report's primary metric
    (``ranked``; runs without a value of it last), so the rows shown are the best ones; the
    shorter table keeps report order. Only the hyperparameters that differ get columns."""
    runs = list(report.runs if chosen is None else chosen)
    ranked = len(runs) > top and report.primary is not None
    if ranked:
        sign = 1.0 if report.primary_direction == "min" else -1.0
        runs.sort(
            key=lambda r: (
                r.primary is None or not math.isfinite(r.primary),
                sign * r.primary if r.primary is not None and math.isfinite(r.primary) else 0.0,
            )
        )  # stable: report order between ties
    columns = report.hparam_columns
    if chosen is not None:  # a --source runs block: the columns that differ between its runs
        columns = tuple(h for h in columns if len({repr(r.hparams.get(h)) for r in runs}) > 1)
    return {
        "top": runs[:top],
        "rest": runs[top:],
        "ranked": ranked,
        "primary": report.primary,
        "direction": report.primary_direction,
        "hparams": columns[:HPARAM_COLUMNS],
        "hparams_more": max(0, len(columns) - HPARAM_COLUMNS),
        "total": len(runs),
    }
