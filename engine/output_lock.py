"""One writer per output: a lock file beside the output, held for the whole job.

``.NAME.lock`` in the output's parent folder is locked with ``flock``: a second
process writing to the same output fails at once with a one-line message
instead of silently overwriting the first one's release. The kernel drops the
lock when its holder dies (even by SIGKILL), so a crash never leaves a stale
lock. The file is removed when the job ends; a process that opened the file
just before it was removed notices that the path no longer names the file it
locked and tries again.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .errors import ParameterError

#: Absolute output path -> (descriptor, lock file) of the locks this process holds.
_held: dict[str, tuple[int, Path]] = {}
F = TypeVar("F", bound=Callable)


def lock_file(out: Path) -> Path:
    """The lock file of output ``out`` (absolute): ``.NAME.lock`` beside it."""
    return out.parent / f".{out.name}.lock"


def acquire(out: str | Path, shown: str | Path | None = None) -> None:
    """Lock output ``out`` for this process, or raise a ParameterError if another holds it."""
    where = Path(os.path.abspath(out))
    key = str(where)
    if key in _held:
        return
    path = lock_file(where)
    for _ in range(20):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as problem:
            raise ParameterError(f"cannot create the lock file {path}: {problem.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ParameterError(
                f"another showcase process is writing {shown or out} right now (lock {path}); "
                "wait for it to finish or choose another --out"
            ) from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.write(fd, f"{os.getpid()}\n".encode())
            _held[key] = (fd, path)
            return
        os.close(fd)  # the holder removed it between our open and our lock: take the new one
    raise ParameterError(f"cannot lock {shown or out}: the lock file {path} keeps changing")


def held(out: str | Path) -> bool:
    """Whether this process holds the lock of ``out``."""
    return str(Path(os.path.abspath(out))) in _held


def try_acquire(out: str | Path) -> bool:
    """Lock ``out`` if no other process holds it; False (and nothing held) if one does."""
    try:
        acquire(out)
    except ParameterError:
        return False
    return True


def release(out: str | Path) -> None:
    """Drop this process's lock on ``out`` (if held) and remove the lock file."""
    held = _held.pop(str(Path(os.path.abspath(out))), None)
    if held is None:
        return
    fd, path = held
    with contextlib.suppress(OSError):
        path.unlink()  # removed while still locked: a waiting opener then retries
    os.close(fd)


def release_all() -> None:
    """Drop every output lock this process holds."""
    for key in list(_held):
        release(key)


def locks_for_call(function: F) -> F:
    """Decorate a job so that the output locks it takes are dropped when it returns or fails."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        before = set(_held)
        try:
            return function(*args, **kwargs)
        finally:
            for key in [k for k in _held if k not in before]:
                release(key)

    return wrapper  # type: ignore[return-value]
