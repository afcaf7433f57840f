"""Chart text in any script: fallback fonts by file, and the missing-glyphs note without them.

Needs Debian's fonts-noto-core, fonts-noto-cjk and fonts-symbola (installed by .ci/run).
"""

from __future__ import annotations

import re
import warnings

import pytest
from conftest import build_options
from test_charts import ORANGE, SKY, decode, make_chart, make_line, svg_comments

from tbreport.charts import ChartPool
from tbreport.charts.figure import Painter
from tbreport.charts.fonts import FALLBACKS, FONT_DIR, fallback_families
from tbreport.kinds.scalars.chart import draw_chart
from tbreport.model import NOTE, WarningKind
from tbreport.pipeline import _glyph_note, build

CJK = "\u5b66\u4e60\u7387"  # 学习率
DEVANAGARI = "\u0939\u093e\u0928\u093f"  # हानि (DejaVu Sans has Arabic and Hebrew)
EMOJI = "\U0001f680"  # rocket
TAG = f"{CJK}/{DEVANAGARI} {EMOJI}"


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    # matplotlib warns "Glyph ... missing from font(s)" when it would draw a box
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _chart():
    return make_chart([make_line(f"run {CJK}", ORANGE), make_line("\u0631\u0646", SKY)], tag=TAG)


def _glyph_fonts(svg: bytes) -> set[str]:
    # with svg.fonttype "path" every glyph is a <path id="{postscript name}-{glyph}">
    return {m.rsplit("-", 1)[0] for m in re.findall(rb'<path id="([^"]+-[0-9a-f]+)"', svg)
            for m in [m.decode()]}  # fmt: skip


def test_cjk_devanagari_and_emoji_tags_are_drawn_with_the_fallback_fonts():
    for fallback in FALLBACKS:
        assert (FONT_DIR / fallback.file).is_file(), f"apt-get install {fallback.package}"
    svg = draw_chart(_chart(), "svg", painter=Painter())
    fonts = _glyph_fonts(svg)
    assert {"NotoSansCJKjp-Regular", "NotoSansDevanagari-Regular", "Symbola"} <= fonts, fonts
    comments = svg_comments(svg)
    assert TAG in comments and f"run {CJK}" in comments
    assert not any("\ufffd" in c for c in comments)
    decode(draw_chart(_chart(), "png", painter=Painter()))  # no missing-glyph warning either


def test_a_reused_canvas_draws_the_next_charts_text_with_the_fallback_fonts():
    """One painter draws many charts on the same figure: a title DejaVu Sans could draw alone
    must not leave the next chart's CJK and emoji title without the fallback fonts."""
    painter = Painter()
    plain = make_chart([make_line("run a", ORANGE), make_line("run b", SKY)], tag="plain/loss")
    draw_chart(plain, "svg", painter=painter)  # the canvas of this size: titles in DejaVu Sans
    again = draw_chart(_chart(), "svg", painter=painter)
    assert again == draw_chart(_chart(), "svg", painter=Painter())
    assert {"NotoSansCJKjp-Regular", "Symbola"} <= _glyph_fonts(again)


def test_without_the_fallback_fonts_the_characters_become_replacement_marks(tmp_path):
    painter = Painter(font_dir=tmp_path)
    assert painter.rc["font.family"] == ["DejaVu Sans"]
    svg = draw_chart(_chart(), "svg", painter=painter)
    assert not {"NotoSansCJKjp-Regular", "Symbola"} & _glyph_fonts(svg)
    assert any("\ufffd" in c for c in svg_comments(svg))


def test_the_font_order_is_fixed_and_families_resolve_to_the_named_files():
    from matplotlib.font_manager import FontProperties, findfont

    families = fallback_families(FONT_DIR)
    assert families == ("DejaVu Sans", *(f.family for f in FALLBACKS))
    for fallback in FALLBACKS:
        found = findfont(FontProperties(family=[fallback.family]), fallback_to_default=False)
        assert found == str(FONT_DIR / fallback.file)


def test_missing_fonts_give_a_note_naming_the_characters_and_the_packages(tmp_path):
    assert ChartPool().missing_glyphs([TAG, "run"]) is None
    note = ChartPool(font_dir=tmp_path).missing_glyphs([TAG, "run \u4e00"])
    assert note is not None
    assert note.kind == WarningKind.MISSING_GLYPHS and note.severity == NOTE
    for ch in (*CJK, "\u4e00", EMOJI):
        assert ch in note.message
    assert "U+4E00" in note.message
    assert "apt-get install fonts-noto-core fonts-noto-cjk fonts-symbola" in note.message


def test_a_build_notes_glyphs_only_when_its_fonts_lack_them(tmp_path, torch_writer):
    w = torch_writer(f"run {EMOJI}")
    for step in range(3):
        w.add_scalar(TAG, float(step), step)
    w.close()
    result = build(build_options(tmp_path / "out", tmp_path / "logs", format="html"))
    assert not [x for x in result.warnings if x.kind == WarningKind.MISSING_GLYPHS]
    noted = _glyph_note(result.report, ChartPool(font_dir=tmp_path / "no-fonts"))
    (note,) = [x for x in noted.warnings if x.kind == WarningKind.MISSING_GLYPHS]
    assert CJK[0] in note.message and EMOJI in note.message
