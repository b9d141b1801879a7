"""Shared steps of the k-anonymous synthesis modes that read sensitive records.

* :func:`support_index` builds the index of :mod:`showcase.engine.kernels.support`
  (attribute counts, row bitmaps, row lists) once per table;
* :func:`protected_counts` gives every attribute's target ``floor(count / k) * k``;
* :func:`synthetic_counts` counts attributes in synthetic codes;
* :func:`group_by`, :func:`group_index` and :func:`run_parallel` let a mode
  work on groups of records that share an id, each on an index of only the
  sensitive records holding that id;
* :func:`consolidate` makes single-attribute counts equal their protected counts:
  attributes missing from the synthetic records are grown into new records from
  a pool (always possible: an attribute alone is shared by >= k records), and
  attributes present too often are blanked in randomly chosen records (a
  subset of a combination is at least as common, so k-anonymity holds).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import numba
import numpy as np

from ..encode import EncodedTable
from ..kernels.constraints import Rules, no_rules
from ..kernels.rng import seeded_states
from ..kernels.row_synthesis import Pool, Rule, pool_records, pool_trees, suppress_excess
from ..kernels.support import (
    attribute_counts,
    attribute_counts_serial,
    fill_index,
    fill_index_serial,
    holder_codes,
    pair_counts,
)
from ..protect import round_down
from ..randomness import stream_seeds

T = TypeVar("T")

#: Records per work partition. Each partition has its own random stream, so
#: results depend on the seed and this size, never on the number of threads.
PARTITION_SIZE = 1024
#: Pair counts are kept up to this many ids (an int32 matrix of 64 MiB).
PAIRS_MAX_IDS = 4096
#: Pooled occurrences per partition of the pool.
POOL_PARTITION = 1 << 16
#: Values of one column drawn for a pool record before the column is left empty
#: ("one value per column"; more draws pack the pool ~5% tighter at ~50% more time).
POOL_TRIES = 1
#: Pool records starting from ``a`` are grown on an index of the records holding
#: ``a`` when that leaves out at least this many records (building it costs more
#: than it saves on small tables).
POOL_GROUP_SAVING = 20_000
#: Pool partitions per parallel job (a fixed split: results do not depend on threads).
POOL_CHUNK = 4
#: Rounds of turns of the pooled attributes (1M generated records: one round
#: preserves 61.2 % of 1-3 combinations in 2.142 records per input, three
#: rounds 62.8 % in 2.133). Each round builds every pooled attribute's index
#: again (keeping them all would bring back the memory of one index per
#: attribute); at 1M, three rounds smallest first ran end to end in 48 s against
#: 56 s for one round largest first.
POOL_ROUNDS = 3


@dataclass(frozen=True, eq=False)
class SupportIndex:
    """What kernels need to test "is this combination shared by >= k records?" quickly.

    ``arrays`` is the index tuple of :mod:`showcase.engine.kernels.support`;
    ``counts`` are the attributes' record counts (without the ids that stand
    for "no attribute").
    """

    arrays: tuple
    offsets: np.ndarray
    counts: np.ndarray
    #: A bitmap test stops after this many matches (enough to estimate the support).
    exit_hits: int
    #: The support set is listed once it is estimated at or below this many records.
    list_max: int


def support_index(
    table: EncodedTable, resolution: int, *, use_pairs: bool = True, list_max: int | None = None
) -> SupportIndex:
    """Index the table for support tests at resolution ``k``.

    An id on more than ``n_rows / 64`` records gets a bitmap (a test over it
    scans at most ``n_rows / 64`` words), a rarer one a list of its records
    (a test scans at most as many). A support set is listed once it is
    estimated at no more than ``list_max`` records (default ``n_rows / 1024``,
    at least 64: measured fastest on generated case data). Pair counts are
    kept when there are at most ``PAIRS_MAX_IDS`` ids (``use_pairs=False``
    turns them off, for tests).
    """
    return index_codes(
        np.ascontiguousarray(table.codes),
        np.ascontiguousarray(table.schema.offsets, dtype=np.int64),
        table.schema.attribute_columns,
        resolution,
        use_pairs=use_pairs,
        list_max=list_max,
    )


def index_codes(
    codes: np.ndarray,
    offsets: np.ndarray,
    attribute_columns: np.ndarray,
    resolution: int,
    *,
    use_pairs: bool = True,
    list_max: int | None = None,
    parallel: bool = True,
    all_counts: np.ndarray | None = None,
) -> SupportIndex:
    """:func:`support_index` of raw codes (for instance the records of one attribute).

    ``parallel=False`` builds it on the calling thread only (for indexes built
    by several threads at once); ``all_counts`` are the codes' :func:`id_counts`
    when the caller has them already.
    """
    n_columns, n_rows = codes.shape
    n_words = (n_rows + 63) // 64
    if all_counts is None:
        all_counts = id_counts(codes, offsets, attribute_columns, parallel=parallel)
    counts = all_counts[: offsets[-1]]
    attr_col = np.concatenate([attribute_columns, np.arange(n_columns)]).astype(np.int64)
    attr_code = np.concatenate(
        [np.arange(len(counts), dtype=np.int64) - offsets[attr_col[: len(counts)]] + 1, np.zeros(n_columns)]
    ).astype(np.int64)
    dense = all_counts > n_words
    dense_slot = np.full(len(all_counts), -1, dtype=np.int64)
    dense_slot[dense] = np.arange(int(dense.sum()), dtype=np.int64)
    sparse_start = np.concatenate([[0], np.cumsum(np.where(dense, 0, all_counts))]).astype(np.int64)
    fill = fill_index if parallel else fill_index_serial
    bitmaps, sparse_rows = fill(
        codes, offsets, dense_slot, sparse_start, int(dense.sum()), int(sparse_start[-1])
    )
    if use_pairs and len(all_counts) <= PAIRS_MAX_IDS:
        pairs = pair_counts(codes, offsets)
    else:
        pairs = np.zeros((0, 0), dtype=np.int32)
    arrays = (
        codes,
        offsets,
        attr_col,
        attr_code,
        all_counts,
        dense_slot,
        bitmaps,
        sparse_start,
        sparse_rows,
        pairs,
        codes.T,
    )
    return SupportIndex(
        arrays=arrays,
        offsets=offsets,
        counts=counts,
        exit_hits=max(int(resolution), 16),
        list_max=max(n_words // 16, 64) if list_max is None else list_max,
    )


def id_counts(
    codes: np.ndarray, offsets: np.ndarray, attribute_columns: np.ndarray, *, parallel: bool = True
) -> np.ndarray:
    """Records holding each id: every attribute, then "no attribute" in each column."""
    n_columns, n_rows = codes.shape
    counts = (attribute_counts if parallel else attribute_counts_serial)(codes, offsets)
    column_totals = np.zeros(n_columns, dtype=np.int64)
    np.add.at(column_totals, attribute_columns, counts)
    return np.concatenate([counts, n_rows - column_totals]).astype(np.int64)


def column_code(offsets: np.ndarray, attr_col: np.ndarray, a: int) -> tuple[int, int]:
    """Id ``a``'s column and code there (0 for "no attribute in the column")."""
    column = int(attr_col[a])
    return column, (a - int(offsets[column]) + 1 if a < offsets[-1] else 0)


def holders(codes: np.ndarray, offsets: np.ndarray, attr_col: np.ndarray, a: int) -> np.ndarray:
    """The records holding id ``a`` (an attribute, or "no attribute" in a column)."""
    column, code = column_code(offsets, attr_col, a)
    return np.flatnonzero(codes[column] == code)


def holding_codes(codes: np.ndarray, offsets: np.ndarray, attr_col: np.ndarray, a: int) -> np.ndarray:
    """``codes`` of the records holding id ``a``, contiguous (the rows of a node indexed on ``a``)."""
    column, code = column_code(offsets, attr_col, a)
    return holder_codes(codes, column, codes.dtype.type(code))


def group_by(first: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """``(id, positions)`` for each id >= 0 in ``first``, ids ascending, positions ascending."""
    order = np.argsort(first, kind="stable")
    ids, starts = np.unique(first[order], return_index=True)
    ends = np.append(starts[1:], len(order))
    return [
        (int(a), np.ascontiguousarray(order[lo:hi], dtype=np.int64))
        for a, lo, hi in zip(ids, starts, ends)
        if a >= 0
    ]


def protected_counts(counts: np.ndarray, resolution: int) -> np.ndarray:
    """``floor(count / k) * k`` per attribute (0 for attributes rarer than k)."""
    return round_down(counts, resolution)


def synthetic_counts(out: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Count of every attribute id in synthetic codes ``(n_columns, n_records)``."""
    return attribute_counts(np.ascontiguousarray(out), offsets)


def worker_count(n_partitions: int) -> int:
    """Threads worth starting for ``n_partitions`` partitions."""
    return max(1, min(numba.get_num_threads(), n_partitions))


def split_counts(counts: np.ndarray, n_parts: int, part: int) -> np.ndarray:
    """Share ``part`` of ``n_parts`` of every count; the shares sum to the counts exactly."""
    return (counts * (part + 1)) // n_parts - (counts * part) // n_parts


def run_parallel(
    job: Callable[[Any], T],
    items: Sequence[Any],
    done: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> list[T]:
    """``[job(item) for item in items]``, on Numba's thread count, results in order.

    Jobs call serial ``nogil`` kernels, so they run in parallel on plain threads
    (a busy machine does not stall the others at a barrier), and the results
    do not depend on the number of threads. ``done(i)`` is called on the
    calling thread as item ``i`` finishes (for a progress bar).

    When the caller leaves early (Ctrl-C, SIGTERM, a job's error), the items
    not started are dropped and ``stop`` is set: long jobs look at it between
    pieces of their work and return, so the process can end at once (it waits
    for its threads).
    """
    n_workers = worker_count(len(items))
    if n_workers == 1:
        results = []
        for i, item in enumerate(items):
            results.append(job(item))
            if done is not None:
                done(i)
        return results
    pool = ThreadPoolExecutor(max_workers=n_workers)
    try:
        futures = {pool.submit(job, item): i for i, item in enumerate(items)}
        for future in as_completed(futures):
            future.result()
            if done is not None:
                done(futures[future])
        return [future.result() for future in futures]
    except BaseException:
        if stop is not None:
            stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)


class Tally:
    """Work units done out of ``total``, reported to ``progress(done, total)`` (None: not reported)."""

    def __init__(self, progress: Callable[[int, int], None] | None, total: int) -> None:
        self.progress = progress
        self.total = max(int(total), 1)
        self.done = 0

    def at(self, done: int) -> None:
        """``done`` units are done (never more than ``total``)."""
        self.done = min(int(done), self.total)
        if self.progress is not None:
            self.progress(self.done, self.total)

    def add(self, units: int) -> None:
        """``units`` more are done."""
        self.at(self.done + units)


def group_index(
    codes: np.ndarray,
    offsets: np.ndarray,
    attribute_columns: np.ndarray,
    attr_col: np.ndarray,
    a: int,
    k: int,
    *,
    parallel: bool = False,
) -> SupportIndex:
    """Index of the records holding id ``a`` (built on the calling thread unless ``parallel``)."""
    rows = holding_codes(codes, offsets, attr_col, a)
    return index_codes(rows, offsets, attribute_columns, k, use_pairs=False, parallel=parallel)


def pool_order(pool: np.ndarray) -> np.ndarray:
    """The pooled attributes in the order their records are grown: smallest pool first.

    Records started early draw from a full pool, so rare attributes go first:
    their records find partners, and the common ones, started last, are the
    ones left with fewer (1M generated records: 61 % of 1-3 combinations
    preserved against 58 % largest first).
    """
    ids = np.flatnonzero(pool > 0)
    return ids[np.argsort(pool[ids], kind="stable")]


def _grow_pool_chunk(
    node: SupportIndex, on_first: bool, a: int, share: int, k: int, pool, seed_rows: np.ndarray, rules, chunk
) -> np.ndarray:
    rule = Rule(k, node.exit_hits, node.list_max)
    return pool_records(
        node.arrays, on_first, rule, a, pool, chunk[0], chunk[1], share, POOL_TRIES, seed_rows, rules
    )


def grow_pool(
    index: SupportIndex,
    pool: np.ndarray,
    resolution: int,
    rng: np.random.Generator,
    *,
    seeded: bool = True,
    rules: Rules | None = None,
    report: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Records that hold exactly the pooled occurrences (see ``pool_records``).

    The pool is split into fixed partitions of about ``POOL_PARTITION``
    occurrences, each with its own random stream. Pooled attributes take
    turns (:func:`pool_order`), in ``POOL_ROUNDS`` rounds; in ``a``'s turn of
    round ``r`` (of ``R``) every partition grows ``1 / (R - r)`` of the
    records still to start from ``a`` (all of them in the last round), so
    records of every attribute are started while the pool is still full.
    They are grown on one index of the sensitive records holding ``a``, so
    tests scan those records only and one such index is in memory at a time
    (unless it would leave out fewer than ``POOL_GROUP_SAVING`` records: then
    on the whole table's index, which gives the same records). Partitions run
    in parallel, in fixed chunks, so the records depend on the seed only.
    With ``seeded``, each record also draws a sensitive record holding ``a``
    and offers its values first (see ``pool_records``). A value that would
    complete a declared constraint (``rules``) is refused like a failed k-test.
    ``report(placed, total)`` follows the occurrences placed, turn by turn.
    """
    rules = no_rules() if rules is None else rules
    total = int(pool.sum())
    n_parts = max(1, -(-total // POOL_PARTITION))
    states = seeded_states(stream_seeds(rng, n_parts))
    remaining = np.stack([split_counts(pool, n_parts, part) for part in range(n_parts)])
    trees = pool_trees(remaining)
    pool_state = Pool(remaining, trees, states)
    codes, offsets, attr_col = index.arrays[0], index.offsets, index.arrays[2]
    columns = attr_col[: len(index.counts)]
    chunks = [(lo, min(lo + POOL_CHUNK, n_parts)) for lo in range(0, n_parts, POOL_CHUNK)]
    grown = []
    turns = [(a, share) for share in range(POOL_ROUNDS, 0, -1) for a in pool_order(pool)]
    for a, share in turns:
        if not remaining[:, a].any():
            continue
        on_first = codes.shape[1] - index.counts[a] >= POOL_GROUP_SAVING
        node = index
        if on_first:
            node = group_index(codes, offsets, columns, attr_col, int(a), resolution, parallel=True)
        if not seeded:
            seed_rows = np.zeros(0, dtype=np.int64)
        elif on_first:
            seed_rows = np.arange(node.arrays[0].shape[1], dtype=np.int64)
        else:
            seed_rows = holders(codes, offsets, attr_col, int(a)).astype(np.int64)
        grow = partial(
            _grow_pool_chunk, node, on_first, int(a), share, resolution, pool_state, seed_rows, rules
        )
        grown.extend(run_parallel(grow, chunks))
        if report is not None:
            report(total - int(remaining.sum()), total)
    return np.concatenate(grown, axis=1)


def consolidate(
    index: SupportIndex,
    out: np.ndarray,
    resolution: int,
    rng: np.random.Generator,
    *,
    seeded_pool: bool = True,
    rules: Rules | None = None,
    report: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Make every attribute's count in ``out`` equal its protected count.

    Surplus occurrences are blanked in randomly chosen records; missing ones
    form a pool grown into new records (:func:`grow_pool`, which calls
    ``report``), appended after ``out``'s records.
    """
    target = protected_counts(index.counts, resolution)
    have = synthetic_counts(out, index.offsets)
    excess = np.maximum(have - target, 0)
    pool = np.maximum(target - have, 0)
    column_seeds = stream_seeds(rng, out.shape[0])
    if excess.any():
        out = suppress_excess(out, index.offsets, excess, column_seeds)
    if not pool.any():
        return out
    return np.concatenate(
        [out, grow_pool(index, pool, resolution, rng, seeded=seeded_pool, rules=rules, report=report)], axis=1
    )
