"""Early stopping: watch a loss per epoch, remember the best parameters."""

from __future__ import annotations

import math

import numpy as np


class EarlyStopping:
    """Stop after ``patience`` epochs without a decrease of more than ``min_delta``."""

    def __init__(self, patience: int, min_delta: float):
        self.patience = patience
        self.min_delta = min_delta
        self.best_loss = math.inf
        self.best_params: np.ndarray | None = None
        self.best_epoch = 0
        self.stale = 0
        self.stopped = False

    def update(self, loss: float, params: np.ndarray, epoch: int) -> bool:
        """Record epoch ``epoch`` (1-based); True when training should stop."""
        if loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_params, self.best_epoch = loss, params.copy(), epoch
            self.stale = 0
        else:
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
