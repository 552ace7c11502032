"""``--lr auto`` under the cosine schedule where logistic's or softmax's rows are nearly separable: the rate that
balances the distance the weights travel against the gradient's noise over the run (training/rate.py).

The cosine's rate is the curvature's, with the noise term counted once:
1 / (c · (λmax + trace / B') + l2).  That worst case sizes the steps for the
start, where a classifier knows nothing and every row's gradient is as large
as c allows.  Where the labels have little noise the optimum is far (the
weights' norm grows as the noise shrinks) and flat, and the gradient near it
quiet, so the worst case's rate ends the run short of it, where a few times
that rate gets there (bench/results/2026-12-02-cosine-lownoise.md).

Against a distance D to travel and a gradient whose noise is σ² a row, T
steps of B rows are best taken at the classic rate of stochastic
approximation, D · √B / (σ · √T): a larger one leaves more noise in the
weights than the schedule's end takes out, a smaller one stops short.
Momentum's steps go 1/(1 − β) further, so its rate is (1 − β) times that.
D and σ² come from the fit of the sample that training/gradientnoise.py
makes: the fitted weights' norm, and the mean of v·‖ℓ'‖²·‖z‖² over the rows
each half's fit did not see (v, a row's weight, is drawn that often:
engine/resample.py; a row that weighs nothing counts as a row of no noise).
BALANCE is the constant that the best of a grid of rates measured on nearly
separable problems follows.

A warm start (``--init``) begins near a fit already, and keeps the worst
case's rate (times its share of new rows: training/rate.py).  The rate is
raised to the balance and never lowered: where the labels are noisy the
optimum is near and its noise loud, the balance falls below the worst case's
rate, and that stays.  Nor is it raised above 1/L, 1 / (c · λmax + l2), the
stable step of the start, where every row's curvature is at its bound.  Large
batches of nearly separable rows would take more than that in a short run,
which is not safe to give them without knowing the start is past: a run that
1/L holds far below the balance says so at its end (``short``), with what
takes it the rest of the way: more epochs (the balance falls as one over the
root of the updates), a smaller batch (and as the batch), or ``--l2`` (whose
optimum is nearer).
"""

from __future__ import annotations

import math

from sgdcli.reporting.reporter import counted
from sgdcli.training.gradientnoise import Fit

# The multiple of D · √B / (σ · √T) (momentum's × (1 − β)) that the best of a grid of rates follows on the nearly
# separable problems of bench/constant_noise.py, at 5 and 20 epochs and batches of 1 to 256 rows.
BALANCE = 1.5
# The balance this many times the rate 1/L held it at: a run that ends far from the optimum, said at its end.  The
# best rates measured were 0.5 to 1.3 times BALANCE's, so a balance less far above 1/L may be BALANCE's own error.
SHORT = 3.0


def balanced(fit: Fit, batch: int, updates: int, momentum: float | None) -> float:
    """The rate that balances ``fit``'s distance against its gradient's noise over ``updates`` steps of ``batch``
    rows (momentum ``momentum``'s β, None for sgd), before 1/L holds it (training/rate.py); NaN where the fit was
    not measured."""
    if not (fit.distance > 0 and fit.noise > 0):
        return math.nan
    return BALANCE * (1.0 - (momentum or 0.0)) * fit.distance * math.sqrt(batch / (fit.noise * max(updates, 1)))


def why(auto, batch: int) -> str:
    """The log's reason for the rate of ``auto`` (a training/rate.py AutoRate) where ``balanced`` raised it."""
    steps = f"(1 − {auto.momentum:g}) × " if auto.momentum is not None else ""
    formula = f"{BALANCE:g} × {steps}{auto.distance:.4g} × √({batch} / ({auto.fit_noise:.4g} × {auto.updates}))"
    reason = ("the distance to a fit of the sample (its weights' norm) × √(batch / (its gradient's noise per row × "
              "the run's updates)), which balances the two where the labels have little noise")
    if auto.lr >= auto.balanced:
        return f"{formula}: {reason}"
    return (f"1 / ({auto.curvature:.4g} × {auto.lambda_max:.4g}" + (f" + {auto.l2:g}" if auto.l2 else "")
            + f"): 1/L, the stable step of the start, below {auto.balanced:.4g} = {formula}, {reason}")


def short(auto, epochs: int, batch: int, halvings: int = 0) -> list[str]:
    """The warning of a run whose rate 1/L held at under 1/SHORT of the balance (``auto``: a training/rate.py
    AutoRate, or None; ``halvings``: of that rate after blow-ups, which the run trained at), with the epochs at
    which the balance, which falls as one over √updates, is the rate trained at; a smaller batch where ``batch``
    is over 1 row, and more --l2 where the run has some (``auto.l2``)."""
    lr = auto.lr / 2**halvings if auto is not None else math.nan
    if auto is None or not auto.balanced > SHORT * lr:
        return []
    ratio = auto.balanced / lr
    rate = (f"the largest stable step, {lr:.4g}, which --lr auto trains at" if not halvings else
            f"the rate --lr auto trains at, {lr:.4g}, the largest stable step {auto.lr:.4g} halved "
            f"{counted(halvings, 'time')} after blow-ups")
    other = (", or use --optimizer nesterov, whose steps at a rate go 1/(1 − --momentum) times as far"
             if auto.momentum is None else "")  # sgd: 1/L caps momentum's rate too, which its balance is (1 − β) of
    return [f"the rows are nearly separable: the rate that would reach the optimum in this run, {auto.balanced:.4g}, "
            f"is {ratio:.3g} times {rate}: the model may be far from the optimum; raise --epochs (to about "
            f"{math.ceil(epochs * ratio**2)})" + (", lower --batch-size" if batch > 1 else "")
            + f" or {'raise' if auto.l2 > 0 else 'add'} --l2{other}"]
