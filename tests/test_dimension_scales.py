"""A group of 1-D columns holding a dimension scale (netCDF's coordinate of the rows, or the scale netCDF writes for
a dimension without one): the scale is the rows' index, not a feature, and is left out, as pandas' index is.

The files are written by xarray (engine h5netcdf) where it is installed, and by h5py's dimension-scale API
(``make_scale``), which is what netCDF-4 uses underneath, in any case."""

import h5py
import numpy as np
import pytest

from sgdcli import train
from sgdcli.options import TrainOptions

from conftest import cli

N = 400
OPTS = dict(epochs=3, threads=1, seed=1, memory=2**20)
# few updates: enough to compare two models of the same columns, which is all these tests need
pytestmark = pytest.mark.filterwarnings("ignore::sgdcli.training.runlog.FitWarning")


@pytest.fixture(scope="module")
def columns():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(2, N))
    return a, b, (a - b > 0).astype(np.float64)


def write_xarray(path, a, b, y, coordinate: bool):
    """X holds variables a and b of dimension ``row`` (with the coordinate 1000, 1001, ... where
    ``coordinate``); the labels y at the root."""
    xr = pytest.importorskip("xarray", reason="xarray is not installed")
    pytest.importorskip("h5netcdf", reason="h5netcdf is not installed")
    coords = {"row": np.arange(1000, 1000 + N)} if coordinate else {}
    xr.Dataset({"a": ("row", a), "b": ("row", b)}, coords=coords).to_netcdf(path, engine="h5netcdf", group="X")
    xr.Dataset({"y": ("row", y)}).to_netcdf(path, engine="h5netcdf", mode="a")
    return path


def write_plain(path, a, b, y, scale: bool = False):
    """The columns a and b with h5py, and, where ``scale``, a row index made a dimension scale with h5py's API
    and attached to both."""
    with h5py.File(path, "w", track_order=True) as f:
        g = f.create_group("X", track_order=True)
        g["a"], g["b"] = a, b
        if scale:
            g["row"] = np.arange(1000, 1000 + N)
            g["row"].make_scale("row")
            g["a"].dims[0].attach_scale(g["row"])
            g["b"].dims[0].attach_scale(g["row"])
        f["y"] = y
    return path


@pytest.mark.parametrize("coordinate", [True, False], ids=["coordinate", "dimension-without-coordinate"])
def test_an_xarray_group_of_columns_trains_on_its_variables_not_its_dimension(tmp_path, columns, coordinate):
    a, b, y = columns
    path = write_xarray(tmp_path / "x.nc", a, b, y, coordinate)
    with h5py.File(path) as f:  # what makes the case: xarray wrote the dimension into the group, as a scale
        assert "row" in f["X"] and f["X/row"].is_scale
    model = train(path, TrainOptions(x="X", **OPTS))
    assert model.training["features"] == ["a", "b"]
    plain = train(write_plain(tmp_path / "plain.h5", a, b, y), TrainOptions(x="X", **OPTS))
    np.testing.assert_array_equal(model.weights, plain.weights)
    np.testing.assert_array_equal(model.bias, plain.bias)
    code, out, err = cli("info", path)
    assert code == 0, err
    assert "column group: 400 rows × 2 features (a, b)" in out
    assert "left out (dimension scales, the rows' index: netCDF/xarray coordinates): row" in out


def test_an_h5py_dimension_scale_in_a_group_of_columns_is_left_out(tmp_path, columns):
    a, b, y = columns
    path = write_plain(tmp_path / "scaled.h5", a, b, y, scale=True)
    model = train(path, TrainOptions(x="X", **OPTS))
    plain = train(write_plain(tmp_path / "plain.h5", a, b, y), TrainOptions(x="X", **OPTS))
    assert model.training["features"] == ["a", "b"]
    np.testing.assert_array_equal(model.weights, plain.weights)
    model.save(tmp_path / "m.h5")
    code, out, err = cli("evaluate", tmp_path / "m.h5", path, "--x", "X")  # by name: the scale stays out
    assert code == 0, err


@pytest.mark.parametrize("option", ["--features", "--label-column"])
def test_a_dimension_scale_named_as_a_column_is_refused_saying_what_it_is(tmp_path, columns, option):
    a, b, y = columns
    path = write_plain(tmp_path / "scaled.h5", a, b, y, scale=True)
    value = "a,row" if option == "--features" else "row"
    code, out, err = cli("train", path, "--x", "X", option, value, "-o", tmp_path / "m.h5")
    assert code == 2 and out == "", err
    assert err.strip().splitlines()[-1] == (
        f"sgdcli: error: {option} row: column 'row' of {path}:X is a dimension scale, the rows' index (a "
        "netCDF/xarray coordinate), not a feature, so sgdcli leaves it out; to use its values, store them as a "
        "variable of another name (xarray: ds['t'] = ds['row'])")
    assert not (tmp_path / "m.h5").exists()
