"""Export stage: a logdir in, every scalar point as one long table out (CSV, JSON lines or
Parquet), with the smoothed value TensorBoard would draw at the chosen weight.

The file is written by the output stage's rules (tbreport/output.py): never over a file
tbreport did not write, never through a link, a temporary file renamed into place.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tbreport.errors import TbreportError
from tbreport.model import DataWarning, Logdir
from tbreport.names import writable
from tbreport.options import Options

#: the columns, in order
COLUMNS = ("run", "tag", "step", "wall_time", "value", "smoothed", "group")


class ExportError(TbreportError):
    """The export cannot be written as asked."""


@dataclass(frozen=True)
class ExportResult:
    points: int
    series: int
    #: the CSV text when no file was given (for stdout), else None
    data: bytes | None
    #: problems that did not stop the export (a cache folder that cannot be used)
    warnings: tuple[str, ...] = ()
    #: what reading the logdir found (a damaged or cut-short file: points left out)
    data_warnings: tuple[DataWarning, ...] = ()


def scalar_points(logdir: Logdir, options: Options) -> dict[str, Any]:
    """Column name -> values (numpy arrays for numbers, lists for names) of the runs and tags
    ``options`` select, smoothed at ``options.smoothing``; ``_series``: how many series."""
    from tbreport.kinds.scalars.transform import smooth
    from tbreport.report import select_runs, tag_selected
    from tbreport.report.groups import find_groups, group_of

    runs = select_runs(logdir.runs, options)
    group = group_of(find_groups(runs, options)) if options.group else {}
    names: list[str] = []
    tag_names: list[str] = []
    counts: list[int] = []
    steps, walls, values, smoothed = [], [], [], []
    for run in runs:
        for tag, series in run.scalars.items():
            if not tag_selected(tag, options):
                continue
            names.append(run.name)
            tag_names.append(tag)
            counts.append(len(series))
            steps.append(series.steps)
            walls.append(series.wall_times)
            values.append(series.values)
            smoothed.append(smooth(series.values, options.smoothing))

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    return {
        "run": [n for n, c in zip(names, counts, strict=True) for _ in range(c)],
        "tag": [t for t, c in zip(tag_names, counts, strict=True) for _ in range(c)],
        "step": cat(steps, np.int64),
        "wall_time": cat(walls, np.float64),
        "value": cat(values, np.float64),
        "smoothed": cat(smoothed, np.float64),
        # the --group key of each point's run (None without --group)
        "group": [group.get(n) for n, c in zip(names, counts, strict=True) for _ in range(c)],
        "_series": len(counts),
    }


def export(options: Options) -> ExportResult:
    """Read ``options.runs_dir`` and write its points to ``options.export_file`` (CSV bytes
    returned instead when it is None)."""
    from tbreport.read import read_logdir
    from tbreport.read.cache import decode_cache_for

    cache, problem = decode_cache_for(options.cache, options.no_cache)
    warnings = (problem,) if problem else ()
    logdir = read_logdir(
        options.runs_dir, restarts=options.restarts, executor=options.executor, cache=cache
    )
    cols = scalar_points(logdir, options)
    series = cols.pop("_series")
    points = len(cols["step"])
    if series == 0:
        raise ExportError(
            f"No scalar series in '{options.runs_dir}' with the run and tag filters given. "
            "Check --tags/--runs (or run `tbreport ls` to see what is there)."
        )
    target = options.export_file
    found = tuple(logdir.warnings)
    if target is None:
        return ExportResult(points, series, to_csv(cols), warnings, found)
    suffix = Path(target).suffix.lower()
    data = {".csv": to_csv, ".jsonl": to_jsonl, ".parquet": to_parquet}[suffix](cols)
    from tbreport.output import OutputFile, write_files

    path = Path(target)
    write_files(
        path.parent,
        [OutputFile(path.name, data)],
        manifest_key=f"export:{path.name}",
        force=options.force,
    )
    return ExportResult(points, series, None, warnings, found)


def _number(value: float) -> str:
    # repr round-trips a float64; NaN and infinities as pandas and numpy read them
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def _points(cols: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    """(run, tag, step, wall_time, value, smoothed, group) of every point, as Python values."""
    # a run folder's name that is not UTF-8 (os.listdir's lone surrogates) cannot be written
    # as UTF-8: U+FFFD, as the report shows it
    return zip(
        map(writable, cols["run"]),
        map(writable, cols["tag"]),
        cols["step"].tolist(),
        cols["wall_time"].tolist(),
        cols["value"].tolist(),
        cols["smoothed"].tolist(),
        (None if g is None else writable(g) for g in cols["group"]),
        strict=True,
    )


def to_csv(cols: dict[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for run, tag, step, wall, value, smoothed, group in _points(cols):
        writer.writerow(
            [run, tag, step, _number(wall), _number(value), _number(smoothed), group or ""]
        )
    return out.getvalue().encode("utf-8")


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def to_jsonl(cols: dict[str, Any]) -> bytes:
    """One JSON object per point; NaN and infinities (not JSON) become null."""
    lines = [
        json.dumps(
            {
                "run": run,
                "tag": tag,
                "step": step,
                "wall_time": _json_number(wall),
                "value": _json_number(value),
                "smoothed": _json_number(smoothed),
                "group": group,
            },
            allow_nan=False,
        )
        for run, tag, step, wall, value, smoothed, group in _points(cols)
    ]
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def to_parquet(cols: dict[str, Any]) -> bytes:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ExportError(
            "Writing Parquet needs pyarrow: pip install 'tbreport[parquet]', or export to .csv "
            "or .jsonl."
        ) from None
    table = pa.table(
        {
            "run": pa.array(map(writable, cols["run"]), pa.string()).dictionary_encode(),
            "tag": pa.array(map(writable, cols["tag"]), pa.string()).dictionary_encode(),
            "step": pa.array(cols["step"], pa.int64()),
            "wall_time": pa.array(cols["wall_time"], pa.float64()),
            "value": pa.array(cols["value"], pa.float64()),
            "smoothed": pa.array(cols["smoothed"], pa.float64()),
            "group": pa.array(
                (None if g is None else writable(g) for g in cols["group"]), pa.string()
            ),
        }
    )
    sink = io.BytesIO()
    # no creation metadata beyond pyarrow's version: the same points give the same bytes
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def to_dataframe(
    logdir: Logdir, smoothing: float = 0.6, group: str | None = None
):  # -> pandas.DataFrame
    """One row per scalar point: run, tag, step, value, wall_time, smoothed (TensorBoard's
    smoothing at weight ``smoothing``) and group (the run's key under the ``group`` regex, as
    ``--group``; None without it); runs and tags
    sorted. The same columns as ``tbreport export``. pandas is optional."""
    try:
        import pandas as pd
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ExportError(
            "to_dataframe() needs pandas, which tbreport does not install. "
            "Run: pip install 'tbreport[pandas]'"
        ) from err
    from tbreport.options import coerce

    options = Options(
        smoothing=coerce("smoothing", smoothing, "smoothing"), group=coerce("group", group, "group")
    )
    cols = scalar_points(logdir, options)
    return pd.DataFrame(
        {
            "run": pd.Categorical(cols["run"]),
            "tag": pd.Categorical(cols["tag"]),
            "step": cols["step"],
            "value": cols["value"],
            "wall_time": cols["wall_time"],
            "smoothed": cols["smoothed"],
            "group": pd.Series(cols["group"], dtype=object),
        }
    )
