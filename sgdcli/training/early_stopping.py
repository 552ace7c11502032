"""Early stopping: watch a loss per epoch, remember the best parameters.

Patience counts only the epochs that end with the schedule's rate decayed
to at most SETTLED_SHARE of its peak (``settled``): a loss that stops
falling while the rate is larger has met the noise of that rate, not the
optimum.  The cosine schedule takes a large rate for the noise its decay
removes (training/rate.py), so over many epochs its first ones can plateau
far above the optimum that its end reaches.
"""

from __future__ import annotations

import math

import numpy as np

from sgdcli.engine.epoch import current_lr
from sgdcli.kernels import schedules

# Cosine's last 14%; --schedule step's third phase (γ 0.1); invscaling's 400th update (--power-t 0.5).  At half
# the peak, runs still stopped several percent above the optimum (bench/results/2026-12-04-early-stopping.md).
SETTLED_SHARE = 0.05


def settled(cfg, state) -> bool:
    """Whether the latest update's rate (warm-up aside) is at most SETTLED_SHARE of the schedule's peak, or the
    schedule is constant, whose rate (--lr auto's) is sized to the noise the whole run may keep."""
    if cfg.schedule == schedules.CONSTANT:
        return True
    return current_lr(cfg._replace(warmup=0), state) <= SETTLED_SHARE * cfg.lr


class EarlyStopping:
    """Stop after ``patience`` counted epochs without a decrease of more than ``min_delta``."""

    def __init__(self, patience: int, min_delta: float):
        self.patience = patience
        self.min_delta = min_delta
        self.best_loss = math.inf
        self.best_params: np.ndarray | None = None
        self.best_epoch = 0
        self.stale = 0
        self.stopped = False

    def update(self, loss: float, params: np.ndarray, epoch: int, counts: bool = True) -> bool:
        """Record epoch ``epoch`` (1-based); True when training should stop.  An epoch that does not ``count``
        (its schedule not ``settled``) can be the best, but is no epoch of patience."""
        if loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_params, self.best_epoch = loss, params.copy(), epoch
            self.stale = 0
        elif counts:
            self.stale += 1
            self.stopped = self.stale >= self.patience
        return self.stopped

    def state(self) -> dict:
        """Scalars for a checkpoint; ``best_params`` travels as an array beside them."""
        return {"best_loss": self.best_loss, "best_epoch": self.best_epoch, "stale": self.stale, "stopped": self.stopped}

    def restore(self, scalars: dict, best_params: np.ndarray | None) -> None:
        self.best_loss = scalars["best_loss"]
        self.best_epoch = scalars["best_epoch"]
        self.stale = scalars["stale"]
        self.stopped = scalars["stopped"]
        self.best_params = best_params
