"""File names and working directories as a nightly job meets them: names whose bytes are not UTF-8 (a Latin-1
export copied from an old share), and a working directory removed under the job.  Each ended in an internal
error, exit 1, where the command should work (or be refused in one line)."""

import os

import h5py
import pytest

from conftest import make_problem, run, write_table

LATIN1 = os.fsdecode(b"donn\xe9es")  # what Python makes of the name's bytes: 'donn\udce9es' in a UTF-8 locale


def _csv(path, n=200):
    X, y = make_problem("binary", n=n, d=3, seed=0)
    with open(path, "w") as fh:
        fh.write("a,b,c,label\n")
        fh.writelines(",".join(repr(float(v)) for v in row) + f",{int(t)}\n" for row, t in zip(X, y))
    return path


def test_convert_of_a_file_whose_name_is_not_utf8_writes_it_and_records_the_name_escaped(tmp_path):
    source = _csv(tmp_path / f"{LATIN1}.csv")
    ran = run("convert", source, "-o", tmp_path / "d.h5", "--label-column", "label")
    assert (ran.returncode, ran.stderr) == (0, ""), ran.stderr
    with h5py.File(tmp_path / "d.h5", "r") as f:
        assert f.attrs["converted_from"] == os.path.join(str(tmp_path), "donn\\xe9es.csv")


@pytest.mark.parametrize("csv", [False, True], ids=["hdf5", "csv"])
def test_predict_to_hdf5_from_files_whose_names_are_not_utf8_writes_the_predictions(tmp_path, csv):
    source = _csv(tmp_path / "plain.csv")  # the names of the files made are ASCII: only predict's are not
    run("convert", source, "-o", tmp_path / "plain.h5", "--label-column", "label", check=True)
    run("train", tmp_path / "plain.h5", "-o", tmp_path / "plain.model.h5", "--epochs", "1", "-q", check=True)
    data, model = tmp_path / f"{LATIN1}.h5", tmp_path / f"{LATIN1}.model.h5"
    for plain, named in ((source, tmp_path / f"{LATIN1}.csv"), (tmp_path / "plain.h5", data),
                         (tmp_path / "plain.model.h5", model)):
        os.rename(plain, named)
    source = tmp_path / f"{LATIN1}.csv"
    ran = run("predict", model, source if csv else data, "-o", tmp_path / "p.h5")
    assert ran.returncode == 0 and "error" not in ran.stderr, ran.stderr
    with h5py.File(tmp_path / "p.h5", "r") as f:
        assert f.attrs["model"] == os.path.join(str(tmp_path), "donn\\xe9es.model.h5")
        assert f.attrs["data"] == os.path.join(str(tmp_path), "donn\\xe9es." + ("csv" if csv else "h5"))
        assert len(f["prediction"]) == 200
