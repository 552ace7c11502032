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


def test_a_csr_matrix_trains_like_its_dense_copy(files):
    sparse, dense, _, _ = files
    a = train(sparse, TrainOptions(**SAME, memory=2**20))
    b = train(dense, TrainOptions(**SAME, memory=2**20))
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.bias, b.bias, rtol=1e-9, atol=1e-12)
    assert evaluate(a, sparse) == pytest.approx(evaluate(b, dense), rel=1e-9)
    assert a.training["read_mode"].startswith("CSR row ranges") and a.training["features"] is None


def test_defaults_on_sparse_input_scale_without_centering(files):
    sparse, _, M, _ = files
    m = train(sparse, TrainOptions(optimizer="sgd", epochs=3, val_fraction=0.1))
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
    code, out, err = cli("train", tmp_path / "s.h5ad", "-o", tmp_path / "m.h5", "--y", "obs/label", "--optimizer",
                         "sgd", "--epochs", "10")
    assert code == 0, err
    code, out, err = cli("evaluate", tmp_path / "m.h5", tmp_path / "s.h5ad", "--y", "obs/label", "--json")
    assert code == 0 and '"accuracy": ' in out


@pytest.mark.parametrize("args,message", [
    ([], "--optimizer nesterov: {f}:X is a sparse (CSR) matrix; it trains with --optimizer sgd"),
    (["--optimizer", "sgd", "--l1", "0.1"], "--l1: {f}:X is a sparse (CSR) matrix, which trains without it so far"),
    (["--optimizer", "sgd", "--average"], "--average: {f}:X is a sparse (CSR) matrix"),
    (["--optimizer", "sgd", "--parallel", "average"], "--parallel average: {f}:X is a sparse (CSR) matrix"),
    (["--optimizer", "sgd", "--features", "1,2"], "--features: {f}:X is a sparse (CSR) matrix, whose columns"),
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
        code, out, err = cli("train", tmp_path / "c.h5", "-o", tmp_path / "m.h5", "--optimizer", "sgd", *extra)
        assert code == 2 and err.strip().endswith(
            f"c.h5:X/data: entries 500–{M.nnz - 1:,} were never written ({(M.nnz - 1) // 100 - 4} of "
            f"{-(-M.nnz // 100)} chunks unallocated); the file looks incomplete"), err
