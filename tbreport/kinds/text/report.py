"""Text kind, report elements: a TextPanel per ``text`` tag from the runs' records (only the
records shown are read: each run's latest step and up to EARLIER_STEPS before it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tbreport.model import Run, TagRecords
from tbreport.names import section_of

if TYPE_CHECKING:
    from tbreport.kinds import KindContext

#: earlier steps shown (collapsed) per run, newest first; older ones are counted
EARLIER_STEPS = 10


@dataclass(frozen=True)
class TextStep:
    step: int
    wall_time: float
    #: sanitised HTML (TensorBoard's rendering)
    html: str
    #: the text as written (cells joined by " | ", rows by newlines), for plain outputs
    plain: str
    #: the tensor's shape: () one text, (n,) a list, (r, c) a table
    shape: tuple[int, ...]
    #: for a table, its cells as written (report.md shows a GFM table)
    cells: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class TextRun:
    run: str
    color: str
    latest: TextStep
    #: earlier steps shown, newest first
    earlier: tuple[TextStep, ...]
    #: steps older than those shown
    omitted: int

    @property
    def steps(self) -> int:
        return 1 + len(self.earlier) + self.omitted


@dataclass(frozen=True)
class TextPanel:
    """One text tag: each run's latest text, its earlier steps collapsed."""

    tag: str
    section: str
    slug: str
    runs: tuple[TextRun, ...]
    kind: str = "text"
    #: what the report shows for the tag (build --json)
    shown: tuple[str, ...] = ("text",)


def elements(ctx: KindContext) -> list[TextPanel]:
    out = []
    for tag in ctx.tags:
        runs = [
            _text_run(run, run.tensors[tag], ctx.colors[run.name])
            for run in ctx.runs
            if tag in run.tensors and run.tensors[tag].plugin == "text"
        ]
        if runs:
            out.append(TextPanel(tag, section_of(tag), ctx.slugs[tag], tuple(runs)))
    return out


def _text_run(run: Run, records: TagRecords, color: str) -> TextRun:
    count = len(records)
    picks = list(range(count - 1, max(-1, count - 2 - EARLIER_STEPS), -1))  # newest first
    steps = [_text_step(*value) for value in _load(run, records, picks)]
    return TextRun(run.name, color, steps[0], tuple(steps[1:]), omitted=count - len(picks))


def _load(run: Run, records: TagRecords, picks: Sequence[int]) -> list[tuple[int, float, Any]]:
    """The values of the records at ``picks`` (indices into ``records``), in that order."""
    from tbreport.read.events import load_values

    by_file: dict[int, list[int]] = {}
    for i in picks:
        by_file.setdefault(int(records.files[i]), []).append(i)
    found: dict[int, tuple[int, float, Any]] = {}
    for file_no, idx in by_file.items():
        values = load_values(
            run.files[file_no], records.offsets[idx].tolist(), records.values[idx].tolist()
        )
        found.update(zip(idx, values, strict=True))
    return [found[i] for i in picks]


def decode_texts(value: Any) -> np.ndarray:  # value: Summary.Value
    """The value's strings as TensorBoard's text plugin sees them (UTF-8, reduced to 2-D)."""
    from tensorboard.util import tensor_util

    array = tensor_util.make_ndarray(value.tensor)
    flat = [t.decode("utf-8", "replace") if isinstance(t, bytes) else str(t) for t in array.ravel()]
    texts = np.array(flat, dtype=object).reshape(array.shape)
    if texts.ndim > 2:  # TensorBoard's reduce_to_2d: the first 2-D slice
        texts = texts[(0,) * (texts.ndim - 2)]
    return texts


def _text_step(step: int, wall_time: float, value: Any) -> TextStep:
    texts = decode_texts(value)
    # markdown and nh3 only when a report holds text
    from tbreport.kinds.text.render import to_html, to_plain

    html = to_html(texts)
    cells: tuple[tuple[str, ...], ...] = ()
    if texts.ndim:
        rows = texts.reshape(-1, 1) if texts.ndim == 1 else texts
        cells = tuple(tuple(str(c) for c in row) for row in rows)
    return TextStep(
        step=int(step),
        wall_time=float(wall_time),
        html=html,
        plain=to_plain(texts),
        shape=tuple(int(d) for d in texts.shape),
        cells=cells,
    )
