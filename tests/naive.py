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
            "preserved_pct": 100 * preserved / len(s) if s else 0.0,
            "suppressed": len(s) - preserved,
            "suppressed_pct": 100 * (len(s) - preserved) / len(s) if s else 0.0,
            "fabricated": len(r) - preserved,
            "fabricated_pct": 100 * (len(r) - preserved) / len(r) if r else 0.0,
            "rare_sensitive": len(rare),
            "leaked_rare": len(leaked),
            "leakage_pct": 100 * len(leaked) / len(rare) if rare else 0.0,
            "mean_absolute_error": (
                sum(abs(r.get(c, 0) - s.get(c, 0)) for c in union) / len(union) if union else 0.0
            ),
            "mean_proportional_error": (
                sum(abs(r.get(c, 0) - v) / v for c, v in s.items()) / len(s) if s else 0.0
            ),
        }
    return out


# --- DP marginals (engine/kernels/dp_marginals.py) ------------------------------------------------
#
# A record is its sorted attribute ids; ``column[a]`` is attribute a's column. Candidate
# sets are dicts {combination (sorted tuple): index}, released sets plain sets.


def record_combinations(ids, column, allowed, k):
    """The record's k-combinations of allowed ids from distinct columns, in lexicographic order."""
    local = [a for a in ids if allowed[a]]
    return [c for c in itertools.combinations(local, k) if len({column[a] for a in c}) == k]


def record_candidates(ids, column, allowed, k, candidates, previous):
    """Indices of the record's candidates, in enumeration order.

    For k >= 3 a combination whose first k - 1 ids were not released is not
    looked up (the kernel prunes it: with closed candidates it is never one).
    """
    return [
        candidates[c]
        for c in record_combinations(ids, column, allowed, k)
        if c in candidates and (k < 3 or c[:-1] in previous)
    ]


def candidates_per_record(records, column, allowed, k, candidates, previous):
    """How many candidates each record has."""
    return [len(record_candidates(ids, column, allowed, k, candidates, previous)) for ids in records]


class Words:
    """A stream of 62-bit words (kernels/noise.py): ``exhausted`` once a draw finds none left."""

    def __init__(self, words):
        self.words = [int(w) for w in words]
        self.next = 0
        self.exhausted = False

    def uniform_below(self, m):
        """Uniform in [0, m) by rejection of the words at or above the largest multiple of m."""
        limit = ((1 << 62) // m) * m
        while True:
            if self.next >= len(self.words):
                self.exhausted = True
                return 0
            r = self.words[self.next]
            self.next += 1
            if r < limit:
                return r % m


def trimmed_counts(records, column, allowed, k, candidates, previous, bound, bounds, words):
    """Per partition ``p`` (records ``bounds[p]:bounds[p + 1]``, words ``words[p]``): counts of the
    candidates where a record with more than ``bound`` keeps ``bound`` of them, chosen by a
    partial Fisher-Yates shuffle; and whether the partition ran out of words (it then stops
    before counting the record it was trimming)."""
    counts, exhausted = [], []
    for p in range(len(bounds) - 1):
        stream = Words(words[p])
        tally = [0] * len(candidates)
        for r in range(bounds[p], bounds[p + 1]):
            found = record_candidates(records[r], column, allowed, k, candidates, previous)
            if len(found) > bound:
                for i in range(bound):
                    j = i + stream.uniform_below(len(found) - i)
                    found[i], found[j] = found[j], found[i]
                if stream.exhausted:
                    break
                found = found[:bound]
            for c in found:
                tally[c] += 1
        counts.append(tally)
        exhausted.append(stream.exhausted)
    return counts, exhausted


def extend_candidates(previous, singles, column):
    """``S + (a,)`` for every released S (in order) and released single a (in order) of a later
    column, when every (k-1)-subset is released."""
    released = set(previous)
    out = []
    for combo in previous:
        for a in singles:
            if column[a] <= column[combo[-1]]:
                continue
            grown = (*combo, a)
            if all(grown[:d] + grown[d + 1 :] in released for d in range(len(combo))):
                out.append(grown)
    return out


def cap_by_subsets(combos, counts, sub_counts):
    """Each count capped by the counts of its (k-1)-subsets that are listed in ``sub_counts``."""
    out = []
    for combo, n in zip(combos, counts):
        for d in range(len(combo)):
            sub = combo[:d] + combo[d + 1 :]
            if sub in sub_counts:
                n = min(n, sub_counts[sub])
        out.append(n)
    return out
