"""Reading fixture logdirs written by real writers: values must equal what was written."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import as_floats, event_files, expected, fixture_logdir

import tbreport
from tbreport.model import NOTE, WARNING
from tbreport.read import read_logdir, records
from tbreport.read.records import masked_crc32c

FIXTURE_NAMES = ["quickstart", "torch", "tensorboardx", "tf2", "keras"]
#: real writers' long records of one length, 16+ of them (they once hit a RecursionError)
LONG_RECORD_FIXTURES = ["torch_text", "tf2_histograms", "keras_histograms"]
FIXTURE_NAMES += LONG_RECORD_FIXTURES


def _expected_view(series: dict) -> tuple[np.ndarray, np.ndarray]:
    return np.array(series["steps"], dtype=np.int64), as_floats(series["values"])


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_values_equal_what_the_writer_wrote(name):
    want = expected(name)
    logdir = read_logdir(fixture_logdir(name))
    got_runs = {run.name: run for run in logdir.runs}
    assert set(got_runs) == set(want["runs"])
    for run_name, run_want in want["runs"].items():
        run = got_runs[run_name]
        assert set(run.scalars) == set(run_want["scalars"]), run_name
        for tag, series_want in run_want["scalars"].items():
            steps, values = _expected_view(series_want)
            series = run.scalars[tag]
            assert series.steps.dtype == np.int64 and series.values.dtype == np.float64
            np.testing.assert_array_equal(series.steps, steps, err_msg=f"{run_name} {tag}")
            # exact: float32 values widen exactly, doubles are kept as written
            np.testing.assert_array_equal(series.values, values, err_msg=f"{run_name} {tag}")
            assert np.all(np.diff(series.wall_times) >= 0)
            assert series.wall_times.min() > 1.6e9


@pytest.mark.parametrize("name", LONG_RECORD_FIXTURES)
def test_long_records_are_counted_by_plugin(name):
    logdir = read_logdir(fixture_logdir(name))
    assert not logdir.warnings
    for run_name, run_want in expected(name)["runs"].items():
        run = logdir.run(run_name)
        assert {t: (c.plugin, c.count) for t, c in run.others.items()} == {
            t: (w["plugin"], w["count"]) for t, w in run_want["others"].items()
        }


@pytest.mark.parametrize("name", LONG_RECORD_FIXTURES)
def test_ls_and_build_read_long_records_with_cold_caches(name, tmp_path):
    # a fresh interpreter: no CRC tables built yet, as for a user's first `tbreport ls`
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    logdir = str(fixture_logdir(name))
    for args in (["ls", logdir], ["build", logdir, "--out", str(tmp_path / "site"), "-q"]):
        done = subprocess.run(
            [sys.executable, "-m", "tbreport", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    assert (tmp_path / "site" / "index.html").is_file()


def test_encodings_are_reported_per_series():
    logdir = read_logdir(fixture_logdir("torch"))
    newstyle = logdir.run("newstyle").scalars
    assert newstyle["ns/float"].encoding == "tensor"
    assert newstyle["ns/double"].encoding == "tensor"
    assert newstyle["ns/plain"].encoding == "simple_value"
    # double_precision keeps the float64 value; the float32 one is rounded
    assert not np.array_equal(newstyle["ns/float"].values, newstyle["ns/double"].values)
    np.testing.assert_array_equal(
        newstyle["ns/float"].values, newstyle["ns/double"].values.astype(np.float32)
    )
    tf2 = read_logdir(fixture_logdir("tf2"))
    assert tf2.run("run_a").scalars["loss"].encoding == "tensor"


def test_big_steps_are_exact():
    series = read_logdir(fixture_logdir("torch")).run("plain").scalars["bigstep"]
    assert 2**62 in series.steps.tolist()
    assert 2**53 + 1 in series.steps.tolist()


def test_nan_and_inf_are_kept_and_counted():
    logdir = read_logdir(fixture_logdir("torch"))
    series = logdir.run("plain").scalars["weird"]
    assert series.nan_count == 1 and series.inf_count == 2 and len(series) == 5
    notes = [w for w in logdir.warnings if w.kind == "nonfinite"]
    assert len(notes) == 1 and notes[0].run == "plain" and notes[0].tag == "weird"
    assert "1 NaN and 2 infinite" in notes[0].message


def test_restart_replace_follows_tensorboard_and_reports_dropped():
    want = expected("torch")["runs"]["restart"]["scalars"]["x"]
    logdir = read_logdir(fixture_logdir("torch"))
    series = logdir.run("restart").scalars["x"]
    assert len(series) == 150 and series.records == 200 and series.dropped == 50
    np.testing.assert_array_equal(series.steps, np.arange(150))
    np.testing.assert_array_equal(series.values, as_floats(want["values"]))
    note = [w for w in logdir.warnings if w.kind == "restart"]
    assert len(note) == 1 and "50 of 200 records" in note[0].message and note[0].tag == "x"


def test_restart_keep_all_keeps_every_record_in_file_order():
    want = expected("torch")["runs"]["restart"]["scalars"]["x"]["records"]
    logdir = read_logdir(fixture_logdir("torch"), restarts="keep-all")
    series = logdir.run("restart").scalars["x"]
    assert len(series) == 200 and series.dropped == 0
    np.testing.assert_array_equal(series.steps, want["steps"])
    np.testing.assert_array_equal(series.values, as_floats(want["values"]))
    assert not [w for w in logdir.warnings if w.kind == "restart"]


def _notes(logdir, kind: str) -> list:
    return [w for w in logdir.warnings if w.kind == kind]


def test_repeated_records_are_duplicates_not_restarts(torch_writer, tmp_path):
    # Lightning logs `epoch` at each log call of a step: the same (step, value) twice
    w = torch_writer("lightning")
    for step in range(10):
        w.add_scalar("epoch", step // 5, step)
        w.add_scalar("loss", 1.0 / (step + 1), step)
        w.add_scalar("epoch", step // 5, step)
    w.close()
    logdir = read_logdir(tmp_path / "logs")
    series = logdir.run("lightning").scalars["epoch"]
    np.testing.assert_array_equal(series.steps, np.arange(10))
    np.testing.assert_array_equal(series.values, np.arange(10) // 5)
    assert series.records == 20 and series.dropped == 10
    assert not _notes(logdir, "restart")
    (note,) = _notes(logdir, "duplicate")
    assert (note.run, note.tag, note.severity) == ("lightning", "epoch", NOTE)
    assert "10 of 20 records" in note.message and "kept one of each" in note.message
    kept = read_logdir(tmp_path / "logs", restarts="keep-all")
    assert len(kept.run("lightning").scalars["epoch"]) == 20
    (note,) = _notes(kept, "duplicate")
    assert "10 of 20 records" in note.message and "all kept" in note.message
    assert not _notes(kept, "restart")


def test_resumed_run_rewriting_the_same_values_is_a_restart(torch_writer, tmp_path):
    # a deterministic resume from step 5 logs the same values again, after later steps
    first = torch_writer("resumed")
    for step in range(10):
        first.add_scalar("x", float(step), step)
    first.close()
    second = torch_writer("resumed")
    for step in range(5, 15):
        second.add_scalar("x", float(step), step)
    second.close()
    logdir = read_logdir(tmp_path / "logs")
    series = logdir.run("resumed").scalars["x"]
    np.testing.assert_array_equal(series.steps, np.arange(15))
    assert series.dropped == 5 and not _notes(logdir, "duplicate")
    (note,) = _notes(logdir, "restart")
    assert "5 of 20 records" in note.message


def test_duplicates_and_a_restart_in_one_series(torch_writer, tmp_path):
    first = torch_writer("mix")
    for step in range(10):
        first.add_scalar("x", float(step), step)
        first.add_scalar("x", float(step), step)  # a repeat
    first.add_scalar("x", -1.0, 9)  # the same step with a new value: a rewrite
    first.close()
    second = torch_writer("mix")
    for step in range(4, 8):  # a restart from step 4 with new values
        second.add_scalar("x", 100.0 + step, step)
    second.close()
    logdir = read_logdir(tmp_path / "logs")
    series = logdir.run("mix").scalars["x"]
    np.testing.assert_array_equal(series.steps, np.arange(8))
    np.testing.assert_array_equal(series.values, [0, 1, 2, 3, 104, 105, 106, 107])
    assert series.records == 25 and series.dropped == 17
    (dup,) = _notes(logdir, "duplicate")
    (restart,) = _notes(logdir, "restart")
    # 10 repeats; the restart replaced steps 4..9 and the rewritten step 9 (7 records)
    assert "10 of 25 records" in dup.message and "7 of 25 records" in restart.message


def test_bad_restart_mode_is_rejected():
    with pytest.raises(ValueError, match="restarts must be one of"):
        read_logdir(fixture_logdir("quickstart"), restarts="newest")


def test_non_scalar_summaries_are_counted_by_plugin():
    want = expected("torch")["runs"]["nonscalar"]["others"]
    run = read_logdir(fixture_logdir("torch")).run("nonscalar")
    assert {t: (c.plugin, c.count) for t, c in run.others.items()} == {
        t: (w["plugin"], w["count"]) for t, w in want.items()
    }
    assert list(run.scalars) == ["s"]
    tbx = read_logdir(fixture_logdir("tensorboardx")).run("run1")
    assert tbx.others["weights"].plugin == "histograms"
    assert tbx.others["note/text_summary"].plugin == "text"


def test_hparams_from_session_start_info():
    logdir = read_logdir(fixture_logdir("torch"))
    (sub,) = [r for r in logdir.runs if r.kind == "add_hparams"]
    want = [v for k, v in expected("torch")["runs"].items() if k == sub.name][0]["hparams"]
    assert sub.hparams == want
    assert sub.parent == "hparams"
    assert "hparam/acc" in sub.scalars


def test_sub_runs_are_labelled():
    torch_runs = {r.name: r for r in read_logdir(fixture_logdir("torch")).runs}
    for name in ("scalars/losses_train", "scalars/losses_val", "scalars/grp_x_a"):
        assert torch_runs[name].kind == "add_scalars" and torch_runs[name].parent == "scalars"
    assert torch_runs["plain"].kind == "run" and torch_runs["plain"].parent is None
    tbx = {r.name: r for r in read_logdir(fixture_logdir("tensorboardx")).runs}
    assert tbx["run1/losses/train"].kind == "add_scalars"
    assert tbx["run1/losses/train"].parent == "run1"
    assert tbx["run2"].kind == "run"


def test_quickstart_article_values():
    logdir = read_logdir(fixture_logdir("quickstart"))
    n = np.arange(100)
    line1 = logdir.run("run_1").scalars["tutorial/line"]
    poly2 = logdir.run("run_2").scalars["tutorial/poly"]
    np.testing.assert_array_equal(line1.steps, n)
    np.testing.assert_array_equal(line1.values, (2 * n).astype(np.float32))
    np.testing.assert_array_equal(poly2.values, (n**2 - 100 * n).astype(np.float32))
    assert logdir.points == 400 and not logdir.warnings


def test_dataframe_long_format():
    pytest.importorskip("pandas")
    df = tbreport.to_dataframe(read_logdir(fixture_logdir("quickstart")))
    assert list(df.columns) == ["run", "tag", "step", "value", "wall_time", "smoothed", "group"]
    assert len(df) == 400
    sub = df[(df.run == "run_2") & (df.tag == "tutorial/line")]
    np.testing.assert_array_equal(
        sub.value.to_numpy(), (1.5 * np.arange(100) - 5).astype(np.float32)
    )


def _torch_file(torch_writer, tmp_path, steps: int = 40) -> tuple[Path, list[int]]:
    """A real torch event file of one scalar tag, and the byte offset of each record."""
    w = torch_writer("run")
    for s in range(steps):
        w.add_scalar("loss", 1.0 / (1 + s), s)
    w.close()
    (path,) = event_files(tmp_path / "logs" / "run")
    return path, records.frame(records.load(str(path))).starts.tolist()


def test_data_checksum_mismatch_skips_only_that_record(torch_writer, tmp_path):
    path, offsets = _torch_file(torch_writer, tmp_path)
    data = bytearray(path.read_bytes())
    # a wall-time byte of step 10's record (record 0 is the file_version): the step still parses
    data[offsets[11] + 14] ^= 0x01
    path.write_bytes(bytes(data))
    logdir = read_logdir(tmp_path / "logs")
    (w,) = [w for w in logdir.warnings if w.kind == "skipped-record"]
    assert (w.severity, w.path, w.offset) == (WARNING, str(path), offsets[11])
    assert f"byte offset {offsets[11]}" in w.message and "step 10" in w.message
    assert not [w for w in logdir.warnings if w.kind == "corrupt-record"]
    series = logdir.run("run").scalars["loss"]
    assert series.steps.tolist() == [s for s in range(40) if s != 10]
    assert logdir.run("run").records == 40


def test_many_damaged_records_are_named_up_to_a_limit(torch_writer, tmp_path):
    path, offsets = _torch_file(torch_writer, tmp_path)
    data = bytearray(path.read_bytes())
    for rec in range(5, 30):
        data[offsets[rec] + 14] ^= 0x01
    path.write_bytes(bytes(data))
    logdir = read_logdir(tmp_path / "logs")
    got = [w for w in logdir.warnings if w.kind == "skipped-record"]
    assert [w.offset for w in got] == offsets[5:15] + [offsets[15]]
    assert "15 more record(s)" in got[-1].message
    assert len(logdir.run("run").scalars["loss"]) == 40 - 25


def test_length_checksum_mismatch_still_stops_the_file(torch_writer, tmp_path):
    path, offsets = _torch_file(torch_writer, tmp_path)
    data = bytearray(path.read_bytes())
    data[offsets[11] + 9] ^= 0x01
    path.write_bytes(bytes(data))
    logdir = read_logdir(tmp_path / "logs")
    (w,) = [w for w in logdir.warnings if w.kind == "corrupt-record"]
    assert w.offset == offsets[11] and "length checksum mismatch" in w.message
    assert logdir.run("run").scalars["loss"].steps.tolist() == list(range(10))


@pytest.mark.parametrize("length", [2**63, 10_000])
def test_bad_length_mid_file_is_a_warning_and_fails_strict(torch_writer, tmp_path, length):
    from click.testing import CliRunner

    from tbreport.cli import main

    path, offsets = _torch_file(torch_writer, tmp_path)
    data = bytearray(path.read_bytes())
    header = struct.pack("<Q", length)
    data[offsets[11] : offsets[11] + 12] = header + struct.pack("<I", masked_crc32c(header))
    path.write_bytes(bytes(data))
    logdir = read_logdir(tmp_path / "logs")
    (w,) = [w for w in logdir.warnings if w.kind == "bad-length"]
    assert (w.severity, w.path, w.offset) == (WARNING, str(path), offsets[11])
    assert f"byte offset {offsets[11]}" in w.message
    assert not [w for w in logdir.warnings if w.kind == "truncated"]
    assert logdir.run("run").scalars["loss"].steps.tolist() == list(range(10))
    out = tmp_path / "site"
    result = CliRunner().invoke(
        main, ["build", str(tmp_path / "logs"), "--out", str(out), "--strict", "-q"]
    )
    assert result.exit_code == 2 and "--strict" in result.output


def test_writer_still_running_stays_a_note(torch_writer, tmp_path):
    path, offsets = _torch_file(torch_writer, tmp_path)
    path.write_bytes(path.read_bytes()[: offsets[-1] + 20])  # the last record half written
    logdir = read_logdir(tmp_path / "logs")
    (w,) = [w for w in logdir.warnings if w.kind == "truncated"]
    assert (w.severity, w.offset) == (NOTE, offsets[-1])
    assert not [w for w in logdir.warnings if w.severity == WARNING]


def test_non_scalar_records_are_kept_by_place_and_read_on_demand(torch_writer, tmp_path):
    # the seam the data kinds read through: where each record is, then the values themselves
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from tbreport.read.events import load_values

    w = torch_writer("run")
    for step in range(4):
        w.add_histogram("w", np.arange(5.0) * (step + 1), step)
        w.add_text("notes", f"step **{step}**", step)
        w.add_scalar("loss", 1.0 / (step + 1), step)
    w.close()
    run = read_logdir(tmp_path / "logs").run("run")
    # torch names a text tag "<tag>/text_summary"
    assert set(run.tensors) == {"w", "notes/text_summary"} and set(run.scalars) == {"loss"}
    hist, text = run.tensors["w"], run.tensors["notes/text_summary"]
    assert (hist.plugin, text.plugin) == ("histograms", "text")
    assert hist.steps.tolist() == text.steps.tolist() == [0, 1, 2, 3]
    values = load_values(run.files[0], hist.offsets.tolist(), hist.values.tolist())
    acc = EventAccumulator(run.path, size_guidance={"histograms": 0, "tensors": 0})
    acc.Reload()
    want = acc.Histograms("w")
    assert [s for s, _, _ in values] == [h.step for h in want]
    for (_, wall, value), h in zip(values, want, strict=True):
        assert wall == h.wall_time
        assert list(value.histo.bucket) == list(h.histogram_value.bucket)
        assert list(value.histo.bucket_limit) == list(h.histogram_value.bucket_limit)
    texts = load_values(run.files[0], text.offsets.tolist(), text.values.tolist())
    assert [v.tensor.string_val[0] for _, _, v in texts] == [
        t.tensor_proto.string_val[0] for t in acc.Tensors("notes/text_summary")
    ]
