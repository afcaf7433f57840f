"""Read stage, cache: decoded event files kept between reads, so that an unchanged file is not
read again and a file that grew decodes only its new bytes.

The API (``build`` uses a :class:`DiskCache`; a long-running process such as ``tbreport serve``
keeps one :class:`MemoryCache` across its reads):

- ``read_logdir(path, ..., cache=store)`` reads through ``store``, any :class:`DecodeCache`
  (``None``: no cache). Only local files of a local (threads) read use it.
- :class:`DecodeCache` is the protocol of a store: ``load(key) -> Entry | str`` (the
  entry, or why there is none: "new" or "bad-entry"), ``save(entry)``, ``note(path,
  outcome)``. :class:`MemoryCache` keeps entries as objects (no copy, nothing on disk);
  :class:`DiskCache` (:func:`open_disk_cache`) one file per event file
  under ``ROOT/decode/``.
- ``store.take_outcomes()`` returns, and forgets, what each read did per file since the last
  call: ``{path: outcome}`` with an outcome of :data:`OUTCOMES` ("unchanged", "appended",
  "new", "shrank", "replaced", "rewritten", "damaged", "bad-entry", "uncached"). "shrank",
  "replaced" and "rewritten" mean the file was read again from the start (a serve loop notes
  those).

An entry is keyed by the file's absolute path and a fingerprint of tbreport's version (and a
digest of the read stage's source), this module's format and the decode options
(``verify_crc``, ``fast``); it holds the file's size, modification time (ns), inode and device
as read, the bytes consumed (up to the last whole record: a truncated tail is not consumed and
is decoded again next time), the number of records walked, SHA-256 digests of the first and the
last block of the consumed bytes, and the decoded :class:`~tbreport.read.events.FileData`. A
file whose stat equals the entry's is taken from the entry without being opened. One whose size
grew from the same inode, with both digests still matching, decodes from the consumed offset
and the two parts are joined; the result is the same ``FileData`` a read from the start gives.
Anything else is read whole. Restart handling (``--restarts``) applies after the cache, to the
decoded records, so it is no part of the key.

A disk entry is ``MAGIC``, the SHA-256 of the rest, a JSON header and raw numpy arrays; it is
written to a temporary file in the same folder and renamed into place, so concurrent builds
sharing a folder never see half an entry (the last writer wins). It is never trusted: a wrong
magic, digest, format, key or array layout makes it a miss ("bad-entry"), and it is rewritten.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import stat as stat_module
import tempfile
import threading
import time
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tbreport.read import records
from tbreport.read.events import FileData, HistogramChunk, read_segments

__all__ = [
    "OUTCOMES",
    "CacheUnusable",
    "DecodeCache",
    "DiskCache",
    "Entry",
    "FileStat",
    "MemoryCache",
    "cache_root",
    "decode_cache_for",
    "fingerprint",
    "open_disk_cache",
    "open_folder",
]

#: what a read did with a file (see the module docstring)
OUTCOMES = (
    "unchanged",  # taken from the cache, the file not opened
    "appended",  # only the bytes after the consumed offset were decoded
    "new",  # not in the cache: read whole
    "shrank",  # smaller than what was consumed: read again from the start
    "replaced",  # another inode, or the consumed bytes differ: read again from the start
    "rewritten",  # the same size with another time stamp (changed in place): read whole
    "damaged",  # the entry's file ended in damage, so it cannot resume: read whole
    "bad-entry",  # the entry was corrupt, foreign or from another version: read whole
    "uncached",  # read without the cache (empty file, unreadable)
    "small",  # smaller than the store's min_size: decoding it costs less than an entry
)

#: files smaller than this many bytes are not kept in the disk cache: a sweep's thousands of
#: tiny event files decode (in one batch) faster than their entries load; the environment
#: variable TBREPORT_CACHE_MIN_SIZE sets another size (0: every file)
MIN_SIZE = 16 * 1024

#: bumped whenever what an entry holds, or how a file decodes, changes
FORMAT = 1
MAGIC = b"TBRDEC1\n"
_DIGEST = 32
#: bytes hashed at the start and at the end of the consumed part to check it did not change
BLOCK = 4096
#: entries a MemoryCache keeps at most (the least recently used go first)
MEMORY_ENTRIES = 100_000


def code_version(*packages: str) -> str:
    """tbreport's version and a digest of the source of ``packages`` (subpackages of
    tbreport; none: every module): a cache made by other code, even an edited checkout, is
    never taken."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("tbreport")
    except PackageNotFoundError:
        release = "unknown"
    return f"{release}+{_source_digest(packages)}"


@functools.cache
def _source_digest(packages: tuple[str, ...]) -> str:
    here = Path(__file__).resolve().parent.parent  # the tbreport package
    h = hashlib.sha256()
    for package in packages or ("",):
        for path in sorted((here / package).rglob("*.py")):
            h.update(str(path.relative_to(here)).encode() + b"\0")
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def fingerprint(verify: bool, fast: bool) -> str:
    """What decoded data depend on besides the file: tbreport's code and the options."""
    return f"tbreport {code_version('read')} cache {FORMAT} verify={int(verify)} fast={int(fast)}"


@dataclass(frozen=True)
class FileStat:
    size: int
    mtime_ns: int
    ino: int
    dev: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileStat:
        return cls(st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


@dataclass(frozen=True)
class Entry:
    """One event file's decoded data and where its decoding stopped."""

    key: str
    #: the file as it was read; None when it changed while being read (never "unchanged")
    stat: FileStat | None
    #: bytes decoded, up to the last whole record; None when the file ended in damage (a
    #: corrupt length or a bad length), after which nothing can be resumed
    consumed: int | None
    #: records walked in the consumed bytes (kept and skipped): the next record's index
    walked: int
    #: SHA-256 of the first and of the last BLOCK bytes of the consumed part
    head: bytes
    tail: bytes
    data: FileData


class DecodeCache(Protocol):
    """Where entries are kept between reads (see the module docstring)."""

    #: files smaller than this are read without the store (outcome "small")
    min_size: int

    def load(self, key: str) -> Entry | str:
        """The entry for ``key``, or why there is none: "new" or "bad-entry"."""
        ...

    def save(self, entry: Entry) -> None: ...

    def note(self, path: str, outcome: str) -> None: ...

    def take_outcomes(self) -> dict[str, str]: ...


class _Outcomes:
    def __init__(self) -> None:
        self._outcomes: dict[str, str] = {}
        self._lock = threading.Lock()

    def note(self, path: str, outcome: str) -> None:
        with self._lock:
            self._outcomes[path] = outcome

    def take_outcomes(self) -> dict[str, str]:
        """What each read did per file since the last call, in the order they were read."""
        with self._lock:
            out, self._outcomes = self._outcomes, {}
        return out


class MemoryCache(_Outcomes):
    """Entries held as objects in this process, for a reader that reads again and again."""

    #: every file: a growing small file decodes only its new bytes too
    min_size = 0

    def __init__(self, max_entries: int = MEMORY_ENTRIES) -> None:
        super().__init__()
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Entry] = OrderedDict()

    def load(self, key: str) -> Entry | str:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return "new"
            self._entries.move_to_end(key)
            return entry

    def save(self, entry: Entry) -> None:
        with self._lock:
            self._entries[entry.key] = entry
            self._entries.move_to_end(entry.key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


# --- the cache folder -----------------------------------------------------------------------


class CacheUnusable(Exception):
    """The cache folder cannot be used; the message says why (a warning, not an error)."""


def cache_root(explicit: str | None = None) -> Path:
    """``explicit``, else ``$XDG_CACHE_HOME/tbreport``, else ``~/.cache/tbreport``."""
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME")
    if not base or not os.path.isabs(base):  # the XDG spec: a relative value is ignored
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tbreport"


def open_folder(root: Path, name: str) -> Path:
    """``root/name``, made (mode 0o700, as are ``root`` and missing parents) if missing;
    CacheUnusable when it is not a writable folder."""
    folder = root / name
    try:
        for path in (root, folder):
            if not path.is_dir():
                if path.exists() or path.is_symlink():
                    raise CacheUnusable(f"'{path}' exists and is not a folder")
                path.mkdir(mode=0o700, parents=True, exist_ok=True)
                if path == root:
                    os.chmod(path, 0o700)  # the umask may have narrowed it further, not wider
        if not os.access(folder, os.W_OK | os.X_OK):
            raise CacheUnusable(f"'{folder}' is not writable")
    except OSError as err:
        raise CacheUnusable(f"cannot create '{folder}': {err.strerror or err}") from None
    _remove_stale(folder)
    return folder


#: seconds after which a temporary file of ours is left over from a build that was killed
STALE = 3600


def _remove_stale(folder: Path) -> None:
    """Delete temporary files a killed build left in ``folder`` (a live build's are younger)."""
    now = time.time()
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(".tmp-") and entry.name.endswith(".part"):
                with contextlib.suppress(OSError):
                    st = entry.stat(follow_symlinks=False)
                    if stat_module.S_ISREG(st.st_mode) and now - st.st_mtime > STALE:
                        os.unlink(entry.path)


def open_disk_cache(root: Path) -> DiskCache:
    """The decode cache under ``root``; CacheUnusable when the folder cannot be used."""
    return DiskCache(open_folder(root, "decode"), _min_size())


def _min_size() -> int:
    value = os.environ.get("TBREPORT_CACHE_MIN_SIZE", "")
    try:
        return max(0, int(value)) if value.strip() else MIN_SIZE
    except ValueError:
        return MIN_SIZE


def unusable_message(root: Path, err: CacheUnusable) -> str:
    """The ``cache-unusable`` warning's text."""
    return (
        f"Cannot use the cache folder '{root}': {err}. Going on without a cache; fix it, pass "
        "--cache DIR for another folder, or --no-cache."
    )


def decode_cache_for(folder: str | None, off: bool) -> tuple[DecodeCache | None, str | None]:
    """The disk decode cache of the ``--cache``/``--no-cache`` options, or None and why not
    (None, None with ``--no-cache``)."""
    if off:
        return None, None
    root = cache_root(folder)
    try:
        return open_disk_cache(root), None
    except CacheUnusable as err:
        return None, unusable_message(root, err)


def write_atomic(folder: Path, name: str, parts: list[bytes | memoryview]) -> bool:
    """Write ``parts`` as ``folder/name`` by a temporary file renamed into place; False when
    that failed (a full disk): the cache then just lacks the entry."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".part")
    except OSError:  # the folder went away, or is full
        return False
    try:
        with os.fdopen(fd, "wb") as fh:
            for part in parts:
                fh.write(part)
        os.replace(tmp, folder / name)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False


def read_checked(path: Path, magic: bytes) -> memoryview | None:
    """The bytes after ``magic`` and the digest of a cache file, if the digest holds."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < len(magic) + _DIGEST:
                return None
            buf = bytearray(size)
            view = memoryview(buf)
            got = 0
            while got < size:
                more = fh.readinto(view[got:])
                if not more:
                    return None
                got += more
    except OSError:
        return None
    if bytes(view[: len(magic)]) != magic:
        return None
    body = view[len(magic) + _DIGEST :]
    if hashlib.sha256(body).digest() != bytes(view[len(magic) : len(magic) + _DIGEST]):
        return None
    return body


class DiskCache(_Outcomes):
    """Entries as files in ``folder``, one per event file (named by a hash of its key)."""

    def __init__(self, folder: Path, min_size: int = MIN_SIZE) -> None:
        super().__init__()
        self.folder = folder
        self.min_size = min_size

    def _name(self, key: str) -> str:
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40] + ".tbc"

    def load(self, key: str) -> Entry | str:
        path = self.folder / self._name(key)
        if not path.exists():
            return "new"
        body = read_checked(path, MAGIC)
        entry = None if body is None else _decode_entry(body, key)
        return "bad-entry" if entry is None else entry

    def save(self, entry: Entry) -> None:
        parts = _encode_entry(entry)
        digest = hashlib.sha256()
        for part in parts:
            digest.update(part)
        write_atomic(self.folder, self._name(entry.key), [MAGIC, digest.digest(), *parts])


# --- entries as bytes -----------------------------------------------------------------------

_SCALARS = (
    ("record", "<i8"),
    ("tag", "<i4"),
    ("step", "<i8"),
    ("wall", "<f8"),
    ("value", "<f8"),
    ("encoding", "|u1"),
)
_CHUNK = ("tag", "offsets", "indices", "steps", "walls", "sizes", "buckets")
_DTYPES = {"<i8", "<i4", "<f8", "|u1", "<u8", "<i2", "<u4", "<f4"}


#: narrower types a scalar column may be kept in, when it holds its values exactly
_NARROWER = {
    "record": ("<i4",),
    "tag": ("|u1", "<u2"),
    "step": ("<i4",),
    "wall": (),
    "value": ("<f4",),
    "encoding": (),
}


def _narrow(name: str, array: np.ndarray) -> np.ndarray:
    """``array`` in the narrowest type of _NARROWER that gives back every value bit for bit
    (entries of a million points then take about 22 bytes a point rather than 37)."""
    for dtype in _NARROWER[name]:
        narrow = array.astype(dtype)
        if np.array_equal(narrow.astype(array.dtype).view(np.uint8), array.view(np.uint8)):
            return narrow
    return array


def _encode_entry(entry: Entry) -> list[bytes | memoryview]:
    data = entry.data
    arrays: list[tuple[str, np.ndarray]] = [
        (name, _narrow(name, np.ascontiguousarray(getattr(data, name)))) for name, _ in _SCALARS
    ]
    chunks = []
    for i, chunk in enumerate(data.histograms):
        chunks.append({"tags": chunk.tags, "plugin": chunk.plugin})
        arrays.extend((f"h{i}.{name}", getattr(chunk, name)) for name in _CHUNK)
    framing = data.framing
    header: dict[str, Any] = {
        "format": FORMAT,
        "key": entry.key,
        "stat": None if entry.stat is None else list(_stat_tuple(entry.stat)),
        "consumed": entry.consumed,
        "walked": entry.walked,
        "head": entry.head.hex(),
        "tail": entry.tail.hex(),
        "path": data.path,
        "tags": data.tags,
        "metadata": [[tag, rec, plugin] for tag, (rec, plugin) in data.metadata.items()],
        "others": [[tag, plugin, count] for (tag, plugin), count in data.others.items()],
        "hparams": list(data.hparams.items()),
        "undecodable": data.undecodable,
        "file_version": data.file_version,
        "records": data.records,
        "size": data.size,
        "framing": None
        if framing is None
        else [framing.status, framing.stop_offset, framing.reason, list(framing.skipped)],
        "skipped": data.skipped,
        "blobs": data.blobs,
        "histograms": chunks,
    }
    layout = []
    blobs: list[bytes | memoryview] = []
    at = 0
    for name, array in arrays:
        array = np.ascontiguousarray(array)
        layout.append([name, array.dtype.str, list(array.shape), at])
        raw = memoryview(array.data).cast("B") if array.size else memoryview(b"")
        blobs.append(raw)
        pad = -raw.nbytes % 8
        at += raw.nbytes
        if pad:
            blobs.append(bytes(pad))
            at += pad
    header["arrays"] = layout
    text = json.dumps(header, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return [len(text).to_bytes(4, "little"), text, *blobs]


def _stat_tuple(st: FileStat) -> tuple[int, int, int, int]:
    return (st.size, st.mtime_ns, st.ino, st.dev)


def _decode_entry(body: memoryview, key: str) -> Entry | None:
    """The entry in ``body`` (digest already checked), or None if it is not one for ``key``."""
    try:
        size = int.from_bytes(body[:4], "little")
        header = json.loads(bytes(body[4 : 4 + size]))
        if header.get("format") != FORMAT or header.get("key") != key:
            return None
        payload = body[4 + size :]
        arrays: dict[str, np.ndarray] = {}
        for name, dtype, shape, at in header["arrays"]:
            if dtype not in _DTYPES or not all(isinstance(n, int) and n >= 0 for n in shape):
                return None
            count = int(np.prod(shape, dtype=np.int64))
            nbytes = count * np.dtype(dtype).itemsize
            if not isinstance(at, int) or at < 0 or at + nbytes > payload.nbytes:
                return None
            arrays[name] = np.frombuffer(payload, dtype=dtype, count=count, offset=at).reshape(
                shape
            )
        return _entry_from(header, arrays)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
        return None


def _entry_from(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> Entry | None:
    scalars = [arrays[name] for name, _ in _SCALARS]
    n = scalars[0].shape[0]
    for i, (name, dtype) in enumerate(_SCALARS):
        column = scalars[i]
        if column.ndim != 1 or column.shape[0] != n:
            return None
        if column.dtype.str != dtype:
            if column.dtype.str not in _NARROWER[name]:
                return None
            scalars[i] = column.astype(dtype)
    tags = [str(t) for t in header["tags"]]
    if n and (int(scalars[1].min()) < 0 or int(scalars[1].max()) >= len(tags)):
        return None
    chunks = []
    for i, meta in enumerate(header["histograms"]):
        parts = [arrays[f"h{i}.{name}"] for name in _CHUNK]
        chunk_tags = [str(t) for t in meta["tags"]]
        count = parts[0].shape[0]
        if any(p.shape[0] != count for p in parts[:6]) or parts[6].ndim != 2:
            return None
        if count and (int(parts[0].min()) < 0 or int(parts[0].max()) >= len(chunk_tags)):
            return None
        if int(parts[5].sum()) != parts[6].shape[0]:
            return None
        plugin = meta["plugin"]
        tag, offsets, indices, steps, walls, sizes, buckets = parts
        chunks.append(
            HistogramChunk(
                chunk_tags, tag, offsets, indices, steps, walls, sizes, buckets,
                None if plugin is None else str(plugin),
            )
        )  # fmt: skip
    framing = header["framing"]
    empty = np.zeros(0, np.int64)
    stat = header["stat"]
    data = FileData(
        path=str(header["path"]),
        tags=tags,
        record=scalars[0],
        tag=scalars[1],
        step=scalars[2],
        wall=scalars[3],
        value=scalars[4],
        encoding=scalars[5],
        metadata={str(t): (int(rec), str(p)) for t, rec, p in header["metadata"]},
        others=defaultdict(
            int,
            {(str(t), None if p is None else str(p)): int(c) for t, p, c in header["others"]},
        ),
        hparams={str(k): v for k, v in header["hparams"]},
        undecodable=[(int(o), str(r)) for o, r in header["undecodable"]],
        file_version=None if header["file_version"] is None else str(header["file_version"]),
        records=int(header["records"]),
        size=int(header["size"]),
        framing=None
        if framing is None
        else records.Framing(
            empty,
            empty,
            str(framing[0]),
            None if framing[1] is None else int(framing[1]),
            str(framing[2]),
            tuple(int(o) for o in framing[3]),
        ),
        skipped=[(int(o), None if s is None else int(s)) for o, s in header["skipped"]],
        blobs=[
            (str(t), None if p is None else str(p), int(s), float(w), int(o), int(i))
            for t, p, s, w, o, i in header["blobs"]
        ],
        histograms=chunks,
    )
    consumed = header["consumed"]
    return Entry(
        key=str(header["key"]),
        stat=None if stat is None else FileStat(*(int(v) for v in stat)),
        consumed=None if consumed is None else int(consumed),
        walked=int(header["walked"]),
        head=bytes.fromhex(header["head"]),
        tail=bytes.fromhex(header["tail"]),
        data=data,
    )


# --- reading through the cache ----------------------------------------------------------------


class CachedReader:
    """One reading task's use of a store: :meth:`lookup` each file first; the files it gives
    None for are read whole as without a cache, then handed to :meth:`store`."""

    def __init__(self, cache: DecodeCache, verify: bool, fast: bool) -> None:
        self.cache = cache
        self.verify = verify
        self.fast = fast
        self.prefix = fingerprint(verify, fast) + "\0"
        #: per file read whole: its stat before reading, and why it is read whole
        self._misses: dict[str, tuple[FileStat, str]] = {}

    def key(self, path: str) -> str:
        return self.prefix + os.path.abspath(path)

    def lookup(self, path: str) -> FileData | None:
        """The file's data from the cache (decoding only new bytes), or None: read it whole."""
        try:
            st = os.stat(path)
        except OSError:
            self.cache.note(path, "uncached")
            return None
        if not stat_module.S_ISREG(st.st_mode) or st.st_size == 0:
            self.cache.note(path, "uncached")
            return None
        if st.st_size < self.cache.min_size:
            self.cache.note(path, "small")
            return None
        now = FileStat.of(st)
        key = self.key(path)
        entry = self.cache.load(key)
        if isinstance(entry, str):
            self._misses[path] = (now, entry)
            return None
        if entry.data.path != path:  # the same file named another way (another working folder)
            entry = replace(entry, data=replace(entry.data, path=path))
        if entry.stat == now:
            self.cache.note(path, "unchanged")
            return entry.data
        outcome = _resume_outcome(entry, now)
        if outcome is not None:
            self._misses[path] = (now, outcome)
            return None
        assert entry.consumed is not None
        got = self._read_after(path, entry, now)
        if isinstance(got, str):
            self._misses[path] = (now, got)
            return None
        data, fresh = got
        self.cache.save(fresh)
        self.cache.note(path, "appended")
        return data

    def _read_after(self, path: str, entry: Entry, now: FileStat) -> tuple[FileData, Entry] | str:
        """The file's data joining the entry's and the bytes after its consumed offset, and the
        new entry; or why the file must be read whole."""
        consumed = entry.consumed
        assert consumed is not None
        try:
            with open(path, "rb") as fh:
                fd = fh.fileno()
                if FileStat.of(os.fstat(fd)) != now:
                    return "replaced"  # changed between stat and open: start again
                if _blocks(fd, consumed) != (entry.head, entry.tail):
                    return "replaced"
                buf = _load_from(fh, consumed)
                stable = FileStat.of(os.fstat(fd)) == now and consumed + buf.shape[0] == now.size
                if buf.shape[0] == 0 and entry.data.size == consumed:
                    return entry.data, replace(entry, stat=now if stable else None)
                got = read_segments(buf, (path,), (0,), self.verify, self.fast)
                assert got is not None  # one file is always read on its own terms
                part = got[0]
                data = _join(entry.data, part, consumed, entry.walked)
                resumable = part.framing is not None and part.framing.status in ("ok", "truncated")
                walked = entry.walked + part.records + len(part.skipped)
                fresh = _entry_for(
                    entry.key, data, now if stable else None, walked, resumable,
                    lambda at: _blocks(fd, at),
                )  # fmt: skip
        except OSError:
            return "replaced"
        return data, fresh

    def store(self, path: str, data: FileData) -> None:
        """Keep ``data``, read whole after :meth:`lookup` gave None for ``path``."""
        miss = self._misses.pop(path, None)
        if miss is None:
            return
        before, outcome = miss
        self.cache.note(path, outcome)
        framing = data.framing
        if framing is None:
            return
        try:
            with open(path, "rb") as fh:
                after = FileStat.of(os.fstat(fh.fileno()))
                stable = after == before and data.size == before.size
                resumable = stable and framing.status in ("ok", "truncated")
                consumed = _consumed(data)
                head, tail = _blocks(fh.fileno(), consumed) if resumable else (b"", b"")
        except OSError:
            return
        walked = data.records + len(data.skipped)
        entry = _entry_for(
            self.key(path), data, before if stable else None, walked, resumable,
            lambda _: (head, tail),
        )  # fmt: skip
        self.cache.save(entry)


def _resume_outcome(entry: Entry, now: FileStat) -> str | None:
    """Why the file cannot be resumed from ``entry`` (read it whole), or None if it can."""
    if entry.consumed is None:
        return "damaged"
    old = entry.stat
    if old is not None and (old.ino, old.dev) != (now.ino, now.dev):
        return "replaced"
    if now.size < entry.data.size:
        return "shrank"
    if now.size == entry.data.size:
        return "rewritten"  # another time stamp and no new bytes: changed in place
    return None


def _consumed(data: FileData) -> int:
    """Bytes of whole records at the start of a file read as ``data`` (ok or truncated)."""
    framing = data.framing
    if framing is not None and framing.status == "truncated" and framing.stop_offset is not None:
        return framing.stop_offset
    return data.size


def _entry_for(
    key: str,
    data: FileData,
    st: FileStat | None,
    walked: int,
    resumable: bool,
    blocks: Any,
) -> Entry:
    if not resumable:
        return Entry(key, st, None, walked, b"", b"", data)
    consumed = _consumed(data)
    head, tail = blocks(consumed)
    return Entry(key, st, consumed, walked, head, tail, data)


def _block_ranges(consumed: int) -> tuple[tuple[int, int], tuple[int, int]]:
    n = min(BLOCK, consumed)
    return (0, n), (consumed - n, consumed)


def _blocks(fd: int, consumed: int) -> tuple[bytes, bytes]:
    """Digests of the first and the last block of the file's first ``consumed`` bytes."""
    (a, b), (c, d) = _block_ranges(consumed)
    return (
        hashlib.sha256(os.pread(fd, b - a, a)).digest(),
        hashlib.sha256(os.pread(fd, d - c, c)).digest(),
    )


def _load_from(fh: Any, start: int) -> np.ndarray:
    """The file's bytes from ``start`` to its end, followed by records.PAD zero bytes (as
    :func:`records.load` gives them)."""
    from tbreport.read.storage import read_into

    fh.seek(start)
    return read_into(fh, max(0, os.fstat(fh.fileno()).st_size - start))


def _join(old: FileData, new: FileData, base: int, walked: int) -> FileData:
    """One file's data from its first ``base`` bytes (``old``, ``walked`` records) and the
    bytes after them (``new``, its offsets and record numbers its own)."""
    tags = list(old.tags)
    index = {tag: i for i, tag in enumerate(tags)}
    remap = np.empty(len(new.tags), dtype=np.int32)
    for local, tag in enumerate(new.tags):
        if tag not in index:
            index[tag] = len(tags)
            tags.append(tag)
        remap[local] = index[tag]
    metadata = dict(old.metadata)
    for tag, (rec, plugin) in new.metadata.items():
        metadata.setdefault(tag, (rec + walked, plugin))
    others = defaultdict(int, old.others)
    for key, count in new.others.items():
        others[key] += count
    framing = new.framing
    assert framing is not None and old.framing is not None
    skipped = tuple(o + base for o in framing.skipped)
    return FileData(
        path=old.path,
        tags=tags,
        record=np.concatenate([old.record, new.record + walked]),
        tag=np.concatenate([old.tag, remap[new.tag]]).astype(np.int32, copy=False),
        step=np.concatenate([old.step, new.step]),
        wall=np.concatenate([old.wall, new.wall]),
        value=np.concatenate([old.value, new.value]),
        encoding=np.concatenate([old.encoding, new.encoding]),
        metadata=metadata,
        others=others,
        hparams={**old.hparams, **new.hparams},
        undecodable=old.undecodable + [(o + base, r) for o, r in new.undecodable],
        file_version=old.file_version if old.file_version is not None else new.file_version,
        records=old.records + new.records,
        size=base + new.size,
        framing=replace(
            framing,
            stop_offset=None if framing.stop_offset is None else framing.stop_offset + base,
            skipped=old.framing.skipped + skipped,
        ),
        skipped=old.skipped + [(o + base, s) for o, s in new.skipped],
        blobs=old.blobs + [(t, p, s, w, o + base, i) for t, p, s, w, o, i in new.blobs],
        histograms=old.histograms + [replace(c, offsets=c.offsets + base) for c in new.histograms],
    )
