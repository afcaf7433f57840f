"""Scalars kind, transform: TensorBoard's smoothing, the outlier-robust y range, thinning for
drawing and per-series summaries. Pure functions on numpy arrays; no I/O, no plotting.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence

import numpy as np

from tbreport.kinds.scalars.directions import _DIRECTIONS, MIN, NONE
from tbreport.model import SeriesSummary

# --------------------------------------------------------------------------------------------
# Smoothing
# --------------------------------------------------------------------------------------------


def smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's classicSmoothing (debiased EMA by point index) as a new float64 array.

    Non-finite points pass through unchanged and do not advance the average. A series whose
    every value ``==`` the first is returned unchanged (so a series holding a NaN never is).
    """
    return smooth_many([values], weight)[0]


def smooth_many(series: Sequence[np.ndarray], weight: float) -> list[np.ndarray]:
    """:func:`smooth` of each of ``series``, the same numbers, computed together: one blocked
    scan over all of them costs about what one long series does (a chart's runs, say)."""
    outs = []
    for values in series:
        out = np.array(values, dtype=np.float64)
        if out.ndim != 1:
            raise ValueError(f"smooth expects a 1-D array, got shape {out.shape}")
        outs.append(out)
    w = _clamp_weight(weight)
    if w <= 0.0:
        return outs
    todo: list[tuple[np.ndarray, np.ndarray]] = []
    for out in outs:
        if out.size == 0 or bool(np.all(out == out[0])):
            continue
        finite = np.isfinite(out)
        if not finite.any():
            continue
        if w == 1.0:
            # (1 - w) * y is 0, so TB's `last` stays 0 and its debias divides by 1
            out[finite] = 0.0
            continue
        todo.append((out, finite))
    for (out, finite), ema in zip(
        todo, _debiased_emas([out[finite] for out, finite in todo], w), strict=True
    ):
        out[finite] = ema
    return outs


def _clamp_weight(weight: float) -> float:
    w = float(weight)
    if not math.isfinite(w):
        return 0.0
    return min(max(w, 0.0), 1.0)


#: seconds a point of the recurrence in plain Python takes, and a row of the blocked scan
#: (a few numpy calls) per pass: the cheaper runs (weights near 1 need blocks of thousands of
#: points, so only long series are scanned)
_SEQUENTIAL_COST = 0.25e-6
_ROW_COST = 1.5e-6
#: fewest rows of a block
_MIN_BLOCK = 16
#: a block is long enough for w**block to shrink a start's rounding error by this factor
_BLOCK_DECAY = 2.0**-16
#: passes of the blocked scan before its starts must have settled
_MAX_PASSES = 8
#: 1 - w**k is exactly 1 once w**k is below this (half an ulp of 1, with margin)
_DEBIAS_DONE = 2.0**-60
#: past this many points the debias factors come from numpy's pow (within an ulp of libm's)
_DEBIAS_PYTHON_MAX = 1_000_000


def _debiased_ema(x: np.ndarray, w: float) -> np.ndarray:
    return _debiased_emas([x], w)[0]


def _debiased_emas(xs: Sequence[np.ndarray], w: float) -> list[np.ndarray]:
    """``last_k / (1 - w**k)`` for ``last_k = w*last_{k-1} + (1-w)*x_k``, ``last_0 = 0``, for
    each of ``xs``.

    Computed in TensorBoard's order of operations so the result is its sequential recurrence:
    exactly for short series, and for long ones by a blocked scan that runs the same recurrence
    down every block (of every series) at once, each block started from the state the previous
    one of its series ends in.
    """
    if not xs:
        return []
    size = max(_MIN_BLOCK, math.ceil(math.log(_BLOCK_DECAY) / math.log(w)))
    counts = [-(-x.size // size) for x in xs]
    # the plain loop costs per point; the scan per row of a block (a few numpy calls a pass)
    # and per column (the padding of a short series' block counts as points)
    sequential = _SEQUENTIAL_COST * sum(x.size for x in xs)
    if sequential <= _ROW_COST * size * 3 + _SEQUENTIAL_COST / 4 * size * sum(counts):
        return [_sequential_ema(x.tolist(), w) for x in xs]
    b = 1.0 - w
    # each series' blocks are consecutive columns; a series' first block starts from zero
    firsts = np.cumsum([0, *counts[:-1]])
    blocks = int(sum(counts))
    padded = np.zeros(blocks * size, dtype=np.float64)
    for x, first in zip(xs, firsts.tolist(), strict=True):
        padded[first * size : first * size + x.size] = x
    # (size, blocks): a column is a block, so each step of the recurrence is one contiguous row
    cols = padded.reshape(blocks, size).T.copy()
    first_col = np.zeros(blocks, dtype=bool)
    first_col[firsts] = True
    # pass 1: each block's end state from a zero start, then the starts by the recurrence over
    # blocks (w**size carries a state across a block); the padding zeros only decay the state
    state = np.zeros(blocks, dtype=np.float64)
    for row in cols:
        state = w * state + b * row
    carry = w**size
    starts = [0.0] * blocks
    is_first = first_col.tolist()
    for k, end in enumerate(state.tolist()[:-1]):
        if not is_first[k + 1]:
            starts[k + 1] = carry * starts[k] + end
    # then the recurrence itself, from each block's start, in TB's order of operations, and
    # again with every block starting where the one before it ended. Once no start changes,
    # each block continues its predecessor exactly: the sequential recurrence bit for bit (a
    # start off by rounding converges, as w**size shrinks its error below half an ulp). The
    # cap only matters for weights very near 1, left within a few ulp.
    out = np.empty_like(cols)
    begin = np.array(starts)
    for _ in range(_MAX_PASSES):
        state = begin
        for i, row in enumerate(cols):
            state = w * state + b * row
            out[i] = state
        ends = np.concatenate(([0.0], out[-1, :-1]))
        ends[first_col] = 0.0
        if np.array_equal(ends, begin):
            break
        begin = ends
    flat = out.T.reshape(-1)
    debias = _debias(w, max(x.size for x in xs))
    return [
        flat[first * size : first * size + x.size] / debias[: x.size]
        for x, first in zip(xs, firsts.tolist(), strict=True)
    ]


def _debias(w: float, n: int) -> np.ndarray:
    """``1 - w**k`` for k = 1..n, with Python's (libm's) pow as TB's reference uses."""
    # same formula as TB (1 - Math.pow(w, n)), not expm1, so the rounding matches it
    done = math.ceil(math.log(_DEBIAS_DONE) / math.log(w))
    if min(n, done) > _DEBIAS_PYTHON_MAX:
        return 1.0 - np.power(w, np.arange(1, n + 1, dtype=np.float64))
    out = np.ones(n, dtype=np.float64)
    head = min(n, done)
    out[:head] = [1.0 - w**k for k in range(1, head + 1)]
    return out


def _sequential_ema(x: list[float], w: float) -> np.ndarray:
    out = []
    last = 0.0
    for k, y in enumerate(x, 1):
        last = w * last + (1.0 - w) * y
        out.append(last / (1.0 - w**k))
    return np.array(out, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# Y range
# --------------------------------------------------------------------------------------------


def outlier_range(
    values: np.ndarray, lower: float = 0.05, upper: float = 0.95
) -> tuple[float, float] | None:
    """TensorBoard's "ignore outliers" y-range of the finite values, or None if there are none.

    With n > 2 sorted finite values: ``(y[ceil((n-1)*lower)], y[floor((n-1)*upper)])``;
    otherwise their min and max.
    """
    if not 0.0 <= lower <= upper <= 1.0:
        raise ValueError(f"need 0 <= lower <= upper <= 1, got lower={lower}, upper={upper}")
    y = np.asarray(values, dtype=np.float64).ravel()
    y = y[np.isfinite(y)]
    n = int(y.size)
    if n == 0:
        return None
    if n <= 2:
        return float(y.min()), float(y.max())
    lo = math.ceil((n - 1) * lower)
    hi = math.floor((n - 1) * upper)
    # partition instead of sort: only two order statistics are needed, in O(n)
    part = np.partition(y, (lo, hi))
    return float(part[lo]), float(part[hi])


# TB's Number.MIN_VALUE (smallest subnormal): the floor of its log-scale domain
_LOG_FLOOR = 5e-324
_PADDING_RATIO = 0.05


def padded_range(lo: float, hi: float, log: bool = False) -> tuple[float, float]:
    """The axis limits TensorBoard's line chart derives from a data range (before d3 nice()).

    Linear: 5% of the span each side; a zero span becomes ``[-1, 1]``, ``[2*lo, 0]`` or
    ``[0, 2*lo]``. Log: ``[lo/2, 2*hi]``; pass the range of the positive values, since a
    non-positive ``lo`` is clipped to the smallest float as TB does.
    """
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"padded_range needs finite limits, got ({lo}, {hi})")
    if hi < lo:
        raise ValueError(f"padded_range needs lo <= hi, got ({lo}, {hi})")
    if log:
        if hi <= 0.0:
            return _LOG_FLOOR, 1.0
        return max(_LOG_FLOOR, max(lo, _LOG_FLOOR) * 0.5), hi * 2.0
    if lo == hi:
        if lo == 0.0:
            return -1.0, 1.0
        return (2.0 * lo, 0.0) if lo < 0.0 else (0.0, 2.0 * lo)
    # TB adds EPSILON so a span lost to rounding still gets a visible margin
    pad = (hi - lo + sys.float_info.epsilon) * _PADDING_RATIO
    return lo - pad, hi + pad


# --------------------------------------------------------------------------------------------
# Downsampling for drawing
# --------------------------------------------------------------------------------------------


def thin(x: np.ndarray, y: np.ndarray, max_points: int) -> np.ndarray:
    """Sorted indices of the points to draw: min/max per index bucket, first, last, non-finite.

    Keeps at most ``max_points`` finite points (plus every NaN/inf, so their markers are never
    dropped); the global min and max of the finite values always survive.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if y.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"thin needs 1-D x and y of one length, got {x.shape} and {y.shape}")
    if max_points < 4:
        raise ValueError(f"max_points must be at least 4 (first, last, min, max), got {max_points}")
    n = int(y.size)
    if n <= max_points:
        return np.arange(n, dtype=np.intp)

    finite = np.isfinite(y)
    # two points per bucket plus first and last stay within max_points
    buckets = (max_points - 2) // 2
    size = -(-n // buckets)
    body = (n // size) * size
    # a mask, not np.unique: sorted and unique for free, and O(n) when most points are NaN
    keep = ~finite
    keep[[0, n - 1]] = True
    for start, stop, width in ((0, body, size), (body, n, n - body)):
        if stop > start:
            rows = y[start:stop].reshape(-1, width)
            offsets = np.arange(start, stop, width, dtype=np.intp)
            mins, maxs = _row_extremes(rows, finite[start:stop].reshape(-1, width))
            keep[mins + offsets] = True
            keep[maxs + offsets] = True
    return np.flatnonzero(keep)


def _row_extremes(rows: np.ndarray, finite: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column of the smallest and largest finite value in each row."""
    mins = rows.argmin(axis=1)
    maxs = rows.argmax(axis=1)
    bad = ~finite.all(axis=1)
    if bad.any():
        # mask only rows holding NaN/inf: copying all of a 1e7-point series costs more than
        # the argmin itself; an all-non-finite row picks a point that is kept anyway
        rows, finite = rows[bad], finite[bad]
        mins[bad] = np.where(finite, rows, np.inf).argmin(axis=1)
        maxs[bad] = np.where(finite, rows, -np.inf).argmax(axis=1)
    return mins, maxs


# --------------------------------------------------------------------------------------------
# Sparklines (text charts for Markdown, where there are no scripts and maybe no images)
# --------------------------------------------------------------------------------------------

SPARK_BARS = "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"


def sparkline(values: np.ndarray, lo: float, hi: float, width: int = 16) -> str:
    """``values`` as ``width`` block characters (fewer for a shorter series) on the scale
    ``lo``..``hi``: each is the mean of one run of consecutive points; a run with no finite
    value is a space."""
    if width < 1:
        raise ValueError(f"width must be at least 1, got {width}")
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        return ""
    top = len(SPARK_BARS) - 1
    # the runs of np.array_split: the first n % k one point longer
    k = min(width, v.size)
    size, longer = divmod(v.size, k)
    index = np.arange(k)
    starts = index * size + np.minimum(index, longer)
    finite = np.isfinite(v)
    counts = np.add.reduceat(finite.astype(np.int64), starts)
    with np.errstate(over="ignore"):
        span = hi - lo
        sums = np.add.reduceat(np.where(finite, v, 0.0), starts)
    if not (np.isfinite(span) and np.isfinite(sums).all()):
        # values near the float64 limit (1e308) overflow a sum or the span: on a scale of 1
        scale = max(abs(lo), abs(hi))
        v, lo, hi = v / scale, lo / scale, hi / scale
        span = hi - lo
        sums = np.add.reduceat(np.where(finite, v, 0.0), starts)
    out = []
    for total, count in zip(sums.tolist(), counts.tolist(), strict=True):
        if count == 0:
            out.append(" ")
            continue
        level = (total / count - lo) / span if span > 0 else 0.5
        out.append(SPARK_BARS[min(top, max(0, round(level * top)))])
    return "".join(out)


def spark_scale(arrays: list[np.ndarray]) -> tuple[float, float]:
    """One scale for the sparklines of a tag, so runs compare: the finite values' extent."""
    finite = [a[np.isfinite(a)] for a in arrays]
    finite = [a for a in finite if a.size]
    if not finite:
        return 0.0, 0.0
    return float(min(a.min() for a in finite)), float(max(a.max() for a in finite))


# --------------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------------


def series_summary(steps: np.ndarray, values: np.ndarray) -> SeriesSummary:
    """Summarise one series; ties for min or max report the earliest record."""
    s = np.asarray(steps)
    v = np.asarray(values, dtype=np.float64)
    if s.ndim != 1 or s.shape != v.shape:
        raise ValueError(f"steps and values must be 1-D of one length: {s.shape}, {v.shape}")
    count = int(v.size)
    nan_count = int(np.count_nonzero(np.isnan(v)))
    inf_count = int(np.count_nonzero(np.isinf(v)))
    last_step = int(s[-1]) if count else None
    last_value = float(v[-1]) if count else None
    finite = np.flatnonzero(np.isfinite(v))
    if finite.size == 0:
        return SeriesSummary(
            count, nan_count, inf_count, last_step, last_value, None, None, None, None
        )
    fv = v[finite]
    i_min = int(finite[np.argmin(fv)])
    i_max = int(finite[np.argmax(fv)])
    return SeriesSummary(
        count=count,
        nan_count=nan_count,
        inf_count=inf_count,
        last_step=last_step,
        last_value=last_value,
        min_step=int(s[i_min]),
        min_value=float(v[i_min]),
        max_step=int(s[i_max]),
        max_value=float(v[i_max]),
    )


def best_of(summaries_by_run: Mapping[str, SeriesSummary], direction: str) -> str | None:
    """The run with the lowest min ("min") or highest max ("max"); ties go to the first name.

    None for direction "none" or when no run has a finite value.
    """
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction must be min, max or none, got {direction!r}")
    if direction == NONE:
        return None
    sign = 1.0 if direction == MIN else -1.0
    candidates = [
        (sign * value, name)
        for name, summary in summaries_by_run.items()
        if (value := summary.min_value if direction == MIN else summary.max_value) is not None
    ]
    return min(candidates)[1] if candidates else None
