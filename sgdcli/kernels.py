"""Compiled kernels: the fused mini-batch loop, scoring, and row checks.

``train_block`` runs every mini-batch of one in-memory block inside a single
compiled call.  A batch may straddle blocks: its gradient sum ``G`` and the
number of rows in it (``counters[FILL]``) carry over to the next call, so an
epoch is one stream of ceil(rows / B) batches whatever the block size, and
full-batch gradient descent accumulates over every block before its one step.

Standardization is folded out of the inner loops: within a batch the weights
are fixed, so scores use effective weights W·diag(1/σ) with the bias shifted
by −W·(μ/σ), and the gradient is summed over raw features and mapped back to
standardized units once per batch (O(outputs × features) per step).

Large batches are split into ``cfg.parts`` contiguous row ranges summed in
parallel (``prange``); each thread writes only its own partial buffer and the
partials are added in a fixed order, so results depend on the thread count
but never on scheduling.  Batches of fewer than ``cfg.par_min_rows`` rows run
serially: a fork/join costs about 2 µs.

Rows are visited in a random order inside blocks far larger than the caches,
so every loop over rows prefetches the row ``AHEAD`` steps ahead
(intrinsics.py).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import prange

from sgdcli.intrinsics import AHEAD, prefetch_row
from sgdcli.jit import kernel
from sgdcli.losses import loss_grad, loss_grad_one
from sgdcli.optimizers import N_SLOTS, SGD, SLOT_AVG, step
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
    standardized: bool
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


class TrainState(NamedTuple):
    """Everything that changes during training, as arrays (checkpointable)."""

    W: np.ndarray  # (outputs, features + 1) in standardized units; the last column is the bias
    G: np.ndarray  # gradient sum of the batch in progress, over raw features
    slots: np.ndarray  # optimizer state and the running average
    counters: np.ndarray  # T, FILL, EPOCH, BAD
    sums: np.ndarray  # EPOCH_LOSS, EPOCH_ROWS, BATCH_LOSS

    @classmethod
    def zeros(cls, k_out: int, d: int) -> "TrainState":
        return cls(
            W=np.zeros((k_out, d + 1)),
            G=np.zeros((k_out, d + 1)),
            slots=np.zeros((N_SLOTS, k_out, d + 1)),
            counters=np.zeros(N_COUNTERS, dtype=np.int64),
            sums=np.zeros(N_SUMS),
        )

    @property
    def iterations(self) -> int:
        return int(self.counters[T])

    def params(self, average: bool) -> np.ndarray:
        """The parameters a model should use: the Polyak average or the last iterate."""
        return self.slots[SLOT_AVG] if average and self.iterations > 0 else self.W


_LINE = 8  # float64s per 64-byte cache line


def _padded(n: int) -> int:
    """``n`` rounded up to whole cache lines, plus one line of gap."""
    return -(-n // _LINE) * _LINE + _LINE


class Scratch(NamedTuple):
    """Work arrays of ``train_block``, allocated once per run.

    Each thread's rows are padded to whole cache lines, so threads never write
    to the same line (false sharing made the parallel path slower than the
    serial one at 10 features).  Kernels use only the first columns.
    """

    partial: np.ndarray  # per-thread gradient sums
    ploss: np.ndarray
    pstatus: np.ndarray
    s_buf: np.ndarray  # per-thread scores of one row
    g_buf: np.ndarray  # per-thread d loss / d score of one row
    We: np.ndarray  # effective weights on raw features

    @classmethod
    def make(cls, parts: int, k_out: int, d: int) -> "Scratch":
        return cls(
            partial=np.zeros((parts, k_out, _padded(d + 1))),
            ploss=np.zeros(_padded(parts)),
            pstatus=np.zeros(_padded(parts), dtype=np.int64),
            s_buf=np.zeros((parts, _padded(k_out))),
            g_buf=np.zeros((parts, _padded(k_out))),
            We=np.zeros((k_out, d + 1)),
        )


@kernel()
def fold_weights(W, center, scale, We):
    """Weights on raw features equivalent to ``W`` on (x − center)·scale."""
    k_out, d1 = W.shape
    d = d1 - 1
    for k in range(k_out):
        bias = W[k, d]
        for j in range(d):
            w = W[k, j] * scale[j]
            We[k, j] = w
            bias -= w * center[j]
        We[k, d] = bias
    return We


@kernel(callee=True)
def _accumulate(model, X, y, rows, lo, hi, We, G, s, g):
    """Add the loss gradients of rows[lo:hi] into ``G``; return (loss sum, status).

    status is -1, the position in ``rows`` of a row with non-finite data, or
    _DIVERGING_ROW when a finite row gets a non-finite loss (the weights blew up).
    """
    k_out = We.shape[0]
    d = X.shape[1]
    total = 0.0
    n = rows.shape[0]  # prefetch across batch boundaries, or small batches start cold
    for r in range(lo, hi):
        if r + AHEAD < n:
            prefetch_row(X, rows[r + AHEAD])
        i = rows[r]
        for k in range(k_out):
            acc = We[k, d]
            for j in range(d):
                acc += We[k, j] * X[i, j]
            s[k] = acc
        loss = loss_grad(model, s, y[i], g)
        if not math.isfinite(loss):
            return total, _non_finite(X, i, r)
        total += loss
        for k in range(k_out):
            gk = g[k]
            if gk != 0.0:
                for j in range(d):
                    G[k, j] += gk * X[i, j]
                G[k, d] += gk
    return total, -1


@kernel(callee=True)
def _accumulate_one(model, X, y, rows, lo, hi, w, grad):
    """``_accumulate`` for a single-output model (weights ``w``, gradient sum ``grad``).

    Two rows at a time, in scalars: one pass over the weights scores both, and
    one read-modify-write of ``grad`` adds both.  The CPU gets two independent
    rows (two cache misses, two exp/log1p) to overlap.  An odd last row is
    paired with itself and its copy given no weight.  Side by side at 100
    features, shuffled rows, one thread: 1.4-1.6x the rows/s of the general
    one-row-at-a-time loop above.
    """
    d = X.shape[1]
    total = 0.0
    n = rows.shape[0]
    r = lo
    while r < hi:
        if r + AHEAD + 1 < n:
            prefetch_row(X, rows[r + AHEAD])
            prefetch_row(X, rows[r + AHEAD + 1])
        i = rows[r]
        single = r + 1 == hi
        i2 = i if single else rows[r + 1]
        z = w[d]
        z2 = z
        for j in range(d):
            z += w[j] * X[i, j]
            z2 += w[j] * X[i2, j]
        loss, dz = loss_grad_one(model, z, y[i])
        loss2, dz2 = loss_grad_one(model, z2, y[i2])
        if not math.isfinite(loss):
            return total, _non_finite(X, i, r)
        if single:
            loss2 = 0.0
            dz2 = 0.0
        elif not math.isfinite(loss2):
            return total, _non_finite(X, i2, r + 1)
        total += loss + loss2
        if dz != 0.0 or dz2 != 0.0:
            for j in range(d):
                grad[j] += dz * X[i, j] + dz2 * X[i2, j]
            grad[d] += dz + dz2
        r += 2
    return total, -1


@kernel(callee=True)
def _non_finite(X, i, r):
    """The status of position ``r`` (row ``i``) whose loss is not finite: r for bad data, else diverging."""
    for j in range(X.shape[1]):
        if not math.isfinite(X[i, j]):
            return r
    return _DIVERGING_ROW


def finish_batch(cfg, state, scratch, center, scale):
    """Take the step for the rows gathered so far; False if the model diverged."""
    return _finish_batch(cfg, _compiled_state(cfg, state), scratch, *_compiled_scaling(cfg, center, scale))


def uses_slots(cfg: KernelConfig) -> bool:
    """Whether the run keeps optimizer state or a running average: all but plain SGD without averaging."""
    return cfg.optimizer != SGD or cfg.average


def _compiled_state(cfg: KernelConfig, state: TrainState) -> TrainState:
    """``state`` as the kernels take it: without the optimizer slots when the run never uses them.

    Plain SGD without averaging keeps no per-weight state.  Passing None in its
    place lets Numba prune every other update rule from the compiled step
    (``slots is None`` is decided at compile time), which shortens a first
    run's compile by about a second.  The arrays that change are shared.
    """
    return state if uses_slots(cfg) else state._replace(slots=None)


def _compiled_scaling(cfg: KernelConfig, center, scale) -> tuple:
    """(center, scale) as the kernels take them: None for both without ``--standardize``.

    As with the slots above, the kernels test ``center is None``, which Numba
    decides at compile time: a run without standardization never compiles
    ``fold_weights`` or the mapping of gradients to standardized units
    (0.5-0.6 s of a first run's compile, measured side by side).
    """
    return (center, scale) if cfg.standardized else (None, None)


@kernel()
def _finish_batch(cfg, state, scratch, center, scale):
    W, G, counters, sums = state.W, state.G, state.counters, state.sums
    if center is not None:  # raw-feature sums to standardized units: σ⁻¹·(Σg·x − μ·Σg)
        k_out, d1 = G.shape
        for k in range(k_out):
            gb = G[k, d1 - 1]
            for j in range(d1 - 1):
                G[k, j] = scale[j] * (G[k, j] - center[j] * gb)
    t = counters[T]
    lr = lr_at(cfg, t, counters[EPOCH])
    ok = step(cfg, W, G, state.slots, counters[FILL], t + 1, lr)
    counters[T] = t + 1
    sums[EPOCH_LOSS] += sums[BATCH_LOSS]
    sums[EPOCH_ROWS] += counters[FILL]
    sums[BATCH_LOSS] = 0.0
    counters[FILL] = 0
    if center is not None:
        fold_weights(W, center, scale, scratch.We)
    return ok and math.isfinite(sums[EPOCH_LOSS])


@kernel()
def train_block_pure_sgd(cfg, X, y, rows, center, scale, w, counters, sums):
    """Pure SGD (batch 1, plain update, no L1, no averaging) of a single-output model, one row at a time.

    The update w <- w - lr·(g·z + l2·w) is applied in place as
    w·(1 − lr·l2) − lr·g·z, with z = (x − center)·scale: no gradient buffer and
    no general optimizer step, which dominate at batch 1.  Same step,
    different rounding from the general path.  Scalars only (``w`` is the one
    row of weights): 1.3x the rows/s of the same loop over an outputs axis,
    side by side; softmax at batch 1 takes the general path.
    """
    d = X.shape[1]
    n = rows.shape[0]
    for r in range(n):
        if r + AHEAD < n:
            prefetch_row(X, rows[r + AHEAD])
        i = rows[r]
        z = w[d]
        if center is not None:
            for j in range(d):
                z += w[j] * ((X[i, j] - center[j]) * scale[j])
        else:
            for j in range(d):
                z += w[j] * X[i, j]
        loss, dz = loss_grad_one(cfg.model, z, y[i])
        if not math.isfinite(loss):
            if _non_finite(X, i, r) >= 0:
                counters[BAD] = i
                return BAD_ROW
            return DIVERGED
        t = counters[T]
        lr = lr_at(cfg, t, counters[EPOCH])
        shrink = 1.0 - lr * cfg.l2
        step_k = lr * dz
        if step_k != 0.0 or shrink != 1.0:
            if center is not None:
                for j in range(d):
                    w[j] = w[j] * shrink - step_k * ((X[i, j] - center[j]) * scale[j])
            else:
                for j in range(d):
                    w[j] = w[j] * shrink - step_k * X[i, j]
            w[d] -= step_k
        counters[T] = t + 1
        sums[EPOCH_LOSS] += loss
        sums[EPOCH_ROWS] += 1.0
    for j in range(d + 1):  # a blow-up in the last row shows here rather than in the next call
        if not math.isfinite(w[j]):
            return DIVERGED
    return OK


def is_pure_sgd(cfg: KernelConfig, outputs: int) -> bool:
    """Batch 1 of a single-output model with the plain update, no L1 and no averaging: the in-place path."""
    return cfg.batch_size == 1 and outputs == 1 and cfg.optimizer == SGD and cfg.l1 == 0.0 and not cfg.average


def train_block(cfg, X, y, rows, center, scale, state, scratch):
    """Run all mini-batches over ``rows`` (block-local indices, in visiting order).

    Returns OK, BAD_ROW (the row is in counters[BAD]) or DIVERGED.  A Python
    entry that picks the compiled kernel the run needs, so that a run compiles
    only that one (compiling is most of a first run's start-up): the in-place
    pure-SGD path, or the batch loop with or without its threaded branch and
    with the single-output or the general gradient loop; either with or
    without the standardization code.
    """
    k_out = state.W.shape[0]
    center, scale = _compiled_scaling(cfg, center, scale)
    if is_pure_sgd(cfg, k_out):
        return train_block_pure_sgd(cfg, X, y, rows, center, scale, state.W[0], state.counters, state.sums)
    variant = {}  # an omitted argument prunes its branch at compile time
    if cfg.parts > 1 and cfg.batch_size >= cfg.par_min_rows:
        variant["threads"] = cfg.parts
    if k_out > 1:
        variant["multi"] = True
    return train_block_batches(cfg, X, y, rows, center, scale, _compiled_state(cfg, state), scratch, **variant)


@kernel()
def train_block_batches(cfg, X, y, rows, center, scale, state, scratch, threads=None, multi=None):
    """The general path of ``train_block``: gradient sums over batches, then ``step``.

    Without ``threads`` the threaded branch is pruned at compile time (Numba
    prunes ``is None`` tests of omitted arguments), so serial runs never
    compile the parallel kernel.  Likewise single-output models omit ``multi``
    and compile only ``_accumulate_one``; multi-output ones pass it and use the
    general ``_accumulate`` (a bool-typed argument prunes nothing, so they
    compile both).
    """
    G, counters, sums = state.G, state.counters, state.sums
    partial, ploss, pstatus, s_buf, g_buf = scratch.partial, scratch.ploss, scratch.pstatus, scratch.s_buf, scratch.g_buf
    n = rows.shape[0]
    d = X.shape[1]
    k_out = state.W.shape[0]
    if center is not None:
        We = fold_weights(state.W, center, scale, scratch.We)
    else:
        We = state.W
    i = np.int64(0)  # not a literal 0: callees would be compiled once more for Literal[int](0)
    while i < n:
        take = min(cfg.batch_size - counters[FILL], n - i)
        loss = 0.0
        status = -1
        threaded = False
        if threads is not None:
            threaded = take >= cfg.par_min_rows
            if threaded:
                _accumulate_parallel(cfg.model, threads, X, y, rows, i, take, We, partial, ploss, pstatus, s_buf, g_buf,
                                     multi)
                for p in range(threads):
                    loss += ploss[p]
                    if status == -1 and pstatus[p] != -1:
                        status = pstatus[p]
                    for k in range(k_out):
                        for j in range(d + 1):
                            G[k, j] += partial[p, k, j]
        if not threaded:
            if multi is None:
                res = _accumulate_one(cfg.model, X, y, rows, i, i + take, We[0], G[0])
            else:
                res = _accumulate(cfg.model, X, y, rows, i, i + take, We, G, s_buf[0, :k_out], g_buf[0, :k_out])
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
            if not _finish_batch(cfg, state, scratch, center, scale):
                return DIVERGED
    return OK


@kernel(parallel=True, callee=True)
def _accumulate_parallel(model, parts, X, y, rows, i, take, We, partial, ploss, pstatus, s_buf, g_buf, multi):
    """Rows rows[i:i+take] split into ``parts`` contiguous ranges, one per thread.

    Each thread writes only its own partial sums, loss and status.  Kept apart
    from the batch loop so that only this small function goes through Numba's
    parallel compiler, and it takes plain arrays: writes through a namedtuple
    attribute inside a prange are lost (numba issues 7135 and 10338, open).
    """
    k_out = We.shape[0]
    for p in prange(parts):
        lo = i + p * take // parts
        hi = i + (p + 1) * take // parts
        partial[p] = 0.0
        if multi is None:
            res = _accumulate_one(model, X, y, rows, lo, hi, We[0], partial[p, 0])
        else:
            res = _accumulate(model, X, y, rows, lo, hi, We, partial[p], s_buf[p, :k_out], g_buf[p, :k_out])
        ploss[p] = res[0]
        pstatus[p] = res[1]


@kernel(parallel=True)
def scores(X, rows, We, out):
    """Raw scores of rows ``rows`` of ``X``: out[r, k] = We[k, :d]·x + We[k, d]."""
    d = X.shape[1]
    k_out = We.shape[0]
    n = rows.shape[0]
    for r in prange(n):
        if r + AHEAD < n:
            prefetch_row(X, rows[r + AHEAD])
        i = rows[r]
        for k in range(k_out):
            acc = We[k, d]
            for j in range(d):
                acc += We[k, j] * X[i, j]
            out[r, k] = acc
    return out


@kernel()
def finite_rows(X, y, out):
    """out[i] = every feature of row i and its label are finite.

    Serial on purpose: it runs in the reader thread while the training kernel
    runs its own parallel loops, and not every threading layer allows two
    parallel regions at once.
    """
    n, d = X.shape
    for i in range(n):
        ok = math.isfinite(y[i])
        for j in range(d):
            ok = ok and math.isfinite(X[i, j])
        out[i] = ok
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
