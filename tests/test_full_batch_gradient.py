"""A full batch that starts at the fit of its sample is judged at its end by its last step's gradient on every
training row (training/fullbatch.py ``from_fit``): the kernels keep that gradient and the model it is of
(kernels/state.py Scratch.stepped), and half the Newton decrement with the sample's curvature
(gradientnoise.newton_gap) estimates how far the objective is above its optimum."""

import re

import h5py
import numpy as np
import pytest

from sgdcli import train
from sgdcli.data.table import Table
from sgdcli.options import DEFAULT_MEMORY, TrainOptions
from sgdcli.training import classifierfit, fullbatch, gradientnoise, linearfit, start
from sgdcli.training.fullbatch import NEAR
from sgdcli.training.runlog import FitWarning

from conftest import cli, sample_rows, write_table
from test_convergence import logistic_objective
from test_cosine_rate import _softmax_loss, _softmax_optimum
from test_full_batch import _optimum
from test_full_batch_end import logistic_rows

TOLD = re.compile(r"the model's mean loss on every training row is ([\d.]+)% above the optimum's, estimated by a "
                  r"Newton step from the gradient of its last step on them, with the curvature of the run's sample of "
                  r"([\d,]+) rows, ([\d.]+); the run started at the fit of that sample, whose rarest class has "
                  r"([\d,]+) rows, and a full batch steps once an epoch: the model may be far from the optimum; "
                  r"lower --batch-size \(at 32, ([\d,]+) steps an epoch\) or raise --epochs$")


def _gap(model, X, y):
    W = model.raw_weights()[0]
    return logistic_objective(W[:-1], W[-1], X, y, 0.0) / _optimum(X, y) - 1


def _kept_at_the_end(monkeypatch):
    """What the run's end check is given: the kept step, the fit the run started at, the standardization."""
    seen = {}
    real = fullbatch.from_fit

    def spy(run):
        seen.update(stepped=run.executor.stepped(), start=np.atleast_2d(run.start_model), center=run.plan.center,
                    scale=run.plan.scale)
        seen["told"] = real(run)
        return seen["told"]

    monkeypatch.setattr(fullbatch, "from_fit", spy)
    return seen


@pytest.mark.parametrize("l2", [0.0, 1e-3])
def test_the_kernels_keep_a_full_batch_steps_gradient_on_every_row(tmp_path, monkeypatch, small_full_batch_sample,
                                                                   l2):
    """One epoch: its step's model is the fit it started at, and the gradient kept is the mean log loss's on every
    row there, plus --l2's, in standardized units (computed here)."""
    path, X, y = logistic_rows(tmp_path / "rows.h5", 20_000, 6, 2.0, -1.0)
    seen = _kept_at_the_end(monkeypatch)
    train(path, TrainOptions(model="logistic", batch_size="full", epochs=1, threads=1, l2=l2))
    gradient, model = seen["stepped"]
    np.testing.assert_array_equal(model, seen["start"])
    Z = np.column_stack([(X - seen["center"]) * seen["scale"], np.ones(len(y))])
    p = 1 / (1 + np.exp(-(Z @ model[0])))
    expected = Z.T @ (p - y) / len(y)
    expected[:-1] += l2 * model[0, :-1]
    assert np.abs(expected).max() > 1e-4  # a fit of 4,096 of the rows: not every row's optimum
    np.testing.assert_allclose(gradient[0], expected, rtol=1e-6, atol=1e-9)


def test_the_kernels_keep_a_softmax_full_batch_steps_gradient(tmp_path, monkeypatch, small_full_batch_sample):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((20_000, 4)).astype(np.float32)
    y = (X @ rng.standard_normal((4, 3)) + rng.gumbel(size=(20_000, 3))).argmax(axis=1).astype(np.float32)
    path = write_table(tmp_path / "classes.h5", X, y)
    seen = _kept_at_the_end(monkeypatch)
    train(path, TrainOptions(model="softmax", batch_size="full", epochs=1, threads=1))
    gradient, model = seen["stepped"]
    np.testing.assert_array_equal(model, seen["start"])
    Z = np.column_stack([(X.astype(np.float64) - seen["center"]) * seen["scale"], np.ones(len(y))])
    S = Z @ model.T
    P = np.exp(S - S.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    expected = (P - np.eye(3)[y.astype(int)]).T @ Z / len(y)
    np.testing.assert_allclose(gradient, expected, rtol=1e-6, atol=1e-9)


def _objective_terms(model, Z, Y, v, l2):
    """The sample's objective in the fit's weights (the other classes' less the first's, features + 1 ×
    classes − 1) and its gradient, written out: the mean weighted loss, the fit's ridge (RIDGE / rows and --l2 on
    the weights, BIAS_RIDGE on the bias) or the objective's own penalty (--l2 alone); softmax's --l2 is on every
    class's weights, the first's too, which are less the first's here: less l2 / classes / 2 times the squared sum
    of the others' weights."""
    m, p = Z.shape
    pooled = l2 / Y.shape[1] if model == "softmax" else 0.0
    ridge = np.full(p, classifierfit.RIDGE / m + l2)
    ridge[-1] = classifierfit.BIAS_RIDGE
    own = np.full(p, l2)
    own[-1] = 0.0

    def scores(theta):
        return np.column_stack([np.zeros(m), Z @ theta])

    def objective(theta):
        S = scores(theta)
        lse = np.log(np.exp(S).sum(axis=1))
        return (np.sum(v * (lse - (S * Y).sum(axis=1))) / m + 0.5 * np.sum(own[:, None] * theta**2)
                - 0.5 * pooled * np.sum(theta[:-1].sum(axis=1) ** 2))

    def gradient(theta):
        S = scores(theta)
        P = np.exp(S) / np.exp(S).sum(axis=1, keepdims=True)
        pulled = np.zeros_like(theta)
        pulled[:-1] = pooled * theta[:-1].sum(axis=1, keepdims=True)
        return Z.T @ ((P - Y)[:, 1:] * v[:, None]) / m + ridge[:, None] * theta - pulled

    return objective, gradient


@pytest.mark.parametrize("model,classes,l2,rare", [("logistic", 2, 0.0, 0), ("logistic", 2, 0.01, 0),
                                                   ("softmax", 3, 0.0, 0), ("logistic", 2, 0.0, 3),
                                                   ("softmax", 3, 0.01, 3)])
def test_newton_gap_is_the_decrement_by_the_samples_curvature_and_the_change_on_it(model, classes, l2, rare):
    """Against the curvature by central differences of the gradient written out, and the objective's change
    between the two models computed directly; weighted rows.  Where a class has ``rare`` rows, fewer than the
    4 weights of a class, the first figure is instead the larger of the decrement along the directions of the
    curvature within DETERMINED_SPAN of its largest and what the best step along the gradient takes off."""
    rng = np.random.default_rng(7)
    m, d = 500, 3
    Z = np.column_stack([rng.standard_normal((m, d)), np.ones(m)])
    labels = rng.integers(0, classes, m).astype(np.float64)
    if rare:
        labels[labels == classes - 1] = 0
        labels[:rare] = classes - 1
    v = rng.uniform(0.5, 2.0, m)
    params = rng.standard_normal((1 if model == "logistic" else classes, d + 1))
    moved = params + 0.3 * rng.standard_normal(params.shape)
    g = rng.standard_normal(params.shape)
    fall, change, whole = gradientnoise.newton_gap(model, Z, labels, v, l2, params, g, moved)

    objective, gradient = _objective_terms(model, Z, np.eye(classes)[labels.astype(int)], v, l2)
    theta = params.T if model == "logistic" else (params[1:] - params[0]).T
    there = moved.T if model == "logistic" else (moved[1:] - moved[0]).T
    k = theta.shape[1]
    n = theta.size
    H = np.empty((n, n))
    for i in range(n):  # class-major: the other classes' weights, one class after another
        step = np.zeros(n)
        step[i] = 1e-5
        up = gradient(theta + step.reshape(k, d + 1).T).T.ravel()
        down = gradient(theta - step.reshape(k, d + 1).T).T.ravel()
        H[:, i] = (up - down) / 2e-5
    flat = g[-k:].ravel()
    assert whole == (not rare)
    if whole:
        expected = flat @ np.linalg.solve(H, flat)
    else:
        curvatures, directions = np.linalg.eigh((H + H.T) / 2)
        held = curvatures >= gradientnoise.DETERMINED_SPAN * curvatures[-1]
        expected = max(np.sum((directions.T @ flat)[held] ** 2 / curvatures[held]),
                       (flat @ flat) ** 2 / (flat @ H @ flat))
    assert fall == pytest.approx(0.5 * expected, rel=1e-5)
    assert change == pytest.approx(objective(there) - objective(theta), rel=1e-10)


def test_half_the_decrement_near_the_optimum_is_how_far_above_it_the_objective_is():
    """Rows whose own optimum is computed here: a model a little off it, with its gradient on the same rows, is
    above it by half its decrement, to the quadratic's third-order terms."""
    rng = np.random.default_rng(8)
    m, d = 2000, 4
    Z = np.column_stack([rng.standard_normal((m, d)), np.ones(m)])
    y = (rng.random(m) < 1 / (1 + np.exp(-(Z @ np.array([1.0, -2.0, 0.5, 1.5, -1.0]))))).astype(np.float64)
    objective, gradient = _objective_terms("logistic", Z, np.eye(2)[y.astype(int)], np.ones(m), 0.0)
    theta = np.zeros((d + 1, 1))
    for _ in range(30):  # Newton's method on the objective with the fit's ridge, by the written-out gradient
        p = 1 / (1 + np.exp(-(Z @ theta[:, 0])))
        H = (Z * (p * (1 - p))[:, None]).T @ Z / m + np.diag(np.r_[np.full(d, classifierfit.RIDGE / m),
                                                                  classifierfit.BIAS_RIDGE])
        theta -= np.linalg.solve(H, gradient(theta))
    off = theta + 0.02 * rng.standard_normal(theta.shape)
    half, _, whole = gradientnoise.newton_gap("logistic", Z, y, None, 0.0, off.T, gradient(off).T, off.T)
    assert whole
    assert half == pytest.approx(objective(off) - objective(theta), rel=0.02)


def test_a_gradient_of_zero_is_a_decrement_of_zero(tmp_path):
    """At the optimum exactly (a feature constant over the rows: the bias alone, at the log-odds), the steepest
    step's share of the decrement was 0/0, a RuntimeWarning on stderr (``invalid value encountered in scalar
    divide``) at the end of a full batch of such rows, and a NaN."""
    Z = np.ones((4, 3))  # two features and the bias's 1: two rows of each class, fewer than the weights
    y = np.array([0.0, 1.0, 0.0, 1.0])
    zero = np.zeros((1, 3))
    fall, change, whole = gradientnoise.newton_gap("logistic", Z, y, None, 0.0, zero, zero, zero)
    assert (fall, change, whole) == (0.0, 0.0, False)
    path = write_table(tmp_path / "t.h5", np.ones((4, 3), np.float32), y)
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--batch-size", "full", "-q")
    assert (code, err) == (0, "")


def test_a_full_batch_from_the_fit_of_too_few_rows_of_a_class_is_told_to_lower_batch_size(tmp_path,
                                                                                         small_full_batch_sample):
    """Under 1% positives: the sample's 4,096 rows hold a few dozen, and the fit of them the run starts at is far
    from every row's optimum.  5 full-batch steps ended 17% above it (computed here), and their loss fell by under
    a percent over the second half: nothing was said.  The advice is sound: mini-batches end near it."""
    path, X, y = logistic_rows(tmp_path / "rare.h5", 40_000, 20, 6.0, -15.0, seed=1)
    with pytest.warns(FitWarning) as caught:
        m = train(path, TrainOptions(model="logistic", batch_size="full", threads=1))
    assert _gap(m, X, y) > 2 * NEAR
    (told,) = [str(w.message) for w in caught]
    found = TOLD.fullmatch(told)
    assert found, told
    rows = sample_rows(path, "logistic")
    assert found[2] == f"{len(rows):,}" and found[4] == f"{int(y[rows].sum()):,}" and found[5] == "1,250"
    assert float(found[1]) > 100 * NEAR
    assert m.training["warnings"] == [told]
    assert _gap(train(path, TrainOptions(model="logistic", threads=1)), X, y) < NEAR / 2


def test_on_no_more_rows_than_the_default_batch_the_advice_is_more_epochs(tmp_path):
    """20 separable rows: the default batch of 32 is refused on them (exit 2), which the warning advised, and a
    batch of 5 ends twice as high as the full batch (computed here); 20 epochs end lower."""
    path = tmp_path / "few.h5"
    assert cli("generate", path, "--rows", "20", "--features", "3")[0] == 0
    with h5py.File(path, "r") as f:
        X, y = f["X"][:].astype(np.float64), f["y"][:].astype(np.float64)
    with pytest.warns(FitWarning) as caught:
        m = train(path, TrainOptions(model="logistic", batch_size=20, threads=1))
    (told,) = [str(w.message) for w in caught]
    assert told.endswith("a full batch steps once an epoch: the model may be far from the optimum; raise --epochs")
    assert cli("train", path, "-o", tmp_path / "m.h5", "-q") == (
        2, "", f"sgdcli: error: --batch-size 32 is larger than the 20 training rows of {path}: give one of at most "
               "20, or --batch-size full\n")
    with pytest.warns(FitWarning, match="only 20 updates in all"):
        smaller = train(path, TrainOptions(model="logistic", batch_size=5, threads=1))
    with pytest.warns(FitWarning, match="raise --epochs$"):  # (their loss has no minimum: it falls on and on)
        longer = train(path, TrainOptions(model="logistic", batch_size=20, epochs=20, threads=1))
    loss = [logistic_objective(*np.split(m.raw_weights()[0], [-1]), X, y, 0.0) for m in (m, smaller, longer)]
    assert loss[1] > 2 * loss[0] > 2 * loss[2], loss


def test_a_full_batch_near_the_optimum_from_the_fit_is_not_told_to_raise_epochs(tmp_path):
    """RMSprop's first steps from the fit, about its rate on every weight, raise the loss, and later ones take it
    back down: the loss fell over the second half of the epochs, and the run was told to raise --epochs, though it
    ended within a fraction of a percent of the optimum (computed here)."""
    path, X, y = logistic_rows(tmp_path / "strong.h5", 20_000, 10, 6.0, -9.0)
    m = train(path, TrainOptions(model="logistic", batch_size="full", threads=1, optimizer="rmsprop"))
    assert m.history[-1]["train_loss"] < 0.99 * m.history[2]["train_loss"]  # what the old rule saw
    assert _gap(m, X, y) < NEAR / 10
    assert "warnings" not in m.training


def test_a_run_that_keeps_no_step_is_left_to_the_other_checks(tmp_path, monkeypatch):
    """The running average is not the iterate the step is of: it keeps no step (fullbatch.keeps_step), and its
    end is judged by the other checks; nor do --l1 runs and averaged models."""
    seen = _kept_at_the_end(monkeypatch)
    path, X, y = logistic_rows(tmp_path / "strong.h5", 20_000, 10, 6.0, -9.0)
    train(path, TrainOptions(model="logistic", batch_size="full", threads=1, epochs=2, average=True))
    assert seen["stepped"] is None and seen["told"] is None
    assert not fullbatch.keeps_step(TrainOptions(model="logistic", l1=1e-4), 1, True)
    assert not fullbatch.keeps_step(TrainOptions(model="logistic"), 2, True)
    assert fullbatch.keeps_step(TrainOptions(model="softmax"), 1, True)
    assert fullbatch.keeps_step(TrainOptions(model="linear"), 1, True)
    assert not fullbatch.keeps_step(TrainOptions(model="huber"), 1, True)


def test_a_class_of_fewer_sample_rows_than_weights_is_judged_where_the_sample_tells_the_curvature(
        tmp_path, monkeypatch, small_full_batch_sample):
    """Softmax of three classes, the third 0.1% of the rows: the sample's 4,096 hold 7 of them, for 11 weights of
    a class, and its curvature along the others of that class's directions is the other classes' rows' alone,
    far below every row's.  Newton's decrement by it put the run 36% above the optimum; it ended 3% above
    (computed here), and the decrement along the directions the sample's curvature tells says it is near."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60_000, 10)).astype(np.float32)
    scores = X @ (1.5 * rng.standard_normal((3, 10))).T - np.array([0.0, 0.0, 18.0])
    y = (scores + rng.gumbel(size=scores.shape)).argmax(axis=1)
    path = write_table(tmp_path / "classes.h5", X, y.astype(np.float32))
    seen = {}
    real = gradientnoise.newton_gap

    def spy(*args, **kwargs):
        seen["figures"] = real(*args, **kwargs)
        return seen["figures"]

    monkeypatch.setattr(gradientnoise, "newton_gap", spy)
    m = train(path, TrainOptions(model="softmax", batch_size="full", threads=1))
    assert int(np.sum(y[sample_rows(path, "softmax", 3)] == 2)) == 7
    assert not seen["figures"][2]  # the decrement where the sample tells the curvature
    assert _softmax_loss(m, X, y) < (1 + NEAR) * _softmax_optimum(X, y)
    assert "warnings" not in m.training


def _ridge_objective(Z, y, v, l2):
    """The objective Σ v·½(Z·θ − y)² / m + l2/2 · ‖θ's weights‖² (the bias last, unpenalized), as a function."""
    m, p = Z.shape
    penalty = np.full(p, l2)
    penalty[-1] = 0.0
    return lambda t: 0.5 * float(np.sum(v * (Z @ t - y) ** 2)) / m + 0.5 * float(np.sum(penalty * t**2))


def _ridge_optimum(Z, y, v, l2):
    """The least ``_ridge_objective``, solved here by the normal equations in float64, and that objective."""
    m, p = Z.shape
    penalty = np.full(p, l2)
    penalty[-1] = 0.0
    theta = np.linalg.solve((Z * v[:, None]).T @ Z / m + np.diag(penalty), (Z * v[:, None]).T @ y / m)
    return theta, _ridge_objective(Z, y, v, l2)


@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_a_linear_models_decrement_on_every_row_is_how_far_above_the_optimum_it_is(l2):
    """Least squares' curvature does not depend on the model: where the rows are every row, half the decrement is
    the objective's height above its optimum, exactly, whatever the units.  Raw features of means 10,000 and
    spreads 0.01 to 100, weighted rows and a constant column; the optimum and the objective are computed here."""
    rng = np.random.default_rng(3)
    m, d = 3000, 5
    X = rng.standard_normal((m, d)) * np.array([0.01, 1.0, 100.0, 3.0, 1.0]) + 10_000.0
    X[:, 4] = 7.0  # constant: its weight moves the objective as the bias does
    Z = np.column_stack([X, np.ones(m)])
    y = X[:, :4] @ np.array([50.0, -1.0, 0.02, 0.5]) + rng.standard_normal(m)
    v = rng.uniform(0.5, 2.0, m)
    best, objective = _ridge_optimum(Z[:, [0, 1, 2, 3, 5]], y, v, l2)
    params = np.insert(best, 4, 0.0) + np.r_[2.0, 0.1, 1e-3, -0.05, 0.0, 0.0]
    penalty = np.r_[np.full(d, l2), 0.0]
    gradient = (Z * v[:, None]).T @ (Z @ params - y) / m + penalty * params
    moved = params + 0.1 * rng.standard_normal(d + 1)
    fall, change = linearfit.newton_gap(Z, y, v, l2, params, gradient, moved)
    above = objective(np.delete(params, 4)) - objective(best)
    assert above > 1.0
    assert fall == pytest.approx(above, rel=1e-6)
    # the constant column's weight is counted in the objective's change (not solved for: with the bias, the
    # columns are collinear, which one machine's solve took as singular, LinAlgError)
    full = _ridge_objective(Z, y, v, l2)
    assert change == pytest.approx(full(moved) - full(params), rel=1e-9)


LINEAR_TOLD = re.compile(r"the model's mean loss on every training row is ([\d.]+)% above the optimum's, estimated "
                         r"by a Newton step from the gradient of its last step on them, with the curvature of the "
                         r"run's sample of ([\d,]+) rows, ([\d.]+); the run started at the fit of that sample, of "
                         r"([\d,]+) weights, and a full batch steps once an epoch: the model may be far from the "
                         r"optimum; lower --batch-size \(at 32, ([\d,]+) steps an epoch\) or raise --epochs$")


def test_a_full_batch_linear_run_of_many_weights_is_judged_by_its_gradient_on_every_row(tmp_path):
    """350 correlated features.  The sample holds a hundred rows a weight (start.LINEAR_ROWS_PER_WEIGHT), and 5
    full-batch steps from its fit end near every row's optimum (computed here).  Where --memory holds only
    4,096 of them, their fit is some 9% of the noise above it, and steps at the rate the largest curvature allows
    leave the flat directions where the fit put them: 7% above.  Its loss fell by under a percent over the
    second half, and nothing was said; it is now told to lower --batch-size, and mini-batches end near it."""
    rng = np.random.default_rng(0)
    n, d, memory = 40_000, 350, 20 << 20
    X = (rng.standard_normal((n, 5)) @ rng.standard_normal((5, d)) + rng.standard_normal((n, d))).astype(np.float32)
    y = (X @ (rng.standard_normal(d) / np.sqrt(d)) + rng.standard_normal(n)).astype(np.float32)
    path = write_table(tmp_path / "wide.h5", X, y)
    solution, objective = _ridge_optimum(np.column_stack([X.astype(np.float64), np.ones(n)]), y.astype(np.float64),
                                         np.ones(n), 0.0)

    def gap(model):
        return objective(np.asarray(model.raw_weights()[0]).ravel()) / objective(solution) - 1

    with Table(path) as table:
        assert start.fit_sample_rows("linear", table, 2, DEFAULT_MEMORY) == start.LINEAR_ROWS_PER_WEIGHT * (d + 1) < n
    m = train(path, TrainOptions(model="linear", batch_size="full", threads=1))
    assert gap(m) < NEAR / 10 and "warnings" not in m.training
    with pytest.warns(FitWarning) as caught:
        m = train(path, TrainOptions(model="linear", batch_size="full", threads=1, memory=memory))
    assert gap(m) > NEAR
    (told,) = [str(w.message) for w in caught]
    found = LINEAR_TOLD.fullmatch(told)
    assert found, told
    assert found[2] == "4,096" and found[4] == f"{d + 1}" and found[5] == "1,250"
    assert float(found[1]) > 100 * NEAR
    assert gap(train(path, TrainOptions(model="linear", threads=1, memory=memory))) < NEAR / 10
