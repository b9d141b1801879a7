"""Kernels of the DP marginals: candidates, per-record enumeration, bounded counting.

Records come as a :data:`Records` bundle in CSR form: ``attrs[ptr[r]:ptr[r+1]]``
are record r's attribute ids, ascending (so grouped by column); ``column[a]``
is attribute a's column; ``widest`` is the most ids of a record. A
combination is a sorted tuple of ids from distinct columns; its key is the
one-word key of :mod:`.keys` (the caller checks that every key of the
reporting length fits one word), found in a :class:`~.keys.Table`.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit, prange

from ..config import BORROW_JIT, JIT, PARALLEL_JIT
from .keys import EMPTY, INLINE, Table, extend, find_word, next_subset, pack_word, without
from .noise import uniform_below

#: The records, in CSR form (see the module docs).
Records = namedtuple("Records", ["ptr", "attrs", "column", "widest"])
#: One length ``k`` of candidates: ``table`` maps each candidate's key to its index,
#: ``prev`` the released (k-1)-combinations' keys (read for k >= 3), ``allowed[a]``
#: whether attribute a may be in a candidate (a released single, or a candidate at k = 1).
Level = namedtuple("Level", ["k", "table", "prev", "allowed"])
#: Contribution bounding: at most ``bound`` candidates per record, ``most`` the largest
#: number a record has; records split at ``bounds`` into partitions, partition p drawing
#: from ``words[p]`` (``states[p]`` its place, see :mod:`.noise`) and counting into
#: ``counts[p]``, and running only where ``todo[p]``.
Trimming = namedtuple("Trimming", ["bound", "most", "bounds", "words", "states", "todo", "counts"])
#: One length's candidates by column set, for records read straight from their codes
#: (``codes[c, r]``, 0 = no attribute): set s is the columns ``sets[s]`` with mixed-radix
#: ``strides[s]`` (radix: values + 1), and ``index[starts[s] + sum_j codes[sets[s, j], r] *
#: strides[s, j]]`` is the candidate index of record r's combination on them, -1 for none.
Dense = namedtuple("Dense", ["sets", "strides", "starts", "index"])
#: Records per block of the dense kernels: a block's per-record counts stay in cache while
#: every column set is run over it.
DENSE_BLOCK = 4096
#: Bytes of the threads' key histograms at most (fewer threads for a larger index).
DENSE_HITS_BYTES = 1 << 28


@njit(**JIT)
def extend_candidates(previous, released, singles, column):
    """k-candidates from the released (k-1)-combinations ``previous`` (rows sorted ids).

    ``S + {a}`` is a candidate for each released single ``a`` whose column is
    after S's last column, when every (k-1)-subset of it was released (is in
    the table ``released``). Returns (n, k) sorted ids, in order of S then a.
    """
    n_prev, width = previous.shape
    k = width + 1
    combo = np.empty(k, dtype=np.int64)
    sub = np.empty(width, dtype=np.int64)
    out = np.empty((0, k), dtype=np.int32)
    for phase in range(2):
        found = 0
        for i in range(n_prev):
            last_column = column[previous[i, width - 1]]
            for a in singles:
                if column[a] <= last_column:
                    continue
                for j in range(width):
                    combo[j] = previous[i, j]
                combo[width] = a
                ok = True
                for drop in range(width):  # the subset without `a` is previous[i] itself
                    without(combo, k, drop, sub)
                    if find_word(released, pack_word(sub, 0, width, released.radix)) == EMPTY:
                        ok = False
                        break
                if ok:
                    if phase == 1:
                        for j in range(k):
                            out[found, j] = combo[j]
                    found += 1
        if phase == 0:
            out = np.empty((found, k), dtype=np.int32)
    return out


@njit(**INLINE)
def _note(buffer, found, c):
    """Add candidate ``c`` (-1: not a candidate) to ``buffer`` while it has room; the new count."""
    if c == EMPTY:
        return found
    if found < buffer.shape[0]:
        buffer[found] = c
    return found + 1


@njit(**JIT)
def _record_candidates(records, level, r, local, buffer):
    """Write the candidate indices of record r's k-combinations into ``buffer``; return count.

    Only attributes in ``allowed`` (released singles) can be in a candidate,
    and a combination whose first k-1 attributes were not released at k-1
    cannot be one, so whole branches are skipped (k = 3, 4).
    """
    attrs, column, allowed = records.attrs, records.column, level.allowed
    k, table, prev = level.k, level.table, level.prev
    radix = table.radix
    m = 0
    for i in range(records.ptr[r], records.ptr[r + 1]):
        if allowed[attrs[i]]:
            local[m] = attrs[i]
            m += 1
    found = 0
    if m < k:
        return 0
    if k == 1:
        for i in range(m):
            found = _note(buffer, found, find_word(table, extend(0, local[i], radix)))
        return found
    if k == 2:
        for i in range(m):
            first = extend(0, local[i], radix)
            for j in range(i + 1, m):
                if column[local[i]] != column[local[j]]:
                    found = _note(buffer, found, find_word(table, extend(first, local[j], radix)))
        return found
    if k == 3:
        for i in range(m):
            first = extend(0, local[i], radix)
            for j in range(i + 1, m):
                if column[local[i]] == column[local[j]]:
                    continue
                pair = extend(first, local[j], radix)
                if find_word(prev, pair) == EMPTY:
                    continue
                for l in range(j + 1, m):  # noqa: E741
                    if column[local[l]] != column[local[j]]:
                        found = _note(buffer, found, find_word(table, extend(pair, local[l], radix)))
        return found
    # k >= 4: every k-subset of the record's ids, pruned by the released (k-1)-table.
    idx = np.arange(k)
    while True:
        distinct = True
        for j in range(1, k):
            if column[local[idx[j]]] == column[local[idx[j - 1]]]:
                distinct = False
                break
        if distinct:
            prefix = 0
            for j in range(k - 1):
                prefix = extend(prefix, local[idx[j]], radix)
            if find_word(prev, prefix) != EMPTY:
                found = _note(buffer, found, find_word(table, extend(prefix, local[idx[k - 1]], radix)))
        if not next_subset(idx, k, m):
            return found


@njit(**PARALLEL_JIT)
def candidates_per_record(records, level):
    """Per record, how many of its k-combinations are candidates (parallel over records)."""
    n = records.ptr.shape[0] - 1
    out = np.zeros(n, dtype=np.int64)
    n_parts = 64
    size = (n + n_parts - 1) // n_parts
    # A parallel loop takes only flat bundles, built in this function: rebuild the tables.
    k, allowed = level.k, level.allowed
    table = Table(*level.table)
    prev = Table(*level.prev)
    for part in prange(n_parts):
        here = Level(k, table, prev, allowed)
        local = np.empty(max(records.widest, 1), dtype=np.int64)
        buffer = np.empty(0, dtype=np.int64)
        for r in range(part * size, min(n, (part + 1) * size)):
            out[r] = _record_candidates(records, here, r, local, buffer)
    return out


@njit(**PARALLEL_JIT)
def trimmed_counts(records, level, trimming):
    """Candidate counts where each record contributes to at most ``bound`` candidates.

    Records are split into fixed partitions ``bounds`` (so results do not
    depend on the thread count); partition p draws from ``words[p]`` and counts
    into ``counts[p]`` (see :data:`Trimming`). A record with more than
    ``bound`` candidates keeps a uniformly random subset of ``bound`` (partial
    Fisher-Yates with exact integer draws). Only partitions with ``todo[p]``
    run; a partition whose words ran out sets ``states[p, 1]`` and is replayed
    by the caller with the same words and more.
    """
    bound, bounds = trimming.bound, trimming.bounds
    # A parallel loop takes only flat bundles, built in this function: rebuild the tables.
    k, allowed = level.k, level.allowed
    table = Table(*level.table)
    prev = Table(*level.prev)
    for p in prange(bounds.shape[0] - 1):
        here = Level(k, table, prev, allowed)
        if not trimming.todo[p]:
            continue
        counts = trimming.counts[p]
        counts[:] = 0
        state = trimming.states[p]
        state[0] = 0
        state[1] = 0
        stream = trimming.words[p]
        local = np.empty(max(records.widest, 1), dtype=np.int64)
        buffer = np.empty(max(trimming.most, 1), dtype=np.int64)
        for r in range(bounds[p], bounds[p + 1]):
            found = _record_candidates(records, here, r, local, buffer)
            keep = found
            if found > bound:
                keep = bound
                for i in range(bound):
                    j = i + uniform_below(found - i, stream, state)
                    buffer[i], buffer[j] = buffer[j], buffer[i]
                if state[1]:
                    break
            for i in range(keep):
                counts[buffer[i]] += 1


@njit(**INLINE)
def _dense_candidate(codes, dense, s, r):
    """The candidate index of record r's combination on column set s (-1: none)."""
    key = dense.starts[s]
    for j in range(dense.sets.shape[1]):
        key += codes[dense.sets[s, j], r] * dense.strides[s, j]
    return dense.index[key]


@njit(**BORROW_JIT)
def _dense_block(codes, dense, s, start, stop, flag, per_record, lo, hits, prefix):
    """Records ``start .. stop`` on column set s: per record its candidates, per key its records.

    Branch-free: every record's key on the set is counted in ``hits`` (a
    histogram over the index's slots) and ``flag[key]`` (1 for a candidate)
    added to its number of candidates. Lengths 1-3 read their columns as flat
    rows; at length 3, ``prefix`` holds the block's keys on the set's first two
    columns (their strides do not depend on the third column), recomputed
    only when the set's first two columns differ from the previous set's.
    """
    k = dense.sets.shape[1]
    base = dense.starts[s]
    if k == 1:
        a = codes[dense.sets[s, 0]]
        sa = dense.strides[s, 0]
        for r in range(start, stop):
            key = base + a[r] * sa
            hits[key] += 1
            per_record[r - lo] += flag[key]
    elif k == 2:
        a, b = codes[dense.sets[s, 0]], codes[dense.sets[s, 1]]
        sa, sb = dense.strides[s, 0], dense.strides[s, 1]
        for r in range(start, stop):
            key = base + a[r] * sa + b[r] * sb
            hits[key] += 1
            per_record[r - lo] += flag[key]
    elif k == 3:
        sets = dense.sets
        if s == 0 or sets[s, 0] != sets[s - 1, 0] or sets[s, 1] != sets[s - 1, 1]:
            a, b = codes[sets[s, 0]], codes[sets[s, 1]]
            sa, sb = dense.strides[s, 0], dense.strides[s, 1]
            for r in range(start, stop):
                prefix[r - start] = a[r] * sa + b[r] * sb
        d = codes[sets[s, 2]]
        sd = dense.strides[s, 2]
        for r in range(start, stop):
            key = base + prefix[r - start] + d[r] * sd
            hits[key] += 1
            per_record[r - lo] += flag[key]
    else:
        for r in range(start, stop):
            key = base
            for j in range(k):
                key += codes[dense.sets[s, j], r] * dense.strides[s, j]
            hits[key] += 1
            per_record[r - lo] += flag[key]


@njit(**PARALLEL_JIT)
def dense_candidate_counts(codes, dense, lo, hi, n_candidates, n_threads):
    """Per record of ``lo .. hi`` its number of candidates, and per candidate its number of records.

    The per-record numbers are those of :func:`candidates_per_record` for
    records of one value per column, read from the codes instead of
    attribute lists; the counts are untrimmed (every record counts in full).
    Each thread takes its own range of records and counts keys into its own
    histogram (``hi - lo`` must be below 2**31), summed after.
    """
    n = hi - lo
    per_record = np.zeros(n, dtype=np.int32)
    set_cols, strides, starts, index = dense
    slots = index.shape[0]
    n_parts = max(
        1, min(n_threads, (n + DENSE_BLOCK - 1) // DENSE_BLOCK, DENSE_HITS_BYTES // (4 * slots + 1))
    )
    size = (n + n_parts - 1) // n_parts
    flag = np.zeros(slots, dtype=np.int32)
    for i in range(slots):
        if index[i] >= 0:
            flag[i] = 1
    local = np.zeros((n_parts, slots), dtype=np.int32)
    # A parallel loop takes only flat bundles, built in this function.
    for p in prange(n_parts):
        sets = Dense(set_cols, strides, starts, index)
        prefix = np.empty(DENSE_BLOCK, dtype=np.int64)
        end = min(hi, lo + (p + 1) * size)
        for start in range(lo + p * size, end, DENSE_BLOCK):
            stop = min(end, start + DENSE_BLOCK)
            for s in range(set_cols.shape[0]):
                _dense_block(codes, sets, s, start, stop, flag, per_record, lo, local[p], prefix)
    counts = np.zeros(n_candidates, dtype=np.int64)
    for p in range(n_parts):
        for i in range(slots):
            if index[i] >= 0:
                counts[index[i]] += local[p, i]
    return per_record, counts


@njit(**JIT)
def dense_counts_of_rows(codes, dense, rows, n_candidates):
    """Per candidate, how many of the records ``rows`` hold it (untrimmed)."""
    counts = np.zeros(n_candidates, dtype=np.int64)
    for s in range(dense.sets.shape[0]):
        for r in rows:
            c = _dense_candidate(codes, dense, s, r)
            if c >= 0:
                counts[c] += 1
    return counts


@njit(**JIT)
def cap_by_subsets(combos, counts, subsets, sub_counts):
    """min(count, every (k-1)-subset's count): no combination exceeds a sub-combination.

    ``subsets`` is the table of the (k-1)-combinations, ``sub_counts`` their counts.
    """
    n, k = combos.shape
    sub = np.empty(k - 1, dtype=np.int64)
    out = counts.copy()
    for i in range(n):
        for drop in range(k):
            without(combos[i], k, drop, sub)
            s = find_word(subsets, pack_word(sub, 0, k - 1, subsets.radix))
            if s != EMPTY and sub_counts[s] < out[i]:
                out[i] = sub_counts[s]
    return out
