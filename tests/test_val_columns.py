"""``train --val FILE`` reads the validation file's columns as evaluate reads a model's: by name, wherever they are,
where both files name their columns; by position where the validation file is a matrix."""

import h5py
import numpy as np
import pytest

from sgdcli import evaluate, train
from sgdcli.options import TrainOptions

from conftest import cli

N = 1500
# a few epochs of few updates: the fit is good enough to tell the columns apart, which is all these tests need
pytestmark = pytest.mark.filterwarnings("ignore::sgdcli.training.runlog.FitWarning")


def _columns(seed: int):
    rng = np.random.default_rng(seed)
    c, b, a = rng.normal(size=(3, N))
    return {"c": c, "b": b, "a": a}, (3 * c - a > 0).astype(np.float64)


def write_group(path, columns: dict, y, order: list[str], tracked: bool):
    """A group X of 1-D columns written in ``order``; listed in that order where ``tracked`` (h5py's
    ``track_order``), else by name (HDF5's default)."""
    with h5py.File(path, "w", track_order=tracked) as f:
        g = f.create_group("X", track_order=tracked)
        for name in order:
            g[name] = columns[name]
        f["y"] = y
    return path


@pytest.fixture
def files(tmp_path):
    """The training file lists its columns c, b, a; the validation file holds other rows of the same columns,
    listed a, b, c."""
    cols, y = _columns(1)
    train_path = write_group(tmp_path / "train.h5", cols, y, ["c", "b", "a"], tracked=True)
    cols, y = _columns(2)
    val_path = write_group(tmp_path / "val.h5", cols, y, ["c", "b", "a"], tracked=False)
    with h5py.File(train_path) as f, h5py.File(val_path) as g:  # what makes the case: the orders differ
        assert list(f["X"]) == ["c", "b", "a"] and list(g["X"]) == ["a", "b", "c"]
    return train_path, val_path, cols, y


def _last(model) -> dict:
    return model.history[-1]


def test_val_columns_are_read_by_name_and_agree_with_evaluate(tmp_path, files):
    train_path, val_path, _, _ = files
    model = train(train_path, TrainOptions(epochs=2, threads=1, seed=3, val=str(val_path)))
    want = evaluate(model, val_path)
    assert want["accuracy"] > 0.9  # (by position, the model's weight of c meets a's values: near chance)
    last = _last(model)
    for key in ("accuracy", "log_loss", "auc"):
        assert last[f"val_{key}"] == pytest.approx(want[key], rel=1e-9), key
    code, _, err = cli("train", train_path, "-o", tmp_path / "m.h5", "--val", val_path, "--epochs", "2",
                       "--fail-under", "accuracy=0.9")
    assert code == 0, err


def test_val_features_listed_by_index_are_the_training_columns_by_name(files):
    """--features 0,1 takes c and b of the training file; of the validation file, c and b too, not a and b."""
    train_path, val_path, cols, y = files
    model = train(train_path, TrainOptions(epochs=2, threads=1, seed=3, val=str(val_path), features="0,1"))
    assert model.training["features"] == ["c", "b"]
    want = evaluate(model, val_path)
    assert _last(model)["val_accuracy"] == pytest.approx(want["accuracy"], rel=1e-12)


def test_a_val_file_without_a_training_column_is_refused_naming_it(tmp_path, files):
    train_path, _, cols, y = files
    renamed = {"a": cols["a"], "b": cols["b"], "d": cols["c"]}
    other = write_group(tmp_path / "renamed.h5", renamed, y, ["a", "b", "d"], tracked=False)
    code, out, err = cli("train", train_path, "-o", tmp_path / "m.h5", "--val", other, "--epochs", "1")
    assert code == 2 and out == "", err
    assert err.strip().splitlines()[-1] == (
        f"sgdcli: error: --val {other}:X: has no column 'c', which the model was trained on (1 of its 3 features "
        "missing)")
    assert not (tmp_path / "m.h5").exists()
    code, _, err = cli("sweep", train_path, "--batch-sizes", "32,64", "--val", other, "--epochs", "1")
    assert code == 2 and "has no column 'c'" in err, err


def test_a_sweep_validates_on_the_columns_by_name(files):
    train_path, val_path, _, _ = files
    code, out, err = cli("sweep", train_path, "--batch-sizes", "32", "--val", val_path, "--epochs", "2",
                         "--seed", "3", "--threads", "1")
    assert code == 0, err
    model = train(train_path, TrainOptions(epochs=2, threads=1, seed=3, batch_size=32))
    row = out.splitlines()[1].split()
    assert float(row[6]) == pytest.approx(evaluate(model, val_path)["log_loss"], rel=1e-5)


def test_an_unnamed_val_matrix_is_read_by_position_as_evaluate_reads_it(tmp_path, files):
    train_path, _, cols, y = files
    with h5py.File(tmp_path / "matrix.h5", "w") as f:
        f["X"] = np.column_stack([cols["c"], cols["b"], cols["a"]])
        f["y"] = y
    model = train(train_path, TrainOptions(epochs=2, threads=1, seed=3, val=str(tmp_path / "matrix.h5")))
    want = evaluate(model, tmp_path / "matrix.h5")
    assert want["accuracy"] > 0.9
    assert _last(model)["val_accuracy"] == pytest.approx(want["accuracy"], rel=1e-12)
