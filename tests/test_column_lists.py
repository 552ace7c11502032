"""Columns whose names hold a comma, named in the options that list columns (--features, and convert's
--columns, --ignore and --categorical) as ``a\\,b``; indices, and names without a comma, as before. The files
are written by pandas."""

import h5py
import numpy as np
import pytest

from conftest import cli

pd = pytest.importorskip("pandas")

TRAIN = ["-q", "--epochs", "1", "--batch-size", "20", "--threads", "1"]


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"a,b": rng.normal(size=200), "c": rng.normal(size=200), "d": rng.normal(size=200)})
    df["label"] = (df["a,b"] + df["c"] > 0).astype(float)
    return df


def test_a_comma_is_written_backslash_comma_and_every_other_backslash_is_itself():
    from sgdcli.namelists import split_names

    assert split_names(r"a\,b, c ,,2") == ["a,b", "c", "2"]
    assert split_names(r"C:\x,-1") == [r"C:\x", "-1"]
    assert split_names(r"x,a\,b\,c") == ["x", "a,b,c"]


def test_features_names_a_column_with_a_comma_in_train_evaluate_and_predict(tmp_path, frame):
    data = tmp_path / "comma.h5"
    frame.to_hdf(data, key="df")
    read = ["--x", "df", "--label-column", "label"]
    code, _, err = cli("train", data, *read, "--features", "a,b,c", "-o", tmp_path / "m.h5", *TRAIN)
    assert (code, err.strip()) == (2, f"sgdcli: error: --features a: {data}:df has no such column "
                                      "(columns: 'a,b', 'c', 'd', 'label')")
    code, _, err = cli("train", data, *read, "--features", r"a\,b,c", "-o", tmp_path / "m.h5", *TRAIN)
    assert code == 0, err
    with h5py.File(tmp_path / "m.h5") as f:
        assert f["weights"].shape == (1, 2)
    by_index = cli("evaluate", tmp_path / "m.h5", data, *read, "--features", "0,1", "--json")
    by_name = cli("evaluate", tmp_path / "m.h5", data, *read, "--features", r"c,a\,b", "--json")
    assert by_index[0] == 0 and by_index[1] == by_name[1]
    code, _, err = cli("predict", tmp_path / "m.h5", data, "--x", "df", "--features", r"a\,b,c", "-o",
                       tmp_path / "p.h5")
    assert code == 0, err


def test_convert_columns_ignore_and_categorical_name_a_column_with_a_comma(tmp_path, frame):
    text = tmp_path / "comma.csv"
    frame.assign(**{"x,y": np.where(frame["d"] > 0, "up", "down")}).to_csv(text, index=False)
    base = ["--label-column", "label"]
    code, _, err = cli("convert", text, "-o", tmp_path / "ignored.h5", *base, "--ignore", r"a\,b,x\,y")
    assert code == 0, err
    code, _, err = cli("convert", text, "-o", tmp_path / "chosen.h5", *base, "--columns", r"a\,b,c")
    assert code == 0, err
    code, _, err = cli("convert", text, "-o", tmp_path / "hot.h5", *base, "--categorical", r"x\,y")
    assert code == 0, err
    with h5py.File(tmp_path / "ignored.h5") as i, h5py.File(tmp_path / "chosen.h5") as c, \
            h5py.File(tmp_path / "hot.h5") as h:
        assert i["X"].shape == (200, 2) and c["X"].shape == (200, 2) and h["X"].shape == (200, 6)
        np.testing.assert_array_equal(c["X"][:, 0], frame["a,b"].to_numpy(np.float32))
        np.testing.assert_array_equal(i["X"][:, 0], frame["c"].to_numpy(np.float32))
    code, _, err = cli("convert", text, "-o", tmp_path / "indexed.h5", *base, "--columns", "0,1")
    assert code == 0, err
    code, _, err = cli("convert", text, "-o", tmp_path / "plain.h5", *base)  # the text column's name has a comma:
    assert (code, err.strip().endswith(r"--ignore 'x\,y'; --bad-rows skip leaves such rows out)")) == (2, True), err
    code, _, err = cli("convert", text, "-o", tmp_path / "plain.h5", *base, "--ignore", r"x\,y")  # as suggested
    assert code == 0, err
