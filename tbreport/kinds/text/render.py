"""Text kind, rendering: a string array (rank 0, 1 or 2) in, HTML that is safe to splice into
a page out, made the way TensorBoard's text plugin does (``markdown`` with the tables and fenced
code extensions, then an allow-list sanitiser; arrays as a table of rendered cells).
"""

from __future__ import annotations

import re

import markdown  # type: ignore[import-untyped]
import nh3
import numpy as np

# TensorBoard's allow-list (tensorboard/plugin_util.py), applied with nh3 instead of bleach
ALLOWED_TAGS = frozenset(
    {
        "ul", "ol", "li", "p", "pre", "code", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "br", "strong", "em", "a", "img", "table", "thead", "tbody", "td", "tr", "th",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "title", "alt"}}
#: a link or image with any other URL (javascript:, data:, relative ones) loses its URL
URL_SCHEMES = frozenset({"http", "https", "mailto"})
_URL_ATTRIBUTES = frozenset({"href", "src"})


def _absolute_only(tag: str, attribute: str, value: str) -> str | None:
    # nh3 keeps relative URLs whatever url_schemes says; in a report they would point into
    # the site that hosts it
    if attribute in _URL_ATTRIBUTES:
        scheme, colon, _ = value.strip().partition(":")
        if not colon or scheme.lower() not in URL_SCHEMES:
            return None
    return value


def _markdown(source: str) -> str:
    # a fresh converter per text: Markdown() keeps state (footnotes, references) between calls
    md = markdown.Markdown(
        extensions=["markdown.extensions.tables", "markdown.extensions.fenced_code"]
    )
    return md.convert(source.replace("\x00", ""))


def sanitize(unsafe: str) -> str:
    """Only TensorBoard's tags and attributes survive; scripts and styles lose their content."""
    return nh3.clean(
        unsafe,
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        attribute_filter=_absolute_only,
    )


# an <img> as nh3 writes it (every attribute double-quoted, with "<", ">", "&" and '"' escaped
# in it), and the links around one
_TAGS = re.compile(r"<img\b([^>]*)>|<a\b[^>]*>|</a>")
_ATTRIBUTE = re.compile(r'([a-z]+)="([^"]*)"')


def _image_link(attributes: dict[str, str], in_link: bool) -> str:
    label = f"[image: {attributes['alt']}]" if attributes.get("alt") else "[image]"
    if in_link or "src" not in attributes:  # the link's text; or no http(s) URL was left
        return label
    title = f' title="{attributes["title"]}"' if "title" in attributes else ""
    return f'<a href="{attributes["src"]}"{title}>{label}</a>'


def offline(safe_html: str) -> str:
    """Sanitised HTML (:func:`sanitize`'s) for a page that loads nothing from the network (the
    HTML report, whose Content-Security-Policy allows data: images only): each image becomes a
    link to it saying ``[image: alt]`` (inside a link, that link's text), instead of a broken
    image and a console error."""
    if "<img" not in safe_html:
        return safe_html
    out, depth, at = [], 0, 0
    for m in _TAGS.finditer(safe_html):
        out.append(safe_html[at : m.start()])
        at = m.end()
        if m.group(1) is None:  # a link opens or closes
            depth = max(0, depth + (-1 if m.group().startswith("</") else 1))
            out.append(m.group())
        else:
            out.append(_image_link(dict(_ATTRIBUTE.findall(m.group(1))), depth > 0))
    out.append(safe_html[at:])
    return sanitize("".join(out))


def _table(cells: np.ndarray) -> str:
    """TensorBoard's make_table: a rank-1 array is one column, rank 2 rows of cells, no header."""
    rows = cells.reshape(-1, 1) if cells.ndim == 1 else cells
    body = "".join(
        "<tr>\n" + "".join(f"<td>{cell}</td>\n" for cell in row) + "</tr>\n" for row in rows
    )
    return f"<table>\n<tbody>\n{body}</tbody>\n</table>"


def to_html(texts: np.ndarray) -> str:
    """Sanitised HTML of a rank 0, 1 or 2 array of Markdown strings (cells rendered one by one,
    sanitised once, as TensorBoard does)."""
    if texts.ndim == 0:
        return sanitize(_markdown(str(texts.item())))
    rendered = np.array([_markdown(str(t)) for t in texts.ravel()], dtype=object)
    return sanitize(_table(rendered.reshape(texts.shape)))


def to_plain(texts: np.ndarray) -> str:
    """The text as written, for plain-text outputs and the CSV export."""
    if texts.ndim == 0:
        return str(texts.item())
    rows = texts.reshape(-1, 1) if texts.ndim == 1 else texts
    return "\n".join(" | ".join(str(c) for c in row) for row in rows)
