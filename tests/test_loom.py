"""Loom files, as loompy writes them: a row per gene and a column per cell, read transposed (a row per cell),
the genes named by row_attrs/Gene, the labels a cell attribute; info says so."""

import h5py
import numpy as np
import pytest

from sgdcli import train
from sgdcli.options import TrainOptions

from conftest import cli, short_fits

pytestmark = short_fits  # small models, trained to test reading and naming

GENES, CELLS = 12, 400


@pytest.fixture
def loom(tmp_path):
    """A Loom file of GENES × CELLS counts (and a layer of their logarithms), each cell's cluster, by loompy."""
    loompy = pytest.importorskip("loompy", reason="loompy is not installed (pip install '.[test]' installs it)")
    rng = np.random.default_rng(0)
    counts = rng.poisson(3, size=(GENES, CELLS)).astype(np.float32)
    score = (counts - counts.mean(axis=1, keepdims=True)).T @ rng.normal(size=GENES)
    path = str(tmp_path / "cells.loom")
    loompy.create(path, {"": counts, "logged": np.log1p(counts)},
                  {"Gene": np.array([f"gene{g}" for g in range(GENES)])},
                  {"CellID": np.array([f"cell{c}" for c in range(CELLS)]),
                   "ClusterName": np.where(score > 0, "alpha", "beta"), "nUMI": counts.sum(axis=0)})
    return path, counts, np.where(score > 0, "alpha", "beta")


def test_info_reads_a_loom_file_a_row_per_cell(loom):
    path, _, _ = loom
    code, out, err = cli("info", path)
    assert code == 0, err
    assert ("looks like a Loom file (a row per gene, read transposed: a row per cell): train with --x matrix --y "
            "col_attrs/ClusterName\n") in out, out
    assert f"  Loom matrix (a row per gene, read transposed): {CELLS} rows × {GENES} features (gene0, gene1, " in out


def test_a_loom_matrix_trains_as_the_same_counts_stored_transposed(loom, tmp_path):
    """The matrix is read transposed without --transpose, its features named by the genes: the model is the one
    of the same counts, chunks and labels in a plain file read with --transpose, but for the names."""
    path, counts, clusters = loom
    model = train(path, TrainOptions(x="matrix", y="col_attrs/ClusterName", epochs=3))
    assert model.training["features"] == [f"gene{g}" for g in range(GENES)]
    assert model.training["class_names"] == ["alpha", "beta"]
    with h5py.File(path) as f:
        chunks, ychunks = f["matrix"].chunks, f["col_attrs/ClusterName"].chunks
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f.create_dataset("X", data=counts, chunks=chunks, compression="gzip")
        f.create_dataset("y", data=clusters.astype(object), dtype=h5py.string_dtype(), chunks=ychunks,
                         compression="gzip")
    same = train(plain, TrainOptions(transpose=True, epochs=3))
    np.testing.assert_array_equal(model.weights, same.weights)
    logged = train(path, TrainOptions(x="layers/logged", y="col_attrs/ClusterName", epochs=3))
    assert logged.training["features"] == model.training["features"]
    model.save(tmp_path / "m.h5")
    code, out, err = cli("predict", tmp_path / "m.h5", path, "--x", "matrix", "-o", "-")
    predicted = out.split("\n")[1:-1]
    assert code == 0 and len(predicted) == CELLS and np.mean(np.array(predicted) == clusters) > 0.9, err


def test_a_loom_matrix_is_not_transposed_again_nor_labelled_by_genes(loom, tmp_path):
    """--transpose would make the genes the observations: refused, as of a MATLAB matrix; the genes' attributes
    as labels are refused, as many as the cells or not (a square file trained on them), and labels of the
    genes' count from elsewhere are told where a cell's are."""
    path, _, _ = loom
    code, out, err = cli("train", path, "--x", "matrix", "--transpose", "--y", "col_attrs/ClusterName",
                         "-o", tmp_path / "m.h5")
    assert code == 2 and err == (f"sgdcli: error: --transpose: {path}:matrix is a Loom matrix, read transposed "
                                 "already (Loom stores a row per gene); it applies to a 2-D matrix stored features "
                                 "× rows\n"), err
    code, out, err = cli("train", path, "--x", "matrix", "--y", "row_attrs/Gene", "-o", tmp_path / "m.h5")
    assert code == 2 and err == (f"sgdcli: error: {path}:row_attrs/Gene: is an attribute of the genes, but matrix "
                                 "is read a row per cell: the labels are one of the cells' attributes, "
                                 "col_attrs/<name>\n"), err
    with h5py.File(path, "a") as f:
        f["genes"] = np.arange(GENES)
    code, out, err = cli("train", path, "--x", "matrix", "--y", "genes", "-o", tmp_path / "m.h5")
    assert code == 2 and err == (f"sgdcli: error: {path}:genes: has {GENES} rows but matrix has {CELLS}: "
                                 f"matrix is a Loom matrix, read transposed, a row for each of its {CELLS} cells (its "
                                 "columns): the labels are one of the cells' attributes, col_attrs/<name>\n"), err
    loompy = pytest.importorskip("loompy")
    square = str(tmp_path / "square.loom")
    loompy.create(square, np.ones((20, 20), dtype=np.float32), {"Gene": np.array([f"g{g}" for g in range(20)]),
                                                                "kind": np.arange(20) % 2},
                  {"CellID": np.array([f"c{c}" for c in range(20)])})
    code, out, err = cli("train", square, "--x", "matrix", "--y", "row_attrs/kind", "-o", tmp_path / "m.h5")
    assert code == 2 and "row_attrs/kind: is an attribute of the genes, but matrix is read a row per cell" in err


def test_a_loom_model_reads_another_loom_files_genes_by_name(loom, tmp_path):
    """Another Loom file of the same cells with its genes in reverse order: the model reads each gene by its
    name, so its predictions are those on the first file."""
    loompy = pytest.importorskip("loompy")
    path, counts, clusters = loom
    model = train(path, TrainOptions(x="matrix", y="col_attrs/ClusterName", epochs=2))
    model.save(tmp_path / "m.h5")
    other = str(tmp_path / "reversed.loom")
    loompy.create(other, counts[::-1].copy(), {"Gene": np.array([f"gene{g}" for g in range(GENES)][::-1])},
                  {"CellID": np.array([f"cell{c}" for c in range(CELLS)])})
    runs = [cli("predict", tmp_path / "m.h5", data, "--x", "matrix", "-o", "-") for data in (path, other)]
    assert runs[0][0] == runs[1][0] == 0 and runs[0][1] == runs[1][1], runs


def test_a_scripts_matrix_beside_groups_of_those_names_is_read_as_stored(tmp_path):
    """An h5py script's matrix (rows × features) beside row_attrs and col_attrs, with no Loom version and no
    .loom name, is read as stored, its labels a row attribute, as before Loom files were known."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4))
    path = tmp_path / "own.h5"
    with h5py.File(path, "w") as f:
        f["matrix"], f["row_attrs/label"], f["col_attrs/name"] = X, (X[:, 0] > 0).astype(int), np.arange(4)
    model = train(path, TrainOptions(x="matrix", y="row_attrs/label", epochs=1))
    assert model.n_features == 4


def test_genes_are_named_by_unique_names_and_labels_found_by_their_loom_names(tmp_path):
    """Gene symbols that repeat (10x's and velocyto's do) cannot name columns read by name: the unique
    accessions name them. Of ClusterID and ClusterName, info suggests ClusterName; of CellID alone, a
    placeholder that it does not try, and the matrix's summary still."""
    loompy = pytest.importorskip("loompy")
    rng = np.random.default_rng(0)
    counts = rng.poisson(2, size=(5, 200)).astype(np.float32)
    genes = {"Gene": np.array(["a", "b", "b", "c", "d"]), "Accession": np.array([f"ENSG{g}" for g in range(5)])}
    cells = {"CellID": np.array([f"c{c}" for c in range(200)])}
    path, bare = str(tmp_path / "dup.loom"), str(tmp_path / "bare.loom")
    loompy.create(path, counts, genes, {**cells, "ClusterID": np.arange(200) % 2,
                                        "ClusterName": np.where(counts[0] > 2, "x", "y")})
    loompy.create(bare, counts, genes, cells)
    model = train(path, TrainOptions(x="matrix", y="col_attrs/ClusterName", epochs=1))
    assert model.training["features"] == [f"ENSG{g}" for g in range(5)]
    code, out, err = cli("info", path)
    assert code == 0 and "train with --x matrix --y col_attrs/ClusterName\n" in out, out
    code, out, err = cli("info", bare)
    assert code == 0 and "train with --x matrix --y col_attrs/<name>\n" in out and "but:" not in out, out
    assert "  Loom matrix (a row per gene, read transposed): 200 rows × 5 features (ENSG0," in out, out


def test_a_model_of_genes_by_symbol_reads_a_loom_file_named_by_accession(tmp_path):
    """A Loom file whose symbols repeat names its genes by accession; a model trained on the same cells as
    scanpy's users write them (the symbols made unique, "b-1") reads it by symbol, as it reads the AnnData
    file: it was refused, none of its genes found."""
    loompy = pytest.importorskip("loompy")
    anndata = pytest.importorskip("anndata")
    import warnings

    import pandas as pd

    rng = np.random.default_rng(1)
    counts = rng.poisson(2, size=(5, 300)).astype(np.float32)
    labels = np.where(counts[0] + counts[2] > 4, "x", "y")
    symbols = np.array(["a", "b", "b", "c", "b-1"])
    path = str(tmp_path / "dup.loom")
    loompy.create(path, counts, {"Gene": symbols, "Accession": np.array([f"ENSG{g}" for g in range(5)])},
                  {"CellID": np.array([f"c{c}" for c in range(300)])})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (anndata warns of the names it is told to make unique)
        adata = anndata.AnnData(counts.T.copy(), obs=pd.DataFrame({"kind": labels},
                                                                  index=[f"c{c}" for c in range(300)]),
                                var=pd.DataFrame(index=list(symbols)))
        adata.var_names_make_unique()
        adata.write_h5ad(tmp_path / "cells.h5ad")
    assert list(adata.var_names) == ["a", "b", "b-2", "c", "b-1"]
    assert cli("train", tmp_path / "cells.h5ad", "--y", "obs/kind", "-o", tmp_path / "m.h5", "-q", "--features",
               "b-2,a,c")[0] == 0
    for data, x in ((path, "matrix"), (tmp_path / "cells.h5ad", "X")):
        code, _, err = cli("predict", tmp_path / "m.h5", data, "--x", x, "-o", f"{data}.csv")
        assert code == 0, err
    with open(f"{path}.csv") as ours, open(tmp_path / "cells.h5ad.csv") as theirs:
        assert ours.read() == theirs.read()
