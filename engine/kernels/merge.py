"""Kernels that merge the rows of one subject into one record.

``codes`` holds one row per column (0: no attribute) and ``subject`` the
dense subject number (0..n_subjects-1) of every input row. One pass over the
rows per column: a scatter, no sort, so merging is linear in the rows.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..config import BORROW_JIT, PARALLEL_JIT


@njit(**PARALLEL_JIT)
def first_codes(codes, subject, n_subjects, out, conflicts):
    """Per column and subject, the first non-zero code of its rows, into ``out`` (columns × subjects).

    ``conflicts[c]`` counts the subjects whose rows hold two different
    non-zero codes in column ``c`` (such a column is multi-valued per subject).
    """
    n_columns, n_rows = codes.shape
    for c in prange(n_columns):
        seen = np.zeros(n_subjects, dtype=np.uint8)
        row = out[c]
        count = 0
        for r in range(n_rows):
            v = codes[c, r]
            if v == 0:
                continue
            s = subject[r]
            if row[s] == 0:
                row[s] = v
            elif row[s] != v and seen[s] == 0:
                seen[s] = 1
                count += 1
        conflicts[c] = count


@njit(**BORROW_JIT)
def code_indicators(column, subject, out):
    """``out[v - 1, s] = 1`` where some row of subject ``s`` holds code ``v`` (values × subjects)."""
    for r in range(column.shape[0]):
        v = column[r]
        if v != 0:
            out[v - 1, subject[r]] = 1
