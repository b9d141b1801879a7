"""Putting a release in place atomically: staging, fsync, swap.

A release is written into ``.NAME.partial-*`` beside ``out``. Once the block
writing it succeeds, every file and the folder are fsynced and the staging
folder takes the place of ``out``:

* no ``out`` yet: one rename;
* ``out`` exists (``--force``): on Linux one ``renameat2(RENAME_EXCHANGE)``
  swaps the two folders, so at every instant ``out`` is either the old or the
  new release; the old one, now at the staging name, is then removed.
  Elsewhere (or on file systems without the exchange) the old release is
  renamed aside to ``.NAME.old-*`` and the new one renamed in; any failure
  between the two renames puts the old one back, and a run killed there
  (SIGKILL) has its old release put back by the next run into the same folder
  (:func:`~showcase.engine.release.clear_leftovers`).

The swap and the removal of the old release run as a commit phase
(:func:`~showcase.engine.interrupts.committing`): SIGTERM or Ctrl-C then waits
until the new release is in place.

For tests, ``SHOWCASE_TEST_PAUSE_AT=staged,aside,swapped`` makes the writer
print ``paused at POINT`` on stderr and wait there (``SHOWCASE_TEST_PAUSE_SECONDS``,
default 30), so a test can kill it at that point; ``SHOWCASE_TEST_NO_EXCHANGE=1``
forces the two-rename swap.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from . import interrupts
from .errors import ParameterError
from .release import aside_prefix, check_output_dir, staging_prefix
from .written_files import check_replaceable, record_written

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _pause(point: str) -> None:
    """The test hook: wait at ``point`` when SHOWCASE_TEST_PAUSE_AT names it."""
    wanted = os.environ.get("SHOWCASE_TEST_PAUSE_AT", "")
    if point not in wanted.split(","):
        return
    sys.stderr.write(f"paused at {point}\n")
    sys.stderr.flush()
    until = time.monotonic() + float(os.environ.get("SHOWCASE_TEST_PAUSE_SECONDS", "30"))
    while time.monotonic() < until and interrupts.pending() is None:
        time.sleep(0.02)


def fsync_tree(folder: Path) -> None:
    """Flush every file in ``folder`` and the folder itself to disk."""
    for entry in os.scandir(folder):
        if entry.is_file(follow_symlinks=False):
            fd = os.open(entry.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fsync_folder(folder)


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (renames into it) to disk, where the system allows it."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where that is not available."""
    if os.environ.get("SHOWCASE_TEST_NO_EXCHANGE") == "1" or not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def _swap(stage: Path, out: Path) -> Path | None:
    """Put ``stage`` at ``out``; return where the old release now is (None if there was none)."""
    if not os.path.lexists(out):
        os.rename(stage, out)
        return None
    if exchange(stage, out):
        return stage
    aside = out.parent / f"{aside_prefix(out)}{uuid.uuid4().hex[:12]}"
    os.rename(out, aside)
    try:
        _pause("aside")
        os.rename(stage, out)
    except BaseException:
        os.rename(aside, out)
        raise
    return aside


@contextlib.contextmanager
def staged_file(out: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a staging file name beside ``out`` that replaces ``out`` if the block succeeds.

    An existing ``out`` is replaced only with ``force``, and only if showcase
    wrote it (:mod:`~showcase.engine.written_files`); the new file is listed
    as showcase's.
    """
    out = Path(out)
    if os.path.lexists(out):
        if not force:
            raise ParameterError(f"{out} already exists; pass --force to replace it")
        check_replaceable(out)
    stage = out.parent / f"{staging_prefix(out)}{uuid.uuid4().hex[:12]}{out.suffix}"
    try:
        yield stage
        fd = os.open(stage, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(stage, out)
        record_written(out)
        fsync_folder(out.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(stage)


@contextlib.contextmanager
def staged_directory(out: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield an empty staging directory that becomes ``out`` if the block succeeds.

    On any exception (including KeyboardInterrupt and SIGTERM) the staging
    directory is removed and ``out`` is left as it was. ``out`` is checked
    (and locked) by :func:`~showcase.engine.release.check_output_dir` first.
    """
    out = check_output_dir(out, force)
    where = Path(os.path.abspath(out))
    stage = where.parent / f"{staging_prefix(where)}{uuid.uuid4().hex[:12]}"
    stage.mkdir()
    try:
        yield stage
        fsync_tree(stage)
        _pause("staged")
        with interrupts.committing():
            old = _swap(stage, where)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    with interrupts.committing():
        fsync_folder(where.parent)
        _pause("swapped")
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
