"""Notebooks: ``tbreport.show`` and ``%tbreport`` put the report in a sandboxed iframe with a
static copy of the charts beside it; a real notebook runs on a real kernel, and its nbconvert
HTML is opened in real Chromium."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import click
import pytest
import sitecheck

import tbreport
from tbreport.errors import TbreportError
from tbreport.notebook import parse_line

# a run name that ends an attribute, a tag and a script if anything leaves it unescaped
HOSTILE = "evil \"q' & <b></script><img src=x onerror=window.__pwned=1>"
HOSTILE_DIR = HOSTILE  # the "/" of </script> makes a sub-folder: the run name is the path


class Outline(HTMLParser):
    """The tags of a document (attributes unescaped), not looking inside attribute values."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for t, attrs in self.tags if t == tag]


def write_runs(torch_writer, steps: int = 20, start: int = 0) -> Path:
    for run in ("run_1", "run_2", HOSTILE_DIR):
        w = torch_writer(run)
        for n in range(start, steps):
            w.add_scalar("tutorial/line", 2.0 * n + 1, n)
            w.add_scalar("tutorial/poly", n**2 - 100.0 * n, n)
        w.flush()
    return Path(torch_writer("run_1").log_dir).parent


@pytest.fixture
def logdir(torch_writer) -> Path:
    return write_runs(torch_writer)


def check_output(output: str, standalone: str | None = None) -> tuple[Outline, Outline]:
    """The cell output's outline and its frame document's, after the isolation checks."""
    outer = Outline(output)
    frames = outer.all("iframe")
    assert len(frames) == 1
    assert frames[0]["sandbox"] == "allow-scripts"  # no allow-same-origin
    assert outer.all("script") == []
    # the hostile name never appears raw outside the frame's attribute: it cannot end it
    assert HOSTILE not in output and "</script" not in output.lower()
    doc = frames[0]["srcdoc"]
    assert doc is not None
    if standalone is not None:
        assert doc == standalone
    inner = Outline(doc)
    assert [a.get("data-tbreport-tag") for a in inner.all("div") if "data-tbreport-tag" in a] == [
        "tutorial/line",
        "tutorial/poly",
    ]
    assert len([a for a in inner.all("img") if a["src"].startswith("data:image/png")]) == 2
    assert HOSTILE in html.unescape(doc)
    return outer, inner


def static_images(outer: Outline) -> list[dict[str, str | None]]:
    return [a for a in outer.all("img") if a["src"].startswith("data:image/png;base64,")]


def test_show_frames_the_report_with_a_static_copy_of_the_charts(logdir, tmp_path):
    shown = tbreport.show(logdir)
    outer, _ = check_output(shown._repr_html_(), shown.html)
    assert [a["alt"] for a in static_images(outer)] == ["tutorial/line", "tutorial/poly"]
    assert shown.left_out == ()
    saved = shown.save(tmp_path / "report.html")
    assert saved.read_text(encoding="utf-8") == shown.html
    assert shown.html.startswith("<!DOCTYPE html>")
    # the cell's text/plain, saved beside the HTML, is a line, not the report a second time
    assert repr(shown) == f"<tbreport report: {len(shown.html.encode()):,} bytes of HTML; " + (
        ".save(path) writes it>"
    )


def test_build_options_apply_by_name_and_in_the_magic_line(logdir):
    by_name = tbreport.show(logdir, tags="poly", smoothing=0.9)
    assert [a["alt"] for a in static_images(Outline(by_name.output))] == ["tutorial/poly"]
    for line in (f"{logdir} --tags poly --smoothing 0.9", f"--logdir {logdir} --tags=poly "
                 "--smoothing 0.9", f"--logdir={logdir} --tags poly --smoothing 0.9"):  # fmt: skip
        assert parse_line(line).html == by_name.html
    with pytest.raises(TbreportError, match="smoothing"):
        parse_line(f"{logdir} --smoothing 2")
    with pytest.raises(click.UsageError):
        parse_line(f"{logdir} --no-such-flag")
    with pytest.raises(TbreportError, match="HTML report; --format jekyll"):
        parse_line(f"{logdir} --format jekyll")
    with pytest.raises(TypeError, match="no_such"):
        tbreport.show(logdir, no_such=1)
    with pytest.raises(click.UsageError, match=r"No closing quotation in the %tbreport line"):
        parse_line(f'{logdir} --title "unclosed')
    # a notebook writes no folder: --out is refused, not ignored
    for refused in (lambda: parse_line(f"{logdir} --out site"), lambda: tbreport.show(out="x")):
        with pytest.raises(TbreportError, match=r"writes no folder; --out is for `tbreport build`"):
            refused()


def test_the_config_files_format_is_builds_the_cell_shows_html(logdir, tmp_path, monkeypatch):
    plain = tbreport.show(logdir)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tbreport.toml").write_text('format = "jekyll"\nout = "_site"\n')
    assert parse_line(str(logdir)).html == tbreport.show(logdir).html == plain.html
    with pytest.raises(TbreportError, match="HTML report; --format markdown"):
        tbreport.show(logdir, format="markdown")


def test_ipython_shows_tbreports_errors_as_the_cli_does_without_a_traceback(tmp_path):
    with pytest.raises(TbreportError) as caught:
        tbreport.show(tmp_path / "missing")
    assert caught.value._render_traceback_() == [
        f"Error: Log directory '{tmp_path / 'missing'}' does not exist."
    ]


def test_size_cap_leaves_out_static_images_and_the_cell_says_so(logdir):
    full = tbreport.show(logdir)
    frame_len = len(full.output) - sum(len(a["src"]) for a in static_images(Outline(full.output)))
    # room for the frame and about one of the two static images
    one = len(static_images(Outline(full.output))[0]["src"])
    capped = tbreport.show(logdir, max_size=(frame_len + one * 1.2 + 2000) / 1e6)
    assert len(capped.output) <= (frame_len + one * 1.2 + 2000)
    outer, _ = check_output(capped.output)
    assert len(static_images(outer)) == 1
    assert capped.left_out == (
        f"the static images of 1 of 2 charts, to stay under {capped_mb(capped)} MB "
        "(--max-size, --max-points)",
    )
    assert "tbreport left out the static images of 1 of 2 charts" in capped.output
    with pytest.raises(TbreportError, match=r"over the notebook's cap of 0\.01 MB"):
        tbreport.show(logdir, max_size=0.01)
    none = tbreport.show(logdir, fallback="none")
    assert static_images(Outline(none.output)) == []
    assert none.left_out == ("the static chart images (--fallback none)",)


def capped_mb(shown) -> str:
    return re.search(r"under ([0-9.]+) MB", shown.left_out[0]).group(1)


def test_showing_again_reads_the_new_points(torch_writer, logdir):
    def points(shown) -> list[str]:
        runs = shown.html.split('<table class="runs"')[1].split("</table>")[0]
        return re.findall(r'<td class="num" data-sort="\d+">([\d,]+)</td>', runs)

    before = tbreport.show(logdir)
    write_runs(torch_writer, steps=35, start=20)
    after = tbreport.show(logdir)
    assert points(before) == ["40"] * 3 and points(after) == ["70"] * 3


def test_import_tbreport_and_the_extension_hook_do_not_import_ipython():
    code = (
        "import sys, tbreport; assert callable(tbreport.load_ipython_extension); "
        "print('IPython' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


# --- a real notebook on a real kernel -----------------------------------------------------


NOTEBOOK_CELLS = [
    f"""\
from torch.utils.tensorboard import SummaryWriter

for name in ["run_1", "run_2", {HOSTILE!r}]:
    writer = SummaryWriter(f"runs/{{name}}")
    for n in range(100):
        writer.add_scalar("tutorial/line", 2 * n + 1, n)
        writer.add_scalar("tutorial/poly", n ** 2 - 100 * n, n)
    writer.close()""",
    "%load_ext tbreport",
    "%tbreport runs/",
    "%tbreport --logdir no-such-folder/",
    # the same kernel again: other options, then more points in the logdir
    "%tbreport runs/ --tags poly --smoothing 0",
    """\
writer = SummaryWriter("runs/run_1")
for n in range(100, 150):
    writer.add_scalar("tutorial/line", 2 * n + 1, n)
writer.close()""",
    "%tbreport runs/",
    "import tbreport\ntbreport.show('no-such-folder/')",
    '%tbreport runs/ --title "unclosed',
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    import nbformat
    from nbclient import NotebookClient

    folder = tmp_path_factory.mktemp("notebook")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in NOTEBOOK_CELLS]
    for cell in nb.cells:  # the one cell that raises (tbreport.show of a missing folder)
        if "tbreport.show(" in cell.source:
            cell.metadata["tags"] = ["raises-exception"]
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    return nb, folder


@pytest.mark.real_tools
def test_real_notebook_shows_the_framed_report_and_short_errors(executed):
    nb, _ = executed
    report_cell, error_cell = nb.cells[2], nb.cells[3]
    assert [o["output_type"] for o in report_cell.outputs] == ["display_data"]
    check_output(report_cell.outputs[0]["data"]["text/html"])
    assert [(o["output_type"], o.get("name")) for o in error_cell.outputs] == [("stream", "stderr")]
    assert error_cell.outputs[0]["text"].startswith("Error: ")
    assert "no-such-folder" in error_cell.outputs[0]["text"]
    assert "Traceback" not in json.dumps(error_cell.outputs)
    # the cell's text/plain is one line, not the report a second time in the saved notebook
    assert report_cell.outputs[0]["data"]["text/plain"].startswith("<tbreport report: ")


def _points(output: dict) -> list[str]:
    """The Points column of the runs table in a cell's framed report."""
    doc = Outline(output["data"]["text/html"]).all("iframe")[0]["srcdoc"]
    runs = doc.split('<table class="runs"')[1].split("</table>")[0]
    return re.findall(r'<td class="num" data-sort="\d+">([\d,]+)</td>', runs)


@pytest.mark.real_tools
def test_real_notebook_shows_again_with_other_options_and_new_points(executed):
    nb, _ = executed
    first, tags, _, again = (nb.cells[i].outputs for i in (2, 4, 5, 6))
    shown = Outline(tags[0]["data"]["text/html"])
    assert [a["alt"] for a in static_images(shown)] == ["tutorial/poly"]
    # run_1 got 50 more points of one tag between the calls
    assert _points(first[0]) == ["200", "200", "200"]
    assert sorted(_points(again[0])) == ["200", "200", "250"]


@pytest.mark.real_tools
def test_real_notebook_errors_of_show_and_of_a_bad_line_are_one_message(executed):
    nb, _ = executed
    shown, line = nb.cells[7].outputs, nb.cells[8].outputs
    assert [(o["output_type"], o["ename"]) for o in shown] == [("error", "LogdirNotFoundError")]
    assert shown[0]["traceback"] == ["Error: Log directory 'no-such-folder/' does not exist."]
    assert [(o["output_type"], o.get("name")) for o in line] == [("stream", "stderr")]
    assert line[0]["text"].startswith("Error: No closing quotation in the %tbreport line")


@pytest.fixture(scope="module")
def converted(executed):
    from nbconvert import HTMLExporter

    nb, folder = executed
    body, _ = HTMLExporter().from_notebook_node(nb)
    path = folder / "notebook.html"
    path.write_text(body, encoding="utf-8")
    return path.resolve().as_uri()


def _open(browser, url: str, **context):
    ctx = browser.new_context(viewport={"width": 1200, "height": 900}, **context)
    # nbconvert's page loads MathJax and require.js from CDNs: nothing leaves the machine
    ctx.route("**/*", lambda r: r.continue_() if r.request.url == url else r.abort())
    page = ctx.new_page()
    errors: list[str] = []
    page.on("dialog", lambda d: (errors.append(f"dialog {d.message}"), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    # the blocked CDN requests log "Failed to load resource"; anything else is a problem
    page.on(
        "console",
        lambda m: (
            m.type in ("error", "warning")
            and "Failed to load resource" not in m.text
            and errors.append(f"{m.type}: {m.text}")
        ),
    )
    page.goto(url, wait_until="load")
    return ctx, page, errors


def _report_frame(page):
    page.wait_for_selector("iframe.tbreport-nb-frame")
    frame = page.frame_locator("iframe.tbreport-nb-frame")
    return frame, page.query_selector("iframe.tbreport-nb-frame").content_frame()


@pytest.mark.real_tools
@pytest.mark.skipif("not sitecheck.have_chromium()", reason="no chromium")
def test_converted_notebook_in_chromium(converted):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=sitecheck.chromium_path(), args=sitecheck.CHROMIUM_ARGS
        )
        # scripts on: the charts are drawn inside the frame and answer the page API
        ctx, page, problems = _open(browser, converted)
        _, frame = _report_frame(page)
        frame.wait_for_selector(".tbr-chart[data-tbreport-state=drawn]", timeout=30_000)
        frame.evaluate("() => tbreport.render('tutorial/poly')")
        plotted = frame.evaluate("() => tbreport.plotted('tutorial/poly')")
        assert sorted(r["run"] for r in plotted["runs"]) == sorted(["run_1", "run_2", HOSTILE])
        frame.evaluate("() => tbreport.setSmoothing(0)")
        assert frame.evaluate("() => tbreport.state().smoothing") == 0
        assert frame.query_selector_all(".tbr-chart canvas")
        # the report's origin is opaque: it cannot reach the notebook page
        assert (
            frame.evaluate(
                "() => { try { return !!parent.document; } catch (e) { return false; } }"
            )
            is False
        )  # noqa: E501
        assert not any(
            f.evaluate("() => !!(window.__pwned || window.__tbreport_pwned)") for f in page.frames
        )
        assert problems == []
        # the static copy is hidden while the frame is there, and shows where it is dropped
        static = page.locator(".tbreport-nb-static").first
        assert not static.is_visible()
        page.evaluate("() => document.querySelector('iframe.tbreport-nb-frame').remove()")
        assert static.is_visible()
        assert page.evaluate(
            "() => [...document.querySelector('.tbreport-nb-static').querySelectorAll('img')]"
            ".map(i => i.complete && i.naturalWidth > 0)"
        ) == [True, True]
        ctx.close()

        # scripts off: the frame shows the report's own static images, nothing is drawn
        ctx, page, _ = _open(browser, converted, java_script_enabled=False)
        _, frame = _report_frame(page)
        frame.wait_for_load_state()
        images = frame.locator("img[src^='data:image/png']")
        images.first.wait_for(state="attached")  # the srcdoc frame may still be parsing
        assert images.count() == 2
        for i in range(2):
            images.nth(i).wait_for(state="visible")
            box = images.nth(i).bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 50
        assert frame.query_selector_all(".tbr-chart canvas") == []
        ctx.close()
        browser.close()
