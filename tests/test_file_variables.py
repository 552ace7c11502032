"""What of an xarray (netCDF) or MATLAB v7.3 file is features, written by the libraries that write them: CF
times and durations and xarray's other coordinates are left out of a group of columns, as pandas' dates and
the rows' index are; `info` suggests a MATLAB file's X and y by name, and a char array is no features."""

import warnings

import h5py
import numpy as np
import pandas as pd
import pytest

from sgdcli import evaluate, train
from sgdcli.options import TrainOptions

from conftest import cli, make_problem

xr = pytest.importorskip("xarray")
pytest.importorskip("h5netcdf")
hdf5storage = pytest.importorskip("hdf5storage")

OPTS = dict(epochs=2, shuffle=False, threads=1, label_column="label", x="/")


def columns(X, y, **extra):
    return xr.Dataset({**{f"f{j}": (("sample",), X[:, j]) for j in range(X.shape[1])}, **extra,
                       "label": (("sample",), y)})


def test_cf_times_and_durations_are_left_out_as_their_unit_changes_with_the_export(tmp_path):
    """xarray stores times as counts of a unit and from a date that it picks from each export's values: they
    were features, and the same timestamps written in other units scored accuracy 0.81 against 0.98, exit 0."""
    X, y = make_problem("binary", n=2000, d=4, seed=3)
    when = pd.date_range("2024-01-01", periods=len(y), freq="h")
    data = columns(X, y, when=(("sample",), when), took=(("sample",), pd.to_timedelta(np.arange(len(y)), "s")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data.to_netcdf(tmp_path / "a.nc", engine="h5netcdf")
        data.to_netcdf(tmp_path / "b.nc", engine="h5netcdf", encoding={"when": {"units": "days since 1970-01-01",
                                                                                "dtype": "float64"}})
    columns(X, y).to_netcdf(tmp_path / "plain.nc", engine="h5netcdf")
    with h5py.File(tmp_path / "a.nc") as f:
        assert f["when"].attrs["units"].startswith("hours since") and f["when"].dtype.kind == "i"
    model, plain = (train(str(tmp_path / name), TrainOptions(**OPTS)) for name in ("a.nc", "plain.nc"))
    assert model.weights.tobytes() == plain.weights.tobytes() and model.n_features == 4
    assert evaluate(model, str(tmp_path / "b.nc"), x="/", label_column="label") == evaluate(
        model, str(tmp_path / "a.nc"), x="/", label_column="label")
    code, out, err = cli("info", tmp_path / "a.nc")
    assert "  left out (CF times and durations, counts of a unit that xarray picks for each file): when, took\n" \
        in out, out
    code, out, err = cli("train", tmp_path / "a.nc", "--x", "/", "--label-column", "label", "--features", "f0,when",
                         "-o", tmp_path / "m.h5")
    assert (code, err) == (2, f"sgdcli: error: --features when: column 'when' of {tmp_path / 'a.nc'}:/ holds CF "
                              "times or durations (its units attribute: 'hours since 2024-01-01', or xarray's "
                              "timedelta): counts of a unit, and from a date, that xarray picks for each file it "
                              "writes, so the same times are other numbers in another file; sgdcli leaves it out: "
                              "store it as numbers (e.g. seconds since a fixed date) to use it\n")


def test_a_coordinate_that_is_not_the_rows_index_is_left_out(tmp_path):
    """xarray writes a non-index coordinate (station ids along the samples) as a variable that the others list
    in their coordinates attribute: it was a feature."""
    X, y = make_problem("binary", n=500, d=3, seed=4)
    data = columns(X, y).assign_coords(station=("sample", np.arange(len(y)) % 7))
    data.to_netcdf(tmp_path / "s.nc", engine="h5netcdf")
    columns(X, y).to_netcdf(tmp_path / "plain.nc", engine="h5netcdf")
    with h5py.File(tmp_path / "s.nc") as f:
        assert "station" in f and "station" in f["f0"].attrs["coordinates"].split()
    model, plain = (train(str(tmp_path / name), TrainOptions(**OPTS)) for name in ("s.nc", "plain.nc"))
    assert model.weights.tobytes() == plain.weights.tobytes()
    code, out, err = cli("info", tmp_path / "s.nc")
    assert "left out (coordinates of the variables, not data variables: xarray's non-index coords): station\n" \
        in out, out
    code, _, err = cli("train", tmp_path / "s.nc", "--x", "/", "--label-column", "label", "--features",
                       "f0,station", "-o", tmp_path / "m.h5")
    assert code == 2 and err.endswith(
        "make it one (xarray: ds = ds.reset_coords('name'), and, where ds was read from a file, drop what its "
        "variables would write back: for v in ds.variables.values(): v.encoding.pop('coordinates', None))\n"), err
    # what it says to do makes it a feature (reset_coords alone on a dataset read from the file did not: xarray
    # kept the attribute in the variables' encoding, and wrote it back)
    ds = xr.open_dataset(tmp_path / "s.nc", engine="h5netcdf").load().reset_coords("station")
    for v in ds.variables.values():
        v.encoding.pop("coordinates", None)
    ds.to_netcdf(tmp_path / "r.nc", engine="h5netcdf")
    code, _, err = cli("train", tmp_path / "r.nc", "--x", "/", "--label-column", "label", "--features", "f0,station",
                       "-o", tmp_path / "m.h5", "-q")
    assert code == 0, err


def savemat(path, arrays):
    hdf5storage.savemat(str(path), arrays, format="7.3", matlab_compatible=True)


@pytest.mark.parametrize("other", ["ids", "Sample", "names"])
def test_info_suggests_a_matlab_files_x_and_y_by_name(tmp_path, other):
    """The first 2-D array and the first other one by name were suggested: a char matrix of sample names as
    --x (trained on as character codes, exit 0), row ids or a cell array of names as --y."""
    X, y = make_problem("binary", n=300, d=4, seed=5)
    extra = {"ids": np.arange(len(y), dtype=float).reshape(-1, 1),
             "Sample": np.array([list(f"S{i:04d}") for i in range(len(y))]),
             "names": np.array([f"n{i}" for i in range(len(y))], dtype=object).reshape(-1, 1)}[other]
    savemat(tmp_path / "m.mat", {"X": X, "y": y.reshape(-1, 1).astype(float), other: extra})
    code, out, err = cli("info", tmp_path / "m.mat")
    assert code == 0 and "looks like a MATLAB v7.3 file: train with --x X --y y\n" in out, out
    if other == "Sample":
        code, out, err = cli("train", tmp_path / "m.mat", "--x", "Sample", "--y", "y", "-o", tmp_path / "m.h5")
        assert (code, err) == (2, f"sgdcli: error: {tmp_path / 'm.mat'}:Sample: is a MATLAB char array, text (its "
                                  "numbers are character codes), not features; names read as labels go in --y\n")


def test_a_matlab_files_sparse_or_empty_x_is_named_by_info_and_never_read_as_columns(tmp_path):
    """An empty X and y (MATLAB stores their dimensions) looked like a group of columns: info suggested
    --x / --label-column y, which trained on [0 5] and [0 1], exit 0; a sparse X (a group) left the labels
    as the only 2-D array: --x y."""
    savemat(tmp_path / "e.mat", {"X": np.zeros((0, 5)), "y": np.zeros((0, 1))})
    code, out, err = cli("info", tmp_path / "e.mat")
    assert "looks like a MATLAB v7.3 file: train with --x X --y y\n  but: " in out, out
    code, out, err = cli("train", tmp_path / "e.mat", "--x", "/", "--label-column", "y", "-o", tmp_path / "m.h5")
    assert (code, err) == (2, f"sgdcli: error: {tmp_path / 'e.mat'}:X: is an empty MATLAB array (0 × 5): it has "
                              "no rows\n")
    y = np.arange(40) % 2
    with h5py.File(tmp_path / "s.mat", "w") as f:  # MATLAB's own layout of a sparse matrix (hdf5storage has none)
        g = f.create_group("X")
        g["data"], g["ir"], g["jc"] = np.ones(40), np.arange(40) % 5, np.arange(41)
        g.attrs["MATLAB_class"], g.attrs["MATLAB_sparse"] = np.bytes_("double"), np.uint64(5)
        f["y"] = y.reshape(1, -1).astype(float)
        f["y"].attrs["MATLAB_class"] = np.bytes_("double")
    code, out, err = cli("info", tmp_path / "s.mat")
    assert ("looks like a MATLAB v7.3 file: train with --x X --y y\n  but: "
            f"{tmp_path / 's.mat'}:X: is a MATLAB sparse matrix") in out, out


@pytest.mark.parametrize("name", ["X", "y"])
def test_a_matlab_complex_array_is_named_as_what_it_is(tmp_path, name):
    """hdf5storage (as MATLAB) stores a complex array as a compound of real and imag: X was "a compound dataset
    is read as a table, one row per element, so it must be 1-D", y "dtype [...] is not numeric"."""
    X, y = make_problem("binary", n=100, d=3, seed=6)
    arrays = {"X": X, "y": y.reshape(-1, 1).astype(float)}
    arrays[name] = arrays[name] * (1 + 1j)
    savemat(tmp_path / "c.mat", arrays)
    code, out, err = cli("train", tmp_path / "c.mat", "-o", tmp_path / "m.h5")
    assert (code, err) == (2, f"sgdcli: error: {tmp_path / 'c.mat'}:{name}: is a MATLAB complex array (real and imag "
                              "parts), which sgdcli does not read: save real numbers (its real() and imag() as "
                              "arrays or columns of their own)\n")


def test_netcdf_character_array_labels_are_named_as_what_they_are(tmp_path):
    """xarray writes text as characters (one per element) with encoding dtype S1: "dtype |S1 is not numeric"."""
    X, y = make_problem("binary", n=200, d=3, seed=7)
    names = np.where(y > 0, "yes", "no")
    xr.Dataset({"X": (("sample", "feature"), X), "y": (("sample",), names)}).to_netcdf(
        tmp_path / "c.nc", engine="h5netcdf", encoding={"y": {"dtype": "S1"}})
    code, out, err = cli("train", tmp_path / "c.nc", "-o", tmp_path / "m.h5")
    assert (code, err) == (2, f"sgdcli: error: {tmp_path / 'c.nc'}:y: is a netCDF character array (a character per "
                              "element, 3 a row), which sgdcli does not read as labels; write them as strings "
                              "(xarray's default for text)\n")


def test_matlab_column_vectors_saved_one_per_column_train_as_the_columns_they_are(tmp_path):
    """MATLAB stores an N × 1 column as HDF5's 1 × N: a group of them was refused ("member 'f0' is (1, 2000),
    not a 1-D column", of FILE::), where the same columns saved as rows trained."""
    X, y = make_problem("binary", n=300, d=3, seed=8)
    arrays = {**{f"f{j}": X[:, j] for j in range(3)}, "label": y.astype(float)}
    savemat(tmp_path / "cols.mat", {k: v.reshape(-1, 1) for k, v in arrays.items()})
    savemat(tmp_path / "rows.mat", {k: v.reshape(1, -1) for k, v in arrays.items()})
    with h5py.File(tmp_path / "cols.mat") as f:
        assert f["f0"].shape == (1, 300)
    code, out, err = cli("info", tmp_path / "cols.mat")
    assert "looks like a group of columns: train with --x / --label-column label\n" in out, out
    options = TrainOptions(**OPTS)
    a, b = (train(str(tmp_path / name), options) for name in ("cols.mat", "rows.mat"))
    assert a.n_features == 3 and a.weights.tobytes() == b.weights.tobytes()
