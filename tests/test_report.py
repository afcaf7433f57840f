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


def _dated_build(logs, out, fmt="jekyll", now=None):
    import datetime as dt

    from conftest import build_options

    from tbreport.pipeline import build

    options = build_options(out, logs, format=fmt, jobs=1, date=None, no_cache=True)
    return build(options, now=now or dt.datetime.now().astimezone())


def test_the_default_date_is_the_newest_records_time_so_rebuilds_match(torch_writer, tmp_path):
    """Without --date the post is dated by the newest record (not the build's clock): two
    builds of the same runs at different times write the same files."""
    import datetime as dt
    import time

    a, b = torch_writer("a"), torch_writer("b")
    for step in range(5):
        a.add_scalar("loss", 1.0 / (step + 1), step, walltime=1_600_000_000.0 + step)
        b.add_scalar("loss", 2.0 / (step + 1), step, walltime=1_600_000_100.5 + step)
    a.flush()
    b.flush()
    logs = tmp_path / "logs"
    first = _dated_build(logs, tmp_path / "one")
    later = dt.datetime.now().astimezone() + dt.timedelta(hours=3)
    second = _dated_build(logs, tmp_path / "two", now=later)
    newest = dt.datetime.fromtimestamp(1_600_000_104, dt.timezone.utc).astimezone()
    assert first.report.date == second.report.date == newest
    (post,) = (tmp_path / "one" / "_posts").iterdir()
    assert post.name.startswith(newest.strftime("%Y-%m-%d-"))
    assert f"date: {newest.strftime('%Y-%m-%d %H:%M:%S %z')}" in post.read_text("utf-8")
    assert post.read_bytes() == (tmp_path / "two" / "_posts" / post.name).read_bytes()
    # a writer whose clock is ahead: the post is dated now, never in the future
    c = torch_writer("c")
    c.add_scalar("loss", 1.0, 0, walltime=time.time() + 86400 * 30)
    c.flush()
    ahead = _dated_build(logs, tmp_path / "three")
    assert ahead.report.date <= dt.datetime.now().astimezone()


def test_runs_without_timed_records_are_dated_now(torch_writer, tmp_path):
    import datetime as dt

    w = torch_writer("notes_only")
    w.add_text("notes", "hello", 0)
    w.flush()
    moment = dt.datetime(2024, 2, 3, 4, 5, 6, tzinfo=dt.timezone.utc)
    result = _dated_build(tmp_path / "logs", tmp_path / "out", fmt="html", now=moment)
    assert result.report.date == moment
