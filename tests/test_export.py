"""tbreport export: every scalar point in one long table, with TensorBoard's smoothed value."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import tbreport
from tbreport.cli import main
from tbreport.read import read_logdir


def _tb_smoothing(values: list[float], weight: float) -> list[float]:
    """TensorBoard's classicSmoothing, written out from its TypeScript (vz_line_chart2)."""
    last, debias, count, out = 0.0, 0.0, 0, []
    is_constant = all(v == values[0] for v in values)
    for v in values:
        if not math.isfinite(v) or is_constant:
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        count += 1
        debias = 1.0 if weight == 1 else 1 - weight**count
        out.append(last / debias)
    return out


def _logdir(torch_writer) -> Path:
    for r in range(3):
        w = torch_writer(f"run{r}")
        for step in range(0, 50, 1 + r):
            value = float("nan") if (r, step) == (1, 10) else math.sin(step / 7 + r) + r
            w.add_scalar("loss", value, step)
            w.add_scalar("lr", 0.1 / (r + 1), step)
        w.close()
    return Path(torch_writer().log_dir).parent


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_holds_every_point_with_the_smoothed_value(torch_writer, tmp_path):
    logdir = _logdir(torch_writer)
    out = tmp_path / "points.csv"
    result = CliRunner().invoke(
        main, ["export", str(logdir), "--out", str(out), "--smoothing", "0.8"]
    )
    assert result.exit_code == 0, result.output
    rows = _rows(out.read_text())
    assert list(rows[0]) == ["run", "tag", "step", "wall_time", "value", "smoothed", "group"]
    read = read_logdir(logdir)
    assert len(rows) == read.points
    for run in read.runs:
        for tag, series in run.scalars.items():
            mine = [r for r in rows if r["run"] == run.name and r["tag"] == tag]
            assert [int(r["step"]) for r in mine] == series.steps.tolist()
            np.testing.assert_array_equal([float(r["value"]) for r in mine], series.values)
            np.testing.assert_array_equal([float(r["wall_time"]) for r in mine], series.wall_times)
            want = _tb_smoothing(series.values.tolist(), 0.8)
            np.testing.assert_allclose(
                [float(r["smoothed"]) for r in mine], want, rtol=1e-12, equal_nan=True
            )
            assert {r["group"] for r in mine} == {""}
    assert any(r["value"] == "nan" for r in rows)


def test_filters_are_those_of_build_and_stdout_is_csv(torch_writer):
    logdir = _logdir(torch_writer)
    result = CliRunner().invoke(
        main, ["export", str(logdir), "--tags", "^loss$", "--exclude-runs", "run2"]
    )
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert {(r["run"], r["tag"]) for r in rows} == {("run0", "loss"), ("run1", "loss")}


def test_jsonl_and_parquet_hold_the_same_points(torch_writer, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    logdir = _logdir(torch_writer)
    runner = CliRunner()
    for name in ("p.csv", "p.jsonl", "p.parquet"):
        result = runner.invoke(main, ["export", str(logdir), "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    rows = _rows((tmp_path / "p.csv").read_text())
    lines = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    table = pq.read_table(tmp_path / "p.parquet").to_pylist()
    assert len(rows) == len(lines) == len(table)
    for r, j, t in zip(rows, lines, table, strict=True):
        assert r["run"] == j["run"] == t["run"] and r["tag"] == j["tag"] == t["tag"]
        assert int(r["step"]) == j["step"] == t["step"]
        value = float(r["value"])
        if math.isnan(value):
            assert j["value"] is None and math.isnan(t["value"])  # JSON has no NaN
        else:
            assert value == j["value"] == t["value"]
        assert j["group"] is None and t["group"] is None


def test_export_never_replaces_a_file_it_did_not_write_nor_writes_through_a_link(
    torch_writer, tmp_path
):
    logdir = _logdir(torch_writer)
    runner = CliRunner()
    theirs = tmp_path / "theirs.csv"
    theirs.write_text("precious\n")
    result = runner.invoke(main, ["export", str(logdir), "--out", str(theirs)])
    assert result.exit_code != 0
    assert "exists and was not written by tbreport" in result.output
    assert theirs.read_text() == "precious\n"

    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (tmp_path / "link.csv").symlink_to(victim)
    result = runner.invoke(main, ["export", str(logdir), "--out", str(tmp_path / "link.csv")])
    assert result.exit_code != 0 and victim.read_text() == "keep"

    ours = tmp_path / "ours.csv"
    assert runner.invoke(main, ["export", str(logdir), "--out", str(ours)]).exit_code == 0
    first = ours.read_bytes()
    again = runner.invoke(main, ["export", str(logdir), "--out", str(ours), "--smoothing", "0"])
    assert again.exit_code == 0, again.output  # its own earlier export is replaced
    assert ours.read_bytes() != first
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_an_unknown_extension_is_refused(torch_writer, tmp_path):
    logdir = _logdir(torch_writer)
    result = CliRunner().invoke(main, ["export", str(logdir), "--out", str(tmp_path / "x.xlsx")])
    assert result.exit_code != 0
    assert "should end in .csv, .jsonl, .parquet" in result.output


def test_to_dataframe_has_the_export_columns(torch_writer):
    pytest.importorskip("pandas")
    logdir = read_logdir(_logdir(torch_writer))
    df = tbreport.to_dataframe(logdir, smoothing=0.5)
    assert list(df.columns) == ["run", "tag", "step", "value", "wall_time", "smoothed", "group"]
    assert df["group"].isna().all()
    loss = df[(df["run"] == "run0") & (df["tag"] == "loss")]
    want = _tb_smoothing(loss["value"].tolist(), 0.5)
    np.testing.assert_allclose(loss["smoothed"].to_numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("command", [[], ["ls"], ["build"], ["export"]])
def test_help_imports_no_heavy_library(command):
    import subprocess
    import sys

    code = (
        "import sys\nfrom tbreport.cli import main\n"
        f"try:\n    main({command + ['--help']!r})\nexcept SystemExit:\n    pass\n"
        "print(*sys.modules, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    heavy = {"numpy", "matplotlib", "jinja2", "fsspec", "dask", "distributed", "pyarrow", "s3fs"}
    assert "Usage:" in done.stdout
    assert not set(done.stderr.split()) & heavy


def test_a_run_folder_named_in_bytes_that_are_not_utf8_is_exported(torch_writer, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    logdir = _logdir(torch_writer)
    os.rename(logdir / "run1", os.fsencode(logdir) + b"/caf\xe9")
    runner = CliRunner()
    for name in ("p.csv", "p.jsonl", "p.parquet"):
        result = runner.invoke(main, ["export", str(logdir), "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    runs = {r["run"] for r in _rows((tmp_path / "p.csv").read_text(encoding="utf-8"))}
    lines = (tmp_path / "p.jsonl").read_text(encoding="utf-8").splitlines()
    assert runs == {json.loads(line)["run"] for line in lines} == {"run0", "caf\ufffd", "run2"}
    assert {t["run"] for t in pq.read_table(tmp_path / "p.parquet").to_pylist()} == runs
    stdout = runner.invoke(main, ["export", str(logdir)])
    assert stdout.exit_code == 0 and "caf\ufffd," in stdout.stdout


def test_group_fills_the_group_column_with_the_key_build_draws(torch_writer, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    for lr in ("0.1", "0.01"):
        for seed in (1, 2):
            w = torch_writer(f"lr{lr}_seed{seed}")
            for step in range(5):
                w.add_scalar("loss", float(lr) * step + seed, step)
            w.close()
    logdir = Path(torch_writer().log_dir).parent
    runner = CliRunner()
    for name in ("g.csv", "g.jsonl", "g.parquet"):
        args = ["export", str(logdir), "--out", str(tmp_path / name), "--group", r"_seed\d+"]
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
    want = {f"lr{lr}_seed{s}": f"lr{lr}" for lr in ("0.1", "0.01") for s in (1, 2)}
    rows = _rows((tmp_path / "g.csv").read_text())
    assert {r["run"]: r["group"] for r in rows if r["run"] in want} == want
    lines = [json.loads(line) for line in (tmp_path / "g.jsonl").read_text().splitlines()]
    assert {j["run"]: j["group"] for j in lines if j["run"] in want} == want
    table = pq.read_table(tmp_path / "g.parquet").to_pylist()
    assert {t["run"]: t["group"] for t in table if t["run"] in want} == want
    frame = tbreport.to_dataframe(read_logdir(logdir), group=r"_seed\d+")
    assert {r.run: r.group for r in frame.itertuples() if r.run in want} == want
    assert set(tbreport.to_dataframe(read_logdir(logdir))["group"]) == {None}


def test_a_bad_out_name_is_reported_as_the_out_flag(torch_writer, tmp_path):
    logdir = _logdir(torch_writer)
    result = CliRunner().invoke(main, ["export", str(logdir), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "--out: " in result.output and "--export-file" not in result.output


def test_a_damaged_event_file_is_a_warning_on_stderr_naming_it(torch_writer, tmp_path):
    logdir = _logdir(torch_writer)
    (damaged,) = (logdir / "run1").glob("events.out.tfevents.*")
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a byte inside some record: checksums catch it
    damaged.write_bytes(bytes(data))
    result = CliRunner().invoke(main, ["export", str(logdir)])
    assert result.exit_code == 0, result.output
    assert "warning: " in result.stderr and str(damaged) in result.stderr
    assert "byte offset" in result.stderr
    assert "warning" not in result.stdout and _rows(result.stdout)
    notes = [w for w in read_logdir(logdir).warnings if w.severity == "note"]
    assert notes and "note:" not in result.stderr  # (the NaN's) notes are a report's
