"""A directory given where a file is read: the stores other tools write in place of their HDF5 files are named,
with the line that writes such a file (data/directories.py); any other directory is click's refusal."""

import os
import warnings

import numpy as np
import pytest

from conftest import cli


def test_an_anndata_zarr_store_is_told_how_to_write_it_as_h5ad(tmp_path):
    ad, pd = pytest.importorskip("anndata"), pytest.importorskip("pandas")
    pytest.importorskip("zarr")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ad.AnnData(X=np.ones((5, 3), dtype=np.float32),
                   obs=pd.DataFrame({"t": list("aabba")}, index=list("12345"))).write_zarr(tmp_path / "a.zarr")
    path = str(tmp_path / "a.zarr")
    for args in (["train", path, "-o", tmp_path / "m.h5"], ["info", path]):
        code, out, err = cli(*args)
        assert (code, out) == (2, "") and (
            f"Invalid value for '{'FILE' if args[0] == 'info' else 'DATA'}': {path!r} is an AnnData Zarr store (a "
            f"directory), which sgdcli does not read: write it as HDF5, anndata.read_zarr({path!r})"
            ".write_h5ad('cells.h5ad') (docs/other-tools.md)") in err and err.count("\n") == 1, err
    assert not (tmp_path / "m.h5").exists()


def test_an_xarray_zarr_store_is_told_how_to_write_it_as_netcdf(tmp_path):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("zarr")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xr.Dataset({"v": ("row", np.arange(5.0))}).to_zarr(tmp_path / "x.zarr")
    path = str(tmp_path / "x.zarr")
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5")
    assert code == 2 and (f"{path!r} is an xarray Zarr store (a directory), which sgdcli does not read: write it as "
                          f"HDF5, xarray.open_zarr({path!r}).to_netcdf('data.nc', engine='h5netcdf')") in err, err


def test_a_matrix_market_directory_is_pointed_to_cell_rangers_hdf5_file(tmp_path):
    scipy_io, scipy_sparse = pytest.importorskip("scipy.io"), pytest.importorskip("scipy.sparse")
    os.makedirs(tmp_path / "filtered_feature_bc_matrix")
    scipy_io.mmwrite(tmp_path / "filtered_feature_bc_matrix" / "matrix.mtx",
                     scipy_sparse.random(3, 5, density=0.5, format="coo", random_state=0))
    path = str(tmp_path / "filtered_feature_bc_matrix")
    code, _, err = cli("predict", tmp_path / "model.h5", path, "-o", "-")
    assert code == 2 and (f"Invalid value for 'DATA': {path!r} is a 10x Genomics Matrix Market directory, which "
                          "sgdcli does not read: Cell Ranger writes the same counts as HDF5 beside it "
                          "(filtered_feature_bc_matrix.h5, read with --x matrix), or "
                          f"scanpy.read_10x_mtx({path!r}).write_h5ad('cells.h5ad')") in err, err


def test_another_directory_is_clicks_refusal(tmp_path):
    os.makedirs(tmp_path / "d")
    code, _, err = cli("train", tmp_path / "d", "-o", tmp_path / "m.h5")
    assert code == 2 and "Invalid value for 'DATA': File " in err and "is a directory." in err, err


def test_the_python_api_refuses_the_store_as_the_command_does(tmp_path):
    """``sgdcli.train`` opens the path itself (data/hdf5.py): the same words, as its InputError."""
    import sgdcli
    from sgdcli.errors import InputError

    os.makedirs(tmp_path / "m")
    (tmp_path / "m" / "matrix.mtx.gz").write_bytes(b"")
    with pytest.raises(InputError, match=r"m: is a 10x Genomics Matrix Market directory, which sgdcli does not read"):
        sgdcli.train(str(tmp_path / "m"), sgdcli.TrainOptions())
    assert sgdcli.directory_refusal(str(tmp_path)) is None
