"""The build pipeline: read, report, charts, render, write, in that order.

``build(options)`` is what ``tbreport build`` runs: nothing is written until every file of the
build has been rendered in memory, and a gated regression raises after the report is written.
Both read event files and draw charts through :class:`Caches`: the disk cache that the options
name (``--cache``, ``--no-cache``) unless the caller passes its own (``Caches.memory()`` for a
process that renders again and again).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tbreport.charts.cache import ChartCache, MemoryCharts, open_disk_charts
from tbreport.errors import StrictModeError, TbreportError
from tbreport.formats import Artifacts, FutureDateError, Rendered
from tbreport.model import WARNING, DataWarning, Logdir, Report
from tbreport.options import Options, report_date
from tbreport.read.cache import (
    CacheUnusable,
    DecodeCache,
    MemoryCache,
    cache_root,
    open_disk_cache,
    unusable_message,
)
from tbreport.rebuild import Builds, Stamp, open_builds
from tbreport.registry import get_format, get_kind

if TYPE_CHECKING:
    from tbreport.charts import ChartPool, Later

__all__ = [
    "BuildResult",
    "Caches",
    "FutureDateError",
    "RegressionError",
    "Rendering",
    "build",
    "draft",
    "open_caches",
    "render",
]

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
    #: charts drawn by this build, and charts whose image came from the cache
    drawn: int = 0
    reused: int = 0
    #: what the read did per event file, with a cache (tbreport.read.cache.OUTCOMES)
    read_outcomes: dict[str, str] = field(default_factory=dict)

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
class Caches:
    """Where decoded event files and chart images are kept between builds (None: nowhere),
    and why the cache folder could not be used."""

    decode: DecodeCache | None = None
    charts: ChartCache | None = None
    #: what whole builds made, by output (``tbreport.rebuild``): disk caches only
    builds: Builds | None = None
    warnings: tuple[DataWarning, ...] = ()

    @classmethod
    def memory(cls) -> Caches:
        """Caches held in this process: keep one across renders of a long-running process."""
        return cls(MemoryCache(), MemoryCharts())


def open_caches(options: Options) -> Caches:
    """The disk caches the options name (none with ``--no-cache``); a cache folder that
    cannot be used gives a ``cache-unusable`` warning and no cache."""
    if options.no_cache:
        return Caches()
    root = cache_root(options.cache)
    try:
        return Caches(open_disk_cache(root), open_disk_charts(root), open_builds(root))
    except CacheUnusable as err:
        return Caches(
            warnings=(DataWarning("cache-unusable", unusable_message(root, err), path=str(root)),)
        )


@dataclass(frozen=True)
class Rendering:
    """A build held in memory: the report, what the charts stage made, the rendered files."""

    report: Report
    artifacts: Artifacts
    rendered: Rendered
    #: what the read did per event file (:data:`tbreport.read.cache.OUTCOMES`), with a cache
    read_outcomes: dict[str, str] = field(default_factory=dict)
    #: charts drawn, and charts whose image came from the cache
    drawn: int = 0
    reused: int = 0
    #: problems with the caches, or with where the output goes (not part of the report)
    warnings: tuple[DataWarning, ...] = ()


def render(
    options: Options,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
    logdir: Logdir | None = None,
    caches: Caches | None = None,
    later: Later | None = None,
) -> Rendering:
    """Every stage but the writing: what ``build`` writes, and what a notebook shows.

    ``logdir``: ``options.runs_dir`` already read (``tbreport serve`` reads it itself, through
    its memory cache, to hold back a running writer's half-written last record).
    ``caches``: where decoded files and images are kept; by default the options' disk cache.
    ``later``: images not in the chart cache are drawn there after this returns, and the
    artifacts hold :class:`~tbreport.charts.Pending` images (a preview server's; never written).
    """
    fmt = get_format(options.format)
    needs = fmt.needs(options)
    source = None
    if options.source:  # a --source post is checked before any event file is read
        from tbreport.source import read_source

        source = read_source(options.source)
    if caches is None:
        caches = open_caches(options)
    # the same files and options as the last build of this output: its report and artifacts
    stamp = caches.builds.stamp(options, source) if caches.builds and logdir is None else None
    kept = stamp.load() if stamp is not None else None
    from tbreport.formats.jekyll import published_source

    warnings = (*caches.warnings, *published_source(options))
    if stamp is not None and kept is not None:
        return _rerender(options, now, fmt, stamp, *kept, warnings)
    from tbreport.charts import ChartPool
    from tbreport.read import read_logdir
    from tbreport.report import build_report, with_baseline

    images = "images" in needs or "static-images" in needs
    with ChartPool(
        options.jobs, options.image_format,
        warm=images and (caches.charts is None or caches.charts.empty()),
        cache=caches.charts,
        later=later,
    ) as pool:  # fmt: skip
        outcomes: dict[str, str] = {}
        if logdir is None:
            logdir = read_logdir(
                options.runs_dir,
                restarts=options.restarts,
                executor=options.executor,
                cache=caches.decode,
                found=stamp.found if stamp is not None else None,
            )
            outcomes = caches.decode.take_outcomes() if caches.decode is not None else {}
        if images and (not outcomes or any(o != "unchanged" for o in outcomes.values())):
            pool.start_warm()  # new data: charts will be drawn, so matplotlib is needed
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
        if source is not None:
            from tbreport.report.page import compose

            def block_report(block_options: Options) -> Report:
                return build_report(logdir, block_options, now, baseline, pairs)

            report = compose(source, options, report, block_report)
        artifacts = _artifacts(report, needs, pool, progress)
        if images:
            report = _glyph_note(report, pool)
    if stamp is not None:
        stamp.save(report, artifacts)
    return Rendering(
        report,
        artifacts,
        fmt.render(report, options, artifacts),
        read_outcomes=outcomes,
        drawn=pool.drawn,
        reused=pool.reused,
        warnings=warnings,
    )


def _rerender(
    options: Options,
    now: dt.datetime | None,
    fmt: Any,
    stamp: Stamp,
    report: Report,
    artifacts: Artifacts,
    warnings: tuple[DataWarning, ...],
) -> Rendering:
    """The render stage over what the last build of these files and options made: its date
    is this build's, and it is checked as a new report is."""
    report = replace(report, date=report_date(options, report.latest, now))
    _check_strict(report, options)
    fmt.check(report, options, now)
    return Rendering(
        report,
        artifacts,
        fmt.render(report, options, artifacts),
        read_outcomes=dict.fromkeys(stamp.files, "unchanged"),
        reused=sum(image is not None for image in artifacts.images),
        warnings=warnings,
    )


def draft(options: Options, now: dt.datetime | None = None) -> str:
    """The report ``build`` makes with these options, as a ``--source`` post to edit
    (``tbreport draft``): building it gives the same files."""
    from tbreport.formats.page import draft as draft_text
    from tbreport.read import read_logdir
    from tbreport.report import build_report, with_baseline

    if options.source:
        raise TbreportError("draft writes a --source post; it does not take one.")
    logdir = read_logdir(options.runs_dir, restarts=options.restarts, executor=options.executor)
    logdir, baseline, pairs = with_baseline(logdir, options)
    report = build_report(logdir, options, now=now, baseline=baseline, pairs=pairs)
    return draft_text(report, options.format, options)


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
        warnings=(*report.warnings, *done.warnings),
        shortened=rendered.shortened,
        drawn=done.drawn,
        reused=done.reused,
        read_outcomes=done.read_outcomes,
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
    from tbreport.kinds import DATA, IMAGE, drawn_by_script

    elements = report.charts
    kinds = [get_kind(e.kind) for e in elements]
    data: list[bytes | None] = []

    def export() -> None:
        if "data" in needs or "static-data" in needs:
            # "static-data": the page's script makes the CSV of the elements it draws
            every = "data" in needs
            made = [
                DATA in k.makes and (every or not drawn_by_script(k, e))
                for k, e in zip(kinds, elements, strict=True)
            ]
            if pool.later is None:
                data.extend(
                    k.export(e) if m else None
                    for k, e, m in zip(kinds, elements, made, strict=True)
                )
                return
            # a preview: the page is served before its CSV files, made after its images
            jobs = [
                partial(k.export, e) for k, e, m in zip(kinds, elements, made, strict=True) if m
            ]
            files = iter(pool.later.make(jobs))
            data.extend(next(files) if m else None for m in made)

    images: list[bytes | None] = [None] * len(elements)
    if "images" in needs or "static-images" in needs:
        # "static-images": only the elements the page's script does not draw
        every = "images" in needs
        drawn = [
            i for i, k in enumerate(kinds)
            if IMAGE in k.makes and (every or not drawn_by_script(k, elements[i]))
        ]  # fmt: skip
        # an image the page's script replaces is only the no-script view: drawn compact
        fallback = ["fallback" in needs and drawn_by_script(kinds[i], elements[i]) for i in drawn]
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
