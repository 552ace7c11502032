"""Early stopping's choice by the loss itself, judged against the fit of the run's sample (training/stopchoice.py
``loss_chose``): where no later epoch's validation (or training) loss was lower, but the model kept is far above the
optimum, and the fit scores the validation rows better, the steps' noise chose the epoch, not overfitting.  Such
runs (adam at a constant rate) kept models 50% above the optimum, unwarned."""

import os
import re
import signal
import warnings

import numpy as np
import pytest

from sgdcli import Reporter, RunControl, load_model, train
from sgdcli.data.shuffle import held_out
from sgdcli.options import TrainOptions
from sgdcli.training import fitgap
from sgdcli.training.fullbatch import NEAR
from sgdcli.training.runlog import FitWarning

from conftest import make_problem, robust_loss, robust_optimum, write_table

TOLD = re.compile(r"the model's \(epoch (\d+)'s, which early stopping kept\) mean loss on the run's sample of "
                  r"([\d,]+) rows, ([\d.e+-]+), is ([\d.]+)% above the optimum's, estimated by a fit of them "
                  r"\(iteratively reweighted least squares\), ([\d.e+-]+): the model may be far from the optimum, "
                  r"though no later epoch's (validation|training) loss (?:was lower \(([\d.e+-]+) at epoch (\d+); "
                  r"(.*) after\), and the fit's is lower \(([\d.e+-]+)\)|was lower); "
                  r"(.*)$")
# adam at a constant rate, whose epochs' losses rise and fall far above the optimum
NOISY = dict(model="huber", batch_size=32, threads=1, early_stopping=True, schedule="constant", optimizer="adam")


@pytest.fixture
def huber_rows(tmp_path):
    """5,000 rows of a linear signal and a little noise; the file, the features and the labels (float64)."""
    X, y = make_problem("regression", n=5000, d=5, seed=8)
    return write_table(tmp_path / "reg.h5", X, y), X.astype(np.float64), y.astype(np.float64)


def _excess(m, X, y, rows):
    """How far above the optimum of huber's mean loss on ``rows`` (computed here) the model ``m``'s is."""
    Z = np.hstack([(X[rows] - X[rows].mean(axis=0)) / X[rows].std(axis=0), np.ones((int(rows.sum()), 1))])
    W = m.raw_weights()[0]  # in the rows' own units: the same scores on Z's standardized ones
    theta = np.append(W[:-1] * X[rows].std(axis=0), W[-1] + W[:-1] @ X[rows].mean(axis=0))
    return robust_loss("huber", theta, Z, y[rows]) / robust_loss("huber", robust_optimum("huber", Z, y[rows]), Z,
                                                                    y[rows]) - 1


def test_a_stop_that_the_steps_noise_chose_far_from_the_optimum_is_told_to_use_the_defaults(huber_rows):
    """Adam at a constant rate, validation rows (a fifth): the validation loss rises after epoch 2 and early
    stopping keeps it, over 50% above the optimum, though the fit of the sample scores the validation rows better
    than it.  It stopped the run, so more epochs would not help: the defaults would, and do."""
    path, X, y = huber_rows
    with pytest.warns(FitWarning) as caught:
        m = train(path, TrainOptions(**NOISY, epochs=10, val_fraction=0.2, patience=3))
    (text,) = [str(w.message) for w in caught]
    found = TOLD.fullmatch(text)
    assert found is not None, text
    kept, losses = m.training["best_epoch"], [r["val_loss"] for r in m.history]
    assert m.training["stopped_early"] and int(found[1]) == int(found[8]) == kept < len(losses)
    assert found[6] == "validation" and found[7] == f"{losses[kept - 1]:.4g}"
    after = losses[kept:]
    assert min(after) >= losses[kept - 1] and found[9] == f"{min(after):.4g} to {max(after):.4g}"
    assert float(found[10]) < losses[kept - 1]  # the fit beats it on the rows that judged it
    training = ~held_out(np.arange(len(y), dtype=np.int64), 0.2, 0)
    assert _excess(m, X, y, training) > 10 * NEAR
    assert found[11] == "use the defaults --optimizer auto and --schedule cosine"
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitWarning)
        cured = train(path, TrainOptions(**{**NOISY, "schedule": "cosine", "optimizer": "auto"}, epochs=10,
                                         val_fraction=0.2, patience=3))
    assert _excess(cured, X, y, training) < NEAR


def test_without_validation_rows_the_training_loss_that_chose_is_named(huber_rows):
    """No validation rows: early stopping judges the training loss, whose rise is never overfitting, and which is
    the mean over each epoch's batches, not the kept model's loss: no figures of it are given."""
    path, X, y = huber_rows
    with pytest.warns(FitWarning) as caught:
        m = train(path, TrainOptions(**NOISY, epochs=10, patience=1))
    (text,) = [str(w.message) for w in caught]
    found = TOLD.fullmatch(text)
    assert found is not None and found[6] == "training" and found[10] is None, text
    kept = m.training["best_epoch"]
    assert m.training["stopped_early"] and kept < len(m.history) < 10
    assert _excess(m, X, y, np.ones(len(y), dtype=bool)) > 10 * NEAR
    assert found[11] == "use the defaults --optimizer auto and --schedule cosine"


def test_a_rate_given_is_told_the_defaults_with_the_automatic_rate(huber_rows):
    """At --lr auto's own rate, given, the run is --lr auto's again, and is told what that one is, but that the
    defaults come with --lr auto: adam's rate is not nesterov's (at the rate given, the defaults threw 8 of 85 runs
    into blow-ups).  At three times that rate the model ended above the least-squares fit it started from, and is
    told that, once: not again that it is far."""
    path, X, y = huber_rows
    options = dict(**NOISY, epochs=10, val_fraction=0.2, patience=3)
    with pytest.warns(FitWarning) as caught:
        auto = train(path, TrainOptions(**options))
    with pytest.warns(FitWarning) as given:
        m = train(path, TrainOptions(**options, lr=auto.training["lr"]))
    np.testing.assert_array_equal(m.raw_weights(), auto.raw_weights())
    (told,), (text,) = [str(w.message) for w in caught], [str(w.message) for w in given]
    assert told.endswith("; use the defaults --optimizer auto and --schedule cosine"), told
    assert text == told.replace("--optimizer auto and --schedule cosine", "--optimizer auto, --schedule cosine and "
                                "--lr auto")
    with pytest.warns(FitWarning) as caught:
        train(path, TrainOptions(**options, lr=3 * auto.training["lr"]))
    (text,) = [str(w.message) for w in caught]
    assert "training ended worse than it started. The rate may be too large" in text, text


def test_on_a_small_file_the_validation_rows_decide(tmp_path, monkeypatch):
    """163 training rows of 10 features and heavy-tailed noise: fits of half of them score the other half worse
    than the model early stopping kept, 15% above the optimum (computed here), so the sample alone cannot tell that
    the model is far; the fit of all of them scores the validation rows better than it did, and the run is told."""
    X, y = make_problem("regression", n=5000, d=10, seed=10)
    y = y + np.random.default_rng(11).standard_t(2, len(y))
    rows = np.sort(np.random.default_rng(0).choice(len(y), 200, replace=False))
    X, y = X[rows], y[rows]
    path = write_table(tmp_path / "small.h5", X, y)
    gaps, measure = [], fitgap.measure
    monkeypatch.setattr(fitgap, "measure", lambda *args, **kw: gaps.append(measure(*args, **kw)) or gaps[-1])
    with pytest.warns(FitWarning) as caught:
        m = train(path, TrainOptions(**{**NOISY, "model": "linear"}, epochs=30, val_fraction=0.2, patience=1))
    (text,) = [str(w.message) for w in caught]
    found = re.search(r"though no later epoch's validation loss was lower \(([\d.]+) at epoch 1; .* after\), and the "
                      r"fit's is lower \(([\d.]+)\); use --batch-size full with the default --optimizer \(it starts "
                      r"at a fit of its sample\), or use the defaults --optimizer auto and --schedule cosine$", text)
    assert found is not None and float(found[2]) < float(found[1]), text
    (gap,) = gaps
    assert gap.far and not gap.confirmed  # the halves' fits, on 82 rows each, score the other half worse than it
    training = ~held_out(np.arange(len(y), dtype=np.int64), 0.2, 0)
    Z = np.hstack([X[training].astype(np.float64), np.ones((int(training.sum()), 1))])
    W = m.raw_weights()[0]
    least = np.linalg.lstsq(Z, y[training], rcond=None)[0]
    assert np.mean((Z @ W - y[training]) ** 2) > (1 + 2 * NEAR) * np.mean((Z @ least - y[training]) ** 2)


class Messages(Reporter):
    def __init__(self):
        self.lines = []

    def message(self, text):
        self.lines.append(text)


def test_a_signal_during_the_fits_validation_pass_leaves_the_check_undone_and_keeps_the_finished_model(
        huber_rows, tmp_path, monkeypatch):
    """The pass that scores the fit's weights on the validation rows comes after the last epoch, over the whole
    validation set.  A SIGTERM there stopped the run as a signal in an epoch does: no model written, a checkpoint
    of a run with nothing left to train, and a line naming a position never reached ("epoch 6, iteration
    0/125", where early stopping ended the run after epoch 5).  Now it stops the check, not the run: the model is
    the one the run trained, and is written."""
    path = huber_rows[0]
    options = TrainOptions(**NOISY, epochs=10, val_fraction=0.2, patience=3)
    with pytest.warns(FitWarning):
        told = train(path, options)
    fitting, fit_params = [], fitgap.fit_params
    monkeypatch.setattr(fitgap, "fit_params", lambda run: fitting.append(1) or fit_params(run))
    heard, out, checkpoint = Messages(), tmp_path / "m.h5", tmp_path / "m.h5.ckpt"
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitWarning)  # the check is left undone: it tells nothing
        m = train(path, options, output=str(out), reporter=heard,
                  control=RunControl(checkpoint=str(checkpoint), stop=lambda: signal.SIGTERM if fitting else None))
    assert fitting == [1]
    assert heard.lines[-1] == (f"SIGTERM after training ended, while validating the fit of the sample: the check of "
                               f"early stopping's choice of epoch {m.training['best_epoch']} is left undone; the "
                               f"finished model is kept")
    np.testing.assert_array_equal(m.raw_weights(), told.raw_weights())
    np.testing.assert_array_equal(load_model(str(out)).raw_weights(), told.raw_weights())
    assert not os.path.exists(checkpoint)
