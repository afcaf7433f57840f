"""Live preview, ``tbreport serve``: builds the report in memory (``pipeline.render``), serves
it from memory over HTTP (stdlib ``http.server``), rebuilds when the logdir, the source or the
templates change (watchfiles), and reloads open pages through server-sent events.

Nothing is written unless ``--out`` is given; a failed rebuild keeps the last good report and
shows the error on top of it; a running writer's half-written last record is held back.
"""

from __future__ import annotations

import html
import json
import posixpath
import re
import secrets
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import CancelledError
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from tbreport.charts import Pending
from tbreport.errors import TbreportError
from tbreport.formats.preview import (
    EVENTS_PATH,
    PREVIEWED,
    STATUS_PATH,
    Served,
    content_type,
    live_page,
    served_files,
    waiting_page,
)
from tbreport.model import DataWarning, Logdir, Report
from tbreport.options import Options
from tbreport.pipeline import Caches

if TYPE_CHECKING:
    from tbreport.charts import Later

#: seconds a file may end in a partial record before the preview says so: a running writer
#: finishes its record within milliseconds, a writer that died mid-record never does
SETTLE = 2.0
#: watchfiles: yield once the files were quiet this long (ms), or at most after DEBOUNCE
STEP_MS = 50
DEBOUNCE_MS = 300
#: how often the watch loop wakes without changes (held-back tails, stopping), in ms
TICK_MS = 200
#: a comment line on idle event streams, so a closed tab's connection is noticed
KEEPALIVE = 15.0
#: seconds a request for a chart still being drawn waits for it
DRAW_TIMEOUT = 120.0


class ServeError(TbreportError):
    """``tbreport serve`` cannot start (watchfiles missing, no such folder, port in use)."""


def require_watchfiles() -> None:
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        raise ServeError(
            "tbreport serve watches the logdir with watchfiles, which is not installed: "
            "pip install 'tbreport[serve]'"
        ) from None


def preview_options(options: Options, given: Iterable[str], write: bool = False) -> Options:
    """The options a preview builds with: those given, and for what was not given one
    drawing process (no pool respawned per rebuild, cores left to the training run) and, for
    the HTML report that is not also written (``--out``), no static fallback images (the
    page's script draws the charts; the images are for readers without scripts)."""
    names = {name.replace("-", "_") for name in given}
    if options.format not in PREVIEWED:
        raise ServeError(
            f"tbreport serve previews the html and jekyll formats, not {options.format!r}; "
            "build other formats with `tbreport build`."
        )
    changes: dict[str, Any] = {}
    if "jobs" not in names:
        changes["jobs"] = 1
    if options.format == "html" and not write and not ({"fallback", "static"} & names):
        changes["fallback"] = "none"
    return replace(options, **changes)


@dataclass(frozen=True)
class Snapshot:
    """What the server answers with until the next build: the pages of one build."""

    #: the id each page carries; pages of an older one reload
    build: str
    files: dict[str, Served]
    #: the last rebuild's error (the files are then the last good build's)
    error: str | None = None
    report: Report | None = None
    #: files whose partial last record is held back (a writer mid-record)
    held: tuple[str, ...] = ()
    seconds: float | None = None

    def status(self) -> dict[str, Any]:
        """``/__tbreport/status``: the build id, its error, runs and warnings (JSON)."""
        report = self.report
        return {
            "build": self.build,
            "error": self.error,
            "held": list(self.held),
            "seconds": self.seconds,
            #: a Jekyll preview's chart images still being drawn (served once drawn)
            "drawing": sum(
                isinstance(f.data, Pending) and not f.data.future.done()
                for f in self.files.values()
            ),
            "runs": []
            if report is None
            else [
                {"name": r.name, "last_step": r.last_step, "points": r.points} for r in report.runs
            ],
            "warnings": [] if report is None else [w.to_dict() for w in report.warnings],
        }


@dataclass
class _Tails:
    """Partial last records seen, by (file, offset), and when first seen."""

    first_seen: dict[tuple[str, int | None], float] = field(default_factory=dict)

    def hold_back(
        self, warnings: Iterable[DataWarning], now: float, settle: float
    ) -> tuple[tuple[DataWarning, ...], tuple[str, ...], float | None]:
        """The warnings to show, the files held back, and when to read them again: a
        ``truncated`` note younger than ``settle`` is a writer mid-record, not news."""
        kept: list[DataWarning] = []
        held: list[str] = []
        seen: dict[tuple[str, int | None], float] = {}
        retry: float | None = None
        for w in warnings:
            if w.kind == "truncated" and w.path is not None:
                key = (w.path, w.offset)
                first = seen[key] = self.first_seen.get(key, now)
                if now - first < settle:
                    held.append(w.path)
                    due = first + settle
                    retry = due if retry is None else min(retry, due)
                    continue
            kept.append(w)
        self.first_seen = seen
        return tuple(kept), tuple(held), retry


#: read-cache outcomes that mean a file was read again from the start, as the terminal says it
AGAIN = {
    "shrank": "the file shrank",
    "replaced": "the file was replaced",
    "rewritten": "the file was rewritten in place",
}


class Server:
    """The preview server of one logdir. ``start()`` binds and returns the URL; ``run()``
    builds, then watches and rebuilds until ``close()`` (or Ctrl-C).

    ``caches``: the decode and chart caches kept in this process across rebuilds (by default
    :meth:`Caches.memory`, none with ``--no-cache``), so a rebuild decodes only the bytes
    appended since the last one and redraws only the charts whose data changed.
    """

    def __init__(
        self,
        options: Options,
        *,
        write: bool = False,
        log: Callable[[str], None] = lambda message: None,
        caches: Caches | None = None,
        settle: float = SETTLE,
        reload: Callable[[], Options] | None = None,
        files: Iterable[str] = (),
    ) -> None:
        from tbreport.options import is_url

        if is_url(options.runs_dir):
            raise ServeError(
                f"tbreport serve watches a local folder; '{options.runs_dir}' is remote. "
                "Sync it locally (or use `tbreport build` on it)."
            )
        if not Path(options.runs_dir).is_dir():
            raise ServeError(
                f"Logdir '{options.runs_dir}' is not a folder. Give the folder a training run "
                "writes into (it may be empty: the page waits for the first event file)."
            )
        self.options = options
        #: makes the options again before each rebuild (a config file or a --source post's
        #: front matter may have changed); None: they stay as given
        self.reload = reload
        #: files checked for changes besides the source (the config file in force)
        self.files = tuple(Path(f).resolve() for f in files)
        #: the site folder's files the last pages referred to (an author's figure): watched
        self._site_paths: tuple[Path, ...] = ()
        self.write = write
        self.log = log
        if caches is None:
            caches = Caches() if options.no_cache else Caches.memory()
        self.caches = caches
        self.settle = settle
        self._token = secrets.token_hex(4)  # a restarted server's pages reload too
        self._generation = 0
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._tails = _Tails()
        self._retry: float | None = None
        #: the last good build's files before the live script went in, report, held, seconds
        self._good: tuple[dict[str, Served], Report, tuple[str, ...], float] | None = None
        self._printed: set[str] = set()
        self.snapshot = Snapshot("", {})
        self._publish(self._waiting(building=True), None, None, (), None)
        self._http: ThreadingHTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        #: draws a Jekyll preview's changed charts after its page is served (made when needed)
        self._later: Later | None = None

    # --- HTTP ---------------------------------------------------------------------------

    def start(self) -> str:
        """Bind (port 0: a free one) and answer requests in a thread; the URL."""
        host, port = self.options.host, self.options.port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET

        class _HTTP(ThreadingHTTPServer):
            address_family = family
            daemon_threads = True

        try:
            self._http = _HTTP((host, port), _Handler)
        except OSError as err:
            raise ServeError(
                f"Cannot listen on {host} port {port}: {err.strerror or err}. Give another "
                "--port (0 picks a free one) or --host."
            ) from None
        self._http.app = self  # type: ignore[attr-defined]
        self._http_thread = threading.Thread(
            target=self._http.serve_forever, name="tbreport-http", daemon=True
        )
        self._http_thread.start()
        return self.url

    @property
    def url(self) -> str:
        assert self._http is not None
        host, port = self._http.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}/"

    def close(self) -> None:
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._later is not None:
            self._later.close()
            self._later = None

    def wait_for_build(self, seen: str | None, timeout: float) -> str:
        """The current build id, once it differs from ``seen`` (or after ``timeout``)."""
        with self._changed:
            self._changed.wait_for(
                lambda: self.snapshot.build != seen or self._stop.is_set(), timeout
            )
            return self.snapshot.build

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # --- watching -----------------------------------------------------------------------

    def watched(self) -> list[Path]:
        """The folders watched (recursively, by watchfiles): the logdir, the templates, a
        baseline logdir."""
        options = self.options
        paths = [Path(options.runs_dir)]
        if options.templates:
            paths.append(Path(options.templates))
        if options.baseline and Path(options.baseline).is_dir():
            paths.append(Path(options.baseline))
        return list(dict.fromkeys(paths))

    def watched_files(self) -> list[Path]:
        """Single files checked on every tick of the watch loop (their folder, often the
        project's, is not watched whole): the --source post, where that option exists, the
        config file, and the site folder's files the pages show (an author's own figure).
        Checked by stat, so editors that save by renaming are seen."""
        source = getattr(self.options, "source", None)
        paths = [*([Path(source)] if source else []), *self.files, *self._site_paths]
        return list(dict.fromkeys(paths))

    def _stamps(self) -> dict[Path, tuple[int, int, int] | None]:
        stamps: dict[Path, tuple[int, int, int] | None] = {}
        for path in self.watched_files():
            try:
                st = path.stat()
            except OSError:
                stamps[path] = None
            else:
                stamps[path] = (st.st_ino, st.st_size, st.st_mtime_ns)
        return stamps

    def _wanted(self, change: object, path: str) -> bool:
        """Changes that can change the report: event files (new, grown, removed), folders
        added or removed (a new run's files can be written before its folder is watched;
        the rebuild the folder triggers reads them), any template; not the output folder's
        own writes."""
        from watchfiles import Change

        options = self.options
        target = Path(path).resolve()
        if self.write and target.is_relative_to(Path(options.out).resolve()):
            return False
        if options.templates and target.is_relative_to(Path(options.templates).resolve()):
            return True
        if change == Change.deleted or (change == Change.added and target.is_dir()):
            return True
        return "tfevents" in target.name

    def run(self) -> None:
        """Build, then rebuild on every change until ``close()``."""
        from watchfiles import watch

        built = False
        stamps = self._stamps()
        for changes in watch(
            *self.watched(),
            watch_filter=self._wanted,
            debounce=DEBOUNCE_MS,
            step=STEP_MS,
            stop_event=self._stop,
            rust_timeout=TICK_MS,
            yield_on_timeout=True,
        ):
            # the first yield comes once the watcher is live: no change is missed before it
            due = self._retry is not None and time.monotonic() >= self._retry
            now = self._stamps()
            if changes or not built or due or now != stamps:
                self.rebuild()
                built = True
                # files the rebuild began to watch (a figure the page now shows) as they are
                # now; the others as they were before it, so an edit made meanwhile is seen
                stamps = {path: now.get(path, stamp) for path, stamp in self._stamps().items()}

    # --- building -----------------------------------------------------------------------

    def _read(self, options: Options) -> Logdir:
        """The logdir, read through the memory cache: each file's read position and partial
        series are kept between rebuilds; a file that shrank or was replaced is read again
        from the start, and the terminal says so."""
        from tbreport.read import read_logdir

        decode = self.caches.decode
        logdir = read_logdir(
            options.runs_dir, restarts=options.restarts, executor=options.executor, cache=decode
        )
        if decode is not None:
            for path, outcome in sorted(decode.take_outcomes().items()):
                if outcome in AGAIN:
                    self.log(f"{path}: {AGAIN[outcome]}; read again from the start")
        return logdir

    def rebuild(self) -> Snapshot:
        """Read and render once more; publish the new pages (or the error on the old ones)."""
        from tbreport.output import write_output
        from tbreport.pipeline import render

        started = time.monotonic()
        error: str | None = None
        try:
            if self.reload is not None:
                self.options = self.reload()
            options = self.options
            logdir = self._read(options)
            shown, held, self._retry = self._tails.hold_back(
                logdir.warnings, time.monotonic(), self.settle
            )
            done = render(
                options, logdir=replace(logdir, warnings=shown), caches=self.caches,
                later=self._drawer(options),
            )  # fmt: skip
            files = served_files(done.report, options, done.rendered)
            made = {f.path for f in done.rendered.files}
            extra = site_files(files, options.out, made)
            files.update({key: served for key, (_, served) in extra.items()})
            self._site_paths = tuple(path for path, _ in extra.values())
        except TbreportError as err:
            return self._failed(err.format_message())
        except Exception:  # noqa: BLE001 - a bug: shown with its traceback, the server stays up
            return self._failed("tbreport failed (a bug; please report it):\n" + _trace())
        options = self.options
        if self.write:
            try:
                write_output(Path(options.out), done.rendered, force=options.force)
            except TbreportError as err:
                error = f"--out {options.out}: {err.format_message()}"
            except OSError as err:
                error = f"--out {options.out}: {err}"
        seconds = time.monotonic() - started
        self._good = (files, done.report, held, seconds)
        self._note(done.report, seconds, error)
        return self._publish(files, error, done.report, held, seconds)

    def _drawer(self, options: Options) -> Later | None:
        """Where a Jekyll preview's images are drawn: after its page is served, so the page
        shows new records without waiting for every changed chart (the browser gets each image
        when it is drawn). Not for what is written (``--out``), nor for the HTML report (its
        fallback images are inside the page)."""
        if options.format != "jekyll" or self.write:
            return None
        if self._later is None:
            from tbreport.charts import Later

            self._later = Later()
        return self._later

    def _failed(self, message: str) -> Snapshot:
        self._retry = None
        if self.snapshot.error is not None and self.snapshot.error.endswith("\n" + message):
            return self.snapshot  # the same failure again: no reload
        self.log(f"error: {message}")
        if self._good is None:
            shown = f"The build failed:\n{message}"
            return self._publish(self._waiting(building=False), shown, None, (), None)
        files, report, held, seconds = self._good
        shown = f"The rebuild failed; this is the last good report.\n{message}"
        return self._publish(files, shown, report, held, seconds)

    def _publish(
        self,
        files: dict[str, Served],
        error: str | None,
        report: Report | None,
        held: tuple[str, ...],
        seconds: float | None,
    ) -> Snapshot:
        with self._changed:
            self._generation += 1
            build = f"{self._token}-{self._generation}"
            pages = {
                path: _with_live(served, build, error) if path.endswith(".html") else served
                for path, served in files.items()
            }
            self.snapshot = Snapshot(build, pages, error, report, held, seconds)
            self._changed.notify_all()
        return self.snapshot

    def _waiting(self, building: bool) -> dict[str, Served]:
        page = waiting_page(self.options, building)
        return {"index.html": Served(page.encode("utf-8"), _HTML)}

    def _note(self, report: Report, seconds: float, error: str | None) -> None:
        """Print the rebuild, and each warning once (not again on every rebuild); with
        ``--quiet`` only errors."""
        if error is not None:
            self.log(f"error: {error}")
        if self.options.quiet:
            return
        for w in report.warnings:
            if w.message not in self._printed:
                self._printed.add(w.message)
                self.log(f"{'warning' if w.severity == 'warning' else 'note'}: {w.message}")
        last = max((r.last_step for r in report.runs if r.last_step is not None), default=None)
        self.log(
            f"Built {len(report.charts)} chart(s) for {len(report.runs)} run(s) in "
            f"{seconds:.2f} s" + ("" if last is None else f", last step {last}")
        )


_HTML = "text/html; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"


#: the largest file of the site folder a preview serves (an author's figure, not a dataset)
SITE_FILE_MAX = 32 * 1024 * 1024
#: the addresses an HTML page refers to (src and href values up to a query or fragment;
#: lowercase, as Markdown writes them: a case-blind search took 40 ms over a 2 MB report)
_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"'#?]+)""")


def site_files(
    files: dict[str, Served], out: str, made: set[str]
) -> dict[str, tuple[Path, Served]]:
    """The files of the site folder (``--out``: where the report goes) that the served pages
    refer to and the build does not make: an author's own figure, as the quick-start article's
    ``/assets/images/tensorboard_display.png``. Read at each rebuild, served from memory like
    the rest. Only addresses of this site (a site-root path, or one relative to the page), only
    regular files inside the folder (no link leading out of it), no ``_`` or ``.`` part (Jekyll
    does not publish those), none the build writes (``made``), at most SITE_FILE_MAX bytes.
    Each with the file it was read from (the watch loop checks it)."""
    try:
        base = Path(out).resolve(strict=True)
    except OSError:
        return {}
    extra: dict[str, tuple[Path, Served]] = {}
    for page in [path for path in files if path.endswith(".html")]:
        text = bytes(files[page].data).decode("utf-8", "replace")
        for ref in _REFERENCE.findall(text):
            parts = urlsplit(html.unescape(ref).strip())
            if parts.scheme or parts.netloc:
                continue  # another site, or a data: address
            path = unquote(parts.path)
            key = (
                path.lstrip("/")
                if path.startswith("/")
                else posixpath.normpath(posixpath.join(posixpath.dirname(page), path))
            )
            segments = key.split("/")
            if key in files or key in extra or key in made:
                continue
            if any(s in ("", ".", "..") or s.startswith(("_", ".")) for s in segments):
                continue
            try:
                real = base.joinpath(*segments).resolve(strict=True)
                if not real.is_relative_to(base) or not real.is_file():
                    continue
                if real.stat().st_size > SITE_FILE_MAX:
                    continue
                data = real.read_bytes()
            except OSError:
                continue
            extra[key] = (real, Served(data, content_type(key)))
    return extra


def _with_live(served: Served, build: str, error: str | None) -> Served:
    page = live_page(served.data.decode("utf-8"), build, error)
    return Served(page.encode("utf-8"), served.content_type)


def _trace() -> str:
    return traceback.format_exc().rstrip()


class _Handler(BaseHTTPRequestHandler):
    """Answers from the server's snapshot in memory; never opens a file."""

    server_version = "tbreport-serve"

    @property
    def app(self) -> Server:
        return self.server.app  # type: ignore[attr-defined, no-any-return]

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._answer(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        if path == EVENTS_PATH and body:
            return self._events()
        snapshot = self.app.snapshot
        if path == STATUS_PATH:
            data = json.dumps(snapshot.status(), indent=2, sort_keys=True).encode()
            return self._send(200, Served(data, "application/json"), body)
        key = path.lstrip("/")
        if key == "favicon.ico" and key not in snapshot.files:
            return self._send(204, Served(b"", "image/x-icon"), body)  # browsers ask; none
        if key == "" or key.endswith("/"):
            key += "index.html"
        parts = key.split("/")
        served = None if ".." in parts or "" in parts else snapshot.files.get(key)
        if served is None:
            page = f"Not found: {html.escape(path)}\n".encode()
            return self._send(404, Served(page, "text/plain; charset=utf-8"), body)
        self._send(200, served, body)

    def _send(self, status: int, served: Served, body: bool) -> None:
        if isinstance(served.data, Pending):  # a chart still being drawn: wait for it
            try:
                served = Served(served.data.result(DRAW_TIMEOUT), served.content_type)
            except CancelledError:  # a newer build dropped it: its page reloads
                status, served = 503, Served(b"Superseded by a newer build.\n", _TEXT)
            except TimeoutError:
                status, served = 503, Served(b"Still drawing; reload.\n", _TEXT)
            except Exception:  # noqa: BLE001 - a bug in drawing: said, the server stays up
                self.app.log(
                    "error: drawing a chart failed (a bug; please report it):\n" + _trace()
                )
                status, served = 500, Served(b"Drawing this chart failed.\n", _TEXT)
        self.send_response(status)
        self.send_header("Content-Type", served.content_type)
        self.send_header("Content-Length", str(len(served.data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if body:
            self.wfile.write(served.data)

    def _events(self) -> None:
        """Server-sent events: the current build id now, then each new one."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        seen: str | None = None
        try:
            self.wfile.write(b"retry: 1000\n\n")
            while not self.app.stopping:
                build = self.app.wait_for_build(seen, KEEPALIVE)
                if self.app.stopping:
                    return
                message = (
                    ": keep-alive\n\n" if build == seen else f"event: build\ndata: {build}\n\n"
                )
                seen = build
                self.wfile.write(message.encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the terminal shows rebuilds, not every request


def serve(
    options: Options,
    *,
    write: bool,
    log: Callable[[str], None],
    caches: Caches | None = None,
    reload: Callable[[], Options] | None = None,
    files: Iterable[str] = (),
) -> None:
    """``tbreport serve``: start, print the URL, rebuild on changes until Ctrl-C.
    ``reload`` and ``files``: see :class:`Server`."""
    require_watchfiles()
    server = Server(options, write=write, log=log, caches=caches, reload=reload, files=files)
    url = server.start()
    where = f", writing to {options.out}" if write else ""
    watched = [*server.watched(), *server.watched_files()]
    try:
        try:
            log(f"Serving {url} (watching {', '.join(map(str, watched))}{where}; Ctrl-C stops)")
            server.run()
        finally:
            server.close()
    except KeyboardInterrupt:  # Ctrl-C, wherever it lands once serving: stopping was asked
        pass


__all__ = ["SETTLE", "ServeError", "Server", "Snapshot", "preview_options", "serve"]
