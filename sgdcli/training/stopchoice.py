"""Early stopping's choice of the epoch kept, judged against the fit of the run's sample (training/fitgap.py):
the end's warnings about it (training/fitwarnings.py)."""

from __future__ import annotations

import math

from sgdcli.options import TrainOptions
from sgdcli.training import farfit, fitgap, fullbatch, unscaled
from sgdcli.training.progress import objectives


def under_min_delta(run, kept_epoch: int) -> str | None:
    """The loss early stopping judged ("validation" or "training") where an epoch of ``run`` after its kept epoch
    ``kept_epoch`` had a lower one, by no more than --min-delta: the threshold, not the loss, chose the epoch
    kept; None where none did (the loss rose after it: the epoch the loss chose).  Without validation rows, the
    training loss judged is the objective's under --l2 or --l1 (progress.objectives)."""
    validated = "val_loss" in run.history[-1]
    losses = [record["val_loss"] for record in run.history] if validated else objectives(run.history)[0]
    if not any(loss < losses[kept_epoch - 1] for loss in losses[kept_epoch:]):
        return None
    return "validation" if validated else "training"


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
