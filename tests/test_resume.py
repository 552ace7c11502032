"""Unattended runs: checkpoints, exact resume after SIGKILL/SIGTERM, signals, locks.

Every test here uses real subprocesses and real signals.  SGDCLI_SLICE_ROWS
makes the safe points frequent so that small runs can be stopped mid-epoch.
"""

import os
import random
import select
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from sgdcli.training.checkpoint import FORMAT_VERSION, load_latest
from sgdcli import load_model

from conftest import make_problem, run, run_process, write_table

ENV = {"SGDCLI_SLICE_ROWS": "256", "SGDCLI_TEST_SAFE_POINT_DELAY": "0.003"}
_STARTED: list[subprocess.Popen] = []  # the processes the running test started (popen)


def popen(*args, **kwargs) -> subprocess.Popen:
    """subprocess.Popen, the process kept for ``_reaped`` to wait for and close its pipes at the test's end."""
    proc = subprocess.Popen(*args, **kwargs)
    _STARTED.append(proc)
    return proc


@pytest.fixture(autouse=True)
def _reaped():
    """At a test's end, each process it started is killed if it still runs, waited for, and its pipes closed
    (Popen's own exit): pipes left to the garbage collector give ResourceWarnings in whichever later test it runs
    in, even on the stderr of a command that test runs in-process (conftest.run)."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
        with proc:
            pass


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("resume")
    X, y = make_problem("multiclass", n=60000, d=8, k=3, seed=4)
    train = write_table(d / "train.h5", X, y, chunks=4096)
    with h5py.File(train, "a") as f:  # for the weighted case
        f["w"] = np.random.default_rng(4).uniform(0.0, 3.0, len(y))
    return train, write_table(d / "val.h5", *make_problem("multiclass", n=2000, d=8, k=3, seed=5))


def start(*args, env_extra=None, preexec_fn=None):
    env = {**os.environ, **ENV, "PYTHONFAULTHANDLER": "1", **(env_extra or {})}  # a crash's stacks on its stderr
    env.pop("SGDCLI_DEBUG", None)
    return popen([sys.executable, "-m", "sgdcli", "train", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=preexec_fn)


def weights(path):
    with h5py.File(path) as f:
        return f["weights"][()], f["bias"][()]


def assert_outputs_consistent(model, ckpt):
    """Whatever the moment of death: the model is absent or complete, and a checkpoint loads."""
    if os.path.exists(model):
        load_model(model)
    if os.path.exists(ckpt) or os.path.exists(ckpt + ".prev"):
        assert load_latest(ckpt) is not None


def _saved(ckpt):
    """When the newest checkpoint at ``ckpt`` was written (None: none yet).  A save renames the last checkpoint
    to ``.prev`` and the new one into place while this looks: a file gone between listing and stat is skipped."""
    times = []
    for path in (ckpt, ckpt + ".prev"):
        try:
            times.append(os.stat(path).st_mtime_ns)
        except FileNotFoundError:
            pass
    return max(times) if times else None


def interrupted_run(args, model, rng, signals_, max_kills=4, after=(0.0, 0.5), env_extra=None):
    """Kill the run with the given signals, each a random ``after`` seconds after the process saved its first
    checkpoint (so that the next process continues from one, however slowly this machine starts processes),
    resuming each time; return the kill count and how many processes started from a checkpoint."""
    kills = resumed = 0
    ckpt = model + ".ckpt"
    for sig in signals_[:max_kills]:
        before = _saved(ckpt)
        resumed += before is not None
        proc = start(*args, "-o", model, "--resume", env_extra=env_extra)
        while proc.poll() is None and _saved(ckpt) in (None, before):
            time.sleep(0.01)
        time.sleep(rng.uniform(*after))
        if proc.poll() is not None:  # finished before the kill
            assert proc.returncode == 0, proc.stderr.read()
            return kills, resumed
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        kills += 1
        if sig == signal.SIGTERM and proc.returncode == 143:  # during training (a checkpoint was saved already),
            # or after its last epoch, writing the model
            assert ("checkpoint saved" in err and "--resume" in err) or \
                err == "sgdcli: stopped by SIGTERM before finishing; no partial output file was left\n", err
        assert proc.returncode in (0, 143, -signal.SIGTERM, -signal.SIGKILL), err
        assert "Traceback" not in err
        assert_outputs_consistent(model, ckpt)
        if proc.returncode == 0:
            return kills, resumed
    resumed += _saved(ckpt) is not None
    proc = start(*args, "-o", model, "--resume", env_extra=env_extra)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return kills, resumed


CASES = {
    "sgd": ["--optimizer", "sgd", "--lr", "0.05", "--schedule", "cosine", "--warmup-iterations", "500", "--average"],
    "momentum": ["--optimizer", "momentum", "--schedule", "cosine"],
    "nesterov": ["--optimizer", "nesterov", "--warmup-iterations", "500"],
    "adagrad": ["--optimizer", "adagrad", "--lr", "0.1", "--average"],
    "rmsprop": ["--optimizer", "rmsprop", "--lr", "0.001", "--schedule", "step", "--step-epochs", "1", "--gamma", "0.5"],
    "adam": ["--optimizer", "adam", "--lr", "0.001", "--val-fraction", "0.1", "--standardize",
             "--schedule", "step", "--step-epochs", "1", "--gamma", "0.5"],
    # sample and class weights: a resumed run reads their sums again (training/setup.py)
    "weighted": ["--optimizer", "adam", "--lr", "0.01", "--sample-weight", "w", "--class-weight", "balanced",
                 "--val-fraction", "0.1"],
    # --lr auto under --l2: the bias steps at its own rate (training/biasrate.py), measured again on resume
    "sgd l2": ["--optimizer", "sgd", "--l2", "100", "--schedule", "constant"],
    "early stopping": ["--optimizer", "adam", "--lr", "0.01", "--early-stopping", "--patience", "1", "--min-delta", "0.01", "--epochs", "6"],
}
# Each case takes about ten seconds of kills and restarts.  `make test` runs the four
# that together cover no optimizer state, both Adam slots, every schedule but invscaling,
# warm-up, averaging, early stopping and weights; `make soak` adds the other optimizers.
SOAK_ONLY = ("momentum", "nesterov", "adagrad", "rmsprop", "sgd l2")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SOAK_ONLY else n for n in CASES])
def test_interrupted_runs_end_bit_for_bit_like_a_straight_run(tmp_path, data, name):
    train, val = data
    args = [train, "--model", "softmax", "--batch-size", "4", "--epochs", "3", "--checkpoint-every", "2000",
            "--memory", "2M", "-q", *CASES[name]]
    if name == "early stopping":
        args += ["--val", val]
    # The kernels compiled in one process can round differently from the same kernels loaded from the
    # cache (test_runtime.py's first-run test): compile them first, so every run below loads them.
    warm = start(*args, "-o", tmp_path / "warm.h5", "--epochs", "1", "--memory", "64M", "--checkpoint-every", "1000000")
    assert warm.wait(timeout=120) == 0, warm.stderr.read()
    straight = tmp_path / "straight.h5"
    proc = start(*args, "-o", straight)
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    rng = random.Random(name)
    model = str(tmp_path / "resumed.h5")
    kills, resumed = interrupted_run(args, model, rng, [signal.SIGKILL, signal.SIGTERM, signal.SIGKILL], max_kills=3)
    assert kills >= 1 and resumed >= 1  # at least one process continued from a checkpoint saved mid-run
    for a, b in zip(weights(straight), weights(model)):
        np.testing.assert_array_equal(a, b)
    assert not os.path.exists(model + ".ckpt") and not os.path.exists(model + ".ckpt.prev")
    history = load_model(model).history
    assert [h["train_loss"] for h in history] == [h["train_loss"] for h in load_model(str(straight)).history]


def wait_for_epoch(proc):
    """Read stderr until the first epoch summary: training is under way."""
    lines = []
    while True:
        line = proc.stderr.readline()
        assert line, "".join(lines)
        lines.append(line)
        if "epoch 1/" in line and "iterations," in line:
            return lines


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGHUP, 129)])
def test_sigint_and_sighup_stop_with_a_checkpoint_and_exit_128_plus_the_signal(tmp_path, data, signum, code):
    """SIGHUP is what a closed terminal or ssh session sends a run started without nohup: it once killed the run
    outright, losing the work since the last checkpoint and saying nothing."""
    train, _ = data
    model = str(tmp_path / "m.h5")
    proc = start(train, "-o", model, "--batch-size", "4", "--model", "softmax", "--epochs", "50", "--progress", "plain")
    wait_for_epoch(proc)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"sgdcli: stopped by {signal.Signals(signum).name} at epoch ") and last.endswith(
        f"checkpoint saved to {model}.ckpt; run the same command with --resume to continue")
    assert not os.path.exists(model)
    assert load_latest(model + ".ckpt") is not None


def test_a_run_under_nohup_trains_on_through_sighup(tmp_path, data):
    """nohup ignores SIGHUP so that a run outlives its session: sgdcli leaves an ignored signal ignored."""
    train, _ = data
    proc = start(train, "-o", tmp_path / "m.h5", "--batch-size", "4", "--model", "softmax", "--epochs", "3",
                 "--progress", "plain", preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    wait_for_epoch(proc)
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert os.path.exists(tmp_path / "m.h5") and "SIGHUP" not in err


def two_sigints(tmp_path, args, ready):
    """Start train with ``args`` (safe points 2 s apart), wait until ``ready(proc)`` returns, then send SIGINT
    twice, 5 ms apart; where both landed after a safe point (the first SIGINT's stop with its checkpoint came
    first: the race the tests below describe), clear the outputs and try again, up to 3 times.  Returns the
    process and its stderr."""
    for _ in range(3):
        for leftover in tmp_path.glob("m.h5*"):
            leftover.unlink()
        proc = start(*args, env_extra={"SGDCLI_TEST_SAFE_POINT_DELAY": "2"})
        ready(proc)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        if "checkpoint saved" not in err:
            break
    return proc, err


def test_second_sigint_exits_at_once(tmp_path, binary_file):
    """The first SIGINT asks for a checkpoint at the next safe point; a second one before it stops the run there
    and then. Safe points 2 s apart (each sleeps before it looks for a signal) put the second SIGINT, 5 ms after
    the first, before the next one but in the last 5 ms of a sleep (a chance of 1 in 400, more on a loaded
    machine, where the sleep between them can stretch): a run that stopped at the safe point with its checkpoint,
    the first SIGINT's stop, is tried again."""
    def training(proc):
        while "training on" not in (line := proc.stderr.readline()):
            assert line, "the run ended before training"

    proc, err = two_sigints(tmp_path, [binary_file, "-o", tmp_path / "m.h5", "--epochs", "50", "--progress",
                                       "plain"], training)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == ("sgdcli: stopped by SIGINT before finishing; no partial output file "
                                            "was left"), err
    assert not os.path.exists(tmp_path / "m.h5") and not os.path.exists(tmp_path / "m.h5.ckpt")
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []


def test_second_sigint_after_a_checkpoint_says_that_resume_continues_from_it(tmp_path, binary_file):
    """A second SIGINT stops the run at once, but a checkpoint an earlier safe point wrote stays: the line names
    it and --resume (it once said that no partial output file was left). Retried as above where the first
    SIGINT's stop at a safe point came first."""
    model = tmp_path / "m.h5"

    def checkpointed(proc):
        deadline = time.monotonic() + 60
        while not os.path.exists(f"{model}.ckpt"):
            assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint"
            time.sleep(0.01)
        time.sleep(0.1)  # inside the next safe point's sleep

    proc, err = two_sigints(tmp_path, [binary_file, "-o", model, "--epochs", "50", "--checkpoint-every", "1", "-q"],
                            checkpointed)
    assert (proc.returncode, err) == (130, f"sgdcli: stopped by SIGINT before finishing; the model was not "
                                           f"written, and the last checkpoint, {model}.ckpt, remains: run the "
                                           "same command with --resume to continue from it\n")
    assert not os.path.exists(model) and load_latest(f"{model}.ckpt") is not None


def test_a_second_sigint_that_compiled_code_wrapped_names_the_checkpoint_too(tmp_path, binary_file, monkeypatch):
    """Compiled code hands the KeyboardInterrupt back as the cause of a SystemError; without a checkpoint on disk
    the line is the other commands'."""
    import sgdcli

    model = tmp_path / "m.h5"
    run("train", binary_file, "-o", model, "--epochs", "2", "--keep-checkpoint", "-q", check=True)

    def stopped(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise SystemError("CPUDispatcher(<function step>) returned a result with an exception set") from exc

    monkeypatch.setattr(sgdcli, "train", stopped)
    assert run("train", binary_file, "-o", model, "--resume") == (
        130, "", f"sgdcli: stopped by SIGINT before finishing; the model was not written, and the last checkpoint, "
                 f"{model}.ckpt, remains: run the same command with --resume to continue from it\n")
    assert run("train", binary_file, "-o", tmp_path / "other.h5") == (
        130, "", "sgdcli: stopped by SIGINT before finishing; no partial output file was left\n")


def test_a_second_sigint_names_the_checkpoint_beside_the_file_a_checkpoint_link_leads_to(tmp_path, binary_file,
                                                                                            monkeypatch):
    """The run writes its checkpoint, and rotates it to .prev, beside the file --checkpoint leads to; the line
    looked for the .prev beside the link, and with only the .prev there said "no partial output file was
    left" (the moment between the rotation and the new checkpoint's rename, or a run resumed from the .prev)."""
    import sgdcli

    model, target, link = tmp_path / "m.h5", tmp_path / "srv" / "c.ckpt", tmp_path / "models" / "c.ckpt"
    target.parent.mkdir()
    link.parent.mkdir()
    run("train", binary_file, "-o", model, "--epochs", "2", "--keep-checkpoint", "-q", "--checkpoint", target,
        check=True)
    os.replace(target, f"{target}.prev")
    link.symlink_to(target)

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sgdcli, "train", stopped)
    message = ("sgdcli: stopped by SIGINT before finishing; the model was not written, and the last checkpoint, "
               "{}, remains: run the same command with --resume to continue from it\n")
    assert run("train", binary_file, "-o", model, "--checkpoint", link, "--resume") == (
        130, "", message.format(f"{target}.prev"))
    os.link(f"{target}.prev", target)
    assert run("train", binary_file, "-o", model, "--checkpoint", link, "--resume") == (
        130, "", message.format(target))


def test_resume_refuses_changed_options_or_data(tmp_path, binary_file):
    model = tmp_path / "m.h5"
    run("train", binary_file, "-o", model, "--keep-checkpoint", "-q", check=True)
    assert os.path.exists(f"{model}.ckpt")
    proc = run("train", binary_file, "-o", model, "--resume", "--lr", "0.5")
    assert proc.returncode == 2
    assert "--resume: checkpoint" in proc.stderr and "made with other options: lr (checkpoint: 'auto', now: 0.5)" in proc.stderr
    before = os.stat(binary_file).st_mtime
    os.utime(binary_file, (1, 1))
    proc = run("train", binary_file, "-o", model, "--resume")
    assert proc.returncode == 2
    # the field that changed, not the file's whole fingerprint (its path, shape, size...) twice
    assert proc.stderr.strip() == (f"sgdcli: error: --resume: the data changed since checkpoint {model}.ckpt: "
                                   f"train.mtime (checkpoint: {before!r}, now: 1.0); drop --resume, remove the "
                                   "checkpoint, or add --restart-stale to start over")


def test_resume_without_checkpoint_starts_from_scratch(tmp_path, binary_file):
    a = run("train", binary_file, "-o", tmp_path / "a.h5", "--resume", "--progress", "plain", check=True)
    assert "no checkpoint at" in a.stderr and "starting from scratch" in a.stderr
    run("train", binary_file, "-o", tmp_path / "b.h5", "-q", check=True)
    for x, y in zip(weights(tmp_path / "a.h5"), weights(tmp_path / "b.h5")):
        np.testing.assert_array_equal(x, y)
    assert not os.path.exists(tmp_path / "a.h5.ckpt")


def test_resume_in_the_python_api_without_a_checkpoint_says_what_to_pass(tmp_path, binary_file):
    """The API's output implies no checkpoint, yet the message said "give -o or --checkpoint" to a call that gave
    output.  (The command line always has one: --checkpoint, or OUTPUT.ckpt.)  Refused as the RunControl is made,
    as docs/python-api.md says of its checks: it was accepted, and refused by train()."""
    import sgdcli
    from sgdcli.errors import InputError

    with pytest.raises(InputError) as refused:
        sgdcli.RunControl(resume=True)
    assert str(refused.value) == ("RunControl(resume=True) (--resume) needs a checkpoint path, which train() does "
                                  "not take from output: pass RunControl(checkpoint=sgdcli.default_checkpoint(output)), "
                                  "the command line's OUTPUT.ckpt")
    assert os.listdir(tmp_path) == ["binary.h5"]


def test_a_checkpoint_with_a_bit_flipped_on_disk_falls_back_to_the_previous_one(tmp_path, binary_file):
    """A flipped bit in the stored weights (an exponent's: a finite -4e306 for a weight) was resumed without a
    word, and the run diverged; each array is written with HDF5's checksum, which the read checks."""
    model = tmp_path / "m.h5"
    ckpt = f"{model}.ckpt"
    run("train", binary_file, "-o", model, "--keep-checkpoint", "--epochs", "4", "-q", check=True)
    expected = weights(model)
    with h5py.File(ckpt, "r") as f:
        assert all(f[f"state/{name}"].fletcher32 for name in ("W", "G", "slots", "counters", "sums"))
        at = f["state/W"].id.get_chunk_info(0).byte_offset + 7  # the first weight's sign and exponent
    with open(ckpt, "r+b") as fh:
        fh.seek(at)
        byte = fh.read(1)[0]
        fh.seek(at)
        fh.write(bytes([byte ^ 0x40]))
    proc = run("train", binary_file, "-o", model, "--resume", "--epochs", "4", "--progress", "plain")
    assert proc.returncode == 0, proc.stderr
    assert (f"checkpoint {ckpt}: damaged sgdcli checkpoint: a checksum fails; resuming from the previous one, "
            f"{ckpt}.prev") in proc.stderr
    for a, b in zip(expected, weights(model)):
        np.testing.assert_array_equal(a, b)


def test_unreadable_checkpoint_falls_back_to_the_previous_one(tmp_path, binary_file):
    model = tmp_path / "m.h5"
    ckpt = f"{model}.ckpt"
    run("train", binary_file, "-o", model, "--keep-checkpoint", "--epochs", "4", "-q", check=True)
    assert os.path.exists(ckpt) and os.path.exists(ckpt + ".prev")
    expected = weights(model)
    with open(ckpt, "r+b") as fh:
        fh.truncate(100)
    proc = run("train", binary_file, "-o", model, "--resume", "--epochs", "4", "--progress", "plain")
    assert proc.returncode == 0, proc.stderr
    assert f"resuming from the previous one, {ckpt}.prev" in proc.stderr
    assert f"resuming from {ckpt}.prev: epoch " in proc.stderr  # the file it resumed from, not the one it could not read
    for a, b in zip(expected, weights(model)):
        np.testing.assert_array_equal(a, b)
    for path in (ckpt, ckpt + ".prev"):
        with open(path, "wb") as fh:
            fh.write(b"garbage")
    proc = run("train", binary_file, "-o", model, "--resume", "--epochs", "4")
    assert proc.returncode == 1
    assert "--resume: no readable checkpoint" in proc.stderr


def test_a_checkpoint_of_another_format_version_starts_the_run_over(tmp_path, binary_file):
    """Older versions were positioned in other row orders, or began under other defaults: resuming one would
    skip rows or change the run half-way. A night after an upgrade starts over, says why, and succeeds."""
    model = tmp_path / "m.h5"
    ckpt = f"{model}.ckpt"
    run("train", binary_file, "-o", model, "--keep-checkpoint", "--epochs", "2", "-q", check=True)
    expected = weights(model)
    for path in (ckpt, ckpt + ".prev"):
        if os.path.exists(path):
            with h5py.File(path, "r+") as f:
                f.attrs["format_version"] = 3
    proc = run("train", binary_file, "-o", model, "--resume", "--epochs", "2", "--progress", "plain")
    assert proc.returncode == 0, proc.stderr
    assert (f"--resume: {ckpt}: checkpoint format 3 is not {FORMAT_VERSION} (written by another sgdcli version); "
            "this version cannot continue it, so the run starts over") in proc.stderr
    assert "no checkpoint at" not in proc.stderr and "resuming from" not in proc.stderr
    for a, b in zip(expected, weights(model)):  # the run from scratch
        np.testing.assert_array_equal(a, b)


HOLDER = """
import sys, time
from sgdcli.training.locking import exclusive
with exclusive([sys.argv[1]]):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold_lock(path, seconds):
    proc = popen([sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_run_on_the_same_output_exits_75_naming_the_holder(tmp_path, binary_file):
    model = tmp_path / "m.h5"
    holder = hold_lock(model, 30)
    try:
        proc = run("train", binary_file, "-o", model)  # without --wait-lock the lock is tried once, not waited for
        assert proc.returncode == 75
        assert f"-o {model}: locked by another sgdcli run (PID {holder.pid}); use --wait-lock" in proc.stderr
        proc = run("train", binary_file, "-o", model, "--wait-lock", "0.5")
        assert proc.returncode == 75 and "after waiting 0.5 s" in proc.stderr
        # a wait is said once, so that a night's log is not silent for the --wait-lock 600 of the cron setup
        assert proc.stderr.count("waiting for the lock") == 1
        assert f"waiting for the lock on -o {model}, held by PID {holder.pid}, for up to 0.5 s (--wait-lock)" in proc.stderr
        assert not model.exists()
    finally:
        holder.kill()
        holder.wait()
    # the lock died with its holder
    run("train", binary_file, "-o", model, "-q", check=True)


def test_wait_lock_waits_for_the_holder(tmp_path, binary_file):
    model = tmp_path / "m.h5"
    holder = hold_lock(model, 2)
    proc = run("train", binary_file, "-o", model, "--wait-lock", "-q")
    holder.wait()
    assert proc.returncode == 0, proc.stderr


def stderr_line_with(proc, text, within):
    """The first line of ``proc``'s stderr holding ``text``; fails after ``within`` seconds without one."""
    deadline = time.monotonic() + within
    while True:
        ready, _, _ = select.select([proc.stderr], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"no line with {text!r} on stderr within {within} s"
        line = proc.stderr.readline()
        assert line, f"stderr ended (exit {proc.wait()}) without a line holding {text!r}"
        if text in line:
            return line


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_a_signal_stops_a_run_waiting_for_the_lock(tmp_path, binary_file, signum, code):
    """A run waiting for a lock ignored SIGTERM, SIGHUP and SIGINT: it waited out --wait-lock SECONDS, and with no
    SECONDS it waited until the holder was done, then took the lock, started, and only then stopped."""
    model = tmp_path / "m.h5"
    holder = hold_lock(model, 120)
    proc = start(binary_file, "-o", model, "--wait-lock", "--progress", "plain")
    try:
        line = stderr_line_with(proc, "waiting for the lock", within=60)
        assert line.endswith(f" waiting for the lock on -o {model}, held by PID {holder.pid}, until it is released "
                             "(--wait-lock)\n"), line
        time.sleep(0.3)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)  # (the lock is held for 120 s: the signal, not its release, ended it)
    finally:
        for p in (proc, holder):
            p.kill()
            p.wait()
    assert proc.returncode == code, err
    assert err == (f"sgdcli: stopped by {signal.Signals(signum).name} while waiting for the lock on -o {model}, "
                   "before training began; nothing was written, nothing to resume\n")
    assert out == "" and sorted(os.listdir(tmp_path)) == ["binary.h5", "m.h5.lock"]  # the holder's lock only


def test_checkpoint_path_is_locked_too(tmp_path, binary_file):
    shared = tmp_path / "shared.ckpt"
    holder = hold_lock(shared, 30)
    try:
        proc = run("train", binary_file, "-o", tmp_path / "m.h5", "--checkpoint", shared)
        assert proc.returncode == 75 and f"--checkpoint {shared}: locked by another sgdcli run" in proc.stderr
    finally:
        holder.kill()
        holder.wait()


def test_a_runs_previous_checkpoint_is_locked_too(tmp_path, binary_file):
    """A run writes CHECKPOINT.prev (the rotation) and removes it at its end: a second run whose -o or
    --checkpoint was that path exited 0, and its model was replaced by the first run's checkpoint, then removed."""
    model = tmp_path / "a.h5"
    previous = tmp_path / "a.h5.ckpt.prev"
    first = start(binary_file, "-o", model, "--epochs", "50", "-q", env_extra={"SGDCLI_TEST_SAFE_POINT_DELAY": "0.05"})
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(f"{model}.ckpt"):  # training, with every lock taken
            assert first.poll() is None and time.monotonic() < deadline, first.stderr.read()
            time.sleep(0.01)
        assert run("train", binary_file, "-o", previous, "--epochs", "1") == (
            75, "", f"sgdcli: error: -o {previous}: locked by another sgdcli run (PID {first.pid}); use --wait-lock "
                    "[SECONDS] to wait for it\n")
        assert run("train", binary_file, "-o", tmp_path / "b.h5", "--checkpoint", previous, "--epochs", "1") == (
            75, "", f"sgdcli: error: --checkpoint {previous}: locked by another sgdcli run (PID {first.pid}); use "
                    "--wait-lock [SECONDS] to wait for it\n")
        assert not (tmp_path / "b.h5").exists()
    finally:
        first.kill()
        first.wait()
    holder = hold_lock(tmp_path / "c.h5.ckpt.prev", 30)  # the other way round: the second run is refused
    try:
        assert run("train", binary_file, "-o", tmp_path / "c.h5", "--epochs", "1") == (
            75, "", f"sgdcli: error: --checkpoint's previous checkpoint {tmp_path / 'c.h5.ckpt.prev'}: locked by "
                    f"another sgdcli run (PID {holder.pid}); use --wait-lock [SECONDS] to wait for it\n")
    finally:
        holder.kill()
        holder.wait()
    assert not (tmp_path / "c.h5").exists()


def test_an_output_on_the_lock_file_of_the_previous_checkpoint_is_refused(tmp_path, binary_file):
    """The run's lock of CHECKPOINT.prev is CHECKPOINT.prev.lock, which it removes at its end: a model written
    there would be removed with it.  (No output may end in .lock.)"""
    lock = tmp_path / "m.h5.ckpt.prev.lock"
    assert run("train", binary_file, "-o", tmp_path / "m.h5", "--metrics", lock) == (
        2, "", f"sgdcli: error: --metrics {lock}: ends in .lock, as the lock file a run takes beside its output does "
               "(m.h5.ckpt.prev.lock for m.h5.ckpt.prev); choose another output path\n")
    assert os.listdir(tmp_path) == ["binary.h5"]


def test_stale_temporary_files_are_removed(tmp_path, binary_file):
    model = tmp_path / "m.h5"
    stale = [tmp_path / ".m.h5.abc123.tmp", tmp_path / ".m.h5.ckpt.xyz.tmp"]
    for p in stale:
        p.write_bytes(b"half-written")
    other = tmp_path / ".other.h5.abc.tmp"
    other.write_bytes(b"not ours")
    run("train", binary_file, "-o", model, "-q", check=True)
    assert not any(p.exists() for p in stale)
    assert other.exists()


def test_a_live_runs_temporary_beside_a_name_that_begins_as_ours_is_left_alone(tmp_path):
    """Locking ``a`` removes ``.a.*.tmp``, which also matches ``a.h5``'s temporaries: a live process's stay."""
    from sgdcli.data.atomic import _host
    from sgdcli.training.locking import remove_stale_temporaries

    gone = popen(["true"])
    gone.wait()
    live = tmp_path / f".a.h5.{_host()}-{os.getpid()}-0123abcd.tmp"
    dead = tmp_path / f".a.{_host()}-{gone.pid}-0123abcd.tmp"
    old = tmp_path / ".a.xyz.tmp"  # a name of a version that did not name its owner
    for p in (live, dead, old):
        p.write_bytes(b"")
    assert sorted(remove_stale_temporaries(str(tmp_path / "a"))) == sorted([str(dead), str(old)])
    assert live.exists()


def test_two_runs_naming_two_paths_in_opposite_roles_take_their_locks_in_one_order(tmp_path):
    """Locks were taken in command-line order: a run holding A waiting for B and one holding B waiting for A
    waited for each other for ever under --wait-lock."""
    import threading

    from sgdcli.training.locking import exclusive

    a, b = str(tmp_path / "a.h5"), str(tmp_path / "b.h5")
    done = []

    def second_run():
        with exclusive([b, a], wait=30):
            done.append(True)

    with exclusive([a]):
        waiting = threading.Thread(target=second_run)
        waiting.start()
        time.sleep(0.3)
        with exclusive([b]):  # the waiting run has not taken b while it waits for a
            pass
    waiting.join()
    assert done == [True]


WRITER = """
import h5py, sys, time
f = h5py.File(sys.argv[1], "a")
print("open", flush=True)
time.sleep(30)
"""


def test_input_open_for_writing_gets_a_clear_message(tmp_path, binary_file):
    writer = popen([sys.executable, "-c", WRITER, binary_file], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "open"
        for argv in (["info", binary_file], ["train", binary_file, "-o", tmp_path / "m.h5"]):
            proc = run(*argv)
            assert proc.returncode == 1
            assert proc.stderr.strip().endswith(
                f"{binary_file}: is open for writing by another process (HDF5 file lock); wait for the writer to finish. "
                "If nothing writes it, set HDF5_USE_FILE_LOCKING=FALSE (see docs/unattended.md)")
        proc = run_process("info", binary_file, env={"HDF5_USE_FILE_LOCKING": "FALSE"})
        assert proc.returncode == 0, proc.stderr
    finally:
        writer.kill()
        writer.wait()
    assert not (tmp_path / "m.h5").exists()


SWMR_WRITER = """
import h5py, os, sys
f = h5py.File(sys.argv[1], "r+", libver="latest")
if sys.argv[2] == "killed":
    f.flush()
    os._exit(0)
f.swmr_mode = True  # drops HDF5's lock: readers may open it, in SWMR mode
print("open", flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("writer_state", ["swmr", "killed"])
def test_input_marked_open_by_a_writer_gets_a_clear_message(tmp_path, writer_state):
    """A file in the newer format carries a mark while a writer has it open: a SWMR writer's, which holds no
    lock, or a killed writer's, left behind. Either is exit 1 and what to do, not 'truncated or corrupt'."""
    X, y = make_problem("binary", n=200, d=3, seed=1)
    path = str(tmp_path / "d.h5")
    with h5py.File(path, "w", libver="latest") as f:
        f["X"], f["y"] = X, y
    writer = popen([sys.executable, "-c", SWMR_WRITER, path, writer_state], stdin=subprocess.PIPE,
                   stdout=subprocess.PIPE, text=True)
    try:
        if writer_state == "swmr":
            assert writer.stdout.readline().strip() == "open"
        else:
            assert writer.wait(timeout=60) == 0
        for argv in (["info", path], ["train", path, "-o", tmp_path / "m.h5"], ["evaluate", path, path]):
            proc = run(*argv)
            assert (proc.returncode, proc.stderr.strip().splitlines()[-1]) == (1, (
                f"sgdcli: error: {path}: is marked as open by an HDF5 writer (one writing it now, in SWMR mode, "
                "or one killed before it closed the file); wait for the writer to finish. If none runs, the file "
                f"may hold a partial write: check it, then clear the mark with h5clear -s {path} "
                "(see docs/unattended.md)")), argv
    finally:
        writer.kill()
        writer.wait()
    assert sorted(os.listdir(tmp_path)) == ["d.h5"]


def test_filesystem_without_locks_gets_a_clear_message(monkeypatch, tmp_path, binary_file):
    import h5py

    from sgdcli.data import hdf5
    from sgdcli.errors import RuntimeFailure

    def no_locks(*args, **kwargs):
        raise OSError("Unable to synchronously open file (unable to lock file, errno = 38, error message = 'Function not implemented')")

    monkeypatch.setattr(h5py, "File", no_locks)
    with pytest.raises(RuntimeFailure, match="does not support the file locks HDF5 uses .*HDF5_USE_FILE_LOCKING=FALSE"):
        hdf5.open_file(binary_file)


@pytest.mark.slow
def test_soak_25_random_kills_end_with_the_straight_model(tmp_path, data):
    """Outside the default run: `make soak` or `pytest -m slow`."""
    train, val = data
    slow = {"SGDCLI_TEST_SAFE_POINT_DELAY": "0.01"}  # about 2.5 s an epoch: every kill lands mid-run
    args = [train, "--model", "softmax", "--batch-size", "2", "--epochs", "12", "--checkpoint-every", "1500",
            "--optimizer", "adam", "--lr", "0.002", "--val", val, "--early-stopping", "--patience", "20", "-q"]
    straight = tmp_path / "straight.h5"
    proc = start(*args, "-o", straight, env_extra=slow)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    rng = random.Random(2026)
    model = str(tmp_path / "soaked.h5")
    signals_ = [rng.choice([signal.SIGKILL, signal.SIGTERM]) for _ in range(25)]
    kills, resumed = interrupted_run(args, model, rng, signals_, max_kills=25, after=(0.0, 0.8), env_extra=slow)
    assert kills == 25 and resumed >= 25
    for a, b in zip(weights(straight), weights(model)):
        np.testing.assert_array_equal(a, b)


def test_sigterm_during_the_opening_passes_stops_promptly(tmp_path, data):
    """The label and standardization passes check for signals between blocks too."""
    train, _ = data
    proc = start(train, "-o", tmp_path / "m.h5", "--standardize", "--memory", "1M", "--progress", "plain",
                 env_extra={"SGDCLI_TEST_SAFE_POINT_DELAY": "0.2"})
    while "reading labels of" not in (line := proc.stderr.readline()):
        assert line, "the run ended before its first pass"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1].startswith("sgdcli: stopped by SIGTERM while reading the labels, before training")
    assert not os.path.exists(tmp_path / "m.h5") and not os.path.exists(tmp_path / "m.h5.ckpt")


@pytest.fixture(scope="module")
def sparse_data(tmp_path_factory):
    scipy_sparse = pytest.importorskip("scipy.sparse")
    d = tmp_path_factory.mktemp("resume_sparse")
    M = scipy_sparse.random(60000, 2000, density=0.01, format="csr", dtype=np.float32, random_state=6)
    y = (M @ np.random.default_rng(6).standard_normal(2000) > 0).astype(np.int64)
    with h5py.File(d / "train.h5", "w") as f:
        g = f.create_group("X")
        for name, values in (("data", M.data), ("indices", M.indices), ("indptr", M.indptr)):
            g.create_dataset(name, data=values, chunks=(4096,))
        g.attrs["shape"] = M.shape
        f["y"] = y
    return d / "train.h5"


SPARSE_CASES = {
    "sgd l1 l2": ["--l1", "1e-5", "--l2", "1e-4"],  # the L2 scale and the cumulative L1 penalty
    "rmsprop": ["--optimizer", "rmsprop", "--lr", "0.001"],  # the steps each average has seen
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n == "rmsprop" else n
                                  for n in SPARSE_CASES])
def test_interrupted_sparse_runs_end_bit_for_bit_like_a_straight_run(tmp_path, sparse_data, name):
    """Checkpoints fall between kernel calls, where the sparse kernel's weights are whole (scale folded in,
    penalties caught up), and mid-batch, where its list of touched columns is rebuilt from the gradient."""
    args = [sparse_data, "--batch-size", "4", "--epochs", "3", "--checkpoint-every", "2000", "--memory", "2M", "-q",
            *SPARSE_CASES[name]]
    warm = start(*args, "-o", tmp_path / "warm.h5", "--epochs", "1", "--checkpoint-every", "1000000")
    assert warm.wait(timeout=120) == 0, warm.stderr.read()
    straight = tmp_path / "straight.h5"
    proc = start(*args, "-o", straight)
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    model = str(tmp_path / "resumed.h5")
    kills, resumed = interrupted_run(args, model, random.Random(name), [signal.SIGKILL, signal.SIGTERM,
                                                                        signal.SIGKILL], max_kills=3)
    assert kills >= 1 and resumed >= 1
    for a, b in zip(weights(straight), weights(model)):
        np.testing.assert_array_equal(a, b)
    # each epoch's penalty (--l2's and --l1's, of the weights at its end) too, which the end's warnings judge by
    ended = [(h["train_loss"], h.get("penalty")) for h in load_model(model).history]
    assert ended == [(h["train_loss"], h.get("penalty")) for h in load_model(str(straight)).history]
    assert all((penalty is not None) == (name == "sgd l1 l2") for _, penalty in ended)
