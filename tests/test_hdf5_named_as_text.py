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


def _with_user_block(data, path, size: int) -> None:
    """``data``'s X and y copied by h5py into ``path`` with a user block of ``size`` bytes before HDF5's
    superblock, whose signature is then at byte ``size``, not 0."""
    import h5py

    with h5py.File(data, "r") as src, h5py.File(path, "w", userblock_size=size) as dst:
        for name in ("X", "y"):
            src.copy(name, dst)
    with open(path, "rb") as fh:
        head = fh.read(size + 8)
    assert not head.startswith(b"\x89HDF") and head[size:] == b"\x89HDF\r\n\x1a\n"


@pytest.mark.parametrize("size", [512, 1024, 4096, 65536])
def test_an_hdf5_file_with_a_user_block_named_csv_is_read_as_hdf5(tmp_path, converted, size):
    """The HDF5 format puts the superblock at byte 0, or 512, 1024, 2048, ... after a user block: it was looked
    for at byte 0 alone, and such a file named .csv read as CSV text (not UTF-8)."""
    data, model = converted
    path = tmp_path / "ub.csv"
    _with_user_block(data, path, size)
    for command in (["predict", model, "-o", "-"], ["evaluate", model]):
        want = cli(*command[:2], data, *command[2:])
        got = cli(*command[:2], path, *command[2:])
        assert want[0] == 0 and got[:2] == want[:2], got[2]
    for command in (["train", path, "-o", tmp_path / "m2.h5", "--batch-size", "2", "--epochs", "2"], ["info", path]):
        assert cli(*command)[0] == 0  # (h5py finds the superblock as the HDF5 library does)
    code, out, err = cli("convert", path, "-o", tmp_path / "again.h5")
    assert (code, out, err.strip()) == (2, "", f"sgdcli: error: {path}: is an HDF5 file; train, predict and evaluate "
                                                "read it as it is (convert reads CSV, TSV, LIBSVM and Vowpal Wabbit "
                                                "text, and .npy)")
    assert not (tmp_path / "again.h5").exists()


@pytest.mark.parametrize("size", [512, 4096])
def test_a_compressed_hdf5_file_with_a_user_block_is_said_to_be_one(tmp_path, converted, size):
    data, model = converted
    _with_user_block(data, tmp_path / "ub.h5", size)
    path = tmp_path / "ub.csv.gz"
    with open(tmp_path / "ub.h5", "rb") as src, gzip.open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    for command in (["predict", model, path, "-o", "-"], ["evaluate", model, path]):
        code, out, err = cli(*command)
        assert (code, out, err.strip()) == (2, "", f"sgdcli: error: {path}: is a gzip-compressed HDF5 file; "
                                                    f"decompress it first (zcat {path} > new.h5)")
    code, _, err = cli("convert", path, "-o", tmp_path / "again.h5")
    assert code == 2 and err.strip().startswith(f"sgdcli: error: {path}: is a compressed HDF5 file (.gz); "), err


def test_the_signature_is_looked_for_where_the_format_puts_it_only(tmp_path):
    """At 0 and the powers of two from 512 before the file's end: not at 100, nor past the end."""
    from sgdcli.data.textfiles import HDF5_SIGNATURE, is_hdf5

    for at, found in ((0, True), (512, True), (2048, True), (100, False), (768, False)):
        path = tmp_path / f"s{at}.csv"
        path.write_bytes(b"a" * at + HDF5_SIGNATURE + b"b" * 10)
        assert is_hdf5(str(path)) is found, at
    (tmp_path / "short.csv").write_bytes(b"a,b\n" * 100)
    assert not is_hdf5(str(tmp_path / "short.csv"))
