"""Where the work of a training run runs: one interface, three executors.

The training loop (training/run.py) asks an executor for the passes before
training, for each epoch and for each validation pass, and never asks where
they run:

- ``LocalExecutor`` (local.py): this process; each mini-batch's gradient is
  split between the kernel threads (``--parallel batch``, the default);
- ``ThreadExecutor`` (threads.py): threads of this process that each train
  a share of every epoch, averaged every K steps (``--parallel average``);
- ``DaskExecutor`` (cluster.py): Dask workers that do the same, one share
  per worker, and run the passes and validation on their shares (``--dask``).

``open_executor`` chooses one from the options, the only place that does.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Protocol

import numpy as np

from sgdcli.data import chunks
from sgdcli.data.layout import PARALLEL_DECODE
from sgdcli.data.shuffle import PageShuffle
from sgdcli.data.table import Table
from sgdcli.engine.epoch import EpochPlan, EpochResult, Position
from sgdcli.kernels.runtime import ThreadsCapped, numba_threads
from sgdcli.kernels.state import KernelConfig, TrainState
from sgdcli.model.labels import Labels
from sgdcli.daskoptions import DaskOptions
from sgdcli.options import TrainOptions
from sgdcli.reporting.warned import warn


class Executor(Protocol):
    """What the training loop needs from wherever its work runs."""

    shards: int  # models trained apart within an epoch and averaged (1: one model)
    threads: int  # compute threads: of this process, or of each Dask worker
    kernel_threads: int  # threads of each shard's kernels (KernelConfig.parts)
    block_rows: int  # rows per block each stream of blocks reads
    warnings: tuple[str, ...] | list[str]  # what open_executor warned of (ThreadsCapped), which the model keeps (training.warnings)

    def run_options(self) -> dict:
        """Settings that shape the model beyond TrainOptions (recorded in checkpoints, checked on --resume)."""

    def describe(self, batch: int, steps: int, share: int) -> tuple[str, list[str]]:
        """How many threads, as a phrase for the run's first log line; and lines that say how the work is shared
        (``steps``: what each shard takes between two averagings, at most its share of an epoch, of at most
        ``share`` rows)."""

    def page_shuffle(self, page_rows: int, seed: int, shuffle: bool) -> PageShuffle:
        """The page shuffle of the training file, two windows of it in what each stream of windows may hold."""

    def data_pass(self, fn, opts: TrainOptions, check_stop: Callable[[], None],
                  progress: Callable[[int, int], None] | None = None):
        """``fn`` (a pass of engine/passes.py) over every block of the training file, parts merged;
        ``progress(rows read, rows in all)`` as it goes, where the pass runs in this process."""

    def prepare(self, cfg: KernelConfig, plan: EpochPlan) -> None:
        """Fix the kernel settings and epoch plan of every epoch to come."""

    def cut_shares(self, plan: EpochPlan, say: Callable[[str], None], check_stop: Callable[[], None],
                   progress: Callable[[int, int], None] | None = None) -> None:
        """Before the first epoch of ``plan``: count what the shares of models averaged are cut by (a pass over
        the training file, which ``say`` announces, where --bad-rows skip leaves rows out); nothing for one
        model.  ``check_stop()`` between its blocks, and ``progress`` as ``data_pass`` tells it."""

    def warm_up(self) -> float | None:
        """Compile (or load) the kernels before the first epoch is timed; the seconds it took (None: not here)."""

    def run_epoch(self, state: TrainState, pos: Position, on_progress: Callable[..., None],
                  safe_point: Callable[[Position], None]) -> EpochResult:
        """Train from ``pos`` to the end of epoch ``pos.epoch`` (engine/epoch.py's contract)."""

    def validate(self, table: Table, objective: tuple[str, float], labels: Labels, We: np.ndarray, memory: int,
                 select, on_stop: Callable[[], None], centre: float = 0.0,
                 progress: Callable[[int, int], None] | None = None) -> dict:
        """Loss and metrics of weights ``We`` (on raw features) over the rows ``select`` picks from ``table``;
        ``centre``, the model's mean score, which a binary model's AUC is centred on (model/metrics.py);
        ``progress(rows read, rows in all)`` as it goes, where the pass runs in this process."""

    def stepped(self) -> np.ndarray | None:
        """The latest step's gradient and the model it is the gradient of (kernels/state.py Scratch.stepped) where
        the plan kept them (EpochPlan.keep_step) and this process's kernels stepped one model on dense rows (CSR
        rows made dense among them: kernels/densified.py); else None."""

    def summary(self) -> dict:
        """What the model file records of how the run was shared out."""

    def close(self) -> None: ...


def open_executor(stack: contextlib.ExitStack, table: Table, opts: TrainOptions, dask: DaskOptions | None,
                  report: Callable[[str], None], stop: Callable[[], int | None]) -> Executor:
    """The executor ``opts`` and ``dask`` ask for, its resources held by ``stack``."""
    # gzip chunks are inflated on up to a core each, far slower than training on
    # them: by default the kernels take only the cores the decoders leave.  A run
    # in this process that splits batches leaves a core to the reader thread, which
    # builds the next window (its order, labels and page-ins) while one trains: a
    # kernel thread that the reader preempts holds up every batch's join
    # (docs/training.md has the measurement).
    decoders = chunks.default_workers() if table.X.layout.read_mode == PARALLEL_DECODE else 0
    reader = 1 if dask is None and opts.parallel == "batch" else 0
    # more --threads than Numba allows: a warning, which the model keeps; not with --dask, whose workers have theirs
    capped: list[str] = []
    threads = stack.enter_context(numba_threads(opts.threads, capped.append if dask is None else None,
                                                reserve=max(decoders, reader)))
    for text in capped:
        warn(text, ThreadsCapped)  # as from the caller's line, shown once there by the default filter
    if dask is not None:
        from sgdcli.parallel import cluster, connect

        client = stack.enter_context(connect.connect(dask, report, stop))
        executor = cluster.DaskExecutor(client, dask, table, opts, decoded=decoders > 0, stop=stop, report=report)
    elif opts.parallel == "average":
        from sgdcli.parallel.threads import ThreadExecutor

        executor = ThreadExecutor(table, opts, threads, stop)
    else:
        from sgdcli.parallel.local import LocalExecutor

        executor = LocalExecutor(table, opts, threads)
    stack.callback(executor.close)
    executor.warnings = capped
    return executor
