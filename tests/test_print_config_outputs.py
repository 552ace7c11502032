"""--print-config refuses an output that train, convert or predict could not write, as the run refuses it (exit
2, the same line), without creating anything; and convert's settings that need nothing of its input."""

import os

import pytest

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
