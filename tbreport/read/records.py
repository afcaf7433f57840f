"""TFRecord framing and CRC32C for event files: bytes in, record offsets and checks out.

A record is ``uint64 length | uint32 masked crc32c(length) | data | uint32 masked crc32c(data)``.
Offsets are found and checksums verified for all records of a file at once with numpy: CRC32C
is linear over GF(2), so records are checked column by column against a reference record and
only the bytes that differ between records are looked up in tables.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

HEADER = 12  # uint64 length + uint32 length crc
FOOTER = 4  # uint32 data crc
MASK_DELTA = 0xA282EAD8
_POLY = 0x82F63B78  # CRC32C (Castagnoli), reflected


def _byte_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(_POLY), table >> 1).astype(np.uint32)
    return table


TABLE = _byte_table()
_TABLE_LIST = [int(x) for x in TABLE]


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """Plain CRC32C of ``data`` (for short inputs; bulk checks use :func:`check_records`)."""
    crc = 0xFFFFFFFF
    table = _TABLE_LIST
    for byte in bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + MASK_DELTA) & 0xFFFFFFFF


def masked_crc32c(data: bytes | bytearray | memoryview) -> int:
    return mask(crc32c(data))


def _mask_array(crc: np.ndarray) -> np.ndarray:
    crc = crc.astype(np.uint32, copy=False)
    return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(MASK_DELTA)


# --- linear pieces of the CRC -------------------------------------------------------------
# raw(s, m) is the CRC register after feeding m into state s, without the final xor. It is
# linear in (s, m), so crc32c(m) = lin(m) ^ crc32c(zeros(len(m))), where lin(m) = raw(0, m)
# is an xor over the bytes of m of T_k[byte], k being the byte's distance from the end.


def _apply_shift_tables(tables: tuple[np.ndarray, ...], state: np.ndarray) -> np.ndarray:
    return (
        tables[0][state & 0xFF]
        ^ tables[1][(state >> np.uint32(8)) & 0xFF]
        ^ tables[2][(state >> np.uint32(16)) & 0xFF]
        ^ tables[3][state >> np.uint32(24)]
    )


class _DistanceTables:
    """T_k[b] = raw(0, [b] + k zero bytes) for k = 0, 1, ..., kept as rows of one array.

    Grown by doubling and never by recursion, so any record length works with a cold cache.
    Row m + j is row j fed m more zero bytes, and feeding m zero bytes to a register is the
    four byte tables (T_{m-1}, T_{m-2}, T_{m-3}, T_{m-4}): a doubling is four gathers.
    Readers take the current array without the lock: a grown array replaces it whole.
    """

    def __init__(self) -> None:
        rows = [TABLE]
        for _ in range(63):
            prev = rows[-1]
            rows.append((TABLE[prev & 0xFF] ^ (prev >> np.uint32(8))).astype(np.uint32))
        self._rows = np.stack(rows)
        self._lock = threading.Lock()

    def upto(self, n: int) -> np.ndarray:
        """An array of at least ``n`` rows: row k is T_k."""
        rows = self._rows
        if rows.shape[0] >= n:
            return rows
        with self._lock:
            rows = self._rows
            while rows.shape[0] < n:
                m = rows.shape[0]
                shift = (rows[m - 1], rows[m - 2], rows[m - 3], rows[m - 4])
                rows = np.concatenate([rows, _apply_shift_tables(shift, rows)])
            self._rows = rows
        return rows


_DISTANCE = _DistanceTables()
#: chunks this close to a record's end use 16-bit tables (256 KiB each, built once per process);
#: farther ones two byte lookups, so long records never build thousands of them
_PAIR_DISTANCES = 256


def _distance_table(k: int) -> np.ndarray:
    """T_k[b] = raw(0, [b] + k zero bytes)."""
    return _DISTANCE.upto(k + 1)[k]


_LOW = np.arange(65536, dtype=np.uint32) & 0xFF
_HIGH = np.arange(65536, dtype=np.uint32) >> 8


@lru_cache(maxsize=_PAIR_DISTANCES)
def _pair_table(k: int) -> np.ndarray:
    """Table for a little-endian 16-bit chunk whose high byte lies k bytes before the end."""
    rows = _DISTANCE.upto(k + 2)
    return rows[k + 1][_LOW] ^ rows[k][_HIGH]


@lru_cache(maxsize=4096)
def _zeros_crc(length: int) -> int:
    return crc32c(bytes(length))


@lru_cache(maxsize=64)
def _shift_tables(nbytes: int) -> tuple[np.ndarray, ...]:
    """Tables applying ``nbytes`` zero bytes to a register: raw(s, zeros) per state byte."""
    out = []
    for shift in (0, 8, 16, 24):
        states = (np.arange(256, dtype=np.uint32) << np.uint32(shift)).astype(np.uint32)
        for _ in range(nbytes):
            states = TABLE[states & 0xFF] ^ (states >> np.uint32(8))
        out.append(states.astype(np.uint32))
    return tuple(out)


def _lin_bytes(data: bytes) -> int:
    return crc32c(data) ^ _zeros_crc(len(data))


_BLOCK = 64


def _lin_any_length(buf: np.ndarray, pos: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """lin() of records of any lengths: 64-byte blocks in parallel, combined by Horner's rule.

    Each record is cut into blocks aligned to its end; the first block is left-padded with
    zeros, which does not change lin(). Blocks are checked all at once with distance tables,
    then folded per record from the first block to the last, shifting by 64 bytes each time.
    """
    count = pos.shape[0]
    if count == 0:
        return np.zeros(0, dtype=np.uint32)
    nblocks = (lengths + _BLOCK - 1) // _BLOCK
    total = int(nblocks.sum())
    # block b of record r (counted from the record's end) covers [end - (b+1)*64, end - b*64)
    rec = np.repeat(np.arange(count), nblocks)
    first_block = np.cumsum(nblocks) - nblocks
    from_end = np.arange(total) - np.repeat(first_block, nblocks)
    ends = (pos + lengths)[rec]
    block_start = ends - (from_end + 1) * _BLOCK
    starts_of_rec = pos[rec]
    # gather the (total, 64) block matrix, zero before the record start
    col = np.arange(_BLOCK)
    lin = np.zeros(total, dtype=np.uint32)
    flat = _flat_distance_tables()
    step = max(1, (1 << 22) // _BLOCK)
    for lo in range(0, total, step):
        hi = min(total, lo + step)
        idx = block_start[lo:hi, None] + col[None, :]
        valid = idx >= starts_of_rec[lo:hi, None]
        data = np.where(valid, buf[np.maximum(idx, 0)], 0).astype(np.intp)
        table_idx = data + ((_BLOCK - 1 - col) * 256)[None, :]
        lin[lo:hi] = np.bitwise_xor.reduce(flat[table_idx], axis=1)
    # Horner over blocks, first (highest from_end) to last; records aligned at their last block
    out = np.zeros(count, dtype=np.uint32)
    shift = _shift_tables(_BLOCK)
    max_blocks = int(nblocks.max())
    order = np.argsort(-nblocks, kind="stable")  # records with most blocks first
    sorted_blocks = nblocks[order]
    state = np.zeros(count, dtype=np.uint32)
    for b in range(max_blocks - 1, -1, -1):
        active = int(np.searchsorted(-sorted_blocks, -(b + 1), side="right"))
        recs = order[:active]
        state[:active] = _apply_shift_tables(shift, state[:active]) ^ lin[first_block[recs] + b]
    out[order] = state
    return out


def _flat_distance_tables() -> np.ndarray:
    return _DISTANCE.upto(_BLOCK)[:_BLOCK].reshape(-1)


def crc_many(buf: np.ndarray, pos: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Unmasked CRC32C of ``buf[pos[i] : pos[i] + lengths[i]]`` for every i (any lengths)."""
    pos = np.asarray(pos, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    if pos.shape[0] == 0:
        return np.zeros(0, dtype=np.uint32)
    lin = _lin_any_length(buf, pos, lengths)
    uniq, inverse = np.unique(lengths, return_inverse=True)
    zeros = np.array([_zeros_crc(int(n)) for n in uniq.tolist()], dtype=np.uint32)
    return lin ^ zeros[inverse]


# --- framing ------------------------------------------------------------------------------

#: zero bytes after the file's content, so fixed-width windows never run past the buffer
PAD = 64
#: records handled together at most (bounds working memory per file)
_SLICE = 1 << 17
_SLICE_BYTES = 1 << 26
#: groups smaller than this are checked with the any-length method
_MIN_GROUP = 16
#: records longer than this too: their distance tables would cost 1 KiB per byte of length,
#: and long records (images, audio) differ in most bytes, where the grouped method gains little
_MAX_GROUP_LENGTH = 1 << 14


def load(path: str) -> np.ndarray:
    """The file's bytes as uint8, followed by PAD zero bytes (not part of the view)."""
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(0)
        store = np.zeros(size + PAD, dtype=np.uint8)
        view = store.data[:size]
        got = fh.readinto(view)
        while got < size:  # short reads happen on some filesystems
            more = fh.readinto(view[got:])
            if not more:
                break
            got += more
    return store[:got]


def _padded(buf: np.ndarray) -> np.ndarray:
    """buf plus the PAD bytes behind it when it came from :func:`load`, else a padded copy."""
    base = buf.base if buf.base is not None else None
    if (
        isinstance(base, np.ndarray)
        and base.dtype == np.uint8
        and base.ndim == 1
        and buf.ctypes.data == base.ctypes.data
        and base.shape[0] >= buf.shape[0] + PAD
    ):
        return base[: buf.shape[0] + PAD]
    out = np.zeros(buf.shape[0] + PAD, dtype=np.uint8)
    out[: buf.shape[0]] = buf
    return out


def field(words: np.ndarray, offset: int, nbytes: int) -> np.ndarray:
    """``nbytes`` (1..8) little-endian bytes at record ``offset`` from transposed words."""
    q, r = divmod(offset, 8)
    value = words[q]
    if r:
        value = (value >> np.uint64(8 * r)) | (words[q + 1] << np.uint64(64 - 8 * r))
    if nbytes < 8:
        value = value & np.uint64((1 << (8 * nbytes)) - 1)
    return value


@dataclass(frozen=True)
class Group:
    """Records of one data length, with their bytes as transposed little-endian words.

    ``words[j][i]`` holds bytes ``8*j .. 8*j+7`` of record ``members[i]``, counted from the
    record header; the data starts at byte 12.
    """

    length: int
    members: np.ndarray
    words: np.ndarray


@dataclass(frozen=True)
class Framing:
    """Where the records of one file are, and how the file ended."""

    #: byte offset of each record's header, in file order (records read, not skipped ones)
    starts: np.ndarray
    #: data length of each record
    lengths: np.ndarray
    #: "ok"; "truncated" (a final record cut short: a writer still running); "corrupt" (a
    #: length checksum mismatch); "bad-length" (a length with a valid checksum that runs past
    #: the end although whole records follow it, or no Event could have)
    status: str
    #: byte offset where reading stopped early, else None
    stop_offset: int | None = None
    #: what was wrong at stop_offset
    reason: str = ""
    #: byte offsets of records skipped for a data checksum mismatch (their framing held)
    skipped: tuple[int, ...] = ()


#: protobuf refuses messages of 2 GiB or more, so no writer frames a longer Event
_MAX_EVENT = (1 << 31) - 1


def _whole_record_after(
    padded: np.ndarray, words: np.ndarray, after: int, cand: np.ndarray, lens: np.ndarray
) -> int | None:
    """Offset of the first candidate past ``after`` whose length and data checksums both hold.

    Checked in growing batches: in a damaged file the next record is usually the next candidate.
    """
    i = int(np.searchsorted(cand, after, side="right"))
    batch = 256
    while i < cand.shape[0]:
        at, n = cand[i : i + batch], lens[i : i + batch]
        stored = (words[at + 8] & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        ok = _mask_array(crc_many(padded, at, np.full(at.shape[0], 8))) == stored
        at, n = at[ok], n[ok]
        if at.shape[0]:
            stored = (words[at + HEADER + n] & np.uint64(0xFFFFFFFF)).astype(np.uint32)
            hits = np.flatnonzero(_mask_array(crc_many(padded, at + HEADER, n)) == stored)
            if hits.shape[0]:
                return int(at[hits[0]])
        i += batch
        batch = min(batch * 4, 1 << 16)
    return None


def _past_the_end(
    padded: np.ndarray,
    words: np.ndarray,
    pos: int,
    length: int,
    cand: np.ndarray,
    lens: np.ndarray,
) -> tuple[str, str]:
    """Status and reason for a record whose length, checksum intact, runs past the file's end.

    A writer still running leaves one partial record at the end, so the bytes after ``pos``
    are the start of that one record. They cannot be when the length is more than any Event
    can have, or when a whole record (length and data checksums holding) starts among them:
    then the length is bad and the data after it are further records.
    """
    if length > _MAX_EVENT:
        return "bad-length", (
            f"a length of {length} bytes (with a valid checksum), more than any event can have"
        )
    found = _whole_record_after(padded, words, pos, cand, lens)
    if found is not None:
        return "bad-length", (
            f"a length of {length} bytes (with a valid checksum) past the end of the file, "
            f"while a complete record starts at byte offset {found}"
        )
    return "truncated", "record data cut short"


def _walk(buf: np.ndarray) -> Framing:
    """Follow the chain of record headers from offset 0.

    Candidates are offsets whose data would start with 0x09 (an Event's wall_time field, as
    every writer puts first) and whose length fits in the file. Where a candidate's successor
    is the next candidate, whole stretches are accepted at once; anywhere else the header is
    read directly, so the chain is always exactly what sequential reading would find.
    """
    size = buf.shape[0]
    padded = _padded(buf)
    words = np.ndarray((size,), dtype="<u8", buffer=padded, offset=0, strides=(1,))
    if size >= HEADER + 1:
        # scanned in slices: a whole-file boolean mask would cost as much memory as the file
        step = 1 << 23
        cand = np.concatenate(
            [np.flatnonzero(buf[HEADER + lo : HEADER + lo + step] == 0x09) + lo
             for lo in range(0, size - HEADER, step)]
        )  # fmt: skip
        lens = words[cand].astype(np.int64)
        # a length that does not fit (or is >= 2**63 and went negative) is no candidate
        ok = (lens >= 0) & (lens <= size - cand - HEADER - FOOTER)
        cand, lens = cand[ok], lens[ok]
    else:
        cand = np.zeros(0, np.int64)
        lens = np.zeros(0, np.int64)
    nxt = cand + (HEADER + FOOTER) + lens
    follows = np.zeros(cand.shape[0], dtype=bool)
    if cand.shape[0] > 1:
        follows[:-1] = nxt[:-1] == cand[1:]
    breaks = np.flatnonzero(~follows)

    pieces_starts: list[np.ndarray] = []
    pieces_lens: list[np.ndarray] = []
    single_starts: list[int] = []
    single_lens: list[int] = []

    def flush_singles() -> None:
        if single_starts:
            pieces_starts.append(np.array(single_starts, dtype=np.int64))
            pieces_lens.append(np.array(single_lens, dtype=np.int64))
            single_starts.clear()
            single_lens.clear()

    pos = 0
    status, stop, reason = "ok", None, ""
    while pos < size:
        i = int(np.searchsorted(cand, pos))
        if i < cand.shape[0] and cand[i] == pos:
            # a stretch of candidates each followed by the next, up to the first break
            b = int(breaks[np.searchsorted(breaks, i)])
            flush_singles()
            pieces_starts.append(cand[i : b + 1])
            pieces_lens.append(lens[i : b + 1])
            pos = int(nxt[b])
            continue
        if size - pos < HEADER:
            status, stop, reason = "truncated", pos, "record header cut short"
            break
        length = int(words[pos])
        if length > size - pos - HEADER - FOOTER:
            stored = int.from_bytes(bytes(buf[pos + 8 : pos + 12]), "little")
            stop = pos
            if stored != masked_crc32c(bytes(buf[pos : pos + 8])):
                status, reason = "corrupt", "length checksum mismatch"
            else:
                status, reason = _past_the_end(padded, words, pos, length, cand, lens)
            break
        single_starts.append(pos)
        single_lens.append(length)
        pos += HEADER + FOOTER + length
    flush_singles()
    if pieces_starts:
        starts = np.concatenate(pieces_starts)
        lengths = np.concatenate(pieces_lens)
    else:
        starts = np.zeros(0, np.int64)
        lengths = np.zeros(0, np.int64)
    return Framing(starts, lengths, status, stop, reason)


def _group_members(lengths: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Indices of records per distinct length, each in file order."""
    if lengths.shape[0] == 0:
        return []
    first = int(lengths[0])
    if bool((lengths == first).all()):
        order = np.arange(lengths.shape[0])
        uniq = np.array([first])
        counts = np.array([lengths.shape[0]])
    elif int(lengths.max()) < 65536:
        # radix sort on 16-bit keys: linear, and stable so each group stays in file order
        key = lengths.astype(np.uint16)
        order = np.argsort(key, kind="stable")
        per_length = np.bincount(key)
        uniq = np.flatnonzero(per_length)
        counts = per_length[uniq]
    else:
        uniq, inverse, counts = np.unique(lengths, return_inverse=True, return_counts=True)
        order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
    # large groups are handled in slices: the working memory of a slice is bounded, and every
    # step (reference record, template) works on any subset of a group
    out = []
    for g, n in enumerate(uniq.tolist()):
        # at most _SLICE records and about _SLICE_BYTES of record bytes (images are large)
        step = max(1, min(_SLICE, _SLICE_BYTES // (n + HEADER + FOOTER)))
        for lo in range(bounds[g], bounds[g + 1], step):
            out.append((int(n), order[lo : min(lo + step, bounds[g + 1])]))
    return out


def _rows(padded: np.ndarray, pos: np.ndarray, width: int) -> np.ndarray:
    """Transposed little-endian words of ``width`` bytes (a multiple of 8) at each pos."""
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    rows = windows[pos]
    return np.ascontiguousarray(rows.view("<u8").T)


def _lin_group(words: np.ndarray, length: int, ref_data: bytes) -> np.ndarray:
    """lin() of the data of every record of a group, against the first one as reference.

    Only the 16-bit chunks that differ in some record are looked up; bytes the same
    everywhere (tag names, field keys) cost one comparison per word.
    """
    count = words.shape[1]
    acc = np.full(count, _lin_bytes(ref_data), dtype=np.uint32)
    end = HEADER + length
    rows = _DISTANCE.upto(length + 1)
    for j in range(HEADER // 8, (end + 7) // 8):
        column = words[j]
        diff = column ^ column[0]
        seen = int(np.bitwise_or.reduce(diff))
        if not seen:
            continue
        for chunk in range(4):
            lo = 8 * j + 2 * chunk  # record offset of the chunk's low byte
            if lo < HEADER or lo >= end or not (seen >> (16 * chunk)) & 0xFFFF:
                continue
            part = ((diff >> np.uint64(16 * chunk)) & np.uint64(0xFFFF)).astype(np.intp)
            if lo + 1 >= end:  # odd length: the chunk's high byte is the crc footer, not data
                acc ^= rows[0][part & 0xFF]
                continue
            k = end - 1 - (lo + 1)  # distance of the high byte from the end
            if k < _PAIR_DISTANCES:
                acc ^= _pair_table(k)[part]
            else:
                acc ^= rows[k + 1][part & 0xFF] ^ rows[k][part >> 8]
    return acc


def walk(buf: np.ndarray) -> Framing:
    """Record header offsets and data lengths of a file in ``buf``, and how the chain ended,
    before any checksum is checked (:func:`cut` applies those)."""
    return _walk(buf)


def check_groups(
    buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, verify: bool = True
) -> Iterator[tuple[Group, np.ndarray, np.ndarray]]:
    """Each group of same-length records with its words, and which members fail the length
    checksum and which the data checksum (all False unless ``verify``).

    Groups are made one at a time so only one group's words are in memory at once.
    """
    padded = _padded(buf)
    for length, members in _group_members(lengths):
        width = ((HEADER + length + FOOTER + 7) // 8) * 8 + 8
        pos = starts[members]
        words = _rows(padded, pos, width)
        stored_len_crc = field(words, 8, 4)
        bad_length = stored_len_crc != np.uint64(masked_crc32c(length.to_bytes(8, "little")))
        bad_data = np.zeros(members.shape[0], dtype=bool)
        if verify:
            stored = field(words, HEADER + length, 4).astype(np.uint32)
            if 2 <= length <= _MAX_GROUP_LENGTH and members.shape[0] >= _MIN_GROUP:
                ref = int(pos[0]) + HEADER
                lin = _lin_group(words, length, bytes(buf[ref : ref + length]))
            else:
                lin = _lin_any_length(padded, pos + HEADER, np.full(pos.shape[0], length))
            crc = _mask_array(lin ^ np.uint32(_zeros_crc(length)))
            bad_data = crc != stored
        group = Group(length, members, words)
        del words  # only the caller's reference keeps this group's bytes alive
        yield group, bad_length, bad_data
        del group, bad_length, bad_data


@dataclass
class Damage:
    """Records failing a checksum, gathered from the groups (which come in any order)."""

    #: the first record, in file order, whose length checksum fails: the framing ends there
    stop: int | None = None
    #: per group, the records whose data checksum fails while their length checksum holds
    bad_data: list[np.ndarray] = dataclasses.field(default_factory=list)

    def add(self, group: Group, bad_length: np.ndarray, bad_data: np.ndarray) -> None:
        if bad_length.any():
            first = int(group.members[int(np.argmax(bad_length))])
            self.stop = first if self.stop is None else min(first, self.stop)
        bad_data = bad_data & ~bad_length
        if bad_data.any():
            self.bad_data.append(group.members[bad_data])

    def kept(self, count: int) -> np.ndarray:
        """Which of the ``count`` records are read: those before the stop, not skipped."""
        keep = np.ones(count, dtype=bool)
        for members in self.bad_data:
            keep[members] = False
        if self.stop is not None:
            keep[self.stop :] = False
        return keep

    def skipped(self) -> np.ndarray:
        """Records skipped for a data checksum mismatch (before the stop), in file order."""
        if not self.bad_data:
            return np.zeros(0, dtype=np.int64)
        recs = np.sort(np.concatenate(self.bad_data))
        return recs if self.stop is None else recs[recs < self.stop]


def cut(walked: Framing, damage: Damage) -> Framing:
    """The framing without the records ``damage`` rules out.

    A data checksum mismatch loses that record only: its length checksum holds, so the next
    record is where it says. A length checksum mismatch ends the file: nothing after it can be
    found reliably.
    """
    starts, lengths = walked.starts, walked.lengths
    status, stop, reason = walked.status, walked.stop_offset, walked.reason
    keep = damage.kept(starts.shape[0])
    if damage.stop is not None:
        status, stop, reason = "corrupt", int(starts[damage.stop]), "length checksum mismatch"
    skipped = tuple(starts[damage.skipped()].tolist())
    return Framing(starts[keep], lengths[keep], status, stop, reason, skipped)


def frame(buf: np.ndarray, verify: bool = True) -> Framing:
    """Find every record of an event file held in ``buf`` (uint8), checking CRCs if asked.

    Records whose data checksum is wrong are skipped; reading stops at the first record whose
    length checksum is wrong, or at a length running past the end (see :class:`Framing`).
    """
    walked = _walk(buf)
    damage = Damage()
    for group, bad_length, bad_data in check_groups(buf, walked.starts, walked.lengths, verify):
        damage.add(group, bad_length, bad_data)
    return cut(walked, damage)
