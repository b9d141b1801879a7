"""Slow, obviously-correct reference implementations for the kernels' tests."""

from __future__ import annotations

import itertools
from collections import Counter


def attributes(rows, columns, null_markers=("",), sensitive_zeros=()):
    """Per row, the list of (column, value) attributes in column order."""
    markers = {"", None, *null_markers}
    out = []
    for row in rows:
        attrs = []
        for name, value in zip(columns, row):
            if value in markers:
                continue
            if value == "0" and name not in sensitive_zeros:
                continue
            attrs.append((name, value))
        out.append(attrs)
    return out


def count_combinations(rows, columns, length, **rules):
    """Counter of combination tuples ((col, value), ...) of length 1..length."""
    counts = Counter()
    for attrs in attributes(rows, columns, **rules):
        for k in range(1, length + 1):
            counts.update(itertools.combinations(attrs, k))
    return counts
