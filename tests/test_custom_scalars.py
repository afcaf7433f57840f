"""The custom scalars kind: layouts decoded as TensorBoard's custom scalars plugin reads them,
categories as sections, multiline charts by regex over every run, margin charts with the band
between the lower and upper tags, and a layout that does not decode."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from conftest import fixture_logdir

from tbreport.cli import main
from tbreport.options import make_options
from tbreport.pipeline import build

DATE = "2024-05-01 12:00:00 +0000"
LAYOUT_TAG = "custom_scalars__config__"


def _options(runs: Path, out: Path, **kw):
    cli = {"runs_dir": str(runs), "out": str(out), "date": DATE, "quiet": True, **kw}
    return make_options(cli, {}, None)


def _charts(result):
    return [e for e in result.report.charts if e.kind == "custom_scalars"]


def _tensorboard_layout(run_dir: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.custom_scalar import layout_pb2
    from tensorboard.util import tensor_util

    acc = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    acc.Reload()
    (event,) = acc.Tensors(LAYOUT_TAG)
    return layout_pb2.Layout.FromString(tensor_util.make_ndarray(event.tensor_proto).item())


def test_fixture_layout_as_tensorboard_reads_it(tmp_path):
    logs = fixture_logdir("torch_kinds")
    result = build(_options(logs, tmp_path / "o", format="markdown", smoothing=0))
    layout = _tensorboard_layout(logs / "torch")
    charts = _charts(result)
    expected = [(c.title, ch.title) for c in layout.category for ch in c.chart]
    assert [(e.section, e.title) for e in charts] == expected
    sections = {s.name: [e.kind for e in s.charts] for s in result.report.sections}
    assert sections[layout.category[0].title] == ["custom_scalars", "custom_scalars"]
    multiline, margin = charts
    assert multiline.layout == "multiline" and margin.layout == "margin"
    assert multiline.sources == (("torch", "loss/train"), ("torch", "loss/val"))
    assert [line.run for line in multiline.chart.lines] == ["torch/loss/train", "torch/loss/val"]
    # the tags stay charted on their own too
    scalars = {e.tag for e in result.report.charts if e.kind == "scalars"}
    assert {"loss/train", "loss/val", "acc/mean", "acc/low", "acc/high"} <= scalars
    (line,) = margin.chart.lines
    from tbreport.read import read_logdir

    run = next(r for r in read_logdir(str(logs)).runs if r.name == "torch")
    np.testing.assert_array_equal(line.y, run.scalars["acc/mean"].values)
    np.testing.assert_array_equal(line.lower, run.scalars["acc/low"].values)
    np.testing.assert_array_equal(line.upper, run.scalars["acc/high"].values)
    from tbreport.kinds.custom_scalars import KIND

    rows = list(csv.DictReader(io.StringIO(KIND.export(margin).decode())))
    assert [float(r["upper"]) for r in rows] == run.scalars["acc/high"].values.tolist()
    assert KIND.draw(margin, "png", __import__("tbreport.charts.figure").charts.figure.Painter())


def test_multiline_regex_takes_every_matching_tag_of_every_run(tmp_path, torch_writer):
    for name in ("a", "b"):
        w = torch_writer(name)
        w.add_custom_scalars({"Mine": {"all losses": ["Multiline", [r"^loss/", r"nomatch["]]}})
        for step in range(3):
            for tag in ("loss/x", "loss/y", "acc"):
                w.add_scalar(tag, step + len(tag), step)
        w.close()
    result = build(_options(tmp_path / "logs", tmp_path / "o", format="markdown"))
    (chart,) = _charts(result)  # both runs logged the same layout: one chart
    assert chart.section == "Mine" and chart.title == "all losses"
    assert set(chart.sources) == {(r, t) for r in "ab" for t in ("loss/x", "loss/y")}
    styles = {(line.run, line.style) for line in chart.chart.lines}
    assert ("a/loss/x", "solid") in styles and ("a/loss/y", "dashed") in styles
    md = (tmp_path / "o" / "report.md").read_text()
    assert "### all losses" in md and "| b | loss/y |" in md


def test_layout_is_listed_by_build_json_not_as_not_shown(tmp_path):
    result = CliRunner().invoke(
        main,
        ["build", str(fixture_logdir("torch_kinds")), "--out", str(tmp_path / "o"), "--date",
         DATE, "--json", "-q"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    tags = {(t["tag"], t["kind"]): t["elements"] for t in data["tags"]}
    assert tags[(LAYOUT_TAG, "custom_scalars")] == ["chart"]
    assert not [w for w in data["warnings"] if w["tag"] == LAYOUT_TAG]
    html = (tmp_path / "o" / "index.html").read_text()
    assert "Custom scalars chart band" in html and 'id="section-training"' in html


def test_undecodable_layout_is_a_warning(tmp_path, torch_writer):
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.util import tensor_util

    w = torch_writer("run")
    w.add_scalar("loss", 1.0, 0)
    w.add_scalar("loss", 0.5, 1)
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="custom_scalars"))
    bad = tensor_util.make_tensor_proto(np.array(b"\x0a\xff\xff", dtype=object))
    w._get_file_writer().add_summary(
        Summary(value=[Summary.Value(tag=LAYOUT_TAG, metadata=meta, tensor=bad)]), 0
    )
    w.close()
    result = build(_options(tmp_path / "logs", tmp_path / "o", format="markdown"))
    (warning,) = [x for x in result.warnings if x.kind == "custom-scalars-undecodable"]
    assert warning.severity == "warning" and warning.tag == LAYOUT_TAG and warning.run == "run"
    assert warning.offset is not None and "byte offset" in warning.message
    assert not _charts(result)


def test_a_regex_that_does_not_compile_is_a_note(tmp_path, torch_writer):
    # it matched nothing, as in TensorBoard, and the chart was empty without a word
    w = torch_writer("run")
    for step in range(3):
        w.add_scalar("loss/train", 1.0 / (step + 1), step)
    layout = {"Training": {"curves": ["Multiline", ["loss/.*", "(unclosed", "[a-"]]}}
    w.add_custom_scalars(layout)
    w.close()
    result = build(_options(tmp_path / "logs", tmp_path / "o", format="markdown"))
    (note,) = [x for x in result.warnings if x.kind == "custom-scalars-bad-regex"]
    assert note.severity == "note" and note.tag == LAYOUT_TAG
    assert "'curves' (category 'Training')" in note.message
    assert "'(unclosed', '[a-'" in note.message and "'loss/.*'" not in note.message
    (chart,) = _charts(result)
    assert [line.run for line in chart.chart.lines] == ["run/loss/train"]
