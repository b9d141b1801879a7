"""Row bitsets of attribute values, and the counts of a selection over them.

Rows are bits of uint64 words: row ``r`` is bit ``r % 64`` of word ``r // 64``
(``W = ceil(n / 64)`` words per bitset; bits past ``n`` are always 0). One
bitset per attribute id holds the rows that have that attribute
(:func:`build_bitsets`, one pass over the codes). A selection is a mask per
selected column (:func:`or_rows` of its selected values' bitsets); the bars
of column ``i`` are counted under the AND of every OTHER selected column's
mask, which :func:`leave_one_out` computes for all ``i`` at once with
prefix and suffix ANDs (``O(k W)``, not ``O(k^2 W)``). :func:`masked_counts`
then counts, per attribute, the rows of its mask that hold it, with a SWAR
popcount (:func:`popcount`). Work is split over blocks of words with
``prange``: each block writes words no other block touches.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..config import BORROW_JIT, JIT, PARALLEL_JIT

#: Words per parallel block: 2,048 words (16 KiB) of a mask stay in the L1/L2 cache while
#: every attribute's words of the block are counted against it.
BLOCK = 2048
_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)
_INLINE = {**JIT, "inline": "always"}


@njit(**_INLINE)
def popcount(x):
    """Number of set bits of the uint64 ``x`` (SWAR: pairs, nibbles, bytes, then one multiply)."""
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return np.int64((x * _H01) >> np.uint64(56))


@njit(**BORROW_JIT)
def n_words(n_rows):
    """Words of a bitset of ``n_rows`` rows."""
    return (n_rows + 63) // 64


@njit(**PARALLEL_JIT)
def build_bitsets(codes, offsets, n_attributes):
    """Per attribute id, the bitset of the rows holding it: uint64 ``(n_attributes, W)``.

    ``codes`` is ``(C, n)`` (code 0: no attribute), ``offsets[c]`` the id of
    column ``c``'s first attribute, so code ``v`` of column ``c`` is attribute
    ``offsets[c] + v - 1``. One pass over the codes, in blocks of words.
    """
    n_columns, n = codes.shape
    words = n_words(n)
    bits = np.zeros((n_attributes, words), dtype=np.uint64)
    n_blocks = (words + BLOCK - 1) // BLOCK
    for b in prange(n_blocks):
        first = b * BLOCK * 64
        last = min(n, first + BLOCK * 64)
        for c in range(n_columns):
            base = offsets[c] - 1
            for r in range(first, last):
                v = np.int64(codes[c, r])
                if v != 0:
                    bits[base + v, r >> 6] |= np.uint64(1) << np.uint64(r & 63)
    return bits


@njit(**PARALLEL_JIT)
def or_rows(bits, ids):
    """The OR of the bitsets ``bits[ids]`` (a column's selected values): one uint64 ``(W,)``."""
    words = bits.shape[1]
    out = np.zeros(words, dtype=np.uint64)
    n_blocks = (words + BLOCK - 1) // BLOCK
    for b in prange(n_blocks):
        lo = b * BLOCK
        hi = min(words, lo + BLOCK)
        for i in range(ids.shape[0]):
            row = ids[i]
            for w in range(lo, hi):
                out[w] |= bits[row, w]
    return out


@njit(**PARALLEL_JIT)
def and_rows(masks):
    """The AND of every row of ``masks`` ``(k, W)``; all ones (every row of the table) when ``k = 0``.

    With ``k = 0`` the bits past the table's last row are set too: count only
    against bitsets (whose such bits are 0), as :func:`masked_counts` does.
    """
    k, words = masks.shape
    out = np.empty(words, dtype=np.uint64)
    for w in prange(words):
        x = _ONES
        for i in range(k):
            x &= masks[i, w]
        out[w] = x
    return out


@njit(**PARALLEL_JIT)
def column_masks(bits, starts, ids):
    """Per selected column ``i``, the OR of ``bits[ids[starts[i]:starts[i + 1]]]``: ``(k, W)``."""
    k = starts.shape[0] - 1
    words = bits.shape[1]
    out = np.zeros((k, words), dtype=np.uint64)
    n_blocks = (words + BLOCK - 1) // BLOCK
    for b in prange(n_blocks):
        lo = b * BLOCK
        hi = min(words, lo + BLOCK)
        for i in range(k):
            for j in range(starts[i], starts[i + 1]):
                row = ids[j]
                for w in range(lo, hi):
                    out[i, w] |= bits[row, w]
    return out


@njit(**PARALLEL_JIT)
def leave_one_out(masks):
    """``(k + 1, W)``: row 0 the AND of all ``k`` masks, row ``i + 1`` the AND of all but mask ``i``.

    A forward pass leaves the AND of the masks before ``i`` in row ``i + 1``,
    a backward pass ANDs in those after it: two ANDs per mask and word. With
    ``k = 0`` row 0 is all ones (see :func:`and_rows`).
    """
    k, words = masks.shape
    out = np.empty((k + 1, words), dtype=np.uint64)
    for w in prange(words):
        before = _ONES
        for i in range(k):
            out[i + 1, w] = before
            before &= masks[i, w]
        out[0, w] = before
        after = _ONES
        for i in range(k - 1, -1, -1):
            out[i + 1, w] &= after
            after &= masks[i, w]
    return out


@njit(**PARALLEL_JIT)
def masked_counts(bits, masks, which):
    """Per attribute ``a``: the rows of ``bits[a]`` in mask ``masks[which[a]]`` (``which[a] < 0``: 0).

    Blocks of words go to threads; each block counts every attribute against
    the block's words of the masks (cached), into a row of partial counts that
    are summed at the end.
    """
    n_attributes, words = bits.shape
    n_blocks = (words + BLOCK - 1) // BLOCK
    partial = np.zeros((max(n_blocks, 1), n_attributes), dtype=np.int64)
    for b in prange(n_blocks):
        lo = b * BLOCK
        hi = min(words, lo + BLOCK)
        for a in range(n_attributes):
            m = which[a]
            if m < 0:
                continue
            total = 0
            for w in range(lo, hi):
                total += popcount(bits[a, w] & masks[m, w])
            partial[b, a] = total
    return partial.sum(axis=0)


@njit(**PARALLEL_JIT)
def count_bits(mask, n_rows):
    """Set bits of ``mask`` among its first ``n_rows`` rows (the bits past them are ignored)."""
    words = mask.shape[0]
    full = n_rows // 64
    total = 0
    for w in prange(full):
        total += popcount(mask[w])
    if full < words and n_rows % 64:
        tail = (np.uint64(1) << np.uint64(n_rows % 64)) - np.uint64(1)
        total += popcount(mask[full] & tail)
    return total
