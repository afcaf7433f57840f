"""The standalone HTML format: one ``index.html`` with CSS, charts and data inline."""

from __future__ import annotations

import base64
import datetime as dt

from tbreport.formats import Artifacts, Rendered, context, figures
from tbreport.formats.interactive import inline_page
from tbreport.formats.page import items, page_of
from tbreport.formats.render import Renderer
from tbreport.model import Report
from tbreport.options import Options
from tbreport.output import OutputFile

MIME = {"png": "image/png", "svg": "image/svg+xml"}


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


class Html:
    name = "html"

    def needs(self, options: Options) -> frozenset[str]:
        if options.static:
            return frozenset({"images", "data"})
        # the script draws the embedded charts and makes their CSV (the other elements'
        # images and files are made here); their images only as the no-script view
        if options.fallback == "images":
            return frozenset({"images", "fallback", "static-data"})
        return frozenset({"static-images", "static-data"})

    def check(self, report: Report, options: Options, now: dt.datetime | None) -> None:
        pass

    def render(self, report: Report, options: Options, artifacts: Artifacts) -> Rendered:
        images = [
            None if img is None else data_uri(MIME[options.image_format], img)
            for img in artifacts.images
        ]
        data = [None if d is None else data_uri("text/csv", d) for d in artifacts.data]
        files = [{m.name: data_uri(m.mime, m.data) for m in media} for media in artifacts.files]
        ctx = context(report, options, figures(report, images, data, files))
        ctx["page"] = None if options.static else inline_page(report, options)
        ctx["items"] = items(report, page_of(report, self.name), ctx["figures"], self.name)
        html = Renderer.of(options).render("report.html.j2", ctx, autoescape=True)
        return Rendered((OutputFile("index.html", html.encode("utf-8")),), manifest_key="html")


FORMAT = Html()
