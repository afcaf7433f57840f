"""Tests for tbreport.formats.escape: unit tests of each function, real Psych and Liquid on the
escaped values, and hostile strings through real Jekyll builds (a plain layout and minima)
and headless Chromium."""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sitecheck

from tbreport.formats.escape import (
    code_fence,
    gfm_text,
    html_name,
    liquid,
    md_cell,
    md_text,
    plain_text,
    slug,
    text_line,
    unique_slugs,
    yaml_str,
)

needs_jekyll = pytest.mark.skipif(
    "not sitecheck.have_jekyll()",
    reason="needs Debian's jekyll (apt-get install jekyll jekyll-theme-minima ruby-jekyll-feed "
    "ruby-jekyll-seo-tag ruby-jekyll-sitemap)",
)
needs_chromium = pytest.mark.skipif(
    "not sitecheck.have_chromium()",
    reason="needs Debian's chromium and PyPI playwright (apt-get install chromium)",
)
RUBY = shutil.which("ruby")
needs_ruby = pytest.mark.skipif(RUBY is None, reason="needs ruby (comes with Debian's jekyll)")

# (input, text it must render as inline). Inline text collapses line breaks and shows C0
# controls as control pictures; everything else must come back exactly.
HOSTILE: list[tuple[str, str]] = [
    (s, s)
    for s in [
        "{{ x }}",
        "{% raw %}",
        "{% endraw %}",
        "{%d}",
        "{{'a': 1}}",
        "{{ site.title }}",
        "{{ 'x' | append: 'y' }}",
        "{% if true %}y{% endif %}",
        "{{{",
        "{",
        "}}",
        "%}",
        "{{- x -}} {%- x -%}",
        "|",
        "a|b",
        "<script>window.__pwned=1</script>",
        '<img src=x onerror="window.__pwned=2">',
        '"quotes"',
        "'single'",
        "it's",
        "$$x$$",
        "$",
        "*stars*",
        "_u_",
        "a_b_c",
        "[link](javascript:alert(1))",
        "![img](x)",
        "[a]: http://example.com",
        "*[HTML]: x",
        "[^1]",
        "```",
        "`code`",
        "~~~",
        "~~s~~",
        "🚀",
        "Résumé",
        "Ünïcödé ✓ 中文",
        "# h",
        "C#",
        "1. one",
        "2021.",
        "1) p",
        "- dash",
        "+ plus",
        "> q",
        ": def",
        "=",
        "===",
        "---",
        "***",
        "^",
        "-",
        ".",
        "a--b a---b ...",
        "<<x>>",
        "{: .cls}",
        "{::comment}",
        "x {#id}",
        "&amp; &copy;",
        "<http://example.com>",
        "<!-- c -->",
        "a\tb",
        "\tlead",
        "trail  ",
        "  lead",
        "end\\",
        "\\",
        "\\|",
        "\\\\",
        ":rocket:",
        "@user",
        "| - |",
        ":--:",
    ]
] + [
    ("a\nb", "a b"),
    ("line1\r\n\r\n  line2", "line1 line2"),
    ("\x07bell\x00", "\u2407bell\u2400"),
    # bidirectional controls are removed (they would reorder the text around the name)
    (
        "\u202eevil\u202c \u2066iso\u2069 \u200fm\u200e \u061calm \u202a\u202b\u202dx",
        "evil iso m alm x",
    ),
]
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
# For the titles, the layout prints page.title: these also exercise yaml_str (bidi controls
# are left out: yaml_str removes them, see test_bidi_controls_are_removed_in_every_context).
TITLES = [
    s for s, t in HOSTILE if "\n" not in s and "\r" not in s and "\x00" not in s and s == t
] + [
    'Résumé: "Loss" #1 & <b>',
    "yes",
    "null",
    "2021",
    "1.0",
]
# jekyll-seo-tag (minima's <head>) runs page.title through markdownify: these titles make
# kramdown warn there. See test_seo_tag_markdownifies_titles.
SEO_WARNING_TITLES = {"[^1]", "{::comment}", "| - |", 'Résumé: "Loss" #1 & <b>'}


# --- md_text / md_cell ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain text", "plain text"),
        ("train_loss", "train\\_loss"),
        ("*x*", "\\*x\\*"),
        ("a|b", "a\\|b"),
        ("{{ x }}", "&#123;&#123; x &#125;&#125;"),
        ("{%d}", "&#123;%d&#125;"),
        ("<script>", "&lt;script&gt;"),
        ("a & b", "a &amp; b"),
        ("\"q\" 's'", "\\\"q\\\" \\'s\\'"),
        ("[x](y)", "&#91;x&#93;(y)"),
        ("`c`", "&#96;c&#96;"),
        ("end\\", "end&#92;"),
        ("# h", "\\# h"),
        ("- item", "\\- item"),
        ("+ item", "\\+ item"),
        ("1. one", "1\\. one"),
        ("12) x", "12\\) x"),
        ("v1.2-rc", "v1.2-rc"),
        ("a--b", "a\\-\\-b"),
        ("wait...", "wait\\.\\.\\."),
        ("done.", "done\\."),
        ("$$", "\\$\\$"),
        ("~~", "\\~\\~"),
        ("^", "&#94;"),
        (": d", "\\: d"),
        ("a\nb", "a b"),
        ("a \r\n\r\n b", "a b"),
        ("  x\t", "&#32;&#32;x&#9;"),
        ("a\x07", "a\u2407"),
        ("🚀 Résumé", "🚀 Résumé"),
    ],
)
def test_md_text_examples(raw: str, escaped: str) -> None:
    assert md_text(raw) == escaped


def test_md_text_output_is_inert_for_liquid_and_block_syntax() -> None:
    rng = random.Random(7)
    alphabet = "{}%|\\`*_[]#!<>&~$\"'-+.=:^ \t\n\r1aé🚀"
    for _ in range(2000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
        out = md_text(s)
        assert "{" not in out and "}" not in out, (s, out)
        assert "\n" not in out and "\r" not in out, (s, out)
        assert not re.search(r"(?<!\\)[|*_$~]", out), (s, out)  # each one escaped
        assert not re.search(r"[<>`\[\]]", out), (s, out)  # only as entities
        assert not out.startswith((" ", "\t", "-", "+", "=", ":", ".", "^")), (s, out)
        assert not re.search(r"(?<!\\)--|(?<!\\)\.\.|\\\\", out), (s, out)
        assert not out.endswith((" ", "\t", "\\")), (s, out)
        assert md_cell(s) == out


def test_md_cell_keeps_pipes_and_backticks_inside_the_cell() -> None:
    assert md_cell("a|b") == "a\\|b"
    # the table parser splits on code spans before escapes apply: no backslash escape here
    assert md_cell("``` | ```") == "&#96;&#96;&#96; \\| &#96;&#96;&#96;"
    assert "\n" not in md_cell("a\nb")


# --- bidirectional controls, HTML names -----------------------------------------------------


def test_bidi_controls_are_removed_in_every_context() -> None:
    name = "run\u202e" + BIDI_CONTROLS + "gnp.exe"
    for escaped in [
        md_text(name),
        md_cell(name),
        gfm_text(name),
        code_fence(name),
        yaml_str(name),
        html_name(name),
        plain_text(name),
        slug(name),
    ]:
        assert not set(BIDI_CONTROLS) & set(escaped), repr(escaped)
        assert "gnp" in escaped
    assert md_text(name) == "rungnp.exe"
    assert yaml_str(name) == '"rungnp.exe"'


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("run_1", "<bdi>run_1</bdi>"),
        ("<b>&'\"", "<bdi>&lt;b&gt;&amp;&#39;&#34;</bdi>"),
        ("a\x00b\x1f\x7f", "<bdi>a\u2400b\u241f\u2421</bdi>"),
        ("\u05e9\u05dc\u05d5\u05dd\u202e 1", "<bdi>\u05e9\u05dc\u05d5\u05dd 1</bdi>"),
        ("\udcff", "<bdi>\ufffd</bdi>"),
    ],
)
def test_html_name_isolates_escapes_and_shows_controls(raw: str, escaped: str) -> None:
    out = html_name(raw)
    assert out == escaped
    assert str(out.__html__()) == escaped  # Markup: Jinja's autoescape keeps it as it is


def test_plain_text_is_not_html_escaped() -> None:
    # for attributes (alt, <title>): autoescape does the HTML part
    assert plain_text('<a\u2066 "b"\x00') == '<a "b"\u2400'


# --- GitHub: mentions and autolinks ---------------------------------------------------------

# Names that GitHub would turn into a mention (a notification) or cmark-gfm into a link.
LINKY_NAMES = [
    "@octocat",
    "@org/team",
    "ping @octocat!",
    "cc:@a-b_c",
    "(@octocat)",
    "mail me@example.com",
    "https://evil.example/x?a=1",
    "http://evil.example",
    "HTTPS://EVIL.EXAMPLE",
    "ftp://evil.example/f",
    "www.evil.example",
    "WWW.EVIL.EXAMPLE",
    "see www.evil.example.",
    "mailto:me@example.com",
    "xmpp:me@example.com",
    "run_https://evil.example_www.x.y_@z",
    "<https://evil.example>",
    "[x](https://evil.example)",
    "a\u202e@octocat",
    "fixes #123",
    "#7",
    "owner/repo#42",
    "see GH-45",
    "gh-9 (lower case)",
]
# Names that must come out exactly as md_text writes them (nothing inserted).
PLAIN_NAMES = [
    "train/loss", "lr=0.1", "run_1", "a:b", "v1.2-rc", "x.www", "http:/x", "ww.x", "#x", "sigh-1",
]  # fmt: skip


def gfm_html(text: str) -> str:
    import cmarkgfm

    # GitHub's renderer with its extensions (autolink included), raw HTML let through
    return cmarkgfm.github_flavored_markdown_to_html(
        text, options=cmarkgfm.Options.CMARK_OPT_UNSAFE
    )


class _GitHubText(HTMLParser):
    """Links, and the text nodes GitHub's mention filter reads (not inside a, code, pre)."""

    IGNORED = ("a", "code", "pre")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.text: list[str] = []
        self.cells: list[str] = []
        self._ignored = 0
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(str(dict(attrs).get("href")))
        if tag in self.IGNORED:
            self._ignored += 1
        if tag == "td":
            self.cells.append("")
            self._in_cell = True

    def handle_endtag(self, tag: str) -> None:
        if tag in self.IGNORED:
            self._ignored -= 1
        self._in_cell = self._in_cell and tag != "td"

    def handle_data(self, data: str) -> None:
        if not self._ignored:
            self.text.append(data)
        if self._in_cell:
            self.cells[-1] += data


# html-pipeline's MentionFilter and TeamMentionFilter, loosened: any "@" right before a letter
# or digit, at the start or after a non-word character, would be a mention; GitHub's issue
# references, loosened: "#" right before a digit anywhere ("#1", "owner/repo#1"), "GH-1".
_MENTION = re.compile(r"(?:^|\W)@[a-z0-9]|#\d|(?:^|\W)gh-\d", re.IGNORECASE)


def github_view(markdown: str) -> _GitHubText:
    parser = _GitHubText()
    parser.feed(gfm_html(markdown))
    parser.close()
    return parser


def test_mention_check_sees_what_md_text_lets_through() -> None:
    # the checks below are real: md_text alone leaves mentions and links live
    view = github_view(" ".join(md_text(n) for n in LINKY_NAMES))
    assert len(view.links) >= 10 and _MENTION.search("".join(view.text))


@pytest.mark.parametrize("name", LINKY_NAMES)
def test_gfm_text_leaves_no_mention_or_link(name: str) -> None:
    shown = re.sub(f"[{BIDI_CONTROLS}]", "", name)
    esc = gfm_text(name)
    markdown = f"Run {esc} done.\n\n| run | x |\n|:--|--:|\n| {esc} | 1 |\n"
    view = github_view(markdown)
    assert view.links == [], (name, esc)
    for node in view.text:
        assert not _MENTION.search(node), (name, node)
    # it still reads the same: only zero-width spaces were added
    assert view.cells[0].replace("\u200b", "") == shown and view.cells[1] == "1"


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_gfm_text_leaves_normal_names_alone(name: str) -> None:
    assert gfm_text(name) == md_text(name)
    assert github_view(f"| {gfm_text(name)} |\n|--|\n| x |\n").links == []


# --- liquid ---------------------------------------------------------------------------------

# Liquid 5's tokenizer (lib/liquid/tokenizer.rb, TemplateParser), as a Python regex.
_LIQUID_TOKENS = re.compile(r"(\{%.*?%\}|\{\{.*?\}\}?|\{%|\{\{)", re.S)
_OUR_TOKEN = re.compile(r'\{\{ "(\{+%?)" \}\}')


def _liquid_render_literals(out: str) -> str:
    """Render ``out`` the way Liquid would, accepting only our string-literal outputs."""
    parts = _LIQUID_TOKENS.split(out)
    rendered = []
    for i, part in enumerate(parts):
        if i % 2:
            m = _OUR_TOKEN.fullmatch(part)
            assert m, f"unexpected Liquid token {part!r} in {out!r}"
            rendered.append(m.group(1))
        else:
            rendered.append(part)
    return "".join(rendered)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("no braces", "no braces"),
        ("{a}", "{a}"),
        ("{{ x }}", '{{ "{{" }} x }}'),
        ("{% raw %}", '{{ "{%" }} raw %}'),
        ("{%d}", '{{ "{%" }}d}'),
        ("{{{%", '{{ "{{{%" }}'),
        ("x{", 'x{{ "{" }}'),
        ("}} %}", "}} %}"),
    ],
)
def test_liquid_examples(raw: str, escaped: str) -> None:
    assert liquid(raw) == escaped


def test_liquid_tokens_are_only_string_literals() -> None:
    rng = random.Random(3)
    for _ in range(3000):
        s = "".join(rng.choice("{}%- x'\"\n") for _ in range(rng.randrange(0, 14)))
        out = liquid(s)
        assert _liquid_render_literals(out) == s, (s, out)
        assert not out.endswith("{")


def _ruby_json(script: str, data: object) -> object:
    assert RUBY is not None
    done = subprocess.run(
        [RUBY, "-rjson", "-e", script],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        env={"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@needs_ruby
def test_liquid_renders_literally_in_real_liquid() -> None:
    samples = [s for s, _ in HOSTILE] + ["{{" * 5, "{%" * 3, "{{%}}", "a {%- endraw -%} b"]
    rendered = _ruby_json(
        "require 'liquid'; a = JSON.parse(STDIN.read);"
        " puts JSON.generate(a.map { |s| Liquid::Template.parse(s, error_mode: :strict)"
        ".render!({}, strict_variables: true, strict_filters: true) })",
        [liquid(s) for s in samples],
    )
    assert rendered == samples


# --- yaml_str -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("Loss", '"Loss"'),
        ('Résumé: "Loss"', '"Résumé: \\"Loss\\""'),
        ("a\\b", '"a\\\\b"'),
        ("🚀", '"🚀"'),
        ("a\nb\tc\r", '"a\\nb\\tc\\r"'),
        ("\x00\x07\x1b\x7f\x85\u2028\ufeff", '"\\0\\a\\e\\x7F\\N\\L\\uFEFF"'),
        ("{{ x }}", '"{{ x }}"'),
        ("yes", '"yes"'),
        ("bad \udcff byte", '"bad \ufffd byte"'),
    ],
)
def test_yaml_str_examples(raw: str, escaped: str) -> None:
    assert yaml_str(raw) == escaped


def _yaml_samples() -> list[str]:
    rng = random.Random(11)
    samples = [chr(i) for i in range(0x300)] + [s for s, _ in HOSTILE] + TITLES
    samples += ["\u2028\u2029\ufeff\ufffd", "\U0010fffd\ue000", "---\n...\n", "- a\n? b: c"]
    for _ in range(300):
        samples.append(
            "".join(
                chr(
                    rng.choice(
                        [
                            rng.randrange(0, 0x80),
                            rng.randrange(0x80, 0x800),
                            rng.randrange(0x800, 0xD800),
                            rng.randrange(0xE000, 0x10000),
                            rng.randrange(0x10000, 0x110000),
                        ]
                    )
                )
                for _ in range(rng.randrange(0, 20))
            )
        )
    return samples


@needs_ruby
def test_yaml_str_round_trips_through_psych() -> None:
    samples = _yaml_samples()
    doc = "".join(f"k{i}: {yaml_str(s)}\n" for i, s in enumerate(samples))
    assert "\r" not in doc and doc.count("\n") == len(samples)
    parsed = _ruby_json(
        "require 'yaml'; puts JSON.generate(YAML.safe_load(JSON.parse(STDIN.read)))", doc
    )
    expected = {
        f"k{i}": re.sub(f"[{BIDI_CONTROLS}]", "", s)
        .replace("\ufffe", "\ufffd")
        .replace("\uffff", "\ufffd")
        for i, s in enumerate(samples)
    }
    assert parsed == expected


# --- slug / unique_slugs --------------------------------------------------------------------

_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Résumé", "resume"),
        ("loss/train", "loss-train"),
        ("a_b", "a-b"),
        ("  --Loss--  ", "loss"),
        ("Straße Ærø", "strasse-aero"),
        ("__init__", "init"),
        (".hidden", "hidden"),
        ("", "x"),
        (".", "x"),
        ("..", "x"),
        ("🚀", "x"),
        ("中文", "x"),
        ("CON", "con-x"),
        ("lpt1", "lpt1-x"),
        ("{{ x }}", "x"),
    ],
)
def test_slug_examples(raw: str, expected: str) -> None:
    assert slug(raw) == expected


def test_slug_shape() -> None:
    rng = random.Random(5)
    for _ in range(2000):
        s = "".join(rng.choice("aZ09 -_./é🚀{}\\") for _ in range(rng.randrange(0, 90)))
        out = slug(s)
        assert _SLUG.fullmatch(out) and len(out) <= 60, (s, out)


def test_unique_slugs_separates_collisions_by_hash() -> None:
    h = hashlib.sha1(b"a/b").hexdigest()[:8]
    h2 = hashlib.sha1(b"a_b").hexdigest()[:8]
    assert unique_slugs(["a/b", "a_b", "c"]) == [f"a-b-{h}", f"a-b-{h2}", "c"]
    # depends on the names, not their order
    assert unique_slugs(["c", "a_b", "a/b"]) == ["c", f"a-b-{h2}", f"a-b-{h}"]


def test_unique_slugs_repeats_and_adversarial_names() -> None:
    h = hashlib.sha1(b"a/b").hexdigest()[:8]
    names = ["a/b", "a_b", f"a-b-{h}", "x", "x", "", "🚀", "x-2"]
    out = unique_slugs(names)
    assert len(set(out)) == len(out)
    assert all(_SLUG.fullmatch(s) and len(s) <= 60 for s in out)
    hx = hashlib.sha1(b"x").hexdigest()[:8]
    # "x", "" and "🚀" all slug to "x": hashed; the repeated "x" then gets "-2"
    assert out[3:5] == [f"x-{hx}", f"x-{hx}-2"]
    assert out[7] == "x-2"  # a plain slug no other name claims stays plain
    # a name whose plain slug equals another's hashed slug keeps it; the hashed one moves on
    assert out[2] == f"a-b-{h}" and out[0] == f"a-b-{h}-2"
    assert unique_slugs(names) == out  # deterministic


def test_unique_slugs_fuzz() -> None:
    rng = random.Random(9)
    for _ in range(200):
        names = [
            "".join(rng.choice("ab/_-. A") for _ in range(rng.randrange(0, 5)))
            for _ in range(rng.randrange(0, 30))
        ]
        out = unique_slugs(names)
        assert len(out) == len(names) and len(set(out)) == len(out), names
        assert all(_SLUG.fullmatch(s) and len(s) <= 60 for s in out), out
    long = ["x" * 100 + str(i % 3) for i in range(7)]
    out = unique_slugs(long)
    assert len(set(out)) == 7 and all(len(s) <= 60 for s in out)


# --- code_fence -----------------------------------------------------------------------------


def test_code_fence_is_longer_than_any_backtick_run() -> None:
    block = code_fence("a\n````\n```x\nb")
    lines = block.split("\n")
    assert lines[0] == "`````" and lines[-1] == "`````"
    assert lines[1:-1] == ["a", "````", "```x", "b"]
    assert code_fence("x") == "```\nx\n```"
    assert code_fence("") == "```\n```"


def test_code_fence_liquid_lang_and_line_ends() -> None:
    assert code_fence("{{ x }}\r\n{%d}\r\n", lang="py thon;<") == (
        '```python\n{{ "{{" }} x }}\n{{ "{%" }}d}\n```'
    )
    assert code_fence("a\rb\x1b") == "```\na\nb\u241b\n```"


# --- text_line ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        ("plain run", "plain run"),
        ("a \r\n  \n\t b", "a b"),  # a run of breaks and the blanks around it: one space
        ("x\u2028y\u2029z\x85w", "x y z w"),  # what str.splitlines() also splits at
        ("\x1b[2J\x1b]0;title\x07", "\u241b[2J\u241b]0;title\u2407"),  # no terminal escapes
        ("\x0b\x0c\x1c\x7f", "\u240b\u240c\u241c\u2421"),
        ("csi\x9b31m", "csi\ufffd31m"),  # C1 CSI
        ("lone\udcff", "lone\ufffd"),  # a surrogate-escaped file name byte
        ("tab\tkept", "tab\tkept"),
    ],
)
def test_text_line_examples(raw: str, line: str) -> None:
    assert text_line(raw) == line
    assert len(text_line(raw).splitlines()) == 1
    text_line(raw).encode("utf-8")  # writable


# --- real Jekyll and Chromium ---------------------------------------------------------------

PLAIN_LAYOUT = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ page.title | escape }}</title></head>
<body><h1 class="post-title">{{ page.title | escape }}</h1>
{{ content }}
</body></html>
"""
PLAIN_INDEX = """---
layout: default
title: "Index"
---
<ul>{% for post in site.posts %}
<li><a href="{{ post.url | relative_url }}">{{ post.title | escape }}</a></li>
{% endfor %}</ul>
"""
MAIN_TITLE = "{{ x }} {% raw %} <script>window.__pwned=1</script> \"q\" 'q' 🚀 Résumé \\"
BASEURL = "/tbr"


def _post(title: str, body: str, day: int, layout: str = "post", year: int = 2020) -> str:
    return (
        "---\n"
        f"layout: {layout}\n"
        f"title: {yaml_str(title)}\n"
        f"date: {year}-01-{day:02d} 12:00:00 +0000\n"
        "---\n"
        f"{body}\n"
    )


def _hostile_body() -> str:
    # Starts with a plain paragraph (the excerpt); each sample is one block between markers.
    lines = ["Hostile strings in every Markdown context.", ""]
    for i, (s, _) in enumerate(HOSTILE):
        lines += [
            f"<!-- sample {i} -->",
            "",
            f"Prose {i}: {md_text(s)} end.",
            "",
            f"## {md_text(s)}",
            "",
            f"- {md_text(s)}",
            "",
            md_text(s),
            "",
            "| name | twice |",
            "|------|-------|",
            f"| {md_cell(s)} | {md_cell(s)}{md_cell(s)} |",
            "",
            f"[{md_text(s)}](https://example.com/)",
            "",
            code_fence(s),
            "",
        ]
    return "\n".join([*lines, "<!-- end of samples -->", ""])


def write_site(root: Path, flavour: str) -> dict[str, str]:
    """A site with one post holding every sample and one post per hostile title.
    Returns {slug: title} of the title posts."""
    (root / "_posts").mkdir(parents=True)
    config = 'title: "Escape test"\ntimezone: UTC\n'
    if flavour == "minima":
        config += (
            "theme: minima\nplugins:\n  - jekyll-feed\n  - jekyll-seo-tag\n  - jekyll-sitemap\n"
        )
        (root / "index.md").write_text("---\nlayout: home\n---\n", encoding="utf-8")
    else:
        (root / "_layouts").mkdir()
        (root / "_layouts" / "default.html").write_text(PLAIN_LAYOUT, encoding="utf-8")
        (root / "_layouts" / "post.html").write_text(PLAIN_LAYOUT, encoding="utf-8")
        (root / "index.html").write_text(PLAIN_INDEX, encoding="utf-8")
    (root / "_config.yml").write_text(config, encoding="utf-8")
    posts = root / "_posts"
    (posts / "2020-01-01-hostile.md").write_bytes(
        _post(MAIN_TITLE, _hostile_body(), 1).encode("utf-8")
    )
    wanted = [t for t in TITLES if flavour != "minima" or t not in SEO_WARNING_TITLES]
    titles = dict(zip(unique_slugs(["t " + t for t in wanted]), wanted, strict=True))
    for name, title in titles.items():
        (posts / f"2020-01-02-{name}.md").write_bytes(
            _post(title, "A post whose title is hostile.", 2).encode("utf-8")
        )
    return titles


class _Blocks(HTMLParser):
    """Text content of each element of interest, in document order."""

    TAGS = ("h1", "h2", "p", "li", "td", "a", "pre", "title")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[list[str]] = []
        self.open: list[tuple[str, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.TAGS:
            self.blocks.append([tag, ""])
            self.open.append((tag, len(self.blocks) - 1))

    def handle_endtag(self, tag: str) -> None:
        for k in range(len(self.open) - 1, -1, -1):
            if self.open[k][0] == tag:
                del self.open[k:]
                break

    def handle_data(self, data: str) -> None:
        for _, j in self.open:
            self.blocks[j][1] += data


def blocks(html: str) -> list[tuple[str, str]]:
    parser = _Blocks()
    parser.feed(html)
    parser.close()
    return [(t, s) for t, s in parser.blocks]


def read_html(path: Path) -> str:
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def expected_code(s: str) -> str:
    s = re.sub(f"[{BIDI_CONTROLS}]", "", s)
    code = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", lambda m: chr(0x2400 + ord(m.group())), s)
    code = code.replace("\r\n", "\n").replace("\r", "\n").removesuffix("\n")
    return code + "\n" if code else ""


@pytest.fixture(scope="module")
def site_builds(tmp_path_factory: pytest.TempPathFactory):
    """Builds each flavour once per module, on first use."""
    done: dict[str, tuple[str, sitecheck.JekyllResult, dict[str, str]]] = {}

    def build(flavour: str) -> tuple[str, sitecheck.JekyllResult, dict[str, str]]:
        if not sitecheck.have_jekyll():
            pytest.skip("needs Debian's jekyll (apt-get install jekyll jekyll-theme-minima ...)")
        if flavour not in done:
            root = tmp_path_factory.mktemp(f"site-{flavour}")
            titles = write_site(root / "src", flavour)
            result = sitecheck.jekyll_build(root / "src", dest=root / "_site", baseurl=BASEURL)
            done[flavour] = (flavour, result, titles)
        return done[flavour]

    return build


@pytest.fixture(params=["plain", "minima"])
def built_site(request: pytest.FixtureRequest, site_builds):
    return site_builds(request.param)


@needs_jekyll
def test_jekyll_builds_hostile_site_without_problems(built_site) -> None:
    _, result, _ = built_site
    assert result.ok, result


@needs_jekyll
def test_hostile_strings_render_as_literal_text(built_site) -> None:
    _, result, _ = built_site
    assert result.ok, result
    html = read_html(result.dest / "2020" / "01" / "01" / "hostile.html")
    html = html[: html.index("<!-- end of samples -->")]
    pieces = re.split(r"<!-- sample (\d+) -->", html)
    assert len(pieces) == 2 * len(HOSTILE) + 1
    for k in range(1, len(pieces), 2):
        i = int(pieces[k])
        raw, text = HOSTILE[i]
        got = [b for b in blocks(pieces[k + 1]) if b[0] != "p" or b[1]]
        assert got == [
            ("p", f"Prose {i}: {text} end."),
            ("h2", text),
            ("li", text),
            ("p", text),
            ("td", text),
            ("td", text + text),
            ("p", text),
            ("a", text),
            ("pre", expected_code(raw)),
        ], f"sample {i}: {raw!r}"


@needs_jekyll
def test_hostile_titles_print_literally(built_site) -> None:
    flavour, result, titles = built_site
    assert result.ok, result
    main = blocks(read_html(result.dest / "2020" / "01" / "01" / "hostile.html"))
    assert ("h1", MAIN_TITLE) in main
    for name, title in titles.items():
        page = blocks(read_html(result.dest / "2020" / "01" / "02" / f"{name}.html"))
        # Liquid prints a variable's value without evaluating "{{" in it again.
        assert ("h1", title) in page, (name, title)
        if flavour == "plain":
            assert ("title", title) in page
    index = blocks(read_html(result.dest / "index.html"))
    # minima puts whitespace around the title inside the link
    listed = {text.strip() for tag, text in index if tag == "a"}
    assert {t.strip() for t in [*titles.values(), MAIN_TITLE]} <= listed


@needs_jekyll
def test_minima_feed_and_sitemap_are_well_formed(site_builds) -> None:
    _, result, titles = site_builds("minima")
    assert result.ok, result
    atom = "{http://www.w3.org/2005/Atom}"
    feed = ET.parse(result.dest / "feed.xml").getroot()
    assert len(feed.findall(f"{atom}entry")) == min(10, len(titles) + 1)  # feed keeps 10
    sitemap = ET.parse(result.dest / "sitemap.xml").getroot()
    locs = [e.text or "" for e in sitemap.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert any(loc.endswith(f"{BASEURL}/2020/01/01/hostile.html") for loc in locs)


@pytest.fixture(scope="module")
def browser():
    if not sitecheck.have_chromium():
        pytest.skip("needs Debian's chromium and PyPI playwright")
    with sitecheck.ChromiumSession() as session:
        yield session


@needs_jekyll
@needs_chromium
def test_hostile_pages_run_no_script_in_chromium(built_site, browser) -> None:
    _, result, _ = built_site
    assert result.ok, result
    with sitecheck.serve_dir(result.dest, BASEURL) as url:
        # the post with every sample, and the index listing every hostile title
        for path in ["2020/01/01/hostile.html", ""]:
            report = browser.open(url + path)
            assert not report.pwned, report
            assert report.problems == [], report
            assert report.title  # the page really loaded


@needs_jekyll
def test_seo_tag_markdownifies_titles(tmp_path: Path) -> None:
    """minima's <h1> prints the title literally, but jekyll-seo-tag's <title> and og:title run
    it through kramdown and strip_html: Markdown in a title is lost there, and kramdown warns
    about it (only shown with show_warnings). Titles should avoid Markdown syntax."""
    site = tmp_path / "seo"
    (site / "_posts").mkdir(parents=True)
    (site / "_config.yml").write_text('title: "t"\ntheme: minima\n', encoding="utf-8")
    title = "a_b *stars* <b>bold"
    (site / "_posts" / "2020-01-01-a.md").write_text(_post(title, "x", 1), "utf-8")
    result = sitecheck.jekyll_build(site)
    assert result.returncode == 0
    # once for <title>, once for og:title
    assert set(result.problems) == {
        "Kramdown warning: Found no end tag for 'b' (line 1) - auto-closing it"
    }
    page = blocks(read_html(site / "_site" / "2020" / "01" / "01" / "a.html"))
    assert ("h1", title) in page
    assert ("title", "a_b stars bold | t") in page


# --- the checks themselves can fail -----------------------------------------------------------


@needs_jekyll
def test_sitecheck_reports_what_exit_code_zero_hides(tmp_path: Path) -> None:
    site = tmp_path / "warn"
    (site / "_posts").mkdir(parents=True)
    (site / "_layouts").mkdir()
    (site / "_layouts" / "post.html").write_text(PLAIN_LAYOUT, encoding="utf-8")
    (site / "_config.yml").write_text('title: "t"\n', encoding="utf-8")
    posts = site / "_posts"
    (posts / "2020-01-01-liquid.md").write_text(_post("a", "x {{'a': 1}} y", 1), "utf-8")
    (posts / "2020-01-02-layout.md").write_text(_post("b", "x", 2, layout="nope"), "utf-8")
    (posts / "2999-01-01-future.md").write_text(_post("c", "x", 1, year=2999), "utf-8")
    (posts / "2020-01-03-table.md").write_text(_post("d", "x\n\n| a |\n|---|\n", 3), "utf-8")
    result = sitecheck.jekyll_build(site)
    assert result.returncode == 0  # Jekyll itself calls this a success
    assert not result.ok
    text = "\n".join(result.problems)
    assert "Liquid Warning" in text
    assert "Layout 'nope'" in text
    assert "future date" in text
    assert "Kramdown warning" in text
    assert not (site / ".jekyll-cache").exists()


@needs_jekyll
def test_sitecheck_reports_fatal_liquid_and_yaml_errors(tmp_path: Path) -> None:
    site = tmp_path / "fatal"
    (site / "_posts").mkdir(parents=True)
    (site / "_config.yml").write_text('title: "t"\n', encoding="utf-8")
    (site / "_posts" / "2020-01-01-a.md").write_text(_post("a", "%d: {%d}", 1), "utf-8")
    result = sitecheck.jekyll_build(site)
    assert result.returncode != 0 and not result.ok
    assert any("Liquid" in p for p in result.problems), result
    (site / "_posts" / "2020-01-01-a.md").write_text(
        '---\ntitle: Résumé: "Loss"\n---\nx\n', "utf-8"
    )
    result = sitecheck.jekyll_build(site)
    assert not result.ok and any("YAML Exception" in p for p in result.problems), result


@needs_chromium
def test_sitecheck_sees_script_errors_and_outside_requests(tmp_path: Path, browser) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        "<!DOCTYPE html><html><head><title>t</title></head><body>"
        "<img src='missing.png'><img src='https://example.com/x.png'>"
        "<script>window.__pwned = 1; console.error('boom')</script></body></html>",
        encoding="utf-8",
    )
    report = browser.open(page.as_uri())
    assert report.pwned and report.markers == {"__pwned": "1"}
    assert report.blocked_requests == ["https://example.com/x.png"]
    assert any("missing.png" in f for f in report.failed_requests)
    assert any("boom" in e for e in report.console_errors)
    assert {i.src.rsplit("/", 1)[-1]: i.natural_width for i in report.images} == {
        "missing.png": 0,
        "x.png": 0,
    }


# --- whole outputs: Markdown for GitHub, tbreport ls ----------------------------------------

HOSTILE_RUN_NAMES = ["@octocat run", "@org/team", "www.evil.example", "x\u202egnp.exe"]
HOSTILE_TAG_NAMES = [
    "ping/@octocat https://evil.example/x", "mail/me@example.com", "nul/a\x00b", "ref/#12 GH-3",
]  # fmt: skip


@pytest.fixture(scope="module")
def linky_logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from torch.utils.tensorboard import SummaryWriter

    root = tmp_path_factory.mktemp("linky") / "runs"
    for r, name in enumerate(HOSTILE_RUN_NAMES):
        w = SummaryWriter(log_dir=str(root / name))
        for step in range(5):
            for t, tag in enumerate(HOSTILE_TAG_NAMES):
                w.add_scalar(tag, step * (r + 1) + t, step)
        w.close()
    return root


def test_markdown_report_mentions_no_one_and_links_nothing(tmp_path: Path, linky_logdir) -> None:
    from tbreport.options import make_options
    from tbreport.pipeline import build

    options = {
        "runs_dir": str(linky_logdir),
        "out": str(tmp_path / "md"),
        "date": "2021-05-24 20:41:00 -0400",
        "quiet": True,
        "format": "markdown",
        "baseline": "^www",
    }
    build(make_options(options, {}, None))
    text = (tmp_path / "md" / "report.md").read_text(encoding="utf-8")
    view = github_view(text)
    assert view.links == []
    assert not [node for node in view.text if _MENTION.search(node)]
    shown = "".join(view.text).replace("\u200b", "")
    assert not set(BIDI_CONTROLS) & set(text)
    for name in ["@octocat run", "@org/team", "www.evil.example", "xgnp.exe"]:
        assert name in shown, name
    for tag in ["ping/@octocat https://evil.example/x", "mail/me@example.com", "nul/a\u2400b",
                "ref/#12 GH-3"]:  # fmt: skip
        assert tag in shown, tag


def test_ls_text_shows_bidi_controls_as_escapes(linky_logdir) -> None:
    from tbreport.listing import to_text
    from tbreport.read import read_logdir

    text = to_text(read_logdir(linky_logdir))
    assert not set(BIDI_CONTROLS) & set(text) and "\x00" not in text
    assert "x\\u202egnp.exe" in text and "nul/a\\x00b" in text
