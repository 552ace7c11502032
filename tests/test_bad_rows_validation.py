"""--bad-rows skip on the validation rows (a --val file, or those --val-fraction holds out): the rows left out
are counted in the model card, the result line and the log, and ``val_rows`` is the rows validation scored."""

import numpy as np
import pytest

from sgdcli import evaluate, load_model, train
from sgdcli.data.shuffle import validation_mask
from sgdcli.options import TrainOptions

from conftest import cli, make_problem, short_fits, write_table


def test_bad_rows_of_the_val_file_are_counted_and_the_metrics_are_those_of_the_other_rows(tmp_path):
    X, y = make_problem("binary", n=6000, d=4, seed=3)
    train_path = write_table(tmp_path / "t.h5", X, y)
    Xv, yv = X.copy(), y.astype(np.float64)
    Xv[[5, 100], [3, 0]] = [np.nan, np.inf]
    yv[250] = np.nan
    val = write_table(tmp_path / "v.h5", Xv, yv)
    keep = np.setdiff1d(np.arange(6000), [5, 100, 250])
    clean = write_table(tmp_path / "clean.h5", X[keep], y[keep])
    code, out, err = cli("train", train_path, "--val", val, "--bad-rows", "skip", "-o", tmp_path / "m.h5",
                         "--epochs", "2", "-q")
    assert code == 0 and "--bad-rows" not in err and out.splitlines()[0].endswith("; left out 3 validation rows with NaN or inf (--bad-rows skip)"), out
    m = load_model(tmp_path / "m.h5")
    assert (m.training["val_rows"], m.training["val_bad_rows"], m.training["bad_rows"]) == (5997, 3, 0)
    assert m.history[-1]["val_loss"] == pytest.approx(evaluate(m, clean)["log_loss"], rel=1e-12)
    code, out, err = cli("train", train_path, "--val", val, "--bad-rows", "skip", "-o", tmp_path / "m.h5",
                         "--epochs", "2")
    assert code == 0 and f"--bad-rows skip: left out 3 validation rows of {val} (--val) from every validation " \
                         "pass\n" in err, err


def test_bad_rows_held_out_by_a_validation_fraction_are_counted_apart_from_the_training_ones(tmp_path):
    X, y = make_problem("binary", n=4000, d=4, seed=13)
    X[::97, 1] = np.nan
    path = write_table(tmp_path / "d.h5", X, y)
    held = validation_mask(0, 4000, 0.2, 0)
    bad = np.zeros(4000, bool)
    bad[::97] = True
    in_training, in_validation = int((bad & ~held).sum()), int((bad & held).sum())
    assert in_training > 0 and in_validation > 0
    code, out, err = cli("train", path, "--val-fraction", "0.2", "--bad-rows", "skip", "-o", tmp_path / "m.h5",
                         "--epochs", "2", "-q")
    assert code == 0 and out.splitlines()[0].endswith(
        f"; left out {in_training} training rows and {in_validation} validation rows with NaN or inf "
        "(--bad-rows skip)"), out
    m = load_model(tmp_path / "m.h5")
    assert m.training["bad_rows"] == in_training and m.training["rows"] == int((~held & ~bad).sum())
    assert (m.training["val_rows"], m.training["val_bad_rows"]) == (int((held & ~bad).sum()), in_validation)
    scored = write_table(tmp_path / "held.h5", X[held & ~bad], y[held & ~bad])
    assert m.history[-1]["val_loss"] == pytest.approx(evaluate(m, scored)["log_loss"], rel=1e-12)


@short_fits
def test_without_validation_no_row_is_a_validation_row(tmp_path):
    """The training rows left out are not counted as validation rows (val_rows was the file's rows less the
    trained ones)."""
    X, y = make_problem("binary", n=500, d=3, seed=1)
    X[[3, 30], 0] = np.nan
    m = train(write_table(tmp_path / "d.h5", X, y), TrainOptions(bad_rows="skip", epochs=1))
    assert (m.training["rows"], m.training["bad_rows"], m.training["val_rows"], m.training["val_bad_rows"]) == (
        498, 2, 0, 0)


def test_one_row_left_out_is_counted_in_the_singular(tmp_path):
    """The log, the result line, ``info`` and ``predict`` say "1 validation row", "1 feature", not "1 validation
    rows"."""
    X, y = make_problem("binary", n=600, d=1, seed=3)
    train_path = write_table(tmp_path / "t.h5", X, y)
    Xv = X.copy()
    Xv[5, 0] = np.nan
    val = write_table(tmp_path / "v.h5", Xv, y)
    code, out, err = cli("train", train_path, "--val", val, "--bad-rows", "skip", "-o", tmp_path / "m.h5",
                         "--epochs", "1", "--progress", "plain")
    assert code == 0, err
    assert out.splitlines()[0].endswith("; left out 1 validation row with NaN or inf (--bad-rows skip)"), out
    assert f"--bad-rows skip: left out 1 validation row of {val} (--val) from every validation pass\n" in err, err
    assert f"{train_path}: 600 rows × 1 feature, read " in err, err
    assert cli("info", val)[1].splitlines()[-1].startswith("X, y: 600 rows × 1 feature ("), out
    code, out, err = cli("predict", tmp_path / "m.h5", write_table(tmp_path / "one.h5", X[:1], y[:1]), "-o",
                         tmp_path / "p.csv")
    assert (code, out) == (0, f"wrote {tmp_path / 'p.csv'}: 1 prediction\n"), err
