"""``--dask``: reaching the cluster before training, every wait bounded by --dask-timeout and ended by a signal.

The address was checked as DaskOptions was made (daskoptions.check_address:
a scheme Dask knows, a port).  Here the scheduler is connected (or a
LocalCluster started), the workers waited for, and each asked whether it
can run sgdcli and sees the data.  Each of these
waits on Dask runs through waits.bounded: a port where something other than
a Dask scheduler listens once held the connection for ever, deaf to
SIGTERM (waits.py says why).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import time
import warnings
from typing import Callable

from sgdcli.errors import InputError, Interrupted, RuntimeFailure, first_line, install_extra, missing_extra
from sgdcli.daskoptions import DaskOptions
from sgdcli.parallel import worker
from sgdcli.parallel.waits import Late, Stopped, bounded
from sgdcli.reporting.reporter import counted

INSTALL = install_extra("dask")
# Past --dask-timeout, the time Dask's own timeout has to end a call with its reason (connection refused, ...)
# before the wait gives up on it.
GRACE = 0.5

Stop = Callable[[], "int | None"]


@contextlib.contextmanager
def connect(options: DaskOptions, report: Callable[[str], None], stop: Stop = lambda: None):
    """A connected ``distributed.Client`` with at least one worker (``options.workers`` if given)."""
    try:
        import distributed
    except ImportError:
        raise missing_extra("--dask", "Dask distributed", "dask") from None
    for name in list(logging.root.manager.loggerDict):  # their log lines are not ours to print: Dask's config sets
        if name.split(".")[0] in ("distributed", "tornado", "asyncio"):  # levels of its own (distributed.client)
            logging.getLogger(name).setLevel(logging.CRITICAL)
    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    options.check()
    n_local = options.local_workers()
    seconds = options.timeout
    with contextlib.ExitStack() as stack:
        if n_local is not None:
            processes = counted(n_local, "worker process", "worker processes")
            report(f"starting a local Dask cluster of {processes}")

            def start():
                with warnings.catch_warnings():  # "port 8787 is in use" when another local cluster runs
                    warnings.simplefilter("ignore")
                    return distributed.LocalCluster(
                        n_workers=n_local, threads_per_worker=1, processes=True, dashboard_address=None,
                        silence_logs=logging.CRITICAL, memory_limit=0,  # mapped file pages count as worker memory
                    )

            cluster = setup(start, options, stop, f"its {processes} did not start within {seconds:g} s")
            stack.callback(_close, cluster, seconds)
            client = setup(lambda: distributed.Client(cluster, timeout=seconds, set_as_default=False), options, stop,
                           f"the local cluster's scheduler did not answer within {seconds:g} s")
        else:  # its address was checked as the options were made, and again by options.check() above
            client = _client(distributed, options, stop)
        stack.callback(_close, client, seconds)
        stack.enter_context(client.as_current())  # the client distributed.wait and futures use
        want = options.workers or n_local or 1
        if n_local is None and options.workers:  # (a wait with no word looked like a hang)
            have = len(scheduler_workers(client, options, stop))
            if have < want:
                report(f"waiting for {want} Dask workers at {options.address} ({have} connected), up to "
                       f"--dask-timeout {seconds:g} s")
        try:
            bounded(lambda: client.wait_for_workers(want, timeout=seconds), seconds + GRACE, stop)
        except Stopped as exc:
            raise interrupted(exc.signum, options) from None
        except (OSError, TimeoutError, Late):
            have = len(scheduler_workers(client, options, stop))
            raise RuntimeFailure(f"--dask {options.address}: {counted(have, 'worker')} connected after {seconds:g} s, "
                                 f"{want} needed; start more workers or raise --dask-timeout") from None
        _check_workers(client, options, report, stop)
        yield client


def _client(distributed, options: DaskOptions, stop: Stop):
    """``distributed.Client`` of the scheduler at ``options.address``, or RuntimeFailure: one line saying whether
    nothing answered there in time or something other than a Dask scheduler did."""
    address, seconds = options.address, options.timeout
    t0 = time.monotonic()
    try:
        # not the process's default client until it is connected: at exit, Dask closes the default client, and
        # one left connecting would hold the exit up to 3 s (distributed.client._close_global_client)
        return bounded(lambda: distributed.Client(address, timeout=seconds, set_as_default=False), seconds + GRACE,
                       stop)
    except Stopped as exc:
        raise interrupted(exc.signum, options) from None
    except Late:  # Dask's connection attempts end within the timeout: one was accepted, and then no answer came
        failure = no_answer(options, "a connection there was accepted, but no answer came in Dask's protocol: "
                                     "another service's port, such as a scheduler's dashboard (8787)?")
    except (OSError, TimeoutError) as exc:
        if time.monotonic() - t0 < seconds:  # the other end closed the connection, or refused to talk
            failure = not_a_scheduler(address, f"it closed the connection: {first_line(exc)}")
        else:
            failure = no_answer(options, first_line(exc))
    except MemoryError:  # a length read from bytes that are not Dask's frames: exabytes
        failure = not_a_scheduler(address, "its reply is not in Dask's protocol")
    except Exception as exc:  # a reply Dask could not parse, or not the reply a scheduler gives
        failure = not_a_scheduler(address, f"its reply is not in Dask's protocol: {type(exc).__name__}: "
                                           f"{first_line(exc)}")
    # The Client that failed is in a reference cycle: freed at exit by the interpreter, when Dask's loop thread
    # no longer runs, its __del__ waits out twice --dask-timeout and prints a traceback.  Freed now, it closes.
    gc.collect()
    raise failure


def no_answer(options: DaskOptions, why: str) -> RuntimeFailure:
    return RuntimeFailure(f"--dask {options.address}: no Dask scheduler answered within {options.timeout:g} s "
                          f"({why}); check the address and that the scheduler runs, or raise --dask-timeout")


def not_a_scheduler(address: str, why: str) -> RuntimeFailure:
    return RuntimeFailure(f"--dask {address}: what is there did not answer as a Dask scheduler ({why}); check the "
                          f"address and its port (a scheduler listens on 8786 unless told otherwise)")


def interrupted(signum: int, options: DaskOptions) -> Interrupted:
    """What a signal that came while the cluster was being reached, before training, stops the run with."""
    return Interrupted(f"stopped by {signal.Signals(signum).name} while connecting to --dask {options.address}, "
                       f"before training began", 128 + signum)


def setup(call, options: DaskOptions, stop: Stop, late: str):
    """``call()`` (a wait on the cluster before training) within --dask-timeout: RuntimeFailure ``--dask ADDRESS:
    late`` past it, Interrupted on a signal."""
    try:
        return bounded(call, options.timeout + GRACE, stop)
    except Stopped as exc:
        raise interrupted(exc.signum, options) from None
    except Late:
        raise RuntimeFailure(f"--dask {options.address}: {late}; raise --dask-timeout if it needs longer") from None


def check_paths(client, options: DaskOptions, stop: Stop, paths: list[str]) -> None:
    """InputError naming the workers that cannot see one of ``paths``, which the driver opened: each worker opens
    the data itself, by path, so a file on a disk only the driver mounts is "no such file" there."""
    try:
        unseen = bounded(lambda: client.run(worker.unseen, paths), options.timeout + GRACE, stop)
    except Stopped as exc:
        raise interrupted(exc.signum, options) from None
    except Late:
        raise RuntimeFailure(f"--dask {options.address}: the workers did not answer within {options.timeout:g} s; "
                             f"raise --dask-timeout if they need longer") from None
    for path in paths:
        blind = sorted(address for address, missing in unseen.items() if path in missing)
        if blind:
            raise InputError(f"{path}: Dask worker{'s' if len(blind) > 1 else ''} {', '.join(blind)} cannot see "
                             "this file, which the driver "
                             f"opened: each worker opens it itself, at the same path; put it where every worker "
                             f"sees it at that path (a shared file system)")


def scheduler_workers(client, options: DaskOptions, stop: Stop = lambda: None) -> dict:
    """The scheduler's workers (address: info), asked before training (``setup``)."""
    return setup(client.scheduler_info, options, stop,
                 f"the scheduler did not answer within {options.timeout:g} s")["workers"]


def _close(resource, seconds: float) -> None:
    """Close a Client or LocalCluster, giving up after ``seconds`` on a scheduler that no longer answers."""
    with contextlib.suppress(Late):
        bounded(resource.close, seconds + GRACE)


def _check_workers(client, options: DaskOptions, report, stop: Stop = lambda: None) -> None:
    """Every connected worker can run sgdcli; versions that differ from the driver's are reported."""
    try:
        seen = bounded(lambda: client.run(worker.versions), options.timeout + GRACE, stop)
    except Stopped as exc:
        raise interrupted(exc.signum, options) from None
    except Late:
        raise RuntimeFailure(f"--dask {options.address}: the workers did not answer within {options.timeout:g} s; "
                             f"raise --dask-timeout if they need longer") from None
    except Exception as exc:  # typically: No module named 'sgdcli' on a worker
        raise RuntimeFailure(f"--dask {options.address}: a worker cannot run sgdcli ({first_line(exc)}); "
                             f"install it on every worker: {INSTALL}") from None
    mine = worker.versions()
    for address, theirs in sorted(seen.items()):
        if theirs != mine:
            differ = ", ".join(f"{k} {theirs.get(k)} (driver: {v})" for k, v in mine.items() if theirs.get(k) != v)
            report(f"worker {address} runs {differ}: its rounds may round differently, or fail")
