"""Under an address-space limit (``ulimit -v``, RLIMIT_AS) too small for Numba's compiler, with no thread left to
start, or no file descriptor left: one line that names the limit, exit 1, not an internal error."""

import errno
import os
import resource
import subprocess
import sys

import pytest

from conftest import ROOT, cli, make_problem, write_table

import sgdcli
from sgdcli.cli import environment

MIB = 2**20
# What a command has loaded before it imports Numba: its address space then, as /proc reports it.
BEFORE_NUMBA = """
import re
import h5py, numpy, sgdcli, sgdcli.cli.app
print(int(re.search(r"VmSize:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) * 1024)
"""


def _env():
    return {**{k: v for k, v in os.environ.items() if k != "SGDCLI_DEBUG"}, "PYTHONPATH": ROOT}


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the address space from /proc")
def test_a_limit_too_small_for_numbas_compiler_is_named_with_its_size(tmp_path):
    """llvmlite's shared library (well over 64 MiB) cannot be mapped in what is left: the loader's "Could not
    find/load shared object file 'libllvmlite.so'" was an internal error."""
    X, y = make_problem("binary", n=200, d=3, seed=1)
    data = write_table(tmp_path / "d.h5", X, y)
    before = int(subprocess.run([sys.executable, "-c", BEFORE_NUMBA], capture_output=True, text=True, env=_env(),
                                check=True, timeout=300).stdout)
    limit = (before // MIB + 64) * MIB  # the modules a command loads first, and 64 MiB more

    def limited():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "sgdcli", "train", str(data), "-o", str(tmp_path / "m.h5"), "-q"],
                          capture_output=True, text=True, env=_env(), preexec_fn=limited, timeout=300)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1, "", f"sgdcli: error: the address-space limit (ulimit -v, RLIMIT_AS) of {limit // MIB:,} MiB is too small "
               "to load Numba's compiler (llvmlite's shared library could not be mapped); Numba's compiler, its "
               "threads and NumPy need more: raise it, or lift it with ulimit -v unlimited\n")
    assert not (tmp_path / "m.h5").exists()


LLVMLITE = OSError("Could not find/load shared object file 'libllvmlite.so' from resource location: "
                   "'llvmlite.binding'.")


@pytest.mark.parametrize("limit,exc,line", [
    (300 * MIB, LLVMLITE, "the address-space limit (ulimit -v, RLIMIT_AS) of 300 MiB is too small to load Numba's "
                          "compiler (llvmlite's shared library could not be mapped); Numba's compiler, its threads "
                          "and NumPy need more: raise it, or lift it with ulimit -v unlimited"),
    (350 * MIB, RuntimeError("can't start new thread"),
     "the address-space limit (ulimit -v, RLIMIT_AS) of 350 MiB is too small to start a thread; Numba's compiler, "
     "its threads and NumPy need more: raise it, or lift it with ulimit -v unlimited"),
    # without a limit, no thread is the doing of the limits on threads (pthread_create's EAGAIN)
    (None, RuntimeError("can't start new thread"),
     "cannot start a thread: the system refused one (this user's processes and threads, ulimit -u, or a "
     "container's pids.max, are at their limit, or memory is short); retry when fewer jobs run"),
    # without a limit, or another failure under one: not the limit's doing, still an internal error
    (None, LLVMLITE, "internal error: OSError: Could not find/load shared object file 'libllvmlite.so' from "
                     "resource location: 'llvmlite.binding'. (set SGDCLI_DEBUG=1 for a traceback)"),
    (300 * MIB, OSError("[Errno 5] Input/output error"),
     "internal error: OSError: [Errno 5] Input/output error (set SGDCLI_DEBUG=1 for a traceback)"),
    (300 * MIB, RuntimeError("cannot schedule new futures after shutdown"),
     "internal error: RuntimeError: cannot schedule new futures after shutdown (set SGDCLI_DEBUG=1 for a "
     "traceback)"),
    # no file descriptor left where no input's read names it (Numba's cache, ulimit -n 13): an internal error before
    (None, OSError(errno.EMFILE, "Too many open files", "/k/__pycache__/labels.class_indices-10.py311.nbi"),
     "cannot open /k/__pycache__/labels.class_indices-10.py311.nbi (Too many open files): this process's "
     "open-file limit (ulimit -n) of {files:,} is reached; raise it, or run fewer jobs at once"),
    (None, OSError(errno.ENFILE, "Too many open files in system"),
     "cannot open a file (Too many open files in system): the system's open-file limit is reached; raise it, or "
     "run fewer jobs at once"),
    (None, OSError(errno.EMFILE, "Too many open files", 7),  # (a descriptor for its file: os.fdopen's)
     "cannot open a file (Too many open files): this process's open-file limit (ulimit -n) of {files:,} is "
     "reached; raise it, or run fewer jobs at once"),
])
def test_only_the_failures_a_limit_causes_are_said_to_be_its(tmp_path, monkeypatch, limit, exc, line):
    X, y = make_problem("binary", n=50, d=3, seed=1)
    data = write_table(tmp_path / "d.h5", X, y)

    def failing(*args, **kwargs):
        raise exc

    monkeypatch.setattr(environment, "address_space_limit", lambda: limit)
    monkeypatch.setattr(sgdcli, "configure_runtime", failing)
    said = line.format(files=resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    assert cli("train", data, "-o", tmp_path / "m.h5", "-q") == (1, "", f"sgdcli: error: {said}\n")


@pytest.mark.parametrize("command,line", [
    ("train", "out of memory; lower --memory or --batch-size, or raise the address-space limit (ulimit -v, "
              "RLIMIT_AS) of 300 MiB"),
    ("show", "out of memory; raise the address-space limit (ulimit -v, RLIMIT_AS) of 300 MiB"),
])
def test_out_of_memory_under_a_limit_says_to_raise_it(tmp_path, monkeypatch, command, line):
    """Under ulimit -v, importing NumPy's or Numba's modules can run out: lowering --memory does not help."""
    X, y = make_problem("binary", n=50, d=3, seed=1)
    data = write_table(tmp_path / "d.h5", X, y)

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(environment, "address_space_limit", lambda: 300 * MIB)
    monkeypatch.setattr(sgdcli, "configure_runtime" if command == "train" else "model_card", out_of_memory)
    argv = ["train", data, "-o", tmp_path / "m.h5", "-q"] if command == "train" else ["show", tmp_path / "m.h5"]
    assert cli(*argv) == (1, "", f"sgdcli: error: {line}\n")



@pytest.mark.parametrize("where,code,line", [
    ("map", "ENOMEM", "{data}: cannot be read (Cannot allocate memory): the address-space limit (ulimit -v, "
                      "RLIMIT_AS) of 1,500 MiB, which counts a memory-mapped file whole, is too small for it; raise "
                      "the limit, or lift it with ulimit -v unlimited"),
    ("map", "EMFILE", "{data}: cannot be read (Too many open files): this process's open-file limit (ulimit -n) of "
                      "{files:,} is reached; raise it, or run fewer jobs at once"),
    ("open", "EMFILE", "{data}: cannot be read (Too many open files): this process's open-file limit (ulimit -n) "
                       "of {files:,} is reached; raise it, or run fewer jobs at once"),
    # HDF5's own failure: no errno on the exception, the system's in its text
    ("open", "HDF5", "{data}: cannot be read (Too many open files): this process's open-file limit (ulimit -n) "
                     "of {files:,} is reached; raise it, or run fewer jobs at once"),
])
def test_a_limit_of_the_process_that_stops_a_read_is_named_not_blamed_on_the_file(tmp_path, monkeypatch, where,
                                                                                  code, line):
    """Under ulimit -v 1.5G a healthy 1.9 GiB file (mapped whole) was "damaged or unreadable ([Errno 12] Cannot
    allocate memory)", and under ulimit -n 8 one "damaged or unreadable (Too many open files)", exit 2, which a
    script reads as bad data to set aside; and info said so and exited 0."""
    import errno

    from sgdcli.data import columns, hdf5

    X, y = make_problem("binary", n=50, d=3, seed=1)
    data = write_table(tmp_path / "d.h5", X, y)
    failure = (OSError(getattr(errno, code), os.strerror(getattr(errno, code))) if code != "HDF5" else
               OSError(f"Unable to synchronously open file (unable to open file: name = '{data}', errno = 24, error "
                       "message = 'Too many open files', flags = 0, o_flags = 0)"))

    def failing(*args, **kwargs):
        raise failure

    real = resource.getrlimit
    monkeypatch.setattr(resource, "getrlimit", lambda which: (1500 * MIB, 1500 * MIB) if which == resource.RLIMIT_AS
                        else real(which))
    if where == "map":
        monkeypatch.setattr(columns.mmap, "mmap", failing)
    else:
        monkeypatch.setattr(hdf5.h5py, "File", failing)
    said = "sgdcli: error: " + line.format(data=data, files=resource.getrlimit(resource.RLIMIT_NOFILE)[0]) + "\n"
    assert cli("train", data, "-o", tmp_path / "m.h5", "-q") == (1, "", said)
    assert cli("info", data)[0::2] == (1, said)
