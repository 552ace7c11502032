"""Mini-batch SGD on CSR rows in O(nonzeros) per row, whatever the feature count (issue 18, first part).

Rows come as CSR pieces: ``data``/``indices`` hold the nonzeros, and row r is
entries [starts[r], starts[r] + lens[r]).  Within one call the weights (the
bias column apart) are kept as ``a · W``: the L2 shrink of a step multiplies
the scalar ``a`` instead of every weight (Bottou; scikit-learn's
WeightVector), and a step adds the batch's gradient to the coordinates its
rows touched only, divided by ``a``.  The gradient of the batch in progress
is summed into ``G`` (dense, as the dense kernels keep it) with the list of
the coordinates it touched, so a batch may span calls; at the end of a call
``a`` is folded back into ``W``, so between calls (checkpoints, averaging)
``W`` holds the weights themselves.  Plain SGD only: momentum and the
adaptive rules would touch every weight each step.
"""

from __future__ import annotations

import math

import numpy as np

from sgdcli.kernels.jit import kernel
from sgdcli.kernels.losses import loss_grad
from sgdcli.kernels.schedules import lr_at
from sgdcli.kernels.state import BAD, BAD_ROW, DIVERGED, EPOCH, EPOCH_LOSS, EPOCH_ROWS, FILL, OK, T

SMALLEST_SCALE = 1e-9  # below this the scale is folded into the weights early, before precision suffers


@kernel(callee=True)
def _rebuild(G, touched, marks, nt):
    """After a resume mid-batch, the touched columns are those ``G`` holds; returns their count."""
    k_out, d1 = G.shape
    if nt > 0:
        return nt
    for j in range(d1 - 1):
        nonzero = False
        for k in range(k_out):
            nonzero = nonzero or G[k, j] != 0.0
        if nonzero and marks[j] == 0:
            marks[j] = 1
            touched[nt] = j
            nt += 1
    return nt


@kernel(callee=True)
def _apply(cfg, W, G, a, touched, n_touched, marks, rows, t, epoch):
    """One step with the summed gradient of ``rows`` rows; returns the new scale ``a``."""
    k_out, d1 = W.shape
    d = d1 - 1
    lr = lr_at(cfg, t, epoch)
    inv = 1.0 / rows
    a *= 1.0 - lr * cfg.l2
    if a < SMALLEST_SCALE or a <= 0.0:
        for k in range(k_out):
            for j in range(d):
                W[k, j] *= a
        a = 1.0
    step = lr * inv / a
    for i in range(n_touched):
        j = touched[i]
        for k in range(k_out):
            W[k, j] -= step * G[k, j]
            G[k, j] = 0.0
        marks[j] = 0
    for k in range(k_out):
        W[k, d] -= lr * inv * G[k, d]
        G[k, d] = 0.0
    return a


@kernel()
def train_block_sparse(cfg, data, indices, starts, lens, y, scale, W, G, counters, sums, touched, marks, n_touched):
    """Train on CSR rows in order (``y``: their targets as class codes or values); the status as the dense
    kernels return it (OK, BAD_ROW with the position in counters[BAD], DIVERGED).

    ``touched``/``marks``/``n_touched`` list the columns the batch in progress touched; they persist between
    calls with ``G`` (a fresh list with rows already summed, after a resume, is rebuilt from ``G``).
    """
    k_out, d1 = W.shape
    d = d1 - 1
    n = starts.shape[0]
    batch = cfg.batch_size
    nt = _rebuild(G, touched, marks, n_touched[0]) if counters[FILL] > 0 else n_touched[0]
    a = 1.0
    s = np.empty(k_out)
    g = np.empty(k_out)
    status = OK
    for r in range(n):
        lo = starts[r]
        hi = lo + lens[r]
        for k in range(k_out):
            acc = 0.0
            if scale is None:
                for e in range(lo, hi):
                    acc += W[k, indices[e]] * data[e]
            else:
                for e in range(lo, hi):
                    acc += W[k, indices[e]] * (data[e] * scale[indices[e]])
            s[k] = W[k, d] + a * acc
        loss = loss_grad(cfg.model, s, y[r], g)
        if not math.isfinite(loss):
            for e in range(lo, hi):
                if not math.isfinite(data[e]):
                    counters[BAD] = r
                    status = BAD_ROW
                    break
            if status == OK:
                status = DIVERGED
            break
        for e in range(lo, hi):
            j = indices[e]
            x = data[e] if scale is None else data[e] * scale[j]
            if marks[j] == 0:
                marks[j] = 1
                touched[nt] = j
                nt += 1
            for k in range(k_out):
                G[k, j] += g[k] * x
        for k in range(k_out):
            G[k, d] += g[k]
        sums[EPOCH_LOSS] += loss
        sums[EPOCH_ROWS] += 1.0
        counters[FILL] += 1
        if counters[FILL] == batch:
            a = _apply(cfg, W, G, a, touched, nt, marks, batch, counters[T], counters[EPOCH])
            nt = 0
            counters[FILL] = 0
            counters[T] += 1
    for k in range(k_out):  # W holds the weights themselves between calls
        for j in range(d):
            W[k, j] *= a
    n_touched[0] = nt
    if status == OK:
        for k in range(k_out):
            for j in range(d1):
                if not math.isfinite(W[k, j]):
                    return DIVERGED
    return status


@kernel()
def finish_batch_sparse(cfg, W, G, counters, touched, marks, n_touched):
    """The step of an epoch's last, partial batch (unless --drop-last)."""
    rows = counters[FILL]
    if rows == 0:
        return
    nt = _rebuild(G, touched, marks, n_touched[0])
    a = _apply(cfg, W, G, 1.0, touched, nt, marks, rows, counters[T], counters[EPOCH])
    k_out, d1 = W.shape
    for k in range(k_out):
        for j in range(d1 - 1):
            W[k, j] *= a
    n_touched[0] = 0
    counters[FILL] = 0
    counters[T] += 1
