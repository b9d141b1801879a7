"""Kernels of fitting records to k-anonymous aggregates without leaving them.

Records are ``codes[r, c]`` (record-major): column c's code of record r, 0 =
no attribute, j >= 1 = attribute ``offsets[c] + j - 1``. A record's
combinations are the sets of up to ``length`` of its attributes. The
aggregates are a :class:`~.keys.Table` of their combinations (built by the
caller from the combinations with a positive count only) → row, with a
``target`` count, the records' ``current`` count and a ``weight`` per row.

Guarantee kept by every change: a record's new combinations are all looked up
first, and the change is refused unless every one of them is in the table.
Records that start inside the aggregates (aggregate-seeded ones) therefore
never hold a combination of length <= ``length`` the aggregates do not
contain. Moving record r's column c from attribute a to b only touches the
combinations holding a or b: a or b with up to ``length - 1`` of the record's
other attributes (1 + 19 + 171 with 20 columns and length 3).

:func:`local_search` keeps a change when it lowers the weighted L1 error
``sum_row weight * |current - target|``. Its randomness is the kernels' own
(:mod:`.rng`, one stream): the kernel reads only released counts.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..config import JIT
from .keys import INLINE, find_ids, key_words, next_subset
from .rng import below, new_state


@njit(**JIT)
def record_ids(codes, r, offsets, skip, out):
    """Sorted attribute ids of record r into ``out``, column ``skip`` left out (-1: none); how many."""
    m = 0
    for c in range(codes.shape[1]):
        v = codes[r, c]
        if c != skip and v > 0:
            out[m] = offsets[c] + v - 1
            m += 1
    return m


@njit(**INLINE)
def find_row(table, dense, comb, n, key):
    """Row of the sorted combination ``comb[:n]``, or -1: from ``dense`` when it is given (see
    :func:`dense_rows`), else from the hash table."""
    if dense.shape[0] > 1:
        base = table.radix
        i = 0
        for t in range(n):
            i = i * base + comb[t] + 1
        return np.int64(dense[i])
    return find_ids(table, comb, n, key)


@njit(**JIT)
def dense_rows(table, combos, lengths, size):
    """A direct-address array over every combination's index ``sum (a_i + 1) * radix**(n - 1 - i)``
    (below ``size``) → its row, -1 elsewhere: lookups without hashing when the attributes are few."""
    dense = np.full(size, -1, dtype=np.int32)
    base = table.radix
    for r in range(combos.shape[0]):
        i = 0
        for t in range(lengths[r]):
            i = i * base + combos[r, t] + 1
        dense[i] = r
    return dense


@njit(**JIT)
def rows_with(table, dense, others, m, x, length, strict, idx, comb, key, rows):
    """Rows of every combination of attribute ``x`` with up to ``length - 1`` of ``others[:m]``.

    ``others`` is sorted and does not hold x. Shorter combinations come first,
    so an absent attribute or pair is found early. With ``strict``, returns -1
    at the first combination absent from the table; otherwise absent ones are
    skipped. Returns how many rows were written to ``rows``.
    """
    n_rows = 0
    for j in range(min(length - 1, m) + 1):
        for s in range(j):
            idx[s] = s
        while True:
            n = 0
            placed = False
            for t in range(j):
                a = others[idx[t]]
                if not placed and x < a:
                    comb[n] = x
                    n += 1
                    placed = True
                comb[n] = a
                n += 1
            if not placed:
                comb[n] = x
                n += 1
            row = find_row(table, dense, comb, n, key)
            if row >= 0:
                rows[n_rows] = row
                n_rows += 1
            elif strict:
                return -1
            if not next_subset(idx, j, m):
                break
    return n_rows


@njit(**JIT)
def combination_counts(codes, offsets, table, dense, length, current):
    """Add every record's combinations of 1..``length`` attributes to ``current`` (by row).

    Returns how many record combinations are absent from the table (0 when
    every record lies inside the aggregates).
    """
    n_cols = codes.shape[1]
    ids = np.empty(n_cols + 1, dtype=np.int64)
    idx = np.empty(length + 1, dtype=np.int64)
    comb = np.empty(length + 1, dtype=np.int64)
    key = np.zeros(key_words(table), dtype=np.int64)
    absent = 0
    for r in range(codes.shape[0]):
        m = record_ids(codes, r, offsets, -1, ids)
        for j in range(1, min(length, m) + 1):
            for s in range(j):
                idx[s] = s
            while True:
                for t in range(j):
                    comb[t] = ids[idx[t]]
                row = find_row(table, dense, comb, j, key)
                if row >= 0:
                    current[row] += 1
                else:
                    absent += 1
                if not next_subset(idx, j, m):
                    break
    return absent


@njit(**JIT)
def _delta(rows, n, sign, target, current, weight):
    """Change of the weighted error if every row of ``rows[:n]`` gained ``sign`` (+1 or -1)."""
    gain = 0.0
    for i in range(n):
        row = rows[i]
        c = current[row]
        t = target[row]
        gain += weight[row] * (abs(c + sign - t) - abs(c - t))
    return gain


@njit(**JIT)
def _shift(rows, n, sign, current):
    for i in range(n):
        current[rows[i]] += sign


@njit(**JIT)
def move_gain(codes, r, c, v, offsets, table, dense, length, target, current, weight, scratch, old_rows, new_rows):
    """Record r's column c becoming code v: ``(allowed, gain, n_old, n_new)``.

    ``old_rows[:n_old]`` are the combinations the record loses, ``new_rows[:n_new]``
    those it gains; not allowed (gain 0) when one it would gain is absent.
    ``scratch`` is ``(others, idx, comb, key)``.
    """
    others, idx, comb, key = scratch
    m = record_ids(codes, r, offsets, c, others)
    old = np.int64(codes[r, c])
    n_new = 0
    n_old = 0
    if v > 0:
        n_new = rows_with(table, dense, others, m, offsets[c] + v - 1, length, True, idx, comb, key, new_rows)
        if n_new < 0:
            return False, 0.0, 0, 0
    if old > 0:
        n_old = rows_with(table, dense, others, m, offsets[c] + old - 1, length, False, idx, comb, key, old_rows)
    gain = _delta(old_rows, n_old, -1, target, current, weight)
    gain += _delta(new_rows, n_new, 1, target, current, weight)
    return True, gain, n_old, n_new


@njit(**JIT)
def _apply(codes, r, c, v, current, old_rows, n_old, new_rows, n_new):
    _shift(old_rows, n_old, -1, current)
    _shift(new_rows, n_new, 1, current)
    codes[r, c] = v


@njit(**JIT)
def local_search(codes, radix, offsets, table, dense, length, target, current, weight, steps, seed):
    """``steps`` proposals; returns how many changes were kept.

    ``current`` must hold the counts of ``codes`` (:func:`combination_counts`);
    both are updated in place. Each proposal draws a column c, a record r and
    a kind: half give r's column c a code drawn uniformly from ``0 ..
    radix[c] - 1`` (0: no attribute), half swap column c between r and a
    second record (which keeps c's 1-way counts). A change is kept only when
    it is allowed for every record it touches and lowers the weighted error.
    """
    n, n_cols = codes.shape
    if n == 0 or n_cols == 0:
        return 0
    state = new_state(seed)
    others = np.empty(n_cols + 1, dtype=np.int64)
    scratch = (others, np.empty(length + 1, dtype=np.int64), np.empty(length + 1, dtype=np.int64),
               np.zeros(key_words(table), dtype=np.int64))  # fmt: skip
    size = 1
    term = 1
    for j in range(1, length):  # sum of C(n_cols - 1, j) for j < length
        term = term * (n_cols - j) // j
        size += term
    old_a = np.empty(size, dtype=np.int64)
    new_a = np.empty(size, dtype=np.int64)
    old_b = np.empty(size, dtype=np.int64)
    new_b = np.empty(size, dtype=np.int64)
    kept = 0
    for _ in range(steps):
        c = np.int64(below(state, n_cols))
        r = np.int64(below(state, n))
        if below(state, 2) == 0:
            v = np.int64(below(state, radix[c]))
            if v == codes[r, c]:
                continue
            ok, gain, n_old, n_new = move_gain(
                codes, r, c, v, offsets, table, dense, length, target, current, weight, scratch, old_a, new_a
            )
            if ok and gain < 0.0:
                _apply(codes, r, c, v, current, old_a, n_old, new_a, n_new)
                kept += 1
            continue
        o = np.int64(below(state, n))
        v = np.int64(codes[r, c])
        w = np.int64(codes[o, c])
        if v == w:
            continue
        ok, first, n_old, n_new = move_gain(
            codes, r, c, w, offsets, table, dense, length, target, current, weight, scratch, old_a, new_a
        )
        if not ok:
            continue
        _apply(codes, r, c, w, current, old_a, n_old, new_a, n_new)
        ok, second, m_old, m_new = move_gain(
            codes, o, c, v, offsets, table, dense, length, target, current, weight, scratch, old_b, new_b
        )
        if ok and first + second < 0.0:
            _apply(codes, o, c, v, current, old_b, m_old, new_b, m_new)
            kept += 1
        else:
            _apply(codes, r, c, v, current, new_a, n_new, old_a, n_old)
    return kept
