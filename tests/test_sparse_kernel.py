"""The O(nonzeros) SGD kernel on CSR rows against the dense NumPy reference: L2 by the scaling trick, L1 by
the cumulative penalty, and the dense kernels' step for every other update rule."""

import numpy as np
import pytest

from sgdcli.kernels import sparse
from sgdcli.kernels.batches import partial_divisor
from sgdcli.kernels import state as ks
from sgdcli.kernels.state import Scratch, TrainState, kernel_config
from sgdcli.options import MODELS

import naive


def csr(X):
    rows = [np.flatnonzero(r) for r in X]
    indptr = np.concatenate(([0], np.cumsum([len(r) for r in rows]))).astype(np.int64)
    indices = np.concatenate(rows).astype(np.int32)
    data = np.concatenate([X[i, r] for i, r in enumerate(rows)]).astype(np.float32)
    return data, indices, indptr


def problem(model, n=157, d=40, k=3, seed=5, density=0.15):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, d)) * (rng.random((n, d)) < density)).astype(np.float32)
    X[3] = 0.0  # a row with no nonzero at all
    return X, naive.targets(model, X, rng, k), rng.permutation(n)


def scratch(cfg, k_out, d):
    """The sparse kernel's work arrays that persist between calls: the touched columns and the clocks."""
    s = Scratch.make(1, k_out, d, sparse=True, lazy_momentum=cfg.lazy_momentum)
    return s.touched, s.marks, s.n_touched, s.clocks, s.clock_now


def run_kernel(cfg, X, y, order, scale, k_out, slots, pieces, epochs=2, sw=None, work=None, shift=None):
    """The sparse kernel over ``order`` for ``epochs``, each cut into ``pieces`` calls (rows weighted by ``sw``,
    centred by ``shift``), with ``work`` (``scratch``'s arrays; None: new ones); the final state."""
    centred = {} if shift is None else {"shift": shift}
    d = X.shape[1]
    data, indices, indptr = csr(X)
    state = TrainState.zeros(k_out, d)
    work = scratch(cfg, k_out, d) if work is None else work
    for epoch in range(epochs):
        state.counters[ks.EPOCH] = epoch
        for i, piece in enumerate(np.array_split(order, pieces)):
            if i == 1:  # as after a resume: the batch in progress, but a fresh list of touched columns and clocks
                work = scratch(cfg, k_out, d)
            starts, lens = indptr[piece], indptr[piece + 1] - indptr[piece]
            weights = {} if sw is None else {"sw": sw[piece]}
            status = sparse.train_block_sparse(cfg, data, indices, starts, lens, y[piece], scale, state.W, state.G,
                                               state.slots if slots else None, state.counters, state.sums, *work,
                                               **weights, **centred)
            assert status == ks.OK
        sparse.finish_batch_sparse(cfg, state.W, state.G, state.slots if slots else None, state.counters,
                                   state.sums, *work,
                                   partial_divisor(cfg.batch_size, int(state.counters[ks.FILL]),
                                                   len(order) > cfg.batch_size), **centred)
    return state


def clip_all(W, q, u):
    """The cumulative L1 penalty applied eagerly: every weight clipped towards zero by what it has not received
    yet (a weight at zero receives nothing, and so banks the penalty)."""
    w = W[:, :-1]
    z = np.where(w > 0, np.maximum(0.0, w - (u + q)), np.where(w < 0, np.minimum(0.0, w + (u - q)), w))
    q += z - w
    W[:, :-1] = z


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("batch,l2,l1,pieces", [(1, 0.0, 0.0, 1), (16, 0.05, 0.0, 3), (16, 0.05, 0.0, 11),
                                                (157, 0.2, 0.0, 2), (1, 0.0, 0.02, 3), (16, 0.0, 0.05, 11)])
def test_sparse_sgd_matches_the_dense_reference(model, batch, l2, l1, pieces):
    """L2 by the scale; L1 by the cumulative penalty, the same as clipping every weight at every step.  Every
    loss: the sparse kernel takes each from losses.py, as the dense one does."""
    X, y, order = problem(model)
    if model == "quantile":  # no target at the first scores (0), where the kernel's subgradient is 0, naive's 1 - q
        y = y + 0.5
    k_out = 3 if model == "softmax" else 1
    d = X.shape[1]
    scale = np.random.default_rng(1).uniform(0.5, 2.0, d)
    opts = naive.options(model=model, lr=0.05, l2=l2, l1=l1, schedule="invscaling", power_t=0.3)
    iters = -(-len(order) // batch)
    state = run_kernel(kernel_config(opts, batch, 1, 2 * iters), X, y, order, scale, k_out, l1 > 0, pieces)
    assert state.counters[ks.T] == 2 * iters
    Z = X.astype(np.float64) * scale
    W, q, u = np.zeros((k_out, d + 1)), np.zeros((k_out, d)), 0.0
    opt, t = naive.Optimizer("sgd", W.shape), 0
    for epoch in range(2):
        for start in range(0, len(order), batch):
            lr = 0.05 / (t + 1) ** 0.3
            W = opt.step(W, naive.batch_gradient(model, W, Z, y, order[start:start + batch], l2=l2,
                                                 divisor=batch if start else None), lr)
            if l1 > 0:
                u += lr * l1
                clip_all(W, q, u)
            t += 1
    np.testing.assert_allclose(state.W, W, rtol=1e-9, atol=1e-12)
    if l1 > 0:
        assert (state.W[:, :-1] == 0).sum() == (W[:, :-1] == 0).sum() > 0  # exact zeros, as the reference's


@pytest.mark.parametrize("optimizer,extra", [
    ("adagrad", {}), ("rmsprop", {"beta2": 0.9}),  # lazy: the touched columns only, and exact
    ("nesterov", {}), ("adam", {"average": True}), ("sgd", {"average": True}), ("adagrad", {"l1": 0.01, "l2": 0.01}),
])
def test_other_rules_match_the_dense_reference(optimizer, extra):
    """AdaGrad and RMSprop step lazily without penalties; every other rule takes the dense step."""
    X, y, order = problem("logistic")
    d = X.shape[1]
    scale = np.random.default_rng(1).uniform(0.5, 2.0, d)
    opts = naive.options(model="logistic", lr=0.05, optimizer=optimizer, **extra)
    cfg = kernel_config(opts, 8, 1, 2 * -(-len(order) // 8))  # the updates of 2 epochs, which --average halves
    state = run_kernel(cfg, X, y, order, scale, 1, True, 5)
    want = naive.minibatch_sgd("logistic", X.astype(np.float64) * scale, y, order, 8, 0.05, optimizer=optimizer,
                               epochs=2, **extra)
    np.testing.assert_allclose(state.params(extra.get("average", False)), want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("model,optimizer,momentum,batch,pieces,rows,density,l2", [
    ("logistic", "momentum", 0.8, 1, 1, 157, 0.15, 0.0),  # 157 steps a call, a new base each 31
    ("softmax", "nesterov", 0.9, 5, 4, 157, 0.15, 0.0),
    ("linear", "nesterov", 0.5, 8, 1, 157, 0.15, 0.0),  # a new base each 12 steps
    ("logistic", "momentum", 0.0, 4, 2, 157, 0.15, 0.0),  # no momentum: the plain step
    ("logistic", "momentum", 0.9, 1, 3, 157, 0.15, 0.0),
    ("huber", "nesterov", 0.99, 1, 5, 157, 0.15, 0.0),
    # a column in 1 row of 100 sits out bases whole; 166 bases a call
    ("logistic", "nesterov", 0.5, 1, 1, 2000, 0.01, 0.0),
    ("logistic", "momentum", 0.9, 1, 3, 157, 0.15, 0.1),  # the penalty moves every weight at every step
    ("softmax", "nesterov", 0.9, 5, 4, 157, 0.15, 1.0),
    ("logistic", "nesterov", 0.5, 1, 1, 2000, 0.01, 5.0),  # lr·l2 = 0.1: det P falls by 0.9 too
    ("linear", "momentum", 0.8, 1, 1, 157, 0.15, 0.5),
    ("linear", "nesterov", 0.9, 8, 2, 157, 0.15, 30.0),  # lr·l2 over a half: the dense step
    ("hinge", "nesterov", 0.5, 1, 1, 2000, 0.01, 0.0),  # (rows past the margin, adding no gradient: see below)
    ("hinge", "momentum", 0.9, 4, 2, 400, 0.05, 0.1),
])
def test_lazy_momentum_matches_the_dense_reference(model, optimizer, momentum, batch, pieces, rows, density, l2):
    """Momentum and Nesterov without --l1 step on the touched columns only and catch the rest up from the
    running products (kernels/lazymomentum.py): the same weights as every weight's step at every update, to
    rounding, under a rate that changes every step, --l2 or not, and the bias's own rate, a batch spanning
    calls."""
    X, y, order = problem(model, n=rows, density=density)
    k_out = 3 if model == "softmax" else 1
    d = X.shape[1]
    scale = np.random.default_rng(1).uniform(0.5, 2.0, d)
    opts = naive.options(model=model, lr=0.02, optimizer=optimizer, momentum=momentum, schedule="invscaling",
                         power_t=0.5, l2=l2)
    iters = -(-len(order) // batch)
    cfg = kernel_config(opts, batch, 1, 2 * iters, sparse=True, bias_times=3.0, lazy_momentum=True)
    state = run_kernel(cfg, X, y, order, scale, k_out, True, pieces)
    Z = X.astype(np.float64) * scale
    W = np.zeros((k_out, d + 1))
    opt, t = naive.Optimizer(optimizer, W.shape, momentum=momentum), 0
    for epoch in range(2):
        for start in range(0, len(order), batch):
            lr = 0.02 / (t + 1) ** 0.5
            grad = naive.batch_gradient(model, W, Z, y, order[start:start + batch], l2=l2,
                                        divisor=batch if start else None)
            W = opt.step(W, grad, np.append(np.full(d, lr), 3.0 * lr))
            t += 1
    assert state.counters[ks.T] == t
    # a catch-up's rounding is relative to the column's move, not to its weight: to 1e-10 of the largest
    np.testing.assert_allclose(state.W, W, rtol=0, atol=1e-10 * np.abs(W).max())
    velocity = opt.a * np.append(np.ones(d), 3.0)  # the kernels sum the bias's gradient at its own rate
    np.testing.assert_allclose(state.slots[0], velocity, rtol=0, atol=1e-10 * np.abs(velocity).max())


@pytest.mark.parametrize("model,momentum,batch,density,size", [
    ("logistic", 0.9, 1, 0.02, 1.0), ("logistic", 0.9, 4, 0.02, 1.0),
    ("hinge", 0.9, 1, 0.05, 4.0)])  # hinge: large features, many rows past the margin
def test_lazy_momentum_catches_up_the_columns_of_rows_that_add_no_gradient(model, momentum, batch, density, size):
    """A row of weight 0 (and hinge's, past the margin) adds no gradient: its columns are caught up when it is
    scored but not stepped on, and a later catch-up must count from there, also right after a base closed."""
    X, y, order = problem(model, n=2000, density=density)
    X *= size
    sw = np.random.default_rng(6).uniform(0.5, 2.0, len(y))
    sw[::2] = 0.0
    opts = naive.options(model=model, lr=0.05, optimizer="nesterov", momentum=momentum)
    iters = -(-len(order) // batch)
    cfg = kernel_config(opts, batch, 1, 2 * iters, sparse=True, lazy_momentum=True)
    state = run_kernel(cfg, X, y, order, None, 1, True, 1, sw=sw)
    want = naive.minibatch_sgd(model, X.astype(np.float64), y, order, batch, 0.05, optimizer="nesterov", epochs=2,
                               sw=sw, momentum=momentum)
    np.testing.assert_allclose(state.W, want, rtol=0, atol=1e-10 * np.abs(want).max())


def test_lazy_momentums_clocks_carry_over_between_runs():
    """The clocks kept in a run's scratch count their own steps: a scratch that another run (another rate,
    more steps, another model's weights) went through gives the same model, bit for bit, as a new one."""
    X, y, order = problem("logistic", n=400, d=300, density=0.02)
    d = X.shape[1]

    def run(lr, l2, work=None):
        opts = naive.options(model="logistic", lr=lr, optimizer="nesterov", momentum=0.9, l2=l2)
        cfg = kernel_config(opts, 4, 1, 200, sparse=True, lazy_momentum=True)
        return run_kernel(cfg, X, y, order, None, 1, True, 1, work=work), cfg

    fresh, cfg = run(0.05, 0.01)
    work = scratch(cfg, 1, d)
    run(0.3, 0.0, work)  # 200 steps on the clocks: a clock keyed on the state's step counter would go wrong
    reused, _ = run(0.05, 0.01, work)
    np.testing.assert_array_equal(reused.W, fresh.W)
    np.testing.assert_array_equal(reused.slots, fresh.slots)
    with pytest.raises(ValueError, match="clocks hold fewer columns than the weights"):  # not a read past them
        run_kernel(cfg, X, y, order, None, 1, True, 1, work=scratch(cfg, 1, d - 1))


@pytest.mark.parametrize("optimizer,batch", [("sgd", 16), ("sgd", 1), ("momentum", 8)])
def test_the_bias_steps_at_its_own_rate(optimizer, batch):
    """--lr auto's bias_times (training/biasrate.py) on CSR rows: plain SGD's scaled step (with --l2) and the
    dense step the other rules take."""
    X, y, order = problem("logistic")
    d = X.shape[1]
    scale = np.random.default_rng(1).uniform(0.5, 2.0, d)
    opts = naive.options(model="logistic", lr=0.05, l2=2.0, optimizer=optimizer)
    iters = -(-len(order) // batch)
    cfg = kernel_config(opts, batch, 1, 2 * iters, bias_times=6.0)
    state = run_kernel(cfg, X, y, order, scale, 1, optimizer != "sgd", 3)
    want = naive.minibatch_sgd("logistic", X.astype(np.float64) * scale, y, order, batch, 0.05, optimizer=optimizer,
                               epochs=2, l2=2.0, bias_lr=0.3)
    np.testing.assert_allclose(state.W, want, rtol=1e-9, atol=1e-12)


def test_a_non_finite_value_names_its_row():
    X, y, order = problem("logistic")
    X[order[7], 2] = np.nan  # row 7 of the visit
    data, indices, indptr = csr(np.nan_to_num(X, nan=0.0) + np.where(np.isnan(X), 1.0, 0.0))
    data[indptr[order[7]]:indptr[order[7] + 1]][0] = np.nan
    d = X.shape[1]
    cfg = kernel_config(naive.options(model="logistic", lr=0.1), 4, 1, 100)
    state = TrainState.zeros(1, d)
    status = sparse.train_block_sparse(cfg, data, indices, indptr[order], indptr[order + 1] - indptr[order], y[order],
                                       np.ones(d), state.W, state.G, None, state.counters, state.sums,
                                       *scratch(cfg, 1, d))
    assert status == ks.BAD_ROW and state.counters[ks.BAD] == 7


@pytest.mark.parametrize("model", ["logistic", "softmax"])
@pytest.mark.parametrize("optimizer,batch,l2", [("sgd", 1, 0.0), ("sgd", 16, 0.05), ("adagrad", 8, 0.0), ("adam", 8, 0.0)])
def test_row_weights_multiply_each_rows_gradient(model, optimizer, batch, l2):
    X, y, order = problem(model)
    k_out = 3 if model == "softmax" else 1
    d = X.shape[1]
    scale = np.random.default_rng(1).uniform(0.5, 2.0, d)
    sw = np.random.default_rng(6).uniform(0.0, 3.0, len(y))
    sw[::5] = 0.0
    opts = naive.options(model=model, lr=0.05, l2=l2, optimizer=optimizer)
    iters = -(-len(order) // batch)
    state = run_kernel(kernel_config(opts, batch, 1, 2 * iters), X, y, order, scale, k_out, optimizer != "sgd", 3,
                       sw=sw)
    want = naive.minibatch_sgd(model, X.astype(np.float64) * scale, y, order, batch, 0.05, optimizer=optimizer,
                               epochs=2, k_out=k_out, l2=l2, sw=sw)
    np.testing.assert_allclose(state.W, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("data_dtype,index_dtype", [(np.float32, np.int32), (np.float64, np.int64)])
def test_csr_scores_are_the_sums_written_out_bit_for_bit(data_dtype, index_dtype):
    """Each row's products in the order of its entries, then the bias (a block's indptr need not start at 0);
    empty rows score their bias."""
    from sgdcli.data.sparse import CsrRows
    from sgdcli.kernels.scoring import csr_scores

    rng = np.random.default_rng(3)
    counts = rng.integers(0, 9, 300)
    counts[[0, 7, 299]] = 0
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64) + 40  # a block from inside the file
    n = int(counts.sum())
    data = rng.standard_normal(n).astype(data_dtype)
    indices = rng.integers(0, 50, n).astype(index_dtype)
    We = rng.standard_normal((3, 51))
    got = csr_scores(CsrRows(data, indices, indptr), We)
    want = np.empty((300, 3))
    for i in range(300):
        for k in range(3):
            acc = 0.0
            for j in range(indptr[i] - 40, indptr[i + 1] - 40):
                acc += float(data[j]) * We[k, indices[j]]
            want[i, k] = acc + We[k, 50]
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("model", ["linear", "logistic", "softmax", "huber"])
@pytest.mark.parametrize("optimizer,extra,batch,pieces", [
    ("sgd", {}, 16, 3), ("sgd", {"l2": 0.05}, 16, 11), ("sgd", {"l1": 0.02}, 1, 3), ("sgd", {"l1": 0.05}, 16, 4),
    ("nesterov", {"l2": 0.01}, 8, 5), ("adagrad", {}, 8, 5), ("rmsprop", {"beta2": 0.9}, 50, 2),
    ("adam", {"average": True}, 8, 5),
])
def test_centred_rows_match_the_dense_reference_on_the_centred_matrix(model, optimizer, extra, batch, pieces):
    """Rows centred by ``shift`` (the columns' means times their scale): each score less the weights times it,
    each batch's gradient on every column, whatever the rule (the lazy ones' included), the same updates as the
    dense rows (X − center) · scale, to rounding; --l1 the dense kernels' proximal step, not the cumulative
    penalty (which banks what a weight held at zero could not take), with the same exact zeros."""
    X, y, order = problem(model)
    k_out = 3 if model == "softmax" else 1
    d = X.shape[1]
    scale = np.random.default_rng(1).uniform(0.5, 2.0, d)
    center = X.astype(np.float64).mean(axis=0)
    center[7] = 0.0  # a column the centring leaves alone
    opts = naive.options(model=model, lr=0.05, optimizer=optimizer, **extra)
    cfg = kernel_config(opts, batch, 1, 2 * -(-len(order) // batch))
    slots = optimizer != "sgd" or "l1" in extra or extra.get("average", False)
    state = run_kernel(cfg, X, y, order, scale, k_out, slots, pieces, shift=center * scale)
    Z = (X.astype(np.float64) - center) * scale
    want = naive.minibatch_sgd(model, Z, y, order, batch, 0.05, optimizer=optimizer, epochs=2, k_out=k_out, **extra)
    got = state.params(extra.get("average", False))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    if extra.get("l1", 0) >= 0.05:
        assert (got[:, :-1] == 0).sum() == (want[:, :-1] == 0).sum() > 0
