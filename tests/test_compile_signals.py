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
    assert signal.getsignal(signal.SIGTERM) != compiles._held.record and compiles._held.depth == 0



def test_each_signal_held_is_raised_again_and_one_let_through_is_handled_as_it_comes():
    """Two SIGINTs held are two (training's second raises KeyboardInterrupt); the waits for another process's
    cache lock are let through: a holder that hangs would otherwise keep the process from being stopped."""
    came = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: came.append(signum))
    held = compiles._held
    try:
        held.enter()  # as the main thread's compile does
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)
        assert came == [] and held.pending == [signal.SIGINT, signal.SIGINT]
        with compiles.let_through():
            assert came == [signal.SIGINT] * 2  # those that came before, first
            signal.raise_signal(signal.SIGINT)
            assert came == [signal.SIGINT] * 3  # and each as it comes
        signal.raise_signal(signal.SIGINT)
        assert came == [signal.SIGINT] * 3  # held again
        held.leave()
        assert came == [signal.SIGINT] * 4 and held.depth == 0 and held.pending == []
    finally:
        held.depth, held.handlers, held.pending = 0, {}, []
        signal.signal(signal.SIGINT, previous)


def test_a_handler_that_raises_while_the_handlers_are_put_back_leaves_none_held(monkeypatch):
    """A SIGTERM that comes once its handler is back, while SIGINT's is not yet, runs that handler, which raises:
    SIGINT's was left recording, and every later SIGINT was recorded and never handled."""
    def stop(signum, frame):
        raise Stopped

    put_back, came = signal.signal, []

    def coming(signum, handler):  # one SIGTERM comes as soon as its handler is back
        put_back(signum, handler)
        if signum == signal.SIGTERM and not came:
            came.append(signum)
            signal.raise_signal(signal.SIGTERM)

    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, stop),
                signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler)}
    held = compiles._held
    try:
        held.enter()
        held.handlers = dict(sorted(held.handlers.items(), key=lambda item: item[0] != signal.SIGTERM))  # its first
        monkeypatch.setattr(signal, "signal", coming)
        with pytest.raises(Stopped):
            held.leave()
        monkeypatch.undo()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert signal.getsignal(signal.SIGTERM) is stop
    finally:
        held.depth, held.handlers, held.pending = 0, {}, []
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def test_a_wait_for_the_cache_lock_is_let_through(tmp_path, monkeypatch):
    """kernels/jit.py waits for the cache's lock within let_through."""
    from sgdcli.kernels import jit

    seen = []
    monkeypatch.setattr(jit.fcntl, "flock", lambda fd, mode: seen.append(compiles._held.handlers == {}))
    held = compiles._held
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        held.enter()
        assert held.handlers
        with jit._locked(str(tmp_path / "lock"), jit.fcntl.LOCK_EX):
            assert held.handlers  # held again while it holds the lock
        held.leave()
    finally:
        held.depth, held.handlers, held.pending = 0, {}, []
        signal.signal(signal.SIGTERM, previous)
    assert seen == [True]
