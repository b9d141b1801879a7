"""The one family of random streams of the kernels: xoshiro256**, seeded through splitmix64.

A stream is a 4-word uint64 state (:func:`new_state`, :func:`seed_state`)
filled from one uint64 seed by splitmix64. Callers draw the seeds from their
``numpy.random.Generator`` (:func:`showcase.engine.randomness.stream_seeds`:
from the OS CSPRNG unless the user gave a seed), one per fixed partition of
the work, so every partition has its own stream and results depend on the
seed and the partitioning, never on the number of threads. A partition that
needs a stream per item (a record) derives one with :func:`substream_seed`.

Draws: :func:`next_u64` (64 bits), :func:`below` (an unbiased integer below
n), :func:`uniform` (a double in [0, 1) with 53 random bits) and
:func:`shuffle` (Fisher-Yates).

The privacy noise of DP (:mod:`.noise`) is not drawn from here: its exact
samplers take words from :class:`showcase.engine.dp.noise.RandomSource`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..config import BORROW_JIT, JIT

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_DOUBLE_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@njit(**BORROW_JIT)
def mix64(z):
    """splitmix64's finalizer: a bijective scramble of a uint64."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(**BORROW_JIT)
def seed_state(state, seed):
    """Fill a xoshiro256** state (4 uint64) from one seed with splitmix64."""
    x = np.uint64(seed)
    for i in range(4):
        x = x + GOLDEN
        state[i] = mix64(x)


@njit(**JIT)
def new_state(seed):
    """A fresh xoshiro256** state seeded with ``seed``."""
    state = np.empty(4, dtype=np.uint64)
    seed_state(state, seed)
    return state


@njit(**JIT)
def seeded_states(seeds):
    """One state per seed, as rows of a ``(len(seeds), 4)`` array."""
    states = np.empty((seeds.shape[0], 4), dtype=np.uint64)
    for p in range(seeds.shape[0]):
        seed_state(states[p], seeds[p])
    return states


@njit(**BORROW_JIT)
def substream_seed(seed, i):
    """Seed of item ``i``'s own stream, from its partition's ``seed``."""
    return np.uint64(seed) ^ (np.uint64(i) * GOLDEN)


@njit(**BORROW_JIT)
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(**BORROW_JIT)
def next_u64(state):
    """Next 64 random bits (xoshiro256**)."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return result


@njit(**BORROW_JIT)
def below(state, n):
    """Uniform integer in ``[0, n)`` for ``n >= 1``, without modulo bias."""
    un = np.uint64(n)
    threshold = (np.uint64(0) - un) % un
    while True:
        x = next_u64(state)
        if x >= threshold:
            return np.int64(x % un)


@njit(**BORROW_JIT)
def uniform(state):
    """Uniform float in ``[0, 1)`` with 53 random bits."""
    return np.float64(next_u64(state) >> np.uint64(11)) * _DOUBLE_UNIT


@njit(**BORROW_JIT)
def shuffle(state, values, n):
    """Shuffle ``values[:n]`` in place (Fisher–Yates)."""
    for i in range(n - 1, 0, -1):
        j = below(state, i + 1)
        values[i], values[j] = values[j], values[i]
