"""The standard streams a cron line or wrapper can hand a command: stderr closed (``2>&-``), stdout closed
(``>&-``) or full (``> /dev/full``), an ASCII locale.  Real processes: Python sets sys.stderr/sys.stdout to None
only for a descriptor closed at start."""

import os
import subprocess
import sys

import pytest

from conftest import make_problem, run, write_table


def sgdcli(*args, close=(), stdout=subprocess.PIPE, env=None):
    """Run the CLI with the descriptors ``close`` closed at start; returns (code, stdout, stderr or None)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("SGDCLI_DEBUG", None)
    stderr = None if 2 in close else subprocess.PIPE
    proc = subprocess.run([sys.executable, "-m", "sgdcli", *map(str, args)], stdout=stdout, stderr=stderr,
                          env=full_env, timeout=300, preexec_fn=lambda: [os.close(fd) for fd in close])
    return proc.returncode, proc.stdout.decode() if proc.stdout is not None else None, \
        proc.stderr.decode() if proc.stderr is not None else None


@pytest.fixture
def model(tmp_path, binary_file):
    assert run("train", binary_file, "-o", tmp_path / "m.h5", "--epochs", "1", "-q").returncode == 0
    return tmp_path / "m.h5"


def test_with_stderr_closed_train_predict_and_evaluate_still_work(tmp_path, binary_file, model):
    """Progress and logs go nowhere; the work and the results do not (all three once exited 1 with no word)."""
    code, out, _ = sgdcli("train", binary_file, "-o", tmp_path / "m2.h5", "--epochs", "1", close=[2])
    assert code == 0 and out.startswith(f"model {tmp_path / 'm2.h5'}: logistic"), out
    assert (tmp_path / "m2.h5").exists()
    code, out, _ = sgdcli("predict", model, binary_file, "-o", tmp_path / "p.csv", close=[2])
    assert (code, out) == (0, f"wrote {tmp_path / 'p.csv'}: 3000 predictions\n")
    code, out, _ = sgdcli("evaluate", model, binary_file, close=[2])
    assert code == 0 and out.startswith("rows 3000\naccuracy "), out


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_stdout_closed_or_full_is_one_line_about_standard_output(tmp_path, binary_file, model, command):
    args = ["evaluate", model, binary_file] if command == "evaluate" else ["predict", model, binary_file, "-o", "-"]
    code, _, err = sgdcli(*args, close=[1])
    assert code == 1, err
    assert err.strip().splitlines()[-1] == ("sgdcli: error: standard output is closed (>&-), so the results cannot "
                                            "be written; redirect it to a file or /dev/null")
    if not os.path.exists("/dev/full"):
        return
    with open("/dev/full", "wb") as full:
        code, _, err = sgdcli(*args, stdout=full)
    assert code == 1, err
    assert err.strip().splitlines()[-1] == ("sgdcli: error: standard output: write failed: No space left on device; "
                                            "the results written there are incomplete")
    assert "Traceback" not in err and "Exception ignored" not in err


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_rows_from_a_closed_stdin_are_one_line_about_standard_input(tmp_path, command):
    """Cron and some schedulers start jobs with stdin closed (``<&-``); DATA ``-`` then read sys.stdin, None, and
    ended with "internal error: AttributeError: 'NoneType' object has no attribute 'buffer'", exit 1."""
    (tmp_path / "t.csv").write_text("a,b,y\n" + "".join(f"{i % 7},{i % 3},{i % 2}\n" for i in range(40)))
    assert run("convert", tmp_path / "t.csv", "-o", tmp_path / "t.h5").returncode == 0
    assert run("train", tmp_path / "t.h5", "-o", tmp_path / "m.h5", "--epochs", "1", "-q").returncode == 0
    args = (["evaluate", tmp_path / "m.h5", "-"] if command == "evaluate" else
            ["predict", tmp_path / "m.h5", "-", "-o", tmp_path / "p.csv"])
    code, out, err = sgdcli(*args, close=[0])
    assert (code, out, err) == (2, "", "sgdcli: error: -: standard input is closed (<&-), so there are no rows to "
                                       "read; pipe the rows in, or give the file's name\n")
    assert not (tmp_path / "p.csv").exists()


def test_class_names_outside_ascii_go_to_an_ascii_stdout_as_utf8(tmp_path):
    """With LC_ALL=C and no UTF-8 mode, predictions on stdout once failed at the first name outside ASCII."""
    import h5py
    import numpy as np

    path = tmp_path / "names.h5"
    with h5py.File(path, "w") as f:
        f["X"] = np.random.default_rng(0).standard_normal((200, 3)).astype(np.float32)
        f["y"] = np.array(["chat_é", "chien_日本"] * 100, dtype=h5py.string_dtype())
    assert run("train", path, "-o", tmp_path / "m.h5", "--epochs", "1", "-q").returncode == 0
    assert run("predict", tmp_path / "m.h5", path, "-o", tmp_path / "p.csv").returncode == 0
    env = {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}
    full_env = {k: v for k, v in {**os.environ, **env}.items() if v}
    proc = subprocess.run([sys.executable, "-m", "sgdcli", "predict", tmp_path / "m.h5", path, "-o", "-"],
                          capture_output=True, env=full_env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (tmp_path / "p.csv").read_bytes()  # the bytes of the .csv file: UTF-8
    # and a prediction file written under that locale holds the same UTF-8 bytes
    proc = subprocess.run([sys.executable, "-m", "sgdcli", "predict", tmp_path / "m.h5", path, "-o",
                           tmp_path / "c.csv"], capture_output=True, env=full_env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "c.csv").read_bytes() == (tmp_path / "p.csv").read_bytes()


def test_a_reader_that_goes_away_ends_predict_without_a_word_but_with_exit_1(tmp_path, model):
    """`sgdcli predict ... -o - | head -1`: no message (the reader chose to stop), but the results were not all
    written, so the exit status is 1, which `set -o pipefail` reports (docs/exit-codes.md)."""
    data = write_table(tmp_path / "big.h5", *make_problem("binary", n=200_000, d=6, seed=1))
    env = {k: v for k, v in os.environ.items() if k != "SGDCLI_DEBUG"}
    proc = subprocess.Popen([sys.executable, "-m", "sgdcli", "predict", str(model), data, "-o", "-"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline() == "prediction\n"
    proc.stdout.close()  # as head does after its line
    with proc.stderr:
        err = proc.stderr.read()
    assert proc.wait(timeout=300) == 1
    assert all(line.startswith("20") for line in err.splitlines()), err  # only the timestamped progress


@pytest.mark.parametrize("command", ["evaluate", "evaluate --json", "train", "show", "info"])
def test_a_commands_results_go_to_stdout_in_one_write(tmp_path, binary_file, model, monkeypatch, command):
    """`sgdcli evaluate M D | head -1` exited 1 or 0 by chance: its 7 lines were 7 writes, each flushed, and
    whichever came after head left failed.  In one write, a result that fits the pipe is taken whole."""
    from sgdcli.cli import streams

    writes = []
    write = streams.Results.write
    monkeypatch.setattr(streams.Results, "write", lambda self, text: (writes.append(text), write(self, text))[1])
    name, *extra = command.split()
    args = {"evaluate": [model, binary_file], "show": [model], "info": [binary_file],
            "train": [binary_file, "-o", tmp_path / "m2.h5", "--epochs", "2", "--val-fraction", "0.2", "-q"]}[name]
    ran = run(name, *args, *extra)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.count("\n") >= (1 if extra else 3)  # several lines, or one of JSON
    assert [text for text in writes if text] == [ran.stdout]  # (click probes a stream with write(""))


def test_evaluate_read_a_line_at_a_time_by_a_reader_that_then_goes_ends_0(tmp_path, binary_file, model):
    """The pipe of `| head -1`, read as head reads it: the results are in the pipe whole before the first line is
    read, so the reader leaving after it fails no write (docs/exit-codes.md)."""
    env = {k: v for k, v in os.environ.items() if k != "SGDCLI_DEBUG"}
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "sgdcli", "evaluate", str(model), binary_file],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert proc.stdout.readline() == "rows 3000\n"
        proc.stdout.close()  # as head does after its line
        with proc.stderr:
            err = proc.stderr.read()
        assert proc.wait(timeout=300) == 0, err
        assert all(line.startswith("20") for line in err.splitlines()), err  # only the timestamped progress


CLOSED_LINE = ("sgdcli: error: standard output is closed (>&-), so the results cannot be written; redirect it to a "
               "file or /dev/null")
FULL_LINE = ("sgdcli: error: standard output: write failed: No space left on device; the results written there are "
             "incomplete")


def stdout_lost(*args):
    """(code, the line stdout's failure gives, stderr) of the command run with stdout closed, then (once the
    caller has looked) with stdout /dev/full where there is one."""
    code, _, err = sgdcli(*args, close=[1])
    yield code, CLOSED_LINE, err
    if os.path.exists("/dev/full"):
        with open("/dev/full", "wb") as full:
            code, _, err = sgdcli(*args, stdout=full)
        yield code, FULL_LINE, err


def test_a_failed_gate_on_results_stdout_lost_exits_3_with_both_lines(binary_file, model):
    """evaluate --fail-under with stdout closed or full exited 1 with the stdout line alone: the gate's verdict
    (exit 3, "the model is not good enough") was lost with the results (docs/exit-codes.md)."""
    for code, line, err in stdout_lost("evaluate", model, binary_file, "--fail-under", "accuracy=0.999"):
        assert code == 3, err
        lost, gate = err.strip().splitlines()[-2:]
        assert lost == line
        assert gate.startswith(f"sgdcli: error: quality gate failed on {binary_file}: accuracy "), err
        assert gate.endswith(" is under 0.999 (--fail-under)"), err
        assert "Traceback" not in err and "Exception ignored" not in err
    # gates that hold leave the stdout failure alone: exit 1, one line
    for code, line, err in stdout_lost("evaluate", model, binary_file, "--fail-under", "accuracy=0"):
        assert (code, err.strip().splitlines()[-1]) == (1, line), err
        assert "quality gate" not in err


def test_train_with_stdout_lost_writes_the_model_and_exits_1_or_3_for_a_failed_gate(tmp_path, binary_file):
    """The model is train's result; its summary line is what stdout loses (docs/exit-codes.md)."""
    out = tmp_path / "m.h5"
    for code, line, err in stdout_lost("train", binary_file, "-o", out, "--epochs", "1", "-q"):
        assert (code, err.strip().splitlines()[-1]) == (1, line), err
        assert out.exists()
        out.unlink()
    for code, line, err in stdout_lost("train", binary_file, "-o", out, "--epochs", "1", "-q", "--val-fraction", "0.2",
                                       "--fail-over", "loss=0"):
        assert code == 3, err
        lost, gate = err.strip().splitlines()[-2:]
        assert lost == line
        assert gate.startswith(f"sgdcli: error: quality gate failed on the validation rows (epoch 1, the model "
                               f"written to {out}): loss "), err
        assert out.exists()
        out.unlink()
