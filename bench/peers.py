"""What users would pick instead, on the same files: scikit-learn and PyTorch.

Both read X in 64 MiB blocks from the same HDF5 file (scikit-learn's
documented out-of-core recipe is partial_fit over blocks) and report rows/s
and test log loss.
"""

from __future__ import annotations

import time

import h5py
import numpy as np

BLOCK_BYTES = 64 * 2**20


def _blocks(path: str):
    with h5py.File(path) as f:
        X, y = f["X"], f["y"]
        step = max(1, BLOCK_BYTES // (X.shape[1] * 4))
        for s in range(0, X.shape[0], step):
            yield X[s : s + step], y[s : s + step].astype(np.float64)


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _test(path: str):
    with h5py.File(path) as f:
        return f["X"][()], f["y"][()].astype(np.float64)


def sklearn_epoch(train: str, test: str, lr: float) -> dict | None:
    try:
        from sklearn.linear_model import SGDClassifier
    except ImportError:
        return None
    model = SGDClassifier(loss="log_loss", penalty=None, learning_rate="constant", eta0=lr, random_state=0)
    rows = 0
    t0 = time.perf_counter()
    for X, y in _blocks(train):
        model.partial_fit(X, y, classes=np.array([0.0, 1.0]))
        rows += len(y)
    seconds = time.perf_counter() - t0
    Xt, yt = _test(test)
    return {"seconds": seconds, "rows": rows, "log_loss": log_loss(model.predict_proba(Xt)[:, 1], yt)}


def torch_epoch(train: str, test: str, lr: float, batch: int = 256) -> dict | None:
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    model = torch.nn.Linear(100, 1)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    rows = 0
    t0 = time.perf_counter()
    for X, y in _blocks(train):
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.float32))
        for s in range(0, len(yt), batch):
            opt.zero_grad()
            loss = loss_fn(model(Xt[s : s + batch]).squeeze(1), yt[s : s + batch])
            loss.backward()
            opt.step()
        rows += len(y)
    seconds = time.perf_counter() - t0
    Xe, ye = _test(test)
    with torch.no_grad():
        p = torch.sigmoid(model(torch.from_numpy(Xe)).squeeze(1)).numpy()
    return {"seconds": seconds, "rows": rows, "log_loss": log_loss(p, ye)}
