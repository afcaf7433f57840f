"""Shared by the images and audio kinds: which steps of a tag the report shows, read from disk
only for those steps, laid out as a row of cells per run; and, for every kind that reads a
tensor (text, PR curves too), the check of its shape before it is read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from tbreport.model import WARNING, DataWarning, Run, TagRecords
from tbreport.read.events import load_values
from tbreport.read.restarts import apply_restarts

T = TypeVar("T")


@dataclass(frozen=True)
class Cell(Generic[T]):
    """What one run logged for a tag at one step: the items shown, and how many were not."""

    step: int
    items: tuple[T, ...]
    #: items of this step not shown (each has a data warning saying why)
    refused: int = 0


@dataclass(frozen=True)
class Row(Generic[T]):
    """One run's cells for a tag, by step."""

    run: str
    color: str
    cells: tuple[Cell[T], ...]
    #: steps the run logged for the tag (the cells show some of them)
    steps: int


def standing(records: TagRecords, restarts: str) -> np.ndarray:
    """Positions of the records that stand for their steps, in step order: TensorBoard's
    restart rule with ``replace``, else the last record of each step (a cell per step)."""
    steps = records.steps
    if restarts == "replace":
        return np.flatnonzero(apply_restarts(steps))
    _, first_from_end = np.unique(steps[::-1], return_index=True)
    return len(steps) - 1 - first_from_end


def pick(count: int, between: int) -> np.ndarray:
    """Indices into ``count`` steps: the first, the last and up to ``between`` evenly spaced
    between them."""
    if count <= between + 2:
        return np.arange(count)
    return np.unique(np.round(np.linspace(0, count - 1, between + 2)).astype(np.int64))


@dataclass(frozen=True)
class Record:
    """A record the report shows: where it is, and its decoded summary value."""

    path: str
    offset: int
    step: int
    value: Any  # a Summary.Value proto


def shown_records(run: Run, records: TagRecords, restarts: str, between: int) -> list[Record]:
    """The records of the steps shown, read from their files (nothing else is read)."""
    chosen = standing(records, restarts)
    chosen = chosen[pick(len(chosen), between)]
    by_file: dict[int, list[int]] = {}
    for pos in chosen.tolist():
        by_file.setdefault(int(records.files[pos]), []).append(pos)
    found: dict[int, Record] = {}
    for file_no, positions in by_file.items():
        path = run.files[file_no]
        offsets = records.offsets[positions]
        loaded = load_values(path, offsets.tolist(), records.values[positions].tolist())
        for pos, offset, (step, _wall, value) in zip(positions, offsets, loaded, strict=True):
            found[pos] = Record(path, int(offset), int(step), value)
    return [found[pos] for pos in chosen.tolist()]


class Refused(ValueError):
    """An item (an image, a clip) that is not shown; the message says why."""


#: cells a tensor may declare beyond what its bytes can hold (see tensor_shape)
MAX_CELLS = 10_000


def tensor_shape(tensor: Any, what: str) -> list[int]:
    """The dimensions of ``tensor`` (a TensorProto) before TensorBoard's ``make_ndarray`` reads
    it. That repeats a lone value (and pads a list of strings with its last one) to fill the
    shape, so a record of a few bytes could declare a billion cells: Refused when the shape
    declares more than MAX_CELLS cells and more than the tensor's bytes can hold (every
    encoding takes at least a byte a value), or has a negative dimension."""
    dims = [int(d.size) for d in tensor.tensor_shape.dim]
    if any(d < 0 for d in dims):
        raise Refused(f"the {what} tensor's shape {dims} has a negative dimension")
    cells, size = math.prod(dims), tensor.ByteSize()
    if cells > MAX_CELLS and cells > size:
        raise Refused(
            f"the {what} tensor's shape {dims} declares {cells:,} cells in {size:,} bytes "
            f"(TensorBoard would repeat its values to fill them; past {MAX_CELLS:,} cells "
            "that is refused)"
        )
    return dims


def media_rows(
    runs: tuple[Run, ...],
    tag: str,
    plugin: str,
    colors: Mapping[str, str],
    restarts: str,
    between: int,
    items: Callable[[Record, str], Sequence[T | Refused]],
    warnings: list[DataWarning],
    what: str,
) -> list[Row[T]]:
    """A row per run holding ``tag`` of ``plugin``. ``items(record, name_stem)`` gives the
    record's items, a Refused for each one it cannot show (or raises Refused when the record
    as a whole is unusable): those are counted in their cell and get a ``<what>-not-shown``
    data warning naming the run, tag, step, file and offset."""
    rows = []
    for run_no, run in enumerate(runs):
        records = run.tensors.get(tag)
        if records is None or records.plugin != plugin:
            continue
        cells = []
        for record in shown_records(run, records, restarts, between):
            try:
                made = items(record, f"r{run_no}-s{record.step}")
            except Refused as whole:
                made = [whole]
            shown = [item for item in made if not isinstance(item, Refused)]
            for why in (item for item in made if isinstance(item, Refused)):
                warnings.append(
                    DataWarning(
                        f"{what}-not-shown",
                        f"Run '{run.name}', tag '{tag}', step {record.step}: {why} (record at "
                        f"byte {record.offset} of '{record.path}'); it is left out of the report.",
                        path=record.path,
                        offset=record.offset,
                        run=run.name,
                        tag=tag,
                        severity=WARNING,
                    )
                )
            cells.append(Cell(record.step, tuple(shown), len(made) - len(shown)))
        rows.append(Row(run.name, colors[run.name], tuple(cells), len(standing(records, restarts))))
    return rows
