"""Reading sensitive microdata into an Arrow table of string columns.

Every input format ends as a :class:`pyarrow.Table` whose columns are all
dictionary-encoded strings (``dictionary<int32, string>``) holding the values
exactly as spelled in the input, so that outputs can use the same spellings.
Text is read straight into dictionary arrays, so a column of ten million
values costs ten million int32 indices, not ten million strings. Null markers and the zero rule are applied
later, in :mod:`showcase.engine.encode`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .checks import match_names
from .errors import InputError, NoRecords, ParameterError
from .written_files import file_digest

CSV_SUFFIXES = {".csv", ".txt"}
TSV_SUFFIXES = {".tsv", ".tab"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
ARROW_SUFFIXES = {".arrow", ".feather", ".ipc", ".arrows"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
COMPRESSION_SUFFIXES = {".gz", ".bz2", ".zst", ".lz4"}
#: The type of every column of a table returned by :func:`read_table`.
TEXT = pa.dictionary(pa.int32(), pa.string())
#: Bounds of the CSV reader's block size (see ``_block_size``).
MIN_BLOCK, MAX_BLOCK = 1 << 22, 1 << 24
#: Above this many per-chunk dictionary entries in all (a column of ids read per row group),
#: a dictionary column is re-encoded as one chunk: unifying them would cost more.
MAX_CHUNK_DICTIONARIES = 1 << 16
#: Largest ``record_limit`` (Arrow slices take a signed 64-bit length).
MAX_RECORD_LIMIT = 2**62


def input_format(path: Path) -> str:
    """Name the format of ``path`` from its extension: csv, parquet, arrow or xlsx."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix in CSV_SUFFIXES | TSV_SUFFIXES:
        return "csv"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in ARROW_SUFFIXES:
        return "arrow"
    if suffix in EXCEL_SUFFIXES and path.suffix.lower() == suffix:
        return "xlsx"
    raise InputError(
        f"{path.name}: unknown file type {suffix or '(no extension)'!r}; "
        "use .csv, .tsv, .parquet, .arrow or .xlsx"
    )


def parse_delimiter(delimiter: str | None, path: Path) -> str:
    """Turn a user's delimiter option (``,``, ``tab``, ``\\t``, ``;``) into one character."""
    if delimiter is None:
        return "\t" if any(s.lower() in TSV_SUFFIXES for s in path.suffixes) else ","
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}
    value = named.get(delimiter.lower(), delimiter)
    if len(value) != 1 or value in '\r\n"':
        raise ParameterError(f"delimiter must be one character (or 'tab'), got {delimiter!r}")
    return value


#: What a job reads: a file path, a :class:`pyarrow.Table`, or any table that
#: speaks the Arrow PyCapsule stream interface (pandas, polars, DuckDB results).
Source = str | Path | pa.Table | Any


def is_path(source: object) -> bool:
    """Whether ``source`` names a file (rather than holding a table in memory)."""
    return isinstance(source, (str, os.PathLike))


def as_arrow(source: object) -> pa.Table:
    """An in-memory table as a :class:`pyarrow.Table`, without a copy through Python objects."""
    if isinstance(source, pa.Table):
        return source
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source])
    if hasattr(source, "__arrow_c_stream__"):
        return pa.table(source)
    raise InputError(
        f"cannot read a {type(source).__name__}: give a file path, a pyarrow.Table, or a data "
        "frame that supports the Arrow PyCapsule interface (pandas >= 2.2, polars)"
    )


def check_input(path: Source) -> Path | None:
    """Fail early, in one line, when ``path`` is not a non-empty file of a known type.

    An in-memory table is checked for being one (returns None).
    """
    if not is_path(path):
        as_arrow(path)
        return None
    path = Path(path)
    try:
        exists = path.exists()
    except OSError as problem:  # a name too long for the file system, ...
        raise InputError(f"{path}: {problem.strerror or problem}") from None
    if not exists:
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")
    input_format(path)
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise InputError(f"{path}: permission denied; make the file readable to you (chmod u+r)") from None
    return path


def read_table(
    path: Source,
    *,
    delimiter: str | None = None,
    use_columns: Sequence[str] | None = None,
    record_limit: int | None = None,
    sheet: str | None = None,
) -> pa.Table:
    """Read a CSV/TSV, Parquet, Arrow IPC or Excel file into a table of dictionary-encoded text.

    Parameters
    ----------
    delimiter
        Field separator for text files; default ``,`` (``tab`` for ``.tsv``).
    use_columns
        Keep only these columns (kept in the file's order); unknown names are an error.
    record_limit
        Keep only the first ``record_limit`` records.
    sheet
        The sheet of an ``.xlsx`` workbook to read; default the first. Refused
        for other inputs.

    ``path`` may also be an in-memory table (see :data:`Source`); the options
    then apply as to a file, except the delimiter.
    """
    if record_limit is not None and not 1 <= record_limit <= MAX_RECORD_LIMIT:
        raise ParameterError(f"record_limit must be from 1 to {MAX_RECORD_LIMIT}, got {record_limit}")
    check_sheet(path, sheet, delimiter)
    if not is_path(path):
        return _read_memory(as_arrow(path), use_columns, record_limit)
    path = check_input(path)
    kind = input_format(path)
    if kind == "csv":
        table = _read_text(path, parse_delimiter(delimiter, path), use_columns, record_limit)
    elif kind == "xlsx":
        table = _read_excel(path, sheet, use_columns, record_limit)
    else:
        names = _columnar_names(path, kind)
        _check_names(path, names)
        wanted = _select(path, names, use_columns)
        table = _read_columnar(path, kind, wanted)
        if record_limit is not None:
            table = table.slice(0, record_limit)
    if table.num_rows == 0:
        raise NoRecords(f"{path}: no records (only a header?)")
    return _as_text(path, table)


def check_sheet(path: Source, sheet: str | None, delimiter: str | None = None) -> None:
    """Refuse a sheet name for an input that is not an Excel workbook, a delimiter for one not CSV/TSV."""
    if delimiter is not None and is_path(path) and Path(path).is_file() and input_format(Path(path)) != "csv":
        raise ParameterError(f"--delimiter applies to .csv and .tsv inputs only, not {Path(path).name}")
    if sheet is None:
        return
    if not is_path(path) or input_format(Path(path)) != "xlsx":
        raise ParameterError("--sheet applies to Excel inputs (.xlsx, .xlsm) only")
    if not sheet:
        raise ParameterError("the sheet name is empty")


def _read_excel(
    path: Path, sheet: str | None, use_columns: Sequence[str] | None, record_limit: int | None
) -> pa.Table:
    """One sheet of a workbook, every cell as text (see :func:`excel_text`).

    The first row holds the column names. fastexcel (calamine) is imported
    here, so that only reading a workbook loads it.
    """
    import fastexcel

    try:
        workbook = fastexcel.read_excel(path)
        sheets = list(workbook.sheet_names)
    except fastexcel.FastExcelError:
        raise InputError(f"{path}: not a readable .xlsx workbook") from None
    if sheet is not None and sheet not in sheets:
        shown = ", ".join(map(repr, sheets[:20])) + (" ..." if len(sheets) > 20 else "")
        raise InputError(f"{path}: no sheet named {sheet!r}; the workbook has {shown}")
    if not sheets:
        raise InputError(f"{path}: the workbook has no sheets")
    where = sheet if sheet is not None else 0
    try:
        header = workbook.load_sheet(where, header_row=None, n_rows=1, dtypes="string", eager=True)
    except fastexcel.FastExcelError:
        raise InputError(f"{path}: cannot read the header row of the sheet") from None
    if header.num_rows == 0:
        raise InputError(f"{path}: the sheet is empty")
    names = ["" if v is None else v for v in (c[0].as_py() for c in header.columns)]
    _check_names(path, names)
    wanted = _select(path, names, use_columns)
    keep = [i for i, name in enumerate(names) if name in set(wanted)]
    try:
        batch = workbook.load_sheet(
            where, header_row=0, n_rows=record_limit, use_columns=keep, dtypes="string", eager=True
        )
    except fastexcel.FastExcelError:
        raise InputError(f"{path}: cannot read the sheet's cells as text") from None
    if batch.num_columns != len(keep):
        raise InputError(f"{path}: cannot read the sheet's columns")
    columns = [excel_text(column) for column in batch.columns]
    return pa.table(columns, names=[names[i] for i in keep])


#: How calamine spells a date cell, and the part of it that is a date-only cell's time.
_EXCEL_MIDNIGHT = r"^(\d{4}-\d{2}-\d{2}) 00:00:00$"


def excel_text(column: pa.Array) -> pa.Array:
    """A sheet's column as calamine spells its cells, with date-only cells as ``YYYY-MM-DD``.

    Numbers are their shortest text (an integer-valued cell is ``5``, not
    ``5.0``), booleans ``true``/``false``, dates ``YYYY-MM-DD`` or
    ``YYYY-MM-DD HH:MM:SS`` (ISO 8601 with a space), empty cells null.
    """
    return pc.replace_substring_regex(column.cast(pa.string()), _EXCEL_MIDNIGHT, r"\1")


def _read_memory(table: pa.Table, use_columns: Sequence[str] | None, record_limit: int | None) -> pa.Table:
    shown = Path("the input table")
    _check_names(shown, list(table.column_names))
    table = table.select(_select(shown, list(table.column_names), use_columns))
    if record_limit is not None:
        table = table.slice(0, record_limit)
    if table.num_rows == 0:
        raise InputError("the input table has no records")
    return _as_text(shown, table)


def _read_text(
    path: Path, delimiter: str, use_columns: Sequence[str] | None, record_limit: int | None
) -> pa.Table:
    names = _text_header(path, delimiter)
    _check_names(path, names)
    wanted = _select(path, names, use_columns)
    read_options = pacsv.ReadOptions(block_size=_block_size(path))
    parse_options = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    convert_options = pacsv.ConvertOptions(
        column_types={name: TEXT for name in names},
        include_columns=wanted,
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        check_utf8=True,
    )
    try:
        if record_limit is None:
            return pacsv.read_csv(path, read_options, parse_options, convert_options)
        batches, seen = [], 0
        with pacsv.open_csv(path, read_options, parse_options, convert_options) as reader:
            for batch in reader:
                batches.append(batch)
                seen += batch.num_rows
                if seen >= record_limit:
                    break
            schema = reader.schema
        return pa.Table.from_batches(batches, schema).slice(0, record_limit)
    except pa.ArrowInvalid as error:
        raise InputError(f"{path}: {_explain_csv_error(str(error), names)}") from None
    except OSError as error:
        raise compression_error(path, error) from None


def compression_error(path: Path, error: OSError) -> OSError | InputError:
    """What to raise for ``error`` of reading ``path``: an InputError if it is a damaged compressed file.

    Arrow reports a stream it cannot decompress (cut short, not of its codec) as an
    OSError without an errno; any other OSError (a failure of the system) is returned as it is.
    """
    if error.errno is not None or path.suffix.lower() not in COMPRESSION_SUFFIXES:
        return error
    return InputError(f"{path}: the {path.suffix} file is damaged or cut short (it does not decompress); "
                      "compress the data again")  # fmt: skip


def _block_size(path: Path) -> int:
    """CSV block size: 16 MiB, but small enough that a small file still gives every core two blocks.

    Arrow parses blocks in parallel; one 16 MiB block would leave all cores but one idle
    on a file of 100,000 records.
    """
    share = path.stat().st_size // (2 * (os.cpu_count() or 1))
    return int(min(MAX_BLOCK, max(MIN_BLOCK, share)))


def _text_header(path: Path, delimiter: str) -> list[str]:
    """Column names from the first line, read without loading the file."""
    try:
        with pa.input_stream(str(path), compression="detect") as stream:
            head = stream.read(1 << 20)
    except OSError as error:
        raise compression_error(path, error) from None
    line = re.split(rb"\r\n|\r|\n", head, maxsplit=1)[0]  # CR alone ends a line too (old Mac files)
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: the header is not valid UTF-8; re-save the file as UTF-8") from None
    text = text.lstrip("\ufeff")
    if "\x00" in text:
        raise InputError(f"{path}: the header holds NUL bytes: not UTF-8 text (binary? UTF-16?)")
    if not text.strip():
        raise InputError(f"{path}: the first line (the header) is empty")
    try:  # strict: a quote left open at the end of the line is an error, not a name cut short
        next(csv.reader(io.StringIO(text), delimiter=delimiter, strict=True))
    except csv.Error as problem:
        if "end of data" in str(problem):
            raise InputError(
                f"{path}: the header has an unclosed quote (a column name that spans lines?); "
                "give every column a name on the first line"
            ) from None
    names = next(csv.reader(io.StringIO(text), delimiter=delimiter))
    if len(names) == 1:
        _check_one_column(path, names[0], delimiter)
    return names


#: Field separators that a one-column header holding them was most likely meant to be split on.
_OTHER_DELIMITERS = {",": "','", "\t": "tab", ";": "';'", "|": "'|'"}


def _check_one_column(path: Path, name: str, delimiter: str) -> None:
    """Refuse a header read as one column whose name holds another field separator (a wrong delimiter)."""
    for other, shown in _OTHER_DELIMITERS.items():
        if other != delimiter and other in name:
            raise InputError(
                f"{path}: the header is one column whose name holds {shown}: is that the field "
                f"separator? give --delimiter {shown}"
            )


def _explain_csv_error(message: str, names: Sequence[str] = ()) -> str:
    """A one-line explanation of a pyarrow CSV error that never echoes row content.

    ``names`` (the header's) turn pyarrow's column number (from 0) into the column's name.
    """
    ragged = re.search(r"Expected (\d+) columns, got (\d+)", message)
    if ragged:
        expected, got = ragged.groups()
        return (
            f"ragged rows: a row has {got} fields but the header has {expected} "
            "(check the delimiter and quoting)"
        )
    if "UTF8" in message or "UTF-8" in message:
        column = re.search(r"column #(\d+)", message)
        number = int(column.group(1)) if column else -1
        where = f" in column {names[number]!r}" if 0 <= number < len(names) else ""
        return f"invalid UTF-8 text{where}; re-save the file as UTF-8"
    if "Empty CSV file" in message:
        return "the file is empty"
    return "cannot parse the file as delimited text (" + message.split(":", 1)[0] + ")"


def _columnar_names(path: Path, kind: str) -> list[str]:
    try:
        if kind == "parquet":
            return list(pq.read_schema(path).names)
        return list(_open_ipc(path).schema.names)
    except (pa.ArrowInvalid, OSError):
        raise InputError(f"{path}: not a readable {kind} file") from None


def _open_ipc(path: Path):
    try:
        return pa.ipc.open_file(path)
    except pa.ArrowInvalid:
        return pa.ipc.open_stream(path)


def _read_columnar(path: Path, kind: str, columns: list[str]) -> pa.Table:
    try:
        if kind == "parquet":
            # Text columns come back dictionary-encoded, as Parquet stores them: no string is
            # materialised per row (a 10M-row release reads several times faster).
            schema = pq.read_schema(path)
            text = [
                name
                for name in columns
                if pa.types.is_string(schema.field(name).type)
                or pa.types.is_large_string(schema.field(name).type)
            ]
            return pq.read_table(path, columns=columns, read_dictionary=text)
        return _open_ipc(path).read_all().select(columns)
    except (pa.ArrowInvalid, OSError):
        raise InputError(f"{path}: not a readable {kind} file") from None


def _check_names(path: Path, names: list[str]) -> None:
    if not names or names == [""]:
        raise InputError(f"{path}: no columns found")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(f"{path}: duplicate column name {name!r}; column names must be unique")
        seen.add(name)
    if "" in names:
        raise InputError(
            f"{path}: column #{names.index('') + 1} has an empty name; give every column a name "
            "(or is a row longer than the header?)"
        )
    broken = [i for i, name in enumerate(names) if "\n" in name or "\r" in name]
    if broken:
        raise InputError(f"{path}: column #{broken[0] + 1}'s name holds a line break; rename it to one line")


def _select(path: Path, names: list[str], use_columns: Sequence[str] | None) -> list[str]:
    """The columns of ``names`` that ``use_columns`` asks for, in the file's order.

    A name is matched exactly first, so that ``"sp "`` and ``"sp"`` stay two
    columns; a name with no exact match is matched with surrounding spaces
    ignored (``"a, b"`` on the command line), when that finds one column only.
    """
    if use_columns is None:
        return list(names)
    if not any(str(c).strip() for c in use_columns):
        raise ParameterError("use_columns is empty; name at least one column")
    found, unknown = match_names(use_columns, names, "--use-columns")
    wanted = set(found)
    if unknown:
        raise ParameterError(
            f"unknown column(s) in --use-columns: {', '.join(map(repr, unknown))}; "
            f"{path.name} has {', '.join(map(repr, names[:12]))}{' ...' if len(names) > 12 else ''}"
        )
    return [n for n in names if n in wanted]


#: The message for an input whose every cell is empty or a null marker.
NOTHING_TO_COUNT = (
    "every cell of the input is empty or a null marker, so there is nothing to count: check --null-marker, "
    "--sensitive-zeros and --use-columns"
)


def nan_as_null(column):
    """A float column with NaN (pandas' and NumPy's "missing") as null: no attribute, not a value "nan"."""
    kind = column.type
    if not pa.types.is_floating(kind):
        return column
    return pc.if_else(pc.is_nan(column), pa.scalar(None, kind), column)


def _as_text(path: Path, table: pa.Table) -> pa.Table:
    """Turn every column into dictionary-encoded text, keeping value spellings."""
    columns = []
    for name, column in zip(table.column_names, table.columns):
        kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
        if pa.types.is_nested(kind):
            raise InputError(f"{path}: column {name!r} is nested ({kind}); flatten it first")
        try:
            if column.type == TEXT and _dictionary_entries(column) > MAX_CHUNK_DICTIONARIES:
                column = column.cast(pa.string())  # many per-chunk dictionaries: re-encode as one below
            if column.type != TEXT:
                if pa.types.is_dictionary(column.type):
                    column = column.cast(kind)
                column = nan_as_null(column)
                # One chunk, so one dictionary: unifying per-chunk dictionaries of a column with
                # millions of distinct values (an id) takes most of a second per chunk.
                text = column.cast(pa.large_string()).combine_chunks()
                column = pa.chunked_array([pc.dictionary_encode(text).cast(TEXT)])
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise InputError(f"{path}: column {name!r} of type {kind} cannot be read as text") from None
        columns.append(column)
    return pa.table(columns, names=table.column_names).unify_dictionaries()


def _dictionary_entries(column: pa.ChunkedArray) -> int:
    """The entries of a dictionary column's per-chunk dictionaries, added up."""
    return sum(len(chunk.dictionary) for chunk in column.chunks)


class _Digesting(io.RawIOBase):
    """A write-only file that feeds what is written to a hash, keeping nothing."""

    def __init__(self, digest) -> None:
        self.digest = digest

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.digest.update(data)
        return len(data)


def fingerprint(path: Source) -> str:
    """SHA-256 of the input file's bytes: identifies the input without revealing it.

    For an in-memory table, the SHA-256 of its Arrow IPC stream (same data,
    same columns and types: same fingerprint), hashed as it is written, so the
    table is never copied whole. A folder or a glob of parts is fingerprinted
    as a streamed release of it is (:func:`showcase.engine.stream.stream_fingerprint`).
    """
    digest = hashlib.sha256()
    if not is_path(path):
        table = as_arrow(path)
        with pa.ipc.new_stream(pa.PythonFile(_Digesting(digest), mode="w"), table.schema) as writer:
            writer.write_table(table, max_chunksize=1 << 16)
        return "sha256:" + digest.hexdigest()
    from .stream import is_stream_source, open_stream, stream_fingerprint

    if is_stream_source(path):
        return stream_fingerprint(open_stream(path, None, None))
    return file_digest(path)
