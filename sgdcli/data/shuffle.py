"""Out-of-core shuffling and the held-out validation rows.

A full random shuffle of a file larger than memory would need one random read
per row.  Instead each epoch visits the row blocks in a random order and
permutes the rows of each block once it is in memory.  Every random draw comes
from a seed derived from (seed, epoch, block), so any block's order can be
recomputed on its own: runs are reproducible and can be resumed mid-epoch.

Rows are permuted by a compiled Fisher–Yates shuffle (kernels/permute.py),
seeded through NumPy's SeedSequence.
"""

from __future__ import annotations

import numpy as np

from sgdcli.kernels.permute import fisher_yates

_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _rng(*key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(k) for k in key])))


def block_order(n_blocks: int, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """The order in which epoch ``epoch`` visits the blocks."""
    if not shuffle:
        return np.arange(n_blocks)
    return _rng(seed, epoch, 0).permutation(n_blocks)


def deal(order: np.ndarray, sizes: list[int], shards: int) -> list[list[tuple[int, int, int]]]:
    """An epoch's rows cut into ``shards`` equal shares, as segments (block, lo, hi) of raw rows.

    The blocks in the epoch's ``order`` (``sizes[b]`` rows each) are laid end to
    end and cut into ``shards`` runs of equal length (±1 row), so that every
    worker of a distributed run gets the same number of rows; a block on a cut
    is split between two neighbouring shares.  Every row is in exactly one
    share.  Which rows of a block a segment trains is ``segment_rows``.
    """
    total = sum(int(sizes[b]) for b in order)
    cuts = [total * w // shards for w in range(shards + 1)]
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


def segment_rows(rows: np.ndarray, lo: int, hi: int, size: int) -> np.ndarray:
    """The part of a block's visiting order ``rows`` that the segment [lo, hi) of its ``size`` raw rows trains.

    The order is cut at the same proportions as the raw rows, in integers, so
    the segments of one block partition its rows whatever the shares.
    """
    m = len(rows)
    return rows[m * lo // size: m * hi // size]


def row_order(rows: np.ndarray, seed: int, epoch: int, block: int, shuffle: bool = True) -> np.ndarray:
    """The order in which the rows (block-local indices) of one block are visited."""
    if not shuffle:
        return rows
    state = np.random.SeedSequence([int(seed), int(epoch), 1, int(block)]).generate_state(1, np.uint64)[0]
    return fisher_yates(rows.copy(), state)


def validation_mask(start: int, stop: int, fraction: float, seed: int) -> np.ndarray:
    """True for rows in [start, stop) that belong to the held-out validation set.

    A row is held out when a 64-bit hash (splitmix64) of its index and the seed
    falls below ``fraction``: fixed for a seed, independent of block size, and
    computed block by block without storing the set.
    """
    if fraction <= 0:
        return np.zeros(stop - start, dtype=bool)
    with np.errstate(over="ignore"):
        z = np.arange(start, stop, dtype=np.uint64) + np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * _GOLDEN + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        z = z ^ (z >> np.uint64(31))
    threshold = np.uint64(min(int(fraction * 2.0**64), 2**64 - 1))
    return z < threshold
