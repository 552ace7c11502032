"""An output path that is a symbolic link is written through: the file it leads to is replaced, the link stays.

The usual deployment is ``models/current.h5 -> /srv/models/2026-12-01.h5``.
Every output was renamed over the link itself, which became a regular file,
and the file it led to, the model being served, never changed (exit 0).
"""

import os

import pytest

from conftest import make_problem, run, write_table

OLD = b"the file the link leads to, before"

# (command line, with {out} where the output path goes; the option as messages name it; the output's file name)
OUTPUTS = {
    "train -o": (["train", "d.h5", "-o", "{out}", "--epochs", "2"], "-o", "m.h5"),
    "train --metrics": (["train", "d.h5", "-o", "new.h5", "--epochs", "2", "--metrics", "{out}"], "--metrics",
                        "m.jsonl"),
    "train --checkpoint": (["train", "d.h5", "-o", "new.h5", "--epochs", "2", "--keep-checkpoint", "--checkpoint",
                            "{out}"], "--checkpoint", "m.ckpt"),
    "predict -o": (["predict", "model.h5", "d.h5", "-o", "{out}"], "-o", "p.csv"),
    "convert -o": (["convert", "in.csv", "-o", "{out}"], "-o", "c.h5"),
    "generate": (["generate", "{out}", "--rows", "100"], "OUTPUT", "g.h5"),
    "plot -o": (["plot", "runs.jsonl", "-o", "{out}"], "-o", "curves.png"),
    "sweep --plot": (["sweep", "d.h5", "--batch-sizes", "32", "--epochs", "1", "--plot", "{out}"], "--plot",
                     "sweep.png"),
}


@pytest.fixture
def here(tmp_path, monkeypatch):
    """A working directory with the inputs, ``models/`` for the links and ``srv/`` for the files they lead to."""
    data = write_table(tmp_path / "d.h5", *make_problem("binary", n=300, d=3, seed=0))
    assert run("train", data, "-o", tmp_path / "model.h5", "--epochs", "2", "--metrics", tmp_path / "runs.jsonl",
               "-q").returncode == 0
    (tmp_path / "in.csv").write_text("a,b,label\n1,2,0\n3,4,1\n")
    (tmp_path / "models").mkdir()
    (tmp_path / "srv").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def argv(command, out):
    return [str(out) if arg == "{out}" else arg for arg in OUTPUTS[command][0]]


@pytest.mark.parametrize("exists", [True, False], ids=["link", "dangling link"])
@pytest.mark.parametrize("command", OUTPUTS)
def test_an_output_written_through_a_link_replaces_the_file_it_leads_to(here, command, exists):
    if command.endswith("plot"):
        pytest.importorskip("matplotlib")
    name = OUTPUTS[command][2]
    target = here / "srv" / name
    if exists:
        target.write_bytes(OLD)
    link = here / "models" / name
    link.symlink_to(os.path.join("..", "srv", name))  # relative to the link's directory, not the working one
    proc = run(*argv(command, os.path.join("models", name)))
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == os.path.join("..", "srv", name)
    assert target.is_file() and target.stat().st_size > 0 and target.read_bytes() != OLD
    # no temporary file, no lock file; no .prev of the checkpoint: what was there was no checkpoint of this run's
    assert os.listdir(here / "srv") == [name]
    assert os.listdir(here / "models") == [name]
    if command == "train --checkpoint":
        # the checkpoint of epoch 1, kept, is read through the link too; a finished run removes it and its .prev
        resumed = run("train", "d.h5", "-o", "new.h5", "--epochs", "2", "--resume", "--checkpoint", link,
                      "--progress", "plain")
        assert resumed.returncode == 0, resumed.stderr
        assert f"resuming from {target}: epoch 2" in resumed.stderr
        assert os.listdir(here / "srv") == [] and link.is_symlink()


def test_the_lock_guards_the_file_written_whichever_path_names_it(here):
    """Two runs writing one file, one through a link, exclude each other (the lock is beside the file written)."""
    from sgdcli.training.locking import exclusive

    target = here / "srv" / "m.h5"
    (here / "models" / "m.h5").symlink_to(target)
    with exclusive([target]):
        proc = run("train", "d.h5", "-o", "models/m.h5", "--epochs", "1")
    assert proc.returncode == 75, proc.stderr
    assert proc.stderr == (f"sgdcli: error: -o {target}: locked by another sgdcli run (PID {os.getpid()}); use "
                           "--wait-lock [SECONDS] to wait for it\n")
    assert not target.exists()
    proc = run("train", "d.h5", "-o", "models/m.h5", "--epochs", "1", "--metrics", target)
    assert proc.returncode == 2
    assert proc.stderr == f"sgdcli: error: --metrics {target}: is also given as -o; each output needs its own path\n"


@pytest.mark.parametrize("command", OUTPUTS)
def test_a_link_that_leads_nowhere_it_can_write_is_refused_before_any_work(here, command):
    option = OUTPUTS[command][1]
    name = OUTPUTS[command][2]
    (here / "models" / name).symlink_to(here / "gone" / name)
    (here / "models" / "loop").symlink_to("loop")
    before = sorted(os.listdir(here))
    proc = run(*argv(command, os.path.join("models", name)))
    assert proc.returncode == 2
    assert proc.stderr == (f"sgdcli: error: {option} models/{name} (a symbolic link to {here / 'gone' / name}): "
                           f"directory {here / 'gone'} does not exist\n")
    proc = run(*argv(command, os.path.join("models", "loop")))
    assert proc.returncode == 2
    assert proc.stderr == (f"sgdcli: error: {option} models/loop: is a symbolic link in a loop of links, which "
                           "leads to no file\n")
    assert sorted(os.listdir(here)) == before and sorted(os.listdir(here / "models")) == sorted(["loop", name])
