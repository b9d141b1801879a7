"""Exact counts of every attribute combination of length 1..L.

For each set of k columns the records get a mixed-radix key of their codes and
a kernel counts the keys: a dense histogram when the key space is small enough,
a sort when it is not. The work is a sum over records, so it parallelises over
row ranges (and, later, over partitions of the data).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from math import comb

import numba
import numpy as np

from .aggregates import NO_ATTRIBUTE, Aggregates
from .checks import MAX_LENGTH, validate_length  # noqa: F401  (re-exported: jobs import them here)
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
UINT32_KEY_LIMIT = (1 << 32) - 1
#: A pack of sets counted jointly by the batched kernel has at most this many bins (it stays in L2)...
PACK_BINS = 1 << 14
#: ...and at most this many bins (times its number of sets) per row of the data.
PACK_SHARE = 0.25


def check_length_fits(length: int, n_columns: int) -> int:
    """Refuse a reporting length longer than the number of columns (no such combination exists)."""
    if length > n_columns:
        plural = "column" if n_columns == 1 else "columns"
        raise ParameterError(
            f"--length {length} is longer than the input's {n_columns} {plural}; "
            f"give --length {n_columns} or less"
        )
    return length


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
    n_columns = table.n_columns
    radix = np.array([len(d) + 1 for d in table.schema.dictionaries], dtype=np.int64)
    longest = min(length, n_columns)
    total = sum(comb(n_columns, k) for k in range(1, longest + 1))
    parts_attrs: list[np.ndarray] = []
    parts_counts: list[np.ndarray] = []
    parts_length: list[np.ndarray] = []
    done = 0
    for k in range(1, longest + 1):
        sets = np.array(list(itertools.combinations(range(n_columns), k)), dtype=np.int64).reshape(-1, k)
        # Float products are exact up to 2**53 and are only compared with the limits below.
        bins = np.prod(radix[sets].astype(np.float64), axis=1)
        for start, stop, alone in _batches(bins.tolist()):
            if alone:
                cols = tuple(int(c) for c in sets[start])
                digits, counts = count_column_set(table, cols)
                attrs = np.full((counts.shape[0], length), NO_ATTRIBUTE, dtype=np.int32)
                attrs[:, :k] = digits - 1 + table.schema.offsets[list(cols)].astype(np.int32)
            else:
                attrs, counts = _count_batch(table, sets[start:stop], radix, length)
            parts_attrs.append(attrs)
            parts_counts.append(counts)
            # Every combination counted on a set of k columns has exactly k attributes.
            parts_length.append(np.full(counts.shape[0], k, dtype=np.uint8))
            done += stop - start
            if progress is not None:
                progress(done, total)
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


def _batches(bins: list[float]) -> Iterator[tuple[int, int, bool]]:
    """Split consecutive sets of one size into ``(start, stop, alone)`` runs.

    A set with more than ``BATCH_MAX_SET_BINS`` bins is counted alone; the
    others are grouped, in order, into batches of at most ``BATCH_BINS`` bins
    (a set larger than that is a batch of its own).
    """
    # The batched kernel computes keys in uint32.
    set_limit = min(BATCH_MAX_SET_BINS, UINT32_KEY_LIMIT)
    start, batch_bins = None, 0.0
    for i, n_bins in enumerate(bins):
        if n_bins > set_limit:
            if start is not None:
                yield start, i, False
                start = None
            yield i, i + 1, True
            continue
        if start is not None and batch_bins + n_bins > BATCH_BINS:
            yield start, i, False
            start = None
        if start is None:
            start, batch_bins = i, 0.0
        batch_bins += n_bins
    if start is not None:
        yield start, len(bins), False


def _count_batch(
    table: EncodedTable, sets: np.ndarray, radix: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Count a batch of column sets of one size (``(n_sets, k)`` column indices) with the batched kernels."""
    n_sets, k = sets.shape
    radices = radix[sets]
    strides = np.ones_like(radices)
    if k > 1:
        # strides[:, j] = product of radices[:, j+1:], the last column varying fastest.
        strides[:, :-1] = np.cumprod(radices[:, :0:-1], axis=1)[:, ::-1]
    bin_offsets = np.zeros(n_sets + 1, dtype=np.int64)
    np.cumsum(np.prod(radices, axis=1), out=bin_offsets[1:])
    unit_first, max_pack = _units(sets, radices, table.n_rows)
    n_workers = numba.get_num_threads()
    unit_worker = _share_out(np.diff(unit_first), n_workers)
    first_ids = table.schema.offsets[sets].astype(np.int32)
    count_type = np.uint32 if table.n_rows < 2**32 else np.int64
    hist = np.zeros(int(bin_offsets[-1]), dtype=count_type)
    batch_histograms(
        table.codes, sets, radices, strides, bin_offsets, unit_first, unit_worker, n_workers, max_pack, hist
    )
    return batch_full_bins(hist, radices, strides, bin_offsets, first_ids, width)


def _units(sets: np.ndarray, radices: np.ndarray, n_rows: int) -> tuple[np.ndarray, int]:
    """Units of the batched kernel: the first set of each, ``n_sets`` last, and the largest pack's bins.

    A unit is one set, or a pack: consecutive sets with the same first k-1
    columns whose joint histogram (prefix key, then every set's last column)
    has at most ``PACK_BINS`` bins, and few enough that adding it into the
    sets' own bins costs a small share (``PACK_SHARE``) of a pass over the rows.
    """
    n_sets = sets.shape[0]
    limit = min(PACK_BINS, int(n_rows * PACK_SHARE))
    same_prefix = np.zeros(n_sets, dtype=bool)
    same_prefix[1:] = np.all(sets[1:, :-1] == sets[:-1, :-1], axis=1)
    prefix_bins = np.prod(radices[:, :-1], axis=1).tolist()
    last = radices[:, -1].tolist()
    starts, largest = [0], 1
    joint, size = prefix_bins[0] * last[0], 1
    for s in range(1, n_sets):
        grown = joint * last[s]
        if same_prefix[s] and grown * (size + 1) <= limit:
            joint, size = grown, size + 1
            continue
        if size > 1:
            largest = max(largest, joint)
        starts.append(s)
        joint, size = prefix_bins[s] * last[s], 1
    if size > 1:
        largest = max(largest, joint)
    starts.append(n_sets)
    return np.array(starts, dtype=np.int64), largest


def _share_out(sizes: np.ndarray, n_workers: int) -> np.ndarray:
    """Worker of each unit: largest first, each to the least-loaded worker.

    A unit costs one increment per row, plus a cheap key update per row for each of its sets.
    """
    worker = np.zeros(sizes.shape[0], dtype=np.int64)
    if n_workers <= 1:
        return worker
    load = [0] * n_workers
    for u in np.argsort(-sizes, kind="stable").tolist():
        w = load.index(min(load))
        worker[u] = w
        load[w] += int(sizes[u]) + 4
    return worker


def combinations_per_record(table: EncodedTable, length: int) -> np.ndarray:
    """Per record, the number of combinations of exactly ``length`` attributes it contains.

    This is ``C(m, length)`` for a record with ``m`` attributes: the quantity
    whose percentile bounds a record's contribution (its sensitivity) under DP.
    """
    length = validate_length(length)
    m = attributes_per_record(table.codes)
    table_of_binomials = np.array([comb(i, length) for i in range(table.n_columns + 1)], dtype=np.int64)
    return table_of_binomials[m]
