"""predict needs no labels: it opens the table without building its --label-column's label, so nothing of
that column is read or checked (its values, an enum's names, a Categorical's categories, whether its storage
was written), while evaluate, which scores against it, still refuses what is wrong with it.  The column
still stays out of the features: predictions on the table are those on its features alone."""

import h5py
import numpy as np
import pytest

from conftest import cli, make_problem


def need(module: str):
    return pytest.importorskip(module, reason=f"{module} is not installed (pip install '.[test]' installs it)")


def _predicted(model, data, *options):
    code, out, err = cli("predict", model, data, *options, "-o", "-")
    assert code == 0, err
    return out


def _never_written(f: h5py.File, name: str) -> None:
    """``name`` made again as it was (shape, type, attributes, layout), its storage never written: what a
    writer that died before writing it leaves."""
    old = f[name]
    shape, dtype, chunks, attrs = old.shape, old.dtype, old.chunks, dict(old.attrs)
    del f[name]
    new = f.create_dataset(name, shape=shape, dtype=dtype, chunks=chunks)
    for key, value in attrs.items():
        new.attrs[key] = value


@pytest.mark.parametrize("trained_on", ["names", "numbers"])
def test_a_value_its_enum_does_not_name_stops_evaluate_not_predict(tmp_path, trained_on):
    """A compound table (a NumPy record array written with h5py) whose enum label field holds 5, which the
    enum does not name: a model of the enum's names, and one without class names (trained on the codes as
    numbers, where predict used to read the whole column to find its names), both predict on it."""
    X, y = make_problem("binary", n=300, d=2, seed=3)
    rows = np.empty(len(y), dtype=[("a", "f4"), ("kind", h5py.enum_dtype({"no": 0, "yes": 1}, basetype="i1")),
                                   ("b", "f4")])
    rows["a"], rows["kind"], rows["b"] = X[:, 0], y, X[:, 1]
    good, bad = tmp_path / "good.h5", tmp_path / "bad.h5"
    with h5py.File(good, "w") as f:
        f["table"], f["X"], f["y"] = rows, X, y
    rows["kind"][10] = 5
    with h5py.File(bad, "w") as f:
        f["table"] = rows
    read = ["--x", "table", "--label-column", "kind"]
    model = tmp_path / "m.h5"
    assert cli("train", good, *(read if trained_on == "names" else []), "-o", model, "-q")[0] == 0
    expected = _predicted(model, good, "--x", "X")  # the features alone
    assert _predicted(model, bad, *read) == expected
    code, out, err = cli("evaluate", model, bad, *read)
    assert (code, out) == (2, "")
    assert err.splitlines()[-1] == (f"sgdcli: error: {bad}:table:kind: holds 5, a value its enum type does not "
                                    "name (no = 0, yes = 1)")  # (after the pass began, for the model of names)


def test_a_categorical_label_whose_categories_are_gone_stops_evaluate_not_predict(tmp_path):
    """pandas' table format keeps a Categorical's categories apart from the table (meta/...): gone, the label
    cannot be read, but the features can."""
    pd = need("pandas")
    need("tables")
    X, y = make_problem("binary", n=300, d=2, seed=3)
    frame = pd.DataFrame({"a": X[:, 0], "label": pd.Categorical(np.where(y == 1, "yes", "no")), "b": X[:, 1]})
    good, bad = tmp_path / "good.h5", tmp_path / "bad.h5"
    frame.to_hdf(good, key="df", format="table")
    frame.to_hdf(bad, key="df", format="table")
    with h5py.File(bad, "a") as f:
        (field,) = f["df/meta"]
        del f["df/meta"]
    read = ["--x", "df", "--label-column", "label"]
    model = tmp_path / "m.h5"
    assert cli("train", good, *read, "-o", model, "-q")[0] == 0
    assert _predicted(model, bad, *read) == _predicted(model, good, *read)
    assert set(_predicted(model, bad, *read).splitlines()[1:]) == {"no", "yes"}
    code, out, err = cli("evaluate", model, bad, *read)
    assert (code, out) == (2, "")
    assert err == (f"sgdcli: error: {bad}:df:label: is a pandas Categorical whose categories "
                   f"(df/meta/{field}/meta/table) cannot be read\n")


def test_a_label_block_never_written_stops_evaluate_not_predict(tmp_path):
    """pandas' fixed format keeps the integer label in a block of its own: a block never written leaves the
    float features whole, and a model without class names (numeric labels) predicts from them."""
    pd = need("pandas")
    need("tables")
    X, y = make_problem("binary", n=300, d=2, seed=3)
    frame = pd.DataFrame({"a": X[:, 0].astype("f8"), "label": y, "b": X[:, 1].astype("f8")})
    good, bad = tmp_path / "good.h5", tmp_path / "bad.h5"
    frame.to_hdf(good, key="df", format="fixed")
    frame.to_hdf(bad, key="df", format="fixed")
    with h5py.File(bad, "a") as f:
        (block,) = [name for name in f["df"] if name.endswith("_values") and f["df"][name].dtype.kind == "i"]
        _never_written(f, f"df/{block}")
    read = ["--x", "df", "--label-column", "label"]
    model = tmp_path / "m.h5"
    assert cli("train", good, *read, "-o", model, "-q")[0] == 0
    assert _predicted(model, bad, *read) == _predicted(model, good, *read)
    code, out, err = cli("evaluate", model, bad, *read)
    assert (code, out) == (2, "")
    assert err == (f"sgdcli: error: {bad}:df/{block}: rows 0–299 were never written (no storage allocated); "
                   "the file looks incomplete (--allow-unwritten reads their fill values)\n")


def test_a_regression_predicts_without_reading_a_label_column_never_written(tmp_path):
    """A group of columns whose label column was never written: its chunks are not there to read, and predict
    with a regression model (no class names) reads the others alone, in the model's order."""
    X, y = make_problem("regression", n=300, d=2, seed=4)
    data = tmp_path / "g.h5"
    with h5py.File(data, "w") as f:
        f["X"], f["y"] = X, y
        g = f.create_group("cols", track_order=True)
        g["a"] = X[:, 0]
        g.create_dataset("target", shape=(300,), chunks=(50,), dtype="f8")
        g["b"] = X[:, 1]
    model = tmp_path / "m.h5"
    assert cli("train", data, "--model", "linear", "-o", model, "-q")[0] == 0
    read = ["--x", "cols", "--label-column", "target"]
    assert _predicted(model, data, *read) == _predicted(model, data)
    code, out, err = cli("evaluate", model, data, *read)
    assert (code, out) == (2, "")
    assert err == (f"sgdcli: error: {data}:cols/target: rows 0–299 were never written (6 of 6 chunks "
                   "unallocated); the file looks incomplete (--allow-unwritten reads their fill values)\n")


def test_predict_still_checks_the_columns_it_reads(tmp_path):
    """What predict checks besides the labels stays: a --label-column the table lacks, and a table that lacks
    a feature the model was trained on, are refused."""
    X, y = make_problem("binary", n=300, d=2, seed=3)
    rows = np.empty(len(y), dtype=[("a", "f4"), ("b", "f4"), ("label", "i8")])
    rows["a"], rows["b"], rows["label"] = X[:, 0], X[:, 1], y
    data, other = tmp_path / "t.h5", tmp_path / "o.h5"
    with h5py.File(data, "w") as f:
        f["table"] = rows
    with h5py.File(other, "w") as f:
        f["table"] = rows[["a", "label"]]
    model = tmp_path / "m.h5"
    assert cli("train", data, "--x", "table", "--label-column", "label", "-o", model, "-q")[0] == 0
    code, out, err = cli("predict", model, data, "--x", "table", "--label-column", "kind", "-o", "-")
    assert (code, out) == (2, "")
    assert err == (f"sgdcli: error: --label-column kind: {data}:table has no such column (columns: a, b, "
                   "label)\n")
    code, out, err = cli("predict", model, other, "--x", "table", "--label-column", "label", "-o", "-")
    assert (code, out) == (2, "")
    assert err == (f"sgdcli: error: {other}:table: has no column 'b', which the model was trained on (1 of its 2 "
                   "features missing)\n")


def test_a_label_column_of_text_pandas_pickles_is_left_out_by_predict(tmp_path):
    """pandas' fixed format pickles a text column, which sgdcli never reads: evaluate refuses it as a label;
    predict, which reads no label, leaves it out as it leaves out every text column."""
    pd = need("pandas")
    need("tables")
    X, y = make_problem("binary", n=300, d=2, seed=3)
    numbers = pd.DataFrame({"a": X[:, 0].astype("f8"), "b": X[:, 1].astype("f8"), "label": y})
    numbers.to_hdf(tmp_path / "numbers.h5", key="df", format="fixed")
    names = tmp_path / "names.h5"
    numbers.assign(label=np.where(y == 1, "yes", "no")).to_hdf(names, key="df", format="fixed")
    read = ["--x", "df", "--label-column", "label"]
    model = tmp_path / "m.h5"
    assert cli("train", tmp_path / "numbers.h5", *read, "-o", model, "-q")[0] == 0
    assert _predicted(model, names, *read) == _predicted(model, tmp_path / "numbers.h5", *read)
    code, out, err = cli("evaluate", model, names, *read)
    assert (code, out) == (2, "")
    assert err.startswith(f"sgdcli: error: --label-column label: column 'label' of {names}:df holds text, not "
                          "numbers;"), err


def test_a_frame_whose_label_column_pandas_pickled_is_not_given_its_last_feature_as_the_label(tmp_path):
    """info and a run without --x named the last numeric column as the label where the column named as labels
    is text that pandas' fixed format pickled: following that trained on a feature (or was refused as 2,000
    distinct labels).  They say why the label cannot be read and what to write instead."""
    pd = need("pandas")
    need("tables")
    X, y = make_problem("binary", n=300, d=2, seed=3)
    path = tmp_path / "names.h5"
    pd.DataFrame({"a": X[:, 0].astype("f8"), "b": X[:, 1].astype("f8"), "label": np.where(y == 1, "yes", "no")}
                 ).to_hdf(path, key="df", format="fixed")
    said = ("a pandas frame of key 'df', whose label column 'label' is text that pandas' fixed format pickles, which "
            "sgdcli does not read; write the frame with format='table'")
    code, out, err = cli("info", path)
    assert code == 0 and f"looks like {said}\n" in out and "--label-column" not in out, out
    assert cli("train", path, "-o", tmp_path / "m.h5") == (
        2, "", f"sgdcli: error: {path}:X: no such dataset or group; this looks like {said}\n")
