"""The PR curves kind: decoding compared with TensorBoard's EventAccumulator, the last step
per run, the report's chart, tables and CSV, and a tensor of the wrong shape."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import fixture_logdir

from tbreport.cli import main
from tbreport.options import make_options
from tbreport.pipeline import build

DATE = "2024-05-01 12:00:00 +0000"


def _options(runs: Path, out: Path, **kw):
    cli = {"runs_dir": str(runs), "out": str(out), "date": DATE, "quiet": True, **kw}
    return make_options(cli, {}, None)


def _charts(result):
    return [e for e in result.report.charts if e.kind == "pr_curves"]


@pytest.mark.parametrize("fixture", ["torch_kinds", "tf2_text"])
def test_curves_are_tensorboards_last_step(tmp_path, fixture):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    result = build(_options(fixture_logdir(fixture), tmp_path / "out", format="markdown"))
    charts = _charts(result)
    assert charts
    for chart in charts:
        for curve in chart.curves:
            acc = EventAccumulator(
                str(fixture_logdir(fixture) / curve.run), size_guidance={"tensors": 0}
            )
            acc.Reload()
            events = acc.Tensors(chart.tag)
            last = max(events, key=lambda e: e.step)
            theirs = tensor_util.make_ndarray(last.tensor_proto)
            assert curve.step == last.step
            assert curve.recorded == len(events)
            assert curve.values.shape == theirs.shape
            np.testing.assert_array_equal(curve.values, theirs.astype(np.float64))
            # TensorBoard's pr_curves plugin: thresholds i / (num_thresholds - 1)
            n = theirs.shape[1]
            assert curve.thresholds.tolist() == [i / (n - 1) for i in range(n)]


def test_report_shows_each_run_at_its_last_step(tmp_path, torch_writer):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 40)
    for name, last in (("a", 7), ("b", 3)):
        w = torch_writer(name)
        for step in range(last + 1):
            w.add_pr_curve("pr", labels, rng.random(40), step, num_thresholds=9)
        w.close()
    out = tmp_path / "md"
    result = build(_options(tmp_path / "logs", out, format="markdown"))
    (chart,) = _charts(result)
    assert [(c.run, c.step, c.values.shape) for c in chart.curves] == [
        ("a", 7, (6, 9)),
        ("b", 3, (6, 9)),
    ]
    md = (out / "report.md").read_text()
    assert "a: step 7, the last of 8" in md and "b: step 3, the last of 4" in md
    # the table: 5 thresholds per run, values as written
    rows = [line for line in md.splitlines() if line.startswith("| a | 7 |")]
    assert len(rows) == 5
    a = chart.curves[0]
    assert rows[0].split("|")[4].strip() == f"{a.values[4, 0]:.4g}"
    # CSV: every threshold of every curve, reading back as the tensor
    from tbreport.kinds.pr_curves import KIND

    table = list(csv.DictReader(io.StringIO(KIND.export(chart).decode())))
    assert len(table) == 18
    got = np.array([[float(r[k]) for k in ("tp", "fp", "tn", "fn", "precision", "recall")]
                    for r in table if r["run"] == "a"]).T  # fmt: skip
    np.testing.assert_array_equal(got, a.values)
    image = KIND.draw(chart, "png", __import__("tbreport.charts.figure").charts.figure.Painter())
    assert image.startswith(b"\x89PNG")


def test_build_json_lists_pr_curves_and_no_longer_says_not_shown(tmp_path):
    logs = fixture_logdir("torch_kinds")
    result = CliRunner().invoke(
        main, ["build", str(logs), "--out", str(tmp_path / "o"), "--date", DATE, "--json", "-q"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    tags = {(t["tag"], t["kind"]): t["elements"] for t in data["tags"]}
    assert tags[("pr/class0", "pr_curves")] == ["chart", "table"]
    notes = [w for w in data["warnings"] if w["kind"] == "not-shown"]
    assert not [w for w in notes if w["tag"] == "pr/class0"]
    html = (tmp_path / "o" / "index.html").read_text()
    assert 'id="chart-' in html and "Precision-recall curves of pr/class0" in html


def test_tensor_of_wrong_shape_is_a_warning(tmp_path, torch_writer):
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.util import tensor_util

    w = torch_writer("run")
    w.add_scalar("loss", 1.0, 0)
    w.add_pr_curve("pr", np.array([0, 1, 1]), np.array([0.2, 0.7, 0.9]), 0, num_thresholds=5)
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="pr_curves"))
    bad = tensor_util.make_tensor_proto(np.zeros((4, 3), dtype=np.float32))
    w._get_file_writer().add_summary(
        Summary(value=[Summary.Value(tag="pr", metadata=meta, tensor=bad)]), 1
    )
    w.close()
    result = build(_options(tmp_path / "logs", tmp_path / "o", format="markdown"))
    (warning,) = [x for x in result.warnings if x.kind == "pr-curve-not-shown"]
    assert warning.severity == "warning" and warning.run == "run" and warning.tag == "pr"
    assert warning.offset is not None and "byte offset" in warning.message
    assert warning.path and "tfevents" in warning.path
    assert not _charts(result)  # the last step's record is the broken one: no curve


def test_a_shape_far_past_its_values_is_a_warning_not_a_memory_bomb(tmp_path, torch_writer):
    # make_ndarray repeats a lone float_val to fill the shape: [6, 1e9] in 30 bytes would be
    # 24 GB (a smaller one here, so that the test without the check stays harmless)
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto

    w = torch_writer("run")
    w.add_scalar("loss", 1.0, 0)
    w.add_pr_curve("pr", np.array([0, 1, 1]), np.array([0.2, 0.7, 0.9]), 0, num_thresholds=5)
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="pr_curves"))
    dims = [TensorShapeProto.Dim(size=6), TensorShapeProto.Dim(size=50_000)]
    bomb = TensorProto(dtype=1, tensor_shape=TensorShapeProto(dim=dims), float_val=[0.5])
    w._get_file_writer().add_summary(
        Summary(value=[Summary.Value(tag="pr", metadata=meta, tensor=bomb)]), 1
    )
    w.close()
    result = build(_options(tmp_path / "logs", tmp_path / "o", format="markdown"))
    (warning,) = [x for x in result.warnings if x.kind == "pr-curve-not-shown"]
    assert warning.severity == "warning" and warning.run == "run" and warning.offset is not None
    assert "step 1" in warning.message and "declares 300,000 cells in" in warning.message
    assert not _charts(result)


def test_the_precision_label_stays_clear_of_the_tick_labels_on_a_reused_figure(tmp_path):
    """Scalar charts skip matplotlib's placing of a y label (they have none); a PR curve has
    one, placed beside its tick labels, also on a figure a scalar chart was drawn on before."""
    from tbreport.charts.figure import Painter
    from tbreport.kinds.pr_curves.chart import draw as draw_pr
    from tbreport.kinds.scalars.chart import draw_chart

    result = build(_options(fixture_logdir("torch_kinds"), tmp_path / "out", format="markdown"))
    (chart, *_) = _charts(result)
    scalar = next(e for e in result.report.charts if e.kind == "scalars")
    painter = Painter()
    # the PR curve's size, so both draw on one figure, the scalar chart first
    draw_chart(scalar, "png", painter=painter, width=5.6, height=4.6, dpi=110.0)
    draw_pr(chart, "png", painter)
    (fig, ax), *_ = [c for s, c in painter._canvases.items() if s == (5.6, 4.6, 110.0)]
    renderer = fig.canvas.get_renderer()
    label = ax.yaxis.label.get_window_extent(renderer)
    lo, hi = ax.get_ylim()
    ticks = [
        t.label1.get_window_extent(renderer)
        for t in ax.yaxis.get_major_ticks()
        if lo <= t.get_loc() <= hi and t.label1.get_text()
    ]
    assert ax.yaxis.label.get_text() == "precision" and ticks
    # beside the widest tick label, one label pad (4 pt) away: not over them, not adrift
    gap = min(t.x0 for t in ticks) - label.x1
    assert gap == pytest.approx(4 / 72 * fig.dpi, abs=1.0)
