"""Columns named outside the matrix: AnnData's genes (``var``), dense and sparse, and xarray's coordinate.

A model keeps the names of its features; predict, evaluate and ``train --init`` on a file with the same
columns in another order read them by name, so they give what the file in the training order gives, row for
row.  Each file here is written by the library that writes such files."""

import json

import h5py
import numpy as np
import pytest

from conftest import cli, make_problem

N, D = 1200, 6
GENES = [f"gene{j}" for j in range(D)]
ORDER = [3, 0, 5, 1, 4, 2]  # the columns of the reordered files: gene3, gene0, ...


def need(module: str):
    return pytest.importorskip(module, reason=f"{module} is not installed (pip install '.[test]' installs it)")


@pytest.fixture(scope="module")
def data():
    X, y = make_problem("binary", n=N, d=D, seed=7)
    X[X < -0.5] = 0  # zeros, so that a CSR copy is sparse
    return X, y


def features(model):
    """The model card's ``training.features``, as ``show --json`` prints it."""
    code, out, err = cli("show", model, "--json")
    assert code == 0, err
    return json.loads(out)["training"]["features"]


def write_anndata(path, X, y, genes, sparse=False, index=None):
    ad, pd = need("anndata"), need("pandas")
    obs = pd.DataFrame({"label": pd.Categorical.from_codes(y, ["neg", "pos"])}, index=[str(i) for i in range(len(y))])
    var = pd.DataFrame(index=pd.Index(genes, name=index))
    if sparse:
        X = need("scipy.sparse").csr_matrix(X)
    ad.AnnData(X=X, obs=obs, var=var).write_h5ad(path)
    return ["--x", "X", "--y", "obs/label"]


def write_xarray(path, X, y, names):
    xr = need("xarray")
    need("h5netcdf")
    xr.Dataset({"X": (("row", "feature"), X), "y": ("row", y.astype(np.float64))},
               coords={"feature": names}).to_netcdf(path, engine="h5netcdf")
    return []


WRITERS = {
    "AnnData dense": lambda path, X, y, names: write_anndata(path, X, y, names),
    "AnnData sparse": lambda path, X, y, names: write_anndata(path, X, y, names, sparse=True),
    "AnnData named index": lambda path, X, y, names: write_anndata(path, X, y, names, index="symbol"),
    "xarray": write_xarray,
}


@pytest.mark.parametrize("producer", WRITERS)
def test_a_file_with_its_columns_reordered_is_scored_and_continued_by_name(tmp_path, data, producer):
    X, y = data
    write = WRITERS[producer]
    flags = write(tmp_path / "train.h5", X, y, GENES)
    write(tmp_path / "new.h5", X[:, ORDER], y, [GENES[j] for j in ORDER])
    assert cli("train", tmp_path / "train.h5", *flags, "-o", tmp_path / "m.h5", "-q", "--epochs", "2")[0] == 0
    assert features(tmp_path / "m.h5") == GENES
    results = {}
    for name in ("train", "new"):
        data_file = tmp_path / f"{name}.h5"
        code, out, err = cli("evaluate", tmp_path / "m.h5", data_file, *flags)
        assert code == 0, err
        results[name] = out
        x_flags = flags[:2]
        code, out, err = cli("predict", tmp_path / "m.h5", data_file, *x_flags, "-o", tmp_path / f"{name}.csv",
                             "--proba")
        assert code == 0, err
        code, out, err = cli("train", data_file, *flags, "--init", tmp_path / "m.h5", "--epochs", "1", "-q",
                             "-o", tmp_path / f"{name}_more.h5")
        assert code == 0, err
    assert results["new"] == results["train"]
    assert (tmp_path / "new.csv").read_text() == (tmp_path / "train.csv").read_text()
    with h5py.File(tmp_path / "new_more.h5") as a, h5py.File(tmp_path / "train_more.h5") as b:
        np.testing.assert_array_equal(a["weights"][()], b["weights"][()])


def test_info_lists_the_genes_and_the_coordinate_as_the_features(tmp_path, data):
    X, y = data
    write_anndata(tmp_path / "dense.h5ad", X, y, GENES)
    write_anndata(tmp_path / "sparse.h5ad", X, y, GENES, sparse=True)
    write_xarray(tmp_path / "x.nc", X, y, [10 * j for j in range(D)])
    code, out, err = cli("info", tmp_path / "dense.h5ad")
    assert code == 0 and out.splitlines()[-1].startswith(
        f"  matrix: {N} rows × {D} features (gene0, gene1, gene2, gene3, gene4, gene5), read"), out
    code, out, err = cli("info", tmp_path / "sparse.h5ad")
    assert code == 0 and f"CSR sparse matrix: {N} rows × {D} features (gene0, gene1, gene2, gene3, gene4, " \
                          "gene5; " in out, out
    code, out, err = cli("info", tmp_path / "x.nc")
    assert code == 0 and f"X, y: {N} rows × {D} features (0, 10, 20, 30, 40, 50)" in out, out


def test_layers_and_raw_are_named_by_their_var_and_features_picks_genes_of_a_sparse_matrix(tmp_path, data):
    ad, pd = need("anndata"), need("pandas")
    sp = need("scipy.sparse")
    X, y = data
    obs = pd.DataFrame({"label": pd.Categorical.from_codes(y, ["neg", "pos"])}, index=[str(i) for i in range(N)])
    a = ad.AnnData(X=sp.csr_matrix(X), obs=obs, var=pd.DataFrame(index=GENES))
    a.layers["counts"] = X * 2
    a.raw = a
    a = a[:, ORDER].copy()  # X and the layer in the new order; raw keeps the genes as they were
    a.write_h5ad(tmp_path / "a.h5ad")
    for x, names in (("X", [GENES[j] for j in ORDER]), ("layers/counts", [GENES[j] for j in ORDER]),
                     ("raw/X", GENES)):
        out = tmp_path / f"{x.replace('/', '_')}.h5"
        assert cli("train", tmp_path / "a.h5ad", "--x", x, "--y", "obs/label", "-o", out, "-q", "--epochs", "1")[0] == 0
        assert features(out) == names, x
    picked = tmp_path / "picked.h5"
    code, out, err = cli("train", tmp_path / "a.h5ad", "--x", "X", "--y", "obs/label", "--features", "gene5,gene1",
                         "-o", picked, "-q", "--epochs", "1")
    assert code == 0, err
    assert features(picked) == ["gene5", "gene1"]


def test_a_model_without_names_reads_a_named_file_by_position_as_before(tmp_path, data):
    """A model trained on a file whose columns have no names (every model of an .h5ad or .nc file before
    sgdcli read those names) scores the columns in the order they are stored."""
    X, y = data
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["X"], f["y"] = X, y
    assert cli("train", tmp_path / "plain.h5", "-o", tmp_path / "m.h5", "-q", "--epochs", "1")[0] == 0
    write_anndata(tmp_path / "a.h5ad", X, y, [GENES[j] for j in ORDER])
    assert cli("predict", tmp_path / "m.h5", tmp_path / "a.h5ad", "-o", tmp_path / "a.csv")[0] == 0
    assert cli("predict", tmp_path / "m.h5", tmp_path / "plain.h5", "-o", tmp_path / "p.csv")[0] == 0
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "p.csv").read_text()


def test_a_named_model_scoring_a_file_without_names_says_it_reads_it_by_position(tmp_path, data):
    """Nothing can check that an unnamed matrix holds the model's columns in its order: predict and evaluate
    score it by position, as they did, and say so in one line on stderr; with --features (positions chosen)
    or a file with names, nothing is said."""
    X, y = data
    write_xarray(tmp_path / "train.nc", X, y, GENES)
    assert cli("train", tmp_path / "train.nc", "-o", tmp_path / "m.h5", "-q", "--epochs", "1")[0] == 0
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["X"], f["y"] = X, y.astype(np.float64)
    note = (f"sgdcli: warning: {tmp_path / 'plain.h5'}:X: has no column names (none, or 0, 1, 2, ... in order, its "
            f"positions); its {D} columns are read by position as the "
            "model's features ('gene0', 'gene1', 'gene2', ...), in that order\n")
    code, out, err = cli("evaluate", tmp_path / "m.h5", tmp_path / "plain.h5")
    assert code == 0 and err.splitlines(keepends=True)[0] == note, err
    code, _, err = cli("predict", tmp_path / "m.h5", tmp_path / "plain.h5", "-o", tmp_path / "p.csv")
    assert code == 0 and err.splitlines(keepends=True)[0] == note, err
    code, _, err = cli("predict", tmp_path / "m.h5", tmp_path / "train.nc", "-o", tmp_path / "a.csv")
    assert code == 0 and "position" not in err, err
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "p.csv").read_text()
    code, _, err = cli("evaluate", tmp_path / "m.h5", tmp_path / "plain.h5", "--features", "0,1,2,3,4,5")
    assert code == 0 and "position" not in err, err


def test_a_missing_gene_and_a_gene_named_twice_are_errors_that_name_them(tmp_path, data):
    X, y = data
    flags = write_anndata(tmp_path / "train.h5ad", X, y, GENES)
    assert cli("train", tmp_path / "train.h5ad", *flags, "-o", tmp_path / "m.h5", "-q", "--epochs", "1")[0] == 0
    write_anndata(tmp_path / "short.h5ad", X[:, 1:], y, GENES[1:])
    code, out, err = cli("evaluate", tmp_path / "m.h5", tmp_path / "short.h5ad", *flags)
    assert code == 2 and err.strip() == (f"sgdcli: error: {tmp_path / 'short.h5ad'}:X: has no column 'gene0', which "
                                         f"the model was trained on (1 of its {D} features missing)"), err
    with pytest.warns(UserWarning):  # anndata warns of names that are not unique
        write_anndata(tmp_path / "twice.h5ad", X[:, ORDER + [4]], y, [GENES[j] for j in ORDER] + ["gene4"])
    code, out, err = cli("evaluate", tmp_path / "m.h5", tmp_path / "twice.h5ad", *flags)
    assert code == 2 and err.strip() == (
        f"sgdcli: error: {tmp_path / 'twice.h5ad'}:X: has more than one column named 'gene4', so it cannot be read by "
        "name; give each column its own name (AnnData: var_names_make_unique())"), err


def test_a_numeric_coordinate_of_the_positions_is_no_names(tmp_path):
    """xarray's coordinate 0, 1, 2, ... names nothing: the model knows its columns by position."""
    X, y = make_problem("binary", n=300, d=3, seed=1)
    write_xarray(tmp_path / "x.nc", X, y, [0, 1, 2])
    assert cli("train", tmp_path / "x.nc", "-o", tmp_path / "m.h5", "-q", "--epochs", "1")[0] == 0
    assert features(tmp_path / "m.h5") is None


def test_columns_named_like_numbers_are_names_where_the_file_does_not_number_its_columns(tmp_path):
    """A pandas frame of columns '2', '0', '1' trained on --features 0,1 kept no names (its features, '0' and
    '1', looked like positions), so a file of columns '1', '0' was scored by position: the model's weight of
    column '0' on column '1', without a word.  A frame numbered 0, 1, 2 as pandas numbers a matrix's columns
    still has no names."""
    pd = need("pandas")
    X, y = make_problem("binary", n=600, d=3, seed=4)
    frame = pd.DataFrame(X, columns=["2", "0", "1"]).assign(y=y)
    frame.to_hdf(tmp_path / "train.h5", key="df", format="table")
    frame[["1", "0", "y"]].to_hdf(tmp_path / "swapped.h5", key="df", format="table")
    flags = ["--x", "df", "--label-column", "y"]
    assert cli("train", tmp_path / "train.h5", *flags, "--features", "0,1", "-o", tmp_path / "m.h5", "-q")[0] == 0
    assert features(tmp_path / "m.h5") == ["0", "1"]
    scored = [cli("evaluate", tmp_path / "m.h5", tmp_path / name, *flags, "--json")
              for name in ("train.h5", "swapped.h5")]
    assert scored[0][0] == 0 and scored[0][1] == scored[1][1], scored
    pd.DataFrame(X).assign(y=y).to_hdf(tmp_path / "numbered.h5", key="df", format="table")
    assert cli("train", tmp_path / "numbered.h5", *flags, "--features", "0,1", "-o", tmp_path / "n.h5", "-q")[0] == 0
    assert features(tmp_path / "n.h5") is None


@pytest.mark.filterwarnings("ignore::sgdcli.training.runlog.FitWarning")  # one short epoch, about the columns
def test_a_model_of_numbered_columns_reads_a_file_numbering_them_in_another_order_by_name(tmp_path):
    """A frame numbered 0, 1, 2 as pandas numbers a matrix's columns trains a model that knows them by position;
    the frame reordered (its columns 2, 0, 1) names them by those positions.  Read by position, its column '2'
    took the weight of column '0' (r2 -1.57, exit 0, without a word).  evaluate, --val and --init read it by
    name."""
    pd = need("pandas")
    from sgdcli import train
    from sgdcli.options import TrainOptions

    X, y = make_problem("regression", n=600, d=3, seed=4)
    frame = pd.DataFrame(X).assign(y=y)
    frame.to_hdf(tmp_path / "train.h5", key="df", format="table")
    frame[[2, 0, 1, "y"]].to_hdf(tmp_path / "reordered.h5", key="df", format="table")
    flags = ["--x", "df", "--label-column", "y"]
    assert cli("train", tmp_path / "train.h5", *flags, "--model", "linear", "-o", tmp_path / "m.h5", "-q")[0] == 0
    assert features(tmp_path / "m.h5") is None
    scored = [cli("evaluate", tmp_path / "m.h5", tmp_path / name, *flags, "--json")
              for name in ("train.h5", "reordered.h5")]
    assert scored[0][0] == 0 and scored[1][:2] == scored[0][:2] and json.loads(scored[0][1])["r2"] > 0.9, scored
    options = dict(x="df", label_column="y", model="linear", epochs=1, threads=1)
    validated = [train(tmp_path / "train.h5", TrainOptions(**options, val=str(tmp_path / name))).history[0]["val_loss"]
                 for name in ("train.h5", "reordered.h5")]
    assert validated[1] == validated[0]
    warm = [train(tmp_path / name, TrainOptions(**options, init=str(tmp_path / "m.h5"))).weights
            for name in ("train.h5", "reordered.h5")]
    np.testing.assert_array_equal(warm[1], warm[0])


def test_a_csv_of_20000_named_columns_converts_trains_and_is_scored_by_name(tmp_path):
    """A gene table of more than about 4,090 columns failed to convert: "write failed: Unable to synchronously create
    attribute (object header message is too large)", exit 1."""
    pd = need("pandas")
    n, width = 24, 20_000
    rng = np.random.default_rng(3)
    genes = [f"ENSG{j:011d}" for j in range(width)]
    table = pd.DataFrame(rng.integers(0, 9, size=(n, width)).astype(np.float64), columns=genes)
    table["label"] = np.arange(n) % 2
    table.to_csv(tmp_path / "train.csv", index=False)
    shuffled = list(rng.permutation(genes))
    table[["label", *shuffled]].to_csv(tmp_path / "new.csv", index=False)
    for name in ("train", "new"):
        code, out, err = cli("convert", tmp_path / f"{name}.csv", "-o", tmp_path / f"{name}.h5", "--label-column",
                             "label")
        assert (code, out) == (0, f"wrote {tmp_path / f'{name}.h5'}: {n} rows × {width} features from csv\n"), err
    assert cli("convert", tmp_path / "train.csv", "-o", tmp_path / "sparse.h5", "--label-column", "label",
               "--sparse")[0] == 0
    with h5py.File(tmp_path / "train.h5") as f, h5py.File(tmp_path / "sparse.h5") as s:  # where h5py users read them
        assert [v.decode() if isinstance(v, bytes) else v for v in f["X"].attrs["feature_names"]] == genes
        assert len(s["X"].attrs["feature_names"]) == width
    code, _, err = cli("train", tmp_path / "train.h5", "-o", tmp_path / "m.h5", "--epochs", "1", "--batch-size", "4",
                       "-q")
    assert code == 0, err
    assert features(tmp_path / "m.h5") == genes
    code, out, err = cli("show", tmp_path / "m.h5")
    assert code == 0 and f"features     {width}" in out, err
    want = cli("predict", tmp_path / "m.h5", tmp_path / "train.h5", "-o", "-", "--proba")[1]
    assert len(want.splitlines()) == n + 1
    for data in ("new.h5", "new.csv", "train.csv"):  # the columns by name, in another order
        assert cli("predict", tmp_path / "m.h5", tmp_path / data, "-o", "-", "--proba")[:2] == (0, want), data


def test_show_lists_the_first_feature_names_of_a_wide_model_and_json_all_of_them(tmp_path):
    """A model of 2,000 named columns: its card printed all of them on one line; now the first twenty, counted
    as info counts them, and --json has every one."""
    pd = need("pandas")
    rng = np.random.default_rng(2)
    names = [f"gene{j}" for j in range(2000)]
    frame = pd.DataFrame(rng.standard_normal((40, 2000)).astype(np.float32), columns=names)
    frame["label"] = (frame["gene0"] > 0).astype(float)
    frame.to_hdf(tmp_path / "wide.h5", key="df")
    code, _, err = cli("train", tmp_path / "wide.h5", "--x", "df", "--label-column", "label", "-o",
                       tmp_path / "m.h5", "--epochs", "1", "--batch-size", "8", "-q")
    assert code == 0, err
    code, out, err = cli("show", tmp_path / "m.h5")
    said = [line for line in out.splitlines() if line.startswith("  features             ")]  # (training)
    assert (code, said) == (0, ["  features             " + ", ".join(names[:20]) +
                                ", ... and 1,980 more (--json lists them all)"]), err
    assert features(tmp_path / "m.h5") == names


@pytest.mark.filterwarnings("ignore::sgdcli.training.runlog.FitWarning")  # one short epoch, about the columns
def test_a_label_column_given_for_a_sparse_matrix_without_names_is_refused_as_before(tmp_path):
    """Looking for columns numbered in another order, a model without names read the columns of a CSR matrix,
    which has none: --label-column then ended in "internal error: TypeError"."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5)) * (rng.random((200, 5)) < 0.3)
    with h5py.File(tmp_path / "csr.h5", "w") as f:
        g = f.create_group("X")
        g.attrs["encoding-type"], g.attrs["encoding-version"], g.attrs["shape"] = "csr_matrix", "0.1.0", X.shape
        rows, cols = np.nonzero(X)
        g["data"], g["indices"] = X[rows, cols].astype(np.float32), cols.astype(np.int32)
        g["indptr"] = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=200))]).astype(np.int64)
        f["y"] = (X[:, 0] > 0).astype(np.float64)
    assert cli("train", tmp_path / "csr.h5", "-o", tmp_path / "m.h5", "--epochs", "1", "-q")[0] == 0
    assert cli("predict", tmp_path / "m.h5", tmp_path / "csr.h5", "--label-column", "0", "-o", "-", "-q") == (
        2, "", f"sgdcli: error: --label-column: {tmp_path / 'csr.h5'}:X is a sparse (CSR) matrix, whose columns are "
               "not selected or transposed\n")
