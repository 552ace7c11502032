"""sgdcli convert: CSV/TSV, LIBSVM and .npy into HDF5 that trains exactly like the same data written directly."""

import json
import os

import h5py
import numpy as np
import pytest

from conftest import RSS_SAMPLER, cli, make_problem, without, write_table


def write_csv(path, X, y, delimiter=",", header=True, label_at=None):
    """X as float32 values written exactly (repr of each float), the label at column ``label_at``."""
    d = X.shape[1]
    label_at = d if label_at is None else label_at
    with open(path, "w") as fh:
        if header:
            names = [f"f{j}" for j in range(d)]
            names.insert(label_at, "label")
            fh.write(delimiter.join(names) + "\n")
        for row, target in zip(X, y):
            fields = [repr(float(v)) for v in row]
            fields.insert(label_at, str(int(target)))
            fh.write(delimiter.join(fields) + "\n")
    return str(path)


def metrics(model, data):
    code, out, err = cli("evaluate", model, data, "--json")
    assert code == 0, err
    return json.loads(out)


def test_csv_round_trip_trains_like_the_same_data_written_directly(tmp_path):
    X, y = make_problem("binary", n=3000, d=5, seed=3)
    csv_path = write_csv(tmp_path / "d.csv", X, y, label_at=2)
    code, out, err = cli("convert", csv_path, "-o", tmp_path / "c.h5", "--label-column", "label", "--engine", "python")
    assert code == 0, err
    assert out.strip() == f"wrote {tmp_path / 'c.h5'}: 3000 rows × 5 features from csv"
    direct = write_table(tmp_path / "direct.h5", X, y)
    for data, model in ((tmp_path / "c.h5", tmp_path / "mc.h5"), (direct, tmp_path / "md.h5")):
        assert cli("train", data, "-o", model, "-q", "--epochs", "2", "--standardize")[0] == 0
    assert metrics(tmp_path / "mc.h5", tmp_path / "c.h5") == metrics(tmp_path / "md.h5", direct)
    with h5py.File(tmp_path / "c.h5") as f, h5py.File(tmp_path / "mc.h5") as m, h5py.File(tmp_path / "md.h5") as n:
        assert np.array_equal(f["X"][()], X) and np.array_equal(f["y"][()], y)
        assert list(f["X"].attrs["feature_names"]) == ["f0", "f1", "f2", "f3", "f4"]
        assert np.array_equal(m["weights"][()], n["weights"][()])


def test_auto_reads_csv_with_the_tokenizer_even_where_pyarrow_is_installed(tmp_path):
    pytest.importorskip("pyarrow")
    X, y = make_problem("binary", n=200, d=3, seed=2)
    path = write_csv(tmp_path / "d.csv", X, y)
    code, out, err = cli("convert", path, "-o", tmp_path / "d.h5")
    assert (code, out.strip()) == (0, f"wrote {tmp_path / 'd.h5'}: 200 rows × 3 features from csv"), err


@pytest.mark.parametrize("header,label_at,delimiter", [(True, 2, ","), (False, 0, "\t"), (True, 5, ";")])
def test_pyarrow_reads_exactly_what_the_plain_reader_reads(tmp_path, header, label_at, delimiter):
    pytest.importorskip("pyarrow")
    X, y = make_problem("binary", n=5000, d=5, seed=6)
    path = write_csv(tmp_path / "d.csv", X, y, delimiter=delimiter, header=header, label_at=label_at)
    label = "label" if header else str(label_at)
    code, out, err = cli("convert", path, "-o", tmp_path / "a.h5", "--label-column", label, "--engine", "pyarrow")
    assert code == 0, err
    assert out.strip() == f"wrote {tmp_path / 'a.h5'}: 5000 rows × 5 features from csv (read by pyarrow)"
    assert cli("convert", path, "-o", tmp_path / "p.h5", "--label-column", label, "--engine", "python")[0] == 0
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "p.h5") as p:
        for name in ("X", "y"):
            assert np.array_equal(a[name][()], p[name][()])
        assert a["X"].attrs.get("feature_names") is None or list(a["X"].attrs["feature_names"]) == list(p["X"].attrs["feature_names"])


@pytest.mark.parametrize("args,option", [
    (["--ignore", "a"], "--ignore"), (["--columns", "a"], "--columns"), (["--weight-column", "a"], "--weight-column"),
    (["--categorical", "a"], "--categorical"), (["--bad-rows", "skip"], "--bad-rows skip"),
    (["--hash-bits", "4"], "--hash-bits"), (["--decimal", ","], "--decimal ,"), (["--thousands", "_"], "--thousands"),
    (["--na-values", "-999"], "--na-values with a number"),
    (["--missing", "zero", "--missing-indicator"], "--missing-indicator"),  # was an internal error
])
def test_an_explicit_pyarrow_engine_that_an_option_keeps_from_the_file_is_refused_naming_it(tmp_path, args, option):
    """It was replaced by the tokenizer without a word (only the missing "(read by pyarrow)" told); auto still
    chooses freely, and options pyarrow can apply still take it."""
    pytest.importorskip("pyarrow")
    path = tmp_path / "d.csv"
    path.write_text("a;b;label\n1;2;0\n3;4;1\n5;6;0\n")  # (';': a decimal comma is never the delimiter)
    code, out, err = cli("convert", path, "-o", tmp_path / "o.h5", "--engine", "pyarrow", *args)
    assert (code, out, err) == (2, "", f"sgdcli: error: --engine pyarrow: pyarrow's reader cannot apply {option}; "
                                       "leave out one of them (--engine auto reads with sgdcli's tokenizer)\n")
    assert not (tmp_path / "o.h5").exists()
    assert cli("convert", path, "-o", tmp_path / "o.h5", *args)[0] == 0
    code, out, err = cli("convert", path, "-o", tmp_path / "o.h5", "--engine", "pyarrow", "--na-values", "?",
                         "--missing", "mean", "--max-categories", "3", "--sparse")
    assert (code, out) == (0, f"wrote {tmp_path / 'o.h5'}: 3 rows × 2 features from csv, sparse (CSR) (read by "
                              "pyarrow)\n"), err


def test_an_explicit_pyarrow_engine_is_refused_for_input_that_is_not_csv(tmp_path):
    pytest.importorskip("pyarrow")
    (tmp_path / "d.svm").write_text("1 1:2\n0 2:1\n")
    assert cli("convert", tmp_path / "d.svm", "-o", tmp_path / "o.h5", "--engine", "pyarrow") == (
        2, "", f"sgdcli: error: --engine pyarrow: reads CSV/TSV text; {tmp_path / 'd.svm'} is read as libsvm\n")


def test_pyarrow_gives_way_to_the_plain_reader_at_a_bad_field(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "bad.csv"
    path.write_text("a,b,label\n1,2,0\n3,x,1\n")
    code, out, err = cli("convert", path, "-o", tmp_path / "o.h5")  # auto: pyarrow, then the plain reader's message
    assert (code, out) == (2, "")
    assert err.strip() == (f"sgdcli: error: {path}: line 3, column 2 (b): cannot read 'x' as a number (declare the "
                           "column with --categorical b, or leave it out with --ignore b; --bad-rows skip leaves such "
                           "rows out)")
    assert not (tmp_path / "o.h5").exists()


@pytest.mark.parametrize("field,args,missing", [
    ("nan", [], True), ("inf", ["--na-values", "inf"], True), ("-Infinity", ["--na-values", "-Infinity,NA"], True),
    ("inf", [], False), ("NaN", ["--na-values", "?"], False),
])
def test_pyarrow_writes_the_file_of_the_plain_reader_where_a_field_is_nan_or_infinite(tmp_path, field, args,
                                                                                      missing):
    """pyarrow reads nan and inf as numbers, where the plain reader reads those spelled as --na-values (nan by
    default) as missing: it wrote inf (or NaN) where the plain reader wrote a missing value's fill, exit 0.  It
    gives way at such a field, in the first block or a later one, and the files are the same."""
    pytest.importorskip("pyarrow")
    X, y = make_problem("binary", n=40_000, d=5, seed=2)  # about 3 MB: pyarrow reads blocks of 1 MiB
    for at in (3, 39_000):
        path = tmp_path / f"d{at}.csv"
        write_csv(path, X, y)
        lines = path.read_text().splitlines(keepends=True)
        fields = lines[at + 1].split(",")
        fields[2] = field
        lines[at + 1] = ",".join(fields)
        path.write_text("".join(lines))
        for engine in ("pyarrow", "python"):
            code, out, err = cli("convert", path, "-o", tmp_path / f"{engine}.h5", "--engine", engine,
                                 "--missing", "zero", *args)
            assert (code, out) == (0, f"wrote {tmp_path / f'{engine}.h5'}: 40000 rows × 5 features from csv\n"), err
        with h5py.File(tmp_path / "pyarrow.h5") as a, h5py.File(tmp_path / "python.h5") as p:
            assert np.array_equal(a["X"][()], p["X"][()], equal_nan=True) and np.array_equal(a["y"][()], p["y"][()])
            assert (p["X"][at, 2] == 0) == missing and (np.isfinite(p["X"][at, 2]) == missing)


def test_under_an_explicit_pyarrow_engine_a_hint_to_options_it_refuses_says_so(tmp_path):
    """The tokenizer's hints (--categorical, --ignore, --bad-rows skip) name options that --engine pyarrow
    refuses: the message says that they need the engine left out."""
    pytest.importorskip("pyarrow")
    (tmp_path / "s.csv").write_text("a,b,c,label\n1,2,x,0\n3,4,y,1\n")
    (tmp_path / "l.csv").write_text("a,b,label\n1,2,0\n3,4,\n")
    (tmp_path / "m.csv").write_text("a,b,label\n1,,0\n3,4,1\n")
    out = tmp_path / "o.h5"
    assert cli("convert", tmp_path / "s.csv", "-o", out, "--engine", "pyarrow") == (
        2, "", f"sgdcli: error: {tmp_path / 's.csv'}: line 2, column 3 (c): cannot read 'x' as a number (declare the "
               "column with --categorical c, or leave it out with --ignore c; --bad-rows skip leaves such rows out); "
               "under --engine pyarrow, which cannot apply --bad-rows skip, --ignore or --categorical, leave out "
               "--engine pyarrow to use them\n")
    assert cli("convert", tmp_path / "l.csv", "-o", out, "--engine", "pyarrow")[2] == (
        f"sgdcli: error: {tmp_path / 'l.csv'}: line 3, column 3 (label): missing label (--bad-rows skip leaves such "
        "rows out); under --engine pyarrow, which cannot apply --bad-rows skip, leave out --engine pyarrow to use "
        "them\n")
    # --missing, which pyarrow's engine takes: the tokenizer's message as it is, as without --engine
    assert cli("convert", tmp_path / "m.csv", "-o", out, "--engine", "pyarrow")[2] == cli(
        "convert", tmp_path / "m.csv", "-o", out)[2]
    assert not out.exists()


NO_PYARROW = without("pyarrow")


def test_without_pyarrow_auto_reads_plainly_and_pyarrow_says_how_to_install_it(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "d.csv"
    path.write_text("a,label\n1,0\n2,1\n")
    proc = subprocess.run([sys.executable, "-c", NO_PYARROW, "convert", str(path), "-o", str(tmp_path / "a.h5")],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("2 rows × 1 feature from csv"), proc.stderr
    proc = subprocess.run([sys.executable, "-c", NO_PYARROW, "convert", str(path), "-o", str(tmp_path / "b.h5"),
                           "--engine", "pyarrow"], capture_output=True, text=True)
    assert proc.returncode == 2  # as every missing extra (it was 1, where --dask's was 2)
    assert proc.stderr.strip() == ("sgdcli: error: --engine pyarrow needs pyarrow, which is not installed: "
                                   "run .venv/bin/pip install -e '.[fast-csv]' in the sgdcli checkout")


@pytest.mark.parametrize("delimiter,name", [("\t", "d.tsv"), (";", "d.csv"), ("|", "d.txt"), (" ", "s.csv")])
def test_delimiters_headerless_files_and_label_by_index(tmp_path, delimiter, name):
    X, y = make_problem("binary", n=50, d=3, seed=4)
    path = write_csv(tmp_path / name, X, y, delimiter=delimiter, header=False, label_at=0)
    extra = ["--format", "csv"] if name.endswith(".txt") else []
    code, _, err = cli("convert", path, "-o", tmp_path / "o.h5", "--label-column", "0", *extra)
    assert code == 0, err
    with h5py.File(tmp_path / "o.h5") as f:
        assert np.array_equal(f["X"][()], X) and np.array_equal(f["y"][()], y)
        assert "feature_names" not in f["X"].attrs


def test_a_quote_before_a_space_does_not_make_the_space_the_delimiter(tmp_path):
    """csv.Sniffer guesses from '"1" ,' that a space splits the fields; every line splits into three at the
    comma, and into different numbers at the space."""
    path = tmp_path / "q.csv"
    path.write_text('a,b,label\n"1" ,2,0\n"3" ,4,1\n"5" ,6,0\n')
    code, _, err = cli("convert", path, "-o", tmp_path / "o.h5", "--label-column", "label")
    assert code == 0, err
    with h5py.File(tmp_path / "o.h5") as f:
        assert f["X"][()].tolist() == [[1, 2], [3, 4], [5, 6]] and f["y"][()].tolist() == [0, 1, 0]


def test_columns_separated_by_runs_of_spaces_are_named_as_such(tmp_path):
    """Aligned columns (printf's %8.3f): no delimiter splits every line alike, and the message was about the
    columns left ("no feature columns left")."""
    path = tmp_path / "aligned.txt"
    path.write_text("a b label\n1  2 0\n3 4 1\n5 6 0\n")
    code, out, err = cli("convert", path, "-o", tmp_path / "o.h5", "--format", "csv")
    assert (code, out, err) == (2, "", f"sgdcli: error: {path}: the columns are separated by runs of spaces, which "
                                       "sgdcli does not split on; squeeze each run to one space and drop the spaces "
                                       "that start or end lines first (sed -E 's/^ +| +$//g; s/ +/ /g' < in > out)\n")
    path.write_text("a b label\n1 2 0\n3 4 1\n5 6 0\n")
    assert cli("convert", path, "-o", tmp_path / "o.h5", "--format", "csv")[0] == 0


def test_bad_fields_name_the_line_and_column_or_are_skipped(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,label\n1,2,0\n3,oops,1\n4,5\n6,7,1\n")
    code, out, err = cli("convert", path, "-o", tmp_path / "o.h5")
    assert (code, out) == (2, "")
    assert err.strip() == (f"sgdcli: error: {path}: line 3, column 2 (b): cannot read 'oops' as a number (declare "
                           "the column with --categorical b, or leave it out with --ignore b; --bad-rows skip leaves "
                           "such rows out)")
    assert not (tmp_path / "o.h5").exists()
    code, out, err = cli("convert", path, "-o", tmp_path / "o.h5", "--bad-rows", "skip")
    assert code == 0, err
    assert err.strip() == ("sgdcli: left out 2 rows that could not be read (a field that is not a number, a value "
                           "beyond X's --dtype, a missing label; or a missing value, with --missing skip)")
    with h5py.File(tmp_path / "o.h5") as f:
        assert f["X"][()].tolist() == [[1, 2], [6, 7]] and f["y"][()].tolist() == [0, 1]


def test_a_short_row_is_named(tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("1,2,0\n4,5\n")
    code, _, err = cli("convert", path, "-o", tmp_path / "o.h5")
    assert code == 2 and err.strip() == (f"sgdcli: error: {path}: line 2: 2 fields, expected 3 "
                                         "(--bad-rows skip leaves such rows out)")


def test_libsvm_dense_with_given_or_inferred_width(tmp_path):
    path = tmp_path / "d.svm"
    path.write_text("1 1:0.5 3:2 # a comment\n0 qid:3 2:-1\n\n1 4:7e-1\n")
    want = [[0.5, 0, 2, 0], [0, -1, 0, 0], [0, 0, 0, 0.7]]
    assert cli("convert", path, "-o", tmp_path / "a.h5", "--dense")[0] == 0
    assert cli("convert", path, "-o", tmp_path / "b.h5", "--dense", "--features", "6", "--dtype", "float64")[0] == 0
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        assert a["X"].dtype == np.float32 and np.allclose(a["X"][()], want) and a["y"][()].tolist() == [1, 0, 1]
        assert b["X"].dtype == np.float64 and b["X"].shape == (3, 6) and np.array_equal(b["X"][:, :4], want)
    for layout in ("--dense", "--sparse"):
        code, _, err = cli("convert", path, "-o", tmp_path / "c.h5", "--features", "3", layout)
        assert code == 2 and err.strip() == (f"sgdcli: error: {path}: line 4, token 2: feature index 4 is outside "
                                             "1..3 (--features 3) (--bad-rows skip leaves such rows out)")


def test_a_narrower_libsvm_test_file_says_to_convert_it_with_the_models_width(tmp_path):
    rng = np.random.default_rng(8)
    lines = [f"{i % 2} " + " ".join(f"{j}:{rng.random():.3f}" for j in sorted(rng.choice(20, 4, replace=False) + 1))
             for i in range(200)]
    (tmp_path / "train.svm").write_text("\n".join(lines + ["1 20:1"]) + "\n")
    (tmp_path / "test.svm").write_text("1 3:1 18:2\n0 1:1\n")
    assert cli("convert", tmp_path / "train.svm", "-o", tmp_path / "train.h5")[0] == 0
    assert cli("train", tmp_path / "train.h5", "-o", tmp_path / "m.h5", "-q")[0] == 0
    assert cli("convert", tmp_path / "test.svm", "-o", tmp_path / "test.h5")[0] == 0
    code, _, err = cli("evaluate", tmp_path / "m.h5", tmp_path / "test.h5")
    assert (code, err.strip()) == (2, f"sgdcli: error: {tmp_path / 'test.h5'}:X: has 18 features but the model was "
                                      "trained on 20; a LIBSVM file converted on its own is as wide as its largest "
                                      "index: convert it with --features 20")
    assert cli("convert", tmp_path / "test.svm", "-o", tmp_path / "test.h5", "--features", "20")[0] == 0
    assert cli("evaluate", tmp_path / "m.h5", tmp_path / "test.h5")[0] == 0
    with h5py.File(tmp_path / "test.h5", "a") as f:  # a CSR matrix another writer gave its shape: no LIBSVM here
        del f.attrs["converted_from"]
        f["X"].attrs["shape"] = (2, 18)
        del f["X/indptr"]
        f["X/indptr"] = [0, 2, 3]
    code, _, err = cli("evaluate", tmp_path / "m.h5", tmp_path / "test.h5")
    assert (code, err.strip()) == (2, f"sgdcli: error: {tmp_path / 'test.h5'}:X: has 18 features but the model was "
                                      "trained on 20"), err


def test_libsvm_written_by_scikit_learn_from_0_or_1_converts_to_its_matrix(tmp_path):
    """scikit-learn's dump_svmlight_file writes indices from 0 by default; such a file was refused at its first
    index 0 ("outside 1..any"), with no way to read it."""
    from sklearn.datasets import dump_svmlight_file

    rng = np.random.default_rng(2)
    X = np.round(rng.standard_normal((40, 5)), 3) * (rng.random((40, 5)) < 0.5)  # values the text holds exactly
    X[0, 0], X[:, 4] = 1.5, 0.0  # index 0 in the first row; the last column empty
    y = rng.integers(0, 2, 40)
    dump_svmlight_file(X, y, str(tmp_path / "zero.svm"))
    dump_svmlight_file(X, y, str(tmp_path / "one.svm"), zero_based=False)
    for name, args in (("zero.svm", ["--zero-based"]), ("one.svm", [])):
        for layout in ("--dense", "--sparse"):
            out = tmp_path / f"{name}{layout}.h5"
            code, _, err = cli("convert", tmp_path / name, "-o", out, layout, "--features", "5", "--dtype", "float64",
                               *args)
            assert code == 0, err
            with h5py.File(out) as f:
                if layout == "--dense":
                    matrix = f["X"][()]
                else:
                    g = f["X"]
                    matrix = np.zeros((40, 5))
                    for r in range(40):
                        a, b = g["indptr"][r], g["indptr"][r + 1]
                        matrix[r, g["indices"][a:b]] = g["data"][a:b]
                assert np.array_equal(matrix, X) and np.array_equal(f["y"][()], y)
    assert cli("convert", tmp_path / "zero.svm", "-o", tmp_path / "w.h5", "--zero-based", "--dense")[1].strip() == (
        f"wrote {tmp_path / 'w.h5'}: 40 rows × 4 features from libsvm")  # the width from the largest index
    said = (f"sgdcli: error: {tmp_path / 'zero.svm'}: line 1, token 2: feature index 0: LIBSVM indices start at 1, "
            "unless the file counts them from 0 (--zero-based reads such a file, as scikit-learn's dump_svmlight_file "
            "writes it by default; --bad-rows skip does not skip this row, which would read the others' columns "
            "shifted)\n")
    for layout in ("--sparse", "--dense"):  # skipping its rows kept the others, each read one column too low
        for skip in ([], ["--bad-rows", "skip"]):
            assert cli("convert", tmp_path / "zero.svm", "-o", tmp_path / "z.h5", layout, *skip) == (2, "", said)
            assert not (tmp_path / "z.h5").exists()
    for args, message in ((["--hash-bits", "4"], "; --hash-bits hashes them as text"), ([], "")):
        source = tmp_path / ("zero.svm" if args else "d.csv")
        source.exists() or source.write_text("a,b\n1,0\n")
        code, _, err = cli("convert", source, "-o", tmp_path / "z.h5", "--zero-based", *args)
        assert (code, err.strip()) == (2, "sgdcli: error: --zero-based applies to LIBSVM input whose indices are "
                                          f"columns{message}")


@pytest.mark.parametrize("name,args", [("d.svm", ["--dense"]), ("d.svm", ["--sparse"]), ("d.svm", ["--features", "3"]),
                                       ("d.vw", [])])
def test_libsvm_and_vw_text_that_is_not_utf8_says_so(tmp_path, name, args):
    """As CSV says it: --dense's first pass for the width (an internal error before) and the rows' pass alike."""
    path = tmp_path / name
    path.write_bytes(b"1 1:0.5 2:1\n0 1:1 3:\xff\n" if name.endswith(".svm") else b"1 | a:0.5 b\n0 | a \xff\n")
    code, out, err = cli("convert", path, "-o", tmp_path / "o.h5", *args)
    assert (code, out, err) == (2, "", f"sgdcli: error: {path}: not UTF-8 text (bytes b'\\xff': invalid start byte); "
                                       "convert it to UTF-8 first, e.g. iconv -f latin1 -t utf-8\n")
    assert not (tmp_path / "o.h5").exists()


def test_npy_with_labels_apart_or_in_a_column(tmp_path):
    X, y = make_problem("regression", n=200, d=4, seed=5)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "Xy.npy", np.column_stack([X, y]))
    assert cli("convert", tmp_path / "X.npy", "--y", tmp_path / "y.npy", "-o", tmp_path / "a.h5",
               "--chunk-rows", "64", "--compression", "gzip")[0] == 0
    assert cli("convert", tmp_path / "Xy.npy", "--label-column", "-1", "-o", tmp_path / "b.h5")[0] == 0
    np.save(tmp_path / "y1.npy", y[:, None])  # a column vector, as train reads y: it was refused
    assert cli("convert", tmp_path / "X.npy", "--y", tmp_path / "y1.npy", "-o", tmp_path / "c.h5")[0] == 0
    code, _, err = cli("convert", tmp_path / "X.npy", "--y", tmp_path / "Xy.npy", "-o", tmp_path / "d.h5")
    assert (code, err) == (2, f"sgdcli: error: {tmp_path / 'Xy.npy'}: expected 200 labels (1-D, or 200 × 1), got "
                              "shape (200, 5)\n")
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b, h5py.File(tmp_path / "c.h5") as c:
        assert np.array_equal(c["y"][()], y)
        assert np.array_equal(a["X"][()], X) and np.array_equal(a["y"][()], y)
        assert a["X"].chunks == (64, 4) and a["X"].compression == "gzip"
        assert np.array_equal(b["X"][()], X) and np.allclose(b["y"][()], y.astype(np.float32))


def test_npy_input_that_is_not_a_matrix_of_numbers_is_named(tmp_path):
    """An .npz archive (np.savez) where a .npy file goes, and a matrix without columns, were internal errors; a
    file that is not .npy at all (CSV given --format npy) was NumPy's "contains pickled (object) data. If you
    trust the file you can load it unsafely"."""
    X, y = make_problem("regression", n=100, d=3, seed=5)
    np.savez(tmp_path / "X.npz", X=X)
    write_csv(tmp_path / "X.csv", X, y)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "empty.npy", np.zeros((100, 0)))
    cases = {
        ("X.npz", "--format", "npy"): "X.npz: an .npz archive of arrays, not a .npy file; save the X array itself "
                                      "with np.save",
        ("empty.npy",): "empty.npy: expected a 2-D array of rows × features, none of them 0, got shape (100, 0)",
        ("X.csv", "--format", "npy"): "X.csv: is not a .npy file (it does not begin with NumPy's signature, "
                                      "\\x93NUMPY)",
    }
    for args, message in cases.items():
        code, out, err = cli("convert", tmp_path / args[0], *args[1:], "--y", tmp_path / "y.npy", "-o",
                             tmp_path / "o.h5")
        assert (code, err.strip()) == (2, f"sgdcli: error: {tmp_path / message}"), err
    assert not (tmp_path / "o.h5").exists()


def test_the_help_names_every_compression_read_and_no_label_default_for_npy():
    """--format listed .gz, .bz2, .xz, not .zst, which is read too; --label-column promised .npy input "the last
    column" by default, where a .npy without --y or --label-column is refused (test_usage_errors)."""
    from sgdcli.data.textfiles import COMPRESSIONS

    code, out, _ = cli("convert", "--help")
    text = " ".join(out.split())
    assert code == 0 and "text may be compressed: .gz, .bz2, .xz, .zst (with the [zst] extra)" in text
    assert all(suffix in text for suffix in COMPRESSIONS)
    assert "(or .npy without --y)" not in text and "A .npy without --y needs it: the label's INDEX." in text


@pytest.mark.parametrize("args,message", [
    (["data.parquet"], "data.parquet: no such file"),
    (["fifo"], "fifo: is a pipe (a FIFO, or a process substitution such as <(...)), not a regular file; convert reads "
               "its input more than once, so save it to a file first"),
    (["-"], "-: convert reads its input more than once, so not from standard input: save it to a file first"),
    (["{csv}", "--label-column", "price"], "--label-column: no column 'price' in the header (a, b, label)"),
    (["{csv}", "--label-column", "7"], "--label-column: index 7 is outside the 3 columns of {csv}"),
    (["{npy}"], "{npy}: give the labels with --y FILE.npy or --label-column INDEX"),
    (["{other}"], "{other}: cannot tell the format from the name; give --format (csv, tsv, libsvm, vw, npy)"),
    (["{twice}"], "{twice}: line 1: the header names column 'a' twice (columns 0 and 2); give the columns names of "
                  "their own"),
])
def test_usage_errors(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.csv").write_text("a,b,label\n1,2,0\n")
    np.save(tmp_path / "X.npy", np.zeros((3, 2)))
    (tmp_path / "d.parquet.txt").write_text("x")
    (tmp_path / "twice.csv").write_text("a,b,a,label\n1,2,3,0\n")
    os.mkfifo(tmp_path / "fifo")  # what <(...) gives: nothing writes it, and convert must not wait on it
    paths = {"csv": str(tmp_path / "d.csv"), "npy": str(tmp_path / "X.npy"), "other": str(tmp_path / "d.parquet.txt"),
             "twice": str(tmp_path / "twice.csv")}
    code, out, err = cli("convert", *[a.format(**paths) for a in args], "-o", tmp_path / "o.h5")
    assert (code, out) == (2, "")
    assert err.strip() == "sgdcli: error: " + message.format(**paths)


PEAK = RSS_SAMPLER + """
from sgdcli import convert
convert(sys.argv[1], sys.argv[2], block_rows=2048, engine=sys.argv[3])
time.sleep(0.02)
print(peak[0])
"""


@pytest.mark.parametrize("engine,sizes", [("python", (50_000, 200_000)), ("pyarrow", (200_000, 800_000))])
def test_memory_does_not_grow_with_the_input(tmp_path, engine, sizes):
    """Four times the rows take less extra memory than holding the extra rows of the smaller run would.

    pyarrow's allocations settle later (its peak stays near 95 MB from 800,000
    to 3,200,000 rows here), hence larger sizes for it.
    """
    import subprocess
    import sys

    if engine == "pyarrow":
        pytest.importorskip("pyarrow")
    rng = np.random.default_rng(0)
    peaks = []
    for rows in sizes:
        path = tmp_path / f"d{rows}.csv"
        X = rng.standard_normal((rows, 10)).astype(np.float32)
        np.savetxt(path, np.column_stack([X, rng.integers(0, 2, rows)]), delimiter=",", fmt="%.8g")
        out = subprocess.run([sys.executable, "-c", PEAK, str(path), str(tmp_path / f"d{rows}.h5"), engine],
                             capture_output=True, text=True, check=True)
        peaks.append(int(out.stdout.split()[-1]))
    held = (sizes[1] - sizes[0]) * 11 * 8  # the extra rows parsed to float64, if they were all held at once
    assert peaks[1] - peaks[0] < held, peaks


def test_csv_is_read_one_block_at_a_time(tmp_path):
    from sgdcli.data.csvcolumns import ColumnOptions
    from sgdcli.data.csvtext import csv_blocks, csv_layout, encoding_of

    path = tmp_path / "d.csv"
    np.savetxt(path, np.arange(30_000 * 3).reshape(30_000, 3), delimiter=",", fmt="%d")
    layout = csv_layout(str(path), None, False, None)  # (its first line, 0,1,2, would be taken for pandas' header)
    blocks = csv_blocks(str(path), layout, encoding_of(str(path), layout, ColumnOptions(), 1000), 1000, "error")
    X, y, skipped, _ = next(blocks)
    assert (X.shape, skipped) == ((1000, 2), 0)
    assert np.array_equal(y, np.arange(1000) * 3 + 2.0)
    assert sum(len(b[0]) for b in blocks) == 29_000  # the rest, block by block


@pytest.mark.parametrize("suffix,opener", [(".gz", "gzip"), (".bz2", "bz2"), (".xz", "lzma"),
                                           (".zst", "zstandard")])
def test_a_truncated_or_false_compressed_file_is_named_exit_2(tmp_path, suffix, opener):
    """A download cut short ended as "aborted", exit 130 (click took the decompressor's EOFError for Ctrl-D),
    and a file that is not what its suffix says was an internal error; convert and predict alike."""
    import importlib

    X, y = make_problem("binary", n=20000, d=4, seed=9)
    plain = write_csv(tmp_path / "d.csv", X, y)
    packed = tmp_path / f"d.csv{suffix}"
    with open(plain, "rb") as src, importlib.import_module(opener).open(packed, "wb") as dst:
        dst.write(src.read())
    whole = packed.read_bytes()
    assert cli("convert", packed, "-o", tmp_path / "m.h5")[0] == 0
    assert cli("train", tmp_path / "m.h5", "-o", tmp_path / "model.h5", "--epochs", "1", "-q")[0] == 0
    cut, false, short = (tmp_path / f"{name}.csv{suffix}" for name in ("cut", "false", "short"))
    cut.write_bytes(whole[:len(whole) // 2])
    false.write_bytes(b"a,b,label\n1,2,0\n")
    short.write_bytes(b"garbage")  # shorter than gzip's header: it was "a truncated .gz file?"
    cases = [(cut, f"ends before its compressed data does (a truncated {suffix} file?)"),
             (false, f"not readable as {suffix} data ("),
             (short, f"not readable as {suffix} data (")]
    header = tmp_path / f"header.csv{suffix}"  # cut inside the header: the signature, or its first bytes
    header.write_bytes(whole[:min(7, len(whole) - 1)])
    cases.append((header, f"ends before its compressed data does (a truncated {suffix} file?)"))
    for path, message in cases:
        for args in (["convert", path, "-o", tmp_path / "o.h5"], ["predict", tmp_path / "model.h5", path, "-o", "-"]):
            code, out, err = cli(*args)
            assert code == 2 and err.strip().splitlines()[-1].startswith(f"sgdcli: error: {path}: {message}"), err
    assert not (tmp_path / "o.h5").exists()
    if suffix == ".gz":  # what the decoder takes for a header cut short: no signature at all
        code, _, err = cli("convert", short, "-o", tmp_path / "o.h5")
        assert err == (f"sgdcli: error: {short}: not readable as .gz data (it does not begin with that compression's "
                       "signature)\n")


@pytest.mark.parametrize("suffix,opener", [(".gz", "gzip"), (".bz2", "bz2"), (".xz", "lzma"),
                                           (".zst", "zstandard")])
def test_compressed_input_is_read_as_a_stream_like_the_plain_file(tmp_path, suffix, opener):
    """pandas' compression="gzip" and the like: the format from the name without the suffix, the same file
    written, through the plain reader and pyarrow's alike (LIBSVM too)."""
    import importlib

    X, y = make_problem("binary", n=700, d=4, seed=9)
    plain = write_csv(tmp_path / "d.csv", X, y)
    packed = tmp_path / f"d.csv{suffix}"
    with open(plain, "rb") as src, importlib.import_module(opener).open(packed, "wb") as dst:
        dst.write(src.read())
    assert cli("convert", plain, "-o", tmp_path / "want.h5", "--engine", "python")[0] == 0
    for engine in ("python", "pyarrow"):
        code, out, err = cli("convert", packed, "-o", tmp_path / f"{engine}.h5", "--engine", engine)
        assert code == 0, err
        with h5py.File(tmp_path / "want.h5") as a, h5py.File(tmp_path / f"{engine}.h5") as b:
            assert np.array_equal(a["X"][()], b["X"][()]) and np.array_equal(a["y"][()], b["y"][()])
    svm = tmp_path / f"d.svm{suffix}"
    with importlib.import_module(opener).open(svm, "wt", encoding="utf-8") as fh:
        fh.write("1 1:0.5 3:2\n0 2:-1\n")
    code, out, err = cli("convert", svm, "-o", tmp_path / "s.h5")
    assert code == 0 and out.strip().endswith("2 rows × 3 features from libsvm, sparse (CSR)"), err


def test_zstandard_frames_are_read_one_after_another_and_a_cut_frame_is_refused(tmp_path):
    """The zstandard package's reader returned a cut file's text up to the cut with no error, so a download
    cut where a block ends converted into a shorter file; sgdcli reads the frames itself."""
    import zstandard

    text = "".join(f"{i},{i % 3},{i % 2}\n" for i in range(50_000)).encode()
    frames = [zstandard.ZstdCompressor(level=1).compress(part) for part in (b"a,b,label\n" + text[:300_000],
                                                                            text[300_000:])]
    (tmp_path / "d.csv.zst").write_bytes(b"".join(frames))  # what concatenating two .zst files gives
    code, out, err = cli("convert", tmp_path / "d.csv.zst", "-o", tmp_path / "d.h5")
    assert code == 0, err
    with h5py.File(tmp_path / "d.h5") as f:
        assert np.array_equal(f["y"][()], np.arange(50_000) % 2)
    packing = zstandard.ZstdCompressor().compressobj()  # a frame whose first block ends at a line's end
    head = packing.compress(b"a,b,label\n" + text[:300_000]) + packing.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    (tmp_path / "cut.csv.zst").write_bytes(head)  # the file cut where that block ends
    with zstandard.open(tmp_path / "cut.csv.zst", "rb") as fh:
        assert fh.read() == b"a,b,label\n" + text[:300_000]  # all the package's own reader sees: no error
    code, out, err = cli("convert", tmp_path / "cut.csv.zst", "-o", tmp_path / "cut.h5")
    assert (code, err.strip()) == (2, f"sgdcli: error: {tmp_path / 'cut.csv.zst'}: ends before its compressed data "
                                      "does (a truncated .zst file?)"), err
    assert not (tmp_path / "cut.h5").exists()


def test_a_compressed_npy_file_is_refused(tmp_path):
    (tmp_path / "X.npy.gz").write_bytes(b"")
    code, out, err = cli("convert", tmp_path / "X.npy.gz", "-o", tmp_path / "o.h5", "--label-column", "0")
    assert (code, err.strip()) == (2, f"sgdcli: error: {tmp_path / 'X.npy.gz'}: a compressed .npy file cannot be "
                                      "memory-mapped; decompress it first")


def test_zstandard_without_its_package_says_how_to_install_it(tmp_path):
    import subprocess
    import sys

    (tmp_path / "d.csv.zst").write_bytes(b"")
    proc = subprocess.run([sys.executable, "-c", without("zstandard"), "convert", str(tmp_path / "d.csv.zst"), "-o",
                           str(tmp_path / "o.h5")], capture_output=True, text=True)
    assert (proc.returncode, proc.stderr.strip()) == (
        2, f"sgdcli: error: {tmp_path / 'd.csv.zst'}: reading Zstandard needs the zstandard package, which is not "
           "installed: run .venv/bin/pip install -e '.[zst]' in the sgdcli checkout")


BEYOND = "is beyond float32's range of ±3.4e38: X would hold it as infinite (convert with --dtype float64 to keep it"


def test_a_number_beyond_float32s_range_is_refused_naming_its_line_unless_float64_keeps_it(tmp_path):
    """1e39 was written to X (float32, the default) as infinite, exit 0, without a word; inf is written as before."""
    pd = pytest.importorskip("pandas")
    path, out = tmp_path / "big.csv", tmp_path / "o.h5"
    pd.DataFrame({"a": [1.0, 1e39, 3.0, -2e39], "b": [2.0, 2.0, 4.0, 5.0], "y": [0, 0, 1, 1]}).to_csv(path, index=False)
    message = (f"sgdcli: error: {path}: line 3, column 1 (a): '1e+39' {BEYOND}; --bad-rows skip leaves such rows "
               "out)")
    # the tokenizer, the csv module (a separator of two bytes), hashed columns, sparse output, pyarrow's reader
    for args in ([], ["--thousands", "\u00a0"], ["--hash-bits", "4"], ["--sparse"], ["--engine", "pyarrow"]):
        if "pyarrow" in args:
            pytest.importorskip("pyarrow")
            message += ("; under --engine pyarrow, which cannot apply --bad-rows skip, leave out --engine pyarrow to "
                        "use them")
        assert cli("convert", path, "-o", out, *args) == (2, "", message + "\n"), args
        assert not out.exists()
    assert cli("convert", path, "-o", out, "--dtype", "float64")[0] == 0
    with h5py.File(out) as f:
        assert f["X"][:, 0].tolist() == [1.0, 1e39, 3.0, -2e39]
    code, _, err = cli("convert", path, "-o", out, "--bad-rows", "skip")
    assert code == 0, err
    with h5py.File(out) as f:
        assert f["X"][()].tolist() == [[1, 2], [3, 4]]
    pd.DataFrame({"a": [1.0, np.inf, -np.inf], "y": [0, 1, 1]}).to_csv(path, index=False)
    assert cli("convert", path, "-o", out)[0] == 0
    with h5py.File(out) as f:
        assert f["X"][:, 0].tolist() == [1.0, np.inf, -np.inf]


OVERFLOWS = "is beyond float64's range of ±1.8e308: it would be held as infinite (--bad-rows skip leaves such rows out)"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_number_beyond_float64s_range_is_refused_not_stored_as_infinite(tmp_path, dtype):
    """1e400 was stored as inf without a word, in X or y, in every text format (1e39, a finite float64 beyond
    float32, was refused), where pandas reads it as text and predict refused it.  A field spelled inf is still
    stored as written."""
    out = tmp_path / "o.h5"
    cases = [("d.csv", "a,b,y\n1,1e400,0\n3,4,1\n", [], "line 2, column 2 (b)"),
             ("d.csv", "a,b,y\n1,1e400,0\n3,4,1\n", ["--hash-bits", "4"], "line 2, column 2 (b)"),
             ("d.csv", 'a,b,y\n1,"-1e309",0\n3,4,1\n', ["--missing", "mean"], "line 2, column 2 (b)"),
             ("y.csv", "a,b,y\n1,2,1e400\n3,4,1\n", [], "line 2, column 3 (y)"),
             ("d.svm", "1 1:1e400\n0 2:1\n", [], "line 1, token 2"),
             ("d.vw", "1 |f a:1e400\n0 |f b\n", [], "line 1, feature a:1e400")]
    for name, text, args, where in cases:
        (tmp_path / name).write_text(text)
        shown = "-1e309" if "-1e309" in text else "1e400"
        assert cli("convert", tmp_path / name, "-o", out, "--dtype", dtype, *args) == (
            2, "", f"sgdcli: error: {tmp_path / name}: {where}: '{shown}' {OVERFLOWS}\n"), (name, args)
        assert not out.exists()
        assert cli("convert", tmp_path / name, "-o", out, "--dtype", dtype, *args, "--bad-rows", "skip")[0] == 0
        with h5py.File(out) as f:
            assert f["y"].shape == (1,)
        out.unlink()
    (tmp_path / "i.csv").write_text("a,b,y\n1,inf,0\n3,-Infinity,1\n")
    assert cli("convert", tmp_path / "i.csv", "-o", out, "--dtype", dtype)[0] == 0
    with h5py.File(out) as f:
        assert f["X"][:, 1].tolist() == [np.inf, -np.inf]


def test_a_number_beyond_float32s_range_in_libsvm_vw_or_npy_input_is_refused_naming_its_place(tmp_path):
    """As in CSV: it was written as infinite, exit 0.  In LIBSVM and VW text it is a bad row naming its line, which
    --bad-rows skip leaves out (it was refused by its place in X, whatever --bad-rows said)."""
    X = np.array([[1.0, 3.0], [0.0, 1e39], [2.0, 1.0]])
    (tmp_path / "big.svm").write_text("1 1:1 2:3\n1 2:1e+39\n0 1:2 2:1\n")
    (tmp_path / "big.vw").write_text("1 |a x:1 y:3\n1 |a y:1e39\n0 |s:1e20 x:2e19\n0 |a x:2 y:1\n")
    np.save(tmp_path / "big.npy", np.column_stack([X, [1, 1, 0]]))
    for name, args, where, bad in (("big.svm", [], "line 2, token 2: '1e+39'", 1),
                                   ("big.svm", ["--dense"], "line 2, token 2: '1e+39'", 1),
                                   ("big.vw", [], "line 2, feature y:1e39: '1e39'", 2),
                                   ("big.npy", ["--label-column", "-1"], "row 1, column 1 of X (from 0): 1e+39", 0)):
        tail = "; --bad-rows skip leaves such rows out)" if bad else ")"
        assert cli("convert", tmp_path / name, "-o", tmp_path / "o.h5", *args) == (
            2, "", f"sgdcli: error: {tmp_path / name}: {where} {BEYOND}{tail}\n")
        assert cli("convert", tmp_path / name, "-o", tmp_path / "o.h5", "--dtype", "float64", *args)[0] == 0
        if bad:  # the namespace's weight counts: 1e20 × 2e19 is beyond float32's range too
            code, out, _ = cli("convert", tmp_path / name, "-o", tmp_path / "o.h5", "--bad-rows", "skip", *args)
            assert code == 0 and f"skipped {bad} bad row{'s' if bad > 1 else ''}" in out, out


@pytest.mark.parametrize("name,option,message", [
    ("s.svm", ["--label-column", "0"], "--label-column applies to CSV/TSV and .npy input; LIBSVM and Vowpal Wabbit "
                                       "text hold the label first on each line"),
    ("s.svm", ["--delimiter", ";"], "--delimiter applies to CSV/TSV input"),
    ("s.svm", ["--no-header"], "--header/--no-header applies to CSV/TSV input"),
    ("X.npy", ["--delimiter", ";"], "--delimiter applies to CSV/TSV input"),
    ("X.npy", ["--header"], "--header/--no-header applies to CSV/TSV input"),
])
def test_csv_options_are_refused_for_other_formats(tmp_path, name, option, message):
    """A cron line reused for a LIBSVM file (--label-column target) ran with the option ignored, exit 0, where every
    other option of another format is refused."""
    (tmp_path / "s.svm").write_text("1 1:0.5 3:1\n0 2:1\n")
    np.save(tmp_path / "X.npy", np.ones((3, 2)))
    extra = ["--y", tmp_path / "y.npy"] if name.endswith(".npy") else []
    np.save(tmp_path / "y.npy", np.array([0.0, 1.0, 0.0]))
    assert cli("convert", tmp_path / name, "-o", tmp_path / "out.h5", *extra, *option) == (
        2, "", f"sgdcli: error: {message}\n")
    assert not (tmp_path / "out.h5").exists()


def test_an_input_of_no_rows_is_named_not_the_output(tmp_path):
    """The line named the output file, as if it were the one at fault."""
    (tmp_path / "ho.csv").write_text("a,b,y\n")
    assert cli("convert", tmp_path / "ho.csv", "-o", tmp_path / "ho.h5") == (
        2, "", f"sgdcli: error: {tmp_path / 'ho.csv'}: no data rows, so nothing was written to {tmp_path / 'ho.h5'}\n")
    assert not (tmp_path / "ho.h5").exists()


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_utf16_text_is_named_as_such(tmp_path, encoding):
    """Excel's "Unicode Text" export is UTF-16 with a byte-order mark: the hint said iconv -f latin1, which would
    turn it into text of NUL bytes."""
    text = "\ufeffa,b,y\n1,2,0\n3,4,1\n" if encoding == "utf-16-be" else "a,b,y\n1,2,0\n3,4,1\n"
    (tmp_path / "u.csv").write_bytes(text.encode(encoding))
    assert cli("convert", tmp_path / "u.csv", "-o", tmp_path / "u.h5") == (
        2, "", f"sgdcli: error: {tmp_path / 'u.csv'}: UTF-16 text (it begins with UTF-16's byte-order mark), not UTF-8; "
               "convert it to UTF-8 first: iconv -f utf-16 -t utf-8\n")


@pytest.mark.parametrize("option", ["--features", "--chunk-rows", "--max-categories"])
def test_a_count_beyond_64_bits_is_a_usage_error(tmp_path, option):
    """--features 2**64 passed click and ended in 'internal error: OverflowError', exit 1."""
    (tmp_path / "s.svm").write_text("1 1:0.5\n0 2:1\n")
    (tmp_path / "c.csv").write_text("a,y\nx,0\nz,1\n")
    source = tmp_path / ("c.csv" if option == "--max-categories" else "s.svm")
    code, out, err = cli("convert", source, "-o", tmp_path / "o.h5", option, str(2**64))
    assert (code, out) == (2, "") and err == (f"sgdcli convert: error: Invalid value for '{option}': {2**64} is more "
                                              f"than 64 bits hold (at most {2**63 - 1}) (see 'sgdcli convert --help')\n")
    assert not (tmp_path / "o.h5").exists()


def test_values_that_sum_beyond_float32s_range_are_a_bad_row_naming_their_line(tmp_path):
    """A repeated LIBSVM index or VW feature (or hashed features that collide) is summed into one column: where
    the sum is beyond float32's range the row is bad, named by its line, as a single value is; it stopped the
    conversion by its place in X whatever --bad-rows said."""
    (tmp_path / "s.svm").write_text("1 1:3e38 1:3e38\n0 2:1\n1 1:1 2:2\n")
    (tmp_path / "s.vw").write_text("1 |a x:3e38 x:3e38\n0 |a y:1\n1 |a x:1\n")
    for name, args in (("s.svm", []), ("s.svm", ["--dense"]), ("s.vw", [])):
        code, _, err = cli("convert", tmp_path / name, "-o", tmp_path / "o.h5", *args)
        assert code == 2 and err.startswith(f"sgdcli: error: {tmp_path / name}: line 1: its values for column "), err
        sign = "-" if name == "s.vw" else ""  # (a hashed feature's value takes its hash's sign)
        assert err.endswith(f" of X (from 0) sum to {sign}6e+38, beyond {BEYOND[len('is beyond '):]}; --bad-rows "
                            "skip leaves such rows out)\n"), err
        code, out, _ = cli("convert", tmp_path / name, "-o", tmp_path / "o.h5", "--bad-rows", "skip", *args)
        assert code == 0 and "2 rows" in out and "skipped 1 bad row" in out and "bad rows" not in out, out
