"""Optimizers: how one averaged gradient becomes a step.

Each optimizer keeps at most two state arrays ("slots") shaped like the
parameters; a third slot holds the Polyak–Ruppert average when ``--average``
is on.  ``step`` applies one update to every parameter and returns False as
soon as a parameter becomes non-finite.
"""

from __future__ import annotations

import math

from sgdcli.jit import kernel

SGD, MOMENTUM, NESTEROV, ADAGRAD, RMSPROP, ADAM = 0, 1, 2, 3, 4, 5
CODES = {"sgd": SGD, "momentum": MOMENTUM, "nesterov": NESTEROV, "adagrad": ADAGRAD, "rmsprop": RMSPROP, "adam": ADAM}
SLOT_A, SLOT_B, SLOT_AVG = 0, 1, 2
N_SLOTS = 3


@kernel()
def step(cfg, W, G, slots, count, t, lr):
    """Apply update number ``t`` (1-based) from the gradient sum ``G`` over ``count`` rows.

    The penalty (l2/2)·‖w‖² + l1·‖w‖₁ is added to every weight but not to the
    bias (the last column).  ``G`` is zeroed for the next batch.
    """
    k_out, d1 = W.shape
    d = d1 - 1
    inv = 1.0 / count
    ok = True
    opt = cfg.optimizer
    mu = cfg.momentum
    b1 = cfg.beta1
    b2 = cfg.beta2
    eps = cfg.eps
    if opt == ADAM:
        c1 = 1.0 - b1**t
        c2 = 1.0 - b2**t
    else:
        c1 = 1.0
        c2 = 1.0
    for k in range(k_out):
        for j in range(d1):
            w = W[k, j]
            g = G[k, j] * inv
            G[k, j] = 0.0
            if j < d:
                g += cfg.l2 * w
                if w > 0:
                    g += cfg.l1
                elif w < 0:
                    g -= cfg.l1
            if opt == SGD:
                w -= lr * g
            elif opt == MOMENTUM:
                v = mu * slots[SLOT_A, k, j] + g
                slots[SLOT_A, k, j] = v
                w -= lr * v
            elif opt == NESTEROV:
                v = mu * slots[SLOT_A, k, j] + g
                slots[SLOT_A, k, j] = v
                w -= lr * (g + mu * v)
            elif opt == ADAGRAD:
                a = slots[SLOT_A, k, j] + g * g
                slots[SLOT_A, k, j] = a
                w -= lr * g / (math.sqrt(a) + eps)
            elif opt == RMSPROP:
                a = b2 * slots[SLOT_A, k, j] + (1.0 - b2) * g * g
                slots[SLOT_A, k, j] = a
                w -= lr * g / (math.sqrt(a) + eps)
            else:  # ADAM
                m = b1 * slots[SLOT_A, k, j] + (1.0 - b1) * g
                v = b2 * slots[SLOT_B, k, j] + (1.0 - b2) * g * g
                slots[SLOT_A, k, j] = m
                slots[SLOT_B, k, j] = v
                w -= lr * (m / c1) / (math.sqrt(v / c2) + eps)
            W[k, j] = w
            if cfg.average:
                slots[SLOT_AVG, k, j] += (w - slots[SLOT_AVG, k, j]) / t
            if not math.isfinite(w):
                ok = False
    return ok
