"""The command line: parse, call the Python API, report.

This module imports only click at load time; each command imports the parts
of the package it needs when it runs, so ``--help`` and shell completion never
load numba.  Errors end as one line on stderr and an exit code: 2 for bad
usage or input, 1 for a runtime failure, 3 for a failed quality gate.
"""

from __future__ import annotations

import json as jsonlib
import math
import os
import sys

import click

from sgdcli.config import ENV_PREFIX, ConfiguredCommand, config_option, print_config_option
from sgdcli.errors import InputError
from sgdcli.options import (BAD_ROWS, LR_SCALINGS, MODELS, OPTIMIZERS, PARALLEL_MODES, SCHEDULES, parse_batch_size,
                            parse_size)
from sgdcli.progress import MODES as PROGRESS_MODES

EXAMPLES = {
    "generate": "sgdcli generate data.h5 --task binary --rows 100000 --features 20",
    "info": "sgdcli info data.h5",
    "train": "sgdcli train data.h5 -o model.h5 --model logistic --batch-size 256 --epochs 5",
    "predict": "sgdcli predict model.h5 new.h5 -o pred.h5 --proba",
    "evaluate": "sgdcli evaluate model.h5 test.h5 --json",
    "show": "sgdcli show model.h5",
    "sweep": "sgdcli sweep data.h5 --batch-sizes 1,32,256,full --lrs 0.01,0.1 --lr-scaling linear --epochs 3",
    "plot": "sgdcli plot run-a.jsonl run-b.jsonl -o curves.png",
    "convert": "sgdcli convert data.csv -o data.h5 --label-column label",
}


class BatchSize(click.ParamType):
    name = "B|full"
    integral = True  # config.py refuses 2.5 rather than truncating it

    @staticmethod
    def to_config(value):
        return "full" if value is None else value

    def convert(self, value, param, ctx):
        if isinstance(value, int) or value is None:
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return parse_batch_size(value)
        except InputError:
            self.fail(f"{value!r} is neither a positive integer nor 'full'", param, ctx)


class Size(click.ParamType):
    name = "SIZE"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        try:
            return parse_size(value)
        except InputError:
            self.fail(f"cannot read size {value!r}; use e.g. 512M or 2G", param, ctx)


def json_option(what: str):
    return click.option("--json", is_flag=True, help=f"Print {what} as one JSON object.")


def memory_option(f):
    return click.option("--memory", type=Size(), default="256M", show_default=True,
                        help="Cap on data in flight (blocks, read-ahead, shuffle buffer), e.g. 512M, 2G.")(f)


def x_option(f):
    return click.option("--x", "x", default="X", show_default=True, help="Feature dataset (2-D) inside DATA.")(f)


def gate_options(f):
    f = click.option("--fail-over", "fail_over", multiple=True, metavar="METRIC=VALUE",
                     help="Exit 3 if METRIC is above VALUE, after writing the results (repeatable), "
                          "e.g. log_loss=0.45.")(f)
    return click.option("--fail-under", "fail_under", multiple=True, metavar="METRIC=VALUE",
                        help="Exit 3 if METRIC is below VALUE, after writing the results (repeatable), "
                             "e.g. accuracy=0.9.")(f)


def _gates(fail_under, fail_over, training: bool = False):
    from sgdcli import gates

    return ([gates.parse(text, True, training) for text in fail_under]
            + [gates.parse(text, False, training) for text in fail_over])


def _epilog(name: str) -> str:
    return f"Example:\n\n    {EXAMPLES[name]}"


def _command(name: str, **kwargs):
    """Register a command; every command also takes --config and --print-config."""
    register = main_group.command(name, cls=ConfiguredCommand, epilog=_epilog(name), **kwargs)
    return lambda f: register(print_config_option(config_option(f)))


def _print_versions(ctx, param, value):
    if not value or ctx.resilient_parsing:
        return
    from sgdcli.versions import versions

    for name, version in versions().items():
        click.echo(f"{name} {version}")
    ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100,
                                "auto_envvar_prefix": ENV_PREFIX})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_versions,
              allow_from_autoenv=False,
              help="Print the versions of sgdcli, Python, NumPy, Numba, h5py and HDF5, one per line, and exit.")
def main_group():
    """Train linear models by mini-batch SGD on HDF5 files larger than memory.

    Data streams from memory-mapped or chunk-read HDF5 files; gradients run in
    compiled parallel kernels. Results go to stdout, progress and logs to stderr.
    """


@_command("generate")
@click.argument("output", type=click.Path(dir_okay=False))
@click.option("--task", type=click.Choice(["regression", "binary", "multiclass"]), default="binary", show_default=True,
              help="What y is: real values, two classes (0/1), or K classes (0..K-1).")
@click.option("--rows", type=click.IntRange(min=1), default=10000, show_default=True, help="Number of rows N.")
@click.option("--features", type=click.IntRange(min=1), default=10, show_default=True, help="Number of features D.")
@click.option("--classes", type=click.IntRange(min=2), default=3, show_default=True, help="Classes K (multiclass).")
@click.option("--noise", type=click.FloatRange(min=0), default=0.1, show_default=True, help="Label noise scale.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the model and the data.")
@click.option("--data-seed", type=int, default=None,
              help="Seed of the rows alone: other rows from the same model, e.g. a test set [default: --seed].")
@click.option("--chunk-rows", type=click.IntRange(min=1), default=None, help="Rows per HDF5 chunk [default: about 1 MiB chunks].")
@click.option("--contiguous", is_flag=True, help="Store X and y contiguously (memory-mappable).")
@click.option("--compression", type=click.Choice(["none", "gzip", "lzf"]), default="none", show_default=True,
              help="Chunk compression (gzip at level 1).")
def generate_cmd(output, **kwargs):
    """Write synthetic X (float32, N×D) and y from a known linear model.

    Written block by block, so files larger than memory are made with bounded
    memory. The generating parameters are stored as attributes, the true
    weights in /generator.
    """
    from sgdcli.generate import generate

    p = generate(output, **kwargs)
    click.echo(f"wrote {output}: {p['rows']} rows × {p['features']} features, task {p['task']}")


@_command("info")
@click.argument("file", type=click.Path(dir_okay=False))
@json_option("the listing")
def info_cmd(file, json):
    """List the datasets of an HDF5 file and how sgdcli will read each one."""
    from sgdcli.info import describe
    from sgdcli.options import format_size

    d = describe(file)
    if json:
        click.echo(jsonlib.dumps(d, indent=2))
        return
    click.echo(f"{d['file']} ({format_size(d['size'])})")
    for ds in d["datasets"]:
        if "error" in ds:
            click.echo(f"  {ds['path']}: unreadable ({ds['error']})")
            continue
        chunks = "×".join(map(str, ds["chunks"])) if ds["chunks"] else "-"
        click.echo(
            f"  {ds['path']}: shape {'×'.join(map(str, ds['shape'])) or 'scalar'}, {ds['dtype']}, {ds['layout']}, "
            f"chunks {chunks}, compression {ds['compression'] or 'none'}, "
            f"{format_size(ds['logical_bytes'])} ({format_size(ds['stored_bytes'])} stored), read {ds['read_mode']}"
        )


def training_options(without: tuple[str, ...] = ()):
    """The options of TrainOptions (and progress), shared by train and sweep; ``without`` names ones to leave out."""
    decorators = [
        (None, x_option),
        (None, click.option("--y", "y", default="y", show_default=True, help="Label dataset (1-D) inside DATA.")),
        (None, click.option("--model", type=click.Choice(MODELS), default="logistic", show_default=True,
            help="linear: squared error; logistic: binary cross-entropy; softmax: multiclass; hinge: linear SVM.")),
        (None, click.option("--l2", type=float, default=0.0, show_default=True, help="L2 penalty (l2/2)·‖w‖²; the bias is not penalised.")),
        (None, click.option("--l1", type=float, default=0.0, show_default=True, help="L1 penalty l1·‖w‖₁ (subgradient).")),
        (None, click.option("--epochs", type=int, default=5, show_default=True, help="Passes over every training row.")),
        ("batch_size", click.option("--batch-size", type=BatchSize(), default="32", show_default=True,
            help="Rows per update: 1 is pure SGD, 'full' is full-batch gradient descent.")),
        (None, click.option("--drop-last", is_flag=True, help="Skip the last incomplete batch of each epoch.")),
        ("lr", click.option("--lr", type=float, default=0.01, show_default=True, help="Learning rate (before --lr-scaling).")),
        (None, click.option("--optimizer", type=click.Choice(OPTIMIZERS), default="sgd", show_default=True,
            help="Update rule; see the README's optimizer table.")),
        (None, click.option("--momentum", type=float, default=0.9, show_default=True, help="For momentum and nesterov.")),
        (None, click.option("--beta1", type=float, default=0.9, show_default=True, help="Adam's first-moment decay.")),
        (None, click.option("--beta2", type=float, default=0.999, show_default=True, help="Adam's second-moment decay; rmsprop's decay.")),
        (None, click.option("--eps", type=float, default=1e-8, show_default=True, help="Denominator guard of adagrad, rmsprop, adam.")),
        (None, click.option("--schedule", type=click.Choice(SCHEDULES), default="constant", show_default=True, help="Learning-rate schedule.")),
        (None, click.option("--power-t", type=float, default=0.5, show_default=True, help="invscaling: lr/(t+1)^power_t.")),
        (None, click.option("--step-epochs", type=int, default=10, show_default=True, help="step: multiply lr by --gamma every N epochs.")),
        (None, click.option("--gamma", type=float, default=0.1, show_default=True, help="step: decay factor.")),
        (None, click.option("--warmup-iterations", type=int, default=0, show_default=True, help="Ramp lr up linearly over N iterations.")),
        (None, click.option("--lr-scaling", type=click.Choice(LR_SCALINGS), default="none", show_default=True,
            help="Scale lr with batch size relative to --base-batch-size.")),
        (None, click.option("--base-batch-size", type=int, default=32, show_default=True, help="Batch size at which --lr applies unscaled.")),
        (None, click.option("--average", is_flag=True, help="Averaged SGD: the model is the running mean of all iterates.")),
        (None, click.option("--no-shuffle", is_flag=True, help="Visit blocks and rows in file order every epoch.")),
        (None, click.option("--seed", type=int, default=0, show_default=True, help="Seed of shuffling and --val-fraction.")),
        (None, click.option("--standardize", is_flag=True, help="Scale features to mean 0, std 1 (stats from one streaming pass).")),
        (None, click.option("--val", type=click.Path(dir_okay=False), default=None, help="Validation file (HDF5).")),
        (None, click.option("--val-x", default=None, help="Feature dataset in --val [default: --x].")),
        (None, click.option("--val-y", default=None, help="Label dataset in --val [default: --y].")),
        (None, click.option("--val-fraction", type=float, default=0.0, show_default=True, help="Hold out this fraction of rows (seeded).")),
        (None, click.option("--early-stopping", is_flag=True, help="Stop when validation loss stops improving; keep the best epoch.")),
        (None, click.option("--patience", type=int, default=3, show_default=True, help="Epochs without improvement before stopping.")),
        (None, click.option("--min-delta", type=float, default=1e-4, show_default=True, help="Smallest loss decrease that counts.")),
        (None, click.option("--bad-rows", type=click.Choice(BAD_ROWS), default="error", show_default=True,
            help="error: stop at the first row with NaN or inf; skip: leave such rows out and count them.")),
        (None, memory_option),
        (None, click.option("--threads", type=int, default=None, help="Compute threads (per worker with --dask) [default: cores available; for gzip-compressed X, the cores its decoders leave].")),
        (None, click.option("--parallel", type=click.Choice(PARALLEL_MODES), default="batch", show_default=True,
            help="How threads share the work. batch: each mini-batch's gradient is split between them (the same "
                 "updates as one thread). average: each thread trains its own share of every epoch, and the models "
                 "are averaged every --sync-every steps (faster on many cores; a different trajectory).")),
        (None, click.option("--sync-every", type=click.IntRange(min=1), default=None, metavar="K",
            help="With --parallel average or --dask: mini-batch steps per thread or worker between model "
                 "averagings [default: about 1M rows' worth].")),
        (None, click.option("--progress", type=click.Choice(PROGRESS_MODES), default="auto", show_default=True,
            help="auto: bars on a terminal, plain lines otherwise.")),
        (None, click.option("-q", "--quiet", is_flag=True, help="No progress or log output.")),
        ("verbose", click.option("-v", "--verbose", is_flag=True, help="Also log the Numba threading layer, threads and kernel cache.")),
    ]

    def apply(f):
        for name, decorate in reversed(decorators):
            if name not in without:
                f = decorate(f)
        return f

    return apply


@_command("train")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Model file to write (HDF5).")
@training_options()
@click.option("--metrics", type=click.Path(dir_okay=False), default=None, help="Write one JSON line per epoch here.")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
              help="Checkpoint file [default: OUTPUT.ckpt].")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=None,
              help="Also checkpoint every N iterations (at the next safe point).")
@click.option("--checkpoint-seconds", type=click.FloatRange(min=0, min_open=True), default=600, show_default=True,
              help="Also checkpoint every S seconds (at the next safe point).")
@click.option("--resume", is_flag=True,
              help="Continue from the checkpoint if there is one (else start from scratch); safe in cron lines.")
@click.option("--keep-checkpoint", is_flag=True, help="Keep the checkpoint after a successful run.")
@click.option("--dask", default=None, metavar="ADDRESS",
              help="Train on Dask distributed: a scheduler (tcp://host:8786) or local:N (N worker processes here). "
                   "Needs the extra: pip install 'sgdcli[dask]'.")
@click.option("--dask-workers", type=click.IntRange(min=1), default=None,
              help="With --dask: shards (one per worker); wait for this many workers [default: those connected, or N].")
@click.option("--dask-timeout", type=click.FloatRange(min=0, min_open=True), default=30, show_default=True,
              help="With --dask: seconds to reach the scheduler and its workers before exiting 1.")
@click.option("--wait-lock", type=click.FloatRange(min=0), is_flag=False, flag_value=math.inf, default=None,
              metavar="[SECONDS]", help="If another run holds the output, wait for it (forever, or SECONDS) instead of exiting 75.")
@gate_options
def train_cmd(data, output, progress, quiet, verbose, metrics, no_shuffle, checkpoint, checkpoint_every,
              checkpoint_seconds, resume, keep_checkpoint, dask, dask_workers, dask_timeout,
              wait_lock, fail_under, fail_over, **kwargs):
    """Train a model on DATA by mini-batch SGD and write it to OUTPUT.

    One iteration is one mini-batch and one update; one epoch visits every
    training row once, so an epoch has ceil(rows / batch size) iterations.
    SIGTERM or SIGINT stop at the next safe point with a checkpoint (exit 143
    or 130); rerun with --resume to continue exactly where it stopped.
    --fail-under/--fail-over check the validation metrics (METRIC as in
    evaluate, or loss) of the model written, and exit 3 after writing it.
    """
    from sgdcli import gates
    from sgdcli.labels import task_of
    from sgdcli.options import TrainOptions
    from sgdcli.progress import make_reporter
    from sgdcli.runtime import configure_numba
    from sgdcli.signals import stop_on_signals
    from sgdcli.training import RunControl, default_checkpoint, train

    opts = TrainOptions(shuffle=not no_shuffle, **kwargs)
    dask_options = None
    if dask is not None:
        from sgdcli.cluster import DaskOptions

        dask_options = DaskOptions(dask, workers=dask_workers, timeout=dask_timeout)
        dask_options.check()
    elif dask_workers is not None:
        raise InputError("--dask-workers: applies only with --dask ADDRESS")
    checks = _gates(fail_under, fail_over, training=True)
    if checks:
        if opts.val is None and opts.val_fraction <= 0:
            raise InputError(f"{checks[0].option}: the gates apply to validation metrics; give --val FILE or --val-fraction F")
        gates.check_task(checks, task_of(opts.model), f"a {opts.model} model's validation", training=True)
    configure_numba()
    reporter = make_reporter("none" if quiet else progress)
    with stop_on_signals() as stop:
        control = RunControl(
            checkpoint=checkpoint or default_checkpoint(output),
            checkpoint_every=checkpoint_every,
            checkpoint_seconds=checkpoint_seconds,
            resume=resume,
            keep_checkpoint=keep_checkpoint,
            wait_lock=wait_lock,
            stop=stop,
            verbose=verbose,
        )
        model = train(data, opts, output=output, metrics=metrics, reporter=reporter, control=control, dask=dask_options)
    last = model.history[-1]
    t = model.training
    click.echo(f"model {output}: {model.model}, {model.n_features} features, {t['epochs_run']} epochs × "
               f"{t['iterations_per_epoch']} iterations (batch {t['batch_size']}, lr {t['lr']:.4g})")
    for key, value in last.items():
        if key.endswith("loss") or key.startswith("val_"):
            click.echo(f"{key} {_fmt(value)}")
    if checks:
        sys.stdout.flush()
        kept = t["best_epoch"]
        record = model.history[kept - 1]
        values = {key[len("val_"):]: value for key, value in record.items() if key.startswith("val_")}
        gates.enforce(checks, values, f"the validation rows (epoch {kept}, the model written to {output})")


@_command("sweep")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--batch-sizes", required=True, metavar="B,B,...",
              help="Batch sizes to compare, comma-separated; 'full' is full-batch gradient descent.")
@click.option("--lrs", default="0.01", show_default=True, metavar="LR,LR,...",
              help="Learning rates to compare, comma-separated (before --lr-scaling).")
@training_options(without=("batch_size", "lr", "verbose"))
@click.option("--metrics-dir", type=click.Path(file_okay=False), default=None,
              help="Write each run's per-epoch JSON lines here (diverged runs too, up to their last epoch).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, metavar="FILE.png",
              help="Also draw every run's loss against epoch, iterations and time (needs sgdcli[plot]).")
@json_option("the runs")
def sweep_cmd(data, batch_sizes, lrs, progress, quiet, no_shuffle, metrics_dir, plot, json, **kwargs):
    """Train DATA once per batch size and learning rate, and compare the runs.

    Every run uses the same data, seed and options, through the same engine as
    train, so the table shows what the batch size and the learning rate alone
    change: iterations per epoch, loss, speed, and whether the run diverged (a
    diverged run is a row, not a failure). Nothing is written but the table
    (and --metrics-dir).
    """
    from sgdcli.options import TrainOptions
    from sgdcli.progress import make_reporter
    from sgdcli.runtime import configure_numba
    from sgdcli.sweep import parse_batch_sizes, parse_lrs, sweep, table

    sizes, rates = parse_batch_sizes(batch_sizes), parse_lrs(lrs)
    base = TrainOptions(shuffle=not no_shuffle, **kwargs)
    if plot is not None:
        from sgdcli import plot as plotting

        plotting.output_format(plot, "--plot")
        plotting.require()  # matplotlib missing: say so before hours of training, not after
    configure_numba()

    def reporter_for(i, n, label):
        reporter = make_reporter("none" if quiet else progress)
        reporter.message(f"run {i}/{n}: {label}")
        return reporter

    runs = sweep(data, base, sizes, rates, reporter_for=reporter_for, metrics_dir=metrics_dir)
    if json:
        click.echo(jsonlib.dumps([_json_value(r.as_dict()) for r in runs], indent=2))
    else:
        click.echo(table(runs))
    if plot is not None:
        plotting.save([(f"batch {r.batch_label}, lr {r.lr:.4g}", r.history) for r in runs if r.history], plot, "--plot")


@_command("convert")
@click.argument("input", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="HDF5 file to write (X and y).")
@click.option("--format", type=click.Choice(["csv", "tsv", "libsvm", "npy"]), default=None,
              help="Input format [default: from the extension: .csv, .tsv/.tab, .svm/.libsvm/.svmlight, .npy].")
@click.option("--label-column", default=None, metavar="NAME|INDEX",
              help="CSV/TSV (or .npy without --y): the label column, by header name or 0-based index "
                   "(negative counts from the end) [default: the last column].")
@click.option("--delimiter", default=None, help="CSV field delimiter, one character or 'tab' [default: detected].")
@click.option("--header/--no-header", default=None,
              help="Whether the first CSV line names the columns [default: yes if it holds a non-number].")
@click.option("--features", type=click.IntRange(min=1), default=None,
              help="LIBSVM: the number of features D (indices 1..D) [default: the largest index, from a first pass].")
@click.option("--y", "y", type=click.Path(dir_okay=False), default=None, help=".npy input: the labels, a 1-D .npy file.")
@click.option("--chunk-rows", type=click.IntRange(min=1), default=None, help="Rows per HDF5 chunk [default: about 1 MiB chunks].")
@click.option("--compression", type=click.Choice(["none", "gzip", "lzf"]), default="none", show_default=True,
              help="Chunk compression (gzip at level 1).")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32", show_default=True,
              help="Type of X in the output (y is float64).")
@click.option("--bad-rows", type=click.Choice(["error", "skip"]), default="error", show_default=True,
              help="error: stop at the first row with a field that is not a number; skip: leave such rows out and count them.")
@click.option("--engine", type=click.Choice(["auto", "python", "pyarrow"]), default="auto", show_default=True,
              help="CSV/TSV reader: pyarrow (pip install 'sgdcli[fast-csv]', several times faster) or plain Python; "
                   "auto takes pyarrow when installed and --bad-rows is error.")
def convert_cmd(input, output, **kwargs):
    """Stream INPUT (CSV/TSV, LIBSVM/svmlight or .npy) into a chunked HDF5 file that train reads.

    Memory stays bounded by one block of rows, whatever the input's size. A
    field that is not a number stops the conversion with its line and column
    (or, with --bad-rows skip, the row is left out and counted).
    """
    from sgdcli.convert import convert, describe

    kwargs["fmt"] = kwargs.pop("format")
    result = convert(input, output, **kwargs)
    if result.skipped:
        click.echo(f"sgdcli: --bad-rows skip: left out {result.skipped} rows with a field that is not a number", err=True)
    click.echo(f"wrote {output}: {describe(result)}")


@_command("plot")
@click.argument("metrics", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Image to write: .png, .pdf or .svg.")
def plot_cmd(metrics, output):
    """Draw learning curves from train --metrics files: loss against epoch, iterations and time.

    Training loss is solid, validation loss (when the run had validation)
    dashed; several files are overlaid, one color each, labelled by file name.
    Needs matplotlib: pip install 'sgdcli[plot]'.
    """
    from sgdcli.plot import plot_files

    plot_files(list(metrics), output)
    click.echo(f"wrote {output}: {len(metrics)} run(s)")


@_command("predict")
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Prediction file to write (HDF5).")
@x_option
@click.option("--proba", is_flag=True, help="Also write class probabilities (rows × classes) as 'proba'.")
@memory_option
def predict_cmd(model, data, output, x, proba, memory):
    """Write predictions of MODEL for every row of DATA, in the user's own labels."""
    from sgdcli.inference import predict
    from sgdcli.runtime import configure_numba

    configure_numba()
    n = predict(model, data, output, x=x, proba=proba, memory=memory)
    click.echo(f"wrote {output}: {n} predictions")


@_command("evaluate")
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("data", type=click.Path(dir_okay=False))
@x_option
@click.option("--y", "y", default="y", show_default=True, help="Label dataset (1-D) inside DATA.")
@json_option("the metrics")
@memory_option
@gate_options
def evaluate_cmd(model, data, x, y, json, memory, fail_under, fail_over):
    """Print the metrics of MODEL on DATA.

    Regression: mse, rmse, mae, r2. Binary: accuracy, log_loss, auc,
    precision, recall, f1. Multiclass: accuracy, log_loss. All include rows.
    With --fail-under/--fail-over, a metric beyond its bound makes the command
    exit 3 after printing the metrics.
    """
    from sgdcli import gates
    from sgdcli.inference import evaluate
    from sgdcli.model import load_model
    from sgdcli.runtime import configure_numba

    checks = _gates(fail_under, fail_over)
    loaded = load_model(model)
    gates.check_task(checks, loaded.labels.task, f"{model} (a {loaded.model} model)")
    configure_numba()
    result = evaluate(loaded, data, x=x, y=y, memory=memory)
    if json:
        click.echo(jsonlib.dumps({k: _json_value(v) for k, v in result.items()}))
    else:
        for key, value in result.items():
            click.echo(f"{key} {_fmt(value)}")
    sys.stdout.flush()
    gates.enforce(checks, result, data)


@_command("show")
@click.argument("model", type=click.Path(dir_okay=False))
@json_option("the model card")
def show_cmd(model, json):
    """Print the model card: type, features, classes, hyperparameters, history, data, versions."""
    from sgdcli.card import model_card

    card = model_card(model)
    if json:
        click.echo(jsonlib.dumps(_json_value(card), indent=2))
    else:
        from sgdcli.card import render_card

        click.echo(render_card(card))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def _error(prefix: str, message: str) -> None:
    text = " ".join(str(message).split())
    click.echo(f"{prefix}: error: {text}", err=True)


def main(argv=None) -> None:
    """Console entry point: run the CLI and turn every failure into one line and an exit code."""
    from sgdcli.errors import Interrupted, SgdcliError

    try:
        code = main_group.main(args=argv, prog_name="sgdcli", standalone_mode=False)
    except click.UsageError as exc:
        prefix = exc.ctx.command_path if exc.ctx else "sgdcli"
        _error(prefix, f"{exc.format_message()} (see '{prefix} --help')")
        code = exc.exit_code
    except click.ClickException as exc:
        _error("sgdcli", exc.format_message())
        code = exc.exit_code
    except click.Abort:
        _error("sgdcli", "aborted")
        code = 130
    except Interrupted as exc:  # not an error: the run stopped where asked, with a checkpoint
        click.echo(f"sgdcli: {exc}", err=True)
        code = exc.exit_code
    except SgdcliError as exc:
        _error("sgdcli", str(exc))
        code = exc.exit_code
    except KeyboardInterrupt:
        _error("sgdcli", "interrupted")
        code = 130
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away; nothing more to say
        code = 1
    except MemoryError:
        _error("sgdcli", "out of memory; lower --memory or --batch-size")
        code = 1
    except Exception as exc:  # a bug: still one line, unless asked for the traceback
        if os.environ.get("SGDCLI_DEBUG"):
            raise
        _error("sgdcli", f"internal error: {type(exc).__name__}: {exc} (set SGDCLI_DEBUG=1 for a traceback)")
        code = 1
    hdf5 = sys.modules.get("sgdcli.hdf5")
    if hdf5 is not None and hdf5.quarantined():
        # An output write failed and HDF5 cannot safely close that file: leave
        # without the interpreter's teardown (the temporary file is already gone).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or 1)
    sys.exit(code or 0)
