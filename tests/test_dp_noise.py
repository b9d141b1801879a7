"""Exact discrete samplers: distributions against theory, integer-only code, replay."""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from showcase.engine import ParameterError
from showcase.engine.dp import noise
from showcase.engine.dp.noise import RandomSource, discrete_gaussian, discrete_laplace
from showcase.engine.kernels import noise as kernels

N = 100_000  # samples per check: enough for a ±30 % scale error to give p < 1e-20


def gaussian_pmf(sigma: float, support: np.ndarray) -> np.ndarray:
    weights = np.exp(-(support.astype(float) ** 2) / (2 * sigma**2))
    return weights / weights.sum()


def laplace_pmf(scale: float, support: np.ndarray) -> np.ndarray:
    weights = np.exp(-np.abs(support.astype(float)) / scale)
    return weights / weights.sum()


def chi_square_p(samples: np.ndarray, pmf, parameter: float) -> float:
    """Goodness of fit of integer samples to a pmf, tails merged so every bin expects >= 5."""
    reach = int(60 * parameter + 20)
    support = np.arange(-reach, reach + 1)
    expected = pmf(parameter, support) * len(samples)
    observed = np.bincount(np.clip(samples, -reach, reach) + reach, minlength=len(support))
    keep = expected >= 5
    lo, hi = np.flatnonzero(keep)[[0, -1]]
    obs = np.concatenate([[observed[: lo + 1].sum()], observed[lo + 1 : hi], [observed[hi:].sum()]])
    exp = np.concatenate([[expected[: lo + 1].sum()], expected[lo + 1 : hi], [expected[hi:].sum()]])
    exp *= obs.sum() / exp.sum()
    return float(stats.chisquare(obs, exp).pvalue)


@pytest.mark.statistical
@pytest.mark.parametrize("sigma", [0.7, 3.0, 25.5])
def test_discrete_gaussian_matches_its_pmf(sigma):
    samples = discrete_gaussian(N, sigma, RandomSource(seed=11))
    # Fixed seed: deterministic. The right pmf fits; a 30 % wrong scale is rejected hard.
    assert chi_square_p(samples, gaussian_pmf, sigma) > 1e-4
    assert chi_square_p(samples, gaussian_pmf, sigma * 1.3) < 1e-20
    assert chi_square_p(samples, gaussian_pmf, sigma * 0.7) < 1e-20
    support = np.arange(-int(60 * sigma + 20), int(60 * sigma + 20) + 1)
    pmf = gaussian_pmf(sigma, support)
    variance = float((pmf * support**2).sum())
    # Mean within 5 standard errors of 0; variance within 5 standard errors of theory
    # (SE of a sample variance ~ variance * sqrt(2/N) for near-Gaussian data).
    assert abs(samples.mean()) < 5 * math.sqrt(variance / N)
    assert abs(samples.var() - variance) < 5 * variance * math.sqrt(2 / N) + 1e-3
    tail = float(pmf[np.abs(support) > 2 * sigma].sum())
    observed = float(np.mean(np.abs(samples) > 2 * sigma))
    assert abs(observed - tail) < 5 * math.sqrt(tail * (1 - tail) / N) + 1e-4


@pytest.mark.statistical
@pytest.mark.parametrize("scale", [0.5, 4.0])
def test_discrete_laplace_matches_its_pmf(scale):
    samples = discrete_laplace(N, scale, RandomSource(seed=5))
    assert chi_square_p(samples, laplace_pmf, scale) > 1e-4
    assert chi_square_p(samples, laplace_pmf, scale * 1.3) < 1e-20
    assert chi_square_p(samples, laplace_pmf, scale * 0.7) < 1e-20
    r = math.exp(-1 / scale)
    variance = 2 * r / (1 - r) ** 2  # variance of the discrete Laplace
    assert abs(samples.var() - variance) < 6 * variance * math.sqrt(5 / N)


FLOAT_TOKENS = (" double", " float ", "fadd", "fmul", "fdiv", "fcmp", "sitofp", "uitofp")
INSPECT = """
import sys
import numpy as np
from showcase.engine.dp.percentile import dp_percentile
from showcase.engine.dp.noise import RandomSource, discrete_gaussian, discrete_laplace
from showcase.engine.kernels import noise as kernels
discrete_gaussian(10, 2.5, RandomSource(seed=1))
discrete_laplace(10, 1.5, RandomSource(seed=1))
dp_percentile(np.arange(50), 60, 90, 0.5, RandomSource(seed=1))
for kernel in (kernels.fill_discrete_gaussian, kernels.fill_discrete_laplace, kernels.exponential_quantile):
    ir = "\\n".join(kernel.inspect_llvm().values())
    assert "define" in ir, "no IR"
    found = [t for t in sys.argv[1:] if t in ir]
    print(kernel.py_func.__name__, "FLOAT" if found else "integer-only", found)
"""


def test_compiled_samplers_use_no_floating_point(tmp_path):
    """The accept/reject path is integer-only: no float type or instruction in the LLVM IR.

    Compiled in a fresh process with an empty Numba cache, because Numba cannot
    inspect code it loaded from its cache.
    """
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", INSPECT, *FLOAT_TOKENS], env=env, capture_output=True, text=True, check=True
    )
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 3
    assert all(" integer-only " in line for line in lines), lines


def test_replay_after_running_out_of_words_is_exact(monkeypatch):
    plenty = discrete_gaussian(5000, 4.0, RandomSource(seed=3))
    monkeypatch.setattr(noise, "WORDS_PER_SAMPLE", 1)  # forces many replays
    scarce = discrete_gaussian(5000, 4.0, RandomSource(seed=3))
    assert np.array_equal(plenty, scarce)


def test_seeded_streams_repeat_and_os_streams_do_not():
    assert np.array_equal(
        discrete_gaussian(100, 5.0, RandomSource(seed=9)), discrete_gaussian(100, 5.0, RandomSource(seed=9))
    )
    assert not np.array_equal(
        discrete_gaussian(100, 5.0, RandomSource()), discrete_gaussian(100, 5.0, RandomSource())
    )


def test_parameters_round_up_and_are_validated():
    for sigma in (0.3, 1.0, 2.7, 123.456, 9000.0):
        p, q, t = noise.gaussian_parameters(sigma)
        rounded = Fraction(p, q)
        assert rounded >= Fraction(sigma) ** 2
        assert rounded <= Fraction(sigma) ** 2 * (1 + Fraction(1, 2**19))
        assert t == math.floor(math.sqrt(p / q)) + 1
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ParameterError):
            noise.gaussian_parameters(bad)
    with pytest.raises(ParameterError, match="beyond the exact sampler"):
        noise.gaussian_parameters(1e6)
    with pytest.raises(ParameterError, match="seed"):
        RandomSource(seed=-1)


def test_uniform_below_rejects_every_word_at_or_above_its_limit():
    """Words from ``limit = floor(2**62 / m) * m`` up are redrawn, so r % m has no modulo bias.

    Crafted words: the first is exactly the limit (must be rejected), the second is accepted.
    """
    for m in (3, 5, 7, 1000003):
        limit = (2**62 // m) * m
        state = np.zeros(2, dtype=np.int64)
        words = np.array([limit, 2**62 - 1, limit - 1], dtype=np.int64)
        assert kernels.uniform_below(m, words, state) == (limit - 1) % m
        assert state.tolist() == [3, 0]
        state = np.zeros(2, dtype=np.int64)
        assert kernels.uniform_below(m, np.array([limit], dtype=np.int64), state) == 0 and state[1] == 1


def test_batches_and_calls_draw_independent_noise():
    """Each batch of a source has its own stream: noise is never reused (within or across calls)."""
    for source in (RandomSource(seed=4), RandomSource()):
        first = discrete_gaussian(noise.BATCH + 2000, 3.0, source)
        again = discrete_gaussian(2000, 3.0, source)
        for a, b in ((first[:2000], first[noise.BATCH :]), (first[:2000], again)):
            # Independent: |r| < 5 / sqrt(n) (false alarm ~6e-7); reused noise gives r = 1.
            assert abs(np.corrcoef(a, b)[0, 1]) < 5 / math.sqrt(2000)


def test_seeded_words_are_the_top_62_bits_of_shake256():
    """Reference: word i of a seeded stream is bytes 8i..8i+8 of SHAKE-256(label), little-endian, >> 2."""
    source = RandomSource(seed=12)
    stream = source.stream()
    digest = hashlib.shake_256(b"showcase-noise/12/1").digest(8 * 5000)
    expected = [int.from_bytes(digest[8 * i : 8 * i + 8], "little") >> 2 for i in range(5000)]
    words = stream.words(5000)
    assert words.tolist() == expected
    assert words.max() >= 2**61  # the top bit of the 62 is used (all below: probability 2**-5000)
    assert stream.window(4000, 1000).tolist() == expected[4000:]
