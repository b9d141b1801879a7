"""A differentially private percentile of small non-negative integers (exact sampler)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ..errors import ParameterError
from ..kernels.noise import exponential_quantile
from .noise import RandomSource

LIMIT = 1 << 61


def dp_percentile(
    values: np.ndarray, upper: int, percentile: float, epsilon: float, source: RandomSource
) -> int:
    """An epsilon-DP estimate of the ``percentile`` (0-100] of ``values`` in [0, upper].

    ``upper`` must be public (not derived from the data); values above it are
    clipped. epsilon is rounded down to a dyadic rational, so the mechanism
    never spends more than it is charged. A data-independent prior favours
    small values (see :func:`~showcase.engine.kernels.noise.exponential_quantile`):
    with little data or budget the estimate errs low (more records trimmed,
    never a privacy cost) rather than anywhere in the public range.
    """
    if not 0 < percentile <= 100:
        raise ParameterError(f"percentile must be in (0, 100], got {percentile!r}")
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise ParameterError(f"percentile epsilon must be positive, got {epsilon!r}")
    upper = int(upper)
    histogram = np.bincount(np.clip(values, 0, upper).astype(np.int64), minlength=upper + 1)
    q = Fraction(str(percentile)) / 100
    q_num, q_den = q.numerator, q.denominator
    worst_score = q_den * max(int(histogram.sum()), 1)
    prior = 2 * max(q_num, q_den - q_num) * (upper + 1)
    shift = 30
    while shift > 0 and (math.floor(epsilon * (1 << shift)) * worst_score + prior * (1 << shift) >= LIMIT):
        shift -= 1
    eps_num, eps_den = math.floor(epsilon * (1 << shift)), 1 << shift
    if eps_num == 0:
        eps_num, eps_den = 0, 1  # epsilon too small to represent: uniform choice (pure noise)
    stream = source.stream()
    size = 4096
    while True:
        state = np.zeros(2, dtype=np.int64)
        chosen = exponential_quantile(histogram, q_num, q_den, eps_num, eps_den, stream.words(size), state)
        if chosen >= 0:
            return int(chosen)
        size *= 4  # replay with the same words and more
