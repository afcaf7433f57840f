"""Charts stage: report elements in, their images out, drawn on a pool of worker processes.

:class:`ChartPool` is created by the pipeline before reading and closed after drawing. In a
process without threads (the tbreport command) it forks multiprocessing's fork server at once,
which imports matplotlib (most of a second) in a process of its own while this one reads the
logdir at full speed; the workers are forked from that server and start with the import done.
Otherwise (threads running, as in a notebook's kernel; or ``jobs=1``) matplotlib is imported
on a thread of this process, once per process, joined before drawing, and the workers are
forked from here (spawned where forking is unsafe). Each
element is drawn by its kind (``tbreport.kinds``) with a :class:`~tbreport.charts.figure.Painter`
that reuses figures. With a chart cache (:mod:`tbreport.charts.cache`) an element whose image
is kept is not drawn again; ``drawn`` and ``reused`` count what the pool did. This module itself
does not import matplotlib.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import math
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from tbreport.options import IMAGE_FORMATS

if TYPE_CHECKING:
    from tbreport.charts.cache import ChartCache
    from tbreport.charts.figure import Painter
    from tbreport.model import DataWarning

__all__ = ["ChartPool", "Later", "Painter", "Pending"]

#: fewer elements than this are drawn in-process: a pool costs more to start than it saves
#: (unless the fork server has matplotlib imported and this process has not)
MIN_PARALLEL = 4
#: what the fork server imports before it forks a worker (see ``tbreport.charts.preload``)
PRELOAD = "tbreport.charts.preload"

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
        later: Later | None = None,
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
        #: where the images to draw go instead of being drawn here (a preview server's): the
        #: artifacts then hold a :class:`Pending` image for each
        self.later = later
        #: elements drawn, and elements whose image came from the cache, so far
        self.drawn = 0
        self.reused = 0
        self._warm: threading.Thread | None = None
        self._painter: Painter | None = None
        #: the fork server and resource tracker this pool started (and stops on exit)
        self._server: _Server | None = None
        #: the workers, made at the first parallel draw and shut down on exit
        self._executor: ProcessPoolExecutor | None = None
        self._workers = 0

    def __enter__(self) -> ChartPool:
        if self.warm:
            self.start_warm()
        return self

    def start_warm(self) -> None:
        """Have matplotlib imported now (once), ahead of drawing: by the workers' fork server
        when workers will draw, else on a thread of this process."""
        if self._warm is not None or self._server is not None:
            return
        if "tbreport.charts.figure" in sys.modules:
            return
        if (self.jobs or _usable_cpus()) > 1:
            self._server = _Server.start()
            if self._server is not None:
                return
        # numpy releases the GIL while the logdir is read: the import overlaps it (though
        # the import's own Python holds the GIL the readers' threads need)
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
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._server is not None:
            self._server.stop()
            self._server = None

    def _remote(self) -> bool:
        """Whether the fork server's workers should do work this process would otherwise
        need matplotlib for (importing it here costs more than forking a worker there)."""
        return self._server is not None and "tbreport.charts.figure" not in sys.modules

    def _new_painter(self) -> Painter:
        return _new_painter(self.font_dir)

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
        if self._remote():
            note = self._pool(1).submit(_missing_glyphs, list(texts), self.font_dir).result()
        else:
            note = _missing_glyphs(texts, self.font_dir)
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
        if missing and self.later is not None:
            pending = self.later.draw(
                [(keys[i], elements[i], flags[i]) for i in missing],
                self.image_format, self.font_dir, self.cache,
            )  # fmt: skip
            self.drawn += len(pending)
            for i, waiting in zip(missing, pending, strict=True):
                images[i] = waiting
            if meanwhile is not None:
                meanwhile()
        elif missing:
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
        if self.image_format not in IMAGE_FORMATS:  # checked before any worker starts
            raise ValueError(
                f"image_format must be one of {IMAGE_FORMATS}, got {self.image_format!r}"
            )
        total = len(elements)
        workers = min(self.jobs or _usable_cpus(), total)
        if not self._remote() and (workers <= 1 or total < MIN_PARALLEL):
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
        pool = self._pool(workers)
        pending: dict[Future[list[bytes]], int] = {
            pool.submit(_draw_chunk, elements[s : s + chunk], self.image_format): s
            for s in range(0, total, chunk)
        }
        if meanwhile is not None:
            meanwhile()  # the workers exist now: no thread of ours runs when they fork
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    start = pending.pop(future)
                    images = future.result()  # a worker's exception is raised here
                    results[start : start + len(images)] = images
                    done += len(images)
                    if progress is not None:
                        progress(done, total)
        finally:
            for future in pending:
                future.cancel()
        return results

    def _pool(self, workers: int) -> ProcessPoolExecutor:
        """The workers (at least ``workers`` of them), kept until the pool is closed."""
        if self._executor is not None and self._workers < workers:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._executor is None:
            context = (
                multiprocessing.get_context("forkserver")
                if self._server is not None
                else _pool_context()
            )
            self._executor = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=context,
                initializer=_init_worker,
                initargs=(self.font_dir,),
            )
            self._workers = workers
        return self._executor


class Pending(bytes):
    """An image (or a plotted-data file) :class:`Later` is still making, in the artifacts where
    its bytes go. Its own bytes are not the file: what serves it waits for ``result()``;
    nothing may write it."""

    future: Future[bytes]

    def __new__(cls, future: Future[bytes]) -> Pending:
        pending = super().__new__(cls, b"(tbreport: this image is still being drawn)")
        pending.future = future
        return pending

    def result(self, timeout: float | None = None) -> bytes:
        """The image once drawn (``concurrent.futures.CancelledError``: a newer build dropped
        it before it was started; a drawing error is raised here)."""
        return self.future.result(timeout)


class Later:
    """Draws images after the render, one at a time in page order, on a thread of this
    process: a preview server answers a page as soon as its text is ready and each image when it
    is drawn. A new build's images go first: what an older build queued and had not started is
    dropped (its page reloads anyway); an image both builds need is drawn once. Each image goes
    into the build's chart cache when drawn, so a rebuild draws only the charts whose data
    changed. One per long-running process; ``close()`` when done."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="tbreport-draw")
        self._painters: dict[Path | None, Painter] = {}  # used on the drawing thread only
        self._queued: dict[str, Future[bytes]] = {}
        #: the last build's plotted-data files still to make (made after its images)
        self._files: list[Future[bytes]] = []
        self._lock = threading.Lock()

    def draw(
        self,
        items: Sequence[tuple[str | None, Any, bool]],
        image_format: str,
        font_dir: Path | None,
        cache: ChartCache | None,
    ) -> list[Pending]:
        """A :class:`Pending` image for each (key, element, fallback) item."""
        if image_format not in IMAGE_FORMATS:  # as the pool checks it, before drawing
            raise ValueError(f"image_format must be one of {IMAGE_FORMATS}, got {image_format!r}")
        with self._lock:
            wanted = {key for key, _, _ in items if key is not None}
            for old, future in self._queued.items():
                if old not in wanted:
                    future.cancel()  # only one not started yet is cancelled
            queued = {k: f for k, f in self._queued.items() if k in wanted and not f.cancelled()}
            out = []
            for key, element, fallback in items:
                found = queued.get(key) if key is not None else None
                if found is not None:
                    future = found
                else:
                    future = self._executor.submit(
                        self._draw, key, element, fallback, image_format, font_dir, cache
                    )
                    if key is not None:
                        queued[key] = future
                out.append(Pending(future))
            self._queued = queued
        return out

    def make(self, jobs: Sequence[Callable[[], bytes]]) -> list[Pending]:
        """A :class:`Pending` file for each job (a chart's plotted-data CSV), made on the drawing
        thread after the images queued so far: a reader opens the page and its charts first.
        A newer call drops what an older one queued and had not started."""
        with self._lock:
            for future in self._files:
                future.cancel()
            self._files = [self._executor.submit(job) for job in jobs]
            return [Pending(future) for future in self._files]

    def _draw(
        self, key: str | None, element: Any, fallback: bool, image_format: str,
        font_dir: Path | None, cache: ChartCache | None,
    ) -> bytes:  # fmt: skip
        painter = self._painters.get(font_dir)
        if painter is None:
            painter = self._painters[font_dir] = _new_painter(font_dir)
        image = _draw_one((element, fallback), image_format, painter)
        if key is not None and cache is not None:
            cache.put(key, image)
        return image

    def close(self) -> None:
        """Drop what is queued and wait for the image being drawn."""
        self._executor.shutdown(wait=True, cancel_futures=True)


class _Server:
    """multiprocessing's fork server, forked by a pool from a process without threads (the
    tbreport command) to preload the chart modules, and the resource tracker it needs when that
    was not running yet; both stopped with the pool. A fork server already running (the
    application's own) is left alone: the pool then does not use one of its own."""

    def __init__(self, tracker: bool) -> None:
        #: the resource tracker was started with the server
        self.tracker = tracker

    @classmethod
    def start(cls) -> _Server | None:
        if "forkserver" not in multiprocessing.get_all_start_methods() or not _main_is_inert():
            return None
        from multiprocessing import forkserver, resource_tracker

        # multiprocessing's own objects (CPython 3.10-3.12): a server started here and a stop
        # that ends it with the pool
        server: Any = forkserver._forkserver
        tracking: Any = resource_tracker._resource_tracker
        if not (_has(server, "_forkserver_pid", "_stop") and _has(tracking, "_pid", "_stop")):
            return None
        if server._forkserver_pid is not None:
            return None
        tracker = tracking._pid is None
        # a process with threads (a notebook's kernel, an application) is long-lived: there
        # matplotlib is imported once, here, rather than by a spawned server per build
        if not _fork_server(server):
            return None
        return cls(tracker)

    def stop(self) -> None:
        from multiprocessing import forkserver, resource_tracker

        server: Any = forkserver._forkserver
        if server._forkserver_pid is not None:
            # its workers are gone: it reaps them and exits at once (``_end_server``)
            with contextlib.suppress(ProcessLookupError):
                os.kill(server._forkserver_pid, signal.SIGTERM)
        server._stop()
        if self.tracker:
            # the queues' semaphores unregister from the tracker as they are freed: free them
            # first, or the tracker would be started again
            gc.collect()
            tracking: Any = resource_tracker._resource_tracker
            tracking._stop()


def _fork_server(server: Any) -> bool:
    """Start multiprocessing's fork server as ``ensure_running`` does, but forked from this
    process rather than a new interpreter: it starts with numpy and tbreport imported (a fifth
    of a second of its head start). Only in a process without threads (a fork copies one
    thread) and with the server ``main`` of CPython 3.10-3.12; False: not started."""
    import inspect
    import socket
    import traceback
    from multiprocessing import connection, forkserver, resource_tracker, util

    params = list(inspect.signature(forkserver.main).parameters)
    if params != ["listener_fd", "alive_r", "preload", "main_path", "sys_path"]:
        return False
    if threading.active_count() != 1 or not hasattr(os, "fork"):
        return False
    resource_tracker.ensure_running()
    for stream in (sys.stdout, sys.stderr):  # nothing buffered here is written twice
        if stream is not None:
            stream.flush()
    with socket.socket(socket.AF_UNIX) as listener:
        address = connection.arbitrary_address("AF_UNIX")  # type: ignore[attr-defined]
        listener.bind(address)
        if not util.is_abstract_socket_namespace(address):  # type: ignore[attr-defined]
            os.chmod(address, 0o600)
        listener.listen()
        # every client holds the write end of the "alive" pipe: the server ends at its EOF
        alive_r, alive_w = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(alive_r)
            os.close(alive_w)
            return False
        if pid == 0:  # the server: it never returns into the caller's code
            code = 0
            try:
                os.close(alive_w)
                signal.signal(signal.SIGTERM, _end_server)
                forkserver.main(listener.fileno(), alive_r, [PRELOAD])
            except SystemExit:
                pass
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        os.close(alive_r)
    server._forkserver_address = address
    server._forkserver_alive_fd = alive_w
    server._forkserver_pid = pid
    return True


def _end_server(signum: int, frame: FrameType | None) -> None:
    """The fork server's SIGTERM (the pool is closed): reap the ended workers, so their CPU
    time counts in the server's and no zombie is left, and exit without the interpreter
    shutdown of a process holding matplotlib (a quarter of a second)."""
    with contextlib.suppress(ChildProcessError):
        while True:
            os.waitpid(-1, 0)
    os._exit(0)


def _has(thing: object, *names: str) -> bool:
    return all(hasattr(thing, name) for name in names)


def _main_is_inert() -> bool:
    """Whether a process started from the fork server would not run this program's main
    script again: multiprocessing imports a main script (``python train.py``) into every
    worker it does not fork from here, and its top-level code (say ``import torch``, or an
    unguarded build) would run there. ``python -m ...``, the REPL and tbreport's own command
    are safe."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None:
        # ``python -m pkg``: its ``pkg.__main__`` is not imported again
        return bool(spec.name == "__main__" or spec.name.endswith(".__main__"))
    path = getattr(main, "__file__", None)
    # tbreport's console script: an import of tbreport.cli and a guarded call
    return path is None or Path(path).name in ("tbreport", "tbreport.exe")


def _missing_glyphs(texts: Iterable[str], font_dir: Path | None) -> DataWarning | None:
    from tbreport.charts.fonts import FONT_DIR, missing_glyphs

    return missing_glyphs(texts, font_dir or FONT_DIR)


def _warm_up(font_dir: Path | None) -> None:
    """Import matplotlib and register the fallback fonts and their character maps (cached per
    process, so the forked workers start with them)."""
    importlib.import_module("tbreport.charts.figure")
    from tbreport.charts.fonts import FONT, FONT_DIR, charmap, fallback_families

    charmap(fallback_families(font_dir or FONT_DIR))
    charmap((FONT,))


def _new_painter(font_dir: Path | None) -> Painter:
    """A painter with the fallback fonts of ``font_dir`` (None: Debian's /usr/share/fonts)."""
    from tbreport.charts.figure import FONT_DIR, Painter

    return Painter(font_dir or FONT_DIR)


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
    if signal.getsignal(signal.SIGTERM) is _end_server:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the fork server's, not a worker's
    _worker_painter[:] = [_new_painter(font_dir)]


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
