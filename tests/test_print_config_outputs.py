"""--print-config refuses an output that train, convert, predict, generate or sweep could not write, as the run
refuses it (exit 2, the same line), without creating anything; convert's settings that need nothing of its
input; empty dataset names and column lists; and the Python API's checks that do the same."""

import os

import pytest

import sgdcli
from sgdcli.errors import InputError

from conftest import make_problem, run, write_table


@pytest.fixture
def here(tmp_path, monkeypatch):
    """A working directory holding a data file, a model, a CSV file (and the same CSV as data.dat)."""
    data = write_table(tmp_path / "d.h5", *make_problem("binary", n=100, d=3, seed=0))
    assert run("train", data, "-o", tmp_path / "m.h5", "--epochs", "1", "-q").returncode == 0
    (tmp_path / "in.csv").write_text("a,b,label\n1,2,0\n3,4,1\n")
    (tmp_path / "data.dat").write_text("a,b,label\n1,2,0\n3,4,1\n")
    os.mkfifo(tmp_path / "pipe")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# (command line before the output path, what follows it, an input's path the output may not be)
COMMANDS = {
    "train -o": (["train", "d.h5", "-o"], [], "d.h5"),
    "train --metrics": (["train", "d.h5", "-o", "new.h5", "--metrics"], [], "d.h5"),
    "train --checkpoint": (["train", "d.h5", "-o", "new.h5", "--checkpoint"], [], "d.h5"),
    "predict -o": (["predict", "m.h5", "d.h5", "-o"], [], "m.h5"),
    "convert -o": (["convert", "data.dat", "--format", "csv", "-o"], [], "data.dat"),
}
PATHS = ["nosuch/out.h5", "d.h5/out.h5", "nosuch/", "pipe", "m.h5.lock", "INPUT", "x" * 250 + ".h5"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("command", COMMANDS)
def test_print_config_refuses_an_output_the_run_refuses(here, command, path):
    """It printed the settings (exit 0) whatever the outputs; the run then exited 2 on them."""
    head, tail, source = COMMANDS[command]
    path = source if path == "INPUT" else path
    before = sorted(os.listdir(here))
    printed = run(*head, path, *tail, "--print-config")
    ran = run(*head, path, *tail)
    assert ran.returncode == 2 and ran.stdout == "" and len(ran.stderr.strip().splitlines()) == 1, ran
    assert printed == ran
    assert sorted(os.listdir(here)) == before


@pytest.mark.parametrize("command", COMMANDS)
def test_print_config_creates_nothing_to_judge_a_writable_output(here, command):
    head, tail, _ = COMMANDS[command]
    (here / "sub").mkdir()
    before = sorted(os.listdir(here))
    printed = run(*head, "sub/new.h5", *tail, "--print-config")
    assert printed.returncode == 0 and printed.stdout.startswith(f"[{head[0]}]"), printed.stderr
    assert sorted(os.listdir(here)) == before and os.listdir(here / "sub") == []


@pytest.mark.parametrize("command", COMMANDS)
def test_a_directory_without_write_permission_is_said_so(here, command, monkeypatch):
    """Judged by its permissions (os.access), as the run's probe file would fail there (root writes through
    them, so the permissions are what os.access answers here)."""
    head, tail, _ = COMMANDS[command]
    (here / "sub").mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if os.fspath(p) == str(here / "sub") else
                        real(p, mode, **kw))
    printed = run(*head, "sub/new.h5", *tail, "--print-config")
    option = head[-1]
    assert printed == (2, "", f"sgdcli: error: {option} sub/new.h5: cannot write to directory {here / 'sub'} "
                              "(Permission denied)\n")


@pytest.mark.parametrize("args,message", [
    (["--features", "3"], "--features applies to LIBSVM input, the columns its indices address; --columns picks "
                          "the columns of CSV/TSV"),
    (["--zero-based"], "--zero-based applies to LIBSVM input whose indices are columns"),
    (["--y", "labels.npy"], "--y FILE.npy applies to .npy input"),
    (["--hash-bits", "4", "--missing", "zero"], "--missing zero does not apply with --hash-bits: a missing value "
                                                "is hashed as no feature, so no row is left out and no value filled"),
    (["--decimal", ",", "--delimiter", ","], "--delimiter: ',' is also the decimal mark (--decimal ,), so it would "
                                             "split every number written with one; name the character that "
                                             "separates the fields, or leave out --delimiter to have it detected"),
    (["--engine", "pyarrow", "--hash-bits", "4"], "--engine pyarrow: pyarrow's reader cannot apply --hash-bits; "
                                                  "leave out one of them (--engine auto reads with sgdcli's "
                                                  "tokenizer)"),
    (["--thousands", "."], "--thousands: expected one character, neither a digit nor --decimal, got '.'"),
    (["--hash-bits", "0"], "--hash-bits: must be from 1 to 31, got 0"),
    (["--hash-bits", "32"], "--hash-bits: must be from 1 to 31, got 32"),
    (["--categorical", "nosuch", "--decimal", ","], None),  # (the header's names: its content)
])
def test_print_config_refuses_convert_settings_that_need_nothing_of_the_input(here, args, message):
    """convert's settings were left to the run, which checks them before it reads a row; they depend on the
    format, which the input's name gives, not on its content."""
    printed = run("convert", "in.csv", "-o", "out.h5", *args, "--print-config")
    ran = run("convert", "in.csv", "-o", "out.h5", *args)
    if message is None:  # (accepted by --print-config; the run finds no such column)
        assert printed.returncode == 0 and ran.returncode == 2, (printed, ran)
        return
    assert printed == ran == (2, "", f"sgdcli: error: {message}\n")
    assert not (here / "out.h5").exists()


@pytest.mark.parametrize("command", [["predict", "m.h5", "d.h5", "-o", "p.csv"], ["evaluate", "m.h5", "d.h5"]])
@pytest.mark.parametrize("memory,message", [("0", "--memory: must be at least 1M, got 0 bytes"),
                                            ("1K", "--memory: must be at least 1M, got 1024 bytes")])
def test_print_config_refuses_the_options_predict_and_evaluate_refuse(here, command, memory, message):
    """predict's and evaluate's --print-config checked the output and the gates only: --memory 0 printed the
    settings, exit 0, and the run refused it."""
    printed = run(*command, "--memory", memory, "--print-config")
    assert printed == run(*command, "--memory", memory) == (2, "", f"sgdcli: error: {message}\n")
    assert run(*command, "--memory", "64M", "--print-config").returncode == 0


def test_what_convert_reads_of_its_input_is_left_to_the_run(here):
    """Whether the input is there, compressed or HDF5: --print-config reads no file."""
    assert run("convert", "absent.csv", "-o", "out.h5", "--print-config").returncode == 0
    assert run("convert", "d.h5", "-o", "out.h5", "--format", "csv", "--print-config").returncode == 0
    assert run("convert", "absent.csv", "-o", "out.h5").returncode == 2


@pytest.mark.parametrize("args", [["nosuch/out.h5"], ["d.h5/out.h5"], [""], ["out.h5", "--features", str(10**11)]])
def test_print_config_refuses_what_generate_refuses(here, args):
    """generate's --print-config checked its options alone: an output in no directory, and --features whose
    model and block of rows no memory holds, printed the settings, exit 0, and the run refused them."""
    before = sorted(os.listdir(here))
    printed = run("generate", *args, "--print-config")
    ran = run("generate", *args)
    assert ran.returncode == 2 and ran.stdout == "" and len(ran.stderr.strip().splitlines()) == 1, ran
    assert printed == ran
    assert sorted(os.listdir(here)) == before
    assert run("generate", "sub/new.h5", "--print-config").returncode == 2  # (no such directory)
    assert run("generate", "new.h5", "--print-config").returncode == 0 and not (here / "new.h5").exists()


@pytest.mark.parametrize("metrics_dir", ["", "d.h5", "d.h5/runs", "earlier"])
def test_print_config_refuses_a_metrics_dir_sweep_refuses(here, metrics_dir):
    """sweep's --print-config did not look at --metrics-dir: an empty one, a file, a directory holding an
    earlier sweep's run files printed the settings, exit 0."""
    (here / "earlier").mkdir()
    (here / "earlier" / "run1-batch-32-lr-0.1.jsonl").write_text("")
    argv = ["sweep", "d.h5", "--batch-sizes", "32", "--lrs", "0.1", "--epochs", "1", "-q", "--metrics-dir",
            metrics_dir]
    before = sorted(os.listdir(here))
    printed = run(*argv, "--print-config")
    ran = run(*argv)
    assert ran.returncode == 2 and ran.stdout == "" and len(ran.stderr.strip().splitlines()) == 1, ran
    assert printed == ran
    assert sorted(os.listdir(here)) == before
    created = run(*argv[:-1], "new/runs", "--print-config")
    assert created.returncode == 0 and not (here / "new").exists(), created.stderr


@pytest.mark.parametrize("argv,option,what", [
    (["train", "d.h5", "-o", "new.h5", "--x"], "--x", "the dataset name is empty"),
    (["train", "d.h5", "-o", "new.h5", "--y"], "--y", "the dataset name is empty"),
    (["train", "d.h5", "-o", "new.h5", "--val", "d.h5", "--val-x"], "--val-x", "the dataset name is empty"),
    (["train", "d.h5", "-o", "new.h5", "--val", "d.h5", "--val-y"], "--val-y", "the dataset name is empty"),
    (["train", "d.h5", "-o", "new.h5", "--sample-weight"], "--sample-weight", "the dataset name is empty"),
    (["train", "d.h5", "-o", "new.h5", "--features"], "--features", "names no column"),
    (["predict", "m.h5", "d.h5", "-o", "p.csv", "--x"], "--x", "the dataset name is empty"),
    (["predict", "m.h5", "d.h5", "-o", "p.csv", "--features"], "--features", "names no column"),
    (["evaluate", "m.h5", "d.h5", "--y"], "--y", "the dataset name is empty"),
])
def test_an_empty_dataset_name_or_column_list_is_refused(here, argv, option, what):
    """What "$VAR" gives where VAR is unset: --x '' was "no such dataset or group" in "d.h5:", --features ''
    "no feature columns are left", and --val-x '' trained on --val's X, all after the files were opened, and
    --print-config passed them."""
    line = f"sgdcli: error: {option}: {what} (an unset shell variable?)\n"
    assert run(*argv, "", "--print-config") == run(*argv, "") == (2, "", line)
    if what.startswith("the dataset"):  # HDF5 takes a name of spaces: looked for, not refused as empty
        assert "is empty" not in run(*argv, " ").stderr


def test_the_python_api_makes_the_same_checks(here):
    """The keywords are checked by the same rules (fieldtypes.py), and --print-config's checks are callable."""
    with pytest.raises(InputError, match=r"^--x: the dataset name is empty \(an unset shell variable\?\)$"):
        sgdcli.TrainOptions(x="")
    with pytest.raises(InputError, match=r"^--y: the dataset name is empty"):
        sgdcli.evaluate("m.h5", "d.h5", y="")
    with pytest.raises(InputError, match=r"^--features: names no column"):
        sgdcli.predict("m.h5", "d.h5", "p.csv", features=[])
    with pytest.raises(InputError, match=r"^--metrics-dir d.h5: is not a directory$"):
        sgdcli.check_sweep_outputs("d.h5")
    sgdcli.check_sweep_outputs("new/runs")
    with pytest.raises(InputError, match=r"^--rows: expected an integer, got 10.5$"):
        sgdcli.check_generate("new.h5", rows=10.5)
    sgdcli.check_generate("new.h5", rows=10)
    # the output's format, as predict and --print-config judge it (check_predict_output passed pred.txt, which
    # the run then refused)
    told = (r"^-o pred.txt: cannot tell the format from the extension '.txt'; use .h5, .csv or .tsv \(.csv.gz, "
            r".tsv.gz: compressed\), or say which with --format \{hdf5,csv,tsv\}$")
    with pytest.raises(InputError, match=told):
        sgdcli.check_predict_output("m.h5", "d.h5", "pred.txt")
    with pytest.raises(InputError, match=told):
        sgdcli.predict("m.h5", "d.h5", "pred.txt")
    sgdcli.check_predict_output("m.h5", "d.h5", "pred.txt", format="csv")
    assert not (here / "new").exists() and not (here / "new.h5").exists() and not (here / "p.csv").exists()
    assert not (here / "pred.txt").exists()
