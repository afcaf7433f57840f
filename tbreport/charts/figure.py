"""Charts stage, matplotlib machinery shared by the data kinds: figures reused per size
(:class:`Painter`), fonts (DejaVu Sans, then the fallbacks of ``fonts``), text fitting, tick
labels, the runs legend.

With the kinds' chart modules, the only code that imports matplotlib. It uses the object API
with an explicit Agg canvas (pyplot, its global figures and backend selection are never
touched), fonts taken by file and fixed metadata, so a chart renders to the same bytes every time.
"""

from __future__ import annotations

import io
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import matplotlib.ticker as mticker
import numpy as np
from matplotlib import rcParams
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.text import Text
from matplotlib.textpath import TextToPath

from tbreport.charts.fonts import FONT, FONT_DIR, charmap, fallback_families
from tbreport.model import Line
from tbreport.names import strip_bidi
from tbreport.options import IMAGE_FORMATS

__all__ = [
    "FONT_DIR",
    "IMAGE_FORMATS",
    "RC",
    "Painter",
    "Size",
    "check_format",
    "check_size",
    "clean_text",
]

#: image formats ``draw_chart`` writes


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

RC: dict[Any, Any] = {
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
class Size:
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

    def __init__(self, font_dir: Path | None = FONT_DIR) -> None:
        self._canvases: dict[tuple[float, float, float], tuple[Figure, Axes]] = {}
        #: the chart being drawn is only the no-script view of one the page's script draws:
        #: charts that honour it draw at ``FALLBACK_DPI``, and a PNG gets a palette of
        #: ``FALLBACK_COLORS`` (a third of the bytes and half the time of a full chart)
        self.fallback = False
        families = fallback_families(font_dir) if font_dir is not None else (FONT,)
        #: the rc params to draw with (``matplotlib.rc_context(painter.rc)``): ``RC`` with the
        #: fallback fonts found in ``font_dir`` (None: DejaVu Sans alone)
        self.rc: dict[Any, Any] = {**RC, "font.family": list(families)}
        charmap(families)  # once, not per chart

    def canvas(self, size: Size, y_label: bool = False) -> tuple[Figure, Axes]:
        """A cleared figure of that size with its axes (made once per size). ``y_label``: the
        chart sets a y-axis label, which matplotlib then places beside the widest tick label
        (it measures every tick label for that at each draw: a tenth of a chart's time)."""
        fig, ax = _canvas(self._canvases, size)
        ax.yaxis._autolabelpos = y_label  # type: ignore[attr-defined]  # no public setter
        return fig, ax

    def save(self, fig: Figure, image_format: str, dpi: float) -> bytes:
        """The figure as PNG or SVG bytes, the same bytes every time."""
        _first_font_only(fig)
        buffer = io.BytesIO()
        if image_format == "png" and self.fallback:
            return _palette_png(fig, dpi)
        if image_format == "png":
            # zlib level 1: a fraction of the encode time of the default 6, files ~15% larger
            fig.savefig(
                buffer,
                format="png",
                dpi=dpi,
                metadata=_PNG_METADATA,
                pil_kwargs={"compress_level": 1},
            )
        else:
            fig.savefig(buffer, format="svg", metadata=_SVG_METADATA)
        return buffer.getvalue()


def _first_font_only(fig: Figure) -> None:
    """Texts DejaVu Sans can draw alone (tick labels, most tags and run names) drawn with it
    alone: the same glyphs as through the fallback chain, without matplotlib resolving every
    font of the chain for every text each time it is laid out or drawn."""
    covered = charmap((FONT,))
    chain = list(_families())
    # the artists that hold texts, one level down (a full findobj walk costs more than this)
    texts: list[Text] = list(fig.texts)
    for ax in fig.axes:
        texts += [c for c in ax.get_children() if isinstance(c, Text)]  # texts and titles
        texts += [ax.xaxis.label, ax.yaxis.label, ax.xaxis.offsetText, ax.yaxis.offsetText]
        legend = ax.get_legend()
        if legend is not None:
            texts += legend.get_texts()
    for legend in fig.legends:
        texts += legend.get_texts()
    alone = [FONT]
    for text in texts:
        family = text.get_fontfamily()
        if family != chain and family != alone:
            continue  # a text given a font of its own
        # a reused canvas keeps its artists: a title narrowed for the last chart is widened
        # again when this chart's text needs the chain
        wanted = alone if all(ord(ch) in covered for ch in text.get_text()) else chain
        if family != wanted:
            text.set_fontfamily(wanted)
    # tick labels get their text while the figure draws: digits, signs, k/M/B/T and month
    # names, all in DejaVu Sans; the ticks made while drawing copy the first one's font
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in (axis.majorTicks[0], axis.minorTicks[0]):
                for label in (tick.label1, tick.label2):
                    if label.get_fontfamily() == chain:
                        label.set_fontfamily([FONT])


#: a fallback chart's resolution (dots per inch of the same figure size) and PNG palette
FALLBACK_DPI = 72.0
FALLBACK_COLORS = 32


def _palette_png(fig: Figure, dpi: float) -> bytes:
    """The figure rendered by Agg, its colours reduced to a palette (line charts are mostly
    white, a few run colours and their anti-aliased edges), as a PNG: no dithering, so the
    same pixels always give the same bytes."""
    from PIL import Image

    if fig.dpi != dpi:
        fig.set_dpi(dpi)
    canvas = fig.canvas
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())  # type: ignore[attr-defined]
    image = Image.fromarray(rgba[..., :3], "RGB")
    palette = image.quantize(
        FALLBACK_COLORS, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
    )
    buffer = io.BytesIO()
    palette.save(buffer, format="png", compress_level=6)
    return buffer.getvalue()


def check_format(image_format: str) -> None:
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image_format must be one of {IMAGE_FORMATS}, got {image_format!r}")


def check_size(width: float, height: float, dpi: float) -> Size:
    for name, value in (("width", width), ("height", height), ("dpi", dpi)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    return Size(float(width), float(height), float(dpi))


# --------------------------------------------------------------------------------------------
# Text: one font, untrusted strings shown verbatim
# --------------------------------------------------------------------------------------------


def _families() -> tuple[str, ...]:
    # the fonts of the rc_context in effect: a Painter's ``rc``
    return tuple(rcParams["font.family"])


@lru_cache(maxsize=1)
def _text_to_path() -> TextToPath:
    return TextToPath()


def clean_text(text: str) -> str:
    """A string safe to draw and to write into SVG: verbatim where the font can show it.

    Control characters (invalid in XML) and lone surrogates (from undecodable file names)
    become U+FFFD, as do characters no font in effect has a glyph for (matplotlib would warn and
    draw an empty box; ``fonts.missing_glyphs`` tells the user); newlines and tabs become
    spaces. Bidirectional controls are removed: SVG text in a browser would follow them.
    """
    covered = charmap(_families())
    out = []
    for ch in strip_bidi(text):
        if ch in "\n\r\t":
            out.append(" ")
        elif ord(ch) not in covered or unicodedata.category(ch) in ("Cc", "Cs"):
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


def text_width(text: str, size: float, weight: str = "normal") -> float:
    """Width in inches of ``text`` drawn in the chart fonts (no renderer needed)."""
    families = _families()
    if all(ord(ch) in charmap((FONT,)) for ch in text):
        families = (FONT,)  # as it is drawn (``_first_font_only``)
    return _text_width(text, size, weight, families)


@lru_cache(maxsize=4096)
def _text_width(text: str, size: float, weight: str, families: tuple[str, ...]) -> float:
    # tick labels and run names recur chart after chart
    prop = FontProperties(family=list(families), size=size, weight=weight)
    width, _, _ = _text_to_path().get_text_width_height_descent(text, prop, ismath=False)
    return float(width) / 72.0


def fit(text: str, size: float, room: float, weight: str = "normal") -> str:
    """``text`` shortened in the middle until it fits ``room`` inches."""
    width = text_width(text, size, weight)
    if width <= room:
        return text
    limit = min(len(text) - 1, int(len(text) * room / width))
    while limit > 1:
        candidate = shorten(text, limit)
        width = text_width(candidate, size, weight)
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


class CompactFormatter(mticker.Formatter):
    def __call__(self, x: float, pos: int | None = None) -> str:
        return compact_labels([x])[0]

    def format_ticks(self, values: Sequence[float]) -> list[str]:
        return compact_labels(values)


class LogFormatter(mticker.Formatter):
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


class ScaledLocator(mticker.MaxNLocator):
    """Nice ticks in a unit (minutes, hours) for an axis in seconds."""

    def __init__(self, unit: float, steps: Sequence[float]) -> None:
        super().__init__(nbins="auto", steps=list(steps))
        self.unit = unit

    def tick_values(self, vmin: float, vmax: float) -> list[float]:
        ticks = np.asarray(super().tick_values(vmin / self.unit, vmax / self.unit))
        return [float(t) for t in ticks * self.unit]


class ScaledFormatter(mticker.Formatter):
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


def duration_unit(span: float) -> tuple[float, str, tuple[float, ...]]:
    for (unit, name, steps), following in zip(_DURATIONS, _DURATIONS[1:], strict=False):
        if span <= 3 * following[0]:
            return unit, name, tuple(steps)
    unit, name, steps = _DURATIONS[-1]
    return unit, name, tuple(steps)


Style = Literal["-", "--", ":", "-."]


# --------------------------------------------------------------------------------------------
# Canvas: one figure per size, reused
# --------------------------------------------------------------------------------------------


def _canvas(
    canvases: dict[tuple[float, float, float], tuple[Figure, Axes]], size: Size
) -> tuple[Figure, Axes]:
    plot_height = max(0.5, size.height - TOP_IN - BOTTOM_IN)
    area = figure_rect(
        MIN_LEFT_IN, BOTTOM_IN, size.width - MIN_LEFT_IN - RIGHT_IN, plot_height, size
    )
    key = (size.width, size.height, size.dpi)
    cached = canvases.get(key)
    if cached is None:
        fig = Figure(figsize=(size.width, size.height), dpi=size.dpi, facecolor="white")
        FigureCanvasAgg(fig)
        ax = fig.add_axes(area)
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
    ax.set_position(area)
    return fig, ax


def figure_rect(
    left: float, bottom: float, width: float, height: float, size: Size
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


#: Line.style names as dash specs for legend handles (a custom scalars chart tells the tags of
#: one run apart by style)
_HANDLE_STYLES: dict[str, Style] = {"dashed": "--", "dotted": ":", "dashdot": "-."}


def legend_lines(lines: Sequence[Line]) -> list[Line]:
    """One line per legend entry: the first line of each trial (its runs share a colour)."""
    seen: set[str] = set()
    out = []
    for line in lines:
        # a group's faint member runs go under the group's entry
        if line.legend not in seen and not line.faint:
            seen.add(line.legend)
            out.append(line)
    return out


def legend_layout(lines: Sequence[Line], room: float) -> _LegendLayout:
    """Entries, columns and height (inches) of the legend under a plot ``room`` inches wide."""
    lines = legend_lines(lines)
    if len(lines) <= 1:
        return _LegendLayout((), 0, 0.0, 0.0)
    labels = [shorten(clean_text(line.legend), MAX_NAME_CHARS) for line in lines]
    if len(labels) > MAX_LEGEND_ENTRIES:
        shown = MAX_LEGEND_ENTRIES - 1
        labels = labels[:shown] + [f"+{len(lines) - shown} more"]
    em = LEGEND_SIZE / 72.0
    widest = max(text_width(label, LEGEND_SIZE) for label in labels)
    column = widest + (_HANDLE_EM + _HANDLE_PAD_EM + _COLUMN_GAP_EM) * em
    columns = max(1, min(len(labels), int((room + _COLUMN_GAP_EM * em) // column)))
    rows = math.ceil(len(labels) / columns)
    height = LEGEND_GAP_IN + rows * _ROW_EM * em + LEGEND_BOTTOM_IN
    return _LegendLayout(tuple(labels), columns, height, column)


def draw_legend(
    fig: Figure, lines: Sequence[Line], layout: _LegendLayout, left: float, top: float,
    fig_height: float,
) -> None:  # fmt: skip
    """Handles and names in a grid below the axes, drawn as plain figure artists.

    matplotlib's Legend lays out the same grid through offset boxes at several times the cost
    of the few lines and texts it ends up drawing.
    """
    lines = legend_lines(lines)
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
                    linestyle="--" if line.dashed else _HANDLE_STYLES.get(line.style, "-"),
                    solid_capstyle="butt",
                    dash_capstyle="butt",
                )
            )  # fmt: skip
        fig.text(
            (x + (_HANDLE_EM + _HANDLE_PAD_EM) * em) / width, y / fig_height, label,
            fontsize=LEGEND_SIZE, color=INK, va="center_baseline", ha="left",
            parse_math=False,
        )  # fmt: skip
