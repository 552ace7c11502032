"""Momentum and Nesterov on CSR rows at the cost of the batch's nonzeros, with the dense kernels' updates.

A weight no row of a batch touched has only the penalty's gradient λ·w
(``--l2``; without ``--l1`` or averaging), so each step maps its weight and
velocity by the same 2×2 matrix, whatever the column:

    momentum:  v ← μ·v + λ·w,  w ← w − lr·v            M = [[1 − lr·λ,        −lr·μ ], [λ, μ]]
    Nesterov:  v ← μ·v + λ·w,  w ← w − lr·(λ·w + μ·v)  M = [[1 − lr·λ·(1 + μ), −lr·μ²], [λ, μ]]

acting on (w, v).  The kernel keeps their running product P (from a base
step) and its inverse Q, and for each column the step it was last brought
up to (its *clock*); the call keeps Q at each of its steps, so P times the
Q of a column's step maps that column from then to now, in O(1) however
many steps it sat out.  A row's columns are brought up to date before the
row is scored (the whole batch is scored at the same weights), the batch's
step updates the touched columns and the bias as the dense rule does, and
the others wait: a step costs the batch's nonzeros, whatever the number of
columns.

Q grows as 1/det P, which is μ (momentum) or μ·(1 − lr·λ) (Nesterov) a
step, and P·Q_j loses about 1/(det P·(1 − μ)) of float64's precision to
cancellation.  Once det P·(1 − μ) falls below BASE_BELOW the products start
again from the current step (a new *base*), and the base that closed keeps
what it and every later closed base do to a column brought up to its end
(their product D), so a column last updated in base b is caught up by
P·D_b·Q_j.  A base closes at a step before any clock is written at it, so
every clock of a step belongs to one base and one Q.  At the end of each
call every column is brought up to date, so that between calls the weights
and velocities are what the dense kernels' would be, to rounding
(tests/test_sparse_kernel.py holds them to 1e-10 of the largest).  The
clocks live in the run's scratch (``clocks``, one number a column), and
the steps they count never restart: a call starts a new base 0 at the step
the last one ended on, and a clock that stopped at or before that step is
that of a column brought up to it, Q = I, so neither call end nor call
start writes every column's clock (a pass over every clock at each call
took longer than the calls' steps at 2^20 columns, on files of many short
calls).  A rate and penalty with lr·λ over ½ would bring det P near 0 (at
lr·λ = 1 for Nesterov); such runs take the dense step.
"""

from __future__ import annotations

import math

import numpy as np

from sgdcli.kernels.jit import kernel
from sgdcli.kernels.optimizers import NESTEROV, SLOT_A

BASE_BELOW = 2.0**-12  # of det P·(1 − μ): a catch-up then keeps about 2**-40 of the move (see above)
LARGEST_DECAY = 0.5  # lr·λ: det P then falls by at most half of μ a step
# The running clock: P, Q, det P, the steps (counted since the scratch was made), the current base's number, and
# the step the call started at.
P0, Q0, DET, STEPS, BASE, START = 0, 4, 8, 9, 10, 11
NOW = START + 1
PAST_BASE = 4  # a step of the call (``begin``'s ``past``): Q at it (entries 0 to 3, row by row) and its base


@kernel(callee=True)
def lazy_momentum(cfg):
    """Whether momentum or Nesterov steps on the touched columns only: where the run asks for it
    (``cfg.lazy_momentum``, set for those rules alone: state.kernel_config) and no L1 penalty or average moves
    the rest (without momentum, μ = 0, the velocity is the gradient, and the plain step is the one to take)."""
    return (cfg.lazy_momentum and cfg.momentum > 0.0 and cfg.l1 == 0.0 and not cfg.average
            and cfg.lr * cfg.l2 <= LARGEST_DECAY)


@kernel(callee=True)
def begin(cfg, S, now, d, steps):
    """The clocks of a call of at most ``steps`` steps on ``d`` columns: every column's ``S`` (the step it was
    brought up to) and the running one ``now`` (NOW numbers), the scratch's, which start as zeros, at a new
    base 0 that starts at the current step; with the closed bases' products D and each step's Q and base
    (``past``), room for ``steps`` steps (empty where the rule is not lazy momentum, so that they take no
    memory)."""
    lazy = lazy_momentum(cfg)
    if lazy and S.shape[0] < d:  # a scratch made for another run: its clocks would be read past their end
        raise ValueError("lazy momentum's clocks hold fewer columns than the weights")
    bases = np.empty((steps + 1 if lazy else 0, 4))
    past = np.empty((steps + 2 if lazy else 0, PAST_BASE + 1))
    _identity(now, P0)
    _identity(now, Q0)
    now[DET] = 1.0
    now[BASE] = 0.0
    now[START] = now[STEPS]
    if lazy:
        _mark(past, now)
    return S, bases, past, now


@kernel(callee=True)
def _mark(past, now):
    """The current step's Q and base into ``past``."""
    i = int(now[STEPS] - now[START])
    for c in range(4):
        past[i, c] = now[Q0 + c]
    past[i, PAST_BASE] = now[BASE]


@kernel(callee=True)
def _identity(M, at):
    """The 2×2 identity into M[at:at + 4], row by row."""
    M[at] = 1.0
    M[at + 1] = 0.0
    M[at + 2] = 0.0
    M[at + 3] = 1.0


@kernel(callee=True)
def _catch_up(W, A, S, bases, past, now, columns, lo, hi, stamp):
    """The weights and velocities of columns ``columns[lo:hi]`` (of lo … hi − 1 where ``columns`` is None)
    brought up to the current step, and their clocks with them where ``stamp`` (at a call's end the next call's
    start says that every column is current, so their clocks need no write); False if a weight it moved is
    non-finite.

    One loop, with no call per column: a call to a kernel with this many branches, once a nonzero, took
    several times the arithmetic (docs/architecture.md).
    """
    steps, start = now[STEPS], now[START]
    base = int(now[BASE])
    p00, p01, p10, p11 = now[P0], now[P0 + 1], now[P0 + 2], now[P0 + 3]
    # a column up to the call's start (the module's docstring: base 0's Q there, I) moves by P·D_0, or P in base 0
    s00, s01, s10, s11 = p00, p01, p10, p11
    if base != 0:
        d00, d01, d10, d11 = bases[0, 0], bases[0, 1], bases[0, 2], bases[0, 3]
        s00, s01 = p00 * d00 + p01 * d10, p00 * d01 + p01 * d11
        s10, s11 = p10 * d00 + p11 * d10, p10 * d01 + p11 * d11
    finite = True
    for e in range(lo, hi):
        j = e if columns is None else columns[e]
        stopped = S[j]
        if stopped == steps:  # brought up to this step already
            continue
        if stopped <= start:
            t00, t01, t10, t11 = s00, s01, s10, s11
        else:
            i = int(stopped - start)
            q00, q01, q10, q11 = past[i, 0], past[i, 1], past[i, 2], past[i, 3]
            b = int(past[i, PAST_BASE])
            if b != base:  # the rest of base b and the closed bases after it: D_b·Q_j
                d00, d01, d10, d11 = bases[b, 0], bases[b, 1], bases[b, 2], bases[b, 3]
                q00, q01, q10, q11 = (d00 * q00 + d01 * q10, d00 * q01 + d01 * q11,
                                      d10 * q00 + d11 * q10, d10 * q01 + d11 * q11)
            t00, t01 = p00 * q00 + p01 * q10, p00 * q01 + p01 * q11
            t10, t11 = p10 * q00 + p11 * q10, p10 * q01 + p11 * q11
        for k in range(W.shape[0]):
            w, v = W[k, j], A[k, j]
            W[k, j] = t00 * w + t01 * v
            A[k, j] = t10 * w + t11 * v
            finite &= abs(W[k, j]) < math.inf
        if stamp:
            S[j] = steps
    return finite


@kernel(callee=True)
def catch_up_row(W, slots, S, bases, past, now, indices, lo, hi):
    """The weights of a row's columns brought up to the current step, before the row is scored."""
    _catch_up(W, slots[SLOT_A], S, bases, past, now, indices, lo, hi, True)


@kernel(callee=True)
def settle(W, slots, S, bases, past, now):
    """Every column brought up to the current step; False if a weight it moved is non-finite (the others were
    checked by the step that last changed them)."""
    return _catch_up(W, slots[SLOT_A], S, bases, past, now, None, 0, W.shape[1] - 1, False)


@kernel(callee=True)
def _advance(cfg, now, past, lr):
    """The running clock one step on, at rate ``lr``: P ← M·P, Q ← Q·M⁻¹; True where det P has fallen so far
    that the base should close after this step."""
    mu, l2 = cfg.momentum, cfg.l2
    if cfg.optimizer == NESTEROV:
        m00, m01 = 1.0 - lr * l2 * (1.0 + mu), -lr * mu * mu
    else:
        m00, m01 = 1.0 - lr * l2, -lr * mu
    m10, m11 = l2, mu
    det = m00 * m11 - m01 * m10
    p00, p01, p10, p11 = now[P0], now[P0 + 1], now[P0 + 2], now[P0 + 3]
    now[P0], now[P0 + 1] = m00 * p00 + m01 * p10, m00 * p01 + m01 * p11
    now[P0 + 2], now[P0 + 3] = m10 * p00 + m11 * p10, m10 * p01 + m11 * p11
    i00, i01, i10, i11 = m11 / det, -m01 / det, -m10 / det, m00 / det  # M⁻¹
    q00, q01, q10, q11 = now[Q0], now[Q0 + 1], now[Q0 + 2], now[Q0 + 3]
    now[Q0], now[Q0 + 1] = q00 * i00 + q01 * i10, q00 * i01 + q01 * i11
    now[Q0 + 2], now[Q0 + 3] = q10 * i00 + q11 * i10, q10 * i01 + q11 * i11
    now[DET] *= det
    now[STEPS] += 1.0
    _mark(past, now)
    return abs(now[DET]) * (1.0 - mu) < BASE_BELOW


@kernel(callee=True)
def _close(bases, past, now):
    """Close the current base (at the step just taken) and start the next: the bases before it take its
    product P on, D_b ← P·D_b, and its own D is P.  The step just taken is the next base's first (``past``),
    and every clock written at it is one of that base, Q = I: the touched columns', which ``step`` writes after
    this, and those of columns caught up before the next step (a row of zero weight, or hinge's past the
    margin, adds no gradient, and its columns are caught up but not stepped on).  Counted in the closed base,
    such a clock was moved by the closed base's P twice."""
    z = int(now[BASE])
    p00, p01, p10, p11 = now[P0], now[P0 + 1], now[P0 + 2], now[P0 + 3]
    for b in range(z):
        d00, d01, d10, d11 = bases[b, 0], bases[b, 1], bases[b, 2], bases[b, 3]
        bases[b, 0], bases[b, 1] = p00 * d00 + p01 * d10, p00 * d01 + p01 * d11
        bases[b, 2], bases[b, 3] = p10 * d00 + p11 * d10, p10 * d01 + p11 * d11
    for i in range(4):
        bases[z, i] = now[P0 + i]
    _identity(now, P0)
    _identity(now, Q0)
    now[DET] = 1.0
    now[BASE] = z + 1.0
    _mark(past, now)


@kernel(callee=True)
def step(cfg, W, G, slots, S, bases, past, now, touched, n_touched, marks, rows, lr):
    """One step from the summed gradient over ``rows`` (and the penalty's) on the touched columns and the bias
    (brought up to date when their rows were scored); False if a weight it changed is non-finite."""
    k_out, d1 = W.shape
    d = d1 - 1
    A = slots[SLOT_A]
    mu, l2 = cfg.momentum, cfg.l2
    nesterov = cfg.optimizer == NESTEROV
    inv = 1.0 / rows
    if _advance(cfg, now, past, lr):  # before the step's clocks are written: all of them in the next base
        _close(bases, past, now)
    steps = now[STEPS]
    finite = True
    for i in range(n_touched):
        j = touched[i]
        for k in range(k_out):
            g = G[k, j] * inv + l2 * W[k, j]
            v = mu * A[k, j] + g
            A[k, j] = v
            W[k, j] -= lr * (g + mu * v) if nesterov else lr * v
            G[k, j] = 0.0
            finite &= abs(W[k, j]) < math.inf
        S[j] = steps
        marks[j] = 0
    for k in range(k_out):
        g = G[k, d] * inv * cfg.bias_times  # the bias's own rate (optimizers.step), and no penalty
        v = mu * A[k, d] + g
        A[k, d] = v
        W[k, d] -= lr * (g + mu * v) if nesterov else lr * v
        G[k, d] = 0.0
        finite &= abs(W[k, d]) < math.inf
    return finite
