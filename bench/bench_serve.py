"""Live-preview benchmark: from a step's records appended on disk to the browser showing it,
with ``tbreport serve`` on the 1M-point logdir (issue 12's target: <= 1 s), next to what a
user does without serve (``tbreport build`` again, then reload the page).

    python bench/make_logdir.py --preset 1m
    python bench/bench_serve.py                  # 5 appends; --repeat N, --format jekyll

The logdir is copied to a temporary folder first (records are appended to its run_00). For
each append: one new step of every tag of run_00 (what a training step logs, framed as torch's
SummaryWriter frames it, fsync'd), then the time until headless Chromium (Playwright) has
loaded the reloaded page whose runs table shows that step ("shown"), and until its first
chart is drawn ("drawn"). The server's own rebuild time is read from /__tbreport/status.
Timings go in bench/README.md, not in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))

from make_logdir import frame, tag_names, varint  # noqa: E402


def scalar_event(wall_time: float, step: int, tag: str, value: float) -> bytes:
    """Event{wall_time, step, summary{value{tag, simple_value}}}, as torch writes it."""
    name = tag.encode()
    val = b"\x0a" + varint(len(name)) + name + b"\x15" + struct.pack("<f", value)
    summary = b"\x0a" + varint(len(val)) + val
    return (
        b"\x09"
        + struct.pack("<d", wall_time)
        + b"\x10"
        + varint(step)
        + b"\x2a"
        + varint(len(summary))
        + summary
    )


def append_step(event_file: Path, step: int, tags: list[str]) -> float:
    records = b"".join(frame(scalar_event(time.time(), step, t, 0.5)) for t in tags)
    start = time.perf_counter()
    with event_file.open("ab") as fh:
        fh.write(records)
        fh.flush()
        os.fsync(fh.fileno())
    return start


def start_serve(logdir: Path, fmt: str) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tbreport", "serve", str(logdir), "--port", "0", "--format", fmt],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        match = re.search(r"Serving (http://\S+)", line)
        if match:
            # keep draining stderr so the server never blocks on a full pipe
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
            return proc, match[1]
    raise SystemExit("tbreport serve did not start")


#: the post's first chart image, and every image of the post, loaded (a Jekyll preview)
FIRST_IMAGE = (
    "() => { const i = document.querySelector('main img');"
    " return !!i && i.complete && i.naturalWidth > 0 }"
)
EVERY_IMAGE = (
    "() => [...document.querySelectorAll('main img')].every(i => i.complete && i.naturalWidth > 0)"
)


def status(url: str) -> dict:
    with urllib.request.urlopen(url + "__tbreport/status", timeout=60) as response:
        return json.loads(response.read())


def cold_build(logdir: Path, fmt: str) -> float:
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "tbreport", "build", str(logdir), "--out", out, "-q"]
        start = time.perf_counter()
        subprocess.run(
            [*cmd, "--format", fmt], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
        )
        return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--format", default="html", choices=["html", "jekyll"])
    ap.add_argument("--preset", default="1m")
    args = ap.parse_args()
    source = HERE / "data" / args.preset
    if not (source / "bench_manifest.json").is_file():
        raise SystemExit(f"{source} missing: python bench/make_logdir.py --preset {args.preset}")
    manifest = json.loads((source / "bench_manifest.json").read_text())
    tags = tag_names(manifest["tags"])
    import sitecheck
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        logdir = Path(tmp) / "runs"
        shutil.copytree(source, logdir)
        (event_file,) = (logdir / "run_00").glob("events.out.tfevents.*")
        proc, url = start_serve(logdir, args.format)
        rows = []
        try:
            started = time.perf_counter()
            while status(url)["seconds"] is None:
                time.sleep(0.05)
            first = time.perf_counter() - started
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=sitecheck.chromium_path(), args=sitecheck.CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                page.goto(url)
                row = page.locator("main table").first.locator("tbody tr").first
                step = manifest["steps"]
                for _ in range(args.repeat):
                    time.sleep(1.0)  # quiet files: each append is measured on its own
                    want = f"–{step}"
                    # the page's text, before its images: a Jekyll preview's images come as drawn
                    with page.expect_event("domcontentloaded", timeout=60_000):
                        t0 = append_step(event_file, step, tags)
                    while want not in row.inner_text():  # an earlier build's reload
                        page.wait_for_event("domcontentloaded", timeout=60_000)
                    shown = time.perf_counter() - t0
                    drawn = every = None
                    if args.format == "html":
                        page.wait_for_selector(".tbr-chart[data-tbreport-state=drawn]")
                        drawn = time.perf_counter() - t0
                    else:
                        page.wait_for_function(FIRST_IMAGE, timeout=60_000, polling=10)
                        drawn = time.perf_counter() - t0
                        page.wait_for_function(EVERY_IMAGE, timeout=60_000, polling=10)
                        every = time.perf_counter() - t0
                    rows.append((shown, drawn, status(url)["seconds"], every))
                    step += 1
                browser.close()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
        cold = cold_build(logdir, args.format)
    shown = [r[0] for r in rows]
    lines = [
        f"`tbreport serve --format {args.format}` on {args.preset} "
        f"({manifest['points']:,} points), {args.repeat} appends of one step x "
        f"{len(tags)} tags to run_00:",
        "",
        "| measure | median s | max s |",
        "|---|---|---|",
        f"| appended -> page shows the step | {statistics.median(shown):.2f} | {max(shown):.2f} |",
    ]
    drawn = [r[1] for r in rows if r[1] is not None]
    what = "first chart drawn" if args.format == "html" else "first chart image loaded"
    lines.append(f"| appended -> {what} | {statistics.median(drawn):.2f} | {max(drawn):.2f} |")
    every = [r[3] for r in rows if r[3] is not None]
    if every:
        lines.append(
            f"| appended -> every chart image loaded | {statistics.median(every):.2f} | "
            f"{max(every):.2f} |"
        )
    rebuild = [r[2] for r in rows]
    lines += [
        f"| the server's rebuild (read + render) | {statistics.median(rebuild):.2f} | "
        f"{max(rebuild):.2f} |",
        f"| first build at start | {first:.2f} | |",
        f"| without serve: `tbreport build` again (end to end) | {cold:.2f} | |",
        "",
        f"Ratio, serve's append-to-shown over a rebuild with `tbreport build`: "
        f"{statistics.median(shown) / cold:.2f} (target: append-to-shown <= 1 s).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / f"serve-{args.format}.md").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
