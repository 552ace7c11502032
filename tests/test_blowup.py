"""What a run measures a blow-up against: the all-zero model's loss over every training row, and how a divergence
names the rate it trained at."""

import re

import h5py
import numpy as np
import pytest

from sgdcli import train
from sgdcli.data.selection import select_rows
from sgdcli.data.table import Table
from sgdcli.options import TrainOptions
from sgdcli.training import sampling

from conftest import cli, make_problem, short_fits, write_table


def outlier_file(tmp_path):
    """20,000 rows of a linear signal of scale 0.3, and 4 rows (0.02%) outside --lr auto's sample with the label
    400: the all-zero model's loss is 16.08 on the rows, 0.084 on the sample."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20000, 10)).astype(np.float32)
    y = 0.1 * (X @ rng.standard_normal(10)) + 0.05 * rng.standard_normal(20000)
    path = write_table(tmp_path / "outl.h5", X, y)
    with Table(path) as table:
        sampled = np.zeros(len(y), bool)
        for a, b in sampling.sample_spans(table, 256 << 20):
            sampled[a:b] = True
    y[rng.choice(np.flatnonzero(~sampled), 4, replace=False)] = 400.0
    write_table(path, X, y)
    return path, y, sampled


def test_a_few_outlying_labels_outside_the_sample_are_no_blow_up(tmp_path):
    """The epoch's loss (16.0) was compared with the all-zero model's on --lr auto's sample (0.084), which none
    of the 4 outlying rows is in: a healthy run "diverged", exit 1 and no model (--lr auto: after halving its
    rate 10 times).  Measured over every training row, the all-zero model's loss is 16.08 and the run trains;
    a rate that does blow up is still caught."""
    path, y, sampled = outlier_file(tmp_path)
    zero = 0.5 * np.mean(y**2)
    assert 0.5 * np.mean(y[sampled] ** 2) < zero / 100  # the sample sees none of the outliers
    for rate in (["--lr", "0.01"], []):
        code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "linear", "--epochs", "3", "-q",
                             *rate)
        assert code == 0 and "diverged" not in err, err
    m = train(path, TrainOptions(model="linear", epochs=3))
    assert m.training["lr_auto"]["halvings"] == 0
    assert m.training["zero_loss"] == pytest.approx(zero, rel=1e-12)
    assert m.history[-1]["train_loss"] < 1.01 * zero
    code, out, err = cli("train", path, "-o", tmp_path / "big.h5", "--model", "linear", "--lr", "1e3",
                         "--optimizer", "sgd", "--schedule", "constant", "-q")
    assert code == 1 and out == "" and err.startswith("sgdcli: error: training diverged in epoch 1")
    assert not (tmp_path / "big.h5").exists()


@short_fits
@pytest.mark.parametrize("model,param", [("linear", None), ("huber", 0.5), ("quantile", 0.8), ("poisson", None)])
def test_the_all_zero_loss_is_the_weighted_mean_over_the_training_rows(tmp_path, model, param):
    """Each training row (neither held out by --val-fraction nor skipped by --bad-rows skip) counts with its
    sample weight, as in the objective; threads that average read shares of the blocks and add up to the same."""
    rng = np.random.default_rng(5)
    n = 3000
    X = rng.standard_normal((n, 4)).astype(np.float32)
    y = rng.poisson(np.exp(0.5 * X[:, 0])).astype(float) * 3.0 - (0.0 if model == "poisson" else 2.0)
    X[7, 1] = np.nan  # a bad row
    w = rng.uniform(0, 3, n)
    path = write_table(tmp_path / "w.h5", X, y)
    with h5py.File(path, "a") as f:
        f["w"] = w
    rows, _ = select_rows(0, n, 0.2, 3, finite=np.isfinite(X).all(axis=1))
    assert 7 not in rows and len(rows) < 0.9 * n
    r = y[rows]
    per_row = {"linear": 0.5 * r**2, "poisson": np.ones(len(r)),
               "huber": np.where(np.abs(r) <= 0.5, 0.5 * r**2, 0.5 * np.abs(r) - 0.125),
               "quantile": np.where(r > 0, 0.8 * r, -0.2 * r)}[model]
    expected = np.average(per_row, weights=w[rows])
    kw = {"epsilon": param} if model == "huber" else {"quantile": param} if model == "quantile" else {}
    opts = dict(model=model, epochs=1, val_fraction=0.2, seed=3, bad_rows="skip", sample_weight="w", **kw)
    assert train(path, TrainOptions(**opts)).training["zero_loss"] == pytest.approx(expected, rel=1e-12)
    shared = train(path, TrainOptions(**opts, threads=2, parallel="average", lr=0.001))
    assert shared.training["zero_loss"] == pytest.approx(expected, rel=1e-12)


@short_fits
def test_a_classifiers_all_zero_loss_is_its_loss_at_every_score_0(binary_file, tmp_path):
    X, y = make_problem("multiclass", n=500, d=3, k=5, seed=1)
    path = write_table(tmp_path / "k.h5", X, y)
    assert train(path, TrainOptions(model="softmax", epochs=1)).training["zero_loss"] == pytest.approx(np.log(5))
    assert train(binary_file, TrainOptions(epochs=1)).training["zero_loss"] == pytest.approx(np.log(2))
    assert train(binary_file, TrainOptions(model="hinge", epochs=1)).training["zero_loss"] == 1.0


def test_a_resumed_run_keeps_the_all_zero_loss_in_its_checkpoint(tmp_path):
    """A resume reads no labels where the rows are not weighted: the checkpoint holds the all-zero loss."""
    path, y, _ = outlier_file(tmp_path)
    model = tmp_path / "m.h5"
    args = ["train", path, "-o", model, "--model", "linear", "--epochs", "3", "-q"]
    assert cli(*args, "--keep-checkpoint")[0] == 0
    with h5py.File(f"{model}.ckpt", "r+") as f:
        assert f.attrs["zero_loss"] == pytest.approx(0.5 * np.mean(y**2), rel=1e-12)
        f.attrs["zero_loss"] = 1e-6  # what the resumed run measures its epochs against: it then blows up
    code, out, err = cli(*args, "--resume")
    assert code == 1 and "is over 100 times the all-zero model's 1e-06" in err, err


def test_a_blow_up_under_a_scaled_rate_names_the_rate_used_and_the_lr_it_came_from(binary_file, tmp_path):
    """--lr 1e6 scaled linearly from a base batch of 16 to batch 32 trains at 2e6: the epoch's check named 1e6 as
    "the learning rate"; it names 2e6 and the --lr it came from, as the kernels' non-finite check does
    (tests/test_averaging.py).  (--lr-scaling replicas would hold this rate at the stable one: replicas.py.)"""
    code, out, err = cli("train", binary_file, "-o", tmp_path / "dv.h5", "--lr", "1e6", "--lr-scaling", "linear",
                         "--base-batch-size", "16", "--batch-size", "32", "-q")
    assert code == 1 and out == ""
    assert err.startswith("sgdcli: error: training diverged in epoch 1: its mean loss ")
    assert re.search(r" is over 100 times the all-zero model's 0\.6931 at learning rate 2e\+06 \(--lr 1e\+06 scaled "
                     r"by --lr-scaling\); try a smaller --lr \(e\.g\. 1e\+05\), or --lr auto \([0-9.e+-]+ here\)\n$", err), err
