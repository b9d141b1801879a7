"""Value-seeded synthesis under k-anonymity (SPEC §3, ``value_seeded``).

Every attribute gets a budget: its protected count ``floor(count / k) * k``
(attributes rarer than k get none and never appear). While some budget is
left, a record is seeded with an attribute drawn in proportion to its
remaining budget, then completed as in unseeded synthesis: the other columns,
in random order, each draw a sensitive record among those holding the record's
attributes and take its value, kept only if the record's combination stays
shared by >= k sensitive records. Every use of an attribute, seed or
completion, spends one unit of its budget (if any is left).

Oversampling (``oversampling_ratio`` r, ``oversampling_tries`` t): completions
can use an attribute beyond its budget. With r given, an attribute already used
``floor((1 + r) * protected_count)`` times is not used again: a completion that
draws it draws again, at most t more times for that column, after which the
column is left empty. Without r, there is no limit. (Synthetic Data Showcase
applies its ratio to combinations up to the reporting length against released
aggregates; this mode has no aggregates, so the bound is per attribute.)

Guarantees: every synthetic record's combination, hence every sub-combination,
occurs >= k times in the sensitive data; every attribute with a protected count
appears at least that many times; with r given, at most
``floor((1 + r) * protected_count)`` times (so r = 0 gives exact counts). The
number of records is what the budgets need, at most their sum.

Work is split into fixed partitions of the budgets (each attribute's budget and
allowance are divided exactly), so the bounds hold for the sum and the output
depends on the seed only, not on the number of threads. Partitions run in
parallel; within one, records are made one after the other (budgets are
shared), each support test on the whole table's index, so a record costs up
to a few passes over ``n_rows / 64`` bitmap words, as in the other modes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..checks import is_integer, is_number
from ..constraints import Constraint, encode
from ..encode import EncodedTable
from ..errors import ParameterError
from ..kernels.row_synthesis import Rule, value_seeded_records
from ..protect import validate_resolution
from ..randomness import stream_seeds
from .consolidate import Tally, protected_counts, run_parallel, split_counts, support_index

#: Redraws of an over-used attribute when ``oversampling_ratio`` is given without tries.
DEFAULT_TRIES = 10
#: Budget units per partition of the work.
BUDGET_PARTITION = 1 << 18
NO_LIMIT = np.iinfo(np.int64).max
#: Bounds of the oversampling parameters.
MAX_OVERSAMPLING = 1e6
MAX_TRIES = 10**6


def validate_oversampling(ratio: float | None, tries: int | None) -> tuple[float | None, int]:
    """Check the oversampling parameters; returns ``(ratio, tries)`` with the default tries."""
    if ratio is not None:
        if not (is_number(ratio) and 0 <= ratio <= MAX_OVERSAMPLING):
            raise ParameterError(
                f"oversampling_ratio must be a number from 0 to {MAX_OVERSAMPLING:g}, got {ratio!r}"
            )
        ratio = float(ratio)
    if tries is None:
        return ratio, DEFAULT_TRIES
    if not (is_integer(tries) and 0 <= tries <= MAX_TRIES):
        raise ParameterError(f"oversampling_tries must be an integer from 0 to {MAX_TRIES}, got {tries!r}")
    if ratio is None:
        raise ParameterError("oversampling_tries applies only with oversampling_ratio; give both")
    return ratio, int(tries)


def value_seeded(
    table: EncodedTable,
    *,
    resolution: int,
    rng: np.random.Generator,
    oversampling_ratio: float | None = None,
    oversampling_tries: int | None = None,
    constraints: Sequence[Constraint] = (),
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Synthetic codes ``(n_columns, n_synthetic)``, same dtype and meaning as ``table.codes``.

    ``resolution`` is k; all randomness comes from ``rng`` (same seed, same
    output, whatever the number of threads). An attribute that would complete
    one of ``constraints`` is refused like a failed k-test. ``progress(done,
    total)`` follows the budget partitions finished.
    """
    k = validate_resolution(resolution)
    ratio, tries = validate_oversampling(oversampling_ratio, oversampling_tries)
    index = support_index(table, k)
    budget = protected_counts(index.counts, k)
    if ratio is None:
        allowance = None
    else:
        allowance = np.floor((1.0 + ratio) * budget.astype(np.float64)).astype(np.int64) - budget
        allowance = np.maximum(allowance, 0)
    total = int(budget.sum())
    n_parts = max(1, -(-total // BUDGET_PARTITION))
    seeds = stream_seeds(rng, n_parts)
    rules = encode(constraints, table.schema)

    def grow(part: int) -> np.ndarray:
        share = split_counts(budget, n_parts, part)
        if allowance is None:
            cap = np.full_like(share, NO_LIMIT)
        else:
            cap = share + split_counts(allowance, n_parts, part)
        rule = Rule(k, index.exit_hits, index.list_max)
        return value_seeded_records(index.arrays, rule, share, cap, tries, seeds[part], rules)

    tally = Tally(progress, n_parts)
    parts = run_parallel(grow, range(n_parts), lambda _: tally.add(1))
    return np.ascontiguousarray(np.concatenate(parts, axis=1))
