"""Streaming evaluation metrics: each accumulator sees one block at a time.

Memory is bounded whatever the number of rows.  Accumulators of disjoint
row sets merge (``merge``), so workers of a distributed run can each measure
their share of the rows and the driver combine them.  AUC is the one metric that
needs the ranking of every score; it is computed from a histogram of 2^20
buckets over the float32 scores (order-preserving bit pattern, top 20 bits),
with pairs in the same bucket counted as ties.  Its error is below 1e-4 on
ordinary data.
"""

from __future__ import annotations

import math

import numpy as np

from sgdcli.kernels.losses import inverse_link
from sgdcli.options import MODEL_METRICS, task_of

AUC_BITS = 20


def _log_loss_binary(score: np.ndarray, y01: np.ndarray) -> np.ndarray:
    """Cross-entropy in nats of a logit, computed without overflow."""
    return np.logaddexp(0.0, score) - y01 * score


class RegressionMetrics:
    """Errors of the predictions (the scores through the model's inverse link: exp for poisson), and for a
    quantile model the pinball loss at its q and the fraction of targets below the prediction, for a poisson
    model the mean Poisson deviance."""

    def __init__(self, model: str = "linear", q: float = 0.5):
        self.model, self.q = model, q
        self.n = 0
        self.sse = 0.0
        self.sae = 0.0
        self.y_mean = 0.0
        self.y_m2 = 0.0
        self.extra = {name: 0.0 for name in MODEL_METRICS.get(model, ())}  # sums over rows

    def update(self, S: np.ndarray, y: np.ndarray) -> None:
        pred = inverse_link(self.model, S)
        err = pred - y
        self.sse += float(err @ err)
        self.sae += float(np.abs(err).sum())
        if self.model == "quantile":
            r = y - pred
            self.extra["pinball"] += float(np.maximum(self.q * r, (self.q - 1.0) * r).sum())
            self.extra["below"] += float(np.count_nonzero(y < pred))
        elif self.model == "poisson":
            with np.errstate(divide="ignore", invalid="ignore"):
                ylog = np.where(y > 0, y * np.log(y / pred), 0.0)
            self.extra["deviance"] += float((2.0 * (ylog - (y - pred))).sum())
        nb = len(y)
        if nb == 0:
            return
        mb = float(y.mean())
        m2b = float(((y - mb) ** 2).sum())
        n = self.n + nb
        delta = mb - self.y_mean
        self.y_mean += delta * nb / n
        self.y_m2 += m2b + delta * delta * self.n * nb / n
        self.n = n

    def merge(self, other: "RegressionMetrics") -> None:
        n = self.n + other.n
        if n == 0:
            return
        delta = other.y_mean - self.y_mean
        self.y_m2 += other.y_m2 + delta * delta * self.n * other.n / n
        self.y_mean += delta * other.n / n
        self.sse += other.sse
        self.sae += other.sae
        for name in self.extra:
            self.extra[name] += other.extra[name]
        self.n = n

    def result(self) -> dict:
        n = max(self.n, 1)
        mse = self.sse / n
        r2 = 1.0 - self.sse / self.y_m2 if self.y_m2 > 0 else (1.0 if self.sse == 0 else float("-inf"))
        return {"rows": self.n, "mse": mse, "rmse": math.sqrt(mse), "mae": self.sae / n, "r2": r2,
                **{name: total / n for name, total in self.extra.items()}}


class BinaryMetrics:
    """Positive class = index 1 (the larger label value)."""

    def __init__(self):
        self.n = 0
        self.correct = 0
        self.tp = self.fp = self.fn = 0
        self.log_loss_sum = 0.0
        self.hist = np.zeros((2, 1 << AUC_BITS), dtype=np.int64)

    def update(self, S: np.ndarray, y: np.ndarray) -> None:
        score = S[:, 0]
        truth = y > 0.5
        pred = score > 0
        self.n += len(y)
        self.correct += int((pred == truth).sum())
        self.tp += int((pred & truth).sum())
        self.fp += int((pred & ~truth).sum())
        self.fn += int((~pred & truth).sum())
        self.log_loss_sum += float(_log_loss_binary(score, y).sum())
        keys = _ordered_key(score)
        for cls in (0, 1):
            sel = keys[truth == bool(cls)]
            if sel.size:
                self.hist[cls] += np.bincount(sel, minlength=1 << AUC_BITS)

    def merge(self, other: "BinaryMetrics") -> None:
        self.n += other.n
        self.correct += other.correct
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.log_loss_sum += other.log_loss_sum
        self.hist += other.hist

    def auc(self) -> float:
        neg, pos = self.hist[0].astype(np.float64), self.hist[1].astype(np.float64)
        n_neg, n_pos = neg.sum(), pos.sum()
        if n_neg == 0 or n_pos == 0:
            return float("nan")
        below = np.cumsum(neg) - neg
        return float((pos * (below + 0.5 * neg)).sum() / (n_pos * n_neg))

    def result(self) -> dict:
        n = max(self.n, 1)
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {
            "rows": self.n,
            "accuracy": self.correct / n,
            "log_loss": self.log_loss_sum / n,
            "auc": self.auc(),
            "precision": precision,
            "recall": recall,
            "f1": f1,
        }


class MulticlassMetrics:
    def __init__(self):
        self.n = 0
        self.correct = 0
        self.log_loss_sum = 0.0

    def update(self, S: np.ndarray, y: np.ndarray) -> None:
        cls = y.astype(np.int64)
        self.n += len(cls)
        self.correct += int((S.argmax(axis=1) == cls).sum())
        top = S.max(axis=1)
        lse = top + np.log(np.exp(S - top[:, None]).sum(axis=1))
        self.log_loss_sum += float((lse - S[np.arange(len(cls)), cls]).sum())

    def merge(self, other: "MulticlassMetrics") -> None:
        self.n += other.n
        self.correct += other.correct
        self.log_loss_sum += other.log_loss_sum

    def result(self) -> dict:
        n = max(self.n, 1)
        return {"rows": self.n, "accuracy": self.correct / n, "log_loss": self.log_loss_sum / n}


def _ordered_key(score: np.ndarray) -> np.ndarray:
    """Bucket index that orders like the float32 score (top AUC_BITS of its bits)."""
    bits = np.ascontiguousarray(score, dtype=np.float32).view(np.uint32)
    neg = (bits >> np.uint32(31)).astype(bool)
    key = np.where(neg, ~bits, bits | np.uint32(0x80000000))
    return (key >> np.uint32(32 - AUC_BITS)).astype(np.intp)


def for_task(task: str):
    return {"regression": RegressionMetrics, "binary": BinaryMetrics, "multiclass": MulticlassMetrics}[task]()


def for_model(objective: tuple[str, float]):
    """The accumulator of a model's metrics (``options.metrics_of``); ``objective``: (model, its loss's param)."""
    model, param = objective[0], objective[1]
    if task_of(model) == "regression":
        return RegressionMetrics(model, param if model == "quantile" else 0.5)
    return for_task(task_of(model))
