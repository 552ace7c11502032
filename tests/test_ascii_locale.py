"""Names outside ASCII given on the command line under an ASCII locale without Python's UTF-8 mode
(``LC_ALL=C PYTHONUTF8=0``, as some cron daemons and containers start jobs).  Python then decodes argv as ASCII
and holds each other byte as a lone surrogate, so ``--label-column étiquette`` looked for a column
'\\udcc3\\udca9tiquette'; the names inside files are UTF-8.  Real processes: the locale is read at start."""

import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

ASCII = {"LC_ALL": "C", "PYTHONUTF8": "0"}


def sgdcli(*args, env=ASCII):
    full_env = {k: v for k, v in {**os.environ, **env}.items() if k not in ("SGDCLI_DEBUG", "PYTHONIOENCODING")}
    proc = subprocess.run([sys.executable, "-m", "sgdcli", *(a if isinstance(a, bytes) else str(a) for a in args)],
                          capture_output=True, env=full_env, timeout=300)
    return proc.returncode, proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")


def test_the_locale_is_ascii_and_not_utf8_mode():
    """What the tests below stand on: this Python, under LC_ALL=C and PYTHONUTF8=0, decodes argv as ASCII."""
    proc = subprocess.run([sys.executable, "-c", "import sys; print(sys.getfilesystemencoding(), sys.flags.utf8_mode, "
                                                 "ascii(sys.argv[1]))", "é"],
                          capture_output=True, text=True, env={**os.environ, **ASCII}, timeout=60)
    assert proc.stdout.split() == ["ascii", "0", r"'\udcc3\udca9'"]


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "t.csv"
    with open(path, "w", encoding="utf-8") as f:
        f.write("a,bé,poïds,étiquette\n")
        for _ in range(200):
            a, b = rng.standard_normal(2)
            f.write(f"{a:.4f},{b:.4f},1,{int(a + b > 0)}\n")
    return path


def test_names_outside_ascii_name_the_columns_they_spell(tmp_path, table):
    code, out, err = sgdcli("convert", table, "-o", tmp_path / "t.h5", "--label-column", "étiquette",
                            "--columns", "a,bé", "--weight-column", "poïds")
    assert (code, err) == (0, ""), err
    assert out == (f"wrote {tmp_path / 't.h5'}: 200 rows × 2 features from csv; row weights in w "
                   "(train with --sample-weight w)\n")
    with h5py.File(tmp_path / "t.h5", "r") as f:
        assert list(f) == ["X", "w", "y"]
    code, out, err = sgdcli("train", tmp_path / "t.h5", "-o", tmp_path / "m.h5", "--features", "bé", "--epochs", "1",
                            "-q")
    assert code == 0, err
    assert out.startswith(f"model {tmp_path / 'm.h5'}: logistic, 1 feature,"), out
    # from the environment too, and --print-config writes the name as it is (it once refused it as not UTF-8)
    code, out, err = sgdcli("train", tmp_path / "t.h5", "-o", tmp_path / "m.h5", "--print-config",
                            env={**ASCII, "SGDCLI_TRAIN_FEATURES": "bé"})
    assert code == 0, err
    assert 'features = "bé"' in out, out


def test_a_name_whose_bytes_are_not_utf8_either_is_refused_with_those_bytes_shown(tmp_path, table):
    """Not '\\udce9tiquette': the surrogate is Python's; the byte is what was typed."""
    code, out, err = sgdcli("convert", table, "-o", tmp_path / "t.h5", "--label-column", b"\xe9tiquette")
    assert (code, out) == (2, "")
    assert err == ("sgdcli: error: --label-column: no column '\\xe9tiquette' in the header "
                   "(a, bé, poïds, étiquette)\n")
    assert not (tmp_path / "t.h5").exists()


def test_a_message_shows_a_surrogate_as_its_byte_and_leaves_a_names_own_backslash_alone():
    from sgdcli.reporting.reporter import printable

    assert printable("donn\udce9es.h5: no such file") == "donn\\xe9es.h5: no such file"
    surrogate, backslash = "\udce9t", "a\\udce9"  # a name's own backslash, then the letters udce9
    assert printable("no column " + repr(surrogate)) == "no column '\\xe9t'"
    assert printable("no column " + repr(backslash)) == "no column 'a\\\\udce9'"
    # bytes that are UTF-8 (a name outside ASCII under an ASCII locale) read as the text they are
    utf8_then_latin1 = "d\udcc3\udca9\udce9"
    assert printable(utf8_then_latin1) == "dé\\xe9"
    assert printable(repr(utf8_then_latin1)) == "'dé\\xe9'"


def test_a_name_that_spells_a_surrogate_escape_is_not_shown_as_the_byte_it_would_stand_for(tmp_path):
    """A file name holding the six characters \\udce9, unquoted, was shown as \\xe9: as the name holding the byte
    0xE9 is."""
    from conftest import cli

    literal, byte = os.path.join(tmp_path, "a\\udce9.h5"), os.path.join(tmp_path, "a\udce9.h5")
    assert cli("train", literal, "-o", tmp_path / "m.h5") == (2, "", f"sgdcli: error: {tmp_path}/a\\udce9.h5: "
                                                                      "no such file\n")
    assert cli("train", byte, "-o", tmp_path / "m.h5") == (2, "", f"sgdcli: error: {tmp_path}/a\\xe9.h5: no such "
                                                                   "file\n")
    from sgdcli.reporting.reporter import printable  # quoted, a surrogate is a repr's escape, after a word's ' too

    assert printable("the model's class " + repr("a\udce9")) == "the model's class 'a\\xe9'"


def test_a_path_click_refuses_is_quoted_with_its_bytes(tmp_path, binary_file):
    """click's own quote of a file name made each byte that is not UTF-8 a \ufffd."""
    from conftest import run

    os.mkdir(os.fsencode(tmp_path) + b"/d\xe9")
    ran = run("train", binary_file, "-o", os.fsdecode(os.fsencode(tmp_path) + b"/d\xe9"))
    assert (ran.returncode, ran.stdout) == (2, "")
    assert ran.stderr == (f"sgdcli train: error: Invalid value for '-o' / '--output': File '{tmp_path}/d\\xe9' is a "
                          "directory. (see 'sgdcli train --help')\n")


def test_a_file_name_outside_ascii_under_an_ascii_locale_is_shown_as_the_text_it_is(tmp_path):
    code, out, err = sgdcli("train", tmp_path / "données.h5", "-o", tmp_path / "m.h5")
    assert (code, out, err) == (2, "", f"sgdcli: error: {tmp_path}/données.h5: no such file\n")


def test_the_line_of_a_stop_shows_the_checkpoint_it_names_readably(monkeypatch):
    """The line of a run a signal stopped (what it leaves: the checkpoint to resume from) went out as it was,
    a name that is not UTF-8 as '\\udce9', and a newline in one split the line."""
    import signal

    import sgdcli
    from conftest import run
    from sgdcli.errors import Terminated

    def stopped(*args, **kwargs):
        raise Terminated(signal.SIGTERM, "the last checkpoint, donn\udce9es\n.ckpt, remains")

    monkeypatch.setattr(sgdcli, "model_card", stopped)
    ran = run("show", "m.h5")
    assert (ran.returncode, ran.stdout) == (143, "")
    assert ran.stderr == ("sgdcli: stopped by SIGTERM before finishing; the last checkpoint, donn\\xe9es\\n.ckpt, "
                          "remains\n")


@pytest.mark.parametrize("option,what", [("--x", "dataset or group"), ("--y", "dataset"),
                                         ("--sample-weight", "dataset")])
def test_a_dataset_name_whose_bytes_are_not_utf8_is_no_dataset_of_the_file(tmp_path, option, what):
    """h5py refuses a name that has no UTF-8 form ('\\udce9t': the byte 0xE9 under an ASCII locale, as the first
    test shows Python holds it), and the message was "cannot read ('utf-8' codec can't encode ...)"."""
    from conftest import cli

    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        f["X"], f["y"], f["w"] = np.zeros((10, 2), dtype=np.float32), np.arange(10) % 2 * 1.0, np.ones(10)
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", option, "\udce9t")
    prefix = "--sample-weight: " if option == "--sample-weight" else ""
    assert (code, out, err) == (2, "", f"sgdcli: error: {prefix}{path}:\\xe9t: no such {what} (datasets in file: "
                                       "X, w, y)\n")
    assert not (tmp_path / "m.h5").exists()


def test_every_file_name_a_command_takes_is_quoted_with_its_bytes_when_click_refuses_it():
    """Each path is declared of argtext's Path (click's, whose refusals quote the name as given), so that every
    command's refusals show bytes, as they do for train's -o (test_a_path_click_refuses_is_quoted_with_its_bytes):
    a declaration of click's own would not.  (for_any_locale once made every one so, swapping its class.)"""
    import click

    from sgdcli.cli import argtext, main_group

    paths = {(name, p.name): type(p.type) for name, command in main_group.commands.items() for p in command.params
             if isinstance(p.type, click.Path)}
    assert ("train", "output") in paths and ("sweep", "config") in paths
    assert {at: kind for at, kind in paths.items() if kind is not argtext.Path} == {}
