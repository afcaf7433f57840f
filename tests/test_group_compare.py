"""Baseline comparison of groups: a candidate group against the baseline group of its key, with
the groups' spread counted in "unchanged", for every band kind, checked against numpy and scipy
on the values the test wrote; the gate, the tables of every format and ``build --json``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import DATE, build_options

from tbreport.cli import main
from tbreport.model import Delta
from tbreport.read import read_logdir
from tbreport.report import build_report, with_baseline

# per seed: steps logged and whether the last one is NaN (its last finite value counts)
SEEDS = {1: (12, False), 2: (9, False), 3: (11, True)}
# per setting: last values per seed in the baseline, and the candidate's shift of them
SETTINGS = {
    "lr0.1": ((0.50, 0.56, 0.44), 0.03),  # noisy seeds, a small shift: within the spread
    "lr0.03": ((0.30, 0.31, 0.29), 0.20),  # tight seeds, a large shift: beyond it
}


def _write(torch_writer, root: str, prefix: str = "") -> dict[str, list[float]]:
    """Every seed of every setting under ``logs/<root>``; the last finite values logged (as
    float32), by group key."""
    lasts: dict[str, list[float]] = {}
    for setting, (finals, shift) in SETTINGS.items():
        for (seed, (length, nan_last)), final in zip(SEEDS.items(), finals, strict=True):
            final = final + (shift if root == "pr" else 0.0)
            w = torch_writer(f"{root}/{prefix}{setting}_seed{seed}")
            rng = np.random.default_rng(seed)
            values = [final + 0.5 * (length - 1 - s) / length for s in range(length)]
            values = [
                v + float(rng.normal(0, 0.001)) * (s < length - 1) for s, v in enumerate(values)
            ]
            if nan_last:
                values.append(math.nan)
            for step, v in enumerate(values):
                w.add_scalar("val/loss", v, step)
            w.close()
            finite = [float(np.float32(v)) for v in values if math.isfinite(v)]
            lasts.setdefault(setting, []).append(finite[-1])
    return lasts


def _expected(values: list[float], band: str) -> tuple[float, float, float]:
    """Centre (mean), lower and upper of a group's last values, computed here with numpy/scipy."""
    from scipy import stats

    a = np.array(values)
    mid = float(a.mean())
    if band == "minmax":
        return mid, float(a.min()), float(a.max())
    if band == "iqr":
        return mid, float(np.quantile(a, 0.25)), float(np.quantile(a, 0.75))
    sd = float(a.std(ddof=1))
    half = {
        "std": sd,
        "sem": sd / math.sqrt(a.size),
        "ci95": float(stats.t.ppf(0.975, a.size - 1)) * sd / math.sqrt(a.size),
    }[band]
    return mid, mid - half, mid + half


def _report(tmp_path, **kw):
    kw = {"group": r"_seed\d+", "smoothing": 0.0, **kw}
    options = build_options(
        tmp_path / "site", tmp_path / "logs" / "pr", baseline=str(tmp_path / "logs" / "main"), **kw
    )
    logdir, baseline, pairs = with_baseline(read_logdir(options.runs_dir), options)
    return build_report(logdir, options, baseline=baseline, pairs=pairs)


def _deltas(report) -> dict[str, Delta]:
    (verdict,) = report.comparison.tags
    return {d.run: d for d in verdict.deltas}


@pytest.mark.parametrize("band", ["std", "sem", "ci95", "minmax", "iqr"])
def test_group_verdicts_count_the_spread_of_every_band_kind(tmp_path, torch_writer, band):
    pr = _write(torch_writer, "pr")
    main_ = _write(torch_writer, "main")
    report = _report(tmp_path, band=band)
    deltas = _deltas(report)
    assert sorted(deltas) == ["lr0.03", "lr0.1"]
    for key, d in deltas.items():
        assert d.reference == f"baseline/{key}"
        assert d.n == 3 and d.base_n == 3
        cand, base = _expected(pr[key], band), _expected(main_[key], band)
        np.testing.assert_allclose(d.spread, cand, rtol=1e-9)
        np.testing.assert_allclose(d.base_spread, base, rtol=1e-9)
        assert d.last == pytest.approx(cand[0]) and d.base_last == pytest.approx(base[0])
        if band in ("minmax", "iqr"):
            within = cand[1] <= base[2] and base[1] <= cand[2]
            assert d.margin is None
        else:
            margin = math.sqrt((cand[2] - cand[0]) ** 2 + (base[2] - base[0]) ** 2)
            within = abs(cand[0] - base[0]) <= margin
            assert d.margin == pytest.approx(margin)
        assert d.within_spread is within
        beyond_tolerance = abs(cand[0] - base[0]) > 0.01 * abs(base[0])
        want = "unchanged" if within or not beyond_tolerance else "worse"  # loss went up
        assert d.status == want, (key, band, cand, base)
    # the fixture is made so that std tells the two settings apart
    if band == "std":
        assert deltas["lr0.1"].within_spread and deltas["lr0.1"].status == "unchanged"
        assert not deltas["lr0.03"].within_spread and deltas["lr0.03"].status == "worse"


def test_group_verdict_tolerance_ignores_the_spread(tmp_path, torch_writer):
    _write(torch_writer, "pr")
    _write(torch_writer, "main")
    deltas = _deltas(_report(tmp_path, group_verdict="tolerance"))
    # the same shift that the spread explained is now beyond the 1% tolerance
    assert deltas["lr0.1"].within_spread and deltas["lr0.1"].status == "worse"


def test_regex_baseline_pairs_groups_by_key_without_the_match(tmp_path, torch_writer):
    _write(torch_writer, "one", prefix="main_")
    _write(torch_writer, "one")  # the candidates, beside them
    options = build_options(
        tmp_path / "site", tmp_path / "logs" / "one", baseline="^main_", group=r"_seed\d+"
    )
    logdir, baseline, pairs = with_baseline(read_logdir(options.runs_dir), options)
    report = build_report(logdir, options, baseline=baseline, pairs=pairs)
    assert set(report.groups) == {"lr0.03", "lr0.1", "main_lr0.03", "main_lr0.1"}
    deltas = _deltas(report)
    assert {k: d.reference for k, d in deltas.items()} == {
        "lr0.03": "main_lr0.03",
        "lr0.1": "main_lr0.1",
    }
    # a baseline group shares its partner's colour and is drawn dashed
    (chart,) = report.scalar_charts
    lines = {line.run: line for line in chart.lines}
    assert lines["main_lr0.1"].color == lines["lr0.1"].color
    assert lines["main_lr0.1"].dashed and not lines["lr0.1"].dashed


def test_named_key_regex_keeps_baseline_runs_out_of_candidate_groups(tmp_path, torch_writer):
    _write(torch_writer, "pr")
    _write(torch_writer, "main")
    report = _report(tmp_path, group=r"(?P<key>lr[\d.]+)_seed")
    assert set(report.groups) == {"lr0.03", "lr0.1", "baseline/lr0.03", "baseline/lr0.1"}
    assert all(
        all(run.startswith("baseline/") for run in members) == key.startswith("baseline/")
        for key, members in report.groups.items()
    )
    assert {k: d.reference for k, d in _deltas(report).items()} == {
        "lr0.03": "baseline/lr0.03",
        "lr0.1": "baseline/lr0.1",
    }


def test_the_gate_fails_on_the_group_beyond_its_spread_in_every_format(tmp_path, torch_writer):
    from tbreport.formatting import format_number

    pr = _write(torch_writer, "pr")
    main_ = _write(torch_writer, "main")
    (tmp_path / "tbreport.toml").write_text('[gates]\n"val/loss" = 0.0\n')
    outputs = {}
    for fmt in ("html", "jekyll", "markdown"):
        out = tmp_path / fmt
        result = CliRunner().invoke(
            main,
            [
                "build", str(tmp_path / "logs" / "pr"),
                "--baseline", str(tmp_path / "logs" / "main"),
                "--group", r"_seed\d+", "--smoothing", "0", "--format", fmt, "--out", str(out),
                "--date", DATE, "--config", str(tmp_path / "tbreport.toml"), "--json", "-q",
                "--fail-on-regression", "--jobs", "1",
            ],
        )  # fmt: skip
        assert result.exit_code == 1, result.output + result.stderr
        # only the group beyond its spread fails the gate, even with a tolerance of 0
        assert "1 gate(s) got worse" in result.stderr and "lr0.03" in result.stderr
        assert "lr0.1 " not in result.stderr and "(n=3)" in result.stderr
        data = json.loads(result.stdout)
        outputs[fmt] = data
    comparison = outputs["html"]["comparison"]
    assert [r["run"] for r in comparison["regressions"]] == ["lr0.03"]
    (tag,) = comparison["tags"]
    by_run = {d["run"]: d for d in tag["deltas"]}
    assert by_run["lr0.1"]["status"] == "unchanged" and by_run["lr0.1"]["within_spread"]
    cand = _expected(pr["lr0.03"], "std")
    got = by_run["lr0.03"]["spread"]
    assert got["n"] == 3 and got["center"] == pytest.approx(cand[0])
    assert got["upper"] == pytest.approx(cand[2])
    assert by_run["lr0.03"]["baseline_spread"]["center"] == pytest.approx(np.mean(main_["lr0.03"]))
    # every format shows the groups' spread and says which verdict the spread decided
    c = _expected(pr["lr0.1"], "std")
    cell = f"{format_number(c[0])} ± {format_number(c[2] - c[0])} (n=3)"
    texts = {
        "html": (tmp_path / "html" / "index.html").read_text(),
        "jekyll": next((tmp_path / "jekyll" / "_posts").glob("*.md")).read_text(),
        "markdown": (tmp_path / "markdown" / "report.md").read_text(),
    }
    for fmt, text in texts.items():
        assert cell in text, fmt
        assert "unchanged (within spread)" in text or "unchanged <span" in text, fmt
        assert "counting as unchanged" in text, fmt
