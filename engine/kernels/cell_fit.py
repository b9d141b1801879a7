"""Kernels of fitting records to k-anonymous aggregates over dense cell arrays, one per column set.

The search of :mod:`.aggregate_fit` with cheaper lookups, and two more
ingredients: a proposal that gives a cell its best code, and a first phase
that lowers the squared error before the L1 error. Every set S of 1..L columns owns a dense
block of cells, one per tuple of codes on S (code 0 = empty), in ``slack``:
the target count of the combination that cell stands for minus the records'
count, or NaN for a *forbidden* cell (all codes non-zero and the combination
absent from the aggregates). A record sits in exactly one cell of each set,
so moving record r's column c from code v to w moves it, in each set holding
c, from cell ``p + v * own`` to ``p + w * own`` (``p`` from r's other codes):
one address computation and at most two reads per set, no hashing, in arrays
of a few MB (a cache-resident bit of work where the combination table was a
cache miss). A cell with an empty code is never forbidden: the combination of
its non-empty codes is checked in the smaller set that holds just them.

Layout, for column c and its i-th set (sets by size, then in lexicographic
order of their other columns; i = 0 is {c} alone): ``base[c, i]`` the first
cell of the set, ``own[c, i]`` c's stride, ``other[c, i, :]`` the other
columns (-1 after the last) and ``stride[c, i, :]`` theirs; ``lay`` is
``(base, own, other, stride, rules)``.

Guarantee kept by every change: the change is refused when a cell it moves a
record into is forbidden, so records that start inside the aggregates never
hold a combination of length <= L the aggregates lack; it is refused too when
it would complete a declared constraint (``rules``, :mod:`.constraints`), so
records that start without violations end without. Without ``missing``,
cells with an empty code are left out of the error (not of the guarantee).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..config import BORROW_JIT, JIT, PARALLEL_JIT
from .constraints import violates_with
from .keys import INLINE
from .rng import below

#: Records whose codes :func:`cell_counts` keeps in cache while it goes through a column's sets.
_COUNT_BLOCK = 2048


@njit(**INLINE)
def _enter(s, squared):
    """Change of the error when a record enters a cell of slack s (target minus count)."""
    if squared:
        return 1.0 - 2.0 * s
    return abs(s - 1.0) - abs(s)


@njit(**INLINE)
def _leave(s, squared):
    """Change of the error when a record leaves a cell of slack s."""
    if squared:
        return 1.0 + 2.0 * s
    return abs(s + 1.0) - abs(s)


@njit(**INLINE)
def _others(codes, r, c, i, base, other, stride):
    """Record r's cell in set i of column c, c's own code left out; and whether its other columns are
    all filled (the cell is a real combination, not one with a missing column)."""
    p = base[c, i]
    real = True
    for t in range(other.shape[2]):
        d = other[c, i, t]
        if d < 0:
            break
        code = codes[r, d]
        p += code * stride[c, i, t]
        if code == 0:
            real = False
    return p, real


@njit(**PARALLEL_JIT)
def cell_counts(codes, base, own, other, stride, slack):
    """Subtract every record's cells from ``slack``; how many forbidden cells the records hold.

    Each set is counted once, from its first column (the sets of c whose other columns all follow c).
    Columns run in parallel: their sets own disjoint blocks of ``slack``, and each cell still takes
    the records in order, so ``slack`` is the same whatever the threads. Records go in blocks, and a
    block is taken through all of a column's sets while its codes are in cache.
    """
    n, n_cols = codes.shape
    n_sets = base.shape[1]
    width = other.shape[2]
    held = np.zeros(n_cols, dtype=np.int64)
    for c in prange(n_cols):
        for lo in range(0, n, _COUNT_BLOCK):
            hi = min(n, lo + _COUNT_BLOCK)
            for i in range(n_sets):
                if width > 0 and other[c, i, 0] >= 0 and other[c, i, 0] < c:
                    continue
                for r in range(lo, hi):
                    p, real = _others(codes, r, c, i, base, other, stride)
                    p += codes[r, c] * own[c, i]
                    if real and codes[r, c] > 0 and np.isnan(slack[p]):
                        held[c] += 1
                    else:
                        slack[p] -= 1.0
    return held.sum()


@njit(**BORROW_JIT)
def move_gain(codes, r, c, w, lay, slack, missing, squared, old_idx, new_idx):
    """Record r's column c becoming code w: ``(allowed, change of the L1 error)``.

    The cells it leaves go to ``old_idx``, those it enters to ``new_idx`` (-1: not in the
    error); not allowed (nothing written that matters) when one it enters is forbidden.
    """
    base, own, other, stride, rules = lay
    v = codes[r, c]
    gain = 0.0
    if w > 0 and violates_with(codes[r], c, w, rules):
        return False, 0.0
    for i in range(base.shape[1]):
        p, real = _others(codes, r, c, i, base, other, stride)
        q = p + w * own[c, i]
        s = slack[q]
        if w > 0 and real and np.isnan(s):
            return False, 0.0
        if missing or (w > 0 and real):
            gain += _enter(s, squared)
            new_idx[i] = q
        else:
            new_idx[i] = -1
        q = p + v * own[c, i]
        if missing or (v > 0 and real):
            s = slack[q]
            gain += _leave(s, squared)
            old_idx[i] = q
        else:
            old_idx[i] = -1
    return True, gain


@njit(**BORROW_JIT)
def apply(codes, r, c, w, slack, old_idx, new_idx):
    """Record r's column c becomes w: it leaves the cells ``old_idx`` and enters ``new_idx``."""
    for i in range(old_idx.shape[0]):
        if old_idx[i] >= 0:
            slack[old_idx[i]] += 1.0
        if new_idx[i] >= 0:
            slack[new_idx[i]] -= 1.0
    codes[r, c] = w


@njit(**BORROW_JIT)
def conflicts(codes, r, c, w, lay, slack, alive, bad, drop):
    """Columns of record r to empty so that code w > 0 fits in column c; how many (-1: w alone is absent).

    Among the non-empty columns of r (c left out), those forming with w a
    forbidden cell of some set are candidates; the column in most forbidden
    cells goes first (a pair outweighs every triple), until none is left.
    The columns, in the order they go, are written to ``drop``; ``alive``
    and ``bad`` are scratch of one per column.
    """
    base, own, other, stride, rules = lay
    n_cols = codes.shape[1]
    width = other.shape[2]
    if np.isnan(slack[base[c, 0] + w * own[c, 0]]):
        return -1
    for d in range(n_cols):
        alive[d] = d != c and codes[r, d] > 0
    n_drop = 0
    while True:
        for d in range(n_cols):
            bad[d] = 0
        worst = -1
        for i in range(1, base.shape[1]):
            p = base[c, i] + w * own[c, i]
            size = 0
            ok = True
            for t in range(width):
                d = other[c, i, t]
                if d < 0:
                    break
                if not alive[d]:
                    ok = False
                    break
                p += codes[r, d] * stride[c, i, t]
                size += 1
            if not ok or not np.isnan(slack[p]):
                continue
            weight = 1 if size > 1 else n_cols * n_cols * n_cols
            for t in range(size):
                d = other[c, i, t]
                bad[d] += weight
                if worst < 0 or bad[d] > bad[worst]:
                    worst = d
        if worst < 0:
            return n_drop
        alive[worst] = False
        drop[n_drop] = worst
        n_drop += 1


@njit(**BORROW_JIT)
def set_with_room(codes, r, c, w, lay, slack, missing, squared, step_old, step_new, alive, bad, drop, saved):
    """Record r's column c becomes w, emptying first the columns :func:`conflicts` names; kept (True)
    when that lowers the error, else undone (False)."""
    ok, gain = move_gain(codes, r, c, w, lay, slack, missing, squared, step_old[0], step_new[0])
    if ok:
        if gain < 0.0:
            apply(codes, r, c, w, slack, step_old[0], step_new[0])
            return True
        return False
    n_drop = conflicts(codes, r, c, w, lay, slack, alive, bad, drop)
    if n_drop <= 0:
        return False
    drop[n_drop] = c
    total = 0.0
    done = 0
    for i in range(n_drop + 1):
        d = drop[i]
        value = w if i == n_drop else 0
        ok, gain = move_gain(codes, r, d, value, lay, slack, missing, squared, step_old[i], step_new[i])
        if not ok:
            break
        saved[i] = codes[r, d]
        apply(codes, r, d, value, slack, step_old[i], step_new[i])
        total += gain
        done += 1
    if done == n_drop + 1 and total < 0.0:
        return True
    for i in range(done - 1, -1, -1):
        apply(codes, r, drop[i], saved[i], slack, step_new[i], step_old[i])
    return False


@njit(**BORROW_JIT)
def best_value(codes, r, c, lay, slack, missing, squared, n_values, gains, allowed, old_idx, new_idx):
    """Record r's column c takes, of the codes ``0 .. n_values - 1`` it may take without emptying
    another column, the one that lowers the error most (the first of equals); kept (True) when
    it lowers it at all.

    One pass over c's sets gives every code's change (``gains``, ``allowed``: scratch of one per code).
    """
    base, own, other, stride, rules = lay
    v = codes[r, c]
    for w in range(n_values):
        gains[w] = 0.0
        allowed[w] = w != v and not (w > 0 and violates_with(codes[r], c, w, rules))
    leave = 0.0
    for i in range(base.shape[1]):
        p, real = _others(codes, r, c, i, base, other, stride)
        step = own[c, i]
        if missing or (v > 0 and real):
            s = slack[p + v * step]
            leave += _leave(s, squared)
        for w in range(n_values):
            if not allowed[w]:
                continue
            s = slack[p + w * step]
            if w > 0 and real:
                if np.isnan(s):
                    allowed[w] = False
                    continue
                gains[w] += _enter(s, squared)
            elif missing:
                gains[w] += _enter(s, squared)
    best = -1
    for w in range(n_values):
        if allowed[w] and (best < 0 or gains[w] < gains[best]):
            best = w
    if best < 0 or gains[best] + leave >= 0.0:
        return False
    move_gain(codes, r, c, best, lay, slack, missing, squared, old_idx, new_idx)
    apply(codes, r, c, best, slack, old_idx, new_idx)
    return True


@njit(**JIT)
def local_search(codes, radix, lay, slack, missing, squared_steps, first, steps, state, mix):
    """Proposals ``first .. steps - 1`` of a search; returns how many changes were kept.

    ``state`` is the search's random state (:func:`.rng.new_state`), advanced in place: calls
    over consecutive runs of proposals, with the same state, make exactly the changes of one
    call over all of them (so a caller may report progress, or be interrupted, in between).

    ``slack`` must hold targets minus the counts of ``codes`` (:func:`cell_counts`); both are
    updated in place. Each proposal draws a column c, a record r and a kind, with weights
    ``mix``: (0) a code drawn uniformly from ``0 .. radix[c] - 1``, emptying first the
    columns that keep it out (:func:`set_with_room`); (1) a swap of column c with a second
    record (c's 1-way counts stay); (2) the best code r's column c may take (:func:`best_value`).
    A change is kept only when it is allowed for every record it touches and lowers the
    error: the squared error for the first ``squared_steps`` proposals (large errors first),
    then the L1 error (the distance k-marginal measures). With ``mix = (1, 1, 0)`` and no
    squared step it is the search of :func:`.aggregate_fit.local_search`, decision for decision.
    """
    n, n_cols = codes.shape
    if n == 0 or n_cols == 0:
        return 0
    n_sets = lay[0].shape[1]
    old_a = np.empty(n_sets, dtype=np.int64)
    new_a = np.empty(n_sets, dtype=np.int64)
    old_b = np.empty(n_sets, dtype=np.int64)
    new_b = np.empty(n_sets, dtype=np.int64)
    step_old = np.empty((n_cols + 1, n_sets), dtype=np.int64)
    step_new = np.empty((n_cols + 1, n_sets), dtype=np.int64)
    alive = np.zeros(n_cols, dtype=np.bool_)
    bad = np.zeros(n_cols, dtype=np.int64)
    drop = np.zeros(n_cols + 1, dtype=np.int64)
    saved = np.zeros(n_cols + 1, dtype=np.int64)
    n_values = 1
    for c in range(n_cols):
        n_values = max(n_values, radix[c])
    gains = np.zeros(n_values, dtype=np.float64)
    allowed = np.zeros(n_values, dtype=np.bool_)
    kinds = mix[0] + mix[1] + mix[2]
    kept = 0
    for step in range(first, steps):
        squared = step < squared_steps
        c = np.int64(below(state, n_cols))
        r = np.int64(below(state, n))
        kind = below(state, kinds)
        if kind >= mix[0] + mix[1]:
            if best_value(codes, r, c, lay, slack, missing, squared, radix[c], gains, allowed, old_a, new_a):
                kept += 1
            continue
        if kind < mix[0]:
            v = np.int64(below(state, radix[c]))
            if v == codes[r, c]:
                continue
            if set_with_room(
                codes, r, c, v, lay, slack, missing, squared, step_old, step_new, alive, bad, drop, saved
            ):
                kept += 1
            continue
        o = np.int64(below(state, n))
        v = np.int64(codes[r, c])
        w = np.int64(codes[o, c])
        if v == w:
            continue
        ok, first = move_gain(codes, r, c, w, lay, slack, missing, squared, old_a, new_a)
        if not ok:
            continue
        apply(codes, r, c, w, slack, old_a, new_a)
        ok, second = move_gain(codes, o, c, v, lay, slack, missing, squared, old_b, new_b)
        if ok and first + second < 0.0:
            apply(codes, o, c, v, slack, old_b, new_b)
            kept += 1
        else:
            apply(codes, r, c, v, slack, new_a, old_a)
    return kept
