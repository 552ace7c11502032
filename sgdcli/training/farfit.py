"""What a run is told where the fit of its sample measures the model it keeps far from the optimum (training/
fitgap.py), and what a run of few updates is told to change: the end's warnings (training/fitwarnings.py), and
early stopping's choice judged (training/stopchoice.py)."""

from __future__ import annotations

from sgdcli.options import MOMENTUM_OPTIMIZERS, TrainOptions
from sgdcli.training import fitgap, replicas, runrate, start

# An explicit --lr, or --lr auto's rate after its halvings, under this fraction of --lr auto's leaves so little of
# the batches' noise in the epochs' mean losses that their fall is progress, measured as for a full batch.
SLOW_RATE = 1 / 30
# The condition number of the second moments of the sample's standardized rows from which a run the fit of its
# sample measures far from the optimum is told that its features are nearly collinear: steps sized for the
# steepest direction take about that many to cross the flattest, where standardized features that are not
# correlated give a few at most.
COLLINEAR = 1e3
# A rate given this many times --lr auto's or more, or as far under, is told to use --lr auto where the fit of the
# sample finds the run far (``given_rate``): at 10 times, that cured runs whose features are not collinear,
# where lowering the rate to 0.3 times made 69 of 99 far runs worse; at --lr auto's own rate, it is that run again.
ABOVE_AUTO = 2


def told(run, gap: fitgap.Gap, kept_epoch: int = 0, epochs: int = 0, passed: str = "", first: str = "",
         stopped: bool = False) -> str:
    """The warning of a run that the fit of its sample measures far from the optimum
    (``gap``; of the epoch early stopping kept, ``kept_epoch`` of ``epochs``, where it is not the last, ``passed``,
    what of the epochs after it, and ``first``, what to change before the rest: stopchoice.py), where no other
    warning told of it: its figures, why where its features are nearly collinear (COLLINEAR), and what to change,
    first what cured such runs in one step: where a fresh full batch would start at a fit of its sample
    (training/start.py ``fits``), that, with the default optimizer (it cured every one of 759 runs at --lr auto
    it was offered to, on 2,000 to 100,000 rows, where the default optimizer cured 305: it needs about as many
    updates as the condition number of the features, bench/results/2026-12-07-far-advice-order.md); under an
    --optimizer other than momentum and nesterov, the defaults (the schedule alone cured 11 of 68 such runs, and
    left 22 further off: bench/results/2026-12-07-far-advice.md; not the optimizer that --init-optimizer carries
    on); under another --schedule, the default cosine, whose small last steps keep little of the batches' noise;
    then more updates (of a full batch, first).
    Where early stopping ``stopped`` the run (its patience ran out, on the last epoch too), and something else is
    offered, more epochs are not: it would stop them as well (three times the epochs cured 1 of 14 such runs:
    stopchoice.loss_chose).

    At a rate given (bench/results/2026-12-07-given-rate.md), the full batch with --lr auto (it cured every
    one of 86 mini-batch runs far from the optimum at 0.05 to 10 times --lr auto's rate that it was offered to;
    the defaults first, at the rate given, cured 35 of 85 and threw 8 into a blow-up, 7 of the 40 under adam),
    and the defaults with --lr auto; under auto, momentum or nesterov, where the features are not nearly
    collinear, --lr auto itself where the rate is ABOVE_AUTO times --lr auto's or more, or as far under
    (``given_rate``: on nearly collinear features, 16 of 24 runs at 3 and 10 times it ended further off)."""
    why = (". The features are nearly collinear (the second moments of the sample's standardized rows have a "
           f"condition number of {gap.condition:.3g}), and steps sized for the steepest direction crawl along the "
           "flattest" if gap.condition >= COLLINEAR else "")
    full = run.init is None and not replicas.full_batch(run.batch, run.n_train, run.shards) and start.fits(
        run.opts.model, run.sample, run.labels.class_of, max(run.labels.n_outputs, 2), run.sample_weights_of,
        run.opts.l1)
    defaults = TrainOptions()
    # a rule other than momentum's and nesterov's, but the --init model's that --init-optimizer carries on
    plain = run.opts.optimizer not in (defaults.optimizer, *MOMENTUM_OPTIMIZERS) and not run.opts.init_optimizer
    cosine = run.opts.schedule == defaults.schedule
    given = run.auto is None  # a rate given
    change = []
    if plain:
        rules = [f"--optimizer {defaults.optimizer}"] + ([f"--schedule {defaults.schedule}"] if not cosine else []) \
            + ([f"--lr {defaults.lr}"] if given else [])
        change.append(f"use the default {rules[0]}" if len(rules) == 1 else
                      f"use the defaults {', '.join(rules[:-1])} and {rules[-1]}")
    elif not cosine:
        change.append(f"use the default --schedule {defaults.schedule}, whose last steps are small")
    if full:  # first, with the default optimizer (keeping rmsprop, a full batch cured 1 of 7)
        change.insert(0, "use --batch-size full"
                      + (f" with --lr {defaults.lr}" if given else "")
                      + (f"{' and' if given else ' with'} the default --optimizer" if plain else "")
                      + " (it starts at a fit of its sample)")
    rate = given_rate(run) if not (plain or gap.condition >= COLLINEAR) else ""
    change += [rate] if rate else []
    told_rate = bool(rate) or (plain and given)  # (the defaults above come with --lr auto)
    # a full batch's updates first: changes of the optimizer or the schedule barely moved full batches on nearly
    # collinear features (more_updates)
    whole = replicas.full_batch(run.batch, run.n_train, run.shards)
    more = ([more_updates(run, rate=not told_rate)] if not (stopped and change) else
            ["lower --batch-size"] if whole and run.batch > 1 else [])
    advice = [*more, *change] if whole else [*change, *more]
    return (f"{gap.text(kept_epoch, epochs)}: the model may be far from the optimum{passed}{why}; "
            + (f"{first}, and " if first else "") + ", or ".join(advice))


def given_rate(run) -> str:
    """What a run at a rate given is told of it where the fit of its sample finds the run far: to use --lr auto, where
    the rate is ABOVE_AUTO times --lr auto's or more, or as far under; "" where it is nearer (at --lr auto's own,
    given, the run is --lr auto's again) or --lr auto's own."""
    if run.auto is not None:
        return ""
    auto, given = runrate.compared(run).lr, TrainOptions().lr
    times = run.lr / auto
    if 1 / ABOVE_AUTO < times < ABOVE_AUTO:
        return ""
    used = (f"the rate given, {run.lr:.4g}," if run.lr == run.rate_opts.lr else
            f"--lr {run.rate_opts.lr:g} after --lr-scaling {run.opts.lr_scaling}, a rate of {run.lr:.4g},")
    than = f"{times:.3g} times the" if times > 1 else f"{1 / times:.3g} times smaller than the"
    return f"use --lr {given} ({used} is {than} {auto:.4g} that --lr {given} chooses here)"


def more_updates(run, rate: bool = True) -> str:
    """What a run of few updates is told to change: --epochs, or --batch-size lower; a full batch, --batch-size first
    (full batches of hinge on nearly collinear features needed a hundred times the epochs, where batches of 256 or
    the default cured them at once, and told "raise --epochs" first, 3 times the epochs barely moved them:
    bench/results/2026-12-07-early-stopping-threshold.md); and first --lr where an explicit rate (not a full batch's)
    is under SLOW_RATE times --lr auto's (--lr 1e-6 was told only to raise --epochs), but where ``rate`` is False:
    the rate was told of already (``given_rate``, or the defaults with --lr auto: ``told``)."""
    batch = " or lower --batch-size" if run.batch > 1 else ""
    if replicas.full_batch(run.batch, run.n_train, run.shards):
        return "lower --batch-size or raise --epochs" if batch else "raise --epochs"
    if run.auto is not None or not rate:
        return f"raise --epochs{batch}"
    auto = runrate.compared(run).lr
    if not run.lr < SLOW_RATE * auto:
        return f"raise --epochs{batch}"
    return f"raise --lr ({against_auto(run, run.lr, auto)}) or --epochs" + (f",{batch}" if batch else "")


def against_auto(run, used: float, auto: float) -> str:
    """The rate ``used`` (the --lr given, where that is it after --lr-scaling) against --lr auto's ``auto``."""
    given = f" (--lr {run.rate_opts.lr:g} after --lr-scaling {run.opts.lr_scaling})" if used != run.rate_opts.lr else ""
    return (f"a rate of {used:.4g}{given}, {auto / used:.3g} times smaller than the {auto:.4g} that --lr auto chooses "
            "here")
