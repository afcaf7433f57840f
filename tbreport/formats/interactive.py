"""Browser-drawn charts, shared by the HTML report and ``--interactive`` Jekyll posts: the
page's embedded data (each kind's ``embed``), the vendored uPlot and tbreport's script, and
the Content-Security-Policy hashes that allow exactly those scripts.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from tbreport.formats.escape import script_json
from tbreport.formats.render import builtin_templates
from tbreport.kinds.scalars.embed import FORMAT_VERSION
from tbreport.model import Report
from tbreport.options import Options
from tbreport.registry import get_kind

#: the vendored library and tbreport's own script, in load order (templates/assets/)
SCRIPTS = ("uPlot.iife.min.js", "tbreport.js")
STYLES = ("uPlot.min.css", "tbreport.css")


@functools.cache
def asset(name: str) -> str:
    return (builtin_templates() / "assets" / name).read_text(encoding="utf-8")


def csp_source(script: str) -> str:
    """The CSP source expression allowing exactly this inline script."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def page_data(report: Report, options: Options) -> dict[str, Any]:
    """What the script draws: per element of ``report.charts`` its payload, or None for a
    kind that has no ``embed`` (it keeps its static image)."""
    charts = []
    for element in report.charts:
        embed = getattr(get_kind(element.kind), "embed", None)
        payload = None if embed is None else embed(element)
        axis = getattr(element, "x_axis", options.x_axis)
        if payload is not None and axis != options.x_axis:
            payload["x_axis"] = axis  # a --source block's own `x`
        outliers = getattr(element, "ignore_outliers", options.ignore_outliers)
        if payload is not None and outliers != options.ignore_outliers:
            payload["ignore_outliers"] = outliers  # a block's own `ignore_outliers`
        charts.append(payload)
    data: dict[str, Any] = {
        "format": "tbreport-charts",
        "version": FORMAT_VERSION,
        "smoothing": options.smoothing,
        "x_axis": options.x_axis,
        "ignore_outliers": options.ignore_outliers,
        "charts": charts,
    }
    scale = report.color_scale
    if scale is not None:
        # --colour-by: the legend's colour bar
        data["colour_scale"] = {
            "name": scale.name,
            "low": scale.low,
            "high": scale.high,
            "log": scale.log,
            "stops": list(scale.stops),
        }
    return data


@dataclass(frozen=True)
class Page:
    """The template values of an interactive page."""

    #: the JSON text of <script type="application/json" id="tbreport-data">
    data: Markup
    scripts: tuple[Markup, ...]
    css: Markup
    #: CSP script-src sources: one sha256 per inline script (base64 and quotes only)
    script_src: Markup
    #: index in report.charts -> drawn by the script
    drawn: frozenset[int]


def inline_page(report: Report, options: Options) -> Page:
    data = page_data(report, options)
    scripts = tuple(asset(name) for name in SCRIPTS)
    for name, text in zip(SCRIPTS, scripts, strict=True):
        if "</script" in text.lower():  # cannot happen with the pinned files; a new pin could
            raise ValueError(f"templates/assets/{name} contains '</script' and cannot be inlined")
    return Page(
        data=Markup(script_json(data)),
        scripts=tuple(Markup(text) for text in scripts),
        css=Markup("\n".join(asset(name) for name in STYLES)),
        script_src=Markup(" ".join(csp_source(text) for text in scripts)),
        drawn=frozenset(i for i, chart in enumerate(data["charts"]) if chart is not None),
    )


#: where an --interactive Jekyll post's shared script and styles go (one copy per site)
SITE_ASSETS = "assets/tbreport"


def site_files(report: Report, options: Options, data_path: str) -> dict[str, bytes]:
    """The files an ``--interactive`` Jekyll post loads: the shared scripts and styles, and
    its data as a script setting ``window.tbreportData`` (no fetch, so no CORS or MIME
    surprises on any host). Files without front matter are copied by Jekyll as they are."""
    files = {f"{SITE_ASSETS}/{name}": asset(name).encode("utf-8") for name in SCRIPTS}
    css = "\n".join(asset(name) for name in STYLES)
    files[f"{SITE_ASSETS}/charts.css"] = css.encode("utf-8")
    data = script_json(page_data(report, options))
    files[data_path] = f"window.tbreportData = {data};\n".encode()
    return files
