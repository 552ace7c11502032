"""The end check of full-batch logistic runs (training/fullbatch.py): under row weights, after early stopping
kept an earlier epoch, and within --memory."""

import re

import h5py
import numpy as np
import pytest

from sgdcli import train
from sgdcli.options import TrainOptions
from sgdcli.training.runlog import FitWarning
from sgdcli.training.fullbatch import NEAR

from conftest import sample_rows, write_table
from test_full_batch import _optimum, _rare, _separable

ESTIMATE = re.compile(r"the model's (?:\(epoch (\d+)'s, which early stopping kept\) )?mean loss on the run's sample "
                      r"of ([\d,]+) rows, ([\d.]+), is ([\d.]+)% above the optimum's, estimated by a fit of them "
                      r"\(Newton's method\), ([\d.]+): the model may be far from the optimum; (.*)$")


def logistic_rows(path, n, d, norm, bias, seed=0):
    """``n`` rows of ``d`` standard normal features, logistic labels of random true weights of norm ``norm`` and
    ``bias``, written to ``path``; the file, the features and the labels (float64)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    w = rng.standard_normal(d)
    score = X.astype(np.float64) @ (norm * w / np.linalg.norm(w)) + bias
    y = (rng.random(n) < 1 / (1 + np.exp(-score))).astype(np.float32)
    return write_table(path, X, y), X.astype(np.float64), y.astype(np.float64)


def _tenth_positive(tmp_path):
    """About 10% positives of logistic labels whose true weights have norm 8: a loss near 0.1 under balanced
    class weights, and 61 weights, so that a fit of the 4,096 rows of the sample (small_full_batch_sample: a full
    batch's would be every row) gains on them beside NEAR."""
    return logistic_rows(tmp_path / "tenth.h5", 20_000, 60, 8.0, -10.7)


def _weighted_optimum(X, y, v):
    """The least Σ v·ℓ / Σ v of logistic weights on ``X`` with a bias, by Newton's method."""
    Z = np.column_stack([X, np.ones(len(X))])
    theta = np.zeros(Z.shape[1])
    for _ in range(60):
        p = 1 / (1 + np.exp(-(Z @ theta)))
        theta -= np.linalg.solve((Z * (v * p * (1 - p))[:, None]).T @ Z, Z.T @ (v * (p - y)))
    return _weighted_loss(X, y, v, theta)


def _weighted_loss(X, y, v, theta):
    s = X @ theta[:-1] + theta[-1]
    return float(np.sum(v * (np.logaddexp(0, s) - y * s)) / np.sum(v))


def test_a_settled_full_batch_under_balanced_class_weights_is_not_told_it_is_far(tmp_path, no_fit_start,
                                                                                small_full_batch_sample):
    """Balanced weights on 10% positives weigh each positive 5 and each negative 0.56: a fit of the sample gains
    Σv²/Σv (2.8 here) times what it gains unweighted, as its noise grows with the squares of the weights and its
    curvature with the weights.  Added back unweighted, the estimate was too low, and this run, settled at the
    optimum, was told it ended 7% above it."""
    path, X, y = _tenth_positive(tmp_path)
    assert 0.08 < y.mean() < 0.12
    m = train(path, TrainOptions(model="logistic", batch_size="full", epochs=300, threads=1,
                                 class_weight="balanced"))
    v = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    assert _weighted_loss(X, y, v, m.raw_weights()[0]) < 1.001 * _weighted_optimum(X, y, v)
    assert "warnings" not in m.training


def test_weights_all_equal_are_judged_as_no_weights(tmp_path, no_fit_start):
    """Weights are relative: sample weights all 2 weigh the rows as none do, and a run far from its optimum is
    told the same, the estimate's optimism that of unweighted rows."""
    path, X, y = _separable(tmp_path, 3000)
    with pytest.warns(FitWarning):
        plain = train(path, TrainOptions(model="logistic", batch_size="full", epochs=150, threads=1))
    with h5py.File(path, "a") as f:
        f["w"] = np.full(len(y), 2.0)
    with pytest.warns(FitWarning):
        weighted = train(path, TrainOptions(model="logistic", batch_size="full", epochs=150, threads=1,
                                            sample_weight="w"))
    (text,), (same,) = plain.training["warnings"], weighted.training["warnings"]
    assert ESTIMATE.match(text)[5] == ESTIMATE.match(same)[5]


def test_the_end_check_judges_the_epoch_early_stopping_keeps(tmp_path, no_fit_start):
    """No epoch improves on the first by --min-delta 1, and --patience outlasts the run: early stopping keeps
    epoch 1, whose full batch's loss is of the weights it started from, the bias at the labels' log-odds, far
    above the optimum; the check scored the last epoch's model, near it, and said nothing of the model written."""
    path, X, y = _rare(tmp_path)
    with pytest.warns(FitWarning) as caught:
        m = train(path, TrainOptions(model="logistic", batch_size="full", epochs=150, threads=1, early_stopping=True,
                                     patience=1000, min_delta=1.0))
    assert len(m.history) == 150 and m.training["best_epoch"] == 1
    (text,) = [str(w.message) for w in caught]
    found = ESTIMATE.match(text)
    assert found is not None, text
    rows = sample_rows(path, "logistic")
    s = X[rows] @ m.raw_weights()[0, :-1] + m.raw_weights()[0, -1]  # the written model's scores there
    assert (found[1], found[2], found[3]) == ("1", f"{len(rows):,}",
                                            f"{np.mean(np.logaddexp(0, s) - y[rows] * s):.4g}")
    assert float(found[3]) > 1.2 * _optimum(X, y)  # over all rows
    # more epochs would keep epoch 1 again: the threshold is what to change
    assert found[6] == ("lower --min-delta (1; try the default, 0.0001), by more than which no later epoch lowered "
                        "the training loss")


def test_a_stop_that_kept_an_epoch_far_from_the_optimum_under_min_delta_is_told_to_lower_it(tmp_path,
                                                                                          no_fit_start):
    """No epoch improves on the first by --min-delta 1: early stopping stops after the second (--patience 1) and
    keeps the first, one step from the start, far above the optimum.  A stop was not judged at all, and the model
    written was that far, unsaid.  The second epoch is far as well: the threshold stopped the run, so it is told to
    lower --min-delta, and then what a far run is."""
    path, X, y = _rare(tmp_path)
    with pytest.warns(FitWarning) as caught:  # (a constant rate: every epoch counts for patience)
        m = train(path, TrainOptions(model="logistic", batch_size="full", epochs=150, threads=1, early_stopping=True,
                                     patience=1, min_delta=1.0, val_fraction=0.2, schedule="constant"))
    assert len(m.history) == 2 and m.training["best_epoch"] == 1 and m.training["stopped_early"]
    (text,) = [str(w.message) for w in caught]
    found = re.match(r"the model's \(epoch 1's, which early stopping kept\) mean loss .* ([\d.]+): the model may be "
                     r"far from the optimum, and so is the last epoch's \(([\d.]+)\); (.*)$", text)
    assert found is not None, text
    assert float(found[2]) > (1 + NEAR) * float(found[1])
    assert found[3] == ("lower --min-delta (1; try the default, 0.0001), by more than which no later epoch lowered the "
                        "validation loss, and lower --batch-size or raise --epochs, or use the default --schedule "
                        "cosine, whose last steps are small")


def test_an_epoch_early_stopping_chose_by_the_loss_alone_where_it_beat_the_fit_there_is_not_told(tmp_path,
                                                                                                no_fit_start,
                                                                                                monkeypatch):
    """Validation rows whose labels are the training rows' flipped: the better the model fits, the higher their
    loss, so early stopping (--min-delta 0, a --patience the run outlasts) keeps epoch 1, one step from the start,
    29% above the optimum of the training rows.  That is its choice, which more epochs would not move: the run was
    told to raise --epochs to leave it.  The fit of the sample scores the validation rows worse than the model
    kept: the validation rows, not the steps' noise, chose it (stopchoice.loss_chose)."""
    from sgdcli.training import fitgap

    path, X, y = _rare(tmp_path)
    val = write_table(tmp_path / "flipped.h5", X.astype(np.float32), (1 - y).astype(np.float32))
    gaps, fits, measure, fit_params = [], [], fitgap.measure, fitgap.fit_params
    monkeypatch.setattr(fitgap, "measure", lambda *args, **kw: gaps.append(measure(*args, **kw)) or gaps[-1])
    monkeypatch.setattr(fitgap, "fit_params", lambda run: fits.append(fit_params(run)) or fits[-1])
    m = train(path, TrainOptions(model="logistic", batch_size="full", epochs=150, threads=1, early_stopping=True,
                                 patience=1000, val=str(val)))
    assert len(m.history) == 150 and m.training["best_epoch"] == 1 and not m.training["stopped_early"]
    assert "warnings" not in m.training
    # far from the optimum, but the fit, scored on the validation rows, is worse there than the model kept
    (gap,) = gaps
    assert gap.loss > (1 + 4 * NEAR) * gap.best and len(fits) == 1 and fits[0] is not None
    # stopped after the second epoch: two updates, and a training loss still falling, were told to raise --epochs
    m = train(path, TrainOptions(model="logistic", batch_size="full", epochs=150, threads=1, early_stopping=True,
                                 patience=1, val=str(val), schedule="constant"))  # every epoch counts
    assert len(m.history) == 2 and m.training["best_epoch"] == 1 and m.training["stopped_early"]
    assert "warnings" not in m.training


def test_the_end_check_holds_no_more_than_memory(tmp_path, monkeypatch, no_fit_start):
    """At a --memory that holds the sample's rows and the fit beside them, and no more, the check (traced from
    its start, the sample read again) stays within it: it scores every row of the sample and keeps the scores
    of the rows it judges, where it scored a copy of those rows (all of them here), the sample's size again,
    beyond --memory."""
    import tracemalloc

    from sgdcli.training import classifierfit, fullbatch

    memory = 4 * 2**20
    path, X, y = _tenth_positive(tmp_path)
    fitted, peaks, real_fit, real_short = [], [], classifierfit.fit_loss, fullbatch.short
    monkeypatch.setattr(classifierfit, "fit_loss", lambda *args: fitted.append(1) or real_fit(*args))

    def short(run, *args):
        tracemalloc.start()
        try:
            return real_short(run, *args)
        finally:
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()

    monkeypatch.setattr(fullbatch, "short", short)
    train(path, TrainOptions(model="logistic", batch_size="full", epochs=300, threads=1, class_weight="balanced",
                             memory=memory))
    assert fitted == [1]  # the sample was fitted and scored, not skipped
    assert peaks[0] <= memory, (peaks[0], memory)


def test_adam_from_the_fit_whose_first_step_early_stopping_kept_is_judged(tmp_path):
    """A full batch of poisson starts at the fit of its sample, and adam's first step, about its rate on every
    weight, leaves it; --min-delta 1 keeps that first epoch.  Runs from the fit at --lr auto's rate were not judged
    where early stopping's threshold chose the epoch (they end near it), and this one ended about 20% above the
    optimum's deviance, unwarned."""
    from sklearn.linear_model import PoissonRegressor
    from sklearn.metrics import mean_poisson_deviance

    from sgdcli.data.shuffle import held_out

    rng = np.random.default_rng(12)
    X = rng.standard_normal((5_000, 5)).astype(np.float32)
    y = rng.poisson(np.exp(0.5 + 0.4 * X @ rng.standard_normal(5))).astype(np.float64)
    path = write_table(tmp_path / "counts.h5", X, y)
    with pytest.warns(FitWarning) as caught:
        m = train(path, TrainOptions(model="poisson", batch_size="full", optimizer="adam", epochs=20, threads=1,
                                     early_stopping=True, min_delta=1.0, val_fraction=0.2))
    assert m.training["best_epoch"] == 1
    (text,) = [str(w.message) for w in caught]
    assert text.startswith("the model's (epoch 1's, which early stopping kept) mean deviance on the run's sample") \
        and "lower --min-delta (1; try the default, 0.0001), by more than which no later epoch lowered the " \
            "validation loss" in text, text
    train_rows = ~held_out(np.arange(len(y)), 0.2, TrainOptions().seed)  # the rows trained on
    Z, counts = (X[train_rows] - m.center) / m.scale, y[train_rows]
    fit = PoissonRegressor(alpha=0, tol=1e-12, max_iter=10_000).fit(Z, counts)
    best = mean_poisson_deviance(counts, fit.predict(Z))
    W = m.raw_weights()[0]
    assert mean_poisson_deviance(counts, np.exp(X[train_rows] @ W[:-1] + W[-1])) > (1 + NEAR) * best
