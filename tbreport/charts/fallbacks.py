"""Charts stage, the fallback fonts by file (no matplotlib here, so the chart cache can key
on which of them are installed without importing it); :mod:`tbreport.charts.fonts` uses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: the first font of every chart, bundled with matplotlib
FONT = "DejaVu Sans"
#: where Debian's font packages put their files
FONT_DIR = Path("/usr/share/fonts")


@dataclass(frozen=True)
class Fallback:
    family: str
    #: the font file, relative to the fonts folder
    file: str
    #: the Debian package that installs it
    package: str


# In this order after DejaVu Sans, for characters it has no glyph for. Emoji come from Symbola's
# outlines: matplotlib (FreeType, Agg) cannot draw Noto Color Emoji's bitmap glyphs.
FALLBACKS: tuple[Fallback, ...] = (
    Fallback("Noto Sans", "truetype/noto/NotoSans-Regular.ttf", "fonts-noto-core"),
    Fallback("Noto Sans Arabic", "truetype/noto/NotoSansArabic-Regular.ttf", "fonts-noto-core"),
    Fallback("Noto Sans Hebrew", "truetype/noto/NotoSansHebrew-Regular.ttf", "fonts-noto-core"),
    Fallback(
        "Noto Sans Devanagari", "truetype/noto/NotoSansDevanagari-Regular.ttf", "fonts-noto-core"
    ),
    Fallback("Noto Sans Thai", "truetype/noto/NotoSansThai-Regular.ttf", "fonts-noto-core"),
    Fallback("Noto Sans CJK JP", "opentype/noto/NotoSansCJK-Regular.ttc", "fonts-noto-cjk"),
    Fallback("Noto Sans Symbols", "truetype/noto/NotoSansSymbols-Regular.ttf", "fonts-noto-core"),
    Fallback("Noto Sans Symbols2", "truetype/noto/NotoSansSymbols2-Regular.ttf", "fonts-noto-core"),
    Fallback("Symbola", "truetype/ancient-scripts/Symbola_hint.ttf", "fonts-symbola"),
)
