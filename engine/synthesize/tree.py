"""Tree synthesis from released aggregates: a Chow–Liu tree over the released pairs.

The released 1- and 2-combination counts give, for every pair of columns, a
joint table over their values and "missing" (see :func:`pair_tables`), each
scored by its mutual information; the maximum spanning tree of those scores
(Chow & Liu 1968) is the best tree-shaped model of the data that pairs can
describe. Records are drawn down the tree: the root from its 1-way counts,
every other column from its parent's row of their joint table.

It reads only the release, so on DP aggregates it is post-processing and the
synthetic records are as private as the aggregates. Only released attributes
can appear (the release is first put on a schema of its own attributes). On
the ACS national excerpt with DP aggregates at L = 2 it scored a k-marginal of
762 / 821 / 839 at epsilon = 1 / 4 / 10 (five seeds), against 712 / 724 /
725 for pairwise-conditional completion (bench/RESULTS.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..aggregates import Aggregates
from ..constraints import Constraint, encode
from ..encode import EncodedTable, code_dtype
from ..errors import ParameterError
from ..kernels.tree import Tree, tree_records
from ..randomness import stream_seeds
from .split import SplitWork

#: Pseudo-records added to every cell of a released value or of "missing".
SMOOTHING = 0.5
#: Rounds of iterative proportional fitting per pair table.
FIT_ROUNDS = 10
PARTITION = 4096


def column_counts(aggregates: Aggregates) -> list[np.ndarray]:
    """Per column, counts of [missing, value 1, ..., value s] from the released 1-combinations."""
    schema = aggregates.schema
    single = np.zeros(schema.n_attributes)
    ones = aggregates.length == 1
    single[aggregates.attrs[ones, 0]] = aggregates.count[ones]
    total = float(aggregates.record_count)
    counts = []
    for c in range(len(schema.columns)):
        values = single[schema.offsets[c] : schema.offsets[c + 1]]
        counts.append(np.concatenate([[max(total - values.sum(), 0.0)], values]))
    return counts


def pair_tables(aggregates: Aggregates, counts: list[np.ndarray]) -> dict[tuple[int, int], np.ndarray]:
    """Joint tables (rows: column i's missing + values; columns: column j's) for i < j.

    Released pair counts fill their cells. A pair the release does not list
    was suppressed (or never occurred), so its cell starts at the count the
    two values would have if independent, capped at half the smallest
    released pair count (a suppressed count is below every released one);
    the "missing" cells start at independence too. Iterative proportional
    fitting then makes the table agree with both columns' 1-way counts
    (missing included), so a column that is never missing stays so whatever
    pairs were suppressed. Finally every cell of a released value or of
    "missing" gets ``SMOOTHING`` pseudo-records.
    """
    schema = aggregates.schema
    offsets, n_cols = schema.offsets, len(schema.columns)
    column = schema.attribute_columns.astype(np.int64)
    twos = aggregates.length == 2
    # A release of one column holds no pair (and its attribute table is one wide).
    pairs = aggregates.attrs[twos] if aggregates.attrs.shape[1] >= 2 else np.zeros((0, 2), np.int64)
    first, second = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    pair_count = np.maximum(aggregates.count[twos].astype(np.float64), 0.0)
    cap = pair_count.min(initial=0.0) / 2
    key = column[first] * n_cols + column[second]
    order = np.argsort(key, kind="stable")
    key, first, second, pair_count = key[order], first[order], second[order], pair_count[order]
    bounds = np.searchsorted(key, np.arange(n_cols * n_cols + 1))
    total = max(float(aggregates.record_count), 1.0)
    tables = {}
    for i in range(n_cols):
        for j in range(i + 1, n_cols):
            lo, hi = bounds[i * n_cols + j], bounds[i * n_cols + j + 1]
            rows, cols = counts[i], counts[j]
            table = np.outer(rows, cols) / total
            table[1:, 1:] = np.minimum(table[1:, 1:], cap)
            table[first[lo:hi] - offsets[i] + 1, second[lo:hi] - offsets[j] + 1] = pair_count[lo:hi]
            table = fit_margins(table, rows, cols)
            tables[i, j] = table + SMOOTHING * np.outer(may_appear(rows), may_appear(cols))
    return tables


def may_appear(counts: np.ndarray) -> np.ndarray:
    """Which of [missing, values...] may appear: "missing" and every value with a released count."""
    return np.concatenate([[True], counts[1:] > 0])


def fit_margins(
    table: np.ndarray, rows: np.ndarray, cols: np.ndarray, rounds: int = FIT_ROUNDS
) -> np.ndarray:
    """Iterative proportional fitting of ``table`` towards row sums ``rows`` and column sums ``cols``."""
    table = table + 1e-9  # a row or column of zeros could not be scaled
    for _ in range(rounds):
        sums = table.sum(axis=1)
        table *= np.divide(rows, sums, out=np.zeros_like(sums), where=sums > 0)[:, None]
        sums = table.sum(axis=0)
        table *= np.divide(cols, sums, out=np.zeros_like(sums), where=sums > 0)[None, :]
    return table


def mutual_information(table: np.ndarray) -> float:
    """Mutual information (nats) of the two variables of a joint count table."""
    p = table / table.sum()
    outer = p.sum(axis=1, keepdims=True) * p.sum(axis=0, keepdims=True)
    inside = p > 0
    return float((p[inside] * np.log(p[inside] / outer[inside])).sum())


def spanning_tree(weights: np.ndarray, root: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Maximum spanning tree (Prim): columns in the order they join, and each one's parent (-1: root)."""
    n = weights.shape[0]
    parent = np.full(n, -1, dtype=np.int64)
    joined = np.zeros(n, dtype=bool)
    best = np.full(n, -np.inf)
    best[root] = 0.0
    order = []
    for _ in range(n):
        c = int(np.argmax(np.where(joined, -np.inf, best)))
        joined[c] = True
        order.append(c)
        closer = ~joined & (weights[c] > best)
        best[closer] = weights[c][closer]
        parent[closer] = c
    return np.array(order, dtype=np.int64), parent


def fit(aggregates: Aggregates) -> Tree:
    """The tree and its flat cumulative tables (see :mod:`showcase.engine.kernels.tree`)."""
    counts = column_counts(aggregates)
    tables = pair_tables(aggregates, counts)
    n_cols = len(counts)
    weights = np.zeros((n_cols, n_cols))
    for (i, j), table in tables.items():
        weights[i, j] = weights[j, i] = mutual_information(table)
    order, parent = spanning_tree(weights)
    starts = np.zeros(n_cols, dtype=np.int64)
    widths = np.array([len(c) for c in counts], dtype=np.int64)
    pieces, start = [None] * n_cols, 0
    for c in range(n_cols):
        p = parent[c]
        alone = counts[c] + SMOOTHING * may_appear(counts[c])
        if p < 0:
            rows = alone[None, :]
        else:
            rows = tables[p, c] if p < c else tables[c, p].T
            rows = np.where(rows.sum(axis=1, keepdims=True) > 0, rows, alone)  # a value with no count
        cumulative = np.cumsum(rows / rows.sum(axis=1, keepdims=True), axis=1)
        cumulative[:, -1] = 1.0
        pieces[c] = cumulative.ravel()
        starts[c] = start
        start += pieces[c].shape[0]
    return Tree(order, parent, starts, widths, np.concatenate(pieces))


def tree(
    aggregates: Aggregates,
    *,
    rng: np.random.Generator,
    target_number_of_records: int | None = None,
    constraints: Sequence[Constraint] = (),
) -> EncodedTable:
    """Synthetic records on the release's own schema, every column decided for every record.

    A value that would complete one of ``constraints`` is drawn again among the allowed ones.
    """
    work = split(
        aggregates, rng=rng, target_number_of_records=target_number_of_records, constraints=constraints
    )
    return work.table(work.fill(work.payload, 0, work.n_parts))


def split(
    aggregates: Aggregates,
    *,
    rng: np.random.Generator,
    target_number_of_records: int | None = None,
    constraints: Sequence[Constraint] = (),
) -> SplitWork:
    """The work of :func:`tree`: the fitted tree and every partition's seed, for :func:`fill_partitions`."""
    aggregates = aggregates.on_released_schema()
    n_cols = len(aggregates.schema.columns)
    if n_cols > 1 and (aggregates.reporting_length < 2 or not (aggregates.length == 2).any()):
        raise ParameterError(
            "tree synthesis needs aggregates with combinations of length 2, and these have none (a "
            "release of length 1, or a DP release of too few records for its epsilon): choose --mode "
            "aggregate_seeded, or release with --length 2 or more (under DP, a larger --epsilon)"
        )
    n = int(target_number_of_records or aggregates.record_count)
    if n < 1:
        raise ParameterError(f"number of records must be at least 1, got {n}")
    fitted = fit(aggregates)
    seeds = stream_seeds(rng, math.ceil(n / PARTITION))
    dtype = code_dtype(int(fitted.widths.max(initial=1)) - 1)
    payload = (fitted, n, seeds, dtype, encode(constraints, aggregates.schema))
    return SplitWork(aggregates.schema, n, PARTITION, len(seeds), dtype, fill_partitions, payload)


def fill_partitions(payload: tuple, first: int, stop: int, progress=None) -> np.ndarray:
    """Codes ``(n_columns, records)`` of partitions ``first..stop - 1`` of a :func:`split`'s payload."""
    fitted, n, seeds, dtype, rules = payload
    out = np.zeros((fitted.order.shape[0], max(0, min(n, stop * PARTITION) - first * PARTITION)), dtype=dtype)
    # Records are numbered from the run's first partition: each partition reads its own seed only.
    tree_records(fitted, seeds[first:stop], PARTITION, out, rules)
    if progress is not None:
        progress(min(n, stop * PARTITION), n)
    return out
