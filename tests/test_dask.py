"""Training on Dask distributed (--dask): a LocalCluster of 2 worker processes.

Facts checked: one worker syncing every step is single-machine training bit
for bit; 2 workers reach the optimum a Newton solver finds; runs repeat bit
for bit; a worker killed mid-round and a run stopped and resumed both end
exactly where an undisturbed run ends; an unreachable scheduler is exit 1,
and so is a port that is not a scheduler's, after --dask-timeout at most,
while a signal stops the wait at once.
"""

import contextlib
import logging
from dataclasses import replace
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
import types
import warnings

import h5py
import numpy as np
import pytest

from sgdcli import train
from sgdcli.parallel.averaging import RoundResult, average_into
from sgdcli.daskoptions import DaskOptions
from sgdcli.kernels.state import TrainState
from sgdcli.options import TrainOptions
from sgdcli.reporting.reporter import Reporter
from sgdcli.data.shuffle import deal, pages_for, segment_rows
from sgdcli.data.table import Table
from sgdcli.errors import InputError

import naive
from conftest import ROOT, make_problem, run, run_process, short_fits, without, write_table
from test_convergence import logistic_objective, newton_logistic

distributed = pytest.importorskip("distributed")  # in the test extra; the skip only guards partial installs


def _cluster(**env):
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # worker processes inherit the environment they are started with
    try:
        with warnings.catch_warnings():  # "port 8787 is in use" when two clusters run
            warnings.simplefilter("ignore")
            return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                            silence_logs=logging.CRITICAL, memory_limit=0)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def cluster():
    with _cluster() as c:
        yield c


@pytest.fixture
def data(tmp_path):
    X, y = make_problem("binary", n=4000, d=100, seed=11)
    return write_table(tmp_path / "b.h5", X, y), X, y


# 1 MiB of --memory (the least allowed) gives blocks of 1,213 rows at 100 features: 4 blocks here.
SMALL = 2**20


def _model_arrays(path):
    with h5py.File(path, "r") as f:
        return {k: f[k][()] for k in ("weights", "bias")}


def _same_bytes(a, b):
    return all(a[k].tobytes() == b[k].tobytes() for k in a)


@short_fits
@pytest.mark.parametrize("batch,optimizer,sync", [(32, "adam", 1), (None, "sgd", 1), (1, "sgd", 50), (7, "nesterov", 3)])
def test_one_worker_is_single_machine_training(data, cluster, batch, optimizer, sync):
    """Bit for bit: the issue asks it of --sync-every 1; with one worker it holds for any K."""
    path, _, _ = data
    opts = TrainOptions(batch_size=batch, optimizer=optimizer, lr=0.05, epochs=2, memory=SMALL, seed=3,
                        val_fraction=0.5, threads=1, standardize=True, average=batch == 7)
    single = train(path, opts)
    dist = train(path, replace(opts, sync_every=sync), dask=DaskOptions(cluster.scheduler_address, workers=1))
    assert dist.weights.tobytes() == single.weights.tobytes()
    assert dist.bias.tobytes() == single.bias.tobytes()
    losses = [r["train_loss"] for r in single.history]
    if sync == 1:
        assert [r["train_loss"] for r in dist.history] == losses
    else:  # the epoch's loss is summed round by round: the same sum, another rounding
        assert [r["train_loss"] for r in dist.history] == pytest.approx(losses, rel=1e-12)
    assert [r["iterations"] for r in dist.history] == [r["iterations"] for r in single.history]
    for key in ("val_loss", "val_accuracy", "val_auc"):  # validated by the worker, on the same blocks
        assert [r[key] for r in dist.history] == [r[key] for r in single.history]
    assert dist.training["workers"] == 1 and dist.training["sync_every"] == sync


def test_early_stopping_keeps_the_same_epoch_as_on_one_machine(data, cluster):
    path, _, _ = data
    # min_delta 1.0: no epoch improves on the first by that much, so both stop after epoch 2 and keep epoch 1
    # (at a constant rate, every epoch counts for patience)
    opts = TrainOptions(batch_size=32, lr=0.05, schedule="constant", epochs=5, memory=SMALL, threads=1,
                        val_fraction=0.3,
                        early_stopping=True, patience=1, min_delta=1.0)
    single = train(path, opts)
    dist = train(path, replace(opts, sync_every=4), dask=DaskOptions(cluster.scheduler_address, workers=1))
    assert single.training["best_epoch"] == dist.training["best_epoch"] == 1
    assert single.training["stopped_early"] and dist.training["stopped_early"]
    assert len(dist.history) == 2
    assert dist.weights.tobytes() == single.weights.tobytes()


def test_two_workers_reach_the_single_machine_optimum(tmp_path, cluster):
    X, y = make_problem("binary", n=4000, d=100, seed=5, noise=10.0)
    path = write_table(tmp_path / "b.h5", X, y, chunks=256)
    l2 = 0.01
    opts = TrainOptions(model="logistic", l2=l2, batch_size=64, lr=0.5, epochs=30, schedule="invscaling",
                        average=True, memory=SMALL, threads=1)
    X64 = X.astype(np.float64)
    w_opt, b_opt = newton_logistic(X64, y, l2)
    best = logistic_objective(w_opt, b_opt, X64, y, l2)
    single = train(path, opts)
    dist = train(path, replace(opts, sync_every=8), dask=DaskOptions(cluster.scheduler_address, workers=2))
    for model in (single, dist):
        got = logistic_objective(model.weights[0], model.bias[0], X64, y, l2)
        assert best <= got <= best * 1.005
    # every epoch trained every row once, across both workers
    assert [r["rows"] for r in dist.history] == [4000] * 30


@short_fits
def test_validation_split_between_workers_matches_one_pass(tmp_path, cluster):
    """Each worker scores every 2nd block of the --val file; the merged metrics are the one-pass metrics."""
    X, y = make_problem("binary", n=4000, d=100, seed=8)
    val = write_table(tmp_path / "val.h5", X, y)
    train_path = write_table(tmp_path / "t.h5", *make_problem("binary", n=4000, d=100, seed=9))
    opts = TrainOptions(batch_size=64, lr=0.05, epochs=1, memory=SMALL, threads=1, val=val)
    model = train(train_path, replace(opts, sync_every=8), dask=DaskOptions(cluster.scheduler_address, workers=2))
    from sgdcli import evaluate

    metrics = evaluate(model, val, memory=SMALL)
    record = model.history[0]
    assert record["val_auc"] == metrics["auc"] and record["val_accuracy"] == metrics["accuracy"]
    assert record["val_log_loss"] == pytest.approx(metrics["log_loss"], rel=1e-12)  # summed in two parts


def test_validation_of_features_far_from_0_split_between_workers_is_centred_on_the_mean_score(tmp_path, cluster):
    """Every worker's AUC histogram is centred on the driver's centre, the model's mean score (not the bias,
    far from every score of features not centred): the merged AUC is evaluate's, and the exact one."""
    from sklearn.metrics import roc_auc_score

    from sgdcli import evaluate

    rng = np.random.default_rng(2)
    Z = rng.standard_normal((4000, 20))
    y = (Z @ rng.standard_normal(20) + rng.logistic(size=4000) > 0).astype(np.int64)
    X = (50.0 + 0.01 * Z).astype(np.float32)
    val = write_table(tmp_path / "val.h5", X, y)
    opts = TrainOptions(epochs=2, memory=SMALL, threads=1, val=val, standardize=False, sync_every=8)
    model = train(val, opts, dask=DaskOptions(cluster.scheduler_address, workers=2))
    metrics = evaluate(model, val, memory=SMALL)
    We = model.raw_weights()
    exact = roc_auc_score(y, X.astype(np.float64) @ We[0, :-1] + We[0, -1])
    assert model.history[-1]["val_auc"] == metrics["auc"] == pytest.approx(exact, abs=1e-4)


class Recorder(Reporter):
    def __init__(self):
        self.calls = []

    def advance(self, epoch, iteration, rows, loss, lr, detail=""):
        self.calls.append((epoch, iteration, rows, detail))


class Passes(Reporter):
    def __init__(self):
        self.told = {}

    def pass_progress(self, stage, done, total):
        self.told.setdefault(stage, []).append((done, total))


def test_the_passes_on_the_workers_tell_the_rows_they_read(data, cluster, tmp_path):
    """The label, moment and validation passes run on the workers (a share of the blocks each): the driver tells
    the rows read as each starts, as the workers' tasks tell it (an event a block, on the scheduler), and as it
    ends, where it told nothing, and a pass over a file of 10^8 rows was minutes of silence in a cron log."""
    path, X, y = data
    val = write_table(tmp_path / "v.h5", X[:1000], y[:1000])
    told = Passes()
    train(path, TrainOptions(epochs=1, memory=SMALL, threads=1, val=str(val)),
          dask=DaskOptions(cluster.scheduler_address, workers=2), reporter=told)
    for stage in ("reading the labels", "standardizing", "validating"):  # (the --val file's check: the driver's)
        calls = told.told[stage]
        rows = 1000 if stage == "validating" else 4000
        assert calls[0] == (0, rows) and calls[-1] == (rows, rows), (stage, calls)
        assert [d for d, _ in calls] == sorted(d for d, _ in calls) and {t for _, t in calls} == {rows}


def test_the_count_of_the_rows_bad_rows_skip_leaves_out_tells_the_rows_it_read(cluster, tmp_path):
    """With --bad-rows skip and rows it leaves out, the shares are cut around them by a pass over the features on
    the workers (averaging.py ``cut_shares``), which told nothing at the driver."""
    X, y = make_problem("binary", n=4000, d=100, seed=12)
    X[::97, 3] = np.nan
    path = write_table(tmp_path / "bad.h5", X, y)
    told = Passes()
    train(path, TrainOptions(epochs=1, memory=SMALL, threads=1, bad_rows="skip"),
          dask=DaskOptions(cluster.scheduler_address, workers=2), reporter=told)
    from sgdcli.training.run import SHARING

    calls = told.told[SHARING]
    assert calls[0] == (0, 4000) and calls[-1] == (4000, 4000), calls


def test_a_workers_share_of_a_pass_tells_the_rows_it_read_block_by_block(data, cluster):
    """What the driver adds up (cluster.py ``rows_read``): each task's events, one before each of its blocks and
    one for all of its share, under one topic for every pass, the latest of each shard of the pass counted, and
    kept from one look to the next (the scheduler keeps a topic's last events alone)."""
    from sgdcli.engine import passes
    from sgdcli.parallel import cluster as cluster_mod, worker
    from sgdcli.parallel.averaging import FileRef

    path, _, _ = data
    opts = TrainOptions(memory=SMALL, threads=1)
    with Table(path) as table, distributed.Client(cluster.scheduler_address) as client:
        block_rows = table.block_rows(SMALL)
        spans = table.spans(block_rows, SMALL)
        job = worker.PassJob(FileRef.of(table), spans, block_rows, opts, 1)
        assert len(spans) == 4
        client.submit(worker.data_pass, job, passes.label_pass, (1, 2), "test-pass", pure=False).result()
        events = [message for _, message in client.get_events(worker.TOLD) if message[0] == "test-pass"]
    share = spans[1::2]
    before = [0] + list(np.cumsum([b - a for a, b in share]))[:-1]
    assert events == [("test-pass", 1, int(d)) for d in before] + [("test-pass", 1, sum(b - a for a, b in share))]
    latest = {}
    told = [(0.0, ("p", 0, 5)), (1.0, ("other", 1, 9)), (2.0, ("p", 1, 7)), (3.0, ("p", 0, 0))]  # shard 0 again
    assert cluster_mod.rows_read(told, "p", latest) == 7
    assert cluster_mod.rows_read([(4.0, ("other", 0, 3))], "p", latest) == 7  # the pass's own gone: kept


def test_same_seed_workers_and_sync_give_the_same_model(data, cluster):
    path, _, _ = data
    opts = TrainOptions(batch_size=16, optimizer="momentum", lr=0.02, epochs=2, memory=SMALL, threads=1)
    dask = DaskOptions(cluster.scheduler_address, workers=2)
    opts = replace(opts, sync_every=5)
    progress = Recorder()
    a, b = train(path, opts, dask=dask, reporter=progress), train(path, opts, dask=dask)
    # progress: global iterations (both shards' steps), rows of both shards, each shard's place
    first = progress.calls[0]
    with Table(path) as table:
        pages = table.page_shuffle(SMALL, pages_for(opts.batch_size), opts.seed, True)
    windows = pages.window_sizes(pages.extent_order(0))
    shards = deal(np.arange(len(windows)), windows, 2)
    sizes = [sum(hi - lo for _, lo, hi in shard) for shard in shards]
    assert sizes == [2000, 2000]  # equal shares, a window split between them
    places = [int(np.searchsorted(np.cumsum([hi - lo for _, lo, hi in share]), 80, side="right")) for share in shards]
    assert first[:3] == (0, 10, 160)
    assert first[3] == f"windows w1 {places[0]}/{len(shards[0])} w2 {places[1]}/{len(shards[1])}"
    iterations = sum(math.ceil(n / 16) for n in sizes)  # each shard's last partial batch is a step of its own
    assert a.history[0]["iterations"] == iterations
    assert [c for c in progress.calls if c[0] == 0][-1][1:] == (iterations, 4000, "windows w1 done w2 done")
    assert a.weights.tobytes() == b.weights.tobytes() and a.bias.tobytes() == b.bias.tobytes()
    c = train(path, replace(opts, sync_every=6), dask=DaskOptions(cluster.scheduler_address, workers=2))
    assert c.weights.tobytes() != a.weights.tobytes()  # K is an input of the result, as documented


def test_local_n_and_scheduler_addresses_are_told_apart():
    assert DaskOptions("local:3").local_workers() == 3
    assert DaskOptions("localhost:8786").local_workers() is None
    assert DaskOptions("tcp://10.0.0.1:8786").local_workers() is None


@pytest.mark.parametrize("address,why", [
    ("udp://x:1", "sgdcli cannot reach a scheduler by udp://"),
    ("tcp://x", "expected a port number from 1 to 65535 after the host"),
    ("tcp://x:http", "expected a port number from 1 to 65535 after the host"),
])
def test_an_address_dask_cannot_use_is_refused_as_daskoptions_is_made(address, why):
    """They were accepted when made, and refused only by train() (the Python API's docs say "checked when it is
    made"); the message is the command line's."""
    with pytest.raises(InputError) as err:
        DaskOptions(address)
    assert str(err.value) == f"--dask {address!r}: {why}; " + _ADDRESSES


def test_shards_are_equal_shares_of_each_epochs_rows_and_change_every_epoch():
    for sizes, workers in (([100] * 9 + [37], 3), ([5, 7], 4), ([10] * 7, 1), ([3], 5)):
        for epoch in range(3):
            order = np.random.default_rng(epoch).permutation(len(sizes))
            shards = deal(order, sizes, workers)
            assert len(shards) == workers
            shares = [sum(hi - lo for _, lo, hi in shard) for shard in shards]
            assert max(shares) - min(shares) <= 1 and sum(shares) == sum(sizes)
            seen = sorted((b, r) for shard in shards for b, lo, hi in shard for r in range(lo, hi))
            assert seen == [(b, r) for b in range(len(sizes)) for r in range(sizes[b])]  # each row once
            assert [b for shard in shards for b, _, _ in shard][0] == order[0]
    rng = np.random.default_rng(0)
    assert deal(rng.permutation(10), [10] * 10, 2) != deal(rng.permutation(10), [10] * 10, 2)


def test_segments_of_a_block_partition_its_visiting_order():
    rows = np.random.default_rng(0).permutation(1000)[:613]  # e.g. the rows --val-fraction leaves
    cuts = [0, 250, 251, 999, 1000]
    parts = [segment_rows(rows, lo, hi, 1000) for lo, hi in zip(cuts, cuts[1:])]
    assert np.array_equal(np.concatenate(parts), rows)


def test_average_weights_shards_by_rows_and_keeps_the_furthest_clock():
    state = TrainState.zeros(1, 2)
    state.counters[0] = 10

    def result(shard, value, rows, t):
        return RoundResult(shard, np.full((1, 3), value), None, t, 1, 0.0, rows, rows, 0, 0, 0, False, 0.0)

    average_into(state, [result(0, 1.0, 300, 14), result(1, 5.0, 100, 13)], slots_used=False)
    np.testing.assert_array_equal(state.W, np.full((1, 3), 0.75 * 1.0 + 0.25 * 5.0))
    assert state.counters[0] == 14


def _dask_cmd(path, out, address, *extra):
    return [sys.executable, "-m", "sgdcli", "train", path, "-o", out, "--dask", address, "--dask-workers", "2",
            "--sync-every", "4", "--batch-size", "16", "--epochs", "2", "--memory", str(SMALL), "--threads", "1",
            "--optimizer", "adam", "--lr", "0.01", "--progress", "plain", *extra]


def test_a_killed_worker_loses_nothing(data, cluster, tmp_path):
    path, _, _ = data
    reference = str(tmp_path / "reference.h5")
    subprocess.run(_dask_cmd(path, reference, cluster.scheduler_address), check=True, capture_output=True, cwd=ROOT)
    with _cluster(SGDCLI_TEST_ROUND_DELAY="0.05") as slow:
        client = distributed.Client(slow)
        pids = list(client.run(os.getpid).values())
        out = str(tmp_path / "model.h5")
        proc = subprocess.Popen(_dask_cmd(path, out, slow.scheduler_address), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=ROOT)
        for line in proc.stderr:  # kill a worker once rounds are running (each sleeps 0.05 s on its worker)
            if "training on" in line:
                break
        time.sleep(1.0)
        assert proc.poll() is None, "training ended before the worker could be killed"
        os.kill(pids[0], signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=240)
        client.close()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert _same_bytes(_model_arrays(out), _model_arrays(reference))


def test_stopped_and_resumed_run_ends_like_a_straight_one(data, cluster, tmp_path):
    path, _, _ = data
    reference = str(tmp_path / "reference.h5")
    subprocess.run(_dask_cmd(path, reference, cluster.scheduler_address), check=True, capture_output=True, cwd=ROOT)
    out = str(tmp_path / "model.h5")
    env = {**os.environ, "SGDCLI_TEST_SAFE_POINT_DELAY": "0.05"}
    proc = subprocess.Popen(_dask_cmd(path, out, cluster.scheduler_address), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    for line in proc.stderr:
        if "training on" in line:
            break
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    assert "checkpoint saved" in stderr and not os.path.exists(out)
    resumed = run_process(*_dask_cmd(path, out, cluster.scheduler_address, "--resume")[3:], timeout=240)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from" in resumed.stderr
    assert _same_bytes(_model_arrays(out), _model_arrays(reference))


def test_resume_with_another_worker_count_is_refused(data, cluster, tmp_path):
    path, _, _ = data
    out = str(tmp_path / "model.h5")
    args = _dask_cmd(path, out, cluster.scheduler_address, "--keep-checkpoint")[3:]
    assert run(*args).returncode == 0
    args[args.index("--dask-workers") + 1] = "1"
    proc = run(*args, "--resume")
    assert proc.returncode == 2
    assert "dask_workers (checkpoint: 2, now: 1)" in proc.stderr


def test_unreachable_scheduler_is_exit_1_within_the_timeout(data, tmp_path):
    path, _, _ = data
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "m.h5"
    proc = run_process("train", path, "-o", out, "--dask", f"tcp://127.0.0.1:{port}", "--dask-timeout", "1", timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"sgdcli: error: --dask tcp://127.0.0.1:{port}: no Dask scheduler answered within 1 s")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists() and not os.path.exists(str(out) + ".ckpt")


class _Peer:
    """A listener on 127.0.0.1 that is not a Dask scheduler: it accepts connections and then sends ``reply`` (and
    keeps them open) or, with ``reply`` None, says nothing; ``accepted`` is set at the first connection."""

    def __init__(self, reply: bytes | None = None):
        import threading

        self.reply, self.accepted, self._kept = reply, threading.Event(), []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.address = f"tcp://127.0.0.1:{self._sock.getsockname()[1]}"
        self._done = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._done:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self._kept.append(conn)
            self.accepted.set()
            if self.reply is not None:
                conn.sendall(self.reply)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._done = True
        self._thread.join()
        for conn in self._kept + [self._sock]:
            conn.close()


@contextlib.contextmanager
def _http_server():
    """An HTTP server on 127.0.0.1, as the Dask dashboard's port (8787) is beside the scheduler's (8786)."""
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield types.SimpleNamespace(address=f"tcp://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("peer", ["silent", "http"])
def test_a_port_that_never_answers_as_a_scheduler_is_exit_1_after_the_timeout(data, tmp_path, peer):
    """A port that accepts and never answers in Dask's protocol held the connection for ever, past --dask-timeout:
    distributed reads the scheduler's handshake without a timeout."""
    path, _, _ = data
    with _Peer() if peer == "silent" else _http_server() as server:
        address = server.address
        t0 = time.monotonic()
        proc = run_process("train", path, "-o", tmp_path / "m.h5", "--dask", address, "--dask-timeout", "2",
                           timeout=60)
        seconds = time.monotonic() - t0
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == (f"sgdcli: error: --dask {address}: no Dask scheduler answered within 2 s (a connection "
                           f"there was accepted, but no answer came in Dask's protocol: another service's port, such "
                           f"as a scheduler's dashboard (8787)?); check the address and that the scheduler runs, or "
                           f"raise --dask-timeout\n")
    assert seconds >= 2  # the time it says it waited, at least
    assert not (tmp_path / "m.h5").exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_a_connection_that_gets_no_answer(data, tmp_path, signum):
    """SIGTERM and SIGINT were ignored while the driver waited for a handshake that never came."""
    path, _, _ = data
    with _Peer() as peer:
        proc = subprocess.Popen([sys.executable, "-m", "sgdcli", "train", path, "-o", str(tmp_path / "m.h5"), "--dask",
                                 peer.address, "--dask-timeout", "120"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            assert peer.accepted.wait(60), "the driver never connected"
            time.sleep(0.5)  # into the wait for the handshake
            proc.send_signal(signum)
            _, stderr = proc.communicate(timeout=20)
        finally:
            proc.kill()
            proc.wait()
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum, stderr
    assert stderr == f"sgdcli: stopped by {name} while connecting to --dask {peer.address}, before training began\n"


@pytest.mark.parametrize("reply", [
    (2**61).to_bytes(8, "little") + b"\0" * 56,  # a frame length of 2 EiB: Dask tried to allocate it (MemoryError)
    b"\xff" * 64,  # one numpy refuses outright (ValueError)
], ids=["MemoryError", "ValueError"])
def test_a_peer_that_replies_in_another_protocol_is_not_a_scheduler(data, tmp_path, reply):
    """Not "out of memory; lower --memory or --batch-size", the line for a MemoryError anywhere else."""
    path, _, _ = data
    with _Peer(reply) as peer:
        proc = run_process("train", path, "-o", tmp_path / "m.h5", "--dask", peer.address, "--dask-timeout", "20",
                           timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith(f"sgdcli: error: --dask {peer.address}: what is there did not answer as a Dask "
                                  f"scheduler (its reply is not in Dask's protocol")
    assert proc.stderr.endswith("); check the address and its port (a scheduler listens on 8786 unless told "
                                "otherwise)\n")
    assert len(proc.stderr.splitlines()) == 1


@pytest.mark.timeout(60)
def test_a_scheduler_that_stops_answering_ends_the_round_after_the_timeout(monkeypatch):
    """A scheduler that no longer answers (stopped, or cut off without a reset) held the round's watch for ever."""
    import threading

    from sgdcli.errors import WorkLost
    from sgdcli.parallel.cluster import ROUND, DaskPool

    class Running:
        def done(self):
            return False

    class Deaf:
        def scheduler_info(self):
            threading.Event().wait()  # as a call to a scheduler that never replies

        def cancel(self, futures):
            pass

    monkeypatch.setattr(distributed, "wait", lambda futures, timeout: time.sleep(timeout))
    pool = DaskPool(Deaf(), DaskOptions("tcp://scheduler:8786", timeout=0.5), 2, stop=lambda: None)
    with pytest.raises(WorkLost, match=r"^--dask tcp://scheduler:8786: the scheduler did not answer for 0\.5 s "
                                       r"during a training round; the last whole round is kept$"):
        pool._gather([Running(), Running()], None, ROUND)


@pytest.mark.parametrize("work,kept", [("a training round", "; the last whole round is kept"),
                                       ("a pass over the data on the workers", "")])
def test_tasks_the_scheduler_cancelled_say_so_and_what_is_kept(monkeypatch, work, kept):
    """A scheduler killed mid-run cancels the tasks: the line read 'a training round failed: 2 Futures cancelled:;
    the last whole round is kept', also for a pass before the first round (nothing kept) and with Dask's
    tracebacks on stderr."""
    from distributed.client import FuturesCancelledError

    from sgdcli.errors import WorkLost
    from sgdcli.parallel import connect
    from sgdcli.parallel.cluster import DaskPool

    class Cancelled:
        def done(self):
            return True

        def result(self, timeout=None):
            raise FuturesCancelledError([])

    class Gone:
        def cancel(self, futures):
            raise OSError("the scheduler is gone")

    monkeypatch.setattr(distributed, "wait", lambda futures, timeout: None)
    pool = DaskPool(Gone(), DaskOptions("tcp://scheduler:8786", timeout=0.5), 2, stop=lambda: None)
    with pytest.raises(WorkLost) as caught:
        pool._gather([Cancelled(), Cancelled()], None, work)
    assert str(caught.value) == (f"--dask tcp://scheduler:8786: {work} failed: the scheduler cancelled its tasks "
                                 f"(the connection to it was lost, or it stopped){kept}")
    with contextlib.suppress(Exception):
        with connect.connect(DaskOptions("tcp://127.0.0.1:1", timeout=0.1), lambda text: None):
            pass
    assert logging.getLogger("distributed.client").getEffectiveLevel() == logging.CRITICAL  # its ERROR tracebacks


def test_a_file_the_workers_cannot_see_names_them(tmp_path, cluster):
    """Each worker opens the data itself, by path.  /proc/self/fd/N names a file only in the process that holds
    descriptor N: the driver (this process) sees it, the cluster's workers do not, as with a disk only the driver
    mounts.  It was "PATH: no such file", the line for a typo on one machine."""
    if not os.path.exists("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd (Linux)")
    X, y = make_problem("binary", n=1000, d=5, seed=2)
    fd = os.open(write_table(tmp_path / "b.h5", X, y), os.O_RDONLY)
    private = 1000  # a descriptor no worker process has open
    os.dup2(fd, private)
    os.close(fd)
    try:
        path = f"/proc/self/fd/{private}"
        workers = ", ".join(sorted(cluster.scheduler_info["workers"]))
        proc = run("train", path, "-o", tmp_path / "m.h5", "--dask", cluster.scheduler_address, "--epochs", "1")
    finally:
        os.close(private)
    assert proc.returncode == 2, proc.stderr
    named = f"worker{'s' if ',' in workers else ''} {workers}"
    assert proc.stderr == (f"sgdcli: error: {path}: Dask {named} cannot see this file, which the driver "
                           f"opened: each worker opens it itself, at the same path; put it where every worker sees it "
                           f"at that path (a shared file system)\n")


def test_a_worker_that_joins_later_and_cannot_see_the_file_says_so():
    from sgdcli.errors import InputError
    from sgdcli.parallel.averaging import FileRef
    from sgdcli.parallel.worker import _table

    with pytest.raises(InputError, match=rf"^/nowhere/b\.h5: Dask worker {socket.gethostname()} cannot see this "
                                         r"file, which the driver opened: each worker opens it itself"):
        _table(FileRef("/nowhere/b.h5", {}, {}))


def test_waits_on_dask_end_at_their_deadline_or_on_a_signal():
    import threading

    from sgdcli.parallel.waits import Late, Stopped, bounded

    assert bounded(lambda: 7, 1) == 7
    with pytest.raises(ZeroDivisionError):
        bounded(lambda: 1 / 0, 1)
    forever = threading.Event().wait
    t0 = time.monotonic()
    with pytest.raises(Late):
        bounded(forever, 0.3)
    assert time.monotonic() - t0 >= 0.3  # it waited for its deadline (and then ended: forever never returns)
    with pytest.raises(Stopped) as stopped:  # a deadline past pytest's timeout: a stop not honoured fails there
        bounded(forever, 3600, stop=lambda: signal.SIGTERM)
    assert stopped.value.signum == signal.SIGTERM


def test_without_dask_installed_the_option_says_how_to_install(data, tmp_path):
    path, _, _ = data
    proc = subprocess.run([sys.executable, "-c", without("distributed"), "train", path, "-o", str(tmp_path / "m.h5"),
                           "--dask", "local:2"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == ("sgdcli: error: --dask needs Dask distributed, which is not installed: "
                           "run .venv/bin/pip install -e '.[dask]' in the sgdcli checkout\n")


_ADDRESSES = ("expected a scheduler address such as tcp://host:8786 (Dask knows "  # the schemes of this Dask
              + ", ".join(f"{s}://" for s in sorted(distributed.comm.registry.backends) if s != "inproc") + "), or local:N")


@pytest.mark.parametrize("args,message", [
    (["--sync-every", "3"], "--sync-every: applies only with --parallel average or --dask ADDRESS"),
    (["--dask-workers", "2"], "--dask-workers: applies only with --dask ADDRESS"),
    (["--dask", "local:2", "--parallel", "average"],
     "--parallel average: averages the threads of one machine; with --dask the workers' models are averaged "
     "already (--threads sets each worker's threads)"),
    (["--dask", "local:0"], "--dask 'local:0': needs at least one worker"),
    (["--dask", "local:2", "--dask-workers", "3"],  # it waited --dask-timeout for a third worker, then exit 1
     "--dask-workers 3: --dask local:2 starts only 2 workers"),
    (["--dask", "local:two"], "--dask 'local:two': expected local:N with N the number of worker processes"),
    (["--dask", "scheduler"], "--dask 'scheduler': expected a scheduler address such as tcp://host:8786, or local:N"),
    (["--dask", "udp://x:1"], "--dask 'udp://x:1': sgdcli cannot reach a scheduler by udp://; " + _ADDRESSES),
    (["--dask", "tcp://x"], "--dask 'tcp://x': expected a port number from 1 to 65535 after the host; " + _ADDRESSES),
    (["--dask", "tcp://x:http"],
     "--dask 'tcp://x:http': expected a port number from 1 to 65535 after the host; " + _ADDRESSES),
])
def test_bad_dask_options_are_exit_2(data, tmp_path, args, message):
    path, _, _ = data
    proc = run("train", path, "-o", tmp_path / "m.h5", *args)
    assert proc.returncode == 2
    assert proc.stderr == f"sgdcli: error: {message}\n"


def test_local_cluster_from_the_command_line(data, tmp_path):
    path, _, _ = data
    out = tmp_path / "m.h5"
    proc = run_process("train", path, "-o", out, "--dask", "local:2", "--batch-size", "32", "--epochs", "2",
                       "--memory", SMALL, "--sync-every", "10", "--progress", "plain", timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert "starting a local Dask cluster of 2 worker processes" in proc.stderr
    assert "--dask local:2: 2 workers, each 10 steps (320 rows) per round" in proc.stderr
    assert "epoch 2/2" in proc.stderr and "Traceback" not in proc.stderr
    assert out.exists()


class FakeClient:
    def __init__(self, answer):
        self.answer = answer

    def run(self, fn):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_a_worker_without_sgdcli_is_refused_and_other_versions_are_reported():
    from sgdcli.parallel.connect import _check_workers
    from sgdcli.errors import RuntimeFailure
    from sgdcli.parallel.worker import versions

    options = DaskOptions("tcp://scheduler:8786")
    with pytest.raises(RuntimeFailure) as err:
        _check_workers(FakeClient(ModuleNotFoundError("No module named 'sgdcli'")), options, print)
    assert str(err.value) == ("--dask tcp://scheduler:8786: a worker cannot run sgdcli (No module named 'sgdcli'); "
                              "install it on every worker: run .venv/bin/pip install -e '.[dask]' in the sgdcli "
                              "checkout")
    mine = versions()
    messages = []
    _check_workers(FakeClient({"tcp://a:1": mine, "tcp://b:2": {**mine, "numba": "0.1"}}), options, messages.append)
    assert messages == [f"worker tcp://b:2 runs numba 0.1 (driver: {mine['numba']}): its rounds may round differently, or fail"]


@pytest.mark.parametrize("task,k", [("regression", 1), ("binary", 1), ("multiclass", 3)])
def test_metrics_of_two_row_sets_merge_into_the_metrics_of_both(task, k):
    from sgdcli.model.metrics import for_task

    rng = np.random.default_rng(4)
    S = rng.standard_normal((1000, k))
    y = rng.standard_normal(1000) * 3 + 1 if task == "regression" else rng.integers(0, max(k, 2), 1000).astype(float)
    whole, a, b = for_task(task), for_task(task), for_task(task)
    whole.update(S, y)
    a.update(S[:300], y[:300])
    b.update(S[300:], y[300:])
    a.merge(b)
    merged, expected = a.result(), whole.result()
    assert merged.keys() == expected.keys()
    for key in expected:
        assert merged[key] == pytest.approx(expected[key], rel=1e-12), key


@short_fits
def test_label_and_moment_passes_split_between_workers(data, cluster):
    path, X, _ = data
    opts = TrainOptions(batch_size=64, epochs=1, memory=SMALL, threads=1, standardize=True, val_fraction=0.25)
    single = train(path, opts)
    dist = train(path, replace(opts, sync_every=8), dask=DaskOptions(cluster.scheduler_address, workers=2))
    assert dist.training["rows"] == single.training["rows"] and dist.training["val_rows"] == single.training["val_rows"]
    np.testing.assert_allclose(dist.center, single.center, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dist.scale, single.scale, rtol=1e-12)
    assert list(dist.classes) == list(single.classes)


def test_bad_data_found_by_a_worker_is_the_same_one_line_error(tmp_path, cluster):
    X, y = make_problem("binary", n=4000, d=100, seed=3)
    y = y.astype(float)
    y[3000] = np.nan  # in the third block: the second worker's share
    path = write_table(tmp_path / "bad.h5", X, y)
    args = ["train", path, "-o", tmp_path / "m.h5", "--memory", SMALL, "--threads", "1", "-q"]
    single = run(*args)
    dist = run(*args, "--dask", cluster.scheduler_address, "--dask-workers", "2")
    assert single.returncode == dist.returncode == 2
    assert dist.stderr == single.stderr
    assert dist.stderr.startswith(f"sgdcli: error: {path}:y: ") and "3000" in dist.stderr
    assert len(dist.stderr.splitlines()) == 1
    assert not (tmp_path / "m.h5").exists()


def test_divergence_on_a_worker_is_the_single_machine_message(data, cluster):
    from sgdcli.errors import DivergedError

    path, _, _ = data
    opts = TrainOptions(model="linear", batch_size=8, lr=50.0, epochs=2, memory=SMALL, threads=1)
    with pytest.raises(DivergedError) as single:
        train(path, opts)
    with pytest.raises(DivergedError) as dist:
        train(path, replace(opts, sync_every=3), dask=DaskOptions(cluster.scheduler_address, workers=1))
    assert str(dist.value) == str(single.value)
    assert str(single.value).startswith("training diverged in epoch 1 at iteration ")
    # the plan the workers get says that the rate was given, and the driver what --lr auto would choose
    assert re.search(r", or --lr auto \([0-9.e+-]+ here\)$", str(single.value)), single.value


def test_too_few_workers_is_exit_1_within_the_timeout(data, tmp_path):
    path, _, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler_only = distributed.LocalCluster(n_workers=0, dashboard_address=None, silence_logs=logging.CRITICAL)
    with scheduler_only:
        proc = run_process("train", path, "-o", tmp_path / "m.h5", "--dask", scheduler_only.scheduler_address,
                           "--dask-workers", "2", "--dask-timeout", "1", timeout=60)
    assert proc.returncode == 1
    # the wait is said as it begins (nothing was: a long --dask-timeout looked like a hang), and its end
    waiting, failed = proc.stderr.splitlines()
    assert waiting.split(" ", 1)[1] == (f"waiting for 2 Dask workers at {scheduler_only.scheduler_address} (0 "
                                        "connected), up to --dask-timeout 1 s")
    assert failed == (f"sgdcli: error: --dask {scheduler_only.scheduler_address}: 0 workers connected after 1 s, "
                      f"2 needed; start more workers or raise --dask-timeout")


def test_losing_every_worker_stops_with_a_checkpoint_of_the_last_round(data, cluster, tmp_path):
    path, _, _ = data
    out = str(tmp_path / "model.h5")
    with _cluster(SGDCLI_TEST_ROUND_DELAY="0.05") as c:
        # a timeout of some seconds: on a loaded machine, workers slow to answer the set-up's checks within 2 s
        # ended the run before training
        proc = subprocess.Popen(_dask_cmd(path, out, c.scheduler_address, "--dask-timeout", "5"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if "training on" in line:
                break
        time.sleep(1.0)
        c.scale(0)
        _, rest = proc.communicate(timeout=120)
    stderr = "".join(seen) + rest
    assert proc.returncode == 1, stderr
    assert "training on" in "".join(seen), stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"sgdcli: error: --dask {c.scheduler_address}: no workers left for 5 s during a training "
                           f"round; the last whole round is kept; checkpoint saved to {out}.ckpt, run the same command with --resume")
    assert os.path.exists(out + ".ckpt") and not os.path.exists(out)
    # resumed on another cluster, it ends with the bytes of a run nothing happened to
    resumed = run_process(*_dask_cmd(path, out, cluster.scheduler_address, "--resume")[3:], timeout=240)
    assert resumed.returncode == 0, resumed.stderr
    reference = str(tmp_path / "reference.h5")
    subprocess.run(_dask_cmd(path, reference, cluster.scheduler_address), check=True, capture_output=True, cwd=ROOT)
    assert _same_bytes(_model_arrays(out), _model_arrays(reference))


@pytest.mark.timeout(60)
def test_results_lost_with_their_workers_end_the_round_after_the_timeout(monkeypatch):
    """A task can finish and its worker die before its result is fetched: Dask then runs it again, which waits
    for a worker.  With none left, the round fails after --dask-timeout; one ``client.gather`` of every result
    waited for ever (seen once in ten runs of the test above, with its stack in Client.gather)."""
    import threading

    from sgdcli.errors import WorkLost
    from sgdcli.parallel.cluster import ROUND, DaskPool

    class Lost:  # finished, but its result went with its worker: fetching it waits
        def done(self):
            return True

        def result(self, timeout=None):
            time.sleep(timeout)
            raise TimeoutError

    class NoWorkers:
        def scheduler_info(self):
            return {"workers": {}}

        def cancel(self, futures):
            pass

        def gather(self, futures):
            threading.Event().wait()  # as Dask's did, for a worker that never comes

    monkeypatch.setattr(distributed, "wait", lambda futures, timeout: time.sleep(timeout))
    pool = DaskPool(NoWorkers(), DaskOptions("tcp://scheduler:8786", timeout=0.5), 2, stop=lambda: None)
    with pytest.raises(WorkLost, match=r"^--dask tcp://scheduler:8786: no workers left for 0\.5 s during a training "
                                       r"round; the last whole round is kept$"):
        pool._gather([Lost(), Lost()], None, ROUND)


def test_of_two_workers_that_find_bad_rows_the_first_in_shard_order_is_named(monkeypatch):
    """The round raised the first failure to arrive: with bad rows in both workers' shares, the row named
    depended on which worker got there first (on threads, the first shard's)."""
    from sgdcli.parallel.cluster import ROUND, DaskPool

    polls = [0]

    class Failing:
        def __init__(self, row, ready):
            self.row, self.ready = row, ready

        def done(self):
            return polls[0] >= self.ready

        @property
        def status(self):
            return "error" if self.done() else "pending"

        def result(self, timeout=None):
            raise InputError(f"d.h5:X: non-finite feature value at row {self.row}")

    class Cluster:
        def scheduler_info(self):
            return {"workers": {"tcp://a:1": {}, "tcp://b:2": {}}}

        def cancel(self, futures):
            pass

    monkeypatch.setattr(distributed, "wait", lambda futures, timeout: polls.__setitem__(0, polls[0] + 1))
    pool = DaskPool(Cluster(), DaskOptions("tcp://scheduler:8786", timeout=5), 2, stop=lambda: None)
    with pytest.raises(InputError, match=r"^d\.h5:X: non-finite feature value at row 5$"):
        pool._gather([Failing(5, ready=3), Failing(900, ready=1)], None, ROUND)


@short_fits
def test_workers_leave_the_cores_to_the_gzip_decoders_by_default(tmp_path):
    from sgdcli.data.chunks import MAX_WORKERS
    from sgdcli.kernels.runtime import available_cores

    X, y = make_problem("binary", n=3000, d=10, seed=2)
    plain = write_table(tmp_path / "plain.h5", X, y)
    gzip = write_table(tmp_path / "gzip.h5", X, y, chunks=512, compression="gzip")
    opts = TrainOptions(batch_size=64, epochs=1)
    cores = available_cores()
    for path, expected in ((plain, cores), (gzip, max(1, cores - min(cores, MAX_WORKERS)))):
        model = train(path, opts, dask=DaskOptions("local:1"))
        assert model.training["threads"] == expected, path


def test_two_workers_scale_the_rate_and_match_one_process(tmp_path, cluster):
    """As threads of --parallel average: the rate doubles by default, and the test loss matches one process."""
    from sgdcli import evaluate

    X, y = make_problem("binary", n=44000, d=10, seed=5)
    path = write_table(tmp_path / "d.h5", X[:40000], y[:40000])
    test = write_table(tmp_path / "t.h5", X[40000:], y[40000:])
    opts = naive.options(model="logistic", batch_size=1024, epochs=3, memory=SMALL, threads=1)
    one = train(path, opts)
    two = train(path, opts, dask=DaskOptions(cluster.scheduler_address, workers=2))
    plain = train(path, replace(opts, lr_scaling="none"), dask=DaskOptions(cluster.scheduler_address, workers=2))
    assert (one.training["lr"], two.training["lr"], plain.training["lr"]) == (0.01, 0.02, 0.01)
    loss = {name: evaluate(m, test)["log_loss"] for name, m in (("one", one), ("two", two), ("plain", plain))}
    assert loss["two"] <= 1.01 * loss["one"]
    assert loss["plain"] > 1.03 * loss["one"]


def test_two_workers_at_the_default_rate_match_one_process(tmp_path, cluster):
    """Under --lr auto the rate is sized for both workers' batches, and the test loss matches one process."""
    from sgdcli import evaluate

    X, y = make_problem("binary", n=44000, d=10, seed=5)
    path = write_table(tmp_path / "d.h5", X[:40000], y[:40000])
    test = write_table(tmp_path / "t.h5", X[40000:], y[40000:])
    opts = TrainOptions(model="logistic", batch_size=1024, epochs=3, memory=SMALL, threads=1)
    one = train(path, opts)
    two = train(path, opts, dask=DaskOptions(cluster.scheduler_address, workers=2))
    assert two.training["lr"] > one.training["lr"]  # the curvature's rate at 2 × 1024 rows
    assert evaluate(two, test)["log_loss"] <= 1.01 * evaluate(one, test)["log_loss"]


def test_sparse_input_trains_on_workers_as_on_one_machine(tmp_path, cluster):
    """A CSR file, its rows read by the workers: one worker syncing every step is single-machine training, to
    rounding (the sparse kernel folds its L2 scale into the weights at the end of each call, and a round is
    a call)."""
    scipy_sparse = pytest.importorskip("scipy.sparse")
    M = scipy_sparse.random(2000, 300, density=0.05, format="csr", dtype=np.float32, random_state=2)
    y = (np.asarray(M.sum(axis=1)).ravel() > np.median(np.asarray(M.sum(axis=1)))).astype(np.int64)
    with h5py.File(tmp_path / "s.h5", "w") as f:
        g = f.create_group("X")
        g["data"], g["indices"], g["indptr"] = M.data, M.indices, M.indptr
        g.attrs["shape"] = M.shape
        f["y"] = y
    opts = TrainOptions(batch_size=16, epochs=2, memory=SMALL, threads=1, l1=1e-4, val_fraction=0.2)
    single = train(tmp_path / "s.h5", opts)
    dist = train(tmp_path / "s.h5", replace(opts, sync_every=1), dask=DaskOptions(cluster.scheduler_address, workers=1))
    np.testing.assert_allclose(dist.weights, single.weights, rtol=1e-12, atol=1e-15)
    two = train(tmp_path / "s.h5", opts, dask=DaskOptions(cluster.scheduler_address, workers=2))
    # two shards of 800 rows averaged every ~1M rows' worth of steps: another trajectory, near the same loss
    assert two.history[-1]["val_loss"] == pytest.approx(single.history[-1]["val_loss"], rel=0.2)
    assert two.training["workers"] == 2


def test_sample_weights_on_workers_are_single_machine_training(tmp_path, cluster):
    """The weights' sums and the weighted moments merge between workers; one worker is one machine, bit for bit."""
    X, y = make_problem("binary", n=4000, d=20, seed=5)
    path = write_table(tmp_path / "w.h5", X, y)
    with h5py.File(path, "a") as f:
        f["w"] = np.random.default_rng(0).integers(0, 5, len(y)).astype(float)
    opts = TrainOptions(batch_size=16, epochs=2, memory=SMALL, threads=1, sample_weight="w", class_weight="balanced",
                        val_fraction=0.2)
    single = train(path, opts)
    one = train(path, replace(opts, sync_every=1), dask=DaskOptions(cluster.scheduler_address, workers=1))
    assert one.weights.tobytes() == single.weights.tobytes()
    assert [r["val_loss"] for r in one.history] == [r["val_loss"] for r in single.history]
    two = train(path, opts, dask=DaskOptions(cluster.scheduler_address, workers=2))
    assert two.training["sample_weight"]["total"] == pytest.approx(single.training["sample_weight"]["total"], rel=1e-12)
    np.testing.assert_allclose(two.center, single.center, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(two.scale, single.scale, rtol=1e-12)
    np.testing.assert_allclose(two.training["class_weights"], single.training["class_weights"], rtol=1e-12)


def test_workers_get_equal_shares_of_the_rows_bad_rows_skip_leaves_in(tmp_path, cluster):
    """The shares were cut equal in the rows not held out, bad ones included: with the first 30% of rows bad and
    no shuffle, the worker of the bad rows took 40 steps an epoch and the other 100, and the step clock ran to
    200 of the 140 the cosine schedule counts, the last 30% of updates at rate 0."""
    X, y = make_problem("binary", n=20000, d=50, seed=1)
    y = y.astype(np.float64)
    y[:6000] = np.nan
    path = write_table(tmp_path / "bad.h5", X, y)
    opts = TrainOptions(batch_size=100, epochs=2, threads=1, bad_rows="skip", shuffle=False, lr=0.1, memory=SMALL)
    model = train(path, opts, dask=DaskOptions(cluster.scheduler_address, workers=2))
    assert model.training["rows"] == 14000 and model.training["iterations_per_epoch"] == 140
    assert [h["iterations"] for h in model.history] == [140, 140]
    assert model.training["updates"] == 140 and model.history[-1]["lr"] > 0


def _slow_validate(*args):
    """A worker's share of a validation pass, late enough for a signal to come while the driver waits for it."""
    from sgdcli.parallel import worker

    time.sleep(2)
    return worker.validate(*args)


class _Messages(Reporter):
    def __init__(self):
        self.lines = []

    def message(self, text):
        self.lines.append(text)


def test_a_signal_during_the_fits_validation_pass_keeps_the_finished_model(cluster, tmp_path, monkeypatch):
    """After the last epoch, the fit of the sample scores the validation rows on the workers
    (training/stopchoice.py).  A signal there stops that check, not the run, as on one machine; through --dask the
    driver's wait for the workers took the stop for a failed pass: "a pass over the data on the workers failed:
    SIGTERM", no model, the checkpoint left."""
    import sgdcli.parallel.cluster as pool
    from sgdcli import RunControl, load_model
    from sgdcli.training import fitgap
    from sgdcli.training.runlog import FitWarning

    path = write_table(tmp_path / "reg.h5", *make_problem("regression", n=5000, d=5, seed=8))
    # adam at a constant rate: early stopping keeps an epoch the fit beats (tests/test_loss_chose.py)
    options = TrainOptions(model="huber", batch_size=32, threads=1, early_stopping=True, schedule="constant",
                           optimizer="adam", epochs=10, val_fraction=0.2, patience=3)
    dask = DaskOptions(cluster.scheduler_address, workers=1)
    with pytest.warns(FitWarning):
        told = train(path, options, dask=dask)
    fitting, fit_params = [], fitgap.fit_params

    def fit_then_slow(run):
        fitting.append(1)
        monkeypatch.setattr(pool, "validate", _slow_validate)
        return fit_params(run)

    monkeypatch.setattr(fitgap, "fit_params", fit_then_slow)
    heard, out, checkpoint = _Messages(), tmp_path / "m.h5", tmp_path / "m.h5.ckpt"
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitWarning)  # the check is left undone: it tells nothing
        m = train(path, options, output=str(out), reporter=heard, dask=dask,
                  control=RunControl(checkpoint=str(checkpoint), stop=lambda: signal.SIGTERM if fitting else None))
    assert fitting == [1] and heard.lines[-1].startswith("SIGTERM after training ended, while validating the fit")
    np.testing.assert_array_equal(m.raw_weights(), told.raw_weights())
    np.testing.assert_array_equal(load_model(str(out)).raw_weights(), told.raw_weights())
    assert not checkpoint.exists()
