"""Where ``train`` runs when it runs on Dask distributed (``--dask``): the scheduler, the shards, the timeout.

``DaskOptions`` is checked as it is made, as ``TrainOptions`` is, and its
messages name the command-line options.  The scheduler address is checked
against the schemes of the installed ``distributed``, which is imported only
then: this module imports nothing heavy, ``sgdcli --help`` reads it.
"""

from __future__ import annotations

import dataclasses
import math

from sgdcli.errors import InputError, first_line, missing_extra
from sgdcli.fieldtypes import check_fields


@dataclasses.dataclass(frozen=True)
class DaskOptions:
    """Where and how ``train`` runs on Dask distributed (``--dask``); needs the ``dask`` extra to run."""

    # tcp://host:port of a scheduler, or local:N for a LocalCluster of N processes
    address: str = dataclasses.field(metadata={"option": "--dask"})
    # shards; default: the workers connected at start (N for local:N)
    workers: int | None = dataclasses.field(default=None, metadata={"option": "--dask-workers"})
    # seconds to reach the scheduler and its workers
    timeout: float = dataclasses.field(default=30.0, metadata={"option": "--dask-timeout"})

    def __post_init__(self):
        self.check()

    def check(self) -> None:
        check_fields(self)  # types, as TrainOptions'
        if self.workers is not None and self.workers < 1:
            raise InputError(f"--dask-workers: must be at least 1, got {self.workers}")
        if not (self.timeout > 0 and math.isfinite(self.timeout)):
            raise InputError(f"--dask-timeout: must be a finite number > 0, got {self.timeout}")
        local = self.local_workers()
        if local is None:
            check_address(self.address)
        elif (self.workers or 0) > local:  # not a wait of --dask-timeout for them
            raise InputError(f"--dask-workers {self.workers}: --dask {self.address} starts only {local} "
                             f"worker{'s' if local != 1 else ''}")

    def local_workers(self) -> int | None:
        """N for ``local:N``; None for a scheduler address."""
        address = self.address
        if not (address == "local" or address.startswith("local:")):  # localhost:8786 is a scheduler
            if "://" not in address and ":" not in address:
                raise InputError(f"--dask {address!r}: expected a scheduler address such as tcp://host:8786, or local:N")
            return None
        _, _, n = address.partition(":")
        try:
            workers = int(n)
        except ValueError:
            raise InputError(f"--dask {address!r}: expected local:N with N the number of worker processes") from None
        if workers < 1:
            raise InputError(f"--dask {address!r}: needs at least one worker")
        return workers


def check_executor(opts, dask: DaskOptions | None, command: str = "train") -> None:
    """InputError for a choice of executor that does not hold together: ``opts`` (TrainOptions) with ``dask``
    (None: training on this machine), for ``command`` (sweep has no --dask).  Here, light, so that
    ``--print-config`` checks it as train does."""
    if opts.parallel == "average" and dask is not None:
        raise InputError("--parallel average: averages the threads of one machine; with --dask the workers' models "
                         "are averaged already (--threads sets each worker's threads)")
    if opts.sync_every is not None and opts.parallel != "average" and dask is None:
        raise InputError("--sync-every: applies only with --parallel average"
                         + (" or --dask ADDRESS" if command == "train" else ""))


_IN_PROCESS = ("inproc",)  # schemes distributed knows that cannot reach a scheduler in another process


def check_address(address: str) -> None:
    """InputError for a scheduler address Dask cannot use: a scheme it does not know, a missing or bad port.  The
    one check of it, made as DaskOptions is; the schemes are those of the installed distributed."""
    try:
        from distributed.comm import parse_address, registry
        from distributed.comm.addressing import parse_host_port
    except ImportError:
        raise missing_extra("--dask", "Dask distributed", "dask") from None

    schemes = ", ".join(f"{s}://" for s in sorted(registry.backends) if s not in _IN_PROCESS)
    usage = f"expected a scheduler address such as tcp://host:8786 (Dask knows {schemes}), or local:N"
    try:
        scheme, location = parse_address(address)
    except ValueError as exc:
        raise InputError(f"--dask {address!r}: {first_line(exc)}; {usage}") from None
    try:
        registry.get_backend(scheme)
        known = scheme not in _IN_PROCESS
    except ValueError:
        known = False
    if not known:
        raise InputError(f"--dask {address!r}: sgdcli cannot reach a scheduler by {scheme}://; {usage}")
    try:
        port = parse_host_port(location)[1]
    except ValueError:
        port = None
    if not isinstance(port, int) or not 0 < port < 65536:
        raise InputError(f"--dask {address!r}: expected a port number from 1 to 65535 after the host; {usage}")
