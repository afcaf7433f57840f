"""Run discovery and whole-file problems: warnings name the file and offset, nothing crashes."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from conftest import event_files, fixture_logdir

from tbreport.errors import LogdirNotFoundError, NoEventFilesError
from tbreport.read import read_logdir
from tbreport.read.discover import discover_runs, file_order_key


def _copy_quickstart(tmp_path):
    dst = tmp_path / "runs"
    shutil.copytree(fixture_logdir("quickstart"), dst)
    (dst / "expected.json").unlink()
    return dst


def test_runs_nest_and_logdir_itself_is_dot(tmp_path, torch_writer):
    for run in ("", "a", "a/b/c"):
        w = torch_writer(run) if run else torch_writer(".")
        w.add_scalar("t", 1.0, 0)
        w.close()
    runs, warnings = discover_runs(tmp_path / "logs")
    assert [r.name for r in runs] == [".", "a", "a/b/c"] and not warnings


def test_natural_file_order_puts_counter_10_after_2(tmp_path, torch_writer):
    # two real files; named so that plain string order would read them backwards
    first = torch_writer("tmp1")
    for s in range(10):
        first.add_scalar("x", s, s)
    first.close()
    second = torch_writer("tmp2")
    for s in range(10, 20):
        second.add_scalar("x", s, s)
    second.close()
    run = tmp_path / "logs" / "run"
    run.mkdir()
    (a,) = event_files(tmp_path / "logs" / "tmp1")
    (b,) = event_files(tmp_path / "logs" / "tmp2")
    shutil.move(a, run / "events.out.tfevents.1700000000.host.7.2")
    shutil.move(b, run / "events.out.tfevents.1700000000.host.7.10")
    shutil.rmtree(tmp_path / "logs" / "tmp1")
    shutil.rmtree(tmp_path / "logs" / "tmp2")
    assert sorted(os.listdir(run))[0].endswith(".10")  # string order is wrong here
    series = read_logdir(tmp_path / "logs").run("run").scalars["x"]
    np.testing.assert_array_equal(series.steps, np.arange(20))
    assert series.dropped == 0


def test_file_order_key_is_numeric():
    names = [
        "e.tfevents.1.h.1.10",
        "e.tfevents.1.h.1.2",
        "e.tfevents.1.h.1.1",
        "e.tfevents.2.h.1.0",
    ]
    assert sorted(names, key=file_order_key) == [
        "e.tfevents.1.h.1.1",
        "e.tfevents.1.h.1.2",
        "e.tfevents.1.h.1.10",
        "e.tfevents.2.h.1.0",
    ]


def test_missing_and_empty_logdirs_are_clear_errors(tmp_path):
    with pytest.raises(LogdirNotFoundError, match="does not exist"):
        read_logdir(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NoEventFilesError, match="No TensorBoard event files under"):
        read_logdir(tmp_path / "empty")
    (tmp_path / "file").write_text("x")
    with pytest.raises(LogdirNotFoundError, match="is not a directory"):
        read_logdir(tmp_path / "file")


def test_directory_named_like_event_file(tmp_path):
    runs = _copy_quickstart(tmp_path)
    odd = runs / "run_1" / "events.out.tfevents.123.host.dir"
    odd.mkdir()
    logdir = read_logdir(runs)
    assert logdir.points == 400
    (w,) = [w for w in logdir.warnings if w.kind == "not-a-file"]
    assert str(odd) in w.message and "is a directory" in w.message


def test_symlink_loop_warns_and_terminates(tmp_path):
    runs = _copy_quickstart(tmp_path)
    os.symlink(runs, runs / "run_1" / "loop")
    logdir = read_logdir(runs)
    assert [r.name for r in logdir.runs] == ["run_1", "run_2"]
    assert any(w.kind == "symlink-loop" for w in logdir.warnings)


def test_dangling_event_file_link_is_a_warning(tmp_path):
    runs = _copy_quickstart(tmp_path)
    os.symlink(tmp_path / "gone", runs / "run_2" / "events.out.tfevents.9.host.1.0")
    logdir = read_logdir(runs)
    (w,) = [w for w in logdir.warnings if w.kind == "unreadable"]
    assert "events.out.tfevents.9.host.1.0" in w.message
    assert logdir.points == 400


def test_zero_byte_file_warns(tmp_path):
    runs = _copy_quickstart(tmp_path)
    empty = runs / "run_1" / "events.out.tfevents.9999999999.host.1.0"
    empty.write_bytes(b"")
    logdir = read_logdir(runs)
    (w,) = [w for w in logdir.warnings if w.kind == "empty-file"]
    assert str(empty) in w.message and "0 bytes" in w.message
    assert logdir.points == 400


def test_non_event_file_named_like_one(tmp_path):
    runs = _copy_quickstart(tmp_path)
    bogus = runs / "run_2" / "events.out.tfevents.9999999999.notes"
    bogus.write_text("these are my notes, not tensorboard data\n" * 3)
    logdir = read_logdir(runs)
    (w,) = [w for w in logdir.warnings if w.kind == "not-event-file"]
    assert str(bogus) in w.message and "byte offset 0" in w.message and w.offset == 0
    assert logdir.points == 400


def test_damaged_record_is_skipped_and_names_offset(tmp_path):
    runs = _copy_quickstart(tmp_path)
    (path,) = event_files(runs / "run_1")
    data = bytearray(path.read_bytes())
    from tbreport.read import records

    framing = records.frame(records.load(str(path)))
    victim = int(framing.starts[61])  # after the file_version: step 30 of tutorial/line
    data[victim + 20] ^= 0xFF
    path.write_bytes(bytes(data))
    logdir = read_logdir(runs)
    (w,) = [w for w in logdir.warnings if w.kind == "skipped-record"]
    assert w.path == str(path) and w.offset == victim
    assert f"byte offset {victim}" in w.message and "data checksum mismatch" in w.message
    run = logdir.run("run_1")
    # the length checksum held: only that record is lost
    assert 30 not in run.scalars["tutorial/line"].steps.tolist()
    assert len(run.scalars["tutorial/line"]) == 99 and len(run.scalars["tutorial/poly"]) == 100
    assert logdir.run("run_2").points == 200


def test_truncated_file_is_a_note_and_keeps_complete_records(tmp_path):
    runs = _copy_quickstart(tmp_path)
    (path,) = event_files(runs / "run_2")
    data = path.read_bytes()
    path.write_bytes(data[:-7])
    logdir = read_logdir(runs)
    (w,) = [w for w in logdir.warnings if w.kind == "truncated"]
    assert w.severity == "note" and w.path == str(path) and w.offset is not None
    assert logdir.run("run_2").points == 199
