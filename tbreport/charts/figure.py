"""Charts stage, drawing: ``Chart`` values in, PNG or SVG image bytes out (one image per tag).

The only module that imports matplotlib. It uses the object API with an explicit Agg canvas
(pyplot, its global figures and backend selection are never touched), one bundled font and
fixed metadata, so a chart renders to the same bytes every time.
"""

from __future__ import annotations

import io
import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Literal

import matplotlib
import matplotlib.dates as mdates
import matplotlib.ticker as mticker
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont
from matplotlib.ft2font import FT2Font
from matplotlib.lines import Line2D
from matplotlib.textpath import TextToPath
from matplotlib.transforms import ScaledTranslation

from tbreport.kinds.scalars.transform import padded_range
from tbreport.model import WALL_TIME_END, WALL_TIME_MIN, Chart, Line
from tbreport.names import strip_bidi

__all__ = ["FORMATS", "Painter", "draw_chart"]

#: image formats ``draw_chart`` writes
FORMATS: tuple[str, ...] = ("png", "svg")

X_AXES: tuple[str, ...] = ("step", "relative", "wall")

FONT = "DejaVu Sans"
#: legend entries before the rest are summed up as "+N more"
MAX_LEGEND_ENTRIES = 12
#: run names longer than this lose their middle to an ellipsis
MAX_NAME_CHARS = 40

RAW_ALPHA = 0.25
INK = "#222222"
MUTED = "#666666"
SPINE = "#b8b8b8"
GRID = "#ebebeb"

TITLE_SIZE = 11.0
TICK_SIZE = 8.0
LABEL_SIZE = 8.5
LEGEND_SIZE = 8.0
NOTE_SIZE = 8.0

# layout in inches: fixed margins so every chart of a report has the same plot area
TOP_IN = 0.44
BOTTOM_IN = 0.58
RIGHT_IN = 0.28
MIN_LEFT_IN = 0.5
LEGEND_GAP_IN = 0.02
LEGEND_BOTTOM_IN = 0.1

_RC: dict[Any, Any] = {
    "font.family": [FONT],
    "font.size": TICK_SIZE,
    "mathtext.fontset": "dejavusans",
    # no text of ours is TeX or mathtext: tags and run names are untrusted and shown verbatim
    "text.usetex": False,
    "text.parse_math": False,
    "axes.formatter.use_mathtext": False,
    "axes.unicode_minus": True,
    "path.simplify": True,
    "path.simplify_threshold": 1 / 9,
    # fixed salt: clip-path ids are hashes, salted with a random uuid by default
    "svg.hashsalt": "tbreport",
    # glyphs as paths: the SVG looks the same without DejaVu Sans installed where it is viewed
    # and cannot be restyled by the page's CSS; matplotlib keeps each string in an (escaped)
    # XML comment, and the tag and run names are in the page's HTML anyway
    "svg.fonttype": "path",
    "savefig.facecolor": "white",
    "savefig.edgecolor": "white",
    "savefig.transparent": False,
}

# no timestamps or versions: the same chart gives the same bytes
_PNG_METADATA: dict[str, str | None] = {"Software": None}
_SVG_METADATA: dict[str, str | None] = {"Date": None, "Creator": None}


@dataclass(frozen=True)
class _Size:
    width: float
    height: float
    dpi: float


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


class Painter:
    """Draws charts on figures it keeps, one per size, reused chart after chart: making a
    figure's axes and ticks costs more than drawing the lines. Every chart clears what the
    previous one added (see ``canvas``). One per process that draws; not shared across threads.
    """

    def __init__(self) -> None:
        self._canvases: dict[tuple[float, float, float], tuple[Figure, Axes]] = {}
        # once, not per chart: font lookup and charmap
        _font_path()
        _charmap()

    def canvas(self, size: _Size) -> tuple[Figure, Axes]:
        return _canvas(self._canvases, size)

    def draw_chart(
        self,
        chart: Chart,
        image_format: str = "png",
        *,
        width: float = 7.2,
        height: float = 4.0,
        dpi: float = 110.0,
    ) -> bytes:
        """See :func:`draw_chart`."""
        return _draw(self, chart, image_format, width, height, dpi)


def draw_chart(
    chart: Chart,
    image_format: str = "png",
    *,
    width: float = 7.2,
    height: float = 4.0,
    dpi: float = 110.0,
) -> bytes:
    """One chart as PNG or SVG bytes: every run overlaid, raw faint and smoothed on top.

    ``width`` x ``height`` inches is the size without a legend; a legend (more than one run)
    adds rows below the x axis, so the plot area is the same in every chart of a report.
    NaN and +-inf points are marked on the axes edges, and a note counts them. Draws on a
    figure of its own; a :class:`Painter` reuses figures across charts.
    """
    return _draw(Painter(), chart, image_format, width, height, dpi)


def _draw(
    painter: Painter, chart: Chart, image_format: str, width: float, height: float, dpi: float
) -> bytes:
    _check_format(image_format)
    size = _check_size(width, height, dpi)
    if chart.x_axis not in X_AXES:
        raise ValueError(
            f"chart {chart.tag!r}: x_axis must be one of {X_AXES}, got {chart.x_axis!r}"
        )
    with matplotlib.rc_context(_RC):
        fig = _build_figure(painter, chart, size)
        buffer = io.BytesIO()
        if image_format == "png":
            # zlib level 1: a fraction of the encode time of the default 6, files ~15% larger
            fig.savefig(
                buffer,
                format="png",
                dpi=size.dpi,
                metadata=_PNG_METADATA,
                pil_kwargs={"compress_level": 1},
            )
        else:
            fig.savefig(buffer, format="svg", metadata=_SVG_METADATA)
    return buffer.getvalue()


def _check_format(image_format: str) -> None:
    if image_format not in FORMATS:
        raise ValueError(f"image_format must be one of {FORMATS}, got {image_format!r}")


def _check_size(width: float, height: float, dpi: float) -> _Size:
    for name, value in (("width", width), ("height", height), ("dpi", dpi)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    return _Size(float(width), float(height), float(dpi))


# --------------------------------------------------------------------------------------------
# Text: one font, untrusted strings shown verbatim
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _font_path() -> str:
    return findfont(FontProperties(family=FONT), fallback_to_default=False)


@lru_cache(maxsize=1)
def _charmap() -> frozenset[int]:
    return frozenset(FT2Font(_font_path()).get_charmap())


@lru_cache(maxsize=1)
def _text_to_path() -> TextToPath:
    return TextToPath()


def clean_text(text: str) -> str:
    """A string safe to draw and to write into SVG: verbatim where the font can show it.

    Control characters (invalid in XML) and lone surrogates (from undecodable file names)
    become U+FFFD, as do characters DejaVu Sans has no glyph for (matplotlib would warn and
    draw an empty box); newlines and tabs become spaces. Bidirectional controls are removed:
    SVG text in a browser would follow them.
    """
    charmap = _charmap()
    out = []
    for ch in strip_bidi(text):
        if ch in "\n\r\t":
            out.append(" ")
        elif ord(ch) not in charmap or unicodedata.category(ch) in ("Cc", "Cs"):
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters by dropping its middle: run names differ at the end
    (seeds, dates) as often as at the start."""
    if len(text) <= limit:
        return text
    tail = (limit - 1) // 3
    return text[: limit - 1 - tail] + "\u2026" + text[len(text) - tail :]


def _text_width(text: str, size: float, weight: str = "normal") -> float:
    """Width in inches of ``text`` drawn in the chart font (no renderer needed)."""
    prop = FontProperties(family=FONT, size=size, weight=weight)
    width, _, _ = _text_to_path().get_text_width_height_descent(text, prop, ismath=False)
    return float(width) / 72.0


def _fit(text: str, size: float, room: float, weight: str = "normal") -> str:
    """``text`` shortened in the middle until it fits ``room`` inches."""
    width = _text_width(text, size, weight)
    if width <= room:
        return text
    limit = min(len(text) - 1, int(len(text) * room / width))
    while limit > 1:
        candidate = shorten(text, limit)
        width = _text_width(candidate, size, weight)
        if width <= room:
            return candidate
        limit = min(limit - 1, int(limit * room / width))
    return "\u2026"


# --------------------------------------------------------------------------------------------
# Tick labels: short, tabular, with a real minus sign
# --------------------------------------------------------------------------------------------

_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def _suffix(magnitude: float) -> tuple[float, str]:
    # "k" from 10k on: 2000 and 5000 read better than 2k and 5k next to 500
    for scale, name in _SUFFIXES:
        if magnitude >= (1e4 if scale == 1e3 else scale):
            return scale, name
    return 1.0, ""


def _minus(label: str) -> str:
    return "\u2212" + label[1:] if label.startswith("-") else label


def _exp_label(value: float, digits: int) -> str:
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    return _minus(mantissa) + "e" + _minus(str(int(exponent)))


def compact_labels(values: Sequence[float]) -> list[str]:
    """Labels for one axis' ticks: a shared k/M/B/T scale and the fewest decimals that still
    tell every tick apart (``0``, ``2.5k``, ``5k``; ``0.125``, ``0.25``; ``1e−5``)."""
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return ["" for _ in v]
    big = float(np.max(np.abs(finite)))
    steps = np.diff(np.unique(finite))
    step = float(steps.min()) if steps.size else big or 1.0
    if big >= 1e15 or 0.0 < big < 1e-3:
        exponent = math.floor(math.log10(big))
        for digits in range(0, 16):
            if step / 10.0**exponent >= 10.0**-digits * 0.999 or digits == 15:
                break
        return ["0" if x == 0 else _exp_label(x, digits) if math.isfinite(x) else "" for x in v]
    scale, suffix = _suffix(big)
    scaled = finite / scale
    tolerance = step / scale * 1e-3
    digits = 0
    while digits < 12 and np.max(np.abs(np.round(scaled, digits) - scaled)) > tolerance:
        digits += 1
    labels = []
    for x in v:
        if not math.isfinite(x):
            labels.append("")
            continue
        text = f"{x / scale:.{digits}f}"
        if suffix and "." in text:
            # "5k" next to "2.5k": a quantity reads better without padding zeros
            text = text.rstrip("0").rstrip(".")
        labels.append("0" if float(text) == 0.0 else _minus(text) + suffix)
    return labels


def log_label(value: float) -> str:
    """A label for one log-axis tick: ``0.01``, ``1``, ``100``, ``10k``, ``1e−5``."""
    if not (math.isfinite(value) and value > 0):
        return ""
    if 1e-3 <= value < 1e4:
        return f"{value:.4g}"
    if value < 1e-3 or value >= 1e15:
        return _exp_label(value, 0) if _is_round(value) else _exp_label(value, 1)
    scale, suffix = _suffix(value)
    return f"{value / scale:.4g}{suffix}"


def _is_round(value: float) -> bool:
    mantissa = value / 10.0 ** math.floor(math.log10(value))
    return abs(mantissa - round(mantissa)) < 1e-9


class _CompactFormatter(mticker.Formatter):
    def __call__(self, x: float, pos: int | None = None) -> str:
        return compact_labels([x])[0]

    def format_ticks(self, values: Sequence[float]) -> list[str]:
        return compact_labels(values)


class _LogFormatter(mticker.Formatter):
    """Decades always; 2x and 5x minor ticks only when the axis spans less than two decades."""

    def __init__(self, minor: bool) -> None:
        self.minor = minor

    def __call__(self, x: float, pos: int | None = None) -> str:
        if self.minor and not (self._few_decades() and _leading_digit(x) in (2, 5)):
            return ""
        return log_label(x)

    def _few_decades(self) -> bool:
        if self.axis is None:
            return False
        lo, hi = self.axis.get_view_interval()
        return bool(lo > 0 and hi / lo < 100)


def _leading_digit(value: float) -> int:
    if not (math.isfinite(value) and value > 0):
        return 0
    return round(value / 10.0 ** math.floor(math.log10(value) + 1e-9))


class _ScaledLocator(mticker.MaxNLocator):
    """Nice ticks in a unit (minutes, hours) for an axis in seconds."""

    def __init__(self, unit: float, steps: Sequence[float]) -> None:
        super().__init__(nbins="auto", steps=list(steps))
        self.unit = unit

    def tick_values(self, vmin: float, vmax: float) -> list[float]:
        ticks = np.asarray(super().tick_values(vmin / self.unit, vmax / self.unit))
        return [float(t) for t in ticks * self.unit]


class _ScaledFormatter(mticker.Formatter):
    def __init__(self, unit: float) -> None:
        self.unit = unit

    def __call__(self, x: float, pos: int | None = None) -> str:
        return compact_labels([x / self.unit])[0]

    def format_ticks(self, values: Sequence[float]) -> list[str]:
        return compact_labels([v / self.unit for v in values])


# unit, name, tick steps: used while the axis spans at most 3 units of the next one
_DURATIONS = (
    (1.0, "s", (1, 2, 2.5, 5, 10)),
    (60.0, "min", (1, 1.5, 2, 3, 5, 6, 10)),
    (3600.0, "h", (1, 1.5, 2, 3, 6, 10)),
    (86400.0, "d", (1, 2, 2.5, 5, 10)),
)


def _duration_unit(span: float) -> tuple[float, str, tuple[float, ...]]:
    for (unit, name, steps), following in zip(_DURATIONS, _DURATIONS[1:], strict=False):
        if span <= 3 * following[0]:
            return unit, name, tuple(steps)
    unit, name, steps = _DURATIONS[-1]
    return unit, name, tuple(steps)


_Style = Literal["-", "--"]


# --------------------------------------------------------------------------------------------
# The figure
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    """A line's arrays ready to draw: float64, inf (and non-positive on log) turned to NaN."""

    line: Line
    x: np.ndarray
    y: np.ndarray
    smoothed: np.ndarray | None
    nan: np.ndarray
    posinf: np.ndarray
    neginf: np.ndarray
    nonpositive: np.ndarray


def _prepare(line: Line, log_y: bool) -> _Prepared:
    x = np.asarray(line.x, dtype=np.float64).ravel()
    raw = np.asarray(line.y, dtype=np.float64).ravel()
    n = min(x.size, raw.size)
    x, raw = x[:n], raw[:n]
    placeable = np.isfinite(x)
    nan = np.isnan(raw) & placeable
    posinf = (raw == np.inf) & placeable
    neginf = (raw == -np.inf) & placeable
    nonpositive = (raw <= 0) & np.isfinite(raw) & placeable if log_y else np.zeros(n, dtype=bool)
    y = np.where(np.isfinite(raw) & ~nonpositive & placeable, raw, np.nan)
    smoothed = None
    if line.smoothed is not None:
        s = np.asarray(line.smoothed, dtype=np.float64).ravel()[:n]
        if s.size == n:
            keep = np.isfinite(s) & placeable & ((s > 0) if log_y else True)
            smoothed = np.where(keep, s, np.nan)
    return _Prepared(line, x, y, smoothed, nan, posinf, neginf, nonpositive)


def _x_limits(lines: list[_Prepared]) -> tuple[float, float]:
    xs = [p.x[np.isfinite(p.x)] for p in lines]
    xs = [x for x in xs if x.size]
    if not xs:
        return 0.0, 1.0
    lo = float(min(x.min() for x in xs))
    hi = float(max(x.max() for x in xs))
    # room for the end markers; at least a relative step, so lo - pad differs from lo even
    # for 2**62 (singular limits would make matplotlib warn)
    pad = (hi - lo) * 0.02 if hi > lo else 1.0
    pad = max(pad, abs(lo) * 1e-9, abs(hi) * 1e-9)
    return lo - pad, hi + pad


def _y_limits(chart: Chart, lines: list[_Prepared]) -> tuple[float, float]:
    values = [p.y[np.isfinite(p.y)] for p in lines]
    values += [p.smoothed[np.isfinite(p.smoothed)] for p in lines if p.smoothed is not None]
    finite = np.concatenate(values) if values else np.empty(0)
    rng = chart.y_range
    if rng is not None:
        lo, hi = float(rng[0]), float(rng[1])
        if math.isfinite(lo) and math.isfinite(hi) and lo < hi and (hi > 0 or not chart.log_y):
            if chart.log_y and lo <= 0:
                lo = float(finite.min()) / 2 if finite.size and finite.min() < hi else hi / 1000
            return lo, hi
    if finite.size == 0:
        return (0.1, 10.0) if chart.log_y else (-1.0, 1.0)
    return padded_range(float(finite.min()), float(finite.max()), log=chart.log_y)


def _canvas(
    canvases: dict[tuple[float, float, float], tuple[Figure, Axes]], size: _Size
) -> tuple[Figure, Axes]:
    plot_height = max(0.5, size.height - TOP_IN - BOTTOM_IN)
    rect = _rect(MIN_LEFT_IN, BOTTOM_IN, size.width - MIN_LEFT_IN - RIGHT_IN, plot_height, size)
    key = (size.width, size.height, size.dpi)
    cached = canvases.get(key)
    if cached is None:
        fig = Figure(figsize=(size.width, size.height), dpi=size.dpi, facecolor="white")
        FigureCanvasAgg(fig)
        ax = fig.add_axes(rect)
        _style_axes(ax)
        canvases[key] = (fig, ax)
        return fig, ax
    fig, ax = cached
    for artist in [*ax.lines, *ax.collections, *ax.texts, *ax.images, *ax.patches]:
        artist.remove()
    for artist in [*fig.legends, *fig.lines, *fig.texts, *fig.artists]:
        artist.remove()
    for loc in ("left", "center", "right"):
        ax.set_title("", loc=loc)
    ax.set_xlabel("")
    ax.set_yscale("linear")
    ax.set_xscale("linear")
    fig.set_size_inches(size.width, size.height)
    ax.set_position(rect)
    return fig, ax


def _build_figure(painter: Painter, chart: Chart, size: _Size) -> Figure:
    lines = [_prepare(line, chart.log_y) for line in chart.lines]
    fig, ax = painter.canvas(size)
    plot_height = max(0.5, size.height - TOP_IN - BOTTOM_IN)

    # limits before ticks; the data never sets them (no autoscale surprises or warnings)
    if chart.log_y:
        ax.set_yscale("log", nonpositive="mask")
    y_lo, y_hi = _y_limits(chart, lines)
    ax.set_ylim(y_lo, y_hi)
    x_lo, x_hi = _x_limits(lines)
    x_label, to_axis = _setup_x_axis(ax, chart, x_lo, x_hi)
    _setup_y_axis(ax, chart.log_y)

    # the left margin fits the widest y tick label (tick positions depend on the plot height
    # only, which is fixed)
    ticks = [t for t in ax.yaxis.get_major_locator()() if y_lo <= t <= y_hi]
    labels = ax.yaxis.get_major_formatter().format_ticks(ticks) if ticks else []
    label_width = max((_text_width(label, TICK_SIZE) for label in labels if label), default=0.0)
    left = max(MIN_LEFT_IN, label_width + 0.16)
    ax_width = max(0.5, size.width - left - RIGHT_IN)

    # a legend adds rows below the axes: the plot area stays the same as without one
    legend = _legend_layout(chart.lines, ax_width)
    fig_height = size.height + legend.height
    fig.set_size_inches(size.width, fig_height)
    ax.set_position(
        _rect(
            left,
            legend.height + BOTTOM_IN,
            ax_width,
            plot_height,
            _Size(size.width, fig_height, size.dpi),
        )
    )

    for index, p in enumerate(lines):
        _draw_line(ax, p, to_axis, zorder=2 + index * 0.001)
    counts = _draw_nonfinite(ax, fig, lines, to_axis)

    note = _nonfinite_note(counts)
    note_width = 0.0
    if note:
        ax.annotate(
            note, xy=(1.0, 1.0), xycoords="axes fraction", xytext=(0, 8),
            textcoords="offset points", ha="right", va="baseline",
            fontsize=NOTE_SIZE, color=MUTED, parse_math=False,
        )  # fmt: skip
        note_width = _text_width(note, NOTE_SIZE) + 0.2
    title = _fit(clean_text(chart.tag), TITLE_SIZE, ax_width - note_width, weight="bold")
    # an explicit y skips matplotlib's title auto-positioning, a full tight-bbox pass
    ax.set_title(
        title, loc="left", y=1.0, pad=8, fontsize=TITLE_SIZE, fontweight="bold", color=INK,
        parse_math=False,
    )  # fmt: skip
    ax.set_xlabel(x_label, fontsize=LABEL_SIZE, color=MUTED, labelpad=4, parse_math=False)

    if not any(p.x.size for p in lines):
        _center_note(ax, "no data")
    elif not any(np.isfinite(p.y).any() for p in lines):
        _center_note(ax, "no finite values")

    if legend.entries:
        _draw_legend(
            fig, chart.lines, legend, left / size.width, legend.height - LEGEND_GAP_IN, fig_height
        )
    return fig


def _rect(
    left: float, bottom: float, width: float, height: float, size: _Size
) -> tuple[float, float, float, float]:
    """A figure-fraction rectangle from inches."""
    return left / size.width, bottom / size.height, width / size.width, height / size.height


def _style_axes(ax: Axes) -> None:
    ax.set_facecolor("white")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(SPINE)
        ax.spines[side].set_linewidth(0.8)
    ax.grid(True, which="major", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(which="both", length=0, pad=4, labelsize=TICK_SIZE, labelcolor=MUTED)
    ax.tick_params(axis="x", which="major", length=3, width=0.8, color=SPINE)


def _setup_x_axis(
    ax: Axes, chart: Chart, lo: float, hi: float
) -> tuple[str, Callable[[np.ndarray], np.ndarray]]:
    """Limits, locator and formatter for the x axis; returns its label and a data-to-axis map."""
    if chart.x_axis == "wall" and WALL_TIME_MIN <= lo and hi < WALL_TIME_END:
        epoch = float(mdates.date2num(datetime(1970, 1, 1, tzinfo=timezone.utc)))

        def to_days(x: np.ndarray) -> np.ndarray:
            return x / 86400.0 + epoch

        ax.set_xlim(lo / 86400.0 + epoch, hi / 86400.0 + epoch)
        locator = mdates.AutoDateLocator(tz=timezone.utc, minticks=3, maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=timezone.utc))
        return "wall time (UTC)", to_days

    ax.set_xlim(lo, hi)
    if chart.x_axis == "relative":
        unit, name, steps = _duration_unit(max(abs(lo), abs(hi)))
        ax.xaxis.set_major_locator(_ScaledLocator(unit, steps))
        ax.xaxis.set_major_formatter(_ScaledFormatter(unit))
        return f"time since start ({name})", _identity
    ax.xaxis.set_major_locator(mticker.MaxNLocator(nbins=7, steps=[1, 2, 2.5, 5, 10], integer=True))
    ax.xaxis.set_major_formatter(_CompactFormatter())
    # wall times outside the datetime range (a broken clock) are shown as plain seconds
    return ("step" if chart.x_axis == "step" else "wall time (unix s)"), _identity


def _identity(x: np.ndarray) -> np.ndarray:
    return x


def _setup_y_axis(ax: Axes, log_y: bool) -> None:
    if log_y:
        ax.yaxis.set_major_locator(mticker.LogLocator(base=10, numticks=8))
        ax.yaxis.set_minor_locator(mticker.LogLocator(base=10, subs=(2.0, 5.0), numticks=8))
        ax.yaxis.set_major_formatter(_LogFormatter(minor=False))
        ax.yaxis.set_minor_formatter(_LogFormatter(minor=True))
    else:
        ax.yaxis.set_major_locator(mticker.MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
        ax.yaxis.set_major_formatter(_CompactFormatter())
        ax.yaxis.set_minor_locator(mticker.NullLocator())


def _draw_line(
    ax: Axes, p: _Prepared, to_axis: Callable[[np.ndarray], np.ndarray], zorder: float
) -> None:
    if p.x.size == 0:
        return
    x = to_axis(p.x)
    style: _Style = "--" if p.line.dashed else "-"
    if p.smoothed is not None:
        _add_series(ax, x, p.y, p.line.color, RAW_ALPHA, 1.0, style, zorder)
        _add_series(ax, x, p.smoothed, p.line.color, 1.0, 1.6, style, zorder + 1)
    else:
        _add_series(ax, x, p.y, p.line.color, 1.0, 1.4, style, zorder + 1)


def _add_series(
    ax: Axes,
    x: np.ndarray,
    y: np.ndarray,
    color: str,
    alpha: float,
    width: float,
    style: _Style,
    zorder: float,
) -> None:
    ax.add_line(
        Line2D(
            x, y, color=color, alpha=alpha, linewidth=width, linestyle=style, antialiased=True,
            solid_joinstyle="round", solid_capstyle="round", dash_capstyle="butt", zorder=zorder,
        )
    )  # fmt: skip
    # a finite point between gaps (or alone) draws no segment: give it a dot
    finite = np.isfinite(y)
    before = np.concatenate(([False], finite[:-1]))
    after = np.concatenate((finite[1:], [False]))
    lonely = finite & ~before & ~after
    if lonely.any():
        ax.add_line(
            Line2D(
                x[lonely], y[lonely], color=color, alpha=alpha, linestyle="none", marker="o",
                markersize=3.5, markeredgewidth=0, antialiased=True, zorder=zorder,
            )
        )  # fmt: skip


def _draw_nonfinite(
    ax: Axes, fig: Figure, lines: list[_Prepared], to_axis: Callable[[np.ndarray], np.ndarray]
) -> dict[str, int]:
    """Markers for points the line cannot show: +inf on the top edge, -inf (and <= 0 on a log
    axis) on the bottom edge, NaN as crosses on the bottom edge."""
    inset = 4.0 / 72.0
    top = ax.get_xaxis_transform() + ScaledTranslation(0, -inset, fig.dpi_scale_trans)
    bottom = ax.get_xaxis_transform() + ScaledTranslation(0, inset, fig.dpi_scale_trans)
    counts = {"nan": 0, "posinf": 0, "neginf": 0, "nonpositive": 0}
    for p in lines:
        for kind, mask, marker, where, y in (
            ("posinf", p.posinf, "^", top, 1.0),
            ("neginf", p.neginf, "v", bottom, 0.0),
            ("nonpositive", p.nonpositive, "v", bottom, 0.0),
            ("nan", p.nan, "x", bottom, 0.0),
        ):
            n = int(np.count_nonzero(mask))
            if not n:
                continue
            counts[kind] += n
            filled = marker != "x"
            ax.add_line(
                Line2D(
                    to_axis(p.x[mask]), np.full(n, y), transform=where, linestyle="none",
                    marker=marker, markersize=5.5 if filled else 5.0,
                    markerfacecolor=p.line.color if filled else "none",
                    markeredgecolor=p.line.color, markeredgewidth=0 if filled else 1.3,
                    clip_on=False, zorder=5,
                )
            )  # fmt: skip
    return counts


def _nonfinite_note(counts: dict[str, int]) -> str:
    parts = []
    if counts["posinf"]:
        parts.append(f"\u25b2 {counts['posinf']} +inf")
    if counts["neginf"]:
        parts.append(f"\u25bc {counts['neginf']} \u2212inf")
    if counts["nonpositive"]:
        parts.append(f"\u25bc {counts['nonpositive']} \u2264 0 (log)")
    if counts["nan"]:
        parts.append(f"\u00d7 {counts['nan']} NaN")
    return "   ".join(parts)


def _center_note(ax: Axes, text: str) -> None:
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=LABEL_SIZE,
        color=MUTED,
        parse_math=False,
    )


# --------------------------------------------------------------------------------------------
# Legend: below the axes, as many columns as fit, at most MAX_LEGEND_ENTRIES runs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _LegendLayout:
    entries: tuple[str, ...]
    columns: int
    height: float
    #: width of a column, inches
    column: float = 0.0


_HANDLE_EM = 1.8
_HANDLE_PAD_EM = 0.6
_COLUMN_GAP_EM = 1.8
_ROW_EM = 1.55


def _legend_layout(lines: Sequence[Line], room: float) -> _LegendLayout:
    """Entries, columns and height (inches) of the legend under a plot ``room`` inches wide."""
    if len(lines) <= 1:
        return _LegendLayout((), 0, 0.0, 0.0)
    labels = [shorten(clean_text(line.run), MAX_NAME_CHARS) for line in lines]
    if len(labels) > MAX_LEGEND_ENTRIES:
        shown = MAX_LEGEND_ENTRIES - 1
        labels = labels[:shown] + [f"+{len(lines) - shown} more"]
    em = LEGEND_SIZE / 72.0
    widest = max(_text_width(label, LEGEND_SIZE) for label in labels)
    column = widest + (_HANDLE_EM + _HANDLE_PAD_EM + _COLUMN_GAP_EM) * em
    columns = max(1, min(len(labels), int((room + _COLUMN_GAP_EM * em) // column)))
    rows = math.ceil(len(labels) / columns)
    height = LEGEND_GAP_IN + rows * _ROW_EM * em + LEGEND_BOTTOM_IN
    return _LegendLayout(tuple(labels), columns, height, column)


def _draw_legend(
    fig: Figure, lines: Sequence[Line], layout: _LegendLayout, left: float, top: float,
    fig_height: float,
) -> None:  # fmt: skip
    """Handles and names in a grid below the axes, drawn as plain figure artists.

    matplotlib's Legend lays out the same grid through offset boxes at several times the cost
    of the few lines and texts it ends up drawing.
    """
    width = fig.get_figwidth()
    em = LEGEND_SIZE / 72.0
    row_height = _ROW_EM * em
    x0 = left * width  # inches
    capped = len(layout.entries) < len(lines)
    for i, label in enumerate(layout.entries):
        row, col = divmod(i, layout.columns)
        x = x0 + col * layout.column
        y = top - (row + 0.5) * row_height
        is_more = capped and i == len(layout.entries) - 1
        if not is_more:
            line = lines[i]
            fig.add_artist(
                Line2D(
                    [x / width, (x + _HANDLE_EM * em) / width], [y / fig_height] * 2,
                    transform=fig.transFigure, color=line.color, linewidth=2.0,
                    linestyle="--" if line.dashed else "-", solid_capstyle="butt",
                    dash_capstyle="butt",
                )
            )  # fmt: skip
        fig.text(
            (x + (_HANDLE_EM + _HANDLE_PAD_EM) * em) / width, y / fig_height, label,
            fontsize=LEGEND_SIZE, color=INK, va="center_baseline", ha="left",
            parse_math=False,
        )  # fmt: skip
