"""``--dask``: running rounds, passes and validation as Dask tasks (connect.py reaches the cluster).

The algorithm is averaging.py's local SGD with model averaging, one shard
per worker: a round sends every shard the current model and optimizer
state; its worker runs K mini-batch steps of the compiled engine on its own
rows (worker.py) and sends back its model, which the driver averages.  Only
weights and optimizer state cross the network; each worker reads the file
itself.

A round's results are used only once every shard of it has returned, so a
worker lost mid-round costs a re-run of its task (Dask re-runs it, on the
same inputs), never a half-applied round.  Every wait on the cluster is
bounded by --dask-timeout (waits.py).
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from typing import Callable

import numpy as np

from sgdcli.data import chunks
from sgdcli.data.shuffle import PageShuffle
from sgdcli.data.table import Table
from sgdcli.engine.epoch import EpochPlan, EpochResult, Position
from sgdcli.errors import SgdcliError, WorkLost, first_line
from sgdcli.kernels.runtime import cores_per_worker
from sgdcli.kernels.state import KernelConfig, TrainState
from sgdcli.model.labels import Labels
from sgdcli.daskoptions import DaskOptions
from sgdcli.options import TrainOptions
from sgdcli.parallel import worker
from sgdcli.parallel.averaging import FileRef, Job, Round, RoundResult, RoundTrainer, sync_steps
from sgdcli.parallel.connect import GRACE, check_paths, scheduler_workers
from sgdcli.parallel.waits import Late, Stopped, bounded
from sgdcli.parallel.worker import PassJob, ValidationJob, run_round, validate
from sgdcli.reporting.reporter import counted

MAX_DECODERS = chunks.MAX_WORKERS  # the chunk decoders of a gzip file on each worker
_POLL = 0.25  # seconds between checks for signals and lost workers while a round runs
# What the tasks of a _gather are, as its failures say; after a round's, run.py saves the last whole round's
# checkpoint (a pass's or validation's failure has none of its own to keep)
ROUND, PASS = "a training round", "a pass over the data on the workers"
_KEPT = {ROUND: "; the last whole round is kept"}


def worker_threads(workers: dict, requested: int | None, n_local: int | None, decoded: bool = False) -> int:
    """Numba threads per worker: --threads, or the fewest cores any of ``workers`` (the scheduler's) offers.

    A LocalCluster's workers share this machine's cores.  For a gzip file
    (``decoded``), the cores the chunk decoders take are left to them, as in
    single-machine training.  The count is one input of the result (it splits
    large batches), so it is recorded in the model and checked on --resume.
    """
    if requested:
        return requested
    offered = None
    if n_local is None:
        offered = min((info.get("nthreads", 1) for info in workers.values()), default=1)
    return cores_per_worker(n_local, offered, decoders=MAX_DECODERS if decoded else 0)


def rows_read(events: list, pass_id: str, latest: dict) -> int:
    """The rows pass ``pass_id``'s shares have read, by their tasks' events (``Client.get_events`` of
    worker.TOLD: (time, (pass, shard, rows read)), in the order the scheduler got them, its last ones alone):
    each shard's latest, kept in ``latest`` from one look to the next, summed (a task run again on another
    worker, whose own died, tells its share from 0 again)."""
    for _, (told, shard, done) in events:
        if told == pass_id:
            latest[shard] = done
    return sum(latest.values())


class DaskPool:
    """Runs rounds (averaging.py) and the passes' shares as Dask tasks, each shard preferring its own worker."""

    def __init__(self, client, options: DaskOptions, shards: int, stop: Callable[[], int | None],
                 report: Callable[[str], None] = lambda text: None):
        self.client, self.options, self.shards = client, options, shards
        self.stop, self.report = stop, report
        self._live: list[str] = []  # worker addresses at the latest round
        self.lost = False  # the cluster stopped answering (WorkLost): nothing more is asked of it

    def rounds(self, job: Job, rounds: list[Round], on_stop: Callable[[], None] | None) -> list[RoundResult]:
        live = self._workers()
        return self._gather([self._submit(live, r.shard, run_round, job, r) for r in rounds], on_stop, ROUND)

    def validate(self, job: ValidationJob, We: np.ndarray, on_stop: Callable[[], None] | None = None,
                 progress: Callable[[int, int], None] | None = None, rows: int = 0) -> dict:
        """The validation metrics of ``We``: each shard's worker scores every W-th block (of ``rows``), the
        driver merges."""
        return self.merged(validate, job, on_stop, We, progress=progress, rows=rows).result()

    def merged(self, fn, job, on_stop: Callable[[], None] | None = None, *args,
               progress: Callable[[int, int], None] | None = None, rows: int = 0):
        """``fn(job, *args, (w, W), pass_id)`` on every shard's worker (``pass_id``: the pass's, where ``progress``
        is, else None), the parts merged in shard order.

        ``on_stop`` is called if a signal arrives meanwhile (it raises to stop).  ``progress(rows read,
        rows)`` is told as the pass starts, where the driver looks (every _POLL seconds) at what the workers'
        tasks told of their shares (worker.py ``told``: an event a block, under one topic for every pass, the
        scheduler keeping its last events alone) and finds more rows read than it told, and as it ends.
        """
        live = self._workers()
        pass_id = None if progress is None else uuid.uuid4().hex
        futures = [self._submit(live, w, fn, job, *args, (w, self.shards), pass_id) for w in range(self.shards)]
        latest, shown = {}, [0]

        def poll() -> None:  # what the shards' tasks told, added up; a bar never goes back
            stop = self.stop if on_stop is not None else None
            done = rows_read(self._ask(lambda: self.client.get_events(worker.TOLD), stop, PASS), pass_id, latest)
            if done > shown[0]:
                shown[0] = done
                progress(done, rows)

        if progress is not None:
            progress(0, rows)
        parts = self._gather(futures, on_stop, PASS, poll if progress is not None else None)
        if progress is not None:
            progress(rows, rows)
        total = parts[0]
        for part in parts[1:]:  # in shard order: the same sums whichever worker finished first
            total.merge(part)
        return total

    def _submit(self, live: list[str], shard: int, fn, *args):
        """``fn(*args)`` as a task that prefers the shard's worker, and runs on any other if that one is gone."""
        where = {"workers": [live[shard % len(live)]], "allow_other_workers": True} if live else {}
        return self.client.submit(fn, *args, pure=False, **where)

    def _gather(self, futures, on_stop: Callable[[], None] | None, work: str, poll=None) -> list:
        """The tasks' results, in order; calls ``on_stop`` on a signal, fails if the cluster has no workers.
        ``work`` (ROUND, PASS) is what the tasks are, as a failure's message says; ``poll()``, each time it
        looks (None: nothing).

        Each result is fetched with a timeout, inside the loop that watches the
        workers: a task can finish and its worker die before its result is
        fetched, and Dask then runs it again, which waits for a worker; one
        ``client.gather`` of them all waited for ever once every worker was gone.
        """
        import distributed

        no_workers_since = None
        results: dict[int, object] = {}
        try:
            while len(results) < len(futures):
                with contextlib.suppress(TimeoutError):
                    distributed.wait([f for i, f in enumerate(futures) if i not in results], timeout=_POLL)
                for i, future in enumerate(futures):
                    if i in results or not future.done():
                        continue
                    if getattr(future, "status", None) == "error" and not all(j in results for j in range(i)):
                        continue  # raised once the tasks before it returned: the first failure in shard order,
                        # as on threads, not the first to arrive (two workers' bad rows named either row)
                    with contextlib.suppress(TimeoutError):
                        results[i] = future.result(timeout=_POLL)
                if len(results) == len(futures):
                    break
                if self.stop() is not None and on_stop is not None:
                    self.client.cancel(futures)
                    on_stop()  # raises; during a round, after checkpointing the last whole round
                try:
                    if poll is not None:
                        poll()
                    workers = self._scheduler_workers(self.stop if on_stop is not None else None, work)
                except Stopped:
                    self.client.cancel(futures)
                    on_stop()  # raises, as above
                    raise
                if not workers:
                    no_workers_since = no_workers_since or time.monotonic()
                    if time.monotonic() - no_workers_since > self.options.timeout:
                        raise WorkLost(f"--dask {self.options.address}: no workers left for "
                                       f"{self.options.timeout:g} s during {work}{_KEPT.get(work, '')}")
                else:
                    no_workers_since = None
            return [results[i] for i in range(len(futures))]
        except SgdcliError:
            self.client.cancel(futures)
            raise
        except Exception as exc:  # a task that failed for good (a worker killed over and over, ...)
            self.lost = True
            with contextlib.suppress(Exception):  # (a scheduler that is gone cannot be told)
                self.client.cancel(futures)
            if "Cancelled" in type(exc).__name__:  # the scheduler dropped the tasks: its connection was lost
                why = "the scheduler cancelled its tasks (the connection to it was lost, or it stopped)"
            else:
                why = first_line(exc)
            raise WorkLost(f"--dask {self.options.address}: {work} failed: {why}{_KEPT.get(work, '')}") from None

    def _workers(self) -> list[str]:
        """The connected workers, sorted; shard w prefers the w-th (mod their number), so it keeps its worker
        and that worker's open file.  A change of the set is logged."""
        live = sorted(self._scheduler_workers())
        if self._live and live != self._live:
            lost = [a for a in self._live if a not in live]
            joined = [a for a in live if a not in self._live]
            self.report(f"Dask workers changed: {len(live)} connected" + (f"; lost {', '.join(lost)}" if lost else "")
                        + (f"; joined {', '.join(joined)}" if joined else "")
                        + "; the shards are shared out again, and a lost worker's round runs again on another")
        self._live = live
        return live

    def _scheduler_workers(self, stop: Callable[[], int | None] | None = None, work: str = ROUND) -> dict:
        """The scheduler's workers (``_ask``)."""
        return self._ask(self.client.scheduler_info, stop, work)["workers"]

    def _ask(self, call: Callable, stop: Callable[[], int | None] | None = None, work: str = ROUND):
        """``call()``, a question to the scheduler; WorkLost if it does not answer within --dask-timeout, Stopped
        on a signal (with ``stop``)."""
        try:
            return bounded(call, self.options.timeout + GRACE, stop)
        except Late:
            self.lost = True
            raise WorkLost(f"--dask {self.options.address}: the scheduler did not answer for "
                           f"{self.options.timeout:g} s during {work}{_KEPT.get(work, '')}") from None



class DaskExecutor:
    """One shard per Dask worker: the rounds of every epoch, the passes and validation all run on the workers.

    The driver holds the model and averages; each worker reads its own blocks of
    the file at the same path.  A distributed run's workers compile (or load)
    their own kernels.
    """

    warnings: tuple[str, ...] | list[str] = ()  # open_executor's

    def __init__(self, client, options: DaskOptions, table: Table, opts: TrainOptions, decoded: bool,
                 stop: Callable[[], int | None], report: Callable[[str], None]):
        self.dask, self.table, self.client = options, table, client
        n_local = options.local_workers()
        self.local = n_local is not None  # a LocalCluster, which ends with the run
        workers = scheduler_workers(client, options, stop)
        self.shards = options.workers or n_local or len(workers)
        self.threads = self.kernel_threads = worker_threads(workers, opts.threads, n_local, decoded=decoded)
        self.block_rows = table.block_rows(opts.memory)
        self.memory = opts.memory  # each worker's own
        self.spans = table.spans(self.block_rows, opts.memory)
        self.sync_every = sync_steps(opts.sync_every, opts.batch_size or table.n_rows)
        self.pool = DaskPool(client, options, self.shards, stop, report)
        self.trainer = RoundTrainer(self.pool, self.shards, self.sync_every, label="w",
                                    data_pass=lambda fn, *watch: self.data_pass(fn, opts, *watch))
        self.file = FileRef.of(table)
        check_paths(client, options, stop, [self.file.path] + ([os.path.abspath(opts.val)] if opts.val else []))
        self.job = None
        self.read = {self.file.path}  # the files the workers open for this run, which close() releases

    def run_options(self) -> dict:
        return {"sync_every": self.sync_every, "dask_workers": self.shards}

    def describe(self, batch: int, steps: int, share: int) -> tuple[str, list[str]]:
        return f"{counted(self.threads, 'thread')} per worker", [
            self.trainer.describe(f"--dask {self.dask.address}: {counted(self.shards, 'worker')}", batch, steps, share)]

    def page_shuffle(self, page_rows: int, seed: int, shuffle: bool) -> PageShuffle:
        return self.table.page_shuffle(self.memory, page_rows, seed, shuffle)

    def data_pass(self, fn, opts: TrainOptions, check_stop: Callable[[], None],
                  progress: Callable[[int, int], None] | None = None):
        job = PassJob(self.file, self.spans, self.block_rows, opts, self.threads)
        return self.pool.merged(worker.data_pass, job, check_stop, fn, progress=progress,
                                rows=sum(stop - start for start, stop in self.spans))

    def prepare(self, cfg: KernelConfig, plan: EpochPlan) -> None:
        self.job = Job(self.file, cfg, plan, self.kernel_threads)

    def cut_shares(self, plan: EpochPlan, say: Callable[[str], None], check_stop: Callable[[], None],
                   progress: Callable[[int, int], None] | None = None) -> None:
        self.trainer.cut_shares(plan, self.table.path, say, check_stop, progress)  # on the workers, as the others

    def warm_up(self) -> float | None:
        return None  # each worker compiles (or loads) its own kernels

    def run_epoch(self, state: TrainState, pos: Position, on_progress: Callable[..., None],
                  safe_point: Callable[[Position], None]) -> EpochResult:
        return self.trainer.run_epoch(self.job, state, pos, on_progress=on_progress, safe_point=safe_point)

    def validate(self, table: Table, objective: tuple[str, float], labels: Labels, We: np.ndarray, memory: int,
                 select, on_stop: Callable[[], None], centre: float = 0.0,
                 progress: Callable[[int, int], None] | None = None) -> dict:
        """Each shard's worker scores every W-th block of ``table``; the driver merges, and tells ``progress``
        what the workers read (DaskPool.merged)."""
        job = ValidationJob(FileRef.of(table), objective, labels, memory, select, self.threads, centre)
        self.read.add(job.file.path)
        return self.pool.validate(job, We, on_stop=on_stop, progress=progress, rows=table.n_rows)

    def stepped(self) -> np.ndarray | None:
        return None  # the workers' kernels step

    def summary(self) -> dict:
        return {"workers": self.shards, **self.trainer.summary()}

    def close(self) -> None:
        """Have the workers of a cluster that outlives the run close the files it read (worker.release), within
        --dask-timeout; not a LocalCluster's, which end with the run, nor a cluster that stopped answering."""
        if self.local or self.pool.lost:
            return
        with contextlib.suppress(Exception):  # the run's own outcome stands, whatever the cluster says now
            bounded(lambda: self.client.run(worker.release, sorted(self.read)), self.dask.timeout + GRACE)
