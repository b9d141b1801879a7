"""Fitting aggregate-seeded records to the aggregates' counts, never leaving the aggregates.

Aggregate-seeded records (:mod:`.aggregate_seeded`) hold only combinations of
length <= L that the aggregates contain, but their combination counts drift
far from the released ones. :func:`fit_records` then moves them toward every
released count at once, by a local search: one cell (or a swap of one
column between two records) at a time, kept when the error over all
released combinations drops, and refused whenever the changed record would
hold a combination of length <= L absent from the aggregates. The record
count stays as it was; only the aggregates are read.

Two searches
    When the dense cells of every set of up to L columns fit in
    :data:`CELL_LIMIT` (20 columns, L = 3: under a million cells), the search
    of :mod:`showcase.engine.kernels.cell_fit` runs over them: its proposals
    (:data:`PROPOSALS`) include the best code for a cell, and its first
    :data:`SQUARED_SHARE` of the proposals lower the squared error, the rest
    the L1 error (on ACS national, k = 10, L = 3, 20 sweeps: 884 against 864
    for L1 alone and 860 for squared error alone; see bench/RESULTS.md).
    Otherwise the search of :mod:`showcase.engine.kernels.aggregate_fit`
    (uniform codes and swaps, L1 error) runs over the combination table.

Targets
    A k-anonymous release rounds every count down to a multiple of k
    (:func:`showcase.engine.protect.k_anonymize`): the true count then lies
    in ``[count, count + k - 1]``, and the target is its middle, ``count +
    (k - 1) / 2``, scaled to the number of records. Other aggregates (exact,
    or read from a file whose counts are not all multiples of k) are taken
    as they are.

Determinism: one random stream (its seed drawn from the caller's generator)
and a sequential search, so a seed gives the same records whatever the
number of threads.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np

from ..aggregates import PROTECTION_K_ANONYMITY, Aggregates
from ..constraints import Constraint, encode
from ..errors import InputError
from ..kernels import cell_fit
from ..kernels.aggregate_fit import combination_counts, dense_rows, local_search
from ..kernels.constraints import Rules, blank_violations
from ..kernels.keys import combination_table
from ..kernels.rng import new_state
from .split import Progress

#: Proposals per cell of the synthetic table, and at most this many proposals in all: about 2.5
#: minutes at the 6 µs a proposal takes on ACS national (bench/RESULTS.md), so a default fit stays
#: minutes long when many records are made (they get fewer sweeps each).
SWEEPS = 20
MAX_PROPOSALS = 25_000_000
#: Combinations are found by direct address (no hashing) when ``(n_attributes + 1) ** L`` is at most this.
DENSE_LIMIT = 1 << 25
#: The search runs over dense cells of every set of up to L columns (:mod:`~..kernels.cell_fit`) when
#: they are at most this many (8 bytes each), else over the combination table.
CELL_LIMIT = 1 << 23
#: Weights of the proposals of the search over cells: a uniform code (emptying columns to make
#: room), a swap of one column between two records, the best code for one cell.
PROPOSALS = (2, 1, 4)
#: Share of the proposals (the first ones) that lower the squared error; the rest lower the L1 error.
SQUARED_SHARE = 0.5


def _wrapping():
    """Let uint64 hashing wrap silently when the kernels run as plain Python (NUMBA_DISABLE_JIT=1)."""
    return np.errstate(over="ignore")


def targets(aggregates: Aggregates, n_records: int) -> np.ndarray:
    """Each combination's target count for ``n_records`` records (see the module docs)."""
    count = aggregates.count.astype(np.float64)
    k = aggregates.resolution
    if (
        aggregates.protection == PROTECTION_K_ANONYMITY
        and k is not None
        and k > 1
        and np.all(aggregates.count % k == 0)
    ):
        count = count + (k - 1) / 2
    return count * (n_records / max(aggregates.record_count, 1))


def missing_combinations(aggregates: Aggregates, estimate: np.ndarray) -> tuple[list[tuple], list[float]]:
    """Combinations with "missing" cells and their estimated counts, from the released counts alone.

    Column d's "missing" is the id ``n_attributes + d``. A combination of
    attributes R and the missing cells of columns V counts the records holding
    R and nothing in V: by inclusion-exclusion, ``sum over W ⊆ V of (-1)**|W|``
    times the released count of R with any attributes in W (summed over the
    released combinations; suppressed ones count 0, so what they held is
    ascribed to "missing"), cut at 0. ``estimate`` is each combination's count
    (by row); the record count is ``aggregates.record_count``.
    """
    schema = aggregates.schema
    n_attr, n_cols = schema.n_attributes, len(schema.columns)
    length = int(aggregates.reporting_length)
    column_of = schema.attribute_columns.astype(int).tolist()
    combos = [
        tuple(int(a) for a in row[: int(n)])
        for row, n in zip(aggregates.attrs.tolist(), aggregates.length.tolist(), strict=True)
    ]
    # sums[(R, W)]: released counts of R plus one attribute in each column of W, summed.
    sums: dict[tuple, float] = {((), ()): float(aggregates.record_count)}
    for combo, value in zip(combos, estimate.tolist(), strict=True):
        for size in range(len(combo) + 1):
            for kept in itertools.combinations(range(len(combo)), size):
                r = tuple(combo[i] for i in kept)
                w = tuple(column_of[combo[i]] for i in range(len(combo)) if i not in kept)
                sums[(r, w)] = sums.get((r, w), 0.0) + value
    out_combos: list[tuple] = []
    out_counts: list[float] = []
    for r in [(), *combos]:
        if len(r) >= length:
            continue
        taken = {column_of[a] for a in r}
        free = [d for d in range(n_cols) if d not in taken]
        for size in range(1, length - len(r) + 1):
            for v in itertools.combinations(free, size):
                total = 0.0
                for w_size in range(size + 1):
                    for w in itertools.combinations(v, w_size):
                        total += (-1) ** w_size * sums.get((r, w), 0.0)
                out_combos.append(r + tuple(n_attr + d for d in v))
                out_counts.append(max(total, 0.0))
    return out_combos, out_counts


class CellLayout:
    """Every set of 1..L columns and its dense block of cells (see :mod:`~..kernels.cell_fit`).

    ``sets`` are the column tuples by size, then in lexicographic order; ``start[i]``
    is set i's first cell, its cells row-major over its columns' codes (0 = empty).
    """

    def __init__(self, radix: list[int], length: int):
        n_cols = len(radix)
        self.radix = radix
        self.sets = [s for j in range(1, length + 1) for s in itertools.combinations(range(n_cols), j)]
        self.index = {s: i for i, s in enumerate(self.sets)}
        self.shapes = [tuple(radix[c] for c in s) for s in self.sets]
        sizes = [int(np.prod(shape)) for shape in self.shapes]
        self.start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.n_cells = int(self.start[-1])
        self.length = length

    @staticmethod
    def count(radix: list[int], length: int) -> int:
        """How many cells the layout of ``radix`` and ``length`` would have."""
        return sum(
            math.prod(radix[c] for c in s)
            for j in range(1, length + 1)
            for s in itertools.combinations(range(len(radix)), j)
        )

    def strides(self, i: int) -> list[int]:
        """Row-major strides of set i's columns."""
        shape = self.shapes[i]
        return [math.prod(shape[t + 1 :]) for t in range(len(shape))]

    def block(self, values: np.ndarray, i: int) -> np.ndarray:
        """Set i's cells of ``values`` as an array of its shape (a view)."""
        return values[self.start[i] : self.start[i + 1]].reshape(self.shapes[i])

    def by_column(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(base, own, other, stride)``: column c's sets, {c} first, then by size and other columns."""
        n_cols = len(self.radix)
        per = [others for j in range(self.length) for others in itertools.combinations(range(n_cols - 1), j)]
        width = max(self.length - 1, 1)
        base = np.zeros((n_cols, len(per)), dtype=np.int64)
        own = np.zeros((n_cols, len(per)), dtype=np.int64)
        other = np.full((n_cols, len(per), width), -1, dtype=np.int64)
        stride = np.zeros((n_cols, len(per), width), dtype=np.int64)
        for c in range(n_cols):
            rest = [d for d in range(n_cols) if d != c]
            for i, positions in enumerate(per):
                others = [rest[t] for t in positions]
                cols = tuple(sorted([c, *others]))
                s = self.index[cols]
                strides = dict(zip(cols, self.strides(s), strict=True))
                base[c, i] = self.start[s]
                own[c, i] = strides[c]
                for t, d in enumerate(others):
                    other[c, i, t] = d
                    stride[c, i, t] = strides[d]
        return base, own, other, stride


def cell_targets(aggregates: Aggregates, estimate: np.ndarray, layout: CellLayout) -> np.ndarray:
    """Every cell's target (unscaled), NaN where forbidden: a released combination absent.

    Cells of non-empty codes take their combination's ``estimate`` (by row of
    ``aggregates``, whose counts are all positive). A cell with empty codes on
    columns V gets the inclusion-exclusion estimate of :func:`missing_combinations`,
    computed over the blocks: its value is the block without one column c of V
    (the record count for no column) minus the sum over c's non-empty codes.
    """
    schema = aggregates.schema
    column_of = schema.attribute_columns.astype(np.int64)
    offsets = np.asarray(schema.offsets, dtype=np.int64)
    values = np.zeros(layout.n_cells, dtype=np.float64)
    real = np.zeros(layout.n_cells, dtype=bool)
    attrs = np.asarray(aggregates.attrs, dtype=np.int64).reshape(len(aggregates), -1)
    lengths = np.asarray(aggregates.length, dtype=np.int64)
    if len(aggregates):
        width = attrs.shape[1]
        valid = np.arange(width)[None, :] < lengths[:, None]
        safe = np.where(valid, attrs, 0)
        cols = np.where(valid, column_of[safe], -1)
        codes = np.where(valid, safe - offsets[np.maximum(cols, 0)] + 1, 0)
        keys, group = np.unique(cols, axis=0, return_inverse=True)
        group = group.reshape(-1)
        cells = np.zeros(len(aggregates), dtype=np.int64)
        for g, row in enumerate(keys.tolist()):
            rows = np.flatnonzero(group == g)
            key = tuple(c for c in row if c >= 0)
            s = layout.index[key]
            flat = np.full(len(rows), layout.start[s], dtype=np.int64)
            for t, stride in enumerate(layout.strides(s)):
                flat += codes[rows, t] * stride
            cells[rows] = flat
        values[cells] = estimate
        real[cells] = True
    total = float(aggregates.record_count)
    for s, key in enumerate(layout.sets):
        block = layout.block(values, s)
        n = len(key)
        for size in range(1, n + 1):
            for empty in itertools.combinations(range(n), size):
                first = empty[0]
                at = tuple(0 if t in empty else slice(1, None) for t in range(n))
                summed = list(at)
                summed[first] = slice(1, None)
                axis = sum(1 for t in range(first) if t not in empty)
                rest = key[:first] + key[first + 1 :]
                if rest:
                    parent = layout.block(values, layout.index[rest])[at[:first] + at[first + 1 :]]
                else:
                    parent = total
                block[at] = parent - block[tuple(summed)].sum(axis=axis)
    targets = np.maximum(values, 0.0)
    for s in range(len(layout.sets)):
        inner = tuple(slice(1, None) for _ in layout.sets[s])
        block_real = layout.block(real, s)[inner]
        block_targets = layout.block(targets, s)[inner]
        block_targets[~block_real] = np.nan
    return targets


#: Proposals per kernel call. Between calls the fit reports its progress, and Ctrl-C or SIGTERM
#: stop it (about a second a call at L = 3 on a 2-core machine); the records do not depend on it.
FIT_CHUNK = 1 << 17


def fit_proposals(n_records: int, n_columns: int, sweeps: int) -> int:
    """How many changes the fit proposes: ``sweeps`` per cell, at most :data:`MAX_PROPOSALS`."""
    return int(min(MAX_PROPOSALS, int(sweeps) * n_records * n_columns))


def _in_runs(search: Callable[[int, int], int], steps: int, progress: Progress | None) -> int:
    """``search(first, stop)`` over runs of :data:`FIT_CHUNK` proposals; the changes kept in all."""
    kept = 0
    for first in range(0, steps, FIT_CHUNK):
        stop = min(steps, first + FIT_CHUNK)
        kept += int(search(first, stop))
        if progress is not None:
            progress(stop, steps)
    return kept


def fit_records(
    aggregates: Aggregates, codes: np.ndarray, *, seed: np.uint64, sweeps: int, missing: bool = True,
    constraints: Sequence[Constraint] = (), progress: Progress | None = None,
) -> tuple[np.ndarray, int]:  # fmt: skip
    """Records ``codes`` (``(n_cols, n)`` on ``aggregates.schema``) fitted to the aggregates' counts.

    Returns the fitted codes (same shape and dtype) and how many changes were kept.
    ``sweeps`` is the number of proposals per cell (capped at :data:`MAX_PROPOSALS` in all);
    ``progress(done, total)`` is told the proposals made, a run of :data:`FIT_CHUNK` at a time.
    With ``missing``, the counts of combinations with empty cells (see
    :func:`missing_combinations`) are fitted too. No change completes one of the declared
    ``constraints`` over cells; over the combination table, a record left violating one
    loses the attribute that completes it (a subset of what it held).
    """
    schema = aggregates.schema
    rules = encode(constraints, schema)
    n_cols, n = codes.shape
    length = int(aggregates.reporting_length)
    positive = aggregates.count > 0
    released = aggregates.select(positive) if not positive.all() else aggregates
    if n == 0 or n_cols == 0 or len(released) == 0 or sweeps <= 0:
        return codes, 0
    estimate = targets(released, released.record_count)
    radix = [len(d) + 1 for d in schema.dictionaries]
    if CellLayout.count(radix, max(length, 1)) <= CELL_LIMIT:
        return _fit_cells(released, codes, estimate, radix, rules, seed=seed, sweeps=sweeps, missing=missing,
                          progress=progress)  # fmt: skip
    attrs = np.asarray(released.attrs, dtype=np.int64)
    lengths = np.asarray(released.length, dtype=np.uint8)
    n_ids = schema.n_attributes
    if missing:
        extra, extra_counts = missing_combinations(released, estimate)
        if extra:
            n_ids += n_cols
            padded = np.full((len(extra), attrs.shape[1]), -1, dtype=np.int64)
            for i, combo in enumerate(extra):
                padded[i, : len(combo)] = combo
            attrs = np.concatenate([attrs, padded])
            lengths = np.concatenate([lengths, np.array([len(c) for c in extra], dtype=np.uint8)])
            estimate = np.concatenate([estimate, np.array(extra_counts, dtype=np.float64)])
    attrs = np.ascontiguousarray(attrs, dtype=np.int32)
    with _wrapping():
        table, duplicates = combination_table(attrs, lengths, n_ids, max(length, 1))
    if duplicates:
        raise InputError(f"the aggregates list {duplicates} combination(s) more than once")
    size = (n_ids + 1) ** max(length, 1)
    if size <= DENSE_LIMIT:
        dense = dense_rows(table, attrs.astype(np.int64), lengths, size)
    else:
        dense = np.zeros(1, dtype=np.int32)
    fit = np.zeros((len(estimate), 2), dtype=np.float64)  # the records' counts, the targets
    fit[:, 1] = estimate * (n / max(released.record_count, 1))
    layout = (np.ascontiguousarray(schema.offsets[:-1], dtype=np.int64), np.int64(schema.n_attributes),
              bool(missing and n_ids > schema.n_attributes))  # fmt: skip
    radix = np.array([len(d) + 1 for d in schema.dictionaries], dtype=np.int64)
    records = np.ascontiguousarray(codes.T, dtype=np.int32)
    with _wrapping():
        absent = combination_counts(records, layout[0], table, dense, length, layout[1], layout[2], fit)
    if absent:
        raise InputError(f"{absent} combination(s) of the records to fit are absent from the aggregates")
    state = new_state(np.uint64(seed))

    def search(first: int, stop: int) -> int:
        with _wrapping():
            return local_search(records, radix, layout, table, dense, length, fit, stop - first, state)

    kept = _in_runs(search, fit_proposals(n, n_cols, sweeps), progress)
    out = np.ascontiguousarray(records.T, dtype=codes.dtype)
    if constraints:
        blank_violations(out, rules)
    return out, int(kept)


def _fit_cells(
    released: Aggregates, codes: np.ndarray, estimate: np.ndarray, radix: list[int], rules: Rules, *,
    seed: np.uint64, sweeps: int, missing: bool, progress: Progress | None = None,
) -> tuple[np.ndarray, int]:  # fmt: skip
    """:func:`fit_records` over the dense cells of every set of up to L columns."""
    n_cols, n = codes.shape
    layout = CellLayout(radix, max(int(released.reporting_length), 1))
    slack = cell_targets(released, estimate, layout) * (n / max(released.record_count, 1))
    blocks = layout.by_column()
    lay = (*blocks, rules)
    records = np.ascontiguousarray(codes.T, dtype=np.int64)
    held = cell_fit.cell_counts(records, *blocks, slack)
    if held:
        raise InputError(f"{held} combination(s) of the records to fit are absent from the aggregates")
    steps = fit_proposals(n, n_cols, sweeps)
    mix = np.asarray(PROPOSALS, dtype=np.int64)
    squared = int(steps * SQUARED_SHARE)
    values = np.asarray(radix, dtype=np.int64)
    state = new_state(np.uint64(seed))
    missing = bool(missing)

    def search(first: int, stop: int) -> int:
        return cell_fit.local_search(records, values, lay, slack, missing, squared, first, stop, state, mix)

    kept = _in_runs(search, steps, progress)
    return np.ascontiguousarray(records.T, dtype=codes.dtype), int(kept)
