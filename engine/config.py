"""One place for Numba compilation flags and thread-count handling."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numba

from .checks import is_integer
from .errors import ParameterError

#: Compiled-kernel caches of this many source versions are kept, and older ones
#: too until unused this long (a running process may still use one).
CACHE_VERSIONS_KEPT = 4
CACHE_STALE_SECONDS = 7 * 24 * 3600
ENGINE_ROOT = Path(__file__).parent


def source_stamp(root: Path = ENGINE_ROOT) -> str:
    """A digest of every Python source file under ``root`` (the engine by default)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def use_versioned_cache() -> str | None:
    """Point Numba's cache at a folder of its own for this exact engine source; return it.

    Numba checks a cached kernel against its own file only, so after an update
    that changes a kernel it calls (another file, inlined at compile time), it
    would load stale machine code, which can even write out of bounds. One
    folder per source digest rules that out. ``NUMBA_CACHE_DIR``, when set,
    wins; an unwritable cache folder leaves Numba's default in place. Only the
    ``CACHE_VERSIONS_KEPT`` most recently used versions, and any used in the
    last ``CACHE_STALE_SECONDS``, are kept.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "showcase" / "numba"
    folder = base / source_stamp()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        folder.touch()
        probe = folder / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError:
        return None
    numba.config.CACHE_DIR = str(folder)
    with contextlib.suppress(OSError):
        used = sorted(((p.stat().st_mtime, p) for p in base.iterdir()), reverse=True)
        for when, old in used[CACHE_VERSIONS_KEPT:]:
            if when < time.time() - CACHE_STALE_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
    return str(folder)


use_versioned_cache()

#: Flags for serial kernels. ``fastmath`` is never used: noise, thresholds and
#: accounting must follow IEEE semantics, and counting is integer-only anyway.
JIT = {"cache": True, "nogil": True}
#: Flags for kernels that split work over threads with ``prange``.
PARALLEL_JIT = {"cache": True, "nogil": True, "parallel": True}


def borrow_flags(options: type = numba.core.cpu.CPUTargetOptions) -> dict:
    """:data:`BORROW_JIT`: :data:`JIT`'s flags with Numba's reference counting off.

    The switch (``_nrt``) is private to Numba, so it is used only where the
    installed Numba's ``options`` still list it; elsewhere the kernels compile
    with :data:`JIT`'s flags, slower but correct, rather than fail at their
    first call with Numba's "Unrecognized options".
    """
    if hasattr(options, "_nrt"):
        return {**JIT, "_nrt": False}
    return dict(JIT)


#: Flags for kernels that allocate nothing and return no array: mostly helpers called in hot
#: loops (support tests, random draws, noise, constraint checks, fit moves). Numba counts
#: references to every array a compiled function is passed, with an atomic increment and
#: decrement per array per call; on row-seeded synthesis that was a fifth of the time on one
#: thread, and more on two, whose counts fight over shared cache lines. With Numba's runtime
#: off these kernels borrow their arrays and count nothing. Numba refuses to compile one that
#: allocates; ``tests/test_borrowed_kernels.py`` checks that none returns an array.
BORROW_JIT = borrow_flags()


def max_threads() -> int:
    """Number of threads Numba may use on this machine."""
    return int(numba.config.NUMBA_NUM_THREADS)


def validate_threads(n: int | None) -> int | None:
    """``n`` when it is a thread count this machine can run (None: the current setting)."""
    if n is None:
        return None
    if not is_integer(n) or not 1 <= n <= max_threads():
        raise ParameterError(f"threads must be between 1 and {max_threads()} on this machine, got {n!r}")
    return int(n)


@contextlib.contextmanager
def threads(n: int | None) -> Iterator[int]:
    """Run the enclosed kernels on ``n`` threads, restoring the setting after.

    ``None`` keeps the current setting.
    """
    previous = numba.get_num_threads()
    if n is None:
        yield previous
        return
    validate_threads(n)
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(previous)
