"""The release directory: fixed file names, atomic writes, metadata.

A release is written into a hidden staging directory beside the target and
renamed into place only when every file is complete, so an error or Ctrl-C
never leaves a partial release behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from .errors import ParameterError

AGGREGATES_PARQUET = "aggregates.parquet"
AGGREGATES_TSV = "aggregates.tsv"
SENSITIVE_PARQUET = "sensitive_aggregates.parquet"
SENSITIVE_TSV = "sensitive_aggregates.tsv"
SYNTHETIC_CSV = "synthetic.csv"
SYNTHETIC_PARQUET = "synthetic.parquet"
METADATA = "metadata.json"
EVALUATION = "evaluation.json"
REPORT = "report.html"


def check_output_dir(out: str | Path, force: bool) -> Path:
    """Refuse an existing output directory unless ``force``; call before any work."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ParameterError(f"{out} exists and is not a directory")
    if out.exists() and not force:
        raise ParameterError(f"{out} already exists; choose another --out or pass --force to replace it")
    if not out.parent.exists():
        raise ParameterError(f"{out.parent} does not exist; create it first")
    return out


@contextlib.contextmanager
def staged_directory(out: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield an empty staging directory that becomes ``out`` if the block succeeds.

    On any exception (including KeyboardInterrupt) the staging directory is
    removed and ``out`` is left as it was.
    """
    out = check_output_dir(out, force)
    stage = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:12]}"
    stage.mkdir()
    try:
        yield stage
        if out.exists():
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:12]}"
            os.replace(out, old)
            os.replace(stage, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def write_json(path: Path, document: dict) -> None:
    """Write a JSON document, pretty-printed, UTF-8."""
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()
