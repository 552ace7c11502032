"""The command line as a user meets it: exact exit codes and messages, through the real entry point."""

import json
import os
import platform
import subprocess
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

import sgdcli
from conftest import cli, make_problem, run, run_process, write_table

COMMANDS = ["generate", "info", "train", "predict", "evaluate", "show"]


def only_files(directory):
    return sorted(os.listdir(directory))


def assert_one_line_error(proc, code, *fragments):
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1 and errors[0] == lines[-1], proc.stderr  # progress logs may precede it
    assert lines[-1].startswith("sgdcli"), lines[-1]
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[-1], lines[-1]
    assert proc.stdout == ""


# --- help and start-up ---------------------------------------------------------------------

@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command):
    proc = run(command, "--help", check=True)
    assert "Example:" in proc.stdout
    assert f"sgdcli {command}" in proc.stdout


@pytest.mark.parametrize("command", ["train", "predict", "evaluate"])
def test_an_options_help_names_only_options_its_command_has(command):
    """predict's --label-column said "... and --y is not read": predict has no --y (the help was train's)."""
    import re

    import click

    from sgdcli.cli.app import main_group

    cmd = main_group.get_command(click.Context(main_group), command)
    flags = {flag for p in cmd.params for flag in p.opts + p.secondary_opts}
    named = {(p.opts[0], m) for p in cmd.params if isinstance(p, click.Option) and p.help
             for m in re.findall(r"--[a-z][a-z0-9-]*", p.help) if m not in flags}
    assert named == set()
    if command == "predict":
        (label,) = [p for p in cmd.params if p.name == "label_column"]
        assert label.help == ("A column of --x that holds labels (a name, or an index): it is left out of the "
                              "features; predict reads no labels.")


@pytest.mark.parametrize("command", ["convert", "evaluate", "generate", "info", "plot", "predict", "show", "sweep",
                                     "train"])
def test_a_commands_help_names_only_options_it_has(command):
    """sweep's --help spoke of --dask (per worker with --dask, --dask workers) and of --lr, which only train
    takes.  The whole help as printed (its text, each option's help and default), wide enough that no option's
    name is split over two lines; an option named after another command ("train --metrics") is that one's."""
    import re

    import click
    from click.testing import CliRunner

    from sgdcli.cli.app import main_group

    top = click.Context(main_group, **main_group.context_settings)
    cmd = main_group.get_command(top, command)
    flags = {flag for p in cmd.get_params(click.Context(cmd, parent=top)) for flag in p.opts + p.secondary_opts}
    result = CliRunner().invoke(main_group, [command, "--help"], terminal_width=10_000, max_content_width=10_000)
    assert result.exit_code == 0 and "Options:" in result.output
    others = "|".join(name for name in main_group.list_commands(top) if name != command)
    # another command's option, named with it ("train --sample-weight"), is that command's
    text = re.sub(rf"\b(?:{others}) --[a-z][a-z0-9-]*", "", result.output)
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text))
    assert named and named - flags == set()


NO_NUMBA = """
import sys
import warnings
from sgdcli.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
loaded = [m for m in ("numba", "llvmlite", "h5py", "rich") if m in sys.modules]
print(",".join(loaded))
"""


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["evaluate", "--help"]])
def test_help_does_not_import_numba(argv):
    proc = subprocess.run([sys.executable, "-c", NO_NUMBA.format(argv=argv)], capture_output=True, text=True, check=True)
    assert proc.stdout.split("\n")[-2] == ""  # nor llvmlite, h5py or rich: help stays fast


def test_version_names_every_library_without_importing_numba():
    import numba

    proc = subprocess.run([sys.executable, "-c", NO_NUMBA.format(argv=["--version"])], capture_output=True, text=True, check=True)
    *lines, loaded, _ = proc.stdout.split("\n")
    assert loaded == "h5py"  # only h5py knows the HDF5 library's version
    assert lines == [
        f"sgdcli {sgdcli.__version__}",
        f"python {platform.python_version()}",
        f"numpy {np.__version__}",
        f"numba {numba.__version__}",
        f"h5py {h5py.__version__}",
        f"hdf5 {h5py.version.hdf5_version}",
    ]


COMPLETE = "import sys\nfrom sgdcli.cli import main\ntry:\n    main([])\nexcept SystemExit:\n    pass\nprint('numba' in sys.modules, file=sys.stderr)"


@pytest.mark.parametrize("words,expected", [
    ("sgdcli tr", "plain,train"),
    ("sgdcli train --batch", "plain,--batch-size"),
    ("sgdcli train data.h5 --optimizer ad", "plain,adagrad\nplain,adam"),
])
def test_shell_completion_completes_commands_options_and_choices_without_numba(words, expected):
    cword = str(len(words.split()) - 1)
    env = dict(os.environ, _SGDCLI_COMPLETE="bash_complete", COMP_WORDS=words, COMP_CWORD=cword)
    proc = subprocess.run([sys.executable, "-c", COMPLETE], capture_output=True, text=True, env=env)
    assert proc.stdout.strip() == expected
    assert proc.stderr.strip() == "False"


@pytest.mark.parametrize("shell,marker", [("bash", "complete -o nosort -F"), ("zsh", "compdef"), ("fish", "complete --no-files --command sgdcli")])
def test_completion_scripts_for_bash_zsh_and_fish(shell, marker):
    """The lines the README tells each shell to evaluate produce that shell's completion script."""
    env = dict(os.environ, _SGDCLI_COMPLETE=f"{shell}_source")
    proc = subprocess.run([sys.executable, "-c", COMPLETE], capture_output=True, text=True, env=env)
    assert marker in proc.stdout and "_SGDCLI_COMPLETE" in proc.stdout
    assert proc.stderr.strip() == "False"


def test_console_script_and_module_both_run():
    script = os.path.join(os.path.dirname(sys.executable), "sgdcli")
    assert subprocess.run([script, "--version"], capture_output=True, text=True).stdout.startswith("sgdcli")
    assert run_process("--version").stdout.startswith("sgdcli")


def test_unknown_option_is_a_one_line_usage_error():
    proc = run("train", "x.h5", "-o", "m.h5", "--bogus")
    assert_one_line_error(proc, 2, "sgdcli train", "--bogus")


def test_no_command_prints_the_help_on_stderr_then_one_error_line():
    """It was one error line of about 900 characters: the whole help with its lines joined."""
    import click

    proc = run()
    if not hasattr(click.exceptions, "NoArgsIsHelpError"):  # click 8.1 prints the help on stdout and exits 0
        pytest.skip("click before 8.2")
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == run("--help").stdout + "\nsgdcli: error: no command given; the commands are listed above\n"


# --- bad input: one line, exit 2, nothing written -----------------------------------------------

@pytest.fixture
def bad(tmp_path):
    """A directory of malformed inputs, and where a model would go."""
    X, y = make_problem("binary", n=200, d=3, seed=0)
    paths = {"good": write_table(tmp_path / "good.h5", X, y)}
    (tmp_path / "text.h5").write_text("just some text, not HDF5\n" * 100)
    paths["text"] = str(tmp_path / "text.h5")
    big_X, big_y = make_problem("binary", n=5000, d=8, seed=0)
    trunc = write_table(tmp_path / "trunc.h5", big_X, big_y)
    size = os.path.getsize(trunc)
    with open(trunc, "r+b") as fh:
        fh.truncate(size // 2)
    paths["trunc"] = trunc
    paths["x3d"] = write_table(tmp_path / "x3d.h5", np.zeros((4, 2, 2), np.float32), np.zeros(4))
    paths["y2d"] = write_table(tmp_path / "y2d.h5", X, np.zeros((200, 2)))
    paths["len"] = write_table(tmp_path / "len.h5", X, y[:150])
    with h5py.File(tmp_path / "str.h5", "w") as f:
        f["X"] = np.array([[b"a", b"b"]] * 5)
        f["y"] = np.zeros(5)
    paths["str"] = str(tmp_path / "str.h5")
    paths["empty"] = write_table(tmp_path / "empty.h5", np.zeros((0, 3), np.float32), np.zeros(0))
    paths["three"] = write_table(tmp_path / "three.h5", X, np.arange(200) % 3)
    Xn = X.copy()
    Xn[57, 1] = np.nan
    paths["nanx"] = write_table(tmp_path / "nanx.h5", Xn, y)
    yi = y.astype(float)
    yi[123] = np.inf
    paths["infy"] = write_table(tmp_path / "infy.h5", X, yi)
    paths["cont"] = write_table(tmp_path / "cont.h5", X, np.linspace(-1.0, 1.0, len(y)) ** 3)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["weights"] = np.zeros((1, 3))
    paths["other"] = str(tmp_path / "other.h5")
    with h5py.File(tmp_path / "grp.h5", "w") as f:
        f.create_group("X")
        f["y"] = y
    paths["group"] = str(tmp_path / "grp.h5")
    out = tmp_path / "out"
    out.mkdir()
    paths["out"] = str(out)
    return paths


CASES = {
    "missing file": (["train", "{out}/../nope.h5"], "nope.h5: no such file"),
    "not hdf5": (["train", "{text}"], "text.h5: not an HDF5 file"),
    "truncated": (["train", "{trunc}"], "trunc.h5"),
    "missing dataset": (["train", "{good}", "--x", "features"], "good.h5:features: no such dataset or group (datasets in file: X, y)"),
    "group not dataset": (["train", "{group}"], "grp.h5:X: is an empty group; --x names a feature matrix, a table or a group of columns"),
    "X not 2-D": (["train", "{x3d}"], "x3d.h5:X: expected a 2-D feature matrix (rows × features), a table or a group of columns, got shape (4, 2, 2)"),
    "y not 1-D": (["train", "{y2d}"], "y2d.h5:y: expected 1-D labels (or N × 1), got shape (200, 2)"),
    "length mismatch": (["train", "{len}"], "len.h5:y: has 150 rows but X has 200"),
    "non-numeric": (["train", "{str}"], "str.h5:X: dtype |S1 is not numeric"),
    "empty": (["train", "{empty}"], "empty.h5:X: dataset is empty (shape (0, 3))"),
    "three classes for logistic": (["train", "{three}"], "three.h5:y: --model logistic needs exactly 2 distinct labels, found 3 (0, 1, 2); use --model softmax for more than two classes"),
    # a regression's targets were told to use softmax, which learns a class for each distinct value
    "continuous labels for logistic": (["train", "{cont}"], "distinct labels, found 200 (-1, -0.9701512537308393, -0.9409024618560087, -0.9122475334679508, -0.8841803776591095, …); they are not whole numbers, as a regression's targets are: use --model linear (softmax would learn each distinct value as a class)"),
    "nan in X": (["train", "{nanx}"], "nanx.h5:X: non-finite feature value at row 57, column 1"),
    "nan in X, standardize": (["train", "{nanx}", "--standardize"], "nanx.h5:X: non-finite feature value at row 57, column 1"),
    "inf in y": (["train", "{infy}"], "infy.h5:y: non-finite label (inf) at row 123"),
    "batch size 0": (["train", "{good}", "--batch-size", "0"], "--batch-size: must be >= 1 or 'full', got 0"),
    "batch size > rows": (["train", "{good}", "--batch-size", "201"], "--batch-size 201 is larger than the 200 training rows"),
    "batch size text": (["train", "{good}", "--batch-size", "big"], "'big' is neither a positive integer nor 'full'"),
    "lr zero": (["train", "{good}", "--lr", "0"], "--lr: must be a finite number > 0 or auto, got 0.0"),
    "lr negative": (["train", "{good}", "--lr", "-1"], "--lr: must be a finite number > 0 or auto, got -1.0"),
    "epochs zero": (["train", "{good}", "--epochs", "0"], "--epochs: must be >= 1 (0 with --init), got 0"),
    "page rows zero": (["train", "{good}", "--page-rows", "0"], "Invalid value for '--page-rows': 0 is not in the range x>=1"),
    "seed negative": (["train", "{good}", "--seed", "-1"], "--seed: must be >= 0, got -1"),  # NumPy's ValueError, exit 1
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_train_input(bad, name):
    argv, fragment = CASES[name]
    argv = [a.format(**bad) for a in argv]
    model = os.path.join(bad["out"], "model.h5")
    proc = run(*argv, "-o", model)
    assert_one_line_error(proc, 2, fragment)
    assert only_files(bad["out"]) == []


def test_memory_wall(tmp_path):
    X, y = make_problem("binary", n=40000, d=16, seed=0)
    path = write_table(tmp_path / "wide.h5", X, y)
    proc = run("train", path, "-o", tmp_path / "m.h5", "--batch-size", "20000", "--memory", "1M")
    assert_one_line_error(proc, 2, "--batch-size 20000 needs 1.4 MiB per batch (16 features), more than --memory 1.0 MiB")
    assert not (tmp_path / "m.h5").exists()
    ok = run("train", path, "-o", tmp_path / "m.h5", "--batch-size", "full", "--memory", "1M", "--epochs", "1")
    assert ok.returncode == 0, ok.stderr


def test_unwritable_output(bad, tmp_path):
    proc = run("train", bad["good"], "-o", tmp_path / "no" / "such" / "m.h5")
    assert_one_line_error(proc, 2, "-o", "does not exist")
    (tmp_path / "afile").write_text("x")
    proc = run("train", bad["good"], "-o", tmp_path / "afile" / "m.h5")
    assert_one_line_error(proc, 2, "-o")
    proc = run("train", bad["good"], "-o", tmp_path)
    assert_one_line_error(proc, 2, "is a directory")


def test_model_from_another_tool(bad):
    for argv in (["show", bad["other"]], ["evaluate", bad["other"], bad["good"]],
                 ["predict", bad["other"], bad["good"], "-o", os.path.join(bad["out"], "p.h5")]):
        proc = run(*argv)
        assert_one_line_error(proc, 2, "other.h5: not an sgdcli model")
    assert only_files(bad["out"]) == []


def test_predict_with_wrong_feature_count(bad, tmp_path):
    model = tmp_path / "m.h5"
    run("train", bad["good"], "-o", model, "-q", check=True)
    X, y = make_problem("binary", n=50, d=5)
    wide = write_table(tmp_path / "wide.h5", X, y)
    proc = run("predict", model, wide, "-o", os.path.join(bad["out"], "p.h5"))
    assert_one_line_error(proc, 2, "wide.h5:X: has 5 features but the model was trained on 3")
    proc = run("evaluate", model, wide)
    assert_one_line_error(proc, 2, "has 5 features but the model was trained on 3")
    assert only_files(bad["out"]) == []


def test_divergence_exits_1_and_keeps_the_existing_model(tmp_path):
    X, y = make_problem("regression", n=2000, d=10, seed=0)
    path = write_table(tmp_path / "r.h5", X * 50, y)
    model = tmp_path / "m.h5"
    model.write_bytes(b"previous model")
    proc = run("train", path, "-o", model, "--model", "linear", "--lr", "5", "--batch-size", "1", "--metrics", tmp_path / "m.jsonl")
    assert_one_line_error(proc, 1, "training diverged in epoch 1",
                          "; try a smaller --lr (e.g. 0.5), a larger --batch-size, or --lr auto")  # the rate was given
    assert model.read_bytes() == b"previous model"
    assert sorted(os.listdir(tmp_path)) == ["m.h5", "r.h5"]


def test_a_penalty_that_overshoots_by_itself_is_named_when_training_diverges(tmp_path):
    """--lr 50 --l2 100: the message quoted the schedule's rate of the moment (under 1) and told to try a rate of
    5, larger than it and diverging as well; the cause is the product of --lr and --l2."""
    path = write_table(tmp_path / "r.h5", *make_problem("regression", n=3000, d=8, seed=0))
    proc = run("train", path, "-o", tmp_path / "m.h5", "--model", "linear", "--lr", "50", "--l2", "100",
               "--epochs", "1", "--batch-size", "64", "-q")
    assert_one_line_error(proc, 1, "training diverged in epoch 1 at iteration ", "(of a rate of 50 before the "
                          "schedule); the rate times --l2 is 5e+03, over 1, so the penalty's pull alone overshoots "
                          "zero at each step: lower --l2 or --lr until their product is well under 1")


def test_an_l2_whose_stable_rates_are_subnormal_is_refused(tmp_path, binary_file):
    """--l2 1.7e308 under --lr auto "diverged" and advised a smaller --lr: the rate 1/l2 is below float64's
    smallest normal number from 2^1022 on, the last --l2 taken."""
    args = ["train", binary_file, "-o", tmp_path / "m.h5", "--epochs", "1", "-q"]
    assert cli(*args, "--l2", "1.7e308") == (2, "", "sgdcli: error: --l2: must be below 4.49e+307 (beyond it the "
                                             "largest stable rate, about 1/l2, is a subnormal number), got 1.7e+308\n")
    assert cli(*args, "--l2", str(2.0**1022))[0] == 2
    assert cli(*args, "--l2", str(2.0**1021))[0] == 0


def test_a_run_that_diverges_after_a_checkpoint_removes_it(tmp_path):
    """Resumed with the same options it diverges again, bit for bit; with a smaller --lr, as the message says,
    --resume refused it ("made with other options"), so a nightly --resume job failed until it was removed."""
    X, y = make_problem("regression", n=2000, d=10, seed=0)
    path = write_table(tmp_path / "r.h5", X * 50, y)
    # the rate ramps up over 1000 epochs' worth of steps: it passes the stable step after several epochs
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "linear", "--lr", "0.01",
                       "--warmup-iterations", "2000000", "--batch-size", "1", "--epochs", "10", "--optimizer", "sgd",
                       "--schedule", "constant", "--no-standardize")
    assert code == 1 and "training diverged in epoch " in err and "epoch 2/10" in err, err
    assert sorted(os.listdir(tmp_path)) == ["r.h5"]


def test_labels_outside_the_model_classes(tmp_path, binary_file):
    model = tmp_path / "m.h5"
    run("train", binary_file, "-o", model, "-q", check=True)
    X, _ = make_problem("binary", n=20, d=6)
    odd = write_table(tmp_path / "odd.h5", X, np.full(20, 5))
    proc = run("evaluate", model, odd)
    assert_one_line_error(proc, 2, "odd.h5:y: label 5 at row 0 is not one of the model's classes (0, 1)")


def test_proba_for_linear_model_is_refused(tmp_path, regression_file):
    model = tmp_path / "m.h5"
    run("train", regression_file, "-o", model, "--model", "linear", "-q", check=True)
    proc = run("predict", model, regression_file, "-o", tmp_path / "p.h5", "--proba")
    assert_one_line_error(proc, 2, "--proba: a linear (regression) model has no probabilities")
    assert not (tmp_path / "p.h5").exists()


# --- results ---------------------------------------------------------------------------------

EXPECTED_KEYS = {
    "linear": ["rows", "mse", "rmse", "mae", "r2"],
    "logistic": ["rows", "accuracy", "log_loss", "auc", "precision", "recall", "f1"],
    "hinge": ["rows", "accuracy", "log_loss", "auc", "precision", "recall", "f1"],
    "softmax": ["rows", "accuracy", "log_loss"],
}


@pytest.mark.parametrize("model", list(EXPECTED_KEYS))
def test_evaluate_json_has_exactly_the_metric_keys(tmp_path, model):
    task = {"linear": "regression", "softmax": "multiclass"}.get(model, "binary")
    X, y = make_problem(task, n=500, d=4, seed=3)
    path = write_table(tmp_path / "d.h5", X, y)
    run("train", path, "-o", tmp_path / "m.h5", "--model", model, "-q", check=True)
    proc = run("evaluate", tmp_path / "m.h5", path, "--json", check=True)
    result = json.loads(proc.stdout)
    assert list(result) == EXPECTED_KEYS[model]
    assert result["rows"] == 500


def test_counts_of_one_are_singular(tmp_path):
    X, y = make_problem("binary", n=300, d=1, seed=8)
    path = write_table(tmp_path / "d.h5", X, y)
    proc = run("train", path, "-o", tmp_path / "m.h5", "--progress", "plain", "--epochs", "1", "--batch-size",
               "full", check=True)
    assert proc.stdout.startswith(f"model {tmp_path / 'm.h5'}: logistic, 1 feature, 1 epoch × 1 iteration (batch ")
    assert "training on 300 rows: 1 epoch × 1 iteration of batch 300" in proc.stderr
    assert "epoch 1/1, 1 iteration, train_loss" in proc.stderr


def test_show_writes_whole_float_classes_as_predictions_write_them(tmp_path):
    X, y = make_problem("binary", n=300, d=3, seed=8)
    path = write_table(tmp_path / "d.h5", X, np.where(y == 1, 1e20, 3.0))
    run("train", path, "-o", tmp_path / "m.h5", "--epochs", "1", "-q", check=True)
    assert run("show", tmp_path / "m.h5", check=True).stdout.splitlines()[2] == \
        "classes      3, 100000000000000000000"
    assert json.loads(run("show", tmp_path / "m.h5", "--json", check=True).stdout)["classes"] == [3.0, 1e20]


def test_show_measures_huge_weights_without_overflow(tmp_path):
    """The card's weight_norm squared each weight: weights of 1e200 (finite, so a model) printed NumPy's overflow
    warning and a norm of inf."""
    X, y = make_problem("binary", n=300, d=3, seed=8)
    path = write_table(tmp_path / "d.h5", X, y)
    run("train", path, "-o", tmp_path / "m.h5", "--epochs", "1", "-q", check=True)
    with h5py.File(tmp_path / "m.h5", "a") as f:
        f["weights"][...] = [[3e200, 4e200, 0.0]]
    shown = run("show", tmp_path / "m.h5", "--json", check=True)
    assert shown.stderr == "" and json.loads(shown.stdout)["weight_norm"] == pytest.approx(5e200, rel=1e-15)


def test_train_predict_evaluate_show_round_trip(tmp_path):
    X, y = make_problem("binary", n=1000, d=4, seed=8)
    y = np.where(y == 1, 7, 3)
    path = write_table(tmp_path / "d.h5", X, y, chunks=128)
    proc = run("train", path, "-o", tmp_path / "m.h5", "--progress", "plain", "--val-fraction", "0.2",
               "--metrics", tmp_path / "m.jsonl", "--epochs", "3", check=True)
    assert proc.stdout.startswith(f"model {tmp_path / 'm.h5'}: logistic, 4 features, 3 epochs")
    assert "T" not in proc.stdout.split("\n")[0][:4]  # results only on stdout, logs on stderr
    assert "epoch 3/3" in proc.stderr
    lines = [json.loads(l) for l in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert [l["epoch"] for l in lines] == [1, 2, 3]
    for key in ("iterations", "train_loss", "val_loss", "lr", "seconds", "rows_per_s"):
        assert key in lines[0]
    run("predict", tmp_path / "m.h5", path, "-o", tmp_path / "p.h5", "--proba", check=True)
    with h5py.File(tmp_path / "p.h5") as f:
        pred, proba = f["prediction"][()], f["proba"][()]
    assert set(np.unique(pred)) <= {3, 7}
    assert proba.shape == (1000, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (pred == np.where(proba[:, 1] > 0.5, 7, 3)).all()
    ev = json.loads(run("evaluate", tmp_path / "m.h5", path, "--json", check=True).stdout)
    assert ev["accuracy"] == pytest.approx((pred == y).mean())
    card = json.loads(run("show", tmp_path / "m.h5", "--json", check=True).stdout)
    assert card["model"] == "logistic" and card["classes"] == [3, 7] and card["features"] == 4
    assert len(card["history"]) == 3
    assert card["hyperparameters"]["batch_size"] == 32
    assert card["data"]["shape"] == [1000, 4]
    assert {"sgdcli", "numba", "numpy", "h5py"} <= set(card["versions"])
    text = run("show", tmp_path / "m.h5", check=True).stdout
    assert "hyperparameters" in text and "history" in text and "classes      3, 7" in text
    shuffle = card["training"]["shuffle"]
    assert (shuffle["kind"], shuffle["page_rows"], shuffle["pages_mixed"]) == ("pages", 2, 16)  # batch 32: 16 pages
    # an object in the card is a block of its keys under its name, aligned with the section's values
    lines = text.splitlines()
    at = lines.index("  shuffle")
    assert lines[at + 1:at + 1 + len(shuffle)] == [f"    {k:<18} {v}" for k, v in shuffle.items()]
    assert "  lr_auto" in lines and not any("{" in line or line != line.rstrip() for line in lines), text


@pytest.mark.parametrize("args,said,page", [
    ([], "page shuffle: pages of up to 2 rows, 16 mixed at a time, from windows of ", 2),  # batch 32: 32 / 16
    (["--batch-size", "1024"], "page shuffle: pages of up to 16 rows, 16 mixed at a time, from windows of ", 16),
    (["--page-rows", "64"], "page shuffle: pages of up to 64 rows, 16 mixed at a time, from windows of ", 64),
    (["--no-shuffle"], "no shuffle (--no-shuffle): rows in file order", 2),
])
def test_verbose_and_the_model_card_state_the_shuffle(tmp_path, binary_file, args, said, page):
    proc = run("train", binary_file, "-o", tmp_path / "m.h5", "--epochs", "1", "--verbose", *args, check=True)
    assert any(line.endswith(said) or said in line for line in proc.stderr.splitlines()), proc.stderr
    shuffle = json.loads(run("show", tmp_path / "m.h5", "--json", check=True).stdout)["training"]["shuffle"]
    assert shuffle["kind"] == ("none" if args == ["--no-shuffle"] else "pages")
    assert shuffle["page_rows"] == page


def test_progress_off_a_terminal_has_no_control_codes(tmp_path, binary_file):
    proc = run("train", binary_file, "-o", tmp_path / "m.h5", "--epochs", "2", check=True)
    assert "\x1b" not in proc.stderr and "\r" not in proc.stderr
    summaries = [l for l in proc.stderr.splitlines() if "epoch" in l and "iterations," in l]
    assert len(summaries) == 2
    assert summaries[0][:4].isdigit()  # timestamped


def test_quiet_prints_nothing_on_stderr(tmp_path, binary_file):
    proc = run("train", binary_file, "-o", tmp_path / "m.h5", "-q", check=True)
    assert proc.stderr == ""


def test_generate_and_info(tmp_path):
    run("generate", tmp_path / "g.h5", "--task", "multiclass", "--rows", "1000", "--features", "3", "--classes", "4",
        "--chunk-rows", "100", "--compression", "gzip", check=True)
    info = json.loads(run("info", tmp_path / "g.h5", "--json", check=True).stdout)
    X = next(d for d in info["datasets"] if d["path"] == "X")
    assert X["shape"] == [1000, 3] and X["chunks"] == [100, 3] and X["compression"] == "gzip"
    assert X["layout"] == "chunked" and X["read_mode"] == "chunk-aligned blocks decoded in parallel"
    run("generate", tmp_path / "c.h5", "--contiguous", "--rows", "100", check=True)
    text = run("info", tmp_path / "c.h5", check=True).stdout
    assert "X: shape 100×10, float32, contiguous" in text and "read memory-mapped" in text
    with h5py.File(tmp_path / "g.h5") as f:
        assert f.attrs["task"] == "multiclass" and f.attrs["classes"] == 4 and f["generator/coef"].shape == (4, 3)
        assert set(np.unique(f["y"][()])) == {0, 1, 2, 3}
    proc = run("generate", tmp_path / "x.h5", "--contiguous", "--compression", "gzip")
    assert_one_line_error(proc, 2, "--compression needs a chunked layout")
    for option in ("--seed", "--data-seed"):  # NumPy's ValueError was an internal error, exit 1
        code, _, err = cli("generate", tmp_path / "x.h5", option, "-1")
        assert (code, err.strip()) == (2, f"sgdcli: error: {option} must be >= 0, got -1")


def test_generate_refuses_classes_its_task_does_not_have(tmp_path):
    """generate --task binary --classes 5 wrote two classes and said nothing; a config file's classes, set for
    every run, and --classes 2 for binary are taken."""
    out = tmp_path / "g.h5"
    for task, has in (("binary", "has two classes"), ("regression", "has no classes")):
        for argv in ([], ["--print-config"]):
            assert cli("generate", out, "--task", task, "--classes", "5", *argv) == (
                2, "", f"sgdcli: error: --classes: applies only with --task multiclass; --task {task} {has}\n")
    assert not out.exists()
    assert cli("generate", out, "--task", "binary", "--classes", "2", "--rows", "10")[0] == 0
    config = tmp_path / "c.toml"
    config.write_text('[generate]\nclasses = 5\n')
    assert cli("generate", out, "--config", config, "--task", "regression", "--rows", "10")[0] == 0


def test_generate_clamps_chunk_rows_to_the_rows(tmp_path):
    """--chunk-rows larger than --rows was "internal error: ValueError: Chunk shape must not be greater than data
    shape", exit 1; convert takes such a value, and generate now makes the chunk the whole dataset."""
    code, out, err = cli("generate", tmp_path / "x.h5", "--rows", "10", "--chunk-rows", "100000")
    assert (code, err) == (0, ""), err
    with h5py.File(tmp_path / "x.h5") as f:
        assert f["X"].chunks == (10, 10) and f["y"].chunks == (10,) and f["X"].shape == (10, 10)


def test_generate_refuses_chunks_of_4_gib(tmp_path, monkeypatch):
    """A chunk of 4 GiB or more (the rows it holds, at most --rows, of float32 features) is one that HDF5 before
    2.0 neither writes nor reads: refused before any work, --print-config too."""
    out = tmp_path / "x.h5"
    for argv in ([], ["--print-config"]):
        code, printed, err = cli("generate", out, "--rows", str(2**22), "--features", "256", "--chunk-rows",
                                 str(2**22), *argv)
        assert (code, printed, err) == (2, "", "sgdcli: error: --chunk-rows 4194304: its chunks would be 4.0 GiB "
                                               "(1,024 bytes a row), and HDF5 before 2.0 (in MATLAB, R and most h5py "
                                               "builds) reads no chunk of 4 GiB or more; give at most 4,194,303\n")
    assert not out.exists()
    assert cli("generate", out, "--rows", "10", "--features", "256", "--chunk-rows", str(2**22),
               "--print-config")[0] == 0  # a chunk of at most --rows rows
    # a row alone past it, whatever --chunk-rows (the default chunk holds a row at least): --features is named,
    # after the memory it needs (a machine of more memory than it, which generates such rows)
    from sgdcli.data import generate as generate_module

    monkeypatch.setattr(generate_module, "memory_limit", lambda: None)
    for argv in ([], ["--chunk-rows", "1"]):
        code, printed, err = cli("generate", out, "--rows", "2", "--features", str(2**30), *argv, "--print-config")
        assert (code, printed, err) == (2, "", "sgdcli: error: --features 1073741824: a row of X is 4.0 GiB as "
                                               "float32, and HDF5 before 2.0 (in MATLAB, R and most h5py builds) "
                                               "reads no chunk of 4 GiB or more; lower --features, or store X "
                                               "--contiguous\n")
    from sgdcli.errors import InputError
    from sgdcli.sizes import check_chunk_rows

    with pytest.raises(InputError, match=r"^--chunk-rows 1: a row alone is 4.0 GiB, and HDF5 before 2.0"):
        check_chunk_rows(1, 2**32)


def test_seeds_beyond_64_bits_are_refused(tmp_path, binary_file):
    """generate --seed 10**23 was "internal error: TypeError: Object dtype dtype('O') has no native HDF5
    equivalent" (the seed is an attribute of the file), exit 1; train and sweep took it, and a seed 2**64 apart
    held out the same validation rows."""
    big = "99999999999999999999999"
    for option in ("--seed", "--data-seed"):
        code, _, err = cli("generate", tmp_path / "x.h5", "--rows", "10", option, big)
        assert (code, err.strip()) == (2, f"sgdcli: error: {option}: must be at most 9223372036854775807 "
                                          f"(2**63 - 1), got {big}")
    for argv in (["train", binary_file, "-o", tmp_path / "m.h5"],
                 ["sweep", binary_file, "--batch-sizes", "32", "--lrs", "0.1"]):
        code, _, err = cli(*argv, "--seed", str(2**63))
        assert (code, err.strip()) == (2, f"sgdcli: error: --seed: must be at most 9223372036854775807 "
                                          f"(2**63 - 1), got {2**63}")
    assert cli("generate", tmp_path / "x.h5", "--rows", "10", "--seed", str(2**63 - 1))[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["binary.h5", "x.h5"]


def test_wait_lock_before_data_says_that_it_took_data_as_its_seconds(tmp_path, binary_file):
    """--wait-lock [SECONDS] swallowed DATA: "'data.h5' is not a valid float range", with no word of why."""
    code, out, err = cli("train", "--wait-lock", binary_file, "-o", tmp_path / "m.h5")
    assert (code, out, err) == (2, "", f"sgdcli train: error: Invalid value for '--wait-lock': {binary_file!r} is not "
                                       "a number; without SECONDS, put --wait-lock after DATA: before DATA it takes "
                                       "DATA as its SECONDS (see 'sgdcli train --help')\n")
    assert cli("train", binary_file, "--wait-lock", "-o", tmp_path / "m.h5", "--epochs", "2", "-q")[0] == 0


@pytest.mark.parametrize("argv", [["--wait-lock", "-1"], ["--wait-lock=-1"], ["--wait-lock", "-2.5"]])
def test_a_negative_wait_lock_is_refused_as_a_number_out_of_range(tmp_path, binary_file, argv):
    """click takes no value that starts with "-" for an option whose value may be left out: it said "No such
    option '-1'", with the value written after "=" too."""
    code, out, err = cli("train", binary_file, "-o", tmp_path / "m.h5", *argv)
    value = float(argv[-1].split("=")[-1])
    assert (code, out, err) == (2, "", f"sgdcli train: error: Invalid value for '--wait-lock': {value} is not in the "
                                       "range x>=0. (see 'sgdcli train --help')\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["binary.h5"]
    # a word after it that is an option, not a number, is still the next option: --wait-lock alone waits forever
    code, _, err = cli("train", binary_file, "-o", tmp_path / "m.h5", "--wait-lock", "-q", "--epochs", "1")
    assert (code, err) == (0, "")
    for zero in (["--wait-lock", "-0"], ["--wait-lock=-0"]):  # in range: 0 (it said "No such option '-0'")
        assert cli("train", binary_file, "-o", tmp_path / "m.h5", *zero, "-q", "--epochs", "1")[::2] == (0, "")


@pytest.mark.parametrize("value", ["nan", "inf", "1e400"])
def test_numbers_that_are_not_finite_are_refused(tmp_path, binary_file, value):
    """generate --noise nan wrote all-NaN regression labels (one class for binary), exit 0: click's FloatRange
    lets nan through every bound, and inf through an open one."""
    cases = [(["generate", tmp_path / "x.h5", "--rows", "10"], "--noise"),
             (["train", binary_file, "-o", tmp_path / "m.h5"], "--checkpoint-seconds"),
             (["train", binary_file, "-o", tmp_path / "m.h5"], "--dask-timeout")]
    if value == "nan":  # --wait-lock inf waits forever, as --wait-lock alone does
        cases.append((["train", binary_file, "-o", tmp_path / "m.h5"], "--wait-lock"))
    for argv, option in cases:
        code, out, err = cli(*argv, option, value)
        command = argv[0]
        what = "a number" if option == "--wait-lock" else "a finite number"
        assert (code, out, err.strip()) == (2, "", f"sgdcli {command}: error: Invalid value for '{option}': "
                                                   f"{value!r} is not {what} (see 'sgdcli {command} --help')")
    from sgdcli import generate
    from sgdcli.errors import InputError

    with pytest.raises(InputError, match=f"--noise must be a finite number >= 0, got {float(value)}"):
        generate(tmp_path / "x.h5", rows=10, noise=float(value))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["binary.h5"]


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_noise_whose_labels_overflow_is_refused(tmp_path, task):
    """--noise 1e308 printed NumPy's overflow warning and wrote labels of ±inf (regression), exit 0; the largest
    noise allowed writes finite labels."""
    from sgdcli.data.generate import MAX_NOISE

    out = tmp_path / "x.h5"
    for argv in ([], ["--print-config"]):
        assert cli("generate", out, "--task", task, "--noise", "1e308", *argv) == (
            2, "", "sgdcli: error: --noise must be at most 1e+305, where its draws stay finite, got 1e+308\n")
    assert MAX_NOISE * 2**10 < sys.float_info.max
    assert not out.exists()
    assert cli("generate", out, "--task", task, "--rows", "2000", "--noise", repr(MAX_NOISE)) == (
        0, f"wrote {out}: 2000 rows × 10 features, task {task}\n", "")
    with h5py.File(out) as f:
        assert np.isfinite(f["y"][()]).all()


def test_info_counts_the_feature_names_past_the_twentieth_as_show_does(tmp_path):
    """info ended a long list of feature names (or of columns it leaves out) with a bare "...", and its --json
    held only the first 20 names, where docs/model-format.md says it counts the rest as show does."""
    pd = pytest.importorskip("pandas")
    names = [f"c{j}" for j in range(30)]
    with h5py.File(tmp_path / "w.h5", "w") as f:
        f["X"], f["y"] = np.zeros((5, 30), dtype=np.float32), np.zeros(5)
        f["X"].attrs["feature_names"] = names
    code, out, err = cli("info", tmp_path / "w.h5")
    assert code == 0 and out.splitlines()[-1] == (f"X, y: 5 rows × 30 features ({', '.join(names[:20])}, ... and 10 "
                                                  "more (--json lists them all))"), out
    assert json.loads(cli("info", tmp_path / "w.h5", "--json")[1])["table"]["feature_names"] == names
    text = [f"t{j}" for j in range(22)]
    frame = pd.DataFrame({"a": [0.5, 1.5], "label": [0, 1], **{t: ["x", "y"] for t in text}})
    frame.to_hdf(tmp_path / "f.h5", key="df", format="table")
    code, out, err = cli("info", tmp_path / "f.h5")
    assert (f"  left out (text, which can be the label (--label-column)): {', '.join(text[:20])}, ... and 2 more "
            "(--json lists them all)") in out.splitlines(), out
    assert list(json.loads(cli("info", tmp_path / "f.h5", "--json")[1])["looks_like"]["left_out"]) == text


@pytest.mark.parametrize("name,value,what", [("SGDCLI_SLICE_ROWS", "abc", "an integer"),
                                              ("SGDCLI_SLICE_ROWS", "-3", "an integer"),
                                              ("SGDCLI_TEST_SAFE_POINT_DELAY", "-1", "a number")])
def test_a_test_only_variable_that_is_no_count_is_refused_naming_it(tmp_path, name, value, what):
    """SGDCLI_SLICE_ROWS=abc was "internal error: ValueError: invalid literal for int() with base 10: 'abc'"
    (exit 1), and a negative delay a failed sleep at the first safe point."""
    data = write_table(tmp_path / "d.h5", *make_problem(n=100))
    proc = run_process("train", data, "-o", tmp_path / "m.h5", "-q", env={name: value})
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        2, "", f"sgdcli: error: {name}={value!r}: not {what} >= 0 (a variable only sgdcli's tests set: unset it)\n")
    assert not (tmp_path / "m.h5").exists()


def test_info_says_when_there_is_no_y_and_why_a_table_cannot_be_trained(tmp_path):
    """info printed "X, y: ..." for a file with only X, and a scalar y was "unreadable (tuple index out of
    range)", with nothing said of the table; train named its dtype."""
    X = np.arange(30, dtype=np.float32).reshape(10, 3)
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["X"] = X
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f["X"], f["y"] = X, "hello"
    assert cli("info", tmp_path / "x.h5")[1].splitlines()[-1] == "X (no y): 10 rows × 3 features (0, 1, 2)"
    code, out, err = cli("info", tmp_path / "s.h5")
    lines = out.splitlines()
    assert code == 0 and lines[-2].startswith("  y: shape scalar, object, contiguous"), out
    assert lines[-1] == f"X, y: not trainable as they are: {tmp_path / 's.h5'}:y: is a single value, not a column of labels"
    code, _, err = cli("train", tmp_path / "s.h5", "-o", tmp_path / "m.h5")
    assert (code, err.strip()) == (2, f"sgdcli: error: {tmp_path / 's.h5'}:y: is a single value, not a column of labels")


def test_info_lists_datasets_behind_links_and_links_that_lead_nowhere(tmp_path):
    """X and y behind external links were left out of the listing that ended "X, y: 20 rows × 5 features"; a
    dangling link was not mentioned; an empty file printed its name alone."""
    with h5py.File(tmp_path / "bin.h5", "w") as f:
        f["X"], f["y"] = np.zeros((20, 5), dtype=np.float32), np.zeros(20)
    with h5py.File(tmp_path / "links.h5", "w") as f:
        f["X"], f["y"] = h5py.ExternalLink("bin.h5", "/X"), h5py.ExternalLink("bin.h5", "/y")
        f["gone"], f["far"] = h5py.SoftLink("/nothing"), h5py.ExternalLink("nofile.h5", "/X")
    h5py.File(tmp_path / "empty.h5", "w").close()
    code, out, err = cli("info", tmp_path / "links.h5")
    lines = out.splitlines()
    assert code == 0 and lines[1].startswith("  X: shape 20×5, float32, contiguous") and lines[1].endswith(
        "read memory-mapped; a link to /X in bin.h5"), out
    assert lines[2:4] == ["  far: unreadable (a link to /X in nofile.h5, which cannot be opened)",
                          "  gone: unreadable (a link to /nothing, which cannot be opened)"]
    assert lines[4].endswith("; a link to /y in bin.h5") and lines[5] == "X, y: 20 rows × 5 features (0, 1, 2, 3, 4)"
    assert cli("info", tmp_path / "empty.h5")[1].splitlines()[1:] == ["  no datasets"]
    with h5py.File(tmp_path / "text.h5", "w") as f:  # names, and a scalar: a listing, then what it lacks
        f["names"], f["version"] = np.array([b"a", b"b", b"c"]), 3
    assert cli("info", tmp_path / "text.h5")[1].splitlines()[3:] == [
        "nothing to train on: no numeric matrix, table, group of columns or CSR matrix"]


def test_names_that_do_not_print_are_escaped_in_errors(tmp_path):
    """A name with an escape sequence or a bell in it (read from a file, or given) reached the terminal raw; off a
    terminal click stripped the sequence, and "no such column 'city'" was printed for a file that had one."""
    X = np.zeros((10, 2), dtype=np.float32)
    path = write_table(tmp_path / "d.h5", X, np.zeros(10))
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--x", "ci\x1b[31mty\x07")
    assert (code, err) == (2, f"sgdcli: error: {path}:ci\\x1b[31mty\\x07: no such dataset or group (datasets in "
                              "file: X, y)\n")


def test_names_that_do_not_print_are_escaped_in_results_progress_and_errors(tmp_path, binary_file):
    """A file name with an escape sequence reached the progress lines raw; off a terminal click stripped it from
    stdout, where "wrote escred.h5.csv" named a file that does not exist; a newline split a timestamped line in
    two, and showed as a space in the error line."""
    import re
    import shutil

    esc = tmp_path / "esc\x1b[31mred.h5"
    shutil.copy(binary_file, esc)
    shown = str(esc).replace("\x1b", "\\x1b")
    code, out, err = cli("train", esc, "-o", f"{esc}.model", "--epochs", "1")
    assert code == 0, err
    assert out.startswith(f"model {shown}.model: logistic, 6 features, 1 epoch × ")
    assert err.splitlines()[0].endswith(f" reading labels of {shown} (one pass)")
    assert "\x1b" not in out + err
    code, out, err = cli("predict", f"{esc}.model", esc, "-o", f"{esc}.csv")
    assert (code, out) == (0, f"wrote {shown}.csv: 3000 predictions\n")
    assert err.splitlines()[0].endswith(f" predicting {shown}: 3,000 rows")
    newline = tmp_path / "new\nline.h5"
    shutil.copy(binary_file, newline)
    code, out, err = cli("train", newline, "-o", tmp_path / "m.h5", "--epochs", "1")
    assert code == 0, err
    lines = [line for line in err.splitlines() if not line.startswith("sgdcli: warning: ")]
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d ", line) for line in lines), err  # none split in two
    assert lines[0].endswith(f" reading labels of {tmp_path}/new\\nline.h5 (one pass)")
    code, out, err = cli("train", tmp_path / "no\nsuch.h5", "-o", tmp_path / "x.h5")
    assert (code, err) == (2, f"sgdcli: error: {tmp_path}/no\\nsuch.h5: no such file\n")


def test_auto_is_read_in_any_case_as_full_is(tmp_path):
    """--batch-sizes FULL was taken and --lr AUTO refused as neither a number nor 'auto'."""
    path = write_table(tmp_path / "d.h5", *make_problem("binary", n=200, d=3, seed=0))
    assert cli("train", path, "-o", tmp_path / "m.h5", "--lr", "AUTO", "--epochs", "1", "-q")[0] == 0
    from sgdcli import load_model

    assert load_model(tmp_path / "m.h5").training["lr_auto"]["lr"] > 0
    code, out, err = cli("sweep", path, "--batch-sizes", "FULL", "--lrs", "Auto,0.1", "--epochs", "1", "--json")
    assert code == 0 and [run["lr"] for run in json.loads(out)][1] == 0.1, err


def test_data_seed_draws_other_rows_from_the_same_model(tmp_path):
    from sgdcli import evaluate, train
    from sgdcli import generate
    from sgdcli.options import TrainOptions

    assert generate(tmp_path / "a.h5", rows=3000, features=4, seed=5, noise=0.0)["data_seed"] == -1
    generate(tmp_path / "a2.h5", rows=3000, features=4, seed=5, noise=0.0)
    generate(tmp_path / "b.h5", rows=3000, features=4, seed=5, noise=0.0, data_seed=1)
    generate(tmp_path / "c.h5", rows=3000, features=4, seed=6, noise=0.0, data_seed=1)
    generate(tmp_path / "s.h5", rows=3000, features=4, seed=5, noise=0.0, data_seed=5)
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "a2.h5") as a2, h5py.File(tmp_path / "b.h5") as b, \
            h5py.File(tmp_path / "c.h5") as c, h5py.File(tmp_path / "s.h5") as s:
        assert np.array_equal(a["X"][()], a2["X"][()])  # no --data-seed: as before
        assert not np.array_equal(a["X"][()], s["X"][()])  # and not --data-seed SEED, as the help once said
        assert np.array_equal(a["generator/coef"][()], b["generator/coef"][()])  # the same model
        assert not np.array_equal(a["X"][()], b["X"][()])  # other rows
        assert not np.array_equal(b["generator/coef"][()], c["generator/coef"][()])
        assert (a.attrs["data_seed"], b.attrs["data_seed"]) == (-1, 1)
    from sgdcli.training.fitwarnings import FitWarning

    # (separable rows at a fortieth of --lr auto's rate: the loss far above its optimum's, as the run is told)
    with pytest.warns(FitWarning, match="may be far from the optimum"):
        model = train(tmp_path / "a.h5", TrainOptions(standardize=True, lr=0.1, epochs=5))
    assert evaluate(model, tmp_path / "b.h5")["accuracy"] > 0.95  # noise-free labels from the same model
    assert evaluate(model, tmp_path / "c.h5")["accuracy"] < 0.9  # another model's labels
    helped = " ".join(run("generate", "--help").stdout.split())
    assert "[default: none: the rows continue --seed's draws after the model's, which no --data-seed repeats; " \
           "the file's data_seed attribute is then -1]" in helped


def test_predict_names_the_first_nonfinite_row(tmp_path, binary_file):
    run("train", binary_file, "-o", tmp_path / "m.h5", "-q", check=True)
    X, y = make_problem("binary", n=300, d=6)
    X[211, 4] = np.inf
    path = write_table(tmp_path / "inf.h5", X, y, chunks=64)
    proc = run("predict", tmp_path / "m.h5", path, "-o", tmp_path / "p.h5")
    assert_one_line_error(proc, 2, "inf.h5:X: non-finite feature value at row 211, column 4")
    assert not (tmp_path / "p.h5").exists()


def test_a_float64_feature_beyond_float32s_range_is_named_as_such(tmp_path):
    """1e300 is finite in the file but infinite as the float32 sgdcli reads features as: the message says
    so where X holds float64 (and only there)."""
    X, y = make_problem("binary", n=300, d=6)
    X = X.astype(np.float64)
    X[3, 2] = 1e300
    path = write_table(tmp_path / "wide.h5", X, y)
    gzip = write_table(tmp_path / "wide-gzip.h5", X, y, chunks=64, compression="gzip")
    for args in (["train", path, "-o", tmp_path / "m.h5"], ["train", gzip, "-o", tmp_path / "m.h5"],
                 ["train", path, "-o", tmp_path / "m.h5", "--no-standardize", "--lr", "0.1"]):
        with warnings.catch_warnings():  # NumPy's overflow warning is two more lines on stderr
            warnings.simplefilter("error", RuntimeWarning)
            proc = run(*args)
        assert_one_line_error(proc, 2, f"{os.path.basename(args[1])}:X: non-finite feature value at row 3, column 2 "
                                       "(NaN or infinite, or beyond float32's range of ±3.4e38: features are read as float32)")
    assert not (tmp_path / "m.h5").exists()


def test_softmax_refuses_a_continuous_target(tmp_path):
    X, y = make_problem("regression", n=2000, d=3)
    path = write_table(tmp_path / "r.h5", X, y)
    proc = run("train", path, "-o", tmp_path / "m.h5", "--model", "softmax")
    assert_one_line_error(proc, 2, "r.h5:y: more than 1000 distinct labels; is this a regression target? Use --model linear")


def test_kernels_are_cached_in_numba_cache_dir(tmp_path, binary_file):
    cache = tmp_path / "cache"
    run_process("train", binary_file, "-o", tmp_path / "m.h5", "-q", "--epochs", "1", "--val-fraction", "0.1",
                "--optimizer", "sgd", "--no-standardize", env={"NUMBA_CACHE_DIR": str(cache)}, check=True)
    index = [p.name for p in cache.rglob("*.nbi")]
    assert any("train_block_batches" in name for name in index), index
    assert any("nbc" in p.name for p in cache.rglob("*.nbc"))
    # batch 32 plain SGD on 2 threads never takes the threaded or the pure-SGD path, nor
    # any update rule but plain SGD's, nor (one output) the multi-output gradient loop, nor
    # (the logistic loss) the pair loop of the other losses, nor (no --standardize,
    # validation included) the fold to raw features: none of them is compiled
    assert any("batches._accumulate_logistic-" in name for name in index), index
    assert not any(part in name for name in index
                   for part in ("_accumulate_parallel", "pure_sgd", "_update", "batches._accumulate-",
                                "batches._accumulate_one-", "fold_weights")), index


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through directory permissions")
def test_directory_without_write_permission(bad, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        proc = run("train", bad["good"], "-o", locked / "m.h5")
        assert_one_line_error(proc, 2, "-o", "cannot write to directory")
    finally:
        locked.chmod(0o755)


def test_output_may_not_replace_an_input(tmp_path, binary_file):
    before = Path(binary_file).read_bytes()
    proc = run("train", binary_file, "-o", binary_file)
    assert_one_line_error(proc, 2, "is also an input of this command")
    run("train", binary_file, "-o", tmp_path / "m.h5", "-q", check=True)
    proc = run("predict", tmp_path / "m.h5", binary_file, "-o", tmp_path / "m.h5")
    assert_one_line_error(proc, 2, "is also an input of this command")
    assert Path(binary_file).read_bytes() == before


def test_too_many_threads_are_clamped_with_a_warning_that_q_shows_and_the_model_keeps(tmp_path, binary_file):
    """The cap was a log line: -q hid it, and the model card said threads 512 with nothing to tell that fewer ran."""
    import numba

    limit = numba.config.NUMBA_NUM_THREADS
    said = f"--threads 512: Numba allows at most {limit} here (NUMBA_NUM_THREADS); using {limit}"
    proc = run("train", binary_file, "-o", tmp_path / "m.h5", "--threads", "512", "--epochs", "2", "-q")
    assert proc.returncode == 0 and proc.stderr == f"sgdcli: warning: {said}\n", proc.stderr
    card = json.loads(run("show", tmp_path / "m.h5", "--json", check=True).stdout)
    assert card["training"]["warnings"] == [said]
    assert (card["training"]["threads"], card["hyperparameters"]["threads"]) == (limit, 512)
    proc = run("sweep", binary_file, "--batch-sizes", "16,32", "--epochs", "2", "--threads", "512", "-q")
    assert proc.returncode == 0 and proc.stderr == f"sgdcli: warning: {said}\n", proc.stderr  # once, not per run


def test_outputs_need_distinct_paths(tmp_path, binary_file):
    model = tmp_path / "m.h5"
    proc = run("train", binary_file, "-o", model, "--checkpoint", model)
    assert_one_line_error(proc, 2, f"--checkpoint {model}: is also given as -o; each output needs its own path")
    proc = run("train", binary_file, "-o", model, "--metrics", model)
    assert_one_line_error(proc, 2, f"--metrics {model}: is also given as -o")
    assert not model.exists()


def test_an_output_on_the_lock_file_or_previous_checkpoint_of_another_is_refused(tmp_path, binary_file):
    """A checkpoint renamed onto -o's lock file would leave the first run's flock guarding nothing."""
    model = tmp_path / "m.h5"
    proc = run("train", binary_file, "-o", model, "--checkpoint", f"{model}.lock")
    assert_one_line_error(proc, 2, f"--checkpoint {model}.lock: ends in .lock, as the lock file a run takes beside "
                                   "its output does (m.h5.lock for m.h5); choose another output path")
    proc = run("train", binary_file, "-o", model, "--metrics", f"{model}.ckpt.prev")
    assert_one_line_error(proc, 2, f"--metrics {model}.ckpt.prev: is the previous checkpoint of --checkpoint "
                                   f"{model}.ckpt")
    assert sorted(os.listdir(tmp_path)) == ["binary.h5"]


def test_a_logistic_run_on_three_class_names_lists_the_names(tmp_path):
    X, _ = make_problem("binary", n=300, d=3)
    path = tmp_path / "names.h5"
    with h5py.File(path, "w") as f:
        f["X"] = X
        f["y"] = np.array([b"cat", b"dog", b"eel"] * 100)
    proc = run("train", path, "-o", tmp_path / "m.h5")
    assert_one_line_error(proc, 2, f"{path}:y: --model logistic needs exactly 2 distinct labels, found 3 (cat, dog, "
                                   "eel); use --model softmax")


@pytest.mark.parametrize("dtype,values", [("uint64", [2**64 - 1, 2**64 - 2]), ("int64", [2**53, 2**53 + 1])])
def test_integer_labels_float64_cannot_hold_exactly_are_refused(tmp_path, dtype, values):
    """Labels are read as float64: these two values would become one class (and uint64's cast back warned)."""
    X, _ = make_problem("binary", n=300, d=3)
    path = write_table(tmp_path / "big.h5", X, np.array(values * 150, dtype=dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's "invalid value encountered in cast" once leaked here
        proc = run("train", path, "-o", tmp_path / "m.h5")
    assert_one_line_error(proc, 2, f"{path}:y: {dtype} labels reach ", "2^53 or more", "distinct labels would merge")
    assert "warning" not in proc.stderr


def test_a_filter_hdf5_lacks_is_named_by_train_and_info(tmp_path):
    X, y = make_problem("binary", n=300, d=3)
    path = tmp_path / "f.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("X", data=X, chunks=(100, 3), compression="gzip")
        f["y"] = y
    with open(path, "r+b") as fh:  # the filter pipeline message: filter id 1 (deflate) becomes 307
        at = fh.read().index(b"\x01\x00\x08\x00\x01\x00\x01\x00deflate\x00")  # id, name length, flags, values
        fh.seek(at)
        fh.write((307).to_bytes(2, "little"))
    problem = "HDF5 filter 307 (deflate) is not available here, so the data cannot be decompressed"
    proc = run("train", path, "-o", tmp_path / "m.h5")
    assert_one_line_error(proc, 2, f"{path}:X: {problem}", "HDF5_PLUGIN_PATH")
    proc = run("info", path)
    assert proc.returncode == 0, proc.stderr
    assert f"  X: unreadable ({problem}" in proc.stdout, proc.stdout
    assert "read chunk-aligned" not in proc.stdout.split("\n  y:")[0]


def test_show_quotes_class_names_that_a_list_or_a_terminal_would_garble(tmp_path):
    """Classes were joined raw by ", ": 'good,one' read as two classes, and a name holding an escape sequence
    coloured the terminal (or printed as 'escred' off one); such names print as Python writes a string, and
    --json keeps them exact."""
    X, _ = make_problem("binary", n=300, d=3)
    names = ["bad", "esc\x1b[31mred", "good,one", "it's", "new\nline"]
    path = tmp_path / "names.h5"
    with h5py.File(path, "w") as f:
        f["X"] = X
        f.create_dataset("y", data=np.array(names * 60, dtype=object), dtype=h5py.string_dtype())
    run("train", path, "-o", tmp_path / "m.h5", "--model", "softmax", "-q", check=True)
    text = run("show", tmp_path / "m.h5", check=True).stdout
    assert text.splitlines()[2] == r"""classes      bad, 'esc\x1b[31mred', 'good,one', "it's", 'new\nline'"""
    assert "\x1b" not in text
    assert json.loads(run("show", tmp_path / "m.h5", "--json", check=True).stdout)["classes"] == names


@pytest.mark.parametrize("value,alone,listed", [
    ("plain name", "plain name", "plain name"), ("a,b", "a,b", "'a,b'"), ("", "", "''"), (" pad", "' pad'", "' pad'"),
    ("tab\there", r"'tab\there'", r"'tab\there'"), ("état", "état", "état"), ("rtl\u202e", r"'rtl\u202e'", r"'rtl\u202e'"),
    (3, "3", "3"),
])
def test_text_from_a_file_prints_quoted_where_it_needs_to(value, alone, listed):
    from sgdcli.cli.render import shown

    assert (shown(value), shown(value, listed=True)) == (alone, listed)


@pytest.mark.parametrize("args,named", [
    (["train", ""], "DATA"),
    (["train", "{data}", "--val", ""], "--val"),
    (["train", "{data}", "--init", ""], "--init"),
    (["train", "{data}", "--config", ""], "--config"),
    (["predict", "", "{data}"], "MODEL"),
    (["evaluate", "{data}", ""], "DATA"),
    (["info", ""], "FILE"),
    (["convert", "", "-o", "{out}"], "INPUT"),
    (["plot", "", "-o", "{out}.png"], "METRICS..."),
])
def test_an_empty_input_path_is_refused_naming_the_argument(tmp_path, binary_file, args, named):
    """An unset shell variable expands to nothing: the line was ": no such file", naming neither the path nor
    the option."""
    command = args[0]
    args = [a.format(data=binary_file, out=tmp_path / "out") for a in args]
    outputs = [] if command in ("info", "evaluate") else ["-o", tmp_path / "o.h5"] if "-o" not in args else []
    code, out, err = cli(*args, *outputs)
    assert (code, out, err) == (2, "", f"sgdcli {command}: error: Invalid value for {named!r}: the path is empty (an "
                                       f"unset shell variable?) (see 'sgdcli {command} --help')\n")


@pytest.mark.parametrize("args,line", [
    (["train", "{data}", "-o", "{out}", "--checkpoint", "{out}.ckpt", "--checkpoint-every", "99999999999999999999"],
     "sgdcli train: error: Invalid value for '--checkpoint-every': 99999999999999999999 is more than 64 bits hold "
     "(at most 9223372036854775807) (see 'sgdcli train --help')"),
    (["sweep", "{data}", "--batch-sizes", "4,100000000000000000000"],
     "sgdcli: error: --batch-sizes: 100000000000000000000 is more than 64 bits hold (at most 9223372036854775807)"),
    # (these two were refused in other words: "--dask-workers: must be at most 9223372036854775807 (2**63 - 1)")
    (["train", "{data}", "-o", "{out}", "--dask", "localhost:1", "--dask-workers", "99999999999999999999"],
     "sgdcli train: error: Invalid value for '--dask-workers': 99999999999999999999 is more than 64 bits hold "
     "(at most 9223372036854775807) (see 'sgdcli train --help')"),
    (["train", "{data}", "-o", "{out}", "--page-rows", "99999999999999999999"],
     "sgdcli train: error: Invalid value for '--page-rows': 99999999999999999999 is more than 64 bits hold "
     "(at most 9223372036854775807) (see 'sgdcli train --help')"),
])
def test_print_config_refuses_counts_that_64_bits_do_not_hold_as_the_run_does(tmp_path, binary_file, args, line):
    """--print-config passed them, and the run then refused them (exit 2), the sweep's naming --batch-size."""
    args = [a.format(data=binary_file, out=tmp_path / "m.h5") for a in args]
    for given in ([*args, "--print-config"], args):
        assert cli(*given) == (2, "", line + "\n")


def test_a_variable_naming_sgdclis_own_version_option_says_it_is_sgdclis(binary_file, tmp_path):
    """SGDCLI_TRAIN_VERSION was told "train has no option --version; did you mean SGDCLI_TRAIN_EPSILON?"."""
    code, out, err = run("train", binary_file, "-o", tmp_path / "m.h5", env={"SGDCLI_TRAIN_VERSION": "1"})
    assert (code, out, err) == (2, "", "sgdcli: error: SGDCLI_TRAIN_VERSION: --version is an option of sgdcli itself "
                                       "(sgdcli --version), taken only on the command line\n")
