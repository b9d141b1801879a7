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

Cost: one draw and one support test per column per record, as in row-seeded
synthesis. Records are grouped by the first id they keep (drawn on all
records), and each group is finished on an index of the records holding that
id, so costs scale with its count rather than with all records; every record
has its own random stream, so the grouping and the number of threads do not
change the output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..constraints import Constraint, encode
from ..encode import EncodedTable
from ..kernels.row_synthesis import Orders, Rule, first_ids, grow_unseeded_group, no_drawn
from ..protect import validate_resolution
from ..randomness import stream_seeds
from .consolidate import PARTITION_SIZE, Tally, group_by, group_index, id_counts, run_parallel


def unseeded(
    table: EncodedTable,
    *,
    resolution: int,
    rng: np.random.Generator,
    constraints: Sequence[Constraint] = (),
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Synthetic codes ``(n_columns, n_rows)``, same dtype and meaning as ``table.codes``.

    ``resolution`` is k; all randomness comes from ``rng`` (same seed, same
    output, whatever the number of threads). An attribute that would complete
    one of ``constraints`` is refused like a failed k-test. ``progress(done,
    total)`` follows the records finished.
    """
    k = validate_resolution(resolution)
    codes = np.ascontiguousarray(table.codes)
    offsets = np.ascontiguousarray(table.schema.offsets, dtype=np.int64)
    columns = table.schema.attribute_columns
    counts = id_counts(codes, offsets, columns)
    attr_col = np.concatenate([columns, np.arange(table.n_columns)]).astype(np.int64)
    n_records = table.n_rows
    n_parts = max(1, -(-n_records // PARTITION_SIZE))
    seeds = stream_seeds(rng, n_parts)
    rules = encode(constraints, table.schema)
    orders = Orders(codes, offsets, counts, k, seeds, PARTITION_SIZE, no_drawn())
    first = first_ids(orders, n_records, True)
    out = np.zeros((table.n_columns, n_records), dtype=codes.dtype)

    def grow(item: tuple[int, np.ndarray]) -> None:
        a, records = item
        group = group_index(codes, offsets, columns, attr_col, a, k)
        grow_unseeded_group(
            group.arrays, orders, Rule(k, group.exit_hits, group.list_max), records, out, rules
        )

    groups = group_by(first)
    tally = Tally(progress, n_records)
    run_parallel(grow, groups, lambda i: tally.add(len(groups[i][1])))
    tally.at(n_records)
    return out
