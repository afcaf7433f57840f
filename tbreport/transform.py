"""Transform stage: pure numeric helpers between reading (model) and charting.

Input numpy arrays and names, output arrays and small values; no I/O, no plotting library.
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from tbreport.model import SeriesSummary as Summary

__all__ = [
    "MIN",
    "MAX",
    "NONE",
    "PALETTE",
    "Summary",
    "apply_restarts",
    "repeated_records",
    "best_of",
    "direction_of",
    "natural_key",
    "outlier_range",
    "padded_range",
    "run_colors",
    "run_styles",
    "section_of",
    "series_summary",
    "smooth",
    "thin",
]

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


def _clamp_weight(weight: float) -> float:
    w = float(weight)
    if not math.isfinite(w):
        return 0.0
    return min(max(w, 0.0), 1.0)


def _debiased_ema(x: np.ndarray, w: float) -> np.ndarray:
    """``last_k / (1 - w**k)`` for ``last_k = w*last_{k-1} + (1-w)*x_k``, ``last_0 = 0``.

    The recurrence is a prefix scan with a constant factor, done by doubling (Hillis-Steele):
    after the pass with shift d every element holds the sum of its last 2d terms. Factors are
    ``w**d <= 1``, so nothing overflows, and each element sees only log2(n) additions.
    """
    acc = (1.0 - w) * x
    n = acc.size
    shift = 1
    while shift < n:
        factor = w**shift
        # below the smallest normal the remaining terms are negligible, and subnormal
        # arithmetic is very slow on x86
        if factor < sys.float_info.min:
            break
        # the right side is evaluated into a temporary first, so it reads pre-pass values
        acc[shift:] += factor * acc[:-shift]
        shift *= 2
    # same formula as TB (1 - Math.pow(w, n)), not expm1, so the rounding matches it
    debias = 1.0 - np.power(w, np.arange(1, n + 1, dtype=np.float64))
    return acc / debias


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
# Tag ordering and sections
# --------------------------------------------------------------------------------------------

#: one chunk of a tag component: (0, number, "") for a number, (1, 0.0, text) for text, so
#: chunks of different kinds are decided by the first field and never compare float to str
Chunk = tuple[int, float, str]
NaturalKey = tuple[tuple[tuple[Chunk, ...], ...], str]

# TB's consumeNumber accepts "1.", "1.5", "1e-3"; an exponent without digits ("10eval") is
# left to the text, where TB would parse NaN and call the tags equal
_CHUNK = re.compile(r"([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)|([^0-9]+)")


def natural_key(s: str) -> NaturalKey:
    """Sort key for TensorBoard's asciinumeric tag order, per ``/`` component.

    Numbers compare by value (``a2b < a10b``, ``lr1e-4 < lr1e-3``), digits before other
    characters, a prefix before its extensions. Ties (``01`` vs ``1``) fall back to the raw
    string, so the order is total.
    """
    return tuple(_component_key(part) for part in s.split("/")), s


def _component_key(part: str) -> tuple[Chunk, ...]:
    chunks: list[Chunk] = []
    for number, text in _CHUNK.findall(part):
        # float, like TB's Number(): never raises, even for thousands of digits
        chunks.append((0, float(number), "") if number else (1, 0.0, text))
    return tuple(chunks)


def section_of(tag: str) -> str:
    """The chart section of a tag: the text before its first ``/`` (the whole tag if none)."""
    return tag.split("/", 1)[0]


# --------------------------------------------------------------------------------------------
# Run colours
# --------------------------------------------------------------------------------------------

#: Okabe & Ito (2008) colour-blind-safe palette without black (reserved for axes and text)
#: and yellow (#F0E442, unreadable as a thin line on white): orange, sky blue, bluish green,
#: blue, vermillion, reddish purple.
PALETTE: tuple[str, ...] = ("#e69f00", "#56b4e9", "#009e73", "#0072b2", "#d55e00", "#cc79a7")

# after every base colour is used: darker variants, then lighter ones, then line styles
_VARIANTS: tuple[tuple[str, float], ...] = (("base", 0.0), ("dark", 0.4), ("light", 0.35))
_STYLES: tuple[str, ...] = ("solid", "dashed", "dotted", "dashdot")


def run_colors(names: Iterable[str]) -> dict[str, str]:
    """A ``#rrggbb`` colour per run name that stays with the name across charts and rebuilds.

    A name's home colour is picked by a SHA-256 hash of the name, so it does not depend on
    which other runs exist. When names share a home colour, the one that sorts first keeps it
    and the others take the next free colour in palette order; so a run's colour can change
    when a run that sorts before it and hashes to the same colour is added. More runs than
    colours get darker, then lighter variants, and then repeat (see ``run_styles``).
    """
    return {name: _slot_color(slot) for name, slot in _assign_slots(names).items()}


def run_styles(names: Iterable[str]) -> dict[str, str]:
    """A matplotlib line-style name per run: "solid" until ``run_colors`` repeats colours."""
    block = len(PALETTE) * len(_VARIANTS)
    return {
        name: _STYLES[(slot // block) % len(_STYLES)] for name, slot in _assign_slots(names).items()
    }


def _home_slot(name: str) -> int:
    # hashlib, not hash(): str hashes are salted per process; surrogatepass keeps names
    # decoded from undecodable file names hashable
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % len(PALETTE)


def _assign_slots(names: Iterable[str]) -> dict[str, int]:
    """Slot g means colour ``PALETTE[g % P]`` in variant round ``g // P``."""
    size = len(PALETTE)
    ordered = sorted(set(names))
    homes = {name: _home_slot(name) for name in ordered}
    slots: dict[str, int] = {}
    taken: set[int] = set()
    # homes first, so a run displaced by a collision never pushes a third run off its home
    for name in ordered:
        if homes[name] not in taken:
            slots[name] = homes[name]
            taken.add(homes[name])
    filled = {0: len(taken)}
    round_ = 0
    for name in ordered:
        if name in slots:
            continue
        # rounds past the first fill only here, lowest first, so a full round stays full
        while filled.get(round_, 0) >= size:
            round_ += 1
        for offset in range(size):
            slot = round_ * size + (homes[name] + offset) % size
            if slot not in taken:
                break
        slots[name] = slot
        taken.add(slot)
        filled[round_] = filled.get(round_, 0) + 1
    return slots


def _slot_color(slot: int) -> str:
    base = PALETTE[slot % len(PALETTE)]
    kind, amount = _VARIANTS[(slot // len(PALETTE)) % len(_VARIANTS)]
    if kind == "base":
        return base
    target = 0 if kind == "dark" else 255
    rgb = (int(base[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c + (target - c) * amount):02x}" for c in rgb)


# --------------------------------------------------------------------------------------------
# Metric direction
# --------------------------------------------------------------------------------------------

MIN = "min"
MAX = "max"
NONE = "none"
_DIRECTIONS = (MIN, MAX, NONE)

_LOWER_IS_BETTER = frozenset(
    {
        "loss", "losses", "error", "errors", "err", "perplexity", "ppl",
        "mse", "mae", "rmse", "nll", "cer", "wer", "crossentropy", "xent",
    }
)  # fmt: skip
_HIGHER_IS_BETTER = frozenset(
    {
        "acc", "accuracy", "precision", "recall", "f1", "auc", "reward", "rewards",
        "return", "returns", "score", "scores", "iou", "miou", "map", "bleu",
    }
)  # fmt: skip

_TOKEN = re.compile(r"[^\W_]+")
# camelCase and letter/digit pieces: valLoss -> val, loss; mAP50 -> m, ap, 50; HTTPError
_PIECE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_ALPHA_DIGIT = re.compile(r"[A-Za-z]+|[0-9]+")


def direction_of(tag: str, overrides: Mapping[str, str] | None = None) -> str:
    """Whether lower ("min") or higher ("max") values of the tag are better, or "none".

    ``overrides`` maps a regex (``re.search`` on the tag) to a direction; the first match in
    order wins. Otherwise whole words decide (``val_loss``, ``train/Loss``, ``epochAccuracy``;
    not ``lossless``), and with several the last wins, as the head of an English compound
    comes last: ``reward_loss`` is a loss.
    """
    rules = dict(overrides or {})
    for pattern, direction in rules.items():
        # checked up front so a typo fails on every tag, not only on the tags it matches
        if direction not in _DIRECTIONS:
            raise ValueError(f"direction for {pattern!r} must be min, max or none: {direction!r}")
    for pattern, direction in rules.items():
        if re.search(pattern, tag):
            return direction
    found = NONE
    for token in _TOKEN.findall(tag):
        found = _token_direction(token) or found
    return found


def _token_direction(token: str) -> str | None:
    words = [token, *_ALPHA_DIGIT.findall(token), *_PIECE.findall(token)]
    # the whole token first: "mIoU" and "f1" are words that the piece split would break
    for word in (words[0], *reversed(words[1:])):
        word = word.lower()
        if word in _LOWER_IS_BETTER:
            return MIN
        if word in _HIGHER_IS_BETTER:
            return MAX
    return None


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


# --------------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------------


def series_summary(steps: np.ndarray, values: np.ndarray) -> Summary:
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
        return Summary(count, nan_count, inf_count, last_step, last_value, None, None, None, None)
    fv = v[finite]
    i_min = int(finite[np.argmin(fv)])
    i_max = int(finite[np.argmax(fv)])
    return Summary(
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


def best_of(summaries_by_run: Mapping[str, Summary], direction: str) -> str | None:
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
