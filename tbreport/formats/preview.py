"""Served pages of ``tbreport serve``: the rendered files of a build in, the pages a browser
gets from the preview server out (a Jekyll post made a plain HTML page, and every HTML page
given the live-reload script that its Content-Security-Policy is widened to allow).

Only the preview server uses this module: ``build`` output never carries the script.
"""

from __future__ import annotations

import html
import json
import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass

import markdown  # type: ignore[import-untyped]
from markupsafe import Markup

from tbreport.formats.interactive import csp_source
from tbreport.formats.render import Renderer, builtin_templates
from tbreport.model import Report
from tbreport.options import Options
from tbreport.output import Rendered

#: where pages listen for new builds (server-sent events), and the server's own state (JSON)
EVENTS_PATH = "/__tbreport/events"
STATUS_PATH = "/__tbreport/status"

#: the formats ``serve`` previews
PREVIEWED = ("html", "jekyll")


@dataclass(frozen=True)
class Served:
    """One file the preview server answers with."""

    data: bytes
    content_type: str


def live_script() -> str:
    return (builtin_templates() / "serve" / "live.js").read_text(encoding="utf-8")


# --- the live-reload script and the policy that allows it -------------------------------------

_CSP_META = re.compile(
    r'(<meta\s+http-equiv="Content-Security-Policy"\s+content=")([^"]*)(")', re.IGNORECASE
)
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_BODY_CLOSE = re.compile(r"</body\s*>", re.IGNORECASE)


def _sources(directives: Mapping[str, list[str]], name: str) -> list[str]:
    """What ``name`` allows today: its own sources, else default-src's (CSP's fallback)."""
    if name in directives:
        return directives[name]
    return list(directives.get("default-src", []))


def allow_live(policy: str, script: str) -> str:
    """``policy`` (a CSP's text) that also runs ``script`` inline and lets it open an
    EventSource to this server, and allows nothing else more than before."""
    directives: dict[str, list[str]] = {}
    for part in html.unescape(policy).split(";"):
        words = part.split()
        if words and words[0].lower() not in directives:  # CSP: the first one counts
            directives[words[0].lower()] = words[1:]
    order = list(directives)
    scripts = [s for s in _sources(directives, "script-src") if s.lower() != "'none'"]
    # with a hash or nonce present 'unsafe-inline' is ignored, so only add one when needed
    hashed = any(s.lower().startswith(("'sha", "'nonce-")) for s in scripts)
    if hashed or "'unsafe-inline'" not in [s.lower() for s in scripts]:
        scripts.append(csp_source(script))
    connect = [s for s in _sources(directives, "connect-src") if s.lower() != "'none'"]
    if "'self'" not in connect and "*" not in connect:
        connect.append("'self'")
    for name, value in (("script-src", scripts), ("connect-src", connect)):
        if name not in directives:
            order.append(name)
        directives[name] = value
    text = "; ".join(" ".join([name, *directives[name]]) for name in order)
    return html.escape(text, quote=False).replace('"', "&quot;")


def live_page(page: str, build: str, error: str | None = None) -> str:
    """An HTML page as served: with the script that reloads it when a build newer than
    ``build`` is ready, allowed by its CSP, and ``error`` (what went wrong, as text) on top."""
    script = live_script()
    page = _CSP_META.sub(lambda m: m[1] + allow_live(m[2], script) + m[3], page)
    if error is not None:
        banner = (
            '<div id="tbreport-serve-error" role="alert" style="background:#ffebe9;'
            "border-bottom:2px solid #cf222e;color:#1f2328;padding:8px 24px;"
            'font-family:sans-serif"><strong>tbreport serve</strong>'
            '<pre style="white-space:pre-wrap;margin:4px 0 0">'
            f"{html.escape(error)}</pre></div>"
        )
        opening = _BODY_OPEN.search(page)
        at = opening.end() if opening else 0
        page = page[:at] + banner + page[at:]
    tag = f'<script data-tbreport-build="{html.escape(build, quote=True)}">{script}</script>'
    closing = list(_BODY_CLOSE.finditer(page))
    at = closing[-1].start() if closing else len(page)
    return page[:at] + tag + "\n" + page[at:]


def waiting_page(options: Options, building: bool) -> str:
    """The page before the first good build: still building, or it failed."""
    source = getattr(options, "source", None)  # --source, where that option exists
    ctx = {"runs_dir": options.runs_dir, "building": building, "source": source}
    return Renderer.of(options).render("serve/waiting.html.j2", ctx, autoescape=True)


# --- a Jekyll post as a plain page -------------------------------------------------------------

_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*\r?\n", re.S | re.M)
_LIQUID = re.compile(r"\{\{-?(.*?)-?\}\}|\{%-?(.*?)-?%\}", re.S)
_ENDRAW = re.compile(r"\{%-?\s*endraw\s*-?%\}")
_STRING = re.compile(r"""\s*(?:'([^']*)'|"([^"]*)")\s*$""")
_NAME = re.compile(r"\s*((?:page|site)(?:\.[A-Za-z0-9_-]+)+)\s*$")
#: the filters the preview applies; ``relative_url`` and ``absolute_url`` give site-root paths
#: because the preview serves the site at /
_URL_FILTERS = {"relative_url", "absolute_url"}
#: characters kramdown takes backslash escapes of; Python-Markdown knows fewer by default, and
#: would show the backslash of the others (md_text escapes for kramdown)
_KRAMDOWN_ESCAPES = list("\\.*_+-`()[]{}#!:|\"'$=<>~")


def front_matter(text: str) -> tuple[dict[str, str], str]:
    """A post's front matter (``key: value`` lines; double-quoted values as YAML/JSON strings)
    and the body after it."""
    match = _FRONT.match(text)
    if match is None:
        return {}, text
    values: dict[str, str] = {}
    for line in match[1].splitlines():
        key, colon, value = line.partition(":")
        if not colon or not key.strip() or key[:1].isspace():
            continue
        value = value.strip()
        if value.startswith('"'):
            try:
                value = str(json.loads(value))
            except ValueError:
                pass
        values[key.strip()] = value
    return values, text[match.end() :]


def _output(expression: str, page: Mapping[str, str]) -> str | None:
    """What a Liquid output tag prints in the preview, or None to show it as written."""
    value, *filters = expression.split("|")
    names = [f.strip() for f in filters]
    literal = _STRING.match(value)
    if literal is not None:
        text = literal[1] if literal[1] is not None else literal[2]
        if not set(names) <= _URL_FILTERS:
            return None
        if names and not text.startswith(("/", "http:", "https:")):
            text = "/" + text
        return text
    name = _NAME.match(value)
    if name is None or names:
        return None
    scope, _, key = name[1].partition(".")
    if scope == "site":
        return "" if key == "baseurl" else None
    # front matter values are the author's or tbreport's escaped ones: shown as text
    return html.escape(page[key]) if key in page else None


def liquid_preview(text: str, page: Mapping[str, str]) -> str:
    """``text`` with the Liquid a tbreport post uses evaluated as Jekyll would at the site
    root: ``{% raw %}`` blocks, string literals (``{{ "{{" }}``), ``relative_url`` and
    ``absolute_url`` of literals, ``page.*`` values and ``site.baseurl``. Other Liquid stays as
    written, so the author sees it."""
    out: list[str] = []
    pos = 0
    while True:
        match = _LIQUID.search(text, pos)
        if match is None:
            out.append(text[pos:])
            return "".join(out)
        out.append(text[pos : match.start()])
        pos = match.end()
        if match[2] is not None:
            if match[2].strip() == "raw":
                end = _ENDRAW.search(text, pos)
                stop = end.start() if end else len(text)
                out.append(text[pos:stop])
                pos = end.end() if end else len(text)
            else:
                out.append(match[0])
            continue
        shown = _output(match[1], page)
        out.append(match[0] if shown is None else shown)


def markdown_html(text: str) -> str:
    """Markdown made HTML for the preview, close to kramdown's GFM input: tables, fenced code,
    raw HTML blocks kept (Markdown inside those marked ``markdown="1"``, as kramdown reads
    them: the post's scrolling table boxes and folded rows), and kramdown's backslash
    escapes."""
    md = markdown.Markdown(
        extensions=[
            "markdown.extensions.tables",
            "markdown.extensions.fenced_code",
            "markdown.extensions.md_in_html",
        ]
    )
    md.ESCAPED_CHARS = sorted(set(md.ESCAPED_CHARS) | set(_KRAMDOWN_ESCAPES))
    return str(md.convert(text))


def content_type(path: str) -> str:
    """The Content-Type a preview answers a file with, by its name."""
    kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return (
        f"{kind}; charset=utf-8"
        if kind.startswith("text/") or kind.endswith(("javascript", "json", "svg+xml"))
        else kind
    )


def served_files(report: Report, options: Options, rendered: Rendered) -> dict[str, Served]:
    """The files of a build as the preview serves them, by URL path without the leading "/":
    the HTML report as ``index.html``; a Jekyll post as a plain page at ``index.html`` and its
    assets at their site paths (nothing Jekyll would not copy: no ``_`` files, no scaffold)."""
    if options.format == "html":
        main = rendered.files[0]
        return {"index.html": Served(main.data, "text/html; charset=utf-8")}
    post = rendered.files[0]
    files = {
        f.path: Served(f.data, content_type(f.path))
        for f in rendered.files[1:]
        if not f.scaffold and not any(part.startswith(("_", ".")) for part in f.path.split("/"))
    }
    page, body = front_matter(post.data.decode("utf-8"))
    ctx = {
        "title": report.title,
        "date": report.date.strftime("%Y-%m-%d %H:%M %z"),
        "post": post.path,
        "layout": page.get("layout", ""),
        "body": Markup(markdown_html(liquid_preview(body, page))),
    }
    text = Renderer.of(options).render("serve/preview.html.j2", ctx, autoescape=True)
    files["index.html"] = Served(text.encode("utf-8"), "text/html; charset=utf-8")
    return files
