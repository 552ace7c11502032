"""The rate of models trained apart and averaged (the threads of --parallel average, the workers of --dask).

Each of R models takes K local steps on its own batches of B rows between
two averagings (parallel/averaging.py).  Where K is 1 and the update is
linear in the gradient (sgd, momentum, nesterov), averaging R models that
each took one step is one step on the mean gradient of all R·B rows, so
``--lr auto``'s rate for R·B rows is the rate of that step (for momentum and
nesterov on full shares, nearly: each share drops its velocity where it
points uphill of that share's own gradient, kernels/optimizers.py
``_uphill``, and the shares need not agree).  Where K is
larger, every local step is a step on B rows, with the noise of B rows;
averaging R models once a round does not make their steps a batch of R·B.
A rate sized for R·B rows, up to R times the one for B rows, then made the
local steps of batch 1 blow up from 4 models on, and an explicit rate
scaled R times (``--lr-scaling replicas``) from 2 models on
(bench/results/2026-12-02-average-rates.md).

``--lr auto``'s rate for B rows is about 1/L for the bound L it puts on the
curvature of a step on B rows, noise included, and a step is stable up to
about 2/L: one model at batch 1 trained at twice that rate and diverged at
four times it.  So the rate of models that take several local steps is the
rate for R·B rows held at STABLE_MARGIN times the rate for B rows, which
keeps what averaging gains where the loss's curvature bound is loose (it was
on the logistic problems measured) and never goes where one model's steps
blow up.  An explicit ``--lr`` under ``--lr-scaling replicas`` grows R-fold
only as far as that rate (and is never cut below ``--lr`` itself).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

from sgdcli.data import shuffle
from sgdcli.reporting.reporter import batch_words, counted
from sgdcli.training.rate import AutoRate

STABLE_MARGIN = 2.0  # a step is stable up to about twice the rate --lr auto sizes it for


@dataclasses.dataclass(frozen=True)
class Held:
    """Where the rate for all R·B rows of a round was more than the local steps can take."""

    joint: float  # --lr auto's rate for the R·B rows of one step of every model
    local: AutoRate  # --lr auto's rate for the B rows of one model's step
    # whether the joint rate was the balance of distance and noise (training/decayingrate.py), which the noise of
    # R·B rows raises and is no step's stability bound, rather than the curvature's rate
    balanced: bool = False


def share_rows(n_train: int, shards: int) -> int:
    """The most training rows one of ``shards`` models gets in an epoch of ``n_train`` training rows: the shares
    are cut equal (±1) in the rows trained, neither held out nor left out by --bad-rows skip
    (parallel/averaging.py).  (Cut by the rows not held out, a share took the rows of whichever windows the
    bad rows were not in: more steps than announced and scheduled, the last at a cosine schedule's rate 0.)"""
    return n_train if shards == 1 else math.ceil(n_train / shards)


def batch_text(run) -> str:
    """The batch of ``run`` (a training/run.py Run) as its lines say it (reporting/reporter.py ``batch_words``)."""
    unit = "thread" if run.opts.parallel == "average" else "worker"
    return batch_words(run.batch, share_rows(run.n_train, run.shards) if run.shards > 1 else None, unit)


def full_batch(batch: int, n_train: int, shards: int) -> bool:
    """Whether each step is on every training row of its model's share: a full batch, whose gradient has no
    noise, and whose first epoch's loss is the loss at the start."""
    return batch >= share_rows(n_train, shards)


def share_steps(n_train: int, batch: int, shards: int, drop_last: bool) -> int:
    """The steps the largest share of ``shards`` models takes in an epoch (``share_rows``) at ``batch`` rows a
    step: what the step clock, which the schedule's horizon counts, advances by in an epoch (it becomes the
    furthest any model got at each averaging)."""
    return _steps(share_rows(n_train, shards), batch, drop_last)


def epoch_steps(n_train: int, batch: int, shards: int, drop_last: bool) -> int:
    """A run's iterations per epoch: the steps of every model's share (``shuffle.shares``) summed, each share's
    rows in whole batches of its own.  Up to ``shards`` − 1 fewer than ``shards`` × ``share_steps``, which a
    run announced where the shares' steps differ (129 rows at batch 32 on 2 threads: shares of 65 and 64 rows,
    3 + 2 steps, announced 6), so the bar of every epoch ended short of its total."""
    return sum(_steps(rows, batch, drop_last) for rows in shuffle.shares(n_train, shards))


def shares_text(n_train: int, batch: int, shards: int, drop_last: bool) -> str:
    """How an epoch's training rows are shared out, for --verbose: the shares' rows and steps, the iterations of
    an epoch (``epoch_steps``) and the step clock's advance (``share_steps``)."""
    rows = shuffle.shares(n_train, shards)
    steps = [_steps(r, batch, drop_last) for r in rows]

    def span(values: list[int], noun: str) -> str:  # "1 row", "0 to 1 rows"
        low, high = min(values), max(values)
        return counted(low, noun) if low == high else f"{low} to {high} {noun}s"

    return (f"shares: an epoch's {counted(n_train, 'training row')} {'is' if n_train == 1 else 'are'} cut into "
            f"{shards} shares of {span(rows, 'row')}, one per model, which take {span(steps, 'step')} of "
            f"{batch_words(batch, max(rows), 'model')} each "
            + ("(a last, partial batch dropped: --drop-last)" if drop_last
               else "(a last, partial batch a step of its own)")
            + f": {counted(sum(steps), 'iteration')} an epoch; the step clock the schedule counts advances by "
            f"the largest share's {max(steps)}")


def _steps(rows: int, batch: int, drop_last: bool) -> int:
    """The steps of ``rows`` rows at ``batch`` rows a step: the last one partial, or dropped with --drop-last."""
    return rows // batch if drop_last else -(-rows // batch)


def local_steps(sync_every: int | None, steps: int) -> int:
    """The steps each model takes between two averagings: ``sync_every`` (--sync-every, or its default), at
    most the ``steps`` of its share of an epoch (an epoch ends with an averaging)."""
    return min(sync_every or steps, steps)


def averaged_rate(rate_for: Callable[[int], AutoRate], batch: int, replicas: int,
                  steps: int) -> tuple[AutoRate, Held | None]:
    """--lr auto's rate for ``replicas`` models averaged after every ``steps`` steps on batches of ``batch``
    rows, ``rate_for(rows)`` the rate for one step on ``rows`` rows; and, where the rate for all their rows was
    held at what one model's steps can take, how (None: it was not)."""
    joint = rate_for(batch * replicas)
    if replicas == 1 or steps <= 1:
        return joint, None
    local = rate_for(batch)
    if joint.lr <= STABLE_MARGIN * local.lr:
        return joint, None
    return dataclasses.replace(local, lr=STABLE_MARGIN * local.lr), Held(joint.lr, local, joint.lr >= joint.balanced)


def held_text(held: Held, auto: AutoRate, model: str, batch: int, replicas: int, steps: int,
              optimizer: str) -> str:
    """Why --lr auto's rate ``auto`` of averaged models is what it is, where it was held (``averaged_rate``)."""
    warm = (f"; × {auto.warm_share:.4g} for --init, the share of new rows among all the model has learned from"
            if auto.warm_share is not None else "")
    joint = (f"the balance of distance and noise for all {replicas} × {batch} rows, {held.joint:.4g}, counts the "
             "noise of rows that no step has" if held.balanced else
             f"the rate for all {replicas} × {batch} rows, {held.joint:.4g}, would make unstable")
    return (f"{STABLE_MARGIN:g} × {held.local.lr:.4g}, the rate of one model's step on {counted(batch, 'row')} = "
            f"{held.local.why(model, batch, optimizer)}: each of the {replicas} models averaged takes "
            f"{counted(steps, 'step')} on its own batches between averagings, which {joint} (docs/distributed.md)"
            f"{warm}")


def scaling_held(lr: float, given: float, batch: int, replicas: int, steps: int) -> str:
    """What --lr-scaling replicas' log line adds where the rate ``lr`` used was held below ``given`` × replicas."""
    stop = "--lr itself" if lr == given else "the rate --lr auto gives these models' local steps"
    return (f", held at {lr:.4g} ({stop}): each of the {replicas} models takes {counted(steps, 'step')} on batches "
            f"of {counted(batch, 'row')} between averagings, and a larger rate can make those steps blow up "
            "(docs/distributed.md)")
