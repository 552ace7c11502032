"""The executor of one process: the engine runs here, each batch's gradient split between the kernel threads."""

from __future__ import annotations

from typing import Callable

import numpy as np

from sgdcli.data.shuffle import PageShuffle
from sgdcli.data.table import Table
from sgdcli.engine import epoch as engine
from sgdcli.engine import passes
from sgdcli.engine.epoch import EpochPlan, EpochResult, Position
from sgdcli.kernels.state import KernelConfig, TrainState
from sgdcli.model.inference import measure
from sgdcli.model.labels import Labels
from sgdcli.options import TrainOptions
from sgdcli.reporting.reporter import counted


class LocalExecutor:
    """Everything in this process: the passes, every epoch (``engine.epoch.run_epoch``) and validation."""

    shards = 1
    warnings: tuple[str, ...] | list[str] = ()  # open_executor's

    def __init__(self, table: Table, opts: TrainOptions, threads: int, kernel_threads: int | None = None,
                 block_rows: int | None = None, streams: int = 1):
        """``streams``: block streams that share --memory (threads of --parallel average), ``block_rows`` each."""
        self.table, self.threads = table, threads
        self.kernel_threads = threads if kernel_threads is None else kernel_threads
        self.stream_memory = opts.memory // streams
        self.block_rows = table.block_rows(opts.memory) if block_rows is None else block_rows
        self.spans = table.spans(self.block_rows, self.stream_memory)
        self.cfg = self.plan = self.scratch = None

    def run_options(self) -> dict:
        return {}

    def describe(self, batch: int, steps: int, share: int) -> tuple[str, list[str]]:
        return counted(self.threads, "thread"), []

    def page_shuffle(self, page_rows: int, seed: int, shuffle: bool) -> PageShuffle:
        return self.table.page_shuffle(self.stream_memory, page_rows, seed, shuffle)

    def data_pass(self, fn, opts: TrainOptions, check_stop: Callable[[], None],
                  progress: Callable[[int, int], None] | None = None):
        return fn(self.table, self.spans, self.block_rows, opts, passes.watched(self.spans, check_stop, progress))

    def prepare(self, cfg: KernelConfig, plan: EpochPlan) -> None:
        self.cfg, self.plan = cfg, plan
        self.scratch = engine.scratch_for(self.table, cfg, self.kernel_threads, plan.labels.n_outputs,
                                          keep_step=plan.keep_step)

    def stepped(self) -> np.ndarray | None:
        kept = None if self.scratch is None else self.scratch.stepped
        return kept.copy() if kept is not None and kept.size and np.isfinite(kept).all() else None

    def cut_shares(self, plan: EpochPlan, say: Callable[[str], None], check_stop: Callable[[], None],
                   progress: Callable[[int, int], None] | None = None) -> None:
        pass  # one model: its share is every row

    def warm_up(self) -> float | None:
        return engine.compile_kernels(self.table, self.cfg, self.plan, self.scratch)

    def run_epoch(self, state: TrainState, pos: Position, on_progress: Callable[..., None],
                  safe_point: Callable[[Position], None]) -> EpochResult:
        return engine.run_epoch(self.table, state, self.cfg, self.plan, self.scratch, pos,
                                on_progress=on_progress, safe_point=safe_point)

    def validate(self, table: Table, objective: tuple[str, float], labels: Labels, We: np.ndarray, memory: int,
                 select, on_stop: Callable[[], None], centre: float = 0.0,
                 progress: Callable[[int, int], None] | None = None) -> dict:
        def after_block(done: int, rows: int) -> None:
            # as the epochs do between kernel calls: a signal stops the run (and a long --val pass takes the
            # periodic checkpoints its epochs would)
            on_stop()
            if progress is not None:
                progress(done, rows)

        return measure(table, objective, labels, We, memory, select, progress=after_block, centre=centre)

    def summary(self) -> dict:
        return {}

    def close(self) -> None:
        pass
