"""Features that hold the codes of categories (data/categories.py): a pandas Categorical column and an HDF5 enum
field are read through the names of their categories in every file a model reads, not as codes that name other
categories in another file."""

import h5py
import numpy as np

from sgdcli import load_model, train
from sgdcli.options import TrainOptions

from conftest import cli, short_fits
from test_producer_edges import need, quiet

COLORS = ["blue", "green", "red"]
# short runs, about the columns read: the end's warnings that they are short are right, and beside the point
pytestmark = short_fits


def _colors(n=1500, seed=8):
    rng = np.random.default_rng(seed)
    color = rng.choice(COLORS, n)
    a = rng.standard_normal(n)
    y = ((color == "red") * 2 - (color == "blue") * 2 + a + 0.3 * rng.standard_normal(n) > 0).astype(np.int64)
    return color, a, y


def _frame(path, color, a, y, categories=None):
    """A table-format frame of ``a``, ``color`` (a Categorical of ``categories``: None, those present, sorted,
    as pandas numbers them) and ``label``, written by pandas."""
    pd = need("pandas")
    need("tables")
    df = pd.DataFrame({"a": a, "color": pd.Categorical(color, categories=categories), "label": y})
    quiet(df.to_hdf, path, key="df", format="table")
    return str(path)


def _scores(model, path):
    code, out, err = cli("predict", model, path, "--x", "df", "--label-column", "label", "--proba", "-o", "-", "-q")
    assert code == 0, err
    return [line.split(",")[-1] for line in out.splitlines()[1:]]


def test_a_categorical_feature_is_read_through_its_categories_names_in_every_file(tmp_path):
    """pandas numbers a frame's categories by those it holds, sorted: a later batch without "blue" gives "green"
    code 0, a frame listing them in another order gives each another code.  Read as codes, the model scored
    them silently wrong (accuracy 0.96 on its training file, 0.35 on the same rows reordered)."""
    color, a, y = _colors()
    trained = _frame(tmp_path / "train.h5", color, a, y)
    model = str(tmp_path / "m.h5")
    assert cli("train", trained, "--x", "df", "--label-column", "label", "-o", model, "-q")[0] == 0
    assert load_model(model).training["categories"] == {"color": {"blue": 0, "green": 1, "red": 2}}
    reordered = _frame(tmp_path / "reordered.h5", color, a, y, categories=["red", "green", "blue"])
    assert _scores(model, reordered) == _scores(model, trained)
    kept = color != "blue"
    later = _frame(tmp_path / "later.h5", color[kept], a[kept], y[kept])  # its categories: green, red
    assert _scores(model, later) == [s for s, k in zip(_scores(model, trained), kept) if k]
    code, out, err = cli("evaluate", model, reordered, "--x", "df", "--label-column", "label", "-q", "--json")
    assert code == 0 and out == cli("evaluate", model, trained, "--x", "df", "--label-column", "label", "-q",
                                    "--json")[1]


def test_columns_renamed_by_features_are_read_through_the_models_categories(tmp_path):
    """--features reads columns of other names as the model's, in its order: the model's categories go with
    them, not with the file's names, which it does not know.  And a code the model numbers -1 (an enum's) is
    that category, where pandas' -1 (a missing value) is not; categories stored as floats are the same
    numbers as those stored as integers."""
    pd = need("pandas")
    color, a, y = _colors()
    model = str(tmp_path / "m.h5")
    trained = _frame(tmp_path / "train.h5", color, a, y)
    train(trained, TrainOptions(x="df", label_column="label", epochs=1)).save(model)
    renamed = pd.DataFrame({"a": a, "colour": pd.Categorical(color, categories=["red", "green", "blue"]), "label": y})
    quiet(renamed.to_hdf, tmp_path / "renamed.h5", key="df", format="table")
    code, out, err = cli("predict", model, tmp_path / "renamed.h5", "--x", "df", "--label-column", "label",
                         "--features", "a,colour", "--proba", "-o", "-", "-q")
    assert code == 0 and [line.split(",")[-1] for line in out.splitlines()[1:]] == _scores(model, trained), err
    numbers = {"blue": -1, "green": 0, "red": 1}
    kind = np.dtype([("a", "f8"), ("color", h5py.enum_dtype(numbers, basetype="i1")), ("label", "i1")])
    rows = np.zeros(len(y), dtype=kind)
    rows["a"], rows["color"], rows["label"] = a, [numbers[c] for c in color], y
    with h5py.File(tmp_path / "enum.h5", "w") as f:
        f["df"] = rows
    train(tmp_path / "enum.h5", TrainOptions(x="df", label_column="label", epochs=1)).save(tmp_path / "e.h5")
    assert _scores(tmp_path / "e.h5", trained) == _scores(tmp_path / "e.h5", tmp_path / "enum.h5")
    doses = np.where(color == "red", 10, 2)
    for name, values in (("int.h5", doses), ("float.h5", doses.astype(np.float64))):
        frame = pd.DataFrame({"a": a, "dose": pd.Categorical(values), "label": y})
        quiet(frame.to_hdf, tmp_path / name, key="df", format="table")
    train(tmp_path / "int.h5", TrainOptions(x="df", label_column="label", epochs=1)).save(tmp_path / "d.h5")
    assert _scores(tmp_path / "d.h5", tmp_path / "float.h5") == _scores(tmp_path / "d.h5", tmp_path / "int.h5")


def test_validation_and_a_warm_start_read_the_categories_as_the_training_data_did(tmp_path):
    """--val reads its Categorical through the training data's categories, and --init the new data through the
    initial model's: the same rows, their categories in another order, give the same validation loss and the
    same model."""
    color, a, y = _colors()
    trained = _frame(tmp_path / "train.h5", color, a, y)
    reordered = _frame(tmp_path / "reordered.h5", color, a, y, categories=["red", "green", "blue"])
    options = dict(x="df", label_column="label", epochs=2, threads=1)
    same, other = (train(trained, TrainOptions(**options, val=val)) for val in (trained, reordered))
    assert [r["val_loss"] for r in other.history] == [r["val_loss"] for r in same.history]
    first = str(tmp_path / "first.h5")
    same.save(first)
    on_trained, on_reordered = (train(data, TrainOptions(**options, init=first)) for data in (trained, reordered))
    np.testing.assert_array_equal(on_reordered.weights, on_trained.weights)
    assert on_reordered.training["categories"] == {"color": {"blue": 0, "green": 1, "red": 2}}
    averaged = dict(options, parallel="average", threads=2, init=first)  # each thread opens the file again
    np.testing.assert_array_equal(train(reordered, TrainOptions(**averaged)).weights,
                                  train(trained, TrainOptions(**averaged)).weights)


def test_a_category_the_model_does_not_know_is_a_missing_value_and_numbers_are_refused(tmp_path):
    """A category the model was not trained on has no number of its own: a missing value, refused naming the row
    and column (or left out by --bad-rows skip).  Plain numbers where the model's feature held codes are no
    categories' codes: refused before any row is read."""
    pd = need("pandas")
    color, a, y = _colors()
    model = str(tmp_path / "m.h5")
    train(_frame(tmp_path / "train.h5", color, a, y), TrainOptions(x="df", label_column="label", epochs=1)).save(model)
    color[7] = "purple"
    new = _frame(tmp_path / "new.h5", color, a, y)
    assert cli("predict", model, new, "--x", "df", "--label-column", "label", "-o", tmp_path / "p.csv", "-q") == (
        2, "", f"sgdcli: error: {new}:df: non-finite feature value at row 7, column 'color' (NaN or infinite; a "
               "category the model does not know is read as NaN, as a pandas Categorical's missing value, code -1, "
               "is)\n")
    assert not (tmp_path / "p.csv").exists()
    codes = pd.DataFrame({"a": a, "color": np.arange(len(y)) % 3, "label": y})
    quiet(codes.to_hdf, tmp_path / "codes.h5", key="df", format="table")
    assert cli("evaluate", model, tmp_path / "codes.h5", "--x", "df", "--label-column", "label", "-q") == (
        2, "", f"sgdcli: error: {tmp_path / 'codes.h5'}:df: column 'color' holds numbers, where training read the "
               "codes of categories ('blue', 'green', 'red'): write it as categories (a pandas Categorical in the "
               "table format, an HDF5 enum) so that it is read through their names\n")
    quiet(codes.to_hdf, tmp_path / "fixed.h5", key="df", format="fixed")  # a block of numbers: refused as well
    assert cli("evaluate", model, tmp_path / "fixed.h5", "--x", "df", "--label-column", "label", "-q")[0] == 2
    swapped = pd.DataFrame({"a": pd.Categorical(np.where(a > 0, "hi", "lo")), "color": pd.Categorical(color),
                            "label": y})  # codes where training read the numbers of a
    quiet(swapped.to_hdf, tmp_path / "swapped.h5", key="df", format="table")
    assert cli("evaluate", model, tmp_path / "swapped.h5", "--x", "df", "--label-column", "label", "-q") == (
        2, "", f"sgdcli: error: {tmp_path / 'swapped.h5'}:df: column 'a' holds the codes of categories ('hi', 'lo'), "
               "where training read numbers: write it as numbers\n")


def test_an_enum_field_is_read_through_its_names(tmp_path):
    """An enum field of a compound table (h5py's enum_dtype) numbers its names as its type says: another file's
    type may number them otherwise.  Read as its numbers, the same rows scored accuracy 0.36 against 0.997."""
    color, a, y = _colors()
    for name, numbers in (("a.h5", {"blue": 0, "green": 1, "red": 2}), ("b.h5", {"red": 0, "green": 5, "blue": 9})):
        kind = np.dtype([("a", "f8"), ("color", h5py.enum_dtype(numbers, basetype="i1")), ("label", "i1")])
        rows = np.zeros(len(y), dtype=kind)
        rows["a"], rows["color"], rows["label"] = a, [numbers[c] for c in color], y
        with h5py.File(tmp_path / name, "w") as f:
            f["table"] = rows
    model = train(tmp_path / "a.h5", TrainOptions(x="table", label_column="label", epochs=1))
    assert model.training["categories"] == {"color": {"blue": 0, "green": 1, "red": 2}}
    model.save(tmp_path / "m.h5")
    scored = [cli("predict", tmp_path / "m.h5", tmp_path / name, "--x", "table", "--label-column", "label",
                  "--proba", "-o", "-", "-q") for name in ("a.h5", "b.h5")]
    assert scored[0][0] == 0 and scored[1] == scored[0]
    code, out, _ = cli("info", tmp_path / "b.h5")  # what each code of this file is read as
    assert code == 0 and "  'color' holds the codes of categories, read through their names: red = 0, green = 5, " \
        "blue = 9\n" in out


def test_info_lists_a_features_first_categories_and_how_many():
    """A column of 20,000 ids printed a line of 390 KB; one whose Categorical has no categories, an empty list."""
    from sgdcli.cli.render import SHOWN_CATEGORIES, category_lines

    many = {f"id{k}": k for k in range(SHOWN_CATEGORIES + 1)}
    (line,) = category_lines({"uid": many})
    assert line.endswith(f"id{SHOWN_CATEGORIES - 1} = {SHOWN_CATEGORIES - 1}, ... ({SHOWN_CATEGORIES + 1} in all)")
    assert category_lines({"color": {}}) == ["'color' holds the codes of categories, read through their names: none"]
