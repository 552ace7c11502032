"""Sparse rows dense enough are centred and scaled by default, as dense rows are (training/autooptimizer.py
``dense_enough``, kernels/centring.py): counts of a few columns, uncentred, kept their means' one direction of
large curvature, and trained far from the optimum without a word."""

import os

import numpy as np
import pytest

from sgdcli import load_model, train
from sgdcli.options import TrainOptions

from conftest import cli, resumed_after, short_fits, write_table
from test_sparse import write_csr as write_matrix

scipy_sparse = pytest.importorskip("scipy.sparse")


def write_csr(path, X, y):
    """Rows ``X`` (dense) as a CSR group X, with labels y."""
    return write_matrix(path, scipy_sparse.csr_matrix(np.asarray(X, dtype=np.float32)), y)


@pytest.fixture(scope="module")
def counts(tmp_path_factory):
    """Poisson(2) counts of 20 columns (87% nonzero) and a noisy linear target, as CSR and as its dense copy."""
    d = tmp_path_factory.mktemp("counts")
    rng = np.random.default_rng(0)
    X = rng.poisson(2.0, size=(4000, 20)).astype(np.float32)
    y = X @ rng.standard_normal(20) + 0.5 + 0.3 * rng.standard_normal(4000)
    return write_csr(d / "counts.h5", X, y), write_table(d / "dense.h5", X, y), X.astype(np.float64), y


def objective(model, X, y):
    """A linear model's mean squared error / 2 on rows ``X``, from its weights in raw units."""
    center = np.zeros(X.shape[1]) if model.center is None else model.center
    w = model.weights[0] / (1.0 if model.scale is None else model.scale)
    return 0.5 * np.mean(((X - center) @ w + model.bias[0] - y) ** 2)


def test_counts_train_to_near_the_optimum_at_the_defaults(counts):
    """Least squares computed here: the defaults end within 5% of its loss (the same rows, unstandardized and
    measured as sparse rows, as every sparse file was before, ended 71% above it: 0.0774 against 0.0454)."""
    path, _, X, y = counts
    A = np.column_stack([X, np.ones(len(y))])
    best = 0.5 * np.mean((A @ np.linalg.lstsq(A, y, rcond=None)[0] - y) ** 2)
    m = train(path, TrainOptions(model="linear"))
    assert m.options["standardize"] is True and m.options["optimizer"] == "nesterov"
    np.testing.assert_allclose(m.center, X.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(m.scale, X.std(axis=0), rtol=1e-9)
    assert objective(m, X, y) < 1.05 * best


@pytest.fixture(params=["densified", "centring kernel"])
def path_taken(request, monkeypatch):
    """Which kernels train the counts (87% nonzero): the dense ones, a piece of rows at a time made dense, as
    for every centred file with a tenth of its columns nonzero (kernels/densified.py), or the O(nonzeros) kernel
    that centres them, as for sparser ones (kernels/centring.py); the calls of the dense ones counted."""
    from sgdcli.engine import csr
    from sgdcli.training import autooptimizer

    if request.param == "centring kernel":
        monkeypatch.setattr(autooptimizer, "DENSIFIED_SHARE", np.inf)
    calls, dense = [], csr.train_block_csr
    monkeypatch.setattr(csr, "train_block_csr", lambda *a, **k: calls.append(len(a[3])) or dense(*a, **k))
    return request.param, calls


@short_fits
@pytest.mark.parametrize("extra", [
    {},
    {"optimizer": "sgd", "l2": 1e-3},  # the lazy step, on every column the centring touches
    {"optimizer": "sgd", "l1": 0.5},  # the proximal step, as on the dense copy: a weight at exactly zero
    {"optimizer": "adagrad", "batch_size": 7},
    {"optimizer": "adam", "average": True, "model": "logistic"},
    {"model": "softmax", "batch_size": None, "lr": 0.5},
    {"model": "logistic", "class_weight": "balanced", "optimizer": "momentum"},  # weighted means and deviations
    {"optimizer": "sgd", "batch_size": 1},  # the dense kernels' in-place path
    {"parallel": "average", "threads": 2, "sync_every": 7, "batch_size": 8},
    {"batch_size": 48, "drop_last": True},  # each epoch's last 16 rows in neither its steps nor its loss
])
def test_centred_csr_rows_train_like_their_dense_copy(counts, tmp_path, extra, path_taken):
    """The same options give the same model to rounding, and the same predictions of either file, whichever
    kernels train the rows."""
    path, dense, X, y = counts
    taken, calls = path_taken
    if extra.get("model") in ("logistic", "softmax"):
        labels = (y > np.quantile(y, 0.7)).astype(np.int64) + (y > np.quantile(y, 0.9) if extra["model"] == "softmax"
                                                                else 0)
        path, dense = write_csr(tmp_path / "c.h5", X, labels), write_table(tmp_path / "d.h5", X, labels)
    options = {"model": "linear", "optimizer": "nesterov", "lr": 0.01, "shuffle": False, "epochs": 2,
               "standardize": True, **extra}
    a, b = train(path, TrainOptions(**options)), train(dense, TrainOptions(**options))
    assert sum(calls) == (2 * 4000 if taken == "densified" else 0), calls  # every row of both epochs, once
    np.testing.assert_allclose(a.center, b.center, rtol=1e-12)
    if "l1" in extra:
        assert 0 < (a.weights == 0).sum() == (b.weights == 0).sum() < a.weights.size
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(a.bias, b.bias, rtol=1e-8, atol=1e-12)
    a.save(tmp_path / "m.h5")
    for i, data in enumerate((path, dense)):
        assert cli("predict", tmp_path / "m.h5", data, "-o", tmp_path / f"p{i}.csv", "-q")[0] == 0
    p, q = (np.loadtxt(tmp_path / f"p{i}.csv", delimiter=",", skiprows=1) for i in range(2))
    np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("model,extra", [("linear", []), ("softmax", ["--lr", "0.001"]),
                                         ("logistic", ["--batch-size", "full", "--lr", "0.01"])])
def test_the_rate_and_the_fit_checks_measure_the_rows_as_dense_ones(counts, tmp_path, model, extra):
    """The sample's rows made dense: the same log as the dense copy's, but for the lines that name the file, how it
    is read, and why --optimizer auto chose nesterov (which the dense copy does not say), and the time: the same
    --lr auto, the same fit of the sample a linear run starts at, the same far-fit warning (no fit check measured a
    sparse run before), and the same model."""
    path, dense, X, y = counts
    if model != "linear":
        labels = np.digitize(y, np.quantile(y, [0.3, 0.7] if model == "softmax" else [0.5]))
        path, dense = write_csr(tmp_path / "c.h5", X, labels), write_table(tmp_path / "d.h5", X, labels)
    logs = []
    for i, data in enumerate((path, dense)):
        code, _, err = cli("train", data, "-o", tmp_path / f"m{i}.h5", "--model", model, "--epochs", "1",
                           "--progress", "plain", *extra)
        assert code == 0, err
        logs.append([line[20:] for line in err.splitlines() if os.path.basename(data) not in line
                     and "--optimizer auto" not in line and not line[20:].startswith(("epoch 1/1", "compiled"))])
    assert logs[0] == logs[1]
    said = "\n".join(logs[0])
    assert {"linear": "starting at the fit of the run's sample of 4,000 rows (least squares)",
            "softmax": "the model may be far from the optimum",
            "logistic": "starting at the fit of the run's sample of 4,000 rows (Newton's method)"}[model] in said, said
    a, b = load_model(tmp_path / "m0.h5"), load_model(tmp_path / "m1.h5")
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-8, atol=1e-12)


def test_which_sparse_rows_are_centred_and_what_the_log_says(counts, tmp_path):
    """Centred where the columns are at most COLUMNS_PER_NONZERO times a default batch's nonzeros, whatever
    --batch-size; --no-standardize leaves them as stored; wider rows are scaled, not centred, when asked."""
    path = counts[0]
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "linear", "--epochs", "1",
                       "--batch-size", "1")
    assert code == 0 and ("computing feature means and deviations of " + str(path) + " (one pass; its sparse rows, "
                          "dense enough, are centred as dense rows are, and the dense kernels train them, a piece of "
                          "rows at a time made dense)") in err and "each step updates" not in err, err
    assert load_model(tmp_path / "m.h5").center.any()
    rng = np.random.default_rng(1)
    some = (rng.random((500, 1000)) < 0.01) * 1.0  # 1,000 columns against a default batch's 4 × 10 × 32
    code, _, err = cli("train", write_csr(tmp_path / "s.h5", some, rng.standard_normal(500)), "-o",
                       tmp_path / "s.m.h5", "--model", "linear", "--epochs", "1", "--batch-size", "1")
    assert code == 0 and ("--standardize (centring the rows): each step updates all 1,000 weights of the sparse "
                          "input, against about 10 nonzeros a batch; only a batch's columns with --optimizer sgd, "
                          "adagrad and rmsprop without --l1 and --l2, momentum and nesterov without --l1, and no "
                          "--average or centring (docs/sparse.md)") in err, err
    assert "dense enough, are centred as dense rows are)" in err, err  # (1% nonzero: the O(nonzeros) kernel)
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", "linear", "--epochs", "1",
                       "--no-standardize")
    assert code == 0 and "computing feature" not in err and load_model(tmp_path / "m.h5").center is None
    wide = (rng.random((500, 3000)) < 0.001) * 1.0  # 3,000 columns against 4 × 3 × 32 = 384
    code, _, err = cli("train", write_csr(tmp_path / "w.h5", wide, rng.standard_normal(500)), "-o",
                       tmp_path / "w.h5m", "--model", "linear", "--epochs", "1", "--standardize")
    assert code == 0 and ("computing feature deviations of " in err and "(one pass; sparse rows this wide are "
                          "scaled, not centered, which would make every step's cost their columns')") in err, err
    assert not load_model(tmp_path / "w.h5m").center.any()
    code, _, err = cli("train", tmp_path / "w.h5", "-o", tmp_path / "w.h5m", "--model", "linear", "--epochs", "1")
    assert code == 0 and (f"{tmp_path / 'w.h5'}: sparse rows too wide to centre (3,000 columns, about 3 nonzeros a "
                          "row): trained as stored, not standardized; --standardize scales them (docs/sparse.md)"
                          ) in err and "computing feature" not in err, err
    assert load_model(tmp_path / "w.h5m").center is None


def test_a_warm_start_keeps_the_centring_and_its_optimizer(counts, tmp_path):
    """--init keeps the initial model's standardization, centring included, and --init-optimizer carries its
    state on: it was refused for every sparse file (its rows were never centred)."""
    path = counts[0]
    assert cli("train", path, "-o", tmp_path / "a.h5", "--model", "linear", "--epochs", "1", "-q")[0] == 0
    code, out, err = cli("train", path, "-o", tmp_path / "b.h5", "--model", "linear", "--epochs", "1", "-q",
                         "--init", tmp_path / "a.h5", "--init-optimizer")
    assert (code, err) == (0, "")
    a, b = (load_model(tmp_path / name, optimizer=True) for name in ("a.h5", "b.h5"))
    assert a.center.any()
    np.testing.assert_array_equal(a.center, b.center)
    assert b.optimizer["updates"] == 2 * a.optimizer["updates"] > 0


def test_constant_columns_are_left_out_as_on_dense_rows(tmp_path):
    """A column of one value in every row (an id, a date of 1e12) and one with no entry: σ 0, so the model
    leaves them out (scale 0, as RunningMoments gives dense rows); at σ 1 around a mean of 1e12, the centred
    column's gradient was the rounding of Σg·x − μ·Σg, and its weight grew on it."""
    rng = np.random.default_rng(2)
    X = rng.poisson(2.0, size=(3000, 6)).astype(np.float64)
    X[:, 4], X[:, 5] = 1e12, 0.0
    y = X[:, :4] @ rng.standard_normal(4) + 0.1 * rng.standard_normal(3000)
    a = train(write_csr(tmp_path / "c.h5", X, y), TrainOptions(model="linear", optimizer="adam", epochs=2))
    b = train(write_table(tmp_path / "d.h5", X.astype(np.float32), y), TrainOptions(model="linear",
                                                                                   optimizer="adam", epochs=2))
    np.testing.assert_array_equal(a.scale[4:], [0.0, 0.0])
    np.testing.assert_array_equal(a.scale[4:], b.scale[4:])
    assert (a.weights[0, 4:] == 0).all()


def test_rows_past_the_widest_stay_sparse(tmp_path, monkeypatch):
    """Past DENSE_ENOUGH_WIDEST columns a sample made dense would hold a few dozen rows: the rows are not
    centred, whatever their nonzeros."""
    from sgdcli.data.table import Table
    from sgdcli.training import autooptimizer

    path = write_csr(tmp_path / "c.h5", np.random.default_rng(0).poisson(2.0, (200, 40)), np.zeros(200))
    with Table(path) as table:
        assert autooptimizer.dense_enough(table)
        monkeypatch.setattr(autooptimizer, "DENSE_ENOUGH_WIDEST", 39)
        assert not autooptimizer.dense_enough(table)


@short_fits
def test_which_centred_rows_the_dense_kernels_train(counts, tmp_path, monkeypatch):
    """A tenth of the columns nonzero or more (DENSIFIED_SHARE), and centred: the dense kernels, a piece of rows
    at a time made dense (KernelConfig.sparse false); fewer, or rows trained as stored (--no-standardize): the
    O(nonzeros) kernel."""
    from sgdcli.training import autooptimizer, runrate

    sparse, config = [], runrate.kernel_config
    monkeypatch.setattr(runrate, "kernel_config", lambda *a, **k: sparse.append(k["sparse"]) or config(*a, **k))
    rng = np.random.default_rng(3)
    assert autooptimizer.DENSIFIED_SHARE == 0.1
    for nonzeros, want in ((2, False), (1, True)):  # of 20 columns in every row
        X = np.zeros((400, 20))
        for row in X:
            row[rng.choice(20, nonzeros, replace=False)] = rng.integers(1, 4, nonzeros)
        train(write_csr(tmp_path / f"{nonzeros}.h5", X, rng.standard_normal(400)), TrainOptions(model="linear",
                                                                                                epochs=1))
        assert sparse[-1] is want, nonzeros
    train(counts[0], TrainOptions(model="linear", epochs=1, standardize=False))
    assert sparse[-1] is True


def test_the_dense_kernels_on_csr_rows_resume_mid_batch_to_the_uninterrupted_runs_bytes(counts, tmp_path,
                                                                                       monkeypatch):
    """Checkpoints at the ends of windows of 500 rows, inside batches of 48: the gradient of the batch so far is
    the dense kernels' (of the raw columns, where the centring kernel's was of scaled ones: checkpoint format
    20); the same bytes twice."""
    from sgdcli.engine import csr, epoch

    monkeypatch.setattr(epoch, "SLICE_ROWS", 500)
    trained, dense = [], csr.train_block_csr
    monkeypatch.setattr(csr, "train_block_csr", lambda *a, **k: trained.append(len(a[3])) or dense(*a, **k))
    options, path = TrainOptions(model="linear", epochs=2, threads=2, batch_size=48), counts[0]
    straight = train(path, options)
    assert sum(trained) == 2 * 4000  # the dense kernels trained every row of both epochs
    assert train(path, options).weights.tobytes() == straight.weights.tobytes()
    for stop_at in (3, 11):  # in the first epoch, and in the second
        resumed = resumed_after(path, options, tmp_path / f"ck{stop_at}.h5", stop_at)
        assert resumed.weights.tobytes() == straight.weights.tobytes(), stop_at
        assert resumed.bias.tobytes() == straight.bias.tobytes(), stop_at


def test_a_non_finite_value_is_named_by_its_row_and_column_and_skipped_on_request(counts, tmp_path):
    """Rows the dense kernels train: the error names the file's row and column, and --bad-rows skip trains on
    the other rows as on the dense copy."""
    _, _, X, y = counts
    X = X.copy()
    X[77, 3] = np.nan
    path = write_csr(tmp_path / "c.h5", X, y)
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "-q", "--model", "linear")
    assert (code, err.strip().splitlines()[-1]) == (2, f"sgdcli: error: {path}:X: non-finite feature value at row "
                                                       "77, column 3"), err
    assert not (tmp_path / "m.h5").exists()
    options = TrainOptions(model="linear", bad_rows="skip", shuffle=False, lr=0.01, epochs=2, optimizer="nesterov")
    a = train(path, options)
    b = train(write_table(tmp_path / "d.h5", X.astype(np.float32), y), options)
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-8, atol=1e-12)


def test_info_says_how_the_defaults_train_sparse_rows(counts, tmp_path):
    """Centred and by the dense kernels (87% nonzero), centred by the O(nonzeros) kernel (1% of 1,000 columns),
    or as stored (too wide), as train decides it (training/autooptimizer.py), in words and in --json."""
    import json

    rng = np.random.default_rng(1)
    some = write_csr(tmp_path / "s.h5", (rng.random((500, 1000)) < 0.01) * 1.0, rng.standard_normal(500))
    wide = write_csr(tmp_path / "w.h5", (rng.random((500, 3000)) < 0.001) * 1.0, rng.standard_normal(500))
    said = {
        counts[0]: ("by default standardized, its rows centred as dense rows are, and trained by the dense kernels, a "
                    "piece of rows at a time made dense (a tenth or more of its columns nonzero)", True, True),
        some: ("by default standardized, its rows centred as dense rows are (docs/sparse.md)", True, False),
        wide: ("by default trained as stored, not standardized: too wide to centre (docs/sparse.md)", False, False),
    }
    for path, (line, centred, dense) in said.items():
        code, out, _ = cli("info", path)
        assert code == 0 and f"\n  {line}\n" in out, out
        code, out, _ = cli("info", path, "--json")
        assert json.loads(out)["looks_like"]["sparse_training"] == {"centred": centred, "dense_kernels": dense}


@short_fits
@pytest.mark.parametrize("memory", [None, 2**20])  # one block, and many merged
def test_a_column_near_a_value_far_from_zero_keeps_its_deviation(tmp_path, memory):
    """10⁵ ± 1 in every row beside counts: the deviation of the values themselves, as the dense copy's moments
    give it (each block's from its own mean, merged by Chan et al.'s update), where E[x²] − E[x]² was off in its
    fourth digit."""
    rng = np.random.default_rng(4)
    X = rng.poisson(2.0, (3000, 6)).astype(np.float32)
    X[:, 5] = 1e5 + rng.integers(-128, 129, 3000) / 128  # exact in float32, whose spacing there is 1/128
    y = X[:, :5] @ rng.standard_normal(5) + 0.1 * rng.standard_normal(3000)
    options = TrainOptions(model="linear", epochs=1, **({} if memory is None else {"memory": memory}))
    a = train(write_csr(tmp_path / "c.h5", X, y), options)
    b = train(write_table(tmp_path / "d.h5", X, y), options)
    want = X.astype(np.float64).std(axis=0)
    np.testing.assert_allclose(a.scale, want, rtol=1e-12)
    np.testing.assert_allclose(b.scale, want, rtol=1e-12)
    np.testing.assert_allclose(a.center, X.astype(np.float64).mean(axis=0), rtol=1e-14)
