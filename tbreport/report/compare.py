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
    GroupSummary,
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


def within_spread(
    cand: tuple[float, float, float], base: tuple[float, float, float], band: str
) -> tuple[bool, float | None]:
    """Whether two groups' (centre, lower, upper) are within each other's spread, and the
    margin used (None for the interval bands, minmax and iqr, which must overlap instead)."""
    if not all(math.isfinite(v) for v in (*cand, *base)):
        return False, None
    if band in ("minmax", "iqr"):
        return cand[1] <= base[2] and base[1] <= cand[2], None
    margin = math.hypot(cand[2] - cand[0], base[2] - base[0])
    return abs(cand[0] - base[0]) <= margin, margin


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
    spreads: Mapping[str, GroupSummary] | None = None,
    band: str | None = None,
    by_spread: bool = True,
) -> TagVerdict | None:
    """The verdict for one tag; None when no candidate or no baseline run has it.

    With ``spreads`` (a grouped chart: names are group keys) a pair of groups whose centres
    are within their spread (``within_spread``) is unchanged when ``by_spread``."""
    spreads = spreads or {}
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
        group, base_group = spreads.get(run), spreads.get(reference)
        within, margin = False, None
        if group is not None and base_group is not None and band is not None:
            within, margin = within_spread(group.last, base_group.last, band)
            if within and by_spread and status in (BETTER, WORSE):
                status = UNCHANGED
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
                spread=None if group is None else group.last,
                base_spread=None if base_group is None else base_group.last,
                n=None if group is None else len(group.runs),
                base_n=None if base_group is None else len(base_group.runs),
                band=band if group is not None else None,
                within_spread=within,
                margin=margin,
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
