"""A full batch that starts at a fit of its sample (training/start.py) reads a larger sample: up to
FIT_SAMPLE_ROWS rows where the fit is narrow, as many as --memory holds beside the fit's arrays, and the whole
file where it holds no more rows.  A fit of 4,096 rows holds some 80 positives where 2% of the rows are: 5
full-batch steps from it ended 5% (10 features) and 26% (50 features) above the optimum on 100,000 rows
(bench/full_batch_sample.py)."""

import h5py
import numpy as np
import pytest

from sgdcli import train
from sgdcli.data.table import Table
from sgdcli.options import DEFAULT_MEMORY, TrainOptions
from sgdcli.training import classifierfit, curvature, sampling, start

from conftest import make_problem, run, sample_rows, short_fits, traced_fits, write_table
from test_convergence import logistic_objective, newton_logistic
from test_full_batch import _optimum
from test_full_batch_end import logistic_rows


def _loss(m, X, y):
    W = m.raw_weights()[0]
    return logistic_objective(W[:-1], W[-1], X, y, 0.0)


def test_a_file_no_larger_than_the_sample_is_read_whole(tmp_path):
    """3,000 rows: the sample is all of them, in one run (it was 11 runs of 256, 2,816 rows); 5,000 rows: 16 runs
    of 256 spread from the first row to the last."""
    for n, spans in ((3000, [(0, 3000)]), (sampling.SAMPLE_ROWS, [(0, sampling.SAMPLE_ROWS)])):
        X, y = make_problem("binary", n=n, d=3)
        with Table(write_table(tmp_path / f"rows{n}.h5", X, y)) as table:
            assert sampling.sample_spans(table, DEFAULT_MEMORY) == spans
    X, y = make_problem("binary", n=5000, d=3)
    with Table(write_table(tmp_path / "rows5000.h5", X, y)) as table:
        spans = sampling.sample_spans(table, DEFAULT_MEMORY)
    assert len(spans) == sampling.SAMPLE_RUNS and spans[0] == (0, 256) and spans[-1] == (5000 - 256, 5000)
    assert all(b - a == 256 and b <= c for (a, b), (c, _) in zip(spans, spans[1:]))


def test_a_full_batch_sample_is_sized_by_its_fit(tmp_path):
    """FIT_SAMPLE_ROWS for a fit of up to 64 weights; a wider fit, its p² multiply-adds a row within FIT_WORK, but
    a linear fit, one pass of them, LINEAR_ROWS_PER_WEIGHT rows a weight where that is more (as many as --memory
    holds beside its d × d matrices); SAMPLE_ROWS where no fit starts the run (a classifier of more than FIT_WIDE
    weights, sparse rows, another model), and where --memory holds no more beside the fit."""
    X, y = make_problem("binary", n=100, d=10)
    with Table(write_table(tmp_path / "ten.h5", X, y)) as table:
        assert start.fit_sample_rows("logistic", table, 2, DEFAULT_MEMORY) == start.FIT_SAMPLE_ROWS
        assert start.fit_sample_rows("softmax", table, 3, DEFAULT_MEMORY) == start.FIT_SAMPLE_ROWS  # 22 weights
        assert start.fit_sample_rows("softmax", table, 7, DEFAULT_MEMORY) == start.FIT_WORK // 66**2
        assert start.fit_sample_rows("softmax", table, 24, DEFAULT_MEMORY) == start.FIT_WORK // 253**2  # FIT_WIDE
        assert start.fit_sample_rows("softmax", table, 25, DEFAULT_MEMORY) == sampling.SAMPLE_ROWS
        assert start.fit_sample_rows("linear", table, 2, DEFAULT_MEMORY) == start.FIT_SAMPLE_ROWS
        assert start.fit_sample_rows("huber", table, 2, DEFAULT_MEMORY) == sampling.SAMPLE_ROWS
        assert start.fit_sample_rows("logistic", table, 2, 1 << 20) == sampling.SAMPLE_ROWS
    X, y = make_problem("regression", n=100, d=200)
    with Table(write_table(tmp_path / "wide.h5", X, y)) as table:
        assert start.fit_sample_rows("linear", table, 2, DEFAULT_MEMORY) == start.LINEAR_ROWS_PER_WEIGHT * 201
        held = ((32 << 20) - curvature.gram_bytes(201)) // (sampling.DENSE_SAMPLE_BYTES * 201)
        assert sampling.SAMPLE_ROWS < held < start.LINEAR_ROWS_PER_WEIGHT * 201
        assert start.fit_sample_rows("linear", table, 2, 32 << 20) == held
        assert start.fit_sample_rows("logistic", table, 2, DEFAULT_MEMORY) == start.FIT_WORK // 201**2
        assert start.fit_sample_rows("softmax", table, 3, DEFAULT_MEMORY) == sampling.SAMPLE_ROWS  # 402 weights


@short_fits
def test_the_larger_sample_and_its_fit_stay_within_memory(tmp_path):
    """One feature, where the fit's arrays of a row outweigh the row, at --memory 4M: the sample grows to as many
    rows as --memory holds beside the fit, the run starts at that fit (it is not skipped for want of room), and
    the sample read and fitted peaks within --memory."""
    memory = 4 << 20
    path, _, _ = logistic_rows(tmp_path / "one.h5", 100_000, 1, 3.0, -3.0)
    with Table(path) as table:
        rows = sum(b - a for a, b in sampling.sample_spans(table, memory, start.fit_sample_rows("logistic", table, 2,
                                                                                                  memory)))
    assert sampling.SAMPLE_ROWS < rows < start.FIT_SAMPLE_ROWS
    with traced_fits() as (fits, peaks):
        train(path, TrainOptions(model="logistic", batch_size="full", epochs=1, threads=1, memory=memory))
    assert fits[0] is not None and peaks[0] <= memory, peaks
    ran = run("train", path, "-o", tmp_path / "m.h5", "--model", "logistic", "--batch-size", "full", "--epochs", "1",
              "--memory", "4M", check=True)
    assert f"starting at the fit of the run's sample of {rows:,} rows (Newton's method)" in ran.stderr


def test_full_batches_of_sparse_rows_too_wide_to_centre_keep_the_sample_of_any_run(tmp_path):
    """Rows dense enough to centre are fitted as dense rows are (training/sampling.py ``stays_sparse``)."""
    from test_auc import _write_csr

    X, y = make_problem("binary", n=200, d=5)
    X[X < 0] = 0.0
    with Table(_write_csr(tmp_path / "sparse.h5", X, y)) as table, \
            Table(write_table(tmp_path / "dense.h5", X, y)) as copy:
        assert start.fit_sample_rows("logistic", table, 2, DEFAULT_MEMORY) == start.fit_sample_rows(
            "logistic", copy, 2, DEFAULT_MEMORY) > sampling.SAMPLE_ROWS
    wide = np.zeros((200, 1000))
    wide[np.arange(200), np.arange(200) * 5] = 1.0  # 1,000 columns against a batch's 32 nonzeros
    with Table(_write_csr(tmp_path / "wide.h5", wide, y)) as table:
        assert start.fit_sample_rows("logistic", table, 2, DEFAULT_MEMORY) == sampling.SAMPLE_ROWS


@short_fits
def test_a_full_batch_of_a_large_file_starts_at_the_fit_of_a_larger_sample(tmp_path):
    """100,000 rows of 2% positives: the run starts at the fit of FIT_SAMPLE_ROWS of them in 16 runs spread over
    the file (its first epoch's loss is that fit's over every row, computed here), and 5 epochs end within 0.1% of
    the optimum, where from the fit of 4,096 rows they ended 1% above it."""
    path, X, y = logistic_rows(tmp_path / "large.h5", 100_000, 10, 6.0, -9.0)
    rows = sample_rows(path, "logistic")
    assert len(rows) == start.FIT_SAMPLE_ROWS
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    w, b = newton_logistic(Z[rows], y[rows], classifierfit.RIDGE / len(rows), iters=60)
    ran = run("train", path, "-o", tmp_path / "m.h5", "--model", "logistic", "--batch-size", "full", "--threads",
              "1", "--seed", "0", check=True)
    assert (f"starting at the fit of the run's sample of {start.FIT_SAMPLE_ROWS:,} rows (Newton's method): a full "
            "batch keeps where it starts") in ran.stderr
    m = train(path, TrainOptions(model="logistic", batch_size="full", threads=1))
    assert m.history[0]["train_loss"] == pytest.approx(logistic_objective(w, b, Z, y, 0.0), rel=1e-4)
    assert _loss(m, X, y) < 1.001 * _optimum(X, y)


@short_fits
def test_fifty_features_start_at_the_fit_of_every_row(tmp_path):
    """20,000 rows of 50 features, 2% positives: the sample is the whole file, and 5 full-batch epochs end within
    0.1% of the optimum; from the fit of 4,096 of the rows (some 80 positives for 51 weights) they ended 4% above
    it."""
    path, X, y = logistic_rows(tmp_path / "wide.h5", 20_000, 50, 6.0, -9.0)
    assert np.array_equal(sample_rows(path, "logistic"), np.arange(20_000))
    m = train(path, TrainOptions(model="logistic", batch_size="full", threads=1))
    assert _loss(m, X, y) < 1.001 * _optimum(X, y)
    assert "warnings" not in m.training


@short_fits
def test_a_hundred_features_start_at_a_fit(tmp_path):
    """101 weights, more than the 64 a fit of the sample had: the sample is every row (FIT_WORK holds 26,000 rows
    of them), the run starts at their fit (its first epoch's loss, computed here: the optimum but for the fit's
    ridge) and ends there, where from the labels' log-odds 5 epochs ended 29% above it."""
    path, X, y = logistic_rows(tmp_path / "hundred.h5", 20_000, 100, 6.0, -6.0)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    w, b = newton_logistic(Z, y, classifierfit.RIDGE / len(y), iters=25)
    fit = logistic_objective(w, b, Z, y, 0.0)
    m = train(path, TrainOptions(model="logistic", batch_size="full", threads=1))
    assert m.history[0]["train_loss"] == pytest.approx(fit, rel=1e-6)
    assert _loss(m, X, y) < 1.001 * fit


@short_fits
def test_a_class_of_fewer_sampled_rows_than_half_the_weights_is_not_fitted(tmp_path):
    """30 features and 15 positive rows in the sample, fewer than CLASS_ROWS_PER_WEIGHT of the 31 weights: the run
    starts at the labels' log-odds (its first epoch's loss their entropy); with 16 positives, at the fit."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((6000, 30)).astype(np.float32)
    assert start.CLASS_ROWS_PER_WEIGHT * 31 == 15.5
    for positives, fitted in ((15, False), (16, True)):
        y = np.zeros(6000, dtype=np.float32)
        y[rng.choice(6000, positives, replace=False)] = 1.0
        m = train(write_table(tmp_path / f"p{positives}.h5", X, y),
                  TrainOptions(model="logistic", batch_size="full", epochs=1, threads=1))
        p = positives / 6000
        entropy = -(p * np.log(p) + (1 - p) * np.log1p(-p))
        assert (m.history[0]["train_loss"] < entropy - 1e-6) == fitted, (positives, m.history[0]["train_loss"])


@short_fits
def test_a_softmax_of_189_weights_starts_at_the_optimum_of_its_rows(tmp_path):
    """10 classes of 20 features: 9 × 21 weights, more than the 64 a fit had.  5,000 rows are sampled whole, so
    the run starts at their optimum (up to the fit's ridge: its first epoch's loss, against L-BFGS's here), where
    it started at 0 (the loss log 10)."""
    from sgdcli import generate
    from test_cosine_rate import _softmax_loss, _softmax_optimum

    path = tmp_path / "classes.h5"
    generate(path, task="multiclass", classes=10, rows=5000, features=20, noise=0.5, seed=1)
    with h5py.File(path) as f:
        X, y = f["X"][:].astype(np.float64), f["y"][:].astype(np.int64)
    best = _softmax_optimum(X, y)
    m = train(path, TrainOptions(model="softmax", batch_size="full", threads=1))
    assert m.history[0]["train_loss"] == pytest.approx(best, rel=1e-4)
    assert _softmax_loss(m, X, y) < 1.001 * best
