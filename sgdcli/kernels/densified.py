"""CSR rows trained by the dense kernels, a piece of them at a time made dense in a buffer a core's cache holds.

Where a tenth or more of the columns of centred sparse rows are nonzero
(training/autooptimizer.py ``densified``), the dense kernels train them
faster than the O(nonzeros) kernel (sparse.py) does: that kernel fetches
each nonzero's weights from all over the model, one output at a time, and
centring costs it a pass over every column a batch, while the dense ones
read a row's columns in order, several at once, and a batch's step is over
every column either way.  ``train_block_csr`` writes a piece of the rows
into ``Scratch.pieces`` (zeros and all), runs the dense batch loop on it
(batches.py), sets the places its nonzeros took back to zero, and goes on
with the next piece, all within one call: a batch spans pieces as it spans
calls.  A piece is at most PIECE_BYTES of dense rows, which stay in the
cache from their writing to their reading.  The rows are the dense copy's to
the last bit (float32 both); the steps are its to rounding: a piece's end
regroups the rows that the single-output loops score together, and the sums
of a batch's loss, and LLVM optimizes the loops inlined here with this
kernel's code, which may contract their arithmetic otherwise.

The loop runs on one thread, as the O(nonzeros) kernel does: a piece holds
PIECE_BYTES / 4 values, so where rows are wide enough for their work to
count (wider than 1,024 columns) it holds fewer rows than the dense
kernels share out (state.PAR_MIN_ROWS), and each compiled caller
of the threaded loop (batches.py ``_accumulate_parallel``) is one more
cached copy of a parallel kernel, whose symbols Numba names per process: in
development, a cache that held a threaded copy of this kernel beside the
dense kernels' crashed every later process that loaded them, and clearing it
cured that (Numba issues 8578 and 10128 are crashes of this kind).
"""

from __future__ import annotations

import numpy as np

from sgdcli.kernels.batches import compiled_scaling, compiled_state, train_block_batches, variant_of
from sgdcli.kernels.jit import kernel
from sgdcli.kernels.pure_sgd import train_block_pure_sgd
from sgdcli.kernels.state import BAD, BAD_ROW, OK

PIECE_BYTES = 1 << 19  # half a MiB: within the L2 cache of one core of the machines this was measured on


def piece_rows(features: int) -> int:
    """The rows of a piece: as many dense rows of ``features`` float32 columns as PIECE_BYTES holds, at least one."""
    return max(1, PIECE_BYTES // (4 * features))


@kernel(callee=True)
def _place(data, indices, starts, lens, lo, hi, pieces, at, d, zero):
    """Rows lo … hi − 1 of the CSR rows (row r: entries starts[r] … starts[r] + lens[r] − 1) added into
    ``pieces`` (zeros) at (r − lo)·d, their offsets into ``at``; ``zero``: their nonzeros' places set back to 0.
    Added, not written: a column given twice in a row holds the sum of its values, as the O(nonzeros) kernel's
    scores and gradients and predictions take it (the moments count them as two values: docs/sparse.md)."""
    for r in range(lo, hi):
        base = (r - lo) * d
        at[r - lo] = base
        if zero:
            for e in range(starts[r], starts[r] + lens[r]):
                pieces[base + indices[e]] = 0.0
        else:
            for e in range(starts[r], starts[r] + lens[r]):
                pieces[base + indices[e]] += data[e]


@kernel()
def train_block_pieces(cfg, data, indices, starts, lens, y, center, scale, state, scratch, multi=None, sw=None,
                       logistic=None, pairs=None, pure=None, velocity=None):
    """Train on the CSR rows in order, a piece at a time, as ``batches.train_block`` trains dense rows on one
    thread (the variant arguments as ``batches.variant_of`` gives them, but ``threads``); the status as it
    returns it, a bad row's position among these rows in counters[BAD]."""
    n = starts.shape[0]
    d = state.W.shape[1] - 1
    pieces, at = scratch.pieces, scratch.piece_at
    size = at.shape[0]
    i = np.int64(0)  # not a literal 0: callees would be compiled once more for Literal[int](0)
    status = OK
    while i < n and status == OK:
        hi = min(n, i + size)
        _place(data, indices, starts, lens, i, hi, pieces, at, d, False)
        rows, labels = at[:hi - i], y[i:hi]
        if pure is None and velocity is None:
            if sw is None:
                status = train_block_batches(cfg, pieces, labels, rows, center, scale, state, scratch, None,
                                             multi, None, logistic, pairs)
            else:
                status = train_block_batches(cfg, pieces, labels, rows, center, scale, state, scratch, None,
                                             multi, sw[i:hi], logistic, pairs)
        elif sw is None:
            status = train_block_pure_sgd(cfg, pieces, labels, rows, center, scale, state.W[0], state.counters,
                                          state.sums, velocity)
        else:
            status = train_block_pure_sgd(cfg, pieces, labels, rows, center, scale, state.W[0], state.counters,
                                          state.sums, velocity, sw[i:hi])
        _place(data, indices, starts, lens, i, hi, pieces, at, d, True)
        if status == BAD_ROW:
            state.counters[BAD] += i
        i = hi
    return status


def train_block_csr(cfg, data, indices, starts, lens, y, center, scale, state, scratch, sw=None) -> int:
    """``train_block_pieces`` with the compiled code the run needs (``batches.variant_of``): the CSR rows
    ``starts``/``lens`` of ``data``/``indices``, labels ``y`` and weights ``sw`` in that order."""
    if not scratch.piece_at.size and len(starts):  # (no piece to fill: the loop would never advance)
        raise ValueError("a scratch without pieces: made by engine.scratch_for for rows the dense kernels train")
    center, scale = compiled_scaling(cfg, center, scale)
    variant = variant_of(cfg, state, sw)
    variant.pop("threads", None)  # one thread (above)
    return train_block_pieces(cfg, data, indices, starts, lens, y, center, scale, compiled_state(cfg, state),
                              scratch, **variant)
