"""--class-weight: each class's rows weighed in the loss, balanced as scikit-learn balances them."""

import json

import h5py
import numpy as np
import pytest

from sgdcli import evaluate, load_model, train
from sgdcli.kernels import losses
from sgdcli.options import TrainOptions

from conftest import cli, make_problem, short_fits, write_table

import naive


@pytest.fixture(scope="module")
def rare(tmp_path_factory):
    """1% positives."""
    d = tmp_path_factory.mktemp("rare")
    rng = np.random.default_rng(8)
    X = rng.standard_normal((40_000, 6)).astype(np.float32)
    score = X @ np.array([1.5, -1.0, 0.5, 0.0, 2.0, -0.5]) - 7.5
    y = (score + rng.logistic(size=len(X)) > 0).astype(np.int64)
    return write_table(d / "rare.h5", X, y), X, y


def weighted_log_loss(X, y, W, weights):
    s = X.astype(np.float64) @ W[:-1] + W[-1]
    per_row = np.logaddexp(0.0, s) - y * s
    return float(np.mean(weights[y] * per_row))


def test_balanced_reaches_scikit_learns_weighted_optimum_and_raises_recall(rare):
    from sklearn.linear_model import LogisticRegression

    path, X, y = rare
    assert 0.005 < y.mean() < 0.02
    balanced = train(path, TrainOptions(class_weight="balanced", epochs=10))
    plain = train(path, TrainOptions(epochs=10))
    counts = np.bincount(y)
    weights = len(y) / (2 * counts)
    np.testing.assert_allclose(balanced.training["class_weights"], weights)
    best = LogisticRegression(class_weight="balanced", C=1e6, max_iter=2000, tol=1e-10).fit(X.astype(np.float64), y)
    optimum = weighted_log_loss(X, y, np.append(best.coef_[0], best.intercept_[0]), weights)
    ours = weighted_log_loss(X, y, balanced.raw_weights()[0], weights)
    assert ours <= optimum * 1.1, (ours, optimum)
    recall = {name: evaluate(m, path)["recall"] for name, m in (("balanced", balanced), ("plain", plain))}
    assert recall["balanced"] > recall["plain"] + 0.2, recall


def test_the_weight_multiplies_each_rows_loss_and_gradient():
    weights = np.array([1.0, 20.0])
    for model in ("logistic", "hinge", "squared_hinge", "modified_huber"):
        for t in (0.0, 1.0):
            s = np.array([0.3])
            got = losses.row_losses(losses.loss_of((model, 0.0, weights)), s[None, :], np.array([t]), np.empty(1),
                                    np.empty((1, 1)))[0]
            assert got == pytest.approx(weights[int(t)] * naive.loss_and_grad(model, s, t)[0], rel=1e-12)
    s = np.array([[0.3, -1.0, 2.0]])
    three = np.array([1.0, 2.0, 3.0])
    got = losses.row_losses(losses.loss_of(("softmax", 0.0, three)), s, np.array([2.0]), np.empty(1), np.empty_like(s))
    assert got[0] == pytest.approx(3.0 * naive.loss_and_grad("softmax", s[0], 2.0)[0], rel=1e-12)


def test_explicit_weights_by_class_and_a_class_not_listed_weighs_one(rare, tmp_path):
    path, _, _ = rare
    m = train(path, TrainOptions(class_weight="1=20", epochs=1))
    assert m.training["class_weights"] == [1.0, 20.0]
    # a class named by its value, as --positive-class names it: 1.0 is the label 1
    assert train(path, TrainOptions(class_weight="1.0=20", epochs=1)).training["class_weights"] == [1.0, 20.0]


def test_a_class_named_with_a_comma_or_an_equals_sign_is_weighted(tmp_path):
    """convert keeps class names with commas ("yes, really"), which --class-weight split in two: a comma in a
    name is written \\, as in --features, and a class's weight follows the last '='."""
    X, y = make_problem("binary", n=400, d=2, seed=0)
    path = tmp_path / "named.h5"
    with h5py.File(path, "w") as f:
        f["X"], f["y"] = X, np.where(y == 1, "yes, really", "a=b").astype("S")
    m = train(path, TrainOptions(class_weight="yes\\, really=3,a=b=2", epochs=1))
    assert m.training["class_names"] == ["a=b", "yes, really"] and m.training["class_weights"] == [2.0, 3.0]
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--class-weight", "yes\\, really=3", "-q")
    assert code == 0, err


@pytest.mark.parametrize("args,message", [
    (["--class-weight", "1=x"], "--class-weight: expected balanced or CLASS=WEIGHT,... with weights >= 0, got '1=x'"),
    (["--class-weight", ""], "--class-weight: expected balanced or CLASS=WEIGHT,... with weights >= 0, got '' (an "
                             "unset shell variable?)"),  # (it trained unweighted)
    (["--class-weight", "7=2"], "--class-weight: {path}:y has no class '7' (classes: 0, 1)"),
    (["--class-weight", "0=0,1=0"], "--class-weight: every class weighs 0"),
    (["--class-weight", "0=1,1=3,0=2"], "--class-weight: class '0' is given twice"),
    (["--class-weight", "1=3,1.0=2"], "--class-weight: '1' and '1.0' are one class"),
    (["--class-weight", "balanced", "--model", "linear"], "--class-weight: applies to classifiers; --model linear is "
                                                          "a regression"),
])
def test_bad_class_weights_are_usage_errors(rare, tmp_path, args, message):
    path, _, _ = rare
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", *args)
    assert (code, err.strip().splitlines()[-1]) == (2, "sgdcli: error: " + message.format(path=path)), err


def test_class_weights_are_relative(rare):
    """The objective is the weighted mean: doubling every class's weight changes nothing."""
    path, _, _ = rare
    a = train(path, TrainOptions(class_weight="0=1,1=20", epochs=1))
    b = train(path, TrainOptions(class_weight="0=2,1=40", epochs=1))
    assert a.training["lr"] == pytest.approx(b.training["lr"], rel=1e-12)
    np.testing.assert_allclose(a.raw_weights(), b.raw_weights(), rtol=1e-9, atol=1e-12)


def test_classes_of_float32_labels_are_named_by_the_value_written(tmp_path):
    """Labels 0.1 and 0.2 stored as float32 are 0.10000000149... and 0.20000000298... once read: named as
    written, --positive-class 0.1 and --class-weight 0.2=3 were refused as no class."""
    X, y = make_problem("binary", n=400, d=3, seed=4)
    path = write_table(tmp_path / "f32.h5", X, np.where(y == 1, 0.2, 0.1).astype(np.float32))
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--positive-class", "0.1", "--class-weight",
                       "0.2=3", "--epochs", "1", "-q")
    assert code == 0, err
    model = load_model(tmp_path / "m.h5")
    assert model.classes.tolist() == [np.float32(0.2), np.float32(0.1)]  # the positive class second
    assert model.training["class_weights"] == [3.0, 1.0]


def test_float32_classes_are_written_as_their_shortest_text(tmp_path):
    """A class stored as float32 is written with the fewest digits that read back as that float32 (numpy's
    str of it), in show, in messages and in predictions; it was written as its float64, 0.10000000149011612."""
    X, y = make_problem("softmax", n=300, d=3, k=3, seed=5)
    values = np.array([0.1, 0.2, 0.3], dtype=np.float32)
    path = write_table(tmp_path / "f32.h5", X, values[y])
    binary = write_table(tmp_path / "b32.h5", X, values[np.minimum(y, 1)])
    written = [str(v) for v in values]
    assert written == ["0.1", "0.2", "0.3"] and [float(np.float32(t)) for t in written] == values.tolist()

    code, _, err = cli("train", binary, "-o", tmp_path / "m.h5", "--positive-class", "0.3", "-q")
    assert (code, err.strip().splitlines()[-1]) == (2, f"sgdcli: error: --positive-class: {binary}:y has no class "
                                                       "'0.3' (classes: 0.1, 0.2)")
    code, _, err = cli("train", binary, "-o", tmp_path / "m.h5", "--class-weight", "0.3=2", "-q")
    assert (code, err.strip().splitlines()[-1]) == (2, f"sgdcli: error: --class-weight: {binary}:y has no class "
                                                       "'0.3' (classes: 0.1, 0.2)")
    code, _, err = cli("train", binary, "-o", tmp_path / "m.h5", "--epochs", "1", "-q")
    assert code == 0, err
    code, out, _ = cli("show", tmp_path / "m.h5")
    assert "classes      0.1, 0.2\n" in out
    code, out, _ = cli("show", tmp_path / "m.h5", "--json")
    assert json.loads(out)["classes"] == [0.1, 0.2]
    code, _, err = cli("evaluate", tmp_path / "m.h5", path)  # its labels 0.3 are no class of the model
    assert (code, err.strip().splitlines()[-1]) == (2, f"sgdcli: error: {path}:y: label 0.3 at row "
                                                       f"{int(np.flatnonzero(y == 2)[0])} is not one of the model's "
                                                       "classes (0.1, 0.2)")

    code, out, err = cli("predict", tmp_path / "m.h5", binary, "-o", "-", "--proba")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "prediction,proba_0.1,proba_0.2"
    predicted = np.array([line.split(",")[0] for line in lines[1:]])
    assert set(predicted) == {"0.1", "0.2"}
    # read back as float32 (the labels' type), the text is the class the model holds and predict -o .h5 writes
    code, _, err = cli("predict", tmp_path / "m.h5", binary, "-o", tmp_path / "p.h5")
    assert code == 0, err
    with h5py.File(tmp_path / "p.h5") as f:
        np.testing.assert_array_equal(predicted.astype(np.float32), f["prediction"][:])


def test_labels_written_as_float32_classes_are_those_classes(tmp_path):
    """The label 0.1 of a float64 dataset (or of a CSV file, or of predictions written as text) is the class
    0.1 a model of float32 labels holds, as --positive-class 0.1 names it: evaluate measured it; it refused it
    as "label 0.1 ... is not one of the model's classes (0.10000000149011612, ...)"."""
    X, y = make_problem("binary", n=300, d=3, seed=6)
    labels = np.where(y == 1, 0.2, 0.1)
    f32 = write_table(tmp_path / "f32.h5", X, labels.astype(np.float32))
    f64 = write_table(tmp_path / "f64.h5", X, labels)
    code, _, err = cli("train", f32, "-o", tmp_path / "m.h5", "--epochs", "1", "-q")
    assert code == 0, err
    assert evaluate(tmp_path / "m.h5", f64) == evaluate(tmp_path / "m.h5", f32)
    code, _, err = cli("train", f64, "-o", tmp_path / "w.h5", "--init", tmp_path / "m.h5", "--epochs", "1", "-q")
    assert code == 0, err


@short_fits  # (short fits' warnings)
def test_class_weights_standardize_and_train_as_the_same_sample_weights_and_the_rows_repeated(tmp_path,
                                                                                            no_fit_start):
    """A row's weight is its sample weight times its class's weight in the standardization statistics too (they
    were weighted by the sample weights only), so --class-weight 1=5 trains the objective of the class-1 rows
    repeated 5 times; the penalty, on standardized weights, made the difference visible.  (From the labels'
    log-odds: the fit of the repeated file's sample, which holds other rows, aside.)"""
    rng = np.random.default_rng(0)
    n = 2000
    X = (rng.standard_normal((n, 4)) * [1, 2, 3, 1] + [0, 5, 0, 0]).astype(np.float32)
    y = (X[:, 0] + rng.standard_normal(n) > 1.0).astype(np.float64)
    X[y == 1, 2] += 4.0  # a feature whose spread depends on how the classes weigh
    v = np.where(y == 1, 5.0, 1.0)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["X"], f["y"], f["w"] = X, y, v
    rep = np.repeat(np.arange(n), v.astype(np.int64))
    write_table(tmp_path / "r.h5", X[rep], y[rep])
    opts = dict(l2=0.05, batch_size=None, epochs=60, lr=0.5, threads=1, optimizer="sgd", schedule="constant",
                shuffle=False)
    by_class = train(tmp_path / "d.h5", TrainOptions(class_weight="1=5", **opts))
    by_sample = train(tmp_path / "d.h5", TrainOptions(sample_weight="w", **opts))
    repeated = train(tmp_path / "r.h5", TrainOptions(**opts))
    x = X.astype(np.float64)
    center = v @ x / v.sum()
    scale = np.sqrt(v @ (x - center) ** 2 / v.sum())
    for model in (by_class, by_sample, repeated):
        np.testing.assert_allclose(model.center, center, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(model.scale, scale, rtol=1e-9)
    np.testing.assert_allclose(by_class.raw_weights(), by_sample.raw_weights(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(by_class.raw_weights(), repeated.raw_weights(), rtol=1e-6, atol=1e-9)


@short_fits  # (short fits' warnings)
def test_balanced_class_weights_standardize_as_the_same_sample_weights_dense_and_sparse(tmp_path):
    """``balanced`` comes from the label pass's counts, which run before the statistics; on a CSR matrix
    (--standardize: scaled, not centered) the class weights weigh its rows' deviations as well."""
    rng = np.random.default_rng(3)
    n = 3000
    y = (rng.random(n) < 0.05).astype(np.float64)
    X = rng.standard_normal((n, 3)).astype(np.float32)
    X[y == 1, 0] += 4.0
    counts = np.bincount(y.astype(np.int64))
    v = (n / (2 * counts))[y.astype(np.int64)]
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["X"], f["y"], f["w"] = X, y, v
        g = f.create_group("S")
        g["data"], g["indices"] = X.reshape(-1), np.tile(np.arange(3), n)
        g["indptr"], g.attrs["shape"], g.attrs["encoding-type"] = np.arange(0, 3 * n + 1, 3), (n, 3), "csr_matrix"
    opts = dict(epochs=1, threads=1)
    x = X.astype(np.float64)
    center = v @ x / v.sum()
    for features, sparse in (("X", False), ("S", True)):
        extra = dict(x=features, standardize=True) if sparse else {}
        balanced = train(tmp_path / "d.h5", TrainOptions(class_weight="balanced", **opts, **extra))
        weighted = train(tmp_path / "d.h5", TrainOptions(sample_weight="w", **opts, **extra))
        # sparse rows are scaled by their root mean square about 0, dense ones by their deviation
        spread = np.sqrt(v @ x ** 2 / v.sum() - center ** 2) if sparse else np.sqrt(v @ (x - center) ** 2 / v.sum())
        for model in (balanced, weighted):
            np.testing.assert_allclose(model.scale, spread, rtol=1e-9, err_msg=features)
            if not sparse:
                np.testing.assert_allclose(model.center, center, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("model", ["logistic", "softmax"])
def test_weights_that_leave_one_class_are_refused_naming_it(tmp_path, model):
    """--class-weight churned=0, or sample weights 0 on every row of a class: the model learned one class and
    predicted it for every row, at a training loss near 0, without a word (--bad-rows skip leaving one class
    was refused already).  Refused, naming the class that is left and the option."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 3)).astype(np.float32)
    churned = X[:, 0] > 0
    path = tmp_path / "rows.h5"
    with h5py.File(path, "w") as f:
        f["X"] = X
        f.create_dataset("y", data=np.where(churned, "churned", "stayed").astype(object), dtype=h5py.string_dtype())
        f["w"] = np.where(churned, 0.0, 1.0)
    said = "only the training rows of class 'stayed' weigh anything; a classifier learns from two classes or more"
    for options, told in ((["--class-weight", "churned=0"], f"--class-weight: {path}:y: {said}"),
                          (["--sample-weight", "w"], f"--sample-weight: {path}:w: {said}"),
                          (["--sample-weight", "w", "--class-weight", "churned=2"],
                           f"--sample-weight × --class-weight: {path}:w: {said}")):
        code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", model, *options)
        assert (code, out, err.strip().splitlines()[-1]) == (2, "", f"sgdcli: error: {told}")
        assert not (tmp_path / "m.h5").exists()
    assert cli("train", path, "-o", tmp_path / "m.h5", "--model", model, "--class-weight", "churned=0.5",
               "-q")[0] == 0
