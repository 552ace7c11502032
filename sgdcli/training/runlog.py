"""What a run says on stderr about itself: how it is set up, before the first epoch, and after the last, whether
the model it keeps fits its training rows better than where training started."""

from __future__ import annotations

import math

from sgdcli.kernels import runtime
from sgdcli.training.rate import scaling_text

# Updates in all below which a run is told that it may end far from the optimum: gradient descent at the
# curvature's rate closes a fixed share of the gap an update, and with a few dozen updates even well-conditioned
# problems were left 5 to 100% above their optimum's objective.
FEW_UPDATES = 100
# Sparse columns whose nonzero values differ in scale by more than this many times (rate.value_spread) slow
# unstandardized SGD measurably (docs/sparse.md), and a run says that --standardize scales them.
SPREAD_NOTE = 30.0


def log_start(run) -> None:
    """The set-up of ``run`` (a training/run.Run), before its first epoch."""
    opts, say = run.opts, run.reporter.message
    seconds = run.executor.warm_up()
    if seconds is not None and seconds > 0.5:
        say(f"compiled kernels in {seconds:.1f} s ({runtime.cache_state()})")
    threads, sharing = run.executor.describe(run.batch)
    say(f"{run.table.path}: {run.table.n_rows} rows × {run.table.n_features} features, read "
        f"{run.table.X.layout.read_mode} in windows of {run.pages.window_rows} rows; {threads}")
    for line in sharing:
        say(line)
    for table in (run.table, run.val_table):
        if table is not None and table.unwritten_rows:
            say(f"--allow-unwritten: {table.unwritten_rows:,} rows of {table.path} are read from fill values")
    if run.control.verbose:
        say(run.pages.describe())
        say(runtime.describe())
    if run.auto is not None:
        halved = run.pos.lr_halvings
        effective = run.batch * run.shards
        say(f"--lr auto: {run.auto.lr:.4g} = {run.auto.why(opts.model, effective, opts.optimizer)}"
            + (f" (batch {run.batch} × {run.shards} models averaged)" if run.shards > 1 else "")
            + (f"; halved {halved} time(s) after blow-ups: {run.rate_opts.lr:.4g}" if halved else ""))
    if run.lr != run.rate_opts.lr:
        say(f"--lr-scaling {opts.lr_scaling}: {scaling_text(run.rate_opts, run.batch, run.shards)}")
    spread = run.auto.value_spread if run.auto is not None else math.nan
    if run.table.sparse and not run.cfg.standardized and spread > SPREAD_NOTE:
        say(f"note: the columns' nonzero values differ in scale by up to {spread:.3g} times on --lr auto's sample, "
            "which slows SGD on unscaled sparse columns: --standardize scales them (docs/sparse.md)")
    updates = run.iters * opts.epochs
    if updates < FEW_UPDATES:
        say(f"note: only {updates} updates in all ({opts.epochs} epoch(s) × {run.iters} iteration(s) of batch "
            f"{run.batch}), which may end far from the optimum: raise --epochs"
            + (" or lower --batch-size" if run.batch > 1 else ""))


def log_end(run, kept_epoch: int) -> None:
    """Whether the epoch whose model ``run`` keeps (1-based) ended above the loss of the all-zero model, where
    training starts: a rate too large that blew up less than ``rate.blew_up`` catches, or features that do not
    predict the label.  A warning, not a failure: the model is written, and --fail-over can refuse it."""
    loss = run.history[kept_epoch - 1]["train_loss"] if 0 < kept_epoch <= len(run.history) else math.nan
    if not (math.isfinite(run.zero_loss) and loss > run.zero_loss):
        return
    run.reporter.message(f"warning: epoch {kept_epoch}'s mean training loss {loss:.4g} is above the all-zero "
                         f"model's {run.zero_loss:.4g}: the model fits its training rows no better than scores of "
                         f"0. Either the rate is too large (try --lr {run.rate_opts.lr / 10:.4g}"
                         + (", or --lr auto" if run.auto is None else "") + ") or the features do not predict the "
                         "label.")
