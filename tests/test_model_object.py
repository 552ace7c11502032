"""The Model object of the Python API is its file: train(output=) returns what it wrote, a Model remembers the file
it was read from or saved to, and predict guards that file as it guards a model given by its path."""

import os

import h5py
import pytest

import sgdcli
from sgdcli.errors import InputError

ONE = sgdcli.TrainOptions(epochs=1, batch_size=8)  # enough updates for no FitWarning


@pytest.fixture
def here(tmp_path, monkeypatch, binary_file):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_model_train_returns_equals_the_file_it_wrote(here, binary_file):
    """created was "" on the object and a time in the file; two saves of one object got two times."""
    m = sgdcli.train(binary_file, ONE, output="m.h5")
    read = sgdcli.load_model("m.h5")
    assert m.created == read.created != ""
    assert m.path == read.path == str(here / "m.h5")
    read.save("copy.h5")
    assert sgdcli.load_model("copy.h5").created == read.created  # a copy keeps the model's time
    fresh = sgdcli.train(binary_file, ONE)
    assert (fresh.created, fresh.path) == ("", "")  # never saved
    fresh.save("a.h5")
    fresh.save("b.h5")
    assert sgdcli.load_model("a.h5").created == sgdcli.load_model("b.h5").created == fresh.created != ""
    assert fresh.path == str(here / "b.h5")


def test_predict_from_a_loaded_model_refuses_to_write_over_its_file_and_names_it(here, binary_file):
    """predict(load_model("m.h5"), data, "m.h5") wrote the predictions over the model, exit 0."""
    sgdcli.train(binary_file, ONE, output="m.h5")
    before = (here / "m.h5").read_bytes()
    m = sgdcli.load_model("m.h5")
    for given in ("m.h5", "./m.h5"):
        with pytest.raises(InputError, match=f"^-o {given}: is also an input of this command"):
            sgdcli.predict(m, binary_file, given)
    assert (here / "m.h5").read_bytes() == before
    assert sgdcli.predict(m, binary_file, "p.h5") == 3000
    with h5py.File("p.h5") as f:  # model-format.md: the absolute paths of the model and data files
        assert (f.attrs["model"], f.attrs["data"]) == (str(here / "m.h5"), os.path.abspath(binary_file))
    assert sgdcli.evaluate(m, binary_file) == sgdcli.evaluate("m.h5", binary_file)
    unsaved = sgdcli.train(binary_file, ONE)
    sgdcli.predict(unsaved, binary_file, "q.h5")
    with h5py.File("q.h5") as f:  # a model never saved has no file to name
        assert f.attrs["model"] == ""


def test_a_model_equals_what_its_file_reads_back_and_not_a_changed_one(here, binary_file):
    """== raised ValueError (the dataclass compared the arrays as tuples of them); and the model train returns
    holds NaN where --lr auto's record has none, which its file holds as null."""
    m = sgdcli.train(binary_file, ONE, output="m.h5")
    assert any(v != v for v in m.training["lr_auto"].values() if isinstance(v, float))  # NaN: null in the file
    read = sgdcli.load_model("m.h5", optimizer=True)
    assert m == read and not m != read
    assert m != sgdcli.load_model("m.h5")  # its optimizer's state not read
    read.save("copy.h5")
    assert sgdcli.load_model("copy.h5", optimizer=True) == m  # another path, the same contents
    read.weights[0, 0] = -read.weights[0, 0] or 1.0
    assert m != read
    assert m != "m.h5"
