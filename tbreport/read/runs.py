"""Read stage entry point: a logdir path in, a :class:`~tbreport.model.Logdir` out.

Discovers the runs, decodes their event files, applies the run-level rules (plugin of a tag
from its first metadata, TensorBoard's restart rule) and labels sub-runs that torch's
``add_scalars`` and ``add_hparams`` create.
"""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from functools import partial

import numpy as np

from tbreport.model import (
    NOTE,
    DataWarning,
    Histograms,
    Logdir,
    Run,
    Series,
    TagCount,
    TagRecords,
    wall_time_ok,
)
from tbreport.options import is_url
from tbreport.read.cache import CachedReader, DecodeCache
from tbreport.read.discover import RunDir, discover_runs
from tbreport.read.events import SIMPLE, ByTag, FileData, read_file, read_segments
from tbreport.read.executor import Executor
from tbreport.read.restarts import apply_restarts, repeated_records
from tbreport.read.storage import Remote, load_batch, load_file, open_remote

RESTART_MODES = ("replace", "keep-all")
_TIMESTAMP_NAME = re.compile(r"^\d{9,}\.\d+$")


#: files up to this size are decoded together with other small files (a sweep of many short
#: runs costs per file otherwise); larger ones are read alone
SMALL_FILE = 1 << 20
#: bytes of small files in one batch at most: bounds the memory a reading task holds
BATCH_BYTES = 16 << 20
#: bytes per task at least: below that a task is mostly Python work, which threads only share
MIN_TASK_BYTES = 4 << 20
#: tasks per worker thread at least, so that uneven tasks still keep every thread busy
_TASKS_PER_WORKER = 4


def read_logdir(
    path: str | os.PathLike[str],
    *,
    restarts: str = "replace",
    verify_crc: bool = True,
    fast: bool = True,
    executor: str | None = None,
    cache: DecodeCache | None = None,
    found: tuple[list[RunDir], list[DataWarning]] | None = None,
) -> Logdir:
    """Read every run under ``path`` (a folder, or an fsspec URL such as ``s3://bucket/runs``).

    ``restarts="replace"`` follows TensorBoard: in a series, a record at step s replaces the
    earlier records at steps >= s. ``"keep-all"`` keeps every record in file order. Either way
    the dropped counts are reported as notes, and records repeated right after themselves (the
    same step and value) as ``"duplicate"`` notes rather than restarts. ``verify_crc=False``
    skips data checksums. ``fast=False`` decodes every record with protobufs (slower; the
    reference for tests). ``executor``: ``"dask://HOST:PORT"`` reads the runs on the workers of
    that Dask scheduler; local threads by default. ``cache``: where decoded files are kept
    between reads (:mod:`tbreport.read.cache`); used for local files read by local threads.
    ``found``: what ``discover_runs(path)`` returned, when the caller has it already.
    """
    if restarts not in RESTART_MODES:
        raise ValueError(f"restarts must be one of {RESTART_MODES}, not {restarts!r}")
    remote = open_remote(os.fspath(path)) if is_url(path) else None
    run_dirs, found_warnings = discover_runs(path, remote) if found is None else found
    warnings = list(found_warnings)  # the caller's list stays as it was
    runs = []
    if remote is not None or (executor or "threads") != "threads":
        cache = None  # a store of this process, for files it reads itself
    task = partial(
        read_runs, remote=remote, restarts=restarts, verify_crc=verify_crc, fast=fast, cache=cache
    )
    with Executor(executor) as pool:
        chunks = _chunks(run_dirs, pool.workers * _TASKS_PER_WORKER)
        results = pool.map(task, chunks)
    for chunk in results:  # in run order: output stays deterministic
        for run, run_warnings in chunk:
            runs.append(run)
            warnings.extend(run_warnings)
    runs = _label_sub_runs(runs, warnings)
    return Logdir(os.fspath(path), tuple(runs), tuple(warnings))


def _chunks(run_dirs: list[RunDir], tasks: int) -> list[list[RunDir]]:
    """Consecutive runs in groups of about equal bytes, at most BATCH_BYTES of small files."""
    sizes = [sum(r.sizes) if r.sizes else SMALL_FILE for r in run_dirs]
    # tasks of less than MIN_TASK_BYTES are mostly Python work, which threads only share
    target = min(BATCH_BYTES, max(MIN_TASK_BYTES, sum(sizes) // max(1, tasks)))
    out: list[list[RunDir]] = []
    current: list[RunDir] = []
    held = 0
    for run_dir, size in zip(run_dirs, sizes, strict=True):
        if current and held + size > target:
            out.append(current)
            current, held = [], 0
        current.append(run_dir)
        held += size
    if current:
        out.append(current)
    return out


def read_run(
    run_dir: RunDir, *, restarts: str = "replace", verify_crc: bool = True, fast: bool = True
) -> tuple[Run, list[DataWarning]]:
    """Read the event files of one run, in their natural order."""
    return read_runs([run_dir], restarts=restarts, verify_crc=verify_crc, fast=fast)[0]


def read_runs(
    run_dirs: list[RunDir],
    *,
    remote: Remote | None = None,
    restarts: str = "replace",
    verify_crc: bool = True,
    fast: bool = True,
    cache: DecodeCache | None = None,
) -> list[tuple[Run, list[DataWarning]]]:
    """Read several runs: their small files decoded together in one pass, large ones alone.

    This is one task of a read (on a local thread or a Dask worker): files in, runs out.
    With a ``cache``, files it holds are taken from it and the others stored in it.
    """
    got: dict[str, FileData | OSError] = {}
    reader = None if cache is None else CachedReader(cache, verify_crc, fast)
    if reader is not None:
        for path in (p for r in run_dirs for p in r.files):
            hit = reader.lookup(path)
            if hit is not None:
                got[path] = hit
    small = [
        (path, size)
        for r in run_dirs
        for path, size in zip(r.files, r.sizes or [SMALL_FILE + 1] * len(r.files), strict=True)
        if 0 < size <= SMALL_FILE and path not in got
    ]
    if small:
        paths, sizes = zip(*small, strict=True)
        got.update(_read_small(remote, list(paths), verify_crc, fast, sizes))
    for r in run_dirs:
        for path in r.files:
            if path not in got:
                got[path] = _read_large(remote, path, verify_crc, fast)
    if reader is not None:
        for path, data in got.items():
            if not isinstance(data, OSError):
                reader.store(path, data)
    return [_assemble_run(r, [got[p] for p in r.files], restarts) for r in run_dirs]


def _read_small(
    remote: Remote | None,
    paths: list[str],
    verify: bool,
    fast: bool,
    sizes: Sequence[int] | None = None,
) -> dict[str, FileData | OSError]:
    buf, bounds, errors = load_batch(remote, paths, sizes)
    out: dict[str, FileData | OSError] = {
        p: err for p, err in zip(paths, errors, strict=True) if err is not None
    }
    ends = bounds[1:] + [int(buf.shape[0])]
    present = [
        (p, lo, hi) for p, lo, hi, err in zip(paths, bounds, ends, errors, strict=True)
        if err is None and hi > lo
    ]  # fmt: skip
    for p, lo, hi, err in zip(paths, bounds, ends, errors, strict=True):
        if err is None and hi == lo:  # emptied since it was listed
            out[p] = read_segments(buf[lo:hi], (p,), (0,), verify, fast)[0]  # type: ignore[index]
    if not present:
        return out
    offset = present[0][1]
    together = read_segments(
        buf[offset:], [p for p, _, _ in present], [lo - offset for _, lo, _ in present],
        verify, fast,
    )  # fmt: skip
    if together is None:
        # one of them is damaged at its end: each is read alone, to say which and how
        for p, lo, hi in present:
            one = read_segments(buf[lo:hi], (p,), (0,), verify, fast)
            assert one is not None
            out[p] = one[0]
    else:
        out.update(zip([p for p, _, _ in present], together, strict=True))
    return out


def _read_large(remote: Remote | None, path: str, verify: bool, fast: bool) -> FileData | OSError:
    try:
        if remote is None:
            return read_file(path, verify=verify, fast=fast)
        buf = load_file(remote, path)
    except OSError as err:
        return err
    one = read_segments(buf, (path,), (0,), verify, fast)
    assert one is not None
    return one[0]


def _assemble_run(
    run_dir: RunDir, got: list[FileData | OSError], restarts: str
) -> tuple[Run, list[DataWarning]]:
    """A run from its files' decoded records: the run-level rules apply here."""
    if len(got) == 1:
        alone = _plain_run(run_dir, got[0])
        if alone is not None:
            return alone
    warnings: list[DataWarning] = []
    files: list[FileData] = []
    for path, data in zip(run_dir.files, got, strict=True):
        if isinstance(data, OSError):
            warnings.append(
                DataWarning(
                    "unreadable",
                    f"Cannot read event file '{path}': {data.strerror}. Skipped.",
                    path=path,
                    run=run_dir.name,
                )
            )
            continue
        warnings.extend(_file_warnings(data, run_dir.name))
        warnings.extend(_undecodable_warnings(data, run_dir.name))
        files.append(data)

    # the plugin of a tag comes from the first record that carries metadata for it
    first_meta: dict[str, tuple[int, int, str]] = {}
    for file_no, data in enumerate(files):
        for tag, (rec, plugin) in data.metadata.items():
            if tag not in first_meta or first_meta[tag][:2] > (file_no, rec):
                first_meta[tag] = (file_no, rec, plugin)
    plugin_of = {tag: plugin for tag, (_, _, plugin) in first_meta.items()}

    tag_names: list[str] = []
    tag_ids: dict[str, int] = {}
    chunks: list[tuple[np.ndarray, ...]] = []
    others: defaultdict[tuple[str, str], int] = defaultdict(int)
    events: defaultdict[str, int] = defaultdict(int)
    hparams: dict[str, object] = {}
    plain: dict[str, Series] | None = None
    for data in files:
        hparams.update(data.hparams)
        for (tag, owner), count in data.others.items():
            if tag:
                others[(tag, owner or plugin_of.get(tag) or "unknown")] += count
            elif owner:  # an event that is not a summary: graph_def, tagged_run_metadata...
                events[owner] += count
        if not data.tags:
            continue
        if len(files) == 1 and data.by_tag is not None:
            # one file whose series need no run-level rule (most runs of a sweep)
            if data.by_tag.encoding == SIMPLE or all(
                plugin_of.get(tag) == "scalars" for tag in data.tags
            ):
                plain = _plain_series(data.tags, data.by_tag)
                continue
        to_run = np.empty(len(data.tags), dtype=np.int64)
        is_scalar_tag = np.empty(len(data.tags), dtype=bool)
        for local, tag in enumerate(data.tags):
            if tag not in tag_ids:
                tag_ids[tag] = len(tag_names)
                tag_names.append(tag)
            to_run[local] = tag_ids[tag]
            is_scalar_tag[local] = plugin_of.get(tag) == "scalars"
        keep = (data.encoding == SIMPLE) | is_scalar_tag[data.tag]
        if not keep.all():
            # tensors of tags whose plugin is not "scalars": counted, not plotted
            dropped_tags = Counter(data.tag[~keep].tolist())
            for local, count in dropped_tags.items():
                tag = data.tags[local]
                others[(tag, plugin_of.get(tag) or "unknown")] += count
        chunks.append(
            (
                to_run[data.tag[keep]],
                data.step[keep],
                data.wall[keep],
                data.value[keep],
                data.encoding[keep],
            )
        )

    if plain is not None:
        scalars, walls_ok = plain, True
    else:
        scalars, walls_ok = _series_by_tag(run_dir.name, tag_names, chunks, restarts, warnings)
    tensors, histograms = _tag_records(run_dir, files, plugin_of)
    other_tags: dict[str, TagCount] = {}
    for (tag, plugin), count in sorted(others.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if tag in other_tags:
            prev = other_tags[tag]
            other_tags[tag] = TagCount(prev.plugin, prev.count + count)
        else:
            other_tags[tag] = TagCount(plugin, count)
    run = Run(
        name=run_dir.name,
        path=run_dir.path,
        files=run_dir.files,
        scalars=scalars,
        others=other_tags,
        hparams=hparams,
        records=sum(f.records for f in files),
        tensors=tensors,
        events=dict(sorted(events.items())),
        histograms=histograms,
    )
    if not walls_ok:
        warnings.extend(_wall_time_notes(run))
    return run, warnings


def _tag_records(
    run_dir: RunDir, files: list[FileData], plugin_of: dict[str, str]
) -> tuple[dict[str, TagRecords], dict[str, Histograms]]:
    """Where each non-scalar tag's records are, in file order, for its kind to read; and the
    histograms decoded while reading, for the tags whose plugin is "histograms"."""
    if not any(data.blobs or data.histograms for data in files):
        return {}, {}
    index = {path: i for i, path in enumerate(run_dir.files)}
    # per tag: arrays of (file, offset, value index, step, wall time), and histogram pieces
    rows: dict[str, list[tuple[np.ndarray, ...]]] = {}
    pieces: dict[str, list[tuple[np.ndarray, ...]]] = {}
    named: dict[str, str | None] = {}
    for data in files:
        file_no = index[data.path]
        by_tag: dict[str, list[tuple[str | None, int, float, int, int]]] = {}
        for tag, plugin, step, wall, offset, value in data.blobs:
            by_tag.setdefault(tag, []).append((plugin, step, wall, offset, value))
        for tag, blob_rows in by_tag.items():
            named.setdefault(tag, next((r[0] for r in blob_rows if r[0]), None))
            rows.setdefault(tag, []).append(
                (
                    np.full(len(blob_rows), file_no, dtype=np.int32),
                    np.array([r[3] for r in blob_rows], dtype=np.int64),
                    np.array([r[4] for r in blob_rows], dtype=np.int32),
                    np.array([r[1] for r in blob_rows], dtype=np.int64),
                    np.array([r[2] for r in blob_rows], dtype=np.float64),
                )
            )
        for chunk in data.histograms:
            # one pass over the chunk: its values and buckets grouped by tag, file order kept
            tags = len(chunk.tags)
            order = np.argsort(chunk.tag, kind="stable")
            ends = np.cumsum(np.bincount(chunk.tag, minlength=tags))
            sizes = chunk.sizes[order]
            grouped = chunk.buckets
            if tags > 1:
                # bucket rows in the same order, without sorting them: each value's rows move
                # together from where they start
                firsts = np.cumsum(chunk.sizes) - chunk.sizes
                rows_before = np.cumsum(sizes) - sizes
                within = np.arange(int(sizes.sum())) - np.repeat(rows_before, sizes)
                grouped = chunk.buckets[np.repeat(firsts[order], sizes) + within]
            row_bounds = np.concatenate([[0], np.cumsum(sizes)])
            for local, tag in enumerate(chunk.tags):
                if not named.get(tag):
                    named[tag] = chunk.plugin
                first = ends[local - 1] if local else 0
                sel = order[first : ends[local]]
                piece = (
                    np.full(sel.shape[0], file_no, dtype=np.int32),
                    chunk.offsets[sel],
                    chunk.indices[sel],
                    chunk.steps[sel],
                    chunk.walls[sel],
                )
                rows.setdefault(tag, []).append(piece)
                buckets = grouped[row_bounds[first] : row_bounds[ends[local]]]
                pieces.setdefault(tag, []).append((*piece, chunk.sizes[sel], buckets))
    tensors: dict[str, TagRecords] = {}
    histograms: dict[str, Histograms] = {}
    for tag in sorted(rows):
        files_, offsets, values, steps, walls = (
            np.concatenate(c) for c in zip(*rows[tag], strict=True)
        )
        # file order; values of one record keep their order in summary.value
        order = np.lexsort((values, offsets, files_))
        plugin = plugin_of.get(tag) or named.get(tag) or "unknown"
        tensors[tag] = TagRecords(
            plugin=plugin,
            steps=steps[order],
            wall_times=walls[order],
            files=files_[order],
            offsets=offsets[order],
            values=values[order],
        )
        if plugin == "histograms" and tag in pieces:
            histograms[tag] = _histograms(pieces[tag])
    return tensors, histograms


def _histograms(pieces: list[tuple[np.ndarray, ...]]) -> Histograms:
    """One tag's histogram pieces (bulk-decoded layouts and single records) in file order."""
    files_, offsets, values, steps, walls, sizes, buckets = (
        np.concatenate(c) for c in zip(*pieces, strict=True)
    )
    starts = np.cumsum(sizes) - sizes
    order = np.lexsort((values, offsets, files_))
    sizes = sizes[order]
    bounds = np.zeros(sizes.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes, out=bounds[1:])
    if not np.array_equal(order, np.arange(order.shape[0])):
        take = np.repeat(starts[order] - bounds[:-1], sizes) + np.arange(int(bounds[-1]))
        buckets = buckets[take]
    return Histograms(
        steps=steps[order], wall_times=walls[order], bounds=bounds, buckets=buckets.reshape(-1, 3)
    )


def _plain_run(run_dir: RunDir, data: FileData | OSError) -> tuple[Run, list[DataWarning]] | None:
    """The run of one file that holds only scalars needing no run-level rule (most runs of
    a sweep), without the general assembly's passes; None for any other."""
    if (
        isinstance(data, OSError)
        or data.by_tag is None
        or data.by_tag.encoding != SIMPLE
        or data.others
        or data.blobs
        or data.histograms
        or data.hparams
        or data.undecodable
    ):
        return None
    run = Run(
        name=run_dir.name,
        path=run_dir.path,
        files=run_dir.files,
        scalars=_plain_series(data.tags, data.by_tag),
        others={},
        hparams={},
        records=data.records,
        tensors={},
        events={},
        histograms={},
    )
    return run, _file_warnings(data, run_dir.name)


def _plain_series(tags: list[str], by_tag: ByTag) -> dict[str, Series]:
    """Series of a file that needs no run-level rule: slices of its points grouped by tag."""
    encoding = "simple_value" if by_tag.encoding == SIMPLE else "tensor"
    bounds = by_tag.bounds
    out = {}
    for local in sorted(range(len(tags)), key=tags.__getitem__) if len(tags) > 1 else (0,):
        lo, hi = bounds[local], bounds[local + 1]
        if hi > lo:
            out[tags[local]] = Series(
                by_tag.steps[lo:hi], by_tag.values[lo:hi], by_tag.walls[lo:hi], records=hi - lo,
                dropped=0, encoding=encoding,
            )  # fmt: skip
    return out


def _series_by_tag(
    run_name: str,
    tag_names: list[str],
    chunks: list[tuple[np.ndarray, ...]],
    restarts: str,
    warnings: list[DataWarning],
) -> tuple[dict[str, Series], bool]:
    """The run's series by tag name, and whether every wall time was found to be a date
    (False: not checked)."""
    if not chunks:
        return {}, True
    # a run of one file (most runs of a sweep) needs no joining
    tag, step, wall, value, enc = (
        chunks[0] if len(chunks) == 1 else (np.concatenate(c) for c in zip(*chunks, strict=True))
    )
    if len(tag_names) == 1:
        order = np.arange(tag.shape[0])
        bounds = [0, tag.shape[0]]
    else:
        key = tag.astype(np.uint16) if len(tag_names) < 65536 else tag
        order = np.argsort(key, kind="stable")  # radix sort for 16-bit keys; keeps file order
        counts = np.bincount(tag, minlength=len(tag_names))
        bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
    out: dict[str, Series] = {}
    # the usual series: steps strictly increasing, every value finite, one encoding. Checked
    # for all the run's series at once; then each is a slice of the run's arrays, with no
    # per-series passes (a sweep of 1,000 short runs has 5,000 series)
    step_s = step[order]
    diffs = np.diff(step_s)
    inner = np.asarray(bounds[1:-1], dtype=np.int64)
    diffs[inner[(inner > 0) & (inner < step_s.shape[0])] - 1] = 1  # across tags: no constraint
    enc_lo, enc_hi = (int(enc.min()), int(enc.max())) if enc.shape[0] else (SIMPLE, SIMPLE)
    if bool((diffs > 0).all()) and enc_lo == enc_hi:
        value_s = value[order]
        wall_s = wall[order]
        if bool(np.isfinite(value_s).all()) and bool(wall_time_ok(wall_s).all()):
            encoding = "simple_value" if enc_lo == SIMPLE else "tensor"
            for tid in sorted(range(len(tag_names)), key=lambda t: tag_names[t]):
                lo, hi = bounds[tid], bounds[tid + 1]
                if lo != hi:
                    out[tag_names[tid]] = Series(
                        step_s[lo:hi], value_s[lo:hi], wall_s[lo:hi], records=hi - lo,
                        dropped=0, encoding=encoding,
                    )  # fmt: skip
            return out, True
    for tid in sorted(range(len(tag_names)), key=lambda t: tag_names[t]):
        lo, hi = bounds[tid], bounds[tid + 1]
        if lo == hi:
            continue
        idx = order[lo:hi]
        s, w, v, e = step[idx], wall[idx], value[idx], enc[idx]
        records = hi - lo
        dropped = 0
        name = tag_names[tid]
        repeats = int(np.count_nonzero(repeated_records(s, v)))
        if repeats:
            kept = (
                "all kept (--restarts keep-all)" if restarts == "keep-all" else "kept one of each"
            )
            warnings.append(
                DataWarning(
                    "duplicate",
                    f"Run '{run_name}', tag '{name}': {repeats} of {records} records repeat the "
                    f"record before them (same step and value, as Lightning logs 'epoch'); "
                    f"{kept}.",
                    run=run_name,
                    tag=name,
                    severity=NOTE,
                )
            )
        if restarts == "replace":
            # each repeat is followed by its copy, so the rule drops it and counts it above
            keep = apply_restarts(s)
            dropped = records - int(np.count_nonzero(keep))
            if dropped:
                s, w, v = s[keep], w[keep], v[keep]
            if dropped > repeats:
                warnings.append(
                    DataWarning(
                        "restart",
                        f"Run '{run_name}', tag '{name}': {dropped - repeats} of {records} "
                        "records were replaced by later records at the same or an earlier step "
                        "with a different value, or after later steps (a restart or resumed "
                        "run; TensorBoard shows the later ones too). Use --restarts keep-all to "
                        "keep every record.",
                        run=run_name,
                        tag=name,
                        severity=NOTE,
                    )
                )
        lo_enc, hi_enc = int(e.min()), int(e.max())
        encoding = (
            "mixed" if lo_enc != hi_enc else ("simple_value" if lo_enc == SIMPLE else "tensor")
        )
        series = Series(s, v, w, records=records, dropped=dropped, encoding=encoding)
        nan, inf = series.nan_count, series.inf_count
        if nan or inf:
            warnings.append(
                DataWarning(
                    "nonfinite",
                    f"Run '{run_name}', tag '{name}': {nan} NaN and {inf} infinite value(s) "
                    f"among {len(series)} points; they are kept and marked in charts.",
                    run=run_name,
                    tag=name,
                    severity=NOTE,
                )
            )
        out[name] = series
    return out, False


def _file_warnings(data: FileData, run: str) -> list[DataWarning]:
    framing = data.framing
    if (
        framing is not None
        and framing.status == "ok"
        and not data.skipped
        and (data.file_version is not None or not data.records)
        and data.size
    ):
        return []  # a whole file, as written
    path = data.path
    out = []
    if data.size == 0:
        return [
            DataWarning(
                "empty-file",
                f"Event file '{path}' is empty (0 bytes). A writer may have been started and "
                "never flushed; nothing to read.",
                path=path,
                run=run,
            )
        ]
    assert framing is not None
    if framing.status == "corrupt" and data.records == 0:
        out.append(
            DataWarning(
                "not-event-file",
                f"'{path}' is named like an event file but is not one: {framing.reason} at "
                f"byte offset {framing.stop_offset}. Skipped; rename or move it if it is not "
                "TensorBoard data.",
                path=path,
                offset=framing.stop_offset,
                run=run,
            )
        )
    elif framing.status == "corrupt":
        out.append(
            DataWarning(
                "corrupt-record",
                f"Event file '{path}': {framing.reason} at byte offset {framing.stop_offset}; "
                f"kept the {data.records} record(s) before it and skipped the rest of the file. "
                "The file is damaged; re-copy it from the machine that wrote it.",
                path=path,
                offset=framing.stop_offset,
                run=run,
            )
        )
    elif framing.status == "bad-length":
        rest = data.size - (framing.stop_offset or 0)
        out.append(
            DataWarning(
                "bad-length",
                f"Event file '{path}': the record at byte offset {framing.stop_offset} claims "
                f"{framing.reason}; kept the {data.records} record(s) before it and skipped "
                f"the rest of the file ({rest} bytes). The file is damaged, not cut short by a "
                "running writer; re-copy it from the machine that wrote it.",
                path=path,
                offset=framing.stop_offset,
                run=run,
            )
        )
    elif framing.status == "truncated":
        out.append(
            DataWarning(
                "truncated",
                f"Event file '{path}' ends in a partial record at byte offset "
                f"{framing.stop_offset} (a writer still running, or a copy made mid-write); "
                f"kept the {data.records} complete record(s).",
                path=path,
                offset=framing.stop_offset,
                run=run,
                severity=NOTE,
            )
        )
    out.extend(_skipped_warnings(data, run))
    first_skipped = bool(data.skipped) and data.skipped[0][0] == 0
    if (
        data.records
        and data.file_version is None
        and framing.status != "corrupt"
        and not first_skipped
    ):
        out.append(
            DataWarning(
                "no-file-version",
                f"Event file '{path}' does not start with a file_version record; it may not be "
                "a TensorBoard event file.",
                path=path,
                run=run,
            )
        )
    return out


def _undecodable_warnings(data: FileData, run: str) -> list[DataWarning]:
    if not data.undecodable:
        return []
    offset, reason = data.undecodable[0]
    return [
        DataWarning(
            "undecodable",
            f"Event file '{data.path}': {len(data.undecodable)} record(s) with valid checksums "
            f"are not TensorBoard events protobuf can decode, the first at byte offset {offset} "
            f"({reason}); they were skipped. TensorBoard cannot read them either; the usual "
            "cause is a tag or plugin name that is not valid UTF-8, written by a tool other "
            "than the TensorBoard writers.",
            path=data.path,
            offset=offset,
            run=run,
        )
    ]


#: damaged records named one by one per file; the rest are summed up in one more warning
_SKIPPED_NAMED = 10


def _skipped_warnings(data: FileData, run: str) -> list[DataWarning]:
    path = data.path
    out = []
    for offset, step in data.skipped[:_SKIPPED_NAMED]:
        at_step = "" if step is None else f" (step {step}, as read from the damaged bytes)"
        out.append(
            DataWarning(
                "skipped-record",
                f"Event file '{path}': data checksum mismatch in the record at byte offset "
                f"{offset}{at_step}; skipped that record and read the rest of the file. The "
                "file is damaged; re-copy it from the machine that wrote it.",
                path=path,
                offset=offset,
                run=run,
            )
        )
    rest = data.skipped[_SKIPPED_NAMED:]
    if rest:
        out.append(
            DataWarning(
                "skipped-record",
                f"Event file '{path}': {len(rest)} more record(s) with a data checksum "
                f"mismatch, from byte offset {rest[0][0]} to {rest[-1][0]}, were skipped too.",
                path=path,
                offset=rest[0][0],
                run=run,
            )
        )
    return out


def _label_sub_runs(runs: list[Run], warnings: list[DataWarning]) -> list[Run]:
    """Mark runs made by torch add_scalars / add_hparams (and tensorboardX add_scalars)."""
    from dataclasses import replace

    out = []
    for run in runs:
        # run names are relative POSIX paths: their parts as PurePosixPath gives them
        parts = [part for part in run.name.split("/") if part and part != "."]
        if run.name == "." or not parts:
            out.append(run)
            continue
        parent = "/".join(parts[:-1]) if len(parts) > 1 else "."
        leaf = parts[-1]
        kind = None
        if _TIMESTAMP_NAME.match(leaf) and any(t.startswith("_hparams_/") for t in run.others):
            kind = "add_hparams"
        elif len(run.scalars) == 1 and not run.others:
            (tag,) = run.scalars
            flat = tag.replace("/", "_")
            if leaf.startswith(flat + "_") and len(leaf) > len(flat) + 1:
                kind = "add_scalars"  # torch: <logdir>/<main_tag>_<key>
            elif len(parts) >= 2 and parts[-2] == flat:
                kind = "add_scalars"  # tensorboardX: <logdir>/<main_tag>/<key>
                parent = "/".join(parts[:-2]) if len(parts) > 2 else "."
        if kind is None:
            out.append(run)
            continue
        out.append(replace(run, kind=kind, parent=parent))
        warnings.append(
            DataWarning(
                "sub-run",
                f"Run '{run.name}' was made by {kind} for run '{parent}'; "
                + (
                    f"its hyperparameters and metrics are shown in the HParams table as trial "
                    f"'{parent}'."
                    if kind == "add_hparams"
                    else "it is shown as its own run, labelled as part of that one."
                ),
                run=run.name,
                severity=NOTE,
            )
        )
    return out


#: tags named in a bad-wall-time note before the rest are counted
_NOTE_TAGS = 5


def _wall_time_notes(run: Run) -> list[DataWarning]:
    """One note per run for wall times that are not dates (a broken clock, a crafted record)."""
    bad = {
        tag: int(np.count_nonzero(~wall_time_ok(s.wall_times))) for tag, s in run.scalars.items()
    }
    bad = {tag: n for tag, n in bad.items() if n}
    if not bad:
        return []
    tags = ", ".join(f"'{tag}'" for tag in list(bad)[:_NOTE_TAGS])
    if len(bad) > _NOTE_TAGS:
        tags += f" and {len(bad) - _NOTE_TAGS} more"
    return [
        DataWarning(
            "bad-wall-time",
            f"Run '{run.name}': {sum(bad.values())} record(s) in tag(s) {tags} have a wall time "
            "that is not a date (past year 9999, before year 1, NaN or infinite). Their values "
            "are kept; the run's start and duration leave them out, and so do charts with a "
            "time x axis.",
            run=run.name,
            tag=next(iter(bad)) if len(bad) == 1 else None,
            severity=NOTE,
        )
    ]
