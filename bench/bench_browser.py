"""Browser benchmark of the interactive HTML report: first-chart-interactive time and hover
frame time, measured with the Performance API in headless Chromium (Playwright, file://).

    python bench/make_logdir.py --preset 1m
    python bench/bench_browser.py                    # builds bench/data/1m into /tmp/...
    python bench/bench_browser.py --report path/index.html --repeat 5

"First chart interactive": from navigation start to the first chart drawn with its hover
handler attached (``data-tbreport-state="drawn"``, polled every animation frame).
"Hover frame": a mousemove on a chart until the next animation frame has painted, over 200
positions across each of the first charts in view; "hover work": the handler plus the style
recalculation and layout it causes (forced right after it), the main-thread part of a frame
(the frame itself is at least 16.7 ms at 60 Hz, so "to next frame" cannot go below it).
Timings go in bench/README.md, not in tests.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

FIRST_DRAWN_JS = """() => new Promise(resolve => {
  const poll = () => document.querySelector('.tbr-chart[data-tbreport-state=drawn]')
    ? resolve(performance.now()) : requestAnimationFrame(poll);
  poll();
})"""

HOVER_JS = """async (n) => {
  const overs = Array.from(document.querySelectorAll('.tbr-chart .u-over'));
  const frame = () => new Promise(r => requestAnimationFrame(() => r()));
  const times = [];
  for (const over of overs.slice(0, 3)) {
    const box = over.getBoundingClientRect();
    if (box.bottom < 0 || box.top > innerHeight) continue;
    for (let i = 0; i < n; i++) {
      const x = box.left + (i + 0.5) * box.width / n, y = box.top + box.height / 2;
      await frame();  // start at a frame boundary: the next frame then holds the move's work
      const t0 = performance.now();
      over.dispatchEvent(new MouseEvent('mousemove', {clientX: x, clientY: y, bubbles: true}));
      const t1 = performance.now();
      // the style and layout the move caused, done now instead of in the next frame
      over.closest('.tbr-chart').getBoundingClientRect();
      document.body.offsetHeight;
      const t2 = performance.now();
      await frame();
      times.push([t1 - t0, performance.now() - t0, t2 - t0]);
    }
  }
  return times;
}"""


def build_report(out: Path, extra: list[str]) -> Path:
    logdir = HERE / "data" / "1m"
    if not logdir.is_dir():
        sys.exit(f"{logdir} missing: run python bench/make_logdir.py --preset 1m")
    cmd = [
        sys.executable,
        "-m",
        "tbreport",
        "build",
        str(logdir),
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]
    subprocess.run(cmd, check=True)
    return out / "index.html"


def measure(report: Path, repeat: int) -> None:
    from playwright.sync_api import sync_playwright

    url = report.resolve().as_uri()
    first, hover = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for _ in range(repeat):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url, wait_until="commit")
            first.append(page.evaluate(FIRST_DRAWN_JS))
            page.wait_for_load_state("load")
            hover.extend(page.evaluate(HOVER_JS, 200))
            page.close()
        browser.close()
    size = report.stat().st_size / 1e6
    print(f"report: {report} ({size:.1f} MB)")
    print(f"first chart interactive: median {statistics.median(first):.0f} ms "
          f"(min {min(first):.0f}, max {max(first):.0f}; {repeat} loads)")  # fmt: skip
    for name, k in (
        ("hover handler (readout + crosshair)", 0),
        ("hover work (handler + the style and layout it causes)", 2),
        ("hover to next frame", 1),
    ):
        times = sorted(t[k] for t in hover)
        p95 = times[int(len(times) * 0.95) - 1]
        print(f"{name}: median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, "
              f"max {times[-1]:.1f} ms ({len(times)} moves)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--report", type=Path, help="an index.html (default: build the 1M report)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("build_args", nargs="*", help="extra build flags, e.g. -- --fallback none")
    args = ap.parse_args()
    if args.report is None:
        with tempfile.TemporaryDirectory() as tmp:
            measure(build_report(Path(tmp) / "report", args.build_args), args.repeat)
    else:
        measure(args.report, args.repeat)


if __name__ == "__main__":
    main()
