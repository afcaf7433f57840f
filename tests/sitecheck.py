"""Test helpers that check generated output with the real tools: build a Jekyll site and collect
every problem line, serve a built site at its baseurl, and open a page in headless Chromium
recording errors, failed or outside requests, image states and whether injected script ran.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JEKYLL_TIMEOUT = 180  # seconds; a small site builds in about one
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Globals a test payload sets to prove it ran: <script>window.__pwned=1</script>.
PWNED_MARKERS = ("__pwned", "__tbreport_pwned")

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Jekyll logs warnings and errors to stderr (Stevenson) and everything else to stdout; these
# catch a problem that shows up on stdout anyway (a plugin printing with puts, say).
_PROBLEM_WORDS = re.compile(
    r"warn|error|deprecat|conflict|skipping|exception|invalid|fatal|fail|not found|"
    r"does not exist|undefined|could not|cannot|can't|unable",
    re.IGNORECASE,
)
# Jekyll's own progress lines on stdout; their values are paths that may contain any word.
_INFO_TOPICS = (
    "Configuration file:",
    "Source:",
    "Destination:",
    "Incremental build:",
    "Generating...",
    "Jekyll Feed:",
    "done in ",
    "Auto-regeneration:",
)
# Continuation lines of a multi-line message are indented to the message column (20 spaces)
# or are a Ruby backtrace ("\tfrom ...").
_CONTINUATION = re.compile(r"^(?: {20}|\t)")
# Extra configuration for every check build: kramdown only reports its warnings (table without
# body, unclosed extension, missing footnote...) when asked.
_CHECK_CONFIG = "kramdown:\n  show_warnings: true\n"


# --- tools present? -------------------------------------------------------------------------


@functools.cache
def have_jekyll() -> bool:
    """True when a working ``jekyll`` command is on PATH."""
    exe = shutil.which("jekyll")
    if exe is None:
        return False
    try:
        done = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, timeout=60, env=_jekyll_env()
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.startswith("jekyll ")


def chromium_path() -> str | None:
    """The system Chromium (Debian's ``chromium``), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@functools.cache
def have_chromium() -> bool:
    """True when a system Chromium and the playwright package are both installed."""
    if chromium_path() is None:
        return False
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


# --- Jekyll ---------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class JekyllResult:
    """One ``jekyll build``: exit code, log without colours, and every problem in it.

    ``problems`` holds one entry per warning or error message (continuation lines and a
    backtrace are joined to their message with newlines), so ``ok`` means exit code 0 and a
    log with no warning, error, deprecation, conflict or skipped post.
    """

    returncode: int
    log: str
    problems: tuple[str, ...]
    dest: Path
    command: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.problems

    def __str__(self) -> str:
        status = "ok" if self.ok else f"exit {self.returncode}, {len(self.problems)} problem(s)"
        listed = "".join(f"\n  - {p}" for p in self.problems)
        return f"jekyll build {status}{listed}\n--- log ---\n{self.log}"

    __repr__ = __str__  # pytest shows repr() in assertion messages


def _jekyll_env() -> dict[str, str]:
    env = dict(os.environ)
    # A Gemfile anywhere up the tree makes Debian's jekyll try bundler, which cannot install.
    env["JEKYLL_NO_BUNDLER_REQUIRE"] = "1"
    env["JEKYLL_ENV"] = "production"
    # Jekyll reads site files as UTF-8 whatever the locale (checked); pinning one keeps Ruby's
    # own messages, which quote non-ASCII paths and values, the same on every machine.
    env["LANG"] = env["LC_ALL"] = "C.UTF-8"
    # GitHub Pages builds in UTC; a site's own `timezone:` still wins.
    env.setdefault("TZ", "UTC")
    return env


def _problem_messages(stderr_raw: str, stdout_raw: str) -> list[str]:
    messages: list[list[str]] = []
    current: list[str] | None = None
    for line in _ANSI.sub("", stderr_raw).splitlines():
        if not line.strip():
            current = None
        elif current is not None and _CONTINUATION.match(line):
            current.append(line.rstrip())
        else:
            current = [line.rstrip()]
            messages.append(current)
    found = ["\n".join(m).strip() for m in messages]
    for raw in stdout_raw.splitlines():
        line = _ANSI.sub("", raw).strip()
        coloured = "\x1b[31m" in raw or "\x1b[33m" in raw
        if coloured or (not line.startswith(_INFO_TOPICS) and _PROBLEM_WORDS.search(line)):
            found.append(line)
    return found


def jekyll_build(
    site_dir: Path | str,
    dest: Path | str | None = None,
    baseurl: str | None = None,
    extra_args: Sequence[str] = (),
) -> JekyllResult:
    """Build ``site_dir`` the strict way (``--strict_front_matter``, kramdown warnings on) into
    ``dest`` (default ``site_dir/_site``) and collect every problem in the log.

    Jekyll exits 0 after Liquid warnings, missing layouts, excerpt rewrites and skipped future
    posts, so callers must check ``result.ok`` (or ``result.problems``), not the exit code.
    The source folder is left untouched (no ``.jekyll-cache``).
    """
    site_dir = Path(site_dir).resolve()
    dest = (site_dir / "_site") if dest is None else Path(dest).resolve()
    with tempfile.TemporaryDirectory(prefix="tbreport-jekyll-") as tmp:
        overlay = Path(tmp) / "_check_config.yml"
        overlay.write_text(_CHECK_CONFIG, encoding="utf-8")
        configs = [
            str(p)
            for name in ("_config.yml", "_config.yaml", "_config.toml")
            if (p := site_dir / name).is_file()
        ]
        command = [
            shutil.which("jekyll") or "jekyll",
            "build",
            "--strict_front_matter",
            "--disable-disk-cache",
            "-s",
            str(site_dir),
            "-d",
            str(dest),
            "--config",
            ",".join([*configs, str(overlay)]),
        ]
        if baseurl is not None:
            command += ["--baseurl", baseurl]
        command += list(extra_args)
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=_jekyll_env(),
            timeout=JEKYLL_TIMEOUT,
            cwd=tmp,
        )
    stdout = _ANSI.sub("", done.stdout)
    stderr = _ANSI.sub("", done.stderr)
    log = stdout + ("\n" if stdout and stderr else "") + stderr
    return JekyllResult(
        returncode=done.returncode,
        log=log,
        problems=tuple(_problem_messages(done.stderr, done.stdout)),
        dest=dest,
        command=tuple(command),
    )


# --- HTTP -----------------------------------------------------------------------------------


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True


def _handler(root: Path, baseurl: str) -> type[http.server.SimpleHTTPRequestHandler]:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def send_head(self) -> Any:
            url_path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            if baseurl and url_path != baseurl and not url_path.startswith(baseurl + "/"):
                self.send_error(404, "outside the baseurl")
                return None
            return super().send_head()

        def translate_path(self, path: str) -> str:
            url_path = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
            if baseurl and (url_path == baseurl or url_path.startswith(baseurl + "/")):
                url_path = url_path[len(baseurl) :] or "/"
            local = super().translate_path(url_path)
            # Like GitHub Pages and `jekyll serve`: /about serves about.html.
            if not os.path.exists(local) and os.path.isfile(local + ".html"):
                return local + ".html"
            return local

    return Handler


def _normalize_baseurl(baseurl: str) -> str:
    baseurl = baseurl.strip("/")
    return "/" + posixpath.normpath(baseurl) if baseurl else ""


@contextlib.contextmanager
def serve_dir(path: Path | str, baseurl: str = "") -> Iterator[str]:
    """Serve the folder ``path`` (a built ``_site``) over HTTP on 127.0.0.1 at a random port,
    mounted at ``baseurl`` like a project site (``/repo``); other paths answer 404.

    Yields the site's root URL, ending in ``/`` (``http://127.0.0.1:PORT/repo/``).
    """
    base = _normalize_baseurl(baseurl)
    server = _QuietServer(("127.0.0.1", 0), _handler(Path(path).resolve(), base))
    thread = threading.Thread(target=server.serve_forever, name="serve_dir", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}{base}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --- Chromium -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageInfo:
    """One ``<img>`` after the page was scrolled to the bottom."""

    src: str
    natural_width: int
    complete: bool


@dataclass
class PageReport:
    """What happened when a page was opened in headless Chromium."""

    url: str
    title: str = ""
    images: list[ImageInfo] = field(default_factory=list)
    console: list[str] = field(default_factory=list)  # every message, "type: text"
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)  # uncaught exceptions
    failed_requests: list[str] = field(default_factory=list)  # network errors and HTTP >= 400
    blocked_requests: list[str] = field(default_factory=list)  # non-local URLs, not fetched
    dialogs: list[str] = field(default_factory=list)  # alert()/confirm()/prompt() calls
    markers: dict[str, str] = field(default_factory=dict)  # PWNED_MARKERS that were set
    notes: list[str] = field(default_factory=list)  # e.g. images still loading at the end
    text: str = ""  # the body's rendered text (innerText)
    isolated: list[str] = field(default_factory=list)  # text of every <bdi> element

    @property
    def problems(self) -> list[str]:
        """Everything a clean page must not show, one line each."""
        return (
            [f"console error: {m}" for m in self.console_errors]
            + [f"page error: {m}" for m in self.page_errors]
            + [f"failed request: {m}" for m in self.failed_requests]
            + [f"blocked non-local request: {m}" for m in self.blocked_requests]
            + [f"dialog: {m}" for m in self.dialogs]
            + [f"script marker set: window.{k} = {v!r}" for k, v in self.markers.items()]
            + self.notes
        )

    @property
    def pwned(self) -> bool:
        """True when injected script visibly ran: a marker global was set or a dialog opened."""
        return bool(self.markers or self.dialogs)


def _is_local(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("file", "data", "blob", "about", "chrome-error"):
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in (
        "127.0.0.1",
        "localhost",
        "::1",
    )


_IMAGES_JS = """() => Array.from(document.images).map(i => ({
    src: i.currentSrc || i.src, naturalWidth: i.naturalWidth, complete: i.complete}))"""
_IMAGES_DONE_JS = "() => Array.from(document.images).every(i => i.complete)"
_TEXT_JS = """() => ({text: document.body.innerText,
    isolated: Array.from(document.querySelectorAll("bdi"), b => b.textContent)})"""
_MARKERS_JS = """(names) => {
    const out = {};
    for (const n of names) { if (window[n] !== undefined) out[n] = String(window[n]); }
    return out; }"""
# Bring every image into view (lazy images load only near the viewport), then the bottom.
_SCROLL_JS = """async () => {
    const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
    for (const img of Array.from(document.images)) { img.scrollIntoView(); await frame(); }
    window.scrollTo(0, document.documentElement.scrollHeight);
    await frame(); }"""


class ChromiumSession:
    """One headless Chromium for several pages (start-up costs about two seconds).

    >>> with ChromiumSession() as browser:
    ...     report = browser.open(url)
    """

    def __init__(self, timeout_s: float = 30.0, markers: Sequence[str] = PWNED_MARKERS) -> None:
        self.timeout_ms = timeout_s * 1000
        self.markers = list(markers)
        self._stack = contextlib.ExitStack()
        self._browser: Any = None

    def __enter__(self) -> ChromiumSession:
        from playwright.sync_api import sync_playwright

        exe = chromium_path()
        if exe is None:
            raise RuntimeError("no chromium on PATH (apt-get install chromium)")
        try:
            playwright = self._stack.enter_context(sync_playwright())
            self._browser = playwright.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
            self._stack.callback(self._browser.close)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def open(self, url: str) -> PageReport:
        """Load ``url``, scroll to the bottom so lazy images load, and report."""
        from playwright.sync_api import Error as PlaywrightError

        report = PageReport(url=url)
        context = self._browser.new_context(service_workers="block")
        try:
            page = context.new_page()
            page.set_default_timeout(self.timeout_ms)
            blocked_urls: set[str] = set()

            def route(r: Any) -> None:
                if _is_local(r.request.url):
                    r.continue_()
                else:
                    blocked_urls.add(r.request.url)
                    report.blocked_requests.append(r.request.url)
                    r.abort("blockedbyclient")

            def on_console(m: Any) -> None:
                report.console.append(f"{m.type}: {m.text}")
                if m.type == "error" and not _mentions_blocked(m.text, blocked_urls):
                    report.console_errors.append(f"{m.text} ({m.location.get('url', '')})")

            pending: set[Any] = set()  # requests not finished yet

            def on_failed(r: Any) -> None:
                pending.discard(r)
                if r.url not in blocked_urls:
                    report.failed_requests.append(f"{r.url}: {r.failure}")

            def on_response(r: Any) -> None:
                if r.status >= 400:
                    report.failed_requests.append(f"{r.url}: HTTP {r.status}")

            def on_dialog(d: Any) -> None:
                report.dialogs.append(f"{d.type}: {d.message}")
                d.dismiss()

            context.route("**/*", route)
            page.on("console", on_console)
            page.on("pageerror", lambda e: report.page_errors.append(str(e)))
            page.on("request", lambda r: pending.add(r))
            page.on("requestfinished", lambda r: pending.discard(r))
            page.on("requestfailed", on_failed)
            page.on("response", on_response)
            page.on("dialog", on_dialog)

            try:
                page.goto(url, wait_until="load")
            except PlaywrightError as e:  # the page itself did not load
                report.notes.append(f"navigation failed: {e}")
                return report
            page.evaluate(_SCROLL_JS)
            self._settle(page, pending)
            if not page.evaluate(_IMAGES_DONE_JS):
                try:
                    page.wait_for_function(_IMAGES_DONE_JS, timeout=5000)
                except PlaywrightError as e:  # a TimeoutError
                    report.notes.append(f"images still loading after scrolling: {e}")
            report.title = page.title()
            report.images = [
                ImageInfo(i["src"], int(i["naturalWidth"]), bool(i["complete"]))
                for i in page.evaluate(_IMAGES_JS)
            ]
            report.markers = page.evaluate(_MARKERS_JS, self.markers)
            shown = page.evaluate(_TEXT_JS)
            report.text, report.isolated = shown["text"], list(shown["isolated"])
            page.wait_for_timeout(50)  # deliver late console messages (events need the loop)
        finally:
            context.close()
        return report

    def _settle(self, page: Any, pending: set[Any]) -> None:
        # Like networkidle, without its fixed 500 ms: no request in flight twice in a row.
        deadline = time.monotonic() + self.timeout_ms / 1000
        quiet = 0
        while quiet < 2 and time.monotonic() < deadline:
            page.wait_for_timeout(50)
            quiet = 0 if pending else quiet + 1


def _mentions_blocked(text: str, blocked: set[str]) -> bool:
    # Chromium logs "Failed to load resource: net::ERR_BLOCKED_BY_CLIENT" for each blocked
    # request; the block is already reported once.
    return "ERR_BLOCKED_BY_CLIENT" in text and bool(blocked)


def open_in_chromium(url: str, timeout_s: float = 30.0) -> PageReport:
    """Open one page in a fresh headless Chromium; see :class:`ChromiumSession`."""
    with ChromiumSession(timeout_s=timeout_s) as browser:
        return browser.open(url)
