"""The release directory: fixed file names, where a release may go, metadata helpers.

A release is written into a hidden staging directory beside the target and
put in place only when every file is complete (see :mod:`.staging`), so an
error, Ctrl-C or SIGTERM never leaves a partial release behind.

:func:`check_output_dir` runs before any data is read. It refuses an output
that would destroy something: ``--force`` replaces only a folder that
:func:`is_release` recognises (a showcase document such as ``metadata.json``
and nothing but files showcase writes), never a folder holding other files,
an input, or the current directory. It also checks that the parent folder
exists and is writable, takes the output's lock (:mod:`.output_lock`) and
clears what an earlier, killed run left beside it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from . import output_lock
from .errors import InputError, ParameterError

AGGREGATES_PARQUET = "aggregates.parquet"
AGGREGATES_TSV = "aggregates.tsv"
SENSITIVE_PARQUET = "sensitive_aggregates.parquet"
SENSITIVE_TSV = "sensitive_aggregates.tsv"
SYNTHETIC_CSV = "synthetic.csv"
SYNTHETIC_PARQUET = "synthetic.parquet"
PREPARED_PARQUET = "prepared.parquet"
METADATA = "metadata.json"
EVALUATION = "evaluation.json"
REPORT = "report.html"
COMPARISON_CSV = "comparison.csv"
COMPARISON_JSON = "comparison.json"
#: Every file name showcase writes into an output folder.
RELEASE_FILES = frozenset(
    {AGGREGATES_PARQUET, AGGREGATES_TSV, SENSITIVE_PARQUET, SENSITIVE_TSV, SYNTHETIC_CSV,
     SYNTHETIC_PARQUET, METADATA, EVALUATION, REPORT, COMPARISON_CSV, COMPARISON_JSON,
     PREPARED_PARQUET}
)  # fmt: skip
#: The showcase documents that mark a folder as a release (one is enough).
MARKERS = (METADATA, EVALUATION, COMPARISON_JSON)
#: Temporary files that ``evaluate`` writes inside a release (left by a killed run).
_BESIDE_TEMP = re.compile(r"^\.(evaluation\.json|report\.html)\.[0-9a-f]+\.partial$")


#: When this process started, as near as it knows (this module is imported at start up):
#: staging folders last changed before it belong to runs that are over. (/proc's start time
#: is rounded to whole seconds by the boot time it counts from: too coarse here.)
PROCESS_STARTED = time.time()


def is_release(folder: str | Path) -> bool:
    """Whether ``folder`` holds a showcase release and nothing else.

    True when it has a showcase document (``metadata.json``, ``evaluation.json``
    or ``comparison.json`` whose ``tool.name`` is ``showcase``) and every entry
    is a plain file of a name showcase writes.
    """
    folder = Path(folder)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return False
    for entry in entries:
        if entry.is_symlink() or not entry.is_file():
            return False
        if entry.name not in RELEASE_FILES and not _BESIDE_TEMP.match(entry.name):
            return False
    names = {entry.name for entry in entries}
    if not any(name in names and _is_showcase_document(folder / name) for name in MARKERS):
        return False
    return not _unlisted(folder, names)


#: Files that commands other than the one that wrote a release may add to it (``evaluate``).
_ADDED_LATER = frozenset({EVALUATION, REPORT})


def _unlisted(folder: Path, names: set[str]) -> list[str]:
    """Files in a release that its metadata.json does not list (a user's file named like showcase's).

    Empty when the folder has no metadata.json with a list of files (an
    evaluation or a comparison folder): every file name there is showcase's.
    """
    if METADATA not in names:
        return []
    listed = (_document(folder / METADATA) or {}).get("files")
    if not isinstance(listed, list):
        return []
    allowed = {name for name in listed if isinstance(name, str)} | _ADDED_LATER | {METADATA}
    return sorted(name for name in names if name not in allowed and not _BESIDE_TEMP.match(name))


def require_release(folder: str | Path) -> Path:
    """``folder`` as a Path if it is a release (:func:`is_release`), else an InputError saying why not."""
    folder = Path(folder)
    if not folder.exists():
        raise InputError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise InputError(f"{folder}: not a release directory (it is a file)")
    if not is_release(folder):
        if (folder / METADATA).is_file() and _is_showcase_document(folder / METADATA):
            raise InputError(
                f"{folder}: a release with files showcase did not write in it{_foreign(folder)}; "
                "move them out of the folder"
            )
        raise InputError(f"{folder}: not a release directory (no showcase metadata.json)")
    return folder


def _document(path: Path) -> dict | None:
    """A JSON document's top level, when ``path`` holds one (else None)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _is_showcase_document(path: Path) -> bool:
    tool = (_document(path) or {}).get("tool")
    return isinstance(tool, dict) and tool.get("name") == "showcase"


def _foreign(folder: Path, limit: int = 3) -> str:
    """A few names in ``folder`` that are not showcase files (or are links to files), for a message."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return ""
    unlisted = set(_unlisted(folder, {e.name for e in entries}))

    def shown_name(entry: os.DirEntry) -> str:
        if entry.is_symlink():
            return f"{entry.name} (a symbolic link)"
        return f"{entry.name} (not listed in its metadata)" if entry.name in unlisted else entry.name

    names = sorted(
        shown_name(e)
        for e in entries
        if e.name not in RELEASE_FILES or e.is_symlink() or not e.is_file() or e.name in unlisted
    )
    shown = ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")
    if names:
        return f" (it holds {shown})"
    if not any(e.name in MARKERS for e in entries):
        return " (it has no metadata.json)"
    return " (its metadata.json was not written by showcase)"


def _absolute(path: str | Path) -> Path:
    return Path(os.path.abspath(path))


def _forms(path: str | Path) -> list[Path]:
    """``path`` made absolute as given, and with every symbolic link on it resolved."""
    forms = [_absolute(path)]
    with contextlib.suppress(OSError, RuntimeError, ValueError):
        resolved = Path(os.path.realpath(path))
        if resolved != forms[0]:
            forms.append(resolved)
    return forms


def check_not_an_input(out: str | Path, inputs: Iterable[str | Path | None]) -> None:
    """Refuse an output that is one of ``inputs``, a folder holding one, or inside an input folder.

    Paths are compared as given and with symbolic links resolved, so an input
    (or a ledger) reached through a link into ``out`` is caught too.
    """
    outs = _forms(out)
    for given in inputs:
        if given is None:
            continue
        for path in _forms(given):
            for where in outs:
                if path == where or where in path.parents:
                    raise ParameterError(f"--out {out} would replace the input {given}; choose another --out")
                if path in where.parents and path.is_dir():  # a directory input is read whole, recursively
                    raise ParameterError(
                        f"--out {out} is inside the input folder {given}, whose every file is read as input; "
                        "choose an --out outside it"
                    )
        with contextlib.suppress(OSError):
            if outs[0].exists() and os.path.exists(given) and os.path.samefile(given, outs[0]):
                raise ParameterError(f"--out {out} is the input {given}; choose another --out")


def check_writable_folder(folder: Path, shown: str | Path) -> None:
    """Refuse when a file cannot be created in ``folder`` (checked by creating one)."""
    if not folder.is_dir():
        raise ParameterError(f"{shown} does not exist or is not a folder; create it first")
    try:
        handle, probe = tempfile.mkstemp(prefix=".showcase-probe-", dir=folder)
    except OSError as problem:
        raise ParameterError(f"cannot write in {shown}: {problem.strerror or problem}") from None
    os.close(handle)
    with contextlib.suppress(OSError):
        os.unlink(probe)


#: Outputs as sensitive as the input: ``--force`` never puts one in place of another kind of output.
SENSITIVE_KINDS = frozenset({"prepared", "evaluation", "comparison"})


def _kind(folder: Path) -> str | None:
    """The ``kind`` its showcase document gives a folder (``aggregates``, ``release``, ...)."""
    for name in MARKERS:
        kind = (_document(folder / name) or {}).get("kind")
        if isinstance(kind, str):
            return kind
    return None


def check_output_dir(
    out: str | Path, force: bool, inputs: Iterable[str | Path | None] = (), kind: str | None = None
) -> Path:
    """Check where a release will go, before any work; lock it; return ``out``.

    Refuses: the current directory or one above it; a symbolic link; an
    existing file; an existing folder without ``force``; with ``force``, a
    non-empty folder that is not a showcase release, or a release of another
    kind when ``kind`` (what will be written) is as sensitive as the input
    (:data:`SENSITIVE_KINDS`: a folder kept for publishing must not silently
    fill with sensitive files); an output that is or holds one of
    ``inputs``; a missing or unwritable parent folder.
    """
    out = Path(out)
    where = _absolute(out)
    cwd = Path.cwd()
    check_name_length(where)
    if where == cwd or where in cwd.parents:
        raise ParameterError(
            f"--out {out} is the current folder or one above it; give the name of a new folder"
        )
    if out.is_symlink():
        raise ParameterError(f"{out} is a symbolic link; give the release folder itself")
    check_writable_folder(where.parent, out.parent)
    refuse_inside_an_output(where.parent, out)
    output_lock.acquire(where, out)
    clear_leftovers(where)  # first: it may put back a release a killed run had moved aside
    if out.exists() and not out.is_dir():
        raise ParameterError(f"{out} exists and is not a directory")
    if out.exists() and not force:
        raise ParameterError(f"{out} already exists; choose another --out or pass --force to replace it")
    if out.exists() and any(out.iterdir()) and not is_release(out):
        raise ParameterError(
            f"{out} is not a showcase release{_foreign(out)}; --force replaces only a folder that "
            "showcase wrote, so choose another --out"
        )
    if kind in SENSITIVE_KINDS and out.exists() and any(out.iterdir()) and _kind(out) not in (None, kind):
        raise ParameterError(
            f"{out} holds a showcase {_kind(out)} output; --force would replace it with {kind} files as "
            "sensitive as the input: choose another --out"
        )
    check_not_an_input(out, inputs)
    return out


def is_showcase_output(folder: str | Path) -> bool:
    """Whether ``folder`` holds a showcase document (metadata, evaluation or comparison): an output
    showcase wrote, whatever else it holds (unlike :func:`is_release`)."""
    return any(_is_showcase_document(Path(folder) / name) for name in MARKERS)


def refuse_inside_an_output(folder: Path, out: Path) -> None:
    """Refuse to write ``out`` into ``folder`` when that is a showcase output folder.

    A release folder is published as it is: a file or folder its metadata does
    not list (an evaluation's exact statistics, say) would go out with it.
    """
    if is_showcase_output(folder):
        raise ParameterError(
            f"{out} is inside the showcase output folder {out.parent}, which would then hold files its "
            "metadata does not list; write it outside that folder"
        )


def check_output_file(out: str | Path, force: bool) -> Path:
    """Check a single output file (not a folder) before any work; lock it; return ``out``."""
    out = Path(out)
    check_name_length(_absolute(out))
    if out.is_dir():
        raise ParameterError(f"{out} is a folder; give a file name such as cases.csv")
    if out.exists() and not out.is_file():
        raise ParameterError(f"{out} exists and is not a regular file")
    if out.exists() and not force:
        raise ParameterError(f"{out} already exists; pass --force to replace it")
    folder = _absolute(out).parent
    refuse_inside_an_output(folder, out)
    check_writable_folder(folder, out.parent)
    output_lock.acquire(out, out)
    clear_leftovers(_absolute(out))
    return out


#: What showcase adds to an output's name for its staging copy: ``.NAME.partial-`` + 12 hex digits
#: + the suffix (see :mod:`showcase.engine.staging`).
_STAGING_EXTRA = len(".") + len(".partial-") + 12


def check_name_length(out: Path) -> None:
    """Refuse an output name too long for its folder's file system once showcase's staging name is added."""
    try:
        limit = os.pathconf(out.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    extra = _STAGING_EXTRA + len(os.fsencode(out.suffix))
    length = len(os.fsencode(out.name))
    if length + extra > limit:
        raise ParameterError(
            f"the output name {out.name[:40]}... is {length} bytes long; {limit - extra} at most fit here "
            f"(showcase writes it first as .NAME.partial-*): choose a shorter name"
        )


def staging_prefix(out: Path) -> str:
    """Names of staging folders of ``out`` start with this."""
    return f".{out.name}.partial-"


def aside_prefix(out: Path) -> str:
    """Names of releases moved aside while ``out`` is replaced start with this."""
    return f".{out.name}.old-"


#: What a run into ``NAME`` may leave in the parent folder: staging, an old release, a lock.
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?:partial-[0-9a-f]{12}.*|old-[0-9a-f]{12}|lock)$")


def clear_leftovers(out: Path) -> None:
    """Clean what killed runs left in the parent folder of ``out``; restore releases left aside.

    For every output ``NAME`` in that folder that no live process is writing
    (its lock can be taken; ``out`` itself is locked by the caller): a release
    moved aside (``.NAME.old-*``) by a run killed in the middle of a
    replacement is put back when ``NAME`` is missing, and removed when
    ``NAME`` is in place; staging folders (``.NAME.partial-*``) are removed;
    so is a stale lock file. Only entries last changed before this process
    started are touched.
    """
    parent = out.parent
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    by_name: dict[str, list[os.DirEntry]] = {}
    for entry in entries:
        match = _LEFTOVER.match(entry.name)
        if match:
            by_name.setdefault(match.group("name"), []).append(entry)
    for name, found in sorted(by_name.items()):
        target = parent / name
        if target == out:
            _clear(target, found)
        elif not output_lock.held(target) and output_lock.try_acquire(target):
            try:
                _clear(target, found)
            finally:
                output_lock.release(target)  # removes the lock file as well


def _clear(target: Path, found: list[os.DirEntry]) -> None:
    """Restore or remove the leftovers ``found`` of output ``target`` (its lock held)."""
    aside = [e for e in found if e.name.startswith(aside_prefix(target))]
    if aside and not os.path.lexists(target):
        newest = max(aside, key=lambda e: e.stat(follow_symlinks=False).st_mtime)
        with contextlib.suppress(OSError):
            os.rename(newest.path, target)
            found = [e for e in found if e is not newest]
    for entry in found:
        if entry.name.endswith(".lock"):
            continue  # the lock file: removed by whoever holds the lock when it lets go
        with contextlib.suppress(OSError):
            if entry.stat(follow_symlinks=False).st_mtime >= PROCESS_STARTED:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)


def write_json(path: Path, document: dict) -> None:
    """Write a JSON document, pretty-printed, UTF-8."""
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def find_release(path: str | Path) -> tuple[Path, str]:
    """The file to evaluate inside ``path`` and its kind: synthetic or aggregates."""
    path = Path(path)
    if path.is_dir():
        for name, kind in (
            (SYNTHETIC_PARQUET, "synthetic"),
            (SYNTHETIC_CSV, "synthetic"),
            (AGGREGATES_PARQUET, "aggregates"),
            (SENSITIVE_PARQUET, "aggregates"),
        ):
            if (path / name).exists():
                return path / name, kind
        raise InputError(f"{path}: no synthetic data or aggregates found in this directory")
    from .aggregates_io import METADATA_KEY
    from .ingest import check_input

    check_input(path)
    if path.suffix.lower() == ".tsv":
        with open(path, "rb") as handle:
            if handle.readline().startswith(b"selections\t"):
                return path, "aggregates"
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            if METADATA_KEY in (pq.read_schema(path).metadata or {}):
                return path, "aggregates"
        except OSError:
            raise InputError(f"{path}: not a readable parquet file") from None
    return path, "synthetic"
