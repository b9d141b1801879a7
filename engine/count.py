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
from .kernels.counting import (
    attributes_per_record,
    batch_full_bins,
    batch_histograms,
    dense_histogram,
    full_bins,
    nonzero_bins,
    sorted_key_counts,
    sparse_counts,
)

#: ``progress(done, total)`` is called as column sets are counted.
Progress = Callable[[int, int], None]

#: A dense histogram is used up to this many bins (and at most ``DENSE_MEMORY`` bytes).
DENSE_MAX_BINS = 1 << 25
#: Column sets are counted in batches of up to this many histogram bins (uint32: 128 MiB)...
BATCH_BINS = 1 << 25
#: ...and a set with more bins than this is counted on its own, parallel over rows.
BATCH_MAX_SET_BINS = 1 << 21
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


def mixed_radix(table: EncodedTable, cols: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, int]:
    """Radices (values + 1 per column), strides and key-space size of a column set."""
    radices = np.array([len(table.schema.dictionaries[c]) + 1 for c in cols], dtype=np.int64)
    n_bins = int(np.prod([int(r) for r in radices], dtype=object))
    strides = np.ones(len(cols), dtype=np.int64)
    for j in range(len(cols) - 2, -1, -1):
        strides[j] = strides[j + 1] * radices[j + 1]
    return radices, strides, n_bins


def _dense_fits(table: EncodedTable, n_bins: int) -> bool:
    dense_limit = min(DENSE_MAX_BINS, max(1 << 16, 4 * table.n_rows))
    return n_bins <= dense_limit and n_bins * 4 * max_threads() <= DENSE_MEMORY


def count_column_set(table: EncodedTable, cols: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Codes ``(n, k)`` and counts of every combination present on the columns ``cols``."""
    radices, strides, n_bins = mixed_radix(table, cols)
    col_array = np.array(cols, dtype=np.int64)
    if _dense_fits(table, n_bins):
        hist = dense_histogram(table.codes, col_array, strides, n_bins, numba.get_num_threads())
        return full_bins(hist, radices, strides)
    if n_bins < INT64_KEY_LIMIT:
        return sparse_counts(table.codes, col_array, radices, strides)
    return _counts_by_rows(table.codes[list(cols)])


def marginal_counts(table: EncodedTable, cols: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Mixed-radix keys and counts of every value tuple of ``cols``, "missing" included.

    This is the full contingency table of the columns (missing is a category of
    its own), as used by marginal-based metrics. Keys are comparable between two
    tables encoded with the same schema.
    """
    radices, strides, n_bins = mixed_radix(table, cols)
    col_array = np.array(cols, dtype=np.int64)
    if _dense_fits(table, n_bins):
        hist = dense_histogram(table.codes, col_array, strides, n_bins, numba.get_num_threads())
        return nonzero_bins(hist)
    if n_bins >= INT64_KEY_LIMIT:
        raise ParameterError("too many distinct value tuples for one marginal; bin the columns first")
    return sorted_key_counts(table.codes, col_array, strides)


def _counts_by_rows(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fallback for key spaces beyond int64: unique rows of the full records."""
    full = np.all(codes != 0, axis=0)
    rows, counts = np.unique(codes[:, full].T, axis=0, return_counts=True)
    return rows.astype(np.int32), counts.astype(np.int64)


def count_combinations(table: EncodedTable, length: int, *, progress: Progress | None = None) -> Aggregates:
    """Exact count of every attribute combination of length 1..``length`` in ``table``.

    Combinations are ordered by length, then by column set (in input order),
    then by value codes, so the output is deterministic for a given input.
    Consecutive column sets with small key spaces are counted together in one
    kernel call, parallel over sets; a set with a large key space is counted
    alone, parallel over rows (or by sorting keys when a histogram would not fit).
    """
    length = validate_length(length)
    sets = column_sets(table.n_columns, length)
    parts_attrs: list[np.ndarray] = []
    parts_counts: list[np.ndarray] = []
    batch: list[tuple[int, ...]] = []
    batch_bins = 0
    done = 0

    def flush() -> None:
        nonlocal batch, batch_bins, done
        if batch:
            attrs, counts = _count_batch(table, batch, length)
            parts_attrs.append(attrs)
            parts_counts.append(counts)
            done += len(batch)
            batch, batch_bins = [], 0
            if progress is not None:
                progress(done, len(sets))

    for cols in sets:
        _, _, n_bins = mixed_radix(table, cols)
        if n_bins > BATCH_MAX_SET_BINS:
            flush()
            digits, counts = count_column_set(table, cols)
            attrs = np.full((counts.shape[0], length), NO_ATTRIBUTE, dtype=np.int32)
            attrs[:, : len(cols)] = digits - 1 + table.schema.offsets[list(cols)].astype(np.int32)
            parts_attrs.append(attrs)
            parts_counts.append(counts)
            done += 1
            if progress is not None:
                progress(done, len(sets))
            continue
        if batch and (len(batch[0]) != len(cols) or batch_bins + n_bins > BATCH_BINS):
            flush()
        batch.append(cols)
        batch_bins += n_bins
    flush()
    if parts_counts:
        attrs = np.concatenate(parts_attrs)
        counts = np.concatenate(parts_counts)
    else:
        attrs = np.empty((0, length), dtype=np.int32)
        counts = np.empty(0, dtype=np.int64)
    lengths = np.count_nonzero(attrs != NO_ATTRIBUTE, axis=1).astype(np.uint8)
    return Aggregates(
        schema=table.schema,
        reporting_length=length,
        attrs=attrs,
        length=lengths,
        count=counts,
        record_count=table.n_rows,
    )


def _count_batch(
    table: EncodedTable, batch: list[tuple[int, ...]], width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Count a batch of column sets of one size with the batched kernels."""
    shapes = [mixed_radix(table, cols) for cols in batch]
    radices = np.stack([r for r, _, _ in shapes])
    strides = np.stack([st for _, st, _ in shapes])
    bin_offsets = np.concatenate([[0], np.cumsum([n for _, _, n in shapes])]).astype(np.int64)
    sets = np.array(batch, dtype=np.int64)
    first_ids = table.schema.offsets[sets].astype(np.int32)
    count_type = np.uint32 if table.n_rows < 2**32 else np.int64
    hist = np.zeros(int(bin_offsets[-1]), dtype=count_type)
    batch_histograms(table.codes, sets, strides, bin_offsets, hist)
    return batch_full_bins(hist, radices, strides, bin_offsets, first_ids, width)


def combinations_per_record(table: EncodedTable, length: int) -> np.ndarray:
    """Per record, the number of combinations of exactly ``length`` attributes it contains.

    This is ``C(m, length)`` for a record with ``m`` attributes: the quantity
    whose percentile bounds a record's contribution (its sensitivity) under DP.
    """
    length = validate_length(length)
    m = attributes_per_record(table.codes)
    table_of_binomials = np.array([comb(i, length) for i in range(table.n_columns + 1)], dtype=np.int64)
    return table_of_binomials[m]
