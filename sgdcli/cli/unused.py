"""Options typed on the command line that the run's other options leave without effect: a warning names each.

``--momentum 0.5 --optimizer adam`` trained as ``--optimizer adam`` alone,
and said nothing, so a user who tuned the momentum believed it mattered.  An
option set in a ``--config`` file, which may hold settings for several models
or schedules, is left alone, and so is the Python API: it warns only where
the option was typed.  Nothing is refused, so a command line that runs today
still runs.
"""

from __future__ import annotations

import warnings
from typing import Callable

import click
from click.core import ParameterSource

from sgdcli.options import AUTO_OPTIMIZER, EPS_OPTIMIZERS, MOMENTUM_OPTIMIZERS, TrainOptions


class UnusedOption(UserWarning):
    """An option typed on the command line that the run's other options leave without effect."""


def _optimizer_uses(users: tuple[str, ...]) -> Callable[[TrainOptions], bool]:
    """Whether the options' optimizer is one of ``users``; auto, where it may resolve to one: one of
    AUTO_OPTIMIZER's, or under --init-optimizer whatever the --init model's was."""
    auto = any(name in users for name in AUTO_OPTIMIZER.values())
    return lambda o: o.optimizer in users or (o.optimizer == "auto" and (auto or o.init_optimizer))


# --y beside --label-column (train's, sweep's and evaluate's)
LABEL_RULES = (("y", lambda o: o.label_column is None, "without --label-column",
                lambda o: "with it, which takes the labels"),)
# (a field, whether the options use it, what it applies to, and what the options are instead)
RULES = (
    ("epsilon", lambda o: o.model == "huber", "to --model huber", lambda o: f"with --model {o.model}"),
    ("quantile", lambda o: o.model == "quantile", "to --model quantile", lambda o: f"with --model {o.model}"),
    ("momentum", _optimizer_uses(MOMENTUM_OPTIMIZERS), "to --optimizer momentum, nesterov and auto",
     lambda o: f"with --optimizer {o.optimizer}"),
    ("eps", _optimizer_uses(EPS_OPTIMIZERS), "to --optimizer adagrad, rmsprop and adam (and auto under "
                                             "--init-optimizer)", lambda o: f"with --optimizer {o.optimizer}"),
    ("power_t", lambda o: o.schedule == "invscaling", "to --schedule invscaling",
     lambda o: f"with --schedule {o.schedule}"),
    ("step_epochs", lambda o: o.schedule == "step", "to --schedule step", lambda o: f"with --schedule {o.schedule}"),
    ("gamma", lambda o: o.schedule == "step", "to --schedule step", lambda o: f"with --schedule {o.schedule}"),
    ("patience", lambda o: o.early_stopping, "with --early-stopping", lambda o: "without it"),
    ("min_delta", lambda o: o.early_stopping, "with --early-stopping", lambda o: "without it"),
    ("val_x", lambda o: o.val is not None, "with --val", lambda o: "without it"),
    ("val_y", lambda o: o.val is not None and o.label_column is None, "with --val and without --label-column",
     lambda o: "without --val" if o.val is None else "with --label-column, which takes the labels of both files"),
    *LABEL_RULES,
    # (a weighted run draws rows by window, which --page-rows sizes, shuffled or not)
    ("page_rows", lambda o: o.shuffle or o.sample_weight is not None or o.weight_column is not None
     or o.class_weight is not None,
     "to the page shuffle and to weighted runs", lambda o: "with --no-shuffle and no weights"),
    ("base_batch_size", lambda o: o.lr_scaling in ("linear", "sqrt"), "with --lr-scaling linear and sqrt",
     lambda o: f"with --lr-scaling {o.lr_scaling}"),
)
# The same of train's and sweep's options that TrainOptions does not hold, and of convert's
DASK_RULES = (("dask_timeout", lambda s: s.dask is not None, "with --dask", lambda s: "without it"),)
QUIET_RULES = tuple((name, lambda s: not s.quiet, "without -q", lambda s: "with it")
                    for name in ("progress", "verbose"))
CONVERT_RULES = (("max_categories", lambda s: s.categorical is not None, "with --categorical",
                  lambda s: "without it"),)


def warn_unused(settings, rules=RULES) -> None:
    """An UnusedOption warning for each option of ``settings`` (TrainOptions, or a namespace of a command's
    parameters) typed on the command line of the command that runs (not a --config file's, nor an environment
    variable's) that ``rules`` say the other options leave without effect."""
    ctx = click.get_current_context()
    for name, uses, what, instead in rules:
        if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE and not uses(settings):
            warnings.warn(f"--{name.replace('_', '-')}: applies {what}; it does nothing {instead(settings)}",
                          UnusedOption, stacklevel=2)
