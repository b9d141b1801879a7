"""Exact discrete noise samplers (Canonne, Kamath & Steinke 2020), integer arithmetic only.

Randomness comes in as an int64 array of 62-bit random words (from the OS
CSPRNG, or from a seeded stream when the user asks for reproducibility) and a
two-slot ``state``: ``state[0]`` is the next word to use, ``state[1]`` is set
to 1 when the words ran out (the caller then refills and resumes). No
floating-point number is used in any accept/reject decision, so the output
distribution is exactly the discrete Laplace / discrete Gaussian, free of the
floating-point artefacts that make textbook samplers attackable (Mironov 2012).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..config import BORROW_JIT, JIT

TWO62 = 1 << 62
MASK31 = (1 << 31) - 1
MASK62 = TWO62 - 1


@njit(**BORROW_JIT)
def _word(words, state):
    i = state[0]
    if i >= words.shape[0]:
        state[1] = 1
        return 0
    state[0] = i + 1
    return words[i]


@njit(**BORROW_JIT)
def uniform_below(m, words, state):
    """Uniform integer in [0, m) for 1 <= m <= 2**62, by rejection (no modulo bias)."""
    limit = (TWO62 // m) * m
    while True:
        r = _word(words, state)
        if state[1]:
            return 0
        if r < limit:
            return r % m


@njit(**BORROW_JIT)
def bernoulli(n, d, words, state):
    """True with probability n/d (0 <= n <= d)."""
    return uniform_below(d, words, state) < n


@njit(**BORROW_JIT)
def bernoulli_exp_unit(n, d, words, state):
    """True with probability exp(-n/d) for 0 <= n/d <= 1 (CKS20 Algorithm 1, first case).

    Draw A_k ~ Bernoulli(gamma / k) for k = 1, 2, ... until one is 0; the
    answer is whether that k is odd. Bernoulli(n/(d k)) is taken as
    Bernoulli(n/d) AND Bernoulli(1/k), so no product can overflow.
    """
    k = 1
    while True:
        if not bernoulli(n, d, words, state):
            break
        if not bernoulli(1, k, words, state):
            break
        k += 1
        if state[1]:
            return False
    return k % 2 == 1


@njit(**BORROW_JIT)
def bernoulli_exp(n, d, words, state):
    """True with probability exp(-n/d) for any n/d >= 0 (CKS20 Algorithm 1)."""
    whole = n // d
    for _ in range(whole):
        if not bernoulli_exp_unit(1, 1, words, state):
            return False
        if state[1]:
            return False
    return bernoulli_exp_unit(n - whole * d, d, words, state)


@njit(**BORROW_JIT)
def _mul128(x, y):
    """x * y for 0 <= x, y < 2**62 as (hi, lo) in base 2**62."""
    x1, x0 = x >> 31, x & MASK31
    y1, y0 = y >> 31, y & MASK31
    p0 = x0 * y0
    p1 = x1 * y0 + x0 * y1
    p2 = x1 * y1
    lo = p0 + ((p1 & MASK31) << 31)
    hi = p2 + (p1 >> 31) + (lo >> 62)
    return hi, lo & MASK62


@njit(**BORROW_JIT)
def bernoulli_exp_square(a, d, words, state):
    """True with probability exp(-a*a/d), exactly, for 0 <= a, d < 2**62.

    ``a*a`` can need 124 bits, so the whole part of a*a/d is found by exact
    128-bit comparisons as the Bernoulli(exp(-1)) rounds go on; the loop stops
    at the first failed round, so it is short whatever the size of a*a/d.
    """
    ah, al = _mul128(a, a)
    whole = 0
    while True:
        nh, nl = _mul128(whole + 1, d)
        if ah < nh or (ah == nh and al < nl):
            break
        if not bernoulli_exp_unit(1, 1, words, state):
            return False
        if state[1]:
            return False
        whole += 1
    wh, wl = _mul128(whole, d)
    remainder = (ah - wh) * TWO62 + (al - wl)  # < d, so it fits
    return bernoulli_exp_unit(remainder, d, words, state)


@njit(**BORROW_JIT)
def discrete_laplace(scale_num, scale_den, words, state):
    """A sample with P(z) proportional to exp(-|z| * scale_den / scale_num) (CKS20 Alg. 2)."""
    t, s = scale_num, scale_den
    while True:
        u = uniform_below(t, words, state)
        if state[1]:
            return 0
        if not bernoulli_exp(u, t, words, state):
            continue
        v = 0
        while bernoulli_exp_unit(1, 1, words, state):
            v += 1
            if state[1]:
                return 0
        y = (u + t * v) // s
        negative = bernoulli(1, 2, words, state)
        if state[1]:
            return 0
        if negative and y == 0:
            continue
        return -y if negative else y


@njit(**BORROW_JIT)
def discrete_gaussian(sigma2_num, sigma2_den, t, words, state):
    """A sample with P(z) proportional to exp(-z^2 / (2 sigma^2)), sigma^2 = num/den (CKS20 Alg. 3).

    ``t`` must be floor(sigma) + 1. Proposals come from the discrete Laplace of
    scale t and are accepted with probability exp(-(|y| - sigma^2/t)^2 / (2 sigma^2))
    = exp(-(|y| t den - num)^2 / (2 num den t^2)).
    """
    p, q = sigma2_num, sigma2_den
    denominator = 2 * p * q * t * t
    limit = MASK62 // (q * t)
    while True:
        y = discrete_laplace(t, 1, words, state)
        if state[1]:
            return 0
        magnitude = y if y >= 0 else -y
        if magnitude > limit:
            continue  # beyond ~2**40 sigma: acceptance below 2**-(2**70); see noise.py
        a = magnitude * q * t - p
        if a < 0:
            a = -a
        if bernoulli_exp_square(a, denominator, words, state):
            return y
        if state[1]:
            return 0


@njit(**BORROW_JIT)
def fill_discrete_gaussian(out, sigma2_num, sigma2_den, t, words, state):
    """Fill ``out`` with discrete Gaussian samples; False if the words ran out.

    On False the caller appends more words to the same stream and calls again
    from the start: the replay repeats every decision made so far and goes on
    with the new words, exactly as if the stream had been long enough. (Simply
    discarding an interrupted sample would favour samples that need few words.)
    """
    for i in range(out.shape[0]):
        out[i] = discrete_gaussian(sigma2_num, sigma2_den, t, words, state)
        if state[1]:
            return False
    return True


@njit(**BORROW_JIT)
def fill_discrete_laplace(out, scale_num, scale_den, words, state):
    """Fill ``out`` with discrete Laplace samples; False if the words ran out (see above)."""
    for i in range(out.shape[0]):
        out[i] = discrete_laplace(scale_num, scale_den, words, state)
        if state[1]:
            return False
    return True


@njit(**JIT)
def exponential_quantile(histogram, q_num, q_den, eps_num, eps_den, prior_num, prior_den, words, state):
    """Exponential-mechanism choice of a quantile of small integers, sampled exactly.

    ``histogram[c]`` is how many records have value c (c = 0..U). The score of
    c is -|(1-q) L(c) - q G(c)| with L(c) = #{x <= c}, G(c) = #{x > c}; adding
    or removing one record changes it by at most max(q, 1-q). Every c above the
    data's maximum has the same score, so a data-independent prior of
    ``prior_num/prior_den`` e-folds per unit of c is added (it does not change
    the sensitivity): it keeps the choice off the flat tail of a wide public
    range. With scores in units of 1/q_den and eps = eps_num/eps_den,
    P(c) ∝ exp(-gamma(c)) with the integer ratio

        gamma(c) = (eps_num S(c) prior_den + 2 D eps_den prior_num c) / (2 D eps_den prior_den),
        D = max(q_num, q_den - q_num),

    sampled by proposing c uniformly and accepting with an exact
    Bernoulli(exp(-(gamma(c) - min gamma))). Returns c, or -1 if words ran out.
    """
    n_values = histogram.shape[0]
    total = 0
    for c in range(n_values):
        total += histogram[c]
    sensitivity = q_num if q_num > q_den - q_num else q_den - q_num
    denominator = 2 * sensitivity * eps_den * prior_den
    slope = 2 * sensitivity * eps_den * prior_num
    numerators = np.empty(n_values, dtype=np.int64)
    below = 0
    best = -1
    for c in range(n_values):
        below += histogram[c]
        score = (q_den - q_num) * below - q_num * (total - below)
        if score < 0:
            score = -score
        numerators[c] = eps_num * score * prior_den + slope * c
        if best < 0 or numerators[c] < best:
            best = numerators[c]
    while True:
        c = uniform_below(n_values, words, state)
        if state[1]:
            return -1
        if bernoulli_exp(numerators[c] - best, denominator, words, state):
            return c
        if state[1]:
            return -1


@njit(**BORROW_JIT)
def exponential_choice(numerators, denominator, words, state):
    """Index i with probability proportional to exp(-numerators[i] / denominator), sampled exactly.

    ``numerators`` are non-negative int64 and ``denominator`` a positive
    int64. A proposal i is drawn uniformly and accepted with an exact
    Bernoulli(exp(-(numerators[i] - min) / denominator)), so the output is
    exactly the stated distribution. Returns -1 if the words ran out.
    """
    n = numerators.shape[0]
    best = numerators[0]
    for i in range(1, n):
        if numerators[i] < best:
            best = numerators[i]
    while True:
        i = uniform_below(n, words, state)
        if state[1]:
            return -1
        if bernoulli_exp(numerators[i] - best, denominator, words, state):
            return i
        if state[1]:
            return -1
