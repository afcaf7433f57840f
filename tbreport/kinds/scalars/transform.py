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
    out = np.array(values, dtype=np.float64)
    if out.ndim != 1:
        raise ValueError(f"smooth expects a 1-D array, got shape {out.shape}")
    w = _clamp_weight(weight)
    if w <= 0.0 or out.size == 0:
        return out
    if bool(np.all(out == out[0])):
        return out
    finite = np.isfinite(out)
    if not finite.any():
        return out
    if w == 1.0:
        # (1 - w) * y is 0, so TB's `last` stays 0 and its debias divides by 1
        out[finite] = 0.0
        return out
    out[finite] = _debiased_ema(out[finite], w)
    return out


def smooth_many(series: Sequence[np.ndarray], weight: float) -> list[np.ndarray]:
    """``[smooth(values, weight) for values in series]``, bit for bit, faster for many series.

    The recurrence of series short enough for :func:`_sequential_ema` runs down all of them at
    once (one numpy step per point index rather than one Python step per point): the same
    multiplications and additions on the same doubles, so the same results.
    """
    w = _clamp_weight(weight)
    out: list[np.ndarray] = []
    batch: list[tuple[int, np.ndarray, np.ndarray]] = []  # (series, finite mask, finite values)
    for values in series:
        one = np.array(values, dtype=np.float64)
        if one.ndim != 1:
            raise ValueError(f"smooth expects a 1-D array, got shape {one.shape}")
        out.append(one)
        if w <= 0.0 or w == 1.0 or one.size == 0 or bool(np.all(one == one[0])):
            out[-1] = smooth(one, w)
            continue
        finite = np.isfinite(one)
        count = int(np.count_nonzero(finite))
        if count == 0 or count > _SEQUENTIAL_MAX:
            out[-1] = smooth(one, w)
            continue
        batch.append((len(out) - 1, finite, one[finite]))
    if len(batch) < _MIN_BATCH:
        for i, finite, x in batch:
            out[i][finite] = _debiased_ema(x, w)
        return out
    # longest first: at point index k the series still running are the first ones, so each
    # step of the recurrence works on one leading slice
    batch.sort(key=lambda item: -item[2].size)
    for lo in range(0, len(batch), _BATCH_SERIES):
        part = batch[lo : lo + _BATCH_SERIES]
        for (i, finite, _), smoothed in zip(
            part, _batched_ema([x for _, _, x in part], w), strict=True
        ):
            out[i][finite] = smoothed
    return out


#: fewest series worth smoothing together (fewer: one by one is as fast)
_MIN_BATCH = 8
#: series smoothed together at most (bounds the padded block: columns x longest series)
_BATCH_SERIES = 512


def _batched_ema(xs: list[np.ndarray], w: float) -> list[np.ndarray]:
    """:func:`_sequential_ema` of each of ``xs`` (longest first), run side by side."""
    lengths = np.array([x.size for x in xs])
    longest = int(lengths[0])
    block = np.zeros((longest, len(xs)), dtype=np.float64)
    for j, x in enumerate(xs):
        block[: x.size, j] = x
    # running[k]: how many series have a point at index k (a leading slice, longest first)
    running = np.searchsorted(-lengths, -np.arange(1, longest + 1), side="right")
    # row k becomes (1 - w) * y_k + w * row_{k-1}: TensorBoard's `w * last + (1 - w) * y`,
    # the same two products and one sum (both commute exactly), in place
    block *= 1.0 - w
    carry = np.zeros(len(xs), dtype=np.float64)
    previous = carry
    for k, n in enumerate(running.tolist()):
        np.multiply(previous[:n], w, out=carry[:n])
        row = block[k, :n]
        row += carry[:n]
        previous = block[k]
    debias = _debias(w, longest)
    return [block[: x.size, j] / debias[: x.size] for j, x in enumerate(xs)]


def _clamp_weight(weight: float) -> float:
    w = float(weight)
    if not math.isfinite(w):
        return 0.0
    return min(max(w, 0.0), 1.0)


#: up to this many points the recurrence runs in plain Python (~0.4 us a point)
_SEQUENTIAL_MAX = 20_000
#: fewest points per block of the blocked scan: each of its passes makes this many numpy calls
_MIN_BLOCK = 256
#: a block is long enough for w**block to shrink a start's rounding error by this factor
_BLOCK_DECAY = 2.0**-16
#: passes of the blocked scan before its starts must have settled
_MAX_PASSES = 8
#: 1 - w**k is exactly 1 once w**k is below this (half an ulp of 1, with margin)
_DEBIAS_DONE = 2.0**-60
#: past this many points the debias factors come from numpy's pow (within an ulp of libm's)
_DEBIAS_PYTHON_MAX = 1_000_000


def _debiased_ema(x: np.ndarray, w: float) -> np.ndarray:
    """``last_k / (1 - w**k)`` for ``last_k = w*last_{k-1} + (1-w)*x_k``, ``last_0 = 0``.

    Computed in TensorBoard's order of operations so the result is its sequential recurrence:
    exactly for short series, and for long ones by a blocked scan that runs the same recurrence
    down every block at once, each block started from the state the previous one ends in.
    """
    n = x.size
    if n <= _SEQUENTIAL_MAX:
        return _sequential_ema(x.tolist(), w)
    b = 1.0 - w
    size = max(_MIN_BLOCK, math.ceil(math.log(_BLOCK_DECAY) / math.log(w)))
    blocks = -(-n // size)
    # (size, blocks): a column is a block, so each step of the recurrence is one contiguous row
    padded = np.zeros(blocks * size, dtype=np.float64)
    padded[:n] = x
    cols = padded.reshape(blocks, size).T.copy()
    # pass 1: each block's end state from a zero start, then the starts by the recurrence over
    # blocks (w**size carries a state across a block); the padding zeros only decay the state
    state = np.zeros(blocks, dtype=np.float64)
    for row in cols:
        state = w * state + b * row
    carry = w**size
    starts = [0.0] * blocks
    for k, end in enumerate(state.tolist()[:-1]):
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
        if np.array_equal(ends, begin):
            break
        begin = ends
    return out.T.reshape(-1)[:n] / _debias(w, n)


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
    span = hi - lo
    out = []
    for chunk in np.array_split(v, min(width, v.size)):
        finite = chunk[np.isfinite(chunk)]
        if finite.size == 0:
            out.append(" ")
            continue
        level = (float(finite.mean()) - lo) / span if span > 0 else 0.5
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
