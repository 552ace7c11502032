"""--weight-column: the rows' weights in a column of --x (a pandas frame's, a table's, a matrix's by index), read as
--sample-weight reads a dataset of them, and left out of the features, as --label-column's label is."""

import warnings

import h5py
import numpy as np
import pandas as pd
import pytest

from sgdcli import evaluate, predict, train
from sgdcli.options import TrainOptions

from conftest import cli, make_problem, short_fits

OPTS = dict(epochs=2, shuffle=False)  # the same visit order whatever the layout (the shuffle follows the chunks)


def quiet(write, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write(*args, **kwargs)


@pytest.fixture(scope="module")
def problem():
    X, y = make_problem("binary", n=1500, d=3, seed=4)
    w = np.random.default_rng(4).integers(0, 4, len(y)).astype(np.float64)
    return X.astype(np.float32), y.astype(np.int64), w


def separate(path, X, y, w):
    """The reference: the same rows with the weights in a dataset of their own (--sample-weight w)."""
    with h5py.File(path, "w") as f:
        f["X"], f["y"], f["w"] = X, y, w
    return str(path)


def layouts(tmp_path, X, y, w):
    """(path, options) of files that hold the weights as a column of --x, beside the features a, b, c."""
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "w": w, "c": X[:, 2], "label": y})
    quiet(frame.to_hdf, tmp_path / "fixed.h5", key="df", mode="w")
    quiet(frame.to_hdf, tmp_path / "table.h5", key="df", mode="w", format="table")
    records = np.rec.fromarrays([X[:, 0], X[:, 1], w, X[:, 2], y], names="a,b,w,c,label")
    with h5py.File(tmp_path / "compound.h5", "w") as f:
        f["t"] = records
    with h5py.File(tmp_path / "group.h5", "w") as f:  # a group of 1-D columns
        for name, values in (("a", X[:, 0]), ("b", X[:, 1]), ("c", X[:, 2]), ("w", w)):
            f[f"cols/{name}"] = values
        f["y"] = y
    with h5py.File(tmp_path / "matrix.h5", "w") as f:
        f["X"], f["y"] = np.column_stack([X[:, :2], w, X[:, 2:]]).astype(np.float32), y
    return [(tmp_path / "fixed.h5", dict(x="df", label_column="label", weight_column="w")),
            (tmp_path / "table.h5", dict(x="df", label_column="label", weight_column="w")),
            (tmp_path / "compound.h5", dict(x="t", label_column="label", weight_column="w")),
            (tmp_path / "group.h5", dict(x="cols", weight_column="w")),
            (tmp_path / "matrix.h5", dict(weight_column="2"))]


@short_fits
def test_a_weight_column_trains_evaluates_and_predicts_as_a_dataset_of_the_weights(tmp_path, problem):
    X, y, w = problem
    reference = separate(tmp_path / "separate.h5", X, y, w)
    expected = train(reference, TrainOptions(sample_weight="w", **OPTS))
    metrics = evaluate(expected, reference, sample_weight="w")
    assert metrics != evaluate(expected, reference)  # (the weights change the metrics)
    predict(expected, reference, tmp_path / "expected.csv")
    for path, columns in layouts(tmp_path, X, y, w):
        model = train(path, TrainOptions(**columns, **OPTS))
        np.testing.assert_array_equal(model.weights, expected.weights, err_msg=str(path))
        np.testing.assert_array_equal(model.bias, expected.bias)
        column = "2" if path.name == "matrix.h5" else "w"  # (a matrix's columns are named by their positions)
        assert model.training["sample_weight"] == {"column": column, "total": float(w.sum())}
        assert model.n_features == 3 and model.training["features"] == (["0", "1", "3"] if column == "2" else
                                                                         ["a", "b", "c"])
        read = {k: v for k, v in columns.items() if k != "weight_column"}
        assert evaluate(model, path, weight_column=columns["weight_column"], **read) == metrics
        predict(model, path, tmp_path / "p.csv", weight_column=columns["weight_column"], **read)
        assert (tmp_path / "p.csv").read_bytes() == (tmp_path / "expected.csv").read_bytes()


@short_fits
def test_a_named_models_predict_reads_its_columns_by_name_and_a_matrix_is_told_to_leave_the_column_out(tmp_path,
                                                                                                         problem):
    X, y, w = problem
    (fixed, columns), *_, (matrix, by_index) = layouts(tmp_path, X, y, w)
    model = train(fixed, TrainOptions(**columns, **OPTS), output=str(tmp_path / "m.h5"))
    predict(model, fixed, tmp_path / "with.csv", x="df", weight_column="w")
    predict(model, fixed, tmp_path / "without.csv", x="df")  # by name: the model's columns, w left out
    assert (tmp_path / "with.csv").read_bytes() == (tmp_path / "without.csv").read_bytes()
    train(matrix, TrainOptions(**by_index, **OPTS), output=str(tmp_path / "mm.h5"))
    code, out, err = cli("predict", tmp_path / "mm.h5", matrix, "-o", tmp_path / "p.csv")
    assert (code, out, err) == (2, "", f"sgdcli: error: {matrix}:X: has 4 features but the model was trained on 3; "
                                       "the model was trained with --weight-column 2, which left that column out of "
                                       "the features: give it here too\n")
    train(matrix, TrainOptions(label_column="2", model="linear", **OPTS), output=str(tmp_path / "ml.h5"))
    code, out, err = cli("predict", tmp_path / "ml.h5", matrix, "-o", tmp_path / "p.csv")
    assert (code, out, err) == (2, "", f"sgdcli: error: {matrix}:X: has 4 features but the model was trained on 3; "
                                       "the model was trained with --label-column 2, which left that column out of "
                                       "the features: give it here too\n")
    assert not (tmp_path / "p.csv").exists()


@short_fits
def test_the_val_file_is_weighted_by_its_own_column_of_that_name(tmp_path, problem):
    """By name, where the training file's column was given by its index: a --val file whose columns are in another
    order was weighted by whatever column held that index (its f1 silently another)."""
    X, y, w = problem
    path, columns = layouts(tmp_path, X, y, w)[0]
    model = train(path, TrainOptions(**columns, val=str(path), **OPTS))
    metrics = evaluate(model, path, x="df", label_column="label", weight_column="w")
    assert model.history[-1]["val_log_loss"] == pytest.approx(metrics["log_loss"], rel=1e-9)
    assert model.history[-1]["val_loss"] == pytest.approx(metrics["log_loss"], rel=1e-9)
    other = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "extra": 100.0 * np.arange(len(y)), "w": w,
                          "label": y})
    quiet(other.to_hdf, tmp_path / "val.h5", key="df", mode="w")
    model = train(path, TrainOptions(**{**columns, "weight_column": "2"}, val=str(tmp_path / "val.h5"), **OPTS))
    metrics = evaluate(model, tmp_path / "val.h5", x="df", label_column="label", weight_column="w")
    assert model.history[-1]["val_log_loss"] == pytest.approx(metrics["log_loss"], rel=1e-9)


def test_the_command_line_trains_with_it_and_refuses_what_is_no_weight_column(tmp_path, problem):
    X, y, w = problem
    fixed = layouts(tmp_path, X, y, w)[0][0]
    frame = pd.DataFrame({"a": X[:20, 0], "w": w[:20], "kind": pd.Categorical(["x", "y"] * 10),
                          "note": ["t"] * 20, "label": y[:20]})
    quiet(frame.to_hdf, tmp_path / "other.h5", key="df", mode="w", format="table")
    other = tmp_path / "other.h5"
    argv = ["train", fixed, "--x", "df", "--label-column", "label", "-o", tmp_path / "m.h5", "-q", "--epochs", "1"]
    code, out, err = cli(*argv, "--weight-column", "w")
    assert (code, err) == (0, "") and out.startswith(f"model {tmp_path / 'm.h5'}: logistic, 3 features, ")
    (tmp_path / "m.h5").unlink()
    # a --sample-weight that names no dataset of a frame's file is told of --weight-column (it was told the
    # options that train on the file, --x df --label-column label, as if the labels were what it missed)
    code, out, err = cli(*argv, "--sample-weight", "df/w")
    assert (code, err) == (2, f"sgdcli: error: --sample-weight: {fixed}:df/w: no such dataset; this looks like a "
                              "pandas frame: --x df --weight-column NAME reads a column of it as the weights\n")
    for options, said in [
            (["--weight-column", "w", "--sample-weight", "w"], "--weight-column: cannot be combined with "
                                                               "--sample-weight; the weights are one column or the "
                                                               "other"),
            (["--weight-column", "label"], "--weight-column label: is the label column (--label-column)"),
            (["--weight-column", "4"], "--weight-column 4: is the label column (--label-column)"),
            (["--weight-column", "w", "--features", "a,w"], "--weight-column w: is also listed in --features"),
            (["--weight-column", "nope"], f"--weight-column nope: {fixed}:df has no such column (columns: a, b, w, "
                                          "c, label)")]:
        assert cli(*argv, *options) == (2, "", f"sgdcli: error: {said}\n"), options
    model = tmp_path / "kept.h5"  # evaluate refuses both as train does (it read the dataset's, blaming the column)
    assert cli("train", fixed, "--x", "df", "--label-column", "label", "--weight-column", "w", "-o", model, "-q",
               "--epochs", "1")[0] == 0
    assert cli("evaluate", model, fixed, "--x", "df", "--label-column", "label", "--weight-column", "w",
               "--sample-weight", "w") == (2, "", "sgdcli: error: --weight-column: cannot be combined with "
                                                  "--sample-weight; the weights are one column or the other\n")
    argv = ["train", other, "--x", "df", "--label-column", "label", "-o", tmp_path / "m.h5", "-q"]
    for column, said in [("kind", f"--weight-column: {other}:df:kind holds categories (names), not numbers; row "
                                  "weights are numbers >= 0"),
                         ("note", f"--weight-column note: column 'note' of {other}:df holds text, not numbers; row "
                                  "weights are numbers >= 0")]:
        assert cli(*argv, "--weight-column", column) == (2, "", f"sgdcli: error: {said}\n"), column
    assert not (tmp_path / "m.h5").exists()
    # the label's name before what it holds (a text label was "holds text"); predict reads nothing of the column
    argv = ["train", other, "--x", "df", "--label-column", "note", "--weight-column", "note", "-o", tmp_path / "m.h5"]
    assert cli(*argv) == (2, "", "sgdcli: error: --weight-column note: is the label column (--label-column)\n")
    assert cli("train", other, "--x", "df", "--label-column", "label", "--features", "a", "-o", tmp_path / "a.h5", "-q",
               "--epochs", "1", "--batch-size", "full")[0] == 0
    code, out, err = cli("predict", tmp_path / "a.h5", other, "--x", "df", "--weight-column", "note", "-o", "-", "-q")
    assert (code, err, len(out.splitlines())) == (0, "", 21)  # (it said "holds text, not numbers")
    ad = pytest.importorskip("anndata")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ad.AnnData(X=X[:50], obs=pd.DataFrame({"w": w[:50], "y": y[:50]}, index=[str(i) for i in range(50)])
                   ).write_h5ad(tmp_path / "a.h5ad")
    code, out, err = cli("train", tmp_path / "a.h5ad", "--y", "obs/y", "--weight-column", "w", "-o", tmp_path / "m.h5")
    assert (code, err) == (2, f"sgdcli: error: --weight-column w: {tmp_path / 'a.h5ad'}:X has no such column (columns: "
                              "0, 1, 2); it is a column of obs, AnnData's frame of what is known of each row: "
                              "--sample-weight obs/w\n")


@pytest.mark.parametrize("weights,said", [
    (np.r_[np.ones(40), -1.0, np.ones(59)], "weight -1.0 at row 40 is not a finite number >= 0"),
    (np.r_[np.ones(7), np.nan, np.ones(92)], "weight nan at row 7 is not a finite number >= 0"),
    (np.zeros(100), "every training row weighs 0; nothing to train on")])
def test_bad_weights_in_the_column_are_named_after_it(tmp_path, weights, said):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 2))
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "w": weights, "label": (X[:, 0] > 0).astype(int)})
    quiet(frame.to_hdf, tmp_path / "bad.h5", key="df", mode="w")
    code, out, err = cli("train", tmp_path / "bad.h5", "--x", "df", "--label-column", "label", "--weight-column", "w",
                         "-o", tmp_path / "m.h5", "-q")
    assert (code, out, err) == (2, "", f"sgdcli: error: --weight-column: {tmp_path / 'bad.h5'}:df:w: {said}\n")
    assert not (tmp_path / "m.h5").exists()


def test_a_sparse_matrix_has_no_weight_column(tmp_path):
    import scipy.sparse as sp

    m = sp.random(50, 4, density=0.5, format="csr", random_state=0)
    with h5py.File(tmp_path / "s.h5", "w") as f:
        g = f.create_group("X")
        g.attrs.update({"encoding-type": "csr_matrix", "encoding-version": "0.1.0", "shape": m.shape})
        g["data"], g["indices"], g["indptr"] = m.data, m.indices, m.indptr
        f["y"] = np.arange(50) % 2
    code, out, err = cli("train", tmp_path / "s.h5", "--weight-column", "0", "-o", tmp_path / "m.h5")
    assert (code, out, err) == (2, "", f"sgdcli: error: --weight-column: {tmp_path / 's.h5'}:X is a sparse (CSR) "
                                       "matrix, whose columns are not selected or transposed\n")


@short_fits
def test_averaged_models_read_the_weight_column_in_every_thread(tmp_path, problem):
    X, y, w = problem
    reference = separate(tmp_path / "separate.h5", X, y, w)
    path, columns = layouts(tmp_path, X, y, w)[0]
    opts = dict(parallel="average", threads=2, sync_every=8, **OPTS)
    expected = train(reference, TrainOptions(sample_weight="w", **opts))
    np.testing.assert_array_equal(train(path, TrainOptions(**columns, **opts)).weights, expected.weights)


@short_fits
def test_a_column_of_x_given_as_sample_weight_is_warned_of_as_a_feature_too(tmp_path, problem):
    """Read as the weights, it stays a feature (as it always did): the warning names --weight-column, which
    leaves it out; a --features that leaves it out is not warned of."""
    X, y, w = problem
    path = layouts(tmp_path, X, y, w)[2][0]  # the compound table t: a, b, w, c, label
    argv = ["train", path, "--x", "t", "--label-column", "label", "--sample-weight", "t/w", "-q", "--epochs", "1"]
    code, out, err = cli(*argv, "-o", tmp_path / "m.h5")
    assert code == 0 and out.startswith(f"model {tmp_path / 'm.h5'}: logistic, 4 features"), err
    assert err == ("sgdcli: warning: --sample-weight t/w: is column 'w' of --x t, so it is a feature as well as "
                   "the weights; --weight-column w reads it as the weights and leaves it out of the features\n")
    group = layouts(tmp_path, X, y, w)[3][0]  # a group of columns: a, b, c, w
    code, out, err = cli("train", group, "--x", "cols", "--sample-weight", "cols/w", "-q", "--epochs", "1", "-o",
                         tmp_path / "g.h5")
    assert (code, err) == (0, "sgdcli: warning: --sample-weight cols/w: is column 'w' of --x cols, so it is a "
                              "feature as well as the weights; --weight-column w reads it as the weights and leaves "
                              "it out of the features\n")
    code, out, err = cli(*argv, "--features", "a,b,c", "-o", tmp_path / "n.h5")
    assert (code, err) == (0, "")
    code, out, err = cli(*argv, "--features", "a,w", "-o", tmp_path / "n.h5")  # (--weight-column refuses it listed)
    assert (code, err) == (0, "sgdcli: warning: --sample-weight t/w: is column 'w' of --x t, so it is a feature as "
                              "well as the weights; --weight-column w reads it as the weights and leaves it out of "
                              "the features (with --features that does not list it)\n")
