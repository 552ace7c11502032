"""predict -o: HDF5, CSV, TSV (gzip-compressed too) and CSV on stdout, the same values in each."""

import csv
import gzip
import io
import os

import h5py
import numpy as np
import pytest

from conftest import cli, make_problem, short_fits, write_table


@pytest.fixture
def trained(tmp_path):
    X, y = make_problem("multiclass", n=2500, d=5, k=3, seed=6)
    data = write_table(tmp_path / "d.h5", X, y + 10, chunks=400)  # classes 10, 11, 12
    code, out, err = cli("train", data, "-o", tmp_path / "m.h5", "--model", "softmax", "--epochs", "2", "-q",
                         "--memory", "1M")
    assert code == 0, err
    code, out, err = cli("predict", tmp_path / "m.h5", data, "-o", tmp_path / "p.h5", "--proba", "--memory", "1M")
    assert code == 0, err
    with h5py.File(tmp_path / "p.h5") as f:
        return tmp_path / "m.h5", data, f["prediction"][()], f["proba"][()]


def test_probabilities_are_stored_in_chunks_of_whole_rows(trained, tmp_path):
    """h5py's guess cut the (rows × classes) probabilities into one-column chunks, which sgdcli (and any reader
    of rows) reads through HDF5 rather than memory-mapped."""
    with h5py.File(tmp_path / "p.h5") as f:
        assert f["proba"].chunks == (2500, 3)  # (about 1 MiB of rows, at most the rows there are)
    code, out, err = cli("info", tmp_path / "p.h5")
    assert "proba: shape 2500×3, float64, chunked, chunks 2500×3" in out and "read memory-mapped" in out, out


def test_probabilities_of_text_rows_are_stored_in_chunks_of_about_a_mebibyte_of_rows(tmp_path):
    """Rows read from CSV text, whose count is not known before the end, were left to h5py's guess: 512 rows of
    8 KiB, 391 chunks for 200,000 rows, where the docs (model-format.md) say about 1 MiB."""
    from sgdcli.data.storage import chunk_rows_for

    rows = "".join(f"{i % 7},{i % 3},{'ab'[i % 2]}\n" for i in range(70000))  # more than a chunk's
    (tmp_path / "d.csv").write_text("a,b,y\n" + rows)
    assert cli("convert", tmp_path / "d.csv", "-o", tmp_path / "d.h5", "-q")[0] == 0
    assert cli("train", tmp_path / "d.h5", "-o", tmp_path / "m.h5", "-q", "--epochs", "1")[0] == 0
    code, _, err = cli("predict", tmp_path / "m.h5", tmp_path / "d.csv", "-o", tmp_path / "p.h5", "--proba", "-q")
    assert code == 0, err
    with h5py.File(tmp_path / "p.h5") as f:
        assert f["proba"].shape == (70000, 2) and f["proba"].chunks == (chunk_rows_for(2, 8), 2)
        proba = f["proba"][()]
    # blocks of fewer rows than a chunk's, held until a chunk's worth has come, then written with the rest
    code, _, err = cli("predict", tmp_path / "m.h5", tmp_path / "d.csv", "-o", tmp_path / "q.h5", "--proba", "-q",
                       "--memory", "1M")
    assert code == 0, err
    with h5py.File(tmp_path / "q.h5") as f:
        assert f["proba"].chunks == (chunk_rows_for(2, 8), 2)
        np.testing.assert_array_equal(f["proba"][()], proba)


def test_probabilities_of_a_few_text_rows_take_a_chunk_of_those_rows(tmp_path):
    """A chunk is allocated whole: chunks of a MiB of rows made the probabilities of 3 rows of CSV a 1 MB file.
    The chunk is the first block's rows where that is less, and every block is written whole after it."""
    (tmp_path / "d.csv").write_text("a,b,y\n1,2,0\n3,1,1\n2,2,0\n")
    assert cli("convert", tmp_path / "d.csv", "-o", tmp_path / "d.h5", "-q")[0] == 0
    code, _, err = cli("train", tmp_path / "d.h5", "-o", tmp_path / "m.h5", "-q", "--batch-size", "full",
                       "--epochs", "1")
    assert code == 0, err
    code, _, err = cli("predict", tmp_path / "m.h5", tmp_path / "d.csv", "-o", tmp_path / "p.h5", "--proba", "-q")
    assert code == 0, err
    with h5py.File(tmp_path / "p.h5") as f:
        assert f["proba"].shape == (3, 2) and f["proba"].chunks == (3, 2)
        np.testing.assert_allclose(f["proba"][()].sum(axis=1), 1)
    assert os.path.getsize(tmp_path / "p.h5") < 64 * 1024



def read_text(text: str, sep: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(text), delimiter=sep))
    return rows[0], rows[1:]


@pytest.mark.parametrize("name,sep", [("p.csv", ","), ("p.tsv", "\t"), ("p.txt", "\t"), ("p.csv.gz", ","),
                                      ("p.TSV.GZ", "\t"), ("p.gz", "\t")])
def test_text_predictions_equal_the_hdf5_ones(tmp_path, trained, name, sep):
    """As CSV or TSV text, and gzip-compressed where the name ends in .gz (the stdlib's gzip reads it)."""
    model, data, pred, proba = trained
    extra = ["--format", "tsv"] if name in ("p.txt", "p.gz") else []
    code, out, err = cli("predict", model, data, "-o", tmp_path / name, "--proba", "--memory", "1M", *extra)
    assert code == 0, err
    assert out == f"wrote {tmp_path / name}: 2500 predictions\n"
    stored = (tmp_path / name).read_bytes()
    text = gzip.decompress(stored).decode() if name.lower().endswith(".gz") else stored.decode()
    assert stored.startswith(b"\x1f\x8b") == name.lower().endswith(".gz")
    header, rows = read_text(text, sep)
    assert header == ["prediction", "proba_10", "proba_11", "proba_12"]
    assert len(rows) == 2500
    np.testing.assert_array_equal([int(r[0]) for r in rows], pred)
    np.testing.assert_array_equal(np.array([[float(v) for v in r[1:]] for r in rows]), proba)  # 17 digits: exact
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []


def test_predictions_on_stdout_are_csv_and_nothing_else(trained):
    model, data, pred, _ = trained
    code, out, err = cli("predict", model, data, "-o", "-", "--memory", "1M")
    assert code == 0, err
    header, rows = read_text(out, ",")
    assert header == ["prediction"] and len(rows) == 2500
    np.testing.assert_array_equal([int(r[0]) for r in rows], pred)


def test_regression_predictions_read_back_exactly(tmp_path, regression_file):
    assert cli("train", regression_file, "-o", tmp_path / "m.h5", "--model", "linear", "--epochs", "1", "-q")[0] == 0
    assert cli("predict", tmp_path / "m.h5", regression_file, "-o", tmp_path / "p.h5")[0] == 0
    code, out, err = cli("predict", tmp_path / "m.h5", regression_file, "-o", "-")
    assert code == 0, err
    with h5py.File(tmp_path / "p.h5") as f:
        expected = f["prediction"][()]
    header, rows = read_text(out, ",")
    np.testing.assert_array_equal([float(r[0]) for r in rows], expected)


def test_compressed_predictions_of_the_same_rows_are_the_same_bytes(tmp_path, trained):
    """Nothing of the run (no time, no name) is in the gzip header: a nightly job's unchanged predictions leave an
    unchanged file."""
    model, data, _, _ = trained
    for name in ("a.csv.gz", "b.csv.gz"):
        assert cli("predict", model, data, "-o", tmp_path / name, "--proba")[0] == 0
    assert (tmp_path / "a.csv.gz").read_bytes() == (tmp_path / "b.csv.gz").read_bytes()


@pytest.mark.parametrize("args,message", [
    (["-o", "{tmp}/p.txt"], "-o {tmp}/p.txt: cannot tell the format from the extension '.txt'; use .h5, .csv or "
                            ".tsv (.csv.gz, .tsv.gz: compressed), or say which with --format {{hdf5,csv,tsv}}"),
    (["-o", "{tmp}/p.h5.gz"], "-o {tmp}/p.h5.gz: compressed predictions are CSV or TSV text: name them .csv.gz or "
                              ".tsv.gz, or say which with --format {{csv,tsv}}"),
    (["-o", "{tmp}/p.csv.gz", "--format", "hdf5"], "-o {tmp}/p.csv.gz: a .gz name is for compressed text (.csv.gz, "
                                                   ".tsv.gz), not hdf5"),
    (["-o", "-", "--format", "hdf5"], "-o -: standard output takes csv or tsv, not hdf5"),
    (["-o", "{tmp}/p.csv", "--format", "json"], "Invalid value for '--format': 'json' is not one of"),
])
def test_output_formats_that_cannot_be_written_are_usage_errors(tmp_path, trained, args, message):
    model, data, _, _ = trained
    args = [a.format(tmp=tmp_path) for a in args]
    code, out, err = cli("predict", model, data, *args)
    assert code == 2 and message.format(tmp=tmp_path) in err, err
    assert not (tmp_path / "p.txt").exists() and not (tmp_path / "p.csv").exists()


def test_a_failed_text_prediction_leaves_no_file(tmp_path, trained):
    model, _, _, _ = trained
    X, _ = make_problem("multiclass", n=500, d=5, seed=1)
    X[300, 2] = np.nan
    bad = write_table(tmp_path / "bad.h5", X)
    code, out, err = cli("predict", model, bad, "-o", tmp_path / "p.csv")
    assert code == 2 and "row 300" in err, err
    assert not (tmp_path / "p.csv").exists()
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []


def test_a_prediction_on_stdout_that_fails_in_its_first_block_prints_nothing(tmp_path, trained):
    """The header was printed before the first block was read: a NaN in it, or a --memory too small for the
    model, left a reader of standard output a CSV of no rows.  Nothing is printed now."""
    model, _, _, _ = trained
    X, _ = make_problem("multiclass", n=500, d=5, seed=1)
    X[10, 2] = np.nan
    for data, memory in ((write_table(tmp_path / "bad.h5", X), "1M"), (write_table(tmp_path / "ok.h5", X[:5]), "1K")):
        code, out, err = cli("predict", model, data, "-o", "-", "--memory", memory)
        assert (code, out) == (2, ""), err


def test_scoring_passes_say_they_started_and_then_report_at_most_every_interval(trained):
    """A pass over a big file is never silent: a line as it starts (within its first second), then plain,
    rate-limited lines."""
    import io

    from sgdcli.reporting.plain import PassProgress

    model, data, _, _ = trained
    for argv, what in ((["predict", model, data, "-o", "-"], "predicting"), (["evaluate", model, data], "evaluating on")):
        code, out, err = cli(*argv)
        assert code == 0 and err.splitlines()[0].endswith(f"{what} {data}: 2,500 rows"), err
    now = [0.0]
    stream = io.StringIO()
    progress = PassProgress(stream, "scoring x.h5", interval=5.0, clock=lambda: now[0])
    for done, t in ((0, 0.0), (100, 1.0), (200, 6.0), (300, 7.0), (400, 12.0), (1000, 13.0)):
        now[0] = t
        progress(done, 1000)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and lines[0].endswith("scoring x.h5: 1,000 rows")
    assert "scoring x.h5: 200 of 1,000 rows (20%)" in lines[1] and "\x1b" not in stream.getvalue()


@short_fits  # (a short fit's warnings)
def test_a_class_of_real_numbers_is_written_in_the_prediction_column_as_in_the_header(tmp_path):
    """0.3 was written 0.29999999999999999 in the prediction column and 0.3 in proba_0.3: sort | uniq -c and joins
    on the label text saw another class than the header and the training labels."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(500, 3)).astype(np.float32)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["X"], f["y"] = X, np.where(X[:, 0] > 0, 0.1, 0.3)
    assert cli("train", tmp_path / "d.h5", "-o", tmp_path / "m.h5", "--epochs", "1", "-q")[0] == 0
    code, out, err = cli("predict", tmp_path / "m.h5", tmp_path / "d.h5", "-o", "-", "--proba")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "prediction,proba_0.1,proba_0.3", err
    assert {line.split(",")[0] for line in lines[1:]} == {"0.1", "0.3"}
    code, out, err = cli("predict", tmp_path / "m.h5", tmp_path / "d.h5", "-o", tmp_path / "p.tsv")
    assert set((tmp_path / "p.tsv").read_text().splitlines()[1:]) == {"0.1", "0.3"}


@short_fits  # (a short fit's warnings)
def test_bool_labels_are_named_false_and_true_everywhere(tmp_path):
    """A bool y dataset (h5py's bools) made a model that show listed as False, True and whose HDF5 predictions
    were bools, but whose CSV and TSV predictions were 1 and 0, and whose --positive-class and --class-weight
    refused True ("has no class 'True' (classes: 0, 1)")."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(400, 3)).astype(np.float32)
    y = X[:, 0] > 0
    data = write_table(tmp_path / "d.h5", X, y)
    assert cli("train", data, "-o", tmp_path / "m.h5", "--epochs", "1", "-q")[0] == 0
    assert cli("show", tmp_path / "m.h5")[1].splitlines()[2] == "classes      False, True"
    code, out, err = cli("predict", tmp_path / "m.h5", data, "-o", tmp_path / "p.h5")
    with h5py.File(tmp_path / "p.h5") as f:
        expected = ["True" if p else "False" for p in f["prediction"][()]]
    assert set(expected) == {"False", "True"}
    code, out, err = cli("predict", tmp_path / "m.h5", data, "-o", "-", "--proba")
    assert code == 0 and out.splitlines()[0] == "prediction,proba_False,proba_True", err
    assert [line.split(",")[0] for line in out.splitlines()[1:]] == expected
    assert cli("predict", tmp_path / "m.h5", data, "-o", tmp_path / "p.tsv")[0] == 0
    assert (tmp_path / "p.tsv").read_text().splitlines()[1:] == expected
    for args in (["--positive-class", "False"], ["--positive-class", "false"], ["--positive-class", "0"]):
        code, out, err = cli("train", data, "-o", tmp_path / "f.h5", "--epochs", "1", "-q", *args)
        assert code == 0, err
        assert cli("show", tmp_path / "f.h5")[1].splitlines()[2] == "classes      True, False"
    for weights in ("True=3", "true=3", "1=3", "False=1,True=3"):
        code, out, err = cli("train", data, "-o", tmp_path / "w.h5", "--epochs", "1", "-q", "--class-weight", weights)
        assert code == 0, err
    code, out, err = cli("train", data, "-o", tmp_path / "w.h5", "--epochs", "1", "-q", "--class-weight", "True=3,1=2")
    assert (code, err) == (2, "sgdcli: error: --class-weight: 'True' and '1' are one class\n")
    code, out, err = cli("train", data, "-o", tmp_path / "w.h5", "--positive-class", "yes", "-q")
    assert (code, err) == (2, f"sgdcli: error: --positive-class: {data}:y has no class 'yes' (classes: False, True)\n")


@pytest.mark.parametrize("model,bias,label", [("logistic", [1e-17], 1), ("modified_huber", [-1e-17], 0),
                                              ("softmax", [0.0, 1e-17, 0.0], 1)])
def test_predict_writes_the_class_evaluate_counts_however_near_a_tie(tmp_path, model, bias, label):
    """A score of 1e-17 is positive, and evaluate counted the row so; predict took the class of the larger
    probability, and the probabilities round it to 0.5 each: it wrote the other class."""
    import sgdcli
    from sgdcli.model.file import Model

    k = len(bias)
    m = Model(model=model, weights=np.zeros((k, 3)), bias=np.array(bias), classes=np.arange(max(k, 2)))
    data = write_table(tmp_path / "d.h5", np.zeros((4, 3), dtype=np.float32), np.full(4, label))
    assert sgdcli.evaluate(m, data)["accuracy"] == 1.0
    sgdcli.predict(m, data, tmp_path / "p.h5", proba=True)
    with h5py.File(tmp_path / "p.h5") as f:
        assert f["prediction"][()].tolist() == [label] * 4


def test_a_poisson_prediction_beyond_float64s_range_is_inf_without_numpys_line(tmp_path):
    """exp of a score beyond 709 is inf, which predict writes; NumPy's "overflow encountered in exp" reached stderr
    as `sgdcli: warning:` with no file or row (evaluate's metrics of it are inf, quietly, as documented)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 3)).astype(np.float32)
    y = rng.poisson(np.exp(0.5 * X[:, 0] + 0.2)).astype(np.float64)
    data = write_table(tmp_path / "d.h5", X, y)
    assert cli("train", data, "-o", tmp_path / "m.h5", "--model", "poisson", "--epochs", "3", "-q")[0] == 0
    X[7, 0] = 5000.0  # an outlier, finite, well inside float32
    new = write_table(tmp_path / "new.h5", X[:10], y[:10])
    code, out, err = cli("predict", tmp_path / "m.h5", new, "-o", "-", "-q")
    assert (code, err) == (0, "")
    assert out.splitlines()[1 + 7] == "inf" and np.isfinite(np.array(out.splitlines()[1:], dtype=float)).sum() == 9
