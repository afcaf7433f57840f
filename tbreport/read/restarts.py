"""Read stage, restarts: which records of a series survive TensorBoard's restart rule, and
which merely repeat the record before them.
"""

from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------------------------
# Restarts
# --------------------------------------------------------------------------------------------


def apply_restarts(steps: np.ndarray) -> np.ndarray:
    """Keep-mask for TensorBoard's Rust loader rule: a record at step s discards the series'
    earlier records with step >= s, i.e. keep i iff ``steps[i] < min(steps[i+1:])``.
    """
    s = np.asarray(steps)
    if s.ndim != 1:
        raise ValueError(f"apply_restarts expects a 1-D array, got shape {s.shape}")
    keep = np.ones(s.shape, dtype=bool)
    if s.size > 1:
        # no sentinel for "no later record": the last is always kept, so int64 max is safe
        later_min = np.minimum.accumulate(s[::-1])[::-1]
        keep[:-1] = s[:-1] < later_min[1:]
    return keep


def repeated_records(steps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mask of records that the next record of the series repeats: the same step and the same
    value bits. A writer logging one point twice (Lightning logs ``epoch`` this way), not a
    restart; the restart rule drops all but the last of each repeat as well.
    """
    s = np.asarray(steps)
    v = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    if s.ndim != 1 or s.shape != v.shape:
        raise ValueError(f"repeated_records expects two 1-D arrays of one length, got {s.shape}")
    repeated = np.zeros(s.shape, dtype=bool)
    if s.size > 1:
        repeated[:-1] = (s[:-1] == s[1:]) & (v[:-1] == v[1:])
    return repeated
