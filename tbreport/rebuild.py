"""Rebuild: what the read, report and charts stages of a build made, kept under a stamp of
everything they depend on, so rebuilding unchanged runs goes straight to rendering.

A build's stamp is the SHA-256 of: tbreport's code (every module), the versions of Python and
of the libraries those stages use, the fonts the charts are drawn with, the options (all but
those that only render or write: the date, the cache folder, ``--jobs``, ``--force``,
``--quiet``), the ``--source`` post, and every event file of the logdir (and of a baseline
logdir) as discovered (run, path, size, modification time, inode, device, mode). An unchanged
stamp means the same files with the same options give the same report and artifacts; the
render stage then runs as usual (the date, templates and formats are its own inputs), so a
rebuild's output is byte-identical to a cold build's.

One entry per output: ``ROOT/builds/<hash of logdir, out and format>.tbb`` holds the stamp of
the last build of that output and its products (the report and the artifacts, pickled). Like
the other cache files it is written atomically and checked by its SHA-256 before it is
unpickled; a damaged entry, one of another stamp or one that does not load is a miss and is
overwritten by the build. Remote logdirs and Dask reads are not stamped (their files' stamps
are not local metadata).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import pickle
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tbreport.charts.cache import feed, fonts_state
from tbreport.formats import Artifacts
from tbreport.model import DataWarning, Report
from tbreport.options import Options, is_url
from tbreport.read.cache import code_version, open_folder, read_checked, write_atomic
from tbreport.read.discover import RunDir, discover_runs

if TYPE_CHECKING:
    from tbreport.source import Source

__all__ = ["Builds", "Stamp", "open_builds"]

MAGIC = b"TBRBLD1\n"
FORMAT = 1

#: libraries whose version can change what reading, the report or the charts make
LIBRARIES = ("numpy", "matplotlib", "pillow", "markdown", "nh3", "pyyaml", "protobuf")

#: options that only the render and write stages read, or that do not change any output
RENDER_ONLY: dict[str, Any] = {
    "date": None, "cache": None, "no_cache": False, "jobs": None, "force": False, "quiet": False,
}  # fmt: skip

Found = tuple[list[RunDir], list[DataWarning]]


@dataclasses.dataclass(frozen=True)
class Stamp:
    """A build's stamp, its entry's file, and the logdir as discovered for it (which the read
    stage takes, so the files are found once)."""

    key: str
    path: Path
    found: Found
    files: tuple[str, ...]

    def load(self) -> tuple[Report, Artifacts] | None:
        """The report and artifacts kept under this stamp, or None."""
        body = read_checked(self.path, MAGIC) if self.path.exists() else None
        label = self.key.encode("ascii") + b"\n"
        if body is None or bytes(body[: len(label)]) != label:
            return None
        try:
            kept = pickle.loads(body[len(label) :])
        except Exception:  # noqa: BLE001 - an entry that does not load is a miss
            return None
        if (
            not isinstance(kept, tuple)
            or len(kept) != 2
            or not isinstance(kept[0], Report)
            or not isinstance(kept[1], Artifacts)
        ):
            return None
        return kept[0], kept[1]

    def save(self, report: Report, artifacts: Artifacts) -> None:
        """Keep the report and artifacts under this stamp (a full disk: not kept)."""
        body = self.key.encode("ascii") + b"\n" + pickle.dumps((report, artifacts), protocol=5)
        write_atomic(self.path.parent, self.path.name, [MAGIC, hashlib.sha256(body).digest(), body])


class Builds:
    """The folder of build entries."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def stamp(self, options: Options, source: Source | None) -> Stamp | None:
        """This build's stamp (discovering the logdir), or None when it is not stamped."""
        if is_url(options.runs_dir) or (options.executor or "threads") != "threads":
            return None
        baseline = options.baseline
        if baseline and is_url(baseline):
            return None
        found = discover_runs(options.runs_dir)
        # a baseline folder is read too; a baseline regex picks runs of this logdir
        baseline_found = discover_runs(baseline) if baseline and Path(baseline).is_dir() else None
        files: list[str] = []
        h = hashlib.sha256(_versions())
        feed(h, (fonts_state(None), dataclasses.replace(options, **RENDER_ONLY), source))
        for where in (found, baseline_found):
            if where is None:
                feed(h, None)
                continue
            run_dirs, warnings = where
            feed(h, (run_dirs, warnings))
            for run_dir in run_dirs:
                for path in run_dir.files:
                    files.append(path)
                    feed(h, _file_state(path))
        slot = hashlib.sha256(
            repr(
                (os.path.abspath(options.runs_dir), os.path.abspath(options.out), options.format)
            ).encode()
        ).hexdigest()[:40]
        return Stamp(h.hexdigest(), self.folder / f"{slot}.tbb", found, tuple(files))


def open_builds(root: Path) -> Builds:
    """The build entries under ``root``; CacheUnusable when the folder cannot be used."""
    return Builds(open_folder(root, "builds"))


def _file_state(path: str) -> tuple[object, ...]:
    try:
        st = os.stat(path)
    except OSError as err:  # gone or unreadable: the read says so, the stamp keeps why
        return (path, "error", err.errno)
    return (path, st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev, st.st_mode)


@functools.cache
def _versions() -> bytes:
    from importlib.metadata import PackageNotFoundError, version

    parts = [f"tbreport-build {FORMAT}", sys.version, code_version()]
    for name in LIBRARIES:
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} none")
    return "\n".join(parts).encode()
