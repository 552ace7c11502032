"""Under --bad-rows skip the sample a run's set-up measures (training/sampling.py) holds none of the rows training
skips, those with a non-finite feature or label: it held them with their bad values zeroed, rows no epoch trains
on, and where many rows lack a value --lr auto's rate was measured on rows that do not exist."""

import h5py
import numpy as np
import pytest

from sgdcli import train
from sgdcli.data.shuffle import validation_mask
from sgdcli.data.table import Table
from sgdcli.options import TrainOptions
from sgdcli.training import rate, runrate, sampling

import test_sample_held_out as held_out
from conftest import short_fits

FRACTION, SEED = 0.3, 7


def _spanned(path, memory):
    with Table(path, memory=memory) as table:
        return np.concatenate([np.arange(a, b) for a, b in sampling.sample_spans(table, memory)])


def _dense(tmp_path, n=20000):
    """test_sample_held_out's rows (the first feature and the label the row's number, the weight one more), a
    third of them lacking their second feature (NaN), every fifth its label, one with an infinite third feature."""
    path = held_out._dense(tmp_path, n)
    rng = np.random.default_rng(0)
    with h5py.File(path, "a") as f:
        X, y = f["X"][()], f["y"][()]
        X[rng.random(n) < 1 / 3, 1] = np.nan
        y[::5] = np.nan
        X[3, 2] = np.inf
        f["X"][...], f["y"][...] = X, y
    return path, X, y


def _sparse(tmp_path):
    """test_sample_held_out's CSR rows (the first entry the row's number plus one), a NaN as the second entry of
    about a third of those that have one; which rows are bad."""
    path = held_out._sparse(tmp_path)
    rng = np.random.default_rng(1)
    with h5py.File(path, "a") as f:
        data, indptr = f["X/data"][()], f["X/indptr"][()]
        bad = (rng.random(len(indptr) - 1) < 1 / 3) & (np.diff(indptr) > 1)
        data[indptr[:-1][bad] + 1] = np.nan
        f["X/data"][...] = data
    return path, bad


@short_fits
def test_the_sample_holds_only_the_rows_skip_trains_on(tmp_path, sample_parts):
    """Its labels, weights and rows are those of the sample's spans whose features and label are finite, aligned."""
    path, X, y = _dense(tmp_path)
    options = TrainOptions(model="linear", epochs=1, bad_rows="skip", sample_weight="w", memory=1 << 20)
    train(path, options)
    spanned = _spanned(path, options.memory)
    good = spanned[np.isfinite(X[spanned]).all(axis=1) & np.isfinite(y[spanned])]
    assert 0.4 * len(spanned) < len(good) < 0.7 * len(spanned)  # rows to leave out, which it did
    assert np.array_equal(sample_parts["labels"], good)
    assert np.array_equal(sample_parts["weights"], good + 1.0)
    assert np.array_equal(sample_parts["rows"], X[good])


@short_fits
@pytest.mark.filterwarnings("ignore::sgdcli.training.runlog.ScaleWarning")  # values that name their rows: 1 to n
def test_sparse_rows_with_a_bad_value_are_left_out(tmp_path, sample_parts):
    path, bad = _sparse(tmp_path)
    options = TrainOptions(model="linear", epochs=1, bad_rows="skip", memory=1 << 20)
    train(path, options)
    spanned = _spanned(path, options.memory)
    good = spanned[~bad[spanned]]
    assert np.array_equal(sample_parts["labels"], good)
    X = sample_parts["rows"]
    assert X.n_rows == len(good) and np.array_equal(X.data[X.indptr[:-1]], good + 1)
    assert np.isfinite(X.data).all()


@short_fits
def test_held_out_rows_and_bad_rows_are_both_left_out(tmp_path, sample_parts):
    path, X, y = _dense(tmp_path)
    options = TrainOptions(model="linear", epochs=1, bad_rows="skip", val_fraction=FRACTION, seed=SEED,
                           memory=1 << 20)
    train(path, options)
    spanned = _spanned(path, options.memory)
    trained = ~validation_mask(0, len(y), FRACTION, SEED)[spanned]
    good = spanned[trained & np.isfinite(X[spanned]).all(axis=1) & np.isfinite(y[spanned])]
    assert np.array_equal(sample_parts["labels"], good)


@short_fits
def test_without_skip_the_sample_is_every_row_of_its_spans(tmp_path, sample_parts):
    """--bad-rows error: a run stops at a bad row; those the set-up reads first are measured as they are."""
    path, X, y = _dense(tmp_path)
    y[:] = np.arange(len(y))
    X[np.isnan(X)] = 0.0
    with h5py.File(path, "a") as f:
        f["y"][...] = y
        f["X"][...] = np.where(np.isfinite(X), X, 0.0)
    options = TrainOptions(model="linear", epochs=1, memory=1 << 20)
    train(path, options)
    assert np.array_equal(sample_parts["labels"], _spanned(path, options.memory))


@short_fits
def test_lr_autos_rate_is_that_of_the_finite_sampled_rows(tmp_path, monkeypatch):
    """The run's rate equals --lr auto's on a file of the sample's good rows alone."""
    path, X, y = _dense(tmp_path)
    with h5py.File(path, "a") as f:
        del f["y"]
        f["y"] = np.where(np.isfinite(y), X[:, 2] + 0.1 * np.sin(np.arange(len(y))), np.nan)
        y = f["y"][()]
    calls, real = [], runrate.auto_rate
    monkeypatch.setattr(runrate, "auto_rate", lambda *a, **kw: calls.append((a, kw, real(*a, **kw))) or calls[-1][2])
    options = TrainOptions(model="linear", epochs=1, bad_rows="skip", batch_size=32)
    train(path, options)
    spanned = _spanned(path, options.memory)
    good = spanned[np.isfinite(X[spanned]).all(axis=1) & np.isfinite(y[spanned])]
    alone = tmp_path / "alone.h5"
    with h5py.File(alone, "w") as f:
        f["X"], f["y"] = X[good], y[good]
    assert calls
    monkeypatch.setattr(sampling, "sample_spans", lambda table, memory, rows: [(0, len(good))])  # all of it, in order
    with Table(alone, memory=options.memory) as table:
        for args, kwargs, measured in calls:
            assert rate.auto_rate(sampling.Sample(table, options.memory), *args[1:], **kwargs).lr == measured.lr


def test_a_sample_of_only_bad_rows_measures_them_zeroed(tmp_path):
    """Every sampled row bad: a measure of no rows is none, so they stay (their bad values zeroed, as before)."""
    n = 100
    X = np.full((n, 2), np.nan, dtype=np.float32)
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f["X"], f["y"] = X, np.arange(n, dtype=np.float64)
    with Table(path) as table:
        drawn = sampling.Sample(table, skip_bad=True)
        assert np.array_equal(drawn.labels(), np.arange(n))
        assert np.array_equal(sampling.sample(drawn, np.zeros(2), np.ones(2)), np.column_stack(
            [np.zeros((n, 2)), np.ones(n)]))


def test_finding_the_bad_rows_holds_no_more_than_memory(tmp_path):
    """The rows read whole, their mask of finite values, the copy of the good ones and their standardized copy:
    within the bytes per value --memory counts for a sample (sampling.DENSE_SAMPLE_BYTES)."""
    import tracemalloc

    n, d, memory = 20000, 50, 1 << 20
    rng = np.random.default_rng(4)
    X = rng.standard_normal((n, d)).astype(np.float32)
    X[rng.random(n) < 0.1, 7] = np.nan
    path = tmp_path / "wide.h5"
    with h5py.File(path, "w") as f:
        f["X"], f["y"] = X, rng.standard_normal(n)
    with Table(path, memory=memory) as table:
        sampling.Sample(table, memory, skip_bad=True).labels()  # imports, caches
        drawn = sampling.Sample(table, memory, skip_bad=True)
        tracemalloc.start()
        try:
            labels = drawn.labels()
            Z = sampling.sample(drawn, np.zeros(d), np.ones(d))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert len(labels) == len(Z) < sampling.sample_size(table, memory) and np.isfinite(Z).all()
    assert peak <= memory + (1 << 18)  # numpy's ufunc buffers (8,192 values of each operand) as it standardizes
