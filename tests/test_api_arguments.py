"""The Python API checks its arguments as the command line checks its options: a wrong type or value is an
InputError that names the option (or the argument, where no option gives it), raised before any work starts;
never an AttributeError or TypeError from deep inside, nor a value taken silently. NumPy's numbers and booleans
and pathlib paths are taken as Python's."""

import math
import pathlib
import warnings

import h5py
import numpy as np
import pytest

import sgdcli
from conftest import cli, make_problem, write_table
from sgdcli import DaskOptions, RunControl, TrainOptions
from sgdcli.errors import InputError
from sgdcli.training.runlog import FitWarning

BEYOND = 2**64  # more than a 64-bit integer holds
TOO_LARGE = f"must be at most 9223372036854775807 (2**63 - 1), got {BEYOND}"


def refused(call, *args, **kwargs) -> str:
    with pytest.raises(InputError) as caught:
        call(*args, **kwargs)
    return str(caught.value)


# --- integers beyond 64 bits (F1) --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["epochs", "step_epochs", "warmup_iterations", "page_rows", "patience",
                                  "base_batch_size", "sync_every", "threads", "batch_size", "memory"])
def test_an_integer_option_beyond_64_bits_is_refused_by_name(name):
    """step_epochs and warmup_iterations of 2**64 passed TrainOptions and stopped in the compiled code with an
    OverflowError (the command line: "internal error: TypingError", exit 1); seed alone had the bound."""
    assert refused(TrainOptions, **{name: BEYOND}) == f"--{name.replace('_', '-')}: {TOO_LARGE}"


def test_the_command_line_refuses_a_step_epochs_beyond_64_bits_in_one_line(binary_file, tmp_path):
    code, out, err = cli("train", binary_file, "-o", tmp_path / "m.h5", "--epochs", "1", "--schedule", "step",
                         "--step-epochs", str(BEYOND))
    assert (code, err) == (2, f"sgdcli: error: --step-epochs: {TOO_LARGE}\n")
    assert not (tmp_path / "m.h5").exists()


def test_epochs_whose_iterations_are_more_than_64_bits_count_are_refused(tmp_path):
    """Each epoch within the bound, their iterations together beyond it: the kernels count them in 64 bits."""
    X, y = make_problem("binary", n=320, d=3, seed=0)
    path = write_table(tmp_path / "d.h5", X, y)
    assert refused(sgdcli.train, path, TrainOptions(epochs=2**62, batch_size=32)) == (
        f"--epochs: {2**62} epochs of 10 iterations are more than 2**63 - 1 iterations in all")


def test_a_warm_up_longer_than_the_whole_run_is_a_fit_warning(tmp_path):
    """warmup_iterations=2**63-1 trained the all-zero model, exit 0, without a word: the rate never rose above
    1e-17 of its value. 2000 rows in batches of 32 are 63 iterations an epoch, 126 in 2 epochs."""
    X, y = make_problem("binary", n=2000, d=3, seed=0)
    path = write_table(tmp_path / "d.h5", X, y)
    with pytest.warns(FitWarning) as caught:
        model = sgdcli.train(path, TrainOptions(epochs=2, batch_size=32, warmup_iterations=2**63 - 1))
    text = ("--warmup-iterations 9223372036854775807 is longer than the whole run (2 epochs × 63 iterations): the "
            "rate rose to only 1.37e-17 of its value, and the model may be far from the optimum; lower "
            "--warmup-iterations")
    assert [str(w.message) for w in caught] == [text] and model.training["warnings"] == [text]
    assert np.abs(model.weights).max() < 1e-14  # what it warns about: next to the all-zero model
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitWarning)  # a warm-up that ends with the run is no mistake
        assert "warnings" not in sgdcli.train(path, TrainOptions(epochs=2, batch_size=32,
                                                                 warmup_iterations=126)).training


# --- TrainOptions' values (F3) -----------------------------------------------------------------------------------

def test_train_options_take_paths_numpy_booleans_and_columns_and_classes_by_number():
    """A path and np.False_ were refused; positive_class=1 and label_column=0 too, though the command line takes
    --positive-class 1 and --label-column 0, and evaluate took label_column=0. Each is kept as the command line
    would give it."""
    options = TrainOptions(init=pathlib.Path("m.h5"), epochs=0, val=pathlib.Path("v.h5"), shuffle=np.False_,
                           transpose=np.True_, positive_class=1, label_column=0, features=("f1", np.int64(3)))
    assert (options.init, options.val, options.shuffle, options.transpose, options.positive_class,
            options.label_column, options.features) == ("m.h5", "v.h5", False, True, "1", "0", "f1,3")
    assert (type(options.shuffle), type(options.transpose)) == (bool, bool)
    assert TrainOptions(features=["a,b", "c"]).features == "a\\,b,c"  # as the text names them (namelists.py)
    assert refused(TrainOptions, features=["a\\"]) == (
        "--features: expected names or indices: comma-separated text (a comma in a name written \\,), or a list "
        "of them (none ending in a backslash), or None, got ['a\\\\']")
    assert refused(TrainOptions, positive_class=1.0) == "--positive-class: expected text, an integer or None, got 1.0"


def test_text_is_refused_for_a_batch_size_as_for_every_other_number():
    """batch_size="32" was taken (as 32) where lr="0.1" and epochs="3" were refused; "full" stays."""
    assert refused(TrainOptions, batch_size="32") == "--batch-size: expected a positive integer or 'full', got '32'"
    assert TrainOptions(batch_size=" Full").batch_size is None


def test_a_label_column_and_a_positive_class_given_by_number_train_as_on_the_command_line(tmp_path):
    X, y = make_problem("binary", n=400, d=3, seed=4)
    path = write_table(tmp_path / "t.h5", np.column_stack([y, X]).astype(np.float32))  # the labels: column 0
    code, out, err = cli("train", path, "-o", tmp_path / "cli.h5", "--label-column", "0", "--positive-class", "0",
                         "--epochs", "1", "--threads", "1", "-q")
    assert code == 0, err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        model = sgdcli.train(path, TrainOptions(label_column=0, positive_class=0, epochs=1, threads=1))
    by_cli = sgdcli.load_model(tmp_path / "cli.h5")
    assert list(model.classes) == list(by_cli.classes) == [1, 0]  # class 0 scored as the positive one
    assert np.array_equal(model.weights, by_cli.weights) and model.n_features == 3


# --- train's and sweep's arguments (F2, F9) ----------------------------------------------------------------------

@pytest.mark.parametrize("given,message", [
    (dict(options={"epochs": 1}), "options: expected a sgdcli.TrainOptions or None, got {'epochs': 1}; "
                                  "sgdcli.TrainOptions(**d) makes them of a dict d"),
    (dict(reporter="bar"), "reporter: expected a sgdcli.Reporter or None, got 'bar'; sgdcli.make_reporter('bar') "
                           "gives the command line's"),
    (dict(dask="local:2"), "dask: expected a sgdcli.DaskOptions or None, got 'local:2'; "
                           "sgdcli.DaskOptions(address) is --dask ADDRESS"),
    (dict(control={"resume": True}), "control: expected a sgdcli.RunControl or None, got {'resume': True}"),
])
def test_train_names_an_argument_that_is_not_what_it_takes_before_it_opens_the_data(tmp_path, given, message):
    """An AttributeError from deep inside ('dict' object has no attribute 'parallel'), reporter="bar" only once
    the data were open. The data here do not exist: the argument is checked first."""
    assert refused(sgdcli.train, tmp_path / "none.h5", **given) == message


def test_sweep_takes_none_for_the_default_options_as_train_does(binary_file):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)  # a full batch: few updates
        (run,) = sgdcli.sweep(binary_file, None, [None], [0.1])
        model = sgdcli.train(binary_file, TrainOptions(batch_size=None, lr=0.1))
    assert (run.epochs, run.train_loss) == (TrainOptions().epochs, model.history[-1]["train_loss"])


def test_sweep_takes_full_and_checks_every_batch_size_before_the_first_run(binary_file):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        runs = sgdcli.sweep(binary_file, TrainOptions(epochs=1), ["full", np.int64(64)], [0.1])
    assert [(run.batch_size, run.batch_label) for run in runs] == [(None, "full"), (64, "64")]
    started = []
    assert refused(sgdcli.sweep, binary_file, TrainOptions(epochs=1), [32, 0], [0.1],
                   reporter_for=lambda i, n, label: started.append(label)) == (
        "--batch-size: must be >= 1 or 'full', got 0")
    assert started == []  # not after the batch 32 run
    assert refused(sgdcli.sweep, binary_file, None, [32], "0.1") == "--lrs: expected a list, got '0.1'"


# --- evaluate's and predict's keywords (F4) ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small binary model and data for it: (model path, data path)."""
    here = tmp_path_factory.mktemp("trained")
    X, y = make_problem("binary", n=600, d=4, seed=3)
    data = write_table(here / "data.h5", X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        sgdcli.train(data, TrainOptions(epochs=1), output=here / "model.h5")
    return here / "model.h5", data


@pytest.mark.parametrize("given,message", [
    (dict(y=None), "--y: expected text, got None"),
    (dict(memory="256M"), "--memory: expected an integer, got '256M'"),
    (dict(memory=-1), "--memory: must be at least 1M, got -1 bytes"),
    (dict(memory=1.5), "--memory: expected an integer, got 1.5"),
    (dict(memory=BEYOND), f"--memory: {TOO_LARGE}"),
    (dict(progress=5), "progress: expected a function or None, got 5"),
    (dict(transpose="no"), "--transpose: expected True or False, got 'no'"),
    (dict(features={"f1"}), "--features: expected names or indices: comma-separated text (a comma in a name "
                            "written \\,), or a list of them (none ending in a backslash), or None, got {'f1'}"),
])
def test_evaluate_checks_its_keywords_by_the_rules_of_train_s_options_before_it_reads_anything(tmp_path, given,
                                                                                               message):
    """A TypeError once scoring began (progress=5, memory="256M"), "-0.0 MiB cannot hold ..." for memory=-1, 1.5
    bytes taken. The model and data here do not exist: the keywords are checked first."""
    assert refused(sgdcli.evaluate, tmp_path / "m.h5", tmp_path / "d.h5", **given) == message


def test_predict_refuses_a_proba_that_is_not_a_boolean(tmp_path):
    """proba="no" wrote probabilities: any truthy value did."""
    assert refused(sgdcli.predict, tmp_path / "m.h5", tmp_path / "d.h5", tmp_path / "p.h5", proba="no") == (
        "--proba: expected True or False, got 'no'")


def test_features_as_a_tuple_are_read_as_the_same_list_or_text(trained):
    """A tuple was an AttributeError ('tuple' object has no attribute 'split'); a list worked."""
    model, data = trained
    given = [sgdcli.evaluate(model, data, features=features) for features in (("0", 1, 2, 3), ["0", "1", "2", "3"],
                                                                                "0,1,2,3")]
    assert given[0] == given[1] == given[2] and given[0]["rows"] == 600


def test_the_command_line_s_evaluate_refuses_a_memory_below_1m_as_train_does(trained):
    """Its help said "at least 1M"; 100 bytes ran into "100 B cannot hold 2 blocks of one chunk"."""
    model, data = trained
    code, out, err = cli("evaluate", model, data, "--memory", "100")
    assert (code, out, err) == (2, "", "sgdcli: error: --memory: must be at least 1M, got 100 bytes\n")


# --- make_reporter (F7) --------------------------------------------------------------------------------------------

def test_make_reporter_refuses_an_unknown_mode():
    """make_reporter("bars") gave the silent Reporter."""
    assert refused(sgdcli.make_reporter, "bars") == "mode (--progress): 'bars' is not one of auto, bar, plain, none"


# --- RunControl (F8) -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("given,message", [
    (dict(checkpoint_every=0), "--checkpoint-every: must be >= 1, got 0"),
    (dict(checkpoint_every=1.5), "--checkpoint-every: expected an integer or None, got 1.5"),
    (dict(checkpoint_every=BEYOND), f"--checkpoint-every: {TOO_LARGE}"),
    (dict(checkpoint_seconds=-1), "--checkpoint-seconds: must be a finite number > 0, got -1.0"),
    (dict(checkpoint_seconds=math.nan), "--checkpoint-seconds: must be a finite number > 0, got nan"),
    (dict(wait_lock=-1), "--wait-lock: must be a number >= 0 (math.inf: wait forever), got -1.0"),
    (dict(wait_lock="60"), "--wait-lock: expected a number or None, got '60'"),
    (dict(resume="yes"), "--resume: expected True or False, got 'yes'"),
    (dict(checkpoint=5), "--checkpoint: expected a path or None, got 5"),
    (dict(stop=None), "stop: expected a function, got None"),
])
def test_run_control_checks_its_fields_as_it_is_made(given, message):
    """None were checked: 0, -1 and NaN were taken, "60" and stop=None were TypeErrors in the middle of a run."""
    assert refused(RunControl, **given) == message


def test_run_control_takes_a_path_and_numpy_values_as_python_s():
    control = RunControl(checkpoint=pathlib.Path("m.ckpt"), checkpoint_every=np.int64(10), wait_lock=math.inf,
                         resume=np.True_)
    assert (control.checkpoint, control.checkpoint_every, control.wait_lock, control.resume) == (
        "m.ckpt", 10, math.inf, True)
    assert (type(control.checkpoint_every), type(control.resume)) == (int, bool)


def test_a_stop_that_answers_no_signal_is_named_at_the_first_safe_point(binary_file):
    """stop=lambda: 99 was "ValueError: 99 is not a valid Signals", after a checkpoint was written."""
    assert refused(sgdcli.train, binary_file, TrainOptions(epochs=1), control=RunControl(stop=lambda: 99)) == (
        "stop: returned 99; expected None or the number of a signal training stops on: 2 (SIGINT), 15 (SIGTERM), "
        "1 (SIGHUP)")


# --- DaskOptions (F16) ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args,kwargs,message", [
    ((None,), {}, "--dask: expected text, got None"),
    (("local:2",), dict(workers="2"), "--dask-workers: expected an integer or None, got '2'"),
    (("local:2",), dict(workers=1.5), "--dask-workers: expected an integer or None, got 1.5"),
    (("tcp://scheduler:8786",), dict(timeout="30"), "--dask-timeout: expected a number, got '30'"),
    (("local:2",), dict(workers=3), "--dask-workers 3: --dask local:2 starts only 2 workers"),
])
def test_dask_options_are_checked_as_they_are_made(args, kwargs, message):
    """DaskOptions(None) was an AttributeError, workers="2" a TypeError and 1.5 dask's own ValueError, once
    training began."""
    assert refused(DaskOptions, *args, **kwargs) == message


# --- generate's keywords (F10) -----------------------------------------------------------------------------------

@pytest.mark.parametrize("given,message", [
    (dict(rows=1000.5), "--rows: expected an integer, got 1000.5"),
    (dict(rows="1000"), "--rows: expected an integer, got '1000'"),
    (dict(rows=BEYOND), f"--rows: {TOO_LARGE}"),
    (dict(task="multiclass", classes=2.5), "--classes: expected an integer, got 2.5"),
    (dict(seed=1.5), "--seed: expected an integer, got 1.5"),
    (dict(contiguous="yes"), "--contiguous: expected True or False, got 'yes'"),
    (dict(task="multiclass", classes=10**6), "--classes must be at most 1000, the most classes a model takes, "
                                              "got 1000000"),
])
def test_generate_checks_its_keywords_as_the_command_s_options(tmp_path, given, message):
    """TypeErrors from range() and NumPy, and 10**6 classes, which training refuses, taken."""
    assert refused(sgdcli.generate, tmp_path / "g.h5", **given) == message
    assert list(tmp_path.iterdir()) == []


def test_generate_refuses_an_output_named_as_text(tmp_path):
    """generate wrote HDF5 under the name g.csv, which predict and evaluate then read as CSV text; convert
    refused such a name already."""
    out = tmp_path / "g.csv"
    assert refused(sgdcli.generate, out) == (f"{out}: generate writes HDF5 only, and this name says CSV text; give "
                                             f"the output a name ending in .h5 (such as {tmp_path / 'g'}.h5)")
    assert list(tmp_path.iterdir()) == []


def test_generate_refuses_features_that_no_memory_holds_before_it_draws_the_model(tmp_path):
    """rows=1, features=10**12: a MemoryError (7.28 TiB) from NumPy."""
    message = refused(sgdcli.generate, tmp_path / "g.h5", rows=1, features=10**12)
    assert message.startswith("--features 1000000000000: generating needs about 47.3 TiB (the model and a block of "
                              "1 row), more than the ") and message.endswith(" this process may use; lower --features")
    assert list(tmp_path.iterdir()) == []


def test_generate_takes_numpy_integers_as_python_s(tmp_path):
    """features=np.int64(5) was an AttributeError ('numpy.int64' object has no attribute 'bit_length')."""
    given = sgdcli.generate(tmp_path / "a.h5", rows=np.int64(100), features=np.int64(5), noise=np.float32(0.5))
    plain = sgdcli.generate(tmp_path / "b.h5", rows=100, features=5, noise=0.5)
    assert given == plain and type(given["features"]) is int
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        assert np.array_equal(a["X"][:], b["X"][:]) and np.array_equal(a["y"][:], b["y"][:])
