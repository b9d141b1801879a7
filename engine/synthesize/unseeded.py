"""Unseeded synthesis under k-anonymity (SPEC §3, ``unseeded``).

Records are sampled from the joint distribution of the sensitive data, one
column at a time: each synthetic record visits the columns in a random order
and, for each column, draws a sensitive record uniformly among those that hold
every attribute chosen so far and takes that record's value. So the value
follows the data's distribution of the column conditional on the record so
far, "no attribute" included. The value is kept if the record's combination,
with it, is shared by at least ``k`` sensitive records; otherwise the column
is left empty (the same rule as row-seeded synthesis, which leaves out such
attributes). As many records are made as the sensitive data has.

Guarantee: every synthetic record's combination, hence every sub-combination,
occurs >= k times in the sensitive data. Single-attribute counts are not
adjusted: each attribute's expected synthetic count is its sensitive count
less the mass of draws that would have made a combination rarer than k, plus
sampling noise (binomial, so about ``sqrt(count)``); see the tests for the
tolerance checked on realistic data.

Cost: one support test per column per record, as in row-seeded synthesis;
parallel over fixed partitions of the synthetic records.
"""

from __future__ import annotations

import numpy as np

from ..encode import EncodedTable
from ..kernels.row_synthesis import unseeded_records
from ..protect import validate_resolution
from ..randomness import stream_seeds
from .consolidate import PARTITION_SIZE, support_index, worker_count


def unseeded(table: EncodedTable, *, resolution: int, rng: np.random.Generator) -> np.ndarray:
    """Synthetic codes ``(n_columns, n_rows)``, same dtype and meaning as ``table.codes``.

    ``resolution`` is k; all randomness comes from ``rng`` (same seed, same
    output, whatever the number of threads).
    """
    k = validate_resolution(resolution)
    index = support_index(table, k)
    n_records = table.n_rows
    n_parts = max(1, -(-n_records // PARTITION_SIZE))
    seeds = stream_seeds(rng, n_parts)
    out = unseeded_records(
        index.arrays,
        k,
        n_records,
        seeds,
        PARTITION_SIZE,
        worker_count(n_parts),
        index.exit_hits,
        index.list_max,
    )
    return np.ascontiguousarray(out)
