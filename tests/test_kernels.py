"""The compiled kernels against the plain NumPy versions in tests/naive.py."""

import numpy as np
import pytest

from sgdcli.kernels import batches, losses, optimizers, pure_sgd, scoring
from sgdcli.kernels import state as ks
from sgdcli.kernels.state import Scratch, TrainState
from sgdcli.kernels.state import kernel_config

import naive


def run_kernel(opts, X, y, order, batch, k_out=1, pieces=1, parts=1, par_min_rows=ks.PAR_MIN_ROWS, epochs=1, sw=None,
               bias_times=1.0, full_batch=False):
    """Feed ``order`` to train_block in ``pieces`` calls per epoch, as windows would (labels and weights ``sw``
    in visiting order; the bias stepping at ``bias_times`` the rate; ``full_batch``: as the run tells the
    kernels of a batch of all its rows)."""
    d = X.shape[1]
    iters = -(-len(order) // batch)
    cfg = kernel_config(opts, batch, parts, iters * epochs, par_min_rows, bias_times=bias_times,
                        full_batch=full_batch)
    state = TrainState.zeros(k_out, d)
    buf = Scratch.make(parts, k_out, d)
    for epoch in range(epochs):
        state.counters[ks.EPOCH] = epoch
        for piece in np.array_split(order, pieces):
            status = batches.train_block(
                cfg, X, y[piece], piece.astype(np.int64), np.zeros(d), np.ones(d), state, buf,
                None if sw is None else sw[piece],
            )
            assert status == ks.OK
        if state.counters[ks.FILL]:
            if opts.drop_last:
                state.G[:] = 0
                state.counters[ks.FILL] = 0
            else:
                assert batches.finish_batch(cfg, state, buf, np.zeros(d), np.ones(d), batches.partial_divisor(
                    batch, int(state.counters[ks.FILL]), len(order) > batch))
    return state


def problem(model, n=203, d=4, k=3, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    return X, naive.targets(model, X, rng, k), rng.permutation(n)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
@pytest.mark.parametrize("model", ["linear", "logistic", "hinge", "softmax"])
def test_train_block_matches_reference(model, optimizer):
    X, y, order = problem(model)
    k_out = 3 if model == "softmax" else 1
    opts = naive.options(model=model, optimizer=optimizer, lr=0.05, l2=0.01, l1=0.001, beta2=0.99)
    state = run_kernel(opts, X, y, order, batch=16, k_out=k_out, pieces=3, epochs=2)
    expected = naive.minibatch_sgd(model, X, y, order, 16, 0.05, optimizer, epochs=2, k_out=k_out, l1=0.001, l2=0.01, beta2=0.99)
    np.testing.assert_allclose(state.W, expected, rtol=1e-9, atol=1e-12)
    assert state.counters[ks.T] == 2 * -(-len(order) // 16)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
@pytest.mark.parametrize("model", ["linear", "logistic", "softmax"])
def test_l1_is_a_proximal_step_that_holds_weights_at_zero(model, optimizer):
    """--l1 strong for the features that do not predict: each update, then every weight moved towards zero by
    l1 times its step size and never across it (naive.Optimizer), in every rule; those weights end exactly 0,
    where the subgradient l1·sign(w) left every weight hovering around it."""
    X, y, order = problem(model, d=6)
    X[:, 3:] *= 0.05  # features too weak for the penalty
    k_out = 3 if model == "softmax" else 1
    opts = naive.options(model=model, optimizer=optimizer, lr=0.05, l2=0.01, l1=0.05, beta2=0.99)
    state = run_kernel(opts, X, y, order, batch=16, k_out=k_out, pieces=3, epochs=3)
    expected = naive.minibatch_sgd(model, X, y, order, 16, 0.05, optimizer, epochs=3, k_out=k_out, l1=0.05,
                                   l2=0.01, beta2=0.99)
    np.testing.assert_allclose(state.W, expected, rtol=1e-9, atol=1e-12)
    zero = state.W[:, :-1] == 0.0
    assert zero[:, 3:].all() and not zero.all(), state.W


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov"])
@pytest.mark.parametrize("model,batch", [("linear", 16), ("logistic", 1), ("softmax", 16), ("logistic", 203)])
def test_the_bias_steps_at_its_own_rate(model, batch, optimizer):
    """--lr auto's bias_times (training/biasrate.py): the bias steps at that multiple of the weights' rate, in
    the general path, the pure-SGD path of batch 1 and a full batch, with --l2 on the weights."""
    X, y, order = problem(model)
    k_out = 3 if model == "softmax" else 1
    opts = naive.options(model=model, optimizer=optimizer, lr=0.02, l2=3.0)
    state = run_kernel(opts, X, y, order, batch=batch, k_out=k_out, pieces=3, epochs=2, bias_times=7.5)
    expected = naive.minibatch_sgd(model, X, y, order, batch, 0.02, optimizer, epochs=2, k_out=k_out, l2=3.0,
                                   bias_lr=0.15)
    np.testing.assert_allclose(state.W, expected, rtol=1e-9, atol=1e-12)
    same = naive.minibatch_sgd(model, X, y, order, batch, 0.02, optimizer, epochs=2, k_out=k_out, l2=3.0)
    assert np.abs(expected[:, -1] - same[:, -1]).max() > 1e-4  # the bias's rate made a difference, far past rtol


@pytest.mark.parametrize("penalized", [False, True])
@pytest.mark.parametrize("optimizer", ["momentum", "nesterov"])
@pytest.mark.parametrize("model", ["linear", "logistic", "softmax"])
def test_a_full_batch_drops_a_velocity_that_points_uphill(model, optimizer, penalized):
    """Momentum's restart (kernels/optimizers.py ``_uphill``): a full batch's velocity is dropped where its last
    move went uphill of the objective's slope, the bias's move at its own rate, --l2's gradient and --l1's
    subgradient counted, and --l1's threshold counts the velocity's steps again; the velocity of a rate this large
    overshoots, so the model differs from one that never drops it."""
    X, y, order = problem(model, d=8 if penalized else 4)
    l1 = {"linear": 0.3, "logistic": 0.01, "softmax": 0.03}[model] if penalized else 0.0
    k_out = 3 if model == "softmax" else 1
    opts = naive.options(model=model, optimizer=optimizer, lr=0.5, l2=0.1, l1=l1)
    state = run_kernel(opts, X, y, order, batch=len(order), k_out=k_out, pieces=3, epochs=10, bias_times=2.0,
                       full_batch=True)
    same = dict(epochs=10, k_out=k_out, l2=0.1, l1=l1, bias_lr=1.0)
    expected = naive.minibatch_sgd(model, X, y, order, len(order), 0.5, optimizer, restart=True, **same)
    np.testing.assert_allclose(state.W, expected, rtol=1e-9, atol=1e-12)
    if l1:  # the premise: the penalty holds some weights at zero and not others
        assert 0 < np.count_nonzero(expected[:, :-1]) < expected[:, :-1].size, expected
    kept = naive.minibatch_sgd(model, X, y, order, len(order), 0.5, optimizer, **same)
    assert np.abs(expected - kept).max() > 1e-3


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov"])
@pytest.mark.parametrize("gradient,velocity,dropped", [
    ([0.8, -0.3], [-3.0, 0.645], True),  # the weight at zero: gradient and velocity beyond the threshold, uphill
    ([0.8, -0.45], [-1.0, 0.645], False),  # its velocity within the threshold, which the proximal step takes back
])
def test_a_weight_held_at_zero_has_a_say_in_the_restart_by_what_is_beyond_l1(optimizer, gradient, velocity, dropped):
    """One step of a full batch under --l1 0.5 from a state built by hand, against the naive reference: weight 0
    at zero, weight 1 at 1, a velocity of 3 steps (l1 times their sum, 1 + μ + μ², is 1.355: what the proximal
    step takes back of it).  Weight 0's slope is what its gradient has beyond l1 (0.3), and its velocity what it
    has beyond 1.355; weight 1's the gradient plus l1 and the velocity plus 1.355.  Whether the velocity is
    dropped turns on weight 0's share."""
    import numba

    @numba.njit
    def one_step(cfg, W, G, slots, t, lr):
        return optimizers.step(cfg, W, G, slots, 1.0, t, lr)

    opts = naive.options(model="logistic", optimizer=optimizer, lr=0.1, l1=0.5, l2=0.0)
    cfg = kernel_config(opts, batch=10, threads=1, total_iterations=10, full_batch=True)
    W = np.array([[0.0, 1.0, 0.3]])
    G = np.array([[*gradient, 0.0]])
    slots = np.zeros((optimizers.N_SLOTS, 1, 3))
    slots[optimizers.SLOT_A] = [[*velocity, 0.0]]
    slots[optimizers.SLOT_B] = 1 + 0.9 + 0.81
    reference = naive.Optimizer(optimizer, W.shape, l1=0.5, restart=True)
    reference.a, reference.gathered, reference.t = slots[optimizers.SLOT_A].copy(), 3, 3
    expected = reference.step(W, G.copy(), 0.1)
    assert one_step(cfg, W, G, slots, 4, 0.1)
    np.testing.assert_allclose(W, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(slots[optimizers.SLOT_A], reference.a, rtol=1e-12)
    assert reference.gathered == (1 if dropped else 4)


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov"])
def test_a_full_batch_of_one_row_restarts_too(optimizer):
    """Batch 1 of one row (a share of one row under --parallel average) is a full batch: not the in-place
    path of batch 1, which has no restart."""
    X, y, _ = problem("logistic", n=1)
    opts = naive.options(model="logistic", optimizer=optimizer, lr=2.0, l2=0.1)
    state = run_kernel(opts, X, y, np.arange(1), batch=1, epochs=30, full_batch=True)
    expected = naive.minibatch_sgd("logistic", X, y, np.arange(1), 1, 2.0, optimizer, epochs=30, l2=0.1, restart=True)
    np.testing.assert_allclose(state.W, expected, rtol=1e-9, atol=1e-12)
    kept = naive.minibatch_sgd("logistic", X, y, np.arange(1), 1, 2.0, optimizer, epochs=30, l2=0.1)
    assert np.abs(expected - kept).max() > 1e-3


@pytest.mark.parametrize("model", ["logistic", "softmax"])
@pytest.mark.parametrize("pieces", [1, 2, 7, 203])
def test_block_boundaries_do_not_change_the_result(pieces, model):
    """A batch straddling blocks accumulates its gradient across calls.

    Single-output models sum rows two at a time, so a call boundary inside a
    pair changes how the gradient sum is rounded (never what it sums):
    equal to the last bits.  Softmax goes one row at a time: bit for bit.
    """
    X, y, order = problem(model)
    k_out = 3 if model == "softmax" else 1
    opts = naive.options(model=model, lr=0.1)
    one = run_kernel(opts, X, y, order, batch=32, k_out=k_out, pieces=1)
    split = run_kernel(opts, X, y, order, batch=32, k_out=k_out, pieces=pieces)
    assert split.counters[ks.T] == one.counters[ks.T] == -(-len(order) // 32)
    if model == "softmax":
        np.testing.assert_array_equal(one.W, split.W)
    else:
        np.testing.assert_allclose(one.W, split.W, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("model,k_out", [("softmax", 3), ("logistic", 1)])
@pytest.mark.parametrize("parts", [2, 3])
def test_parallel_path_matches_serial(parts, model, k_out):
    from numba import types

    X, y, order = problem(model, n=500)
    opts = naive.options(model=model, lr=0.1)
    serial = run_kernel(opts, X, y, order, batch=64, k_out=k_out)
    parallel = run_kernel(opts, X, y, order, batch=64, k_out=k_out, parts=parts, par_min_rows=0)
    threads_arg = [sig[8] for sig in batches.train_block_batches.signatures]
    assert any(isinstance(t, types.Integer) for t in threads_arg), threads_arg  # the threaded variant ran
    np.testing.assert_allclose(parallel.W, serial.W, rtol=1e-10)
    again = run_kernel(opts, X, y, order, batch=64, k_out=k_out, parts=parts, par_min_rows=0)
    np.testing.assert_array_equal(parallel.W, again.W)  # same thread count: bit for bit


def test_full_batch_and_pure_sgd_and_drop_last():
    X, y, order = problem("linear", n=50)
    opts = naive.options(model="linear", lr=0.1)
    full = run_kernel(opts, X, y, order, batch=50, pieces=4)
    assert full.counters[ks.T] == 1
    np.testing.assert_allclose(full.W, naive.minibatch_sgd("linear", X, y, order, 50, 0.1), rtol=1e-10)
    sgd1 = run_kernel(opts, X, y, order, batch=1, pieces=3)
    assert sgd1.counters[ks.T] == 50
    np.testing.assert_allclose(sgd1.W, naive.minibatch_sgd("linear", X, y, order, 1, 0.1), rtol=1e-9)
    dropped = run_kernel(naive.options(model="linear", lr=0.1, drop_last=True), X, y, order, batch=16)
    assert dropped.counters[ks.T] == 3
    np.testing.assert_allclose(dropped.W, naive.minibatch_sgd("linear", X, y, order, 16, 0.1, drop_last=True), rtol=1e-10)


@pytest.mark.parametrize("epochs", [1, 3])
def test_averaged_sgd_matches_reference(epochs):
    """--average is the mean of the iterates of the run's last half of updates (it was of every iterate, the
    first far-off ones included)."""
    X, y, order = problem("logistic")
    opts = naive.options(model="logistic", lr=0.2, average=True)
    state = run_kernel(opts, X, y, order, batch=8, epochs=epochs)
    expected = naive.minibatch_sgd("logistic", X, y, order, 8, 0.2, epochs=epochs, average=True)
    np.testing.assert_allclose(state.params(True), expected, rtol=1e-9)


def test_folded_weights_score_like_standardized_features():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 7)).astype(np.float32)
    W = rng.standard_normal((3, 8))
    center, scale = rng.standard_normal(7), rng.uniform(0.5, 2, 7)
    rows = np.array([5, 0, 99, 42], dtype=np.int64)
    We = scoring.fold_weights(W, center, scale, np.empty_like(W))
    S = scoring.scores(X, rows, We, np.empty((4, 3)))
    Z = (X[rows].astype(np.float64) - center) * scale
    np.testing.assert_allclose(S, Z @ W[:, :7].T + W[:, 7], rtol=1e-12)


def test_row_losses_match_reference():
    rng = np.random.default_rng(1)
    for model, k in (("linear", 1), ("logistic", 1), ("hinge", 1), ("softmax", 4), ("huber", 1), ("quantile", 1),
                     ("poisson", 1), ("squared_hinge", 1), ("modified_huber", 1)):
        S = rng.standard_normal((20, k)) * 3
        regression = model in ("linear", "huber", "quantile")
        t = (rng.standard_normal(20) * 3 if regression else rng.poisson(2.0, 20).astype(float) if model == "poisson"
             else rng.integers(0, max(k, 2), 20).astype(float))
        param = {"huber": 0.7, "quantile": 0.9}.get(model, 0.0)
        got = losses.row_losses(losses.loss_of((model, param)), S, t, np.empty(20), np.empty_like(S))
        want = [naive.loss_and_grad(model, S[i], t[i], param)[0] for i in range(20)]
        np.testing.assert_allclose(got, want, rtol=1e-10, err_msg=model)


@pytest.mark.parametrize("model,k_out", [("linear", 1), ("logistic", 1), ("softmax", 3), ("hinge", 1),
                                         ("squared_hinge", 1), ("modified_huber", 1), ("huber", 1), ("quantile", 1),
                                         ("poisson", 1)])
@pytest.mark.parametrize("bad", [6, 16, 17])
@pytest.mark.parametrize("batch", [7, 1])
def test_nonfinite_feature_is_reported_with_its_row(bad, model, k_out, batch):
    """Batches of 7: row 6 ends a batch alone, 16 and 17 are the first and second of a pair (the logistic
    loop's third and fourth of four); batch 1 is the pure-SGD path.  Every loss: a NaN score past the
    hinges' margin was a loss of 0, which trained past the row or let it poison its batch's gradient."""
    X, y, order = problem(model, n=30)
    X[bad, 2] = np.nan
    opts = naive.options(model=model, optimizer="sgd")
    d = X.shape[1]
    cfg = kernel_config(opts, batch, 1, 30)
    state = TrainState.zeros(k_out, d)
    buf = Scratch.make(1, k_out, d)
    status = batches.train_block(cfg, X, y, np.arange(30, dtype=np.int64), np.zeros(d), np.ones(d), state, buf)
    assert status == ks.BAD_ROW
    assert state.counters[ks.BAD] == bad
    assert state.counters[ks.T] == bad // batch  # the batches before the bad row's were taken


def test_divergence_is_detected():
    X, y, order = problem("linear", n=200)
    X *= 100
    opts = naive.options(model="linear", lr=10.0)
    d = X.shape[1]
    cfg = kernel_config(opts, 1, 1, 200)
    state = TrainState.zeros(1, d)
    buf = Scratch.make(1, 1, d)
    status = batches.train_block(cfg, X, y[order], order.astype(np.int64), np.zeros(d), np.ones(d), state, buf)
    assert status == ks.DIVERGED


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov"])
@pytest.mark.parametrize("model,k_out", [("linear", 1), ("logistic", 1), ("hinge", 1), ("softmax", 3)])
@pytest.mark.parametrize("standardize", [False, True])
def test_pure_sgd_path_matches_reference(model, k_out, standardize, optimizer):
    """Batch 1 with plain SGD, momentum or Nesterov: the in-place path for single-output models, the general
    one for softmax.

    With L2 and standardization both still match the naive."""
    X, y, order = problem(model, n=150)
    d = X.shape[1]
    rng = np.random.default_rng(9)
    center, scale = (rng.standard_normal(d), rng.uniform(0.5, 2, d)) if standardize else (np.zeros(d), np.ones(d))
    opts = naive.options(model=model, lr=0.05, l2=0.1, standardize=standardize, schedule="invscaling", power_t=0.3,
                         optimizer=optimizer)
    cfg = kernel_config(opts, 1, 1, 2 * 150)
    assert pure_sgd.is_pure_sgd(cfg, k_out) == (k_out == 1)
    state, buf = TrainState.zeros(k_out, d), Scratch.make(1, k_out, d)
    for epoch in range(2):
        state.counters[ks.EPOCH] = epoch
        for piece in np.array_split(order, 3):
            assert batches.train_block(cfg, X, y[piece], piece.astype(np.int64), center, scale, state, buf) == ks.OK
    Z = ((X.astype(np.float64) - center) * scale).astype(np.float64)
    W = np.zeros((k_out, d + 1))
    opt = naive.Optimizer(optimizer, W.shape)
    t = 0
    for epoch in range(2):
        for i in order:
            lr = 0.05 / (t + 1) ** 0.3
            W = opt.step(W, naive.batch_gradient(model, W, Z, y, [i], l2=0.1), lr)
            t += 1
    np.testing.assert_allclose(state.W, W, rtol=1e-9, atol=1e-12)
    assert state.counters[ks.T] == 300 and state.counters[ks.FILL] == 0


def test_prefetch_is_emitted_and_harmless():
    """prefetch_row compiles to prefetch instructions (x86-64) and changes nothing it touches."""
    import platform

    import numba

    from sgdcli.kernels.intrinsics import prefetch_row

    @numba.njit
    def touch(X, rows):
        total = 0.0
        for r in range(rows.shape[0]):
            prefetch_row(X, rows[r])
            total += X[rows[r], 0]
        return total

    X = np.arange(12.0, dtype=np.float32).reshape(4, 3)
    before = X.copy()
    assert touch(X, np.array([3, 0, 2], dtype=np.int64)) == 9.0 + 0.0 + 6.0
    assert touch(X[:, ::2], np.array([1, 1], dtype=np.int64)) == 6.0  # strided view
    assert touch(np.asfortranarray(X.astype(np.float64)), np.array([2], dtype=np.int32)) == 6.0
    np.testing.assert_array_equal(X, before)
    if platform.machine() in ("x86_64", "AMD64"):
        asm = touch.inspect_asm(touch.signatures[0])
        assert "prefetcht0" in asm


@pytest.mark.parametrize("n,cuts", [(1, []), (255, []), (257, [100]), (3000, [1, 999, 2500])])
def test_moments_match_numpy_however_the_rows_are_cut(n, cuts):
    """Means and variances in float64, merged part by part, equal NumPy's over all rows (to rounding)."""
    from sgdcli.model.standardize import RunningMoments

    rng = np.random.default_rng(n)
    X = (rng.standard_normal((n, 7)) * [1, 10, 1e3, 1e-3, 5, 1, 2] + [0, 1e4, -3, 0, 1, 7, 1e6]).astype(np.float32)
    rows = rng.permutation(n).astype(np.int64)
    stats = RunningMoments(7)
    for lo, hi in zip([0, *cuts], [*cuts, n]):
        assert stats.update(X, rows[lo:hi]) == -1
    X64 = X.astype(np.float64)
    assert stats.n == n
    np.testing.assert_allclose(stats.mean, X64.mean(axis=0), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(stats.m2 / n, X64.var(axis=0), rtol=1e-9, atol=1e-12)
    whole = RunningMoments(7)
    whole.update(X, rows)
    # parts are runs of consecutive rows of the stream wherever the calls cut it: the same figures, bit for bit
    np.testing.assert_array_equal(stats.mean, whole.mean)
    np.testing.assert_array_equal(stats.m2, whole.m2)


def test_moments_name_the_first_row_with_a_non_finite_value():
    from sgdcli.model.standardize import RunningMoments

    X = np.ones((1000, 3), dtype=np.float32)
    X[700, 1], X[900, 2] = np.inf, np.nan
    rows = np.arange(1000, dtype=np.int64)[::-1].copy()  # visited from the end: row 900 comes first
    assert RunningMoments(3).update(X, rows) == 99


@pytest.mark.parametrize("model", ["linear", "logistic", "hinge", "softmax"])
@pytest.mark.parametrize("batch,parts,optimizer", [(16, 1, "adam"), (15, 1, "sgd"), (64, 2, "sgd"), (1, 1, "sgd"),
                                                   (1, 1, "nesterov")])
def test_row_weights_multiply_each_rows_gradient(model, batch, parts, optimizer):
    """Every path (single-output pairs with an odd row, the general loop, the threaded split, pure SGD) weighs
    each row's gradient by its weight; a weight of 0 leaves its row out of the step but not out of the batch."""
    X, y, order = problem(model, n=203)
    k_out = 3 if model == "softmax" else 1
    sw = np.random.default_rng(4).uniform(0.0, 3.0, len(y))
    sw[::7] = 0.0
    opts = naive.options(model=model, lr=0.05, l2=0.01, optimizer=optimizer)
    state = run_kernel(opts, X, y, order, batch, k_out=k_out, pieces=3, parts=parts, par_min_rows=0, epochs=2, sw=sw)
    want = naive.minibatch_sgd(model, X, y, order, batch, 0.05, optimizer, epochs=2, k_out=k_out, l2=0.01, sw=sw)
    np.testing.assert_allclose(state.W, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("batch", [1, 16])
def test_weights_of_one_change_nothing_bit_for_bit(batch):
    X, y, order = problem("logistic")
    opts = naive.options(model="logistic", lr=0.1)
    plain = run_kernel(opts, X, y, order, batch, pieces=2)
    ones = run_kernel(opts, X, y, order, batch, pieces=2, sw=np.ones(len(y)))
    np.testing.assert_array_equal(plain.W, ones.W)
    assert plain.sums[ks.EPOCH_LOSS] == ones.sums[ks.EPOCH_LOSS]


def test_weighted_moments_are_those_of_the_repeated_rows():
    from sgdcli.model.standardize import RunningMoments

    rng = np.random.default_rng(2)
    X = rng.standard_normal((700, 5)) * 3 + 1
    w = rng.integers(0, 4, 700).astype(float)
    weighted = RunningMoments(5)
    for rows in np.array_split(np.arange(700), 3):
        assert weighted.update(X, rows, w) == -1
    repeated = np.repeat(X, w.astype(int), axis=0)
    assert weighted.n == w.sum()
    np.testing.assert_allclose(weighted.mean, repeated.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(weighted.std(), repeated.std(axis=0), rtol=1e-12)
