"""Aggregate-seeded synthesis (SPEC §3): synthetic records from released aggregates only.

The synthesizer never sees sensitive data: its only input is an
:class:`~showcase.engine.aggregates.Aggregates` (read from a release's Parquet
file or an SDS-compatible TSV), so the records it writes carry exactly the
protection of those aggregates (k-anonymity, or DP for DP aggregates).

How a record is built
    Start empty and add one attribute at a time by weighted sampling among the
    *allowed candidates*. A candidate is an attribute of a column the record
    does not have yet, with budget left (see below), such that every
    combination it forms with up to L - 1 attributes of the record is in the
    aggregates. Its weight is the aggregate count of the record plus the
    candidate while that has at most L attributes, and otherwise the
    ``weight_selection_percentile``-th percentile (linear interpolation) of
    the counts of the length-L sub-combinations that hold the candidate.

When a record is finished
    When no allowed candidate is left: every remaining column either has no
    attribute that fits with the record under the aggregates, or its fitting
    attributes have no budget left. There is no separate "stop" draw, so a
    column is left empty only when nothing may fill it; in practice that is
    what leaves columns empty, because the m-th attribute must fit
    C(m - 1, L - 1) reported combinations of length L and, under
    k-anonymity, many long combinations are not reported. A record can be
    empty only when no attribute has budget left at all.

Budgets (what keeps single-attribute counts right)
    Every attribute may be used at most its scaled count times:
    ``count × aggregate_counts_scale_factor``, shared between partitions in
    proportion to their records (a partition of n records out of N gets
    ``count × scale × n / N``, rounded up or down at random so the expected
    total is exact). When every budget of a partition is spent before its
    records are all built, its budgets (and synthetic counts) start again
    from the full share, so exactly ``target_number_of_records`` records are
    written (Synthetic Data Showcase does the same).

``use_synthetic_counts``
    Weights use what is left of each combination's count after subtracting
    how often the records built so far (in the same partition) hold it; a
    combination used up blocks its candidates, as in Synthetic Data Showcase.
    Counts are the partition's share of the scaled counts.

Guarantee: no synthetic record holds a combination of length <= L that is
absent from the aggregates (combinations with a count <= 0 count as absent).

Determinism: records are built in partitions of :data:`PARTITION_RECORDS`,
each with its own random stream from :func:`~showcase.engine.randomness.stream_seeds`,
so a seed gives the same records whatever the number of threads.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numba
import numpy as np

from ..aggregates import Aggregates
from ..checks import check_flag
from ..constraints import Constraint, encode
from ..encode import EncodedTable, code_dtype
from ..errors import InputError, ParameterError
from ..kernels.aggregate_synthesis import Children, Model, Plan, build_children, synthesize_records
from ..kernels.keys import combination_table, find_rows
from ..randomness import check_rng, stream_seeds
from .split import Progress, SplitWork

#: Records per partition: the unit of randomness, of budget shares and of parallel work.
PARTITION_RECORDS = 4096
#: Candidates are found through child lists, their counts kept between steps, when all
#: threads need at most this many bytes for them; else every combination is looked up.
STORE_MEMORY = 1 << 28
#: Partitions synthesized per kernel call, per thread (progress is reported between calls).
PARTITIONS_PER_CALL = 4


def _wrapping():
    """Let uint64 hashing wrap silently when the kernels run as plain Python (NUMBA_DISABLE_JIT=1)."""
    return np.errstate(over="ignore")


class CombinationTable:
    """The :class:`~showcase.engine.kernels.keys.Table` of an aggregates' combinations → their row."""

    def __init__(self, aggregates: Aggregates):
        attrs = np.ascontiguousarray(aggregates.attrs, dtype=np.int32)
        lengths = np.ascontiguousarray(aggregates.length, dtype=np.uint8)
        with _wrapping():
            self.table, duplicates = combination_table(
                attrs, lengths, aggregates.schema.n_attributes, max(aggregates.reporting_length, 1)
            )
        if duplicates:
            raise InputError(f"the aggregates list {duplicates} combination(s) more than once")
        #: int64 words per key (one unless the ids of a combination do not fit one).
        self.words = self.table.slots.shape[1] - 1

    def children(self, aggregates: Aggregates) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CSR lists of each combination's one-attribute extensions (see ``build_children``)."""
        attrs = np.ascontiguousarray(aggregates.attrs, dtype=np.int32)
        lengths = np.ascontiguousarray(aggregates.length, dtype=np.uint8)
        with _wrapping():
            return build_children(attrs, lengths, self.table)

    def find(self, attrs: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Row of every combination ``attrs[i, :lengths[i]]`` (sorted ids), -1 where absent."""
        attrs = np.ascontiguousarray(attrs, dtype=np.int32).reshape(len(lengths), -1)
        lengths = np.ascontiguousarray(lengths, dtype=np.uint8)
        with _wrapping():
            return find_rows(self.table, attrs, lengths)


#: Bounds of the aggregate-seeded parameters: far beyond any useful value, and small
#: enough that no count, weight or record target overflows.
MAX_SCALE_FACTOR = 1e6
MAX_RECORDS = 10**9


def validate_parameters(
    weight_selection_percentile: float,
    aggregate_counts_scale_factor: float,
    target_number_of_records: int | None,
) -> None:
    """Check the aggregate-seeded parameters; one line per problem."""
    q = weight_selection_percentile
    if isinstance(q, bool) or not isinstance(q, (int, float, np.integer, np.floating)) or not 0 <= q <= 100:
        raise ParameterError(f"weight_selection_percentile must be between 0 and 100, got {q!r}")
    s = aggregate_counts_scale_factor
    if (
        isinstance(s, bool)
        or not isinstance(s, (int, float, np.integer, np.floating))
        or not (math.isfinite(s) and 0 < s <= MAX_SCALE_FACTOR)
    ):
        raise ParameterError(
            f"aggregate_counts_scale_factor must be a number in (0, {MAX_SCALE_FACTOR:g}], got {s!r}"
        )
    check_target(target_number_of_records)


#: Proposals per cell of the fit that follows synthesis unless told (0: aggregate-seeded records as built).
#: 20: ACS national, k = 10, L = 3: k-marginal 727 → 883 in about a minute (bench/RESULTS.md).
DEFAULT_FIT_SWEEPS = 20
MAX_FIT_SWEEPS = 10_000


def check_fit_sweeps(sweeps: int | None) -> int:
    """The fit's proposals per cell: an integer from 0 to :data:`MAX_FIT_SWEEPS` (None: the default)."""
    if sweeps is None:
        return DEFAULT_FIT_SWEEPS
    if (
        isinstance(sweeps, bool)
        or not isinstance(sweeps, (int, np.integer))
        or not 0 <= sweeps <= MAX_FIT_SWEEPS
    ):
        raise ParameterError(f"fit_sweeps must be an integer from 0 to {MAX_FIT_SWEEPS}, got {sweeps!r}")
    return int(sweeps)


def check_target(n: int | None) -> int | None:
    """A number of records to synthesize: an integer from 0 to :data:`MAX_RECORDS` (or None)."""
    if n is not None and (
        isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= MAX_RECORDS
    ):
        raise ParameterError(
            f"target_number_of_records must be an integer from 0 to {MAX_RECORDS}, got {n!r}"
        )
    return None if n is None else int(n)


def default_target(aggregates: Aggregates, aggregate_counts_scale_factor: float = 1.0) -> int:
    """The aggregates' record count times the scale factor, rounded (at most :data:`MAX_RECORDS`)."""
    n = round(aggregates.record_count * float(aggregate_counts_scale_factor))
    if n > MAX_RECORDS:
        raise ParameterError(
            f"the scale factor asks for {n:.3g} records, more than {MAX_RECORDS}; give a smaller "
            "--aggregate-counts-scale-factor or --target-number-of-records"
        )
    return int(n)


def aggregate_seeded(
    aggregates: Aggregates,
    *,
    rng: np.random.Generator,
    weight_selection_percentile: float = 95.0,
    use_synthetic_counts: bool = False,
    aggregate_counts_scale_factor: float = 1.0,
    target_number_of_records: int | None = None,
    fit_sweeps: int | None = None,
    progress: Progress | None = None,
    constraints: Sequence[Constraint] = (),
) -> EncodedTable:
    """Synthesize records from aggregates alone (see the module docs for the algorithm).

    Parameters
    ----------
    rng
        From :func:`~showcase.engine.randomness.make_rng`; all sampling comes from it.
    weight_selection_percentile
        Percentile (0-100) of the length-L sub-combination counts that weighs a
        candidate once a record has L or more attributes.
    use_synthetic_counts
        Subtract what has already been synthesized from the counts.
    aggregate_counts_scale_factor
        Multiplies every aggregate count (budgets and weights) before synthesis.
    target_number_of_records
        Records to write; default ``record_count × aggregate_counts_scale_factor``.
    fit_sweeps
        Then fit the records to the aggregates' counts with this many proposals per
        cell (:mod:`.aggregate_fit`; 0: no fit; None: :data:`DEFAULT_FIT_SWEEPS`).
    constraints
        Declared impossible combinations: a candidate that would complete one is not chosen.

    Returns the records as codes on ``aggregates.schema``.
    """
    work = split(
        aggregates, rng=rng, weight_selection_percentile=weight_selection_percentile,
        use_synthetic_counts=use_synthetic_counts,
        aggregate_counts_scale_factor=aggregate_counts_scale_factor,
        target_number_of_records=target_number_of_records, fit_sweeps=fit_sweeps, constraints=constraints,
    )  # fmt: skip
    filled, finished = work.progress(progress)
    return work.table(work.fill(work.payload, 0, work.n_parts, filled), progress=finished)


def split(
    aggregates: Aggregates,
    *,
    rng: np.random.Generator,
    weight_selection_percentile: float = 95.0,
    use_synthetic_counts: bool = False,
    aggregate_counts_scale_factor: float = 1.0,
    target_number_of_records: int | None = None,
    fit_sweeps: int | None = None,
    constraints: Sequence[Constraint] = (),
) -> SplitWork:
    """The work of :func:`aggregate_seeded` as partitions that can be synthesized anywhere, in any groups.

    Every partition's seed is drawn here, from ``rng``; :func:`fill_partitions`
    then builds any run of partitions from the returned payload alone, so the
    records are the same however the partitions are shared out. With
    ``fit_sweeps`` the fit then runs once over all the records (``finish``).
    """
    validate_parameters(weight_selection_percentile, aggregate_counts_scale_factor, target_number_of_records)
    fit_sweeps = check_fit_sweeps(fit_sweeps)
    check_rng(rng)
    use_synthetic_counts = check_flag(use_synthetic_counts, "use_synthetic_counts")
    schema = aggregates.schema
    n_total = (
        default_target(aggregates, aggregate_counts_scale_factor)
        if target_number_of_records is None
        else int(target_number_of_records)
    )
    n_parts = -(-n_total // PARTITION_RECORDS)
    # Draw every partition's seed first, so the records do not depend on batching.
    seeds = stream_seeds(rng, n_parts)
    max_code = max((len(d) for d in schema.dictionaries), default=0)
    options = (float(weight_selection_percentile), bool(use_synthetic_counts),
               float(aggregate_counts_scale_factor))  # fmt: skip
    payload = (aggregates, n_total, seeds, options, encode(constraints, schema))
    dtype = code_dtype(max_code)
    finish, units = None, 0
    if fit_sweeps and n_total and schema.n_attributes and len(aggregates):
        from .aggregate_fit import fit_proposals

        finish = functools.partial(_fit, aggregates, stream_seeds(rng, 1)[0], fit_sweeps, tuple(constraints))
        units = fit_proposals(n_total, len(schema.columns), fit_sweeps)
    return SplitWork(schema, n_total, PARTITION_RECORDS, n_parts, dtype, fill_partitions, payload, finish,
                     finish_units=units)  # fmt: skip


def fill_partitions(payload: tuple, first: int, stop: int, progress: Progress | None = None) -> np.ndarray:
    """Codes ``(n_columns, records)`` of partitions ``first..stop - 1`` of a :func:`split`'s payload."""
    aggregates, n_total, seeds, (percentile, use_synthetic, scale), rules = payload
    schema = aggregates.schema
    n_cols = len(schema.columns)
    origin = first * PARTITION_RECORDS
    codes = np.zeros((n_cols, max(0, min(n_total, stop * PARTITION_RECORDS) - origin)), dtype=np.int32)
    if codes.shape[1] == 0 or schema.n_attributes == 0 or len(aggregates) == 0:
        if progress is not None:
            progress(n_total, n_total)
        return codes
    length = int(aggregates.reporting_length)
    table = CombinationTable(aggregates)
    scaled = aggregates.count.astype(np.float64) * scale
    single = np.full((schema.n_attributes, 1), -1, dtype=np.int32)
    single[:, 0] = np.arange(schema.n_attributes, dtype=np.int32)
    single_row = table.find(single, np.ones(schema.n_attributes, dtype=np.uint8))
    attr_col = schema.attribute_columns.astype(np.int64)
    attr_code = (np.arange(schema.n_attributes) - schema.offsets[attr_col] + 1).astype(np.int32)
    capacity = max(1, math.comb(max(n_cols - 1, 0), length - 1))
    threads = numba.get_num_threads()
    store = schema.n_attributes * capacity * 8 * threads <= STORE_MEMORY
    if store:
        children = Children(True, capacity, *table.children(aggregates))
    else:
        children = Children(False, capacity, np.zeros(1, dtype=np.int64), *[np.zeros(0, dtype=np.int32)] * 2)
    model = Model(scaled, single_row, attr_col, attr_code, length, percentile, use_synthetic)

    per_call = max(1, PARTITIONS_PER_CALL * threads)
    for start in range(first, stop, per_call):
        partitions = np.arange(start, min(stop, start + per_call), dtype=np.int64)
        with _wrapping():
            plan = Plan(partitions, PARTITION_RECORDS, n_total, seeds, origin)
            synthesize_records(plan, table.table, model, children, codes, rules)
        if progress is not None:
            progress(min(n_total, int(partitions[-1] + 1) * PARTITION_RECORDS), n_total)
    return codes


def _fit(
    aggregates: Aggregates, seed: int, sweeps: int, constraints: tuple[Constraint, ...], codes: np.ndarray,
    progress: Progress | None = None,
) -> np.ndarray:  # fmt: skip
    """The fitted successor (issue 15 item 4): the records moved toward the released counts."""
    from .aggregate_fit import fit_records

    fitted, _ = fit_records(
        aggregates, codes, seed=seed, sweeps=sweeps, constraints=constraints, progress=progress
    )
    return fitted
