"""Report stage for a ``--source`` post: its blocks in, a Report whose page is the post out.

Each block selects elements of the report (or of one built with the block's own options, such
as its smoothing or runs); the elements are renumbered in page order, so figures are numbered
as the post shows them. A block that matches nothing is a named warning, or with ``--strict``
an error naming the source line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tbreport.errors import SourceError
from tbreport.model import (
    Chart,
    DataWarning,
    Element,
    Part,
    Report,
    Section,
    WarningKind,
)
from tbreport.names import did_you_mean, unique_slugs
from tbreport.options import FRONT_MATTER_OPTIONS, Options, coerce
from tbreport.report.colours import run_colors
from tbreport.source import ELEMENT_BLOCKS, OVERRIDES, STATS, Block, Source

#: builds the report for a block's options (the pipeline's build_report, with its logdir)
BuildFn = Callable[[Options], Report]

#: kinds whose element tags are logged tags (a block's report can be built for those alone)
_TAGGED = ("scalars", "histograms", "images", "text", "audio", "pr_curves")


@dataclass
class _Page:
    source: Source
    options: Options
    base: Report
    build: BuildFn
    elements: list[Element] = field(default_factory=list)
    slugs: set[str] = field(default_factory=set)
    warnings: list[DataWarning] = field(default_factory=list)
    reports: dict[tuple[tuple[str, Any], ...], Report] = field(default_factory=dict)

    def where(self, line: int) -> str:
        return f"{self.source.path}:{line}"

    def unmatched(self, line: int, message: str) -> None:
        text = f"{self.where(line)}: {message}"
        if self.options.strict:
            raise SourceError(f"{text} (--strict)")
        self.warnings.append(
            DataWarning(WarningKind.SOURCE_NO_MATCH.value, text, path=self.source.path)
        )

    def add(self, element: Element) -> int:
        """``element``'s figure index, with a slug no earlier element of the page has."""
        slug, n = element.slug, 2
        while slug in self.slugs:
            slug, n = f"{element.slug}-{n}", n + 1
        self.slugs.add(slug)
        if slug != element.slug:
            element = replace(element, slug=slug)  # type: ignore[type-var]
        self.elements.append(element)
        return len(self.elements) - 1


def compose(source: Source, options: Options, base: Report, build: BuildFn) -> Report:
    """The report ``base`` laid out as ``source`` says."""
    page = _Page(source, options, base, build)
    blocks = [b for b in source.parts if isinstance(b, Block)]
    names = [str(b.keys["section"]) for b in blocks if b.kind == "section"]
    section_slugs = iter(unique_slugs(names)) if names else iter(())
    top: list[Part] = []
    section: list[Any] | None = None  # [name, slug, parts]

    def close() -> None:
        nonlocal section
        if section is not None:
            top.append(Part("section", text=section[0], slug=section[1], parts=tuple(section[2])))
            section = None

    for item in source.parts:
        if isinstance(item, str):
            (section[2] if section is not None else top).append(Part("prose", text=item))
            continue
        kind = item.kind
        if kind == "section":
            close()
            section = [str(item.keys["section"]), "section-" + next(section_slugs), []]
        elif kind in ELEMENT_BLOCKS or kind == "table":
            within = None if section is None else section[0]
            part = _table(page, item) if kind == "table" else _figures(page, item, within)
            if part is not None:
                (section[2] if section is not None else top).append(part)
        else:
            close()
            part = _page_part(page, item)
            if part is not None:
                top.append(part)
    close()
    own = tuple(
        (str(k), v)
        for k, v in source.front_matter.items()
        if k not in FRONT_MATTER_OPTIONS and k != "tbreport"
    )
    return replace(
        base,
        sections=_sections(top, page.elements),
        warnings=(*base.warnings, *page.warnings),
        page=tuple(top),
        front_matter=own,
    )


def _sections(top: Sequence[Part], elements: Sequence[Element]) -> tuple[Section, ...]:
    """The page's elements as sections, in page order (a section block's figures in it, others
    in an unnamed section of their own), so ``Report.charts`` is in figure order."""
    out = []
    for part in top:
        inner = part.parts if part.kind == "section" else (part,)
        shown = tuple(elements[i] for p in inner for i in p.figures)
        if part.kind == "section":
            out.append(Section(part.text, part.slug, shown))
        elif shown:
            out.append(Section("", "", shown))
    return tuple(out)


def _page_part(page: _Page, block: Block) -> Part | None:
    kind, value = block.kind, block.keys[block.kind]
    if kind == "verdict" and page.base.comparison is None:
        page.unmatched(block.line, "a verdict block, but there is no baseline (give --baseline).")
    if kind == "runs" and value not in (True, None):
        pattern = _regex(page, block, "runs", _run_patterns(page, block, "runs", value))
        if not _runs_found(page, block, "runs"):
            return None
        return Part("runs", runs=tuple(r.name for r in page.base.runs if pattern.search(r.name)))
    return Part(kind)


def _regex(page: _Page, block: Block, key: str, value: Any) -> re.Pattern[str]:
    try:
        return re.compile(str(value))
    except re.error as err:
        raise SourceError(
            f"{page.where(block.line_of(key))}: {str(value)!r} is not a valid regular "
            f"expression ({err})."
        ) from None


def _run_patterns(page: _Page, block: Block, key: str, value: Any) -> str | None:
    """A ``runs`` or ``exclude_runs`` value as one regex: a regex, a list of them (any of
    them), or for ``runs`` ``true`` (every run, None)."""
    if key == "runs" and value is True:
        return None
    if key == "exclude_runs" and value is False:
        return None
    items = value if isinstance(value, list) else [value]
    if not items or any(isinstance(v, bool | list | dict) or v is None for v in items):
        every = " or `true` (every run)" if key == "runs" else ""
        raise SourceError(
            f"{page.where(block.line_of(key))}: {key} takes a run-name regex, a list of "
            f"them{every}; got {value!r}."
        )
    if len(items) == 1:
        return str(items[0])
    for i, item in enumerate(items):  # each one checked, its error at its own line
        try:
            re.compile(str(item))
        except re.error as err:
            raise SourceError(
                f"{page.where(block.line_of(key, i))}: {str(item)!r} is not a valid regular "
                f"expression ({err})."
            ) from None
    return "|".join(f"(?:{item})" for item in items)


def _runs_found(page: _Page, block: Block, key: str) -> bool:
    """Whether the ``runs`` regexes of a block find runs: each one that finds none is named
    at its line (a list's others still show); False when none finds any."""
    value = block.keys[key]
    items = value if isinstance(value, list) else [value]
    names = [r.name for r in page.base.runs]
    found = False
    for i, item in enumerate(items):
        if any(re.search(str(item), n) for n in names):
            found = True
        else:
            line = block.line_of(key, i if isinstance(value, list) else None)
            page.unmatched(line, f"no run matches {str(item)!r}{did_you_mean(item, names)}.")
    return found


def _patterns(block: Block) -> list[tuple[str, int]] | None:
    """The tags or regexes a block names, each with its source line; None: every tag."""
    value = block.keys[block.kind]
    if value is True or value is None:
        return None
    items = value if isinstance(value, list) else [value]
    return [
        (str(v), block.line_of(block.kind, i if isinstance(value, list) else None))
        for i, v in enumerate(items)
    ]


def _select_tags(page: _Page, block: Block, known: Sequence[str]) -> list[str]:
    """The tags a block names: a tag as written, else the tags a regex matches whole
    (``re.fullmatch``: ``val/los`` is a typo, not every tag holding it)."""
    patterns = _patterns(block)
    if patterns is None:
        return list(dict.fromkeys(known))
    chosen: list[str] = []
    if not patterns:  # `chart: []`
        page.unmatched(block.line_of(block.kind), f"the {block.kind} block names no tag.")
    for pattern, line in patterns:
        if pattern in known:
            found = [pattern]
        else:
            try:
                regex = re.compile(pattern)
            except re.error:
                found = []
            else:
                found = [t for t in dict.fromkeys(known) if regex.fullmatch(t)]
        if not found:
            what = "tag" if block.kind != "hparams" else "hparams element"
            page.unmatched(line, f"no {what} matches {pattern!r}{did_you_mean(pattern, known)}.")
        chosen.extend(t for t in found if t not in chosen)
    return chosen


def _overrides(page: _Page, block: Block) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, name in OVERRIDES.items():
        if key not in block.keys:
            continue
        value = block.keys[key]
        if name in ("runs", "exclude_runs"):
            value = _run_patterns(page, block, key, value)
            if value is None:
                values[name] = None
                continue
        if name == "log_y" and isinstance(value, bool):
            value = "^" if value else None  # "^" matches every tag
            if value is None:
                values[name] = None
                continue
        values[name] = coerce(name, value, f"{page.where(block.line_of(key))}: {key}")
    return values


def _report_for(
    page: _Page, kind: str, tags: Sequence[str], overrides: Mapping[str, Any]
) -> Report:
    if not overrides:
        return page.base
    values = dict(overrides)
    if kind in _TAGGED:  # only what the block shows is built again
        values["tags"] = "^(?:" + "|".join(re.escape(t) for t in tags) + ")$"
    key = tuple(sorted((k, repr(v)) for k, v in values.items()))
    if key not in page.reports:
        page.reports[key] = page.build(replace(page.options, **values))
    return page.reports[key]


def _chosen(page: _Page, block: Block, within: str | None = None) -> list[Element] | None:
    """The elements a block shows, in the order it names their tags (None: nothing matched)."""
    kind = ELEMENT_BLOCKS.get(block.kind, "scalars")
    universe = [e for e in page.base.charts if e.kind == kind]
    known = [e.tag for e in universe]
    if not known:
        page.unmatched(block.line, f"a {block.kind} block, but the runs hold no {kind} data.")
        return None
    tags = _select_tags(page, block, known)
    if not tags:
        return None
    overrides = _overrides(page, block)
    if overrides.get("runs") is not None and not _runs_found(page, block, "runs"):
        return None
    report = _report_for(page, kind, tags, overrides)
    colors = {r.name: r.color for r in page.base.runs}
    elements = []
    for tag in tags:
        for element in report.charts:
            if element.kind == kind and element.tag == tag:
                elements.append(_recolor(element, colors) if overrides else element)
    if not elements:
        page.unmatched(block.line, f"the {block.kind} block shows no data for these runs.")
        return None
    # elements that name their own section (custom scalars categories share a tag): those of
    # the section the block is in, when there are some
    own = [e for e in elements if within is not None and getattr(e, "section", None) == within]
    return own or elements


def _recolor(element: Element, colors: Mapping[str, str]) -> Element:
    """A chart of a block's own report in the post's run colours (the post names each run in
    one colour throughout)."""
    if not isinstance(element, Chart) or element.center is not None:
        return element
    lines = tuple(replace(line, color=colors.get(line.run, line.color)) for line in element.lines)
    return replace(element, lines=lines)


def _figures(page: _Page, block: Block, within: str | None) -> Part | None:
    elements = _chosen(page, block, within)
    if not elements:
        return None
    if block.kind == "chart":
        elements = _shape_charts(page, block, elements)
    caption = block.keys.get("caption")
    caption = None if caption is None else str(caption)
    figures = tuple(page.add(e) for e in elements)
    return Part("figures", figures=figures, captions=tuple(caption for _ in figures))


def _shape_charts(page: _Page, block: Block, elements: list[Element]) -> list[Element]:
    """A chart block's ``y_range`` and ``overlay``."""
    charts: list[Chart] = [e for e in elements if isinstance(e, Chart)]
    if block.keys.get("overlay") and len(charts) > 1:
        merged: Any = _overlay(charts)
        elements = [merged, *(e for e in elements if not isinstance(e, Chart))]
    y_range = block.keys.get("y_range")
    if y_range is not None:
        limits = _limits(page, block, y_range)
        shaped: list[Any] = [
            _with_range(e, limits) if isinstance(e, Chart) else e for e in elements
        ]
        elements = shaped
    return elements


def _limits(page: _Page, block: Block, value: Any) -> tuple[float, float]:
    ok = isinstance(value, list) and len(value) == 2
    try:
        lo, hi = (float(v) for v in value) if ok else (0.0, 0.0)
    except (TypeError, ValueError):
        ok = False
    if not ok or not lo < hi:
        raise SourceError(
            f"{page.where(block.line_of('y_range'))}: y_range must be two numbers, low then "
            f"high, e.g. `y_range: [0, 1]`; got {value!r}."
        )
    return lo, hi


def _with_range(chart: Chart, limits: tuple[float, float]) -> Chart:
    lo, hi = limits
    clipped = 0
    for line in chart.lines:
        finite = line.y[np.isfinite(line.y)]
        clipped += int(np.count_nonzero((finite < lo) | (finite > hi)))
    return replace(chart, y_range=limits, clipped=clipped, fixed_y=True)


def _overlay(charts: list[Chart]) -> Chart:
    """The tags' charts drawn as one: a line per run and tag, each its own colour."""
    first = charts[0]
    tag = ", ".join(c.tag for c in charts)
    named = [(f"{line.run} · {c.tag}", line) for c in charts for line in c.lines]
    colors = run_colors([name for name, _ in named])
    lines = tuple(replace(line, run=name, color=colors[name]) for name, line in named)
    ranges = [c.y_range for c in charts if c.y_range is not None]
    directions = {c.direction for c in charts}
    return replace(
        first,
        tag=tag,
        slug=first.slug + "-overlay",
        lines=lines,
        y_range=(min(r[0] for r in ranges), max(r[1] for r in ranges)) if ranges else None,
        log_y=any(c.log_y for c in charts),
        direction=directions.pop() if len(directions) == 1 else "none",
        best=None,
        undated=sum(c.undated for c in charts),
        clipped=sum(c.clipped for c in charts),
    )


def _table(page: _Page, block: Block) -> Part | None:
    elements = _chosen(page, block)
    if not elements:
        return None
    charts = tuple(e for e in elements if isinstance(e, Chart))
    stats = block.keys.get("stats", ["last", "min", "max"])
    stats = stats if isinstance(stats, list) else [stats]
    for i, stat in enumerate(stats):
        if stat not in STATS:
            raise SourceError(
                f"{page.where(block.line_of('stats', i))}: unknown statistic {stat!r}"
                f"{did_you_mean(stat, STATS)}; a table shows {', '.join(STATS)}."
            )
    compare = bool(block.keys.get("compare"))
    if compare and page.base.comparison is None:
        page.unmatched(
            block.line_of("compare"), "compare: true, but there is no baseline (give --baseline)."
        )
        return None
    if not charts:
        page.unmatched(
            block.line, "the table block names no charted tag (one-value tags have no statistics)."
        )
        return None
    return Part("table", elements=charts, stats=tuple(str(s) for s in stats), compare=compare)
