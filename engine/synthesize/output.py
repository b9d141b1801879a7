"""Synthetic records as files: codes back to the input's spellings, CSV and Parquet.

Columns keep the input's names and order; a value is written exactly as it
was spelled in the input (the schema's dictionaries hold those spellings), and
a record without an attribute for a column gets an empty CSV field / a
Parquet null. Both writers go batch by batch straight from the codes, so
memory stays bounded whatever the number of records, and both are
deterministic: the same codes give byte-identical files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..encode import EncodedTable
from ..encode import decode as to_arrow
from ..multivalue import output_columns

#: Records per written batch (and per Parquet row group).
BATCH_RECORDS = 1 << 20
#: How a cell starts that a spreadsheet reads as a formula (OWASP's CSV injection list); a
#: minus sign only where the rest is not a plain number ("-5" stays a number).
FORMULA_START = re.compile(r"[=+@\t\r]|-(?![\d.,]*$)")


def formula_like(schema, codes: np.ndarray | None = None) -> list[str]:
    """The columns whose name, or a value, a spreadsheet would take for a formula.

    The files keep every value exactly as the input spelled it; this only
    finds what to warn about. With ``codes`` (records), only values some
    record holds count; without (aggregates), every value of the schema.
    """
    found: dict[str, None] = {}
    for c, name in enumerate(schema.columns):
        group = schema.groups[c]
        if FORMULA_START.match(group) or FORMULA_START.match(name):
            found[group] = None
            continue
        risky = [
            i + 1 for i, v in enumerate(schema.dictionaries[c].to_pylist()) if FORMULA_START.match(str(v))
        ]
        if risky and (codes is None or np.isin(codes[c], risky).any()):
            found[group] = None
    return list(found)


def held_columns(table: EncodedTable) -> EncodedTable:
    """``table`` without the indicator columns that no record holds.

    A multi-value column's indicator is named by its value (``COL:value``):
    records synthesized from the sensitive data sit on its schema, which
    names every value, rare ones included. The files name only values some
    synthetic record holds (so every guarantee on the records covers the
    names too); a multi-value column none of whose values is held stays, empty.
    """
    schema = table.schema
    if not schema.multi_value:
        return table
    held = table.codes.any(axis=1) if table.n_rows else np.zeros(len(schema.columns), dtype=bool)
    unheld = [c for c, name in enumerate(schema.columns) if not held[c] and schema.groups[c] != name]
    if not unheld:
        return table
    narrowed, source = schema.without_indicators(unheld)
    return EncodedTable(narrowed, np.ascontiguousarray(table.codes[source]))


def _batches(table: EncodedTable, size: int = BATCH_RECORDS) -> Iterator[pa.Table]:
    for start in range(0, max(table.n_rows, 1), size):
        yield to_arrow(table, start, start + size)


def _as_strings(batch: pa.Table, table: EncodedTable, join: bool = True) -> pa.Table:
    """A decoded batch as string columns, each multi-value column joined (or as 0/1 columns)."""
    names, columns = output_columns(table.schema, [c.cast(pa.string()) for c in batch.columns], join)
    return pa.Table.from_arrays(columns, names=names)


def output_names(table: EncodedTable, join: bool = True) -> list[str]:
    """The column names of the written records."""
    return output_columns(table.schema, [pa.nulls(0, pa.string())] * table.n_columns, join)[0]


def csv_field(values: pa.Array) -> pa.Array:
    """CSV text of values (RFC 4180): quoted, with quotes doubled, only where needed."""
    special = pc.match_substring_regex(values, r'[,"\r\n]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(values, '"', '""'), '"', "")
    return pc.if_else(special, quoted, values)


def write_csv(table: EncodedTable, path: str | Path, join: bool = True) -> None:
    """Write ``synthetic.csv``: comma-separated, UTF-8, quoted only where needed, ``\\n`` line ends.

    Values are escaped once per dictionary entry, then gathered and joined
    batch by batch. In a one-column table an empty record is written ``""``
    so that the line is not mistaken for a blank line. Multi-value columns
    are joined into one cell (``join``) or written as 0/1 columns.
    """
    table = held_columns(table)
    if table.schema.multi_value:
        _write_csv_multi_value(table, path, join)
        return
    names = csv_field(pa.array(list(table.schema.columns), pa.string()))
    empty = '""' if table.n_columns == 1 else ""
    fields = [csv_field(d.cast(pa.string())) for d in table.schema.dictionaries]
    widest = sum(int(pc.max(pc.binary_length(f)).as_py() or 0) + 1 for f in fields)
    size = max(1, min(BATCH_RECORDS, (1 << 30) // max(widest, 1)))
    with open(path, "wb") as handle:
        handle.write((",".join(names.to_pylist()) + "\n").encode("utf-8"))
        for start in range(0, table.n_rows, size):
            stop = min(table.n_rows, start + size)
            columns = []
            for c, values in enumerate(fields):
                indices = table.codes[c, start:stop].astype(np.int32) - 1
                taken = values.take(pa.array(indices, pa.int32(), mask=indices < 0))
                columns.append(pc.fill_null(taken, empty))
            lines = pc.binary_join_element_wise(*columns, ",")
            handle.write(_string_bytes(pc.binary_join_element_wise(lines, "\n", "")))


def _write_csv_multi_value(table: EncodedTable, path: str | Path, join: bool) -> None:
    """:func:`write_csv` of a table with multi-value columns: decoded, joined and escaped per batch."""
    names = csv_field(pa.array(output_names(table, join), pa.string()))
    empty = '""' if len(names) == 1 else ""
    size = max(1, min(BATCH_RECORDS, (1 << 28) // max(table.n_columns, 1)))
    with open(path, "wb") as handle:
        handle.write((",".join(names.to_pylist()) + "\n").encode("utf-8"))
        for start in range(0, table.n_rows, size):
            batch = _as_strings(to_arrow(table, start, start + size), table, join)
            columns = [pc.fill_null(csv_field(column.combine_chunks()), empty) for column in batch.columns]
            lines = pc.binary_join_element_wise(*columns, ",")
            handle.write(_string_bytes(pc.binary_join_element_wise(lines, "\n", "")))


def _string_bytes(array: pa.Array) -> memoryview:
    """The concatenated UTF-8 bytes of a string array without nulls, without a Python loop."""
    _, offsets, data = array.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32, count=len(array) + 1, offset=array.offset * 4)
    return memoryview(data)[bounds[0] : bounds[-1]] if data is not None else memoryview(b"")


def write_parquet(table: EncodedTable, path: str | Path, join: bool = True) -> None:
    """Write ``synthetic.parquet``: one string column per input column, nulls for "no attribute".

    Multi-value columns are joined into one cell (``join``) or written as 0/1 columns.
    """
    table = held_columns(table)
    schema = pa.schema([pa.field(name, pa.string()) for name in output_names(table, join)])
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for batch in _batches(table):
            writer.write_table(_as_strings(batch, table, join), row_group_size=BATCH_RECORDS)
