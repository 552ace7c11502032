"""Read-ahead: the next block (or window of the page shuffle) is read or paged in while the current one trains.

h5py reads release the GIL and the Numba kernels run ``nogil``, so one reader
thread overlaps I/O with compute.  Two buffer slots alternate: the block handed
out last is never overwritten until the consumer asks for the next one.

Passes over the file (labels, moments, scoring) read blocks in file order
(``stream_blocks``); training epochs read the windows of the page shuffle
(``stream_windows``, data/shuffle.py).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, NamedTuple

import numpy as np

from sgdcli.data.shuffle import PageShuffle
from sgdcli.data.sparse import CsrBuffer
from sgdcli.data.table import BUFFERS, FEATURE_DTYPE, LABEL_DTYPE, Table


class Block(NamedTuple):
    start: int
    stop: int
    X: np.ndarray
    y: np.ndarray | None
    w: np.ndarray | None = None  # the rows' sample weights (float64), where the table has them


class _Pipeline:
    """``load(0)``, ``load(1)``, ... each computed in a reader thread while the consumer holds the one before.

    Exhausting it, or ``close()``, waits for the reader thread.  One that is
    dropped unfinished and left to the garbage collector stops its reader
    without waiting: the collector runs finalizers in whichever thread it
    happens to run, and a finalizer that joins a thread can deadlock there
    (one thread in the middle of starting another, with the interpreter's
    thread locks held, was seen to).  Consumers close it (the epoch does).
    """

    def __init__(self, n: int, load: Callable[[int], Any]):
        self._n, self._load, self._i = n, load, 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sgdcli-read") if n else None
        self._pending = self._pool.submit(load, 0) if n else None

    def __iter__(self) -> "_Pipeline":
        return self

    def __next__(self) -> Any:
        if self._i >= self._n:
            self.close()
            raise StopIteration
        try:
            item = self._pending.result()
        except BaseException:
            self.close()
            raise
        self._i += 1
        if self._i < self._n:
            self._pending = self._pool.submit(self._load, self._i)
        return item

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __del__(self):
        if getattr(self, "_pool", None) is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def stream_blocks(table: Table, spans: list[tuple[int, int]], block_rows: int) -> _Pipeline:
    """Yield the ``Block``s of ``spans`` in that order, reading one ahead in a thread."""
    xbuf: list = [None] * BUFFERS
    if table.sparse:  # CSR rows, sized by their entries
        xbuf = [CsrBuffer() for _ in range(BUFFERS)]
    elif not table.X.zero_copy:
        xbuf = [np.empty((block_rows, table.n_features), dtype=table.X.dtype) for _ in range(BUFFERS)]
    columns = [(c, [None] * BUFFERS if c is None or c.zero_copy else [np.empty(block_rows, dtype=c.dtype) for _ in range(BUFFERS)])
               for c in (table.Y, table.W)]

    def load(i: int) -> Block:
        start, stop = spans[i]
        slot = i % BUFFERS
        table.X.preload(start, stop)
        for column, _ in columns:
            if column is not None:
                column.preload(start, stop)
        y, w = (column.read(start, stop, bufs[slot]) if column is not None else None for column, bufs in columns)
        return Block(start, stop, table.X.read(start, stop, xbuf[slot]), y, w)

    return _Pipeline(len(spans), load)


class Window(NamedTuple):
    """One window of an epoch of the page shuffle, in visiting order."""

    index: int  # in the epoch's order of windows
    size: int  # its rows
    rows: np.ndarray  # row numbers of the file, in visiting order
    y: np.ndarray | None  # their labels (float64), a copy of the reader's own: ``prepare`` may overwrite it
    w: np.ndarray | None  # their sample weights (float64), where the table has them
    X: np.ndarray | None  # what the kernel reads, flat: the mapped file, or a buffer (CSR rows where sparse); None: copied on demand (``gather``)
    xrows: np.ndarray | None  # the element offsets in ``X`` of the rows to visit, in order
    gather: Callable[[np.ndarray], np.ndarray] | None  # positions in ``rows`` -> those rows of X copied, in that order


def stream_windows(table: Table, pages: PageShuffle, epoch: int, windows: list[int],
                   prepare: Callable[[Window, int], Any]) -> _Pipeline:
    """Yield ``prepare(window, i)`` for the i-th of the windows ``windows`` of epoch ``epoch``, one ahead in a thread.

    X is read the cheapest way its storage allows: where the file is mapped
    as float32 the kernel reads the rows in place (``X`` is the map, flat);
    other mapped layouts are copied in visiting order, only the rows that
    ``prepare`` keeps (``gather``); the rest is read extent by extent into a
    buffer.  ``prepare`` runs in the reader thread too.
    """
    order = pages.extent_order(epoch)
    extents = pages.windows(order)
    sizes = pages.window_sizes(order)
    cap = pages.window_rows
    whole = table.X.in_place()
    x_direct = whole is not None or table.X.random_access
    xbuf = ([CsrBuffer() for _ in range(BUFFERS)] if table.sparse else [None] * BUFFERS if whole is not None else
            [np.empty((cap, table.n_features), dtype=FEATURE_DTYPE) for _ in range(BUFFERS)])
    columns = [(c, c is None or c.random_access) for c in (table.Y, table.W)]
    bufs = [[None] * BUFFERS if c is None else [np.empty(cap, dtype=LABEL_DTYPE) for _ in range(BUFFERS)]
            for c, _ in columns]
    # per slot: the visit (file rows, positions in the window) and the rows' offsets in X; reused, as the
    # buffers above are, since the slot handed out last is never overwritten (_Pipeline)
    index = [tuple(np.empty(pages.visit_rows, dtype=np.int64) for _ in range(3)) for _ in range(BUFFERS)]

    def load(i: int) -> Any:
        w = windows[i]
        slot = i % BUFFERS
        ext = extents[w]
        starts = ext * pages.extent_rows
        stops = np.minimum(starts + pages.extent_rows, table.n_rows)
        spans = list(zip(starts.tolist(), stops.tolist()))
        rows, local = pages.visit(epoch, w, ext, index[slot][:2])
        y, weights = (None if column is None else column.take(rows, buf[slot]) if direct else
                column.read_ranges(spans, buf[slot])[local] for (column, direct), buf in zip(columns, bufs))
        X = xrows = gather = None
        if x_direct:
            table.X.page_in(starts, stops, ext, pages.n_extents)
        if table.sparse:  # CSR rows of the window's runs; ``xrows``: the positions of the rows to visit
            X, xrows = table.X.read_ranges(spans, xbuf[slot]), local
        elif whole is not None:
            X, xrows = whole, table.X.place(rows, index[slot][2])
        elif x_direct:
            gather = _copier(table.X, rows, xbuf[slot])
        else:
            X = table.X.read_ranges(spans, xbuf[slot]).reshape(-1)
            xrows = np.multiply(local, table.n_features, out=index[slot][2][:len(local)])
        return prepare(Window(w, sizes[w], rows, y, weights, X, xrows, gather), i)

    return _Pipeline(len(windows), load)


def _copier(column, rows: np.ndarray, out: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Positions in ``rows`` -> those rows of ``column``, copied in that order into ``out``."""
    return lambda positions: column.take(rows[positions], out)
