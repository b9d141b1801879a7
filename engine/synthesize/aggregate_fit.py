"""Fitting aggregate-seeded records to the aggregates' counts, never leaving the aggregates.

Aggregate-seeded records (:mod:`.aggregate_seeded`) hold only combinations of
length <= L that the aggregates contain, but their combination counts drift
far from the released ones. :func:`fit_records` then moves them toward every
released count at once, by the local search of
:mod:`showcase.engine.kernels.aggregate_fit`: one cell (or a swap of one
column between two records) at a time, kept when the L1 error over all
released combinations drops, and refused whenever the changed record would
hold a combination of length <= L absent from the aggregates. The record
count stays as it was; only the aggregates are read.

Targets
    A k-anonymous release rounds every count down to a multiple of k
    (:func:`showcase.engine.protect.k_anonymize`): the true count then lies
    in ``[count, count + k - 1]``, and the target is its middle, ``count +
    (k - 1) / 2``, scaled to the number of records. Other aggregates (exact,
    or read from a file whose counts are not all multiples of k) are taken
    as they are.

Determinism: one random stream (its seed drawn from the caller's generator)
and a sequential search, so a seed gives the same records whatever the
number of threads.
"""

from __future__ import annotations

import numpy as np

from ..aggregates import PROTECTION_K_ANONYMITY, Aggregates
from ..errors import InputError
from ..kernels.aggregate_fit import combination_counts, dense_rows, local_search
from ..kernels.keys import combination_table

#: Proposals per cell of the synthetic table, and at most this many proposals in all.
SWEEPS = 20
MAX_PROPOSALS = 200_000_000
#: Combinations are found by direct address (no hashing) when ``(n_attributes + 1) ** L`` is at most this.
DENSE_LIMIT = 1 << 25


def _wrapping():
    """Let uint64 hashing wrap silently when the kernels run as plain Python (NUMBA_DISABLE_JIT=1)."""
    return np.errstate(over="ignore")


def targets(aggregates: Aggregates, n_records: int) -> np.ndarray:
    """Each combination's target count for ``n_records`` records (see the module docs)."""
    count = aggregates.count.astype(np.float64)
    k = aggregates.resolution
    if (
        aggregates.protection == PROTECTION_K_ANONYMITY
        and k is not None
        and k > 1
        and np.all(aggregates.count % k == 0)
    ):
        count = count + (k - 1) / 2
    return count * (n_records / max(aggregates.record_count, 1))


def fit_records(aggregates: Aggregates, codes: np.ndarray, *, seed: np.uint64, sweeps: int) -> tuple[np.ndarray, int]:
    """Records ``codes`` (``(n_cols, n)`` on ``aggregates.schema``) fitted to the aggregates' counts.

    Returns the fitted codes (same shape and dtype) and how many changes were kept.
    ``sweeps`` is the number of proposals per cell (capped at :data:`MAX_PROPOSALS` in all).
    """
    schema = aggregates.schema
    n_cols, n = codes.shape
    length = int(aggregates.reporting_length)
    positive = aggregates.count > 0
    released = aggregates.select(positive) if not positive.all() else aggregates
    if n == 0 or n_cols == 0 or len(released) == 0 or sweeps <= 0:
        return codes, 0
    with _wrapping():
        table, duplicates = combination_table(
            np.ascontiguousarray(released.attrs, dtype=np.int32),
            np.ascontiguousarray(released.length, dtype=np.uint8),
            schema.n_attributes,
            max(length, 1),
        )
    if duplicates:
        raise InputError(f"the aggregates list {duplicates} combination(s) more than once")
    size = (schema.n_attributes + 1) ** max(length, 1)
    if size <= DENSE_LIMIT and table.per_word >= length:
        dense = dense_rows(table, np.ascontiguousarray(released.attrs, dtype=np.int64), released.length, size)
    else:
        dense = np.zeros(1, dtype=np.int32)
    target = targets(released, n)
    weight = np.ones(len(released), dtype=np.float64)
    offsets = np.ascontiguousarray(schema.offsets[:-1], dtype=np.int64)
    radix = np.array([len(d) + 1 for d in schema.dictionaries], dtype=np.int64)
    records = np.ascontiguousarray(codes.T, dtype=np.int32)
    current = np.zeros(len(released), dtype=np.int64)
    with _wrapping():
        absent = combination_counts(records, offsets, table, dense, length, current)
    if absent:
        raise InputError(f"{absent} combination(s) of the records to fit are absent from the aggregates")
    steps = int(min(MAX_PROPOSALS, int(sweeps) * n * n_cols))
    with _wrapping():
        kept = local_search(records, radix, offsets, table, dense, length, target, current, weight, steps, np.uint64(seed))
    return np.ascontiguousarray(records.T, dtype=codes.dtype), int(kept)
