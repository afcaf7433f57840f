"""Decoding records: the vectorised decoder and protobuf agree on every valid record.

Records are generated (every tensor dtype x value field x edge value, and edge tags, plugin
names and steps), built with TensorBoard's protobuf classes, with the value bytes spliced in
raw where the Python API refuses them (0xFFFFFFFF in int_val), and framed as writers do.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import fixture_logdir, frame_record
from google.protobuf.message import DecodeError
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import SummaryMetadata
from tensorboard.compat.proto.tensor_pb2 import TensorProto

from tbreport.read import read_logdir
from tbreport.read.events import learn_template

# types.proto: every dtype tbreport reads as a scalar, plus DT_INVALID and DT_STRING
DTYPES = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 14, 17, 19, 22, 23)
VARINT_FIELDS = (7, 10, 11, 13, 16, 17)  # int_val int64_val bool_val half_val uint32_val uint64_val
VARINTS = (0, 1, 127, 128, 2**15, 0xFFFF, 2**31 - 1, 2**31, 0xFFFFFFFF, 2**32, 2**40, 2**40 + 5)
VARINTS += (2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1)
FLOAT32_BITS = (0, 1 << 31, 0x3FC00000, 0x7F7FFFFF, 1, 0x7F800000, 0xFF800000, 0x7FC00000)
FLOAT32_BITS += (0xFFC00001, 0x7F800001, 0x7FFFFFFF, 0x7FA00000)  # NaNs: payloads, signalling
FLOAT64_BITS = (0, 1 << 63, 0x3FF8000000000000, 0x7FEFFFFFFFFFFFFF, 1, 0x7FF0000000000000)
FLOAT64_BITS += (0xFFF0000000000000, 0x7FF8000000000000, 0xFFF8000000000001)
FLOAT64_BITS += (0x7FF0000000000001, 0x7FFFFFFFFFFFFFFF)
# TensorProto.dtype -> how a rank-0 tensor_content holds the value
CONTENT = {1: "<f4", 2: "<f8", 3: "<i4", 4: "<u1", 5: "<i2", 6: "<i1", 9: "<i8", 10: "bool"}
CONTENT |= {14: "bf16", 17: "<u2", 19: "<f2", 22: "<u4", 23: "<u8"}
# TensorProto field -> dtypes whose values it holds
FIELD_DTYPES = {5: {1}, 6: {2}, 7: {3, 4, 5, 6, 17}, 10: {9}, 11: {10}, 13: {14, 19}}
FIELD_DTYPES |= {16: {22}, 17: {23}}
FIELD_NAMES = {5: "float_val", 6: "double_val", 7: "int_val", 10: "int64_val", 11: "bool_val"}
FIELD_NAMES |= {13: "half_val", 16: "uint32_val", 17: "uint64_val"}


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        if not n:
            return bytes(out + bytes([low]))
        out.append(low | 0x80)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field, spliced after a message that protobuf serialised."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def content_bytes() -> list[bytes]:
    out = [b"", b"\x00", b"\x01", b"\x02", b"\xff", b"\x00\x80", b"\x80\x3f", b"\xc0\x7f"]
    out += [b"\x01\x7c", b"\x81\x7f", b"\xff\xff", b"\x00\x00\x80", b"\x01\x00\x80\x7f"]
    out += [struct.pack("<I", b) for b in FLOAT32_BITS]
    out += [struct.pack("<Q", b) for b in FLOAT64_BITS]
    return out


def tensors() -> list[bytes]:
    """Rank-0 TensorProtos: every dtype with every value field and edge value."""
    out = []
    for dtype in DTYPES:
        head = TensorProto(dtype=dtype).SerializeToString()
        for raw in content_bytes():
            out.append(head + field(4, raw))
        for bits in FLOAT32_BITS:
            out.append(head + field(5, struct.pack("<I", bits)))
        for bits in FLOAT64_BITS:
            out.append(head + field(6, struct.pack("<Q", bits)))
        for number in VARINT_FIELDS:
            for n in VARINTS:
                out.append(head + field(number, varint(n)))
            # 10-byte varints whose last byte carries bits past 64 (protobuf drops them), and
            # a zero written in two bytes
            for raw in (b"\xff" * 9 + b"\x7f", b"\xff" * 9 + b"\x02", b"\x80\x00"):
                out.append(head + field(number, raw))
    # the same values as the Python API writes them, and tensors that are not scalars
    out.append(TensorProto(dtype=3, int_val=[-1]).SerializeToString())
    out.append(TensorProto(dtype=9, int64_val=[-(2**63)]).SerializeToString())
    out.append(TensorProto(dtype=1, float_val=[1.0, 2.0]).SerializeToString())
    shaped = TensorProto(dtype=1, float_val=[1.0])
    shaped.tensor_shape.dim.add(size=1)
    out.append(shaped.SerializeToString())
    out.append(TensorProto(dtype=1, tensor_content=b"\0" * 4, float_val=[2.0]).SerializeToString())
    return out


def metadata(plugin: bytes) -> bytes:
    try:
        name = plugin.decode()
    except UnicodeDecodeError:  # protobuf will not build it
        return field(1, field(1, plugin))
    data = SummaryMetadata.PluginData(plugin_name=name)
    return SummaryMetadata(plugin_data=data).SerializeToString()


def value_message(tag: bytes, rest: bytes) -> bytes:
    return field(1, tag) + rest


def event(step_raw: bytes, value: bytes, wall: float = 1.7e9) -> bytes:
    head = Event(wall_time=wall).SerializeToString()
    return head + b"\x10" + step_raw + field(5, field(1, value))


def cases() -> list[tuple[str, list[bytes]]]:
    """(tag, records) per case: a tensor with metadata then the same without, or simple values."""
    scalars = metadata(b"scalars")
    out = []
    for i, tensor in enumerate(tensors()):
        tag = f"t{i:05d}".encode()
        first = event(varint(1), value_message(tag, field(9, scalars) + field(8, tensor)))
        second = event(varint(2), value_message(tag, field(8, tensor)))
        out.append((tag.decode(), [first, second]))
    for i, bits in enumerate(FLOAT32_BITS):
        tag = f"s{i:02d}".encode()
        simple = b"\x15" + struct.pack("<I", bits)
        out.append((tag.decode(), [event(varint(s), value_message(tag, simple)) for s in (1, 2)]))
    simple = b"\x15" + struct.pack("<f", 3.0)
    tensor = field(8, TensorProto(dtype=1, float_val=[4.0]).SerializeToString())
    odd = {
        # tags and plugin names: empty, non-ASCII, and bytes that are not UTF-8
        "empty-tag": (b"", simple),
        "utf8": ("ü/ñ 🙂".encode(), simple),
        "bad-tag": (b"bad\xff", simple),
        "surrogate-tag": (b"bad\xed\xa0\x80", simple),
        "overlong-tag": (b"bad\xc0\xaf", simple),
        "bad-plugin": (b"bad-plugin", field(9, metadata(b"sc\xffalars")) + tensor),
        "empty-plugin": (b"empty-plugin", field(9, metadata(b"")) + tensor),
        "bad-display-name": (b"bad-display", field(9, scalars + field(2, b"\xff")) + tensor),
        # repeated plugin_data merges: the last plugin name wins
        "merged-plugin": (b"merged", field(9, metadata(b"text") + scalars) + tensor),
        "merged-plugin-2": (b"merged-2", field(9, scalars + metadata(b"text")) + tensor),
        # both members of the value oneof: the last one wins
        "simple-then-tensor": (b"s-t", field(9, scalars) + simple + tensor),
        "tensor-then-simple": (b"t-s", field(9, scalars) + tensor + simple),
    }
    for tag, rest in odd.values():
        out.append((tag.decode("utf-8", "replace"), [event(varint(1), value_message(tag, rest))]))
    # steps: negative, the largest, and 10-byte varints with bits past 64
    steps = [varint(2**64 - 1), varint(2**63 - 1), b"\xff" * 9 + b"\x02", b"\x80\x00"]
    recs = [
        event(raw, value_message(b"steps", simple), wall=1.7e9 + i) for i, raw in enumerate(steps)
    ]
    out.append(("steps", recs))
    return out


def write_logdir(path: Path, all_cases: list[tuple[str, list[bytes]]]) -> Path:
    run = path / "logs" / "run"
    run.mkdir(parents=True)
    blob = [frame_record(Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString())]
    # each case twice over, so the vectorised decoder handles groups of records, not just one
    for _ in range(2):
        blob += [frame_record(r) for _, records in all_cases for r in records]
    (run / "events.out.tfevents.1700000000.host.1.0").write_bytes(b"".join(blob))
    return path / "logs"


def protobuf_scalar(tensor: TensorProto) -> float | None:
    """What protobuf parsed, read as one number of the tensor's dtype (None: not a scalar)."""
    if tensor.tensor_shape.dim:
        return None
    if tensor.tensor_content:
        kind = CONTENT.get(tensor.dtype)
        raw = tensor.tensor_content
        if kind is None or len(raw) != (
            {"bf16": 2, "bool": 1}.get(kind) or np.dtype(kind).itemsize
        ):
            return None
        if kind == "bool":
            return float(bool(raw[0]))
        if kind == "bf16":
            return float(np.frombuffer(b"\0\0" + raw, "<f4")[0])
        return float(np.frombuffer(raw, kind)[0])
    filled = [n for n, name in FIELD_NAMES.items() if len(getattr(tensor, name))]
    if not filled:
        return None
    number = filled[0]
    values = getattr(tensor, FIELD_NAMES[number])
    if tensor.dtype not in FIELD_DTYPES[number] or len(values) != 1:
        return None
    if number == 13:  # 16 bits of a half or bfloat16
        bits = struct.pack("<H", values[0] & 0xFFFF)
        if tensor.dtype == 19:
            return float(np.frombuffer(bits, "<f2")[0])
        return float(np.frombuffer(b"\0\0" + bits, "<f4")[0])
    return float(values[0])


def expected_points(all_cases: list[tuple[str, list[bytes]]]) -> tuple[dict, int]:
    """tag -> [(step, value)] from protobuf's own parse, and how many records it refuses."""
    points: dict[str, list[tuple[int, float]]] = {}
    refused = 0
    for _ in range(2):
        for _, records in all_cases:
            plugin = None
            for data in records:
                try:
                    ev = Event.FromString(data)
                except DecodeError:
                    refused += 1
                    continue
                (value,) = ev.summary.value
                plugin = value.metadata.plugin_data.plugin_name or plugin
                kind = value.WhichOneof("value")
                if kind == "simple_value":
                    got: float | None = value.simple_value
                elif plugin == "scalars":
                    got = protobuf_scalar(value.tensor)
                else:
                    got = None
                if got is not None:
                    points.setdefault(value.tag, []).append((ev.step, got))
    return points, refused


def bits(values: np.ndarray) -> list[int]:
    return np.ascontiguousarray(values, dtype=np.float64).view(np.uint64).tolist()


@pytest.mark.parametrize(
    "name",
    [
        "quickstart",
        "torch",
        "tensorboardx",
        "tf2",
        "keras",
        "torch_text",
        "tf2_histograms",
        "keras_histograms",
        "torch_histograms",
        "tensorboardx_histograms",
    ],
)
def test_vectorised_decoder_matches_protobuf_decoder(name):
    fast = read_logdir(fixture_logdir(name))
    slow = read_logdir(fixture_logdir(name), fast=False)
    assert [r.name for r in fast.runs] == [r.name for r in slow.runs]
    for a, b in zip(fast.runs, slow.runs, strict=True):
        assert a.scalars.keys() == b.scalars.keys()
        for tag in a.scalars:
            for field in ("steps", "values", "wall_times"):
                np.testing.assert_array_equal(
                    getattr(a.scalars[tag], field), getattr(b.scalars[tag], field)
                )
            assert a.scalars[tag].encoding == b.scalars[tag].encoding
        assert a.others == b.others
        assert a.hparams == b.hparams
        assert a.tensors.keys() == b.tensors.keys()
        for tag, records in a.tensors.items():
            for field in ("plugin", "steps", "wall_times", "files", "offsets", "values"):
                np.testing.assert_array_equal(
                    getattr(records, field), getattr(b.tensors[tag], field)
                )
        assert a.histograms.keys() == b.histograms.keys()
        for tag, histograms in a.histograms.items():
            other = b.histograms[tag]
            for field in ("steps", "wall_times", "bounds"):
                np.testing.assert_array_equal(getattr(histograms, field), getattr(other, field))
            assert bits(histograms.buckets) == bits(other.buckets), tag


def test_histograms_are_decoded_in_bulk() -> None:
    # every histogram record of the real writers' fixtures fits a layout the bulk decoder
    # reads with numpy (protobuf is the reference, not the hot path)
    from tbreport.read import records
    from tbreport.read.events import learn_histogram_template

    seen = learnt = 0
    for name in ("torch_histograms", "tensorboardx_histograms", "tf2_histograms"):
        for path in sorted(fixture_logdir(name).rglob("*tfevents*")):
            buf = records.load(str(path))
            walked = records.walk(buf)
            starts, lengths = walked.starts, walked.lengths
            for start, length in zip(starts.tolist(), lengths.tolist(), strict=True):
                data = bytes(buf[start + 12 : start + 12 + length])
                event = Event.FromString(data)
                if any(
                    v.HasField("histo") or v.tensor.tensor_shape.dim for v in event.summary.value
                ):
                    seen += 1
                    learnt += learn_histogram_template(data) is not None
    assert seen == 3 * 15 + 2 * 12 + 20 and learnt == seen


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> tuple[list, Path]:
    all_cases = cases()
    return all_cases, write_logdir(tmp_path_factory.mktemp("grid"), all_cases)


def test_fast_and_protobuf_decoders_agree_bit_for_bit(grid) -> None:
    all_cases, logdir = grid
    fast = read_logdir(logdir, restarts="keep-all")
    slow = read_logdir(logdir, restarts="keep-all", fast=False)
    (a,), (b,) = fast.runs, slow.runs
    assert a.scalars.keys() == b.scalars.keys()
    for tag, series in a.scalars.items():
        other = b.scalars[tag]
        assert series.steps.tolist() == other.steps.tolist(), tag
        assert bits(series.values) == bits(other.values), tag
        assert bits(series.wall_times) == bits(other.wall_times), tag
        assert series.encoding == other.encoding, tag
    assert a.others == b.others
    assert fast.warnings == slow.warnings
    # the grid exercises the vectorised decoder (about 700 records), not only its fallback
    templated = sum(learn_template(r) is not None for _, records in all_cases for r in records)
    assert templated > 500


def test_values_are_what_protobuf_parses(grid) -> None:
    all_cases, logdir = grid
    want, refused = expected_points(all_cases)
    (run,) = read_logdir(logdir, restarts="keep-all").runs
    assert sorted(run.scalars) == sorted(want)
    for tag, points in want.items():
        series = run.scalars[tag]
        assert series.steps.tolist() == [s for s, _ in points], tag
        assert bits(series.values) == bits(np.array([v for _, v in points])), tag
    assert refused == 2 * 5  # bad tag, surrogate, overlong, bad plugin name, bad display name
    (note,) = [w for w in read_logdir(logdir).warnings if w.kind == "undecodable"]
    assert note.severity == "warning" and note.path and note.path.endswith(".0")
    assert f"{refused} record(s)" in note.message and "UTF-8" in note.message
    assert note.offset is not None and note.offset > 0


def test_protobuf_semantics_of_the_edge_values(tmp_path: Path) -> None:
    # the values the issue names, read by both decoders: int32 wraps, bools are 0/1,
    # uint32 keeps the low 32 bits
    named = {
        "int": (3, 7, varint(0xFFFFFFFF), -1.0),
        "int-long": (3, 7, varint(2**64 - 1), -1.0),
        "bool": (10, 11, varint(2), 1.0),
        "bool-content": (10, 4, b"\x02", 1.0),
        "uint32": (22, 16, varint(2**40), 0.0),
        "uint32-low": (22, 16, varint(2**40 + 7), 7.0),
    }
    scalars = field(9, metadata(b"scalars"))
    all_cases = []
    for tag, (dtype, number, raw, _) in named.items():
        tensor = field(8, TensorProto(dtype=dtype).SerializeToString() + field(number, raw))
        all_cases.append((tag, [event(varint(1), value_message(tag.encode(), scalars + tensor))]))
    logdir = write_logdir(tmp_path, all_cases)
    for fast in (True, False):
        (run,) = read_logdir(logdir, restarts="keep-all", fast=fast).runs
        got = {tag: run.scalars[tag].values.tolist() for tag in named}
        assert got == {tag: [want] * 2 for tag, (*_, want) in named.items()}, fast
