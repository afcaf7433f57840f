"""Reading fixture logdirs written by real writers: values must equal what was written."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import as_floats, expected, fixture_logdir

from tbreport.model import NOTE
from tbreport.read import read_logdir

FIXTURE_NAMES = ["quickstart", "torch", "tensorboardx", "tf2", "keras"]


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
    df = read_logdir(fixture_logdir("quickstart")).to_dataframe()
    assert list(df.columns) == ["run", "tag", "step", "value", "wall_time"]
    assert len(df) == 400
    sub = df[(df.run == "run_2") & (df.tag == "tutorial/line")]
    np.testing.assert_array_equal(
        sub.value.to_numpy(), (1.5 * np.arange(100) - 5).astype(np.float32)
    )
