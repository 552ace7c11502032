"""--lr auto's runs of many updates, judged against a fit of their sample (training/farfit.py ``told``,
training/fitgap.py): told how far they ended, and why where their features are nearly collinear, where the fit
says so and fits of half the sample's runs of rows, scoring the other half's, confirm it."""

import re

import h5py
import numpy as np
import pytest

from sgdcli import generate, train
from sgdcli.data.table import Table
from sgdcli.options import DEFAULT_MEMORY
from sgdcli.options import TrainOptions
from sgdcli.training.farfit import COLLINEAR
from sgdcli.training.fullbatch import NEAR
from sgdcli.training.fitwarnings import FitWarning
from sgdcli.training.sampling import Sample, sample_spans

from conftest import collinear_classes, sample_rows, write_table

FAR = re.compile(r"the model's mean loss on the run's sample of ([\d,]+) rows, ([\d.e+-]+), is ([\d.]+)% above the "
                 r"optimum's, estimated by a fit of them \(least squares\), ([\d.e+-]+): the model may be far from "
                 r"the optimum. The features are nearly collinear \(the second moments of the sample's standardized "
                 r"rows have a condition number of ([\d.e+]+)\), and steps sized for the steepest direction crawl "
                 r"along the flattest; use --batch-size full \(it starts at a fit of its sample\), or raise --epochs "
                 r"or lower --batch-size$")


def _sensors(n, d=20, own=0.02, seed=0):
    """``d`` features that each read one signal with a little noise of their own (``own``), as sensors of one
    quantity do: standardizing leaves them nearly collinear.  The label is a linear function of them, and noise."""
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, 1)) + own * rng.standard_normal((n, d))).astype(np.float32)
    y = (X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)).astype(np.float32)
    return X, y


def _squared_error(X, y, W):
    """Half the mean squared error of raw weights and bias (last) ``W`` on ``X``, ``y``, and of the optimum's."""
    Z = np.column_stack([X, np.ones(len(X))]).astype(np.float64)
    best = 0.5 * np.mean((Z @ np.linalg.lstsq(Z, y, rcond=None)[0] - y) ** 2)
    return 0.5 * np.mean((Z @ W - y) ** 2), best


@pytest.mark.parametrize("rows", [20_000, 4_000])  # a sample of some of the rows; of every row
def test_a_run_on_collinear_features_is_told_how_far_it_ended_and_why(tmp_path, rows, no_fit_start, monkeypatch):
    """Five epochs at --lr auto's rate from the labels' mean (not the fit of the sample, where a linear run of up
    to start.FIT_WIDE weights starts) crawl along the flat directions of nearly collinear features and end
    far above the optimum, where a full batch, which starts at a fit of its sample, ends at it.  The warning gives
    the written model's loss on the sample's rows and the condition number of their standardized second moments
    (both computed here), and the optimum's estimate, which the optimum of every row's loss on those rows is near."""
    X, y = _sensors(rows)
    path = write_table(tmp_path / "sensors.h5", X, y)
    with pytest.warns(UserWarning) as caught:
        m = train(path, TrainOptions(model="linear", threads=1))
    (text,) = m.training["warnings"]
    assert [str(w.message) for w in caught] == [text]
    found = FAR.match(text)
    assert found is not None, text
    loss, best = _squared_error(X, y, m.raw_weights()[0])
    assert loss > 1.1 * best  # far indeed
    rows_read = sample_rows(path)
    Xs, ys = X[rows_read].astype(np.float64), y[rows_read]
    W = m.raw_weights()[0]
    assert found[1] == f"{len(rows_read):,}"
    assert found[2] == f"{0.5 * np.mean((Xs @ W[:-1] + W[-1] - ys) ** 2):.4g}"
    Z = np.column_stack([X, np.ones(rows)]).astype(np.float64)
    optimum = np.linalg.lstsq(Z, y, rcond=None)[0]
    assert float(found[4]) == pytest.approx(0.5 * np.mean((Z[rows_read] @ optimum - ys) ** 2), rel=0.02)
    standardized = np.column_stack([(Xs - m.center) / m.scale, np.ones(len(Xs))])
    values = np.linalg.eigvalsh(standardized.T @ standardized / len(Xs))
    assert float(found[5]) == pytest.approx(values[-1] / values[0], rel=0.01)
    assert float(found[5]) > COLLINEAR
    from sgdcli.training import run as run_mod, start

    monkeypatch.setattr(run_mod, "fitted", start.fitted)  # a full batch from the fit, as offered
    full = train(path, TrainOptions(model="linear", batch_size=None, threads=1))
    assert "warnings" not in full.training
    loss, best = _squared_error(X, y, full.raw_weights()[0])
    assert loss < 1.001 * best


def test_rows_repeated_in_runs_do_not_read_as_far(tmp_path):
    """Every row written 10 times in a row (a join's fan-out): each of the sample's runs holds a tenth as many
    distinct rows as it counts, and their fit gains on them far more than the estimate adds back: it put a model
    within 1% of the optimum (computed here, on the distinct rows) 17% above it.  Fits of half the runs, scoring
    the other half's rows, do worse than the model on them, and nothing is said."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((2_000, 20)).astype(np.float32)
    y = (rng.random(2_000) < 1 / (1 + np.exp(-X @ rng.standard_normal(20)))).astype(np.int64)
    path = write_table(tmp_path / "repeated.h5", np.repeat(X, 10, axis=0), np.repeat(y, 10))
    m = train(path, TrainOptions(model="logistic", threads=1))
    assert "warnings" not in m.training
    from sklearn.linear_model import LogisticRegression

    def log_loss(p):
        return -np.mean(y * np.log(p) + (1 - y) * np.log1p(-p))

    best = log_loss(LogisticRegression(C=1e10, tol=1e-12, max_iter=10_000).fit(X, y).predict_proba(X)[:, 1])
    W = m.raw_weights()[0]
    assert log_loss(1 / (1 + np.exp(-(X @ W[:-1] + W[-1])))) < 1.01 * best


def test_each_row_of_the_sample_knows_the_run_it_was_read_from(tmp_path):
    """Labels that are the rows' numbers: the run of each sampled row is the span holding its number, and the
    rows --val-fraction holds out are left out of both."""
    n = 100_000
    X = np.zeros((n, 2), dtype=np.float32)
    path = write_table(tmp_path / "numbered.h5", X, np.arange(n, dtype=np.float64))
    with Table(path) as table:
        spans = sample_spans(table, DEFAULT_MEMORY)
        drawn = Sample(table, DEFAULT_MEMORY, held_out=(0.25, 7))
        numbers, runs = drawn.labels(), drawn.runs()
        assert len(spans) == 16 and len(numbers) < 0.8 * sum(b - a for a, b in spans)
        starts = np.array([a for a, _ in spans])
        np.testing.assert_array_equal(runs, np.searchsorted(starts, numbers, side="right") - 1)
        assert set(runs) == set(range(16))


def test_a_rate_that_does_not_decay_is_told_to_use_the_default_schedule(tmp_path):
    """Labels of little noise under --schedule constant: the last steps keep the batches' noise, and the model
    ends over 5% above the optimum (computed here) where the default cosine, whose last steps are small, ends
    within 1% of it, unwarned.  The warning says so."""
    from sklearn.linear_model import LogisticRegression

    path = tmp_path / "binary.h5"
    generate(path, task="binary", rows=10_000, features=10, noise=0.1, seed=0)
    with h5py.File(path, "r") as f:
        X, y = f["X"][:].astype(np.float64), f["y"][:]

    def log_loss(s):
        return np.mean(np.logaddexp(0, s) - y * s)

    optimum = log_loss(LogisticRegression(C=1e10, tol=1e-12, max_iter=10_000).fit(X, y).decision_function(X))

    with pytest.warns(FitWarning) as caught:
        constant = train(path, TrainOptions(schedule="constant", threads=1))
    (text,) = [str(w.message) for w in caught]
    assert text.endswith(": the model may be far from the optimum; use --batch-size full (it starts at a fit of "
                         "its sample), or use the default --schedule cosine, whose last steps are small, or raise "
                         "--epochs or lower --batch-size"), text
    assert log_loss(X @ constant.raw_weights()[0, :-1] + constant.raw_weights()[0, -1]) > 1.05 * optimum
    cosine = train(path, TrainOptions(threads=1))
    assert "warnings" not in cosine.training
    assert log_loss(X @ cosine.raw_weights()[0, :-1] + cosine.raw_weights()[0, -1]) < 1.01 * optimum


def test_a_rate_given_is_judged_against_the_fit_as_the_automatic_one_is(tmp_path):
    """The run above at --lr auto's rate, given (--lr 0.2167): the same model, which was told nothing.  Now it is
    told as --lr auto's run is, its full batch with --lr auto; at four times that rate, also to use --lr auto."""
    path = tmp_path / "binary.h5"
    generate(path, task="binary", rows=10_000, features=10, noise=0.1, seed=0)
    with pytest.warns(FitWarning) as caught:
        auto = train(path, TrainOptions(schedule="constant", threads=1))
    (told,) = [str(w.message) for w in caught]
    rate = auto.training["lr"]
    with pytest.warns(FitWarning) as caught:
        given = train(path, TrainOptions(schedule="constant", threads=1, lr=rate))
    np.testing.assert_array_equal(given.raw_weights(), auto.raw_weights())
    (text,) = [str(w.message) for w in caught]
    assert text == told.replace("use --batch-size full (", "use --batch-size full with --lr auto (")
    assert "with --lr auto" in text and "use --lr auto (" not in text
    with pytest.warns(FitWarning) as caught:
        faster = train(path, TrainOptions(schedule="constant", threads=1, lr=4 * rate))
    (text,) = [str(w.message) for w in caught]
    from sklearn.linear_model import LogisticRegression

    with h5py.File(path, "r") as f:
        X, y = f["X"][:].astype(np.float64), f["y"][:]

    def log_loss(s):
        return np.mean(np.logaddexp(0, s) - y * s)

    optimum = log_loss(LogisticRegression(C=1e10, tol=1e-12, max_iter=10_000).fit(X, y).decision_function(X))
    assert log_loss(X @ faster.raw_weights()[0, :-1] + faster.raw_weights()[0, -1]) > 1.2 * optimum
    assert text.endswith(f"; use --batch-size full with --lr auto (it starts at a fit of its sample), or use the "
                         f"default --schedule cosine, whose last steps are small, or use --lr auto (the rate given, "
                         f"{4 * rate:.4g}, is 4 times the {rate:.4g} that --lr auto chooses here), or raise --epochs "
                         "or lower --batch-size"), text


def test_a_rate_given_under_another_optimizer_is_told_the_defaults_with_the_automatic_rate(tmp_path):
    """Adam at four times the rate --lr auto gives it: the defaults at the rate given threw 8 of 85 such runs into
    blow-ups (7 of the 40 under adam), so the defaults come with --lr auto, after the full batch, which cured every
    run it was offered to."""
    path = tmp_path / "binary.h5"
    generate(path, task="binary", rows=10_000, features=10, noise=0.1, seed=0)
    options = dict(schedule="constant", optimizer="adam", threads=1)
    with pytest.warns(FitWarning):
        rate = train(path, TrainOptions(**options)).training["lr"]
    with pytest.warns(FitWarning) as caught:
        train(path, TrainOptions(**options, lr=4 * rate))
    (text,) = [str(w.message) for w in caught]
    assert text.endswith(": the model may be far from the optimum; use --batch-size full with --lr auto and the "
                         "default --optimizer (it starts at a fit of its sample), or use the defaults --optimizer "
                         "auto, --schedule cosine and --lr auto, or raise --epochs or lower --batch-size"), text
    from sklearn.linear_model import LogisticRegression

    with h5py.File(path, "r") as f:
        X, y = f["X"][:].astype(np.float64), f["y"][:]

    def log_loss(s):
        return np.mean(np.logaddexp(0, s) - y * s)

    optimum = log_loss(LogisticRegression(C=1e10, tol=1e-12, max_iter=10_000).fit(X, y).decision_function(X))
    cured = train(path, TrainOptions(batch_size="full", threads=1))  # (no warning: the suite makes one an error)
    assert log_loss(X @ cured.raw_weights()[0, :-1] + cured.raw_weights()[0, -1]) < (1 + NEAR) * optimum


def test_a_rate_given_on_nearly_collinear_features_is_not_told_to_use_the_automatic_one(tmp_path):
    """At three times and a fifth of --lr auto's rate, on nearly collinear features: --lr auto itself left 16 of 24
    such runs at 3 and 10 times it further from the optimum, where the full batch from the fit of the sample cured
    them.  At a fiftieth, under SLOW_RATE times it, the rate is named as what held the run back."""
    X, y = collinear_classes(n=8000)
    path = write_table(tmp_path / "collinear.h5", X, y)
    with pytest.warns(FitWarning):
        rate = train(path, TrainOptions(model="logistic", batch_size=256, threads=1)).training["lr"]
    for times in (0.2, 3):
        with pytest.warns(FitWarning) as caught:
            train(path, TrainOptions(model="logistic", batch_size=256, threads=1, lr=times * rate))
        (text,) = [str(w.message) for w in caught]
        assert "The features are nearly collinear" in text, text
        assert text.endswith("; use --batch-size full with --lr auto (it starts at a fit of its sample), or raise "
                             "--epochs or lower --batch-size"), text
    with pytest.warns(FitWarning) as caught:
        train(path, TrainOptions(model="logistic", batch_size=256, threads=1, lr=rate / 50))
    (text,) = [str(w.message) for w in caught]
    assert text.endswith(f"; use --batch-size full with --lr auto (it starts at a fit of its sample), or raise --lr "
                         f"(a rate of {rate / 50:.4g}, 50 times smaller than the {rate:.4g} that --lr auto chooses "
                         "here) or --epochs, or lower --batch-size"), text


@pytest.mark.parametrize("times, told", [(1.99, False), (2.0, True), (0.51, False), (0.5, True), (10.0, True)])
def test_a_rate_given_is_told_to_use_the_automatic_one_from_twice_it_or_half_it(monkeypatch, times, told):
    """Nearer --lr auto's rate than ABOVE_AUTO times, --lr auto is not offered: at its own rate it is the same run."""
    from types import SimpleNamespace

    from sgdcli.training import farfit, runrate

    assert farfit.ABOVE_AUTO == 2
    monkeypatch.setattr(runrate, "compared", lambda run: SimpleNamespace(lr=0.3))
    run = SimpleNamespace(auto=None, lr=times * 0.3, rate_opts=SimpleNamespace(lr=times * 0.3),
                          opts=SimpleNamespace(lr_scaling="none"))
    assert bool(farfit.given_rate(run)) == told
    if told:
        than = f"{times:.3g} times the" if times > 1 else f"{1 / times:.3g} times smaller than the"
        assert farfit.given_rate(run) == (f"use --lr auto (the rate given, {times * 0.3:.4g}, is {than} 0.3 that --lr "
                                          "auto chooses here)")
    scaled = SimpleNamespace(auto=None, lr=3.0, rate_opts=SimpleNamespace(lr=1.5),
                             opts=SimpleNamespace(lr_scaling="linear"))
    assert farfit.given_rate(scaled) == ("use --lr auto (--lr 1.5 after --lr-scaling linear, a rate of 3, is 10 times "
                                         "the 0.3 that --lr auto chooses here)")


def test_halves_whose_fits_overflow_on_the_rows_they_never_saw_leave_the_estimate_to_decide(tmp_path):
    """Counts that are 0 wherever a feature is, in the sample's even pieces, and a feature of 60 in the odd ones:
    a fit of either half scores the other half's rows beyond exp's range.  Those scores made an infinite loss
    times a row's weight of 0 (NaN, and a stray `invalid value encountered in multiply`), and an infinite
    objective that confirmed nothing; the halves tell nothing there, and the estimate decides alone.  A run of
    few updates, which the halves never judge, does not fit them."""
    rng = np.random.default_rng(0)
    n = 4_000  # the whole file is the sample: one run, in 16 pieces
    half = (np.arange(n) * 16 // n) % 2 == 0
    x = np.where(half, rng.integers(0, 2, n), 60).astype(float)
    S, _ = _sensors(n, d=10)
    s = S @ rng.standard_normal(10)
    y = np.where(x == 0, 0, rng.poisson(np.exp(1 + (s - s.mean()) / s.std()))).astype(float)
    w = np.ones(n)
    w[np.flatnonzero(~half)[:5]] = 0
    path = tmp_path / "counts.h5"
    with h5py.File(path, "w") as f:
        f["X"], f["y"], f["w"] = np.column_stack([x, S]).astype(np.float32), y, w
    for options, told in (({"schedule": "constant"}, r"mean deviance .* above the optimum's, estimated by a fit"),
                          ({"epochs": 1, "batch_size": 128}, r"^only 32 updates in all")):
        with pytest.warns(FitWarning, match=told) as caught:
            train(path, TrainOptions(model="poisson", sample_weight="w", threads=1, **options))
        assert [type(w.message) for w in caught] == [FitWarning]


def test_a_wide_sample_whose_halves_hold_few_rows_a_weight_is_still_judged(tmp_path, no_fit_start):
    """220 sensors of one quantity: the sample's 4,096 rows are 18 a weight, 9 in each half.  The halves' fits
    needed 10 a weight, and a run (from the labels' mean) measured 8 times the optimum's loss was never told;
    they need 2."""
    X, y = _sensors(20_000, d=220)
    path = write_table(tmp_path / "wide.h5", X, y)
    with pytest.warns(FitWarning) as caught:
        m = train(path, TrainOptions(model="linear", threads=1))
    (text,) = [str(w.message) for w in caught]
    assert FAR.match(text), text
    loss, best = _squared_error(X, y, m.raw_weights()[0])
    assert loss > 5 * best


def test_collinear_features_are_not_called_nearly_separable(tmp_path):
    """Logistic at batch 256 on nearly collinear features whose classes overlap (the optimum, computed here,
    classifies a fifth of the rows wrong) ends far from it: it was told that the rows were nearly separable,
    where their flat directions, not their separability, held the rate down.  The fit says why."""
    from sklearn.linear_model import LogisticRegression

    X, y = collinear_classes(n=20_000)
    path = write_table(tmp_path / "collinear.h5", X, y)
    with pytest.warns(FitWarning) as caught:
        m = train(path, TrainOptions(model="logistic", batch_size=256, threads=1))
    (text,) = [str(w.message) for w in caught]
    assert "nearly separable" not in text and "The features are nearly collinear" in text, text
    optimum = LogisticRegression(C=1e10, tol=1e-12, max_iter=10_000).fit(X, y)
    assert optimum.score(X, y) < 0.8

    def log_loss(s):
        return np.mean(np.logaddexp(0, s) - y * s)

    W = m.raw_weights()[0]
    assert log_loss(X @ W[:-1] + W[-1]) > 1.05 * log_loss(optimum.decision_function(X))


def test_a_full_batch_is_offered_first_where_the_default_optimizer_would_crawl_as_well(tmp_path):
    """Plain sgd at --lr auto's rate, batches of 256 on 5,000 rows of nearly collinear features: 20 updates an
    epoch cannot cross a condition number in the thousands, whatever the optimizer, so the default optimizer,
    offered first, ends as far (about 20% above the optimum, computed here) and is warned in turn; a full batch,
    which starts at a fit of its sample, ends at the optimum.  It is offered first, and where the defaults are
    used it is offered again, first."""
    from sklearn.linear_model import LogisticRegression

    X, y = collinear_classes(n=5000)
    path = write_table(tmp_path / "collinear.h5", X, y)
    Xd = X.astype(np.float64)

    def log_loss(s):
        return np.mean(np.logaddexp(0, s) - y * s)

    optimum = log_loss(LogisticRegression(C=1e12, tol=1e-12, max_iter=100_000).fit(Xd, y).decision_function(Xd))

    def above(m):  # how far m's log loss on every row is above the optimum's
        W = m.raw_weights()[0]
        return log_loss(Xd @ W[:-1] + W[-1]) / optimum - 1

    with pytest.warns(FitWarning) as caught:
        sgd = train(path, TrainOptions(optimizer="sgd", batch_size=256, threads=1))
    (text,) = [str(w.message) for w in caught]
    assert text.endswith("; use --batch-size full with the default --optimizer (it starts at a fit of its sample), "
                         "or use the default --optimizer auto, or raise --epochs or lower --batch-size"), text
    assert above(sgd) > 2 * NEAR
    with pytest.warns(FitWarning) as caught:
        defaults = train(path, TrainOptions(batch_size=256, threads=1))
    (text,) = [str(w.message) for w in caught]
    assert text.endswith("; use --batch-size full (it starts at a fit of its sample), or raise --epochs or lower "
                         "--batch-size"), text
    assert above(defaults) > 2 * NEAR
    full = train(path, TrainOptions(batch_size=None, threads=1))
    assert "warnings" not in full.training and above(full) < 0.001
