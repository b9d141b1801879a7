"""k-anonymity protection of aggregates (SPEC §2.1)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .aggregates import PROTECTION_K_ANONYMITY, PROTECTION_NONE, Aggregates
from .errors import ParameterError

#: The largest resolution k accepted: far above any record count a job can hold.
MAX_RESOLUTION = 2**31 - 1


def validate_resolution(resolution: int) -> int:
    """Check the resolution ``k``: an integer from 1 to :data:`MAX_RESOLUTION`."""
    if (
        isinstance(resolution, bool)
        or not isinstance(resolution, (int, np.integer))
        or not 1 <= resolution <= MAX_RESOLUTION
    ):
        raise ParameterError(
            f"resolution (k) must be an integer from 1 to {MAX_RESOLUTION}, got {resolution!r}"
        )
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
    # take() with row numbers is several times faster than a boolean mask on the 2-D attrs.
    keep = np.flatnonzero(aggregates.count >= resolution)
    count = aggregates.count.take(keep)
    count //= resolution
    count *= resolution
    return replace(
        aggregates,
        attrs=aggregates.attrs.take(keep, axis=0),
        length=aggregates.length.take(keep),
        count=count,
        record_count=int(round_down(aggregates.record_count, resolution)),
        protection=PROTECTION_K_ANONYMITY,
        resolution=resolution,
    )
