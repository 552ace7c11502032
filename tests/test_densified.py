"""CSR rows through the dense kernels, a piece at a time made dense (kernels/densified.py): the dense kernels'
updates on the dense copy of the rows, whatever the pieces and calls cut: to rounding, since a piece's end
regroups the rows that the loops of single-output models score together, and the batch's loss sum."""

import numpy as np
import pytest

from sgdcli.kernels import state as ks
from sgdcli.kernels.batches import finish_batch, partial_divisor, train_block
from sgdcli.kernels.densified import PIECE_BYTES, piece_rows, train_block_csr
from sgdcli.kernels.state import Scratch, TrainState, kernel_config

import naive
from test_sparse_kernel import csr, problem


def run(cfg, X, y, order, k_out, calls, piece, center, scale, sw=None, dense=False, epochs=2):
    """Two epochs over ``order`` in ``calls`` calls each, through the CSR entry with pieces of ``piece`` rows,
    or through ``train_block`` on the dense copy (``dense``); the final state and the scratch."""
    d = X.shape[1]
    data, indices, indptr = csr(X)
    state = TrainState.zeros(k_out, d)
    scratch = Scratch.make(cfg.parts, k_out, d, piece_rows=0 if dense else piece)
    for epoch in range(epochs):
        state.counters[ks.EPOCH] = epoch
        for part in np.array_split(order, calls):
            weights = None if sw is None else sw[part]
            if dense:
                status = train_block(cfg, X, y[part], part, center, scale, state, scratch, weights)
            else:
                starts, lens = indptr[part], indptr[part + 1] - indptr[part]
                status = train_block_csr(cfg, data, indices, starts, lens, y[part], center, scale, state, scratch,
                                         weights)
            assert status == ks.OK
        if state.counters[ks.FILL]:
            divisor = partial_divisor(cfg.batch_size, int(state.counters[ks.FILL]), len(order) > cfg.batch_size)
            assert finish_batch(cfg, state, scratch, center, scale, divisor)
    return state, scratch


@pytest.mark.parametrize("model,optimizer,batch,extra", [
    ("linear", "sgd", 1, {}),  # the in-place path of batch 1, without a velocity
    ("logistic", "nesterov", 1, {"l2": 0.01}),  # ... and with one
    ("logistic", "sgd", 8, {"l1": 0.02}),  # the single-output loop, logistic's rows four at a time
    ("huber", "adagrad", 5, {}),  # ... and in pairs
    ("softmax", "adam", 16, {"average": True}),  # the general loop, averaged
    ("softmax", "momentum", 157, {}),  # a full batch, over every piece and call
])
@pytest.mark.parametrize("piece", [1, 3, 64])
@pytest.mark.parametrize("weighted", [False, True])
def test_csr_rows_train_as_their_dense_copy_does(model, optimizer, batch, extra, piece, weighted):
    """Batches spanning pieces and calls, standardized, with and without sample weights: the same steps, the
    same state to rounding, and the pieces left as they were found, zeros."""
    X, y, order = problem(model, density=0.3)
    k_out = 3 if model == "softmax" else 1
    rng = np.random.default_rng(2)
    center, scale = X.mean(axis=0).astype(np.float64), rng.uniform(0.5, 2.0, X.shape[1])
    sw = rng.uniform(0.0, 2.0, len(y)) if weighted else None
    opts = naive.options(model=model, lr=0.05, optimizer=optimizer, standardize=True, **extra)
    cfg = kernel_config(opts, batch, 1, 2 * -(-len(order) // batch))
    a, scratch = run(cfg, X, y, order, k_out, 4, piece, center, scale, sw)
    b, _ = run(cfg, X, y, order, k_out, 4, piece, center, scale, sw, dense=True)
    assert a.counters[ks.T] == 2 * -(-len(order) // batch)
    assert a.counters.tobytes() == b.counters.tobytes()
    for name in ("W", "G", "slots", "sums"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-9, atol=1e-12, err_msg=name)
    assert not scratch.pieces.any()


@pytest.mark.parametrize("piece", [24, 500])
def test_a_run_of_two_threads_trains_the_pieces_on_one(piece):
    """Settings that share a batch of 64 among two threads on dense rows: the pieces' rows are trained on one
    (kernels/densified.py says why), the same bytes as with the settings of one thread, and the dense copy's
    model of one thread to rounding."""
    X, y, order = problem("softmax", n=500, density=0.3)
    opts = naive.options(model="softmax", lr=0.05, optimizer="nesterov")
    two, one = (kernel_config(opts, 64, parts, 2 * -(-500 // 64), par_min_rows=8) for parts in (2, 1))
    center, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
    a, _ = run(two, X, y, order, 3, 3, piece, center, scale)
    assert a.W.tobytes() == run(one, X, y, order, 3, 3, piece, center, scale)[0].W.tobytes()
    b, _ = run(one, X, y, order, 3, 3, piece, center, scale, dense=True)
    np.testing.assert_allclose(a.W, b.W, rtol=1e-9, atol=1e-12)


def test_a_column_given_twice_in_a_row_counts_twice():
    """As the O(nonzeros) kernel, the moments and predictions count it: the dense copy holds the sum."""
    X, y, order = problem("linear", density=0.3)
    data, indices, indptr = csr(X)
    split = np.repeat(np.arange(len(data)), 2)  # each nonzero as two halves in the same column
    data2, indices2, indptr2 = data[split] / 2, indices[split], indptr * 2
    cfg = kernel_config(naive.options(model="linear", lr=0.01), 4, 1, 100)
    a, b = TrainState.zeros(1, X.shape[1]), TrainState.zeros(1, X.shape[1])
    scratch = Scratch.make(1, 1, X.shape[1], piece_rows=7)
    assert train_block_csr(cfg, data2, indices2, indptr2[order], indptr2[order + 1] - indptr2[order], y[order],
                           None, None, a, scratch) == ks.OK
    assert train_block(cfg, X, y[order], order, None, None, b, Scratch.make(1, 1, X.shape[1])) == ks.OK
    np.testing.assert_allclose(a.W, b.W, rtol=1e-9, atol=1e-12)
    assert not scratch.pieces.any()


def test_a_run_that_diverges_stops_and_leaves_the_pieces_zeros():
    X, y, order = problem("linear", density=0.3)
    data, indices, indptr = csr(X * 1e30)
    cfg = kernel_config(naive.options(model="linear", lr=1e10), 4, 1, 100)
    state, scratch = TrainState.zeros(1, X.shape[1]), Scratch.make(1, 1, X.shape[1], piece_rows=5)
    assert train_block_csr(cfg, data, indices, indptr[order], indptr[order + 1] - indptr[order], y[order], None,
                           None, state, scratch) == ks.DIVERGED
    assert not scratch.pieces.any()


@pytest.mark.parametrize("piece", [1, 4, 100])
def test_a_non_finite_value_stops_at_its_rows_position_among_the_calls_rows(piece):
    """The position among the rows of the call, whichever piece holds it (the engine names the file's row from
    it), as the dense kernels give it, and the pieces are left zeros."""
    X, y, order = problem("linear", density=0.3)
    at = 37
    X[order[at], np.flatnonzero(X[order[at]])[0]] = np.nan
    data, indices, indptr = csr(X)
    cfg = kernel_config(naive.options(model="linear", lr=0.01), 4, 1, 100)
    for dense in (False, True):
        state, scratch = TrainState.zeros(1, X.shape[1]), Scratch.make(1, 1, X.shape[1], piece_rows=piece)
        if dense:
            status = train_block(cfg, X, y[order], order, None, None, state, scratch)
        else:
            status = train_block_csr(cfg, data, indices, indptr[order], indptr[order + 1] - indptr[order], y[order],
                                     None, None, state, scratch)
        assert (status, int(state.counters[ks.BAD])) == (ks.BAD_ROW, at)
        assert not scratch.pieces.any()


def test_a_scratch_without_pieces_is_refused_not_looped_on():
    X, y, order = problem("linear")
    data, indices, indptr = csr(X)
    cfg = kernel_config(naive.options(model="linear", lr=0.01), 4, 1, 100)
    with pytest.raises(ValueError, match="a scratch without pieces"):
        train_block_csr(cfg, data, indices, indptr[:-1], np.diff(indptr), y, None, None, TrainState.zeros(1, 40),
                        Scratch.make(1, 1, 40))


def test_a_piece_is_what_the_cache_holds_and_at_least_a_row():
    assert piece_rows(1 << 40) == 1
    small, wide = piece_rows(20), piece_rows(2000)
    assert small * 20 * 4 <= PIECE_BYTES < (small + 1) * 20 * 4 and wide * 2000 * 4 <= PIECE_BYTES < (wide + 1) * 8000
