"""A named (committed) datatype, or a link that leads to itself, given where a dataset is expected: a one-line error
naming it and saying what it is, exit 2, from every option that names something inside the file (the same lookup
serves them all)."""

import h5py
import numpy as np
import pytest

from conftest import cli, write_table

TYPE = ("is a named datatype (a type stored in the file by name, as netCDF-4 stores its enum types), not a {what}; "
        "name the dataset that has this type")


@pytest.fixture
def files(tmp_path):
    """A plain X and y (and weights w), a named datatype ``types/t`` written with h5py, and a model of X and y."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    path = write_table(tmp_path / "odd.h5", X, (X[:, 0] > 0).astype(np.float64))
    with h5py.File(path, "a") as f:
        f["types/t"] = np.dtype("f8")
        f["w"] = np.ones(40)
    assert cli("train", path, "-o", tmp_path / "m.h5", "--epochs", "1", "--batch-size", "8")[0] == 0
    return path, tmp_path / "m.h5"


CASES = {
    "train --x": (["train", "{data}", "-o", "{out}", "--x", "types/t"], "dataset or group", ""),
    "train --y": (["train", "{data}", "-o", "{out}", "--y", "types/t"], "dataset", ""),
    "train --sample-weight": (["train", "{data}", "-o", "{out}", "--sample-weight", "types/t"], "dataset",
                              "--sample-weight: "),
    "train --val-x": (["train", "{data}", "-o", "{out}", "--val", "{data}", "--val-x", "types/t"],
                      "dataset or group", ""),
    "train --val-y": (["train", "{data}", "-o", "{out}", "--val", "{data}", "--val-y", "types/t"], "dataset", ""),
    "predict --x": (["predict", "{model}", "{data}", "-o", "{out}", "--x", "types/t"], "dataset or group", ""),
    "evaluate --x": (["evaluate", "{model}", "{data}", "--x", "types/t"], "dataset or group", ""),
    "evaluate --y": (["evaluate", "{model}", "{data}", "--y", "types/t"], "dataset", ""),
    "evaluate --sample-weight": (["evaluate", "{model}", "{data}", "--sample-weight", "types/t"], "dataset",
                                 "--sample-weight: "),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_named_datatype_is_refused_saying_what_it_is(tmp_path, files, case):
    data, model = files
    argv, what, prefix = CASES[case]
    out_path = tmp_path / "out.h5"
    code, out, err = cli(*(a.format(data=data, model=model, out=out_path) for a in argv))
    assert code == 2 and out == "", err
    assert err.strip().splitlines()[-1] == f"sgdcli: error: {prefix}{data}:types/t: " + TYPE.format(what=what)
    assert not out_path.exists()


def test_a_group_holding_a_named_datatype_says_so_of_that_member(tmp_path, files):
    data, _ = files
    code, _, err = cli("train", data, "--x", "types", "-o", tmp_path / "out.h5")
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        f"sgdcli: error: {data}:types: member 't' is a named datatype (a type stored in the file by name, as "
        "netCDF-4 stores its enum types), not a 1-D column; a group of columns holds only 1-D datasets of the "
        "same length")


@pytest.mark.filterwarnings("ignore:Creating variable with default fill_value")  # (no value is left unwritten)
def test_a_netcdf_enum_type_given_as_the_labels_is_refused(tmp_path):
    """The file written by h5netcdf, as netCDF-4 lays out an enum variable: its type ``label_t`` at the root,
    beside the variables."""
    h5netcdf = pytest.importorskip("h5netcdf", reason="h5netcdf is not installed")
    path = tmp_path / "enum.nc"
    with h5netcdf.File(path, "w") as f:
        f.dimensions = {"row": 20, "feat": 2}
        label_t = f.create_enumtype(np.uint8, "label_t", {"neg": 0, "pos": 1})
        f.create_variable("X", ("row", "feat"), float)[:] = np.random.default_rng(0).random((20, 2))
        f.create_variable("y", ("row",), label_t)[:] = np.arange(20) % 2
    with h5py.File(path) as f:
        assert isinstance(f["label_t"], h5py.Datatype)
    code, _, err = cli("train", path, "--y", "label_t", "-o", tmp_path / "m.h5")
    assert code == 2
    assert err.strip().splitlines()[-1] == f"sgdcli: error: {path}:label_t: " + TYPE.format(what="dataset")


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_a_link_to_itself_is_named_not_called_a_damaged_file(tmp_path, files, command):
    data, model = files
    with h5py.File(data, "a") as f:
        f["loop"] = h5py.SoftLink("/loop")
    argv = ["train", data, "-o", tmp_path / "out.h5"] if command == "train" else ["evaluate", model, data]
    code, _, err = cli(*argv, "--x", "loop")
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(f"sgdcli: error: {data}:loop: cannot read ("), err
