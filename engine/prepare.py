"""Data preparation options shared by every command that reads sensitive data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .encode import EncodedTable, encode
from .ingest import fingerprint, input_format, read_table


@dataclass(frozen=True)
class Preparation:
    """How sensitive input is read and turned into attributes (recorded in metadata).

    ``null_markers`` are extra values meaning "no attribute" (the empty string
    and null always do); ``sensitive_zeros`` lists columns where ``0`` is a
    real value, or is ``"all"``.
    """

    delimiter: str | None = None
    use_columns: Sequence[str] | None = None
    record_limit: int | None = None
    null_markers: Sequence[str] = field(default_factory=tuple)
    sensitive_zeros: str | Sequence[str] | None = None

    def describe(self) -> dict:
        doc = asdict(self)
        for key in ("use_columns", "null_markers"):
            if doc[key] is not None:
                doc[key] = list(doc[key])
        if isinstance(doc["sensitive_zeros"], (list, tuple)):
            doc["sensitive_zeros"] = list(doc["sensitive_zeros"])
        return doc


def load(path: str | Path, preparation: Preparation = Preparation()) -> EncodedTable:
    """Read and encode a sensitive input file as ``preparation`` says."""
    table = read_table(
        path,
        delimiter=preparation.delimiter,
        use_columns=preparation.use_columns,
        record_limit=preparation.record_limit,
    )
    return encode(
        table,
        null_markers=preparation.null_markers,
        sensitive_zeros=preparation.sensitive_zeros,
    )


def describe_input(path: str | Path) -> dict:
    """Non-sensitive facts about an input file: its format and fingerprint."""
    path = Path(path)
    return {"format": input_format(path), "fingerprint": fingerprint(path)}
