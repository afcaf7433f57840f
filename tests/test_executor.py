"""--executor dask://HOST:PORT: run reads on a real Dask cluster of two worker processes."""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import tbreport
from tbreport.cli import main
from tbreport.options import ConfigError, Options, make_options
from tbreport.pipeline import build
from tbreport.read import executor as executor_module
from tbreport.read import read_logdir
from tbreport.read.executor import ExecutorError

# found, not imported, at collection: the quick loop collects this module too (0.5 s)
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None, reason="could not import 'distributed'"
)


@pytest.fixture(scope="module")
def cluster():
    import distributed

    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as c:
        yield "dask://" + c.scheduler_address.removeprefix("tcp://")


def _sweep(torch_writer) -> Path:
    for r in range(6):
        w = torch_writer(f"lr0.{r % 2}_seed{r}")
        for step in range(0, 200 + 13 * r, 2):
            w.add_scalar("train/loss", 2.0 / (step + 1 + r), step)
            w.add_scalar("eval/acc", 1 - 1.0 / (step + 2), step)
        w.close()
    return Path(torch_writer().log_dir).parent


def test_a_read_on_dask_workers_equals_a_local_read(cluster, torch_writer):
    logdir = _sweep(torch_writer)
    here = read_logdir(logdir)
    there = read_logdir(logdir, executor=cluster)
    assert [r.name for r in there.runs] == [r.name for r in here.runs]
    assert there.warnings == here.warnings
    for a, b in zip(there.runs, here.runs, strict=True):
        for tag, series in b.scalars.items():
            np.testing.assert_array_equal(a.scalars[tag].values, series.values)
            np.testing.assert_array_equal(a.scalars[tag].steps, series.steps)


def test_the_report_of_a_dask_read_is_byte_for_byte_the_local_one(cluster, torch_writer, tmp_path):
    logdir = _sweep(torch_writer)
    now = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
    pages = []
    for name, executor in (("local", "threads"), ("dask", cluster)):
        options = Options(runs_dir=str(logdir), out=str(tmp_path / name), executor=executor)
        build(options, now=now)
        pages.append((tmp_path / name / "index.html").read_bytes())
    assert pages[0] == pages[1]


def test_ls_and_export_take_the_executor(cluster, torch_writer, tmp_path):
    logdir = _sweep(torch_writer)
    runner = CliRunner()
    local = runner.invoke(main, ["ls", str(logdir), "--json"])
    remote = runner.invoke(main, ["ls", str(logdir), "--json", "--executor", cluster])
    assert remote.exit_code == 0, remote.output
    assert json.loads(remote.output) == json.loads(local.output)
    out = tmp_path / "points.csv"
    done = runner.invoke(main, ["export", str(logdir), "--out", str(out), "--executor", cluster])
    assert done.exit_code == 0, done.output
    assert out.read_bytes() == runner.invoke(main, ["export", str(logdir)]).stdout_bytes


def test_an_unreachable_scheduler_is_a_clear_error(torch_writer):
    logdir = _sweep(torch_writer)
    with pytest.raises(ExecutorError, match=r"Cannot reach the Dask scheduler at tcp://127\.0\."):
        read_logdir(logdir, executor="dask://127.0.0.1:9")


@pytest.mark.parametrize("bad", ["dask://nohost", "spark://h:1", "dask:/h:1"])
def test_an_executor_that_is_not_one_is_refused(bad):
    with pytest.raises(ConfigError, match="is not an executor"):
        make_options({"executor": bad}, {}, None)


@pytest.fixture
def scheduler():
    """A scheduler alone: its workers are started by the test."""
    import distributed

    with distributed.LocalCluster(
        n_workers=0, host="127.0.0.1", protocol="tcp://", dashboard_address=None
    ) as c:
        yield c.scheduler_address


@contextlib.contextmanager
def worker(address: str, pythonpath: str, cwd: Path, env: dict[str, str] | None = None):
    """A `dask worker` process importing its packages from ``pythonpath`` first, joined."""
    import distributed

    proc = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1"]
        + ["--no-nanny", "--no-dashboard"],
        cwd=cwd,  # not the checkout: sys.path[0] is the working folder
        env={**os.environ, **(env or {}), "PYTHONPATH": pythonpath},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with distributed.Client(address, set_as_default=False) as client:
            client.wait_for_workers(1, timeout=60)
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)


#: the folder this tbreport is imported from (the checkout under test)
HERE = str(Path(tbreport.__file__).resolve().parent.parent)


def test_a_scheduler_without_workers_is_a_clear_error(scheduler, torch_writer, monkeypatch):
    logdir = _sweep(torch_writer)
    monkeypatch.setattr(executor_module, "CONNECT_TIMEOUT", 1)
    spec = "dask://" + scheduler.removeprefix("tcp://")
    host = scheduler.removeprefix("tcp://")
    # it waited for workers forever
    with pytest.raises(ExecutorError, match=rf"^The Dask scheduler at {host} has no workers \("):
        read_logdir(logdir, executor=spec)


def test_workers_without_tbreport_are_a_clear_error(scheduler, torch_writer, tmp_path):
    logdir = _sweep(torch_writer)
    # a worker whose `import tbreport` fails, as where it is not installed
    (tmp_path / "elsewhere" / "tbreport").mkdir(parents=True)
    (tmp_path / "elsewhere" / "tbreport" / "__init__.py").write_text(
        'raise ImportError("No module named tbreport here")\n'
    )
    spec = "dask://" + scheduler.removeprefix("tcp://")
    with worker(scheduler, str(tmp_path / "elsewhere"), tmp_path):
        # the task that it could not unpickle ended the worker, and the read waited forever
        with pytest.raises(ExecutorError, match=r"workers of .* cannot import tbreport \(No mod"):
            read_logdir(logdir, executor=spec)


def test_workers_with_another_tbreport_are_a_clear_error(scheduler, torch_writer, tmp_path):
    logdir = _sweep(torch_writer)
    other = tmp_path / "other"
    shutil.copytree(Path(HERE) / "tbreport", other / "tbreport")
    events = other / "tbreport" / "read" / "events.py"
    events.write_text(events.read_text() + "\n# another version of the decoder\n")
    spec = "dask://" + scheduler.removeprefix("tcp://")
    with worker(scheduler, str(other), tmp_path):
        with pytest.raises(ExecutorError, match=r"workers of .* run another tbreport \("):
            read_logdir(logdir, executor=spec)
    with worker(scheduler, HERE, tmp_path):  # the same code: the same read
        assert read_logdir(logdir, executor=spec).points == read_logdir(logdir).points
