"""Sweeps that stay readable: 10, 38 and 200 runs written by torch's SummaryWriter; distinct
legend entries, colour by rank or by a hyperparameter, runs tables ranked by the primary
metric and collapsed (HTML, Jekyll, Markdown), and in Chromium and real Jekyll the legend
summary, the colours and the runs table's pages, filter and sort."""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import sitecheck
from conftest import DATE

from tbreport.charts.figure import legend_lines
from tbreport.options import make_options
from tbreport.pipeline import build

N_RUNS = 200
LRS = (0.1, 0.03, 0.01, 0.003, 0.001)
STEPS = 4


def _name(i: int) -> str:
    return f"r{i:03d}_lr{LRS[i % len(LRS)]}_seed{i // len(LRS)}"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> tuple[Path, dict[str, float], dict[str, float]]:
    """200 runs with hparams (lr varies, seed varies, opt the same everywhere); returns the
    logdir and each run's last val/loss and val/acc as logged (float32)."""
    from torch.utils.tensorboard import SummaryWriter

    root = tmp_path_factory.mktemp("sweep") / "runs"
    rng = np.random.default_rng(11)
    loss_rank, acc_rank = rng.permutation(N_RUNS), rng.permutation(N_RUNS)
    losses, accs = {}, {}
    for i in range(N_RUNS):
        name = _name(i)
        w = SummaryWriter(log_dir=str(root / name))
        final_loss, final_acc = 0.1 + loss_rank[i] / 1000, 0.5 + acc_rank[i] / 1000
        for step in range(STEPS):
            w.add_scalar("val/loss", final_loss + (STEPS - 1 - step) * 0.1, step)
            w.add_scalar("val/acc", final_acc - (STEPS - 1 - step) * 0.05, step)
        w.add_hparams(
            {"lr": LRS[i % len(LRS)], "seed": i // len(LRS), "opt": "adam"}, {"hp/final": 1.0}
        )
        w.close()
        losses[name] = float(np.float32(final_loss))
        accs[name] = float(np.float32(final_acc))
    return root, losses, accs


@pytest.fixture(scope="module")
def sweep_markdown(sweep, tmp_path_factory) -> str:
    """The default Markdown summary of the 200 runs (the tests using it only read it)."""
    out = tmp_path_factory.mktemp("sweep-md")
    result = build(_options(sweep[0], out, format="markdown"))
    return (out / result.main).read_text()


def _options(root: Path, out: Path, config: dict | None = None, **kw):
    cli = {"runs_dir": str(root), "out": str(out), "date": DATE, "quiet": True, "jobs": 1, **kw}
    return make_options(cli, config or {}, None)


def _subset(n: int) -> str:
    return "^r(" + "|".join(f"{i:03d}" for i in range(n)) + ")_"


def _luminance(hex_color: str) -> float:
    r, g, b = (int(hex_color[k : k + 2], 16) / 255 for k in (1, 3, 5))
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _report(root, tmp_path, **kw):
    from tbreport.read import read_logdir
    from tbreport.report import build_report

    return build_report(read_logdir(str(root)), _options(root, tmp_path / "o", **kw))


def _watched_page(browser):
    """A new page and the list its errors and console warnings are added to."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: m.type in ("error", "warning") and problems.append(m.text))
    return page, problems


def _loss_chart(report):
    return next(c for c in report.scalar_charts if c.tag == "val/loss")


@pytest.mark.parametrize("n", [10, 38, 200])
@pytest.mark.parametrize("colour_by", [None, "lr"])
def test_no_two_legend_entries_look_the_same(sweep, tmp_path, n, colour_by):
    root, _, accs = sweep
    report = _report(root, tmp_path, runs=_subset(n), colour_by=colour_by)
    for chart in report.scalar_charts:
        entries = legend_lines(chart.lines)
        assert len(entries) == n
        looks = {(line.color, "dashed" if line.dashed else line.style) for line in entries}
        assert len(looks) == n, f"{n} runs, colour by {colour_by}: entries look the same"
    chart = _loss_chart(report)
    lines = {line.run: line for line in chart.lines}
    if colour_by is None and n == 10:
        # the colour-blind-safe palette holds 10 runs: distinct colours, all solid
        assert len({line.color for line in lines.values()}) == 10
        assert {line.style for line in lines.values()} == {"solid"}
    elif colour_by is None:
        # past the palette, colour is the rank by the primary metric, val/acc (the first tag
        # with a direction): best (highest) darkest
        ranked = sorted(lines, key=lambda r: -accs[r])
        lum = [_luminance(lines[r].color) for r in ranked]
        assert lum == sorted(lum) and lum[0] < lum[-1]
    else:
        # colour is the learning rate on a log scale: one colour per value, darker for lower
        lr_of = {r: float(re.search(r"_lr([\d.]+)_", r)[1]) for r in lines}
        solid = {lr_of[r]: lines[r].color for r in lines if lines[r].style == "solid"}
        assert sorted(solid, key=lambda lr: _luminance(solid[lr])) == sorted(solid)
        scale = chart.color_scale
        assert scale is not None and scale.name == "lr" and scale.log
        assert (scale.low, scale.high) == (min(lr_of.values()), max(lr_of.values()))


def test_colour_by_a_hyperparameter_no_run_has_is_an_error(sweep, tmp_path):
    from tbreport.report import ColourByError

    with pytest.raises(ColourByError, match="--colour-by 'opt': no run has a numeric value"):
        _report(sweep[0], tmp_path, runs=_subset(10), colour_by="opt")


def test_colour_by_draws_a_colour_bar_under_the_legend(sweep, tmp_path):
    import io
    from dataclasses import replace

    from PIL import Image

    from tbreport.kinds.scalars.chart import COLORBAR_IN, draw_chart

    report = _report(sweep[0], tmp_path, runs=_subset(38), colour_by="lr")
    chart = _loss_chart(report)
    with_bar = Image.open(io.BytesIO(draw_chart(chart, "png", dpi=100))).convert("RGB")
    without = Image.open(
        io.BytesIO(draw_chart(replace(chart, color_scale=None), "png", dpi=100))
    ).convert("RGB")
    assert with_bar.height - without.height == round(COLORBAR_IN * 100)
    # the bar's row holds the ramp's ends: viridis' dark purple and (near) its green
    row = np.asarray(with_bar, dtype=np.int16)[-round(COLORBAR_IN * 100) :].reshape(-1, 3)
    for stop in (chart.color_scale.stops[0], chart.color_scale.stops[-1]):
        want = np.array([int(stop[k : k + 2], 16) for k in (1, 3, 5)])
        assert (np.abs(row - want).max(axis=1) <= 12).sum() > 20, stop


class _Tables(HTMLParser):
    """Rows (cell texts) of each table, and whether it sits in a <details>."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self._details = 0
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "details":
            self._details += 1
        elif tag == "table":
            self.tables.append({"attrs": dict(attrs), "rows": [], "details": self._details > 0})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "details":
            self._details -= 1
        elif tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1]["rows"][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _runs_tables(html: str) -> list[dict]:
    parser = _Tables()
    parser.feed(html[html.index('<h2 id="runs">') : html.index('<h2 id="runs">') + 10**7])
    return [t for t in parser.tables if t["rows"] and t["rows"][0][0] == "Run"]


def _name_cell(cell: str) -> str:
    return cell.split()[0]


def test_runs_tables_show_the_best_first_and_collapse_the_rest(sweep, sweep_markdown, tmp_path):
    root, _, accs = sweep
    best_first = sorted(accs, key=lambda r: -accs[r])  # val/acc: higher is better
    result = build(_options(root, tmp_path / "html", static=True))
    html = (tmp_path / "html" / "index.html").read_text()
    top, rest = _runs_tables(html)[:2]
    assert not top["details"] and rest["details"]
    head = top["rows"][0]
    # the primary metric's column, and only the hyperparameters that differ (not opt)
    assert head[:2] == ["Run", "Last val/acc (higher is better)"]
    assert head[-2:] == ["lr", "seed"] and "opt" not in head
    assert [_name_cell(r[0]) for r in top["rows"][1:]] == best_first[:20]
    assert [_name_cell(r[0]) for r in rest["rows"][1:]] == best_first[20:]
    assert "180 more runs, ranked by the last" in html
    assert result.report.primary == "val/acc"

    post_result = build(_options(root, tmp_path / "jekyll", format="jekyll"))
    post = (tmp_path / "jekyll" / post_result.main).read_text()
    start = post.index("## Runs")
    runs = post[start : post.index("\n## ", start + 1)]
    names = re.findall(r"&nbsp;(r\d{3}\\?_lr[^<]*)</span>", runs)
    assert [n.replace("\\_", "_").replace("\\.", ".") for n in names] == best_first
    before, after = runs.split('<details markdown="1">')
    assert before.count("&nbsp;r") == 20 and after.count("&nbsp;r") == 180

    md = sweep_markdown
    block = md[md.index("### Runs") : md.index("more runs, ranked lower")]
    rows = re.findall(r"^\| (r\d{3}\S*) \|", block, re.M)
    assert [n.replace("\\_", "_").replace("\\.", ".") for n in rows] == best_first[:20]
    assert "And 180 more runs, ranked lower by the last val/acc" in md


def test_the_first_gate_is_the_primary_metric(sweep, tmp_path):
    root, losses, _ = sweep
    options = _options(root, tmp_path / "md", {"gates": {"val/loss": 0.0}}, format="markdown")
    result = build(options)
    md = (tmp_path / "md" / result.main).read_text()
    block = md[md.index("### Runs") : md.index("more runs, ranked lower")]
    rows = re.findall(r"^\| (r\d{3}\S*) \| ([\d.]+) \|", block, re.M)
    best_first = sorted(losses, key=lambda r: losses[r])  # lower loss is better
    assert [n.replace("\\_", "_").replace("\\.", ".") for n, _ in rows] == best_first[:20]
    assert [float(v) for _, v in rows] == pytest.approx(
        [losses[r] for r in best_first[:20]], rel=1e-3
    )
    assert "Last val/loss (lower is better)" in md


def test_markdown_drops_the_runs_table_when_no_tag_table_fits_beside_it(
    sweep, sweep_markdown, tmp_path, monkeypatch
):
    import tbreport.formats.markdown as markdown

    root = sweep[0]
    text = sweep_markdown
    runs_block = text[text.index("### Runs") : text.index("more runs, ranked lower")]
    assert len(runs_block) > 1000
    # room for the header, the footer and the line saying what was left out; not the runs
    monkeypatch.setattr(markdown, "COMMENT_LIMIT", text.index("### Runs") + 500)
    short = build(_options(root, tmp_path / "short", format="markdown"))
    cut = (tmp_path / "short" / short.main).read_text()
    assert "### Runs" not in cut and "the runs table" in short.shortened
    assert len(cut) <= markdown.COMMENT_LIMIT and "left out" in cut


# --- real Chromium and Jekyll ----------------------------------------------------------------


def test_browser_200_runs_legend_colours_and_runs_table(sweep, tmp_path, browser):
    from tbreport.formats.interactive import page_data

    root, _, accs = sweep
    result = build(_options(root, tmp_path / "html"))
    url = (tmp_path / "html" / "index.html").resolve().as_uri()
    charts = page_data(result.report, _options(root, tmp_path))["charts"]
    payload = next(c for c in charts if c and c["tag"] == "val/loss")
    looks = {(m["color"], m.get("style", "solid")) for m in payload["lines"]}
    assert len(payload["lines"]) == len(looks) == N_RUNS
    page, problems = _watched_page(browser)
    try:
        page.goto(url)
        page.evaluate("(t) => tbreport.render(t)", "val/loss")
        box = page.locator('.tbr-chart[data-tbreport-tag="val/loss"][data-tbreport-state=drawn]')
        # the legend: 11 names and "+189 more", not 200 entries
        runs = box.locator(".tbr-run")
        assert runs.count() == N_RUNS
        assert box.locator(".tbr-run:visible").count() == 11
        more = box.locator(".tbr-more")
        assert more.inner_text() == "+189 more"
        more.click()
        assert box.locator(".tbr-run:visible").count() == N_RUNS
        # names stay on one line: each entry is one line high
        heights = box.locator(".tbr-run").evaluate_all("els => els.map(e => e.clientHeight)")
        assert max(heights) == min(heights)
        # every entry's swatch differs from every other one's (colour or line style)
        swatches = box.locator(".tbr-run .swatch").evaluate_all(
            "els => els.map(e => [getComputedStyle(e).backgroundColor,"
            " getComputedStyle(e).borderTopStyle, getComputedStyle(e).borderTopColor])"
        )
        assert len({tuple(s) for s in swatches}) == N_RUNS

        # the runs table: one table, 50 rows a page, filter and sort
        table = page.locator("table.runs[data-tbreport-state=ready]")
        assert page.locator("details.runs-more").count() == 0
        rows = table.locator("tbody tr")
        best_first = sorted(accs, key=lambda r: -accs[r])

        def names() -> list[str]:
            return [t.split()[0] for t in rows.locator("td.run").all_inner_texts()]

        assert names() == best_first[:50]
        assert page.locator(".tbr-runs-count").inner_text() == "runs 1–50 of 200"
        page.locator(".tbr-runs-bar").get_by_role("button", name="Next ›").click()
        assert names() == best_first[50:100]
        page.get_by_label("Filter runs").fill("_lr0.1_")
        want = [r for r in best_first if "_lr0.1_" in r]
        assert names() == want and len(want) == 40
        assert page.locator(".tbr-runs-count").inner_text() == "runs 1–40 of 40 (filtered from 200)"
        page.get_by_label("Filter runs").fill("")
        header = table.locator("thead th").nth(1)
        header.locator("button").click()  # ascending: lowest accuracy first
        assert names() == best_first[::-1][:50]
        assert header.get_attribute("aria-sort") == "ascending"
        header.locator("button").click()  # descending: the best first again
        assert names() == best_first[:50]
        name_header = table.locator("thead th").nth(0).locator("button")
        name_header.click()  # by name
        assert names() == sorted(accs)[:50]
    finally:
        page.close()
    assert not problems, problems


def test_browser_hparams_table_of_200_trials_is_paged_filtered_and_sorted(sweep, tmp_path, browser):
    root, _, _ = sweep
    build(_options(root, tmp_path / "html"))
    url = (tmp_path / "html" / "index.html").resolve().as_uri()
    page, problems = _watched_page(browser)
    try:
        page.goto(url)
        table = page.locator("table.hparams[data-tbreport-state=ready]")
        rows = table.locator("tbody > tr")
        bar = page.locator(".tbr-trials-bar")
        assert rows.count() == 50
        assert bar.locator(".tbr-trials-count").inner_text() == "trials 1–50 of 200"
        first_page = rows.all_inner_texts()
        bar.get_by_role("button", name="Next ›").click()
        assert rows.count() == 50 and not set(rows.all_inner_texts()) & set(first_page)
        assert bar.locator(".tbr-trials-page").inner_text() == "page 2 of 4"
        page.get_by_label("Filter trials").fill("_lr0.1_")
        texts = rows.all_inner_texts()
        assert len(texts) == 40 and all("_lr0.1_" in t for t in texts)
        page.get_by_label("Filter trials").fill("")
        heads = table.locator("thead th").all_inner_texts()
        lr = heads.index("lr")
        table.locator("thead th").nth(lr).locator("button").click()
        values = rows.evaluate_all(f"trs => trs.map(tr => +tr.cells[{lr}].textContent)")
        assert values == sorted(values) and values[0] == min(LRS)
        # the runs table's bar is its own
        assert page.locator(".tbr-runs-count").inner_text() == "runs 1–50 of 200"
    finally:
        page.close()
    assert not problems, problems
    # without scripts every trial is in the table
    context = browser.new_context(java_script_enabled=False)
    try:
        plain = context.new_page()
        plain.goto(url)
        assert plain.locator("table.hparams tbody > tr").count() == 200
    finally:
        context.close()


def test_browser_colour_bar_under_the_legend(sweep, tmp_path, browser):
    root = sweep[0]
    build(_options(root, tmp_path / "html", runs=_subset(38), colour_by="lr"))
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.goto((tmp_path / "html" / "index.html").resolve().as_uri())
        page.evaluate("(t) => tbreport.render(t)", "val/loss")
        bar = page.locator('.tbr-chart[data-tbreport-tag="val/loss"] .tbr-colorbar')
        assert bar.locator("span").all_inner_texts()[:2] == ["lr (log scale)", "0.001"]
        assert bar.locator("span").all_inner_texts()[-1] == "0.1"
        ramp = bar.locator(".tbr-ramp").evaluate("e => getComputedStyle(e).backgroundImage")
        assert ramp.startswith("linear-gradient") and "rgb(68, 1, 84)" in ramp  # viridis' start
    finally:
        page.close()
    assert not problems, problems


@pytest.mark.skipif("not sitecheck.have_jekyll()", reason="no jekyll")
def test_jekyll_200_run_post_collapses_the_runs_table(sweep, tmp_path):
    root, _, accs = sweep
    site = tmp_path / "site"
    result = build(_options(root, site, format="jekyll", categories="ml"))
    built = sitecheck.jekyll_build(site, dest=tmp_path / "_site")
    assert built.ok, built
    (page,) = [
        p for p in (tmp_path / "_site").rglob("*.html") if "r000_lr0.1_seed0" in p.read_text()
    ]
    html = page.read_text()
    tables = _runs_tables(html)
    top, rest = tables[:2]
    best_first = sorted(accs, key=lambda r: -accs[r])
    # kramdown made tables of both, the second inside the <details>
    assert not top["details"] and rest["details"]
    assert [_name_cell(r[0]) for r in top["rows"][1:]] == best_first[:20]
    assert [_name_cell(r[0]) for r in rest["rows"][1:]] == best_first[20:]
    assert "<summary>180 more runs, ranked by the last val/acc</summary>" in html
    # names are kept whole on one line, in the opening sentence and in the table
    lead = html[html.index("<p>This report compares") :].split("</p>", 1)[0]
    assert lead.count('<span style="white-space:nowrap') == 8 and "and 192 more" in lead
    assert html.count('<span style="white-space:nowrap">r') >= N_RUNS
    assert not math.isnan(float(top["rows"][1][1]))
    # each chart's table of 200 runs is collapsed too
    assert html.count("<summary>Last, min and max of 200 runs</summary>") == 2
    assert result.report.primary == "val/acc"


def test_runs_without_the_primary_metric_keep_palette_colours(tmp_path):
    """Past the palette colour is the rank by the primary metric; runs that never logged it
    have no rank. On the ramp they all landed at its light end, so a chart of only those runs
    drew every line nearly the same light green; they take the palette's colours instead."""
    from torch.utils.tensorboard import SummaryWriter

    from tbreport.report.colours import PALETTE, run_colors

    root = tmp_path / "runs"
    for i in range(20):
        w = SummaryWriter(log_dir=str(root / f"sweep_{i:02d}"))
        for step in range(3):
            w.add_scalar("val/loss", 1.0 / (step + 1 + i), step)
        w.close()
    others = [f"baseline_{k}" for k in range(6)]
    for name in others:
        w = SummaryWriter(log_dir=str(root / name))
        for step in range(3):
            w.add_scalar("probe/score", float(step), step)
        w.close()
    report = _report(root, tmp_path)
    probe = next(c for c in report.scalar_charts if c.tag == "probe/score")
    colors = {line.run: line.color for line in probe.lines}
    assert colors == run_colors(others)
    assert len(set(colors.values())) == 6 and set(colors.values()) <= set(PALETTE)
    # the ranked runs still go dark (best) to light along the ramp
    loss = next(c for c in report.scalar_charts if c.tag == "val/loss")
    ranked = sorted(loss.lines, key=lambda line: line.run, reverse=True)  # best: highest i
    lum = [_luminance(line.color) for line in ranked]
    assert lum == sorted(lum) and lum[0] < lum[-1]


#: a sweep's runs as written, and in order: by rate (decimals by value), then by seed
RATES = "lr0.1_seed0 lr0.01_seed1 lr0.001_seed2 lr0.1_seed1 lr0.01_seed0 lr0.001_seed0".split()
BY_RATE = "lr0.001_seed0 lr0.001_seed2 lr0.01_seed0 lr0.01_seed1 lr0.1_seed0 lr0.1_seed1".split()


@pytest.fixture
def rates(tmp_path) -> Path:
    import shutil

    from conftest import fixture_logdir

    root = tmp_path / "rates"
    for name in RATES:  # the quick-start article's run_1, as torch wrote it
        shutil.copytree(fixture_logdir("quickstart") / "run_1", root / name)
    return root


def test_runs_are_ordered_by_their_rates_then_seeds(rates, tmp_path):
    """Counting digits as integers (0.01 and 0.1 both "0", ".", "1") put seeds between rates."""
    from tbreport.read.discover import discover_runs

    assert [r.name for r in discover_runs(rates)[0]] == BY_RATE
    result = build(_options(rates, tmp_path / "md", format="markdown"))
    assert [run.name for run in result.report.runs] == BY_RATE


def test_browser_sorts_run_names_by_their_numbers_decimals_too(rates, tmp_path, browser):
    build(_options(rates, tmp_path / "html"))
    page, problems = _watched_page(browser)
    try:
        page.goto((tmp_path / "html" / "index.html").resolve().as_uri())
        table = page.locator("table.runs[data-tbreport-state=ready]")
        names = table.locator("tbody > tr > td:first-child")
        head = table.locator("thead th").first.locator("button")
        head.click()  # by name
        shown = [n.strip() for n in names.all_inner_texts()]
        if shown != BY_RATE:  # the first click may sort descending
            head.click()
            shown = [n.strip() for n in names.all_inner_texts()]
        assert shown == BY_RATE
        head.click()
        assert [n.strip() for n in names.all_inner_texts()] == BY_RATE[::-1]
    finally:
        page.close()
    assert not problems, problems
