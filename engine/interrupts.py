"""SIGTERM and SIGINT as exceptions, and a commit phase that defers them.

``timeout``, CI cancellation and ``docker stop`` send SIGTERM; Python's
default is to die on the spot, leaving staging folders behind. With
:func:`handle_signals` active, SIGTERM raises :class:`Terminated` (and SIGINT
``KeyboardInterrupt``) at the point the program is at, so the usual cleanup
runs. Inside :func:`committing` (a release being put in place) a signal is only
recorded: the commit finishes, then :func:`pending` reports it. Every signal is
also remembered (:func:`received`): an exception raised inside a callback of C
code (Numba's compiler, through ctypes) is swallowed there, and the error that
follows is then known to be the signal's doing.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any


class Terminated(BaseException):
    """The process received SIGTERM (a BaseException, like KeyboardInterrupt)."""


_state = {"committing": 0, "pending": None, "received": None}


def _handler(signum: int, frame) -> None:
    _state["received"] = signum
    if _state["committing"]:
        _state["pending"] = signum
        return
    if signum == signal.SIGTERM:
        raise Terminated()
    raise KeyboardInterrupt()


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` and SIGINT into KeyboardInterrupt, then restore."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    previous_hook = sys.unraisablehook
    sys.unraisablehook = functools.partial(_quiet_signals, previous_hook)
    _state["pending"] = _state["received"] = None
    try:
        yield
    finally:
        _state["received"] = None  # (pending stays: the caller reads it after the block)
        sys.unraisablehook = previous_hook
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _quiet_signals(hook: Callable[[Any], None], unraisable: Any) -> None:
    """``sys.unraisablehook`` that drops this module's signal exceptions (a traceback the user should
    not see: :func:`received` reports the signal), and passes every other one to ``hook``."""
    if isinstance(unraisable.exc_value, (KeyboardInterrupt, Terminated)) and _state["received"] is not None:
        return
    hook(unraisable)


@contextlib.contextmanager
def committing() -> Iterator[None]:
    """Defer SIGTERM/SIGINT while the block runs (they are recorded, see :func:`pending`)."""
    _state["committing"] += 1
    try:
        yield
    finally:
        _state["committing"] -= 1


def pending() -> int | None:
    """The signal received during a commit phase, if any."""
    return _state["pending"]


def received() -> int | None:
    """The last signal received while :func:`handle_signals` was active, if any (commit phase or not)."""
    return _state["received"]
