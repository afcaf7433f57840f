"""Charts stage, cache: chart images kept between builds, keyed by a hash of what they are drawn
from, so a chart whose data and options did not change is not drawn again.

A chart's key is the SHA-256 of its element (every field, numpy arrays by dtype, shape and
bytes: the data and every option the report stage put into it), the image format, the font
folder and which fallback fonts it holds (size and modification time of each), tbreport's
version (and a digest of the charts and kinds source), matplotlib's version (read from its
package metadata, without importing it). The note on characters the chart fonts lack is kept
the same way, keyed by the texts it checks. Only elements of tbreport's own kinds made of plain
values are cached; any other is drawn every time. :class:`ChartCache` is the protocol
(``get(key) -> bytes | None``, ``put(key, image)``); :class:`DiskCharts` keeps one file per
image under ``ROOT/charts/`` (written atomically, checked by digest on reading: a damaged or
foreign file is a miss and is rewritten), :class:`MemoryCharts` keeps them in this process."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import json
import os
import struct
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tbreport.charts.fallbacks import FALLBACKS, FONT_DIR
from tbreport.model import DataWarning
from tbreport.read.cache import code_version, open_folder, read_checked, write_atomic

__all__ = [
    "ChartCache",
    "DiskCharts",
    "MemoryCharts",
    "cached_images",
    "chart_key",
    "feed",
    "fonts_state",
    "glyph_key",
    "open_disk_charts",
]

MAGIC = b"TBRIMG1\n"
FORMAT = 1
#: images a MemoryCharts keeps at most (the least recently used go first)
MEMORY_IMAGES = 4096


class ChartCache(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, image: bytes) -> None: ...

    def empty(self) -> bool:
        """Whether nothing is kept yet (a first build: every chart will be drawn)."""
        ...


class MemoryCharts:
    """Images held in this process (a long-running reader draws each version once)."""

    def __init__(self, max_images: int = MEMORY_IMAGES) -> None:
        self.max_images = max_images
        self._images: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            image = self._images.get(key)
            if image is not None:
                self._images.move_to_end(key)
            return image

    def empty(self) -> bool:
        return not self._images

    def put(self, key: str, image: bytes) -> None:
        with self._lock:
            self._images[key] = image
            self._images.move_to_end(key)
            while len(self._images) > self.max_images:
                self._images.popitem(last=False)


class DiskCharts:
    """Images as files in ``folder`` named by their key: MAGIC, the SHA-256 of the rest, the
    key and a newline, the image."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get(self, key: str) -> bytes | None:
        path = self.folder / f"{key}.img"
        if not path.exists():
            return None
        body = read_checked(path, MAGIC)
        label = key.encode("ascii") + b"\n"
        if body is None or bytes(body[: len(label)]) != label:
            return None  # damaged, or another key's file under this name
        return bytes(body[len(label) :])

    def empty(self) -> bool:
        try:
            with os.scandir(self.folder) as entries:
                return not any(e.name.endswith(".img") for e in entries)
        except OSError:  # the folder went away: nothing is kept
            return True

    def put(self, key: str, image: bytes) -> None:
        body = key.encode("ascii") + b"\n" + image
        digest = hashlib.sha256(body).digest()
        write_atomic(self.folder, f"{key}.img", [MAGIC, digest, body])


def open_disk_charts(root: Path) -> DiskCharts:
    """The chart cache under ``root``; CacheUnusable when the folder cannot be used."""
    return DiskCharts(open_folder(root, "charts"))


@cache
def _versions() -> bytes:
    from importlib.metadata import PackageNotFoundError, version

    try:
        mpl = version("matplotlib")
    except PackageNotFoundError:
        mpl = "none"
    code = code_version("charts", "kinds")
    return f"tbreport {code} charts {FORMAT} matplotlib {mpl}".encode()


class _Unhashable(Exception):
    pass


def fonts_state(font_dir: Path | None) -> tuple[object, ...]:
    """Which fallback fonts ``font_dir`` holds, by size and modification time."""
    folder = font_dir or FONT_DIR
    state: list[object] = [str(folder)]
    for fallback in FALLBACKS:
        try:
            st = (folder / fallback.file).stat()
            state.append((fallback.file, st.st_size, st.st_mtime_ns))
        except OSError:
            state.append((fallback.file, None))
    return tuple(state)


def chart_key(
    element: Any,
    image_format: str,
    font_dir: Path | None,
    fonts: tuple[object, ...] | None = None,
    fallback: bool = False,
) -> str | None:
    """The key of ``element``'s image, or None for an element that is not cached. ``fonts``:
    ``fonts_state`` of ``font_dir``, when the caller has it already; ``fallback``: the image is
    the compact no-script copy of a chart the page's script draws."""
    from tbreport.registry import get_kind

    kind = get_kind(element.kind)
    if not type(kind).__module__.startswith("tbreport."):
        return None  # another package's kind: its drawing code has a version we cannot see
    h = hashlib.sha256(_versions())
    feed(
        h, (image_format, fonts_state(font_dir) if fonts is None else fonts, element.kind, fallback)
    )
    try:
        feed(h, element)
    except _Unhashable:
        return None
    return h.hexdigest()


def feed(h: Any, obj: Any) -> None:
    """Hash ``obj`` by type and value (the same value always gives the same bytes)."""
    if obj is None or isinstance(obj, bool):
        h.update(b"N" if obj is None else (b"T" if obj else b"F"))
    elif isinstance(obj, enum.Enum):
        h.update(f"E{type(obj).__qualname__}.{obj.name};".encode())
    elif isinstance(obj, int):
        h.update(f"i{obj};".encode())
    elif isinstance(obj, float):
        h.update(b"f" + struct.pack("<d", obj))
    elif isinstance(obj, str):
        raw = obj.encode("utf-8", "surrogatepass")
        h.update(b"s%d;" % len(raw))
        h.update(raw)
    elif isinstance(obj, bytes):
        h.update(b"b%d;" % len(obj))
        h.update(obj)
    elif isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise _Unhashable
        h.update(f"a{obj.dtype.str}{obj.shape};".encode())
        h.update(memoryview(np.ascontiguousarray(obj).data).cast("B"))
    elif isinstance(obj, np.generic):
        feed(h, obj.item())
    elif isinstance(obj, tuple | list):
        h.update(b"(%d;" % len(obj))
        for item in obj:
            feed(h, item)
    elif isinstance(obj, dict):
        h.update(b"{%d;" % len(obj))
        for key, value in obj.items():
            feed(h, key)
            feed(h, value)
    elif isinstance(obj, frozenset | set):
        feed(h, sorted(obj, key=repr))
    elif isinstance(obj, dt.datetime | dt.date):
        h.update(f"d{obj.isoformat()};".encode())
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        h.update(f"D{type(obj).__module__}.{type(obj).__qualname__};".encode())
        for f in dataclasses.fields(obj):
            h.update(f.name.encode() + b"=")
            feed(h, getattr(obj, f.name))
    else:
        raise _Unhashable


def glyph_key(texts: Sequence[str], font_dir: Path | None) -> str:
    """The key of the missing-glyphs note for ``texts``."""
    h = hashlib.sha256(_versions() + b" glyphs")
    feed(h, (fonts_state(font_dir), list(texts)))
    return "note-" + h.hexdigest()


def note_bytes(note: DataWarning | None) -> bytes:
    return json.dumps(None if note is None else note.to_dict(), sort_keys=True).encode()


def note_from(raw: bytes) -> DataWarning | None | str:
    """The note kept as ``raw``, or "bad" when it is not one."""
    try:
        data = json.loads(raw)
        if data is None:
            return None
        fields = ("kind", "message", "path", "offset", "run", "tag", "severity")
        return DataWarning(**{k: data[k] for k in fields})
    except (ValueError, TypeError, KeyError):
        return "bad"


def cached_images(
    cache: ChartCache | None,
    elements: Sequence[Any],
    image_format: str,
    font_dir: Path | None,
    fallback: Sequence[bool],
) -> tuple[list[str | None], list[bytes | None]]:
    """Each element's key and its image from ``cache`` (None where it must be drawn);
    ``fallback[i]``: element i is drawn as a compact no-script copy."""
    if cache is None:
        return [None] * len(elements), [None] * len(elements)
    fonts = fonts_state(font_dir)
    keys = [
        chart_key(e, image_format, font_dir, fonts, f)
        for e, f in zip(elements, fallback, strict=True)
    ]
    return keys, [None if k is None else cache.get(k) for k in keys]
