"""Custom scalars kind, report elements: the runs' custom scalars layouts in, one chart per
layout chart out (multiline: every scalar tag matching its regexes, of every run; margin: the
value line with the band between its lower and upper tags), in a section per category.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from tbreport.kinds.scalars.report import _build_chart, _y_range
from tbreport.model import NOTE, WARNING, Chart, DataWarning, Line, Run, Series, TagRecords

if TYPE_CHECKING:
    from tbreport.kinds import KindContext

PLUGIN = "custom_scalars"
MULTILINE, MARGIN = "multiline", "margin"
#: line styles telling the tags of one run apart (the run keeps its colour)
TAG_STYLES = ("solid", "dashed", "dotted", "dashdot")


@dataclass(frozen=True)
class LayoutChart:
    """One chart of a custom scalars layout, drawn as a scalar chart."""

    #: the layout's tag (custom_scalars__config__)
    tag: str
    slug: str
    #: the layout's category title
    section: str
    title: str
    #: "multiline" or "margin"
    layout: str
    #: tag regexes (multiline) or "value, lower, upper" tag triples (margin), as written
    spec: tuple[str, ...]
    #: its lines, one per run and tag, labelled run/tag (``Line.run``)
    chart: Chart
    #: the run and scalar tag of each line
    sources: tuple[tuple[str, str], ...]
    kind: str = "custom_scalars"
    shown: tuple[str, ...] = ("chart",)


def elements(ctx: KindContext) -> list[LayoutChart]:
    layouts = [
        (tag, layout)
        for tag in ctx.tags
        for run in ctx.runs
        if (records := run.tensors.get(tag)) is not None and records.plugin == PLUGIN
        if (layout := _layout(run, tag, records, ctx)) is not None
    ]
    out: list[LayoutChart] = []
    seen: set[bytes] = set()
    for tag, layout in layouts:
        # several runs usually log the same layout: TensorBoard merges them, each chart once
        for category in layout.category:
            for chart in category.chart:
                key = category.title.encode() + b"\0" + chart.SerializeToString(deterministic=True)
                if key in seen:
                    continue
                seen.add(key)
                slug = f"{ctx.slugs[tag]}-{len(out)}"
                made = _chart(tag, slug, category.title or "Custom scalars", chart, ctx)
                if made is not None:
                    out.append(made)
    return out


def _layout(run: Run, tag: str, records: TagRecords, ctx: KindContext) -> Any:
    """The run's last layout (a layout_pb2.Layout), or None with a warning."""
    from google.protobuf.message import DecodeError
    from tensorboard.plugins.custom_scalar import layout_pb2

    from tbreport.read.events import load_values

    pos = len(records) - 1
    path, offset = run.files[int(records.files[pos])], int(records.offsets[pos])
    ((step, _, value),) = load_values(path, [offset], [int(records.values[pos])])
    strings = value.tensor.string_val
    try:
        if len(strings) != 1:
            raise DecodeError(f"{len(strings)} strings instead of one")
        return layout_pb2.Layout.FromString(strings[0])
    except DecodeError as err:
        ctx.warnings.append(
            DataWarning(
                "custom-scalars-undecodable",
                f"Event file '{path}': the {tag!r} record at byte offset {offset} (step {step}) "
                f"is not a serialized custom scalars Layout ({err}); run {run.name!r}'s layout "
                "is not shown. Write layouts with add_custom_scalars or "
                "custom_scalar.summary.pb.",
                path=path,
                offset=offset,
                run=run.name,
                tag=tag,
                severity=WARNING,
            )
        )
        return None


def _chart(tag: str, slug: str, section: str, chart: Any, ctx: KindContext) -> LayoutChart | None:
    scalar_tags = [t for t in ctx.tags if any(t in run.scalars for run in ctx.runs)]
    content = chart.WhichOneof("content")
    picked: list[tuple[str, str | None, str | None]] = []  # value tag, lower, upper
    if content == MULTILINE:
        spec = tuple(chart.multiline.tag)
        patterns = [_compile(p) for p in spec]
        broken = [p for p, compiled in zip(spec, patterns, strict=True) if compiled is None]
        if broken:
            ctx.warnings.append(
                DataWarning(
                    "custom-scalars-bad-regex",
                    f"Custom scalars chart {chart.title or tag!r} (category {section!r}): "
                    f"the tag regex(es) {', '.join(repr(p) for p in broken)} do not compile, "
                    "so they match no tag (TensorBoard's page skips them too).",
                    tag=tag,
                    severity=NOTE,
                )
            )
        picked = [
            (t, None, None)
            for t in scalar_tags
            if any(p is not None and p.search(t) for p in patterns)
        ]
    elif content == MARGIN:
        spec = tuple(f"{s.value}, {s.lower}, {s.upper}" for s in chart.margin.series)
        picked = [
            (s.value, s.lower, s.upper) for s in chart.margin.series if s.value in scalar_tags
        ]
    else:
        return None
    lines: list[Line] = []
    sources: list[tuple[str, str]] = []
    for index, (value_tag, lower, upper) in enumerate(picked):
        drawn = _tag_lines(value_tag, ctx)
        for line in drawn:
            low = high = None
            if lower is not None and upper is not None:
                run = next(r for r in ctx.runs if r.name == line.run)
                low, high = _at(run.scalars.get(lower), line), _at(run.scalars.get(upper), line)
            sources.append((line.run, value_tag))
            lines.append(
                replace(
                    line,
                    run=f"{line.run}/{value_tag}",
                    style=TAG_STYLES[index % len(TAG_STYLES)],
                    trial=None,
                    lower=low,
                    upper=high,
                )
            )
    kept = [line.y for line in lines] + [
        b for line in lines for b in (line.lower, line.upper) if b is not None
    ]
    y_range, clipped = _y_range(
        [line.y for line in lines], kept, ctx.options.ignore_outliers, False
    )
    drawn_chart = Chart(
        tag=chart.title or tag,
        section=section,
        slug=slug,
        lines=tuple(lines),
        x_axis=ctx.options.x_axis,
        log_y=False,
        y_range=y_range,
        ignore_outliers=ctx.options.ignore_outliers,
        smoothing=ctx.options.smoothing,
        direction="none",
        best=None,
        clipped=clipped,
        kind="custom_scalars",
    )
    return LayoutChart(tag, slug, section, chart.title, content, spec, drawn_chart, tuple(sources))


def _tag_lines(tag: str, ctx: KindContext) -> tuple[Line, ...]:
    """The scalars kind's lines of ``tag`` (thinned and smoothed the same way)."""
    chart = _build_chart(
        tag, ctx.runs, ctx.colors, ctx.slugs.get(tag, "tag"), ctx.options, None, None,
        ctx.baseline,
    )  # fmt: skip
    return chart.lines


def _at(series: Series | None, line: Line) -> np.ndarray:
    """The series' values at the line's drawn steps; NaN where it has no point."""
    steps = line.steps if line.steps is not None else np.zeros(0, dtype=np.int64)
    out = np.full(steps.shape[0], np.nan)
    if series is None or not len(series):
        return out
    order = np.argsort(series.steps, kind="stable")
    sorted_steps = series.steps[order]
    where = np.clip(np.searchsorted(sorted_steps, steps), 0, len(sorted_steps) - 1)
    hit = sorted_steps[where] == steps
    out[hit] = series.values[order][where[hit]]
    return out


def _compile(pattern: str) -> re.Pattern[str] | None:
    # TensorBoard's page tests each tag against the regex; one that does not compile matches
    # nothing there either
    try:
        return re.compile(pattern)
    except re.error:
        return None
