"""An option typed on the command line that the run's other options leave without effect is named in a warning;
one set in a --config file, or given to the Python API, is not; nothing is refused."""

import pytest

import sgdcli
from sgdcli.cli.unused import RULES

from conftest import cli, short_fits


@short_fits
@pytest.mark.parametrize("typed,line", [
    (["--optimizer", "adam", "--momentum", "0.5"], "--momentum: applies to --optimizer momentum, nesterov and auto; "
                                                    "it does nothing with --optimizer adam"),
    (["--eps", "1e-6"], "--eps: applies to --optimizer adagrad, rmsprop and adam (and auto under --init-optimizer); "
                        "it does nothing with --optimizer auto"),
    (["--epsilon", "0.2"], "--epsilon: applies to --model huber; it does nothing with --model logistic"),
    (["--quantile", "0.9"], "--quantile: applies to --model quantile; it does nothing with --model logistic"),
    (["--power-t", "0.25"], "--power-t: applies to --schedule invscaling; it does nothing with --schedule cosine"),
    (["--step-epochs", "2"], "--step-epochs: applies to --schedule step; it does nothing with --schedule cosine"),
    (["--gamma", "0.5"], "--gamma: applies to --schedule step; it does nothing with --schedule cosine"),
    (["--patience", "5"], "--patience: applies with --early-stopping; it does nothing without it"),
    (["--min-delta", "0.01"], "--min-delta: applies with --early-stopping; it does nothing without it"),
    (["--val-x", "X"], "--val-x: applies with --val; it does nothing without it"),
    (["--val-y", "y"], "--val-y: applies with --val and without --label-column; it does nothing without --val"),
    (["--no-shuffle", "--page-rows", "64"], "--page-rows: applies to the page shuffle and to weighted runs; it does "
                                            "nothing with --no-shuffle and no weights"),
    (["--base-batch-size", "64"], "--base-batch-size: applies with --lr-scaling linear and sqrt; it does nothing "
                                  "with --lr-scaling replicas"),
])
def test_a_typed_option_that_does_nothing_is_named(tmp_path, binary_file, typed, line):
    """Each trained as if it were not given, without a word."""
    code, out, err = cli("train", binary_file, "-o", tmp_path / "m.h5", "--epochs", "1", "-q", *typed)
    assert code == 0 and f"sgdcli: warning: {line}\n" in err, err
    code, _, err = cli("sweep", binary_file, "--batch-sizes", "32", "--lrs", "0.1", "--epochs", "1", "-q", *typed)
    assert code == 0 and f"sgdcli: warning: {line}\n" in err, err


def labelled_table(tmp_path):
    """A compound table whose field ``label`` holds the labels, and the same labels as a dataset ``y`` beside it."""
    import h5py
    import numpy as np

    rows = np.zeros(400, dtype=[("a", "f8"), ("b", "f8"), ("label", "i4")])
    rows["a"], rows["b"] = np.random.default_rng(0).standard_normal((2, 400))
    rows["label"] = rows["a"] > rows["b"]
    path = tmp_path / "t.h5"
    with h5py.File(path, "w") as f:
        f["table"], f["y"] = rows, rows["label"]
    return path


@short_fits
def test_labels_named_beside_a_label_column_are_named(tmp_path):
    """--label-column takes the labels of the training file and of a --val file: --y and --val-y then read
    nothing, and were ignored without a word."""
    path = labelled_table(tmp_path)
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--epochs", "1", "-q", "--x", "table",
                       "--label-column", "label", "--y", "y", "--val", path, "--val-y", "y")
    assert code == 0, err
    assert err.splitlines() == [
        "sgdcli: warning: --val-y: applies with --val and without --label-column; it does nothing with "
        "--label-column, which takes the labels of both files",
        "sgdcli: warning: --y: applies without --label-column; it does nothing with it, which takes the labels"]


@short_fits
def test_options_that_apply_and_config_files_are_left_alone(tmp_path, binary_file):
    """Where the option takes effect, no warning; a --config file may hold settings for several models or
    schedules, so what it sets is not judged."""
    applied = ["--optimizer", "adam", "--eps", "1e-6", "--schedule", "step", "--gamma", "0.5", "--step-epochs", "1",
               "--early-stopping", "--patience", "2", "--val", binary_file, "--val-x", "X", "--momentum", "0.5"]
    code, _, err = cli("train", binary_file, "-o", tmp_path / "m.h5", "--epochs", "2", "-q", *applied[:-2])
    assert code == 0 and "warning: --" not in err, err
    config = tmp_path / "c.toml"
    config.write_text('[train]\noptimizer = "adam"\nmomentum = 0.5\nquantile = 0.9\npatience = 5\n')
    code, _, err = cli("train", binary_file, "-o", tmp_path / "m.h5", "--epochs", "1", "-q", "--config", config)
    assert code == 0 and "warning: --" not in err, err
    code, _, err = cli("train", binary_file, "-o", tmp_path / "m.h5", "--epochs", "1", "-q", "--momentum", "0.5")
    assert code == 0 and "warning: --" not in err, err  # auto is nesterov on dense data


@short_fits
def test_dask_timeout_without_dask_and_max_categories_without_categorical_are_named(tmp_path, binary_file):
    code, _, err = cli("train", binary_file, "-o", tmp_path / "m.h5", "--epochs", "1", "-q", "--dask-timeout", "5")
    assert code == 0 and "sgdcli: warning: --dask-timeout: applies with --dask; it does nothing without it\n" in err
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n1,x,0\n2,y,1\n")
    warned = "sgdcli: warning: --max-categories: applies with --categorical; it does nothing without it\n"
    for argv in ([], ["--print-config"]):
        code, _, err = cli("convert", tmp_path / "d.csv", "-o", tmp_path / "d.h5", "--ignore", "b",
                           "--max-categories", "5", *argv)
        assert (code, err) == (0, warned)
    code, _, err = cli("convert", tmp_path / "d.csv", "-o", tmp_path / "d.h5", "--categorical", "b",
                       "--max-categories", "5")
    assert (code, err) == (0, "")


@short_fits
def test_progress_and_verbose_under_quiet_are_named(tmp_path, binary_file):
    code, _, err = cli("train", binary_file, "-o", tmp_path / "m.h5", "--epochs", "1", "-q", "-v", "--progress",
                       "plain")
    assert code == 0 and ("sgdcli: warning: --progress: applies without -q; it does nothing with it\n"
                          "sgdcli: warning: --verbose: applies without -q; it does nothing with it\n") in err, err
    code, _, err = cli("sweep", binary_file, "--batch-sizes", "32", "--lrs", "0.1", "--epochs", "1", "-q",
                       "--progress", "plain")
    assert code == 0 and "sgdcli: warning: --progress: applies without -q; it does nothing with it\n" in err, err


def test_the_python_api_does_not_warn(tmp_path, binary_file, recwarn):
    sgdcli.train(binary_file, sgdcli.TrainOptions(epochs=1, optimizer="adam", momentum=0.5, patience=5))
    assert not [w for w in recwarn if "does nothing" in str(w.message)]


@short_fits
def test_what_auto_or_weights_may_use_is_left_alone(tmp_path, binary_file):
    """Under --init-optimizer, auto is the --init model's optimizer, which may take --eps; a weighted run draws
    its rows by windows that --page-rows sizes, with --no-shuffle too (both were warned about in review)."""
    first = tmp_path / "adam.h5"
    assert cli("train", binary_file, "-o", first, "--epochs", "1", "-q", "--optimizer", "adam")[0] == 0
    code, _, err = cli("train", binary_file, "-o", tmp_path / "m.h5", "--epochs", "1", "-q", "--init", first,
                       "--init-optimizer", "--eps", "1e-6")
    assert code == 0 and "warning: --eps" not in err, err
    import h5py

    with h5py.File(binary_file, "a") as f:
        f["w"] = [1.0 + (i % 3) for i in range(f["y"].shape[0])]
    code, _, err = cli("train", binary_file, "-o", tmp_path / "w.h5", "--epochs", "1", "-q", "--no-shuffle",
                       "--sample-weight", "w", "--page-rows", "64")
    assert code == 0 and "warning: --page-rows" not in err, err
    import numpy as np

    with h5py.File(binary_file) as f, h5py.File(tmp_path / "column.h5", "w") as g:  # (weights in a column of --x)
        g["X"], g["y"] = np.column_stack([f["X"][()], f["w"][()]]), f["y"][()]
    code, _, err = cli("train", tmp_path / "column.h5", "-o", tmp_path / "c.h5", "--epochs", "1", "-q", "--no-shuffle",
                       "--weight-column", "-1", "--page-rows", "64")
    assert code == 0 and "warning: --page-rows" not in err, err


def test_every_rule_names_an_option_of_its_commands():
    """A name that is no parameter of the command is never typed, so its rule would never fire."""
    from sgdcli.cli.app import main_group as main
    from sgdcli.cli.unused import CONVERT_RULES, DASK_RULES, QUIET_RULES

    def names(command):
        return {p.name for p in main.commands[command].params}

    for rules, commands in ((RULES, ("train", "sweep")), (DASK_RULES, ("train",)), (QUIET_RULES, ("train",)),
                            (CONVERT_RULES, ("convert",))):
        for command in commands:
            assert {name for name, *_ in rules} <= names(command), (command, rules)


def test_evaluate_names_y_beside_a_label_column(tmp_path):
    """evaluate's --label-column takes the labels too: a --y typed beside it reads nothing."""
    path = labelled_table(tmp_path)
    assert cli("train", path, "-o", tmp_path / "m.h5", "-q", "--x", "table", "--label-column", "label")[0] == 0
    code, _, err = cli("evaluate", tmp_path / "m.h5", path, "--x", "table", "--label-column", "label", "--y", "y", "-q")
    assert (code, err) == (0, "sgdcli: warning: --y: applies without --label-column; it does nothing with it, which "
                              "takes the labels\n")
    code, _, err = cli("evaluate", tmp_path / "m.h5", path, "--x", "table", "--label-column", "label", "--y", "y",
                       "--print-config")  # (warned as the run warns)
    assert (code, err) == (0, "sgdcli: warning: --y: applies without --label-column; it does nothing with it, which "
                              "takes the labels\n")
