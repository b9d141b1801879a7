"""Kernel of pairwise-conditional synthesis from released aggregates.

Every synthetic record is built column by column in random order. For column
c, each value v (and "missing") gets the log-score mean over the record's
attributes a so far of log P(v | a), estimated from released pair counts
(``log_cond[a, v]``) and, for "missing", from what a's count leaves
unexplained (``log_missing[a, c]``); with no attribute yet, the released 1-way
shares are used. A value is drawn in proportion to exp(score). Scores are kept
incrementally, so a record costs O(columns × attributes).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit, prange

from ..config import PARALLEL_JIT
from .constraints import violates_with
from .rng import new_state, shuffle, uniform

#: The log-score tables (see the module docs): column ``c``'s attributes are
#: ``offsets[c]:offsets[c + 1]``; ``log_single[a]`` and ``log_single_missing[c]`` are the
#: 1-way scores, ``log_cond[a, b]`` and ``log_missing[a, c]`` the conditional ones.
Scores = namedtuple("Scores", ["offsets", "log_single", "log_single_missing", "log_cond", "log_missing"])


@njit(**PARALLEL_JIT)
def pairwise_records(scores, seeds, partition_size, out, rules):
    """Fill ``out[c, r]`` with codes (0 = missing) for every record ``r``.

    A value that would complete a declared constraint (``rules``, see
    :mod:`.constraints`; ``out`` starts at 0) is drawn again among the allowed ones.

    Partition p of ``partition_size`` records draws from the stream of
    ``seeds[p]`` (:mod:`.rng`): same seeds, same records, whatever the threads.
    """
    offsets, log_single, log_single_missing, log_cond, log_missing = scores
    n_records = out.shape[1]
    n_cols = offsets.shape[0] - 1
    n_attrs = offsets[n_cols]
    n_parts = seeds.shape[0]
    for p in prange(n_parts):
        state = new_state(seeds[p])
        score = np.zeros(n_attrs, dtype=np.float64)
        score_missing = np.zeros(n_cols, dtype=np.float64)
        order = np.arange(n_cols)
        weights = np.empty(n_attrs + 1, dtype=np.float64)
        for r in range(p * partition_size, min(n_records, (p + 1) * partition_size)):
            score[:] = 0.0
            score_missing[:] = 0.0
            chosen = 0
            shuffle(state, order, n_cols)
            for step in range(n_cols):
                c = order[step]
                lo, hi = offsets[c], offsets[c + 1]
                size = hi - lo
                best = -np.inf
                for v in range(size):
                    s = log_single[lo + v] if chosen == 0 else score[lo + v] / chosen
                    weights[v] = s
                    if s > best:
                        best = s
                s = log_single_missing[c] if chosen == 0 else score_missing[c] / chosen
                weights[size] = s
                if s > best:
                    best = s
                total = 0.0
                for v in range(size + 1):
                    weights[v] = np.exp(weights[v] - best)
                    total += weights[v]
                u = uniform(state) * total
                pick = size
                acc = 0.0
                for v in range(size + 1):
                    acc += weights[v]
                    if u < acc:
                        pick = v
                        break
                if pick < size and violates_with(out[:, r], c, pick + 1, rules):
                    total = 0.0
                    for v in range(size):
                        if violates_with(out[:, r], c, v + 1, rules):
                            weights[v] = 0.0
                        total += weights[v]
                    total += weights[size]
                    u = uniform(state) * total
                    pick = size
                    acc = 0.0
                    for v in range(size + 1):
                        acc += weights[v]
                        if weights[v] > 0.0 and u < acc:
                            pick = v
                            break
                if pick == size:
                    out[c, r] = 0
                    continue
                out[c, r] = pick + 1
                a = lo + pick
                for b in range(n_attrs):
                    score[b] += log_cond[a, b]
                for d in range(n_cols):
                    score_missing[d] += log_missing[a, d]
                chosen += 1
