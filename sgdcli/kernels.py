"""Compiled kernels: the fused mini-batch loop, scoring, and row checks.

``train_block`` runs every mini-batch of one in-memory block inside a single
compiled call.  A batch may straddle blocks: its gradient sum ``G`` and the
number of rows in it (``counters[FILL]``) carry over to the next call, so an
epoch is one stream of ceil(rows / B) batches whatever the block size, and
full-batch gradient descent accumulates over every block before its one step.

Large batches are split into ``cfg.parts`` contiguous row ranges summed in
parallel (``prange``); each thread writes only its own partial buffer and the
partials are added in a fixed order, so results depend on the thread count
but never on scheduling.  Batches of fewer than ``cfg.par_min_rows`` rows run
serially: a fork/join costs about 2 µs.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import prange

from sgdcli.jit import kernel
from sgdcli.losses import loss_grad
from sgdcli.optimizers import step
from sgdcli.schedules import lr_at

# counters (int64)
T, FILL, EPOCH, BAD = 0, 1, 2, 3
N_COUNTERS = 4
# sums (float64)
EPOCH_LOSS, EPOCH_ROWS, BATCH_LOSS = 0, 1, 2
N_SUMS = 3
# status codes
OK, BAD_ROW, DIVERGED = 0, 1, 2
_DIVERGING_ROW = -2

# Batches (or batch segments) of fewer rows run serially.  Measured on the 2-core
# development machine at 10 and 100 features: the parallel path breaks even at
# about 100 rows and gains 1.3-2x from 192 rows on (fork/join plus zeroing and
# merging the partial buffers cost about as much as 50 rows).
PAR_MIN_ROWS = 128


class KernelConfig(NamedTuple):
    """Immutable settings of the kernels; built once per run from TrainOptions."""

    model: int
    optimizer: int
    schedule: int
    batch_size: int
    parts: int
    par_min_rows: int
    lr: float
    l1: float
    l2: float
    momentum: float
    beta1: float
    beta2: float
    eps: float
    power_t: float
    gamma: float
    step_epochs: int
    warmup: int
    total_iterations: int
    average: bool


@kernel()
def _accumulate(model, X, y, rows, lo, hi, center, scale, W, G, s, g):
    """Add the loss gradients of rows[lo:hi] into ``G``; return (loss sum, status).

    status is -1, the position in ``rows`` of a row with non-finite data, or
    _DIVERGING_ROW when a finite row gets a non-finite loss (the weights blew up).
    """
    k_out = W.shape[0]
    d = X.shape[1]
    total = 0.0
    for r in range(lo, hi):
        i = rows[r]
        for k in range(k_out):
            acc = W[k, d]
            for j in range(d):
                acc += W[k, j] * ((X[i, j] - center[j]) * scale[j])
            s[k] = acc
        loss = loss_grad(model, s, y[i], g)
        if not math.isfinite(loss):
            for j in range(d):
                if not math.isfinite(X[i, j]):
                    return total, r
            return total, _DIVERGING_ROW
        total += loss
        for k in range(k_out):
            gk = g[k]
            if gk != 0.0:
                for j in range(d):
                    G[k, j] += gk * ((X[i, j] - center[j]) * scale[j])
                G[k, d] += gk
    return total, -1


@kernel()
def finish_batch(cfg, W, G, slots, counters, sums):
    """Take the step for the rows gathered so far; False if the model diverged."""
    t = counters[T]
    lr = lr_at(cfg, t, counters[EPOCH])
    ok = step(cfg, W, G, slots, counters[FILL], t + 1, lr)
    counters[T] = t + 1
    sums[EPOCH_LOSS] += sums[BATCH_LOSS]
    sums[EPOCH_ROWS] += counters[FILL]
    sums[BATCH_LOSS] = 0.0
    counters[FILL] = 0
    return ok and math.isfinite(sums[EPOCH_LOSS])


@kernel(parallel=True)
def train_block(cfg, X, y, rows, center, scale, W, G, slots, counters, sums, partial, ploss, pstatus, s_buf, g_buf):
    """Run all mini-batches over ``rows`` (block-local indices, in visiting order)."""
    n = rows.shape[0]
    d = X.shape[1]
    k_out = W.shape[0]
    i = 0
    while i < n:
        take = min(cfg.batch_size - counters[FILL], n - i)
        if cfg.parts > 1 and take >= cfg.par_min_rows:
            parts = cfg.parts
            for p in prange(parts):
                lo = i + p * take // parts
                hi = i + (p + 1) * take // parts
                partial[p] = 0.0
                res = _accumulate(
                    cfg.model, X, y, rows, lo, hi, center, scale, W, partial[p], s_buf[p, :k_out], g_buf[p, :k_out]
                )
                ploss[p] = res[0]
                pstatus[p] = res[1]
            loss = 0.0
            status = -1
            for p in range(parts):
                loss += ploss[p]
                if status == -1 and pstatus[p] != -1:
                    status = pstatus[p]
                for k in range(k_out):
                    for j in range(d + 1):
                        G[k, j] += partial[p, k, j]
        else:
            res = _accumulate(cfg.model, X, y, rows, i, i + take, center, scale, W, G, s_buf[0, :k_out], g_buf[0, :k_out])
            loss = res[0]
            status = res[1]
        if status >= 0:
            counters[BAD] = rows[status]
            return BAD_ROW
        if status == _DIVERGING_ROW:
            return DIVERGED
        sums[BATCH_LOSS] += loss
        counters[FILL] += take
        i += take
        if counters[FILL] == cfg.batch_size:
            if not finish_batch(cfg, W, G, slots, counters, sums):
                return DIVERGED
    return OK


@kernel(parallel=True)
def scores(X, rows, center, scale, W, out):
    """Raw scores of rows ``rows`` of ``X``: out[r, k] = W[k, :d]·z + W[k, d]."""
    d = X.shape[1]
    k_out = W.shape[0]
    for r in prange(rows.shape[0]):
        i = rows[r]
        for k in range(k_out):
            acc = W[k, d]
            for j in range(d):
                acc += W[k, j] * ((X[i, j] - center[j]) * scale[j])
            out[r, k] = acc
    return out


@kernel()
def first_nonfinite_row(X):
    """Index of the first row of ``X`` holding NaN or ±inf, or -1."""
    n, d = X.shape
    for i in range(n):
        for j in range(d):
            if not math.isfinite(X[i, j]):
                return i
    return -1


_LINE = 8  # float64s per 64-byte cache line


def _padded(n: int) -> int:
    """``n`` rounded up to whole cache lines, plus one line of gap."""
    return -(-n // _LINE) * _LINE + _LINE


class Buffers:
    """Scratch arrays of ``train_block``, allocated once per run.

    Each thread's rows are padded to whole cache lines, so threads never write
    to the same line (false sharing made the parallel path slower than the
    serial one at 10 features).  Kernels use only the first columns.
    """

    def __init__(self, parts: int, k_out: int, d: int):
        self.partial = np.zeros((parts, k_out, _padded(d + 1)))
        self.ploss = np.zeros(_padded(parts))
        self.pstatus = np.zeros(_padded(parts), dtype=np.int64)
        self.s_buf = np.zeros((parts, _padded(k_out)))
        self.g_buf = np.zeros((parts, _padded(k_out)))
