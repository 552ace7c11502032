"""How fast a run's loss still fell at its end, for the rate it trained at, against its pace over the whole run: what
a run's history of epoch losses says about whether its model settled, without another pass over the data.

The rate decides how far a step goes, and under a schedule it shrinks (to zero at cosine's end), so a loss that
falls little in the last epochs may only be taking small steps. The pace is therefore the fall per unit of *rate
time*, the sum of the rates of the updates: a run that settled falls at no pace at its end, one still far from
its optimum at a pace close to its average.
"""

from __future__ import annotations

import math

import numpy as np

# The last share of a full batch's epochs whose fall measures its pace at the end: its losses are exact, the loss
# at the start of each epoch's one update, so the end is read as closely as the rounding allows, and a run that
# was still settling in the middle of its second half is not taken for one that is still far.
EXACT_TAIL = 4
# Mini-batch epochs are averages over the batches as they were trained, and a smaller rate leaves less of the
# batches' noise in them: under a decaying schedule they fall for that reason alone.  Their pace is read over the
# last half of the epochs, never the first epoch's fall (from where training started), and over three falls at
# least, enough to tell the two apart: the noise falls with the epoch's mean rate, progress with its rate time.
NOISY_FALLS = 3


def objective(train_loss: float, start_penalty: float, end_penalty: float, exact: bool) -> float:
    """An epoch's training objective: its ``train_loss`` plus --l2's and --l1's penalty of the weights that loss
    was measured at.  ``exact``: a full batch, whose loss is that of the weights its epoch started from, of
    ``start_penalty``.  A mini-batch epoch's loss is the mean over batches whose weights moved from its start to
    its end, most of the way in its first batches: its end's penalty is taken (the mean of its start's and its
    end's put a first epoch from zero weights half its penalty low, below every later epoch, and early stopping
    kept it).  Under a penalty the mean loss alone goes on falling as the weights grow while the objective has
    settled, the penalty taking back what the loss gains."""
    return train_loss + (start_penalty if exact else end_penalty)


def objectives(history: list[dict]) -> tuple[np.ndarray, str]:
    """(the epochs' losses of ``history`` as the objective trained scores them, what they are): every record's
    ``objective`` (``objective``, under --l2 or --l1), else every ``train_loss`` ("loss": without a penalty, or
    resumed from the checkpoint of an older sgdcli, whose records hold none)."""
    if history and all("objective" in r for r in history):
        return np.array([r["objective"] for r in history], dtype=np.float64), "objective"
    return np.array([r["train_loss"] for r in history], dtype=np.float64), "loss"


def end_pace(history: list[dict], exact: bool, start: float, losses: np.ndarray | None = None
             ) -> tuple[float, int] | None:
    """(the pace share, the 1-based epoch the end is measured from): the fall of ``losses`` (the epochs'
    ``objectives``; None: each record's ``train_loss``) per unit of rate time at the end of ``history`` (records
    with ``lr``, the rate of the epoch's last update, and ``iterations``), times the run's whole rate time, over
    its whole fall, from ``start`` (the loss where training started) to the last epoch's; 0 for a run that
    settled, about 1 for one whose loss fell as fast at the end as on average.  ``exact``: a full batch, whose
    epochs are one update each and whose losses are exact.  None where the history is too short to tell, or the
    loss did not fall."""
    n = len(history)
    losses = np.array([r["train_loss"] for r in history], dtype=np.float64) if losses is None else losses
    rates = np.array([r["lr"] for r in history], dtype=np.float64)
    iterations = np.array([r["iterations"] for r in history], dtype=np.float64)
    if exact:  # record e is the loss before epoch e's update, made at rates[e]
        span = rates * iterations
        at = np.cumsum(span) - span
        first = max(1, n - 1 - max(1, (n - 1) // EXACT_TAIL))
        if n < 3 or not at[-1] > at[first]:
            return None
        pace = (losses[first] - losses[-1]) / (at[-1] - at[first])
    else:  # record e is the mean over epoch e's batches, at about its middle; each epoch's rate runs from the
        # last update of the one before (the first: its own)
        mean_rate = (np.concatenate([rates[:1], rates[:-1]]) + rates) / 2
        span = mean_rate * iterations
        at = np.cumsum(span) - span / 2
        first = max(1, n - 1 - max(NOISY_FALLS, (n - 1) // 2))
        if n - 1 - first < NOISY_FALLS:
            return None
        pace = _progress_rate(np.diff(losses)[first:] * -1, -np.diff(mean_rate)[first:], np.diff(at)[first:])
    whole = start - losses[-1]
    if not (math.isfinite(pace) and whole > 0):
        return None
    return max(pace, 0.0) * span.sum() / whole, first + 1


def _progress_rate(falls: np.ndarray, noise: np.ndarray, time: np.ndarray) -> float:
    """g of falls ≈ κ·noise + g·time with κ, g ≥ 0 (least squares): the noise term the fall of each epoch's mean
    rate (what the batches' noise in the losses goes down with), the progress term its rate time."""
    best, pace = float(falls @ falls), 0.0  # neither term
    for columns, g in (((noise, time), 1), ((time,), 0), ((noise,), None)):
        A = np.column_stack(columns)
        x, *_ = np.linalg.lstsq(A, falls, rcond=None)
        if (x < 0).any():
            continue
        residual = float(((A @ x - falls) ** 2).sum())
        if residual < best:
            best, pace = residual, (0.0 if g is None else float(x[g]))
    return pace
