"""``--lr auto``: a learning rate from the curvature of the data, chosen before training.

For a loss whose second derivative in the score is at most ``c`` (¼ for
logistic, ½ for softmax, 1 for squared error), the curvature of the mean
loss is at most ``c · λmax`` of the second-moment matrix of the features as
the model sees them (standardized, with the bias's column of ones).  A
mini-batch of B rows adds noise whose curvature grows with the trace over B,
so the rate is

    lr = 1 / (c · (λmax + trace / B)),

which is 1/L for full-batch gradient descent and approaches 1 / (c · ‖x‖²),
the stable step of one row, at batch 1.  Momentum multiplies the step by
1 / (1 − β), so its rate is scaled by (1 − β).  λmax and the trace are
measured on a sample of runs of rows spread over the file, read whole (a
chunk is decoded at most once per run, and the runs' chunks in parallel), so
the choice costs a few reads and
is the same for a seed on every run and every resume.  A run whose loss blows
up at the chosen rate (a value overflows, or an epoch ends far above the
all-zero model's loss: ``blew_up``, which every run checks) starts over from
its first epoch at half the rate (training/run.py).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from sgdcli.data.table import Table

MOMENTUM_OPTIMIZERS = ("momentum", "nesterov")
CURVATURE = {"linear": 1.0, "logistic": 0.25, "softmax": 0.5, "hinge": 1.0}  # hinge: as squared error
SAMPLE_ROWS = 4096
# Places of the file the sample is read from: where rows are read in place, many; where each read decodes a
# chunk (gzip), few, so that the sample costs a few percent of an epoch (`bench/defaults.py` notes).
SAMPLE_RUNS, DECODED_SAMPLE_RUNS = 64, 16
EXACT_UP_TO = 2048  # features up to which λmax comes from an eigendecomposition; beyond, power iteration
POWER_STEPS = 100
# Halvings after blow-ups before the run gives up: at 2^-10 of the curvature's rate, a
# blow-up is no longer the rate's fault (the message then says what else to change).
MAX_HALVINGS = 10
BLOWN_UP = 100.0  # an epoch's mean loss this many times the zero model's counts as a blow-up


@dataclasses.dataclass(frozen=True)
class AutoRate:
    lr: float
    lambda_max: float  # of the second-moment matrix of the (standardized) features and the bias
    trace: float
    rows: int  # rows sampled
    zero_loss: float = math.nan  # the mean loss of the all-zero model on the sample: where training starts
    momentum: float | None = None  # β of momentum and nesterov, which scaled the rate

    def why(self, model: str, batch: int) -> str:
        """The reason for the rate, for the log."""
        text = (f"1 / ({CURVATURE[model]:g} × ({self.lambda_max:.4g} + {self.trace:.4g} / {batch})): the largest "
                f"eigenvalue and the trace of the features' second moments on {self.rows} rows, {model}'s "
                f"curvature bound {CURVATURE[model]:g}")
        return text + (f", × (1 − momentum {self.momentum:g})" if self.momentum is not None else "")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _spans(table: Table) -> list[tuple[int, int]]:
    """The runs of rows the sample reads: spread evenly over the file."""
    n = table.n_rows
    runs = SAMPLE_RUNS if table.unit_rows == 1 else DECODED_SAMPLE_RUNS
    run = min(SAMPLE_ROWS // runs, n)
    starts = np.unique(np.linspace(0, n - run, min(runs, max(1, n // run))).astype(np.int64))
    return [(int(s), int(s) + run) for s in starts]


def sample_labels(table: Table) -> np.ndarray:
    """The labels of the sample's rows."""
    spans = _spans(table)
    return table.Y.read_ranges(spans, np.empty(sum(b - a for a, b in spans)))


def sample(table: Table, center: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows in runs spread evenly over the file, as the model sees them, with a column of ones for the bias;
    and their labels."""
    spans = _spans(table)
    buffer = np.empty((sum(b - a for a, b in spans), table.n_features), dtype=np.float32)
    rows = table.X.read_ranges(spans, buffer)  # gzip chunks decoded in parallel
    labels = sample_labels(table) if table.Y is not None else np.zeros(len(rows))
    Z = (rows.astype(np.float64) - center) * scale
    Z[~np.isfinite(Z)] = 0.0  # a bad row must not make the rate NaN (--bad-rows skip leaves it out of training)
    return np.column_stack([Z, np.ones(len(Z))]), labels


def blew_up(loss: float, zero: float) -> bool:
    """Whether an epoch's mean ``loss`` is so far above the all-zero model's (``zero``) that the rate is to blame.

    A rate past the stable one can grow the weights by orders of magnitude an
    epoch without any value overflowing, which the kernels' non-finite checks
    cannot see.
    """
    return math.isfinite(zero) and loss > BLOWN_UP * max(zero, 1e-12)


def zero_loss(model: str, labels: np.ndarray, outputs: int) -> float:
    """The mean loss of the all-zero model (every score 0) on ``labels``."""
    if model == "linear":
        finite = labels[np.isfinite(labels)]
        return float(0.5 * np.mean(finite**2)) if len(finite) else math.nan
    if model == "hinge":
        return 1.0
    return math.log(max(outputs, 2))  # logistic: ln 2; softmax: ln K


def largest_eigenvalue(Z: np.ndarray) -> float:
    """λmax of ZᵀZ / rows."""
    m, d = Z.shape
    if d <= EXACT_UP_TO:
        return float(np.linalg.eigvalsh(Z.T @ Z / m)[-1])
    v = np.full(d, 1.0 / np.sqrt(d))
    value = 0.0
    for _ in range(POWER_STEPS):
        w = Z.T @ (Z @ v) / m
        value = float(np.linalg.norm(w))
        if value == 0.0:
            break
        v = w / value
    return value


def auto_rate(table: Table, model: str, center: np.ndarray, scale: np.ndarray, batch: int, optimizer: str = "sgd",
              momentum: float = 0.0, outputs: int = 1) -> AutoRate:
    """The rate of ``--lr auto`` for ``model`` (``outputs`` scores) at ``batch`` rows with ``optimizer`` (whose
    β, for momentum and nesterov, is ``momentum``)."""
    momentum = momentum if optimizer in MOMENTUM_OPTIMIZERS else None
    Z, labels = sample(table, center, scale)
    lam = largest_eigenvalue(Z)
    trace = float(np.einsum("ij,ij->", Z, Z) / len(Z))
    lr = 1.0 / (CURVATURE[model] * (lam + trace / batch))
    if momentum is not None:
        lr *= 1.0 - momentum
    return AutoRate(lr=lr, lambda_max=lam, trace=trace, rows=len(Z), zero_loss=zero_loss(model, labels, outputs),
                    momentum=momentum)
