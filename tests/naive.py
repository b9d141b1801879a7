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


def combination_metrics(sensitive: Counter, release: Counter, k: int, lengths) -> dict:
    """Per-length metrics by their plain definitions (see showcase.engine.evaluate)."""
    out = {}
    for n in lengths:
        s = {c: v for c, v in sensitive.items() if len(c) == n}
        r = {c: v for c, v in release.items() if len(c) == n}
        union = set(s) | set(r)
        preserved = len(set(s) & set(r))
        rare = [c for c, v in s.items() if v < k]
        leaked = [c for c in rare if 0 < r.get(c, 0) < k]
        out[n] = {
            "sensitive_combinations": len(s),
            "release_combinations": len(r),
            "preserved": preserved,
            "suppressed": len(s) - preserved,
            "fabricated": len(r) - preserved,
            "rare_sensitive": len(rare),
            "leaked_rare": len(leaked),
            "mean_absolute_error": (
                sum(abs(r.get(c, 0) - s.get(c, 0)) for c in union) / len(union) if union else 0.0
            ),
            "mean_proportional_error": (
                sum(abs(r.get(c, 0) - v) / v for c, v in s.items()) / len(s) if s else 0.0
            ),
        }
    return out
