"""Training on Dask distributed: the driver's side of local SGD with model averaging.

Each epoch's rows, block after block in the epoch's shuffled order, are cut
into W equal shares (shards), one per worker.  A round sends every shard with rows left the current model
and optimizer state; its worker runs K mini-batch steps of the compiled
engine on its own rows (worker.py) and sends back its model.  The driver
averages the models, weighted by the rows each one trained on, and starts
the next round.  Only weights and optimizer state cross the network.

A round's results are used only once every shard of it has returned, so a
worker lost mid-round costs a re-run of its task (Dask re-runs it, on the
same inputs), never a half-applied round.  ``DaskTrainer.run_epoch`` has the
contract of ``engine.run_epoch``: it updates ``state`` and ``pos`` at safe
points between rounds, where training.py checkpoints and handles signals.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
import warnings
from typing import Callable

import numpy as np

from sgdcli import engine, kernels, shuffle
from sgdcli.errors import InputError, RuntimeFailure, SgdcliError
from sgdcli.kernels import TrainState
from sgdcli.worker import Job, RoundResult, ValidationJob, run_round, validate

INSTALL = "pip install 'sgdcli[dask]'"
# Rows each worker trains between two averagings when --sync-every is not given:
# a Dask round trip costs about 10-15 ms on one machine, a million rows about 0.15 s.
DEFAULT_SYNC_ROWS = 1 << 20
_POLL = 0.25  # seconds between checks for signals and lost workers while a round runs


@dataclasses.dataclass(frozen=True)
class DaskOptions:
    address: str  # tcp://host:port of a scheduler, or local:N for a LocalCluster of N processes
    workers: int | None = None  # shards; default: the workers connected at start (N for local:N)
    sync_every: int | None = None  # mini-batch steps per worker between averagings; default from DEFAULT_SYNC_ROWS
    timeout: float = 30.0  # seconds to reach the scheduler and its workers

    def check(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise InputError(f"--dask-workers: must be at least 1, got {self.workers}")
        if self.sync_every is not None and self.sync_every < 1:
            raise InputError(f"--sync-every: must be at least 1, got {self.sync_every}")
        if not self.timeout > 0:
            raise InputError(f"--dask-timeout: must be positive, got {self.timeout}")
        local_workers(self.address)


def local_workers(address: str) -> int | None:
    """N for ``local:N``; None for a scheduler address."""
    if not (address == "local" or address.startswith("local:")):  # localhost:8786 is a scheduler
        if "://" not in address and ":" not in address:
            raise InputError(f"--dask {address!r}: expected a scheduler address such as tcp://host:8786, or local:N")
        return None
    _, _, n = address.partition(":")
    try:
        workers = int(n)
    except ValueError:
        raise InputError(f"--dask {address!r}: expected local:N with N the number of worker processes") from None
    if workers < 1:
        raise InputError(f"--dask {address!r}: needs at least one worker")
    return workers


def sync_steps(options: DaskOptions, batch: int) -> int:
    return options.sync_every or max(1, DEFAULT_SYNC_ROWS // batch)


@contextlib.contextmanager
def connect(options: DaskOptions, report: Callable[[str], None]):
    """A connected ``distributed.Client`` with at least one worker (``options.workers`` if given)."""
    try:
        import distributed
    except ImportError:
        raise InputError(f"--dask needs Dask distributed, which is not installed: {INSTALL}") from None
    for name in ("distributed", "tornado", "asyncio"):  # their log lines are not ours to print
        logging.getLogger(name).setLevel(logging.CRITICAL)
    options.check()
    n_local = local_workers(options.address)
    with contextlib.ExitStack() as stack:
        if n_local is not None:
            report(f"starting a local Dask cluster of {n_local} worker process(es)")
            with warnings.catch_warnings():  # "port 8787 is in use" when another local cluster runs
                warnings.simplefilter("ignore")
                cluster = stack.enter_context(distributed.LocalCluster(
                    n_workers=n_local, threads_per_worker=1, processes=True, dashboard_address=None,
                    silence_logs=logging.CRITICAL, memory_limit=0,  # mapped file pages count as worker memory
                ))
            client = stack.enter_context(distributed.Client(cluster, timeout=options.timeout))
        else:
            try:
                client = stack.enter_context(distributed.Client(options.address, timeout=options.timeout))
            except (OSError, TimeoutError) as exc:
                raise RuntimeFailure(f"--dask {options.address}: no Dask scheduler answered within "
                                     f"{options.timeout:g} s ({_first_line(exc)}); check the address and "
                                     f"that the scheduler runs, or raise --dask-timeout") from None
        want = options.workers or n_local or 1
        try:
            client.wait_for_workers(want, timeout=options.timeout)
        except (OSError, TimeoutError):
            have = len(client.scheduler_info()["workers"])
            raise RuntimeFailure(f"--dask {options.address}: {have} worker(s) connected after {options.timeout:g} s, "
                                 f"{want} needed; start more workers or raise --dask-timeout") from None
        _check_workers(client, options, report)
        yield client


def _check_workers(client, options: DaskOptions, report) -> None:
    """Every connected worker can run sgdcli; versions that differ from the driver's are reported."""
    from sgdcli import worker

    try:
        seen = client.run(worker.versions)
    except Exception as exc:  # typically: No module named 'sgdcli' on a worker
        raise RuntimeFailure(f"--dask {options.address}: a worker cannot run sgdcli ({_first_line(exc)}); "
                             f"install it on every worker: {INSTALL}") from None
    mine = worker.versions()
    for address, theirs in sorted(seen.items()):
        if theirs != mine:
            differ = ", ".join(f"{k} {theirs.get(k)} (driver: {v})" for k, v in mine.items() if theirs.get(k) != v)
            report(f"worker {address} runs {differ}: its rounds may round differently, or fail")


def worker_threads(client, requested: int | None, n_local: int | None, decoded: bool = False) -> int:
    """Numba threads per worker: --threads, or the fewest cores any connected worker offers.

    A LocalCluster's workers share this machine's cores.  For a gzip file
    (``decoded``), the cores the chunk decoders take are left to them, as in
    single-machine training.  The count is one input of the result (it splits
    large batches), so it is recorded in the model and checked on --resume.
    """
    if requested:
        return requested
    from sgdcli.runtime import available_cores

    if n_local is not None:
        cores = max(1, available_cores() // n_local)
    else:
        cores = max(1, min((info.get("nthreads", 1) for info in client.scheduler_info()["workers"].values()),
                           default=1))
    if decoded:
        from sgdcli.chunks import MAX_WORKERS

        cores -= min(cores, MAX_WORKERS)
    return max(1, cores)


class DaskTrainer:
    """Runs epochs as rounds of local SGD on a Dask cluster."""

    def __init__(self, client, options: DaskOptions, shards: int, steps: int, stop: Callable[[], int | None],
                 report: Callable[[str], None] = lambda text: None):
        self.client, self.options = client, options
        self.shards, self.steps = shards, steps
        self.stop, self.report = stop, report
        self.round_seconds: list[float] = []  # wall time of each round, at the driver
        self.compute_seconds: list[float] = []  # the slowest worker's time in each round
        self._live: list[str] = []  # worker addresses at the latest round

    def run_epoch(self, job: Job, state: TrainState, pos: engine.Position,
                  on_progress: Callable[..., None] | None = None,
                  safe_point: Callable[[engine.Position], None] | None = None) -> engine.EpochResult:
        """Train from ``pos`` to the end of epoch ``pos.epoch`` in rounds; like ``engine.run_epoch``."""
        cfg, plan = job.cfg, job.plan
        counters, sums = state.counters, state.sums
        if pos.fresh and pos.shards is None:
            counters[kernels.EPOCH] = pos.epoch
            sums[kernels.EPOCH_LOSS] = 0.0
            sums[kernels.EPOCH_ROWS] = 0.0
            pos.epoch_start_t = int(counters[kernels.T])
            pos.rows_seen = pos.bad_rows = 0
        if pos.shards is None:
            pos.shards = [[0, 0, 0, False] for _ in range(self.shards)]  # block, row, steps, done
        order = shuffle.block_order(len(job.spans), plan.seed, pos.epoch, plan.shuffle)
        dealt = shuffle.deal(order, [stop - start for start, stop in job.spans], self.shards)
        slots_used = cfg.optimizer != kernels.SGD or cfg.average
        while not all(s[3] for s in pos.shards):
            active = [w for w, s in enumerate(pos.shards) if not s[3]]
            slots = state.slots if slots_used else None
            t_round = time.perf_counter()
            live = self._workers()
            futures = [
                self._submit(live, w, run_round, job, w, dealt[w], pos.epoch, pos.shards[w][0], pos.shards[w][1],
                             state.W, slots, int(counters[kernels.T]), self.steps, pos.epoch_start_t)
                for w in active
            ]
            results = self._gather(futures, (lambda: safe_point(pos)) if safe_point is not None else None)
            self.round_seconds.append(time.perf_counter() - t_round)
            self.compute_seconds.append(max(r.seconds for r in results))
            average_into(state, results, slots_used)
            for r in results:
                pos.shards[r.shard] = [r.block, r.row, pos.shards[r.shard][2] + r.steps, r.finished]
                pos.rows_seen += r.rows_seen
                pos.bad_rows += r.bad_rows
                sums[kernels.EPOCH_LOSS] += r.loss
                sums[kernels.EPOCH_ROWS] += r.rows
            iterations = sum(s[2] for s in pos.shards)
            if on_progress is not None:
                done = max(sums[kernels.EPOCH_ROWS], 1.0)
                on_progress(iterations, pos.rows_seen, sums[kernels.EPOCH_LOSS] / done,
                            engine.current_lr(cfg, state), self._detail(pos, dealt))
            if safe_point is not None:
                safe_point(pos)
        trained = int(sums[kernels.EPOCH_ROWS])
        return engine.EpochResult(
            iterations=sum(s[2] for s in pos.shards),
            rows=trained,
            train_loss=float(sums[kernels.EPOCH_LOSS] / trained) if trained else float("nan"),
            bad_rows=pos.bad_rows,
        )

    def validate(self, job: ValidationJob, We: np.ndarray, on_stop: Callable[[], None] | None = None) -> dict:
        """The validation metrics of ``We``: each shard's worker scores every W-th block, the driver merges."""
        return self.merged(validate, job, on_stop, We).result()

    def merged(self, fn, job, on_stop: Callable[[], None] | None = None, *args):
        """``fn(job, *args, (w, W))`` on every shard's worker, the parts merged in shard order.

        ``on_stop`` is called if a signal arrives meanwhile (it raises to stop).
        """
        live = self._workers()
        futures = [self._submit(live, w, fn, job, *args, (w, self.shards)) for w in range(self.shards)]
        parts = self._gather(futures, on_stop)
        total = parts[0]
        for part in parts[1:]:  # in shard order: the same sums whichever worker finished first
            total.merge(part)
        return total

    def _submit(self, live: list[str], shard: int, fn, *args):
        """``fn(*args)`` as a task that prefers the shard's worker, and runs on any other if that one is gone."""
        where = {"workers": [live[shard % len(live)]], "allow_other_workers": True} if live else {}
        return self.client.submit(fn, *args, pure=False, **where)

    def _gather(self, futures, on_stop: Callable[[], None] | None) -> list:
        """The tasks' results, in order; calls ``on_stop`` on a signal, fails if the cluster has no workers."""
        import distributed

        no_workers_since = None
        try:
            while not all(f.done() for f in futures):
                with contextlib.suppress(TimeoutError):
                    distributed.wait(futures, timeout=_POLL)
                if self.stop() is not None and on_stop is not None:
                    self.client.cancel(futures)
                    on_stop()  # raises; during a round, after checkpointing the last whole round
                if not self.client.scheduler_info()["workers"]:
                    no_workers_since = no_workers_since or time.monotonic()
                    if time.monotonic() - no_workers_since > self.options.timeout:
                        raise RuntimeFailure(f"--dask {self.options.address}: no workers left for "
                                             f"{self.options.timeout:g} s; the last whole round is kept")
                else:
                    no_workers_since = None
            return self.client.gather(futures)
        except SgdcliError:
            self.client.cancel(futures)
            raise
        except Exception as exc:  # a task that failed for good (a worker killed over and over, ...)
            self.client.cancel(futures)
            raise RuntimeFailure(f"--dask {self.options.address}: a training round failed: {_first_line(exc)}; "
                                 f"the last whole round is kept") from None

    def _workers(self) -> list[str]:
        """The connected workers, sorted; shard w prefers the w-th (mod their number), so it keeps its worker
        and that worker's open file.  A change of the set is logged."""
        live = sorted(self.client.scheduler_info()["workers"])
        if self._live and live != self._live:
            lost = [a for a in self._live if a not in live]
            joined = [a for a in live if a not in self._live]
            self.report(f"Dask workers changed: {len(live)} connected" + (f"; lost {', '.join(lost)}" if lost else "")
                        + (f"; joined {', '.join(joined)}" if joined else "") + "; rounds run on the workers there are")
        self._live = live
        return live

    def _detail(self, pos, dealt) -> str:
        parts = []
        for w, (block, _row, _steps, done) in enumerate(pos.shards):
            parts.append(f"w{w + 1} done" if done else f"w{w + 1} {block}/{len(dealt[w])}")
        return "blocks " + " ".join(parts)

    def summary(self) -> dict:
        """For the model file: the set-up, and the medians per round (of this process's rounds, if resumed)
        of the driver's wall time and of what it spent beyond the slowest worker (averaging, Dask, network)."""
        out = {"workers": self.shards, "sync_every": self.steps, "rounds": len(self.round_seconds)}
        if self.round_seconds:
            out["round_ms"] = 1000.0 * float(np.median(self.round_seconds))
            out["round_overhead_ms"] = 1000.0 * float(np.median(np.subtract(self.round_seconds, self.compute_seconds)))
        return out


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
    state.counters[kernels.T] = max([int(state.counters[kernels.T])] + [r.t for r in results])
    state.G[:] = 0.0
    state.counters[kernels.FILL] = 0


def _weighted(arrays: np.ndarray, weights: list[float]) -> np.ndarray:
    out = weights[0] * arrays[0]
    for w, a in zip(weights[1:], arrays[1:]):
        out += w * a
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
