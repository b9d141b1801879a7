"""The k-anonymous synthesis modes that read sensitive data: row_seeded, unseeded, value_seeded.

Guarantees checked against brute force (tests/naive_synthesis.py) on many
random tables and on a fixed realistic one:
* every synthetic record's combination occurs >= k times in the sensitive data;
* row_seeded: every attribute's synthetic count equals floor(count / k) * k;
* value_seeded: protected count <= synthetic count <= floor((1 + r) * protected count);
* unseeded: as many records as the data; with k = 1 attribute counts follow the
  data within binomial noise; at k = 5 on the realistic table, the tolerance
  stated in ``test_unseeded_counts_tolerance``;
* same seed, same output, on 1 or 2 threads; another seed, another output;
* bad parameters raise ParameterError with a one-line message.
"""

from __future__ import annotations

import importlib

import numba
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numba import njit

from showcase.datasets import generate_table
from showcase.engine import ParameterError, encode
from showcase.engine.config import threads
from showcase.engine.kernels.constraints import no_rules
from showcase.engine.kernels.rng import seeded_states
from showcase.engine.kernels.row_synthesis import (
    Orders,
    Pool,
    Rule,
    draw_order,
    drawn_orders,
    first_ids,
    no_drawn,
    pool_records,
    pool_trees,
    row_seeded_records,
)
from showcase.engine.kernels.support import (
    MODE_LIST,
    S_LISTED,
    S_MODE,
    accept,
    has_support,
    new_work,
    reset,
)
from showcase.engine.randomness import stream_seeds
from showcase.engine.synthesize import row_seeded as row_seeded_module
from showcase.engine.synthesize.consolidate import (
    PARTITION_SIZE,
    group_index,
    holders,
    pool_order,
    protected_counts,
    split_counts,
    support_index,
    synthetic_counts,
)
from showcase.engine.synthesize.row_seeded import first_pass, row_seeded
from showcase.engine.synthesize.unseeded import unseeded
from showcase.engine.synthesize.value_seeded import value_seeded

from . import naive_synthesis as naive

MODES = {"row_seeded": row_seeded, "unseeded": unseeded, "value_seeded": value_seeded}


@st.composite
def encoded_tables(draw, max_rows=120):
    """Small categorical tables with skewed values and missing cells, encoded."""
    n_cols = draw(st.integers(1, 6))
    n_rows = draw(st.integers(1, max_rows))
    columns = {}
    for i in range(n_cols):
        n_values = draw(st.integers(1, 5))
        # Skewed: low codes are much more frequent; "" is a missing cell.
        weights = draw(st.lists(st.integers(0, 8), min_size=n_values + 1, max_size=n_values + 1))
        cells = [""] + [f"v{j}" for j in range(n_values)]
        seed = draw(st.integers(0, 2**32 - 1))
        p = np.array(weights, dtype=float) + 0.01
        picks = np.random.default_rng(seed).choice(len(cells), size=n_rows, p=p / p.sum())
        columns[f"c{i}"] = [cells[j] for j in picks]
    return encode(pa.table(columns))


@pytest.fixture(scope="module")
def realistic():
    """A fixed realistic table: 1,500 generated case records, 12 columns."""
    return encode(generate_table(1500, 12, 7))


def assert_k_anonymous(table, out, k):
    assert naive.rare_records(table.codes, out, k) == []


def assert_layout(table, out):
    assert out.dtype == table.codes.dtype
    assert out.flags.c_contiguous
    assert out.ndim == 2 and out.shape[0] == table.n_columns
    sizes = np.array([len(d) for d in table.schema.dictionaries])
    assert (out.max(axis=1, initial=0) <= sizes).all()


def counts_of(table, out):
    return synthetic_counts(out, table.schema.offsets)


def targets_of(table, k):
    return protected_counts(synthetic_counts(table.codes, table.schema.offsets), k)


# --- the support kernels --------------------------------------------------------------------


def naive_rows(table, ids):
    """Records holding every id (an id >= n_attributes means "column empty")."""
    n_attributes = table.schema.n_attributes
    offsets = table.schema.offsets
    out = []
    for r in range(table.n_rows):
        ok = True
        for a in ids:
            if a >= n_attributes:
                ok = ok and table.codes[a - n_attributes, r] == 0
            else:
                c = int(table.schema.attribute_columns[a])
                ok = ok and table.codes[c, r] == a - offsets[c] + 1
        if ok:
            out.append(r)
    return out


@given(
    table=encoded_tables(max_rows=200),
    k=st.integers(1, 6),
    order_seed=st.integers(0, 2**32 - 1),
    list_max=st.sampled_from([0, 64, 10**9]),
    exit_hits=st.sampled_from([1, 64]),
    use_pairs=st.booleans(),
)
def test_support_tests_match_brute_force(table, k, order_seed, list_max, exit_hits, use_pairs):
    """Whatever the mode switches, a test says exactly whether support >= k, and listed rows are exact."""
    check_support_tests(table, k, order_seed, list_max, exit_hits, use_pairs)


@pytest.mark.parametrize("seed", range(4))
def test_support_tests_match_brute_force_over_many_bitmap_words(seed):
    """The same over 9,000 records (141 bitmap words a value: three blocks of 64 words, each
    cached on its own), where supports of a few common values stay in the hundreds: the
    paths a 200-record table (one block of 4 words) never reaches."""
    rng = np.random.default_rng(seed)
    n = 9000
    columns = {f"c{i}": [("", *[f"v{j}" for j in range(size)])[v] for v in rng.integers(0, size + 1, n)]
               for i, size in enumerate((2, 3, 2, 4, 3, 5))}  # fmt: skip
    table = encode(pa.table(columns))
    for k, list_max, exit_hits, use_pairs in ((1, 0, 1, False), (10, 64, 64, True), (50, 10**9, 1, True)):
        check_support_tests(table, k, seed, list_max, exit_hits, use_pairs)


def check_support_tests(table, k, order_seed, list_max, exit_hits, use_pairs):
    """Test ids in a random order against :func:`naive_rows`; listed rows must be exact."""
    index = support_index(table, k, use_pairs=use_pairs)
    n_ids = table.schema.n_attributes + table.n_columns
    ids = np.random.default_rng(order_seed).permutation(n_ids)
    work = new_work(table.n_columns, table.n_rows)
    reset(work)
    chosen, used_columns = [], set()
    for b in ids:
        column = int(index.arrays[2][b])
        if column in used_columns:
            continue
        ok, estimate = has_support(index.arrays, work, b, k, max(k, exit_hits))
        expected = len(naive_rows(table, [*chosen, b]))
        assert ok == (expected >= k)
        if ok:
            accept(index.arrays, work, b, estimate, list_max)
            chosen.append(b)
            used_columns.add(column)
            state, rows = work[0], work[3]
            if state[S_MODE] == MODE_LIST:
                assert rows[: state[S_LISTED]].tolist() == naive_rows(table, chosen)


# --- row_seeded ------------------------------------------------------------------------------


@given(table=encoded_tables(), k=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_row_seeded_first_pass_keeps_maximal_subsets(table, k, seed):
    """Each seed record keeps a subset of its attributes that no left-out attribute can join."""
    index = support_index(table, k)
    n_parts = -(-table.n_rows // PARTITION_SIZE)
    seeds = stream_seeds(np.random.default_rng(seed), n_parts)
    out = row_seeded_records(
        index.arrays, Rule(k, index.exit_hits, index.list_max), seeds, PARTITION_SIZE, 1, no_rules()
    )
    # The grouped first pass makes the same records, however far it splits the groups.
    assert np.array_equal(first_pass(table, index, k, seeds), out)
    assert np.array_equal(first_pass(table, index, k, seeds, split_cost=0), out)
    sensitive = naive.records(table.codes)
    for row, record in zip(sensitive, naive.records(out)):
        assert record <= row
        assert not record or naive.support(sensitive, record) >= k
        for attribute in row - record:
            assert naive.support(sensitive, record | {attribute}) < k


@pytest.mark.parametrize(
    ("rows", "columns", "k", "split_cost", "chunk"),
    [(4000, 12, 3, 0, 4096), (4000, 12, 3, 1, 4096), (6000, 20, 10, 0, 4096), (6000, 20, 2, 0.5, 7),
     (6000, 20, 2, 20, 4096), (6000, 20, 10, 4000, 5)],
)  # fmt: skip
def test_row_seeded_prefix_groups_match_the_plain_pass(rows, columns, k, split_cost, chunk, monkeypatch):
    """Grouping by longer kept prefixes changes no record (support decisions are exact), nor does
    growing a node's records a few at a time (``GROW_CHUNK``), nor does an index without pair
    counts (then the second kept attribute is read off each first attribute's node, and records
    that keep two attributes in opposite orders go on apart)."""
    monkeypatch.setattr(row_seeded_module, "GROW_CHUNK", chunk)
    table = encode(generate_table(rows, columns, 4))
    index = support_index(table, k)
    seeds = stream_seeds(np.random.default_rng(rows + k), -(-rows // PARTITION_SIZE))
    plain = row_seeded_records(
        index.arrays, Rule(k, index.exit_hits, index.list_max), seeds, PARTITION_SIZE, 1, no_rules()
    )
    for use_pairs, drawn_columns in ((True, 255), (False, 255), (True, 0)):
        # drawn_columns 0: every order is drawn again where it is needed, as for a wide table.
        monkeypatch.setattr(row_seeded_module, "MAX_DRAWN_COLUMNS", drawn_columns)
        grouped = first_pass(
            table, support_index(table, k, use_pairs=use_pairs), k, seeds, split_cost=split_cost
        )
        assert grouped.dtype == plain.dtype
        assert grouped.tobytes() == plain.tobytes()


@njit(cache=False)
def _orders_of(orders, n_records, n_columns):
    out = np.full((n_records, n_columns + 1), -1, dtype=np.int64)
    rng = np.empty(4, dtype=np.uint64)
    for r in range(n_records):
        out[r, 0] = draw_order(orders, r, rng, out[r, 1:])
    return out


@given(table=encoded_tables(), k=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_drawn_orders_are_the_orders_each_record_draws(table, k, seed):
    """Orders drawn once and read back are the orders drawn from each record's stream, and the
    first ids are :func:`first_ids`'s."""
    index = support_index(table, k)
    codes, offsets, _, _, counts = index.arrays[:5]
    seeds = stream_seeds(np.random.default_rng(seed), -(-table.n_rows // PARTITION_SIZE))
    orders = Orders(codes, offsets, counts, k, seeds, PARTITION_SIZE, no_drawn())
    drawn, first = drawn_orders(orders, table.n_rows)
    n_columns = codes.shape[0]
    fresh = _orders_of(orders, table.n_rows, n_columns)
    assert np.array_equal(_orders_of(orders._replace(drawn=drawn), table.n_rows, n_columns), fresh)
    assert np.array_equal(first, first_ids(orders, table.n_rows, False))
    assert np.array_equal(first, np.where(fresh[:, 0] > 0, fresh[:, 1], -1))


def test_pair_plan_sends_both_orders_of_a_pair_to_one_node():
    """Records keeping a then b and records keeping b then a go on from one child of the smaller
    node when their saving pays for it; a pair whose records save too little is finished on each
    record's first node; records keeping one attribute are done."""
    counts = np.array([100, 50, 80, 10], dtype=np.int64)
    pairs = np.array([[0, 20, 30, 5], [20, 0, 9, 5], [30, 9, 0, 5], [5, 5, 5, 0]], dtype=np.int32)
    first = np.array([0, 1, 0, 1, 2, 0, 3])
    second = np.array([1, 0, 1, 2, 0, -1, 0])
    # {0, 1}: savings 80 + 30 + 80 = 190 >= 9 * 20 (split, owned by node 1, the smaller);
    # {1, 2}: saving 41 < 9 * 9; {0, 2}: saving 50 < 9 * 30; {0, 3}: saving 5 < 9 * 5.
    plan_of = row_seeded_module.pair_plan
    plan = {a: (rest.tolist(), [(b, r.tolist()) for b, r in children])
            for a, rest, children in plan_of(first, second, counts, pairs, 9.0)}  # fmt: skip
    assert plan == {1: ([3], [(0, [0, 1, 2])]), 2: ([4], []), 3: ([6], [])}
    split_all = {
        a: children for a, _, children in row_seeded_module.pair_plan(first, second, counts, pairs, 0.0)
    }
    assert sorted(b for children in split_all.values() for b, _ in children) == [0, 0, 0, 2]


@pytest.mark.parametrize("seeded", [False, True])
@pytest.mark.parametrize(("rows", "k"), [(3000, 3), (5000, 10)])
def test_pool_records_on_attribute_indexes_match_the_whole_table(rows, k, seeded):
    """Pool records grown on the index of their first attribute are the same records.

    Seeded pool records draw their sensitive record from the holders of their
    first attribute: the same record whichever index the holders are counted in.
    """
    table = encode(generate_table(rows, 12, 5))
    index = support_index(table, k)
    pool = protected_counts(index.counts, k) // 2
    n_parts = 3
    remaining = np.stack([split_counts(pool, n_parts, part) for part in range(n_parts)])
    seeds = stream_seeds(np.random.default_rng(99), n_parts)
    codes, offsets, attr_col = index.arrays[0], index.offsets, index.arrays[2]
    runs = {}
    for on_first in (False, True):
        left, states = remaining.copy(), seeded_states(seeds)
        trees = pool_trees(left)
        grown = []
        for share, a in [(2, a) for a in pool_order(pool)] + [(1, a) for a in pool_order(pool)]:
            node = index
            if on_first:
                node = group_index(codes, offsets, attr_col[: len(pool)], attr_col, int(a), k)
            rule = Rule(k, node.exit_hits, node.list_max)
            seed_rows = np.zeros(0, dtype=np.int64)
            if seeded and on_first:
                seed_rows = np.arange(node.arrays[0].shape[1], dtype=np.int64)
            elif seeded:
                seed_rows = holders(codes, offsets, attr_col, int(a)).astype(np.int64)
            pool_state = Pool(left, trees, states)
            grown.append(
                pool_records(
                    node.arrays,
                    on_first,
                    rule,
                    int(a),
                    pool_state,
                    0,
                    n_parts,
                    share,
                    1,
                    seed_rows,
                    no_rules(),
                )
            )
        assert not left.any()  # every pooled occurrence was placed
        runs[on_first] = np.concatenate(grown, axis=1)
    assert runs[True].tobytes() == runs[False].tobytes() and runs[True].shape == runs[False].shape
    assert np.array_equal(synthetic_counts(runs[True], offsets), pool)
    assert_k_anonymous(table, runs[True], k)


@given(
    table=encoded_tables(max_rows=80),
    k=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
    n_parts=st.integers(1, 2),
    share=st.integers(1, 3),
    tries=st.integers(1, 3),
    seeded=st.booleans(),
    data=st.data(),
)
def test_pool_records_match_the_reference(table, k, seed, n_parts, share, tries, seeded, data):
    """Pool records (former and seeded) are exactly the slow reference's, pool left included."""
    index = support_index(table, k)
    target = protected_counts(index.counts, k)
    if not target.any():
        return
    pool = np.array([data.draw(st.integers(0, int(t))) for t in target], dtype=np.int64)
    first = data.draw(st.sampled_from([int(a) for a in np.flatnonzero(target)]))
    pool[first] = max(int(pool[first]), 1)
    remaining = np.stack([split_counts(pool, n_parts, part) for part in range(n_parts)])
    seeds = stream_seeds(np.random.default_rng(seed), n_parts)
    codes, offsets, attr_col = index.arrays[0], index.offsets, index.arrays[2]
    seed_rows = holders(codes, offsets, attr_col, first).astype(np.int64) if seeded else np.zeros(0, np.int64)
    left = remaining.copy()
    state = Pool(left, pool_trees(left), seeded_states(seeds))
    rule = Rule(k, index.exit_hits, index.list_max)
    out = pool_records(
        index.arrays, False, rule, first, state, 0, n_parts, share, tries, seed_rows, no_rules()
    )
    expected_left = [list(map(int, row)) for row in remaining]
    expected = naive.pool_records(
        table.codes, list(map(int, offsets)), k, first, expected_left, seeds, share, tries, list(seed_rows)
    )
    assert out.T.tolist() == expected
    assert left.tolist() == expected_left


@given(table=encoded_tables(), k=st.integers(1, 6), seed=st.integers(0, 2**32 - 1), seeded=st.booleans())
def test_row_seeded_guarantees(table, k, seed, seeded):
    out = row_seeded(table, resolution=k, rng=np.random.default_rng(seed), seeded_pool=seeded)
    assert_layout(table, out)
    assert_k_anonymous(table, out, k)
    # Exact protected counts; attributes rarer than k never appear.
    assert dict(naive.attribute_counts(out)) == naive.protected_counts(table.codes, k)
    # The first records come from the sensitive records in order (attributes only removed).
    sensitive = naive.records(table.codes)
    assert out.shape[1] >= table.n_rows
    for row, record in zip(sensitive, naive.records(out[:, : table.n_rows])):
        assert record <= row


@pytest.mark.parametrize("k", [3, 10])
def test_seeded_pool_needs_fewer_records(realistic, k):
    """Pool records seeded from sensitive records hold more attributes each, so fewer are made.

    Fixed seeds; on this table the seeded pool makes 6-14 % fewer pool records
    (k = 3: 1,687 against 1,967; k = 10: 2,889 against 3,060).
    """
    sizes = {}
    for seeded in (False, True):
        out = row_seeded(realistic, resolution=k, rng=np.random.default_rng(4), seeded_pool=seeded)
        assert dict(naive.attribute_counts(out)) == naive.protected_counts(realistic.codes, k)
        sizes[seeded] = out.shape[1] - realistic.n_rows
    assert sizes[True] < 0.97 * sizes[False]


def test_row_seeded_with_k_1_reproduces_the_data(realistic):
    out = row_seeded(realistic, resolution=1, rng=np.random.default_rng(3))
    assert np.array_equal(out, realistic.codes)


# --- unseeded --------------------------------------------------------------------------------


@given(table=encoded_tables(), k=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_unseeded_guarantees(table, k, seed):
    out = unseeded(table, resolution=k, rng=np.random.default_rng(seed))
    assert_layout(table, out)
    assert out.shape[1] == table.n_rows
    assert_k_anonymous(table, out, k)
    assert not (counts_of(table, out)[targets_of(table, k) == 0]).any()


@pytest.mark.statistical
def test_unseeded_with_k_1_follows_the_attribute_counts(realistic):
    """With k = 1 nothing is left out, so each count is a sum of n_rows draws with the data's
    frequency: within 5 standard deviations."""
    total = np.zeros(realistic.schema.n_attributes)
    runs = 4
    for seed in range(runs):
        total += counts_of(realistic, unseeded(realistic, resolution=1, rng=np.random.default_rng(seed)))
    expected = runs * counts_of(realistic, realistic.codes).astype(float)
    p = expected / (runs * realistic.n_rows)
    sd = np.sqrt(runs * realistic.n_rows * p * (1 - p)) + 1
    assert (np.abs(total - expected) <= 5 * sd).all()


@pytest.mark.statistical
def test_unseeded_follows_absences():
    """Two columns that are never filled together: each is filled in half the records.

    A sampler that ignored absences (drawing B among all records after A came
    out empty) would fill each in 3/8 of the records, 11 standard deviations off.
    """
    half = 1000
    table = encode(pa.table({"a": ["x"] * half + [""] * half, "b": [""] * half + ["y"] * half}))
    out = unseeded(table, resolution=1, rng=np.random.default_rng(4))
    assert not (out.all(axis=0)).any()
    sd = np.sqrt(2 * half * 0.25)
    assert (np.abs(counts_of(table, out) - half) <= 5 * sd).all()


def test_unseeded_keeps_an_absence_as_context_for_the_columns_after_it():
    """Column b is empty exactly when c is ``c0``; a is independent of both.

    When b comes out empty after the record's start, the columns drawn after
    it must come from records where b is empty too, so no record may have b
    empty and c = ``c1``. A sampler that dropped the absence from the support
    set (as a mutant did, unseen by the two-column test above, where nothing
    comes after the second column) makes such records.
    """
    rng = np.random.default_rng(8)
    n = 2000
    filled = rng.random(n) < 0.5
    table = encode(pa.table({
        "a": rng.choice(["x", "z"], n).tolist(),
        "b": ["y" if f else "" for f in filled],
        "c": ["c1" if f else "c0" for f in filled],
    }))  # fmt: skip
    out = unseeded(table, resolution=1, rng=np.random.default_rng(3))
    b, c = table.schema.columns.index("b"), table.schema.columns.index("c")
    c1 = list(table.schema.dictionaries[c].to_pylist()).index("c1") + 1
    assert out.shape[1] == n
    assert not ((out[b] == 0) & (out[c] == c1)).any(), "an empty b was not kept as context"


def test_unseeded_counts_tolerance(realistic):
    """Stated tolerance at k = 5 on realistic data (12 columns, 1,500 records).

    Unseeded synthesis never adds an attribute beyond what the data's
    conditional distribution gives and leaves out draws that would make a rare
    combination, so counts fall short, never exceed by more than noise:
    every count <= its sensitive count + 3 sqrt(count); every attribute with a
    protected count >= 150 keeps at least 15% of it; all together keep at least
    35% of the attribute occurrences.
    """
    k = 5
    out = unseeded(realistic, resolution=k, rng=np.random.default_rng(11))
    have = counts_of(realistic, out).astype(float)
    count = counts_of(realistic, realistic.codes).astype(float)
    target = targets_of(realistic, k)
    assert (have <= count + 3 * np.sqrt(count)).all()
    frequent = target >= 150
    assert (have[frequent] >= 0.15 * target[frequent]).all()
    assert have.sum() >= 0.35 * count.sum()


# --- value_seeded ----------------------------------------------------------------------------


@given(
    table=encoded_tables(),
    k=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    ratio=st.sampled_from([None, 0.0, 0.3, 2.0]),
    tries=st.integers(0, 3),
)
def test_value_seeded_guarantees(table, k, seed, ratio, tries):
    out = value_seeded(
        table,
        resolution=k,
        rng=np.random.default_rng(seed),
        oversampling_ratio=ratio,
        oversampling_tries=None if ratio is None else tries,
    )
    assert_layout(table, out)
    assert_k_anonymous(table, out, k)
    have, target = counts_of(table, out), targets_of(table, k)
    assert (have >= target).all()
    assert not have[target == 0].any()
    if ratio is not None:
        assert (have <= np.floor((1 + ratio) * target)).all()
    assert out.shape[1] <= target.sum()


def test_value_seeded_ratio_bounds_on_realistic_data(realistic):
    """Without a ratio attributes are oversampled; a ratio bounds it; ratio 0 is exact."""
    k = 5
    target = targets_of(realistic, k)
    rng = np.random.default_rng
    free = counts_of(realistic, value_seeded(realistic, resolution=k, rng=rng(1)))
    assert (free >= target).all() and (free > target).any()
    bounded = counts_of(realistic, value_seeded(realistic, resolution=k, rng=rng(1), oversampling_ratio=0.1))
    assert (target <= bounded).all() and (bounded <= np.floor(1.1 * target)).all()
    exact = counts_of(realistic, value_seeded(realistic, resolution=k, rng=rng(1), oversampling_ratio=0))
    assert np.array_equal(exact, target)


# --- all modes -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_realistic_table_is_k_anonymous(realistic, mode):
    k = 5
    out = MODES[mode](realistic, resolution=k, rng=np.random.default_rng(2))
    assert_layout(realistic, out)
    assert_k_anonymous(realistic, out, k)
    if mode == "row_seeded":
        assert np.array_equal(counts_of(realistic, out), targets_of(realistic, k))


@pytest.mark.parametrize("mode", MODES)
def test_seeds_decide_the_output(realistic, mode):
    def run(seed):
        return MODES[mode](realistic, resolution=4, rng=np.random.default_rng(seed))

    first = run(5)
    assert np.array_equal(first, run(5))
    other = run(6)
    assert first.shape != other.shape or not np.array_equal(first, other)


@pytest.mark.parametrize("mode", MODES)
def test_thread_count_does_not_change_the_output(mode):
    # Enough records for several partitions of every kind of work.
    table = encode(generate_table(6000, 10, 3))

    def run(n_threads):
        with threads(n_threads):
            assert numba.get_num_threads() == n_threads
            return MODES[mode](table, resolution=3, rng=np.random.default_rng(8))

    assert np.array_equal(run(1), run(2))


@pytest.mark.parametrize("mode", MODES)
def test_progress_climbs_to_its_total_and_leaves_the_output_alone(mode, monkeypatch):
    # Several groups, pool turns and budget partitions (smaller ones here), on two threads.
    monkeypatch.setattr(importlib.import_module(value_seeded.__module__), "BUDGET_PARTITION", 4096)
    table = encode(generate_table(6000, 10, 3))
    seen = []
    with threads(2):
        watched = MODES[mode](
            table, resolution=3, rng=np.random.default_rng(8), progress=lambda d, t: seen.append((d, t))
        )
        plain = MODES[mode](table, resolution=3, rng=np.random.default_rng(8))
    assert np.array_equal(watched, plain)
    done = [d for d, _ in seen]
    assert len({t for _, t in seen}) == 1
    assert done == sorted(done) and done[-1] == seen[-1][1]
    # Reported along the way, not only at the end.
    assert len(set(done)) >= 3 and any(0 < d < seen[-1][1] for d in done)


@pytest.mark.parametrize("mode", MODES)
def test_k_above_every_count_gives_no_attributes(mode):
    table = encode(pa.table({"a": ["x", "y", "x"], "b": ["1", "", "2"]}))
    out = MODES[mode](table, resolution=4, rng=np.random.default_rng(0))
    assert not out.any()
    assert out.shape[1] == (0 if mode == "value_seeded" else 3)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "3", None])
def test_bad_resolution(mode, bad):
    table = encode(pa.table({"a": ["x", "y"]}))
    with pytest.raises(ParameterError, match="resolution") as error:
        MODES[mode](table, resolution=bad, rng=np.random.default_rng(0))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"oversampling_ratio": -0.1}, "oversampling_ratio"),
        ({"oversampling_ratio": float("nan")}, "oversampling_ratio"),
        ({"oversampling_ratio": float("inf")}, "oversampling_ratio"),
        ({"oversampling_ratio": "0.1"}, "oversampling_ratio"),
        ({"oversampling_ratio": True}, "oversampling_ratio"),
        ({"oversampling_ratio": 0.1, "oversampling_tries": -1}, "oversampling_tries"),
        ({"oversampling_ratio": 0.1, "oversampling_tries": 1.5}, "oversampling_tries"),
        ({"oversampling_ratio": 0.1, "oversampling_tries": False}, "oversampling_tries"),
        ({"oversampling_tries": 3}, "only with oversampling_ratio"),
    ],
)
def test_bad_oversampling_parameters(options, message):
    table = encode(pa.table({"a": ["x", "y"]}))
    with pytest.raises(ParameterError, match=message) as error:
        value_seeded(table, resolution=1, rng=np.random.default_rng(0), **options)
    assert "\n" not in str(error.value)


def test_run_parallel_left_early_drops_the_items_not_started_and_tells_the_running_ones(monkeypatch):
    """A Ctrl-C while groups grow: the groups not started never run, the running ones see ``stop``
    (and return between pieces of their work) instead of running to their end."""
    import threading

    from showcase.engine.synthesize import consolidate

    monkeypatch.setattr(consolidate, "worker_count", lambda n: 2)
    stop = threading.Event()
    seen: list[str] = []

    def job(i: int) -> int:
        if i == 0:
            return i
        seen.append("saw stop" if stop.wait(2) else "ran to its end")
        return i

    def done(i: int) -> None:
        raise KeyboardInterrupt  # as the first group finishes

    with pytest.raises(KeyboardInterrupt):
        consolidate.run_parallel(job, list(range(50)), done, stop)
    assert stop.is_set() and seen and set(seen) == {"saw stop"} and len(seen) < 49, seen


@pytest.mark.parametrize("mode", ["row_seeded", "unseeded", "value_seeded"])
def test_no_synthetic_record_sits_in_the_row_of_its_seed(mode):
    """Row-seeded record i keeps a subset of sensitive record i: written in that order, a record's
    place would name the person in the same row of the input. The modes that read sensitive records
    shuffle what they return, so a synthetic record lies inside the sensitive record of its row
    about as often as inside a random one."""
    from showcase.engine.synthesize import synthesize

    table = encode(generate_table(3000, 8, seed=5))
    out = synthesize(mode, table, rng=np.random.default_rng(7), resolution=5).codes
    sensitive = naive.records(table.codes)
    synthetic = naive.records(out[:, : table.n_rows])

    def held(rows):
        return sum(bool(record) and record <= row for row, record in zip(rows, synthetic, strict=True))

    inside, shifted = held(sensitive), held(sensitive[1:] + sensitive[:1])
    assert inside <= 2 * shifted + 30, (inside, shifted)
