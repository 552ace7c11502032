"""How convert (and predict and evaluate on text) find the delimiter: never the numbers' decimal mark or thousands
separator, a first line of one field named as such, columns aligned by runs of spaces refused however regular."""

import subprocess

import h5py
import numpy as np
import pytest

from sgdcli import convert, train
from sgdcli.options import TrainOptions

from conftest import cli, short_fits

pd = pytest.importorskip("pandas")

RUNS = ("the columns are separated by runs of spaces, which sgdcli does not split on; squeeze each run to one "
        "space and drop the spaces that start or end lines first (sed -E 's/^ +| +$//g; s/ +/ /g' < in > out)")


def _euro(path, header=False):
    """A European export: ';' between fields, decimal commas (pandas' to_csv(sep=';', decimal=','))."""
    pd.DataFrame({"a": [1.5, 2.5, 3.5, 4.5], "b": [2.25, 3.0, 4.0, 5.0], "y": [0, 1, 1, 0]}).to_csv(
        path, sep=";", decimal=",", index=False, header=header)
    return path


def _read(path):
    with h5py.File(path) as f:
        return f["X"][()].tolist(), f["y"][()].tolist()


def test_a_decimal_comma_is_never_the_delimiter_detected(tmp_path):
    """Without a header, ',' split every line of '1,5;2,25;0' into three fields as ';' did, and was taken: X held
    the integer parts, y the text '25;0' (exit 0)."""
    path = _euro(tmp_path / "eu.csv")
    code, out, err = cli("convert", path, "-o", tmp_path / "eu.h5", "--decimal", ",", "--no-header")
    assert (code, out) == (0, f"wrote {tmp_path / 'eu.h5'}: 4 rows × 2 features from csv\n"), err
    assert _read(tmp_path / "eu.h5") == ([[1.5, 2.25], [2.5, 3.0], [3.5, 4.0], [4.5, 5.0]], [0, 1, 1, 0])


def test_a_thousands_separator_is_the_delimiter_only_where_nothing_else_splits_the_lines(tmp_path):
    """'1,234;5;0' split at ',' and at ';' alike, and ',' came first: X held 1, y the text '234;5;0' (exit 0).  A
    comma-delimited file whose numbers are quoted ("1,234", as spreadsheets export them) still splits at ','."""
    path = tmp_path / "th.csv"
    path.write_text("1,234;5;0\n2,345;6;1\n3,456;7;0\n")
    code, _, err = cli("convert", path, "-o", tmp_path / "th.h5", "--thousands", ",", "--no-header")
    assert code == 0, err
    assert _read(tmp_path / "th.h5") == ([[1234, 5], [2345, 6], [3456, 7]], [0, 1, 0])
    path.write_text('amount,n,y\n"1,234.5",5,0\n"2,345",6,1\n7,8,0\n')
    code, _, err = cli("convert", path, "-o", tmp_path / "th.h5", "--thousands", ",")
    assert code == 0, err
    assert _read(tmp_path / "th.h5") == ([[1234.5, 5], [2345, 6], [7, 8]], [0, 1, 0])


@pytest.mark.parametrize("args,message", [
    (["--decimal", ",", "--delimiter", ","], "--delimiter: ',' is also the decimal mark (--decimal ,), so it would "
     "split every number written with one; name the character that separates the fields, or leave out --delimiter "
     "to have it detected"),
    (["--decimal", ";", "--delimiter", ";"], "--delimiter: ';' is also the decimal mark (--decimal ;), so it would "
     "split every number written with one; name the character that separates the fields, or leave out --delimiter "
     "to have it detected"),
])
def test_a_delimiter_that_is_the_decimal_mark_is_refused(tmp_path, args, message):
    path = _euro(tmp_path / "eu.csv")
    code, out, err = cli("convert", path, "-o", tmp_path / "eu.h5", "--no-header", *args)
    assert (code, out, err) == (2, "", f"sgdcli: error: {message}\n")
    assert not (tmp_path / "eu.h5").exists()


@short_fits  # (a model of four rows: the fit's warnings)
def test_predict_and_evaluate_refuse_the_models_decimal_mark_as_the_delimiter(tmp_path):
    convert(_euro(tmp_path / "eu.csv", header=True), tmp_path / "eu.h5", decimal=",")
    train(tmp_path / "eu.h5", TrainOptions(epochs=1, batch_size=2)).save(tmp_path / "m.h5")
    message = ("sgdcli: error: --delimiter: ',' is the model's decimal mark (its training data was converted with "
               "--decimal ,), so it would split every number written with one; name the character that separates "
               "the fields\n")
    for argv in (["predict", tmp_path / "m.h5", tmp_path / "eu.csv", "-o", "-"], ["evaluate", tmp_path / "m.h5",
                                                                                  tmp_path / "eu.csv"]):
        assert cli(*argv, "--delimiter", ",") == (2, "", message)
        assert cli(*argv, "--delimiter", ";")[0] == 0
    # found by the header where nothing else splits it: pandas' to_csv(decimal=',') without sep=';' (numbers
    # quoted), the same rows
    pd.read_csv(tmp_path / "eu.csv", sep=";", decimal=",").to_csv(tmp_path / "comma.csv", decimal=",", index=False)
    assert cli("predict", tmp_path / "m.h5", tmp_path / "comma.csv", "-o", "-")[:2] == \
        cli("predict", tmp_path / "m.h5", tmp_path / "eu.csv", "-o", "-")[:2]


def _with_first_line(path, line, sep=","):
    """pandas' export of a small table below ``line``."""
    body = pd.DataFrame({"a": [1, 3, 5], "b": [2, 4, 6], "y": [0, 1, 0]}).to_csv(index=False, sep=sep,
                                                                                 lineterminator="\r\n")
    path.write_bytes((line + body).encode())
    return path


@pytest.mark.parametrize("line,sep,args,message", [
    ("# exported 2024-05-01\r\n", ",", [], "line 1 has 1 field, line 2 has 3 (split at ','): a title or comment "
     "line above the header? remove it first (tail -n +2 in > out)"),
    ("Quarterly report\r\n", ";", [], "line 1 has 1 field, line 2 has 3 (split at ';'): a title or comment line "
     "above the header? remove it first (tail -n +2 in > out)"),
    ("Quarterly report\r\n", ",", ["--delimiter", ","], "line 1 has 1 field, line 2 has 3 (split at ','): a title "
     "or comment line above the header? remove it first (tail -n +2 in > out)"),
    ("\r\n", ",", [], "line 1 is blank, line 2 has 3 (split at ','): remove the blank line first (tail -n +2 in > "
     "out)"),
    ("sep=;\r\n", ";", [], "line 1 is Excel's 'sep=;' line, which names the delimiter and is neither a header nor "
     "data; sgdcli does not read it: remove it first (tail -n +2 in > out)"),
    ("sep=;\r\n", ";", ["--delimiter", ";"], "line 1 is Excel's 'sep=;' line, which names the delimiter and is "
     "neither a header nor data; sgdcli does not read it: remove it first (tail -n +2 in > out)"),
    ("", ",", ["--delimiter", ";"], "--delimiter ';' splits no line of its start into fields; they split at ',' "
     "(leave out --delimiter to have it detected)"),
])
def test_a_first_line_of_one_field_is_named_not_the_columns_left(tmp_path, line, sep, args, message):
    """Each said "no feature columns left (--columns, --ignore, --label-column)", options none of them gave."""
    path = _with_first_line(tmp_path / "d.csv", line, sep)
    code, out, err = cli("convert", path, "-o", tmp_path / "d.h5", *args)
    assert (code, out, err) == (2, "", f"sgdcli: error: {path}: {message}\n")


def test_a_tsv_of_commas_and_a_file_of_one_column_say_what_splits_them(tmp_path):
    path = _with_first_line(tmp_path / "d.tsv", "")
    assert cli("convert", path, "-o", tmp_path / "d.h5") == (
        2, "", f"sgdcli: error: {path}: tab, a .tsv file's delimiter, splits no line of its start into fields; they "
               "split at ',' (--delimiter ',' reads them so)\n")
    assert cli("convert", path, "-o", tmp_path / "d.h5", "--delimiter", ",")[0] == 0
    pd.DataFrame({"y": [0, 1, 0]}).to_csv(tmp_path / "one.csv", index=False)
    assert cli("convert", tmp_path / "one.csv", "-o", tmp_path / "d.h5") == (
        2, "", f"sgdcli: error: {tmp_path / 'one.csv'}: none of ',', tab, ';', '|', space splits line 1 into "
               "fields; convert needs a label column and a feature column (--delimiter names another delimiter)\n")


@pytest.mark.parametrize("text", ["\n", "\n\n\n", "\r\n  \r\n"])
def test_a_file_of_blank_lines_says_it_holds_no_data(tmp_path, text):
    """It said no delimiter splits line 1 into fields, and named delimiters to try."""
    (tmp_path / "b.csv").write_bytes(text.encode())
    for args in ([], ["--delimiter", ";"]):
        assert cli("convert", tmp_path / "b.csv", "-o", tmp_path / "b.h5", *args) == (
            2, "", f"sgdcli: error: {tmp_path / 'b.csv'}: no data: every line is blank\n")
    assert not (tmp_path / "b.h5").exists()


def test_a_comma_delimited_file_of_quoted_decimal_commas_is_read(tmp_path):
    """pandas' to_csv(decimal=',') without sep=';' quotes each number: only the decimal mark splits the lines, so
    it is the delimiter (as pandas reads the file back)."""
    pd.DataFrame({"a": [1.5, 2.5], "y": [0, 1]}).to_csv(tmp_path / "q.csv", decimal=",", index=False, header=False)
    code, out, err = cli("convert", tmp_path / "q.csv", "-o", tmp_path / "q.h5", "--decimal", ",")
    assert code == 0, err
    assert _read(tmp_path / "q.h5") == ([[1.5], [2.5]], [0, 1])


@pytest.mark.parametrize("fmt,delimiter,header", [("%d", "  ", ""), ("%d", "  ", "a  b  y"),
                                                   ("%3d", " ", ""), ("%d", "   ", "")])
def test_columns_aligned_by_runs_of_one_width_are_refused_as_runs_of_spaces(tmp_path, fmt, delimiter, header):
    """Runs of two spaces (or spaces before each field) split every line alike at each space, around empty fields:
    the message was a header naming '' twice, or a missing value, and --missing zero wrote the empty fields as
    features of zeros (exit 0)."""
    path = tmp_path / "al.txt"
    np.savetxt(path, [[1, 2, 0], [3, 4, 1], [5, 6, 1]], fmt=fmt, delimiter=delimiter, header=header, comments="")
    for args in ([], ["--missing", "zero"]):
        code, out, err = cli("convert", path, "-o", tmp_path / "al.h5", "--format", "csv", *args)
        assert (code, out, err) == (2, "", f"sgdcli: error: {path}: {RUNS}\n")
    assert not (tmp_path / "al.h5").exists()
    squeezed = subprocess.run(["sed", "-E", "s/^ +| +$//g; s/ +/ /g"], input=path.read_text(), capture_output=True,
                              text=True, check=True).stdout  # as the message says
    path.write_text(squeezed)
    code, _, err = cli("convert", path, "-o", tmp_path / "al.h5", "--format", "csv")
    assert code == 0, err
    assert _read(tmp_path / "al.h5") == ([[1, 2], [3, 4], [5, 6]], [0, 1, 1])


def test_a_space_given_ends_a_field_at_each_space_and_quoted_runs_are_text(tmp_path):
    """Detected, a space never splits runs of spaces; given (--delimiter ' '), each space ends a field, as pandas'
    sep=' ' reads them; runs inside quotes are text."""
    path = tmp_path / "s.txt"
    np.savetxt(path, [[1, 2, 0], [3, 4, 1]], fmt="%d", delimiter="  ")
    assert cli("convert", path, "-o", tmp_path / "s.h5", "--format", "csv", "--missing", "zero", "--no-header") == (
        2, "", f"sgdcli: error: {path}: {RUNS}\n")
    code, _, err = cli("convert", path, "-o", tmp_path / "s.h5", "--format", "csv", "--delimiter", " ",
                       "--missing", "zero", "--no-header")
    assert code == 0, err
    assert _read(tmp_path / "s.h5") == ([[1, 0, 2, 0], [3, 0, 4, 0]], [0, 1])
    path.write_text('a b y\n1 "x  y" 0\n3 "z" 1\n')
    code, _, err = cli("convert", path, "-o", tmp_path / "s.h5", "--format", "csv", "--categorical", "b")
    assert code == 0, err
    assert _read(tmp_path / "s.h5") == ([[1, 1, 0, 0], [3, 0, 1, 0]], [0, 1])
