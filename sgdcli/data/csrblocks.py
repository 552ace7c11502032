"""Blocks, windows and samples of CSR rows sized by their own nonzeros, read off ``indptr``.

A CSR row costs its entries (a value and a column each) and a few bytes of
its own (its offset, its label, the bookkeeping of a window).  Rows can
differ in size by orders of magnitude (a few long documents among many short
ones), so a block of as many rows as ``--memory`` holds at the file's
*average* row can hold far more: the blocks of the passes and the windows of
the page shuffle are cut where their rows' own bytes would pass the budget
(``row_spans``, ``fit_windows``), and the sample of ``--lr auto`` holds at
most the entries of as many average rows (``fit_sample``).  A file whose
rows all have the same length is cut exactly where the average cuts it.

A row that alone passes the budget is refused, with the --memory it needs,
rather than read anyway: ``--memory`` is a bound the user can rely on, as
for a dense chunk larger than the budget (data/table.py).
"""

from __future__ import annotations

import numpy as np

from sgdcli.data.shuffle import PageShuffle, min_extent_rows
from sgdcli.data.sparse import CsrReader
from sgdcli.errors import InputError, first_line
from sgdcli.sizes import MemoryShort, format_size

# indptr entries read at a time while cutting blocks: bounded scratch, whatever the rows
PIECE_ROWS = 1 << 16


class Costs:
    """What rows of ``reader`` take in flight: ``per_row`` bytes each and ``per_entry`` bytes a nonzero, against
    ``memory`` (every buffer of a block or window counted in both figures), of which ``held`` bytes (labels
    held whole: data/held.py) are taken already; refusals name --memory with them."""

    def __init__(self, reader: CsrReader, per_row: int, per_entry: int, memory: int, buffers: int, held: int = 0):
        self.reader, self.per_row, self.per_entry, self.memory = reader, per_row, per_entry, memory - held
        self.buffers, self.held = buffers, held

    def of(self, rows, entries):
        return rows * self.per_row + entries * self.per_entry

    def refuse_row(self, row: int, entries: int) -> MemoryShort:
        return MemoryShort(self.memory + self.held, f"{self.buffers} copies of row {row:,} of {self.reader.where} "
                           f"({entries:,} nonzeros)", self.of(1, entries) + self.held)

    def offsets(self, start: int, stop: int) -> np.ndarray:
        """indptr[start:stop + 1] (rows start .. stop - 1) as int64, checked to increase within 0..nnz."""
        return self.reader.offsets([(start, stop)])[0]


def row_spans(costs: Costs, block_rows: int) -> list[tuple[int, int]]:
    """The rows cut into blocks, in file order: each of at most ``block_rows`` rows and ``costs.memory`` bytes."""
    n = costs.reader.n_rows
    spans: list[tuple[int, int]] = []
    s = 0
    while s < n:  # indptr a piece at a time, from the start of the next block
        base = s
        hi = min(n, s + max(2 * block_rows, PIECE_ROWS))
        ip = costs.offsets(s, hi)
        total = costs.of(np.arange(len(ip)), ip - ip[0])  # bytes of rows base .. base + i
        while s < n and (s + block_rows <= hi or hi == n):  # blocks whose longest end lies in this piece
            at = s - base
            fits = int(np.searchsorted(total, total[at] + costs.memory, side="right")) - 1 + base
            stop = min(s + block_rows, n, fits)
            if stop <= s:
                raise costs.refuse_row(s, int(ip[at + 1] - ip[at]))
            spans.append((s, stop))
            s = stop
    return spans


def heaviest_row(reader: CsrReader) -> int:
    """The most entries a row of ``reader`` holds: indptr read a piece of PIECE_ROWS rows at a time."""
    most = 0
    for start in range(0, reader.n_rows, PIECE_ROWS):
        ip = reader.offsets([(start, min(start + PIECE_ROWS, reader.n_rows))])[0]
        most = max(most, int(np.diff(ip).max(initial=0)))
    return most


def extent_costs(costs: Costs, extent_rows: int) -> np.ndarray:
    """The bytes of each run of ``extent_rows`` rows (the last may be shorter)."""
    n = costs.reader.n_rows
    bounds = np.append(np.arange(0, n, extent_rows, dtype=np.int64), n)
    where = costs.reader.where
    try:
        ip = costs.reader.indptr[0:n + 1:extent_rows].astype(np.int64)
        if len(ip) < len(bounds):
            ip = np.append(ip, int(costs.reader.indptr[n]))
    except (OSError, RuntimeError, ValueError) as exc:
        raise InputError(f"{where}: cannot read indptr ({first_line(exc)})") from None
    if np.any(np.diff(ip) < 0):
        k = int(np.flatnonzero(np.diff(ip) < 0)[0])
        a, b = int(bounds[k]), int(bounds[k + 1])
        raise InputError(f"{where}: indptr decreases between rows {a:,} and {b:,}: indptr[{a}] is {ip[k]} and "
                         f"indptr[{b}] is {ip[k + 1]} (a row's entries are indptr[row] .. indptr[row + 1])")
    return costs.of(np.diff(bounds), np.diff(ip))


def fit_windows(pages: PageShuffle, costs: Costs, plan) -> PageShuffle:
    """``pages`` with its windows cut by their rows' bytes; with shorter extents where one alone passes the
    budget (``plan(max_extent)`` plans again).  MemoryShort where a single row does, or where extents short
    enough would make the epoch's order of them pass its share of the budget."""
    floor = min(min_extent_rows(costs.reader.n_rows, costs.memory), pages.extent_rows)
    while True:
        each = extent_costs(costs, pages.extent_rows)
        heaviest = int(np.argmax(each))
        if each[heaviest] <= costs.memory:
            return pages.with_costs(each, costs.memory)
        if pages.extent_rows == 1:
            raise costs.refuse_row(heaviest, int((each[heaviest] - costs.per_row) // costs.per_entry))
        if pages.extent_rows <= floor:
            a = heaviest * pages.extent_rows
            b = min(a + pages.extent_rows, costs.reader.n_rows)
            raise MemoryShort(costs.memory + costs.held, f"a window of rows {a:,}-{b - 1:,} of {costs.reader.where} "
                              f"({format_size(int(each[heaviest]))} in flight), and runs of fewer rows would make "
                              "the epoch's order of runs pass its share of --memory", _enough(costs) + costs.held)
        pages = plan(max(floor, pages.extent_rows // 2))


def _enough(costs: Costs) -> int:
    """A budget, twice ``costs.memory`` or a power of two times it, whose shortest extents each fit it."""
    memory = costs.memory
    while True:
        memory *= 2
        if extent_costs(costs, min_extent_rows(costs.reader.n_rows, memory)).max() <= memory:
            return memory


def fit_sample(reader: CsrReader, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The sample's runs ``spans`` cut short (each from its start) so that together they hold at most the
    nonzeros of as many rows of the file's average; unchanged where they do.  Each run gets an equal share of
    what the runs before it left; where no run's first row fits its share, the sample is the lightest of
    those rows."""
    rows = sum(b - a for a, b in spans)
    allowed = rows * reader.nnz // max(reader.n_rows, 1)
    entries = [ip - ip[0] for ip in reader.offsets(spans)]  # of each run's first rows, cumulated
    if sum(int(e[-1]) for e in entries) <= allowed:
        return spans
    out = []
    for i, ((a, _), e) in enumerate(zip(spans, entries)):
        keep = int(np.searchsorted(e, allowed // (len(spans) - i), side="right")) - 1
        if keep > 0:
            out.append((a, a + keep))
            allowed -= int(e[keep])
    if not out:
        a = spans[int(np.argmin([e[1] for e in entries]))][0]
        out = [(a, a + 1)]
    return out
