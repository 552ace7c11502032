"""The order in which an epoch visits the rows: a two-level shuffle over pages, and the held-out rows.

A full random shuffle of a file larger than memory would need one random read
per row; permuting rows inside large blocks leaves a file sorted by label
with one class per block, and the model follows whichever block came last.
The page shuffle mixes the whole file every epoch at nearly the speed of a
sequential read:

1. The rows are cut into *extents*, the unit read from the file: a few pages
   where rows can be read in place anywhere (a memory-mapped dataset), else
   a chunk or a run of chunks.  Each epoch permutes the extents.
2. A *window* is as many consecutive extents of that order as ``--memory``
   holds; one window is read (or paged in) while the one before trains.
   Where rows differ in size (a CSR matrix's nonzeros), the plan knows each
   extent's bytes (``costs``) and a window ends where the next extent would
   pass ``--memory``, before its count of extents is reached.
3. Inside a window, a page grid whose origin moves every epoch cuts the
   extents into pieces of at most ``page_rows`` rows.  The pieces are
   permuted, and the rows of each group of ``mix`` pieces are visited
   round-robin (kernels/pages.py): consecutive rows, and so every batch,
   come from ``mix`` random places of the file, while each piece is still
   read in sequence.

Every random draw comes from a seed derived from (seed, epoch, window), so any
window's order can be recomputed on its own: runs are reproducible and can be
resumed mid-epoch, and workers that average models each compute their share.
``docs/training.md`` has the measured trade-off between pages, speed and the
quality on sorted files.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from sgdcli.kernels.pages import window_visit
from sgdcli.kernels.permute import fisher_yates

_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)

MIX = 16  # pieces whose rows interleave: a batch of 256 rows of 16-row pages draws on 16 places of the file
EXTENT_BYTES = 64 << 10  # a mapped file is read in random runs of up to this size: whole pages for the disk
# A window draws on at least this many places of the file where extents can be that small: with few, the
# class mix of a sorted file's window strays from the file's, and the model follows each window's mix.
MIN_PLACES = 256
ORDER_SHARE = 16  # the epoch's extent order takes at most 1/ORDER_SHARE of --memory
PAGE_ROWS = 16  # the largest default page: a batch of 256 draws on MIX of them


def pages_for(batch: int, page_rows: int | None = None) -> int:
    """Rows per page for batches of ``batch`` rows: ``page_rows`` if given, else few enough that a batch draws
    on MIX pages, at most PAGE_ROWS.

    A group of MIX pages lasts MIX × page rows / batch consecutive batches,
    which all draw on the same places of the file; in a sorted file their
    class mix strays together, and the model drifts with it (batches of 32
    with 16-row pages ended, on average, 2.6% above the random-order loss on
    the sorted file of `bench/shuffle.py`; with 2-row pages at it).
    """
    return page_rows if page_rows is not None else max(1, min(PAGE_ROWS, batch // MIX))


def _state(*key: int) -> np.uint64:
    return np.random.SeedSequence([int(k) for k in key]).generate_state(1, np.uint64)[0]


@dataclasses.dataclass(frozen=True)
class PageShuffle:
    """How every epoch of a run visits the rows of one file (fixed for the run; a checkpoint depends on it)."""

    n_rows: int
    page_rows: int
    extent_rows: int  # rows read as one unit
    window_extents: int  # extents per window
    seed: int
    shuffle: bool = True
    mix: int = MIX
    # where windows are cut by bytes (rows of different sizes): each extent's bytes in flight, and what the
    # extents of a window may take together (``with_costs``); None: windows of ``window_extents`` extents
    costs: np.ndarray | None = dataclasses.field(default=None, compare=False, repr=False)
    budget: int = 0

    @classmethod
    def plan(cls, n_rows: int, window_rows: int, unit_rows: int, row_bytes: int, page_rows: int, seed: int,
             shuffle: bool, memory: int, max_extent: int | None = None) -> "PageShuffle":
        """The shuffle of ``n_rows`` rows read in units of ``unit_rows`` (1: anywhere), windows of ``window_rows``.

        Extents are whole read units of up to EXTENT_BYTES, small enough that
        a window holds MIN_PLACES of them, and few enough that the epoch's
        order of them fits its share of ``memory``; at most ``max_extent``
        rows where given (whole read units or not).
        """
        extent = max(page_rows, min(-(-EXTENT_BYTES // max(row_bytes, 1)), window_rows // MIN_PLACES), unit_rows)
        extent = max(extent, min_extent_rows(n_rows, memory))
        extent = -(-extent // unit_rows) * unit_rows
        extent = min(extent, max(window_rows // unit_rows, 1) * unit_rows)
        if max_extent is not None:
            extent = max(1, min(extent, max_extent))
        n_extents = -(-n_rows // extent)
        # windows of equal size: no short last window (of one class, in a sorted file) ends an epoch
        windows = 1 if n_rows <= window_rows else -(-n_extents // max(1, window_rows // extent))
        return cls(n_rows=n_rows, page_rows=page_rows, extent_rows=extent, window_extents=-(-n_extents // windows),
                   seed=seed, shuffle=shuffle)

    @property
    def n_extents(self) -> int:
        return -(-self.n_rows // self.extent_rows)

    @property
    def window_rows(self) -> int:
        """The most rows a window holds."""
        return min(self.window_extents * self.extent_rows, self.n_rows)

    def extent_order(self, epoch: int) -> np.ndarray:
        """The extents in the order epoch ``epoch`` visits them."""
        order = np.arange(self.n_extents, dtype=np.int64)
        return fisher_yates(order, _state(self.seed, epoch, 0)) if self.shuffle else order

    def with_costs(self, costs: np.ndarray, budget: int) -> "PageShuffle":
        """This plan with windows cut by bytes: ``costs[e]`` of extent e, at most ``budget`` a window (every
        extent's cost within it), and never more than ``window_extents`` extents."""
        return dataclasses.replace(self, costs=costs, budget=int(budget))

    def _cuts(self, order: np.ndarray) -> list[int]:
        """Where the windows of ``order`` start, and its length: every ``window_extents`` extents, or, with
        ``costs``, sooner where the next extent would pass the budget."""
        k, n = self.window_extents, len(order)
        if self.costs is None:
            return list(range(0, n, k)) + [n]
        total = np.concatenate(([0], np.cumsum(self.costs[order])))
        cuts = [0]
        while cuts[-1] < n:
            s = cuts[-1]
            fits = int(np.searchsorted(total, total[s] + self.budget, side="right")) - 1
            cuts.append(max(s + 1, min(s + k, n, fits)))
        return cuts

    def windows(self, order: np.ndarray) -> list[np.ndarray]:
        """The extents of each window of the epoch whose extent order is ``order``."""
        cuts = self._cuts(order)
        return [order[a:b] for a, b in zip(cuts[:-1], cuts[1:])]

    def window_sizes(self, order: np.ndarray) -> list[int]:
        """Rows of each window (the last extent of the file may be short)."""
        cuts = self._cuts(order)
        sizes = [(b - a) * self.extent_rows for a, b in zip(cuts[:-1], cuts[1:])]
        last = self.n_extents - 1
        at = int(np.searchsorted(cuts, int(np.flatnonzero(order == last)[0]), side="right")) - 1
        sizes[at] -= self.n_extents * self.extent_rows - self.n_rows
        return sizes

    def offset(self, epoch: int) -> int:
        """Where the page grid starts in epoch ``epoch``: page boundaries move, so page neighbours part."""
        return int(_state(self.seed, epoch, 2)) % self.page_rows if self.shuffle else 0

    @property
    def visit_rows(self) -> int:
        """The length of the arrays ``visit`` fills: a window's extents at full length."""
        return self.window_extents * self.extent_rows

    def visit(self, epoch: int, w: int, extents: np.ndarray,
              out: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Window ``w`` of epoch ``epoch`` (its ``extents``) in visiting order: file rows, and positions in the
        window's extents laid end to end; into ``out``, two int64 buffers of ``visit_rows``, where given (the
        reader thread reuses them from window to window: fresh arrays of that size cost it more, in page
        faults, than the visit itself)."""
        n = len(extents) * self.extent_rows
        rows, local = (np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)) if out is None else out
        k = window_visit(extents, self.extent_rows, self.n_rows, self.offset(epoch), self.page_rows,
                         self.mix if self.shuffle else 1, _state(self.seed, epoch, 1, w), self.shuffle, rows, local)
        return rows[:k], local[:k]

    def describe(self) -> str:
        """The shuffle in words, for --verbose."""
        if not self.shuffle:
            return "no shuffle (--no-shuffle): rows in file order"
        up_to = "up to " if self.costs is not None else ""
        return (f"page shuffle: pages of up to {self.page_rows} rows, {self.mix} mixed at a time, from windows of "
                f"{up_to}{self.window_extents} random runs of {self.extent_rows} rows ({self.window_rows} rows)")

    def as_dict(self) -> dict:
        return {"kind": "pages" if self.shuffle else "none", "page_rows": self.page_rows, "pages_mixed": self.mix,
                "extent_rows": self.extent_rows, "window_extents": self.window_extents}


def min_extent_rows(n_rows: int, memory: int) -> int:
    """The fewest rows an extent may have so that the epoch's order of extents (8 bytes each) fits its share
    of ``memory``."""
    return -(-n_rows * 8 * ORDER_SHARE // max(memory, 1))


def kept_per_extent(pages: PageShuffle, fraction: float, seed: int, step_rows: int = 1 << 20,
                    check_stop: Callable[[], None] = lambda: None) -> np.ndarray:
    """The rows of each extent of ``pages`` that --val-fraction ``fraction`` does not hold out (``held_out``),
    counted ``step_rows`` rows at a time, ``check_stop()`` before each: it hashes every row number of the file,
    work that grows with the file, which a signal should not wait for."""
    e = pages.extent_rows
    out = np.empty(pages.n_extents, dtype=np.int64)
    per = max(1, step_rows // e)
    for first in range(0, pages.n_extents, per):
        check_stop()
        lo, hi = first * e, min(pages.n_rows, (first + per) * e)
        kept = (~held_out(np.arange(lo, hi, dtype=np.int64), fraction, seed)).astype(np.int64)
        starts = np.arange(0, hi - lo, e)
        out[first:first + len(starts)] = np.add.reduceat(kept, starts)
    return out


def kept_rows(n_rows: int, fraction: float, seed: int, step_rows: int = 1 << 20) -> int:
    """The rows of a file of ``n_rows`` that --val-fraction ``fraction`` does not hold out (``held_out``), counted
    ``step_rows`` rows at a time: no labels read, so bad rows that --bad-rows skip leaves out still count."""
    if fraction <= 0:
        return n_rows
    return sum(int(np.count_nonzero(~held_out(np.arange(lo, min(n_rows, lo + step_rows), dtype=np.int64), fraction,
                                               seed))) for lo in range(0, n_rows, step_rows))


def deal(order: np.ndarray, sizes: list[int], shards: int) -> list[list[tuple[int, int, int]]]:
    """An epoch's rows cut into ``shards`` equal shares, as segments (window, lo, hi) of the rows counted.

    The windows in the epoch's ``order`` (``sizes[b]`` rows each: the rows
    trained, those neither --val-fraction holds out nor --bad-rows skip leaves
    out) are laid end to end and cut into
    ``shards`` runs of equal length (±1 row), so that every worker of a
    distributed run gets the same number of rows to train; a window on a cut
    is split between two neighbouring shares.  Every row is in exactly one
    share.  Which rows of a window a segment trains is ``segment_rows``.
    """
    total = sum(int(sizes[b]) for b in order)
    cuts = _cuts(total, shards)
    out: list[list[tuple[int, int, int]]] = [[] for _ in range(shards)]
    start = 0
    w = 0
    for b in order:
        size = int(sizes[b])
        lo = 0
        while lo < size:
            while cuts[w + 1] <= start + lo:  # shares that end before this row (empty ones too)
                w += 1
            hi = min(size, cuts[w + 1] - start)
            out[w].append((int(b), lo, hi))
            lo = hi
        start += size
    return out


def shares(total: int, shards: int) -> list[int]:
    """The rows of each of the ``shards`` shares ``deal`` cuts ``total`` rows into: equal, ±1, whatever the
    order and sizes of the windows."""
    cuts = _cuts(total, shards)
    return [b - a for a, b in zip(cuts[:-1], cuts[1:])]


def _cuts(total: int, shards: int) -> list[int]:
    return [total * w // shards for w in range(shards + 1)]


def segment_rows(rows: np.ndarray, lo: int, hi: int, size: int) -> np.ndarray:
    """The part of a window's visiting order ``rows`` that the segment [lo, hi) of its ``size`` rows trains
    (the rows ``deal`` counted: those trained, so that the cut is exact where ``size`` is ``len(rows)``).

    The order is cut at the same proportions as the rows counted, in integers,
    so the segments of one window partition its rows whatever the shares.
    """
    m = len(rows)
    return rows[m * lo // size: m * hi // size] if size > 0 else rows  # size 0: a window all held out


def validation_mask(start: int, stop: int, fraction: float, seed: int) -> np.ndarray:
    """True for rows in [start, stop) that belong to the held-out validation set (``held_out``)."""
    return held_out(np.arange(start, stop, dtype=np.int64), fraction, seed)


def held_out(rows: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """True for the rows (row numbers) that belong to the held-out validation set.

    A row is held out when a 64-bit hash (splitmix64) of its index and the seed
    falls below ``fraction``: fixed for a seed, independent of block size and
    visiting order, and computed for any rows without storing the set.
    """
    if fraction <= 0:
        return np.zeros(len(rows), dtype=bool)
    with np.errstate(over="ignore"):
        z = rows.astype(np.uint64) + np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * _GOLDEN + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        z = z ^ (z >> np.uint64(31))
    threshold = np.uint64(min(int(fraction * 2.0**64), 2**64 - 1))
    return z < threshold
