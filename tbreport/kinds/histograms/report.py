"""Histograms kind, report elements: per tag and run, TensorBoard's Distributions view (every
step) and its Histograms view (a few steps, stacked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tbreport.kinds.histograms.transform import spread
from tbreport.model import NOTE, WARNING, DataWarning, Histograms, Run

if TYPE_CHECKING:
    from tbreport.kinds import KindContext

#: histograms the Histograms view stacks (TensorBoard draws every step it sampled; a static
#: image stays readable with a dozen)
STACKED = 12
DISTRIBUTIONS, HISTOGRAMS = "distributions", "histograms"


@dataclass(frozen=True)
class HistogramChart:
    """One run's histograms of one tag, as a Distributions or a Histograms view."""

    tag: str
    slug: str
    run: str
    color: str
    #: "distributions" (every step, compressed) or "histograms" (``steps`` stacked)
    view: str
    #: the histograms of the steps shown, in file order
    data: Histograms
    #: steps recorded for the tag (the view may show fewer)
    recorded: int
    kind: str = "histograms"
    #: the tag's first element (the first run's Distributions view): report.md heads it
    first: bool = False

    @property
    def buckets(self) -> tuple[int, int]:
        """Fewest and most buckets of the histograms shown."""
        sizes = np.diff(self.data.bounds)
        return (int(sizes.min()), int(sizes.max())) if sizes.size else (0, 0)


def elements(ctx: KindContext) -> list[HistogramChart]:
    """For each selected histogram tag, every run that has it: both views, Distributions first."""
    out = []
    for tag in ctx.tags:
        for run in ctx.runs:
            ctx.warnings.extend(_problems(run, tag))
        runs = [(i, run) for i, run in enumerate(ctx.runs) if len(run.histograms.get(tag, ()))]
        for i, run in runs:
            data = run.histograms[tag]
            color, slug = ctx.colors[run.name], ctx.slugs[tag]
            shown = _subset(data, spread(len(data), STACKED))
            out += [
                HistogramChart(
                    tag,
                    f"{slug}-dist-{i}",
                    run.name,
                    color,
                    DISTRIBUTIONS,
                    data,
                    len(data),
                    first=(i, run) == runs[0],
                ),
                HistogramChart(
                    tag, f"{slug}-hist-{i}", run.name, color, HISTOGRAMS, shown, len(data)
                ),
            ]
    return out


def _subset(data: Histograms, index: np.ndarray) -> Histograms:
    sizes = np.diff(data.bounds)[index]
    bounds = np.zeros(index.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes, out=bounds[1:])
    rows = [data.buckets[data.bounds[i] : data.bounds[i + 1]] for i in index.tolist()]
    return Histograms(
        steps=data.steps[index],
        wall_times=data.wall_times[index],
        bounds=bounds,
        buckets=np.concatenate(rows) if rows else np.zeros((0, 3)),
    )


def _problems(run: Run, tag: str) -> list[DataWarning]:
    """What the views leave out of the run's histograms of ``tag``, one warning per kind of
    problem: records of the tag that are no histogram (the read stage kept them as plain
    records), and histograms holding NaN or infinite edges or counts."""
    out = []
    records = run.tensors.get(tag)
    data = run.histograms.get(tag)
    if records is not None and records.plugin == "histograms":
        unread = _not_histograms(records.steps, records.wall_times, data)
        if unread:
            first = unread[0]
            path = run.files[int(records.files[first])]
            offset = int(records.offsets[first])
            out.append(
                DataWarning(
                    "histogram-not-shown",
                    f"Run '{run.name}', tag '{tag}': {len(unread)} of {len(records)} record(s) "
                    "are not histograms (a [k, 3] tensor of left edge, right edge and count, or "
                    "a HistogramProto with as many bucket limits as buckets), the first at "
                    f"step {int(records.steps[first])} (record at byte {offset} of '{path}'); "
                    "they are left out of the report.",
                    path=path,
                    offset=offset,
                    run=run.name,
                    tag=tag,
                    severity=WARNING,
                )
            )
    if data is not None and len(data):
        bad = ~np.isfinite(data.buckets).all(axis=1)
        if bad.any():
            step_of_bucket = np.repeat(data.steps, np.diff(data.bounds))
            steps = np.unique(step_of_bucket[bad])
            out.append(
                DataWarning(
                    "nonfinite",
                    f"Run '{run.name}', tag '{tag}': {int(bad.sum())} bucket(s) at "
                    f"{len(steps)} of {len(data)} step(s), the first at step {int(steps[0])}, "
                    "have NaN or infinite edges or counts (the values logged were not all "
                    "finite); the views leave those buckets out, the CSV keeps them.",
                    run=run.name,
                    tag=tag,
                    severity=NOTE,
                )
            )
    return out


def _not_histograms(steps: np.ndarray, walls: np.ndarray, data: Histograms | None) -> list[int]:
    """Positions of the tag's records that are not among its histograms. Both are in file
    order and the histograms are a subsequence of the records: matched by step and wall time."""
    count = 0 if data is None else len(data)
    if count == steps.shape[0]:
        return []
    out, j = [], 0
    for i in range(steps.shape[0]):
        if data is not None and j < count and _same(steps[i], walls[i], data, j):
            j += 1
        else:
            out.append(i)
    return out


def _same(step: np.int64, wall: np.float64, data: Histograms, j: int) -> bool:
    other = data.wall_times[j]
    return bool(step == data.steps[j] and (wall == other or (np.isnan(wall) and np.isnan(other))))
