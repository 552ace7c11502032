"""Pure SGD on a single-output model: one row, one in-place update, no gradient buffer.

At batch 1 the general path's gradient buffer and optimizer step cost more
than the row itself; this kernel applies the update in place instead: the
plain one, or momentum's and Nesterov's with their velocity updated in the
same pass over the weights.  ``train_block`` (batches.py) picks it when
``is_pure_sgd`` says so.
"""

from __future__ import annotations

import math

from sgdcli.kernels.intrinsics import AHEAD, prefetch_span
from sgdcli.kernels.jit import kernel
from sgdcli.kernels.losses import loss_grad_one, weighed
from sgdcli.kernels.optimizers import MOMENTUM, NESTEROV, SGD
from sgdcli.kernels.rows import has_nonfinite, is_finite
from sgdcli.kernels.schedules import lr_at
from sgdcli.kernels.state import BAD, BAD_ROW, DIVERGED, EPOCH, EPOCH_LOSS, EPOCH_ROWS, OK, T, KernelConfig


@kernel()
def train_block_pure_sgd(cfg, X, y, rows, center, scale, w, counters, sums, velocity=None, sw=None):
    """SGD at batch 1 (plain, momentum or Nesterov; no L1, no averaging) of a single-output model, row by row.

    The plain update w <- w - lr·(g·z + l2·w) is applied in place as
    w·(1 − lr·l2) − lr·g·z, with z = (x − center)·scale: no gradient buffer and
    no general optimizer step, which dominate at batch 1.  Same step,
    different rounding from the general path.  With ``velocity`` (momentum's
    slot, one row) each weight's gradient, velocity and step are computed in
    one pass, as the general path's step would.  Scalars only (``w`` is the
    one row of weights), which keeps the loop in registers, faster than the
    same loop over an outputs axis; softmax at batch 1 takes the general path.
    ``sw``: the rows' weights, as ``train_block`` takes them.
    """
    d = w.shape[0] - 1
    n = rows.shape[0]
    mu = cfg.momentum
    nesterov = cfg.optimizer == NESTEROV
    for r in range(n):
        if r + AHEAD < n:
            prefetch_span(X, rows[r + AHEAD], d)
        x = X[rows[r]:rows[r] + d]
        z = w[d]
        if center is not None:
            for j in range(d):
                z += w[j] * ((x[j] - center[j]) * scale[j])
        else:
            for j in range(d):
                z += w[j] * x[j]
        loss, dz = loss_grad_one(cfg.loss, z, y[r])
        loss, dz = weighed(sw, r, loss, dz)
        if not is_finite(loss):
            if has_nonfinite(x):
                counters[BAD] = r
                return BAD_ROW
            return DIVERGED
        t = counters[T]
        lr = lr_at(cfg, t, counters[EPOCH])
        if velocity is not None:
            for j in range(d + 1):
                if j == d:
                    g = dz * cfg.bias_times  # the bias's own rate (optimizers.step)
                elif center is not None:
                    g = dz * ((x[j] - center[j]) * scale[j]) + cfg.l2 * w[j]
                else:
                    g = dz * x[j] + cfg.l2 * w[j]
                v = mu * velocity[j] + g
                velocity[j] = v
                w[j] -= lr * (g + mu * v) if nesterov else lr * v
        else:
            shrink = 1.0 - lr * cfg.l2
            step_k = lr * dz
            if step_k != 0.0 or shrink != 1.0:
                if center is not None:
                    for j in range(d):
                        w[j] = w[j] * shrink - step_k * ((x[j] - center[j]) * scale[j])
                else:
                    for j in range(d):
                        w[j] = w[j] * shrink - step_k * x[j]
                w[d] -= step_k * cfg.bias_times
        counters[T] = t + 1
        sums[EPOCH_LOSS] += loss
        sums[EPOCH_ROWS] += 1.0
    for j in range(d + 1):  # a blow-up in the last row shows here rather than in the next call
        if not math.isfinite(w[j]):
            return DIVERGED
    return OK


def is_pure_sgd(cfg: KernelConfig, outputs: int) -> bool:
    """Batch 1 of a single-output model with the plain, momentum or Nesterov update, no L1 and no averaging:
    the in-place path; not where a share of one row is a full batch, whose velocity restarts (optimizers.step)."""
    return (cfg.batch_size == 1 and outputs == 1 and cfg.optimizer in (SGD, MOMENTUM, NESTEROV) and cfg.l1 == 0.0
            and not cfg.average and not cfg.restart)

