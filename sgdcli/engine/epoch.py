"""The training engine: one epoch over the windows of the page shuffle, as a plain function.

``run_epoch(table, state, cfg, plan, scratch, pos)`` knows nothing about
output files, progress bars or option parsing: it reads the windows of the
epoch's page shuffle (data/shuffle.py), picks the rows to train, and hands them
to the compiled kernel.  Everything it changes is in ``state`` and ``pos``, so
a resumed run calls it with a saved state and position, and a shard of a run
that averages models (parallel/) calls it for its share of the epoch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import time
from typing import Callable

import numpy as np

from sgdcli import testhooks
from sgdcli.data import shuffle
from sgdcli.data.prefetch import Window, stream_windows
from sgdcli.data.shuffle import PageShuffle
from sgdcli.data.sparse import CsrRows
from sgdcli.data.table import Table
from sgdcli.engine import csr, resample
from sgdcli.engine.divergence import diverged, scaled_from
from sgdcli.errors import DivergedError, InputError
from sgdcli.kernels import state as ks
from sgdcli.kernels.batches import finish_batch, partial_divisor, train_block
from sgdcli.kernels.densified import piece_rows
from sgdcli.kernels.rows import finite_at
from sgdcli.kernels.schedules import lr_at
from sgdcli.kernels.state import KernelConfig, Scratch, TrainState
from sgdcli.model.labels import Labels


@dataclasses.dataclass(frozen=True)
class EpochPlan:
    """What an epoch needs besides the state: data selection and order."""

    labels: Labels
    center: np.ndarray  # per-feature mean (zeros without --standardize)
    scale: np.ndarray  # per-feature 1/std (ones without --standardize)
    seed: int  # of the held-out rows (the shuffle has its own)
    val_fraction: float
    drop_last: bool
    pages: PageShuffle  # the visiting order of every epoch
    skip_bad: bool = False  # --bad-rows skip: leave out rows with non-finite values
    skipped: int = 0  # rows the label pass found skip_bad leaves out: averaged models' shares are cut around them
    weight_scale: float | None = None  # what the sample weights are multiplied by (model/weights.py); None: none
    # weighted runs on batches that are not full: the rows drawn in proportion to their weights (resample.py),
    # each class's rows weighing these (the kernels' class weights; None: 1 each)
    resample: bool = False
    class_weights: np.ndarray | None = None
    suggest_lr_auto: bool = False  # the rate is an explicit --lr: a divergence's message suggests --lr auto
    lr_scale: float = 1.0  # what --lr-scaling multiplied --lr by: a divergence's message suggests values of --lr
    keep_step: bool = False  # the kernels keep each step's gradient (kernels/state.py Scratch.stepped)

    @functools.cached_property
    def shift(self) -> np.ndarray | None:
        """What centres sparse rows once scaled (center × scale: kernels/sparse.py); None where nothing does."""
        return self.center * self.scale if self.center.any() else None


@dataclasses.dataclass(frozen=True)
class EpochResult:
    iterations: int
    rows: int
    train_loss: float
    bad_rows: int  # rows skipped for non-finite values (--bad-rows skip)
    finished: bool = True  # False: a distributed round stopped at ``max_rows`` before the shard's end


@dataclasses.dataclass
class Kept:
    """A shard's window that a round of averaged models (parallel/averaging.py) ended inside, as ``run_epoch``
    prepared it, for the next round of that shard, which starts there: prepared again (its visiting order, its
    labels, the rows to train), each round cost the whole window's work, however few rows it trained.  Held
    between rounds, it is the window a round trains, within the shard's --memory."""

    key: tuple | None = None  # (the table, epoch, position in the shard's order, its segment)
    window: tuple | None = None


def trained(window: Window, plan: EpochPlan) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, int]:
    """Positions (in visiting order) of the rows of ``window`` to train, and the count of non-finite ones skipped.

    Also X and the rows of it to visit, where finding the bad rows made the
    window copy its rows (``None, None``: not copied yet).
    """
    keep = ~shuffle.held_out(window.rows, plan.val_fraction, plan.seed) if plan.val_fraction > 0 else None
    X, xrows, bad = window.X, window.xrows, 0
    if plan.skip_bad:  # --bad-rows skip looks at every row's values first
        if isinstance(X, CsrRows):
            finite = X.finite_rows()[xrows] & np.isfinite(window.y)
        else:
            if X is None:
                X, xrows = flat(window.gather(np.arange(len(window.rows))))
            finite = finite_at(X, len(plan.center), xrows, window.y, np.empty(len(window.rows), dtype=np.bool_))
        bad = int(np.count_nonzero(~finite if keep is None else keep & ~finite))
        keep = finite if keep is None else keep & finite
    positions = np.arange(len(window.rows)) if keep is None else np.flatnonzero(keep)
    return positions, X, xrows, bad


def undrawn_bad(window: Window, X, xrows: np.ndarray | None, positions: np.ndarray, picks: np.ndarray,
                d: int) -> int | None:
    """--bad-rows error where a window's rows are drawn by weight (``picks`` of its ``positions``; ``X`` and
    ``xrows`` as ``trained`` returns them, ``d`` features): the file row of the first row that no draw visits
    and whose features are not all finite, or None.  The kernels stop at a bad row they visit; one never drawn
    (a light row, or one of weight 0) would be trained past without a word.  Asked in the first epoch only: every row is
    checked by its end, by the kernels or here (a resumed run's file is the one checked, inputs.py)."""
    undrawn = positions[np.bincount(picks, minlength=len(positions)) == 0]
    if not len(undrawn):
        return None
    if isinstance(X, CsrRows):
        finite = X.finite_rows()[xrows[undrawn]]
    else:
        values, at = flat(window.gather(undrawn)) if X is None else (X, xrows[undrawn])
        finite = finite_at(values, d, at, np.zeros(len(undrawn)), np.empty(len(undrawn), dtype=np.bool_))
    bad = np.flatnonzero(~finite)
    return int(window.rows[undrawn[bad[0]]]) if len(bad) else None


def flat(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D buffer of rows as the kernels read it: one flat array, and the element offset of each row."""
    return X.reshape(-1), np.arange(X.shape[0], dtype=np.int64) * X.shape[1]


# Rows handed to the kernel per call.  Slices are counted from the start of each
# block, so the slicing (and with it every floating-point sum) is the same in a
# straight run and in a resumed one; the gaps between calls are the safe points
# where a checkpoint can be taken or a signal acted on.  Tests make them small
# (testhooks.py) to interrupt tiny runs mid-epoch.
SLICE_ROWS = testhooks.SLICE_ROWS or 1 << 16


@dataclasses.dataclass
class Position:
    """A safe point: epoch in progress, k-th window (or segment of one) of its visiting order, rows of it done."""

    epoch: int = 0
    block: int = 0
    row: int = 0
    epoch_start_t: int = 0  # updates done before this epoch
    rows_seen: int = 0  # rows handed to the kernel in this epoch
    bad_rows: int = 0  # rows skipped in this epoch
    seconds: float = 0.0  # training time spent in this epoch before the latest resume
    shards: list | None = None  # runs that average models: per shard [block, row, steps, done] (parallel/averaging.py)
    lr_halvings: int = 0  # times --lr auto's rate was halved after a blow-up (training/rate.py)

    @property
    def fresh(self) -> bool:
        return self.block == 0 and self.row == 0


def begin_epoch(state: TrainState, pos: Position) -> None:
    """Reset the epoch's counters for a fresh epoch ``pos.epoch``: its loss and rows, and where its steps began."""
    state.counters[ks.EPOCH] = pos.epoch
    state.sums[ks.EPOCH_LOSS] = 0.0
    state.sums[ks.EPOCH_ROWS] = 0.0
    pos.epoch_start_t = int(state.counters[ks.T])
    pos.rows_seen = pos.bad_rows = 0


def epoch_result(state: TrainState, pos: Position, iterations: int, finished: bool = True) -> EpochResult:
    """The figures of the epoch in progress: ``iterations`` updates, the rows trained, their mean loss."""
    trained = int(state.sums[ks.EPOCH_ROWS])
    return EpochResult(
        iterations=iterations,
        rows=trained,
        train_loss=float(state.sums[ks.EPOCH_LOSS] / trained) if trained else float("nan"),
        bad_rows=pos.bad_rows,
        finished=finished,
    )


def running_loss(state: TrainState) -> float:
    """The mean loss of the epoch's rows so far, for progress reports."""
    return state.sums[ks.EPOCH_LOSS] / max(state.sums[ks.EPOCH_ROWS], 1.0)


def rows_done(pos: Position, state: TrainState, plan: EpochPlan) -> int:
    """The rows of the epoch in progress that progress reports: those trained, and those of the batch being
    filled, which its step will train; with --drop-last that batch counts once stepped (the epoch's last, partial,
    is dropped), so the count never goes down and ends at the rows the epoch trained."""
    return pos.rows_seen - (int(state.counters[ks.FILL]) if plan.drop_last else 0)


def run_epoch(
    table: Table,
    state: TrainState,
    cfg: KernelConfig,
    plan: EpochPlan,
    scratch: Scratch,
    pos: Position,
    on_progress: Callable[[int, int, float, float], None] | None = None,
    safe_point: Callable[[Position], None] | None = None,
    segments: list[tuple[int, int, int]] | None = None,
    max_rows: int | None = None,
    kept: Kept | None = None,
) -> EpochResult:
    """Train from ``pos`` to the end of epoch ``pos.epoch``; returns the epoch's figures.

    ``pos`` is updated in place at every safe point, where ``safe_point(pos)`` is
    called (it may write a checkpoint, or raise to stop).  ``on_progress(iterations,
    rows, running_loss, lr)`` is called after every kernel call.

    A shard of a run that averages models (parallel/averaging.py) passes its
    share: ``segments``, the (window, lo, hi) ranges of the rows trained
    (neither held out nor skipped) that it visits this epoch (``shuffle.deal``;
    default: every window whole, in order), and
    ``max_rows``, where its round ends.  The epoch's last partial batch is
    then taken only if the shard ends within the round (``EpochResult.finished``).
    ``kept``: the shard's window that its last round ended inside (``Kept``), used where this round starts in it,
    and set to the one this round ends inside.
    """
    counters = state.counters
    if pos.fresh:
        begin_epoch(state, pos)
    epoch, t0 = pos.epoch, pos.epoch_start_t
    if segments is None:
        sizes = plan.pages.window_sizes(plan.pages.extent_order(epoch))
        segments = [(w, 0, size) for w, size in enumerate(sizes)]
    budget = math.inf if max_rows is None else max_rows
    first = pos.block
    cached = None
    if kept is not None:  # taken, and kept again below where this round ends inside a window
        if pos.row > 0 and kept.key == (table, epoch, first, segments[first]):
            cached = kept.window
        kept.key = kept.window = None

    def prepare(window: Window, j: int):  # the j-th window of the shard's order; in the reader thread, while
        # the window before trains
        _, lo, hi = segments[j]
        positions, X, xrows, bad = trained(window, plan)
        positions = shuffle.segment_rows(positions, lo, hi, len(positions))  # the deal counted the rows trained
        every = len(positions) == len(window.rows)  # every row of the window: no copies
        rows = window.rows if every else window.rows[positions]
        # the window's labels are the reader's own copy (Window.y), encoded where they lie
        y = plan.labels.encode_at(window.y if every else window.y[positions], rows, table.where(table.y_name),
                                  in_place=True)
        w = None
        if plan.weight_scale is not None:
            w = (window.w if every else window.w[positions]) * plan.weight_scale
        if plan.resample:
            drawn = resample.draws(y, w, plan.class_weights, (plan.pages.seed, epoch, segments[j][0], lo))
            if drawn is not None:
                picks, w = drawn
                bad_row = (undrawn_bad(window, X, xrows, positions, picks, len(plan.center))
                           if epoch == 0 and not plan.skip_bad else None)
                if bad_row is not None:
                    raise InputError(table.nonfinite(bad_row))
                positions, rows, y, every = positions[picks], rows[picks], y[picks], False
            elif w is None:  # rows of one weight, each once at its class's: weights of 1 keep the kernels
                w = np.ones(len(rows))  # compile_kernels compiled for the draws' (a kernel of none compiled mid-epoch)
        if X is None:  # copied out of the mapped file in visiting order: the kernel reads it in sequence
            X, xrows = flat(window.gather(positions))
        elif not every:
            xrows = xrows[positions]
        # a window split between shards: its bad rows are counted once, by the segment that starts it
        return rows, X, xrows, y, w, bad if lo == 0 else 0

    # closed here, whatever happens: a generator left to the garbage collector would shut its reader down
    # in whichever thread collects it, which can deadlock (a thread being started, with its locks held)
    def visits(head: list):
        """The kept window (``head``), then the others streamed, from when the kept one is done, as far as the
        rows left to the round reach (``_reached``: the stream reads a window ahead, which a round that ended
        before it read in vain, and the next read again); and on, where a window held fewer rows than its
        segment counts (rows --bad-rows skip leaves out, which one shard's are not cut around)."""
        if head:
            yield head.pop()
        while pos.block < len(segments) and budget > 0:  # (where the round is: the windows before are trained)
            start = pos.block
            stop = _reached(segments, start, pos.row, budget)
            with contextlib.closing(stream_windows(table, plan.pages, epoch, [w for w, _, _ in segments[start:stop]],
                                                   lambda window, i, at=start: prepare(window, at + i))) as windows:
                yield from windows
            windows = None  # (the finished stream's buffers go before the next stream's are made)

    with contextlib.closing(visits([cached] if cached is not None else [])) as windows:
        cached = None  # (held by the generator alone, which lets go of it once it is trained)
        for k, prepared in enumerate(windows, start=first):
            rows, X, xrows, y, w, bad = prepared
            if budget <= 0:  # the round ended with the window before
                return epoch_result(state, pos, int(counters[ks.T]) - t0, finished=False)
            start_row = pos.row if k == first else 0
            if start_row == 0:
                pos.bad_rows += bad
            lo = start_row
            while lo < len(rows) and budget > 0:
                # slices end at multiples of SLICE_ROWS from the window's start, whatever the budget
                hi = min((lo // SLICE_ROWS + 1) * SLICE_ROWS, len(rows), lo + budget)
                sw = None if w is None else w[lo:hi]
                if table.sparse:
                    status = csr.train(cfg, X, y[lo:hi], xrows[lo:hi], plan, state, scratch, sw)
                else:
                    status = train_block(cfg, X, y[lo:hi], xrows[lo:hi], plan.center, plan.scale, state, scratch, sw)
                if status == ks.BAD_ROW:
                    raise InputError(table.nonfinite(int(rows[lo + int(counters[ks.BAD])])))
                if status == ks.DIVERGED:
                    raise _diverged(cfg, state, epoch, t0, plan)
                pos.block, pos.row = k, hi
                pos.rows_seen += hi - lo
                if on_progress is not None:
                    on_progress(int(counters[ks.T]) - t0, rows_done(pos, state, plan), running_loss(state),
                                current_lr(cfg, state))
                if safe_point is not None:
                    safe_point(pos)
                budget -= hi - lo
                lo = hi
            if lo < len(rows):  # the round ended inside this window: kept for the next
                if kept is not None:
                    kept.key, kept.window = (table, epoch, k, segments[k]), prepared
                return epoch_result(state, pos, int(counters[ks.T]) - t0, finished=False)
            pos.block, pos.row = k + 1, 0
    if pos.block < len(segments):  # the round ended at the end of a window, its rows spent
        return epoch_result(state, pos, int(counters[ks.T]) - t0, finished=False)
    if counters[ks.FILL] > 0:
        if plan.drop_last:  # neither its step nor its loss and rows (the kernels add those at a step)
            pos.rows_seen -= int(counters[ks.FILL])  # nor rows of the epoch (a share's are summed: averaging.py)
            state.G[:] = 0.0
            counters[ks.FILL] = 0
            state.sums[ks.BATCH_LOSS] = 0.0
            if table.sparse:  # nor its touched columns, which the next epoch's first batch would step on
                scratch.marks[scratch.touched[: scratch.n_touched[0]]] = 0
                scratch.n_touched[0] = 0
        else:  # over the whole batch's rows where the model stepped on a whole batch this epoch
            divisor = partial_divisor(cfg.batch_size, int(counters[ks.FILL]), int(counters[ks.T]) > t0)
            if not (csr.finish(cfg, plan, state, scratch, divisor) if table.sparse else
                    finish_batch(cfg, state, scratch, plan.center, plan.scale, divisor)):
                raise _diverged(cfg, state, epoch, t0, plan)
    return epoch_result(state, pos, int(counters[ks.T]) - t0, finished=True)


def _reached(segments: list, first: int, row: int, budget: float) -> int:
    """Where the windows end that ``budget`` rows from row ``row`` of segment ``first`` reach, each segment
    counted as its hi - lo rows (a window may train fewer: ``run_epoch`` streams on from there)."""
    stop, left = first, budget
    while stop < len(segments) and left > 0:
        _, lo, hi = segments[stop]
        left -= hi - lo - (row if stop == first else 0)
        stop += 1
    return stop


def scratch_for(table: Table, cfg: KernelConfig, parts: int, k_out: int, keep_step: bool = False) -> Scratch:
    """The kernels' work arrays for ``k_out`` outputs on ``parts`` threads, for the rows of ``table`` as the
    kernels of ``cfg`` take them: dense, CSR, or CSR made dense a piece at a time (engine/csr.py)."""
    pieces = piece_rows(table.n_features) if table.sparse and not cfg.sparse else 0
    parts = 1 if pieces else parts  # (the pieces train on one thread: no other thread's gradient sums)
    return Scratch.make(parts, k_out, table.n_features, sparse=cfg.sparse, keep_step=keep_step,
                        lazy_momentum=cfg.lazy_momentum, piece_rows=pieces)


def current_lr(cfg: KernelConfig, state: TrainState) -> float:
    """The learning rate of the latest update (of the first, before any)."""
    t = max(int(state.counters[ks.T]) - 1, 0)
    return float(lr_at(cfg, t, int(state.counters[ks.EPOCH])))


def compile_kernels(table: Table, cfg: KernelConfig, plan: EpochPlan, scratch: Scratch) -> float:
    """Compile (or load from the cache) the kernels an epoch needs, on one row; returns the seconds it took.

    Called before the first epoch, so that no epoch's time includes compiling.
    """
    t0 = time.perf_counter()
    plan.pages.visit(0, 0, plan.pages.extent_order(0)[:1])
    sw = None if plan.weight_scale is None and not plan.resample else np.zeros(0)
    if table.sparse:
        csr.compile_kernels(cfg, table.X.read(0, 1), plan, scratch, sw, table.n_features)
        return time.perf_counter() - t0
    one = np.ones(1, dtype=np.int64)
    table.X.page_in(one - 1, one, one - 1, 1)
    X = table.X.in_place()  # the type the kernel will read: the mapped file, or a buffer
    X = flat(table.X.read(0, 1, None))[0] if X is None else X
    y = np.zeros(1)  # labels as the kernels take them (float64); row 0's own may be one --bad-rows skips
    state = TrainState.zeros(plan.labels.n_outputs, table.n_features)
    train_block(cfg, X, y, np.empty(0, dtype=np.int64), plan.center, plan.scale, state, scratch, sw)
    return time.perf_counter() - t0


def _diverged(cfg, state, epoch, t0, plan: EpochPlan) -> DivergedError:
    """The error of a step that left a non-finite loss or weight: the rate then (the schedule's, the rate it
    scales, and the --lr that --lr-scaling made that rate of), and what to change, in values of --lr (and --lr
    auto where the rate was given); a penalty that overshoots zero by itself at that rate first."""
    lr, scaled = current_lr(cfg, state), scaled_from(cfg.lr, plan.lr_scale)
    given = cfg.lr / plan.lr_scale  # the --lr of the command line (or --lr auto's rate)
    return diverged(f"training diverged in epoch {epoch + 1} at iteration {int(state.counters[ks.T]) - t0 + 1}: "
                    f"the loss or weights became non-finite at learning rate {lr:.4g} (of a rate of {cfg.lr:.4g} "
                    f"before the schedule{f': {scaled}' if scaled else ''}); ", cfg.lr, given, cfg.l2,
                    cfg.standardized, larger_batch=True, lr_auto=plan.suggest_lr_auto)
