"""Kernels of the DP marginals: combination hash, candidates, per-record enumeration.

Records are given in CSR form: ``attrs[ptr[r]:ptr[r+1]]`` are record r's
attribute ids, ascending (so grouped by column); ``column[a]`` is attribute
a's column. A combination is a sorted tuple of ids from distinct columns,
packed into one int64 key: sum_j (id_j + 1) * base**(k-1-j), base = n_attributes + 1.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..config import JIT, PARALLEL_JIT
from .noise import uniform_below

EMPTY = -1


@njit(**JIT)
def _slot(key, mask):
    h = (key * 0x9E3779B97F4A7C15) & 0x7FFFFFFFFFFFFFFF
    return (h ^ (h >> 29)) & mask


@njit(**JIT)
def build_table(keys):
    """Open-addressing table of ``keys`` (distinct, >= 0): returns (slots, values)."""
    capacity = 1
    while capacity < 2 * keys.shape[0] + 2:
        capacity *= 2
    mask = capacity - 1
    slots = np.full(capacity, EMPTY, dtype=np.int64)
    values = np.full(capacity, EMPTY, dtype=np.int64)
    for i in range(keys.shape[0]):
        s = _slot(keys[i], mask)
        while slots[s] != EMPTY:
            s = (s + 1) & mask
        slots[s] = keys[i]
        values[s] = i
    return slots, values


@njit(**JIT)
def lookup(slots, values, key):
    """Index of ``key`` in the table, or -1."""
    mask = slots.shape[0] - 1
    s = _slot(key, mask)
    while slots[s] != EMPTY:
        if slots[s] == key:
            return values[s]
        s = (s + 1) & mask
    return EMPTY


@njit(**JIT)
def pack(combo, base):
    key = 0
    for j in range(combo.shape[0]):
        key = key * base + combo[j] + 1
    return key


@njit(**JIT)
def pack_rows(combos, base):
    out = np.empty(combos.shape[0], dtype=np.int64)
    for i in range(combos.shape[0]):
        out[i] = pack(combos[i], base)
    return out


@njit(**JIT)
def extend_candidates(previous, slots, values, singles, column, base):
    """k-candidates from the released (k-1)-combinations ``previous`` (rows sorted ids).

    ``S + {a}`` is a candidate for each released single ``a`` whose column is
    after S's last column, when every (k-1)-subset of it was released
    (``slots/values`` hold the released (k-1)-keys). Returns (n, k) sorted ids,
    in order of S then a.
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
                    m = 0
                    for j in range(k):
                        if j != drop:
                            sub[m] = combo[j]
                            m += 1
                    if lookup(slots, values, pack(sub, base)) == EMPTY:
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


@njit(**JIT)
def _record_candidates(
    attrs, start, stop, column, k, base, slots, values, prev_slots, prev_values, allowed, local, buffer
):
    """Write the candidate indices of one record's k-combinations into ``buffer``; return count.

    Only attributes in ``allowed`` (released singles) can be in a candidate,
    and a combination whose first k-1 attributes were not released at k-1
    cannot be one, so whole branches are skipped (k = 3, 4).
    """
    m = 0
    for i in range(start, stop):
        if allowed[attrs[i]]:
            local[m] = attrs[i]
            m += 1
    found = 0
    if m < k:
        return 0
    if k == 1:
        for i in range(m):
            c = lookup(slots, values, local[i] + 1)
            if c != EMPTY:
                if found < buffer.shape[0]:
                    buffer[found] = c
                found += 1
        return found
    if k == 2:
        for i in range(m):
            for j in range(i + 1, m):
                if column[local[i]] == column[local[j]]:
                    continue
                c = lookup(slots, values, (local[i] + 1) * base + local[j] + 1)
                if c != EMPTY:
                    if found < buffer.shape[0]:
                        buffer[found] = c
                    found += 1
        return found
    if k == 3:
        for i in range(m):
            for j in range(i + 1, m):
                if column[local[i]] == column[local[j]]:
                    continue
                pair = (local[i] + 1) * base + local[j] + 1
                if lookup(prev_slots, prev_values, pair) == EMPTY:
                    continue
                for l in range(j + 1, m):  # noqa: E741
                    if column[local[l]] == column[local[j]]:
                        continue
                    c = lookup(slots, values, pair * base + local[l] + 1)
                    if c != EMPTY:
                        if found < buffer.shape[0]:
                            buffer[found] = c
                        found += 1
        return found
    # k >= 4: odometer over (k-1)-prefixes, pruned by the released (k-1)-table.
    idx = np.empty(k, dtype=np.int64)
    for j in range(k):
        idx[j] = j
    while True:
        distinct = True
        for j in range(1, k):
            if column[local[idx[j]]] == column[local[idx[j - 1]]]:
                distinct = False
                break
        if distinct:
            prefix = 0
            for j in range(k - 1):
                prefix = prefix * base + local[idx[j]] + 1
            if lookup(prev_slots, prev_values, prefix) != EMPTY:
                c = lookup(slots, values, prefix * base + local[idx[k - 1]] + 1)
                if c != EMPTY:
                    if found < buffer.shape[0]:
                        buffer[found] = c
                    found += 1
        j = k - 1
        while j >= 0 and idx[j] == m - k + j:
            j -= 1
        if j < 0:
            return found
        idx[j] += 1
        for i in range(j + 1, k):
            idx[i] = idx[i - 1] + 1


@njit(**PARALLEL_JIT)
def candidates_per_record(
    ptr, attrs, column, k, base, slots, values, prev_slots, prev_values, allowed, widest
):
    """Per record, how many of its k-combinations are candidates (parallel over records)."""
    n = ptr.shape[0] - 1
    out = np.zeros(n, dtype=np.int64)
    n_parts = 64
    size = (n + n_parts - 1) // n_parts
    for part in prange(n_parts):
        local = np.empty(max(widest, 1), dtype=np.int64)
        buffer = np.empty(0, dtype=np.int64)
        for r in range(part * size, min(n, (part + 1) * size)):
            out[r] = _record_candidates(
                attrs,
                ptr[r],
                ptr[r + 1],
                column,
                k,
                base,
                slots,
                values,
                prev_slots,
                prev_values,
                allowed,
                local,
                buffer,
            )
    return out


@njit(**PARALLEL_JIT)
def trimmed_counts(
    ptr,
    attrs,
    column,
    k,
    base,
    slots,
    values,
    prev_slots,
    prev_values,
    allowed,
    widest,
    n_candidates,
    bound,
    most,
    bounds,
    words,
    states,
    todo,
    local_counts,
):
    """Candidate counts where each record contributes to at most ``bound`` candidates.

    Records are split into fixed partitions ``bounds`` (so results do not
    depend on the thread count); partition p draws from ``words[p]`` and counts
    into ``local_counts[p]``. A record with more than ``bound`` candidates
    keeps a uniformly random subset of ``bound`` (partial Fisher-Yates with
    exact integer draws). Only partitions with ``todo[p]`` run; a partition
    whose words ran out sets ``states[p, 1]`` and is replayed by the caller
    with the same words and more.
    """
    for p in prange(bounds.shape[0] - 1):
        if not todo[p]:
            continue
        counts = local_counts[p]
        counts[:] = 0
        state = states[p]
        state[0] = 0
        state[1] = 0
        stream = words[p]
        local = np.empty(max(widest, 1), dtype=np.int64)
        buffer = np.empty(max(most, 1), dtype=np.int64)
        for r in range(bounds[p], bounds[p + 1]):
            found = _record_candidates(
                attrs,
                ptr[r],
                ptr[r + 1],
                column,
                k,
                base,
                slots,
                values,
                prev_slots,
                prev_values,
                allowed,
                local,
                buffer,
            )
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


@njit(**JIT)
def cap_by_subsets(combos, counts, base, slots, values, sub_counts):
    """min(count, every (k-1)-subset's count): no combination exceeds a sub-combination."""
    n, k = combos.shape
    sub = np.empty(k - 1, dtype=np.int64)
    out = counts.copy()
    for i in range(n):
        for drop in range(k):
            m = 0
            for j in range(k):
                if j != drop:
                    sub[m] = combos[i, j]
                    m += 1
            s = lookup(slots, values, pack(sub, base))
            if s != EMPTY and sub_counts[s] < out[i]:
                out[i] = sub_counts[s]
    return out
