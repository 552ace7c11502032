"""Sparse (CSR) features trained, validated, predicted and evaluated out of core (issue 18, first part)."""

import h5py
import numpy as np
import pytest

from sgdcli import evaluate, train
from sgdcli.options import TrainOptions

from conftest import cli, write_table

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
])
def test_a_csr_matrix_trains_like_its_dense_copy(files, extra):
    sparse, dense, _, _ = files
    options = {**SAME, **extra}
    a = train(sparse, TrainOptions(**options, memory=2**20))
    b = train(dense, TrainOptions(**options, memory=2**20))
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.bias, b.bias, rtol=1e-9, atol=1e-12)
    assert evaluate(a, sparse) == pytest.approx(evaluate(b, dense), rel=1e-9)
    assert a.training["read_mode"].startswith("CSR row ranges") and a.training["features"] is None


def test_defaults_on_sparse_input_scale_without_centering(files):
    sparse, _, M, _ = files
    m = train(sparse, TrainOptions(epochs=3, val_fraction=0.1))
    assert m.options["optimizer"] == "sgd"  # --optimizer auto's choice for sparse input
    dense = M.toarray().astype(np.float64)
    assert not m.center.any()  # centering would make the matrix dense
    from sgdcli.data.shuffle import validation_mask

    keep = ~validation_mask(0, M.shape[0], 0.1, 0)
    sd = dense[keep].std(axis=0)
    np.testing.assert_allclose(m.scale, np.where(sd > 0, sd, 1.0), rtol=1e-9)
    assert m.history[-1]["val_accuracy"] > 0.8


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
    assert code == 0 and "--optimizer auto: sgd (sparse input: its steps touch only" in err, err
    code, out, err = cli("evaluate", tmp_path / "m.h5", tmp_path / "s.h5ad", "--y", "obs/label", "--json")
    assert code == 0 and '"accuracy": ' in out


@pytest.mark.parametrize("args,message", [
    (["--bad-rows", "skip"], "--bad-rows skip: {f}:X is a sparse (CSR) matrix, which trains without it so far"),
    (["--parallel", "average"], "--parallel average: {f}:X is a sparse (CSR) matrix"),
    (["--features", "1,2"], "--features: {f}:X is a sparse (CSR) matrix, whose columns"),
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


def test_a_step_over_every_weight_says_what_it_costs(tmp_path, files):
    sparse = files[0]
    for extra, why in ((["--optimizer", "adam"], "--optimizer adam"),
                       (["--optimizer", "adagrad", "--l2", "1e-4"], "--optimizer adagrad, --l2"),
                       (["--optimizer", "sgd", "--l1", "1e-4", "--average"], "--average")):
        code, out, err = cli("train", sparse, "-o", tmp_path / "m.h5", *extra)
        assert code == 0 and (f"{why}: each step updates all 400 weights of the sparse input; only a batch's "
                              "columns with --optimizer sgd, or adagrad and rmsprop without --l1 and --l2, and no "
                              "--average (docs/sparse.md)") in err, err
    for extra in (["--optimizer", "rmsprop"], ["--optimizer", "sgd", "--l1", "1e-4", "--l2", "1e-4"]):
        code, out, err = cli("train", sparse, "-o", tmp_path / "m.h5", *extra)
        assert code == 0 and "each step updates all" not in err, err


def test_l1_on_sparse_input_lands_weights_on_zero_and_show_counts_them(tmp_path, files):
    """The cumulative penalty clips at zero (kernels/sparse.py); the dense subgradient only hovers near it."""
    sparse = files[0]
    code, out, err = cli("train", sparse, "-o", tmp_path / "m.h5", "--l1", "0.01", "--epochs", "3")
    assert code == 0, err
    from sgdcli import load_model

    m = load_model(tmp_path / "m.h5")
    nonzero = int((m.weights != 0).sum())
    assert 0 < nonzero < 400 * 0.8, nonzero
    code, out, err = cli("show", tmp_path / "m.h5")
    assert f"nonzero      {nonzero:,} of 400 features' weights ({nonzero / 400:.1%})" in out, out
