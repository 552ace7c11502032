"""The command line's entry point: the ``sgdcli`` group, and every failure turned into one line and an exit code.

The commands live in *_commands.py; each imports only click and the light
parts of sgdcli at load time, and the rest through the public API when it
runs, so ``--help`` and shell completion never load numba.  Errors end as
one line on stderr and an exit code: 2 for bad usage or input, 1 for a
runtime failure, 3 for a failed quality gate (errors.py has the rest).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import warnings

import click

from sgdcli import errors
from sgdcli.cli.config import ENV_PREFIX, command_line_only
from sgdcli.cli.data_commands import convert_cmd, generate_cmd, info_cmd
from sgdcli.cli.environment import address_space_hint, limit_failure
from sgdcli.cli.model_commands import evaluate_cmd, predict_cmd, show_cmd
from sgdcli.cli.plot_command import plot_cmd
from sgdcli.cli.streams import standard_streams
from sgdcli.cli.train_commands import sweep_cmd, train_cmd
from sgdcli.reporting.reporter import printable


class Sgdcli(click.Group):
    """A group whose ``main`` never lets an exception through: one line on stderr and the exit code."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        code = _run(lambda: super(Sgdcli, self).main(args, prog_name or "sgdcli", complete_var,
                                                     standalone_mode=False, **extra))
        if errors.hard_exit_required() or (_ending and _signalled):
            # An output write failed and HDF5 cannot safely close that file; or a signal stopped the command:
            # its exception, raised wherever the main thread was, can land between a worker thread's start and
            # its executor's bookkeeping, and the teardown then waits for that thread forever.  Leave without
            # the teardown (the temporary file is already gone; the command's clean-up ran as it unwound).
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(AttributeError, OSError, ValueError):  # None where closed at start
                    stream.flush()
            os._exit(code or 1)
        sys.exit(code or 0)

    def get_help_option(self, ctx):
        # SGDCLI_HELP (SGDCLI__CLICK_DEFAULT_HELP in click 8.5) would otherwise make every command print this help
        # and exit 0; the group's own options, --version too, come from the command line only
        return command_line_only(super().get_help_option(ctx))

    def invoke(self, ctx):
        try:
            result = super().invoke(ctx)
        except KeyboardInterrupt as exc:  # past click's main, which would print an empty line and raise Abort
            raise _CtrlC() from exc
        except MemoryError as exc:
            raise _OutOfMemory(self.get_command(ctx, ctx.invoked_subcommand or "")) from exc
        _command_done()
        return result


class _CtrlC(Exception):
    """Ctrl-C (SIGINT) while a command ran."""


class _OutOfMemory(Exception):
    """A MemoryError while ``command`` ran; the message names those of its options that bound its memory."""

    BOUNDS = ("--memory", "--batch-size")

    def __init__(self, command: click.Command | None):
        options = {opt for param in (command.params if command else ()) for opt in param.opts}
        self.hint = " or ".join(option for option in self.BOUNDS if option in options)
        raise_limit = address_space_hint()
        super().__init__("out of memory" + (f"; lower {self.hint}" if self.hint else "")
                         + (f"{', or' if self.hint else ';'} {raise_limit}" if raise_limit else ""))


def _print_versions(ctx, param, value):
    if not value or ctx.resilient_parsing:
        return
    from sgdcli.versions import versions

    for name, version in versions().items():
        click.echo(f"{name} {version}")
    ctx.exit()


@click.group("sgdcli", cls=Sgdcli, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100,
                                                      "auto_envvar_prefix": ENV_PREFIX})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_versions,
              allow_from_autoenv=False,
              help="Print the versions of sgdcli, Python, NumPy, Numba, h5py and HDF5, one per line, and exit.")
def main_group():
    """Train linear models by mini-batch SGD on HDF5 files larger than memory.

    Data streams from memory-mapped or chunk-read HDF5 files; gradients run in
    compiled parallel kernels. Results go to stdout, progress and logs to stderr.
    """


for _command in (generate_cmd, info_cmd, train_cmd, sweep_cmd, convert_cmd, plot_cmd, predict_cmd, evaluate_cmd,
                 show_cmd):
    main_group.add_command(_command)


def _error(prefix: str, message: str, layout: bool = False) -> None:
    click.echo(f"{prefix}: error: {_printable(message, layout)}", err=True)


def _printable(message, layout: bool = False) -> str:
    """``message`` as one line, its characters that do not print (a name read from a file or given, with an escape
    sequence or a newline in it) written as escapes (\\x1b, \\n: reporting's ``printable``), so that they can
    neither drive the terminal nor vanish from the line, as click strips escape sequences off a terminal.
    ``layout``: a text whose line breaks and indents are its layout (click's own messages, an exception's from
    elsewhere), whose runs of white space become one space first; sgdcli's own messages are one line, so a
    newline in them is a name's."""
    return printable(" ".join(str(message).split()) if layout else str(message).strip())


# What click (8.2 and later) raises for a group given no command; its message is the whole help, which one error
# line would flatten.  (click 8.1 prints the help on stdout and exits 0 itself.)
_NO_COMMAND = getattr(click.exceptions, "NoArgsIsHelpError", ())


def _run(invoke) -> int:
    """Call ``invoke`` (click's own main, not standalone) and turn every way it can fail into a line and a code."""
    with standard_streams():  # the error line too: a stderr that cannot be written loses it, not the exit code
        return _ended(invoke)


def _ended(invoke) -> int:
    try:
        with _warnings_as_lines(), _sigterm_unwinds():
            code = invoke()
            sys.stdout.flush()  # a full disk under stdout fails here, not in the interpreter's teardown
            return code
    except (errors.Terminated, KeyboardInterrupt, _CtrlC) as exc:  # a KeyboardInterrupt: training's second SIGINT
        global _signalled
        _signalled = True
        stop = exc if isinstance(exc, errors.Terminated) else errors.Terminated(signal.SIGINT)
        click.echo(f"sgdcli: stopped by {stop.signal_name} before finishing; {_printable(stop.left)}", err=True)
        return stop.exit_code
    except _NO_COMMAND as exc:  # `sgdcli` alone: the help, as --help prints it, then the error line, on stderr
        click.echo(exc.ctx.get_help() + "\n", err=True)
        _error("sgdcli", "no command given; the commands are listed above")
        return exc.exit_code
    except click.UsageError as exc:
        prefix = exc.ctx.command_path if exc.ctx else "sgdcli"
        _error(prefix, f"{exc.format_message()} (see '{prefix} --help')", layout=True)
        return exc.exit_code
    except click.ClickException as exc:
        _error("sgdcli", exc.format_message(), layout=True)
        return exc.exit_code
    except click.Abort:
        _error("sgdcli", "aborted")
        return 130
    except errors.Interrupted as exc:  # not an error: the run stopped where asked, with a checkpoint
        click.echo(f"sgdcli: {_printable(exc)}", err=True)
        return exc.exit_code
    except errors.SgdcliError as exc:
        if getattr(exc, "lost", None) is not None:  # a failed gate on results that stdout lost: both lines
            _error("sgdcli", str(exc.lost))
        _error("sgdcli", str(exc))
        return exc.exit_code
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away; nothing more to say
        return 1
    except _OutOfMemory as exc:  # (a MemoryError outside a command names no option)
        _error("sgdcli", str(exc))
        return 1
    except MemoryError:
        raise_limit = address_space_hint()
        _error("sgdcli", "out of memory" + (f"; {raise_limit}" if raise_limit else ""))
        return 1
    except Exception as exc:  # a bug: still one line, unless asked for the traceback
        limited = limit_failure(exc)  # ulimit -v, too small for Numba's compiler or a thread; no thread left
        if limited is not None:
            _error("sgdcli", limited)
            return 1
        if os.environ.get("SGDCLI_DEBUG"):
            raise
        _error("sgdcli", f"internal error: {type(exc).__name__}: {exc} (set SGDCLI_DEBUG=1 for a traceback)",
               layout=True)
        return 1


@contextlib.contextmanager
def _warnings_as_lines():
    """Every warning shown while a command runs (sgdcli's, Numba's, NumPy's) is one line, not Python's two."""
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        yield


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """sgdcli's own warnings whole (one line, where a newline is a name's); others' (Numba's, NumPy's) their first
    line."""
    if category.__module__.split(".")[0] == "sgdcli":
        text = str(message)
    else:
        text = (str(message).strip().splitlines() or [category.__name__])[0]
    click.echo(f"sgdcli: warning: {_printable(text)}", err=True)


# SIGINT (Ctrl-C), and SIGHUP, what a closed terminal or ssh session sends a job started without nohup: handled as
# SIGTERM is.
_UNWINDING = (signal.SIGTERM, signal.SIGINT) + ((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ())


class _Termination:
    """SIGTERM, SIGINT or SIGHUP raises errors.Terminated once, and again if Python dropped it; later ones are
    ignored.

    Ignored so that they cannot cut the clean-up short.  Python drops an
    exception raised in a ``__del__`` or a weakref callback (it only reports
    it to ``sys.unraisablehook``): then a thread sends the signal again a
    moment later, to land in the code that runs next.  So is a dropped
    KeyboardInterrupt, what training's second SIGINT raises
    (training/signals.py).  (SIGINT once went to Python's own handler, whose
    KeyboardInterrupt, dropped so, let the command go on and exit 0.)
    """

    RETRY_SECONDS = 0.005

    def __init__(self, previous_hook):
        self.armed, self.dropped, self.active = True, False, True
        self.hooked = False  # unraisable_hook is running: a signal sent again now would be dropped with it
        self.previous_hook = previous_hook
        self.signum = signal.SIGTERM

    def handler(self, signum, frame):
        if self.armed and not errors.are_results_written():
            self.armed, self.dropped, self.signum = False, False, signum
            raise errors.Terminated(signum)

    def unraisable_hook(self, unraisable):
        dropped = unraisable.exc_value
        if not isinstance(dropped, (errors.Terminated, KeyboardInterrupt)):
            self.previous_hook(unraisable)
            return
        self.signum = dropped.signum if isinstance(dropped, errors.Terminated) else signal.SIGINT
        self.dropped, self.hooked = True, True
        try:
            threading.Thread(target=self._send_again, daemon=True).start()
        finally:
            self.hooked = False

    def _send_again(self):
        # not before the hook has returned: on a busy machine the main thread can still be waiting in Thread.start
        # when the retry is due, and what the handler raised there was dropped too (the command exited 0)
        time.sleep(self.RETRY_SECONDS)
        while self.hooked:
            time.sleep(self.RETRY_SECONDS)
        if self.active and self.dropped:
            self.armed = True
            os.kill(os.getpid(), self.signum)


@contextlib.contextmanager
def _sigterm_unwinds():
    """While a command runs, SIGTERM, SIGINT and SIGHUP raise errors.Terminated, which unwinds it (exit 143, 130,
    129).

    ``train`` replaces the handler while it trains (training/signals.py: stop
    at the next safe point with a checkpoint); this one covers every other
    command and the moments before and after.  Compiled code hands the
    exception back wrapped (numba's dispatcher: "SystemError: ... returned a
    result with an exception set"); it is unwrapped here.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    term = _Termination(sys.unraisablehook)
    errors.results_written(False)
    # a signal the parent ignores stays ignored: nohup's SIGHUP, a script's background job's SIGINT
    previous = {signum: signal.signal(signum, term.handler) for signum in _UNWINDING
                if signal.getsignal(signum) is not signal.SIG_IGN}
    sys.unraisablehook = term.unraisable_hook
    try:
        yield
        if term.dropped:  # the command ended before the signal came again
            raise errors.Terminated(term.signum)
    except Exception as exc:
        signalled = _signal_behind(exc)
        if signalled is None:
            raise
        raise (errors.Terminated(signalled.signum) if isinstance(signalled, errors.Terminated)
               else KeyboardInterrupt()) from None
    finally:
        term.armed = term.active = False  # a signal from here on comes too late to stop anything
        sys.unraisablehook = term.previous_hook
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_IGN if _ending else handler)


def _command_done() -> None:
    """The command has done its work (what is left is flushing its output and unwinding): SIGTERM, SIGINT and
    SIGHUP no longer stop it (_Termination reads errors.are_results_written)."""
    errors.results_written()


def _signal_behind(exc: BaseException):
    """The KeyboardInterrupt or errors.Terminated among the causes of ``exc``, if there is one."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, (KeyboardInterrupt, errors.Terminated)):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def main(argv=None) -> None:
    """Console entry point (``sgdcli``, ``python -m sgdcli``)."""
    global _ending
    _ending = True
    main_group.main(args=argv, prog_name="sgdcli")


# Whether this process is the command line's, which ends with its command: then, the command over and its exit
# code set, SIGTERM, SIGHUP and SIGINT are ignored (_sigterm_unwinds), so that one arriving in the interpreter's
# teardown, which takes a few tenths of a second, cannot kill the process and turn a finished run into 143 with
# its checkpoint already gone.  Not in-process callers (the tests' CliRunner), whose handlers are restored.
_ending = False
# Whether a signal's exception stopped the command (_run), which the command line's process then leaves with
# os._exit (Sgdcli.main).
_signalled = False
