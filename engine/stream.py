"""Inputs larger than memory: read in row batches, encode onto one dictionary, sum the batches' counts.

A streamed input is a directory of files (searched recursively), a glob
(``data/part-*.csv``) or one large file: CSV/TSV, Parquet or Arrow IPC, all
of one format and with the same columns. Folders named ``key=value`` under
a directory (Hive partitioning, as Spark, Dask and ``pyarrow.dataset`` write
them) add a column ``key`` holding ``value`` for every row of the files
below them (``__HIVE_DEFAULT_PARTITION__`` is a missing value; ``%XX``
escapes are decoded). Two passes over the data:

1. **Dictionary**: each column's values used by some record (or, with a CSV
   codebook, the codebook's), numbered exactly as :func:`~.encode.encode`
   numbers them for the whole table loaded at once (sorted by bytes, null
   markers and the zero rule applied), so the schema is the one the
   in-memory path would build.
2. **Counts**: each batch is encoded onto that schema and counted by
   :func:`~.count.count_combinations` (the same kernels); the batches'
   counts are summed by packed combination key (:class:`CountSum`) and put
   in the in-memory path's order. The result equals the in-memory counts
   exactly, whatever the partitioning.

Memory: one batch of text and its codes, and the summed counts (bounded by
the resource guard). DP needs every record's attributes for its
contribution bounding, so under DP pass 2 keeps the codes of every record
(``rows × columns`` bytes, or twice that with more than 255 values in a
column) instead of counting, and the DP release is drawn from them as in
memory: a chunk of records at a time (:class:`~.dp.marginals.ChunkedRecords`),
so besides the codes it holds 4 bytes a record and one chunk's attribute lists.
Preparation that needs all rows of a subject together (subject id, linked
tables) or all values of a column (binning, multi-value columns, a YAML/JSON
codebook) is refused for streamed inputs.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .aggregates import NO_ATTRIBUTE, Aggregates
from .count import count_combinations
from .encode import EncodedTable, Schema, code_dtype, resolve_sensitive_zeros
from .errors import InputError, ParameterError
from .ingest import (
    TEXT,
    _check_names,
    _explain_csv_error,
    _open_ipc,
    _select,
    _text_header,
    compression_error,
    input_format,
    nan_as_null,
    parse_delimiter,
)
from .kernels.keys import key_layout, pack_rows
from .resources import Resources

#: A single file larger than this is streamed when streaming is left to choose (2 GiB).
STREAM_ABOVE = 2 << 30
#: Rows per batch at most, and bytes of codes and text a batch may hold per row and column.
MAX_BATCH_ROWS = 1 << 22
BYTES_PER_CELL = 24
#: Pending batch counts are merged into the sum once they hold this many combinations.
MERGE_EVERY = 1 << 22
#: ``progress(done_bytes, total_bytes)`` of a pass over the input.
Progress = Callable[[int, int], None]

_GLOB = set("*?[")


@dataclass(frozen=True)
class Part:
    """One unit of a streamed input: a file, or some row groups of a Parquet file."""

    path: str
    kind: str
    size: int
    row_groups: tuple[int, ...] | None = None
    #: Values of the Hive partition columns (``key=value`` folders), in the stream's order; None = missing.
    partition: tuple[str | None, ...] = ()
    #: The file's modification time when the stream was opened (ns; 0: not recorded).
    mtime: int = 0


@dataclass(frozen=True)
class Streamed:
    """A streamed input: its parts, columns and format, and how to read them."""

    parts: tuple[Part, ...]
    columns: tuple[str, ...]
    delimiter: str | None
    shown: str
    #: Columns taken from ``key=value`` folder names (after the files' own columns).
    partition_columns: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return sum(p.size for p in self.parts)


def is_stream_source(source: object) -> bool:
    """Whether ``source`` names a directory or a glob (inputs only streaming reads)."""
    if not isinstance(source, (str, os.PathLike)):
        return False
    text = os.fspath(source)
    return Path(text).is_dir() or (not Path(text).exists() and any(ch in _GLOB for ch in text))


def should_stream(source: object, stream: bool | None) -> bool:
    """Whether a job streams ``source``: as asked, else dirs, globs, files above :data:`STREAM_ABOVE`."""
    if not isinstance(source, (str, os.PathLike)):
        return False  # a table in memory is counted in memory
    if stream is not None:
        return stream
    try:
        if is_stream_source(source):
            return True
        path = Path(source)
        return path.is_file() and path.stat().st_size > STREAM_ABOVE
    except OSError:  # a name the file system refuses (too long): reading it as one file says why
        return False


def streams(source: object, resources: Resources | None) -> bool:
    """Whether a job reads ``source`` in batches: a scheduler always does (its workers read the
    parts), else :func:`should_stream` with the resources' ``stream``; without resources, never."""
    if resources is None:
        return False
    return resources.scheduler is not None or should_stream(source, resources.stream)


def _hidden(relative: Path) -> bool:
    """A file or folder below the input's folder named ``.*`` or ``_*`` (Spark's ``_temporary/``,
    ``_SUCCESS``, a ``.git``): not a part of the data, whatever is inside."""
    return any(name.startswith((".", "_")) for name in relative.parts)


def _walk(folder: Path) -> list[Path]:
    """The files below ``folder``, through linked folders too (each real folder and file once), sorted.

    A link whose target is gone is refused by name: quietly leaving it out
    would release counts without the records it stood for.
    """
    found, seen = [], set()
    for top, folders, names in os.walk(folder, followlinks=True):
        here = Path(top)
        real = os.path.realpath(top)
        if real in seen or _hidden(here.relative_to(folder)):
            folders[:] = []
            continue
        seen.add(real)
        folders.sort()
        for name in names:
            file = here / name
            if _hidden(file.relative_to(folder)):
                continue
            if not file.exists():
                raise InputError(f"{file}: a link to a file that is not there (remove it or restore it)")
            if file.is_file():
                found.append(file)
    once = {}  # a file reached by two paths (a link to it, a linked folder) is read once
    for file in sorted(found):
        once.setdefault(os.path.realpath(file), file)
    return sorted(once.values())


def _format_or_none(path: Path) -> str | None:
    """:func:`input_format` of ``path``, or None for a file of no known format."""
    try:
        return input_format(path)
    except InputError:
        return None


def _files(source: str | os.PathLike) -> tuple[list[Path], str]:
    text = os.fspath(source)
    path = Path(text)
    if path.is_dir():
        return _walk(path), f"{path}/"
    if path.is_file():
        return [path], str(path)
    matches = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
    if any(ch in _GLOB for ch in text) and matches:
        return matches, text
    raise InputError(f"{text}: no such file (nor any file matching it as a pattern)")


def open_stream(
    source: str | os.PathLike, delimiter: str | None, use_columns: Sequence[str] | None
) -> Streamed:
    """The parts of a streamed input, checked: one format, the same columns in every file."""
    files, shown = _files(source)
    for f in files:
        if f.stat().st_size == 0 and _format_or_none(f) in ("parquet", "arrow"):
            raise InputError(f"{f}: the file is empty (a copy that failed?)")
    files = [f for f in files if f.stat().st_size > 0]
    if not files:
        raise InputError(f"{shown}: no non-empty input files")
    kinds = set()
    for f in files:
        try:
            kinds.add(input_format(f))
        except InputError:
            raise InputError(f"{shown}: {f.name} is not a .csv, .tsv, .parquet or .arrow file") from None
    if kinds == {"xlsx"}:
        raise InputError(f"{shown}: a workbook is read whole, one sheet at a time: give one file, without "
                         "--stream (or save the sheets as CSV or Parquet parts)")  # fmt: skip
    if len(kinds) > 1 or kinds & {"xlsx"}:
        raise InputError(f"{shown}: the files must all be one format (CSV, Parquet or Arrow), found "
                         f"{', '.join(sorted(kinds))}")  # fmt: skip
    kind = kinds.pop()
    names = None
    keys = None
    parts = []
    root = Path(source) if Path(source).is_dir() else None
    for f in files:
        mine = _names(f, kind, delimiter)
        _check_names(f, mine)
        if names is None:
            names = mine
        elif mine != names:
            raise InputError(f"{shown}: {f.name} has other columns than {files[0].name}")
        pairs = hive_partition(f, root)
        if keys is None:
            keys = tuple(k for k, _ in pairs)
        elif tuple(k for k, _ in pairs) != keys:
            raise InputError(f"{shown}: {f.relative_to(root)} is not under the same key=value folders "
                             f"as {files[0].relative_to(root)}")  # fmt: skip
        info = f.stat()
        parts.append(
            Part(str(f), kind, info.st_size, partition=tuple(v for _, v in pairs), mtime=info.st_mtime_ns)
        )
    clash = [k for k in keys if k in names]
    if clash:
        raise InputError(f"{shown}: column {clash[0]!r} is both in the files and in key=value folder names")
    wanted = _select(files[0], [*names, *keys], use_columns)
    if keys and all(w in keys for w in wanted):
        raise ParameterError("use at least one column of the files themselves, not only key=value folders")
    return Streamed(tuple(parts), tuple(wanted), delimiter, shown, tuple(keys))


#: Hive's spelling of a missing partition value.
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


def hive_partition(path: Path, root: Path | None) -> list[tuple[str, str | None]]:
    """The ``key=value`` folders between ``root`` and ``path``, outermost first (values %-decoded)."""
    if root is None:
        return []
    pairs = []
    for folder in path.relative_to(root).parts[:-1]:
        key, equals, value = folder.partition("=")
        if equals and key:
            value = unquote(value)
            pairs.append((unquote(key), None if value == HIVE_NULL else value))
    return pairs


def _names(path: Path, kind: str, delimiter: str | None) -> list[str]:
    try:
        if kind == "csv":
            return _text_header(path, parse_delimiter(delimiter, path))
        if kind == "parquet":
            return list(pq.read_schema(path).names)
        return list(_open_ipc(path).schema.names)
    except (pa.ArrowInvalid, OSError):
        raise InputError(f"{path}: not a readable {kind} file") from None


def split_parts(stream: Streamed, at_least: int) -> Streamed:
    """The same input in at least ``at_least`` parts where Parquet row groups allow (for workers)."""
    if len(stream.parts) >= at_least:
        return stream
    parts = []
    share = max(1, -(-at_least // len(stream.parts)))
    for part in stream.parts:
        if part.kind != "parquet":
            parts.append(part)
            continue
        groups = pq.ParquetFile(part.path).metadata.num_row_groups
        for chunk in np.array_split(np.arange(groups), min(share, max(groups, 1))):
            if len(chunk):
                size = part.size * len(chunk) // max(groups, 1)
                parts.append(Part(part.path, part.kind, size, tuple(int(g) for g in chunk), part.partition,
                                  part.mtime))  # fmt: skip
    return Streamed(tuple(parts), stream.columns, stream.delimiter, stream.shown, stream.partition_columns)


def batches(stream: Streamed, part: Part, batch_rows: int) -> Iterator[tuple[list[pa.Array], int]]:
    """A part's batches as text-like arrays (one per column), with the part's bytes read so far."""
    own = _own_columns(stream)
    if own != stream:  # key=value folders: their values are columns of every row here
        for arrays, done in batches(own, part, batch_rows):
            n = len(arrays[0]) if arrays else 0
            yield _with_partition(stream, part, arrays, n), done
        return
    if part.kind == "parquet":
        yield from _parquet_batches(stream, part, batch_rows)
    elif part.kind == "csv":
        yield from _csv_batches(stream, part, batch_rows)
    else:
        yield from _ipc_batches(stream, part)


def _own_columns(stream: Streamed) -> Streamed:
    """The stream reading the files' own columns only (itself when no partition column is used)."""
    used = [c for c in stream.columns if c in stream.partition_columns]
    if not used:
        return stream
    own = tuple(c for c in stream.columns if c not in stream.partition_columns)
    return Streamed(stream.parts, own, stream.delimiter, stream.shown)


def _with_partition(stream: Streamed, part: Part, arrays: list[pa.Array], n: int) -> list[pa.Array]:
    """A batch of the files' own columns with the partition columns put in their places."""
    own = iter(arrays)
    out = []
    for column in stream.columns:
        if column in stream.partition_columns:
            value = part.partition[stream.partition_columns.index(column)]
            out.append(pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(n, dtype=np.int32), mask=np.full(n, value is None)),
                pa.array([value if value is not None else ""], pa.string()),
            ))  # fmt: skip
        else:
            out.append(next(own))
    return out


def _ipc_batches(stream: Streamed, part: Part) -> Iterator[tuple[list[pa.Array], int]]:
    """An Arrow IPC part's batches: a file (``.arrow``, ``.feather``) by index, a stream as it comes."""
    try:
        reader = _open_ipc(Path(part.path))
        if isinstance(reader, pa.ipc.RecordBatchFileReader):
            total = max(reader.num_record_batches, 1)
            found = (reader.get_batch(i) for i in range(reader.num_record_batches))
        else:  # a stream's length is known only at its end: its bytes count as read at its first batch
            total, found = None, iter(reader)
        for i, batch in enumerate(found):
            batch = batch.select(list(stream.columns))
            done = part.size * (i + 1) // total if total else part.size
            yield [batch.column(c) for c in range(batch.num_columns)], done
    except (pa.ArrowInvalid, OSError):
        raise InputError(f"{part.path}: not a readable arrow file") from None


def _parquet_batches(stream: Streamed, part: Part, batch_rows: int) -> Iterator[tuple[list[pa.Array], int]]:
    try:
        schema = pq.read_schema(part.path)
        text = [n for n in stream.columns if pa.types.is_string(schema.field(n).type)
                or pa.types.is_large_string(schema.field(n).type)]  # fmt: skip
        handle = pq.ParquetFile(part.path, read_dictionary=text)
        groups = part.row_groups if part.row_groups is not None else range(handle.metadata.num_row_groups)
        rows = sum(handle.metadata.row_group(g).num_rows for g in groups) or 1
        done = 0
        for batch in handle.iter_batches(batch_size=batch_rows, row_groups=list(groups),
                                         columns=list(stream.columns)):  # fmt: skip
            done += batch.num_rows
            yield [batch.column(c) for c in range(batch.num_columns)], part.size * done // rows
    except (pa.ArrowInvalid, OSError):
        raise InputError(f"{part.path}: not a readable parquet file") from None


def _csv_batches(stream: Streamed, part: Part, batch_rows: int) -> Iterator[tuple[list[pa.Array], int]]:
    path = Path(part.path)
    delimiter = parse_delimiter(stream.delimiter, path)
    names = _text_header(path, delimiter)
    # A block holds about batch_rows rows of ~8 bytes a cell; at least 1 MiB.
    block = int(min(max(batch_rows * len(names) * 8, 1 << 20), 1 << 28))
    read_options = pacsv.ReadOptions(block_size=block)
    parse_options = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    convert = pacsv.ConvertOptions(
        column_types={name: TEXT for name in names}, include_columns=list(stream.columns),
        strings_can_be_null=False, quoted_strings_can_be_null=False, check_utf8=True,
    )  # fmt: skip
    with open(path, "rb") as raw:
        source = pa.PythonFile(raw, mode="r")
        suffix = path.suffix.lower()
        if suffix in {".gz", ".bz2", ".zst", ".lz4"}:
            codec = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".lz4": "lz4"}[suffix]
            source = pa.CompressedInputStream(source, codec)
        try:
            with pacsv.open_csv(source, read_options, parse_options, convert) as reader:
                for batch in reader:
                    yield [batch.column(c) for c in range(batch.num_columns)], min(raw.tell(), part.size)
        except pa.ArrowInvalid as error:
            raise InputError(f"{path}: {_explain_csv_error(str(error), names)}") from None
        except OSError as error:
            raise compression_error(path, error) from None


def _dictionary(array: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """A column batch as (its dictionary of strings, each row's index into it, nulls as len(dictionary))."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type) and pa.types.is_floating(array.type.value_type):
        array = array.dictionary_decode()  # its NaN must become no attribute, as in memory
    if not pa.types.is_dictionary(array.type):
        if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
            try:
                array = nan_as_null(array).cast(pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise InputError(f"a column of type {array.type} cannot be read as text") from None
        array = pc.dictionary_encode(array)
    values = array.dictionary
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    indices = array.indices
    if indices.null_count:
        indices = pc.fill_null(indices, len(values))
    return values, indices.to_numpy(zero_copy_only=False)


@dataclass
class Plan:
    """What pass 1 found: the schema, the number of rows, and the record limit's cut."""

    schema: Schema
    n_rows: int
    record_limit: int | None = None
    stream: Streamed | None = None
    cardinalities: list[int] = field(default_factory=list)


def no_attribute(columns: Sequence[str], null_markers: Sequence[str], sensitive_zeros) -> list[pa.Array]:
    """Per column, the spellings that mean no attribute (the encoder's rule)."""
    zeros = resolve_sensitive_zeros(list(columns), sensitive_zeros)
    base = {""} | set(null_markers)
    return [pa.array(sorted(base if name in zeros else base | {"0"}), pa.string()) for name in columns]


def _limited(stream: Streamed, batch_rows: int, record_limit: int | None, progress: Progress | None,
             offset: int = 0, total: int | None = None):  # fmt: skip
    """Every batch of every part in order, cut at ``record_limit`` rows, with the bytes read so far."""
    seen, before = 0, offset
    total = stream.size if total is None else total
    for part in stream.parts:
        for arrays, read in batches(stream, part, batch_rows):
            n = len(arrays[0]) if arrays else 0
            if record_limit is not None and seen + n > record_limit:
                arrays = [a.slice(0, record_limit - seen) for a in arrays]
                n = record_limit - seen
            seen += n
            if n:
                yield arrays
            if progress is not None:
                progress(before + read, total)
            if record_limit is not None and seen >= record_limit:
                return
        before += part.size


def used_values(arrays: list[pa.Array], found: list[set]) -> None:
    """Add each column's values used by some row of the batch to ``found``."""
    for c, array in enumerate(arrays):
        values, indices = _dictionary(array)
        used = np.bincount(indices, minlength=len(values) + 1)[:-1] > 0
        if not used.all():
            values = values.filter(pa.array(used))
        found[c].update(v for v in values.to_pylist())


def schema_of(columns: Sequence[str], found: list[set], none: list[pa.Array]) -> Schema:
    """The schema :func:`~.encode.encode` would build from these used values: byte order, markers out."""
    dictionaries = []
    for values, marked in zip(found, none):
        skip = set(marked.to_pylist())
        kept = sorted((v for v in values if v is not None and v not in skip), key=str.encode)
        dictionaries.append(pa.array(kept, pa.string()))
    return Schema(tuple(columns), tuple(dictionaries))


def plan(
    stream: Streamed,
    *,
    null_markers: Sequence[str] = (),
    sensitive_zeros=None,
    record_limit: int | None = None,
    schema: Schema | None = None,
    batch_rows: int = MAX_BATCH_ROWS,
    max_cardinality: int | None = None,
    progress: Progress | None = None,
) -> Plan:
    """Pass 1: the number of rows and, without ``schema`` (a codebook's), the schema of the values used."""
    none = no_attribute(stream.columns, null_markers, sensitive_zeros)
    found: list[set] = [set() for _ in stream.columns]
    n_rows = 0
    for arrays in _limited(stream, batch_rows, record_limit, progress):
        n_rows += len(arrays[0])
        if schema is None:
            used_values(arrays, found)
            _check_cardinality(stream.columns, found, max_cardinality)
    if n_rows == 0:
        raise InputError(f"{stream.shown}: no records")
    if schema is None:
        schema = schema_of(stream.columns, found, none)
        if max_cardinality is not None:
            for name, values in zip(schema.columns, schema.dictionaries):
                if len(values) > max_cardinality:
                    raise InputError(
                        f"column {name!r} has {len(values):,} distinct values, more than the limit of "
                        f"{max_cardinality:,}: bin it, drop it (--use-columns), or raise --max-cardinality"
                    )
    return Plan(schema, n_rows, record_limit, stream, [len(d) for d in schema.dictionaries])


def _check_cardinality(columns: Sequence[str], found: list[set], limit: int | None) -> None:
    if limit is None:
        return
    for name, values in zip(columns, found):
        if len(values) > limit + 2:  # the no-attribute spellings may be among them
            raise InputError(
                f"column {name!r} has more than {limit:,} distinct values: "
                "bin it, drop it (--use-columns), or raise --max-cardinality"
            )


class Encoder:
    """Encodes batches onto one schema, the encoder's rule for values that are no attribute."""

    def __init__(self, schema: Schema, none: list[pa.Array], codebook: bool = False) -> None:
        self.schema = schema
        self.none = none
        self.codebook = codebook
        self.dtype = code_dtype(max((len(d) for d in schema.dictionaries), default=0))

    def __call__(self, arrays: list[pa.Array], out: np.ndarray | None = None) -> np.ndarray:
        """Codes ``(columns, rows)`` of one batch (into ``out`` when given)."""
        n = len(arrays[0]) if arrays else 0
        codes = np.empty((len(arrays), n), dtype=self.dtype) if out is None else out
        for c, array in enumerate(arrays):
            values, indices = _dictionary(array)
            position = pc.index_in(values, value_set=self.schema.dictionaries[c])
            remap = np.zeros(len(values) + 1, dtype=np.int64)
            remap[:-1] = pc.fill_null(position, -1).to_numpy(zero_copy_only=False) + 1
            if self.codebook:
                self._check_known(c, values, position, indices)
            np.take(remap.astype(self.dtype), indices, out=codes[c])
        return codes

    def _check_known(self, c: int, values: pa.Array, position: pa.Array, indices: np.ndarray) -> None:
        unknown = pc.and_(pc.is_null(position), pc.invert(pc.is_in(values, value_set=self.none[c])))
        unknown = pc.and_(unknown, pc.is_valid(values)).to_numpy(zero_copy_only=False)
        if unknown.any():
            used = np.bincount(indices, minlength=len(values) + 1)[:-1] > 0
            bad = int(np.count_nonzero(unknown & used))
            if bad:  # sensitive values: counted, never printed (nor sent to a worker's log)
                name = self.schema.columns[c]
                raise InputError(f"column {name!r} has {bad:,} value(s) outside the codebook: add them to it")


class CountSum:
    """Counts of combinations summed over batches, by packed key (one or more int64 words)."""

    def __init__(self, schema: Schema, length: int) -> None:
        self.schema = schema
        self.length = length
        self.radix, self.per_word, self.n_words = key_layout(schema.n_attributes, length)
        self.keys = np.empty((0, self.n_words), dtype=np.int64)
        self.counts = np.empty(0, dtype=np.int64)
        self.pending: list[tuple[np.ndarray, np.ndarray]] = []
        self.pending_size = 0
        self.records = 0

    def add(self, aggregates: Aggregates) -> None:
        """Add one batch's exact counts."""
        self.records += aggregates.record_count
        if not len(aggregates):
            return
        keys = pack_rows(aggregates.attrs, aggregates.length.astype(np.int64), self.radix, self.per_word,
                         self.n_words)  # fmt: skip
        self.add_keys(keys, aggregates.count)

    def add_keys(self, keys: np.ndarray, counts: np.ndarray, records: int = 0) -> None:
        """Add packed keys and their counts (a worker's partial sum)."""
        self.records += records
        self.pending.append((keys.reshape(-1, self.n_words), counts.astype(np.int64)))
        self.pending_size += len(counts)
        if self.pending_size >= max(MERGE_EVERY, len(self.counts)):
            self._merge()

    def _merge(self) -> None:
        if not self.pending:
            return
        keys = np.concatenate([self.keys, *(k for k, _ in self.pending)])
        counts = np.concatenate([self.counts, *(c for _, c in self.pending)])
        self.pending, self.pending_size = [], 0
        self.keys, self.counts = sum_by_key(keys, counts)

    def packed(self) -> tuple[np.ndarray, np.ndarray]:
        """The summed keys (sorted) and counts."""
        self._merge()
        return self.keys, self.counts

    def aggregates(self) -> Aggregates:
        """The summed counts as exact :class:`Aggregates`, in :func:`~.count.count_combinations`' order."""
        keys, counts = self.packed()
        attrs, lengths = unpack_keys(keys, self.radix, self.per_word, self.length)
        order = combination_order(self.schema, attrs, lengths)
        return Aggregates(
            schema=self.schema, reporting_length=self.length, attrs=np.ascontiguousarray(attrs[order]),
            length=lengths[order], count=counts[order], record_count=self.records,
        )  # fmt: skip


def sum_by_key(keys: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``keys`` made unique (sorted) with their ``counts`` summed."""
    if len(counts) == 0:
        return keys, counts
    if keys.shape[1] == 1:
        order = np.argsort(keys[:, 0], kind="stable")
        ordered = keys[order, 0]
        starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
        return ordered[starts][:, None], np.add.reduceat(counts[order], starts)
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    summed = np.zeros(len(unique), dtype=np.int64)
    np.add.at(summed, inverse.reshape(-1), counts)
    return unique, summed


def unpack_keys(keys: np.ndarray, radix: int, per_word: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Attribute ids ``(n, length)`` (padded with -1) and lengths of packed keys."""
    n = len(keys)
    attrs = np.full((n, length), NO_ATTRIBUTE, dtype=np.int64)
    lengths = np.zeros(n, dtype=np.int64)
    for w in range(keys.shape[1]):
        word = keys[:, w].copy()
        digits = []
        while word.any():
            digits.append(word % radix)
            word //= radix
        # digits are least significant first; a word of m digits holds ids in its top m positions
        m = np.zeros(n, dtype=np.int64)
        for d in digits:
            m += d > 0
        for j, d in enumerate(digits):
            slot = w * per_word + m - 1 - j
            ok = d > 0
            attrs[np.flatnonzero(ok), slot[ok]] = d[ok] - 1
        lengths += m
    return attrs.astype(np.int32), lengths.astype(np.uint8)


def combination_order(schema: Schema, attrs: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The order of count_combinations: by length, then column set (input order), then value codes."""
    column = np.asarray(schema.attribute_columns, dtype=np.int64)
    cols = np.where(attrs >= 0, column[np.maximum(attrs, 0)], -1)
    width = attrs.shape[1]
    sort_keys = [attrs[:, j] for j in range(width - 1, -1, -1)]
    sort_keys += [cols[:, j] for j in range(width - 1, -1, -1)]
    sort_keys.append(lengths)
    return np.lexsort(sort_keys)


def batch_rows_for(n_columns: int, memory_limit: int, asked: int | None = None) -> int:
    """Rows per batch: as asked, else what a quarter of the memory limit holds (<= :data:`MAX_BATCH_ROWS`)."""
    if asked is not None:
        return asked
    fits = memory_limit // 4 // max(n_columns * BYTES_PER_CELL, 1)
    return int(max(1 << 12, min(MAX_BATCH_ROWS, fits)))


def _second_pass(found: Plan, batch_rows: int, progress: Progress | None, offset: int, total: int | None):
    """Pass 2's batches, checked against pass 1: as many rows, and every file as it was.

    A file still being written (an export running into the folder) would
    otherwise be counted with values pass 1 never saw, or overflow the codes.
    """
    seen = 0
    for arrays in _limited(found.stream, batch_rows, found.record_limit, progress, offset, total):
        seen += len(arrays[0])
        if seen > found.n_rows:
            break
        yield arrays
    check_read_as_planned(found, seen)


def check_read_as_planned(found: Plan, rows: int) -> None:
    """Refuse a pass 2 that read other than ``found.n_rows`` rows, or files that changed since pass 1."""
    if rows != found.n_rows:
        raise InputError(f"{found.stream.shown}: the input changed while it was read ({found.n_rows:,} rows "
                         "at first); run again once nothing writes to it")  # fmt: skip
    for part in found.stream.parts:
        try:
            info = os.stat(part.path)
        except OSError:
            info = None
        whole = part.row_groups is None
        if (
            info is None
            or (part.mtime and info.st_mtime_ns != part.mtime)
            or (whole and info.st_size != part.size)
        ):
            raise InputError(
                f"{part.path}: the file changed while it was read; run again once nothing writes to it"
            )


def count_stream(
    found: Plan, length: int, encoder: Encoder, batch_rows: int, progress: Progress | None = None,
    offset: int = 0, total: int | None = None,
) -> Aggregates:  # fmt: skip
    """Pass 2: every batch encoded and counted with the in-memory kernels, the counts summed."""
    summed = CountSum(found.schema, length)
    arrays = _second_pass(found, batch_rows, progress, offset, total)
    count_batches(arrays, encoder, batch_rows, length, summed)
    return summed.aggregates()


def count_batches(batches: Iterator[list[pa.Array]], encoder: Encoder, batch_rows: int, length: int,
                  summed: CountSum) -> None:  # fmt: skip
    """Encode ``batches`` into buffers of ``batch_rows`` rows, count each full buffer into ``summed``.

    Files and row groups smaller than a batch are gathered, so the kernels'
    fixed cost per call (histograms sized by the key space) is paid per batch, not per row group.
    """
    n_columns = len(encoder.schema.columns)
    buffer = np.empty((n_columns, batch_rows), dtype=encoder.dtype)
    filled = 0

    def flush() -> None:
        if filled:
            codes = np.ascontiguousarray(buffer[:, :filled])
            summed.add(count_combinations(EncodedTable(encoder.schema, codes), length))

    for arrays in batches:
        n = len(arrays[0]) if arrays else 0
        start = 0
        while start < n:
            take = min(n - start, batch_rows - filled)
            piece = [a.slice(start, take) for a in arrays] if (start or take < n) else arrays
            encoder(piece, out=buffer[:, filled : filled + take])
            filled += take
            start += take
            if filled == batch_rows:
                flush()
                filled = 0
    flush()


def codes_stream(
    found: Plan, encoder: Encoder, batch_rows: int, progress: Progress | None = None,
    offset: int = 0, total: int | None = None,
) -> EncodedTable:  # fmt: skip
    """Pass 2 under DP: every record's codes, batch by batch, into one table (rows × columns bytes)."""
    codes = np.empty((len(found.schema.columns), found.n_rows), dtype=encoder.dtype)
    start = 0
    for arrays in _second_pass(found, batch_rows, progress, offset, total):
        stop = start + len(arrays[0])
        encoder(arrays, out=codes[:, start:stop])
        start = stop
    return EncodedTable(found.schema, codes)


def stream_fingerprint(stream: Streamed) -> str:
    """SHA-256 of a streamed input, however its files are named (a folder, a glob, a relative or
    absolute path): the privacy ledger keys budgets on it.

    One file alone is its bytes' SHA-256, as the same file read in memory;
    several are the SHA-256 of their sorted entries (each file's ``key=value``
    folder values and its bytes' SHA-256).
    """
    from .written_files import file_digest

    files = {part.path: part.partition for part in stream.parts}
    if len(files) == 1 and not stream.partition_columns:
        return file_digest(next(iter(files)))
    entries = sorted(json.dumps([list(values), file_digest(path)]) for path, values in files.items())
    return "sha256:" + hashlib.sha256("\n".join(entries).encode()).hexdigest()


def refuse_preparation(preparation) -> None:
    """Refuse, in one line, preparation that needs the whole input at once."""
    needs = {
        "--subject-id or --link (all rows of a subject together)": preparation.subject_id is not None
        or bool(preparation.links),
        "--bin (edges from every value)": bool(preparation.bins),
        "--multi-value (a column's values)": bool(preparation.multi_value),
        "a YAML/JSON codebook": preparation.codebook_kind == "file",
        "--sheet": preparation.sheet is not None,
    }
    named = [name for name, given in needs.items() if given]
    if named:
        raise ParameterError(
            f"a streamed input (a directory, a glob, or a file above the streaming size) cannot be read with "
            f"{', '.join(named)}: prepare it first (showcase prepare) or give one file with --in-memory"
        )
