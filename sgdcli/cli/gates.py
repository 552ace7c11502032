"""Quality gates: bounds on metrics that turn a finished run into exit code 3.

``--fail-under accuracy=0.9`` fails when accuracy is below 0.9 and
``--fail-over log_loss=0.45`` when log_loss is above 0.45; both repeat.  The
metrics are those ``evaluate`` prints for the model's task; ``train`` checks
them (and ``loss``, the training loss on the validation rows) on the
validation metrics of the model it writes.  A metric that is undefined (NaN:
AUC with only one class present) fails every gate on it, since the gate cannot
be shown to hold.

The verdict does not depend on where the results went.  Where standard
output is closed (``>&-``) or full (``> /dev/full``), the results are lost
(exit 1 on its own), but the metrics were computed and the model written:
a failed gate still ends the command with exit 3, after the line about
standard output, so that a script which reads 3 as "the model is not good
enough" is not sent to look for a runtime failure instead, and a person
reading the log sees both.
"""

from __future__ import annotations

import math
import sys
from typing import NamedTuple

import click

from sgdcli.errors import GateFailed, InputError, SgdcliError
from sgdcli.options import MODELS, metrics_of


# the values each metric takes (others: 0 or more, as errors, log loss and deviance are); train's ``loss`` is
# any number (poisson's, μ − y·z, is below 0 where the counts are large)
RANGES = {**dict.fromkeys(("accuracy", "auc", "precision", "recall", "f1", "below"), (0.0, 1.0)),
          "r2": (-math.inf, 1.0), "loss": (-math.inf, math.inf)}


class Gate(NamedTuple):
    metric: str
    bound: float
    under: bool  # --fail-under: fails when the value is below the bound; else above

    @property
    def option(self) -> str:
        return "--fail-under" if self.under else "--fail-over"


def metric_names(model: str, training: bool = False) -> tuple[str, ...]:
    """The names a gate may use for a model of type ``model`` (``training``: train's validation metrics)."""
    names = tuple(k for k in metrics_of(model) if k != "rows")
    return ("loss", *names) if training else names


def parse(text: str, under: bool, training: bool = False) -> Gate:
    """``METRIC=VALUE`` as a Gate; InputError naming the option when it is not one."""
    option = "--fail-under" if under else "--fail-over"
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise InputError(f"{option}: expected METRIC=VALUE, got {text!r}")
    known = sorted({n for model in MODELS for n in metric_names(model, training)})
    if name not in known:
        raise InputError(f"{option}: unknown metric {name!r} (known: {', '.join(known)})")
    try:
        bound = float(value)
    except ValueError:
        raise InputError(f"{option} {name}: bound {value.strip()!r} is not a number") from None
    if not math.isfinite(bound):
        raise InputError(f"{option} {name}: bound must be finite, got {value.strip()!r}")
    low, high = RANGES.get(name, (0.0, math.inf))
    if not low <= bound <= high:  # a gate that fails every run, or none
        takes = (f"from {low:g} to {high:g}" if math.isfinite(low) and math.isfinite(high) else
                 f"at most {high:g}" if math.isfinite(high) else f"{low:g} or more")
        hint = f" (a fraction: {bound / 100:g} for {bound:g}%)" if (low, high) == (0, 1) and 1 < bound <= 100 else ""
        raise InputError(f"{option} {name}: bound {value.strip()} is outside the values {name} takes, {takes}{hint}")
    return Gate(name, bound, under)


def parse_all(fail_under, fail_over, training: bool = False) -> list[Gate]:
    """The gates of every ``--fail-under`` and ``--fail-over`` given."""
    return [parse(text, True, training) for text in fail_under] + [parse(text, False, training) for text in fail_over]


def check_model(gates: list[Gate], model: str, what: str, training: bool = False) -> None:
    """InputError for a gate on a metric that ``what`` (a model of type ``model``) does not have."""
    names = metric_names(model, training)
    for gate in gates:
        if gate.metric not in names:
            raise InputError(f"{gate.option} {gate.metric}: {what} has no such metric (it has {', '.join(names)})")


def failures(gates: list[Gate], values: dict) -> list[str]:
    """One phrase per failed gate, naming the metric, its value and the bound (the bound as given, the value to as
    many digits as tell it from the bound: "accuracy 0.848 is under 0.848" contradicted itself).  An infinite
    metric (a poisson score beyond exp's range) is compared as the number it is; only NaN (or no value) is
    undefined, which fails every gate on it."""
    out = []
    for gate in gates:
        value = values.get(gate.metric)
        if value is None or math.isnan(value):
            out.append(f"{gate.metric} is undefined ({gate.option} {gate.metric}={_number(gate.bound)})")
        elif gate.under and value < gate.bound:
            out.append(f"{gate.metric} {_told_apart(value, gate.bound, True)} is under {_number(gate.bound)} "
                       f"({gate.option})")
        elif not gate.under and value > gate.bound:
            out.append(f"{gate.metric} {_told_apart(value, gate.bound, False)} is over {_number(gate.bound)} "
                       f"({gate.option})")
    return out


def _number(bound: float) -> str:
    """A bound as short as reads it back: 0.8 and 1e-05 as :g writes them, 0.8480001 whole (:g made it 0.848)."""
    text = f"{bound:g}"
    return text if float(text) == bound else repr(bound)


def _told_apart(value: float, bound: float, under: bool) -> str:
    """``value`` to 6 significant digits, or to as many more as make it read on its side of ``bound`` (under it,
    where ``under``; else over it): 0.84799996 is "0.848" to 6 digits, over a bound of 0.8479999 it is under."""
    for digits in range(6, 18):
        text = f"{value:.{digits}g}"
        if (float(text) < bound) if under else (float(text) > bound):
            return text
    return repr(value)


def enforce(gates: list[Gate], values: dict, what: str, lost: SgdcliError | None = None) -> None:
    """Raise GateFailed (exit 3) listing every failed gate on ``values``, the metrics of ``what`` (``lost``: the
    failure of standard output that lost the results, which the command line reports first)."""
    failed = failures(gates, values)
    if failed:
        raise GateFailed(f"quality gate failed on {what}: {'; '.join(failed)}", lost)


def print_then_enforce(results: str, gates: list[Gate], values: dict, what: str) -> None:
    """Print ``results`` on stdout in one write, then ``enforce`` the gates; where stdout fails, a failed gate
    still raises GateFailed (exit 3), carrying that failure, and gates that hold let it end the command."""
    try:
        click.echo(results)
        sys.stdout.flush()
    except (SgdcliError, BrokenPipeError) as exc:  # closed, full, or a reader that went away (which says nothing)
        enforce(gates, values, what, exc if isinstance(exc, SgdcliError) else None)
        raise
    enforce(gates, values, what)
