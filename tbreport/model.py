"""Values passed between stages: runs, scalar series, non-scalar counts and data warnings.

Everything here is a frozen dataclass; arrays are numpy (steps int64, values and wall times
float64) and are never mutated after construction.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

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


class WarningKind(str, Enum):
    """Every kind of data warning or note, as published in ``ls --json`` and ``build --json``
    (docs/json.md lists them). The values are stable across versions: scripts match on them."""

    # reading: files and records
    EMPTY_FILE = "empty-file"
    NOT_EVENT_FILE = "not-event-file"
    NO_FILE_VERSION = "no-file-version"
    TRUNCATED = "truncated"
    CORRUPT_RECORD = "corrupt-record"
    SKIPPED_RECORD = "skipped-record"
    BAD_LENGTH = "bad-length"
    UNDECODABLE = "undecodable"
    UNREADABLE = "unreadable"
    NOT_A_FILE = "not-a-file"
    SYMLINK_LOOP = "symlink-loop"
    # reading: series and runs
    RESTART = "restart"
    DUPLICATE = "duplicate"
    NONFINITE = "nonfinite"
    BAD_WALL_TIME = "bad-wall-time"
    SUB_RUN = "sub-run"
    # reporting
    NOT_SHOWN = "not-shown"
    IMAGE_NOT_SHOWN = "image-not-shown"
    AUDIO_NOT_SHOWN = "audio-not-shown"
    TEXT_NOT_SHOWN = "text-not-shown"
    HISTOGRAM_NOT_SHOWN = "histogram-not-shown"
    CUSTOM_SCALARS_UNDECODABLE = "custom-scalars-undecodable"
    CUSTOM_SCALARS_BAD_REGEX = "custom-scalars-bad-regex"
    PR_CURVE_NOT_SHOWN = "pr-curve-not-shown"
    HPARAMS_UNDECODABLE = "hparams-undecodable"
    HPARAMS_YAML_UNREADABLE = "hparams-yaml-unreadable"
    HPARAMS_YAML_SKIPPED = "hparams-yaml-skipped"
    UNGROUPED_SEEDS = "ungrouped-seeds"
    # the config's [gates]
    GATE_NO_MATCH = "gate-no-match"
    # drawing
    MISSING_GLYPHS = "missing-glyphs"
    # a --source post
    SOURCE_NO_MATCH = "source-no-match"
    SOURCE_PUBLISHED = "source-published"
    # building: the cache folder (--cache) cannot be used; the build goes on without it
    CACHE_UNUSABLE = "cache-unusable"
    # publishing a site folder
    SYMLINK_OUTSIDE_SITE = "symlink-outside-site"
    SYMLINK_TO_FOLDER = "symlink-to-folder"
    SYMLINK_TO_UNPUBLISHED = "symlink-to-unpublished"
    BROKEN_SYMLINK = "broken-symlink"
    GIT_REFUSES_NAME = "git-refuses-name"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class DataWarning:
    """A problem found in the data, with where it is and what to do about it.

    ``kind`` is a :class:`WarningKind` value; an unknown kind is a bug and raises ValueError.
    """

    kind: str
    message: str
    path: str | None = None
    offset: int | None = None
    run: str | None = None
    tag: str | None = None
    severity: str = WARNING

    def __post_init__(self) -> None:
        # stored as the plain string: stable in JSON and comparisons with either form work
        object.__setattr__(self, "kind", WarningKind(self.kind).value)
        if self.severity not in (NOTE, WARNING):
            raise ValueError(f"severity must be {NOTE!r} or {WARNING!r}, not {self.severity!r}")

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
class Histograms:
    """Every histogram of one tag of a run, in file order, as TensorBoard's histograms plugin
    holds them: per step, buckets of (left edge, right edge, count).

    TF1 HistogramProtos are migrated as ``data_compat`` does (empty end buckets dropped,
    min/max as outer edges, float32 values), so bucket counts can differ between steps.
    """

    steps: np.ndarray
    wall_times: np.ndarray
    #: step i's buckets are ``buckets[bounds[i]:bounds[i + 1]]``
    bounds: np.ndarray
    #: float64 [total buckets, 3]: left, right, count
    buckets: np.ndarray

    def __len__(self) -> int:
        return int(self.steps.shape[0])

    def at(self, i: int) -> np.ndarray:
        """The [k, 3] buckets of the i-th histogram."""
        return self.buckets[int(self.bounds[i]) : int(self.bounds[i + 1])]


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
    #: records that are not summaries, by event field ("graph_def", "meta_graph_def",
    #: "tagged_run_metadata", "session_log", ...): counted, not shown
    events: Mapping[str, int] = field(default_factory=dict)
    #: histograms (plugin "histograms" and TF1 HistogramProtos), decoded while reading
    histograms: Mapping[str, Histograms] = field(default_factory=dict)

    @property
    def points(self) -> int:
        return sum(len(s) for s in self.scalars.values())

    @property
    def first_wall_time(self) -> float | None:
        """Earliest wall time that is a date (see ``formatting.wall_time_ok``)."""
        return self.wall_time_span()[0]

    @property
    def last_wall_time(self) -> float | None:
        return self.wall_time_span()[1]

    def wall_time_span(self) -> tuple[float | None, float | None]:
        """The earliest and the latest wall time that are dates, in one pass."""
        first = last = None
        for series in self.scalars.values():
            w = series.wall_times
            if not w.shape[0]:
                continue
            lo, hi = (float(w[0]),) * 2 if w.shape[0] == 1 else (float(w.min()), float(w.max()))
            if not (lo >= WALL_TIME_MIN and hi < WALL_TIME_END):  # NaN fails both
                w = w[wall_time_ok(w)]
                if not w.shape[0]:
                    continue
                lo, hi = float(w.min()), float(w.max())
            first = lo if first is None or lo < first else first
            last = hi if last is None or hi > last else last
        return first, last


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
    #: step and wall time of each drawn point (what the browser's hover readout shows)
    steps: np.ndarray | None = None
    wall_times: np.ndarray | None = None
    #: matplotlib line style name: the runs of one trial share a colour, told apart by style
    style: str = "solid"
    #: the hparams trial the run belongs to: the legend has one entry per trial
    trial: str | None = None
    #: a group's centre line (``run`` is the group key): its band at the drawn points and
    #: the runs with a finite value behind each drawn point
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    n: np.ndarray | None = None
    #: a group's member run drawn faint under the group's line (``--show-runs``); no legend
    #: entry or table row of its own
    faint: bool = False
    #: a group's line: the group's numbers across its member runs
    group: GroupSummary | None = None

    @property
    def legend(self) -> str:
        return self.trial if self.trial is not None else self.run


@dataclass(frozen=True)
class GroupSummary:
    """A group's numbers for one tag: the spread is the chart's band (``Chart.band``)."""

    #: the member runs holding the tag
    runs: tuple[str, ...]
    #: centre, lower and upper of the members' last finite values
    last: tuple[float, float, float]
    #: the best point of the group's centre line (by the tag's direction; None without one)
    best: tuple[float, float, float] | None
    best_step: int | None
    #: fewest and most runs behind a point of the centre line
    n_min: int
    n_max: int


@dataclass(frozen=True)
class Trial:
    """An hparams session and its runs (see tbreport.report.trials)."""

    #: the run naming the trial: the session's run, or its parent for an add_hparams sub-run
    name: str
    #: the run holding session_start_info (or Lightning's hparams.yaml)
    session: str
    #: every run of the trial (the named run, the session's run, their sub-runs), name order
    runs: tuple[str, ...]
    hparams: Mapping[str, object]
    group: str = ""
    start_time: float | None = None
    status: str | None = None


@dataclass(frozen=True)
class ColorScale:
    """``--colour-by HPARAM``: what a line's colour says, for the colour bar."""

    #: the hyperparameter
    name: str
    low: float
    high: float
    #: positions on the ramp are by log(value)
    log: bool
    #: ``#rrggbb`` colours evenly spaced from ``low`` to ``high``
    stops: tuple[str, ...]


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
    #: drawn raw points outside y_range (outliers; marked on the chart's edge)
    clipped: int = 0
    #: y_range is the author's (a --source block's `y_range`): the page's script keeps it
    #: instead of fitting the range to the smoothing the reader picks
    fixed_y: bool = False
    #: the range left raw outliers out (``--ignore-outliers``, or a block's own)
    ignore_outliers: bool = True
    #: groups: "mean" or "median" and the band kind; None when runs are not grouped
    center: str | None = None
    band: str | None = None
    #: groups: steps put on a common grid of buckets (the runs log at different steps)
    bucketed: bool = False
    #: ``--colour-by``: the scale the lines' colours are on (a colour bar under the legend)
    color_scale: ColorScale | None = None
    #: the data kind that made this element (see tbreport.kinds)
    kind: str = "scalars"

    @property
    def n_varies(self) -> bool:
        """Whether the number of runs behind a group's point changes along a line."""
        return any(line.group.n_min != line.group.n_max for line in self.lines if line.group)

    @property
    def points(self) -> int:
        # a group's faint member runs are counted in the group's line
        return sum(line.points for line in self.lines if not line.faint)

    @property
    def drawn(self) -> int:
        return sum(line.drawn for line in self.lines if not line.faint)


@dataclass(frozen=True)
class FinalValue:
    run: str
    color: str
    step: int
    value: float


@dataclass(frozen=True)
class FinalValues:
    """A scalar tag with one point per run: a table row per run, never a chart."""

    tag: str
    slug: str
    rows: tuple[FinalValue, ...]
    direction: str = "none"
    kind: str = "scalars"


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
    #: the hparams trial the run belongs to (its hyperparameters are in the HParams table)
    trial: str | None = None
    #: the run's last finite value of the report's primary metric (``Report.primary``)
    primary: float | None = None


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
    #: groups (``--group``): the candidate's and the reference's last values as centre, lower
    #: and upper of their band (``--band``) over the group's runs, and how many runs; None for
    #: single runs
    spread: tuple[float, float, float] | None = None
    base_spread: tuple[float, float, float] | None = None
    n: int | None = None
    base_n: int | None = None
    #: the band kind the spreads are of (``--band``)
    band: str | None = None
    #: the centres differ by no more than the spreads allow (see tbreport.report.compare), so
    #: the verdict is "unchanged" whatever the tolerance says
    within_spread: bool = False
    #: std/sem/ci95: the two half-widths added in quadrature, the largest difference counted
    #: as within the spread; None for minmax/iqr (intervals, which must overlap)
    margin: float | None = None

    @property
    def symmetric(self) -> bool:
        """The spreads read ``centre ± half`` (std, sem, ci95), not ``[lower, upper]``."""
        return self.band not in ("minmax", "iqr")

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
    def grouped(self) -> bool:
        """Some verdict compares groups of runs (their spread counts)."""
        return any(d.spread is not None for v in self.tags for d in v.deltas)

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
            "tags": [
                {
                    "tag": v.tag,
                    "status": v.status,
                    "gate": v.gate,
                    "deltas": [{"status": d.status, **_delta_dict(d)} for d in v.deltas],
                }
                for v in self.tags
            ],
            "regressions": [{"tag": d.tag, **_delta_dict(d)} for d in self.regressions],
        }


def _spread_dict(spread: tuple[float, float, float] | None, n: int | None) -> object:
    if spread is None:
        return None
    center, lower, upper = spread
    return {
        "center": _json_number(center),
        "lower": _json_number(lower),
        "upper": _json_number(upper),
        "n": n,
    }


def _delta_dict(d: Delta) -> dict[str, object]:
    return {
        "run": d.run,
        "reference": d.reference,
        "last": _json_number(d.last),
        "baseline_last": _json_number(d.base_last),
        "relative_change": d.rel_delta,
        "tolerance": d.tolerance,
        "spread": _spread_dict(d.spread, d.n),
        "baseline_spread": _spread_dict(d.base_spread, d.base_n),
        "within_spread": d.within_spread,
        "margin": _json_number(d.margin),
    }


@dataclass(frozen=True)
class NotShown:
    """Data of one run that the report recognised but does not show (a graph, a mesh)."""

    run: str
    #: the tag, or for events that are not summaries the event field ("graph_def")
    tag: str
    #: the TensorBoard plugin (or event field) that wrote it
    plugin: str
    records: int
    #: why it is left out, a sentence fragment for the data notes
    reason: str
    #: the run's folder
    path: str | None = None
    #: an event that is not a summary (``tag`` is then its field name)
    event: bool = False


@dataclass(frozen=True)
class Part:
    """One part of a report's page, in order (docs/authoring.md): the author's Markdown
    (``kind`` "prose") or what tbreport writes for a block ("summary", "verdict", "runs",
    "contents", "section", "figures", "table", "notes")."""

    kind: str
    #: prose: the author's Markdown as written; section: the section's name
    text: str = ""
    #: figures: the elements shown, by index in ``Report.charts``
    figures: tuple[int, ...] = ()
    #: figures: the author's caption of each (None: the generated one)
    captions: tuple[str | None, ...] = ()
    #: section: its slug (an HTML id); runs: empty
    slug: str = ""
    #: section: what it holds (figures, tables and prose), in order
    parts: tuple[Part, ...] = ()
    #: runs: the names of the runs listed (None: every run)
    runs: tuple[str, ...] | None = None
    #: table: the scalar charts summarised (not drawn), and the statistics shown
    elements: tuple[Chart, ...] = ()
    stats: tuple[str, ...] = ()
    #: table: the comparison with the baseline of these tags instead of statistics
    compare: bool = False


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
    #: recognised data that no element shows, per run and tag (also in the data notes)
    not_shown: tuple[NotShown, ...] = ()
    #: groups of runs (``--group``/``--group-by``): member run names per group key
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: the tag runs are ranked by (tbreport.report.primary) and its direction, "min" or "max"
    primary: str | None = None
    primary_direction: str | None = None
    #: the hyperparameters whose values differ between the runs (the runs table's columns)
    hparam_columns: tuple[str, ...] = ()
    #: ``--colour-by``: the scale the runs' colours are on
    color_scale: ColorScale | None = None
    #: the page in order (a ``--source`` post); empty: the format's default page
    page: tuple[Part, ...] = ()
    #: a ``--source`` post's own front matter keys (those that are no option), in order
    front_matter: tuple[tuple[str, Any], ...] = ()
    #: the newest wall time (a date) of the runs' scalars: the default post date
    latest: float | None = None

    @property
    def charts(self) -> tuple[Element, ...]:
        """Every element of the report in section order (what figures are numbered by)."""
        return tuple(element for section in self.sections for element in section.charts)

    @property
    def scalar_charts(self) -> tuple[Chart, ...]:
        return tuple(e for e in self.charts if isinstance(e, Chart))
