"""The build pipeline: read, transform, charts, render, write, in that order.

``build(options)`` is what ``tbreport build`` runs; nothing is written until every file of the
build has been rendered in memory.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tbreport.config import Options
from tbreport.errors import StrictModeError, TbreportError
from tbreport.model import WARNING, Chart, DataWarning, Report
from tbreport.writers import OutputFile, write_files

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BuildResult:
    report: Report
    out: str
    #: files written, relative to out
    written: tuple[str, ...]
    #: the main file: index.html or the post
    main: str
    warnings: tuple[DataWarning, ...]


class FutureDateError(TbreportError):
    """A post dated in the future: Jekyll would silently skip it."""


def build(options: Options, progress: Progress | None = None, now: dt.datetime | None = None) -> BuildResult:
    from tbreport.reader import read_logdir
    from tbreport.report import build_report

    logdir = read_logdir(options.runs_dir, restarts=options.restarts)
    report = build_report(logdir, options, now=now)
    if options.strict:
        problems = [w for w in report.warnings if w.severity == WARNING]
        if problems:
            listing = "\n".join(f"  - {w.message}" for w in problems)
            raise StrictModeError(
                f"--strict: reading produced {len(problems)} warning(s); nothing was built.\n"
                f"{listing}"
            )
    current = (now or dt.datetime.now().astimezone()).replace(microsecond=0)
    if options.format == "jekyll" and report.date > current:
        raise FutureDateError(
            f"--date {report.date.isoformat()} is in the future; Jekyll skips future posts "
            "without a word. Give today's date or an earlier one."
        )
    if not report.charts:
        raise TbreportError(
            f"No scalar tags to chart in '{options.runs_dir}' with the run and tag filters "
            "given. Check --tags/--runs (or run `tbreport ls` to see what is there)."
        )
    from tbreport.charts import draw_charts

    images = draw_charts(
        report.charts, image_format=options.image_format, jobs=options.jobs, progress=progress
    )
    data = [chart_csv(chart) for chart in report.charts]
    if options.format == "html":
        files = _html_files(report, options, images, data)
    else:
        files = _jekyll_files(report, options, images, data)
    out = Path(options.out)
    written = write_files(out, files)
    return BuildResult(
        report=report,
        out=str(out),
        written=tuple(written),
        main=files[0].path,
        warnings=report.warnings,
    )


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
            )
        )
    return buf.getvalue().encode("utf-8")


def _csv_safe(text: str) -> str:
    # spreadsheets run cells starting with = + - @ as formulas: run names are untrusted
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


_MIME = {"png": "image/png", "svg": "image/svg+xml"}


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _context(report: Report, options: Options, figures: list[dict]) -> dict:
    from tbreport.render import format_utc

    runs = report.runs
    starts = [r.start_time for r in runs if r.start_time is not None]
    ends = [r.start_time + r.duration for r in runs if r.start_time is not None and r.duration is not None]
    steps = [(r.first_step, r.last_step) for r in runs if r.first_step is not None]
    return {
        "report": report,
        "options": options,
        "figures": figures,
        "sections": _sections(report, figures),
        "generated": report.date,
        "span": {
            "first_step": min((s[0] for s in steps), default=None),
            "last_step": max((s[1] for s in steps), default=None),
            "start": format_utc(min(starts)) if starts else None,
            "end": format_utc(max(ends)) if ends else None,
        },
        "tag_count": len(report.charts),
        "points": sum(r.points for r in runs),
    }


def _sections(report: Report, figures: list[dict]) -> list[dict]:
    out = []
    i = 0
    for section in report.sections:
        items = []
        for _chart in section.charts:
            items.append(figures[i])
            i += 1
        out.append({"section": section, "figures": items})
    return out


def _figures(report: Report, image_urls: list[str], data_urls: list[str]) -> list[dict]:
    figures = []
    for number, (chart, image, data) in enumerate(zip(report.charts, image_urls, data_urls), 1):
        rows = []
        for line in chart.lines:
            rows.append({"line": line, "summary": line.summary, "best": line.run == chart.best})
        figures.append(
            {
                "number": number,
                "chart": chart,
                "image": image,
                "data": data,
                "rows": rows,
                "thinned": chart.drawn < chart.points,
            }
        )
    return figures


def _html_files(report: Report, options: Options, images: list[bytes], data: list[bytes]) -> list[OutputFile]:
    from tbreport.render import render

    image_urls = [_data_uri(_MIME[options.image_format], img) for img in images]
    data_urls = [_data_uri("text/csv", d) for d in data]
    context = _context(report, options, _figures(report, image_urls, data_urls))
    html = render("report.html.j2", context, options.templates, autoescape=True)
    return [OutputFile("index.html", html.encode("utf-8"))]


def _jekyll_files(report: Report, options: Options, images: list[bytes], data: list[bytes]) -> list[OutputFile]:
    from tbreport.render import render
    from tbreport.report import post_slug

    slug = post_slug(report)
    assets = f"assets/images/{slug}"
    ext = options.image_format
    image_urls = [f"/{assets}/{chart.slug}.{ext}" for chart in report.charts]
    data_urls = [f"/{assets}/{chart.slug}.csv" for chart in report.charts]
    context = _context(report, options, _figures(report, image_urls, data_urls))
    context["slug"] = slug
    post = render("post.md.j2", context, options.templates, autoescape=False)
    post_path = f"_posts/{report.date.strftime('%Y-%m-%d')}-{slug}.md"
    files = [OutputFile(post_path, post.encode("utf-8"))]
    for chart, img, csv_bytes in zip(report.charts, images, data):
        files.append(OutputFile(f"{assets}/{chart.slug}.{ext}", img))
        files.append(OutputFile(f"{assets}/{chart.slug}.csv", csv_bytes))
    out = Path(options.out)
    if not (out / "_config.yml").exists():
        site = {"title": report.title, "options": options}
        files.append(
            OutputFile("_config.yml", render("site/_config.yml.j2", site, options.templates, False).encode(), scaffold=True)
        )
        files.append(
            OutputFile("index.md", render("site/index.md.j2", site, options.templates, False).encode(), scaffold=True)
        )
    return files

