"""Which text is a number: one grammar for every reader of text (data/numbertext.py).  Python's float() also
reads '1_000', other scripts' digits and Unicode spaces; pandas reads them as text, and so does every reader of
sgdcli (the compiled tokenizer, the csv module's, pyarrow's, the hashed one, LIBSVM, Vowpal Wabbit, the header's
test, --na-values): each treats them as it treats 'abc'."""

import io

import h5py
import numpy as np
import pytest

from sgdcli import convert, train
from sgdcli.data import numbertext
from sgdcli.options import TrainOptions

from conftest import cli, short_fits

# float() reads each of these as a number
ODD = ["1_000", "\uff11\uff12", "\u0661\u0662", "\u00a012", "12\u2003", "1_0.5", "1e1_0"]


def _same_but(odd: str, message: str) -> str:
    """``message`` about 'abc' as it is about ``odd``."""
    return message.replace(repr("abc"), repr(odd.strip(numbertext.SPACES)))


def test_the_grammar_is_the_tokenizers_and_pandas():
    for text in ["1", " -2.5 ", "+.5", "5.", "1e5", "1E+05", "-inf", "Infinity", "nan", "NaN", "\t3\t"]:
        assert numbertext.number(text) == pytest.approx(float(text), nan_ok=True), text
    for text in ODD + ["", " ", ".", "-", "1e", "0x10", "+-1", "\u0131nf", "1,5"]:
        assert numbertext.number(text) is None, text
    assert numbertext.all_numbers(["1", " 2", "3e1"]) and not numbertext.all_numbers(["1", "1_0"])


@pytest.mark.parametrize("odd", ODD)
def test_pandas_reads_these_as_text(odd):
    pd = pytest.importorskip("pandas")
    assert float(odd) > 0  # (Python reads every one)
    assert pd.read_csv(io.StringIO(f"a,y\n1,0\n{odd},1\n"))["a"].dtype == object


@pytest.mark.parametrize("odd", ODD)
@pytest.mark.parametrize("how", [[], ["--delimiter", "\u00a6"], ["--engine", "pyarrow"], ["--engine", "python"]])
def test_convert_refuses_them_in_a_numeric_column_as_it_refuses_abc(tmp_path, odd, how):
    """Every reader (the compiled tokenizer, the csv module's where the delimiter is not one byte, pyarrow's)."""
    if "pyarrow" in how:
        pytest.importorskip("pyarrow")
    sep = how[1] if how[:1] == ["--delimiter"] else ","
    messages = {}
    for text in ("abc", odd):
        path = tmp_path / f"{'abc' if text == 'abc' else 'odd'}.csv"
        path.write_text(sep.join(["a", "b", "y"]) + "\n" + f"1{sep}2{sep}0\n3{sep}{text}{sep}1\n", encoding="utf-8")
        messages[text] = cli("convert", path, "-o", tmp_path / "o.h5", *how)
        assert not (tmp_path / "o.h5").exists()
    code, out, err = messages["abc"]
    assert code == 2 and "line 3, column 2 (b): cannot read 'abc' as a number" in err, err
    assert messages[odd] == (2, out, _same_but(odd, err.replace("abc.csv", "odd.csv")))
    code, _, err = cli("convert", tmp_path / "odd.csv", "-o", tmp_path / "o.h5", "--bad-rows", "skip",
                       *(how if "pyarrow" not in how else []))
    assert code == 0, err
    with h5py.File(tmp_path / "o.h5") as f:
        assert f["X"][()].tolist() == [[1, 2]] and f["y"][()].tolist() == [0]


@pytest.mark.parametrize("odd", ["1_000", "\uff11\uff12", "\u00a012"])
def test_hashed_features_take_them_as_text_values(tmp_path, odd):
    """--hash-bits: a number is the feature 'b' with its value, text the feature 'b=text' with value 1, as
    --categorical b reads every field of b."""
    path = tmp_path / "h.csv"
    path.write_text(f"a,b,y\n1,2,0\n3,{odd},1\n", encoding="utf-8")
    rows = {}
    for extra in ([], ["--categorical", "b"]):
        code, _, err = cli("convert", path, "-o", tmp_path / "h.h5", "--hash-bits", "6", "--dense", *extra)
        assert code == 0, err
        with h5py.File(tmp_path / "h.h5") as f:
            rows[bool(extra)] = f["X"][()]
        (tmp_path / "h.h5").unlink()
    assert rows[False][1].tolist() == rows[True][1].tolist() and rows[False][0].tolist() != rows[True][0].tolist()


def test_labels_that_are_not_numbers_are_class_names(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text("a,y\n1,0\n2,1_0\n3,0\n")
    convert(path, tmp_path / "l.h5")
    with h5py.File(tmp_path / "l.h5") as f:
        assert [v.decode() if isinstance(v, bytes) else v for v in f["y"][()]] == ["0", "1_0", "0"]


@pytest.mark.parametrize("odd", ["1_000", "\uff11\uff12"])
def test_a_first_line_holding_them_is_a_header_as_one_holding_abc_is(tmp_path, odd):
    names = {}
    for text in ("abc", odd):
        path = tmp_path / "f.csv"
        path.write_text(f"{text},2,0\n1,2,0\n3,4,1\n", encoding="utf-8")
        convert(path, tmp_path / "f.h5")
        with h5py.File(tmp_path / "f.h5") as f:
            assert len(f["y"]) == 2
            names[text] = list(f["X"].attrs["feature_names"])
        (tmp_path / "f.h5").unlink()
    assert names == {"abc": ["abc", "2"], odd: [odd, "2"]}


def test_a_field_that_is_no_number_is_no_missing_number(tmp_path):
    """--na-values 1000: a field '1_000' was read as the number 1000, so missing; it is text that is no missing
    value, as pandas reads it (whose na_values are read by float(), as --na-values are: '1_000' listed is the
    number 1000 too)."""
    path = tmp_path / "n.csv"
    path.write_text("a,y\n1000,0\n1_000,1\n5,0\n")
    code, _, err = cli("convert", path, "-o", tmp_path / "n.h5", "--na-values", "1000", "--missing", "zero")
    assert code == 2 and "line 3, column 1 (a): cannot read '1_000' as a number" in err, err
    code, _, err = cli("convert", path, "-o", tmp_path / "n.h5", "--na-values", "1_000", "--missing", "zero")
    assert code == 0, err
    with h5py.File(tmp_path / "n.h5") as f:
        assert f["X"][()].ravel().tolist() == [0, 0, 5]
    pd = pytest.importorskip("pandas")
    assert pd.read_csv(path, na_values=["1000"], keep_default_na=False)["a"].tolist()[1:] == ["1_000", "5"]  # text
    assert pd.read_csv(path, na_values=["1_000"], keep_default_na=False)["a"].fillna(0).tolist() == [0, 0, 5]


@short_fits
@pytest.mark.parametrize("odd", ["1_000", "\uff11\uff12", "\u00a012"])
@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_predict_and_evaluate_refuse_them_in_new_rows_as_they_refuse_abc(tmp_path, odd, command):
    (tmp_path / "train.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(8)))
    convert(tmp_path / "train.csv", tmp_path / "train.h5")
    train(tmp_path / "train.h5", TrainOptions(epochs=1, batch_size=4)).save(tmp_path / "m.h5")
    found = []
    for text in ("abc", odd):
        path = tmp_path / "new.csv"
        path.write_text(f"a,b,y\n1,2,0\n3,{text},1\n", encoding="utf-8")
        args = [command, tmp_path / "m.h5", path] + (["-o", tmp_path / "p.csv"] if command == "predict" else [])
        found.append(cli(*args))
        assert not (tmp_path / "p.csv").exists()
    code, out, err = found[0]
    assert (code, out) == (2, "") and f"{tmp_path / 'new.csv'}: line 3, column 2 (b): cannot read 'abc'" in err
    assert found[1] == (code, out, _same_but(odd, err))


@pytest.mark.parametrize("odd", ["1_000", "\uff11\uff12", "\u0661"])
@pytest.mark.parametrize("line", ["1 1:{} 2:1\n", "{} 1:1\n"])
def test_libsvm_refuses_them_as_values_and_labels_as_it_refuses_abc(tmp_path, odd, line):
    found = []
    for text in ("abc", odd):
        path = tmp_path / f"{'abc' if text == 'abc' else 'odd'}.svm"
        path.write_text("0 1:1\n" + line.format(text), encoding="utf-8")
        found.append(cli("convert", path, "-o", tmp_path / "o.h5"))
    code, out, err = found[0]
    assert code == 2 and "line 2, token" in err and "cannot read 'abc' as a number" in err, err
    assert found[1] == (code, out, _same_but(odd, err.replace("abc.svm", "odd.svm")))


@pytest.mark.parametrize("index", ["\uff12", "\u00b2", "2_0"])
@pytest.mark.parametrize("dense", [[], ["--dense"]])
def test_libsvm_indices_are_ascii_digits(tmp_path, index, dense):
    """'²' is a digit to str.isdigit() and none to int(): it crashed; '２' and '2_0' were read as 2 and 20."""
    path = tmp_path / "i.svm"
    path.write_text(f"0 1:1\n1 {index}:1\n", encoding="utf-8")
    code, out, err = cli("convert", path, "-o", tmp_path / "o.h5", *dense)
    assert (code, out) == (2, "") and "line 2" in err and f"cannot read feature index {index!r}" in err, err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("odd", ["1_000", "\uff12"])
def test_vowpal_wabbit_reads_them_as_it_reads_abc(tmp_path, odd):
    """A value: a bad row; after the label, neither an importance weight nor a tag: a bad row too, as 'abc' there
    is (it was passed over as a tag, where Vowpal Wabbit reads a weight of 0)."""
    for text, want in (("abc", "cannot read 'abc' as a number"), (odd, f"cannot read {odd!r} as a number")):
        path = tmp_path / "v.vw"
        path.write_text(f"1 |f a:{text}\n", encoding="utf-8")
        code, _, err = cli("convert", path, "-o", tmp_path / "v.h5")
        assert code == 2 and want in err, err
        path.write_text(f"1 {text} |f a\n0 |f b\n", encoding="utf-8")
        code, _, err = cli("convert", path, "-o", tmp_path / "v.h5")
        assert code == 2 and f"line 1: {text!r} before the '|' is neither a number" in err, err


def test_the_fast_path_of_the_csv_modules_reader_checks_the_grammar(tmp_path):
    """A block whose every field float() reads (one NumPy conversion) is still checked field by field."""
    path = tmp_path / "m.csv"
    path.write_text("a\u00a6y\n" + "".join(f"{i}\u00a60\n" for i in range(5)) + "1_0\u00a61\n", encoding="utf-8")
    code, _, err = cli("convert", path, "-o", tmp_path / "o.h5", "--delimiter", "\u00a6", "--bad-rows", "skip")
    assert code == 0, err
    with h5py.File(tmp_path / "o.h5") as f:
        assert f["X"][()].ravel().tolist() == list(range(5)) and np.all(f["y"][()] == 0)


@pytest.mark.parametrize("how", [[], ["--delimiter", "\u00a6"]])
def test_with_a_decimal_comma_a_point_is_text_as_pandas_reads_it(tmp_path, how):
    """With --decimal ',' (and no --thousands '.'), '1.234' is no number: meant as 1234 in a file whose
    thousands separator was not given, it was read as 1.234; pandas reads it as text (the compiled tokenizer's
    rows and the csv module's alike)."""
    pd = pytest.importorskip("pandas")
    sep = how[1] if how[:1] == ["--delimiter"] else ";"
    assert pd.read_csv(io.StringIO("a;y\n1,5;0\n1.234;1\n"), sep=";", decimal=",")["a"].dtype == object
    path = tmp_path / "eu.csv"
    path.write_text(sep.join(["a", "b", "y"]) + "\n" + f"1,5{sep}2{sep}0\n1.234{sep}3{sep}1\n", encoding="utf-8")
    code, _, err = cli("convert", path, "-o", tmp_path / "o.h5", "--decimal", ",", *how)
    assert code == 2 and "line 3, column 1 (a): cannot read '1.234' as a number" in err, err
    assert not (tmp_path / "o.h5").exists()
    code, _, err = cli("convert", path, "-o", tmp_path / "o.h5", "--decimal", ",", "--thousands", ".", *how)
    assert code == 0, err
    with h5py.File(tmp_path / "o.h5") as f:
        assert f["y"][:].tolist() == [0, 1]
        if not how:
            assert f["X"][:, 0].tolist() == [1.5, 1234.0]


def test_hashed_rows_read_numeric_labels_in_the_files_marks(tmp_path):
    """--hash-bits read a label '0,25' of a file with --decimal ',' as no number (the rows without hashing
    read it as 0.25), and a missing one as a number it could not read."""
    path = tmp_path / "eu.csv"
    path.write_text("a;b;y\n1,5;x;0,25\n2,5;z;1,75\n3;x;NA\n", encoding="utf-8")
    labels = {}
    for how in ([], ["--hash-bits", "4"]):
        code, _, err = cli("convert", path, "-o", tmp_path / "o.h5", "--decimal", ",", "--categorical", "b", *how)
        assert code == 2 and "line 4, column 3 (y): missing label" in err, err
        code, _, err = cli("convert", path, "-o", tmp_path / "o.h5", "--decimal", ",", "--categorical", "b",
                           "--bad-rows", "skip", *how)
        assert code == 0, err
        with h5py.File(tmp_path / "o.h5") as f:
            labels[tuple(how)] = f["y"][:].tolist()
    assert labels[()] == labels[("--hash-bits", "4")] == [0.25, 1.75]
