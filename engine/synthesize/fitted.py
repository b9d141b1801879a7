"""Marginal-fitting synthesis: records moved toward every measured noisy marginal at once.

For adaptive DP releases (``mst``, ``aim``; :mod:`showcase.engine.dp.adaptive`):
records start with columns drawn independently from the noisy 1-way
marginals, then a local search (:class:`showcase.engine.dp.model.Fitter`)
changes one cell at a time while that lowers the L1 error against all
measured marginals (each projected onto non-negative tables of the released
record count, weighted by 1/sigma). It reads only the release's measured
marginals, never the sensitive data: post-processing, as private as the release.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..aggregates import Aggregates
from ..constraints import Constraint, encode
from ..encode import EncodedTable, code_dtype
from ..errors import ParameterError

#: Proposals per cell of the synthetic table in the final fit, and at most this many proposals in all
#: (large tables get fewer sweeps: at 1M records × 20 columns, 5 sweeps, about a minute on 2 cores).
SWEEPS = 20
MAX_PROPOSALS = 100_000_000


def fitted(
    aggregates: Aggregates,
    *,
    rng: np.random.Generator,
    target_number_of_records: int | None = None,
    sweeps: int | None = None,
    constraints: Sequence[Constraint] = (),
    progress: Callable[[int, int], None] | None = None,
) -> EncodedTable:
    """Synthetic records fitted to the release's measured marginals, on the release's own schema.

    With ``constraints``, the starting records are repaired and the local search refuses every change
    that would complete one, so no record violates them. ``progress(done, total)`` follows the fit's
    proposals.
    """
    from ..dp.model import Fitter

    measurements = aggregates.marginals
    if measurements is None:
        raise ParameterError(
            "fitted synthesis needs the measured marginals of an adaptive DP release (--mechanism mst or "
            "aim): these aggregates hold none (an sds or k-anonymous release, or a file written before "
            "releases kept them)"
        )
    n = int(target_number_of_records or measurements.record_count)
    if n < 1:
        raise ParameterError(f"number of records must be at least 1, got {n}")
    rules = encode(constraints, aggregates.schema, measurements.values) if constraints else None
    fitter = Fitter(measurements, seed=int(rng.integers(0, 2**63 - 1)), records=n, rules=rules)
    if sweeps is None:
        sweeps = int(min(SWEEPS, max(1, MAX_PROPOSALS // max(n * len(measurements.values), 1))))
    fitter.fit(sweeps, progress=progress)
    released = aggregates.on_released_schema()
    # Local code j of column c is schema code values[c][j-1]; its code on the released schema is its rank
    # among the column's released attributes.
    used = aggregates.released_attributes()
    offsets = aggregates.schema.offsets
    width = max((len(v) for v in measurements.values), default=0)
    out = np.zeros(fitter.codes.shape[::-1], dtype=code_dtype(max(width, 1)))
    for c, kept in enumerate(measurements.values):
        column_used = used[offsets[c] : offsets[c + 1]]
        rank = np.concatenate([[0], np.cumsum(column_used)])  # schema code → released code
        mapping = np.concatenate([[0], rank[kept] * column_used[kept - 1]]).astype(np.int64)
        out[c] = mapping[fitter.codes[:, c]]
    # The released schema has no indicator column whose value the release left out (all zero here).
    empty = [c for c, name in enumerate(aggregates.schema.columns) if name not in released.schema.columns]
    schema, source = aggregates.schema.without_indicators(empty)
    assert schema.columns == released.schema.columns
    return EncodedTable(released.schema, np.ascontiguousarray(out[source]))
