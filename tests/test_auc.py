"""The AUC of the streamed histogram (model/metrics.py) against scikit-learn's exact one."""

import json
from dataclasses import replace

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import sgdcli
from conftest import cli, short_fits, write_table
from sgdcli import TrainOptions
from sgdcli.model.metrics import BinaryMetrics


def _streamed(score, y, w=None, centre=0.0, parts=3):
    """The AUC of ``parts`` accumulators, each fed blocks of its share of the rows, merged as workers' are."""
    accs = [BinaryMetrics(centre) for _ in range(parts)]
    for start in range(0, len(y), 1000):
        acc = accs[(start // 1000) % parts]
        rows = slice(start, start + 1000)
        acc.update(score[rows, None], y[rows], None if w is None else w[rows])
    for acc in accs[1:]:
        accs[0].merge(acc)
    return accs[0]


def _labels(rng, score, centre, spread, base=-3.0):
    """Rare positives (a base rate near e^base) whose odds grow with the score."""
    z = (score - centre) / spread
    return (rng.random(len(score)) < 1 / (1 + np.exp(-(base + 1.5 * z)))).astype(float)


@pytest.mark.parametrize("centre,spread", [(-4.4, 0.01), (30.0, 1e-3), (0.0, 1e-6), (0.0, 3.0), (-4.4, 2.0),
                                           (1e4, 0.5)])
@pytest.mark.parametrize("weighted", [False, True])
def test_auc_of_scores_in_a_band_around_the_centre_is_within_1e_4_of_the_exact(centre, spread, weighted):
    """Buckets of the float32 scores themselves were 2^-9 wide at 4.4: a band of scores -4.4 +- 0.01 fell in a
    few buckets, an AUC of 0.75 came out 0.5."""
    rng = np.random.default_rng(7)
    score = centre + spread * rng.standard_normal(30000)
    y = _labels(rng, score, centre, spread)
    w = rng.uniform(0.1, 5.0, len(y)) if weighted else None
    acc = _streamed(score, y, w, centre)
    exact = roc_auc_score(y, score, sample_weight=w)
    assert abs(acc.auc() - exact) <= acc.auc_tie_share() / 2 + 1e-12
    assert acc.auc() == pytest.approx(exact, abs=1e-4)


def test_auc_error_is_bounded_by_half_the_pairs_sharing_a_bucket_even_off_centre():
    """A band away from the centre is resolved by its distance from it: the bound holds, only looser."""
    rng = np.random.default_rng(3)
    score = -4.4 + 0.01 * rng.standard_normal(30000)
    y = _labels(rng, score, -4.4, 0.01)
    exact = roc_auc_score(y, score)
    for centre in (-4.3, 0.0, -10.0):
        acc = _streamed(score, y, centre=centre)
        assert abs(acc.auc() - exact) <= acc.auc_tie_share() / 2 + 1e-12
    assert _streamed(score, y, centre=-4.3).auc() == pytest.approx(exact, abs=1e-3)


def test_tied_scores_count_half_as_in_the_exact_auc():
    rng = np.random.default_rng(5)
    score = rng.integers(-3, 4, 20000) * 0.25 - 4.4  # seven distinct scores, every pair of rows with one is a tie
    y = _labels(rng, score, -4.4, 0.5)
    for centre in (-4.4, 0.0):
        assert _streamed(score, y, centre=centre).auc() == pytest.approx(roc_auc_score(y, score), abs=1e-12)


def test_the_auc_is_a_python_float_as_every_other_metric():
    """evaluate's dict printed as docs/python-api.md prints it showed ``'auc': np.float64(0.99...)``."""
    acc = BinaryMetrics(0.0)
    acc.update(np.array([[-1.0], [0.5], [2.0]]), np.array([0, 1, 1]), None)
    assert {name: type(value) for name, value in acc.result().items()} == {
        "rows": int, "accuracy": float, "log_loss": float, "auc": float, "precision": float, "recall": float,
        "f1": float}


def test_scores_far_from_the_centre_and_infinite_ones_keep_their_order():
    score = np.array([-np.inf, -1e300, -1e9, -1.0, -1e-12, -1e-300, 0.0, 1e-300, 1e-12, 1.0, 1e9, 1e300, np.inf])
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1], dtype=float)  # every positive above every negative
    with np.errstate(all="ignore"):  # the log loss of an infinite score
        assert _streamed(score, y, parts=1).auc() == 1.0


def test_histograms_of_different_centres_are_not_merged():
    a, b = BinaryMetrics(0.0), BinaryMetrics(1.0)
    with pytest.raises(ValueError, match="centred on"):
        a.merge(b)


def test_evaluate_and_validation_auc_of_a_rare_positive_penalized_model_match_the_exact_auc(tmp_path):
    """The review's case: 1% positives, --l2 100: every score within -4.267 +- 0.0005; evaluate said 0.5."""
    rng = np.random.default_rng(0)
    n = 20000
    X = rng.standard_normal((n, 5)).astype(np.float32)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-5.0 + X[:, 0])))).astype(np.float64)
    data = write_table(tmp_path / "rare.h5", X, y)
    opts = TrainOptions(model="logistic", l2=100.0, epochs=3, seed=1, threads=1)
    model = sgdcli.train(data, opts)
    z = ((X - model.center) / model.scale) @ model.weights[0] + model.bias[0]
    assert np.ptp(z) < 0.01  # the narrow band of the review's case
    assert sgdcli.evaluate(model, data)["auc"] == pytest.approx(roc_auc_score(y, z), abs=1e-4)
    held = sgdcli.train(data, replace(opts, val=data))  # validated on every row: the same scores' AUC
    zh = ((X - held.center) / held.scale) @ held.weights[0] + held.bias[0]
    assert held.history[-1]["val_auc"] == pytest.approx(roc_auc_score(y, zh), abs=1e-4)


def _offset_problem(n=4000, d=20, offset=50.0, spread=0.01, seed=0):
    """Features of mean ``offset`` and deviation ``spread``: a model that does not centre them (sparse input,
    --no-standardize) has its bias, its score at all-zero features, far from every score, which lie close
    together."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, d))
    y = (Z @ rng.standard_normal(d) + rng.logistic(size=n) > 0).astype(np.int64)
    return (offset + spread * Z).astype(np.float32), y


def _write_csr(path, X, y):
    import h5py

    M = pytest.importorskip("scipy.sparse").csr_matrix(X)
    with h5py.File(path, "w") as f:
        g = f.create_group("X")
        g["data"], g["indices"], g["indptr"] = M.data, M.indices, M.indptr
        g.attrs["shape"], g.attrs["encoding-type"] = M.shape, "csr_matrix"
        f["y"] = y
    return str(path)


def _exact_auc(model, X, y):
    """scikit-learn's AUC of the model's scores on ``X`` (float64, as evaluate scores)."""
    We = model.raw_weights()
    return roc_auc_score(y, X.astype(np.float64) @ We[0, :-1] + We[0, -1])


CENTRED = {  # the layout of the training file and train's options
    "dense --no-standardize": ("dense", ["--no-standardize"]),
    "sparse": ("sparse", []),
    "sparse --no-standardize": ("sparse", ["--no-standardize"]),
    "--parallel average": ("dense", ["--no-standardize", "--parallel", "average", "--threads", "2",
                                     "--sync-every", "5"]),
    "--init (its standardization)": ("dense", ["--init"]),
    "dense standardized": ("dense", []),
}


@pytest.mark.parametrize("case", list(CENTRED))
def test_evaluate_and_validation_auc_of_features_far_from_0_match_the_exact_auc(tmp_path, case):
    """The AUC is centred on the model's mean score over its training rows (training.score_centre), not its
    bias: the bias of a model that does not centre its features lay 1e4 spreads of the scores away, where the
    buckets are 2^-13 of that distance wide (evaluate said 0.757 for 0.813)."""
    layout, args = CENTRED[case]
    X, y = _offset_problem()
    data = (_write_csr if layout == "sparse" else write_table)(tmp_path / "d.h5", X, y)
    if args == ["--init"]:  # a model of features centred on 0, kept in its units: its bias is far from the scores
        Xi, yi = _offset_problem(offset=0.0, spread=1.0, seed=1)
        assert cli("train", write_table(tmp_path / "i.h5", Xi, yi), "-o", tmp_path / "init.h5", "-q")[0] == 0
        args = ["--init", tmp_path / "init.h5", "--lr", "1e-6"]
    model_path = tmp_path / "m.h5"
    code, _, err = cli("train", data, "-o", model_path, "--val", data, "--epochs", "3", "-q", *args)
    assert code == 0, err
    model = sgdcli.load_model(model_path)
    exact = _exact_auc(model, X, y)
    code, out, err = cli("evaluate", model_path, data, "--json")
    assert code == 0, err
    assert json.loads(out)["auc"] == pytest.approx(exact, abs=1e-4)
    assert model.history[-1]["val_auc"] == pytest.approx(exact, abs=1e-4)  # the same rows: the same scores
    We = model.raw_weights()
    scores = X.astype(np.float64) @ We[0, :-1] + We[0, -1]
    centre = model.training["score_centre"]
    assert abs(centre - scores.mean()) < scores.std()  # the mean score, from a sample where it is not exact
    if case == "dense standardized":
        assert centre == model.bias[0]  # the score at the features' mean, exactly: as before


def test_a_model_of_hashed_csv_columns_evaluates_the_csv_text_and_the_converted_file_at_the_exact_auc(tmp_path):
    """Hashed features (convert --hash-bits) are sparse: CSV text evaluated through the model's encoding
    (model/textinference.py) is centred on the same mean score as the converted file (it said 0.662 for
    0.703)."""
    import h5py

    X, y = _offset_problem()
    text = tmp_path / "d.csv"
    with open(text, "w") as fh:
        fh.write(",".join([f"f{j}" for j in range(X.shape[1])] + ["label"]) + "\n")
        fh.writelines(",".join(f"{v:.6f}" for v in row) + f",{label}\n" for row, label in zip(X, y))
    data, model_path = tmp_path / "d.h5", tmp_path / "m.h5"
    assert cli("convert", text, "-o", data, "--hash-bits", "6")[0] == 0
    assert cli("train", data, "-o", model_path, "--epochs", "3", "-q")[0] == 0
    model = sgdcli.load_model(model_path)
    assert model.training["hashing"]["bits"] == 6
    with h5py.File(data) as f:
        M = pytest.importorskip("scipy.sparse").csr_matrix(
            (f["X/data"][()], f["X/indices"][()], f["X/indptr"][()]), shape=tuple(f["X"].attrs["shape"]))
        labels = f["y"][()]
    We = model.raw_weights()
    exact = roc_auc_score(labels, M.astype(np.float64) @ We[0, :-1] + We[0, -1])
    for source in (text, data):
        code, out, err = cli("evaluate", model_path, source, "--json")
        assert code == 0, err
        assert json.loads(out)["auc"] == pytest.approx(exact, abs=1e-4), source


@short_fits  # (unstandardized: the fit check says so)
def test_a_resumed_run_ends_with_the_uninterrupted_runs_centre_and_validation_auc(tmp_path, monkeypatch):
    """The centre comes from the sample of rows --lr auto reads, which a resume reads again: no checkpoint
    carries it, and the resumed run's model, centre and history are the straight run's."""
    import signal

    from sgdcli import RunControl
    from sgdcli.engine import epoch
    from sgdcli.errors import Interrupted

    monkeypatch.setattr(epoch, "SLICE_ROWS", 500)
    X, y = _offset_problem()
    data = _write_csr(tmp_path / "d.h5", X, y)
    options = TrainOptions(epochs=3, val_fraction=0.2, standardize=False, threads=1, batch_size=16)
    straight = sgdcli.train(data, options)
    calls = []

    def stop():
        calls.append(1)
        return signal.SIGTERM if len(calls) == 9 else None  # in the second epoch

    checkpoint = tmp_path / "ck.h5"
    with pytest.raises(Interrupted):
        sgdcli.train(data, options, control=RunControl(checkpoint=str(checkpoint), stop=stop))
    resumed = sgdcli.train(data, options, control=RunControl(checkpoint=str(checkpoint), resume=True))
    assert resumed.weights.tobytes() == straight.weights.tobytes()
    assert resumed.training["score_centre"] == straight.training["score_centre"]
    assert [r["val_auc"] for r in resumed.history] == [r["val_auc"] for r in straight.history]


def test_a_model_file_without_a_centre_evaluates_centred_on_its_bias(tmp_path):
    """Files written before the centre was kept have none: their AUC is centred on the bias, as it was; a
    centre that is not a number is a damaged model."""
    import h5py

    X, y = _offset_problem(spread=1.0)  # a spread the bias still resolves, coarsely
    data = _write_csr(tmp_path / "d.h5", X, y)
    model_path = tmp_path / "m.h5"
    assert cli("train", data, "-o", model_path, "--no-standardize", "--epochs", "2", "-q")[0] == 0

    def rewrite(**changes):
        with h5py.File(model_path, "a") as f:
            training = {**json.loads(f.attrs["training"]), **changes}
            f.attrs["training"] = json.dumps({k: v for k, v in training.items() if v != "absent"})

    model = sgdcli.load_model(model_path)
    assert model.score_centre() == model.training["score_centre"] != model.bias[0]
    rewrite(score_centre="absent")
    old = sgdcli.load_model(model_path)
    assert "score_centre" not in old.training and old.score_centre() == old.bias[0]
    code, out, err = cli("evaluate", model_path, data, "--json")
    assert code == 0, err
    We = old.raw_weights()
    scores = X.astype(np.float64) @ We[0, :-1] + We[0, -1]
    acc = _streamed(scores, y.astype(float), centre=float(old.bias[0]), parts=1)
    assert json.loads(out)["auc"] == pytest.approx(acc.auc(), abs=1e-9)  # the bias's buckets, as before
    assert abs(acc.auc() - roc_auc_score(y, scores)) <= acc.auc_tie_share() / 2 + 1e-12
    rewrite(score_centre=None)  # (a centre that was not finite is written as null): the bias too
    assert sgdcli.load_model(model_path).score_centre() == old.bias[0]
    for damaged in ("0.5", 10**400):  # (JSON's integers have no bound: this one was an internal OverflowError)
        rewrite(score_centre=damaged)
        code, out, err = cli("evaluate", model_path, data)
        assert (code, err) == (2, f"sgdcli: error: {model_path}: damaged sgdcli model (training.score_centre is "
                                  "not a finite number)\n")


def test_a_binary_evaluate_holds_the_histogram_and_the_data_in_flight_no_more(tmp_path):
    """The AUC's histogram comes on top of --memory (docs/out-of-core.md), and nothing else of its size: each
    block's bincount over every bucket, and the AUC's sums over them, made arrays of the histogram's rows, and
    evaluate at --memory 1M peaked at 32 MiB."""
    import tracemalloc

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 4)).astype(np.float32)
    y = (X @ np.ones(4) + rng.normal(size=20_000) > 0).astype(float)
    path = write_table(tmp_path / "b.h5", X, y)
    model = sgdcli.train(path, TrainOptions(epochs=1))
    sgdcli.evaluate(model, path, memory=1 << 20)  # compiled, and the model's centre read
    tracemalloc.start()
    try:
        metrics = sgdcli.evaluate(model, path, memory=1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert metrics["auc"] == pytest.approx(roc_auc_score(y, X @ model.raw_weights()[0, :-1]), abs=1e-4)
    assert peak < BinaryMetrics().hist.nbytes + 2 * (1 << 20)
