"""The one place where sampling randomness is created.

Without a seed, generators are seeded from the operating system's CSPRNG
(``secrets``), so runs are not reproducible and not predictable. With a seed,
runs are reproducible, and outputs' metadata must say that the release was
seeded and is not for publication. (Privacy noise for DP has its own samplers
in ``dp/noise``; this module serves sampling choices in synthesis.)
"""

from __future__ import annotations

import secrets

import numpy as np

from .checks import check_seed
from .errors import ParameterError


def make_rng(seed: int | None) -> np.random.Generator:
    """A PCG64 generator: from ``seed`` when given, else from 128 bits of OS entropy."""
    seed = check_seed(seed)
    if seed is None:
        return np.random.Generator(np.random.PCG64(secrets.randbits(128)))
    return np.random.Generator(np.random.PCG64(seed))


def stream_seeds(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` independent uint64 seeds for the kernels' streams (:mod:`.kernels.rng`), one per work partition.

    Giving each fixed-size partition of the work its own stream makes results
    identical for a given seed whatever the number of threads.
    """
    return rng.integers(0, np.iinfo(np.uint64).max, size=n, dtype=np.uint64, endpoint=True)


def describe_seed(seed: int | None) -> dict:
    """What metadata records about randomness: whether it was seeded, never the seed itself.

    A seed would let anyone recompute the random choices (for DP, the noise).
    """
    if seed is None:
        return {"seeded": False, "source": "operating system CSPRNG"}
    return {
        "seeded": True,
        "warning": "seeded for reproducibility: this release is for testing, not for publication",
    }


def check_rng(rng: object) -> np.random.Generator:
    """``rng`` when it is a NumPy Generator (as :func:`make_rng` makes), else a one-line error."""
    if not isinstance(rng, np.random.Generator):
        raise ParameterError(f"rng must be a numpy Generator (see randomness.make_rng), got {rng!r}")
    return rng
