"""An HDF5 file under a text name: convert refuses to write one, and predict and evaluate read one by its signature
as the HDF5 it is (a compressed one is refused, saying what it is), not as CSV text."""

import gzip
import shutil

import pytest

from conftest import cli

CSV = "a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,1,1\n2,8,0\n"


@pytest.fixture
def converted(tmp_path):
    """A CSV file, its conversion to HDF5 and a model trained on that."""
    (tmp_path / "d.csv").write_text(CSV)
    assert cli("convert", tmp_path / "d.csv", "-o", tmp_path / "d.h5")[0] == 0
    assert cli("train", tmp_path / "d.h5", "-o", tmp_path / "m.h5", "--batch-size", "2", "--epochs", "2")[0] == 0
    return tmp_path / "d.h5", tmp_path / "m.h5"


@pytest.mark.parametrize("name, said, stem", [("out.csv", "CSV text", "out"), ("out.TSV.gz", "TSV text", "out"),
                                              ("out.txt", "text", "out"), ("x.svm.xz", "LIBSVM text", "x")])
def test_convert_refuses_an_output_named_as_text(tmp_path, name, said, stem):
    (tmp_path / "d.csv").write_text(CSV)
    code, out, err = cli("convert", tmp_path / "d.csv", "-o", tmp_path / name)
    assert code == 2 and out == "", err
    assert err.strip() == (f"sgdcli: error: -o {tmp_path / name}: convert writes HDF5 only, and this name says {said}; "
                           f"give the output a name ending in .h5 (such as {tmp_path / stem}.h5)")
    assert not (tmp_path / name).exists()


def test_predict_and_evaluate_read_an_hdf5_file_named_csv_as_hdf5(tmp_path, converted):
    data, model = converted
    shutil.copy(data, tmp_path / "d_h5.csv")
    for command in (["predict", model, "-o", "-"], ["evaluate", model]):
        want = cli(*command[:2], data, *command[2:])
        got = cli(*command[:2], tmp_path / "d_h5.csv", *command[2:])
        assert want[0] == 0 and got[0] == 0, got[2]
        assert got[1] == want[1]


def test_predict_and_evaluate_say_a_compressed_hdf5_file_named_csv_gz_is_one(tmp_path, converted):
    data, model = converted
    with open(data, "rb") as src, gzip.open(tmp_path / "d_h5.csv.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    path = tmp_path / "d_h5.csv.gz"
    for command in (["predict", model, path, "-o", "-"], ["evaluate", model, path]):
        code, out, err = cli(*command)
        assert code == 2 and out == "", err
        assert err.strip() == (f"sgdcli: error: {path}: is a gzip-compressed HDF5 file; decompress it first (zcat "
                               f"{path} > new.h5)")
