"""HParams kind, report elements: the trials in, one table (a row per trial, the varying
hyperparameters, then each metric's final value) and charts of hyperparameters vs metrics out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tbreport.kinds.hparams.decode import Experiment, MetricInfo, format_value
from tbreport.kinds.scalars.directions import direction_of
from tbreport.model import Run, Trial
from tbreport.names import natural_key, unique_slugs

if TYPE_CHECKING:
    from tbreport.kinds import KindContext

#: the tag of the hparams elements: TensorBoard's reserved tag prefix, never a user tag's
TAG = "_hparams_"
#: their section's name, as TensorBoard's tab names it (not the reserved prefix)
SECTION = "HParams"
#: parallel coordinates need this many trials to show a pattern
PARALLEL_MIN_TRIALS = 3


@dataclass(frozen=True)
class Metric:
    label: str
    #: "min", "max" or "none"
    direction: str


@dataclass(frozen=True)
class TrialRow:
    name: str
    color: str
    #: the varying hyperparameters' values (None where the trial lacks the key)
    values: tuple[object, ...]
    #: each metric's final value and its step (None where the trial lacks it)
    metrics: tuple[float | None, ...]
    steps: tuple[int | None, ...]
    #: every hyperparameter of the trial, formatted, in key order
    full: tuple[tuple[str, str], ...]
    status: str | None = None
    group: str = ""


@dataclass(frozen=True)
class HParamsTable:
    slug: str
    #: hyperparameters that differ between trials (table columns)
    columns: tuple[str, ...]
    #: hyperparameters equal in every trial: (key, formatted value)
    common: tuple[tuple[str, str], ...]
    metrics: tuple[Metric, ...]
    #: sorted by the first metric in its direction
    rows: tuple[TrialRow, ...]
    #: draw a parallel-coordinates chart (3 or more trials)
    parallel: bool
    tag: str = TAG
    section: str = SECTION
    kind: str = "hparams"


@dataclass(frozen=True)
class HParamsScatter:
    """The primary metric against one numeric hyperparameter that varies, a point per trial."""

    slug: str
    hparam: str
    metric: Metric
    points: tuple[tuple[str, str, float, float], ...]  # trial, colour, x, y
    log_x: bool
    tag: str = TAG
    section: str = SECTION
    kind: str = "hparams"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _last(run: Run | None, tag: str) -> tuple[float | None, int | None]:
    if run is None or tag not in run.scalars or not len(run.scalars[tag]):
        return None, None
    series = run.scalars[tag]
    return float(series.values[-1]), int(series.steps[-1])


def _join(run: str, group: str) -> str:
    if not group:
        return run
    return group if run == "." else f"{run}/{group}"


def _experiment_for(trial: Trial, experiments: Mapping[str, Experiment]) -> Experiment | None:
    """The trial's own experiment (torch writes one per session), else the nearest above."""
    for name in (trial.session, trial.name):
        if name in experiments:
            return experiments[name]
    owners = [o for o in experiments if o == "." or trial.session.startswith(o + "/")]
    return experiments[max(owners, key=len)] if owners else None


def _metric_cells(
    trials: Sequence[Trial], by_name: Mapping[str, Run], experiments: Mapping[str, Experiment]
) -> tuple[list[tuple[str, str]], dict[str, dict[str, tuple[float | None, int | None]]]]:
    """Metric labels in order and, per trial, each metric's (final value, step). Metrics an
    experiment declares come first (the first of them sorts the table): a trial without any
    (torch's add_hparams with no metrics) shows its scalars, after them."""
    labels: list[str] = []
    declared: set[str] = set()
    tags: dict[str, str] = {}  # label -> tag, for the metric's direction
    cells: dict[str, dict[str, tuple[float | None, int | None]]] = {}
    for trial in trials:
        experiment = _experiment_for(trial, experiments)
        mine: dict[str, tuple[float | None, int | None]] = {}
        infos: Sequence[MetricInfo] = experiment.metrics if experiment else ()
        if infos:
            for info in infos:
                run = by_name.get(_join(trial.session, info.group))
                if run is None and info.group:
                    run = by_name.get(_join(trial.name, info.group))
                value = _last(run, info.tag)
                if value[0] is None and not info.group:  # in any run of the trial
                    for name in trial.runs:
                        value = _last(by_name.get(name), info.tag)
                        if value[0] is not None:
                            break
                tags[info.label] = info.tag
                mine[info.label] = value
                declared.add(info.label)
        else:  # no experiment: the trial's scalars are its metrics
            charted = [by_name[n] for n in trial.runs if n in by_name and by_name[n].scalars]
            for run in charted:
                prefix = run.name[len(trial.name) + 1 :] if run.name != trial.name else ""
                for tag in sorted(run.scalars, key=natural_key):
                    label = f"{prefix}/{tag}" if prefix and len(charted) > 1 else tag
                    mine[label] = _last(run, tag)
                    tags[label] = tag
        for label in mine:
            if label not in labels:
                labels.append(label)
        cells[trial.name] = mine
    labels.sort(key=lambda label: label not in declared)  # stable: first-seen order kept
    return [(label, tags[label]) for label in labels], cells


def elements(ctx: KindContext) -> list[HParamsTable | HParamsScatter]:
    trials = ctx.trials
    if not trials:
        return []
    by_name = {run.name: run for run in (*ctx.runs, *ctx.folded)}
    overrides = dict(ctx.options.directions) if ctx.options.directions else None
    keys = sorted({k for t in trials for k in t.hparams}, key=natural_key)
    columns, common = [], []
    for key in keys:
        values = [t.hparams.get(key, _MISSING) for t in trials]
        if len(trials) > 1 and any(_differ(values[0], v) for v in values[1:]):
            columns.append(key)
        else:
            common.append((key, format_value(values[0])))
    labels, cells = _metric_cells(trials, by_name, ctx.experiments)
    metrics = tuple(Metric(label, direction_of(tag, overrides)) for label, tag in labels)
    rows = [
        TrialRow(
            name=t.name,
            color=ctx.colors.get(t.name, "#777777"),
            values=tuple(t.hparams.get(k) for k in columns),
            metrics=tuple(cells[t.name].get(m.label, (None, None))[0] for m in metrics),
            steps=tuple(cells[t.name].get(m.label, (None, None))[1] for m in metrics),
            full=tuple((k, format_value(v)) for k, v in sorted(t.hparams.items())),
            status=t.status,
            group=t.group,
        )
        for t in trials
    ]
    if metrics and metrics[0].direction != "none":
        sign = 1.0 if metrics[0].direction == "min" else -1.0

        def by_metric(row: TrialRow) -> tuple[bool, float]:
            value = row.metrics[0]
            missing = value is None or not math.isfinite(value)
            return missing, 0.0 if missing else sign * float(value)  # type: ignore[arg-type]

        rows.sort(key=by_metric)  # stable: ties keep name order
    out: list[HParamsTable | HParamsScatter] = [
        HParamsTable(
            slug="hparams--table",
            columns=tuple(columns),
            common=tuple(common),
            metrics=metrics,
            rows=tuple(rows),
            parallel=len(rows) >= PARALLEL_MIN_TRIALS and bool(columns or metrics),
        )
    ]
    if not metrics:
        return out
    numeric = [
        (i, key) for i, key in enumerate(columns)
        if all(v is None or _is_number(v) for v in (r.values[i] for r in rows))
    ]  # fmt: skip
    slugs = unique_slugs([key for _, key in numeric])
    for (i, key), key_slug in zip(numeric, slugs, strict=True):
        points = tuple(
            (r.name, r.color, float(r.values[i]), float(r.metrics[0]))  # type: ignore[arg-type]
            for r in rows
            if r.values[i] is not None and r.metrics[0] is not None
            and math.isfinite(float(r.metrics[0]))  # type: ignore[arg-type]
        )  # fmt: skip
        xs = [p[2] for p in points]
        if len(set(xs)) < 2:
            # the trials with a value of the metric do not vary this hyperparameter (the
            # others logged other metrics): an empty chart, or a single column of points
            continue
        log_x = bool(xs) and min(xs) > 0 and max(xs) / min(xs) >= 100
        out.append(HParamsScatter(f"hparams--scatter-{key_slug}", key, metrics[0], points, log_x))
    return out


_MISSING = object()


def _differ(a: object, b: object) -> bool:
    # True and 1.0 are different hyperparameters even though Python calls them equal
    return type(a) is not type(b) or a != b
