"""CF-packed netCDF (xarray, netCDF4): _FillValue and missing_value entries are missing values, and
scale_factor/add_offset are applied, so a packed file trains and scores as the same data written plainly."""

import warnings

import h5py
import numpy as np
import pytest

from sgdcli import predict, train
from sgdcli.options import TrainOptions

from conftest import cli, make_problem, short_fits

N, D = 3000, 4
OPTS = dict(epochs=2, shuffle=False, threads=1, bad_rows="skip")  # file order: the same batches in every copy


@pytest.fixture(scope="module")
def xr():
    pytest.importorskip("h5netcdf", reason="h5netcdf is not installed (pip install '.[test]' installs it)")
    return pytest.importorskip("xarray", reason="xarray is not installed (pip install '.[test]' installs it)")


def table(missing=True):
    """Features in multiples of 1/8 (exact in every packing below), one in ten of column 1 missing (NaN)."""
    X, y = make_problem("binary", n=N, d=D, seed=9)
    X = np.round(X.astype(np.float64) * 8) / 8
    if missing:
        X[::10, 1] = np.nan
    return X, y.astype(np.float64)


def write(xr, path, X, y, **encoding):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # xarray's notes on packing with NaN
        xr.Dataset({"X": (("row", "col"), X), "y": (("row",), y)}).to_netcdf(
            path, engine="h5netcdf", encoding={"X": encoding} if encoding else None)
    return str(path)


PACKED = {"dtype": "int16", "scale_factor": 0.125, "_FillValue": -32767}


def test_a_fill_value_is_a_missing_value_not_the_number(tmp_path, xr):
    X, y = table()
    path = write(xr, tmp_path / "packed.nc", X, y, **PACKED)
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5")
    assert code == 2 and out == ""
    assert err.strip().splitlines()[-1] == (
        f"sgdcli: error: {path}:X: non-finite feature value at row 0, column 1 (NaN or infinite; entries equal to "
        "its CF _FillValue or missing_value are missing, read as NaN)")


@pytest.mark.parametrize("encoding", [
    PACKED,
    {"dtype": "int16", "scale_factor": 0.125, "add_offset": 3.0, "missing_value": -9999},
    {"dtype": "int32", "scale_factor": np.float32(0.125), "add_offset": np.float32(-1.0), "_FillValue": -(2**31 - 1)},
    {"dtype": "float32", "_FillValue": -999.0},
], ids=["fill", "missing_value+offset", "int32-float32-attrs", "float-fill"])
def test_a_packed_file_trains_the_model_of_the_plain_copy(tmp_path, xr, encoding):
    X, y = table()
    plain = write(xr, tmp_path / "plain.nc", X, y)
    packed = write(xr, tmp_path / "packed.nc", X, y, **encoding)
    expected = train(plain, TrainOptions(**OPTS))
    model = train(packed, TrainOptions(**OPTS))
    assert model.training["bad_rows"] == expected.training["bad_rows"] == N // 10
    np.testing.assert_array_equal(model.weights, expected.weights)
    np.testing.assert_array_equal(model.bias, expected.bias)
    from sgdcli.data.cf import packing_of  # (here: the tests above run on code that has no decoding)

    with h5py.File(packed) as f:
        assert packing_of(f["X"]) is not None


def test_a_model_scores_files_packed_with_another_scale_alike(tmp_path, xr):
    X, y = table(missing=False)
    a = write(xr, tmp_path / "a.nc", X, y, dtype="int16", scale_factor=0.125)
    b = write(xr, tmp_path / "b.nc", X, y, dtype="int32", scale_factor=0.0625, add_offset=-2.0)
    model = train(a, TrainOptions(epochs=2, threads=1))
    for path, out in ((a, "a.csv"), (b, "b.csv")):
        predict(model, path, tmp_path / out)
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_nan_fill_values_keep_the_memory_mapped_read(tmp_path, xr):
    """xarray gives every float variable a NaN _FillValue: nothing to decode, so nothing changes."""
    X, y = table()
    path = write(xr, tmp_path / "plain.nc", X, y)
    from sgdcli.data.cf import packing_of

    with h5py.File(path) as f:
        assert np.isnan(f["X"].attrs["_FillValue"]).all() and packing_of(f["X"]) is None
    code, out, err = cli("info", path)
    assert code == 0 and "float64, contiguous, chunks -, compression none, 93.8 KiB (93.8 KiB stored), read " \
                         "memory-mapped\n" in out, out
    code, out, err = cli("info", write(xr, tmp_path / "packed.nc", X, y, **PACKED))
    assert "read chunk-aligned blocks; CF-decoded to float64: -32767 as missing (NaN), × 0.125\n" in out, out


@short_fits
def test_packed_labels_unsigned_values_and_bad_attributes(tmp_path):
    from sgdcli.data.cf import packing_of

    X, y = table(missing=False)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["X"] = X.astype(np.float32)
        ys = f.create_dataset("y", data=np.where(y > 0, -1, 0).astype(np.int8))  # 255 and 0, stored signed
        ys.attrs["_Unsigned"] = "true"
        ys.attrs["scale_factor"] = np.float32(1 / 255)
    with h5py.File(tmp_path / "d.h5") as f:
        packing = packing_of(f["y"])
        assert packing.dtype == np.float32
        np.testing.assert_array_equal(packing.decode(f["y"][:4]), (y[:4] > 0).astype(np.float32) * 255
                                      * np.float32(1 / 255))
    model = train(str(tmp_path / "d.h5"), TrainOptions(epochs=1, threads=1))
    assert sorted(model.classes) == [0.0, 1.0]
    with h5py.File(tmp_path / "d.h5", "a") as f:
        f["X"].attrs["scale_factor"] = "0.5"
    code, out, err = cli("train", tmp_path / "d.h5", "-o", tmp_path / "m.h5")
    assert (code, err.strip()) == (2, f"sgdcli: error: {tmp_path / 'd.h5'}:X: its scale_factor attribute is '0.5', "
                                      "not a number; sgdcli decodes netCDF's CF attributes as xarray does, and this "
                                      "one cannot be")


@pytest.mark.parametrize("flag", ["true", "false"])
def test_unsigned_attributes_read_the_values_xarray_reads(tmp_path, xr, flag):
    """_Unsigned = "false" (netCDF-Java and netCDF-3 conversions) marks signed values stored unsigned: it was
    ignored, and bytes of -6 trained as 250; "true", unsigned values stored signed, was read already."""
    X, y = table(missing=False)
    values = np.clip(X * 8, -120, 120).astype(np.int8) if flag == "false" else (X * 8 + 128).astype(np.uint8)
    stored = values.view(np.uint8 if flag == "false" else np.int8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xr.Dataset({"X": xr.Variable(("row", "col"), stored, attrs={"_Unsigned": flag}), "y": (("row",), y)}) \
            .to_netcdf(tmp_path / "u.nc", engine="h5netcdf")
        decoded = xr.open_dataset(tmp_path / "u.nc", engine="h5netcdf")["X"].values
    np.testing.assert_array_equal(decoded, values)  # what xarray reads
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["X"], f["y"] = values.astype(np.float64), y
    a, b = (train(str(path), TrainOptions(**OPTS)) for path in (tmp_path / "u.nc", tmp_path / "plain.h5"))
    assert a.weights.tobytes() == b.weights.tobytes() and a.center.tobytes() == b.center.tobytes()
    code, out, err = cli("info", tmp_path / "u.nc")
    assert f"CF-decoded to float32: as {'signed' if flag == 'false' else 'unsigned'}\n" in out, out
