"""The O(nonzeros) SGD kernel on CSR rows against the dense NumPy reference (issue 18, first part)."""

import numpy as np
import pytest

from sgdcli.kernels import sparse
from sgdcli.kernels import state as ks
from sgdcli.kernels.state import TrainState, kernel_config

import naive


def csr(X):
    rows = [np.flatnonzero(r) for r in X]
    indptr = np.concatenate(([0], np.cumsum([len(r) for r in rows]))).astype(np.int64)
    indices = np.concatenate(rows).astype(np.int32)
    data = np.concatenate([X[i, r] for i, r in enumerate(rows)]).astype(np.float32)
    return data, indices, indptr


def problem(model, n=157, d=40, k=3, seed=5):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, d)) * (rng.random((n, d)) < 0.15)).astype(np.float32)  # ~85% zeros
    X[3] = 0.0  # a row with no nonzero at all
    if model == "linear":
        y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    elif model == "softmax":
        y = rng.integers(0, k, n).astype(float)
    else:
        y = rng.integers(0, 2, n).astype(float)
    return X, y, rng.permutation(n)


@pytest.mark.parametrize("model", ["linear", "logistic", "hinge", "softmax"])
@pytest.mark.parametrize("batch,l2,pieces", [(1, 0.0, 1), (16, 0.05, 3), (16, 0.05, 11), (157, 0.2, 2)])
def test_sparse_sgd_matches_the_dense_reference(model, batch, l2, pieces):
    X, y, order = problem(model)
    k_out = 3 if model == "softmax" else 1
    d = X.shape[1]
    scale = np.random.default_rng(1).uniform(0.5, 2.0, d)
    data, indices, indptr = csr(X)
    opts = naive.options(model=model, lr=0.05, l2=l2, schedule="invscaling", power_t=0.3)
    iters = -(-len(order) // batch)
    cfg = kernel_config(opts, batch, 1, 2 * iters)
    state = TrainState.zeros(k_out, d)
    touched, marks, n_touched = np.zeros(d, np.int64), np.zeros(d, np.uint8), np.zeros(1, np.int64)
    for epoch in range(2):
        state.counters[ks.EPOCH] = epoch
        for i, piece in enumerate(np.array_split(order, pieces)):
            if i == 1:  # as after a resume: the batch in progress, but a fresh list of touched columns
                touched, marks, n_touched = np.zeros(d, np.int64), np.zeros(d, np.uint8), np.zeros(1, np.int64)
            starts, lens = indptr[piece], indptr[piece + 1] - indptr[piece]
            status = sparse.train_block_sparse(cfg, data, indices, starts, lens, y[piece], scale, state.W, state.G,
                                               state.counters, state.sums, touched, marks, n_touched)
            assert status == ks.OK
        sparse.finish_batch_sparse(cfg, state.W, state.G, state.counters, touched, marks, n_touched)
    assert state.counters[ks.T] == 2 * iters
    Z = X.astype(np.float64) * scale
    W = np.zeros((k_out, d + 1))
    opt, t = naive.Optimizer("sgd", W.shape), 0
    for epoch in range(2):
        for start in range(0, len(order), batch):
            W = opt.step(W, naive.batch_gradient(model, W, Z, y, order[start:start + batch], l2=l2),
                         0.05 / (t + 1) ** 0.3)
            t += 1
    np.testing.assert_allclose(state.W, W, rtol=1e-9, atol=1e-12)


def test_a_non_finite_value_names_its_row():
    X, y, order = problem("logistic")
    X[order[7], 2] = np.nan  # row 7 of the visit
    data, indices, indptr = csr(np.nan_to_num(X, nan=0.0) + np.where(np.isnan(X), 1.0, 0.0))
    data[indptr[order[7]]:indptr[order[7] + 1]][0] = np.nan
    d = X.shape[1]
    cfg = kernel_config(naive.options(model="logistic", lr=0.1), 4, 1, 100)
    state = TrainState.zeros(1, d)
    status = sparse.train_block_sparse(cfg, data, indices, indptr[order], indptr[order + 1] - indptr[order], y[order],
                                       np.ones(d), state.W, state.G, state.counters, state.sums,
                                       np.zeros(d, np.int64), np.zeros(d, np.uint8), np.zeros(1, np.int64))
    assert status == ks.BAD_ROW and state.counters[ks.BAD] == 7
