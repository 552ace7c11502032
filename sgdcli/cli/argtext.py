"""The text options (names of columns, datasets and classes, CSV fields) read as UTF-8 whatever the locale.

Python decodes the command line and the environment in the locale's
encoding and holds each byte it cannot decode as a lone surrogate
(surrogateescape).  Under an ASCII locale without Python's UTF-8 mode
(``LC_ALL=C PYTHONUTF8=0``, as some cron daemons and containers start jobs),
``--label-column étiquette`` arrived as ``'\\udcc3\\udca9tiquette'`` and
matched no column, while the names inside the files are UTF-8 (HDF5's names
and text, CSV headers as read).  So a text option's value that holds such
bytes is read again: its bytes (``os.fsencode`` gives back those of the
command line) decoded as UTF-8.  Where they are not UTF-8 either, the value
stays as Python holds it, matches nothing, and a message shows those bytes
as ``\\xe9`` (reporting's ``printable``).

File names are bytes, opened as they were given: they are options and
arguments of this module's ``Path`` (click's, declared so), whose values
this leaves alone; only click's refusal of one (``-o`` an existing
directory) quotes the name so that the error line shows its bytes, as
sgdcli's own lines do.
"""

from __future__ import annotations

import os

import click

import sgdcli
from sgdcli.errors import EMPTY_PATH


def as_utf8(value: str) -> str:
    """``value`` from the command line or the environment with the bytes the locale could not decode read as
    UTF-8, where they are; else ``value`` as it is."""
    if not any("\udc80" <= c <= "\udcff" for c in value):
        return value
    try:
        return os.fsencode(value).decode("utf-8")
    except UnicodeError:
        return value


class Text(click.types.StringParamType):
    """click's text type (its help still says TEXT), its values read as UTF-8 (``as_utf8``)."""

    def convert(self, value, param, ctx):
        return as_utf8(super().convert(value, param, ctx))


TEXT = Text()


class Path(click.Path):
    """click's Path, whose refusals quote the name as it was given, for the error line's ``printable`` to show
    its bytes (``é``, or ``\\xe9`` where they are not UTF-8) where click's own quote turns each byte that is not
    UTF-8 into a �, which hides it.  ``read``: a file read, whose empty path is refused naming the argument or
    option (an output's is refused where it is checked, data/atomic.py)."""

    def __init__(self, *args, read: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.read = read

    def convert(self, value, param, ctx):
        if self.read and value == "":
            self.fail(EMPTY_PATH, param, ctx)
        if self.read and not self.dir_okay and isinstance(value, str) and os.path.isdir(value):
            said = sgdcli.directory_refusal(value)  # (os and json alone: --help imports no h5py)
            if said is not None:
                self.fail(f"{value!r} is {said}", param, ctx)
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as exc:
            if isinstance(value, str):
                exc.message = exc.message.replace(repr(click.utils.format_filename(value)), repr(value))
            raise


def for_any_locale(command: click.Command) -> click.Command:
    """``command`` with each of its plain text parameters (no path, no choice) of the type ``Text``, every option
    that names something inside a file, set now and later, without each having to ask for it."""
    for param in command.params:
        if type(param.type) is click.types.StringParamType:
            param.type = TEXT
    return command
