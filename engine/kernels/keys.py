"""Combination keys: one packing of sorted attribute ids, one open-addressing table.

Combination keys
    A combination is its attribute ids in ascending order, ``a_0 < ... <
    a_{n-1}``. Its key is a row of ``n_words`` int64 words: field ``i`` holds
    ``a_i + 1`` and lives in word ``i // per_word``, where the fields of a word
    are the digits, most significant first, of a number in base ``radix``
    (``n_attributes + 1``): ``word = sum_j (a_j + 1) * radix**(m - 1 - j)`` over
    its ``m`` fields. ``per_word`` is the most digits whose number stays below
    2**63 (:func:`key_layout`; one word holds 4 ids of up to 55,107
    attributes). No digit is 0, so keys of different lengths differ, words
    past the combination's length are 0 and a key can be read back
    (:func:`unpack`). A key that fits one word is extended by one
    attribute with :func:`extend`, which is how kernels enumerate prefixes.

Table
    :class:`Table`: open addressing with linear probing over a power-of-two
    number of slots, at most half full (:func:`build_table`). ``slots[s, 0]``
    is the row of slot s's combination in whatever the caller keyed (-1: an
    empty slot) and ``slots[s, 1:]`` its packed key, so a probe reads one
    cache line. The slot is a multiplicative hash of the key's words;
    :func:`find` looks a key up, :func:`find_word` a one-word key,
    :func:`find_ids` a combination given by its ids.

Value keys of a column set (the counting kernels)
    :mod:`.counting` keys a record on a set of columns rather than a
    combination: ``sum_j code_j * strides[j]``, the mixed-radix number of the
    record's codes (0 = no attribute) with radix ``n_c + 1`` per column, so the
    key is a bin of a dense histogram. :func:`digit` reads a code back.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from ..config import BORROW_JIT, JIT
from .rng import GOLDEN

#: ``slots`` (int64, ``(capacity, 1 + n_words)``: a row, -1 when empty, then the key's words)
#: and the packing of the keys: ``radix`` and ``per_word``.
Table = namedtuple("Table", ["slots", "radix", "per_word"])

EMPTY = -1
_WORD_LIMIT = (1 << 63) - 1
#: Small functions of the hot loops, inlined into their callers by Numba (a call would pass
#: the table's arrays by value and count their references, several times slower).
INLINE = {**JIT, "inline": "always"}


@njit(**BORROW_JIT)
def key_layout(n_attributes, length):
    """``(radix, per_word, n_words)`` of keys of up to ``length`` ids below ``n_attributes``."""
    radix = max(n_attributes + 1, 2)
    per_word = 1
    largest = radix  # the largest value of per_word digits, plus one: radix**per_word
    while largest <= _WORD_LIMIT // radix:
        largest *= radix
        per_word += 1
    n_words = max(1, (length + per_word - 1) // per_word)
    return radix, per_word, n_words


@njit(**INLINE)
def extend(word, a, radix):
    """The one-word key of a combination whose key is ``word``, with ``a`` added last."""
    return word * radix + a + 1


@njit(**INLINE)
def pack_word(ids, lo, hi, radix):
    """One word: the digits ``ids[lo:hi] + 1`` in base ``radix``."""
    word = 0
    for i in range(lo, hi):
        word = word * radix + ids[i] + 1
    return word


@njit(**BORROW_JIT)
def pack(ids, n, radix, per_word, key):
    """Write the key of the sorted ids ``ids[:n]`` into ``key`` (every word)."""
    for w in range(key.shape[0]):
        lo = min(n, w * per_word)
        key[w] = pack_word(ids, lo, min(n, lo + per_word), radix)


@njit(**JIT)
def pack_rows(combos, lengths, radix, per_word, n_words):
    """Keys ``(n, n_words)`` of the combinations ``combos[i, :lengths[i]]``."""
    keys = np.zeros((combos.shape[0], n_words), dtype=np.int64)
    for i in range(combos.shape[0]):
        pack(combos[i], lengths[i], radix, per_word, keys[i])
    return keys


@njit(**BORROW_JIT)
def unpack(key, radix, out):
    """The ids of ``key`` into ``out`` (room for every id); returns how many."""
    n = 0
    for w in range(key.shape[0]):
        word = key[w]
        m = 0
        while word > 0:
            word //= radix
            m += 1
        word = key[w]
        for j in range(m - 1, -1, -1):
            out[n + j] = word % radix - 1
            word //= radix
        n += m
    return n


@njit(**INLINE)
def _mix(h, word):
    """One round of the slot hash: multiply by the golden ratio, fold the high bits down."""
    h = (h ^ np.uint64(word)) * GOLDEN
    return h ^ (h >> np.uint64(29))


@njit(**INLINE)
def _slot(key, mask):
    h = np.uint64(0)
    for w in range(key.shape[0]):
        h = _mix(h, key[w])
    return np.int64(h & np.uint64(mask))


@njit(**INLINE)
def _same(slots, s, key):
    for w in range(key.shape[0]):
        if slots[s, 1 + w] != key[w]:
            return False
    return True


@njit(**JIT)
def build_table(keys, radix, per_word):
    """The :class:`Table` of ``keys`` (rows of packed keys) → their row.

    Returns ``(table, duplicates)``: a key given more than once keeps its first
    row, and the others are counted in ``duplicates``.
    """
    n, n_words = keys.shape
    capacity = 16
    while capacity < 2 * n + 2:
        capacity *= 2
    mask = capacity - 1
    slots = np.zeros((capacity, 1 + n_words), dtype=np.int64)
    slots[:, 0] = EMPTY
    duplicates = 0
    for r in range(n):
        key = keys[r]
        s = _slot(key, mask)
        while slots[s, 0] != EMPTY and not _same(slots, s, key):
            s = (s + 1) & mask
        if slots[s, 0] == EMPTY:
            slots[s, 0] = r
            slots[s, 1:] = key
        else:
            duplicates += 1
    return Table(slots, radix, per_word), duplicates


@njit(**JIT)
def combination_table(combos, lengths, n_attributes, length):
    """:func:`build_table` of the combinations ``combos[i, :lengths[i]]`` (sorted ids below
    ``n_attributes``, at most ``length`` each); returns ``(table, duplicates)``."""
    radix, per_word, n_words = key_layout(n_attributes, length)
    return build_table(pack_rows(combos, lengths, radix, per_word, n_words), radix, per_word)


@njit(**INLINE)
def key_words(table):
    """Words per key of ``table``."""
    return table.slots.shape[1] - 1


@njit(**INLINE)
def find(table, key):
    """Row of the packed ``key`` in ``table``, or -1."""
    slots = table.slots
    mask = slots.shape[0] - 1
    s = _slot(key, mask)
    while slots[s, 0] != EMPTY and not _same(slots, s, key):
        s = (s + 1) & mask
    return slots[s, 0]


@njit(**INLINE)
def find_word(table, word):
    """Row of a one-word key in a table of one-word keys, or -1 (the same slots as :func:`find`)."""
    slots = table.slots
    mask = slots.shape[0] - 1
    s = np.int64(_mix(np.uint64(0), word) & np.uint64(mask))
    while slots[s, 0] != EMPTY and slots[s, 1] != word:
        s = (s + 1) & mask
    return slots[s, 0]


@njit(**BORROW_JIT)
def find_ids(table, ids, n, key):
    """Row of the combination of sorted ids ``ids[:n]``, or -1 (``key``: scratch of ``n_words``)."""
    pack(ids, n, table.radix, table.per_word, key)
    return find(table, key)


@njit(**JIT)
def find_rows(table, combos, lengths):
    """Row of each combination ``combos[i, :lengths[i]]`` in ``table``, or -1."""
    out = np.empty(combos.shape[0], dtype=np.int64)
    key = np.zeros(key_words(table), dtype=np.int64)
    for i in range(combos.shape[0]):
        out[i] = find_ids(table, combos[i], lengths[i], key)
    return out


@njit(**BORROW_JIT)
def without(ids, n, drop, out):
    """``ids[:n]`` less the one at position ``drop``, into ``out[:n - 1]``."""
    m = 0
    for j in range(n):
        if j != drop:
            out[m] = ids[j]
            m += 1


@njit(**BORROW_JIT)
def next_subset(idx, j, m):
    """Advance ``idx[:j]`` to the next j-subset of ``range(m)`` in lexicographic order.

    Returns False (leaving ``idx`` as it was) after the last one.
    """
    t = j - 1
    while t >= 0 and idx[t] == m - j + t:
        t -= 1
    if t < 0:
        return False
    idx[t] += 1
    for u in range(t + 1, j):
        idx[u] = idx[u - 1] + 1
    return True


@njit(**BORROW_JIT)
def digit(key, stride, radix):
    """The code of one column in a column set's value key (its ``stride`` and ``radix``)."""
    return (key // stride) % radix
