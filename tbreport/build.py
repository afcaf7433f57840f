"""The build pipeline: read, transform, charts, render, write, in that order.

``build(options)`` is what ``tbreport build`` runs; nothing is written until every file of the
build has been rendered in memory.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import importlib
import io
import itertools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tbreport.config import Options
from tbreport.errors import StrictModeError, TbreportError
from tbreport.model import WARNING, Chart, DataWarning, Logdir, Report
from tbreport.writers import OutputFile, write_files

if TYPE_CHECKING:
    from tbreport.markdown import Summary

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
    #: Markdown output: the details dropped to fit the size cap, in order
    shortened: tuple[str, ...] = ()


class FutureDateError(TbreportError):
    """A post dated in the future: Jekyll would silently skip it."""


def build(
    options: Options, progress: Progress | None = None, now: dt.datetime | None = None
) -> BuildResult:
    from tbreport.reader import read_logdir
    from tbreport.report import build_report, post_slug

    # matplotlib takes most of a second to import: do it on the other core while reading
    # (numpy releases the GIL); joined before the chart pool forks
    warm = threading.Thread(target=importlib.import_module, args=("tbreport.charts",))
    warm.start()
    try:
        logdir = read_logdir(options.runs_dir, restarts=options.restarts)
    finally:
        warm.join()
    logdir, baseline, pairs = with_baseline(logdir, options)
    report = build_report(logdir, options, now=now, baseline=baseline, pairs=pairs)
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

    data: list[bytes] = []

    def plotted_data() -> None:
        data.extend(chart_csv(chart) for chart in report.charts)

    if options.format == "markdown" and not options.image_base_url:
        images = []  # no image links without a host for them: nothing to draw
        plotted_data()
    else:
        # the CSV files are written while the chart workers draw
        images = draw_charts(
            report.charts,
            image_format=options.image_format,
            jobs=options.jobs,
            progress=progress,
            meanwhile=plotted_data,
        )
    summary = None
    if options.format == "html":
        files = _html_files(report, options, images, data)
    elif options.format == "jekyll":
        files = _jekyll_files(report, options, images, data)
    else:
        files, summary = _markdown_files(report, options, images)
    out = Path(options.out)
    # one manifest entry per Jekyll post, so posts of one blog do not replace each other
    key = f"post:{post_slug(report)}" if options.format == "jekyll" else options.format
    written = write_files(out, files, report=key, force=options.force)
    if summary is not None and options.job_summary:
        _append_job_summary(summary)
    result = BuildResult(
        report=report,
        out=str(out),
        written=tuple(written),
        main=files[0].path,
        warnings=report.warnings,
        shortened=summary.dropped if summary is not None else (),
    )
    return result


class BaselineError(TbreportError):
    """--baseline names neither a folder nor a regex matching some (not all) runs."""


class RegressionError(TbreportError):
    """A gate tag got worse than the baseline beyond its tolerance."""

    exit_code = 1


def with_baseline(
    logdir: Logdir, options: Options
) -> tuple[Logdir, frozenset[str], dict[str, str]]:
    """The logdir with the baseline runs added (from another logdir) or picked (by regex)."""
    from tbreport.reader import read_logdir

    if not options.baseline:
        if options.fail_on_regression:
            raise BaselineError("--fail-on-regression needs --baseline (a logdir or a run regex).")
        return logdir, frozenset(), {}
    if Path(options.baseline).is_dir():
        base = read_logdir(options.baseline, restarts=options.restarts)
        rename = {run.name: _baseline_name(run.name) for run in base.runs}
        clash = sorted(set(rename.values()) & {run.name for run in logdir.runs})
        if clash:
            raise BaselineError(
                f"Run '{clash[0]}' exists in '{options.runs_dir}' and as a baseline run name; "
                "rename the folder or give the baseline as a regex."
            )
        runs = [replace(run, name=rename[run.name], parent=None) for run in base.runs]
        warnings = [replace(w, run=rename.get(w.run, w.run)) if w.run else w for w in base.warnings]
        pairs = {run.name: rename[run.name] for run in logdir.runs if run.name in rename}
        merged = Logdir(logdir.path, logdir.runs + tuple(runs), logdir.warnings + tuple(warnings))
        return merged, frozenset(rename.values()), pairs
    try:
        pattern = re.compile(options.baseline)
    except re.error as err:
        raise BaselineError(
            f"--baseline {options.baseline!r} is not a folder and not a valid regex ({err})."
        ) from None
    names = frozenset(run.name for run in logdir.runs if pattern.search(run.name))
    if not names:
        raise BaselineError(
            f"--baseline {options.baseline!r} is not a folder and matches no run in "
            f"'{options.runs_dir}'. Run `tbreport ls` to see the run names."
        )
    if len(names) == len(logdir.runs):
        raise BaselineError(
            f"--baseline {options.baseline!r} matches every run; nothing is left to compare."
        )
    return logdir, names, {}


def _baseline_name(name: str) -> str:
    return "baseline" if name == "." else f"baseline/{name}"


def check_regressions(report: Report) -> None:
    """Raise RegressionError when a gate tag got worse beyond its tolerance."""
    from tbreport.formatting import format_number

    comparison = report.comparison
    regressions = comparison.regressions if comparison is not None else ()
    if not regressions:
        return
    lines = []
    for d in regressions:
        rel = "" if d.rel_delta is None else f", {d.rel_delta:+.1%}"
        lines.append(
            f"  - {d.tag}: {d.run} {format_number(d.last)} vs {d.reference} "
            f"{format_number(d.base_last)}{rel} (tolerance {d.tolerance:.1%})"
        )
    raise RegressionError(
        f"{len(regressions)} gate(s) got worse than the baseline:\n" + "\n".join(lines)
    )


def _append_job_summary(summary: Summary) -> None:
    import os

    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(summary.text)


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
                strict=False,
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
    from tbreport.formatting import format_utc

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
    remaining = iter(figures)  # figures are in report.charts order: section by section
    return [
        {"section": section, "figures": [next(remaining) for _ in section.charts]}
        for section in report.sections
    ]


def _figures(report: Report, image_urls: list[str], data_urls: list[str]) -> list[dict]:
    figures = []
    for number, (chart, image, data) in enumerate(
        zip(report.charts, image_urls, data_urls, strict=True), 1
    ):
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


def _html_files(
    report: Report, options: Options, images: list[bytes], data: list[bytes]
) -> list[OutputFile]:
    from tbreport.render import render

    image_urls = [_data_uri(_MIME[options.image_format], img) for img in images]
    data_urls = [_data_uri("text/csv", d) for d in data]
    context = _context(report, options, _figures(report, image_urls, data_urls))
    html = render("report.html.j2", context, options.templates, autoescape=True)
    return [OutputFile("index.html", html.encode("utf-8"))]


def _markdown_files(
    report: Report, options: Options, images: list[bytes]
) -> tuple[list[OutputFile], Summary]:
    from tbreport.markdown import render_summary

    ext = options.image_format
    figures = _figures(
        report, [f"{c.slug}.{ext}" for c in report.charts], ["" for _ in report.charts]
    )
    context = _context(report, options, figures)
    summary = render_summary(report, options, figures, context, ext)
    files = [OutputFile("report.md", summary.text.encode("utf-8"))]
    if images:  # drawn only for hosting where --image-base-url points (publish --prefix)
        for chart, img in zip(report.charts, images, strict=True):
            files.append(OutputFile(f"{chart.slug}.{ext}", img))
    return files, summary


def _jekyll_files(
    report: Report, options: Options, images: list[bytes], data: list[bytes]
) -> list[OutputFile]:
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
    for chart, img, csv_bytes in zip(report.charts, images, data, strict=True):
        files.append(OutputFile(f"{assets}/{chart.slug}.{ext}", img))
        files.append(OutputFile(f"{assets}/{chart.slug}.csv", csv_bytes))
    out = Path(options.out)
    if not (out / "_config.yml").exists():
        site = {"title": report.title, "options": options}
        files.append(
            OutputFile(
                "_config.yml",
                render("site/_config.yml.j2", site, options.templates, False).encode(),
                scaffold=True,
            )
        )
        files.append(
            OutputFile(
                "index.md",
                render("site/index.md.j2", site, options.templates, False).encode(),
                scaffold=True,
            )
        )
    return files
