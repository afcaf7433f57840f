"""PR curves kind, report elements: per ``pr_curves`` tag, each run's precision-recall curve at
its last step (only that record is read), decoded as TensorBoard's pr_curves plugin does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tbreport.kinds.media import Refused, standing, tensor_shape
from tbreport.model import WARNING, DataWarning, Run, TagRecords
from tbreport.names import section_of

if TYPE_CHECKING:
    from tbreport.kinds import KindContext

#: rows of the plugin's ``[6, thresholds]`` tensor, in order
ROWS = ("tp", "fp", "tn", "fn", "precision", "recall")


@dataclass(frozen=True)
class PRCurve:
    """One run's curve at one step: ``values`` is the tensor as written, ``[6, thresholds]``."""

    run: str
    color: str
    step: int
    wall_time: float
    values: np.ndarray
    #: steps recorded for the tag in this run (the chart shows the last)
    recorded: int

    @property
    def thresholds(self) -> np.ndarray:
        # the plugin's thresholds, i / (num_thresholds - 1), computed as it does
        n = self.values.shape[1]
        return np.arange(n) / (n - 1) if n > 1 else np.zeros(n)

    @property
    def precision(self) -> np.ndarray:
        return self.values[4]

    @property
    def recall(self) -> np.ndarray:
        return self.values[5]


@dataclass(frozen=True)
class PRChart:
    """One ``pr_curves`` tag: every run's curve at its last step."""

    tag: str
    section: str
    slug: str
    curves: tuple[PRCurve, ...]
    kind: str = "pr_curves"
    #: what the report shows for the tag (build --json)
    shown: tuple[str, ...] = ("chart", "table")


def decode_pr(value: Any) -> np.ndarray:  # value: Summary.Value
    """The ``[6, thresholds]`` float64 array of a pr_curves value as TensorBoard's make_ndarray
    reads it; Refused says why a tensor is not one."""
    from tensorboard.util import tensor_util

    not_pr = "it is not a [6, thresholds] tensor of numbers (TP, FP, TN, FN, precision, recall)"
    tensor_shape(value.tensor, "PR curve")  # before make_ndarray fills a shape of a billion
    try:
        array = tensor_util.make_ndarray(value.tensor)
    except (TypeError, ValueError):  # an unknown dtype, or content that does not fit the shape
        raise Refused(not_pr) from None
    if array.ndim != 2 or array.shape[0] != len(ROWS) or array.dtype.kind not in "fiu":
        raise Refused(not_pr)
    return array.astype(np.float64)


def elements(ctx: KindContext) -> list[PRChart]:
    out = []
    for tag in ctx.tags:
        curves = []
        for run in ctx.runs:
            records = run.tensors.get(tag)
            if records is None or records.plugin != "pr_curves" or not len(records):
                continue
            curve = _last_curve(run, tag, records, ctx)
            if curve is not None:
                curves.append(curve)
        if curves:
            out.append(PRChart(tag, section_of(tag), ctx.slugs[tag], tuple(curves)))
    return out


def _last_curve(run: Run, tag: str, records: TagRecords, ctx: KindContext) -> PRCurve | None:
    """The curve of the run's last step (TensorBoard's restart rule decides which record stands
    for it), or None with a warning when its tensor is not ``[6, thresholds]``."""
    from tbreport.read.events import load_values

    pos = int(standing(records, ctx.options.restarts)[-1])
    path, offset = run.files[int(records.files[pos])], int(records.offsets[pos])
    ((step, wall_time, value),) = load_values(path, [offset], [int(records.values[pos])])
    try:
        values = decode_pr(value)
    except Refused as why:
        ctx.warnings.append(
            DataWarning(
                "pr-curve-not-shown",
                f"Event file '{path}': the {tag!r} record at byte offset {offset} (step "
                f"{step}): {why}; run {run.name!r} has no curve in the chart. Write PR "
                "curves with add_pr_curve or the pr_curve summary op.",
                path=path,
                offset=offset,
                run=run.name,
                tag=tag,
                severity=WARNING,
            )
        )
        return None
    return PRCurve(
        run.name, ctx.colors[run.name], int(step), float(wall_time), values, len(records)
    )
