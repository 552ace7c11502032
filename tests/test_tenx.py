"""10x Genomics feature-barcode matrices (data/tenxfiles.py): Cell Ranger's ``filtered_feature_bc_matrix.h5``,
a CSC matrix of features × cells, read as the CSR matrix of cells × features it is.  No library writes the
format but Cell Ranger itself; the files here follow 10x's published layout, which scanpy's ``read_10x_h5``
reads as the AnnData files written beside them (checked with scanpy 1.11.5 when these tests were written)."""

import warnings

import h5py
import numpy as np
import pytest

from sgdcli import predict
from sgdcli.data import tenxfiles

from conftest import cli

anndata = pytest.importorskip("anndata")
pd = pytest.importorskip("pandas")
sparse = pytest.importorskip("scipy.sparse")

CELLS, GENES = 600, 40
IDS = np.array([f"ENSG{i:011d}" for i in range(GENES)], dtype=object)
SYMBOLS = np.array([f"G{i}" for i in range(GENES)], dtype=object)
SYMBOLS[[7, 9]] = "G3"  # repeated symbols, and one that their suffix collides with
SYMBOLS[11] = "G3-1"


def _counts():
    rng = np.random.default_rng(0)
    counts = sparse.random(CELLS, GENES, density=0.3, format="csr", random_state=0,
                           data_rvs=lambda n: rng.integers(1, 20, n)).astype(np.float32)
    signal = np.asarray(counts[:, :5].sum(axis=1)).ravel()
    return counts, np.where(signal > np.median(signal), "T cell", "B cell")


def write_tenx(path, counts, genome: str | None = None, antibodies: list[str] = (), also: tuple = ()):
    """Cell Ranger 3's layout (``matrix``, ``features/id`` and ``name``; ``antibodies`` named so after the genes,
    Antibody Capture features), or Cell Ranger 2's (a group named after ``genome``, and one after each of
    ``also``, ``genes`` and ``gene_names``)."""
    if antibodies:
        counts = sparse.hstack([counts, sparse.random(counts.shape[0], len(antibodies), density=0.5,
                                                      random_state=1, format="csr") * 10]).tocsr()
    csc = counts.T.tocsc()  # features × cells, by columns: each cell's entries in a run
    with h5py.File(path, "w") as f:
        f.attrs["filetype"], f.attrs["version"] = "matrix", 2
        for other in also:
            write_group(f.create_group(other), csc, other)
        write_group(f.create_group(genome or "matrix"), csc, genome, antibodies)
    return str(path)


def write_group(g, csc, genome, antibodies=()):
    """One matrix (features × cells, ``csc``) in the group ``g``: Cell Ranger 2's where ``genome`` is given."""
    g["barcodes"] = np.array([f"AAACCTG{i:07d}-1".encode() for i in range(csc.shape[1])])
    g.create_dataset("data", data=csc.data.astype(np.int32), compression="gzip")
    g.create_dataset("indices", data=csc.indices.astype(np.int64), compression="gzip")
    g.create_dataset("indptr", data=csc.indptr.astype(np.int64), compression="gzip")
    g["shape"] = np.array(csc.shape, dtype=np.int32)
    if genome:
        g["genes"], g["gene_names"] = IDS.astype("S"), SYMBOLS.astype("S")
        return
    features = g.create_group("features")
    features["id"] = np.array([*IDS, *(f"AB_{name}" for name in antibodies)]).astype("S")
    features["name"] = np.array([*SYMBOLS, *antibodies]).astype("S")
    features["feature_type"] = np.array([b"Gene Expression"] * GENES + [b"Antibody Capture"] * len(antibodies))
    features["genome"] = np.array([b"GRCh38"] * GENES + [b""] * len(antibodies))
    features["_all_tag_keys"] = np.array([b"genome"])


def write_h5ad(path, counts, labels, names):
    """The same cells as anndata writes them, the genes named ``names`` (made unique as scanpy users do)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (anndata warns of the repeated names it is told to make unique)
        adata = anndata.AnnData(counts, obs=pd.DataFrame({"cell_type": labels},
                                                         index=[f"c{i}" for i in range(CELLS)]),
                                var=pd.DataFrame(index=list(names)))
        adata.var_names_make_unique()
        adata.write_h5ad(path)
    return str(path)


def predicted(model, data, x="X") -> str:
    """The predictions of ``model`` for the rows of ``data``, as CSV text."""
    out = f"{data}.{x.replace('/', '_')}.csv"
    predict(str(model), data, out, x=x)
    with open(out) as fh:
        return fh.read()


def test_the_symbols_are_made_unique_as_anndata_makes_them(tmp_path):
    counts, _ = _counts()
    with h5py.File(write_tenx(tmp_path / "a.h5", counts)) as f:
        mine = tenxfiles.symbols(f["matrix"], GENES)
        assert tenxfiles.ids(f["matrix"], GENES) == list(IDS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = list(anndata.utils.make_index_unique(pd.Index(list(SYMBOLS))))
    assert mine == theirs and mine[7] == "G3-2" and mine[9] == "G3-3" and mine[11] == "G3-1"


@pytest.mark.parametrize("named", ["symbols", "ids"])
def test_a_model_of_an_anndata_atlas_predicts_the_cells_of_a_10x_file(tmp_path, named):
    """A model trained on cells written by anndata, its genes named by symbol (scanpy's files) or by id
    (CELLxGENE's), predicts a 10x file's cells as it predicts the same cells in the AnnData file: the columns
    are found by name, whatever their order, the model's subset of genes too."""
    counts, labels = _counts()
    tenx = write_tenx(tmp_path / "filtered_feature_bc_matrix.h5", counts)
    atlas = write_h5ad(tmp_path / "atlas.h5ad", counts, labels, SYMBOLS if named == "symbols" else IDS)
    with h5py.File(atlas) as f:  # the genes as anndata wrote them
        genes = [v.decode() for v in f["var"][f["var"].attrs["_index"]][()]]
    for features in (None, ",".join(genes[j] for j in (30, 9, 2, 7, 11))):
        args = ["--features", features] if features else []
        assert cli("train", atlas, "--y", "obs/cell_type", "-o", tmp_path / "m.h5", "-q", "--epochs", "3",
                   *args)[0] == 0
        ours = predicted(tmp_path / "m.h5", tenx, x="matrix")
        assert ours == predicted(tmp_path / "m.h5", atlas)
        assert set(ours.split("\n")[1:-1]) == {"B cell", "T cell"}


def test_cell_ranger_2_files_and_info(tmp_path):
    counts, labels = _counts()
    old = write_tenx(tmp_path / "old.h5", counts, genome="GRCh38")
    code, out, _ = cli("info", old)
    assert code == 0 and (f"looks like a 10x Genomics feature-barcode matrix ({CELLS} cells, no labels): "
                          "predict with --x GRCh38\n") in out, out
    assert f"  CSR sparse matrix: {CELLS} rows × {GENES} features (ENSG00000000000, " in out
    atlas = write_h5ad(tmp_path / "atlas.h5ad", counts, labels, SYMBOLS)
    assert cli("train", atlas, "--y", "obs/cell_type", "-o", tmp_path / "m.h5", "-q", "--epochs", "2")[0] == 0
    assert predicted(tmp_path / "m.h5", old, x="GRCh38") == predicted(tmp_path / "m.h5", atlas)
    code, _, err = cli("predict", tmp_path / "m.h5", old, "-o", tmp_path / "p.csv")
    assert code == 2 and err.endswith(f"{old}:X: no such dataset or group; this looks like a 10x Genomics "
                                      f"feature-barcode matrix ({CELLS} cells, no labels): try --x GRCh38\n"), err


def test_labels_written_beside_its_cells_train_on_it(tmp_path):
    """A 10x file holds no labels; written beside its cells, they train as those of the same cells of an
    AnnData file whose genes are the ids: the very model."""
    counts, labels = _counts()
    tenx = write_tenx(tmp_path / "a.h5", counts)
    with h5py.File(tenx, "a") as f:
        f["cell_type"] = labels.astype("S")
    atlas = write_h5ad(tmp_path / "atlas.h5ad", counts, labels, IDS)
    for path, x, y in ((tenx, "matrix", "cell_type"), (atlas, "X", "obs/cell_type")):
        code, _, err = cli("train", path, "--x", x, "--y", y, "-o", f"{path}.model", "-q", "--epochs", "2",
                           "--seed", "4")
        assert code == 0, err
    with h5py.File(f"{tenx}.model") as a, h5py.File(f"{atlas}.model") as b:
        assert np.array_equal(a["weights"][()], b["weights"][()]) and np.array_equal(a["bias"][()], b["bias"][()])


def test_a_shape_that_is_not_the_matrix_s_is_refused(tmp_path):
    counts, _ = _counts()
    tenx = write_tenx(tmp_path / "a.h5", counts)
    with h5py.File(tenx, "a") as f:
        f["matrix/shape"][...] = [GENES, CELLS + 1]
    code, _, err = cli("train", tenx, "--x", "matrix", "--y", "matrix/barcodes", "-o", tmp_path / "m2.h5")
    assert code == 2 and err == (f"sgdcli: error: {tenx}:matrix: a CSR matrix of shape ({CELLS + 1}, {GENES}) needs "
                                 f"indptr of {CELLS + 2} entries and data and indices of one length; found "
                                 f"({CELLS + 1},), ({counts.nnz},) and ({counts.nnz},)\n"), err


def test_antibodies_beside_the_genes_leave_their_symbols_as_scanpy_reads_them(tmp_path):
    """scanpy reads the genes alone by default (``gex_only``) and makes their symbols unique among them: an
    antibody named as a suffixed gene ("G3-2") took that name from the gene, whose columns a model by symbol
    then read from the antibody's, silently."""
    counts, labels = _counts()
    tenx = write_tenx(tmp_path / "a.h5", counts, antibodies=["G3-2", "CD4"])
    with h5py.File(tenx) as f:
        names = tenxfiles.symbols(f["matrix"], GENES + 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (of the suffix that collides, on purpose)
        assert names[:GENES] == list(anndata.utils.make_index_unique(pd.Index(list(SYMBOLS))))
    assert names[GENES:] == ["AB_G3-2", "AB_CD4"]  # (by their ids: no gene is named so)
    atlas = write_h5ad(tmp_path / "atlas.h5ad", counts, labels, SYMBOLS)
    assert cli("train", atlas, "--y", "obs/cell_type", "-o", tmp_path / "m.h5", "-q", "--epochs", "2")[0] == 0
    assert predicted(tmp_path / "m.h5", tenx, x="matrix") == predicted(tmp_path / "m.h5", atlas)


def test_a_gene_the_file_lacks_is_named_by_the_name_the_model_knows(tmp_path):
    counts, labels = _counts()
    tenx = write_tenx(tmp_path / "a.h5", counts)
    atlas = write_h5ad(tmp_path / "atlas.h5ad", sparse.hstack([counts, counts[:, :1]]).tocsr(), labels,
                       [*SYMBOLS, "NEWGENE"])
    assert cli("train", atlas, "--y", "obs/cell_type", "-o", tmp_path / "m.h5", "-q", "--epochs", "1")[0] == 0
    code, _, err = cli("predict", tmp_path / "m.h5", tenx, "--x", "matrix", "-o", tmp_path / "p.csv")
    assert code == 2 and err.endswith(f"{tenx}:matrix: has no column 'NEWGENE', which the model was trained on "
                                      f"(1 of its {GENES + 1} features missing)\n"), err


def test_labels_written_beside_its_cells_are_suggested_and_a_warm_start_by_symbol_trains(tmp_path):
    """info names the labels written into the file (it said "no labels"); a model by symbol warm-starts on it
    (refused: "--features reads ... which the model was not trained on"), its model then named by id."""
    counts, labels = _counts()
    tenx = write_tenx(tmp_path / "a.h5", counts)
    with h5py.File(tenx, "a") as f:
        f["cell_type"] = labels.astype("S")
    code, out, _ = cli("info", tenx)
    assert (f"looks like a 10x Genomics feature-barcode matrix ({CELLS} cells): train with --x matrix --y "
            "cell_type\n") in out, out
    atlas = write_h5ad(tmp_path / "atlas.h5ad", counts, labels, SYMBOLS)
    assert cli("train", atlas, "--y", "obs/cell_type", "-o", tmp_path / "m.h5", "-q", "--epochs", "1")[0] == 0
    code, _, err = cli("train", tenx, "--x", "matrix", "--y", "cell_type", "--init", tmp_path / "m.h5", "-o",
                       tmp_path / "w.h5", "-q", "--epochs", "1")
    assert code == 0, err
    with h5py.File(tmp_path / "w.h5") as f:
        assert '"ENSG00000000000"' in f.attrs["training"]


def test_a_file_without_labels_is_not_told_its_own_matrix_again(tmp_path):
    """Labels asked of a 10x file that holds none: the message says what the file is, not "try --x matrix",
    which was given."""
    counts, _ = _counts()
    tenx = write_tenx(tmp_path / "a.h5", counts)
    code, _, err = cli("train", tenx, "--x", "matrix", "-o", tmp_path / "m.h5")
    assert code == 2 and err == (f"sgdcli: error: {tenx}:y: no such dataset; this looks like a 10x Genomics "
                                 f"feature-barcode matrix ({CELLS} cells, no labels)\n"), err


def test_genomes_of_cell_ranger_2_are_all_named_and_other_groups_are_not_10x(tmp_path):
    counts, _ = _counts()
    tenx = write_tenx(tmp_path / "two.h5", counts, genome="mm10", also=("hg19",))
    code, out, _ = cli("info", tenx)
    assert (f"looks like a 10x Genomics feature-barcode matrix ({CELLS} cells, no labels; genomes hg19, mm10: "
            "--x names the one to read): predict with --x hg19\n") in out, out
    with h5py.File(tenx, "a") as f:  # a script's CSR group with a shape dataset, no symbols: not 10x's
        del f["mm10/gene_names"]
        assert not tenxfiles.is_tenx(f["mm10"]) and tenxfiles.is_tenx(f["hg19"])


def test_a_part_of_the_matrix_given_as_x_is_told_the_matrix(tmp_path):
    """--x matrix/features read the features' names as a group of columns ("column 'feature_type' has 40 rows
    but '_all_tag_keys' has 1"), --x matrix/data as a vector: both are told the matrix."""
    counts, _ = _counts()
    tenx = write_tenx(tmp_path / "a.h5", counts)
    for part in ("matrix/features", "matrix/data", "matrix/features/id"):
        code, _, err = cli("train", tenx, "--x", part, "--y", "matrix/barcodes", "-o", tmp_path / "m.h5")
        assert code == 2 and err == (f"sgdcli: error: {tenx}:{part}: is a part of a 10x Genomics matrix, not a "
                                     "matrix: its matrix is --x matrix\n"), err


def test_a_gene_index_beyond_the_shape_says_what_the_shape_is(tmp_path):
    counts, labels = _counts()
    tenx = write_tenx(tmp_path / "a.h5", counts)
    with h5py.File(tenx, "a") as f:
        f["cell_type"] = labels.astype("S")
        indices = f["matrix/indices"][()]
        indices[5] = 999
        f["matrix/indices"][...] = indices
    code, _, err = cli("train", tenx, "--x", "matrix", "--y", "cell_type", "-o", tmp_path / "m.h5", "-q")
    assert code == 2 and err == (f"sgdcli: error: {tenx}:matrix: row 0 has column index 999, outside 0..{GENES - 1} "
                                 f"(its dataset 'shape', (features, cells), says {GENES} features)\n"), err
