"""File names and working directories as a nightly job meets them: names whose bytes are not UTF-8 (a Latin-1
export copied from an old share), and a working directory removed under the job.  Each ended in an internal
error, exit 1, where the command should work (or be refused in one line)."""

import os
import signal

import h5py
import numpy as np
import pytest

from conftest import make_problem, run, write_table

LATIN1 = os.fsdecode(b"donn\xe9es")  # what Python makes of the name's bytes: 'donn\udce9es' in a UTF-8 locale


def _csv(path, n=200):
    X, y = make_problem("binary", n=n, d=3, seed=0)
    with open(path, "w") as fh:
        fh.write("a,b,c,label\n")
        fh.writelines(",".join(repr(float(v)) for v in row) + f",{int(t)}\n" for row, t in zip(X, y))
    return path


def test_convert_of_a_file_whose_name_is_not_utf8_writes_it_and_records_the_name_escaped(tmp_path):
    source = _csv(tmp_path / f"{LATIN1}.csv")
    ran = run("convert", source, "-o", tmp_path / "d.h5", "--label-column", "label")
    assert (ran.returncode, ran.stderr) == (0, ""), ran.stderr
    with h5py.File(tmp_path / "d.h5", "r") as f:
        assert f.attrs["converted_from"] == os.path.join(str(tmp_path), "donn\\xe9es.csv")


@pytest.mark.parametrize("csv", [False, True], ids=["hdf5", "csv"])
def test_predict_to_hdf5_from_files_whose_names_are_not_utf8_writes_the_predictions(tmp_path, csv):
    source = _csv(tmp_path / "plain.csv")  # the names of the files made are ASCII: only predict's are not
    run("convert", source, "-o", tmp_path / "plain.h5", "--label-column", "label", check=True)
    run("train", tmp_path / "plain.h5", "-o", tmp_path / "plain.model.h5", "--epochs", "1", "-q", check=True)
    data, model = tmp_path / f"{LATIN1}.h5", tmp_path / f"{LATIN1}.model.h5"
    for plain, named in ((source, tmp_path / f"{LATIN1}.csv"), (tmp_path / "plain.h5", data),
                         (tmp_path / "plain.model.h5", model)):
        os.rename(plain, named)
    source = tmp_path / f"{LATIN1}.csv"
    ran = run("predict", model, source if csv else data, "-o", tmp_path / "p.h5")
    assert ran.returncode == 0 and "error" not in ran.stderr, ran.stderr
    with h5py.File(tmp_path / "p.h5", "r") as f:
        assert f.attrs["model"] == os.path.join(str(tmp_path), "donn\\xe9es.model.h5")
        assert f.attrs["data"] == os.path.join(str(tmp_path), "donn\\xe9es." + ("csv" if csv else "h5"))
        assert len(f["prediction"]) == 200


# --- signals in the long stretches of a run that are no training: the validation passes, the compile ---------------


def _val_run(tmp_path, stop=lambda: None, resume=False):
    import sgdcli
    from sgdcli import RunControl, TrainOptions

    data, val = tmp_path / "d.h5", tmp_path / "v.h5"
    if not data.exists():  # the first run of a test writes them; a resumed run reads them as they were
        write_table(data, *make_problem("binary", n=2000, d=4, seed=3))
        write_table(val, *make_problem("binary", n=3000, d=4, seed=4), chunks=256)
    opts = TrainOptions(epochs=3, batch_size=32, threads=1, val=str(val))
    control = RunControl(checkpoint=str(tmp_path / "m.h5.ckpt"), resume=resume, stop=stop)
    return sgdcli.train(str(data), opts, output=str(tmp_path / "m.h5"), control=control)


def test_a_signal_during_an_epochs_validation_pass_stops_the_run_there_and_resume_ends_as_a_straight_run(
        tmp_path, monkeypatch):
    """Validating over a large --val file takes as long as reading it; a SIGTERM then waited for the pass to end
    (minutes, for a `timeout` or systemd to follow with SIGKILL).  Now the pass asks after each block, as the
    epochs do between kernel calls: the run stops in epoch 1's validation, with the checkpoint of its end."""
    import sgdcli.parallel.local as local
    from sgdcli.errors import Interrupted

    (tmp_path / "straight").mkdir()
    straight = _val_run(tmp_path / "straight")
    validating = []
    measure = local.measure
    monkeypatch.setattr(local, "measure", lambda *a, **k: (validating.append(1), measure(*a, **k))[1])
    with pytest.raises(Interrupted) as stopped:
        _val_run(tmp_path, stop=lambda: signal.SIGTERM if validating else None)
    assert stopped.value.exit_code == 143
    assert str(stopped.value) == (f"stopped by SIGTERM at epoch 1, iteration 63/63; checkpoint saved to "
                                  f"{tmp_path / 'm.h5.ckpt'}; run the same command with --resume to continue")
    assert len(validating) == 1 and not os.path.exists(tmp_path / "m.h5")
    monkeypatch.setattr(local, "measure", measure)
    resumed = _val_run(tmp_path, resume=True)
    assert [r["val_loss"] for r in resumed.history] == [r["val_loss"] for r in straight.history]
    np.testing.assert_array_equal(resumed.weights, straight.weights)


def test_a_signal_during_the_val_files_check_before_training_stops_it_there(tmp_path, monkeypatch):
    """The pass that checks every label and feature of --val before training asked no stop either (and said
    nothing while it read): it logs its start and stops between blocks, as the passes over the training file."""
    import sgdcli.engine.passes as passes
    from sgdcli.errors import Interrupted

    checking = []
    check = passes.check_val_labels
    monkeypatch.setattr(passes, "check_val_labels", lambda *a, **k: (checking.append(1), check(*a, **k))[1])
    with pytest.raises(Interrupted) as stopped:
        _val_run(tmp_path, stop=lambda: signal.SIGTERM if checking else None)
    assert (stopped.value.exit_code, str(stopped.value)) == (
        143, "stopped by SIGTERM while checking the --val file, before training began; nothing to resume yet")
    assert not os.path.exists(tmp_path / "m.h5") and not os.path.exists(tmp_path / "m.h5.ckpt")


def test_a_signal_while_the_kernels_compile_stops_the_run_before_its_first_step(tmp_path, monkeypatch):
    """The first run after an install or an upgrade compiles its kernels, which takes seconds to a minute and
    asks no stop; the run then trained up to its first safe point before it stopped.  Now it stops as set-up
    ends, before training, and a resumed run says that its checkpoint is left as it was."""
    from sgdcli.errors import Interrupted
    from sgdcli.parallel.local import LocalExecutor

    compiled = []
    warm_up = LocalExecutor.warm_up
    monkeypatch.setattr(LocalExecutor, "warm_up", lambda self: (compiled.append(1), warm_up(self))[1])
    with pytest.raises(Interrupted) as stopped:
        _val_run(tmp_path, stop=lambda: signal.SIGTERM if compiled else None)
    assert str(stopped.value) == "stopped by SIGTERM while setting up, before training began; nothing to resume yet"
    assert not os.path.exists(tmp_path / "m.h5.ckpt")


def test_a_resumed_run_stopped_while_setting_up_says_that_its_checkpoint_remains(tmp_path, monkeypatch):
    import sgdcli.parallel.local as local
    from sgdcli.errors import Interrupted
    from sgdcli.parallel.local import LocalExecutor

    validating = []
    measure = local.measure
    monkeypatch.setattr(local, "measure", lambda *a, **k: (validating.append(1), measure(*a, **k))[1])
    with pytest.raises(Interrupted):  # leaves the checkpoint of epoch 1's end
        _val_run(tmp_path, stop=lambda: signal.SIGTERM if validating else None)
    ckpt = tmp_path / "m.h5.ckpt"
    before = ckpt.read_bytes()
    compiled = []
    warm_up = LocalExecutor.warm_up
    monkeypatch.setattr(LocalExecutor, "warm_up", lambda self: (compiled.append(1), warm_up(self))[1])
    with pytest.raises(Interrupted) as stopped:
        _val_run(tmp_path, stop=lambda: signal.SIGTERM if compiled else None, resume=True)
    assert str(stopped.value) == (f"stopped by SIGTERM while setting up, before training resumed; its checkpoint, "
                                  f"{ckpt}, remains: run the same command with --resume to continue from it")
    assert ckpt.read_bytes() == before
    # a run without --resume stopped there has not replaced it either: it said "nothing to resume yet"
    with pytest.raises(Interrupted) as stopped:
        _val_run(tmp_path, stop=lambda: signal.SIGTERM if compiled else None)
    assert str(stopped.value) == (f"stopped by SIGTERM while reading the labels, before training began; an earlier "
                                  f"run's checkpoint, {ckpt} (0 epochs done and part of the next), remains as it was")
    assert ckpt.read_bytes() == before


GONE = ("is a relative path, and the working directory it is relative to no longer exists (removed after the "
        "command was started in it); give an absolute path, or start the command in a directory that exists")


@pytest.mark.parametrize("argv, option", [
    (["train", "{data}", "-o", "m.h5"], "-o m.h5"),
    (["train", "{data}", "-o", "{here}/m.h5", "--metrics", "m.jsonl"], "--metrics m.jsonl"),
    (["train", "{data}", "-o", "{here}/m.h5", "--checkpoint", "m.ckpt"], "--checkpoint m.ckpt"),
    (["predict", "{model}", "{data}", "-o", "p.csv"], "-o p.csv"),
    (["generate", "g.h5", "--rows", "10"], "OUTPUT g.h5"),
    (["sweep", "{data}", "--batch-sizes", "32", "--metrics-dir", "runs"], "--metrics-dir runs"),
], ids=["train", "metrics", "checkpoint", "predict", "generate", "sweep"])
def test_a_relative_output_in_a_working_directory_since_removed_is_one_line_exit_2(tmp_path, monkeypatch, argv,
                                                                                     option):
    """A cron job's `cd /srv/release && sgdcli ... -o model.h5`, its directory replaced by a deploy meanwhile:
    the relative path names nowhere, and making it absolute failed as an internal error (FileNotFoundError)."""
    data = write_table(tmp_path / "d.h5", *make_problem("binary", n=300, d=3, seed=0))
    run("train", data, "-o", tmp_path / "model.h5", "--epochs", "1", "-q", check=True)
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    fill = {"data": data, "model": tmp_path / "model.h5", "here": tmp_path}
    ran = run(*[a.format(**fill) for a in argv])
    assert (ran.returncode, ran.stdout, ran.stderr) == (2, "", f"sgdcli: error: {option}: {GONE}\n")


def test_predict_to_standard_output_stopped_by_sigterm_says_its_rows_there_are_incomplete(tmp_path):
    """`predict -o -` writes its rows as it makes them: a stop leaves those rows with the reader, so its line no
    longer says that no partial output was left (real process, real signal: it blocks on a pipe nobody reads)."""
    import subprocess
    import sys

    data = write_table(tmp_path / "d.h5", *make_problem("binary", n=200_000, d=3, seed=0))
    run("train", data, "-o", tmp_path / "m.h5", "--epochs", "1", "-q", check=True)
    env = {k: v for k, v in os.environ.items() if k != "SGDCLI_DEBUG"}
    proc = subprocess.Popen([sys.executable, "-m", "sgdcli", "predict", str(tmp_path / "m.h5"), str(data), "-o", "-"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0, env=env)
    assert proc.stdout.readline() == b"prediction\n"
    assert proc.stdout.readline() in (b"0\n", b"1\n")  # writing rows: the rest fill the pipe, and wait there
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err.decode().strip().splitlines()[-1] == ("sgdcli: stopped by SIGTERM before finishing; the predictions "
                                                     "written to standard output are incomplete")
    assert out.count(b"\n") < 200_000 - 1


def test_predict_to_standard_output_stopped_before_its_first_row_says_nothing_was_written(tmp_path, monkeypatch):
    """Its header row comes with the first block of rows: a stop before then left the reader nothing, and its
    line said that the predictions written there were incomplete."""
    import sgdcli
    from sgdcli import errors

    def stopped(*args, **kwargs):  # a SIGTERM while the model and the data are read (cli/app.py raises this)
        raise errors.Terminated(signal.SIGTERM)

    data = write_table(tmp_path / "d.h5", *make_problem("binary", n=500, d=3, seed=0))
    run("train", data, "-o", tmp_path / "m.h5", "--epochs", "1", "-q", check=True)
    monkeypatch.setattr(sgdcli, "predict", stopped, raising=False)
    ran = run("predict", tmp_path / "m.h5", data, "-o", "-")
    assert (ran.returncode, ran.stdout) == (143, "")
    assert ran.stderr.strip().splitlines()[-1] == ("sgdcli: stopped by SIGTERM before finishing; nothing was written "
                                                   "to standard output")
    # a stop while it sets up its runtime (and imports sgdcli's engine, most of a run's first half second) said
    # "no partial output file was left", of a run that writes no file
    monkeypatch.setattr(sgdcli, "configure_runtime", stopped, raising=False)
    ran = run("predict", tmp_path / "m.h5", data, "-o", "-")
    assert (ran.returncode, ran.stdout) == (143, "")
    assert ran.stderr.strip().splitlines()[-1] == ("sgdcli: stopped by SIGTERM before finishing; nothing was written "
                                                   "to standard output")
