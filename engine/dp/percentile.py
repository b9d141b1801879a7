"""A differentially private percentile of small non-negative integers (exact sampler)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ..checks import MAX_PERCENTILE_DENOMINATOR
from ..errors import ParameterError
from ..kernels.noise import exponential_quantile
from .noise import RandomSource

LIMIT = 1 << 61


PRIOR_EFOLDS = 16


def dp_percentile(
    values: np.ndarray,
    upper: int,
    percentile: float,
    epsilon: float,
    source: RandomSource,
    prior_efolds: float = PRIOR_EFOLDS,
) -> int:
    """An epsilon-DP estimate of the ``percentile`` (0-100] of ``values`` in [0, upper].

    ``upper`` must be public (not derived from the data); values above it are
    clipped. epsilon is rounded down to a dyadic rational, so the mechanism
    never spends more than it is charged. A data-independent prior of
    ``prior_efolds`` e-folds across the whole public range favours smaller
    values (see :func:`~showcase.engine.kernels.noise.exponential_quantile`):
    it keeps the estimate off the flat score above the data's maximum, yet is
    gentle enough (one e-fold per (upper+1)/16 values) that the data decide
    wherever they carry signal.
    """
    upper = int(upper)
    if upper < 0 or upper >= 1 << 40:
        raise ParameterError(f"percentile range upper bound must be in [0, 2**40), got {upper}")
    histogram = np.bincount(np.clip(values, 0, upper).astype(np.int64), minlength=upper + 1)
    return dp_percentile_of_histogram(histogram, percentile, epsilon, source, prior_efolds)


def dp_percentile_of_histogram(
    histogram: np.ndarray,
    percentile: float,
    epsilon: float,
    source: RandomSource,
    prior_efolds: float = PRIOR_EFOLDS,
) -> int:
    """:func:`dp_percentile` of the values whose ``histogram`` over [0, upper] is given (upper + 1 bins).

    The same draw as :func:`dp_percentile` of the values themselves, so a
    caller that reads its values in chunks can sum their histograms instead.
    """
    if not 0 < percentile <= 100:
        raise ParameterError(f"percentile must be in (0, 100], got {percentile!r}")
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise ParameterError(f"percentile epsilon must be positive, got {epsilon!r}")
    if not (math.isfinite(prior_efolds) and prior_efolds >= 0):
        raise ParameterError(f"percentile prior must be >= 0 e-folds, got {prior_efolds!r}")
    histogram = np.asarray(histogram, dtype=np.int64)
    upper = len(histogram) - 1
    if upper < 0 or upper >= 1 << 40:
        raise ParameterError(f"percentile range upper bound must be in [0, 2**40), got {upper}")
    q = Fraction(str(percentile)) / 100
    if q.denominator > 100 * MAX_PERCENTILE_DENOMINATOR:
        raise ParameterError(f"percentile takes at most two decimals (e.g. 99.95), got {percentile!r}")
    q_num, q_den = q.numerator, q.denominator
    sensitivity = max(q_num, q_den - q_num)
    worst_score = q_den * max(int(histogram.sum()), 1)
    prior = Fraction(prior_efolds).limit_denominator(1 << 10) / (upper + 1)
    prior_num, prior_den = prior.numerator, prior.denominator
    shift = 30
    while shift > 0 and (
        math.floor(epsilon * (1 << shift)) * worst_score * prior_den
        + 2 * sensitivity * (1 << shift) * prior_num * upper
        >= LIMIT
        or 2 * sensitivity * (1 << shift) * prior_den >= LIMIT
    ):
        shift -= 1
    eps_num, eps_den = math.floor(epsilon * (1 << shift)), 1 << shift
    if eps_num == 0:
        eps_num, eps_den = 0, 1  # epsilon too small to represent: the prior alone (pure noise)
    if eps_num * worst_score * prior_den + 2 * sensitivity * eps_den * prior_num * upper >= LIMIT:
        raise ParameterError("too many records for the exact percentile sampler's 62-bit arithmetic")
    stream = source.stream()
    size = 4096
    while True:
        state = np.zeros(2, dtype=np.int64)
        chosen = exponential_quantile(
            histogram, q_num, q_den, eps_num, eps_den, prior_num, prior_den, stream.words(size), state
        )
        if chosen >= 0:
            return int(chosen)
        size *= 4  # replay with the same words and more
