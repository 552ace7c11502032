"""Weighted runs draw each window's rows in proportion to their weights (engine/resample.py)."""

import h5py
import numpy as np
import pytest

from sgdcli import Reporter, train
from sgdcli.engine import resample
from sgdcli.options import TrainOptions

from conftest import short_fits, write_table


@pytest.fixture(scope="module")
def rarest(tmp_path_factory):
    """0.3% positives of a logistic model on 5 features, 10,000 rows, and the balanced weights as a dataset."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((10_000, 5))
    w = rng.standard_normal(5)
    score = X @ (6.0 * w / np.linalg.norm(w)) - 17.6  # 0.3% positives
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-score))).astype(np.int64)
    v = (len(y) / (2 * np.bincount(y)))[y]
    path = write_table(tmp_path_factory.mktemp("rarest") / "rarest.h5", X.astype(np.float32), y)
    with h5py.File(path, "a") as f:
        f["w"] = v
    return path, X.astype(np.float32).astype(np.float64), y, v


def weighted_loss(X, y, v, theta):
    s = X @ theta[:-1] + theta[-1]
    return float(np.sum(v * (np.logaddexp(0.0, s) - y * s)) / np.sum(v))


def newton_optimum(X, y, v):
    """The weighted mean log loss at its optimum: Newton's method with a backtracking line search."""
    Z = np.column_stack([X, np.ones(len(X))])
    theta = np.zeros(Z.shape[1])
    value = weighted_loss(X, y, v, theta)
    for _ in range(100):
        p = 1 / (1 + np.exp(-(Z @ theta)))
        g = Z.T @ (v * (p - y)) / v.sum()
        step = -np.linalg.solve((Z * (v * p * (1 - p))[:, None]).T @ Z / v.sum(), g)
        if -(g @ step) < 1e-15:
            break
        t = 1.0
        while weighted_loss(X, y, v, theta + t * step) > value + 1e-4 * t * (g @ step) and t > 1e-10:
            t /= 2
        theta = theta + t * step
        value = weighted_loss(X, y, v, theta)
    return value


@pytest.mark.parametrize("weights", [{"class_weight": "balanced"}, {"sample_weight": "w"}])
def test_rare_positives_weighed_up_end_near_the_optimum_of_the_weighted_objective(rarest, weights):
    # Each positive weighs about 170 times a negative.  Stepping on each row once at that weight, the defaults
    # ended 82% above the optimum.
    path, X, y, v = rarest
    assert 20 <= y.sum() <= 40
    best = newton_optimum(X, y, v)
    model = train(path, TrainOptions(threads=1, **weights))
    assert weighted_loss(X, y, v, model.raw_weights()[0]) <= 1.1 * best


@short_fits  # one short epoch: the rate's trace is the subject
def test_auto_rates_noise_term_counts_each_draw_at_the_mean_weight(rarest, tmp_path):
    # Standardized with the rows' weights, every feature's weighted mean square is 1: a draw, which picks rows
    # as often as they weigh, has a mean squared norm of the features and the bias's 1.  (Counted at each row's
    # own weight, it was the mean of v²·‖z‖², over a hundred times that.)  On rows few enough that the rate's
    # sample is every row, that is exact.
    _, X, y, _ = rarest
    path = write_table(tmp_path / "few.h5", X[:2048].astype(np.float32), y[:2048])
    assert y[:2048].sum() > 0
    model = train(path, TrainOptions(class_weight="balanced", epochs=1, threads=1))
    assert model.training["lr_auto"]["trace"] == pytest.approx(X.shape[1] + 1, rel=1e-6)


def test_draws_are_systematic_in_proportion_to_the_weights():
    rng = np.random.default_rng(0)
    n = 1000
    y = (rng.random(n) < 0.1).astype(np.float64)
    w = rng.exponential(size=n) * (rng.random(n) < 0.8)  # a fifth weigh 0
    classes = np.array([0.5, 5.0])
    picks, sw = resample.draws(y, w, classes, (0, 1, 2, 0))
    v = w * classes[y.astype(int)]
    counts = np.bincount(picks, minlength=n)
    expected = n * v / v.sum()
    assert len(picks) == n and np.all(counts >= np.floor(expected)) and np.all(counts <= np.ceil(expected))
    assert not counts[v == 0].any()
    np.testing.assert_allclose(sw * classes[y[picks].astype(int)], v.mean(), rtol=1e-12)
    again, _ = resample.draws(y, w, classes, (0, 1, 2, 0))
    other, _ = resample.draws(y, w, classes, (0, 1, 3, 0))
    assert np.array_equal(picks, again) and not np.array_equal(picks, other)


def test_rows_of_equal_weight_or_none_are_not_drawn():
    y = np.zeros(10)
    assert resample.draws(y, np.full(10, 3.0), None, (0, 0, 0, 0)) is None
    assert resample.draws(y, None, np.array([2.0, 1.0]), (0, 0, 0, 0)) is None
    assert resample.draws(y, np.zeros(10), None, (0, 0, 0, 0)) is None


@pytest.mark.parametrize("extra", [{}, {"parallel": "average", "threads": 2}])
def test_weighted_runs_repeat_byte_for_byte(rarest, extra):
    path = rarest[0]
    options = TrainOptions(class_weight="balanced", epochs=2, **{"threads": 1, **extra})
    a, b = train(path, options), train(path, options)
    assert a.weights.tobytes() == b.weights.tobytes() and a.bias.tobytes() == b.bias.tobytes()


@short_fits  # a rate too small to move the model: the loss of one model is the subject
@pytest.mark.parametrize("extra", [{"batch_size": 32}, {"batch_size": 1}, {"batch_size": None},
                                   {"batch_size": 32, "parallel": "average", "threads": 2}])
def test_the_training_loss_of_drawn_rows_is_the_weighted_mean_over_the_rows(tmp_path, extra, no_fit_start):
    # Heavy rows have large residuals: the unweighted mean is 2.5 times smaller.  The draws' losses, each at the
    # window's mean weight, estimate the weighted mean without bias (exact for the full batch, which is not drawn,
    # and starts at 0 here as the others do, not at the fit of its sample, whose residuals are small).
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20_000, 4)).astype(np.float32)
    y = X @ np.array([1.0, 2.0, -1.0, 0.5]) + 3 * rng.standard_normal(len(X))
    v = np.where(np.abs(y) > 4, 20.0, 0.5) * rng.exponential(size=len(X))
    path = write_table(tmp_path / "reg.h5", X, y)
    with h5py.File(path, "a") as f:
        f["w"] = v
    model = train(path, TrainOptions(model="linear", sample_weight="w", lr=1e-9, schedule="constant", epochs=1,
                                     **{"threads": 1, **extra}))
    theta = model.raw_weights()[0]
    loss = 0.5 * (X.astype(np.float64) @ theta[:-1] + theta[-1] - y) ** 2
    weighted, plain = np.average(loss, weights=v), loss.mean()
    assert weighted > 2 * plain
    assert model.history[0]["train_loss"] == pytest.approx(weighted, rel=1e-6 if extra["batch_size"] is None else 0.01)


# the stops asked for before the stop (the set-up's, then at safe points: after each kernel call of 500 rows,
# thrice a round of averaged models) fall inside epoch 1 and inside epoch 2 (the test checks where)
@pytest.mark.parametrize("extra,stop_at,epoch_at", [
    ({"threads": 1}, 6, 0), ({"threads": 1}, 13, 1),
    ({"threads": 2, "parallel": "average", "sync_every": 5}, 20, 0),
    ({"threads": 2, "parallel": "average", "sync_every": 5}, 70, 1)])
def test_a_weighted_run_stopped_mid_epoch_and_resumed_ends_with_the_straight_runs_bytes(tmp_path, monkeypatch, extra,
                                                                                         stop_at, epoch_at):
    # The draws hold no state between windows: a resumed run recomputes the window's draws from (seed, epoch,
    # window, segment) and goes on from the row of them it stopped at.
    import signal

    from sgdcli import RunControl
    from sgdcli.engine import epoch
    from sgdcli.errors import Interrupted

    from conftest import make_problem

    X, y = make_problem("binary", n=3000, d=6, seed=1)
    path = write_table(tmp_path / "b.h5", X, y, chunks=512)
    with h5py.File(path, "a") as f:
        f["w"] = np.random.default_rng(4).exponential(size=len(y))
    monkeypatch.setattr(epoch, "SLICE_ROWS", 500)
    options = TrainOptions(epochs=2, batch_size=20, sample_weight="w", class_weight="0=1,1=3", **extra)
    straight = train(path, options)
    checkpoint, calls = str(tmp_path / "ck.h5"), []

    def stop():
        calls.append(1)
        return signal.SIGTERM if len(calls) == stop_at else None

    class Last(Reporter):
        def advance(self, epoch, iteration, rows, loss, lr, detail=""):
            self.at = (epoch, iteration)

    last = Last()
    with pytest.raises(Interrupted):
        train(path, options, reporter=last, control=RunControl(checkpoint=checkpoint, stop=stop))
    assert last.at[0] == epoch_at and 0 < last.at[1] < straight.history[0]["iterations"], last.at
    resumed = train(path, options, control=RunControl(checkpoint=checkpoint, resume=True))
    assert resumed.weights.tobytes() == straight.weights.tobytes()
    assert resumed.bias.tobytes() == straight.bias.tobytes()
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in straight.history]


@short_fits
def test_a_window_of_one_class_trains_through_the_kernel_compiled_for_the_draws(tmp_path, monkeypatch):
    # Rows sorted by label, in file order, in windows of --memory 1M: most windows hold one class, whose rows all
    # weigh the same and are not drawn.  Under --class-weight alone they reached the kernels without weights, a
    # kernel other than the one compiled before the first epoch (with the draws' weights): compiled mid-epoch.
    from sgdcli.engine import epoch

    from conftest import make_problem

    X, y = make_problem("binary", n=60_000, d=6, seed=1)
    order = np.argsort(y, kind="stable")
    path = write_table(tmp_path / "sorted.h5", X[order], y[order], chunks=256)
    weights, kernel = [], epoch.train_block

    def spy(cfg, X, y, rows, center, scale, state, scratch, sw=None):
        weights.append(sw is not None)
        return kernel(cfg, X, y, rows, center, scale, state, scratch, sw)

    monkeypatch.setattr(epoch, "train_block", spy)
    train(path, TrainOptions(epochs=1, class_weight="0=1,1=3", shuffle=False, memory=1 << 20, threads=1))
    assert len(weights) > 2 and all(weights)


def sparse_copy(dense_path, out):
    """The rows of ``dense_path`` as a CSR group (every value stored, NaN included), with its other datasets."""
    with h5py.File(dense_path, "r") as f:
        X, others = f["X"][()], {name: f[name][()] for name in f if name != "X"}
    with h5py.File(out, "w") as f:
        g = f.create_group("X")
        g["data"], g["indices"] = X.reshape(-1), np.tile(np.arange(X.shape[1]), len(X))
        g["indptr"] = np.arange(len(X) + 1) * X.shape[1]
        g.attrs["shape"] = X.shape
        for name, values in others.items():
            f[name] = values
    return str(out)


@pytest.mark.parametrize("layout", ["dense", "sparse"])
@pytest.mark.parametrize("args", [["--sample-weight", "w"], ["--sample-weight", "light"],
                                  ["--class-weight", "0=1,1=1e-9"],
                                  ["--sample-weight", "w", "--parallel", "average", "--threads", "2"],
                                  ["--sample-weight", "w", "--batch-size", "1"]])
def test_a_bad_row_that_no_draw_visits_stops_the_run_under_bad_rows_error(tmp_path, layout, args):
    # Row 100 has a NaN feature and weighs 0 (or a millionth of the mean, or its class a billionth; a class of
    # weight 0 is refused, as a classifier of one class): drawn by weight,
    # it was never visited, and the run trained on without a word (exit 0), where unweighted runs, full batches
    # and weights of one stop at it.  Without standardization, which reads every row first.
    from conftest import cli, make_problem

    X, y = make_problem("binary", n=3000, d=4, seed=1)
    X[100, 2] = np.nan
    y[100] = 1
    w = np.random.default_rng(0).exponential(size=len(y))
    light = w.copy()
    w[100], light[100] = 0.0, 1e-6
    path = write_table(tmp_path / "d.h5", X, y)
    with h5py.File(path, "a") as f:
        f["w"], f["light"] = w, light
    if layout == "sparse":
        path = sparse_copy(path, tmp_path / "s.h5")
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--no-standardize", "--epochs", "2", "-q", *args)
    where = path if "--parallel" not in args else str(tmp_path / ("s.h5" if layout == "sparse" else "d.h5"))
    assert (code, err.splitlines()[-1]) == (2, f"sgdcli: error: {where}:X: non-finite feature value at row 100, column 2")
    assert not (tmp_path / "m.h5").exists()
