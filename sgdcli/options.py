"""Training options: one frozen dataclass, checked before any work starts.

Every check names the command-line option it concerns, so the same message
serves the CLI and the Python API.
"""

from __future__ import annotations

import dataclasses
import math
import re

from sgdcli.errors import InputError

MODELS = ("linear", "logistic", "softmax", "hinge")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
SCHEDULES = ("constant", "invscaling", "step", "cosine")
LR_SCALINGS = ("none", "linear", "sqrt")
BAD_ROWS = ("error", "skip")
PARALLEL_MODES = ("batch", "average")

DEFAULT_MEMORY = 256 * 2**20

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def parse_size(text: str | int) -> int:
    """Parse ``512M``, ``1.5G``, ``64KiB`` or a plain byte count (binary units)."""
    if isinstance(text, int):
        return text
    m = _SIZE_RE.match(str(text))
    if not m:
        raise InputError(f"--memory: cannot read size {text!r}; use e.g. 512M or 2G")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def parse_batch_size(text: str | int | None) -> int | None:
    """``full`` (or None) means full-batch gradient descent; otherwise an integer."""
    if text is None or (isinstance(text, str) and text.strip().lower() == "full"):
        return None
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise InputError(f"--batch-size: expected a positive integer or 'full', got {text!r}") from None
    return value


def format_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """Everything ``sgdcli train`` accepts besides the file names."""

    x: str = "X"
    y: str = "y"
    model: str = "logistic"
    l2: float = 0.0
    l1: float = 0.0
    epochs: int = 5
    batch_size: int | None = 32  # None means full batch
    drop_last: bool = False
    lr: float = 0.01
    optimizer: str = "sgd"
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    schedule: str = "constant"
    power_t: float = 0.5
    step_epochs: int = 10
    gamma: float = 0.1
    warmup_iterations: int = 0
    lr_scaling: str = "none"
    base_batch_size: int = 32
    average: bool = False
    shuffle: bool = True
    seed: int = 0
    standardize: bool = False
    val: str | None = None
    val_x: str | None = None
    val_y: str | None = None
    val_fraction: float = 0.0
    early_stopping: bool = False
    patience: int = 3
    min_delta: float = 1e-4
    memory: int = DEFAULT_MEMORY
    threads: int | None = None
    parallel: str = "batch"  # how threads share the work: split each batch, or shards averaged (averaging.py)
    sync_every: int | None = None  # steps per shard between averagings (--parallel average, --dask)
    bad_rows: str = "error"

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        def bad(option: str, why: str):
            raise InputError(f"--{option.replace('_', '-')}: {why}")

        def choice(option: str, allowed):
            value = getattr(self, option)
            if value not in allowed:
                bad(option, f"{value!r} is not one of {', '.join(allowed)}")

        choice("model", MODELS)
        choice("optimizer", OPTIMIZERS)
        choice("schedule", SCHEDULES)
        choice("lr_scaling", LR_SCALINGS)
        choice("bad_rows", BAD_ROWS)
        choice("parallel", PARALLEL_MODES)
        for name in ("lr", "eps"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                bad(name, f"must be a finite number > 0, got {value}")
        for name in ("l1", "l2", "min_delta"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                bad(name, f"must be a finite number >= 0, got {value}")
        for name in ("momentum", "beta1", "beta2"):
            value = getattr(self, name)
            if not (0 <= value < 1):
                bad(name, f"must be in [0, 1), got {value}")
        if not (0 < self.gamma <= 1):
            bad("gamma", f"must be in (0, 1], got {self.gamma}")
        if not (0 <= self.power_t <= 1):
            bad("power_t", f"must be in [0, 1], got {self.power_t}")
        for name in ("epochs", "step_epochs", "base_batch_size", "patience"):
            if getattr(self, name) < 1:
                bad(name, f"must be >= 1, got {getattr(self, name)}")
        if self.warmup_iterations < 0:
            bad("warmup_iterations", f"must be >= 0, got {self.warmup_iterations}")
        if self.batch_size is not None and self.batch_size < 1:
            bad("batch_size", f"must be >= 1 or 'full', got {self.batch_size}")
        if not (0 <= self.val_fraction < 1):
            bad("val_fraction", f"must be in [0, 1), got {self.val_fraction}")
        if self.val is not None and self.val_fraction > 0:
            bad("val_fraction", "cannot be combined with --val; choose one validation source")
        if self.memory < 2**20:
            bad("memory", f"must be at least 1M, got {self.memory} bytes")
        if self.threads is not None and self.threads < 1:
            bad("threads", f"must be >= 1, got {self.threads}")
        if self.sync_every is not None and self.sync_every < 1:
            bad("sync_every", f"must be >= 1, got {self.sync_every}")

    def scaled_lr(self, batch_size: int) -> float:
        """The base learning rate after ``--lr-scaling`` for the batch actually used."""
        ratio = batch_size / self.base_batch_size
        if self.lr_scaling == "linear":
            return self.lr * ratio
        if self.lr_scaling == "sqrt":
            return self.lr * math.sqrt(ratio)
        return self.lr

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["batch_size"] = "full" if self.batch_size is None else self.batch_size
        return d
