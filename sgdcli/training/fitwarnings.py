"""Whether the model a run keeps may be far from what training could reach: the FitWarnings of its end.

Warnings, not failures: the model is written, and a gate (--fail-over) can
refuse it.  The command line prints each as one line, with -q too; a sweep
takes its runs' texts (``kept``) and gives them again, each named by its run.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math

import numpy as np

from sgdcli.reporting.reporter import counted
from sgdcli.reporting.warned import warn
from sgdcli.training import (adaptivesize, decayingrate, endedworse, farfit, fitgap, fullbatch, marginfit, replicas,
                             runrate, stopchoice, unscaled, warmend)
from sgdcli.training.farfit import SLOW_RATE
from sgdcli.training.progress import end_pace, objectives
from sgdcli.training.sampling import stays_sparse

# Updates in all below which a run whose loss still fell is told that it may end far from the optimum: gradient
# descent at the curvature's rate closes a fixed share of the gap an update, and with a few dozen updates
# problems that are not well conditioned stay far above their optimum's objective.
FEW_UPDATES = 100
FALLING = 0.01  # a share of the loss that the second half of a run's epochs still took off: not yet converged
# A run's loss falls at the end, per unit of learning rate, at this share of its pace over the whole run (progress.
# end_pace) or more: still far from settled, where a settled run's pace is nothing but rounding and, at a small
# rate, the little noise its batches leave in the epochs' means.  A full batch's losses are exact, so its pace is
# judged at any rate; a mini-batch run's only at a rate under SLOW_RATE times --lr auto's (given, or halved after
# blow-ups), as at larger rates the noise dies down under the schedule and a loss that still falls as much tells
# nothing.
PACE = 1 / 6
# A fall of the loss under this share of it is the rounding of the means it is measured by (a start's pass, the
# epochs' batches), not a step's: at --lr 1e-30 the epochs' losses "fell" by 3e-15 of it, and read as a pace; at
# --lr 1e-13 they fell by 3e-10, as the rate made them.
ROUNDED_FALL = 1e-12


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
    - The epoch's training loss endedworse.ABOVE_ZERO times the loss over the training rows of the model the run
      started from (and a full batch's first epoch's: endedworse.judge): a rate too large that blew up less than
      ``rate.blew_up`` catches, or features that do not predict the label.  A warm start (--init) is held to its
      initial model instead, both scored on the run's sample, and to the all-zero model (endedworse.py).
    - Fewer than FEW_UPDATES updates in all, and the kept model over fullbatch.NEAR above the optimum's estimate by a
      fit of the run's sample (fitgap.py: dense runs, of every model, where the fit exists; not on uneven raw
      features, which unscaled.judge tells what to change).  Where no such fit is
      measured, and for a run that started at that fit (its loss on the sample then tells where its steps took it):
      while the loss still fell by more than FALLING over the second half of the epochs (or in a run of one epoch, which
      cannot tell, but for one that started at the fit of its sample), as more would have gone further. An epoch's loss
      is the mean over its batches as they were trained, so with few updates it falls with the progress within the
      epochs, and runs within a percent of the optimum were told so.
    - In place of that and of the fit's and the nearly separable rows' measures below: a full batch that started
      at the fit of its sample and kept its last step's gradient on every training row (fullbatch.keeps_step),
      whose last epoch's model is over fullbatch.NEAR above the optimum's estimate by a Newton step from it with
      the sample's curvature, along the directions it tells where it holds too few rows of a class for every
      direction (fullbatch.from_fit); under --l1, which keeps no such gradient, whose model the lasso fit of the
      sample measures over fullbatch.NEAR above the optimum (fitgap.stepped_off).
    - Otherwise, a loss still falling at the end, per unit of learning rate, at PACE of its pace over the whole
      run or more (_still_falling): at a full batch, or at a rate under SLOW_RATE times --lr auto's (a rate given:
      not where the fit of its sample measures it near the optimum); not for a run that started at the fit of its
      sample (training/start.py), whose whole run's fall is small.
    - Where neither of these is said, a full-batch logistic or softmax model's (its last epoch's) loss on the
      run's sample over fullbatch.NEAR above the optimum's, estimated by a fit of it (fullbatch.short); not for a
      run that started at that fit and stepped at --lr auto's rate, which stays near it.
    - Nearly separable rows whose balanced rate 1/L held far below (decayingrate.short), where the run's end was
      not measured against a fit of its sample (fitgap.py), which says how far it ended where this only infers
      it (on raw features whose curvature is uneven, the raw features, not the rows' separability, hold 1/L
      down, and runs of few updates within a few percent of the optimum were told to raise --epochs), or was
      measured far where nothing above said so; not under --l1, whose optimum is nearer than that fit's.
    - A linear, logistic or softmax model trained on raw features (--no-standardize) whose objective on the run's
      sample is over fullbatch.NEAR above the optimum's, estimated by a fit of it, on features whose curvature
      standardizing would make far more even (unscaled.judge): whatever early stopping chose, as more epochs
      crawl on; the full-batch estimate above is then not given again.
    - Where no other warning was given, a run (not one of few updates, nor one that started at the fit of its
      sample, nor early stopping's choice) whose kept model is far from the optimum's estimate by a fit of its
      sample, as fits of half of it confirm (fitgap.Gap.confirmed; not on uneven raw features): ``farfit.told``.
      At the rate --lr auto sizes, the loss's fall at the end is mostly the batches' noise and tells nothing;
      nearly collinear features (polynomial terms, sensors of one quantity) leave directions so flat that the
      default epochs ended far above the optimum, unwarned.  At a rate given, the same: that rate, given, was
      silent where --lr auto's run, the same model, was told.

    Where early stopping chose the epoch kept (it stopped, or it kept an epoch before the last), neither the
    updates, nor the pace, nor the nearly separable rows are judged: more epochs would not move its choice, which
    the epochs after it did not better by more than --min-delta.  The fit of its sample (fitgap.py, every model
    it fits) judges it there where a later epoch's loss (of those early stopping judges) was lower by no more
    than --min-delta: the threshold, not the loss, chose the epoch, which may be far from the optimum, and the
    warning says to lower it, or, where the last epoch is as far, what cures a far run (stopchoice.threshold_chose);
    and where none was lower, but the model is worse than a fit on rows that never trained it, as a stop for
    overfitting is not (the fit of the sample on the validation rows, or, without, fits of half of the sample on
    the other half): the steps' noise chose it (stopchoice.loss_chose).
    """
    try:
        return _judged(run, kept_epoch)
    finally:  # what the measures below read of the sample, read once for them all
        run.sample.release()


def _judged(run, kept_epoch: int) -> list[str]:
    """``log_end``'s warnings, found and warned."""
    found = []
    warmup, planned = run.opts.warmup_iterations, run.cfg.total_iterations
    if run.history and warmup > planned:  # the rate never got to its value: a warm-up meant for another run
        found.append(f"--warmup-iterations {warmup} is longer than the whole run ({counted(run.opts.epochs, 'epoch')} "
                     f"× {counted(run.steps, 'iteration')}{' per thread or worker' if run.shards > 1 else ''}): the "
                     f"rate rose to only {planned / warmup:.3g} of its value, and the model may be far from the "
                     "optimum; lower --warmup-iterations")
    loss = run.history[kept_epoch - 1]["train_loss"] if 0 < kept_epoch <= len(run.history) else math.nan
    # a run from the fit of its sample that ended above where it started: its steps took it away, and more of
    # them would not bring it back (the warning says to lower the rate)
    worse, away = endedworse.judge(run, kept_epoch, loss)
    found += worse
    epochs, updates = len(run.history), sum(r["iterations"] for r in run.history)  # made, not planned (run.iters)
    half = (epochs - 1) // 2
    scores, scored = objectives(run.history)
    first, last = (scores[half], scores[-1]) if epochs else (math.nan,) * 2
    falling = f"the {scored} was still falling ({first:.4g} at epoch {half + 1}, {last:.4g} at epoch {epochs})"
    far = []  # the warnings that the model may be far from the optimum
    # early stopping's choice of the epoch kept: it stopped, or kept an earlier epoch than the last
    chosen = run.stopper is not None and 0 < kept_epoch and (run.stopper.stopped or kept_epoch < epochs)
    few = not chosen and 0 < updates < FEW_UPDATES
    # runs of few updates are judged against a fit of the sample where one exists (fitgap.py), but for those that
    # started at that fit (whose loss on the sample is then where their steps took them, not how far the optimum
    # is); runs on raw features are measured against it too (unscaled.judge)
    by_fit = few and not run.start_fitted
    # and so are --lr auto's runs of more updates but for early stopping's choice: at the rate it sizes, the loss's
    # fall at the end is mostly the batches' noise and tells nothing of the distance (_still_falling); and so are
    # mini-batch runs at a rate given: the same runs at --lr auto's own rate, given, were told nothing where --lr
    # auto's were, and 99 of 360 at 0.05 to 10 times it ended 7% to 238% above the optimum, silent (where another
    # warning told of the run, as _still_falling's at a rate under SLOW_RATE times it, not again; full batches at a
    # rate given were not measured, and _still_falling judges their pace)
    ended = updates and not (chosen or few or run.start_fitted) and (
        run.auto is not None or not replicas.full_batch(run.batch, run.n_train, run.shards))
    # a run from the fit of its sample at --lr auto's rate ended 0% to 3% above the optimum wherever measured, and
    # the fit's estimate of the optimum, short of rows of heavy weight, told two of thirty they were 5% and 6% off
    from_fit = run.start_fitted and run.auto is not None
    # early stopping's choice, where its threshold, not the loss, chose the epoch kept (stopchoice.threshold_chose);
    # from the fit of its sample too where the optimizer scales each weight's step by its gradients' size, whose
    # first steps leave the fit (adam's poisson full batch kept its first epoch's, 21% above the optimum, unwarned)
    # and where the loss chose it, no later epoch's lower (stopchoice.loss_chose)
    by_choice = updates and chosen and not (from_fit and run.opts.optimizer not in adaptivesize.ADAPTIVE)
    under = stopchoice.under_min_delta(run, kept_epoch) if by_choice else None
    gap_of = functools.cache(lambda: fitgap.measure(run, confirm=ended or by_choice, last=under is not None))
    gap = gap_of() if updates and (by_fit or ended or by_choice or (run.std is None and not stays_sparse(run.table))) \
        else None
    # a full batch from the fit of its sample, measured by its gradient on every row where it kept it
    from_start = fullbatch.from_fit(run) if run.start_fitted and updates and not chosen else None
    if from_start is None and run.start_fitted and updates and not chosen and (
            run.opts.l1 > 0 or run.opts.model in marginfit.SMOOTH) and replicas.full_batch(
            run.batch, run.n_train, run.shards):  # (no step kept: judged by the fit of the sample, the lasso's too)
        from_start = fitgap.stepped_off(run, gap_of())
    if chosen:
        pass  # more epochs would not move its choice
    elif from_start is not None:
        far += from_start
    elif by_fit and gap is not None:  # the loss's fall told of the progress within the epochs, not of the distance
        if gap.far and not unscaled.uneven(gap) and not away:  # (on uneven raw features, unscaled.judge says)
            far.append(f"only {counted(updates, 'update')} in all ({_updates_made(run)}): {gap.text()}: the model may "
                       f"be far from the optimum; {farfit.more_updates(run)}")
    elif few:  # one epoch cannot tell, but from the fit of its sample (training/start.py)
        if (epochs == 1 and not run.start_fitted) or first - last > FALLING * abs(first):
            far.append(f"only {counted(updates, 'update')} in all ({_updates_made(run)})"
                       + ("" if epochs == 1 else f", and {falling}") + ": the model may be far from the optimum; "
                       f"{farfit.more_updates(run)}")
    elif updates and not run.start_fitted:  # a run from the fit of its sample started near the optimum, and any
        # fall at its end is much of its whole run's: at a rate given, it is judged against the fit (fullbatch.short)
        far += _still_falling(run, gap_of)
    raw = unscaled.judge(run, gap, epochs, kept_epoch)
    if by_choice and not raw:
        # (a model worse than where it started was told to change the rate: endedworse.py)
        far += (stopchoice.threshold_chose(run, gap, kept_epoch, epochs, under) if under is not None
                else [] if worse else stopchoice.loss_chose(run, gap, kept_epoch, epochs))
    elif updates and not far and not chosen and not from_fit and not raw and from_start is None:
        far += fullbatch.short(run, epochs)
    found += far + raw
    # a gap measured says how far the run ended, which this only infers: unless it found the run far on features
    # that are not uneven, where no other warning has said so.  Not under --l1, whose optimum is nearer than the
    # fit that measures the distance (gradientnoise's, of no --l1): runs at their optimum were told to raise
    # --epochs 240-fold
    # nor where the fit finds the features nearly collinear (farfit.told says so): their flat directions, not
    # the rows' separability, then hold the balanced rate above 1/L (logistic at batch 256 on rows it classified
    # 78% right was told they were nearly separable)
    collinear = ended and gap is not None and gap.confirmed and gap.condition >= farfit.COLLINEAR
    if not chosen and from_start is None and run.opts.l1 == 0 and not collinear and (
            gap is None or (gap.far and not unscaled.uneven(gap) and not few)):
        found += decayingrate.short(run.auto, run.opts.epochs, run.batch, run.pos.lr_halvings)
    if ended and not found and gap is not None and gap.confirmed and not unscaled.uneven(gap):  # none told of it
        found.append(farfit.told(run, gap))
    into = _KEPT.get()
    for text in found:
        if into is not None:
            into.append(text)
        else:  # each time: each run's warnings are shown, though another run gave the same text
            warn(text, FitWarning, each_time=True)
    return found


def _still_falling(run, gap_of) -> list[str]:
    """The warning, if any, of a run whose loss still fell at the end at PACE of its pace over the whole run or
    more, where that pace can be read (see PACE): not after early stopping, whose kept epoch is its own choice,
    nor, at a rate given, where ``gap_of()`` (the fit of its sample, fitgap.py) measures it near the optimum: at
    --lr 1e-6 on labels the features do not predict, a loss within rounding of the optimum's fell at its pace."""
    if run.stopper is not None and run.stopper.stopped:
        return []
    exact = replicas.full_batch(run.batch, run.n_train, run.shards)  # one update an epoch, on every row
    used, auto = run.lr, math.nan
    if not exact:  # the rate used, after --lr-scaling, which --lr auto's (for the steps the models averaged
        # take, replicas.py) is the rate of a step as well
        auto = run.auto.lr if run.auto is not None else runrate.compared(run).lr
        if not used < SLOW_RATE * auto:
            return []
    history, (scores, scored) = run.history, objectives(run.history)
    # where training started: a full batch's first epoch is the start itself; a mini-batch run's first epoch is
    # below it, the loss over the training rows of the model it started from (run.start_loss: a fresh logistic
    # model's bias at the labels' log-odds, a linear model's at their mean, else the all-zero model) above it.
    # Huber's, quantile's and poisson's fresh start, whose loss no pass counts (warmend.uncounted_start; poisson's
    # bias at the log of the mean count), is far below the all-zero model's, whose fall to it read as the whole
    # run's (--lr 1e-30 fell by nothing, unwarned): their first epoch, nearly the start itself at the small rates
    # judged here
    first = exact or warmend.uncounted_start(run) or (run.init is None and run.opts.model == "poisson")
    # (run.start_loss is that of a model whose weights are all 0, and whose bias no penalty weighs: an objective)
    start = scores[0] if first else float(np.fmax(run.start_loss, scores[0]))
    if not exact and not scores[-1] < start - ROUNDED_FALL * abs(start):  # (a pace read in rounding is noise)
        return _did_not_fall(run, (start, scores[-1], scored), used, auto, gap_of)
    measured = end_pace(history, exact, start, scores)
    if measured is None or measured[0] < PACE:
        return []
    share, since = measured
    falling = (f"the {scored} was still falling ({scores[since - 1]:.4g} at epoch {since}, {scores[-1]:.4g} at "
               f"epoch {len(history)}; per unit of learning rate, at {share:.0%} of its pace over the whole run)")
    far = "the model may be far from the optimum"
    if exact:
        more = "lower --batch-size or raise --epochs" if run.n_train > 1 else "raise --epochs"
        return [f"{falling}: {far}; {more}"]
    if run.auto is not None:
        return [f"{falling} at --lr auto's rate halved {counted(run.pos.lr_halvings, 'time')} after blow-ups, "
                f"{used:.4g}: {far}; raise --epochs"]
    gap = gap_of()
    if gap is not None and not gap.far:
        return []
    return [f"{falling} at {farfit.against_auto(run, used, auto)}: {far}; raise --lr or --epochs"]


def _did_not_fall(run, scores: tuple[float, float, str], used: float, auto: float, gap_of) -> list[str]:
    """The warning of a mini-batch run at a rate under SLOW_RATE times --lr auto's whose loss (``scores``: where
    training started, the last epoch's, and what they are, progress.objectives) did not fall below its start at
    all (so ``end_pace`` has no pace to read: --lr 1e-18 left the model where it started), where a fit of its
    sample (training/fitgap.py) says it ended far from the optimum: features that do not predict the label leave
    a loss that does not fall at any rate.  Not for a warm start (--init), near where it is going."""
    gap = gap_of() if run.init is None else None
    if gap is None or not gap.far:
        return []
    start, last, scored = scores
    return [f"the {scored} did not fall ({start:.4g} where training started, {last:.4g} at epoch "
            f"{len(run.history)}) at {farfit.against_auto(run, used, auto)}; {gap.text()}: the model may be far from "
            "the optimum; raise --lr"]


def _updates_made(run) -> str:
    """What the updates of ``run`` were: epochs × the iterations each made (with T threads or workers, the sum of
    the shares' own, each rounding its rows up, or none for a share with no rows), and their batch, which is at
    most a share."""
    made = sorted({r["iterations"] for r in run.history})
    per_epoch = counted(made[0], "iteration") if len(made) == 1 else f"{made[0]} to {made[-1]} iterations"
    return f"{counted(len(run.history), 'epoch')} × {per_epoch} of {replicas.batch_text(run)}"
