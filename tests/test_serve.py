"""tbreport serve without a browser: the served pages (live script, widened CSP, a Jekyll post
as a plain page), the held-back partial record, the preview's options and the CLI's errors.
The server in real Chromium, with real writers, is in test_serve_live.py."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import threading
import urllib.error
import urllib.request
from concurrent.futures import CancelledError, Future
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import DATE, build_options, frame_record

from tbreport.charts import Later, Pending
from tbreport.cli import main
from tbreport.formats.preview import (
    Served,
    allow_live,
    front_matter,
    liquid_preview,
    live_page,
    live_script,
    markdown_html,
    served_files,
)
from tbreport.model import NOTE, DataWarning
from tbreport.options import Options, specs
from tbreport.pipeline import render
from tbreport.serve import ServeError, Server, _Tails, preview_options

CSP = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">')


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _directives(policy: str) -> dict[str, list[str]]:
    policy = policy.replace("&quot;", '"').replace("&amp;", "&")
    return {p.split()[0]: p.split()[1:] for p in policy.split(";") if p.strip()}


def test_live_page_allows_exactly_its_script_and_the_event_stream(tmp_path: Path) -> None:
    page = render(build_options(tmp_path, jobs=1)).rendered.files[0].data.decode()
    before = _directives(CSP.search(page)[1])
    served = live_page(page, "abc-1")
    after = _directives(CSP.search(served)[1])
    script = live_script()
    # the report's own script hashes stay, the live script's hash is added, and the page may
    # connect to its own origin (the EventSource); nothing else changes
    assert after["script-src"] == [*before["script-src"], _hash(script)]
    assert after["connect-src"] == ["'self'"]
    assert {k: v for k, v in after.items() if k not in ("script-src", "connect-src")} == {
        k: v for k, v in before.items() if k != "script-src"
    }
    assert f'<script data-tbreport-build="abc-1">{script}</script>\n</body>' in served
    # the build output itself never has it
    assert "__tbreport" not in page and "connect-src" not in page


@pytest.mark.parametrize(
    ("policy", "script_src", "connect_src"),
    [
        # --static: no script-src; default-src 'none' would forbid both
        ("default-src 'none'; img-src data:", ["H"], ["'self'"]),
        # a user template allowing its own origin keeps it
        ("default-src 'self'", ["'self'", "H"], ["'self'"]),
        # 'unsafe-inline' without hashes already runs it; a hash would switch that off
        ("script-src 'unsafe-inline'; connect-src https://x", ["'unsafe-inline'"],
         ["https://x", "'self'"]),
        # with a hash present 'unsafe-inline' is ignored: add ours
        ("script-src 'unsafe-inline' 'sha256-x'", ["'unsafe-inline'", "'sha256-x'", "H"],
         ["'self'"]),
    ],
)  # fmt: skip
def test_allow_live_widens_only_script_and_connect(policy, script_src, connect_src) -> None:
    got = _directives(allow_live(policy, "s"))
    assert got["script-src"] == [_hash("s") if s == "H" else s for s in script_src]
    assert got["connect-src"] == connect_src


def test_error_banner_is_escaped_text(tmp_path: Path) -> None:
    page = "<html><body class='x'><p>report</p></body></html>"
    served = live_page(page, "b", error="bad <script>alert(1)</script> & 'x'")
    assert "<script>alert" not in served
    assert "bad &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#x27;x&#x27;" in served
    # on top of the page, inside <body>
    assert served.index("tbreport-serve-error") > served.index("<body class='x'>")
    assert served.index("tbreport-serve-error") < served.index("<p>report</p>")


def test_front_matter_and_liquid_as_jekyll_would_at_the_site_root() -> None:
    text = (
        '---\nlayout: "post"\ntitle: "A \\"b\\" <c>"\ncategories: ml\n---\n\n'
        '![x]({{ \'/assets/a.png\' | relative_url }}) {{ "{{" }} x {{ "{%" }}\n'
        "{% raw %}{{ kept }} {% if %}{% endraw %} {{ page.title }} {{ site.baseurl }}|"
        "{{ site.title }} {% include foo.html %} {{ 'y' | upcase }}\n"
    )
    page, body = front_matter(text)
    assert page == {"layout": "post", "title": 'A "b" <c>', "categories": "ml"}
    assert body.startswith("\n![x]")
    out = liquid_preview(body, page)
    assert "![x](/assets/a.png) {{ x {%\n" in out
    assert "{{ kept }} {% if %} A &quot;b&quot; &lt;c&gt; |" in out
    # Liquid the preview does not evaluate is shown as written
    assert "{{ site.title }} {% include foo.html %} {{ 'y' | upcase }}" in out


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "a|b *c* _d_ [e](f) `g` $h$ ~i~"])
def test_escaped_names_stay_text_in_the_preview(tmp_path: Path, name: str) -> None:
    """md_text escapes for kramdown; the preview's Markdown must read those escapes the same
    way: the name comes out as its literal text, never as HTML or Markdown structure."""
    from tbreport.formats.escape import md_text

    out = markdown_html(f"Run {md_text(name)} here.\n")
    import html as html_mod

    assert re.fullmatch(r"<p>Run (.*) here\.</p>", out), out
    inner = re.fullmatch(r"<p>Run (.*) here\.</p>", out)[1]
    assert "<" not in inner.replace("&lt;", "")
    assert html_mod.unescape(inner) == name


def test_jekyll_post_served_as_a_plain_page_with_its_assets(tmp_path: Path) -> None:
    options = build_options(tmp_path / "site", format="jekyll", jobs=1)
    done = render(options)
    files = served_files(done.report, options, done.rendered)
    post = done.rendered.files[0]
    images = [f.path for f in done.rendered.files if f.path.endswith(".png")]
    assert images and all(path in files for path in images)
    assert files[images[0]].content_type == "image/png"
    assert not any(path.startswith("_") for path in files)  # no _posts, no _config.yml
    page = files["index.html"].data.decode()
    assert files["index.html"].content_type == "text/html; charset=utf-8"
    # the Liquid links became site-root paths that the server answers
    for path in images:
        assert f'src="/{path}"' in page
    main_part = page[page.index("<main>") :]
    assert "relative_url" not in main_part and "{{" not in main_part
    assert post.path in page  # says what it previews
    assert "<h2>Runs</h2>" in page and "<table>" in page


def test_partial_last_record_is_held_back_until_it_settles() -> None:
    tails = _Tails()

    def cut(offset: int) -> DataWarning:
        return DataWarning(
            "truncated", "ends in a partial record", path="r/f", offset=offset, severity=NOTE
        )

    other = DataWarning("nonfinite", "NaN", run="r", severity=NOTE)
    shown, held, retry = tails.hold_back([cut(100), other], now=10.0, settle=2.0)
    assert shown == (other,) and held == ("r/f",) and retry == 12.0
    # the writer finished that record and is midway through the next one: still news to none
    shown, held, retry = tails.hold_back([cut(200), other], now=11.5, settle=2.0)
    assert shown == (other,) and held == ("r/f",) and retry == 13.5
    # the same partial record 2 s later: the writer stopped there; the note is shown
    shown, held, retry = tails.hold_back([cut(200)], now=13.5, settle=2.0)
    assert shown == (cut(200),) and held == () and retry is None
    # the file completed: nothing held, nothing remembered
    assert tails.hold_back([], now=14.0, settle=2.0) == ((), (), None)
    assert tails.first_seen == {}


def test_preview_options() -> None:
    options = preview_options(Options(), given=())
    assert (options.jobs, options.fallback) == (1, "none")
    # what is given is kept; with --out the files written are the build's own
    kept = preview_options(Options(jobs=3, fallback="images"), given={"jobs", "fallback"})
    assert (kept.jobs, kept.fallback) == (3, "images")
    assert preview_options(Options(), given={"out"}, write=True).fallback == "images"
    # a config file's `out` is where build writes; serve writes only with --out itself
    assert preview_options(Options(out="docs"), given={"out"}).fallback == "none"
    assert preview_options(Options(format="jekyll"), given=()).fallback == "images"
    with pytest.raises(ServeError, match="previews the html and jekyll formats, not 'markdown'"):
        preview_options(Options(format="markdown"), given=())


def test_serve_takes_the_build_options_and_its_own() -> None:
    serve = {f.name for f, _ in specs("serve")}
    build = {f.name for f, _ in specs("build")}
    assert {"host", "port"} <= serve and not {"host", "port"} & build
    assert build - serve == {"fail_on_regression", "job_summary", "marker_id", "image_base_url"}
    flags = {o for p in main.commands["serve"].params for o in p.opts}
    assert {"--host", "--port", "--out", "--format", "--smoothing", "--config"} <= flags
    assert "--fail-on-regression" not in flags


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing-dir"], "Logdir 'missing-dir' is not a folder."),
        (["s3://bucket/runs"], "tbreport serve watches a local folder; 's3://bucket/runs'"),
        (["runs", "--format", "markdown"], "previews the html and jekyll formats"),
        (["runs", "--port", "70000"], "--port: must be a port number from 1 to 65535"),
    ],
)
def test_serve_errors(tmp_path: Path, monkeypatch, args, message) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    result = CliRunner().invoke(main, ["serve", *args, "--date", DATE])
    assert result.exit_code != 0
    assert message in result.output


def test_without_watchfiles_the_error_names_the_extra(tmp_path: Path, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "watchfiles", None)  # what a missing package raises
    (tmp_path / "runs").mkdir()
    result = CliRunner().invoke(main, ["serve", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert result.output == (
        "Error: tbreport serve watches the logdir with watchfiles, which is not installed: "
        "pip install 'tbreport[serve]'\n"
    )


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    from tbreport.serve import Server

    (tmp_path / "runs").mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        options = build_options(tmp_path, tmp_path / "runs", port=port)
        with pytest.raises(ServeError, match=f"Cannot listen on 127.0.0.1 port {port}"):
            Server(options).start()


# --- a Jekyll preview's images: drawn after its page is served -------------------------------


def _copy_quickstart(tmp_path: Path) -> Path:
    from conftest import fixture_logdir

    runs = tmp_path / "runs"
    shutil.copytree(fixture_logdir("quickstart"), runs)
    return runs


def scalar_event(step: int, tag: str, value: float) -> bytes:
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary

    summary = Summary(value=[Summary.Value(tag=tag, simple_value=value)])
    return Event(wall_time=1621903260.0 + step, step=step, summary=summary).SerializeToString()


def _images(files: dict) -> dict:
    return {path: served.data for path, served in files.items() if path.endswith(".png")}


def _jekyll_preview(tmp_path: Path, ext: str) -> tuple[Path, Any, dict[str, bytes]]:
    """A copy of the quick-start runs, a Jekyll preview's options for them, and the files
    ending in ``ext`` that a build of them writes."""
    runs = _copy_quickstart(tmp_path)
    options = preview_options(build_options(tmp_path / "site", runs, format="jekyll"), [])
    built = {
        f.path: f.data
        for f in render(build_options(tmp_path / "b", runs, format="jekyll")).rendered.files
        if f.path.endswith(ext)
    }
    return runs, options, built


def test_jekyll_preview_serves_its_page_before_drawing_and_the_images_a_build_draws(
    tmp_path: Path,
) -> None:
    runs, options, built = _jekyll_preview(tmp_path, ".png")
    server = Server(options)
    try:
        snapshot = server.rebuild()
        pending = _images(snapshot.files)
        assert pending.keys() == built.keys() and len(built) >= 2
        # the page is ready; every image is still to come, then the same bytes a build draws
        assert not isinstance(snapshot.files["index.html"].data, Pending)
        assert all(isinstance(image, Pending) for image in pending.values())
        assert {path: image.result(60) for path, image in pending.items()} == built
        # nothing changed: the images come from the chart cache, drawn already
        again = _images(server.rebuild().files)
        assert not any(isinstance(image, Pending) for image in again.values())
        assert again == built
        (event_file,) = (runs / "run_1").glob("events.out.tfevents.*")
        with event_file.open("ab") as fh:
            fh.write(frame_record(scalar_event(100, "tutorial/line", 250.0)))
        grown = _images(server.rebuild().files)
        # a record appended to run_1's line: that chart alone is drawn again, and differs
        redrawn = {path for path, image in grown.items() if isinstance(image, Pending)}
        assert len(redrawn) == 1 and "line" in next(iter(redrawn))
        for path, image in grown.items():
            if path in redrawn:
                assert image.result(60).startswith(b"\x89PNG") and image.result() != built[path]
            else:
                assert image == built[path]
    finally:
        server.close()


def test_jekyll_preview_makes_its_csv_files_after_its_page_and_images(tmp_path: Path) -> None:
    """The plotted-data files were half of a preview's rebuild: they are made on the drawing
    thread, after the images, and are the bytes a build writes; a newer build drops the files
    an older one queued."""
    runs, options, built = _jekyll_preview(tmp_path, ".csv")
    server = Server(options)
    gate = threading.Event()
    try:
        later = server._drawer(options)
        assert later is not None
        busy = later._executor.submit(gate.wait, 60)  # the drawing thread held up
        files = server.rebuild().files
        csvs = {path: served.data for path, served in files.items() if path.endswith(".csv")}
        images = [s.data for path, s in files.items() if path.endswith(".png")]
        assert csvs.keys() == built.keys() and len(built) >= 2
        assert all(isinstance(d, Pending) and not d.future.done() for d in csvs.values())
        gate.set()
        busy.result(60)
        assert {path: d.result(60) for path, d in csvs.items()} == built
        assert all(image.future.done() for image in images)  # drawn first
        gate.clear()
        busy = later._executor.submit(gate.wait, 60)
        old = later.make([lambda: b"old"])
        new = later.make([lambda: b"new"])
        assert old[0].future.cancelled()
        gate.set()
        assert new[0].result(60) == b"new"
    finally:
        gate.set()
        server.close()


def test_what_is_written_or_an_html_preview_is_drawn_before_it_is_served(tmp_path: Path) -> None:
    runs = _copy_quickstart(tmp_path)
    for fmt, write, given in (("jekyll", True, ()), ("html", False, ("fallback",))):
        options = build_options(tmp_path / f"site-{fmt}", runs, format=fmt)
        server = Server(preview_options(options, given, write=write), write=write)
        try:
            files = server.rebuild().files
        finally:
            server.close()
        assert not any(isinstance(f.data, Pending) for f in files.values())
    # what was written is the images themselves
    written = sorted((tmp_path / "site-jekyll").rglob("*.png"))
    assert written and all(p.read_bytes().startswith(b"\x89PNG") for p in written)


def test_a_newer_build_drops_the_images_an_older_one_queued(tmp_path: Path) -> None:
    from tbreport.charts.cache import MemoryCharts

    report = render(build_options(tmp_path / "site", format="jekyll")).report
    charts = [c for c in report.charts if c.kind == "scalars"]
    assert len(charts) >= 2
    later = Later()
    cache = MemoryCharts()
    gate = threading.Event()
    try:
        # the drawing thread is busy until the gate opens: everything after it is queued
        busy = later._executor.submit(gate.wait, 60)
        old = later.draw([("a", charts[0], False), ("b", charts[1], False)], "png", None, cache)
        new = later.draw([("b", charts[1], False), ("c", charts[0], True)], "png", None, cache)
        assert old[0].future.cancelled()  # "a" is not wanted any more
        assert new[0].future is old[1].future  # "b" is drawn once, for both builds
        gate.set()
        busy.result(60)
        with pytest.raises(CancelledError):
            old[0].result(60)
        b, c = new[0].result(60), new[1].result(60)
        assert b.startswith(b"\x89PNG") and c.startswith(b"\x89PNG") and b != c
        assert cache.get("b") == b and cache.get("c") == c and cache.get("a") is None
    finally:
        gate.set()
        later.close()


def test_the_server_answers_a_chart_once_drawn_and_a_dropped_one_with_503(tmp_path: Path) -> None:
    runs = _copy_quickstart(tmp_path)
    options = preview_options(build_options(tmp_path / "site", runs, format="jekyll", port=0), [])
    server = Server(options)
    gate = threading.Event()
    try:
        url = server.start()
        later = server._drawer(options)
        assert later is not None
        busy = later._executor.submit(gate.wait, 60)  # the drawing thread held up
        pending = _images(server.rebuild().files)
        path, image = sorted(pending.items())[0]
        answers: list[tuple[int, bytes]] = []

        def fetch() -> None:
            try:
                with urllib.request.urlopen(url + path, timeout=60) as response:
                    answers.append((response.status, response.read()))
            except urllib.error.HTTPError as err:
                answers.append((err.code, err.read()))

        waiting = threading.Thread(target=fetch)
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive()  # the request waits for its image
        gate.set()
        busy.result(60)
        waiting.join(60)
        assert answers == [(200, image.result(60))]
        # a newer build no longer wants a queued image: a request for it gets 503 at once
        dropped = Pending(Future())
        dropped.future.cancel()
        server.snapshot.files[path] = Served(dropped, "image/png")
        answers.clear()
        fetch()
        assert answers[0][0] == 503 and b"newer build" in answers[0][1]
    finally:
        gate.set()
        server.close()


# --- the author's own files in the site folder ----------------------------------------------

POST = """---
title: Quick start
---
The runs, as TensorBoard shows them:

![TensorBoard]({{ '/assets/images/tensorboard_display.png' | relative_url }})
*Fig 1. TensorBoard's view.*

```tbreport
chart: tutorial/line
```

[config](/_config.yml) [git](/.git/config) [up](/../secret.txt) [link](/assets/link.txt)
[figure](figure.png) [elsewhere](https://example.com/x.png)
"""


def _site(tmp_path: Path) -> tuple[Path, bytes]:
    site = tmp_path / "site"
    (site / "assets" / "images").mkdir(parents=True)
    (site / ".git").mkdir()
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYPj/HwADAgH/2Vb3WQAAAABJRU5ErkJggg=="
    )
    (site / "assets" / "images" / "tensorboard_display.png").write_bytes(png)
    (site / "figure.png").write_bytes(png + b"figure")
    (site / "_config.yml").write_text("title: mine\n")
    (site / ".git" / "config").write_text("[core]\n")
    (tmp_path / "secret.txt").write_text("not the site's")
    (site / "assets" / "link.txt").symlink_to(tmp_path / "secret.txt")
    return site, png


@pytest.mark.parametrize("fmt", ["jekyll", "html"])
def test_the_preview_serves_the_authors_own_files_of_the_site_folder_and_no_others(
    tmp_path: Path, fmt: str
) -> None:
    site, png = _site(tmp_path)
    post = tmp_path / "post.md"
    post.write_text(POST, encoding="utf-8")
    options = build_options(site, format=fmt, source=str(post))
    server = Server(preview_options(options, []))
    try:
        files = server.rebuild().files
    finally:
        server.close()
    page = files["index.html"].data.decode()
    if fmt == "jekyll":  # the article's figure, at the address its Liquid gives
        assert 'src="/assets/images/tensorboard_display.png"' in page
        served = files["assets/images/tensorboard_display.png"]
        assert served.data == png and served.content_type == "image/png"
    # a page-relative address: the page is the site folder's index.html
    assert files["figure.png"].data == png + b"figure"
    # what Jekyll would not publish, what is outside the folder (also through a link): never
    for path in files:
        assert not path.startswith(("_", ".", "..")) and "secret" not in path
    assert "assets/link.txt" not in files
    assert not any(b"not the site's" in bytes(f.data) for f in files.values())
    assert not any("example.com" in path for path in files)
