"""Whether a run on features that are not standardized ended far from the optimum: a FitWarning where it did.

Gradient descent's progress along a direction is the rate times the loss's
curvature along it, and the rate is capped by the largest curvature.  Raw
features (``--no-standardize``, or an ``--init`` model that was not
standardized, without ``--restandardize``) whose scales differ, or which sit
far from 0, make the curvature uneven: a feature of mean 100 and spread 1
puts nearly all of it along the direction that moves the bias and that
feature's weight together, and the rate sized for it crawls along the
others.  Standardization (each feature's mean and standard deviation,
folded into the model written: nothing is lost by it) makes the curvature
as even as the features' correlations allow.  On raw features offset by 100
or 10,000, or scaled from 0.01 to 100 (bench/unstandardized.py), mini-batch
runs of 5 epochs at the defaults ended 21% to 52% above the optimum of
logistic models and 140% to 400% above that of linear ones, where
standardized runs of the same rows ended within 0.2%; breast cancer's
raw features (0.001 to 4,000) left logistic under ``--l2 1e-3`` at 4.5 times
its optimum.

So at the end of a dense run on raw features, of any model, the kept model
is set against a fit of the run's sample (training/fitgap.py, which fits raw rows
in their own standardized units and measures how uneven they are on the
way).  A model over fullbatch.NEAR above the fit's estimate of the optimum,
on features whose second moments (with the bias's 1) are UNEVEN times as
ill-conditioned as standardized ones or more, is told to standardize them.
A run far from the optimum on features that standardizing would not change
is left to the other warnings (training/fitwarnings.py).
"""

from __future__ import annotations

from sgdcli.training.fitgap import Gap

# How many times as ill-conditioned as the standardized features' the raw features' second moments must be for a
# run far from the optimum to be told that standardizing them is the cure: features all scaled by 3 (this ratio
# 9) trained raw as they did standardized; features scaled from 1 to 10 (95) held a full-batch linear run from 0
# at twice its optimum's loss, where standardized ones ended within 0.2% (bench/results/2026-12-04-
# unstandardized.md).
UNEVEN = 10.0


def uneven(gap: Gap | None) -> bool:
    """Whether ``gap`` (training/fitgap.py) was measured on raw features UNEVEN times as ill-conditioned as
    standardized ones or more."""
    return gap is not None and gap.uneven >= UNEVEN


def judge(run, gap: Gap | None, epochs: int, kept_epoch: int) -> list[str]:
    """The warning of ``run`` (a training/run.py ``Run`` at its end, after ``epochs`` epochs) where it trained on
    raw features that are ``uneven`` and the kept model (from its epoch ``kept_epoch``, 1-based: early stopping's
    best, else the last) is ``far`` by its ``gap``."""
    if not (uneven(gap) and gap.far):
        return []
    raw_features, cure = (("the initial model's (--init) are not", "add --restandardize") if run.init is not None
                          else ("--no-standardize", "drop --no-standardize"))
    return [f"{gap.text(kept_epoch, epochs)}: the features are not standardized ({raw_features}), which leaves the loss's "
            f"curvature {gap.uneven:.3g} times as uneven as on standardized features, and training crawls along its "
            f"flat directions; {cure}"]
