"""The end's warnings of a run whose model ended worse than where it started (training/fitwarnings.py ``log_end``):
a warm start (--init) held to its initial model and to the all-zero model, both scored on the run's sample; a
fresh run whose start no pass counted (huber's and quantile's, training/warmend.py) held to it on the sample; any
other held to the loss over the training rows where it started, by its kept epoch's loss; and the smaller rate
each is told to try.
"""

from __future__ import annotations

import math

import numpy as np

from sgdcli.training import fullbatch, replicas, warmend

# How far above the all-zero model's loss an epoch's must end to be warned about: a margin over rounding, since a
# full batch's first epoch is the loss at the start itself, computed in other arithmetic.
ABOVE_ZERO = 1.01


def judge(run, kept_epoch: int, loss: float) -> tuple[list[str], bool]:
    """The warnings of ``run`` (a training/run.py ``Run`` at its end) whose model kept, of its epoch ``kept_epoch``
    (1-based) and training ``loss``, ended worse than it started; and whether a run that started at the fit of its
    sample ended above that start (its steps took it away, and more of them would not bring it back)."""
    found, away = [], False
    if run.init is not None:  # held to the model it started from, measured on the sample
        found += _worse_than_init(run)
    elif warmend.uncounted_start(run):  # so is a start whose loss over the training rows no pass counted
        found += _worse_than_start(run)
    elif math.isfinite(run.start_loss) and loss > _start_bound(run) and _kept_above_start(run):
        away = run.start_at_fit
        at = "mean" if run.opts.model == "linear" else "log-odds"
        started = ("the all-zero model's" if run.start_loss == run.zero_loss else
                   f"the best constant model's (the bias at the labels' {at}" if run.start_at_fit else
                   f"the model's it started from (the bias at the labels' {at}, the best constant model)")
        if run.start_at_fit:  # held to that loss, though it started below it
            started += ("; " if run.start_loss != run.zero_loss else " (") + "the run started below it, at the fit " \
                "of its sample)"
        found.append(f"epoch {kept_epoch}'s training loss, averaged over its batches as they were trained, "
                     f"{loss:.4g}, is above {started} {run.start_loss:.4g}: training ended worse than it "
                     f"started. Either the rate is too large (try {_smaller_rate(run)}) or the features do not predict "
                     "the label.")
    return found, away


def _worse_than_init(run) -> list[str]:
    """The warning of a warm start whose kept model is worse on the run's sample than the --init model it started
    from, or, from one worse than the all-zero model, not yet below that (training/warmend.py)."""
    ended = warmend.measure(run) if run.history else None
    if ended is None or not (ended.worse or ended.above_base):
        return []
    started = f"the {ended.initial:.4g} of the model it started from (--init {run.init.path})"
    if ended.worse:
        return [_ended_worse(run, ended, started)]
    near = "below" if ended.kept < ended.initial else "not far above"
    return [f"{_kept(run, ended)}, {near} {started} but above the all-zero model's {ended.base:.4g}: the model may "
            "be far from the optimum; raise --epochs" + (", or try --lr auto" if run.auto is None else "")]


def _worse_than_start(run) -> list[str]:
    """The warning of a fresh run whose kept model is worse on the run's sample than the model it started from,
    where no pass counted that model's loss (training/warmend.py ``uncounted_start``): huber's and quantile's fit
    of the sample, or their bias at the labels' median or quantile."""
    ended = warmend.measure_fresh(run) if run.history else None
    if ended is None or not ended.worse:
        return []
    at = "median" if run.opts.model == "huber" else f"{run.opts.quantile:g} quantile"
    how = (f"the least-squares fit of its sample, its bias at the residuals' {at}" if np.any(run.start[:-1]) else
           f"the best constant model, its bias at the labels' {at}")
    return [_ended_worse(run, ended, f"the {ended.initial:.4g} of the model it started from ({how})")]


def _kept(run, ended: warmend.Ended) -> str:
    name = fullbatch.objective_name(run.opts)
    return f"the model kept has {'an' if name[0] == 'o' else 'a'} {name} of {ended.kept:.4g} on the run's sample of " \
        f"{ended.rows:,} rows"


def _ended_worse(run, ended: warmend.Ended, started: str) -> str:
    """The warning that the model kept (``ended``) is worse than the one it started from (``started`` says which)."""
    return (f"{_kept(run, ended)}, above {started}: training ended worse than it started. The rate may be too "
            f"large: try {_smaller_rate(run)}")


def _smaller_rate(run) -> str:
    """What a run whose rate may be too large is told to try: --lr auto first where the rate was given (a tenth of
    a given rate can end far from the optimum, and no check of the end judges an explicit rate: softmax from --lr
    100 was told --lr 10, which ended 74% above the optimum without a word, where --lr auto ended within 0.3%),
    else a tenth of --lr auto's."""
    tenth = f"--lr {run.rate_opts.lr / 10:.4g}"
    return f"--lr auto, or a tenth of this rate, {tenth}" if run.auto is None else tenth


def _kept_above_start(run) -> bool:
    """Whether a run at --lr auto's rate keeps a model that scores over ABOVE_ZERO times the model it started from
    (or, where it started below it, at the fit of its sample, the best constant model it is held to) on the run's
    sample (the same rows for both), where an epoch's loss averaged over its batches says it ended
    above its start: each batch's loss is taken before its step, so on labels the features do not predict, noisy
    steps leave that average above the start (0.7049 against 0.6931) while the model kept is not (0.6930), and
    the advice to lower a rate sized to the data was wrong.  At an explicit rate the average is taken as it is:
    one too large can leave the model kept below its start and far from the optimum, which that average
    shows and no other measure may (rare classes, too few for a fit of the sample).  So is a full batch's loss,
    its model's own."""
    if run.auto is None or replicas.full_batch(run.batch, run.n_train, run.shards):
        return True
    kept = run.kept_params()
    held = warmend.best_constant_model(run) if run.start_at_fit else run.start  # (a linear run below it, at a fit)
    ended = warmend.measure(run, np.broadcast_to(held, kept.shape).copy(), np.zeros_like(kept))
    return ended is None or ended.kept > ABOVE_ZERO * ended.initial


def _start_bound(run) -> float:
    """Where training started, at its highest, with a margin over rounding (ABOVE_ZERO): the loss over the training
    rows of the model it started from (run.start_loss: a fresh logistic model's, the bias at the labels' log-odds,
    a linear model's at their mean;
    else the all-zero model's), and a full batch's first epoch, the loss at the start on every training row itself."""
    exact = replicas.full_batch(run.batch, run.n_train, run.shards) and run.history
    start = run.history[0]["train_loss"] if exact else -math.inf
    return ABOVE_ZERO * max(run.start_loss, start)
