"""Early stopping's choice of the epoch kept, judged against the fit of the run's sample (training/fitgap.py):
the end's warnings about it (training/fitwarnings.py)."""

from __future__ import annotations

import math

from sgdcli.options import TrainOptions
from sgdcli.training import farfit, fitgap, fullbatch, safepoints, unscaled
from sgdcli.training.progress import objectives


def under_min_delta(run, kept_epoch: int) -> str | None:
    """The loss early stopping judged ("validation" or "training": ``judged``) where an epoch of ``run`` after its
    kept epoch ``kept_epoch`` had a lower one, by no more than --min-delta: the threshold, not the loss, chose the
    epoch kept; None where none did (no later epoch's was lower: the epoch the loss chose, ``loss_chose``)."""
    name, losses = judged(run)
    return name if any(loss < losses[kept_epoch - 1] for loss in losses[kept_epoch:]) else None


def judged(run) -> tuple[str, list[float]]:
    """The loss early stopping judged in ``run``, "validation" or "training", and its value after each epoch.
    Without validation rows, the training loss judged is the objective's under --l2 or --l1 (progress.objectives)."""
    if "val_loss" in run.history[-1]:
        return "validation", [record["val_loss"] for record in run.history]
    return "training", [float(loss) for loss in objectives(run.history)[0]]


def loss_chose(run, gap: fitgap.Gap | None, kept_epoch: int, epochs: int) -> list[str]:
    """The warning of a run whose kept epoch (``kept_epoch`` of ``epochs``) early stopping chose as no later
    epoch's judged loss was lower, where the fit of its sample measures that model far from the optimum (``gap``;
    not on uneven raw features, which unscaled.judge tells what to change), and, on rows that never helped fit it,
    the model is worse than a fit: with validation rows, the fit of the sample scores them better than the model
    did (one more pass over them); without, or on raw features (whose fit is in units of its own: fitgap.fit_params),
    fits of half the sample score the other half better (``Gap.confirmed``).

    A loss that stops falling far from the optimum is most often the steps' noise: at a constant rate (patience
    counts every epoch there, early_stopping.settled), or under adam, runs kept epochs 7% to 76% above the
    optimum, unwarned, where the defaults --optimizer auto and --schedule cosine cured half of them and bettered
    all (bench/results/2026-12-07-loss-chose.md).  Stopping off would not cure them (it kept a later model,
    further off), nor a longer patience, nor more epochs where it stopped the run (``farfit.told``).  Where the
    validation loss rose as the model overfitted its training rows, the model kept beat the optimum on the rows
    that judge it, and is not told: 30 of 336 such runs were 7% to 34% above the optimum, all silent, where
    validation rows whose labels disagree with the training rows' kept the first epoch, 29% above it, rightly.
    The validation rows decide where there are any: fits of half of a sample of 163 rows scored the other half
    worse than models 7% to 15% above the optimum, which the fit of it beat on the validation rows.

    At a rate given, the same advice, which at a rate given offers --lr auto (farfit.told): at --lr 10 times --lr
    auto's on nearly collinear features, lowering the rate made runs worse, where a full batch, from a fit, cured
    them.

    A signal during the validation pass, after the last epoch, stops this check, not the run: the model is finished
    (safepoints.after_training)."""
    name, losses = judged(run)
    kept, after = losses[kept_epoch - 1], losses[kept_epoch:]
    if gap is None or not gap.far or unscaled.uneven(gap) or len(after) == 0:
        return []
    passed = f", though no later epoch's {name} loss"
    fit = fitgap.fit_params(run) if name == "validation" else None
    if fit is not None:
        stage = "validating the fit of the sample"
        try:
            scored = run.validate(fit, stage, lambda: safepoints.after_training(run.inputs, run.control))["val_loss"]
        except safepoints.CheckStopped as stop:  # after the last epoch: the model is finished, the check is not
            run.reporter.message(f"{stop} after training ended, while {stage}: the check of early stopping's "
                                 f"choice of epoch {kept_epoch} is left undone; the finished model is kept")
            return []
        finally:
            run.reporter.close()  # the pass's bar, which the run's no longer holds (closed as training ended)
        if not scored < kept:
            return []
        # as many digits as tell the figures apart (4 at least; a tie is shown as one)
        shown = [value for value in (min(after), scored) if value != kept]
        digits = next((p for p in range(4, 17) if all(f"{kept:.{p}g}" != f"{v:.{p}g}" for v in shown)), 17)
        later = (f"{min(after):.{digits}g} to {max(after):.{digits}g}" if len(after) > 1 else
                 f"{after[0]:.{digits}g}")
        passed += (f" was lower ({kept:.{digits}g} at epoch {kept_epoch}; {later} after), and the fit's is lower "
                   f"({scored:.{digits}g})")
    elif gap.confirmed:  # (a mini-batch epoch's is the mean over its batches, not the kept model's: no figures)
        passed += " was lower"
    else:
        return []
    return [farfit.told(run, gap, kept_epoch, epochs, passed, stopped=run.stopper.stopped)]


def threshold_chose(run, gap: fitgap.Gap | None, kept_epoch: int, epochs: int, under: str) -> list[str]:
    """The warning of a run whose kept epoch (``kept_epoch`` of ``epochs``) early stopping chose by its threshold,
    a later epoch's ``under`` loss lower by no more than --min-delta (under_min_delta), where the fit of its sample
    measures that model far from the optimum, as fits of half of it confirm (``gap``, with the last epoch's model
    measured too; not on uneven raw features, which unscaled.judge tells what to change).

    Where the last epoch's model is near the optimum, the threshold cost the distance: lower --min-delta (from
    above the default, to it: a tenth of --min-delta 1 still kept the first epoch of most runs that 1 did).  Where
    the last is far as well, what a run far at its end is told (farfit.told): full batches of hinge on nearly
    collinear features kept epoch 19 of 20, 40% above the optimum, as was the 20th.  But that alone cannot help
    where the threshold held the run back: where it stopped it before --epochs, or kept an epoch over
    fullbatch.NEAR above the last (under --min-delta 1, the first, whatever else changes: the far-run advice made 4
    of 12 such runs worse and cured 2), the run is told to lower --min-delta first, then the rest."""
    if gap is None or not gap.confirmed or unscaled.uneven(gap):
        return []
    default = TrainOptions().min_delta
    lower = (f"lower --min-delta ({run.opts.min_delta:g}"
             + (f"; try the default, {default:g}" if run.opts.min_delta > default else "")
             + f"), by more than which no later epoch lowered the {under} loss")
    if math.isnan(gap.last) or fullbatch.near(gap.last, gap.best, gap.floor):
        return [f"{gap.text(kept_epoch, epochs)}: the model may be far from the optimum; {lower}"]
    held = len(run.history) < run.opts.epochs or not fullbatch.near(gap.loss, gap.last, gap.floor)
    return [farfit.told(run, gap, kept_epoch, epochs, f", and so is the last epoch's ({gap.last:.4g})",
                        lower if held else "")]
