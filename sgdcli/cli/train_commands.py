"""The commands that train: train, and sweep (one training run per batch size and rate)."""

from __future__ import annotations

import math
import signal
from types import SimpleNamespace

import click

from sgdcli import errors
from sgdcli.cli import argtext, gates, render
from sgdcli.cli.params import (BATCH_GRID, RATE_GRID, Count, Number, command, gate_options, json_option,
                               parse_batch_sizes, parse_lrs, training_kwargs, training_options)
from sgdcli.errors import InputError
from sgdcli.daskoptions import DaskOptions, check_executor
from sgdcli.samefile import same_file
from sgdcli.cli.unused import DASK_RULES, QUIET_RULES, warn_unused
from sgdcli.options import TrainOptions


WAIT_LOCK_PLACE = "without SECONDS, put --wait-lock after DATA: before DATA it takes DATA as its SECONDS"


def _train_settings(output, resume, restart_stale, dask, dask_workers, dask_timeout, fail_under, fail_over,
                    quiet=False, **params) -> tuple[TrainOptions, DaskOptions | None, list[gates.Gate]]:
    """train's settings as the run takes them, checked as it checks them before it opens any file (and
    --print-config with it): the options, where the run runs, the gates."""
    opts = TrainOptions(**training_kwargs(params))
    dask_options = None
    if dask is not None:
        dask_options = DaskOptions(dask, workers=dask_workers, timeout=dask_timeout)  # checked as it is made
    elif dask_workers is not None:
        raise InputError("--dask-workers: applies only with --dask ADDRESS")
    if restart_stale and not resume:
        raise InputError("--restart-stale: applies only with --resume")
    checks = gates.parse_all(fail_under, fail_over, training=True)
    if checks:
        if opts.val is None and opts.val_fraction <= 0:
            raise InputError(f"{checks[0].option}: the gates apply to validation metrics; give --val FILE or --val-fraction F")
        if opts.epochs == 0:
            raise InputError(f"{checks[0].option}: --epochs 0 validates nothing; check the model with sgdcli evaluate")
        gates.check_model(checks, opts.model, f"a {opts.model} model's validation", training=True)
        if opts.init is not None and same_file(output, opts.init):
            raise InputError(f"{checks[0].option}: -o {output} is the --init model, which a failed gate would "
                             "replace by the model it failed (the model is written either way): write to another "
                             f"path and move it over {opts.init} once the gate passes")
    check_executor(opts, dask_options)  # (train checks it first thing too)
    warn_unused(opts)
    warn_unused(SimpleNamespace(dask=dask, quiet=quiet), DASK_RULES + QUIET_RULES)
    return opts, dask_options, checks


def _train_check(data, output, metrics, checkpoint, **params) -> None:
    """--print-config's checks: the settings (``_train_settings``), then the outputs as the run checks them
    before it opens any file, but without creating one."""
    import sgdcli

    opts, _, _ = _train_settings(output, **params)
    sgdcli.check_train_outputs(data, opts, output=output, metrics=metrics,
                               checkpoint=sgdcli.default_checkpoint(output) if checkpoint is None else checkpoint)


@command("train", example='sgdcli train data.h5 -o model.h5 --model logistic --batch-size 256 --epochs 5',
         check=_train_check)
@click.argument("data", type=argtext.Path(dir_okay=False, read=True))
@click.option("-o", "--output", required=True, type=argtext.Path(dir_okay=False), help="Model file to write (HDF5).")
@training_options()
@click.option("--metrics", type=argtext.Path(dir_okay=False), default=None,
              help="Write one JSON line per epoch here, with the model (not for a run that fails).")
@click.option("--checkpoint", type=argtext.Path(dir_okay=False), default=None,
              help="Checkpoint file [default: OUTPUT.ckpt].")
@click.option("--checkpoint-every", type=Count(), default=None,
              help="Also checkpoint every N iterations (at the next safe point).")
@click.option("--checkpoint-seconds", type=Number(min=0, min_open=True), default=600, show_default=True,
              help="Also checkpoint every S seconds (at the next safe point).")
@click.option("--resume", is_flag=True,
              help="Continue from the checkpoint if there is one (else start from scratch); safe in cron lines.")
@click.option("--restart-stale", is_flag=True,
              help="With --resume: a checkpoint made with other options, for other data or from another --init "
                   "model (a file refreshed since), or one that cannot be read, is removed, with a warning, and "
                   "the run starts over, instead of exiting 2 (or 1).")
@click.option("--keep-checkpoint", is_flag=True,
              help="Keep the run's checkpoint after a successful run (none where it took none: another run's at "
                   "the path is removed).")
@click.option("--dask", default=None, metavar="ADDRESS",
              help="Train on Dask distributed: a scheduler (tcp://host:8786) or local:N (N worker processes here). "
                   "Needs the dask extra: .venv/bin/pip install -e '.[dask]' in the sgdcli checkout.")
@click.option("--dask-workers", type=Count(), default=None,
              help="With --dask: shards (one per worker); wait for this many workers [default: those connected, or N].")
@click.option("--dask-timeout", type=Number(min=0, min_open=True), default=DaskOptions.timeout, show_default=True,
              help="With --dask: seconds to reach the scheduler and its workers, and for them to answer, before "
                   "exiting 1.")
@click.option("--wait-lock", type=Number(min=0, infinite=True, optional=WAIT_LOCK_PLACE), is_flag=False,
              flag_value=math.inf, default=None, metavar="[SECONDS]",
              help="If another run holds the output, wait for it (forever, or SECONDS) instead of exiting 75. "
                   "Without SECONDS, put it after DATA: before DATA it takes DATA as its SECONDS.")
@gate_options
def train_cmd(data, output, progress, quiet, verbose, metrics, checkpoint, checkpoint_every,
              checkpoint_seconds, resume, restart_stale, keep_checkpoint, dask, dask_workers, dask_timeout,
              wait_lock, fail_under, fail_over, **kwargs):
    """Train a model on DATA by mini-batch SGD and write it to OUTPUT.

    One iteration is one mini-batch and one update; one epoch visits every
    training row once, so an epoch has ceil(rows / batch size) iterations
    (up to T - 1 more with --parallel average or --dask, whose T threads or
    workers each round their own share up).
    SIGTERM, SIGHUP (a closed terminal) or SIGINT stop at the next safe point
    with a checkpoint (exit 143, 129 or 130); rerun with --resume to continue
    exactly where it stopped.
    --fail-under/--fail-over check the validation metrics (METRIC as in
    evaluate, or loss) of the model written, and exit 3 after writing it.
    """
    import sgdcli

    opts, dask_options, checks = _train_settings(output, resume, restart_stale, dask, dask_workers, dask_timeout,
                                                 fail_under, fail_over, quiet, **kwargs)
    sgdcli.configure_runtime()
    reporter = sgdcli.make_reporter("none" if quiet else progress)
    with sgdcli.stop_on_signals() as stop:
        control = sgdcli.RunControl(
            checkpoint=sgdcli.default_checkpoint(output) if checkpoint is None else checkpoint,
            checkpoint_every=checkpoint_every,
            checkpoint_seconds=checkpoint_seconds,
            resume=resume,
            restart_stale=restart_stale,
            keep_checkpoint=keep_checkpoint,
            wait_lock=wait_lock,
            stop=stop,
            verbose=verbose,
        )
        try:
            model = sgdcli.train(data, opts, output=output, metrics=metrics, reporter=reporter, control=control,
                                 dask=dask_options)
        except BaseException as exc:
            left = _left_to_resume(exc, control)
            if left is None:
                raise
            raise errors.Terminated(signal.SIGINT, left) from exc
        errors.results_written()  # the model is written and its checkpoint gone: a signal now is too late to stop it
        gates.print_then_enforce(render.trained(model, output), checks, *_gated(model, output, checks))


def _gated(model, output, checks) -> tuple[dict, str]:
    """The metrics train's gates check (those of the validation rows at the epoch the model keeps) and what
    the gate's line calls them; none where there are no gates."""
    if not checks:
        return {}, ""
    kept = model.training["best_epoch"]
    record = model.history[kept - 1]
    values = {key[len("val_"):]: value for key, value in record.items() if key.startswith("val_")}
    return values, f"the validation rows (epoch {kept}, the model written to {output})"


def _left_to_resume(exc: BaseException, control) -> str | None:
    """What a run that a second SIGINT stopped at once (a KeyboardInterrupt, training/signals.py; compiled code
    hands it back as the cause of a SystemError) leaves: the checkpoint an earlier safe point wrote, which
    --resume continues (``control``'s, beside the file a --checkpoint link leads to); None for any other
    exception, or where no checkpoint is on disk."""
    seen = set()
    while exc is not None and not isinstance(exc, KeyboardInterrupt) and id(exc) not in seen:
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    path = control.last_checkpoint() if isinstance(exc, KeyboardInterrupt) else None
    if path is None:
        return None
    return (f"the model was not written, and the last checkpoint, {path}, remains: run the same command with "
            "--resume to continue from it")


def _sweep_settings(batch_sizes, lrs, plot, quiet=False,
                    **params) -> tuple[list[int | None], list[float | str], TrainOptions]:
    """sweep's grid and the options of its runs, checked as the run checks them before it opens any file (and
    --print-config with it): --plot's image format by its name, not yet whether it can be written."""
    sizes, rates = parse_batch_sizes(batch_sizes), parse_lrs(lrs)
    base = TrainOptions(**training_kwargs(params))
    if plot is not None:
        from sgdcli.reporting.plot import output_format

        output_format(plot, "--plot")
    check_executor(base, None, "sweep")  # (each run's train checks it too)
    warn_unused(base)
    warn_unused(SimpleNamespace(quiet=quiet), QUIET_RULES)
    return sizes, rates, base


def _sweep_check(data, plot, metrics_dir, **params) -> None:
    """--print-config's checks: the settings (``_sweep_settings``), then --metrics-dir and --plot as the run
    checks them before any run, but without creating a file."""
    import sgdcli

    _, _, base = _sweep_settings(plot=plot, **params)
    sgdcli.check_sweep_outputs(metrics_dir)
    if plot is not None:
        from sgdcli.reporting.plot import check_output

        check_output(plot, "--plot", inputs=(data, base.val, base.init), probe=False)


# sweep's help for the options whose train help speaks of --lr or --dask, which sweep does not take
SWEEP_HELP = {
    "lr_scaling": "How lr grows with the effective batch, the models averaged (threads of --parallel average) × "
                  "the batch size. replicas: × the models averaged, up to the rate --lrs auto gives them "
                  "(docs/distributed.md). linear: × effective batch / --base-batch-size. sqrt: × its square root. "
                  "none: as given.",
    "base_batch_size": "Batch size at which the rates of --lrs apply unscaled.",
    "threads": "Compute threads [default: the cores available, less one for the reader (--parallel batch); for "
               "gzip-compressed X, the cores its decoders leave].",
    "sync_every": "With --parallel average: mini-batch steps per thread between model averagings [default: about "
                  "1M rows' worth].",
}


@command("sweep", example='sgdcli sweep data.h5 --batch-sizes 1,32,256,full --lrs 0.01,0.1 --lr-scaling linear --epochs 3',
         check=_sweep_check)
@click.argument("data", type=argtext.Path(dir_okay=False, read=True))
@click.option("--batch-sizes", required=True, metavar="B,B,...", type=BATCH_GRID,
              help="Batch sizes to compare, comma-separated (a list in --config); 'full' is full-batch gradient "
                   "descent.")
@click.option("--lrs", default=str(TrainOptions().lr), show_default=True, metavar="LR,LR,...", type=RATE_GRID,
              help="Learning rates to compare, comma-separated (a list in --config): numbers (before --lr-scaling) "
                   "or auto.")
@training_options(without=("batch_size", "lr", "verbose"), helps=SWEEP_HELP)
@click.option("--metrics-dir", type=argtext.Path(file_okay=False), default=None,
              help="Write each run's per-epoch JSON lines here (diverged runs too, up to their last epoch); "
                   "a directory that holds run files already is refused.")
@click.option("--plot", type=argtext.Path(dir_okay=False), default=None, metavar="FILE.png",
              help="Also draw every run's loss against epoch, iterations and time (needs the plot extra).")
@json_option("the runs", "a JSON array, an object per run")
def sweep_cmd(data, batch_sizes, lrs, progress, quiet, metrics_dir, plot, json, **kwargs):
    """Train DATA once per batch size and learning rate, and compare the runs.

    Every run uses the same data, seed and options, through the same engine as
    train, so the table shows what the batch size and the learning rate alone
    change: iterations per epoch, loss, speed, and whether the run diverged (a
    diverged run is a row, not a failure). No model is written: the table
    goes to stdout, and files only to --metrics-dir and --plot where given.
    """
    import sgdcli

    if plot is not None:  # where it goes first ('-', a directory that is not there), then its format
        from sgdcli.reporting import plot as plotting

        plotting.check_output(plot, "--plot", inputs=(data, kwargs.get("val"), kwargs.get("init")))
    sizes, rates, base = _sweep_settings(batch_sizes, lrs, plot, quiet, **kwargs)
    if plot is not None:
        plotting.require("--plot")  # matplotlib missing: say so before hours of training, not after
    sgdcli.configure_runtime()

    def reporter_for(i, n, label):
        reporter = sgdcli.make_reporter("none" if quiet else progress)
        reporter.message(f"run {i}/{n}: {label}")
        return reporter

    def show(runs):
        if json:
            click.echo(render.json_text([r.as_dict() for r in runs], indent=2))
        else:
            click.echo(render.sweep_table(runs, kept=base.early_stopping))

    def stopped(signum: int, ended: int) -> errors.Terminated:  # what a stop left: the rows on stdout, no plot
        left = f"stdout has the rows of the {ended} of {len(sizes) * len(rates)} runs that ended"
        if metrics_dir is not None:
            left += f" (their records are in {metrics_dir})"
        if plot is not None:
            left += f"; --plot {plot} was not drawn"
        return errors.Terminated(signum, left + "; no partial output file was left")

    ended = []
    try:
        runs = sgdcli.sweep(data, base, sizes, rates, reporter_for=reporter_for, metrics_dir=metrics_dir,
                            on_run=ended.append)
    except BaseException as exc:
        signum = _stopping_signal(exc)
        if signum is None or not (ended or json):  # (--json: an array, if empty, that a program can read)
            raise
        show(ended)  # the runs that ended are not lost with the one a signal stopped
        raise stopped(signum, len(ended)) from None
    show(runs)
    if plot is not None:
        try:
            plotting.save([(f"batch {r.batch_label}, lr {r.lr:.4g}", r.history) for r in runs if r.history], plot,
                          "--plot")
        except BaseException as exc:
            signum = _stopping_signal(exc)
            if signum is None:
                raise
            raise stopped(signum, len(runs)) from None


def _stopping_signal(exc: BaseException) -> int | None:
    """The signal that stopped a command, where ``exc`` is (or was caused by) what it raised (cli/app.py's
    handler: errors.Terminated; compiled code hands it back as the cause of a SystemError); None otherwise."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, errors.Terminated):
            return exc.signum
        if isinstance(exc, KeyboardInterrupt):
            return signal.SIGINT
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None
