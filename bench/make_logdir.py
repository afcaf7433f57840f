"""Write a synthetic TensorBoard logdir for the read benchmark.

Each run is ``DIR/run_XX/events.out.tfevents.<secs>.<host>.<pid>.0`` holding exactly the records
torch.utils.tensorboard.SummaryWriter writes for ``add_scalar(tag, value, step)``:

* first record ``Event{wall_time, file_version: "brain.Event:2",
  source_metadata{writer: "tensorboard.summary.writer.event_file_writer"}}`` (torch >= 2.x adds
  the source_metadata);
* then, step-major (for each step, for each tag), ``Event{wall_time, step,
  summary{value{tag, simple_value}}}``; step 0 omits the step field, as proto3 does.

The bytes are built with numpy, including a vectorised CRC32C, so 8M points take seconds
instead of the minutes SummaryWriter needs. Values are float32 from ``RandomState(1000 + run)``,
wall times strictly increase by 1 ms per record.

    python bench/make_logdir.py --preset 1m          # -> bench/data/1m
    python bench/make_logdir.py --runs 2 --tags 3 --steps 100 --out /tmp/x
    python bench/make_logdir.py --verify             # compare with torch's SummaryWriter

A ``bench_manifest.json`` next to the runs records the shape, the point count and the float64
sum of all values; generation is skipped when it already matches.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PRESETS = {
    "1m": dict(runs=4, tags=25, steps=10_000),
    "8m": dict(runs=8, tags=50, steps=20_000),
    # many small runs: per-file overhead, not bytes (issue 11)
    "1k-runs": dict(runs=1_000, tags=5, steps=200),
    "20k-runs": dict(runs=20_000, tags=1, steps=1),
}
MANIFEST = "bench_manifest.json"
FORMAT_VERSION = 1
BASE_WALL_TIME = 1_700_000_000.0
HOST = "benchhost"
WRITER_NAME = b"tensorboard.summary.writer.event_file_writer"

# --------------------------------------------------------------------------- CRC32C (Castagnoli)


def _crc_table() -> np.ndarray:
    poly = 0x82F63B78
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table[i] = c
    return table


CRC_TABLE = _crc_table()


def crc32c_rows(data: np.ndarray) -> np.ndarray:
    """CRC32C of every row of a 2-D uint8 array (all rows have the same length)."""
    crc = np.full(data.shape[0], 0xFFFFFFFF, dtype=np.uint32)
    for j in range(data.shape[1]):
        crc = CRC_TABLE[(crc ^ data[:, j]) & 0xFF] ^ (crc >> 8)
    return crc ^ np.uint32(0xFFFFFFFF)


def crc32c(data: bytes) -> int:
    return int(crc32c_rows(np.frombuffer(data, dtype=np.uint8)[None, :])[0])


def masked(crc: np.ndarray) -> np.ndarray:
    c = crc.astype(np.uint64)
    return ((((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF).astype("<u4")


# --------------------------------------------------------------------------- protobuf pieces


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def frame(data: bytes) -> bytes:
    """One TFRecord: length, masked crc of length, data, masked crc of data."""
    length = struct.pack("<Q", len(data))
    crc_len = masked(np.array([crc32c(length)], dtype=np.uint32)).tobytes()
    crc_data = masked(np.array([crc32c(data)], dtype=np.uint32)).tobytes()
    return length + crc_len + data + crc_data


def file_version_event(wall_time: float) -> bytes:
    source_metadata = b"\x0a" + varint(len(WRITER_NAME)) + WRITER_NAME  # SourceMetadata.writer
    return (
        b"\x09"
        + struct.pack("<d", wall_time)  # 1: wall_time (double)
        + b"\x1a"
        + varint(13)
        + b"brain.Event:2"  # 3: file_version
        + b"\x52"
        + varint(len(source_metadata))
        + source_metadata  # 10: source_metadata
    )


def tag_names(n_tags: int) -> list[str]:
    groups = ["train", "eval", "opt", "sys", "misc"]
    return [f"{groups[i % len(groups)]}/metric_{i:03d}" for i in range(n_tags)]


# Steps in [lo, hi) share a step-field length: 0 bytes for step 0, else 1 key byte + varint.
STEP_CLASSES = [
    (0, 1, 0),
    (1, 1 << 7, 2),
    (1 << 7, 1 << 14, 3),
    (1 << 14, 1 << 21, 4),
    (1 << 21, 1 << 28, 5),
    (1 << 28, 1 << 35, 6),
]


def run_values(run_index: int, n_steps: int, n_tags: int) -> np.ndarray:
    """(steps, tags) float32: noisy decaying curves, deterministic per run."""
    rng = np.random.RandomState(1000 + run_index)
    x = np.arange(n_steps, dtype=np.float64)[:, None] / max(n_steps, 1)
    scale = rng.uniform(0.5, 5.0, size=n_tags)[None, :]
    rate = rng.uniform(1.0, 8.0, size=n_tags)[None, :]
    noise = rng.standard_normal((n_steps, n_tags)) * 0.05 * scale
    return (scale * np.exp(-rate * x) + noise).astype(np.float32)


def build_run_bytes(run_index: int, n_tags: int, n_steps: int) -> tuple[bytes, int, float]:
    """Returns (file bytes, first wall time, float64 sum of the values)."""
    tags = [t.encode() for t in tag_names(n_tags)]
    values = run_values(run_index, n_steps, n_tags)
    wall0 = BASE_WALL_TIME + 100_000.0 * run_index
    # record k (0 = file_version) gets wall time wall0 + k * 1 ms
    head = frame(file_version_event(wall0))

    parts = [head]
    for lo, hi, step_len in STEP_CLASSES:
        lo, hi = lo, min(hi, n_steps)
        if lo >= hi:
            continue
        steps = np.arange(lo, hi, dtype=np.int64)
        n = steps.shape[0]
        blocks = []
        for t, tag in enumerate(tags):
            if len(tag) > 120:
                raise ValueError("tag too long for the fixed layout")
            value_len = 2 + len(tag) + 5  # Summary.Value: tag field + simple_value field
            summary_len = 2 + value_len  # Summary: one value field
            data_len = 9 + step_len + 2 + summary_len
            rec = np.zeros((n, 12 + data_len + 4), dtype=np.uint8)
            rec[:, 0:8] = np.frombuffer(struct.pack("<Q", data_len), dtype=np.uint8)
            rec[:, 8:12] = np.frombuffer(
                masked(crc32c_rows(rec[:1, 0:8])).tobytes(), dtype=np.uint8
            )
            d = 12
            rec[:, d] = 0x09
            index = steps * n_tags + t + 1  # record number in the file
            wall = wall0 + index.astype(np.float64) * 1e-3
            rec[:, d + 1 : d + 9] = wall.astype("<f8").view(np.uint8).reshape(n, 8)
            p = d + 9
            if step_len:
                rec[:, p] = 0x10
                s = steps.copy()
                for k in range(1, step_len):
                    byte = (s & 0x7F).astype(np.uint8)
                    if k < step_len - 1:
                        byte |= 0x80
                    rec[:, p + k] = byte
                    s >>= 7
                p += step_len
            fixed = (
                b"\x2a"
                + bytes([summary_len])
                + b"\x0a"
                + bytes([value_len])
                + b"\x0a"
                + bytes([len(tag)])
                + tag
                + b"\x15"
            )
            rec[:, p : p + len(fixed)] = np.frombuffer(fixed, dtype=np.uint8)
            p += len(fixed)
            rec[:, p : p + 4] = values[lo:hi, t].astype("<f4").view(np.uint8).reshape(n, 4)
            p += 4
            assert p == 12 + data_len
            rec[:, p : p + 4] = masked(crc32c_rows(rec[:, 12:p])).view(np.uint8).reshape(n, 4)
            blocks.append(rec)
        # step-major: row i of the class = step lo+i, tags side by side
        parts.append(np.concatenate(blocks, axis=1).tobytes())
    total = float(values.astype(np.float64).sum())
    return b"".join(parts), wall0, total


def write_logdir(out: Path, runs: int, tags: int, steps: int, force: bool = False) -> dict:
    out = Path(out)
    want = dict(
        format=FORMAT_VERSION, runs=runs, tags=tags, steps=steps, points=runs * tags * steps
    )
    manifest_path = out / MANIFEST
    if not force and manifest_path.exists():
        try:
            have = json.loads(manifest_path.read_text())
            ok = all(have.get(k) == v for k, v in want.items()) and all(
                (out / f).is_file() and (out / f).stat().st_size == size
                for f, size in have["files"].items()
            )
        except (ValueError, KeyError, OSError):
            ok = False
        if ok:
            print(f"{out}: up to date ({have['points']:,} points), skipping")
            return have
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    t0 = time.perf_counter()
    files, total = {}, 0.0
    for r in range(runs):
        data, wall0, run_sum = build_run_bytes(r, tags, steps)
        run_dir = out / f"run_{r:02d}"
        run_dir.mkdir()
        name = f"events.out.tfevents.{int(wall0)}.{HOST}.{10_000 + r}.0"
        (run_dir / name).write_bytes(data)
        files[f"run_{r:02d}/{name}"] = len(data)
        total += run_sum
    manifest = dict(want, value_sum=total, files=files, bytes=sum(files.values()))
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    print(
        f"{out}: wrote {want['points']:,} points, {manifest['bytes'] / 1e6:.1f} MB "
        f"in {time.perf_counter() - t0:.1f}s"
    )
    return manifest


def read_manifest(logdir: Path) -> dict | None:
    try:
        return json.loads((Path(logdir) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- verification


def _read_records(path: Path) -> list[bytes]:
    data = path.read_bytes()
    out, i = [], 0
    while i < len(data):
        (n,) = struct.unpack_from("<Q", data, i)
        length_crc = struct.unpack_from("<I", data, i + 8)[0]
        rec = data[i + 12 : i + 12 + n]
        data_crc = struct.unpack_from("<I", data, i + 12 + n)[0]
        assert int(masked(np.array([crc32c(data[i : i + 8])], np.uint32))[0]) == length_crc
        assert int(masked(np.array([crc32c(rec)], np.uint32))[0]) == data_crc
        out.append(rec)
        i += 16 + n
    assert i == len(data)
    return out


def _is_repeated(fd) -> bool:
    rep = getattr(fd, "is_repeated", None)
    if rep is not None:
        return bool(rep)
    return fd.label == fd.LABEL_REPEATED


def _shape(event) -> list:
    """The set fields of an Event, recursively (names and value types, not values)."""

    def walk(msg):
        out = []
        for fd, v in msg.ListFields():
            if fd.message_type is not None:
                items = v if _is_repeated(fd) else [v]
                out.append((fd.name, [walk(x) for x in items]))
            else:
                out.append((fd.name, type(v).__name__))
        return out

    return walk(event)


def verify(n_tags: int = 2, n_steps: int = 300) -> None:
    import tempfile

    from tensorboard.backend.event_processing import event_accumulator as ea
    from tensorboard.compat.proto.event_pb2 import Event
    from torch.utils.tensorboard import SummaryWriter

    # 1. our CRC32C against the standard check value (and google-crc32c when installed)
    assert crc32c(b"123456789") == 0xE3069283
    try:
        import google_crc32c

        blob = os.urandom(1000)
        assert crc32c(blob) == google_crc32c.value(blob)
        print("crc32c: matches check value and google-crc32c")
    except ImportError:
        print("crc32c: matches check value (google-crc32c not installed)")

    tmp = Path(tempfile.mkdtemp(prefix="tbbench_verify_"))
    try:
        ours_dir = tmp / "ours"
        write_logdir(ours_dir, 1, n_tags, n_steps, force=True)
        ours_file = next((ours_dir / "run_00").iterdir())
        values = run_values(0, n_steps, n_tags)
        tags = tag_names(n_tags)

        torch_dir = tmp / "torch"
        w = SummaryWriter(str(torch_dir))
        for s in range(n_steps):
            for t, tag in enumerate(tags):
                w.add_scalar(tag, float(values[s, t]), s)
        w.close()
        torch_file = next(p for p in torch_dir.iterdir() if "tfevents" in p.name)

        parts = ours_file.name.split(".")
        tparts = torch_file.name.split(".")
        assert parts[:3] == tparts[:3] == ["events", "out", "tfevents"], (parts, tparts)
        assert len(parts) == len(tparts) and parts[-1] == tparts[-1] == "0"

        ours = [Event.FromString(r) for r in _read_records(ours_file)]
        theirs = [Event.FromString(r) for r in _read_records(torch_file)]
        assert len(ours) == len(theirs) == 1 + n_tags * n_steps, (len(ours), len(theirs))
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert _shape(a) == _shape(b), (i, a, b)
            a.wall_time = b.wall_time = 0
            assert a == b, (i, a, b)  # same step, tag, value, file_version, source_metadata
        wall = [e.wall_time for e in (Event.FromString(r) for r in _read_records(ours_file))]
        assert all(x < y for x, y in zip(wall, wall[1:], strict=False)), "wall times must increase"
        # byte-for-byte too, once wall times are equalised
        for a_raw, b_raw in zip(_read_records(ours_file), _read_records(torch_file), strict=True):
            a, b = Event.FromString(a_raw), Event.FromString(b_raw)
            a.wall_time = b.wall_time
            assert a.SerializeToString() == b_raw and len(a_raw) == len(b_raw)
        print(
            f"record structure: {len(ours)} records identical to torch SummaryWriter "
            "(apart from wall_time values)"
        )

        acc = ea.EventAccumulator(str(ours_dir / "run_00"), size_guidance={ea.SCALARS: 0})
        acc.Reload()
        got = acc.Tags()["scalars"]
        assert sorted(got) == sorted(tags), got
        for t, tag in enumerate(tags):
            evs = acc.Scalars(tag)
            assert [e.step for e in evs] == list(range(n_steps))
            assert np.array_equal(np.array([e.value for e in evs], np.float32), values[:, t])
        print(f"EventAccumulator: reads all {n_tags * n_steps} points with the right values")

        # bigger step numbers exercise every varint length up to 3 bytes
        big = tmp / "big"
        m = write_logdir(big, 2, 3, 20_000, force=True)
        total = 0
        for r in range(2):
            acc = ea.EventAccumulator(str(big / f"run_{r:02d}"), size_guidance={ea.SCALARS: 0})
            acc.Reload()
            for tag in acc.Tags()["scalars"]:
                evs = acc.Scalars(tag)
                assert [e.step for e in evs] == list(range(20_000))
                total += len(evs)
        assert total == m["points"]
        print(f"EventAccumulator: {total} points over 2 runs x 3 tags x 20,000 steps")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("verify: OK")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--preset", choices=[*PRESETS, "both"], help=f"{', '.join(PRESETS)}; both: 1m and 8m"
    )
    ap.add_argument("--runs", type=int)
    ap.add_argument("--tags", type=int)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--out", type=Path, help="output logdir (default bench/data/<preset>)")
    ap.add_argument("--force", action="store_true", help="rewrite even if up to date")
    ap.add_argument(
        "--verify",
        action="store_true",
        help="check the format against torch's SummaryWriter and exit",
    )
    a = ap.parse_args(argv)
    if a.verify:
        verify()
        return 0
    if a.preset:
        for name in ("1m", "8m") if a.preset == "both" else [a.preset]:
            write_logdir(a.out or HERE / "data" / name, **PRESETS[name], force=a.force)
        return 0
    if not (a.runs and a.tags and a.steps and a.out):
        ap.error("give --preset, or --runs, --tags, --steps and --out")
    write_logdir(a.out, a.runs, a.tags, a.steps, force=a.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
