"""Read stage: the event files of one file in, scalar points and non-scalar counts out.

Records of one length that share a layout (the same protobuf keys and lengths, differing only
in wall time, step, tag and value bytes) are decoded together with numpy, using a template
learnt from the first of them. Any other record is decoded with TensorBoard's protobufs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tbreport.model import wall_time_ok
from tbreport.read import records
from tbreport.read.records import HEADER, Framing, Group

# Value.tensor dtypes (tensorflow/core/framework/types.proto) read as scalars
_DT_FLOAT, _DT_DOUBLE, _DT_INT32, _DT_UINT8, _DT_INT16, _DT_INT8 = 1, 2, 3, 4, 5, 6
_DT_INT64, _DT_BOOL, _DT_BFLOAT16, _DT_UINT16, _DT_HALF, _DT_UINT32, _DT_UINT64 = (
    9,
    10,
    14,
    17,
    19,
    22,
    23,
)
_CONTENT_DTYPES = {
    _DT_FLOAT: "<f4",
    _DT_DOUBLE: "<f8",
    _DT_INT32: "<i4",
    _DT_UINT8: "<u1",
    _DT_INT16: "<i2",
    _DT_INT8: "<i1",
    _DT_INT64: "<i8",
    _DT_BOOL: "bool",
    _DT_BFLOAT16: "bf16",
    _DT_UINT16: "<u2",
    _DT_HALF: "<f2",
    _DT_UINT32: "<u4",
    _DT_UINT64: "<u8",
}
# repeated fields of TensorProto holding one value: field number -> (name, {dtype: decoding}).
# Varints decode as protobuf reads them into the field's type: int32 and uint32 keep the low
# 32 bits (0xFFFFFFFF in int_val is -1), a bool is any non-zero varint.
_VAL_FIELDS: dict[int, tuple[str, dict[int, str]]] = {
    5: ("float_val", {_DT_FLOAT: "<f4"}),
    6: ("double_val", {_DT_DOUBLE: "<f8"}),
    7: (
        "int_val",
        dict.fromkeys((_DT_INT32, _DT_UINT8, _DT_INT16, _DT_INT8, _DT_UINT16), "varint_i32"),
    ),
    10: ("int64_val", {_DT_INT64: "varint_i64"}),
    11: ("bool_val", {_DT_BOOL: "varint_bool"}),
    # TensorFlow keeps half and bfloat16 values as their 16 bits in half_val
    13: ("half_val", {_DT_HALF: "varint_f16", _DT_BFLOAT16: "varint_bf16"}),
    16: ("uint32_val", {_DT_UINT32: "varint_u32"}),
    17: ("uint64_val", {_DT_UINT64: "varint_u64"}),
}

SIMPLE = 0
TENSOR = 1


# --- a small protobuf wire reader for learning templates ----------------------------------


def _varint(data: bytes, i: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= end or shift > 63:
            raise ValueError("bad varint")
        b = data[i]
        value |= (b & 0x7F) << shift
        i += 1
        shift += 7
        if not b & 0x80:
            return value, i


@dataclass
class _Field:
    number: int
    wire: int
    key: int  # offset of the key
    start: int  # offset of the value (after the length for wire type 2)
    end: int


def _fields(data: bytes, start: int, end: int) -> list[_Field]:
    out = []
    i = start
    while i < end:
        key_at = i
        key, i = _varint(data, i, end)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, j = _varint(data, i, end)
        elif wire == 1:
            j = i + 8
        elif wire == 5:
            j = i + 4
        elif wire == 2:
            n, i = _varint(data, i, end)
            j = i + n
        else:
            raise ValueError("unsupported wire type")
        if j > end:
            raise ValueError("field runs past its message")
        out.append(_Field(number, wire, key_at, i, j))
        i = j
    return out


@dataclass(frozen=True)
class Template:
    """Where the varying parts of a record layout sit (offsets from the record header)."""

    wall: int | None
    step: tuple[int, int] | None  # (offset, varint bytes)
    tag: tuple[int, int]
    value: tuple[int, int, str]  # (offset, bytes, decoding)
    encoding: int  # SIMPLE or TENSOR
    plugin: str | None  # from the layout's metadata, if it carries any
    #: per byte of the record: bits that must equal the reference record
    byte_mask: bytes


def learn_template(data: bytes) -> Template | None:
    """A template for an Event holding one scalar-like value, or None for anything else."""
    try:
        return _learn(data)
    except (ValueError, IndexError):
        return None


def _envelope(
    data: bytes, value_fields: frozenset[int], oneof: tuple[int, int]
) -> tuple[bytearray, int | None, tuple[int, int] | None, list[_Field]] | None:
    """The layout of an Event holding one summary value: its byte mask (wall time, step and
    what follows set to be compared), where the wall time and step are, and the value's fields.

    None when the record has any other shape (it then goes to protobuf): fields other than
    wall time, step and summary, more than one value, value fields outside ``value_fields``,
    or both fields of the value's ``oneof`` (protobuf keeps the last; leave that to it).
    """
    n = len(data)
    mask = bytearray(b"\xff" * n)
    top = _fields(data, 0, n)
    numbers = [f.number for f in top]
    if len(set(numbers)) != len(numbers) or not set(numbers) <= {1, 2, 5} or 5 not in numbers:
        return None
    wall = step = None
    summary = None
    for f in top:
        if f.number == 1 and f.wire == 1:
            wall = f.start
            mask[f.start : f.end] = bytes(8)
        elif f.number == 2 and f.wire == 0:
            step = (f.start, f.end - f.start)
            mask[f.start : f.end] = b"\x80" * (f.end - f.start)
        elif f.number == 5 and f.wire == 2:
            summary = f
        else:
            return None
    assert summary is not None
    values = _fields(data, summary.start, summary.end)
    if len(values) != 1 or values[0].number != 1 or values[0].wire != 2:
        return None
    vfields = _fields(data, values[0].start, values[0].end)
    numbers = [f.number for f in vfields]
    if len(set(numbers)) != len(numbers) or not set(numbers) <= value_fields or 1 not in numbers:
        return None
    if oneof[0] in numbers and oneof[1] in numbers:
        return None
    return mask, wall, step, vfields


#: Summary.Value fields: tag (1), simple_value (2), histo (5), tensor (8), metadata (9)
_SCALAR_VALUE = frozenset({1, 2, 8, 9})
_HISTOGRAM_VALUE = frozenset({1, 5, 8, 9})


def _learn(data: bytes) -> Template | None:
    envelope = _envelope(data, _SCALAR_VALUE, (2, 8))
    if envelope is None:
        return None
    mask, wall, step, vfields = envelope
    tag = value = None
    encoding = SIMPLE
    plugin = None
    for f in vfields:
        if f.number == 1 and f.wire == 2:
            tag = (f.start, f.end - f.start)
            mask[f.start : f.end] = bytes(f.end - f.start)
        elif f.number == 2 and f.wire == 5:
            value = (f.start, 4, "<f4")
            mask[f.start : f.end] = bytes(4)
        elif f.number == 8 and f.wire == 2:
            value = _learn_tensor(data, f, mask)
            encoding = TENSOR
            if value is None:
                return None
        elif f.number == 9 and f.wire == 2:
            plugin = _plugin_name(data, f)
        else:
            return None
    # hparams metadata carries the session's hyperparameters: protobuf reads those
    if tag is None or value is None or plugin == "hparams":
        return None
    return Template(wall, step, tag, value, encoding, plugin, bytes(mask))


def _learn_tensor(data: bytes, tensor: _Field, mask: bytearray) -> tuple[int, int, str] | None:
    dtype = None
    value = None
    for f in _fields(data, tensor.start, tensor.end):
        if f.number == 1 and f.wire == 0:
            dtype, _ = _varint(data, f.start, f.end)
        elif f.number == 2 and f.wire == 2:
            if f.end != f.start:  # a shape with dimensions: not rank 0
                return None
        elif f.number == 3 and f.wire == 0:
            pass
        elif f.number == 4 and f.wire == 2:
            if value is not None:
                return None
            value = ("content", f)
        elif f.number in _VAL_FIELDS and f.wire == 2:
            if value is not None:
                return None
            value = ("val", f)
        else:
            return None
    if dtype is None or value is None:
        return None
    kind, f = value
    size = f.end - f.start
    if kind == "content":
        decoding = _CONTENT_DTYPES.get(dtype)
        if decoding is None or size != _content_size(decoding):
            return None
        mask[f.start : f.end] = bytes(size)
        return (f.start, size, decoding)
    decoding = _VAL_FIELDS[f.number][1].get(dtype)
    if decoding is None:
        return None
    if decoding.startswith("varint"):
        _, end = _varint(data, f.start, f.end)
        if end != f.end:  # more than one value
            return None
        mask[f.start : f.end] = b"\x80" * size
        return (f.start, size, decoding)
    if size != np.dtype(decoding).itemsize:
        return None
    mask[f.start : f.end] = bytes(size)
    return (f.start, size, decoding)


# SummaryMetadata and its PluginData: field number -> wire type
_METADATA_FIELDS = {1: 2, 2: 2, 3: 2, 4: 0}  # plugin_data, display_name, description, data_class
_PLUGIN_DATA_FIELDS = {1: 2, 2: 2}  # plugin_name, content


def _plugin_name(data: bytes, meta: _Field) -> str | None:
    """The plugin name protobuf would read (None if empty); ValueError where protobuf would
    refuse the record (a string that is not UTF-8) or read it in a way this reader does not.
    """
    name = ""
    for f in _fields(data, meta.start, meta.end):
        if _METADATA_FIELDS.get(f.number) != f.wire:
            raise ValueError("unexpected metadata field")
        if f.number in (2, 3):
            data[f.start : f.end].decode("utf-8")
        elif f.number == 1:
            for g in _fields(data, f.start, f.end):
                if _PLUGIN_DATA_FIELDS.get(g.number) != g.wire:
                    raise ValueError("unexpected plugin_data field")
                if g.number == 1:  # repeated plugin_data merge: the last name wins
                    name = data[g.start : g.end].decode("utf-8")
    return name or None


# --- histogram layouts: the histograms plugin's [k, 3] tensors and TF1's HistogramProto ----

#: TensorProto dtypes a histogram tensor may have, with their element type
_HIST_DTYPES = {_DT_FLOAT: "<f4", _DT_DOUBLE: "<f8"}
#: the packed TensorProto value field of each of those dtypes (float_val, double_val)
_HIST_PACKED = {_DT_FLOAT: 5, _DT_DOUBLE: 6}
#: HistogramProto fields: min, max, num, sum, sum_squares (doubles); bucket_limit, bucket
_HISTO_DOUBLES = (1, 2, 3, 4, 5)
_HISTO_MIN, _HISTO_MAX, _HISTO_LIMITS, _HISTO_COUNTS = 1, 2, 6, 7


@dataclass(frozen=True)
class HistogramTemplate:
    """Where the varying parts of one histogram layout sit (offsets from the record data)."""

    wall: int | None
    step: tuple[int, int] | None
    tag: tuple[int, int]
    plugin: str | None
    #: "tensor": ``values`` is (offset, element type) of k*3 elements in row order;
    #: "histo": offsets of min and max (None when proto3 left them out as 0) and of the k
    #: packed bucket limits and counts
    encoding: str
    buckets: int
    values: tuple[int, str] | None
    histo: tuple[int | None, int | None, int, int] | None
    byte_mask: bytes


def learn_histogram_template(data: bytes) -> HistogramTemplate | None:
    """A template for an Event holding one histogram (a [k, 3] float tensor or a TF1
    HistogramProto with packed buckets), or None for anything else."""
    try:
        return _learn_histogram(data)
    except (ValueError, IndexError):
        return None


def _learn_histogram(data: bytes) -> HistogramTemplate | None:
    envelope = _envelope(data, _HISTOGRAM_VALUE, (5, 8))
    if envelope is None:
        return None
    mask, wall, step, vfields = envelope
    tag = plugin = None
    learnt: tuple[str, int, tuple[int, str] | None, tuple[int | None, int | None, int, int] | None]
    learnt = ("", 0, None, None)
    for f in vfields:
        if f.number == 1 and f.wire == 2:
            tag = (f.start, f.end - f.start)
            mask[f.start : f.end] = bytes(f.end - f.start)
        elif f.number == 8 and f.wire == 2:
            got = _learn_hist_tensor(data, f, mask)
            if got is None:
                return None
            learnt = ("tensor", got[0], got[1], None)
        elif f.number == 5 and f.wire == 2:
            got_histo = _learn_histo(data, f, mask)
            if got_histo is None:
                return None
            learnt = ("histo", got_histo[0], None, got_histo[1])
        elif f.number == 9 and f.wire == 2:
            plugin = _plugin_name(data, f)
        else:
            return None
    encoding, buckets, tensor_values, histo = learnt
    if tag is None or not encoding:
        return None
    if encoding == "histo":
        plugin = "histograms"  # TF1's legacy field, as data_compat migrates it
    elif plugin not in (None, "histograms"):
        return None
    return HistogramTemplate(
        wall, step, tag, plugin, encoding, buckets, tensor_values, histo, bytes(mask)
    )


def _learn_hist_tensor(
    data: bytes, tensor: _Field, mask: bytearray
) -> tuple[int, tuple[int, str]] | None:
    dtype = shape = content = None
    for f in _fields(data, tensor.start, tensor.end):
        if f.number == 1 and f.wire == 0:
            dtype, _ = _varint(data, f.start, f.end)
        elif f.number == 2 and f.wire == 2:
            shape = []
            for d in _fields(data, f.start, f.end):
                if d.number != 2 or d.wire != 2:
                    return None
                dim = _fields(data, d.start, d.end)
                if len(dim) != 1 or dim[0].number != 1 or dim[0].wire != 0:
                    return None
                shape.append(_varint(data, dim[0].start, dim[0].end)[0])
        elif f.number in (4, 5, 6) and f.wire == 2 and content is None:
            content = f
        else:
            return None
    if dtype not in _HIST_DTYPES or shape is None or len(shape) != 2 or shape[1] != 3:
        return None
    if content is None or (content.number != 4 and content.number != _HIST_PACKED[dtype]):
        return None
    element = _HIST_DTYPES[dtype]
    if content.end - content.start != shape[0] * 3 * np.dtype(element).itemsize:
        return None
    mask[content.start : content.end] = bytes(content.end - content.start)
    return shape[0], (content.start, element)


def _learn_histo(
    data: bytes, histo: _Field, mask: bytearray
) -> tuple[int, tuple[int | None, int | None, int, int]] | None:
    doubles: dict[int, int] = {}
    packed: dict[int, _Field] = {}
    for f in _fields(data, histo.start, histo.end):
        if f.number in _HISTO_DOUBLES and f.wire == 1 and f.number not in doubles:
            doubles[f.number] = f.start
            mask[f.start : f.end] = bytes(8)
        elif f.number in (_HISTO_LIMITS, _HISTO_COUNTS) and f.wire == 2 and f.number not in packed:
            packed[f.number] = f
            mask[f.start : f.end] = bytes(f.end - f.start)
        else:
            return None
    limits, counts = packed.get(_HISTO_LIMITS), packed.get(_HISTO_COUNTS)
    if limits is None or counts is None:
        return None
    size = limits.end - limits.start
    if size != counts.end - counts.start or size % 8 or not size:
        return None
    where = (doubles.get(_HISTO_MIN), doubles.get(_HISTO_MAX), limits.start, counts.start)
    return size // 8, where


def _histogram_columns(
    buf: np.ndarray, data_at: np.ndarray, template: HistogramTemplate
) -> tuple[np.ndarray, np.ndarray]:
    """Bucket count per record and the buckets (left, right, count) of all, row after row.

    ``data_at`` is where each record's data starts in ``buf``: a record's values are
    contiguous there, so they are copied out slice by slice (one pass over the bytes).
    """
    n, k = data_at.shape[0], template.buckets

    def values(offset: int, count: int, element: str) -> np.ndarray:
        size = count * np.dtype(element).itemsize
        starts = (data_at + offset).tolist()
        raw = np.concatenate([buf[a : a + size] for a in starts]) if n else buf[:0]
        return raw.view(element).reshape(n, count)

    def doubles(offset: int, count: int) -> np.ndarray:
        return values(offset, count, "<f8")

    if template.encoding == "tensor":
        assert template.values is not None
        offset, element = template.values
        flat = values(offset, 3 * k, element).astype(np.float64, copy=False)
        return np.full(n, k, dtype=np.int64), flat.reshape(n * k, 3)
    assert template.histo is not None
    at_min, at_max, at_limits, at_counts = template.histo
    zero = np.zeros((n, 1))
    low = zero if at_min is None else doubles(at_min, 1)
    high = zero if at_max is None else doubles(at_max, 1)
    return migrate_histo(low[:, 0], high[:, 0], doubles(at_limits, k), doubles(at_counts, k))


def migrate_histo(
    low: np.ndarray, high: np.ndarray, limits: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """TF1 HistogramProtos (n records of k buckets) as data_compat migrates them: empty
    buckets at both ends dropped, min and max as the outer edges, float32 values.

    Returns the bucket count per record and the buckets of all records, row after row.
    """
    n, k = counts.shape
    full = counts > 0
    any_full = full.any(axis=1)
    start = np.where(any_full, np.argmax(full, axis=1), k)
    end = np.where(any_full, k - 1 - np.argmax(full[:, ::-1], axis=1), -1)
    column = np.arange(k)
    keep = (column >= start[:, None]) & (column <= end[:, None])
    # bucket_limit[i] is the right edge of bucket i; the left edge is the previous limit
    lefts = np.zeros((n, k))
    lefts[:, 1:] = limits[:, :-1]
    lefts = np.where(column == start[:, None], low[:, None], lefts)
    rights = np.where(column == end[:, None], high[:, None], limits)
    buckets = np.stack([lefts[keep], rights[keep], counts[keep]], axis=1)
    with np.errstate(over="ignore"):  # data_compat's float32 array overflows to inf too
        narrowed = buckets.astype(np.float32).astype(np.float64)
    return keep.sum(axis=1).astype(np.int64), narrowed


# --- decoding matched records with numpy ---------------------------------------------------


def _varints(words: np.ndarray, offset: int, nbytes: int) -> np.ndarray:
    """uint64 varints of exactly ``nbytes`` bytes at ``offset`` (structure already checked)."""
    out = np.zeros(words.shape[1], dtype=np.uint64)
    for start in range(0, nbytes, 8):
        chunk = records.field(words, offset + start, min(8, nbytes - start))
        for k in range(min(8, nbytes - start)):
            byte = (chunk >> np.uint64(8 * k)) & np.uint64(0x7F)
            out |= byte << np.uint64(7 * (start + k))
    return out


def _content_size(decoding: str) -> int:
    return {"bf16": 2, "bool": 1}.get(decoding) or np.dtype(decoding).itemsize


def _decode_values(words: np.ndarray, value: tuple[int, int, str]) -> np.ndarray:
    offset, size, decoding = value
    if decoding.startswith("varint"):
        raw = _varints(words, offset + HEADER, size)
        if decoding in ("varint_i32", "varint_u32"):
            low32 = (raw & np.uint64(0xFFFFFFFF)).astype(np.uint32)
            return (low32.view(np.int32) if decoding == "varint_i32" else low32).astype(np.float64)
        if decoding == "varint_i64":
            return raw.view(np.int64).astype(np.float64)
        if decoding == "varint_bool":
            return (raw != 0).astype(np.float64)
        if decoding == "varint_f16":
            return (raw & np.uint64(0xFFFF)).astype(np.uint16).view(np.float16).astype(np.float64)
        if decoding == "varint_bf16":
            return _bfloat16(raw)
        return raw.astype(np.float64)
    raw = records.field(words, offset + HEADER, size)
    if decoding == "bf16":
        return _bfloat16(raw)
    if decoding == "bool":
        return (raw != 0).astype(np.float64)
    dtype = np.dtype(decoding)
    unsigned = np.dtype(f"<u{dtype.itemsize}")
    with np.errstate(invalid="ignore"):  # widening a signalling NaN quiets it, as protobuf does
        return raw.astype(unsigned).view(dtype).astype(np.float64)


def _bfloat16(bits: np.ndarray) -> np.ndarray:
    """bfloat16 is the high half of a float32."""
    wide = (bits.astype(np.uint32) & np.uint32(0xFFFF)) << np.uint32(16)
    with np.errstate(invalid="ignore"):  # a signalling NaN is quieted, as protobuf does
        return wide.astype(np.uint32).view(np.float32).astype(np.float64)


def _tag_keys(words: np.ndarray, tag: tuple[int, int]) -> list[np.ndarray]:
    offset, length = tag
    return [
        records.field(words, HEADER + offset + k, min(8, length - k)) for k in range(0, length, 8)
    ]


def _first_index(ids: np.ndarray, count: int) -> np.ndarray:
    """For each id in 0..count-1, the first position where it occurs."""
    first = np.full(count, ids.shape[0], dtype=np.intp)
    np.minimum.at(first, ids, np.arange(ids.shape[0]))
    return first


def _factorize(keys: list[np.ndarray], count: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Ids for equal tag byte strings, and the first index of each id; None if ambiguous."""
    if not keys:  # an empty tag: every one of the count records has the same
        return np.zeros(count, np.intp), np.zeros(1 if count else 0, np.intp)
    prime = np.uint64(0x9E3779B97F4A7C15)
    h = keys[0] * prime
    for k in keys[1:]:
        h = (h ^ k) * prime
    small = (h >> np.uint64(48)).astype(np.intp)
    present = np.flatnonzero(np.bincount(small, minlength=65536))
    lut = np.zeros(65536, dtype=np.intp)
    lut[present] = np.arange(present.shape[0])
    ids = lut[small]
    first = _first_index(ids, present.shape[0])
    # the 16-bit bucket is only a guess: every member must carry its representative's bytes
    for k in keys:
        if not np.array_equal(k, k[first][ids]):
            uniq, ids = np.unique(h, return_inverse=True)
            first = _first_index(ids, uniq.shape[0])
            for k2 in keys:
                if not np.array_equal(k2, k2[first][ids]):
                    return None
            return ids.astype(np.intp), first
    return ids, first


# --- per-file result ----------------------------------------------------------------------


def _empty(dtype: type) -> np.ndarray:
    out: np.ndarray = np.zeros(0, dtype)
    out.flags.writeable = False  # shared by every FileData that has no points
    return out


_NO_I64, _NO_I32, _NO_F64, _NO_U8 = (_empty(t) for t in (np.int64, np.int32, np.float64, np.uint8))


@dataclass(frozen=True)
class ByTag:
    """A file's scalar candidates grouped by tag (file order within a tag), for files where
    every tag's steps strictly increase, every value and wall time is finite and a date, and
    one encoding holds throughout: what most files of a sweep are. The run-level rules
    (restarts, repeats, non-finite notes) then have nothing to do, and each series is a slice.
    """

    steps: np.ndarray
    values: np.ndarray
    walls: np.ndarray
    #: points of local tag t are [bounds[t], bounds[t + 1])
    bounds: list[int]
    encoding: int


@dataclass
class FileData:
    """What one event file holds, before the run-level rules (plugins, restarts) apply."""

    path: str
    tags: list[str] = field(default_factory=list)
    # scalar candidates, in file order: record index, tag index, step, wall time, value, enc
    record: np.ndarray = field(default_factory=lambda: _NO_I64)
    tag: np.ndarray = field(default_factory=lambda: _NO_I32)
    step: np.ndarray = field(default_factory=lambda: _NO_I64)
    wall: np.ndarray = field(default_factory=lambda: _NO_F64)
    value: np.ndarray = field(default_factory=lambda: _NO_F64)
    encoding: np.ndarray = field(default_factory=lambda: _NO_U8)
    #: tag -> (record index, plugin name) of the first record carrying metadata
    metadata: dict[str, tuple[int, str]] = field(default_factory=dict)
    #: (tag, plugin) -> count, for summaries that are not scalar candidates; plugin None for
    #: tensors whose plugin comes from the tag's metadata elsewhere
    others: defaultdict[tuple[str, str | None], int] = field(
        default_factory=lambda: defaultdict(int)
    )
    hparams: dict[str, object] = field(default_factory=dict)
    #: (byte offset, protobuf's reason) of records with valid checksums protobuf cannot
    #: decode, such as a tag that is not UTF-8; both decoders skip them
    undecodable: list[tuple[int, str]] = field(default_factory=list)
    file_version: str | None = None
    records: int = 0
    #: bytes in the file as read
    size: int = 0
    framing: Framing | None = None
    #: (byte offset, step or None) of each record skipped for a data checksum mismatch; the
    #: step is read from the damaged bytes, so it may itself be wrong
    skipped: list[tuple[int, int | None]] = field(default_factory=list)
    #: non-scalar summary values, in file order: (tag, plugin or None, step, wall time,
    #: record offset, index in the event's summary.value); their kinds read them on demand
    blobs: list[tuple[str, str | None, int, float, int, int]] = field(default_factory=list)
    #: histograms decoded while reading (they are small and every step is charted), one
    #: chunk per layout or per record read by protobuf; their records are not in ``blobs``
    histograms: list[HistogramChunk] = field(default_factory=list)
    #: the same points grouped by tag, when the file's series need no run-level rule (set for
    #: files decoded together with others; None: apply the rules)
    by_tag: ByTag | None = None


@dataclass(frozen=True)
class HistogramChunk:
    """Histogram values of some records of one file: a tag, the record's byte offset, the
    value's index in ``summary.value``, step, wall time and bucket count per value, and the
    buckets (left, right, count) of them all, row after row."""

    tags: list[str]
    tag: np.ndarray
    offsets: np.ndarray
    indices: np.ndarray
    steps: np.ndarray
    walls: np.ndarray
    sizes: np.ndarray
    buckets: np.ndarray
    #: the plugin, when the layout names it ("histograms"), else None (read from metadata)
    plugin: str | None

    def kept(self, keep: np.ndarray) -> HistogramChunk:
        """Only the values where ``keep`` holds."""
        return HistogramChunk(
            self.tags,
            self.tag[keep],
            self.offsets[keep],
            self.indices[keep],
            self.steps[keep],
            self.walls[keep],
            self.sizes[keep],
            self.buckets[np.repeat(keep, self.sizes)],
            self.plugin,
        )


class _Collector:
    """Accumulates decoded pieces of one file, then lays them out in file order."""

    def __init__(self, nrec: int) -> None:
        self.nrec = nrec
        self.tag_index: dict[str, int] = {}
        self.tags: list[str] = []
        self.parts: list[tuple[np.ndarray, ...]] = []
        self.slow: list[tuple[int, int, int, float, float, int]] = []
        #: (record, tag, plugin) of the first record of each tag in a layout with metadata
        self.metadata: list[tuple[int, str, str]] = []
        #: histograms decoded in bulk, with the record index of each value
        self.histograms: list[tuple[np.ndarray, HistogramChunk]] = []
        #: file of each record, when several files are decoded together
        self.file_of: np.ndarray | None = None

    def tag_id(self, tag: str) -> int:
        got = self.tag_index.get(tag)
        if got is None:
            got = self.tag_index[tag] = len(self.tags)
            self.tags.append(tag)
        return got

    def arrays(self) -> tuple[np.ndarray, ...]:
        parts = list(self.parts)
        if self.slow:
            self.slow.sort(key=lambda item: item[0])  # stable: values of one record keep order
            cols = list(zip(*self.slow, strict=True))
            parts.append(
                (
                    np.array(cols[0], np.int64),
                    np.array(cols[1], np.int32),
                    np.array(cols[2], np.int64),
                    np.array(cols[3], np.float64),
                    np.array(cols[4], np.float64),
                    np.array(cols[5], np.uint8),
                )
            )
        if not parts:
            return (
                np.zeros(0, np.int64),
                np.zeros(0, np.int32),
                np.zeros(0, np.int64),
                np.zeros(0, np.float64),
                np.zeros(0, np.float64),
                np.zeros(0, np.uint8),
            )
        if len(parts) == 1:
            return parts[0]
        # lay the parts out in record order: each record yields at most one candidate
        nrec = self.nrec
        slot = np.full(nrec, -1, dtype=np.int64)
        total = 0
        for p in parts:
            slot[p[0]] = 1
            total += p[0].shape[0]
        if total != int(np.count_nonzero(slot + 1)):
            # a record with several scalar values (TF1 merged summaries): sort instead
            rec = np.concatenate([p[0] for p in parts])
            order = np.argsort(rec, kind="stable")
            return tuple(np.concatenate([p[i] for p in parts])[order] for i in range(6))
        present = slot >= 0
        slot[present] = np.arange(total)
        positions = [slot[p[0]] for p in parts]
        del slot
        columns = [list(column) for column in zip(*parts, strict=True)]
        parts.clear()
        self.parts.clear()  # each column's pieces are freed as soon as it is laid out
        out = []
        for i, dtype in enumerate((np.int64, np.int32, np.int64, np.float64, np.float64, np.uint8)):
            column = np.empty(total, dtype=dtype)
            pieces = columns[i]
            for at, piece in zip(positions, pieces, strict=True):
                column[at] = piece
            columns[i] = []
            out.append(column)
        return tuple(out)


def read_file(path: str, verify: bool = True, fast: bool = True) -> FileData:
    """Decode one event file. ``fast=False`` decodes every record with protobufs (for tests)."""
    got = read_segments(records.load(path), (path,), (0,), verify=verify, fast=fast)
    assert got is not None  # one file is always read on its own terms
    return got[0]


def read_segments(
    buf: np.ndarray,
    paths: Sequence[str],
    bounds: Sequence[int],
    verify: bool = True,
    fast: bool = True,
) -> list[FileData] | None:
    """Decode the event files laid end to end in ``buf`` (file i starts at ``bounds[i]``).

    Many small files decode together in one pass, as one file would: the Python work per
    record group is paid once per batch rather than once per file. Offsets and record indices
    in the results are the file's own. None when the files cannot be read together (one of
    them ends in a partial record or a bad length, so the chain of records runs across a
    boundary): read each with :func:`read_file` then, which says what is wrong with it.

    Records are checked and decoded one length group at a time; records failing a checksum
    (and, after a length checksum mismatch, everything behind it) are dropped afterwards,
    since groups do not come in file order.
    """
    walked = records.walk(buf)
    starts, lengths, status = walked.starts, walked.lengths, walked.status
    nrec = int(starts.shape[0])
    several = len(paths) > 1
    first = np.searchsorted(starts, np.asarray(bounds, dtype=np.int64))
    if several and (
        status != "ok"
        or nrec == 0
        or not np.array_equal(starts[np.minimum(first, nrec - 1)], bounds)
    ):
        return None
    # record -> file, and each file's first record and byte offset
    file_of = np.searchsorted(first, np.arange(nrec), side="right") - 1
    first_rec = first.tolist() + [nrec]
    base = list(bounds)
    col = _Collector(nrec)
    if several:
        col.file_of = file_of
    slow: list[int] = []
    damage = records.Damage()
    for group, bad_length, bad_data in records.check_groups(buf, starts, lengths, verify):
        damage.add(group, bad_length, bad_data)
        _read_group(buf, starts, group, col, slow, fast)
        del group, bad_length, bad_data  # before the next group's bytes are gathered
    if several and damage.stop is not None:
        return None  # a length checksum mismatch ends its own file only: read them one by one
    framing = records.cut(walked, damage)
    kept = damage.kept(nrec)
    ends = base[1:] + [int(buf.shape[0])]
    counts = np.bincount(file_of[kept], minlength=len(paths)).tolist()
    outs = [
        FileData(path=path, size=end - at, records=n)
        for path, at, end, n in zip(paths, base, ends, counts, strict=True)
    ]
    # protobuf decoding only for records kept, in file order
    slow_recs = np.array(slow, dtype=np.int64)
    # file_version records that differ only in the wall time (the first record of every file
    # of a sweep) decode to the same version: protobuf reads one of each
    versions: dict[bytes, str] = {}
    slow_recs = np.sort(slow_recs[kept[slow_recs]])
    file_of_slow = file_of[slow_recs].tolist()
    for rec, f, at, length in zip(
        slow_recs.tolist(), file_of_slow, (starts[slow_recs] + HEADER).tolist(),
        lengths[slow_recs].tolist(), strict=True,
    ):  # fmt: skip
        data = bytes(buf[at : at + length])
        out = outs[f]
        timed = data[:1] == b"\x09"  # wall_time first, as every writer puts it
        known = versions.get(data[9:]) if timed else None
        if known is not None:
            if out.file_version is None:
                out.file_version = known
            continue
        version = _file_version(data) if timed else None
        if version is not None:
            versions[data[9:]] = version
            if out.file_version is None:
                out.file_version = version
        elif _read_slow(data, rec, at - HEADER - base[f], col, out) == "file_version" and timed:
            versions[data[9:]] = out.file_version or ""
    for rec, tag, plugin in col.metadata:
        out = outs[int(file_of[rec])]
        seen = out.metadata.get(tag)
        if kept[rec] and (seen is None or seen[0] > rec):
            out.metadata[tag] = (rec, plugin)
    for rec in damage.skipped().tolist():
        f = int(file_of[rec])
        at = int(starts[rec]) + HEADER
        damaged = _damaged_step(bytes(buf[at : at + int(lengths[rec])]))
        outs[f].skipped.append((at - HEADER - base[f], damaged))
    for members, chunk in col.histograms:
        keep = kept[members]
        of = file_of[members]
        for f in np.unique(of[keep]).tolist():
            mine = keep & (of == f)
            part = chunk if mine.all() else chunk.kept(mine)
            if base[f]:  # offsets are the file's own
                part = replace(part, offsets=part.offsets - base[f])
            for local, count in Counter(part.tag.tolist()).items():
                outs[f].others[(part.tags[local], part.plugin)] += count
            outs[f].histograms.append(part)
    arrays = col.arrays()
    if not kept.all():
        keep = kept[arrays[0]]
        arrays = tuple(a[keep] for a in arrays)
    empty = np.zeros(0, np.int64)
    # keep how the file ended, not where its records are: a run's files are held until the
    # run is assembled
    if not several:
        out = outs[0]
        out.record, out.tag, out.step, out.wall, out.value, out.encoding = arrays
        out.tags = col.tags
        out.framing = replace(framing, starts=empty, lengths=empty)
        return outs
    cuts = np.searchsorted(arrays[0], first_rec).tolist()
    # each file gets its own tags (batches mix runs): ids of (file, tag) pairs, made at once
    ntags = max(1, len(col.tags))
    file_of_point = file_of[arrays[0]]
    pair = file_of_point.astype(np.int64) * ntags + arrays[1]
    pair_ids, pairs = _dense_ids(pair, len(paths) * ntags)
    pair_cuts = np.searchsorted(pairs, np.arange(len(paths) + 1) * ntags)
    pair_tags = (pairs % ntags).tolist()
    local_tag = (pair_ids - pair_cuts[file_of_point]).astype(np.int32)
    by_tag = _group_by_tag(arrays, pair_ids, pairs.shape[0], file_of_point, cuts)
    pair_cuts = pair_cuts.tolist()
    record = arrays[0] - np.asarray(first_rec, dtype=np.int64)[file_of_point]  # the file's own
    step, wall, value, encoding = arrays[2:]
    whole = records.Framing(empty, empty, "ok")  # shared by the files with nothing skipped
    plain = by_tag[4] if by_tag is not None else [False] * len(outs)
    tag_names = col.tags
    for f, out in enumerate(outs):
        lo, hi = cuts[f], cuts[f + 1]
        out.record = record[lo:hi]
        out.tag = local_tag[lo:hi]
        out.step = step[lo:hi]
        out.wall = wall[lo:hi]
        out.value = value[lo:hi]
        out.encoding = encoding[lo:hi]
        first_pair, end_pair = pair_cuts[f], pair_cuts[f + 1]
        out.tags = [tag_names[t] for t in pair_tags[first_pair:end_pair]]
        if out.metadata:
            out.metadata = {tag: (rec - first_rec[f], p) for tag, (rec, p) in out.metadata.items()}
        if out.skipped:
            skipped = tuple(offset for offset, _ in out.skipped)
            out.framing = records.Framing(empty, empty, "ok", skipped=skipped)
        else:
            out.framing = whole
        if plain[f] and hi > lo:
            assert by_tag is not None
            steps, values, walls, bounds, _, encodings = by_tag
            out.by_tag = ByTag(
                steps[lo:hi], values[lo:hi], walls[lo:hi],
                [b - lo for b in bounds[first_pair : end_pair + 1]], encodings[f],
            )  # fmt: skip
    return outs


def _dense_ids(keys: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """For keys in 0..span-1: each key's rank among the distinct keys, and the distinct keys
    in order (np.unique with return_inverse, in linear time when span is not much larger
    than the number of keys)."""
    if span > max(1 << 16, 4 * keys.shape[0]):
        uniq, inverse = np.unique(keys, return_inverse=True)
        return inverse.reshape(-1), uniq
    present = np.zeros(span, dtype=bool)
    present[keys] = True
    rank = np.cumsum(present) - 1
    return rank[keys], np.flatnonzero(present)


def _group_by_tag(
    arrays: tuple[np.ndarray, ...],
    pair_ids: np.ndarray,
    npairs: int,
    file_of_point: np.ndarray,
    cuts: list[int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int], list[bool], list[int]] | None:
    """The points of files decoded together grouped by (file, tag), file order within each;
    the bounds of each pair; per file whether it needs no run-level rule (see
    :class:`ByTag`) and its encoding. None when no file qualifies."""
    count = pair_ids.shape[0]
    if count == 0:
        return None
    nfiles = len(cuts) - 1
    # files are contiguous already: a stable sort by pair only reorders tags within a file,
    # so each point's file stays where it was
    key = pair_ids.astype(np.uint16) if npairs <= 1 << 16 else pair_ids
    order = np.argsort(key, kind="stable")
    step, wall, value = (arrays[i][order] for i in (2, 3, 4))
    pair_sorted = pair_ids[order]
    enc = arrays[5]
    bad = ~(np.isfinite(value) & wall_time_ok(wall))
    bad[1:] |= (pair_sorted[1:] == pair_sorted[:-1]) & (step[1:] <= step[:-1])
    bad[1:] |= (file_of_point[1:] == file_of_point[:-1]) & (enc[1:] != enc[:-1])
    plain = (np.bincount(file_of_point[bad], minlength=nfiles) == 0).tolist()
    if not any(plain):
        return None
    bounds = np.zeros(npairs + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair_sorted, minlength=npairs), out=bounds[1:])
    # one encoding per plain file: its first point says which
    encodings = enc[np.minimum(np.asarray(cuts[:-1], dtype=np.int64), count - 1)].tolist()
    return step, value, wall, bounds.tolist(), plain, encodings


def load_values(path: str, offsets: Sequence[int], indices: Sequence[int]) -> list[Any]:
    """The summary values (``Summary.Value`` protos) at those record offsets of one file, each
    with its event's step and wall time: ``[(step, wall_time, value), ...]``.

    Kinds call this for the records they show (their offsets come from the read stage's
    :class:`~tbreport.model.TagRecords`), so image and audio bytes stay on disk until used.
    """
    from tensorboard.compat.proto.event_pb2 import Event

    out = []
    with _open(path) as fh:
        for offset, index in zip(offsets, indices, strict=True):
            fh.seek(int(offset))
            length = int.from_bytes(fh.read(8), "little")
            fh.seek(4, 1)
            event = Event.FromString(fh.read(length))
            out.append((event.step, event.wall_time, event.summary.value[int(index)]))
    return out


def _open(path: str) -> Any:
    """A local file, or a remote one (``s3://...``) through its fsspec filesystem."""
    from tbreport.options import is_url

    if not is_url(path):
        return open(path, "rb")
    import fsspec

    return fsspec.open(path, "rb").open()


def _damaged_step(data: bytes) -> int | None:
    """The step a record failing its data checksum claims, if it still parses as an Event."""
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto.event_pb2 import Event

    try:
        return int(Event.FromString(data).step)
    except DecodeError:
        return None


#: records of one length group that fit no template before the rest go to protobuf at once
_MAX_FAILED_LEARNS = 8


def _read_group(
    buf: np.ndarray,
    starts: np.ndarray,
    group: Group,
    col: _Collector,
    slow: list[int],
    fast: bool,
) -> None:
    """Decode the records of one length group that share a layout; queue the rest in slow."""
    pending = np.ones(group.members.shape[0], dtype=bool)
    failed = 0
    while pending.any():
        if failed == _MAX_FAILED_LEARNS:
            # records no template fits (images, text): protobuf reads the rest, as it would
            slow.extend(group.members[pending].tolist())
            return
        i = int(np.argmax(pending))
        rec = int(group.members[i])
        at = int(starts[rec]) + HEADER
        # a layout of one record gains nothing from a template (images of their own length)
        learn = fast and int(np.count_nonzero(pending)) > 1
        data = bytes(buf[at : at + group.length]) if learn else b""
        template = learn_template(data) if learn else None
        if template is None:
            histogram = learn_histogram_template(data) if learn else None
            if histogram is None:
                if learn and data[:1] == b"\x09" and group.length > 9:
                    # records differing only in the wall time (file_version records, one per
                    # file of a sweep) have the same layout: protobuf reads them all
                    mask = b"\xff" + bytes(8) + b"\xff" * (group.length - 9)
                    same = np.flatnonzero(_match_mask(group.words, mask, i) & pending)
                    slow.extend(group.members[same].tolist())
                    pending[same] = False
                else:
                    slow.append(rec)
                    pending[i] = False
                failed += 1
                continue
            matched = _match(group.words, histogram, i) & pending
            slow.extend(_read_histograms(buf, starts, group, histogram, matched, col).tolist())
            pending &= ~matched
            continue
        matched = _match(group.words, template, i) & pending
        # records whose tags could not be told apart reliably, or are not UTF-8, go one by one
        slow.extend(_read_matched(buf, starts, group, template, matched, col).tolist())
        pending &= ~matched


def _wall_and_step(
    words: np.ndarray, template: Template | HistogramTemplate, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """The wall time and step of each matched record (zeros where the layout has none)."""
    if template.wall is None:
        wall = np.zeros(count)
    else:
        wall = records.field(words, HEADER + template.wall, 8).view(np.float64)
    if template.step is None:
        step = np.zeros(count, dtype=np.int64)
    else:
        step = _varints(words, HEADER + template.step[0], template.step[1]).view(np.int64)
    return wall, step


def _match(words: np.ndarray, template: Template | HistogramTemplate, ref: int) -> np.ndarray:
    """Members of the group with the same layout as member ``ref``."""
    return _match_mask(words, template.byte_mask, ref)


def _match_mask(words: np.ndarray, byte_mask: bytes, ref: int) -> np.ndarray:
    """Members whose data bits under ``byte_mask`` equal member ``ref``'s."""
    full = np.zeros(words.shape[0] * 8, dtype=np.uint8)
    full[HEADER : HEADER + len(byte_mask)] = np.frombuffer(byte_mask, np.uint8)
    word_masks = full.view("<u8")
    ok = np.ones(words.shape[1], dtype=bool)
    for j, m in enumerate(word_masks.tolist()):
        if not m:
            continue
        column = words[j]
        diff = (column ^ column[ref]) & np.uint64(m)
        ok &= diff == 0
    return ok


def _read_matched(
    buf: np.ndarray,
    starts: np.ndarray,
    group: Group,
    template: Template,
    matched: np.ndarray,
    col: _Collector,
) -> np.ndarray:
    """Decode the matched members; return those left for protobuf."""
    all_matched = bool(matched.all())
    words = group.words if all_matched else group.words[:, matched]
    members = group.members if all_matched else group.members[matched]
    keys = _tag_keys(words, template.tag)
    factors = _factorize(keys, members.shape[0])
    if factors is None:
        return members
    ids, first = factors
    tag_off, tag_len = template.tag
    local_to_file = np.empty(first.shape[0], dtype=np.int32)
    not_utf8 = []
    for local, member in enumerate(first.tolist()):
        at = int(starts[members[member]]) + HEADER + tag_off
        try:
            tag = bytes(buf[at : at + tag_len]).decode("utf-8")
        except UnicodeDecodeError:
            not_utf8.append(local)  # protobuf refuses these records: let it say so
            continue
        local_to_file[local] = col.tag_id(tag)
        if template.plugin is not None:
            col.metadata.append((int(members[member]), tag, template.plugin))
    if template.plugin is not None and col.file_of is not None:
        # several files decoded together: each file's first record of a tag has its metadata
        pair = col.file_of[members] * first.shape[0] + ids
        for i in np.unique(pair, return_index=True)[1].tolist():
            if int(ids[i]) not in not_utf8:
                tag = col.tags[int(local_to_file[ids[i]])]
                col.metadata.append((int(members[i]), tag, template.plugin))
    left = members[:0]
    if not_utf8:
        refused = np.isin(ids, not_utf8)
        left = members[refused]
        words, members, ids = words[:, ~refused], members[~refused], ids[~refused]
    count = members.shape[0]
    wall, step = _wall_and_step(words, template, count)
    value = _decode_values(words, template.value)
    col.parts.append(
        (
            members.astype(np.int64),
            local_to_file[ids],
            step,
            wall,
            value,
            np.full(count, template.encoding, dtype=np.uint8),
        )
    )
    return left


def _read_histograms(
    buf: np.ndarray,
    starts: np.ndarray,
    group: Group,
    template: HistogramTemplate,
    matched: np.ndarray,
    col: _Collector,
) -> np.ndarray:
    """Decode the matched histogram members; return those left for protobuf."""
    words = group.words[:, matched]
    members = group.members[matched]
    factors = _factorize(_tag_keys(words, template.tag), members.shape[0])
    if factors is None:
        return members
    ids, first = factors
    tag_off, tag_len = template.tag
    tags = []
    for member in first.tolist():
        at = int(starts[members[member]]) + HEADER + tag_off
        try:
            tags.append(bytes(buf[at : at + tag_len]).decode("utf-8"))
        except UnicodeDecodeError:
            return members  # protobuf refuses these records: let it say so
        if template.plugin is not None and template.encoding == "tensor":
            col.metadata.append((int(members[member]), tags[-1], template.plugin))
    if template.plugin is not None and template.encoding == "tensor" and col.file_of is not None:
        # several files decoded together: each file's first record of a tag has its metadata
        pair = col.file_of[members] * first.shape[0] + ids
        for i in np.unique(pair, return_index=True)[1].tolist():
            col.metadata.append((int(members[i]), tags[int(ids[i])], template.plugin))
    count = members.shape[0]
    wall, step = _wall_and_step(words, template, count)
    sizes, buckets = _histogram_columns(buf, starts[members] + HEADER, template)
    chunk = HistogramChunk(
        tags,
        ids.astype(np.int32),
        starts[members].astype(np.int64),
        np.zeros(count, dtype=np.int32),
        step,
        wall,
        sizes,
        buckets,
        template.plugin,
    )
    col.histograms.append((members.astype(np.int64), chunk))
    return members[:0]


# --- decoding one record with protobufs ----------------------------------------------------

_LEGACY = {"image": "images", "histo": "histograms", "audio": "audio"}


def _file_version(data: bytes) -> str | None:
    """The version of an Event that holds only wall_time, file_version and the writer's
    source_metadata (each once), as protobuf would read it; None for any other record.

    Every writer starts a file with one, so a sweep of short runs needs protobuf for nothing
    else (its import alone costs more than reading a thousand small files).
    """
    try:
        fields = _fields(data, 0, len(data))
        by_number = {f.number: f for f in fields}
        if len(by_number) != len(fields) or by_number.keys() - {10} != {1, 3}:
            return None
        if by_number[1].wire != 1 or by_number[3].wire != 2:
            return None
        meta = by_number.get(10)
        if meta is not None:
            if meta.wire != 2:
                return None
            inner = _fields(data, meta.start, meta.end)
            if any(f.number != 1 or f.wire != 2 for f in inner):
                return None  # SourceMetadata holds only its writer name
            for f in inner:
                data[f.start : f.end].decode("utf-8")
        version = by_number[3]
        return data[version.start : version.end].decode("utf-8")
    except (ValueError, UnicodeDecodeError):  # not valid wire format, or a string protobuf
        return None  # would refuse: protobuf says so


def _read_slow(data: bytes, rec: int, offset: int, col: _Collector, out: FileData) -> str | None:
    """Decode one record with protobuf; returns what the event holds (``Event.what``)."""
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto.event_pb2 import Event

    try:
        event = Event.FromString(data)
    except DecodeError as err:
        out.undecodable.append((offset, str(err)))
        return None
    what = event.WhichOneof("what")
    if what == "file_version":
        if out.file_version is None:
            out.file_version = event.file_version
        return what
    if what != "summary":
        if what is not None:
            out.others[("", what)] += 1
        return what
    for index, value in enumerate(event.summary.value):
        tag = value.tag or value.node_name
        plugin = None
        if value.HasField("metadata") and value.metadata.plugin_data.plugin_name:
            plugin = value.metadata.plugin_data.plugin_name
            seen = out.metadata.get(tag)
            if seen is None or seen[0] > rec:
                out.metadata[tag] = (rec, plugin)
            if plugin == "hparams":
                out.hparams.update(_hparams(value.metadata.plugin_data.content))
        kind = value.WhichOneof("value")
        if kind == "simple_value":
            col.slow.append(
                (rec, col.tag_id(tag), event.step, event.wall_time, value.simple_value, SIMPLE)
            )
        elif kind == "tensor" and (scalar := _tensor_scalar(value.tensor)) is not None:
            col.slow.append((rec, col.tag_id(tag), event.step, event.wall_time, scalar, TENSOR))
        else:
            # TF1's legacy fields become their plugins, as TensorBoard's data_compat does
            owner = plugin if kind == "tensor" else _LEGACY.get(kind or "", plugin or kind)
            out.others[(tag, owner)] += 1
            histogram = _histogram_value(value, kind, plugin)
            if histogram is None:
                out.blobs.append((tag, owner, event.step, event.wall_time, offset, index))
                continue
            sizes, buckets = histogram
            out.histograms.append(
                HistogramChunk(
                    [tag],
                    np.zeros(1, np.int32),
                    np.array([offset], np.int64),
                    np.array([index], np.int32),
                    np.array([event.step], np.int64),
                    np.array([event.wall_time], np.float64),
                    sizes,
                    buckets,
                    owner,
                )
            )
    return what


def _histogram_value(
    value: Any, kind: str | None, plugin: str | None
) -> tuple[np.ndarray, np.ndarray] | None:  # value: Summary.Value
    """A histogram value as (bucket count, buckets), the reference for the bulk decoder; None
    for a value that is not one (another plugin's tensor, a tensor of another shape)."""
    if kind == "histo":
        histo = value.histo
        if len(histo.bucket) != len(histo.bucket_limit):
            return None
        if not len(histo.bucket):
            return np.zeros(1, np.int64), np.zeros((0, 3))
        return migrate_histo(
            np.array([histo.min]),
            np.array([histo.max]),
            np.array([histo.bucket_limit], dtype=np.float64),
            np.array([histo.bucket], dtype=np.float64),
        )
    if kind != "tensor" or plugin not in (None, "histograms"):
        return None
    tensor = value.tensor
    dims = [d.size for d in tensor.tensor_shape.dim]
    element = _HIST_DTYPES.get(tensor.dtype)
    if element is None or len(dims) != 2 or dims[1] != 3 or tensor.tensor_shape.unknown_rank:
        return None
    if tensor.tensor_content:
        flat = np.frombuffer(tensor.tensor_content, dtype=element)
    else:
        flat = np.array(tensor.float_val if element == "<f4" else tensor.double_val, element)
    if flat.shape[0] != dims[0] * 3:
        return None
    return np.array([dims[0]], np.int64), flat.astype(np.float64).reshape(dims[0], 3)


def _tensor_scalar(tensor: Any) -> float | None:  # tensor: TensorProto
    """The value of a rank-0 numeric tensor, or None for anything else.

    Decoded the same way as the vectorised path (not with tensor_util.make_ndarray, which
    knows neither bfloat16 nor uint64_val).
    """
    if tensor.tensor_shape.dim or tensor.tensor_shape.unknown_rank:
        return None
    dtype = tensor.dtype
    if tensor.tensor_content:
        decoding = _CONTENT_DTYPES.get(dtype)
        raw = tensor.tensor_content
        if decoding is None:
            return None
        if len(raw) != _content_size(decoding):
            return None
        if decoding == "bf16":
            return float(_bfloat16(np.frombuffer(raw, "<u2"))[0])
        if decoding == "bool":
            return float(raw != b"\0")
        return float(np.frombuffer(raw, decoding)[0])
    for name, decodings in _VAL_FIELDS.values():
        values = getattr(tensor, name)
        if not len(values):
            continue
        decoding = decodings.get(dtype)
        if decoding is None or len(values) != 1:
            return None
        value = values[0]
        if decoding == "varint_f16":
            return float(np.uint16(value & 0xFFFF).view(np.float16))
        if decoding == "varint_bf16":
            return float(_bfloat16(np.array([value & 0xFFFF]))[0])
        return float(value)
    return None


def _hparams(content: bytes) -> dict[str, object]:
    from google.protobuf.message import DecodeError
    from tensorboard.plugins.hparams import plugin_data_pb2

    try:
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
    except DecodeError:
        return {}
    if not data.HasField("session_start_info"):
        return {}
    out: dict[str, object] = {}
    for key, value in data.session_start_info.hparams.items():
        kind = value.WhichOneof("kind")
        if kind == "number_value":
            out[key] = value.number_value
        elif kind == "string_value":
            out[key] = value.string_value
        elif kind == "bool_value":
            out[key] = value.bool_value
        elif kind == "null_value":
            out[key] = None
        else:
            out[key] = str(value)
    return out
