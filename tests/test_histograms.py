"""Histograms: decoded as TensorBoard's own loader and data_compat return them, compressed as
its distribution plugin's compressor does, and shown in every report format."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import fixture_logdir
from tensorboard.backend.event_processing import event_accumulator, plugin_event_accumulator
from tensorboard.plugins.distribution import compressor
from tensorboard.util import tensor_util

from tbreport.read import read_logdir

HISTOGRAM_FIXTURES = (
    "torch_histograms",
    "tensorboardx_histograms",
    "tf2_histograms",
    "keras_histograms",
)


def tensorboard_histograms(run_dir: Path) -> dict[str, list[tuple[int, float, np.ndarray]]]:
    """What TensorBoard's plugin EventAccumulator (which migrates every event with
    data_compat) holds for the histograms plugin, every sample kept."""
    acc = plugin_event_accumulator.EventAccumulator(
        str(run_dir), size_guidance={event_accumulator.TENSORS: 0}
    )
    acc.Reload()
    out = {}
    for tag in acc.Tags()["tensors"]:
        if acc.SummaryMetadata(tag).plugin_data.plugin_name != "histograms":
            continue
        out[tag] = [
            (e.step, e.wall_time, tensor_util.make_ndarray(e.tensor_proto))
            for e in acc.Tensors(tag)
        ]
    return out


@pytest.mark.parametrize("name", HISTOGRAM_FIXTURES)
@pytest.mark.parametrize("fast", [True, False])
def test_histograms_are_what_tensorboard_loads(name: str, fast: bool) -> None:
    logdir = read_logdir(fixture_logdir(name), fast=fast)
    checked = 0
    for run in logdir.runs:
        want = tensorboard_histograms(Path(run.path))
        assert sorted(run.histograms) == sorted(want), run.name
        for tag, samples in want.items():
            got = run.histograms[tag]
            assert got.steps.tolist() == [s for s, _, _ in samples], tag
            assert got.wall_times.tolist() == [w for _, w, _ in samples], tag
            for i, (_, _, buckets) in enumerate(samples):
                assert buckets.shape == got.at(i).shape, (tag, i)
                np.testing.assert_array_equal(got.at(i), buckets.astype(np.float64))
                checked += 1
    assert checked >= 20


def test_torch_bucket_counts_change_between_steps() -> None:
    # torch trims empty outer buckets: several layouts per tag, joined in step order
    (run,) = read_logdir(fixture_logdir("torch_histograms")).runs
    sizes = np.diff(run.histograms["layer/weights"].bounds)
    assert len(set(sizes.tolist())) > 1
    assert run.histograms["layer/weights"].steps.tolist() == list(range(15))


def test_histogram_tags_keep_their_record_offsets() -> None:
    from tbreport.read.events import load_values

    (run,) = read_logdir(fixture_logdir("tf2_histograms")).runs
    records = run.tensors["weights"]
    assert records.plugin == "histograms" and len(records) == 20
    values = load_values(run.files[0], records.offsets[:3], records.values[:3])
    assert [s for s, _, _ in values] == [0, 1, 2]
    assert all(v.tag == "weights" for _, _, v in values)


@pytest.mark.parametrize("name", HISTOGRAM_FIXTURES)
def test_compressed_distributions_are_tensorboards(name: str) -> None:
    from tbreport.kinds.histograms.transform import BASIS_POINTS, compress

    assert BASIS_POINTS == compressor.NORMAL_HISTOGRAM_BPS
    for run in read_logdir(fixture_logdir(name)).runs:
        for histograms in run.histograms.values():
            for i in range(len(histograms)):
                want = [v for _, v in compressor.compress_histogram(histograms.at(i))]
                assert compress(histograms.at(i)).tolist() == want


def test_compress_edge_cases_match_tensorboard() -> None:
    from tbreport.kinds.histograms.transform import compress

    cases = [
        np.zeros((0, 3)),
        np.array([[1.0, 1.0, 5.0]]),
        np.array([[0.0, 1.0, 0.0], [1.0, 2.0, 0.0]]),  # no weight at all
        np.array([[0.0, 1.0, 0.0], [1.0, 2.0, 3.0], [2.0, 3.0, 0.0], [3.0, 4.0, 1.0]]),
        np.array([[-1.0, 0.0, 2.0], [0.0, 0.0, 0.0], [0.0, 5.0, 2.0]]),
    ]
    for buckets in cases:
        want = [v for _, v in compressor.compress_histogram(buckets)]
        assert compress(buckets).tolist() == want, buckets


@pytest.mark.parametrize("fmt", ["html", "jekyll", "markdown"])
def test_reports_show_both_views_per_run(tmp_path: Path, fmt: str) -> None:
    from tbreport.options import make_options
    from tbreport.pipeline import build

    out = tmp_path / "site"
    cli = {"runs_dir": str(fixture_logdir("torch_histograms")), "out": str(out), "format": fmt}
    build(make_options({**cli, "date": "2024-01-01 00:00:00 +0000", "quiet": True}, {}, None))
    main = {"html": "index.html", "markdown": "report.md"}.get(fmt)
    text = (out / main).read_text() if main else next(out.glob("_posts/*.md")).read_text()
    if fmt == "markdown":
        # no hosted images: the last step's distribution as a table, one per tag and run
        assert text.count("| median |") == 3
        assert "layer/weights, run hist: steps 0–14, 605–634 buckets" in text
        return
    assert text.count("Distributions (TensorBoard") == 3
    assert text.count("Histograms (12 of 15 steps stacked, newer in front)") == 3
    assert "steps 0–14, 20 buckets" in text
    if fmt == "jekyll":
        assets = next(out.glob("assets/images/*"))
        png = (assets / "layer-bias-dist-0.png").read_bytes()
        assert png.startswith(b"\x89PNG")
        rows = (assets / "layer-bias-hist-0.csv").read_text().splitlines()
        assert rows[0] == "run,step,wall_time,left,right,count"
        assert len(rows) == 1 + 12 * 20  # 12 steps shown, 20 buckets each


def test_tags_sharing_one_layout_are_told_apart(tmp_path: Path) -> None:
    # what tf.summary.histogram writes (TensorBoard's own histogram_pb), several tags of one
    # record length interleaved step by step: one bulk-decoded layout holds them all
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.plugins.histogram.summary_v2 import histogram_pb
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    run_dir = tmp_path / "logs" / "run"
    writer = EventFileWriter(str(run_dir))
    rng = np.random.RandomState(5)
    for step in range(30):
        for tag in ("w0", "w1", "w2", "w3"):
            summary = histogram_pb(tag, rng.randn(50) + int(tag[1]), buckets=7)
            if step:  # TF's writer sends the metadata with a tag's first value only
                summary.value[0].ClearField("metadata")
            writer.add_event(Event(wall_time=1e9 + step, step=step, summary=summary))
    writer.close()
    want = tensorboard_histograms(run_dir)
    for fast in (True, False):
        (run,) = read_logdir(tmp_path / "logs", fast=fast).runs
        assert sorted(run.histograms) == sorted(want) == ["w0", "w1", "w2", "w3"]
        for tag, samples in want.items():
            got = run.histograms[tag]
            assert got.steps.tolist() == list(range(30))
            for i, (_, _, buckets) in enumerate(samples):
                np.testing.assert_array_equal(got.at(i), buckets)


# --- what the views cannot show: NaN and infinities logged, records that are no histogram -----


def _build(logs: Path, out: Path, **cli):
    from tbreport.options import make_options
    from tbreport.pipeline import build

    base = {"runs_dir": str(logs), "out": str(out), "date": "2024-01-01 00:00:00 +0000"}
    return build(make_options({**base, "quiet": True, **cli}, {}, None))


def test_nonfinite_values_are_noted_and_left_out_of_the_views(tmp_path: Path, torch_writer):
    import warnings

    from tbreport.kinds.histograms.chart import compressed

    w = torch_writer("run")
    w.add_histogram("w/nan", np.array([1.0, np.nan, 2.0]), 0)  # NaN outer edges
    w.add_histogram("w/inf", np.array([1.0, 1.5, np.inf]), 0)  # an infinite right edge
    w.add_histogram("w/ok", np.array([1.0, 1.5, 2.0]), 0)
    w.flush()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # numpy warned on stderr mid-build
        result = _build(tmp_path / "logs", tmp_path / "md", format="markdown")
    notes = {x.tag: x for x in result.warnings if x.kind == "nonfinite"}
    assert sorted(notes) == ["w/inf", "w/nan"]
    assert all(x.severity == "note" and x.run == "run" for x in notes.values())
    assert "1 bucket(s) at 1 of 1 step(s), the first at step 0" in notes["w/inf"].message
    assert "2 bucket(s)" in notes["w/nan"].message and "CSV keeps them" in notes["w/nan"].message
    views = {(e.tag, e.view): e for e in result.report.charts if e.kind == "histograms"}
    # the finite buckets only: the infinite one's count is left out, so the top is finite
    inf = compressed(views["w/inf", "distributions"])[0]
    assert np.isfinite(inf).all() and inf[-1] < 2.0
    # nothing finite holds a count: nothing to place (not a point at an edge)
    assert np.isnan(compressed(views["w/nan", "distributions"])).all()
    text = (tmp_path / "md" / "report.md").read_text()
    assert text.count(" NaN |") == 9  # w/nan's nine basis points; w/inf's are numbers
    # the CSV keeps every bucket as written
    from tbreport.registry import get_kind

    rows = get_kind("histograms").export(views["w/nan", "histograms"]).decode().splitlines()
    assert rows[1].split(",")[3] == "nan" and rows[-1].split(",")[4] == "nan"


def test_records_that_are_no_histogram_are_a_warning(tmp_path: Path, torch_writer):
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.util import tensor_util

    w = torch_writer("run")
    w.add_scalar("loss", 1.0, 0)
    w.add_histogram("w", np.arange(10.0), 0)
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="histograms"))
    for step, array in ((1, np.zeros((4, 2))), (2, np.zeros(3))):  # [k, 2], [3]: no [k, 3]
        bad = tensor_util.make_tensor_proto(array.astype(np.float64))
        value = Summary.Value(tag="w", metadata=meta, tensor=bad)
        w._get_file_writer().add_summary(Summary(value=[value]), step)
    w.add_histogram("w", np.arange(5.0), 3)
    w.flush()
    result = _build(tmp_path / "logs", tmp_path / "site")
    (warning,) = [x for x in result.warnings if x.kind == "histogram-not-shown"]
    assert warning.severity == "warning" and warning.run == "run" and warning.tag == "w"
    assert "2 of 4 record(s) are not histograms" in warning.message
    assert "the first at step 1 (record at byte " in warning.message
    assert f"byte {warning.offset} of '{warning.path}'" in warning.message
    (run,) = read_logdir(tmp_path / "logs").runs
    records = run.tensors["w"]
    assert warning.offset == int(records.offsets[1]) and records.steps[1] == 1
    views = [e for e in result.report.charts if e.kind == "histograms"]
    assert {e.data.steps.tolist().__str__() for e in views} == {"[0, 3]"}


def test_markdown_heads_each_histogram_tag_once(tmp_path: Path, torch_writer):
    # without its heading a tag's table or images read as part of the tag before it
    import cmarkgfm

    for run in ("a", "b"):
        w = torch_writer(run)
        w.add_scalar("acc", 0.5, 0)
        for step in range(3):
            w.add_histogram("layer/w", np.arange(10.0) + step, step)
        w.add_histogram("layer/b", np.arange(4.0), 0)
        w.flush()
    for base in ("", "https://example.org/pr/1/"):
        out = tmp_path / f"md{len(base)}"
        _build(tmp_path / "logs", out, format="markdown", image_base_url=base or None)
        html = cmarkgfm.github_flavored_markdown_to_html((out / "report.md").read_text())
        headings = re.findall(r"<h3>(.*?)</h3>", html)
        assert headings.count("layer/b") == headings.count("layer/w") == 1, headings
        # every histogram table or image comes after its tag's heading, before the next one
        for tag in ("layer/b", "layer/w"):
            section = html.split(f"<h3>{tag}</h3>", 1)[1].split("<h3>", 1)[0]
            shown = section.count("<table>") if not base else section.count("<img ")
            assert shown == (2 if not base else 4), (tag, section)


def test_a_view_with_nothing_to_place_draws_the_same_on_a_reused_figure(tmp_path, torch_writer):
    # chart workers reuse a figure per size: autoscaling an axes without finite data kept the
    # limits of the chart drawn before it, so two builds gave two different images
    from tbreport.charts.figure import Painter
    from tbreport.kinds.histograms.chart import draw

    w = torch_writer("run")
    nan = float("nan")  # torch's add_histogram refuses all-NaN values; its raw form writes them
    w.add_histogram_raw("all-nan", nan, nan, 2, nan, nan, [nan, nan], [1, 1], 0)
    w.add_histogram("wide", np.arange(1000.0), 0)
    w.add_histogram("wide", np.arange(1000.0) * 3, 50)
    w.flush()
    result = _build(tmp_path / "logs", tmp_path / "md", format="markdown")
    views = {(e.tag, e.view): e for e in result.report.charts if e.kind == "histograms"}
    empty = views["all-nan", "distributions"]
    alone = draw(empty, "png", Painter())
    reused = Painter()
    draw(views["wide", "distributions"], "png", reused)
    assert draw(empty, "png", reused) == alone
