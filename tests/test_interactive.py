"""The HTML report's browser-drawn charts: the embedded data, the vendored uPlot, the options,
and (marked real_tools) the page in real headless Chromium from file://.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import sitecheck
from conftest import DATE, fixture_logdir

from tbreport.formats.escape import script_json
from tbreport.kinds.scalars.embed import chart_payload, decode_payload
from tbreport.kinds.scalars.transform import smooth
from tbreport.options import make_options
from tbreport.pipeline import build

ROOT = Path(__file__).parent.parent
ASSETS = ROOT / "templates" / "assets"
DATA_RE = re.compile(r'<script type="application/json" id="tbreport-data">(.*?)</script>', re.S)

needs_chromium = pytest.mark.skipif("not sitecheck.have_chromium()", reason="no chromium")


def _build(logdir: Path, out: Path, **kw):
    # dated: two builds a minute boundary apart would differ in the date line
    cli = {"runs_dir": str(logdir), "out": str(out), "date": DATE, "quiet": True, "jobs": 1, **kw}
    return build(make_options(cli, {}, None))


def sequential_smooth(values, weight):
    """TENSORBOARD.md's classicSmoothing, one point at a time: the reference."""
    w = min(max(weight if math.isfinite(weight) else 0.0, 0.0), 1.0)
    ys = [float(v) for v in values]
    if w <= 0 or not ys or all(y == ys[0] for y in ys):
        return ys
    last, n, out = 0.0, 0, []
    for y in ys:
        if not math.isfinite(y):
            out.append(y)
            continue
        last = last * w + (1 - w) * y
        n += 1
        out.append(last / (1 - w**n) if w != 1 else last)
    return out


def _js_number(v: float) -> str:
    return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")


def _f32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).astype(np.float32).astype(np.float64)


def held_smoothed(line) -> np.ndarray:
    """The smoothed values the page holds: the build's, rounded to float32 for a thinned
    line; a line held whole is smoothed by the script (the build's numbers)."""
    return _f32(line.smoothed) if len(line.y) < line.points else line.smoothed


def close_to(got, want, scale) -> bool:
    """Equal where non-finite, within 1e-12 of the series' largest magnitude elsewhere."""
    for g, r in zip(got, want, strict=True):
        if math.isfinite(r):
            if g is None or abs(g - r) > 1e-12 * scale:
                return False
        elif not (g is None or (math.isnan(g) and math.isnan(r)) or g == r):
            return False
    return True


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    """Two runs, two tags; run "b" is long enough to be thinned with --max-points 100 or 400."""
    from torch.utils.tensorboard import SummaryWriter

    root = tmp_path_factory.mktemp("interactive") / "runs"
    rng = np.random.default_rng(7)
    for name, steps in (("a", 300), ("b", 1000)):
        w = SummaryWriter(log_dir=str(root / name))
        for step in range(steps):
            w.add_scalar("loss/train", float(np.exp(-step / 200) + rng.normal(0, 0.05)), step * 2)
            w.add_scalar("acc/val", float(step / steps + rng.normal(0, 0.01)), step * 2)
        w.close()
    return root


@pytest.fixture(scope="module")
def built(logdir, tmp_path_factory):
    """The default build of ``logdir`` and its folder (the tests using it only read it)."""
    out = tmp_path_factory.mktemp("built") / "out"
    return _build(logdir, out), out


def _payloads(html: str) -> dict:
    found = DATA_RE.search(html)
    assert found, "no embedded data"
    return json.loads(found.group(1))


# --- without a browser ------------------------------------------------------------------------


def test_vendored_uplot_matches_its_pin():
    pin = json.loads((ASSETS / "uplot.json").read_text())
    assert pin["package"] == "uplot" and re.fullmatch(r"\d+\.\d+\.\d+", pin["version"])
    for name, digest in pin["files"].items():
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == digest, name
    assert f"(v{pin['version']})" in (ASSETS / "uPlot.iife.min.js").read_text()[:200]
    assert "MIT License" in (ASSETS / "uPlot.LICENSE").read_text()


def test_embedded_data_round_trips_to_the_charts_points(tmp_path, logdir):
    # run "a" (300 points) whole, "b" (1,000) thinned
    result = _build(logdir, tmp_path / "out", max_points=400)
    doc = _payloads((tmp_path / "out" / "index.html").read_text())
    assert doc["format"] == "tbreport-charts" and doc["version"] == 3
    thinned = whole = 0
    for chart, payload in zip(result.report.charts, doc["charts"], strict=True):
        assert payload == chart_payload(chart)
        for line, meta, got in zip(
            chart.lines, payload["lines"], decode_payload(payload), strict=True
        ):
            assert meta["run"] == line.run and meta["held"] == len(line.y)
            assert meta["values"] == "f4"  # torch writes float32: exact in 4 bytes
            np.testing.assert_array_equal(got["steps"], line.steps)
            np.testing.assert_array_equal(got["wall_times"], line.wall_times)
            np.testing.assert_array_equal(got["values"], line.y)
            if len(line.y) < line.points:  # part of the series: the build's smoothing
                thinned += 1
                assert meta["smoothed"]  # rounded to float32, as the page holds it
                np.testing.assert_array_equal(got["smoothed"], _f32(line.smoothed))
                assert not np.array_equal(got["smoothed"], line.smoothed)
            else:  # the whole series: smoothing the held points gives the build's numbers
                whole += 1
                assert not meta["smoothed"] and "smoothed" not in got
                np.testing.assert_array_equal(smooth(got["values"], 0.6), line.smoothed)
    assert thinned and whole
    long = next(m for m in doc["charts"][0]["lines"] if m["run"] == "b")
    assert long["points"] == 1000 and long["held"] <= 400


def test_values_that_float32_cannot_hold_are_embedded_as_float64(built):
    from dataclasses import replace

    result, _ = built
    chart = result.report.charts[0]
    line = replace(chart.lines[0], y=chart.lines[0].y + 1e-12)  # not a float32 any more
    payload = chart_payload(replace(chart, lines=(line,)))
    assert payload["lines"][0]["values"] == "f8"
    np.testing.assert_array_equal(decode_payload(payload)[0]["values"], line.y)


def test_embedded_sections_round_trip_any_bits(built):
    """Byte planes and wrapping int64 differences give back every bit pattern: steps near
    the int64 limits, wall times that are NaN, infinite, negative or decades apart."""
    from dataclasses import replace

    result, _ = built
    chart = result.report.charts[0]
    n = 6
    line = replace(
        chart.lines[0],
        x=np.arange(n, dtype=np.float64),
        y=np.array([0.5, -1.0, np.nan, np.inf, 3.0, 1e-40]),
        smoothed=np.array([0.1, 0.2, np.nan, 0.3, -0.0, 5e-324]),
        points=n + 1,
        steps=np.array([-(2**63), 2**63 - 1, 0, -1, 2**62, 7], dtype=np.int64),
        wall_times=np.array([np.nan, -np.inf, 1.7e9 + 0.123, -5.5, 1e300, np.inf]),
    )
    payload = chart_payload(replace(chart, lines=(line,)))
    (got,) = decode_payload(payload)
    np.testing.assert_array_equal(got["steps"], line.steps)
    assert got["wall_times"].tobytes() == line.wall_times.tobytes()
    assert got["smoothed"].tobytes() == _f32(line.smoothed).tobytes()  # 5e-324 -> 0.0
    assert payload["lines"][0]["values"] == "f8"
    np.testing.assert_array_equal(got["values"], line.y)


def test_fallback_images_are_compact_and_the_rest_full(tmp_path):
    """The page's static copy of a chart its script draws is a small palette PNG at the
    fallback resolution; --static keeps full charts, and so does a kind the script does not
    draw (histograms) in the same page. The same bytes on every build."""
    import io

    from PIL import Image

    from tbreport.charts.figure import FALLBACK_COLORS, FALLBACK_DPI
    from tbreport.kinds.scalars.chart import DPI

    logdir = tmp_path / "runs"
    for name in ("quickstart", "torch_histograms"):
        shutil.copytree(fixture_logdir(name), logdir / name)
    built = _build(logdir, tmp_path / "page", jobs=2)
    _build(logdir, tmp_path / "again", jobs=2)
    static = _build(logdir, tmp_path / "static", static=True)
    assert (tmp_path / "page" / "index.html").read_bytes() == (
        tmp_path / "again" / "index.html"
    ).read_bytes()
    pngs = {}
    for label, html in (("page", tmp_path / "page"), ("static", tmp_path / "static")):
        text = (html / "index.html").read_text()
        pngs[label] = [
            Image.open(io.BytesIO(base64.b64decode(b)))
            for b in re.findall(r'src="data:image/png;base64,([^"]+)"', text)
        ]
    kinds = [e.kind for e in built.report.charts if e.kind in ("scalars", "histograms")]
    assert kinds == [e.kind for e in static.report.charts if e.kind in kinds]
    assert "scalars" in kinds and "histograms" in kinds
    assert len(pngs["page"]) == len(pngs["static"]) >= len(kinds)
    for kind, page_png, static_png in zip(kinds, pngs["page"], pngs["static"], strict=False):
        if kind == "scalars":
            assert page_png.mode == "P" and len(page_png.getcolors()) <= FALLBACK_COLORS
            assert page_png.width == round(static_png.width * FALLBACK_DPI / DPI)
            assert static_png.mode in ("RGB", "RGBA")
        else:
            assert page_png.tobytes() == static_png.tobytes() and page_png.mode != "P"


@pytest.mark.parametrize("fallback", ["images", "none"])
def test_kinds_the_script_does_not_draw_keep_their_image_and_csv(tmp_path, fallback):
    """Histograms, hparams and text have no script view: whatever --fallback says (`serve`'s
    default is none), their image and CSV link are in the page, never `src="None"`."""
    logdir = tmp_path / "runs"
    for name in ("quickstart", "torch_histograms", "torch_text", "hparams_torch"):
        shutil.copytree(fixture_logdir(name), logdir / name)
    built = _build(logdir, tmp_path / "out", fallback=fallback)
    html = (tmp_path / "out" / "index.html").read_text()
    assert '"None"' not in html
    links = dict(re.findall(r'<a download="([^"]+)" href="([^"]{0,21})', html))
    for kind in ("histograms", "hparams", "text"):
        element = next(e for e in built.report.charts if e.kind == kind)
        assert links[f"{element.slug}.csv"] == "data:text/csv;base64,", kind
    (histogram,) = [e for e in built.report.charts if e.kind == "histograms"][:1]
    alt = re.escape(f"of {histogram.tag} for run")
    assert re.search(r'<img src="data:image/png;base64,[^"]+" alt="[A-Za-z]+ ' + alt, html)
    # the scalar charts' CSV is the script's (from the embedded data), not a data: link
    scalar = next(e for e in built.report.charts if e.kind == "scalars")
    assert f"{scalar.slug}.csv" not in links


def test_script_json_cannot_close_the_script_element():
    hostile = "</script><script>alert(1)</script><!-- &amp; \u2028\u2029 \udc80 ]]>"
    text = script_json({"run": hostile, "tag": ["<", ">", "&"]})
    assert not set(text) & {"<", ">", "&", "\u2028", "\u2029"}
    assert json.loads(text) == {"run": hostile, "tag": ["<", ">", "&"]}


def test_csp_allows_exactly_the_inline_scripts(built):
    html = (built[1] / "index.html").read_text()
    csp = re.search(r'Content-Security-Policy" content="([^"]*)"', html).group(1)
    assert "unsafe-inline'; script-src" in csp and "unsafe-eval" not in csp
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(scripts) == 2 and scripts[0].startswith("/*! https://github.com/leeoniya/uPlot")
    hashes = re.findall(r"'sha256-([A-Za-z0-9+/=]+)'", csp)
    want = [base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() for s in scripts]
    assert hashes == want
    assert "data:text/csv" not in html  # the script makes the CSV from the embedded data
    assert "http://" not in scripts[1] and "https://" not in scripts[1]
    assert not re.search(r"\beval\(|new Function|innerHTML", scripts[1])


def test_static_fallback_none_and_full_data(tmp_path, logdir):
    static = _build(logdir, tmp_path / "static", static=True)
    html = (tmp_path / "static" / static.main).read_text()
    assert "<script" not in html and html.count("data:text/csv") == len(static.report.charts)

    _build(logdir, tmp_path / "none", fallback="none")
    none = (tmp_path / "none" / "index.html").read_text()
    assert "<img" not in none and "<noscript>" in none
    assert none.count('class="tbr-needs-js"') == 2 + 1  # one per chart and the page's note
    assert '<table class="stats">' in none  # the tables need no script
    default = (tmp_path / "static" / "index.html").stat().st_size
    assert (tmp_path / "none" / "index.html").stat().st_size < default / 2

    _build(logdir, tmp_path / "full", full_data=True, max_points=100)
    doc = _payloads((tmp_path / "full" / "index.html").read_text())
    assert all(m["held"] == m["points"] for c in doc["charts"] for m in c["lines"])


# --- in Chromium --------------------------------------------------------------------------------


class Watched:
    """A page whose requests, console messages, errors and dialogs are recorded."""

    def __init__(self, browser, url: str, **context) -> None:
        self.context = browser.new_context(viewport={"width": 1200, "height": 900}, **context)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.requests: list[str] = []

        def route(r):
            self.requests.append(r.request.url)
            r.continue_() if r.request.url == url.split("#")[0] else r.abort("blockedbyclient")

        self.context.route("**/*", route)
        self.page.on(
            "console", lambda m: m.type in ("error", "warning") and self.problems.append(m.text)
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog {d.message}"), d.dismiss()))
        self.page.goto(url)

    def drawn(self, tag: str | None = None) -> None:
        if tag is not None:
            self.page.evaluate("(t) => tbreport.render(t)", tag)
        self.page.wait_for_selector(".tbr-chart[data-tbreport-state=drawn]")

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory, logdir):
    out = tmp_path_factory.mktemp("report")
    # run "a" (300 points) is held whole, "b" (1,000) thinned: both ways of smoothing
    result = _build(logdir, out, max_points=400)
    return result, (out / "index.html").resolve().as_uri()


@pytest.mark.real_tools
@needs_chromium
def test_browser_smoothing_equals_the_sequential_reference(browser, report):
    rng = np.random.default_rng(3)
    noisy = rng.normal(0, 1, 10_000).cumsum() * 1e-3 + rng.normal(0, 1, 10_000)
    series = {
        "nan_inf": [1.0, float("nan"), 2.0, float("inf"), -3.0, float("-inf"), 4.0],
        "constant": [2.5] * 50,
        "one": [7.0],
        "empty": [],
        "first_nan": [float("nan"), 1.0, 2.0],
        "ten_thousand": noisy.tolist(),
        "zero_crossings": np.sin(np.arange(10_000) / 7).tolist(),
    }
    page = Watched(browser, report[1])
    try:
        for name, values in series.items():
            for weight in (0.0, 0.6, 0.999):
                got = page.page.evaluate(
                    "([v, w]) => tbreport.smooth(v.map(Number), w).map(String)",
                    [[v if math.isfinite(v) else _js_number(v) for v in values], weight],
                )
                got = [float(g.replace("Infinity", "inf")) for g in got]
                want = sequential_smooth(values, weight)
                scale = max((abs(v) for v in values if math.isfinite(v)), default=1.0)
                assert close_to(got, want, scale), (name, weight)
        assert not page.problems, page.problems
    finally:
        page.close()


@pytest.mark.real_tools
@needs_chromium
def test_page_hover_hide_slider_and_no_requests(browser, report):
    result, url = report
    chart = result.report.charts[0]
    page = Watched(browser, url)
    try:
        page.drawn()
        p = page.page
        # hover: every visible run's readout is a point of the data, step/wall/raw/smoothed
        box = p.locator(".tbr-chart").first.locator(".u-over").bounding_box()
        p.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] / 2)
        rows = p.locator(".tbr-chart").first.locator(".tbr-readout tr[data-run]")
        assert rows.count() == len(chart.lines)
        for line in chart.lines:
            row = (
                p.locator(".tbr-chart")
                .first.locator(".tbr-readout tr[data-run]")
                .nth([ln.run for ln in chart.lines].index(line.run))
            )
            step = int(row.get_attribute("data-step"))
            (i,) = np.flatnonzero(line.steps == step)
            assert float(row.get_attribute("data-raw")) == line.y[i]
            assert float(row.get_attribute("data-smoothed")) == held_smoothed(line)[i]
            assert float(row.get_attribute("data-wall")) == line.wall_times[i]
            assert row.is_visible()
        # each run shows its point nearest the cursor's x (run "a" ends before it)
        x = float(p.locator(".tbr-chart").first.locator(".tbr-readout").get_attribute("data-x"))
        for k, line in enumerate(chart.lines):
            nearest = line.steps[np.argmin(np.abs(line.steps - x))]
            assert int(rows.nth(k).get_attribute("data-step")) == nearest
        assert int(rows.nth(0).get_attribute("data-step")) == 598 < x
        # the line at the build's weight is Python's smoothing of the full series
        plotted = p.evaluate("(t) => tbreport.plotted(t)", chart.tag)
        for line, got in zip(chart.lines, plotted["runs"], strict=True):
            at = {x: v for x, v in zip(plotted["x"], got["smoothed"], strict=True) if v is not None}
            assert [at[float(s)] for s in line.steps] == held_smoothed(line).tolist()
        # hiding a run hides it everywhere, and the readout drops it
        p.locator(".tbr-chart").first.locator(".tbr-run", has_text="a").click()
        plotted = p.evaluate("(t) => tbreport.plotted(t)", chart.tag)
        assert [r["shown"] for r in plotted["runs"]] == [False, True]
        assert p.evaluate("tbreport.state().hidden") == ["a"]
        assert "hide=a" in p.url
        p.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
        assert not rows.nth(0).is_visible() and rows.nth(1).is_visible()
        # shift-click: only this one; a plain click shows it again
        p.locator(".tbr-chart").first.locator(".tbr-run", has_text="a").click(modifiers=["Shift"])
        assert p.evaluate("tbreport.state().hidden") == ["b"]
        p.evaluate("tbreport.setHidden('b', false)")
        # the slider re-smooths the points the page holds, and says so for the thinned run
        p.locator("#tbreport-controls input[type=range]").fill("0.9")
        assert p.evaluate("tbreport.state().smoothing") == 0.9
        plotted = p.evaluate("(t) => tbreport.plotted(t)", chart.tag)
        for line, got in zip(chart.lines, plotted["runs"], strict=True):
            at = {x: v for x, v in zip(plotted["x"], got["smoothed"], strict=True) if v is not None}
            want = sequential_smooth(line.y.tolist(), 0.9)
            assert close_to([at[float(s)] for s in line.steps], want, np.abs(line.y).max())
        note = p.locator(".tbr-chart").first.locator(".tbr-note").inner_text()
        held = sum(len(ln.y) for ln in chart.lines)
        assert note == f"smoothing over {held:,} of {chart.points:,} points"
        # the filter hides charts whose tag does not match
        p.locator("#tbreport-controls input[type=search]").fill("^loss/")
        assert p.locator("figure:not([hidden]) .tbr-chart").count() == 1
        assert not page.problems, page.problems
        assert page.requests == [url]  # nothing left the page
    finally:
        page.close()


@pytest.mark.real_tools
@needs_chromium
def test_url_fragment_restores_the_view(browser, report):
    result, url = report
    tag = result.report.charts[0].tag  # charts are in TensorBoard's order
    other = result.report.charts[1].tag
    page = Watched(browser, url + "#smoothing=0.95&hide=b&filter=" + re.escape(tag))
    try:
        page.drawn(tag)
        p = page.page
        state = p.evaluate("tbreport.state()")
        assert (state["smoothing"], state["hidden"], state["filter"]) == (
            0.95,
            ["b"],
            re.escape(tag),
        )
        plotted = p.evaluate("(t) => tbreport.plotted(t)", tag)
        assert [r["shown"] for r in plotted["runs"]] == [True, False]
        assert p.locator("#tbreport-controls input[type=range]").input_value() == "0.95"
        hidden = p.locator(f'.tbr-chart[data-tbreport-tag="{other}"]').evaluate(
            "e => e.closest('figure').hidden"
        )
        assert hidden
        assert not page.problems, page.problems
    finally:
        page.close()


@pytest.mark.real_tools
@needs_chromium
def test_without_javascript_every_chart_image_shows(browser, report):
    result, url = report
    page = Watched(browser, url, java_script_enabled=False)
    try:
        images = page.page.evaluate(
            "() => Array.from(document.querySelectorAll('.tbr-chart img'),"
            " i => [i.complete, i.naturalWidth])"
        )
        assert len(images) == len(result.report.charts)
        assert all(done and width > 0 for done, width in images)
        assert page.page.locator("#tbreport-controls").is_hidden()
    finally:
        page.close()


@pytest.mark.real_tools
@needs_chromium
def test_hostile_names_are_inert_in_the_drawn_charts(tmp_path, browser):
    from test_real_tools import HOSTILE_RUNS, HOSTILE_TAGS, shown
    from torch.utils.tensorboard import SummaryWriter

    root = tmp_path / "runs"
    for r, name in enumerate(HOSTILE_RUNS + ["</script><script>window.__pwned=1</script>\u2028"]):
        w = SummaryWriter(log_dir=str(root / name))
        for step in range(5):
            for t, tag in enumerate(HOSTILE_TAGS + ["</script><!--<script>alert(1)//&amp;"]):
                w.add_scalar(tag, (step + 1) * (r + 1) + t, step)
        w.close()
    result = _build(root, tmp_path / "out")
    url = (tmp_path / "out" / "index.html").resolve().as_uri()
    page = Watched(browser, url)
    try:
        p = page.page
        for chart in result.report.charts:
            p.evaluate("(t) => tbreport.render(t)", chart.tag)
        drawn = p.locator(".tbr-chart[data-tbreport-state=drawn]")
        assert drawn.count() == len(result.report.charts)
        tags = drawn.evaluate_all("els => els.map(e => e.dataset.tbreportTag)")
        assert tags == [c.tag for c in result.report.charts]
        labels = p.locator(".tbr-legend bdi").all_text_contents()
        assert {shown(line.run) for c in result.report.charts for line in c.lines} == set(labels)
        assert p.evaluate("window.__pwned") is None
        assert not page.problems, page.problems
        assert page.requests == [url]
    finally:
        page.close()


@pytest.mark.real_tools
@needs_chromium
def test_fallback_none_is_drawn_by_the_script(tmp_path, browser, logdir):
    result = _build(logdir, tmp_path / "out", fallback="none")
    page = Watched(browser, (tmp_path / "out" / "index.html").resolve().as_uri())
    try:
        for chart in result.report.charts:
            page.page.evaluate("(t) => tbreport.render(t)", chart.tag)
        assert page.page.locator(".tbr-chart[data-tbreport-state=drawn] canvas").count() >= 2
        assert page.page.locator(".tbr-needs-js").count() == 0
        assert not page.problems, page.problems
    finally:
        page.close()


@pytest.mark.real_tools
@needs_chromium
def test_a_source_block_s_y_range_is_the_drawn_chart_s(tmp_path, browser):
    """The script fits the y axis to the view, except where the author fixed it (`y_range`
    in a --source block); a log scale's low end at or below zero gives way to the data's."""
    post = tmp_path / "post.md"
    post.write_text(
        "```tbreport\nchart: tutorial/poly\ny_range: [-50, 200]\n```\n\n"
        "```tbreport\nchart: tutorial/line\nlog_y: true\ny_range: [0, 150]\n```\n"
    )
    result = _build(fixture_logdir("quickstart"), tmp_path / "out", source=str(post))
    payloads = json.loads(DATA_RE.search((tmp_path / "out" / "index.html").read_text())[1])
    assert [c.get("y_range") for c in payloads["charts"]] == [[-50, 200], [0, 150]]
    _build(fixture_logdir("quickstart"), tmp_path / "default")
    default = (tmp_path / "default" / "index.html").resolve().as_uri()
    page = Watched(browser, (tmp_path / "out" / "index.html").resolve().as_uri())
    try:
        ranges = []
        for chart in result.report.charts:
            page.drawn(chart.tag)
            ranges.append(page.page.evaluate("(t) => tbreport.plotted(t).y", chart.tag))
        assert ranges[0] == [-50, 200]
        assert 0 < ranges[1][0] < 2 and ranges[1][1] == 150
        page.page.evaluate("tbreport.setSmoothing(0.9)")
        assert page.page.evaluate("(t) => tbreport.plotted(t).y", "tutorial/poly") == [-50, 200]
        assert not page.problems, page.problems
    finally:
        page.close()
    page = Watched(browser, default)
    try:  # without a y_range: fitted, every value in view
        page.drawn("tutorial/poly")
        low, high = page.page.evaluate("(t) => tbreport.plotted(t).y", "tutorial/poly")
        assert low < -2500 and high > 9801
    finally:
        page.close()


@pytest.mark.real_tools
@needs_chromium
def test_a_source_block_s_x_axis_and_smoothing_are_the_drawn_chart_s(tmp_path, browser):
    """`x: relative`, `smoothing: 0` and `ignore_outliers: false` in a block draw that chart
    against seconds, raw, over all values (the page's controls, once the reader moves them,
    set every chart's)."""
    post = tmp_path / "post.md"
    post.write_text(
        "```tbreport\nchart: tutorial/line\nx: relative\nsmoothing: 0\n"
        "ignore_outliers: false\n```\n\n"
        "```tbreport\nchart: tutorial/poly\n```\n"
    )
    result = _build(fixture_logdir("quickstart"), tmp_path / "out", source=str(post))
    payloads = json.loads(DATA_RE.search((tmp_path / "out" / "index.html").read_text())[1])
    assert [c.get("x_axis") for c in payloads["charts"]] == ["relative", None]
    assert [c.get("ignore_outliers") for c in payloads["charts"]] == [False, None]
    page = Watched(browser, (tmp_path / "out" / "index.html").resolve().as_uri())
    try:
        xs = {}
        for chart in result.report.charts:
            page.drawn(chart.tag)
            xs[chart.tag] = page.page.evaluate("(t) => tbreport.plotted(t).x", chart.tag)
        for chart in result.report.charts:  # as the build computed each axis
            want = np.unique(np.concatenate([line.x for line in chart.lines]))
            np.testing.assert_allclose(xs[chart.tag], want, rtol=0, atol=1e-6)
        assert result.report.charts[0].x_axis == "relative"
        assert xs["tutorial/poly"] == list(range(100))  # the page's axis: steps
        # the block's smoothing: 0 draws raw values, the other chart the page's 0.6
        (line, poly) = (page.page.evaluate("(t) => tbreport.plotted(t).runs[0]", t)
                        for t in ("tutorial/line", "tutorial/poly"))  # fmt: skip
        assert line["smoothed"] == line["raw"] and poly["smoothed"] != poly["raw"]
        page.page.evaluate("tbreport.setSmoothing(0.9)")  # the reader's weight: every chart
        line = page.page.evaluate("(t) => tbreport.plotted(t).runs[0]", "tutorial/line")
        assert line["smoothed"] != line["raw"]
        assert not page.problems, page.problems
    finally:
        page.close()


@pytest.mark.real_tools
@needs_chromium
def test_a_source_block_s_ignore_outliers_is_the_drawn_chart_s(tmp_path, browser, torch_writer):
    w = torch_writer("spiky")
    for step in range(100):
        value = 1e6 if step == 50 else float(step)
        w.add_scalar("a", value, step)
        w.add_scalar("b", value, step)
    w.close()
    post = tmp_path / "post.md"
    post.write_text(
        "```tbreport\nchart: a\nsmoothing: 0.9\nignore_outliers: false\n```\n\n"
        "```tbreport\nchart: b\nsmoothing: 0.9\n```\n"
    )
    result = _build(tmp_path / "logs", tmp_path / "out", source=str(post))
    assert [c.tag for c in result.report.charts] == ["a", "b"]
    page = Watched(browser, (tmp_path / "out" / "index.html").resolve().as_uri())
    try:
        highs = {}
        for tag in ("a", "b"):
            page.drawn(tag)
            highs[tag] = page.page.evaluate("(t) => tbreport.plotted(t).y[1]", tag)
        assert highs["a"] >= 1e6 > highs["b"]  # a's range holds the spike; b leaves it out
        assert not page.problems, page.problems
    finally:
        page.close()


@pytest.mark.real_tools
@pytest.mark.skipif(
    "not (sitecheck.have_jekyll() and sitecheck.have_chromium())", reason="no jekyll"
)
def test_interactive_jekyll_post_draws_its_charts(tmp_path, browser):
    from test_real_tools import HOSTILE_RUNS, _post_page, _site
    from torch.utils.tensorboard import SummaryWriter

    root = tmp_path / "runs"
    for r, name in enumerate(HOSTILE_RUNS[:2]):
        w = SummaryWriter(log_dir=str(root / name))
        for step in range(20):
            w.add_scalar("loss/{{ x }}", step * (r + 1), step)
        w.close()
    site = _site(tmp_path, "minima")
    date = "2021-05-24 20:41:00 -0400"
    plain = _build(root, tmp_path / "plain", format="jekyll", date=date)
    assert "<script" not in (tmp_path / "plain" / plain.main).read_text()  # default: images
    result = _build(root, site, format="jekyll", date=date, interactive=True)
    post = (site / result.main).read_text()
    assert (
        post.count('class="tbr-chart"') == len(result.report.charts) == post.count('<img src="{{')
    )
    built = sitecheck.jekyll_build(site, dest=tmp_path / "_site", baseurl="/repo")
    assert built.ok, built
    slug = re.sub(r"^\d{4}-\d\d-\d\d-|\.md$", "", Path(result.main).name)
    page_file = _post_page(tmp_path / "_site", slug)
    with sitecheck.serve_dir(tmp_path / "_site", baseurl="/repo") as base:
        url = base + page_file.relative_to(tmp_path / "_site").as_posix()
        context = browser.new_context()
        try:
            page = context.new_page()
            problems: list[str] = []
            # the browser's own /favicon.ico lies outside the baseurl: not the page's request
            page.on(
                "response",
                lambda r: (
                    r.status >= 400
                    and not r.url.endswith("/favicon.ico")
                    and problems.append(f"{r.url}: {r.status}")
                ),
            )
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(url)
            page.evaluate("(t) => tbreport.render(t)", result.report.charts[0].tag)
            drawn = page.locator(".tbr-chart[data-tbreport-state=drawn]")
            assert drawn.count() == 1
            assert drawn.get_attribute("data-tbreport-tag") == result.report.charts[0].tag
            # the legend's swatches are styled by the post's own stylesheet (no report.css
            # there), and the chart offers its plotted data once: the post's link to the file
            size = drawn.locator(".tbr-legend .swatch").first.evaluate(
                "s => [s.getBoundingClientRect().width, s.getBoundingClientRect().height]"
            )
            assert size[0] > 4 and size[1] > 4, size
            first = page.locator(".tbr-chart").first.locator("xpath=..")
            assert first.get_by_text("Plotted data (CSV)").count() == 1
            assert page.evaluate("window.__pwned") is None and not problems, problems
        finally:
            context.close()
