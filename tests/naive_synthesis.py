"""Slow, obviously-correct references for the synthesis tests (plain Python sets)."""

from __future__ import annotations

from collections import Counter

import numpy as np


def records(codes: np.ndarray) -> list[frozenset]:
    """Each record (a column of ``codes``) as the set of its (column, code) attributes."""
    return [frozenset((c, int(v)) for c, v in enumerate(column) if v) for column in codes.T]


def support(sensitive: list[frozenset], combination: frozenset) -> int:
    """Number of sensitive records that hold every attribute of ``combination``."""
    return sum(1 for row in sensitive if combination <= row)


def rare_records(sensitive_codes: np.ndarray, synthetic_codes: np.ndarray, k: int) -> list[int]:
    """Indices of synthetic records whose combination occurs fewer than ``k`` times.

    An empty record holds no combination, so it is never rare.
    """
    sensitive = records(sensitive_codes)
    known: dict[frozenset, int] = {}
    rare = []
    for j, record in enumerate(records(synthetic_codes)):
        if record not in known:
            known[record] = support(sensitive, record)
        if record and known[record] < k:
            rare.append(j)
    return rare


def attribute_counts(codes: np.ndarray) -> Counter:
    """Counter of (column, code) over all records."""
    counts: Counter = Counter()
    for record in records(codes):
        counts.update(record)
    return counts


def protected_counts(codes: np.ndarray, k: int) -> dict:
    """``floor(count / k) * k`` of every attribute with count >= k."""
    return {a: (n // k) * k for a, n in attribute_counts(codes).items() if n >= k}
