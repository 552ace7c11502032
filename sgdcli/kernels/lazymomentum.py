"""Momentum and Nesterov on CSR rows at the cost of the batch's nonzeros, with the dense kernels' updates.

A weight no row of a batch touched has a zero gradient (without ``--l1``,
``--l2`` or averaging), so its velocity only decays, ``v ← μ·v``, and the
weight moves by ``lr·v`` (momentum) or ``lr·μ·v`` (Nesterov) a step.  After
steps s0+1 … s1 untouched, with rates lr_i, the velocity is ``μ^(s1−s0)·v``
and the weight has moved by

    c · v · μ^(−s0) · Σ_{i=s0+1..s1} lr_i·μ^i        (c = 1, or μ for Nesterov)

so the kernel keeps two running numbers, ``pow = μ^s`` and
``cum = Σ_{i≤s} lr_i·μ^i``, and for each column the ``cum`` and 1/``pow``
it was last brought up to.  A row's columns are brought up to date before
the row is scored (the whole batch is scored at the same weights), the
batch's step updates the touched columns and the bias as the dense rule
does, and the others wait: a step costs the batch's nonzeros, whatever the
number of columns.

``cum`` grows to about lr·μ/(1 − μ) while a step adds about lr·pow, so a
difference of two ``cum`` loses about 1/(pow·(1 − μ)) of float64's
precision.  Once pow·(1 − μ) falls below BASE_BELOW the counting starts
again from the current step (a new *base*, pow = 1, cum = 0), and the base
that closed keeps its ``cum`` and ``pow`` at its end, and what the bases
after it do to a column brought up to its end: how far they move its
weight per unit of velocity, and what they leave of the velocity.  A column
last updated in an earlier base is caught up by the rest of its own base,
those, and the current base so far, each a product: O(1) whatever the steps
it sat out.  A base's closing updates the bases before it, back to the
first whose velocity survives (the older ones have decayed to zero).  At
the end of each call every column is brought up to date, so that between
calls the weights and velocities are what the dense kernels' would be, to
rounding (tests/test_sparse_kernel.py holds them to 1e-9 of the largest).
"""

from __future__ import annotations

import math

import numpy as np

from sgdcli.kernels.jit import kernel
from sgdcli.kernels.optimizers import MOMENTUM, NESTEROV, SLOT_A

BASE_BELOW = 2.0**-22  # of pow·(1 − μ): a catch-up then keeps about 2**-30 of the weight's move (see above)
CUM, INVERSE, BASE = 0, 1, 2  # a column's clock: cum and 1/pow at its last update, in base number BASE
POW, BASES, LIVE = 2, 3, 4  # the running clock's too: cum, 1/pow, pow, the bases closed, the oldest still live
END_CUM, END_POW, MOVED, LEFT = 0, 1, 2, 3  # a closed base's: cum and pow at its end; the later bases' effect


@kernel(callee=True)
def lazy_momentum(cfg):
    """Whether momentum or Nesterov steps on the touched columns only: where the run asks for it
    (``cfg.lazy_momentum``), and no penalty or average moves the rest (without momentum, μ = 0, the velocity is
    the gradient, and the plain step is the one to take)."""
    return ((cfg.optimizer == MOMENTUM or cfg.optimizer == NESTEROV) and cfg.lazy_momentum and cfg.momentum > 0.0
            and cfg.l1 == 0.0 and cfg.l2 == 0.0 and not cfg.average)


@kernel(callee=True)
def clock(cfg, d, steps):
    """The columns' clocks (a column's three numbers side by side: a row's columns come from all over the
    weights, and each costs one or two cache misses, not three), room for the bases of up to ``steps`` steps,
    and the running clock, all at the start (the columns and bases empty where the rule is not lazy momentum,
    so that they take no memory)."""
    lazy = lazy_momentum(cfg)
    S = np.empty((d if lazy else 0, 3))
    bases = np.empty((steps + 1 if lazy else 0, 4))
    now = np.empty(5)
    _restart(S, now)
    return S, bases, now


@kernel(callee=True)
def _restart(S, now):
    """Every column's clock and the running one at base 0, none closed."""
    for j in range(S.shape[0]):
        S[j, CUM] = 0.0
        S[j, INVERSE] = 1.0
        S[j, BASE] = 0.0
    now[CUM] = 0.0
    now[INVERSE] = 1.0
    now[POW] = 1.0
    now[BASES] = 0.0
    now[LIVE] = 0.0


@kernel(callee=True)
def _nesterov_times(cfg):
    """How far a unit of velocity moves a weight a step, over the rate: 1 (momentum), or μ (Nesterov)."""
    return cfg.momentum if cfg.optimizer == NESTEROV else 1.0


@kernel(callee=True)
def _catch_up(cfg, W, A, S, bases, now, indices, lo, hi):
    """The weights and velocities of columns ``indices[lo:hi]`` (of lo … hi − 1 where ``indices`` is None)
    brought up to the current step.

    One loop, with no call per column: a call to a kernel with this many branches, once a nonzero, took
    several times the arithmetic (the arrays' reference counts, left in where the branches fork).
    """
    c = _nesterov_times(cfg)
    cum, inverse, pw, base = now[CUM], now[INVERSE], now[POW], int(now[BASES])
    for e in range(lo, hi):
        j = e if indices is None else indices[e]
        was = S[j, INVERSE]
        b = int(S[j, BASE])
        if b == base:
            if was == inverse:  # brought up to this step already (pow falls at every step)
                continue
            moved = c * (cum - S[j, CUM]) * was
            left = pw * was
        else:  # the rest of base b, the closed bases after it, then the current one so far
            moved = c * (bases[b, END_CUM] - S[j, CUM]) * was
            left = bases[b, END_POW] * was
            moved += left * (bases[b, MOVED] + bases[b, LEFT] * c * cum)
            left *= bases[b, LEFT] * pw
            S[j, BASE] = base
        for k in range(W.shape[0]):
            v = A[k, j]
            W[k, j] -= moved * v
            A[k, j] = v * left
        S[j, CUM] = cum
        S[j, INVERSE] = inverse


@kernel(callee=True)
def catch_up_row(cfg, W, slots, S, bases, now, indices, lo, hi):
    """The weights of a row's columns brought up to the current step, before the row is scored."""
    _catch_up(cfg, W, slots[SLOT_A], S, bases, now, indices, lo, hi)


@kernel(callee=True)
def settle(cfg, W, slots, S, bases, now):
    """Every column brought up to the current step, and every clock restarted; False if a weight is
    non-finite."""
    k_out, d1 = W.shape
    _catch_up(cfg, W, slots[SLOT_A], S, bases, now, None, 0, d1 - 1)
    _restart(S, now)
    finite = True
    for k in range(k_out):
        for j in range(d1 - 1):
            finite &= abs(W[k, j]) < math.inf
    return finite


@kernel(callee=True)
def _close(cfg, bases, now):
    """Close the current base (at the step just taken) and start the next: the bases before it, from the oldest
    whose velocity is not yet all gone, take its moves and decay on."""
    c = _nesterov_times(cfg)
    z = int(now[BASES])
    end_cum, end_pow = now[CUM], now[POW]
    live = int(now[LIVE])
    for b in range(live, z):
        bases[b, MOVED] += bases[b, LEFT] * c * end_cum
        bases[b, LEFT] *= end_pow
    while live < z and bases[live, LEFT] == 0.0:  # underflowed: what that base left of a velocity is 0
        live += 1
    bases[z, END_CUM] = end_cum
    bases[z, END_POW] = end_pow
    bases[z, MOVED] = 0.0
    bases[z, LEFT] = 1.0
    now[BASES] = z + 1.0
    now[LIVE] = float(live)
    now[CUM] = 0.0
    now[INVERSE] = 1.0
    now[POW] = 1.0


@kernel(callee=True)
def step(cfg, W, G, slots, S, bases, now, touched, n_touched, marks, rows, lr):
    """One step from the summed gradient over ``rows`` on the touched columns and the bias (brought up to date
    when their rows were scored); False if a weight it changed is non-finite."""
    k_out, d1 = W.shape
    d = d1 - 1
    A = slots[SLOT_A]
    mu = cfg.momentum
    nesterov = cfg.optimizer == NESTEROV
    inv = 1.0 / rows
    pw = now[POW] * mu
    cum = now[CUM] + lr * pw
    inverse = 1.0 / pw  # pw > 0: μ > 0, and a base closes long before μ^s underflows
    now[POW] = pw
    now[CUM] = cum
    now[INVERSE] = inverse
    finite = True
    for i in range(n_touched):
        j = touched[i]
        for k in range(k_out):
            g = G[k, j] * inv
            v = mu * A[k, j] + g
            A[k, j] = v
            W[k, j] -= lr * (g + mu * v) if nesterov else lr * v
            G[k, j] = 0.0
            finite &= abs(W[k, j]) < math.inf
        S[j, CUM] = cum
        S[j, INVERSE] = inverse
        marks[j] = 0
    for k in range(k_out):
        g = G[k, d] * inv * cfg.bias_times  # the bias's own rate (optimizers.step)
        v = mu * A[k, d] + g
        A[k, d] = v
        W[k, d] -= lr * (g + mu * v) if nesterov else lr * v
        G[k, d] = 0.0
        finite &= abs(W[k, d]) < math.inf
    if pw * (1.0 - mu) < BASE_BELOW:
        _close(cfg, bases, now)
    return finite
