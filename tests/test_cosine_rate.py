"""--lr auto under the default cosine schedule on nearly separable rows: the rate that balances the distance to a
fit of the sample against its gradient's noise, up to 1/L (training/decayingrate.py), and the warning of a run
that 1/L holds far below it."""

import dataclasses
import math

import h5py
import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import logsumexp

from sgdcli import generate, train
from sgdcli.options import TrainOptions
from sgdcli.training import decayingrate, gradientnoise
from sgdcli.training.fitwarnings import FitWarning

from conftest import cli


def _softmax_optimum(X, y):
    """The least mean softmax loss over weights of the standardized features and a bias (L-BFGS)."""
    Z = np.column_stack([(X - X.mean(axis=0)) / X.std(axis=0), np.ones(len(X))])
    k, d = int(y.max()) + 1, Z.shape[1]
    Y = np.eye(k)[y]

    def f(theta):
        S = Z @ theta.reshape(k, d).T
        top = logsumexp(S, axis=1, keepdims=True)
        return float(np.mean(top[:, 0] - np.sum(S * Y, axis=1))), ((np.exp(S - top) - Y).T @ Z / len(Z)).ravel()

    return minimize(f, np.zeros(k * d), jac=True, method="L-BFGS-B",
                    options={"maxiter": 20000, "gtol": 1e-12, "ftol": 1e-15, "maxcor": 30}).fun


def _softmax_loss(model, X, y):
    W = model.raw_weights()
    S = X @ W[:, :-1].T + W[:, -1]
    return float(np.mean(logsumexp(S, axis=1) - S[np.arange(len(y)), y]))


@pytest.fixture(scope="module")
def separable(tmp_path_factory):
    """`sgdcli generate --task multiclass --classes 4 --rows 5000` at its default noise, 0.1: nearly separable."""
    path = tmp_path_factory.mktemp("cosine") / "d.h5"
    generate(path, task="multiclass", rows=5000, features=10, classes=4, noise=0.1, seed=0)
    with h5py.File(path, "r") as f:
        X, y = f["X"][:].astype(np.float64), f["y"][:].astype(np.int64)
    return path, X, y, _softmax_optimum(X, y)


def test_nearly_separable_softmax_at_the_defaults_ends_near_the_optimum(separable):
    """The worst case's rate (every row's gradient as large as c allows) ended 49% above the optimum's loss after
    the default 5 epochs; the balance of the fit's distance and noise, held at 1/L here, ends within 10%."""
    path, X, y, optimum = separable
    m = train(path, TrainOptions(model="softmax"))
    assert _softmax_loss(m, X, y) < 1.10 * optimum
    auto = m.training["lr_auto"]
    worst = 1 / (0.5 * (auto["lambda_max"] + auto["trace"] / (32 * (1 - 0.9))))
    balance = decayingrate.BALANCE * (1 - 0.9) * auto["distance"] * math.sqrt(32 / (auto["fit_noise"]
                                                                                     * auto["updates"]))
    assert auto["updates"] == 5 * m.training["iterations_per_epoch"]
    assert auto["balanced"] == pytest.approx(balance, rel=1e-12) and balance > worst
    assert auto["lr"] == pytest.approx(min(balance, 1 / (0.5 * auto["lambda_max"])), rel=1e-12)
    again = train(path, TrainOptions(model="softmax"))
    assert np.array_equal(again.weights, m.weights) and np.array_equal(again.bias, m.bias)


def test_the_balance_falls_with_the_root_of_the_updates(separable):
    """Twenty epochs' rate is half of five's (1/√T), below 1/L here, and the run ends nearer the optimum."""
    path, X, y, optimum = separable
    m = train(path, TrainOptions(model="softmax", epochs=20))
    auto = m.training["lr_auto"]
    five = train(path, TrainOptions(model="softmax")).training["lr_auto"]
    assert auto["balanced"] == pytest.approx(five["balanced"] / 2, rel=1e-12)
    assert auto["lr"] == auto["balanced"] < 1 / (0.5 * auto["lambda_max"])
    assert _softmax_loss(m, X, y) < 1.03 * optimum


def test_a_batch_that_1_over_l_holds_far_below_the_balance_is_warned(separable, tmp_path):
    """At batch 256 the balance is several times the stable step 1/L, which the rate keeps: the run ends far from
    the optimum (here over 30% above it), and says what brings it nearer."""
    path, X, y, optimum = separable
    out = tmp_path / "m.h5"
    code, stdout, err = cli("train", path, "-o", out, "--model", "softmax", "--batch-size", "256", "-q")
    assert code == 0, err
    with pytest.warns(FitWarning, match="nearly separable"):
        m = train(path, TrainOptions(model="softmax", batch_size=256))
    auto = m.training["lr_auto"]
    ratio = auto["balanced"] / auto["lr"]
    assert ratio > decayingrate.SHORT and _softmax_loss(m, X, y) > 1.3 * optimum
    text = (f"the rows are nearly separable: the rate that would reach the optimum in this run, "
            f"{auto['balanced']:.4g}, is {ratio:.3g} times the largest stable step, {auto['lr']:.4g}, which --lr "
            f"auto trains at: the model may be far from the optimum; raise --epochs (to about "
            f"{math.ceil(5 * ratio**2)}), lower --batch-size or add --l2")
    assert err == f"sgdcli: warning: {text}\n"
    assert m.training["warnings"] == [text]
    assert "nearly separable" not in stdout  # stdout carries the result only


def test_the_log_says_what_the_rate_balances(separable, tmp_path):
    path, _, _, _ = separable
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "softmax", "--epochs", "20")
    assert code == 0, err
    auto = train(path, TrainOptions(model="softmax", epochs=20)).training["lr_auto"]
    line = next(l for l in err.splitlines() if "--lr auto:" in l)
    assert line.endswith(f"--lr auto: {auto['lr']:.4g} = 1.5 × (1 − 0.9) × {auto['distance']:.4g} × √(32 / "
                         f"({auto['fit_noise']:.4g} × {auto['updates']})): the distance to a fit of the sample (its "
                         "weights' norm) × √(batch / (its gradient's noise per row × the run's updates)), which "
                         "balances the two where the labels have little noise")


@pytest.mark.parametrize("model,task,noise", [("logistic", "binary", 2.0), ("softmax", "multiclass", 1.0)])
def test_noisy_labels_keep_the_worst_case_under_cosine(tmp_path, model, task, noise):
    """Noisy labels: the optimum is near and the gradient loud, so the balance falls below the worst case's rate,
    which stays, to the last bit."""
    path = tmp_path / "d.h5"
    generate(path, task=task, rows=4000, features=10, classes=4, noise=noise, seed=3)
    m = train(path, TrainOptions(model=model, epochs=5))
    auto = m.training["lr_auto"]
    c = 0.25 if model == "logistic" else 0.5
    assert math.isnan(auto["distance"]) and math.isnan(auto["balanced"])
    assert auto["lr"] == pytest.approx(1 / (c * (auto["lambda_max"] + auto["trace"] / (32 * (1 - 0.9)))), rel=1e-12)


def test_the_balance_is_the_rate_of_stochastic_approximation():
    fit = gradientnoise.Fit(share=0.1, bend=1e-3, distance=20.0, noise=0.25)
    assert decayingrate.balanced(fit, 32, 3200, 0.9) == pytest.approx(1.5 * 0.1 * 20.0 * math.sqrt(32 / 800), rel=1e-15)
    assert decayingrate.balanced(fit, 32, 3200, None) == pytest.approx(1.5 * 20.0 * math.sqrt(32 / 800), rel=1e-15)
    assert math.isnan(decayingrate.balanced(gradientnoise.Fit(), 32, 3200, 0.9))


def test_a_large_batch_that_ends_near_its_optimum_is_not_warned(tmp_path):
    """`sgdcli generate`'s binary rows at batch 256: the balance is above 1/L but within SHORT of it (BALANCE's own
    error), and the run ends within 1% of the optimum; nothing is said."""
    from sklearn.linear_model import LogisticRegression

    path = tmp_path / "d.h5"
    generate(path, task="binary", rows=10_000, features=10, noise=0.1, seed=0)
    m = train(path, TrainOptions(batch_size=256))
    auto = m.training["lr_auto"]
    assert 1 < auto["balanced"] / auto["lr"] < decayingrate.SHORT and not m.training.get("warnings")
    with h5py.File(path, "r") as f:
        X, y = f["X"][:].astype(np.float64), f["y"][:].astype(np.float64)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    best = LogisticRegression(C=1e10, tol=1e-12, max_iter=100_000).fit(Z, y)
    s = Z @ best.coef_[0] + best.intercept_[0]
    W = m.raw_weights()
    score = X @ W[0, :-1] + W[0, -1]
    assert np.mean(np.logaddexp(0, score) - y * score) < 1.01 * np.mean(np.logaddexp(0, s) - y * s)


def test_the_warning_after_blow_ups_compares_the_balance_with_the_halved_rate_trained_at():
    """A run that blew up at 1/L trains at 1/L halved: the warning names that rate, and the epochs at which the
    balance, falling as one over the root of the updates, comes down to it (the ratio squared times the
    epochs).  It named 1/L, which the run did not train at, and a quarter of the epochs after one halving."""
    from sgdcli.training.rate import AutoRate

    auto = AutoRate(lr=2.0, lambda_max=1.0, trace=2.0, rows=100, distance=30.0, fit_noise=0.1, updates=500,
                    balanced=5.0, momentum=0.9)
    assert decayingrate.short(auto, 5, 32) == []  # 2.5 times 1/L: within SHORT
    text = ("the rows are nearly separable: the rate that would reach the optimum in this run, 5, is 5 times the "
            "rate --lr auto trains at, 1, the largest stable step 2 halved 1 time after blow-ups: the model may be "
            "far from the optimum; raise --epochs (to about 125), lower --batch-size or add --l2")
    assert decayingrate.short(auto, 5, 32, halvings=1) == [text]


def test_the_nearly_separable_warning_offers_only_what_the_run_can_change():
    """At batch 1 there is no smaller batch to take (it said "lower --batch-size" to pure SGD), and a run with
    --l2 already has some to raise (it said "add --l2")."""
    from sgdcli.training.rate import AutoRate

    auto = AutoRate(lr=1.0, lambda_max=1.0, trace=2.0, rows=100, distance=30.0, fit_noise=0.1, updates=500,
                    balanced=5.0, momentum=0.9)
    assert decayingrate.short(auto, 5, 1)[0].endswith("raise --epochs (to about 125) or add --l2")
    ridge = dataclasses.replace(auto, l2=1e-4)
    assert decayingrate.short(ridge, 5, 32)[0].endswith("raise --epochs (to about 125), lower --batch-size or "
                                                        "raise --l2")


def test_after_early_stopping_the_nearly_separable_rows_are_not_told_to_train_longer(separable):
    """Early stopping keeps the epoch that validated best, so "raise --epochs" is not what stopped it: the
    run that is warned without it (plain sgd, held far below its balance) is not warned once early stopping
    chose its epoch.  The threshold, not the loss, chose it, far from the optimum, as is the last epoch: it is told
    to lower the threshold, and to take a full batch, or the default optimizer."""
    path, X, y, optimum = separable
    options = dict(model="softmax", optimizer="sgd", val_fraction=0.2)
    with pytest.warns(FitWarning, match="nearly separable"):
        train(path, TrainOptions(**options))
    # no epoch improves on the first by 1.0: it stops after the first epoch that counts for patience, the
    # cosine's fifth of 5 (its last 14%), and keeps the first
    with pytest.warns(FitWarning) as caught:
        m = train(path, TrainOptions(**options, early_stopping=True, patience=1, min_delta=1.0))
    (text,) = [str(w.message) for w in caught]
    assert m.training["best_epoch"] == 1 and "; lower --min-delta (1; try the default, 0.0001), by more than which " \
        "no later epoch lowered the validation loss, and use --batch-size full with the default --optimizer (it " \
        "starts at a fit of its sample), or use the default --optimizer auto" in text, text


def test_sgd_held_far_below_its_balance_is_told_of_momentum(separable):
    """Plain sgd's balance is 1/(1 − β) times momentum's, under the same 1/L: at the defaults but for --optimizer
    sgd the balance is over SHORT times 1/L, where nesterov's (the default) is not, and the warning says so."""
    path, X, y, optimum = separable
    with pytest.warns(FitWarning, match="nearly separable") as caught:
        m = train(path, TrainOptions(model="softmax", optimizer="sgd"))
    auto = m.training["lr_auto"]
    assert auto["momentum"] is None and auto["balanced"] / auto["lr"] > decayingrate.SHORT
    nesterov = train(path, TrainOptions(model="softmax")).training["lr_auto"]
    assert nesterov["balanced"] == pytest.approx((1 - 0.9) * auto["balanced"], rel=1e-12)
    assert nesterov["balanced"] / nesterov["lr"] < decayingrate.SHORT
    assert str(caught[0].message).endswith("lower --batch-size or add --l2, or use --optimizer nesterov, whose "
                                           "steps at a rate go 1/(1 − --momentum) times as far")


def test_a_run_halved_after_blow_ups_is_warned_at_the_rate_it_trained_at(separable, monkeypatch):
    """At batch 32 the balance is about 1/L, and the run is not warned; three blow-ups halve the rate three times,
    which leaves it 1/8 of that: far below the balance, and warned with the rate it trained at (it was compared
    with --lr auto's unhalved rate, and nothing was said)."""
    from sgdcli.training import run as runs

    path, X, y, optimum = separable
    calls = []
    monkeypatch.setattr(runs, "blew_up", lambda loss, zero: len(calls) < 3 and not calls.append(1))
    with pytest.warns(FitWarning, match="nearly separable") as caught:
        m = train(path, TrainOptions(model="softmax"))
    auto = m.training["lr_auto"]
    lr = auto["lr"] / 8
    assert auto["halvings"] == 3 and m.training["lr"] == pytest.approx(lr, rel=1e-12)
    ratio = auto["balanced"] / lr
    assert ratio > decayingrate.SHORT > auto["balanced"] / auto["lr"]
    assert [str(w.message) for w in caught if "nearly separable" in str(w.message)] == [
        f"the rows are nearly separable: the rate that would reach the optimum in this run, {auto['balanced']:.4g}, "
        f"is {ratio:.3g} times the rate --lr auto trains at, {lr:.4g}, the largest stable step {auto['lr']:.4g} halved "
        f"3 times after blow-ups: the model may be far from the optimum; raise --epochs (to about "
        f"{math.ceil(5 * ratio**2)}), lower --batch-size or add --l2"]
