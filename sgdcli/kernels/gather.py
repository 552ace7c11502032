"""Reading rows out of a memory-mapped file: copied in the order training visits them, or paged in ahead.

A chunked file whose chunks are not stored one after another (X's chunks
interleaved with y's, as h5py writes them when both grow together) cannot be
handed to the kernels as one array: its blocks are copied into a buffer.
Copying them in the epoch's visiting order instead of file order costs the
reader thread about the same, and lets the training kernel read its rows one
after another instead of in random order, which is faster (`make bench`'s
chunked row).  The kernel computes the same sums in the same order, so the
model is the same, bit for bit.
"""

from __future__ import annotations

from sgdcli.kernels.intrinsics import AHEAD, prefetch_span
from sgdcli.kernels.jit import kernel


@kernel()
def gather_rows(src, offsets, chunk_rows, start, order, out):
    """out[k] = row ``start + order[k]`` of a chunked 2-D dataset whose file is mapped as the flat array ``src``.

    Row chunk c starts at element ``offsets[c]`` of ``src``; a row has
    ``out.shape[1]`` elements.  Rows are read in random order, so the row
    AHEAD steps ahead is prefetched (intrinsics.py).
    """
    width = out.shape[1]
    n = order.shape[0]
    for k in range(n):
        if k + AHEAD < n:
            i = start + order[k + AHEAD]
            prefetch_span(src, offsets[i // chunk_rows] + (i % chunk_rows) * width, width)
        i = start + order[k]
        at = offsets[i // chunk_rows] + (i % chunk_rows) * width
        for j in range(width):
            out[k, j] = src[at + j]
    return out


@kernel()
def touch_pages(buf, lo, hi, page):
    """Read one byte of every ``page`` bytes of ``buf[lo[k]:hi[k]]`` for every k; returns their sum.

    The reads fault the pages of a memory map into this process's page tables
    (and off the disk, if they are not cached) from the thread that calls it.
    """
    total = 0
    for k in range(lo.shape[0]):
        for at in range(lo[k] - lo[k] % page, hi[k], page):
            total += buf[at]
    return total


@kernel()
def row_offsets(rows, offsets, chunk_rows, width, out):
    """out[k] = the element where row ``rows[k]`` starts in a flat array whose row chunk c starts at element
    ``offsets[c]``, ``chunk_rows`` rows of ``width`` elements each; returns ``out``.

    A single chunk (a contiguous dataset) needs no division: the reader
    thread computes this for every row of every window.
    """
    n = rows.shape[0]
    if offsets.shape[0] == 1:
        base = offsets[0]
        for k in range(n):
            out[k] = base + rows[k] * width
    else:
        for k in range(n):
            r = rows[k]
            out[k] = offsets[r // chunk_rows] + (r % chunk_rows) * width
    return out


@kernel()
def take_values(src, offsets, chunk_rows, rows, out):
    """out[k] = the value of row ``rows[k]`` of a one-value-a-row dataset mapped as the flat array ``src``
    (its chunks as in ``row_offsets``), converted to ``out``'s type as NumPy's ``astype`` converts it; returns
    ``out``."""
    n = rows.shape[0]
    if offsets.shape[0] == 1:
        base = offsets[0]
        for k in range(n):
            out[k] = src[base + rows[k]]
    else:
        for k in range(n):
            r = rows[k]
            out[k] = src[offsets[r // chunk_rows] + r % chunk_rows]
    return out
