"""Kernels against their slow references (tests/naive.py, tests/naive_synthesis.py), exactly.

The DP marginals' enumeration, bounded counting, candidate extension and
capping, and the tree and pairwise samplers, on small random inputs.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from showcase.engine.dp.marginals import combinations_table
from showcase.engine.kernels import dp_marginals as kernel
from showcase.engine.kernels.constraints import no_rules
from showcase.engine.kernels.pairwise import Scores, pairwise_records
from showcase.engine.kernels.tree import Tree, tree_records

from . import naive, naive_synthesis

# --- DP marginals ---------------------------------------------------------------------------------


@st.composite
def dp_inputs(draw, max_k=4):
    """Records over a few columns, a length k, candidates, released (k-1)-combinations, allowed ids."""
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=6))
    column = np.repeat(np.arange(len(sizes)), sizes).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    n_records = draw(st.integers(0, 25))
    records = []
    for _ in range(n_records):
        ids = []
        for c, size in enumerate(sizes):
            v = draw(st.integers(-1, size - 1))  # -1: no value in this column
            if v >= 0:
                ids.append(int(offsets[c] + v))
        records.append(ids)
    k = draw(st.integers(1, min(max_k, len(sizes))))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_attributes = int(offsets[-1])
    every = [c for c in itertools.combinations(range(n_attributes), k) if len({column[a] for a in c}) == k]
    chosen = [c for c in every if rng.random() < 0.7]
    rng.shuffle(chosen)
    candidates = {c: i for i, c in enumerate(chosen)}
    shorter = {c[:-1] for c in every} if k >= 2 else set()
    previous = {c for c in shorter if rng.random() < 0.8}
    allowed = rng.random(n_attributes) < 0.85
    return records, column, n_attributes, k, candidates, previous, allowed


def kernel_bundles(records, column, n_attributes, k, candidates, previous, allowed):
    lengths = np.array([len(r) for r in records], dtype=np.int64)
    ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    attrs = np.array([a for r in records for a in r], dtype=np.int64)
    csr = kernel.Records(ptr, attrs, column, int(lengths.max(initial=0)))
    combos = np.array(sorted(candidates, key=candidates.get), dtype=np.int32).reshape(len(candidates), k)
    prev = np.array(sorted(previous), dtype=np.int32).reshape(len(previous), max(k - 1, 1))
    table = combinations_table(combos, n_attributes)
    level = kernel.Level(k, table, combinations_table(prev, n_attributes), allowed.astype(np.bool_))
    return csr, level


@given(inputs=dp_inputs())
def test_candidates_per_record_matches_the_reference(inputs):
    records, column, n_attributes, k, candidates, previous, allowed = inputs
    csr, level = kernel_bundles(*inputs)
    expected = naive.candidates_per_record(records, column, allowed, k, candidates, previous)
    assert kernel.candidates_per_record(csr, level).tolist() == expected


@given(
    inputs=dp_inputs(),
    bound=st.integers(1, 4),
    n_parts=st.integers(1, 4),
    n_words=st.sampled_from([0, 3, 400]),
    seed=st.integers(0, 2**32 - 1),
)
def test_trimmed_counts_match_the_reference(inputs, bound, n_parts, n_words, seed):
    """Counts with at most ``bound`` candidates per record, draw for draw; and running out of words."""
    records, column, n_attributes, k, candidates, previous, allowed = inputs
    csr, level = kernel_bundles(*inputs)
    per_record = kernel.candidates_per_record(csr, level)
    bounds = np.linspace(0, len(records), n_parts + 1).astype(np.int64)
    words = np.random.default_rng(seed).integers(0, 1 << 62, size=(n_parts, n_words), dtype=np.int64)
    states = np.zeros((n_parts, 2), dtype=np.int64)
    counts = np.zeros((n_parts, len(candidates)), dtype=np.int32)
    todo = np.ones(n_parts, dtype=np.bool_)
    most = int(per_record.max(initial=0))
    kernel.trimmed_counts(csr, level, kernel.Trimming(bound, most, bounds, words, states, todo, counts))
    expected, exhausted = naive.trimmed_counts(
        records, column, allowed, k, candidates, previous, bound, bounds.tolist(), words.tolist()
    )
    assert (states[:, 1] == 1).tolist() == exhausted
    assert counts.tolist() == expected
    for p in np.flatnonzero(~states[:, 1].astype(bool)):
        # A partition with words enough: every record counted min(its candidates, bound) times.
        assert counts[p].sum() == np.minimum(per_record[bounds[p] : bounds[p + 1]], bound).sum()


@given(inputs=dp_inputs(max_k=3))
def test_extend_candidates_matches_the_reference(inputs):
    _, column, n_attributes, k, _, _, allowed = inputs
    rng = np.random.default_rng(k + n_attributes)
    every = [c for c in itertools.combinations(range(n_attributes), k) if len({column[a] for a in c}) == k]
    previous = sorted(c for c in every if rng.random() < 0.75)
    singles = [a for a in range(n_attributes) if allowed[a]]
    prev = np.array(previous, dtype=np.int32).reshape(len(previous), k)
    got = kernel.extend_candidates(
        prev, combinations_table(prev, n_attributes), np.array(singles, np.int64), column
    )
    assert got.dtype == np.int32 and got.shape[1] == k + 1
    assert [tuple(row) for row in got.tolist()] == naive.extend_candidates(previous, singles, column)


@given(inputs=dp_inputs(), seed=st.integers(0, 2**32 - 1))
def test_cap_by_subsets_matches_the_reference(inputs, seed):
    _, _, n_attributes, k, candidates, previous, _ = inputs
    if k < 2 or not candidates:
        return
    rng = np.random.default_rng(seed)
    combos = sorted(candidates, key=candidates.get)
    counts = rng.integers(0, 50, size=len(combos))
    subs = sorted(previous)
    sub_counts = rng.integers(0, 50, size=len(subs))
    sub_table = combinations_table(np.array(subs, dtype=np.int32).reshape(len(subs), k - 1), n_attributes)
    got = kernel.cap_by_subsets(np.array(combos, dtype=np.int32), counts, sub_table, sub_counts)
    expected = naive.cap_by_subsets(combos, counts.tolist(), dict(zip(subs, sub_counts.tolist())))
    assert got.tolist() == expected


# --- tree and pairwise samplers --------------------------------------------------------------------


@st.composite
def trees(draw):
    """A random tree over a few columns, with random cumulative tables (last value 1.0)."""
    n_cols = draw(st.integers(1, 5))
    order = draw(st.permutations(range(n_cols)))
    parent = np.full(n_cols, -1, dtype=np.int64)
    for i in range(1, n_cols):
        parent[order[i]] = order[draw(st.integers(0, i - 1))]
    widths = np.array(draw(st.lists(st.integers(1, 4), min_size=n_cols, max_size=n_cols)), dtype=np.int64)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    starts = np.zeros(n_cols, dtype=np.int64)
    pieces, start = [], 0
    for c in range(n_cols):
        rows = 1 if parent[c] < 0 else widths[parent[c]]
        table = np.cumsum(rng.dirichlet(np.ones(widths[c]), size=rows), axis=1)
        table[:, -1] = 1.0
        starts[c] = start
        start += table.size
        pieces.append(table.ravel())
    return Tree(np.array(order, dtype=np.int64), parent, starts, widths, np.concatenate(pieces))


@given(tree=trees(), n_records=st.integers(1, 40), partition=st.integers(1, 16), seed=st.integers(0, 2**32))
def test_tree_records_match_the_reference(tree, n_records, partition, seed):
    seeds = np.random.default_rng(seed).integers(0, 2**64, size=-(-n_records // partition), dtype=np.uint64)
    out = np.zeros((len(tree.order), n_records), dtype=np.uint8)
    tree_records(tree, seeds, partition, out, no_rules())
    expected = naive_synthesis.tree_records(
        tree.order.tolist(), tree.parent.tolist(), tree.starts.tolist(), tree.widths.tolist(),
        tree.cumulative.tolist(), seeds.tolist(), partition, n_records,
    )  # fmt: skip
    assert out.tolist() == expected


@st.composite
def score_tables(draw):
    """Random log-score tables of the shapes ``pairwise_tables`` gives."""
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=5))
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n_attrs, n_cols = int(offsets[-1]), len(sizes)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return Scores(
        offsets,
        np.log(rng.random(n_attrs) + 1e-3),
        np.log(rng.random(n_cols) + 1e-3),
        np.log(rng.random((n_attrs, n_attrs)) + 1e-3),
        np.log(rng.random((n_attrs, n_cols)) + 1e-3),
    )


@given(
    scores=score_tables(),
    n_records=st.integers(1, 30),
    partition=st.integers(1, 12),
    seed=st.integers(0, 2**32),
)
def test_pairwise_records_match_the_reference(scores, n_records, partition, seed):
    seeds = np.random.default_rng(seed).integers(0, 2**64, size=-(-n_records // partition), dtype=np.uint64)
    out = np.zeros((len(scores.offsets) - 1, n_records), dtype=np.uint8)
    pairwise_records(scores, seeds, partition, out, no_rules())
    expected = naive_synthesis.pairwise_records(
        scores.offsets.tolist(), *scores[1:], seeds.tolist(), partition, n_records
    )
    assert out.tolist() == expected
