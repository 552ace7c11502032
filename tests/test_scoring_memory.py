"""evaluate and predict hold their blocks within --memory, the work on each block's scores counted too: on rows
of few features the metrics' and the written predictions' per-row arrays are larger than the rows themselves,
and were not counted (evaluate of 2 features at --memory 4M held 6.5 MiB besides the AUC's histogram; predict
to CSV with --proba 8.2 MiB)."""

import tracemalloc

import numpy as np
import pytest

import sgdcli
from sgdcli import TrainOptions
from sgdcli.model.metrics import BinaryMetrics

from conftest import write_table

MEMORY = 4 << 20
ROWS = 300_000


@pytest.fixture(scope="module")
def narrow(tmp_path_factory):
    """Two features, and labels of two and of three classes."""
    root = tmp_path_factory.mktemp("narrow")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(ROWS, 2)).astype(np.float32)
    binary = (X @ np.ones(2) + rng.normal(size=ROWS) > 0).astype(float)
    files = {"logistic": write_table(root / "binary.h5", X, binary),
             "softmax": write_table(root / "three.h5", X, binary + (X[:, 0] > 1))}
    return root, {model: (path, sgdcli.train(path, TrainOptions(model=model, epochs=1)))
                  for model, path in files.items()}


def _peak(call) -> int:
    call()  # compiled
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("model", ["logistic", "softmax"])
def test_evaluate_holds_at_most_memory_besides_the_auc_histogram(narrow, model):
    _, models = narrow
    path, trained = models[model]
    peak = _peak(lambda: sgdcli.evaluate(trained, path, memory=MEMORY))
    histogram = BinaryMetrics().hist.nbytes if model == "logistic" else 0
    assert peak - histogram <= MEMORY


@pytest.mark.parametrize("suffix", ["h5", "csv"])
def test_predict_with_probabilities_holds_at_most_memory(narrow, suffix):
    root, models = narrow
    path, trained = models["softmax"]
    out = root / f"p.{suffix}"
    assert _peak(lambda: sgdcli.predict(trained, path, out, proba=True, memory=MEMORY)) <= MEMORY
