"""Scalars kind, embedding: a Chart in, the compact data the browser draws it from out.

Format version 1 (docs/html-report.md): per chart a JSON header and one base64 string of
raw-deflated binary; per line, in order, each section little-endian and 8-byte aligned:
steps as int64 (the first, then differences), wall times as float64, values as float32 when
every value survives the round trip (else float64), smoothed values as float64 when the chart
is smoothed; then, for a group's line (``band``), its band's lower and upper bounds and the
runs behind each point as float64.
"""

from __future__ import annotations

import base64
import zlib
from typing import Any

import numpy as np

from tbreport.model import Chart, Line
from tbreport.names import plain_text

FORMAT_VERSION = 1


def _values_dtype(values: np.ndarray) -> str:
    # TensorBoard's simple_value is a float32, so most series are exact in half the bytes
    narrow = values.astype("<f4").astype(np.float64)
    same = (narrow == values) | (np.isnan(narrow) & np.isnan(values))
    return "f4" if bool(same.all()) else "f8"


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 8)


def _line_bytes(line: Line, dtype: str) -> bytes:
    if line.steps is None or line.wall_times is None:
        raise ValueError(f"line of run {line.run!r} has no steps or wall times to embed")
    steps = np.asarray(line.steps, dtype=np.int64)
    deltas = np.diff(steps, prepend=np.int64(0))  # first step, then differences
    parts = [
        deltas.astype("<i8").tobytes(),
        np.asarray(line.wall_times, dtype="<f8").tobytes(),
        _pad(np.asarray(line.y, dtype=np.float64).astype("<" + dtype).tobytes()),
    ]
    if line.smoothed is not None:
        parts.append(np.asarray(line.smoothed, dtype="<f8").tobytes())
    if _banded(line):
        for part in (line.lower, line.upper, line.n):
            parts.append(np.asarray(part, dtype="<f8").tobytes())
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
                "smoothed": line.smoothed is not None,
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
        size = np.dtype(dtype).itemsize * n
        arr = np.frombuffer(raw, dtype="<" + dtype, count=n, offset=at)
        at += size + (-size % 8)
        return arr

    for line in payload["lines"]:
        n = line["held"]
        item = {
            "steps": np.cumsum(take("i8", n)),
            "wall_times": take("f8", n),
            "values": take(line["values"], n).astype(np.float64),
        }
        if line["smoothed"]:
            item["smoothed"] = take("f8", n)
        if line.get("band"):
            item["lower"], item["upper"], item["n"] = (take("f8", n) for _ in range(3))
        out.append(item)
    return out
