"""The issue-10 numbers: html build time, size and peak RSS on the 1M-point logdir and on 500
tags x 4 runs x 1,000 steps (default and --fallback none), and `tbreport demo`, end to end.

Every run is cold, as a first-time user's: a fresh empty cache folder per run (``--cache``, and
``XDG_CACHE_HOME`` for ``demo``), so no decoded file or chart image is kept from an earlier run.
Each build runs in a fresh process (interpreter start and imports included), best of --repeat
(seconds, and CPU seconds of the process and its chart workers: steadier than wall time on a
shared machine; "load" is the 1-minute load average as the case starts);
with --against DIR the same builds of another checkout run in the same session, interleaved,
so ratios compare like with like on this shared machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import make_logdir  # noqa: E402

DATE = "2021-05-24 20:41:00 -0400"


def _run(root: Path, args: list[str], cwd: Path) -> tuple[float, int, float]:
    """Seconds, the child's peak RSS (MB) and CPU seconds (user + system, with the chart
    workers it waited for) of one ``python -m tbreport`` run, with an empty cache folder
    (``cwd/cache``, made here) for whatever it caches by default."""
    cache = cwd / "cache"
    cache.mkdir()
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tbreport", *args],
        cwd=cwd, env={**os.environ, "PYTHONPATH": str(root), "XDG_CACHE_HOME": str(cache)},
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args} failed under {root}")
    return seconds, int(usage.ru_maxrss / 1024), usage.ru_utime + usage.ru_stime  # KB on Linux


def _build(
    root: Path, logdir: Path, extra: list[str], repeat: int
) -> tuple[float, float, int, float]:
    best, size, rss, cpu = float("inf"), 0.0, 0, float("inf")
    for _ in range(repeat):
        out = Path(tempfile.mkdtemp(prefix="tbreport-bench-"))
        try:
            args = ["build", str(logdir), "--out", str(out / "site"), "--format", "html",
                    "--quiet", "--date", DATE, "--cache", str(out / "cache"), *extra]  # fmt: skip
            seconds, peak, used = _run(root, args, out)
            best = min(best, seconds)
            cpu = min(cpu, used)
            rss = max(rss, peak)
            size = (out / "site" / "index.html").stat().st_size / 1e6
        finally:
            shutil.rmtree(out, ignore_errors=True)
    return best, size, rss, cpu


def _demo(root: Path, repeat: int) -> tuple[float, float]:
    best, cpu = float("inf"), float("inf")
    for _ in range(repeat):
        out = Path(tempfile.mkdtemp(prefix="tbreport-demo-"))
        try:
            seconds, _, used = _run(root, ["demo", "--quiet"], out)
            best, cpu = min(best, seconds), min(cpu, used)
        finally:
            shutil.rmtree(out, ignore_errors=True)
    return best, cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--against", type=Path, help="another checkout (e.g. /work/main)")
    args = ap.parse_args(argv)
    big = HERE / "data" / "1m"
    make_logdir.write_logdir(big, **make_logdir.PRESETS["1m"])
    wide = HERE / "data" / "500tags"
    make_logdir.write_logdir(wide, runs=4, tags=500, steps=1_000)
    roots = [("this", ROOT)] + ([("against", args.against)] if args.against else [])
    cases = [
        ("1M points, default", big, []),
        ("1M points, --fallback none", big, ["--fallback", "none"]),
        ("500 tags x 4 runs x 1k steps, --fallback none", wide, ["--fallback", "none"]),
        ("500 tags x 4 runs x 1k steps, default", wide, []),
    ]
    lines = [
        "| case (cold: empty cache) | tree | seconds | CPU s | index.html MB | peak RSS MB "
        "| load |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, logdir, extra in cases:
        for label, root in roots:
            load = os.getloadavg()[0]
            seconds, size, rss, cpu = _build(root, logdir, extra, args.repeat)
            cells = [name, label, f"{seconds:.2f}", f"{cpu:.2f}", f"{size:.1f}", rss, f"{load:.1f}"]
            lines.append("| " + " | ".join(map(str, cells)) + " |")
            print(lines[-1], flush=True)
    for label, root in roots:
        load = os.getloadavg()[0]
        seconds, cpu = _demo(root, args.repeat)
        lines.append(f"| `tbreport demo` | {label} | {seconds:.2f} | {cpu:.2f} | | | {load:.1f} |")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "targets.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
