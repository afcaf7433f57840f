"""Report stage: runs selected and coloured, every kind's elements grouped into sections in
TensorBoard's tag order, the kinds handed what they need."""

from __future__ import annotations

import numpy as np

from tbreport.kinds import KindContext
from tbreport.kinds.scalars import KIND as SCALARS
from tbreport.model import Chart
from tbreport.options import Options
from tbreport.read import read_logdir
from tbreport.report import build_report


def _logdir(torch_writer, tmp_path):
    for run, offset in (("b_run", 1.0), ("a_run", 0.0)):
        w = torch_writer(run)
        for step in range(5):
            for tag in ("train/loss10", "train/loss2", "eval/acc", "lr"):
                w.add_scalar(tag, offset + step, step)
            w.add_histogram("weights/w", np.arange(10.0) + step, step)
        w.close()
    return read_logdir(tmp_path / "logs")


def test_sections_and_elements_follow_tensorboards_order(torch_writer, tmp_path):
    report = build_report(_logdir(torch_writer, tmp_path), Options())
    assert [s.name for s in report.sections] == ["eval", "lr", "train", "weights"]
    scalar = [[e.tag for e in s.charts if isinstance(e, Chart)] for s in report.sections]
    assert scalar == [["eval/acc"], ["lr"], ["train/loss2", "train/loss10"], []]
    # the histogram tag's section holds the histograms kind's elements, per run
    assert {e.kind for e in report.sections[3].charts} == {"histograms"}
    assert len({s.slug for s in report.sections}) == 4
    assert len({e.slug for e in report.charts}) == len(report.charts)
    # runs in name order, each with its own colour, the same in every chart
    assert [r.name for r in report.runs] == ["a_run", "b_run"]
    colours = {r.name: r.color for r in report.runs}
    assert len(set(colours.values())) == 2
    for chart in report.scalar_charts:
        assert {line.run: line.color for line in chart.lines} == colours


def test_kinds_get_every_selected_tag_and_their_own(torch_writer, tmp_path):
    logdir = _logdir(torch_writer, tmp_path)
    runs = logdir.runs
    ctx = KindContext(
        runs=runs,
        tags=("eval/acc", "weights/w"),
        slugs={"eval/acc": "eval-acc", "weights/w": "weights-w"},
        colors={r.name: "#000000" for r in runs},
        baseline=frozenset(),
        options=Options(),
    )
    # the scalars kind makes charts of the scalar tags it is given, not of the histogram's
    assert [c.tag for c in SCALARS.elements(ctx)] == ["eval/acc"]
    # the read stage kept where the histogram's records are, for its kind
    records = runs[0].tensors["weights/w"]
    assert records.plugin == "histograms" and records.steps.tolist() == [0, 1, 2, 3, 4]


def test_tag_filters_apply_to_every_kind(torch_writer, tmp_path):
    report = build_report(_logdir(torch_writer, tmp_path), Options(tags="^train/"))
    assert [e.tag for e in report.charts] == ["train/loss2", "train/loss10"]
    report = build_report(_logdir(torch_writer, tmp_path), Options(exclude_tags="^train/|^lr"))
    assert {e.tag for e in report.charts} == {"eval/acc", "weights/w"}
    report = build_report(_logdir(torch_writer, tmp_path), Options(exclude_runs="^b_"))
    assert [r.name for r in report.runs] == ["a_run"]
