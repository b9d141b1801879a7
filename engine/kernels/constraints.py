"""Kernels of declared constraints: does a (partial) record hold an impossible combination?

A constraint is a set of items, each a column and the codes of it that match;
a record violates the constraint when every item's column holds a matching
code. Code 0 (no attribute) never matches, so a record still being built
(columns not yet decided are 0) violates only once its last item is set.
:data:`Rules` stores the constraints flat: constraint ``k`` owns items
``item_ptr[k]:item_ptr[k + 1]``; item ``i`` is on column ``item_col[i]`` and code
``v`` matches when ``v < item_len[i]`` and ``mask[item_off[i] + v]``; the
constraints with an item on column ``c`` are ``col_rules[col_ptr[c]:col_ptr[c + 1]]``.
No rule at all (``item_ptr`` of length 1) makes every check False.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit, prange

from ..config import BORROW_JIT, PARALLEL_JIT

#: The constraints, flat (see the module docs).
Rules = namedtuple("Rules", ["item_ptr", "item_col", "item_off", "item_len", "mask", "col_ptr", "col_rules"])


def no_rules() -> Rules:
    """Rules of no constraint: every check is False."""
    empty = np.zeros(0, np.int64)
    return Rules(
        np.zeros(1, np.int64), empty, empty, empty, np.zeros(1, np.uint8), np.zeros(1, np.int64), empty
    )


@njit(**BORROW_JIT)
def _matches(rules, i, v):
    """Whether code ``v`` matches item ``i``."""
    v = np.int64(v)
    return 0 < v < rules.item_len[i] and rules.mask[rules.item_off[i] + v] != 0


@njit(**BORROW_JIT)
def violates(record, rules):
    """Whether ``record`` (codes by column) holds every item of some constraint."""
    for k in range(rules.item_ptr.shape[0] - 1):
        hit = True
        for i in range(rules.item_ptr[k], rules.item_ptr[k + 1]):
            if not _matches(rules, i, record[rules.item_col[i]]):
                hit = False
                break
        if hit:
            return True
    return False


@njit(**BORROW_JIT)
def violates_with(record, c, v, rules):
    """Whether ``record`` with column ``c`` set to code ``v`` would violate a constraint on column ``c``.

    Only constraints with an item on ``c`` are checked: the others are as the
    record already was.
    """
    if c + 1 >= rules.col_ptr.shape[0]:
        return False
    for t in range(rules.col_ptr[c], rules.col_ptr[c + 1]):
        k = rules.col_rules[t]
        hit = True
        for i in range(rules.item_ptr[k], rules.item_ptr[k + 1]):
            col = rules.item_col[i]
            if not _matches(rules, i, v if col == c else record[col]):
                hit = False
                break
        if hit:
            return True
    return False


@njit(**PARALLEL_JIT)
def violating_records(codes, rules, out):
    """``out[r]`` = whether record ``r`` of ``codes`` (``(n_columns, n_records)``) violates a constraint."""
    n = codes.shape[1]
    for r in prange(n):
        out[r] = violates(codes[:, r], rules)


@njit(**BORROW_JIT)
def blank_violations(codes, rules):
    """Make every record of ``codes`` (``(n_columns, n_records)``) violate nothing by setting items to 0.

    For each constraint a record violates, its last item's column is set to 0
    (no attribute): the record keeps a subset of its attributes, so any
    combination it still holds was in it before. Returns how many records changed.
    """
    n = codes.shape[1]
    changed = 0
    for r in range(n):
        touched = False
        for k in range(rules.item_ptr.shape[0] - 1):
            hit = True
            for i in range(rules.item_ptr[k], rules.item_ptr[k + 1]):
                if not _matches(rules, i, codes[rules.item_col[i], r]):
                    hit = False
                    break
            if hit:
                codes[rules.item_col[rules.item_ptr[k + 1] - 1], r] = 0
                touched = True
        if touched:
            changed += 1
    return changed


@njit(**BORROW_JIT)
def draw_allowed(record, c, cumulative, lo, width, u, rules):
    """A code of column ``c`` drawn with uniform ``u`` from the cumulative row ``cumulative[lo:lo + width]``
    (code j has probability ``cumulative[lo + j] - cumulative[lo + j - 1]``), among the codes that
    ``record`` allows; 0 (no attribute, always allowed) when no other code is allowed or has weight.
    """
    total = 0.0
    previous = 0.0
    for j in range(width):
        p = cumulative[lo + j] - previous
        previous = cumulative[lo + j]
        if p > 0.0 and (j == 0 or not violates_with(record, c, j, rules)):
            total += p
    if total <= 0.0:
        return 0
    target = u * total
    acc = 0.0
    previous = 0.0
    pick = 0
    for j in range(width):
        p = cumulative[lo + j] - previous
        previous = cumulative[lo + j]
        if p > 0.0 and (j == 0 or not violates_with(record, c, j, rules)):
            acc += p
            pick = j
            if target < acc:
                break
    return pick
