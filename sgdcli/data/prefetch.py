"""Read-ahead: the next block is read (or paged in) while the current one trains.

h5py reads release the GIL and the Numba kernels run ``nogil``, so one reader
thread overlaps I/O with compute.  Two buffer slots alternate: the block handed
out last is never overwritten until the consumer asks for the next one.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator, NamedTuple

import numpy as np

from sgdcli.data.table import BUFFERS, Table


class Block(NamedTuple):
    start: int
    stop: int
    X: np.ndarray | None  # None: not read yet; ``gather`` copies the rows wanted, in the order wanted
    y: np.ndarray | None
    gather: Callable[[np.ndarray], np.ndarray] | None = None  # block-local rows -> those rows of X, in that order


def stream_blocks(table: Table, spans: list[tuple[int, int]], block_rows: int,
                  prepare: Callable[[Block, int], Any] | None = None, gather: bool = False) -> Iterator[Any]:
    """Yield ``Block``s in the order of ``spans``, reading one ahead in a thread.

    With ``prepare``, ``prepare(block, i)`` runs in the reader thread too (per-block
    work such as drawing the row order, overlapped with training on the block
    before) and its result is yielded instead of the block.  With ``gather``, a
    block whose X would be copied out of a chunked file anyway is not read:
    its ``X`` is None and ``prepare`` calls ``block.gather(order)`` to copy the
    rows in the order it wants them (gather.py).
    """
    if not spans:
        return
    xbuf: list[np.ndarray | None] = [None] * BUFFERS
    ybuf: list[np.ndarray | None] = [None] * BUFFERS
    if not table.X.zero_copy:
        xbuf = [np.empty((block_rows, table.n_features), dtype=table.X.dtype) for _ in range(BUFFERS)]
    if table.Y is not None and not table.Y.zero_copy:
        ybuf = [np.empty(block_rows, dtype=table.Y.dtype) for _ in range(BUFFERS)]

    def load(i: int) -> Block:
        start, stop = spans[i]
        slot = i % BUFFERS
        deferred = gather and table.X.gathers(start, stop)
        table.X.preload(start, stop, gathered=deferred)
        if table.Y is not None:
            table.Y.preload(start, stop)
        y = table.Y.read(start, stop, ybuf[slot]) if table.Y is not None else None
        if deferred:
            block = Block(start, stop, None, y, lambda order: table.X.gather(start, order, xbuf[slot]))
        else:
            block = Block(start, stop, table.X.read(start, stop, xbuf[slot]), y)
        return block if prepare is None else prepare(block, i)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sgdcli-read") as pool:
        pending = pool.submit(load, 0)
        for i in range(len(spans)):
            block = pending.result()
            if i + 1 < len(spans):
                pending = pool.submit(load, i + 1)
            yield block
