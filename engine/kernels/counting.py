"""Kernels that count attribute combinations over integer-coded columns.

``codes`` is a 2-D C-contiguous array, one row per column of the data, holding
codes 0..n_c where 0 means "no attribute". A set of k columns is counted by
giving every record the mixed-radix key ``sum_j codes[cols[j], r] * strides[j]``
(radix ``n_c + 1`` per column, so "no attribute" is a digit of its own: the
value keys of :mod:`.keys`, read back with :func:`~.keys.digit`), then
either a dense histogram over the whole key space or, when that space is too
large, a sort of the keys of records that have all k attributes.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..config import BORROW_JIT, JIT, PARALLEL_JIT
from .keys import digit

#: Rows per thread below which splitting rows over threads does not pay.
MIN_ROWS_PER_THREAD = 1 << 15


@njit(**PARALLEL_JIT)
def dense_histogram(codes, cols, strides, n_bins, n_threads):
    """Histogram of the mixed-radix keys of ``cols`` over all records.

    Rows are split into one range per thread; each thread fills its own
    histogram and the histograms are summed after, so no two threads write to
    the same memory.
    """
    n_rows = codes.shape[1]
    k = cols.shape[0]
    n_parts = min(n_threads, max(1, n_rows // MIN_ROWS_PER_THREAD))
    size = (n_rows + n_parts - 1) // n_parts
    local = np.zeros((n_parts, n_bins), dtype=np.uint32)
    for part in prange(n_parts):
        lo = part * size
        hi = min(n_rows, lo + size)
        h = local[part]
        if k == 1:
            a = codes[cols[0]]
            for r in range(lo, hi):
                h[a[r]] += 1
        elif k == 2:
            a, b = codes[cols[0]], codes[cols[1]]
            sa, sb = strides[0], strides[1]
            for r in range(lo, hi):
                h[a[r] * sa + b[r] * sb] += 1
        elif k == 3:
            a, b, c = codes[cols[0]], codes[cols[1]], codes[cols[2]]
            sa, sb, sc = strides[0], strides[1], strides[2]
            for r in range(lo, hi):
                h[a[r] * sa + b[r] * sb + c[r] * sc] += 1
        elif k == 4:
            a, b, c, d = codes[cols[0]], codes[cols[1]], codes[cols[2]], codes[cols[3]]
            sa, sb, sc, sd = strides[0], strides[1], strides[2], strides[3]
            for r in range(lo, hi):
                h[a[r] * sa + b[r] * sb + c[r] * sc + d[r] * sd] += 1
        else:
            for r in range(lo, hi):
                key = 0
                for j in range(k):
                    key += codes[cols[j], r] * strides[j]
                h[key] += 1
    hist = np.zeros(n_bins, dtype=np.int64)
    for key in prange(n_bins):
        total = 0
        for part in range(n_parts):
            total += local[part, key]
        hist[key] = total
    return hist


@njit(**BORROW_JIT)
def _is_full(key, radices, strides):
    """True when no digit of ``key`` is 0, i.e. the record had every attribute."""
    for j in range(radices.shape[0]):
        if digit(key, strides[j], radices[j]) == 0:
            return False
    return True


@njit(**JIT)
def full_bins(hist, radices, strides):
    """Digits and counts of the non-empty bins whose digits are all >= 1.

    Returns ``(digits, counts)``: ``digits[i, j]`` is the code of column j in
    combination i, in ascending key order (so lexicographic in the codes).
    """
    k = radices.shape[0]
    n = 0
    for key in range(hist.shape[0]):
        if hist[key] > 0 and _is_full(key, radices, strides):
            n += 1
    digits = np.empty((n, k), dtype=np.int32)
    counts = np.empty(n, dtype=np.int64)
    i = 0
    for key in range(hist.shape[0]):
        if hist[key] > 0 and _is_full(key, radices, strides):
            for j in range(k):
                digits[i, j] = digit(key, strides[j], radices[j])
            counts[i] = hist[key]
            i += 1
    return digits, counts


@njit(**JIT)
def nonzero_bins(hist):
    """Keys and counts of the non-empty bins of a histogram."""
    n = 0
    for key in range(hist.shape[0]):
        if hist[key] > 0:
            n += 1
    keys = np.empty(n, dtype=np.int64)
    counts = np.empty(n, dtype=np.int64)
    i = 0
    for key in range(hist.shape[0]):
        if hist[key] > 0:
            keys[i] = key
            counts[i] = hist[key]
            i += 1
    return keys, counts


@njit(**JIT)
def sorted_key_counts(codes, cols, strides):
    """Keys and counts of every value tuple of ``cols``, "no attribute" (0) included.

    Marginal histograms for large key spaces; requires the key space to fit in int64.
    """
    n_rows = codes.shape[1]
    keys = np.zeros(n_rows, dtype=np.int64)
    for j in range(cols.shape[0]):
        column = codes[cols[j]]
        stride = strides[j]
        for r in range(n_rows):
            keys[r] += column[r] * stride
    keys = np.sort(keys)
    n = 0
    for i in range(n_rows):
        if i == 0 or keys[i] != keys[i - 1]:
            n += 1
    unique = np.empty(n, dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64)
    u = -1
    for i in range(n_rows):
        if i == 0 or keys[i] != keys[i - 1]:
            u += 1
            unique[u] = keys[i]
        counts[u] += 1
    return unique, counts


@njit(**JIT)
def sparse_counts(codes, cols, radices, strides):
    """Counts of the combinations of ``cols`` by sorting keys; for large key spaces.

    Only records with all k attributes get a key. Same output as
    :func:`full_bins`; requires the key space to fit in int64.
    """
    n_rows = codes.shape[1]
    k = cols.shape[0]
    keys = np.empty(n_rows, dtype=np.int64)
    m = 0
    for r in range(n_rows):
        key = 0
        full = True
        for j in range(k):
            v = codes[cols[j], r]
            if v == 0:
                full = False
                break
            key += v * strides[j]
        if full:
            keys[m] = key
            m += 1
    keys = np.sort(keys[:m])
    n = 0
    for i in range(m):
        if i == 0 or keys[i] != keys[i - 1]:
            n += 1
    digits = np.empty((n, k), dtype=np.int32)
    counts = np.zeros(n, dtype=np.int64)
    u = -1
    for i in range(m):
        if i == 0 or keys[i] != keys[i - 1]:
            u += 1
            for j in range(k):
                digits[u, j] = digit(keys[i], strides[j], radices[j])
        counts[u] += 1
    return digits, counts


@njit(**PARALLEL_JIT)
def attributes_per_record(codes):
    """Number of attributes (non-zero codes) of every record."""
    n_cols, n_rows = codes.shape
    out = np.zeros(n_rows, dtype=np.int32)
    for r in prange(n_rows):
        m = 0
        for c in range(n_cols):
            if codes[c, r] != 0:
                m += 1
        out[r] = m
    return out


#: Rows per block in :func:`batch_histograms`: the block's keys stay in L1.
BLOCK_ROWS = 4096


@njit(**BORROW_JIT)
def _unit_keys(codes, sets, radices, strides, first, stop, lo, hi, keys):
    """Joint keys of rows ``lo:hi`` on a unit: its shared prefix, then each set's last column."""
    k = sets.shape[1]
    m = hi - lo
    keys[:m] = 0
    # The prefix's strides are a set's strides over its last radix, the same for the whole unit.
    last_radix = radices[first, k - 1]
    for j in range(k - 1):
        column = codes[sets[first, j], lo:hi]
        stride = np.uint32(strides[first, j] // last_radix)
        for r in range(m):
            keys[r] += np.uint32(column[r]) * stride
    for s in range(first, stop):
        column = codes[sets[s, k - 1], lo:hi]
        radix = np.uint32(radices[s, k - 1])
        for r in range(m):
            keys[r] = keys[r] * radix + np.uint32(column[r])


@njit(**JIT)
def _unit_target(hist, radices, bin_offsets, first, stop, scratch):
    """Where a unit's joint keys are counted: the set's own bins, or zeroed scratch for a pack."""
    if stop - first == 1:
        return hist[bin_offsets[first] : bin_offsets[stop]]
    k = radices.shape[1]
    size = (bin_offsets[first + 1] - bin_offsets[first]) // radices[first, k - 1]
    for s in range(first, stop):
        size *= radices[s, k - 1]
    target = scratch[:size]
    target[:] = 0
    return target


@njit(**BORROW_JIT)
def _unpack(hist, radices, bin_offsets, first, stop, joint):
    """Add a pack's joint histogram into each of its sets' bins (summing out the other sets' last columns)."""
    k = radices.shape[1]
    tails = 1
    for s in range(first, stop):
        tails *= radices[s, k - 1]
    n_prefix = joint.shape[0] // tails
    inner = tails
    for s in range(first, stop):
        radix = radices[s, k - 1]
        inner //= radix
        h = hist[bin_offsets[s] : bin_offsets[s + 1]]
        for p in range(n_prefix):
            base = p * tails
            for q in range(tails):
                n = joint[base + q]
                if n:
                    h[p * radix + (q // inner) % radix] += n


@njit(**PARALLEL_JIT)
def batch_histograms(
    codes, sets, radices, strides, bin_offsets, unit_first, unit_worker, n_workers, max_pack, hist
):
    """Fill ``hist[bin_offsets[s]:bin_offsets[s+1]]`` with the key histogram of set ``s``.

    ``sets``, ``radices`` and ``strides`` are ``(n_sets, k)``. A unit (sets
    ``unit_first[u]:unit_first[u+1]``) is a run of sets that share their first
    k-1 columns. A unit of one set counts its keys straight into its bins. A
    larger unit, a pack, counts one joint key per row (the shared prefix, then
    every set's last column) into a scratch histogram of at most ``max_pack``
    bins, and adds it into each set's bins after: one increment per row for
    the whole pack instead of one per set. Each worker counts two of its units
    per pass over the rows, so that two independent increments overlap.
    ``unit_worker[u]`` is the one of ``n_workers`` threads that counts unit
    ``u``, so every bin is written by one thread and the result does not depend
    on the number of threads. Keys are unsigned (each set and pack has fewer
    than 2**32 bins), which spares the negative-index check on every increment.
    """
    n_rows = codes.shape[1]
    for w in prange(n_workers):
        mine = np.flatnonzero(unit_worker == w)
        keys_a = np.empty(BLOCK_ROWS, dtype=np.uint32)
        keys_b = np.empty(BLOCK_ROWS, dtype=np.uint32)
        scratch_a = np.empty(max_pack, dtype=hist.dtype)
        scratch_b = np.empty(max_pack, dtype=hist.dtype)
        for i in range(0, mine.shape[0], 2):
            ua = mine[i]
            ub = mine[i + 1] if i + 1 < mine.shape[0] else ua
            two = ub != ua
            fa, sa = unit_first[ua], unit_first[ua + 1]
            fb, sb = unit_first[ub], unit_first[ub + 1]
            ha = _unit_target(hist, radices, bin_offsets, fa, sa, scratch_a)
            hb = _unit_target(hist, radices, bin_offsets, fb, sb, scratch_b)
            for lo in range(0, n_rows, BLOCK_ROWS):
                hi = min(n_rows, lo + BLOCK_ROWS)
                m = hi - lo
                _unit_keys(codes, sets, radices, strides, fa, sa, lo, hi, keys_a)
                if two:
                    _unit_keys(codes, sets, radices, strides, fb, sb, lo, hi, keys_b)
                    for r in range(m):
                        ha[keys_a[r]] += 1
                        hb[keys_b[r]] += 1
                else:
                    for r in range(m):
                        ha[keys_a[r]] += 1
            if sa - fa > 1:
                _unpack(hist, radices, bin_offsets, fa, sa, ha)
            if two and sb - fb > 1:
                _unpack(hist, radices, bin_offsets, fb, sb, hb)


@njit(**JIT)
def _full_walk(hist, radices, strides, first_ids, attrs, counts, start, write):
    """Visit the bins of one set whose digits are all >= 1, in key order (an odometer).

    Counts the non-empty ones; when ``write`` is true also stores their
    attribute ids (``first_ids[j] + digit - 1``) and counts from row ``start``.
    """
    k = radices.shape[0]
    for j in range(k):
        if radices[j] < 2:
            return 0
    digits = np.ones(k, dtype=np.int64)
    key = 0
    for j in range(k):
        key += strides[j]
    found = 0
    while True:
        if hist[key] > 0:
            if write:
                row = start + found
                for j in range(k):
                    attrs[row, j] = first_ids[j] + digits[j] - 1
                counts[row] = hist[key]
            found += 1
        j = k - 1
        while j >= 0:
            digits[j] += 1
            key += strides[j]
            if digits[j] < radices[j]:
                break
            key -= (radices[j] - 1) * strides[j]
            digits[j] = 1
            j -= 1
        if j < 0:
            return found


@njit(**PARALLEL_JIT)
def batch_full_bins(hist, radices, strides, bin_offsets, first_ids, width):
    """Attribute ids ``(n, width)`` (padded with -1) and counts of a batch's combinations.

    Two passes in parallel over sets: count each set's non-empty full bins,
    then write them at the set's offset; output order is set by set, key order.
    """
    n_sets = radices.shape[0]
    found = np.zeros(n_sets + 1, dtype=np.int64)
    dummy_attrs = np.empty((0, width), dtype=np.int32)
    dummy_counts = np.empty(0, dtype=np.int64)
    for s in prange(n_sets):
        h = hist[bin_offsets[s] : bin_offsets[s + 1]]
        found[s + 1] = _full_walk(
            h, radices[s], strides[s], first_ids[s], dummy_attrs, dummy_counts, 0, False
        )
    starts = np.cumsum(found)
    attrs = np.full((starts[n_sets], width), -1, dtype=np.int32)
    counts = np.empty(starts[n_sets], dtype=np.int64)
    for s in prange(n_sets):
        h = hist[bin_offsets[s] : bin_offsets[s + 1]]
        _full_walk(h, radices[s], strides[s], first_ids[s], attrs, counts, starts[s], True)
    return attrs, counts
