"""Charts stage, fonts: the fallback fonts chart text is drawn with after DejaVu Sans (CJK,
Arabic, Hebrew, Indic, Thai, symbols, emoji), taken by file from a fonts folder (Debian's
Noto and Symbola packages), and the warning for characters none of them can show.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from matplotlib.font_manager import FontProperties, findfont, fontManager
from matplotlib.ft2font import FT2Font

from tbreport.charts.fallbacks import FALLBACKS, FONT, FONT_DIR, Fallback
from tbreport.model import NOTE, DataWarning, WarningKind
from tbreport.names import strip_bidi

__all__ = ["FALLBACKS", "FONT", "FONT_DIR", "Fallback", "fallback_families", "missing_glyphs"]


class _RegularOnly(logging.Filter):
    """Drops matplotlib's note that a fallback has no bold face: bold titles take the few
    glyphs DejaVu Sans lacks from the regular face, on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (
            message.startswith("findfont: Failed to find font weight")
            and any(f" for {f.family}," in message for f in FALLBACKS)
        )


@lru_cache(maxsize=8)
def fallback_families(font_dir: Path = FONT_DIR) -> tuple[str, ...]:
    """The chart's font families, DejaVu Sans first, then every fallback whose file is in
    ``font_dir``, registered with matplotlib by that file.

    A family that matplotlib's font cache knows from another file (say a newer Noto Sans under
    ~/.fonts, or its bold face) is pinned to ours: the same text draws the same everywhere the
    same packages are installed, whatever fontconfig prefers.
    """
    families = [FONT]
    logger = logging.getLogger("matplotlib.font_manager")
    if not any(isinstance(f, _RegularOnly) for f in logger.filters):
        logger.addFilter(_RegularOnly())
    for fallback in FALLBACKS:
        path = font_dir / fallback.file
        if not path.is_file():
            continue
        fontManager.ttflist = [e for e in fontManager.ttflist if e.name != fallback.family]
        # every face of a collection (CJK JP, KR, SC, ...); clears findfont's cache
        fontManager.addfont(path)
        families.append(fallback.family)
    return tuple(families)


@lru_cache(maxsize=8)
def charmap(families: tuple[str, ...]) -> frozenset[int]:
    """Every code point one of ``families`` (as matplotlib finds them) has a glyph for."""
    points: set[int] = set()
    for family in families:
        points.update(_font_charmap(findfont(FontProperties(family=[family]))))
    return frozenset(points)


@lru_cache(maxsize=32)
def _font_charmap(path: str) -> frozenset[int]:
    return frozenset(FT2Font(path).get_charmap())


def missing_glyphs(texts: Iterable[str], font_dir: Path = FONT_DIR) -> DataWarning | None:
    """A note naming the characters of ``texts`` (tags, run names) no chart font can draw
    (they are drawn as U+FFFD) and the packages that would draw them; None when all can."""
    covered = charmap(fallback_families(font_dir))
    missing = sorted(
        {
            ch
            for text in texts
            for ch in strip_bidi(text)
            if ord(ch) not in covered and ch.isprintable() and not ch.isspace()
        }
    )
    if not missing:
        return None
    packages = _packages(font_dir)
    shown = "".join(missing[:20]) + ("\u2026" if len(missing) > 20 else "")
    codes = ", ".join(f"U+{ord(ch):04X}" for ch in missing[:5])
    fix = (
        f"install the fonts (Debian: apt-get install {' '.join(packages)})"
        if packages
        else "no font known to tbreport has them"
    )
    return DataWarning(
        WarningKind.MISSING_GLYPHS,
        f"{len(missing)} character(s) in tags or run names have no glyph in the chart fonts "
        f"under {font_dir} and are drawn as \ufffd in images: {shown} ({codes}"
        f"{', ...' if len(missing) > 5 else ''}); {fix}.",
        severity=NOTE,
    )


def _packages(font_dir: Path) -> Sequence[str]:
    """The Debian packages of the fallback fonts missing from ``font_dir``, in order."""
    missing = [f.package for f in FALLBACKS if not (font_dir / f.file).is_file()]
    return list(dict.fromkeys(missing))
