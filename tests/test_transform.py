"""Tests for the transform stage, checked against the formulas TensorBoard uses."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import re
import subprocess
import sys

import numpy as np
import pytest

from tbreport.kinds.scalars.directions import direction_of
from tbreport.kinds.scalars.transform import (
    best_of,
    outlier_range,
    padded_range,
    series_summary,
    smooth,
    smooth_many,
    spark_scale,
    sparkline,
    thin,
)
from tbreport.model import SeriesSummary as Summary
from tbreport.names import natural_key, section_of
from tbreport.read.restarts import apply_restarts, repeated_records
from tbreport.report.colours import PALETTE, run_colors, run_styles

# --------------------------------------------------------------------------------------------
# smooth
# --------------------------------------------------------------------------------------------


def tb_classic_smoothing(ys: list[float], weight: float) -> list[float]:
    """classicSmoothing from webapp/widgets/line_chart_v2/data_transformer.ts, line by line."""
    if not math.isfinite(weight):
        weight = 0.0
    weight = max(0.0, min(weight, 1.0))
    if not ys:
        return []
    initial = ys[0]
    if all(y == initial for y in ys):
        return list(ys)
    last = 0.0
    num_accum = 0
    out = []
    for y in ys:
        if not math.isfinite(y):
            out.append(y)
            continue
        last = last * weight + (1 - weight) * y
        num_accum += 1
        debias = 1 if weight == 1 else 1 - weight**num_accum
        out.append(last / debias)
    return out


def _sprinkle_nonfinite(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    values = values.copy()
    if values.size > 2:
        for bad in (np.nan, np.inf, -np.inf):
            count = max(1, values.size // 50)
            values[rng.integers(0, values.size, count)] = bad
    return values


WEIGHTS = [0.0, 0.3, 0.6, 0.9, 0.99, 0.999, 1.0]
LENGTHS = [1, 2, 1000, 100_000]


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("weight", WEIGHTS)
def test_smooth_matches_tensorboard_on_positive_data(weight: float, length: int) -> None:
    rng = np.random.default_rng(length * 1000 + int(weight * 1000))
    # loss-like: positive, noisy, decaying; no cancellation, so a pure relative bound holds
    ys = np.exp(-np.linspace(0, 5, length)) * rng.uniform(0.5, 2.0, length) + 0.01
    ys = _sprinkle_nonfinite(ys, rng)
    expected = np.array(tb_classic_smoothing(ys.tolist(), weight))
    np.testing.assert_allclose(smooth(ys, weight), expected, rtol=1e-12, atol=0, equal_nan=True)


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("weight", WEIGHTS)
def test_smooth_matches_tensorboard_on_signed_data(weight: float, length: int) -> None:
    rng = np.random.default_rng(7 + length + int(weight * 1000))
    ys = _sprinkle_nonfinite(rng.normal(3.0, 10.0, length), rng)
    expected = np.array(tb_classic_smoothing(ys.tolist(), weight))
    # smoothed values near zero have no relative precision in any summation order
    scale = float(np.max(np.abs(ys[np.isfinite(ys)])))
    np.testing.assert_allclose(
        smooth(ys, weight), expected, rtol=1e-12, atol=1e-12 * scale, equal_nan=True
    )


def _crafted_series() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(10)
    steps = np.arange(10_000)
    noisy = np.sin(steps / 300.0) + rng.normal(0.0, 0.5, steps.size)
    long_noisy = np.sin(np.arange(300_000) / 3000.0) * 1e3 + rng.normal(0.0, 400.0, 300_000)
    with_gaps = _sprinkle_nonfinite(noisy, rng)
    return {
        "nan": np.array([np.nan, 1.0, np.nan, 2.0, 3.0, np.nan]),
        "inf": np.array([np.inf, -1.0, -np.inf, 4.0, np.inf, 0.5]),
        "all-non-finite": np.array([np.nan, np.inf, -np.inf]),
        "constant": np.full(50, 0.1),
        "one-point": np.array([0.7]),
        "10k-loss": np.exp(-steps / 2000.0) + 0.1 * rng.random(steps.size),
        "10k-noisy-zero-crossings": noisy,
        "10k-with-nan-inf": with_gaps,
        # past the plain-Python length: the blocked scan
        "300k-noisy-zero-crossings": long_noisy,
        "300k-with-nan-inf": _sprinkle_nonfinite(long_noisy, rng),
    }


CRAFTED = _crafted_series()


@pytest.mark.parametrize("name", sorted(CRAFTED))
@pytest.mark.parametrize("weight", [0.0, 0.6, 0.999])
def test_smooth_equals_the_sequential_recurrence(name: str, weight: float) -> None:
    ys = CRAFTED[name]
    expected = np.array(tb_classic_smoothing(ys.tolist(), weight))
    out = smooth(ys, weight)
    finite = ys[np.isfinite(ys)]
    scale = float(np.max(np.abs(finite))) if finite.size else 1.0
    # the documented bound (README): 1e-12 of the series' largest magnitude
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12 * scale, equal_nan=True)
    # and what the implementation gives: TB's order of operations, so the same bits
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("weight", [0.6, 0.9, 0.99, 0.999])
def test_smooth_many_equals_the_sequential_recurrence_per_series(weight: float) -> None:
    # a chart's runs smoothed together (one blocked scan over all of them): series of
    # different lengths, short ones, gaps and constants, each the same bits as alone
    names = ["10k-noisy-zero-crossings", "one-point", "10k-with-nan-inf", "constant", "nan"]
    series = [CRAFTED[name] for name in names]
    series += [CRAFTED["10k-loss"][:7_777], np.array([]), CRAFTED["10k-loss"][:3]]
    outs = smooth_many(series, weight)
    assert len(outs) == len(series)
    for ys, out in zip(series, outs, strict=True):
        expected = np.array(tb_classic_smoothing(ys.tolist(), weight))
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(out, smooth(ys, weight))


def test_smooth_hand_computed() -> None:
    expected = (0.4 * 1 * 0.6 + 0.4 * 2) / (1 - 0.36)
    assert expected == pytest.approx(1.625)
    np.testing.assert_allclose(smooth(np.array([1.0, 2.0]), 0.6), [1.0, expected], rtol=1e-15)


def test_smooth_non_finite_points_pass_through_and_do_not_advance() -> None:
    ys = np.array([np.nan, 1.0, np.inf, 2.0, -np.inf, np.nan])
    out = smooth(ys, 0.6)
    # the NaN/inf keep their places and values; 1, 2 smooth as if they were adjacent
    assert np.isnan(out[0]) and np.isnan(out[5])
    assert out[2] == np.inf and out[4] == -np.inf
    np.testing.assert_allclose(out[[1, 3]], [1.0, 1.625], rtol=1e-15)


def test_smooth_constant_series_is_returned_unchanged() -> None:
    ys = np.full(5, 3.0)
    np.testing.assert_array_equal(smooth(ys, 1.0), ys)  # w=1 would otherwise give zeros


def test_smooth_series_with_nan_is_not_constant() -> None:
    # NaN != NaN, so TB smooths (and w=1 zeroes the finite points)
    out = smooth(np.array([3.0, np.nan, 3.0]), 1.0)
    assert out[0] == 0.0 and np.isnan(out[1]) and out[2] == 0.0


@pytest.mark.parametrize("weight", [0.0, -0.5, float("nan"), float("-inf")])
def test_smooth_without_effective_weight_returns_values(weight: float) -> None:
    ys = np.array([1.0, 5.0, 2.0, np.nan])
    np.testing.assert_array_equal(smooth(ys, weight), ys)


def test_smooth_weight_above_one_is_clamped_to_one() -> None:
    ys = np.array([1.0, 5.0, 2.0])
    np.testing.assert_array_equal(smooth(ys, 7.0), smooth(ys, 1.0))
    np.testing.assert_array_equal(smooth(ys, float("inf")), ys)  # non-finite -> 0 first


def test_smooth_returns_new_float64_array_and_leaves_input() -> None:
    ys = np.array([1.0, 2.0, 4.0], dtype=np.float32)
    before = ys.copy()
    for weight in (0.0, 0.6):
        out = smooth(ys, weight)
        assert out.dtype == np.float64
        assert not np.shares_memory(out, ys)
    np.testing.assert_array_equal(ys, before)


def test_smooth_empty() -> None:
    out = smooth(np.array([]), 0.6)
    assert out.shape == (0,) and out.dtype == np.float64


def test_smooth_rejects_2d() -> None:
    with pytest.raises(ValueError):
        smooth(np.ones((2, 2)), 0.6)


def test_sparkline_scales_means_of_chunks_and_leaves_gaps():
    assert (
        sparkline(np.arange(8.0), 0.0, 7.0, width=8)
        == "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"
    )
    # 32 points in 4 chunks: the chunk means 3.5, 11.5, 19.5, 27.5 on a 0..31 scale
    assert sparkline(np.arange(32.0), 0.0, 31.0, width=4) == "\u2582\u2584\u2585\u2587"
    assert sparkline(np.array([1.0, np.nan, 3.0]), 1.0, 3.0, width=3) == "\u2581 \u2588"
    assert sparkline(np.array([2.0, 2.0]), 2.0, 2.0) == "\u2585\u2585"  # flat: mid height
    assert sparkline(np.array([]), 0.0, 1.0) == ""
    # near the float64 limit a chunk's sum or the span overflows: the bars are still drawn
    big = np.array([-1.5e308, 1.5e308])
    assert sparkline(big, *spark_scale([big])) == "\u2581\u2588"
    assert sparkline(np.array([1e308] * 4 + [-1e308] * 4), -1e308, 1e308, width=2) == (
        "\u2588\u2581"
    )


# --------------------------------------------------------------------------------------------
# outlier_range and padded_range
# --------------------------------------------------------------------------------------------


def reference_outlier_range(values: np.ndarray) -> tuple[float, float] | None:
    ys = sorted(float(v) for v in values if math.isfinite(v))
    n = len(ys)
    if n == 0:
        return None
    if n <= 2:
        return min(ys), max(ys)
    return ys[math.ceil((n - 1) * 0.05)], ys[math.floor((n - 1) * 0.95)]


@pytest.mark.parametrize("n", [*range(0, 45), 100, 1001])
def test_outlier_range_matches_tensorboard_formula(n: int) -> None:
    rng = np.random.default_rng(n)
    ys = _sprinkle_nonfinite(rng.standard_cauchy(n), rng)
    assert outlier_range(ys) == reference_outlier_range(ys)


def test_outlier_range_hand_computed() -> None:
    # n=20: ceil(19*0.05)=1, floor(19*0.95)=18
    ys = np.arange(20.0)[::-1]
    assert outlier_range(ys) == (1.0, 18.0)


def test_outlier_range_drops_a_spike() -> None:
    ys = np.concatenate([np.linspace(1.0, 2.0, 99), [1e9]])
    result = outlier_range(ys)
    assert result is not None and result[0] > 1.0 and result[1] < 2.0


def test_outlier_range_small_and_empty() -> None:
    assert outlier_range(np.array([3.0, np.nan, 1.0])) == (1.0, 3.0)
    assert outlier_range(np.array([2.0])) == (2.0, 2.0)
    assert outlier_range(np.array([np.nan, np.inf])) is None
    assert outlier_range(np.array([])) is None


def test_outlier_range_custom_quantiles() -> None:
    ys = np.arange(11.0)
    assert outlier_range(ys, 0.0, 1.0) == (0.0, 10.0)
    assert outlier_range(ys, 0.2, 0.5) == (2.0, 5.0)
    with pytest.raises(ValueError):
        outlier_range(ys, 0.9, 0.1)


def test_padded_range_linear() -> None:
    lo, hi = padded_range(0.0, 10.0)
    assert lo == pytest.approx(-0.5) and hi == pytest.approx(10.5)
    assert lo < 0.0 and hi > 10.0


@pytest.mark.parametrize(
    ("value", "expected"), [(0.0, (-1.0, 1.0)), (3.0, (0.0, 6.0)), (-2.0, (-4.0, 0.0))]
)
def test_padded_range_zero_span(value: float, expected: tuple[float, float]) -> None:
    assert padded_range(value, value) == expected


def test_padded_range_tiny_span_still_has_margin() -> None:
    # TB pads by (span + EPSILON) * 5%, so a span far below EPSILON gets a visible margin
    lo, hi = padded_range(0.0, 1e-300)
    assert lo == pytest.approx(-0.05 * 2**-52) and hi == pytest.approx(0.05 * 2**-52)


def test_padded_range_log() -> None:
    assert padded_range(1.0, 100.0, log=True) == (0.5, 200.0)
    assert padded_range(0.0, 10.0, log=True) == (5e-324, 20.0)
    assert padded_range(-5.0, -1.0, log=True) == (5e-324, 1.0)


@pytest.mark.parametrize(("lo", "hi"), [(2.0, 1.0), (float("nan"), 1.0), (0.0, float("inf"))])
def test_padded_range_rejects_bad_limits(lo: float, hi: float) -> None:
    with pytest.raises(ValueError):
        padded_range(lo, hi)


# --------------------------------------------------------------------------------------------
# thin
# --------------------------------------------------------------------------------------------


def _check_thinned(y: np.ndarray, idx: np.ndarray, max_points: int) -> None:
    n = y.size
    assert idx.dtype.kind == "i"
    assert np.all(np.diff(idx) > 0), "indices must be sorted and unique"
    assert idx[0] == 0 and idx[-1] == n - 1
    nonfinite = np.flatnonzero(~np.isfinite(y))
    assert np.isin(nonfinite, idx).all(), "every NaN/inf must be kept"
    kept_finite = idx[np.isfinite(y[idx])]
    assert kept_finite.size <= max_points
    finite = y[np.isfinite(y)]
    if finite.size:
        assert y[kept_finite].min() == finite.min()
        assert y[kept_finite].max() == finite.max()


@pytest.mark.parametrize("n", [5, 11, 1000, 1003, 99_991])
@pytest.mark.parametrize("max_points", [4, 5, 10, 501, 1000])
def test_thin_keeps_extremes_ends_and_non_finite(n: int, max_points: int) -> None:
    rng = np.random.default_rng(n * 7 + max_points)
    y = np.cumsum(rng.normal(size=n))
    y = _sprinkle_nonfinite(y, rng)
    idx = thin(np.arange(n), y, max_points)
    if n <= max_points:
        np.testing.assert_array_equal(idx, np.arange(n))
    else:
        _check_thinned(y, idx, max_points)


def test_thin_reduces_long_series() -> None:
    y = np.sin(np.arange(200_000) / 1000.0)
    idx = thin(np.arange(y.size), y, 1000)
    assert 900 <= idx.size <= 1000


def test_thin_keeps_extremes_in_the_remainder_tail() -> None:
    # 1003 points in 4 buckets of 251: the last 250 are the remainder
    y = np.zeros(1003)
    y[1001], y[1000] = 5.0, -5.0
    idx = thin(np.arange(y.size), y, 10)
    assert {1000, 1001, 1002} <= set(idx.tolist())


def test_thin_keeps_isolated_spikes() -> None:
    n = 100_000
    y = np.sin(np.arange(n) / 5000.0)
    spikes = np.arange(2_500, n, 10_000)
    dips = spikes + 5_000
    y[spikes] += 10.0
    y[dips] -= 10.0
    idx = thin(np.arange(n), y, 1000)
    assert np.isin(spikes, idx).all() and np.isin(dips, idx).all()


def test_thin_all_nan_keeps_everything() -> None:
    y = np.full(50, np.nan)
    np.testing.assert_array_equal(thin(np.arange(50), y, 10), np.arange(50))


def test_thin_integer_values() -> None:
    y = np.arange(1000, dtype=np.int64) % 37
    idx = thin(np.arange(1000), y, 20)
    assert y[idx].min() == 0 and y[idx].max() == 36 and idx.size <= 20


def test_thin_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        thin(np.arange(3), np.arange(4.0), 10)
    with pytest.raises(ValueError):
        thin(np.arange(10), np.arange(10.0), 3)


# --------------------------------------------------------------------------------------------
# natural_key and section_of
# --------------------------------------------------------------------------------------------


def _consume_number(s: str, i: int) -> int:
    state = "natural"
    while i < len(s):
        c = s[i]
        if state == "natural":
            if c == ".":
                state = "real"
            elif c in "eE":
                state = "sign"
            elif not c.isdigit():
                break
        elif state == "real":
            if c in "eE":
                state = "sign"
            elif not c.isdigit():
                break
        elif state == "sign":
            if c.isdigit() or c in "+-":
                state = "exponent"
            else:
                break
        elif not c.isdigit():
            break
        i += 1
    return i


def tb_compare_tag_names(a: str, b: str) -> int:
    """compareTagNames from webapp/metrics/views/utils.ts (ASCII input only)."""
    ai = bi = 0
    while True:
        if ai == len(a):
            return 0 if bi == len(b) else -1
        if bi == len(b):
            return 1
        if a[ai].isdigit() and b[bi].isdigit():
            a_start, b_start = ai, bi
            ai = _consume_number(a, ai + 1)
            bi = _consume_number(b, bi + 1)
            an, bn = float(a[a_start:ai]), float(b[b_start:bi])
            if an != bn:
                return -1 if an < bn else 1
            continue
        a_break = a[ai] == "/" or a[ai].isdigit()
        b_break = b[bi] == "/" or b[bi].isdigit()
        if a_break and not b_break:
            return -1
        if b_break and not a_break:
            return 1
        if not a_break and a[ai] != b[bi]:
            return -1 if a[ai] < b[bi] else 1
        ai += 1
        bi += 1


def test_natural_key_agrees_with_tensorboard_comparator() -> None:
    # no "/" (TB calls "/" and a digit equal) and no "e" (TB parses "1e" as NaN): where TB's
    # comparator is a consistent order, the key must give the same answer
    rng = random.Random(0)
    alphabet = "abB_.-09"
    words = ["".join(rng.choices(alphabet, k=rng.randint(0, 6))) for _ in range(400)]
    for a, b in zip(words, reversed(words), strict=True):
        expected = tb_compare_tag_names(a, b)
        if expected:
            assert (natural_key(a) < natural_key(b)) == (expected < 0), (a, b)


@pytest.mark.parametrize(
    "ordered",
    [
        ["a1b", "a2b", "a10b"],
        ["train/x9", "train/x10", "val/x1"],
        ["a/b", "a+/b"],  # per component, though "+" < "/" in ASCII
        ["a1", "aa"],  # digits before other characters
        ["loss", "loss/val", "loss_val"],
        ["lr_1e-4", "lr_1e-3", "lr_0.01", "lr_0.1", "lr_1"],
        ["x1", "x1.5", "x2"],
        ["B", "a"],  # case-sensitive, by code point
        ["epoch9eval", "epoch10eval"],
    ],
)
def test_natural_key_orders(ordered: list[str]) -> None:
    shuffled = ordered[::-1]
    assert sorted(shuffled, key=natural_key) == ordered


def test_natural_key_is_total_and_deterministic() -> None:
    rng = random.Random(1)
    alphabet = "aZ0159/._-e+é\U0001f600"
    words = ["".join(rng.choices(alphabet, k=rng.randint(0, 8))) for _ in range(500)]
    words += ["a01", "a1", "a1.0", "x" + "9" * 5000]
    expected = sorted(words, key=natural_key)
    for _ in range(5):
        rng.shuffle(words)
        assert sorted(words, key=natural_key) == expected
    keys: dict[object, set[str]] = {}
    for word in words:
        keys.setdefault(natural_key(word), set()).add(word)
    assert all(len(group) == 1 for group in keys.values()), "different strings, equal keys"


def test_natural_key_breaks_numeric_ties_by_raw_string() -> None:
    assert sorted(["a1", "a01", "a1.0"], key=natural_key) == sorted(["a1", "a01", "a1.0"])


@pytest.mark.parametrize(
    ("tag", "section"),
    [("train/loss", "train"), ("loss", "loss"), ("a/b/c", "a"), ("/x", ""), ("", "")],
)
def test_section_of(tag: str, section: str) -> None:
    assert section_of(tag) == section


# --------------------------------------------------------------------------------------------
# run_colors and run_styles
# --------------------------------------------------------------------------------------------

HEX = re.compile(r"^#[0-9a-f]{6}$")


def home(name: str) -> str:
    # alone, a run always gets its hash-chosen colour
    return run_colors([name])[name]


def test_run_colors_are_palette_hex_and_cover_it() -> None:
    names = [f"run{i}" for i in range(200)]
    homes = {home(name) for name in names}
    assert homes == set(PALETTE)  # the hash reaches every slot
    assert all(HEX.match(color) for color in PALETTE)


def test_run_color_survives_other_runs_without_collision() -> None:
    rng = random.Random(2)
    pool = [f"exp-{i}" for i in range(300)]
    for _ in range(200):
        names = rng.sample(pool, rng.randint(1, 12))
        colors = run_colors(names)
        for name in names:
            earlier_rival = any(o < name and home(o) == home(name) for o in names)
            if not earlier_rival:
                assert colors[name] == home(name), (name, names)


def test_run_colors_collision_resolution() -> None:
    names = [f"run{i}" for i in range(50)]
    first, second = next((a, b) for a in names for b in names if a < b and home(a) == home(b))
    colors = run_colors([second, first])
    assert colors[first] == home(first)
    assert colors[second] != colors[first]
    # the documented trade-off: adding the earlier-sorting twin moves the later one
    assert run_colors([second])[second] != colors[second]


@pytest.mark.parametrize("count", range(1, len(PALETTE) * 3 + 1))
def test_run_colors_distinct_up_to_palette_and_variants(count: int) -> None:
    rng = random.Random(count)
    names = rng.sample([f"n{i}" for i in range(1000)], count)
    colors = run_colors(names)
    assert len(set(colors.values())) == count
    assert all(HEX.match(color) for color in colors.values())
    if count <= len(PALETTE):
        assert set(colors.values()) <= set(PALETTE)


def test_run_colors_and_styles_distinguish_many_runs() -> None:
    names = [f"sweep/lr{i}" for i in range(len(PALETTE) * 3 * 4)]
    colors, styles = run_colors(names), run_styles(names)
    assert len({(colors[n], styles[n]) for n in names}) == len(names)
    assert set(styles.values()) == {"solid", "dashed", "dotted", "dashdot"}
    assert run_styles(names[:18]) == dict.fromkeys(names[:18], "solid")


def test_run_colors_ignore_order_and_duplicates() -> None:
    names = ["b", "a", "c", "a", "run/x", "run/y"]
    colors = run_colors(names)
    assert colors == run_colors(sorted(set(names), reverse=True))
    assert set(colors) == set(names)


def test_run_colors_independent_of_hash_seed() -> None:
    names = ["train", "val", "runs/exp1", "runs/exp2", "ü-run"]
    code = (
        "import json, sys; from tbreport.report.colours import run_colors; "
        f"print(json.dumps(run_colors({names!r})))"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": root}
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(result.stdout)
    assert len(outputs) == 1
    assert json.loads(outputs.pop()) == run_colors(names)


def test_run_colors_accepts_undecodable_file_names() -> None:
    name = b"run-\xff".decode("utf-8", "surrogateescape")
    assert HEX.match(run_colors([name])[name])


# --------------------------------------------------------------------------------------------
# direction_of
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "direction"),
    [
        ("loss", "min"),
        ("val_loss", "min"),
        ("train/Loss", "min"),
        ("Loss/train", "min"),
        ("valLoss", "min"),
        ("epoch_accuracy", "max"),
        ("Accuracy/val", "max"),
        ("val_sparse_categorical_accuracy", "max"),
        ("top1_error", "min"),
        ("eval/MSE", "min"),
        ("rmse", "min"),
        ("val/ppl", "min"),
        ("categorical_crossentropy", "min"),
        ("f1", "max"),
        ("F1Score", "max"),
        ("metrics/mAP50", "max"),
        ("mIoU", "max"),
        ("eval/episode_return", "max"),
        ("bleu", "max"),
        ("reward_loss", "min"),  # the last keyword is the head noun
        ("loss_vs_accuracy", "max"),
        ("lossless_ratio", "none"),
        ("mapping_time", "none"),
        ("accurate", "none"),
        ("learning_rate", "none"),
        ("lr", "none"),
        ("", "none"),
    ],
)
def test_direction_of_words(tag: str, direction: str) -> None:
    assert direction_of(tag) == direction


def test_direction_of_overrides_win_in_order() -> None:
    overrides = {r"gap$": "min", r"^val/": "none", r"acc": "max"}
    assert direction_of("accuracy_gap", overrides) == "min"
    assert direction_of("val/loss", overrides) == "none"
    assert direction_of("train/loss", overrides) == "min"  # no match: words decide
    assert direction_of("lossless_ratio", {r"lossless": "max"}) == "max"


def test_direction_of_rejects_bad_override_even_when_unmatched() -> None:
    with pytest.raises(ValueError):
        direction_of("loss", {"nothing-matches": "lower"})


# --------------------------------------------------------------------------------------------
# apply_restarts
# --------------------------------------------------------------------------------------------


def reference_keep(steps: list[int]) -> list[bool]:
    return [all(steps[i] < later for later in steps[i + 1 :]) for i in range(len(steps))]


def test_apply_restarts_torch_restart() -> None:
    steps = np.concatenate([np.arange(100), np.arange(50, 150)]).astype(np.int64)
    keep = apply_restarts(steps)
    assert keep.dtype == np.bool_ and keep.sum() == 150
    assert keep[:50].all() and not keep[50:100].any() and keep[100:].all()
    np.testing.assert_array_equal(steps[keep], np.arange(150))


def test_apply_restarts_increasing_keeps_all() -> None:
    assert apply_restarts(np.arange(10, dtype=np.int64)).all()


def test_apply_restarts_repeated_step_keeps_last() -> None:
    np.testing.assert_array_equal(apply_restarts(np.array([5, 5, 5])), [False, False, True])


def test_apply_restarts_empty_and_single() -> None:
    assert apply_restarts(np.array([], dtype=np.int64)).shape == (0,)
    np.testing.assert_array_equal(apply_restarts(np.array([7])), [True])


def test_apply_restarts_extreme_and_negative_steps() -> None:
    big = 2**63 - 1
    steps = np.array([big, 0, big, -(2**63), big], dtype=np.int64)
    np.testing.assert_array_equal(apply_restarts(steps), [False, False, False, True, True])
    np.testing.assert_array_equal(apply_restarts(np.array([-5, -3, -4])), [True, False, True])


def test_apply_restarts_matches_reference() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        steps = rng.integers(-5, 20, rng.integers(0, 30))
        np.testing.assert_array_equal(apply_restarts(steps), reference_keep(steps.tolist()))


def test_repeated_records_same_step_and_value() -> None:
    steps = np.array([0, 0, 1, 1, 1, 2, 2, 1, 1], dtype=np.int64)
    values = np.array([5.0, 5.0, 6.0, 6.0, 6.0, 7.0, 8.0, 6.0, 6.0])
    np.testing.assert_array_equal(
        repeated_records(steps, values), [1, 0, 1, 1, 0, 0, 0, 1, 0]
    )  # (2, 7) then (2, 8) is a rewrite; (1, 6) after step 2 is a restart, then a repeat


def test_repeated_records_compares_value_bits() -> None:
    steps = np.zeros(4, dtype=np.int64)
    values = np.array([np.nan, np.nan, 0.0, -0.0])
    np.testing.assert_array_equal(repeated_records(steps, values), [True, False, False, False])
    assert repeated_records(np.array([], dtype=np.int64), np.array([])).shape == (0,)


def test_repeated_records_are_all_dropped_by_the_restart_rule() -> None:
    rng = np.random.default_rng(5)
    for _ in range(200):
        steps = rng.integers(0, 6, rng.integers(0, 20))
        values = rng.integers(0, 2, steps.shape[0]).astype(np.float64)
        assert not (repeated_records(steps, values) & apply_restarts(steps)).any()


def test_repeated_records_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="repeated_records"):
        repeated_records(np.arange(3), np.zeros(2))


# --------------------------------------------------------------------------------------------
# series_summary and best_of
# --------------------------------------------------------------------------------------------


def test_series_summary() -> None:
    steps = np.array([0, 10, 20, 30, 40, 50], dtype=np.int64)
    values = np.array([3.0, np.nan, -np.inf, 1.0, 7.0, np.inf])
    summary = series_summary(steps, values)
    assert summary == Summary(
        count=6,
        nan_count=1,
        inf_count=2,
        last_step=50,
        last_value=math.inf,
        min_step=30,
        min_value=1.0,
        max_step=40,
        max_value=7.0,
    )
    assert isinstance(summary.min_step, int) and isinstance(summary.min_value, float)


def test_series_summary_ties_report_earliest() -> None:
    summary = series_summary(np.array([1, 2, 3, 4]), np.array([2.0, 1.0, 1.0, 2.0]))
    assert (summary.min_step, summary.max_step) == (2, 1)


def test_series_summary_without_finite_values() -> None:
    summary = series_summary(np.array([1, 2]), np.array([1.0, np.nan]))
    assert summary.last_step == 2
    assert summary.last_value is not None and math.isnan(summary.last_value)
    assert summary.min_value == 1.0
    none = series_summary(np.array([1]), np.array([np.nan]))
    assert none.min_value is none.max_value is none.min_step is none.max_step is None
    empty = series_summary(np.array([], dtype=np.int64), np.array([]))
    assert empty.count == 0 and empty.last_step is None and empty.last_value is None


def test_summary_is_frozen() -> None:
    summary = series_summary(np.array([1]), np.array([1.0]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.count = 2  # type: ignore[misc]


def _summary(lo: float | None, hi: float | None) -> Summary:
    return Summary(1, 0, 0, 1, lo, 1, lo, 1, hi)


def test_best_of() -> None:
    runs = {"b": _summary(0.5, 0.9), "a": _summary(0.7, 0.95), "c": _summary(None, None)}
    assert best_of(runs, "min") == "b"
    assert best_of(runs, "max") == "a"
    assert best_of(runs, "none") is None


def test_best_of_ties_go_to_first_name() -> None:
    runs = {"z": _summary(0.5, 2.0), "m": _summary(0.5, 2.0), "q": _summary(0.6, 1.0)}
    assert best_of(runs, "min") == "m"
    assert best_of(runs, "max") == "m"


def test_best_of_without_values() -> None:
    assert best_of({"a": _summary(None, None)}, "min") is None
    assert best_of({}, "max") is None
    with pytest.raises(ValueError):
        best_of({"a": _summary(1.0, 1.0)}, "lower")


@pytest.mark.parametrize("weight", [0.6, 0.0, 0.5, 0.95, 0.999, 1e-12, 1.0])
def test_smooth_many_is_smooth_of_each_bit_for_bit(weight):
    """The batched recurrence gives the same doubles as smoothing each series alone: series of
    every length (past the sequential limit too), with NaN and inf, constant, float32."""
    rng = np.random.RandomState(7)
    lengths = [0, 1, 2, 3, 17, 300, 4000, 20_000, 20_001]
    series = []
    for i in range(40):
        n = lengths[i % len(lengths)] if i % 5 else int(rng.randint(0, 50))
        x = rng.randn(n) * 10.0 ** rng.uniform(-4, 4, n)
        if n and i % 3 == 0:
            x[rng.randint(0, n, 1 + n // 8)] = rng.choice([np.nan, np.inf, -np.inf])
        if i % 11 == 0:
            x[:] = 2.5
        series.append(x.astype(np.float32) if i % 7 == 0 else x)
    got = smooth_many(series, weight)
    for values, batched in zip(series, got, strict=True):
        alone = smooth(values, weight)
        assert batched.dtype == alone.dtype and batched.tobytes() == alone.tobytes()
