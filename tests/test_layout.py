"""The HTML report's layout in real Chromium: a grid of charts by screen width, run names whole."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sitecheck import chromium_path

from tbreport.options import make_options
from tbreport.pipeline import build

pytestmark = pytest.mark.skipif(chromium_path() is None, reason="needs Debian's chromium")

LONG = "lr_0.001_seed{}_resnet50_augmented_with_a_long_name"


@pytest.fixture(scope="module")
def report(tmp_path_factory, request):
    from tensorboardX import SummaryWriter

    root = tmp_path_factory.mktemp("layout")
    for r in range(3):
        w = SummaryWriter(str(root / "logs" / LONG.format(r)))
        for s in range(20):
            for tag in ("train/loss", "train/acc", "train/lr", "val/loss"):
                w.add_scalar(tag, 1.0 / (s + 1 + r), s)
        w.close()
    options = make_options(
        {"runs_dir": str(root / "logs"), "out": str(root / "site"), "quiet": True,
         "date": "2021-05-24 20:41:00 -0400"}, {}, None,
    )  # fmt: skip
    build(options)
    return root / "site" / "index.html"


def _layout(path, width: int) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path())
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(path.as_uri())
        out = page.evaluate(
            """() => {
            const first = document.querySelectorAll('main section')[0];
            const tops = [...first.querySelectorAll('figure')]
                .map(f => Math.round(f.getBoundingClientRect().top));
            const cells = [...document.querySelectorAll('table.runs td.run')];
            const lines = c => {
                const range = document.createRange();
                range.selectNodeContents(c.querySelector(".swatch").nextSibling);
                return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
            };
            return {
                firstRow: tops.filter(t => t === tops[0]).length,
                runNameLines: cells.map(lines),
                pageWidth: document.documentElement.scrollWidth,
                toc: [...document.querySelectorAll('nav.toc a')].map(a => a.textContent),
                headers: [...document.querySelectorAll('table.runs th')].map(t => t.textContent),
            };
        }"""
        )
        browser.close()
    return out


def test_charts_in_columns_on_a_wide_screen_and_one_on_a_phone(report):
    wide = _layout(report, 1400)
    phone = _layout(report, 400)
    assert wide["firstRow"] == 3 and phone["firstRow"] == 1
    # the runs differ only by their seed: a note (ungrouped-seeds) suggests --group
    assert wide["toc"] == ["train", "val", "Data notes"]
    for view in (wide, phone):
        # a run name is one line (the table scrolls sideways instead), and the page never does
        assert view["runNameLines"] == [1, 1, 1]
        assert view["pageWidth"] <= (1400 if view is wide else 400)


def test_runs_table_keeps_to_columns_that_carry_information(report):
    # tensorboardX logs no hyperparameters here: no column of dashes
    assert _layout(report, 1400)["headers"] == ["Run", "Steps", "Points", "Duration", "Started"]


def _build(root: Path, out: str = "site", **options: str) -> Path:
    """Build ``root/logs`` into ``root/out`` (the article's date; ``options`` as on the command
    line) and return that folder."""
    cli = {"runs_dir": str(root / "logs"), "out": str(root / out), "quiet": True,
           "date": "2021-05-24 20:41:00 -0400", **options}  # fmt: skip
    build(make_options(cli, {}, None))
    return root / out


def _build_site(root: Path) -> Path:
    """The HTML report of ``root/logs`` in ``root/site``, drawn by its script alone."""
    return _build(root, fallback="none") / "index.html"


@pytest.fixture(scope="module")
def long_report(tmp_path_factory):
    """60 tags in 6 sections of 10: past the first 24 charts, sections are folded."""
    from tensorboardX import SummaryWriter

    root = tmp_path_factory.mktemp("long")
    w = SummaryWriter(str(root / "logs" / "run"))
    for s in range(5):
        for section in range(6):
            for t in range(10):
                w.add_scalar(f"s{section}/metric_{section}_{t}", float(s * t), s)
    w.close()
    return _build_site(root)


def test_a_long_report_folds_its_later_sections(long_report):
    from playwright.sync_api import sync_playwright

    html = long_report.read_text()
    # sections start at charts 0, 10, 20 (open) and 30, 40, 50 (folded: 24 charts above them)
    assert html.count('<details class="tbr-fold">') == 3
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path())
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(long_report.as_uri())
        state = """() => [...document.querySelectorAll('main section')].map(s => {
            const d = s.querySelector('details.tbr-fold'); return d ? d.open : null; })"""
        assert page.evaluate(state) == [None, None, None, False, False, False]
        # the tag filter opens the folded section holding a match, and its chart draws
        page.evaluate("tbreport.setFilter('metric_4_7')")
        assert page.evaluate(state) == [None, None, None, None, True, False][:3] + [
            False,
            True,
            False,
        ]
        box = page.locator(".tbr-chart[data-tbreport-tag='s4/metric_4_7']")
        box.scroll_into_view_if_needed()
        page.wait_for_selector(
            ".tbr-chart[data-tbreport-tag='s4/metric_4_7'][data-tbreport-state=drawn]"
        )
        # the contents' link to a folded section opens it
        page.click("nav.toc a[href='#section-s5']")
        assert page.evaluate(state)[5] is True
        assert errors == []
        browser.close()


@pytest.fixture(scope="module")
def hparams_report(tmp_path_factory):
    """Trials with long names and eight hyperparameters, and a text summary from a run whose
    name is one 200-character word."""
    from torch.utils.tensorboard import SummaryWriter

    root = tmp_path_factory.mktemp("hparams_layout")
    for i in range(4):
        w = SummaryWriter(str(root / "logs" / f"sweep/lr0.00{i + 1}_wd0.1_seed{i}"))
        for s in range(5):
            w.add_scalar("train/loss", 1.0 / (s + 1 + i), s)
        hparams = {f"hyperparameter_{k}": 0.001 * (i + 1) * (k + 1) for k in range(8)}
        w.add_hparams(hparams, {"hparam/final_loss": 0.1 * i}, run_name=".")
        w.close()
    w = SummaryWriter(str(root / "logs" / ("L" * 200)))
    w.add_text("notes/text", "M" * 300, 0)
    w.close()
    return _build_site(root)


def test_hparams_table_and_long_words_keep_to_the_page(hparams_report):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path())
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(hparams_report.as_uri())
        out = page.evaluate(
            """() => {
            const lines = el => {
                const range = document.createRange();
                range.selectNodeContents(el);
                return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
            };
            const table = document.querySelector('table.hparams');
            const grid = table.closest('.grid');
            return {
                pageWidth: document.documentElement.scrollWidth,
                figure: Math.round(table.closest('figure').getBoundingClientRect().width),
                grid: Math.round(grid.getBoundingClientRect().width),
                trialLines: [...table.querySelectorAll('tbody tr')].map(
                    tr => lines(tr.cells[0].querySelector('.swatch').nextSibling)),
                valueLines: [...table.querySelectorAll('tbody td:not(:first-child)')].map(lines),
            };
        }"""
        )
        browser.close()
    # the trials table takes the whole row of the grid, not one 400px column of it, so a
    # trial name and each value stay on one line (it scrolls sideways when wider still)
    assert out["figure"] == out["grid"]
    assert out["trialLines"] == [1] * 4
    assert set(out["valueLines"]) == {1}
    # a run name or text that is one long word wraps instead of widening the page
    assert out["pageWidth"] <= 1200


@contextlib.contextmanager
def _jekyll_page(root: Path) -> Iterator[Any]:
    """``root/logs`` as a Jekyll post in ``root/blog``, built by real Jekyll into
    ``root/_site``, served over HTTP and open in Chromium 1000 px wide."""
    import sitecheck
    from playwright.sync_api import sync_playwright

    _build(root, "blog", format="jekyll")
    built = sitecheck.jekyll_build(root / "blog", dest=root / "_site")
    assert built.ok, built
    (post,) = (root / "_site").rglob("comparing-*.html")
    with sitecheck.serve_dir(root / "_site") as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path())
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        page.goto(base + post.relative_to(root / "_site").as_posix())
        yield page
        browser.close()


def test_jekyll_post_with_a_long_run_name_keeps_to_the_page(tmp_path):
    import sitecheck
    from torch.utils.tensorboard import SummaryWriter

    if not sitecheck.have_jekyll():
        pytest.skip("Debian's jekyll is not installed")
    for name in ("L" * 200, "short"):
        w = SummaryWriter(str(tmp_path / "logs" / name))
        for s in range(5):
            w.add_scalar("train/loss", 1.0 / (s + 1), s)
        w.close()
    with _jekyll_page(tmp_path) as page:
        lead = page.locator("p", has_text="This report compares")
        out = lead.evaluate(
            """p => ({
            right: Math.round(p.getBoundingClientRect().right),
            names: [...p.querySelectorAll('span')]
                .map(s => Math.round(s.getBoundingClientRect().right)),
            text: p.textContent,
        })"""
        )
    # the opening sentence's 200-character name is cut with an ellipsis inside the paragraph
    # (it stretched the page past 4,000 px); it is still whole in the text
    assert "L" * 200 in out["text"] and len(out["names"]) == 2
    assert max(out["names"]) <= out["right"]


def test_jekyll_tables_scroll_inside_the_post_column(tmp_path):
    """A sweep with long run names and hyperparameters in minima's 800-px column: every table
    (runs, per-tag, hparams) scrolls sideways in its own box instead of stretching the post, and
    a run's swatch, its name and its start date stay on one line each."""
    import sitecheck
    from torch.utils.tensorboard import SummaryWriter

    if not sitecheck.have_jekyll():
        pytest.skip("Debian's jekyll is not installed")
    for i in range(4):
        name = f"sweep/learning_rate_0.00{i + 1}_weight_decay_0.1_seed{i}_resnet50_augmented"
        w = SummaryWriter(str(tmp_path / "logs" / name))
        for s in range(5):
            w.add_scalar("train/loss", 1.0 / (s + 1 + i), s)
        hparams = {f"hyperparameter_{k}": 0.001 * (i + 1) * (k + 1) for k in range(6)}
        w.add_hparams(hparams, {"hparam/final_loss": 0.1 * i}, run_name=".")
        w.close()
    with _jekyll_page(tmp_path) as page:
        out = page.evaluate(
            """() => {
            const lines = el => {
                const range = document.createRange();
                range.selectNodeContents(el);
                return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
            };
            const column = document.querySelector('.post-content').getBoundingClientRect();
            const tables = [...document.querySelectorAll('.post-content table')];
            const runs = tables[0];
            const started = [...runs.querySelectorAll('th')].findIndex(
                th => th.textContent === 'Started');
            return {
                pageWidth: document.documentElement.scrollWidth,
                column: Math.round(column.right),
                tables: tables.length,
                boxes: tables.map(t => Math.round(t.parentElement.getBoundingClientRect().right)),
                scrolls: tables.map(t => t.parentElement.scrollWidth > t.parentElement.clientWidth),
                names: [...runs.querySelectorAll('tbody tr')].map(tr => lines(tr.cells[0])),
                dates: [...runs.querySelectorAll('tbody tr')].map(
                    tr => lines(tr.cells[started])),
            };
        }"""
        )
    assert out["pageWidth"] <= 1000
    assert out["tables"] >= 3
    assert max(out["boxes"]) <= out["column"]
    # the runs table (names and six hyperparameters) is wider than the column: it scrolls
    assert out["scrolls"][0]
    assert out["names"] == [1] * 4 and out["dates"] == [1] * 4


def test_a_folded_legend_shows_its_more_button_whole(tmp_path):
    """14 runs with long names: the legend shows 11 and "+3 more" on a fourth row, which the
    legend's three-row scroll box cut to a dashed sliver; it scrolls only once unfolded."""
    from playwright.sync_api import sync_playwright
    from torch.utils.tensorboard import SummaryWriter

    for i in range(14):
        w = SummaryWriter(str(tmp_path / "logs" / f"experiment_{i:02d}_with_a_longer_name"))
        for s in range(5):
            w.add_scalar("train/loss", 1.0 / (s + 1 + i), s)
        w.close()
    _build_site(tmp_path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path())
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto((tmp_path / "site" / "index.html").as_uri())
        page.evaluate("tbreport.render('train/loss')")
        box = page.locator(".tbr-legend")
        geometry = """b => {
            const more = b.querySelector('.tbr-more').getBoundingClientRect();
            const rows = new Set([...b.querySelectorAll('.tbr-run:not([hidden])')]
                .map(e => Math.round(e.getBoundingClientRect().top)));
            return {rows: rows.size, moreBottom: more.bottom,
                    boxBottom: b.getBoundingClientRect().bottom,
                    scrolls: b.scrollHeight > b.clientHeight};
        }"""
        folded = box.evaluate(geometry)
        box.locator(".tbr-more").click()
        unfolded = box.evaluate(geometry)
        browser.close()
    assert folded["rows"] >= 3  # the case that cut the button: it sits below three rows
    assert folded["moreBottom"] <= folded["boxBottom"] and not folded["scrolls"]
    assert unfolded["scrolls"]  # 14 entries: the unfolded legend scrolls within its box
