"""Kernels of aggregate-seeded synthesis: a combination hash table and the record sampler.

Combination keys
    A combination is its sorted attribute ids. Each id is stored as ``id + 1``
    in a field of ``bits`` bits; ``per_word = 64 // bits`` fields fit in one
    uint64 word, and a key has ``n_words = ceil(L / per_word)`` words (one
    word for every realistic schema: up to 65,535 attributes at L = 4). An
    all-zero key never occurs, so zero marks an empty slot.

Hash table
    Open addressing with linear probing over a power-of-two number of slots,
    at most half full. ``keys[slot]`` holds the packed key and ``rows[slot]``
    the row of the combination in the aggregates (-1: empty slot).

Sampler
    Records are built in fixed-size partitions of the target number of
    records; every partition has its own random stream (SplitMix64 seeded from
    ``seeds[p]``), its own share of the attribute budgets and, with synthetic
    counts, its own tally of what it has synthesized. Partitions never share
    writes, so the output depends on the seed and never on the thread count.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..config import JIT, PARALLEL_JIT

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@njit(**JIT)
def _mix(z):
    """SplitMix64 finalizer: a bijective scramble of a uint64."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(**JIT)
def _uniform(state):
    """Next double in [0, 1) from the SplitMix64 stream held in ``state[0]``."""
    state[0] += _GOLDEN
    return np.float64(_mix(state[0]) >> np.uint64(11)) * _TO_UNIT


@njit(**JIT)
def _pack(ids, n, bits, per_word, key):
    """Write the key of the sorted ids ``ids[:n]`` into ``key`` (all words)."""
    for w in range(key.shape[0]):
        key[w] = 0
    for i in range(n):
        w = i // per_word
        shift = np.uint64((i % per_word) * bits)
        key[w] |= np.uint64(ids[i] + 1) << shift


@njit(**JIT)
def _slot(key, mask):
    h = np.uint64(0x243F6A8885A308D3)
    for w in range(key.shape[0]):
        h = _mix(h ^ key[w])
    return np.int64(h & mask)


@njit(**JIT)
def _find(keys, rows, key):
    """Row of the combination with packed ``key``, or -1 when it is absent."""
    mask = np.uint64(rows.shape[0] - 1)
    slot = _slot(key, mask)
    n_words = key.shape[0]
    while True:
        row = rows[slot]
        if row < 0:
            return -1
        same = True
        for w in range(n_words):
            if keys[slot, w] != key[w]:
                same = False
                break
        if same:
            return np.int64(row)
        slot = (slot + 1) & np.int64(mask)


@njit(**JIT)
def build_table(attrs, lengths, bits, per_word, n_words, capacity):
    """Hash table of the combinations ``attrs[r, :lengths[r]]`` → row ``r``.

    ``capacity`` must be a power of two at least twice the number of rows.
    Returns ``(keys, rows, duplicates)``; a repeated combination keeps its
    first row and is counted in ``duplicates``.
    """
    keys = np.zeros((capacity, n_words), dtype=np.uint64)
    rows = np.full(capacity, -1, dtype=np.int32)
    mask = np.uint64(capacity - 1)
    key = np.zeros(n_words, dtype=np.uint64)
    duplicates = 0
    for r in range(attrs.shape[0]):
        _pack(attrs[r], lengths[r], bits, per_word, key)
        slot = _slot(key, mask)
        while True:
            if rows[slot] < 0:
                for w in range(n_words):
                    keys[slot, w] = key[w]
                rows[slot] = r
                break
            same = True
            for w in range(n_words):
                if keys[slot, w] != key[w]:
                    same = False
                    break
            if same:
                duplicates += 1
                break
            slot = (slot + 1) & np.int64(mask)
    return keys, rows, duplicates


@njit(**JIT)
def find_rows(keys, rows, attrs, lengths, bits, per_word):
    """Row of each combination ``attrs[i, :lengths[i]]`` (sorted ids) in the table, or -1."""
    out = np.empty(attrs.shape[0], dtype=np.int64)
    key = np.zeros(keys.shape[1], dtype=np.uint64)
    for i in range(attrs.shape[0]):
        _pack(attrs[i], lengths[i], bits, per_word, key)
        out[i] = _find(keys, rows, key)
    return out


@njit(**JIT)
def build_children(attrs, lengths, keys, rows, bits, per_word):
    """For every combination, its one-attribute extensions present in the table.

    Returns ``(start, child_attr, child_row)`` in CSR form: the entries
    ``start[p]:start[p + 1]`` list each row ``r`` whose combination is row
    ``p``'s plus the attribute ``child_attr``, with ``child_row = r``. Every
    combination of length >= 2 appears once under each of its sub-combinations
    one shorter that are in the table.
    """
    n, width = attrs.shape
    parent = np.full(n * width, -1, dtype=np.int32)
    key = np.zeros(keys.shape[1], dtype=np.uint64)
    sub = np.empty(width, dtype=np.int64)
    counts = np.zeros(n + 1, dtype=np.int64)
    for r in range(n):
        size = lengths[r]
        if size < 2:
            continue
        for i in range(size):
            k = 0
            for t in range(size):
                if t != i:
                    sub[k] = attrs[r, t]
                    k += 1
            _pack(sub, size - 1, bits, per_word, key)
            p = _find(keys, rows, key)
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


@njit(**JIT)
def _median3(a, b, c):
    if a < b:
        return b if b < c else (c if a < c else a)
    return a if a < c else (c if b < c else b)


@njit(**JIT)
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


@njit(**JIT)
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


@njit(**JIT)
def _next_subset(idx, j, m):
    """Advance ``idx[:j]`` to the next j-subset of range(m) in lexicographic order."""
    t = j - 1
    while t >= 0 and idx[t] == m - j + t:
        t -= 1
    if t < 0:
        return False
    idx[t] += 1
    for u in range(t + 1, j):
        idx[u] = idx[u - 1] + 1
    return True


@njit(**JIT)
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


@njit(**JIT)
def _value(row, scaled, share, synthetic, use_synthetic):
    """Weight of a combination row: its scaled count, or what is left of this partition's share."""
    if use_synthetic:
        return scaled[row] * share - synthetic[row]
    return scaled[row]


@njit(**JIT)
def _keep_by_lookups(
    x, pick, alive, weight, n_alive, record, grown, m, extra, idx, comb, key, keys, rows, bits,
    per_word, scaled, share, synthetic, use_synthetic, attr_col, length, q, scratch,
):  # fmt: skip
    """Candidates that ``x`` leaves allowed, weighed; every combination is looked up in the table.

    The memory-light path: nothing is kept per candidate between steps, so the
    counts of the length-L sub-combinations are looked up again at each step.
    """
    grown_m = m + 1
    extra[0] = x
    kept = 0
    for t in range(n_alive):
        if t == pick:
            continue
        c = alive[t]
        if attr_col[c] == attr_col[x]:
            continue
        ok = True
        full_value = 0.0
        extra[1] = c
        for j in range(min(length - 2, m) + 1):
            for s in range(j):
                idx[s] = s
            while True:
                n = _subset_with(record, idx, j, extra, 2, comb)
                _pack(comb, n, bits, per_word, key)
                row = _find(keys, rows, key)
                if row < 0:
                    ok = False
                    break
                v = _value(row, scaled, share, synthetic, use_synthetic)
                if v <= 0.0:
                    ok = False
                    break
                if j == m:
                    full_value = v
                if not _next_subset(idx, j, m):
                    break
            if not ok:
                break
        if not ok:
            continue
        if grown_m + 1 <= length:
            w = full_value
        else:
            n_sub = 0
            j = length - 1
            for s in range(j):
                idx[s] = s
            extra[0] = c
            while True:
                n = _subset_with(grown, idx, j, extra, 1, comb)
                _pack(comb, n, bits, per_word, key)
                row = _find(keys, rows, key)
                scratch[n_sub] = _value(row, scaled, share, synthetic, use_synthetic)
                n_sub += 1
                if not _next_subset(idx, j, grown_m):
                    break
            extra[0] = x
            w = percentile(scratch, n_sub, q)
        alive[kept] = c
        weight[kept] = w
        kept += 1
    return kept


@njit(**JIT)
def _keep_by_children(
    x, pick, alive, weight, n_alive, record, m, extra, idx, comb, key, keys, rows, bits, per_word,
    scaled, share, synthetic, use_synthetic, attr_col, length, q, values, stored, member, hits,
    full, child_start, child_attr, child_row,
):  # fmt: skip
    """Candidates that ``x`` leaves allowed, weighed; by walking the table's child lists.

    Every combination Q of x with up to L - 2 record attributes is looked up
    once; a candidate stays only if it extends each Q to a combination in the
    table (with a positive value), which its hit count tells. The counts of
    the length-L extensions are kept per candidate for the percentile.
    """
    grown_m = m + 1
    extra[0] = x
    for t in range(n_alive):
        if t != pick:
            member[alive[t]] = True
    n_q = 0
    for j in range(min(length - 2, m) + 1):
        for s in range(j):
            idx[s] = s
        while True:
            n = _subset_with(record, idx, j, extra, 1, comb)
            _pack(comb, n, bits, per_word, key)
            row_q = _find(keys, rows, key)
            if row_q >= 0:
                for e in range(child_start[row_q], child_start[row_q + 1]):
                    c = child_attr[e]
                    if not member[c] or hits[c] != n_q:
                        continue
                    v = _value(child_row[e], scaled, share, synthetic, use_synthetic)
                    if v <= 0.0:
                        hits[c] = -1
                        continue
                    hits[c] = n_q + 1
                    if j == m:
                        full[c] = v
                    if n + 1 == length:
                        values[c, stored[c]] = v
                        stored[c] += 1
            n_q += 1
            if not _next_subset(idx, j, m):
                break
    kept = 0
    for t in range(n_alive):
        c = alive[t]
        ok = t != pick and attr_col[c] != attr_col[x] and hits[c] == n_q
        member[c] = False
        hits[c] = 0
        if not ok:
            continue
        w = full[c] if grown_m + 1 <= length else percentile(values[c], stored[c], q)
        alive[kept] = c
        weight[kept] = w
        kept += 1
    return kept


@njit(**JIT)
def _synthesize_partition(
    first,
    n_records,
    share,
    seed,
    keys,
    rows,
    bits,
    per_word,
    scaled,
    single_row,
    attr_col,
    attr_code,
    length,
    q,
    use_synthetic,
    store,
    capacity,
    child_start,
    child_attr,
    child_row,
    out,
):
    """Fill ``out[:, first:first + n_records]`` with synthetic records (see :func:`synthesize_records`)."""
    n_attr = attr_col.shape[0]
    n_words = keys.shape[1]
    state = np.empty(1, dtype=np.uint64)
    state[0] = seed
    # This partition's budget of every attribute: its share of the scaled count,
    # rounded up or down at random so that the expected total is exact.
    initial = np.zeros(n_attr, dtype=np.int64)
    for a in range(n_attr):
        r = single_row[a]
        if r >= 0 and scaled[r] > 0:
            x = scaled[r] * share
            whole = np.floor(x)
            initial[a] = np.int64(whole) + (1 if _uniform(state) < x - whole else 0)
    budget = initial.copy()
    left = budget.sum()
    synthetic = np.zeros(scaled.shape[0] if use_synthetic else 1, dtype=np.float64)

    alive = np.empty(n_attr, dtype=np.int64)
    weight = np.empty(n_attr, dtype=np.float64)
    stored = np.zeros(n_attr, dtype=np.int64)
    values = np.empty((n_attr if store else 1, capacity if store else 1), dtype=np.float64)
    scratch = np.empty(1 if store else capacity, dtype=np.float64)
    record = np.empty(out.shape[0] + 1, dtype=np.int64)  # the record's ids, sorted
    grown = np.empty_like(record)
    idx = np.empty(length + 1, dtype=np.int64)
    comb = np.empty(length + 2, dtype=np.int64)
    extra = np.empty(2, dtype=np.int64)
    key = np.zeros(n_words, dtype=np.uint64)
    member = np.zeros(n_attr, dtype=np.bool_)
    hits = np.zeros(n_attr, dtype=np.int64)
    full = np.zeros(n_attr, dtype=np.float64)

    for i in range(n_records):
        r_out = first + i
        if left == 0:
            # Every budget is spent: start a new round, as the aggregates allow.
            budget[:] = initial
            left = budget.sum()
            synthetic[:] = 0.0
        n_alive = 0
        for a in range(n_attr):
            if budget[a] < 1:
                continue
            v = _value(single_row[a], scaled, share, synthetic, use_synthetic)
            if v <= 0.0:
                continue
            alive[n_alive] = a
            weight[n_alive] = v
            n_alive += 1
            if store:
                stored[a] = 0
                if length == 1:
                    values[a, 0] = v
                    stored[a] = 1
        m = 0
        while n_alive > 0:
            total = 0.0
            for t in range(n_alive):
                total += weight[t]
            if total <= 0.0:
                break
            u = _uniform(state) * total
            pick = -1
            acc = 0.0
            for t in range(n_alive):
                if weight[t] > 0.0:
                    acc += weight[t]
                    pick = t
                    if u < acc:
                        break
            x = alive[pick]
            out[attr_col[x], r_out] = attr_code[x]
            budget[x] -= 1
            left -= 1
            extra[0] = x
            if use_synthetic:
                # Tally every combination the record gains: x with each subset of the record.
                for j in range(min(length - 1, m) + 1):
                    for t in range(j):
                        idx[t] = t
                    while True:
                        n = _subset_with(record, idx, j, extra, 1, comb)
                        _pack(comb, n, bits, per_word, key)
                        row = _find(keys, rows, key)
                        if row >= 0:
                            synthetic[row] += 1.0
                        if not _next_subset(idx, j, m):
                            break
            # The record with x added, kept sorted.
            p = 0
            while p < m and record[p] < x:
                grown[p] = record[p]
                p += 1
            grown[p] = x
            for t in range(p, m):
                grown[t + 1] = record[t]
            grown_m = m + 1

            if store:
                n_alive = _keep_by_children(
                    x, pick, alive, weight, n_alive, record, m, extra, idx, comb, key, keys, rows,
                    bits, per_word, scaled, share, synthetic, use_synthetic, attr_col, length, q,
                    values, stored, member, hits, full, child_start, child_attr, child_row,
                )  # fmt: skip
            else:
                n_alive = _keep_by_lookups(
                    x, pick, alive, weight, n_alive, record, grown, m, extra, idx, comb, key, keys,
                    rows, bits, per_word, scaled, share, synthetic, use_synthetic, attr_col, length, q,
                    scratch,
                )  # fmt: skip
            for t in range(grown_m):
                record[t] = grown[t]
            m = grown_m


@njit(**PARALLEL_JIT)
def synthesize_records(
    partitions,
    partition_size,
    n_total,
    seeds,
    keys,
    rows,
    bits,
    per_word,
    scaled,
    single_row,
    attr_col,
    attr_code,
    length,
    q,
    use_synthetic,
    store,
    capacity,
    child_start,
    child_attr,
    child_row,
    out,
):
    """Synthesize the records of the given partitions into ``out`` (codes, ``(n_cols, n_total)``).

    Partition ``p`` holds records ``[p * partition_size, min(n_total, (p + 1) * partition_size))``
    and gets the share ``records / n_total`` of every scaled count. A record
    grows by weighted sampling among the allowed candidates until none is
    left: a candidate is an attribute with budget left, of a column the record
    does not have, such that every combination of it with up to L - 1 of the
    record's attributes is in the table (and, with synthetic counts, not yet
    used up). Its weight is the scaled count of the record plus the candidate
    while that has at most L attributes, else the ``q``-th percentile of the
    counts of the length-L sub-combinations holding the candidate.

    ``store`` finds the allowed candidates through the child lists of
    :func:`build_children` and keeps the length-L counts per candidate as the
    record grows (memory ``n_attributes * capacity`` per partition); without
    it every combination is looked up in the hash table at every step. Both
    give the same records. ``capacity`` is C(n_columns - 1, L - 1).
    """
    for t in prange(partitions.shape[0]):
        p = partitions[t]
        first = p * partition_size
        n_records = min(n_total, first + partition_size) - first
        share = n_records / n_total
        _synthesize_partition(
            first,
            n_records,
            share,
            seeds[p],
            keys,
            rows,
            bits,
            per_word,
            scaled,
            single_row,
            attr_col,
            attr_code,
            length,
            q,
            use_synthetic,
            store,
            capacity,
            child_start,
            child_attr,
            child_row,
            out,
        )
