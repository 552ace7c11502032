"""A signal that comes while the main thread compiles a kernel is handled once the compile is done
(kernels/compiles.py): an exception raised in the middle of Numba's compiler left it half made, and predict
stopped by SIGTERM during its first compile exited 1 with "internal error: RuntimeError: no compiled object yet
for <Library 'scores'>"."""

import signal
import threading

import pytest
from numba import njit
from numba.extending import overload

import sgdcli.kernels.jit  # noqa: F401 (installs the hold)
from sgdcli.kernels import compiles


class Stopped(Exception):
    pass


def _signalled():
    """Typed by the overload below, which sends SIGTERM from inside the compile."""


@pytest.fixture
def handler():
    """A SIGTERM handler that records whether the kernel had been compiled when it ran, and raises."""
    seen = []

    def stop(signum, frame):
        seen.append(len(kernel.signatures))
        raise Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGTERM, previous)


@overload(_signalled)
def _type_signalled():
    signal.raise_signal(signal.SIGTERM)  # Numba types this call inside the compile, under its compiler lock
    return lambda: None


@njit
def kernel(x):
    _signalled()
    return x + 1


def test_a_signal_during_a_compile_is_handled_once_the_compile_is_done(handler):
    assert threading.current_thread() is threading.main_thread()
    with pytest.raises(Stopped):
        kernel(1)
    assert handler == [1]  # once, with the kernel compiled
    assert kernel(1) == 2  # and what was compiled runs
    assert signal.getsignal(signal.SIGTERM) is not compiles._held.record and compiles._held.depth == 0

