"""Kernels that count attribute combinations over integer-coded columns.

``codes`` is a 2-D C-contiguous array, one row per column of the data, holding
codes 0..n_c where 0 means "no attribute". A set of k columns is counted by
giving every record the mixed-radix key ``sum_j codes[cols[j], r] * strides[j]``
(radix ``n_c + 1`` per column, so "no attribute" is a digit of its own), then
either a dense histogram over the whole key space or, when that space is too
large, a sort of the keys of records that have all k attributes.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..config import JIT, PARALLEL_JIT

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


@njit(**JIT)
def _is_full(key, radices, strides):
    """True when no digit of ``key`` is 0, i.e. the record had every attribute."""
    for j in range(radices.shape[0]):
        if (key // strides[j]) % radices[j] == 0:
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
                digits[i, j] = (key // strides[j]) % radices[j]
            counts[i] = hist[key]
            i += 1
    return digits, counts


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
                digits[u, j] = (keys[i] // strides[j]) % radices[j]
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
