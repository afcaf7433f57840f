"""Text kind, report elements: a TextPanel per ``text`` tag from the runs' records (only the
records shown are read: each run's latest step and up to EARLIER_STEPS before it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tbreport.kinds.media import Refused, tensor_shape
from tbreport.model import WARNING, DataWarning, Run, TagRecords
from tbreport.names import section_of

if TYPE_CHECKING:
    from tbreport.kinds import KindContext

#: earlier steps shown (collapsed) per run, newest first; older ones are counted
EARLIER_STEPS = 10
_DT_STRING = 7


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

    @property
    def offline_html(self) -> str:
        """``html`` for a page that loads nothing from the network: images as links."""
        from tbreport.kinds.text.render import offline

        return offline(self.html)


@dataclass(frozen=True)
class TextRun:
    run: str
    color: str
    latest: TextStep
    #: earlier steps shown, newest first
    earlier: tuple[TextStep, ...]
    #: steps older than those shown
    omitted: int
    #: steps among those picked that are not shown (each has a text-not-shown warning)
    refused: int = 0

    @property
    def steps(self) -> int:
        return 1 + len(self.earlier) + self.omitted + self.refused


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
        made = [
            _text_run(run, tag, run.tensors[tag], ctx.colors[run.name], ctx.warnings)
            for run in ctx.runs
            if tag in run.tensors and run.tensors[tag].plugin == "text"
        ]
        runs = tuple(run for run in made if run is not None)
        if runs:
            out.append(TextPanel(tag, section_of(tag), ctx.slugs[tag], runs))
    return out


def _text_run(
    run: Run, tag: str, records: TagRecords, color: str, warnings: list[DataWarning]
) -> TextRun | None:
    """The run's latest steps of ``tag`` that decode (None when none of them does); each one
    that does not gets a ``text-not-shown`` warning naming its file and byte offset."""
    count = len(records)
    picks = list(range(count - 1, max(-1, count - 2 - EARLIER_STEPS), -1))  # newest first
    steps = []
    for i, (step, wall_time, value) in zip(picks, _load(run, records, picks), strict=True):
        try:
            steps.append(_text_step(step, wall_time, value))
        except Refused as why:
            path, offset = run.files[int(records.files[i])], int(records.offsets[i])
            warnings.append(
                DataWarning(
                    "text-not-shown",
                    f"Run '{run.name}', tag '{tag}', step {step}: {why} (record at byte "
                    f"{offset} of '{path}'); it is left out of the report.",
                    path=path,
                    offset=offset,
                    run=run.name,
                    tag=tag,
                    severity=WARNING,
                )
            )
    if not steps:
        return None
    return TextRun(
        run.name,
        color,
        steps[0],
        tuple(steps[1:]),
        omitted=count - len(picks),
        refused=len(picks) - len(steps),
    )


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
    """The value's strings as TensorBoard's text plugin sees them (UTF-8, reduced to 2-D).
    Refused says why a value cannot be shown: not a string tensor, a shape that is not one or
    that declares far more cells than the record holds (see tbreport.kinds.media.tensor_shape)."""
    from tensorboard.util import tensor_util

    tensor = value.tensor
    if value.WhichOneof("value") != "tensor" or tensor.dtype != _DT_STRING:
        raise Refused("the value is not a text tensor (strings)")
    tensor_shape(tensor, "text")
    try:
        array = tensor_util.make_ndarray(tensor)
    except (TypeError, ValueError) as err:
        raise Refused(f"the text tensor does not decode ({err})") from None
    flat = [t.decode("utf-8", "replace") if isinstance(t, bytes) else str(t) for t in array.ravel()]
    texts = np.array(flat, dtype=object).reshape(array.shape)
    if texts.ndim > 2:  # TensorBoard's reduce_to_2d: the first 2-D slice
        texts = texts[(0,) * (texts.ndim - 2)]
    return texts


def _text_step(step: int, wall_time: float, value: Any) -> TextStep:
    texts = decode_texts(value)
    # markdown and nh3 only when a report holds text
    from tbreport.kinds.text.render import to_html, to_plain

    try:
        html = to_html(texts)
    except RecursionError:  # the markdown package recurses per level of nesting
        raise Refused(
            "its Markdown nests too deeply for the markdown package to render (a list or "
            "quote thousands of levels deep)"
        ) from None
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
