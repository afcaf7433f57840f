"""Report stage, the primary metric: the runs and options in, the one tag runs are ranked by
(for colour by rank and the runs table's top runs) and each run's last value of it out.

The primary metric is the first tag (natural order) matching the first ``[gates]`` regex that
matches a tag with a direction; without such a gate, the tag with a direction (lower or higher
is better, guessed or from ``[directions]``) that the most runs hold, the first in natural
order between ties. No such tag: no ranking.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tbreport.model import Run
from tbreport.names import natural_key
from tbreport.options import Options


@dataclass(frozen=True)
class Primary:
    tag: str
    #: "min" or "max"
    direction: str
    #: the last finite value of the tag per run that has one
    last: Mapping[str, float]

    def rank_key(self, value: float | None) -> tuple[bool, float]:
        """Sort key, best first; runs without a value last."""
        if value is None or not math.isfinite(value):
            return (True, 0.0)
        return (False, value if self.direction == "min" else -value)


def primary_metric(
    runs: Sequence[Run], options: Options, selected: Callable[[str], bool]
) -> Primary | None:
    from tbreport.kinds.scalars.directions import MAX, MIN, direction_of

    overrides = dict(options.directions) if options.directions else None
    held: dict[str, int] = {}
    for run in runs:
        for name in run.scalars:
            if selected(name) and direction_of(name, overrides) in (MIN, MAX):
                held[name] = held.get(name, 0) + 1
    if not held:
        return None
    gated = next(
        (
            sorted(match, key=natural_key)[0]
            for pattern, _ in options.gates
            if (match := [t for t in held if re.search(pattern, t)])
        ),
        None,
    )
    tag = gated or min(held, key=lambda t: (-held[t], natural_key(t)))
    last = {}
    for run in runs:
        series = run.scalars.get(tag)
        if series is None:
            continue
        finite = series.values[np.isfinite(series.values)]
        if finite.size:
            last[run.name] = float(finite[-1])
    return Primary(tag, direction_of(tag, overrides), last)
