"""train --init: a run that starts from a model, checked against the model it starts from."""

import os

import h5py
import numpy as np
import pytest

from sgdcli import evaluate, load_model, train
from sgdcli.options import TrainOptions
from sgdcli.training.fitwarnings import FitWarning

from conftest import cli, make_problem, short_fits, write_table


@pytest.fixture(scope="module")
def days(tmp_path_factory):
    """Two "days" of rows from one model, and a test set."""
    d = tmp_path_factory.mktemp("days")
    X, y = make_problem("binary", n=24_000, d=20, seed=5, noise=1.0)
    first = write_table(d / "day1.h5", X[:10_000], y[:10_000])
    second = write_table(d / "day2.h5", X[10_000:20_000], y[10_000:20_000])
    test = write_table(d / "test.h5", X[20_000:], y[20_000:])
    train(first, TrainOptions(epochs=2), output=d / "day1-model.h5")
    return d, first, second, test


def test_continuing_yesterdays_model_beats_a_fresh_start_on_todays_rows(days):
    d, _, second, test = days
    warm = train(second, TrainOptions(epochs=1, init=str(d / "day1-model.h5")))
    fresh = train(second, TrainOptions(epochs=1))
    assert evaluate(warm, test)["log_loss"] < evaluate(fresh, test)["log_loss"]


# (three epochs at a fortieth of --lr auto's rate end far above the optimum of these nearly separable rows, which
# tests/test_far_from_fit.py tells of: what this test compares is the runs, not how far they got)
@pytest.mark.filterwarnings("ignore::sgdcli.training.fitwarnings.FitWarning")
def test_a_standardized_model_continues_in_its_own_units_on_sparse_rows_and_without_standardize(tmp_path):
    """The kernels followed --standardize (off for sparse input, or given) while the model kept its center and
    scale: a warm start on a CSR copy of the rows, or with --no-standardize, trained as if they were not there
    (its first epoch's loss 5 times the initial model's), and the model got worse."""
    import scipy.sparse as sp

    rng = np.random.default_rng(1)
    M = sp.random(3000, 30, density=0.2, format="csr", random_state=1, dtype=np.float64) * 4 + sp.random(
        3000, 30, density=0.2, format="csr", random_state=2)
    score = M @ rng.standard_normal(30)
    y = (score > np.median(score)).astype(np.int64)
    dense = write_table(tmp_path / "dense.h5", M.toarray(), y)
    with h5py.File(tmp_path / "csr.h5", "w") as f:
        g = f.create_group("X")
        g["data"], g["indices"], g["indptr"], g.attrs["shape"] = M.data, M.indices, M.indptr, M.shape
        f["y"] = y
    initial = train(dense, TrainOptions(epochs=3, lr=0.05), output=tmp_path / "init.h5")
    assert initial.center is not None and np.abs(initial.center).max() > 0.1
    start = evaluate(initial, dense)["log_loss"]
    same = dict(epochs=3, lr=0.05, optimizer="sgd", shuffle=False, init=str(tmp_path / "init.h5"))
    want = train(dense, TrainOptions(**same))
    for data, extra in ((tmp_path / "csr.h5", {}), (dense, {"standardize": False})):
        warm = train(data, TrainOptions(**same, **extra))
        assert warm.history[0]["train_loss"] == pytest.approx(want.history[0]["train_loss"], rel=0.02)
        assert evaluate(warm, dense)["log_loss"] == pytest.approx(evaluate(want, dense)["log_loss"], rel=0.01)
        assert evaluate(warm, dense)["log_loss"] < start


def test_no_epochs_rewrites_the_initial_model_and_its_predictions(days, tmp_path):
    d, _, second, test = days
    initial = load_model(d / "day1-model.h5")
    same = train(second, TrainOptions(epochs=0, init=str(d / "day1-model.h5")), output=tmp_path / "same.h5")
    assert same.weights.tobytes() == initial.weights.tobytes() and same.bias.tobytes() == initial.bias.tobytes()
    np.testing.assert_array_equal(same.center, initial.center)
    for name, extra in (("same.h5", []), ("re.h5", ["--restandardize"])):
        if extra:
            assert cli("train", second, "-o", tmp_path / name, "--init", d / "day1-model.h5", "--epochs", "0",
                       *extra)[0] == 0
        assert cli("predict", tmp_path / name, test, "-o", tmp_path / f"{name}.csv", "--proba")[0] == 0
    assert cli("predict", d / "day1-model.h5", test, "-o", tmp_path / "initial.csv", "--proba")[0] == 0
    initial_p, same_p, re_p = (np.loadtxt(tmp_path / f, delimiter=",", skiprows=1)
                               for f in ("initial.csv", "same.h5.csv", "re.h5.csv"))
    np.testing.assert_array_equal(same_p, initial_p)
    np.testing.assert_allclose(re_p, initial_p, rtol=1e-12, atol=1e-12)  # carried over to the new statistics


def test_a_warm_run_repeats_bit_for_bit(days):
    d, _, second, _ = days
    a, b = (train(second, TrainOptions(epochs=1, init=str(d / "day1-model.h5"))) for _ in range(2))
    assert a.weights.tobytes() == b.weights.tobytes()


def test_a_day_with_one_class_keeps_the_models_classes(days, tmp_path):
    d, _, second, _ = days
    with h5py.File(second) as f:
        X, y = f["X"][()], f["y"][()]
    only = write_table(tmp_path / "ones.h5", X[y == 1], y[y == 1])
    m = train(only, TrainOptions(epochs=1, init=str(d / "day1-model.h5")))
    assert m.classes.tolist() == load_model(d / "day1-model.h5").classes.tolist()


def test_positive_class_with_init_is_checked_against_the_models(days, tmp_path):
    """--positive-class with --init compared two Labels holding arrays: an internal error whatever the class."""
    d, _, second, _ = days
    init = str(d / "day1-model.h5")
    same = train(second, TrainOptions(epochs=1, init=init, positive_class="1"))
    assert same.weights.tobytes() == train(second, TrainOptions(epochs=1, init=init)).weights.tobytes()
    code, _, err = cli("train", second, "-o", tmp_path / "m.h5", "--init", init, "--positive-class", "0", "-q")
    assert (code, err) == (2, f"sgdcli: error: --positive-class 0: --init {init} has the other class as its "
                              "positive one\n")


def test_the_model_card_shows_the_chain_of_runs(days, tmp_path):
    d, first, second, _ = days
    train(second, TrainOptions(epochs=1, init=str(d / "day1-model.h5")), output=tmp_path / "day2.h5")
    train(first, TrainOptions(epochs=1, init=str(tmp_path / "day2.h5")), output=tmp_path / "day3.h5")
    code, out, err = cli("show", tmp_path / "day3.h5")
    chain = out.split("lineage (oldest first)\n")[1].split("\n\n")[0].splitlines()
    assert chain[0] == f"  1. from scratch, 2 epochs on {first}"
    assert chain[1].startswith(f"  2. from {d / 'day1-model.h5'} (model ") and chain[1].endswith(f"1 epoch on {second}")
    assert chain[2].startswith(f"  3. from {tmp_path / 'day2.h5'} (model ") and len(chain) == 3


@pytest.mark.parametrize("args,message", [
    (["--model", "hinge"], "--init {init}: a logistic model; this run trains --model hinge on {data}"),
    (["--restandardize"], None),  # fine with --init
])
def test_what_the_initial_model_must_share(days, tmp_path, args, message):
    d, _, second, _ = days
    code, out, err = cli("train", second, "-o", tmp_path / "m.h5", "--init", d / "day1-model.h5", "--epochs", "1",
                         *args)
    if message is None:
        assert code == 0, err
    else:
        assert (code, err.strip().splitlines()[-1]) == (
            2, "sgdcli: error: " + message.format(init=d / "day1-model.h5", data=second))
        assert not (tmp_path / "m.h5").exists()


def test_other_features_and_unknown_labels_are_refused(days, tmp_path):
    d, _, second, _ = days
    init = d / "day1-model.h5"
    with h5py.File(second) as f:
        X, y = f["X"][()], f["y"][()]
    narrow = write_table(tmp_path / "narrow.h5", X[:, :5], y)
    code, out, err = cli("train", narrow, "-o", tmp_path / "m.h5", "--init", init)
    assert (code, err.strip()) == (2, f"sgdcli: error: --init {init}: has 20 features; {narrow}:X has 5")
    three = write_table(tmp_path / "three.h5", X, np.where(np.arange(len(y)) == 3, 2, y))
    code, out, err = cli("train", three, "-o", tmp_path / "m.h5", "--init", init, "--model", "logistic")
    assert (code, err.strip().splitlines()[-1]) == (
        2, f"sgdcli: error: {three}:y: label 2 is not one of the classes of --init {init} (0, 1)"), err


def test_a_frame_whose_columns_are_reordered_continues_the_model_read_by_name_as_predict_reads_it(tmp_path):
    """pandas frames: the model's columns are found by name in another order (--epochs 0 gives back the
    initial model, predicting the same), as predict finds them; a column the model lacks is refused, naming
    it, where --features with the model's columns trains; a column it has missing is named too."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("tables")
    X, y = make_problem("binary", n=600, d=4, seed=8)
    df = pd.DataFrame(X, columns=["f0", "f1", "f2", "f3"]).assign(label=y)
    frames = {"day1": df, "reordered": df[["label", "f3", "f1", "f0", "f2"]], "wider": df.assign(new=1.0),
              "narrower": df.drop(columns="f2")}
    for name, frame in frames.items():
        frame.to_hdf(tmp_path / f"{name}.h5", key="df", format="table")
    flags = ["--x", "df", "--label-column", "label", "-q"]
    assert cli("train", tmp_path / "day1.h5", "-o", tmp_path / "m.h5", *flags, "--epochs", "2")[0] == 0
    init = tmp_path / "m.h5"
    code, _, err = cli("train", tmp_path / "reordered.h5", "-o", tmp_path / "r.h5", *flags, "--init", init,
                       "--epochs", "0")
    assert code == 0, err
    assert load_model(tmp_path / "r.h5").weights.tobytes() == load_model(init).weights.tobytes()
    assert load_model(tmp_path / "r.h5").training["features"] == ["f0", "f1", "f2", "f3"]
    predicted = [cli("predict", model, tmp_path / "reordered.h5", "--x", "df", "-o", "-")[1] for model in
                 (init, tmp_path / "r.h5")]
    assert predicted[0] == predicted[1] and len(predicted[0].splitlines()) == 601
    assert cli("train", tmp_path / "reordered.h5", "-o", tmp_path / "r1.h5", *flags, "--init", init)[0] == 0
    code, _, err = cli("train", tmp_path / "wider.h5", "-o", tmp_path / "w.h5", *flags, "--init", init)
    assert (code, err) == (2, f"sgdcli: error: --init {init}: {tmp_path / 'wider.h5'}:df has 1 feature column "
                              "the model was not trained on ('new'), which a warm start cannot learn; leave them "
                              "out with --features and the model's columns (training.features in sgdcli show "
                              f"{init}), or train a new model without --init\n")
    assert cli("train", tmp_path / "wider.h5", "-o", tmp_path / "w.h5", *flags, "--init", init, "--features",
               "f0,f1,f2,f3")[0] == 0
    code, _, err = cli("train", tmp_path / "narrower.h5", "-o", tmp_path / "n.h5", *flags, "--init", init)
    assert (code, err) == (2, f"sgdcli: error: --init {init}: {tmp_path / 'narrower.h5'}:df: has no column 'f2', "
                              "which the model was trained on (1 of its 4 features missing)\n")


@pytest.fixture(scope="module")
def named(tmp_path_factory):
    """A pandas fixed frame f0..f4 + label, the same frame reordered, and the same rows as a compound table."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("tables")
    d = tmp_path_factory.mktemp("named")
    X, y = make_problem("binary", n=800, d=5, seed=9)
    df = pd.DataFrame(X.astype(np.float64), columns=[f"f{j}" for j in range(5)]).assign(label=y)
    df.to_hdf(d / "pf.h5", key="df", format="fixed")
    df[["f3", "f1", "label", "f0", "f4", "f2"]].to_hdf(d / "rf.h5", key="df", format="fixed")
    record = np.zeros(len(df), dtype=[(c, "f8") for c in df.columns[:5]] + [("label", "i8")])
    for c in record.dtype.names:
        record[c] = df[c]
    with h5py.File(d / "ct.h5", "w") as f:
        f["t"] = record
    return d


@pytest.mark.parametrize("data,x,label", [("pf.h5", "df", "5"), ("pf.h5", "df", "-1"), ("ct.h5", "t", "-1"),
                                          ("rf.h5", "df", "2"), ("rf.h5", "df", "-4")])
def test_a_label_column_given_by_index_continues_the_model_it_trained(named, tmp_path, data, x, label):
    """The nightly command with --init added: the index names the label, not a feature the model lacks
    (--epochs 0 gives back the initial model); predict and evaluate read it the same way."""
    flags = ["--x", x, "--label-column", label, "-q"]
    init = tmp_path / "m.h5"
    trained_on = "ct.h5" if x == "t" else "pf.h5"  # rf.h5's label is column 2 (-4) of its own columns
    assert cli("train", named / trained_on, "-o", init, "--x", x, "--label-column", "label", "-q", "--epochs",
               "1")[0] == 0
    code, _, err = cli("train", named / data, "-o", tmp_path / "w.h5", *flags, "--init", init, "--epochs", "0")
    assert (code, err) == (0, "")
    assert load_model(tmp_path / "w.h5").weights.tobytes() == load_model(init).weights.tobytes()
    assert cli("train", named / data, "-o", tmp_path / "w1.h5", *flags, "--init", init)[0] == 0
    by_index, by_name = (cli("evaluate", init, named / data, "--x", x, "--label-column", column, "--json")[1]
                         for column in (label, "label"))
    assert by_index == by_name and '"rows": 800' in by_index


def test_features_listed_in_another_order_are_read_in_the_models_order(named, tmp_path):
    """--features naming the model's columns, in any order and by name or index, reads them by name as predict
    would (--epochs 0 gives back the model); evaluate scores the same with them; another set is refused,
    naming the column the model lacks and what to do."""
    model = tmp_path / "sm.h5"
    flags = ["--x", "df", "--label-column", "label", "-q"]
    assert cli("train", named / "pf.h5", "-o", model, *flags, "--features", "f4,f0,f2", "--epochs", "1")[0] == 0
    for listed in ("f0,f2,f4", "3,5,4", "f2,f4,f0"):
        code, _, err = cli("train", named / "rf.h5", "-o", tmp_path / "x.h5", *flags, "--features", listed,
                           "--init", model, "--epochs", "0")
        assert (code, err) == (0, ""), listed
        assert load_model(tmp_path / "x.h5").weights.tobytes() == load_model(model).weights.tobytes()
        assert load_model(tmp_path / "x.h5").training["features"] == ["f4", "f0", "f2"]
    scored = {cli("evaluate", model, named / "rf.h5", "--x", "df", "--label-column", "label", *listed)[1]
              for listed in ([], ["--features", "f0,f2,f4"], ["--features", "f4,f0,f2"])}
    assert len(scored) == 1
    code, _, err = cli("train", named / "rf.h5", "-o", tmp_path / "x.h5", *flags, "--features", "f0,f2,f3",
                       "--init", model)
    assert (code, err) == (2, f"sgdcli: error: --init {model}: --features reads 'f3' of {named / 'rf.h5'}:df, "
                              "which the model was not trained on; list the model's columns, in any order "
                              f"(training.features in sgdcli show {model}), or train a new model without "
                              "--init\n")


@pytest.mark.parametrize("args,message", [
    (["--epochs", "0"], "--epochs: must be >= 1 (0 with --init), got 0"),
    (["--restandardize"], "--restandardize: applies with --init only"),
    (["--init", "nowhere.h5"], "--init nowhere.h5: no such file"),
    (["--init", "fifo"], "--init fifo: is a pipe (a FIFO, or a process substitution such as <(...)), not a regular "
                         "file; --init reads a model file"),
])
def test_usage_errors(days, tmp_path, monkeypatch, args, message):
    d, _, second, _ = days
    monkeypatch.chdir(tmp_path)
    os.mkfifo(tmp_path / "fifo")  # it exists: "no such file" was wrong for it
    code, out, err = cli("train", second, "-o", tmp_path / "m.h5", *args)
    assert (code, err.strip().splitlines()[-1]) == (2, "sgdcli: error: " + message)


def test_gates_need_an_epoch_to_validate(days, tmp_path):
    d, _, second, _ = days
    code, out, err = cli("train", second, "-o", tmp_path / "m.h5", "--init", d / "day1-model.h5", "--epochs", "0",
                         "--val-fraction", "0.1", "--fail-under", "accuracy=0.5")
    assert (code, err.strip()) == (2, "sgdcli: error: --fail-under: --epochs 0 validates nothing; check the model "
                                      "with sgdcli evaluate")


@short_fits
def test_lr_auto_steps_by_the_share_of_new_rows_and_keeps_what_the_model_knew(days, tmp_path):
    """At a fresh run's rate, 500 new rows would undo much of what 10,000 taught (training/rate.py)."""
    d, _, second, test = days
    with h5py.File(second) as f:
        small = write_table(tmp_path / "small.h5", f["X"][:500], f["y"][:500])
    warm = train(small, TrainOptions(epochs=1, init=str(d / "day1-model.h5")))
    share = 500 / (10_000 + 500)
    auto = warm.training["lr_auto"]
    assert auto["warm_share"] == pytest.approx(share, rel=1e-12)
    fresh_rate = 1 / (auto["curvature"] * (auto["lambda_max"] + auto["trace"] / (32 * (1 - auto["momentum"]))))
    assert warm.training["lr"] == pytest.approx(fresh_rate * share, rel=1e-12)
    assert warm.training["lineage"][-1]["rows"] == 500
    assert evaluate(warm, test)["log_loss"] <= evaluate(d / "day1-model.h5", test)["log_loss"] * 1.01


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("optimizer,extra", [("adam", {}), ("momentum", {"average": True}), ("rmsprop", {}),
                                             ("adagrad", {"l2": 0.0}), ("nesterov", {"l1": 0.001})])
@short_fits
def test_a_run_continued_with_its_optimizer_state_is_the_uninterrupted_run(tmp_path, optimizer, extra, sparse):
    """Two epochs, or one and then one more from the model with --init-optimizer: the same model (file order,
    a constant rate: the schedule restarts, the optimizer's clock does not)."""
    X, y = make_problem("binary", n=2000, d=12, seed=1)
    path = write_table(tmp_path / "d.h5", X, y)
    if sparse:
        scipy_sparse = pytest.importorskip("scipy.sparse")
        M = scipy_sparse.csr_matrix(np.where(np.abs(X) > 1, X, 0).astype(np.float32))
        with h5py.File(tmp_path / "s.h5", "w") as f:
            g = f.create_group("X")
            g["data"], g["indices"], g["indptr"] = M.data, M.indices, M.indptr
            g.attrs["shape"] = M.shape
            f["y"] = y
        path = tmp_path / "s.h5"
    same = dict(optimizer=optimizer, lr=0.01, schedule="constant", shuffle=False, **extra)
    whole = train(path, TrainOptions(epochs=2, **same))
    train(path, TrainOptions(epochs=1, **same), output=tmp_path / "first.h5")
    continued = train(path, TrainOptions(epochs=1, init=str(tmp_path / "first.h5"), init_optimizer=True, **same))
    restarted = train(path, TrainOptions(epochs=1, init=str(tmp_path / "first.h5"), **same))
    np.testing.assert_allclose(continued.raw_weights(), whole.raw_weights(), rtol=1e-12, atol=1e-15)
    assert not np.allclose(restarted.raw_weights(), whole.raw_weights(), rtol=1e-6)
    assert load_model(tmp_path / "first.h5", optimizer=True).optimizer["updates"] == 2000 // 32 + 1


def test_the_bias_velocity_carries_over_in_this_runs_units(tmp_path):
    """The velocity's bias entry sums the bias's gradients times the bias's rate over the weights' (--lr auto's
    under --l2: training/biasrate.py), which the next run may set otherwise: it carries over in the next run's
    units (here a rate given, whose bias steps at the weights' rate), the weights' entries as they were."""
    X, y = make_problem("binary", n=2000, d=12, seed=1)
    path = write_table(tmp_path / "d.h5", X, y)
    train(path, TrainOptions(optimizer="nesterov", l2=1.0, epochs=1), output=tmp_path / "first.h5")
    first = load_model(tmp_path / "first.h5", optimizer=True)
    times = first.training["lr_auto"]["bias_times"]
    assert times > 1.5  # the premise: --l2 slows the weights' rate and not the bias's
    train(path, TrainOptions(optimizer="nesterov", l2=1.0, lr=0.01, epochs=0, init=str(tmp_path / "first.h5"),
                             init_optimizer=True), output=tmp_path / "again.h5")
    again = load_model(tmp_path / "again.h5", optimizer=True)
    before, after = first.optimizer["slots"]["a"], again.optimizer["slots"]["a"]
    np.testing.assert_array_equal(after[:, :-1], before[:, :-1])
    np.testing.assert_allclose(after[:, -1], before[:, -1] / times, rtol=1e-12)


@short_fits
def test_optimizer_auto_under_init_optimizer_is_the_initial_models_optimizer(tmp_path):
    """--init-optimizer carries the initial model's state on, which needs its optimizer: auto (nesterov on
    dense rows) refused an Adam model's state, and now continues it, as --optimizer adam does."""
    X, y = make_problem("binary", n=2000, d=12, seed=1)
    path = write_table(tmp_path / "d.h5", X, y)
    same = dict(lr=0.01, schedule="constant", shuffle=False)
    train(path, TrainOptions(epochs=1, optimizer="adam", **same), output=tmp_path / "first.h5")
    code, out, err = cli("train", path, "-o", tmp_path / "auto.h5", "--epochs", "1", "--lr", "0.01", "--schedule",
                         "constant", "--no-shuffle", "--init", tmp_path / "first.h5", "--init-optimizer")
    assert code == 0 and ("--optimizer auto: adam (the --init model's, whose state --init-optimizer carries "
                          "on)\n") in err, err
    given = train(path, TrainOptions(epochs=1, optimizer="adam", init=str(tmp_path / "first.h5"),
                                     init_optimizer=True, **same))
    assert load_model(tmp_path / "auto.h5").raw_weights().tobytes() == given.raw_weights().tobytes()


def test_rmsprop_state_from_dense_rows_continues_on_sparse_rows_as_on_dense_rows(tmp_path):
    """The sparse kernel steps RMSprop lazily and counts the steps each average has seen in slot "b", which a
    dense run never writes: read as 0 of the model's updates, every average was decayed by β2 per update."""
    scipy_sparse = pytest.importorskip("scipy.sparse")
    X, y = make_problem("regression", n=2000, d=12, seed=4)
    M = scipy_sparse.csr_matrix(np.where(np.abs(X) > 0.5, X, 0).astype(np.float32))
    dense = write_table(tmp_path / "d.h5", M.toarray(), y)
    with h5py.File(tmp_path / "s.h5", "w") as f:
        g = f.create_group("X")
        g["data"], g["indices"], g["indptr"] = M.data, M.indices, M.indptr
        g.attrs["shape"] = M.shape
        f["y"] = y
    same = dict(model="linear", optimizer="rmsprop", lr=0.01, batch_size=16, standardize=False, schedule="constant",
                shuffle=False)
    train(dense, TrainOptions(epochs=10, **same), output=tmp_path / "first.h5")
    assert load_model(tmp_path / "first.h5", optimizer=True).optimizer["updates"] == 10 * 125
    more = TrainOptions(epochs=1, init=str(tmp_path / "first.h5"), init_optimizer=True, **same)
    on_dense, on_sparse = train(dense, more), train(tmp_path / "s.h5", more)
    np.testing.assert_allclose(on_sparse.raw_weights(), on_dense.raw_weights(), rtol=1e-9, atol=1e-12)


def test_the_model_file_keeps_the_optimizers_state(days, tmp_path):
    d, first, _, _ = days
    train(first, TrainOptions(epochs=1, optimizer="adam", average=True), output=tmp_path / "adam.h5")
    train(first, TrainOptions(epochs=1, optimizer="sgd"), output=tmp_path / "sgd.h5")
    with h5py.File(tmp_path / "adam.h5") as f:
        assert sorted(f["optimizer"]) == ["a", "average", "b", "iterate"]
        assert f["optimizer"].attrs["optimizer"] == "adam" and f["optimizer"]["a"].shape == (1, 21)
    with h5py.File(tmp_path / "sgd.h5") as f:
        assert "optimizer" not in f
    assert load_model(tmp_path / "adam.h5").optimizer is None  # read only when asked


def test_a_model_early_stopping_took_from_an_earlier_epoch_keeps_no_optimizer_state(days, tmp_path):
    """Its optimizer's state went on to later epochs; the weights are the best epoch's."""
    d, first, _, _ = days
    with h5py.File(first) as f:  # the training rows with their labels flipped: a better fit scores them worse
        flipped = write_table(tmp_path / "flipped.h5", f["X"][()], 1 - f["y"][()])
    options = dict(optimizer="adam", lr=0.001, schedule="constant", early_stopping=True, patience=1, epochs=5,
                   val=str(flipped))
    model = train(first, TrainOptions(**options), output=tmp_path / "early.h5")
    assert (model.training["best_epoch"], model.training["epochs_run"]) == (1, 2)
    with h5py.File(tmp_path / "early.h5") as f:
        assert "optimizer" not in f
    with pytest.warns(FitWarning, match="may be far from the optimum"):  # (two epochs at a rate given)
        last = train(first, TrainOptions(**{**options, "val": None, "early_stopping": False, "epochs": 2}),
                     output=tmp_path / "last.h5")
    with h5py.File(tmp_path / "last.h5") as f:  # the weights of the last epoch: its state is kept
        assert "optimizer" in f and last.training["epochs_run"] == 2


@pytest.mark.parametrize("args,message", [
    (["--init-optimizer"], "--init-optimizer: applies with --init only"),
    (["--init", "{d}/sgd.h5", "--init-optimizer", "--optimizer", "sgd"],
     "--init-optimizer: {d}/sgd.h5 keeps no optimizer state (its run used --optimizer sgd without --average, its "
     "early stopping kept an epoch before the last, or an sgdcli that did not keep it)"),
    (["--init", "{d}/day1-model.h5", "--init-optimizer", "--optimizer", "adam"],
     "--init-optimizer: {d}/day1-model.h5 was trained with --optimizer nesterov; this run uses --optimizer adam"),
    (["--init", "{d}/day1-model.h5", "--init-optimizer", "--restandardize"],
     "--init-optimizer: the optimizer's state is in the units of the initial model's standardization, which "
     "--restandardize replaces"),
])
def test_what_init_optimizer_needs(days, tmp_path, args, message):
    d, first, second, _ = days
    train(first, TrainOptions(epochs=1, optimizer="sgd"), output=d / "sgd.h5")
    code, _, err = cli("train", second, "-o", tmp_path / "m.h5", *[a.format(d=d) for a in args])
    assert (code, err.strip().splitlines()[-1]) == (2, "sgdcli: error: " + message.format(d=d))


@pytest.mark.parametrize("average", [False, True])
def test_no_epochs_with_the_optimizers_state_of_a_model_that_averaged_rewrite_the_model_not_its_last_iterate(
        days, tmp_path, average):
    """A model trained with --average is the mean of its iterates, and keeps its last iterate for
    --init-optimizer to go on from: --epochs 0 wrote that iterate, saying "the model of --init ..., unchanged"."""
    d, first, second, _ = days
    train(first, TrainOptions(epochs=1, optimizer="momentum", average=True), output=tmp_path / "avg.h5")
    initial = load_model(tmp_path / "avg.h5", optimizer=True)
    assert not np.allclose(initial.optimizer["slots"]["iterate"][:, :-1], initial.weights, rtol=1e-3)
    same = train(second, TrainOptions(epochs=0, init=str(tmp_path / "avg.h5"), init_optimizer=True,
                                      optimizer="momentum", average=average), output=tmp_path / "same.h5")
    assert same.weights.tobytes() == initial.weights.tobytes() and same.bias.tobytes() == initial.bias.tobytes()


def test_init_optimizer_from_a_centered_model_is_refused_on_sparse_rows_too_wide_to_centre(days, tmp_path):
    """Sparse rows too wide to centre are not centered: a warm start moves a dense model's centering into its
    bias.  Its optimizer's last iterate (which --init-optimizer goes on from under --average) stayed in the
    centered units, with the bias unmoved: accuracy fell from 0.97 to 0.65 at --epochs 0, exit 0.  Rows dense
    enough to centre keep the centering, and the state with it."""
    scipy_sparse = pytest.importorskip("scipy.sparse")
    from test_sparse import write_csr

    d, first, second, _ = days
    rng = np.random.default_rng(3)
    M = scipy_sparse.random(4000, 1000, density=0.002, format="csr", dtype=np.float32, random_state=3)
    y = (M @ rng.standard_normal(1000) > 0).astype(np.float64)
    dense = write_table(tmp_path / "wide.h5", M.toarray(), y)  # 1,000 columns against a batch's 64 nonzeros
    train(dense, TrainOptions(epochs=1, optimizer="momentum", average=True), output=tmp_path / "avg.h5")
    args = ["train", write_csr(tmp_path / "s.h5", M, y), "-o", tmp_path / "m.h5", "--init", tmp_path / "avg.h5",
            "--optimizer", "momentum", "--epochs", "0"]
    code, _, err = cli(*args, "--init-optimizer")
    assert (code, err.strip().splitlines()[-1]) == (2, (
        f"sgdcli: error: --init-optimizer: {tmp_path / 'avg.h5'} was trained on centered features (dense rows), and "
        "this run's sparse rows, this wide, are not centered: its weights carry over with the centering moved into "
        "the bias, its optimizer's state does not; drop --init-optimizer"))
    assert not (tmp_path / "m.h5").exists()
    assert cli(*args)[0] == 0
    before, after = (evaluate(load_model(m), dense) for m in (tmp_path / "avg.h5", tmp_path / "m.h5"))
    assert abs(after["log_loss"] - before["log_loss"]) < 1e-9
    train(first, TrainOptions(epochs=1, optimizer="momentum", average=True), output=tmp_path / "avg20.h5")
    with h5py.File(second) as f:
        narrow = write_csr(tmp_path / "n.h5", scipy_sparse.csr_matrix(f["X"][()]), f["y"][()])
    code, _, err = cli("train", narrow, "-o", tmp_path / "n.m.h5", "--init", tmp_path / "avg20.h5", "--optimizer",
                       "momentum", "--epochs", "0", "--init-optimizer", "-q")
    assert (code, err) == (0, "")
    np.testing.assert_array_equal(load_model(tmp_path / "n.m.h5").center, load_model(tmp_path / "avg20.h5").center)


def test_a_warm_start_is_held_to_the_model_it_started_from_not_the_all_zero_one(tmp_path, days):
    """From a model trained on the labels flipped (log loss over 10 on these rows), one epoch fell to about 3 and
    was told "above the all-zero model's 0.6931: training ended worse than it started", and to lower a rate that
    was doing well.  Both models are scored on the run's sample: from a poor model, one not yet below the all-zero
    model is told to train longer; a rate that takes a good model far off is told so; fine-tunes of a model at the
    optimum, which end a little above it by the steps' last jitter, are told nothing."""
    d, first, second, _ = days
    with h5py.File(first) as f:
        X, y = f["X"][()], f["y"][()]
    flipped = write_table(tmp_path / "flipped.h5", X, 1 - y)
    train(flipped, TrainOptions(epochs=3), output=tmp_path / "poor.h5")
    before = evaluate(str(tmp_path / "poor.h5"), second)["log_loss"]
    with pytest.warns(FitWarning) as said:
        m = train(second, TrainOptions(epochs=1, lr=0.002, init=str(tmp_path / "poor.h5")))
    after = evaluate(m, second)["log_loss"]
    assert before > after > 2 * np.log(2), (before, after)  # better than it started, worse than a model of zeros
    (text,) = [str(w.message) for w in said]
    assert text.startswith("the model kept has a mean loss of ") and (
        "on the run's sample of 4,096 rows, below the " in text) and text.endswith(
        f"of the model it started from (--init {tmp_path / 'poor.h5'}) but above the all-zero model's 0.6931: the "
        "model may be far from the optimum; raise --epochs, or try --lr auto"), text
    assert "worse than it started" not in text
    good = str(d / "day1-model.h5")
    with pytest.warns(FitWarning) as said:
        m = train(second, TrainOptions(epochs=1, lr=50.0, init=good))
    assert evaluate(m, second)["log_loss"] > 1.05 * evaluate(good, second)["log_loss"]
    (text,) = [str(w.message) for w in said if "worse than it started" in str(w.message)]
    assert text.endswith(f"of the model it started from (--init {good}): training ended worse than it started. The "
                         "rate may be too large: try --lr auto, or a tenth of this rate, --lr 5"), text
    converged = tmp_path / "converged.h5"
    train(second, TrainOptions(epochs=20), output=converged)
    for batch in (1, 8, 32):
        for seed in (1, 2):
            m = train(second, TrainOptions(epochs=1, batch_size=batch, seed=seed, init=str(converged)))
            assert "warnings" not in m.training, (batch, seed, m.training["warnings"])



def test_a_sparse_warm_starts_sample_is_scored_by_its_entries(tmp_path):
    """The warm start's end scores CSR rows by their entries (warmend.py), scaled as the kernels scale them: as
    the same rows made dense and multiplied out."""
    from types import SimpleNamespace

    from scipy import sparse as scipy_sparse

    from sgdcli.data.table import Table
    from sgdcli.training import warmend
    from sgdcli.training.sampling import Sample

    rng = np.random.default_rng(4)
    M = scipy_sparse.random(5000, 9, density=0.3, format="csr", dtype=np.float32, random_state=4)
    with h5py.File(tmp_path / "csr.h5", "w") as f:
        g = f.create_group("X")
        g["data"], g["indices"], g["indptr"] = M.data, M.indices, M.indptr
        g.attrs["shape"], g.attrs["encoding-type"], g.attrs["encoding-version"] = M.shape, "csr_matrix", "0.1.0"
        f["y"] = rng.integers(0, 3, 5000).astype(np.float64)
    P, scale = rng.standard_normal((3, 10)), rng.uniform(0.5, 2.0, 9)
    with Table(tmp_path / "csr.h5") as table:
        drawn = Sample(table)
        run = SimpleNamespace(table=table, sample=drawn, plan=SimpleNamespace(center=np.zeros(9), scale=scale))
        got = warmend._scores(run, P)
        rows = drawn.rows().dense(9).astype(np.float64) * scale
    want = np.column_stack([rows, np.ones(len(rows))]) @ P.T
    assert got.shape == (len(rows), 3) and 0 < len(rows) < 5000
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
