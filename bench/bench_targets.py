"""The issue-10 numbers: html build time, size and peak RSS on the 1M-point logdir and on 500
tags x 4 runs x 1,000 steps (default and --fallback none), and `tbreport demo`, end to end.

Each build runs in a fresh process (interpreter start and imports included), best of --repeat;
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


def _run(root: Path, args: list[str], cwd: Path) -> tuple[float, int]:
    """Seconds and the child's peak RSS (MB) of one ``python -m tbreport`` run."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tbreport", *args],
        cwd=cwd, env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args} failed under {root}")
    return seconds, int(usage.ru_maxrss / 1024)  # KB on Linux


def _build(root: Path, logdir: Path, extra: list[str], repeat: int) -> tuple[float, float, int]:
    best, size, rss = float("inf"), 0.0, 0
    for _ in range(repeat):
        out = Path(tempfile.mkdtemp(prefix="tbreport-bench-"))
        try:
            args = ["build", str(logdir), "--out", str(out / "site"), "--format", "html",
                    "--quiet", "--date", DATE, *extra]  # fmt: skip
            seconds, peak = _run(root, args, out)
            best = min(best, seconds)
            rss = max(rss, peak)
            size = (out / "site" / "index.html").stat().st_size / 1e6
        finally:
            shutil.rmtree(out, ignore_errors=True)
    return best, size, rss


def _demo(root: Path, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        out = Path(tempfile.mkdtemp(prefix="tbreport-demo-"))
        try:
            seconds, _ = _run(root, ["demo", "--quiet"], out)
            best = min(best, seconds)
        finally:
            shutil.rmtree(out, ignore_errors=True)
    return best


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
    lines = ["| case | tree | seconds | index.html MB | peak RSS MB |", "|---|---|---:|---:|---:|"]
    for name, logdir, extra in cases:
        for label, root in roots:
            seconds, size, rss = _build(root, logdir, extra, args.repeat)
            lines.append(f"| {name} | {label} | {seconds:.2f} | {size:.1f} | {rss} |")
            print(lines[-1], flush=True)
    for label, root in roots:
        lines.append(f"| `tbreport demo` | {label} | {_demo(root, args.repeat):.2f} | | |")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "targets.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
