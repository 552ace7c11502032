"""Learning-rate schedules: one function of the step counter ``t``.

``t`` counts updates since training began (0 for the first), so a schedule
continues where it stopped when training resumes.  Warm-up multiplies any
schedule by (t+1)/warmup for the first ``warmup`` steps.
"""

from __future__ import annotations

import math

from sgdcli.kernels.jit import kernel

CONSTANT, INVSCALING, STEP, COSINE = 0, 1, 2, 3
CODES = {"constant": CONSTANT, "invscaling": INVSCALING, "step": STEP, "cosine": COSINE}


@kernel()
def lr_at(cfg, t, epoch):
    """The learning rate for update ``t`` (0-based) in epoch ``epoch`` (0-based)."""
    factor = 1.0
    if cfg.schedule == INVSCALING:
        factor = 1.0 / (t + 1.0) ** cfg.power_t
    elif cfg.schedule == STEP:
        factor = cfg.gamma ** (epoch // cfg.step_epochs)
    elif cfg.schedule == COSINE:
        frac = min(t, cfg.total_iterations) / max(cfg.total_iterations, 1)
        factor = 0.5 * (1.0 + math.cos(math.pi * frac))
    if t < cfg.warmup:
        factor *= (t + 1.0) / cfg.warmup
    return cfg.lr * factor
