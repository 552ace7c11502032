"""--lr auto under a schedule that does not decay, on nearly separable rows: the noise term counts the share of
its worst case that the gradient keeps near the optimum (training/gradientnoise.py)."""

import numpy as np
import pytest

from sgdcli import generate, train
from sgdcli.options import TrainOptions
from sgdcli.training.fitwarnings import FitWarning


def _logistic_optimum(Z, y):
    """The optimum's mean log loss on rows Z (with the bias's column) and their scores there."""
    from sklearn.linear_model import LogisticRegression

    best = LogisticRegression(C=1e10, tol=1e-12, max_iter=100_000).fit(Z[:, :-1], y)
    s = Z[:, :-1] @ best.coef_[0] + best.intercept_[0]
    return float(np.mean(np.logaddexp(0, s) - y * s)), s


def test_a_constant_rate_on_nearly_separable_rows_ends_near_the_optimum(tmp_path):
    """Logistic labels with little noise: the worst case's noise term ((p − y)² = ¼) made the constant rate a
    thirtieth of the cosine's, and the run ended 43% above the optimum's log loss after 5 epochs.  The gradient's
    noise near the optimum is a small share of that; counted as such, the run ends within 20%, and its end says
    how far (fitwarnings.py), as the default cosine, whose last steps are small, ends nearer."""
    import h5py

    path = tmp_path / "d.h5"
    generate(path, task="binary", rows=10_000, features=10, noise=0.1, seed=0)
    with pytest.warns(FitWarning, match=r"is 1\d% above the optimum's"):
        m = train(path, TrainOptions(schedule="constant", epochs=5))
    with h5py.File(path, "r") as f:
        X, y = f["X"][:].astype(np.float64), f["y"][:].astype(np.float64)
    Z = np.column_stack([(X - m.center) / m.scale, np.ones(len(X))])
    optimum, _ = _logistic_optimum(Z, y)
    W = m.raw_weights()
    score = X @ W[0, :-1] + W[0, -1]
    assert np.mean(np.logaddexp(0, score) - y * score) < 1.20 * optimum
    auto = m.training["lr_auto"]
    updates, batches = 5 * m.training["iterations_per_epoch"], 32 * (1 - 0.9)
    assert auto["noise_share"] < 0.5
    assert auto["lr"] == pytest.approx(
        1 / (0.25 * (auto["lambda_max"] + auto["noise_share"] * np.sqrt(updates) * auto["trace"] / batches)), rel=1e-9)
    with pytest.warns(FitWarning):
        again = train(path, TrainOptions(schedule="constant", epochs=5))
    assert np.array_equal(again.weights, m.weights) and np.array_equal(again.bias, m.bias)


def test_the_share_and_the_curvature_measured_on_halves_are_those_at_the_optimum(tmp_path):
    """Each half fitted on the other: the gradient's noise over c · trace, and the curvature along the weights,
    near what the optimum of all the rows has."""
    from sgdcli.training import gradientnoise

    X, y = _rows(0.1)
    Z = np.column_stack([(X - X.mean(axis=0)) / X.std(axis=0), np.ones(len(X))])
    _, s = _logistic_optimum(Z, y)
    p, norms = 1 / (1 + np.exp(-s)), np.einsum("ij,ij->i", Z, Z)
    share = np.sum((p - y) ** 2 * norms) / np.sum(norms) / 0.25 / gradientnoise.NOISY
    from sklearn.linear_model import LogisticRegression

    w = LogisticRegression(C=1e10, tol=1e-12, max_iter=100_000).fit(Z[:, :-1], y).coef_[0]
    bend = np.mean(p * (1 - p) * (Z[:, :-1] @ (w / np.linalg.norm(w))) ** 2)
    measured_share, measured_bend = gradientnoise.measure("logistic", Z, y, None)
    assert share < 0.3 and share / 1.5 < measured_share < 1.5 * share
    assert bend / 2 < measured_bend < 2 * bend


def _rows(noise):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6000, 8))
    w = rng.standard_normal(8) * 2
    return X, (X @ w + noise * rng.logistic(size=len(X)) > 0).astype(np.float64)


@pytest.mark.parametrize("model,task,noise", [("logistic", "binary", 2.0), ("softmax", "multiclass", 1.0),
                                              ("linear", "regression", 0.1)])
def test_noisy_labels_and_other_losses_keep_the_worst_case(tmp_path, model, task, noise):
    """Labels as noisy as those the √T rule was measured on, and losses whose curvature is not the likelihood's
    (linear's noise and curvature are one already), count the whole noise term,
    under cosine too (whose balance, training/decayingrate.py, stays below it here)."""
    path = tmp_path / "d.h5"
    generate(path, task=task, rows=4000, features=10, classes=4, noise=noise, seed=3)
    for schedule in ("constant", "cosine"):
        auto = train(path, TrainOptions(model=model, schedule=schedule, epochs=1)).training["lr_auto"]
        assert auto["noise_share"] == 1.0


def test_the_share_is_one_where_labels_do_not_allow_a_fit():
    from sgdcli.training import classifierfit, gradientnoise

    Z = np.column_stack([np.random.default_rng(0).standard_normal((100, 3)), np.ones(100)])
    for model, labels in (("logistic", np.zeros(100)), ("logistic", np.arange(100) % 3.0),  # one class, three
                          ("softmax", np.full(100, np.nan)), ("poisson", np.arange(100.0))):  # none known; no fit
        assert gradientnoise.measure(model, Z, labels, None) == (1.0, np.inf)
    wide = np.column_stack([np.random.default_rng(1).standard_normal((100, classifierfit.FIT_UP_TO)), np.ones(100)])
    assert gradientnoise.measure("logistic", wide, np.arange(100) % 2.0, None) == (1.0, np.inf)  # too many weights


@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_rows_that_weigh_nothing_count_in_the_mean_as_rows_of_no_loss(l2):
    """Weights have mean 1 over the training rows, rows of weight 0 among them (engine/resample.py draws each
    row as often as it weighs, every draw at that mean): the fit, its gradient's noise per draw and the curvature
    along its path are those of the rows that weigh something, each at weight 1 and alone.  The weighted mean
    divided by the rows that weigh something doubled the noise here, and halved --l2 against the loss."""
    from sgdcli.training import gradientnoise

    X, y = _rows(0.1)
    Z = np.column_stack([(X - X.mean(axis=0)) / X.std(axis=0), np.ones(len(X))])[:2000]
    y = y[:2000]
    rng = np.random.default_rng(2)
    more = np.column_stack([rng.standard_normal((2000, 8)), np.ones(2000)])
    both, labels = np.vstack([Z, more]), np.concatenate([y, rng.integers(0, 2, 2000).astype(np.float64)])
    weights = np.concatenate([np.full(2000, 2.0), np.zeros(2000)])  # mean 1
    alone = gradientnoise.fitted("logistic", Z, y, np.ones(2000), l2, by_weight=True)
    drawn = gradientnoise.fitted("logistic", both, labels, weights, l2, by_weight=True)
    assert np.allclose(drawn, alone, rtol=1e-7, atol=0)
    stepped = gradientnoise.fitted("logistic", both, labels, weights, l2)  # each row a step of its weight, 2
    assert stepped.noise == pytest.approx(2 * alone.noise, rel=1e-7)
    assert np.allclose(gradientnoise.fit_weights("logistic", both, labels, weights, l2),
                       gradientnoise.fit_weights("logistic", Z, y, None, l2), rtol=1e-7, atol=1e-9)


def test_the_fit_under_l2_leaves_the_bias_unpenalized_as_training_does():
    """--l2 adds (l2/2)·‖w‖² to the objective, the bias aside (kernels/optimizers.py): the fit's weights are
    that objective's optimum (computed here by L-BFGS).  A penalty on the bias too held it near 0 on 8%
    positives, and the weights made up for it: their norm, the cosine's distance, was a third short."""
    from scipy.optimize import minimize

    from sgdcli.training import gradientnoise

    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 8))
    y = (X @ (rng.standard_normal(8) * 2) - 6 + 0.1 * rng.logistic(size=4000) > 0).astype(np.float64)
    Z = np.column_stack([(X - X.mean(axis=0)) / X.std(axis=0), np.ones(len(X))])
    l2 = 0.01

    def objective(theta):
        s = Z @ theta
        p = 1 / (1 + np.exp(-s))
        return (float(np.mean(np.logaddexp(0, s) - y * s) + 0.5 * l2 * theta[:-1] @ theta[:-1]),
                Z.T @ (p - y) / len(Z) + l2 * np.append(theta[:-1], 0.0))

    best = minimize(objective, np.zeros(9), jac=True, method="L-BFGS-B",
                    options={"maxiter": 10_000, "gtol": 1e-12, "ftol": 1e-15}).x
    fitted = gradientnoise.fit_weights("logistic", Z, y, None, l2)[:, 0]
    assert np.allclose(fitted, best[:-1], rtol=1e-3, atol=1e-4)


def test_softmax_fit_under_l2_penalizes_every_class_as_training_does():
    """Softmax trains a weight vector for every class and --l2 penalizes each: the fit's centred weights are that
    objective's optimum (L-BFGS over all the classes' weights here).  Held at 0 and unpenalized, the first
    class's weights left the others' penalty uncentred, and the fitted weights' norm 14% short."""
    from scipy.optimize import minimize
    from scipy.special import logsumexp

    from sgdcli.training import gradientnoise

    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 6))
    y = np.argmax(X @ (rng.standard_normal((4, 6)) * 2).T + 0.1 * rng.gumbel(size=(3000, 4)), axis=1)
    Z = np.column_stack([(X - X.mean(axis=0)) / X.std(axis=0), np.ones(len(X))])
    Y, l2 = np.eye(4)[y], 0.01

    def objective(theta):
        T = theta.reshape(4, 7)
        S = Z @ T.T
        top = logsumexp(S, axis=1, keepdims=True)
        G = (np.exp(S - top) - Y).T @ Z / len(Z)
        G[:, :-1] += l2 * T[:, :-1]
        return float(np.mean(top[:, 0] - (S * Y).sum(axis=1)) + 0.5 * l2 * np.sum(T[:, :-1] ** 2)), G.ravel()

    best = minimize(objective, np.zeros(28), jac=True, method="L-BFGS-B",
                    options={"maxiter": 20_000, "gtol": 1e-12, "ftol": 1e-15}).x.reshape(4, 7)[:, :-1].T
    fitted = gradientnoise.fit_weights("softmax", Z, y.astype(np.float64), None, l2)
    assert np.allclose(fitted, best - best.mean(axis=1, keepdims=True), rtol=1e-3, atol=1e-3)


def _rare(n=2000, features=6, share=0.05, noise=0.1, seed=0):
    """Logistic labels of little noise whose positives are about ``share`` of the rows, and the rows (with the
    bias's column) standardized."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, features))
    w = rng.standard_normal(features)
    s = X @ (w / np.linalg.norm(w))
    y = (s - np.quantile(s, 1 - share) + noise * rng.logistic(size=n) > 0).astype(np.float64)
    return np.column_stack([(X - X.mean(axis=0)) / X.std(axis=0), np.ones(n)]), y


@pytest.mark.parametrize("rare_weight", [None, 4.0])
def test_the_fit_without_l2_leaves_the_bias_unpenalized_as_training_does(rare_weight):
    """Training never penalizes the bias, nor does the fit: its weights are the optimum of the mean loss plus
    the ridge (RIDGE over the rows) on the weights alone (Newton's method here, the bias free).  The ridge on
    the bias too held it towards 0 on 5% positives, and the weights made up for it: their norm, the cosine's
    distance, 3% short here."""
    from sgdcli.training import classifierfit, gradientnoise

    Z, y = _rare()
    v = np.ones(len(y)) if rare_weight is None else np.where(y == 1, rare_weight, 1.0)
    ridge = np.full(Z.shape[1], classifierfit.RIDGE / len(Z))
    ridge[-1] = 0.0
    theta = np.zeros(Z.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-(Z @ theta)))
        gradient = Z.T @ (v * (p - y)) / len(Z) + ridge * theta
        step = np.linalg.solve((Z * (v * p * (1 - p))[:, None]).T @ Z / len(Z) + np.diag(ridge), gradient)
        theta -= step  # a full step: from 0 the mean log loss plus a ridge converges here without a line search
        if np.abs(step).max() < 1e-13:
            break
    assert abs(np.sum(v * (1 / (1 + np.exp(-(Z @ theta))) - y)) / len(Z)) < 1e-10  # the bias's stationarity
    fitted = gradientnoise.fit_weights("logistic", Z, y, None if rare_weight is None else v)[:, 0]
    assert np.allclose(fitted, theta[:-1], rtol=1e-6, atol=0)


@pytest.mark.parametrize("model", ["logistic", "softmax"])
def test_the_fitted_biases_zero_the_mean_residual_of_every_class(model):
    """The bias is unpenalized, so where the fit stops (its Newton decrement at rounding's scale) the loss's
    derivative in each class's bias, the weighted mean of p − y over the rows, is 0 to within that scale, on a
    rare class too."""
    from sgdcli.training import classifierfit

    Z, y = _rare()
    if model == "softmax":  # the common class split in two at a feature's sign: 3 classes, the rare one 5%
        y = np.where(y == 1, 2.0, (Z[:, 0] > 0).astype(np.float64))
    Y = np.eye(int(y.max()) + 1)[y.astype(int)]
    v = np.where(y == y.max(), 4.0, 1.0)
    theta = classifierfit.newton(Z, Y, v, 0.0, np.zeros((Z.shape[1], Y.shape[1])), model)
    S = Z @ theta
    P = np.exp(S - S.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    assert np.abs((v[:, None] * (P - Y)).sum(axis=0) / len(Z)).max() < 1e-8
