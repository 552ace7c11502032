"""The size of the weights that ``--lr auto``'s adaptive optimizers seek for logistic and softmax, from a fit of
the rate's sample (training/rate.py).

Adam, rmsprop and adagrad step each weight by about the rate, so their rate is the size of the weights sought
(rate.py), which for classifiers on standardized features it takes to be 1: about that of noisy labels' optimum
(the weights' root mean square is 0.6 for ``sgdcli generate --noise 1``), where ``ADAPTIVE`` was measured.
Nearly separable rows' optimum lies much further out, its weights growing as the labels' noise shrinks (10
times as large at ``--noise 0.1``), and at the rate for weights of size 1 the runs ended far from it: adagrad,
whose steps shrink by themselves, farthest, then rmsprop, then adam (the figures are in
bench/results/2026-12-02-adaptive-lownoise.md).

A full-batch run that starts at that fit (training/start.py) has only the rest of the way to go, from the
sample's optimum to that of all the rows, and at the rate for weights of the fit's size its first steps, each
about the rate on every weight whatever the gradient, threw it off the fit: 5 epochs ended 33% and 57% above
the optimum (adam, softmax on 3 and 6 nearly separable classes), 16% and 42% (rmsprop, adagrad; logistic on
2% positives of strong features).  At the rate for size 1 they ended within 2.6% everywhere measured
(bench/results/2026-12-04-adaptive-from-fit.md), and that is their rate: no fit is measured for it.

So elsewhere, where the Newton fit of training/gradientnoise.py exists (dense rows, logistic and softmax, up to
FIT_UP_TO weights, and room for it in ``--memory``), the size is the root mean square of the fitted weights
(softmax's centred across the classes, the weights a model that starts at 0 travels to; the bias's aside, as
training/start.py starts it where the labels put it), and the rate is that many times the rate for size 1
where the size is over 1.  Below 1 the rate stays as it was: it was measured there, and smaller rates did not
end measurably nearer noisy labels' optimum.

A larger step also moves the weights further each time, noise and all.  A schedule that decays (cosine,
invscaling) takes that noise out by the end of the run; one that does not (constant, step) keeps it, so there
adam's and rmsprop's rate rises no further than the REACH rule's bound on that noise, REACH / (norm1 ·
√updates) (rate.adaptive_width; rmsprop's rate for size 1 is below it on narrow rows, adam's is at it), which
left them as near the optimum as the rate that reaches it or nearer.  Adagrad's own steps decay whatever the
schedule.

Adagrad divides each step by the root of the sum of all the squared gradients since the start, not of the
recent ones as adam and rmsprop do, and the early gradients, of a model that knows nothing, dominate that sum:
near a fit of nearly separable rows, where most rows sit at p near y, its steps are smaller than the rate by
about the root of the gradient's mean square there over the start's.  That quiet is the share of the rate's
worst-case noise term that gradientnoise.measure reads off the held-out rows (times NOISY: its own scale, at
most 1), so adagrad's size is the weights' root mean square over its root, and at most 1 / ADAPTIVE times it:
adagrad's first step moves each weight by the rate whole (its sum of squares is that step's own square), so a
rate of the fitted weights' size reaches them from the first steps on, however quiet the gradient there.  On
separable rows the quiet at the fit is its ridge's (classifierfit.RIDGE), not the data's, near 0, and the
division alone took the rate, and the weights trained, hundreds of times past the fit's.
"""

from __future__ import annotations

import math

import numpy as np

from sgdcli.training import classifierfit, gradientnoise
from sgdcli.training.sampling import Sample, room

# Per-weight step of the adaptive optimizers, for features and labels of unit scale: the best of 0.001, 0.01 and
# 0.1 over the three datasets of bench/defaults.py with the default cosine schedule (training/rate.py).
ADAPTIVE = {"adam": 0.1, "rmsprop": 0.01, "adagrad": 0.1}


def measure(drawn: Sample, Z: np.ndarray | None, model: str, labels: np.ndarray, weights: np.ndarray | None,
            l2: float, optimizer: str, by_weight: bool = False) -> tuple[float, str]:
    """The size of ``model``'s weights fitted to the sample ``drawn``, whose rows as the model sees them are ``Z``
    (rate.sample's, which this leaves as they are; None: sparse rows), its ``labels``, each row weighing
    ``weights``, under ``l2``, in steps of ``optimizer``: their root mean square, for adagrad over the root of
    the gradient's quiet at the fit, at most 1 / ADAPTIVE times it (``by_weight``: rows drawn by weight); NaN
    where there is no fit; and why a fit was skipped for want of memory ('' where it was not)."""
    if Z is None or model not in classifierfit.MODELS:
        return math.nan, ""
    unfitted = classifierfit.skipped(model, Z, labels, weights, room(drawn))
    W = None if unfitted else gradientnoise.fit_weights(model, Z, labels, weights, l2)
    if W is not None:  # the fit leaves exactly 0 the weights of columns 0 on every sampled row (a constant
        W = W[(W != 0).any(axis=1)]  # feature, standardized): training never moves them either
    size = float(np.sqrt(np.mean(W**2))) if W is not None and W.size else math.nan
    if optimizer == "adagrad" and W is not None:  # the noise term's share at the fit, back to its own scale
        quiet = gradientnoise.measure(model, Z, labels, weights, l2, by_weight)[0]
        size /= math.sqrt(min(1.0, max(quiet * gradientnoise.NOISY, ADAPTIVE[optimizer] ** 2)))  # rate ≤ size
    return (size if math.isfinite(size) else math.nan), unfitted


def raised(size: float, most: float) -> float:
    """What the adaptive rate for weights of size 1 is multiplied by for weights of ``size`` (NaN: not measured),
    up to ``most``: the size where it is over 1, else 1."""
    return min(size, max(most, 1.0)) if size > 1.0 else 1.0


def why(size: float, by: float, optimizer: str, from_fit: bool = False) -> str:
    """The part of the rate's reason that the weights' size adds (``from_fit``: none, as the run starts at the
    fit)."""
    if from_fit:
        return ("; not raised to the size of the weights fitted to the sample: the run starts at that fit, and its "
                "steps go only the rest of the way")
    if by == 1.0:
        return ""
    size_text = ("the root mean square of the weights fitted to the sample" + (
        f" over the root of the gradient's quiet there, at most {1 / ADAPTIVE[optimizer]:g} times it" if (
            optimizer == "adagrad") else ""))
    return f" × {by:.4g}, " + (size_text if by == size else f"{size_text}, {size:.4g}, as far as the noise of a "
                               "schedule that does not decay allows")
