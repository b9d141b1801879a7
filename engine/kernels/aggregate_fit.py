"""Kernels of fitting records to k-anonymous aggregates without leaving them.

Records are ``codes[r, c]`` (record-major): column c's code of record r, 0 =
no attribute, j >= 1 = attribute ``offsets[c] + j - 1``. A record's
combinations are the sets of up to ``length`` of its attributes. The
aggregates are a :class:`~.keys.Table` of their combinations (built by the
caller from the combinations with a positive count only) → row, with a
``fit[row] = (the records' count, the target count)``.

Guarantee kept by every change: a record's new combinations are all looked up
first, and the change is refused unless every one of them is in the table.
Records that start inside the aggregates (aggregate-seeded ones) therefore
never hold a combination of length <= ``length`` the aggregates do not
contain. Moving record r's column c from attribute a to b only touches the
combinations holding a or b: a or b with up to ``length - 1`` of the record's
other attributes (1 + 19 + 171 with 20 columns and length 3).

:func:`local_search` keeps a change when it lowers the L1 error
``sum_row |fit[row, 0] - fit[row, 1]|``. Its randomness is the kernels' own
(:mod:`.rng`, one stream): the kernel reads only released counts.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..config import BORROW_JIT, JIT
from .keys import INLINE, find_ids, key_words, next_subset
from .rng import below


@njit(**BORROW_JIT)
def record_ids(codes, r, offsets, skip, n_real, missing, out):
    """Sorted ids of record r into ``out``, column ``skip`` left out (-1: none); how many.

    With ``missing``, an empty column d is the id ``n_real + d`` (after every attribute id).
    """
    m = 0
    for c in range(codes.shape[1]):
        v = codes[r, c]
        if c != skip and v > 0:
            out[m] = offsets[c] + v - 1
            m += 1
    if missing:
        for c in range(codes.shape[1]):
            if c != skip and codes[r, c] == 0:
                out[m] = n_real + c
                m += 1
    return m


@njit(**INLINE)
def cell_id(c, v, offsets, n_real, missing):
    """Id of code v in column c: its attribute, or (v = 0) the column's "missing" id (else -1)."""
    if v > 0:
        return offsets[c] + v - 1
    return n_real + c if missing else -1


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


@njit(**BORROW_JIT)
def rows_with(table, dense, others, m, x, length, strict, n_real, idx, comb, key, rows):
    """Rows of every combination of id ``x`` with up to ``length - 1`` of ``others[:m]``.

    ``others`` is sorted and does not hold x. Shorter combinations come first,
    so an absent attribute or pair is found early. With ``strict``, returns -1
    at the first combination of attributes only (ids below ``n_real``) absent
    from the table; otherwise, and for combinations with a "missing" id, absent
    ones are skipped. Returns how many rows were written to ``rows``.
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
            elif strict and comb[n - 1] < n_real:
                return -1
            if not next_subset(idx, j, m):
                break
    return n_rows


@njit(**JIT)
def combination_counts(codes, offsets, table, dense, length, n_real, missing, fit):
    """Add every record's combinations of 1..``length`` ids to ``fit[:, 0]`` (by row).

    Returns how many record combinations of attributes only are absent from the
    table (0 when every record lies inside the aggregates).
    """
    n_cols = codes.shape[1]
    ids = np.empty(n_cols + 1, dtype=np.int64)
    idx = np.empty(length + 1, dtype=np.int64)
    comb = np.empty(length + 1, dtype=np.int64)
    key = np.zeros(key_words(table), dtype=np.int64)
    absent = 0
    for r in range(codes.shape[0]):
        m = record_ids(codes, r, offsets, -1, n_real, missing, ids)
        for j in range(1, min(length, m) + 1):
            for s in range(j):
                idx[s] = s
            while True:
                for t in range(j):
                    comb[t] = ids[idx[t]]
                row = find_row(table, dense, comb, j, key)
                if row >= 0:
                    fit[row, 0] += 1
                elif comb[j - 1] < n_real:
                    absent += 1
                if not next_subset(idx, j, m):
                    break
    return absent


@njit(**BORROW_JIT)
def _delta(rows, n, sign, fit):
    """Change of the error if every row of ``rows[:n]`` gained ``sign`` (+1 or -1)."""
    gain = 0.0
    for i in range(n):
        row = rows[i]
        c = fit[row, 0]
        t = fit[row, 1]
        gain += abs(c + sign - t) - abs(c - t)
    return gain


@njit(**BORROW_JIT)
def _shift(rows, n, sign, fit):
    for i in range(n):
        fit[rows[i], 0] += sign


@njit(**BORROW_JIT)
def move_gain(codes, r, c, v, layout, table, dense, length, fit, scratch, old_rows, new_rows):
    """Record r's column c becoming code v: ``(allowed, gain, n_old, n_new)``.

    ``old_rows[:n_old]`` are the combinations the record loses, ``new_rows[:n_new]``
    those it gains; not allowed (gain 0) when an attribute combination it would gain is
    absent. ``layout`` is ``(offsets, n_real, missing)``, ``scratch`` ``(others, idx, comb, key)``.
    """
    offsets, n_real, missing = layout
    others, idx, comb, key = scratch
    m = record_ids(codes, r, offsets, c, n_real, missing, others)
    old = np.int64(codes[r, c])
    n_new = 0
    n_old = 0
    x = cell_id(c, v, offsets, n_real, missing)
    if x >= 0:
        n_new = rows_with(table, dense, others, m, x, length, True, n_real, idx, comb, key, new_rows)
        if n_new < 0:
            return False, 0.0, 0, 0
    x = cell_id(c, old, offsets, n_real, missing)
    if x >= 0:
        n_old = rows_with(table, dense, others, m, x, length, False, n_real, idx, comb, key, old_rows)
    gain = _delta(old_rows, n_old, -1, fit)
    gain += _delta(new_rows, n_new, 1, fit)
    return True, gain, n_old, n_new


@njit(**BORROW_JIT)
def _apply(codes, r, c, v, fit, old_rows, n_old, new_rows, n_new):
    _shift(old_rows, n_old, -1, fit)
    _shift(new_rows, n_new, 1, fit)
    codes[r, c] = v


@njit(**BORROW_JIT)
def conflicts(codes, r, c, x, layout, table, dense, length, scratch, alive, bad, drop, ids, cols):
    """Columns of record r to empty so that attribute ``x`` fits in column c; how many (-1: x is absent).

    A column must go when x with its attribute is absent (or x with it and
    others, for longer combinations); among the attributes of an absent
    combination, the one in most absent combinations goes first (pairs
    outweigh everything), until every combination of x with what is left is
    in the table. The columns, in the order they go, are written to ``drop``
    (``alive``, ``bad``, ``ids``, ``cols``: scratch of one per column).
    """
    offsets = layout[0]
    others, idx, comb, key = scratch
    n_cols = codes.shape[1]
    m = 0
    for d in range(n_cols):
        v = codes[r, d]
        if d != c and v > 0:
            ids[m] = offsets[d] + v - 1
            cols[m] = d
            m += 1
    comb[0] = x
    if find_row(table, dense, comb, 1, key) < 0:
        return -1
    for i in range(m):
        alive[i] = True
    n_drop = 0
    while True:
        n_alive = 0
        for i in range(m):
            if alive[i]:
                others[n_alive] = i  # positions into ids
                n_alive += 1
        for i in range(n_alive):
            bad[i] = 0
        worst = -1
        for j in range(1, min(length - 1, n_alive) + 1):
            for s in range(j):
                idx[s] = s
            while True:
                n = 0
                placed = False
                for t in range(j):
                    a = ids[others[idx[t]]]
                    if not placed and x < a:
                        comb[n] = x
                        n += 1
                        placed = True
                    comb[n] = a
                    n += 1
                if not placed:
                    comb[n] = x
                    n += 1
                if find_row(table, dense, comb, n, key) < 0:
                    weight = 1 if j > 1 else n_cols * n_cols * n_cols
                    for t in range(j):
                        bad[idx[t]] += weight
                        if worst < 0 or bad[idx[t]] > bad[worst]:
                            worst = idx[t]
                if not next_subset(idx, j, n_alive):
                    break
        if worst < 0:
            return n_drop
        alive[others[worst]] = False
        drop[n_drop] = cols[others[worst]]
        n_drop += 1


@njit(**BORROW_JIT)
def _set_with_room(codes, r, c, v, layout, table, dense, length, fit, scratch,
                   old_rows, new_rows, n_rows, alive, bad, drop, saved, ids, cols):  # fmt: skip
    """Record r's column c becomes v, emptying the columns :func:`conflicts` names first; kept
    (True) when that lowers the error, else undone (False).

    Step i (the emptied columns, then c) keeps its rows in ``old_rows[i]`` and
    ``new_rows[i]`` (their numbers in ``n_rows[i]``), so undoing is a matter of
    counts and codes. Without a column to empty, nothing is changed unless kept.
    """
    ok, gain, n_old, n_new = move_gain(
        codes,
        r,
        c,
        v,
        layout,
        table,
        dense,
        length,
        fit,
        scratch,
        old_rows[0],
        new_rows[0],
    )
    if ok:  # nothing to empty
        if gain < 0.0:
            _apply(codes, r, c, v, fit, old_rows[0], n_old, new_rows[0], n_new)
            return True
        return False
    x = layout[0][c] + v - 1  # v > 0: emptying a column is always allowed
    n_drop = conflicts(codes, r, c, x, layout, table, dense, length, scratch, alive, bad, drop, ids, cols)
    if n_drop <= 0:
        return False
    drop[n_drop] = c
    total = 0.0
    done = 0
    for i in range(n_drop + 1):
        d = drop[i]
        value = v if i == n_drop else 0
        ok, gain, n_old, n_new = move_gain(
            codes, r, d, value, layout, table, dense, length, fit, scratch, old_rows[i],
            new_rows[i],
        )  # fmt: skip
        if not ok:
            break
        saved[i] = codes[r, d]
        n_rows[i, 0] = n_old
        n_rows[i, 1] = n_new
        _apply(codes, r, d, value, fit, old_rows[i], n_old, new_rows[i], n_new)
        total += gain
        done += 1
    if done == n_drop + 1 and total < 0.0:
        return True
    for i in range(done - 1, -1, -1):
        _apply(codes, r, drop[i], saved[i], fit, new_rows[i], n_rows[i, 1], old_rows[i], n_rows[i, 0])
    return False


@njit(**JIT)
def local_search(codes, radix, layout, table, dense, length, fit, steps, state):
    """``steps`` proposals; returns how many changes were kept.

    ``state`` is the search's random state (:func:`.rng.new_state`), advanced in place: calls
    of a few proposals each, with the same state, make exactly the changes of one long call.

    ``fit[:, 0]`` must hold the counts of ``codes`` (:func:`combination_counts`);
    both are updated in place. Each proposal draws a column c, a record r and
    a kind: half give r's column c a code drawn uniformly from ``0 ..
    radix[c] - 1`` (0: no attribute), half swap column c between r and a
    second record (which keeps c's 1-way counts). A change is kept only when
    it is allowed for every record it touches and lowers the error.
    """
    n, n_cols = codes.shape
    if n == 0 or n_cols == 0:
        return 0
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
    step_old = np.empty((n_cols + 1, size), dtype=np.int64)
    step_new = np.empty((n_cols + 1, size), dtype=np.int64)
    n_rows = np.zeros((n_cols + 1, 2), dtype=np.int64)
    alive = np.zeros(n_cols, dtype=np.bool_)
    bad = np.zeros(n_cols, dtype=np.int64)
    drop = np.zeros(n_cols + 1, dtype=np.int64)
    saved = np.zeros(n_cols + 1, dtype=np.int64)
    ids = np.zeros(n_cols, dtype=np.int64)
    cols = np.zeros(n_cols, dtype=np.int64)
    kept = 0
    for _ in range(steps):
        c = np.int64(below(state, n_cols))
        r = np.int64(below(state, n))
        if below(state, 2) == 0:
            v = np.int64(below(state, radix[c]))
            if v == codes[r, c]:
                continue
            if _set_with_room(codes, r, c, v, layout, table, dense, length, fit, scratch,
                              step_old, step_new, n_rows, alive, bad, drop, saved, ids, cols):  # fmt: skip
                kept += 1
            continue
        o = np.int64(below(state, n))
        v = np.int64(codes[r, c])
        w = np.int64(codes[o, c])
        if v == w:
            continue
        ok, first, n_old, n_new = move_gain(
            codes, r, c, w, layout, table, dense, length, fit, scratch, old_a, new_a
        )
        if not ok:
            continue
        _apply(codes, r, c, w, fit, old_a, n_old, new_a, n_new)
        ok, second, m_old, m_new = move_gain(
            codes, o, c, v, layout, table, dense, length, fit, scratch, old_b, new_b
        )
        if ok and first + second < 0.0:
            _apply(codes, o, c, v, fit, old_b, m_old, new_b, m_new)
            kept += 1
        else:
            _apply(codes, r, c, v, fit, new_a, n_new, old_a, n_old)
    return kept
