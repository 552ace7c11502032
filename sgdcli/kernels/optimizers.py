"""Optimizers: how one averaged gradient becomes a step.

Each optimizer keeps at most two state arrays ("slots") shaped like the
parameters; a third slot holds the Polyak–Ruppert average when ``--average``
is on.  ``step`` applies one update to every parameter and returns False if
a parameter became non-finite.  Plain SGD without averaging keeps no slots:
its kernels pass None, and Numba then compiles that update alone.
"""

from __future__ import annotations

import math

from sgdcli.kernels.jit import kernel

SGD, MOMENTUM, NESTEROV, ADAGRAD, RMSPROP, ADAM = 0, 1, 2, 3, 4, 5
CODES = {"sgd": SGD, "momentum": MOMENTUM, "nesterov": NESTEROV, "adagrad": ADAGRAD, "rmsprop": RMSPROP, "adam": ADAM}
SLOT_A, SLOT_B, SLOT_AVG = 0, 1, 2
N_SLOTS = 3


def kept_slots(optimizer: int, average: bool) -> dict[str, int]:
    """The slots that hold an update rule's state (and the running average), by the names a model file keeps
    them under: momentum's and Nesterov's velocity, AdaGrad's sum and RMSprop's average of squares ("a";
    RMSprop's "b", on sparse rows, counts the steps each average has seen), Adam's two moments."""
    kept = {MOMENTUM: {"a": SLOT_A}, NESTEROV: {"a": SLOT_A}, ADAGRAD: {"a": SLOT_A},
            RMSPROP: {"a": SLOT_A, "b": SLOT_B}, ADAM: {"a": SLOT_A, "b": SLOT_B}}.get(optimizer, {})
    return {**kept, "average": SLOT_AVG} if average else dict(kept)


@kernel(callee=True)
def step(cfg, W, G, slots, count, t, lr):
    """Apply update number ``t`` (1-based) from the gradient sum ``G`` divided by ``count`` (the batch's rows, or
    the whole batch's for an epoch's last, partial one: batches.partial_divisor).

    The penalty (l2/2)·‖w‖² + l1·‖w‖₁ is on every weight but not on the bias
    (the last column): l2·w joins the gradient, and L1 is a proximal step
    after the update (``_shrink``), which lands weights on exactly zero where
    the subgradient l1·sign(w) would overshoot it at every step and hover
    there.  ``G`` is zeroed for the next batch.  The bias's gradient is
    multiplied by ``cfg.bias_times``: for sgd, momentum and nesterov, whose
    steps are linear in the gradient, that is the bias's own rate, which --lr
    auto keeps free of the penalty's curvature (1 otherwise).

    Each pass below is a plain loop over the parameters with the optimizer
    chosen outside it, so LLVM vectorizes it: with the choice inside the loop,
    the step was a noticeable share of a small batch's time.
    """
    k_out, d1 = W.shape
    d = d1 - 1
    inv = 1.0 / count
    l2 = cfg.l2
    for k in range(k_out):  # G becomes the mean gradient plus the L2 penalty's
        for j in range(d):
            G[k, j] = G[k, j] * inv + l2 * W[k, j]
        G[k, d] *= inv * cfg.bias_times
    if slots is None:  # plain SGD without averaging: pruned at compile time to these loops alone
        for k in range(k_out):
            for j in range(d1):
                W[k, j] -= lr * G[k, j]
                G[k, j] = 0.0
            if cfg.l1 > 0.0:
                for j in range(d):
                    W[k, j] = _shrunk(W[k, j], lr * cfg.l1)
    else:
        if cfg.restart and _uphill(cfg, W, G, slots[SLOT_A], slots[SLOT_B]):
            slots[SLOT_A][:] = 0.0
            slots[SLOT_B][:] = 0.0  # the steps it gathered (``_shrink``)
        _update(cfg, W, G, slots, t, lr)
    finite = True
    for k in range(k_out):
        for j in range(d1):
            finite &= abs(W[k, j]) < math.inf
    return finite


@kernel(callee=True)
def _uphill(cfg, W, G, V, B):
    """Whether the velocity ``V`` of momentum or Nesterov, which the weights step against, points uphill of the
    objective's slope at the weights ``W``: carried into the step, it would climb, and it is dropped (a variant of
    the gradient scheme of adaptive restart, O'Donoghue and Candès, 2015, which tests the whole step). Only where
    the gradient is exact, a full batch's (``cfg.restart``): with a fixed momentum of 0.9, the velocity gathered
    over a full batch's first steps carried the model past the optimum and up the other side, where the falling
    rate of a schedule left it, above where it had been.

    The slope is the gradient ``G`` (the mean gradient and the L2 penalty's, the bias's times ``cfg.bias_times``)
    and, under --l1, the penalty's subgradient of least size: l1·sign(w) where w ≠ 0; where w = 0, the one that
    takes the gradient towards zero by up to l1, so a weight the penalty holds at zero has no say.  Under --l1
    the velocity too is what the proximal step leaves of it: its gradients' sum holds −l1·sign(w) over the steps
    it gathered (``B``: ``_shrink``), which the threshold takes back, and which is all that is left of it at the
    optimum; tested with that part, it was dropped at most steps there, at random.  Where w = 0, what is beyond
    the threshold."""
    k_out, d1 = G.shape
    l1 = cfg.l1
    slope = 0.0
    for k in range(k_out):
        for j in range(d1 - 1):
            g = G[k, j]
            v = V[k, j]
            if l1 > 0.0:
                w = W[k, j]
                if w != 0.0:
                    sign = 1.0 if w > 0.0 else -1.0
                    g += l1 * sign
                    v += l1 * sign * B[k, j]
                else:
                    g = _shrunk(g, l1)
                    v = _shrunk(v, l1 * B[k, j])
            slope += g * v
        slope += G[k, d1 - 1] / cfg.bias_times * V[k, d1 - 1]
    return slope < 0.0


@kernel(callee=True)
def _update(cfg, W, G, slots, t, lr):
    """Every update rule, and the running average; ``G`` holds the mean gradient and is zeroed."""
    k_out, d1 = W.shape
    opt = cfg.optimizer
    mu = cfg.momentum
    b1 = cfg.beta1
    b2 = cfg.beta2
    eps = cfg.eps
    A = slots[SLOT_A]
    B = slots[SLOT_B]
    for k in range(k_out):
        if opt == SGD:
            for j in range(d1):
                W[k, j] -= lr * G[k, j]
        elif opt == MOMENTUM:
            for j in range(d1):
                v = mu * A[k, j] + G[k, j]
                A[k, j] = v
                W[k, j] -= lr * v
        elif opt == NESTEROV:
            for j in range(d1):
                g = G[k, j]
                v = mu * A[k, j] + g
                A[k, j] = v
                W[k, j] -= lr * (g + mu * v)
        elif opt == ADAGRAD:
            for j in range(d1):
                g = G[k, j]
                a = A[k, j] + g * g
                A[k, j] = a
                W[k, j] -= lr * g / (math.sqrt(a) + eps)
        elif opt == RMSPROP:
            for j in range(d1):
                g = G[k, j]
                a = b2 * A[k, j] + (1.0 - b2) * g * g
                A[k, j] = a
                W[k, j] -= lr * g / (math.sqrt(a) + eps)
        else:  # ADAM
            c1 = 1.0 - b1**t
            c2 = 1.0 - b2**t
            for j in range(d1):
                g = G[k, j]
                m = b1 * A[k, j] + (1.0 - b1) * g
                v = b2 * B[k, j] + (1.0 - b2) * g * g
                A[k, j] = m
                B[k, j] = v
                W[k, j] -= lr * (m / c1) / (math.sqrt(v / c2) + eps)
        for j in range(d1):
            G[k, j] = 0.0
        if cfg.l1 > 0.0:
            _shrink(cfg, W, slots, k, t, lr)
    if cfg.average:  # the mean of the iterates after update cfg.average_from; until then, the iterate
        avg = slots[SLOT_AVG]
        n = max(t - cfg.average_from, 1)
        for k in range(k_out):
            for j in range(d1):
                avg[k, j] += (W[k, j] - avg[k, j]) / n


@kernel(callee=True)
def _shrink(cfg, W, slots, k, t, lr):
    """L1's proximal step on output ``k``'s weights (not its bias), after the update: each weight moves towards
    zero by l1 times its own step size, never across zero.

    The step size is what the update multiplies a gradient g by that has not changed since the rule's state
    began: the rate for sgd; for momentum, whose velocity is then g·(1 + μ + … + μ^(s−1)) after its s steps,
    the rate times that sum, and for Nesterov the same sum one term on; the rate over the root of the squares'
    sum or average for AdaGrad and RMSprop, and of Adam's corrected second moment (``t``: the update's number).
    A weight where the gradient meets the optimum's condition (g = −l1·sign(w) where w ≠ 0, |g| ≤ l1 where
    w = 0) then stays where it is: a threshold of the settled velocity's rate / (1 − μ) from the first step
    would pull a full batch started at the optimum (training/linearfit.py) towards zero until its velocity
    caught up.  Momentum's and Nesterov's sum is kept in slot B, one a weight: it starts again at a restart
    (``step``), where the velocity does.
    """
    d = W.shape[1] - 1
    opt = cfg.optimizer
    A = slots[SLOT_A]
    B = slots[SLOT_B]
    c2 = 1.0 - cfg.beta2**t
    mu = cfg.momentum
    for j in range(d):
        if opt == SGD:
            size = lr
        elif opt == MOMENTUM or opt == NESTEROV:
            gathered = mu * B[k, j] + 1.0  # this step's term included
            B[k, j] = gathered
            size = lr * gathered if opt == MOMENTUM else lr * (1.0 + mu * gathered)
        elif opt == ADAGRAD or opt == RMSPROP:
            size = lr / (math.sqrt(A[k, j]) + cfg.eps)
        else:  # ADAM
            size = lr / (math.sqrt(B[k, j] / c2) + cfg.eps)
        W[k, j] = _shrunk(W[k, j], size * cfg.l1)


@kernel(callee=True)
def _shrunk(w, by):
    """``w`` moved towards zero by ``by`` (≥ 0), never across it."""
    if w > by:
        return w - by
    if w < -by:
        return w + by
    return 0.0
