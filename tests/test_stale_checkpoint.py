"""A checkpoint that a signal left, and that no longer matches the run: refused by --resume (exit 2), removed and
started over with --resume --restart-stale.  A nightly job whose data file is refreshed every day needs the
second: without it, the refused checkpoint stays and every later night fails the same way."""

import os
import shutil
import signal

import numpy as np
import pytest

import sgdcli
from sgdcli.errors import Interrupted
from sgdcli.training.checkpoint import load_latest
from sgdcli.training.warmstart import WarmStart

from conftest import cli, make_problem, write_table

TRAIN = ["--epochs", "3", "--threads", "1", "--seed", "3"]


def stopped_run(data, model):
    """A run of ``train DATA -o MODEL`` + TRAIN that SIGTERM stopped after its first epoch: its checkpoint stays."""
    ckpt = f"{model}.ckpt"
    control = sgdcli.RunControl(checkpoint=ckpt, stop=lambda: signal.SIGTERM if os.path.exists(ckpt) else None)
    with pytest.raises(Interrupted) as stopped:
        sgdcli.train(data, sgdcli.TrainOptions(epochs=3, threads=1, seed=3), output=model, control=control)
    assert stopped.value.exit_code == 143 and not os.path.exists(model)
    assert load_latest(ckpt).position.epoch == 1  # stopped in the second epoch
    return ckpt


def weights(path):
    model = sgdcli.load_model(str(path))
    return model.weights, model.bias


def assert_as_uninterrupted(model, tmp_path, data, *args):
    """``model`` has the weights of a run of ``train DATA`` + TRAIN + ``args`` that nothing stopped."""
    straight = tmp_path / "straight.h5"
    assert cli("train", data, "-o", straight, "-q", *TRAIN, *args)[0] == 0
    for a, b in zip(weights(model), weights(straight)):
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def refreshed(tmp_path):
    """A checkpoint of a stopped run on data.h5, and data.h5 replaced since by another day's rows."""
    data = write_table(tmp_path / "data.h5", *make_problem("binary", n=3000, d=6, seed=1))
    os.utime(data, (1000, 1000))
    ckpt = stopped_run(data, str(tmp_path / "m.h5"))
    write_table(data, *make_problem("binary", n=3000, d=6, seed=2))  # tonight's export, same shape
    os.utime(data, (2000, 2000))
    return data, tmp_path / "m.h5", ckpt


def test_resume_refuses_a_checkpoint_of_other_data_and_names_restart_stale(refreshed):
    data, model, ckpt = refreshed
    code, out, err = cli("train", data, "-o", model, "--resume", "-q", *TRAIN)
    assert (code, out) == (2, "")
    assert err == (f"sgdcli: error: --resume: the data changed since checkpoint {ckpt}: train.mtime (checkpoint: "
                   "1000.0, now: 2000.0); drop --resume, remove the checkpoint, or add --restart-stale to start "
                   "over\n")
    assert os.path.exists(ckpt) and not os.path.exists(model)


def test_resume_refuses_another_file_of_the_same_size_and_time(tmp_path):
    """Another day's rows of the same shape, copied in with the first day's modification time (cp -p of a file
    of that time, an archive's fixed times): the checkpoint's size and time matched, and the run went on with
    half its epochs on one file and half on the other.  The files' content digests tell them apart; a copy of
    the same file under the same time, and a checkpoint that records no digest (an older sgdcli's), resume."""
    import h5py

    data = write_table(tmp_path / "data.h5", *make_problem("binary", n=3000, d=6, seed=1))
    os.utime(data, (1000, 1000))
    ckpt = stopped_run(data, str(tmp_path / "m.h5"))
    shutil.copy(data, tmp_path / "kept.h5")
    write_table(data, *make_problem("binary", n=3000, d=6, seed=2))
    os.utime(data, (1000, 1000))
    assert os.path.getsize(data) == os.path.getsize(tmp_path / "kept.h5")
    assert cli("train", data, "-o", tmp_path / "m.h5", "--resume", "-q", *TRAIN) == (
        2, "", f"sgdcli: error: --resume: the data changed since checkpoint {ckpt}: train.content (another file of "
               "the same size and modification time: its bytes differ); drop --resume, remove the checkpoint, or "
               "add --restart-stale to start over\n")
    shutil.copy(tmp_path / "kept.h5", data)  # the first day's file again, under its time
    os.utime(data, (1000, 1000))
    shutil.copy(ckpt, tmp_path / "older.ckpt")
    code, _, err = cli("train", data, "-o", tmp_path / "m.h5", "--resume", *TRAIN)
    assert code == 0 and f"resuming from {ckpt}: epoch 2," in err, err
    assert_as_uninterrupted(tmp_path / "m.h5", tmp_path, data)
    with h5py.File(tmp_path / "older.ckpt", "r+") as f:  # as an sgdcli that kept no digest wrote it
        data_attr = f.attrs["data"]
        f.attrs["data"] = data_attr.replace(f', "content": "{sgdcli.data.identity.content_digest(data)}"', "")
        assert f.attrs["data"] != data_attr
    shutil.copy(tmp_path / "older.ckpt", ckpt)
    code, _, err = cli("train", data, "-o", tmp_path / "m2.h5", "--resume", *TRAIN, "--checkpoint", ckpt)
    assert code == 0 and f"resuming from {ckpt}: epoch 2," in err, err


def test_restart_stale_removes_a_checkpoint_of_other_data_and_trains_from_scratch(refreshed, tmp_path):
    data, model, ckpt = refreshed
    code, out, err = cli("train", data, "-o", model, "--resume", "--restart-stale", "-q", *TRAIN)
    assert code == 0, err
    assert out.startswith(f"model {model}: ")
    assert err == (f"sgdcli: warning: --restart-stale: the data changed since checkpoint {ckpt}: train.mtime "
                   "(checkpoint: 1000.0, now: 2000.0); removed it, so the run starts over\n")
    assert not os.path.exists(ckpt) and not os.path.exists(f"{ckpt}.prev")
    assert_as_uninterrupted(model, tmp_path, data)  # the run from scratch, nothing of the stopped one


def test_restart_stale_removes_a_checkpoint_made_with_other_options(tmp_path):
    data = write_table(tmp_path / "data.h5", *make_problem("binary", n=3000, d=6, seed=1))
    model = tmp_path / "m.h5"
    ckpt = stopped_run(data, str(model))
    code, out, err = cli("train", data, "-o", model, "--resume", "--restart-stale", "-q", *TRAIN, "--lr", "0.5")
    assert code == 0, err
    assert err == (f"sgdcli: warning: --restart-stale: checkpoint {ckpt} was made with other options: lr "
                   "(checkpoint: 'auto', now: 0.5); removed it, so the run starts over\n")
    assert not os.path.exists(ckpt)


def test_restart_stale_resumes_a_checkpoint_that_still_matches(tmp_path):
    data = write_table(tmp_path / "data.h5", *make_problem("binary", n=3000, d=6, seed=1))
    model = tmp_path / "m.h5"
    stopped_run(data, str(model))
    code, _, err = cli("train", data, "-o", model, "--resume", "--restart-stale", "--progress", "plain", *TRAIN)
    assert code == 0, err
    assert "resuming from" in err and "warning" not in err


def test_restart_stale_needs_resume(tmp_path):
    data = write_table(tmp_path / "data.h5", *make_problem("binary", n=300, d=6, seed=1))
    assert cli("train", data, "-o", tmp_path / "m.h5", "--restart-stale") == (
        2, "", "sgdcli: error: --restart-stale: applies only with --resume\n")


def test_restart_stale_needs_resume_in_the_python_api_too(tmp_path):
    """RunControl(restart_stale=True) without resume was taken, and did nothing: the run read no checkpoint."""
    from sgdcli.errors import InputError

    with pytest.raises(InputError) as refused:
        sgdcli.RunControl(checkpoint=str(tmp_path / "m.h5.ckpt"), restart_stale=True)
    assert str(refused.value) == ("--restart-stale: applies only with --resume (RunControl(restart_stale=True) needs "
                                  "resume=True)")
    assert sgdcli.RunControl(checkpoint=str(tmp_path / "m.h5.ckpt"), resume=True, restart_stale=True).restart_stale


def stopped_warm_run(data, model, init):
    """``stopped_run`` with ``--init INIT``."""
    ckpt = f"{model}.ckpt"
    control = sgdcli.RunControl(checkpoint=ckpt, stop=lambda: signal.SIGTERM if os.path.exists(ckpt) else None)
    with pytest.raises(Interrupted):
        sgdcli.train(data, sgdcli.TrainOptions(epochs=3, threads=1, seed=3, init=str(init)), output=model,
                     control=control)
    assert load_latest(ckpt).position.epoch == 1
    return ckpt


def test_the_same_files_given_through_a_symbolic_link_resume(tmp_path):
    """A cron job that names its data directory through a link after a deploy (or by the link's target, where
    the stopped run named the link): the checkpoint's data, --val and --init paths were compared as written,
    and "the data changed since checkpoint" (train.path) threw away a run of the very same files."""
    real, link = tmp_path / "real", tmp_path / "link"
    real.mkdir()
    os.symlink(real, link)
    data = write_table(real / "data.h5", *make_problem("binary", n=3000, d=6, seed=1))
    val = write_table(real / "val.h5", *make_problem("binary", n=500, d=6, seed=2))
    init, model = real / "current.h5", str(tmp_path / "m.h5")
    assert cli("train", data, "-o", init, "-q", "--epochs", "1")[0] == 0
    ckpt = f"{model}.ckpt"
    control = sgdcli.RunControl(checkpoint=ckpt, stop=lambda: signal.SIGTERM if os.path.exists(ckpt) else None)
    with pytest.raises(Interrupted):
        sgdcli.train(str(data), sgdcli.TrainOptions(epochs=3, threads=1, seed=3, init=str(init), val=str(val)),
                     output=model, control=control)
    linked = [link / "data.h5", "-o", model, "--init", link / "current.h5", "--val", link / "val.h5"]
    code, _, err = cli("train", *linked, "--resume", *TRAIN)
    assert code == 0 and f"resuming from {ckpt}: epoch 2," in err, err
    assert_as_uninterrupted(model, tmp_path, data, "--init", init, "--val", val)


def test_a_replaced_init_model_is_refused_by_resume_and_restarted_by_restart_stale(tmp_path):
    """The checkpoint records the --init model (its size, time and weights): a run resumed from another model
    at the same path would go on from other weights, at another --lr auto rate."""
    data = write_table(tmp_path / "data.h5", *make_problem("binary", n=3000, d=6, seed=1))
    other = write_table(tmp_path / "other.h5", *make_problem("binary", n=1000, d=6, seed=2))
    init, model = tmp_path / "current.h5", tmp_path / "m.h5"
    assert cli("train", data, "-o", init, "-q", "--epochs", "1")[0] == 0
    os.utime(init, (1000, 1000))
    before = WarmStart(str(init), sgdcli.load_model(str(init))).fingerprint
    ckpt = stopped_warm_run(data, str(model), init)
    assert cli("train", other, "-o", init, "-q", "--epochs", "2")[0] == 0  # tonight's current model
    os.utime(init, (2000, 2000))
    after = WarmStart(str(init), sgdcli.load_model(str(init))).fingerprint
    why = (f"the --init model {init} changed since checkpoint {ckpt}: mtime (checkpoint: 1000.0, now: 2000.0); "
           f"weights (checkpoint: {before!r}, now: {after!r})")
    code, out, err = cli("train", data, "-o", model, "--init", init, "--resume", "-q", *TRAIN)
    assert (code, out, err) == (2, "", f"sgdcli: error: --resume: {why}; drop --resume, remove the checkpoint, or "
                                       "add --restart-stale to start over\n")
    assert os.path.exists(ckpt)
    code, out, err = cli("train", data, "-o", model, "--init", init, "--resume", "--restart-stale", "-q", *TRAIN)
    assert (code, err) == (0, f"sgdcli: warning: --restart-stale: {why}; removed it, so the run starts over\n")
    assert_as_uninterrupted(model, tmp_path, data, "--init", init)  # from tonight's model, nothing of the stopped run


@pytest.fixture
def unreadable(tmp_path):
    """A stopped run's checkpoint and its .prev, both cut short (a full disk, a copy interrupted)."""
    data = write_table(tmp_path / "data.h5", *make_problem("binary", n=3000, d=6, seed=1))
    ckpt = stopped_run(data, str(tmp_path / "m.h5"))
    for path, size in ((ckpt, 3000), (f"{ckpt}.prev", 100)):
        with open(path, "r+b") as fh:
            fh.truncate(size)
    return data, tmp_path / "m.h5", ckpt


def test_unreadable_checkpoints_stop_resume_naming_restart_stale(unreadable):
    data, model, ckpt = unreadable
    code, out, err = cli("train", data, "-o", model, "--resume", "-q", *TRAIN)
    assert (code, out) == (1, "")
    assert err.startswith(f"sgdcli: error: --resume: no readable checkpoint ({ckpt}: ") and f"; {ckpt}.prev: " in err
    assert err.endswith("); remove them, or add --restart-stale, to start over\n") and len(err.splitlines()) == 1
    assert os.path.exists(ckpt) and os.path.exists(f"{ckpt}.prev")


def test_restart_stale_removes_unreadable_checkpoints_and_trains_from_scratch(unreadable, tmp_path):
    data, model, ckpt = unreadable
    code, out, err = cli("train", data, "-o", model, "--resume", "--restart-stale", "-q", *TRAIN)
    assert code == 0, err
    assert err.startswith(f"sgdcli: warning: --restart-stale: no readable checkpoint ({ckpt}: ")
    assert f"; {ckpt}.prev: " in err and err.endswith("); removed them, so the run starts over\n")
    assert len(err.splitlines()) == 1
    assert not os.path.exists(ckpt) and not os.path.exists(f"{ckpt}.prev")
    assert_as_uninterrupted(model, tmp_path, data)
    with open(ckpt, "w") as fh:  # one file, not HDF5 at all
        fh.write("hello\n")
    code, out, err = cli("train", data, "-o", model, "--resume", "--restart-stale", "-q", *TRAIN)
    assert code == 0 and err.startswith(f"sgdcli: warning: --restart-stale: no readable checkpoint ({ckpt}: ")
    assert err.endswith("); removed it, so the run starts over\n") and len(err.splitlines()) == 1


def test_restart_stale_names_the_previous_checkpoint_it_compared_and_the_unreadable_one(tmp_path):
    data = write_table(tmp_path / "data.h5", *make_problem("binary", n=3000, d=6, seed=1))
    model = tmp_path / "m.h5"
    ckpt = stopped_run(data, str(model))
    with open(ckpt, "r+b") as fh:
        fh.truncate(3000)
    code, out, err = cli("train", data, "-o", model, "--resume", "-q", *TRAIN, "--lr", "0.5")
    assert (code, err) == (2, f"sgdcli: error: --resume: checkpoint {ckpt}.prev was made with other options: lr "
                              "(checkpoint: 'auto', now: 0.5); drop --resume, remove the checkpoint, or add "
                              "--restart-stale to start over\n")
    code, out, err = cli("train", data, "-o", model, "--resume", "--restart-stale", "-q", *TRAIN, "--lr", "0.5")
    assert (code, err) == (0, f"sgdcli: warning: --restart-stale: checkpoint {ckpt}.prev was made with other "
                              "options: lr (checkpoint: 'auto', now: 0.5); removed it and the unreadable "
                              f"{ckpt}, so the run starts over\n")
    assert not os.path.exists(ckpt) and not os.path.exists(f"{ckpt}.prev")


def test_restart_stale_keeps_a_file_that_is_no_checkpoint(tmp_path):
    data = write_table(tmp_path / "data.h5", *make_problem("binary", n=300, d=6, seed=1))
    assert cli("train", data, "-o", tmp_path / "model.h5", "-q", "--epochs", "1")[0] == 0
    code, out, err = cli("train", data, "-o", tmp_path / "m.h5", "--checkpoint", tmp_path / "model.h5", "--resume",
                         "--restart-stale", "-q")
    assert (code, err) == (1, f"sgdcli: error: --resume: no readable checkpoint ({tmp_path / 'model.h5'}: not an "
                              "sgdcli checkpoint); move it away or give --checkpoint another path (--restart-stale "
                              "removes only sgdcli checkpoints)\n")
    assert sgdcli.load_model(str(tmp_path / "model.h5")).n_features == 6


def tampered(path, change):
    """Rewrite the checkpoint ``path`` with ``change(f)`` applied to it as an h5py file."""
    import h5py

    with h5py.File(path, "r+") as f:
        change(f)


def replaced(name, value):
    def change(f):
        new = value(f) if callable(value) else value
        del f[name]
        f[name] = new
    return change


def moved(**fields):
    def change(f):
        import json

        f.attrs["position"] = json.dumps({**json.loads(f.attrs["position"]), **fields})
    return change


def nan_at(name, index):
    def change(f):
        f[name][index] = np.nan
    return change


def negative_at(name, index):
    def change(f):
        f[name][index] = -1.0
    return change


DAMAGE = {
    "a column short": (lambda: replaced("state/W", lambda f: f["state/W"][()][:, :6]),
                       "state/W has 6 columns for 6 features + bias"),
    "a row too many": (lambda: replaced("state/G", lambda f: np.zeros((2, 7))), "state/G has 2 rows for 1 output"),
    "a NaN weight": (lambda: nan_at("state/W", (0, 3)), "state/W has a non-finite value (nan at [0, 3])"),
    "slots of another shape": (lambda: replaced("state/slots", lambda f: np.zeros((3, 1, 5))),
                               "state/slots has shape (3, 1, 5); expected (3, 1, 7) (slots × outputs × features "
                               "+ bias)"),
    "a short std": (lambda: replaced("std", lambda f: f["std"][()][:5]), "std has shape (5,) for 6 features"),
    "a negative std": (lambda: negative_at("std", 2), "std has -1.0 at feature 2; a standard deviation is not "
                                                       "negative"),
    "a NaN mean": (lambda: nan_at("mean", 1), "mean has a non-finite value (nan at [1])"),
    "three classes": (lambda: replaced("classes", np.array([0, 1, 2])), "classes has 3 values; a binary model has 2"),
    "a negative epoch": (lambda: moved(epoch=-3), "position epoch is -3, not a count"),
    "an epoch past the run": (lambda: moved(epoch=7), "position epoch 7 is past the run's 3 epochs"),
    "a row past the data": (lambda: moved(row=10**9), "position row 1000000000 is past the data's 3000 rows"),
    "an iteration past the epoch": (lambda: moved(epoch_start_t=0), "position: iteration 187 of epoch 2 is past its "
                                                                   "94 iterations"),
}


@pytest.mark.parametrize("name", DAMAGE)
def test_a_checkpoint_whose_contents_do_not_fit_the_run_is_unreadable(tmp_path, name):
    """HDF5 read such checkpoints without complaint and the run went on with them: a matrix a column short was
    read past its end by the compiled kernel, a NaN weight was taken for a blow-up and --lr auto started over at
    half the rate (exit 0, another model), a negative epoch failed as an internal error, a row past the data
    skipped the rest of the window unsaid."""
    data = write_table(tmp_path / "data.h5", *make_problem("binary", n=3000, d=6, seed=1))
    model = tmp_path / "m.h5"
    ckpt = stopped_run(data, str(model))
    os.unlink(f"{ckpt}.prev")
    change, problem = DAMAGE[name]
    tampered(ckpt, change())
    code, out, err = cli("train", data, "-o", model, "--resume", "-q", *TRAIN)
    assert (code, out, err) == (1, "", f"sgdcli: error: --resume: no readable checkpoint ({ckpt}: damaged sgdcli "
                                       f"checkpoint: {problem}); remove it, or add --restart-stale, to start over\n")
    assert os.path.exists(ckpt) and not model.exists()
    code, out, err = cli("train", data, "-o", model, "--resume", "--restart-stale", "-q", *TRAIN)
    assert (code, err) == (0, f"sgdcli: warning: --restart-stale: no readable checkpoint ({ckpt}: damaged sgdcli "
                              f"checkpoint: {problem}); removed it, so the run starts over\n")
    assert not os.path.exists(ckpt)
    assert_as_uninterrupted(model, tmp_path, data)


def test_a_damaged_checkpoint_falls_back_to_the_previous_one_and_ends_bit_for_bit(tmp_path):
    data = write_table(tmp_path / "data.h5", *make_problem("binary", n=3000, d=6, seed=1))
    model = tmp_path / "m.h5"
    ckpt = stopped_run(data, str(model))
    tampered(ckpt, nan_at("state/W", (0, 3)))
    code, out, err = cli("train", data, "-o", model, "--resume", "--progress", "plain", *TRAIN)
    assert code == 0, err
    assert (f"checkpoint {ckpt}: damaged sgdcli checkpoint: state/W has a non-finite value (nan at [0, 3]); "
            f"resuming from the previous one, {ckpt}.prev") in err
    assert "diverged" not in err and "half the rate" not in err
    assert_as_uninterrupted(model, tmp_path, data)


class Killed(BaseException):
    """The process dies here (SIGKILL), in a test that runs it in-process."""


def test_after_falling_back_to_the_previous_checkpoint_a_kill_while_checkpointing_leaves_it(tmp_path, monkeypatch):
    """The run's first checkpoint moved the unreadable PATH onto the PATH.prev it had resumed from, then
    fsynced the new one: killed there, it left no readable checkpoint, and every later night exited 1."""
    data = write_table(tmp_path / "data.h5", *make_problem("binary", n=3000, d=6, seed=1))
    model = tmp_path / "m.h5"
    ckpt = stopped_run(data, str(model))
    resumed_from = load_latest(f"{ckpt}.prev").position
    with open(ckpt, "r+b") as fh:
        fh.truncate(3000)

    def killed(fd):
        raise Killed

    monkeypatch.setattr(os, "fsync", killed)  # the first file the resumed run writes is its next checkpoint
    control = sgdcli.RunControl(checkpoint=ckpt, resume=True)
    with pytest.raises(Killed):
        sgdcli.train(data, sgdcli.TrainOptions(epochs=3, threads=1, seed=3), output=str(model), control=control)
    monkeypatch.undo()
    assert not os.path.exists(ckpt)  # the unreadable one is gone; the previous one stays as it was
    assert load_latest(ckpt).position == resumed_from
    code, out, err = cli("train", data, "-o", model, "--resume", "-q", *TRAIN)
    assert code == 0, err
    assert_as_uninterrupted(model, tmp_path, data)


def test_resume_refuses_a_file_at_the_checkpoint_path_that_is_no_checkpoint_though_its_previous_one_reads(tmp_path):
    """It resumed from PATH.prev, and its checkpoints replaced the file at PATH (a model) and its end removed it."""
    data = write_table(tmp_path / "data.h5", *make_problem("binary", n=3000, d=6, seed=1))
    model = tmp_path / "m.h5"
    ckpt = stopped_run(data, str(model))
    assert cli("train", data, "-o", ckpt, "-q", "--epochs", "1", "--checkpoint", tmp_path / "other.ckpt")[0] == 0
    code, out, err = cli("train", data, "-o", model, "--resume", "--restart-stale", "-q", *TRAIN)
    assert (code, out, err) == (1, "", f"sgdcli: error: --resume: {ckpt}: not an sgdcli checkpoint; the run's "
                                       "checkpoints would replace it and its end remove it: move it away or give "
                                       "--checkpoint another path\n")
    assert sgdcli.load_model(ckpt).n_features == 6 and os.path.exists(f"{ckpt}.prev")


def stopped_with(data, model, **options):
    """``stopped_run`` with other TrainOptions (paths as given: relative ones stay relative)."""
    ckpt = f"{model}.ckpt"
    control = sgdcli.RunControl(checkpoint=ckpt, stop=lambda: signal.SIGTERM if os.path.exists(ckpt) else None)
    with pytest.raises(Interrupted):
        sgdcli.train(data, sgdcli.TrainOptions(epochs=3, threads=1, seed=3, **options), output=model, control=control)
    return ckpt


def test_resume_compares_the_values_the_options_take_not_how_they_are_written(tmp_path, monkeypatch):
    """--page-rows 2 at batch 32 (its default, batch / 16), --val-y y (--y's), --val-x X, and the --init and --val
    files named by other paths were refused as options changed (page_rows (checkpoint: None, now: 2), val
    (checkpoint: 'val.h5', now: './val.h5')), where DATA's path, --threads and --optimizer are compared as the
    run resolves them."""
    monkeypatch.chdir(tmp_path)
    write_table("data.h5", *make_problem("binary", n=3000, d=6, seed=1))
    write_table("val.h5", *make_problem("binary", n=500, d=6, seed=2))
    assert cli("train", "data.h5", "-o", "base.h5", "-q", "--epochs", "1")[0] == 0
    ckpt = stopped_with("data.h5", "m.h5", val="val.h5", init="base.h5")
    same = ["--val", tmp_path / "val.h5", "--init", "./base.h5", "--val-x", "X", "--val-y", "y", "--page-rows", "2"]
    code, out, err = cli("train", "data.h5", "-o", "m.h5", "--resume", "-q", *TRAIN, *same[:-1], "3")
    assert (code, err) == (2, "sgdcli: error: --resume: checkpoint m.h5.ckpt was made with other options: page_rows "
                              "(checkpoint: 2, now: 3); drop --resume, remove the checkpoint, or add --restart-stale "
                              "to start over\n")
    code, out, err = cli("train", "data.h5", "-o", "m.h5", "--resume", "--progress", "plain", *TRAIN, *same)
    assert code == 0, err
    assert f"resuming from {tmp_path / ckpt}: epoch 2" in err
    assert_as_uninterrupted("m.h5", tmp_path, "data.h5", "--val", "val.h5", "--init", "base.h5")


@pytest.mark.parametrize("stale", [[], ["--restart-stale"]], ids=["resume", "restart-stale"])
def test_resume_removes_the_checkpoint_of_a_run_killed_once_its_model_was_written(tmp_path, monkeypatch, stale):
    """Killed between writing its model and removing its checkpoint, the nightly --init m.h5 -o m.h5 left a
    checkpoint that no longer matched its --init model (the model it had written): every later --resume was
    refused (the --init model changed, exit 2), and --restart-stale said so too, then started over."""
    from sgdcli.training import checkpoint

    data = write_table(tmp_path / "data.h5", *make_problem("binary", n=3000, d=6, seed=1))
    model, ckpt = tmp_path / "m.h5", str(tmp_path / "m.h5.ckpt")
    assert cli("train", data, "-o", model, "-q", "--epochs", "1")[0] == 0  # last night's model

    def killed(path):
        raise Killed

    monkeypatch.setattr(checkpoint, "remove", killed)
    with pytest.raises(Killed):
        sgdcli.train(data, sgdcli.TrainOptions(epochs=3, threads=1, seed=3, init=str(model)), output=str(model),
                     control=sgdcli.RunControl(checkpoint=ckpt, resume=True))
    monkeypatch.undo()
    assert os.path.exists(ckpt) and os.path.exists(f"{ckpt}.prev")
    shutil.copy(model, tmp_path / "written.h5")  # the model the killed run wrote
    code, out, err = cli("train", data, "-o", model, "--init", model, "--resume", *stale, "-q", *TRAIN)
    assert (code, err) == (0, f"sgdcli: warning: --resume: the run of checkpoint {ckpt} finished: the --init model "
                              f"{model} is the model it wrote (trained from the model it started from, on the same "
                              "data, with the same options); removed the checkpoint, so the run starts over from "
                              "that model\n")
    assert out.startswith(f"model {model}: ") and not os.path.exists(ckpt) and not os.path.exists(f"{ckpt}.prev")
    # a new run, from the model the killed run wrote
    assert_as_uninterrupted(model, tmp_path, data, "--init", tmp_path / "written.h5")


def test_an_init_model_trained_from_the_same_start_with_other_options_is_still_refused(tmp_path):
    data = write_table(tmp_path / "data.h5", *make_problem("binary", n=3000, d=6, seed=1))
    model = tmp_path / "m.h5"
    assert cli("train", data, "-o", model, "-q", "--epochs", "1")[0] == 0
    shutil.copy(model, tmp_path / "start.h5")
    ckpt = stopped_warm_run(data, str(model), model)
    assert cli("train", data, "-o", model, "--init", tmp_path / "start.h5", "--checkpoint", tmp_path / "other.ckpt",
               "-q", *TRAIN, "--lr", "0.5")[0] == 0  # from the same model, on the same data, at another rate
    code, out, err = cli("train", data, "-o", model, "--init", model, "--resume", "-q", *TRAIN)
    assert code == 2 and err.startswith(f"sgdcli: error: --resume: the --init model {model} changed since "
                                        f"checkpoint {ckpt}: ")
    assert os.path.exists(ckpt)


@pytest.mark.parametrize("then,now", [(None, ["--positive-class", "1"]), ("1", []), ("1", ["--positive-class", "1.0"]),
                                      ("1.0", ["--positive-class", "1"])])
def test_resume_compares_the_positive_class_not_how_it_is_written(tmp_path, monkeypatch, then, now):
    """Given on one run and left to its default (the larger label) on the other, or 1 and 1.0, it was refused as
    an option changed: positive_class (checkpoint: None, now: '1')."""
    monkeypatch.chdir(tmp_path)
    write_table("data.h5", *make_problem("binary", n=3000, d=6, seed=1))
    ckpt = stopped_with("data.h5", "m.h5", positive_class=then)
    code, out, err = cli("train", "data.h5", "-o", "m.h5", "--resume", "--progress", "plain", *TRAIN, *now)
    assert code == 0, err
    assert f"resuming from {tmp_path / ckpt}: epoch 2" in err
    assert_as_uninterrupted("m.h5", tmp_path, "data.h5")


def test_resume_refuses_the_other_positive_class_however_it_is_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_table("data.h5", *make_problem("binary", n=3000, d=6, seed=1))
    stopped_with("data.h5", "m.h5")
    assert cli("train", "data.h5", "-o", "m.h5", "--resume", "-q", *TRAIN, "--positive-class", "0.0") == (
        2, "", "sgdcli: error: --resume: checkpoint m.h5.ckpt was made with other options: positive_class "
               "(checkpoint: '1', now: '0'); drop --resume, remove the checkpoint, or add --restart-stale to start "
               "over\n")
    os.replace("m.h5.ckpt", "kept.ckpt")
    stopped_with("data.h5", "m.h5", positive_class="0")
    assert cli("train", "data.h5", "-o", "m.h5", "--resume", "-q", *TRAIN) == (
        2, "", "sgdcli: error: --resume: checkpoint m.h5.ckpt was made with other options: positive_class "
               "(checkpoint: '0', now: '1'); drop --resume, remove the checkpoint, or add --restart-stale to start "
               "over\n")


def test_resume_compares_a_positive_class_of_names_by_name(tmp_path, monkeypatch):
    import h5py

    monkeypatch.chdir(tmp_path)
    X, y = make_problem("binary", n=3000, d=6, seed=1)
    with h5py.File("names.h5", "w") as f:
        f["X"] = X
        f["y"] = np.where(y > 0, b"dog", b"cat")
    stopped_with("names.h5", "m.h5")
    assert cli("train", "names.h5", "-o", "m.h5", "--resume", "-q", *TRAIN, "--positive-class", "cat") == (
        2, "", "sgdcli: error: --resume: checkpoint m.h5.ckpt was made with other options: positive_class "
               "(checkpoint: 'dog', now: 'cat'); drop --resume, remove the checkpoint, or add --restart-stale to "
               "start over\n")
    code, out, err = cli("train", "names.h5", "-o", "m.h5", "--resume", "--progress", "plain", *TRAIN,
                         "--positive-class", "dog")
    assert code == 0, err
    assert "resuming from" in err
    assert_as_uninterrupted("m.h5", tmp_path, "names.h5")


def test_a_run_that_starts_afresh_keeps_none_of_another_runs_checkpoints(tmp_path):
    """--keep-checkpoint keeps the run's own: a stopped run's checkpoint and its .prev at the path are replaced by
    the new run's first checkpoint, with no .prev, and a run that saved none keeps none."""
    data = write_table(tmp_path / "data.h5", *make_problem("binary", n=3000, d=6, seed=1))
    ckpts = {}
    for name in ("two", "one", "resumed"):
        ckpts[name] = stopped_run(data, str(tmp_path / f"{name}.h5"))
        assert os.path.exists(f"{ckpts[name]}.prev")
    assert cli("train", data, "-o", tmp_path / "two.h5", "-q", "--keep-checkpoint", "--epochs", "2")[0] == 0
    assert load_latest(ckpts["two"]).options["epochs"] == 2 and not os.path.exists(f"{ckpts['two']}.prev")
    assert cli("train", data, "-o", tmp_path / "one.h5", "-q", "--keep-checkpoint", "--epochs", "1")[0] == 0
    assert not os.path.exists(ckpts["one"]) and not os.path.exists(f"{ckpts['one']}.prev")
    assert cli("train", data, "-o", tmp_path / "resumed.h5", "-q", "--keep-checkpoint", "--resume", *TRAIN)[0] == 0
    assert load_latest(ckpts["resumed"]).position.epoch == 2  # resumed: the run's own checkpoints, kept


def test_a_run_without_resume_says_which_checkpoint_it_replaces(tmp_path):
    """A nightly rerun without --resume starts afresh: its log names the checkpoint whose work it gives up (the
    run a signal stopped in its second epoch), and it says nothing where there is none, or where the run is
    refused before it trains (the checkpoint is left as it was)."""
    data = write_table(tmp_path / "d.h5", *make_problem("binary", n=2000, d=4, seed=0))
    model = tmp_path / "m.h5"
    ckpt = stopped_run(data, model)
    narrow = write_table(tmp_path / "narrow.h5", *make_problem("binary", n=500, d=3, seed=1))
    code, _, err = cli("train", data, "-o", model, *TRAIN, "--val", narrow)  # refused: the checkpoint stays
    assert code == 2 and "--checkpoint:" not in err and os.path.exists(ckpt), err
    code, _, err = cli("train", data, "-o", model, *TRAIN, "--init", tmp_path / "none.h5")  # (refused in its set-up)
    assert code == 2 and "--checkpoint:" not in err and os.path.exists(ckpt), err
    code, _, err = cli("train", data, "-o", model, *TRAIN)
    assert code == 0, err
    said = (f"--checkpoint: an earlier run's checkpoint, {ckpt} (1 epoch done and part of the next), is replaced: "
            "this run, without --resume, starts afresh")
    assert [line[20:] for line in err.splitlines() if "--checkpoint:" in line] == [said], err
    assert_as_uninterrupted(model, tmp_path, data)
    code, _, err = cli("train", data, "-o", model, *TRAIN)
    assert code == 0 and "--checkpoint:" not in err, err
