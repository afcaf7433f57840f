"""Read benchmark for non-scalar data: 200 histogram tags x 1,000 steps and 50 image tags x 100
steps in one run, read in the same run by tbreport, EventAccumulator (every sample kept) and
TensorBoard's Rust data server (--samples-per-plugin histograms=all,images=all), each in a
fresh process. Compare ratios within one run, not seconds across runs (a shared machine).

    python bench/bench_kinds.py            # makes bench/data/kinds once, then measures
    python bench/bench_kinds.py --steps 50 # a smaller logdir (bench/data/kinds-50)

The histograms are TensorBoard's own summary_v2.histogram_pb (what tf.summary.histogram
writes: a DT_DOUBLE [30, 3] tensor), metadata on each tag's first record only as TF's writer
does; the images are torch.utils.tensorboard.summary.image (TF1 Summary.Image, PNG), written
with tensorboard's EventFileWriter.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from bench_read import WORKER_TIMEOUT, _vm_kb, child_env  # noqa: E402

HIST_TAGS, IMAGE_TAGS, IMAGE_STEPS = 200, 50, 100


def make_logdir(out: Path, steps: int) -> None:
    import numpy as np
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.plugins.histogram.summary_v2 import histogram_pb
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from torch.utils.tensorboard.summary import image

    if (out / "done").exists():
        return
    run = out / "run"
    run.mkdir(parents=True, exist_ok=True)
    writer = EventFileWriter(str(run), max_queue_size=1000)
    rng = np.random.RandomState(0)
    wall = 1_700_000_000.0
    for step in range(steps):
        for t in range(HIST_TAGS):
            summary = histogram_pb(f"layer{t:03d}/weights", rng.randn(100) * (1 + step / steps))
            if step:  # TF's writer sends a tag's metadata once
                summary.value[0].ClearField("metadata")
            wall += 0.001
            writer.add_event(Event(wall_time=wall, step=step, summary=summary))
        if step < IMAGE_STEPS:
            for t in range(IMAGE_TAGS):
                pixels = rng.rand(3, 32, 32).astype(np.float32)
                wall += 0.001
                summary = image(f"samples/{t:02d}", pixels, dataformats="CHW")
                writer.add_event(Event(wall_time=wall, step=step, summary=summary))
    writer.close()
    (out / "done").write_text("ok\n")


def worker_tbreport(logdir: str) -> dict:
    import numpy as np

    from tbreport.read import read_logdir

    t0 = time.perf_counter()
    data = read_logdir(logdir)
    hist = total = images = 0
    for run in data.runs:
        for h in run.histograms.values():
            hist += len(h)
            total += float(np.sum(h.buckets[:, 2]))
        images += sum(len(r) for r in run.tensors.values() if r.plugin == "images")
    return dict(histograms=hist, count_sum=total, images=images, seconds=time.perf_counter() - t0)


def worker_eventacc(logdir: str) -> dict:
    import numpy as np
    from tensorboard.backend.event_processing import plugin_event_accumulator as pea
    from tensorboard.util import tensor_util

    t0 = time.perf_counter()
    acc = pea.EventAccumulator(f"{logdir}/run", size_guidance={pea.TENSORS: 0})
    acc.Reload()
    hist = total = images = 0
    for tag in acc.Tags()["tensors"]:
        plugin = acc.SummaryMetadata(tag).plugin_data.plugin_name
        events = acc.Tensors(tag)
        if plugin == "histograms":
            for e in events:
                total += float(np.sum(tensor_util.make_ndarray(e.tensor_proto)[:, 2]))
            hist += len(events)
        elif plugin == "images":
            images += len(events)
    return dict(histograms=hist, count_sum=total, images=images, seconds=time.perf_counter() - t0)


def worker_rust(logdir: str) -> dict:
    import grpc
    import numpy as np
    from tensorboard.data.proto import data_provider_pb2 as pb
    from tensorboard.data.proto import data_provider_pb2_grpc as pb_grpc
    from tensorboard.util import tensor_util
    from tensorboard_data_server import server_binary

    binary = server_binary()
    binary = getattr(binary, "path", binary)
    tmp = tempfile.mkdtemp(prefix="tbbench_kinds_")
    port_file, log_path = os.path.join(tmp, "port"), os.path.join(tmp, "log")
    log = open(log_path, "wb")
    args = [binary, "--logdir", logdir, "--port", "0", "--port-file", port_file]
    args += ["--reload", "once", "--samples-per-plugin", "histograms=all,images=all"]
    args += ["--die-after-stdin", "--verbose"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + WORKER_TIMEOUT
        while "Finished load cycle" not in Path(log_path).read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(Path(log_path).read_text(errors="replace")[-2000:])
            time.sleep(0.005)
        port = int(Path(port_file).read_text())
        opts = [("grpc.max_receive_message_length", -1)]
        channel = grpc.insecure_channel(f"localhost:{port}", options=opts)
        stub = pb_grpc.TensorBoardDataProviderStub(channel)
        req = pb.ReadTensorsRequest(experiment_id="")
        req.plugin_filter.plugin_name = "histograms"
        req.downsample.num_points = 2**62
        hist = total = 0
        for run in stub.ReadTensors(req).runs:
            for tag in run.tags:
                for proto in tag.data.value:
                    total += float(np.sum(tensor_util.make_ndarray(proto)[:, 2]))
                hist += len(tag.data.step)
        breq = pb.ReadBlobSequencesRequest(experiment_id="")
        breq.plugin_filter.plugin_name = "images"
        breq.downsample.num_points = 2**62
        images = sum(
            len(tag.data.step) for run in stub.ReadBlobSequences(breq).runs for tag in run.tags
        )
        seconds = time.perf_counter() - t0
        channel.close()
        return dict(
            histograms=hist,
            count_sum=total,
            images=images,
            seconds=seconds,
            server_rss_kb=_vm_kb(proc.pid, "VmHWM"),
        )
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        log.close()


WORKERS = {"tbreport": worker_tbreport, "eventacc": worker_eventacc, "rust": worker_rust}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--worker", choices=sorted(WORKERS))
    ap.add_argument("--logdir")
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args.logdir)))
        return 0
    logdir = HERE / "data" / ("kinds" if args.steps == 1000 else f"kinds-{args.steps}")
    # in a process of its own: a worker forked from a parent that imported torch would count
    # the parent's memory in its peak RSS
    code = f"import bench_kinds as b; b.make_logdir(b.Path({str(logdir)!r}), {args.steps})"
    subprocess.run([sys.executable, "-c", code], cwd=HERE, check=True, env=child_env())
    rows = []
    for tool in ("tbreport", "rust", "eventacc"):
        res = spawn_kinds(tool, logdir)
        rows.append((tool, res))
        print(tool, json.dumps(res), flush=True)
    base = rows[0][1]["seconds"]
    print("| tool | histograms | images | seconds | peak RSS MB | vs tbreport |")
    print("|---|---:|---:|---:|---:|---:|")
    for tool, r in rows:
        rss = (r.get("server_rss_kb") or r["worker_rss_kb"]) / 1024
        print(
            f"| {tool} | {r['histograms']:,} | {r['images']:,} | {r['seconds']:.2f} | "
            f"{rss:,.0f} | {r['seconds'] / base:.2f}x |"
        )
    return 0


def spawn_kinds(tool: str, logdir: Path) -> dict:
    """One worker in a fresh process; its JSON line plus its peak RSS (from wait4)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", tool, "--logdir", str(logdir)]
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, env=child_env())
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode()
    if proc.returncode:
        raise SystemExit(f"{tool} failed with exit {proc.returncode}")
    res = json.loads(text.strip().splitlines()[-1])
    res["worker_rss_kb"] = usage.ru_maxrss
    return res


if __name__ == "__main__":
    raise SystemExit(main())
