"""Local SGD with model averaging: shards of every epoch, trained apart, averaged every K steps.

Each epoch's rows, window after window of the epoch's page shuffle, are cut
into W equal shares (shards) of the rows trained: neither held out
(--val-fraction) nor left out (--bad-rows skip).  A round hands every shard with rows left the
current model and optimizer state; the shard runs K mini-batch steps of the
unchanged engine (``engine.run_epoch``) on its own rows and returns its
model.  The models are averaged, weighted by the rows each one trained on,
in shard order, and the next round starts from the average.

The same rounds run in two places: threads of this process
(``--parallel average``, threads.py) and Dask workers (``--dask``,
cluster.py).  A round is a pure function of its inputs, so the result
depends on W, K and the seed, never on which shard finished first or on
where it ran.  ``RoundTrainer.run_epoch`` has the contract of
``engine.epoch.run_epoch``: it updates ``state`` and ``pos`` at safe points
between rounds, where training/run.py checkpoints and handles signals.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
import uuid
from typing import Callable

import numpy as np

from sgdcli.data import shuffle
from sgdcli.data.table import Table
from sgdcli.engine import epoch as engine
from sgdcli.engine import passes
from sgdcli.engine.epoch import EpochPlan
from sgdcli.kernels import state as ks
from sgdcli.kernels.state import KernelConfig, TrainState, uses_slots
from sgdcli.reporting.reporter import counted

# Rows each shard trains between two averagings when --sync-every is not given:
# enough that a round's work is far longer than a Dask round trip on one machine
# (bench/scaling.py measures both).
DEFAULT_SYNC_ROWS = 1 << 20


def sync_steps(sync_every: int | None, batch: int) -> int:
    """Mini-batch steps per shard between averagings: ``sync_every``, or about DEFAULT_SYNC_ROWS rows' worth."""
    return sync_every or max(1, DEFAULT_SYNC_ROWS // batch)


@dataclasses.dataclass(frozen=True)
class FileRef:
    """A table as the driver sees it; every shard (a thread or a Dask worker) opens it itself, by path."""

    path: str  # absolute
    selection: dict  # what in the file is the table: Table's keywords (x, y, label_column, ...)
    fingerprint: dict  # a worker that sees another file there refuses

    @classmethod
    def of(cls, table: Table) -> "FileRef":
        return cls(os.path.abspath(table.path), table.selection(), table.fingerprint())

    def open(self) -> Table:
        return Table(self.path, **self.selection)


@dataclasses.dataclass(frozen=True)
class Job:
    """What every round of one run needs besides its state: small, sent with each round."""

    file: FileRef
    cfg: KernelConfig
    plan: EpochPlan
    threads: int  # Numba threads of a shard's kernels: per Dask worker, or 1 for a thread of --parallel average
    # the run's own: a worker keeps a shard's window between its rounds by it (parallel/worker.py), never
    # another run's
    run: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)


@dataclasses.dataclass(frozen=True)
class RoundResult:
    shard: int
    W: np.ndarray
    slots: np.ndarray | None
    t: int  # the step clock after the round
    steps: int  # mini-batch updates taken
    loss: float  # loss summed over the rows of those updates
    rows: int  # rows in those updates
    rows_seen: int  # rows read and handed to the kernel (with --drop-last, some were dropped)
    bad_rows: int  # rows skipped by --bad-rows skip in windows started this round
    block: int  # where the next round starts: segment of the shard's order, row of that segment
    row: int
    finished: bool  # the shard's rows for this epoch are all done
    seconds: float  # time in the round, where it ran


@dataclasses.dataclass(frozen=True)
class Round:
    """One shard's part of a round: where it starts, from which model, for how many steps."""

    shard: int
    segments: list  # the shard's (window, lo, hi) for the epoch (shuffle.deal)
    epoch: int
    block: int
    row: int
    W: np.ndarray
    slots: np.ndarray | None
    t: int  # the step clock now
    steps: int
    epoch_t: int  # the step clock at the start of the epoch (a divergence names the step since)


class Abandoned(Exception):
    """A round stopped at a safe point because the run is stopping; its result is never used."""


def train_round(table: Table, job: Job, r: Round, should_stop: Callable[[], bool] | None = None,
                kept: engine.Kept | None = None) -> RoundResult:
    """``r.steps`` mini-batch updates (fewer if the shard ends) over ``r.segments[r.block:]`` from row ``r.row``.

    ``job`` carries the kernel settings and epoch plan (its page shuffle).
    ``should_stop`` is asked at the engine's safe points; when it says yes the
    round raises ``Abandoned``.  ``kept``: the shard's window its last round ended inside (engine.Kept).
    """
    t0 = time.perf_counter()
    k_out, d1 = r.W.shape
    state = TrainState.zeros(k_out, d1 - 1)
    state.W[:] = r.W
    if r.slots is not None:
        state.slots[:] = r.slots
    state.counters[ks.T] = r.t
    state.counters[ks.EPOCH] = r.epoch
    pos = engine.Position(epoch=r.epoch, block=r.block, row=r.row, epoch_start_t=r.epoch_t)
    scratch = engine.scratch_for(table, job.cfg, job.threads, k_out)

    def safe_point(_pos):
        if should_stop is not None and should_stop():
            raise Abandoned()

    result = engine.run_epoch(table, state, job.cfg, job.plan, scratch, pos, segments=r.segments,
                              max_rows=r.steps * job.cfg.batch_size, safe_point=safe_point, kept=kept)
    t_after = int(state.counters[ks.T])
    return RoundResult(
        shard=r.shard,
        W=state.W,
        slots=state.slots if r.slots is not None else None,
        t=t_after,
        steps=t_after - r.t,
        loss=float(state.sums[ks.EPOCH_LOSS]),
        rows=int(state.sums[ks.EPOCH_ROWS]),
        rows_seen=pos.rows_seen,
        bad_rows=pos.bad_rows,
        block=pos.block,
        row=pos.row,
        finished=result.finished,
        seconds=time.perf_counter() - t0,
    )


class RoundTrainer:
    """Runs epochs as rounds of local SGD on ``pool`` (``threads.ThreadRounds`` or ``cluster.DaskPool``).

    A pool has ``rounds(job, rounds, on_stop) -> [RoundResult]`` (in the
    order given); it calls ``on_stop`` if the run must stop mid-round, and
    raises ``errors.WorkLost`` when a round's work is lost.
    """

    def __init__(self, pool, shards: int, steps: int, label: str = "w", data_pass=None):
        """``data_pass(fn, check_stop, progress)``: runs ``fn``, a pass of engine/passes.py, over the training
        file (where the executor runs its passes); needed where --bad-rows skip leaves rows out
        (``cut_shares``)."""
        self.pool, self.shards, self.steps, self.label = pool, shards, steps, label
        self.data_pass = data_pass
        self.round_seconds: list[float] = []  # wall time of each round
        self.compute_seconds: list[float] = []  # the slowest shard's time in each round
        self._plan: EpochPlan | None = None  # the plan cut_shares counted for
        self._kept: np.ndarray | None = None  # the rows of each extent trained, where some are not (cut_shares)

    def cut_shares(self, plan: EpochPlan, path: str, say: Callable[[str], None],
                   check_stop: Callable[[], None], progress: Callable[[int, int], None] | None = None) -> None:
        """Before the first epoch of ``plan`` (in the run's set-up, as the other passes): the rows of each extent
        that train, neither held out by --val-fraction nor left out by --bad-rows skip, which the shares split
        equally (``_sizes``).  Cut by the file's rows, or by the rows not held out where bad rows lie together,
        a share could get more rows to train than the iterations per epoch a run announces (and its schedule
        counts) allow, its last updates at the rate the schedule ends at (0 for cosine).

        The bad rows of each extent take a pass over the features of ``path``, which ``say`` announces, where
        the label pass found any and there are shares to cut (one model's share is every row, however
        counted).  Made inside the first epoch, that pass read the whole file with no line said and within the
        epoch's time.  ``check_stop()`` between blocks and steps, where a signal stops the run; ``progress``:
        that pass's (``Executor.data_pass``)."""
        self._plan, self._kept = plan, None
        cut_bad = plan.skipped > 0 and self.shards > 1
        if plan.val_fraction <= 0 and not cut_bad:
            return
        kept = shuffle.kept_per_extent(plan.pages, plan.val_fraction, plan.seed, check_stop=check_stop)
        if cut_bad:
            say(f"counting where --bad-rows skip leaves rows of {path} out (one pass over the features), so that "
                f"the {self.shards} models averaged train equal shares")
            fn = functools.partial(passes.skipped_pass, plan.pages.extent_rows, plan.pages.n_extents)
            kept -= self.data_pass(fn, check_stop, progress).counts
        self._kept = kept

    def run_epoch(self, job: Job, state: TrainState, pos: engine.Position,
                  on_progress: Callable[..., None] | None = None,
                  safe_point: Callable[[engine.Position], None] | None = None) -> engine.EpochResult:
        """Train from ``pos`` to the end of epoch ``pos.epoch`` in rounds; like ``engine.epoch.run_epoch``."""
        cfg, plan = job.cfg, job.plan
        counters, sums = state.counters, state.sums
        if pos.fresh and pos.shards is None:
            engine.begin_epoch(state, pos)
        if pos.shards is None:
            pos.shards = [[0, 0, 0, False] for _ in range(self.shards)]  # block, row, steps, done
        sizes = self._sizes(plan, plan.pages.extent_order(pos.epoch))
        dealt = shuffle.deal(np.arange(len(sizes)), sizes, self.shards)
        slots_used = uses_slots(cfg)
        while not all(s[3] for s in pos.shards):
            slots = state.slots if slots_used else None
            t_round = time.perf_counter()
            rounds = [Round(w, dealt[w], pos.epoch, s[0], s[1], state.W, slots, int(counters[ks.T]), self.steps,
                            pos.epoch_start_t) for w, s in enumerate(pos.shards) if not s[3]]
            results = self.pool.rounds(job, rounds, (lambda: safe_point(pos)) if safe_point is not None else None)
            self.round_seconds.append(time.perf_counter() - t_round)
            self.compute_seconds.append(max(r.seconds for r in results))
            average_into(state, results, slots_used)
            for r in results:
                pos.shards[r.shard] = [r.block, r.row, pos.shards[r.shard][2] + r.steps, r.finished]
                pos.rows_seen += r.rows_seen
                pos.bad_rows += r.bad_rows
                sums[ks.EPOCH_LOSS] += r.loss
                sums[ks.EPOCH_ROWS] += r.rows
            if on_progress is not None:
                on_progress(sum(s[2] for s in pos.shards), pos.rows_seen, engine.running_loss(state),
                            engine.current_lr(cfg, state), self._detail(pos, dealt))
            if safe_point is not None:
                safe_point(pos)
        return engine.epoch_result(state, pos, sum(s[2] for s in pos.shards))

    def _sizes(self, plan: EpochPlan, order: np.ndarray) -> list[int]:
        """The rows that train of each window of the epoch whose extents are in ``order``, as ``cut_shares``
        counted them for ``plan``."""
        if self._plan is not plan:
            raise RuntimeError("RoundTrainer.cut_shares(plan) comes before the plan's epochs")
        if self._kept is None:
            return plan.pages.window_sizes(order)
        return [int(self._kept[extents].sum()) for extents in plan.pages.windows(order)]

    def _detail(self, pos, dealt) -> str:
        parts = []
        for w, (block, _row, _steps, done) in enumerate(pos.shards):
            name = f"{self.label}{w + 1}"
            parts.append(f"{name} done" if done else f"{name} {block}/{len(dealt[w])}")
        return "windows " + " ".join(parts)

    def describe(self, who: str, batch: int, steps: int, share: int) -> str:
        """The log line that says how ``who`` (the shards: threads or workers) share each round: ``steps`` steps
        each, fewer than ``self.steps`` where that is a shard's whole share of an epoch (``share`` rows at most),
        which ends a round (the line said the default's million rows a round where the models met once an
        epoch).  A whole share's rows are named as such: ``steps`` whole batches' rows overstated it by up to a
        batch less one row."""
        if steps < self.steps:
            return (f"{who}, each its share of an epoch (up to {counted(share, 'row')}, {counted(steps, 'step')}) "
                    "per round, then the models are averaged")
        return (f"{who}, each {counted(steps, 'step')} ({counted(steps * batch, 'row')}) per round, then the models "
                "are averaged")

    def summary(self) -> dict:
        """For the model file: the set-up, and, apart as ``round_timings`` (like the history's seconds, they
        differ from run to run), the rounds this process timed (since it resumed, if it did) and their
        medians of the wall time and of what it spent beyond the slowest shard (averaging, scheduling,
        network)."""
        timings = {"rounds": len(self.round_seconds)}
        if self.round_seconds:
            timings["round_ms"] = 1000.0 * float(np.median(self.round_seconds))
            timings["round_overhead_ms"] = 1000.0 * float(np.median(np.subtract(self.round_seconds,
                                                                               self.compute_seconds)))
        return {"sync_every": self.steps, "round_timings": timings}


def average_into(state: TrainState, results: list[RoundResult], slots_used: bool) -> None:
    """Replace ``state``'s model by the average of the shards', weighted by the rows each trained.

    Shards are summed in shard order, so the result does not depend on which
    finished first.  A single shard's model is taken as is (bit for bit).
    The step clock becomes the furthest any shard got.
    """
    trained = [r for r in results if r.steps > 0]
    if trained:
        if len(trained) == 1:
            state.W[:] = trained[0].W
            if slots_used:
                state.slots[:] = trained[0].slots
        else:
            total = float(sum(r.rows for r in trained))
            weights = [r.rows / total if total > 0 else 1.0 / len(trained) for r in trained]
            state.W[:] = _weighted(np.stack([r.W for r in trained]), weights)
            if slots_used:
                state.slots[:] = _weighted(np.stack([r.slots for r in trained]), weights)
    state.counters[ks.T] = max([int(state.counters[ks.T])] + [r.t for r in results])
    state.G[:] = 0.0
    state.counters[ks.FILL] = 0


def _weighted(arrays: np.ndarray, weights: list[float]) -> np.ndarray:
    out = weights[0] * arrays[0]
    for w, a in zip(weights[1:], arrays[1:]):
        out += w * a
    return out
