"""Support counting: how many sensitive records contain every attribute of a combination.

The synthesis modes that read sensitive data grow records one attribute at a
time and keep an attribute only while the combination built so far is shared
by at least ``k`` sensitive records. This module holds the index that makes
that test cheap and the kernels that run it.

The index is a tuple of arrays, ``(codes, offsets, attr_col, attr_code,
counts, dense_slot, bitmaps, sparse_start, sparse_rows, pairs, row_codes)``:

* ids ``0 .. n_attributes - 1`` are the attributes, ids ``n_attributes + c``
  stand for "no attribute in column c" (used to condition on absence);
  ``attr_col``/``attr_code`` give each id's column and code, ``counts`` its
  number of records;
* a *dense* id (more than ``n_rows / 64`` records) has a row bitmap, one bit
  per record in uint64 words, ``bitmaps[dense_slot[a]]``;
* a *sparse* id has the sorted list of its records,
  ``sparse_rows[sparse_start[a]:sparse_start[a + 1]]``;
* ``pairs[a, b]`` is the number of records holding both ids (an empty array
  when there are too many ids to keep it): a combination is never more common
  than its rarest pair, so most rare combinations are rejected in O(length),
  and a combination of two ids is answered exactly;
* ``row_codes`` is ``codes.T``, a view (``row_codes[r, c]`` is record
  ``r``'s code in column ``c``): a test of a sparse id on a listed support set
  reads one column, in record order.

The support set ``M`` of the combination being grown lives in a *work* tuple
``(state, selected, dense_selected, rows, words, cached)``, in one of three modes:

* mode 0 — empty combination: ``M`` is every record;
* mode 1 — only dense ids so far: ``M`` is the AND of their bitmaps, kept in
  ``words`` block by block (64 words) as far as tests have needed it; a block
  that is missing bitmaps selected since it was last read has them ANDed in
  (simple loops that vectorise), so a test reads about two words per word
  scanned; a test stops after the block where ``exit_hits`` matches are seen,
  which also estimates ``|M|``;
* mode 2 — ``M`` is listed in ``rows`` (sorted record ids), from the moment a
  sparse id is accepted or the estimated support is ``list_max`` or less; a
  test looks up one bit (a dense id's bitmap stays in cache) or one code (a
  sparse id) per listed record, and an accepted id filters the list in place.

A mode-1 test reads a few words while the combination is common and at most
one pass over ``n_rows / 64`` words (two bitmaps' worth, plus the bitmaps
selected since the last pass) when it is not; a mode-2 test reads ``|M|``
bits or codes. ``state`` is int64 ``[mode, n_listed, n_selected, n_dense_selected,
generation]``; ``cached[0, block]`` is the generation (bumped by
:func:`reset`) in which ``words`` of that block were last brought up to
date, ``cached[1, block]`` how many selected bitmaps they hold. Kernels
never raise: callers size every buffer.
"""

from __future__ import annotations

import types

import numpy as np
from numba import njit, prange

from ..config import BORROW_JIT, JIT, PARALLEL_JIT
from .simd import LANES, equal_bits, nonzero_bits, trailing_zeros

MODE_ALL = 0
MODE_BITMAP = 1
MODE_LIST = 2

#: Positions in ``state``.
S_MODE = 0
S_LISTED = 1
S_SELECTED = 2
S_DENSE = 3
S_GENERATION = 4

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
#: Words per block of a bitmap scan (a test stops at the end of a block): one vector compare's
#: worth when its set words are listed (:func:`_list_words`).
_BLOCK = LANES
#: A column with this many values or fewer ("no attribute" counted) fills its
#: bitmaps by vector compares, one pass per value (see :func:`_index_column`).
PACK_VALUES = 32


@njit(**BORROW_JIT)
def popcount(x):
    """Number of set bits of a uint64 (SWAR; LLVM turns it into one instruction)."""
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return np.int64((x * _H01) >> np.uint64(56))


def one_thread(kernel, name: str):
    """``kernel`` compiled again without ``parallel``, as ``name``: its ``prange`` loops run as
    plain loops, for work already spread over threads. The copy has a name of its own, so that
    Numba's cache keeps the two compilations apart."""
    py = kernel.py_func
    twin = types.FunctionType(py.__code__, py.__globals__, name, py.__defaults__, py.__closure__)
    twin.__qualname__ = name
    twin.__doc__ = f":func:`{py.__name__}` on one thread (for work already spread over threads)."
    return njit(**JIT)(twin)


# --- building the index ---------------------------------------------------------------------


@njit(**JIT)
def _count_column(codes, offsets, c, counts):
    """Add column ``c``'s attribute counts to ``counts``.

    Four histograms take turns, so that runs of one common code do not wait
    on each other's increments.
    """
    column = codes[c]
    n_rows = codes.shape[1]
    n_values = offsets[c + 1] - offsets[c]
    lanes = np.zeros((4, n_values + 1), dtype=np.int64)
    stop = n_rows - n_rows % 4
    for r in range(0, stop, 4):
        lanes[0, column[r]] += 1
        lanes[1, column[r + 1]] += 1
        lanes[2, column[r + 2]] += 1
        lanes[3, column[r + 3]] += 1
    for r in range(stop, n_rows):
        lanes[0, column[r]] += 1
    for v in range(1, n_values + 1):
        counts[offsets[c] + v - 1] += lanes[0, v] + lanes[1, v] + lanes[2, v] + lanes[3, v]


@njit(**PARALLEL_JIT)
def attribute_counts(codes, offsets):
    """Record count of every attribute id (``offsets[c] + v - 1`` for code ``v`` of column ``c``)."""
    counts = np.zeros(offsets[codes.shape[0]], dtype=np.int64)
    for c in prange(codes.shape[0]):
        _count_column(codes, offsets, c, counts)
    return counts


attribute_counts_serial = one_thread(attribute_counts, "attribute_counts_serial")


@njit(**BORROW_JIT)
def _store_word(bitmaps, sparse_rows, cursor, slot, a, w, x):
    """Word ``w`` of id ``a``'s records: stored in its bitmap, or listed (a sparse id)."""
    if slot >= 0:
        bitmaps[slot, w] = x
        return
    while x != 0:
        sparse_rows[cursor[a]] = w * 64 + trailing_zeros(x)
        cursor[a] += 1
        x &= x - np.uint64(1)


@njit(**JIT)
def _index_column(codes, offsets, dense_slot, c, bitmaps, sparse_rows, cursor):
    """Fill column ``c``'s bitmaps and lists, 64 records (one bitmap word) at a time.

    A column of few values (``PACK_VALUES`` or fewer, "no attribute" counted)
    is read once per value, 64 codes per vector compare
    (:func:`~.simd.equal_bits`). Otherwise the words of every code are built
    in one pass, in four lanes that take turns, so that a run of one common
    code does not wait on its own last update.
    """
    column = codes[c]
    n_rows = codes.shape[1]
    n_values = offsets[c + 1] - offsets[c]
    n_full = n_rows // 64
    ids = np.empty(n_values + 1, dtype=np.int64)
    ids[0] = offsets[codes.shape[0]] + c
    for v in range(1, n_values + 1):
        ids[v] = offsets[c] + v - 1
    slots = np.empty(n_values + 1, dtype=np.int64)
    for v in range(n_values + 1):
        slots[v] = dense_slot[ids[v]]
    one = np.uint64(1)
    if n_values + 1 <= PACK_VALUES:
        for v in range(n_values + 1):
            code = column.dtype.type(v)
            for w in range(n_full):
                x = equal_bits(column, w * 64, code)
                if x != 0:
                    _store_word(bitmaps, sparse_rows, cursor, slots[v], ids[v], w, x)
            x = np.uint64(0)
            for r in range(n_full * 64, n_rows):
                if column[r] == code:
                    x |= one << np.uint64(r - n_full * 64)
            if x != 0:
                _store_word(bitmaps, sparse_rows, cursor, slots[v], ids[v], n_full, x)
        return
    lanes = np.zeros((4, n_values + 1), dtype=np.uint64)
    for w in range((n_rows + 63) // 64):
        lo = w * 64
        if w < n_full:
            for i in range(0, 64, 4):
                lanes[0, column[lo + i]] |= one << np.uint64(i)
                lanes[1, column[lo + i + 1]] |= one << np.uint64(i + 1)
                lanes[2, column[lo + i + 2]] |= one << np.uint64(i + 2)
                lanes[3, column[lo + i + 3]] |= one << np.uint64(i + 3)
        else:
            for r in range(lo, n_rows):
                lanes[0, column[r]] |= one << np.uint64(r - lo)
        for v in range(n_values + 1):
            x = lanes[0, v] | lanes[1, v] | lanes[2, v] | lanes[3, v]
            if x == 0:
                continue
            lanes[0, v] = 0
            lanes[1, v] = 0
            lanes[2, v] = 0
            lanes[3, v] = 0
            _store_word(bitmaps, sparse_rows, cursor, slots[v], ids[v], w, x)


@njit(**PARALLEL_JIT)
def fill_index(codes, offsets, dense_slot, sparse_start, n_dense, n_sparse_rows):
    """Bitmaps of the dense ids and record lists of the sparse ones.

    Work is split by column: every id belongs to one column, so no two threads
    write the same bitmap or list.
    """
    bitmaps = np.zeros((n_dense, (codes.shape[1] + 63) // 64), dtype=np.uint64)
    sparse_rows = np.empty(n_sparse_rows, dtype=np.int32)
    cursor = sparse_start[:-1].copy()
    for c in prange(codes.shape[0]):
        _index_column(codes, offsets, dense_slot, c, bitmaps, sparse_rows, cursor)
    return bitmaps, sparse_rows


fill_index_serial = one_thread(fill_index, "fill_index_serial")


@njit(**JIT)
def holder_codes(codes, column, code):
    """The codes of the records whose column ``column`` holds ``code``, in record order.

    ``codes[:, codes[column] == code]``: two passes over ``codes[column]`` (count,
    then list), then one per column, each reading its column in order.
    """
    n_columns, n_rows = codes.shape
    key = codes[column]
    n = 0
    for r in range(n_rows):
        n += np.int64(key[r] == code)
    rows = np.empty(n + 1, dtype=np.int64)
    n = 0
    for r in range(n_rows):
        rows[n] = r  # without a branch: kept when it holds the code (one slot spare for the last)
        n += np.int64(key[r] == code)
    out = np.empty((n_columns, n), dtype=codes.dtype)
    for c in range(n_columns):
        source = codes[c]
        target = out[c]
        for i in range(n):
            target[i] = source[rows[i]]
    return out


@njit(**PARALLEL_JIT)
def pair_counts(codes, offsets):
    """Records holding both ids, for every pair of ids (ids as in the index, "no attribute" included).

    Work is split by pair of columns; each pair of columns fills its own block
    of the matrix, so no two threads write the same cell.
    """
    n_columns, n_rows = codes.shape
    n_ids = offsets[n_columns] + n_columns
    pairs = np.zeros((n_ids, n_ids), dtype=np.int32)
    n_column_pairs = n_columns * (n_columns - 1) // 2
    firsts = np.empty(n_column_pairs, dtype=np.int64)
    seconds = np.empty(n_column_pairs, dtype=np.int64)
    q = 0
    for c in range(n_columns):
        for d in range(c + 1, n_columns):
            firsts[q] = c
            seconds[q] = d
            q += 1
    for q in prange(n_column_pairs):
        first, second = firsts[q], seconds[q]
        column_a, column_b = codes[first], codes[second]
        base_a, base_b = offsets[first] - 1, offsets[second] - 1
        empty_a, empty_b = offsets[n_columns] + first, offsets[n_columns] + second
        for r in range(n_rows):
            va, vb = np.int64(column_a[r]), np.int64(column_b[r])
            a = base_a + va if va > 0 else empty_a
            b = base_b + vb if vb > 0 else empty_b
            pairs[a, b] += 1
    for a in prange(n_ids):
        for b in range(a + 1, n_ids):
            both = pairs[a, b] + pairs[b, a]
            pairs[a, b] = both
            pairs[b, a] = both
    return pairs


# --- growing a combination ------------------------------------------------------------------


@njit(**JIT)
def new_work(n_columns, n_rows):
    """Scratch for growing one combination at a time (one per thread)."""
    state = np.zeros(5, dtype=np.int64)
    selected = np.empty(2 * n_columns, dtype=np.int64)
    dense_selected = np.empty(2 * n_columns, dtype=np.int64)
    rows = np.empty(n_rows, dtype=np.int32)
    n_words = (n_rows + 63) // 64
    words = np.empty(n_words, dtype=np.uint64)
    cached = np.zeros((2, (n_words + _BLOCK - 1) // _BLOCK), dtype=np.int64)
    return state, selected, dense_selected, rows, words, cached


@njit(**BORROW_JIT)
def reset(work):
    """Start a new, empty combination."""
    state = work[0]
    state[S_MODE] = MODE_ALL
    state[S_LISTED] = 0
    state[S_SELECTED] = 0
    state[S_DENSE] = 0
    state[S_GENERATION] += 1  # forgets every cached block


@njit(**BORROW_JIT)
def _bit(bitmaps, slot, r):
    """1 if record ``r`` is in bitmap ``slot``, else 0."""
    return np.int64((bitmaps[slot, r >> 6] >> np.uint64(r & 63)) & np.uint64(1))


@njit(**BORROW_JIT)
def _has_bit(bitmaps, slot, r):
    """Whether record ``r`` is in bitmap ``slot``."""
    return _bit(bitmaps, slot, r) != 0


@njit(**BORROW_JIT)
def _in_all(bitmaps, dense_selected, n_dense, r):
    """Whether record ``r`` is in every selected bitmap."""
    for j in range(n_dense):
        if not _has_bit(bitmaps, dense_selected[j], r):
            return False
    return True


@njit(**BORROW_JIT)
def _and_block(bitmaps, work, lo, hi):
    """``words[lo:hi]``, brought up to the AND of every selected bitmap (mode 1).

    ``words`` caches, block by block, the AND of the first ``cached[1, block]``
    selected bitmaps (valid while ``cached[0, block]`` is the current
    generation); only the bitmaps selected since are ANDed in, so a test reads
    two words per word of the block once its block is cached.
    """
    state, _, dense_selected, _, words, cached = work
    n_dense = state[S_DENSE]
    generation = state[S_GENERATION]
    block_id = lo // _BLOCK
    level = cached[1, block_id] if cached[0, block_id] == generation else 0
    if level >= n_dense:
        return
    block = words[lo:hi]
    if level == 0:
        first = bitmaps[dense_selected[0], lo:hi]
        for i in range(hi - lo):
            block[i] = first[i]
        level = 1
    for j in range(level, n_dense):
        other = bitmaps[dense_selected[j], lo:hi]
        for i in range(hi - lo):
            block[i] &= other[i]
    cached[0, block_id] = generation
    cached[1, block_id] = n_dense


@njit(**BORROW_JIT)
def has_support(index, work, b, k, exit_hits):
    """Whether adding id ``b`` keeps the support >= ``k``; and a support estimate.

    The estimate is exact in mode 0 and after a full scan, a lower bound after
    an early exit in mode 2 or over a sparse id, and ``hits * n_words /
    words_scanned`` after an early exit in mode 1 (at ``exit_hits`` matches).
    """
    attr_col, attr_code, counts, dense_slot, bitmaps = index[2], index[3], index[4], index[5], index[6]
    sparse_start, sparse_rows, pairs, row_codes = index[7], index[8], index[9], index[10]
    state, selected, dense_selected, _, words, _ = work
    mode = state[S_MODE]
    if mode == MODE_ALL or counts[b] < k:
        return counts[b] >= k, counts[b]
    if pairs.shape[0] > 0:
        # A combination is never more common than any of its pairs.
        n_selected = state[S_SELECTED]
        for j in range(n_selected):
            shared = np.int64(pairs[selected[j], b])
            if shared < k:
                return False, shared
        if n_selected == 1:
            return True, np.int64(pairs[selected[0], b])
    if mode == MODE_LIST:
        rows = work[3]
        n_listed = state[S_LISTED]
        slot = dense_slot[b]
        hits = 0
        # Hits are added, not branched on (whether a record holds b is a coin toss to the CPU).
        if slot >= 0:
            # b's bitmap (n_rows / 64 words) stays in cache where the records' codes would not.
            for i in range(n_listed):
                hits += _bit(bitmaps, slot, rows[i])
                if hits >= k:
                    return True, hits
            return False, hits
        c = attr_col[b]
        v = attr_code[b]
        for i in range(n_listed):
            hits += np.int64(row_codes[rows[i], c] == v)
            if hits >= k:
                return True, hits
        return False, hits
    n_dense = state[S_DENSE]
    slot = dense_slot[b]
    hits = 0
    if slot < 0:
        for i in range(sparse_start[b], sparse_start[b + 1]):
            if _in_all(bitmaps, dense_selected, n_dense, sparse_rows[i]):
                hits += 1
                if hits >= k:
                    return True, hits
        return False, hits
    # Blocks of words: the AND of the selected bitmaps (cached, see _and_block) with
    # b's, counted; stop after the block where enough matches are seen.
    n_words = bitmaps.shape[1]
    for lo in range(0, n_words, _BLOCK):
        hi = min(lo + _BLOCK, n_words)
        _and_block(bitmaps, work, lo, hi)
        block = words[lo:hi]
        own = bitmaps[slot, lo:hi]
        for i in range(hi - lo):
            hits += popcount(block[i] & own[i])
        if hits >= exit_hits and hits >= k:
            return True, hits * n_words // hi
    return hits >= k, hits


@njit(**BORROW_JIT)
def _list_words(words, lo, hi, rows, m):
    """Append the records set in ``words[lo:hi]`` (at most 64 words) to ``rows`` from position
    ``m``; returns the new count. Zero words cost a vector compare, not a branch each."""
    one = np.uint64(1)
    if hi - lo == LANES:
        nonzero = nonzero_bits(words, lo)
    else:
        nonzero = np.uint64(0)
        for t in range(hi - lo):
            if words[lo + t] != 0:
                nonzero |= one << np.uint64(t)
    while nonzero != 0:
        w = lo + trailing_zeros(nonzero)
        nonzero &= nonzero - one
        x = words[w]
        base = w * 64
        while x != 0:
            rows[m] = base + trailing_zeros(x)
            m += 1
            x &= x - one
    return m


@njit(**BORROW_JIT)
def materialize(bitmaps, work):
    """List the records of the AND of the selected bitmaps; switch to mode 2.

    Block by block, the AND is taken (see :func:`_and_block`) and its set
    bits listed while the block is in the core's cache.
    """
    state, rows, words = work[0], work[3], work[4]
    n_words = bitmaps.shape[1]
    m = 0
    for lo in range(0, n_words, _BLOCK):
        hi = min(lo + _BLOCK, n_words)
        _and_block(bitmaps, work, lo, hi)
        m = _list_words(words, lo, hi, rows, m)
    state[S_LISTED] = m
    state[S_MODE] = MODE_LIST


@njit(**BORROW_JIT)
def accept(index, work, b, estimate, list_max):
    """Add id ``b`` (already tested) to the combination and shrink its support set."""
    _, _, attr_col, attr_code, _, dense_slot, bitmaps, sparse_start, sparse_rows, _, row_codes = index
    state, selected, dense_selected, rows = work[0], work[1], work[2], work[3]
    mode = state[S_MODE]
    selected[state[S_SELECTED]] = b
    state[S_SELECTED] += 1
    slot = dense_slot[b]
    if mode == MODE_LIST:
        # Every record is written, and kept by moving on past it (no branch per record).
        m = 0
        if slot >= 0:
            for i in range(state[S_LISTED]):
                r = rows[i]
                rows[m] = r
                m += _bit(bitmaps, slot, r)
        else:
            c = attr_col[b]
            v = attr_code[b]
            for i in range(state[S_LISTED]):
                r = rows[i]
                rows[m] = r
                m += np.int64(row_codes[r, c] == v)
        state[S_LISTED] = m
        return
    if slot < 0:
        n_dense = state[S_DENSE]
        m = 0
        for i in range(sparse_start[b], sparse_start[b + 1]):
            r = sparse_rows[i]
            if _in_all(bitmaps, dense_selected, n_dense, r):
                rows[m] = r
                m += 1
        state[S_LISTED] = m
        state[S_MODE] = MODE_LIST
        return
    dense_selected[state[S_DENSE]] = slot
    state[S_DENSE] += 1
    state[S_MODE] = MODE_BITMAP
    if estimate <= list_max:
        materialize(bitmaps, work)


@njit(**BORROW_JIT)
def try_add(index, work, b, k, exit_hits, list_max):
    """Add id ``b`` if the support stays >= ``k``; returns whether it was added."""
    ok, estimate = has_support(index, work, b, k, exit_hits)
    if ok:
        accept(index, work, b, estimate, list_max)
    return ok


@njit(**BORROW_JIT)
def support_count(codes, attr_col, attr_code, ids):
    """Exact support of the ids by a scan of every record (for checks, not hot paths)."""
    n_rows = codes.shape[1]
    total = 0
    for r in range(n_rows):
        ok = True
        for j in range(ids.shape[0]):
            a = ids[j]
            if codes[attr_col[a], r] != attr_code[a]:
                ok = False
                break
        if ok:
            total += 1
    return total
