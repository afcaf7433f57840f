"""Many small runs: their files decode together in one pass, exactly as each would alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import event_files, fixture_logdir

from tbreport.read import read_logdir, read_run, records
from tbreport.read.discover import RunDir, discover_runs
from tbreport.read.events import FileData, read_file, read_segments


def _sweep(torch_writer, runs: int = 6) -> Path:
    """A small sweep from torch's SummaryWriter: scalars of two lengths of tag, text, hparams."""
    for r in range(runs):
        w = torch_writer(f"lr{r % 3}_seed{r}")
        for step in range(0, 40 + 7 * r, 3):
            w.add_scalar("loss", 1.0 / (step + 1 + r), step)
            w.add_scalar("metrics/accuracy_top1", step / 100.0 + r, step)
        w.add_text("notes", f"run {r}", 0)
        w.add_hparams({"lr": 0.1 * (r % 3), "seed": r}, {"hp/final": float(r)}, run_name="hp")
        w.close()
    return Path(torch_writer().log_dir).parent


def _same(a: FileData, b: FileData) -> None:
    assert a.path == b.path and a.records == b.records and a.size == b.size
    assert a.file_version == b.file_version and a.hparams == b.hparams
    assert dict(a.others) == dict(b.others) and a.blobs == b.blobs
    assert a.metadata == b.metadata and a.skipped == b.skipped
    assert a.undecodable == b.undecodable
    assert a.framing is not None and b.framing is not None
    assert a.framing.status == b.framing.status
    # tag ids are per file: compare the tag names of each point
    for name in ("record", "step", "wall", "value", "encoding"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert [a.tags[t] for t in a.tag] == [b.tags[t] for t in b.tag]


def test_files_laid_end_to_end_decode_as_each_file_alone(torch_writer):
    logdir = _sweep(torch_writer)
    paths = [str(p) for d in sorted(logdir.rglob("*")) if d.is_dir() for p in event_files(d)]
    assert len(paths) >= 12  # the runs and their add_hparams sub-runs
    blobs = [Path(p).read_bytes() for p in paths]
    buf = np.frombuffer(b"".join(blobs), np.uint8)
    bounds = np.cumsum([0] + [len(b) for b in blobs[:-1]]).tolist()
    together = read_segments(buf, paths, bounds)
    assert together is not None
    for got, path in zip(together, paths, strict=True):
        _same(got, read_file(path))


@pytest.mark.parametrize(
    "name", ["tf2", "keras", "tensorboardx", "torch_text", "tf2_histograms", "keras_histograms"]
)
def test_files_of_every_writer_decode_together_as_alone(name):
    # TF2 keeps the plugin in the first record of a tag in each file: every file needs its own
    paths = [str(p) for p in sorted(fixture_logdir(name).rglob("*tfevents*"))]
    blobs = [Path(p).read_bytes() for p in paths]
    buf = np.frombuffer(b"".join(blobs + blobs), np.uint8)
    bounds = np.cumsum([0] + [len(b) for b in (blobs + blobs)[:-1]]).tolist()
    together = read_segments(buf, paths + paths, bounds)
    assert together is not None
    for got, path in zip(together, paths + paths, strict=True):
        _same(got, read_file(path))


def test_a_file_cut_short_among_small_runs_is_named_and_the_others_are_read(torch_writer):
    logdir = _sweep(torch_writer, runs=4)
    (victim,) = event_files(logdir / "lr1_seed1")
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) - 5])  # a copy made mid-write
    paths = [str(p) for d in sorted(logdir.iterdir()) for p in event_files(d)]
    blobs = [Path(p).read_bytes() for p in paths]
    buf = np.frombuffer(b"".join(blobs), np.uint8)
    bounds = np.cumsum([0] + [len(b) for b in blobs[:-1]]).tolist()
    # the chain of records runs across the cut: the batch must be read file by file
    assert read_segments(buf, paths, bounds) is None

    got = read_logdir(logdir)
    (note,) = [w for w in got.warnings if w.kind == "truncated"]
    assert note.path == str(victim) and note.run == "lr1_seed1"
    assert note.offset == records.walk(records.load(str(victim))).stop_offset
    for run in got.runs:
        alone, _ = read_run(RunDir(run.name, run.path, run.files))
        assert set(run.scalars) == set(alone.scalars)
        for tag, series in run.scalars.items():
            np.testing.assert_array_equal(series.values, alone.scalars[tag].values)
            np.testing.assert_array_equal(series.steps, alone.scalars[tag].steps)


def test_a_read_of_many_runs_equals_reading_each_run_alone(torch_writer):
    logdir = _sweep(torch_writer)
    got = read_logdir(logdir)
    run_dirs, _ = discover_runs(logdir)
    assert all(r.sizes == tuple(Path(f).stat().st_size for f in r.files) for r in run_dirs)
    by_name = {run.name: run for run in got.runs}
    for run_dir in run_dirs:
        alone, warnings = read_run(RunDir(run_dir.name, run_dir.path, run_dir.files))
        run = by_name[run_dir.name]
        assert run.records == alone.records and run.hparams == alone.hparams
        assert run.others == alone.others
        assert set(run.tensors) == set(alone.tensors)
        for tag, rec in run.tensors.items():
            np.testing.assert_array_equal(rec.offsets, alone.tensors[tag].offsets)
            np.testing.assert_array_equal(rec.steps, alone.tensors[tag].steps)
        for tag, series in alone.scalars.items():
            np.testing.assert_array_equal(run.scalars[tag].values, series.values)
            np.testing.assert_array_equal(run.scalars[tag].wall_times, series.wall_times)
        mine = [w for w in got.warnings if w.run == run_dir.name and w.kind != "sub-run"]
        assert mine == warnings


@pytest.mark.parametrize("empty_first", [True, False])
def test_an_empty_file_in_a_sweep_gets_its_note(torch_writer, empty_first):
    logdir = _sweep(torch_writer, runs=3)
    empty = logdir / ("a_empty" if empty_first else "z_empty") / "events.out.tfevents.1.h.1.0"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    got = read_logdir(logdir)
    assert [w.path for w in got.warnings if w.kind == "empty-file"] == [str(empty)]
    assert sum(run.points for run in got.runs) == sum(
        read_run(RunDir(r.name, r.path, r.files))[0].points for r in got.runs
    )


def test_a_chart_of_hundreds_of_runs_draws_every_line_in_a_few_artists():
    from test_charts import decode, make_chart, make_line

    from tbreport.charts.figure import Painter, Size
    from tbreport.kinds.scalars.chart import MANY_LINES, _build_figure, draw_chart
    from tbreport.report.colours import PALETTE

    n = MANY_LINES + 50
    lines = [
        make_line(f"run{i}", PALETTE[i % len(PALETTE)], y=(i, i + 1, i, i + 1), weight=0.6)
        for i in range(n)
    ]
    lines.append(make_line("lonely", "#ff0000", x=(3,), y=(n / 2,)))
    chart = make_chart(lines)
    fig = _build_figure(Painter(), chart, Size(7.2, 4.0, 110.0))
    (ax,) = [a for a in fig.axes if a.collections]
    # one artist per line took a minute for 20,000 runs: raw, smoothed, lonely points
    assert not ax.lines and len(ax.collections) == 3
    raw, smoothed, dots = ax.collections
    # the lonely run has no smoothing: drawn as its raw values at full strength
    assert (len(raw.get_segments()), len(smoothed.get_segments())) == (n, n + 1)
    np.testing.assert_allclose(dots.get_offsets(), [[3, n / 2]])
    pixels = decode(draw_chart(chart))[..., :3]
    red = (pixels[..., 0] > 0.9) & (pixels[..., 1] < 0.2) & (pixels[..., 2] < 0.2)
    assert red.any()  # the lonely point is drawn, in its run's colour


def _mixed_sweep(torch_writer) -> Path:
    """Runs in one batch: plain ones, and one each that a run-level rule has work in."""
    for r in range(3):
        w = torch_writer(f"plain{r}")
        for step in range(0, 30, 2):
            w.add_scalar("loss", 1.0 / (step + 1 + r), step)
            w.add_scalar("acc", step / 30.0, step)
        w.close()
    w = torch_writer("restart")  # resumed from step 10: the rule drops the earlier 10..19
    for step in [*range(20), *range(10, 25)]:
        w.add_scalar("loss", float(step) + (step >= 10) * 0.5, step)
    w.close()
    w = torch_writer("repeat")  # Lightning logs epoch twice per step
    for step in range(10):
        w.add_scalar("epoch", float(step), step)
        w.add_scalar("epoch", float(step), step)
    w.close()
    w = torch_writer("nan")
    for step in range(10):
        w.add_scalar("loss", float("nan") if step == 4 else float(step), step)
    w.close()
    w = torch_writer("clock")  # a wall time that is not a date
    for step in range(5):
        w.add_scalar("loss", float(step), step, walltime=1e20 if step == 2 else None)
    w.close()
    w = torch_writer("mixed")  # one tag as simple_value, one as a tensor
    for step in range(5):
        w.add_scalar("a", float(step), step)
        w.add_scalar("b", float(step), step, new_style=True)
    w.close()
    return Path(torch_writer().log_dir).parent


def test_only_files_that_need_no_run_level_rule_are_taken_as_plain(torch_writer):
    logdir = _mixed_sweep(torch_writer)
    run_dirs, _ = discover_runs(logdir)
    paths = [f for r in run_dirs for f in r.files if Path(f).stat().st_size]
    blobs = [Path(p).read_bytes() for p in paths]
    buf = np.frombuffer(b"".join(blobs), np.uint8)
    bounds = np.cumsum([0] + [len(b) for b in blobs[:-1]]).tolist()
    together = read_segments(buf, paths, bounds)
    assert together is not None
    plain = {Path(d.path).parent.name for d in together if d.by_tag is not None}
    assert plain == {"plain0", "plain1", "plain2"}  # "run" is the empty writer of the fixture
    for data in together:
        if data.by_tag is None:
            continue
        alone = read_file(data.path)
        for local, tag in enumerate(data.tags):
            lo, hi = data.by_tag.bounds[local], data.by_tag.bounds[local + 1]
            mine = alone.tag == alone.tags.index(tag)
            np.testing.assert_array_equal(data.by_tag.steps[lo:hi], alone.step[mine])
            np.testing.assert_array_equal(data.by_tag.values[lo:hi], alone.value[mine])
            np.testing.assert_array_equal(data.by_tag.walls[lo:hi], alone.wall[mine])


def test_plain_and_ruled_runs_read_together_equal_each_run_read_alone(torch_writer):
    logdir = _mixed_sweep(torch_writer)
    got = read_logdir(logdir)
    kinds = {w.kind for w in got.warnings}
    assert {"restart", "duplicate", "nonfinite", "bad-wall-time"} <= kinds
    by_name = {run.name: run for run in got.runs}
    for run_dir in discover_runs(logdir)[0]:
        alone, warnings = read_run(RunDir(run_dir.name, run_dir.path, run_dir.files))
        run = by_name[run_dir.name]
        assert (run.records, run.others, run.hparams, run.events) == (
            alone.records, alone.others, alone.hparams, alone.events,
        )  # fmt: skip
        assert list(run.scalars) == list(alone.scalars)
        for tag, series in alone.scalars.items():
            mine = run.scalars[tag]
            assert (mine.records, mine.dropped, mine.encoding) == (
                series.records, series.dropped, series.encoding,
            )  # fmt: skip
            for name in ("steps", "values", "wall_times"):
                np.testing.assert_array_equal(getattr(mine, name), getattr(series, name))
        assert [w for w in got.warnings if w.run == run_dir.name] == warnings


@pytest.mark.parametrize("change", ["grew", "shrank"])
def test_a_file_that_changed_since_it_was_listed_is_read_as_it_is_now(torch_writer, change):
    logdir = _sweep(torch_writer, runs=3)
    run_dirs, _ = discover_runs(logdir)  # sizes as listed
    victim = next(r for r in run_dirs if r.name == "lr1_seed1")
    path = Path(victim.files[0])
    data = path.read_bytes()
    if change == "grew":  # a running writer appended a copy of its records
        path.write_bytes(data * 2)
    else:
        path.write_bytes(data[: len(data) // 2])
    from tbreport.read.runs import read_runs

    got = {run.name: (run, w) for run, w in read_runs(run_dirs)}
    alone, warnings = read_run(RunDir(victim.name, victim.path, victim.files))
    run, mine = got[victim.name]
    assert run.records == alone.records and mine == warnings
    for tag, series in alone.scalars.items():
        np.testing.assert_array_equal(run.scalars[tag].steps, series.steps)
        np.testing.assert_array_equal(run.scalars[tag].values, series.values)
    one_copy = read_segments(np.frombuffer(data, np.uint8), (str(path),), (0,))
    assert one_copy is not None
    # the bytes as they are now, not as listed: twice the records, or the half that is left
    assert (run.records > one_copy[0].records) == (change == "grew")
