"""The issue-12 numbers: incremental builds. ``tbreport build`` (html, end to end in a fresh
process) of the 1M- and 8M-point logdirs: cold without a cache, cold filling an empty cache, an
unchanged rebuild, and a rebuild after appending 1% more records to every run's file.

    python bench/bench_cache.py                 # 1m and 8m
    python bench/bench_cache.py --preset 1m --repeat 3
    python bench/bench_cache.py --profile       # also a pyinstrument profile of the warm build

The logdir is copied to a temporary folder first (the appends must not touch bench/data), the
appended records are what make_logdir writes for the next 1% of steps (whole records, the same
layout), and the ratios are against the cold build without a cache in the same run. Beside
them, the floors of any build in a fresh process: the interpreter's start and the imports a
rebuild cannot skip (numpy; matplotlib when a chart is drawn again). The table is printed and
written to bench/results/cache.md.
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


def _run(args: list[str], cwd: Path, prefix: list[str] | None = None) -> tuple[float, int]:
    """Seconds and the child's peak RSS (MB) of one ``python -m tbreport`` run."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*(prefix or [sys.executable]), "-m", "tbreport", *args],
        cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"tbreport {' '.join(args)} failed")
    return seconds, int(usage.ru_maxrss / 1024)  # KB on Linux


EXTRA: list[str] = []  # more build options (--options), the same for every build


def _build(logs: Path, out: Path, cache: Path | None, cwd: Path) -> tuple[float, int]:
    args = ["build", str(logs), "--out", str(out), "--format", "html", "--quiet", "--date", DATE]
    args += EXTRA
    args += ["--no-cache"] if cache is None else ["--cache", str(cache)]
    return _run(args, cwd)


#: what any build in a fresh process pays before it reads a record: the floor of a rebuild
FLOORS = {
    "python3 -c pass (the interpreter alone)": "pass",
    "python3 -c 'import numpy' (every build reads numpy arrays)": "import numpy",
    "python3 -c 'import numpy, jinja2, click'": "import numpy, jinja2, click",
    "python3 -c 'import matplotlib Agg' (a chart is drawn again)": (
        "import matplotlib.figure, matplotlib.backends.backend_agg, matplotlib.font_manager"
    ),
}


def _floor(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def _appended(preset: dict) -> dict[str, bytes]:
    """Per run file: the records make_logdir writes for the next 1% of steps."""
    out = {}
    steps = preset["steps"]
    more = steps + max(1, steps // 100)
    for r in range(preset["runs"]):
        now, _, _ = make_logdir.build_run_bytes(r, preset["tags"], steps)
        grown, _, _ = make_logdir.build_run_bytes(r, preset["tags"], more)
        out[f"run_{r:02d}"] = grown[len(now) :]  # same record lengths: whole records
    return out


def bench(name: str, repeat: int, profile: bool) -> list[str]:
    preset = make_logdir.PRESETS[name]
    source = HERE / "data" / name
    manifest = make_logdir.write_logdir(source, **preset)
    work = Path(tempfile.mkdtemp(prefix=f"tbreport-cache-{name}-"))
    try:
        logs = work / "logs"
        shutil.copytree(source, logs)
        files = {p.parent.name: p for p in logs.glob("run_*/events.out.tfevents.*")}
        sizes = {run: p.stat().st_size for run, p in files.items()}
        extra = _appended(preset)
        cache = work / "cache"
        rows = []

        def best(label: str, fn) -> float:
            got = [fn() for _ in range(repeat)]
            seconds = min(s for s, _ in got)
            rows.append((label, seconds, max(m for _, m in got)))
            print(f"{name}: {label}: {seconds:.2f} s", flush=True)
            return seconds

        counter = iter(range(10_000))
        cold = best(
            "cold, --no-cache", lambda: _build(logs, work / f"o{next(counter)}", None, work)
        )
        seconds, rss = _build(logs, work / "out", cache, work)
        rows.append(("cold, filling an empty cache", seconds, rss))
        print(f"{name}: cold into an empty cache: {seconds:.2f} s", flush=True)
        warm = best("unchanged rebuild", lambda: _build(logs, work / "out", cache, work))
        if profile:
            _run(
                ["build", str(logs), "--out", str(work / "out"), "--format", "html", "--quiet",
                 "--date", DATE, "--cache", str(cache)],
                work,
                [sys.executable, "-m", "pyinstrument", "-o",
                 str(HERE / "results" / f"warm-{name}.txt")],
            )  # fmt: skip
        snapshot = work / "cache-snapshot"
        shutil.copytree(cache, snapshot)

        def after_append() -> tuple[float, int]:
            # the same starting point each time: the cache of the unchanged logdir, then 1% more
            shutil.rmtree(cache)
            shutil.copytree(snapshot, cache)
            for run, path in files.items():
                with open(path, "r+b") as fh:
                    fh.truncate(sizes[run])
                    fh.seek(0, 2)
                    fh.write(extra[run])
            return _build(logs, work / "out", cache, work)

        grown = best("after appending 1% more records", after_append)
        cold_grown, rss = _build(logs, work / "o-grown", None, work)
        rows.append(("cold after the append, --no-cache", cold_grown, rss))
        floors = [
            (label, min(_floor(code) for _ in range(repeat))) for label, code in FLOORS.items()
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    points = manifest["points"]
    lines = [
        f"### {name}: {points:,} points, {manifest['bytes'] / 1e6:.0f} MB",
        "",
        "| build | seconds | peak RSS MB |",
        "|---|---:|---:|",
        *(f"| {label} | {s:.2f} | {m} |" for label, s, m in rows),
        "",
        f"unchanged rebuild / cold: **{warm / cold:.1%}**; after a 1% append / cold: "
        f"**{grown / cold:.1%}** (/ the cold build of the grown logdir: "
        f"{grown / cold_grown:.1%})",
        "",
        "Floors, in the same run (best of the repeats; / the cold build):",
        "",
        "| a fresh process | seconds | / cold |",
        "|---|---:|---:|",
        *(f"| {label} | {s:.3f} | {s / cold:.1%} |" for label, s in floors),
        "",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", choices=["1m", "8m", "both"], default="both")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--profile", action="store_true", help="pyinstrument the warm build")
    ap.add_argument("--options", default="", help="more build options, e.g. '--format jekyll'")
    args = ap.parse_args(argv)
    EXTRA[:] = args.options.split()
    (HERE / "results").mkdir(exist_ok=True)
    names = ["1m", "8m"] if args.preset == "both" else [args.preset]
    lines: list[str] = []
    for name in names:
        lines += bench(name, args.repeat, args.profile)
    text = "\n".join(lines)
    print(text)
    (HERE / "results" / "cache.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
