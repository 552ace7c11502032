"""Parameter types and the options several commands share, each defined once.

The options of ``train`` and ``sweep`` are built from the fields of
``TrainOptions`` (sgdcli/options.py): their defaults, choices and help text
are written there and nowhere else.
"""

from __future__ import annotations

import dataclasses
import math

import click

from sgdcli.cli import argtext
from sgdcli.cli.config import ConfiguredCommand, config_option, print_config_option
from sgdcli.errors import InputError, quoted
from sgdcli.fieldtypes import MAX_INT, parse_batch_size
from sgdcli.options import DEFAULT_MEMORY, DEFAULT_X, DEFAULT_Y, TrainOptions
from sgdcli.reporting.renderers import MODES as PROGRESS_MODES
from sgdcli.sizes import parse_size, size_text


class BatchSize(click.ParamType):
    name = "B|full"
    integral = True  # config.py refuses 2.5 rather than truncating it

    @staticmethod
    def to_config(value):
        return "full" if value is None else value

    def convert(self, value, param, ctx):
        if isinstance(value, int) or value is None:
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return parse_batch_size(value)
        except InputError:
            self.fail(f"{value!r} is neither a positive integer nor 'full'", param, ctx)


class Rate(click.ParamType):
    """A learning rate: a number > 0, or ``auto`` (chosen from the data)."""

    name = "LR|auto"

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            return value
        if isinstance(value, str) and value.strip().lower() == "auto":  # as --batch-size takes FULL
            return "auto"
        try:
            return float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is neither a number nor 'auto'", param, ctx)


class Count(click.IntRange):
    """A whole number of at least ``min`` that 64 bits hold: a larger one passed click and stopped in NumPy or
    HDF5 ("internal error: OverflowError").  The help shows the minimum alone."""

    name = "integer"  # (click's "integer range" in the help and in "'x' is not a valid integer range")

    def __init__(self, min: int = 1):
        super().__init__(min=min)

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if number > MAX_INT:
            self.fail(f"{number} is more than 64 bits hold (at most {MAX_INT})", param, ctx)
        return number


class Number(click.FloatRange):
    """A FloatRange that is a number: click's FloatRange passes nan (every comparison with it is false) and, with
    no upper bound, inf.  ``infinite`` allows inf, for options where it means something (wait forever)."""

    name = "float"  # (click's "float range"), as an option of type float is named

    def __init__(self, *args, infinite: bool = False, optional: str | None = None, **kwargs):
        """``optional``: the value may be left out (an option with an optional value), and what to say to a word
        that is no number, which the option took from the argument after it."""
        super().__init__(*args, **kwargs)
        self.infinite, self.optional = infinite, optional

    def convert(self, value, param, ctx):
        if self.optional is not None and isinstance(value, str) and ctx is not None and param is not None \
                and ctx.get_parameter_source(param.name) is click.core.ParameterSource.COMMANDLINE:
            try:
                float(value)
            except ValueError:
                self.fail(f"{value!r} is not a number; {self.optional}", param, ctx)
        number = super().convert(value, param, ctx)
        if math.isnan(number) or (math.isinf(number) and not self.infinite):
            self.fail(f"{value!r} is not {'a number' if self.infinite else 'a finite number'}", param, ctx)
        return number


class Size(click.ParamType):
    name = "SIZE"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        try:
            return parse_size(value)
        except InputError:
            self.fail(f"cannot read size {quoted(value)}; use e.g. 512M or 2G", param, ctx)


def command(name: str, example: str, check=None, **kwargs):
    """A command with an example in its help; every command also takes --config and --print-config.
    ``check(**params)``: the checks of its settings it makes before opening any file, which --print-config
    makes too (config.ConfiguredCommand).  Its text options are read as UTF-8 under any locale (argtext.py)."""
    make = click.command(name, cls=ConfiguredCommand, epilog=f"Example:\n\n    {example}", check=check, **kwargs)
    return lambda f: argtext.for_any_locale(make(print_config_option(config_option(f))))


def json_option(what: str, shape: str = "one JSON object"):
    return click.option("--json", is_flag=True, help=f"Print {what} as {shape}.")


def pass_quiet_option(f):
    """-q of predict, evaluate, convert and generate, whose passes over a file say only their progress on stderr."""
    return click.option("-q", "--quiet", is_flag=True,
                        help="No progress lines on stderr (warnings and errors still go there).")(f)


def memory_option(f):
    """--memory of predict and evaluate, which score blocks in file order: no shuffle, no windows."""
    return click.option("--memory", type=Size(), default=size_text(DEFAULT_MEMORY), show_default=True,
                        help="Cap on data in flight (the block being scored, the one read ahead and their scores), "
                             "e.g. 512M, 2G; at least 1M.")(f)


def delimiter_option(f):
    """--delimiter of predict and evaluate, for DATA that is CSV/TSV text."""
    return click.option("--delimiter", default=None,
                        help="Field delimiter of CSV/TSV DATA, one character or 'tab' [default: the training file's, "
                             "or the one that finds the model's columns in DATA's header].")(f)


def x_option(f):
    return click.option("--x", "x", default=DEFAULT_X, show_default=True, help=_help("x"))(f)


def y_option(f):
    return click.option("--y", "y", default=DEFAULT_Y, show_default=True, help=_help("y"))(f)


def columns_options(f):
    """--label-column, --features, --transpose and --allow-unwritten, as train has them (what in the file is
    the table)."""
    for name in ("allow_unwritten", "transpose", "features", "label_column"):
        f = _training_option(_FIELDS[name])(f)
    return f


PREDICT_LABEL_COLUMN_HELP = ("A column of --x that holds labels (a name, or an index): it is left out of the "
                             "features; predict reads no labels.")


PREDICT_WEIGHT_COLUMN_HELP = ("A column of --x that holds row weights (a name, or an index): it is left out of the "
                              "features, as train --weight-column left it out; predict reads no weights.")
EVALUATE_WEIGHT_COLUMN_HELP = ("Weigh each row's metrics by this column of --x (a name, or an index), left out of the "
                               "features, as --sample-weight weighs them by a dataset.")


def predict_columns_options(f):
    """``columns_options`` as predict has them: it has no --y and reads no labels, so its --label-column only
    leaves a column out of the features (train's help speaks of --y), and so does its --weight-column."""
    for name in ("allow_unwritten", "transpose", "features"):
        f = _training_option(_FIELDS[name])(f)
    f = _training_option(_FIELDS["weight_column"], PREDICT_WEIGHT_COLUMN_HELP)(f)
    return _training_option(_FIELDS["label_column"], PREDICT_LABEL_COLUMN_HELP)(f)


def evaluate_weight_option(f):
    return _training_option(_FIELDS["weight_column"], EVALUATE_WEIGHT_COLUMN_HELP)(f)


def gate_options(f):
    f = click.option("--fail-over", "fail_over", multiple=True, metavar="METRIC=VALUE",
                     help="Exit 3 if METRIC is above VALUE, after writing the results (repeatable), "
                          "e.g. log_loss=0.45.")(f)
    return click.option("--fail-under", "fail_under", multiple=True, metavar="METRIC=VALUE",
                        help="Exit 3 if METRIC is below VALUE, after writing the results (repeatable), "
                             "e.g. accuracy=0.9.")(f)


_FIELDS = {field.name: field for field in dataclasses.fields(TrainOptions)}


def _help(name: str) -> str:
    return _FIELDS[name].metadata["help"]


def _training_option(field: dataclasses.Field, help_text: str | None = None):
    """The click option of one TrainOptions field: its flag, type, default and help come from the field (the
    help from ``help_text`` where given)."""
    meta, default = {**field.metadata, "help": help_text or field.metadata["help"]}, field.default
    flag = meta.get("flag", "--" + field.name.replace("_", "-"))
    if meta.get("switch"):  # on, off, or unset (None: decided by the data): --standardize/--no-standardize
        return click.option(f"{flag}/--no-{flag[2:]}", field.name, default=None, help=meta["help"])
    if isinstance(default, bool):
        if default and "flag" not in meta:  # on unless turned off: --standardize/--no-standardize
            return click.option(f"{flag}/--no-{flag[2:]}", field.name, default=True, show_default=True,
                                help=meta["help"])
        # a switch; a field that defaults to True is turned off by its flag (shuffle: --no-shuffle)
        return click.option(flag, is_flag=True, help=meta["help"])
    kind = meta.get("kind")
    extra = {}
    if "choices" in meta:
        extra["type"] = click.Choice(meta["choices"])
    elif kind == "batch":
        extra["type"] = BatchSize()
    elif kind == "rate":
        extra["type"] = Rate()
    elif kind == "size":  # shown and parsed as text, e.g. 256M
        extra["type"], default = Size(), size_text(default)
    elif kind == "path":
        extra["type"] = argtext.Path(dir_okay=False, read=True)  # (--val, --init)
    elif kind == "count":
        extra["type"] = Count()
    else:  # int, float or str, from the annotation when the default is None
        extra["type"] = type(default) if default is not None else int if field.type.startswith("int") else str
    if "metavar" in meta:
        extra["metavar"] = meta["metavar"]
    extra.setdefault("show_default", default is not None)
    return click.option(flag, field.name, default=default, help=meta["help"], **extra)


def training_options(without: tuple[str, ...] = (), helps: dict[str, str] | None = None):
    """The options of TrainOptions, then progress, quiet and verbose; shared by train and sweep.

    ``without`` names options to leave out (sweep sets batch size and rate itself); ``helps`` gives some
    fields the help this command needs instead of train's (sweep's speak neither of --lr nor of --dask).
    """
    helps = helps or {}
    decorators = [(field.name, _training_option(field, helps.get(field.name)))
                  for field in dataclasses.fields(TrainOptions)]
    decorators += [
        ("progress", click.option("--progress", type=click.Choice(PROGRESS_MODES), default="auto", show_default=True,
                                  help="auto: bars on a terminal, plain lines otherwise. bar: bars, which need a "
                                       "terminal: elsewhere (cron, a log file) plain lines too. none: no progress "
                                       "or log lines, as -q.")),
        ("quiet", click.option("-q", "--quiet", is_flag=True, help="No progress or log output.")),
        ("verbose", click.option("-v", "--verbose", is_flag=True,
                                 help="Also log the Numba threading layer, threads and kernel cache.")),
    ]

    def apply(f):
        for name, decorate in reversed(decorators):
            if name not in without:
                f = decorate(f)
        return f

    return apply


def training_kwargs(kwargs: dict) -> dict:
    """The TrainOptions keywords among a command's parameters (``--no-shuffle`` read as ``shuffle``)."""
    out = {name: kwargs.pop(name) for name in list(kwargs) if name in _FIELDS}
    if "no_shuffle" in kwargs:
        out["shuffle"] = not kwargs.pop("no_shuffle")
    return out


def parse_batch_sizes(text: str) -> list[int | None]:
    """``1,32,256,full`` as [1, 32, 256, None]; InputError naming --batch-sizes otherwise."""
    out: list[int | None] = []
    for item in (t.strip() for t in text.split(",")):
        if item.lower() == "full":
            out.append(None)
            continue
        try:
            value = int(item)
        except ValueError:
            raise InputError(f"--batch-sizes: {item!r} is neither a positive integer nor 'full'") from None
        if value < 1:
            raise InputError(f"--batch-sizes: batch sizes must be >= 1, got {value}")
        if value > MAX_INT:
            raise InputError(f"--batch-sizes: {value} is more than 64 bits hold (at most {MAX_INT})")
        out.append(value)
    return out


def parse_lrs(text: str) -> list[float | str]:
    """``0.01,0.1,auto`` as [0.01, 0.1, "auto"]; InputError naming --lrs otherwise."""
    out: list[float | str] = []
    for item in (t.strip() for t in text.split(",")):
        if item.lower() == "auto":
            out.append("auto")
            continue
        try:
            value = float(item)
        except ValueError:
            raise InputError(f"--lrs: {item!r} is neither a number nor 'auto'") from None
        if not (value > 0 and value != float("inf")):
            raise InputError(f"--lrs: learning rates must be finite and > 0, got {item}")
        out.append(value)
    return out


class Grid(click.ParamType):
    """A sweep's grid (--batch-sizes, --lrs): the comma-separated text as given, parsed by the command; from a
    --config file also a TOML list of the items the text takes (numbers, "full", "auto"), or one of them."""

    takes_list = True  # config.py: a TOML list is this option's value, not a mistake

    def __init__(self, name: str, parse, integral: bool = False):
        self.name, self.parse, self.integral = name, parse, integral  # integral: config.py refuses 2.5

    def to_config(self, value):
        """The text as --config takes it back: a list of its items (one item alone), or the text that does not
        parse, as given (the run refuses it)."""
        if not isinstance(value, str):
            return value
        try:
            items = self.parse(value)
        except InputError:
            return value
        shown = ["full" if item is None else item for item in items]
        return shown[0] if len(shown) == 1 else shown

    def convert(self, value, param, ctx):
        if isinstance(value, str):
            return value
        items = value if isinstance(value, list) else [value]
        if not items:
            self.fail("an empty list; give at least one value", param, ctx)
        texts = []
        for item in items:
            if isinstance(item, float) and self.integral and item.is_integer():
                item = int(item)
            if isinstance(item, bool) or not isinstance(item, (int, float, str)):
                self.fail(f"expected {self.name}, numbers or strings, got {item!r} in the list", param, ctx)
            texts.append(repr(item) if isinstance(item, float) else str(item))
        text = ",".join(texts)
        try:
            self.parse(text)
        except InputError as exc:  # "--batch-sizes: ...": config.py names the file and key instead
            self.fail(str(exc).partition(": ")[2], param, ctx)
        return text


BATCH_GRID = Grid("batch sizes", parse_batch_sizes, integral=True)
RATE_GRID = Grid("learning rates", parse_lrs)
