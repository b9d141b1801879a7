"""Kernel of tree synthesis: sample records column by column down a tree of columns.

Column ``order[0]`` is the root; every later column in ``order`` has its
``parent`` earlier in the order. Column c's value is drawn from row
``out[parent[c], r]`` of its cumulative conditional table (one row for the
root), stored flat: row j of column c starts at ``starts[c] + j * widths[c]``
and holds ``widths[c]`` cumulative probabilities, the last one 1.0. Value 0 is
"missing", as in the codes.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit, prange

from ..config import PARALLEL_JIT
from .constraints import draw_allowed, violates_with
from .rng import new_state, uniform

#: The fitted tree: columns in sampling ``order``, each one's ``parent`` (-1: the root) and
#: its flat cumulative tables (``starts``, ``widths``, ``cumulative``; see the module docs).
Tree = namedtuple("Tree", ["order", "parent", "starts", "widths", "cumulative"])


@njit(**PARALLEL_JIT)
def tree_records(tree, seeds, partition_size, out, rules):
    """Fill ``out[c, r]`` for every record ``r``; partition p draws from the stream of ``seeds[p]``.

    A value that would complete a declared constraint (``rules``, see
    :mod:`.constraints`; ``out`` starts at 0) is drawn again from the
    conditional row restricted to the allowed values.
    """
    order, parent, starts, widths, cumulative = tree
    n_records = out.shape[1]
    n_parts = seeds.shape[0]
    for p in prange(n_parts):
        state = new_state(seeds[p])
        for r in range(p * partition_size, min(n_records, (p + 1) * partition_size)):
            for step in range(order.shape[0]):
                c = order[step]
                row = 0 if parent[c] < 0 else np.int64(out[parent[c], r])
                lo = starts[c] + row * widths[c]
                u = uniform(state)
                # Binary search for the first cumulative value above u.
                left, right = 0, widths[c] - 1
                while left < right:
                    middle = (left + right) // 2
                    if cumulative[lo + middle] > u:
                        right = middle
                    else:
                        left = middle + 1
                if left > 0 and violates_with(out[:, r], c, left, rules):
                    left = draw_allowed(out[:, r], c, cumulative, lo, widths[c], uniform(state), rules)
                out[c, r] = left
