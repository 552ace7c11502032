"""A signal while the process imports the command line (about a tenth of a second after start, before the
command's own handlers exist) ends it with the one line and 128 + the signal, as later: it gave a
KeyboardInterrupt traceback and exit 1 (SIGINT) or death by the signal (SIGTERM, SIGHUP).  Real subprocesses,
through ``python -m sgdcli`` and the console script's entry point as pyproject.toml names it.

The signal is sent once the import of click (the command line's first) has begun, which a finder put before
the entry point announces and draws out: a signal sent at a fixed delay after start lands there only as the
machine's load allows, and before it, in the interpreter's own start, no code of sgdcli's can help."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT

# Run before the entry point: the import of click (the command line's first) announces itself by creating the
# file argv[1], then takes 30 s, so that the signal lands in it however loaded the machine is.
SLOW_IMPORT = """
import importlib.abc, os, sys, time
MARKER = sys.argv[1]
class Slow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "click":
            sys.meta_path.remove(self)
            open(MARKER, "w").close()
            time.sleep(30)
        return None
sys.meta_path.insert(0, Slow())
sys.argv = ["sgdcli"] + sys.argv[2:]
"""


def console_entry() -> str:
    """``module:function`` of the ``sgdcli`` script in pyproject.toml."""
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as fh:
        return re.search(r'^sgdcli = "([\w.]+:\w+)"', fh.read(), re.M).group(1)


def entries():
    module, function = console_entry().split(":")
    return {"python -m sgdcli": "import runpy; runpy.run_module('sgdcli', run_name='__main__', alter_sys=True)",
            "console script": f"import sys; from {module} import {function}; sys.exit({function}())"}


def start(tmp_path, entry: str, *args):
    env = {k: v for k, v in os.environ.items() if k != "SGDCLI_DEBUG"}
    marker = tmp_path / "importing"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_IMPORT + entries()[entry], str(marker), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as a shell starts it
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the command line was not imported within 60 s"
        time.sleep(0.005)
    return proc


@pytest.mark.parametrize("entry", ["python -m sgdcli", "console script"])
@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_while_the_command_line_is_imported_ends_with_the_line_and_its_exit_code(tmp_path, entry, signum,
                                                                                           code):
    proc = start(tmp_path, entry, "info", "data.h5")
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out, err) == (
        code, "", f"sgdcli: stopped by {signal.Signals(signum).name} before finishing; no partial output file was "
                  "left\n")


def test_an_ignored_signal_stays_ignored_while_the_command_line_is_imported(tmp_path):
    """nohup's SIGHUP: the command runs on (here, to its error about the missing file)."""
    env = {k: v for k, v in os.environ.items() if k != "SGDCLI_DEBUG"}
    marker = tmp_path / "importing"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_IMPORT.replace("time.sleep(30)", "time.sleep(1)")
                             + entries()["console script"], str(marker), "info", "data.h5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.005)
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "data.h5" in err and "stopped" not in err, err


NO_NUMBA = """
import sys
sys.argv = ["sgdcli", "--help"]
try:
    {entry}
except SystemExit:
    pass
print(",".join(m for m in ("numba", "llvmlite", "h5py") if m in sys.modules), file=sys.stderr)
"""


@pytest.mark.parametrize("entry", ["python -m sgdcli", "console script"])
def test_help_through_the_entry_points_imports_neither_numba_nor_h5py(entry):
    proc = subprocess.run([sys.executable, "-c", NO_NUMBA.format(entry=entries()[entry])], capture_output=True,
                          text=True, timeout=60)
    assert "Usage: sgdcli" in proc.stdout and proc.stderr.splitlines()[-1] == "", proc.stderr
