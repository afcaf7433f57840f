"""Scalars kind, report elements: a Chart per tag from the runs' series (smoothed over the
full series, thinned for drawing keeping extremes, with an outlier-robust y range, summaries,
direction and best run).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from tbreport.kinds.scalars.directions import direction_of
from tbreport.kinds.scalars.transform import (
    best_of,
    outlier_range,
    padded_range,
    series_summary,
    smooth_many,
    thin,
)
from tbreport.model import Chart, FinalValue, FinalValues, Line, Run, Series, wall_time_ok
from tbreport.names import section_of
from tbreport.options import Options

if TYPE_CHECKING:
    from tbreport.kinds import KindContext


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


def elements(ctx: KindContext) -> list[Chart | FinalValues]:
    """One chart per selected scalar tag, every run that has it overlaid; a tag with at most
    one point per run is a table of final values instead (a chart of one point says nothing)."""
    options = ctx.options
    overrides = dict(options.directions) if options.directions else None
    log_pattern = re.compile(options.log_y) if options.log_y else None
    tags = [tag for tag in ctx.tags if any(tag in run.scalars for run in ctx.runs)]
    out: list[Chart | FinalValues] = []
    for tag in tags:
        if all(len(run.scalars[tag]) <= 1 for run in ctx.runs if tag in run.scalars):
            out.append(_final_values(tag, ctx, overrides))
            continue
        if ctx.groups:
            from tbreport.kinds.scalars.grouped import make_group_chart

            log_y = bool(log_pattern and log_pattern.search(tag))
            grouped = make_group_chart(tag, ctx, overrides, log_y)
            out.append(replace(grouped, color_scale=ctx.color_scale))
            continue
        chart = _build_chart(
            tag, ctx.runs, ctx.colors, ctx.slugs[tag], options, overrides, log_pattern, ctx.baseline
        )
        lines = tuple(
            replace(line, style=ctx.styles.get(line.run, "solid"), trial=ctx.trial_of.get(line.run))
            for line in chart.lines
        )
        out.append(replace(chart, lines=lines, color_scale=ctx.color_scale))
    return out


def _final_values(tag: str, ctx: KindContext, overrides: dict[str, str] | None) -> FinalValues:
    rows = []
    for run in ctx.runs:
        series = run.scalars.get(tag)
        if series is None or not len(series):
            continue
        rows.append(
            FinalValue(
                run.name, ctx.colors[run.name], int(series.steps[-1]), float(series.values[-1])
            )
        )
    return FinalValues(
        tag=tag, slug=ctx.slugs[tag], rows=tuple(rows), direction=direction_of(tag, overrides)
    )


def _build_chart(
    tag: str,
    runs: Sequence[Run],
    colors: Mapping[str, str],
    tag_slug: str,
    options: Options,
    overrides: dict[str, str] | None,
    log_pattern: re.Pattern[str] | None,
    baseline: frozenset[str] = frozenset(),
) -> Chart:
    lines = []
    summaries = {}
    raw_drawn: list[np.ndarray] = []
    kept: list[np.ndarray] = []
    undated = 0
    log_y = bool(log_pattern and log_pattern.search(tag))
    present = [(run, run.scalars[tag]) for run in runs if tag in run.scalars]
    # every run's line at once: one blocked scan for the chart
    smoothed_all: list[np.ndarray | None] = (
        list(smooth_many([series.values for _, series in present], options.smoothing))
        if options.smoothing > 0
        else [None] * len(present)
    )
    for (run, series), smoothed in zip(present, smoothed_all, strict=True):
        x = x_values(series, options.x_axis)
        values = series.values
        # smoothed over the full series, like the statistics; only the drawing skips points
        placed = np.flatnonzero(np.isfinite(x))
        undated += len(series) - placed.size
        # --full-data: the page holds every point, so the images draw every point too
        idx = (
            placed
            if options.full_data
            else placed[thin(x[placed], values[placed], options.max_points)]
        )
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
            steps=series.steps[idx],
            wall_times=series.wall_times[idx],
        )
        lines.append(line)
        raw_drawn.append(line.y)
        # what the range must hold: the smoothed line and the value each run ends on
        kept.append(values[placed[-1:]])
        if line.smoothed is not None:
            kept.append(line.smoothed)
    y_range, clipped = _y_range(raw_drawn, kept, options.ignore_outliers, log_y)
    direction = direction_of(tag, overrides)
    return Chart(
        tag=tag,
        section=section_of(tag),
        slug=tag_slug,
        lines=tuple(lines),
        x_axis=options.x_axis,
        log_y=log_y,
        y_range=y_range,
        ignore_outliers=options.ignore_outliers,
        smoothing=options.smoothing,
        direction=direction,
        best=best_of(summaries, direction) if len(summaries) > 1 else None,
        undated=undated,
        clipped=clipped,
    )


def _y_range(
    raw: list[np.ndarray], kept: list[np.ndarray], ignore_outliers: bool, log_y: bool
) -> tuple[tuple[float, float] | None, int]:
    """The y limits and how many drawn raw points fall outside them.

    Ignoring outliers, the range is TensorBoard's 5th-95th percentile of the raw points, widened
    to hold every ``kept`` value (smoothed lines, each series' last point): only raw points may
    leave it. Otherwise it spans every value.
    """
    raw_values = _plottable(raw, log_y)
    kept_values = _plottable(kept, log_y)
    every = np.concatenate((raw_values, kept_values))
    if every.size == 0:
        return None, 0
    rng = outlier_range(raw_values) if ignore_outliers else None
    if rng is None:
        return padded_range(float(every.min()), float(every.max()), log=log_y), 0
    lo, hi = rng
    if kept_values.size:
        lo, hi = min(lo, float(kept_values.min())), max(hi, float(kept_values.max()))
    limits = padded_range(lo, hi, log=log_y)
    clipped = int(np.count_nonzero((raw_values < limits[0]) | (raw_values > limits[1])))
    return limits, clipped


def _plottable(arrays: list[np.ndarray], log_y: bool) -> np.ndarray:
    values = np.concatenate(arrays) if arrays else np.empty(0)
    values = values[np.isfinite(values)]
    return values[values > 0] if log_y else values
