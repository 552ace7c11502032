"""The fused mini-batch loop: every mini-batch of one in-memory block in a single compiled call.

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
serially (state.py says why).

The kernels read rows of a flat array at element offsets: the rows of a
mapped file in place (wherever its chunks lie) and of a buffer alike, through
one compiled type.  Rows come in pages from random places of the file
(data/shuffle.py), so every loop over rows prefetches the row ``AHEAD`` steps
ahead (intrinsics.py).  The labels come in visiting order: ``y[r]`` belongs
to the row at ``rows[r]``, and so does its sample weight ``sw[r]`` (None: no
sample weights, and no code for them compiled).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from sgdcli.kernels.intrinsics import AHEAD, prefetch_span
from sgdcli.kernels.jit import kernel
from sgdcli.kernels.losses import (LOGISTIC, ROWS_TOGETHER, logistic_one, logistic_rows, loss_grad, loss_grad_one,
                                   weighed, weighed_scores)
from sgdcli.kernels.optimizers import SGD, SLOT_A, step
from sgdcli.kernels.pure_sgd import is_pure_sgd, train_block_pure_sgd
from sgdcli.kernels.rows import has_nonfinite, is_finite
from sgdcli.kernels.schedules import lr_at
from sgdcli.kernels.scoring import fold_weights
from sgdcli.kernels.state import (BAD, BAD_ROW, BATCH_LOSS, DIVERGED, EPOCH, EPOCH_LOSS, EPOCH_ROWS, FILL, OK, T,
                                  KernelConfig, TrainState, uses_slots)

_DIVERGING_ROW = -2  # a status: a finite row whose loss is not finite (the weights blew up)
# _accumulate_logistic scores its rows in four variables written out by hand: another group size would step
# over rows it never scores
assert ROWS_TOGETHER == 4, "losses.ROWS_TOGETHER must match _accumulate_logistic's four rows"


@kernel(callee=True)
def _accumulate(objective, X, y, sw, rows, lo, hi, We, G, s, g):
    """Add the loss gradients of the rows at rows[lo:hi] into ``G``; return (loss sum, status).

    status is -1, the position in ``rows`` of a row with non-finite data, or
    _DIVERGING_ROW when a finite row gets a non-finite loss (the weights blew up).
    """
    k_out = We.shape[0]
    d = We.shape[1] - 1
    total = 0.0
    n = rows.shape[0]  # prefetch across batch boundaries, or small batches start cold
    for r in range(lo, hi):
        if r + AHEAD < n:
            prefetch_span(X, rows[r + AHEAD], d)
        x = X[rows[r]:rows[r] + d]
        for k in range(k_out):
            acc = We[k, d]
            for j in range(d):
                acc += We[k, j] * x[j]
            s[k] = acc
        loss = weighed_scores(sw, r, loss_grad(objective, s, y[r], g), g)
        if not is_finite(loss):
            return total, r if has_nonfinite(x) else _DIVERGING_ROW
        total += loss
        for k in range(k_out):
            gk = g[k]
            if gk != 0.0:
                for j in range(d):
                    G[k, j] += gk * x[j]
                G[k, d] += gk
    return total, -1


@kernel(callee=True)
def _accumulate_one(objective, X, y, sw, rows, lo, hi, w, grad):
    """``_accumulate`` for a single-output model (weights ``w``, gradient sum ``grad``).

    Two rows at a time, in scalars: one pass over the weights scores both, and
    one read-modify-write of ``grad`` adds both.  The CPU gets two independent
    rows (two cache misses, two exp/log1p) to overlap.  An odd last row is
    paired with itself and its copy given no weight.  Scoring and summing in
    pairs is what makes single-output models faster per row than the general
    one-row-at-a-time loop above (the batch rows of `make bench` measure it).
    """
    d = w.shape[0] - 1
    total = 0.0
    n = rows.shape[0]
    r = lo
    while r < hi:
        if r + AHEAD + 1 < n:
            prefetch_span(X, rows[r + AHEAD], d)
            prefetch_span(X, rows[r + AHEAD + 1], d)
        single = r + 1 == hi
        at = rows[r]
        at2 = at if single else rows[r + 1]
        x = X[at:at + d]
        x2 = X[at2:at2 + d]
        z = w[d]
        z2 = z
        for j in range(d):
            z += w[j] * x[j]
            z2 += w[j] * x2[j]
        loss, dz = loss_grad_one(objective, z, y[r])
        loss, dz = weighed(sw, r, loss, dz)
        r2 = r if single else r + 1
        loss2, dz2 = loss_grad_one(objective, z2, y[r2])
        loss2, dz2 = weighed(sw, r2, loss2, dz2)
        if not is_finite(loss):
            return total, r if has_nonfinite(x) else _DIVERGING_ROW
        if single:
            loss2 = 0.0
            dz2 = 0.0
        elif not is_finite(loss2):
            return total, r + 1 if has_nonfinite(x2) else _DIVERGING_ROW
        total += loss + loss2
        if dz != 0.0 or dz2 != 0.0:
            for j in range(d):
                grad[j] += dz * x[j] + dz2 * x2[j]
            grad[d] += dz + dz2
        r += 2
    return total, -1


@kernel(callee=True)
def _accumulate_logistic(objective, X, y, sw, rows, lo, hi, w, grad, z):
    """``_accumulate_one`` for the logistic loss, with ``z`` a work array of at least ``ROWS_TOGETHER``
    (four) elements.

    Four rows at a time.  One pass over the weights scores all four.  Their
    losses and derivatives are taken together (``losses.logistic_rows``): with
    exp and log1p inlined arithmetic (vecmath.py), the four overlap, where
    through the C library they were calls, half the pair loop's time
    (bench/epoch_parts.py).  Then one pass adds the four rows, still in L1, to
    ``grad``.  A last group of fewer rows repeats its first row in the places
    left, with no weight.  The other losses are a few operations a row; for
    them this loop measured slower than the pair loop (bench/results/NOTES.md,
    2026-12-01, the logistic loop), so they keep it.
    """
    d = w.shape[0] - 1
    total = 0.0
    n = rows.shape[0]
    for r in range(lo, hi, ROWS_TOGETHER):
        m = min(ROWS_TOGETHER, hi - r)
        if r + AHEAD + ROWS_TOGETHER - 1 < n:
            for q in range(ROWS_TOGETHER):
                prefetch_span(X, rows[r + AHEAD + q], d)
        a0 = rows[r]
        a1 = rows[r + 1] if m > 1 else a0
        a2 = rows[r + 2] if m > 2 else a0
        a3 = rows[r + 3] if m > 3 else a0
        x0 = X[a0:a0 + d]
        x1 = X[a1:a1 + d]
        x2 = X[a2:a2 + d]
        x3 = X[a3:a3 + d]
        s0 = w[d]
        s1 = s0
        s2 = s0
        s3 = s0
        for j in range(d):
            s0 += w[j] * x0[j]
            s1 += w[j] * x1[j]
            s2 += w[j] * x2[j]
            s3 += w[j] * x3[j]
        z[0] = s0
        z[1] = s1
        z[2] = s2
        z[3] = s3
        part = logistic_rows(objective, z, y, sw, r, m)
        if not is_finite(part):  # the first row whose loss is not finite: bad data, or a blow-up
            # Unweighted: a finite weight leaves a non-finite loss non-finite.  (Calling the weights' helpers
            # here, in a branch that never runs, made a weighted kernel round differently when loaded from
            # the cache: tests/test_runtime.py.)
            for q in range(m):
                value = logistic_one((s0, s1, s2, s3)[q], y[r + q])[0]
                if not is_finite(value):
                    at = rows[r + q]
                    return total, r + q if has_nonfinite(X[at:at + d]) else _DIVERGING_ROW
        total += part
        d0, d1, d2, d3 = z[0], z[1], z[2], z[3]
        if d0 != 0.0 or d1 != 0.0 or d2 != 0.0 or d3 != 0.0:
            for j in range(d):
                grad[j] += (d0 * x0[j] + d1 * x1[j]) + (d2 * x2[j] + d3 * x3[j])
            grad[d] += (d0 + d1) + (d2 + d3)
    return total, -1


@kernel(callee=True)
def _accumulate_single(objective, X, y, sw, rows, lo, hi, w, grad, z, logistic, pairs):
    """The single-output loop for the loss: ``logistic`` is given (True) for the logistic loss, ``pairs`` for
    the others, and the other one omitted.

    Numba decides an ``is None`` test at compile time when the argument is
    None, and only then (a given argument's branch is compiled either way), so
    a run compiles one loop, and a multi-output run (neither given) none.
    Choosing by ``objective`` at run time, with the other losses' code a
    branch away inside the loop, made the logistic loop as slow as the pair
    loop.
    """
    if logistic is not None:
        return _accumulate_logistic(objective, X, y, sw, rows, lo, hi, w, grad, z)
    if pairs is not None:
        return _accumulate_one(objective, X, y, sw, rows, lo, hi, w, grad)
    return 0.0, np.int64(-1)  # multi-output runs: never called


def finish_batch(cfg, state, scratch, center, scale, divisor):
    """Take the step for the rows gathered so far, their gradients' sum over ``divisor`` (``partial_divisor``);
    False if the model diverged."""
    return _finish_batch(cfg, compiled_state(cfg, state), scratch, *compiled_scaling(cfg, center, scale), divisor)


def partial_divisor(batch: int, rows: int, stepped: bool) -> int:
    """What the gradients' sum of an epoch's last, partial batch of ``rows`` rows is divided by: ``batch`` where
    the model took a whole batch this epoch (``stepped``), so that each of its rows moves the model as much as
    a row of a whole batch; else ``rows``, the mean, where the partial batch is all the model's epoch (a full
    batch; a share of averaged models smaller than a batch).

    The mean of a few rows stepped at the rate for ``batch`` rows: --lr auto sizes that rate for the noise of a
    mean over ``batch`` rows, and one row's gradient, whose curvature along it is its squared norm (about the
    features' trace, far above the mean curvature), took the model past the optimum along that row by as many
    times: 1,025 rows at batch 1,024 ended with r² −13 where 1,024 rows got 0.96."""
    return batch if stepped else rows


def compiled_state(cfg: KernelConfig, state: TrainState) -> TrainState:
    """``state`` as the kernels take it: without the optimizer slots when the run never uses them.

    Plain SGD without averaging keeps no per-weight state.  Passing None in its
    place lets Numba prune every other update rule from the compiled step
    (``slots is None`` is decided at compile time), which shortens a first
    run's compile.  The arrays that change are shared.
    """
    return state if uses_slots(cfg) else state._replace(slots=None)


def compiled_scaling(cfg: KernelConfig, center, scale) -> tuple:
    """(center, scale) as the kernels take them: None for both without ``--standardize``.

    As with the slots above, the kernels test ``center is None``, which Numba
    decides at compile time: a run without standardization never compiles
    ``fold_weights`` or the mapping of gradients to standardized units, a
    part of a first run's compile (`make bench`'s first-run row).
    """
    return (center, scale) if cfg.standardized else (None, None)


@kernel()
def _finish_batch(cfg, state, scratch, center, scale, divisor):
    W, G, counters, sums = state.W, state.G, state.counters, state.sums
    if center is not None:  # raw-feature sums to standardized units: σ⁻¹·(Σg·x − μ·Σg)
        k_out, d1 = G.shape
        for k in range(k_out):
            gb = G[k, d1 - 1]
            for j in range(d1 - 1):
                G[k, j] = scale[j] * (G[k, j] - center[j] * gb)
    kept = scratch.stepped
    if kept.shape[1] > 0:  # the run's end measures a full batch's gradient on every row (training/fullbatch.py)
        inv = 1.0 / divisor
        last = kept.shape[2] - 1
        for k in range(kept.shape[1]):
            for j in range(last + 1):
                kept[0, k, j] = G[k, j] * inv + (cfg.l2 * W[k, j] if j < last else 0.0)
                kept[1, k, j] = W[k, j]
    t = counters[T]
    lr = lr_at(cfg, t, counters[EPOCH])
    ok = step(cfg, W, G, state.slots, divisor, t + 1 + cfg.clock, lr)
    counters[T] = t + 1
    sums[EPOCH_LOSS] += sums[BATCH_LOSS]
    sums[EPOCH_ROWS] += counters[FILL]
    sums[BATCH_LOSS] = 0.0
    counters[FILL] = 0
    if center is not None:
        fold_weights(W, center, scale, scratch.We)
    return ok and is_finite(sums[EPOCH_LOSS])


def train_block(cfg, X, y, rows, center, scale, state, scratch, sw=None):
    """Run all mini-batches over the rows ``rows`` of ``X``, in that order; ``y[r]`` is the label of row ``rows[r]``
    and ``sw[r]`` its weight (the sample weight scaled as model/weights.py says; None: every row weighs 1).

    ``X`` is a flat float32 array and ``rows`` the element offsets where the
    rows start (a row is the ``d`` elements from there), or, for callers
    with a 2-D array, row numbers of it.  Returns OK, BAD_ROW (its position
    in ``rows`` is in counters[BAD]) or DIVERGED.  A Python
    entry that picks the compiled kernel the run needs, so that a run compiles
    only that one (compiling is most of a first run's start-up): the in-place
    pure-SGD path, or the batch loop with or without its threaded branch and
    with the single-output or the general gradient loop; either with or
    without the standardization code.
    """
    if X.ndim == 2:
        X, rows = np.ascontiguousarray(X).reshape(-1), rows * X.shape[1]
    center, scale = compiled_scaling(cfg, center, scale)
    variant = variant_of(cfg, state, sw)
    if "velocity" in variant or "pure" in variant:
        variant.pop("pure", None)
        return train_block_pure_sgd(cfg, X, y, rows, center, scale, state.W[0], state.counters, state.sums,
                                    **variant)
    return train_block_batches(cfg, X, y, rows, center, scale, compiled_state(cfg, state), scratch, **variant)


def variant_of(cfg: KernelConfig, state: TrainState, sw) -> dict:
    """The arguments that pick the compiled code a run needs (an omitted one prunes its branch at compile
    time): ``pure`` (without a velocity) or ``velocity`` for the in-place pure-SGD path, else ``threads``,
    ``multi``, ``logistic`` or ``pairs`` for the batch loop; and ``sw``, the rows' weights, where they have
    them."""
    k_out = state.W.shape[0]
    variant = {} if sw is None else {"sw": sw}
    if is_pure_sgd(cfg, k_out):
        if cfg.optimizer == SGD:  # no velocity: its branch is pruned at compile time
            variant["pure"] = True
        else:
            variant["velocity"] = state.slots[SLOT_A][0]
        return variant
    if cfg.parts > 1 and cfg.batch_size >= cfg.par_min_rows:
        variant["threads"] = cfg.parts
    if k_out > 1:
        variant["multi"] = True
    else:
        variant["logistic" if cfg.loss[0] == LOGISTIC else "pairs"] = True
    return variant


@kernel()
def train_block_batches(cfg, X, y, rows, center, scale, state, scratch, threads=None, multi=None, sw=None,
                        logistic=None, pairs=None):
    """The general path of ``train_block``: gradient sums over batches, then ``step``.

    Without ``threads`` the threaded branch is pruned at compile time (Numba
    prunes ``is None`` tests of omitted arguments), so serial runs never
    compile the parallel kernel.  Likewise single-output models omit ``multi``
    and compile only ``_accumulate_one``; multi-output ones pass it and use the
    general ``_accumulate`` (a bool-typed argument prunes nothing, so they
    compile both).  Single-output models give one of ``logistic`` and
    ``pairs`` (``_accumulate_single``).
    """
    G, counters, sums = state.G, state.counters, state.sums
    partial, ploss, pstatus, s_buf, g_buf = scratch.partial, scratch.ploss, scratch.pstatus, scratch.s_buf, scratch.g_buf
    n = rows.shape[0]
    k_out, d1 = state.W.shape
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
                _accumulate_parallel(cfg.loss, threads, X, y, sw, rows, i, take, We, partial, ploss, pstatus, s_buf,
                                     g_buf, multi, logistic, pairs)
                for p in range(threads):
                    loss += ploss[p]
                    if status == -1 and pstatus[p] != -1:
                        status = pstatus[p]
                    for k in range(k_out):
                        for j in range(d1):
                            G[k, j] += partial[p, k, j]
        if not threaded:
            if multi is None:
                res = _accumulate_single(cfg.loss, X, y, sw, rows, i, i + take, We[0], G[0], s_buf[0], logistic, pairs)
            else:
                res = _accumulate(cfg.loss, X, y, sw, rows, i, i + take, We, G, s_buf[0, :k_out], g_buf[0, :k_out])
            loss = res[0]
            status = res[1]
        if status >= 0:
            counters[BAD] = status
            return BAD_ROW
        if status == _DIVERGING_ROW:
            return DIVERGED
        sums[BATCH_LOSS] += loss
        counters[FILL] += take
        i += take
        if counters[FILL] == cfg.batch_size:
            if not _finish_batch(cfg, state, scratch, center, scale, counters[FILL]):
                return DIVERGED
    return OK


@kernel(parallel=True, callee=True)
def _accumulate_parallel(objective, parts, X, y, sw, rows, i, take, We, partial, ploss, pstatus, s_buf, g_buf, multi,
                         logistic, pairs):
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
            res = _accumulate_single(objective, X, y, sw, rows, lo, hi, We[0], partial[p, 0], s_buf[p], logistic,
                                     pairs)
        else:
            res = _accumulate(objective, X, y, sw, rows, lo, hi, We, partial[p], s_buf[p, :k_out], g_buf[p, :k_out])
        ploss[p] = res[0]
        pstatus[p] = res[1]


