"""MuData files (.h5mu), as mudata writes them: a modality each an AnnData group in mod/<name>, trained on as
the same AnnData written alone is, its columns named by the modality's var; info suggests the first."""

import warnings

import h5py
import numpy as np
import pytest

from sgdcli import train
from sgdcli.options import TrainOptions

from conftest import cli, short_fits

pytestmark = short_fits  # small models, trained to test reading and naming

CELLS = 300


def need(module: str):
    return pytest.importorskip(module, reason=f"{module} is not installed (pip install '.[test]' installs it)")


@pytest.fixture
def modalities():
    """RNA counts (CSR) and protein levels (dense) of the same cells, and each cell's type."""
    ad, pd, sparse = need("anndata"), need("pandas"), need("scipy.sparse")
    rng = np.random.default_rng(0)
    cells = [f"cell{i}" for i in range(CELLS)]
    rna = rng.poisson(2, size=(CELLS, 20)).astype(np.float32)
    protein = rng.normal(size=(CELLS, 5)).astype(np.float32)
    kind = pd.Categorical(np.where(rna[:, 0] - rna[:, 1] + protein[:, 0] > 0, "B", "T"))
    obs = pd.DataFrame({"celltype": kind}, index=cells)
    return {"rna": ad.AnnData(X=sparse.csr_matrix(rna), obs=obs.copy(),
                              var=pd.DataFrame(index=[f"gene{j}" for j in range(20)])),
            "prot": ad.AnnData(X=protein, obs=pd.DataFrame(index=cells),
                               var=pd.DataFrame(index=[f"protein{j}" for j in range(5)]))}, kind


def _write(path, mods, kind=None):
    mudata = need("mudata")
    with warnings.catch_warnings():  # (mudata's notes on joining the modalities' frames)
        warnings.simplefilter("ignore")
        data = mudata.MuData(mods)
        if kind is not None:
            data.obs["celltype"] = kind
        data.write(str(path))
    return path


def test_info_suggests_the_first_modality_and_its_labels(modalities, tmp_path):
    mods, kind = modalities
    path = _write(tmp_path / "cells.h5mu", mods, kind)
    code, out, err = cli("info", path)
    assert code == 0 and ("looks like a MuData file (modalities: rna, prot; --x names the one to read): train "
                          "with --x mod/rna/X --y mod/rna/obs/celltype\n") in out, out


def test_a_modality_trains_as_the_same_anndata_written_alone(modalities, tmp_path):
    """Each modality's X, CSR or dense, with the genes' or proteins' names of its own var, gives the model of
    the same AnnData written as a file of its own; the file's own obs labels the cells too, where every
    modality measured every cell."""
    mods, kind = modalities
    path = _write(tmp_path / "cells.h5mu", mods, kind)
    for name, prefix in (("rna", "gene"), ("prot", "protein")):
        alone = tmp_path / f"{name}.h5ad"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mods[name].obs["celltype"] = kind
            mods[name].write_h5ad(alone)
        model = train(path, TrainOptions(x=f"mod/{name}/X", y="obs/celltype", epochs=2))
        same = train(alone, TrainOptions(y="obs/celltype", epochs=2))
        assert model.training["features"] == same.training["features"] == [
            f"{prefix}{j}" for j in range(mods[name].n_vars)]
        assert model.training["class_names"] == ["B", "T"]
        np.testing.assert_array_equal(model.weights, same.weights)
    own = train(path, TrainOptions(x="mod/rna/X", y="mod/rna/obs/celltype", epochs=2))
    np.testing.assert_array_equal(own.weights, train(path, TrainOptions(x="mod/rna/X", y="obs/celltype",
                                                                        epochs=2)).weights)


def test_the_files_own_obs_labels_a_modality_of_every_cell_only(modalities, tmp_path):
    """The file's obs has a row per cell of any modality: info offers its label column for a modality that
    measured every cell, and, for one that measured some cells only, a column of the modality's own obs,
    whose rows are its X's."""
    mods, kind = modalities
    mods = {"prot": mods["prot"], "rna": mods["rna"]}
    mods["prot"].obs["batch"] = np.arange(CELLS) % 3
    full = _write(tmp_path / "full.h5mu", mods)
    mods["prot"] = mods["prot"][: CELLS // 2].copy()
    some = _write(tmp_path / "some.h5mu", mods)
    for path, y in ((full, "obs/label"), (some, "mod/prot/obs/batch")):
        with h5py.File(path, "a") as f:  # a label column of the file's own, beside what mudata copied there
            f["obs/label"] = np.zeros(f["obs/_index"].shape[0], dtype=np.int64)
        code, out, err = cli("info", path)
        assert code == 0 and f"train with --x mod/prot/X --y {y}\n" in out, out


@pytest.mark.parametrize("partial", ["rna", "prot"])
def test_the_files_obs_beside_a_modality_of_some_cells_points_at_the_modalitys_own(modalities, tmp_path, partial):
    """The file's obs (every cell) as the labels of a modality that measured half of them, CSR or dense: the
    row-count error says to take them from the modality's own obs."""
    mods, kind = modalities
    mods[partial] = mods[partial][: CELLS // 2].copy()
    path = _write(tmp_path / "half.h5mu", mods, kind)
    code, out, err = cli("train", path, "--x", f"mod/{partial}/X", "--y", "obs/celltype", "-o", tmp_path / "m.h5")
    assert code == 2 and err == (f"sgdcli: error: {path}:obs/celltype: has {CELLS} rows but mod/{partial}/X has "
                                 f"{CELLS // 2}: the file's obs has a row per cell of any modality, mod/{partial}/X "
                                 f"one per cell of its own; take the labels from its obs, --y mod/{partial}/obs/"
                                 "<column>\n"), err


def test_the_files_obs_in_another_order_than_a_modalitys_is_refused(modalities, tmp_path):
    """A modality that holds every cell, but in another order than the file's obs: the same count of rows, so
    the file's labels were read as other cells' (a model of noise); now refused, naming the modality's own."""
    mods, kind = modalities
    mods["prot"] = mods["prot"][::-1].copy()
    path = _write(tmp_path / "reversed.h5mu", mods, kind)
    with h5py.File(path) as f:
        assert not np.array_equal(f["obsmap/prot"][()], np.arange(1, CELLS + 1))
    code, out, err = cli("train", path, "--x", "mod/prot/X", "--y", "obs/celltype", "-o", tmp_path / "m.h5")
    assert code == 2 and err == (f"sgdcli: error: {path}:obs/celltype: the file's obs has a row per cell of any "
                                 "modality, mod/prot/X one per cell of its own, in another order; take the labels "
                                 "from its obs, --y mod/prot/obs/<column>\n"), err
    assert train(path, TrainOptions(x="mod/rna/X", y="obs/celltype", epochs=1)).training["class_names"] == ["B", "T"]


def test_what_mudata_and_rs_writers_name_otherwise_is_read(modalities, tmp_path):
    """A label column copied into the file's obs as <modality>:<column> (mudata's pull_obs names them so; this
    mudata keeps them in memory only, so h5py writes one here) are found as labels; an encoding spelled
    "AnnData" (R's MuData, MuDataSeurat) still names a modality's genes; a modality given as --x is told its
    matrix."""
    mods, kind = modalities
    mods["rna"].obs["n_genes"] = np.arange(CELLS)
    path = _write(tmp_path / "cells.h5mu", {"rna": mods["rna"]})
    with h5py.File(path, "a") as f:
        f.create_dataset("obs/rna:label", data=np.asarray(kind).astype(object), dtype=h5py.string_dtype())
        del f["mod/rna/obs/celltype"]  # (the label only where it was copied)
        f["mod/rna/obs"].attrs["column-order"] = ["n_genes"]
        f["mod/rna"].attrs["encoding-type"] = "AnnData"
    code, out, err = cli("info", path)
    assert code == 0 and "train with --x mod/rna/X --y obs/rna:label\n" in out and "gene0, gene1" in out, out
    code, out, err = cli("train", path, "--x", "mod/rna", "-o", tmp_path / "m.h5")
    assert code == 2 and err == f"sgdcli: error: {path}:mod/rna: is a MuData modality, not a matrix: its matrix " \
                                "is --x mod/rna/X\n", err
