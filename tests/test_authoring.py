"""Authoring: ``tbreport build --source post.md`` and ``tbreport draft``.

A draft builds to the same bytes as the default report (every file, each format); a source with
every block kind has golden outputs; errors name the source line; names from the logs inside
blocks stay escaped while the author's own Markdown, HTML and Liquid pass through.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import DATE, fixture_logdir
from test_golden import GOLDEN, _check, _strip_data_uris
from test_golden_kinds import PARTS
from test_real_tools import HOSTILE_RUNS, HOSTILE_TAGS, hostile_logdir  # noqa: F401

from tbreport.cli import main
from tbreport.errors import SourceError
from tbreport.source import parse_source

AUTHORING = GOLDEN / "authoring"
FORMATS = ("html", "jekyll", "markdown")
KINDS_DATE = "2024-05-01 12:00:00 +0000"


def _every_kind(root: Path) -> Path:
    logs = root / "logs"
    if not logs.exists():
        for folder, fixture in PARTS.items():
            shutil.copytree(
                fixture_logdir(fixture), logs / folder, ignore=shutil.ignore_patterns("*.json")
            )
    return logs


def _run(args: list[str], ok: bool = True):
    result = CliRunner().invoke(main, args)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def _files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def _draft_and_build(logdir: Path, tmp_path: Path, fmt: str, *extra: str) -> None:
    """The default build and the build of its draft, file by file."""
    common = [str(logdir), "--format", fmt, *extra]
    draft = _run(["draft", *common]).output
    post = tmp_path / "post.md"
    post.write_text(draft)
    _run(["build", *common, "--out", str(tmp_path / "default"), "--quiet"])
    _run(["build", *common, "--out", str(tmp_path / "source"), "--quiet", "--source", str(post)])
    default, source = _files(tmp_path / "default"), _files(tmp_path / "source")
    assert sorted(default) == sorted(source)
    for name in default:
        assert default[name] == source[name], name
    return draft


@pytest.mark.parametrize(
    ("fmt", "flags"),
    [
        ("html", ()),
        ("html", ("--static",)),
        ("jekyll", ()),
        ("jekyll", ("--interactive", "--smoothing", "0", "--x-axis", "relative")),
        ("markdown", ()),
        ("markdown", ("--image-base-url", "https://example.com/pr/1/")),
    ],
)
def test_draft_of_quickstart_builds_the_default_report(tmp_path, fmt, flags):
    draft = _draft_and_build(fixture_logdir("quickstart"), tmp_path, fmt, "--date", DATE, *flags)
    assert "```tbreport\nchart: tutorial/line\n```" in draft
    assert "<!-- draft: What should the reader see in Fig 1? -->" in draft


@pytest.mark.parametrize("fmt", FORMATS)
def test_draft_of_every_kind_with_a_baseline_builds_the_default_report(tmp_path, fmt):
    logs = _every_kind(tmp_path)
    extra = ("--date", KINDS_DATE, "--baseline", "hparams/trial0$", "--title", "Every kind")
    draft = _draft_and_build(logs, tmp_path, fmt, *extra)
    for block in ("verdict: true", "hparams: true", "histograms: layer/weights",
                  "images: img/single", "text: readme/text_summary", "audio: sound/tone",
                  "pr_curves: pr/class0", "custom_scalars: "):  # fmt: skip
        assert f"```tbreport\n{block}" in draft, block
    assert ("contents: true" in draft) == (fmt == "html")


def test_draft_of_grouped_runs_builds_the_default_report(tmp_path):
    # runs without a tag in a group with runs that have it (the hparams trials' train/loss)
    logs = _every_kind(tmp_path)
    extra = ("--date", KINDS_DATE, "--group", r"trial\d", "--band", "minmax")
    draft = _draft_and_build(logs, tmp_path, "jekyll", *extra)
    assert "```tbreport\nchart: train/loss\n```" in draft


@pytest.mark.parametrize("fmt", FORMATS)
def test_draft_of_hostile_names_builds_the_default_report(tmp_path, fmt, hostile_logdir):  # noqa: F811
    draft = _draft_and_build(hostile_logdir, tmp_path, fmt, "--date", DATE)
    # the names are YAML values in the blocks: every one reads back as the tag it names
    tags = [
        b.keys["chart"]
        for b in parse_source(draft, "post.md").parts
        if not isinstance(b, str) and b.kind == "chart"
    ]
    assert sorted(tags) == sorted([*HOSTILE_TAGS, "hparam/acc"])


def _authoring(tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    _every_kind(tmp_path)
    # relative paths: the data notes name files, and the golden text must not hold tmp_path
    monkeypatch.chdir(tmp_path)
    shutil.copy(AUTHORING / "post.md", "post.md")
    _run(["build", "logs", "--format", fmt, "--out", fmt, "--date", KINDS_DATE,
          "--baseline", "hparams/trial0$", "--source", "post.md", "--quiet"])  # fmt: skip
    return tmp_path / fmt


def _numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"Fig (\d+)\.", text)]


def test_golden_source_jekyll(tmp_path, update_golden, monkeypatch):
    out = _authoring(tmp_path, "jekyll", monkeypatch)
    (post,) = (out / "_posts").iterdir()
    text = post.read_text()
    assert post.name == "2024-05-01-every-block-and-the-author-s-words.md"
    # the author's front matter keys follow tbreport's; strings double-quoted
    assert '\ntags: [ml, tensorboard]\nauthor: "A. Author"\n---\n' in text
    # the author's prose and code blocks as written, the usage example not taken as a block
    source = (AUTHORING / "post.md").read_text()
    for kept in ("```yaml\nchart: loss/train", "````markdown\n```tbreport\nchart: [tutorial/line",
                 "<abbr title=\"TensorBoard\">TB</abbr>", "## What to make of it"):  # fmt: skip
        assert kept in source and kept in text, kept
    assert _numbers(text) == list(range(1, len(_numbers(text)) + 1))
    assert "*Fig 1. train/loss:* Three trials, lightly smoothed; trial0 is the baseline" in text
    assert "Fig 2. train/loss: mean of each group's runs at each step, shaded minimum to" in text
    assert "train-loss-2.png" in text and (out / "assets/images").is_dir()
    assert ">kinds/torch · loss/train</span> |" in text  # the overlay: a line per run and tag
    assert "| Run | loss/train last | loss/train min | loss/train best |" in text
    _check(AUTHORING / "post.jekyll.md", text, update_golden)


def test_golden_source_html(tmp_path, update_golden, monkeypatch):
    out = _authoring(tmp_path, "html", monkeypatch)
    html = _strip_data_uris((out / "index.html").read_text())
    assert '<pre><code class="language-yaml">chart: loss/train' in html
    assert "<h2>What to make of it</h2>" in html
    assert '<nav class="toc"' in html and 'href="#section-training"' in html
    assert _numbers(html) == list(range(1, len(_numbers(html)) + 1))
    _check(AUTHORING / "post.html", html, update_golden)


def test_golden_source_markdown(tmp_path, update_golden, monkeypatch):
    out = _authoring(tmp_path, "markdown", monkeypatch)
    text = (out / "report.md").read_text()
    assert text.startswith("<!-- tbreport: report -->\n## Every block, and the author\\'s words")
    assert "Three trials, lightly smoothed" in text
    _check(AUTHORING / "post.report.md", text, update_golden)


# --- errors point into the source ---------------------------------------------------------


def _source(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "post.md"
    path.write_text(text)
    return path


def _build_source(tmp_path: Path, text: str, *extra: str, ok: bool = False):
    path = _source(tmp_path, text)
    return _run(["build", str(fixture_logdir("quickstart")), "--out", str(tmp_path / "out"),
                 "--date", DATE, "--source", str(path), "--quiet", *extra], ok=ok)  # fmt: skip


POST = """---
title: A post
---

Some words.

```tbreport
summary: true
```

More words.

```tbreport
chart: [tutorial/line, tutorial/pol]
smoothing: 0.2
```
"""


def test_a_tag_that_matches_nothing_is_an_error_with_strict(tmp_path):
    result = _build_source(tmp_path, POST, "--strict")
    assert result.exit_code == 2
    path = tmp_path / "post.md"
    assert (
        f"Error: {path}:14: no tag matches 'tutorial/pol' (did you mean 'tutorial/poly'?). "
        "(--strict)"
    ) in result.output
    assert not (tmp_path / "out").exists()  # nothing was built


def test_a_tag_that_matches_nothing_is_a_named_warning(tmp_path):
    result = _build_source(tmp_path, POST, "--json", ok=True)
    import json

    data = json.loads(result.stdout)
    (warning,) = [w for w in data["warnings"] if w["kind"] == "source-no-match"]
    assert warning["message"].endswith(
        "post.md:14: no tag matches 'tutorial/pol' (did you mean 'tutorial/poly'?)."
    )
    text = (tmp_path / "out" / "index.html").read_text()
    assert "Fig 1." in text and "Fig 2." not in text  # the tag that matched is shown


def test_tags_on_their_own_lines_name_their_line(tmp_path):
    post = "```tbreport\nchart:\n  - tutorial/line\n  - val/los\n```\n"
    result = _build_source(tmp_path, post, "--strict")
    assert f"{tmp_path / 'post.md'}:4: no tag matches 'val/los'" in result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("intro\n\n```tbreport\nchart: tutorial/line\nsmothing: 0.5\n```\n",
         "post.md:5: unknown key 'smothing' in a chart block (did you mean 'smoothing'?)"),
        # a bracket or quote never closed: the line it opens on, not the block's end
        ("```tbreport\nchart: [tutorial/line\n```\n", "post.md:2: bad YAML:"),
        ("---\ntitle: [a\n---\n", "post.md:2: bad YAML:"),
        ("```tbreport\nchart: tutorial/line\ncaption: \"open\n\n```\n",
         "post.md:3: bad YAML: a quoted value is never closed"),
        # Markdown in an unquoted caption: how to write it as text
        ("```tbreport\nchart: tutorial/line\ncaption: `code` first\n```\n",
         "post.md:3: bad YAML: found character '`' that cannot start any token. If `caption` "
         "is text, quote it (`caption: \"...\"`, a `\"` inside as `\\\"`) or write "
         "`caption: >` and the text indented on the lines below."),
        ("---\ntitle: Loss: down\n---\n", "post.md:2: bad YAML: mapping values are not "
         "allowed here. If `title` is text, quote it"),
        ("\n\n```tbreport\nchart: tutorial/line\n", "post.md:3: the tbreport block opened here "
         "is never closed"),
        ("```tbreport\nchrt: tutorial/line\n```\n", "post.md:1: the block names no kind ('chrt')"),
        ("```tbreport\n```\n", "post.md:1: a tbreport block holds YAML keys"),
        ("```tbreport\nchart: tutorial/line\nsmoothing: 2\n```\n",
         "post.md:3: smoothing: smoothing 2.0 is out of range"),
        ("```tbreport\nchart: tutorial/line\ny_range: [1]\n```\n",
         "post.md:3: y_range must be two numbers"),
        ("```tbreport\ntable: tutorial/line\nstats: [last, mean]\n```\n",
         "post.md:3: unknown statistic 'mean'"),
        ("---\ndate: soon\n---\n", "post.md:2: front matter date: cannot read date 'soon'"),
        ("---\ntitle: T\ntbreport:\n  x-axis: step\n  smoothing: 2\n---\n",
         "post.md:5: front matter tbreport.smoothing: smoothing 2.0 is out of range"),
        ("---\ntbreport:\n  smothing: 0.5\n---\n",
         "post.md:3: unknown setting 'smothing' in the front matter's tbreport key "
         "(did you mean 'smoothing'?)."),
        ("---\ntitle: T\ntbreport: 0.8\n---\n",
         "post.md:3: front matter tbreport must be build options"),
        ("\n```tbreport\nsection:\n```\n", "post.md:3: a section block names its heading"),
        ("```tbreport\nnotes: all\n```\n", "post.md:2: `notes: true` shows the notes"),
        ("Words.\n\n```python\nx = 1\n\n```tbreport\nchart: tutorial/line\n```\n",
         "post.md:3: the code block opened here ends at line 8, so the tbreport block at "
         "line 6 would be shown as code; close the code block before it with a line of ```"),
        ("```tbreport\nchart: tutorial/line\nsmoothing:\n```\n",
         "post.md:3: `smoothing:` has no value; give one or leave the key out."),
        ("```tbreport\nchart: tutorial/line\nchart: tutorial/poly\n```\n",
         "post.md:3: 'chart' is given twice in this block (first at line 2)"),
        ("```tbreport\nchart: tutorial/line\noverlay: 'no'\n```\n",
         "post.md:3: overlay is true or false, not 'no'."),
        ("```tbreport\nchart: tutorial/line\ncaption: [a, b]\n```\n",
         "post.md:3: a caption is text (quote it), not ['a', 'b']."),
        ("```tbreport\ntable: tutorial/line\nstats: []\n```\n", "post.md:3: stats names what"),
        ("~~~\nx = 1\n```tbreport\nchart: tutorial/line\n```\n",
         "post.md:1: the code block opened here is never closed, so the tbreport block at "
         "line 3 would be shown as code"),
    ],
)  # fmt: skip
def test_errors_name_the_source_line(tmp_path, text, message):
    result = _build_source(tmp_path, text)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_a_block_with_no_data_is_named(tmp_path):
    result = _build_source(tmp_path, "```tbreport\nimages: true\n```\n", "--strict")
    assert "post.md:1: a images block, but the runs hold no images data" in result.output
    result = _build_source(tmp_path, "\n```tbreport\nchart: true\nruns: run_9\n```\n", "--strict")
    assert "post.md:4: no run matches 'run_9' (did you mean 'run_2'?)" in result.output
    result = _build_source(tmp_path, "```tbreport\nverdict: true\n```\n", "--strict")
    assert "post.md:1: a verdict block, but there is no baseline" in result.output


def test_a_block_naming_an_empty_list_of_tags_is_named(tmp_path):
    result = _build_source(tmp_path, "\n```tbreport\nchart: []\n```\n", "--strict")
    assert "post.md:3: the chart block names no tag. (--strict)" in result.output


def test_a_markdown_post_over_github_s_limit_is_refused_not_shortened(tmp_path):
    post = "```tbreport\nchart: true\n```\n\n" + "words " * 11_000 + "\n"
    result = _build_source(tmp_path, post, "--format", "markdown")
    assert result.exit_code == 2
    assert "over GitHub's comment limit of 65,000; shorten it or show fewer blocks" in result.output


def test_the_source_error_is_a_tbreport_error():
    with pytest.raises(SourceError, match=r"^p\.md:3: unknown key 'x' in a runs block"):
        parse_source("```tbreport\nruns: true\nx: 1\n```\n", "p.md")


def test_fences_as_commonmark_reads_them():
    text = (
        "~~~~\n```tbreport\nchart: a\n```\n~~~~\n"  # inside another fence: the author's code
        "   ```tbreport   \nchart: b\n   ``````\n"  # indented up to 3 spaces, longer close
        "    ```tbreport\n"  # 4 spaces: indented code, not a fence
        "> ```tbreport\n"  # in a quote: kept as written
        "```tbreport extra\nchart: c\n```\n"  # another info string
        "<!-- draft: left out -->\n"
        "<!-- the author's own comment stays -->\n"
    )
    source = parse_source(text, "p.md")
    blocks = [p for p in source.parts if not isinstance(p, str)]
    assert [(b.kind, b.keys["chart"], b.line) for b in blocks] == [("chart", "b", 6)]
    prose = "".join(p for p in source.parts if isinstance(p, str))
    assert "```tbreport\nchart: a\n```" in prose and "chart: c" in prose
    assert "draft: left out" not in prose and "the author's own comment stays" in prose


def test_lines_end_at_line_feeds_only():
    # U+2028, NEL and a form feed in the prose are text, not line ends: the line numbers are
    # an editor's, and a fence after one on the same line is no fence
    text = "A\u2028B, \x85C\x0cD ```tbreport\n\n```tbreport\nchart: tutorial/line\n```\n"
    source = parse_source(text, "p.md")
    (block,) = [p for p in source.parts if not isinstance(p, str)]
    assert block.line == 3 and block.line_of("chart") == 4
    assert source.parts[0] == "A\u2028B, \x85C\x0cD ```tbreport\n\n"
    old_mac = parse_source("Words.\r\r```tbreport\rchart: x\r```", "p.md")
    assert [p.line for p in old_mac.parts if not isinstance(p, str)] == [3]


def test_a_post_saved_with_a_bom_and_windows_line_ends_reads_the_same(tmp_path):
    post = "---\ntitle: Windows\n---\nWords.\n\n```tbreport\nchart: tutorial/line\n```\n"
    path = tmp_path / "post.md"
    path.write_bytes(b"\xef\xbb\xbf" + post.replace("\n", "\r\n").encode())
    from tbreport.source import read_source

    source = read_source(str(path))
    assert source.front_matter == {"title": "Windows"}
    assert source.parts[0] == "Words.\n\n" and "\r" not in "".join(map(str, source.parts))


# --- front matter and options ---------------------------------------------------------------


def test_front_matter_gives_way_to_the_command_line_and_wins_over_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tbreport.toml").write_text('title = "From config"\ncategories = "config"\n')
    post = "---\ntitle: From the post\ncategories: post\ntbreport:\n  smoothing: 0\n---\n"
    post += "```tbreport\nchart: tutorial/line\n```\n"
    _build_source(tmp_path, post, "--format", "jekyll", "--categories", "cli", ok=True)
    (text,) = [p.read_text() for p in (tmp_path / "out" / "_posts").iterdir()]
    assert 'title: "From the post"\n' in text and 'categories: "cli"\n' in text
    assert "raw values, not smoothed" in text  # the post's tbreport: key set the smoothing


def test_front_matter_values_are_written_as_yaml_that_reads_back(tmp_path):
    import yaml

    title = 'Loss: "down" {{ x }} 🚀'
    post = "---\n" + yaml.safe_dump(
        {"title": title, "author": 'a"b {% raw %}\n---', "tags": ["x", "y: z"], "draft": False},
        allow_unicode=True,
    )
    post += "---\n```tbreport\nchart: tutorial/line\n```\n"
    _build_source(tmp_path, post, "--format", "jekyll", ok=True)
    (text,) = [p.read_text() for p in (tmp_path / "out" / "_posts").iterdir()]
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["title"] == title and front["author"] == 'a"b {% raw %}\n---'
    assert front["tags"] == ["x", "y: z"] and front["draft"] is False
    assert front["layout"] == "post"


def test_a_block_s_options_apply_to_that_block_only(tmp_path):
    post = (
        "```tbreport\nchart: tutorial/line\nsmoothing: 0\nruns: run_2\n```\n\n"
        "```tbreport\nchart: tutorial/line\nlog_y: true\ny_range: [1, 200]\n```\n"
    )
    _build_source(tmp_path, post, "--format", "jekyll", ok=True)
    (text,) = [p.read_text() for p in (tmp_path / "out" / "_posts").iterdir()]
    first, second = text.split("*Fig 2.")
    assert "Fig 1. tutorial/line: raw values, not smoothed" in first
    assert ">run\\_2</span> |" in first and ">run\\_1</span> |" not in first
    assert "weight 0.6); log scale" in second and ">run\\_1</span> |" in second
    assert "raw points outside the range" in second  # run_2 starts below 1


def _runs_of(text: str) -> list[str]:
    """The runs a Markdown report's first table lists."""
    return re.findall(r"^\| (run\\_\d)", text, flags=re.MULTILINE)


def test_a_block_s_runs_may_be_a_list_or_true(tmp_path):
    # a list is several regexes (never str() of it: "['run_1']" is a character class that
    # matches every run); `true` is every run; each regex matching nothing is named at its line
    post = "```tbreport\nchart: tutorial/line\nruns: [run_1,\n  run_9]\n```\n"
    result = _build_source(tmp_path, post, "--format", "markdown", "--json", ok=True)
    assert _runs_of((tmp_path / "out" / "report.md").read_text()) == ["run\\_1"]
    assert "post.md:4: no run matches 'run_9'" in result.stdout
    post = "```tbreport\nchart: tutorial/line\nexclude_runs: [run_1]\n```\n"
    _build_source(tmp_path, post, "--format", "markdown", ok=True)
    assert _runs_of((tmp_path / "out" / "report.md").read_text()) == ["run\\_2"]
    post = "```tbreport\nchart: tutorial/line\nruns: true\n```\n"
    _build_source(tmp_path, post, "--format", "markdown", "--runs", "run_1", "--strict", ok=True)
    assert _runs_of((tmp_path / "out" / "report.md").read_text()) == ["run\\_1", "run\\_2"]
    post = "```tbreport\nruns: [run_2]\n```\n"
    _build_source(tmp_path, post, "--format", "jekyll", ok=True)
    (text,) = [p.read_text() for p in (tmp_path / "out" / "_posts").iterdir()]
    # the runs table's name cell: the swatch and the name in one unbreakable span
    assert ";run\\_2</span> |" in text and "run\\_1</span> |" not in text


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("exclude_runs: true", "post.md:3: exclude_runs takes a run-name regex, a list of them;"),
        ("runs: [run_1, {a: 1}]", "post.md:3: runs takes a run-name regex, a list of them or"),
        ("runs:\n  - run_1\n  - run_(", "post.md:5: 'run_(' is not a valid regular expression"),
    ],
)
def test_a_block_s_bad_runs_are_errors_at_their_line(tmp_path, block, message):
    result = _build_source(tmp_path, f"```tbreport\nchart: tutorial/line\n{block}\n```\n")
    assert result.exit_code == 2 and message in result.output, result.output


def test_a_regex_option_given_a_list_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tbreport.toml").write_text('runs = ["run_1"]\n')
    result = _build_source(tmp_path, "Words.\n")
    assert result.exit_code == 2
    assert "runs: give one regular expression (text), not ['run_1']." in result.output


@pytest.mark.parametrize("key", ["host: 0.0.0.0", "port: 80", "out: elsewhere", "export-file: x"])
def test_a_post_sets_build_options_only(tmp_path, key):
    # not where `serve` listens (a post shared with you must not open the report to the
    # network), where the build writes, or another command's options
    result = _build_source(tmp_path, f"---\ntbreport:\n  {key}\n---\nWords.\n")
    assert result.exit_code == 2
    name = key.split(":")[0]
    assert f"post.md:3: '{name}' cannot be set in a post" in result.output
    assert "Give it on the command line." in result.output and "did you mean" not in result.output


def test_a_source_inside_the_jekyll_site_is_named(tmp_path):
    import json

    site = tmp_path / "blog"

    def warned(source: str, config: str | None = None) -> list[str]:
        path = site / source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("Words.\n\n```tbreport\nchart: tutorial/line\n```\n")
        if config is not None:
            (site / "_config.yml").write_text(config)
        result = _run(["build", str(fixture_logdir("quickstart")), "--format", "jekyll",
                       "--out", str(site), "--date", DATE, "--source", str(path), "--json",
                       "--quiet", "--force"])  # fmt: skip
        data = json.loads(result.stdout)
        return [w["message"] for w in data["warnings"] if w["kind"] == "source-published"]

    (message,) = warned("drafts/post.md")
    assert f"'{site / 'drafts/post.md'}' is inside the Jekyll site '{site}'" in message
    assert warned("_posts/post.md")  # Jekyll makes a post of it
    assert warned("_notes/post.md") == [] and warned(".notes/post.md") == []
    assert warned("notes/post.md", "exclude:\n  - notes/\n") == []
    result = _build_source(tmp_path, "Words.\n", "--format", "jekyll", "--json", ok=True)
    assert "source-published" not in result.stdout  # outside the site


def test_front_matter_categories_may_be_a_yaml_list(tmp_path):
    import yaml

    post = "---\ncategories: [ml, weekly-notes]\n---\nWords.\n"
    _build_source(tmp_path, post, "--format", "jekyll", ok=True)
    (text,) = [p.read_text() for p in (tmp_path / "out" / "_posts").iterdir()]
    assert yaml.safe_load(text.split("---\n")[1])["categories"] == "ml weekly-notes"
    result = _build_source(tmp_path, "---\ncategories: [[ml]]\n---\n", "--format", "jekyll")
    assert result.exit_code == 2
    assert "front matter categories: categories are words" in result.output


def test_hostile_names_inside_blocks_stay_escaped(tmp_path, hostile_logdir):  # noqa: F811
    from tbreport.source import block_text

    blocks = [block_text("chart", tag, runs=re.escape(HOSTILE_RUNS[1])) for tag in HOSTILE_TAGS]
    blocks.append(block_text("table", list(HOSTILE_TAGS[:2])))
    blocks.append(block_text("chart", list(HOSTILE_TAGS[:2]), overlay=True))
    blocks.append(block_text("runs", True))
    post = "My own {{ site.title }} and <b>HTML</b>.\n\n" + "\n".join(blocks)
    path = _source(tmp_path, post)
    for fmt in FORMATS:
        out = tmp_path / fmt
        _run(["build", str(hostile_logdir), "--format", fmt, "--out", str(out), "--date", DATE,
              "--source", str(path), "--quiet"])  # fmt: skip
        (main_file,) = [
            p for p in out.rglob("*") if p.suffix in (".html", ".md") and p.name != "index.md"
        ]
        text = main_file.read_text()
        assert "<script>window.__pwned" not in text and "<img src=x" not in text
        if fmt == "jekyll":
            # the author's Liquid and HTML as written; the logs' never reach Liquid
            assert "My own {{ site.title }} and <b>HTML</b>." in text
            liquid = re.findall(r"\{\{.*?\}\}|\{%.*?%\}", text)
            allowed = ("{{ site.title }}", "{{ '/assets/", '{{ "{{" }}', '{{ "{%" }}')
            assert all(t.startswith(allowed) for t in liquid), liquid
        if fmt == "html":
            assert "<p>My own {{ site.title }} and <b>HTML</b>.</p>" in text


# --- a real Jekyll build of a post that mixes blocks with the author's Liquid and code ------

AUTHOR_POST = """---
title: My week of training
author: "Me {{ not liquid in front matter }}"
---

The diagram I drew: ![diagram]({{ '/assets/x.png' | relative_url }}), and the site's name,
{{ site.title }}.

```tbreport
summary: true
```

This is how the chart below was asked for (the code is mine, so the raw tag is mine too):

{% raw %}
```yaml
chart: "{{ tag }}"   # Liquid-looking, kept literal by my raw tag
```
{% endraw %}

```tbreport
chart: TAG0
caption: The loss, *as I wrote it*.
```

```tbreport
chart: LIST12
overlay: true
```

```tbreport
table: TAG0
stats: [last, best]
```

```tbreport
runs: true
```

```tbreport
notes: true
```
"""


def test_a_caption_s_markdown_is_not_inside_tbreport_s_italics(tmp_path):
    # `*Fig 1. tag: a *word* here*` ends the italics at "a *": the label is italic alone
    post = "```tbreport\nchart: tutorial/line\ncaption: A *word* and _more_.\n```\n"
    _build_source(tmp_path, post, "--format", "jekyll", ok=True)
    (text,) = [p.read_text() for p in (tmp_path / "out" / "_posts").iterdir()]
    assert "\n*Fig 1. tutorial/line:* A *word* and _more_. [Plotted data (CSV)](" in text
    # the default caption stays one italic line
    assert re.search(r"\n\*Fig 1\. [^\n]*relative_url \}\}\)\*\n", _build_default(tmp_path))
    # a text figure sits in HTML (markdown="0"): its caption is made HTML there
    post = "```tbreport\ntext: true\ncaption: The *log* says `hi`.\n```\n"
    path = _source(tmp_path, post)
    _run(["build", str(fixture_logdir("torch_text")), "--format", "jekyll", "--out",
          str(tmp_path / "text"), "--date", DATE, "--source", str(path), "--quiet"])  # fmt: skip
    (text,) = [p.read_text() for p in (tmp_path / "text" / "_posts").iterdir()]
    assert ":</em> The <em>log</em> says <code>hi</code>. <a href=" in text


def _build_default(tmp_path: Path) -> str:
    out = tmp_path / "default"
    _run(["build", str(fixture_logdir("quickstart")), "--format", "jekyll", "--out", str(out),
          "--date", DATE, "--quiet"])  # fmt: skip
    (text,) = [p.read_text() for p in (out / "_posts").iterdir()]
    return text


@pytest.mark.skipif(
    "not __import__('sitecheck').have_jekyll()", reason="Debian's jekyll is not installed"
)
def test_jekyll_builds_a_source_with_the_author_s_liquid_and_code(tmp_path, hostile_logdir):  # noqa: F811
    import html as html_lib

    import sitecheck
    from test_real_tools import BIDI, _site, shown

    from tbreport.source import yaml_value

    site = _site(tmp_path, "plain")
    (site / "assets").mkdir()
    (site / "assets" / "x.png").write_bytes(b"\x89PNG the author's own file")
    text = AUTHOR_POST.replace("LIST12", yaml_value(list(HOSTILE_TAGS[1:3])))
    for i in range(3):
        text = text.replace(f"TAG{i}", yaml_value(HOSTILE_TAGS[i]))
    path = _source(tmp_path, text)
    _run(["build", str(hostile_logdir), "--format", "jekyll", "--out", str(site), "--date", DATE,
          "--source", str(path), "--quiet"])  # fmt: skip
    built = sitecheck.jekyll_build(site, dest=tmp_path / "_site", baseurl="/repo")
    assert built.ok, built
    (page,) = (tmp_path / "_site").rglob("my-week-of-training.html")
    page_text = page.read_text()
    # the author's Liquid ran: a relative_url under the baseurl, the site's title
    assert 'src="/repo/assets/x.png"' in page_text and "the site’s name,\nplain." in page_text
    # names from the logs show literally: Liquid did not eat them, HTML did not run them
    assert "<script>window.__pwned" not in page_text and not BIDI.search(page_text)
    plain = html_lib.unescape(re.sub(r"<[^>]+>", "", page_text))
    # the author's code block kept its Liquid-looking text, inside their raw tag
    assert 'chart: "{{ tag }}"   # Liquid-looking' in plain
    for name in (*HOSTILE_TAGS[:3], *HOSTILE_RUNS):
        assert shown(name).replace('"', "") in plain.replace("“", "").replace("”", "").replace(
            '"', ""
        ), name
    assert "Fig 1." in plain and "The loss, as I wrote it." in plain and "Fig 2." in plain
    # the author's emphasis is theirs: tbreport's italic label closes before the caption
    assert ":</em> The loss, <em>as I wrote it</em>." in page_text
    # every chart image and data file the post links is in the built site
    refs = re.findall(r'(?:src|href)="(/repo/assets/images/[^"]+)"', page_text)
    assert len(refs) == 4
    for ref in refs:
        assert (tmp_path / "_site" / ref.removeprefix("/repo/")).is_file(), ref


@pytest.mark.skipif(
    "not __import__('sitecheck').have_jekyll()", reason="Debian's jekyll is not installed"
)
def test_jekyll_builds_the_every_block_source_cleanly(tmp_path):
    import sitecheck
    from test_real_tools import _site

    site = _site(tmp_path, "plain")
    logs = _every_kind(tmp_path)
    shutil.copy(AUTHORING / "post.md", tmp_path / "post.md")
    _run(["build", str(logs), "--format", "jekyll", "--out", str(site), "--date", KINDS_DATE,
          "--baseline", "hparams/trial0$", "--source", str(tmp_path / "post.md"),
          "--quiet"])  # fmt: skip
    built = sitecheck.jekyll_build(site, dest=tmp_path / "_site", baseurl="/repo")
    assert built.ok, built
    (page,) = (tmp_path / "_site").rglob("every-block-and-the-author-s-words.html")
    text = page.read_text()
    # kramdown made tables of the generated tables (blank lines around them) and kept the
    # author's usage example as code
    assert text.count("<table>") >= 6
    import html as html_lib

    plain = html_lib.unescape(re.sub(r"<[^>]+>", "", text))
    assert "```tbreport\nchart: [tutorial/line, tutorial/poly]\n```" in plain
    assert 'class="language-markdown' in text
