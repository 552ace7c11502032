"""``train()``: options in, a Model out.

Order of work: lock the outputs, check they are writable, open and check the
data, one pass over the labels (classes, finiteness, row count), one over the
features if standardizing, then the epochs.  The epochs themselves are
``engine.run_epoch``; this module adds validation, early stopping, history,
checkpoints, resume and stopping on signals.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from typing import TYPE_CHECKING, Callable

import numpy as np

from sgdcli import checkpoint as ckpt_mod
from sgdcli import averaging, chunks, engine, hdf5, kernels, labels as labels_mod, losses, optimizers, passes, schedules
from sgdcli.atomic import atomic_output, check_writable
from sgdcli.early_stopping import EarlyStopping
from sgdcli.errors import DivergedError, InputError, Interrupted, RuntimeFailure
from sgdcli.inference import measure
from sgdcli.labels import Labels
from sgdcli.locking import exclusive
from sgdcli.model import Model
from sgdcli.options import TrainOptions, format_size
from sgdcli.progress import Reporter
from sgdcli.runtime import available_cores
from sgdcli.selection import ValidationRows
from sgdcli.source import Table
from sgdcli.versions import versions

if TYPE_CHECKING:  # cluster.py imports Dask's helpers only when --dask is used
    from sgdcli.cluster import DaskOptions


# Test hook: seconds to sleep at every safe point, so that tests can stop tiny
# runs at random moments.  Never set in normal use.
_SAFE_POINT_DELAY = float(os.environ.get("SGDCLI_TEST_SAFE_POINT_DELAY", 0))


@dataclasses.dataclass(frozen=True)
class RunControl:
    """How a run is kept safe; none of it changes the model that comes out."""

    checkpoint: str | None = None  # None: no checkpoints
    checkpoint_every: int | None = None  # iterations between checkpoints
    checkpoint_seconds: float | None = None  # seconds between checkpoints
    resume: bool = False
    keep_checkpoint: bool = False
    wait_lock: float | None = None  # None: fail at once if locked; inf: wait forever
    stop: Callable[[], int | None] = lambda: None  # a pending signal number, if any
    verbose: bool = False  # log the runtime: threading layer, threads, kernel cache


def default_checkpoint(output) -> str:
    return os.fspath(output) + ".ckpt"


def train(data, options: TrainOptions | None = None, *, output=None, metrics=None, reporter: Reporter | None = None,
          control: RunControl | None = None, dask: DaskOptions | None = None) -> Model:
    """Train a linear model on ``data`` (an HDF5 path); save it to ``output`` if given.

    With ``opts.parallel == "average"``, the epochs run as rounds of local SGD
    with model averaging (averaging.py), one shard per thread.  With ``dask``,
    they run as such rounds on a Dask cluster (cluster.py), one shard per
    worker, and so do the label, standardization and validation passes;
    checkpoints, early stopping and the model stay here.
    """
    opts = options or TrainOptions()
    if opts.parallel == "average" and dask is not None:
        raise InputError("--parallel average: averages the threads of one machine; with --dask the workers' models "
                         "are averaged already (--threads sets each worker's threads)")
    if opts.sync_every is not None and opts.parallel != "average" and dask is None:
        raise InputError("--sync-every: applies only with --parallel average or --dask ADDRESS")
    reporter = reporter or Reporter()
    control = control or RunControl()
    outputs = [(p, flag) for p, flag in ((output, "-o"), (metrics, "--metrics"), (control.checkpoint, "--checkpoint")) if p is not None]
    seen: dict[str, str] = {}
    for path, flag in outputs:
        check_writable(path, flag, inputs=(data, opts.val))
        key = os.path.abspath(path)
        if key in seen:
            raise InputError(f"{flag} {path}: is also given as {seen[key]}; each output needs its own path")
        seen[key] = flag
    with contextlib.ExitStack() as stack:
        stack.enter_context(exclusive([p for p, _ in outputs], control.wait_lock))
        table = stack.enter_context(Table(data, opts.x, opts.y))
        val_table = None
        if opts.val is not None:
            val_table = stack.enter_context(Table(opts.val, opts.val_x or opts.x, opts.val_y or opts.y))
            if val_table.n_features != table.n_features:
                raise InputError(f"{val_table.path}:{val_table.x_name}: has {val_table.n_features} features, training data has {table.n_features}")
        # gzip chunks are inflated on up to a core each, far slower than training on
        # them: by default the kernels take only the cores the decoders leave.
        decoders = chunks.default_workers() if table.X.layout.read_mode == hdf5.PARALLEL_DECODE else 0
        threads = stack.enter_context(numba_threads(opts.threads, reporter, reserve=decoders))
        distributed = None
        if dask is not None:
            from sgdcli import cluster

            client = stack.enter_context(cluster.connect(dask, reporter.message))
            n_local = cluster.local_workers(dask.address)
            shards = dask.workers or n_local or len(client.scheduler_info()["workers"])
            threads = cluster.worker_threads(client, opts.threads, n_local, decoded=decoders > 0)
            distributed = (client, dask, shards)
        metrics_tmp = stack.enter_context(atomic_output(metrics, "--metrics")) if metrics is not None else None
        run = Run(table, val_table, opts, threads, reporter, control, distributed)
        stack.callback(run.close)
        model = run.train(metrics_tmp)
        if output is not None:  # inside the stack: if this fails, no metrics file appears either
            model.save(output)
        if control.checkpoint is not None and not control.keep_checkpoint:
            ckpt_mod.remove(control.checkpoint)  # under the lock: no other run sees a finished run's checkpoint
    return model


class Run:
    """One training run: set-up, the epoch loop, and what a checkpoint must hold."""

    def __init__(self, table: Table, val_table: Table | None, opts: TrainOptions, threads: int, reporter: Reporter,
                 control: RunControl, distributed: tuple | None = None):
        """``threads``: compute threads (per worker, when ``distributed`` = (client, DaskOptions, shards)).

        The epochs run in rounds of local SGD with model averaging (``self.trainer``)
        with --parallel average, one shard per thread, and with --dask, one per
        worker (``self.cluster`` runs the rounds and passes there).
        """
        self.table, self.val_table, self.opts = table, val_table, opts
        self.threads, self.reporter, self.control = threads, reporter, control
        threaded = distributed is None and opts.parallel == "average"
        self.shards = distributed[2] if distributed is not None else threads if threaded else 1
        # kernel threads: a shard on a thread runs the serial kernels
        self.kernel_threads = 1 if threaded else threads
        # every shard on this machine streams its own blocks: they share the budget
        self.block_rows = _shared_block_rows(table, opts.memory, self.shards if threaded else 1)
        self.spans = table.spans(self.block_rows)
        batch = opts.batch_size  # None (full batch): known after the label scan
        run_options = {**opts.as_dict(), "threads": threads}
        self.trainer = self.job = self.cluster = self.thread_rounds = None
        if distributed is not None or threaded:
            self.sync_every = averaging.sync_steps(opts.sync_every, batch or table.n_rows)
            run_options["sync_every"] = self.sync_every
        if distributed is not None:
            from sgdcli import cluster

            client, dask_options, _ = distributed
            run_options["dask_workers"] = self.shards
            self.cluster = cluster.DaskPool(client, dask_options, self.shards, control.stop, reporter.message)
            self.trainer = averaging.RoundTrainer(self.cluster, self.shards, self.sync_every, label="w")
        elif threaded:
            self.thread_rounds = averaging.ThreadRounds(table, self.shards, control.stop)
            self.trainer = averaging.RoundTrainer(self.thread_rounds, self.shards, self.sync_every, label="t")
        self.fingerprints = (
            run_options,
            {"train": table.fingerprint(), "val": val_table.fingerprint() if val_table is not None else None},
        )
        saved = self._load_checkpoint() if control.resume else None
        if saved is not None:
            self.labels = Labels(labels_mod.task_of(opts.model), saved.classes)
            self.n_train, self.n_bad, self.mean, self.std = saved.n_train, saved.n_bad, saved.mean, saved.std
        else:
            what = "labels and features" if opts.bad_rows == "skip" else "labels"
            reporter.message(f"reading {what} of {table.path} (one pass)")
            count = self._pass(passes.label_pass, "reading the labels")
            self.labels, self.n_train, self.n_bad = passes.labels_of(count, table, opts), count.n_train, count.n_bad
            self._check_sizes()
            if val_table is not None:
                _check_val_labels(val_table, self.labels, opts)
            self.mean = self.std = None
            if opts.standardize:
                reporter.message(f"computing feature means and deviations of {table.path} (one pass)")
                stats = self._pass(passes.moment_pass, "standardizing")
                self.mean, self.std = stats.mean, stats.std()
        d = table.n_features
        self.batch = self.n_train if opts.batch_size is None else opts.batch_size
        # With W shards each worker steps through about n/W rows an epoch: the step
        # clock (what schedules count) advances by about a W-th of the iterations.
        per_shard = math.ceil(self.n_train / self.shards)
        steps = per_shard // self.batch if opts.drop_last else math.ceil(per_shard / self.batch)
        self.iters = steps * self.shards
        self.lr = opts.scaled_lr(self.batch)
        center = np.zeros(d) if self.mean is None else self.mean
        scale = np.ones(d) if self.std is None else 1.0 / self.std
        self.cfg = kernel_config(opts, self.batch, self.kernel_threads, steps * opts.epochs)
        self.plan = engine.EpochPlan(self.labels, center, scale, opts.seed, opts.shuffle, opts.val_fraction,
                                     opts.drop_last, self.block_rows, skip_bad=opts.bad_rows == "skip")
        if self.trainer is not None:
            from sgdcli import worker

            self.job = worker.Job(worker.FileRef.of(table), self.spans, self.cfg, self.plan, self.kernel_threads)
        k_out = self.labels.n_outputs
        self.scratch = kernels.Scratch.make(self.kernel_threads, k_out, d)
        self.stopper = EarlyStopping(opts.patience, opts.min_delta) if opts.early_stopping else None
        if saved is not None:
            self.state, self.pos, self.history = saved.state, saved.position, saved.history
            if self.stopper is not None:
                self.stopper.restore(saved.stopper, saved.best_params)
            reporter.message(f"resuming from {control.checkpoint}: epoch {self.pos.epoch + 1}, "
                             f"iteration {self._iteration()} of {self.iters}")
        else:
            self.state, self.pos, self.history = kernels.TrainState.zeros(k_out, d), engine.Position(), []
        self._last_ckpt = (self.state.iterations, time.monotonic())

    def _pass(self, fn, stage: str):
        """A pass before training over every block: here, or split between the workers and merged."""
        check_stop = lambda: self._check_stop(stage)  # noqa: E731
        if self.cluster is None:
            return fn(self.table, self.spans, self.block_rows, self.opts, check_stop)
        from sgdcli import worker

        job = worker.PassJob(worker.FileRef.of(self.table), self.spans, self.block_rows, self.opts, self.threads)
        return self.cluster.merged(worker.data_pass, job, check_stop, fn)

    def _check_sizes(self) -> None:
        opts, table = self.opts, self.table
        batch = self.n_train if opts.batch_size is None else opts.batch_size
        if batch > self.n_train:
            raise InputError(f"--batch-size {batch} is larger than the {self.n_train} training rows of {table.path}")
        if opts.batch_size is not None and batch * table.row_bytes() > opts.memory:
            raise InputError(
                f"--batch-size {batch} needs {format_size(batch * table.row_bytes())} per batch "
                f"({table.n_features} features), more than --memory {format_size(opts.memory)}; raise --memory, "
                f"lower --batch-size, or use --batch-size full, which accumulates the gradient block by block"
            )

    # --- checkpoints ---------------------------------------------------------------------------

    def _load_checkpoint(self):
        path = self.control.checkpoint
        if path is None:
            raise InputError("--resume needs a checkpoint path: give -o or --checkpoint")
        saved = ckpt_mod.load_latest(path, self.reporter.message)
        if saved is None:
            self.reporter.message(f"--resume: no checkpoint at {path}; starting from scratch")
            return None
        ckpt_mod.check_compatible(saved, *self.fingerprints, path, defaults=TrainOptions().as_dict())
        return saved

    def close(self) -> None:
        if self.thread_rounds is not None:
            self.thread_rounds.close()

    def save_checkpoint(self) -> None:
        if self.control.checkpoint is None:
            return
        ckpt_mod.save(self.control.checkpoint, ckpt_mod.Checkpoint(
            state=self.state,
            position=self.pos,
            history=self.history,
            stopper=self.stopper.state() if self.stopper is not None else None,
            best_params=self.stopper.best_params if self.stopper is not None else None,
            classes=self.labels.classes,
            mean=self.mean,
            std=self.std,
            n_train=self.n_train,
            n_bad=self.n_bad,
            options=self.fingerprints[0],
            data=self.fingerprints[1],
        ))
        self._last_ckpt = (self.state.iterations, time.monotonic())

    def _check_stop(self, stage: str) -> None:
        """A safe point of the passes before training: nothing to checkpoint yet."""
        if _SAFE_POINT_DELAY:
            time.sleep(_SAFE_POINT_DELAY)
        signum = self.control.stop()
        if signum is not None:
            from sgdcli.signals import EXIT_CODES, name

            raise Interrupted(f"stopped by {name(signum)} while {stage}, before training began; "
                              f"nothing to resume yet", EXIT_CODES[signum])

    def _safe_point(self, pos: engine.Position) -> None:
        if _SAFE_POINT_DELAY:
            time.sleep(_SAFE_POINT_DELAY)
        signum = self.control.stop()
        if signum is not None:
            self.pos.seconds += time.perf_counter() - self._epoch_t0
            self.save_checkpoint()
            raise self._interrupted(signum)
        last_t, last_time = self._last_ckpt
        every, seconds = self.control.checkpoint_every, self.control.checkpoint_seconds
        if (every is not None and self.state.iterations - last_t >= every) or (
            seconds is not None and time.monotonic() - last_time >= seconds
        ):
            self.pos.seconds += time.perf_counter() - self._epoch_t0
            self._epoch_t0 = time.perf_counter()
            self.save_checkpoint()

    def _iteration(self) -> int:
        """Iterations done in the epoch in progress (summed over the shards of a distributed run)."""
        if self.pos.shards is not None:
            return sum(shard[2] for shard in self.pos.shards)
        return self.state.iterations - self.pos.epoch_start_t

    def _interrupted(self, signum: int) -> Interrupted:
        from sgdcli.signals import EXIT_CODES, name

        where = f"epoch {self.pos.epoch + 1}, iteration {self._iteration()}/{self.iters}"
        if self.control.checkpoint is None:
            return Interrupted(f"stopped by {name(signum)} at {where}; no checkpoint path, progress is lost", EXIT_CODES[signum])
        return Interrupted(f"stopped by {name(signum)} at {where}; checkpoint saved to {self.control.checkpoint}; "
                           f"run the same command with --resume to continue", EXIT_CODES[signum])

    # --- the epoch loop ----------------------------------------------------------------------------

    def train(self, metrics_tmp) -> Model:
        opts, reporter = self.opts, self.reporter
        if self.cluster is None:
            self._compile()  # a distributed run's workers compile (or load) their own
        reporter.message(
            f"{self.table.path}: {self.table.n_rows} rows × {self.table.n_features} features, read "
            f"{self.table.X.layout.read_mode} in blocks of {self.block_rows} rows; {self.threads} thread(s)"
            + (" per worker" if self.cluster is not None else "")
        )
        if self.trainer is not None:
            who = (f"--dask {self.cluster.options.address}: {self.shards} worker(s)" if self.cluster is not None
                   else f"--parallel average: {self.shards} thread(s)")
            reporter.message(f"{who}, each {self.sync_every} step(s) ({self.sync_every * self.batch} rows) "
                             f"per round, then the models are averaged")
        if self.control.verbose:
            from sgdcli.runtime import describe

            reporter.message(describe())
        if opts.lr_scaling != "none":
            reporter.message(f"--lr-scaling {opts.lr_scaling}: lr {opts.lr:g} at batch {opts.base_batch_size} → {self.lr:.4g} at batch {self.batch}")
        if metrics_tmp is not None:
            with open(metrics_tmp, "w") as fh:  # epochs done before a resume come from the checkpoint
                fh.writelines(json.dumps(_finite(r)) + "\n" for r in self.history)
        reporter.begin(epochs=opts.epochs, iterations=self.iters, rows=self.n_train, batch_size=self.batch, lr=self.lr)
        try:
            while self.pos.epoch < opts.epochs and not (self.stopper is not None and self.stopper.stopped):
                self._epoch(metrics_tmp)
        finally:
            reporter.close()
        if self.n_bad:
            reporter.message(f"--bad-rows skip: left out {self.n_bad} training rows with non-finite values in every epoch")
        return self._model()

    def _epoch(self, metrics_tmp) -> None:
        opts, epoch = self.opts, self.pos.epoch
        self.reporter.epoch_start(epoch)
        self._epoch_t0 = time.perf_counter()
        if self.trainer is not None:
            try:
                result = self.trainer.run_epoch(
                    self.job, self.state, self.pos,
                    on_progress=lambda it, rows, loss, lr, detail: self.reporter.advance(epoch, it, rows, loss, lr, detail),
                    safe_point=self._safe_point,
                )
            except RuntimeFailure as exc:
                if isinstance(exc, DivergedError) or self.control.checkpoint is None:
                    raise
                self.pos.seconds += time.perf_counter() - self._epoch_t0
                self.save_checkpoint()  # the last whole round: --resume continues from it
                raise RuntimeFailure(f"{exc}; checkpoint saved to {self.control.checkpoint}, "
                                     f"run the same command with --resume to continue") from None
        else:
            result = engine.run_epoch(
                self.table, self.spans, self.state, self.cfg, self.plan, self.scratch, self.pos,
                on_progress=lambda it, rows, loss, lr: self.reporter.advance(epoch, it, rows, loss, lr),
                safe_point=self._safe_point,
            )
        seconds = self.pos.seconds + time.perf_counter() - self._epoch_t0
        params = self.state.params(opts.average)
        record = {
            "epoch": epoch + 1,
            "iterations": result.iterations,
            "rows": result.rows,
            "train_loss": result.train_loss,
            "lr": engine.current_lr(self.cfg, self.state),
            **({"bad_rows": result.bad_rows} if self.plan.skip_bad else {}),
            **self._validate(params),
            "seconds": seconds,
            "rows_per_s": result.rows / seconds if seconds > 0 else 0.0,
        }
        self.history.append(record)
        self.reporter.epoch_end(record)
        if metrics_tmp is not None:
            with open(metrics_tmp, "a") as fh:
                fh.write(json.dumps(_finite(record)) + "\n")
        if self.stopper is not None and self.stopper.update(record.get("val_loss", record["train_loss"]), params, epoch + 1):
            self.reporter.message(
                f"early stopping after epoch {epoch + 1}: no decrease of more than {opts.min_delta:g} "
                f"for {opts.patience} epoch(s); keeping epoch {self.stopper.best_epoch}"
            )
        self.pos = engine.Position(epoch=epoch + 1, epoch_start_t=self.state.iterations)
        if epoch + 1 < opts.epochs and not (self.stopper is not None and self.stopper.stopped):
            self.save_checkpoint()

    def _validate(self, params) -> dict:
        """``val_loss`` and ``val_<metric>`` of ``params`` on the validation rows, if any."""
        opts = self.opts
        if self.val_table is None and opts.val_fraction <= 0:
            return {}
        if not self.cfg.standardized:  # weights on raw features already: no fold (nor its compile)
            We = params.copy()
        else:
            We = kernels.fold_weights(params, self.plan.center, self.plan.scale, np.empty_like(params))
        held_out = self.val_table is None
        table = self.table if held_out else self.val_table
        select = ValidationRows(opts.val_fraction, opts.seed, held_out, self.plan.skip_bad)
        if self.cluster is not None:  # each worker scores its share of the blocks
            from sgdcli import worker

            job = worker.ValidationJob(worker.FileRef.of(table), opts.model, self.labels, opts.memory, select,
                                       self.threads)
            scores = self.cluster.validate(job, We, on_stop=lambda: self._safe_point(self.pos))
        else:
            scores = measure(table, opts.model, self.labels, We, opts.memory, select)
        return {"val_loss": scores.pop("loss"), **{f"val_{k}": v for k, v in scores.items() if k != "rows"}}

    def _compile(self) -> None:
        """Compile (or load from cache) the training kernel before any epoch is timed."""
        t0 = time.perf_counter()
        X = self.table.X.read(0, 1, None)
        y = self.labels.encode(self.table.Y.read(0, 1, None), self.table.path, 0)
        state = kernels.TrainState.zeros(*self.state.W.shape[:1], self.table.n_features)
        kernels.train_block(self.cfg, X, y, np.empty(0, dtype=np.int64), self.plan.center, self.plan.scale, state, self.scratch)
        seconds = time.perf_counter() - t0
        if seconds > 0.5:
            self.reporter.message(f"compiled kernels in {seconds:.1f} s (cached for later runs)")

    def _model(self) -> Model:
        opts, d = self.opts, self.table.n_features
        if self.stopper is not None and self.stopper.best_params is not None:
            final = self.stopper.best_params
        else:
            final = self.state.params(opts.average)
        return Model(
            model=opts.model,
            weights=final[:, :d].copy(),
            bias=final[:, d].copy(),
            classes=self.labels.classes,
            center=self.mean,
            scale=self.std,
            options=opts.as_dict(),
            training={
                "rows": self.n_train,
                "val_rows": self.val_table.n_rows if self.val_table is not None else self.table.n_rows - self.n_train,
                "batch_size": self.batch,
                "iterations_per_epoch": self.iters,
                "epochs_run": len(self.history),
                "updates": self.state.iterations,
                "lr": self.lr,
                "threads": self.threads,
                "block_rows": self.block_rows,
                "read_mode": self.table.X.layout.read_mode,
                "best_epoch": self.stopper.best_epoch if self.stopper is not None else len(self.history),
                "stopped_early": self.stopper is not None and self.stopper.stopped,
                "bad_rows": self.n_bad,
                **({"workers": self.shards} if self.cluster is not None else {}),
                **(self.trainer.summary() if self.trainer is not None else {}),
            },
            history=self.history,
            fingerprint=self.table.fingerprint(),
            versions=versions(),
        )


def _shared_block_rows(table: Table, memory: int, streams: int) -> int:
    """Rows per block when ``streams`` block streams (threads of --parallel average) share ``memory``."""
    try:
        return table.block_rows(memory // streams)
    except InputError:
        if streams == 1:
            raise
        table.block_rows(memory)  # fails too: its message tells how much one stream needs
        raise InputError(f"--memory: {format_size(memory)} split between the {streams} threads of --parallel average "
                         f"leaves {format_size(memory // streams)} each, less than two blocks of one chunk of "
                         f"{table.path}:{table.x_name}; raise --memory or lower --threads") from None


def kernel_config(opts: TrainOptions, batch: int, threads: int, total_iterations: int,
                  par_min_rows: int = kernels.PAR_MIN_ROWS) -> kernels.KernelConfig:
    """The kernels' settings for ``opts`` at the batch size and thread count actually used."""
    return kernels.KernelConfig(
        model=losses.CODES[opts.model],
        optimizer=optimizers.CODES[opts.optimizer],
        schedule=schedules.CODES[opts.schedule],
        batch_size=int(batch),
        parts=int(threads),
        par_min_rows=int(par_min_rows),
        standardized=bool(opts.standardize),
        lr=float(opts.scaled_lr(batch)),
        l1=float(opts.l1),
        l2=float(opts.l2),
        momentum=float(opts.momentum),
        beta1=float(opts.beta1),
        beta2=float(opts.beta2),
        eps=float(opts.eps),
        power_t=float(opts.power_t),
        gamma=float(opts.gamma),
        step_epochs=int(opts.step_epochs),
        warmup=int(opts.warmup_iterations),
        total_iterations=int(total_iterations),
        average=bool(opts.average),
    )


def _check_val_labels(val_table: Table, labels, opts: TrainOptions) -> None:
    where = f"{val_table.path}:{val_table.y_name}"
    block_rows = val_table.block_rows(opts.memory)
    buf = np.empty(block_rows)
    for start, stop in val_table.spans(block_rows):
        y = val_table.Y.read(start, stop, buf)
        if opts.bad_rows == "skip":
            rows = np.flatnonzero(np.isfinite(y))
            labels.encode_rows(y, rows, where, start)
        else:
            labels_mod.check_finite_labels(y, where, start)
            labels.encode(y, where, start)


def _finite(record: dict) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}


@contextlib.contextmanager
def numba_threads(requested: int | None, reporter: Reporter, reserve: int = 0):
    """Run with ``requested`` Numba threads; restore after.

    The default is the cores this process may use, less ``reserve`` (kept for
    other work), and at least one.
    """
    import numba

    limit = numba.config.NUMBA_NUM_THREADS
    n = requested or max(1, min(available_cores() - reserve, limit))
    if n > limit:
        reporter.message(f"--threads {n}: Numba allows at most {limit} here (NUMBA_NUM_THREADS); using {limit}")
        n = limit
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(previous)
