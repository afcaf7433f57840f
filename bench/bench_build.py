"""Time `tbreport build` end to end on the 1M-point logdir (4 runs x 25 tags x 10k steps).

Each format is built in a fresh subprocess (interpreter start and imports included, as a user
sees it), best of --repeat; then one in-process build is split into its stages.
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
sys.path.insert(0, str(ROOT))

import make_logdir  # noqa: E402


def _cli_seconds(logdir: Path, fmt: str, image_format: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        out = Path(tempfile.mkdtemp(prefix="tbreport-bench-"))
        try:
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "tbreport", "build", str(logdir), "--out", str(out / "site"),
                 "--format", fmt, "--image-format", image_format, "--quiet",
                 "--date", "2021-05-24 20:41:00 -0400"],
                check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            )  # fmt: skip
            best = min(best, time.perf_counter() - start)
        finally:
            shutil.rmtree(out, ignore_errors=True)
    return best


def _stages(logdir: Path) -> list[tuple[str, float]]:
    from tbreport.charts import ChartPool
    from tbreport.kinds.scalars import chart_csv
    from tbreport.options import Options
    from tbreport.read import read_logdir
    from tbreport.report import build_report

    options = Options(runs_dir=str(logdir), quiet=True)
    times = []
    t = time.perf_counter()
    logdir_data = read_logdir(logdir)
    times.append(("read (CRC checked)", time.perf_counter() - t))
    t = time.perf_counter()
    report = build_report(logdir_data, options)
    times.append(("transform (smooth, thin, summaries)", time.perf_counter() - t))
    t = time.perf_counter()
    with ChartPool() as pool:
        pool.draw(report.charts)
    drew = f"charts ({len(report.charts)} PNG, {os.cpu_count()} processes)"
    times.append((drew, time.perf_counter() - t))
    t = time.perf_counter()
    for chart in report.charts:
        chart_csv(chart)
    times.append(("plotted data (CSV)", time.perf_counter() - t))
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    logdir = HERE / "data" / "1m"
    make_logdir.write_logdir(logdir, **make_logdir.PRESETS["1m"])
    rows = []
    for fmt, image_format in (("html", "png"), ("jekyll", "png"), ("html", "svg")):
        seconds = _cli_seconds(logdir, fmt, image_format, args.repeat)
        command = f"tbreport build --format {fmt} --image-format {image_format}"
        rows.append(f"| `{command}` | {seconds:.2f} |")
    lines = [
        "| command (1M points: 4 runs x 25 tags x 10k steps) | seconds, end to end |",
        "|---|---|",
        *rows,
    ]
    lines += ["", "| stage (in-process, imports done) | seconds |", "|---|---|"]
    lines += [f"| {name} | {sec:.2f} |" for name, sec in _stages(logdir)]
    text = "\n".join(lines) + "\n"
    print(text)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "build.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
