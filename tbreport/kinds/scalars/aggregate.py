"""Scalars kind, aggregate: the full series of a group's runs in, a centre line with a band and
the number of runs behind each point out. Pure numpy; no I/O, no plotting.

At each step the statistics are over the runs holding a finite value at that step (a NaN or
infinity of one seed leaves that seed out there, it does not poison the mean). When the runs log
at different steps (few steps shared), the steps are first put on a common grid of buckets: each
run contributes the mean of its values in a bucket, at the bucket's mean step.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: exact steps while their union is at most this many times the longest run's point count;
#: beyond it the runs log at different steps and are bucketed
SHARED_STEPS = 1.25


@dataclass(frozen=True)
class Aggregate:
    steps: np.ndarray
    center: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    #: runs with a finite value behind each point
    n: np.ndarray
    #: True when the steps are bucket means on a common grid, not exact logged steps
    bucketed: bool


def _grid(step_sets: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
    """The x positions and, when bucketing, the bucket edges (None for exact steps)."""
    union = np.unique(np.concatenate(step_sets)) if step_sets else np.empty(0, np.int64)
    longest = max((s.size for s in step_sets), default=0)
    if union.size <= SHARED_STEPS * longest or union.size < 2:
        return union, None
    lo, hi = float(union[0]), float(union[-1])
    edges = np.linspace(lo, hi, max(longest, 2) + 1)
    return edges, edges


def _place(
    steps: np.ndarray, values: np.ndarray, grid: np.ndarray, edges: np.ndarray | None
) -> np.ndarray:
    """A run's values on the grid: NaN where it has no (finite) value."""
    finite = np.isfinite(values)
    steps, values = steps[finite], values[finite]
    if edges is None:
        out = np.full(grid.size, np.nan)
        out[np.searchsorted(grid, steps)] = values
        return out
    bins = np.clip(np.searchsorted(edges, steps, side="right") - 1, 0, edges.size - 2)
    sums = np.bincount(bins, weights=values, minlength=edges.size - 1)
    counts = np.bincount(bins, minlength=edges.size - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


#: Student's t 97.5th percentiles for 1 to 30 degrees of freedom (scipy.stats.t.ppf, 12 places)
_T975 = (
    12.706204736175, 4.302652729749, 3.182446305284, 2.776445105198, 2.570581835636,
    2.446911851145, 2.364624251593, 2.306004135204, 2.262157162798, 2.228138851986,
    2.200985160092, 2.178812829667, 2.160368656463, 2.144786687918, 2.13144954556,
    2.119905299221, 2.109815577833, 2.100922040241, 2.093024054408, 2.085963447266,
    2.079613844728, 2.073873067904, 2.068657610419, 2.063898561628, 2.059538552753,
    2.055529438643, 2.05183051648, 2.048407141795, 2.045229642133, 2.042272456301,
)  # fmt: skip


def t_quantile(df: int) -> float:
    """Student's t 97.5th percentile for ``df`` degrees of freedom (the 95% interval)."""
    if df <= len(_T975):
        return _T975[df - 1]
    # past 30, the Cornish-Fisher series about the normal quantile is within 1e-7 (no scipy)
    z = 1.959963984540054
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def column_stats(
    table: np.ndarray, center: str, band: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centre, lower, upper and count of the finite values in each column of ``table`` (runs x
    points; NaN where a run has no finite value). A column of one value has no spread: its band
    collapses onto it; an empty column is NaN."""
    table = np.where(np.isfinite(table), table, np.nan)
    n = np.count_nonzero(~np.isnan(table), axis=0)
    with warnings.catch_warnings():
        # empty columns (a step where the only value was NaN) are NaN, as they should be
        warnings.simplefilter("ignore", RuntimeWarning)
        # sorted down the columns (NaN last) for the quantiles; nanmedian is as slow
        ranked = np.sort(table, axis=0) if center == "median" or band == "iqr" else table
        mid = _quantile(ranked, n, 0.5) if center == "median" else np.nanmean(table, axis=0)
        if band == "minmax":
            return mid, np.nanmin(table, axis=0), np.nanmax(table, axis=0), n
        if band == "iqr":
            return mid, _quantile(ranked, n, 0.25), _quantile(ranked, n, 0.75), n
        half = np.where(n > 1, np.nanstd(table, axis=0, ddof=1), 0.0)
    if band in ("sem", "ci95"):
        half = half / np.sqrt(np.maximum(n, 1))
    if band == "ci95":
        half = half * np.array([t_quantile(int(k) - 1) if k > 1 else 0.0 for k in n])
    return mid, mid - half, mid + half, n


def _quantile(ranked: np.ndarray, n: np.ndarray, q: float) -> np.ndarray:
    """numpy's default (linear) quantile of each column's first ``n`` values, ``ranked``
    sorted down the columns with NaN last; ``np.nanpercentile`` is ~30x slower on many columns."""
    pos = q * np.maximum(n - 1, 0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
    cols = np.arange(ranked.shape[1])
    a, b = ranked[lo, cols], ranked[hi, cols]
    frac = pos - lo
    out = a + (b - a) * frac
    return np.where(n > 0, out, np.nan)


def spread(values: np.ndarray, center: str, band: str) -> tuple[float, float, float]:
    """Centre, lower and upper of one set of values (the runs' last values)."""
    mid, lower, upper, _ = column_stats(np.asarray(values, dtype=np.float64)[:, None], center, band)
    return float(mid[0]), float(lower[0]), float(upper[0])


def aggregate(
    series: Sequence[tuple[np.ndarray, np.ndarray]], center: str = "mean", band: str = "std"
) -> Aggregate:
    """The group's line from its runs' (steps, values), values already smoothed if wanted."""
    step_sets = [np.asarray(steps, dtype=np.int64) for steps, _ in series]
    grid, edges = _grid(step_sets)
    table = np.vstack(
        [_place(s, np.asarray(v, dtype=np.float64), grid, edges) for s, (_, v) in zip(
            step_sets, series, strict=True
        )]
    ) if series else np.empty((0, grid.size))  # fmt: skip
    if edges is not None:
        # each bucket sits at the mean step of the points in it (empty buckets are dropped)
        all_steps = np.concatenate(step_sets)
        bins = np.clip(np.searchsorted(edges, all_steps, side="right") - 1, 0, edges.size - 2)
        sums = np.bincount(bins, weights=all_steps.astype(np.float64), minlength=edges.size - 1)
        counts = np.bincount(bins, minlength=edges.size - 1)
        held = counts > 0
        table = table[:, held]
        grid = np.round(sums[held] / counts[held]).astype(np.int64)
    center_, lower, upper, n = column_stats(table, center, band)
    return Aggregate(
        steps=np.asarray(grid, dtype=np.int64),
        center=center_,
        lower=lower,
        upper=upper,
        n=n.astype(np.int64),
        bucketed=edges is not None,
    )
