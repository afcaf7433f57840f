"""Baseline comparison: deltas, directions, verdicts and the regression gate."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from tbreport.cli import main
from tbreport.options import make_options
from tbreport.pipeline import build
from tbreport.report.compare import judge

DATE = "2021-05-24 20:41:00 -0400"


def _write(root, run, curves, steps=20):
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(log_dir=str(root / run))
    for s in range(steps):
        for tag, last in curves.items():
            # a straight line from 1.0 at step 0 to `last` at the final step
            w.add_scalar(tag, 1.0 + (last - 1.0) * s / (steps - 1), s)
    w.close()


@pytest.fixture(scope="module")
def logdirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmp")
    _write(root / "main", "exp", {"val/loss": 0.5, "val/acc": 0.8, "lr": 0.1, "train/loss": 0.3})
    _write(root / "pr", "exp", {"val/loss": 0.4, "val/acc": 0.7, "lr": 0.2, "train/loss": 0.301})
    return root


def _options(logdirs, tmp_path, **kw):
    cli = {
        "runs_dir": str(logdirs / "pr"),
        "out": str(tmp_path / "out"),
        "date": DATE,
        "quiet": True,
        "baseline": str(logdirs / "main"),
        "smoothing": 0,
    }
    cli.update(kw)
    return make_options(cli, {}, None)


def test_judge_directions_and_tolerance():
    assert judge(0.4, 0.5, "min", 0.01) == "better"
    assert judge(0.6, 0.5, "min", 0.01) == "worse"
    assert judge(0.9, 0.8, "max", 0.01) == "better"
    assert judge(0.504, 0.5, "min", 0.01) == "unchanged"
    assert judge(0.506, 0.5, "min", 0.01) == "worse"
    assert judge(math.nan, 0.5, "min", 0.01) == "worse"
    assert judge(0.1, 0.5, "none", 0.01) == "not judged"
    assert judge(math.inf, 0.5, "min", 0.01) == "worse"


@pytest.fixture(scope="module")
def compared(logdirs, tmp_path_factory):
    """The default build of pr against main (the tests below only read it)."""
    tmp_path = tmp_path_factory.mktemp("compared")
    return build(_options(logdirs, tmp_path)), tmp_path / "out"


def test_baseline_logdir_deltas(compared):
    result, _ = compared
    comparison = result.report.comparison
    verdicts = {v.tag: v for v in comparison.tags}
    assert {t: v.status for t, v in verdicts.items()} == {
        "lr": "not judged",
        "train/loss": "unchanged",
        "val/acc": "worse",
        "val/loss": "better",
    }
    (d,) = verdicts["val/loss"].deltas
    assert (d.run, d.reference) == ("exp", "baseline/exp")
    assert d.last == pytest.approx(0.4) and d.base_last == pytest.approx(0.5)
    assert d.abs_delta == pytest.approx(-0.1, abs=1e-6)
    assert d.rel_delta == pytest.approx(-0.2, abs=1e-6)
    assert d.best == pytest.approx(0.4) and d.base_best == pytest.approx(0.5)
    assert comparison.headline == "1 tag better, 1 worse, 1 unchanged, 1 not judged"
    assert comparison.regressions == ()  # no gates configured


def test_baseline_runs_are_dashed_in_every_chart(compared):
    result, _ = compared
    for chart in result.report.charts:
        dashed = {line.run: line.dashed for line in chart.lines}
        assert dashed == {"exp": False, "baseline/exp": True}
    colors = {r.name: r.color for r in result.report.runs}
    assert colors["exp"] == colors["baseline/exp"]  # paired runs share a colour


def test_baseline_by_regex(logdirs, tmp_path):
    import shutil

    both = tmp_path / "both"
    shutil.copytree(logdirs / "main" / "exp", both / "main-exp")
    shutil.copytree(logdirs / "pr" / "exp", both / "pr-exp")
    result = build(_options(logdirs, tmp_path, runs_dir=str(both), baseline="^main-"))
    verdicts = {v.tag: v.status for v in result.report.comparison.tags}
    assert verdicts["val/loss"] == "better" and verdicts["val/acc"] == "worse"
    with pytest.raises(Exception, match="matches no run"):
        build(_options(logdirs, tmp_path, runs_dir=str(both), baseline="^nothing"))
    with pytest.raises(Exception, match="matches every run"):
        build(_options(logdirs, tmp_path, runs_dir=str(both), baseline="exp"))


def test_tolerance_changes_the_verdict(logdirs, tmp_path):
    result = build(_options(logdirs, tmp_path, tolerance=0.3))
    verdicts = {v.tag: v.status for v in result.report.comparison.tags}
    assert verdicts["val/loss"] == "unchanged" and verdicts["val/acc"] == "unchanged"


def test_fail_on_regression_exit_code(logdirs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tbreport.toml").write_text('[gates]\n"^val/acc$" = 0.05\n"^train/loss$" = 0.0\n')
    args = [
        "build",
        str(logdirs / "pr"),
        "--baseline",
        str(logdirs / "main"),
        "--out",
        str(tmp_path / "o"),
        "-q",
        "--fail-on-regression",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "2 gate(s) got worse than the baseline" in result.output
    assert "val/acc: exp 0.7 vs baseline/exp 0.8, -12.5% (tolerance 5.0%)" in result.output
    assert (tmp_path / "o" / "index.html").is_file()  # the report is still written
    (tmp_path / "tbreport.toml").write_text('[gates]\n"^val/loss$" = 0.05\n')
    assert CliRunner().invoke(main, args).exit_code == 0
    (tmp_path / "tbreport.toml").write_text('[gates]\n"^val/acc$" = 0.2\n')
    assert CliRunner().invoke(main, args).exit_code == 0  # within its tolerance


def test_a_gate_that_diverged_to_nan_is_in_the_json(tmp_path, monkeypatch):
    from torch.utils.tensorboard import SummaryWriter

    for run, last in (("main", 0.5), ("pr", math.nan)):
        with SummaryWriter(log_dir=str(tmp_path / run / "exp")) as w:
            for step, value in enumerate([1.0, 0.8, last]):
                w.add_scalar("val/loss", value, step)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tbreport.toml").write_text('[gates]\n"^val/loss$" = 0.0\n')
    args = ["build", "pr", "--baseline", "main", "-q", "--json", "--fail-on-regression"]

    result = CliRunner().invoke(main, args)

    assert result.exit_code == 1, result.output
    (regression,) = json.loads(result.stdout)["comparison"]["regressions"]
    assert (regression["run"], regression["last"], regression["baseline_last"]) == (
        "exp",
        None,  # JSON has no NaN
        0.5,
    )
    assert regression["relative_change"] is None


def test_fail_on_regression_needs_a_baseline(logdirs, tmp_path):
    result = CliRunner().invoke(
        main,
        ["build", str(logdirs / "pr"), "--out", str(tmp_path / "o"), "-q", "--fail-on-regression"],
    )
    assert result.exit_code == 2 and "--fail-on-regression needs --baseline" in result.output


def test_comparison_in_html_and_post(logdirs, tmp_path, compared):
    html = (compared[1] / "index.html").read_text()
    assert "1 tag better, 1 worse, 1 unchanged, 1 not judged" in html
    assert "baseline runs dashed" in html
    build(_options(logdirs, tmp_path / "j", format="jekyll"))
    (post,) = (tmp_path / "j" / "out" / "_posts").iterdir()
    text = post.read_text()
    assert "| val/acc | worse | exp vs baseline/exp | 0.7 | 0.8 | -0.1 | -12.5% |" in text


def test_fail_on_regression_without_gates_is_an_error_not_a_pass(logdirs, tmp_path):
    args = ["build", str(logdirs / "pr"), "--baseline", str(logdirs / "main")]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "o"), "--fail-on-regression"])
    assert result.exit_code == 2, result.output
    assert "checks the tags of the config's [gates] table, and there is none" in result.output
    assert not (tmp_path / "o").exists()


def test_a_gate_that_matches_no_tag_is_a_warning_and_strict_makes_it_an_error(
    logdirs, tmp_path, monkeypatch
):
    """A typo in [gates] gated nothing without a word: the CI step looked guarded."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tbreport.toml").write_text('[gates]\n"^val/los$" = 0.05\n"^val/acc$" = 0.2\n')
    args = ["build", str(logdirs / "pr"), "--baseline", str(logdirs / "main"), "--json"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    warnings = [w for w in json.loads(result.stdout)["warnings"] if w["kind"] == "gate-no-match"]
    assert len(warnings) == 1
    assert "'^val/los$' matches no scalar tag" in warnings[0]["message"]
    assert "did you mean 'val/loss'?" in warnings[0]["message"]
    strict = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "s"), "--strict"])
    assert strict.exit_code != 0 and "^val/los$" in strict.output
