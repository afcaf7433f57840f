"""Write stage: the files of a build in, written into the output folder safely.

Every check is made before the first write, and each file goes to a new, uniquely named file
beside its target that is then renamed into place, so a build that is refused or fails leaves
the previous output as it was. Nothing is written, replaced or deleted through a symbolic link
below the output folder. A manifest records what tbreport wrote, with its sha256: a rebuild
replaces and removes only those files, and keeps one that was edited since unless forced. The
output folder is locked while it is written, so builds into one folder take turns.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import secrets
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tbreport.errors import TbreportError

MANIFEST = ".tbreport-manifest.json"
#: seconds a build waits for another build that is writing into the same folder
LOCK_WAIT = 60.0

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class OutputError(TbreportError):
    """The output folder cannot be written as asked."""


@dataclass(frozen=True)
class OutputFile:
    """A file to write, by its POSIX path inside the output folder."""

    path: str
    data: bytes
    #: scaffolding (a Jekyll _config.yml, index): written only when missing, never replaced
    scaffold: bool = False


@dataclass(frozen=True)
class Rendered:
    """The files of a build, the main one first, and how to record them."""

    files: tuple[OutputFile, ...]
    #: the report's key in the output folder's manifest: a rebuild of the same key replaces
    #: the files it wrote before; other keys (other posts of one blog) are left alone
    manifest_key: str
    #: details dropped to fit a size limit, in order
    shortened: tuple[str, ...] = ()
    #: text appended to $GITHUB_STEP_SUMMARY (when that is set) after the files are written
    job_summary: str | None = None


def _safe_relpath(path: str) -> PurePosixPath:
    rel = PurePosixPath(path)
    if rel.is_absolute() or any(part in ("", ".", "..") for part in rel.parts) or "\\" in path:
        raise ValueError(f"unsafe output path {path!r}")  # a bug: paths are built from slugs
    return rel


@contextlib.contextmanager
def _about(path: Path) -> Iterator[None]:
    """Turn a failing system call on ``path`` into an OutputError saying what to do."""
    try:
        yield
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            problem = "no space left on the disk (or in your quota). Free some space"
        elif err.errno == errno.EROFS:
            problem = "the file system is read-only. Remount it read-write"
        elif err.errno in (errno.EACCES, errno.EPERM):
            problem = "permission denied. Fix the folder's permissions"
        else:
            problem = f"{err.strerror or err}. Check the folder"
        raise OutputError(
            f"Cannot write '{path}': {problem}, or choose another --out folder."
        ) from None


def _kind(st: os.stat_result) -> str:
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link"
    return "a folder" if stat.S_ISDIR(st.st_mode) else "a special file"


def _lstat(folder: int | None, name: str | Path) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _read(folder: int | None, name: str | Path) -> bytes:
    with open(os.open(name, _READ_FLAGS, dir_fd=folder), "rb") as fh:
        return fh.read()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _lock(fd: int, out: Path) -> None:
    """Wait for any other build writing into ``out``: the manifest is read, changed and
    written under this lock, so concurrent builds never lose each other's entries."""
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise OutputError(
                    f"Another tbreport build has been writing into '{out}' for more than "
                    f"{LOCK_WAIT:g} s. Let it finish (or stop it), then build again."
                ) from None
            time.sleep(0.05)
        except OSError as err:
            if err.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EBADF, errno.EINVAL):
                raise
            return  # some network file systems cannot lock a folder: write unlocked, as before


class _Tree:
    """The output folder, open; folders below it are opened one name at a time, never
    through a link. Temporary files not renamed are removed on close, with the folders made
    for them."""

    def __init__(self, out: Path, fd: int) -> None:
        self.out = out
        self.root = fd
        self._folders: dict[tuple[str, ...], int] = {(): fd}
        self._made: list[tuple[str, ...]] = []
        self._staged: set[tuple[int, str]] = set()

    def folder(self, parts: tuple[str, ...], create: bool = False) -> int | None:
        """OUT/parts, or None when it is missing and not created. OutputError when a part of
        it is a link or a file: writing there would leave the output folder."""
        if parts in self._folders:
            return self._folders[parts]
        parent = self.folder(parts[:-1], create)
        if parent is None:
            return None
        try:
            fd = os.open(parts[-1], _DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                return None
            os.mkdir(parts[-1], dir_fd=parent)
            self._made.append(parts)
            fd = os.open(parts[-1], _DIR_FLAGS, dir_fd=parent)
        except NotADirectoryError:  # O_NOFOLLOW | O_DIRECTORY on a link fails this way too
            path = self.out.joinpath(*parts)
            if path.is_symlink():
                raise OutputError(
                    f"'{path}' is a symbolic link (to '{os.readlink(path)}'); tbreport writes "
                    f"only inside '{self.out}', never through a link. Replace the link with a "
                    "real folder, or choose another --out folder."
                ) from None
            raise OutputError(
                f"'{path}' is a file where tbreport needs a folder. Move it away, or choose "
                "another --out folder."
            ) from None
        self._folders[parts] = fd
        return fd

    def stage(self, rel: PurePosixPath, data: bytes) -> tuple[int, str, PurePosixPath]:
        """Write ``data`` to a new file beside OUT/rel: (folder, temporary name, rel)."""
        with _about(self.out / rel):
            folder = self.folder(rel.parts[:-1], create=True)
            assert folder is not None
            while True:
                tmp = f".tbreport-{secrets.token_hex(8)}.tmp"
                try:
                    fd = os.open(tmp, _NEW_FLAGS, 0o666, dir_fd=folder)
                    break
                except FileExistsError:
                    continue
            self._staged.add((folder, tmp))
            with open(fd, "wb") as fh:
                fh.write(data)
        return folder, tmp, rel

    def rename(self, staged: tuple[int, str, PurePosixPath]) -> None:
        folder, tmp, rel = staged
        with _about(self.out / rel):
            os.replace(tmp, rel.name, src_dir_fd=folder, dst_dir_fd=folder)
        self._staged.discard((folder, tmp))

    def remove(self, path: str, digest: str) -> None:
        """Delete OUT/path if it is a file with this sha256, then its folders left empty."""
        try:
            rel = _safe_relpath(path)
            folder = self.folder(rel.parts[:-1])
        except (ValueError, OutputError):
            return  # leaves the folder, or passes a link or file: not tbreport's to delete
        st = _lstat(folder, rel.name) if folder is not None else None
        if folder is None or st is None or not stat.S_ISREG(st.st_mode):
            return
        if _sha256(_read(folder, rel.name)) != digest:
            return  # changed by someone since: theirs now
        os.unlink(rel.name, dir_fd=folder)
        parts = rel.parts[:-1]
        while parts and not os.listdir(self._folders[parts]):
            os.rmdir(parts[-1], dir_fd=self._folders[parts[:-1]])
            os.close(self._folders.pop(parts))
            parts = parts[:-1]

    def close(self) -> None:
        # cleaning up after a failure must not hide the error that caused it
        for folder, tmp in self._staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=folder)
        for parts in reversed(self._made):  # after a good build they hold its files and stay
            with contextlib.suppress(OSError, KeyError):
                os.rmdir(parts[-1], dir_fd=self._folders[parts[:-1]])
        for fd in self._folders.values():  # the output folder last: closing it unlocks it
            os.close(fd)


@contextlib.contextmanager
def _opened(out: Path) -> Iterator[_Tree]:
    """The output folder, created if missing and locked. It may itself be a link: the user
    named it."""
    with _about(out):
        try:
            out.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            blocker = next(
                (p for p in (*reversed(out.parents), out) if p.is_file() or not p.exists()), out
            )
            raise OutputError(
                f"Cannot use '{out}' as the output folder: '{blocker}' is not a folder. "
                "Choose another --out folder, or move that file away."
            ) from None
        tree = _Tree(out, os.open(out, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
    try:
        with _about(out):
            _lock(tree.root, out)
        yield tree
    finally:
        tree.close()


def read_manifest(out: Path, dir_fd: int | None = None) -> dict[str, dict[str, str]]:
    """Per report (a Jekyll post's slug, or the HTML/Markdown report), the paths tbreport wrote
    into ``out`` before, with their sha256. ``dir_fd``: ``out``, already open."""
    path = out / MANIFEST
    name = MANIFEST if dir_fd is not None else path
    with _about(path):
        st = _lstat(dir_fd, name)
        if st is None:
            return {}
        if not stat.S_ISREG(st.st_mode):
            raise OutputError(
                f"'{path}' is {_kind(st)}, but tbreport keeps the list of files it wrote "
                "there. Move it away and build again."
            )
        raw = _read(dir_fd, name)
    try:
        data = json.loads(raw.decode("utf-8"))
        if "reports" not in data and "files" in data:
            data = {"reports": {"earlier": data["files"]}}  # tbreport 0.1 pre-releases
        reports = data["reports"]
        return {
            str(key): {str(k): str(v) for k, v in files.items()} for key, files in reports.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise OutputError(
            f"'{path}' is damaged. It lists the files tbreport wrote; delete it only if you "
            "know which files in that folder are yours."
        ) from None


def _check(tree: _Tree, f: OutputFile, recorded: dict[str, str], force: bool) -> bool | None:
    """Whether to write ``f`` (None: it is there already, byte for byte); OutputError when its
    target must not be replaced."""
    rel = _safe_relpath(f.path)
    target = tree.out / rel
    with _about(target):
        folder = tree.folder(rel.parts[:-1])
        st = _lstat(folder, rel.name) if folder is not None else None
        if folder is None or st is None:
            return True
        if f.scaffold:
            return False
        if not stat.S_ISREG(st.st_mode):
            raise OutputError(
                f"'{target}' is {_kind(st)}, not a file tbreport wrote; not replacing it. "
                "Move it away or choose another --out folder."
            )
        digest = _sha256(_read(folder, rel.name))
    if digest == _sha256(f.data):
        return None  # identical content: adopting it loses nothing, rewriting it gains nothing
    if f.path not in recorded:
        raise OutputError(
            f"'{target}' exists and was not written by tbreport; not overwriting it. "
            "Move it away or choose another --out folder."
        )
    if digest != recorded[f.path] and not force:
        raise OutputError(
            f"'{target}' was changed after tbreport wrote it; keeping your version. Pass "
            "--force to replace it, or move your edit into a source file or template "
            "(--templates), then build again."
        )
    return True


def _current(tree: _Tree, name: str) -> bytes | None:
    """The bytes of the regular file ``name`` at the top of the output folder, if there is one."""
    st = _lstat(tree.root, name)
    if st is None or not stat.S_ISREG(st.st_mode):
        return None
    return _read(tree.root, name)


def write_files(
    out: Path, files: Iterable[OutputFile], manifest_key: str = "report", *, force: bool = False
) -> list[str]:
    """Write ``files`` into ``out``; return the paths written (scaffolding skipped if present).
    A file already there byte for byte counts as written but is not touched.

    ``manifest_key`` names this build in the manifest: a rebuild with the same key removes the
    files it no longer writes; other reports in the same folder (posts of one blog) stay.
    ``force`` replaces files tbreport wrote that were edited since (never anyone else's).
    """
    files = list(files)
    for f in files:
        _safe_relpath(f.path)
    with _opened(out) as tree:
        manifest = read_manifest(out, tree.root)
        recorded = {path: digest for paths in manifest.values() for path, digest in paths.items()}
        checked = [(f, _check(tree, f, recorded, force)) for f in files]
        plan = [f for f, write in checked if write is not False]
        # a file already there byte for byte is left as it is (its time stamp too)
        changed = [f for f, write in checked if write]
        owned = {f.path: _sha256(f.data) for f in files if not f.scaffold}
        previous = manifest.get(manifest_key, {})
        manifest[manifest_key] = dict(sorted(owned.items()))
        for key in list(manifest):
            if key != manifest_key:  # a path now written by this build is no longer the other's
                manifest[key] = {k: v for k, v in manifest[key].items() if k not in owned}
        data = {"tool": "tbreport", "reports": {k: v for k, v in sorted(manifest.items()) if v}}
        staged = [tree.stage(PurePosixPath(f.path), f.data) for f in changed]
        # staged before anything is replaced, so a full disk stops the build with nothing lost
        text = (json.dumps(data, indent=1, sort_keys=True) + "\n").encode("utf-8")
        staged_manifest = None
        if _current(tree, MANIFEST) != text:
            staged_manifest = tree.stage(PurePosixPath(MANIFEST), text)
        for entry in staged:
            tree.rename(entry)
        for path, digest in previous.items():
            if path not in owned:
                with _about(out / path):
                    tree.remove(path, digest)
        if staged_manifest is not None:
            tree.rename(staged_manifest)
    return [f.path for f in plan]


def write_output(out: Path, rendered: Rendered, force: bool = False) -> list[str]:
    """Write a build's files into ``out``, then append its job summary where GitHub asks."""
    written = write_files(out, rendered.files, rendered.manifest_key, force=force)
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if rendered.job_summary is not None and target:
        try:
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(rendered.job_summary)
        except OSError as err:
            raise OutputError(
                f"Wrote the report into '{out}', but could not append its job summary to "
                f"$GITHUB_STEP_SUMMARY '{target}': {err.strerror or err}. Set "
                "GITHUB_STEP_SUMMARY to a writable file (GitHub Actions sets it), or unset it."
            ) from None
    return written
