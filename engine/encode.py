"""Dictionary encoding of a table of strings into integer codes.

Each column's distinct values are sorted (byte order) and numbered from 1; code
0 means "no attribute" (null, empty string, a null marker, or ``0`` in a column
that is not a sensitive-zero column). Attribute ids are global: the attribute
``(column c, code v)`` has id ``offsets[c] + v - 1``, so ids grow with the
input's column order and then with the value order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import ParameterError

ALL = "all"


@dataclass(frozen=True, eq=False)
class Schema:
    """Column names and, per column, the sorted values that are attributes."""

    columns: tuple[str, ...]
    dictionaries: tuple[pa.Array, ...]

    @cached_property
    def offsets(self) -> np.ndarray:
        """``offsets[c]`` is the id of column ``c``'s first attribute; last entry = total."""
        sizes = [len(d) for d in self.dictionaries]
        return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    @property
    def n_attributes(self) -> int:
        return int(self.offsets[-1])

    @cached_property
    def attribute_columns(self) -> np.ndarray:
        """Column index of every attribute id."""
        sizes = np.diff(self.offsets)
        return np.repeat(np.arange(len(self.columns), dtype=np.int32), sizes)

    def attribute_values(self) -> pa.Array:
        """Value spelling of every attribute id, in id order."""
        if not self.dictionaries:
            return pa.array([], pa.string())
        return pa.concat_arrays([d.cast(pa.string()) for d in self.dictionaries])

    def column_index(self, name: str) -> int:
        try:
            return self.columns.index(name)
        except ValueError:
            raise ParameterError(f"unknown column {name!r}") from None


@dataclass(frozen=True, eq=False)
class EncodedTable:
    """Integer codes of a table: ``codes[c]`` is column ``c``, C-contiguous.

    The dtype is the narrowest unsigned type that holds every code (uint8,
    uint16) or int32, which keeps the counting kernels memory-bound at the
    smallest possible width.
    """

    schema: Schema
    codes: np.ndarray = field(repr=False)

    @property
    def n_rows(self) -> int:
        return int(self.codes.shape[1])

    @property
    def n_columns(self) -> int:
        return int(self.codes.shape[0])


def code_dtype(max_code: int) -> np.dtype:
    """Narrowest dtype for codes up to ``max_code``."""
    if max_code <= np.iinfo(np.uint8).max:
        return np.dtype(np.uint8)
    if max_code <= np.iinfo(np.uint16).max:
        return np.dtype(np.uint16)
    return np.dtype(np.int32)


def resolve_sensitive_zeros(columns: Sequence[str], sensitive_zeros: str | Iterable[str] | None) -> set[str]:
    """Validate the sensitive-zero option: ``"all"``, a list of column names, or none."""
    if sensitive_zeros is None:
        return set()
    if isinstance(sensitive_zeros, str):
        if sensitive_zeros == ALL:
            return set(columns)
        sensitive_zeros = [sensitive_zeros]
    chosen = set(sensitive_zeros)
    unknown = sorted(chosen - set(columns))
    if unknown:
        raise ParameterError(f"unknown column(s) in sensitive_zeros: {', '.join(map(repr, unknown))}")
    return chosen


def encode(
    table: pa.Table,
    *,
    null_markers: Iterable[str] = (),
    sensitive_zeros: str | Iterable[str] | None = None,
) -> EncodedTable:
    """Dictionary-encode every column of a string table once.

    Parameters
    ----------
    null_markers
        Values that mean "no attribute" besides null and the empty string (e.g. ``N``).
    sensitive_zeros
        Columns where ``0`` is a real value (``"all"`` for every column); elsewhere
        ``0`` means "no attribute", as for binary indicator columns.
    """
    markers = {""} | set(null_markers)
    zero_columns = resolve_sensitive_zeros(table.column_names, sensitive_zeros)
    remaps, dictionaries = [], []
    for name, column in zip(table.column_names, table.columns):
        nulls = markers if name in zero_columns else markers | {"0"}
        dictionary, indices = _dictionary_encode(column)
        marked = pc.is_in(dictionary, value_set=pa.array(sorted(nulls), pa.string()))
        keep = pc.and_(pc.invert(marked), pc.is_valid(dictionary))
        kept_positions = np.flatnonzero(keep.to_numpy(zero_copy_only=False))
        values = dictionary.take(pa.array(kept_positions, pa.int64()))
        order = pc.sort_indices(values).to_numpy()
        # remap[old dictionary index] -> new code; the extra last slot maps nulls to 0.
        remap = np.zeros(len(dictionary) + 1, dtype=np.int64)
        remap[kept_positions[order]] = np.arange(1, len(order) + 1)
        remaps.append((remap, indices))
        dictionaries.append(values.take(pa.array(order, pa.int64())))
    max_code = max((len(d) for d in dictionaries), default=0)
    codes = np.empty((table.num_columns, table.num_rows), dtype=code_dtype(max_code))
    for c, (remap, chunks) in enumerate(remaps):
        start = 0
        narrow = remap.astype(codes.dtype)
        for chunk in chunks:
            stop = start + len(chunk)
            np.take(narrow, chunk, out=codes[c, start:stop])
            start = stop
    schema = Schema(tuple(table.column_names), tuple(dictionaries))
    return EncodedTable(schema, codes)


def _dictionary_encode(column: pa.ChunkedArray) -> tuple[pa.Array, list[np.ndarray]]:
    """One dictionary for the whole column, and per chunk int64 indices (nulls -> len(dict)).

    Dictionary entries that no record uses are replaced by null, so they never
    become attributes.
    """
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    column = pa.table([column], names=["c"]).unify_dictionaries().column(0)
    if column.num_chunks == 0:
        return pa.array([], pa.string()), []
    dictionary = column.chunk(0).dictionary.cast(pa.string())
    null_index = len(dictionary)
    indices = [
        pc.fill_null(c.indices, null_index).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        for c in column.chunks
    ]
    used = np.zeros(null_index + 1, dtype=bool)
    for chunk in indices:
        used[chunk] = True
    if not used[:null_index].all():
        dictionary = pc.if_else(pa.array(used[:null_index]), dictionary, pa.nulls(null_index, pa.string()))
    return dictionary, indices
