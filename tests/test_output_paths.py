"""Every output path is checked before any work: empty (what -o "$MODEL" becomes when MODEL is unset), an
existing directory, or under a regular file is exit 2 and one line naming the option, and nothing is written."""

import os
import socket
import stat
from dataclasses import replace

import pytest

from conftest import make_problem, run, write_table


@pytest.fixture
def here(tmp_path, monkeypatch):
    """A working directory holding a data file, a model, a metrics file, a CSV file and a subdirectory."""
    data = write_table(tmp_path / "d.h5", *make_problem("binary", n=300, d=3, seed=0))
    assert run("train", data, "-o", tmp_path / "m.h5", "--epochs", "1", "--metrics", tmp_path / "m.jsonl",
               "-q").returncode == 0
    (tmp_path / "in.csv").write_text("a,b,label\n1,2,0\n3,4,1\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


# (command line before the output path, the option as the message names it, what follows it)
COMMANDS = {
    "train -o": (["train", "d.h5", "-o"], "-o", ["--epochs", "3"]),
    "train --metrics": (["train", "d.h5", "-o", "new.h5", "--metrics"], "--metrics", []),
    "train --checkpoint": (["train", "d.h5", "-o", "new.h5", "--checkpoint"], "--checkpoint", []),
    "predict -o": (["predict", "m.h5", "d.h5", "-o"], "-o", []),
    "convert -o": (["convert", "in.csv", "-o"], "-o", []),
    "generate": (["generate"], "OUTPUT", []),
    "sweep --plot": (["sweep", "d.h5", "--batch-sizes", "32", "--plot"], "--plot", []),
    "plot -o": (["plot", "m.jsonl", "-o"], "-o", []),
}
CLICK_NAMES = {"-o": "'-o' / '--output'", "OUTPUT": "'OUTPUT'"}


def assert_refused(proc, here, before, *fragments):
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sgdcli") and "error:" in lines[0], proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert sorted(os.listdir(here)) == before  # no checkpoint, no temporary file: nothing was done


# What an output path may not be, and the message refusing it: empty (what -o "$MODEL" becomes when MODEL is
# unset), under a regular file, a directory's name, a pipe (standing in for a device such as /dev/null, which a
# job run as root would have replaced by a regular file: a test must never risk the real one).
REFUSED = {
    "": "{option}: the path is empty (an unset shell variable?)",
    "d.h5/out.h5": "{option} d.h5/out.h5: {here}/d.h5 is a file, not a directory",
    "d.h5/deeper/out.png": "{option} d.h5/deeper/out.png: {here}/d.h5 is a file, not a directory",
    "nosuch/": "{option} nosuch/: ends in '/', so it names a directory; give a file name",
    "pipe": "{option} pipe: is not a regular file (a device, a pipe or a socket), which an output would replace; "
            "give the path of a file",
}


@pytest.mark.parametrize("path", REFUSED)
@pytest.mark.parametrize("command", COMMANDS)
def test_an_output_path_that_cannot_be_one_is_refused_before_any_work(here, command, path):
    head, option, tail = COMMANDS[command]
    os.mkfifo(here / "pipe")
    before = sorted(os.listdir(here))
    proc = run(*head, path, *tail)
    assert_refused(proc, here, before)
    assert proc.stderr == "sgdcli: error: " + REFUSED[path].format(option=option, here=here) + "\n"
    assert stat.S_ISFIFO(os.stat(here / "pipe").st_mode)  # left as it was


@pytest.mark.parametrize("command", [name for name in COMMANDS if name != "predict -o"])
def test_a_dash_is_refused_where_it_cannot_mean_standard_output(here, command):
    """`train data.h5 -o -` wrote a model file named '-' (predict's -o - is standard output; models, checkpoints,
    metrics, HDF5 data and images are written to a file and renamed into place)."""
    head, option, tail = COMMANDS[command]
    before = sorted(os.listdir(here))
    proc = run(*head, "-", *tail)
    assert_refused(proc, here, before)
    assert proc.stderr == (f"sgdcli: error: {option} -: names standard output, which this output cannot go to (it "
                           "is written whole to a file, then renamed into place); give a file name (./- for a file "
                           "named '-')\n")


def longest_name(here) -> tuple[int, int]:
    """(the filesystem's longest name, the longest output name): an output is written first as
    .NAME.HOST-PID-XXXXXXXX.tmp, this process's, as CliRunner runs the command here."""
    name_max = os.pathconf(here, "PC_NAME_MAX")
    return name_max, name_max - len(f"..{socket.gethostname()}-{os.getpid()}-XXXXXXXX.tmp".encode())


@pytest.mark.parametrize("command", COMMANDS)
def test_an_output_name_too_long_for_its_temporary_file_is_refused_before_any_work(here, command):
    """A name the filesystem takes but whose temporary file's name it does not was exit 1 ("write failed: File
    name too long") once the work was done."""
    head, option, tail = COMMANDS[command]
    name_max, longest = longest_name(here)
    body = longest + 1 - len("é.h5".encode())
    name = "é" * (body // 2) + "x" * (body % 2) + "é.h5"  # bytes, not characters, count
    assert len(name.encode()) == longest + 1
    before = sorted(os.listdir(here))
    proc = run(*head, f"sub/{name}", *tail)
    assert_refused(proc, here, before)
    assert proc.stderr == (
        f"sgdcli: error: {option} sub/{name}: the file name is too long for this filesystem (names of at most "
        f"{name_max} bytes): the output is first written under a temporary name {name_max - longest} bytes longer "
        f"(.NAME.{socket.gethostname()}-{os.getpid()}-XXXXXXXX.tmp); give a name of at most {longest} bytes\n")
    assert os.listdir(here / "sub") == []


def test_the_longest_output_name_is_written(here):
    name = "x" * (longest_name(here)[1] - 3) + ".h5"
    assert run("generate", f"sub/{name}", "--rows", "10", "--features", "2").returncode == 0
    assert os.listdir(here / "sub") == [name]


LOCK_REFUSED = ("sgdcli: error: {option} {named}: ends in .lock, as the lock file a run takes beside its output does "
                "(m.h5.lock for m.h5); choose another output path\n")


@pytest.mark.parametrize("command", COMMANDS)
def test_an_output_named_as_a_lock_file_is_refused(here, command):
    """`-o m.h5.lock` beside a run writing m.h5 renamed a file over that run's lock: its flock then guarded
    nothing, and the next run on m.h5 locked (and emptied) the new file.  Any *.lock is refused, held or not,
    and so is a link leading to one."""
    from sgdcli.training.locking import exclusive

    head, option, tail = COMMANDS[command]
    (here / "models").mkdir()
    (here / "models" / "link").symlink_to(here / "m.h5.lock")
    with exclusive([here / "m.h5"]):  # another run writing m.h5
        before, held = sorted(os.listdir(here)), os.stat(here / "m.h5.lock")
        proc = run(*head, "m.h5.lock", *tail)
        assert_refused(proc, here, before)
        assert proc.stderr == LOCK_REFUSED.format(option=option, named="m.h5.lock")
        proc = run(*head, "models/link", *tail)
        assert_refused(proc, here, before)
        assert proc.stderr == LOCK_REFUSED.format(option=option,
                                                  named=f"models/link (a symbolic link to {here / 'm.h5.lock'})")
        assert os.stat(here / "m.h5.lock").st_ino == held.st_ino  # still the lock the other run holds
    assert os.listdir(here / "models") == ["link"]


def test_the_python_api_refuses_an_output_named_as_a_lock_file_too(here):
    import sgdcli
    from sgdcli.errors import InputError

    with pytest.raises(InputError, match=r"^-o m.h5.lock: ends in .lock"):
        sgdcli.train("d.h5", sgdcli.TrainOptions(epochs=1), output="m.h5.lock")
    with pytest.raises(InputError, match=r"^-o .*/m.h5.lock: ends in .lock"):
        sgdcli.load_model("m.h5").save("m.h5.lock")
    assert not (here / "m.h5.lock").exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_an_output_path_that_is_a_directory_is_a_usage_error(here, command):
    head, option, tail = COMMANDS[command]
    before = sorted(os.listdir(here))
    proc = run(*head, "sub", *tail)  # click's own check, from dir_okay=False
    assert_refused(proc, here, before, f"Invalid value for {CLICK_NAMES.get(option, repr(option))}: "
                                       "File 'sub' is a directory.")


def test_sweep_metrics_dir_is_checked_before_any_work(here):
    before = sorted(os.listdir(here))
    head = ["sweep", "d.h5", "--batch-sizes", "32", "--metrics-dir"]
    proc = run(*head, "")
    assert_refused(proc, here, before)
    assert proc.stderr == "sgdcli: error: --metrics-dir: the path is empty (an unset shell variable?)\n"
    proc = run(*head, "d.h5/runs")
    assert_refused(proc, here, before)
    assert proc.stderr == f"sgdcli: error: --metrics-dir d.h5/runs: {here / 'd.h5'} is a file, not a directory\n"
    proc = run(*head, "m.jsonl")
    assert_refused(proc, here, before, "Invalid value for '--metrics-dir': Directory 'm.jsonl' is a file.")


def test_the_python_api_refuses_an_empty_output_path_too(here):
    import sgdcli
    from sgdcli.errors import InputError

    with pytest.raises(InputError, match=r"^-o: the path is empty"):
        sgdcli.train("d.h5", sgdcli.TrainOptions(epochs=1), output="")
    with pytest.raises(InputError, match=r"^-o: the path is empty"):
        sgdcli.predict("m.h5", "d.h5", "")
    assert not any(name.startswith(".ckpt") for name in os.listdir(here))



# The --init model among the outputs: -o may replace it (the nightly --init m.h5 -o m.h5); the other outputs, and
# the files kept beside them, may not.  (message, the files given as (--init, command line after it))
INIT_REFUSED = {
    "--metrics": ("--metrics init.h5: is also an input of this command; choose another output path",
                  "init.h5", ["-o", "new.h5", "--metrics", "init.h5"]),
    "--checkpoint": ("--checkpoint ./init.h5: is also an input of this command; choose another output path",
                     "init.h5", ["-o", "new.h5", "--checkpoint", "./init.h5"]),
    "previous checkpoint": ("--checkpoint new.h5.ckpt: the previous checkpoint beside it, {here}/new.h5.ckpt.prev, "
                            "is also an input of this command; choose another output path",
                            "new.h5.ckpt.prev", ["-o", "new.h5"]),
    "lock file": ("-o new.h5: the lock file beside it, {here}/new.h5.lock, is also an input of this command; choose "
                  "another output path", "new.h5.lock", ["-o", "new.h5"]),
}


@pytest.mark.parametrize("case", INIT_REFUSED)
def test_an_output_that_would_replace_the_init_model_is_refused_except_o(here, case):
    """--metrics equal to --init wrote the metrics over the initial model, exit 0; --checkpoint, a checkpoint."""
    message, init, tail = INIT_REFUSED[case]
    (here / init).write_bytes((here / "m.h5").read_bytes())
    before, model = sorted(os.listdir(here)), (here / init).read_bytes()
    proc = run("train", "d.h5", "--init", init, "--epochs", "1", *tail)
    assert_refused(proc, here, before)
    assert proc.stderr == f"sgdcli: error: {message.format(here=here)}\n"
    assert (here / init).read_bytes() == model


@pytest.mark.parametrize("val", ["new.h5.lock", "new.h5.ckpt.prev", "here/new.h5.lock"])
def test_an_input_not_there_yet_at_the_path_of_a_file_the_run_makes_is_refused_as_one_that_is(here, val):
    """--val new.h5.lock, not there yet, beside -o new.h5: the run made its lock file there, then read it as the
    --val file: "new.h5.lock: not an HDF5 file".  The path is what matters: it is refused before anything is made,
    as where the file is there."""
    os.symlink(".", here / "here")  # a link to the directory: the same path, another name (here/new.h5.lock)
    before = sorted(os.listdir(here))
    what = "-o new.h5: the lock file" if val.endswith(".lock") else "--checkpoint new.h5.ckpt: the previous checkpoint"
    proc = run("train", "d.h5", "-o", "new.h5", "--val", val, "--epochs", "1")
    assert_refused(proc, here, before)
    assert proc.stderr == (f"sgdcli: error: {what} beside it, {here}/{os.path.basename(val)}, is also an input of this "
                           "command; choose another output path\n")


def test_the_python_api_refuses_them_too_and_o_may_still_replace_the_init_model(here):
    import sgdcli
    from sgdcli.errors import InputError

    model = (here / "m.h5").read_bytes()
    opts = sgdcli.TrainOptions(init="m.h5", epochs=1)
    with pytest.raises(InputError, match=r"^--metrics m.h5: is also an input of this command"):
        sgdcli.train("d.h5", opts, output="new.h5", metrics="m.h5")
    with pytest.raises(InputError, match=r"^--checkpoint m.h5: is also an input of this command"):
        sgdcli.train("d.h5", opts, output="new.h5", control=sgdcli.RunControl(checkpoint="m.h5"))
    assert (here / "m.h5").read_bytes() == model and not (here / "new.h5").exists()
    sgdcli.train("d.h5", replace(opts, batch_size=1), output="m.h5", metrics="new.jsonl",
                 control=sgdcli.RunControl(checkpoint=sgdcli.default_checkpoint("m.h5")))
    assert len(sgdcli.load_model("m.h5").training["lineage"]) == 2  # continued from the model it replaced


@pytest.mark.parametrize("name", ["model.h5", "data.h5"])
def test_a_checkpoint_path_holding_a_model_or_data_is_refused_before_it_is_replaced(here, name):
    """Without --resume, a run wrote its checkpoints over a model or a data file given as --checkpoint by mistake,
    and removed it at its end, exit 0.  (--resume refused it already: exit 1.)"""
    (here / name).write_bytes((here / ("m.h5" if name == "model.h5" else "d.h5")).read_bytes())
    before, held = sorted(os.listdir(here)), (here / name).read_bytes()
    proc = run("train", "d.h5", "-o", "new.h5", "--checkpoint", name, "--epochs", "2")
    assert_refused(proc, here, before)
    what = "an sgdcli file of another kind (sgdcli-model)" if name == "model.h5" else "an HDF5 file"
    assert proc.stderr == (f"sgdcli: error: --checkpoint {name}: {name} is {what}, not an sgdcli checkpoint; the "
                           "run's checkpoints would replace it and its end remove it: move it away or give "
                           "--checkpoint another path\n")
    assert (here / name).read_bytes() == held


def test_a_checkpoint_of_an_earlier_run_is_replaced_by_a_run_that_starts_afresh(here):
    """The check above leaves sgdcli's own checkpoints, and files HDF5 cannot read, to the run."""
    assert run("train", "d.h5", "-o", "a.h5", "--epochs", "2", "--keep-checkpoint", "-q").returncode == 0
    os.replace("a.h5.ckpt", "b.h5.ckpt")
    (here / "b.h5.ckpt.prev").write_bytes(b"not HDF5 at all")
    assert run("train", "d.h5", "-o", "b.h5", "--epochs", "1", "-q").returncode == 0
    assert not (here / "b.h5.ckpt").exists() and not (here / "b.h5.ckpt.prev").exists()


@pytest.mark.parametrize("spelling", ["m.h5", "./m.h5"])
def test_a_gate_may_not_judge_a_model_written_over_its_init_model(here, spelling):
    """With -o equal to --init, a failed gate (exit 3, the model written anyway) replaced the last good model by
    the one it failed.  Without a gate, -o may still replace the --init model (the nightly --init m.h5 -o m.h5)."""
    before, model = sorted(os.listdir(here)), (here / "m.h5").read_bytes()
    proc = run("train", "d.h5", "--init", "m.h5", "-o", spelling, "--epochs", "1", "--val-fraction", "0.2",
               "--fail-under", "accuracy=0.999")
    assert_refused(proc, here, before)
    assert proc.stderr == (f"sgdcli: error: --fail-under: -o {spelling} is the --init model, which a failed gate "
                           "would replace by the model it failed (the model is written either way): write to "
                           "another path and move it over m.h5 once the gate passes\n")
    assert (here / "m.h5").read_bytes() == model
    assert run("train", "d.h5", "--init", "m.h5", "-o", "m.h5", "--epochs", "1", "-q").returncode == 0


@pytest.mark.parametrize("option,path", [("-o", "new.h5"), ("--metrics", "new.jsonl"), ("--checkpoint", "new.ckpt")])
def test_a_directory_at_an_outputs_lock_file_is_refused(here, option, path):
    """It was "internal error: IsADirectoryError" (later "cannot make its lock file", exit 1): an output path that
    cannot be used, exit 2 as the others are."""
    (here / f"{path}.lock").mkdir()
    before = sorted(os.listdir(here))
    tail = [] if option == "-o" else [option, path]
    proc = run("train", "d.h5", "-o", "new.h5", *tail, "--epochs", "1")
    assert_refused(proc, here, before)
    assert proc.stderr == (f"sgdcli: error: {option} {here / path}: its lock file {here / path}.lock is a directory; "
                           "remove it or choose another output path\n")
