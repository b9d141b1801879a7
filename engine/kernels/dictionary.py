"""Kernels over the indices of Arrow dictionary arrays, read in place.

An Arrow dictionary chunk is an index buffer plus a validity bitmap (bit
``offset + i`` of ``validity`` is 0 where entry ``i`` is null; an empty
``validity`` means no nulls). Reading both directly saves filling the nulls
into a copy of every index first. A null goes to slot ``null_slot``.
"""

from __future__ import annotations

from numba import njit

from ..config import BORROW_JIT


@njit(**BORROW_JIT)
def _is_null(validity, offset, i):
    j = offset + i
    return (validity[j >> 3] >> (j & 7)) & 1 == 0


@njit(**BORROW_JIT)
def remap_indices(indices, validity, offset, remap, null_slot, out):
    """``out[i] = remap[indices[i]]``, or ``remap[null_slot]`` where entry ``i`` is null."""
    if validity.shape[0] == 0:
        for i in range(indices.shape[0]):
            out[i] = remap[indices[i]]
        return
    for i in range(indices.shape[0]):
        out[i] = remap[null_slot] if _is_null(validity, offset, i) else remap[indices[i]]


@njit(**BORROW_JIT)
def count_indices(indices, validity, offset, null_slot, counts):
    """Add to ``counts[v]`` the entries of index ``v``, and the nulls to ``counts[null_slot]``."""
    if validity.shape[0] == 0:
        for i in range(indices.shape[0]):
            counts[indices[i]] += 1
        return
    for i in range(indices.shape[0]):
        counts[null_slot if _is_null(validity, offset, i) else indices[i]] += 1
