"""Streaming evaluation metrics: each accumulator sees one block at a time.

Memory is bounded whatever the number of rows.  Accumulators of disjoint
row sets merge (``merge``), so workers of a distributed run can each measure
their share of the rows and the driver combine them.  AUC is the one metric that
needs the ranking of every score; it is computed from a histogram of 2^20
buckets (``_ordered_key``) over the scores' offsets from a centre that every
part of the rows is given before its pass (``centre``: the model's mean
score over its training rows, model/file.py ``score_centre``), with pairs in
the same bucket counted as ties.  The buckets are logarithmic in the
distance from that centre: scores in a narrow band around it (a
rare-positive model's are all near the logit of the base rate) are told
apart as finely as scores spread widely, where buckets of the scores
themselves merged a band of width 0.002 at -4.4 into one bucket.  Two
scores share a bucket only when they lie on one side of the centre and
within 2^-13 of their distance from it of each other (or both within 2^-36
of it, or both over 2^28 away), so the AUC's error is at most half the share
of positive-negative pairs of that kind (``auc_tie_share``).  A centre away
from every score (the bias of a model whose features are not centred: 1e4
spreads of its scores away, where an AUC of 0.813 came out 0.757) resolves
them only by 2^-13 of that distance: hence the mean score, in the middle of
the scores of rows like the training rows.

Every accumulator takes optional per-row weights (``--sample-weight``): each
metric is then scikit-learn's with ``sample_weight``, the row sums weighted
and the means divided by the sum of weights.  ``rows`` stays a row count.
The weighted sums are kept in units of the largest weight seen so far
(``Weighed``): every metric is a ratio of two of them, which the unit cancels
in, and weights near float64's largest (1e308) then sum without overflowing,
and its smallest (1e-200) multiply without underflowing.
"""

from __future__ import annotations

import math

import numpy as np

from sgdcli.kernels.losses import inverse_link
from sgdcli.options import MODEL_METRICS, task_of

AUC_BITS = 20
# A bucket key (``_ordered_key``): the side of the centre (1 bit), the binade of the distance from it among
# 2^6 (from 2^-36 to 2^28: scores nearer the centre than 2^-36 are ties, scores further than 2^28 from it are
# beyond any link's useful range), and the top 13 bits of the distance's mantissa.
AUC_MANTISSA_BITS = 13
AUC_LOWEST_BINADE = -36
_AUC_BINADES = 1 << (AUC_BITS - 1 - AUC_MANTISSA_BITS)
AUC_BLOCK = 1 << 14  # buckets the AUC sums at a time: temporaries far below the histogram's size


def _total(values: np.ndarray, w: np.ndarray | None) -> float:
    """The sum of ``values``, weighted by ``w`` (None: unweighted)."""
    return float(values.sum()) if w is None else float(values @ w)


def _weight(n: int, w: np.ndarray | None) -> float:
    return float(n) if w is None else float(w.sum())


class Weighed:
    """Sums of weights (and of weighted values), named in ``_sums``, kept in units of the largest weight seen
    (``unit``; 0 before any weight above 0): weights of 1e308 summed as they are overflowed to inf and made every
    metric NaN, and weights of 1e-200 (valid: weights are relative) underflowed AUC's product of the classes'
    weights to 0, and AUC to NaN."""

    _sums: tuple[str, ...] = ()
    unit = 0.0

    def _relative(self, w: np.ndarray | None) -> np.ndarray | None:
        """Weights ``w`` in the unit of the sums, raising the unit first where ``w`` holds a larger weight."""
        if w is None or not len(w):
            return w
        top = float(w.max())
        if top > self.unit:
            if self.unit > 0:  # (before, every weight was 0: every sum is 0 in any unit)
                self._rescale(self.unit / top)
            self.unit = top
        return w / self.unit if self.unit > 0 else w

    def _align(self, other: "Weighed") -> None:
        """Bring this accumulator's sums and ``other``'s to one unit (the larger), as ``merge`` needs them."""
        unit = max(self.unit, other.unit)
        for acc in (self, other):
            if acc.unit > 0:
                acc._rescale(acc.unit / unit)
            acc.unit = unit

    def _rescale(self, factor: float) -> None:
        if factor == 1.0:
            return
        for name in self._sums:
            value = getattr(self, name)
            if isinstance(value, dict):
                setattr(self, name, {key: v * factor for key, v in value.items()})
            elif isinstance(value, np.ndarray):
                value *= factor
            else:
                setattr(self, name, value * factor)


def _log_loss_binary(score: np.ndarray, y01: np.ndarray) -> np.ndarray:
    """Cross-entropy in nats of a logit, computed without overflow."""
    return np.logaddexp(0.0, score) - y01 * score


class RegressionMetrics(Weighed):
    """Errors of the predictions (the scores through the model's inverse link: exp for poisson), and for a
    huber model its loss at its ε, for a quantile model the pinball loss at its q and the fraction of targets
    below the prediction, for a poisson model the mean Poisson deviance (``param``: ε or q)."""

    _sums = ("weight", "sse", "sae", "y_m2", "extra")

    def __init__(self, model: str = "linear", param: float = 0.5):
        self.model, self.param = model, param
        self.n = 0
        self.weight = 0.0  # the rows' weights summed (their count, unweighted)
        self.sse = 0.0
        self.sae = 0.0
        self.y_mean = 0.0
        self.y_m2 = 0.0
        self.y_low, self.y_high = math.inf, -math.inf  # of the rows that weigh: both the same for a constant y
        self.extra = {name: 0.0 for name in MODEL_METRICS.get(model, ())}  # sums over rows

    def update(self, S: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> None:
        w = self._relative(w)
        pred = inverse_link(self.model, S)
        err = pred - y
        self.sse += float(err @ err) if w is None else float((err * err) @ w)
        self.sae += _total(np.abs(err), w)
        if self.model == "huber":  # ½r² within ε of the target, ε·|r| − ½ε² beyond (kernels/losses.py)
            r = np.abs(err)
            eps = self.param
            self.extra["huber"] += _total(np.where(r <= eps, 0.5 * r * r, eps * r - 0.5 * eps * eps), w)
        elif self.model == "quantile":
            r = y - pred
            q = self.param
            self.extra["pinball"] += _total(np.maximum(q * r, (q - 1.0) * r), w)
            self.extra["below"] += float(np.count_nonzero(y < pred)) if w is None else float(w[y < pred].sum())
        elif self.model == "poisson":
            with np.errstate(divide="ignore", invalid="ignore"):
                ylog = np.where(y > 0, y * np.log(y / pred), 0.0)
            self.extra["deviance"] += _total(2.0 * (ylog - (y - pred)), w)
        nb, wb = len(y), _weight(len(y), w)
        self.n += nb
        if wb == 0:
            return
        weighing = y if w is None else y[w > 0]
        self.y_low, self.y_high = min(self.y_low, float(weighing.min())), max(self.y_high, float(weighing.max()))
        mb = float(y.mean()) if w is None else float(y @ w) / wb
        m2b = _total((y - mb) ** 2, w)
        total = self.weight + wb
        delta = mb - self.y_mean
        self.y_mean += delta * wb / total
        self.y_m2 += m2b + delta * delta * self.weight * wb / total
        self.weight = total

    def merge(self, other: "RegressionMetrics") -> None:
        self._align(other)
        self.n += other.n
        total = self.weight + other.weight
        if total == 0:
            return
        self.y_low, self.y_high = min(self.y_low, other.y_low), max(self.y_high, other.y_high)
        delta = other.y_mean - self.y_mean
        self.y_m2 += other.y_m2 + delta * delta * self.weight * other.weight / total
        self.y_mean += delta * other.weight / total
        self.sse += other.sse
        self.sae += other.sae
        for name in self.extra:
            self.extra[name] += other.extra[name]
        self.weight = total

    def result(self) -> dict:
        n = _measured(self.weight)
        mse = self.sse / n
        # a constant y: scikit-learn's r2_score (force_finite=True) gives 1 for a perfect prediction, 0 otherwise
        constant = self.y_low == self.y_high or not self.y_m2 > 0
        r2 = (1.0 if self.sse == 0 else 0.0) if constant else 1.0 - self.sse / self.y_m2
        r2 = r2 if self.weight > 0 else math.nan
        return {"rows": self.n, "mse": mse, "rmse": math.sqrt(mse), "mae": self.sae / n, "r2": r2,
                **{name: total / n for name, total in self.extra.items()}}


class BinaryMetrics(Weighed):
    """Positive class = index 1 (the larger label value)."""

    _sums = ("weight", "correct", "tp", "fp", "fn", "log_loss_sum", "hist")

    def __init__(self, centre: float = 0.0):
        """``centre``: the score the AUC's buckets are centred on, the same for every part of the rows that is
        merged (the model's mean score over its training rows: ``Model.score_centre``)."""
        self.n = 0
        self.weight = 0.0
        self.correct = 0.0
        self.tp = self.fp = self.fn = 0.0
        self.log_loss_sum = 0.0
        self.centre = float(centre) if math.isfinite(centre) else 0.0
        self.hist = np.zeros((2, 1 << AUC_BITS))  # the rows' weights (counts) in each bucket, per class

    def update(self, S: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> None:
        w = self._relative(w)
        score = S[:, 0]
        truth = y > 0.5
        pred = score > 0
        self.n += len(y)
        self.weight += _weight(len(y), w)
        self.correct += _total(pred == truth, w)
        self.tp += _total(pred & truth, w)
        self.fp += _total(pred & ~truth, w)
        self.fn += _total(~pred & truth, w)
        self.log_loss_sum += _total(_log_loss_binary(score, y), w)
        keys = _ordered_key(score, self.centre)
        for cls in (0, 1):
            mine = truth == bool(cls)
            if mine.any():  # in place: a bincount of every bucket was another histogram's row a block
                np.add.at(self.hist[cls], keys[mine], 1.0 if w is None else w[mine])

    def merge(self, other: "BinaryMetrics") -> None:
        if other.centre != self.centre:
            raise ValueError(f"AUC histograms centred on {self.centre!r} and {other.centre!r} do not merge")
        self._align(other)
        self.n += other.n
        self.weight += other.weight
        self.correct += other.correct
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.log_loss_sum += other.log_loss_sum
        self.hist += other.hist

    def auc(self) -> float:
        neg, pos = self.hist[0], self.hist[1]
        n_neg, n_pos = neg.sum(), pos.sum()
        if n_neg == 0 or n_pos == 0:
            return float("nan")
        # Σ pos · (the negatives below + half those tied), AUC_BLOCK buckets at a time: arrays of every bucket
        # doubled the histogram's memory
        pairs, below = 0.0, 0.0
        for start in range(0, len(neg), AUC_BLOCK):
            n, p = neg[start:start + AUC_BLOCK], pos[start:start + AUC_BLOCK]
            up_to = np.cumsum(n)
            pairs += float(p @ (up_to - 0.5 * n + below))
            below += up_to[-1]
        return float(pairs / (n_pos * n_neg))  # (a Python float, as every other metric: not np.float64)

    def auc_tie_share(self) -> float:
        """The share of positive-negative pairs (weighted) whose scores share a bucket: ``auc`` counts each
        half, so it errs by at most half of this (less the pairs of equal scores, which are ties)."""
        neg, pos = self.hist[0], self.hist[1]
        pairs = neg.sum() * pos.sum()
        return float(neg @ pos / pairs) if pairs else float("nan")

    def result(self) -> dict:
        n = _measured(self.weight)
        none = 0.0 if self.weight > 0 else math.nan  # no positive predicted (or present): 0, unless no rows at all
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else none
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else none
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else none
        return {
            "rows": self.n,
            "accuracy": self.correct / n,
            "log_loss": self.log_loss_sum / n,
            "auc": self.auc(),
            "precision": precision,
            "recall": recall,
            "f1": f1,
        }


class MulticlassMetrics(Weighed):
    _sums = ("weight", "correct", "log_loss_sum")

    def __init__(self):
        self.n = 0
        self.weight = 0.0
        self.correct = 0.0
        self.log_loss_sum = 0.0

    def update(self, S: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> None:
        w = self._relative(w)
        cls = y.astype(np.int64)
        self.n += len(cls)
        self.weight += _weight(len(cls), w)
        self.correct += _total(S.argmax(axis=1) == cls, w)
        top = S.max(axis=1)
        lse = top + np.log(np.exp(S - top[:, None]).sum(axis=1))
        self.log_loss_sum += _total(lse - S[np.arange(len(cls)), cls], w)

    def merge(self, other: "MulticlassMetrics") -> None:
        self._align(other)
        self.n += other.n
        self.weight += other.weight
        self.correct += other.correct
        self.log_loss_sum += other.log_loss_sum

    def result(self) -> dict:
        n = _measured(self.weight)
        return {"rows": self.n, "accuracy": self.correct / n, "log_loss": self.log_loss_sum / n}


def _measured(weight: float) -> float:
    """What the metrics' sums are divided by: their rows' total weight, NaN where there is none (no rows, or
    every weight 0), so that a mean over nothing is undefined, and a gate on it fails, rather than 0."""
    return weight if weight > 0 else math.nan


def _ordered_key(score: np.ndarray, centre: float = 0.0) -> np.ndarray:
    """Bucket index (AUC_BITS bits) that orders like the score: from the float64 distance of the score from
    ``centre``, its binade among _AUC_BINADES from 2^AUC_LOWEST_BINADE (the nearer in the lowest bucket, the
    further in the highest) and the top AUC_MANTISSA_BITS of its mantissa; below the middle for scores under
    the centre, mirrored."""
    offset = np.asarray(score, dtype=np.float64) - centre
    bits = np.abs(offset).view(np.uint64)
    binade = (bits >> np.uint64(52)).astype(np.int64) - (1023 + AUC_LOWEST_BINADE)
    mantissa = ((bits >> np.uint64(52 - AUC_MANTISSA_BITS)) & np.uint64((1 << AUC_MANTISSA_BITS) - 1)).astype(np.int64)
    side = np.int64(1 << (AUC_BITS - 1))
    index = np.where(binade < 0, 0, np.minimum((binade << AUC_MANTISSA_BITS) + mantissa, side - 1))
    index = np.where(binade >= _AUC_BINADES, side - 1, index)  # beyond the last binade, or inf or NaN
    return np.where(offset < 0, side - 1 - index, side + index).astype(np.intp)


def for_task(task: str, centre: float = 0.0):
    """The accumulator of a task's metrics; ``centre``, a binary task's AUC centre (``BinaryMetrics``)."""
    if task == "binary":
        return BinaryMetrics(centre)
    return {"regression": RegressionMetrics, "multiclass": MulticlassMetrics}[task]()


def for_model(objective: tuple[str, float], centre: float = 0.0):
    """The accumulator of a model's metrics (``options.metrics_of``); ``objective``: (model, its loss's param);
    ``centre``: the score a binary model's AUC is centred on (``BinaryMetrics``)."""
    model, param = objective[0], objective[1]
    if task_of(model) == "regression":
        return RegressionMetrics(model, param)
    return for_task(task_of(model), centre)
