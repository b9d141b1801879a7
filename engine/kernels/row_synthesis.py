"""Sampling kernels of the k-anonymous synthesis modes that read sensitive records.

Every kernel keeps one rule: an attribute joins a synthetic record only if the
record's combination, with it, is shared by at least ``k`` sensitive records
(tested with :mod:`.support`). So every synthetic record, and every
sub-combination of it, occurs at least ``k`` times in the sensitive data.

Randomness comes from the streams of :mod:`.rng`, one per fixed partition of
the work (and one per record within it), each seeded with a uint64 that the
caller drew from its ``numpy.random.Generator``. Outputs depend on the seed and
on how the work is partitioned, never on the number of threads.

``index`` is the support index tuple of :mod:`.support`; a :data:`Rule` holds
k and the tuning of its tests, :data:`Orders` what a record's random order is
drawn from. Synthetic records are written as codes with the meaning of the
sensitive codes (0 = no attribute).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit, prange

from ..config import BORROW_JIT, JIT, PARALLEL_JIT
from .constraints import violates_with
from .rng import below, seed_state, shuffle, substream_seed
from .support import (
    MODE_ALL,
    MODE_BITMAP,
    S_DENSE,
    S_LISTED,
    S_MODE,
    materialize,
    new_work,
    reset,
    try_add,
)

#: How every record's random order is drawn (:func:`record_order`): the whole table's
#: ``codes``, ``offsets`` and id ``counts``, the resolution ``k``, and the partition
#: seeds ``seeds`` (record r's partition is ``r // partition_size``). ``drawn`` holds the
#: orders already drawn (:func:`drawn_orders`), or is empty (shape ``(0, 0)``, see :func:`no_drawn`).
Orders = namedtuple("Orders", ["codes", "offsets", "counts", "k", "seeds", "partition_size", "drawn"])
#: Tables of this many columns or fewer keep their drawn orders (a column index per byte).
MAX_DRAWN_COLUMNS = 255
#: How an id is tested (:func:`~.support.try_add`): the resolution ``k`` and the index's tuning.
#: The kernels that grow records also take the declared constraints ``rules`` (:mod:`.constraints`):
#: an attribute that would complete one is refused like a failed k-test.
Rule = namedtuple("Rule", ["k", "exit_hits", "list_max"])
#: A pool's partitions: ``remaining[p]`` occurrences still to place, their Fenwick
#: ``trees[p]`` and random ``states[p]`` (see :func:`pool_records`).
Pool = namedtuple("Pool", ["remaining", "trees", "states"])


@njit(**BORROW_JIT)
def _add(index, work, b, rule):
    """:func:`~.support.try_add` under ``rule``."""
    return try_add(index, work, b, rule.k, rule.exit_hits, rule.list_max)


# --- weighted sampling with a Fenwick tree -----------------------------------------------------


@njit(**JIT)
def fenwick_build(weights):
    """Fenwick tree (1-based inside) over non-negative int64 weights."""
    n = weights.shape[0]
    tree = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        tree[i + 1] += weights[i]
        parent = (i + 1) + ((i + 1) & -(i + 1))
        if parent <= n:
            tree[parent] += tree[i + 1]
    return tree


@njit(**BORROW_JIT)
def fenwick_add(tree, i, delta):
    """Add ``delta`` to weight ``i``."""
    j = i + 1
    n = tree.shape[0] - 1
    while j <= n:
        tree[j] += delta
        j += j & -j


@njit(**BORROW_JIT)
def fenwick_prefix(tree, i):
    """Sum of weights ``[0, i)``."""
    total = 0
    j = i
    while j > 0:
        total += tree[j]
        j -= j & -j
    return total


@njit(**BORROW_JIT)
def fenwick_find(tree, target):
    """Smallest index whose inclusive prefix sum exceeds ``target`` (``0 <= target < total``)."""
    n = tree.shape[0] - 1
    position = 0
    step = 1
    while step * 2 <= n:
        step *= 2
    while step > 0:
        nxt = position + step
        if nxt <= n and tree[nxt] <= target:
            position = nxt
            target -= tree[nxt]
        step //= 2
    return position


# --- shared pieces ------------------------------------------------------------------------------

#: Draws from the bitmaps before a support set is listed instead (mode 1 sampling).
_MEMBER_DRAWS = 4096


@njit(**BORROW_JIT)
def random_member(index, work, rng):
    """A uniformly random record of the current support set.

    In mode 1 records are drawn until one is in every selected bitmap (the
    support is then a sizeable share of all records); after ``_MEMBER_DRAWS``
    misses the support set is listed and drawn from.
    """
    n_rows = index[0].shape[1]
    bitmaps = index[6]
    state, dense_selected, rows = work[0], work[2], work[3]
    mode = state[S_MODE]
    if mode == MODE_ALL:
        return below(rng, n_rows)
    if mode == MODE_BITMAP:
        n_dense = state[S_DENSE]
        for _ in range(_MEMBER_DRAWS):
            r = below(rng, n_rows)
            word = r >> 6
            bit = np.uint64(1) << np.uint64(r & 63)
            ok = True
            for j in range(n_dense):
                if bitmaps[dense_selected[j], word] & bit == 0:
                    ok = False
                    break
            if ok:
                return r
        materialize(bitmaps, work)
    return np.int64(rows[below(rng, state[S_LISTED])])


@njit(**JIT)
def _grow(out, n_records):
    """``out`` with room for at least ``n_records`` records (doubling)."""
    if n_records <= out.shape[1]:
        return out
    bigger = np.zeros((out.shape[0], max(n_records, 2 * out.shape[1])), dtype=out.dtype)
    bigger[:, : out.shape[1]] = out
    return bigger


# --- row-seeded -------------------------------------------------------------------------------


@njit(**BORROW_JIT)
def record_order(codes, offsets, counts, k, r, rng, columns):
    """The columns of record ``r``'s attributes with count >= ``k``, shuffled into ``columns``;
    returns how many (:func:`as_ids` turns them into the attributes' ids)."""
    n = 0
    for c in range(codes.shape[0]):
        v = np.int64(codes[c, r])
        if v > 0 and counts[offsets[c] + v - 1] >= k:
            columns[n] = c
            n += 1
    shuffle(rng, columns, n)
    return n


@njit(**BORROW_JIT)
def as_ids(codes, offsets, r, order, n):
    """Record ``r``'s attribute ids in the columns ``order[:n]``, in place."""
    for i in range(n):
        c = np.int64(order[i])
        order[i] = offsets[c] + np.int64(codes[c, r]) - 1


@njit(**BORROW_JIT)
def _stream_order(orders, r, rng, columns):
    """:func:`record_order` of record ``r`` from its own stream (seeded into ``rng``)."""
    seed_state(rng, substream_seed(orders.seeds[r // orders.partition_size], r))
    return record_order(orders.codes, orders.offsets, orders.counts, orders.k, r, rng, columns)


@njit(**BORROW_JIT)
def draw_order(orders, r, rng, candidates):
    """Record ``r``'s attribute ids in its random order, into ``candidates``; returns how many.

    Drawn from the record's own stream, or read from ``orders.drawn`` when it
    holds them (the same order)."""
    drawn = orders.drawn
    if r < drawn.shape[0]:
        n = np.int64(drawn[r, 0])
        for i in range(n):
            candidates[i] = drawn[r, i + 1]
    else:
        n = _stream_order(orders, r, rng, candidates)
    as_ids(orders.codes, orders.offsets, r, candidates, n)
    return n


def no_drawn() -> np.ndarray:
    """The empty ``Orders.drawn``: every order is drawn from its stream when needed."""
    return np.zeros((0, 0), dtype=np.uint8)


@njit(**PARALLEL_JIT)
def drawn_orders(orders, n_records):
    """Every record's order, drawn once from its stream, and the first id each keeps.

    Row ``r`` of the first array holds the number of candidates, then their
    columns in order (one byte each: at most 255 columns), for
    ``Orders.drawn``: a record's order is then read back, not drawn again, at
    each level of the first pass. The second array is :func:`first_ids`.
    """
    n_columns = orders.codes.shape[0]
    drawn = np.zeros((n_records, n_columns + 1), dtype=np.uint8)
    first = np.full(n_records, -1, dtype=np.int64)
    partition_size = orders.partition_size
    for p in prange(orders.seeds.shape[0]):
        rng = np.empty(4, dtype=np.uint64)
        columns = np.empty(n_columns, dtype=np.int64)
        for r in range(p * partition_size, min(n_records, (p + 1) * partition_size)):
            n = _stream_order(orders, r, rng, columns)
            drawn[r, 0] = n
            for i in range(n):
                drawn[r, i + 1] = columns[i]
            if n > 0:
                as_ids(orders.codes, orders.offsets, r, columns, 1)
                first[r] = columns[0]
    return drawn, first


@njit(**PARALLEL_JIT)
def row_seeded_records(index, rule, seeds, partition_size, n_workers, rules):
    """One synthetic record per sensitive record: its attributes in random order, each kept
    if the record's support stays >= ``k``.

    Record ``r`` draws its order from its own stream (:func:`draw_order`, from
    its partition's seed ``seeds[r // partition_size]``), so any grouping of the
    work gives the same records. Returns codes shaped like the sensitive
    codes, 0 where an attribute was left out. This is the plain form, on the
    whole table's index; :func:`first_ids`, :func:`next_kept` and
    :func:`grow_records` give the same records faster, and tests hold them to this one.
    """
    codes, offsets, attr_col, counts = index[0], index[1], index[2], index[4]
    n_columns, n_rows = codes.shape
    n_parts = seeds.shape[0]
    out = np.zeros_like(codes)
    k = rule.k
    for w in prange(n_workers):
        orders = Orders(codes, offsets, counts, k, seeds, partition_size, np.zeros((0, 0), dtype=np.uint8))
        rng = np.empty(4, dtype=np.uint64)
        work = new_work(n_columns, n_rows)
        candidates = np.empty(n_columns, dtype=np.int64)
        for p in range(w, n_parts, n_workers):
            for r in range(p * partition_size, min(n_rows, (p + 1) * partition_size)):
                n = draw_order(orders, r, rng, candidates)
                reset(work)
                for i in range(n):
                    b = candidates[i]
                    c = attr_col[b]
                    if not violates_with(out[:, r], c, codes[c, r], rules) and _add(index, work, b, rule):
                        out[c, r] = codes[c, r]
    return out


@njit(**PARALLEL_JIT)
def first_ids(orders, n_records, unseeded):
    """The first id every record keeps, -1 when it keeps none.

    Row-seeded records (one per sensitive record): the first attribute of the
    record's random order (:func:`draw_order`), which is always kept (its count
    is >= k), so records can be grouped by it and grown on the records holding
    it (:func:`next_kept`, :func:`grow_records`). With ``unseeded``: the id of
    each unseeded record's start (:func:`replay_start`).
    """
    n_columns = orders.codes.shape[0]
    partition_size = orders.partition_size
    first = np.full(n_records, -1, dtype=np.int64)
    for p in prange(orders.seeds.shape[0]):
        rng = np.empty(4, dtype=np.uint64)
        scratch = np.empty(n_columns, dtype=np.int64)
        for r in range(p * partition_size, min(n_records, (p + 1) * partition_size)):
            if unseeded:
                first[r] = replay_start(orders, r, rng, scratch)[1]
            elif draw_order(orders, r, rng, scratch) > 0:
                first[r] = scratch[0]
    return first


@njit(**JIT)
def next_kept(node_counts, orders, attr_col, records, positions, out, rules):
    """Every record's next kept attribute, from the support counts of its kept prefix's extensions.

    The records share a kept prefix ``P`` (their attributes up to candidate
    position ``positions[i]`` of their order, as :func:`draw_order` draws
    it), and ``node_counts[b]`` is the number of sensitive records holding
    ``P`` and ``b``: the exact support of ``P + b``. So the next attribute kept
    by record ``i`` is its first candidate after ``positions[i]`` with
    ``node_counts >= k``, found without a support scan. It is written into
    ``out``; returns it and its position (-1, -1 where none is left).
    """
    codes = orders.codes
    n_records = records.shape[0]
    attributes = np.full(n_records, -1, dtype=np.int64)
    places = np.full(n_records, -1, dtype=np.int64)
    rng = np.empty(4, dtype=np.uint64)
    candidates = np.empty(codes.shape[0], dtype=np.int64)
    for i in range(n_records):
        r = records[i]
        n = draw_order(orders, r, rng, candidates)
        for j in range(positions[i] + 1, n):
            b = candidates[j]
            c = attr_col[b]
            if node_counts[b] >= orders.k and not violates_with(out[:, r], c, codes[c, r], rules):
                out[c, r] = codes[c, r]
                attributes[i] = b
                places[i] = j
                break
    return attributes, places


@njit(**JIT)
def grow_records(node_index, orders, rule, records, positions, add_last, out, rules):
    """Finish records on the index of the sensitive records holding their kept prefix.

    Record ``i`` has kept its attributes up to candidate position
    ``positions[i]`` of its order (drawn again exactly as
    :func:`row_seeded_records` draws it); ``node_index`` indexes the sensitive
    records holding that prefix, or, with ``add_last``, the prefix less its
    last attribute, which is then added first (its support there is >= k).
    Every later candidate is kept if the support stays >= ``k``. Kept
    attributes are written into ``out``.
    """
    codes = orders.codes
    n_columns = codes.shape[0]
    attr_col = node_index[2]
    rng = np.empty(4, dtype=np.uint64)
    work = new_work(n_columns, node_index[0].shape[1])
    candidates = np.empty(n_columns, dtype=np.int64)
    for i in range(records.shape[0]):
        r = records[i]
        n = draw_order(orders, r, rng, candidates)
        start = positions[i]
        a = candidates[start]
        out[attr_col[a], r] = codes[attr_col[a], r]
        reset(work)
        if add_last:
            _add(node_index, work, a, rule)  # always fits: chosen on the node's counts
        for j in range(start + 1, n):
            b = candidates[j]
            c = attr_col[b]
            if not violates_with(out[:, r], c, codes[c, r], rules) and _add(node_index, work, b, rule):
                out[c, r] = codes[c, r]


@njit(**JIT)
def pool_trees(remaining):
    """A Fenwick tree over every pool partition's remaining occurrences."""
    trees = np.empty((remaining.shape[0], remaining.shape[1] + 1), dtype=np.int64)
    for p in range(remaining.shape[0]):
        trees[p] = fenwick_build(remaining[p])
    return trees


@njit(**JIT)
def pool_records(node, on_first, rule, first, pool, lo, hi, share, tries, holders, rules):
    """The pool records that start from attribute ``first``, in pool partitions ``lo .. hi - 1``.

    Partition ``p`` of the :data:`Pool` owns ``remaining[p]`` (how many more
    times each attribute must appear; every pooled attribute has count >=
    ``k``), the Fenwick tree ``trees[p]`` over it and the random state
    ``states[p]``; all three are updated in place. A record starts from ``first``; then, column by column
    in random order, a value of that column is drawn in proportion to what is
    left and kept if the support stays >= ``k``; a column gets up to ``tries``
    draws of distinct values. Each partition starts ``ceil(left / share)`` such
    records (``share`` <= 1: until no ``first`` is left), fewer if other
    records take up the rest of its ``first``.

    With ``on_first``, ``node`` indexes the sensitive records holding
    ``first`` (every support there includes it, over far fewer records);
    otherwise it indexes every record and ``first`` is added to each record's
    combination first. Both give the same records. Returns codes
    ``(n_columns, n_records)``, partition by partition.

    Seeded records (``holders`` not empty: the node's records holding
    ``first``, in ascending order): each record also draws one sensitive
    record ``s`` of ``holders`` and, in each column, first offers ``s``'s own
    value (when some of it is left) before drawing from the pool. Values that
    occur together in the data then go together, so records grow longer and
    fewer are needed (SPEC: the pool builds records "the same way" as the
    sensitive records seed theirs).
    """
    codes, offsets, attr_col, attr_code = node[0], node[1], node[2], node[3]
    n_columns = codes.shape[0]
    work = new_work(n_columns, codes.shape[1])
    order = np.arange(n_columns)
    hidden = np.empty(max(tries, 1), dtype=np.int64)
    out = np.zeros((n_columns, 1024), dtype=codes.dtype)
    n_records = 0
    for p in range(lo, hi):
        left, tree, rng = pool.remaining[p], pool.trees[p], pool.states[p]
        starts = left[first] if share <= 1 else -(-left[first] // share)
        for _ in range(starts):
            if left[first] == 0:
                break
            out = _grow(out, n_records + 1)
            reset(work)
            if not on_first:
                _add(node, work, first, rule)  # always fits: count >= k
            out[attr_col[first], n_records] = attr_code[first]
            left[first] -= 1
            fenwick_add(tree, first, -1)
            shuffle(rng, order, n_columns)
            seed_row = holders[below(rng, holders.shape[0])] if holders.shape[0] > 0 else -1
            for i in range(n_columns):
                c = order[i]
                if c == attr_col[first]:
                    continue
                if seed_row >= 0 and codes[c, seed_row] > 0:
                    b = offsets[c] + np.int64(codes[c, seed_row]) - 1
                    if (
                        left[b] > 0
                        and not violates_with(out[:, n_records], c, attr_code[b], rules)
                        and _add(node, work, b, rule)
                    ):
                        out[c, n_records] = attr_code[b]
                        left[b] -= 1
                        fenwick_add(tree, b, -1)
                        continue
                below_lo = fenwick_prefix(tree, offsets[c])
                mass = fenwick_prefix(tree, offsets[c + 1]) - below_lo
                n_hidden = 0
                while mass > 0 and n_hidden < tries:
                    b = fenwick_find(tree, below_lo + below(rng, mass))
                    if not violates_with(out[:, n_records], c, attr_code[b], rules) and _add(
                        node, work, b, rule
                    ):
                        out[c, n_records] = attr_code[b]
                        left[b] -= 1
                        fenwick_add(tree, b, -1)
                        break
                    # Hide the value from this column's later draws for this record.
                    fenwick_add(tree, b, -left[b])
                    mass -= left[b]
                    hidden[n_hidden] = b
                    n_hidden += 1
                for j in range(n_hidden):
                    fenwick_add(tree, hidden[j], left[hidden[j]])
            n_records += 1
    return out[:, :n_records].copy()


# --- unseeded and value-seeded -----------------------------------------------------------------


@njit(**BORROW_JIT)
def unseeded_start(codes, offsets, counts, k, rng, order):
    """The start of an unseeded record, drawn on all records.

    Shuffles the column order into ``order``, then for each column in turn draws
    a sensitive record uniformly and takes its value there (an attribute, or the
    column's absence), until one is shared by >= ``k`` records. Returns its
    position in ``order`` and its id, or ``(n_columns, -1)`` when none is.
    """
    n_columns, n_rows = codes.shape
    for c in range(n_columns):
        order[c] = c
    shuffle(rng, order, n_columns)
    for i in range(n_columns):
        c = order[i]
        v = np.int64(codes[c, below(rng, n_rows)])
        b = offsets[c] + v - 1 if v > 0 else offsets[n_columns] + c
        if counts[b] >= k:
            return i, b
    return n_columns, -1


@njit(**BORROW_JIT)
def replay_start(orders, j, rng, order):
    """:func:`unseeded_start` of unseeded record ``j`` from its own stream (seeded into ``rng``)."""
    seed_state(rng, substream_seed(orders.seeds[j // orders.partition_size], j))
    return unseeded_start(orders.codes, orders.offsets, orders.counts, orders.k, rng, order)


@njit(**JIT)
def grow_unseeded_group(group_index, orders, rule, records, out, rules):
    """Finish the unseeded records whose first kept id is the same ``a``.

    Each record replays its start (:func:`replay_start`, on the whole table),
    then visits its remaining columns in order: it draws a record uniformly
    from its support set (the records that agree with it so far, all holding
    ``a``, indexed by ``group_index``) and takes that record's value. An
    attribute is kept if the support stays >= ``k``, otherwise the column stays
    empty; an absence is kept as context (restricting the support set) when
    >= ``k`` records share it, so absences follow the data too.
    """
    offsets = orders.offsets
    n_columns = orders.codes.shape[0]
    n_attributes = offsets[n_columns]
    group_codes, attr_col, attr_code = group_index[0], group_index[2], group_index[3]
    rng = np.empty(4, dtype=np.uint64)
    work = new_work(n_columns, group_codes.shape[1])
    order = np.empty(n_columns, dtype=np.int64)
    for j in records:
        start, a = replay_start(orders, j, rng, order)
        if a < n_attributes:
            out[attr_col[a], j] = attr_code[a]
        reset(work)
        for position in range(start + 1, n_columns):
            c = order[position]
            v = np.int64(group_codes[c, random_member(group_index, work, rng)])
            if v == 0:
                _add(group_index, work, n_attributes + c, rule)
            elif not violates_with(out[:, j], c, v, rules) and _add(
                group_index, work, offsets[c] + v - 1, rule
            ):
                out[c, j] = v


@njit(**JIT)
def value_seeded_records(index, rule, budget, cap, tries, seed, rules):
    """Records seeded from attribute budgets and completed from the conditional distribution.

    While some attribute has budget left, a record starts from an attribute drawn
    in proportion to its remaining budget; the other columns are visited in
    random order and each gets a value as in :func:`grow_unseeded_group`. A drawn
    attribute already used ``cap[a]`` times is drawn again, at most ``tries``
    more times, before the column is left empty. Every use of an attribute spends
    one unit of its budget while it has any. So in the end, for every attribute,
    ``budget[a] <= uses[a] <= max(cap[a], budget[a])``.

    Serial (one partition of the budgets); returns codes ``(n_columns, n_records)``.
    """
    codes, offsets, attr_col, attr_code = index[0], index[1], index[2], index[3]
    n_columns, n_rows = codes.shape
    n_attributes = offsets[n_columns]
    remaining = budget.copy()
    used = np.zeros(budget.shape[0], dtype=np.int64)
    total = 0
    for a in range(budget.shape[0]):
        total += budget[a]
    tree = fenwick_build(remaining)
    rng = np.empty(4, dtype=np.uint64)
    seed_state(rng, seed)
    work = new_work(n_columns, n_rows)
    order = np.arange(n_columns)
    out = np.zeros((n_columns, min(max(total, 1), 1024)), dtype=codes.dtype)
    n_records = 0
    while total > 0:
        out = _grow(out, n_records + 1)
        reset(work)
        first = fenwick_find(tree, below(rng, total))
        _add(index, work, first, rule)  # always fits: count >= k
        out[attr_col[first], n_records] = attr_code[first]
        used[first] += 1
        remaining[first] -= 1
        fenwick_add(tree, first, -1)
        total -= 1
        shuffle(rng, order, n_columns)
        for i in range(n_columns):
            c = order[i]
            if c == attr_col[first]:
                continue
            left = tries
            while True:
                v = np.int64(codes[c, random_member(index, work, rng)])
                if v == 0:
                    _add(index, work, n_attributes + c, rule)
                    break
                b = offsets[c] + v - 1
                if used[b] >= cap[b]:
                    left -= 1
                    if left < 0:
                        break
                    continue
                if not violates_with(out[:, n_records], c, v, rules) and _add(index, work, b, rule):
                    out[c, n_records] = v
                    used[b] += 1
                    if remaining[b] > 0:
                        remaining[b] -= 1
                        fenwick_add(tree, b, -1)
                        total -= 1
                break
        n_records += 1
    return out[:, :n_records].copy()


# --- consolidation ------------------------------------------------------------------------------


@njit(**PARALLEL_JIT)
def suppress_excess(out, offsets, excess, seeds):
    """Blank ``excess[a]`` randomly chosen occurrences of every attribute ``a`` in ``out``.

    Columns are independent, so each has its own generator (``seeds[c]``) and
    the result does not depend on the number of threads. Removing attributes
    keeps every record's support >= k. Modifies and returns ``out``.
    """
    n_columns, n_records = out.shape
    for c in prange(n_columns):
        n_values = offsets[c + 1] - offsets[c]
        need = 0
        for v in range(n_values):
            need += excess[offsets[c] + v]
        if need == 0:
            continue
        rng = np.empty(4, dtype=np.uint64)
        seed_state(rng, seeds[c])
        column = out[c]
        # Records grouped by value (counting sort), then a partial shuffle per value.
        starts = np.zeros(n_values + 2, dtype=np.int64)
        for j in range(n_records):
            starts[np.int64(column[j]) + 1] += 1
        for v in range(1, n_values + 2):
            starts[v] += starts[v - 1]
        cursor = starts.copy()
        order = np.empty(n_records, dtype=np.int64)
        for j in range(n_records):
            v = np.int64(column[j])
            order[cursor[v]] = j
            cursor[v] += 1
        for v in range(1, n_values + 1):
            e = excess[offsets[c] + v - 1]
            lo = starts[v]
            size = starts[v + 1] - lo
            for i in range(min(e, size)):
                pick = lo + i + below(rng, size - i)
                order[lo + i], order[pick] = order[pick], order[lo + i]
                column[order[lo + i]] = 0
    return out
