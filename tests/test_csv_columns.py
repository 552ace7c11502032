"""convert on the CSV files people have (written by pandas here): class names, categorical and text columns,
missing values, locale-formatted numbers, quoted fields, a byte-order mark (issue 21)."""

import json

import h5py
import numpy as np
import pytest

from sgdcli import convert, evaluate, load_model, train
from sgdcli.options import TrainOptions

from conftest import cli, run, short_fits, write_table

pd = pytest.importorskip("pandas")

pytestmark = short_fits  # small models, trained to test reading and naming: short fits


@pytest.fixture(scope="module")
def penguins(tmp_path_factory):
    """The issue's seven files: one table of penguins, written by pandas seven ways."""
    d = tmp_path_factory.mktemp("penguins")
    rng = np.random.default_rng(0)
    n = 600
    species = rng.choice(["Adelie", "Gentoo", "Chinstrap"], n)
    length = {"Adelie": 38.8, "Gentoo": 47.5, "Chinstrap": 48.8}
    depth = {"Adelie": 18.3, "Gentoo": 15.0, "Chinstrap": 18.4}
    df = pd.DataFrame({"bill_length_mm": [length[s] for s in species] + rng.normal(0, 1.5, n),
                       "bill_depth_mm": [depth[s] for s in species] + rng.normal(0, 0.7, n),
                       "year": rng.integers(2007, 2010, n), "species": species})
    files = {"names": (d / "names.csv", [])}
    df.to_csv(files["names"][0], index=False)
    island = rng.choice(["Biscoe", "Dream", "Torgersen"], n, p=[0.5, 0.3, 0.2])
    df.assign(island=island).to_csv(d / "categorical.csv", index=False)
    files["categorical"] = (d / "categorical.csv", ["--categorical", "island"])
    df.assign(note=[f'x, "{i % 3}"\nsecond line' for i in range(n)]).to_csv(d / "text.csv", index=False)
    files["text"] = (d / "text.csv", ["--ignore", "note"])
    gaps = df.copy()
    gaps.loc[rng.choice(n, 40, replace=False), "bill_length_mm"] = np.nan
    gaps.to_csv(d / "missing.csv", index=False, na_rep="NA")
    files["missing"] = (d / "missing.csv", ["--missing", "mean"])
    df.to_csv(d / "data.csv.gz", index=False, compression="gzip")
    files["gzip"] = (d / "data.csv.gz", [])
    df.to_csv(d / "euro.csv", index=False, sep=";", decimal=",")
    files["euro"] = (d / "euro.csv", ["--decimal", ",", "--delimiter", ";"])
    with open(d / "crlf.csv", "w", encoding="utf-8-sig", newline="") as fh:
        df.to_csv(fh, index=False, lineterminator="\r\n")
    files["crlf"] = (d / "crlf.csv", [])
    return d, df, gaps, files


@pytest.mark.parametrize("name", ["names", "categorical", "text", "missing", "gzip", "euro", "crlf"])
def test_each_file_converts_with_the_obvious_options_and_trains_to_class_names(penguins, tmp_path, name):
    d, df, _, files = penguins
    path, options = files[name]
    code, out, err = cli("convert", path, "-o", tmp_path / "d.h5", "--label-column", "species", *options)
    assert code == 0, err
    model = train(tmp_path / "d.h5", TrainOptions(model="softmax", epochs=5))
    assert model.training["class_names"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert evaluate(model, tmp_path / "d.h5")["accuracy"] > 0.9
    saved = _saved(model, tmp_path)
    code, out, err = cli("predict", saved, path, "-o", "-")  # new rows as CSV: the file itself
    assert code == 0, err
    predicted = out.splitlines()[1:]
    assert set(predicted) <= {"Adelie", "Chinstrap", "Gentoo"}
    assert np.mean(np.array(predicted) == df["species"].to_numpy()) > 0.9
    assert cli("predict", saved, tmp_path / "d.h5", "-o", "-")[1] == out  # as from the converted file


def _saved(model, tmp_path):
    model.save(tmp_path / "m.h5")
    return tmp_path / "m.h5"


def test_the_feature_values_are_those_pandas_reads(penguins, tmp_path):
    d, df, gaps, files = penguins
    for name in ("euro", "crlf", "gzip", "text"):
        path, options = files[name]
        convert(path, tmp_path / f"{name}.h5", label_column="species", **_kwargs(options))
        with h5py.File(tmp_path / f"{name}.h5") as f:
            np.testing.assert_array_equal(f["X"][()], df[["bill_length_mm", "bill_depth_mm", "year"]]
                                          .to_numpy(np.float64).astype(np.float32), err_msg=name)
            assert [v.decode() for v in f["y"][()]] == df["species"].tolist()
            assert list(f["X"].attrs["feature_names"]) == ["bill_length_mm", "bill_depth_mm", "year"]


def _kwargs(options):
    names = {"--decimal": "decimal", "--delimiter": "delimiter", "--ignore": "ignore", "--missing": "missing",
             "--categorical": "categorical"}
    return {names[options[i]]: options[i + 1] for i in range(0, len(options), 2)}


@pytest.mark.parametrize("missing,indicator", [("mean", True), ("zero", False), ("skip", False)])
def test_missing_values_are_filled_from_a_first_pass_or_their_rows_left_out(penguins, tmp_path, missing, indicator):
    d, _, gaps, files = penguins
    out = tmp_path / "m.h5"
    result = convert(files["missing"][0], out, label_column="species", missing=missing, missing_indicator=indicator)
    gone = gaps["bill_length_mm"].isna().to_numpy()
    with h5py.File(out) as f:
        X = f["X"][()]
        enc = json.loads(f["X"].attrs["encoding"])
    if missing == "skip":
        assert result.skipped == gone.sum() and len(X) == len(gaps) - gone.sum()
        return
    fill = gaps["bill_length_mm"].mean() if missing == "mean" else 0.0
    np.testing.assert_allclose(X[gone, 0], fill, rtol=1e-6)
    assert enc["features"][0]["fill"] == pytest.approx(fill, rel=1e-12)
    if indicator:
        assert X[:, 1].tolist() == gone.astype(float).tolist()
        assert list(load_model(_saved(train(out, TrainOptions(model="softmax", epochs=1)), tmp_path))
                    .training["features"][:2]) == ["bill_length_mm", "bill_length_mm_missing"]


def test_a_column_with_no_value_to_average_is_filled_with_zero_and_said(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,gone,label\n1,,0\n3,NA,1\n")
    code, out, err = cli("convert", path, "-o", tmp_path / "o.h5", "--missing", "mean")
    assert (code, err) == (0, f"sgdcli: warning: {path}: column 'gone' has no value to average: --missing mean fills "
                              "it with 0 (--ignore leaves it out)\n")
    with h5py.File(tmp_path / "o.h5") as f:
        assert f["X"][()].tolist() == [[1, 0], [3, 0]]


def test_a_column_of_only_nan_and_inf_is_said_to_keep_them(tmp_path):
    """NaN and inf that --na-values does not list are numbers, which convert keeps (train's --bad-rows deals
    with them): --missing mean has no finite value to average, fills the missing fields with 0 and keeps them.
    The warning said it "fills it with 0", which left the NaN and inf in X."""
    path = tmp_path / "d.csv"
    path.write_text("a,odd,label\n1,inf,0\n2,,1\n3,NAN,0\n4,-inf,1\n")
    code, out, err = cli("convert", path, "-o", tmp_path / "o.h5", "--missing", "mean")
    assert (code, err) == (0, f"sgdcli: warning: {path}: column 'odd' has no finite value to average: --missing "
                              "mean fills its missing fields with 0, and keeps its 3 NaN or infinite values (such "
                              "as 'inf') as they are, which train's --bad-rows refuses or skips (--na-values can "
                              "list them as missing; --ignore leaves the column out)\n")
    with h5py.File(tmp_path / "o.h5") as f:
        X = f["X"][()]
    assert X[:, 1].tolist()[:2] == [np.inf, 0.0] and np.isnan(X[2, 1]) and X[3, 1] == -np.inf
    path.write_text("a,odd,label\n1,,0\n2,-Infinity,1\n")
    code, out, err = cli("convert", path, "-o", tmp_path / "o.h5", "--missing", "mean")
    assert code == 0 and err.endswith("keeps its 1 NaN or infinite value '-Infinity' as it is, which train's "
                                      "--bad-rows refuses or skips (--na-values can list it as missing; --ignore "
                                      "leaves the column out)\n"), err


def test_a_categorical_column_is_one_hot_with_the_most_frequent_values_and_other(tmp_path):
    path = tmp_path / "c.csv"
    colors = ["red"] * 5 + ["blue"] * 4 + ["green"] * 3 + ["pink"] * 2 + ["grey", "NA"]
    pd.DataFrame({"color": colors, "x": np.arange(16.0), "label": np.arange(16) % 2}).to_csv(path, index=False)
    convert(path, tmp_path / "c.h5", categorical="color", max_categories=3)
    with h5py.File(tmp_path / "c.h5") as f:
        X = f["X"][()]
        assert list(f["X"].attrs["feature_names"]) == ["color=red", "color=blue", "color=green", "color=other", "x"]
    expected = {"red": [1, 0, 0, 0], "blue": [0, 1, 0, 0], "green": [0, 0, 1, 0], "pink": [0, 0, 0, 1],
                "grey": [0, 0, 0, 1], "NA": [0, 0, 0, 0]}
    assert X[:, :4].tolist() == [expected[c] for c in colors]
    assert X[:, 4].tolist() == list(np.arange(16.0))


def test_an_id_like_categorical_column_is_counted_in_bounded_memory(tmp_path, monkeypatch):
    """An id under --categorical held a count of every distinct value (1.9 GB for a CSV of 232 MB); counted in a
    bounded table (data/frequent.py), the values that stand out are still found, and a choice that cannot be
    told apart from the ids is said to be unsure (the ids' counts are pruned away: 3 values are left of 4)."""
    import sgdcli.data.csvdecode as csvdecode

    rng = np.random.default_rng(0)
    users = np.array([f"u{i}" for i in range(3000)] + ["a"] * 300 + ["b"] * 200 + ["c"] * 100)[rng.permutation(3600)]
    path = tmp_path / "c.csv"
    pd.DataFrame({"user": users, "x": np.arange(3600.0), "label": np.arange(3600) % 2}).to_csv(path, index=False)
    monkeypatch.setattr(csvdecode, "COUNTED_VALUES", 64)  # the table of 64 values prunes the ids away
    code, _, err = cli("convert", path, "-o", tmp_path / "c.h5", "--categorical", "user", "--max-categories", "3")
    assert (code, err) == (0, "")
    with h5py.File(tmp_path / "c.h5") as f:
        assert list(f["X"].attrs["feature_names"]) == ["user=a", "user=b", "user=c", "user=other", "x"]
    code, _, err = cli("convert", path, "-o", tmp_path / "d.h5", "--categorical", "user", "--max-categories", "4")
    assert code == 0 and err == (f"sgdcli: warning: {path}: column 'user' has more distinct values than the 64 "
                                 "counted at once: its 3 categories are the values counted most, which may not be "
                                 "the 4 most frequent (an id-like column is better hashed, --hash-bits, or left "
                                 "out, --ignore)\n")


def test_thousands_separators_and_decimal_commas(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('amount;rate;label\n"1.234,5";0,25;1\n"12.000";1,5;0\n')
    convert(path, tmp_path / "t.h5", decimal=",", thousands=".")
    with h5py.File(tmp_path / "t.h5") as f:
        assert f["X"][()].tolist() == [[1234.5, 0.25], [12000.0, 1.5]]


@pytest.mark.parametrize("field", [",5", "-,5", "1e,5", "1.,5", "1.5,", "+,1", "1,000", "1,,000", "1,000,",
                                   "-1,234.5", "12,345e2"])
@pytest.mark.parametrize("quoted", [True, False])
def test_a_thousands_separator_is_a_number_where_pandas_reads_one(tmp_path, field, quoted):
    """pandas reads a separator only after a digit of the integer part, a field with one elsewhere as text; a
    quoted field (read by Python, not the tokenizer) had every separator removed: ',5' was 5, '1e,5' 1e5."""
    path = tmp_path / "t.csv"
    path.write_text(f'a;b;y\n{chr(34) + field + chr(34) if quoted else field};1;0\n2;2;1\n')
    expected = pd.read_csv(path, sep=";", thousands=",")["a"][0]
    code, _, err = cli("convert", path, "-o", tmp_path / "t.h5", "--thousands", ",", "--dtype", "float64")
    if isinstance(expected, str):
        assert code == 2 and f"line 2, column 1 (a): cannot read {field!r} as a number" in err, err
    else:
        assert code == 0, err
        with h5py.File(tmp_path / "t.h5") as f:
            assert f["X"][0, 0] == expected


def test_quoted_fields_hold_delimiters_quotes_and_newlines(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('a,"b, the second",label\n1,"2",0\n"3","4",1\n')
    convert(path, tmp_path / "q.h5")
    with h5py.File(tmp_path / "q.h5") as f:
        assert f["X"][()].tolist() == [[1, 2], [3, 4]]
        assert list(f["X"].attrs["feature_names"]) == ["a", "b, the second"]
    path.write_text('a,note,label\n1,"one\nline, two ""quoted""",0\nx,y,1\n')
    code, _, err = cli("convert", path, "-o", tmp_path / "r.h5", "--ignore", "note", "--engine", "python")
    assert (code, err.strip()) == (2, f"sgdcli: error: {path}: line 4, column 1 (a): cannot read 'x' as a number "
                                      "(declare the column with --categorical a, or leave it out with --ignore a; "
                                      "--bad-rows skip leaves such rows out)")


@pytest.mark.parametrize("args,message", [
    (["--columns", "a,zz"], "--columns: no column 'zz' in the header (a, b, c, label)"),
    (["--columns", "a,label"], "--columns: column 'label' is the label (--label-column)"),
    (["--columns", "b,a,1"], "--columns: column 'b' is listed twice"),
    # the last column, the label where --label-column is not given, stayed the label without a word, and the
    # label meant became a feature
    (["--ignore", "label"], "--ignore: column 'label' is the label (--label-column; without it, the last column): "
                            "leave it out of --ignore, or name another label with --label-column"),
    (["--ignore", "label", "--hash-bits", "4"], "--ignore: column 'label' is the label (--label-column; without "
                                                "it, the last column): leave it out of --ignore, or name another "
                                                "label with --label-column"),
    (["--ignore", "a,b,c"], "{path}: no feature columns left (--columns, --ignore, --label-column)"),
    (["--categorical", "c", "--ignore", "c"], "--categorical: column 'c' is not among the features (--columns, "
                                              "--ignore)"),
    (["--missing-indicator"], "--missing-indicator: applies with --missing zero or mean, which fill missing values"),
    (["--decimal", ",,"], "--decimal: expected one character that is not a digit, got ',,'"),
    # empty (what --columns "$COLUMNS" becomes where the variable is unset) was no list: every column
    (["--columns", ""], "--columns: names no column (an unset shell variable?)"),
    (["--ignore", " "], "--ignore: names no column (an unset shell variable?)"),
    (["--categorical", ""], "--categorical: names no column (an unset shell variable?)"),
    (["--thousands", ","], None),  # a thousands separator alone is fine
    (["--thousands", ".", "--decimal", "."], "--thousands: expected one character, neither a digit nor --decimal, "
                                             "got '.'"),
])
def test_bad_column_options_are_usage_errors(tmp_path, args, message):
    path = tmp_path / "d.csv"
    path.write_text("a,b,c,label\n1,2,3,0\n4,5,6,1\n")
    code, _, err = cli("convert", path, "-o", tmp_path / "o.h5", *args)
    if message is None:
        assert code == 0, err
        return
    assert (code, err.strip()) == (2, "sgdcli: error: " + message.format(path=path))


def test_a_long_header_name_is_listed_cut_with_its_length(tmp_path):
    """The list of header names cut a 200-character name to its first 80 and "...", without its length, which
    a quoted field and a line's column name carry."""
    path = tmp_path / "d.csv"
    path.write_text("a" * 200 + ",b,label\n1,2,0\n3,4,1\n")
    code, _, err = cli("convert", path, "-o", tmp_path / "o.h5", "--label-column", "zz")
    assert (code, err.strip()) == (2, "sgdcli: error: --label-column: no column 'zz' in the header ("
                                      + "a" * 80 + "... (200 characters), b, label)")


def test_column_options_apply_to_csv_only(tmp_path):
    path = tmp_path / "d.svm"
    path.write_text("1 1:0.5\n0 2:1\n")
    code, _, err = cli("convert", path, "-o", tmp_path / "o.h5", "--ignore", "1")
    assert (code, err.strip()) == (2, "sgdcli: error: --columns, --ignore, --categorical, --na-values, --missing, "
                                      "--decimal, --thousands and --weight-column apply to CSV/TSV input")


def test_columns_keeps_the_listed_features_in_file_order(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,c,label\n1,2,3,0\n4,5,6,1\n")
    convert(path, tmp_path / "o.h5", columns="c,0")
    with h5py.File(tmp_path / "o.h5") as f:
        assert f["X"][()].tolist() == [[1, 3], [4, 6]]
        assert list(f["X"].attrs["feature_names"]) == ["a", "c"]


def test_info_and_show_say_what_the_columns_became(penguins, tmp_path):
    d, _, _, files = penguins
    convert(files["categorical"][0], tmp_path / "c.h5", label_column="species", categorical="island",
            missing="zero", missing_indicator=True, ignore="year")
    code, out, _ = cli("info", tmp_path / "c.h5")
    assert code == 0
    assert ("X, y: 600 rows × 8 features (bill_length_mm, bill_length_mm_missing, bill_depth_mm, "
            "bill_depth_mm_missing, island=Biscoe, island=Dream, island=Torgersen, island=other)") in out
    assert "  label: column 'species', class names\n" in out and "  island: one-hot, 3 values and other\n" in out
    assert "  left out: year" in out
    _saved(train(tmp_path / "c.h5", TrainOptions(model="softmax", epochs=1)), tmp_path)
    code, out, _ = cli("show", tmp_path / "m.h5")
    assert "classes      Adelie, Chinstrap, Gentoo\n" in out
    assert "features from CSV columns\n  label: column 'species', class names\n" in out


def test_info_lists_twenty_encoded_or_left_out_columns_and_counts_the_rest(tmp_path):
    names = [f"c{k}" for k in range(50)]
    path = tmp_path / "wide.csv"
    path.write_text(",".join([*names, "label"]) + "\n" + ",".join(["1"] * 50 + ["0"]) + "\n"
                    + ",".join([""] * 50 + ["1"]) + "\n")
    convert(path, tmp_path / "w.h5", label_column="label", missing="mean", ignore=",".join(names[25:]))
    code, out, _ = cli("info", tmp_path / "w.h5")
    assert code == 0 and max(map(len, out.splitlines())) < 400
    assert "  c19: a missing value is 1\n  ... and 5 more encoded columns (--json lists them all)\n" in out
    assert "  left out: " + ", ".join(names[25:45]) + ", ... and 5 more (--json lists them all)\n" in out
    code, out, _ = cli("info", "--json", tmp_path / "w.h5")
    assert json.loads(json.loads(out)["table"]["encoding"])["features"][24]["name"] == "c24"


def test_positive_class_chooses_which_name_the_binary_model_scores(penguins, tmp_path):
    from sklearn.metrics import recall_score

    d, df, _, _ = penguins
    two = df[df.species != "Chinstrap"]
    two.to_csv(tmp_path / "two.csv", index=False)
    convert(tmp_path / "two.csv", tmp_path / "two.h5", label_column="species")
    default = train(tmp_path / "two.h5", TrainOptions(epochs=2))
    adelie = train(tmp_path / "two.h5", TrainOptions(epochs=2, positive_class="Adelie"))
    assert [default.training["class_names"][int(c)] for c in default.classes] == ["Adelie", "Gentoo"]
    assert [adelie.training["class_names"][int(c)] for c in adelie.classes] == ["Gentoo", "Adelie"]
    np.testing.assert_allclose(adelie.raw_weights(), -default.raw_weights(), rtol=1e-9, atol=1e-12)
    code, out, err = cli("predict", _saved(adelie, tmp_path), tmp_path / "two.h5", "-o", "-", "--proba")
    assert out.splitlines()[0] == "prediction,proba_Gentoo,proba_Adelie"
    predicted = [line.split(",")[0] for line in out.splitlines()[1:]]
    assert evaluate(adelie, tmp_path / "two.h5")["recall"] == pytest.approx(
        recall_score(two.species, predicted, pos_label="Adelie"), rel=1e-12)
    code, _, err = cli("train", tmp_path / "two.h5", "-o", tmp_path / "x.h5", "--positive-class", "Chinstrap")
    assert (code, err.strip().splitlines()[-1]) == (
        2, f"sgdcli: error: --positive-class: {tmp_path / 'two.h5'}:y has no class 'Chinstrap' (classes: 'Adelie', "
           "'Gentoo')")
    code, _, err = cli("train", tmp_path / "two.h5", "-o", tmp_path / "x.h5", "--positive-class", "Adelie",
                       "--model", "softmax")
    assert (code, err.strip()) == (2, "sgdcli: error: --positive-class: applies to binary models; --model softmax "
                                      "is multiclass")


def test_train_on_a_csv_file_says_to_convert_it_first(penguins, tmp_path):
    d, _, _, files = penguins
    path = files["gzip"][0]
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5")
    assert (code, err.strip()) == (2, f"sgdcli: error: {path}: not an HDF5 file; train reads HDF5, where the "
                                      "shuffle can reach any row (predict and evaluate, HDF5 or CSV text): convert it "
                                      f"first: sgdcli convert {path} -o {d / 'data.h5'} "
                                      "(with --label-column NAME where the label is not the last column)")
    (tmp_path / "d.svm").write_text("1 1:2\n")
    np.save(tmp_path / "d.npy", np.ones((2, 3)))
    for name, hint in (("d.svm", ""), ("d.npy", " (with --y LABELS.npy, or --label-column INDEX where the labels are "
                                                "a column)")):
        said = (f"sgdcli: error: {tmp_path / name}: not an HDF5 file; train reads HDF5, where the shuffle can reach "
                "any row (predict and evaluate, HDF5 or CSV text): convert it first: sgdcli convert "
                f"{tmp_path / name} -o {tmp_path / 'd.h5'}{hint}\n")
        assert cli("train", tmp_path / name, "-o", tmp_path / "m.h5") == (2, "", said)
        # (predict and evaluate were told that "sgdcli trains on HDF5")
        model = tmp_path / "model.h5"
        assert cli("train", write_table(tmp_path / "t.h5", np.ones((4, 3), np.float32), np.arange(4.0) % 2), "-o",
                   model, "-q", "--batch-size", "full")[0] == 0
        assert cli("predict", model, tmp_path / name, "-o", "-") == (2, "", said)
        assert cli("evaluate", model, tmp_path / name) == (2, "", said)
    for command in (["train", "-", "-o", tmp_path / "m.h5"], ["info", "-"]):  # ("-: no such file")
        assert cli(*command) == (2, "", "sgdcli: error: -: standard input, which only predict and evaluate read (CSV "
                                        "text), where an HDF5 file is read in place: give its path\n")
    for command in (["predict", "-", tmp_path / name, "-o", "-"], ["show", "-"]):  # (the model: not those)
        assert cli(*command) == (2, "", "sgdcli: error: -: a model is read from its file, not from standard input: "
                                        "give its path\n")


def test_predict_and_evaluate_read_new_csv_rows_through_the_models_columns(penguins, tmp_path):
    """By header name, in any order, other columns ignored; an unseen category is 'other' and a missing value
    gets the training file's fill, as convert would have made them."""
    d, df, gaps, files = penguins
    path, _ = files["categorical"]
    table = pd.read_csv(path)
    table.loc[3, "island"] = "Atlantis"
    table.loc[5, "bill_depth_mm"] = np.nan
    table.to_csv(tmp_path / "train.csv", index=False, na_rep="NA")
    convert(tmp_path / "train.csv", tmp_path / "train.h5", label_column="species", categorical="island",
            missing="mean")
    model = train(tmp_path / "train.h5", TrainOptions(model="softmax", epochs=2))
    saved = _saved(model, tmp_path)
    new = table[["year", "island", "species", "bill_depth_mm", "bill_length_mm"]].assign(extra="x")
    new.to_csv(tmp_path / "new.csv", index=False, na_rep="NA")
    code, from_text, err = cli("predict", saved, tmp_path / "new.csv", "-o", "-", "--proba")
    assert code == 0, err
    code, from_h5, err = cli("predict", saved, tmp_path / "train.h5", "-o", "-", "--proba")
    assert from_text == from_h5
    piped = run("predict", saved, "-", "-o", "-", "--proba",
                input=new.drop(columns="species").to_csv(index=False, na_rep="NA"))
    assert (piped.returncode, piped.stdout) == (0, from_h5), piped.stderr
    assert evaluate(saved, tmp_path / "new.csv") == pytest.approx(evaluate(saved, tmp_path / "train.h5"), rel=1e-12)
    code, out, err = cli("predict", saved, tmp_path / "new.csv", "-o", tmp_path / "p.h5")
    with h5py.File(tmp_path / "p.h5") as f:  # HDF5 output, its row count found as the rows come
        assert [v.decode() for v in f["prediction"][()]] == [line.split(",")[0] for line in from_h5.splitlines()[1:]]


@pytest.mark.parametrize("new,args,message", [
    ("year,island,bill_depth_mm\n2008,Dream,15\n", [],
     "{new}: no column 'bill_length_mm' in its header (year, island, bill_depth_mm); the model was trained on it"),
    ("island,bill_length_mm,bill_depth_mm,year\nDream,NA,15,2008\n", [],
     "{new}: line 2, column 2 (bill_length_mm): missing value 'NA'; the model has no fill for this column (its "
     "training data was converted with --missing error) and owes a prediction for every row: fill the value in or "
     "leave the row out of the input, or convert the training data with --missing zero or mean, whose fill the "
     "model then keeps, and train again"),
    ("island,bill_length_mm,bill_depth_mm,year\nDream,40,15,2008\n", ["--x", "features"],
     "--x: applies to HDF5 input; {new} is read as CSV text through the model's own columns"),
])
def test_new_csv_rows_the_model_cannot_read_are_usage_errors(penguins, tmp_path, new, args, message):
    d, _, _, files = penguins
    convert(files["categorical"][0], tmp_path / "c.h5", label_column="species", categorical="island")
    saved = _saved(train(tmp_path / "c.h5", TrainOptions(model="softmax", epochs=1)), tmp_path)
    (tmp_path / "new.csv").write_text(new)
    code, out, err = cli("predict", saved, tmp_path / "new.csv", "-o", "-", *args)
    assert (code, out, err.strip()) == (2, "", "sgdcli: error: " + message.format(new=tmp_path / "new.csv"))
    with_label = new.replace(",year\n", ",year,species\n").replace(",2008\n", ",2008,Adelie\n")
    (tmp_path / "new.csv").write_text(with_label)
    code, out, err = cli("evaluate", saved, tmp_path / "new.csv", *args)
    assert (code, out, err.strip()) == (2, "", "sgdcli: error: " + message.format(new=tmp_path / "new.csv"))


@pytest.mark.parametrize("hash_bits", [None, 8])
def test_new_rows_split_by_another_delimiter_are_found_by_the_header_or_given_with_delimiter(tmp_path, hash_bits):
    """A .tsv given to a model trained on .csv said "no column 'x1' in its header (x1\tx2...)": the new text was
    always split by the training file's delimiter, and predict and evaluate had no --delimiter."""
    rng = np.random.default_rng(3)
    table = pd.DataFrame({"x1": rng.standard_normal(200), "x2": rng.standard_normal(200)})
    table["label"] = (table.x1 - table.x2 > 0).astype(int)
    table.to_csv(tmp_path / "train.csv", index=False, sep=";")
    convert(tmp_path / "train.csv", tmp_path / "train.h5", hash_bits=hash_bits)
    saved = _saved(train(tmp_path / "train.h5", TrainOptions(epochs=2, batch_size=16)), tmp_path)
    want = cli("predict", saved, tmp_path / "train.csv", "-o", "-", "--proba")[1]
    metrics = evaluate(saved, tmp_path / "train.csv")
    new = table[["x2", "label", "x1"]]
    for name, sep, args in (("new.tsv", "\t", []), ("new.csv", ",", []), ("new.txt.csv", ":", ["--delimiter", ":"]),
                            ("tab.csv", "\t", ["--delimiter", "tab"])):
        new.to_csv(tmp_path / name, index=False, sep=sep)
        code, out, err = cli("predict", saved, tmp_path / name, "-o", "-", "--proba", *args)
        assert (code, out) == (0, want), err
        assert cli("evaluate", saved, tmp_path / name, "--json", *args)[1] == cli("evaluate", saved, tmp_path /
                                                                                  "train.csv", "--json")[1]
    piped = run("predict", saved, "-", "-o", "-", "--proba", input=new.to_csv(index=False, sep="\t"))
    assert (piped.returncode, piped.stdout) == (0, want), piped.stderr
    assert metrics["accuracy"] > 0.9
    code, _, err = cli("predict", saved, tmp_path / "new.txt.csv", "-o", "-")
    assert (code, err.strip()) == (2, f"sgdcli: error: {tmp_path / 'new.txt.csv'}: no column 'x1' in its header "
                                      "(x2:label:x1); the model was trained on it; if its fields are split by another "
                                      "delimiter, --delimiter names it")
    for args, message in ((["--delimiter", "::"], "--delimiter: expected one character (or 'tab'), got '::'"),
                          ([tmp_path / "train.h5", "--delimiter", ","], f"--delimiter: applies to CSV/TSV text input; "
                                                                        f"{tmp_path / 'train.h5'} is read as HDF5")):
        data = [] if len(args) == 3 else [tmp_path / "new.tsv"]
        code, _, err = cli("evaluate", saved, *data, *args)
        assert (code, err.strip()) == (2, f"sgdcli: error: {message}"), err


def test_a_model_not_trained_on_csv_cannot_read_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 2)).astype(np.float32)
    from conftest import write_table

    saved = _saved(train(write_table(tmp_path / "d.h5", X, (X[:, 0] > 0).astype(int)), TrainOptions(epochs=1)),
                   tmp_path)
    (tmp_path / "new.csv").write_text("a,b\n1,2\n")
    code, _, err = cli("predict", saved, tmp_path / "new.csv", "-o", "-")
    assert (code, err.strip()) == (2, f"sgdcli: error: {tmp_path / 'new.csv'}: CSV text is read through the columns "
                                      f"of the CSV file a model was trained on, and {saved} was not trained on a "
                                      f"converted CSV file; convert {tmp_path / 'new.csv'} as its training data was "
                                      "and give the HDF5 file")


def test_hashed_columns_take_the_column_options_and_leave_missing_values_out(tmp_path):
    from sklearn.feature_extraction import FeatureHasher

    path = tmp_path / "h.csv"
    path.write_text("city,size,note,label\nParis,2.5,x,1\nNA,NA,y,0\nOslo,,z,1\n7,1,w,0\n")
    convert(path, tmp_path / "h.h5", hash_bits=8, ignore="note", categorical="city")
    rows = [{"city=Paris": 1.0, "size": 2.5}, {}, {"city=Oslo": 1.0}, {"city=7": 1.0, "size": 1.0}]
    want = FeatureHasher(n_features=2**8, input_type="dict").transform(rows).toarray()
    with h5py.File(tmp_path / "h.h5") as f:
        g = f["X"]
        got = np.zeros((4, 2**8))
        for r in range(4):
            a, b = g["indptr"][r], g["indptr"][r + 1]
            got[r, g["indices"][a:b]] = g["data"][a:b]
    np.testing.assert_array_equal(got, want)


def test_a_weight_column_becomes_the_sample_weights_w(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("a,weight,label\n1,2,0\n2,0.5,1\n3,1,0\n")
    result = convert(path, tmp_path / "w.h5", weight_column="weight")
    assert result.weights == "w"
    with h5py.File(tmp_path / "w.h5") as f:
        assert f["X"][()].tolist() == [[1], [2], [3]] and f["w"][()].tolist() == [2.0, 0.5, 1.0]
        assert list(f["X"].attrs["feature_names"]) == ["a"]
    for text, message in (("a,weight,label\n1,-2,0\n", "line 2, column 2 (weight): weight '-2' is not a finite "
                                                           "number >= 0 (--bad-rows skip leaves such rows out)"),
                          ("a,weight,label\n1,NA,0\n", "line 2, column 2 (weight): missing weight (--bad-rows skip "
                                                           "leaves such rows out)")):
        path.write_text(text)
        code, _, err = cli("convert", path, "-o", tmp_path / "x.h5", "--weight-column", "weight")
        assert (code, err.strip()) == (2, f"sgdcli: error: {path}: {message}")
    code, _, err = cli("convert", path, "-o", tmp_path / "x.h5", "--weight-column", "label")
    assert (code, err.strip()) == (2, "sgdcli: error: --weight-column: column 'label' is the label (--label-column)")


def test_info_and_show_name_the_weight_column_and_where_its_weights_are(tmp_path):
    """A dense file converted with --weight-column listed the column as "left out", as if its weights had been
    dropped; they are in w, which --sample-weight reads."""
    path = tmp_path / "tw.csv"
    path.write_text("a,b,wt,label\n1,2,0.5,0\n3,4,1,1\n5,6,2,0\n")
    assert cli("convert", path, "-o", tmp_path / "c.h5", "--weight-column", "wt")[0] == 0
    code, out, err = cli("info", tmp_path / "c.h5")
    assert code == 0 and out.splitlines()[-3:] == ["X, y: 3 rows × 2 features (a, b)", "  label: column 'label'",
                                                    "  row weights: column 'wt', written to w (--sample-weight w)"], out
    _saved(train(tmp_path / "c.h5", TrainOptions(epochs=1, batch_size=1, sample_weight="w")), tmp_path)
    code, out, _ = cli("show", tmp_path / "m.h5")
    assert "  row weights: column 'wt', written to w (--sample-weight w)\n" in out and "left out" not in out, out


def test_a_hashed_model_reads_new_csv_rows_hashed_as_convert_hashed_its_training_rows(tmp_path):
    """By header name, in any order, other columns ignored, the same hash columns as convert --hash-bits: the
    predictions bit for bit those from the converted file, from a file or standard input."""
    rng = np.random.default_rng(4)
    n = 400
    table = pd.DataFrame({"size": rng.standard_normal(n), "city": rng.choice(["Paris", "Oslo", "Rome"], n),
                          "note": "x", "code": rng.integers(0, 3, n)})
    table.loc[::7, "size"] = np.nan
    table["label"] = ((table["size"].fillna(0) + (table.city == "Oslo")) > 0.2).astype(int)
    table.to_csv(tmp_path / "train.csv", index=False, na_rep="NA")
    options = dict(hash_bits=9, categorical="city,code", ignore="note")
    convert(tmp_path / "train.csv", tmp_path / "train.h5", **options)
    saved = _saved(train(tmp_path / "train.h5", TrainOptions(epochs=2)), tmp_path)
    new = table[["code", "label", "city", "size"]].assign(extra="y")
    new.to_csv(tmp_path / "new.csv", index=False, na_rep="NA")
    code, from_text, err = cli("predict", saved, tmp_path / "new.csv", "-o", "-", "--proba")
    assert code == 0, err
    code, from_h5, err = cli("predict", saved, tmp_path / "train.h5", "-o", "-", "--proba")
    assert from_text == from_h5
    piped = run("predict", saved, "-", "-o", "-", "--proba", input=new.drop(columns="label").to_csv(index=False))
    assert (piped.returncode, piped.stdout) == (0, from_h5), piped.stderr
    assert evaluate(saved, tmp_path / "new.csv") == evaluate(saved, tmp_path / "train.h5")
    code, out, _ = cli("show", saved)
    assert "features: 3 columns hashed by name into 2^9 columns; city, code as text (name=value)" in out


def test_hashed_csv_with_class_names_trains_predicts_and_evaluates_by_name(tmp_path):
    """--hash-bits read every label as a number: class names were refused, and the hint (--bad-rows skip)
    then left no row to write."""
    rng = np.random.default_rng(5)
    n = 300
    table = pd.DataFrame({"size": rng.standard_normal(n), "city": rng.choice(["Paris", "Oslo"], n)})
    table["label"] = np.where(table["size"] + (table.city == "Oslo") > 0.5, "big", "small")
    table.to_csv(tmp_path / "train.csv", index=False)
    convert(tmp_path / "train.csv", tmp_path / "train.h5", hash_bits=6)
    with h5py.File(tmp_path / "train.h5") as f:
        assert [v.decode() for v in f["y"][()]] == table["label"].tolist()
    saved = _saved(train(tmp_path / "train.h5", TrainOptions(epochs=3, batch_size=16)), tmp_path)
    code, out, err = cli("predict", saved, tmp_path / "train.csv", "-o", "-")
    assert code == 0 and set(out.split()[1:]) <= {"big", "small"}, err
    assert out == cli("predict", saved, tmp_path / "train.h5", "-o", "-")[1]
    assert evaluate(saved, tmp_path / "train.csv") == evaluate(saved, tmp_path / "train.h5")
    assert evaluate(saved, tmp_path / "train.csv")["accuracy"] > 0.8
    code, out, err = cli("show", saved, "--json")  # the classes as predict writes them, as show prints them
    assert json.loads(out)["classes"] == ["big", "small"] and "classes      big, small" in cli("show", saved)[1]
    (tmp_path / "gap.csv").write_text("size,city,label\n1,Oslo,big\n2,Rome,\n")
    code, _, err = cli("convert", tmp_path / "gap.csv", "-o", tmp_path / "gap.h5", "--hash-bits", "6")
    assert (code, err.strip()) == (2, f"sgdcli: error: {tmp_path / 'gap.csv'}: line 3, column 3 (label): missing "
                                      "label (--bad-rows skip leaves such rows out)")


def test_a_model_of_hashed_text_that_was_not_csv_says_to_convert_new_text(tmp_path):
    (tmp_path / "d.vw").write_text("1 | a:1 b:2\n-1 | a:-1 c:1\n1 | b:1\n-1 | c:2\n")
    convert(tmp_path / "d.vw", tmp_path / "d.h5", hash_bits=8)
    saved = _saved(train(tmp_path / "d.h5", TrainOptions(epochs=1, batch_size=2)), tmp_path)
    (tmp_path / "new.csv").write_text("a,b\n1,2\n")
    code, _, err = cli("predict", saved, tmp_path / "new.csv", "-o", "-")
    assert (code, err.strip()) == (2, f"sgdcli: error: {tmp_path / 'new.csv'}: {saved} was trained on features "
                                      f"hashed from vw, not from a converted CSV file; convert {tmp_path / 'new.csv'} "
                                      "as its training data was and give the HDF5 file")


def test_a_weight_column_of_hashed_rows_becomes_w_and_no_feature(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("a,weight,city,label\n1,2,Oslo,0\n\n2,0.5,Rome,1\n3,1,Oslo,0\n")
    result = convert(path, tmp_path / "w.h5", hash_bits=6, weight_column="weight")
    assert result.weights == "w"
    with h5py.File(tmp_path / "w.h5") as f:
        assert f["w"][()].tolist() == [2.0, 0.5, 1.0]
        assert f["X"]["indptr"][()].tolist() == [0, 2, 4, 6]  # a and city=...: the weight is no feature
    path.write_text("a,weight,city,label\n1,2,Oslo,0\n2,NA,Rome,1\n3,-1,Oslo,0\n")
    code, _, err = cli("convert", path, "-o", tmp_path / "x.h5", "--hash-bits", "6", "--weight-column", "weight")
    assert (code, err.strip()) == (2, f"sgdcli: error: {path}: line 3, column 2 (weight): missing weight (--bad-rows "
                                      "skip leaves such rows out)")
    assert not (tmp_path / "x.h5").exists()
    result = convert(path, tmp_path / "s.h5", hash_bits=6, weight_column="weight", bad_rows="skip")
    with h5py.File(tmp_path / "s.h5") as f:
        assert (result.skipped, f["w"][()].tolist(), f["y"][()].tolist()) == (2, [2.0], [0.0])


@pytest.mark.parametrize("where", ["the first line", "line 3002"])
def test_text_that_is_not_utf8_says_so_and_how_to_convert_it(tmp_path, where):
    path = tmp_path / "latin1.csv"
    rows = ["a,b,label", "1,x,0"] + ["3,y,1"] * (3000 if where == "line 3002" else 0)
    path.write_bytes(("\n".join(rows) + "\n").encode() + "3,caf\u00e9,0\n".encode("latin1"))
    if where == "the first line":
        path.write_bytes("a,caf\u00e9,label\n1,2,0\n".encode("latin1"))
    code, _, err = cli("convert", path, "-o", tmp_path / "o.h5", "--categorical", "b" if where != "the first line"
                       else "1")
    assert (code, err.strip()) == (2, f"sgdcli: error: {path}: not UTF-8 text (bytes b'\\xe9': invalid continuation "
                                      "byte); convert it to UTF-8 first, e.g. iconv -f latin1 -t utf-8")


@pytest.mark.parametrize("engine", ["python", "auto"])  # (pyarrow refuses a number in --na-values: test_convert)
def test_a_missing_value_that_is_a_number_is_missing_however_it_is_written(tmp_path, engine):
    """--na-values -999 (a sentinel many exports use): as pandas' na_values, the number is missing whether it
    is written -999 or -999.0; read as text alone it was kept as data by every reader and every --missing."""
    path = tmp_path / "d.csv"
    path.write_text("a,b,y\n1,-999,0\n3,4,1\n5,8,0\n7,8,1\n2,-999.0,1\n")
    code, out, err = cli("convert", path, "-o", tmp_path / "e.h5", "--na-values", "-999", "--engine", engine)
    assert (code, err.strip().splitlines()[-1]) == (
        2, f"sgdcli: error: {path}: line 2, column 2 (b): missing value '-999'; --missing zero or mean fills "
           "missing values, --missing skip leaves their rows out (--na-values says what is missing)")
    assert cli("convert", path, "-o", tmp_path / "m.h5", "--na-values", "-999,NA", "--missing", "mean",
               "--missing-indicator", "--engine", engine)[0] == 0
    with h5py.File(tmp_path / "m.h5") as f:
        np.testing.assert_allclose(f["X"][()], [[1, 0, 20 / 3, 1], [3, 0, 4, 0], [5, 0, 8, 0], [7, 0, 8, 0],
                                                [2, 0, 20 / 3, 1]], rtol=1e-6)  # a, a_missing, b, b_missing
    assert cli("train", tmp_path / "m.h5", "-o", tmp_path / "model.h5", "--epochs", "1", "--batch-size", "2",
               "-q")[0] == 0
    (tmp_path / "new.csv").write_text("a,b\n1,-999\n1,NA\n")  # predict reads new rows through the same columns
    code, out, err = cli("predict", tmp_path / "model.h5", tmp_path / "new.csv", "-o", "-", "--proba")
    first, second = out.splitlines()[1:]
    assert code == 0 and first == second, out


@pytest.mark.parametrize("engine", ["python", "auto"])  # (pyarrow refuses a number in --na-values: test_convert)
def test_an_empty_field_stays_missing_whatever_na_values_lists(tmp_path, engine):
    """--na-values replaces pandas' list, but an empty field is no value: an empty label read as text made the
    labels class names, one of them '', and a model of a class named nothing trained with exit 0."""
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n1,2,0\n-999,,1\n5,6,0\n8,9,\n4,3,1\n")
    code, _, err = cli("convert", path, "-o", tmp_path / "e.h5", "--na-values", "-999", "--missing", "mean",
                       "--bad-rows", "skip", "--engine", engine)
    assert code == 0, err
    with h5py.File(tmp_path / "e.h5") as f:
        assert f["y"][()].tolist() == [0, 1, 0, 1] and f["y"].dtype.kind == "f"  # numbers, the empty one left out
        # the means are the columns' over every row that has a value, the one without a label too
        np.testing.assert_allclose(f["X"][()], [[1, 2], [4.5, 5], [5, 6], [4, 3]], rtol=1e-6)


@pytest.mark.parametrize("hashed", [False, True])
def test_class_names_first_met_past_the_rows_that_decide_the_labels_kind_say_so(tmp_path, hashed):
    """A label column read as numbers, since its first 1,000 rows' labels are, stops at a class name further
    down, and says why it was read as numbers (the docs said the first block of rows decided)."""
    lines = ["a,b,label"] + [f"{i % 7},{i % 5},{i % 2}" for i in range(1200)] + ["1,2,cat", "3,4,dog"]
    (tmp_path / "late.csv").write_text("\n".join(lines) + "\n")
    code, _, err = cli("convert", tmp_path / "late.csv", "-o", tmp_path / "late.h5",
                       *(["--hash-bits", "4"] if hashed else []))
    assert (code, err) == (2, f"sgdcli: error: {tmp_path / 'late.csv'}: line 1202, column 3 (label): cannot read "
                              "'cat' as a number: the label column is read as numbers, as its first 1,000 rows' "
                              "labels are (--bad-rows skip leaves such rows out)\n"), err
    assert not (tmp_path / "late.h5").exists()
