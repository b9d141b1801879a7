"""Exact counts of every attribute combination of length 1..L.

For each set of k columns the records get a mixed-radix key of their codes and
a kernel counts the keys: a dense histogram when the key space is small enough,
a sort when it is not. The work is a sum over records, so it parallelises over
row ranges (and, later, over partitions of the data).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from math import comb

import numba
import numpy as np

from .aggregates import NO_ATTRIBUTE, Aggregates
from .config import max_threads
from .encode import EncodedTable
from .errors import ParameterError
from .kernels.counting import attributes_per_record, dense_histogram, full_bins, sparse_counts

#: ``progress(done, total)`` is called as column sets are counted.
Progress = Callable[[int, int], None]

#: A dense histogram is used up to this many bins (and at most ``DENSE_MEMORY`` bytes).
DENSE_MAX_BINS = 1 << 25
DENSE_MEMORY = 1 << 30
INT64_KEY_LIMIT = 1 << 62


def validate_length(length: int) -> int:
    """Check the reporting length ``L``."""
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ParameterError(f"reporting length must be an integer >= 1, got {length!r}")
    return int(length)


def column_sets(n_columns: int, length: int) -> list[tuple[int, ...]]:
    """Every set of 1..length columns, shortest first, each in column order."""
    return [
        cols
        for k in range(1, min(length, n_columns) + 1)
        for cols in itertools.combinations(range(n_columns), k)
    ]


def count_column_set(table: EncodedTable, cols: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Codes ``(n, k)`` and counts of every combination present on the columns ``cols``."""
    radices = np.array([len(table.schema.dictionaries[c]) + 1 for c in cols], dtype=np.int64)
    n_bins = int(np.prod([int(r) for r in radices], dtype=object))
    strides = np.ones(len(cols), dtype=np.int64)
    for j in range(len(cols) - 2, -1, -1):
        strides[j] = strides[j + 1] * radices[j + 1]
    col_array = np.array(cols, dtype=np.int64)
    dense_limit = min(DENSE_MAX_BINS, max(1 << 16, 4 * table.n_rows))
    if n_bins <= dense_limit and n_bins * 4 * max_threads() <= DENSE_MEMORY:
        hist = dense_histogram(table.codes, col_array, strides, n_bins, numba.get_num_threads())
        return full_bins(hist, radices, strides)
    if n_bins < INT64_KEY_LIMIT:
        return sparse_counts(table.codes, col_array, radices, strides)
    return _counts_by_rows(table.codes[list(cols)])


def _counts_by_rows(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fallback for key spaces beyond int64: unique rows of the full records."""
    full = np.all(codes != 0, axis=0)
    rows, counts = np.unique(codes[:, full].T, axis=0, return_counts=True)
    return rows.astype(np.int32), counts.astype(np.int64)


def count_combinations(table: EncodedTable, length: int, *, progress: Progress | None = None) -> Aggregates:
    """Exact count of every attribute combination of length 1..``length`` in ``table``.

    Combinations are ordered by length, then by column set (in input order),
    then by value codes, so the output is deterministic for a given input.
    """
    length = validate_length(length)
    sets = column_sets(table.n_columns, length)
    offsets = table.schema.offsets
    parts_attrs, parts_counts, parts_length = [], [], []
    for done, cols in enumerate(sets, start=1):
        digits, counts = count_column_set(table, cols)
        if counts.shape[0]:
            attrs = np.full((counts.shape[0], length), NO_ATTRIBUTE, dtype=np.int32)
            attrs[:, : len(cols)] = digits - 1 + offsets[list(cols)].astype(np.int32)
            parts_attrs.append(attrs)
            parts_counts.append(counts)
            parts_length.append(np.full(counts.shape[0], len(cols), dtype=np.uint8))
        if progress is not None:
            progress(done, len(sets))
    if parts_counts:
        attrs = np.concatenate(parts_attrs)
        counts = np.concatenate(parts_counts)
        lengths = np.concatenate(parts_length)
    else:
        attrs = np.empty((0, length), dtype=np.int32)
        counts = np.empty(0, dtype=np.int64)
        lengths = np.empty(0, dtype=np.uint8)
    return Aggregates(
        schema=table.schema,
        reporting_length=length,
        attrs=attrs,
        length=lengths,
        count=counts,
        record_count=table.n_rows,
    )


def combinations_per_record(table: EncodedTable, length: int) -> np.ndarray:
    """Per record, the number of combinations of exactly ``length`` attributes it contains.

    This is ``C(m, length)`` for a record with ``m`` attributes: the quantity
    whose percentile bounds a record's contribution (its sensitivity) under DP.
    """
    length = validate_length(length)
    m = attributes_per_record(table.codes)
    table_of_binomials = np.array([comb(i, length) for i in range(table.n_columns + 1)], dtype=np.int64)
    return table_of_binomials[m]
