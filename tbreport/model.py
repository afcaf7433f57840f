"""Values passed between stages: runs, scalar series, non-scalar counts and data warnings.

Everything here is a frozen dataclass; arrays are numpy (steps int64, values and wall times
float64) and are never mutated after construction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from tbreport.formatting import wall_time_ok

if TYPE_CHECKING:
    from tbreport.compare import Comparison
    from tbreport.transform import Summary

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

    def to_dataframe(self):  # -> pandas.DataFrame, pandas is optional
        from tbreport.frame import to_dataframe

        return to_dataframe(self)


# --- the report: what the transform stage hands to charts and rendering --------------------


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
    summary: Summary
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

    @property
    def points(self) -> int:
        return sum(line.points for line in self.lines)

    @property
    def drawn(self) -> int:
        return sum(line.drawn for line in self.lines)


@dataclass(frozen=True)
class Section:
    """Charts of the tags sharing the text before their first ``/``."""

    name: str
    slug: str
    charts: tuple[Chart, ...]


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
