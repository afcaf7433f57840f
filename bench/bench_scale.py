"""The issue-11 scale numbers for the CLI: `tbreport ls` and `tbreport build` on the sweeps of
many small runs (1k-runs: 1,000 runs x 5 tags x 200 steps; 20k-runs: 20,000 one-record runs),
end to end in a fresh process each (interpreter start and imports included), best of
--repeat, with the child's peak RSS. The reads themselves, next to the Rust data server and
EventAccumulator, are in bench_read.py.

    python bench/bench_scale.py --repeat 2
    python bench/bench_scale.py --preset 20k-runs --against /tmp/tbreport-base
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import make_logdir  # noqa: E402
from bench_targets import _run  # noqa: E402  (one child-process timer for both)

DATE = "2021-05-24 20:41:00 -0400"
#: the issue's targets for 20k-runs (seconds, MB); None: no target
TARGETS = {("20k-runs", "ls"): (5.0, None), ("20k-runs", "build"): (30.0, 1024)}


def _case(root: Path, args: list[str], repeat: int) -> tuple[float, float, int, float]:
    """Best seconds, least CPU seconds, peak RSS (MB) and the size of what was written (MB)
    over ``repeat`` runs."""
    best, cpu, rss, size = float("inf"), float("inf"), 0, 0.0
    for _ in range(repeat):
        tmp = Path(tempfile.mkdtemp(prefix="tbreport-scale-"))
        try:
            out = ["--out", str(tmp / "site"), "--quiet", "--date", DATE]
            seconds, peak, used = _run(root, [*args, *out] if args[0] == "build" else args, tmp)
            best, cpu, rss = min(best, seconds), min(cpu, used), max(rss, peak)
            if (tmp / "site").exists():
                size = sum(p.stat().st_size for p in (tmp / "site").rglob("*") if p.is_file())
                size /= 1e6
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return best, cpu, rss, size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--preset", choices=["1k-runs", "20k-runs", "both"], default="both")
    ap.add_argument("--against", type=Path, help="another checkout, measured interleaved")
    ap.add_argument(
        "--commands", default="ls,build,build --group,build --format jekyll",
        help="comma-separated subset of the commands",
    )  # fmt: skip
    args = ap.parse_args(argv)
    presets = ["1k-runs", "20k-runs"] if args.preset == "both" else [args.preset]
    roots = [("this", ROOT)] + ([("against", args.against)] if args.against else [])
    lines = [
        "| logdir | command | tree | seconds | CPU s | peak RSS MB | output MB | target |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for preset in presets:
        logdir = HERE / "data" / preset
        make_logdir.write_logdir(logdir, **make_logdir.PRESETS[preset])
        cases = [
            ("ls", ["ls", str(logdir)]),
            ("build", ["build", str(logdir)]),
            # the readable report of a sweep: runs grouped (here by all but the last digit)
            ("build --group", ["build", str(logdir), "--group", r"\d$"]),
            ("build --format jekyll", ["build", str(logdir), "--format", "jekyll"]),
        ]
        wanted = {c.strip() for c in args.commands.split(",")}
        for name, cmd in cases:
            if name not in wanted:
                continue
            for label, root in roots:
                seconds, cpu, rss, size = _case(root, cmd, args.repeat)
                target = TARGETS.get((preset, name))
                verdict = ""
                if target is not None:
                    ok = seconds <= target[0] and (target[1] is None or rss <= target[1])
                    limit = f"<= {target[0]:g} s" + (f", <= {target[1]} MB" if target[1] else "")
                    verdict = f"{limit}: {'met' if ok else 'NOT met'}"
                out_mb = f"{size:.1f}" if size else ""
                lines.append(
                    f"| {preset} | `{name}` | {label} | {seconds:.2f} | {cpu:.2f} | {rss} | "
                    f"{out_mb} | {verdict} |"
                )
                print(lines[-1], flush=True)
    load = os.getloadavg()[0]
    text = "\n".join(lines) + f"\n\n1-minute load average at the end: {load:.1f}.\n"
    print(text)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "scale.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
