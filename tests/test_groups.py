"""Seed groups (--group, --group-by): which runs form a group, the centre line and band of each
band kind against numpy on the raw arrays the test wrote, tables, JSON, the note and the chart."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import build_options

from tbreport.cli import main
from tbreport.model import Chart, Line
from tbreport.options import make_options
from tbreport.read import read_logdir
from tbreport.report import build_report
from tbreport.report.groups import group_key

DATE = "2021-05-24 20:41:00 -0400"

# per seed: its number of steps, the steps it skips and where it logs NaN
SEEDS = {1: (40, (), ()), 2: (31, (3, 4, 17, 18, 19), ()), 3: (36, (8,), (12, 20))}


def _value(lr: float, seed: int, step: int) -> float:
    rng = np.random.default_rng(seed * 1000 + int(lr * 100))
    noise = rng.normal(0.0, 0.1, 64)
    return math.exp(-lr * step) + float(noise[step])


def _write_seeds(torch_writer) -> dict[str, dict[int, float]]:
    """Two settings of three seeds each (different lengths, missing steps, NaN in one seed);
    returns what was logged, as float32 values (simple_value), by run name and step."""
    logged: dict[str, dict[int, float]] = {}
    for lr in (0.1, 0.03):
        for seed, (length, missing, nans) in SEEDS.items():
            name = f"lr{lr}_seed{seed}"
            w = torch_writer(name)
            logged[name] = {}
            for step in range(length):
                if step in missing:
                    continue
                v = math.nan if (step in nans and lr == 0.1) else _value(lr, seed, step)
                w.add_scalar("loss", v, step)
                logged[name][step] = float(np.float32(v))
            w.close()
    return logged


def _report(tmp_path, **kw):
    options = build_options(tmp_path / "site", tmp_path / "logs", **kw)
    return build_report(read_logdir(str(tmp_path / "logs")), options)


def _group_lines(report) -> dict[str, Line]:
    (chart,) = report.scalar_charts
    return {line.run: line for line in chart.lines if not line.faint}


def _expected(values: np.ndarray, center: str, band: str) -> tuple[float, float, float]:
    """Independent of tbreport: numpy and scipy on one step's finite values."""
    from scipy import stats

    mid = float(np.median(values) if center == "median" else np.mean(values))
    if band == "minmax":
        return mid, float(np.min(values)), float(np.max(values))
    if band == "iqr":
        return mid, float(np.quantile(values, 0.25)), float(np.quantile(values, 0.75))
    if len(values) < 2:
        return mid, mid, mid
    sd = float(np.std(values, ddof=1))
    half = {
        "std": sd,
        "sem": sd / math.sqrt(len(values)),
        "ci95": stats.t.ppf(0.975, len(values) - 1) * sd / math.sqrt(len(values)),
    }[band]
    return mid, mid - half, mid + half


@pytest.mark.parametrize("center", ["mean", "median"])
@pytest.mark.parametrize("band", ["std", "sem", "ci95", "minmax", "iqr"])
def test_every_band_matches_numpy_on_the_raw_arrays(tmp_path, torch_writer, band, center):
    logged = _write_seeds(torch_writer)
    report = _report(
        tmp_path, group=r"_seed\d+", band=band, center=center, smoothing=0.0, max_points=5000
    )
    lines = _group_lines(report)
    assert sorted(lines) == ["lr0.03", "lr0.1"]
    for key, line in lines.items():
        members = [name for name in logged if name.startswith(key + "_")]
        steps = sorted({s for name in members for s in logged[name]})
        assert line.steps is not None and line.steps.tolist() == steps
        want = []
        for step in steps:
            at = np.array([logged[n][step] for n in members if step in logged[n]])
            at = at[np.isfinite(at)]  # a seed's NaN leaves it out at that step
            want.append((*_expected(at, center, band), at.size))
        want_arr = np.array(want)
        np.testing.assert_allclose(line.y, want_arr[:, 0], rtol=1e-12)
        np.testing.assert_allclose(line.lower, want_arr[:, 1], rtol=1e-9)
        np.testing.assert_allclose(line.upper, want_arr[:, 2], rtol=1e-9)
        assert line.n is not None and line.n.tolist() == want_arr[:, 3].astype(int).tolist()
    # seeds of different lengths and gaps: the number of runs per step varies, and says so
    (chart,) = report.scalar_charts
    assert chart.n_varies


def _ema(values: list[float], w: float) -> list[float]:
    """TensorBoard's debiased EMA, written out: non-finite values pass and do not count."""
    last, k, out = 0.0, 0, []
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        k += 1
        last = last * w + (1 - w) * v
        out.append(last / (1 - w**k))
    return out


def test_smoothing_applies_per_run_before_the_mean(tmp_path, torch_writer):
    logged = _write_seeds(torch_writer)
    report = _report(tmp_path, group=r"_seed\d+", smoothing=0.8, max_points=5000)
    line = _group_lines(report)["lr0.03"]
    members = [n for n in logged if n.startswith("lr0.03_")]
    smoothed = {
        n: dict(zip(logged[n], _ema(list(logged[n].values()), 0.8), strict=True)) for n in members
    }
    want = [np.mean([smoothed[n][s] for n in members if s in smoothed[n]]) for s in line.steps]
    np.testing.assert_allclose(line.y, want, rtol=1e-12)


def test_runs_logging_at_different_steps_share_a_grid_of_buckets(tmp_path, torch_writer):
    a, b = torch_writer("even_seed1"), torch_writer("even_seed2")
    for i in range(10):
        a.add_scalar("loss", float(i), 2 * i)
        b.add_scalar("loss", float(10 * i), 2 * i + 1)
    a.close()
    b.close()
    report = _report(tmp_path, group=r"_seed\d", smoothing=0.0)
    (chart,) = report.scalar_charts
    (line,) = chart.lines
    assert chart.bucketed and not chart.n_varies
    # each bucket holds one point of each run: their mean, at their mean step
    np.testing.assert_allclose(line.y, [(i + 10 * i) / 2 for i in range(10)])
    assert line.steps.tolist() == [round(2 * i + 0.5) for i in range(10)]
    assert line.n.tolist() == [2] * 10


def test_group_keys_from_a_named_group_or_the_rest_of_the_name():
    import re

    assert group_key("lr0.1_seed2", re.compile(r"_seed\d+")) == "lr0.1"
    named = re.compile(r"^(?P<key>[a-z]+)-\d+$")
    assert group_key("adam-3", named) == "adam"
    assert group_key("baseline", named) == "baseline"  # no match: its own group


def test_group_by_hparams_groups_trials_by_their_values(tmp_path, torch_writer):
    for name, lr, seed in (("a", 0.1, 1), ("b", 0.1, 2), ("c", 0.01, 1)):
        w = torch_writer(name)
        for step in range(5):
            w.add_scalar("loss", 1.0 / (step + 1) + seed, step)
        w.add_hparams({"lr": lr, "seed": seed}, {"hparam/final": 1.0})
        w.close()
    report = _report(tmp_path, group_by="lr")
    assert dict(report.groups) == {"lr=0.01": ("c",), "lr=0.1": ("a", "b")}
    lines = _group_lines(report)
    assert set(lines) >= {"lr=0.1", "lr=0.01"}
    assert lines["lr=0.1"].n.tolist() == [2] * 5


def test_seed_like_names_get_a_note_suggesting_group(tmp_path, torch_writer):
    _write_seeds(torch_writer)
    notes = [w for w in _report(tmp_path).warnings if w.kind == "ungrouped-seeds"]
    assert len(notes) == 1 and notes[0].severity == "note" and "--group" in notes[0].message
    grouped = _report(tmp_path, group=r"_seed\d+")
    assert not [w for w in grouped.warnings if w.kind == "ungrouped-seeds"]


def test_build_json_lists_groups_and_markdown_tables_show_mean_and_spread(tmp_path, torch_writer):
    logged = _write_seeds(torch_writer)
    out = tmp_path / "md"
    result = CliRunner().invoke(
        main,
        [
            "build", str(tmp_path / "logs"), "--out", str(out), "--format", "markdown",
            "--group", r"_seed\d+", "--smoothing", "0", "--date", DATE, "--json", "-q",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    groups = json.loads(result.output)["groups"]
    assert groups == [
        {"key": "lr0.03", "runs": ["lr0.03_seed1", "lr0.03_seed2", "lr0.03_seed3"]},
        {"key": "lr0.1", "runs": ["lr0.1_seed1", "lr0.1_seed2", "lr0.1_seed3"]},
    ]
    from tbreport.formatting import format_number

    md = (out / "report.md").read_text()
    lasts = np.array([list(logged[f"lr0.03_seed{s}"].values())[-1] for s in SEEDS])
    mean, sd = lasts.mean(), lasts.std(ddof=1)
    # the table's spread is the band's: the sample standard deviation of the last values
    assert f"| lr0.03 | 3 | {format_number(mean)} ± {format_number(sd)} |" in md
    assert "mean of each group's runs at each step" in md
    assert "varies, 1 to 3" in md


def test_show_runs_draws_members_faint_without_legend_entries(tmp_path, torch_writer):
    from tbreport.charts.figure import legend_lines
    from tbreport.kinds.scalars import KIND

    _write_seeds(torch_writer)
    report = _report(tmp_path, group=r"_seed\d+", show_runs=True)
    (chart,) = report.scalar_charts
    faint = [line for line in chart.lines if line.faint]
    assert len(faint) == 6
    assert [line.run for line in legend_lines(chart.lines)] == ["lr0.03", "lr0.1"]
    # member runs have their group's colour; the table has one row per group
    colors = {line.run: line.color for line in chart.lines if not line.faint}
    assert all(line.color == colors[line.trial] for line in faint)
    assert len(KIND.figure(chart)["rows"]) == 2
    rows = list(csv.DictReader(io.StringIO(KIND.export(chart).decode())))
    assert {r["run"] for r in rows if r["n"]} == {"lr0.03", "lr0.1"}


def test_the_chart_draws_the_band(tmp_path, torch_writer):
    from dataclasses import replace

    from tbreport.kinds.scalars.chart import draw_chart

    _write_seeds(torch_writer)
    (chart,) = _report(tmp_path, group=r"_seed\d+").scalar_charts
    no_band = replace(
        chart, lines=tuple(replace(line, lower=None, upper=None) for line in chart.lines)
    )
    assert isinstance(chart, Chart)
    assert draw_chart(chart, "svg").count(b"<path") > draw_chart(no_band, "svg").count(b"<path")


def test_group_options_come_from_the_config_file_too(tmp_path):
    options = make_options(
        {"runs_dir": str(tmp_path), "out": str(tmp_path / "o")},
        {"group": r"_seed\d+", "group-by": ["lr", "batch"], "band": "iqr"},
        None,
    )
    assert options.group == r"_seed\d+" and options.group_by == ("lr", "batch")
    assert options.band == "iqr"


@pytest.mark.real_tools
def test_browser_draws_group_lines_bands_and_n_on_hover(tmp_path, torch_writer):
    import sitecheck
    from PIL import Image
    from playwright.sync_api import sync_playwright

    if not sitecheck.have_chromium():
        pytest.skip("no chromium")
    _write_seeds(torch_writer)
    out = tmp_path / "html"
    result = CliRunner().invoke(
        main,
        [
            "build", str(tmp_path / "logs"), "--out", str(out), "--group", r"_seed\d+",
            "--show-runs", "--smoothing", "0", "--date", DATE, "-q", "--jobs", "1",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = _report(tmp_path, group=r"_seed\d+", show_runs=True, smoothing=0.0)
    (chart,) = report.scalar_charts
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=sitecheck.chromium_path(), args=sitecheck.CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto((out / "index.html").resolve().as_uri())
        page.wait_for_selector(".tbr-chart[data-tbreport-state=drawn]")
        box = page.locator(".tbr-chart").first
        # one legend entry per group; the member runs are drawn, faint, under them
        assert box.locator(".tbr-run").all_inner_texts() == ["lr0.03", "lr0.1"]
        plotted = page.evaluate("(t) => tbreport.plotted(t)", "loss")
        assert [r["run"] for r in plotted["runs"]] == [line.run for line in chart.lines]
        for line, got in zip(chart.lines, plotted["runs"], strict=True):
            at = {x: v for x, v in zip(plotted["x"], got["raw"], strict=True)}
            want = [None if not math.isfinite(v) else v for v in line.y.tolist()]
            assert [at[float(s)] for s in line.steps] == want
        # the hover readout gives the runs behind the group's point
        over = box.locator(".u-over").bounding_box()
        page.mouse.move(over["x"] + over["width"] * 0.3, over["y"] + over["height"] / 2)
        row = box.locator('.tbr-readout tr[data-run="lr0.1"]')
        step = int(row.get_attribute("data-step"))
        line = next(ln for ln in chart.lines if ln.run == "lr0.1")
        (i,) = np.flatnonzero(line.steps == step)
        assert int(float(row.get_attribute("data-n"))) == line.n[i]
        page.mouse.move(0, 0)

        def tinted() -> int:
            # pixels of the band's colour at its alpha over white
            shot = Image.open(io.BytesIO(box.locator("canvas").screenshot())).convert("RGB")
            rgb = np.asarray(shot, dtype=np.int16).reshape(-1, 3)
            c = np.array([int(line.color[k : k + 2], 16) for k in (1, 3, 5)])
            want = np.round(c * 0.22 + 255 * 0.78)
            return int(np.count_nonzero(np.abs(rgb - want).max(axis=1) <= 3))

        with_band = tinted()
        page.evaluate("tbreport.setHidden('lr0.1', true)")
        assert with_band > 500 and tinted() < with_band / 10
        browser.close()
    assert not problems, problems


def _luminance(hex_color: str) -> float:
    r, g, b = (int(hex_color[k : k + 2], 16) / 255 for k in (1, 3, 5))
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def test_past_the_palette_colour_encodes_rank_and_never_repeats(tmp_path, torch_writer):
    from tbreport.charts.figure import legend_lines

    rng = np.random.default_rng(3)
    finals = rng.permutation(40).astype(float) / 10
    for i, final in enumerate(finals):
        w = torch_writer(f"trial{i:02d}")
        for step in range(3):
            w.add_scalar("val/loss", final + 1.0 / (step + 1), step)
        w.close()
    report = _report(tmp_path)
    (chart,) = report.scalar_charts
    entries = legend_lines(chart.lines)
    assert len(entries) == 40
    assert len({(line.color, line.style) for line in entries}) == 40
    assert len({line.color for line in entries}) == 40  # 40 fit the ramp without repeats
    # lower loss is better: the best run is darkest, and lightness rises with the rank
    by_rank = sorted(chart.lines, key=lambda line: float(line.y[-1]))
    lum = [_luminance(line.color) for line in by_rank]
    assert all(a < b for a, b in zip(lum, lum[1:], strict=False))
    # the runs table shows the same colours
    assert {r.name: r.color for r in report.runs} == {ln.run: ln.color for ln in chart.lines}


def test_embedded_group_lines_carry_their_band_and_n(tmp_path, torch_writer):
    from tbreport.kinds.scalars.embed import chart_payload, decode_payload

    _write_seeds(torch_writer)
    (chart,) = _report(tmp_path, group=r"_seed\d+", show_runs=True).scalar_charts
    payload = chart_payload(chart)
    decoded = decode_payload(payload)
    for meta, line, got in zip(payload["lines"], chart.lines, decoded, strict=True):
        assert meta["group"] == (not line.faint) and meta["faint"] == line.faint
        if line.faint:
            assert meta["in_group"] == line.trial and "lower" not in got
            continue
        np.testing.assert_array_equal(got["lower"], line.lower)
        np.testing.assert_array_equal(got["upper"], line.upper)
        assert got["n"].tolist() == line.n.tolist()


def test_group_by_a_hyperparameter_no_run_has_is_an_error_naming_the_known_ones(
    tmp_path, torch_writer
):
    for name, lr in (("a", 0.1), ("b", 0.01)):
        w = torch_writer(name)
        for step in range(5):
            w.add_scalar("loss", lr * step, step)
        w.add_hparams({"lr": lr, "seed": 1}, {"hparam/final": 1.0})
        w.close()
    result = CliRunner().invoke(
        main,
        ["build", str(tmp_path / "logs"), "--out", str(tmp_path / "o"), "--group-by", "lr,sed"],
    )
    assert result.exit_code == 2, result.output
    assert "--group-by 'sed': no run has that hyperparameter" in result.output
    assert "lr, seed" in result.output and not (tmp_path / "o").exists()
