"""Every parameter of a DP release, checked before the privacy ledger is charged.

A typo must never cost budget: :func:`check_release_parameters` runs every
check that :func:`~showcase.engine.dp.marginals.dp_aggregate` would run
later, and :func:`check_against_table` the checks that need the table's shape
(its columns, its values), both before :meth:`Ledger.charge
<showcase.engine.dp.ledger.Ledger.charge>`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..count import check_length_fits, validate_length
from ..encode import EncodedTable
from ..errors import ParameterError
from .accountant import check_delta, check_epsilon, default_delta, split_budget
from .marginals import fabrication_etas
from .noise import gaussian_parameters

#: The options of ``dp_aggregate`` a release passes through.
MECHANISM_OPTIONS = ("record_count_proportion", "percentile_proportion", "percentile", "accuracy_mode",
                     "sigma_proportions", "fabrication_mode", "thresholds")  # fmt: skip
#: Largest ``--budget-total`` accepted.
MAX_BUDGET_TOTAL = 1e6
#: Largest fixed threshold accepted (no count comes near it).
MAX_THRESHOLD = 1e15
_SPLIT_OPTIONS = ("record_count_proportion", "percentile_proportion", "accuracy_mode")


def check_release_parameters(
    epsilon: float, delta: float | None, length: int, budget_total: float | None, mechanism: Mapping
) -> tuple[float, float | None, int]:
    """Check (epsilon, delta, length, budget total, mechanism options); return the first three."""
    epsilon = check_epsilon(epsilon)
    if delta is not None:
        delta = check_delta(delta)
    length = validate_length(length)
    unknown = sorted(set(mechanism) - set(MECHANISM_OPTIONS))
    if unknown:
        raise ParameterError(f"unknown DP option(s): {', '.join(unknown)}")
    if budget_total is not None and not (
        isinstance(budget_total, (int, float))
        and not isinstance(budget_total, bool)
        and 0 < budget_total <= MAX_BUDGET_TOTAL
    ):
        raise ParameterError(f"budget total must be in (0, {MAX_BUDGET_TOTAL:g}], got {budget_total!r}")
    percentile = mechanism.get("percentile")
    if percentile is not None and not (
        isinstance(percentile, (int, float)) and not isinstance(percentile, bool) and 0 < percentile <= 100
    ):
        raise ParameterError(f"percentile must be in (0, 100], got {percentile!r}")
    thresholds = mechanism.get("thresholds")
    if thresholds is not None:
        values = [float(t) for t in thresholds]
        if len(values) != length - 1 or any(
            not (math.isfinite(t) and 0 <= t <= MAX_THRESHOLD) for t in values
        ):
            raise ParameterError(
                f"thresholds needs {length - 1} values from 0 to {MAX_THRESHOLD:g} (lengths 2..L), "
                f"got {thresholds!r}"
            )
    fabrication_etas(str(mechanism.get("fabrication_mode") or "balanced"), length)
    split_budget(
        epsilon,
        delta or 1e-6,
        length,
        **{k: mechanism[k] for k in _SPLIT_OPTIONS if mechanism.get(k) is not None},
        proportions=mechanism.get("sigma_proportions"),
    )
    return epsilon, delta, length


def check_against_table(
    table: EncodedTable,
    epsilon: float,
    delta: float | None,
    length: int,
    mechanism: Mapping,
    public_domain: bool,
) -> None:
    """The checks that need the data's shape: length against columns, value count, noise range.

    The noise check uses the smallest noise any length can get (sensitivity
    bound 1) and, when delta defaults, the default for the exact record count:
    a budget that cannot be sampled even then is refused before it is charged.
    """
    check_length_fits(length, table.n_columns)
    base = table.schema.n_attributes + 1
    if base**length >= 2**62:
        raise ParameterError(
            "too many attribute values for DP marginals at this length; bin or drop high-cardinality columns"
        )
    split = split_budget(
        epsilon,
        delta if delta is not None else default_delta(table.n_rows),
        length,
        **{k: mechanism[k] for k in _SPLIT_OPTIONS if mechanism.get(k) is not None},
        proportions=mechanism.get("sigma_proportions"),
        selection=not public_domain,
    )
    for sigma in split.sigmas:
        try:
            gaussian_parameters(sigma)
        except ParameterError:
            raise ParameterError(
                f"epsilon {epsilon:g} is too small for {length} length(s) of DP marginals: their noise "
                f"(sigma {sigma:.3g}) is beyond the exact sampler's range; give a larger --epsilon or a "
                "shorter --length"
            ) from None
