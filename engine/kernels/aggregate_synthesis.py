"""Kernels of aggregate-seeded synthesis: child lists of the combinations, and the record sampler.

Combinations
    The aggregates' combinations are found in a :class:`~.keys.Table` of
    :mod:`.keys` (their row in the aggregates), built by the caller with
    :func:`~.keys.combination_table`.

Sampler
    Records are built in fixed-size partitions of the target number of
    records (:data:`Plan`); every partition has its own random stream
    (:mod:`.rng`, seeded from ``seeds[p]``), its own share of the attribute
    budgets and, with synthetic counts, its own tally of what it has
    synthesized. Partitions never share writes, so the output depends on the
    seed and never on the thread count. :data:`Model` holds what the
    aggregates say and how candidates are weighed, :data:`Children` the child
    lists of :func:`build_children` (when they are used).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit, prange

from ..config import BORROW_JIT, JIT, PARALLEL_JIT
from .constraints import violates_with
from .keys import find_ids, key_words, next_subset, without
from .rng import new_state, uniform

#: Which records to build: partition ``p`` of ``partitions`` holds records
#: ``[p * partition_size, min(n_total, (p + 1) * partition_size))`` and draws from ``seeds[p]``;
#: the output array starts at record ``origin`` (a run of partitions can be built alone).
Plan = namedtuple("Plan", ["partitions", "partition_size", "n_total", "seeds", "origin"])
#: The aggregates as the sampler reads them: ``scaled`` counts by row, ``single_row[a]``
#: (the row of attribute a alone, -1 if absent), ``attr_col``/``attr_code`` (each
#: attribute's column and code), the reporting ``length``, the percentile ``q`` and
#: whether synthetic counts are subtracted (``use_synthetic``).
Model = namedtuple("Model", ["scaled", "single_row", "attr_col", "attr_code", "length", "q", "use_synthetic"])
#: Child lists of :func:`build_children` (``start``, ``attr``, ``row``), read when ``store``;
#: ``capacity`` bounds the length-L counts kept per candidate.
Children = namedtuple("Children", ["store", "capacity", "start", "attr", "row"])
#: One partition's state and scratch while it builds records (see :func:`_new_work`).
Work = namedtuple(
    "Work",
    ["alive", "weight", "stored", "values", "scratch", "record", "grown", "idx", "comb", "extra", "key",
     "member", "hits", "full", "synthetic"],
)  # fmt: skip


@njit(**JIT)
def build_children(attrs, lengths, table):
    """For every combination, its one-attribute extensions present in the table.

    Returns ``(start, child_attr, child_row)`` in CSR form: the entries
    ``start[p]:start[p + 1]`` list each row ``r`` whose combination is row
    ``p``'s plus the attribute ``child_attr``, with ``child_row = r``. Every
    combination of length >= 2 appears once under each of its sub-combinations
    one shorter that are in the table.
    """
    n, width = attrs.shape
    parent = np.full(n * width, -1, dtype=np.int32)
    key = np.zeros(key_words(table), dtype=np.int64)
    sub = np.empty(width, dtype=np.int64)
    counts = np.zeros(n + 1, dtype=np.int64)
    for r in range(n):
        size = lengths[r]
        if size < 2:
            continue
        for i in range(size):
            without(attrs[r], size, i, sub)
            p = find_ids(table, sub, size - 1, key)
            parent[r * width + i] = p
            if p >= 0:
                counts[p + 1] += 1
    start = np.cumsum(counts)
    fill = start[:-1].copy()
    child_attr = np.empty(start[-1], dtype=np.int32)
    child_row = np.empty(start[-1], dtype=np.int32)
    for r in range(n):
        for i in range(lengths[r]):
            p = parent[r * width + i]
            if p >= 0:
                child_attr[fill[p]] = attrs[r, i]
                child_row[fill[p]] = r
                fill[p] += 1
    return start, child_attr, child_row


@njit(**BORROW_JIT)
def _median3(a, b, c):
    if a < b:
        return b if b < c else (c if a < c else a)
    return a if a < c else (c if b < c else b)


@njit(**BORROW_JIT)
def _select(buf, n, k):
    """k-th smallest of ``buf[:n]`` (quickselect, median-of-three pivot); reorders ``buf``."""
    lo = 0
    hi = n - 1
    while lo < hi:
        mid = (lo + hi) // 2
        pivot = _median3(buf[lo], buf[mid], buf[hi])
        i = lo
        j = hi
        while i <= j:
            while buf[i] < pivot:
                i += 1
            while buf[j] > pivot:
                j -= 1
            if i <= j:
                t = buf[i]
                buf[i] = buf[j]
                buf[j] = t
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return buf[k]
    return buf[k]


@njit(**BORROW_JIT)
def percentile(buf, n, q):
    """The ``q``-th percentile of ``buf[:n]`` with linear interpolation (NumPy's default)."""
    if n == 1:
        return buf[0]
    position = q / 100.0 * (n - 1)
    lo = int(np.floor(position))
    if lo >= n - 1:
        lo = n - 1
    low = _select(buf, n, lo)
    frac = position - lo
    if frac <= 0.0 or lo + 1 >= n:
        return low
    high = buf[lo + 1]
    for i in range(lo + 2, n):
        if buf[i] < high:
            high = buf[i]
    return low + frac * (high - low)


@njit(**BORROW_JIT)
def _subset_with(record, idx, j, extra, n_extra, comb):
    """Sorted ``record[idx[:j]]`` plus ``extra[:n_extra]`` into ``comb``; returns the length."""
    n = 0
    for t in range(j):
        comb[n] = record[idx[t]]
        n += 1
    for e in range(n_extra):
        v = extra[e]
        p = n
        while p > 0 and comb[p - 1] > v:
            comb[p] = comb[p - 1]
            p -= 1
        comb[p] = v
        n += 1
    return n


@njit(**BORROW_JIT)
def _subset_row(table, record, idx, j, extra, n_extra, work):
    """Row of :func:`_subset_with`'s combination in the table (-1: absent), and its length."""
    n = _subset_with(record, idx, j, extra, n_extra, work.comb)
    return find_ids(table, work.comb, n, work.key), n


@njit(**BORROW_JIT)
def _first_subset(idx, j):
    """Set ``idx[:j]`` to the first j-subset, ``0 .. j - 1``."""
    for s in range(j):
        idx[s] = s


@njit(**BORROW_JIT)
def _value(row, model, share, synthetic):
    """Weight of a combination row: its scaled count, or what is left of this partition's share."""
    if model.use_synthetic:
        return model.scaled[row] * share - synthetic[row]
    return model.scaled[row]


@njit(**BORROW_JIT)
def _allows(table, model, share, work, m, c):
    """Whether every combination of ``extra[0]`` and ``c`` with up to L - 2 of the record's
    ``m`` attributes is in the table with a positive value; and the value of the one with all ``m``."""
    record, idx, extra = work.record, work.idx, work.extra
    full_value = 0.0
    extra[1] = c
    for j in range(min(model.length - 2, m) + 1):
        _first_subset(idx, j)
        while True:
            row, _ = _subset_row(table, record, idx, j, extra, 2, work)
            if row < 0:
                return False, 0.0
            v = _value(row, model, share, work.synthetic)
            if v <= 0.0:
                return False, 0.0
            if j == m:
                full_value = v
            if not next_subset(idx, j, m):
                break
    return True, full_value


@njit(**BORROW_JIT)
def _keep_by_lookups(table, model, share, work, x, pick, n_alive, m):
    """Candidates that ``x`` leaves allowed, weighed; every combination is looked up in the table.

    The memory-light path: nothing is kept per candidate between steps, so the
    counts of the length-L sub-combinations are looked up again at each step.
    """
    alive, weight, idx, extra, scratch = work.alive, work.weight, work.idx, work.extra, work.scratch
    attr_col, length = model.attr_col, model.length
    grown_m = m + 1
    extra[0] = x
    kept = 0
    for t in range(n_alive):
        if t == pick:
            continue
        c = alive[t]
        if attr_col[c] == attr_col[x]:
            continue
        ok, full_value = _allows(table, model, share, work, m, c)
        if not ok:
            continue
        if grown_m + 1 <= length:
            w = full_value
        else:
            n_sub = 0
            j = length - 1
            _first_subset(idx, j)
            extra[0] = c
            while True:
                row, _ = _subset_row(table, work.grown, idx, j, extra, 1, work)
                scratch[n_sub] = _value(row, model, share, work.synthetic)
                n_sub += 1
                if not next_subset(idx, j, grown_m):
                    break
            extra[0] = x
            w = percentile(scratch, n_sub, model.q)
        alive[kept] = c
        weight[kept] = w
        kept += 1
    return kept


@njit(**BORROW_JIT)
def _walk_children(table, model, share, work, children, m):
    """Hit counts of the candidates (``member``) over the combinations Q of ``extra[0]`` with up
    to L - 2 record attributes (see :func:`_keep_by_children`); returns how many Q there are."""
    idx, hits, member, values, stored = work.idx, work.hits, work.member, work.values, work.stored
    n_q = 0
    for j in range(min(model.length - 2, m) + 1):
        _first_subset(idx, j)
        while True:
            row_q, n = _subset_row(table, work.record, idx, j, work.extra, 1, work)
            if row_q >= 0:
                for e in range(children.start[row_q], children.start[row_q + 1]):
                    c = children.attr[e]
                    if not member[c] or hits[c] != n_q:
                        continue
                    v = _value(children.row[e], model, share, work.synthetic)
                    if v <= 0.0:
                        hits[c] = -1
                        continue
                    hits[c] = n_q + 1
                    if j == m:
                        work.full[c] = v
                    if n + 1 == model.length:
                        values[c, stored[c]] = v
                        stored[c] += 1
            n_q += 1
            if not next_subset(idx, j, m):
                break
    return n_q


@njit(**BORROW_JIT)
def _keep_by_children(table, model, share, work, children, x, pick, n_alive, m):
    """Candidates that ``x`` leaves allowed, weighed; by walking the table's child lists.

    Every combination Q of x with up to L - 2 record attributes is looked up
    once; a candidate stays only if it extends each Q to a combination in the
    table (with a positive value), which its hit count tells. The counts of
    the length-L extensions are kept per candidate for the percentile.
    """
    alive, weight, member, hits = work.alive, work.weight, work.member, work.hits
    attr_col = model.attr_col
    grown_m = m + 1
    work.extra[0] = x
    for t in range(n_alive):
        if t != pick:
            member[alive[t]] = True
    n_q = _walk_children(table, model, share, work, children, m)
    kept = 0
    for t in range(n_alive):
        c = alive[t]
        ok = t != pick and attr_col[c] != attr_col[x] and hits[c] == n_q
        member[c] = False
        hits[c] = 0
        if not ok:
            continue
        if grown_m + 1 <= model.length:
            w = work.full[c]
        else:
            w = percentile(work.values[c], work.stored[c], model.q)
        alive[kept] = c
        weight[kept] = w
        kept += 1
    return kept


@njit(**JIT)
def _new_work(table, model, children, n_columns):
    """A partition's :data:`Work`: candidates and weights, the record so far, scratch."""
    n_attr = model.attr_col.shape[0]
    store, capacity, length = children.store, children.capacity, model.length
    record = np.empty(n_columns + 1, dtype=np.int64)  # the record's ids, sorted
    return Work(
        np.empty(n_attr, dtype=np.int64),  # alive
        np.empty(n_attr, dtype=np.float64),  # weight
        np.zeros(n_attr, dtype=np.int64),  # stored
        np.empty((n_attr if store else 1, capacity if store else 1), dtype=np.float64),  # values
        np.empty(1 if store else capacity, dtype=np.float64),  # scratch
        record,
        np.empty_like(record),  # grown
        np.empty(length + 1, dtype=np.int64),  # idx
        np.empty(length + 2, dtype=np.int64),  # comb
        np.empty(2, dtype=np.int64),  # extra
        np.zeros(key_words(table), dtype=np.int64),  # key
        np.zeros(n_attr, dtype=np.bool_),  # member
        np.zeros(n_attr, dtype=np.int64),  # hits
        np.zeros(n_attr, dtype=np.float64),  # full
        np.zeros(model.scaled.shape[0] if model.use_synthetic else 1, dtype=np.float64),  # synthetic
    )


@njit(**JIT)
def _budgets(model, share, state):
    """This partition's budget of every attribute: its share of the scaled count, rounded up
    or down at random so that the expected total is exact."""
    n_attr = model.attr_col.shape[0]
    initial = np.zeros(n_attr, dtype=np.int64)
    for a in range(n_attr):
        r = model.single_row[a]
        if r >= 0 and model.scaled[r] > 0:
            x = model.scaled[r] * share
            whole = np.floor(x)
            initial[a] = np.int64(whole) + (1 if uniform(state) < x - whole else 0)
    return initial


@njit(**BORROW_JIT)
def _start_record(model, share, work, budget, store):
    """The candidates of an empty record: attributes with budget and a positive value; how many."""
    alive, weight, stored, values = work.alive, work.weight, work.stored, work.values
    n_alive = 0
    for a in range(model.attr_col.shape[0]):
        if budget[a] < 1:
            continue
        v = _value(model.single_row[a], model, share, work.synthetic)
        if v <= 0.0:
            continue
        alive[n_alive] = a
        weight[n_alive] = v
        n_alive += 1
        if store:
            stored[a] = 0
            if model.length == 1:
                values[a, 0] = v
                stored[a] = 1
    return n_alive


@njit(**BORROW_JIT)
def _draw(weight, n_alive, state):
    """A position drawn in proportion to ``weight[:n_alive]``, or -1 when they sum to 0."""
    total = 0.0
    for t in range(n_alive):
        total += weight[t]
    if total <= 0.0:
        return -1
    u = uniform(state) * total
    pick = -1
    acc = 0.0
    for t in range(n_alive):
        if weight[t] > 0.0:
            acc += weight[t]
            pick = t
            if u < acc:
                break
    return pick


@njit(**BORROW_JIT)
def _tally(table, model, work, m):
    """Count in ``synthetic`` every combination the record gains: ``extra[0]`` with each subset."""
    idx = work.idx
    for j in range(min(model.length - 1, m) + 1):
        _first_subset(idx, j)
        while True:
            row, _ = _subset_row(table, work.record, idx, j, work.extra, 1, work)
            if row >= 0:
                work.synthetic[row] += 1.0
            if not next_subset(idx, j, m):
                break


@njit(**BORROW_JIT)
def _grow(record, grown, m, x):
    """``grown[:m + 1]``: the record's ``m`` sorted ids with ``x`` added, kept sorted."""
    p = 0
    while p < m and record[p] < x:
        grown[p] = record[p]
        p += 1
    grown[p] = x
    for t in range(p, m):
        grown[t + 1] = record[t]


@njit(**JIT)
def _synthesize_partition(first, n_records, share, seed, table, model, children, out, rules):
    """Fill ``out[:, first:first + n_records]`` with synthetic records (see :func:`synthesize_records`)."""
    state = new_state(seed)
    initial = _budgets(model, share, state)
    budget = initial.copy()
    left = budget.sum()
    work = _new_work(table, model, children, out.shape[0])
    store = children.store
    for i in range(n_records):
        r_out = first + i
        if left == 0:
            # Every budget is spent: start a new round, as the aggregates allow.
            budget[:] = initial
            left = budget.sum()
            work.synthetic[:] = 0.0
        n_alive = _start_record(model, share, work, budget, store)
        m = 0
        while n_alive > 0:
            pick = _draw(work.weight, n_alive, state)
            if pick < 0:
                break
            x = work.alive[pick]
            if violates_with(out[:, r_out], model.attr_col[x], model.attr_code[x], rules):
                # It would complete a declared constraint: not chosen, in this record.
                n_alive -= 1
                for t in range(pick, n_alive):
                    work.alive[t] = work.alive[t + 1]
                    work.weight[t] = work.weight[t + 1]
                continue
            out[model.attr_col[x], r_out] = model.attr_code[x]
            budget[x] -= 1
            left -= 1
            work.extra[0] = x
            if model.use_synthetic:
                _tally(table, model, work, m)
            _grow(work.record, work.grown, m, x)
            if store:
                n_alive = _keep_by_children(table, model, share, work, children, x, pick, n_alive, m)
            else:
                n_alive = _keep_by_lookups(table, model, share, work, x, pick, n_alive, m)
            m += 1
            work.record[:m] = work.grown[:m]


@njit(**PARALLEL_JIT)
def synthesize_records(plan, table, model, children, out, rules):
    """Synthesize the records of the planned partitions into ``out`` (codes, ``(n_cols, n_total)``).

    Partition ``p`` (see :data:`Plan`) gets the share ``records / n_total`` of
    every scaled count. A record grows by weighted sampling among the allowed
    candidates until none is left: a candidate is an attribute with budget
    left, of a column the record does not have, such that every combination
    of it with up to L - 1 of the record's attributes is in the table (and,
    with synthetic counts, not yet used up). Its weight is the scaled count of
    the record plus the candidate while that has at most L attributes, else
    the ``q``-th percentile of the counts of the length-L sub-combinations
    holding the candidate.

    With ``children.store`` the allowed candidates are found through the child
    lists of :func:`build_children` and the length-L counts are kept per
    candidate as the record grows (memory ``n_attributes * capacity`` per
    partition); without it every combination is looked up in the hash table
    at every step. Both give the same records. ``capacity`` is
    C(n_columns - 1, L - 1).

    A candidate that would complete a declared constraint (``rules``, see
    :mod:`.constraints`) is not chosen for that record.
    """
    partitions, partition_size, n_total, seeds, origin = plan
    for t in prange(partitions.shape[0]):
        p = partitions[t]
        first = p * partition_size
        n_records = min(n_total, first + partition_size) - first
        share = n_records / n_total
        # ``out`` holds the records from number ``origin`` on.
        _synthesize_partition(first - origin, n_records, share, seeds[p], table, model, children, out, rules)
