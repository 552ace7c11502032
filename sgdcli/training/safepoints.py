"""Where a training run may stop: its safe points, where a signal is acted on and checkpoints are saved.

Before training (the passes, the set-up) there is nothing to save: a stop
says so, or names the checkpoint a resumed run still has.  In the epochs,
at each safe point the executor offers (between kernel calls or rounds), a
stop saves a checkpoint and says how to resume, and ``--checkpoint-every``
and ``--checkpoint-seconds`` save one when it is due.  Every safe point
first checks that the input files did not change under the run
(training/inputs.py): never a checkpoint of a state that trained on changed
data.
"""

from __future__ import annotations

import time

from sgdcli import testhooks
from sgdcli.engine.epoch import Position
from sgdcli.errors import Interrupted, SgdcliError
from sgdcli.training import checkpoint as ckpt_mod
from sgdcli.training.control import RunControl
from sgdcli.training.inputs import Inputs
from sgdcli.training.signals import EXIT_CODES, name


def _pending(inputs: Inputs, control: RunControl) -> int | None:
    """The signal a safe point outside the epochs acts on, if any, once the input files are checked."""
    if testhooks.SAFE_POINT_DELAY:
        time.sleep(testhooks.SAFE_POINT_DELAY)
    inputs.check()
    return control.stop()


def check_stop(inputs: Inputs, control: RunControl, stage: str) -> None:
    """A safe point of the passes before training (``stage``: what the run was doing): nothing to checkpoint yet."""
    signum = _pending(inputs, control)
    if signum is not None:
        kept = control.last_checkpoint() if control.resume else None  # a resumed run's, as it was
        # a run without --resume leaves an earlier run's checkpoint as it was until it trains
        earlier = ckpt_mod.earlier(control.checkpoint) if control.checkpoint and not control.resume else None
        raise Interrupted(f"stopped by {name(signum)} while {stage}, before training " + (
            f"resumed; its checkpoint, {kept}, remains: run the same command with --resume to continue from it"
            if kept else f"began; {earlier}, remains as it was" if earlier else "began; nothing to resume yet"),
            EXIT_CODES[signum])


class CheckStopped(SgdcliError):
    """A signal stopped a check of the finished model (``after_training``): the check is left undone, the run
    keeps its model.  An SgdcliError, which the passes pass on as it is (a --dask pass took any other exception
    for its failure: parallel/cluster.py ``_gather``)."""

    def __init__(self, signum: int):
        super().__init__(name(signum))
        self.signum = signum


def after_training(inputs: Inputs, control: RunControl) -> None:
    """A safe point of a pass after the last epoch (the end's checks of the model): the model is finished, so a
    stop raises CheckStopped, which ends that check, not the run (no checkpoint of a run that has nothing left to
    train, whose --resume would only write the same model)."""
    signum = _pending(inputs, control)
    if signum is not None:
        raise CheckStopped(signum)


def iteration(run) -> int:
    """Iterations done in the epoch in progress of ``run`` (summed over the shards of a distributed run)."""
    if run.pos.shards is not None:
        return sum(shard[2] for shard in run.pos.shards)
    return run.state.iterations - run.pos.epoch_start_t


class SafePoints:
    """The safe points of the epochs of ``run`` (a training/run.py ``Run``, set up), the checkpoints saved at
    them, and the epoch's clock, whose time so far a checkpoint keeps in its position."""

    def __init__(self, run):
        self.run = run
        self._last = (run.state.iterations, time.monotonic())  # the last checkpoint's iteration and time
        # whether the checkpoints at --checkpoint are the run's: the one it resumed from, or one it saved; any
        # other there is another run's, which its first checkpoint replaces with no .prev, and its end removes
        self.own = run.resumed
        self._epoch_t0 = time.perf_counter()

    def start_epoch(self) -> None:
        self._epoch_t0 = time.perf_counter()

    def restarted(self) -> None:
        """The run starts over from its first state (a blow-up under --lr auto): --checkpoint-every counts its
        iterations from there, not from the last checkpoint of the run that blew up, whose iteration the new
        state's clock would not pass until that many iterations later."""
        self._last = (self.run.state.iterations, self._last[1])

    def epoch_seconds(self) -> float:
        """Training time of the epoch in progress, with what it took before a resume or a checkpoint."""
        return self.run.pos.seconds + time.perf_counter() - self._epoch_t0

    def save(self) -> None:
        """A checkpoint of the run as it is (none where it has no checkpoint path; the inputs are checked)."""
        run = self.run
        run.inputs.check()  # never a checkpoint of a state that trained on changed data
        if run.control.checkpoint is None:
            return
        ckpt_mod.save(run.control.checkpoint, ckpt_mod.Checkpoint(
            state=run.state,
            position=run.pos,
            history=run.history,
            stopper=run.stopper.state() if run.stopper is not None else None,
            best_params=run.stopper.best_params if run.stopper is not None else None,
            classes=run.labels.classes,
            mean=run.mean,
            std=run.std,
            n_train=run.n_train,
            n_bad=run.n_bad,
            zero_loss=run.zero_loss,
            start_loss=run.start_loss,
            saturated_loss=run.saturated_loss,
            options=run.fingerprints[0],
            data=run.fingerprints[1],
        ), previous=self.own)
        self.own = True
        self._last = (run.state.iterations, time.monotonic())

    def save_in_epoch(self) -> None:
        """``save`` inside an epoch: its time so far goes into the position first."""
        now = time.perf_counter()
        self.run.pos.seconds += now - self._epoch_t0
        self._epoch_t0 = now
        self.save()

    def safe_point(self, pos: Position) -> None:
        """A safe point of the epochs: a stop saves a checkpoint and raises Interrupted; else one is saved when
        --checkpoint-every or --checkpoint-seconds says it is due."""
        if testhooks.SAFE_POINT_DELAY:
            time.sleep(testhooks.SAFE_POINT_DELAY)
        run = self.run
        run.inputs.check()
        signum = run.control.stop()
        if signum is not None:
            self.save_in_epoch()
            raise self._interrupted(signum)
        last_t, last_time = self._last
        every, seconds = run.control.checkpoint_every, run.control.checkpoint_seconds
        if (every is not None and run.state.iterations - last_t >= every) or (
            seconds is not None and time.monotonic() - last_time >= seconds
        ):
            self.save_in_epoch()

    def _interrupted(self, signum: int) -> Interrupted:
        run = self.run
        where = f"epoch {run.pos.epoch + 1}, iteration {iteration(run)}/{run.iters}"
        if run.control.checkpoint is None:
            return Interrupted(f"stopped by {name(signum)} at {where}; no checkpoint path, progress is lost", EXIT_CODES[signum])
        return Interrupted(f"stopped by {name(signum)} at {where}; checkpoint saved to {run.control.checkpoint}; "
                           f"run the same command with --resume to continue", EXIT_CODES[signum])
