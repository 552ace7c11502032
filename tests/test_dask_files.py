"""The files a Dask worker keeps open between tasks: those of the runs still going, and a few at most.

A worker of a cluster that outlives the runs (a scheduler a nightly job
connects to) kept every file it had trained on open for as long as it lived:
its descriptors, the threads that inflate its gzip chunks, and the disk space
of a file deleted since.
"""

import logging
import os
import time
import warnings

import h5py
import pytest

from sgdcli import train
from sgdcli.daskoptions import DaskOptions
from sgdcli.data.table import Table
from sgdcli.options import TrainOptions
from sgdcli.parallel import worker
from sgdcli.parallel.averaging import FileRef

from conftest import make_problem

distributed = pytest.importorskip("distributed")


def _gzip_file(path, seed):
    X, y = make_problem("binary", n=3000, d=4, seed=seed)
    with h5py.File(path, "w") as f:
        f.create_dataset("X", data=X, chunks=(256, 4), compression="gzip")
        f.create_dataset("y", data=y)
        f.create_dataset("Xv", data=X[:500])
        f.create_dataset("yv", data=y[:500])
    return str(path)


def _held():
    """On a worker: the paths of the tables it keeps open, and the paths its open descriptors name."""
    fds = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            fds.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:  # the descriptor listdir itself held, closed since
            pass
    return sorted({key[0] for key in worker._TABLES}), fds


def test_a_cluster_that_outlives_the_run_closes_its_files(tmp_path):
    """Both files of the run, deleted once it ended, were still held open by the worker (descriptors and all)."""
    if not os.path.exists("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd (Linux)")
    data = _gzip_file(tmp_path / "day1.h5", seed=1)
    val = _gzip_file(tmp_path / "val1.h5", seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                           silence_logs=logging.CRITICAL, memory_limit=0)
    with cluster, distributed.Client(cluster) as client:
        train(data, TrainOptions(epochs=3, batch_size=8, threads=1, val=val, val_x="Xv", val_y="yv"),
              dask=DaskOptions(cluster.scheduler_address))
        os.remove(data)
        os.remove(val)
        deadline = time.monotonic() + 60  # (the release runs in a thread of the worker's: waited for, not timed)
        while True:
            (tables, fds), = client.run(_held).values()
            if not tables or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert tables == []
    assert [fd for fd in fds if str(tmp_path) in fd] == []


def test_a_worker_keeps_the_files_used_most_recently_and_closes_the_others(tmp_path, monkeypatch):
    """A driver killed before it could release its files: the worker kept every file of every such run."""
    monkeypatch.setattr(worker, "_TABLES", {})
    refs = []
    for k in range(worker.OPEN_TABLES + 2):
        with Table(_gzip_file(tmp_path / f"d{k}.h5", seed=k)) as table:
            refs.append(FileRef.of(table))
    opened = [worker._table(ref) for ref in refs[:worker.OPEN_TABLES]]
    assert worker._table(refs[0]) is opened[0]  # used again: now the most recent
    for ref in refs[worker.OPEN_TABLES:]:
        worker._table(ref)
    assert [key[0] for key in worker._TABLES] == [refs[k].path for k in (3, 0, 4, 5)]
    assert not opened[1].file.id.valid and not opened[2].file.id.valid  # closed, not just forgotten
    assert opened[0].file.id.valid and opened[3].file.id.valid
    worker._close_tables({ref.path for ref in refs})
    assert worker._TABLES == {}
