"""Read benchmark: tbreport against EventAccumulator, tbparse and TensorBoard's Rust data server.

    python bench/bench_read.py                        # 1m preset, every tool, once
    python bench/bench_read.py --preset both --skip-slow --repeat 3
    python bench/bench_read.py --preset 8m --tools tbreport,rust

Every tool runs in its own subprocess, so the peak RSS is that tool's alone. Each worker checks
nothing itself; the parent compares its point count and value sum with the logdir's manifest
(written by make_logdir.py) and with the other tools. Results go to stdout and, merged with
earlier runs of other presets/tools, to bench/results/read.md (raw rows in read.json).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

import make_logdir  # noqa: E402

TOOLS = {
    # name: (description, slow)
    "tbreport": ("tbreport.read_logdir(path)  (verify_crc=True)", False),
    "tbreport-nocrc": ("tbreport.read_logdir(path, verify_crc=False)", False),
    "eventacc": (
        "event_multiplexer.EventMultiplexer (classic EventAccumulator per run), "
        "size_guidance scalars=0",
        True,
    ),
    "tbparse": ("tbparse SummaryReader(pivot=False).scalars", True),
    "tbreport-dask": (
        "tbreport.read_logdir(path, executor=dask://...) on a LocalCluster of 2 worker "
        "processes (cluster start-up not timed)",
        False,
    ),
    "tbreport-s3": (
        "tbreport.read_logdir('s3://bench/<preset>') from a moto S3 server on 127.0.0.1 "
        "(upload not timed)",
        False,
    ),
    "rust": ("Rust data server (tensorboard-data-server), load + gRPC ReadScalars", False),
    "rust-crc": ("Rust data server with --checksum", False),
}
SLOW = {name for name, (_, slow) in TOOLS.items() if slow}
REL_TOL = 1e-9
WORKER_TIMEOUT = 3600


# =========================================================================== workers
# Each prints one JSON line: {"points", "sum", "seconds", "base_rss_kb", ...}. "seconds" starts
# after the tool's imports (so interpreter start-up and import time are not counted) and ends
# when every point has been turned into Python/numpy data and summed.


def _vm_kb(pid: int | str, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far, from /proc (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_tbreport(logdir: str, verify_crc: bool, executor: str | None = None) -> dict:
    import tbreport

    # the public API is lazy: the attribute imports the read stage (numpy and all), which is
    # start-up (the "process s" column), not reading
    read_logdir = tbreport.read_logdir
    base = _vm_kb("self", "VmRSS")
    c0 = time.process_time()
    t0 = time.perf_counter()
    ld = read_logdir(logdir, verify_crc=verify_crc, executor=executor)
    points = sum(len(s) for run in ld.runs for s in run.scalars.values())
    total = sum(float(s.values.sum()) for run in ld.runs for s in run.scalars.values())
    return dict(
        points=points,
        sum=total,
        seconds=time.perf_counter() - t0,
        cpu_seconds=time.process_time() - c0,
        base_rss_kb=base,
        runs=len(ld.runs),
    )


def worker_eventacc(logdir: str) -> dict:
    from tensorboard.backend.event_processing import event_accumulator as ea
    from tensorboard.backend.event_processing import event_multiplexer as em

    base = _vm_kb("self", "VmRSS")
    c0 = time.process_time()
    t0 = time.perf_counter()
    mux = em.EventMultiplexer(size_guidance={ea.SCALARS: 0})
    mux.AddRunsFromDirectory(logdir)
    mux.Reload()
    points, total = 0, 0.0
    for run, tags in mux.Runs().items():
        for tag in tags.get(ea.SCALARS, []):
            events = mux.Scalars(run, tag)
            points += len(events)
            total += math.fsum(e.value for e in events)
    return dict(
        points=points,
        sum=total,
        seconds=time.perf_counter() - t0,
        cpu_seconds=time.process_time() - c0,
        base_rss_kb=base,
        runs=len(mux.Runs()),
    )


def worker_tbparse(logdir: str) -> dict:
    import numpy as np
    from tbparse import SummaryReader

    base = _vm_kb("self", "VmRSS")
    t0 = time.perf_counter()
    reader = SummaryReader(
        logdir, pivot=False, extra_columns={"dir_name", "wall_time"}, event_types={"scalars"}
    )
    df = reader.scalars
    points = len(df)
    total = float(np.asarray(df["value"], dtype=np.float64).sum())
    return dict(
        points=points,
        sum=total,
        seconds=time.perf_counter() - t0,
        base_rss_kb=base,
        runs=int(df["dir_name"].nunique()) if points else 0,
    )


def rust_server_args(binary: str, logdir: str, port_file: str, checksum: bool) -> list[str]:
    args = [
        binary,
        "--logdir",
        logdir,
        "--port",
        "0",
        "--port-file",
        port_file,
        "--reload",
        "once",  # one load cycle, then just serve
        "--samples-per-plugin",
        "scalars=all",  # NB: scalars=0 would keep NO points
        "--die-after-stdin",  # dies with us even if we are SIGKILLed
        "--verbose",  # INFO logs: "Finished load cycle" is our load-complete signal
    ]
    if checksum:
        args.append("--checksum")
    return args


def worker_rust(logdir: str, checksum: bool) -> dict:
    import grpc
    import numpy as np
    from tensorboard.data.proto import data_provider_pb2 as pb
    from tensorboard.data.proto import data_provider_pb2_grpc as pb_grpc
    from tensorboard_data_server import server_binary

    binary = server_binary()
    binary = getattr(binary, "path", binary)
    tmp = tempfile.mkdtemp(prefix="tbbench_rust_")
    port_file = os.path.join(tmp, "port")
    log_path = os.path.join(tmp, "server.log")
    base = _vm_kb("self", "VmRSS")
    log = open(log_path, "wb")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        rust_server_args(binary, logdir, port_file, checksum),
        stdin=subprocess.PIPE,
        stdout=log,
        stderr=log,
    )
    channel = None
    try:
        # 1. wait for the port file and for the end of the (only) load cycle
        port = None
        loaded_at = None
        load_cpu = None
        deadline = time.monotonic() + WORKER_TIMEOUT
        while loaded_at is None:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"data server exited with {proc.returncode}: "
                    + Path(log_path).read_text(errors="replace")[-2000:]
                )
            if time.monotonic() > deadline:
                raise TimeoutError("data server did not finish loading")
            if port is None:
                try:
                    text = Path(port_file).read_text()
                    if text.endswith("\n"):
                        port = int(text)
                except OSError:
                    pass
            if "Finished load cycle" in Path(log_path).read_text(errors="replace"):
                loaded_at = time.perf_counter() - t0
                load_cpu = _cpu_seconds(proc.pid)
                break
            time.sleep(0.005)
        while port is None:  # the port file is written before loading starts, but be safe
            text = Path(port_file).read_text() if os.path.exists(port_file) else ""
            port = int(text) if text.endswith("\n") else None
            time.sleep(0.005)

        # 2. read everything back in one ReadScalars for every run and tag (no run filter: all
        # runs). One request per run would pay a fixed ~40 ms per call here (gRPC over local
        # TCP), 44 s for 1,000 runs, which measures the transport rather than the server.
        channel = grpc.insecure_channel(
            f"localhost:{port}",
            options=[("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)],
        )
        stub = pb_grpc.TensorBoardDataProviderStub(channel)
        runs = [r.name for r in stub.ListRuns(pb.ListRunsRequest(experiment_id="")).runs]
        points, total = 0, 0.0
        req = pb.ReadScalarsRequest(experiment_id="")
        req.plugin_filter.plugin_name = "scalars"
        req.downsample.num_points = 2**62  # k >= n: the server returns every point
        res = stub.ReadScalars(req)
        for run_entry in res.runs:
            for tag_entry in run_entry.tags:
                d = tag_entry.data
                values = np.asarray(d.value, dtype=np.float64)
                steps = np.asarray(d.step, dtype=np.int64)
                walls = np.asarray(d.wall_time, dtype=np.float64)
                assert steps.shape == walls.shape == values.shape
                points += values.shape[0]
                total += float(values.sum())
        seconds = time.perf_counter() - t0
        server_cpu = _cpu_seconds(proc.pid)
        server_hwm = _vm_kb(proc.pid, "VmHWM")
        client_hwm = _vm_kb("self", "VmHWM")
        return dict(
            points=points,
            sum=total,
            seconds=seconds,
            base_rss_kb=base,
            runs=len(runs),
            load_seconds=loaded_at,
            load_cpu_seconds=load_cpu,
            cpu_seconds=server_cpu,
            server_rss_kb=server_hwm,
            client_rss_kb=client_hwm,
            flags=" ".join(rust_server_args("server", "DIR", "FILE", checksum)[1:]),
        )
    finally:
        if channel is not None:
            channel.close()
        try:
            proc.stdin.close()  # --die-after-stdin
        except OSError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        for name in (port_file, log_path):
            try:
                os.unlink(name)
            except OSError:
                pass
        os.rmdir(tmp)


def worker_dask(logdir: str) -> dict:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        address = "dask://" + cluster.scheduler_address.removeprefix("tcp://")
        return worker_tbreport(logdir, verify_crc=True, executor=address)


def worker_s3(logdir: str) -> dict:
    """Upload the logdir to a moto S3 server started here, then time the read from it."""
    import shutil
    import socket

    import boto3

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(
        os.environ, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
    )  # fmt: skip
    server = subprocess.Popen(
        [shutil.which("moto_server") or "moto_server", "-H", "127.0.0.1", "-p", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        endpoint = f"http://127.0.0.1:{port}"
        os.environ.update(env, AWS_ENDPOINT_URL=endpoint)
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="bench")
        root = Path(logdir)
        name = root.name
        for path in sorted(root.rglob("*tfevents*")):
            client.upload_file(str(path), "bench", f"{name}/{path.relative_to(root).as_posix()}")
        return worker_tbreport(f"s3://bench/{name}", verify_crc=True)
    finally:
        server.terminate()
        server.wait(30)


def run_worker(tool: str, logdir: str) -> dict:
    if tool == "tbreport":
        return worker_tbreport(logdir, verify_crc=True)
    if tool == "tbreport-dask":
        return worker_dask(logdir)
    if tool == "tbreport-s3":
        return worker_s3(logdir)
    if tool == "tbreport-nocrc":
        return worker_tbreport(logdir, verify_crc=False)
    if tool == "eventacc":
        return worker_eventacc(logdir)
    if tool == "tbparse":
        return worker_tbparse(logdir)
    if tool == "rust":
        return worker_rust(logdir, checksum=False)
    if tool == "rust-crc":
        return worker_rust(logdir, checksum=True)
    raise SystemExit(f"unknown tool {tool}")


# =========================================================================== parent


def child_env() -> dict:
    env = dict(os.environ)
    # the repo checkout wins over any installed tbreport
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("PYTHONWARNINGS", "ignore")
    return env


def tbreport_problem() -> str | None:
    """None if tbreport.read_logdir is importable in a worker, else why not."""
    code = "import tbreport; tbreport.read_logdir"
    p = subprocess.run(
        [sys.executable, "-c", code], env=child_env(), capture_output=True, text=True
    )
    if p.returncode == 0:
        return None
    lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit {p.returncode}"


def spawn(tool: str, logdir: Path) -> dict:
    """Runs one worker; returns its JSON plus process wall time and the worker's peak RSS."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", tool, "--logdir", str(logdir)]
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=child_env())
        try:
            # os.wait4 gives this child's own rusage (RUSAGE_CHILDREN would be a max over all)
            deadline = time.monotonic() + WORKER_TIMEOUT
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    proc.kill()
                    pid, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.02)
        except BaseException:
            proc.kill()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    result_lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not result_lines:
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        return dict(error=f"exit {proc.returncode}\n{tail}", process_seconds=wall)
    res = json.loads(result_lines[-1])
    res["process_seconds"] = wall
    res["worker_rss_kb"] = usage.ru_maxrss  # KiB on Linux
    return res


def fmt_int(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def check(res: dict, manifest: dict | None, reference: dict | None) -> str:
    want = manifest or reference
    if want is None:
        return "ok"
    if res["points"] != want["points"]:
        return f"POINTS {res['points']:,} != {want['points']:,}"
    want_sum = want.get("value_sum", want.get("sum"))
    if not math.isclose(res["sum"], want_sum, rel_tol=REL_TOL, abs_tol=0.0):
        return f"SUM {res['sum']!r} != {want_sum!r}"
    return "ok"


def rss_mb(res: dict) -> float | None:
    kb = res.get("server_rss_kb") or res.get("worker_rss_kb")
    return None if kb is None else kb / 1024


def table(rows: list[dict]) -> str:
    head = (
        "| tool | preset | points | seconds | CPU s | points/s | peak RSS MB | vs tbreport "
        "| process s | check |"
    )
    lines = [head, "|" + "---|" * 10]
    ref = {r["preset"]: r for r in rows if r["tool"] == "tbreport" and "seconds" in r}
    for r in rows:
        if "seconds" not in r:
            lines.append(
                f"| {r['tool']} | {r['preset']} | - | - | - | - | - | - | - | "
                f"{r.get('skipped') or 'ERROR'} |"
            )
            continue
        base = ref.get(r["preset"])
        ratio = f"{r['seconds'] / base['seconds']:.2f}x" if base else "n/a"
        rss = rss_mb(r)
        cpu = f"{r['cpu_seconds']:.2f}" if r.get("cpu_seconds") is not None else "-"
        lines.append(
            f"| {r['tool']} | {r['preset']} | {fmt_int(r['points'])} | {r['seconds']:.2f} | "
            f"{cpu} | "
            f"{r['points'] / r['seconds']:,.0f} | {'-' if rss is None else f'{rss:,.0f}'} | "
            f"{ratio} | {r['process_seconds']:.2f} | {r['check']} |"
        )
    return "\n".join(lines)


def versions() -> str:
    parts = [f"Python {platform.python_version()}", f"{os.cpu_count()} CPUs"]
    try:
        from importlib.metadata import version

        for pkg in (
            "tensorboard",
            "tensorboard-data-server",
            "tbparse",
            "numpy",
            "protobuf",
            "grpcio",
        ):
            try:
                parts.append(f"{pkg} {version(pkg)}")
            except Exception:
                pass
    except ImportError:
        pass
    return ", ".join(parts)


def write_results(new_rows: list[dict]) -> Path:
    """Merges new rows into results/read.json (keyed by preset+tool) and rewrites read.md."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    store_path = RESULTS / "read.json"
    try:
        store = json.loads(store_path.read_text())
    except (OSError, ValueError):
        store = {}
    for r in new_rows:
        store[f"{r['preset']}/{r['tool']}"] = r
    store_path.write_text(json.dumps(store, indent=1) + "\n")
    order = {name: i for i, name in enumerate(TOOLS)}
    presets = {p: i for i, p in enumerate(make_logdir.PRESETS)}
    rows = sorted(
        store.values(), key=lambda r: (presets.get(r["preset"], 99), order.get(r["tool"], 99))
    )
    md = [
        "# Read benchmark",
        "",
        f"{versions()}.",
        "",
        "`seconds`: read time inside the worker, after imports; best of the repeats. "
        "`CPU s`: the CPU seconds (all threads) of that run: the worker's timed part, for "
        "Rust rows the data server process from start to the last reply (less sensitive to "
        "other load than seconds). "
        "`peak RSS`: the worker process (Rust rows: the data server process). "
        "`vs tbreport`: seconds / tbreport seconds (same preset). "
        "`process s`: the whole worker process, including interpreter start-up and imports. "
        "See bench/README.md.",
        "",
        table(rows),
        "",
    ]
    rust = [r for r in rows if r["tool"].startswith("rust") and "flags" in r]
    if rust:
        md += [
            "Rust data server flags: `" + rust[0]["flags"] + "`; 'loaded' = its "
            "`Finished load cycle` log line.",
            "",
        ]
        for r in rust:
            md.append(
                f"- {r['tool']} {r['preset']}: load cycle finished after "
                f"{r['load_seconds']:.2f}s"
                + (
                    f" ({r['load_cpu_seconds']:.2f} CPU s)"
                    if r.get("load_cpu_seconds") is not None
                    else ""
                )
                + ", gRPC read-back took "
                f"{r['seconds'] - r['load_seconds']:.2f}s"
                + (
                    f"; gRPC client process peak RSS {r['client_rss_kb'] / 1024:,.0f} MB"
                    if r.get("client_rss_kb")
                    else ""
                )
                + "."
            )
        md.append("")
    for r in rows:
        load = (
            f", 1-min load average before runs up to {r['max_load']:.1f} (includes the "
            "previous benchmark runs)"
            if "max_load" in r
            else ""
        )
        md.append(f"- {r['preset']}/{r['tool']} measured {r.get('when', '?')}{load}")
    out = RESULTS / "read.md"
    out.write_text("\n".join(md) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="1m", choices=[*make_logdir.PRESETS, "both"])
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool; the best is kept")
    ap.add_argument(
        "--tools", default=",".join(TOOLS), help=f"comma-separated subset of: {', '.join(TOOLS)}"
    )
    ap.add_argument(
        "--skip-slow",
        action="store_true",
        help=f"skip {', '.join(sorted(SLOW))} (about 2 minutes each on 8m)",
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--logdir", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a.worker:
        print(json.dumps(run_worker(a.worker, a.logdir)), flush=True)
        return 0

    tools = [t.strip() for t in a.tools.split(",") if t.strip()]
    unknown = [t for t in tools if t not in TOOLS]
    if unknown:
        ap.error(f"unknown tools {unknown}; choose from {list(TOOLS)}")
    if a.skip_slow:
        tools = [t for t in tools if t not in SLOW]
    problem = tbreport_problem() if any(t.startswith("tbreport") for t in tools) else None
    if problem:
        print(
            f"SKIPPING tbreport: `import tbreport; tbreport.read_logdir` fails: {problem}",
            file=sys.stderr,
        )

    if os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1):
        print(
            f"WARNING: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: "
            "other work is running, timings will be noisy",
            file=sys.stderr,
        )
    presets = ["1m", "8m"] if a.preset == "both" else [a.preset]
    all_rows: list[dict] = []
    failed = False
    for preset in presets:
        logdir = HERE / "data" / preset
        manifest = make_logdir.write_logdir(logdir, **make_logdir.PRESETS[preset])
        reference = None
        for tool in tools:
            row: dict = dict(
                tool=tool, preset=preset, when=dt.datetime.now().isoformat(timespec="seconds")
            )
            if tool.startswith("tbreport") and problem:
                row["skipped"] = "skipped: tbreport not importable"
                all_rows.append(row)
                continue
            best = None
            for i in range(a.repeat):
                load = os.getloadavg()[0]
                print(
                    f"[{preset}] {tool} run {i + 1}/{a.repeat} (load {load:.1f}) ...",
                    file=sys.stderr,
                    flush=True,
                )
                res = spawn(tool, logdir)
                res["load"] = load
                if "error" in res:
                    print(f"  ERROR: {res['error']}", file=sys.stderr)
                    best = res
                    break
                print(
                    f"  {res['points']:,} points in {res['seconds']:.2f}s "
                    f"(process {res['process_seconds']:.2f}s), "
                    f"peak RSS {rss_mb(res):,.0f} MB",
                    file=sys.stderr,
                    flush=True,
                )
                if best is None or res["seconds"] < best["seconds"]:
                    peak = max(res["worker_rss_kb"], (best or {}).get("worker_rss_kb", 0))
                    best = dict(res, worker_rss_kb=peak)
                else:
                    best["worker_rss_kb"] = max(best["worker_rss_kb"], res["worker_rss_kb"])
                best["max_load"] = max(best.get("max_load", 0.0), load)
            row.update(best)
            if "error" in best:
                failed = True
                row["skipped"] = "ERROR (see stderr)"
            else:
                row["check"] = check(best, manifest, reference)
                reference = reference or best
                if row["check"] != "ok":
                    failed = True
                    print(f"  MISMATCH: {row['check']}", file=sys.stderr)
            all_rows.append(row)
    print(table(all_rows))
    out = write_results(all_rows)
    print(f"\nwritten to {out.relative_to(REPO)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
