"""Numba's and HDF5's environment variables, checked before those libraries read them; and the address-space
limit (``ulimit -v``) and the limits on threads, which name the failures they cause.

Numba reads NUMBA_NUM_THREADS when it is imported and NUMBA_THREADING_LAYER
when its threads start; a bad value is a ValueError from inside Numba (an
"internal error" to a user), or, for a count that is not a number, a
warning with a traceback after which Numba runs with every core.  The thread
count is part of what makes a run reproducible, so a value Numba would
ignore is refused too.

HDF5 reads HDF5_DRIVER when the library starts, at the first file opened,
and opens every file with that driver unless the program names one.  An
unknown name makes the start fail, after which the process crashes
(SIGSEGV, exit 139) whatever driver the file is opened with, so naming sec2
at each open cannot make the variable harmless.  The drivers it can name
change how sgdcli reads (``core`` loads the whole file into memory; with it
or ``stdio`` the memory-mapped reads become reads of chunk-aligned blocks,
which train another model), or what a path means (``family``, ``split``
and ``multi`` read several files for one name).  So any value but sec2,
HDF5's default, is refused, naming the variable, rather than honoured or
silently overridden.

This module imports nothing of Numba or h5py: ``--help`` and completion
never check it, only a command that runs does.
"""

from __future__ import annotations

import errno
import os
import resource  # now, not when a limit is hit: under ulimit -v even this small import can fail then

from sgdcli import errors

# The names Numba's documentation gives NUMBA_THREADING_LAYER (compared in lower case, as Numba does).
THREADING_LAYERS = ("default", "safe", "threadsafe", "forksafe", "tbb", "omp", "workqueue")


def check_threading_layer(environ=os.environ) -> None:
    """A threading layer asked for by name (NUMBA_THREADING_LAYER) is loaded now, so that one that cannot load (tbb
    or omp not installed) is an InputError naming the variable rather than Numba's ValueError at the first
    parallel kernel, an internal error.  Numba is imported only when the variable is set."""
    layer = environ.get("NUMBA_THREADING_LAYER", "").strip()
    if not layer:
        return
    import sgdcli  # the public API's attributes load lazily: --help, which loads this module, never reaches Numba

    try:
        sgdcli.configure_runtime()  # starts the named layer's threads
    except ValueError as exc:
        text = " ".join(str(exc).split())  # Numba's line and its hint of what to install
        raise errors.InputError(f"NUMBA_THREADING_LAYER={layer}: {text}; or unset the variable, and sgdcli uses a "
                                "layer that is installed") from None


def check_numba_environment(environ=os.environ) -> None:
    """InputError naming the variable if NUMBA_NUM_THREADS or NUMBA_THREADING_LAYER holds a value Numba cannot use."""
    threads = environ.get("NUMBA_NUM_THREADS", "").strip()
    if threads:
        try:
            count = int(threads)
        except ValueError:
            count = 0
        if count < 1:
            raise errors.InputError(f"NUMBA_NUM_THREADS={threads}: not a whole number of threads above 0 (it caps "
                                    "--threads; unset it to allow every core)")
        budget = thread_budget()
        if budget is not None and count > budget[0]:  # Numba starts them all: a crash, or libgomp's exit 1
            raise errors.InputError(f"NUMBA_NUM_THREADS={threads}: more threads than this process can start here "
                                    f"(about {budget[0]:,}, by {budget[1]}); lower it (it caps --threads; unset "
                                    "it to allow every core)")
    layer = environ.get("NUMBA_THREADING_LAYER", "").strip()
    if layer and layer.lower() not in THREADING_LAYERS:
        raise errors.InputError(f"NUMBA_THREADING_LAYER={layer}: not a threading layer Numba knows (one of "
                                f"{', '.join(THREADING_LAYERS)}; unset, sgdcli asks for a thread-safe one)")


def thread_budget() -> tuple[int, str] | None:
    """(about the most threads this process can start, the limit that says so), or None where none can be read:
    the tightest of the kernel's limits on threads and process ids less the system's threads, a cgroup's pids.max
    less the tasks it holds, ``ulimit -u`` (which root is exempt from), and the memory maps a thread's stack and
    its guard take (two of vm.max_map_count each).  A count past it cannot run: Numba starts every thread
    NUMBA_NUM_THREADS names."""
    import resource

    def number(path: str) -> int | None:
        try:
            with open(path, encoding="ascii") as fh:
                text = fh.read().strip()
        except (OSError, ValueError):
            return None
        return int(text) if text.isdigit() else None

    try:  # the tasks (threads) of the whole system now: /proc/loadavg's fourth field, RUNNING/TOTAL
        with open("/proc/loadavg", encoding="ascii") as fh:
            tasks = int(fh.read().split()[3].split("/")[1])
    except (OSError, ValueError, IndexError):
        tasks = 0
    found = []
    for path, what in (("/proc/sys/kernel/threads-max", "kernel.threads-max"),
                       ("/proc/sys/kernel/pid_max", "kernel.pid_max")):
        most = number(path)
        if most is not None:
            found.append((most - tasks, f"{what} less the system's {tasks:,} threads"))
    most, used = number("/sys/fs/cgroup/pids.max"), number("/sys/fs/cgroup/pids.current")
    if most is not None:
        found.append((most - (used or 0), "the cgroup's pids.max"))
    soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    if soft != resource.RLIM_INFINITY and os.geteuid() != 0:
        found.append((soft, "ulimit -u"))
    maps = number("/proc/sys/vm/max_map_count")
    if maps is not None:
        try:
            with open("/proc/self/maps", "rb") as fh:
                maps -= sum(1 for _ in fh)
        except OSError:
            pass
        found.append((maps // 2, "vm.max_map_count"))
    return min(found) if found else None


def check_hdf5_driver(environ=os.environ) -> None:
    """InputError naming HDF5_DRIVER where it names a driver other than sec2, HDF5's default (see above)."""
    driver = environ.get("HDF5_DRIVER", "")
    if driver in ("", "sec2"):
        return
    shown = driver if driver == driver.strip() else repr(driver)
    raise errors.InputError(f"HDF5_DRIVER={shown}: sgdcli reads HDF5 files in place with HDF5's default driver, "
                            "sec2 (memory-mapped or chunk by chunk, never whole into memory); another would change "
                            "what is read, and so the model; unset the variable")


def address_space_limit() -> int | None:
    """The address-space limit (``ulimit -v``, RLIMIT_AS) in bytes, None where there is none."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft


def address_space_hint() -> str:
    """What an out-of-memory line adds where an address-space limit is set (it, not the machine, may be what ran
    out: under ``ulimit -v`` NumPy's and Numba's imports alone can fail so), else ""."""
    limit = address_space_limit()
    return "" if limit is None else f"raise the address-space limit (ulimit -v, RLIMIT_AS) of {limit // 2**20:,} MiB"


def limit_failure(exc: BaseException) -> str | None:
    """The line for a failure that a limit of the system caused (``address_space_failure``; a thread that could
    not start without one; a file that could not be opened for want of a file descriptor, where no read of an
    input named it: Numba's cache of compiled kernels, a module imported late), None for any other."""
    if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
        what = os.fsdecode(exc.filename) if isinstance(exc.filename, (str, bytes)) else "a file"
        return f"cannot open {what} ({os.strerror(exc.errno)}): {errors.out_of_files(exc.errno)}"
    limited = address_space_failure(exc)
    if limited is None and _no_thread(exc) and address_space_limit() is None:
        # pthread_create's EAGAIN: RLIMIT_NPROC (which counts threads), a cgroup's pids.max, threads-max, or the
        # memory maps a thread's stack takes (vm.max_map_count); root is exempt from the first only
        return ("cannot start a thread: the system refused one (this user's processes and threads, ulimit -u, "
                "or a container's pids.max, are at their limit, or memory is short); retry when fewer jobs run")
    return limited


def _no_thread(exc: BaseException) -> bool:
    return isinstance(exc, RuntimeError) and str(exc) == "can't start new thread"


def address_space_failure(exc: BaseException) -> str | None:
    """The line for a failure that an address-space limit caused, None for any other.

    Under ``ulimit -v`` the loader cannot map Numba's compiler (llvmlite's shared object, larger than all a
    command loads before it), and says only that it "could not find/load" the file; a thread cannot reserve its
    stack, and Python says "can't start new thread".  Both are read as the limit's doing only where a limit is
    set: without one they are something else, and stay internal errors.  (Near the limit a run can also fail in
    C, where Python never sees it: OpenBLAS prints that its allocation failed, LLVM aborts with std::bad_alloc.
    How much address space a run needs grows with the machine's cores, the threads of Numba and OpenBLAS, so no
    size is checked beforehand: one that let the runs of a many-core machine start would refuse runs that work
    on a smaller one.)"""
    limit = address_space_limit()
    if limit is None:
        return None
    what = None
    if isinstance(exc, OSError) and "libllvmlite" in str(exc):
        what = "to load Numba's compiler (llvmlite's shared library could not be mapped)"
    elif _no_thread(exc):
        what = "to start a thread"
    if what is None:
        return None
    return (f"the address-space limit (ulimit -v, RLIMIT_AS) of {limit // 2**20:,} MiB is too small {what}; "
            "Numba's compiler, its threads and NumPy need more: raise it, or lift it with ulimit -v unlimited")
