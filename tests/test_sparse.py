"""Sparse (CSR) features trained, validated, predicted and evaluated out of core (issue 18, first part)."""

import dataclasses
import re

import h5py
import numpy as np
import pytest

from sgdcli import evaluate, train
from sgdcli.options import TrainOptions

from conftest import RSS_SAMPLER, cli, resumed_after, short_fits, write_table

scipy_sparse = pytest.importorskip("scipy.sparse")
SAME = dict(optimizer="sgd", schedule="constant", lr=0.5, standardize=False, shuffle=False, epochs=2, l2=1e-4)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("sparse")
    rng = np.random.default_rng(0)
    M = scipy_sparse.random(3000, 400, density=0.03, format="csr", dtype=np.float32, random_state=1)
    y = ((M @ rng.standard_normal(400)) + 0.2 * rng.standard_normal(3000) > 0).astype(np.int64)
    with h5py.File(d / "sparse.h5", "w") as f:
        g = f.create_group("X")
        g["data"], g["indices"], g["indptr"] = M.data, M.indices, M.indptr
        g.attrs["shape"], g.attrs["encoding-type"] = M.shape, "csr_matrix"
        f["y"] = y
    dense = write_table(d / "dense.h5", M.toarray(), y)
    return d / "sparse.h5", dense, M, y


@pytest.mark.parametrize("extra", [
    {},  # the O(nonzeros) step: the L2 scaling trick, the touched columns only
    {"optimizer": "nesterov", "lr": 0.1},  # the dense kernels' step over every weight, from the sparse gradient
    {"optimizer": "adam", "lr": 0.01, "average": True},
    {"optimizer": "momentum", "batch_size": 4},  # (L1 subgradients flip with rounding: not compared here)
    {"model": "softmax", "optimizer": "rmsprop", "lr": 0.01, "l1": 1e-4, "batch_size": None},
    # 3000 rows in batches of 16: the last 8 of each epoch dropped, in neither its loss nor its rows
    {"batch_size": 16, "drop_last": True},
    {"optimizer": "rmsprop", "lr": 0.01, "l2": 0.0, "batch_size": 16, "drop_last": True},  # the lazy step
])
@short_fits
def test_a_csr_matrix_trains_like_its_dense_copy(files, extra):
    """The same weights, and the same rows and loss in each epoch's record: sparse --drop-last counted the rows
    of the batch it dropped (and their loss), which --parallel average then weighed a shard's model by."""
    sparse, dense, _, _ = files
    options = {**SAME, **extra}
    a = train(sparse, TrainOptions(**options, memory=2**20))
    b = train(dense, TrainOptions(**options, memory=2**20))
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.bias, b.bias, rtol=1e-9, atol=1e-12)
    assert [h["rows"] for h in a.history] == [h["rows"] for h in b.history]
    assert [h["train_loss"] for h in a.history] == pytest.approx([h["train_loss"] for h in b.history], rel=1e-9)
    # the AUC is centred on each model's score at its sample's mean row (sampling.mean_row), whose CSR runs are
    # cut short by their nonzeros: two centres, each model's AUC within its bound of the exact one
    on_sparse, on_dense = evaluate(a, sparse), evaluate(b, dense)
    assert on_sparse.pop("auc", 0.0) == pytest.approx(on_dense.pop("auc", 0.0), abs=1e-5)
    assert on_sparse == pytest.approx(on_dense, rel=1e-9)
    # one model, one centre, whatever the layout evaluated: the same AUC.  The losses agree to rounding: the dense
    # kernel adds the bias first, the CSR kernel last (kernels/scoring.py), and for some models (here the nesterov
    # run's, since a logistic bias starts at the labels' log-odds) a score differs in its last bit
    dense_figures, sparse_figures = evaluate(a, dense), evaluate(a, sparse)
    assert dense_figures.pop("auc", None) == sparse_figures.pop("auc", None)
    assert dense_figures == pytest.approx(sparse_figures, rel=1e-12)
    assert a.training["read_mode"].startswith("CSR row ranges") and a.training["features"] is None


@short_fits
def test_wide_sparse_input_is_scaled_without_centering_when_asked(tmp_path):
    """5,000 columns against a default batch's 128 nonzeros: centring would make every step O(columns)
    (training/autooptimizer.py ``dense_enough``), and rare columns, not the columns' means, set the curvature."""
    rng = np.random.default_rng(0)
    M = scipy_sparse.random(3000, 5000, density=0.0008, format="csr", dtype=np.float32, random_state=1)
    y = ((M @ rng.standard_normal(5000)) + 0.01 * rng.standard_normal(3000) > 0).astype(np.int64)
    path = write_csr(tmp_path / "wide.h5", M, y)
    default = train(path, TrainOptions(epochs=1))
    assert default.options["optimizer"] == "nesterov" and default.options["standardize"] is False
    assert default.center is None
    m = train(path, TrainOptions(epochs=3, val_fraction=0.1, standardize=True))
    dense = M.toarray().astype(np.float64)
    assert not m.center.any()  # centering would make every step dense
    from sgdcli.data.shuffle import validation_mask

    keep = ~validation_mask(0, M.shape[0], 0.1, 0)
    sd = dense[keep].std(axis=0)
    np.testing.assert_allclose(m.scale, sd, rtol=1e-9)  # 0 for a constant column, as for dense rows
    assert (sd == 0).any()


def test_predictions_on_sparse_input_are_the_dense_copys(tmp_path, files):
    sparse, dense, _, _ = files
    train(sparse, TrainOptions(**SAME)).save(tmp_path / "m.h5")
    assert cli("predict", tmp_path / "m.h5", sparse, "-o", tmp_path / "a.csv", "--proba")[0] == 0
    assert cli("predict", tmp_path / "m.h5", dense, "-o", tmp_path / "b.csv", "--proba")[0] == 0
    a, b = (np.loadtxt(tmp_path / n, delimiter=",", skiprows=1) for n in ("a.csv", "b.csv"))
    np.testing.assert_array_equal(a[:, 0], b[:, 0])
    np.testing.assert_allclose(a[:, 1:], b[:, 1:], rtol=1e-12)


def test_an_anndata_file_with_a_sparse_x_trains_as_it_is(tmp_path):
    ad, pd = pytest.importorskip("anndata"), pytest.importorskip("pandas")
    M = scipy_sparse.random(500, 60, density=0.1, format="csr", dtype=np.float32, random_state=3)
    label = np.where(np.asarray(M.sum(axis=1)).ravel() > np.median(np.asarray(M.sum(axis=1))), "high", "low")
    ad.AnnData(X=M, obs=pd.DataFrame({"label": pd.Categorical(label)}, index=[str(i) for i in range(500)])) \
        .write_h5ad(tmp_path / "s.h5ad")
    code, out, err = cli("info", tmp_path / "s.h5ad")
    assert code == 0 and "CSR sparse matrix: 500 rows × 60 features" in out, out
    code, out, err = cli("train", tmp_path / "s.h5ad", "-o", tmp_path / "m.h5", "--y", "obs/label", "--epochs", "10")
    assert code == 0 and ("--optimizer auto: nesterov (sparse input, 60 columns against about 192 nonzeros a "
                          "batch: a step on every weight costs") in err, err
    code, out, err = cli("evaluate", tmp_path / "m.h5", tmp_path / "s.h5ad", "--y", "obs/label", "--json")
    assert code == 0 and '"accuracy": ' in out


@pytest.mark.parametrize("args,message", [
    (["--features", "1,2"], "--features: {f}:X is a sparse (CSR) matrix, whose columns are not selected unless they "
                            "have names (AnnData's genes)"),
])
def test_what_sparse_input_does_not_take_yet_is_a_usage_error(tmp_path, files, args, message):
    sparse = files[0]
    code, out, err = cli("train", sparse, "-o", tmp_path / "m.h5", *args)
    assert code == 2 and message.format(f=sparse) in err, err
    assert not (tmp_path / "m.h5").exists()


def test_entries_never_written_are_refused_even_with_allow_unwritten(tmp_path):
    M = scipy_sparse.random(200, 50, density=0.1, format="csr", dtype=np.float32, random_state=4)
    with h5py.File(tmp_path / "c.h5", "w") as f:
        g = f.create_group("X")
        data = g.create_dataset("data", shape=M.data.shape, chunks=(100,), dtype="f4")
        data[:500] = M.data[:500]  # the export died half-way through the values
        g["indices"], g["indptr"] = M.indices, M.indptr
        g.attrs["shape"] = M.shape
        f["y"] = np.arange(200) % 2
    for extra in ([], ["--allow-unwritten"]):
        code, out, err = cli("train", tmp_path / "c.h5", "-o", tmp_path / "m.h5", *extra)
        assert code == 2 and err.strip().endswith(
            f"c.h5:X/data: entries 500–{M.nnz - 1:,} were never written ({(M.nnz - 1) // 100 - 4} of "
            f"{-(-M.nnz // 100)} chunks unallocated); the file looks incomplete"), err


def _csr_of_parts(path, M, early=None, unwritten=None, left_out=None):
    """``M`` in a CSR group of h5py's with a shape: ``early``, the part allocated when it was created (its chunks
    in the index, written or not) with its first 500 entries written; ``unwritten``, the part created chunked and
    never written; ``left_out``, the part not there at all."""
    with h5py.File(path, "w") as f:
        g = f.create_group("X")
        for name, value in (("data", M.data), ("indices", M.indices), ("indptr", M.indptr)):
            if name == left_out:
                continue
            if name == early:
                dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
                dcpl.set_chunk((100,))
                dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
                h5py.h5d.create(g.id, name.encode(), h5py.h5t.py_create(value.dtype),
                                h5py.h5s.create_simple(value.shape), dcpl=dcpl)
                g[name][:500] = value[:500]
            elif name == unwritten:
                g.create_dataset(name, shape=value.shape, chunks=(100,), dtype=value.dtype)
            else:
                g[name] = value
        g.attrs["shape"] = M.shape
        f["y"] = np.arange(M.shape[0]) % 2
    return path


def test_a_part_of_a_csr_matrix_allocated_early_is_warned_of_as_a_dense_one_is(tmp_path):
    """Allocated when it was created (parallel HDF5), a part's entries never written cannot be told, and read as
    its fill value: train, evaluate and predict warned of a dense X so, and trained on a CSR matrix's without a
    word."""
    M = scipy_sparse.random(200, 50, density=0.1, format="csr", dtype=np.float32, random_state=4)
    path, model = _csr_of_parts(tmp_path / "c.h5", M, early="data"), tmp_path / "m.h5"
    warned = (f"sgdcli: warning: {path}:X/data: allocated when it was created (parallel HDF5, or "
              "H5D_ALLOC_TIME_EARLY), so rows never written cannot be told from written ones and would be read as "
              "its fill value; check the file where it is written (--allow-unwritten: it was)")
    for argv in (["train", path, "-o", model, "--epochs", "1", "-q"], ["evaluate", model, path],
                 ["predict", model, path, "-o", tmp_path / "p.h5"]):
        code, _, err = cli(*argv)
        assert code == 0 and err.splitlines().count(warned) == 1, err
        assert "allocated when" not in cli(*argv, "--allow-unwritten")[2]


def test_an_indptr_never_written_is_said_so(tmp_path):
    """Its fill values were read as the rows' offsets first: "indptr must run from 0 to the 1,000 entries of data
    and indices; it runs from 0 to 0"."""
    M = scipy_sparse.random(200, 50, density=0.1, format="csr", dtype=np.float32, random_state=4)
    path = _csr_of_parts(tmp_path / "c.h5", M, unwritten="indptr")
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5")
    assert (code, err) == (2, f"sgdcli: error: {path}:X/indptr: rows 0–200 were never written (3 of 3 chunks "
                              "unallocated); the file looks incomplete\n")


@pytest.mark.parametrize("left_out", ["data", "indices", "indptr"])
def test_a_csr_matrix_without_one_of_its_parts_is_said_so(tmp_path, left_out):
    """A group with a shape and two of the three was read as a group of columns: "column 'indptr' has 201 rows
    but 'data' has 1,000", or, where the labels had as many rows as the entries, a model of 2 features trained on
    ``data`` and ``indices`` as columns, exit 0."""
    M = scipy_sparse.random(200, 50, density=0.1, format="csr", dtype=np.float32, random_state=4)
    path = _csr_of_parts(tmp_path / "c.h5", M, left_out=left_out)
    with h5py.File(path, "a") as f:  # labels of as many rows as the entries: trained on before, exit 0
        del f["y"]
        f["y"] = np.arange(M.nnz) % 2
    for argv in (["train", path, "-o", tmp_path / "m.h5"], ["info", path]):
        code, out, err = cli(*argv)
        message = (f"{path}:X: a CSR matrix without its '{left_out}' dataset (a CSR matrix holds data, indices "
                   "and indptr)")
        assert (code, err) == (2, f"sgdcli: error: {message}\n") if argv[0] == "train" else message in out, (out, err)
    assert not (tmp_path / "m.h5").exists()


def test_l1_on_sparse_input_lands_weights_on_zero_and_show_counts_them(tmp_path, files):
    """The cumulative penalty clips at zero (kernels/sparse.py)."""
    sparse = files[0]
    code, out, err = cli("train", sparse, "-o", tmp_path / "m.h5", "--l1", "0.001", "--epochs", "3",
                         "--no-standardize")  # unscaled: the lazy steps (centred rows step on every weight)
    assert code == 0, err
    from sgdcli import load_model

    m = load_model(tmp_path / "m.h5")
    nonzero = int((m.weights != 0).sum())
    assert 0 < nonzero < 400 * 0.8, nonzero
    code, out, err = cli("show", tmp_path / "m.h5")
    assert f"nonzero      {nonzero:,} of 400 features' weights ({nonzero / 400:.1%})" in out, out


def write_csr(path, M, y):
    with h5py.File(path, "w") as f:
        g = f.create_group("X")
        g["data"], g["indices"], g["indptr"] = M.data, M.indices, M.indptr
        g.attrs["shape"] = M.shape
        f["y"] = y
    return path


def test_evaluate_and_predict_name_the_first_non_finite_row_of_sparse_input(tmp_path, files):
    sparse, _, M, y = files
    model = train(sparse, TrainOptions(**SAME))
    model.save(tmp_path / "m.h5")
    M = M.copy()
    M.data[M.indptr[1200]] = np.inf
    M.data[M.indptr[77]] = np.nan
    write_csr(tmp_path / "bad.h5", M, y)
    for argv in (["evaluate", tmp_path / "m.h5", tmp_path / "bad.h5"],
                 ["predict", tmp_path / "m.h5", tmp_path / "bad.h5", "-o", tmp_path / "p.csv"]):
        code, _, err = cli(*argv)
        assert (code, err.strip().splitlines()[-1]) == (2, f"sgdcli: error: {tmp_path / 'bad.h5'}:X: non-finite "
                                                           f"feature value at row 77, column {M.indices[M.indptr[77]]}"), err
    assert not (tmp_path / "p.csv").exists()


def test_a_model_too_large_for_memory_is_refused_before_it_is_allocated(tmp_path):
    """A file hashed into 2^31 columns (convert --hash-bits 31) had train killed by the out-of-memory killer,
    exit 137 with no message; under a memory limit it advised a smaller --memory or --batch-size."""
    import scipy.sparse as sp

    M = sp.csr_matrix((np.ones(4), ([0, 1, 2, 3], [0, 5, 2**40 - 1, 9])), shape=(4, 2**40))
    write_csr(tmp_path / "wide.h5", M, np.array([0, 1, 0, 1]))
    code, _, err = cli("train", tmp_path / "wide.h5", "-o", tmp_path / "m.h5", "--batch-size", "2")
    assert code == 2 and err.strip().splitlines()[-1].startswith(
        f"sgdcli: error: {tmp_path / 'wide.h5'}:X: a model of its 1,099,511,627,776 features (1 output) needs about "
        "72.0 TiB for its weights, their gradient and the optimizer's state, more than the "), err
    assert err.strip().endswith("this process may use; use fewer features (convert with a smaller --hash-bits)")
    assert not (tmp_path / "m.h5").exists()


def test_bad_rows_skip_trains_on_the_other_rows(tmp_path, files):
    _, _, M, y = files
    bad = [5, 77, 1200]
    M, y = M.copy(), y.astype(np.float64)
    for r in bad:
        M.data[M.indptr[r]] = np.nan if r != 77 else np.inf
    y[0] = np.nan  # row 0's label: the one compiling the kernels read
    keep = np.setdiff1d(np.arange(M.shape[0]), [0, *bad])
    options = TrainOptions(**{**SAME, "shuffle": True}, bad_rows="skip", val_fraction=0.1, memory=2**20)
    a = train(write_csr(tmp_path / "bad.h5", M, y), options)
    assert a.training["bad_rows"] == 4
    code, out, err = cli("train", tmp_path / "bad.h5", "-o", tmp_path / "m.h5", "--no-shuffle")
    assert code == 2 and "row 0" in err, err
    b = train(write_csr(tmp_path / "clean.h5", M[keep], y[keep]), TrainOptions(**SAME, memory=2**20))
    assert a.history[-1]["train_loss"] == pytest.approx(b.history[-1]["train_loss"], rel=0.05)


def test_a_resume_after_a_dropped_batch_of_sparse_rows_trains_the_uninterrupted_runs_model(tmp_path, files,
                                                                                         monkeypatch):
    """The columns the dropped batch touched stayed listed for the next epoch's first step (a resume starts
    without that list), which caught up the lazy RMSprop decays of those columns in another order."""
    from sgdcli.engine import epoch

    monkeypatch.setattr(epoch, "SLICE_ROWS", 500)  # six safe points an epoch
    sparse = files[0]
    options = TrainOptions(**{**SAME, "optimizer": "rmsprop", "lr": 0.01, "l2": 0.0}, batch_size=16, drop_last=True,
                           threads=1)
    straight = train(sparse, options)
    for stop_at in range(6, 10):  # around the end of the first epoch
        resumed = resumed_after(sparse, options, tmp_path / f"ck{stop_at}.h5", stop_at)
        assert resumed.weights.tobytes() == straight.weights.tobytes(), stop_at


def test_parallel_average_on_sparse_input_trains_and_repeats(files):
    """Shards are made of the file's windows, which differ from the dense copy's: compared by loss, and by
    bytes between two runs."""
    sparse = files[0]
    options = TrainOptions(epochs=4, parallel="average", threads=2, sync_every=5, memory=2**20, val_fraction=0.2,
                           l1=1e-4)
    a, b = train(sparse, options), train(sparse, options)
    assert a.weights.tobytes() == b.weights.tobytes() and a.training["sync_every"] == 5
    one = train(sparse, dataclasses.replace(options, parallel="batch", sync_every=None))
    assert a.history[-1]["val_loss"] == pytest.approx(one.history[-1]["val_loss"], rel=0.2)


SPARSE_PEAK = RSS_SAMPLER + """
from sgdcli import train
from sgdcli.options import TrainOptions
train(sys.argv[1], TrainOptions(memory=4 * 2**20, epochs=1, batch_size=256))
time.sleep(0.05)
print(peak[0])
"""


def test_memory_of_sparse_training_is_bounded_by_the_budget_not_the_file(tmp_path):
    """Entries of 16× the --memory budget, and an eighth of them, over 2^18 columns: the larger file's peak
    anonymous memory is within a fraction of the extra entries of the smaller's, and under the budget + 150 MiB
    (the interpreter, NumPy, Numba, h5py and the read-ahead) + the model (weights, gradient, optimizer slots, and
    the clocks of momentum's catch-ups)."""
    import subprocess
    import sys

    from sgdcli.training.setup import SPARSE_CLOCKS

    rng = np.random.default_rng(7)
    peaks, sizes, per_row = [], (50_000, 400_000), 14  # 400,000 × 14 entries × 12 bytes: 64 MiB
    for rows in sizes:
        indptr = np.arange(rows + 1, dtype=np.int64) * per_row
        indices = rng.integers(0, 1 << 18, size=rows * per_row).astype(np.int32)
        indices = np.sort(indices.reshape(rows, per_row), axis=1).ravel()
        data = rng.standard_normal(rows * per_row).astype(np.float32)
        with h5py.File(tmp_path / f"s{rows}.h5", "w") as f:
            g = f.create_group("X")
            g.create_dataset("data", data=data, chunks=(65536,))
            g.create_dataset("indices", data=indices, chunks=(65536,))
            g.create_dataset("indptr", data=indptr, chunks=(16384,))
            g.attrs["shape"] = (rows, 1 << 18)
            f["y"] = (data.reshape(rows, per_row)[:, 0] > 0).astype(np.int64)
        out = subprocess.run([sys.executable, "-c", SPARSE_PEAK, str(tmp_path / f"s{rows}.h5")], capture_output=True,
                             text=True, check=True)
        peaks.append(int(out.stdout.split()[-1]))
    extra = (sizes[1] - sizes[0]) * per_row * 12  # the extra entries, were they held
    assert peaks[1] - peaks[0] < extra / 4, peaks
    model = (5 + SPARSE_CLOCKS) * ((1 << 18) + 1) * 8
    assert peaks[1] < 4 * 2**20 + 150 * 2**20 + model, peaks


def test_a_matrix_stored_by_columns_is_refused_with_what_to_write(tmp_path):
    """AnnData writes CSC as readily as CSR; sgdcli streams rows, so it says to store the matrix by rows."""
    anndata = pytest.importorskip("anndata")
    X = scipy_sparse.random(50, 6, density=0.3, format="csc", random_state=0, dtype=np.float32)
    path = tmp_path / "csc.h5ad"
    anndata.AnnData(X=X).write_h5ad(path)
    with h5py.File(path, "a") as f:
        f["y"] = np.arange(50) % 2
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5")
    assert (code, err.strip().splitlines()[-1]) == (
        2, f"sgdcli: error: {path}:X: is a sparse matrix stored by columns (csc_matrix); sgdcli reads sparse "
           "matrices stored by rows: write it as a csr_matrix (scipy's .tocsr())")


def test_columns_of_very_different_scales_get_a_note_that_standardize_scales_them(tmp_path):
    """Nonzero values 1 to 100 times apart by column slow unstandardized SGD (docs/sparse.md); a rare column,
    whose values are as large as the others', does not count as small."""
    import scipy.sparse

    from sgdcli.training.runlog import SPREAD_ENTRIES, value_spread

    values = np.tile([1.0, -3.0, 0.0, 2.0, 4.0], SPREAD_ENTRIES)
    columns = np.tile([0, 0, 1, 2, 2], SPREAD_ENTRIES)
    assert value_spread(values, columns) == pytest.approx(np.sqrt(10) / np.sqrt(5))
    # a column of fewer values than SPREAD_ENTRIES has no scale to speak of: not counted
    rare = np.full(SPREAD_ENTRIES - 1, 1000.0)
    assert value_spread(np.append(values, rare), np.append(columns, np.full(len(rare), 3))) == pytest.approx(
        np.sqrt(10) / np.sqrt(5))
    assert value_spread(np.append(values, [*rare, 1000.0]), np.append(columns, np.full(len(rare) + 1, 3))) == \
        pytest.approx(1000.0 / np.sqrt(5))
    rng = np.random.default_rng(0)
    X = np.abs(rng.standard_normal((4000, 10))) * (rng.random((4000, 10)) < 0.2)
    X[:, 9] *= rng.random(4000) < 0.01  # rare: in 1 row of 500
    y = (X @ rng.standard_normal(10) > 0).astype(np.int64)
    for scales, noted in ((np.ones(10), False), (np.logspace(0, 2, 10), True)):
        path = write_csr(tmp_path / "s.h5", scipy.sparse.csr_matrix(X * scales), y)
        # (rows this dense are standardized by default: tests/test_sparse_centred.py)
        code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--epochs", "1", "--no-standardize")
        assert code == 0, err
        notes = [line.split(" ", 1)[1] for line in err.splitlines() if "note:" in line]
        assert len(notes) == noted and all(n.startswith("note: the columns' nonzero values differ in scale by up "
                                                        "to ") and n.endswith("--standardize scales them "
                                                                               "(docs/sparse.md)") for n in notes)
        code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--epochs", "1", "--standardize")
        assert code == 0 and "note:" not in err


@pytest.mark.parametrize("shuffle", [False, True])
def test_threads_that_average_share_the_rows_bad_rows_skip_leaves_in_sparse_rows(tmp_path, shuffle):
    """As on dense rows (test_averaging.py): the shares were cut equal in the rows not held out, bad ones
    included, so with the first 30% of labels NaN the step clock ran past the 140 updates the cosine schedule
    counts (to 200 without the shuffle, 142 with it), the last at rate 0."""
    rng = np.random.default_rng(0)
    M = scipy_sparse.random(20000, 400, density=0.03, format="csr", dtype=np.float32, random_state=1)
    y = ((M @ rng.standard_normal(400)) > 0).astype(np.float64)
    y[:6000] = np.nan
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        g = f.create_group("X")
        g["data"], g["indices"], g["indptr"] = M.data, M.indices, M.indptr
        g.attrs["shape"], g.attrs["encoding-type"] = M.shape, "csr_matrix"
        f["y"] = y
    model = train(tmp_path / "bad.h5", TrainOptions(epochs=2, parallel="average", threads=2, memory=2**20,
                                                    bad_rows="skip", shuffle=shuffle, batch_size=100, lr=0.1))
    assert model.training["iterations_per_epoch"] == 2 * 70  # 7,000 rows a share, 70 steps of 100
    assert model.training["updates"] == 2 * 70 and [h["iterations"] for h in model.history] == [140, 140]
    assert model.history[-1]["lr"] > 0


def test_columns_of_one_scale_present_a_few_times_each_are_not_told_they_differ(tmp_path):
    """Thousands of columns, each nonzero in a few rows, every value drawn alike: a column's root mean square over
    one or two values is the size of a draw, and the smallest and largest of thousands were 8,640 times apart, a
    warning whose --standardize raised the held-out loss from 0.65 to 2.94 (helper-147's M1).  Columns present
    often enough to have a scale are measured as before (the tests above and below)."""
    rng = np.random.default_rng(0)
    M = scipy_sparse.random(2000, 5000, density=0.002, format="csr", random_state=1,
                            data_rvs=lambda n: rng.exponential(1.0, n)).astype(np.float32)
    y = (M @ rng.standard_normal(5000) + 0.1 * rng.standard_normal(2000) > 0).astype(np.int64)
    path = write_csr(tmp_path / "rare.h5", M, y)
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--epochs", "1", "--progress", "plain")
    assert code == 0 and "differ in scale" not in err, err


def test_columns_of_scales_a_thousand_times_apart_are_warned_that_the_model_may_be_far(tmp_path):
    """Word columns of 1 beside amounts of 1,000 to 100,000: the rate sized for the largest leaves the smallest
    crawling, and an unscaled run ended 1,665% above the optimum (linear; logistic 134%) with a note that -q hid
    and the model did not keep.  From 1,000 times apart (where runs ended 96% and 7.6% above the
    optimum: docs/sparse.md) it is a warning, kept in the model; --standardize, its cure, says nothing."""
    import scipy.sparse

    from sgdcli import load_model

    rng = np.random.default_rng(0)
    words = (rng.random((4000, 200)) < 0.05).astype(np.float64)
    amounts = rng.lognormal(0, 1, (4000, 3)) * np.array([1e3, 1e4, 1e5]) * (rng.random((4000, 3)) < 0.5)
    X = np.hstack([words, amounts])
    y = X @ np.append(rng.standard_normal(200), [1e-3, 1e-4, 1e-5]) + rng.standard_normal(4000)
    path = write_csr(tmp_path / "mixed.h5", scipy.sparse.csr_matrix(X), y)
    # (rows this dense are standardized by default: tests/test_sparse_centred.py)
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "linear", "-q", "--no-standardize")
    assert code == 0
    found = re.fullmatch(r"sgdcli: warning: the columns' nonzero values differ in scale by up to ([\d.e+]+) times on a "
                         r"sample of rows: the rate sized for the largest leaves the smallest crawling, and the model "
                         r"may be far from the optimum; use --standardize, which scales them \(docs/sparse.md\)\n",
                         err)
    assert found is not None and float(found[1]) > 1e4, err
    assert load_model(tmp_path / "m.h5").training["warnings"] == [err[len("sgdcli: warning: "):].rstrip("\n")]
    code, _, err = cli("train", path, "-o", tmp_path / "warm.h5", "--model", "linear", "-q", "--standardize",
                       "--init", tmp_path / "m.h5")  # in the initial model's units, unscaled, whatever --standardize
    assert code == 0 and err.endswith("; use --standardize with --restandardize (--init keeps the initial model's "
                                      "units, unscaled), which scales them (docs/sparse.md)\n"), err
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "linear", "-q", "--standardize")
    assert (code, err) == (0, "")
