"""Every fresh logistic run that does not start at the fit of its sample (mini-batches, and full batches without
one: training/start.py) starts its bias at the labels' log-odds, and the end of a run is held to the loss of that
start, the best constant model's (training/fitwarnings.py)."""

import numpy as np
import pytest

from sgdcli import train
from sgdcli.options import TrainOptions
from sgdcli.training.runlog import FitWarning

from conftest import short_fits, write_table
from test_convergence import logistic_objective, newton_logistic
from test_full_batch import _rare


def test_rare_positives_on_large_batches_end_near_the_optimum(tmp_path):
    """Batches of 1024 at the defaults: from a bias of 0 the first steps at --lr auto's rate threw the bias far
    below the log-odds, where the loss barely curves in it, and the run ended far above the optimum's loss
    (about 30% here), unwarned."""
    path, X, y = _rare(tmp_path, n=20000)
    assert 0.005 < y.mean() < 0.02
    m = train(path, TrainOptions(model="logistic", batch_size=1024, threads=1))
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    w, b = newton_logistic(Z, y, 0.0)
    W = m.raw_weights()
    assert logistic_objective(W[0, :-1], W[0, -1], X, y, 0.0) < 1.02 * logistic_objective(w, b, Z, y, 0.0)


def unpredictive(tmp_path):
    """Features that do not predict rare labels (2% positives): the file, and the best constant model's loss."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 5)).astype(np.float32)
    y = (rng.random(4000) < 0.02).astype(np.float32)
    p = y.mean()
    return write_table(tmp_path / "noise.h5", X, y), -(p * np.log(p) + (1 - p) * np.log(1 - p))


def test_a_mini_batch_run_that_ends_above_its_start_is_told(tmp_path):
    """Features that do not predict rare labels, at a rate far too large: the loss ends far above the labels'
    best constant model's, where the run started, though below log 2, the all-zero model's, which the end was
    held to."""
    path, start = unpredictive(tmp_path)
    with pytest.warns(FitWarning, match="training ended worse than it started") as caught:
        m = train(path, TrainOptions(model="logistic", lr=10.0, schedule="constant", epochs=3, threads=1))
    assert 1.5 * start < m.history[-1]["train_loss"] < np.log(2)
    told = [str(w.message) for w in caught if "worse than it started" in str(w.message)]
    assert f"is above the model's it started from (the bias at the labels' log-odds, the best constant model) " \
           f"{start:.4g}: training ended worse" in told[0]


@short_fits  # a rate far too large: the run ends above its start, and is told so
@pytest.mark.parametrize("batch_size, rows", [("full", 4000), (256, 8000)])
def test_a_resumed_run_that_blows_up_starts_over_from_the_straight_runs_bias(tmp_path, monkeypatch, batch_size,
                                                                              rows):
    """A checkpoint keeps no class counts: a resumed run counts the labels again, so its rate (measured at the
    start) and its start over after a blow-up are the straight run's, and it ends bit for bit like it, on full
    batches and mini-batches alike."""
    import dataclasses
    import signal

    from sgdcli import RunControl
    from sgdcli.engine import epoch
    from sgdcli.errors import Interrupted
    from sgdcli.training import rate

    real = rate.auto_rate
    monkeypatch.setattr("sgdcli.training.runrate.auto_rate",
                        lambda *args, **kw: dataclasses.replace(chosen := real(*args, **kw), lr=chosen.lr * 2**12))
    monkeypatch.setattr(epoch, "SLICE_ROWS", 500)
    path, X, y = _rare(tmp_path, n=rows)
    options = TrainOptions(model="logistic", batch_size=batch_size, epochs=4, threads=1)
    straight = train(path, options)
    assert straight.training["lr_auto"]["halvings"] >= 1
    calls = []

    def stop():
        calls.append(1)
        return signal.SIGTERM if len(calls) == 6 else None  # in the first epoch, before the blow-up

    checkpoint = tmp_path / "ck.h5"
    with pytest.raises(Interrupted):
        train(path, options, control=RunControl(checkpoint=str(checkpoint), stop=stop))
    resumed = train(path, options, control=RunControl(checkpoint=str(checkpoint), resume=True))
    assert resumed.raw_weights().tobytes() == straight.raw_weights().tobytes()
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in straight.history]


def _stopped_weighted(tmp_path, monkeypatch, options):
    """The file of rare positives with a column ``w`` of sample weights, and the checkpoint of ``options``' run on
    it stopped within its first epoch: ``(path, checkpoint)``."""
    import signal

    import h5py

    from sgdcli import RunControl
    from sgdcli.engine import epoch
    from sgdcli.errors import Interrupted

    monkeypatch.setattr(epoch, "SLICE_ROWS", 500)  # safe points every 500 rows: a stop within the first epoch
    path, X, y = _rare(tmp_path, n=8000)
    with h5py.File(path, "a") as f:
        f["w"] = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    checkpoint, calls = tmp_path / "ck.h5", []

    def stop():
        calls.append(1)
        return signal.SIGTERM if len(calls) == 6 else None  # in the first epoch

    with pytest.raises(Interrupted):
        train(path, options, control=RunControl(checkpoint=str(checkpoint), stop=stop))
    return path, checkpoint


@short_fits  # two epochs of 32 updates: enough to stop in and resume
@pytest.mark.parametrize("weights", [dict(class_weight="balanced"), dict(sample_weight="w")])
def test_a_resumed_weighted_run_reads_its_labels_once(tmp_path, monkeypatch, weights):
    """A checkpoint keeps neither the class counts nor the sums of the weights: a resumed weighted logistic run
    counts the labels again for both its weights and where its bias starts, in one pass, not one for each; and it
    ends bit for bit like the straight run."""
    from sgdcli import RunControl
    from sgdcli.engine import passes

    options = TrainOptions(model="logistic", batch_size=256, epochs=2, threads=1, **weights)
    path, checkpoint = _stopped_weighted(tmp_path, monkeypatch, options)
    straight = train(path, options)
    reads, real = [], passes.label_pass
    monkeypatch.setattr(passes, "label_pass", lambda *args, **kw: reads.append(1) or real(*args, **kw))
    resumed = train(path, options, control=RunControl(checkpoint=str(checkpoint), resume=True))
    assert len(reads) == 1
    assert resumed.raw_weights().tobytes() == straight.raw_weights().tobytes()


@short_fits  # two epochs of 32 updates: enough to stop in and resume
@pytest.mark.parametrize("model, weights, told", [
    ("logistic", ["--class-weight", "balanced"], "the labels of {} (one pass): how the rows weigh and where the bias "
                                                 "starts"),
    ("logistic", ["--sample-weight", "w"], "the labels and weights of {} (one pass): how the rows weigh and where "
                                           "the bias starts"),
    ("linear", ["--sample-weight", "w"], "the labels and weights of {} (one pass): how the rows weigh"),
    ("logistic", [], "the labels of {} (one pass): where the bias starts")])
def test_a_resumed_run_says_it_reads_the_labels_again(tmp_path, monkeypatch, model, weights, told):
    """As a fresh run says of its passes, a resumed one says of the pass over the labels that the counts a
    checkpoint does not keep need: a weighted run's was read without a word."""
    from conftest import cli

    named = {"--class-weight": "class_weight", "--sample-weight": "sample_weight"}
    options = TrainOptions(model=model, batch_size=256, epochs=2, threads=1,
                           **{named[k]: v for k, v in zip(weights[::2], weights[1::2])})
    path, checkpoint = _stopped_weighted(tmp_path, monkeypatch, options)
    code, _, err = cli("train", path, "-o", tmp_path / "m.h5", "--model", model, "--batch-size", "256", "--epochs",
                       "2", "--threads", "1", *weights, "--checkpoint", checkpoint, "--resume", "--progress", "plain")
    assert code == 0, err
    assert f"resuming from {checkpoint}" in err, err  # resumed, not started over
    assert f" reading {told.format(path)}\n" in err, err
    assert err.count(" reading ") == 1, err  # that pass alone
