"""Scalars kind, embedding: a Chart in, the compact data the browser draws it from out.

Format version 3 (docs/html-report.md): per chart a JSON header and one base64 string of
raw-deflated binary; per line, in order, sections of ``held`` little-endian numbers, each
stored as byte planes (the first byte of every number, then the second, ...; deflate finds
the runs in the sign and exponent bytes): steps as int64 (the first, then differences), wall
times as the int64 bit patterns of their float64 (the first, then differences), values as
float32 when every value survives the round trip (else float64), the build's smoothed values
as float32 when the page holds fewer points than the series (otherwise the script's smoothing
of the held points is the same numbers; float32 keeps the seven digits a reader sees, in half
the bytes of the page's largest section); then, for a group's line (``band``), its band's lower
and upper bounds and the runs behind each point as float64.
"""

from __future__ import annotations

import base64
import zlib
from typing import Any

import numpy as np

from tbreport.model import Chart, Line
from tbreport.names import plain_text

FORMAT_VERSION = 3


def _values_dtype(values: np.ndarray) -> str:
    # TensorBoard's simple_value is a float32, so most series are exact in half the bytes
    narrow = values.astype("<f4").astype(np.float64)
    same = (narrow == values) | (np.isnan(narrow) & np.isnan(values))
    return "f4" if bool(same.all()) else "f8"


def _planes(values: np.ndarray) -> bytes:
    """The little-endian numbers as byte planes: byte 0 of each, then byte 1 of each, ..."""
    a = np.ascontiguousarray(values.astype(values.dtype.newbyteorder("<")))
    return a.view(np.uint8).reshape(a.size, a.dtype.itemsize).T.tobytes()


def _unplanes(data: bytes, dtype: str, n: int) -> np.ndarray:
    size = np.dtype(dtype).itemsize
    planes = np.frombuffer(data, dtype=np.uint8, count=n * size).reshape(size, n)
    return np.ascontiguousarray(planes.T).view("<" + dtype).ravel()


def _deltas(values: np.ndarray) -> np.ndarray:
    # int64 arithmetic wraps: the differences of any bit patterns sum back exactly
    with np.errstate(over="ignore"):
        return np.diff(values.astype("<i8"), prepend=np.int64(0))


def _embeds_smoothed(line: Line) -> bool:
    """Whether the build's smoothing must be embedded: only when the page holds part of the
    series (thinned, or points without an x); otherwise the script computes the same."""
    return line.smoothed is not None and len(line.y) < line.points


def _line_bytes(line: Line, dtype: str) -> bytes:
    if line.steps is None or line.wall_times is None:
        raise ValueError(f"line of run {line.run!r} has no steps or wall times to embed")
    wall_bits = np.asarray(line.wall_times, dtype="<f8").view("<i8")
    parts = [
        _planes(_deltas(np.asarray(line.steps, dtype=np.int64))),
        _planes(_deltas(wall_bits)),
        _planes(np.asarray(line.y, dtype=np.float64).astype("<" + dtype)),
    ]
    if _embeds_smoothed(line):
        parts.append(_planes(np.asarray(line.smoothed, dtype=np.float64).astype("<f4")))
    if _banded(line):
        for part in (line.lower, line.upper, line.n):
            parts.append(_planes(np.asarray(part, dtype="<f8")))
    return b"".join(parts)


def _banded(line: Line) -> bool:
    return line.lower is not None and line.upper is not None and line.n is not None


def chart_payload(chart: Chart) -> dict[str, Any]:
    """The chart's JSON header and its points (``data``: base64 of raw deflate)."""
    lines = []
    blob = []
    for line in chart.lines:
        dtype = _values_dtype(np.asarray(line.y, dtype=np.float64))
        meta: dict[str, Any] = (
            {}
            if line.group is None and not line.faint
            else {
                # a group's centre: drawn as is (its runs were smoothed before aggregating)
                "group": line.group is not None,
                "band": _banded(line),
                # a group's member run, drawn faint and hidden with its group
                "faint": line.faint,
                "in_group": line.trial if line.faint else None,
            }
        )
        lines.append(
            {
                "run": line.run,
                # what the page shows: no bidi controls, control pictures (as in the HTML)
                "label": plain_text(line.run),
                "color": line.color,
                "dashed": line.dashed,
                "points": line.points,
                "held": int(len(line.y)),
                "values": dtype,
                "smoothed": _embeds_smoothed(line),
                **meta,
                # runs sharing a colour are told apart by line style (solid is not written)
                **({"style": line.style} if line.style != "solid" else {}),
            }
        )
        blob.append(_line_bytes(line, dtype))
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)  # raw deflate: DecompressionStream's
    packed = packer.compress(b"".join(blob)) + packer.flush()
    return {
        "tag": chart.tag,
        "slug": chart.slug,
        "log_y": chart.log_y,
        "direction": chart.direction,
        "smoothing": chart.smoothing,
        # the author's y_range (only then: the script fits the range to the view otherwise)
        **({"y_range": list(chart.y_range)} if chart.fixed_y and chart.y_range else {}),
        "lines": lines,
        "data": base64.b64encode(packed).decode("ascii"),
    }


def decode_payload(payload: dict[str, Any]) -> list[dict[str, np.ndarray]]:
    """The inverse of :func:`chart_payload` (what the browser does), for tests and tools."""
    raw = zlib.decompress(base64.b64decode(payload["data"]), -15)
    out = []
    at = 0

    def take(dtype: str, n: int) -> np.ndarray:
        nonlocal at
        arr = _unplanes(raw[at:], dtype, n)
        at += np.dtype(dtype).itemsize * n
        return arr

    for line in payload["lines"]:
        n = line["held"]
        with np.errstate(over="ignore"):
            steps = np.cumsum(take("i8", n))
            wall = np.cumsum(take("i8", n)).view("<f8")
        item = {"steps": steps, "wall_times": wall, "values": take(line["values"], n)}
        item["values"] = item["values"].astype(np.float64)
        if line["smoothed"]:
            item["smoothed"] = take("f4", n).astype(np.float64)
        if line.get("band"):
            item["lower"], item["upper"], item["n"] = (take("f8", n) for _ in range(3))
        out.append(item)
    return out
