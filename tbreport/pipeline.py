"""The build pipeline: read, report, charts, render, write, in that order.

``build(options)`` is what ``tbreport build`` runs: nothing is written until every file of the
build has been rendered in memory, and a gated regression raises after the report is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tbreport.charts import ChartPool
from tbreport.errors import StrictModeError, TbreportError
from tbreport.formats import Artifacts, FutureDateError, Rendered
from tbreport.model import WARNING, DataWarning, Report
from tbreport.options import Options
from tbreport.registry import get_format, get_kind

__all__ = ["BuildResult", "FutureDateError", "RegressionError", "Rendering", "build", "render"]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BuildResult:
    report: Report
    out: str
    format: str
    #: files written, relative to out
    written: tuple[str, ...]
    #: the main file: index.html, the post or report.md
    main: str
    warnings: tuple[DataWarning, ...]
    #: Markdown output: the details dropped to fit the size cap, in order
    shortened: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """What ``build --json`` prints (docs/json.md); stable keys."""
        comparison = self.report.comparison
        return {
            "format": self.format,
            "out": self.out,
            "main": str(Path(self.out, self.main)),
            "written": list(self.written),
            "runs": [run.name for run in self.report.runs],
            "groups": [
                {"key": key, "runs": list(members)} for key, members in self.report.groups.items()
            ],
            "tags": tag_elements(self.report),
            "warnings": [w.to_dict() for w in self.warnings],
            "shortened": list(self.shortened),
            "comparison": None if comparison is None else comparison.to_dict(),
        }


def tag_elements(report: Report) -> list[dict[str, Any]]:
    """Per tag and kind, what the report shows for it, in report order; then what it
    recognised and left out (``elements`` empty), so CI can check that nothing was dropped."""
    shown: dict[tuple[str, str], list[str]] = {}
    for element in report.charts:
        parts = shown.setdefault((element.tag, element.kind), [])
        # an element names what it shows; a chart with its statistics table by default
        parts.extend(p for p in getattr(element, "shown", ("chart", "table")) if p not in parts)
    left: dict[tuple[str, str], list[str]] = {
        (item.tag, item.plugin): []
        for item in report.not_shown
        if (item.tag, item.plugin) not in shown
    }
    return [
        {"tag": tag, "kind": kind, "elements": parts}
        for (tag, kind), parts in [*shown.items(), *left.items()]
    ]


class RegressionError(TbreportError):
    """A gate tag got worse than the baseline beyond its tolerance (the report is written)."""

    exit_code = 1

    def __init__(self, message: str, result: BuildResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class Rendering:
    """A build held in memory: the report, what the charts stage made, the rendered files."""

    report: Report
    artifacts: Artifacts
    rendered: Rendered


def render(
    options: Options, progress: Progress | None = None, now: dt.datetime | None = None
) -> Rendering:
    """Every stage but the writing: what ``build`` writes, and what a notebook shows."""
    from tbreport.read import read_logdir
    from tbreport.report import build_report, with_baseline

    fmt = get_format(options.format)
    needs = fmt.needs(options)
    with ChartPool(options.jobs, options.image_format, warm="images" in needs) as pool:
        logdir = read_logdir(options.runs_dir, restarts=options.restarts, executor=options.executor)
        logdir, baseline, pairs = with_baseline(logdir, options)
        report = build_report(logdir, options, now=now, baseline=baseline, pairs=pairs)
        _check_strict(report, options)
        fmt.check(report, options, now)
        if not report.charts and not report.not_shown:
            # a logdir holding only a graph still gets a report saying so
            raise TbreportError(
                f"Nothing to report in '{options.runs_dir}' with the run and tag filters given: "
                "no scalars, text or other data tbreport knows. Check --tags/--runs (or run "
                "`tbreport ls` to see what is there)."
            )
        artifacts = _artifacts(report, needs, pool, progress)
        if "images" in needs:
            report = _glyph_note(report, pool)
    return Rendering(report, artifacts, fmt.render(report, options, artifacts))


def build(
    options: Options, progress: Progress | None = None, now: dt.datetime | None = None
) -> BuildResult:
    from tbreport.output import write_output
    from tbreport.report import check_regressions

    done = render(options, progress, now)
    report, rendered = done.report, done.rendered
    written = write_output(Path(options.out), rendered, force=options.force)
    result = BuildResult(
        report=report,
        out=str(options.out),
        format=options.format,
        written=tuple(written),
        main=rendered.files[0].path,
        warnings=report.warnings,
        shortened=rendered.shortened,
    )
    if options.fail_on_regression:
        message = check_regressions(report)
        if message:
            raise RegressionError(message, result)
    return result


def _check_strict(report: Report, options: Options) -> None:
    problems = [w for w in report.warnings if w.severity == WARNING]
    if options.strict and problems:
        listing = "\n".join(f"  - {w.message}" for w in problems)
        raise StrictModeError(
            f"--strict: reading produced {len(problems)} warning(s); nothing was built.\n{listing}"
        )


def _glyph_note(report: Report, pool: ChartPool) -> Report:
    """``report`` with a note when its images draw characters of tags or run names as U+FFFD
    for want of a font (the browser-drawn charts use the page's fonts)."""
    from tbreport.kinds import IMAGE

    drawn = [e for e in report.charts if IMAGE in get_kind(e.kind).makes]
    texts = [e.tag for e in drawn] + [r.name for r in report.runs]
    texts += [line.legend for e in drawn for line in getattr(e, "lines", ())]
    note = pool.missing_glyphs(texts)
    if note is None:
        return report
    return replace(report, warnings=(*report.warnings, note))


def _artifacts(
    report: Report, needs: frozenset[str], pool: ChartPool, progress: Progress | None
) -> Artifacts:
    """Chart images, plotted-data files and the elements' own files, made by their kinds."""
    from tbreport.kinds import DATA, IMAGE

    elements = report.charts
    kinds = [get_kind(e.kind) for e in elements]
    data: list[bytes | None] = []

    def export() -> None:
        if "data" in needs:
            data.extend(
                k.export(e) if DATA in k.makes else None
                for k, e in zip(kinds, elements, strict=True)
            )

    images: list[bytes | None] = [None] * len(elements)
    if "images" in needs:
        drawn = [i for i, k in enumerate(kinds) if IMAGE in k.makes]
        # an image the page's script replaces is only the no-script view: drawn compact
        fallback = [
            "fallback" in needs and getattr(kinds[i], "embed", None) is not None for i in drawn
        ]
        # the plotted-data files are made while the workers draw
        for i, image in zip(
            drawn,
            pool.draw([elements[i] for i in drawn], progress, export, fallback=fallback),
            strict=True,
        ):
            images[i] = image
    else:
        export()
    if not data:  # the format asked for none: one None per element, like the images
        data = [None] * len(elements)
    files = tuple(k.files(e) for k, e in zip(kinds, elements, strict=True))
    return Artifacts(images=tuple(images), data=tuple(data), files=files)
