"""The sample a run's set-up measures (training/sampling.py: --lr auto's rate, where the weights start, the AUC's
centre, the full-batch end's fit) holds the rows the run trains on, never those --val-fraction holds out: the
validation metrics measure rows the run never saw, its set-up included."""

import math

import h5py
import numpy as np
import pytest

from sgdcli import train
from sgdcli.data.shuffle import validation_mask
from sgdcli.data.table import Table
from sgdcli.options import TrainOptions
from sgdcli.training import rate, run as run_mod, runrate, sampling

from conftest import short_fits

FRACTION, SEED = 0.3, 7


def sampled_rows(path, memory, held_out: bool = False):
    """The rows of ``path`` in its sample's spans (sampling.sample_spans) that --val-fraction FRACTION at --seed
    SEED trains on (``held_out``: those it holds out instead), in the order read."""
    with Table(path, memory=memory) as table:
        rows = np.concatenate([np.arange(a, b) for a, b in sampling.sample_spans(table, memory)])
    return rows[validation_mask(0, int(rows.max()) + 1, FRACTION, SEED)[rows] == held_out]


def _dense(tmp_path, n=20000):
    """Rows whose first feature and label are the row's number, and whose weight is one more."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 4)).astype(np.float32)
    X[:, 0] = np.arange(n)
    path = tmp_path / "dense.h5"
    with h5py.File(path, "w") as f:
        f["X"], f["y"], f["w"] = X, np.arange(n, dtype=np.float64), np.arange(n, dtype=np.float64) + 1.0
    return path


def _sparse(tmp_path, n=20000, d=50):
    """CSR rows whose first entry (column 0) is the row's number plus one, and whose label is the row's number."""
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 6, n)
    indptr = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    indices = np.concatenate([np.concatenate(([0], np.sort(rng.choice(np.arange(1, d), k - 1, replace=False))))
                              for k in lengths]).astype(np.int64)
    data = rng.uniform(0.5, 2.0, indptr[-1]).astype(np.float32)
    data[indptr[:-1]] = np.arange(n) + 1
    path = tmp_path / "sparse.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("X")
        g["data"], g["indices"], g["indptr"] = data, indices, indptr
        g.attrs["shape"], g.attrs["encoding-type"] = (n, d), "csr_matrix"
        f["y"] = np.arange(n, dtype=np.float64)
    return path


@short_fits
@pytest.mark.filterwarnings("ignore::sgdcli.training.runlog.ScaleWarning")  # values that name their rows: 1 to n
@pytest.mark.parametrize("layout", ["dense", "sparse"])
def test_a_runs_sample_holds_none_of_the_rows_val_fraction_holds_out(tmp_path, sample_parts, layout):
    """Its labels, weights and rows are those of the training rows of the sample's spans, aligned."""
    path = (_dense if layout == "dense" else _sparse)(tmp_path)
    options = TrainOptions(model="linear", epochs=1, val_fraction=FRACTION, seed=SEED, memory=1 << 20,
                           **({"sample_weight": "w"} if layout == "dense" else {}))
    train(path, options)
    rows = sampled_rows(path, options.memory)
    assert len(sampled_rows(path, options.memory, held_out=True)) > 0  # rows to leave out, which it did
    assert np.array_equal(sample_parts["labels"], rows)
    if layout == "dense":
        assert np.array_equal(sample_parts["weights"], rows + 1.0)
        assert np.array_equal(sample_parts["rows"][:, 0], rows)
    else:
        X = sample_parts["rows"]
        assert X.n_rows == len(rows) and np.array_equal(X.data[X.indptr[:-1]], rows + 1)
        assert X.indptr[-1] == len(X.data) == len(X.indices) and np.all(X.indices[X.indptr[:-1]] == 0)


@pytest.fixture
def leaky(tmp_path):
    """A count regression whose rows --val-fraction holds out have labels and features far from those it trains
    on: any of them in the sample moves where poisson's bias starts, and --lr auto's rate."""
    rng = np.random.default_rng(2)
    n = 300  # the sample's one span: rows 0 .. 255 (sampling.sample_spans)
    X = rng.standard_normal((n, 3)).astype(np.float32)
    y = rng.poisson(np.exp(0.3 * X[:, 0] + 1.0)).astype(np.float64)
    out = validation_mask(0, n, FRACTION, SEED)
    X[out] *= 10.0
    y[out] = 100.0
    path = tmp_path / "leaky.h5"
    with h5py.File(path, "w") as f:
        f["X"], f["y"] = X, y
    return path, X, y


@short_fits
def test_where_poissons_bias_starts_is_the_log_of_the_sampled_training_rows_mean(tmp_path, monkeypatch, leaky):
    path, X, y = leaky
    starts, real = [], run_mod.start_weights
    monkeypatch.setattr(run_mod, "start_weights", lambda *a, **kw: starts.append(real(*a, **kw)) or starts[-1])
    options = TrainOptions(model="poisson", epochs=1, val_fraction=FRACTION, seed=SEED)
    train(path, options)
    assert starts[0][-1] == pytest.approx(math.log(y[sampled_rows(path, options.memory)].mean()), rel=1e-12)


@short_fits
def test_lr_autos_rate_is_that_of_the_sampled_training_rows(tmp_path, monkeypatch, leaky):
    """The run's rate equals --lr auto's on a file of the sample's training rows alone, measured with the run's
    standardization and settings."""
    path, X, y = leaky
    calls, real = [], runrate.auto_rate
    monkeypatch.setattr(runrate, "auto_rate", lambda *a, **kw: calls.append((a, kw, real(*a, **kw))) or calls[-1][2])
    options = TrainOptions(model="poisson", epochs=1, val_fraction=FRACTION, seed=SEED, batch_size=32)
    train(path, options)
    rows = sampled_rows(path, options.memory)
    alone = tmp_path / "alone.h5"
    with h5py.File(alone, "w") as f:
        f["X"], f["y"] = X[rows], y[rows]
    assert calls
    with Table(alone, memory=options.memory) as table:
        assert sampling.sample_spans(table, options.memory) == [(0, len(rows))]  # all of it, in order
        for args, kwargs, measured in calls:
            assert rate.auto_rate(sampling.Sample(table, options.memory), *args[1:], **kwargs).lr == measured.lr


@short_fits
def test_a_sample_whose_runs_hold_no_training_row_is_the_first_training_row_after_them(tmp_path, sample_parts):
    """A sample of a few rows (wide rows in a small --memory), all of them held out: the run still measures a
    training row (every measure of no rows was NaN, or an internal error), the first one after the first run."""
    n, d, memory, fraction = 2000, 1000, 1 << 20, 0.97
    rng = np.random.default_rng(3)
    path = tmp_path / "wide.h5"
    with h5py.File(path, "w") as f:
        f["X"], f["y"] = rng.standard_normal((n, d)).astype(np.float32), np.arange(n, dtype=np.float64)
    with Table(path, memory=memory) as table:
        spans = sampling.sample_spans(table, memory)
    rows = np.concatenate([np.arange(a, b) for a, b in spans])
    seed = next(s for s in range(1000) if validation_mask(0, n, fraction, s)[rows].all())
    trained = np.flatnonzero(~validation_mask(0, n, fraction, seed))
    train(path, TrainOptions(model="linear", epochs=1, val_fraction=fraction, seed=seed, memory=memory))
    assert np.array_equal(sample_parts["labels"], [trained[trained >= spans[0][0]][0]])
    assert sample_parts["rows"].shape == (1, d)


@short_fits
def test_a_run_validated_on_a_val_file_samples_every_row_of_its_runs(tmp_path, sample_parts):
    """--val FILE holds out none of the training file's rows (it cannot be combined with --val-fraction)."""
    import shutil

    path = _dense(tmp_path)
    val = shutil.copy(path, tmp_path / "val.h5")
    options = TrainOptions(model="linear", epochs=1, val=str(val), seed=SEED, memory=1 << 20)
    train(path, options)
    with Table(path, memory=options.memory) as table:
        rows = np.concatenate([np.arange(a, b) for a, b in sampling.sample_spans(table, options.memory)])
    assert np.array_equal(sample_parts["labels"], rows)
