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

from .checks import match_names
from .errors import InputError, ParameterError
from .kernels import dictionary as dictionary_kernels

ALL = "all"
#: How an error about a table whose columns are not the schema's begins.
MISMATCH = "the table does not match the schema: "


@dataclass(frozen=True, eq=False)
class Schema:
    """Column names and, per column, the sorted values that are attributes.

    ``multi_value`` lists the multi-value columns as ``(name, delimiter)``: a
    record may hold several values of such a column, so each value ``v`` is an
    indicator column of its own, named ``name:v``, whose one attribute is
    ``v`` and is labelled ``name:v`` (as Synthetic Data Showcase spells it).
    """

    columns: tuple[str, ...]
    dictionaries: tuple[pa.Array, ...]
    multi_value: tuple[tuple[str, str], ...] = ()

    @cached_property
    def groups(self) -> tuple[str, ...]:
        """Per column, the column its attributes are labelled with: itself, or its multi-value column."""
        if not self.multi_value:
            return self.columns
        names = [name for name, _ in self.multi_value]
        groups = []
        for column, dictionary in zip(self.columns, self.dictionaries):
            groups.append(column)
            for name in names:
                if column.startswith(name + ":") and len(dictionary) <= 1:
                    groups[-1] = name
                    break
        return tuple(groups)

    def indicators(self, name: str) -> list[int]:
        """The indicator columns of multi-value column ``name``, in value order."""
        return [c for c, group in enumerate(self.groups) if group == name and self.columns[c] != name]

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

    def with_columns(self, columns: Sequence[str], dictionaries: Sequence[pa.Array]) -> Schema:
        """A schema of other columns with this one's multi-value columns (those still present)."""
        kept = tuple((n, d) for n, d in self.multi_value if any(c.startswith(n + ":") for c in columns))
        return Schema(tuple(columns), tuple(dictionaries), kept)

    def without_indicators(self, drop: Iterable[int]) -> tuple[Schema, list[int]]:
        """This schema without the indicator columns ``drop`` (``COL:value``: named by their value).

        A multi-value column that loses every indicator keeps one empty column
        of its own name in their place, so files still have the input's
        columns. Returns the schema and, per column of it, the column of this
        one it comes from (for a placeholder, a dropped indicator's).
        """
        drop = set(drop)
        groups, kept = self.groups, []
        remaining = {groups[c] for c in range(len(self.columns)) if c not in drop}
        for c, name in enumerate(self.columns):
            if c not in drop:
                kept.append((c, name, self.dictionaries[c]))
            elif groups[c] != name and groups[c] not in remaining:
                remaining.add(groups[c])
                kept.append((c, groups[c], pa.array([], pa.string())))
        schema = self.with_columns([name for _, name, _ in kept], [d for _, _, d in kept])
        return schema, [c for c, _, _ in kept]

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


def decode(table: EncodedTable, start: int = 0, stop: int | None = None) -> pa.Table:
    """Records ``start:stop`` back as dictionary-encoded strings in the input's spellings.

    A code 0 (no attribute) becomes null. This is the one way codes go back
    to values: files, results and peer adapters all use it.
    """
    stop = table.n_rows if stop is None else min(stop, table.n_rows)
    columns = []
    for c, dictionary in enumerate(table.schema.dictionaries):
        indices = table.codes[c, start:stop].astype(np.int32) - 1
        values = dictionary.cast(pa.string())
        columns.append(
            pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32(), mask=indices < 0), values)
        )
    return pa.Table.from_arrays(columns, names=list(table.schema.columns))


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
    chosen, unknown = match_names(sensitive_zeros, list(columns), "--sensitive-zeros")
    if unknown:
        raise ParameterError(f"unknown column(s) in sensitive_zeros: {', '.join(map(repr, sorted(unknown)))}")
    return set(chosen)


def encode(
    table: pa.Table,
    *,
    null_markers: Iterable[str] = (),
    sensitive_zeros: str | Iterable[str] | None = None,
    schema: Schema | None = None,
) -> EncodedTable:
    """Dictionary-encode every column of a string table once.

    Parameters
    ----------
    null_markers
        Values that mean "no attribute" besides null and the empty string (e.g. ``N``).
    sensitive_zeros
        Columns where ``0`` is a real value (``"all"`` for every column); elsewhere
        ``0`` means "no attribute", as for binary indicator columns.
    schema
        Encode onto this existing schema (e.g. a release onto the sensitive
        data's) instead of building one; the table must have exactly its
        columns, and a value the schema does not know is an error.
    """
    if schema is not None:
        return _encode_onto(table, schema, null_markers, sensitive_zeros)
    markers = {""} | set(null_markers)
    zero_columns = resolve_sensitive_zeros(table.column_names, sensitive_zeros)
    columns, remaps, dictionaries = [], [], []
    for name, column in zip(table.column_names, table.columns):
        nulls = markers if name in zero_columns else markers | {"0"}
        column = _unified_dictionary(column)
        dictionary = _used_values(column)
        marked = pc.is_in(dictionary, value_set=pa.array(sorted(nulls), pa.string()))
        keep = pc.and_(pc.invert(marked), pc.is_valid(dictionary))
        kept_positions = np.flatnonzero(keep.to_numpy(zero_copy_only=False))
        values = dictionary.take(pa.array(kept_positions, pa.int64()))
        order = pc.sort_indices(values).to_numpy()
        # remap[old dictionary index] -> new code; the extra last slot maps nulls to 0.
        remap = np.zeros(len(dictionary) + 1, dtype=np.int64)
        remap[kept_positions[order]] = np.arange(1, len(order) + 1)
        columns.append(column)
        remaps.append(remap)
        dictionaries.append(values.take(pa.array(order, pa.int64())))
    max_code = max((len(d) for d in dictionaries), default=0)
    codes = np.empty((table.num_columns, table.num_rows), dtype=code_dtype(max_code))
    for c, (remap, column) in enumerate(zip(remaps, columns)):
        narrow = remap.astype(codes.dtype)
        start = 0
        for indices, validity, offset in _chunk_indices(column):
            stop = start + len(indices)
            dictionary_kernels.remap_indices(indices, validity, offset, narrow, len(narrow) - 1,
                                             codes[c, start:stop])  # fmt: skip
            start = stop
    schema = Schema(tuple(table.column_names), tuple(dictionaries))
    return EncodedTable(schema, codes)


class UnknownValues(InputError):
    """Values of ``column`` that the schema being encoded onto does not hold.

    Its message names a few (a release's values, checked against the
    sensitive data's); a caller encoding sensitive values onto a codebook
    words its own message without them.
    """

    def __init__(self, column: str, values: list) -> None:
        self.column, self.count = column, len(values)
        shown = ", ".join(map(repr, values[:3])) + (" ..." if len(values) > 3 else "")
        super().__init__(
            f"column {column!r} has {len(values)} value(s) absent from the sensitive data: {shown}"
        )


def _encode_onto(
    table: pa.Table,
    schema: Schema,
    null_markers: Iterable[str],
    sensitive_zeros: str | Iterable[str] | None,
) -> EncodedTable:
    missing = [c for c in schema.columns if c not in table.column_names]
    extra = [c for c in table.column_names if c not in schema.columns]
    if missing or extra:
        parts = []
        if missing:
            parts.append("missing column(s) " + ", ".join(map(repr, missing)))
        if extra:
            parts.append("unknown column(s) " + ", ".join(map(repr, extra)))
        raise InputError(MISMATCH + "; ".join(parts))
    own = encode(
        table.select(list(schema.columns)), null_markers=null_markers, sensitive_zeros=sensitive_zeros
    )
    codes = np.empty(own.codes.shape, dtype=code_dtype(max((len(d) for d in schema.dictionaries), default=0)))
    for c, name in enumerate(schema.columns):
        values = own.schema.dictionaries[c]
        position = pc.index_in(values, value_set=schema.dictionaries[c])
        if position.null_count:
            unknown = values.filter(pc.is_null(position)).to_pylist()
            raise UnknownValues(name, unknown)
        remap = np.concatenate([[0], position.to_numpy(zero_copy_only=False) + 1])
        np.take(remap.astype(codes.dtype), own.codes[c], out=codes[c])
    return EncodedTable(schema, codes)


def _unified_dictionary(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """The column as dictionary chunks that all share one dictionary of strings."""
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    if column.type.value_type != pa.string():
        column = column.cast(pa.dictionary(column.type.index_type, pa.string()))
    return pa.table([column], names=["c"]).unify_dictionaries().column(0)


def _chunk_indices(column: pa.ChunkedArray):
    """Per chunk, its dictionary indices and validity bitmap as NumPy views, and its bit offset.

    The bitmap is empty when the chunk has no null (see :mod:`.kernels.dictionary`).
    """
    for chunk in column.chunks:
        indices = chunk.indices
        validity, data = indices.buffers()[:2]
        dtype = np.dtype(indices.type.to_pandas_dtype())
        if data is None:  # an empty chunk
            values = np.empty(0, dtype=dtype)
        else:
            values = np.frombuffer(data, dtype=dtype, count=indices.offset + len(indices))[indices.offset :]
        bits = (
            np.frombuffer(validity, dtype=np.uint8) if validity is not None and indices.null_count else None
        )
        yield values, (np.empty(0, dtype=np.uint8) if bits is None else bits), indices.offset


def _used_values(column: pa.ChunkedArray) -> pa.Array:
    """The shared dictionary, with entries that no record uses replaced by null.

    Unused entries (e.g. of rows cut by ``record_limit``) must never become attributes.
    """
    if column.num_chunks == 0:
        return pa.array([], pa.string())
    dictionary = column.chunk(0).dictionary
    seen = np.zeros(len(dictionary) + 1, dtype=np.int64)
    for indices, validity, offset in _chunk_indices(column):
        dictionary_kernels.count_indices(indices, validity, offset, len(dictionary), seen)
    used = seen > 0
    if used[:-1].all():
        return dictionary
    return pc.if_else(pa.array(used[:-1]), dictionary, pa.nulls(len(dictionary), pa.string()))
