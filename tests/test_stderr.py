"""A standard error that cannot be written (a full log disk, a log reader that went away) is a closed one: the
progress, logs, warnings and error line are lost, the work and the results are not, and the exit code is the one
the command would have had.  Each once ended the command at its first line on stderr: exit 1, nothing done, nothing
said.  Real processes: what fails is the process's own descriptor 2."""

import os
import subprocess
import sys

import pytest

from conftest import run

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")


def sgdcli(*args, stderr):
    """Run the CLI with ``stderr`` (a file object or descriptor) as its stderr; returns (exit code, stdout)."""
    env = {k: v for k, v in os.environ.items() if k != "SGDCLI_DEBUG"}
    proc = subprocess.run([sys.executable, "-m", "sgdcli", *map(str, args)], stdout=subprocess.PIPE, stderr=stderr,
                          env=env, timeout=300)
    return proc.returncode, proc.stdout.decode()


def full(*args):
    """``sgdcli ARGS 2>/dev/full``."""
    with open("/dev/full", "wb") as device:
        return sgdcli(*args, stderr=device)


@pytest.fixture
def model(tmp_path, binary_file):
    assert run("train", binary_file, "-o", tmp_path / "m.h5", "--epochs", "1", "-q").returncode == 0
    return tmp_path / "m.h5"


def test_train_with_its_progress_going_to_a_full_disk_still_writes_the_model(tmp_path, binary_file):
    code, out = full("train", binary_file, "-o", tmp_path / "m2.h5", "--epochs", "2", "--threads", "1")
    assert code == 0 and out.startswith(f"model {tmp_path / 'm2.h5'}: logistic, 6 features, 2 epochs"), out
    assert (tmp_path / "m2.h5").exists()


def test_a_warning_under_q_does_not_fail_the_run(tmp_path, binary_file):
    """-q leaves only the warnings on stderr: one epoch of 3,000 rows in batches of 1,000 is 3 updates, which warns
    (hinge under --l1: no fit of the sample says how far it ended)."""
    few = ["--model", "hinge", "--l1", "1e-4", "-q", "--batch-size", "1000", "--epochs", "1"]
    warned = run("train", binary_file, "-o", tmp_path / "w.h5", *few).stderr
    assert "only 3 updates in all" in warned
    code, out = full("train", binary_file, "-o", tmp_path / "m2.h5", *few)
    assert code == 0 and out.startswith(f"model {tmp_path / 'm2.h5'}: hinge"), out
    assert (tmp_path / "m2.h5").exists()


def test_predict_and_evaluate_write_their_results_and_keep_their_exit_codes(tmp_path, binary_file, model):
    code, out = full("predict", model, binary_file, "-o", tmp_path / "p.csv")
    assert (code, out) == (0, f"wrote {tmp_path / 'p.csv'}: 3000 predictions\n")
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 3001
    code, out = full("evaluate", model, binary_file, "--fail-under", "accuracy=0.9999")
    assert code == 3 and out.startswith("rows 3000\naccuracy "), out  # the gate's line is lost, its code is not
    assert full("train", tmp_path / "missing.h5", "-o", tmp_path / "x.h5") == (2, "")


def test_a_log_reader_that_went_away_does_not_fail_the_run(tmp_path, binary_file):
    """``2> >(logger)`` with the logger gone: every write to stderr fails with EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # no reader, ever
    try:
        code, out = sgdcli("train", binary_file, "-o", tmp_path / "m2.h5", "--epochs", "2", "--threads", "1",
                           stderr=write_end)
    finally:
        os.close(write_end)
    assert code == 0 and out.startswith(f"model {tmp_path / 'm2.h5'}: logistic"), out
    assert (tmp_path / "m2.h5").exists()
