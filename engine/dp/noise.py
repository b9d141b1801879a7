"""Discrete Gaussian and discrete Laplace noise for integer counts.

* Exact: the samplers in :mod:`showcase.engine.kernels.noise` decide everything
  in integer arithmetic (Canonne, Kamath & Steinke 2020), so no floating-point
  artefact can leak information about the noised value (Mironov 2012).
* Conservative: a requested sigma^2 (or Laplace scale) is rounded UP to a
  rational with a power-of-two denominator (at least 20 significant bits), so
  the noise is never smaller than the accounting assumes.
* Secure by default: random words come from the operating system's CSPRNG
  (``os.urandom``). With a seed, they come from SHAKE-256 of the seed, which
  makes a run reproducible; such releases are for testing, not publication.
* Exhaustion-safe: a batch that runs out of words is replayed from its start
  with the same words plus more, which gives exactly the output of an
  unbounded stream.
"""

from __future__ import annotations

import hashlib
import math
import os
from fractions import Fraction

import numpy as np

from ..checks import check_seed
from ..errors import ParameterError
from ..kernels.noise import fill_discrete_gaussian, fill_discrete_laplace

WORD_LIMIT = 1 << 62
BATCH = 1 << 16
WORDS_PER_SAMPLE = 24
PRECISION_BITS = 20


class RandomSource:
    """Where noise randomness comes from: the OS CSPRNG, or SHAKE-256 of a seed."""

    def __init__(self, seed: int | None = None):
        self.seed = check_seed(seed)
        self._batches = 0

    @property
    def seeded(self) -> bool:
        return self.seed is not None

    def stream(self) -> WordStream:
        """A fresh, independent stream of 62-bit words for one batch of samples."""
        self._batches += 1
        if self.seed is None:
            return WordStream(None)
        label = f"showcase-noise/{self.seed}/{self._batches}".encode()
        return WordStream(label)


class WordStream:
    """A prefix-stable stream of words: ``words(n)`` always starts with the same words."""

    def __init__(self, label: bytes | None):
        self._label = label
        self._bytes = b""
        self._base = 0  # words before this one were forgotten (see forget)

    def words(self, n: int) -> np.ndarray:
        return self.window(0, n)

    def window(self, start: int, n: int) -> np.ndarray:
        """Words ``start .. start + n`` of the stream (``start`` not before what was forgotten)."""
        if start < self._base:
            raise ValueError("words before a forgotten position cannot be read again")
        end = start + n
        have = self._base + len(self._bytes) // 8
        if end > have:
            if self._label is None:
                self._bytes += os.urandom(8 * (end - have))
            elif self._base == 0:
                self._bytes = hashlib.shake_256(self._label).digest(8 * end)
            else:  # SHAKE squeezes from the start: grow geometrically, keep what is not forgotten
                total = max(end, 2 * have)
                self._bytes = hashlib.shake_256(self._label).digest(8 * total)[8 * self._base :]
        raw = np.frombuffer(self._bytes, dtype=np.uint64, count=n, offset=8 * (start - self._base))
        return (raw >> np.uint64(2)).astype(np.int64)

    def forget(self, before: int) -> None:
        """Drop the words before ``before`` (a reader that never goes back holds only what is ahead)."""
        if before > self._base:
            self._bytes = self._bytes[8 * (before - self._base) :]
            self._base = before


def round_up(value: float | Fraction, name: str) -> Fraction:
    """``value`` rounded up to a rational with a power-of-two denominator, >= 20 bits kept."""
    if not math.isfinite(value) or value <= 0:
        raise ParameterError(f"{name} must be a positive finite number, got {value}")
    exact = Fraction(value)
    shift = max(0, PRECISION_BITS - math.floor(math.log2(exact)))
    denominator = 1 << shift
    numerator = math.ceil(exact * denominator)
    return Fraction(numerator, denominator)


def gaussian_parameters(sigma: float) -> tuple[int, int, int]:
    """(numerator, denominator, t) of sigma^2 rounded up, with t = floor(sigma) + 1."""
    if not (isinstance(sigma, (int, float, Fraction)) and math.isfinite(sigma) and sigma > 0):
        raise ParameterError(f"sigma must be a positive finite number, got {sigma!r}")
    sigma2 = round_up(Fraction(sigma) ** 2, "sigma")
    p, q = sigma2.numerator, sigma2.denominator
    t = math.isqrt(p // q) + 1
    if 2 * p * q * t * t >= WORD_LIMIT:
        raise ParameterError(
            f"noise scale sigma={sigma:.4g} is beyond the exact sampler's range (about 30000); "
            "use a larger epsilon or fewer columns"
        )
    return p, q, t


def laplace_parameters(scale: float) -> tuple[int, int]:
    """(numerator, denominator) of the discrete Laplace scale rounded up."""
    b = round_up(scale, "Laplace scale")
    if b.numerator >= WORD_LIMIT:
        raise ParameterError(f"Laplace scale {scale:.4g} is too large")
    return b.numerator, b.denominator


def _fill(kernel, n: int, params: tuple, source: RandomSource) -> np.ndarray:
    out = np.empty(n, dtype=np.int64)
    for start in range(0, n, BATCH):
        part = out[start : start + BATCH]
        stream = source.stream()
        size = WORDS_PER_SAMPLE * len(part) + 64
        while True:
            state = np.zeros(2, dtype=np.int64)
            if kernel(part, *params, stream.words(size), state):
                break
            size *= 2  # replay this batch with the same words and more
    return out


def discrete_gaussian(n: int, sigma: float, source: RandomSource) -> np.ndarray:
    """``n`` samples of the discrete Gaussian with parameter sigma (P(z) ∝ exp(-z²/2σ²))."""
    return _fill(fill_discrete_gaussian, n, gaussian_parameters(sigma), source)


def discrete_laplace(n: int, scale: float, source: RandomSource) -> np.ndarray:
    """``n`` samples of the discrete Laplace with scale b (P(z) ∝ exp(-|z|/b))."""
    return _fill(fill_discrete_laplace, n, laplace_parameters(scale), source)
