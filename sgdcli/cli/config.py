"""Settings from a TOML file and from the environment, for every command.

Each command's options can come from four places; the first that has a value
wins:

1. the command line;
2. the environment, ``SGDCLI_<COMMAND>_<OPTION>`` (``SGDCLI_TRAIN_BATCH_SIZE=256``);
3. the table of that command in ``--config FILE.toml`` (``[train]``, then
   ``batch_size = 256``: option names with underscores);
4. the default.

Click implements the order: the environment through ``auto_envvar_prefix``
and the file through the context's ``default_map``, which ``--config`` (an
eager option, processed before the others) fills in.  Every key of the file
is checked against the command's options and converted with the option's own
type before anything runs, so a typo or a bad value is one line naming the
file, the table and the key.  The environment takes the same settings as the
file (and ``SGDCLI_<COMMAND>_CONFIG``, the file itself), and nothing else:
every other variable of the command, an argument's or ``--print-config``'s
included, is refused, as a key the file does not take is.
``--print-config`` prints the settings that result, with where each came
from, as TOML, and exits; before that it makes the checks of those settings
that the command makes before it opens anything (its ``check``, given to
``cli.params.command``: train's builds ``TrainOptions``), so that a setting
the run would refuse is refused with the same line, exit 2, by day.
"""

from __future__ import annotations

import datetime
import difflib
import json
import math
import os
import re
import tomllib

import click
from click.core import ParameterSource

from sgdcli.cli import argtext
from sgdcli.cli.environment import check_hdf5_driver, check_numba_environment, check_threading_layer
from sgdcli.errors import InputError, utf8_text
from sgdcli.reporting.reporter import printable

ENV_PREFIX = "SGDCLI"
_NOT_SETTINGS = {"config", "print_config", "help"}


def settings(command: click.Command) -> dict[str, click.Option]:
    """The options of ``command`` that a file or the environment may set, by name."""
    return {p.name: p for p in command.params if isinstance(p, click.Option) and p.name not in _NOT_SETTINGS
            and p.expose_value}


def environment_names(command: click.Command) -> set[str]:
    """What ``SGDCLI_<COMMAND>_<NAME>`` may set: the settings a file takes, and the file itself (``--config``).

    Nothing else: an export left in a cron wrapper (``SGDCLI_TRAIN_PRINT_CONFIG=1``, a help flag) would turn every
    run into one that does nothing and exits 0, and arguments stay on the command line."""
    return set(settings(command)) | {"config"}


def command_line_only(option: click.Option | None) -> click.Option | None:
    """``option``, which click then never reads from the environment (its auto_envvar_prefix)."""
    if option is not None:
        option.allow_from_autoenv = False
    return option


def environment_variable(ctx: click.Context, param: click.Parameter) -> str:
    """The variable ``SGDCLI_<COMMAND>_<OPTION>`` that sets ``param`` of ``ctx``'s command."""
    return param.envvar or f"{ctx.auto_envvar_prefix}_{param.name.upper()}"


def load(path: str, ctx: click.Context, given: str | None = None) -> dict:
    """The checked table of ``ctx``'s command in the TOML file ``path``, values as the options take them.

    ``given`` is how the file was named in errors about the file as a whole: ``--config PATH`` by default."""
    given = given or f"--config {path}"
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise InputError(f"{given}: cannot read it ({exc.strerror or exc})") from None
    try:  # (a byte-order mark, which some editors write, is no TOML: left out, as CSV input leaves it out)
        document = tomllib.loads(utf8_text(raw, given, "a TOML file").removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{given}: not valid TOML ({exc})") from None
    commands = _commands(ctx)
    for key, value in document.items():
        if not isinstance(value, dict):
            raise InputError(f"{path}: key {key!r} is outside any table; put it under [{ctx.info_name}] or "
                             f"another command's table")
        if key not in commands:
            raise InputError(f"{path}: unknown table [{key}] (the commands are {', '.join(sorted(commands))})")
    for name, table in document.items():  # every table is checked, not only the running command's
        options = settings(commands[name])
        for key, value in table.items():
            if key not in options:
                hint = f"; did you mean {key.replace('-', '_')!r}?" if key.replace("-", "_") in options else ""
                raise InputError(f"{path}: [{name}] unknown key {key!r}{hint}")
            _check_value(path, name, key, options[key], value, ctx)
    options = settings(ctx.command)
    return {key: _as_option_value(value, options[key]) for key, value in document.get(ctx.info_name, {}).items()}


def _commands(ctx: click.Context) -> dict[str, click.Command]:
    group = ctx.parent.command if ctx.parent is not None else ctx.command
    if isinstance(group, click.Group):
        return {name: group.get_command(ctx.parent, name) for name in group.list_commands(ctx.parent)}
    return {ctx.info_name: ctx.command}


def _as_option_value(value, option: click.Option):
    if option.multiple and not isinstance(value, list):
        return [value]
    return value


def _check_value(path: str, table: str, key: str, option: click.Option, value, ctx: click.Context) -> None:
    if isinstance(value, dict):
        raise InputError(f"{path}: [{table}] {key}: expected a value, got a table")
    if isinstance(value, list) and not option.multiple and option.nargs == 1 and not getattr(option.type, "takes_list",
                                                                                             False):
        raise InputError(f"{path}: [{table}] {key}: expected one value, got a list")
    # Click converts 2.5 to the integer 2 and true to 1 without a word; a file gets no such leeway.
    expected = f"{path}: [{table}] {key}: expected {option.type.name}, got"
    for item in value if isinstance(value, list) else [value]:
        flag, path_type = isinstance(option.type, click.types.BoolParamType), isinstance(option.type, click.Path)
        if (isinstance(item, bool) and not flag) or (flag and not isinstance(item, bool | str)) or (
                path_type and not isinstance(item, str)) or isinstance(item, datetime.date | datetime.time):
            # (a flag's 1, a path's 1, a date anywhere: click's conversions fail on them with no message)
            raise InputError(f"{expected} {_spelled(item)}")
        integral = isinstance(option.type, click.types.IntParamType) or getattr(option.type, "integral", False)
        if isinstance(item, float) and integral and not item.is_integer():
            raise InputError(f"{path}: [{table}] {key}: expected a whole number, got {item!r}")
    try:
        option.type_cast_value(ctx, _as_option_value(value, option))
    except click.BadParameter as exc:
        raise InputError(f"{path}: [{table}] {key}: {_reworded(exc, option, value)}") from None
    except (TypeError, ValueError, AttributeError):  # a conversion that fails on a TOML type with no message
        raise InputError(f"{expected} {_spelled(value)}") from None


def _reworded(exc: click.BadParameter, param: click.Parameter, value) -> str:
    """click's message for a bad ``value`` of ``param`` from a file or variable, where it says too little:
    a boolean's lists the words it takes with an empty one first (an empty variable is unset)."""
    if isinstance(param.type, click.types.BoolParamType):
        return f"{value!r} is not a valid boolean: give true or false (or 1 or 0, yes or no, on or off)"
    return exc.message


def _spelled(item) -> str:
    """A TOML value as the file spells it: true, 1, 1.5, "text", 1979-05-27, [1, 2]."""
    if isinstance(item, bool):
        return str(item).lower()
    if isinstance(item, list):
        return f"[{', '.join(_spelled(v) for v in item)}]"
    return json.dumps(item) if isinstance(item, str) else item.isoformat() if hasattr(item, "isoformat") else repr(item)


def config_option(f):
    """``--config FILE.toml``: read this command's table into the context's defaults."""

    def use(ctx: click.Context, param: click.Parameter, value):
        if value is None or ctx.resilient_parsing:
            return
        given = None
        if ctx.get_parameter_source(param.name) is ParameterSource.ENVIRONMENT:
            given = f"{environment_variable(ctx, param)}={value}"
        ctx.default_map = {**(ctx.default_map or {}), **load(value, ctx, given)}
        ctx.meta["sgdcli.config"] = value

    return click.option("--config", type=argtext.Path(dir_okay=False, read=True), is_eager=True, expose_value=False,
                        callback=use, metavar="FILE.toml",
                        help="Read option defaults from this command's table of a TOML file "
                             "(precedence: command line, then SGDCLI_<COMMAND>_<OPTION>, then the file).")(f)


def print_config_option(f):
    """``--print-config``: the command prints its effective settings instead of running."""

    def remember(ctx: click.Context, param: click.Parameter, value):
        if value:
            ctx.meta["sgdcli.print_config"] = True

    return click.option("--print-config", is_flag=True, expose_value=False, callback=remember,
                        help="Print the effective settings as TOML, with where each came from, and exit; values the "
                             "command refuses, alone or together, are refused the same way (exit 2), and so is an "
                             "output of train, convert or predict that cannot be written (judged without creating "
                             "a file); not whether inputs exist, nor what they hold.")(f)


class ConfiguredCommand(click.Command):
    """A command whose options come from the environment and ``--config`` as well, and that honours
    ``--print-config`` after they are resolved.  ``check(**params)``, where given, raises InputError for the
    settings that the command refuses before it opens any file (the command makes those checks itself, with
    it); ``--print-config`` calls it before printing."""

    def __init__(self, *args, check=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.check = check
        allowed = environment_names(self)
        for param in self.params:
            if isinstance(param, click.Option) and param.name not in allowed:
                command_line_only(param)

    def get_help_option(self, ctx: click.Context):
        return command_line_only(super().get_help_option(ctx))

    def parse_args(self, ctx: click.Context, args):
        args = _refuse_negative_values(self, ctx, args)
        try:
            return super().parse_args(ctx, args)
        except click.MissingParameter:  # SGDCLI_TRAIN_DATA=x.h5 with no DATA: the variable is what is wrong
            check_environment_names(ctx)
            raise
        except click.BadParameter as exc:  # click names the option, as if the bad value had been typed
            if exc.param is None or ctx.get_parameter_source(exc.param.name) is not ParameterSource.ENVIRONMENT:
                raise
            name = environment_variable(ctx, exc.param)
            raise InputError(f"{name}: {_reworded(exc, exc.param, os.environ.get(name))}") from None

    def invoke(self, ctx: click.Context):
        check_environment_names(ctx)  # first: --print-config refuses what the run would refuse
        try:
            if ctx.meta.get("sgdcli.print_config"):
                if self.check is not None:
                    self.check(**ctx.params)
                click.echo(render(ctx))
                return None
            check_numba_environment()  # here, not at start-up: --help and completion do not depend on it
            check_hdf5_driver()
            check_threading_layer()
            return super().invoke(ctx)
        except InputError as exc:  # "--lr: must be > 0": where the value came from, if not the command line
            exc.args = (_sourced(ctx, str(exc)), *exc.args[1:])
            raise


def _sourced(ctx: click.Context, message: str) -> str:
    """``message``, where it opens with an option that the environment or a config file set, with where:
    "--lr (from SGDCLI_TRAIN_LR): ..." or "--lr (from cf.toml [train] lr): ..."; the command line's as it is."""
    opened = re.match(r"--[a-z][a-z0-9-]*(?![\w-])|-[a-zA-Z](?![\w-])", message)  # (plot's -o too)
    param = next((p for p in ctx.command.params if opened and opened.group(0) in p.opts), None)
    source = ctx.get_parameter_source(param.name) if param is not None else None
    if source is ParameterSource.ENVIRONMENT:
        where = environment_variable(ctx, param)
    elif source is ParameterSource.DEFAULT_MAP and ctx.meta.get("sgdcli.config"):
        where = f"{ctx.meta['sgdcli.config']} [{ctx.info_name}] {param.name}"
    else:
        return message
    return f"{opened.group(0)} (from {where}){message[opened.end():]}"


def check_environment_names(ctx: click.Context, environ=os.environ) -> None:
    """InputError for a variable SGDCLI_<COMMAND>_<NAME> of this command whose NAME is none of the settings the
    environment takes (environment_names): click passes over it, so a typo in a cron job's environment would
    silently leave the default in force, where the same typo in a --config file is refused."""
    prefix = f"{ctx.auto_envvar_prefix or ENV_PREFIX + '_' + ctx.info_name.upper()}_"
    names = sorted(name.upper() for name in environment_names(ctx.command))
    for variable in sorted(environ):
        if variable.startswith(prefix) and variable[len(prefix):] not in names:
            given = variable[len(prefix):].lower()
            param = _parameter(ctx, given)
            if isinstance(param, click.Argument):
                raise InputError(f"{variable}: {param.human_readable_name} is an argument of {ctx.info_name}, "
                                 f"taken only on the command line")
            if param is not None:
                raise InputError(f"{variable}: {max(param.opts, key=len)} is taken only on the command line, not "
                                 f"from the environment")
            flag = "--" + given.replace("_", "-")
            if ctx.parent is not None and any(flag in p.opts for p in ctx.find_root().command.params):  # --version
                raise InputError(f"{variable}: {flag} is an option of sgdcli itself ({ctx.find_root().info_name} "
                                 f"{flag}), taken only on the command line")
            close = difflib.get_close_matches(given.upper(), names, n=1)
            hint = f"; did you mean {prefix}{close[0]}?" if close else ""
            raise InputError(f"{variable}: {ctx.info_name} has no option --{given.replace('_', '-')}{hint}")


def _parameter(ctx: click.Context, name: str) -> click.Parameter | None:
    """The parameter of ``ctx``'s command called ``name`` (or whose option is ``--name``), if there is one."""
    flag = "--" + name.replace("_", "-")
    return next((p for p in ctx.command.get_params(ctx) if p.name == name or flag in p.opts), None)


def render(ctx: click.Context) -> str:
    """``[command]`` and one ``key = value  # source`` line per option, arguments as comments."""
    lines = [f"[{ctx.info_name}]"]
    rows = []
    for param in ctx.command.params:
        if param.name in _NOT_SETTINGS or not param.expose_value:
            continue
        value = ctx.params.get(param.name)
        text = _toml(value, param)
        key = f"{param.name} = {text}" if text is not None else f"# {param.name} is unset"
        if isinstance(param, click.Argument):
            key = f"# {param.name} = {text}"
        rows.append((key, _source(ctx, param)))
    width = max(len(key) for key, _ in rows)
    lines += [f"{key:<{width}}  # {printable(source)}" for key, source in rows]  # a --config path is any name
    return "\n".join(lines)


def _source(ctx: click.Context, param: click.Parameter) -> str:
    source = ctx.get_parameter_source(param.name)
    if isinstance(param, click.Argument):
        return "argument"
    if source == ParameterSource.COMMANDLINE:
        return "command line"
    if source == ParameterSource.ENVIRONMENT:
        return f"environment {environment_variable(ctx, param)}"
    if source == ParameterSource.DEFAULT_MAP:
        where = ctx.meta.get("sgdcli.config")
        return f"config {where} [{ctx.info_name}]" if where else "config"
    return "default"


def _toml(value, param: click.Parameter) -> str | None:
    """``value`` as a TOML value, or None when the option is unset."""
    to_config = getattr(param.type, "to_config", None)
    if to_config is not None:
        value = to_config(value)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, (list, tuple)):
        items = [_toml(v, param) for v in value]
        return "[" + ", ".join(i for i in items if i is not None) + "]"
    return _string(str(value), param)


def _string(text: str, param: click.Parameter) -> str:
    """``text`` as a TOML string; InputError if TOML cannot hold it (an argument is a comment, and shown escaped).

    TOML is UTF-8 only: a file name of bytes that are not UTF-8 (Python holds them as surrogates) has no TOML
    spelling, and written raw it made a file that --config refuses."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        if isinstance(param, click.Argument):
            return f'"{printable(text)}"'
        raise InputError(f"--print-config: {max(param.opts, key=len)} '{printable(text)}' is not UTF-8 text, which "
                         f"TOML cannot hold, so no --config file can reproduce it") from None
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")  # JSON leaves DEL raw; TOML does not


def _refuse_negative_values(command: click.Command, ctx: click.Context, args: list[str]) -> list[str]:
    """A negative number given to an option whose value may be left out (``Number(optional=...)``: --wait-lock),
    refused as its type refuses it: click takes no value that starts with "-" there, and said "No such option
    '-1'" to --wait-lock -1 and to --wait-lock=-1 alike; ``args`` with -0, which its range takes, as 0."""
    optional = [p for p in command.params if isinstance(p, click.Option) and getattr(p.type, "optional", None)]
    args = list(args)
    for i, arg in enumerate(args):
        if arg == "--":
            break
        for param in optional:
            for name in param.opts:
                value = arg[len(name) + 1:] if arg.startswith(name + "=") else \
                    args[i + 1] if arg == name and i + 1 < len(args) else None
                if value is not None and value.startswith("-") and _is_number(value):
                    param.type.convert(value, param, ctx)  # (before parsing no source is set: a range's refusal)
                    if arg == name:  # -0, in range: as 0
                        args[i + 1] = value[1:]
                    else:
                        args[i] = f"{name}={value[1:]}"
    return args


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True

