"""The training engine: one epoch over a list of row blocks, as a plain function.

``run_epoch(table, spans, state, cfg, plan)`` knows nothing about files of
output, progress bars or options parsing: it reads blocks, draws their order
from the seed, and hands each block to the compiled kernel.  A distributed
run can call it per shard; a resumed run can call it with a saved state.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from sgdcli import kernels, shuffle
from sgdcli.errors import DivergedError, InputError
from sgdcli.kernels import Scratch, TrainState
from sgdcli.labels import Labels
from sgdcli.prefetch import stream_blocks
from sgdcli.schedules import lr_at
from sgdcli.source import Table


@dataclasses.dataclass(frozen=True)
class EpochPlan:
    """What an epoch needs besides the state: data selection and order."""

    labels: Labels
    center: np.ndarray  # per-feature mean (zeros without --standardize)
    scale: np.ndarray  # per-feature 1/std (ones without --standardize)
    seed: int
    shuffle: bool
    val_fraction: float
    drop_last: bool
    block_rows: int


@dataclasses.dataclass(frozen=True)
class EpochResult:
    iterations: int
    rows: int
    train_loss: float


def train_rows(block_start: int, n_rows: int, val_fraction: float, seed: int) -> np.ndarray:
    """Block-local indices of the rows of a block that are trained on (not held out)."""
    if val_fraction <= 0:
        return np.arange(n_rows, dtype=np.int64)
    held = shuffle.validation_mask(block_start, block_start + n_rows, val_fraction, seed)
    return np.flatnonzero(~held).astype(np.int64)


def run_epoch(
    table: Table,
    spans: list[tuple[int, int]],
    state: TrainState,
    cfg: kernels.KernelConfig,
    plan: EpochPlan,
    epoch: int,
    scratch: Scratch,
    on_block: Callable[[int, int, float, float], None] | None = None,
) -> EpochResult:
    """One pass over every trained row of ``spans``; returns the epoch's figures.

    ``on_block(iterations, rows, running_loss, lr)`` is called after each block.
    """
    counters, sums = state.counters, state.sums
    counters[kernels.EPOCH] = epoch
    sums[kernels.EPOCH_LOSS] = 0.0
    sums[kernels.EPOCH_ROWS] = 0.0
    t0 = int(counters[kernels.T])
    order = shuffle.block_order(len(spans), plan.seed, epoch, plan.shuffle)
    rows_seen = 0
    visiting = [spans[b] for b in order]
    where = f"{table.path}:{table.x_name}"
    for b, block in zip(order, stream_blocks(table, visiting, plan.block_rows)):
        y = plan.labels.encode(block.y, f"{table.path}:{table.y_name}", block.start)
        rows = shuffle.row_order(train_rows(block.start, block.stop - block.start, plan.val_fraction, plan.seed), plan.seed, epoch, int(b), plan.shuffle)
        status = kernels.train_block(cfg, block.X, y, rows, plan.center, plan.scale, state, scratch)
        if status == kernels.BAD_ROW:
            row = block.start + int(counters[kernels.BAD])
            raise InputError(f"{where}: non-finite feature value at row {row}")
        if status == kernels.DIVERGED:
            raise _diverged(cfg, state, epoch, t0)
        rows_seen += len(rows)
        if on_block is not None:
            done = max(sums[kernels.EPOCH_ROWS], 1.0)
            on_block(int(counters[kernels.T]) - t0, rows_seen, sums[kernels.EPOCH_LOSS] / done, current_lr(cfg, state))
    if counters[kernels.FILL] > 0:
        if plan.drop_last:
            state.G[:] = 0.0
            counters[kernels.FILL] = 0
            sums[kernels.BATCH_LOSS] = 0.0
        elif not kernels.finish_batch(cfg, state, scratch, plan.center, plan.scale):
            raise _diverged(cfg, state, epoch, t0)
    trained = int(sums[kernels.EPOCH_ROWS])
    return EpochResult(
        iterations=int(counters[kernels.T]) - t0,
        rows=trained,
        train_loss=float(sums[kernels.EPOCH_LOSS] / trained) if trained else float("nan"),
    )


def current_lr(cfg: kernels.KernelConfig, state: TrainState) -> float:
    """The learning rate of the latest update (of the first, before any)."""
    t = max(int(state.counters[kernels.T]) - 1, 0)
    return float(lr_at(cfg, t, int(state.counters[kernels.EPOCH])))


def _diverged(cfg, state, epoch, t0) -> DivergedError:
    lr = current_lr(cfg, state)
    return DivergedError(
        f"training diverged in epoch {epoch + 1} at iteration {int(state.counters[kernels.T]) - t0 + 1}: "
        f"the loss or weights became non-finite at learning rate {lr:.4g}; "
        f"try a smaller --lr (e.g. {cfg.lr / 10:.4g}), --standardize, or a larger --batch-size"
    )
