"""Mini-batch SGD on CSR rows in O(nonzeros) per row, whatever the feature count.

Rows come as CSR pieces: ``data``/``indices`` hold the nonzeros, and row r is
entries [starts[r], starts[r] + lens[r]).  Within one call the weights (the
bias column apart) are kept as ``a · W``: the L2 shrink of a step multiplies
the scalar ``a`` instead of every weight (Bottou; scikit-learn's
WeightVector), and a step adds the batch's gradient to the coordinates its
rows touched only, divided by ``a``.  The gradient of the batch in progress
is summed into ``G`` (dense, as the dense kernels keep it) with the list of
the coordinates it touched, so a batch may span calls; at the end of a call
``a`` is folded back into ``W``, so between calls (checkpoints, averaging)
``W`` holds the weights themselves.  A step checks the weights it changed
for overflow; nothing else can change.

With ``--l1`` too, plain SGD applies L1 by the cumulative penalty
(Tsuruoka, Tsujii and Ananiadou, 2009; scikit-learn's ``l1penalty``): ``u``
is the penalty each weight could have received so far and ``Q`` what each
did receive.  A weight is clipped towards zero (never across it) for the
steps it sat out when a row that has it is scored, after each step that
changes it, and at the end of a call.  Without L2 that is exactly the same
penalty applied to every weight at every step (not the dense kernels'
proximal step: a weight held at zero banks what it could not take); with L2
it is scikit-learn's approximation.  ``Q`` is the first optimizer slot (plain SGD keeps none)
and ``u`` its unused bias column.

AdaGrad and RMSprop without L1, L2 or averaging are lazy too, and exact: a
weight whose gradient is zero does not move, AdaGrad's sum does not change,
and RMSprop's decays by β2 a step, which a touch catches up at once (the
steps each average has seen are kept in the second slot). So are momentum
and Nesterov without L1 or averaging, on columns many for a batch's nonzeros
(``cfg.lazy_momentum``): an untouched weight and its velocity move by the
same 2×2 matrix a step, L2 or not, which a touch catches up from their
running product (kernels/lazymomentum.py), to rounding. Adam, the penalties
of the adaptive rules, L1 and averaging change every weight at every step
(and so do momentum and Nesterov on fewer columns, where one pass over every
weight costs less than the catch-ups), so with any of them a batch's step is
the dense kernels' own (``optimizers.step`` over every weight, L1 as its
proximal step, O(features) a step) while its gradient still costs the batch's
nonzeros: the same updates as on the dense copy of the rows, at the cost
docs/sparse.md states.
"""

from __future__ import annotations

import math

import numpy as np

from sgdcli.kernels import lazymomentum
from sgdcli.kernels.centring import centre_gradient, centring_scores
from sgdcli.kernels.intrinsics import AHEAD, prefetch_span
from sgdcli.kernels.jit import kernel
from sgdcli.kernels.losses import loss_grad, loss_grad_one, weighed, weighed_scores
from sgdcli.kernels.optimizers import ADAGRAD, RMSPROP, SGD, SLOT_A, SLOT_B, step
from sgdcli.kernels.rows import is_finite
from sgdcli.kernels.schedules import lr_at
from sgdcli.kernels.state import (BAD, BAD_ROW, BATCH_LOSS, DIVERGED, EPOCH, EPOCH_LOSS, EPOCH_ROWS, FILL, GUARD, OK,
                                  T)

_GUARD_ITEMS = GUARD // 8  # float64s
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
def _clip(W, Q, a, u, columns, lo, hi):
    """The cumulative L1 penalty ``u`` (real units) on the weights of columns ``columns[lo:hi]`` (lo … hi − 1
    where ``columns`` is None), whose real values are ``a`` times W's.

    One loop, with no call per weight: a call per nonzero to a kernel with these branches took several times
    its arithmetic (docs/architecture.md).
    """
    for e in range(lo, hi):
        j = e if columns is None else columns[e]
        for k in range(W.shape[0]):
            w = a * W[k, j]
            if w > 0.0:
                z = max(0.0, w - (u + Q[k, j]))
            elif w < 0.0:
                z = min(0.0, w + (u - Q[k, j]))
            else:
                continue
            Q[k, j] += z - w
            W[k, j] = z / a


@kernel(callee=True)
def _apply(cfg, W, G, a, touched, n_touched, marks, rows, t, epoch, Q):
    """One step with the summed gradient over ``rows`` (a batch's rows: batches.partial_divisor); returns the new
    scale ``a``.

    ``Q`` (None without L1) holds the cumulative L1 penalty, its total ``u`` in its bias column; the touched
    weights were clipped for the steps they sat out when their rows were scored (``_catch_up_row``).
    """
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
    if Q is not None:  # this step's penalty, on the weights it changed (the others' waits in Q)
        u = Q[0, d] + lr * cfg.l1
        Q[0, d] = u
        _clip(W, Q, a, u, touched, 0, n_touched)
    for k in range(k_out):
        W[k, d] -= lr * inv * cfg.bias_times * G[k, d]  # the bias's own rate (optimizers.step)
        G[k, d] = 0.0
    return a


@kernel(callee=True)
def _catch_up_row(W, Q, a, indices, lo, hi):
    """The weights of a row's columns clipped for the steps they sat out, before the row is scored."""
    _clip(W, Q, a, Q[0, W.shape[1] - 1], indices, lo, hi)


@kernel(callee=True)
def _dense_step(cfg, W, G, slots, touched, n_touched, marks, rows, t, epoch):
    """One step of the dense kernels' update rule over every weight; False if a weight became non-finite."""
    for i in range(n_touched):
        marks[touched[i]] = 0
    return step(cfg, W, G, slots, rows, t + 1 + cfg.clock, lr_at(cfg, t, epoch))


@kernel(callee=True)
def _adaptive(cfg, W, G, A, seen, k, j, inv, lr, t):
    """AdaGrad's or RMSprop's update of W[k, j] from its summed gradient; ``seen[k, j]`` counts the steps
    RMSprop's average A[k, j] includes (the others decayed it by β2 each)."""
    g = G[k, j] * inv
    if cfg.optimizer == RMSPROP:
        b2 = cfg.beta2
        v = A[k, j] * b2 ** (t - seen[k, j]) * b2 + (1.0 - b2) * g * g
        seen[k, j] = t + 1
    else:
        v = A[k, j] + g * g
    A[k, j] = v
    W[k, j] -= lr * g / (math.sqrt(v) + cfg.eps)
    G[k, j] = 0.0


@kernel(callee=True)
def _lazy_adaptive(cfg, W, G, slots, touched, n_touched, marks, rows, t, epoch):
    """AdaGrad or RMSprop on the touched columns and the bias (step ``t + 1``)."""
    k_out, d1 = W.shape
    lr = lr_at(cfg, t, epoch)
    inv = 1.0 / rows
    A, seen = slots[SLOT_A], slots[SLOT_B]
    clock = t + cfg.clock  # the steps RMSprop's averages count
    for i in range(n_touched):
        j = touched[i]
        for k in range(k_out):
            _adaptive(cfg, W, G, A, seen, k, j, inv, lr, clock)
        marks[j] = 0
    for k in range(k_out):
        _adaptive(cfg, W, G, A, seen, k, d1 - 1, inv, lr, clock)


@kernel(callee=True)
def lazy_adaptive(cfg):
    """Whether AdaGrad or RMSprop steps on the touched columns only (no penalty or average moves the others)."""
    return ((cfg.optimizer == ADAGRAD or cfg.optimizer == RMSPROP) and cfg.l1 == 0.0 and cfg.l2 == 0.0
            and not cfg.average)


@kernel(callee=True)
def _finite(W, touched, n_touched):
    """Whether the weights a lazy step changed (the touched columns and the bias) are finite."""
    k_out, d1 = W.shape
    ok = True
    for k in range(k_out):
        ok &= abs(W[k, d1 - 1]) < math.inf
        for i in range(n_touched):
            ok &= abs(W[k, touched[i]]) < math.inf
    return ok


@kernel(callee=True)
def _step(cfg, W, G, slots, a, touched, n_touched, marks, rows, t, epoch, lazy, shift=None):
    """The step of a full batch: (the new scale, whether the weights it changed are finite).

    Plain SGD without averaging steps on the touched columns only (``slots`` is None, or holds the L1
    penalty), and so do AdaGrad and RMSprop without penalties, and momentum and Nesterov where
    lazymomentum.lazy_momentum says (``lazy``: the clocks of lazymomentum.begin); any other rule is the dense
    kernels' step over every weight.  Rows centred by ``shift`` (kernels/centring.py) touch every weight, and
    plain SGD's step is then the dense kernels' (--l1 its proximal step), as on their dense copy.
    """
    if shift is not None:
        n_touched = centre_gradient(G, shift, touched, n_touched, marks)
        if cfg.optimizer == SGD and not cfg.average:
            return a, _dense_step(cfg, W, G, None, touched, n_touched, marks, rows, t, epoch)
    if slots is None:
        a = _apply(cfg, W, G, a, touched, n_touched, marks, rows, t, epoch, None)
        return a, _finite(W, touched, n_touched)
    if cfg.optimizer == SGD and not cfg.average:
        a = _apply(cfg, W, G, a, touched, n_touched, marks, rows, t, epoch, slots[SLOT_A])
        return a, _finite(W, touched, n_touched)
    if lazy_adaptive(cfg):
        _lazy_adaptive(cfg, W, G, slots, touched, n_touched, marks, rows, t, epoch)
        return a, _finite(W, touched, n_touched)
    if lazymomentum.lazy_momentum(cfg):
        S, bases, past, now = lazy
        return a, lazymomentum.step(cfg, W, G, slots, S, bases, past, now, touched, n_touched, marks, rows,
                                    lr_at(cfg, t, epoch))
    return a, _dense_step(cfg, W, G, slots, touched, n_touched, marks, rows, t, epoch)


@kernel(callee=True)
def _settle(cfg, W, slots, a, t0, t, lazy):
    """Fold the scale into the weights, clip every weight for the steps it sat out, and decay every RMSprop
    average and velocity for them: between calls the state is what the dense kernels' would be after ``t``
    steps (checkpoints, validation, the model), as it was after ``t0`` when the call began; False if a weight
    the velocities moved is non-finite."""
    k_out, d1 = W.shape
    if a != 1.0:  # only --l2 moves the scale: without it this O(features) pass is skipped
        for k in range(k_out):
            for j in range(d1 - 1):
                W[k, j] *= a
    if slots is not None:
        if cfg.optimizer == SGD and not cfg.average:  # slots hold the L1 penalty
            Q = slots[SLOT_A]
            _clip(W, Q, 1.0, Q[0, d1 - 1], None, 0, d1 - 1)
        elif lazy_adaptive(cfg) and cfg.optimizer == RMSPROP:
            _decay_averages(cfg, slots[SLOT_A], slots[SLOT_B], t0 + cfg.clock, t + cfg.clock)
        elif lazymomentum.lazy_momentum(cfg):
            S, bases, past, now = lazy
            return lazymomentum.settle(W, slots, S, bases, past, now)
    return True


@kernel(callee=True)
def _decay_averages(cfg, A, seen, start, clock):
    """Every RMSprop average decayed by β2 for the steps since it was last updated, up to ``clock``.

    Two passes: the averages no row touched since the call's ``start`` (most of them) by one power, then the
    others by their own.  One loop took as long as a power for every weight, even with the power under a
    branch taken once (about 10 ns a weight: more than a call's steps on wide rows).
    """
    k_out, d1 = A.shape
    if clock != start:
        decay = cfg.beta2 ** (clock - start)
        for k in range(k_out):
            for j in range(d1):
                if seen[k, j] == start:
                    A[k, j] *= decay
                    seen[k, j] = clock
    for k in range(k_out):
        for j in range(d1):
            if seen[k, j] != clock:
                A[k, j] *= cfg.beta2 ** (clock - seen[k, j])
                seen[k, j] = clock


@kernel()
def train_block_sparse(cfg, data, indices, starts, lens, y, scale, W, G, slots, counters, sums, touched, marks,
                       n_touched, clocks, clock_now, sw=None, shift=None):
    """Train on CSR rows in order (``y``: their targets as class codes or values); the status as the dense
    kernels return it (OK, BAD_ROW with the position in counters[BAD], DIVERGED).

    ``slots`` are the optimizer's state and the running average, or the L1 penalty of plain SGD (None: plain
    SGD without either).  ``touched``/``marks``/``n_touched`` list the columns the batch in progress
    touched; they persist between calls with ``G`` (a fresh list with rows already summed, after a resume,
    is rebuilt from ``G``).  ``clocks``/``clock_now``: lazy momentum's clocks (lazymomentum.begin), which
    persist between calls with the run's scratch.  ``sw``: the rows' weights, as the dense ``train_block`` takes them.
    ``shift``: the columns' means times ``scale``, where the rows are centred (None: not): a row's score is its
    nonzeros' less the weights times ``shift``, and a batch's gradient is on every column (kernels/centring.py).
    """
    k_out, d1 = W.shape
    d = d1 - 1
    n = starts.shape[0]
    batch = cfg.batch_size
    penalty = cfg.optimizer == SGD and not cfg.average and shift is None  # slots: the cumulative L1 penalty
    t0 = counters[T]
    lazy = lazymomentum.begin(cfg, clocks, clock_now, d, (counters[FILL] + n) // batch)
    momentum = lazymomentum.lazy_momentum(cfg)
    nt = _rebuild(G, touched, marks, n_touched[0]) if counters[FILL] > 0 else n_touched[0]
    a = 1.0
    # one row's scores and derivatives, each alone in memory, as the state's arrays are (state.GUARD): where
    # they lay beside another array varied between processes, and so did which loop LLVM ran over them
    work = np.zeros(3 * _GUARD_ITEMS + 2 * k_out)
    s = work[_GUARD_ITEMS:_GUARD_ITEMS + k_out]
    g = work[2 * _GUARD_ITEMS + k_out:2 * _GUARD_ITEMS + 2 * k_out]
    base = np.zeros(k_out)  # the centring's part of the scores (stays 0 where the rows are not centred)
    if shift is not None:
        centring_scores(W, shift, base)
    status = OK
    for r in range(n):
        if r + AHEAD < n:  # rows come from places all over the window: ask for the next ones early
            prefetch_span(data, starts[r + AHEAD], lens[r + AHEAD])
            prefetch_span(indices, starts[r + AHEAD], lens[r + AHEAD])
        lo = starts[r]
        hi = lo + lens[r]
        if slots is not None:
            if penalty:
                _catch_up_row(W, slots[SLOT_A], a, indices, lo, hi)
            elif momentum:
                lazymomentum.catch_up_row(W, slots, lazy[0], lazy[1], lazy[2], lazy[3], indices, lo, hi)
        if k_out == 1:  # scalars, in registers (the single-output loss), as the dense kernels do
            acc = 0.0
            if scale is None:
                for e in range(lo, hi):
                    acc += W[0, indices[e]] * data[e]
            else:
                for e in range(lo, hi):
                    acc += W[0, indices[e]] * (data[e] * scale[indices[e]])
            loss, dz = loss_grad_one(cfg.loss, W[0, d] + a * (acc - base[0]), y[r])
            loss, g[0] = weighed(sw, r, loss, dz)
        else:
            for k in range(k_out):
                acc = 0.0
                if scale is None:
                    for e in range(lo, hi):
                        acc += W[k, indices[e]] * data[e]
                else:
                    for e in range(lo, hi):
                        acc += W[k, indices[e]] * (data[e] * scale[indices[e]])
                s[k] = W[k, d] + a * (acc - base[k])
            loss = weighed_scores(sw, r, loss_grad(cfg.loss, s, y[r], g), g)
        if not is_finite(loss):
            for e in range(lo, hi):
                if not math.isfinite(data[e]):
                    counters[BAD] = r
                    status = BAD_ROW
                    break
            if status == OK:
                status = DIVERGED
            break
        if k_out == 1:
            g0 = g[0]
            if g0 != 0.0:  # (hinge's rows past the margin add nothing)
                for e in range(lo, hi):
                    j = indices[e]
                    if marks[j] == 0:
                        marks[j] = 1
                        touched[nt] = j
                        nt += 1
                    G[0, j] += g0 * (data[e] if scale is None else data[e] * scale[j])
        else:
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
        # the epoch's loss and rows once the batch's step is taken, as the dense kernels count them: a last
        # partial batch that --drop-last drops is in neither
        sums[BATCH_LOSS] += loss
        counters[FILL] += 1
        if counters[FILL] == batch:
            a, finite = _step(cfg, W, G, slots, a, touched, nt, marks, batch, counters[T], counters[EPOCH], lazy,
                              shift)
            nt = 0
            if shift is not None:
                centring_scores(W, shift, base)
            _count_batch(counters, sums)
            counters[T] += 1
            if not finite:
                status = DIVERGED
                break
    if not _settle(cfg, W, slots, a, t0, counters[T], lazy) and status == OK:
        status = DIVERGED
    n_touched[0] = nt
    return status  # every step has checked the weights it changed


@kernel(callee=True)
def _count_batch(counters, sums):
    """The batch whose step was just taken into the epoch's loss and rows; the next batch starts empty."""
    sums[EPOCH_LOSS] += sums[BATCH_LOSS]
    sums[EPOCH_ROWS] += counters[FILL]
    sums[BATCH_LOSS] = 0.0
    counters[FILL] = 0


@kernel()
def finish_batch_sparse(cfg, W, G, slots, counters, sums, touched, marks, n_touched, clocks, clock_now, divisor,
                        shift=None):
    """The step of an epoch's last, partial batch (unless --drop-last), its gradients' sum over ``divisor``
    (batches.partial_divisor); ``shift`` as ``train_block_sparse`` takes it."""
    if counters[FILL] == 0:
        return
    nt = _rebuild(G, touched, marks, n_touched[0])
    lazy = lazymomentum.begin(cfg, clocks, clock_now, W.shape[1] - 1, 1)
    t0 = counters[T]
    a, _ = _step(cfg, W, G, slots, 1.0, touched, nt, marks, divisor, t0, counters[EPOCH], lazy, shift)
    _count_batch(counters, sums)
    counters[T] += 1
    _settle(cfg, W, slots, a, t0, counters[T], lazy)
    n_touched[0] = 0
