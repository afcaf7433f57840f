"""Charts stage: report elements in, their images out, drawn on a pool of worker processes.

:class:`ChartPool` is created by the pipeline before reading and closed after drawing. It
imports matplotlib on a thread of its own while the logdir is read (the import takes most of a
second), joins it before starting workers, and forks them so they inherit the import. Each
element is drawn by its kind (``tbreport.kinds``) with a :class:`~tbreport.charts.figure.Painter`
that reuses figures. With a chart cache (:mod:`tbreport.charts.cache`) an element whose image
is kept is not drawn again; ``drawn`` and ``reused`` count what the pool did. This module itself
does not import matplotlib.
"""

from __future__ import annotations

import importlib
import math
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tbreport.charts.cache import ChartCache
    from tbreport.charts.figure import Painter
    from tbreport.model import DataWarning

__all__ = ["ChartPool", "Painter"]

#: fewer elements than this are drawn in-process: a pool costs more to start than it saves
MIN_PARALLEL = 4

Progress = Callable[[int, int], None]


def __getattr__(name: str) -> Any:
    if name == "Painter":  # matplotlib only when asked for
        from tbreport.charts.figure import Painter

        return Painter
    raise AttributeError(name)


class ChartPool:
    """Draws elements on ``jobs`` processes (None: every usable core), in input order."""

    def __init__(
        self,
        jobs: int | None = None,
        image_format: str = "png",
        warm: bool = True,
        font_dir: Path | None = None,
        cache: ChartCache | None = None,
    ) -> None:
        if jobs is not None and jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {jobs}")
        self.jobs = jobs
        self.image_format = image_format
        #: import matplotlib in the background from the start (when images will be drawn)
        self.warm = warm
        #: where the fallback fonts are (None: Debian's /usr/share/fonts)
        self.font_dir = font_dir
        #: images kept between builds (None: every element is drawn)
        self.cache = cache
        #: elements drawn, and elements whose image came from the cache, so far
        self.drawn = 0
        self.reused = 0
        self._warm: threading.Thread | None = None
        self._painter: Painter | None = None

    def __enter__(self) -> ChartPool:
        if self.warm:
            self.start_warm()
        return self

    def start_warm(self) -> None:
        """Import matplotlib on a thread of its own now (once), ahead of drawing."""
        if self._warm is not None or "tbreport.charts.figure" in sys.modules:
            return
        # numpy releases the GIL while the logdir is read: the import overlaps it
        self._warm = threading.Thread(target=_warm_up, args=(self.font_dir,), daemon=True)
        self._warm.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._join()
        self._painter = None

    def _new_painter(self) -> Painter:
        from tbreport.charts.figure import FONT_DIR, Painter

        return Painter(self.font_dir or FONT_DIR)

    def missing_glyphs(self, texts: Iterable[str]) -> DataWarning | None:
        """The note for characters of ``texts`` that the chart fonts cannot draw, if any."""
        key = None
        if self.cache is not None:
            from tbreport.charts.cache import glyph_key, note_bytes, note_from

            texts = list(texts)
            key = glyph_key(texts, self.font_dir)
            raw = self.cache.get(key)
            kept = "bad" if raw is None else note_from(raw)
            if not isinstance(kept, str):
                return kept
        self._join()
        from tbreport.charts.fonts import FONT_DIR, missing_glyphs

        note = missing_glyphs(texts, self.font_dir or FONT_DIR)
        if key is not None and self.cache is not None:
            self.cache.put(key, note_bytes(note))
        return note

    def _join(self) -> None:
        if self._warm is not None:
            self._warm.join()
            self._warm = None

    def draw(
        self,
        elements: Sequence[Any],
        progress: Progress | None = None,
        meanwhile: Callable[[], object] | None = None,
        fallback: Sequence[bool] | None = None,
    ) -> list[bytes]:
        """Every element's image. ``progress(done, total)`` is called here as they complete;
        ``meanwhile()`` runs here while the workers draw (or after drawing, without a pool).
        ``fallback[i]``: element i's image is only the no-script view of a chart the page's
        script draws (``Painter.fallback``)."""
        from tbreport.charts.cache import cached_images

        elements = list(elements)
        flags = [False] * len(elements) if fallback is None else list(fallback)
        if len(flags) != len(elements):
            raise ValueError(f"{len(elements)} elements but {len(flags)} fallback flags")
        keys, images = cached_images(self.cache, elements, self.image_format, self.font_dir, flags)
        missing = [i for i, image in enumerate(images) if image is None]
        self.reused += len(elements) - len(missing)
        if missing:
            drawn = self._draw([(elements[i], flags[i]) for i in missing], progress, meanwhile)
            self.drawn += len(drawn)
            for i, image in zip(missing, drawn, strict=True):
                images[i] = image
                key = keys[i]
                if key is not None and self.cache is not None:
                    self.cache.put(key, image)
        elif meanwhile is not None:
            meanwhile()
        return [image for image in images if image is not None]

    def _draw(
        self,
        elements: list[tuple[Any, bool]],
        progress: Progress | None = None,
        meanwhile: Callable[[], object] | None = None,
    ) -> list[bytes]:
        self._join()
        from tbreport.charts.figure import check_format

        check_format(self.image_format)
        total = len(elements)
        workers = min(self.jobs or _usable_cpus(), total)
        if workers <= 1 or total < MIN_PARALLEL:
            if self._painter is None:
                self._painter = self._new_painter()
            images = []
            for done, element in enumerate(elements, 1):
                images.append(_draw_one(element, self.image_format, self._painter))
                if progress is not None:
                    progress(done, total)
            if meanwhile is not None:
                meanwhile()
            return images
        return self._draw_parallel(elements, workers, progress, meanwhile)

    def _draw_parallel(
        self,
        elements: list[tuple[Any, bool]],
        workers: int,
        progress: Progress | None,
        meanwhile: Callable[[], object] | None,
    ) -> list[bytes]:
        total = len(elements)
        # chunks amortise pickling and IPC; several per worker keep cores busy to the end
        chunk = max(1, min(16, math.ceil(total / (workers * 4))))
        results: list[bytes] = [b""] * total
        done = 0
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=_pool_context(),
            initializer=_init_worker,
            initargs=(self.font_dir,),
        ) as pool:
            pending: dict[Future[list[bytes]], int] = {
                pool.submit(_draw_chunk, elements[s : s + chunk], self.image_format): s
                for s in range(0, total, chunk)
            }
            if meanwhile is not None:
                meanwhile()  # the workers exist now: no thread of ours runs when they fork
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    start = pending.pop(future)
                    images = future.result()  # a worker's exception is raised here
                    results[start : start + len(images)] = images
                    done += len(images)
                    if progress is not None:
                        progress(done, total)
        return results


def _warm_up(font_dir: Path | None) -> None:
    """Import matplotlib and register the fallback fonts and their character maps (cached per
    process, so the forked workers start with them)."""
    importlib.import_module("tbreport.charts.figure")
    from tbreport.charts.fonts import FONT, FONT_DIR, charmap, fallback_families

    charmap(fallback_families(font_dir or FONT_DIR))
    charmap((FONT,))


def _draw_one(item: tuple[Any, bool], image_format: str, painter: Painter) -> bytes:
    from tbreport.registry import get_kind

    element, fallback = item
    painter.fallback = fallback
    try:
        return bytes(get_kind(element.kind).draw(element, image_format, painter))
    finally:
        painter.fallback = False


# A worker process draws with one Painter of its own, made by the pool's initializer; it lives
# and dies with that process (the pool's), never in the process that made the pool.
_worker_painter: list[Painter] = []


def _init_worker(font_dir: Path | None) -> None:
    from tbreport.charts.figure import FONT_DIR, Painter

    _worker_painter[:] = [Painter(font_dir or FONT_DIR)]


def _draw_chunk(elements: list[tuple[Any, bool]], image_format: str) -> list[bytes]:
    return [_draw_one(e, image_format, _worker_painter[0]) for e in elements]


def _pool_context() -> multiprocessing.context.BaseContext:
    # fork is fastest (workers inherit the imported matplotlib), but forking a process that
    # runs threads can deadlock (an application embedding tbreport may): spawn then
    if (
        sys.platform.startswith("linux")
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
    ):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        # the cores this process may run on (containers, taskset), not the machine's count
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
