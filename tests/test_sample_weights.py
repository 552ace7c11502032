"""--sample-weight: each row's loss counts as many times as its weight, in training, validation and metrics."""

import json
import math

import h5py
import numpy as np
import pytest

from sgdcli import evaluate, load_model, train
from sgdcli.options import TrainOptions
from sgdcli.training.runlog import FitWarning

from conftest import cli, make_problem, short_fits, write_table

FULL = dict(batch_size=None, optimizer="sgd", schedule="constant", lr=0.5, epochs=30, l2=0.01)  # gradient descent


def add(path, **datasets):
    with h5py.File(path, "a") as f:
        for name, values in datasets.items():
            f[name] = values
    return str(path)


@pytest.fixture(scope="module")
def weighted(tmp_path_factory):
    """A file with integer weights (some 0), and the same rows repeated as many times as their weights."""
    d = tmp_path_factory.mktemp("weights")
    rng = np.random.default_rng(11)
    X = (rng.standard_normal((3000, 6)) * [1, 2, 3, 1, 0.5, 4] + [0, 1, -2, 0, 3, 0]).astype(np.float32)
    y = (X @ np.array([1.0, -0.5, 0.3, 0.0, 2.0, -0.2]) + rng.logistic(size=3000) > 1.5).astype(np.int64)
    w = rng.integers(0, 4, 3000).astype(np.float64)
    path = add(write_table(d / "weighted.h5", X, y), w=w)
    rep = np.repeat(np.arange(3000), w.astype(int))
    repeated = write_table(d / "repeated.h5", X[rep], y[rep])
    return path, repeated, X, y, w


def weighted_objective(X, y, W, w, l2):
    s = X.astype(np.float64) @ W[:-1] + W[-1]
    return float(np.average(np.logaddexp(0.0, s) - y * s, weights=w) + 0.5 * l2 * W[:-1] @ W[:-1])


@short_fits
def test_integer_weights_train_as_the_rows_repeated(weighted, no_fit_start):
    """Gradient descent on the weighted file takes the steps it takes on the repeated rows (standardization
    included: its statistics are weighted too), from the same start (the labels' log-odds: the fit of each
    file's sample, which holds other rows, aside)."""
    path, repeated, *_ = weighted
    a = train(path, TrainOptions(sample_weight="w", **FULL))
    b = train(repeated, TrainOptions(**FULL))
    np.testing.assert_allclose(a.center, b.center, rtol=1e-12)
    np.testing.assert_allclose(a.scale, b.scale, rtol=1e-12)
    np.testing.assert_allclose(a.raw_weights(), b.raw_weights(), rtol=1e-9, atol=1e-12)
    assert a.history[-1]["train_loss"] == pytest.approx(b.history[-1]["train_loss"], rel=1e-12)


def test_mini_batch_sgd_reaches_the_objective_of_the_repeated_rows(weighted):
    path, repeated, X, y, w = weighted
    a = train(path, TrainOptions(sample_weight="w", l2=1e-3))
    b = train(repeated, TrainOptions(l2=1e-3))
    ours, theirs = (weighted_objective(X, y, m.raw_weights()[0], w, 1e-3) for m in (a, b))
    assert ours <= theirs * 1.05, (ours, theirs)


def test_the_optimum_is_scikit_learns_weighted_one(weighted, tmp_path):
    """sgdcli's objective is scikit-learn's divided by the sum of weights: LogisticRegression's C = 1 / (l2 · Σw)
    and Ridge's alpha = l2 · Σw reach the same optimum.  (On raw features, which the penalty then applies to as
    scikit-learn applies it; centered and scaled, so that plain SGD converges in a few epochs.)"""
    from sklearn.linear_model import LogisticRegression, Ridge

    _, _, X, y, w = weighted
    X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    path = add(write_table(tmp_path / "centered.h5", X, y), w=w)
    l2 = 1e-2
    best = LogisticRegression(C=1 / (l2 * w.sum()), tol=1e-12, max_iter=10_000).fit(X.astype(np.float64), y,
                                                                                      sample_weight=w)
    optimum = np.append(best.coef_[0], best.intercept_[0])
    sgd = train(path, TrainOptions(sample_weight="w", l2=l2, epochs=20, standardize=False))
    got = weighted_objective(X, y, sgd.raw_weights()[0], w, l2)
    assert weighted_objective(X, y, optimum, w, l2) <= got <= weighted_objective(X, y, optimum, w, l2) * 1.001
    gd = dict(sample_weight="w", l2=l2, batch_size=None, epochs=300, standardize=False)
    np.testing.assert_allclose(train(path, TrainOptions(**gd)).raw_weights()[0], optimum, atol=1e-6)

    target = X.astype(np.float64) @ np.arange(6) + np.random.default_rng(2).standard_normal(len(X))
    add(path, target=target)
    linear = train(path, TrainOptions(model="linear", y="target", **gd))
    ridge = Ridge(alpha=l2 * w.sum(), tol=1e-12).fit(X.astype(np.float64), target, sample_weight=w)
    np.testing.assert_allclose(linear.raw_weights()[0], np.append(ridge.coef_, ridge.intercept_), atol=1e-6)


@short_fits
def test_rows_of_weight_zero_are_left_out(weighted, tmp_path, no_fit_start):
    """The same steps as on the file without them, from the same start (the fit of each file's sample aside)."""
    path, _, X, y, w = weighted
    kept = w > 0
    subset = add(write_table(tmp_path / "subset.h5", X[kept], y[kept]), w=w[kept])
    a = train(path, TrainOptions(sample_weight="w", **FULL))
    b = train(subset, TrainOptions(sample_weight="w", **FULL))
    np.testing.assert_allclose(a.raw_weights(), b.raw_weights(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("model,target", [("logistic", "y"), ("linear", "t"), ("softmax", "k")])
def test_metrics_over_no_weight_at_all_are_undefined_and_fail_their_gates(weighted, tmp_path, model, target):
    """Weights that are all 0 leave nothing to average: every metric is undefined (null in JSON, exit 3 for a
    gate on it), not the 0 an accuracy or a log loss of 0 would pass a gate with."""
    path, _, X, y, _ = weighted
    data = add(write_table(tmp_path / "zero.h5", X, y), w=np.zeros(len(y)), t=X[:, 0] * 2.0,
               k=np.arange(len(y)) % 3)
    assert cli("train", data, "--y", target, "--model", model, "-o", tmp_path / "m.h5", "-q")[0] == 0
    code, out, err = cli("evaluate", tmp_path / "m.h5", data, "--y", target, "--sample-weight", "w", "--json")
    got = json.loads(out)
    assert code == 0 and got.pop("rows") == len(y) and got and all(v is None for v in got.values()), out
    gate = {"logistic": "log_loss", "linear": "mse", "softmax": "accuracy"}[model]
    flag = "--fail-under" if gate == "accuracy" else "--fail-over"
    code, out, err = cli("evaluate", tmp_path / "m.h5", data, "--y", target, "--sample-weight", "w",
                         f"{flag}", f"{gate}=0.5")
    assert code == 3 and err.strip().splitlines()[-1] == (
        f"sgdcli: error: quality gate failed on {data}: {gate} is undefined ({flag} {gate}=0.5)"), err


@pytest.mark.parametrize("factor", [1000.0, 1e-200])
def test_weights_are_relative(weighted, tmp_path, factor):
    """Weights of 1e-200 (valid: finite, at least 0) standardized by other deviations: the products of two sums
    of them in the statistics' merges underflowed, and the rate and the model came out otherwise."""
    path, _, X, y, w = weighted
    scaled = add(write_table(tmp_path / "scaled.h5", X, y), w=w * factor)
    a = train(path, TrainOptions(sample_weight="w", epochs=2))
    b = train(scaled, TrainOptions(sample_weight="w", epochs=2))
    np.testing.assert_allclose(a.scale, b.scale, rtol=1e-12)
    assert a.training["lr"] == pytest.approx(b.training["lr"], rel=1e-9)
    np.testing.assert_allclose(a.raw_weights(), b.raw_weights(), rtol=1e-7, atol=1e-10)
    assert a.training["sample_weight"] == {"dataset": "w", "total": float(w.sum())}


def test_weights_of_one_train_as_no_weights_at_all(weighted, tmp_path):
    path, _, X, y, _ = weighted
    ones = add(write_table(tmp_path / "ones.h5", X, y), w=np.ones(len(y)))
    a = train(ones, TrainOptions(sample_weight="w", epochs=2))
    b = train(ones, TrainOptions(epochs=2))
    assert a.training["lr"] == pytest.approx(b.training["lr"], rel=1e-12)
    np.testing.assert_allclose(a.raw_weights(), b.raw_weights(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("extra", [{"parallel": "average", "threads": 2}, {"batch_size": 1},
                                   {"bad_rows": "skip", "class_weight": "balanced"}, {"val_fraction": 0.2}])
def test_every_mode_takes_weights_and_repeats_itself(weighted, extra):
    path, *_ = weighted
    a = train(path, TrainOptions(sample_weight="w", epochs=2, **extra))
    b = train(path, TrainOptions(sample_weight="w", epochs=2, **extra))
    np.testing.assert_array_equal(a.raw_weights(), b.raw_weights())


def test_sparse_input_weighs_its_rows_as_dense_input_does(weighted, tmp_path):
    sparse = pytest.importorskip("scipy.sparse")
    path, _, X, y, w = weighted
    M = sparse.csr_matrix(np.where(np.abs(X) > 1, X, 0).astype(np.float32))
    with h5py.File(tmp_path / "sparse.h5", "w") as f:
        g = f.create_group("X")
        g["data"], g["indices"], g["indptr"] = M.data, M.indices, M.indptr
        g.attrs["shape"] = M.shape
        f["y"], f["w"] = y, w
    dense = add(write_table(tmp_path / "dense.h5", M.toarray(), y), w=w)
    same = dict(sample_weight="w", standardize=False, shuffle=False, optimizer="sgd", lr=0.1, schedule="constant",
                epochs=2)
    # dense rows, and sparse ones dense enough to centre, are checked (training/unscaled.py)
    with pytest.warns(FitWarning, match="drop --no-standardize"):
        a = train(tmp_path / "sparse.h5", TrainOptions(**same))
    with pytest.warns(FitWarning, match="drop --no-standardize"):
        b = train(dense, TrainOptions(**same))
    np.testing.assert_allclose(a.raw_weights(), b.raw_weights(), rtol=1e-9, atol=1e-12)


def test_validation_uses_the_weights_of_the_validation_file(weighted, tmp_path):
    path, _, X, y, w = weighted
    val = add(write_table(tmp_path / "val.h5", X[:500], y[:500]), w=w[:500][::-1].copy())
    m = train(path, TrainOptions(sample_weight="w", val=val, epochs=2))
    assert m.history[-1]["val_loss"] == pytest.approx(evaluate(m, val, sample_weight="w")["log_loss"], rel=1e-12)
    assert m.history[-1]["val_loss"] != pytest.approx(evaluate(m, val)["log_loss"], rel=1e-6)


@short_fits
def test_weighted_metrics_are_scikit_learns(weighted, tmp_path):
    from sklearn import metrics as sk

    path, _, X, y, w = weighted
    m = train(path, TrainOptions(sample_weight="w", epochs=1))
    got = evaluate(m, path, sample_weight="w")
    s = X.astype(np.float64) @ m.raw_weights()[0, :-1] + m.raw_weights()[0, -1]
    p = 1 / (1 + np.exp(-s))
    pred = (s > 0).astype(int)
    want = {"rows": len(y), "accuracy": sk.accuracy_score(y, pred, sample_weight=w),
            "log_loss": sk.log_loss(y, p, sample_weight=w), "auc": sk.roc_auc_score(y, s, sample_weight=w),
            "precision": sk.precision_score(y, pred, sample_weight=w),
            "recall": sk.recall_score(y, pred, sample_weight=w), "f1": sk.f1_score(y, pred, sample_weight=w)}
    assert got["auc"] == pytest.approx(want.pop("auc"), abs=1e-4)  # from a histogram of the scores (model/metrics.py)
    assert {k: got[k] for k in want} == pytest.approx(want, rel=1e-6, abs=1e-6)


@short_fits
@pytest.mark.parametrize("model", ["linear", "quantile", "poisson", "softmax"])
def test_weighted_metrics_of_other_models_are_scikit_learns(tmp_path, model):
    from sklearn import metrics as sk

    rng = np.random.default_rng(3)
    X = rng.standard_normal((2000, 4)).astype(np.float32)
    s = X.astype(np.float64) @ np.array([0.5, -0.2, 0.1, 0.3])
    y = {"linear": s + rng.standard_normal(2000), "quantile": s + rng.standard_normal(2000),
         "poisson": rng.poisson(np.exp(s)).astype(float), "softmax": rng.integers(0, 3, 2000).astype(float)}[model]
    w = rng.uniform(0, 5, 2000)
    path = add(write_table(tmp_path / "d.h5", X, y), w=w)
    m = train(path, TrainOptions(model=model, quantile=0.8, epochs=1))
    got = evaluate(m, path, sample_weight="w")
    S = X.astype(np.float64) @ m.raw_weights()[:, :-1].T + m.raw_weights()[:, -1]
    if model == "softmax":
        P = np.exp(S - S.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        want = {"accuracy": sk.accuracy_score(y, S.argmax(axis=1), sample_weight=w),
                "log_loss": sk.log_loss(y, P, sample_weight=w)}
    else:
        pred = np.exp(S[:, 0]) if model == "poisson" else S[:, 0]
        want = {"mse": sk.mean_squared_error(y, pred, sample_weight=w),
                "mae": sk.mean_absolute_error(y, pred, sample_weight=w), "r2": sk.r2_score(y, pred, sample_weight=w)}
        if model == "quantile":
            want["pinball"] = sk.mean_pinball_loss(y, pred, alpha=0.8, sample_weight=w)
            want["below"] = float(np.average(y < pred, weights=w))
        if model == "poisson":
            want["deviance"] = sk.mean_poisson_deviance(y, pred, sample_weight=w)
    assert {k: got[k] for k in want} == pytest.approx(want, rel=1e-9, abs=1e-12)


@short_fits
def test_evaluate_prints_weighted_metrics(weighted):
    path, *_ = weighted
    m = train(path, TrainOptions(sample_weight="w", epochs=1))
    m.save(path + ".model.h5")
    code, out, err = cli("evaluate", path + ".model.h5", path, "--sample-weight", "w", "--json")
    assert code == 0, err
    assert '"accuracy": ' + repr(evaluate(m, path, sample_weight="w")["accuracy"]) in out


def bad_file(tmp_path, weights):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 3)).astype(np.float32)
    return add(write_table(tmp_path / "bad.h5", X, (X[:, 0] > 0).astype(int)), w=weights)


@pytest.mark.parametrize("weights,message", [
    (np.r_[np.ones(40), -1.0, np.ones(59)], "--sample-weight: {path}:w: weight -1.0 at row 40 is not a finite "
                                            "number >= 0"),
    (np.r_[np.ones(7), np.nan, np.ones(92)], "--sample-weight: {path}:w: weight nan at row 7 is not a finite "
                                             "number >= 0"),
    (np.r_[np.inf, np.ones(99)], "--sample-weight: {path}:w: weight inf at row 0 is not a finite number >= 0"),
    (np.ones(99), "--sample-weight: {path}:w has 99 rows but X has 100"),
    (np.zeros(100), "--sample-weight: {path}:w: every training row weighs 0; nothing to train on"),
    (np.ones((100, 2)), "--sample-weight: {path}:w: expected 1-D weights (or N × 1), got shape (100, 2)"),
    (np.float64(3.0), "--sample-weight: {path}:w: is a single value, not a column of weights"),
    (np.array([b"a"] * 100), "--sample-weight: {path}:w holds names, not numbers"),
])
def test_bad_weights_are_usage_errors(tmp_path, weights, message):
    path = bad_file(tmp_path, weights)
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--sample-weight", "w")
    assert (code, err.strip().splitlines()[-1]) == (2, "sgdcli: error: " + message.format(path=path)), err
    assert not (tmp_path / "m.h5").exists()


def test_a_bad_weight_is_an_error_under_bad_rows_skip_too(tmp_path):
    """--bad-rows skip leaves out rows of non-finite values, not weights: a NaN weight is no row to draw or skip."""
    path = bad_file(tmp_path, np.r_[np.ones(7), np.nan, np.ones(92)])
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--sample-weight", "w", "--bad-rows", "skip", "-q")
    assert (code, err) == (2, f"sgdcli: error: --sample-weight: {path}:w: weight nan at row 7 is not a finite "
                              "number >= 0\n")
    assert not (tmp_path / "m.h5").exists()


@pytest.mark.parametrize("weight", [1e307, 1e152])
def test_weights_whose_sums_overflow_are_refused_saying_so(tmp_path, weight):
    """Weights of 1e307 on 100 rows sum past float64's largest: NumPy's overflow warning, then a false
    "X: non-finite feature value at row 99" from the weighted moments.  Weights of 1e152 sum to a float64, but
    standardization's products of such sums do not: train wrote a model with an infinite scale, exit 0, which
    predict then refused as damaged.  Now one line on the weights, before any pass that would overflow; class
    weights alike."""
    limit = math.sqrt(np.finfo(np.float64).max / 2.0 ** 53)
    path = bad_file(tmp_path, np.full(100, weight))
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--sample-weight", "w", "-q")
    assert (code, err) == (2, f"sgdcli: error: --sample-weight: {path}:w: the training rows' weights sum to more "
                              f"than {limit:.2g}, beyond which the sums of products that standardization takes "
                              "leave float64's range; divide them by a constant, which does not change the "
                              "weighted objective\n")
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--class-weight", f"0={weight},1={weight}", "-q")
    assert (code, err) == (2, f"sgdcli: error: --class-weight: {path}:y: the training rows' weights sum to more "
                              f"than {limit:.2g}, beyond which the sums of products that standardization takes "
                              "leave float64's range; divide them by a constant, which does not change the "
                              "weighted objective\n")
    assert not (tmp_path / "m.h5").exists()


def test_weights_scaled_by_a_power_of_two_up_to_the_limit_train_the_same_model(tmp_path):
    """Every weight times 2^470 (a sum of 100 · 2^470, under the limit above) scales each figure a run takes of
    them by an exact power of two: the model is the unweighted one, bit for bit."""
    models = []
    for name, weight in (("one", 1.0), ("huge", 2.0 ** 470)):
        path = add(write_table(tmp_path / f"{name}.h5", *make_problem("binary", n=300, d=3, seed=0)),
                   w=np.full(300, weight))
        assert cli("train", path, "-o", tmp_path / f"{name}-m.h5", "--sample-weight", "w", "-q")[0] == 0
        models.append(load_model(tmp_path / f"{name}-m.h5"))
    for part in ("weights", "bias", "center", "scale"):
        np.testing.assert_array_equal(getattr(models[0], part), getattr(models[1], part))


@pytest.mark.parametrize("weights", [np.full(100, 1e-320), np.r_[np.full(50, 1e-320), np.zeros(50)]])
def test_weights_too_small_to_scale_are_refused_saying_so(tmp_path, weights):
    """The kernels take each weight times rows / Σ weights, which overflowed to inf on subnormal weights (0 × inf
    is NaN): a false "X: non-finite feature value at row ...".  Now one line on the weights; class weights alike."""
    path = bad_file(tmp_path, weights)
    total = float(weights.sum())
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--sample-weight", "w", "-q")
    assert (code, err) == (2, f"sgdcli: error: --sample-weight: {path}:w: the training rows' weights sum to "
                              f"{total:.3g}, too little to scale to a mean of 1 in a float64; multiply them by a "
                              "constant, which does not change the weighted objective\n")
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--class-weight", "0=1e-320,1=1e-320", "-q")
    assert (code, err) == (2, f"sgdcli: error: --class-weight: {path}:y: the training rows' weights sum to "
                              "1e-318, too little to scale to a mean of 1 in a float64; multiply them by a "
                              "constant, which does not change the weighted objective\n")
    assert not (tmp_path / "m.h5").exists()


def test_a_missing_weight_dataset_is_named_in_train_and_evaluate(tmp_path):
    path = bad_file(tmp_path, np.ones(100))
    def error(*args):
        code, _, err = cli(*args)
        return code, err.strip().splitlines()[-1]

    assert error("train", path, "-o", tmp_path / "m.h5", "--sample-weight", "weights") == (
        2, f"sgdcli: error: --sample-weight: {path}:weights: no such dataset (datasets in file: X, w, y)")
    assert error("train", path, "-o", tmp_path / "m.h5", "--sample-weight", "w", "--epochs", "1")[0] == 0
    other = write_table(tmp_path / "other.h5", np.zeros((5, 3), np.float32), np.zeros(5))
    assert error("train", path, "-o", tmp_path / "m2.h5", "--sample-weight", "w", "--val", other) == (
        2, f"sgdcli: error: --sample-weight: {other}:w: no such dataset (datasets in file: X, y)")
    assert error("evaluate", tmp_path / "m.h5", path, "--sample-weight", "x") == (
        2, f"sgdcli: error: --sample-weight: {path}:x: no such dataset (datasets in file: X, w, y)")


def test_lr_auto_counts_each_sampled_row_with_its_weight(weighted):
    """λmax of the weighted second moments and the mean of v²·‖z‖² (v: the kernels' weights, mean 1), against
    NumPy; a few heavy rows make the one-row step, and so the rate at batch 1, smaller."""
    from sgdcli.data.table import Table
    from sgdcli.training import rate, sampling

    path, _, X, y, w = weighted
    with Table(path, sample_weight="w") as table:
        spans = sampling.sample_spans(table, sampling.DEFAULT_MEMORY)
        rows = np.concatenate([np.arange(a, b) for a, b in spans])
        Z = np.column_stack([X[rows].astype(np.float64), np.ones(len(rows))])
        v = w[rows] * len(w) / w.sum()
        got = rate.auto_rate(table, "logistic", np.zeros(6), np.ones(6), 1, "sgd", weigh=lambda labels: v)
        assert got.lambda_max == pytest.approx(np.linalg.eigvalsh(Z.T @ (Z * v[:, None]) / len(Z))[-1], rel=1e-10)
        assert got.trace == pytest.approx(np.mean(v**2 * (Z**2).sum(axis=1)), rel=1e-12)
        heavy = np.where(np.arange(len(v)) % 100 == 0, 100.0, 0.0)
        assert rate.auto_rate(table, "logistic", np.zeros(6), np.ones(6), 1, "sgd",
                              weigh=lambda labels: heavy).lr < got.lr / 10


def _weights_off_the_sample(tmp_path):
    """A file whose sample weights ``sw`` are 1 on rows 400-999, which --lr auto's sample misses, 0 elsewhere."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20000, 4)).astype(np.float32)
    w = np.zeros(20000)
    w[400:1000] = 1.0
    path = tmp_path / "w.h5"
    with h5py.File(path, "w") as f:
        f["X"], f["y"], f["sw"] = X, X.astype(np.float64) @ np.ones(4), w
    return path


def test_weights_that_miss_every_sampled_row_leave_the_rate_to_the_rows(tmp_path):
    """Weights only on rows 400-999, which --lr auto's sample misses: its curvature was 0 and the rate 1/0, an
    internal error.  With no sampled row weighing anything, the rate is the unweighted rows'."""
    path = _weights_off_the_sample(tmp_path)
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "linear", "--sample-weight", "sw", "-q")
    assert code == 0, err
    m = load_model(tmp_path / "m.h5")
    plain = train(path, TrainOptions(model="linear", epochs=1))
    # the same rows' curvature, standardized by the weighted rows' statistics rather than every row's
    assert m.training["lr_auto"]["lr"] == pytest.approx(plain.training["lr_auto"]["lr"], rel=0.01)


def test_weights_that_miss_every_sampled_row_leave_the_end_nothing_to_fit(tmp_path):
    """The same weights, in runs that the end sets against a fit of the sample (training/fitgap.py): of rows that
    all weigh nothing, its mean divided 0 by 0, and `invalid value encountered in scalar divide` was printed as
    a warning beside the run's own (one epoch of 4 batches), or stopped the run with an internal error where
    warnings are errors.  No fit is measured on such a sample: the run is judged by its loss's fall."""
    path = _weights_off_the_sample(tmp_path)
    for extra, told in ((["--epochs", "1", "--batch-size", "5000"], ["only 4 updates in all"]), ([], [])):
        code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "linear", "--sample-weight", "sw",
                           *extra)
        assert code == 0, err
        warned = [line for line in err.splitlines() if line.startswith("sgdcli: warning: ")]
        assert [line.split(" (")[0][len("sgdcli: warning: "):] for line in warned] == told, err


@pytest.mark.parametrize("batch", ["full", "32"])
@pytest.mark.parametrize("model", ["logistic", "softmax", "linear"])
def test_a_weight_beyond_float64s_precision_trains(tmp_path, model, batch):
    """Weights are finite and >= 0, nothing more: one row of weight 1e100 (the others 1, whose curvature then lies
    below its rounding) stopped the fit of the sample with an internal error (LinAlgError: Singular matrix);
    a class weighted 1e20, whose share of the weight rounds to 1, stopped the logistic start (log1p(−1): a math
    domain error).  Both train: the model is written."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 4)).astype(np.float32)
    y = (X[:, 0] + rng.logistic(size=2000) > 0).astype(np.float32)
    weights = np.ones(2000)
    weights[5] = 1e100
    with h5py.File(tmp_path / "rows.h5", "w") as f:
        f["X"], f["y"], f["w"] = X, y, weights
    options = ["--model", model, "--batch-size", batch, "--epochs", "2", "-q"]
    code, out, err = cli("train", tmp_path / "rows.h5", "-o", tmp_path / "m.h5", "--sample-weight", "w", *options)
    assert code == 0 and "error" not in err, err
    assert load_model(tmp_path / "m.h5").n_features == 4
    if model != "linear":
        code, _, err = cli("train", tmp_path / "rows.h5", "-o", tmp_path / "c.h5", "--class-weight", "1=1e20",
                           *options)
        assert code == 0 and "error" not in err, err
