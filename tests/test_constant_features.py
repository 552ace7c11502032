"""A feature that holds one value (a source id, an export date) under standardization: scale 0, so it adds
nothing and its weight stays 0, whatever its value.  Scaled by 1 around its own huge mean (2^63 + 12345, a
datetime64[ns] of 1.7e18), its gradient was the rounding error of Σg·x − μ·Σg: the model ended as the constant
model (exit 0) or the run diverged."""

import h5py
import numpy as np
import pytest

from sgdcli import predict, train
from sgdcli.model.file import load_model
from sgdcli.options import TrainOptions

from conftest import cli, short_fits

# separable rows and short runs: the fit warnings are right and beside the point of these tests
pytestmark = short_fits

N = 1000


def _file(path, column):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=N), rng.normal(size=N)
    with h5py.File(path, "w") as f:
        f["X"] = np.column_stack([a, b, column])
        f["y"] = (a > 0).astype(int)
        f["X2"] = np.column_stack([a, b])
    return str(path)


def _predictions(model, path, out):
    predict(model, path, out, proba=True)
    with h5py.File(out) as f:
        return f["proba"][:, 1]


@pytest.mark.parametrize("value", [float(2**63 + 12345), 1.7e18, 3.0])
@pytest.mark.parametrize("optimizer", ["auto", "adam"])
def test_a_constant_column_trains_as_without_it(tmp_path, value, optimizer):
    path = _file(tmp_path / "d.h5", np.full(N, value))
    opts = TrainOptions(optimizer=optimizer, seed=1)
    m = train(path, opts)
    alone = train(path, TrainOptions(x="X2", optimizer=optimizer, seed=1))  # the same rows without the column
    assert m.scale[2] == 0 and m.center[2] == np.float32(value) and (m.weights[:, 2] == 0).all()
    assert m.training["lr"] == pytest.approx(alone.training["lr"], rel=1e-9)  # --lr auto does not see it
    np.testing.assert_allclose([h["train_loss"] for h in m.history], [h["train_loss"] for h in alone.history],
                               rtol=1e-9)
    assert m.history[-1]["train_loss"] < 0.3  # learnt: the constant model is at 0.69
    raw, raw_alone = m.raw_weights(), alone.raw_weights()  # the bias is not moved by the column's mean
    assert raw[0, 2] == 0
    np.testing.assert_allclose(raw[0, [0, 1, 3]], raw_alone[0], rtol=1e-9)
    a, b = _ab(path)
    np.testing.assert_allclose(_predictions(m, path, tmp_path / "p.h5"),
                               1 / (1 + np.exp(-(raw_alone[0, 0] * a + raw_alone[0, 1] * b + raw_alone[0, 2]))),
                               rtol=1e-6, atol=1e-12)

def _ab(path):
    with h5py.File(path) as f:
        X = f["X2"][()].astype(np.float32).astype(np.float64)  # as read: float32
    return X[:, 0], X[:, 1]


@pytest.mark.parametrize("variation", ["below float32", "a few float32 steps"])
def test_a_near_constant_huge_column_does_not_diverge(tmp_path, variation):
    """1.7e18 plus small integers is one value as float32 (features are read as float32): scale 0. Plus a
    few float32 steps (2^37 at 1.7e18) it is a feature of its own, standardized about its mean."""
    rng = np.random.default_rng(3)
    k = rng.integers(0, 100, N) if variation == "below float32" else rng.integers(0, 4, N) * 2.0**37
    path = _file(tmp_path / "d.h5", 1.7e18 + k)
    code, out, err = cli("train", path, "-o", tmp_path / "m.h5", "-q")
    assert code == 0, err
    m = load_model(tmp_path / "m.h5")
    assert (m.scale[2] == 0) == (variation == "below float32")
    alone = train(path, TrainOptions(x="X2"))
    assert m.history[-1]["train_loss"] < 1.5 * alone.history[-1]["train_loss"] < 0.1


def test_models_with_a_scale_of_one_for_a_constant_column_score_as_before(tmp_path):
    """A model written before (a constant column's scale 1, its weight whatever training gave it) scores with
    the same formula: weights · (x − center) / scale + bias."""
    path = _file(tmp_path / "d.h5", np.full(N, 7.0))
    m = train(path, TrainOptions())
    m.scale[2], m.weights[0, 2] = 1.0, 0.25
    m.save(tmp_path / "old.h5")
    old = load_model(tmp_path / "old.h5")
    with h5py.File(path) as f:
        X = f["X"][()].astype(np.float32).astype(np.float64)
    s = ((X - old.center) / old.scale) @ old.weights[0] + old.bias[0]
    np.testing.assert_allclose(_predictions(old, path, tmp_path / "p.h5"), 1 / (1 + np.exp(-s)), rtol=1e-9, atol=1e-12)
    assert cli("evaluate", tmp_path / "old.h5", path)[0] == 0


def test_a_run_with_a_constant_column_resumes_from_its_checkpoint_bit_for_bit(tmp_path):
    """Its checkpoint keeps the column's standard deviation, 0, which a resume must take as it is."""
    import os
    import signal

    import sgdcli
    from sgdcli.errors import Interrupted

    path = _file(tmp_path / "d.h5", np.full(N, 1.7e18))
    model, ckpt = tmp_path / "m.h5", str(tmp_path / "m.h5.ckpt")
    control = sgdcli.RunControl(checkpoint=ckpt, stop=lambda: signal.SIGTERM if os.path.exists(ckpt) else None)
    with pytest.raises(Interrupted):
        train(path, TrainOptions(epochs=3, threads=1, seed=3), output=model, control=control)
    code, out, err = cli("train", path, "-o", model, "--resume", "-q", "--epochs", "3", "--threads", "1", "--seed", "3")
    assert code == 0, err
    straight = train(path, TrainOptions(epochs=3, threads=1, seed=3))
    resumed = load_model(model)
    assert resumed.scale[2] == 0
    np.testing.assert_array_equal(resumed.weights, straight.weights)
    np.testing.assert_array_equal(resumed.bias, straight.bias)
