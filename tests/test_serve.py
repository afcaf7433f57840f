"""tbreport serve without a browser: the served pages (live script, widened CSP, a Jekyll post
as a plain page), the held-back partial record, the preview's options and the CLI's errors.
The server in real Chromium, with real writers, is in test_serve_live.py."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import DATE, build_options

from tbreport.cli import main
from tbreport.formats.preview import (
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
from tbreport.serve import ServeError, _Tails, preview_options

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
