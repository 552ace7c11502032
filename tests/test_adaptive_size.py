"""--lr auto for adam, rmsprop and adagrad on logistic and softmax: the rate follows the size of the weights a fit of
the sample finds (training/adaptivesize.py), within the sample's --memory (training/gradientnoise.py)."""

import h5py
import numpy as np
import pytest

from sgdcli import generate, train
from sgdcli.data.table import Table
from sgdcli.options import TrainOptions
from sgdcli.training import classifierfit, fitgap, gradientnoise, rate, sampling

from conftest import cli, short_fits, write_table


def _optimum(model, Z, y):
    """The unpenalized optimum of rows Z (standardized, with the bias's column): its mean log loss, its weights as
    the model travels to them (the bias's aside; softmax's centred across the classes), and its scores."""
    from sklearn.linear_model import LogisticRegression

    best = LogisticRegression(C=1e10, tol=1e-12, max_iter=100_000).fit(Z[:, :-1], y)
    S = Z[:, :-1] @ best.coef_.T + best.intercept_
    if model == "logistic":
        return float(np.mean(np.logaddexp(0, S[:, 0]) - y * S[:, 0])), best.coef_.T, S
    top = S.max(axis=1)
    lse = top + np.log(np.exp(S - top[:, None]).sum(axis=1))
    W = best.coef_.T
    return float(np.mean(lse - S[np.arange(len(y)), y.astype(int)])), W - W.mean(axis=1, keepdims=True), S


def _loss(model, m, X, y):
    W = m.raw_weights()
    S = X @ W[:, :-1].T + W[:, -1]
    if model == "logistic":
        return float(np.mean(np.logaddexp(0, S[:, 0]) - y * S[:, 0]))
    top = S.max(axis=1)
    return float(np.mean(top + np.log(np.exp(S - top[:, None]).sum(axis=1)) - S[np.arange(len(y)), y.astype(int)]))


def _data(tmp_path, model, noise):
    path = tmp_path / f"{model}-{noise}.h5"
    generate(path, task="binary" if model == "logistic" else "multiclass", rows=10_000, features=10, classes=4,
             noise=noise, seed=0)
    with h5py.File(path, "r") as f:
        return path, f["X"][:].astype(np.float64), f["y"][:].astype(np.float64)


@pytest.mark.parametrize("model,optimizer,within", [("logistic", "adagrad", 1.1), ("logistic", "rmsprop", 1.1),
                                                    ("softmax", "adam", 1.1), ("softmax", "adagrad", 1.25)])
def test_nearly_separable_rows_end_near_the_optimum_at_the_default_schedule(tmp_path, model, optimizer, within):
    """Labels of little noise: the optimum's weights are about 10 times those of noisy labels, which the rate for
    weights of size 1 took them to be.  Five epochs at it ended 143% (logistic, adagrad), 47% (rmsprop), 64%
    (softmax, adam) and 304% (adagrad) above the optimum's log loss; at the fitted size, 2.2%, 3.2%, 1.7% and
    19%."""
    path, X, y = _data(tmp_path, model, 0.1)
    m = train(path, TrainOptions(model=model, optimizer=optimizer, epochs=5, threads=1))
    optimum, _, _ = _optimum(model, np.column_stack([(X - m.center) / m.scale, np.ones(len(X))]), y)
    assert _loss(model, m, X, y) < within * optimum


@short_fits  # one epoch
def test_the_size_is_that_of_the_optimums_weights(tmp_path):
    """Adam and rmsprop step each weight by about the rate, whatever the gradient's scale: their rate grows by the
    root mean square of the optimum's weights.  Adagrad's steps shrink as the gradient quiets near the fit, so its
    size is that over the root of the gradient's mean square there, as a share of its worst case."""
    path, X, y = _data(tmp_path, "logistic", 0.1)
    for optimizer in ("adam", "rmsprop", "adagrad"):
        m = train(path, TrainOptions(optimizer=optimizer, epochs=1))
        Z = np.column_stack([(X - m.center) / m.scale, np.ones(len(X))])
        _, W, S = _optimum("logistic", Z, y)
        size = np.sqrt(np.mean(W**2))
        auto = m.training["lr_auto"]
        assert auto["raised"] == auto["sought"]
        assert m.training["lr"] == pytest.approx(rate.ADAPTIVE[optimizer] * auto["width"] * auto["sought"], rel=1e-9)
        if optimizer != "adagrad":
            assert auto["sought"] == pytest.approx(size, rel=0.1)
            continue
        p = 1 / (1 + np.exp(-S[:, 0]))
        norms = np.einsum("ij,ij->i", Z, Z)
        quiet = np.sum((p - y) ** 2 * norms) / np.sum(norms) / 0.25  # of its worst case, (p − y)² = ¼
        assert auto["sought"] == pytest.approx(size / np.sqrt(quiet), rel=0.1)
        assert auto["sought"] > 2 * size


@pytest.mark.parametrize("model", ["logistic", "softmax"])
def test_noisy_labels_keep_the_rate_for_weights_of_size_one(tmp_path, model):
    """Labels as noisy as those ADAPTIVE was measured on: the fitted weights are smaller than 1, and adam's and
    rmsprop's rate is the step per weight times the rows' width, as before; adagrad's size, over the root of the
    gradient's quiet at the fit, is at most a fifth over 1 (softmax's)."""
    path, _, _ = _data(tmp_path, model, 1.0)
    for optimizer in ("adam", "rmsprop", "adagrad"):
        auto = train(path, TrainOptions(model=model, optimizer=optimizer, epochs=1)).training["lr_auto"]
        if optimizer == "adagrad":
            assert auto["raised"] == max(1.0, auto["sought"]) < 1.2
            continue
        assert auto["sought"] < 1 and auto["raised"] == 1.0
        assert auto["lr"] == pytest.approx(rate.ADAPTIVE[optimizer] * auto["width"], rel=1e-12)


@short_fits  # the constant rate's noise stays to the end
def test_a_schedule_that_does_not_decay_raises_adam_and_rmsprop_only_to_the_noise_bound(tmp_path):
    """Under constant the larger steps' noise stays to the end: adam's rate, at REACH's bound already, stays;
    rmsprop's rises to that bound, not to the size; adagrad's steps decay by themselves and take the size."""
    path, _, _ = _data(tmp_path, "logistic", 0.1)
    for optimizer in ("adam", "rmsprop", "adagrad"):
        m = train(path, TrainOptions(optimizer=optimizer, schedule="constant", epochs=5))
        auto = m.training["lr_auto"]
        bound = rate.REACH.get(optimizer, np.inf) / (auto["norm1"] * np.sqrt(auto["updates"]))
        assert auto["sought"] > 3
        expected = min(rate.ADAPTIVE[optimizer] * auto["width"] * auto["sought"], bound)
        assert auto["lr"] == pytest.approx(expected, rel=1e-12)
        assert auto["raised"] == (1.0 if optimizer == "adam" else pytest.approx(
            expected / (rate.ADAPTIVE[optimizer] * auto["width"]), rel=1e-12))


def _wide(tmp_path):
    rng = np.random.default_rng(0)
    d = 63  # 64 weights with the bias's: the widest fitted
    X = rng.standard_normal((6000, d)).astype(np.float32)
    y = (X @ rng.standard_normal(d) + 0.1 * rng.logistic(size=6000) > 0).astype(np.int64)
    return write_table(tmp_path / "wide.h5", X, y), d


@pytest.mark.parametrize("optimizer,ends_at", [("sgd", 1.0), ("adam", None), ("adagrad", 1.0)])
@pytest.mark.parametrize("memory,fits", [(2 << 20, False), (7 << 19, False), (5 << 20, True)])
def test_the_fit_stays_within_the_samples_memory(tmp_path, optimizer, ends_at, memory, fits):
    """At 2M the sample of 64 values a row is cut to what --memory holds, and the fit's copies of its rows (and
    adam's of their absolute values) took twice as much again; at 3.5M the whole sample fits and the fit does
    not; at 5M both do.  The fit runs only where it fits beside the sample, and says so where it does not."""
    import tracemalloc

    path, d = _wide(tmp_path)
    with Table(path) as table:
        rate.auto_rate(table, "logistic", np.zeros(d), np.ones(d), 32, optimizer, memory=1 << 20)  # imports
        tracemalloc.start()
        try:
            auto = rate.auto_rate(table, "logistic", np.zeros(d), np.ones(d), 32, optimizer, memory=memory,
                                  ends_at=ends_at, updates=1000)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        rows = auto.rows
        assert (rows < sampling.SAMPLE_ROWS) == (memory < sampling.SAMPLE_ROWS * sampling.DENSE_SAMPLE_BYTES * 64)
    assert peak <= memory + (1 << 18)
    room = memory - sampling.DENSE_HELD_BYTES * rows * (d + 1)
    need = 8 * (rows * (classifierfit.FIT_ROW_VALUES * 2 + 2) + classifierfit.NEWTON_COPIES * 64**2
                + 2 * classifierfit.BLOCK_ROWS * 64)
    assert (need <= room) == fits
    assert auto.unfitted == ("" if fits else f"a fit of the sample's {rows} rows needs {need:,} bytes beside "
                             f"them, and --memory leaves {room:,}")
    if optimizer == "sgd":
        assert (auto.noise_share < 1) == fits
    else:
        assert np.isfinite(auto.sought) == fits and (auto.raised > 1) == fits


def test_the_fits_bytes_bound_what_it_holds():
    """fit_bytes counts what measure and fit_weights hold beside the rows, for two classes and for many."""
    import tracemalloc

    rng = np.random.default_rng(0)
    for m, d, k in ((4096, 63, 2), (4096, 10, 4), (4096, 1, 33), (1000, 20, 3)):
        X = rng.standard_normal((m, d))
        Z = np.column_stack([X, np.ones(m)])
        y = (X @ rng.standard_normal((d, k)) * 3 + rng.gumbel(size=(m, k))).argmax(axis=1).astype(np.float64)
        y[::10] = np.nan  # rows of no label: the others are copied
        model = "logistic" if k == 2 else "softmax"
        for fit in (gradientnoise.measure, gradientnoise.fit_weights):
            tracemalloc.start()
            try:
                fit(model, Z, y, None)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert peak <= classifierfit.fit_bytes(model, Z, y, None)


@short_fits  # one epoch
def test_the_log_says_what_the_size_raised_the_rate_by_and_where_memory_left_no_fit(tmp_path):
    path, _, _ = _data(tmp_path, "logistic", 0.1)
    m = train(path, TrainOptions(optimizer="rmsprop", epochs=1))
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--optimizer", "rmsprop", "--epochs", "1")
    assert code == 0, err
    line = next(l for l in err.splitlines() if "--lr auto:" in l)
    assert line.endswith(f"--lr auto: {m.training['lr']:.4g} = 0.01, rmsprop's step per weight × "
                         f"{m.training['lr_auto']['sought']:.4g}, the root mean square of the weights fitted to "
                         "the sample")
    wide, _ = _wide(tmp_path)
    code, _, err = cli("train", wide, "-o", tmp_path / "w.h5", "--optimizer", "rmsprop", "--epochs", "1",
                       "--memory", "2M")
    assert code == 0, err
    line = next(l for l in err.splitlines() if "--lr auto:" in l)
    assert "; no fit of the sample: a fit of the sample's " in line and "bytes beside them, and --memory leaves" in line


@pytest.mark.parametrize("optimizer", ["adam", "adagrad"])
def test_the_fit_and_the_rows_norms_standardize_the_sample_once(tmp_path, monkeypatch, optimizer):
    """The fit of the sample and the rows' norms take the same standardized rows: one copy of them is made."""
    path, _, _ = _data(tmp_path, "logistic", 0.1)
    made, standardize = [], sampling.sample
    monkeypatch.setattr(sampling, "sample", lambda *a, **k: made.append(1) or standardize(*a, **k))
    for module in (rate, rate.adaptivesize):  # the names they took from sampling, where they took it
        if hasattr(module, "sample"):
            monkeypatch.setattr(module, "sample", sampling.sample)
    with Table(path) as table:
        auto = rate.auto_rate(table, "logistic", np.zeros(10), np.ones(10), 32, optimizer, updates=1000)
    assert len(made) == 1 and auto.sought > 1


def test_averaged_models_fit_the_sample_once(tmp_path, monkeypatch):
    """Averaged models' joint and local steps take the same adaptive rate, whatever their batch: adagrad's fits
    of the sample (all its rows, then each half by the other's) run once, not once for each."""
    path, _, _ = _data(tmp_path, "logistic", 0.1)
    fits, fit = [], classifierfit.newton
    monkeypatch.setattr(classifierfit, "newton", lambda *a: fits.append(1) or fit(*a))
    monkeypatch.setattr(fitgap, "measure", lambda *args, **kwargs: None)  # the end's fits of one epoch's run
    m = train(path, TrainOptions(optimizer="adagrad", epochs=1, parallel="average", threads=2, sync_every=4))
    assert len(fits) == 3 and m.training["lr_auto"]["raised"] > 1


def _separable(tmp_path, model, rows=4000, margin=0.5):
    """Rows of 10 Gaussian features whose labels a linear model gives, those within ``margin`` of a boundary
    dropped: separable, the optimum's weights infinite and the fit's held back by its ridge alone."""
    rng = np.random.default_rng(0)
    W = rng.standard_normal((10, 1 if model == "logistic" else 4))
    X = rng.standard_normal((4 * rows, 10))
    S = X @ (W / np.linalg.norm(W, axis=0))
    top = np.sort(S, axis=1)
    gap, y = (np.abs(S[:, 0]), (S[:, 0] > 0)) if model == "logistic" else (top[:, -1] - top[:, -2], S.argmax(axis=1))
    keep = np.flatnonzero(gap > margin)[:rows]
    X, y = X[keep].astype(np.float32), y[keep].astype(np.int64)
    return write_table(tmp_path / f"separable-{model}.h5", X, y), X, y


@pytest.mark.parametrize("model", ["logistic", "softmax"])
def test_adagrads_size_on_separable_rows_stays_that_of_the_fit(tmp_path, model):
    """Separable rows: the gradient's quiet at the fit is its ridge's, near 0, and adagrad's size, the fitted
    weights' over its root, was 1,600 (logistic) and 260 (softmax) times the fitted weights' root mean square,
    the weights trained 160 and 30 times it.  Adagrad's first step moves each weight by the rate whole, so the
    rate is at most the fitted weights' size, and the weights trained stay near the fit, whose loss they match."""
    from sklearn.linear_model import LogisticRegression

    path, X, y = _separable(tmp_path, model)
    m = train(path, TrainOptions(model=model, optimizer="adagrad", epochs=5, threads=1))
    Z = (X - m.center) / m.scale
    fit = LogisticRegression(C=1 / classifierfit.RIDGE, tol=1e-10, max_iter=10_000).fit(Z, y)  # the ridge's fit
    W = fit.coef_.T if model == "logistic" else fit.coef_.T - fit.coef_.T.mean(axis=1, keepdims=True)
    size = np.sqrt(np.mean(W**2))
    auto = m.training["lr_auto"]
    assert auto["sought"] > 3 * size  # the quiet still raises it, up to the rate of the fit's size
    assert m.training["lr"] <= 1.1 * size * auto["width"]
    trained = m.raw_weights()[:, :-1]
    trained = trained if model == "logistic" else trained - trained.mean(axis=0)
    assert np.sqrt(np.mean(trained**2)) < 1.5 * size
    S = Z @ fit.coef_.T + fit.intercept_
    S = np.column_stack([np.zeros(len(S)), S]) if model == "logistic" else S
    top = S.max(axis=1)
    fitted = np.mean(top + np.log(np.exp(S - top[:, None]).sum(axis=1)) - S[np.arange(len(y)), y])
    assert np.isfinite(_loss(model, m, X, y)) and fitted / 3 < _loss(model, m, X, y) < 3 * fitted
