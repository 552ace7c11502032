"""An input path that is a pipe (a FIFO, or what a process substitution ``<(...)`` gives) is refused before it is
opened: exit 2, one line naming it.  Opening a FIFO waits for a writer, forever where none comes; ``train`` did not
even stop on SIGTERM there.  Each test has a timeout, so that a command that opens the pipe fails rather than hangs.
"""

import os
from pathlib import Path

import pytest

from conftest import make_problem, run, write_table

PIPE = "is a pipe (a FIFO, or a process substitution such as <(...)), not a regular file"
HDF5 = "; HDF5 is read in place, not as a stream, so save it to a file first"


@pytest.fixture
def here(tmp_path, monkeypatch):
    """A working directory with a data file, a model of it, a metrics file, and a FIFO nothing writes."""
    data = write_table(tmp_path / "d.h5", *make_problem("binary", n=300, d=3, seed=0))
    assert run("train", data, "-o", tmp_path / "m.h5", "--epochs", "1", "--metrics", tmp_path / "m.jsonl",
               "-q").returncode == 0
    os.mkfifo(tmp_path / "fifo")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def assert_refused(ran, line):
    assert (ran.returncode, ran.stdout) == (2, ""), ran.stderr
    assert ran.stderr.strip().splitlines() == ["sgdcli: error: " + line]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("argv", [
    ["train", "fifo", "-o", "new.h5"],
    ["train", "d.h5", "-o", "new.h5", "--val", "fifo"],
    ["sweep", "fifo", "--batch-sizes", "32"],
    ["predict", "fifo", "d.h5", "-o", "p.csv"],
    ["predict", "m.h5", "fifo", "-o", "p.csv"],
    ["evaluate", "fifo", "d.h5"],
    ["evaluate", "m.h5", "fifo"],
    ["info", "fifo"],
    ["show", "fifo"],
], ids=lambda argv: " ".join(argv))
def test_a_pipe_given_as_an_hdf5_file_is_refused(here, argv):
    assert_refused(run(*argv), "fifo: " + PIPE + HDF5)
    assert not os.path.exists("new.h5") and not os.path.exists("p.csv")


def _piped(text: str) -> str:
    """The path of a pipe that holds ``text`` and whose writer is done, as ``<(printf ...)`` gives a command."""
    r, w = os.pipe()
    os.write(w, text.encode())
    os.close(w)
    return f"/dev/fd/{r}"


@pytest.mark.timeout(60)
def test_text_files_read_whole_may_be_pipes(here):
    """A config file or a metrics file is read once, from its start to its end, as a stream can be: a process
    substitution (``--config <(envsubst < job.toml)``) works.  (A FIFO that no one writes waits for its writer, as
    ``cat`` does, until a signal stops the command.)"""
    ran = run("train", "d.h5", "-o", "new.h5", "--config", _piped("[train]\nepochs = 2\n"), "--print-config")
    assert ran.returncode == 0 and "epochs = 2" in ran.stdout, ran.stderr
    pytest.importorskip("matplotlib")
    ran = run("plot", _piped(Path("m.jsonl").read_text()), "-o", "c.png")
    assert ran.returncode == 0 and os.path.getsize("c.png") > 0, ran.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_a_pipe_given_as_csv_text_is_refused_and_standard_input_suggested(here, command):
    """Once "no such file", for a pipe that exists."""
    (here / "t.csv").write_text("a,b,label\n" + "".join(f"{i % 7},{i % 3},{i % 2}\n" for i in range(200)))
    assert run("convert", "t.csv", "-o", "t.h5").returncode == 0
    assert run("train", "t.h5", "-o", "t_model.h5", "--epochs", "1", "-q").returncode == 0
    os.mkfifo("fifo.csv")
    argv = [command, "t_model.h5", "fifo.csv"] + (["-o", "p.csv"] if command == "predict" else [])
    assert_refused(run(*argv), "fifo.csv: " + PIPE + "; give DATA as - to read text from a pipe (standard input)")
    # a process substitution's pipe has no name of CSV: <(zcat new.csv.gz) was told that HDF5 cannot be a stream
    argv[2] = "fifo"  # (the fixture's)
    assert_refused(run(*argv), "fifo: " + PIPE + "; the model reads CSV text, which a pipe gives as standard input: "
                               f"zcat new.csv.gz | sgdcli {command} MODEL - ...")
