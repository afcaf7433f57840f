"""Discover stage: a logdir path in, the run directories and their event files out.

A run is every directory under the logdir that directly holds an event file (a regular file
whose name contains ``tfevents`` and does not end in ``.profile-empty``), named by its POSIX
path relative to the logdir (``.`` for the logdir itself). A URL (``s3://bucket/runs``) is
discovered from one recursive listing of its storage.
"""

from __future__ import annotations

import operator
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from tbreport.errors import LogdirNotFoundError, NoEventFilesError
from tbreport.model import DataWarning
from tbreport.names import natural_key
from tbreport.read.storage import Remote, storage_error

_DIGITS = re.compile(r"(\d+)")
_NAME = operator.attrgetter("name")


@dataclass(frozen=True)
class RunDir:
    """A run found on disk: its name, folder and event files in reading order."""

    name: str
    path: str
    files: tuple[str, ...]
    #: bytes of each file when it was found (files of running writers grow)
    sizes: tuple[int, ...] = ()


def is_event_file_name(name: str) -> bool:
    return "tfevents" in name and not name.endswith(".profile-empty")


def file_order_key(name: str) -> tuple:
    """Natural order: numeric fields compare as numbers, so counter .10 follows .2."""
    parts = _DIGITS.split(name)
    key: list[tuple[int, int, str]] = [(1, 0, p) for p in parts]
    key[1::2] = [(0, int(p), "") for p in parts[1::2]]
    return tuple(key), name


def _report_order(run: RunDir) -> tuple:
    """Runs in the report's order: numbers by value, decimals too (lr0.001 < lr0.01 < lr0.1,
    whatever follows; counting digits as integers put a sweep's seeds between its rates)."""
    return natural_key(run.name)


def discover_runs(
    logdir: str | os.PathLike[str], remote: Remote | None = None
) -> tuple[list[RunDir], list[DataWarning]]:
    """Every run under ``logdir``, sorted by name, and warnings about what was skipped.

    ``remote``: the logdir is that storage's URL.
    """
    if remote is not None:
        return _discover_remote(remote), []
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
    # folders by (device, inode): one stat each, where realpath costs one per path component
    seen: set[tuple[int, int]] = set()
    # depth first in name order, as os.walk with sorted dirnames; a stack, since sweeps nest
    stack: list[tuple[str, str]] = [(os.fspath(root), ".")]
    while stack:
        dirpath, rel = stack.pop()
        try:
            st = os.stat(dirpath)
            with os.scandir(dirpath) as it:
                entries = sorted(it, key=_NAME)
        except OSError as err:
            warnings.append(
                DataWarning(
                    "unreadable",
                    f"Cannot read '{err.filename}': {err.strerror}. Skipped; check its "
                    "permissions.",
                    path=str(err.filename),
                )
            )
            continue
        if (st.st_dev, st.st_ino) in seen:
            warnings.append(
                DataWarning(
                    "symlink-loop",
                    f"'{dirpath}' leads back to a folder already read (a symlink loop). "
                    "Skipped it.",
                    path=dirpath,
                )
            )
            continue
        seen.add((st.st_dev, st.st_ino))
        events: list[tuple[str, str, int]] = []
        subdirs: list[tuple[str, str]] = []
        for entry in entries:
            name = entry.name
            if "tfevents" not in name or name.endswith(".profile-empty"):  # is_event_file_name
                try:
                    if entry.is_dir():
                        subdirs.append((name, entry.path))
                except OSError:
                    pass  # gone since listed, or a link that cannot be followed: no folder
                continue
            full = entry.path  # os.path.join(dirpath, name), made by scandir
            try:
                st = entry.stat()
            except OSError as err:
                warnings.append(
                    DataWarning(
                        "unreadable",
                        f"Cannot read event file '{full}': {err.strerror}. Skipped.",
                        path=full,
                    )
                )
                continue
            if stat.S_ISDIR(st.st_mode):
                subdirs.append((name, full))
                warnings.append(
                    DataWarning(
                        "not-a-file",
                        f"'{full}' is named like an event file but is a directory. "
                        "Read it as an ordinary folder.",
                        path=full,
                    )
                )
                continue
            if not stat.S_ISREG(st.st_mode):
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
            events.append((name, full, st.st_size))
        for name, full in reversed(subdirs):
            stack.append((full, name if rel == "." else f"{rel}/{name}"))
        if not events:
            continue
        if len(events) > 1:
            events.sort(key=lambda e: file_order_key(e[0]))
            paths, sizes = tuple(e[1] for e in events), tuple(e[2] for e in events)
        else:
            paths, sizes = (events[0][1],), (events[0][2],)
        runs.append(RunDir(rel, dirpath, paths, sizes))
    if not runs:
        raise NoEventFilesError(
            f"No TensorBoard event files under '{logdir}'. Expected files named "
            "'events.out.tfevents.*' (written by SummaryWriter or tf.summary)."
        )
    runs.sort(key=_report_order)
    return runs, warnings


def _discover_remote(remote: Remote) -> list[RunDir]:
    """Runs of a remote logdir, from one recursive listing (object stores have no folders to
    walk, and one request per folder would pay its latency once per run)."""
    url = remote.url
    try:
        # a filesystem object lives as long as the process (fsspec keeps one per URL's
        # settings), its listings too: an earlier read's would give the sizes, and the ETags
        # that s3fs reads a file by, of objects overwritten since
        remote.fs.invalidate_cache()
        found = remote.fs.find(remote.root, detail=True)
    except FileNotFoundError:
        raise LogdirNotFoundError(
            f"Log directory '{url}' does not exist (no such bucket or container). Check the URL."
        ) from None
    except PermissionError:
        raise LogdirNotFoundError(
            f"Access to '{url}' was denied. Check the credentials in your environment (for "
            "S3: AWS_PROFILE or AWS_ACCESS_KEY_ID, ~/.aws/credentials) and the bucket policy."
        ) from None
    except Exception as err:
        # the storage library's own errors (botocore's are no OSError): those of credentials
        # and endpoints say what to set; any other keeps its traceback
        problem = storage_error(url, err, listing=True)
        if problem is not None:
            raise problem from None
        if isinstance(err, OSError):
            raise LogdirNotFoundError(f"Cannot list '{url}': {err}. Check the URL.") from None
        raise
    by_dir: dict[str, list[tuple[str, int]]] = {}
    root = remote.root
    if not found:
        raise LogdirNotFoundError(
            f"Log directory '{url}' does not exist: nothing is listed under it. Check the URL."
        )
    if found.get(root, {}).get("type") == "file":
        raise LogdirNotFoundError(
            f"'{url}' is a file, not a directory. Give the folder that holds your runs "
            "(the log_dir you passed to SummaryWriter)."
        )
    for key, info in found.items():
        folder, _, name = key.rpartition("/")
        if info.get("type") != "file" or not is_event_file_name(name):
            continue
        by_dir.setdefault(folder, []).append((name, int(info.get("size") or 0)))
    runs = []
    for folder, events in by_dir.items():
        rel = folder[len(root) :].strip("/") if folder.startswith(root) else folder
        events.sort(key=lambda e: file_order_key(e[0]))
        runs.append(
            RunDir(
                rel or ".",
                remote.url_of(folder),
                tuple(remote.url_of(f"{folder}/{name}") for name, _ in events),
                tuple(size for _, size in events),
            )
        )
    if not runs:
        raise NoEventFilesError(
            f"No TensorBoard event files under '{url}'. Expected objects named "
            "'events.out.tfevents.*' (written by SummaryWriter or tf.summary)."
        )
    runs.sort(key=_report_order)
    return runs
