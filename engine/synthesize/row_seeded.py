"""Row-seeded synthesis under k-anonymity (SPEC §3, ``row_seeded``).

1. Every sensitive record seeds one synthetic record: its attributes are taken
   in random order, and each is kept if the record built so far, with it, is
   still shared by at least ``k`` sensitive records (support over the whole
   combination, whatever its length).
2. Consolidation: for every attribute, what is missing from its protected
   count ``floor(count / k) * k`` (the attributes left out in step 1, less the
   rounding) forms a pool; further records are grown from the pool by the same
   rule until the pool is empty. Each starts from a pooled attribute ``a`` and
   draws a sensitive record holding ``a``; column by column, in random order,
   that record's own value is offered first (when some of it is pooled), then
   one value drawn in proportion to what is left. Seeding from sensitive
   records keeps co-occurring values together, so pool records are longer and
   fewer (NIST national2019, k = 10: 2.14 records per input against 2.40 with
   pool draws only, ``seeded_pool=False``). Occurrences above the protected count (at most
   ``count mod k`` per attribute) are blanked in randomly chosen records.

Guarantees: every synthetic record's combination, hence every sub-combination,
occurs >= k times in the sensitive data; every attribute's synthetic count
equals its protected count exactly (attributes rarer than k never appear). The
first ``n_rows`` synthetic records correspond to the sensitive records in order
(a record may be empty), the pool's records follow: :func:`~showcase.engine.synthesize.synthesize`
shuffles them before anything is written, so that no record's place links it to a row of the input.

Cost: step 1 makes one support test per sensitive attribute. Records are
grouped by the first attribute of their order (always kept) and grown on an
index of the ``m`` records holding it. Within a group, the support of the
kept prefix plus any one attribute is a count over those ``m`` records, so
every record's next kept attribute is read off the counts; records sharing it
form a subgroup that goes on from the fewer records holding both (and so on,
one level per kept attribute) while the subgroup has enough records to pay
for indexing them (``SPLIT_COST``); the other records are grown on their
node's index. The second kept attribute comes from the pair counts before
any node is built, so the records that keep ``a`` then ``b`` and those that
keep ``b`` then ``a`` form one subgroup (:func:`pair_plan`). On a node, a
test reads a few bitmap words while the combination is common, about two
bitmaps' worth of words once it is rare, and one code per record once the
support set is listed (from about ``node_rows / 1024`` records down). A
record's tests cost about in proportion to its node's records, so step 1
stays above linear (records x node size), with nodes a fraction of
``n_rows``. The pool's records are grown the same way: pooled
attributes take turns, smallest pool first, and the records starting from
``a`` are grown on one index of the records holding ``a`` (see
:func:`~showcase.engine.synthesize.consolidate.grow_pool`). Groups and pool
partitions run in parallel; each record (and each pool partition)
has its own random stream, so the output depends on the seed only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from ..constraints import Constraint, encode
from ..encode import EncodedTable
from ..kernels.constraints import Rules, no_rules
from ..kernels.row_synthesis import (
    MAX_DRAWN_COLUMNS,
    Orders,
    Rule,
    drawn_orders,
    first_ids,
    grow_records,
    next_kept,
    no_drawn,
)
from ..protect import validate_resolution
from ..randomness import stream_seeds
from .consolidate import (
    PARTITION_SIZE,
    SupportIndex,
    Tally,
    consolidate,
    group_by,
    holding_codes,
    id_counts,
    index_codes,
    run_parallel,
    support_index,
)

#: Records that share a kept prefix and the same next kept attribute ``b`` go on
#: from the sensitive records holding the prefix and ``b`` (one level deeper)
#: when ``n_records * (node_rows - rows_b) >= SPLIT_COST * rows_b``: indexing
#: the ``rows_b`` records costs about as much per row as the records save per
#: row left out (measured on generated case data, two threads: 1000 and 2000 tie
#: within 6 % at 3M, 2000 takes 2.5 % longer at 10M, 4000 15 % longer at 3M and
#: 500 15 % longer at 1M).
SPLIT_COST = 1000
#: Records grown per kernel call on a node: between calls a group looks whether the job is being
#: left (Ctrl-C, SIGTERM), so that it stops within a fraction of a second even on a 10M-row node.
GROW_CHUNK = 4096


def row_seeded(
    table: EncodedTable,
    *,
    resolution: int,
    rng: np.random.Generator,
    seeded_pool: bool = True,
    constraints: Sequence[Constraint] = (),
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Synthetic codes ``(n_columns, n_synthetic)``, same dtype and meaning as ``table.codes``.

    ``resolution`` is k; all randomness comes from ``rng`` (same seed, same
    output, whatever the number of threads). ``seeded_pool=False`` grows the
    pool's records from pool draws only (the former pool: more, shorter
    records; see :func:`~showcase.engine.synthesize.consolidate.grow_pool`). An attribute that would
    complete one of ``constraints`` is refused like a failed k-test.
    ``progress(done, total)`` follows the work: the first pass's records are
    the first half, the pool's occurrences the second (they take about as long).
    """
    k = validate_resolution(resolution)
    index = support_index(table, k)
    n_parts = max(1, -(-table.n_rows // PARTITION_SIZE))
    seeds = stream_seeds(rng, n_parts)
    rules = encode(constraints, table.schema)
    half = max(table.n_rows, 1)
    tally = Tally(progress, 2 * half)
    out = first_pass(table, index, k, seeds, rules=rules, done=tally.add)
    tally.at(half)

    def pooled(placed: int, total: int) -> None:
        tally.at(half + half * placed // max(total, 1))

    out = consolidate(index, out, k, rng, seeded_pool=seeded_pool, rules=rules, report=pooled)
    tally.at(2 * half)
    return np.ascontiguousarray(out)


def first_pass(
    table: EncodedTable,
    index: SupportIndex,
    k: int,
    seeds: np.ndarray,
    *,
    split_cost: float = SPLIT_COST,
    rules: Rules | None = None,
    done: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Step 1: every sensitive record's attributes in random order, kept while support >= k.

    The same records as :func:`~showcase.engine.kernels.row_synthesis.row_seeded_records`
    (each record has its own random stream), computed faster: records are
    grouped by the first attribute of their order, which is always kept, and
    each group is grown from just the sensitive records holding that
    attribute, split further by the next kept attribute while that pays (see
    :func:`grow_prefix`). The second kept attribute is read off the pair
    counts, so records that keep the same two attributes in either order go
    on together, from one node (see :func:`pair_plan`). Groups run in
    parallel; each writes its own records. ``split_cost`` tunes the splits
    (0 splits every group, for tests). ``done(n)`` is told each time a group
    of ``n`` records is finished.
    """
    codes, offsets, attr_col, _, counts = index.arrays[:5]
    pairs = index.arrays[9]
    rules = no_rules() if rules is None else rules
    orders = Orders(codes, offsets, counts, k, seeds, PARTITION_SIZE, no_drawn())
    if codes.shape[0] <= MAX_DRAWN_COLUMNS:
        # Drawn once and read back at every level (one byte per column and record).
        drawn, first = drawn_orders(orders, table.n_rows)
        orders = orders._replace(drawn=drawn)
    else:
        first = first_ids(orders, table.n_rows, False)
    out = np.zeros_like(codes)
    columns = table.schema.attribute_columns
    stop = threading.Event()

    def grow_prefix(node_codes: np.ndarray, records: np.ndarray, positions: np.ndarray) -> None:
        """Grow ``records``, which share a kept prefix held by the sensitive records ``node_codes``.

        Record ``i``'s prefix ends at position ``positions[i]`` of its order.
        The support of the prefix plus any one attribute is a count over
        ``node_codes``, so every record's next kept attribute is read off the
        counts; records are grouped by it. A group worth it (``SPLIT_COST``)
        goes on from the sensitive records holding its longer prefix (one more
        level); the other records are grown on an index of ``node_codes``.
        """
        if stop.is_set():
            return
        node_rows = node_codes.shape[1]
        node_counts = id_counts(node_codes, offsets, columns, parallel=False)
        kept, places = next_kept(node_counts, orders, attr_col, records, positions, out, rules)
        rest = []
        for b, members in group_by(kept):
            if len(members) * (node_rows - node_counts[b]) >= split_cost * node_counts[b]:
                child = holding_codes(node_codes, offsets, attr_col, b)
                grow_prefix(child, records[members], places[members])
            else:
                rest.append(members)
        if rest:
            members = np.sort(np.concatenate(rest))
            finish(node_codes, records[members], places[members], node_counts)

    def finish(node_codes: np.ndarray, records: np.ndarray, places: np.ndarray, node_counts) -> None:
        """Grow ``records`` on an index of ``node_codes``, which hold their kept prefix less its last
        attribute (at position ``places[i]`` of record ``i``'s order)."""
        node = index_codes(
            node_codes, offsets, columns, k, use_pairs=False, parallel=False, all_counts=node_counts
        )
        rule = Rule(k, node.exit_hits, node.list_max)
        for lo in range(0, len(records), GROW_CHUNK):
            if stop.is_set():
                return
            part = slice(lo, lo + GROW_CHUNK)
            grow_records(node.arrays, orders, rule, records[part], places[part], True, out, rules)

    starts = np.flatnonzero(first >= 0)
    first_columns = attr_col[first[starts]]
    out[first_columns, starts] = codes[first_columns, starts]
    if pairs.shape[0] == 0:  # too many ids to count pairs: the second attribute on each node

        def grow(item: tuple[int, np.ndarray]) -> None:
            a, records = item
            grow_prefix(holding_codes(codes, offsets, attr_col, a), records, np.zeros(len(records), np.int64))

        # Largest groups first, so that the threads finish together.
        groups = sorted(group_by(first), key=lambda item: -int(counts[item[0]]))
        finished = None if done is None else (lambda i: done(len(groups[i][1])))
        run_parallel(grow, groups, finished, stop)
        return out

    second = np.full(table.n_rows, -1, dtype=np.int32)
    place = np.zeros(table.n_rows, dtype=np.int32)

    def first_node_counts(a: int) -> np.ndarray:
        """:func:`id_counts` of ``a``'s holders: ``a``'s pair counts (each the support of ``a`` and
        one more id, exactly), and ``a``'s own count."""
        row = pairs[a].astype(np.int64)
        row[a] = counts[a]
        return row

    def seconds(item: tuple[int, np.ndarray]) -> None:
        a, records = item
        start = np.zeros(len(records), np.int64)
        kept, places = next_kept(first_node_counts(a), orders, attr_col, records, start, out, rules)
        second[records] = kept
        place[records] = places

    run_parallel(seconds, group_by(first), None, stop)
    plan = pair_plan(first, second, counts, pairs, split_cost)

    def grow_pairs(item: tuple[int, np.ndarray, list[tuple[int, np.ndarray]]]) -> None:
        a, rest, children = item
        node_codes = holding_codes(codes, offsets, attr_col, a)
        for b, records in children:
            if stop.is_set():
                return
            child = holding_codes(node_codes, offsets, attr_col, b)
            grow_prefix(child, records, place[records].astype(np.int64))
        if len(rest):
            finish(node_codes, rest, place[rest].astype(np.int64), first_node_counts(a))

    # Most work first (records times the rows they are grown on), so that the threads finish together.
    plan.sort(key=lambda item: -plan_work(item, counts, pairs))
    finished = None if done is None else (lambda i: done(plan_size(plan[i])))
    run_parallel(grow_pairs, plan, finished, stop)
    return out


def plan_size(item: tuple[int, np.ndarray, list[tuple[int, np.ndarray]]]) -> int:
    """Records in one group of :func:`pair_plan`."""
    return len(item[1]) + sum(len(records) for _, records in item[2])


def plan_work(item: tuple[int, np.ndarray, list[tuple[int, np.ndarray]]], counts, pairs) -> int:
    """About how much work one group of :func:`pair_plan` is: its records times their node's rows."""
    a, rest, children = item
    return len(rest) * int(counts[a]) + sum(len(records) * int(pairs[a, b]) for b, records in children)


def pair_plan(
    first: np.ndarray, second: np.ndarray, counts: np.ndarray, pairs: np.ndarray, split_cost: float
) -> list[tuple[int, np.ndarray, list[tuple[int, np.ndarray]]]]:
    """Which node grows each record, from its first two kept attributes ``first`` and ``second``.

    Records that keep ``a`` then ``b`` and records that keep ``b`` then
    ``a`` share the kept set ``{a, b}``, held by ``pairs[a, b]`` sensitive
    records. The pair goes on as one child node when the rows its records
    leave out of their first attribute's node pay for indexing it
    (``sum(counts[first] - pairs[a, b]) >= split_cost * pairs[a, b]``); it is
    built from the smaller of the two nodes. Returns, per first-level node
    ``a``: the records to finish on ``a``'s node (second kept attribute added
    first), and its children ``(b, records)``, records ascending. Records that
    keep one attribute only are done.
    """
    n_ids = pairs.shape[0]
    both = np.flatnonzero(second >= 0).astype(np.int32)
    if len(both) == 0:
        return []
    # Kept in 32 bits and freed as soon as read: at 10M records every array here is 40 MB.
    a, b = first[both].astype(np.int32), second[both].astype(np.int32)
    low, high = np.minimum(a, b), np.maximum(a, b)
    pair = low.astype(np.int64) * n_ids + high
    saving = (counts[a] - pairs[a, b]).astype(np.float64)
    saving = np.bincount(pair, weights=saving, minlength=n_ids * n_ids).reshape(n_ids, n_ids)
    del pair
    split = (saving >= split_cost * pairs)[low, high]
    del saving
    owner = np.where(counts[low] <= counts[high], low, high)
    del low, high
    # Each record: the node that grows it, and the child it goes on from (-1: finished on the node).
    node = np.where(split, owner, a)
    child = np.where(split, np.where(owner == a, b, a), np.int32(-1))
    del a, b, owner, split
    # Records stay ascending within a node and child (a stable sort of ascending records).
    order = np.argsort(node.astype(np.int64) * (n_ids + 1) + child + 1, kind="stable")
    node, child, records = node[order], child[order], both[order].astype(np.int64)
    del order, both
    plan = []
    bounds = np.flatnonzero(np.diff(node)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(node)]):
        kids = child[lo:hi]
        edges = np.flatnonzero(np.diff(kids)) + 1
        rest = np.zeros(0, dtype=np.int64)
        children = []
        for clo, chi in zip(np.r_[0, edges], np.r_[edges, len(kids)]):
            group = np.ascontiguousarray(records[lo + clo : lo + chi])
            if kids[clo] < 0:
                rest = group
            else:
                children.append((int(kids[clo]), group))
        plan.append((int(node[lo]), rest, children))
    return plan
