"""The bias's own rate under ``--lr auto`` for sgd, momentum and nesterov, where ``--l2`` slows the weights'.

``--l2`` adds l2 to the curvature of every weight but the bias, so the
rate that keeps the weights' steps stable is 1 / (D + l2), D the loss's
curvature and noise (training/rate.py).  The bias has no penalty: its
curvature is the loss's alone, and at 1 / (D + l2) it crawls where l2 is
large beside D.  Under a large penalty the weights stay near 0, and the
model is then mostly its bias: on 1% positives it stayed near 0, far from
the labels' log-odds, and the run ended at many times the optimum's loss.

So the bias steps at 1 / D, the rate the same run would have without
``--l2``: ``times`` of the weights' rate.  The step stays stable: scaled
by these rates (1 / (D + l2) for the weights, 1 / D for the bias), the
curvature is at most D / D from the loss plus l2 / (D + l2) from the
penalty, under 2, the bound of a stable step; with standardized features,
whose mean is 0, the bias's direction is apart from the weights', and each
is at most 1, the rate's own sizing.  The kernels apply it to the bias's
gradient (kernels/optimizers.py ``step``), which for these update rules,
linear in the gradient, is the same as its rate; halvings, warm starts and
the rate of averaged models scale both rates alike.
"""

from __future__ import annotations


def times(step: float, l2: float, floor: float) -> float:
    """How many times the weights' rate the bias steps at, where ``step`` (the rate times the share of it a
    schedule ends at) is 1 / (D + ``l2``): (D + l2) / D; 1 without --l2.  ``floor``, the curvature bound times
    λmax, is the least D can be, which keeps D from rounding to 0 or below where l2 is huge."""
    if l2 <= 0.0:
        return 1.0
    rest = max(1.0 / step - l2, floor)
    return (rest + l2) / rest


def text(bias_times: float) -> str:
    """What the rate's log line adds for the bias: its rate, where it differs from the weights' as the line
    shows them (a --l2 tiny beside the loss's curvature leaves a factor that prints as 1)."""
    if f"{bias_times:.4g}" == "1":
        return ""
    return (f"; the bias, which --l2 does not penalize, steps at {bias_times:.4g} times the weights' rate, the rate "
            "without --l2's curvature")
