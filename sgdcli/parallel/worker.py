"""What runs on a Dask worker: one round of local SGD on one shard, and shares of the other passes.

A round (averaging.py) is a pure function of its arguments: the job (file,
options, plan), the shard's blocks for the epoch, where in them the round
starts, the model and optimizer state it starts from, and how many
mini-batch steps to take.  Nothing is kept between rounds that changes a
result, so Dask can re-run a round whose worker died, on any worker, and get
the same answer bit for bit.

What is kept, per worker process, is only what makes rounds cheap: the open
file (its memory map), re-opened if the file's fingerprint changes, and
closed when the run that read it ends (``release``) or, past OPEN_TABLES
files, when it is the one used least recently.  The
worker reads its blocks with the same reader, row selection and row order as
single-machine training (``engine.epoch.run_epoch``); the data never leaves it.
The passes outside the epochs (labels, moments, validation) run the same way
over every W-th block, and return results the driver merges.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import os
import socket
import threading
import time

import numpy as np

from sgdcli import testhooks
from sgdcli.data.table import Table
from sgdcli.engine import passes
from sgdcli.engine.epoch import Kept
from sgdcli.errors import InputError
from sgdcli.kernels.runtime import numba_threads
from sgdcli.model.inference import measure_part
from sgdcli.model.measurement import Measurement
from sgdcli.parallel.averaging import FileRef, Job, Round, RoundResult, train_round


@dataclasses.dataclass(frozen=True)
class ValidationJob:
    """A validation pass over a file, each worker scoring a share of its blocks."""

    file: FileRef
    objective: tuple  # the model's loss and its parameter (options.objective)
    labels: object  # model.labels.Labels
    memory: int
    select: object  # data.selection.ValidationRows
    threads: int
    centre: float = 0.0  # the score the AUC is centred on (model.metrics.BinaryMetrics): the model's mean score


@dataclasses.dataclass(frozen=True)
class PassJob:
    """A pass before training (engine/passes.py) over the training file, each worker taking a share of its blocks."""

    file: FileRef
    spans: list
    block_rows: int
    opts: object  # options.TrainOptions
    threads: int


TOLD = "sgdcli-pass-progress"  # the scheduler's topic of the rows each share of a pass has read (``told``)
_LOCK = threading.Lock()  # one task at a time per process: Numba's thread pool is not re-entrant
_TABLES: dict[tuple, Table] = {}  # the files open between tasks, the one used least recently first
# each shard's window between its rounds (engine.epoch.Kept), by run and shard, the one used least recently
# first: a worker runs one shard's rounds at a time, and the windows of a run killed before its end go
_KEPT: dict[tuple[str, int], Kept] = {}
# A run reads a training file and a validation file; room for those of a second run on the same cluster.  Past
# it, the least recently used is closed: a driver killed before it could release its files left them open.
OPEN_TABLES = 4
KEPT_SHARDS = 2  # windows kept between rounds: a shard's, and another's where the scheduler moves shards


@contextlib.contextmanager
def _exclusive(threads: int):
    """This process's Numba threads, for one task at a time."""
    with _LOCK, numba_threads(threads):
        yield


def run_round(job: Job, r: Round) -> RoundResult:
    """One shard's round (averaging.train_round) on this worker, with the file it opens once."""
    with _exclusive(job.threads):
        if testhooks.ROUND_DELAY:
            time.sleep(testhooks.ROUND_DELAY)
        return train_round(_table(job.file), job, r, kept=_kept(job.run, r.shard))


def _kept(run: str, shard: int) -> Kept:
    """The window of shard ``shard`` of run ``run`` kept between its rounds on this worker (callers hold
    ``_LOCK``), up to KEPT_SHARDS of them."""
    kept = _KEPT.pop((run, shard), None) or Kept()
    _KEPT[(run, shard)] = kept
    while len(_KEPT) > KEPT_SHARDS:
        del _KEPT[next(iter(_KEPT))]
    return kept


def validate(job: ValidationJob, We: np.ndarray, part: tuple[int, int], pass_id: str | None = None) -> Measurement:
    """Loss and metrics of weights ``We`` (on raw features) over blocks ``part`` = (i, n) of the file; the rows
    read told as ``told`` says, of pass ``pass_id``."""
    with _exclusive(job.threads):
        return measure_part(_table(job.file), job.objective, job.labels, We, job.memory, job.select, part,
                            progress=told(pass_id, part[0]), centre=job.centre)


def data_pass(job: PassJob, fn, part: tuple[int, int], pass_id: str | None = None):
    """``fn`` (a pass of engine/passes.py) over blocks ``part`` = (i, n) of the file: every n-th block from the
    i-th; the rows read told as ``told`` says, of pass ``pass_id``."""
    i, n = part
    spans = job.spans[i::n]
    tell = told(pass_id, i)
    with _exclusive(job.threads):
        out = fn(_table(job.file), spans, job.block_rows, job.opts, passes.watched(spans, lambda: None, tell))
    if tell is not None:
        tell(sum(stop - start for start, stop in spans), 0)  # all of the share
    return out


def told(pass_id: str | None, shard: int):
    """``progress(rows read, rows in all)`` of shard ``shard``'s task in pass ``pass_id``, which tells the driver
    the rows its share has read as an event of TOLD on the scheduler (cluster.py ``DaskPool.merged`` adds the
    shards' latest): a pass over a file of 10^8 rows takes minutes, silent in a cron log without it.  One topic
    for every pass, of which the scheduler keeps the last events alone, for as long as it runs: a topic a pass
    would be kept as long, however many passes a cluster that outlives the runs served.  None where ``pass_id``
    is."""
    if pass_id is None:
        return None
    import distributed

    here = distributed.get_worker()
    return lambda done, total: here.log_event(TOLD, (pass_id, shard, done))


def versions() -> dict:
    """What a worker runs: compared with the driver's before training starts."""
    from sgdcli import __version__

    return {"sgdcli": __version__, "numba": importlib.metadata.version("numba"), "numpy": np.__version__}


def unseen(paths: list[str]) -> list[str]:
    """Those of ``paths`` (the driver's data files) that this worker cannot see: checked before training."""
    return [path for path in paths if not os.path.exists(path)]


def release(paths: list[str]) -> None:
    """Close this worker's tables of ``paths``, the files of a run that ended, once no task uses them.

    A worker of a cluster that outlives the runs kept every file it had read
    open: its descriptors, the threads that inflate its gzip chunks, and the
    disk space of a file deleted since (a nightly run's data of the day).
    ``Client.run`` calls this in the worker's event loop, which a wait for a
    task's lock would stall, so the tables are closed in a thread of their own.
    """
    threading.Thread(target=_close_tables, args=(set(paths),), name="sgdcli-release", daemon=True).start()


def _close_tables(paths: set[str]) -> None:
    with _LOCK:
        for key in [key for key in _TABLES if key[0] in paths]:
            _TABLES.pop(key).close()


def _table(ref: FileRef) -> Table:
    """The file, opened once per worker process and re-opened if it changed (callers hold ``_LOCK``)."""
    key = (ref.path, tuple(sorted((k, str(v)) for k, v in ref.selection.items())))
    table = _TABLES.pop(key, None)  # put back last: the one used most recently
    if table is not None and _same_file(table.fingerprint(), ref.fingerprint):
        _TABLES[key] = table
        return table
    if table is not None:
        table.close()
    if not os.path.exists(ref.path):  # a worker that joined after the check before training (connect.check_paths)
        raise InputError(f"{ref.path}: Dask worker {socket.gethostname()} cannot see this file, which the driver "
                         f"opened: each worker opens it itself, at the same path; put it where every worker sees "
                         f"it at that path (a shared file system)")
    table = ref.open()
    seen = table.fingerprint()
    if not _same_file(seen, ref.fingerprint):
        table.close()
        diff = [f"{k} {seen.get(k)!r} (driver: {ref.fingerprint.get(k)!r})" for k in sorted(ref.fingerprint)
                if seen.get(k) != ref.fingerprint.get(k)]
        raise InputError(f"{ref.path}: worker {socket.gethostname()} sees a different file than the driver: "
                         f"{'; '.join(diff)}; every worker must see the same file at the same path")
    while len(_TABLES) >= OPEN_TABLES:
        _TABLES.pop(next(iter(_TABLES))).close()
    _TABLES[key] = table
    return table


def _same_file(seen: dict, expected: dict) -> bool:
    return all(seen.get(k) == v for k, v in expected.items())
