"""What a run that blew up is told: the step's rate, and what to change (a smaller --lr, standardized features,
a larger batch, --lr auto; or, where the penalty alone overshoots zero, --l2 and --lr together)."""

from __future__ import annotations

from sgdcli.errors import DivergedError


def rate_advice(lr: float, standardized: bool, larger_batch: bool = False, lr_auto: bool = False) -> str:
    """What a message about training that blew up at the rate ``lr`` tells to try: a tenth of that rate,
    standardized features where they were not, a larger batch (``larger_batch``: where a batch's noise can be
    the cause) and, where the rate was an explicit --lr (``lr_auto``), the rate --lr auto chooses."""
    tries = ([f"a smaller --lr (e.g. {lr / 10:.4g})"]
             + ([] if standardized else ["standardized features (--standardize)"])
             + (["a larger --batch-size"] if larger_batch else []) + (["--lr auto"] if lr_auto else []))
    return "try " + (", ".join(tries[:-1]) + ", or " if len(tries) > 1 else "") + tries[-1]


def diverged(what: str, rate: float, given: float, l2: float, standardized: bool, larger_batch: bool = False,
             lr_auto: bool = False) -> DivergedError:
    """The error of training that blew up: ``what`` happened, then what to change: where the rate ``rate``
    times ``l2`` is over 1, that (``penalty_advice``), else ``rate_advice`` in values of ``given``, the --lr
    that made the rate.  Its ``advises_lr_auto`` says whether the advice ends with trying --lr auto, whose
    rate training/runrate.py ``advised`` adds."""
    penalty = penalty_advice(rate, l2)
    exc = DivergedError(what + (penalty or rate_advice(given, standardized, larger_batch, lr_auto)))
    exc.advises_lr_auto = penalty is None and lr_auto
    return exc


def penalty_advice(lr: float, l2: float) -> str | None:
    """What a blow-up message says where the rate times --l2 is over 1 (a step multiplies the weights by
    1 - lr·l2 besides the data's gradient, so the penalty alone overshoots zero), else None."""
    penalty = l2 * lr
    if penalty <= 1:
        return None
    return (f"the rate times --l2 is {penalty:.3g}, over 1, so the penalty's pull alone overshoots zero at each "
            "step: lower --l2 or --lr until their product is well under 1")


def scaled_from(lr: float, lr_scale: float) -> str:
    """Where --lr-scaling made the rate ``lr`` (before the schedule) of another --lr, ``lr_scale`` times it:
    "--lr X scaled by --lr-scaling", the --lr that a divergence's message advises values of; else ""."""
    return f"--lr {lr / lr_scale:.4g} scaled by --lr-scaling" if lr_scale != 1 else ""
