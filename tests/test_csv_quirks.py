"""CSV text at the edges: text after a closing quote, NUL bytes, bare CR line ends, compressed standard input,
huge fields in messages, inputs of no rows, for convert and for predict and evaluate reading CSV text."""

import gzip
import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from sgdcli import convert, train
from sgdcli.options import TrainOptions

from conftest import cli, run, short_fits

pd = pytest.importorskip("pandas")

pytestmark = short_fits  # small models, trained to test reading and naming: short fits


def _model(tmp_path, text: str, **options):
    """A model trained on ``text`` converted, saved as m.h5."""
    (tmp_path / "train.csv").write_text(text)
    convert(tmp_path / "train.csv", tmp_path / "train.h5", **options)
    model = train(tmp_path / "train.h5", TrainOptions(epochs=2, batch_size=4))
    model.save(tmp_path / "m.h5")
    return tmp_path / "m.h5"


QUOTED = ('a,b,c,label\n"1"5,"2"e3,"-"1.5,0\n"4" ,"1.5"0,"7"  ,1\n3,"0"9 ,"""2""",0\n"1""2"3,4,"5"6"7,1\n'
          '8,"9"x,1,0\n')


def test_text_after_a_closing_quote_is_part_of_the_field_as_pandas_reads_it(tmp_path):
    """'"1"5' was read as 1 (the 5 dropped), '"1"x' as the number 1: pandas reads 15, and the text '1x'."""
    path = tmp_path / "q.csv"
    path.write_text(QUOTED)
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert table.a.tolist() == ["15", "4 ", "3", '1"23', "8"] and table.b.tolist()[4] == "9x"
    assert table.c.tolist() == ["-1.5", "7  ", '"2"', '56"7', "1"]
    code, _, err = cli("convert", path, "-o", tmp_path / "o.h5", "--categorical", "a,b,c")
    assert code == 0, err
    with h5py.File(tmp_path / "o.h5") as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f["X"].attrs["feature_names"]]
    for column in "abc":  # as categories: the text pandas reads, stripped
        assert {n for n in names if n.startswith(column + "=")} == {f"{column}={v.strip()}" for v in table[column]} | {
            f"{column}=other"}
    path.write_text('a,b,label\n"1"5,"2"e3,0\n"4" ,"1.5"0,1\n3,"0"9 ,0\n')
    want = pd.read_csv(path).to_numpy(dtype=np.float64)
    for engine in ("python", "pyarrow"):
        if engine == "pyarrow":
            pytest.importorskip("pyarrow")
        code, _, err = cli("convert", path, "-o", tmp_path / f"{engine}.h5", "--engine", engine)
        assert code == 0, err
        with h5py.File(tmp_path / f"{engine}.h5") as f:
            assert f["X"][()].tolist() == want[:, :2].tolist() and f["y"][()].tolist() == want[:, 2].tolist()
    path.write_text('a,b,label\n"1"x,2,0\n')
    assert pd.read_csv(path).a.tolist() == ["1x"]
    code, _, err = cli("convert", path, "-o", tmp_path / "x.h5")
    assert (code, err.strip()) == (2, f"sgdcli: error: {path}: line 2, column 1 (a): cannot read '1x' as a number "
                                      "(declare the column with --categorical a, or leave it out with --ignore a; "
                                      "--bad-rows skip leaves such rows out)")


def test_predict_reads_text_after_a_closing_quote_as_convert_does(tmp_path):
    saved = _model(tmp_path, "x1,x2,label\n" + "".join(f"{i % 5},{(i * 3) % 7},{i % 2}\n" for i in range(40)))
    (tmp_path / "quoted.csv").write_text('x1,x2,label\n"0"9,"1"2,1\n"4" ,"2"e0,0\n')
    (tmp_path / "plain.csv").write_text("x1,x2,label\n9,12,1\n4,2e0,0\n")
    code, quoted, err = cli("predict", saved, tmp_path / "quoted.csv", "-o", "-", "--proba")
    assert code == 0, err
    assert quoted == cli("predict", saved, tmp_path / "plain.csv", "-o", "-", "--proba")[1]
    assert cli("evaluate", saved, tmp_path / "quoted.csv", "--json")[1] == cli("evaluate", saved, tmp_path /
                                                                               "plain.csv", "--json")[1]


NUL_NAME = "holds a NUL byte, which HDF5 text (a class, category or column name) cannot hold"


@pytest.mark.parametrize("text,args,message", [
    ("a,b,label\n1,2,yes\x00\n3,4,no\n", [], "line 2, column 3 (label): 'yes\\x00' " + NUL_NAME +
     " (--bad-rows skip leaves such rows out)"),
    ("a,b,label\n1,2,yes\x00\n3,4,no\n", ["--hash-bits", "4"], "line 2, column 3 (label): 'yes\\x00' " + NUL_NAME +
     " (--bad-rows skip leaves such rows out)"),
    ("a,b\x00,label\n1,2,0\n3,4,1\n", [], "line 1, column 2: the header name 'b\\x00' " + NUL_NAME),
    ("a,b,label\n1,x\x00y,0\n3,z,1\n", ["--categorical", "b"], "line 2, column 2 (b): 'x\\x00y' " + NUL_NAME),
])
def test_a_nul_byte_in_text_that_becomes_a_name_is_bad_input(tmp_path, text, args, message):
    """It was "internal error: ValueError: VLEN strings do not support embedded NULLs", exit 1."""
    path = tmp_path / "nul.csv"
    path.write_bytes(text.encode())
    code, _, err = cli("convert", path, "-o", tmp_path / "n.h5", *args)
    assert (code, err) == (2, f"sgdcli: error: {path}: {message}\n")
    assert not (tmp_path / "n.h5").exists()
    code, _, err = cli("convert", path, "-o", tmp_path / "n.h5", "--bad-rows", "skip", *args)
    if "label" in message:  # a bad row, left out
        assert code == 0, err
        with h5py.File(tmp_path / "n.h5") as f:
            assert [v.decode() for v in f["y"][()]] == ["no"]


def test_messages_cut_the_fields_and_names_they_quote(tmp_path):
    """A 5 MB field made a 5,000,201-byte error line."""
    big = "y" * 5_000_000
    long_name = "n" * 100_000  # (the csv module, which reads the header, takes fields up to 128 KiB)
    cases = [
        ("big.csv", f"a,b,label\n1,{big},0\n", [], "line 2, column 2 (b): cannot read '" + "y" * 80 + "'... "
         "(5,000,000 characters) as a number (declare the column with --categorical b, or leave it out with --ignore "
         "b; --bad-rows skip leaves such rows out)"),
        ("name.csv", f"a,{long_name},label\n1,oops,0\n", [], "line 2, column 2 (" + "n" * 80 + "... (100,000 "
         "characters)): cannot read 'oops' as a number (declare the column with --categorical 1, or leave it out "
         "with --ignore 1; --bad-rows skip leaves such rows out)"),
        # a name with an escape sequence is shown escaped, which no shell quoting reads back: by its index too
        ("esc.csv", "a,b\x1b[31m,label\n1,oops,0\n", [], "line 2, column 2 (b\\x1b[31m): cannot read 'oops' as a "
         "number (declare the column with --categorical 1, or leave it out with --ignore 1; --bad-rows skip leaves "
         "such rows out)"),
        ("label.csv", f"a,{long_name},label\n1,2,0\n", ["--label-column", "z"], None),  # (the option's message)
        ("big.svm", f"1 {big}\n", [], "line 1, token 2: cannot read '" + "y" * 80 + "'... (5,000,000 characters) "
         "as index:value (--bad-rows skip leaves such rows out)"),
    ]
    for name, text, args, message in cases:
        (tmp_path / name).write_text(text)
        code, _, err = cli("convert", tmp_path / name, "-o", tmp_path / "o.h5", *args)
        assert code == 2 and len(err) < 400, err[:400]
        assert err == (f"sgdcli: error: {tmp_path / name}: {message}\n" if message else "sgdcli: error: "
                       "--label-column: no column 'z' in the header (a, " + "n" * 80 + "... (100,000 characters), "
                       "label)\n")


def test_a_column_without_a_name_is_named_by_its_index_in_the_advice(tmp_path):
    """pandas' to_csv writes its row index under an empty name: the advice said --categorical '' and --ignore '',
    which are refused (no column), where its warning said --ignore 0, which works."""
    (tmp_path / "cells.csv").write_text(",a,cell_type\nc0,0.5,T\nc1,1.5,B\n")
    code, out, err = cli("convert", tmp_path / "cells.csv", "-o", tmp_path / "c.h5", "--label-column", "cell_type")
    assert code == 2 and err.splitlines()[-1] == (
        f"sgdcli: error: {tmp_path / 'cells.csv'}: line 2, column 1 (): cannot read 'c0' as a number (declare the "
        "column with --categorical 0, or leave it out with --ignore 0; --bad-rows skip leaves such rows out)")
    assert cli("convert", tmp_path / "cells.csv", "-o", tmp_path / "c.h5", "--label-column", "cell_type",
               "--ignore", "0", "-q")[0] == 0


TRAIN = "x1,x2,city,species\n" + "".join(f"{i % 7 / 7},{(i * 3) % 5 / 5},{['Paris', 'Oslo'][i % 3 == 0]},"
                                          f"{['good', 'bad'][(i % 7) * 3 + (i * 3) % 5 > 9]}\n" for i in range(60))


@pytest.mark.parametrize("hash_bits", [None, 6])
def test_new_rows_with_bare_cr_line_ends_are_read_as_convert_reads_them(tmp_path, hash_bits):
    """A bare CR in the header was "internal error: Error: new-line character seen in unquoted field"."""
    saved = _model(tmp_path, TRAIN, label_column="species", categorical="city", hash_bits=hash_bits)
    lf = "x1,x2,city,species\n0.5,0.2,Paris,bad\n0.1,0.9,Oslo,good\n"
    (tmp_path / "lf.csv").write_text(lf)
    (tmp_path / "cr.csv").write_bytes(lf.replace("\n", "\r").encode())
    want = cli("predict", saved, tmp_path / "lf.csv", "-o", "-", "--proba")[:2]  # stderr: progress, naming the file
    assert want[0] == 0 and len(want[1].splitlines()) == 3, want
    assert cli("predict", saved, tmp_path / "cr.csv", "-o", "-", "--proba")[:2] == want
    assert cli("evaluate", saved, tmp_path / "cr.csv", "--json")[:2] == cli("evaluate", saved, tmp_path / "lf.csv",
                                                                            "--json")[:2]
    piped = run("predict", saved, "-", "-o", "-", "--proba", input=lf.replace("\n", "\r").encode())
    assert tuple(piped)[:2] == want


@pytest.mark.parametrize("line_end", ["\n", "\r", "\r\n"])
def test_errors_in_files_of_bare_cr_line_ends_name_their_lines(tmp_path, line_end):
    """The tokenizer counted lines by their LF: in a file of bare CRs every error said line 1 (convert, predict,
    evaluate), on a file of 120,001 lines too.  A quoted field's CR ends a line too, as the csv module counts."""
    text = 'a,b,y\n1,2,0\n"3\n",4,1\n5,x,1\n'.replace("\n", line_end)
    (tmp_path / "d.csv").write_bytes(text.encode())
    code, _, err = cli("convert", tmp_path / "d.csv", "-o", tmp_path / "o.h5")
    assert code == 2 and err.startswith(f"sgdcli: error: {tmp_path / 'd.csv'}: line 5, column 2 (b): cannot read "
                                        "'x' as a number"), err
    (tmp_path / "train.csv").write_bytes("a,b,y\n1,2,0\n3,4,1\n2,2,0\n".replace("\n", line_end).encode())
    assert cli("convert", tmp_path / "train.csv", "-o", tmp_path / "t.h5")[0] == 0
    assert cli("train", tmp_path / "t.h5", "-o", tmp_path / "m.h5", "--batch-size", "full", "-q")[0] == 0
    for command in (["predict", tmp_path / "m.h5", tmp_path / "d.csv", "-o", "-"],
                    ["evaluate", tmp_path / "m.h5", tmp_path / "d.csv"]):
        code, _, err = cli(*command, "-q")
        assert code == 2 and f"{tmp_path / 'd.csv'}: line 5, column 2 (b)" in err, err


@pytest.mark.parametrize("compress,name,tool,suffix", [(gzip.compress, "gzip", "zcat", ".gz"),
                                                       (__import__("bz2").compress, "bzip2", "bzcat", ".bz2")])
def test_compressed_standard_input_is_refused_with_how_to_pipe_it(tmp_path, compress, name, tool, suffix):
    """gzip bytes on standard input were "internal error: Error: new-line character seen in unquoted field".
    The message names standard input "-", as every other message about it does ("-: is empty ..."); it
    called it "standard input:"."""
    saved = _model(tmp_path, TRAIN, label_column="species", categorical="city")
    data = compress(TRAIN.encode())
    for command, example in ((["predict", saved, "-", "-o", "-"], "predict model.h5 - -o -"),
                             (["evaluate", saved, "-"], "evaluate model.h5 -")):
        ran = run(*command, input=data)
        assert tuple(ran) == (2, "", f"sgdcli: error: -: standard input looks {name}-compressed; pipe it through "
                                     f"{tool} (e.g. {tool} new.csv{suffix} | sgdcli {example})\n")
    (tmp_path / "new.csv").write_bytes(data)
    assert cli("evaluate", saved, tmp_path / "new.csv") == (2, "", f"sgdcli: error: {tmp_path / 'new.csv'}: looks "
                                                                   f"{name}-compressed; give it a name ending in "
                                                                   f"{suffix}, or pipe it through {tool}\n")


@pytest.mark.parametrize("userblock", [0, 512])
def test_an_hdf5_file_on_standard_input_is_refused_saying_to_give_its_path(tmp_path, userblock):
    """predict and evaluate read an HDF5 file by its path (a .csv name included); piped to standard input it was
    read as CSV text, and the header of its bytes blamed on the delimiter ("-: no column 'x1' in its header
    (\x89HDF...); ... --delimiter names it")."""
    saved = _model(tmp_path, TRAIN, label_column="species", categorical="city")
    with h5py.File(tmp_path / "d.h5", "w", userblock_size=userblock) as f:
        f["X"] = np.zeros((3, 2), np.float32)
    data = (tmp_path / "d.h5").read_bytes()
    for command in (["predict", saved, "-", "-o", "-"], ["evaluate", saved, "-"]):
        assert tuple(run(*command, input=data)) == (2, "", "sgdcli: error: -: standard input holds an HDF5 file, "
                                                           "which predict and evaluate read from its path, not "
                                                           "through a pipe: give the file's path\n")


@pytest.mark.parametrize("how", ["ZIP_DEFLATED", "ZIP_STORED"])
def test_a_zip_archive_named_as_text_is_refused_saying_to_extract_it(tmp_path, how):
    """A spreadsheet's or a portal's download: convert said "not UTF-8 text ...; convert it to UTF-8 first, e.g.
    iconv" (which would garble it), predict on a stored archive "no column 'a' in its header (PK...)"."""
    import zipfile

    text = "a,b,label\n" + "".join(f"{i % 5},{i % 3},{i % 2}\n" for i in range(40))
    (tmp_path / "d.csv").write_text(text)
    with zipfile.ZipFile(tmp_path / "export.csv", "w", getattr(zipfile, how)) as archive:
        archive.write(tmp_path / "d.csv", "d.csv")
    path = tmp_path / "export.csv"
    assert cli("convert", path, "-o", tmp_path / "o.h5") == (
        2, "", f"sgdcli: error: {path}: is a zip archive, which sgdcli does not read: extract the file it holds "
               f"first (unzip -p {path} > data.csv)\n")
    model = _model(tmp_path, text, label_column="label")
    for command in (["predict", model, path, "-o", "-"], ["evaluate", model, path]):
        assert cli(*command) == (2, "", f"sgdcli: error: {path}: is a zip archive, which sgdcli does not read: "
                                        f"extract the file it holds first (unzip -p {path} > new.csv)\n")
    assert tuple(run("predict", model, "-", "-o", "-", input=path.read_bytes())) == (
        2, "", "sgdcli: error: -: is a zip archive, which sgdcli does not read: extract the file it holds first "
               "(unzip -p ARCHIVE.zip > new.csv)\n")


def test_a_compressed_zip_archive_or_a_file_compressed_twice_is_refused_saying_what_it_holds(tmp_path):
    """A zip archive gzipped, or a CSV gzipped twice, decoded to bytes that are not UTF-8, and the advice was to
    convert them with iconv, which would garble them; the advice given now works when followed."""
    import zipfile

    text = "a,b,label\n" + "".join(f"{i % 5},{i % 3},{i % 2}\n" for i in range(40))
    (tmp_path / "d.csv").write_text(text)
    with zipfile.ZipFile(tmp_path / "d.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(tmp_path / "d.csv", "d.csv")
    zipped, twice = tmp_path / "export.csv.gz", tmp_path / "twice.csv.gz"
    zipped.write_bytes(gzip.compress((tmp_path / "d.zip").read_bytes()))
    twice.write_bytes(gzip.compress(gzip.compress(text.encode())))
    said_zip = (f"sgdcli: error: {zipped}: holds a zip archive inside its gzip compression, which sgdcli does not "
                f"read: extract the file it holds first (zcat {zipped} > data.zip && unzip -p data.zip > data.csv)\n")
    once = tmp_path / "twice-once.csv.gz"
    said_twice = (f"sgdcli: error: {twice}: holds gzip data inside its gzip compression (compressed twice): "
                  f"decompress it once first (zcat {twice} > {once})\n")
    assert cli("convert", zipped, "-o", tmp_path / "o.h5") == (2, "", said_zip)
    assert cli("convert", twice, "-o", tmp_path / "o.h5") == (2, "", said_twice)
    model = _model(tmp_path, text, label_column="label")
    assert cli("predict", model, zipped, "-o", "-") == (2, "", said_zip.replace("data.csv)", "new.csv)"))
    assert cli("evaluate", model, twice) == (2, "", said_twice)
    once.write_bytes(gzip.decompress(twice.read_bytes()))  # what zcat writes
    assert cli("convert", once, "-o", tmp_path / "o.h5")[0] == 0


@pytest.mark.parametrize("compress,name,tool,suffix", [(gzip.compress, "gzip", "zcat", ".gz"),
                                                       (__import__("lzma").compress, "xz", "xzcat", ".xz")])
def test_compressed_bytes_in_a_file_not_named_so_are_refused_saying_what_they_are(tmp_path, compress, name, tool,
                                                                                  suffix):
    """convert said "not UTF-8 text ...; convert it to UTF-8 first, e.g. iconv", and a name without an
    extension was "not an HDF5 file" to train, predict and evaluate: now each says what the bytes are and
    what to do, and the name it suggests converts."""
    text = "a,b,label\n" + "".join(f"{i % 5},{i % 3},{i % 2}\n" for i in range(40))
    (tmp_path / "d.csv").write_bytes(compress(text.encode()))
    (tmp_path / "d.svm").write_bytes(compress(b"1 1:2\n0 2:1\n"))
    (tmp_path / "d.npy").write_bytes(compress(b"\x93NUMPY"))
    (tmp_path / "export").write_bytes(compress(text.encode()))
    out = tmp_path / "o.h5"
    for path in ("d.csv", "d.svm"):
        assert cli("convert", tmp_path / path, "-o", out) == (
            2, "", f"sgdcli: error: {tmp_path / path}: looks {name}-compressed; give it a name ending in {suffix}, or "
                   f"decompress it with {tool}\n")
    assert cli("convert", tmp_path / "export", "-o", out, "--format", "csv")[2] == (
        f"sgdcli: error: {tmp_path / 'export'}: looks {name}-compressed; give it a name ending in {suffix}, or "
        f"decompress it with {tool}\n")
    assert cli("convert", tmp_path / "d.npy", "-o", out, "--label-column", "-1") == (
        2, "", f"sgdcli: error: {tmp_path / 'd.npy'}: looks {name}-compressed; a .npy file is memory-mapped, so "
               f"decompress it first ({tool} {tmp_path / 'd.npy'} > data.npy)\n")
    assert cli("convert", tmp_path / "export", "-o", out) == (
        2, "", f"sgdcli: error: {tmp_path / 'export'}: looks {name}-compressed, and its name says neither that nor "
               f"the format; give it a name ending in the format's suffix and {suffix} (such as data.csv{suffix})\n")
    model = _model(tmp_path, "a,b,label\n1,2,0\n2,1,1\n0,0,0\n3,3,1\n", label_column="label")
    assert cli("train", tmp_path / "export", "-o", out) == (
        2, "", f"sgdcli: error: {tmp_path / 'export'}: not an HDF5 file but {name}-compressed data; if it is "
               f"text that convert reads, give it a name ending in its format's suffix and {suffix} (such as "
               f"data.csv{suffix}): convert reads it as it is\n")
    # predict and evaluate read such text themselves, named so (they said "convert reads it as it is")
    for command in (["predict", model, tmp_path / "export", "-o", "-"], ["evaluate", model, tmp_path / "export"]):
        assert cli(*command) == (
            2, "", f"sgdcli: error: {tmp_path / 'export'}: not an HDF5 file but {name}-compressed data; if it is "
                   f"CSV or TSV text, give it a name ending in .csv{suffix} or .tsv{suffix} (such as "
                   f"data.csv{suffix}): {command[0]} reads it as it is, with a model trained on a converted CSV "
                   "file\n")
    os.rename(tmp_path / "export", tmp_path / f"data.csv{suffix}")
    assert cli("predict", model, tmp_path / f"data.csv{suffix}", "-o", "-")[0] == 0
    assert cli("evaluate", model, tmp_path / f"data.csv{suffix}")[0] == 0
    assert cli("convert", tmp_path / f"data.csv{suffix}", "-o", out)[0] == 0
    (tmp_path / "model.h5").write_bytes(compress(Path(model).read_bytes()))
    assert cli("predict", tmp_path / "model.h5", out, "-o", "-") == (
        2, "", f"sgdcli: error: {tmp_path / 'model.h5'}: is a {name}-compressed HDF5 file; decompress it first "
               f"({tool} {tmp_path / 'model.h5'} > new.h5)\n")


@pytest.mark.parametrize("hash_bits", [None, 6])
def test_new_csv_text_of_no_rows_is_refused_as_an_empty_hdf5_dataset_is(tmp_path, hash_bits):
    """A header and no rows printed a header of no predictions, and metrics that were all null, exit 0."""
    saved = _model(tmp_path, TRAIN, label_column="species", categorical="city", hash_bits=hash_bits)
    empty = tmp_path / "empty.csv"
    empty.write_text("x1,x2,city,species\n\n")
    with h5py.File(tmp_path / "empty.h5", "w") as f:
        f["X"] = np.zeros((0, 3), dtype=np.float32)
    hdf5 = cli("predict", saved, tmp_path / "empty.h5", "-o", "-")
    assert hdf5[0] == 2 and "is empty (shape (0, 3))" in hdf5[2]
    for command in (["predict", saved, empty, "-o", "-"], ["predict", saved, empty, "-o", tmp_path / "p.csv"],
                    ["evaluate", saved, empty]):
        assert cli(*command) == (2, "", f"sgdcli: error: {empty}: is empty (a header and no rows)\n")
    assert not (tmp_path / "p.csv").exists()
    ran = run("predict", saved, "-", "-o", "-", input="x1,x2,city\n")
    assert tuple(ran) == (2, "", "sgdcli: error: -: is empty (a header and no rows)\n")


def test_a_missing_label_column_is_named_as_the_label(tmp_path):
    """It said "the model was trained on it", as of a feature."""
    saved = _model(tmp_path, TRAIN, label_column="species", categorical="city")
    (tmp_path / "new.csv").write_text("x1,x2,city\n0.5,0.2,Paris\n")
    assert cli("predict", saved, tmp_path / "new.csv", "-o", "-")[0] == 0
    assert cli("evaluate", saved, tmp_path / "new.csv") == (
        2, "", f"sgdcli: error: {tmp_path / 'new.csv'}: no column 'species' in its header (x1, x2, city); it is the "
               "label the model was trained to predict, which evaluate scores the predictions against\n")


def test_class_names_in_messages_are_quoted_so_that_a_comma_in_one_is_not_a_list(tmp_path):
    """Class names were listed bare: 'a, b' and 'c' read as three classes."""
    text = "x,label\n" + "".join(f"{i % 7},\"{'a, b' if i % 2 else 'c'}\"\n" for i in range(20))
    saved = _model(tmp_path, text, label_column="label")
    (tmp_path / "new.csv").write_text('x,label\n1,"a, b"\n2,d\n')
    code, out, err = cli("evaluate", saved, tmp_path / "new.csv")  # the error after the line the pass starts with
    assert (code, out, err.splitlines()[-1]) == (
        2, "", f"sgdcli: error: {tmp_path / 'new.csv'}: line 3, column 2 (label): label 'd' is not one of the "
               "model's classes ('a, b', 'c')")
    for option in (["--positive-class", "d"], ["--class-weight", "d=2"]):
        code, _, err = cli("train", tmp_path / "train.h5", "-o", tmp_path / "m2.h5", "--batch-size", "4", *option)
        assert (code, err.strip().splitlines()[-1]) == (
            2, f"sgdcli: error: {option[0]}: {tmp_path / 'train.h5'}:y has no class 'd' (classes: 'a, b', 'c')")


@pytest.mark.parametrize("hash_bits", [None, 6])
def test_evaluate_names_a_refused_label_by_its_line_and_column_as_convert_names_a_bad_field(tmp_path, hash_bits):
    """It said "label 2 at row 2": the row's index among the data rows, where the file holds it on line 6 (after
    a header, a blank line and a field over two lines).  Read with hashed features, a missing label's error
    offered --bad-rows skip, which evaluate does not have."""
    text = "a,b,note,y\n" + "".join(f"{i % 5},{i % 3},n,{i % 2}\n" for i in range(16))
    saved = _model(tmp_path, text, label_column="y", ignore="note", hash_bits=hash_bits)
    new = tmp_path / "new.csv"
    for label, why in (("2", "label 2 is not one of the model's classes (0, 1)"),
                       ("-1", "label -1 is not one of the model's classes (0, 1)"),
                       ("inf", "non-finite label (inf)"), ("", "missing label")):
        new.write_text(f'a,b,note,y\n1,2,n,0\n\n2,3,"two\nlines",1\n3,1,n,{label}\n4,1,n,5\n')
        assert cli("evaluate", saved, new)[::2] == (2, f"sgdcli: error: {new}: line 6, column 4 (y): {why}\n")
    model = train(tmp_path / "train.h5", TrainOptions(model="poisson", epochs=2, batch_size=4))
    model.save(tmp_path / "poisson.h5")
    assert cli("evaluate", tmp_path / "poisson.h5", new)[::2] == (2, f"sgdcli: error: {new}: line 6, column 4 (y): "
                                                                     "missing label\n")
    new.write_text("a,b,note,y\n1,2,n,0\n\n3,1,n,-1\n")
    assert cli("evaluate", tmp_path / "poisson.h5", new)[::2] == (
        2, f"sgdcli: error: {new}: line 4, column 4 (y): a poisson model's targets are counts (>= 0); found -1\n")
    # the earlier of a refused label and a row that cannot be read is the error, either way round
    new.write_text("a,b,note,y\n1,2,n,0\n3,1,n,2\n4,1,n\n")
    assert cli("evaluate", saved, new)[::2] == (2, f"sgdcli: error: {new}: line 3, column 4 (y): label 2 is not one "
                                                   "of the model's classes (0, 1)\n")
    new.write_text("a,b,note,y\n1,2,n,0\n4,1,n\n3,1,n,2\n")
    code, _, err = cli("evaluate", saved, new)  # (the tokenizer's rows before it go first: a progress line)
    assert (code, err.splitlines()[-1]) == (2, f"sgdcli: error: {new}: line 3: 3 fields, expected 4")


@pytest.mark.parametrize("hash_bits", [None, 6])
def test_a_header_that_names_a_models_column_twice_is_refused_as_convert_refuses_it(tmp_path, hash_bits):
    """predict and evaluate read the last column of the name, exit 0: every row scored from the wrong column."""
    saved = _model(tmp_path, TRAIN, label_column="species", categorical="city", hash_bits=hash_bits)
    new = pd.read_csv(tmp_path / "train.csv").head(6)
    twice = tmp_path / "twice.csv"
    new.assign(x9=99.0)[["x1", "x2", "city", "x9", "species"]].to_csv(
        twice, index=False, header=["x1", "x2", "city", "x1", "species"])
    message = (f"sgdcli: error: {twice}: line 1: the header names column 'x1' twice (columns 0 and 3); give the "
               "columns names of their own\n")
    assert cli("convert", twice, "-o", tmp_path / "twice.h5", "--label-column", "species") == (2, "", message)
    for command in (["predict", saved, twice, "-o", "-"], ["evaluate", saved, twice]):
        assert cli(*command) == (2, "", message)
    piped = run("predict", saved, "-", "-o", "-", input=twice.read_text())
    assert tuple(piped) == (2, "", message.replace(str(twice), "-"))
    # a column the model does not read may be named twice, and so may the label where predict does not read it
    new.to_csv(tmp_path / "new.csv", index=False)
    want = cli("predict", saved, tmp_path / "new.csv", "-o", "-", "--proba")[:2]
    assert want[0] == 0 and len(want[1].splitlines()) == 7
    unread = tmp_path / "unread.csv"
    new.assign(a=1, b=2, s="x")[["a", "x2", "b", "species", "city", "x1", "s"]].to_csv(
        unread, index=False, header=["note", "x2", "note", "species", "city", "x1", "species"])
    assert cli("predict", saved, unread, "-o", "-", "--proba")[:2] == want
    assert cli("evaluate", saved, unread) == (
        2, "", f"sgdcli: error: {unread}: line 1: the header names column 'species' twice (columns 3 and 6); give "
               "the columns names of their own\n")


OWED = ("; the model owes a prediction for every row: give the field a finite value, or leave the row out of the "
        "input")


@pytest.mark.parametrize("hash_bits", [None, 6])
def test_a_feature_that_is_no_finite_float32_is_refused_naming_its_line_and_column(tmp_path, hash_bits):
    """inf, NAN (NaN, but not spelled as a missing value) and 1e39 (infinite in float32) were scored: predictions of
    NaN probabilities or all of one class, NaN metrics that passed --fail-under, exit 0, and NumPy's "overflow
    encountered in cast" on stderr; the same rows in HDF5 are refused."""
    saved = _model(tmp_path, TRAIN, label_column="species", categorical="city", hash_bits=hash_bits)
    new = pd.read_csv(tmp_path / "train.csv").head(4).astype({"x2": object})
    bad = tmp_path / "bad.csv"
    for value, text, why in ((np.inf, "inf", ""), (-np.inf, "-inf", ""),
                             ("NAN", "NAN", " (NaN, not one of the missing values the model's training data was "
                                            "converted with)"),
                             (1e39, "1e+39", " (beyond float32's range of ±3.4e38: features are read as float32)")):
        new.assign(x2=[0.5, 0.25, value, 0.75]).to_csv(bad, index=False)
        message = f"sgdcli: error: {bad}: line 4, column 2 (x2): non-finite feature value '{text}'{why}{OWED}\n"
        for command in (["predict", saved, bad, "-o", "-", "--proba"],
                        ["predict", saved, bad, "-o", tmp_path / "p.csv"],
                        ["evaluate", saved, bad, "--fail-under", "accuracy=0.1"]):
            assert cli(*command) == (2, "", message)
        assert not (tmp_path / "p.csv").exists()
        piped = run("evaluate", saved, "-", "--json", input=bad.read_text())
        assert tuple(piped) == (2, "", message.replace(str(bad), "-"))
    convert(bad, tmp_path / "bad.h5", label_column="species", categorical="city", hash_bits=hash_bits, dtype="float64")
    code, _, err = cli("evaluate", saved, tmp_path / "bad.h5")
    assert code == 2 and "non-finite feature value at row 2" in err


def test_a_missing_value_that_has_a_fill_is_read_as_the_fill_and_nan_spelled_otherwise_is_not(tmp_path):
    """A missing value is read as the model's fill; 'NAN' and 'inf' are no missing values (not in --na-values)."""
    saved = _model(tmp_path, TRAIN, label_column="species", categorical="city", missing="zero")
    new = pd.read_csv(tmp_path / "train.csv").head(4)
    new.assign(x2=[0.5, 0.25, 0.0, 0.75]).to_csv(tmp_path / "zero.csv", index=False)
    want = cli("predict", saved, tmp_path / "zero.csv", "-o", "-", "--proba")[:2]
    assert want[0] == 0 and len(want[1].splitlines()) == 5
    for na_rep in ("", "NaN", "NA"):  # pandas' spellings of a missing value, all missing by default
        new.assign(x2=[0.5, 0.25, np.nan, 0.75]).to_csv(tmp_path / "gap.csv", index=False, na_rep=na_rep)
        assert cli("predict", saved, tmp_path / "gap.csv", "-o", "-", "--proba")[:2] == want
    for na_rep, why in (("NAN", " (NaN, not one of the missing values the model's training data was converted with)"),
                        ("inf", "")):
        new.assign(x2=[0.5, 0.25, np.nan, 0.75]).to_csv(tmp_path / "gap.csv", index=False, na_rep=na_rep)
        assert cli("predict", saved, tmp_path / "gap.csv", "-o", "-") == (
            2, "", f"sgdcli: error: {tmp_path / 'gap.csv'}: line 4, column 2 (x2): non-finite feature value "
                   f"'{na_rep}'{why}{OWED}\n")


def test_new_rows_of_a_headerless_model_with_a_column_more_are_refused(tmp_path):
    """Without a header the columns are read by position: a next export with a new first column (an id) was
    scored with every feature read from its neighbour, exit 0."""
    import pandas as pd

    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3)).round(4)
    frame = pd.DataFrame(X)
    frame["y"] = (X[:, 0] > 0).astype(int)
    frame.to_csv(tmp_path / "nh.csv", index=False, header=False)
    convert(str(tmp_path / "nh.csv"), str(tmp_path / "nh.h5"), header=False, label_column="3")
    train(str(tmp_path / "nh.h5"), TrainOptions(epochs=1)).save(tmp_path / "m.h5")
    frame.drop(columns="y").to_csv(tmp_path / "new.csv", index=False, header=False)  # the label left out: fine
    assert cli("predict", tmp_path / "m.h5", tmp_path / "new.csv", "-o", "-")[0] == 0
    frame.insert(0, "id", 7)
    frame.to_csv(tmp_path / "extra.csv", index=False, header=False)
    for argv in (["predict", tmp_path / "m.h5", tmp_path / "extra.csv", "-o", "-"],
                 ["evaluate", tmp_path / "m.h5", tmp_path / "extra.csv"]):
        assert cli(*argv) == (2, "", f"sgdcli: error: {tmp_path / 'extra.csv'}: line 1 has 5 fields, the model's "
                                     "training file had 4; without a header its columns are read by position, so "
                                     "a column added to the file would shift every column after it: give the file "
                                     "the training file's columns\n")


def test_a_model_trained_on_some_encoded_columns_scores_the_raw_csv(tmp_path):
    """train --features b,cat=x,a on a converted CSV: the CSV was refused ('its columns make 7 features but the
    model has 3'), where the converted file was scored."""
    import pandas as pd

    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"a": rng.normal(size=600).round(3), "b": rng.normal(size=600).round(3),
                          "cat": rng.choice(["x", "y", "z", "w"], 600)})
    frame["y"] = (frame.b + rng.normal(size=600) > 0).astype(int)
    frame.to_csv(tmp_path / "g.csv", index=False)
    convert(str(tmp_path / "g.csv"), str(tmp_path / "g.h5"), categorical="cat")
    assert cli("train", tmp_path / "g.h5", "-o", tmp_path / "m.h5", "--features", "b,cat=x,a", "--epochs", "1",
               "-q")[0] == 0
    for data in ("g.h5", "g.csv"):
        code, out, err = cli("predict", tmp_path / "m.h5", tmp_path / data, "-o", tmp_path / f"{data}.csv")
        assert code == 0, err
    assert (tmp_path / "g.h5.csv").read_bytes() == (tmp_path / "g.csv.csv").read_bytes()
    assert cli("evaluate", tmp_path / "m.h5", tmp_path / "g.csv")[1] == cli("evaluate", tmp_path / "m.h5",
                                                                           tmp_path / "g.h5")[1]


@pytest.mark.parametrize("na_rep", ["", "NA"])
@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("engine", ["python", "pyarrow"])
@pytest.mark.parametrize("gaps", [["x1", "x2", "x3"], ["x2"]])
def test_first_rows_of_missing_values_are_data_and_a_header_of_names_is_a_header(tmp_path, na_rep, header, engine,
                                                                                  gaps):
    """pandas' to_csv of a frame whose first rows are NaN (written empty, or na_rep="NA"): a headerless file's
    first line was taken for a header, refused where it named '' or 'NA' twice, and where one field was
    missing read silently as names (a row lost, features named '1.62'); with pandas' header, the names are
    the header. Read as pandas reads it back."""
    if engine == "pyarrow":
        pytest.importorskip("pyarrow")
    rng = np.random.default_rng(8)
    frame = pd.DataFrame(rng.standard_normal((60, 3)), columns=["x1", "x2", "x3"])
    frame["label"] = (frame["x1"] > 0).astype(int)
    frame.loc[:2, gaps] = np.nan
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False, header=header, na_rep=na_rep)
    assert path.read_text().splitlines()[header].split(",")[1] == na_rep
    back = pd.read_csv(path, header=0 if header else None)
    code, _, err = cli("convert", path, "-o", tmp_path / "o.h5", "--missing", "zero", "--engine", engine)
    assert code == 0, err
    with h5py.File(tmp_path / "o.h5") as f:
        np.testing.assert_array_equal(f["X"][()], back.iloc[:, :3].fillna(0).to_numpy(np.float32))
        np.testing.assert_array_equal(f["y"][()], back.iloc[:, 3].to_numpy(np.float64))
        assert list(f["X"].attrs.get("feature_names", [])) == (["x1", "x2", "x3"] if header else [])


@pytest.mark.parametrize("engine", ["python", "pyarrow"])
def test_pandas_header_of_its_index_and_default_column_names_is_a_header(tmp_path, engine):
    """``pd.DataFrame(array).to_csv(path)`` writes the header ``,0,1,2,3`` (the index unnamed, the columns
    numbered): only its first field is no number, and that one is a missing value's spelling, so it was read as
    a row of data (refused, or with --missing zero trained on as a row)."""
    if engine == "pyarrow":
        pytest.importorskip("pyarrow")
    rng = np.random.default_rng(8)
    frame = pd.DataFrame(rng.standard_normal((60, 3)).round(3))
    frame[3] = (frame[0] > 0).astype(int)
    frame.to_csv(tmp_path / "default.csv")
    assert (tmp_path / "default.csv").read_text().splitlines(True)[0] == ",0,1,2,3\n"
    code, _, err = cli("convert", tmp_path / "default.csv", "-o", tmp_path / "o.h5", "--missing", "zero",
                       "--engine", engine)
    assert code == 0, err
    with h5py.File(tmp_path / "o.h5") as f:
        np.testing.assert_array_equal(f["X"][()], frame.reset_index().iloc[:, :4].to_numpy(np.float32))
        np.testing.assert_array_equal(f["y"][()], frame[3].to_numpy(np.float64))
        assert list(f["X"].attrs["feature_names"]) == ["", "0", "1", "2"]
    # its row index is read as a feature, which convert says, with how to leave it out: "--ignore 0" would name
    # the column "0", so by its index from the end
    assert err == (f"sgdcli: warning: {tmp_path / 'default.csv'}: column 0 has no name in the header, as pandas' "
                   "to_csv writes its row index; it is read as a feature: --ignore -5 leaves it out (or write the "
                   "file with index=False)\n")
    code, _, err = cli("convert", tmp_path / "default.csv", "-o", tmp_path / "o.h5", "--ignore", "-5")
    assert (code, err) == (0, "")
    with h5py.File(tmp_path / "o.h5") as f:
        np.testing.assert_array_equal(f["X"][()], frame.iloc[:, :3].to_numpy(np.float32))


@pytest.mark.parametrize("engine", ["python", "pyarrow"])
def test_pandas_header_of_default_column_names_without_its_index_is_a_header(tmp_path, engine):
    """``pd.DataFrame(array).to_csv(path, index=False)``, what the warning above advises, writes the header
    ``0,1,2,3``: all numbers, so it was read as a row of data, a phantom row of label 3 (a phantom class of a
    classifier), and predict on rows written so wrote a prediction for it, every later one a line off its row."""
    if engine == "pyarrow":
        pytest.importorskip("pyarrow")
    rng = np.random.default_rng(8)
    frame = pd.DataFrame(rng.standard_normal((60, 3)).round(3))
    frame[3] = (frame[0] > 0).astype(int)
    frame.to_csv(tmp_path / "plain.csv", index=False)
    assert (tmp_path / "plain.csv").read_text().splitlines(True)[0] == "0,1,2,3\n"
    code, _, err = cli("convert", tmp_path / "plain.csv", "-o", tmp_path / "o.h5", "--engine", engine)
    # (numbers alone may be a row of data: it says so, and how to keep it)
    assert (code, err) == (0, f"sgdcli: warning: {tmp_path / 'plain.csv'}: line 1 (0,1,2,3) is read as a header, "
                              "pandas' names of numbered columns (to_csv(index=False) of a frame without column "
                              "names); give --no-header if it is a row of data, --header to say it is a header\n")
    assert cli("convert", tmp_path / "plain.csv", "-o", tmp_path / "o.h5", "--engine", engine, "--header")[::2] == (
        0, "")
    with h5py.File(tmp_path / "o.h5") as f:
        np.testing.assert_array_equal(f["X"][()], frame.iloc[:, :3].to_numpy(np.float32))
        np.testing.assert_array_equal(f["y"][()], frame[3].to_numpy(np.float64))
        assert list(f["X"].attrs["feature_names"]) == ["0", "1", "2"]
    assert cli("train", tmp_path / "o.h5", "-o", tmp_path / "m.h5", "--model", "softmax", "-q")[0] == 0
    assert json.loads(cli("show", tmp_path / "m.h5", "--json")[1])["classes"] == [0, 1]
    frame.iloc[:5, :3].to_csv(tmp_path / "new.csv", index=False)  # new rows, written the same way
    code, out, _ = cli("predict", tmp_path / "m.h5", tmp_path / "new.csv", "-o", "-", "-q")
    assert code == 0 and len(out.splitlines()) == 1 + 5
    assert cli("convert", tmp_path / "plain.csv", "-o", tmp_path / "rows.h5", "--no-header")[0] == 0
    with h5py.File(tmp_path / "rows.h5") as f:  # --no-header: the line is data, as given
        assert f["X"].shape == (61, 3)


def test_an_unnamed_first_column_is_said_to_be_read_as_a_feature(tmp_path):
    """pandas' to_csv of a frame with named columns writes its row index as an unnamed first column, which was
    trained on as a feature named "" without a word."""
    frame = pd.DataFrame({"a": [1.5, 2.5, 3.5], "b": [2.0, 1.0, 0.0], "y": [0, 1, 0]}, index=[7, 8, 9])
    frame.to_csv(tmp_path / "i.csv")
    code, out, err = cli("convert", tmp_path / "i.csv", "-o", tmp_path / "o.h5")
    assert (code, err) == (0, f"sgdcli: warning: {tmp_path / 'i.csv'}: column 0 has no name in the header, as "
                              "pandas' to_csv writes its row index; it is read as a feature: --ignore 0 leaves it "
                              "out (or write the file with index=False)\n")
    assert cli("convert", tmp_path / "i.csv", "-o", tmp_path / "o.h5", "--ignore", "0")[::2] == (0, "")
    with h5py.File(tmp_path / "o.h5") as f:
        assert list(f["X"].attrs["feature_names"]) == ["a", "b"]


@pytest.mark.parametrize("args", [["--ignore", "note"], ["--categorical", "note"]])
def test_a_field_over_the_csv_modules_limit_is_read(tmp_path, args):
    """Python's csv module, which reads convert's first pass (means, categories), refused a field over 128 KiB
    ("field larger than field limit (131072)", naming no column), where the tokenizer and pandas read it."""
    long = "word " * 30_000
    path = tmp_path / "long.csv"
    path.write_text(f'a,note,y\n1,"{long}",0\n2,short,1\n,short,0\n')
    code, _, err = cli("convert", path, "-o", tmp_path / "o.h5", *args, "--missing", "mean", "-q")
    assert (code, err) == (0, "")
    frame = pd.read_csv(path)
    assert frame["note"][0] == long  # as pandas reads it
    with h5py.File(tmp_path / "o.h5") as f:
        np.testing.assert_array_equal(f["X"][:, 0], [1.0, 2.0, 1.5])
        if "--categorical" in args:  # the long value a category of its own
            assert f["X"].shape[1] > 1 and f["X"][0, 1:].tolist() != f["X"][1, 1:].tolist()


def test_a_line_of_spaces_or_tabs_is_blank(tmp_path):
    """An editor's trailing line of spaces, or a tab, was refused as "1 fields, expected 3" by convert (and by
    predict, one prediction short), where pandas, convert's first pass and --hash-bits skip it as blank."""
    path = tmp_path / "ws.csv"
    path.write_text("a,b,y\n1,2,0\n   \n3,4,1\n\t\n5,6,0\n  \r\n")
    frame = pd.read_csv(path)
    assert frame.shape == (3, 3)  # as pandas reads it
    for args in ([], ["--missing", "mean"]):  # the tokenizer, and the first pass before it
        assert cli("convert", path, "-o", tmp_path / "o.h5", *args)[::2] == (0, "")
        with h5py.File(tmp_path / "o.h5") as f:
            np.testing.assert_array_equal(f["X"][()], frame[["a", "b"]].to_numpy(np.float32))
            np.testing.assert_array_equal(f["y"][()], frame["y"].to_numpy(np.float64))
    assert cli("train", tmp_path / "o.h5", "-o", tmp_path / "m.h5", "-q", "--epochs", "1", "--batch-size",
               "full")[0] == 0
    code, out, err = cli("predict", tmp_path / "m.h5", path, "-o", "-", "-q")
    assert (code, len(out.splitlines())) == (0, 1 + 3), err


def test_a_number_with_a_no_break_space_is_text_as_pandas_reads_it(tmp_path):
    """A number takes ASCII spaces around it alone, as pandas' parser reads one; the label's line said the label
    column is read as numbers "as its first 1,000 rows' labels are", the row among them (their check strips
    labels as names are stripped, a no-break space too)."""
    path = tmp_path / "n.csv"
    path.write_text("a,b,y\n1,\u00a02,0\n3,4,1\n")
    assert isinstance(pd.read_csv(path)["b"][0], str)  # text to pandas
    code, _, err = cli("convert", path, "-o", tmp_path / "o.h5")
    assert code == 2 and "line 2, column 2 (b): cannot read '\\xa02' as a number" in err, err
    path.write_text("a,b,y\n1,2,\u00a00.5\n3,4,1.5\n")
    assert cli("convert", path, "-o", tmp_path / "o.h5") == (
        2, "", f"sgdcli: error: {path}: line 2, column 3 (y): cannot read '\\xa00.5' as a number: a number has no "
               "space around it but ASCII's (this one has a no-break space or another Unicode space) (--bad-rows "
               "skip leaves such rows out)\n")


def test_rows_without_the_label_column_of_a_label_first_model_are_told_to_keep_its_place(tmp_path):
    """A model of a file without a header whose label is column 0 reads new rows by position: rows of the
    features alone were "no column '3' in its 3 columns", with nothing of why."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3)).round(3)
    np.savetxt(tmp_path / "train.csv", np.c_[X @ [3.0, -2.0, 1.0], X], delimiter=",", fmt="%.4f")
    np.savetxt(tmp_path / "new.csv", X[:3], delimiter=",", fmt="%.4f")
    (tmp_path / "kept.csv").write_text("".join("," + ",".join(f"{v:.4f}" for v in row) + "\n" for row in X[:3]))
    assert cli("convert", tmp_path / "train.csv", "-o", tmp_path / "t.h5", "--label-column", "0", "-q")[0] == 0
    assert cli("train", tmp_path / "t.h5", "-o", tmp_path / "m.h5", "--model", "linear", "--batch-size", "full",
               "-q")[0] == 0
    assert cli("predict", tmp_path / "m.h5", tmp_path / "new.csv", "-o", "-", "-q") == (
        2, "", f"sgdcli: error: {tmp_path / 'new.csv'}: no column '3' in its 3 columns; the model was trained on it; "
               "without a header columns are read by position, and the training file's column 0 was the label: keep "
               "that column in its place, empty where the label is not known\n")
    code, out, _ = cli("predict", tmp_path / "m.h5", tmp_path / "kept.csv", "-o", "-", "-q")
    assert code == 0 and len(out.splitlines()) == 1 + 3


def test_a_line_of_spaces_in_a_file_of_one_column_is_a_field_and_in_others_blank_to_the_sniffer_too(tmp_path):
    """In a file of one column a line of spaces is a (missing) field, whose row predict owes a prediction: taken
    for a blank line, it was skipped, every later prediction a line off its row.  In files of ';' or tabs, such
    a line made the delimiter's detection fail (exit 2, naming no such line)."""
    (tmp_path / "one.csv").write_text("a,y\n1,0\n2,1\n3,0\n4,1\n")
    assert cli("convert", tmp_path / "one.csv", "-o", tmp_path / "one.h5", "-q")[0] == 0
    assert cli("train", tmp_path / "one.h5", "-o", tmp_path / "m.h5", "-q", "--batch-size", "full")[0] == 0
    (tmp_path / "new.csv").write_text("a\n1\n   \n2\n")
    code, out, err = cli("predict", tmp_path / "m.h5", tmp_path / "new.csv", "-o", "-", "-q")
    assert (code, out) == (2, "") and "line 3, column 1 (a): missing value ''" in err, err
    for sep in (";", "\t"):
        (tmp_path / "s.csv").write_text(f"a{sep}b{sep}y\n1{sep}2{sep}0\n   \n3{sep}4{sep}1\n")
        assert cli("convert", tmp_path / "s.csv", "-o", tmp_path / "s.h5")[::2] == (0, ""), sep
        with h5py.File(tmp_path / "s.h5") as f:
            assert f["X"][()].tolist() == [[1, 2], [3, 4]]


def test_a_two_column_files_first_line_of_0_and_1_is_data(tmp_path):
    """A binary label's file of one feature, without a header, often starts 0,1: it was taken for pandas' header
    of numbered columns (from three columns on, 0,1,2,... alone is: test above), its row lost."""
    (tmp_path / "d.csv").write_text("0,1\n1,0\n1,1\n")
    assert cli("convert", tmp_path / "d.csv", "-o", tmp_path / "d.h5")[::2] == (0, "")
    with h5py.File(tmp_path / "d.h5") as f:
        assert f["X"][:, 0].tolist() == [0, 1, 1] and f["y"][()].tolist() == [1, 0, 1]


@pytest.mark.parametrize("field", ["1 234,5 ", "  ,5", " 12 345 ", "1 234,5"])
def test_a_space_thousands_separator_with_spaces_around_the_number_is_read_as_pandas_reads_it(tmp_path, field):
    """Spaces around a number are no separators: the Python reader took them for misplaced ones, and the field
    for text (left out of --missing mean's fill, a header, a text feature under --hash-bits)."""
    path = tmp_path / "t.csv"
    path.write_text(f'a;b;y\n"{field}";1;0\n;2;1\n2;2;1\n')
    expected = pd.read_csv(path, sep=";", thousands=" ", decimal=",")["a"]
    code, _, err = cli("convert", path, "-o", tmp_path / "t.h5", "--thousands", " ", "--decimal", ",", "--dtype",
                       "float64", "--missing", "mean")
    assert code == 0, err
    with h5py.File(tmp_path / "t.h5") as f:  # the missing value filled by the mean of the others, as pandas reads them
        assert f["X"][:, 0].tolist() == [expected[0], expected.mean(), 2.0]
