"""The training engine: one epoch over a list of row blocks, as a plain function.

``run_epoch(table, spans, state, cfg, plan, scratch, pos)`` knows nothing about
output files, progress bars or option parsing: it reads blocks, draws their
order from the seed, and hands their rows to the compiled kernel.  Everything
it changes is in ``state`` and ``pos``, so a resumed run calls it with a saved
state and position, and a distributed run can call it per shard.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Callable

import numpy as np

from sgdcli import kernels, shuffle
from sgdcli.errors import DivergedError, InputError
from sgdcli.kernels import Scratch, TrainState
from sgdcli.labels import Labels
from sgdcli.prefetch import stream_blocks
from sgdcli.schedules import lr_at
from sgdcli.selection import finite_mask, select_rows
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
    skip_bad: bool = False  # --bad-rows skip: leave out rows with non-finite values


@dataclasses.dataclass(frozen=True)
class EpochResult:
    iterations: int
    rows: int
    train_loss: float
    bad_rows: int  # rows skipped for non-finite values (--bad-rows skip)
    finished: bool = True  # False: a distributed round stopped at ``max_rows`` before the shard's end


def trained_rows(block, plan: "EpochPlan") -> tuple[np.ndarray, int]:
    """Block-local rows trained on, and the count of non-finite ones skipped."""
    finite = finite_mask(block) if plan.skip_bad else None
    return select_rows(block.start, block.stop - block.start, plan.val_fraction, plan.seed, finite=finite)


# Rows handed to the kernel per call.  Slices are counted from the start of each
# block, so the slicing (and with it every floating-point sum) is the same in a
# straight run and in a resumed one; the gaps between calls are the safe points
# where a checkpoint can be taken or a signal acted on.  SGDCLI_SLICE_ROWS
# changes it (tests use small slices to interrupt tiny runs mid-epoch).
SLICE_ROWS = int(os.environ.get("SGDCLI_SLICE_ROWS", 1 << 16))


@dataclasses.dataclass
class Position:
    """A safe point: epoch in progress, k-th block of its visiting order, rows of it done."""

    epoch: int = 0
    block: int = 0
    row: int = 0
    epoch_start_t: int = 0  # updates done before this epoch
    rows_seen: int = 0  # rows handed to the kernel in this epoch
    bad_rows: int = 0  # rows skipped in this epoch
    seconds: float = 0.0  # training time spent in this epoch before the latest resume
    shards: list | None = None  # distributed runs: per worker [block, row, steps, done] (cluster.py)

    @property
    def fresh(self) -> bool:
        return self.block == 0 and self.row == 0


def run_epoch(
    table: Table,
    spans: list[tuple[int, int]],
    state: TrainState,
    cfg: kernels.KernelConfig,
    plan: EpochPlan,
    scratch: Scratch,
    pos: Position,
    on_progress: Callable[[int, int, float, float], None] | None = None,
    safe_point: Callable[[Position], None] | None = None,
    segments: list[tuple[int, int, int]] | None = None,
    max_rows: int | None = None,
) -> EpochResult:
    """Train from ``pos`` to the end of epoch ``pos.epoch``; returns the epoch's figures.

    ``pos`` is updated in place at every safe point, where ``safe_point(pos)`` is
    called (it may write a checkpoint, or raise to stop).  ``on_progress(iterations,
    rows, running_loss, lr)`` is called after every kernel call.

    A worker of a distributed run (cluster.py) passes its shard: ``segments``,
    the (block, lo, hi) raw-row ranges it visits this epoch (``shuffle.deal``;
    default: every block whole, in the epoch's order), and ``max_rows``, where
    its round ends.  The epoch's last partial batch is then taken only if the
    shard ends within the round (``EpochResult.finished``).
    """
    counters, sums = state.counters, state.sums
    if pos.fresh:
        counters[kernels.EPOCH] = pos.epoch
        sums[kernels.EPOCH_LOSS] = 0.0
        sums[kernels.EPOCH_ROWS] = 0.0
        pos.epoch_start_t = int(counters[kernels.T])
        pos.rows_seen = 0
        pos.bad_rows = 0
    epoch, t0 = pos.epoch, pos.epoch_start_t
    if segments is None:
        segments = [(int(b), 0, spans[b][1] - spans[b][0])
                    for b in shuffle.block_order(len(spans), plan.seed, epoch, plan.shuffle)]
    budget = math.inf if max_rows is None else max_rows
    where = f"{table.path}:{table.x_name}"
    first = pos.block
    visiting = [spans[b] for b, _, _ in segments[first:]]

    def prepare(block, i):  # in the reader thread, while the previous block trains
        b, lo, hi = segments[first + i]
        selected, bad = trained_rows(block, plan)
        y = plan.labels.encode_rows(block.y, selected, f"{table.path}:{table.y_name}", block.start)
        rows = shuffle.row_order(selected, plan.seed, epoch, b, plan.shuffle)
        rows = shuffle.segment_rows(rows, lo, hi, block.stop - block.start)
        X, origin = block.X, None
        if X is None:  # copied out of a chunked file in the visiting order: the kernel reads it in sequence
            X, y, origin = block.gather(rows), y[rows], rows
            rows = np.arange(len(origin))
        # a block split between shards: its bad rows are counted once, by the segment that starts it
        return block, X, y, rows, origin, bad if lo == 0 else 0

    # --bad-rows skip reads every X it trains on to find the bad rows first: no deferred copies then
    blocks = stream_blocks(table, visiting, plan.block_rows, prepare, gather=not plan.skip_bad)
    for k, (block, X, y, rows, origin, bad) in enumerate(blocks, start=first):
        if budget <= 0:  # the round ended with the block before
            blocks.close()
            return _result(state, pos, t0, finished=False)
        start_row = pos.row if k == first else 0
        if start_row == 0:
            pos.bad_rows += bad
        lo = start_row
        while lo < len(rows) and budget > 0:
            # slices end at multiples of SLICE_ROWS from the block's start, whatever the budget
            hi = min((lo // SLICE_ROWS + 1) * SLICE_ROWS, len(rows), lo + budget)
            status = kernels.train_block(cfg, X, y, rows[lo:hi], plan.center, plan.scale, state, scratch)
            if status == kernels.BAD_ROW:
                row = int(counters[kernels.BAD])
                raise InputError(f"{where}: non-finite feature value at row "
                                 f"{block.start + (row if origin is None else int(origin[row]))}")
            if status == kernels.DIVERGED:
                raise _diverged(cfg, state, epoch, t0)
            pos.block, pos.row = k, hi
            pos.rows_seen += hi - lo
            if on_progress is not None:
                done = max(sums[kernels.EPOCH_ROWS], 1.0)
                on_progress(int(counters[kernels.T]) - t0, pos.rows_seen, sums[kernels.EPOCH_LOSS] / done, current_lr(cfg, state))
            if safe_point is not None:
                safe_point(pos)
            budget -= hi - lo
            lo = hi
        if lo < len(rows):  # the round ended inside this block
            blocks.close()
            return _result(state, pos, t0, finished=False)
        pos.block, pos.row = k + 1, 0
    if counters[kernels.FILL] > 0:
        if plan.drop_last:
            state.G[:] = 0.0
            counters[kernels.FILL] = 0
            sums[kernels.BATCH_LOSS] = 0.0
        elif not kernels.finish_batch(cfg, state, scratch, plan.center, plan.scale):
            raise _diverged(cfg, state, epoch, t0)
    return _result(state, pos, t0, finished=True)


def _result(state: TrainState, pos: Position, t0: int, finished: bool) -> EpochResult:
    trained = int(state.sums[kernels.EPOCH_ROWS])
    return EpochResult(
        iterations=int(state.counters[kernels.T]) - t0,
        rows=trained,
        train_loss=float(state.sums[kernels.EPOCH_LOSS] / trained) if trained else float("nan"),
        bad_rows=pos.bad_rows,
        finished=finished,
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
