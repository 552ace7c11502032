"""The rate a training run steps at: ``--lr``, or ``--lr auto``'s measured on the run's sample, scaled by
``--lr-scaling``; and, where ``--lr auto``'s blew up, the halved rate the run starts over at.

What the rate needs of the data is measured at set-up, while the run's
sample (training/sampling.py) is held (``measure``): ``--lr auto``'s rate
(training/rate.py), held where averaged models' local steps could not take
it (replicas.py); under ``--lr-scaling replicas``, the rate those local
steps can take.  Each is kept as an AutoRate, a few numbers, not the rows,
which the epochs' share of ``--memory`` lets go of.

With an explicit ``--lr``, the end of the run compares it with the rate
``--lr auto`` would give (fitwarnings._still_falling; ``compared``).  Where
the set-up read the sample for another measure, that rate is measured then
too; else at the end, where a warning needs it, once: the sample is never
read twice, nor for a warning that is not looked for.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from sgdcli.errors import DivergedError, first_line
from sgdcli.kernels.state import KernelConfig, kernel_config
from sgdcli.options import TrainOptions
from sgdcli.training import replicas
from sgdcli.training.autooptimizer import densified, lazy_momentum
from sgdcli.training.rate import ADAPTIVE, MAX_HALVINGS, AutoRate, auto_rate


@dataclasses.dataclass(frozen=True)
class Measured:
    """What a run's set-up measures of its rate on the sample (``measure``)."""

    auto: AutoRate | None = None  # --lr auto: the rate it trains at, before halvings (None: an explicit --lr)
    held: replicas.Held | None = None  # --lr auto, averaged replicas: how their rate was held
    stable: float | None = None  # --lr-scaling replicas: the rate the models' local steps can take, its limit
    # an explicit --lr: --lr auto's rate here, which the end of the run compares --lr with (``compared``), where
    # the set-up read the sample anyway; None where it did not, or for a full batch, whose losses are exact and
    # judged at any rate (fitwarnings.py)
    compared: AutoRate | None = None


def measure(run, center: np.ndarray, scale: np.ndarray) -> Measured:
    """The rates of ``Measured`` for ``run`` (a training/run.py ``Run`` being set up, before it lets go of its
    sample), whose standardization is ``center`` and ``scale``."""
    if run.opts.lr == "auto":
        return Measured(*averaged_auto(run, center, scale))
    full = replicas.full_batch(run.batch, run.n_train, run.shards)
    capped = run.shards > 1 and run.opts.lr_scaling == "replicas"
    if (full or not run.sample.held()) and not capped:
        return Measured()
    cold = averaged_auto(run, center, scale, warm=False)[0]
    return Measured(stable=cold.lr if capped else None, compared=None if full else _warm(run, cold))


def compared(run) -> AutoRate:
    """The rate --lr auto would give ``run``, at an explicit --lr: measured at set-up where its sample was read
    (``measure``; not for a full batch), else now, and kept."""
    if run.measured.compared is None:  # (kept: the end's warnings may ask more than once)
        run.measured = dataclasses.replace(run.measured, compared=averaged_auto(run, run.plan.center,
                                                                                 run.plan.scale)[0])
    return run.measured.compared


def averaged_auto(run, center: np.ndarray, scale: np.ndarray,
                  warm: bool = True) -> tuple[AutoRate, replicas.Held | None]:
    """The rate --lr auto gives ``run``, whose standardization is ``center`` and ``scale`` (``warm``: scaled for
    --init's rows), and where averaged replicas' rate was held below the rate for all their rows, how: their
    rate is that of their local steps (replicas.py), no scaling on top."""
    opts = run.opts
    # the share of the rate a schedule that does not decay to small steps ends at (its last epoch's)
    ends_at = {"constant": 1.0,
               "step": opts.gamma ** (max(opts.epochs - 1, 0) // opts.step_epochs)}.get(opts.schedule)

    def rate_for(rows: int) -> AutoRate:  # the adaptive optimizers' does not depend on the batch: measured once
        return measured(run.batch if opts.optimizer in ADAPTIVE else rows)

    @functools.cache
    def measured(rows: int) -> AutoRate:
        return auto_rate(run.sample, opts.model, center, scale, rows, opts.optimizer, opts.momentum,
                         run.kernel_loss, run.sample_weights_of, opts.memory, run.bias_start,
                         updates=max(1, run.steps * opts.epochs), l2=opts.l2, ends_at=ends_at,
                         full=replicas.full_batch(run.batch, run.n_train, run.shards), by_weight=run.drawn,
                         cosine=opts.schedule == "cosine" and run.init is None,  # (--init starts near a fit)
                         from_fit=run.start_fitted)

    auto, held = replicas.averaged_rate(rate_for, run.batch, run.shards, run.local_steps)
    return (_warm(run, auto) if warm else auto), held


def _warm(run, auto: AutoRate) -> AutoRate:
    """``auto`` for ``run``'s rows: scaled for --init's, which the initial model learned from already."""
    return auto if run.init is None else auto.warm(run.init.rows_seen(), run.n_train)


def rates(run, halvings: int) -> tuple[TrainOptions, float, KernelConfig]:
    """The options with the rate ``--lr`` or ``--lr auto`` gives ``run`` (halved ``halvings`` times), the rate
    its kernels step at (after --lr-scaling), and their settings."""
    opts = run.opts
    if run.auto is not None:
        opts = dataclasses.replace(opts, lr=run.auto.lr / 2**halvings, lr_scaling="none")
    lr = opts.scaled_lr(run.batch, run.shards)
    stable = run.measured.stable
    if stable is not None:  # × the replicas only as far as their local steps stay stable (replicas.py)
        lr = min(lr, max(opts.lr, stable))
    used = dataclasses.replace(opts, lr=lr, lr_scaling="none")
    cfg = kernel_config(used, run.batch, run.executor.kernel_threads, run.steps * opts.epochs,
                        replicas=run.shards, sparse=run.table.sparse and not densified(run.table, opts),
                        class_weights=run.weighting.kernel_class_weights(), clock=run.clock,
                        bias_times=1.0 if run.auto is None else run.auto.bias_times,
                        lazy_momentum=lazy_momentum(run.table, opts),
                        full_batch=replicas.full_batch(run.batch, run.n_train, run.shards))
    return opts, lr, cfg


def halved(run) -> int | None:
    """--lr auto after a blow-up of ``run``: the halvings of its rate to train at from the start; None where that
    is not the case (an explicit --lr, or the rate halved too often already).

    From the start, not from the epoch that blew up: a rate that let the
    loss grow without bound for an epoch before it overflowed left
    nothing worth keeping.
    """
    halvings = run.pos.lr_halvings + 1
    return None if run.auto is None or halvings > MAX_HALVINGS else halvings


def advised(run, exc: DivergedError) -> DivergedError:
    """``exc``, of a run at an explicit --lr, with the rate --lr auto would give it (``compared``) after the
    advice to try --lr auto: a tenth of a rate that blew up can blow up too (--lr 100, 10 and 1 on labels about
    1,000,000, where --lr auto chooses 0.22), and on raw features by far."""
    if run.auto is not None or not exc.advises_lr_auto:
        return exc
    told = DivergedError(f"{exc} ({compared(run).lr:.4g} here)")
    told.lr = exc.lr
    return told


def restarted(exc: DivergedError, lr: float) -> str:
    """What a run says as it starts over at the rate ``lr`` after the blow-up ``exc``."""
    return f"--lr auto: {first_line(exc).split(';')[0]}; starting over from epoch 1 at half the rate, {lr:.4g}"
