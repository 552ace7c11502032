"""An epoch's last, partial batch (kernels/batches.py partial_divisor): where whole batches came before it in the
epoch, its gradients' sum is divided by the batch size, so that each of its rows moves the model as much as a row
of a whole batch; where it is the model's whole epoch (a full batch), by its rows, the mean."""

import warnings

import h5py
import numpy as np
import pytest

from sgdcli import TrainOptions, evaluate, train
from sgdcli.kernels.batches import partial_divisor

from conftest import short_fits


def test_the_divisor_is_the_batch_after_a_whole_batch_and_the_rows_alone():
    assert partial_divisor(1024, 1, True) == 1024
    assert partial_divisor(1024, 1, False) == 1
    assert partial_divisor(4000, 3999, False) == 3999


def _linear(path, X, y):
    with h5py.File(path, "w") as f:
        f["X"], f["y"] = X, y
    return path


@short_fits
def test_the_last_row_steps_at_a_batchs_share(tmp_path, no_fit_start):
    """Five rows at batch 2, plain sgd at a constant rate, in file order, raw features: the third step is the
    fifth row's gradient over 2 (the mean of one row stepped it twice as far).  The bias starts at the labels'
    mean (the best constant model, not the fit of the sample)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 3)).astype(np.float32)
    y = rng.standard_normal(5)
    path = _linear(tmp_path / "five.h5", X, y)
    lr = 0.1
    m = train(path, TrainOptions(model="linear", batch_size=2, lr=lr, optimizer="sgd", schedule="constant",
                                 epochs=1, shuffle=False, standardize=False, threads=1))
    Z = np.column_stack([X.astype(np.float64), np.ones(5)])
    w = np.append(np.zeros(3), y.mean())
    for rows in ([0, 1], [2, 3]):
        w -= lr * Z[rows].T @ (Z[rows] @ w - y[rows]) / 2
    w -= lr * Z[4] * (Z[4] @ w - y[4]) / 2
    np.testing.assert_allclose(m.raw_weights()[0], w, rtol=1e-12, atol=1e-15)


@short_fits
def test_a_full_batch_is_still_the_mean(tmp_path, no_fit_start):
    """Seven rows in one batch, from the labels' mean (not the fit of its sample): each step is the mean gradient
    of the seven (no whole batch came before it)."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((7, 2)).astype(np.float32)
    y = rng.standard_normal(7)
    path = _linear(tmp_path / "seven.h5", X, y)
    lr = 0.2
    m = train(path, TrainOptions(model="linear", batch_size="full", lr=lr, optimizer="sgd", schedule="constant",
                                 epochs=3, shuffle=False, standardize=False, threads=1))
    Z = np.column_stack([X.astype(np.float64), np.ones(7)])
    w = np.append(np.zeros(2), y.mean())
    for _ in range(3):
        w -= lr * Z.T @ (Z @ w - y) / 7
    np.testing.assert_allclose(m.raw_weights()[0], w, rtol=1e-12, atol=1e-15)


@short_fits
@pytest.mark.parametrize("model", ["linear", "logistic"])
def test_one_row_past_a_large_batch_trains_as_well_as_none(tmp_path, model, no_fit_start):
    """1,025 rows at batch 1,024 under --lr auto: the mean of the one row left over, at the rate --lr auto sized
    for the noise of 1,024 rows, threw the model far past the optimum every epoch (linear r² −13, logistic log
    loss 2.7, where 1,024 rows ended at 0.96 and 0.15).  Both start where a mini-batch does: 1,024 rows are a full
    batch, which would start at the fit of its sample.  Both under sgd: 1,024 rows, a full batch, would drop
    momentum's velocity where it points uphill, which 1,025 do not (kernels/optimizers.py ``_uphill``)."""
    rng = np.random.default_rng(0)
    n, d = 1025, 100
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    if model == "logistic":
        y = (y > 0).astype(np.float64)
    figures = []
    for rows in (n - 1, n):
        path = _linear(tmp_path / f"{rows}.h5", X[:rows], y[:rows])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = train(path, TrainOptions(model=model, batch_size=1024, epochs=5, optimizer="sgd", threads=1))
        figures.append(evaluate(m, path)["mse" if model == "linear" else "log_loss"])
    assert figures[1] < 1.5 * figures[0]
