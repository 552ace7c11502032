"""A fresh full batch of squared_hinge or modified_huber starts at the fit of its sample (training/start.py, the fit
of training/marginfit.py), as logistic does: from 0, twenty full batches on nearly collinear features ended 34% above
the optimum, and rare positives 26% to 36% after five.  Hinge's subgradient steps at the rate that suits the start
throw a model at its optimum off it, so hinge starts at 0.  Each result is held to the optimum computed here, over
every training row (L-BFGS)."""

import warnings

import numpy as np
import pytest

from sgdcli import train
from sgdcli.options import TrainOptions
from sgdcli.training import start
from sgdcli.training.fitwarnings import FitWarning
from sgdcli.training.fullbatch import NEAR

from conftest import cli, collinear_classes, run, short_fits, traced_fits, write_table
from test_hinge_end_check import _excess


def _rare(n=20_000, seed=5):
    """Twenty features, about 1% positives."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 20)).astype(np.float32)
    s = X @ rng.standard_normal(20)
    return X, (s + 2 * rng.logistic(size=n) > 3 * s.std()).astype(np.int64)


@pytest.mark.parametrize("model", ["squared_hinge", "modified_huber"])
@pytest.mark.parametrize("data, epochs", [(collinear_classes, 20), (_rare, 5)])
def test_a_full_batch_of_the_smooth_two_starts_at_the_fit_and_ends_at_the_optimum(tmp_path, model, data, epochs):
    X, y = data()
    path = write_table(tmp_path / "data.h5", X, y)
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", model, "--batch-size", "full",
                         "--epochs", str(epochs), "--threads", "1")
    assert code == 0, err
    assert f"starting at the fit of the run's sample of {len(y):,} rows (Newton's method): a full batch keeps where " \
           "it starts" in err
    assert "warning" not in err
    m = train(path, TrainOptions(model=model, batch_size=None, epochs=epochs, threads=1))
    assert _excess(model, X, y, m.raw_weights()[0]) < 1e-3


def test_hinge_and_mini_batches_do_not_start_at_a_fit(tmp_path):
    X, y = collinear_classes()
    path = write_table(tmp_path / "data.h5", X, y)
    for model, batch in (("hinge", "full"), ("squared_hinge", "256")):
        code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", model, "--batch-size", batch,
                             "--epochs", "1", "--threads", "1")
        assert code == 0 and "starting at the fit" not in err, err


def test_an_adaptive_optimizer_that_steps_off_the_fit_is_told_to_use_the_default(tmp_path):
    """rmsprop scales each weight's step by its own gradients' size: from the fit, its steps along the flat
    directions of nearly collinear features took a full batch 34% above the optimum, unwarned (the loss rose, so
    it did not read as still falling); the fit of the sample measures it, and the default optimizer keeps near."""
    X, y = collinear_classes()
    path = write_table(tmp_path / "data.h5", X, y)
    with pytest.warns(FitWarning) as caught:
        m = train(path, TrainOptions(model="squared_hinge", batch_size=None, optimizer="rmsprop", threads=1))
    (text,) = [str(w.message) for w in caught]
    assert text.endswith("the model may be far from the optimum; it started at such a fit, and its steps took it "
                         "away: use the default --optimizer auto"), text
    assert _excess("squared_hinge", X, y, m.raw_weights()[0]) > NEAR
    kept = train(path, TrainOptions(model="squared_hinge", batch_size=None, threads=1))
    assert _excess("squared_hinge", X, y, kept.raw_weights()[0]) < 1e-3


def test_adam_back_at_the_fit_is_not_told_its_loss_still_fell(tmp_path):
    """adam's first steps from the fit leave it and its last come back: the loss fell over the last epochs, within
    1% of the optimum, and a run of few updates whose loss still fell was told it may be far from it.  The fit of
    the sample judges it instead."""
    X, y = collinear_classes()
    path = write_table(tmp_path / "data.h5", X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitWarning)
        m = train(path, TrainOptions(model="squared_hinge", batch_size=None, optimizer="adam", threads=1))
    losses = [record["train_loss"] for record in m.history]
    assert losses[-3] > losses[-1] * 1.05  # still falling, as the old check read it
    assert _excess("squared_hinge", X, y, m.raw_weights()[0]) < 0.01


def test_a_full_batch_from_the_fit_at_too_large_a_rate_is_told_to_lower_it(tmp_path, monkeypatch):
    """A sample smaller than the file (FIT_SAMPLE_ROWS lowered here, as a file larger than it would be): the fit's
    gradient on every row is not 0, and --lr 0.8 (ten times --lr auto's) steps far from it.  Beside the loss's rise
    above its start, the fit of the sample measures how far, and the warning says to lower --lr."""
    monkeypatch.setattr(start, "FIT_SAMPLE_ROWS", 8192)
    X, y = collinear_classes(n=40_000)
    path = write_table(tmp_path / "data.h5", X, y)
    with pytest.warns(FitWarning) as caught:
        m = train(path, TrainOptions(model="squared_hinge", batch_size=None, lr=0.8, threads=1))
    told = [str(w.message) for w in caught if "its steps took it away" in str(w.message)]
    assert told and told[0].endswith("it started at such a fit, and its steps took it away: lower --lr (try 0.08) or "
                                     "use --lr auto"), [str(w.message) for w in caught]
    assert _excess("squared_hinge", X, y, m.raw_weights()[0]) > NEAR


@short_fits
def test_the_fit_and_its_larger_sample_stay_within_memory(tmp_path):
    """One feature, where the fit's arrays of a row outweigh the row, at --memory 4M: the sample grows to as many
    rows as --memory holds beside the fit (start.MARGIN_ROW_BYTES a row), the run starts at that fit, and the fit
    peaks within --memory."""
    from sgdcli.data.table import Table
    from sgdcli.training import sampling

    memory = 4 << 20
    rng = np.random.default_rng(2)
    X = rng.standard_normal((100_000, 1)).astype(np.float32)
    path = write_table(tmp_path / "one.h5", X, (X[:, 0] + rng.logistic(size=100_000) > 0).astype(np.int64))
    with Table(path) as table:
        rows = sum(b - a for a, b in sampling.sample_spans(
            table, memory, start.fit_sample_rows("squared_hinge", table, 2, memory)))
    assert sampling.SAMPLE_ROWS < rows < start.FIT_SAMPLE_ROWS
    with traced_fits() as (fits, peaks):
        train(path, TrainOptions(model="squared_hinge", batch_size="full", epochs=1, threads=1, memory=memory))
    assert fits[0] is not None and peaks[0] <= memory, peaks
    ran = run("train", path, "-o", tmp_path / "m.h5", "--model", "squared_hinge", "--batch-size", "full", "--epochs",
              "1", "--memory", "4M", check=True)
    assert f"starting at the fit of the run's sample of {rows:,} rows (Newton's method)" in ran.stderr


@short_fits
@pytest.mark.parametrize("features, memory, weighted", [(1, 1 << 20, True), (30, 2 << 20, True), (63, 4 << 20, False),
                                                        (63, 14 << 20, True)])
def test_a_fit_that_would_not_fit_beside_the_sample_is_not_made(tmp_path, features, memory, weighted):
    """The sample holds at least SAMPLE_ROWS rows, whatever --memory: where the fit's arrays beside them would not
    fit in it (many features; weighted rows, whose weights the fit holds too), the run starts at 0, and a fit that
    is made peaks within --memory.  Fits of 30 features at --memory 2M under --class-weight balanced went past it."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20_000, features)).astype(np.float32)
    path = write_table(tmp_path / "rows.h5", X, (X[:, 0] + rng.logistic(size=20_000) > 1).astype(np.int64))
    with traced_fits() as (fits, peaks):
        train(path, TrainOptions(model="squared_hinge", batch_size="full", epochs=1, threads=1, memory=memory,
                                 class_weight="balanced" if weighted else None))
    assert fits[0] is None or peaks[0] <= memory, (fits[0] is None, peaks, memory)


def test_a_fit_wider_than_the_end_check_measures_is_not_made(tmp_path):
    """A run from the fit keeps no step to be judged by, so its end is judged by the fit of its sample (fitgap.py),
    up to classifierfit.FIT_UP_TO weights: wider, under adam on nearly collinear features, such runs ended 7% to 9%
    above the optimum, unwarned.  Wider runs start at 0, and the end's other checks judge them."""
    from sgdcli.training import classifierfit

    rng = np.random.default_rng(4)
    X = rng.standard_normal((3_000, classifierfit.FIT_UP_TO)).astype(np.float32)
    path = write_table(tmp_path / "wide.h5", X, (X[:, 0] + rng.logistic(size=3_000) > 0).astype(np.int64))
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "squared_hinge", "--batch-size", "full",
                         "--epochs", "1")
    assert code == 0 and "starting at the fit" not in err, err
    y = (X[:, 1] + rng.logistic(size=3_000) > 0).astype(np.int64)
    narrower = write_table(tmp_path / "narrower.h5", X[:, 1:], y)
    code, out, err = cli("train", narrower, "-o", tmp_path / "m.h5", "--model", "squared_hinge", "--batch-size",
                         "full", "--epochs", "1")
    assert code == 0 and "starting at the fit" in err, err


@short_fits
def test_a_poisson_fit_that_would_not_fit_beside_the_sample_is_not_made(tmp_path):
    """Poisson's fit start (training/poissonfit.py) has the same floor: 255 features at --memory 14M, where its
    d × d matrices fit but its arrays of a number a row over the SAMPLE_ROWS rows did not, peaked 347 KB over."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((5_000, 255)).astype(np.float32)
    path = write_table(tmp_path / "counts.h5", X, rng.poisson(np.exp(0.1 * X[:, 0])).astype(np.float64))
    with traced_fits() as (fits, peaks):
        train(path, TrainOptions(model="poisson", batch_size="full", epochs=1, threads=1, memory=14 << 20))
    assert fits[0] is None or peaks[0] <= 14 << 20, (fits[0] is None, peaks)


def test_a_run_from_the_fit_that_the_fit_cannot_measure_is_judged_by_its_loss(tmp_path, monkeypatch):
    """Where the fit of the sample measures nothing at the end (too few rows a weight, rows it separates, no room),
    a run from the fit, which keeps no step, was judged by nothing at all: the checks of few updates were switched
    off as though it had been measured.  Adam's steps from the fit (its loss rose, then fell by a sixth over the last
    epochs) are told that the loss still fell, as before the fit start."""
    from sgdcli.training import fitgap

    X, y = collinear_classes()
    path = write_table(tmp_path / "data.h5", X, y)
    monkeypatch.setattr(fitgap, "measure", lambda *args, **kwargs: None)
    with pytest.warns(FitWarning) as caught:
        train(path, TrainOptions(model="squared_hinge", batch_size=None, optimizer="adam", threads=1))
    (text,) = [str(w.message) for w in caught]
    assert text.startswith("only 5 updates in all (5 epochs × 1 iteration of batch 8000), and the loss was still "
                           "falling"), text
