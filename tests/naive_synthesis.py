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


# --- tree and pairwise synthesis kernels (engine/kernels/tree.py, pairwise.py) --------------------


def tree_records(order, parent, starts, widths, cumulative, seeds, partition_size, n_records):
    """Codes ``[column][record]``: down the tree, each value the first whose cumulative
    probability in its parent's row exceeds a uniform draw; partition p draws from seeds[p]."""
    from .naive_rng import Xoshiro

    out = [[0] * n_records for _ in range(len(order))]
    for p, seed in enumerate(seeds):
        rng = Xoshiro(int(seed))
        for r in range(p * partition_size, min(n_records, (p + 1) * partition_size)):
            for c in order:
                row = 0 if parent[c] < 0 else out[parent[c]][r]
                lo = starts[c] + row * widths[c]
                u = rng.uniform()
                values = [v for v in range(widths[c]) if cumulative[lo + v] > u]
                out[c][r] = values[0] if values else widths[c] - 1
    return out


def pairwise_records(offsets, log_single, log_single_missing, log_cond, log_missing, seeds, partition_size,
                     n_records):  # fmt: skip
    """Codes ``[column][record]`` of pairwise-conditional sampling (see kernels/pairwise.py), with
    the kernel's floating-point operations in the kernel's order."""
    import math

    from .naive_rng import Xoshiro

    n_cols = len(offsets) - 1
    n_attrs = offsets[-1]
    out = [[0] * n_records for _ in range(n_cols)]
    for p, seed in enumerate(seeds):
        rng = Xoshiro(int(seed))
        order = list(range(n_cols))  # shuffled in place, record after record
        for r in range(p * partition_size, min(n_records, (p + 1) * partition_size)):
            score = [0.0] * n_attrs
            score_missing = [0.0] * n_cols
            chosen = 0
            rng.shuffle(order)
            for c in order:
                lo, size = offsets[c], offsets[c + 1] - offsets[c]
                if chosen == 0:
                    logs = [float(log_single[lo + v]) for v in range(size)] + [float(log_single_missing[c])]
                else:
                    logs = [score[lo + v] / chosen for v in range(size)] + [score_missing[c] / chosen]
                best = max(logs)
                weights = [math.exp(s - best) for s in logs]
                total = 0.0
                for w in weights:
                    total += w
                u = rng.uniform() * total
                pick, acc = size, 0.0
                for v, w in enumerate(weights):
                    acc += w
                    if u < acc:
                        pick = v
                        break
                if pick == size:
                    continue
                out[c][r] = pick + 1
                a = lo + pick
                for b in range(n_attrs):
                    score[b] += float(log_cond[a, b])
                for d in range(n_cols):
                    score_missing[d] += float(log_missing[a, d])
                chosen += 1
    return out


# --- row-seeded pool records (engine/kernels/row_synthesis.py, pool_records) ----------------------


def pool_records(codes, offsets, k, first, remaining, seeds, share, tries, holders):
    """Pool records starting from id ``first``, grown on the whole sensitive table ``codes``.

    ``remaining[p]`` (a list per partition, updated in place) is what partition
    ``p`` still has to place; partition ``p`` draws from ``Xoshiro(seeds[p])``.
    Records as lists of codes per column, partition by partition. With
    ``holders`` (sensitive records holding ``first``), a record draws one of
    them and offers its value first in each column; then values of the column
    are drawn in proportion to what is left, up to ``tries`` distinct ones.
    """
    from .naive_rng import Xoshiro

    n_columns = len(offsets) - 1
    column_of = [c for c in range(n_columns) for _ in range(offsets[c + 1] - offsets[c])]
    sensitive = records(codes)

    def attribute(b):
        return (column_of[b], b - offsets[column_of[b]] + 1)

    out = []
    order = list(range(n_columns))  # shuffled in place, record after record, across partitions
    for p, seed in enumerate(seeds):
        rng = Xoshiro(int(seed))
        left = remaining[p]
        starts = left[first] if share <= 1 else -(-left[first] // share)
        for _ in range(starts):
            if left[first] == 0:
                break
            record = [0] * n_columns
            combination = {attribute(first)}
            record[column_of[first]] = attribute(first)[1]
            left[first] -= 1
            rng.shuffle(order)
            seed_row = holders[rng.below(len(holders))] if len(holders) else -1
            for c in order:
                if c == column_of[first]:
                    continue
                if seed_row >= 0 and codes[c, seed_row] > 0:
                    b = offsets[c] + int(codes[c, seed_row]) - 1
                    if left[b] > 0 and support(sensitive, frozenset(combination | {attribute(b)})) >= k:
                        record[c] = attribute(b)[1]
                        combination.add(attribute(b))
                        left[b] -= 1
                        continue
                hidden: set = set()
                mass = sum(left[b] for b in range(offsets[c], offsets[c + 1]))
                while mass > 0 and len(hidden) < tries:
                    target = rng.below(mass)
                    for b in range(offsets[c], offsets[c + 1]):
                        weight = 0 if b in hidden else left[b]
                        if target < weight:
                            break
                        target -= weight
                    if support(sensitive, frozenset(combination | {attribute(b)})) >= k:
                        record[c] = attribute(b)[1]
                        combination.add(attribute(b))
                        left[b] -= 1
                        break
                    hidden.add(b)
                    mass -= left[b]
            out.append(record)
    return out
