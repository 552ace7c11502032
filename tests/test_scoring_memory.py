"""evaluate and predict hold their blocks within --memory, the work on each block's scores counted too: on rows
of few features the metrics' and the written predictions' per-row arrays are larger than the rows themselves,
and were not counted (evaluate of 2 features at --memory 4M held 6.5 MiB besides the AUC's histogram; predict
to CSV with --proba 8.2 MiB)."""

import tracemalloc

import numpy as np
import pytest

import sgdcli
from sgdcli import TrainOptions
from sgdcli.data.sparse import GROWTH
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


@pytest.fixture(scope="module")
def sparse(tmp_path_factory):
    """A CSR matrix of 20 nonzeros a row, and a model of it."""
    scipy_sparse = pytest.importorskip("scipy.sparse")
    import h5py

    root = tmp_path_factory.mktemp("sparse")
    M = scipy_sparse.random(ROWS // 3, 5000, density=20 / 5000, format="csr", dtype=np.float32, random_state=1)
    sums = np.asarray(M.sum(axis=1)).ravel()
    y = (sums > np.median(sums)).astype(float)
    with h5py.File(root / "csr.h5", "w") as f:
        g = f.create_group("X")
        g["data"], g["indices"], g["indptr"] = M.data, M.indices, M.indptr
        g.attrs["shape"] = M.shape
        f["y"] = y
    return root, root / "csr.h5", sgdcli.train(root / "csr.h5", TrainOptions(epochs=1))


def test_csr_blocks_are_read_into_two_buffers_and_held_within_memory(sparse):
    """A CSR block was read into arrays of its own: the one handed out before stayed alive while the next was
    read, three blocks where --memory counts two (predict at --memory 64M held 128 MiB besides its baseline)."""
    root, path, trained = sparse
    bound = MEMORY * (1 + 1 / GROWTH)  # the two buffers grow a little beyond the block that outgrew them
    assert _peak(lambda: sgdcli.predict(trained, path, root / "p.h5", memory=MEMORY)) <= bound
    peak = _peak(lambda: sgdcli.evaluate(trained, path, memory=MEMORY))
    assert peak - BinaryMetrics().hist.nbytes <= bound
