"""Report stage, baseline comparison: candidate and baseline runs in, per-tag deltas out.

Each candidate run is compared with its reference: the baseline run of the same name when the
baseline is another logdir, else the only baseline run, else the baseline run with the best
value. A tag is judged on its last value, by the tag's direction (lower or higher is better),
with a relative tolerance inside which it counts as unchanged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from tbreport.kinds.scalars.directions import MAX, MIN
from tbreport.model import (
    BETTER,
    NOT_JUDGED,
    UNCHANGED,
    WORSE,
    Delta,
    TagVerdict,
)
from tbreport.model import SeriesSummary as Summary


def best_value(summary: Summary, direction: str) -> float | None:
    if direction == MIN:
        return summary.min_value
    if direction == MAX:
        return summary.max_value
    return None


def judge(value: float | None, base: float | None, direction: str, tolerance: float) -> str:
    """better/worse/unchanged for one pair of values; a NaN or missing value is worse."""
    if direction not in (MIN, MAX):
        return NOT_JUDGED
    if base is None or not math.isfinite(base):
        return NOT_JUDGED
    if value is None or math.isnan(value):
        return WORSE  # a run that diverged to NaN did not improve anything
    if value == base or abs(value - base) <= tolerance * abs(float(base)):
        return UNCHANGED
    if math.isinf(value):
        return WORSE if (value > 0) == (direction == MIN) else BETTER
    improved = value < base if direction == MIN else value > base
    return BETTER if improved else WORSE


def tolerance_for(
    tag: str, default: float, gates: Sequence[tuple[str, float]]
) -> tuple[float, bool]:
    """The tag's tolerance and whether it is a gate (first matching gate regex wins)."""
    for pattern, tolerance in gates:
        if re.search(pattern, tag):
            return tolerance, True
    return default, False


def compare_tag(
    tag: str,
    direction: str,
    summaries: Mapping[str, Summary],
    candidates: Sequence[str],
    baselines: Sequence[str],
    pairs: Mapping[str, str],
    tolerance: float,
    gates: Sequence[tuple[str, float]],
) -> TagVerdict | None:
    """The verdict for one tag; None when no candidate or no baseline run has it."""
    have_base = [b for b in baselines if b in summaries]
    have_cand = [c for c in candidates if c in summaries]
    if not have_base or not have_cand:
        return None
    tol, gate = tolerance_for(tag, tolerance, gates)
    deltas = []
    for run in have_cand:
        paired = pairs.get(run)
        if paired is not None and paired in summaries:
            reference = paired
        else:
            reference = _best_baseline(have_base, summaries, direction)
        base = summaries[reference]
        cand = summaries[run]
        status = judge(cand.last_value, base.last_value, direction, tol)
        deltas.append(
            Delta(
                tag=tag,
                run=run,
                reference=reference,
                direction=direction,
                last=cand.last_value,
                base_last=base.last_value,
                best=best_value(cand, direction),
                base_best=best_value(base, direction),
                tolerance=tol,
                gate=gate,
                status=status,
            )
        )
    statuses = {d.status for d in deltas}
    if WORSE in statuses:
        status = WORSE  # conservative: one regressed candidate is enough to flag the tag
    elif BETTER in statuses:
        status = BETTER
    elif UNCHANGED in statuses:
        status = UNCHANGED
    else:
        status = NOT_JUDGED
    return TagVerdict(tag, status, tuple(deltas), gate)


def _best_baseline(names: Sequence[str], summaries: Mapping[str, Summary], direction: str) -> str:
    if len(names) == 1 or direction not in (MIN, MAX):
        return names[0]
    sign = 1.0 if direction == MIN else -1.0
    scored = [
        (sign * value, n)
        for n in names
        if (value := summaries[n].last_value) is not None and math.isfinite(value)
    ]
    return min(scored)[1] if scored else names[0]  # ties: the first name
