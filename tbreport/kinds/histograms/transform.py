"""Histograms kind, numerics: TensorBoard's compressed histogram (the Distributions view) and
the steps a Histograms view shows. Pure numpy, tested against tensorboard's own compressor.
"""

from __future__ import annotations

import numpy as np

#: plugins/distribution/compressor.py NORMAL_HISTOGRAM_BPS: the median and +-0.5, 1, 1.5 and
#: 2 standard deviations of a normal distribution, and the extremes, in basis points
BASIS_POINTS = (0, 668, 1587, 3085, 5000, 6915, 8413, 9332, 10000)


def compress(buckets: np.ndarray, bps: tuple[int, ...] = BASIS_POINTS) -> np.ndarray:
    """The value at each basis point of one histogram ([k, 3]: left, right, count), linear
    within a bucket, exactly as TensorBoard's ``compressor.compress_histogram`` computes it."""
    if not buckets.size:
        return np.zeros(len(bps))
    minmin, maxmax = buckets[0][0], buckets[-1][1]
    counts = buckets[:, 2]
    right_edges = buckets[:, 1]
    weights = (counts * bps[-1] / (counts.sum() or 1.0)).cumsum()
    previous = np.concatenate([[0.0], weights[:-1]])
    # a bucket adding no weight is skipped (TensorBoard avoids dividing by zero there)
    rising = np.flatnonzero(weights != previous)
    found = np.searchsorted(weights, bps, side="right")
    at = np.searchsorted(rising, found)
    out = np.full(len(bps), maxmax, dtype=np.float64)
    for j, r in enumerate(at.tolist()):
        if r >= rising.shape[0]:
            break  # TensorBoard gives every later basis point the maximum too
        i = int(rising[r])
        cumsum, cumsum_prev = weights[i], previous[i]
        lhs = minmin if not i or not cumsum_prev else max(right_edges[i - 1], minmin)
        rhs = min(right_edges[i], maxmax)
        out[j] = lhs + (bps[j] - cumsum_prev) * float(rhs - lhs) / (cumsum - cumsum_prev)
    return out


def finite(buckets: np.ndarray) -> np.ndarray:
    """The buckets ([k, 3]) whose edges and count are all finite: what the views draw (a NaN
    logged makes torch's outer edges NaN, an infinity makes them infinite)."""
    keep = np.isfinite(buckets).all(axis=1)
    return buckets if keep.all() else buckets[keep]


def distribution(buckets: np.ndarray) -> np.ndarray:
    """:func:`compress` of the finite buckets of one histogram; NaN at every basis point when
    leaving out the others leaves no count (nothing to place: not a point at an edge)."""
    kept = finite(buckets)
    if kept.shape[0] < buckets.shape[0] and not kept[:, 2].sum():
        return np.full(len(BASIS_POINTS), np.nan)
    return compress(kept)


def spread(count: int, most: int) -> np.ndarray:
    """Up to ``most`` indices of 0..count-1, evenly spaced, the first and last included."""
    if count <= most:
        return np.arange(count)
    return np.unique(np.round(np.linspace(0, count - 1, most)).astype(np.int64))


def rebin(buckets: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of one histogram ([k, 3]) in the bins between ``edges``, each bucket's count
    spread evenly over its width (as TensorBoard's histogram view re-bins to equal widths)."""
    if not buckets.size:
        return np.zeros(edges.shape[0] - 1)
    xp = np.concatenate([buckets[:1, 0], buckets[:, 1]])
    fp = np.concatenate([[0.0], np.cumsum(buckets[:, 2])])
    return np.diff(np.interp(edges, xp, fp))
