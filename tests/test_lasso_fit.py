"""Logistic under --l1 is fitted to the run's sample by proximal Newton steps (training/classifierfit.py
``lasso_newton``): a full batch starts at that fit, and the end's warnings measure a run against it
(training/fitgap.py).  Before, no fit took --l1: a full batch started at the labels' log-odds, and on nearly
separable rows its 5 default epochs ended 20% above the lasso optimum; a batch of 256 ended 6% above it
unwarned."""

import re

import numpy as np
import pytest

from sgdcli import load_model, train
from sgdcli.options import TrainOptions
from sgdcli.training import classifierfit
from sgdcli.training.fullbatch import NEAR, above
from sgdcli.training.runlog import FitWarning

from conftest import cli, sample_rows, write_table
from test_convergence import l1_objective, lasso_logistic
from test_full_batch import _nearly_separable


def _rows(seed=5, n=3000, d=12, raw=False):
    """Logistic rows of correlated features (a pair nearly equal), the bias's column last, and labels; ``raw``:
    as --no-standardize sees features far from 0 and of scales far apart (a year, a price), one constant."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X[:, 1] = X[:, 0] + 0.1 * X[:, 1]
    y = (X[:, :6] @ rng.standard_normal(6) + rng.logistic(size=n) > 0).astype(np.float64)
    if raw:
        X = X * rng.uniform(0.5, 20.0, d) + rng.uniform(-3000.0, 3000.0, d)
        X[:, -1] = 7.0
    return np.column_stack([X, np.ones(n)]), y


@pytest.mark.parametrize("l1,weighted,raw", [(0.01, False, False), (0.01, True, False), ("per feature", False, False),
                                             (0.01, False, True), (0.05, True, True)])
def test_the_lasso_fit_meets_the_optimality_conditions_of_its_objective(l1, weighted, raw):
    """At the least of the mean loss (each row times its weight), the fit's ridge and --l2 on the weights, and
    Σ l1 · |w|: each weight at 0 has a gradient of at most its l1, each other one the gradient −l1 · sign(w), and
    the bias a gradient of 0 (the subgradient conditions, checked on the gradient computed here).  On raw features
    far from 0 (--no-standardize), whose bias dwarfs the weights, the fit was left where the fit without --l1 is,
    every weight nonzero: solved in the rows' own standardized units, it is the same optimum."""
    A, y = _rows(raw=raw)
    m, p = A.shape
    v = np.where(y == 1, 3.0, 1.0) if weighted else np.ones(m)
    v /= v.mean()  # as the rows' weights are given to the fits: their mean over the training rows 1 (model/weights.py)
    l1 = np.linspace(0.0, 0.03, p - 1) if l1 == "per feature" else l1
    l2 = 1e-3
    theta = classifierfit.fit_model("logistic", A, y, v if weighted else None, l2, l1=l1)
    w, b = theta[:-1], theta[-1]
    s = A @ theta
    gradient = A.T @ (v * (1 / (1 + np.exp(-s)) - y)) / m
    gradient[:-1] += (classifierfit.RIDGE / m + l2) * w
    penalty = np.broadcast_to(l1, (p - 1,))
    zero = w == 0
    assert zero.any() and not zero.all()  # the premise: some weights at 0, some not
    tolerance = 1e-6 if raw else 1e-8  # (raw units: a weight's gradient is its standardized one times the spread)
    assert np.all(np.abs(gradient[:-1][zero]) <= penalty[zero] + tolerance)
    np.testing.assert_allclose(gradient[:-1][~zero], -penalty[~zero] * np.sign(w[~zero]), atol=tolerance)
    assert abs(gradient[-1]) < tolerance and b != 0


def test_the_lasso_fit_reaches_the_optimum_an_accelerated_proximal_gradient_finds(tmp_path):
    _, Z, y = _nearly_separable(tmp_path)
    A = np.column_stack([Z, np.ones(len(Z))])
    theta = classifierfit.fit_model("logistic", A, y, None, 0.0, l1=0.001)
    best = l1_objective(*lasso_logistic(Z, y, 0.001, iters=30_000), Z, y, 0.001)
    assert l1_objective(theta[:-1], theta[-1], Z, y, 0.001) == pytest.approx(best, rel=1e-5)
    assert classifierfit.fit_objective("logistic", A, y, None, 0.0, 0.001) == pytest.approx(best, rel=1e-5)


def test_the_lasso_fits_inner_steps_together_are_bounded_as_a_linear_fits(monkeypatch):
    """Each of up to NEWTON_STEPS proximal Newton steps solved its lasso in up to LASSO_STEPS steps of p²: forty
    times a linear fit's bound, outside the work bound of a full batch's fit (training/start.py, FIT_WORK).  The
    inner steps of the whole fit share LASSO_STEPS, and a fit cut short there still lowers the objective."""
    Z, y = _rows()
    v = np.ones(len(y))
    Y = np.column_stack([1 - y, y])
    start = classifierfit.newton(Z, Y, v, 1e-3, np.zeros((Z.shape[1], 2)))
    taken = []

    def counted(*args):
        x, steps = real(*args)
        taken.append(steps)
        return x, steps

    real = classifierfit.lasso
    monkeypatch.setattr(classifierfit, "lasso", counted)
    full = classifierfit.lasso_newton("logistic", Z, Y, v, 1e-3, 0.01, start)
    assert len(taken) > 1 and sum(taken) > 40  # the premise: the fit takes several Newton steps, more inner steps
    taken.clear()
    monkeypatch.setattr(classifierfit, "LASSO_STEPS", 40)
    cut = classifierfit.lasso_newton("logistic", Z, Y, v, 1e-3, 0.01, start)
    assert sum(taken) == 40

    ridge, pooled = classifierfit.ridges(*Z.shape, 1e-3), classifierfit.pooled_l2("logistic", 1e-3, 2)

    def objective(theta):
        return classifierfit.penalized(Z, Y, v, theta[:, 1:], ridge, pooled) + 0.01 * np.abs(theta[:-1, 1]).sum()

    assert objective(full) <= objective(cut) < objective(start)


def _three_classes(raw=False, seed=5):
    """``_rows``' with three classes of softmax's likelihood, the bias's column last."""
    A, _ = _rows(seed, raw=raw)
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((6, 3)) * 1.5
    Z = (A[:, :6] - A[:, :6].mean(axis=0)) / A[:, :6].std(axis=0)
    return A, np.argmax(Z @ W + rng.gumbel(size=(len(A), 3)), axis=1).astype(np.float64)


def lasso_softmax(A, y, l1, l2=0.0, weights=None, iters=8_000):
    """The optimum of softmax's mean loss (each row times its weight) + l2/2·‖W‖² + l1·‖W‖₁ over every class's
    weights (the biases free) by accelerated proximal gradient steps, on rows ``A`` (the bias's column last), in
    the rows' own standardized units, where the steps are well scaled: classes × features + 1."""
    n, p = A.shape
    k = int(y.max()) + 1
    v = np.ones(n) if weights is None else weights
    centre, spread = A[:, :-1].mean(axis=0), A[:, :-1].std(axis=0)
    spread[spread == 0] = np.inf  # a constant feature: its weight 0, the bias does what it could
    S = np.column_stack([(A[:, :-1] - centre) / spread, np.ones(n)])
    l1s, l2s = np.append(np.broadcast_to(l1, (p - 1,)) / spread, 0.0), np.append(np.full(p - 1, l2) / spread**2, 0)
    step = 1 / (0.5 * np.linalg.eigvalsh(S.T @ (S * v[:, None]) / n).max() + l2s.max())
    Y = np.eye(k)[y.astype(int)]
    theta = np.zeros((p, k))
    ahead, t = theta.copy(), 1.0
    for _ in range(iters):
        scores = S @ ahead
        P = np.exp(scores - scores.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        new = ahead - step * (S.T @ ((P - Y) * v[:, None]) / n + l2s[:, None] * ahead)
        new = np.sign(new) * np.maximum(np.abs(new) - step * l1s[:, None], 0.0)
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
        ahead = new + (t - 1) / t_next * (new - theta)
        theta, t = new, t_next
    w = theta[:-1] / spread[:, None]
    return np.vstack([w, theta[-1] - centre @ w]).T


def softmax_objective(theta, A, y, l1, l2=0.0, weights=None):
    """Softmax's mean loss of ``theta`` (classes × features + 1) on rows ``A`` (each times its weight), plus
    l2/2·‖W‖² and l1·‖W‖₁ on the weights."""
    v = np.ones(len(A)) if weights is None else weights
    S = A @ theta.T
    top = S.max(axis=1)
    loss = top + np.log(np.exp(S - top[:, None]).sum(axis=1)) - S[np.arange(len(A)), y.astype(int)]
    W = theta[:, :-1]
    return float(v @ loss / len(A) + 0.5 * np.sum(l2 * W**2) + np.sum(l1 * np.abs(W)))


@pytest.mark.parametrize("l1,l2,weighted,raw", [(0.01, 0.0, False, False), (0.01, 1e-3, True, False),
                                                ("per feature", 0.0, False, False), (0.005, 0.0, False, True)])
def test_softmax_under_l1_is_fitted_over_every_class_to_the_optimum(l1, l2, weighted, raw):
    """Softmax trains every class's weights, and --l1 penalizes them all: shifted alike across the classes they
    change no probability but the penalty, least where each feature's median over the classes is 0 (not the mean
    that fits without --l1 are centred on).  It had no fit under --l1: a full batch started at 0 and ended 44%
    above the optimum after the default 5 epochs on sample_data/multiclass.h5, and no run was measured.  The fit
    reaches the optimum an accelerated proximal gradient finds (computed here), on raw features far from 0 too,
    with some weights at 0, not all."""
    A, y = _three_classes(raw=raw)
    v = np.where(y == 2, 3.0, 1.0) if weighted else np.ones(len(y))
    v /= v.mean()
    l1 = np.linspace(0.0, 0.02, A.shape[1] - 1) if l1 == "per feature" else l1
    theta = classifierfit.fit_model("softmax", A, y, v if weighted else None, l2, l1=l1)
    assert theta.shape == (3, A.shape[1])
    zero = theta[:, :-1] == 0
    assert zero.any() and not zero.all()  # the premise: some weights at 0, some not
    penalized = np.broadcast_to(l1, (A.shape[1] - 1,)) > 0
    np.testing.assert_array_equal(np.median(theta[:, :-1], axis=0)[penalized], 0)  # each feature's median at 0
    best = softmax_objective(lasso_softmax(A, y, l1, l2, v), A, y, l1, l2, v)
    # (raw units: the weights shifted alike across the classes are curved by --l2 and the fit's ridge alone, a
    # spread's square smaller in the units the steps are solved in, and the fit's steps end before they settle)
    assert softmax_objective(theta, A, y, l1, l2, v) == pytest.approx(best, rel=1e-5 if raw else 1e-6)
    assert classifierfit.fit_objective("softmax", A, y, v if weighted else None, l2, l1) == pytest.approx(
        best, rel=1e-5)


def _softmax_file(tmp_path):
    """``_three_classes``' rows written to a file, and as the model sees them (standardized, the bias's 1 last)."""
    A, y = _three_classes()
    X = A[:, :-1].astype(np.float32)
    path = write_table(tmp_path / "d.h5", X, y.astype(np.int64))
    X = X.astype(np.float64)
    return path, np.column_stack([(X - X.mean(axis=0)) / X.std(axis=0), np.ones(len(X))]), y


def test_a_softmax_run_under_l1_far_from_the_optimum_is_told_so(tmp_path):
    """At batch 1000 the default 5 epochs end 6% above the optimum (computed here): measured against the fit of
    the run's sample (every row), the run is told so, where nothing measured a softmax run under --l1; 20 epochs
    end near it, and nothing is said."""
    path, Z, y = _softmax_file(tmp_path)
    best = softmax_objective(lasso_softmax(Z, y, 0.01), Z, y, 0.01)
    options = dict(model="softmax", l1=0.01, batch_size=1000, threads=1)
    with pytest.warns(FitWarning) as told:
        m = train(path, TrainOptions(**options))
    kept = softmax_objective(np.column_stack([m.weights, m.bias]), Z, y, 0.01)
    assert kept > (1 + NEAR) * best  # the premise
    (text,) = [str(w.message) for w in told]
    # the sample is every row: the objective measured is the model's, the fit's the optimum
    assert (f"on the run's sample of 3,000 rows, {kept:.4g}, is {above(kept, best)} the optimum's, "
            f"estimated by a fit of them (proximal Newton steps), {best:.4g}: the model may be far from the "
            "optimum") in text, text
    m = train(path, TrainOptions(**options, epochs=20))
    assert softmax_objective(np.column_stack([m.weights, m.bias]), Z, y, 0.01) < (1 + NEAR) * best
    assert "warnings" not in m.training


@pytest.mark.parametrize("model", ["logistic", "softmax"])
def test_a_full_batch_under_l1_starts_at_the_lasso_fit_and_ends_at_the_optimum(tmp_path, model):
    """Its first epoch's record is the objective of the weights it started from: the fit's, the optimum's (the
    sample is every row).  Logistic from the log-odds ended 20% above the optimum after its 5 epochs, and was
    warned; softmax from 0, 4.8% above it, told only that the objective was still falling."""
    if model == "logistic":
        path, Z, y = _nearly_separable(tmp_path)
        l1, rows = 0.001, "5,000"
        best = l1_objective(*lasso_logistic(Z, y, l1, iters=30_000), Z, y, l1)

        def objective(m):
            return l1_objective(m.weights[0], m.bias[0], Z, y, l1)
    else:
        path, Z, y = _softmax_file(tmp_path)
        l1, rows = 0.01, "3,000"
        best = softmax_objective(lasso_softmax(Z, y, l1), Z, y, l1)

        def objective(m):
            return softmax_objective(np.column_stack([m.weights, m.bias]), Z, y, l1)
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", model, "--l1", str(l1),
                       "--batch-size", "full", "--threads", "1", "--progress", "plain")
    assert code == 0 and "warning" not in err, err
    assert (f"starting at the fit of the run's sample of {rows} rows (proximal Newton steps): a full batch keeps "
            "where it starts") in err
    m = load_model(str(tmp_path / "m.h5"))
    assert m.history[0]["objective"] == pytest.approx(best, rel=1e-5)
    assert objective(m) < 1.0001 * best


def test_a_mini_batch_run_under_l1_far_from_the_optimum_is_told_so(tmp_path):
    """At batch 256 the default 5 epochs end 6% above the lasso optimum (computed here): the end measures the run
    against the lasso fit of its sample, and says what to change; 20 epochs end near it, and nothing is said."""
    path, Z, y = _nearly_separable(tmp_path)
    best = l1_objective(*lasso_logistic(Z, y, 0.001, iters=30_000), Z, y, 0.001)
    options = dict(model="logistic", l1=0.001, batch_size=256, threads=1)
    with pytest.warns(FitWarning) as told:
        m = train(path, TrainOptions(**options))
    assert l1_objective(m.weights[0], m.bias[0], Z, y, 0.001) > (1 + NEAR) * best  # the premise
    (text,) = [str(w.message) for w in told]
    assert text.startswith("the model's objective (its mean loss and the penalties) on the run's sample of 4,096 "
                           "rows, "), text
    assert "estimated by a fit of them (proximal Newton steps)" in text
    assert text.endswith(": the model may be far from the optimum; use --batch-size full (it starts at a fit of its "
                         "sample), or raise --epochs or lower --batch-size"), text
    m = train(path, TrainOptions(**options, epochs=20))
    assert l1_objective(m.weights[0], m.bias[0], Z, y, 0.001) < (1 + NEAR) * best
    assert "warnings" not in m.training


def test_a_full_batch_that_its_steps_take_away_from_the_lasso_fit_is_told_to_lower_the_rate(tmp_path):
    """It starts at the fit of its sample and keeps no step's gradient (its penalty has none at 0), so nothing
    judged it: --lr 700 ended 42% above the lasso optimum, unwarned, where the same run under --l2 is told."""
    path, Z, y = _nearly_separable(tmp_path)
    best = l1_objective(*lasso_logistic(Z, y, 0.001, iters=30_000), Z, y, 0.001)
    with pytest.warns(FitWarning) as told:
        m = train(path, TrainOptions(model="logistic", l1=0.001, batch_size="full", optimizer="sgd", lr=700.0,
                                     threads=1))
    kept = l1_objective(m.weights[0], m.bias[0], Z, y, 0.001)
    assert kept > (1 + NEAR) * best  # the premise
    (text,) = [str(w.message) for w in told]
    # the sample is every row: the objective measured is the model's, the fit's the lasso optimum
    assert text == (f"the model's objective (its mean loss and the penalties) on the run's sample of 5,000 rows, "
                    f"{kept:.4g}, is {above(kept, best)} the optimum's, estimated by a fit of them "
                    f"(proximal Newton steps), {best:.4g}: the model may be far from the optimum; it started at such "
                    "a fit, and its steps took it away: lower --lr (try 70) or use --lr auto")


def test_the_lasso_fits_gain_on_its_sample_counts_the_weights_it_frees(tmp_path):
    """A fit gains on the rows it fits by about its free weights over twice the rows: a lasso's, those it does not
    hold at 0.  Counting every weight set the optimum's estimate high by some 63 / 8,192 (a sample of 4,096 rows
    of a file of 40,000), about six times what the optimum of every row (computed here) tells of it, and runs 5% to
    8% above the optimum were measured 1% to 2% above it, and told nothing."""
    rng = np.random.default_rng(4)
    n, d = 40_000, 63
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X[:, :4].astype(np.float64) @ [4.0, -4.0, 4.0, -4.0])))).astype(np.float64)
    path = write_table(tmp_path / "d.h5", X, y)
    with pytest.warns(FitWarning) as told:
        m = train(path, TrainOptions(model="logistic", l1=0.003, batch_size=4096, epochs=2, threads=1))
    A = np.column_stack([(X - m.center) / m.scale, np.ones(n)])
    theta = classifierfit.fit_model("logistic", A, y, None, 0.0, l1=0.003)  # every row's optimum
    rows = sample_rows(path)
    s = A[rows] @ theta
    truth = float(np.mean(np.logaddexp(0, s) - y[rows] * s) + 0.003 * np.abs(theta[:-1]).sum())
    (text,) = [str(w.message) for w in told]
    estimate = float(re.search(r"estimated by a fit of them \(proximal Newton steps\), ([0-9.]+):", text).group(1))
    assert abs(estimate - truth) < 0.25 * d / (2 * len(rows)), (estimate, truth)


def test_the_sample_of_softmax_under_l1_is_sized_for_every_class_s_weights():
    """The fit's work grows with the square of the weights it fits: softmax's under --l1 are every class's, not
    all but one class's, and its sample was sized for the fewer (2 classes on 200 features: 15 s, where logistic's
    fit under --l1 took 4 s; helper-148's review)."""
    import types

    from sgdcli.training import start

    table = types.SimpleNamespace(sparse=False, n_features=60)
    p = 61  # the features and the bias

    def rows(weights):  # FIT_WORK's bound, between any run's sample and a full batch's most (memory to spare)
        return max(start.SAMPLE_ROWS, min(start.FIT_SAMPLE_ROWS, start.FIT_WORK // weights**2))

    assert start.fit_sample_rows("softmax", table, 3, 2**34) == rows(2 * p) == 18_035
    assert start.fit_sample_rows("softmax", table, 3, 2**34, l1=0.01) == rows(3 * p) == 8_015
    assert start.fit_sample_rows("logistic", table, 2, 2**34, l1=0.01) == rows(p)
