"""Write stage: the files of a build in, written into the output folder safely.

Everything is rendered before anything is written. Files go to a staging folder inside the
output folder first and are then moved into place one by one, so a build that fails leaves the
previous output as it was. A manifest records what tbreport wrote; a rebuild replaces and
removes only those files, never a file tbreport did not write.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from tbreport.errors import TbreportError

if TYPE_CHECKING:
    from tbreport.formats import Rendered

MANIFEST = ".tbreport-manifest.json"


class OutputError(TbreportError):
    """The output folder cannot be written as asked."""


@dataclass(frozen=True)
class OutputFile:
    """A file to write, by its POSIX path inside the output folder."""

    path: str
    data: bytes
    #: scaffolding (a Jekyll _config.yml, index): written only when missing, never replaced
    scaffold: bool = False


def _safe_relpath(path: str) -> PurePosixPath:
    rel = PurePosixPath(path)
    if rel.is_absolute() or any(part in ("", ".", "..") for part in rel.parts) or "\\" in path:
        raise ValueError(f"unsafe output path {path!r}")  # a bug: paths are built from slugs
    return rel


def read_manifest(out: Path) -> dict[str, dict[str, str]]:
    """Per report (a Jekyll post's slug, or the HTML/Markdown report), the paths tbreport wrote
    into ``out`` before, with their sha256."""
    path = out / MANIFEST
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if "reports" not in data and "files" in data:
            data = {"reports": {"earlier": data["files"]}}  # tbreport 0.1 pre-releases
        reports = data["reports"]
        return {
            str(key): {str(k): str(v) for k, v in files.items()} for key, files in reports.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        raise OutputError(
            f"'{path}' is damaged. It lists the files tbreport wrote; delete it only if you "
            "know which files in that folder are yours."
        ) from None


def write_files(out: Path, files: Iterable[OutputFile], report: str = "report") -> list[str]:
    """Write ``files`` into ``out``; return the paths written (scaffolding skipped if present).

    ``report`` names this build in the manifest: a rebuild of the same report removes the
    files it no longer writes; other reports in the same folder (posts of one blog) stay.
    """
    files = list(files)
    for f in files:
        _safe_relpath(f.path)
    out.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(out)
    previous = manifest.get(report, {})
    ours = {path for paths in manifest.values() for path in paths}
    # refuse before writing anything: never overwrite a file someone else wrote
    for f in files:
        target = out / f.path
        if f.scaffold or f.path in ours:
            continue
        if target.exists() or target.is_symlink():
            if target.is_file() and target.read_bytes() == f.data:
                continue  # identical content: adopting it loses nothing
            raise OutputError(
                f"'{target}' exists and was not written by tbreport; not overwriting it. "
                "Move it away or choose another --out folder."
            )
    staging = Path(tempfile.mkdtemp(prefix=".tbreport-staging-", dir=out))
    written: list[str] = []
    try:
        plan = []
        for f in files:
            target = out / f.path
            if f.scaffold and (target.exists() or target.is_symlink()):
                continue
            staged = staging / f.path
            staged.parent.mkdir(parents=True, exist_ok=True)
            staged.write_bytes(f.data)
            plan.append((staged, target, f))
        for staged, target, f in plan:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
            written.append(f.path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    owned = {f.path: hashlib.sha256(f.data).hexdigest() for f in files if not f.scaffold}
    _remove_stale(out, previous, owned)
    manifest[report] = dict(sorted(owned.items()))
    for key in list(manifest):
        if key != report:  # a path now written by this report is no longer the other's
            manifest[key] = {k: v for k, v in manifest[key].items() if k not in owned}
    data = {"tool": "tbreport", "reports": {k: v for k, v in sorted(manifest.items()) if v}}
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, out / MANIFEST)
    return written


def _remove_stale(out: Path, previous: dict[str, str], owned: dict[str, str]) -> None:
    """Delete files an earlier build wrote that this one did not, if still unchanged."""
    for path, digest in previous.items():
        if path in owned:
            continue
        try:
            rel = _safe_relpath(path)
        except ValueError:
            continue  # a manifest edited by hand: ignore entries that leave the folder
        target = out / rel
        if not target.is_file() or target.is_symlink():
            continue
        if hashlib.sha256(target.read_bytes()).hexdigest() != digest:
            continue  # changed by someone since: theirs now
        target.unlink()
        parent = target.parent
        while parent != out and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent


def write_output(out: Path, rendered: Rendered, force: bool = False) -> list[str]:
    """Write a build's files into ``out``, then append its job summary where GitHub asks."""
    written = write_files(out, rendered.files, report=rendered.manifest_key)
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if rendered.job_summary is not None and target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(rendered.job_summary)
    return written
