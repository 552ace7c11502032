"""Chunks that are read whole, and the --memory they need: a chunk the budget cannot hold is refused before
anything is read, never read anyway.

HDF5 decodes a filtered (compressed) chunk whole, whatever part of it a read
asks for, and so does chunks.py's parallel decoder; the row blocks of a
chunked dataset that is not read in place are whole chunks (columns.py,
sources.py), so that each chunk is read once a pass.  Reading such a chunk in
row pieces would not bound memory (each piece decodes the whole chunk again)
and would cost a decode per piece; so a run whose --memory cannot hold one
chunk of every dataset it reads whole, and the blocks of whole chunks
(data/table.py ``block_rows``), stops at once with exit 2 and the least
--memory that holds them: what a scheduled run needs to be told, rather than
a budget broken as it goes.  Chunks read in place (memory-mapped, unfiltered)
cost page cache, not memory, and are not counted; the chunks of labels or
weights held whole (data/held.py) are read one at a time, once, and count as
one chunk each, not as blocks of their rows.
"""

from __future__ import annotations

from typing import NamedTuple

import h5py
import numpy as np

from sgdcli.data.columns import ColumnReader
from sgdcli.data.held import HeldColumn
from sgdcli.data.layout import MAPPED_CHUNKS, layout_of
from sgdcli.data.sources import ComposedReader, where_of
from sgdcli.data.sparse import SparseX
from sgdcli.data.textlabels import TextLabels
from sgdcli.sizes import MemoryShort, format_size


class Chunk(NamedTuple):
    """The chunks of one dataset read whole: ``rows`` of the table each (None: not rows, a CSR matrix's
    entries), ``nbytes`` as decoded."""

    where: str
    rows: int | None
    nbytes: int


def of_dataset(ds: h5py.Dataset, axis: int = 0, row_read: bool = False) -> Chunk | None:
    """``ds``'s chunks where they are read whole, ``axis`` its rows' axis: one chunk's bytes; with ``row_read``
    (a source's read through HDF5, sources.py: every column of whole chunks of rows at once, never in place),
    those of a chunk's rows, all columns."""
    if ds.chunks is None:
        return None
    rows = int(ds.chunks[axis])
    if row_read:
        others = int(np.prod([s for i, s in enumerate(ds.shape) if i != axis], dtype=np.int64))
        return Chunk(where_of(ds), rows, rows * others * ds.dtype.itemsize)
    if layout_of(ds).read_mode == MAPPED_CHUNKS:  # read in place
        return None
    return Chunk(where_of(ds), rows, int(np.prod(ds.chunks, dtype=np.int64)) * ds.dtype.itemsize)


def of_reader(reader) -> list[Chunk]:
    """The chunks read whole of a table's reader: a dataset's (columns.ColumnReader), a composed table's sources'
    (sources.ComposedReader), a CSR matrix's parts (sparse.SparseX: entries, not rows), a column held whole's
    (held.HeldColumn: not rows either)."""
    if isinstance(reader, ComposedReader):
        found = [_as_read(s, ds, of_dataset(ds, axis, row_read=True))
                 for s in reader.sources for ds, axis in s.stored()]
    elif isinstance(reader, SparseX):
        parts = (reader.reader.indptr, reader.reader.data, reader.reader.indices)
        found = [None if c is None else c._replace(rows=None) for c in map(of_dataset, parts)]
    elif isinstance(reader, ColumnReader):
        found = [of_dataset(reader.ds)]
    elif isinstance(reader, HeldColumn):  # read whole once, a chunk at a time: no blocks of its rows
        return [c._replace(rows=None) for c in of_reader(reader.inner)]
    else:  # none (no labels, no weights)
        found = []
    return [c for c in found if c is not None]


def _as_read(source, ds: h5py.Dataset, chunk: Chunk | None) -> Chunk | None:
    """``chunk`` of ``ds`` (one that ``source`` reads) with what its rows take while read, where that is more than
    their stored bytes: names read as codes (textlabels.TextLabels, a Python object a variable-length name)."""
    if chunk is None or not isinstance(source, TextLabels) or ds is not source.ds:
        return chunk
    return chunk._replace(nbytes=max(chunk.nbytes, chunk.rows * source.row_bytes))


def refusal(chunks: list[Chunk], memory: int, per_row: int, buffers: int, least: int) -> MemoryShort | None:
    """MemoryShort where ``memory`` cannot hold one of ``chunks`` decoded, or the ``buffers`` blocks of its rows
    at ``per_row`` bytes a row (every buffer counted); None where it can, or where ``least`` (what the table's
    own blocks need, which its refusal names) is more.  The --memory it names holds them all."""
    needs = [max(c.nbytes, per_row * (c.rows or 0)) for c in chunks]
    if not needs or max(needs) <= memory or max(needs) < least:  # (the table's own blocks, where larger, say so)
        return None
    worst = chunks[int(np.argmax(needs))]
    if worst.nbytes >= per_row * (worst.rows or 0):
        holds = (f"one chunk of {worst.where} ({format_size(worst.nbytes)} decoded"
                 + (f", {worst.rows:,} rows" if worst.rows else "") + "), which is read whole")
    else:
        holds = f"{buffers} blocks of whole chunks of {worst.where} ({worst.rows:,} rows a chunk)"
    return MemoryShort(memory, holds, max(max(needs), least))
