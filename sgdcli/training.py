"""``train()``: options in, a Model out.

Order of work: check outputs are writable, open and check the data, one pass
over the labels (classes, finiteness, row count), one over the features if
standardizing, then the epochs.  The epochs themselves are ``engine.run_epoch``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time

import numpy as np

from sgdcli import engine, kernels, labels as labels_mod, losses, optimizers, schedules, shuffle
from sgdcli.atomic import atomic_output, check_writable
from sgdcli.early_stopping import EarlyStopping
from sgdcli.errors import InputError
from sgdcli.inference import measure
from sgdcli.model import Model, versions
from sgdcli.options import TrainOptions, format_size
from sgdcli.progress import Reporter
from sgdcli.source import Table
from sgdcli.standardize import RunningMoments


def train(data, options: TrainOptions | None = None, *, output=None, metrics=None, reporter: Reporter | None = None) -> Model:
    """Train a linear model on ``data`` (an HDF5 path); save it to ``output`` if given."""
    opts = options or TrainOptions()
    reporter = reporter or Reporter()
    for path, flag in ((output, "-o"), (metrics, "--metrics")):
        if path is not None:
            check_writable(path, flag, inputs=(data, opts.val))
    with contextlib.ExitStack() as stack:
        table = stack.enter_context(Table(data, opts.x, opts.y))
        val_table = None
        if opts.val is not None:
            val_table = stack.enter_context(Table(opts.val, opts.val_x or opts.x, opts.val_y or opts.y))
            if val_table.n_features != table.n_features:
                raise InputError(f"{val_table.path}:{val_table.x_name}: has {val_table.n_features} features, training data has {table.n_features}")
        threads = stack.enter_context(numba_threads(opts.threads, reporter))
        metrics_tmp = stack.enter_context(atomic_output(metrics, "--metrics")) if metrics is not None else None
        model = _train(table, val_table, opts, threads, reporter, metrics_tmp)
        if output is not None:  # inside the stack: if this fails, no metrics file appears either
            model.save(output)
    return model


def _train(table: Table, val_table: Table | None, opts: TrainOptions, threads: int, reporter: Reporter, metrics_tmp) -> Model:
    d = table.n_features
    block_rows = table.block_rows(opts.memory)
    spans = table.spans(block_rows)
    labels, n_train = _scan_labels(table, spans, block_rows, opts)
    if n_train == 0:
        raise InputError(f"--val-fraction {opts.val_fraction}: leaves no rows of {table.path} to train on")
    if val_table is not None:
        _check_val_labels(val_table, labels, opts)
    batch = n_train if opts.batch_size is None else opts.batch_size
    if batch > n_train:
        raise InputError(f"--batch-size {batch} is larger than the {n_train} training rows of {table.path}")
    if opts.batch_size is not None and batch * table.row_bytes() > opts.memory:
        raise InputError(
            f"--batch-size {batch} needs {format_size(batch * table.row_bytes())} per batch "
            f"({d} features), more than --memory {format_size(opts.memory)}; raise --memory, lower --batch-size, "
            f"or use --batch-size full, which accumulates the gradient block by block"
        )
    iters = n_train // batch if opts.drop_last else math.ceil(n_train / batch)
    center, scale, stats = np.zeros(d), np.ones(d), None
    if opts.standardize:
        stats = _moments(table, spans, block_rows, opts)
        center, scale = stats.mean, 1.0 / stats.std()
    k_out = labels.n_outputs
    lr = opts.scaled_lr(batch)
    cfg = kernel_config(opts, batch, threads, iters * opts.epochs)
    plan = engine.EpochPlan(labels, center, scale, opts.seed, opts.shuffle, opts.val_fraction, opts.drop_last, block_rows)
    state = kernels.TrainState.zeros(k_out, d)
    scratch = kernels.Scratch.make(threads, k_out, d)

    _compile(table, labels, cfg, plan, state, scratch, reporter)
    reporter.message(
        f"{table.path}: {table.n_rows} rows × {d} features, read {table.X.layout.read_mode} "
        f"in blocks of {block_rows} rows; {threads} thread(s)"
    )
    if opts.lr_scaling != "none":
        reporter.message(f"--lr-scaling {opts.lr_scaling}: lr {opts.lr:g} at batch {opts.base_batch_size} → {lr:.4g} at batch {batch}")
    reporter.begin(epochs=opts.epochs, iterations=iters, rows=n_train, batch_size=batch, lr=lr)
    history: list[dict] = []
    stopper = EarlyStopping(opts.patience, opts.min_delta) if opts.early_stopping else None
    try:
        for epoch in range(opts.epochs):
            reporter.epoch_start(epoch)
            t0 = time.perf_counter()
            result = engine.run_epoch(
                table, spans, state, cfg, plan, epoch, scratch,
                on_block=lambda it, rows, loss, rate, e=epoch: reporter.advance(e, it, rows, loss, rate),
            )
            seconds = time.perf_counter() - t0
            params = state.params(opts.average)
            record = {
                "epoch": epoch + 1,
                "iterations": result.iterations,
                "rows": result.rows,
                "train_loss": result.train_loss,
                "lr": engine.current_lr(cfg, state),
                **_validate(table, val_table, opts, labels, params, center, scale),
                "seconds": seconds,
                "rows_per_s": result.rows / seconds if seconds > 0 else 0.0,
            }
            history.append(record)
            reporter.epoch_end(record)
            if metrics_tmp is not None:
                with open(metrics_tmp, "a") as fh:
                    fh.write(json.dumps(_finite(record)) + "\n")
            if stopper is not None and stopper.update(record.get("val_loss", record["train_loss"]), params, epoch + 1):
                reporter.message(
                    f"early stopping after epoch {epoch + 1}: no decrease of more than {opts.min_delta:g} "
                    f"for {opts.patience} epoch(s); keeping epoch {stopper.best_epoch}"
                )
                break
    finally:
        reporter.close()

    final = stopper.best_params if stopper is not None and stopper.best_params is not None else state.params(opts.average)
    return Model(
        model=opts.model,
        weights=final[:, :d].copy(),
        bias=final[:, d].copy(),
        classes=labels.classes,
        center=stats.mean if stats is not None else None,
        scale=stats.std() if stats is not None else None,
        options=opts.as_dict(),
        training={
            "rows": n_train,
            "val_rows": val_table.n_rows if val_table is not None else table.n_rows - n_train,
            "batch_size": batch,
            "iterations_per_epoch": iters,
            "epochs_run": len(history),
            "updates": state.iterations,
            "lr": lr,
            "threads": threads,
            "block_rows": block_rows,
            "read_mode": table.X.layout.read_mode,
            "best_epoch": stopper.best_epoch if stopper is not None else len(history),
            "stopped_early": stopper is not None and len(history) < opts.epochs,
        },
        history=history,
        fingerprint=table.fingerprint(),
        versions=versions(),
    )


def _validate(table: Table, val_table: Table | None, opts: TrainOptions, labels, params, center, scale) -> dict:
    """``val_loss`` and ``val_<metric>`` of ``params`` on the validation rows, if any."""
    if val_table is None and opts.val_fraction <= 0:
        return {}
    We = kernels.fold_weights(params, center, scale, np.empty_like(params))
    if val_table is not None:
        scores = measure(val_table, opts.model, labels, We, opts.memory)
    else:
        scores = measure(table, opts.model, labels, We, opts.memory, (opts.val_fraction, opts.seed))
    return {"val_loss": scores.pop("loss"), **{f"val_{k}": v for k, v in scores.items() if k != "rows"}}


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


def _compile(table: Table, labels, cfg, plan, state, scratch, reporter: Reporter) -> None:
    """Compile (or load from cache) the training kernel before any epoch is timed."""
    t0 = time.perf_counter()
    X = table.X.read(0, 1, None)
    y = labels.encode(table.Y.read(0, 1, None), table.path, 0)
    kernels.train_block(cfg, X, y, np.empty(0, dtype=np.int64), plan.center, plan.scale, state, scratch)
    seconds = time.perf_counter() - t0
    if seconds > 0.5:
        reporter.message(f"compiled kernels in {seconds:.1f} s (cached for later runs)")


def _scan_labels(table: Table, spans, block_rows: int, opts: TrainOptions):
    """One pass over y: classes, finite labels, and the number of training rows."""
    n_train = 0
    buf = np.empty(block_rows)

    def blocks():
        nonlocal n_train
        for start, stop in spans:
            y = table.Y.read(start, stop, buf)
            keep = None
            if opts.val_fraction > 0:
                keep = ~shuffle.validation_mask(start, stop, opts.val_fraction, opts.seed)
                n_train += int(keep.sum())
            else:
                n_train += stop - start
            yield start, y, keep

    labels = labels_mod.discover(blocks(), opts.model, f"{table.path}:{table.y_name}", table.y_dtype)
    return labels, n_train


def _check_val_labels(val_table: Table, labels, opts: TrainOptions) -> None:
    where = f"{val_table.path}:{val_table.y_name}"
    block_rows = val_table.block_rows(opts.memory)
    buf = np.empty(block_rows)
    for start, stop in val_table.spans(block_rows):
        y = val_table.Y.read(start, stop, buf)
        labels_mod.check_finite_labels(y, where, start)
        labels.encode(y, where, start)


def _moments(table: Table, spans, block_rows: int, opts: TrainOptions) -> RunningMoments:
    from sgdcli.prefetch import stream_blocks

    stats = RunningMoments(table.n_features)
    for block in stream_blocks(table, spans, block_rows):
        rows = engine.train_rows(block.start, block.stop - block.start, opts.val_fraction, opts.seed)
        X = block.X if len(rows) == block.X.shape[0] else block.X[rows]
        bad = kernels.first_nonfinite_row(X)
        if bad >= 0:
            raise InputError(f"{table.path}:{table.x_name}: non-finite feature value at row {block.start + int(rows[bad])}")
        stats.update(X)
    return stats


def _finite(record: dict) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}


@contextlib.contextmanager
def numba_threads(requested: int | None, reporter: Reporter):
    """Run with ``requested`` Numba threads (default: the cores this process may use); restore after."""
    import numba

    limit = numba.config.NUMBA_NUM_THREADS
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    n = requested or min(available, limit)
    if n > limit:
        reporter.message(f"--threads {n}: Numba allows at most {limit} here (NUMBA_NUM_THREADS); using {limit}")
        n = limit
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(previous)
