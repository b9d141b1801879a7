"""Row-seeded synthesis under k-anonymity (SPEC §3, ``row_seeded``).

1. Every sensitive record seeds one synthetic record: its attributes are taken
   in random order, and each is kept if the record built so far, with it, is
   still shared by at least ``k`` sensitive records (support over the whole
   combination, whatever its length).
2. Consolidation: for every attribute, what is missing from its protected
   count ``floor(count / k) * k`` (the attributes left out in step 1, less the
   rounding) forms a pool; further records are grown from the pool by the same
   rule (random order weighted by what is left, one value per column) until
   the pool is empty. Occurrences above the protected count (at most
   ``count mod k`` per attribute) are blanked in randomly chosen records.

Guarantees: every synthetic record's combination, hence every sub-combination,
occurs >= k times in the sensitive data; every attribute's synthetic count
equals its protected count exactly (attributes rarer than k never appear). The
first ``n_rows`` synthetic records correspond to the sensitive records in order
(a record may be empty), the pool's records follow.

Cost: step 1 makes one support test per sensitive attribute. Records are
grouped by the first attribute of their order (always kept) and grown on an
index of the ``m`` records holding it: a test then reads a few bitmap words
while the combination is common, at most ``m / 64`` words per attribute of the
combination once it is rare, and one code per record once the support set is
listed (from about ``m / 1024`` records down). Each record's support set is listed
once, so step 1 is ``O(n_rows * n_columns + sum over records of
n_columns * m / 64)``: quadratic in the number of records with a small
constant (``m`` is about a third of ``n_rows`` on generated case data). The
pool's records are grown the same way on the whole table's index, with pair
counts answering two-attribute tests exactly. Groups and pool partitions run
in parallel; each record (and each pool partition) has its own random stream,
so the output depends on the seed only.
"""

from __future__ import annotations

import numpy as np

from ..encode import EncodedTable
from ..kernels.row_synthesis import first_attributes, grow_group
from ..protect import validate_resolution
from ..randomness import stream_seeds
from .consolidate import (
    PARTITION_SIZE,
    SupportIndex,
    consolidate,
    group_by,
    group_index,
    run_parallel,
    support_index,
)


def row_seeded(table: EncodedTable, *, resolution: int, rng: np.random.Generator) -> np.ndarray:
    """Synthetic codes ``(n_columns, n_synthetic)``, same dtype and meaning as ``table.codes``.

    ``resolution`` is k; all randomness comes from ``rng`` (same seed, same
    output, whatever the number of threads).
    """
    k = validate_resolution(resolution)
    index = support_index(table, k)
    n_parts = max(1, -(-table.n_rows // PARTITION_SIZE))
    seeds = stream_seeds(rng, n_parts)
    out = first_pass(table, index, k, seeds)
    return np.ascontiguousarray(consolidate(index, out, k, rng))


def first_pass(table: EncodedTable, index: SupportIndex, k: int, seeds: np.ndarray) -> np.ndarray:
    """Step 1: every sensitive record's attributes in random order, kept while support >= k.

    The same records as :func:`~showcase.engine.kernels.row_synthesis.row_seeded_records`
    (each record has its own random stream), computed faster: records are
    grouped by the first attribute of their order, which is always kept, and
    each group is grown on an index of just the records holding that attribute
    (groups run in parallel; each writes its own records).
    """
    codes, offsets, attr_col, _, counts = index.arrays[:5]
    first = first_attributes(codes, offsets, counts, k, seeds, PARTITION_SIZE)
    out = np.zeros_like(codes)
    columns = table.schema.attribute_columns

    def grow(item: tuple[int, np.ndarray]) -> None:
        a, records = item
        group = group_index(codes, offsets, columns, attr_col, a, k)
        grow_group(
            group.arrays,
            codes,
            offsets,
            counts,
            k,
            records,
            seeds,
            PARTITION_SIZE,
            group.exit_hits,
            group.list_max,
            out,
        )

    run_parallel(grow, group_by(first))
    return out
