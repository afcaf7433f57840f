"""Escaping for the render stage: untrusted strings (run names, tags, text summaries, hparam
values) in, text that is inert where it lands out: HTML, kramdown/GFM prose and table cells,
GitHub comments, Liquid, YAML front matter, fenced code and plain-text lines. Pure functions,
registered as Jinja filters (file names and control characters: tbreport.names).

Every rule here was checked against Debian's Jekyll 4.3.1 / Liquid 5.4 / kramdown 2.4 (GFM
input) and stays inside what GitHub Pages (Jekyll 3.10 / Liquid 4) also accepts; see
tests/test_escape.py, which builds real sites with the hostile strings.
"""

from __future__ import annotations

import json
import re

from markupsafe import Markup
from markupsafe import escape as html_escape

from tbreport.names import plain_text, scrub, slug, strip_bidi, unique_slugs, writable

__all__ = [
    "code_fence",
    "gfm_fence",
    "gfm_text",
    "html_liquid",
    "html_name",
    "liquid",
    "md_cell",
    "md_text",
    "plain_text",
    "script_json",
    "slug",
    "strip_bidi",
    "text_line",
    "unique_slugs",
    "yaml_str",
]

# --- HTML -----------------------------------------------------------------------------------


def html_name(s: str) -> Markup:
    """A name for HTML text: :func:`plain_text`, HTML-escaped, inside ``<bdi>`` so that a
    right-to-left name cannot reorder the punctuation and numbers next to it."""
    return Markup("<bdi>%s</bdi>") % html_escape(scrub(s))


def html_run_name(s: str) -> Markup:
    """:func:`html_name` kept on one line (``.run-name``): a run name never breaks mid-word."""
    return Markup('<span class="run-name">%s</span>') % html_name(s)


def md_run_name(s: str) -> str:
    """:func:`md_text` in a span that keeps it on one line (kramdown parses the span's text as
    Markdown, so the escapes hold)."""
    return f'<span style="white-space:nowrap">{md_text(s)}</span>'


#: the HTML report's ``.run-name``, inline: one line, cut with an ellipsis when wider than the page
_LEAD_NAME_STYLE = (
    "white-space:nowrap;display:inline-block;max-width:100%;overflow:hidden;"
    "text-overflow:ellipsis;vertical-align:bottom"
)


def md_lead_name(s: str) -> str:
    """:func:`md_run_name` for running text (a post's opening sentence): a name longer than
    the page is cut with an ellipsis instead of widening the page."""
    return f'<span style="{_LEAD_NAME_STYLE}">{md_text(s)}</span>'


# JSON inside <script type="application/json">: "<" cannot start "</script" or "<!--", ">" and
# "&" are escaped too so the text is inert in any HTML context, and U+2028/U+2029 (line
# terminators to older JavaScript) never appear raw: ensure_ascii writes every non-ASCII
# character, lone surrogates included, as a \u escape.
_SCRIPT_JSON = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def script_json(value: object) -> str:
    """``value`` as compact JSON that is safe as the whole text of a script element."""
    text = json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.translate(_SCRIPT_JSON)


# --- Liquid ---------------------------------------------------------------------------------

# A run of "{" that could open a Liquid tag: two or more, one followed by "%", or one at the
# end (the next text, maybe from the template, could start with "{" or "%").
_LIQUID_OPEN = re.compile(r"\{\{+%?|\{%|\{$")


def liquid(s: str) -> str:
    """Make Liquid 4 and 5 print ``s`` literally, for places where HTML entities do not work
    (fenced code). ``{{`` becomes ``{{ "{{" }}``, ``{%`` becomes ``{{ "{%" }}`` and a trailing
    ``{`` becomes ``{{ "{" }}``; ``}}`` and ``%}`` outside a tag are plain text to Liquid.

    Unlike ``{% raw %}``, this works for any input (raw cannot contain ``{% endraw %}``).
    The result never ends with ``{``, so template text may follow it; do not put a literal
    ``{`` right before it. A double quote never occurs inside the replaced run, so the
    string literal is always well formed.
    """
    return _LIQUID_OPEN.sub(lambda m: '{{ "' + m.group() + '" }}', s)


def html_liquid(s: str) -> str:
    """HTML (already safe) that Liquid prints as it is: braces as character references, which
    HTML reads back as braces in text and attribute values alike. Not for ``<script>`` or
    ``<style>`` content, where references are not decoded. Unlike ``{% raw %}``, works for any
    input, ``{% endraw %}`` included."""
    return str(s).replace("{", "&#123;").replace("}", "&#125;")


def gfm_fence(s: str) -> str:
    """:func:`code_fence` for GitHub (report.md): no Liquid there, so none of its escapes."""
    return code_fence(s, for_liquid=False)


# --- kramdown (GFM input) -------------------------------------------------------------------

# Backslash escapes kramdown's GFM parser understands (ESCAPED_CHARS_GFM) and that we always
# apply: emphasis, code, links, tables, math, strikethrough, headers, quotes (no smart quotes).
_ALWAYS = {
    "*": "\\*",
    "_": "\\_",
    "|": "\\|",
    "$": "\\$",
    "~": "\\~",
    "#": "\\#",
    "!": "\\!",
    '"': '\\"',
    "'": "\\'",
    # Entities where a backslash is not enough:
    # "\\" + newline is a kramdown hard line break, so a trailing backslash becomes an entity;
    "\\": "&#92;",
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    # braces: Liquid ({{, {%) and kramdown IAL/extensions ({:, {::, {#id}); entities keep them
    # away from Liquid with no boundary cases when the template continues with "{{".
    "{": "&#123;",
    "}": "&#125;",
    # kramdown's link-definition regex ("[id]: url" at a line start) ignores backslashes.
    "[": "&#91;",
    "]": "&#93;",
    # the table parser finds code spans before it applies backslash escapes.
    "`": "&#96;",
}
# Characters special only at the start of a line (list, definition, setext, end-of-block).
_AT_START = {
    "-": "\\-",
    "+": "\\+",
    "=": "\\=",
    ":": "\\:",
    "^": "&#94;",
    ".": "\\.",
}
_LINE_BREAKS = re.compile(r"[ \t]*(?:\r\n|\r|\n)(?:[ \t]*(?:\r\n|\r|\n))*[ \t]*")
# "--", "---" (dashes) and "..." (ellipsis) are kramdown typographic symbols; a "-" or "." is
# escaped when it touches another one or either end of the string (so concatenations and a
# line start are safe too).
_DASH_DOT = re.compile(r"-(?=-)|(?<=-)-|\.(?=\.)|(?<=\.)\.|^[-.]|[-.]$")
_ORDERED = re.compile(r"^(\d+)([.)])")
_EDGE_SPACE = re.compile(r"^[ \t]+|[ \t]+$")


def _escape_md(s: str) -> str:
    s = _LINE_BREAKS.sub(" ", scrub(s))
    out: list[str] = []
    dash_dot = {m.start() for m in _DASH_DOT.finditer(s)}
    ordered = _ORDERED.match(s)
    edge = {i for m in _EDGE_SPACE.finditer(s) for i in range(m.start(), m.end())}
    for i, c in enumerate(s):
        if c in _ALWAYS:
            out.append(_ALWAYS[c])
        elif i in edge:
            # leading blanks would start a code block, trailing two spaces a hard break, and a
            # table strips both: entities keep them as typed.
            out.append("&#32;" if c == " " else "&#9;")
        elif i == 0 and c in _AT_START:
            out.append(_AT_START[c])
        elif i in dash_dot:
            out.append("\\" + c)
        elif ordered and i == ordered.end() - 1:
            out.append("\\" + c)  # "1." / "1)" at a line start would be a list
        else:
            out.append(c)
    return "".join(out)


def md_text(s: str) -> str:
    """Escape ``s`` for inline kramdown text: a paragraph, heading, list item, link text or
    table cell, also at a line start and next to other escaped text.

    The result renders as the literal text of ``s``: Markdown syntax, HTML and Liquid in it
    are inert, kramdown's typographic quotes, dashes and ellipses are prevented (``\\"``,
    ``\\'``, ``\\-``, ``\\.``), line breaks collapse to one space, bidirectional controls
    are removed and C0 control characters are shown as Unicode control pictures (U+2400...).
    Braces become ``&#123;``/``&#125;``, which Liquid never sees as tags; Jinja must not
    autoescape it again.
    """
    return _escape_md(s)


def md_cell(s: str) -> str:
    """Escape ``s`` for a GFM table cell: ``|`` stays inside the cell, leading/trailing blanks
    are kept (the table parser would strip them), no line breaks. Today the same as
    :func:`md_text`, whose output is already cell-safe (backticks and backslashes are entities
    because the cell splitter runs before backslash escapes apply)."""
    return _escape_md(s)


# --- GitHub (cmark-gfm and GitHub's mention and autolink filters) ----------------------------

_ZWSP = "\u200b"
# "@" starts a mention (@user, @org/team: GitHub notifies them) and an e-mail autolink; "://"
# and "www." start cmark-gfm's URL autolinks; "#123", "owner/repo#123" and "GH-123" are issue
# references (a link, and a mention in that timeline). A backslash escape does not stop
# them (GitHub finds mentions and references in the rendered text, cmark-gfm e-mails after
# merging text nodes).
_LINK_START = re.compile(r"@|:(?=//)|www(?=\.)|#(?=\d)|(?<![a-z0-9])gh(?=-\d)", re.IGNORECASE)


def gfm_text(s: str) -> str:
    """:func:`md_text` for GitHub (PR comments, job summaries): also no ``@mention``, no
    autolink and no issue reference. A zero-width space (written ``&#8203;``) after every
    ``@``, between ``:`` and ``//``, after ``www`` before ``.``, between ``#`` and a digit and
    after ``GH`` before ``-`` and a digit keeps the name reading the same. Also cell-safe."""
    broken = _LINK_START.sub(lambda m: m.group() + _ZWSP, str(s))
    return _escape_md(broken).replace(_ZWSP, "&#8203;")


def code_fence(s: str, lang: str = "", for_liquid: bool = True) -> str:
    """A fenced code block showing ``s`` verbatim: a backtick fence longer than any backtick
    run inside (so no line can close it), Liquid made inert with :func:`liquid` (unless
    ``for_liquid`` is false: GitHub would show the ``{{ "{{" }}``), CRLF/CR as LF, control
    characters as control pictures. ``lang`` is reduced to ``[A-Za-z0-9_+-]``.
    Returns the block without a final newline; put it on its own lines in the template."""
    body = scrub(s).replace("\r\n", "\n").replace("\r", "\n")
    if body.endswith("\n"):
        body = body[:-1]
    longest = max((len(r) for r in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    info = re.sub(r"[^A-Za-z0-9_+-]", "", lang)
    inner = (liquid(body) if for_liquid else body) + "\n" if body else ""
    return f"{fence}{info}\n{inner}{fence}"


# --- YAML front matter ----------------------------------------------------------------------

_YAML_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\0": "\\0",
    "\a": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\v",
    "\f": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}
# Outside YAML's printable set (or a BOM, which libyaml treats specially): escape as \xNN/\uNNNN.
_YAML_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


def _yaml_escape(m: re.Match[str]) -> str:
    c = m.group()
    if c in _YAML_ESCAPES:
        return _YAML_ESCAPES[c]
    code = ord(c)
    return f"\\x{code:02X}" if code <= 0xFF else f"\\u{code:04X}"


def yaml_str(s: str) -> str:
    """A double-quoted YAML 1.1 scalar that Psych (libyaml) reads back as exactly ``s``.

    Only ``\\``, ``"`` and non-printable characters are escaped; other non-ASCII (accents,
    emoji) stays raw UTF-8 (``json.dumps`` would write surrogate pairs, which Psych rejects).
    Lone surrogates, which cannot be written, become U+FFFD, and bidirectional controls are
    removed (see :func:`strip_bidi`). No raw line break is written, so
    a value cannot end the front matter. Liquid does not re-evaluate a variable's value, so
    ``{{ page.title }}`` prints ``{{ x }}`` in a title literally (checked with Jekyll 4.3); the
    layout must still HTML-escape it (``{{ page.title | escape }}``, as minima does).
    """
    s = writable(strip_bidi(str(s))).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + _YAML_UNPRINTABLE.sub(_yaml_escape, s) + '"'


# --- plain text -----------------------------------------------------------------------------

# What str.splitlines(), editors and terminals take as a line break (besides C0 controls,
# which _scrub already shows as control pictures), with the blanks around it.
_BREAK = "(?:\r\n|[\r\n\x85\u2028\u2029])"
_TEXT_BREAKS = re.compile(f"[ \t]*{_BREAK}(?:[ \t]*{_BREAK})*[ \t]*")
# C1 controls: some terminals read U+009B as CSI, the start of an escape sequence.
_C1 = re.compile("[\x80-\x9f]")


def text_line(s: str) -> str:
    """``s`` as one line of plain text (a text report, a terminal): every run of line breaks
    (CR, LF, NEL, U+2028/U+2029) with the blanks around it becomes one space, C0 controls and
    DEL are shown as control pictures (so ESC cannot start a terminal escape sequence), other
    C1 controls and lone surrogates become U+FFFD."""
    return _C1.sub("\ufffd", _TEXT_BREAKS.sub(" ", scrub(s)))
