"""Out of core, every row keeps its own values: a prediction goes to its row whatever block it is read in, a
row's weight stays with it where rows around it are left out, and the validation loss of an averaged model is
that of the model written."""

import h5py
import numpy as np
import pytest

from sgdcli import load_model

from conftest import cli, write_table


@pytest.mark.parametrize("chunks", [None, 1000])
def test_predictions_of_a_file_read_in_many_blocks_are_its_rows_scores(tmp_path, chunks):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60_000, 8)).astype(np.float32)
    y = X @ rng.normal(size=8) + rng.normal(0.0, 0.1, 60_000)
    write_table(tmp_path / "d.h5", X, y, chunks=chunks)
    assert cli("train", tmp_path / "d.h5", "-o", tmp_path / "m.h5", "--model", "linear", "--epochs", "1",
               "--no-standardize", "-q")[0] == 0
    # 1M holds about half the file's 1.9 MB of features: several blocks, each written where its rows go
    assert cli("predict", tmp_path / "m.h5", tmp_path / "d.h5", "-o", tmp_path / "p.h5", "--memory", "1M")[0] == 0
    model = load_model(tmp_path / "m.h5")
    with h5py.File(tmp_path / "p.h5") as f:
        got = f["prediction"][()]
    want = X.astype(np.float64) @ model.weights[0].astype(np.float64) + model.bias[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_a_rows_weight_stays_with_it_where_rows_before_it_are_skipped(tmp_path):
    """--bad-rows skip leaves rows of a window out: the rows left are those of the file without them, each with
    its own weight, so both train the same model (full batch, file order, one thread: the same sums; linear, whose
    start is all zeros, where a full-batch logistic model starts at the fit of each file's own sample)."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3000, 4))
    y = (X @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.normal(0.0, 1.0, 3000) > 0).astype(float)
    w = rng.uniform(0.2, 3.0, 3000)
    bad = rng.random(3000) < 0.1
    X_bad = X.copy()
    X_bad[bad, rng.integers(0, 4, bad.sum())] = np.nan
    for name, rows in (("with_bad.h5", slice(None)), ("without.h5", ~bad)):
        write_table(tmp_path / name, (X_bad if name == "with_bad.h5" else X)[rows].astype(np.float32), y[rows])
        with h5py.File(tmp_path / name, "a") as f:
            f["w"] = w[rows]
    options = ["--model", "linear", "--batch-size", "full", "--epochs", "30", "--lr", "0.5", "--optimizer", "sgd", "--schedule",
               "constant", "--sample-weight", "w", "--no-standardize", "--threads", "1", "-q"]
    for name in ("with_bad.h5", "without.h5"):
        code, _, err = cli("train", tmp_path / name, "-o", tmp_path / f"m_{name}", *options, "--bad-rows", "skip")
        assert code == 0, err
    skipped, kept = load_model(tmp_path / "m_with_bad.h5"), load_model(tmp_path / "m_without.h5")
    assert skipped.training["bad_rows"] == bad.sum()
    np.testing.assert_allclose(skipped.weights, kept.weights, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(skipped.bias, kept.bias, rtol=1e-9, atol=1e-12)


def test_an_averaged_models_validation_loss_is_that_of_the_model_written(tmp_path):
    """With --average the model written is the running mean of the iterates; validation, and early stopping's
    choice of the epoch kept, score that mean, not the last iterate."""
    rng = np.random.default_rng(9)
    X = rng.normal(size=(6000, 5)).astype(np.float32)
    y = (X @ rng.normal(size=5) + rng.normal(0.0, 1.5, 6000) > 0).astype(float)
    write_table(tmp_path / "train.h5", X[:4000], y[:4000])
    write_table(tmp_path / "val.h5", X[4000:], y[4000:])
    code, _, err = cli("train", tmp_path / "train.h5", "-o", tmp_path / "m.h5", "--val", tmp_path / "val.h5",
                       "--average", "--early-stopping", "--patience", "2", "--epochs", "12", "--lr", "2",
                       "--optimizer", "sgd", "--schedule", "constant", "--batch-size", "8", "-q")
    assert code == 0, err
    model = load_model(tmp_path / "m.h5")
    best = model.training["best_epoch"]
    code, out, _ = cli("evaluate", tmp_path / "m.h5", tmp_path / "val.h5")
    assert code == 0
    scores = dict(line.split() for line in out.splitlines())
    assert float(scores["log_loss"]) == pytest.approx(model.history[best - 1]["val_loss"], rel=1e-5)


def test_evaluate_pairs_each_rows_label_with_its_score_in_every_block(tmp_path):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(60_000, 8)).astype(np.float32)
    y = (X @ rng.normal(size=8) + rng.normal(0.0, 1.0, 60_000) > 0).astype(float)
    write_table(tmp_path / "d.h5", X, y)
    assert cli("train", tmp_path / "d.h5", "-o", tmp_path / "m.h5", "--epochs", "1", "--no-standardize",
               "-q")[0] == 0
    code, out, _ = cli("evaluate", tmp_path / "m.h5", tmp_path / "d.h5", "--memory", "1M")  # several blocks
    assert code == 0
    scores = dict(line.split() for line in out.splitlines())
    model = load_model(tmp_path / "m.h5")
    z = X.astype(np.float64) @ model.weights[0].astype(np.float64) + model.bias[0]
    want = np.mean((z > 0) == (y == 1))
    assert float(scores["accuracy"]) == pytest.approx(want, abs=1e-6)
    p = 1 / (1 + np.exp(-z))
    assert float(scores["log_loss"]) == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)), rel=1e-4)


def test_predictions_of_csv_text_read_in_many_blocks_are_its_rows_scores(tmp_path):
    rng = np.random.default_rng(6)
    X = np.round(rng.normal(size=(40_000, 4)), 3)
    y = X @ np.array([1.0, -1.0, 0.5, 2.0]) + rng.normal(0.0, 0.1, 40_000)
    header = "a,b,c,d,y\n"
    (tmp_path / "d.csv").write_text(header + "".join(f"{r[0]},{r[1]},{r[2]},{r[3]},{t:.3f}\n"
                                                     for r, t in zip(X, y)))
    assert cli("convert", tmp_path / "d.csv", "-o", tmp_path / "d.h5")[0] == 0
    assert cli("train", tmp_path / "d.h5", "-o", tmp_path / "m.h5", "--model", "linear", "--epochs", "1",
               "--no-standardize", "-q")[0] == 0
    code, out, _ = cli("predict", tmp_path / "m.h5", tmp_path / "d.csv", "-o", "-", "--memory", "1M")
    assert code == 0
    got = np.array([float(v) for v in out.splitlines()[1:]])
    model = load_model(tmp_path / "m.h5")
    want = X.astype(np.float32).astype(np.float64) @ model.weights[0].astype(np.float64) + model.bias[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
