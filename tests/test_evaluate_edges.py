"""evaluate at the edges: targets a regression model cannot be measured on, degenerate metrics, huge weights.
Each outcome is scikit-learn's where it has one, and an exit-2 line naming the row where it refuses."""

import os

import h5py
import numpy as np
import pytest

from conftest import cli, write_table

TRAIN = ["--epochs", "2", "--batch-size", "10", "-q", "--threads", "1"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """{model: (model file, its training data X, y)} for every regression model and logistic."""
    d = tmp_path_factory.mktemp("edges")
    rng = np.random.default_rng(5)
    X = rng.standard_normal((200, 3)).astype(np.float32)
    s = X.astype(np.float64) @ np.array([0.5, -0.3, 0.2])
    targets = {"linear": s + 0.1 * rng.standard_normal(200), "huber": s, "quantile": s,
               "poisson": rng.poisson(np.exp(s)).astype(float), "logistic": (s > 0).astype(float)}
    out = {}
    for model, y in targets.items():
        data = write_table(d / f"{model}.h5", X, y)
        code, _, err = cli("train", data, "-o", d / f"{model}-model.h5", "--model", model, *TRAIN)
        assert code == 0, err
        out[model] = (str(d / f"{model}-model.h5"), X, y)
    return out


def scores(model_path, X):
    with h5py.File(model_path) as f:
        W, b = f["weights"][()], f["bias"][()]
        center, scale = f["center"][()], f["scale"][()]
    return ((X.astype(np.float64) - center) / scale) @ W[0] + b[0]


@pytest.mark.parametrize("model", ["linear", "huber", "quantile", "poisson"])
@pytest.mark.parametrize("value,why", [(np.nan, "label missing (NaN)"), (np.inf, "non-finite label (inf)"),
                                       (-np.inf, "non-finite label (-inf)")])
def test_a_regression_target_that_is_not_finite_is_refused_naming_its_row(tmp_path, models, model, value, why):
    """As a classifier's missing label is, and as train refuses one: every metric was null with exit 0."""
    from sklearn.metrics import mean_squared_error

    _, X, y = models[model]
    y = y.copy()
    y[5] = value
    with pytest.raises(ValueError):
        mean_squared_error(y, np.zeros_like(y))
    data = write_table(tmp_path / "bad.h5", X, y)
    for json in ([], ["--json"]):
        code, out, err = cli("evaluate", models[model][0], data, *json)
        assert (code, out, err.strip().splitlines()[-1]) == (2, "", f"sgdcli: error: {data}:y: {why} at row 5")


def test_a_validation_file_whose_poisson_target_is_negative_is_refused_before_training(tmp_path, models):
    _, X, y = models["poisson"]
    y = y.copy()
    y[17] = -2
    train_data, val = write_table(tmp_path / "t.h5", X, models["poisson"][2]), write_table(tmp_path / "v.h5", X, y)
    code, out, err = cli("train", train_data, "--model", "poisson", "--val", val, "-o", tmp_path / "m.h5", *TRAIN)
    assert (code, err.strip().splitlines()[-1]) == (
        2, f"sgdcli: error: {val}:y: a poisson model's targets are counts (>= 0); found -2 at row 17")
    assert not (tmp_path / "m.h5").exists()


def test_a_poisson_model_refuses_a_negative_target_as_scikit_learn_does(tmp_path, models):
    from sklearn.metrics import mean_poisson_deviance

    path, X, y = models["poisson"]
    y = y.copy()
    y[7] = -1
    with pytest.raises(ValueError):
        mean_poisson_deviance(y, np.exp(scores(path, X)))
    data = write_table(tmp_path / "neg.h5", X, y)
    code, out, err = cli("evaluate", path, data)
    assert (code, out, err.strip().splitlines()[-1]) == (
        2, "", f"sgdcli: error: {data}:y: a poisson model's targets are counts (>= 0); found -1 at row 7")


@pytest.mark.parametrize("bias,target", [(3.0, 3.0), (2.0, 3.0), (0.0, 0.1)])
def test_r2_of_a_constant_target_is_scikit_learns(tmp_path, models, bias, target):
    """r2_score (force_finite=True) is 1 for a perfect prediction of a constant y and 0 otherwise: it was null
    (or -inf)."""
    from sklearn.metrics import r2_score

    path, X, _ = models["linear"]
    constant = tmp_path / "constant.h5"
    with open(path, "rb") as src, open(constant, "wb") as dst:
        dst.write(src.read())
    with h5py.File(constant, "a") as f:
        f["weights"][...] = 0.0
        f["bias"][...] = bias
    y = np.full(len(X), target)
    data = write_table(tmp_path / "c.h5", X, y)
    want = r2_score(y, np.full(len(X), bias))
    code, out, err = cli("evaluate", constant, data, "--json")
    assert code == 0, err
    assert f'"r2": {want!r}' in out
    with h5py.File(data, "a") as f:  # rows of weight 0 do not count: y is constant where it weighs (as in
        f["y"][3] = 100.0                # scikit-learn, whose weighted mean of 0.1s rounds, though: r2 -5e31)
        f["w"] = np.where(np.arange(len(X)) == 3, 0.0, 1.0)
    code, out, err = cli("evaluate", constant, data, "--json", "--sample-weight", "w")
    assert (code, f'"r2": {want!r}' in out) == (0, True), out


@pytest.mark.parametrize("scale", [1e308, 1e-200])
@pytest.mark.parametrize("model", ["linear", "poisson", "logistic"])
def test_weights_near_the_largest_float_give_the_metrics_of_the_same_relative_weights(tmp_path, models, model, scale):
    """Weights of 1e308 overflowed their sums: every metric was null, with NumPy's warnings on stderr. Weights are
    relative, so they give scikit-learn's metrics of the weights divided by 1e308, and stderr stays quiet.  Weights
    of 1e-200 underflowed AUC's product of the classes' weights: AUC null, and a gate on it failed, exit 3."""
    from sklearn import metrics as sk

    path, X, y = models[model]
    rng = np.random.default_rng(0)
    relative = rng.uniform(0.1, 1.0, len(y))
    data = write_table(tmp_path / "w.h5", X, y)
    with h5py.File(data, "a") as f:
        f["w"] = relative * scale
    code, out, err = cli("evaluate", path, data, "--json", "--sample-weight", "w")
    assert code == 0 and "warning" not in err, err
    import json

    got = json.loads(out)
    s = scores(path, X)
    if model == "logistic":
        pred = (s > 0).astype(int)
        want = {"accuracy": sk.accuracy_score(y, pred, sample_weight=relative),
                "log_loss": sk.log_loss(y, 1 / (1 + np.exp(-s)), sample_weight=relative),
                "precision": sk.precision_score(y, pred, sample_weight=relative),
                "recall": sk.recall_score(y, pred, sample_weight=relative),
                "f1": sk.f1_score(y, pred, sample_weight=relative)}
        assert got["auc"] == pytest.approx(sk.roc_auc_score(y, s, sample_weight=relative), abs=1e-4)
    else:
        pred = np.exp(s) if model == "poisson" else s
        want = {"mse": sk.mean_squared_error(y, pred, sample_weight=relative),
                "mae": sk.mean_absolute_error(y, pred, sample_weight=relative),
                "r2": sk.r2_score(y, pred, sample_weight=relative)}
        if model == "poisson":
            want["deviance"] = sk.mean_poisson_deviance(y, pred, sample_weight=relative)
    assert {k: got[k] for k in want} == pytest.approx(want, rel=1e-9)


def test_merged_accumulators_of_different_weight_units_agree_with_one(models):
    """A distributed run merges its workers' accumulators: each in the unit of its own largest weight."""
    from sgdcli.model.metrics import BinaryMetrics, RegressionMetrics

    rng = np.random.default_rng(1)
    for make, y in ((RegressionMetrics, rng.standard_normal(100)), (BinaryMetrics, (rng.random(100) > 0.5) * 1.0)):
        S = rng.standard_normal((100, 1))
        for w in (np.r_[rng.uniform(0, 1, 50), rng.uniform(0, 1, 50) * 1e308],
                  np.r_[rng.uniform(0, 1, 50) * 1e-200, rng.uniform(0, 1, 50) * 1e-250],
                  np.r_[np.zeros(50), rng.uniform(0, 1, 50)]):  # (a worker whose rows all weigh 0)
            one, a, b = make(), make(), make()
            one.update(S, y, w)
            a.update(S[:50], y[:50], w[:50])
            b.update(S[50:], y[50:], w[50:])
            a.merge(b)
            assert a.result() == pytest.approx(one.result(), rel=1e-12)


@pytest.mark.parametrize("model", ["logistic", "linear"])
@pytest.mark.parametrize("value,why", [(np.nan, "label missing (NaN)"), (np.inf, "non-finite label (inf)")])
def test_train_evaluate_and_validation_word_a_label_that_is_not_a_number_alike(tmp_path, models, model, value, why):
    """One file, one message: train said 'non-finite label (nan)' where evaluate said 'label missing (NaN)'."""
    _, X, y = models[model]
    y = y.copy()
    y[5] = value
    data = write_table(tmp_path / "bad.h5", X, y)
    said = f"sgdcli: error: {data}:y: {why} at row 5"
    code, _, err = cli("train", data, "--model", model, "-o", tmp_path / "m.h5", *TRAIN)
    assert (code, err.strip().splitlines()[-1]) == (2, said)
    assert not (tmp_path / "m.h5").exists()
    code, out, err = cli("evaluate", models[model][0], data)
    assert (code, out, err.strip().splitlines()[-1]) == (2, "", said)
    good = write_table(tmp_path / "good.h5", X, models[model][2])
    code, _, err = cli("train", good, "--model", model, "--val", data, "-o", tmp_path / "m.h5", *TRAIN)
    assert (code, err.strip().splitlines()[-1]) == (2, said)
    assert not (tmp_path / "m.h5").exists()


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_a_model_of_features_chosen_by_index_says_to_give_them_again(tmp_path, command):
    """A model trained on --features 0,1 of an unnamed matrix is refused on that matrix without them, saying
    which --features it was trained on; given them, it scores the same rows."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 5)).astype(np.float32)
    data = write_table(tmp_path / "wide.h5", X, (X[:, 0] + X[:, 1] > 0).astype(float))
    model = tmp_path / "m.h5"
    assert cli("train", data, "-o", model, "--features", "0,1", *TRAIN)[0] == 0
    out = ["-o", tmp_path / "p.csv"] if command == "predict" else []
    code, _, err = cli(command, model, data, *out)
    assert code == 2
    assert err.strip().endswith(f"{data}:X: has 5 features but the model was trained on 2; it was trained on "
                                "--features 0,1 of its data's columns: give the same --features")
    assert cli(command, model, data, *out, "--features", "0,1")[0] == 0


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_the_training_file_read_as_other_columns_than_the_models_is_refused(tmp_path, command):
    """Columns known by position are what --features says in another file, but the file the model was trained on
    is known: --features 0,1,3 (or 0,1,2) on the file a model of --features 3,0,1 was trained on scored the
    wrong columns, without a word.  So did a model of every column given them in another order.
    Another file of the same columns is read as --features says."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 5)).astype(np.float32)
    y = (X[:, 3] - X[:, 0] > 0).astype(float)
    data = write_table(tmp_path / "wide.h5", X, y)
    out = (lambda name: ["-o", tmp_path / f"{name}.csv"]) if command == "predict" else (lambda name: [])
    chosen, every = tmp_path / "chosen.h5", tmp_path / "every.h5"
    assert cli("train", data, "-o", chosen, "--features", "3,0,1", *TRAIN)[0] == 0
    assert cli("train", data, "-o", every, *TRAIN)[0] == 0
    for model, given, told in ((chosen, "0,1,3", "with --features 3,0,1"), (chosen, "0,1,2", "with --features 3,0,1"),
                               (every, "4,3,2,1,0", "with every column as a feature")):
        code, stdout, err = cli(command, model, data, *out("bad"), "--features", given)
        assert (code, stdout) == (2, "")
        assert err == (f"sgdcli: error: {data}:X: is the file the model was trained on, {told}, and --features reads "
                       f"columns {given} of it as those: give "
                       + ("--features 3,0,1" if model == chosen else "no --features") + "\n")
        assert not (tmp_path / "bad.csv").exists()
    os.symlink(data, tmp_path / "link.h5")  # the same file by another path (it was read as another file)
    code, _, err = cli(command, chosen, tmp_path / "link.h5", *out("bad"), "--features", "0,1,3")
    assert (code, err.startswith(f"sgdcli: error: {tmp_path / 'link.h5'}:X: is the file the model was trained on")) \
        == (2, True), err
    assert cli(command, chosen, data, *out("same"), "--features", "3, 0,1")[0] == 0
    moved = write_table(tmp_path / "moved.h5", X[:, [3, 0, 1]], y)  # the same columns, first in another file
    assert cli(command, chosen, moved, *out("moved"), "--features", "0,1,2")[0] == 0
    # no --features on a file of as many columns as the model's: not "--features reads", which was not given
    narrow, model = write_table(tmp_path / "narrow.h5", X[:, :3], y), tmp_path / "narrow_model.h5"
    assert cli("train", narrow, "-o", model, "--features", "2,0,1", *TRAIN)[0] == 0
    code, _, err = cli(command, model, narrow, *out("bad"))
    assert (code, err) == (2, f"sgdcli: error: {narrow}:X: is the file the model was trained on, with --features "
                              "2,0,1, and without --features, it reads columns 0,1,2 of it as those: give --features "
                              "2,0,1\n")
    # that other file at the training file's path, of its size and modification time: its content tells
    mtime = os.stat(data).st_mtime_ns
    write_table(data, np.column_stack([X[:, [3, 0, 1]], X[:, 2:4]]), y)
    os.utime(data, ns=(mtime, mtime))
    assert cli(command, chosen, data, *out("rewritten"), "--features", "0,1,2")[0] == 0


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_a_narrower_matrix_than_the_model_gets_no_hint_to_give_its_features_again(tmp_path, command):
    """The hint to give the training's --features again was also given for data with fewer columns than the
    model: '--features 0,1,2' on 2 columns names a column that is not there."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 5)).astype(np.float32)
    data = write_table(tmp_path / "wide.h5", X, (X[:, 0] + X[:, 1] > 0).astype(float))
    narrow = write_table(tmp_path / "narrow.h5", X[:, :2], (X[:, 0] + X[:, 1] > 0).astype(float))
    model = tmp_path / "m.h5"
    assert cli("train", data, "-o", model, "--features", "0,1,2", *TRAIN)[0] == 0
    out = ["-o", tmp_path / "p.csv"] if command == "predict" else []
    code, _, err = cli(command, model, narrow, *out)
    assert code == 2
    assert err.strip().endswith(f"{narrow}:X: has 2 features but the model was trained on 3"), err
    assert not (tmp_path / "p.csv").exists()


def test_a_model_of_named_genes_on_a_sparse_matrix_without_names_says_what_can_be_given(tmp_path):
    """A model trained on --features g3,g1 of an AnnData file, given the same CSR matrix without gene names, was
    told to give --features g3,g1, which such a matrix refuses: it is told to give the model's columns alone, or
    names; the matrix of those two columns alone scores as the AnnData file does."""
    ad = pytest.importorskip("anndata")
    sp = pytest.importorskip("scipy.sparse")
    pd = pytest.importorskip("pandas")
    X = sp.random(400, 6, density=0.5, format="csr", random_state=4, dtype=np.float32)
    y = (X[:, 3].toarray().ravel() > X[:, 1].toarray().ravel()).astype(float)
    obs = pd.DataFrame({"label": y}, index=[str(i) for i in range(400)])
    ad.AnnData(X, obs=obs, var=pd.DataFrame(index=[f"g{j}" for j in range(6)])).write_h5ad(tmp_path / "a.h5ad")
    model = tmp_path / "m.h5"
    assert cli("train", tmp_path / "a.h5ad", "--y", "obs/label", "--features", "g3,g1", "-o", model, *TRAIN)[0] == 0
    for name, matrix in (("plain.h5", X), ("two.h5", X[:, [3, 1]].tocsr())):
        with h5py.File(tmp_path / name, "w") as f:
            g = f.create_group("X")
            g.attrs["shape"] = matrix.shape
            g["data"], g["indices"], g["indptr"] = matrix.data, matrix.indices, matrix.indptr
    code, _, err = cli("predict", model, tmp_path / "plain.h5", "-o", tmp_path / "p.csv")
    assert (code, err.strip()) == (2, f"sgdcli: error: {tmp_path / 'plain.h5'}:X: has 6 features but the model was "
                                      "trained on 2; it was trained on --features g3,g1 of its data's columns, which "
                                      "a sparse matrix without column names cannot select: give the model's columns "
                                      "alone, or a file that names them (AnnData's var)")
    assert cli("predict", model, tmp_path / "two.h5", "-o", tmp_path / "two.csv")[0] == 0
    assert cli("predict", model, tmp_path / "a.h5ad", "-o", tmp_path / "a.csv")[0] == 0
    assert (tmp_path / "two.csv").read_text() == (tmp_path / "a.csv").read_text()
