"""The less common layouts pandas and AnnData write, read as their own libraries read them: a frame of no rows,
the row index stored as columns, missing text, datetime columns, a Series of labels beside a frame, several
frames in one file, columns sgdcli does not read, nullable AnnData columns, AnnData without X, numeric
categories."""

import json
import warnings

import h5py
import numpy as np
import pytest

from sgdcli import evaluate, train
from sgdcli.options import TrainOptions

from conftest import cli, short_fits, write_table

pytestmark = short_fits  # small models, trained to test reading and naming: short fits


def need(module: str):
    return pytest.importorskip(module, reason=f"{module} is not installed (pip install '.[test]' installs it)")


def quiet(write, *args, **kw):
    """``write(*args, **kw)`` without pandas' and PyTables' warnings (performance, natural naming)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return write(*args, **kw)


def frame(n=300, seed=0):
    pd = need("pandas")
    need("tables")
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.standard_normal(n), "b": rng.standard_normal(n)})
    df["label"] = (df.a - 0.5 * df.b > 0).astype(np.int64)
    return df


def test_a_fixed_format_frame_of_no_rows_is_refused_by_every_command_naming_it(tmp_path):
    """pandas writes an empty block as a one-element placeholder beside its true shape: no placeholder row is
    read (predict wrote a prediction for it; train and evaluate failed with an internal IndexError)."""
    df = frame()
    quiet(df.iloc[:0].to_hdf, tmp_path / "empty.h5", key="df", format="fixed")
    quiet(df.to_hdf, tmp_path / "full.h5", key="df", format="fixed")
    model = tmp_path / "m.h5"
    assert cli("train", tmp_path / "full.h5", "--x", "df", "--label-column", "label", "-o", model, "-q")[0] == 0
    said = f"{tmp_path / 'empty.h5'}:df: the frame is empty (0 rows × 3 columns)"
    for args in (["train", tmp_path / "empty.h5", "--x", "df", "--label-column", "label", "-o", tmp_path / "x.h5"],
                 ["predict", model, tmp_path / "empty.h5", "--x", "df", "-o", "-"],
                 ["evaluate", model, tmp_path / "empty.h5", "--x", "df", "--label-column", "label"]):
        code, out, err = cli(*args)
        assert code == 2 and said in err and not out.strip(), (args, out, err)
    code, out, err = cli("info", tmp_path / "empty.h5")
    assert code == 0 and f"but: {said}" in out


@pytest.mark.parametrize("names", [["site", "id"], [None, None]])
def test_a_row_multiindex_of_the_table_format_is_the_index_not_features(tmp_path, names):
    """pandas stores the levels of a row MultiIndex as columns of its table, listed in the frame's ``levels``:
    they are left out (a running id was a feature), as a plain index is; info says so, and naming one as a
    column says what it is."""
    pd = need("pandas")
    df = frame()
    plain = tmp_path / "plain.h5"
    quiet(df.to_hdf, plain, key="df", format="table")
    df.index = pd.MultiIndex.from_arrays([np.arange(len(df)) % 3, np.arange(len(df))], names=names)
    quiet(df.to_hdf, tmp_path / "mi.h5", key="df", format="table")
    levels = [name or f"level_{i}" for i, name in enumerate(names)]
    opts = dict(x="df", label_column="label", epochs=2, seed=1)
    model = train(tmp_path / "mi.h5", TrainOptions(**opts))
    reference = train(plain, TrainOptions(**opts))
    assert model.training["features"] == ["a", "b"]
    np.testing.assert_array_equal(model.weights, reference.weights)
    code, out, err = cli("info", tmp_path / "mi.h5")
    assert code == 0 and f"left out (the levels of the frame's row index, a MultiIndex): {', '.join(levels)}" in out
    code, out, err = cli("train", tmp_path / "mi.h5", "--x", "df", "--label-column", levels[0], "-o", tmp_path / "x")
    assert code == 2 and f"column '{levels[0]}' of {tmp_path / 'mi.h5'}:df is a level of the frame's row index" in err


@pytest.mark.parametrize("nan_rep", [None, "?"])
def test_a_missing_text_label_of_the_table_format_is_a_missing_label_not_a_class(tmp_path, nan_rep):
    """pandas writes a missing text value as the table's ``nan_rep`` ("nan" by default): a bad row, named with
    its row, or left out by --bad-rows skip; never a class "nan"."""
    df = frame()
    df["label"] = np.where(df.a > 0.5, "high", np.where(df.a < -0.5, "low", "mid")).astype(object)
    df.loc[[7, 40, 41], "label"] = None
    path = tmp_path / "d.h5"
    quiet(df.to_hdf, path, key="df", format="table", **({"nan_rep": nan_rep} if nan_rep else {}))
    flags = ["--x", "df", "--label-column", "label", "--model", "softmax", "-q"]
    code, out, err = cli("train", path, *flags, "-o", tmp_path / "m.h5")
    assert code == 2 and f"{path}:df:label: label missing (NaN) at row 7" in err
    model = train(path, TrainOptions(x="df", label_column="label", model="softmax", bad_rows="skip", epochs=3))
    assert model.training["class_names"] == ["high", "low", "mid"] and model.training["bad_rows"] == 3
    kept = df.drop(index=[7, 40, 41])
    quiet(kept.to_hdf, tmp_path / "kept.h5", key="df", format="table")
    assert evaluate(model, tmp_path / "kept.h5", x="df", label_column="label")["accuracy"] > 0.9


def test_datetime_and_timedelta_columns_are_no_features(tmp_path):
    """Their numbers are counts of the unit pandas picked (the same dates at another resolution scored
    silently wrong) and NaT is the smallest int64: they are left out, as text is, in both formats; info names
    them; --features and --label-column naming one are refused saying why; a model that an older sgdcli trained
    on one is refused saying so."""
    pd = need("pandas")
    df = frame(600)
    df["when"] = pd.date_range("2024-01-01", periods=len(df), freq="h").as_unit("s")
    df["dur"] = pd.to_timedelta(np.arange(len(df)), unit="s")
    other = df.assign(when=df.when.astype("datetime64[ns]"))
    other.loc[3, "when"], other.loc[4, "dur"] = pd.NaT, pd.NaT
    files = {}
    for fmt in ("fixed", "table"):
        for name, d in (("s", df), ("ns", other)):
            files[fmt, name] = tmp_path / f"{fmt}_{name}.h5"
            quiet(d.to_hdf, files[fmt, name], key="df", format=fmt)
    quiet(df[["a", "b", "label"]].to_hdf, tmp_path / "numbers.h5", key="df", format="table")
    args = dict(x="df", label_column="label")
    reference = train(tmp_path / "numbers.h5", TrainOptions(**args, epochs=2, shuffle=False))
    for path in files.values():
        model = train(path, TrainOptions(**args, epochs=2, shuffle=False))
        assert model.training["features"] == ["a", "b"]
        np.testing.assert_array_equal(model.weights, reference.weights)
        assert evaluate(model, files["table", "ns"], **args) == evaluate(reference, tmp_path / "numbers.h5", **args)
    code, out, err = cli("info", files["fixed", "ns"])
    assert "left out (datetime and timedelta columns are not numeric features): when (datetime64[ns]), " \
           "dur (timedelta64)" in out
    for option, value in (("--features", "a,when"), ("--label-column", "dur")):
        code, out, err = cli("train", files["table", "s"], "--x", "df", "--label-column", "label", option, value,
                             "-o", tmp_path / "x.h5")
        column = value.split(",")[-1]
        assert code == 2 and f"column '{column}' of {files['table', 's']}:df holds" in err
        assert "datetime and timedelta columns are not numeric features" in err
    model = tmp_path / "m.h5"
    reference.save(model)
    with h5py.File(model, "r+") as f:  # as an older sgdcli trained it: on the column's counts of seconds
        card = json.loads(f.attrs["training"])
        f.attrs["training"] = json.dumps({**card, "features": ["a", "when"]})
    code, out, err = cli("predict", model, files["table", "s"], "--x", "df", "-o", "-")
    assert code == 2 and "column 'when', which the model was trained on, holds datetime64[s] values" in err


@pytest.mark.parametrize("fmt", ["fixed", "table"])
def test_a_series_of_labels_in_another_order_than_the_frame_is_refused(tmp_path, fmt):
    """pandas pairs a frame's rows with a Series' by index; sgdcli pairs them by position.  Labels written
    shuffled (y.sample(frac=1)) trained a model at chance (log loss 0.69) without a word.  Their indexes are
    compared where they are opened: train and evaluate refuse the pair, naming the first row that differs;
    written in the frame's order (and with a default RangeIndex) they train.  Differing only past the first
    rows (the last row's label swapped with another's) is found too."""
    need("pandas")
    df = frame(n=3000)
    df.index = [f"id{i}" for i in range(len(df))]
    X, y = df[["a", "b"]], df.label
    cases = {"aligned": y, "shuffled": y.sample(frac=1, random_state=0),
             "tail": y.iloc[list(range(2998)) + [2999, 2998]]}
    for name, labels in cases.items():
        path = tmp_path / f"{name}.h5"
        quiet(X.to_hdf, path, key="X", format=fmt)
        quiet(labels.to_hdf, path, key="y", format=fmt)
        code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "-q")
        if name == "aligned":
            assert code == 0, err
            continue
        row, first = (0, labels.index[0]) if name == "shuffled" else (2998, "id2999")
        expected = (f"sgdcli: error: {path}:X and {path}:y: their row indexes differ (row {row:,}: 'id{row}' "
                    f"against {first!r}): pandas pairs a frame's rows with a Series' by index, sgdcli by position; "
                    "write the labels in the frame's order (y.reindex(X.index)), or as a column of it "
                    "(--label-column)\n")
        assert (code, err) == (2, expected)
        assert cli("evaluate", tmp_path / "m.h5", path)[2] == expected
    ranged = tmp_path / "range.h5"
    quiet(X.reset_index(drop=True).to_hdf, ranged, key="X", format=fmt)
    quiet(y.reset_index(drop=True).to_hdf, ranged, key="y", format=fmt)
    assert cli("train", ranged, "-o", tmp_path / "r.h5", "-q")[0] == 0


def test_a_series_of_labels_beside_a_frame_is_read_as_the_labels(tmp_path):
    """X.to_hdf(f, "X"); y.to_hdf(f, "y"), in either format: info suggests --x X --y y and train reads the
    Series' values (text ones as names, a missing one a missing label); the Series' parts name the key to
    give; a Series as --x is refused saying what it is."""
    pd = need("pandas")
    df = frame()
    X, y = df[["a", "b"]], pd.Series(df.label.values, name="churned")
    plain = write_table(tmp_path / "plain.h5", X.values, y.values)
    reference = train(plain, TrainOptions(epochs=2, shuffle=False))
    for fmt in ("fixed", "table"):
        path = tmp_path / f"{fmt}.h5"
        quiet(X.to_hdf, path, key="X", format=fmt)
        quiet(y.to_hdf, path, key="y", format=fmt)
        code, out, err = cli("info", path)
        assert "looks like a pandas frame: train with --x X --y y" in out, out
        model = train(path, TrainOptions(epochs=2, shuffle=False))
        np.testing.assert_array_equal(model.weights, reference.weights)
        code, out, err = cli("train", path, "--x", "y", "-o", tmp_path / "x.h5")
        assert code == 2 and f"{path}:y: is a pandas Series, one column, which sgdcli reads as labels" in err
    code, out, err = cli("train", tmp_path / "table.h5", "--y", "y/table", "-o", tmp_path / "x.h5")
    assert code == 2 and "is the table of the pandas Series y, which is read whole: --y y" in err
    # weights: the option that reads them, never --y (which would train on them as labels) nor --label-column
    stored = tmp_path / "table.h5"
    for weights, said in (("y/table", f"{stored}:y/table: is the table of the pandas Series y, which is read whole: "
                                      "--sample-weight y"),
                          ("X/table", f"{stored}:X/table: is the table of the pandas frame X, which is read whole: "
                                      "--x X --weight-column NAME"),
                          ("X", f"{stored}:X: is a pandas frame, not a column of weights: take the weights from one "
                                "of its columns with --x X --weight-column NAME")):
        code, out, err = cli("train", stored, "--sample-weight", weights, "-o", tmp_path / "x.h5")
        assert (code, err) == (2, f"sgdcli: error: --sample-weight: {said}\n")
    np.testing.assert_array_equal(train(tmp_path / "fixed.h5", TrainOptions(y="y/values", epochs=2,
                                                                          shuffle=False)).weights, reference.weights)
    names = pd.Series(np.where(y == 1, "yes", "no"), name="answer").astype(object)
    names[5] = None
    quiet(names.to_hdf, tmp_path / "table.h5", key="names", format="table")
    model = train(tmp_path / "table.h5", TrainOptions(y="names", bad_rows="skip", epochs=1))
    assert model.training["class_names"] == ["no", "yes"] and model.training["bad_rows"] == 1


def test_frame_columns_sgdcli_does_not_read_are_named_as_such(tmp_path):
    """A MultiIndex of columns and pickled column names (text mixed with numbers) in the fixed format: what is
    not read and what to do, not "damaged or unreadable" nor "no rows"."""
    pd = need("pandas")
    df = frame()
    multi = df.copy()
    multi.columns = pd.MultiIndex.from_tuples([("f", "a"), ("f", "b"), ("t", "label")])
    quiet(multi.to_hdf, tmp_path / "multi.h5", key="df", format="fixed")
    mixed = df.copy()
    mixed.columns = ["a", 1, "label"]
    quiet(mixed.to_hdf, tmp_path / "mixed.h5", key="df", format="fixed")
    for name, said in (("multi.h5", "the frame's columns are a pandas MultiIndex, which sgdcli does not read"),
                       ("mixed.h5", "the frame's column names are pickled Python objects")):
        code, out, err = cli("train", tmp_path / name, "--x", "df", "--label-column", "label", "-o", tmp_path / "x")
        assert code == 2 and f"{tmp_path / name}:df: {said}" in err, err


def test_several_frames_in_a_file_are_all_named(tmp_path):
    """to_hdf to several keys (nested ones too): info and the error name every frame, and suggest the one named
    for training."""
    df = frame()
    path = tmp_path / "d.h5"
    quiet(df.to_hdf, path, key="test")
    quiet(df.to_hdf, path, key="train")
    quiet(df.to_hdf, path, key="grp/sub", format="table")
    code, out, err = cli("info", path)
    assert ("looks like a pandas frame (one of 3 in the file: grp/sub, test, train; --x names the one to read): "
            "train with --x train --label-column label") in out
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5")
    assert code == 2 and "grp/sub, test, train" in err and "try --x train --label-column label" in err


def test_a_non_finite_feature_is_named_by_its_column(tmp_path):
    """A NaN in a pandas frame's column, or in a named gene of an AnnData matrix, was named by its row alone:
    the column is the row read again, its first value that is not finite."""
    ad, sp = need("anndata"), need("scipy.sparse")
    df = frame()
    df["c"] = 1.0
    df.loc[7, "c"], df.loc[7, "b"] = np.inf, np.nan  # two in one row: the first column named
    for fmt in ("fixed", "table"):
        path = tmp_path / f"{fmt}.h5"
        quiet(df.to_hdf, path, key="df", format=fmt)
        assert cli("train", path, "--x", "df", "--label-column", "label", "-o", tmp_path / "m.h5", "-q") == (
            2, "", f"sgdcli: error: {path}:df: non-finite feature value at row 7, column 'b' (NaN or infinite, or "
                   "beyond float32's range of ±3.4e38: features are read as float32)\n")
    X = sp.random(40, 5, density=0.6, format="csr", dtype=np.float32, random_state=1)
    X.data[X.indptr[12] + 1] = np.nan
    gene = ["ACTB", "GAPDH", "MT-CO1", "TP53", "XIST"][int(X.indices[X.indptr[12] + 1])]
    genes = ad.AnnData(X, obs={"label": (np.arange(40) % 2).astype(str)},
                       var={"gene": ["ACTB", "GAPDH", "MT-CO1", "TP53", "XIST"]})
    genes.var_names = genes.var["gene"]
    quiet(genes.write_h5ad, tmp_path / "g.h5ad")
    assert cli("train", tmp_path / "g.h5ad", "--x", "X", "--y", "obs/label", "-o", tmp_path / "m.h5", "-q") == (
        2, "", f"sgdcli: error: {tmp_path / 'g.h5ad'}:X: non-finite feature value at row 12, column {gene!r}\n")
    assert not (tmp_path / "m.h5").exists()


def test_a_categorical_feature_s_missing_value_is_a_missing_value(tmp_path):
    """A Categorical feature is a feature of its codes; its missing value (code -1) is NaN, refused naming the
    row as NaN written plainly is, or left out by --bad-rows skip; as the label, a missing label."""
    pd = need("pandas")
    df = frame()
    df["color"] = pd.Categorical(np.where(df.b > 0, "red", "blue"))
    df.loc[[3, 9], "color"] = np.nan
    path = tmp_path / "d.h5"
    quiet(df.to_hdf, path, key="df", format="table")
    code, out, err = cli("train", path, "--x", "df", "--label-column", "label", "-o", tmp_path / "m.h5", "-q")
    assert code == 2 and (f"{path}:df: non-finite feature value at row 3, column 'color' (NaN or infinite; a pandas "
                          "Categorical's missing value, code -1, is read as NaN)") in err
    model = train(path, TrainOptions(x="df", label_column="label", bad_rows="skip", epochs=1))
    assert model.training["bad_rows"] == 2 and model.training["features"] == ["a", "b", "color"]
    model = train(path, TrainOptions(x="df", label_column="color", bad_rows="skip", epochs=1))
    assert model.training["class_names"] == ["blue", "red"] and model.training["bad_rows"] == 2


def test_numeric_categories_order_as_numbers_and_a_model_keeps_its_own_order(tmp_path):
    """Categories stored as numbers (AnnData's obs, pandas' table format) sort as numbers: 2 before 10, so
    10 is logistic's positive class. A model whose classes are in another order (an older sgdcli sorted
    them as text) reads every file through its own classes, and so does text labels' lookup."""
    ad, pd = need("anndata"), need("pandas")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3)).astype(np.float32)
    y = X[:, 0] - X[:, 1] > 0
    obs = pd.DataFrame({"dose": pd.Categorical(np.where(y, 10, 2))}, index=[f"c{i}" for i in range(300)])
    quiet(ad.AnnData(X, obs=obs).write_h5ad, tmp_path / "dose.h5ad")
    model = train(tmp_path / "dose.h5ad", TrainOptions(y="obs/dose", epochs=2))
    assert model.training["class_names"] == ["2", "10"]
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df["dose"] = pd.Categorical(np.where(y, 10, 2))
    quiet(df.to_hdf, tmp_path / "t.h5", key="df", format="table")
    assert train(tmp_path / "t.h5", TrainOptions(x="df", label_column="dose", epochs=1)).training[
        "class_names"] == ["2", "10"]
    df["dose"] = np.where(y, "10", "2").astype(object)  # the same names as text: they sort as text
    quiet(df.to_hdf, tmp_path / "text.h5", key="df", format="table")
    old = train(tmp_path / "text.h5", TrainOptions(x="df", label_column="dose", epochs=2))
    assert old.training["class_names"] == ["10", "2"]
    args = dict(x="df", label_column="dose")
    assert evaluate(old, tmp_path / "dose.h5ad", y="obs/dose")["accuracy"] == evaluate(
        old, tmp_path / "text.h5", **args)["accuracy"] > 0.9
    assert evaluate(model, tmp_path / "text.h5", **args)["accuracy"] == evaluate(
        model, tmp_path / "dose.h5ad", y="obs/dose")["accuracy"] > 0.9


def test_a_checkpoint_of_an_older_sgdcli_continues_where_its_classes_are_those_read_now():
    """Checkpoints now record the class names; one that does not (an older sgdcli) continues its run where
    the names are sorted as text, as every version sorted them before numeric categories sorted as numbers,
    and is refused where they are not (its weights are of the classes in the other order)."""
    from sgdcli.training.fingerprints import _older_names

    now = {"train": {"path": "d.h5", "class_names": ["a", "b"]}, "val": None}
    assert _older_names({"train": {"path": "d.h5"}, "val": None}, now) == now
    numeric = {"train": {"path": "d.h5", "class_names": ["2", "10"]}, "val": None}
    assert _older_names({"train": {"path": "d.h5"}, "val": None}, numeric) == {"train": {"path": "d.h5"},
                                                                                "val": None}


def test_anndata_nullable_columns_are_labels_with_their_mask(tmp_path):
    """nullable-integer, -boolean and -string-array obs columns (values and mask): a masked entry is a missing
    label, an error naming its row or left out by --bad-rows skip; their values given directly are read through
    the mask too; such a column as --x is refused."""
    ad, pd = need("anndata"), need("pandas")
    rng = np.random.default_rng(0)
    n = 140
    X = rng.standard_normal((n, 4)).astype(np.float32)
    label = X[:, 0] - X[:, 1] > 0
    missing = np.arange(n) % 7 == 3
    obs = pd.DataFrame(index=[f"c{i}" for i in range(n)])
    obs["integer"] = pd.array(np.where(missing, None, label.astype(int)), dtype="Int64")
    obs["boolean"] = pd.array(np.where(missing, None, label), dtype="boolean")
    obs["text"] = pd.array(np.where(missing, None, np.where(label, "yes", "no")), dtype="string")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ad.settings.allow_write_nullable_strings = True
        ad.AnnData(X, obs=obs).write_h5ad(tmp_path / "n.h5ad", convert_strings_to_categoricals=False)
    kept = write_table(tmp_path / "kept.h5", X[~missing], label[~missing].astype(np.int64))
    with h5py.File(tmp_path / "n.h5ad") as f:
        assert {c: f[f"obs/{c}"].attrs["encoding-type"] for c in ("integer", "boolean", "text")} == {
            "integer": "nullable-integer", "boolean": "nullable-boolean", "text": "nullable-string-array"}
    for column in ("integer", "boolean", "text", "integer/values"):
        code, out, err = cli("train", tmp_path / "n.h5ad", "--y", f"obs/{column}", "-o", tmp_path / "m.h5", "-q")
        assert code == 2 and f"{tmp_path / 'n.h5ad'}:obs/{column}: label missing (NaN) at row 3" in err, err
        model = train(tmp_path / "n.h5ad", TrainOptions(y=f"obs/{column}", bad_rows="skip", epochs=3))
        assert model.training["bad_rows"] == missing.sum()
        if column == "text":
            assert model.training["class_names"] == ["no", "yes"]
        else:
            assert model.training.get("class_names") is None and evaluate(model, kept)["accuracy"] > 0.9
    code, out, err = cli("train", tmp_path / "n.h5ad", "--x", "obs/integer", "--y", "obs/text", "-o", tmp_path / "x")
    assert code == 2 and "is an AnnData nullable-integer column, which sgdcli reads as labels" in err


def test_an_anndata_file_without_x_suggests_its_layers(tmp_path):
    """AnnData(X=None) with its data in layers: info and the error suggest --x layers/<name>, not the X that
    is missing; without layers either, they say there is nothing to train on."""
    ad, pd = need("anndata"), need("pandas")
    rng = np.random.default_rng(0)
    obs = pd.DataFrame({"kind": pd.Categorical(np.where(rng.random(50) > 0.5, "T", "B"))},
                       index=[f"c{i}" for i in range(50)])
    a = ad.AnnData(None, obs=obs, var=pd.DataFrame(index=["g0", "g1", "g2"]))
    a.layers["counts"] = rng.standard_normal((50, 3)).astype(np.float32)
    quiet(a.write_h5ad, tmp_path / "layers.h5ad")
    quiet(ad.AnnData(None, obs=obs).write_h5ad, tmp_path / "none.h5ad")
    code, out, err = cli("info", tmp_path / "layers.h5ad")
    assert ("looks like an AnnData file without X (layers: counts): train with --x layers/counts --y obs/kind"
            in out)
    code, out, err = cli("train", tmp_path / "layers.h5ad", "--y", "obs/kind", "-o", tmp_path / "m.h5")
    assert code == 2 and "try --x layers/counts --y obs/kind" in err
    code, out, err = cli("train", tmp_path / "none.h5ad", "--y", "obs/kind", "-o", tmp_path / "m.h5")
    assert code == 2 and "an AnnData file without X, layers or obsm matrices (no features to train on)" in err


def test_a_category_the_model_never_learned_is_named_by_its_name(tmp_path):
    """A categorical label with a category no training row has (a subset of an atlas): the model's classes are
    the codes of the two it saw, and a later file's rows of the third were refused by its code, `label 1 at row 0
    is not one of the model's classes (0, 2)`, by evaluate, --init and --val, where names appear nowhere in the
    user's data as numbers."""
    ad, pd = need("anndata"), need("pandas")
    rng = np.random.default_rng(0)
    n = 300
    X = rng.standard_normal((n, 4)).astype(np.float32)
    seen = np.where(X[:, 0] > 0, "x", "z")
    index = [f"c{i}" for i in range(n)]
    for name, labels in (("train", seen), ("test", np.where(np.arange(n) < 100, "y", seen))):
        obs = pd.DataFrame({"label": pd.Categorical(labels, categories=["x", "y", "z"])}, index=index)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ad.AnnData(X, obs=obs).write_h5ad(tmp_path / f"{name}.h5ad")
    train_file, test_file, model = tmp_path / "train.h5ad", tmp_path / "test.h5ad", tmp_path / "m.h5"
    assert cli("train", train_file, "--y", "obs/label", "-o", model, "-q")[0] == 0
    where = f"{test_file}:obs/label"
    for argv, message in (
            (["evaluate", model, test_file, "--y", "obs/label"],
             f"{where}: label 'y' at row 0 is not one of the model's classes ('x', 'z')"),
            (["train", test_file, "--y", "obs/label", "-o", tmp_path / "w.h5", "--init", model],
             f"{where}: label 'y' is not one of the classes of --init {model} ('x', 'z')"),
            (["train", train_file, "--y", "obs/label", "-o", tmp_path / "v.h5", "--val", test_file],
             f"{where}: label 'y' at row 0 is not one of the model's classes ('x', 'z')")):
        assert cli(*argv, "-q") == (2, "", f"sgdcli: error: {message}\n"), argv


def test_anndata_before_0_7_is_not_told_to_take_its_table_of_fields_as_labels(tmp_path):
    """anndata before 0.7 wrote obs as a compound dataset (a table of fields) beside X's h5sparse group: info and
    train suggested `--y obs`, which the next run refused as `dtype [...] is not numeric`, naming no way out."""
    rng = np.random.default_rng(0)
    n = 200
    M = rng.random((n, 6)) * (rng.random((n, 6)) < 0.3)
    indptr = np.concatenate([[0], np.cumsum((M != 0).sum(axis=1))])
    obs = np.zeros(n, dtype=[("index", "S10"), ("cell_type", "i1"), ("n_counts", "f4")])
    obs["cell_type"] = M[:, 0] > 0.1
    path = tmp_path / "old.h5ad"
    with h5py.File(path, "w") as f:
        g = f.create_group("X")
        g["data"], g["indices"], g["indptr"] = M[M != 0].astype(np.float32), np.nonzero(M)[1], indptr
        g.attrs["h5sparse_format"], g.attrs["h5sparse_shape"] = "csr", M.shape
        f["obs"] = obs
    code, out, _ = cli("info", path)
    assert code == 0 and "train with --x X --y <labels dataset>" in out, out
    code, _, err = cli("train", path, "--y", "obs", "-o", tmp_path / "m.h5")
    assert (code, err) == (2, f"sgdcli: error: {path}:obs: is a table of fields (index, cell_type, n_counts), not a "
                              "column of labels; name the field that holds them: --y obs/cell_type\n")
    assert cli("train", path, "--y", "obs/cell_type", "-o", tmp_path / "m.h5", "-q")[0] == 0  # as it says


def test_a_dataset_named_with_angle_brackets_is_no_placeholder(tmp_path):
    """info leaves a placeholder (<labels dataset>, obs/<column>) unquoted and untried; a real name with < and >
    is quoted in the suggestion and read."""
    rng = np.random.default_rng(0)
    path = tmp_path / "angles.h5"
    with h5py.File(path, "w") as f:
        f["X<v2>"] = rng.standard_normal((200, 6))
        f["y"] = rng.integers(0, 2, 200)
    code, out, err = cli("info", path)
    assert code == 0 and "train with --x 'X<v2>' --y y\n" in out and "200 rows × 6 features" in out, out
    assert "but:" not in out, out
