"""Less common files of the producer libraries: compression filters this HDF5 lacks, MATLAB v7.3 char labels,
sparse, cell and empty arrays and d × N matrices, netCDF dimensions, HDF5 enums, external links."""

import json

import h5py
import numpy as np
import pytest

from conftest import cli, make_problem


def need(module: str):
    return pytest.importorskip(module, reason=f"{module} is not installed (pip install '.[test]' installs it)")


def _frame(n=300):
    pd = need("pandas")
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    df["label"] = (df.a > 0).astype(int)
    return df


FILTERS = {"blosc": 32001, "blosc:zstd": 32001, "bzip2": 307}


@pytest.mark.parametrize("fmt", ["fixed", "table"])
@pytest.mark.parametrize("complib", list(FILTERS))
def test_a_pandas_frame_compressed_with_a_filter_hdf5_lacks_names_it(tmp_path, fmt, complib):
    """PyTables ships blosc and bzip2, h5py's HDF5 does not: the frame's reads failed with HDF5's own text
    ("damaged or unreadable (... can't open directory (/usr/local/lib/plugin) ...)"), where a plain dataset
    names the filter."""
    need("tables")
    code = FILTERS[complib]
    if h5py.h5z.filter_avail(code):
        pytest.skip(f"HDF5 filter {code} ({complib}) is available here: the frame reads")
    path = str(tmp_path / "f.h5")
    _frame().to_hdf(path, key="df", format=fmt, complevel=5, complib=complib)
    name = complib.split(":")[0]
    where = "df/axis0" if fmt == "fixed" else "df/table"
    for argv in (("train", path, "--x", "df", "--label-column", "label", "-o", tmp_path / "m.h5"),
                 ("info", path)):
        status, out, err = cli(*argv)
        problem = f"HDF5 filter {code} ({name}) is not available here, so the data cannot be decompressed"
        if argv[0] == "train":
            assert (status, out) == (2, "")
            assert err.startswith(f"sgdcli: error: {path}:{where}: {problem}; install its plugin"), err
            assert err.count("\n") == 1
        else:
            assert status == 0 and f"{where.split('/')[1]}: unreadable ({problem}" in out


def test_a_column_group_compressed_with_a_filter_hdf5_lacks_names_it(tmp_path):
    tables = need("tables")
    if h5py.h5z.filter_avail(32001):
        pytest.skip("HDF5 filter 32001 (blosc) is available here")
    path = str(tmp_path / "g.h5")
    X, y = make_problem("binary", n=300, d=2)
    with tables.open_file(path, "w") as f:
        g = f.create_group("/", "cols")
        for j in range(2):
            f.create_carray(g, f"c{j}", obj=X[:, j], filters=tables.Filters(complevel=5, complib="blosc"))
        f.create_array("/", "y", obj=y)
    status, out, err = cli("train", path, "--x", "cols", "-o", tmp_path / "m.h5")
    assert (status, err.split("; install")[0]) == (
        2, f"sgdcli: error: {path}:cols/c0: HDF5 filter 32001 (blosc) is not available here, so the data cannot be "
           "decompressed")


def _mat(tmp_path):
    """X (200 × 3) and its labels, as hdf5storage and MATLAB write them."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    return X, X[:, 0] - 2 * X[:, 1] > 0


@pytest.mark.parametrize("names", [("F", "M"), ("no", "yes")])
def test_matlab_char_labels_are_read_as_names(tmp_path, names):
    """MATLAB's char labels were trained on as their UTF-16 codes (classes 70, 77), and names of more than one
    character as N·k rows ("has 600 rows but X has 200")."""
    hdf5storage = need("hdf5storage")
    X, y = _mat(tmp_path)
    width = max(map(len, names))
    labels = np.array([names[int(v)].ljust(width) for v in y])  # MATLAB pads a char matrix with spaces
    path = str(tmp_path / "c.mat")
    hdf5storage.savemat(path, {"X": X, "y": labels}, format="7.3")
    assert [s.rstrip() for s in np.asarray(hdf5storage.loadmat(path)["y"]).reshape(-1)] == [names[int(v)] for v in y]
    matlab = str(tmp_path / "matlab.mat")  # MATLAB's own layout of an N × k char matrix: HDF5 k × N, uint16
    with h5py.File(matlab, "w", userblock_size=512) as f:
        f["X"] = X.T
        f["X"].attrs["MATLAB_class"] = np.bytes_("double")
        codes = np.array([[ord(c) for c in s] for s in labels], dtype=np.uint16)
        f["y"] = codes.T
        f["y"].attrs["MATLAB_class"] = np.bytes_("char")
    for data in (path, matlab):
        code, out, err = cli("train", data, "-o", tmp_path / "m.h5", "-q")
        assert code == 0, err
        assert cli("show", tmp_path / "m.h5")[1].splitlines()[2] == f"classes      {names[0]}, {names[1]}"
        code, out, err = cli("predict", tmp_path / "m.h5", data, "-o", "-")
        predicted = out.splitlines()
        assert predicted[0] == "prediction" and set(predicted[1:]) == set(names)
        assert np.mean(np.array(predicted[1:]) == np.array([names[int(v)] for v in y])) > 0.9


def test_matlab_arrays_sgdcli_does_not_read_are_named(tmp_path):
    hdf5storage = need("hdf5storage")
    sparse = need("scipy.sparse")
    X, y = _mat(tmp_path)
    hdf5storage.savemat(str(tmp_path / "cell.mat"), {"X": X, "y": np.array(["yes" if v else "no" for v in y],
                                                                             dtype=object)}, format="7.3")
    hdf5storage.savemat(str(tmp_path / "empty.mat"), {"X": np.zeros((0, 3)), "y": np.zeros(0)}, format="7.3")
    S = sparse.csc_matrix(np.where(np.abs(X) > 0.5, X, 0))  # MATLAB's own layout of a sparse matrix
    with h5py.File(tmp_path / "sparse.mat", "w", userblock_size=512) as f:
        g = f.create_group("X")
        g.attrs["MATLAB_class"], g.attrs["MATLAB_sparse"] = np.bytes_("double"), np.uint64(200)
        g["data"], g["ir"], g["jc"] = S.data, S.indices.astype(np.uint64), S.indptr.astype(np.uint64)
        f["y"] = y.reshape(1, -1).astype(float)
        f["y"].attrs["MATLAB_class"] = np.bytes_("double")
    for name, message in (
            ("cell", "cell.mat:y: is a MATLAB cell array (each element a reference to another dataset), which sgdcli "
                     "does not read; save the labels as a numeric vector, or as a char matrix (char(y) in MATLAB)"),
            ("empty", "empty.mat:X: is an empty MATLAB array (0 × 3): it has no rows"),
            ("sparse", "sparse.mat:X: is a MATLAB sparse matrix (data, ir, jc: stored by columns), which sgdcli does "
                       "not read; save it full (full(X)) or write it as a CSR matrix (scipy: csc_matrix((data, ir, "
                       "jc)).tocsr(), docs/sparse.md)")):
        code, out, err = cli("train", tmp_path / f"{name}.mat", "-o", tmp_path / "m.h5")
        assert (code, out, err) == (2, "", f"sgdcli: error: {tmp_path}/{message}\n")


def test_a_matlab_matrix_of_observations_as_columns_names_the_automatic_transpose(tmp_path):
    """The Neural Network Toolbox's d × N: read transposed as every MATLAB dataset is, X had 3 rows; the error
    did not say why, and --transpose, which was passed over, is refused, saying the matrix is read transposed
    already."""
    hdf5storage = need("hdf5storage")
    X, y = _mat(tmp_path)
    path = str(tmp_path / "nn.mat")
    hdf5storage.savemat(path, {"X": X.T.copy(), "y": y.reshape(1, -1).astype(float)}, format="7.3")
    message = (f"sgdcli: error: {path}:y: has 200 rows but X has 3: X is a MATLAB matrix (MATLAB_class), read "
               "transposed as MATLAB holds it, 3 × 200 with one observation per row, and it is its 200 columns that "
               "fit y (observations as columns, d × N; --transpose does not undo the automatic one): save it with "
               "one observation per row (X = X.' in MATLAB before save -v7.3)\n")
    assert cli("train", path, "-o", tmp_path / "m.h5") == (2, "", message)
    assert cli("train", path, "-o", tmp_path / "m.h5", "--transpose") == (
        2, "", f"sgdcli: error: --transpose: {path}:X is a MATLAB matrix, read transposed already (MATLAB stores by "
               "columns); it applies to a 2-D matrix stored features × rows\n")
    hdf5storage.savemat(path, {"X": X, "y": y.reshape(1, -1).astype(float)}, format="7.3")  # as the message says
    assert cli("train", path, "-o", tmp_path / "m.h5", "-q")[0] == 0


def test_a_netcdf_x_whose_rows_are_its_second_dimension_says_to_transpose(tmp_path):
    xr = need("xarray")
    need("h5netcdf")
    X, y = _mat(tmp_path)
    path = str(tmp_path / "fs.nc")
    xr.Dataset({"X": (("feature", "sample"), X.T), "y": (("sample",), y.astype("i1"))}).to_netcdf(
        path, engine="h5netcdf")
    message = f"{path}:y: has 200 rows but X has 3: X's rows are its 2nd dimension (sample, as y's): use --transpose"
    assert cli("train", path, "-o", tmp_path / "m.h5") == (2, "", f"sgdcli: error: {message}\n")
    assert f"not trainable as they are: {message}" in cli("info", path)[1]
    assert cli("train", path, "-o", tmp_path / "m.h5", "-q", "--transpose")[0] == 0
    with h5py.File(tmp_path / "plain.h5", "w") as f:  # no dimensions: the columns that fit are named
        f["X"], f["y"] = X.T, y
    assert cli("train", tmp_path / "plain.h5", "-o", tmp_path / "m.h5")[2] == (
        f"sgdcli: error: {tmp_path}/plain.h5:y: has 200 rows but X has 3; X has 200 columns: if it is stored "
        "features × rows, use --transpose\n")


def test_hdf5_enum_labels_are_read_as_their_names(tmp_path):
    """An enum's names were left out: classes 0, 1 and predictions 0/1 for labels stored as cat and dog."""
    X, y = make_problem("multiclass", n=600, d=3, k=3, seed=2)
    kinds = {"cat": 0, "dog": 1, "eel": 7}
    values = np.array([0, 1, 7])[y]
    with h5py.File(tmp_path / "e.h5", "w") as f:
        f["X"] = X
        f.create_dataset("y", data=values.astype("i1"), dtype=h5py.enum_dtype(kinds, basetype="i1"))
        f.create_dataset("bad", data=np.where(np.arange(600) == 5, 3, values).astype("i1"),
                         dtype=h5py.enum_dtype(kinds, basetype="i1"))
        f["flag"] = values > 0  # h5py's bools are an enum of FALSE and TRUE: bool classes, not names
        f.create_dataset("text", data=np.array(["cat", "dog", "eel"], dtype=object)[y], dtype=h5py.string_dtype())
    path = str(tmp_path / "e.h5")
    code, out, err = cli("train", path, "--model", "softmax", "-o", tmp_path / "m.h5", "-q")
    assert code == 0, err
    assert cli("show", tmp_path / "m.h5")[1].splitlines()[2] == "classes      cat, dog, eel"
    out = cli("predict", tmp_path / "m.h5", path, "-o", "-")[1].splitlines()
    assert cli("train", path, "--y", "text", "--model", "softmax", "-o", tmp_path / "t.h5", "-q")[0] == 0
    assert out == cli("predict", tmp_path / "t.h5", path, "-o", "-")[1].splitlines()  # as the same names as text
    assert out[0] == "prediction" and set(out[1:]) == {"cat", "dog", "eel"}
    code, out, err = cli("train", path, "--y", "bad", "--model", "softmax", "-o", tmp_path / "m.h5")
    assert (code, err) == (2, f"sgdcli: error: {path}:bad: holds 3, a value its enum type does not name (cat = 0, "
                              "dog = 1, eel = 7)\n")
    code, out, err = cli("train", path, "--y", "flag", "-o", tmp_path / "m.h5", "-q")
    assert code == 0 and cli("show", tmp_path / "m.h5")[1].splitlines()[2] == "classes      False, True"


def test_info_lists_a_dataset_behind_a_link_under_the_links_name(tmp_path):
    """A link X to /d/X of another file was listed as d/X, the target's path, where docs/data.md says the
    link's name."""
    with h5py.File(tmp_path / "data.h5", "w") as f:
        f["d/X"], f["d/y"] = np.zeros((20, 5), dtype=np.float32), np.zeros(20)
    with h5py.File(tmp_path / "links.h5", "w") as f:
        f["X"], f["labels"] = h5py.ExternalLink("data.h5", "/d/X"), h5py.ExternalLink("data.h5", "/d/y")
        f["alias"] = h5py.SoftLink("/X")
    code, out, err = cli("info", tmp_path / "links.h5")
    names = [line.split(":")[0].strip() for line in out.splitlines()[1:4]]
    assert code == 0 and names == ["X", "alias", "labels"], out
    assert out.splitlines()[3].endswith("; a link to /d/y in data.h5")
    import json
    listed = json.loads(cli("info", tmp_path / "links.h5", "--json")[1])["datasets"]
    assert [(d["path"], d["link"]) for d in listed] == [("X", "/d/X in data.h5"), ("alias", "/X"),
                                                       ("labels", "/d/y in data.h5")]


@pytest.mark.parametrize("writer", ["h5py", "PyTables"])
def test_an_enum_field_of_a_compound_table_is_read_as_its_names(tmp_path, writer):
    """A compound table's enum field as --label-column trained as its integer codes (classes 0, 1, 7) where an
    enum --y dataset trains as its names: train, evaluate and predict read its names, as for the dataset."""
    X, y = make_problem("multiclass", n=600, d=3, k=3, seed=2)
    kinds = {"cat": 0, "dog": 1, "eel": 7}
    values = np.array([0, 1, 7])[y]
    path = str(tmp_path / "t.h5")
    if writer == "h5py":  # a NumPy structured array
        rows = np.empty(len(y), dtype=[("a", "f4"), ("b", "f4"), ("c", "f4"),
                                       ("kind", h5py.enum_dtype(kinds, basetype="u1"))])
        rows["a"], rows["b"], rows["c"], rows["kind"] = *X.T, values
        with h5py.File(path, "w") as f:
            f.create_dataset("table", data=rows, chunks=(100,))
            f.create_dataset("y", data=values.astype("u1"), dtype=h5py.enum_dtype(kinds, basetype="u1"))
    else:
        tables = need("tables")
        enum = tables.Enum(kinds)

        class Row(tables.IsDescription):
            a, b, c = tables.Float32Col(pos=0), tables.Float32Col(pos=1), tables.Float32Col(pos=2)
            kind = tables.EnumCol(enum, "cat", base="uint8", pos=3)

        with tables.open_file(path, "w") as h5:
            table = h5.create_table("/", "table", Row)
            table.append([(*X[i], values[i]) for i in range(len(y))])
            h5.create_array("/", "y", values.astype("u1"))  # (numbers: the enum's type is the field's alone)
    with h5py.File(path) as f:
        assert h5py.check_enum_dtype(f["table"].dtype["kind"]) == kinds
    model = tmp_path / "m.h5"
    code, out, err = cli("train", path, "--x", "table", "--label-column", "kind", "--model", "softmax", "-o", model,
                         "-q")
    assert code == 0, err
    assert cli("show", model)[1].splitlines()[2] == "classes      cat, dog, eel"
    with h5py.File(tmp_path / "text.h5", "w") as f:  # the same names as text
        f["X"] = X
        f.create_dataset("y", data=np.array(list(kinds))[y].astype(object), dtype=h5py.string_dtype())
    code, out, err = cli("evaluate", model, path, "--x", "table", "--label-column", "kind")
    assert code == 0 and out == cli("evaluate", model, tmp_path / "text.h5")[1], err  # the names matched
    assert float(out.splitlines()[1].split()[1]) > 0.7  # accuracy (a third by chance)
    predicted = cli("predict", model, path, "--x", "table", "--label-column", "kind", "-o", "-")[1].splitlines()
    assert predicted[0] == "prediction" and set(predicted[1:]) == {"cat", "dog", "eel"}
    assert predicted == cli("predict", model, tmp_path / "text.h5", "-o", "-")[1].splitlines()


def test_predict_checks_no_label_column_against_the_model(tmp_path):
    """predict leaves a --label-column out of the features and scores nothing against it: a model that took an
    enum field's codes for its classes (trained before such fields were read as names) still predicts on the
    table, and a value of the field that the enum does not name (which evaluate refuses) does not stop it."""
    X, y = make_problem("binary", n=300, d=2, seed=3)
    rows = np.empty(len(y), dtype=[("a", "f4"), ("b", "f4"), ("kind", h5py.enum_dtype({"no": 0, "yes": 1},
                                                                                        basetype="i1"))])
    rows["a"], rows["b"], rows["kind"] = *X.T, y
    path, bad = tmp_path / "t.h5", tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f["table"] = rows
        f["X"], f["y"] = X, y  # the codes as numbers: what such a model was trained on
    rows["kind"][10] = 5  # named by no member of the enum
    with h5py.File(bad, "w") as f:
        f["table"] = rows
    read = ["--x", "table", "--label-column", "kind"]
    assert cli("train", path, "-o", tmp_path / "numbers.h5", "-q")[0] == 0
    assert cli("train", path, *read, "-o", tmp_path / "names.h5", "-q")[0] == 0
    code, out, err = cli("predict", tmp_path / "numbers.h5", path, *read, "-o", "-")
    assert (code, out) == (0, cli("predict", tmp_path / "numbers.h5", path, "-o", "-")[1]), err
    assert cli("evaluate", tmp_path / "names.h5", bad, *read)[0] == 2
    code, out, err = cli("predict", tmp_path / "names.h5", bad, *read, "-o", "-")
    assert (code, out) == (0, cli("predict", tmp_path / "names.h5", path, *read, "-o", "-")[1]), err


def test_transpose_of_a_frame_a_table_or_columns_is_refused_and_of_a_matrix_of_rows_says_to_drop_it(tmp_path):
    """--transpose was passed over for a pandas frame, a compound table and a group of columns, whose rows are
    their elements; on a matrix stored rows × features, the row count's error did not name it."""
    pd = need("pandas")
    X, y = _mat(tmp_path)
    y = y.astype(np.float64)
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(label=y)
    frame.to_hdf(tmp_path / "df.h5", key="df")
    rows = np.zeros(len(y), dtype=[("a", "f8"), ("label", "f8")])
    with h5py.File(tmp_path / "t.h5", "w") as f:
        f["T"], f["cols/a"], f["cols/b"], f["y"] = rows, X[:, 0], X[:, 1], y
        f["X"] = X
    for path, x, what in ((tmp_path / "df.h5", ["--x", "df", "--label-column", "label"], "a pandas frame"),
                          (tmp_path / "t.h5", ["--x", "T", "--label-column", "label"], "a table, one row per element"),
                          (tmp_path / "t.h5", ["--x", "cols"], "a group of columns")):
        assert cli("train", path, *x, "--transpose", "-o", tmp_path / "m.h5") == (
            2, "", f"sgdcli: error: --transpose: {path}:{x[1]} is {what}; it applies to a 2-D matrix stored features "
                   "× rows\n")
    assert cli("train", tmp_path / "t.h5", "--transpose", "-o", tmp_path / "m.h5") == (
        2, "", f"sgdcli: error: {tmp_path / 't.h5'}:y: has 200 rows but X has 3; X is stored 200 × 3, its rows "
               "first: drop --transpose (which applies to every file the command reads, --val's too)\n")
    assert not (tmp_path / "m.h5").exists()


def test_predict_on_a_matrix_stored_the_other_way_round_says_which_transpose(tmp_path):
    """evaluate's row count said "if it is stored features × rows, use --transpose"; predict, which reads no
    labels, said only that the feature counts differ."""
    X, y = _mat(tmp_path)
    with h5py.File(tmp_path / "rows.h5", "w") as f, h5py.File(tmp_path / "cols.h5", "w") as g:
        f["X"], f["y"], g["X"] = X, y, X.T
    assert cli("train", tmp_path / "rows.h5", "-o", tmp_path / "m.h5", "-q", "--epochs", "1")[0] == 0
    for data, args, said in (("cols.h5", [], "if it is stored features × rows, use --transpose"),
                             ("rows.h5", ["--transpose"], "if it is stored rows × features, drop --transpose")):
        assert cli("predict", tmp_path / "m.h5", tmp_path / data, *args, "-o", "-") == (
            2, "", f"sgdcli: error: {tmp_path / data}:X: has 200 features but the model was trained on 3; it has 3 "
                   f"rows as read: {said}\n")


def test_info_and_a_missing_x_suggest_the_labels_of_columns_and_of_a_matrix_named_so(tmp_path):
    """A group of columns was told "--y <labels dataset>" and its label column counted as a feature; xarray's
    variables in the file's root, and a matrix beside labels named otherwise than y, were suggested nothing;
    a model given as data was listed as a file of datasets.  Each suggestion now names what trains."""
    xr = need("xarray")
    need("h5netcdf")
    X, y = make_problem("binary", n=400, d=3, seed=2)
    with h5py.File(tmp_path / "group.h5", "w") as f:
        for j in range(3):
            f[f"cols/c{j}"] = X[:, j]
        f["cols/label"] = y
    with h5py.File(tmp_path / "beside.h5", "w") as f:
        for j in range(3):
            f[f"cols/c{j}"] = X[:, j]
        f["target"], f["w"] = y, np.ones(len(y))
    xr.Dataset({**{f"f{j}": ("row", X[:, j]) for j in range(3)}, "label": ("row", y)}).to_netcdf(
        tmp_path / "root.nc", engine="h5netcdf")
    xr.Dataset({"X": (("row", "feature"), X), "label": ("row", y)}, coords={"feature": ["a", "b", "c"]}).to_netcdf(
        tmp_path / "matrix.nc", engine="h5netcdf")
    with h5py.File(tmp_path / "sklearn.h5", "w") as f:
        f["data"], f["target"] = X, y
    expected = {"group.h5": ("a group of columns", "--x cols --label-column label", "X"),
                "beside.h5": ("a group of columns", "--x cols --y target", "X"),
                "root.nc": ("a group of columns", "--x / --label-column label", "X"),
                "matrix.nc": ("a feature matrix", "--x X --y label", "y"),
                "sklearn.h5": ("a feature matrix", "--x data --y target", "X")}
    for name, (kind, options, missing) in expected.items():
        path = tmp_path / name
        code, out, err = cli("info", path)
        assert code == 0 and f"looks like {kind}: train with {options}\n  " in out, out
        assert " × 3 features (" in out.split(options)[1].splitlines()[1], out
        code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "-q")
        no = "dataset" if missing == "y" else "dataset or group"
        assert (code, err) == (2, f"sgdcli: error: {path}:{missing}: no such {no}; this looks like {kind}: try "
                                  f"{options}\n"), err
        code, _, err = cli("train", path, *options.split(), "-o", tmp_path / "m.h5", "-q")
        assert code == 0, err
        assert json.loads(cli("show", tmp_path / "m.h5", "--json")[1])["features"] == 3  # the label is no feature
    code, _, err = cli("train", tmp_path / "m.h5", "-o", tmp_path / "again.h5")
    assert (code, err) == (2, f"sgdcli: error: {tmp_path / 'm.h5'}:X: no such dataset or group; it is an sgdcli "
                              "model, not a data file\n"), err
    assert cli("info", tmp_path / "m.h5")[1].endswith("\nlooks like an sgdcli model\n")
    with h5py.File(tmp_path / "csc.h5", "w") as f:  # a CSC matrix's 1-D parts are no group of columns
        g = f.create_group("X")
        g.attrs.update({"encoding-type": "csc_matrix", "shape": (4, 2)})
        g["data"], g["indices"], g["indptr"], f["y"] = [1.0, 2.0], [0, 3], [0, 1, 2], [0, 1, 0, 1]
    code, out, _ = cli("info", tmp_path / "csc.h5")
    assert code == 0 and "looks like" not in out and out.endswith(
        f"X, y: not trainable as they are: {tmp_path / 'csc.h5'}:X: is a sparse matrix stored by columns (csc_matrix); "
        "sgdcli reads sparse matrices stored by rows: write it as a csr_matrix (scipy's .tocsr())\n"), out
