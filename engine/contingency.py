"""Contingency tables ("missing" included) from exact combination counts, without the records.

A streamed or distributed count (:mod:`.stream`, :mod:`.distributed`) keeps
only the exact count of every combination of up to L present attributes.
That is enough to rebuild the full contingency table of any m <= L columns,
with "missing" as a category of its own, by inclusion–exclusion: start from
a dense table whose index 0 on a column means "any value of it" (the count
of the combination over the other columns), then turn each axis's 0 into
"missing" by subtracting that axis's values. Evaluation uses this for the
k-marginal score and the column charts when the sensitive input is counted
in batches (:func:`marginal_from_counts` returns what
:func:`~showcase.engine.count.marginal_counts` returns on the table).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .aggregates import NO_ATTRIBUTE, Aggregates
from .errors import ParameterError

#: Largest dense table (cells) rebuilt for one column set.
MAX_CELLS = 50_000_000


class CountIndex:
    """The rows of exact aggregates grouped by the set of columns their attributes are on."""

    def __init__(self, exact: Aggregates) -> None:
        schema = exact.schema
        self.exact = exact
        self.n_columns_ = len(schema.columns)
        attrs = exact.attrs
        present = attrs != NO_ATTRIBUTE
        safe = np.where(present, attrs, 0)
        columns = np.where(present, schema.attribute_columns[safe], -1).astype(np.int64)
        self.codes = np.where(present, safe - schema.offsets[np.maximum(columns, 0)] + 1, 0).astype(np.int64)
        self.columns = columns
        base = self.n_columns_ + 1
        key = np.zeros(len(attrs), dtype=np.int64)
        for j in range(attrs.shape[1]):
            key = key * base + (columns[:, j] + 1)
        order = np.argsort(key, kind="stable")
        keys, starts = np.unique(key[order], return_index=True)
        bounds = np.append(starts, len(order))
        self._rows = {int(k): order[bounds[i] : bounds[i + 1]] for i, k in enumerate(keys)}
        self._width = attrs.shape[1]
        self._base = base

    @property
    def schema(self):
        return self.exact.schema

    @property
    def n_rows(self) -> int:
        """The number of records counted."""
        return int(self.exact.record_count)

    @property
    def n_columns(self) -> int:
        return self.n_columns_

    def rows_on(self, columns: tuple[int, ...]) -> np.ndarray:
        """Rows whose attributes are on exactly ``columns`` (ascending)."""
        key = 0
        padded = list(columns) + [-1] * (self._width - len(columns))
        for c in padded:
            key = key * self._base + (c + 1)
        return self._rows.get(key, np.empty(0, dtype=np.int64))


def marginal_from_counts(index: CountIndex, cols: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Mixed-radix keys and counts of every value tuple of ``cols``, "missing" included.

    ``cols`` in any order (the keys follow it, as in
    :func:`~showcase.engine.count.marginal_counts`); at most the aggregates'
    reporting length, which must be exact counts of every combination.
    """
    exact = index.exact
    if len(cols) > exact.reporting_length:
        raise ParameterError(
            f"a marginal of {len(cols)} columns needs counts of length {len(cols)}; "
            f"these stop at {exact.reporting_length}"
        )
    radices = [len(exact.schema.dictionaries[c]) + 1 for c in cols]
    if math.prod(radices) > MAX_CELLS:
        raise ParameterError("too many value tuples for one marginal of counted data; bin the columns first")
    dense = np.zeros(radices, dtype=np.int64)
    dense[(0,) * len(cols)] = exact.record_count
    position = {c: j for j, c in enumerate(cols)}
    for m in range(1, len(cols) + 1):
        for subset in itertools.combinations(sorted(cols), m):
            rows = index.rows_on(subset)
            if len(rows) == 0:
                continue
            at = [np.zeros(len(rows), dtype=np.int64) for _ in cols]
            for j, c in enumerate(subset):
                at[position[c]] = index.codes[rows, j]
            dense[tuple(at)] = exact.count[rows]
    for axis in range(len(cols)):
        moved = np.moveaxis(dense, axis, 0)  # a view: writes reach ``dense``
        moved[0] -= moved[1:].sum(axis=0)
    flat = dense.ravel()
    keys = np.flatnonzero(flat)
    return keys.astype(np.int64), flat[keys]


def column_counts(index: CountIndex, c: int) -> np.ndarray:
    """Records per code of column ``c`` (0 = missing), from the length-1 counts."""
    exact = index.exact
    radix = len(exact.schema.dictionaries[c]) + 1
    counts = np.zeros(radix, dtype=np.int64)
    rows = index.rows_on((c,))
    counts[index.codes[rows, 0]] = exact.count[rows]
    counts[0] = exact.record_count - counts[1:].sum()
    return counts
