"""The exponential mechanism over integer scores, sampled exactly (no floating point in the choice).

Choosing candidate i with probability proportional to exp(epsilon * score_i / (2 sensitivity))
is epsilon-DP when no score moves by more than ``sensitivity`` between
neighbouring datasets (McSherry & Talwar 2007), and epsilon^2/8-zCDP (Cesar &
Rogers 2021, bounded range). Scores are integers and epsilon is rounded down
to a dyadic rational, so the probabilities are exact ratios of integers in
the exponent and the sampler (:func:`~showcase.engine.kernels.noise.exponential_choice`)
decides with exact Bernoulli(exp(-x)) draws: never more privacy loss than charged.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError
from ..kernels.noise import exponential_choice
from .noise import RandomSource

LIMIT = 1 << 61


def dyadic_epsilon(epsilon: float, spread: int, sensitivity: int) -> tuple[int, int]:
    """epsilon rounded down to eps_num / 2**shift, with the exponents' arithmetic inside 62 bits."""
    shift = 40
    while shift > 0 and (
        math.floor(epsilon * (1 << shift)) * max(spread, 1) >= LIMIT
        or 2 * sensitivity * (1 << shift) >= LIMIT
    ):
        shift -= 1
    eps_num = math.floor(epsilon * (1 << shift))
    if eps_num * max(spread, 1) >= LIMIT or 2 * sensitivity * (1 << shift) >= LIMIT:
        raise ParameterError("scores too large for the exact exponential mechanism's 62-bit arithmetic")
    return eps_num, 1 << shift


def exponential_mechanism(scores: np.ndarray, sensitivity: int, epsilon: float, source: RandomSource) -> int:
    """The index of one candidate, chosen with P(i) ∝ exp(epsilon * scores[i] / (2 * sensitivity)).

    ``scores`` are integers (higher is more likely) that change by at most
    ``sensitivity`` (a positive integer) when one record is added or removed.
    The choice is epsilon-DP and costs epsilon^2/8 in zCDP.
    """
    scores = np.asarray(scores)
    if scores.ndim != 1 or len(scores) == 0 or not np.issubdtype(scores.dtype, np.integer):
        raise ParameterError("the exponential mechanism needs a non-empty 1-d array of integer scores")
    if isinstance(sensitivity, bool) or not isinstance(sensitivity, (int, np.integer)) or sensitivity < 1:
        raise ParameterError(f"sensitivity must be a positive integer, got {sensitivity!r}")
    if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
        raise ParameterError(f"epsilon must be a positive finite number, got {epsilon!r}")
    scores = scores.astype(np.int64)
    top = int(scores.max())
    spread = top - int(scores.min())
    eps_num, eps_den = dyadic_epsilon(float(epsilon), spread, int(sensitivity))
    numerators = np.ascontiguousarray(eps_num * (top - scores), dtype=np.int64)
    denominator = 2 * int(sensitivity) * eps_den
    stream = source.stream()
    size = 4096
    while True:
        state = np.zeros(2, dtype=np.int64)
        chosen = exponential_choice(numerators, denominator, stream.words(size), state)
        if chosen >= 0:
            return int(chosen)
        size *= 4  # replay with the same words and more
