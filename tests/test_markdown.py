"""Markdown for pull requests and job summaries: GFM tables, size caps, marker, hostile names."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import cmarkgfm
import pytest
from click.testing import CliRunner
from conftest import build_options, fixture_logdir

from tbreport.cli import main
from tbreport.formats import context as _context
from tbreport.formats import figures as _figures
from tbreport.formats.markdown import COMMENT_LIMIT, SUMMARY_LIMIT, render_summary
from tbreport.pipeline import build
from tbreport.read import read_logdir
from tbreport.report import build_report

DATE = "2021-05-24 20:41:00 -0400"


def gfm(text: str) -> str:
    # GitHub's own renderer (cmark-gfm) with raw HTML let through, to see everything we emit
    return cmarkgfm.github_flavored_markdown_to_html(
        text, options=cmarkgfm.Options.CMARK_OPT_UNSAFE
    )


class _Tables(HTMLParser):
    """Tables, rows and cells of rendered HTML, and every element seen."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.tags: list[tuple[str, dict]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> _Tables:
    p = _Tables()
    p.feed(html)
    return p


def _options(tmp_path, **kw):
    return build_options(tmp_path / "md", **{"format": "markdown", **kw})


def test_markdown_tables_render_as_tables(tmp_path):
    build(_options(tmp_path, baseline="run_1"))
    text = (tmp_path / "md" / "report.md").read_text()
    assert text.startswith("<!-- tbreport: report -->\n")
    tables = parse(gfm(text)).tables
    assert len(tables) == 3  # comparison + one per tag
    assert all(len(row) == 9 for row in tables[0])
    # run, sparkline of the smoothed series (no image host given), last, best, points
    assert all(len(row) == 5 for t in tables[1:] for row in t)
    assert "data:" not in text and "![" not in text  # no image host given: no images at all
    assert sorted(p.name for p in (tmp_path / "md").iterdir()) == [
        ".tbreport-manifest.json",
        "report.md",
    ]


def test_images_only_with_a_base_url(tmp_path):
    build(_options(tmp_path, image_base_url="https://owner.github.io/repo/pr/7"))
    text = (tmp_path / "md" / "report.md").read_text()
    urls = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert urls == [
        "https://owner.github.io/repo/pr/7/tutorial-line.png",
        "https://owner.github.io/repo/pr/7/tutorial-poly.png",
    ]
    for url in urls:
        assert (tmp_path / "md" / url.rsplit("/", 1)[1]).read_bytes().startswith(b"\x89PNG")
    assert "data:" not in text


@pytest.mark.parametrize(
    "url", ["https://h/pr/1?raw=true", "https://h/pr/1#x", "https://", "https:///pr/1", "ftp://h/x"]
)
def test_an_image_base_url_that_is_no_folder_is_refused(tmp_path, url):
    # the file names are appended: a query or fragment would swallow them, no host has no images
    result = CliRunner().invoke(
        main,
        ["build", str(fixture_logdir("quickstart")), "--format", "markdown", "--out",
         str(tmp_path / "md"), "--image-base-url", url],
    )  # fmt: skip
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert result.output == (
        "Error: --image-base-url: image base URL must be an http(s) URL of a folder, with a host "
        f"and without spaces, quotes, brackets, query (?) or fragment (#), not {url!r}.\n"
    )
    assert not (tmp_path / "md").exists()


def test_without_images_each_tag_table_has_a_sparkline_of_the_smoothed_series(tmp_path):
    build(_options(tmp_path))
    tables = parse(gfm((tmp_path / "md" / "report.md").read_text())).tables
    line, poly = tables  # tutorial/line, tutorial/poly
    assert line[0][1] == "Trend"
    trends = {row[0]: row[1] for row in line[1:]}
    # both runs rise steadily on one scale: run_1 (2n) ends higher than run_2 (1.5n - 5)
    for trend in trends.values():
        assert len(trend) == 16 and set(trend) <= set(
            "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"
        )
        assert list(trend) == sorted(trend)
    assert trends["run_1"][-1] == "\u2588" and trends["run_2"][-1] < "\u2588"
    # n**2 - 100 n falls to its minimum at n = 50 and comes back
    dip = {row[0]: row[1] for row in poly[1:]}["run_2"]
    assert dip[0] > min(dip) < dip[-1] and dip[7] == min(dip)
    build(_options(tmp_path, image_base_url="https://owner.github.io/repo/pr/7"))
    hosted = parse(gfm((tmp_path / "md" / "report.md").read_text())).tables
    assert all("Trend" not in t[0] for t in hosted)


def test_marker_id_is_configurable_and_checked(tmp_path):
    build(_options(tmp_path, marker_id="pr-42.loss"))
    assert (tmp_path / "md" / "report.md").read_text().startswith("<!-- tbreport: pr-42.loss -->\n")
    result = CliRunner().invoke(
        main,
        [
            "build",
            str(fixture_logdir("quickstart")),
            "--format",
            "markdown",
            "--out",
            str(tmp_path / "x"),
            "--marker-id",
            "a -->",
        ],
    )
    assert result.exit_code == 2 and "may use only letters" in result.output


def test_hostile_names_cannot_inject_html_or_break_tables(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    runs = tmp_path / "runs"
    names = ["a|b <img src=x onerror=alert(1)>", "c {{ x }} `code` | [l](javascript:alert(1))"]
    tags = ["x|y/<script>alert(1)</script>", "loss|**bold**|", "acc\\|pipe"]
    for name in names:
        w = SummaryWriter(log_dir=str(runs / name))
        for s in range(5):
            for t in tags:
                w.add_scalar(t, s, s)
        w.close()
    build(_options(tmp_path, runs_dir=str(runs), baseline="^a"))
    text = (tmp_path / "md" / "report.md").read_text()
    parsed = parse(gfm(text))
    assert not [
        t
        for t, a in parsed.tags
        if t in ("script", "img", "a") or any(k.startswith("on") for k in a)
    ]
    for table in parsed.tables:
        assert len({len(row) for row in table}) == 1, table
    cells = [c for t in parsed.tables for row in t for c in row]
    assert any(names[0] in c for c in cells) and any(tags[0] in c for c in cells)


def _big_report(tmp_path, ntags: int, job_summary: bool, image_base_url: str | None):
    from torch.utils.tensorboard import SummaryWriter

    runs = tmp_path / "many"
    if not runs.exists():
        for r in range(3):
            w = SummaryWriter(log_dir=str(runs / f"run_{r}"))
            for s in range(3):
                for t in range(ntags):
                    w.add_scalar(f"group_{t % 7}/metric_{t:04d}_loss", r + s + t, s)
            w.close()
    opts = _options(
        tmp_path,
        runs_dir=str(runs),
        baseline="run_0",
        job_summary=job_summary,
        image_base_url=image_base_url,
    )
    logdir = read_logdir(runs)
    from tbreport.report import with_baseline

    logdir, baseline, pairs = with_baseline(logdir, opts)
    report = build_report(logdir, opts, baseline=baseline, pairs=pairs)
    figures = _figures(report, ["" for _ in report.charts], ["" for _ in report.charts])
    return render_summary(report, opts, figures, _context(report, opts, figures), "png")


@pytest.mark.parametrize("job_summary", [False, True])
def test_size_caps_drop_whole_blocks_in_order(tmp_path, job_summary, monkeypatch):
    if job_summary:
        # the same logic with the byte limit of job summaries, scaled down to this logdir
        monkeypatch.setattr("tbreport.formats.markdown.SUMMARY_LIMIT", 80_000)
    summary = _big_report(tmp_path, 200, job_summary, "https://o.github.io/r/pr/1")
    text = summary.text
    size = len(text.encode()) if job_summary else len(text)
    assert size <= (80_000 if job_summary else COMMENT_LIMIT)
    assert summary.dropped[0] == "chart images"
    assert "![" not in text
    assert "Shortened to fit" in text and summary.dropped[-1] in text
    parsed = parse(gfm(text))
    for table in parsed.tables:  # every table is whole: header, then rows of equal width
        assert len({len(row) for row in table}) == 1
    # the tag tables kept are the first ones, in order, each complete
    headings = re.findall(r"^### (.+)$", text, re.M)
    m = re.search(r"(\d+) of 200 tag tables", text)
    left_out = int(m.group(1)) if m else 0
    assert 0 < left_out < 200 and len(headings) == 200 - left_out
    assert headings[0] == "group\\_0/metric\\_0000\\_loss"
    # the comparison table stays whole when it fits
    assert "comparison table" not in text and len(parsed.tables[0]) == 1 + 2 * 200


def test_a_comparison_too_big_keeps_its_changed_rows_whole(tmp_path):
    summary = _big_report(tmp_path, 700, False, None)
    assert (
        summary.dropped[-2:]
        == ("unchanged and not judged tags from the comparison table", "700 of 700 tag tables")
        or "unchanged and not judged tags from the comparison table" in summary.dropped
    )
    parsed = parse(gfm(summary.text))
    comparison = parsed.tables[0]
    assert len({len(row) for row in comparison}) == 1
    tags = {row[0] for row in comparison[1:]}
    rows_by_tag = {}
    for row in comparison[1:]:
        rows_by_tag.setdefault(row[0], []).append(row[1].split()[-1])
    # only tags with a change are left, each with all its rows
    assert tags and all("worse" in v or "better" in v for v in rows_by_tag.values())
    assert all(len(v) == 2 for v in rows_by_tag.values())
    assert len(summary.text) <= COMMENT_LIMIT


def test_job_summary_cap_is_larger_than_a_comment(tmp_path):
    summary = _big_report(tmp_path, 700, True, "https://o.github.io/r/pr/1")
    assert summary.dropped == ()
    assert COMMENT_LIMIT < len(summary.text.encode()) <= SUMMARY_LIMIT
    assert summary.text.count("![") == 700


def test_small_report_is_not_shortened(tmp_path):
    summary = _big_report(tmp_path, 20, False, "https://o.github.io/r/pr/1")
    assert summary.dropped == () and "Shortened" not in summary.text
    assert summary.text.count("![") == 20


def test_job_summary_appends_to_github_step_summary(tmp_path, monkeypatch):
    target = tmp_path / "step_summary.md"
    target.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    result = CliRunner().invoke(
        main,
        [
            "build",
            str(fixture_logdir("quickstart")),
            "--format",
            "markdown",
            "--out",
            str(tmp_path / "md"),
            "--job-summary",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert text.startswith("earlier step\n<!-- tbreport: report -->")
    assert text.endswith((tmp_path / "md" / "report.md").read_text())


@pytest.mark.parametrize("where", ["missing/summary.md", "."])
def test_an_unwritable_step_summary_is_an_error_naming_it(tmp_path, where):
    target = tmp_path / where
    result = CliRunner(env={"GITHUB_STEP_SUMMARY": str(target)}).invoke(
        main,
        [
            "build", str(fixture_logdir("quickstart")), "--format", "markdown",
            "--job-summary", "--out", str(tmp_path / "md"), "-q",
        ],
    )  # fmt: skip
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert f"$GITHUB_STEP_SUMMARY '{target}'" in result.output
    assert (tmp_path / "md" / "report.md").is_file()  # the report itself was written


@pytest.mark.parametrize("job_summary", [False, True])
def test_a_source_post_over_githubs_limit_is_an_error_in_the_limits_unit(tmp_path, job_summary):
    # "wörd€ " is 6 characters, 9 bytes: a job summary's limit counts bytes, a comment's characters
    words = 12_000 if not job_summary else 120_000
    post = tmp_path / "post.md"
    post.write_text("# Post\n\n" + "wörd€ " * words + "\n", encoding="utf-8")
    args = ["build", str(fixture_logdir("quickstart")), "--format", "markdown", "--source",
            str(post), "--out", str(tmp_path / "md"), "-q"]  # fmt: skip
    args += ["--job-summary"] if job_summary else []
    result = CliRunner(env={"GITHUB_STEP_SUMMARY": ""}).invoke(main, args)
    assert result.exit_code == 2, result.output
    unit, what, limit = (
        ("bytes", "job summary", "1,048,576")
        if job_summary
        else ("characters", "comment", "65,000")
    )
    size = re.search(
        r"the post is ([\d,]+) (\w+), over GitHub's (.+) limit of ([\d,]+);", result.output
    )
    assert size is not None and size.group(2, 3, 4) == (unit, what, limit), result.output
    assert int(size.group(1).replace(",", "")) > int(limit.replace(",", ""))
    # the bytes of 9-byte words, more than the 6 characters each would count
    assert job_summary is False or int(size.group(1).replace(",", "")) > 9 * words > 1_048_576
