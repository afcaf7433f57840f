"""The built-in example: the two runs of the "PyTorch + Tensorboard (quick-start)" article,
written to a folder and built into a report (``tbreport demo``).

Writes the records ``writer.add_scalar(tag, value, n)`` of torch's SummaryWriter produces
(TensorBoard's Event protos in TFRecord framing, as its EventFileWriter writes them), framed
here: importing ``tensorboard.summary`` for its writer takes longer than the rest of the demo.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import struct
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tbreport.errors import TbreportError

if TYPE_CHECKING:
    from tbreport.pipeline import BuildResult

#: the article's front matter date: the demo report carries it, so reruns give the same bytes
ARTICLE_DATE = dt.datetime(2021, 5, 24, 20, 41, tzinfo=dt.timezone(dt.timedelta(hours=-4)))

#: run -> tag -> f(n), for n in 0..99
QUICKSTART = {
    "run_1": {"tutorial/line": lambda n: 2 * n, "tutorial/poly": lambda n: n**2},
    "run_2": {"tutorial/line": lambda n: 1.5 * n - 5, "tutorial/poly": lambda n: n**2 - 100 * n},
}


def has_quickstart_runs(logdir: Path) -> bool:
    """True when every demo run folder already holds event files (an earlier demo's)."""
    return all(
        (logdir / run).is_dir() and any("tfevents" in p.name for p in (logdir / run).iterdir())
        for run in QUICKSTART
    )


def write_quickstart_runs(logdir: Path, steps: int = 100) -> list[Path]:
    """Write run_1 and run_2 under ``logdir``; refuse to mix with event files already there."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary

    written = []
    for run, tags in QUICKSTART.items():
        run_dir = logdir / run
        if run_dir.is_dir() and any("tfevents" in p.name for p in run_dir.iterdir()):
            raise TbreportError(
                f"'{run_dir}' already holds event files; the demo writes new runs only. "
                "Give an empty or new folder: tbreport demo DIR"
            )
        run_dir.mkdir(parents=True, exist_ok=True)
        start = time.time()
        events = [Event(wall_time=start, file_version="brain.Event:2")]
        for n in range(steps):
            for tag, fn in tags.items():
                summary = Summary(value=[Summary.Value(tag=tag, simple_value=float(fn(n)))])
                # wall times a tenth of a second apart, like a short training loop
                events.append(Event(wall_time=start + n * 0.1, step=n, summary=summary))
        # EventFileWriter's name: events.out.tfevents.<seconds>.<host>.<pid>.<counter>
        name = f"events.out.tfevents.{int(start):010d}.{socket.gethostname()}.{os.getpid()}.0"
        (run_dir / name).write_bytes(b"".join(_record(e.SerializeToString()) for e in events))
        written.append(run_dir)
    return written


def _record(data: bytes) -> bytes:
    """One TFRecord: length, its masked CRC32C, the data, its masked CRC32C."""
    from tbreport.read.records import masked_crc32c

    length = struct.pack("<Q", len(data))
    return (
        length
        + struct.pack("<I", masked_crc32c(length))
        + data
        + struct.pack("<I", masked_crc32c(data))
    )


def run_demo(root: Path, format: str = "html", quiet: bool = False) -> tuple[BuildResult, bool]:
    """Write the runs under ``root/runs`` (unless an earlier demo did) and build ``root/site``.

    Returns the build's result and whether the runs of an earlier demo were reused.
    """
    from tbreport.options import Options
    from tbreport.pipeline import build

    reused = has_quickstart_runs(root / "runs")
    if not reused:
        write_quickstart_runs(root / "runs")
    options = Options(
        runs_dir=str(root / "runs"),
        out=str(root / "site"),
        format=format,
        title="PyTorch + Tensorboard (quick-start)",
        categories="ml general",
        date=ARTICLE_DATE,
        quiet=quiet,
        # the page draws both charts with its script: no static copies to draw (and no
        # matplotlib to import) for readers without scripts
        fallback="none",
    )
    return build(options), reused
