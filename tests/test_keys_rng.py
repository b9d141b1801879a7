"""The kernels' building blocks: combination keys and their table (keys.py), random streams (rng.py)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from showcase.engine.kernels import keys, rng
from showcase.engine.randomness import make_rng, stream_seeds

from .naive_rng import Xoshiro, substream_seed

# --- keys -----------------------------------------------------------------------------------------

N_ATTRIBUTES = st.sampled_from([1, 2, 7, 300, 55_107, 55_108, 1 << 20, (1 << 31) - 2])


@st.composite
def combinations(draw, n_attributes, length):
    size = draw(st.integers(0, min(length, n_attributes)))
    return sorted(draw(st.sets(st.integers(0, n_attributes - 1), min_size=size, max_size=size)))


@given(n_attributes=N_ATTRIBUTES, length=st.integers(1, 9), data=st.data())
def test_pack_and_unpack_round_trip(n_attributes, length, data):
    radix, per_word, n_words = keys.key_layout(n_attributes, length)
    assert radix == n_attributes + 1 or (n_attributes == 1 and radix == 2)
    assert radix**per_word < 2**63 <= radix ** (per_word + 1)  # as many ids as one word holds
    assert n_words == -(-length // per_word)
    ids = data.draw(combinations(n_attributes, length))
    key = np.zeros(n_words, dtype=np.int64)
    keys.pack(np.array(ids, dtype=np.int64), len(ids), radix, per_word, key)
    out = np.full(length, -1, dtype=np.int64)
    assert keys.unpack(key, radix, out) == len(ids)
    assert out[: len(ids)].tolist() == ids
    if len(ids) <= per_word:  # a one-word key is its ids extended one by one
        word = 0
        for a in ids:
            word = keys.extend(word, a, radix)
        assert key.tolist() == [word] + [0] * (n_words - 1)


@given(n_attributes=N_ATTRIBUTES, length=st.integers(1, 9), data=st.data())
def test_table_lookups_match_a_dict(n_attributes, length, data):
    stored = data.draw(st.lists(combinations(n_attributes, length), max_size=40))
    probes = data.draw(st.lists(combinations(n_attributes, length), max_size=20)) + stored
    combos = np.full((len(stored), length), -1, dtype=np.int32)
    for i, ids in enumerate(stored):
        combos[i, : len(ids)] = ids
    lengths = np.array([len(ids) for ids in stored], dtype=np.uint8)
    table, duplicates = keys.combination_table(combos, lengths, n_attributes, length)
    first = {}
    for row, ids in enumerate(stored):
        first.setdefault(tuple(ids), row)
    assert duplicates == len(stored) - len(first)
    capacity = table.slots.shape[0]
    assert capacity & (capacity - 1) == 0 and capacity >= 2 * len(stored)  # power of two, at most half full
    query = np.full((len(probes), length), -1, dtype=np.int32)
    for i, ids in enumerate(probes):
        query[i, : len(ids)] = ids
    found = keys.find_rows(table, query, np.array([len(ids) for ids in probes], dtype=np.uint8))
    assert found.tolist() == [first.get(tuple(ids), -1) for ids in probes]
    if keys.key_words(table) == 1:
        for ids in probes:
            word = keys.pack_word(np.array(ids, dtype=np.int64), 0, len(ids), table.radix)
            assert keys.find_word(table, word) == first.get(tuple(ids), -1)


@given(m=st.integers(0, 7), j=st.integers(0, 7))
def test_next_subset_walks_every_subset_in_order(m, j):
    if j > m:
        return
    idx = np.arange(j, dtype=np.int64)
    seen = [tuple(idx.tolist())]
    while keys.next_subset(idx, j, m):
        seen.append(tuple(idx.tolist()))
    assert seen == list(itertools.combinations(range(m), j))


def test_without_and_digit():
    out = np.empty(3, dtype=np.int64)
    keys.without(np.array([4, 7, 9, 12]), 4, 1, out)
    assert out.tolist() == [4, 9, 12]
    # Codes (2, 0, 3) of radices (3, 4, 5): strides (20, 5, 1).
    key = 2 * 20 + 0 * 5 + 3
    assert [keys.digit(key, s, r) for s, r in [(20, 3), (5, 4), (1, 5)]] == [2, 0, 3]


# --- rng ------------------------------------------------------------------------------------------


def draws(seed: int, n: int) -> list[int]:
    state = rng.new_state(np.uint64(seed))
    return [int(rng.next_u64(state)) for _ in range(n)]


@given(seed=st.integers(0, 2**64 - 1))
def test_streams_are_xoshiro256_starstar_seeded_by_splitmix64(seed):
    reference = Xoshiro(seed)
    assert draws(seed, 20) == [reference.next_u64() for _ in range(20)]


def test_known_first_words():
    # splitmix64 from 0 gives the state; xoshiro256**'s first output from it.
    state = rng.new_state(np.uint64(0))
    assert state.tolist() == [
        0xE220A8397B1DCDAF,
        0x6E789E6AA1B965F4,
        0x06C45D188009454F,
        0xF88BB8A8724C81EC,
    ]
    assert int(rng.next_u64(state)) == Xoshiro(0).next_u64()


def test_streams_are_reproducible_and_seeds_give_different_streams():
    seeds = stream_seeds(make_rng(11), 64)
    assert np.array_equal(seeds, stream_seeds(make_rng(11), 64))
    streams = [tuple(draws(int(s), 8)) for s in seeds]
    assert streams == [tuple(draws(int(s), 8)) for s in seeds]
    assert len(set(streams)) == len(streams)
    # Per-record substreams of one partition differ too.
    assert len({tuple(draws(int(rng.substream_seed(seeds[0], r)), 4)) for r in range(200)}) == 200
    assert all(int(rng.substream_seed(seeds[0], r)) == substream_seed(int(seeds[0]), r) for r in range(50))


def test_seeded_states_are_new_states():
    seeds = np.array([0, 1, 2**63, 2**64 - 1], dtype=np.uint64)
    states = rng.seeded_states(seeds)
    assert all(np.array_equal(states[p], rng.new_state(seeds[p])) for p in range(len(seeds)))


def test_uniform_and_below_are_uniform_for_a_fixed_seed():
    state = rng.new_state(np.uint64(2024))
    bins = 20
    n = 40_000
    uniform = np.array([rng.uniform(state) for _ in range(n)])
    assert uniform.min() >= 0.0 and uniform.max() < 1.0
    assert stats.chisquare(np.bincount((uniform * bins).astype(int), minlength=bins)).pvalue > 1e-3
    for m in (1, 3, 7, 1000):
        values = np.array([rng.below(state, m) for _ in range(m * 40 if m > 1 else 10)])
        assert values.min() >= 0 and values.max() < m
        if m > 1:
            assert stats.chisquare(np.bincount(values, minlength=m)).pvalue > 1e-3


@given(seed=st.integers(0, 2**64 - 1), n=st.integers(0, 12))
def test_shuffle_matches_the_reference_fisher_yates(seed, n):
    values = np.arange(n, dtype=np.int64)
    rng.shuffle(rng.new_state(np.uint64(seed)), values, n)
    expected = list(range(n))
    Xoshiro(seed).shuffle(expected)
    assert values.tolist() == expected
