"""The AUC of the streamed histogram (model/metrics.py) against scikit-learn's exact one."""

from dataclasses import replace

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import sgdcli
from conftest import write_table
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
