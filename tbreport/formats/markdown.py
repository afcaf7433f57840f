"""The Markdown format, for GitHub: a Report in, ``report.md`` for a PR comment or job summary.

The text is made of whole blocks (header, comparison table, the runs table past 9 runs, one
block per tag, data notes). When it is over GitHub's limit, blocks are dropped in a fixed order,
never a table in half: chart images first, then the data notes, then per-tag tables from the
last one back, then the runs table, then the comparison table; the output says what was left
out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tbreport.errors import TbreportError
from tbreport.formats import Artifacts, Rendered, context, figures
from tbreport.formats.render import Renderer
from tbreport.model import Report
from tbreport.options import Options
from tbreport.output import OutputFile

#: GitHub's limits: a PR comment holds 65,536 characters, a job summary 1 MiB per step
COMMENT_LIMIT = 65_000
SUMMARY_LIMIT = 1024 * 1024


@dataclass(frozen=True)
class Shortened:
    """Markdown text cut to a size limit."""

    text: str
    #: what was left out to fit, in the order it was dropped
    dropped: tuple[str, ...]


def _size(text: str, job_summary: bool) -> int:
    return len(text.encode("utf-8")) if job_summary else len(text)


def render_summary(
    report: Report, options: Options, figures: Sequence[dict], context: dict, image_ext: str
) -> Shortened:
    env = Renderer.of(options).environment(autoescape=False)
    module: Any = env.get_template("summary.md.j2").module  # the template's macros
    header = str(
        module.header(
            report,
            options.marker_id,
            context["span"],
            context["tag_count"],
            context["points"],
            options,
        )  # type: ignore[attr-defined]
    )
    comparison = str(module.comparison(report)) if report.comparison else ""  # type: ignore[attr-defined]
    base = options.image_base_url

    def tag_blocks(images: bool) -> list[str]:
        return [
            str(
                module.tag_block(
                    f, f"{base}{f['chart'].slug}.{image_ext}" if images and base else None
                )
            )  # type: ignore[attr-defined]
            for f in figures
        ]

    # the opening sentence names at most 9 runs and says the others are "listed under Runs"
    runs = str(module.runs(report, context["runs_table"])) if len(report.runs) > 9 else ""  # type: ignore[attr-defined]
    notes_full = str(module.notes(report)) if report.warnings else ""  # type: ignore[attr-defined]
    notes_short = str(module.notes_count(report)) if report.warnings else ""  # type: ignore[attr-defined]
    comparison_changed = (
        str(module.comparison(report, changed_only=True)) if report.comparison else ""  # type: ignore[attr-defined]
    )
    footer = str(module.footer())  # type: ignore[attr-defined]
    limit = SUMMARY_LIMIT if options.job_summary else COMMENT_LIMIT
    unit = (
        "bytes (GitHub's job summary limit)"
        if options.job_summary
        else "characters (GitHub's comment limit)"
    )
    with_images = tag_blocks(images=True)
    without_images = tag_blocks(images=False) if base else with_images
    total = len(figures)

    def size(text: str) -> int:
        return _size(text, options.job_summary)

    def join(blocks: list[str], dropped: list[str]) -> str:
        parts = [b.strip("\n") for b in blocks if b.strip()]
        if dropped:
            parts.append(str(module.shortened(f"{limit:,}", unit, dropped)).strip())  # type: ignore[attr-defined]
        parts.append(footer.strip())
        return "\n\n".join(parts) + "\n"

    # each stage drops one more detail than the one before
    stages = [_Stage((), with_images, notes_full, comparison, runs)]
    if base:
        stages.append(_Stage(("chart images",), without_images, notes_full, comparison, runs))
    dropped_notes = (f"{len(report.warnings)} data note(s)",) if notes_full else ()
    stages.append(
        _Stage(stages[-1].dropped + dropped_notes, without_images, notes_short, comparison, runs)
    )
    # Within a stage, as many tag tables as fit are kept (from the first) from this stage on;
    # tag tables go before the runs table does, and before any part of the comparison table.
    notes_stage = len(stages) - 1
    if runs:
        stages.append(
            _Stage((*stages[-1].dropped, "the runs table"), without_images, notes_short, comparison)
        )
    if comparison:
        unchanged = "unchanged and not judged tags from the comparison table"
        stages.append(
            _Stage(
                (*stages[-1].dropped, unchanged), without_images, notes_short, comparison_changed
            )
        )
        whole = "the comparison table (the verdict line sums it up)"
        stages.append(_Stage((*stages[-1].dropped[:-1], whole), without_images, notes_short, ""))
    for index, stage in enumerate(stages):
        dropped, blocks = list(stage.dropped), stage.blocks

        def make(k: int, st: _Stage = stage) -> str:
            extra = [f"{total - k} of {total} tag tables"] if k < total else []
            return join(
                [header, st.comparison, st.runs, *st.blocks[:k], st.notes], [*st.dropped, *extra]
            )

        kept = _tables_that_fit(make, len(blocks), size, limit)
        if kept == total or (kept is not None and index >= notes_stage):
            text = make(kept)
            extra = [f"{total - kept} of {total} tag tables"] if kept < total else []
            return Shortened(text, tuple([*dropped, *extra]))
    dropped = [*stages[-1].dropped, f"{total} of {total} tag tables"]
    return Shortened(join([header], dropped), tuple(dropped))


def render_page(
    report: Report, options: Options, figures: list[dict], context: dict, image_ext: str
) -> Shortened:
    """A ``--source`` post as report.md: its parts as blocks, joined as the default report's
    are. Its blocks are the author's choice, so none is dropped: over GitHub's limit it fails."""
    from tbreport.formats.page import items, page_of

    env = Renderer.of(options).environment(autoescape=False)
    module: Any = env.get_template("summary.md.j2").module
    base = options.image_base_url

    def figure_blocks(item: dict) -> list[str]:
        blocks = []
        for f in item["figures"]:
            url = f"{base}{f['chart'].slug}.{image_ext}" if base else None
            blocks.append(str(module.tag_block(f, url)))
            if f["caption"] is not None:  # the author's words under the tag's table
                blocks.append(f["caption"])
        return blocks

    def render(item: dict) -> list[str]:
        kind = item["kind"]
        if kind == "summary":
            span = context["span"]
            return [str(module.summary(report, span, context["tag_count"], context["points"]))]
        if kind == "verdict":
            return [str(module.verdict(report, options))]
        if kind == "runs":
            return [str(module.run_list(item["runs"]))]
        if kind == "notes":
            return [str(module.all_notes(report))]
        if kind == "section":
            inner = [block for child in item["children"] for block in render(child)]
            return [str(module.section(item["name"])), *inner]
        if kind == "figures":
            return figure_blocks(item)
        if kind == "table":
            return [str(module.table(item))]
        if kind == "prose":
            return [item["text"]]
        return []  # contents, controls: nothing in a PR comment

    blocks = [str(module.title(report, options.marker_id))]
    for item in items(report, page_of(report, "markdown"), figures, "markdown"):
        blocks.extend(render(item))
    blocks.append(str(module.footer()))
    text = "\n\n".join(b.strip("\n") for b in blocks if b.strip()) + "\n"
    limit = SUMMARY_LIMIT if options.job_summary else COMMENT_LIMIT
    if _size(text, options.job_summary) > limit:
        # a job summary's limit is in bytes (UTF-8), a comment's in characters
        unit, what = ("bytes", "job summary") if options.job_summary else ("characters", "comment")
        raise TbreportError(
            f"{options.source}: the post is {_size(text, options.job_summary):,} {unit}, over "
            f"GitHub's {what} limit of {limit:,}; shorten it or show fewer blocks (a source is "
            "never shortened)."
        )
    return Shortened(text, ())


@dataclass(frozen=True)
class _Stage:
    """One way of shortening the report: what it leaves out and the blocks it keeps."""

    #: what this stage leaves out, in the order it was dropped
    dropped: tuple[str, ...]
    #: the tag blocks (with or without images)
    blocks: list[str]
    #: the data notes block (full, or a one-line count)
    notes: str
    #: the comparison table (whole, only changed rows, or none)
    comparison: str
    #: the runs table (its first --top-runs rows), or none
    runs: str = ""


def _tables_that_fit(make, count: int, size, limit: int) -> int | None:
    """The largest k for which make(k) fits (sizes grow with k), None if even 0 does not."""
    if size(make(0)) > limit:
        return None
    lo, hi = 0, count
    while lo < hi:  # binary search: O(log n) renders instead of one per table
        mid = (lo + hi + 1) // 2
        if size(make(mid)) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


class Markdown:
    name = "markdown"

    def needs(self, options: Options) -> frozenset[str]:
        # no image links without a host for them: nothing to draw
        return frozenset({"images"}) if options.image_base_url else frozenset()

    def check(self, report: Report, options: Options, now: dt.datetime | None) -> None:
        pass

    def render(self, report: Report, options: Options, artifacts: Artifacts) -> Rendered:
        ext = options.image_format
        names = [f"{chart.slug}.{ext}" for chart in report.charts]
        base = options.image_base_url
        # an element's own files are linked only where --image-base-url hosts them
        media = artifacts.files if base else ()
        file_urls = [{m.name: f"{base}{m.name}" for m in ms} for ms in media] or None
        figs = figures(report, names, ["" for _ in report.charts], file_urls)
        ctx = context(report, options, figs)
        if report.page:
            summary = render_page(report, options, figs, ctx, ext)
        else:
            summary = render_summary(report, options, figs, ctx, ext)
        files = [OutputFile("report.md", summary.text.encode("utf-8"))]
        # drawn only for hosting where --image-base-url points (publish --prefix)
        files.extend(
            OutputFile(n, img) for n, img in zip(names, artifacts.images, strict=False) if img
        )
        files.extend(OutputFile(m.name, m.data) for ms in media for m in ms)
        return Rendered(
            tuple(files),
            manifest_key="markdown",
            shortened=summary.dropped,
            job_summary=summary.text if options.job_summary else None,
        )


FORMAT = Markdown()
