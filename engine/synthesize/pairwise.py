"""Pairwise synthesis: complete records from released aggregates by pairwise-conditional sampling.

aggregate-seeded synthesis stops a record at the first combination missing
from the aggregates; with DP aggregates, where noise and thresholds suppress
many longer combinations, most records stop early and most cells stay empty.
This mode instead completes every record: each column, in random order, gets a
value or "missing" drawn from the released pair counts conditioned on the
record's attributes so far (geometric mean of the conditionals P(v | a); on
the ACS national excerpt at epsilon = 4 it scored 723 against 681 and 588 for
sharper poolings and 651 and 532 for softer ones), or from the released 1-way
counts for the first attribute. It reads only the
released aggregates, so on DP aggregates it is post-processing: the release
stays (epsilon, delta)-DP. Unlike aggregate-seeded it may form combinations
that the aggregates do not list; single attributes always come from them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..aggregates import Aggregates
from ..constraints import Constraint, encode
from ..encode import EncodedTable, code_dtype
from ..errors import ParameterError
from ..kernels.pairwise import Scores, pairwise_records
from ..randomness import stream_seeds

PARTITION = 4096


def pairwise_tables(aggregates: Aggregates, smoothing: float = 1.0) -> Scores:
    """Log-score tables from the released 1- and 2-combinations."""
    schema = aggregates.schema
    n_attrs, n_cols = schema.n_attributes, len(schema.columns)
    offsets = schema.offsets.astype(np.int64)
    column = schema.attribute_columns
    single = np.zeros(n_attrs)
    ones = aggregates.length == 1
    single[aggregates.attrs[ones, 0]] = aggregates.count[ones]
    pair = np.zeros((n_attrs, n_attrs))
    twos = aggregates.length == 2
    a, b = aggregates.attrs[twos, 0], aggregates.attrs[twos, 1]
    pair[a, b] = aggregates.count[twos]
    pair[b, a] = aggregates.count[twos]
    n = max(float(aggregates.record_count), single.max(initial=0.0), 1.0)
    sizes = np.diff(offsets)
    # 1-way: shares of each value and of "missing" (what the values leave of n).
    per_column = np.bincount(column, weights=single, minlength=n_cols)
    log_single = np.log((single + smoothing) / (n + smoothing * (sizes[column] + 1)))
    log_single_missing = np.log((np.maximum(n - per_column, 0) + smoothing) / (n + smoothing * (sizes + 1)))
    # Conditionals P(v | a): released pair counts, smoothed; same-column pairs never co-occur.
    denominator = single[:, None] + smoothing * (sizes[column][None, :] + 1)
    log_cond = np.log((pair + smoothing) / denominator)
    log_cond[column[:, None] == column[None, :]] = 0.0
    explained = np.zeros((n_attrs, n_cols))
    np.add.at(explained.T, column, pair.T)
    log_missing = np.log(
        (np.maximum(single[:, None] - explained, 0) + smoothing)
        / (single[:, None] + smoothing * (sizes[None, :] + 1))
    )
    log_missing[np.arange(n_attrs), column] = 0.0
    return Scores(offsets, log_single, log_single_missing, log_cond, log_missing)


def pairwise(
    aggregates: Aggregates,
    *,
    rng: np.random.Generator,
    target_number_of_records: int | None = None,
    constraints: Sequence[Constraint] = (),
) -> EncodedTable:
    """Synthetic records on ``aggregates.schema``, every column decided for every record.

    A value that would complete one of ``constraints`` is drawn again among the allowed ones.
    """
    aggregates = aggregates.on_released_schema()  # suppressed values must never appear
    if aggregates.reporting_length < 2 or not (aggregates.length == 2).any():
        raise ParameterError(
            "pairwise synthesis needs aggregates with combinations of length 2, and these have none (a "
            "release of length 1, or a DP release of too few records for its epsilon): choose --mode "
            "aggregate_seeded, or release with --length 2 or more (under DP, a larger --epsilon)"
        )
    n = int(target_number_of_records or aggregates.record_count)
    if n < 1:
        raise ParameterError(f"number of records must be at least 1, got {n}")
    schema = aggregates.schema
    width = max((len(d) for d in schema.dictionaries), default=0)
    out = np.zeros((len(schema.columns), n), dtype=code_dtype(width))
    seeds = stream_seeds(rng, math.ceil(n / PARTITION))
    pairwise_records(pairwise_tables(aggregates), seeds, PARTITION, out, encode(constraints, schema))
    return EncodedTable(schema, out)
