"""Discover stage: a logdir path in, the run directories and their event files out.

A run is every directory under the logdir that directly holds an event file (a regular file
whose name contains ``tfevents`` and does not end in ``.profile-empty``), named by its POSIX
path relative to the logdir (``.`` for the logdir itself).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tbreport.errors import LogdirNotFoundError, NoEventFilesError
from tbreport.model import DataWarning

_DIGITS = re.compile(r"(\d+)")


@dataclass(frozen=True)
class RunDir:
    """A run found on disk: its name, folder and event files in reading order."""

    name: str
    path: str
    files: tuple[str, ...]


def is_event_file_name(name: str) -> bool:
    return "tfevents" in name and not name.endswith(".profile-empty")


def file_order_key(name: str) -> tuple:
    """Natural order: numeric fields compare as numbers, so counter .10 follows .2."""
    parts = _DIGITS.split(name)
    return tuple((0, int(p), "") if i % 2 else (1, 0, p) for i, p in enumerate(parts)), name


def discover_runs(logdir: str | os.PathLike[str]) -> tuple[list[RunDir], list[DataWarning]]:
    """Every run under ``logdir``, sorted by name, and warnings about what was skipped."""
    root = Path(logdir)
    if not root.exists():
        raise LogdirNotFoundError(f"Log directory '{logdir}' does not exist.")
    if not root.is_dir():
        raise LogdirNotFoundError(
            f"'{logdir}' is not a directory. Give the folder that holds your runs "
            "(the log_dir you passed to SummaryWriter)."
        )
    warnings: list[DataWarning] = []
    runs: list[RunDir] = []
    seen: set[str] = set()

    def on_error(err: OSError) -> None:
        warnings.append(
            DataWarning(
                "unreadable",
                f"Cannot read '{err.filename}': {err.strerror}. Skipped; check its permissions.",
                path=str(err.filename),
            )
        )

    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            warnings.append(
                DataWarning(
                    "symlink-loop",
                    f"'{dirpath}' leads back to a folder already read (a symlink loop). "
                    "Skipped it.",
                    path=dirpath,
                )
            )
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames.sort()
        events = []
        for name in list(dirnames) + filenames:
            if not is_event_file_name(name):
                continue
            full = os.path.join(dirpath, name)
            try:
                mode = os.stat(full).st_mode
            except OSError as err:
                warnings.append(
                    DataWarning(
                        "unreadable",
                        f"Cannot read event file '{full}': {err.strerror}. Skipped.",
                        path=full,
                    )
                )
                continue
            if stat.S_ISDIR(mode):
                if name in dirnames and name not in filenames:
                    warnings.append(
                        DataWarning(
                            "not-a-file",
                            f"'{full}' is named like an event file but is a directory. "
                            "Read it as an ordinary folder.",
                            path=full,
                        )
                    )
                continue
            if not stat.S_ISREG(mode):
                warnings.append(
                    DataWarning(
                        "not-a-file",
                        f"'{full}' is named like an event file but is not a regular file. Skipped.",
                        path=full,
                    )
                )
                continue
            if not os.access(full, os.R_OK):
                warnings.append(
                    DataWarning(
                        "unreadable",
                        f"Cannot read event file '{full}': permission denied. Skipped.",
                        path=full,
                    )
                )
                continue
            events.append(name)
        if not events:
            continue
        rel = PurePosixPath(Path(dirpath).relative_to(root).as_posix())
        name = str(rel) if str(rel) not in ("", ".") else "."
        events.sort(key=file_order_key)
        runs.append(RunDir(name, dirpath, tuple(os.path.join(dirpath, f) for f in events)))
    if not runs:
        raise NoEventFilesError(
            f"No TensorBoard event files under '{logdir}'. Expected files named "
            "'events.out.tfevents.*' (written by SummaryWriter or tf.summary)."
        )
    runs.sort(key=lambda r: file_order_key(r.name))
    return runs, warnings
