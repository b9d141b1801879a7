"""The peak resident memory of a block of work, sampled while it runs.

``getrusage`` gives only the process's lifetime peak, which cannot tell one
run of a comparison from the next. :class:`PeakMemory` samples the resident
set (Linux ``/proc/self/statm``) from a thread every few milliseconds and
keeps the largest value; elsewhere it falls back to the lifetime peak.
"""

from __future__ import annotations

import os
import resource
import sys
import threading

_STATM = "/proc/self/statm"
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int | None:
    """The process's resident set now, in bytes (None where /proc is not available)."""
    try:
        with open(_STATM, "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except OSError:
        return None


def _lifetime_peak() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


class PeakMemory:
    """``with PeakMemory() as peak: ...`` then ``peak.bytes``: the largest resident set seen.

    Sampled every ``interval`` seconds, so a spike shorter than that may be
    missed; the value is the whole process's, baseline included.
    """

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while True:
            now = resident_bytes()
            if now is not None and now > self.bytes:
                self.bytes = now
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> PeakMemory:
        if resident_bytes() is None:
            return self
        self.bytes = resident_bytes() or 0
        self._thread = threading.Thread(target=self._sample, name="peak-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is None:
            self.bytes = _lifetime_peak()
            return
        self._stop.set()
        self._thread.join()
        self.bytes = max(self.bytes, resident_bytes() or 0)

    @property
    def mib(self) -> float:
        return self.bytes / 2**20
