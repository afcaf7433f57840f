"""Render stage, the page: a report's parts in order (a ``--source`` post, or the default page
every format draws) made into what the page templates show, and written back as a source.

The default report is a page too (:func:`default_page`), rendered by the same templates
(``templates/page/``), so ``tbreport draft`` (:func:`draft`) writes a post that builds to the
same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

from tbreport.formats.escape import yaml_str
from tbreport.formatting import format_number
from tbreport.model import Chart, Part, Report
from tbreport.options import Options
from tbreport.source import block_text, front_matter_text, placeholder, yaml_value

#: the formats whose default page lists its sections (the HTML report's contents)
_CONTENTS = ("html",)


def default_page(report: Report, fmt: str) -> tuple[Part, ...]:
    """The page a format draws without a ``--source``: what ``tbreport draft`` writes."""
    parts = [Part("summary")]
    if report.comparison is not None:
        parts.append(Part("verdict"))
    if fmt == "markdown":  # a PR comment: the tags' tables, no sections or runs table
        parts.append(Part("figures", figures=tuple(range(len(report.charts)))))
        if report.warnings:
            parts.append(Part("notes"))
        return tuple(parts)
    parts.append(Part("runs"))
    if fmt in _CONTENTS and len(report.sections) > 1:
        parts.append(Part("contents"))
    index = 0
    for section in report.sections:
        figures = tuple(range(index, index + len(section.charts)))
        index += len(section.charts)
        inner = (Part("figures", figures=figures),)
        parts.append(Part("section", text=section.name, slug=section.slug, parts=inner))
    parts.append(Part("notes"))
    return tuple(parts)


def page_of(report: Report, fmt: str) -> tuple[Part, ...]:
    """The report's page (its ``--source``) or the default one, with the interactive
    controls after the summary (at the top when there is none)."""
    parts = list(report.page or default_page(report, fmt))
    at = next((i + 1 for i, p in enumerate(parts) if p.kind == "summary"), 0)
    parts.insert(at, Part("controls"))
    return tuple(parts)


#: an HTML report of more charts than this shows sections below its first this many charts
#: folded (a <details> per section, opened by a click, the contents' link or the tag filter)
FOLD_AFTER = 24


def items(
    report: Report, parts: Sequence[Part], figs: list[dict], fmt: str
) -> list[dict[str, Any]]:
    """What the page templates show of each part (``item``): the figures' dicts (with the
    author's captions set in them), the runs listed, a table's rows, prose as written (and as
    HTML for the HTML report)."""
    named = [s for s in _sections(report, figs) if s["section"].slug]
    out = []
    previous = ""
    shown = 0  # figures above this part
    fold = len(figs) > FOLD_AFTER
    for part in parts:
        item = _item(report, part, figs, fmt, named, top=True)
        if part.kind == "section":
            item["gap"] = previous != "section"
            item["children"] = [
                _item(report, p, figs, fmt, named, top=False)
                for p in part.parts
                if p.kind != "prose" or p.text.strip()
            ]
            count = sum(len(c.get("figures", ())) for c in item["children"])
            # a long report opens with its first screens of charts; later sections are folded
            item["folded"] = fold and shown >= FOLD_AFTER
            item["count"] = count
            shown += count
        elif part.kind == "figures":
            shown += len(item["figures"])
        if part.kind == "prose" and not part.text.strip():
            continue  # the blank lines between blocks
        previous = part.kind
        out.append(item)
    return out


def _sections(report: Report, figs: list[dict]) -> list[dict[str, Any]]:
    remaining = iter(figs)
    return [{"section": s, "figures": [next(remaining) for _ in s.charts]} for s in report.sections]


def _item(
    report: Report,
    part: Part,
    figs: list[dict],
    fmt: str,
    sections: list[dict[str, Any]],
    top: bool,
) -> dict[str, Any]:
    item: dict[str, Any] = {"kind": part.kind, "part": part, "top": top}
    if part.kind == "figures":
        for index, caption in zip(part.figures, part.captions, strict=False):
            if caption is not None:
                figs[index]["caption"] = inline_html(caption) if fmt == "html" else caption
                # where a Jekyll post holds HTML (a text figure), the caption as HTML
                figs[index]["caption_html"] = inline_html(caption)
        item["figures"] = [figs[i] for i in part.figures]
    elif part.kind == "runs":
        wanted = part.runs
        item["runs"] = [r for r in report.runs if wanted is None or r.name in wanted]
    elif part.kind == "section":
        item["name"], item["slug"] = part.text, part.slug
    elif part.kind == "contents":
        item["sections"] = sections
    elif part.kind == "prose":
        item["text"] = part.text.strip("\n")
        if fmt == "html":
            item["html"] = prose_html(part.text)
    elif part.kind == "table":
        item.update(table(report, part))
    return item


def _markdown() -> Any:
    import markdown  # type: ignore[import-untyped]  # only for a source's prose

    return markdown.Markdown(
        extensions=["markdown.extensions.tables", "markdown.extensions.fenced_code"]
    )


def prose_html(text: str) -> Markup:
    """The author's Markdown as HTML (their HTML passes through: the post is theirs)."""
    return Markup(_markdown().convert(text.strip("\n")))


def inline_html(text: str) -> Markup:
    html = _markdown().convert(text.strip())
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return Markup(html)


def table(report: Report, part: Part) -> dict[str, Any]:
    """A table block's header and rows: per run, each tag's chosen statistics."""
    if part.compare:
        tags = {c.tag for c in part.elements}
        comparison = report.comparison
        deltas = [
            d
            for verdict in (comparison.tags if comparison is not None else ())
            for d in verdict.deltas
            if d.tag in tags
        ]
        return {"compare": True, "deltas": deltas, "header": [], "rows": []}
    header = [{"tag": c.tag, "stat": stat} for c in part.elements for stat in part.stats]
    colors: dict[str, str] = {}
    cells: dict[str, dict[tuple[str, str], str]] = {}
    for chart in part.elements:
        for line in chart.lines:
            if line.faint:
                continue
            colors.setdefault(line.run, line.color)
            row = cells.setdefault(line.run, {})
            for stat in part.stats:
                row[(chart.tag, stat)] = _stat(chart, line.summary, stat)
    rows = [
        {
            "run": run,
            "color": colors[run],
            "cells": [row.get((h["tag"], h["stat"]), "–") for h in header],
        }
        for run, row in cells.items()
    ]
    return {"compare": False, "deltas": [], "header": header, "rows": rows}


def _stat(chart: Chart, summary: Any, stat: str) -> str:
    if stat == "best":
        stat = {"min": "min", "max": "max"}.get(chart.direction, "")
        if not stat:
            return "–"
    value = getattr(summary, f"{stat}_value")
    step = getattr(summary, f"{stat}_step")
    if value is None:
        return "–"
    return format_number(value) + ("" if step is None else f" ({step})")


# --- the page written back as a source: `tbreport draft` ---------------------------------


#: what each block kind of the draft says to its author
_PROMPTS = {
    "summary": "Write what these runs set out to show; the sentence below sums them up.",
    "runs": "Say how the runs differ (the table lists them).",
    "notes": "Anything the reader should know before trusting the numbers.",
}


def draft(report: Report, fmt: str, options: Options) -> str:
    """The report's default page as a ``--source`` post: front matter, a placeholder for the
    author's words before each part, and a block per part that builds to the default report."""
    front: dict[str, Any] = {
        "title": report.title,
        "date": report.date.strftime("%Y-%m-%d %H:%M:%S %z"),
    }
    if fmt == "jekyll":
        front.update(layout=options.layout, categories=options.categories)
        if options.permalink:
            front["permalink"] = options.permalink
    out = [front_matter_text(front), "\n"]
    elements = report.charts
    number = 0
    for part in default_page(report, fmt):
        if part.kind in _PROMPTS:
            out += [placeholder(_PROMPTS[part.kind]), "\n"]
        if part.kind == "section":
            out += [block_text("section", part.text), "\n"]
            inner: Sequence[Part] = part.parts
        else:
            inner = (part,)
        for p in inner:
            if p.kind != "figures":
                if p.kind != "section":
                    out += [block_text(p.kind, True), "\n"]
                continue
            for kind, tag, count in _groups([elements[i] for i in p.figures]):
                first, number = number + 1, number + count
                shown = f"Fig {first}" if count == 1 else f"Figs {first}-{number}"
                out += [placeholder(f"What should the reader see in {shown}?"), "\n"]
                out += [block_text(kind, tag), "\n"]
    return "".join(out).rstrip("\n") + "\n"


def _groups(elements: Sequence[Any]) -> list[tuple[str, Any, int]]:
    """Consecutive elements of one kind and tag: one block each (``chart: tag``)."""
    from tbreport.source import ELEMENT_BLOCKS

    block_of = {kind: block for block, kind in ELEMENT_BLOCKS.items()}
    out: list[tuple[str, Any, int]] = []
    for element in elements:
        kind = block_of.get(element.kind, element.kind)
        tag: Any = True if element.kind == "hparams" else element.tag
        if out and out[-1][0] == kind and out[-1][1] == tag:
            out[-1] = (kind, tag, out[-1][2] + 1)
        else:
            out.append((kind, tag, 1))
    return out


def front_matter(values: Mapping[str, Any]) -> str:
    """A source's own front matter keys (those that are no option) as YAML lines, strings
    double-quoted as tbreport writes its own (JEKYLL.md)."""
    return "\n".join(
        f"{yaml_value(str(key))}: {yaml_str(v) if isinstance(v, str) else yaml_value(v)}"
        for key, v in values.items()
    )
