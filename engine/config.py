"""One place for Numba compilation flags and thread-count handling."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numba

from .errors import ParameterError

#: Flags for serial kernels. ``fastmath`` is never used: noise, thresholds and
#: accounting must follow IEEE semantics, and counting is integer-only anyway.
JIT = {"cache": True, "nogil": True}
#: Flags for kernels that split work over threads with ``prange``.
PARALLEL_JIT = {"cache": True, "nogil": True, "parallel": True}


def max_threads() -> int:
    """Number of threads Numba may use on this machine."""
    return int(numba.config.NUMBA_NUM_THREADS)


@contextlib.contextmanager
def threads(n: int | None) -> Iterator[int]:
    """Run the enclosed kernels on ``n`` threads, restoring the setting after.

    ``None`` keeps the current setting.
    """
    previous = numba.get_num_threads()
    if n is None:
        yield previous
        return
    if not 1 <= n <= max_threads():
        raise ParameterError(f"threads must be between 1 and {max_threads()} on this machine, got {n}")
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(previous)
