"""k-anonymity protection of aggregates (SPEC §2.1)."""

from __future__ import annotations

import numpy as np

from .aggregates import PROTECTION_K_ANONYMITY, PROTECTION_NONE, Aggregates
from .errors import ParameterError


def validate_resolution(resolution: int) -> int:
    """Check the resolution ``k``: an integer >= 1."""
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 1:
        raise ParameterError(f"resolution (k) must be an integer >= 1, got {resolution!r}")
    return int(resolution)


def round_down(values: np.ndarray | int, resolution: int) -> np.ndarray | int:
    """``floor(values / k) * k``."""
    return (values // resolution) * resolution


def k_anonymize(aggregates: Aggregates, resolution: int) -> Aggregates:
    """Drop combinations with count < k and round the others down to a multiple of k.

    Guarantee: every reported combination is shared by at least k records, and
    no reported count reveals the exact count below the next multiple of k. The
    record count is rounded the same way.
    """
    resolution = validate_resolution(resolution)
    if aggregates.protection != PROTECTION_NONE:
        raise ParameterError("these aggregates are already protected; protect the exact counts")
    keep = aggregates.count >= resolution
    protected = aggregates.select(
        keep,
        record_count=int(round_down(aggregates.record_count, resolution)),
        protection=PROTECTION_K_ANONYMITY,
        resolution=resolution,
    )
    object.__setattr__(protected, "count", round_down(protected.count, resolution))
    return protected
