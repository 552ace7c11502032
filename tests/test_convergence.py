"""Training reaches optima computed independently in the test."""

import re
from dataclasses import replace

import h5py
import numpy as np
import pytest

from sgdcli import evaluate, load_model, train
from sgdcli.options import TrainOptions
from sgdcli.training.fitwarnings import FitWarning

from conftest import make_problem, run, short_fits, write_table


def weights_in_data_units(model):
    """Undo standardization: the weights and bias that act on raw features."""
    w, b = model.weights, model.bias
    if model.center is None:
        return w, b
    w_raw = w / model.scale
    return w_raw, b - w_raw @ model.center


def logistic_objective(w, b, X, y, l2):
    s = X @ w + b
    return float(np.mean(np.logaddexp(0, s) - y * s) + 0.5 * l2 * w @ w)


def newton_logistic(X, y, l2, iters=50):
    n, d = X.shape
    A = np.column_stack([X, np.ones(n)])
    theta = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(A @ theta)))
        grad = A.T @ (p - y) / n + reg * theta
        H = (A * (p * (1 - p))[:, None]).T @ A / n + np.diag(reg)
        theta -= np.linalg.solve(H, grad)
    return theta[:-1], theta[-1]


def test_linear_full_batch_reaches_least_squares(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 5)).astype(np.float32) * [1, 2, 0.5, 1, 3] + [0, 1, -1, 2, 0]
    X = X.astype(np.float32)
    y = X @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) + 4.0 + rng.standard_normal(2000)
    path = write_table(tmp_path / "r.h5", X, y, chunks=300)
    model = train(path, TrainOptions(model="linear", batch_size=None, lr=0.5, epochs=300, standardize=True, memory=2**20))
    w, b = weights_in_data_units(model)
    A = np.column_stack([X.astype(np.float64), np.ones(len(y))])
    exact = np.linalg.lstsq(A, y, rcond=None)[0]
    np.testing.assert_allclose(w[0], exact[:-1], rtol=1e-6, atol=1e-6)
    assert b[0] == pytest.approx(exact[-1], abs=1e-6)
    assert model.training["iterations_per_epoch"] == 1


def test_linear_minibatch_with_averaging_approaches_least_squares(tmp_path):
    X, y = make_problem("regression", n=4000, d=5, seed=4)
    path = write_table(tmp_path / "r.h5", X, y)
    model = train(path, TrainOptions(model="linear", batch_size=16, lr=0.05, epochs=10, average=True))
    A = np.column_stack([X.astype(np.float64), np.ones(len(y))])
    exact = np.linalg.lstsq(A, y, rcond=None)[0]
    np.testing.assert_allclose(model.weights[0], exact[:-1], atol=0.01)


@pytest.mark.parametrize("seed", [0, 1])
def test_averaging_at_a_constant_rate_leaves_out_the_first_iterates(tmp_path, seed):
    """--average at a constant rate removes the noise of the last iterate (about 3% above least squares here):
    its mean of every iterate kept the far-off first ones and ended 0.57% and 0.64% above; the mean of the
    last half of the updates ends within 0.1%."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((2000, 10))
    y = 5 + X @ rng.standard_normal(10) + rng.standard_normal(2000)
    path = write_table(tmp_path / "r.h5", X.astype(np.float32), y)
    A = np.column_stack([X.astype(np.float32).astype(np.float64), np.ones(len(y))])
    best = np.mean(0.5 * (A @ np.linalg.lstsq(A, y, rcond=None)[0] - y) ** 2)
    gaps = []
    for average in (False, True):
        model = train(path, TrainOptions(model="linear", schedule="constant", epochs=2, seed=1, val_fraction=0.0,
                                         average=average))
        W = model.raw_weights()
        gaps.append(np.mean(0.5 * (A @ W[0] - y) ** 2) / best - 1)
    assert gaps[0] > 0.01 and 0 <= gaps[1] < 0.001, gaps


@pytest.mark.parametrize("optimizer,lr,schedule", [("sgd", 0.5, "invscaling"), ("adam", 0.005, "constant"),
                                                  ("momentum", 0.05, "invscaling")])
def test_logistic_reaches_newton_optimum(tmp_path, optimizer, lr, schedule):
    X, y = make_problem("binary", n=3000, d=6, seed=5)
    path = write_table(tmp_path / "b.h5", X, y, chunks=256)
    l2 = 0.01
    model = train(path, TrainOptions(model="logistic", l2=l2, batch_size=64, lr=lr, optimizer=optimizer,
                                     epochs=30, schedule=schedule, power_t=0.5, average=True))
    X64 = X.astype(np.float64)
    w_opt, b_opt = newton_logistic(X64, y, l2)
    best = logistic_objective(w_opt, b_opt, X64, y, l2)
    got = logistic_objective(model.weights[0], model.bias[0], X64, y, l2)
    assert best <= got <= best * 1.01


def test_softmax_separable_data_reaches_high_accuracy(tmp_path):
    X, y = make_problem("multiclass", n=3000, d=5, k=4, seed=6, noise=0.0)
    path = write_table(tmp_path / "m.h5", X, y)
    # (at this rate given, a fourth of --lr auto's, the loss of these separable rows is still far above its
    # optimum's, and the run is told so: far from the optimum, but far past 97% right)
    with pytest.warns(FitWarning, match="may be far from the optimum"):
        model = train(path, TrainOptions(model="softmax", batch_size=32, lr=0.5, epochs=20))
    assert list(model.classes) == [0, 1, 2, 3]
    assert evaluate(model, path)["accuracy"] > 0.97


def test_hinge_separates_separable_data(tmp_path):
    X, y = make_problem("binary", n=3000, d=5, seed=7, noise=0.0)
    y = np.where(y == 1, 7, 3)  # any two labels
    path = write_table(tmp_path / "h.h5", X, y)
    with pytest.warns(FitWarning, match="may be far from the optimum"):  # (its objective: not its accuracy)
        model = train(path, TrainOptions(model="hinge", batch_size=32, lr=0.05, epochs=10, l2=1e-4))
    assert list(model.classes) == [3, 7]
    assert evaluate(model, path)["accuracy"] > 0.97


@pytest.mark.parametrize("task,model,d", [("binary", "logistic", 20), ("binary", "logistic", 200), ("regression", "linear", 20),
                                          ("regression", "linear", 200), ("multiclass", "softmax", 50), ("binary", "hinge", 50)])
def test_defaults_converge_on_standardized_data(tmp_path, task, model, d):
    from sgdcli import generate

    path = tmp_path / "d.h5"
    generate(path, task=task, rows=5000, features=d, classes=3, noise=0.1, seed=11)
    m = train(path, TrainOptions(model=model, standardize=True))
    losses = [h["train_loss"] for h in m.history]
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0]
    result = evaluate(m, path)
    if task == "regression":
        assert result["r2"] > 0.95
    else:
        assert result["accuracy"] > 0.85


@short_fits
def test_lr_scaling_is_applied_and_stored(tmp_path, binary_file):
    m = train(binary_file, TrainOptions(batch_size=256, lr=0.01, lr_scaling="linear", base_batch_size=32, epochs=1,
                                        schedule="constant"))
    assert m.training["lr"] == pytest.approx(0.08)
    assert m.history[0]["lr"] == pytest.approx(0.08)
    m = train(binary_file, TrainOptions(batch_size=128, lr=0.01, lr_scaling="sqrt", base_batch_size=32, epochs=1))
    assert m.training["lr"] == pytest.approx(0.02)


@pytest.mark.parametrize("chunks,compression,dtype", [(None, None, "<f4"), (500, None, "<f4"), (500, "gzip", "<f4"),
                                                  (None, None, ">f4")])
def test_a_file_sorted_by_label_trains_as_well_as_the_same_rows_in_random_order(tmp_path, chunks, compression, dtype):
    """The page shuffle mixes the whole file every epoch; in file order the model follows the last class seen.

    Several windows (--memory 1M holds about 10,000 of the 40,000 rows), in
    place (contiguous, chunks mapped), decoded (gzip, mixed by whole chunks),
    and mapped but converted as read (big-endian: each window was one run of
    the file, one class).
    """
    X, y = make_problem("binary", n=44000, d=10, seed=8)
    Xt, yt, X, y = X[40000:], y[40000:], X[:40000], y[:40000]
    by_label = np.argsort(y, kind="stable")
    layout = {"chunks": chunks, "compression": compression} if chunks else {}
    shuffled = write_table(tmp_path / "random.h5", X, y)
    ordered = write_table(tmp_path / "sorted.h5", X[by_label].astype(dtype), y[by_label], **layout)
    test = write_table(tmp_path / "test.h5", Xt, yt)
    for batch, epochs in ((256, 1), (32, 3)):
        opts = TrainOptions(model="logistic", lr=0.5, batch_size=batch, epochs=epochs, memory=2**20)
        base = evaluate(train(shuffled, opts), test)["log_loss"]
        assert evaluate(train(ordered, opts), test)["log_loss"] <= 1.03 * base
        assert evaluate(train(ordered, replace(opts, shuffle=False)), test)["log_loss"] > 1.5 * base


def test_the_few_places_warning_names_the_memory_that_holds_the_labels_whole(tmp_path):
    """Labels in tall gzip chunks beside a contiguous X set the runs where --memory cannot spare them: the figure
    named is that of a run there, which holds them whole and reads X in runs of its own (it named the --memory
    whose windows held 16 of the labels' chunks, several times as much)."""
    rng = np.random.default_rng(0)
    with h5py.File(tmp_path / "t.h5", "w") as f:
        f["X"] = rng.standard_normal((262_144, 4)).astype(np.float32)
        f.create_dataset("y", data=(rng.random(262_144) > 0.5) * 1.0, chunks=(16_384,), compression="gzip")
    args = ["train", tmp_path / "t.h5", "-o", tmp_path / "m.h5", "--epochs", "1", "-q"]
    named = re.search(r"raise --memory \(to (\d+M) for (\d+) runs\)", run(*args, "--memory", "4M").stderr)
    assert named and int(named[2]) >= 16, named
    assert run(*args, "--memory", named[1]).stderr == ""
    assert "raise --memory" in run(*args, "--memory", f"{int(named[1][:-1]) - 1}M").stderr


def test_the_few_places_warning_names_no_figure_where_no_plan_holds_the_runs():
    """The search for the --memory to name ends, with none, where the plan is refused at every figure."""
    from types import SimpleNamespace

    from sgdcli.errors import InputError
    from sgdcli.training import runlog

    class Refused:
        def page_shuffle_at(self, *args):
            raise InputError("refused")

    run_ = SimpleNamespace(pages=SimpleNamespace(page_rows=2, seed=0), executor=object(), table=Refused(),
                           opts=SimpleNamespace(memory=2 << 20))
    assert runlog._memory_for_places(run_, 16) is None


def test_windows_of_few_places_of_the_file_are_warned(tmp_path):
    """gzip chunks are read whole: at a small --memory a window holds one chunk or two, and a file stored in an
    order trains worse than shuffled (the table in docs/out-of-core.md).  The run says so, with what would mix
    it; not where the window holds the whole file, or smaller chunks, or with --no-shuffle."""
    X, y = make_problem("binary", n=40000, d=10, seed=8)
    large = write_table(tmp_path / "large.h5", X, y, chunks=8192, compression="gzip")
    small = write_table(tmp_path / "small.h5", X, y, chunks=512, compression="gzip")
    args = ["-o", tmp_path / "m.h5", "--epochs", "1", "-q"]
    few = run("train", large, *args, "--memory", "2M")
    assert few.returncode == 0
    assert few.stderr == (f"sgdcli: warning: {large}:X: --memory 2M holds 1 run of 8,192 rows at a time (whole "
                          "chunks), so each stretch of training draws on few places of the file: rows stored in an "
                          "order (sorted by label or by time) train worse than shuffled ones; raise --memory (to 10M "
                          "for the whole file in one window) or store smaller chunks, unless the rows are in random "
                          "order already\n")
    assert load_model(tmp_path / "m.h5").training["warnings"] == [few.stderr[len("sgdcli: warning: "):-1]]
    # the --memory named is the least whose windows hold 16 runs, or, where the file has too few for windows cut
    # equal to, the whole file (5 runs: 16 was never reached)
    assert "(to 10M for the whole file in one window)" in run("train", large, *args, "--memory", "9M").stderr
    middle = write_table(tmp_path / "middle.h5", X, y, chunks=1024, compression="gzip")
    assert "holds 4 runs of 1,024 rows at a time (whole chunks), so each stretch of training draws on few places of " \
           "the file: rows stored in an order (sorted by label or by time) train worse than shuffled ones; raise " \
           "--memory (to 5M for 20 runs)" in run("train", middle, *args, "--memory", "1M").stderr
    windows = {m: re.search(r"windows of (\d+) random runs", run("train", middle, *args[:-1], "-v", "--memory",
                                                                   m).stderr)[1] for m in ("4M", "5M")}
    assert windows == {"4M": "14", "5M": "20"}
    for quiet in ([large, "--memory", "2M", "--no-shuffle"], [large, "--memory", "256M"],
                  [large, "--memory", "10M"], [small, "--memory", "1M"]):
        ran = run("train", *quiet, *args)
        assert (ran.returncode, ran.stderr) == (0, "")
    # the labels' chunks make the runs, X contiguous: the warning names y, where it named X; not where a quarter
    # of --memory holds the labels whole (data/held.py), which then make no runs of their own
    X, y = make_problem("binary", n=100_000, d=10, seed=8)
    tall = write_table(tmp_path / "tall.h5", X, y, chunks=8192, compression="gzip")
    with h5py.File(tall, "a") as f:
        del f["X"]
        f["X"] = X
    ran = run("train", tall, *args, "--memory", "3M")  # (800,000 bytes of labels: more than 3M / 4)
    assert ran.returncode == 0 and ran.stderr.startswith(f"sgdcli: warning: {tall}:y: --memory 3M holds 1 run of "
                                                         "8,192 rows at a time (whole chunks)"), ran.stderr
    assert run("train", tall, *args, "--memory", "4M").stderr == ""


@pytest.mark.parametrize("model,options", [("logistic", {}), ("logistic", {"optimizer": "sgd", "batch_size": 1}),
                                           ("logistic", {"schedule": "constant"}), ("linear", {"optimizer": "sgd"}),
                                           ("softmax", {"optimizer": "momentum"})])
def test_a_large_l2_leaves_the_bias_free_to_reach_the_optimum(tmp_path, model, options):
    """Under --l2 1e4 the weights stay near 0 and the optimum is mostly its bias: the labels' log-odds on 3%
    positives (logistic), their mean of 3 (linear), the classes' log shares (softmax).  --lr auto's rate, about
    1 / l2, is the weights'; the bias, which the penalty leaves alone, steps at the rate without it.  (At 1 / l2
    the bias hardly left 0: logistic's objective ended at 0.52 to 0.63 against the optimum's 0.147, linear's
    at 4.86 against 0.67, softmax's 1.2% above.)  The optimum: Newton's method on the features as the model
    sees them."""
    l2 = 1e4
    task = {"logistic": "binary", "linear": "regression", "softmax": "multiclass"}[model]
    X, y = make_problem(task, n=4000, d=5, seed=7)
    if model == "logistic":
        rng = np.random.default_rng(7)
        y = (rng.random(4000) < 1 / (1 + np.exp(-(X @ rng.standard_normal(5) - 5.5)))).astype(np.int64)
    elif model == "linear":
        y = y + 2.5
    path = write_table(tmp_path / "d.h5", X, y)
    fitted = train(path, TrainOptions(model=model, l2=l2, epochs=5, seed=0, **options))
    Z = np.column_stack([(X.astype(np.float64) - fitted.center) / fitted.scale, np.ones(len(X))])
    k = 3 if model == "softmax" else 1
    Y = np.eye(3)[y] if model == "softmax" else y[:, None].astype(np.float64)

    def objective(W):
        S = Z @ W.T
        if model == "logistic":
            loss = np.mean(np.logaddexp(0, S[:, 0]) - Y[:, 0] * S[:, 0])
        elif model == "linear":
            loss = np.mean(0.5 * (S[:, 0] - Y[:, 0]) ** 2)
        else:
            loss = np.mean(np.log(np.exp(S).sum(axis=1)) - (S * Y).sum(axis=1))
        return float(loss + 0.5 * l2 * np.sum(W[:, :-1] ** 2))

    W = np.zeros((k, Z.shape[1]))
    penalty = np.tile(np.append(np.full(Z.shape[1] - 1, l2), 1e-9), k)  # softmax's biases: defined up to a shift
    for _ in range(50):  # Newton's method: the objective is smooth and, with the ridge, strongly convex
        S = Z @ W.T
        P = (1 / (1 + np.exp(-S)) if model == "logistic" else S if model == "linear"
             else np.exp(S) / np.exp(S).sum(axis=1, keepdims=True))
        G = P - Y
        if model == "softmax":
            H = np.einsum("na,ab,ni,nj->aibj", P, np.eye(k), Z, Z) - np.einsum("na,nb,ni,nj->aibj", P, P, Z, Z)
        else:
            curvature = P[:, 0] * (1 - P[:, 0]) if model == "logistic" else np.ones(len(Z))
            H = np.einsum("n,ni,nj->ij", curvature, Z, Z)[None, :, None, :]
        H = H.reshape(k * Z.shape[1], -1) / len(Z) + np.diag(penalty)
        W = W - np.linalg.solve(H, (G.T @ Z / len(Z)).ravel() + penalty * W.ravel()).reshape(W.shape)
    best = objective(W)
    got = objective(np.column_stack([fitted.weights, fitted.bias]))
    assert best <= got <= best * 1.002, (got, best)


def lasso_logistic(Z, y, l1, iters=20_000):
    """The optimum of mean logistic loss + l1·‖w‖₁ (the bias free) by accelerated proximal gradient steps."""
    n, d = Z.shape
    A = np.column_stack([Z, np.ones(n)])
    step = 4 / np.linalg.eigvalsh(A.T @ A / n).max()  # 1 / the loss's curvature bound
    theta = np.zeros(d + 1)
    ahead, t = theta.copy(), 1.0
    for _ in range(iters):
        grad = A.T @ (1 / (1 + np.exp(-(A @ ahead))) - y) / n
        new = ahead - step * grad
        new[:-1] = np.sign(new[:-1]) * np.maximum(np.abs(new[:-1]) - step * l1, 0.0)
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
        ahead = new + (t - 1) / t_next * (new - theta)
        theta, t = new, t_next
    return theta[:-1], theta[-1]


@pytest.fixture(scope="module")
def sparse_truth(tmp_path_factory):
    """Logistic data of 30 features of which 10 predict the label: its file, its rows standardized as the
    model's are, and its labels."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((5000, 30)).astype(np.float32)
    y = (X[:, :10] @ rng.standard_normal(10) + rng.logistic(size=5000) > 0).astype(np.int64)
    path = write_table(tmp_path_factory.mktemp("l1") / "d.h5", X, y)
    X = X.astype(np.float64)
    return path, (X - X.mean(axis=0)) / X.std(axis=0), y.astype(np.float64)


def l1_objective(w, b, Z, y, l1):
    return logistic_objective(w, b, Z, y, 0.0) + l1 * float(np.abs(w).sum())


@pytest.mark.parametrize("optimizer", ["auto", "sgd", "momentum", "adagrad", "adam"])
def test_an_l1_above_every_gradient_at_zero_trains_every_weight_to_exactly_zero(sparse_truth, optimizer):
    """Where --l1 exceeds every weight's gradient at w = 0 (the bias at the labels' log-odds), the optimum is
    all zeros.  --l1's subgradient overshot zero at every step: at --l1 1 every run ended with all 30 weights
    nonzero."""
    path, Z, y = sparse_truth
    mean = y.mean()
    assert np.abs(Z.T @ (mean - y) / len(y)).max() < 0.5  # the premise: 1 is over every gradient at zero
    m = train(path, TrainOptions(model="logistic", l1=1.0, optimizer=optimizer, epochs=3))
    assert (m.weights == 0).all(), m.weights
    assert m.bias[0] == pytest.approx(np.log(mean / (1 - mean)), abs=0.05)


def test_l1_with_a_full_batch_reaches_the_optimum_and_its_zeros(sparse_truth):
    """Full-batch steps under --l1 are proximal gradient steps: they reach the optimum, and the weights it
    holds at zero are exactly zero, where the subgradient left all 30 nonzero.  The defaults' mini-batches
    end near it too."""
    path, Z, y = sparse_truth
    w, b = lasso_logistic(Z, y, 0.03)
    best = l1_objective(w, b, Z, y, 0.03)
    assert 0 < np.count_nonzero(w) < 25  # the premise: the penalty holds some weights, not all, at zero
    full = train(path, TrainOptions(model="logistic", l1=0.03, batch_size="full", epochs=50))
    assert l1_objective(full.weights[0], full.bias[0], Z, y, 0.03) == pytest.approx(best, rel=1e-6)
    np.testing.assert_array_equal(full.weights[0] == 0, w == 0)
    mini = train(path, TrainOptions(model="logistic", l1=0.03))
    assert l1_objective(mini.weights[0], mini.bias[0], Z, y, 0.03) < best * 1.005


@pytest.mark.parametrize("l1", [0.003, 0.01])
def test_momentum_does_not_carry_an_l1_full_batch_past_the_optimum(sparse_truth, l1):
    """An --l1 full batch of a classifier starts at the best constant model (the fits of a sample fit no --l1
    for classifiers: training/start.py), and Nesterov's velocity at 1/L carried it past the optimum and up the
    other side, where the cosine schedule left it: 5 epochs ended 5.0% (--l1 0.003) and 3.8% (0.01) above the
    optimum, unwarned.  The velocity is dropped where it points uphill of the objective's slope, --l1's
    subgradient included, and the threshold counts its steps from there (kernels/optimizers.py)."""
    path, Z, y = sparse_truth
    w, b = lasso_logistic(Z, y, l1)
    best = l1_objective(w, b, Z, y, l1)
    m = train(path, TrainOptions(model="logistic", l1=l1, batch_size="full", epochs=5, threads=1))
    assert l1_objective(m.weights[0], m.bias[0], Z, y, l1) < 1.001 * best
