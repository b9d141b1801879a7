"""The one load path: read → prepare → encode, used by every job.

:class:`Preparation` says how sensitive input is read and turned into
attributes, and is recorded in every release's metadata. :func:`load_input`
applies it to a file or an in-memory table and returns the codes, the
subject ids (when privacy is per subject) and the facts metadata needs;
:func:`load` returns only the codes. Later preparation steps (multi-value
columns, linked tables, binning) belong here, so that every job gets them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .encode import EncodedTable, Schema, encode
from .errors import InputError, ParameterError
from .ingest import Source, check_input, check_sheet, fingerprint, input_format, is_path, read_table

#: Most distinct values a column may have by default (more: an identifier, or a number to bin).
DEFAULT_MAX_CARDINALITY = 10_000


@dataclass(frozen=True)
class Preparation:
    """How sensitive input is read and turned into attributes (recorded in metadata).

    ``null_markers`` are extra values meaning "no attribute" (the empty string
    and null always do); ``sensitive_zeros`` lists columns where ``0`` is a
    real value, or is ``"all"``. ``subject_id`` names a column identifying
    the subject of each row (all rows of one subject are protected together,
    and the column itself is not an attribute); ``codebook`` is a public CSV
    ``column,value`` listing every possible value of every column. ``sheet``
    names the sheet of an ``.xlsx`` input (default: the first sheet).
    ``max_cardinality`` refuses a column with more distinct values than this
    (an identifier or a raw number, to be binned or dropped); None: no limit.
    """

    delimiter: str | None = None
    use_columns: Sequence[str] | None = None
    record_limit: int | None = None
    null_markers: Sequence[str] = field(default_factory=tuple)
    sensitive_zeros: str | Sequence[str] | None = None
    subject_id: str | None = None
    codebook: str | Path | None = None
    sheet: str | None = None
    max_cardinality: int | None = DEFAULT_MAX_CARDINALITY

    def __post_init__(self) -> None:
        limit = self.max_cardinality
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ParameterError(f"max cardinality must be a positive integer, got {limit!r}")

    def describe(self) -> dict:
        """The preparation as metadata records it (the codebook as a yes/no, never a path)."""
        doc = asdict(self)
        for key in ("use_columns", "null_markers"):
            if doc[key] is not None:
                doc[key] = list(doc[key])
        if isinstance(doc["sensitive_zeros"], (list, tuple)):
            doc["sensitive_zeros"] = list(doc["sensitive_zeros"])
        for key in ("subject_id", "codebook", "sheet"):
            if doc[key] is None:
                del doc[key]  # the metadata of releases without them stays as it was
        if doc["max_cardinality"] == DEFAULT_MAX_CARDINALITY:
            del doc["max_cardinality"]
        if "codebook" in doc:
            doc["codebook"] = True
        return doc

    def files(self) -> list[str | Path]:
        """The files this preparation reads besides the input (the codebook)."""
        return [self.codebook] if self.codebook is not None else []


@dataclass
class Loaded:
    """A prepared input: codes, subject ids (or None: one subject per row), facts for metadata."""

    table: EncodedTable
    subject: np.ndarray | None
    description: dict
    #: The values come from a public codebook rather than from the data.
    public_domain: bool = False


def check_source(source: Source, preparation: Preparation) -> None:
    """Fail early, in one line, on an unreadable input or codebook (before any work)."""
    check_input(source)
    check_sheet(source, preparation.sheet)
    for extra in preparation.files():
        check_input(extra)


def load_input(
    source: Source, preparation: Preparation = Preparation(), schema: Schema | None = None
) -> Loaded:
    """Read ``source`` (a path or a table) and prepare and encode it as ``preparation`` says.

    With ``schema`` the table is encoded onto it (a release onto the
    sensitive data's schema); a codebook gives the schema otherwise.
    """
    raw = read_table(
        source,
        delimiter=preparation.delimiter,
        use_columns=preparation.use_columns,
        record_limit=preparation.record_limit,
        sheet=preparation.sheet,
    )
    # An in-memory input is fingerprinted as read (its text columns), not converted a second time.
    description = describe_input(source if is_path(source) else raw)
    subject = None
    if preparation.subject_id is not None:
        raw, subject = _split_subject(raw, preparation.subject_id)
    if preparation.codebook is not None:
        schema = read_codebook(preparation.codebook, raw.column_names)
    table = encode(
        raw,
        null_markers=preparation.null_markers,
        sensitive_zeros=preparation.sensitive_zeros,
        schema=schema,
    )
    if schema is None:
        check_cardinality(table, preparation.max_cardinality)
    return Loaded(table, subject, description, public_domain=preparation.codebook is not None)


def check_cardinality(table: EncodedTable, limit: int | None) -> None:
    """Refuse a column with more than ``limit`` distinct values, naming it and the count only."""
    if limit is None:
        return
    for name, values in zip(table.schema.columns, table.schema.dictionaries):
        if len(values) > limit:
            raise InputError(
                f"column {name!r} has {len(values):,} distinct values, more than the limit of {limit:,}: "
                "bin it, drop it (--use-columns), or raise --max-cardinality"
            )


def load(
    source: Source, preparation: Preparation = Preparation(), schema: Schema | None = None
) -> EncodedTable:
    """Read and encode a sensitive input (a path or a table) as ``preparation`` says."""
    return load_input(source, preparation, schema).table


def load_onto(source: Source, sensitive: EncodedTable, preparation: Preparation) -> EncodedTable:
    """Read a release's records and encode them on the sensitive data's schema.

    The record limit, the subject id and the sheet are the sensitive input's, not the release's.
    """
    own = replace(preparation, record_limit=None, subject_id=None, codebook=None, sheet=None)
    return load(source, own, schema=sensitive.schema)


def _split_subject(raw: pa.Table, column: str) -> tuple[pa.Table, np.ndarray]:
    """The table without its subject id column, and one integer id per row."""
    if column not in raw.column_names:
        raise ParameterError(f"unknown subject id column {column!r}")
    subject = subject_ids(raw.column(column), column)
    raw = raw.drop_columns([column])
    if raw.num_columns == 0:
        raise ParameterError(f"the subject id {column!r} is the input's only column")
    return raw, subject


def subject_ids(column: pa.ChunkedArray, name: str = "subject id") -> np.ndarray:
    """One integer per row, the same for all rows of one subject; a row without one is an error.

    The error gives the number of such rows, never a value.
    """
    ids = pc.dictionary_encode(column).combine_chunks()
    codes = pc.fill_null(ids.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    blank = np.flatnonzero(pc.equal(ids.dictionary.cast(pa.string()), "").to_numpy(zero_copy_only=False))
    missing = int(np.count_nonzero((codes < 0) | np.isin(codes, blank)))
    if missing:
        raise InputError(
            f"the subject id {name!r} is empty in {missing:,} row(s): give every row its subject, "
            "or drop those rows"
        )
    return codes


def read_codebook(path: str | Path, columns: Sequence[str]) -> Schema:
    """A public codebook: a CSV with columns ``column,value``, one row per possible value."""
    table = read_table(path)
    if table.column_names[:2] != ["column", "value"]:
        raise InputError(f"{path}: a codebook needs the header 'column,value'")
    names = table.column("column").cast(pa.string()).to_pylist()
    values = table.column("value").cast(pa.string()).to_pylist()
    unknown = sorted({n for n in names if n not in set(columns)})
    if unknown:
        raise InputError(f"{path}: codebook names unknown column(s) {', '.join(map(repr, unknown))}")
    dictionaries = []
    for name in columns:
        mine = sorted({v for n, v in zip(names, values) if n == name and v}, key=str.encode)
        if not mine:
            raise InputError(f"{path}: codebook lists no values for column {name!r}")
        dictionaries.append(pa.array(mine, pa.string()))
    return Schema(tuple(columns), tuple(dictionaries))


def describe_input(source: Source) -> dict:
    """Non-sensitive facts about an input: its format and fingerprint."""
    kind = input_format(Path(source)) if is_path(source) else "table"
    return {"format": kind, "fingerprint": fingerprint(source)}
