"""Values passed between stages: runs, scalar series, non-scalar counts and data warnings.

Everything here is a frozen dataclass; arrays are numpy (steps int64, values and wall times
float64) and are never mutated after construction.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

#: wall times that are dates (years 1 to 9999): the range Python's datetime can show
WALL_TIME_MIN = -62135596800.0
WALL_TIME_END = 253402300800.0


def wall_time_ok(times: np.ndarray) -> np.ndarray:
    """True where a wall time is a real date (finite, years 1 to 9999)."""
    return (times >= WALL_TIME_MIN) & (times < WALL_TIME_END)


#: Severities of a data problem. Notes are informational (a writer still running); warnings
#: mean data was lost or looks wrong, and make ``--strict`` fail.
NOTE = "note"
WARNING = "warning"


@dataclass(frozen=True)
class DataWarning:
    """A problem found in the data, with where it is and what to do about it."""

    kind: str
    message: str
    path: str | None = None
    offset: int | None = None
    run: str | None = None
    tag: str | None = None
    severity: str = WARNING

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, object]:
        """As in ``ls --json`` and ``build --json`` (docs/json.md)."""
        return {
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "path": self.path,
            "offset": self.offset,
            "run": self.run,
            "tag": self.tag,
        }


@dataclass(frozen=True)
class Series:
    """One scalar tag of one run, in file order after the restart rule was applied."""

    steps: np.ndarray
    values: np.ndarray
    wall_times: np.ndarray
    #: records read for this series before the restart rule
    records: int
    #: records the restart rule discarded (0 with ``restarts="keep-all"``)
    dropped: int
    #: "simple_value", "tensor" or "mixed": how the writer encoded the values
    encoding: str = "simple_value"

    def __len__(self) -> int:
        return int(self.steps.shape[0])

    @property
    def nan_count(self) -> int:
        return int(np.count_nonzero(np.isnan(self.values)))

    @property
    def inf_count(self) -> int:
        return int(np.count_nonzero(np.isinf(self.values)))


@dataclass(frozen=True)
class TagCount:
    """A non-scalar tag of a run: which plugin wrote it and how many records it has."""

    plugin: str
    count: int


@dataclass(frozen=True)
class TagRecords:
    """Where the records of one non-scalar tag of a run are, in file order.

    Kinds read the values they show with :func:`tbreport.read.events.load_values`, so large
    payloads (images, audio) stay on disk until a report needs them.
    """

    #: the TensorBoard plugin that wrote the tag ("histograms", "images", "text", ...); TF1's
    #: legacy fields are named by their plugins, as TensorBoard's data_compat does
    plugin: str
    steps: np.ndarray
    wall_times: np.ndarray
    #: index into ``Run.files`` of each record's file
    files: np.ndarray
    #: byte offset of each record's header in its file
    offsets: np.ndarray
    #: index of the tag's value in the event's ``summary.value``
    values: np.ndarray

    def __len__(self) -> int:
        return int(self.steps.shape[0])


@dataclass(frozen=True)
class Run:
    """A directory that directly holds event files, with what was read from it."""

    name: str
    path: str
    files: tuple[str, ...]
    scalars: Mapping[str, Series]
    others: Mapping[str, TagCount] = field(default_factory=dict)
    hparams: Mapping[str, object] = field(default_factory=dict)
    #: "run", or the writer feature that made this sub-run: "add_scalars" or "add_hparams"
    kind: str = "run"
    #: for a sub-run, the name of the run it belongs to
    parent: str | None = None
    records: int = 0
    #: non-scalar tags: where their records are, for the data kinds to read
    tensors: Mapping[str, TagRecords] = field(default_factory=dict)

    @property
    def points(self) -> int:
        return sum(len(s) for s in self.scalars.values())

    @property
    def first_wall_time(self) -> float | None:
        """Earliest wall time that is a date (see ``formatting.wall_time_ok``)."""
        times = [float(w.min()) for w in self._dated_wall_times() if w.size]
        return min(times) if times else None

    @property
    def last_wall_time(self) -> float | None:
        times = [float(w.max()) for w in self._dated_wall_times() if w.size]
        return max(times) if times else None

    def _dated_wall_times(self) -> list[np.ndarray]:
        return [s.wall_times[wall_time_ok(s.wall_times)] for s in self.scalars.values()]


@dataclass(frozen=True)
class Logdir:
    """Everything read from one logdir: runs sorted by name, and every data warning."""

    path: str
    runs: tuple[Run, ...]
    warnings: tuple[DataWarning, ...]

    def run(self, name: str) -> Run:
        for run in self.runs:
            if run.name == name:
                return run
        raise KeyError(name)

    @property
    def points(self) -> int:
        return sum(run.points for run in self.runs)

    def to_dataframe(self, smoothing: float = 0.6):  # -> pandas.DataFrame; pandas is optional
        """One row per scalar point: run, tag, step, value, wall_time, smoothed (TensorBoard's
        smoothing at weight ``smoothing``) and group (None: no grouping yet); runs and tags
        sorted. The same columns as ``tbreport export``."""
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError(
                "to_dataframe() needs pandas, which tbreport does not install. "
                "Run: pip install 'tbreport[pandas]'"
            ) from err
        from tbreport.export import scalar_points
        from tbreport.options import Options, coerce

        cols = scalar_points(self, Options(smoothing=coerce("smoothing", smoothing, "smoothing")))
        return pd.DataFrame(
            {
                "run": pd.Categorical(cols["run"]),
                "tag": pd.Categorical(cols["tag"]),
                "step": cols["step"],
                "value": cols["value"],
                "wall_time": cols["wall_time"],
                "smoothed": cols["smoothed"],
                "group": pd.Series(cols["group"], dtype=object),
            }
        )


# --- the report: what the transform stage hands to charts and rendering --------------------


@dataclass(frozen=True)
class SeriesSummary:
    """Headline numbers of one series. min/max are over finite values (None if none); the
    last value is the final record as written, NaN included: a diverged run ends in NaN.
    """

    count: int
    nan_count: int
    inf_count: int
    last_step: int | None
    last_value: float | None
    min_step: int | None
    min_value: float | None
    max_step: int | None
    max_value: float | None


@dataclass(frozen=True)
class Line:
    """One run on one chart, already thinned for drawing (statistics use every point)."""

    run: str
    color: str
    #: x of the drawn points (step, seconds since the series' first point, or unix time)
    x: np.ndarray
    #: raw values of the drawn points, NaN/inf included (charts mark them)
    y: np.ndarray
    #: smoothed values at the drawn points (smoothed on the full series); None for weight 0
    smoothed: np.ndarray | None
    #: points in the full series, and how many are drawn
    points: int
    drawn: int
    #: headline numbers over the full series
    summary: SeriesSummary
    #: baseline runs are drawn dashed
    dashed: bool = False


@dataclass(frozen=True)
class Chart:
    """One scalar tag: every run that has it, overlaid."""

    tag: str
    section: str
    #: file stem for the chart image and data files: [a-z0-9-], unique in the report
    slug: str
    lines: tuple[Line, ...]
    #: "step", "relative" or "wall"
    x_axis: str
    log_y: bool
    #: y limits (outlier-robust unless disabled), None to let the chart decide
    y_range: tuple[float, float] | None
    smoothing: float
    #: "min", "max" or "none": which way is better for this tag
    direction: str
    #: run with the best value by direction, None when unknown
    best: str | None
    #: points left off a time axis because their wall time is not a date (1e13, NaN)
    undated: int = 0
    #: the data kind that made this element (see tbreport.kinds)
    kind: str = "scalars"

    @property
    def points(self) -> int:
        return sum(line.points for line in self.lines)

    @property
    def drawn(self) -> int:
        return sum(line.drawn for line in self.lines)


class Element(Protocol):
    """One thing a data kind shows in a report (a chart, a table, a grid): a frozen dataclass,
    picklable for the chart workers."""

    #: the kind that made it (its registry name, see tbreport.kinds)
    kind: str
    tag: str
    #: file-name-safe and unique within the report
    slug: str


@dataclass(frozen=True)
class Section:
    """The elements of the tags sharing the text before their first ``/``, in tag order."""

    name: str
    slug: str
    #: every element of the section (scalar charts and the other kinds' elements)
    charts: tuple[Element, ...]


@dataclass(frozen=True)
class RunInfo:
    """A run as the runs table shows it."""

    name: str
    color: str
    kind: str
    parent: str | None
    points: int
    tags: int
    first_step: int | None
    last_step: int | None
    start_time: float | None
    duration: float | None
    hparams: Mapping[str, object]
    others: int
    #: a baseline run (drawn dashed), compared against by the candidates
    baseline: bool = False


def _json_number(value: float | None) -> float | None:
    # JSON has no NaN or infinity, and a run that diverged to NaN is a regression to report
    return value if value is not None and math.isfinite(value) else None


def _diff(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return None
    return a - b


def _rel(a: float | None, b: float | None) -> float | None:
    diff = _diff(a, b)
    if diff is None or not b:
        return None
    return diff / abs(b)


#: verdicts of a tag against the baseline
BETTER, WORSE, UNCHANGED, NOT_JUDGED = "better", "worse", "unchanged", "not judged"


@dataclass(frozen=True)
class Delta:
    """One candidate run against its baseline reference on one tag."""

    tag: str
    run: str
    reference: str
    direction: str
    last: float | None
    base_last: float | None
    best: float | None
    base_best: float | None
    tolerance: float
    gate: bool
    status: str

    @property
    def abs_delta(self) -> float | None:
        return _diff(self.last, self.base_last)

    @property
    def rel_delta(self) -> float | None:
        return _rel(self.last, self.base_last)


@dataclass(frozen=True)
class TagVerdict:
    tag: str
    status: str
    deltas: tuple[Delta, ...]
    gate: bool


@dataclass(frozen=True)
class Comparison:
    """Every tag's verdict, the counts for the headline, and the gate failures."""

    tags: tuple[TagVerdict, ...]
    tolerance: float

    @property
    def counts(self) -> dict[str, int]:
        counts = {BETTER: 0, WORSE: 0, UNCHANGED: 0, NOT_JUDGED: 0}
        for verdict in self.tags:
            counts[verdict.status] += 1
        return counts

    @property
    def regressions(self) -> tuple[Delta, ...]:
        return tuple(
            d for v in self.tags if v.gate for d in v.deltas if d.gate and d.status == WORSE
        )

    @property
    def headline(self) -> str:
        c = self.counts
        parts = [
            f"{c[BETTER]} tag{'s' if c[BETTER] != 1 else ''} better",
            f"{c[WORSE]} worse",
            f"{c[UNCHANGED]} unchanged",
        ]
        if c[NOT_JUDGED]:
            parts.append(f"{c[NOT_JUDGED]} not judged")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, object]:
        """As in ``build --json`` (docs/json.md)."""
        return {
            "headline": self.headline,
            "counts": self.counts,
            "tolerance": self.tolerance,
            "tags": [{"tag": v.tag, "status": v.status, "gate": v.gate} for v in self.tags],
            "regressions": [
                {
                    "tag": d.tag,
                    "run": d.run,
                    "reference": d.reference,
                    "last": _json_number(d.last),
                    "baseline_last": _json_number(d.base_last),
                    "relative_change": d.rel_delta,
                    "tolerance": d.tolerance,
                }
                for d in self.regressions
            ],
        }


@dataclass(frozen=True)
class Report:
    """Everything a template needs, built once from a Logdir and the options."""

    title: str
    #: timezone-aware datetime of the post
    date: dt.datetime
    logdir: str
    runs: tuple[RunInfo, ...]
    sections: tuple[Section, ...]
    warnings: tuple[DataWarning, ...]
    smoothing: float
    x_axis: str
    #: candidate vs baseline per tag, None without a baseline
    comparison: Comparison | None = None

    @property
    def charts(self) -> tuple[Chart, ...]:
        return tuple(chart for section in self.sections for chart in section.charts)
