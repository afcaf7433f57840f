"""Histograms kind, report elements: per tag and run, TensorBoard's Distributions view (every
step) and its Histograms view (a few steps, stacked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tbreport.kinds.histograms.transform import spread
from tbreport.model import Histograms

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

    @property
    def buckets(self) -> tuple[int, int]:
        """Fewest and most buckets of the histograms shown."""
        sizes = np.diff(self.data.bounds)
        return (int(sizes.min()), int(sizes.max())) if sizes.size else (0, 0)


def elements(ctx: KindContext) -> list[HistogramChart]:
    """For each selected histogram tag, every run that has it: both views, Distributions first."""
    out = []
    for tag in ctx.tags:
        runs = [(i, run) for i, run in enumerate(ctx.runs) if len(run.histograms.get(tag, ()))]
        for i, run in runs:
            data = run.histograms[tag]
            color, slug = ctx.colors[run.name], ctx.slugs[tag]
            shown = _subset(data, spread(len(data), STACKED))
            out += [
                HistogramChart(
                    tag, f"{slug}-dist-{i}", run.name, color, DISTRIBUTIONS, data, len(data)
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
