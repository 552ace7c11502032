"""AnnData files as anndata 0.6 and 0.7 wrote them, and a table's field as labels (``--y TABLE/FIELD``).

The .h5ad files in tests/data/anndata were written by anndata 0.6.22.post1 and 0.7.8 themselves (make.py
there), versions that cannot be installed beside today's: before 0.7, ``obs`` is a compound dataset and a
categorical's names are in ``uns``; in 0.7, a categorical is its codes with a reference to its names.  Each
is trained on as the same data written by today's anndata is, names and all.
"""

import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from sgdcli import train
from sgdcli.options import TrainOptions

from conftest import cli, short_fits

pytestmark = short_fits  # small models, trained to test reading and naming

DATA = Path(__file__).parent / "data" / "anndata"
FILES = sorted([*DATA.glob("*-csr.h5ad"), *DATA.glob("*-dense.h5ad")])
WITHOUT_X = sorted(DATA.glob("*-layers.h5ad"))  # AnnData(X=None), the matrix in layers/counts
WITH_RAW = sorted(DATA.glob("*-raw.h5ad"))  # X of three genes, raw of all four
ROWS = 60


def need(module: str):
    return pytest.importorskip(module, reason=f"{module} is not installed (pip install '.[test]' installs it)")


def _stored(path: Path) -> tuple:
    """What the file holds, decoded here from its layout: X (dense, or CSR as data, indices, indptr), the cell
    types as text, the obs columns score and weight, and the genes' names."""
    with h5py.File(path) as f:
        X = f["X"][()] if isinstance(f["X"], h5py.Dataset) else tuple(f[f"X/{k}"][()] for k in (
            "data", "indices", "indptr"))
        obs = f["obs"]
        if isinstance(obs, h5py.Dataset):  # before 0.7: fields, the names in uns
            codes, names = obs["cell_type"], f["uns/cell_type_categories"][()]
            score, weight, genes = obs["score"], obs["weight"], f["var"]["index"]
        else:  # 0.7: the codes refer to their names
            codes, names = obs["cell_type"][()], f[obs["cell_type"].attrs["categories"]][()]
            score, weight, genes = obs["score"][()], obs["weight"][()], f["var/_index"][()]
        cell_type = np.array([names[c].decode() if isinstance(names[c], bytes) else names[c] for c in codes])
        return X, cell_type, score, weight, [g.decode() if isinstance(g, bytes) else g for g in genes]


def _today(path: Path, out: Path) -> Path:
    """The data of ``path`` written by today's anndata."""
    ad, pd, sparse = need("anndata"), need("pandas"), need("scipy.sparse")
    X, cell_type, score, weight, genes = _stored(path)
    if isinstance(X, tuple):
        X = sparse.csr_matrix(X, shape=(ROWS, len(genes)))
    obs = pd.DataFrame({"cell_type": pd.Categorical(cell_type), "score": score, "weight": weight},
                       index=[f"cell{i}" for i in range(ROWS)])
    ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=genes)).write_h5ad(out)
    return out


def test_the_files_are_the_layouts_of_their_versions():
    """The fixtures are what the tests below say they are: both layouts, dense and CSR, written by anndata."""
    assert [p.name for p in FILES] == [f"anndata-{v}-{k}.h5ad" for v in ("0.6.22.post1", "0.7.8")
                                       for k in ("csr", "dense")]
    assert [p.name for p in WITHOUT_X] == [f"anndata-{v}-layers.h5ad" for v in ("0.6.22.post1", "0.7.8")]
    assert [p.name for p in WITH_RAW] == [f"anndata-{v}-raw.h5ad" for v in ("0.6.22.post1", "0.7.8")]
    for path in FILES:
        with h5py.File(path) as f:
            assert "encoding-type" not in f.attrs  # (0.8 on marks the root)
            if "0.6" in path.name:
                assert f["obs"].dtype.names[:3] == ("index", "cell_type", "batch") and "uns/cell_type_categories" in f
            else:
                assert isinstance(f["obs/cell_type"].attrs["categories"], h5py.Reference)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_info_knows_an_old_anndata_file(path):
    code, out, err = cli("info", path)
    assert code == 0 and "looks like an AnnData file: train with --x X --y obs/cell_type\n" in out, out


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_an_old_anndata_file_trains_the_model_of_the_same_data_written_today(path, tmp_path):
    """The categorical labels are read through their names (not as the codes 0 and 1), the genes by their
    names, and the model is the one the same data written by today's anndata trains, weights and all."""
    today = _today(path, tmp_path / "today.h5ad")
    old = train(path, TrainOptions(y="obs/cell_type", epochs=3))
    new = train(today, TrainOptions(y="obs/cell_type", epochs=3))
    assert old.training["class_names"] == new.training["class_names"] == ["B cell", "T cell"]
    assert old.training["features"] == new.training["features"] == [f"gene{j}" for j in range(4)]
    np.testing.assert_array_equal(old.weights, new.weights)
    old.save(tmp_path / "m.h5")
    code, out, err = cli("predict", tmp_path / "m.h5", path, "-o", "-")
    _, cell_type, *_ = _stored(path)
    assert code == 0 and out.split("\n")[1:6] == list(cell_type[:5]) != ["B cell"] * 5, out
    for column, model in (("score", "linear"), ("weight", "linear")):  # plain numbers, as they are
        a = train(path, TrainOptions(y=f"obs/{column}", model=model, epochs=3))
        b = train(today, TrainOptions(y=f"obs/{column}", model=model, epochs=3))
        np.testing.assert_array_equal(a.weights, b.weights)
    a = train(path, TrainOptions(y="obs/cell_type", sample_weight="obs/weight", epochs=3))
    b = train(today, TrainOptions(y="obs/cell_type", sample_weight="obs/weight", epochs=3))
    np.testing.assert_array_equal(a.weights, b.weights)
    assert not np.array_equal(a.weights, old.weights)  # (the weights were read)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_an_old_anndata_files_missing_category_is_a_bad_label(path, tmp_path):
    """A categorical's missing value (code -1) is a missing label, as in today's layout: an error naming the
    row, or a row --bad-rows skip leaves out."""
    code, out, err = cli("train", path, "--y", "obs/batch", "-o", tmp_path / "m.h5", "-q")
    assert code == 2 and err == f"sgdcli: error: {path}:obs/batch: label missing (NaN) at row 3\n", err
    model = train(path, TrainOptions(y="obs/batch", model="softmax", bad_rows="skip", epochs=1))
    assert model.training["bad_rows"] == 2 and model.training["class_names"] == ["a", "b", "c"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_obs_itself_as_labels_or_weights_names_the_column_to_give(path, tmp_path):
    table = "a table of fields (index, cell_type, batch, score, weight)" if "0.6" in path.name else \
        "AnnData's frame of 4 columns (cell_type, batch, score, weight)"
    kind = "field" if "0.6" in path.name else "column"
    code, out, err = cli("train", path, "--y", "obs", "-o", tmp_path / "m.h5")
    assert code == 2 and err == (f"sgdcli: error: {path}:obs: is {table}, not a column of labels; name the {kind} "
                                 "that holds them: --y obs/cell_type\n"), err
    code, out, err = cli("train", path, "--y", "obs/cell_type", "--sample-weight", "obs", "-o", tmp_path / "m.h5")
    assert code == 2 and err == (f"sgdcli: error: --sample-weight: {path}:obs: is {table}, not a column of weights; "
                                 f"name the {kind} that holds them: --sample-weight obs/weight\n"), err


def test_a_categoricals_reference_that_leads_nowhere_is_refused(tmp_path):
    """anndata 0.7's reference from the codes to their names: one to no 1-D dataset is refused by name, and
    one to the names whose link was deleted still reads them (HDF5 keeps an object a reference holds)."""
    path = tmp_path / "a.h5ad"
    path.write_bytes((DATA / "anndata-0.7.8-dense.h5ad").read_bytes())
    with h5py.File(path, "a") as f:
        f["obs/batch"].attrs["categories"] = f["obs"].ref
        f["obs/score"].attrs["categories"] = h5py.h5r.Reference()  # null
        del f["obs/__categories/cell_type"]
    said = "its attribute categories (the names of its codes) refers to"
    for column, what in (("batch", "/obs, not a 1-D dataset"), ("score", "nothing in the file")):
        code, out, err = cli("train", path, "--y", f"obs/{column}", "-o", tmp_path / "m.h5")
        assert code == 2 and err == f"sgdcli: error: {path}:obs/{column}: {said} {what}\n", err
    assert train(path, TrainOptions(y="obs/cell_type", epochs=1)).training["class_names"] == ["B cell", "T cell"]


def test_a_field_of_a_record_array_is_labels(tmp_path):
    """A script's table of each row's metadata beside its matrix: ``--y TABLE/FIELD`` reads a field as labels,
    numbers as they are, text and an enum's values as names; a field of several values a row, or of text as
    weights, a name that is no field of the table, a table that is not 1-D, and a field of --x's own table
    (which would be a feature too) are refused by name; the table itself names the field to give."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = X[:, 0] - X[:, 2] > 0
    kinds = h5py.enum_dtype({"no": 0, "yes": 1}, basetype="i1")
    meta = np.zeros(200, dtype=[("id", "i8"), ("label", "S3"), ("answer", kinds), ("pair", "f4", (2,)),
                                ("y", "f8")])
    meta["id"], meta["label"], meta["answer"], meta["y"] = np.arange(200), np.where(y, b"yes", b"no"), y, y
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        f["X"], f["meta"], f["grid"] = X, meta, meta[:200].reshape(100, 2)
    as_numbers = train(path, TrainOptions(x="X", y="meta/y", epochs=2))
    assert as_numbers.training.get("class_names") is None
    for field in ("label", "answer"):
        named = train(path, TrainOptions(x="X", y=f"meta/{field}", epochs=2))
        assert named.training["class_names"] == ["no", "yes"]
        np.testing.assert_array_equal(named.weights, as_numbers.weights)
    own = ["--x", "meta", "--features", "id,answer"]  # (its text field left out)
    for args, said in (
            (["--y", "meta/pair"], f"{path}:meta/pair: holds 2 values a row (('<f4', (2,))); the labels are one "
                                   "value a row"),
            (["--y", "meta/y", "--sample-weight", "meta/label"], f"--sample-weight: {path}:meta/label: is |S3, "
                                                                 "not numbers"),
            (["--y", "meta/nothing"], f"{path}:meta: a table of fields (id, label, answer, pair, y) has no field "
                                      "'nothing'"),
            (["--y", "grid/y"], f"{path}:grid: a table of fields of shape (100, 2) is read one row per element, so "
                                "it must be 1-D"),
            (["--y", "meta"], f"{path}:meta: is a table of fields (id, label, answer, pair, y), not a column of "
                              "labels; name the field that holds them: --y meta/y"),
            ([*own, "--y", "meta/y"], f"{path}:meta/y: is a field of --x meta, whose other columns are the "
                                      "features: take the labels from it with --label-column y"),
            ([*own, "--y", "meta"], f"{path}:meta: is a table of fields (id, label, answer, pair, y), --x meta "
                                    "itself, not a column of labels; take the labels from one of its fields with "
                                    "--label-column label")):
        code, out, err = cli("train", path, "--x", "X", *args, "-o", tmp_path / "m.h5")
        assert code == 2 and err == f"sgdcli: error: {said}\n", err


@pytest.mark.parametrize("path", WITHOUT_X, ids=lambda p: p.stem)
def test_an_old_anndata_file_without_x_is_known_by_its_frames(path, tmp_path):
    """AnnData(X=None): no X, so only obs and var tell the file; info suggests its layer, and the layer's genes
    are named by var, as X's are."""
    code, out, err = cli("info", path)
    assert code == 0 and "looks like an AnnData file without X (layers: counts): train with --x layers/counts " \
                         "--y obs/cell_type\n" in out, out
    model = train(path, TrainOptions(x="layers/counts", y="obs/cell_type", epochs=1))
    assert model.training["features"] == [f"gene{j}" for j in range(4)]
    assert model.training["class_names"] == ["B cell", "T cell"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_an_old_anndata_categorical_is_names_as_weights_too(path, tmp_path):
    """A categorical given as --sample-weight holds names, in every layout: refused, not read as its codes."""
    code, out, err = cli("train", path, "--y", "obs/cell_type", "--sample-weight", "obs/batch", "-o", tmp_path / "m")
    assert code == 2 and err == f"sgdcli: error: --sample-weight: {path}:obs/batch holds names, not numbers\n", err


def test_a_label_column_of_the_compound_obs_is_read_through_its_categories():
    """Before anndata 0.7, --x obs --label-column reads the field's codes through uns/<field>_categories, as
    --y obs/<field> does."""
    path = DATA / "anndata-0.6.22.post1-dense.h5ad"
    model = train(path, TrainOptions(x="obs", features="score,weight", label_column="cell_type", epochs=1))
    assert model.training["class_names"] == ["B cell", "T cell"]


def test_files_with_x_obs_and_var_that_anndata_did_not_write_are_not_taken_for_anndata(tmp_path):
    """pandas frames named X, obs and var beside a Series y, or plain groups of those names: info suggests the
    labels beside them (y), not obs/<column>, which is no column of labels there."""
    pd = need("pandas")
    need("tables")
    rng = np.random.default_rng(0)
    path = tmp_path / "frames.h5"
    frame = pd.DataFrame(rng.standard_normal((50, 3)), columns=["a", "b", "c"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key in ("X", "obs", "var"):
            frame.to_hdf(path, key=key)
        pd.Series(rng.integers(0, 2, 50)).to_hdf(path, key="y")
    code, out, err = cli("info", path)
    assert code == 0 and "AnnData" not in out and "--y y" in out, out
    with h5py.File(tmp_path / "groups.h5", "w") as f:
        f["X"], f["y"] = rng.standard_normal((50, 3)), rng.integers(0, 2, 50)
        for name in ("obs", "var"):
            f[f"{name}/batch"] = rng.integers(0, 3, 50)
    code, out, err = cli("info", tmp_path / "groups.h5")
    assert code == 0 and "AnnData" not in out and "--y y" in out, out


@pytest.mark.parametrize("path", WITH_RAW, ids=lambda p: p.stem)
def test_raw_genes_are_named_by_the_raw_var(path):
    """raw's matrix (raw.X before anndata 0.7, raw/X since) has the genes of raw's var, not of var: X's three
    here, raw's four."""
    raw = "raw.X" if "0.6" in path.name else "raw/X"
    for x, genes in (("X", 3), (raw, 4)):
        model = train(path, TrainOptions(x=x, y="obs/cell_type", epochs=1))
        assert model.training["features"] == [f"gene{j}" for j in range(genes)]


def test_a_layer_named_x_and_an_encoding_spelled_otherwise_keep_the_genes_names(tmp_path):
    """layers/X is a layer (named by var), not a matrix X of a group "layers"; a root whose encoding-type says
    "AnnData" (R's writers) is AnnData still."""
    ad, pd = need("anndata"), need("pandas")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 3)).astype(np.float32)
    obs = pd.DataFrame({"label": (X[:, 0] > 0).astype(int)}, index=[f"c{i}" for i in range(80)])
    path = tmp_path / "layered.h5ad"
    ad.AnnData(X, obs=obs, var=pd.DataFrame(index=["a", "b", "c"]), layers={"X": X * 2}).write_h5ad(path)
    assert train(path, TrainOptions(x="layers/X", y="obs/label", epochs=1)).training["features"] == ["a", "b", "c"]
    with h5py.File(path, "a") as f:
        f.attrs["encoding-type"] = "AnnData"
    code, out, err = cli("info", path)
    assert code == 0 and "looks like an AnnData file: train with --x X --y obs/label\n" in out, out
    assert train(path, TrainOptions(y="obs/label", epochs=1)).training["features"] == ["a", "b", "c"]


def test_info_suggests_the_cells_type_before_a_count(tmp_path):
    """scanpy's obs begins with counts (n_genes); with no column named as labels are, info suggested the first,
    a count, where the cell type was the labels a classifier of cells wants."""
    ad, pd = need("anndata"), need("pandas")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3)).astype(np.float32)
    obs = pd.DataFrame({"n_genes": rng.integers(100, 900, 50), "cell_type": pd.Categorical(["B", "T"] * 25)},
                       index=[f"c{i}" for i in range(50)])
    path = tmp_path / "typed.h5ad"
    ad.AnnData(X, obs=obs).write_h5ad(path)
    code, out, err = cli("info", path)
    assert code == 0 and "looks like an AnnData file: train with --x X --y obs/cell_type\n" in out, out


def test_a_pandas_tables_field_is_no_table_field_label(tmp_path):
    """df/table of a pandas frame (table format) is read through its key: --y df/table/label would take a
    feature's column as the labels too (a model of accuracy 1); it says to use --label-column, as before."""
    pd = need("pandas")
    need("tables")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.standard_normal(100), "b": rng.standard_normal(100)})
    frame["label"] = (frame.a > 0).astype(int)
    path = tmp_path / "frame.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame.to_hdf(path, key="df", format="table", data_columns=True)
    code, out, err = cli("train", path, "--x", "df", "--y", "df/table/label", "-o", tmp_path / "m.h5")
    assert code == 2 and err == (f"sgdcli: error: {path}:df/table/label: no such dataset; this looks like a pandas "
                                 "frame: try --x df --label-column label\n"), err


def test_a_hand_written_layout_of_x_obs_and_var_names_its_columns(tmp_path):
    """X beside obs and var groups that no anndata wrote (no encoding-type): not offered as AnnData by info,
    but var's index still names X's columns, as it did."""
    rng = np.random.default_rng(0)
    path = tmp_path / "hand.h5"
    with h5py.File(path, "w") as f:
        f["X"] = rng.standard_normal((60, 3))
        f["obs/label"] = rng.integers(0, 2, 60)
        f["var/_index"] = np.array([b"g1", b"g2", b"g3"])
        f["var"].attrs["_index"] = "_index"
    assert train(path, TrainOptions(y="obs/label", epochs=1)).training["features"] == ["g1", "g2", "g3"]


def test_an_obs_of_one_column_is_said_so(tmp_path):
    """The refusal of obs itself counts its columns in words: "1 column", where it said "1 columns"."""
    anndata = pytest.importorskip("anndata")
    import pandas as pd

    adata = anndata.AnnData(np.ones((4, 2), dtype=np.float32),
                            obs=pd.DataFrame({"cell_type": ["a", "b", "a", "b"]}, index=[f"c{i}" for i in range(4)]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata.write_h5ad(tmp_path / "one.h5ad")
    code, _, err = cli("train", tmp_path / "one.h5ad", "--y", "obs", "-o", tmp_path / "m.h5")
    assert code == 2 and err == (f"sgdcli: error: {tmp_path / 'one.h5ad'}:obs: is AnnData's frame of 1 column "
                                 "(cell_type), not a column of labels; name the column that holds them: "
                                 "--y obs/cell_type\n"), err


def test_an_x_stored_by_columns_is_pointed_to_a_layer_of_the_same_rows(tmp_path):
    """AnnData writes X as the sparse format it holds: a CSC X (sgdcli reads sparse matrices by rows) beside a
    CSR layer of the same cells was told only to rewrite X; the layer is offered, by train and by info."""
    ad, pd, sparse = need("anndata"), need("pandas"), need("scipy.sparse")
    X = sparse.random(50, 8, density=0.3, format="csc", dtype=np.float32, random_state=0)
    obs = pd.DataFrame({"t": pd.Categorical(list("ab") * 25)}, index=[str(i) for i in range(50)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = ad.AnnData(X=X, obs=obs)
        a.layers["counts"] = sparse.csr_matrix(X)
        a.layers["by_columns"] = X  # stored by columns too: not offered
        a.write_h5ad(tmp_path / "csc.h5ad")
        ad.AnnData(X=X, obs=obs).write_h5ad(tmp_path / "alone.h5ad")
    path = tmp_path / "csc.h5ad"
    code, _, err = cli("train", path, "--y", "obs/t", "-o", tmp_path / "m.h5")
    assert (code, err) == (2, f"sgdcli: error: {path}:X: is a sparse matrix stored by columns (csc_matrix); sgdcli "
                              "reads sparse matrices stored by rows: write it as a csr_matrix (scipy's .tocsr()), or "
                              "train on --x layers/counts, the same rows stored so\n"), err
    code, out, _ = cli("info", path)
    assert "looks like an AnnData file whose X is stored by columns (layers/counts holds its rows): train with --x " \
           "layers/counts --y obs/t\n" in out, out
    assert cli("train", path, "--x", "layers/counts", "--y", "obs/t", "-o", tmp_path / "m.h5", "-q")[0] == 0
    code, _, err = cli("train", tmp_path / "alone.h5ad", "--y", "obs/t", "-o", tmp_path / "m.h5")
    assert code == 2 and err.endswith("write it as a csr_matrix (scipy's .tocsr())\n"), err


def test_a_file_whose_x_lacks_the_models_genes_but_raw_holds_them_is_pointed_to_raw(tmp_path):
    """scanpy keeps every gene in raw/X beside the variable genes it selects into X: a model of every gene,
    given such a file, is told --x raw/X, which predicts as the file it was trained on does."""
    ad, pd = need("anndata"), need("pandas")
    rng = np.random.default_rng(0)
    X = rng.poisson(2.0, (200, 10)).astype(np.float32)
    obs = pd.DataFrame({"t": pd.Categorical(np.where(X[:, 0] > 2, "a", "b"))}, index=[str(i) for i in range(200)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=[f"g{i}" for i in range(10)]))
        full.write_h5ad(tmp_path / "full.h5ad")
        part = full.copy()
        part.raw = part
        part[:, :4].copy().write_h5ad(tmp_path / "hvg.h5ad")
    assert cli("train", tmp_path / "full.h5ad", "--y", "obs/t", "-o", tmp_path / "m.h5", "-q")[0] == 0
    code, _, err = cli("predict", tmp_path / "m.h5", tmp_path / "hvg.h5ad", "-o", tmp_path / "p.csv", "-q")
    assert (code, err) == (2, f"sgdcli: error: {tmp_path / 'hvg.h5ad'}:X: has no column 'g4', which the model was "
                              "trained on (6 of its 10 features missing); raw/X holds them all: --x raw/X\n"), err
    for name, args in (("p.csv", ["--x", "raw/X"]), ("q.csv", [])):
        data = tmp_path / ("hvg.h5ad" if args else "full.h5ad")
        assert cli("predict", tmp_path / "m.h5", data, *args, "-o", tmp_path / name, "-q")[0] == 0
    assert (tmp_path / "p.csv").read_text() == (tmp_path / "q.csv").read_text()
