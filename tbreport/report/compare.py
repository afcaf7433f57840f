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
from dataclasses import dataclass

from tbreport.transform import MAX, MIN, Summary

BETTER, WORSE, UNCHANGED, NOT_JUDGED = "better", "worse", "unchanged", "not judged"


@dataclass(frozen=True)
class Delta:
    """One candidate run against its baseline reference on one tag."""

    tag: str
    run: str
    reference: str
    direction: str
    last: float | None
    base_last: float | None
    best: float | None
    base_best: float | None
    tolerance: float
    gate: bool
    status: str

    @property
    def abs_delta(self) -> float | None:
        return _diff(self.last, self.base_last)

    @property
    def rel_delta(self) -> float | None:
        return _rel(self.last, self.base_last)


@dataclass(frozen=True)
class TagVerdict:
    tag: str
    status: str
    deltas: tuple[Delta, ...]
    gate: bool


@dataclass(frozen=True)
class Comparison:
    """Every tag's verdict, the counts for the headline, and the gate failures."""

    tags: tuple[TagVerdict, ...]
    tolerance: float

    @property
    def counts(self) -> dict[str, int]:
        counts = {BETTER: 0, WORSE: 0, UNCHANGED: 0, NOT_JUDGED: 0}
        for verdict in self.tags:
            counts[verdict.status] += 1
        return counts

    @property
    def regressions(self) -> tuple[Delta, ...]:
        return tuple(
            d for v in self.tags if v.gate for d in v.deltas if d.gate and d.status == WORSE
        )

    @property
    def headline(self) -> str:
        c = self.counts
        parts = [
            f"{c[BETTER]} tag{'s' if c[BETTER] != 1 else ''} better",
            f"{c[WORSE]} worse",
            f"{c[UNCHANGED]} unchanged",
        ]
        if c[NOT_JUDGED]:
            parts.append(f"{c[NOT_JUDGED]} not judged")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, object]:
        """As in ``build --json`` (docs/json.md)."""
        return {
            "headline": self.headline,
            "counts": self.counts,
            "tolerance": self.tolerance,
            "tags": [{"tag": v.tag, "status": v.status, "gate": v.gate} for v in self.tags],
            "regressions": [
                {
                    "tag": d.tag,
                    "run": d.run,
                    "reference": d.reference,
                    "last": _json_number(d.last),
                    "baseline_last": _json_number(d.base_last),
                    "relative_change": d.rel_delta,
                    "tolerance": d.tolerance,
                }
                for d in self.regressions
            ],
        }

    def regression_message(self) -> str | None:
        """The gate failures for ``--fail-on-regression``, or None when every gate passed."""
        from tbreport.formatting import format_number

        if not self.regressions:
            return None
        lines = []
        for d in self.regressions:
            rel = "" if d.rel_delta is None else f", {d.rel_delta:+.1%}"
            lines.append(
                f"  - {d.tag}: {d.run} {format_number(d.last)} vs {d.reference} "
                f"{format_number(d.base_last)}{rel} (tolerance {d.tolerance:.1%})"
            )
        return f"{len(self.regressions)} gate(s) got worse than the baseline:\n" + "\n".join(lines)


def _json_number(value: float | None) -> float | None:
    # JSON has no NaN or infinity, and a run that diverged to NaN is a regression to report
    return value if value is not None and math.isfinite(value) else None


def _diff(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return None
    return a - b


def _rel(a: float | None, b: float | None) -> float | None:
    diff = _diff(a, b)
    if diff is None or not b:
        return None
    return diff / abs(b)


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
