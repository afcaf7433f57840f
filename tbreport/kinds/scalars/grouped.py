"""Scalars kind, grouped charts: a tag and the groups of runs in, a Chart with one centre line
and band per group out (aggregated over the full series, smoothed per run first, thinned for
drawing only after), and each member run faint under it with ``--show-runs``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tbreport.kinds.scalars.aggregate import aggregate, spread
from tbreport.kinds.scalars.directions import MAX, MIN, direction_of
from tbreport.kinds.scalars.transform import best_of, series_summary, smooth, thin
from tbreport.model import Chart, GroupSummary, Line, Series
from tbreport.names import section_of

if TYPE_CHECKING:
    from tbreport.kinds import KindContext


def _shown_values(series: Series, weight: float) -> np.ndarray:
    # smoothing per run before aggregating: the mean of what each run's chart would show
    return smooth(series.values, weight) if weight > 0 else series.values.astype(np.float64)


def _best_index(center: np.ndarray, direction: str) -> int | None:
    finite = np.flatnonzero(np.isfinite(center))
    if not finite.size or direction not in (MIN, MAX):
        return None
    pick = np.argmin if direction == MIN else np.argmax
    return int(finite[pick(center[finite])])


def group_lines(tag: str, ctx: KindContext, direction: str) -> tuple[list[Line], bool]:
    """Per group holding the tag, its centre line (then its faint members with --show-runs);
    and whether any group's steps were bucketed."""
    options = ctx.options
    by_name = {run.name: run for run in ctx.runs}
    lines: list[Line] = []
    bucketed = False
    for key, members in ctx.groups.items():
        # a member run without the tag is not behind this tag's line
        found = [(name, by_name[name].scalars.get(tag)) for name in members if name in by_name]
        held = [(name, s) for name, s in found if s is not None and len(s)]
        if not held:
            continue
        shown = [(s.steps, _shown_values(s, options.smoothing)) for _, s in held]
        agg = aggregate(shown, options.center, options.band)
        bucketed |= agg.bucketed
        x = agg.steps.astype(np.float64)
        idx = np.arange(x.size) if options.full_data else thin(x, agg.center, options.max_points)
        lasts = np.array(
            [v[np.isfinite(v)][-1] for _, v in shown if np.isfinite(v).any()], dtype=np.float64
        )
        best = _best_index(agg.center, direction)
        summary = GroupSummary(
            runs=tuple(name for name, _ in held),
            last=spread(lasts, options.center, options.band),
            best=None
            if best is None
            else (float(agg.center[best]), float(agg.lower[best]), float(agg.upper[best])),
            best_step=None if best is None else int(agg.steps[best]),
            n_min=int(agg.n.min()),
            n_max=int(agg.n.max()),
        )
        color = ctx.colors[key]
        wall = _wall_times_at(held[0][1], agg.steps)
        lines.append(
            Line(
                run=key,
                color=color,
                x=x[idx],
                y=agg.center[idx],
                smoothed=None,
                points=sum(len(s) for _, s in held),
                drawn=int(idx.size),
                summary=series_summary(agg.steps, agg.center),
                steps=agg.steps[idx],
                wall_times=wall[idx],
                lower=agg.lower[idx],
                upper=agg.upper[idx],
                n=agg.n[idx],
                group=summary,
                style=ctx.styles.get(key, "solid"),
                # a group of baseline runs is drawn dashed, as baseline runs are
                dashed=all(name in ctx.baseline for name, _ in held),
            )
        )
        if options.show_runs:
            for name, s in held:
                values = _shown_values(s, options.smoothing)
                keep = thin(s.steps.astype(np.float64), values, options.max_points)
                lines.append(
                    Line(
                        run=name,
                        color=color,
                        x=s.steps[keep].astype(np.float64),
                        y=values[keep],
                        smoothed=None,
                        points=len(s),
                        drawn=int(keep.size),
                        summary=series_summary(s.steps, s.values),
                        steps=s.steps[keep],
                        wall_times=s.wall_times[keep],
                        faint=True,
                        trial=key,
                        dashed=name in ctx.baseline,
                    )
                )
    return lines, bucketed


def _wall_times_at(first: Series, steps: np.ndarray) -> np.ndarray:
    """A wall time per aggregated step for the page's hover readout: the first member's wall
    time at its first step at or after it (groups are drawn against steps, seeds differ)."""
    at = np.clip(np.searchsorted(first.steps, steps), 0, len(first) - 1)
    return first.wall_times[at].astype(np.float64)


def make_group_chart(
    tag: str, ctx: KindContext, overrides: dict[str, str] | None, log_y: bool
) -> Chart:
    from tbreport.kinds.scalars.report import _y_range

    direction = direction_of(tag, overrides)
    lines, bucketed = group_lines(tag, ctx, direction)
    centres = [line for line in lines if not line.faint]
    drawn = [line.y for line in lines]
    kept = [a for line in centres for a in (line.lower, line.upper) if a is not None]
    y_range, clipped = _y_range(drawn, kept, ctx.options.ignore_outliers, log_y)
    summaries = {line.run: line.summary for line in centres}
    return Chart(
        tag=tag,
        section=section_of(tag),
        slug=ctx.slugs[tag],
        lines=tuple(lines),
        x_axis="step",
        log_y=log_y,
        y_range=y_range,
        ignore_outliers=ctx.options.ignore_outliers,
        smoothing=ctx.options.smoothing,
        direction=direction,
        best=best_of(summaries, direction) if len(summaries) > 1 else None,
        clipped=clipped,
        center=ctx.options.center,
        band=ctx.options.band,
        bucketed=bucketed,
    )
