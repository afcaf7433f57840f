"""Numbers and times as text, shared by ``tbreport ls`` and the report templates."""

from __future__ import annotations

import datetime as dt
import math

from tbreport.model import WALL_TIME_END, WALL_TIME_MIN, wall_time_ok

__all__ = ["WALL_TIME_END", "WALL_TIME_MIN", "wall_time_ok"]


#: unix seconds a date can show: 0001-01-01 up to the end of 9999 (Python's datetime range).
#: A writer's clock or a crafted record can hold anything a double can (1e13, -1e300, NaN).
def format_number(value: float | int | None) -> str:
    """Compact, exact-enough numbers for tables: 4 significant digits, NaN/inf spelled out."""
    if value is None:
        return "–"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e6:
        text = f"{value:.4g}"
    else:
        text = f"{value:.3e}"
    return text


def format_percent(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:+.1%}"


def status_icon(status: str) -> str:
    return {"better": "✅", "worse": "❌", "unchanged": "➖"}.get(status, "·")


def format_duration(seconds: float | None, compact: bool = False) -> str:
    """``1 h 05 min``, ``2 min 03 s``, ``9.9 s``; compact for terminals: ``1h05m``."""
    if seconds is None or not math.isfinite(seconds):
        return "-" if compact else "–"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s" if compact else f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m" if compact else f"{hours} h {minutes:02d} min"
    return f"{minutes}m{sec:02d}s" if compact else f"{minutes} min {sec:02d} s"


def format_utc(timestamp: float | None) -> str:
    """``2021-05-24 20:41 UTC``; ``–`` for no time or one that is not a date (1e13, NaN)."""
    if timestamp is None or not WALL_TIME_MIN <= timestamp < WALL_TIME_END:
        return "–"
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def format_count(n: int) -> str:
    """A count with thousands separators: ``1,000,000``."""
    return f"{n:,}"


def format_step_range(first: int | None, last: int | None) -> str:
    if first is None or last is None:
        return "–"
    return f"{first}–{last}" if first != last else str(first)


def format_hparam(value: object) -> str:
    """A hyperparameter value for a table cell: numbers as other numbers, ``true``/``false``,
    text as it is (the caller escapes it), ``–`` when missing."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return format_number(value)
    return str(value)


def sort_value(value: object) -> str:
    """What a browser sorts a table cell by: the full number (``repr``) for numbers, else
    empty (the script then sorts by the cell's text)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    return repr(float(value)) if math.isfinite(value) else ""
