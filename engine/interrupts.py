"""SIGTERM and SIGINT as exceptions, and a commit phase that defers them.

``timeout``, CI cancellation and ``docker stop`` send SIGTERM; Python's
default is to die on the spot, leaving staging folders behind. With
:func:`handle_signals` active, SIGTERM raises :class:`Terminated` (and SIGINT
``KeyboardInterrupt``) at the point the program is at, so the usual cleanup
runs. Inside :func:`committing` (a release being put in place) a signal is only
recorded: the commit finishes, then :func:`pending` reports it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Terminated(BaseException):
    """The process received SIGTERM (a BaseException, like KeyboardInterrupt)."""


_state = {"committing": 0, "pending": None}


def _handler(signum: int, frame) -> None:
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
    _state["pending"] = None
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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
