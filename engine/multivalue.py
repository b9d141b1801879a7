"""Multi-value columns: a cell such as ``"forced labour;sexual exploitation"`` holds several values.

On the way in, :func:`split_column` turns such a column into one indicator
column per value (``COL:forced labour``, holding that value or null), so
every kernel sees ordinary single-value columns and a record may hold any
set of the column's values. On the way out, :func:`output_columns` joins the
indicators of each multi-value column back into one cell (the default for
files) or writes them as 0/1-style columns, one per value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .encode import Schema
from .errors import InputError, ParameterError

#: The delimiter of a multi-value column unless another is given.
DEFAULT_DELIMITER = ";"


def indicator_name(column: str, value: str) -> str:
    """The name of the indicator column of ``value`` of multi-value ``column``."""
    return f"{column}:{value}"


def check_delimiter(column: str, delimiter: str) -> str:
    """A usable delimiter (one or more characters, not a line break), or a ParameterError."""
    if not isinstance(delimiter, str) or not delimiter or "\n" in delimiter or "\r" in delimiter:
        raise ParameterError(f"multi-value column {column!r}: the delimiter must be a non-empty text, "
                             f"got {delimiter!r}")  # fmt: skip
    return delimiter


def split_column(
    name: str, column: pa.ChunkedArray, delimiter: str, no_value: Iterable[str]
) -> tuple[list[str], list[pa.Array], int]:
    """Indicator columns of a multi-value column, in value (byte) order, and how many cells it splits.

    Each element is stripped of surrounding spaces; empty elements and the
    ``no_value`` markers are no attribute. A value repeated in one cell counts once.
    """
    text = column.cast(pa.string()) if column.type != pa.string() else column
    text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    parts = pc.split_pattern(text, delimiter)
    split = int(pc.sum(pc.greater(pc.list_value_length(parts), 1)).as_py() or 0)
    flat = pc.utf8_trim_whitespace(pc.list_flatten(parts))
    rows = pc.list_parent_indices(parts).to_numpy(zero_copy_only=False)
    dropped = pa.array(sorted({""} | set(no_value)), pa.string())
    keep = pc.invert(pc.is_in(flat, value_set=dropped)).to_numpy(zero_copy_only=False)
    flat, rows = flat.filter(pa.array(keep)), rows[keep]
    encoded = pc.dictionary_encode(flat)
    values = encoded.dictionary
    order = pc.sort_indices(values).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = rank[encoded.indices.to_numpy(zero_copy_only=False)] if len(flat) else np.zeros(0, np.int64)
    order_of_codes = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order_of_codes], np.arange(len(values) + 1))
    zeros = pa.py_buffer(np.zeros(len(text), np.int8))  # one shared buffer of indices: all 0
    names, columns = [], []
    for v, value in enumerate(values.take(pa.array(order, pa.int64())).to_pylist()):
        present = np.zeros(len(text), dtype=bool)
        present[rows[order_of_codes[bounds[v] : bounds[v + 1]]]] = True
        validity = pa.py_buffer(np.packbits(present, bitorder="little"))
        indices = pa.Array.from_buffers(pa.int8(), len(text), [validity, zeros])
        names.append(indicator_name(name, value))
        columns.append(pa.DictionaryArray.from_arrays(indices, pa.array([value], pa.string())))
    return names, columns, split


def split_table(
    table: pa.Table, multi_value: Sequence[tuple[str, str]], no_value: Iterable[str], zero_columns: set[str]
) -> tuple[pa.Table, dict[str, int]]:
    """``table`` with each multi-value column replaced, in place, by its indicator columns.

    Returns the new table and, per multi-value column, how many cells held
    several values (none: worth a warning, perhaps the wrong delimiter).
    """
    wanted = dict(multi_value)
    unknown = [name for name in wanted if name not in table.column_names]
    if unknown:
        raise ParameterError(f"unknown multi-value column(s) {', '.join(map(repr, unknown))}")
    names, columns, split_cells = [], [], {}
    markers = set(no_value)
    for name, column in zip(table.column_names, table.columns):
        if name not in wanted:
            names.append(name)
            columns.append(column)
            continue
        own = markers if name in zero_columns else markers | {"0"}
        indicator_names, indicators, split_cells[name] = split_column(name, column, wanted[name], own)
        names += indicator_names
        columns += indicators
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise InputError(f"column name(s) {', '.join(map(repr, clash))} occur twice once multi-value "
                         "columns are split: rename the input column")  # fmt: skip
    return pa.Table.from_arrays(columns, names=names), split_cells


def _joined(columns: list[pa.Array], values: list[str], delimiter: str) -> pa.Array:
    """Per row, the ``values`` of the present indicator ``columns`` joined by ``delimiter``; else null.

    (Arrow's element-wise join with nulls skipped drops all-null rows, so the
    cells are built as lists: every present value, row by row, in column order.)
    """
    present = np.stack([c.is_valid().to_numpy(zero_copy_only=False) for c in columns])
    rows, which = np.nonzero(present.T)
    cells = pa.array(values, pa.string()).take(pa.array(which, pa.int64()))
    offsets = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=present.shape[1]))]).astype(np.int32)
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), cells), delimiter)
    return pc.if_else(pc.equal(joined, ""), pa.scalar(None, pa.string()), joined)


def output_columns(schema: Schema, columns: list[pa.Array], join: bool = True) -> tuple[list[str], list]:
    """Names and string columns of records to write, each multi-value column joined or as flags.

    ``columns`` holds one string array per schema column (null: no attribute).
    Joined, a multi-value column is one cell of its values, at the place of its
    first indicator; else each indicator column holds ``1`` or is empty.
    """
    if not schema.multi_value:
        return list(schema.columns), columns
    delimiters = dict(schema.multi_value)
    groups = schema.groups
    names, out, pending = [], [], {}
    for c, name in enumerate(schema.columns):
        group = groups[c]
        if group == name or group not in delimiters:
            names.append(name)
            out.append(columns[c])
        elif not join:
            names.append(name)
            out.append(pc.if_else(pc.is_valid(columns[c]), "1", pa.scalar(None, pa.string())))
        else:
            if group not in pending:
                pending[group] = ([], [])
                names.append(group)
                out.append(group)  # placeholder, joined below once all its indicators are gathered
            pending[group][0].append(columns[c])
            pending[group][1].append(name[len(group) + 1 :])
    out = [_joined(*pending[item], delimiters[item]) if isinstance(item, str) else item for item in out]
    return names, out
