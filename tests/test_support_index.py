"""The support index's bitmaps and lists against plain numpy, whichever way a column is filled.

A column of few values is filled by vector compares of 64 codes
(:func:`~showcase.engine.kernels.simd.equal_bits`), a column of many in one
pass of four lanes; both must give exactly the records holding each id.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numba import njit

from showcase.engine.kernels.simd import equal_bits, nonzero_bits, trailing_zeros
from showcase.engine.kernels.support import PACK_VALUES, _list_words, holder_codes
from showcase.engine.synthesize.consolidate import holding_codes, id_counts, index_codes


@njit(cache=False)
def _bits_of(column, start, value):
    return equal_bits(column, start, value)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32])
def test_equal_bits_marks_exactly_the_equal_codes(dtype):
    rng = np.random.default_rng(7)
    column = rng.integers(0, 4, 200).astype(dtype)
    for start in (0, 1, 63, 136):
        for value in range(5):
            got = int(_bits_of(column, start, column.dtype.type(value)))
            want = sum(1 << i for i in range(64) if column[start + i] == value)
            assert got == want


@njit(cache=False)
def _nonzero_of(words, start):
    return nonzero_bits(words, start)


@njit(cache=False)
def _zeros_of(x):
    return trailing_zeros(x)


def test_nonzero_bits_marks_exactly_the_nonzero_words():
    rng = np.random.default_rng(8)
    words = rng.integers(0, 1 << 63, 200, dtype=np.uint64) * rng.integers(0, 2, 200).astype(np.uint64)
    words[[3, 70]] = np.uint64(1) << np.uint64(63)  # the top bit alone is non-zero too
    for start in (0, 1, 63, 136):
        got = int(_nonzero_of(words, start))
        assert got == sum(1 << i for i in range(64) if words[start + i] != 0)


def test_trailing_zeros_is_the_lowest_set_bit():
    for bit in range(64):
        for above in (0, 1 << 63, (1 << 64) - 1):
            x = np.uint64(((above >> (bit + 1)) << (bit + 1) if bit < 63 else 0) | (1 << bit))
            assert _zeros_of(x) == bit


@njit(cache=False)
def _listed(words, lo, hi, rows, m):
    return _list_words(words, lo, hi, rows, m)


@pytest.mark.parametrize("density", [0.0, 0.002, 0.05, 0.7])
def test_list_words_lists_every_set_bit_in_order(density):
    rng = np.random.default_rng(9)
    bits = rng.random(64 * 150) < density
    words = np.packbits(bits.reshape(-1, 8)[:, ::-1]).view("<u8").copy()
    for lo, hi in ((0, 64), (64, 128), (128, 150), (130, 131), (5, 5)):
        rows = np.full(64 * 64 + 3, -1, dtype=np.int32)
        m = _listed(words, lo, hi, rows, 3)
        want = np.flatnonzero(bits[lo * 64 : hi * 64]) + lo * 64
        assert m == 3 + len(want)
        assert np.array_equal(rows[3:m], want)
        assert np.all(rows[:3] == -1) and np.all(rows[m:] == -1)


def _codes(rng, n_rows, sizes, dtype):
    """Codes ``(len(sizes), n_rows)``: column ``c`` holds 0 (no attribute) .. ``sizes[c]``,
    skewed towards low codes, with the offsets of its attribute ids."""
    codes = np.empty((len(sizes), n_rows), dtype=dtype)
    for c, size in enumerate(sizes):
        weights = 1.0 / np.arange(1, size + 2) ** rng.uniform(0, 2)
        codes[c] = rng.choice(size + 1, n_rows, p=weights / weights.sum())
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return codes, offsets


def check_index(codes, offsets):
    """Every id's bitmap or list holds exactly its records."""
    n_columns, n_rows = codes.shape
    columns = np.repeat(np.arange(n_columns), np.diff(offsets)).astype(np.int32)
    arrays = index_codes(codes, offsets, columns, 1, use_pairs=False, parallel=False).arrays
    attr_col, attr_code, counts, dense_slot, bitmaps, sparse_start, sparse_rows = arrays[2:9]
    for a in range(len(counts)):
        want = np.flatnonzero(codes[attr_col[a]] == attr_code[a])
        assert counts[a] == len(want)
        if dense_slot[a] >= 0:
            words = bitmaps[dense_slot[a]]
            bits = (words[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
            got = np.flatnonzero(bits.ravel())
        else:
            got = sparse_rows[sparse_start[a] : sparse_start[a + 1]]
        assert np.array_equal(got, want), a


@given(
    seed=st.integers(0, 2**32 - 1),
    n_rows=st.integers(1, 700),
    sizes=st.lists(st.integers(1, 2 * PACK_VALUES), min_size=1, max_size=5),
)
def test_index_holds_exactly_each_ids_records(seed, n_rows, sizes):
    """Both ways of filling a column, with and without a tail shorter than a word."""
    codes, offsets = _codes(np.random.default_rng(seed), n_rows, sizes, np.uint8)
    check_index(codes, offsets)


@pytest.mark.parametrize("dtype", [np.uint16, np.int32])
def test_index_of_wide_codes(dtype):
    """Codes wider than a byte (a column of more than 255 values) fill the same way."""
    codes, offsets = _codes(np.random.default_rng(3), 1000, [300, 3, 20], dtype)
    check_index(codes, offsets)


@given(seed=st.integers(0, 2**32 - 1), n_rows=st.integers(0, 300), code=st.integers(0, 3))
def test_holder_codes_takes_the_records_holding_a_code(seed, n_rows, code):
    codes, _ = _codes(np.random.default_rng(seed), n_rows, [3, 2, 5], np.uint8)
    got = holder_codes(codes, 0, np.uint8(code))
    assert got.flags.c_contiguous
    assert np.array_equal(got, codes[:, codes[0] == code])


@given(seed=st.integers(0, 2**32 - 1), n_rows=st.integers(1, 400))
def test_pair_counts_are_the_counts_of_each_attributes_holders(seed, n_rows):
    """Row ``a`` of the pair counts, with ``a``'s own count, is the id counts of the records
    holding ``a``: row_seeded's first pass reads second attributes and first nodes' counts off it."""
    codes, offsets = _codes(np.random.default_rng(seed), n_rows, [3, 1, 6, 2], np.uint8)
    columns = np.repeat(np.arange(codes.shape[0]), np.diff(offsets)).astype(np.int32)
    index = index_codes(codes, offsets, columns, 1)
    attr_col, counts, pairs = index.arrays[2], index.arrays[4], index.arrays[9]
    for a in range(offsets[-1]):
        node = holding_codes(codes, offsets, attr_col, a)
        row = pairs[a].astype(np.int64)
        row[a] = counts[a]
        assert np.array_equal(row, id_counts(node, offsets, columns, parallel=False))
