"""How a run is kept safe: checkpoints, resume, locks, signals. None of it changes the model that comes out."""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import threading
from typing import Callable

from sgdcli.data.atomic import written_path
from sgdcli.errors import InputError
from sgdcli.fieldtypes import check_fields
from sgdcli.training.checkpoint import previous_path
from sgdcli.training.signals import EXIT_CODES


@dataclasses.dataclass(frozen=True)
class RunControl:
    """How a run is kept safe; none of it changes the model that comes out.  Checked as it is made, as the
    command line's options are (an InputError naming the option: ``--checkpoint-every``...)."""

    checkpoint: str | None = dataclasses.field(default=None, metadata={"kind": "path"})  # None: no checkpoints
    checkpoint_every: int | None = None  # iterations between checkpoints
    checkpoint_seconds: float | None = None  # seconds between checkpoints
    resume: bool = False
    restart_stale: bool = False  # with resume: a stale or unreadable checkpoint is removed, not refused
    keep_checkpoint: bool = False
    wait_lock: float | None = None  # None: fail at once if locked; inf: wait forever
    stop: Callable[[], int | None] = lambda: None  # a pending signal number, if any (signals.stop_on_signals)
    # (asked at every safe point, by each thread of --parallel average too; a run stops on its first answer)
    verbose: bool = False  # log the runtime: threading layer, threads, kernel cache

    def __post_init__(self):
        check_fields(self)  # types, as TrainOptions' (a path as text, NumPy's numbers as Python's)
        if self.checkpoint_every is not None and self.checkpoint_every < 1:
            raise InputError(f"--checkpoint-every: must be >= 1, got {self.checkpoint_every}")
        if self.checkpoint_seconds is not None and not (0 < self.checkpoint_seconds < math.inf):
            raise InputError(f"--checkpoint-seconds: must be a finite number > 0, got {self.checkpoint_seconds}")
        if self.resume and self.checkpoint is None:  # (the command line always has one: --checkpoint, OUTPUT.ckpt)
            raise InputError("RunControl(resume=True) (--resume) needs a checkpoint path, which train() does not "
                             "take from output: pass RunControl(checkpoint=sgdcli.default_checkpoint(output)), the "
                             "command line's OUTPUT.ckpt")
        if self.restart_stale and not self.resume:  # it would be ignored: a run without resume reads no checkpoint
            raise InputError("--restart-stale: applies only with --resume (RunControl(restart_stale=True) needs "
                             "resume=True)")
        if self.wait_lock is not None and not self.wait_lock >= 0:
            raise InputError(f"--wait-lock: must be a number >= 0 (math.inf: wait forever), got {self.wait_lock}")
        if not isinstance(self.stop, _SignalOrNone):
            object.__setattr__(self, "stop", _SignalOrNone(self.stop))

    def for_run(self) -> "RunControl":
        """This control for one run: its ``stop`` remembers the first signal it answers, so that every part of
        the run that asks again (the safe point that checkpoints after the threads of --parallel average gave up
        their round on it) stops on it too, whether or not ``stop`` answers it again."""
        return dataclasses.replace(self, stop=_FirstSignal(self.stop.given))

    def last_checkpoint(self) -> str | None:
        """The checkpoint on disk that ``resume`` would continue from, or None where there is none: the file
        ``checkpoint`` leads to where it is a symbolic link (the one a run writes, and rotates to ``.prev``
        beside it: data/atomic.py ``written_path``), else that file's ``.prev``."""
        if self.checkpoint is None:
            return None
        path = written_path(self.checkpoint)
        return next((p for p in (path, previous_path(path)) if os.path.exists(p)), None)  # --resume's order


class _SignalOrNone:
    """``stop``, whose answers are checked as the training loop asks: None, or a signal it stops on."""

    def __init__(self, stop: Callable[[], int | None]):
        self.given = stop

    def __repr__(self) -> str:
        return repr(self.given)

    def __call__(self) -> int | None:
        signum = self.given()
        if signum is None:
            return None
        if isinstance(signum, bool) or not isinstance(signum, numbers.Integral) or signum not in EXIT_CODES:
            raise InputError(f"stop: returned {signum!r}; expected None or the number of a signal training stops "
                             f"on: {', '.join(f'{int(s)} ({s.name})' for s in EXIT_CODES)}")
        return int(signum)


class _FirstSignal(_SignalOrNone):
    """``stop`` for one run: once it answers a signal, the same signal ever after (``RunControl.for_run``)."""

    def __init__(self, stop: Callable[[], int | None]):
        super().__init__(stop)
        self.signum: int | None = None
        self.lock = threading.Lock()  # the threads of --parallel average ask at once

    def __call__(self) -> int | None:
        if self.signum is None:
            signum = super().__call__()
            if signum is not None:
                with self.lock:
                    if self.signum is None:
                        self.signum = signum
        return self.signum


def default_checkpoint(output) -> str:
    """Where the checkpoint of a run writing the model ``output`` goes unless told: ``OUTPUT.ckpt``."""
    return os.fspath(output) + ".ckpt"
