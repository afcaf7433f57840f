"""Framing and checksums: the vectorised paths against plain per-record reading."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from conftest import event_files, frame_record

from tbreport.read import records
from tbreport.read.events import read_file


def test_crc32c_known_vector():
    assert records.crc32c(b"123456789") == 0xE3069283
    assert records.crc32c(b"") == 0


def test_masked_crc_matches_tensorboard():
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    for data in (b"", b"a", bytes(range(256)), b"\x00" * 31):
        assert records.masked_crc32c(data) == masked_crc32c(data)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_crc_many_any_lengths_matches_scalar(seed):
    rng = np.random.default_rng(seed)
    buf = rng.integers(0, 256, 300_000, dtype=np.uint8)
    pos = rng.integers(0, 100_000, 300)
    lengths = rng.integers(0, 5_000, 300)
    lengths[:5] = [0, 1, 63, 64, 65]
    got = records.crc_many(buf, pos, lengths)
    assert got.tolist() == [
        records.crc32c(bytes(buf[p : p + n])) for p, n in zip(pos, lengths, strict=True)
    ]


HEAD_FOOT = records.HEADER + records.FOOTER


def _framed_file(tmp_path, payloads: list[bytes]) -> np.ndarray:
    path = tmp_path / "events.out.tfevents.1.h"
    path.write_bytes(b"".join(frame_record(p) for p in payloads))
    return records.load(str(path))


def test_frame_same_length_groups_check_every_byte(tmp_path):
    # many records of one length differing in scattered bytes: the grouped CRC path
    rng = np.random.default_rng(7)
    payloads = [b"\x09" + bytes(rng.integers(0, 256, 40, dtype=np.uint8)) for _ in range(200)]
    buf = _framed_file(tmp_path, payloads)
    framing = records.frame(buf)
    assert framing.status == "ok" and framing.starts.shape[0] == 200
    for byte in (12, 13, 20, 40, 52):  # first .. last data byte of record 5
        bad = buf.copy()
        bad[57 * 5 + byte] ^= 0x40
        framing = records.frame(bad)
        # the length checksum holds, so only record 5 is lost
        assert (framing.status, framing.skipped) == ("ok", (57 * 5,)), byte
        assert framing.starts.tolist() == [57 * i for i in range(200) if i != 5]
    # and without verification the damaged record is read
    assert records.frame(bad, verify=False).starts.shape[0] == 200


def test_frame_records_not_starting_with_wall_time(tmp_path):
    # the candidate scan looks for 0x09; other records must still be found by the walk
    payloads = [b"\x10\x05" + b"x" * n for n in range(30)] + [b"\x09" + b"\x00" * 8] * 20
    framing = records.frame(_framed_file(tmp_path, payloads))
    assert framing.status == "ok" and framing.starts.shape[0] == 50
    assert framing.lengths.tolist() == [len(p) for p in payloads]


def test_frame_zero_length_and_odd_lengths(tmp_path):
    payloads = [b"", b"\x09", b"\x09\x01\x02"] + [b"\x09" + bytes([i]) * 20 for i in range(40)]
    framing = records.frame(_framed_file(tmp_path, payloads))
    assert framing.status == "ok" and framing.lengths.tolist() == [len(p) for p in payloads]


def test_length_checksum_mismatch_stops_with_offset(tmp_path):
    payloads = [b"\x09" + bytes([i]) * 20 for i in range(10)]
    buf = _framed_file(tmp_path, payloads).copy()
    at = 37 * 4
    buf[at + 8] ^= 1  # the masked crc of record 4's length
    framing = records.frame(buf)
    assert (framing.status, framing.stop_offset, framing.starts.shape[0]) == ("corrupt", at, 4)
    assert framing.reason == "length checksum mismatch"


def test_impossible_length_is_corruption_not_truncation(tmp_path):
    payloads = [b"\x09" + bytes([i]) * 20 for i in range(10)]
    buf = _framed_file(tmp_path, payloads).copy()
    at = 37 * 6
    buf[at + 5] = 0x7F  # a length of terabytes, with the old length checksum
    framing = records.frame(buf)
    assert (framing.status, framing.stop_offset, framing.starts.shape[0]) == ("corrupt", at, 6)


@pytest.mark.parametrize("cut", [1, 5, 11, 12, 20, 36])
def test_truncated_last_record_ends_quietly(tmp_path, cut):
    payloads = [b"\x09" + bytes([i]) * 20 for i in range(10)]
    buf = _framed_file(tmp_path, payloads)
    short = buf[: 37 * 9 + cut].copy()
    framing = records.frame(short)
    assert framing.status == "truncated" and framing.stop_offset == 37 * 9
    assert framing.starts.shape[0] == 9


def test_many_records_from_a_real_writer_match_protobuf_decoding(torch_writer, tmp_path):
    # tags of different lengths interleaved, steps across varint widths, negative values
    w = torch_writer("mixed")
    tags = ["a", "loss", "train/accuracy", "x" * 130, "emoji/🚀"]
    steps = list(range(0, 140)) + list(range(16370, 16400)) + [2**31, 2**40]
    for s in steps:
        for k, tag in enumerate(tags):
            w.add_scalar(tag, (-1) ** k * s / 7.0 + k, s)
        w.add_scalar("dbl", s / 3.0, s, new_style=True, double_precision=True)
    w.close()
    (path,) = event_files(tmp_path / "logs" / "mixed")
    fast = read_file(str(path))
    slow = read_file(str(path), fast=False)
    assert fast.tags and sorted(fast.tags) == sorted(slow.tags)
    assert fast.record.tolist() == slow.record.tolist()
    names_fast = [fast.tags[t] for t in fast.tag]
    names_slow = [slow.tags[t] for t in slow.tag]
    assert names_fast == names_slow
    np.testing.assert_array_equal(fast.step, slow.step)
    np.testing.assert_array_equal(fast.value, slow.value)
    np.testing.assert_array_equal(fast.wall, slow.wall)
    assert len(fast.step) == len(steps) * (len(tags) + 1)


def test_values_containing_record_like_bytes(tmp_path):
    # values whose bytes look like record headers (0x09, zeros) must not confuse the scan
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary

    payloads = [Event(wall_time=1.0, file_version="brain.Event:2").SerializeToString()]
    tricky = [
        struct.unpack("<f", b"\x09\x00\x00\x00")[0],
        0.0,
        struct.unpack("<f", b"\x00\x00\x09\x00")[0],
    ]
    for step in range(300):
        value = tricky[step % 3]
        event = Event(
            wall_time=1.0 + step,
            step=step,
            summary=Summary(value=[Summary.Value(tag="t\x09", simple_value=value)]),
        )
        payloads.append(event.SerializeToString())
    path = tmp_path / "events.out.tfevents.1.h"
    path.write_bytes(b"".join(frame_record(p) for p in payloads))
    data = read_file(str(path))
    assert data.framing.status == "ok" and data.records == 301
    np.testing.assert_array_equal(
        data.value, np.array([tricky[s % 3] for s in range(300)], np.float32)
    )


def test_large_records_of_one_length_are_checked_in_slices(tmp_path, monkeypatch):
    # many equal-length large records (like images): bounded slices, every CRC still checked
    monkeypatch.setattr(records, "_SLICE_BYTES", 4096)
    rng = np.random.default_rng(3)
    payloads = [b"\x09" + bytes(rng.integers(0, 256, 999, dtype=np.uint8)) for _ in range(40)]
    buf = _framed_file(tmp_path, payloads)
    members = records._group_members(records.walk(buf).lengths)
    assert len(members) == 10 and all(m.shape[0] == 4 for _, m in members)
    assert records.frame(buf).status == "ok"
    bad = buf.copy()
    bad[1016 * 33 + 500] ^= 1
    framing = records.frame(bad)
    assert (framing.status, framing.skipped, framing.starts.shape[0]) == ("ok", (1016 * 33,), 39)


def _tensor_event(step, tag, tensor, plugin=None, wall=1.7e9):
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata

    value = Summary.Value(tag=tag, tensor=tensor)
    if plugin is not None:
        value.metadata.CopyFrom(
            SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=plugin))
        )
    return Event(
        wall_time=wall + step, step=step, summary=Summary(value=[value])
    ).SerializeToString()


def test_every_scalar_tensor_encoding_and_metadata_on_the_first_event_only(tmp_path):
    """DT_HALF/BFLOAT16/INT32/INT64/BOOL/UINT in *_val fields and tensor_content; the plugin is
    remembered from the first event of a tag, as TensorBoard does."""
    from tensorboard.compat.proto import types_pb2 as t
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.tensor_pb2 import TensorProto

    from tbreport.read import read_logdir

    steps = range(0, 40)
    cases = {
        # tag: (make tensor for value v, expected float of v)
        "half_val": (
            lambda v: TensorProto(dtype=t.DT_HALF, half_val=[int(np.float16(v).view(np.uint16))]),
            lambda v: float(np.float16(v)),
        ),
        "half_content": (
            lambda v: TensorProto(dtype=t.DT_HALF, tensor_content=np.float16(v).tobytes()),
            lambda v: float(np.float16(v)),
        ),
        "bf16_content": (
            lambda v: TensorProto(
                dtype=t.DT_BFLOAT16,
                tensor_content=(np.float32(v).view(np.uint32) >> 16).astype(np.uint16).tobytes(),
            ),
            lambda v: float(
                (np.float32(v).view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)
            ),
        ),
        "bf16_val": (
            lambda v: TensorProto(
                dtype=t.DT_BFLOAT16, half_val=[int(np.float32(v).view(np.uint32) >> 16)]
            ),
            lambda v: float(
                (np.float32(v).view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)
            ),
        ),
        "int32_val": (
            lambda v: TensorProto(dtype=t.DT_INT32, int_val=[int(v * 10) - 200]),
            lambda v: float(int(v * 10) - 200),
        ),
        "int64_content": (
            lambda v: TensorProto(
                dtype=t.DT_INT64, tensor_content=np.int64(-(2**40) + int(v)).tobytes()
            ),
            lambda v: float(-(2**40) + int(v)),
        ),
        "uint64_val": (
            lambda v: TensorProto(dtype=t.DT_UINT64, uint64_val=[2**63 + int(v)]),
            lambda v: float(2**63 + int(v)),
        ),
        "bool_val": (
            lambda v: TensorProto(dtype=t.DT_BOOL, bool_val=[int(v) % 2 == 1]),
            lambda v: float(int(v) % 2),
        ),
        "double_val": (
            lambda v: TensorProto(dtype=t.DT_DOUBLE, double_val=[v / 3]),
            lambda v: v / 3,
        ),
    }
    payloads = [Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString()]
    for s in steps:
        v = s * 1.37
        for tag, (make, _) in cases.items():
            # metadata only on each tag's first event; later events rely on the remembered plugin
            payloads.append(_tensor_event(s, tag, make(v), "scalars" if s == 0 else None))
        # a tensor tag whose plugin is not "scalars" is counted, not plotted
        payloads.append(
            _tensor_event(
                s,
                "other",
                TensorProto(dtype=t.DT_FLOAT, float_val=[v]),
                "custom" if s == 0 else None,
            )
        )
    run = tmp_path / "logs" / "run"
    run.mkdir(parents=True)
    (run / "events.out.tfevents.1.h").write_bytes(b"".join(frame_record(p) for p in payloads))
    for fast in (True, False):
        got = read_logdir(tmp_path / "logs", fast=fast).run("run")
        assert set(got.scalars) == set(cases)
        for tag, (_, expect) in cases.items():
            series = got.scalars[tag]
            np.testing.assert_array_equal(series.steps, list(steps))
            np.testing.assert_array_equal(
                series.values, [expect(s * 1.37) for s in steps], err_msg=tag
            )
            assert series.encoding == "tensor"
        assert got.others["other"].plugin == "custom" and got.others["other"].count == 40


@pytest.mark.parametrize("length", [600, 3001, 3002, records._MAX_GROUP_LENGTH + 1])
def test_long_records_of_one_length_are_checked_without_recursion(tmp_path, length):
    # 20 records of one length (like 20 steps of a TF2 histogram) used to recurse once per
    # byte of length when the distance tables were cold; every byte must still be checked
    rng = np.random.default_rng(length)
    base = bytes(rng.integers(0, 256, length - 1, dtype=np.uint8))
    payloads = []
    for i in range(20):
        data = bytearray(b"\x09" + base)
        data[1 + (37 * i) % (length - 1)] ^= 1 + i  # each record differs somewhere else
        payloads.append(bytes(data))
    buf = _framed_file(tmp_path, payloads)
    size = HEAD_FOOT + length
    assert records.frame(buf).status == "ok"
    for byte in (12, 13, size - 200, size - 6, size - 5):  # far from and near the end
        bad = buf.copy()
        bad[size * 7 + byte] ^= 0x10
        framing = records.frame(bad)
        assert (framing.status, framing.skipped) == ("ok", (size * 7,)), byte
        assert framing.starts.shape[0] == 19


def _payloads_of_many_lengths() -> list[bytes]:
    return [b"\x09" + bytes([i]) * (20 + i % 3) for i in range(30)]


def test_data_checksum_mismatches_skip_records_until_a_length_checksum_mismatch(tmp_path):
    payloads = _payloads_of_many_lengths()
    buf = _framed_file(tmp_path, payloads).copy()
    offsets = np.cumsum([0] + [HEAD_FOOT + len(p) for p in payloads]).tolist()
    for rec in (3, 7, 8, 25):  # records of different length groups, and one after the stop
        buf[offsets[rec] + 15] ^= 0x01
    buf[offsets[20] + 9] ^= 0x01  # record 20's length checksum
    framing = records.frame(buf)
    assert (framing.status, framing.stop_offset) == ("corrupt", offsets[20])
    assert framing.reason == "length checksum mismatch"
    assert framing.skipped == (offsets[3], offsets[7], offsets[8])
    assert framing.starts.tolist() == [offsets[i] for i in range(20) if i not in (3, 7, 8)]
    # without verification only the length checksum is checked
    framing = records.frame(buf, verify=False)
    assert framing.skipped == () and framing.starts.shape[0] == 20


def _with_length(buf: np.ndarray, at: int, length: int) -> np.ndarray:
    """``buf`` with the record at ``at`` claiming ``length``, its length checksum valid."""
    out = buf.copy()
    header = struct.pack("<Q", length)
    out[at : at + 12] = np.frombuffer(
        header + struct.pack("<I", records.masked_crc32c(header)), np.uint8
    )
    return out


@pytest.mark.parametrize("length", [2**63, 2**40, 10_000])
def test_bad_length_with_records_after_it_is_not_a_cut_short_record(tmp_path, length):
    payloads = [b"\x09" + bytes([i]) * 20 for i in range(40)]
    buf = _with_length(_framed_file(tmp_path, payloads), 37 * 10, length)
    framing = records.frame(buf)
    assert (framing.status, framing.stop_offset) == ("bad-length", 37 * 10)
    assert framing.starts.shape[0] == 10
    assert f"a length of {length} bytes" in framing.reason
    if length < 2**31:  # the evidence is the next record, complete with both checksums
        assert "complete record starts at byte offset 407" in framing.reason


def test_length_past_the_end_with_only_damaged_bytes_after_it_is_cut_short(tmp_path):
    # what follows holds no record with both checksums intact: a partial write is possible
    payloads = [b"\x09" + bytes([i]) * 20 for i in range(40)]
    buf = _with_length(_framed_file(tmp_path, payloads), 37 * 38, 10_000)
    buf[37 * 39 + 20] ^= 1
    framing = records.frame(buf)
    assert (framing.status, framing.stop_offset, framing.reason) == (
        "truncated",
        37 * 38,
        "record data cut short",
    )


def test_impossible_length_at_the_very_end_is_a_bad_length(tmp_path):
    # nothing follows, but no writer frames an Event of 2 GiB or more
    payloads = [b"\x09" + bytes([i]) * 20 for i in range(5)]
    buf = _with_length(_framed_file(tmp_path, payloads), 37 * 4, 2**31)
    assert records.frame(buf).status == "bad-length"
    buf = _with_length(_framed_file(tmp_path, payloads), 37 * 4, 2**31 - 1)
    assert records.frame(buf).status == "truncated"
