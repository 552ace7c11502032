"""--optimizer auto on sparse (CSR) input: nesterov, on every weight where that costs about a batch's gradient
and on a batch's columns where the columns far outnumber its nonzeros; sgd under --l1
(training/autooptimizer.py)."""

import re

import h5py
import numpy as np
import pytest

from sgdcli import load_model

from conftest import cli, resumed_after

scipy_sparse = pytest.importorskip("scipy.sparse")


def write_csr(path, M, y):
    with h5py.File(path, "w") as f:
        g = f.create_group("X")
        g["data"], g["indices"], g["indptr"] = M.data, M.indices, M.indptr
        g.attrs["shape"], g.attrs["encoding-type"] = M.shape, "csr_matrix"
        f["y"] = y
    return path


def zipf_rows(rng, rows, cols, lo, hi):
    """Rows of ``lo`` to ``hi`` nonzeros (values 0.5 to 1.5) over columns of Zipf-distributed frequencies."""
    p = 1.0 / np.arange(1, cols + 1) ** 1.1
    ind = [np.unique(rng.choice(cols, size=k, p=p / p.sum())) for k in rng.integers(lo, hi + 1, rows)]
    indptr = np.r_[0, np.cumsum([len(i) for i in ind])]
    return scipy_sparse.csr_matrix((rng.uniform(0.5, 1.5, indptr[-1]).astype(np.float32), np.concatenate(ind),
                                    indptr), shape=(rows, cols))


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A file of 400 columns and 12 nonzeros a row, and one of 1,000 columns and 2 nonzeros a row."""
    d = tmp_path_factory.mktemp("auto")
    rng = np.random.default_rng(0)
    narrow = scipy_sparse.random(3000, 400, density=0.03, format="csr", dtype=np.float32, random_state=1)
    cols = np.sort(np.stack([rng.choice(1000, 2, replace=False) for _ in range(3000)]), axis=1)
    wide = scipy_sparse.csr_matrix((np.ones(6000, np.float32), cols.ravel(), np.arange(0, 6001, 2)),
                                   shape=(3000, 1000))
    return (write_csr(d / "narrow.h5", narrow, rng.integers(0, 2, 3000)),
            write_csr(d / "wide.h5", wide, rng.integers(0, 2, 3000)))


@pytest.mark.parametrize("which,args,chosen,why", [
    (0, [], "nesterov", "sparse input, 400 columns against about 384 nonzeros a batch: a step on every weight "
                        "costs about what a batch's gradient does"),
    (1, [], "nesterov", "sparse input, 1,000 columns against about 64 nonzeros a batch: its steps touch only the "
                        "columns of a batch, and catch the others up when a row touches them"),
    (1, ["--l2", "1e-4"], "nesterov", "sparse input, 1,000 columns against about 64 nonzeros a batch: its steps "
                                      "touch only the columns of a batch, and catch the others up when a row "
                                      "touches them"),
    (1, ["--momentum", "0"], "sgd", "sparse input, 1,000 columns against about 64 nonzeros a batch, and --momentum "
                                    "0: sgd's steps touch only the columns of a batch, nesterov's every weight"),
    # the same file in batches of 256: 512 nonzeros, half its columns
    (1, ["--batch-size", "256"], "nesterov", "sparse input, 1,000 columns against about 512 nonzeros a batch: a "
                                             "step on every weight costs about what a batch's gradient does"),
    # rows dense enough to centre step on every weight whatever the rule: --l1 is the dense kernels' proximal step
    (0, ["--l1", "1e-4"], "nesterov", "sparse input, 400 columns against about 384 nonzeros a batch, centred "
                                      "(--standardize): every step is on every weight, as on dense rows"),
    (0, ["--l1", "1e-4", "--no-standardize"], "sgd", "--l1 on sparse input: its cumulative penalty lands weights "
                                                     "on exactly zero"),
    (0, ["--l2", "1e-4"], "nesterov", "sparse input, 400 columns against about 384 nonzeros a batch: a step on every "
                                      "weight costs about what a batch's gradient does"),
])
def test_auto_steps_on_every_weight_of_sparse_input_where_that_costs_about_a_batchs_gradient(tmp_path, pair, which,
                                                                                          args, chosen, why):
    code, out, err = cli("train", pair[which], "-o", tmp_path / "m.h5", "--epochs", "1", *args)
    assert code == 0 and f"--optimizer auto: {chosen} ({why})\n" in err, err
    assert load_model(tmp_path / "m.h5").options["optimizer"] == chosen
    assert "each step updates all" not in err, err  # what auto chose is not costly


def test_a_full_batch_is_costed_by_the_rows_it_trains_on(tmp_path):
    """350 columns, one nonzero a row: a full batch of 100 rows is 100 nonzeros, and of the 80 that --val-fraction
    0.2 leaves to train on, 80, which the columns outnumber over 4 times (it counted the 20 held out): nesterov
    steps on every weight of both, the second because a full batch's velocity restarts (kernels/optimizers.py),
    which a step on the batch's columns alone cannot do."""
    rng = np.random.default_rng(2)
    M = scipy_sparse.csr_matrix((np.ones(100, np.float32), rng.integers(0, 350, 100), np.arange(101)), shape=(100, 350))
    path = write_csr(tmp_path / "one.h5", M, rng.integers(0, 2, 100))
    for extra, nonzeros, why in (([], 100, "a step on every weight costs about what a batch's gradient does"),
                                 (["--val-fraction", "0.2"], 80, "a full batch, whose one step an epoch is on every "
                                  "weight")):
        code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--epochs", "1", "--batch-size", "full", *extra)
        assert code == 0 and f"--optimizer auto: nesterov (sparse input, 350 columns against about {nonzeros} " \
            f"nonzeros a batch: {why}" in err, err


def test_a_step_on_every_weight_says_what_it_costs_where_the_columns_far_outnumber_a_batchs_nonzeros(tmp_path,
                                                                                                    pair):
    for extra, why in ((["--optimizer", "adam"], "--optimizer adam"),
                       (["--optimizer", "adagrad", "--l2", "1e-4"], "--optimizer adagrad, --l2"),
                       (["--optimizer", "sgd", "--l1", "1e-4", "--average"], "--average")):
        code, out, err = cli("train", pair[1], "-o", tmp_path / "m.h5", "--epochs", "1", *extra)
        assert code == 0 and (f"{why}: each step updates all 1,000 weights of the sparse input, against about 64 "
                              "nonzeros a batch; only a batch's columns with --optimizer sgd, adagrad and rmsprop "
                              "without --l1 and --l2, momentum and nesterov without --l1, and no --average or "
                              "centring (docs/sparse.md)\n") in err, err
    for path, extra in ((pair[1], ["--optimizer", "rmsprop"]), (pair[1], ["--optimizer", "sgd", "--l1", "1e-4"]),
                        (pair[0], ["--optimizer", "adam"])):  # lazy steps; a step on 400 weights costs little
        code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "--epochs", "1", *extra)
        assert code == 0 and "each step updates all" not in err, err


def test_momentum_steps_on_a_batchs_columns_where_they_are_few_of_many(tmp_path, pair):
    """1,000 columns against 64 nonzeros a batch: nesterov and momentum catch a column's weight and velocity up
    when a row touches it (kernels/lazymomentum.py), with --l2 too, and are not told that each step updates every
    weight; --l1 moves every weight at every step, and without momentum the plain step is on every weight."""
    for extra, why in ((["--optimizer", "nesterov"], None), (["--optimizer", "momentum", "--l2", "1e-3"], None),
                       (["--optimizer", "nesterov", "--l1", "1e-4", "--l2", "1e-4"],
                        "--optimizer nesterov, --l1: each step updates all 1,000 weights of the sparse input, against "
                        "about 64 nonzeros a batch"),
                       (["--optimizer", "momentum", "--momentum", "0"], "--optimizer momentum: each step updates all "
                                                                        "1,000 weights")):
        code, out, err = cli("train", pair[1], "-o", tmp_path / "m.h5", "--epochs", "1", *extra)
        assert code == 0 and ("each step updates all" not in err if why is None else why in err), (extra, err)


def test_sparse_rows_of_many_columns_a_row_train_near_the_optimum_at_the_defaults(tmp_path):
    """400 Zipf-distributed columns, 5 to 20 nonzeros a row: rows whose uncentred columns leave one direction of
    large curvature, which sets the rate, and many flat ones.  Plain sgd at its --lr auto ended about 20% above
    the optimum after the default 5 epochs; nesterov crosses the flat directions."""
    rng = np.random.default_rng(4)
    M = zipf_rows(rng, 8000, 400, 5, 20)
    X = M.toarray().astype(np.float64)
    y = X @ rng.standard_normal(400) + 0.5 * rng.standard_normal(8000)
    l2 = 1e-3
    # the optimum of 0.5·mean((Xw + b − y)²) + 0.5·l2·‖w‖², the bias unpenalized: ridge on the centred columns
    Xc, yc = X - X.mean(0), y - y.mean()
    w = np.linalg.solve(Xc.T @ Xc / len(y) + l2 * np.eye(400), Xc.T @ yc / len(y))
    b = y.mean() - X.mean(0) @ w

    def objective(w, b):
        return 0.5 * np.mean((X @ w + b - y) ** 2) + 0.5 * l2 * w @ w

    best = objective(w, b)
    code, out, err = cli("train", write_csr(tmp_path / "z.h5", M, y), "-o", tmp_path / "m.h5", "--model", "linear",
                         "--l2", str(l2), "--no-standardize")  # the raw columns' objective (the default centres)
    assert code == 0 and "--optimizer auto: nesterov" in err, err
    m = load_model(tmp_path / "m.h5")
    assert objective(m.weights.ravel(), float(m.bias[0])) < 1.02 * best


@pytest.mark.parametrize("which,l2", [(0, 0.0), (1, 0.0), (1, 1e-3)])
def test_the_default_on_sparse_rows_resumes_mid_epoch_to_the_uninterrupted_runs_bytes(tmp_path, pair, monkeypatch,
                                                                                     which, l2):
    """Nesterov's velocity on every weight, from the sparse kernel's gradient, is saved and restored at each
    safe point as the dense kernels' is, and so where it steps on a batch's columns alone (the second file:
    every weight and velocity is caught up at the end of each kernel call, --l2 or not); two threads give the
    same bytes twice."""
    from sgdcli import train
    from sgdcli.engine import epoch
    from sgdcli.options import TrainOptions

    monkeypatch.setattr(epoch, "SLICE_ROWS", 500)  # six safe points an epoch
    from sgdcli.training import runrate

    lazy, config = [], runrate.kernel_config
    monkeypatch.setattr(runrate, "kernel_config", lambda *a, **k: lazy.append(k["lazy_momentum"]) or config(*a, **k))
    options, path = TrainOptions(epochs=2, threads=2, l2=l2), pair[which]
    straight = train(path, options)
    assert straight.options["optimizer"] == "nesterov" and set(lazy) == {which == 1}
    assert train(path, options).weights.tobytes() == straight.weights.tobytes()
    for stop_at in (3, 8):  # in the first epoch, and in the second
        resumed = resumed_after(path, options, tmp_path / f"ck{stop_at}.h5", stop_at)
        assert resumed.weights.tobytes() == straight.weights.tobytes(), stop_at
        assert resumed.bias.tobytes() == straight.bias.tobytes(), stop_at


@pytest.mark.parametrize("model", ["hinge", "logistic"])
def test_steps_on_a_batchs_columns_train_the_model_steps_on_every_weight_do(tmp_path, pair, monkeypatch, model):
    """Through the whole engine (windows of 1,000 rows of batch 8: 125 steps a call, the catch-up products
    restarting every 58; a last partial batch; two epochs), with rows that add no gradient (weight 0; hinge's
    past the margin): nesterov's catch-ups give the weights of its step on every weight, to rounding."""
    from sgdcli import train
    from sgdcli.engine import epoch
    from sgdcli.options import TrainOptions
    from sgdcli.training import runrate

    monkeypatch.setattr(epoch, "SLICE_ROWS", 1000)
    path = tmp_path / "weighted.h5"
    with h5py.File(pair[1]) as src, h5py.File(path, "w") as f:
        src.copy("X", f)
        f["y"] = src["y"][()]
        f["w"] = np.where(np.arange(3000) % 3 == 0, 0.0, 1.5)
    options = TrainOptions(model=model, epochs=2, threads=1, lr=0.5, batch_size=8, sample_weight="w")
    lazy = train(path, options)
    config = runrate.kernel_config
    monkeypatch.setattr(runrate, "kernel_config", lambda *a, **k: config(*a, **{**k, "lazy_momentum": False}))
    dense = train(path, options)
    assert lazy.options["optimizer"] == dense.options["optimizer"] == "nesterov"
    scale = np.abs(dense.weights).max()
    np.testing.assert_allclose(lazy.weights, dense.weights, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(lazy.bias, dense.bias, rtol=0, atol=1e-10 * scale)


def test_under_average_every_step_is_on_every_weight_so_auto_is_nesterov(tmp_path, pair):
    """--average steps on every weight whatever the rule (kernels/sparse.py), so sgd saves nothing there: auto
    was sgd and said its steps touched only a batch's columns, above the note that each updated all of them."""
    code, out, err = cli("train", pair[1], "-o", tmp_path / "m.h5", "--epochs", "1", "--average")
    assert code == 0 and ("--optimizer auto: nesterov (--average on sparse input: every step updates every weight "
                          "whatever the rule)\n") in err, err
    assert ("--average: each step updates all 1,000 weights of the sparse input, against about 64 nonzeros a "
            "batch;") in err, err
    assert load_model(tmp_path / "m.h5").options["optimizer"] == "nesterov"


def test_init_optimizer_keeps_the_initial_models_rule_where_the_days_file_would_choose_another(tmp_path, pair):
    """A nightly warm start that carries the optimizer's state on needs the same optimizer; the rule auto
    chooses from the file can change with the day's rows (here: the batch), and the run was refused."""
    code, out, err = cli("train", pair[1], "-o", tmp_path / "m.h5", "--epochs", "1")
    assert code == 0 and "--optimizer auto: nesterov" in err, err
    code, out, err = cli("train", pair[1], "-o", tmp_path / "m.h5", "--epochs", "1", "--init", tmp_path / "m.h5",
                         "--init-optimizer", "--momentum", "0")
    assert code == 0 and ("--optimizer auto: nesterov (the --init model's, whose state --init-optimizer carries "
                          "on)\n") in err, err
    code, out, err = cli("train", pair[1], "-o", tmp_path / "n.h5", "--epochs", "1", "--init", tmp_path / "m.h5",
                         "--momentum", "0")
    assert code == 0 and "--optimizer auto: sgd (sparse input" in err, err  # no state carried: the file's choice


def test_columns_picked_by_name_are_costed_by_their_own_nonzeros(tmp_path):
    """AnnData genes picked with --features: the file's nonzeros a row are mostly in the 100 common genes left
    out, and the 300 rare ones picked hold few; counted over every column, auto chose nesterov and said a step
    on every weight cost about a batch's gradient, where it costs about 30 times it."""
    ad, pd = pytest.importorskip("anndata"), pytest.importorskip("pandas")
    rng = np.random.default_rng(5)
    common = scipy_sparse.random(2000, 100, density=0.5, format="csr", dtype=np.float32, random_state=1)
    rare = scipy_sparse.random(2000, 1900, density=0.001, format="csr", dtype=np.float32, random_state=2)
    genes = [f"g{j}" for j in range(2000)]
    obs = pd.DataFrame({"label": pd.Categorical.from_codes(rng.integers(0, 2, 2000), ["a", "b"])},
                       index=[str(i) for i in range(2000)])
    ad.AnnData(X=scipy_sparse.hstack([common, rare]).tocsr(), obs=obs,
               var=pd.DataFrame(index=genes)).write_h5ad(tmp_path / "a.h5ad")
    picked = ",".join(genes[100:400])
    code, out, err = cli("train", tmp_path / "a.h5ad", "--y", "obs/label", "--features", picked, "-o",
                         tmp_path / "m.h5", "--epochs", "1")
    said = re.search(r"--optimizer auto: (\w+) \(sparse input, 300 columns against about (\d+) nonzeros a batch", err)
    assert code == 0 and said is not None, err
    assert said[1] == "nesterov" and int(said[2]) < 300 / 4, err  # about 0.3 a row: 10 a batch
    assert "catch the others up when a row touches them" in err, err
