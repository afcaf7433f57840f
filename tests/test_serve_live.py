"""tbreport serve for real (marked real_tools): the server in a subprocess on port 0, a real
torch SummaryWriter in another one appending records, and the page in real headless Chromium
reloading to show them."""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sitecheck  # noqa: F401 (named by the skip condition)
from conftest import DATE

from tbreport.formatting import format_step_range
from tbreport.kinds.scalars.embed import decode_payload

ROOT = Path(__file__).resolve().parent.parent
DATA_RE = re.compile(r'<script type="application/json" id="tbreport-data">(.*?)</script>', re.S)

pytestmark = pytest.mark.skipif("not sitecheck.have_chromium()", reason="no chromium")

#: a training script's stand-in: a real SummaryWriter per run, driven line by line on stdin.
#: "scalars RUN LO HI": steps LO..HI-1 of tag loss (value step/4, exact in float32), flushed;
#: "tags RUN LO HI N": the same for N tags train/t00, eval/t01, opt/t02, sys/t03, misc/t04, ...;
#: "stream RUN LO HI": steps LO..HI-1 flushed every 3 steps, each 10th with a 90 kB text record
#: (long writes, so a reader can catch a record half-written), as fast as it goes.
WRITER = r"""
import sys, time
from torch.utils.tensorboard import SummaryWriter
writers = {}
GROUPS = ("train", "eval", "opt", "sys", "misc")
for line in sys.stdin:
    cmd, run, *args = line.split()
    if run not in writers:
        writers[run] = SummaryWriter(log_dir=sys.argv[1] + "/" + run)
    w = writers[run]
    if cmd == "scalars":
        for step in range(int(args[0]), int(args[1])):
            w.add_scalar("loss", step / 4, step)
        w.flush()
    elif cmd == "tags":  # "tags RUN LO HI N": steps LO..HI-1 of tags t00..t(N-1)
        for step in range(int(args[0]), int(args[1])):
            for t in range(int(args[2])):
                w.add_scalar("%s/t%02d" % (GROUPS[t % 5], t), (step + t) / 4, step)
        w.flush()
    elif cmd == "stream":
        for step in range(int(args[0]), int(args[1])):
            w.add_scalar("loss", step / 4, step)
            if step % 10 == 0:
                w.add_text("notes", ("step %d " % step) * 10000, step)
            if step % 3 == 2:
                w.flush()
                time.sleep(0.03)
        w.flush()
    print("ok", flush=True)
"""


class Writer:
    def __init__(self, logdir: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(logdir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def send(self, line: str, wait: bool = True) -> None:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        if wait:
            self.wait()

    def wait(self) -> None:
        assert self.proc.stdout
        assert self.proc.stdout.readline().strip() == "ok"

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait(60)


class Serve:
    """``tbreport serve`` in a subprocess; its stderr collected; the URL it printed."""

    def __init__(self, logdir: Path, *args: str, cwd: Path | None = None) -> None:
        cmd = [sys.executable, "-m", "tbreport", "serve", str(logdir), "--port", "0"]
        self.proc = subprocess.Popen(
            [*cmd, "--date", DATE, *args],
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
        )
        self.lines: list[str] = []
        self._url = threading.Event()
        threading.Thread(target=self._collect, daemon=True).start()
        assert self._url.wait(60), f"no URL printed: {self.lines}"
        self.url = re.search(r"Serving (http://\S+)", "\n".join(self.lines))[1]  # type: ignore[index]

    def _collect(self) -> None:
        assert self.proc.stderr
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("Serving http"):
                self._url.set()

    def get(self, path: str) -> tuple[int, str]:
        host, port = re.match(r"http://([^:/]+):(\d+)/", self.url).groups()  # type: ignore[union-attr]
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("GET", path)  # http.client sends the path as given: no normalising
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        conn.close()
        return response.status, body

    def status(self) -> dict:
        return json.loads(self.get("/__tbreport/status")[1])

    def wait_for(self, check, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status()
            if check(status):
                return status
            time.sleep(0.1)
        raise AssertionError(f"timed out; last status {status}; log {self.lines}")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        # Ctrl-C stops it cleanly
        assert code == 0 and not any("Traceback" in line for line in self.lines), self.lines


def last_steps(status: dict) -> dict[str, int | None]:
    return {r["name"]: r["last_step"] for r in status["runs"]}


def open_page(browser, url: str):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: m.type in ("error", "warning") and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(url)
    return page, problems


def steps_cell(page, run: str):
    """The row of ``run`` in the runs table (the page's first table, in both formats)."""
    rows = page.locator("main table").first.locator("tbody tr")
    name = page.locator("td:first-child", has_text=re.compile(rf"(^|\s){run}\s*$"))
    return rows.filter(has=name)


@pytest.fixture
def logdir(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    root.mkdir()
    return root


@pytest.mark.parametrize("fmt", ["html", "jekyll", "jekyll-interactive"])
def test_page_reloads_with_appended_records_and_new_runs(
    browser, logdir: Path, fmt, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    writer = Writer(logdir)
    writer.send("scalars a 0 10")
    args = ["--format", "jekyll", "--interactive"] if fmt == "jekyll-interactive" else []
    server = Serve(logdir, *(args or ["--format", fmt]))
    try:
        server.wait_for(lambda s: last_steps(s) == {"a": 9})
        page, problems = open_page(browser, server.url)
        expect(steps_cell(page, "a")).to_contain_text(format_step_range(0, 9))
        if fmt == "jekyll":  # the post's chart image is served from memory
            image = page.locator("main img").first
            expect(image).to_have_attribute("src", re.compile(r"^/assets/images/.*\.png$"))
            assert image.evaluate("i => i.complete && i.naturalWidth") > 0
        page.evaluate("window.__before = true")
        # the training run logs ten more steps: the page reloads by itself and shows them
        writer.send("scalars a 10 20")
        expect(steps_cell(page, "a")).to_contain_text(format_step_range(0, 19), timeout=30_000)
        assert page.evaluate("window.__before") is None  # a new page, not the old one
        if fmt == "jekyll":  # its images came as drawn: the ones a build of the runs draws
            _same_images_as_a_build(page, logdir, tmp_path)
        # a new run appears
        page.evaluate("window.__before = true")
        writer.send("scalars b 0 5")
        expect(steps_cell(page, "b")).to_contain_text(format_step_range(0, 4), timeout=30_000)
        assert page.evaluate("window.__before") is None
        if fmt != "jekyll":  # drawn by the report's script, served from memory
            page.wait_for_selector(".tbr-chart[data-tbreport-state=drawn]")
            plotted = page.evaluate("tbreport.plotted('loss')")
            assert max(plotted["x"]) == 19
        # the reload script and its event stream ran under the page's CSP without a complaint
        assert problems == []
    finally:
        server.stop()
        writer.close()


def _same_images_as_a_build(page, logdir: Path, tmp_path: Path) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('main img')]"
        ".every(i => i.complete && i.naturalWidth > 0)",
        timeout=30_000,
    )
    shown = page.evaluate("[...document.querySelectorAll('main img')].map(i => i.src)")
    assert shown
    out = tmp_path / "built"
    cmd = [sys.executable, "-m", "tbreport", "build", str(logdir), "--format", "jekyll"]
    subprocess.run(
        [*cmd, "--out", str(out), "--date", DATE, "--no-cache", "-q"], check=True, cwd=tmp_path
    )
    for src in shown:
        served = page.request.get(src).body()
        path = out / src.split("/", 3)[3]
        assert served == path.read_bytes(), src


#: what is at the top of the window: the first chart (its figure's id in the HTML report, its
#: image's address in a Jekyll preview) whose top is in view, and that top
AT_TOP = """() => {
  const items = [...document.querySelectorAll('main figure[id], main img')];
  for (const el of items) {
    const top = el.getBoundingClientRect().top;
    if (top >= 0) return [el.id || el.getAttribute('src'), top];
  }
  return null;
}"""


@pytest.mark.parametrize("fmt", ["html", "jekyll"])
def test_a_reload_keeps_the_reader_where_they_were(browser, logdir: Path, fmt) -> None:
    writer = Writer(logdir)
    for run in "abcd":  # four runs, five sections of five charts: a page of some 18,000 px
        writer.send(f"tags {run} 0 200 25")
    server = Serve(logdir, "--format", fmt)
    try:
        server.wait_for(lambda s: last_steps(s) == dict.fromkeys("abcd", 199))
        page, problems = open_page(browser, server.url)
        page.wait_for_load_state("load")
        page.wait_for_timeout(500)
        page.evaluate("window.scrollTo(0, 6000)")  # a reader down the page
        page.wait_for_timeout(300)
        before = page.evaluate(AT_TOP)
        assert before is not None and page.evaluate("window.scrollY") > 5000
        page.evaluate("window.__before = true")
        with page.expect_event("load", timeout=30_000):
            writer.send("tags a 200 205 25")  # every chart changes; its images are drawn anew
        page.wait_for_function("() => window.__before === undefined")
        page.wait_for_load_state("load")
        page.wait_for_timeout(300)
        after = page.evaluate(AT_TOP)
        assert after is not None and after[0] == before[0]
        assert abs(after[1] - before[1]) <= 2, (before, after)
        assert problems == []
    finally:
        server.stop()
        writer.close()


def test_a_writer_mid_record_is_never_shown(browser, logdir: Path) -> None:
    """A SummaryWriter writing as fast as it goes (with long records) while serve rebuilds:
    every state served holds exactly the steps 0..n (value step/4), n never goes back, and no
    page says a file ends in a partial record."""
    writer = Writer(logdir)
    writer.send("scalars r 0 2")
    server = Serve(logdir, "--full-data", "--tags", "loss")
    page, problems = open_page(browser, server.url)
    loads: list[int] = []
    page.on("load", lambda: loads.append(1))
    try:
        server.wait_for(lambda s: last_steps(s) == {"r": 1})
        total = 600
        writer.send(f"stream r 2 {total}", wait=False)
        seen, held, last, builds = 0, 0, -1, set()
        while last < total - 1:
            code, body = server.get("/")
            assert code == 200
            assert "partial record" not in body
            match = DATA_RE.search(body)
            assert match, body[:2000]
            charts = [c for c in json.loads(match[1])["charts"] if c is not None]
            lines = decode_payload(charts[0])
            steps, values = lines[0]["steps"], lines[0]["values"]
            n = len(steps)
            assert steps.tolist() == list(range(n))  # every step once, none half-read
            assert values.tolist() == [s / 4 for s in range(n)]
            assert n - 1 >= last  # never goes back
            last = n - 1
            status = server.status()
            builds.add(status["build"])
            held += bool(status["held"])
            seen += 1
            assert server.proc.poll() is None
            time.sleep(0.02)
        writer.wait()
        assert len(builds) > 3  # it really rebuilt while the writer wrote
        print(f"{seen} states checked, {len(builds)} builds, {held} with a record held back")
        status = server.wait_for(lambda s: s["held"] == [] and last_steps(s) == {"r": total - 1})
        assert [w for w in status["warnings"] if w["kind"] == "truncated"] == []
        # the browser followed: reloaded several times, shows the last step, no complaints
        from playwright.sync_api import expect

        expect(steps_cell(page, "r")).to_contain_text(
            format_step_range(0, total - 1), timeout=30_000
        )
        assert len(loads) > 1
        assert "partial record" not in page.content()
        assert problems == []
    finally:
        server.stop()
        writer.close()


def test_a_cut_last_record_waits_for_its_end_then_is_noted(logdir: Path, tmp_path: Path) -> None:
    """A file ending mid-record (as a copy made mid-write, bytes from a real writer): its
    complete records are shown and the partial one held back without a note; appending the
    rest shows it; left cut for longer than a writer takes (2 s), it gets its note."""
    from torch.utils.tensorboard import SummaryWriter

    source = tmp_path / "source"
    w = SummaryWriter(log_dir=str(source))
    for step in range(10):
        w.add_scalar("loss", step / 4, step)
    w.close()
    (original,) = source.glob("events.out.tfevents.*")
    data = original.read_bytes()
    (logdir / "r").mkdir()
    target = logdir / "r" / original.name
    target.write_bytes(data[:-7])  # the last record (step 9) without its last 7 bytes
    server = Serve(logdir)
    try:
        status = server.wait_for(lambda s: last_steps(s) == {"r": 8})
        assert status["held"] == [str(target)]
        assert [w["kind"] for w in status["warnings"]] == []
        assert "partial record" not in server.get("/")[1]
        with target.open("ab") as fh:
            fh.write(data[-7:])
        status = server.wait_for(lambda s: last_steps(s) == {"r": 9})
        assert status["held"] == [] and status["warnings"] == []
        # cut again and left so: after the settling time the note appears, with the data
        target.write_bytes(data[:-7])
        status = server.wait_for(lambda s: s["warnings"] != [], timeout=30)
        assert [w["kind"] for w in status["warnings"]] == ["truncated"]
        assert last_steps(status) == {"r": 8} and status["held"] == []
        assert "partial record" in server.get("/")[1]
        # each warning is printed once, not on every rebuild
        printed = [line for line in server.lines if "partial record" in line]
        assert len(printed) == 1, server.lines
    finally:
        server.stop()


def test_a_failed_rebuild_shows_its_error_and_keeps_the_last_report(
    browser, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    logdir = tmp_path / "runs<i>x"
    logdir.mkdir()
    writer = Writer(logdir)
    writer.send("scalars a 0 3")
    writer.close()
    server = Serve(logdir)
    try:
        server.wait_for(lambda s: last_steps(s) == {"a": 2})
        page, problems = open_page(browser, server.url)
        (event_file,) = (logdir / "a").glob("events.out.tfevents.*")
        kept = event_file.read_bytes()
        event_file.unlink()  # the build now fails: no event files
        banner = page.locator("#tbreport-serve-error")
        expect(banner).to_contain_text("this is the last good report", timeout=30_000)
        expect(banner).to_contain_text("No TensorBoard event files under")
        assert banner.locator("i").count() == 0  # the path's <i> is text
        assert "runs<i>x" in banner.inner_text()
        expect(steps_cell(page, "a")).to_contain_text(format_step_range(0, 2))
        assert server.proc.poll() is None
        assert any(line.startswith("error: No TensorBoard event files") for line in server.lines)
        event_file.write_bytes(kept)
        expect(banner).to_have_count(0, timeout=30_000)
        assert problems == []
    finally:
        server.stop()


def test_template_edits_rebuild_and_template_errors_are_shown(logdir: Path, tmp_path: Path):
    writer = Writer(logdir)
    writer.send("scalars a 0 3")
    writer.close()
    templates = tmp_path / "templates"
    templates.mkdir()
    mine = templates / "report.html.j2"

    def head(text: str) -> str:
        return (
            '{% extends "default/report.html.j2" %}'
            f"{{% block extra_head %}}{text}{{% endblock %}}"
        )

    mine.write_text(head('<meta name="mine" content="one">'))
    server = Serve(logdir, "--templates", str(templates))
    try:
        server.wait_for(lambda s: last_steps(s) == {"a": 2})
        assert '<meta name="mine" content="one">' in server.get("/")[1]
        mine.write_text(head('<meta name="mine" content="two">'))
        server.wait_for(lambda s: '"two"' in server.get("/")[1])
        mine.write_text(head("{% if %}"))  # a syntax error: shown, the last report kept
        status = server.wait_for(lambda s: s["error"] is not None)
        assert "report.html.j2' line 1: Expected an expression" in status["error"]
        page = server.get("/")[1]
        assert "tbreport-serve-error" in page and '<meta name="mine" content="two">' in page
        mine.write_text(head('<meta name="mine" content="three">'))
        status = server.wait_for(lambda s: s["error"] is None)
        assert '"three"' in server.get("/")[1]
    finally:
        server.stop()


def test_an_empty_logdir_waits_for_the_first_run(logdir: Path) -> None:
    server = Serve(logdir)
    writer = None
    try:
        status = server.wait_for(lambda s: s["error"] is not None)
        assert "No TensorBoard event files under" in status["error"]
        code, page = server.get("/")
        assert code == 200 and "No report yet" in page and "tbreport-serve-error" in page
        assert "data-tbreport-build" in page  # it reloads by itself when the run appears
        writer = Writer(logdir)
        writer.send("scalars first 0 4")
        status = server.wait_for(lambda s: last_steps(s) == {"first": 3})
        assert status["error"] is None
    finally:
        server.stop()
        if writer is not None:
            writer.close()


def test_config_file_edits_rebuild_with_the_new_options(logdir: Path, tmp_path: Path) -> None:
    """The options are made again for each rebuild (the seam a --source post's front matter
    uses too) and the config file in force is watched."""
    writer = Writer(logdir)
    writer.send("scalars a 0 3")
    writer.close()
    work = tmp_path / "work"
    work.mkdir()
    config = work / "tbreport.toml"
    config.write_text('title = "First title"\n')

    def title() -> str:
        return re.search(r"<title>(.*?)</title>", server.get("/")[1])[1]  # type: ignore[index]

    server = Serve(logdir, cwd=work)
    try:
        server.wait_for(lambda s: last_steps(s) == {"a": 2})
        assert title() == "First title"
        assert str(config) in server.lines[0]  # says what it watches
        config.write_text('title = "Second title"\n')
        server.wait_for(lambda s: title() == "Second title")
        config.write_text("title = \n")  # not TOML: the error is shown, the report kept
        status = server.wait_for(lambda s: s["error"] is not None)
        assert "is not valid TOML" in status["error"] and title() == "Second title"
        # saved the way editors do: a new file renamed over the old one
        (work / "new.toml").write_text('title = "Third title"\n')
        (work / "new.toml").replace(config)
        server.wait_for(lambda s: s["error"] is None and title() == "Third title")
    finally:
        server.stop()


def _outside_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def _connects(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=5).close()
        return True
    except OSError:
        return False


def test_loopback_only_unless_told(logdir: Path) -> None:
    writer = Writer(logdir)
    writer.send("scalars a 0 2")
    writer.close()
    outside = _outside_address()
    server = Serve(logdir)
    try:
        assert server.url.startswith("http://127.0.0.1:")
        port = int(server.url.rsplit(":", 1)[1].strip("/"))
        assert _connects("127.0.0.1", port)
        if outside is not None:
            assert not _connects(outside, port)
    finally:
        server.stop()
    if outside is None:
        pytest.skip("this machine has no address but loopback")
    server = Serve(logdir, "--host", "0.0.0.0")
    try:
        port = int(server.url.rsplit(":", 1)[1].strip("/"))
        assert _connects(outside, port)
    finally:
        server.stop()


def test_paths_outside_the_build_are_not_found(logdir: Path) -> None:
    writer = Writer(logdir)
    writer.send("scalars a 0 2")
    writer.close()
    server = Serve(logdir, "--format", "jekyll")
    try:
        status = server.wait_for(lambda s: last_steps(s) == {"a": 1})
        code, body = server.get("/")
        assert code == 200
        image = re.search(r'src="(/assets/images/[^"]+\.png)"', body)[1]  # type: ignore[index]
        assert server.get(image)[0] == 200
        for path in [
            "/../../etc/passwd",
            "/%2e%2e/%2e%2e/etc/passwd",
            "//etc/passwd",
            "/.%2F../x",
            image.replace("/assets/", "/assets/../assets/"),
            "/_posts/",
        ]:
            code, body = server.get(path)
            assert code == 404, path
            assert "root:" not in body
        assert status["error"] is None
    finally:
        server.stop()


def test_writes_nothing_without_out_and_what_build_writes_with_it(
    logdir: Path, tmp_path: Path
) -> None:
    writer = Writer(logdir)
    writer.send("scalars a 0 5")
    work = tmp_path / "work"
    (work / "site").mkdir(parents=True)  # a user's site where build would write by default
    (work / "site" / "_config.yml").write_text("title: mine\n")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    server = Serve(logdir, "--format", "jekyll", cwd=work)
    try:
        server.wait_for(lambda s: last_steps(s) == {"a": 4})
        writer.send("scalars a 5 8")
        server.wait_for(lambda s: last_steps(s) == {"a": 7})
    finally:
        server.stop()
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    new = [p for p in after if p not in before]
    assert all(p.parts[0] == "runs" for p in new), new  # only the writer's own files
    # with --out: each rebuild is also written, exactly as build writes it
    out = tmp_path / "out"
    server = Serve(logdir, "--out", str(out))
    try:
        server.wait_for(lambda s: last_steps(s) == {"a": 7})
        writer.send("scalars a 8 12")
        server.wait_for(lambda s: last_steps(s) == {"a": 11})
    finally:
        server.stop()
        writer.close()
    built = tmp_path / "built"
    subprocess.run(
        [sys.executable, "-m", "tbreport", "build", str(logdir), "--out", str(built),
         "--date", DATE, "--quiet"],
        check=True, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    written = (out / "index.html").read_bytes()
    assert written == (built / "index.html").read_bytes()
    assert b"__tbreport" not in written


@pytest.mark.parametrize("fmt", ["html", "jekyll"])
def test_source_edits_reload_the_page(browser, logdir: Path, tmp_path: Path, fmt) -> None:
    """`serve --source post.md`: the author's edits (words, a block's caption, its front
    matter's title) show up in the open page; a block with a mistyped key is shown
    as the error, the last good page kept."""
    from playwright.sync_api import expect

    writer = Writer(logdir)
    writer.send("scalars a 0 6")
    writer.close()
    post = tmp_path / "post.md"
    post.write_text(
        "---\ntitle: Draft one\n---\n\nFirst words.\n\n"
        "```tbreport\nchart: loss\ncaption: The first caption.\n```\n"
    )
    server = Serve(logdir, "--format", fmt, "--source", str(post))
    try:
        server.wait_for(lambda s: last_steps(s) == {"a": 5} and s["error"] is None)
        page, problems = open_page(browser, server.url)
        expect(page.locator("main")).to_contain_text("First words.")
        expect(page.locator("main")).to_contain_text("The first caption.")
        page.evaluate("window.__before = true")
        post.write_text(
            "---\ntitle: Draft two\n---\n\nSecond words, <em>edited</em>.\n\n"
            "```tbreport\nchart: loss\ncaption: The second caption.\n```\n"
        )
        expect(page.locator("main")).to_contain_text("Second words, edited.", timeout=30_000)
        expect(page.locator("main")).to_contain_text("The second caption.")
        assert "The first caption." not in page.locator("main").inner_text()
        assert "Draft two" in page.title() or fmt == "jekyll"
        assert page.evaluate("window.__before") is None  # reloaded
        # a mistake in the source: the error (naming the line) on the last good page
        post.write_text("Third words.\n\n```tbreport\nchart: loss\nsmoothin: 0.5\n```\n")
        status = server.wait_for(lambda s: s["error"] is not None)
        assert "post.md:5" in status["error"] and "did you mean 'smoothing'" in status["error"]
        assert "Second words" in server.get("/")[1]
        assert problems == []
    finally:
        server.stop()


def test_an_edit_of_the_authors_own_figure_reloads_the_page(logdir: Path, tmp_path: Path) -> None:
    """The site folder's files a post shows (the article's TensorBoard screenshot) are watched:
    saving a new version of one (in place, or renamed over it as editors do) rebuilds and
    serves it; a file the page does not show is not watched."""
    writer = Writer(logdir)
    writer.send("scalars a 0 3")
    writer.close()
    work = tmp_path / "work"
    (work / "site" / "assets").mkdir(parents=True)
    figure = work / "site" / "assets" / "figure.svg"
    figure.write_text("<svg>first</svg>")
    (work / "site" / "assets" / "other.txt").write_text("not shown")
    post = work / "post.md"
    post.write_text("Words.\n\n![TensorBoard]({{ '/assets/figure.svg' | relative_url }})\n")
    server = Serve(logdir, "--format", "jekyll", "--source", str(post), cwd=work)
    try:
        first = server.wait_for(lambda s: last_steps(s) == {"a": 2})
        assert server.get("/assets/figure.svg") == (200, "<svg>first</svg>")
        figure.write_text("<svg>second</svg>")
        server.wait_for(lambda s: server.get("/assets/figure.svg")[1] == "<svg>second</svg>")
        (work / "new.svg").write_text("<svg>third</svg>")
        (work / "new.svg").replace(figure)
        second = server.wait_for(
            lambda s: server.get("/assets/figure.svg")[1] == "<svg>third</svg>"
        )
        assert second["build"] != first["build"]  # a rebuild: the open page reloads
        # not referred to by the page: neither served nor watched
        assert server.get("/assets/other.txt")[0] == 404
        builds = server.status()["build"]
        (work / "site" / "assets" / "other.txt").write_text("changed")
        time.sleep(1.5)
        assert server.status()["build"] == builds
    finally:
        server.stop()
