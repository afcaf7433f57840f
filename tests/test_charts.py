"""Tests for the charts stage: Chart values in, PNG/SVG bytes out."""

from __future__ import annotations

import io
import math
import multiprocessing
import re
import warnings
import xml.etree.ElementTree as ET

import matplotlib
import matplotlib.colors as mcolors
import matplotlib.image as mpimg
import numpy as np
import pytest

from tbreport import charts
from tbreport.charts import ChartPool, figure
from tbreport.charts.figure import (
    Painter,
    clean_text,
    compact_labels,
    log_label,
    shorten,
)
from tbreport.kinds.scalars.chart import draw_chart
from tbreport.kinds.scalars.transform import series_summary, smooth
from tbreport.model import Chart, Line
from tbreport.report.colours import PALETTE

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ORANGE, SKY, GREEN, BLUE, VERMILLION, PURPLE = PALETTE
DPI = 110


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    # matplotlib warnings we can avoid (singular limits, missing glyphs, log of <= 0) must be
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def make_line(
    run: str = "run",
    color: str = BLUE,
    x=(0, 1, 2, 3),
    y=(1.0, 2.0, 1.5, 3.0),
    weight: float = 0.0,
    dashed: bool = False,
) -> Line:
    x = np.asarray(x)
    y = np.asarray(y, dtype=np.float64)
    return Line(
        run=run,
        color=color,
        x=x,
        y=y,
        smoothed=smooth(y, weight) if weight > 0 else None,
        points=int(y.size),
        drawn=int(y.size),
        summary=series_summary(x, y) if x.size == y.size else None,
        dashed=dashed,
    )


def make_chart(lines, tag: str = "loss", **fields) -> Chart:
    values = dict(
        tag=tag,
        section=tag.split("/")[0],
        slug="loss",
        lines=tuple(lines),
        x_axis="step",
        log_y=False,
        y_range=None,
        smoothing=0.0,
        direction="none",
        best=None,
    )
    values.update(fields)
    return Chart(**values)


def noisy(seed: int, n: int = 300, offset: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.exp(-np.arange(n) / 80.0) + offset + rng.normal(0.0, 0.03, n)


def decode(png: bytes) -> np.ndarray:
    assert png.startswith(PNG_SIGNATURE)
    return mpimg.imread(io.BytesIO(png), format="png")


def colour_pixels(img: np.ndarray, colour: str, tol: float = 0.04) -> int:
    rgb = np.array(mcolors.to_rgb(colour))
    return int(np.count_nonzero(np.all(np.abs(img[..., :3] - rgb) < tol, axis=-1)))


def svg_tree(svg: bytes) -> ET.Element:
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    return ET.fromstring(svg, parser=parser)


def svg_comments(svg: bytes) -> list[str]:
    """matplotlib writes every drawn string as an XML comment before its glyph paths."""
    root = svg_tree(svg)
    return [(el.text or "").strip() for el in root.iter() if el.tag is ET.Comment]


def tick_labels(svg: bytes, axis: str) -> list[str]:
    root = svg_tree(svg)
    labels = []
    for group in root.iter("{http://www.w3.org/2000/svg}g"):
        if (group.get("id") or "").startswith(f"{axis}tick_"):
            labels += [(el.text or "").strip() for el in group.iter() if el.tag is ET.Comment]
    return labels


def as_number(label: str) -> float:
    label = label.replace("\u2212", "-")
    scale = {"k": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}.get(label[-1:], 1.0)
    return float(label[:-1] if scale != 1.0 else label) * scale


# --- PNG ----------------------------------------------------------------------------------


def test_png_has_the_default_size_and_is_not_blank():
    png = draw_chart(make_chart([make_line(y=noisy(0))]))
    img = decode(png)
    assert img.shape[:2] == (440, 792)  # 7.2 x 4.0 in at 110 dpi
    assert len(np.unique(img.reshape(-1, img.shape[-1]), axis=0)) > 20
    assert colour_pixels(img, BLUE) > 100


def test_png_size_is_configurable():
    img = decode(draw_chart(make_chart([make_line()]), width=5, height=3, dpi=100))
    assert img.shape[:2] == (300, 500)


def test_png_shows_every_run_in_its_colour():
    lines = [
        make_line("a", ORANGE, np.arange(300), noisy(1, offset=0.0), weight=0.6),
        make_line("b", SKY, np.arange(300), noisy(2, offset=1.0), weight=0.6),
        make_line("c", GREEN, np.arange(300), noisy(3, offset=2.0), weight=0.6),
    ]
    img = decode(draw_chart(make_chart(lines)))
    for colour in (ORANGE, SKY, GREEN):
        assert colour_pixels(img, colour) > 200, colour
    assert colour_pixels(img, PURPLE) == 0  # the check can tell a colour that is not drawn


def test_raw_line_is_faint_under_the_smoothed_one():
    # one spike: the smoothed line stays low, so near the top only the raw line is drawn
    y = np.zeros(100)
    y[50] = 1.0

    def top_band(weight: float) -> np.ndarray:
        # the upper third of the plot: y from 0.6 to 1.1, where the smoothed line never goes
        line = make_line(x=np.arange(100), y=y, weight=weight)
        img = decode(draw_chart(make_chart([line], y_range=(-0.4, 1.1))))
        top = round(figure.TOP_IN * DPI)
        bottom = img.shape[0] - round(figure.BOTTOM_IN * DPI)
        return img[top : top + (bottom - top) // 3]

    pale = mcolors.to_hex(0.25 * np.array(mcolors.to_rgb(BLUE)) + 0.75)
    faint = top_band(0.9)
    assert colour_pixels(faint, pale, tol=0.06) > 5
    assert colour_pixels(faint, BLUE, tol=0.15) == 0
    # without smoothing the raw line is the line, at full colour
    assert colour_pixels(top_band(0.0), BLUE, tol=0.15) > 5


def test_dashed_line_draws_fewer_pixels_than_solid():
    x = np.arange(200)
    y = np.linspace(0.0, 1.0, 200)
    solid = decode(draw_chart(make_chart([make_line(x=x, y=y)])))
    dashed = decode(draw_chart(make_chart([make_line(x=x, y=y, dashed=True)])))
    assert 0 < colour_pixels(dashed, BLUE) < 0.85 * colour_pixels(solid, BLUE)


def test_legend_rows_go_below_the_plot_and_are_capped():
    def height(n: int, name: str = "run") -> int:
        lines = [make_line(f"{name}_{i:02d}", PALETTE[i % 6]) for i in range(n)]
        return decode(draw_chart(make_chart(lines))).shape[0]

    one = height(1)
    assert one == 440  # no legend for a single run
    assert height(2) > one
    long_name = "experiment_with_a_long_name_" * 4
    # at most 12 entries: 11 runs and "+N more"
    assert height(30, long_name) == height(12, long_name) > height(6, long_name)


# --- SVG and untrusted text ---------------------------------------------------------------

HOSTILE_TAG = "train/$x^2$ {{ x }} <b>bold</b> --> <script>alert(1)</script> &amp;"


def test_svg_is_xml_without_script_and_keeps_the_tag_text_verbatim():
    lines = [make_line("<i>run</i> $a$", ORANGE), make_line("{{ b }}", SKY)]
    svg = draw_chart(make_chart(lines, tag=HOSTILE_TAG), "svg")
    root = svg_tree(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert not [el for el in root.iter() if isinstance(el.tag, str) and "script" in el.tag]
    assert b"<script" not in svg and b"<b>" not in svg
    # glyphs are paths; matplotlib keeps each string in a comment, XML-escaped ("-->" is
    # defused as "- -&gt;"), so the tag is there as written, not as markup
    comments = svg_comments(svg)
    assert (
        "train/$x^2$ {{ x }} &lt;b&gt;bold&lt;/b&gt; - -&gt; "
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp;amp;"
    ) in comments
    assert "&lt;i&gt;run&lt;/i&gt; $a$" in comments and "{{ b }}" in comments


def test_mathtext_in_tags_and_run_names_is_not_interpreted():
    # each of these is a mathtext syntax error: drawing them as math would raise
    tag = r"$x^^2$ $\notacommand{$"
    lines = [make_line(r"$\frac{$", ORANGE), make_line("$_^$", SKY)]
    chart = make_chart(lines, tag=tag)
    assert decode(draw_chart(chart)).shape[1] == 792
    comments = svg_comments(draw_chart(chart, "svg"))
    assert tag in comments and r"$\frac{$" in comments and "$_^$" in comments


def test_control_characters_surrogates_and_missing_glyphs_are_replaced():
    assert clean_text("a\x00b\nc\udcff\u4e2d\U0001f642$") == "a\ufffdb c\ufffd\ufffd\ufffd$"
    chart = make_chart(
        [make_line("r\x01\udcff", ORANGE), make_line("\u4e2d\u6587", SKY)], tag="t\x00\udcffg"
    )
    svg_tree(draw_chart(chart, "svg"))  # valid XML, encodable as UTF-8
    decode(draw_chart(chart))


BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def test_bidirectional_controls_are_not_drawn():
    # the glyph-less ones used to become U+FFFD boxes and the others (U+202E, U+200E...) were
    # kept: in an SVG shown as text they would reorder the name
    assert clean_text("ab" + BIDI_CONTROLS + "c") == "abc"
    chart = make_chart([make_line("\u202eevil", ORANGE), make_line("ok", SKY)], tag="t\u2067ag")
    comments = svg_comments(draw_chart(chart, "svg"))
    assert "evil" in comments and "tag" in comments
    assert not set(BIDI_CONTROLS) & set("".join(comments))


def test_long_names_are_shortened_in_the_middle():
    name = "experiment_" + "x" * 80 + "_seed7"
    short = shorten(name, 40)
    assert len(short) == 40 and "\u2026" in short
    assert short.startswith("experiment_") and short.endswith("_seed7")
    assert shorten("short", 40) == "short"


def test_a_long_tag_is_shortened_to_fit_the_title():
    tag = "section/" + "very_long_component_" * 30 + "loss"
    comments = svg_comments(draw_chart(make_chart([make_line()], tag=tag), "svg"))
    titles = [c for c in comments if c.startswith("section/")]
    assert len(titles) == 1 and "\u2026" in titles[0] and titles[0].endswith("loss")
    assert len(titles[0]) < len(tag)


# --- determinism --------------------------------------------------------------------------


def test_png_is_byte_identical_and_has_no_software_or_time_chunk():
    chart = make_chart([make_line("a", ORANGE, y=noisy(5), weight=0.6, x=np.arange(300))])
    first, second = draw_chart(chart), draw_chart(chart)
    assert first == second
    assert b"Software" not in first and b"tIME" not in first


def test_svg_is_byte_identical_and_has_no_date():
    chart = make_chart([make_line("a", ORANGE), make_line("b", SKY, dashed=True)])
    first, second = draw_chart(chart, "svg"), draw_chart(chart, "svg")
    # clip-path ids are hashes salted with a random uuid unless the salt is fixed
    assert b"clip-path" in first
    assert first == second
    assert b"dc:date" not in first and b"Matplotlib v" not in first


def test_drawing_leaves_global_matplotlib_settings_alone():
    before = dict(matplotlib.rcParams)
    draw_chart(make_chart([make_line()]), "svg")
    assert dict(matplotlib.rcParams) == before


# --- NaN and inf --------------------------------------------------------------------------


def _band(img: np.ndarray, where: str) -> np.ndarray:
    """A strip 0.2 in high along the top or bottom edge of the plot (single run, no legend)."""
    strip = int(0.2 * DPI)
    if where == "top":
        top = round(figure.TOP_IN * DPI)
        return img[top : top + strip]
    bottom = img.shape[0] - round(figure.BOTTOM_IN * DPI)
    return img[bottom - strip : bottom]


@pytest.mark.parametrize(
    "value, where",
    [(math.inf, "top"), (-math.inf, "bottom"), (math.nan, "bottom")],
)
def test_non_finite_points_are_marked_on_the_edge(value, where):
    y = np.full(41, 5.0)
    marked = y.copy()
    marked[20] = value
    plain = decode(draw_chart(make_chart([make_line(x=np.arange(41), y=y)], y_range=(0.0, 10.0))))
    with_mark = decode(
        draw_chart(make_chart([make_line(x=np.arange(41), y=marked)], y_range=(0.0, 10.0)))
    )
    assert colour_pixels(_band(plain, where), BLUE, tol=0.1) == 0
    assert colour_pixels(_band(with_mark, where), BLUE, tol=0.1) > 5


@pytest.mark.parametrize("value, where", [(50.0, "top"), (-50.0, "bottom")])
def test_raw_points_beyond_the_range_are_dotted_on_its_edge(value, where):
    y = np.full(41, 5.0)
    outlier = y.copy()
    outlier[20] = value
    plain = decode(draw_chart(make_chart([make_line(x=np.arange(41), y=y)], y_range=(0.0, 10.0))))
    with_dot = decode(
        draw_chart(make_chart([make_line(x=np.arange(41), y=outlier)], y_range=(0.0, 10.0)))
    )
    # just outside the plot: the line is clipped at the edge, the dot is not
    edge = round((figure.TOP_IN if where == "top" else 4.0 - figure.BOTTOM_IN) * DPI)
    rows = slice(edge - 2, edge) if where == "top" else slice(edge + 1, edge + 3)
    assert colour_pixels(plain[rows], BLUE, tol=0.25) == 0
    assert colour_pixels(with_dot[rows], BLUE, tol=0.25) > 0


def test_non_finite_points_are_counted_in_a_note():
    y = np.array([1.0, np.inf, np.nan, np.nan, -np.inf, 2.0, np.inf])
    lines = [make_line("a", ORANGE, np.arange(7), y), make_line("b", SKY, np.arange(7), y)]
    comments = svg_comments(draw_chart(make_chart(lines), "svg"))
    assert "\u25b2 4 +inf   \u25bc 2 \u2212inf   \u00d7 4 NaN" in comments
    assert not [c for c in svg_comments(draw_chart(make_chart([make_line()]), "svg")) if "NaN" in c]


def test_line_breaks_at_inf_instead_of_shooting_off():
    y = np.array([1.0, 2.0, np.inf, 2.0, 1.0])
    svg = draw_chart(make_chart([make_line(x=np.arange(5), y=y)]), "svg")
    # the line is two pieces (two moveto commands in one path)
    paths = [
        el.get("d", "")
        for el in svg_tree(svg).iter("{http://www.w3.org/2000/svg}path")
        if "#0072b2" in (el.get("style") or "") and "stroke-width: 1.4" in (el.get("style") or "")
    ]
    assert len(paths) == 1 and paths[0].count("M") == 2


# --- axes ---------------------------------------------------------------------------------


def test_y_range_sets_the_limits():
    y = np.linspace(0.0, 10.0, 50)
    svg = draw_chart(make_chart([make_line(x=np.arange(50), y=y)], y_range=(4.0, 6.0)), "svg")
    values = [as_number(label) for label in tick_labels(svg, "y")]
    assert values and all(4.0 <= v <= 6.0 for v in values)


def test_log_y_with_non_positive_values_draws_and_marks_them():
    y = np.array([-1.0, 0.0, 0.01, 0.1, 1.0, 10.0, 100.0])
    chart = make_chart([make_line(x=np.arange(7), y=y, weight=0.5)], log_y=True)
    decode(draw_chart(chart))
    svg = draw_chart(chart, "svg")
    labels = tick_labels(svg, "y")
    assert "1" in labels and "100" in labels
    assert any("2 \u2264 0 (log)" in c for c in svg_comments(svg))
    # nothing positive at all, and a y_range reaching below zero
    decode(draw_chart(make_chart([make_line(y=[-1.0, 0.0, -3.0, 0.0])], log_y=True)))
    decode(draw_chart(make_chart([make_line()], log_y=True, y_range=(-1.0, 5.0))))


def test_step_axis_labels_are_compact():
    x = np.arange(0, 20001, 100)
    svg = draw_chart(make_chart([make_line(x=x, y=np.sin(x / 3000.0))]), "svg")
    labels = tick_labels(svg, "x")
    assert "0" in labels and "20k" in labels
    assert "step" in svg_comments(svg)


def test_relative_axis_is_in_minutes_for_half_an_hour():
    x = np.linspace(0.0, 1800.0, 100)
    svg = draw_chart(make_chart([make_line(x=x, y=np.cos(x))], x_axis="relative"), "svg")
    assert "time since start (min)" in svg_comments(svg)
    assert "30" in tick_labels(svg, "x")


def test_wall_axis_is_utc_whatever_the_matplotlib_timezone():
    # 1.7e9 + 3 h is 2023-11-15 01:13 UTC but still Nov 14 in New York
    x = 1.7e9 + 3 * 3600 + np.arange(0.0, 1200.0, 60.0)
    chart = make_chart([make_line(x=x, y=np.arange(x.size, dtype=float))], x_axis="wall")
    with matplotlib.rc_context({"timezone": "America/New_York"}):
        svg = draw_chart(chart, "svg")
    comments = svg_comments(svg)
    assert "wall time (UTC)" in comments
    assert "2023-Nov-15" in comments
    assert any(re.fullmatch(r"01:\d\d", label) for label in tick_labels(svg, "x"))


@pytest.mark.parametrize(
    "lines",
    [
        [],
        [make_line(x=[], y=[]), make_line("b", SKY, x=[], y=[])],
        [make_line(x=[5], y=[1.0])],
        [make_line(x=[0, 1, 2], y=[math.nan] * 3)],
        [make_line(x=np.array([2**62, 2**62 + 2**40, 2**62 + 2**41], dtype=np.int64))],
        [make_line(x=np.array([2**62], dtype=np.int64), y=[0.5])],
        [make_line(y=[3.0, 3.0, 3.0, 3.0], weight=0.6)],
        [make_line(y=[0.0, 0.0, 0.0, 0.0])],
        [make_line(y=[1e300, -1e300, 1e-300, 0.0])],
        [make_line(y=[1e-7, 2e-7, 1.5e-7, 1e-7])],
    ],
    ids=[
        "no-lines",
        "empty",
        "single-point",
        "all-nan",
        "huge-steps",
        "single-huge-step",
        "constant",
        "zeros",
        "huge-values",
        "tiny-values",
    ],
)
def test_degenerate_series_draw_without_warnings(lines):
    for x_axis in ("step", "relative", "wall"):
        chart = make_chart(lines, x_axis=x_axis)
        img = decode(draw_chart(chart))
        assert img.shape[1] == 792
        svg_tree(draw_chart(chart, "svg"))


def test_single_point_gets_a_visible_dot():
    img = decode(draw_chart(make_chart([make_line(x=[7], y=[1.0])])))
    assert colour_pixels(img, BLUE, tol=0.1) >= 4


def test_isolated_point_between_nans_gets_a_dot():
    def middle_band(y: list[float]) -> np.ndarray:
        img = decode(draw_chart(make_chart([make_line(x=[0, 1, 2], y=y)], y_range=(0, 2))))
        middle = (round(figure.TOP_IN * DPI) + img.shape[0] - round(figure.BOTTOM_IN * DPI)) // 2
        return img[middle - 10 : middle + 10]

    assert colour_pixels(middle_band([math.nan, 1.0, math.nan]), BLUE, tol=0.1) >= 4
    assert colour_pixels(middle_band([math.nan, math.nan, math.nan]), BLUE, tol=0.1) == 0


# --- tick labels --------------------------------------------------------------------------


def test_compact_labels():
    assert compact_labels([0, 2500, 5000, 7500, 10000]) == ["0", "2.5k", "5k", "7.5k", "10k"]
    assert compact_labels([0.1, 0.2, 0.3]) == ["0.1", "0.2", "0.3"]
    assert compact_labels([-1.0, -0.5, 0.0, 0.5]) == ["\u22121.0", "\u22120.5", "0", "0.5"]
    assert compact_labels([0.0, 1e-5, 2e-5]) == ["0", "1e\u22125", "2e\u22125"]
    assert compact_labels([0, 2_000_000, 4_000_000]) == ["0", "2M", "4M"]
    huge = compact_labels([2.0**62, 2.0**62 + 2.0**52, 2.0**62 + 2.0**53])
    assert len(set(huge)) == 3
    assert compact_labels([0.69310, 0.69315, 0.69320]) == ["0.69310", "0.69315", "0.69320"]


def test_log_labels():
    assert [log_label(v) for v in (1e-5, 0.001, 0.5, 1.0, 100.0, 1e4, 2e6)] == [
        "1e\u22125",
        "0.001",
        "0.5",
        "1",
        "100",
        "10k",
        "2M",
    ]


# --- the chart pool -----------------------------------------------------------------------


def draw_charts(charts_, image_format="png", jobs=None, progress=None, meanwhile=None):
    with ChartPool(jobs, image_format) as pool:
        return pool.draw(charts_, progress=progress, meanwhile=meanwhile)


def _charts(n: int) -> list[Chart]:
    return [
        make_chart(
            [make_line("a", PALETTE[i % 6], np.arange(200), noisy(i, 200), weight=0.6)],
            tag=f"tag/{i}",
        )
        for i in range(n)
    ]


def test_draw_charts_in_parallel_keeps_order_and_matches_serial():
    charts_ = _charts(9)
    calls: list[tuple[int, int]] = []
    parallel = draw_charts(
        charts_, jobs=2, progress=lambda done, total: calls.append((done, total))
    )
    serial = draw_charts(charts_, jobs=1)
    assert parallel == serial == [draw_chart(chart) for chart in charts_]
    assert len(set(serial)) == 9
    dones = [done for done, _ in calls]
    assert dones == sorted(dones) and dones[-1] == 9 and {total for _, total in calls} == {9}


def test_draw_charts_svg_in_parallel_is_identical():
    charts_ = _charts(4)
    assert draw_charts(charts_, "svg", jobs=2) == draw_charts(charts_, "svg", jobs=1)


def test_draw_charts_with_spawned_workers_matches(monkeypatch):
    # the start method where fork is missing or unsafe: workers import tbreport themselves
    monkeypatch.setattr(charts, "_pool_context", lambda: multiprocessing.get_context("spawn"))
    charts_ = _charts(4)
    assert draw_charts(charts_, jobs=2) == draw_charts(charts_, jobs=1)


_FORK_SERVER_BUILD = """
import os, sys, threading
from conftest import build_options, fixture_logdir
from tbreport.pipeline import build

if sys.argv[2] == "thread":  # an application's thread: no fork server, matplotlib here
    stop = threading.Event()
    threading.Thread(target=stop.wait, daemon=True).start()

# eight images on two workers: the fork server's, with matplotlib imported there, not here
result = build(build_options(sys.argv[1], fixture_logdir("torch_kinds"), jobs=2, no_cache=True))
assert result.drawn == 8, result.drawn
if sys.argv[2] == "thread":
    assert "matplotlib" in sys.modules
    sys.exit(0)  # spawned workers: multiprocessing's resource tracker stays, as it does
assert "matplotlib" not in sys.modules, "the charts were drawn in this process"
me = str(os.getpid())
children = []
for entry in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{entry}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):  # ended meanwhile
        continue
    # pid (comm) state ppid ...: comm may hold spaces, the fields after it do not
    if stat.rsplit(")", 1)[1].split()[1] == me:
        children.append(stat)
assert not children, children
"""


@pytest.mark.parametrize("beside", ["nothing", "thread"])
def test_a_build_draws_on_fork_server_workers_and_leaves_no_process_behind(tmp_path, beside):
    # a fresh interpreter: this one has matplotlib imported, which keeps the fork server off
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = str(Path(__file__).parent)
    path = os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", _FORK_SERVER_BUILD, str(tmp_path / "site"), beside],
        env={**os.environ, "PYTHONPATH": path}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "index.html").is_file()


def test_draw_charts_in_process_reports_each_chart():
    calls: list[tuple[int, int]] = []
    images = draw_charts(_charts(3), progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert len(images) == 3
    assert draw_charts([], progress=lambda d, t: calls.append((d, t))) == []


def test_draw_charts_raises_a_workers_error():
    bad = [*_charts(4), make_chart([make_line()], x_axis="epoch")]
    with pytest.raises(ValueError, match="x_axis"):
        draw_charts(bad, jobs=2)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="image_format"):
        draw_chart(make_chart([make_line()]), "jpg")
    with pytest.raises(ValueError, match="jobs"):
        draw_charts(_charts(1), jobs=0)
    with pytest.raises(ValueError, match="dpi"):
        draw_chart(make_chart([make_line()]), dpi=0)


@pytest.mark.parametrize("image_format", ["png", "svg"])
def test_a_reused_figure_draws_exactly_what_a_fresh_one_does(image_format):
    """Charts reuse one figure per size; nothing of one chart may leak into the next."""
    x = np.arange(300)
    two = [
        make_line("a", BLUE, x, noisy(1), weight=0.6),
        make_line("b", ORANGE, x, noisy(2, offset=0.2), weight=0.6, dashed=True),
    ]
    weird = noisy(3)
    weird[[10, 20, 30]] = [np.nan, np.inf, -np.inf]
    sequence = [
        make_chart(two, tag="train/loss", smoothing=0.6),
        make_chart([make_line("c", BLUE, x, weird)], tag="log", log_y=True),
        make_chart([make_line("d", BLUE, x * 60.0, noisy(4))], tag="rel", x_axis="relative"),
        make_chart([make_line("e", BLUE, 1.7e9 + x * 3600.0, noisy(5))], tag="w", x_axis="wall"),
        make_chart([make_line("f", BLUE, [], [])], tag="empty"),
        make_chart(two, tag="train/loss", smoothing=0.6, y_range=(0.0, 2.0)),
    ]
    fresh = [draw_chart(chart, image_format) for chart in sequence]  # a figure each
    painter = Painter()
    reused = [draw_chart(chart, image_format, painter=painter) for chart in sequence]
    assert reused == fresh
    assert len(set(fresh)) == len(fresh)


@pytest.mark.parametrize("jobs", [1, 2])
def test_meanwhile_runs_once_while_charts_are_drawn(jobs):
    x = np.arange(50)
    charts_ = [make_chart([make_line("a", BLUE, x, noisy(i, 50))], tag=f"t{i}") for i in range(6)]
    calls = []
    images = draw_charts(charts_, jobs=jobs, meanwhile=lambda: calls.append(len(calls)))
    assert calls == [0] and len(images) == 6 and all(i.startswith(b"\x89PNG") for i in images)


# --- wall times that are not dates (a broken clock, a crafted record) -----------------------

BAD_WALL_TIMES = [1e13, -1e300, 1e300, math.nan, math.inf]
GOOD_START = 1_600_000_000.0


@pytest.fixture
def bad_wall_logdir(torch_writer, tmp_path):
    """'mixed': 10 good points and one of each bad wall time; 'broken': only bad ones."""
    w = torch_writer("mixed")
    for step in range(10):
        w.add_scalar("loss", 1.0 / (step + 1), step, walltime=GOOD_START + step)
    for k, t in enumerate(BAD_WALL_TIMES):
        w.add_scalar("loss", 0.05, 10 + k, walltime=t)
        w.add_scalar("acc", 0.5, k, walltime=t)
    w.flush()
    b = torch_writer("broken")
    for k, t in enumerate(BAD_WALL_TIMES):
        b.add_scalar("loss", 0.2, k, walltime=t)
    b.flush()
    return tmp_path / "logs"


def _bad_wall_build(logdir, out, fmt: str, x_axis: str = "step"):
    from tbreport.options import make_options
    from tbreport.pipeline import build

    cli = {
        "runs_dir": str(logdir),
        "out": str(out),
        "date": "2021-05-24 20:41:00 -0400",
        "quiet": True,
        "format": fmt,
        "x_axis": x_axis,
        "image_format": "svg",
    }
    return build(make_options(cli, {}, None))


@pytest.mark.parametrize("fmt", ["html", "jekyll", "markdown"])
def test_wall_times_that_are_not_dates_build_in_every_format(bad_wall_logdir, tmp_path, fmt):
    result = _bad_wall_build(bad_wall_logdir, tmp_path / "out", fmt)
    text = (tmp_path / "out" / result.main).read_text(encoding="utf-8")
    notes = [w for w in result.warnings if w.kind == "bad-wall-time"]
    assert [(w.run, w.tag, w.severity) for w in notes] == [
        ("broken", "loss", "note"),
        ("mixed", None, "note"),
    ]
    assert "5 record(s) in tag(s) 'loss'" in notes[0].message
    assert "10 record(s) in tag(s) 'acc', 'loss'" in notes[1].message
    # the mixed run starts at its first real date; the broken one has no start or duration
    runs = {r.name: r for r in result.report.runs}
    assert runs["mixed"].start_time == GOOD_START and runs["mixed"].duration == 9.0
    assert runs["broken"].start_time is None and runs["broken"].duration is None
    assert "2020-09-13 12:26 UTC" in text or fmt == "markdown"  # markdown has no runs table
    assert "logged from 2020-09-13 12:26 UTC to 2020-09-13 12:26 UTC" in text
    assert "wall time that is not a date" in text.replace("\\", "")


@pytest.mark.parametrize("x_axis", ["wall", "relative"])
def test_time_axes_leave_off_points_whose_wall_time_is_not_a_date(
    bad_wall_logdir, tmp_path, x_axis
):
    result = _bad_wall_build(bad_wall_logdir, tmp_path / "out", "html", x_axis)
    loss = next(c for c in result.report.charts if c.tag == "loss")
    assert loss.undated == 10  # 5 of mixed, 5 of broken
    mixed = next(line for line in loss.lines if line.run == "mixed")
    assert mixed.points == 15 and mixed.drawn == 10
    expected = np.arange(10.0) + (GOOD_START if x_axis == "wall" else 0.0)
    np.testing.assert_array_equal(mixed.x, expected)
    assert mixed.summary.last_step == 14  # statistics keep every point
    html = (tmp_path / "out" / result.main).read_text(encoding="utf-8")
    assert "10 points left off the time axis" in html
    # the wall axis shows dates again instead of falling back to unix seconds
    svg = draw_chart(loss, "svg")
    assert ("wall time (UTC)" if x_axis == "wall" else "time since start (s)") in svg_comments(svg)


def test_step_axis_keeps_points_whose_wall_time_is_not_a_date(bad_wall_logdir, tmp_path):
    result = _bad_wall_build(bad_wall_logdir, tmp_path / "out", "html")
    loss = next(c for c in result.report.charts if c.tag == "loss")
    assert loss.undated == 0 and loss.drawn == loss.points == 20


@pytest.mark.parametrize(
    ("timestamp", "text"),
    [
        (GOOD_START, "2020-09-13 12:26 UTC"),
        (-62135596800.0, "1-01-01 00:00 UTC"),
        (253402300799.5, "9999-12-31 23:59 UTC"),
        (253402300800.0, "–"),
        (-62135596801.0, "–"),
        *((t, "–") for t in BAD_WALL_TIMES),
        (None, "–"),
    ],
)
def test_format_utc_shows_a_dash_for_times_that_are_not_dates(timestamp, text):
    from tbreport.formatting import format_utc

    assert format_utc(timestamp) == text


def test_ls_json_of_wall_times_that_are_not_dates(bad_wall_logdir):
    import json

    from tbreport.listing import to_json
    from tbreport.read import read_logdir

    runs = {r["name"]: r for r in json.loads(to_json(read_logdir(bad_wall_logdir)))["runs"]}
    assert runs["broken"]["start_wall_time"] is None
    assert runs["mixed"]["start_wall_time"] == GOOD_START
    assert runs["mixed"]["duration_seconds"] == 9.0
