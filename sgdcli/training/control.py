"""How a run is kept safe: checkpoints, resume, locks, signals. None of it changes the model that comes out."""

from __future__ import annotations

import dataclasses
import os
from typing import Callable


@dataclasses.dataclass(frozen=True)
class RunControl:
    """How a run is kept safe; none of it changes the model that comes out."""

    checkpoint: str | None = None  # None: no checkpoints
    checkpoint_every: int | None = None  # iterations between checkpoints
    checkpoint_seconds: float | None = None  # seconds between checkpoints
    resume: bool = False
    restart_stale: bool = False  # with resume: a stale or unreadable checkpoint is removed, not refused
    keep_checkpoint: bool = False
    wait_lock: float | None = None  # None: fail at once if locked; inf: wait forever
    stop: Callable[[], int | None] = lambda: None  # a pending signal number, if any (signals.stop_on_signals)
    verbose: bool = False  # log the runtime: threading layer, threads, kernel cache


def default_checkpoint(output) -> str:
    """Where the checkpoint of a run writing the model ``output`` goes unless told: ``OUTPUT.ckpt``."""
    return os.fspath(output) + ".ckpt"
