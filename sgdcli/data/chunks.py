"""Chunked datasets read chunk by chunk: unfiltered chunks located for memory
mapping, compressed chunks decoded on all cores.

Unfiltered chunks hold the raw array bytes, so a run of chunks stored one
after another in the file is a plain 2-D array at a file offset, exactly like
a contiguous dataset: ``chunk_offsets`` finds where each row chunk lies and
source.py maps such runs instead of copying them through h5py.

h5py decodes a dataset's chunks one after another in the calling thread, far
slower than training on them (`make bench`'s gzip row).  For datasets whose filters are only deflate
(gzip) and byte shuffle, this reader fetches each chunk's stored bytes
(``read_direct_chunk``, no decoding) and inflates them on a thread pool;
inflation releases the GIL, so chunks decode in parallel.  It inflates with
ISA-L (the ``isal`` package, faster than zlib; `make bench`'s gzip row) where installed,
else with the standard zlib.  Any other filter, or a chunk that is not
allocated, is handled faithfully: other filters are not accepted here (h5py
reads those datasets), unallocated chunks read as the fill value.
"""

from __future__ import annotations

import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from sgdcli.data.numeric import cast_into
from sgdcli.data.where import where_of
from sgdcli.errors import InputError, first_line
from sgdcli.kernels.runtime import available_cores

try:
    from isal.isal_zlib import decompress as _inflate
    from isal.isal_zlib import error as _InflateError
    INFLATER = "isal"
except ImportError:  # pragma: no cover - isal is a dependency; a platform without its wheel falls back
    _inflate = zlib.decompress
    _InflateError = zlib.error
    INFLATER = "zlib"

DEFLATE, SHUFFLE = 1, 2  # HDF5 filter identifiers


class ChunkError(Exception):
    """A chunk that cannot be fetched or decoded; ``start``/``stop`` are its rows."""

    def __init__(self, start: int, stop: int, reason: str):
        super().__init__(reason)
        self.start, self.stop, self.reason = start, stop, reason


# The table holds an offset per chunk, and without chunk_iter locating a chunk is
# one HDF5 query per chunk: beyond this many chunks it is not built (HDF5 reads
# serve the dataset instead).
MAX_LOCATED_CHUNKS = 1 << 17
CHECKED_BYTES = 1 << 20  # first rows of chunks read through HDF5 at a time, to check the index (``misplaced``)
# The most chunks one read through HDF5 touches: HDF5 holds a few KiB of bookkeeping for each, so a read of
# every chunk's first row at once took memory in proportion to the chunk count (8-row chunks: about 850 MiB
# for 125,000), and a block of 65,536 rows of 8-row chunks about 54 MiB, outside --memory
CHUNKS_PER_READ = 1 << 10
# A read through HDF5 of a union of spans (an irregular selection) costs more a span the more spans it holds,
# and a union of rows of a chunked matrix (2-D or more) costs far more a row than a read of one span does:
# ``reads`` cuts a union into reads of at most this many spans, and a chunked matrix's at every chunk not shared
# with the span before (a compressed chunk is decoded once a read, the file having no chunk cache, data/hdf5.py)
SPANS_PER_READ = 128
# ... once the read holds this many rows: a read of fewer costs more on its own than its rows do in a union
ROWS_PER_READ = 16
# Where ``chunk_offsets`` puts a chunk its index lists at an offset no int64 holds (a damaged index): past the end
# of any file, so that no map is built and HDF5's reads report the chunk, as for a truncated file.
PAST_ANY_FILE = 1 << 62


def _has_chunk_queries(ds) -> bool:
    """HDF5 1.10.5 or newer: chunks can be located and read raw."""
    return hasattr(ds.id, "get_chunk_info_by_coord") and hasattr(ds.id, "read_direct_chunk")


def mappable_chunks(ds) -> bool:
    """True if ``ds`` is chunked, unfiltered, native numeric, whole rows per chunk, in a plain file."""
    if ds.chunks is None or not _has_chunk_queries(ds) or ds.ndim not in (1, 2) or ds.dtype.kind not in "iuf" or not ds.dtype.isnative:
        return False
    if ds.ndim == 2 and ds.chunks[1] != ds.shape[1]:
        return False
    if ds.id.get_create_plist().get_nfilters() or ds.file.driver != "sec2":
        return False
    return 0 < -(-ds.shape[0] // ds.chunks[0]) <= MAX_LOCATED_CHUNKS


def chunk_offsets(ds) -> np.ndarray:
    """File offset of every row chunk of unfiltered ``ds`` (in row order), -1 where a chunk is not allocated; an
    InputError where one is stored in fewer bytes than its values take (``_check_size``).

    One walk of the chunk index (HDF5 1.14's ``chunk_iter``) where h5py has it: a query per chunk costs time in
    proportion to the number of chunks in some HDF5 versions, so a logger's file of one-row chunks took minutes
    to open that way."""
    rows = ds.chunks[0]
    out = np.full(-(-ds.shape[0] // rows), -1, dtype=np.int64)
    sizes = np.zeros(len(out), dtype=np.int64)
    if hasattr(ds.id, "chunk_iter"):
        def note(info):
            if info.byte_offset is not None and info.size > 0 and info.chunk_offset[0] < ds.shape[0]:
                out[info.chunk_offset[0] // rows] = min(info.byte_offset, PAST_ANY_FILE)
                sizes[info.chunk_offset[0] // rows] = info.size
        ds.id.chunk_iter(note)
    else:
        tail = (0,) * (ds.ndim - 1)
        for k in range(len(out)):
            info = ds.id.get_chunk_info_by_coord((k * rows, *tail))
            if info.byte_offset is not None and info.size > 0:
                out[k], sizes[k] = min(info.byte_offset, PAST_ANY_FILE), info.size
    _check_size(ds, sizes, np.arange(len(sizes), dtype=np.int64) * rows)
    return out


def check_stored(ds) -> None:
    """``_check_size`` for an unfiltered chunked dataset that HDF5 reads (another byte order or chunk shape than
    ``mappable_chunks`` takes), where one walk of its index (``chunk_iter``) lists at most MAX_LOCATED_CHUNKS."""
    if ds.chunks is None or ds.id.get_create_plist().get_nfilters() or not hasattr(ds.id, "chunk_iter"):
        return
    if np.prod([-(-n // c) for n, c in zip(ds.shape, ds.chunks)], dtype=np.float64) > MAX_LOCATED_CHUNKS:
        return  # (the most chunks there can be; a walk of more costs what opening such a file must not)
    sizes, starts = [], []

    def note(info):
        sizes.append(info.size)
        starts.append(info.chunk_offset[0] if ds.ndim else 0)

    ds.id.chunk_iter(note)
    _check_size(ds, np.array(sizes, dtype=np.int64), np.array(starts, dtype=np.int64))


def _check_size(ds, sizes: np.ndarray, starts: np.ndarray) -> None:
    """An unfiltered chunk is stored in the bytes of all its values, an edge chunk's too; one the index lists
    as shorter (a chunk written short with write_direct_chunk, a damaged index) would be read past its end: HDF5
    reads zeros there and a memory map the next bytes of the file, rows no writer wrote.  ``starts``: each
    chunk's first row."""
    whole = int(np.prod(ds.chunks, dtype=np.int64)) * ds.dtype.itemsize
    wrong = np.flatnonzero((sizes > 0) & (sizes < whole))
    if len(wrong):
        k, rows = int(wrong[0]), ds.chunks[0]
        first = int(starts[k])
        last = min(first + rows, ds.shape[0]) - 1
        raise InputError(f"{where_of(ds)}: the chunk of rows {first:,}–{last:,} is stored in {int(sizes[k]):,} "
                         f"bytes, fewer than the {whole:,} its values take; the file is damaged (or the chunk was "
                         "written short, with write_direct_chunk)")


def misplaced(ds, offsets: np.ndarray, mapped: np.ndarray) -> int | None:
    """The first row chunk of ``ds`` whose first row, as HDF5 reads it, is not the bytes at the offset its chunk
    index lists (``offsets``, ``chunk_offsets``'; ``mapped``: the file's bytes); None where every listed chunk's is.

    HDF5 lists chunks by walking its chunk index, and reads one by searching the index for its coordinates.  A
    damaged key (one flipped byte, found by tests/test_hostile.py) left a chunk that the walk lists and the search
    misses: HDF5 read its rows as the fill value, and a memory map read the bytes stored there, so sgdcli and HDF5
    trained on different rows.  Strided selections read the first row of every chunk, CHECKED_BYTES and at most
    CHUNKS_PER_READ chunks at a time;
    the file is opened without a chunk cache (data/hdf5.py), so HDF5 reads those rows alone."""
    rows, n = ds.chunks[0], ds.shape[0]
    row_bytes = int(np.prod(ds.shape[1:], dtype=np.int64)) * ds.dtype.itemsize
    per = max(1, min(CHUNKS_PER_READ, CHECKED_BYTES // max(row_bytes, 1)))
    for k0 in range(0, len(offsets), per):
        k1 = min(k0 + per, len(offsets))
        read = ds[(slice(k0 * rows, min(k1 * rows, n), rows), *(slice(0, c) for c in ds.shape[1:]))]
        read = np.ascontiguousarray(read, dtype=ds.dtype).reshape(k1 - k0, -1).view(np.uint8)
        at = offsets[k0:k1]
        listed = np.flatnonzero(at >= 0)
        wrong = np.any(mapped[at[listed, None] + np.arange(row_bytes)] != read[listed], axis=1)
        if wrong.any():
            return k0 + int(listed[np.argmax(wrong)])
    return None


def capped(ds, spans: list[tuple[int, int]], axis: int = 0):
    """The sorted, disjoint ``spans`` of ``ds`` along ``axis`` in groups that each touch at most CHUNKS_PER_READ
    chunks along it, a span that touches more cut at chunk boundaries: a read per group, whatever the chunks'
    size (one group for a contiguous dataset)."""
    if ds.chunks is None:
        yield spans
        return
    rows, group, touched = ds.chunks[axis], [], 0
    for a, b in spans:
        while a < b:
            if touched == CHUNKS_PER_READ:
                yield group
                group, touched = [], 0
            end = min(b, (a // rows + CHUNKS_PER_READ - touched) * rows)
            group.append((a, end))
            touched += (end - 1) // rows - a // rows + 1
            a = end
    if group:
        yield group


def reads(ds, spans: list[tuple[int, int]], axis: int = 0):
    """The sorted, disjoint ``spans`` of ``ds`` along ``axis``, adjacent ones joined and empty ones dropped, in
    the groups read one HDF5 read each (SPANS_PER_READ, ROWS_PER_READ; ``capped``): a group's rows are its
    spans' laid end to end, and every row of ``spans`` is in one group, in order."""
    joined: list[tuple[int, int]] = []
    for a, b in spans:
        if b <= a:
            continue
        if joined and joined[-1][1] == a:
            joined[-1] = (joined[-1][0], b)
        else:
            joined.append((a, b))
    rows = int(ds.chunks[axis]) if ds.chunks is not None and len(ds.shape) > 1 else None

    def starts_a_read(a: int) -> bool:
        if rows is None:
            return len(group) == SPANS_PER_READ
        shares = a // rows == (group[-1][1] - 1) // rows  # with the span before
        return not shares and (count >= ROWS_PER_READ or len(group) >= SPANS_PER_READ)

    group, count = [], 0
    for a, b in joined:
        if group and starts_a_read(a):
            yield from capped(ds, group, axis)
            group, count = [], 0
        group.append((a, b))
        count += b - a
    if group:
        yield from capped(ds, group, axis)


def parallel_decodable(ds) -> bool:
    """True if every filter of chunked dataset ``ds`` is deflate or shuffle, and deflate is one."""
    if ds.chunks is None or not _has_chunk_queries(ds) or ds.ndim not in (1, 2) or ds.dtype.kind not in "iuf":
        return False
    plist = ds.id.get_create_plist()
    codes = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    return DEFLATE in codes and set(codes) <= {DEFLATE, SHUFFLE} and len(codes) == len(set(codes))


# Each decoding thread holds about three chunks (stored, inflated, unshuffled)
# outside the --memory budget, so the pool stays small on many-core machines.
MAX_WORKERS = 8


def default_workers() -> int:
    return max(1, min(available_cores(), MAX_WORKERS))


class ChunkDecoder:
    """Reads row ranges of a deflate/shuffle-filtered chunked dataset, decoding chunks in parallel."""

    def __init__(self, ds, workers: int | None = None):
        self.ds = ds
        self.dtype = ds.dtype
        self.chunks = tuple(int(c) for c in ds.chunks)
        self.shape = tuple(int(s) for s in ds.shape)
        plist = ds.id.get_create_plist()
        self.filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]  # order applied on write
        self.chunk_bytes = int(np.prod(self.chunks)) * self.dtype.itemsize
        self.fill = ds.fillvalue
        self._written = _written_chunks(ds, self.chunks)
        self._pool = ThreadPoolExecutor(max_workers=workers or default_workers(), thread_name_prefix="sgdcli-inflate")

    def read(self, start: int, stop: int, dest: np.ndarray) -> None:
        """Decode rows [start, stop) into ``dest`` (rows × the dataset's other axes), converting dtype."""
        self.read_many([(start, stop, dest)])

    def read_many(self, jobs: list[tuple[int, int, np.ndarray]]) -> None:
        """``read(start, stop, dest)`` for every (start, stop, dest) of ``jobs``, all their chunks decoded in parallel."""
        rows = self.chunks[0]
        cols = self.chunks[1] if len(self.chunks) == 2 else None
        width = self.shape[1] if cols else 1
        pending = []
        for start, stop, dest in jobs:
            for r0 in range(start - start % rows, stop, rows):
                for c0 in range(0, width, cols or 1):
                    pending.append(self._pool.submit(self._decode_into, r0, c0, start, stop, dest))
        for job in pending:
            job.result()

    def _decode_into(self, r0: int, c0: int, start: int, stop: int, dest: np.ndarray) -> None:
        try:
            self._decode(r0, c0, start, stop, dest)
        except (_InflateError, zlib.error, ValueError, OSError, RuntimeError, KeyError) as exc:
            raise ChunkError(r0, min(r0 + self.chunks[0], self.shape[0]), first_line(exc)) from None

    def _decode(self, r0: int, c0: int, start: int, stop: int, dest: np.ndarray) -> None:
        coord = (r0, c0) if len(self.chunks) == 2 else (r0,)
        lo, hi = max(start, r0), min(stop, r0 + self.chunks[0])
        target = dest[lo - start : hi - start]
        if len(self.chunks) == 2:
            c1 = min(c0 + self.chunks[1], self.shape[1])
            target = target[:, c0:c1]
        if self._written is not None:
            written = self._written[r0 // self.chunks[0], c0 // self.chunks[1] if len(self.chunks) == 2 else 0]
        else:
            info = self.ds.id.get_chunk_info_by_coord(coord)
            written = info.byte_offset is not None and info.size > 0
        if not written:  # never written: the fill value
            target[...] = self.fill
            return
        mask, raw = self.ds.id.read_direct_chunk(coord)
        data = raw
        for i in reversed(range(len(self.filters))):  # undo the filters, last applied first
            if mask & (1 << i):  # this filter was skipped for this chunk
                continue
            if self.filters[i] == DEFLATE:
                data = _inflate(data)
            else:
                data = _unshuffle(data, self.dtype.itemsize)
        if len(data) != self.chunk_bytes:
            raise ValueError(f"chunk decodes to {len(data)} bytes, expected {self.chunk_bytes}")
        chunk = np.frombuffer(data, dtype=self.dtype).reshape(self.chunks)
        piece = chunk[lo - r0 : hi - r0]
        if len(self.chunks) == 2:
            piece = piece[:, : target.shape[1]]
        cast_into(target, piece)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _written_chunks(ds, chunk: tuple) -> np.ndarray | None:
    """Which chunks of ``ds`` are allocated (row chunk × column chunk), from one walk of the chunk index
    (``chunk_iter``, HDF5 1.14); None where h5py lacks it (a query per chunk, as ``chunk_offsets`` says, then
    answers)."""
    if not hasattr(ds.id, "chunk_iter"):
        return None
    grid = [-(-size // c) for size, c in zip(ds.shape, chunk)] + [1] * (2 - ds.ndim)
    written = np.zeros(grid, dtype=bool)

    def note(info):
        if info.byte_offset is not None and info.size > 0:
            at = [o // c for o, c in zip(info.chunk_offset, chunk)] + [0] * (2 - ds.ndim)
            if at[0] < grid[0] and at[1] < grid[1]:
                written[at[0], at[1]] = True

    ds.id.chunk_iter(note)
    return written


def _unshuffle(data: bytes, itemsize: int) -> bytes:
    """Invert HDF5's byte shuffle: byte k of every element was stored in plane k."""
    if itemsize == 1:
        return data
    n = len(data) // itemsize
    planes = np.frombuffer(data, dtype=np.uint8, count=n * itemsize).reshape(itemsize, n)
    out = planes.T.tobytes()
    return out + data[n * itemsize :]  # a remainder, if any, is stored as is

