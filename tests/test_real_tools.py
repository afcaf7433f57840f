"""Generated output checked by the real tools: Debian's Jekyll and headless Chromium.

The runs have hostile names: Liquid, HTML, Markdown and YAML syntax, quotes, pipes, emoji,
bidirectional controls, a NUL, @mentions and URLs.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
import sitecheck

from tbreport.options import make_options
from tbreport.pipeline import build

pytestmark = []

DATE = "2021-05-24 20:41:00 -0400"
HOSTILE_RUNS = [
    "run {{ x }} | \"q\" 'q' 🚀 Résumé",
    "{% raw %}<img src=x onerror=window.__pwned=1>",
    "{% endraw %}{%d} $$x$$",
    "\u202eevil\u202c @octocat \u2066www.evil.example\u2069 \u200f",
]
HOSTILE_TAGS = [
    "loss/{{ x }}",
    "acc|{% raw %}|",
    "<script>window.__pwned=1</script>",
    "$$x$$ *a* _b_ [l](javascript:alert(1))",
    "emoji/🚀 Résumé \"q\" {{'a': 1}}",
    "nul/a\x00b\u202egnp.exe @org/team https://evil.example/x \u061c\u200e",
]
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def _drawn(result) -> list:
    """The elements shown with an image: not the tables of one-point tags or of a single trial."""
    from tbreport.model import FinalValues

    return [
        e
        for e in result.report.charts
        if not isinstance(e, FinalValues) and getattr(e, "parallel", True)
    ]


def shown(name: str) -> str:
    """How a name must read on the page: bidi controls gone, a NUL as its control picture."""
    return BIDI.sub("", name).replace("\x00", "\u2400")


HOSTILE_HPARAM = "{{ site.title }}<script>window.__pwned=1</script>|{% raw %}"


@pytest.fixture(scope="module")
def hostile_logdir(tmp_path_factory):
    from torch.utils.tensorboard import SummaryWriter

    root = tmp_path_factory.mktemp("hostile") / "runs"
    for r, name in enumerate(HOSTILE_RUNS):
        w = SummaryWriter(log_dir=str(root / name))
        for step in range(30):
            for t, tag in enumerate(HOSTILE_TAGS):
                w.add_scalar(tag, (step + 1) * (r + 1) + t, step)
        w.close()
    w = SummaryWriter(log_dir=str(root / HOSTILE_RUNS[0]))
    w.add_hparams({"opt": HOSTILE_HPARAM, "lr": 0.1}, {"hparam/acc": 0.5}, run_name="hp")
    w.close()
    return root


def _build(logdir: Path, out: Path, **kw):
    cli = {
        "runs_dir": str(logdir),
        "out": str(out),
        "date": DATE,
        "quiet": True,
        "title": 'Hostile {{ x }} {% raw %} "report" 🚀',
    }
    cli.update(kw)
    return build(make_options(cli, {}, None))


PLAIN_LAYOUT = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ page.title | escape }}</title></head>
<body><h1 class="post-title">{{ page.title | escape }}</h1>{{ content }}</body></html>
"""


def _site(tmp_path: Path, flavour: str) -> Path:
    site = tmp_path / flavour
    if flavour == "plain":
        (site / "_layouts").mkdir(parents=True)
        (site / "_config.yml").write_text('title: "plain"\nbaseurl: ""\n')
        (site / "_layouts" / "post.html").write_text(PLAIN_LAYOUT)
        (site / "_layouts" / "default.html").write_text(PLAIN_LAYOUT)
    return site  # "minima": tbreport scaffolds a new site itself


def _post_page(dest: Path, slug: str) -> Path:
    (page,) = [p for p in dest.rglob(f"{slug}.html")]
    return page


@pytest.mark.skipif("not sitecheck.have_jekyll()", reason="Debian's jekyll is not installed")
@pytest.mark.parametrize("flavour", ["plain", "minima"])
def test_jekyll_builds_hostile_post_cleanly(tmp_path, hostile_logdir, flavour):
    site = _site(tmp_path, flavour)
    result = _build(
        hostile_logdir, site, format="jekyll", permalink="/:categories/:title:output_ext"
    )
    post_src = site / result.main
    slug = re.sub(r"^\d{4}-\d\d-\d\d-|\.md$", "", Path(result.main).name)
    built = sitecheck.jekyll_build(site, dest=tmp_path / f"{flavour}_site", baseurl="/repo")
    assert built.ok, built
    page = _post_page(tmp_path / f"{flavour}_site", slug)
    assert page.relative_to(tmp_path / f"{flavour}_site").as_posix() == f"ml/reports/{slug}.html"
    text = page.read_text()
    # every image and data file the post references exists in _site under the baseurl
    refs = re.findall(r'(?:src|href)="(/repo/assets/images/[^"]+)"', text)
    # every element has its data file; tables (one-point tags, a single hparams trial) no image
    assert len(refs) == len(result.report.charts) + len(_drawn(result))
    assert len(result.report.charts) == len(HOSTILE_TAGS) + 2
    for ref in refs:
        assert (tmp_path / f"{flavour}_site" / ref.removeprefix("/repo/")).is_file(), ref
    # names show up literally: Liquid did not eat them, HTML did not run them
    plain = html.unescape(re.sub(r"<[^>]+>", "", text))
    assert not BIDI.search(text) and "\x00" not in text
    for name in map(shown, HOSTILE_RUNS + HOSTILE_TAGS):
        assert name.replace('"', "").replace("'", "") in plain.replace('"', "").replace(
            "'", ""
        ).replace("“", "").replace("”", "").replace("‘", "").replace("’", ""), name
    assert "<script>window.__pwned" not in text
    assert "{%" in post_src.read_text()  # the escaping really was exercised


@pytest.mark.skipif(
    "not (sitecheck.have_jekyll() and sitecheck.have_chromium())",
    reason="jekyll or chromium missing",
)
def test_jekyll_post_in_chromium(tmp_path, hostile_logdir):
    site = _site(tmp_path, "minima")
    result = _build(hostile_logdir, site, format="jekyll")
    slug = re.sub(r"^\d{4}-\d\d-\d\d-|\.md$", "", Path(result.main).name)
    dest = tmp_path / "_site"
    built = sitecheck.jekyll_build(site, dest=dest, baseurl="/repo")
    assert built.ok, built
    page = _post_page(dest, slug)
    with sitecheck.serve_dir(dest, baseurl="/repo") as base:
        report = sitecheck.open_in_chromium(base + page.relative_to(dest).as_posix())
    assert not report.problems, report.problems
    assert not report.pwned
    charts = [i for i in report.images if "/assets/images/" in i.src]
    assert len(charts) == len(_drawn(result))
    assert all(i.complete and i.natural_width > 0 for i in charts), charts


@pytest.mark.skipif("not sitecheck.have_chromium()", reason="chromium is not installed")
@pytest.mark.parametrize("image_format", ["png", "svg"])
def test_html_report_in_chromium_from_file_url(tmp_path, hostile_logdir, image_format):
    # --static: the script-free report (the interactive one: tests/test_interactive.py)
    result = _build(hostile_logdir, tmp_path / "report", image_format=image_format, static=True)
    index = tmp_path / "report" / result.main
    report = sitecheck.open_in_chromium(index.resolve().as_uri())
    assert not report.problems, report.problems
    assert not report.pwned
    # no control reorders or hides text; every run and tag is shown isolated in <bdi>
    assert not BIDI.search(report.text) and "\x00" not in report.text
    for name in map(shown, HOSTILE_RUNS + HOSTILE_TAGS):
        assert name in report.isolated, name
    assert len(report.images) == len(_drawn(result))
    assert all(i.complete and i.natural_width > 0 for i in report.images)
    text = index.read_text()
    assert "<script" not in text.lower()
    assert html.escape(HOSTILE_HPARAM, quote=False) in text


@pytest.mark.skipif("not sitecheck.have_jekyll()", reason="Debian's jekyll is not installed")
@pytest.mark.parametrize(
    ("date", "day", "zone"),
    [
        ("2021-05-24 20:41:00 -0400", "2021/05/24", "Etc/GMT+4"),  # the article's: late evening
        ("2021-05-24 01:30:00 +0530", "2021/05/24", "<+0530>-05:30"),  # early morning, east
    ],
)
def test_scaffolded_site_keeps_the_posts_date(tmp_path, date, day, zone):
    # Jekyll builds in UTC unless told: 20:41 -0400 would be published under 2021/05/25
    from tbreport.demo import write_quickstart_runs

    write_quickstart_runs(tmp_path / "runs")
    options = {"runs_dir": str(tmp_path / "runs"), "out": str(tmp_path / "blog")}
    result = build(
        make_options({**options, "format": "jekyll", "date": date, "quiet": True}, {}, None)
    )
    assert f'timezone: "{zone}"' in (tmp_path / "blog" / "_config.yml").read_text()
    built = sitecheck.jekyll_build(tmp_path / "blog", dest=tmp_path / "_site")
    assert built.ok, built
    slug = re.sub(r"^\d{4}-\d\d-\d\d-|\.md$", "", Path(result.main).name)
    (page,) = (tmp_path / "_site").rglob(f"{slug}.html")
    assert page.relative_to(tmp_path / "_site").as_posix() == f"ml/reports/{day}/{slug}.html"
    assert "May 24, 2021" in page.read_text()
