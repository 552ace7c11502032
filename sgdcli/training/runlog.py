"""What a run says on stderr about itself: how it is set up, before the first epoch, and after the last, whether
the model it keeps may be far from what training could reach."""

from __future__ import annotations

import contextlib
import contextvars
import math

import numpy as np

from sgdcli.kernels import runtime
from sgdcli.reporting.reporter import counted
from sgdcli.reporting.warned import warn
from sgdcli.sizes import size_text, whole_mib
from sgdcli.training import replicas
from sgdcli.training.progress import end_pace
from sgdcli.training.rate import scaling_text
from sgdcli.training.sampling import Sample, sparse_sample

# Updates in all below which a run whose loss still fell is told that it may end far from the optimum: gradient
# descent at the curvature's rate closes a fixed share of the gap an update, and with a few dozen updates
# problems that are not well conditioned stay far above their optimum's objective.
FEW_UPDATES = 100
FALLING = 0.01  # a share of the loss that the second half of a run's epochs still took off: not yet converged
# How far above the all-zero model's loss an epoch's must end to be warned about: a margin over rounding, since a
# full batch's first epoch is the loss at the start itself, computed in other arithmetic.
ABOVE_ZERO = 1.01
# A run's loss falls at the end, per unit of learning rate, at this share of its pace over the whole run (progress.
# end_pace) or more: still far from settled, where a settled run's pace is nothing but rounding and, at a small
# rate, the little noise its batches leave in the epochs' means.  A full batch's losses are exact, so its pace is
# judged at any rate; a mini-batch run's only at a rate under SLOW_RATE times --lr auto's (given, or halved after
# blow-ups), as at larger rates the noise dies down under the schedule and a loss that still falls as much tells
# nothing.
PACE = 1 / 6
# An explicit --lr, or --lr auto's rate after its halvings, under this fraction of --lr auto's leaves so little of
# the batches' noise in the epochs' mean losses that their fall is progress, measured as for a full batch.
SLOW_RATE = 1 / 30
# A window of the page shuffle (data/shuffle.py) that draws on fewer runs of the file than this, in a file of
# several windows, leaves rows stored in an order (sorted by label, or by time) to train worse than shuffled ones:
# a stretch of training sees the class mix of those few runs, and the model follows it (docs/out-of-core.md has
# the measured table).
FEW_PLACES = 8
# Sparse columns whose nonzero values differ in scale by more than this many times (value_spread) slow
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
        why = (replicas.held_text(run.auto_held, run.auto, opts.model, run.batch, run.shards, run.local_steps,
                                  opts.optimizer) if run.auto_held is not None else
               run.auto.why(opts.model, effective, opts.optimizer)
               + (f" (batch {run.batch} × {run.shards} models averaged)" if run.shards > 1 else ""))
        say(f"--lr auto: {run.auto.lr:.4g} = {why}"
            + (f"; halved {halved} time(s) after blow-ups: {run.rate_opts.lr:.4g}" if halved else ""))
    scaled = run.rate_opts.scaled_lr(run.batch, run.shards)
    if scaled != run.rate_opts.lr:
        say(f"--lr-scaling {opts.lr_scaling}: {scaling_text(run.rate_opts, run.batch, run.shards)}"
            + (replicas.scaling_held(run.lr, run.rate_opts.lr, run.batch, run.shards, run.local_steps)
               if run.lr < scaled else ""))
    warn_few_places(run)
    if run.table.sparse and not run.cfg.standardized:
        spread = sample_value_spread(run.sample)
        if spread > SPREAD_NOTE:
            say(f"note: the columns' nonzero values differ in scale by up to {spread:.3g} times on a sample of "
                "rows, which slows SGD on unscaled sparse columns: --standardize scales them (docs/sparse.md)")


class ShuffleWarning(UserWarning):
    """Each window of the page shuffle draws on few places of the file: rows stored in an order may train worse
    than the same rows shuffled."""


def warn_few_places(run) -> None:
    """A ShuffleWarning where ``run``'s windows each hold fewer than FEW_PLACES runs of a file that they do not hold
    whole (--no-shuffle asks for the file's order: no warning), its text kept in ``run.warnings``; it names what
    would give twice as many."""
    pages, table = run.pages, run.table
    places = pages.window_extents
    if not pages.shuffle or places >= FEW_PLACES or pages.window_rows >= pages.n_rows:
        return
    chunks = table.X.layout.chunks
    whole = chunks is not None and pages.extent_rows % chunks[0] == 0
    need = whole_mib(math.ceil(run.opts.memory * 2 * FEW_PLACES / places))
    text = (f"{table.path}:{table.x_name}: --memory {size_text(run.opts.memory)} holds {places} run"
            f"{'s' if places > 1 else ''} of {pages.extent_rows:,} rows at a time"
            + (" (whole chunks)" if whole else "") + ", so each stretch of training draws on few places of the "
            "file: rows stored in an order (sorted by label or by time) train worse than shuffled ones; raise "
            f"--memory (about {need} for {2 * FEW_PLACES} runs)" + (" or store smaller chunks" if whole else "")
            + ", unless the rows are in random order already")
    run.warnings.append(text)  # kept in the model, as the set-up's and the fit's are
    warn(text, ShuffleWarning)


class FitWarning(UserWarning):
    """The model written may fit far worse than it could: training ended above where it started, or stopped while
    its loss was still falling (after few updates, or at a good share of its pace over the run)."""


# Where log_end puts its warnings' texts instead of warning them (``kept``); a context variable, so that a sweep
# in one thread takes only its own runs' warnings, and another thread's training warns as usual.
_KEPT: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("fit_warnings_kept", default=None)


@contextlib.contextmanager
def kept(texts: list[str]):
    """While the block runs, the FitWarnings of the runs of this thread (and context) go into ``texts``, not to
    the warnings module, whatever its filters: the sweep gives them again, each named by its run."""
    token = _KEPT.set(texts)
    try:
        yield texts
    finally:
        _KEPT.reset(token)


def log_end(run, kept_epoch: int) -> list[str]:
    """The warnings about the model ``run`` keeps (from its epoch ``kept_epoch``, 1-based), each also raised as a
    FitWarning, which the CLI prints as one line, with -q too; warnings, not failures: the model is written, and a
    gate (--fail-over) can refuse it.

    - A --warmup-iterations longer than the iterations the run was planned to have: the rate never rose to its
      value (the all-zero model, at 2**63 - 1).
    - The epoch's training loss ABOVE_ZERO times the all-zero model's over the training rows (and a full batch's
      first epoch's: _start_bound): a rate too large that blew up less than ``rate.blew_up`` catches, or
      features that do not predict the label.
    - Fewer than FEW_UPDATES updates in all while the loss still fell by more than FALLING over the second half
      of the epochs (or in a run of one epoch, which cannot tell): more would have gone further.
    - Otherwise, a loss still falling at the end, per unit of learning rate, at PACE of its pace over the whole
      run or more (_still_falling): at a full batch, or at a rate under SLOW_RATE times --lr auto's.
    """
    found = []
    warmup, planned = run.opts.warmup_iterations, run.cfg.total_iterations
    if run.history and warmup > planned:  # the rate never got to its value: a warm-up meant for another run
        found.append(f"--warmup-iterations {warmup} is longer than the whole run ({counted(run.opts.epochs, 'epoch')} "
                     f"× {counted(run.steps, 'iteration')}{' per thread or worker' if run.shards > 1 else ''}): the "
                     f"rate rose to only {planned / warmup:.3g} of its value, and the model may be far from the "
                     "optimum; lower --warmup-iterations")
    loss = run.history[kept_epoch - 1]["train_loss"] if 0 < kept_epoch <= len(run.history) else math.nan
    if math.isfinite(run.zero_loss) and loss > _start_bound(run):
        found.append(f"epoch {kept_epoch}'s training loss, averaged over its batches as they were trained, "
                     f"{loss:.4g}, is above the all-zero model's {run.zero_loss:.4g}: training ended worse than it "
                     f"started. Either the rate is too large (try --lr {run.rate_opts.lr / 10:.4g}"
                     + (", or --lr auto" if run.auto is None else "") + ") or the features do not predict the label.")
    epochs, updates = len(run.history), sum(r["iterations"] for r in run.history)  # made, not planned (run.iters)
    half = (epochs - 1) // 2
    first, last = (run.history[half]["train_loss"], run.history[-1]["train_loss"]) if epochs else (math.nan,) * 2
    falling = f"the loss was still falling ({first:.4g} at epoch {half + 1}, {last:.4g} at epoch {epochs})"
    if 0 < updates < FEW_UPDATES:
        if epochs == 1 or first - last > FALLING * abs(first):
            found.append(f"only {counted(updates, 'update')} in all ({_updates_made(run)})"
                         + ("" if epochs == 1 else f", and {falling}") + ": the model may be far from the optimum; "
                         "raise --epochs" + (" or lower --batch-size" if run.batch > 1 else ""))
    elif updates:
        found += _still_falling(run)
    into = _KEPT.get()
    for text in found:
        if into is not None:
            into.append(text)
        else:  # each time: each run's warnings are shown, though another run gave the same text
            warn(text, FitWarning, each_time=True)
    return found


def _still_falling(run) -> list[str]:
    """The warning, if any, of a run whose loss still fell at the end at PACE of its pace over the whole run or
    more, where that pace can be read (see PACE): not after early stopping, whose kept epoch is its own choice."""
    if run.stopper is not None and run.stopper.stopped:
        return []
    exact = replicas.full_batch(run.batch, run.n_train, run.shards)  # one update an epoch, on every row
    used, auto = run.lr, math.nan
    if not exact:  # the rate used, after --lr-scaling, which --lr auto's (for the steps the models averaged
        # take, replicas.py) is the rate of a step as well
        auto = run.auto.lr if run.auto is not None else run.lr_auto(run.plan.center, run.plan.scale).lr
        if not used < SLOW_RATE * auto:
            return []
    history = run.history
    # where training started: a full batch's first epoch is the start itself; a mini-batch run's first epoch is
    # below it, the all-zero model's loss over the training rows above it (the bias starts where it fits better)
    start = history[0]["train_loss"] if exact else float(np.fmax(run.zero_loss, history[0]["train_loss"]))
    measured = end_pace(history, exact, start)
    if measured is None or measured[0] < PACE:
        return []
    share, since = measured
    falling = (f"the loss was still falling ({history[since - 1]['train_loss']:.4g} at epoch {since}, "
               f"{history[-1]['train_loss']:.4g} at epoch {len(history)}; per unit of learning rate, at {share:.0%} "
               "of its pace over the whole run)")
    far = "the model may be far from the optimum"
    if exact:
        return [f"{falling}: {far}; raise --epochs" + (" or lower --batch-size" if run.n_train > 1 else "")]
    if run.auto is not None:
        return [f"{falling} at --lr auto's rate halved {counted(run.pos.lr_halvings, 'time')} after blow-ups, "
                f"{used:.4g}: {far}; raise --epochs"]
    given = f" (--lr {run.rate_opts.lr:g} after --lr-scaling {run.opts.lr_scaling})" if used != run.rate_opts.lr else ""
    return [f"{falling} at a rate of {used:.4g}{given}, {auto / used:.3g} times smaller than the {auto:.4g} that "
            f"--lr auto chooses here: {far}; raise --lr or --epochs"]


def _updates_made(run) -> str:
    """What the updates of ``run`` were: epochs × the iterations each made (with T threads or workers, the sum of
    the shares' own, each rounding its rows up, or none for a share with no rows), and their batch, which is at
    most a share."""
    made = sorted({r["iterations"] for r in run.history})
    per_epoch = counted(made[0], "iteration") if len(made) == 1 else f"{made[0]} to {made[-1]} iterations"
    share = replicas.share_rows(run.n_train, run.shards)
    if run.shards == 1 or run.batch <= share:
        return f"{counted(len(run.history), 'epoch')} × {per_epoch} of batch {run.batch}"
    unit = "thread" if run.opts.parallel == "average" else "worker"
    return f"{counted(len(run.history), 'epoch')} × {per_epoch} of a {unit}'s whole share of the rows, about {share}"


def validation_rows(run) -> dict:
    """``val_rows``: the rows of ``run``'s validation (the --val file's, or those --val-fraction holds out) that
    its last validation pass scored, and ``val_bad_rows``: those it left out (--bad-rows skip, NaN or inf);
    before any pass (--epochs 0), every validation row, and none left out."""
    total = run.val_table.n_rows if run.val_table is not None else run.table.n_rows - run.n_train - run.n_bad
    scored = total if run.val_scored is None else run.val_scored
    return {"val_rows": scored, "val_bad_rows": total - scored}


def log_left_out(run) -> None:
    """What --bad-rows skip left out of ``run``: training rows, and validation rows."""
    val_bad = validation_rows(run)["val_bad_rows"]
    parts = [f"{run.n_bad} training rows with non-finite values in every epoch"] if run.n_bad else []
    if val_bad:
        where = (f"of {run.val_table.path} (--val)" if run.val_table is not None else
                 f"(held out of {run.table.path} by --val-fraction)")
        parts.append(f"{val_bad} validation rows {where} from every validation pass")
    if parts:
        run.reporter.message("--bad-rows skip: left out " + ", and ".join(parts))


def _start_bound(run) -> float:
    """Where training started, at its highest, with a margin over rounding (ABOVE_ZERO): the all-zero model's loss
    over the training rows, and a full batch's first epoch, the loss at the start on every training row itself."""
    exact = replicas.full_batch(run.batch, run.n_train, run.shards) and run.history
    start = run.history[0]["train_loss"] if exact else -math.inf
    return ABOVE_ZERO * max(run.zero_loss, start)


def sample_value_spread(drawn: Sample) -> float:
    """``value_spread`` of the sample's sparse rows as stored (NaN for dense rows)."""
    if not drawn.table.sparse:
        return math.nan
    X, values = sparse_sample(drawn, None)
    return value_spread(values, X.indices)


def value_spread(values: np.ndarray, columns: np.ndarray) -> float:
    """The largest root mean square of a column's nonzero values over the smallest, among the columns that have
    any (NaN where fewer than two have): how far apart the columns' scales are where they are present, which a
    rare column's frequency does not change."""
    present = values != 0
    counts = np.bincount(columns[present])
    squares = np.bincount(columns[present], weights=values[present] ** 2)
    rms = np.sqrt(squares[counts > 0] / counts[counts > 0])
    return float(rms.max() / rms.min()) if len(rms) > 1 else math.nan
