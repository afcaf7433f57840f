"""Remote logdirs: a real S3 API server (moto in server mode) on 127.0.0.1, read with s3fs."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import fixture_logdir

from tbreport.cli import main
from tbreport.errors import LogdirNotFoundError
from tbreport.read import read_logdir

# found, not imported, at collection: the quick loop collects this module too (0.3 s)
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("s3fs") is None or importlib.util.find_spec("boto3") is None,
    reason="could not import 's3fs' and 'boto3'",
)

DUMMY = {
    "AWS_ACCESS_KEY_ID": "testing-key-id",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-never-printed",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _moto(extra_env: dict[str, str]):
    port = _free_port()
    moto = shutil.which("moto_server")
    assert moto, "moto[server] is in the test extras"
    env = {**os.environ, **DUMMY, **extra_env}
    proc = subprocess.Popen(
        [moto, "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("moto_server did not start")
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def s3_server():
    proc, url = _moto({})
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def s3(s3_server, monkeypatch):
    """A boto3 client of the server; s3fs finds it from the standard environment."""
    import boto3
    import s3fs

    for key, value in DUMMY.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    s3fs.S3FileSystem.clear_instance_cache()
    yield boto3.client("s3", endpoint_url=s3_server)
    s3fs.S3FileSystem.clear_instance_cache()


def _upload(client, bucket: str, local: Path, prefix: str) -> None:
    for path in sorted(local.rglob("*")):
        if path.is_file():
            client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(local).as_posix()}")


def _sweep(torch_writer) -> Path:
    for r in range(5):
        w = torch_writer(f"seed{r}")
        for step in range(300 + 50 * r):
            w.add_scalar("loss", 1.0 / (step + 1), step)
            w.add_scalar("acc", step * 0.001 * (r + 1), step)
        w.add_text("notes", "hello", 0)
        w.close()
    logdir = Path(torch_writer().log_dir).parent
    shutil.copytree(fixture_logdir("tf2"), logdir / "tf2")
    return logdir


def test_an_s3_logdir_gives_exactly_the_points_of_the_local_copy(s3, torch_writer):
    local = _sweep(torch_writer)
    s3.create_bucket(Bucket="sweeps")
    _upload(s3, "sweeps", local, "exp1/runs")
    remote = read_logdir("s3://sweeps/exp1/runs")
    here = read_logdir(local)
    assert [r.name for r in remote.runs] == [r.name for r in here.runs]
    assert remote.points == here.points > 3000
    for a, b in zip(remote.runs, here.runs, strict=True):
        assert a.files == tuple(
            f"s3://sweeps/exp1/runs/{Path(f).relative_to(local).as_posix()}" for f in b.files
        )
        assert a.others == b.others and a.hparams == b.hparams and a.records == b.records
        assert set(a.scalars) == set(b.scalars)
        for tag, series in b.scalars.items():
            np.testing.assert_array_equal(a.scalars[tag].steps, series.steps)
            np.testing.assert_array_equal(a.scalars[tag].values, series.values)
            np.testing.assert_array_equal(a.scalars[tag].wall_times, series.wall_times)
    assert [w.kind for w in remote.warnings] == [w.kind for w in here.warnings]


def test_ls_and_build_take_s3_urls_for_the_logdir_and_the_baseline(s3, torch_writer, tmp_path):
    local = _sweep(torch_writer)
    s3.create_bucket(Bucket="cli")
    _upload(s3, "cli", local, "main")
    _upload(s3, "cli", local, "pr")
    runner = CliRunner()
    listed = runner.invoke(main, ["ls", "s3://cli/pr"])
    assert listed.exit_code == 0, listed.output
    assert "seed4" in listed.output and "in s3://cli/pr" in listed.output
    assert DUMMY["AWS_SECRET_ACCESS_KEY"] not in listed.output
    out = tmp_path / "site"
    built = runner.invoke(
        main,
        ["build", "s3://cli/pr", "--baseline", "s3://cli/main", "--out", str(out), "-q", "--json"],
    )
    assert built.exit_code == 0, built.output
    assert (out / "index.html").is_file()
    assert '"unchanged"' in built.output  # the same runs on both sides: nothing moved


def test_a_missing_bucket_is_a_clear_error(s3):
    with pytest.raises(LogdirNotFoundError, match=r"'s3://no-such-bucket/runs' does not exist"):
        read_logdir("s3://no-such-bucket/runs")


def test_an_empty_prefix_says_no_event_files(s3):
    s3.create_bucket(Bucket="emptyish")
    s3.put_object(Bucket="emptyish", Key="runs/readme.txt", Body=b"not events")
    result = CliRunner().invoke(main, ["ls", "s3://emptyish/runs"])
    assert result.exit_code != 0
    assert "No TensorBoard event files under 's3://emptyish/runs'" in result.output


def test_a_half_uploaded_file_is_a_truncated_note_naming_its_url(s3, torch_writer):
    local = _sweep(torch_writer)
    (victim,) = [p for p in (local / "seed2").iterdir() if "tfevents" in p.name]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    s3.create_bucket(Bucket="half")
    _upload(s3, "half", local, "runs")
    got = read_logdir("s3://half/runs")
    (note,) = [w for w in got.warnings if w.kind == "truncated"]
    assert note.path == f"s3://half/runs/seed2/{victim.name}" and note.run == "seed2"
    assert f"Event file 's3://half/runs/seed2/{victim.name}' ends in a partial record" in str(note)
    assert got.run("seed2").points == read_logdir(local).run("seed2").points > 0


def test_denied_access_is_a_clear_error_without_the_secret(monkeypatch):
    import s3fs

    # a server that checks every request's credentials: the dummy key is not one it knows
    proc, url = _moto({"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:
        for key, value in DUMMY.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        s3fs.S3FileSystem.clear_instance_cache()
        result = CliRunner().invoke(main, ["ls", "s3://locked/runs"])
        assert result.exit_code != 0
        assert "Access to 's3://locked/runs' was denied" in result.output
        assert DUMMY["AWS_SECRET_ACCESS_KEY"] not in result.output
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        proc.terminate()
        proc.wait(10)


def test_a_url_of_a_protocol_without_its_library_says_what_to_install():
    with pytest.raises(LogdirNotFoundError, match=r"no storage library for 'nosuchproto://'"):
        read_logdir("nosuchproto://bucket/runs")


def test_file_urls_work_like_folders(torch_writer):
    """`file:///...` was taken for a local path, and such a folder does not exist."""
    local = _sweep(torch_writer)
    url = local.resolve().as_uri()
    got, here = read_logdir(url), read_logdir(local)
    assert [r.name for r in got.runs] == [r.name for r in here.runs]
    assert got.points == here.points > 3000
    assert got.runs[0].files[0].startswith("file:///")


def test_a_storage_library_that_cannot_start_is_an_error_naming_why():
    # pyarrow's HDFS needs a JVM and a name node: its OSError was a traceback
    pytest.importorskip("pyarrow")
    result = _ls("hdfs://no-such-namenode.invalid:1/runs")
    assert result.exit_code == 2
    assert "Error: Cannot open the storage of 'hdfs://no-such-namenode.invalid:1/runs' (" in (
        result.output
    )


def test_memory_urls_work_like_folders(torch_writer):
    import fsspec

    local = _sweep(torch_writer)
    fs = fsspec.filesystem("memory")
    for path in local.rglob("*"):
        if path.is_file():
            fs.pipe(f"/mem-sweep/{path.relative_to(local).as_posix()}", path.read_bytes())
    got = read_logdir("memory://mem-sweep")
    assert got.points == read_logdir(local).points


def _ls(*args: str):
    result = CliRunner().invoke(main, ["ls", *args])
    # a clear error: click's exit, not an exception with its traceback
    assert isinstance(result.exception, SystemExit), result.exception
    return result


def test_no_credentials_is_an_error_naming_what_to_set(s3, monkeypatch, tmp_path):
    import s3fs

    s3.create_bucket(Bucket="nocreds")
    s3.put_object(Bucket="nocreds", Key="runs/a/events.out.tfevents.1", Body=b"")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = _ls("s3://nocreds/runs")
    assert result.exit_code == 2
    assert result.output == (
        "Error: No usable credentials to read 's3://nocreds/runs' (Unable to locate "
        "credentials). Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (a "
        "profile of ~/.aws/credentials); on AWS an instance or task role is found by itself. "
        "For a public bucket, set FSSPEC_S3_ANON=true.\n"
    )
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    s3fs.S3FileSystem.clear_instance_cache()  # a new process's filesystem, reading the profile
    result = _ls("s3://nocreds/runs")
    assert "(The config profile (no-such-profile) could not be found). Set AWS_" in result.output


def test_an_endpoint_that_does_not_answer_is_an_error_naming_it(s3, monkeypatch):
    port = _free_port()  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    result = _ls("s3://anything/runs")
    assert result.exit_code == 2
    assert result.output.startswith(
        f"Error: Cannot connect to the storage of 's3://anything/runs' at "
        f"http://127.0.0.1:{port}. Check AWS_ENDPOINT_URL"
    ), result.output
    assert DUMMY["AWS_SECRET_ACCESS_KEY"] not in result.output


@pytest.mark.parametrize("endpoint", ["not-a-url", "ftp://127.0.0.1:1"])
def test_an_endpoint_that_is_not_a_url_is_an_error_naming_the_setting(s3, monkeypatch, endpoint):
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    result = _ls("s3://anything/runs")
    assert result.exit_code == 2
    assert result.output.startswith("Error: Cannot read 's3://anything/runs': "), result.output
    assert endpoint in result.output
    assert "Check AWS_ENDPOINT_URL (a URL such as http://127.0.0.1:9000)" in result.output


def test_a_prefix_with_nothing_under_it_does_not_exist(s3, torch_writer):
    s3.create_bucket(Bucket="prefixes")
    _upload(s3, "prefixes", _sweep(torch_writer), "exp")
    result = _ls("s3://prefixes/exq")
    assert result.output == (
        "Error: Log directory 's3://prefixes/exq' does not exist: nothing is listed under it. "
        "Check the URL.\n"
    )
    # a prefix of a folder's name is no folder (object stores match prefixes of keys)
    assert "'s3://prefixes/ex' does not exist" in _ls("s3://prefixes/ex").output


def test_a_url_of_an_event_file_is_refused_as_a_local_file_is(s3, torch_writer):
    local = _sweep(torch_writer)
    s3.create_bucket(Bucket="onefile")
    _upload(s3, "onefile", local, "exp")
    (event,) = [p for p in (local / "seed1").iterdir() if "tfevents" in p.name]
    url = f"s3://onefile/exp/seed1/{event.name}"
    with pytest.raises(LogdirNotFoundError, match=r"is a file, not a directory\. Give the folder"):
        read_logdir(url)


def test_a_url_of_the_whole_store_is_an_error_not_a_traceback(s3):
    result = _ls("s3://")
    assert result.exit_code == 2
    assert result.output.startswith("Error: Cannot read 's3://': Cannot traverse all of S3. ")


@pytest.mark.parametrize("steps", [100, 60_000])  # a small file (read in a batch), a large one
def test_credentials_missing_when_reading_are_one_error(s3, monkeypatch, tmp_path, steps):
    import s3fs
    from torch.utils.tensorboard import SummaryWriter

    from tbreport.read.discover import discover_runs
    from tbreport.read.storage import StorageError, open_remote

    w = SummaryWriter(str(tmp_path / "runs" / "a"))
    for step in range(steps):
        w.add_scalar("loss", 1.0 / (step + 1), step)
    w.close()
    s3.create_bucket(Bucket=f"readcreds{steps}")
    _upload(s3, f"readcreds{steps}", tmp_path / "runs", "exp")
    url = f"s3://readcreds{steps}/exp"
    # listed with credentials (as a Dask client is), read without them (as its workers are)
    found = discover_runs(url, open_remote(url))
    if steps > 1000:
        assert sum(found[0][0].sizes) > 1 << 20  # read alone, in blocks
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    s3fs.S3FileSystem.clear_instance_cache()
    with pytest.raises(StorageError, match=rf"^No usable credentials to read '{url}' \("):
        read_logdir(url, found=found)


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="needs distributed")
def test_dask_workers_without_credentials_say_so(s3, torch_writer, tmp_path):
    import distributed

    s3.create_bucket(Bucket="workers")
    _upload(s3, "workers", _sweep(torch_writer), "exp")
    # the client lists with its credentials; the workers' environment has none
    none = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_EC2_METADATA_DISABLED": "1"}
    none |= {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no"), "AWS_CONFIG_FILE": "/no"}
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, dashboard_address=None, env=none
    ) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        result = CliRunner().invoke(
            main, ["ls", "s3://workers/exp", "--executor", f"dask://{address}"]
        )
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.output.startswith(
        f"Error: On the Dask workers of {address}: No usable credentials to read "
        "'s3://workers/exp' (Unable to locate credentials). Set AWS_ACCESS_KEY_ID"
    ), result.output


def test_a_second_read_in_the_same_process_sees_an_object_overwritten_at_the_same_size(
    s3, tmp_path
):
    """fsspec keeps a filesystem, and its listings, per process: the second read opened the
    new object by the first listing's ETag, and the run was an unreadable file of 0 points."""
    from torch.utils.tensorboard import SummaryWriter

    blobs = []
    for version in (1.0, 2.0):
        folder = tmp_path / f"v{version}"
        w = SummaryWriter(str(folder))
        for step in range(30_000):  # over 1 MiB: read alone, by s3fs's file object
            w.add_scalar("loss", version / (step + 1), step)
        w.close()
        (event,) = folder.iterdir()
        blobs.append(event.read_bytes())
    assert len(blobs[0]) == len(blobs[1]) > 1 << 20 and blobs[0] != blobs[1]
    s3.create_bucket(Bucket="overwritten")
    key = "exp/run/events.out.tfevents.1"
    s3.put_object(Bucket="overwritten", Key=key, Body=blobs[0])
    first = read_logdir("s3://overwritten/exp")
    assert first.run("run").scalars["loss"].values[1] == 0.5
    s3.put_object(Bucket="overwritten", Key=key, Body=blobs[1])
    second = read_logdir("s3://overwritten/exp")
    assert second.warnings == ()
    assert second.run("run").points == 30_000
    np.testing.assert_array_equal(
        second.run("run").scalars["loss"].values,
        read_logdir(tmp_path / "v2.0").run(".").scalars["loss"].values,
    )


def test_a_listing_of_more_than_one_page_finds_every_run(s3, torch_writer):
    """S3 lists 1,000 keys a request: runs past the first page are found too."""
    from concurrent.futures import ThreadPoolExecutor

    local = _sweep(torch_writer)
    s3.create_bucket(Bucket="pages")
    keys = [f"exp/aa-checkpoints/step{i:04d}.pt" for i in range(1_050)]  # sorted first
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket="pages", Key=k, Body=b"x"), keys))
    _upload(s3, "pages", local, "exp/zz")
    got = read_logdir("s3://pages/exp")
    assert [r.name for r in got.runs] == [f"zz/{r.name}" for r in read_logdir(local).runs]
    assert got.points == read_logdir(local).points


def test_keys_with_spaces_unicode_and_dots_are_runs_that_write_inside_out(
    s3, torch_writer, tmp_path
):
    """An object store's keys are names, not paths: `exp/../../x` is a run named `../../x`,
    read by its key, and nothing of a report is written outside --out."""
    local = _sweep(torch_writer)
    (event,) = [p for p in (local / "seed0").iterdir() if "tfevents" in p.name]
    s3.create_bucket(Bucket="names")
    names = ["with space", "ünïcødé/日本", "../../escape", "a/../../b", ".."]
    for name in names:
        s3.put_object(Bucket="names", Key=f"exp/{name}/{event.name}", Body=event.read_bytes())
    got = read_logdir("s3://names/exp")
    assert sorted(r.name for r in got.runs) == sorted(names)
    assert {r.points for r in got.runs} == {read_logdir(local).run("seed0").points}
    work = tmp_path / "deep" / "er"
    work.mkdir(parents=True)
    for fmt in ("html", "jekyll", "markdown"):
        out = work / fmt
        result = CliRunner().invoke(
            main, ["build", "s3://names/exp", "--out", str(out), "--format", fmt, "-q"]
        )
        assert result.exit_code == 0, result.output
    written = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(local)]
    assert written and all(p.is_relative_to(work) and p.parent != work for p in written)


def test_export_of_an_s3_logdir_is_the_export_of_its_local_copy(s3, torch_writer, tmp_path):
    local = _sweep(torch_writer)
    s3.create_bucket(Bucket="exports")
    _upload(s3, "exports", local, "exp")
    runner = CliRunner()
    for name in ("points.csv", "points.parquet", "points.jsonl"):
        files = []
        for where, logdir in (("here", str(local)), ("there", "s3://exports/exp")):
            target = tmp_path / where / name
            result = runner.invoke(main, ["export", logdir, "--out", str(target)])
            assert result.exit_code == 0, result.output
            files.append(target.read_bytes())
        assert files[0] == files[1] and len(files[0]) > 1000
