"""Which single files showcase wrote, so that ``--force`` replaces those and nothing else.

A release folder is recognised by its ``metadata.json``; a single output file
(a generated dataset, a codebook draft, a static report) carries no such mark,
and a careless ``--force`` over ``cases/victims.csv`` would replace an agency's
own records. So each folder that receives such a file gets a small manifest,
``.showcase-files.json``: every file showcase put there, with the SHA-256 of
what it wrote. ``--force`` replaces a file only while it is listed there with
the same content; anything else (a file of the user's, or one they edited
since) is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from pathlib import Path

from .errors import ParameterError

MANIFEST = ".showcase-files.json"


def file_digest(path: str | Path) -> str:
    """``sha256:`` and the hex SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def _manifest(folder: Path) -> dict:
    try:
        listed = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return listed if isinstance(listed, dict) else {}


def written_by_showcase(path: str | Path) -> bool:
    """Whether ``path`` is a file showcase wrote and nobody changed since."""
    path = Path(path)
    listed = _manifest(path.parent).get(path.name)
    return isinstance(listed, str) and path.is_file() and file_digest(path) == listed


def check_replaceable(path: str | Path) -> None:
    """Refuse, in one line, to replace an existing ``path`` that showcase did not write."""
    path = Path(path)
    if os.path.lexists(path) and not written_by_showcase(path):
        raise ParameterError(
            f"{path} was not written by showcase (or was changed since): --force replaces only files "
            "showcase wrote; move it away or choose another --out"
        )


def record_written(path: str | Path) -> None:
    """List ``path`` (just written) in its folder's manifest, with the digest of its content."""
    path = Path(path)
    listed = _manifest(path.parent)
    listed[path.name] = file_digest(path)
    temp = path.parent / f".{MANIFEST}.{uuid.uuid4().hex[:12]}"
    try:
        temp.write_text(json.dumps(listed, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(temp, path.parent / MANIFEST)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
