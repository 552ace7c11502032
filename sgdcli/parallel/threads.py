"""``--parallel average``: local SGD on threads of this process, the models averaged every K steps.

Each thread is one shard (averaging.py): it trains its share of every epoch
with the serial kernels, streaming its own blocks, and the models are
averaged between rounds.  The passes before training and validation run in
this process as for one thread (``LocalExecutor``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait
from typing import Callable

from sgdcli.data.shuffle import PageShuffle
from sgdcli.data.table import Table
from sgdcli.engine.epoch import EpochPlan, EpochResult, Kept, Position
from sgdcli.errors import DivergedError, InputError, RuntimeFailure, WorkLost
from sgdcli.kernels.state import KernelConfig, TrainState
from sgdcli.options import TrainOptions
from sgdcli.sizes import BlocksShort, MemoryShort, format_size, whole_mib
from sgdcli.reporting.reporter import counted
from sgdcli.parallel.averaging import (Abandoned, FileRef, Job, Round, RoundResult, RoundTrainer, sync_steps,
                                       train_round)
from sgdcli.parallel.local import LocalExecutor


class ThreadRounds:
    """Rounds on threads of this process (``--parallel average``): one thread and one open file per shard.

    The shards run the serial kernels (``job.threads`` is 1) with the GIL
    released, so W shards keep W cores busy.  Each shard opens the file
    itself, so every stream has its own reader thread and buffers.  A stop
    requested meanwhile abandons the round at the shards' next safe point.
    """

    def __init__(self, shards: int, stop: Callable[[], int | None]):
        self.stop = stop
        self.tables: list[Table | None] = [None] * shards
        self.kept = [Kept() for _ in range(shards)]  # each shard's window between rounds
        self.pool = ThreadPoolExecutor(max_workers=shards, thread_name_prefix="sgdcli-shard")

    def rounds(self, job: Job, rounds: list[Round], on_stop: Callable[[], None] | None) -> list[RoundResult]:
        futures = [self.pool.submit(self._run, job, r) for r in rounds]
        wait(futures)
        abandoned = False
        for f in futures:  # the first error in shard order, whichever shard failed first
            exc = f.exception()
            if isinstance(exc, Abandoned):
                abandoned = True
            elif isinstance(exc, RuntimeFailure) and not isinstance(exc, DivergedError):
                raise WorkLost(str(exc)) from None  # the round is dropped whole: the model is the last round's
            elif exc is not None:
                raise exc
        if abandoned and on_stop is not None:
            on_stop()  # raises, after checkpointing the last whole round
        return [f.result() for f in futures]

    def _run(self, job: Job, r: Round) -> RoundResult:
        table = self.tables[r.shard]
        if table is None:
            table = self.tables[r.shard] = job.file.open()
        return train_round(table, job, r, should_stop=lambda: self.stop() is not None, kept=self.kept[r.shard])

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        for table in self.tables:
            if table is not None:
                table.close()
        self.tables = [None] * len(self.tables)
        self.kept = [Kept() for _ in self.kept]


class ThreadExecutor(LocalExecutor):
    """One shard per thread; every shard streams its own blocks, so they share --memory."""

    def __init__(self, table: Table, opts: TrainOptions, threads: int, stop: Callable[[], int | None]):
        self.memory = opts.memory
        # each thread streams its own share of --memory, which a column held whole (data/held.py) would take
        # from every share: the threads read labels and weights in blocks, as their shards' tables do
        table.hold([])
        try:  # the blocks of the passes, cut by a CSR matrix's rows
            super().__init__(table, opts, threads, kernel_threads=1,  # a shard on a thread runs the serial kernels
                             block_rows=_shared_block_rows(table, opts.memory, threads), streams=threads)
        except MemoryShort as short:  # (a CSR matrix's blocks)
            raise _shared(short, table, opts.memory, threads) from None
        self.shards = threads
        self.sync_every = sync_steps(opts.sync_every, opts.batch_size or table.n_rows)
        self.pool = ThreadRounds(self.shards, stop)
        self.trainer = RoundTrainer(self.pool, self.shards, self.sync_every, label="t",
                                    data_pass=lambda fn, *watch: self.data_pass(fn, opts, *watch))
        self.job = None

    def run_options(self) -> dict:
        return {"sync_every": self.sync_every}

    def describe(self, batch: int, steps: int, share: int) -> tuple[str, list[str]]:
        sharing = self.trainer.describe(f"--parallel average: {counted(self.shards, 'thread')}", batch, steps, share)
        return counted(self.threads, "thread"), [sharing]

    def page_shuffle(self, page_rows: int, seed: int, shuffle: bool) -> PageShuffle:
        try:  # a CSR matrix's windows, cut by their rows; windows of whole read units (Table.unit_rows)
            return super().page_shuffle(page_rows, seed, shuffle)
        except MemoryShort as short:
            raise _shared(short, self.table, self.memory, self.shards) from None

    def prepare(self, cfg: KernelConfig, plan: EpochPlan) -> None:
        super().prepare(cfg, plan)
        self.job = Job(FileRef.of(self.table), cfg, plan, self.kernel_threads)

    def cut_shares(self, plan: EpochPlan, say: Callable[[str], None], check_stop: Callable[[], None],
                   progress: Callable[[int, int], None] | None = None) -> None:
        self.trainer.cut_shares(plan, self.table.path, say, check_stop, progress)

    def run_epoch(self, state: TrainState, pos: Position, on_progress: Callable[..., None],
                  safe_point: Callable[[Position], None]) -> EpochResult:
        return self.trainer.run_epoch(self.job, state, pos, on_progress=on_progress, safe_point=safe_point)

    def summary(self) -> dict:
        return self.trainer.summary()

    def close(self) -> None:
        self.pool.close()


def _shared_block_rows(table: Table, memory: int, streams: int) -> int:
    """Rows per block when ``streams`` block streams (threads of --parallel average) share ``memory``; where
    they cannot, InputError naming the --memory that they can (what one stream alone needs, which
    ``block_rows(memory)`` names, would be refused again)."""
    try:
        return table.block_rows(memory // streams)
    except MemoryShort as short:
        raise _shared(short, table, memory, streams) from None


def _shared(short: MemoryShort, table: Table, memory: int, streams: int) -> MemoryShort:
    """``short`` (a refusal of one stream's share of ``memory``) as the refusal of the whole --memory that
    ``streams`` streams share: as it is for one stream, or where it says so already; for two blocks of one
    chunk, naming the --memory whose share holds them (``_shared_short``: the share's own figure would be
    refused again, a CSR X's unit being y's chunk); else a chunk read whole (data/wholechunks.py), said of the
    share it does not fit (``_split``)."""
    if streams == 1 or isinstance(short, SharedShort):
        return short
    if isinstance(short, BlocksShort):
        return _shared_short(table, memory, streams)
    return _split(short, memory, streams)


class SharedShort(MemoryShort):
    """The refusal of a --memory split between the threads of --parallel average (named whole, not a share)."""


def _shared_short(table: Table, memory: int, streams: int) -> MemoryShort:
    """The refusal of ``memory`` whose share for each of ``streams`` holds no two blocks of one chunk, naming the
    --memory whose share does (``_least_shared``)."""
    holds, need = f"two blocks of one chunk of {table.where(_tallest(table))}", _least_shared(table, streams, memory)
    return SharedShort(memory, holds, need, said=_split_said(memory, streams, holds, need))


def _tallest(table: Table) -> str:
    """The name of the dataset whose chunks set the height of the blocks (y's chunks beside a CSR X, say)."""
    return table.tallest_unit()[0] if table.unit_rows > table.chunk_rows else table.x_name


def _least_shared(table: Table, streams: int, memory: int) -> int:
    """The least --memory in whole MiB (as bytes) whose share for each of ``streams`` holds the blocks of the
    passes and the windows of the page shuffle (``Table.block_rows`` at the chunk and at ``unit_rows``), more
    than ``memory`` (which does not): found by doubling, then halving the interval, as both hold from some
    budget on (a block's rows only grow with the budget)."""
    def holds(mib: int) -> bool:
        share = (mib << 20) // streams
        try:
            table.block_rows(share)
            table.block_rows(share, windows=True)
        except InputError:
            return False
        return True

    low, high = memory >> 20, max(1, memory >> 20)  # low MiB does not hold (it is at most memory)
    while not holds(high):
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if holds(mid) else (mid, high)
    return high << 20


def _split(short: MemoryShort, memory: int, streams: int) -> MemoryShort:
    """``short`` (what one stream's share of --memory cannot hold) as the whole --memory's refusal, naming the
    --memory whose share would hold it."""
    need = short.need * streams
    return SharedShort(memory, short.holds, need, short.rows, said=_split_said(memory, streams, short.holds, need))


def _split_said(memory: int, streams: int, holds: str, need: int) -> str:
    return (f"--memory: {format_size(memory)} split between the {streams} threads of --parallel average leaves "
            f"{format_size(memory // streams)} each, less than {holds}; raise --memory to at least {whole_mib(need)} "
            "or lower --threads")
