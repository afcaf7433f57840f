"""Report stage: a Logdir and Options in, a Report (sections of per-tag charts) out.

Selects runs and tags, smooths each full series, thins it for drawing while keeping extremes,
computes the outlier-robust y range, summaries, directions and the best run per tag.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from tbreport.escape import slug, unique_slugs
from tbreport.formatting import format_number
from tbreport.kinds.scalars.directions import direction_of
from tbreport.kinds.scalars.transform import (
    best_of,
    outlier_range,
    padded_range,
    series_summary,
    smooth,
    thin,
)
from tbreport.model import (
    Chart,
    Comparison,
    Line,
    Logdir,
    Report,
    Run,
    RunInfo,
    Section,
    Series,
    wall_time_ok,
)
from tbreport.options import Options
from tbreport.report.baseline import BaselineError, with_baseline
from tbreport.report.colours import run_colors
from tbreport.report.compare import compare_tag
from tbreport.report.sections import natural_key, section_of

__all__ = [
    "BaselineError",
    "build_report",
    "check_regressions",
    "post_slug",
    "select_runs",
    "with_baseline",
]


def check_regressions(report: Report) -> str | None:
    """What failed the regression gates, or None (also without a baseline)."""
    regressions = report.comparison.regressions if report.comparison is not None else ()
    if not regressions:
        return None
    lines = []
    for d in regressions:
        rel = "" if d.rel_delta is None else f", {d.rel_delta:+.1%}"
        lines.append(
            f"  - {d.tag}: {d.run} {format_number(d.last)} vs {d.reference} "
            f"{format_number(d.base_last)}{rel} (tolerance {d.tolerance:.1%})"
        )
    return f"{len(regressions)} gate(s) got worse than the baseline:\n" + "\n".join(lines)


def select_runs(runs: tuple[Run, ...], options: Options) -> list[Run]:
    keep = []
    for run in runs:
        if options.runs and not re.search(options.runs, run.name):
            continue
        if options.exclude_runs and re.search(options.exclude_runs, run.name):
            continue
        keep.append(run)
    return keep


def _tag_selected(tag: str, options: Options) -> bool:
    if options.tags and not re.search(options.tags, tag):
        return False
    if options.exclude_tags and re.search(options.exclude_tags, tag):
        return False
    return True


def x_values(series: Series, x_axis: str) -> np.ndarray:
    """x of every point; NaN on a time axis where the wall time is not a date."""
    if x_axis == "step":
        return series.steps.astype(np.float64)
    wall = series.wall_times
    dated = wall_time_ok(wall)
    x = np.where(dated, wall, np.nan)
    if x_axis == "relative":
        # from the first dated point: one wall time of 1e13 or -1e300 would make the span absurd
        return x - wall[dated][0] if dated.any() else x
    return x


def build_report(
    logdir: Logdir,
    options: Options,
    now: dt.datetime | None = None,
    baseline: frozenset[str] = frozenset(),
    pairs: Mapping[str, str] | None = None,
) -> Report:
    """Everything the templates and charts need, computed once.

    ``baseline`` names the baseline runs (drawn dashed); ``pairs`` maps a candidate run to
    its baseline run of the same name, when the baseline came from another logdir.
    """
    pairs = dict(pairs or {})
    runs = select_runs(logdir.runs, options)
    colors = run_colors([run.name for run in runs if run.name not in baseline])
    partner = {b: c for c, b in pairs.items()}
    own = run_colors(
        [run.name for run in runs if run.name in baseline and partner.get(run.name) not in colors]
    )
    for run in runs:
        if run.name in baseline:
            # a baseline run paired with a candidate shares its colour; the dashes tell them apart
            colors[run.name] = colors.get(partner.get(run.name, ""), own.get(run.name, "#777777"))
    tags = sorted(
        {tag for run in runs for tag in run.scalars if _tag_selected(tag, options)},
        key=natural_key,
    )
    tag_slugs = dict(zip(tags, unique_slugs(tags), strict=True))
    overrides = dict(options.directions) if options.directions else None
    log_pattern = re.compile(options.log_y) if options.log_y else None

    by_section: dict[str, list[Chart]] = {}
    for tag in tags:
        chart = _build_chart(
            tag, runs, colors, tag_slugs[tag], options, overrides, log_pattern, baseline
        )
        by_section.setdefault(chart.section, []).append(chart)
    section_names = sorted(by_section, key=natural_key)
    section_slugs = dict(zip(section_names, unique_slugs(section_names), strict=True))
    sections = tuple(
        Section(name, "section-" + section_slugs[name], tuple(by_section[name]))
        for name in section_names
    )
    selected = {run.name for run in runs}
    warnings = tuple(w for w in logdir.warnings if w.run is None or w.run in selected)
    comparison = None
    if baseline:
        comparison = _compare(sections, runs, baseline, pairs, options)
    return Report(
        title=options.title or default_title(runs, logdir.path),
        date=options.date or (now or dt.datetime.now().astimezone()).replace(microsecond=0),
        logdir=logdir.path,
        runs=tuple(_run_info(run, colors[run.name], run.name in baseline) for run in runs),
        sections=sections,
        warnings=warnings,
        smoothing=options.smoothing,
        x_axis=options.x_axis,
        comparison=comparison,
    )


def _compare(
    sections: tuple[Section, ...],
    runs: list[Run],
    baseline: frozenset[str],
    pairs: Mapping[str, str],
    options: Options,
) -> Comparison:
    candidates = [run.name for run in runs if run.name not in baseline]
    baselines = [run.name for run in runs if run.name in baseline]
    verdicts = []
    for section in sections:
        for chart in section.charts:
            summaries = {line.run: line.summary for line in chart.lines}
            verdict = compare_tag(
                chart.tag,
                chart.direction,
                summaries,
                candidates,
                baselines,
                pairs,  # type: ignore[arg-type]
                options.tolerance,
                options.gates,
            )
            if verdict is not None:
                verdicts.append(verdict)
    return Comparison(tuple(verdicts), options.tolerance)


def default_title(runs: list[Run], logdir: str) -> str:
    names = [run.name for run in runs]
    if not names:
        return f"TensorBoard report: {Path(logdir).name or logdir}"
    if len(names) <= 3:
        return (
            "Comparing " + ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]
        )
    return f"Comparing {len(names)} runs in {Path(logdir).name or logdir}"


def post_slug(report: Report) -> str:
    return slug(report.title)


def _run_info(run: Run, color: str, baseline: bool) -> RunInfo:
    steps = [s for s in run.scalars.values() if len(s)]
    first, last = run.first_wall_time, run.last_wall_time
    return RunInfo(
        name=run.name,
        color=color,
        kind=run.kind,
        parent=run.parent,
        points=run.points,
        tags=len(run.scalars),
        first_step=min((int(s.steps.min()) for s in steps), default=None),
        last_step=max((int(s.steps.max()) for s in steps), default=None),
        start_time=first,
        duration=None if first is None or last is None else last - first,
        hparams=dict(sorted(run.hparams.items())),
        others=sum(c.count for c in run.others.values()),
        baseline=baseline,
    )


def _build_chart(
    tag: str,
    runs: list[Run],
    colors: dict[str, str],
    tag_slug: str,
    options: Options,
    overrides: dict[str, str] | None,
    log_pattern: re.Pattern[str] | None,
    baseline: frozenset[str] = frozenset(),
) -> Chart:
    lines = []
    summaries = {}
    drawn_values = []
    undated = 0
    log_y = bool(log_pattern and log_pattern.search(tag))
    for run in runs:
        series = run.scalars.get(tag)
        if series is None:
            continue
        x = x_values(series, options.x_axis)
        values = series.values
        smoothed = smooth(values, options.smoothing) if options.smoothing > 0 else None
        # smoothed over the full series, like the statistics; only the drawing skips points
        placed = np.flatnonzero(np.isfinite(x))
        undated += len(series) - placed.size
        idx = placed[thin(x[placed], values[placed], options.max_points)]
        summary = series_summary(series.steps, values)
        summaries[run.name] = summary
        line = Line(
            run=run.name,
            color=colors[run.name],
            x=x[idx],
            y=values[idx],
            smoothed=None if smoothed is None else smoothed[idx],
            points=len(series),
            drawn=int(idx.shape[0]),
            summary=summary,
            dashed=run.name in baseline,
        )
        lines.append(line)
        drawn_values.append(line.y)
        if line.smoothed is not None:
            drawn_values.append(line.smoothed)
    direction = direction_of(tag, overrides)
    return Chart(
        tag=tag,
        section=section_of(tag),
        slug=tag_slug,
        lines=tuple(lines),
        x_axis=options.x_axis,
        log_y=log_y,
        y_range=_y_range(drawn_values, options.ignore_outliers, log_y),
        smoothing=options.smoothing,
        direction=direction,
        best=best_of(summaries, direction) if len(summaries) > 1 else None,
        undated=undated,
    )


def _y_range(
    drawn: list[np.ndarray], ignore_outliers: bool, log_y: bool
) -> tuple[float, float] | None:
    if not drawn:
        return None
    values = np.concatenate(drawn)
    values = values[np.isfinite(values)]
    if log_y:
        values = values[values > 0]
    if values.size == 0:
        return None
    if ignore_outliers:
        rng = outlier_range(values)
        if rng is None:
            return None
        lo, hi = rng
    else:
        lo, hi = float(values.min()), float(values.max())
    return padded_range(lo, hi, log=log_y)
