"""Aggregate-seeded synthesis: hash table, percentile, the no-fabrication guarantee, a slow reference."""

from __future__ import annotations

import functools
import importlib
import itertools
import math
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from showcase.engine import (
    InputError,
    ParameterError,
    Preparation,
    Schema,
    aggregate_seeded,
    count_combinations,
    encode,
    k_anonymize,
    load,
    read_tsv,
    write_tsv,
)
from showcase.engine.aggregates import NO_ATTRIBUTE
from showcase.engine.config import threads
from showcase.engine.kernels.aggregate_synthesis import percentile
from showcase.engine.randomness import make_rng, stream_seeds
from showcase.engine.synthesize import synthesize
from showcase.engine.synthesize.aggregate_seeded import PARTITION_RECORDS, CombinationTable

from .naive_rng import Xoshiro

module = importlib.import_module("showcase.engine.synthesize.aggregate_seeded")

# ---------------------------------------------------------------- helpers


def combination_set(aggregates) -> set[tuple[int, ...]]:
    """Combinations (sorted attribute-id tuples) with a positive count."""
    return {
        tuple(int(a) for a in row[: int(n)])
        for row, n, c in zip(aggregates.attrs, aggregates.length, aggregates.count)
        if c > 0
    }


def record_ids(table) -> list[list[int]]:
    """Attribute ids of every synthetic record."""
    offsets = table.schema.offsets
    return [
        [int(offsets[c] + v - 1) for c, v in enumerate(table.codes[:, r]) if v] for r in range(table.n_rows)
    ]


def synthetic_combinations(table, length) -> set[tuple[int, ...]]:
    out = set()
    for ids in record_ids(table):
        for k in range(1, length + 1):
            out.update(itertools.combinations(sorted(ids), k))
    return out


VALUES = st.sampled_from(["", "a", "b", "c", "d"])


@st.composite
def small_tables(draw):
    n_cols = draw(st.integers(1, 5))
    n_rows = draw(st.integers(1, 60))
    rows = draw(st.lists(st.tuples(*[VALUES] * n_cols), min_size=n_rows, max_size=n_rows))
    arrow = pa.table({f"c{i}": [r[i] for r in rows] for i in range(n_cols)})
    return encode(arrow)


def drop_some(aggregates, keep_mask):
    """Aggregates without some combinations: they need not be closed under sub-combinations."""
    return aggregates.select(keep_mask)


# ---------------------------------------------------------------- slow reference


def reference_percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 1:
        return ordered[0]
    position = q / 100.0 * (n - 1)
    lo = min(int(math.floor(position)), n - 1)
    frac = position - lo
    if frac <= 0.0 or lo + 1 >= n:
        return ordered[lo]
    return ordered[lo] + frac * (ordered[lo + 1] - ordered[lo])


def reference_synthesis(
    aggregates, seed, q=95.0, use_synthetic=False, scale=1.0, target=None, partition=PARTITION_RECORDS
):
    """The algorithm of the module docs, spelled out with dicts and itertools."""
    schema = aggregates.schema
    length = aggregates.reporting_length
    counts = {
        tuple(int(a) for a in row[: int(n)]): float(c) * scale
        for row, n, c in zip(aggregates.attrs, aggregates.length, aggregates.count)
    }
    n_total = int(round(aggregates.record_count * scale)) if target is None else target
    column_of = schema.attribute_columns
    codes = np.zeros((len(schema.columns), n_total), dtype=np.int64)
    n_parts = -(-n_total // partition)
    seeds = stream_seeds(make_rng(seed), n_parts)
    for p in range(n_parts):
        first = p * partition
        n_records = min(n_total, first + partition) - first
        share = n_records / n_total
        rng = Xoshiro(int(seeds[p]))  # the kernels' stream (engine/kernels/rng.py)
        synthetic: dict = {}

        def value(combo, share=share, synthetic=synthetic):
            if use_synthetic:
                return counts[combo] * share - synthetic.get(combo, 0.0)
            return counts[combo]

        initial = {}
        for a in range(schema.n_attributes):
            if (a,) in counts and counts[(a,)] > 0:
                x = counts[(a,)] * share
                whole = math.floor(x)
                initial[a] = int(whole) + (1 if rng.uniform() < x - whole else 0)
            else:
                initial[a] = 0
        budget = dict(initial)
        for i in range(n_records):
            if sum(budget.values()) == 0:
                budget = dict(initial)
                synthetic.clear()
            record: list[int] = []
            weights = {}
            for a in range(schema.n_attributes):
                if budget[a] >= 1 and (a,) in counts and value((a,)) > 0:
                    weights[a] = value((a,))
            while weights:
                total = 0.0
                for w in weights.values():
                    total += w
                if total <= 0:
                    break
                u = rng.uniform() * total
                acc = 0.0
                pick = None
                for a, w in weights.items():
                    acc += w
                    pick = a
                    if u < acc:
                        break
                if use_synthetic:
                    for k in range(0, min(length - 1, len(record)) + 1):
                        for sub in itertools.combinations(record, k):
                            combo = tuple(sorted((*sub, pick)))
                            synthetic[combo] = synthetic.get(combo, 0.0) + 1.0
                record.append(pick)
                codes[column_of[pick], first + i] = pick - schema.offsets[column_of[pick]] + 1
                budget[pick] -= 1
                new = {}
                for c in weights:
                    if c == pick or column_of[c] == column_of[pick]:
                        continue
                    withs = [
                        tuple(sorted((*sub, c)))
                        for k in range(0, min(length - 1, len(record)) + 1)
                        for sub in itertools.combinations(record, k)
                    ]
                    if not all(w in counts and value(w) > 0 for w in withs):
                        continue
                    if len(record) + 1 <= length:
                        new[c] = value(tuple(sorted((*record, c))))
                    else:
                        longest = [value(w) for w in withs if len(w) == length]
                        new[c] = reference_percentile(longest, q)
                weights = new
    return codes


# ---------------------------------------------------------------- hash table and percentile


@functools.cache
def one_column_schema(n_values: int) -> Schema:
    return Schema(("c",), (pa.array([f"v{i:07d}" for i in range(n_values)], pa.string()),))


@given(
    n_attributes=st.sampled_from([3, 40, 1 << 12, 1 << 20]),
    length=st.integers(1, 7),
    data=st.data(),
)
def test_hash_table_finds_exactly_the_stored_combinations(n_attributes, length, data):
    combos = data.draw(
        st.lists(
            st.lists(st.integers(0, n_attributes - 1), min_size=1, max_size=length, unique=True),
            min_size=1,
            max_size=60,
        )
    )
    unique = sorted({tuple(sorted(c)) for c in combos})
    stored, probes = unique[::2], unique
    schema = one_column_schema(n_attributes)
    attrs = np.full((len(stored), length), NO_ATTRIBUTE, dtype=np.int32)
    for i, combo in enumerate(stored):
        attrs[i, : len(combo)] = combo
    lengths = np.array([len(c) for c in stored], dtype=np.uint8)
    base = count_combinations(encode(pa.table({"c": ["0"]})), 1)
    aggregates = replace(
        base,
        schema=schema,
        reporting_length=length,
        attrs=attrs,
        length=lengths,
        count=np.ones(len(stored), np.int64),
    )
    table = CombinationTable(aggregates)
    per_word = max(m for m in range(1, 64) if (n_attributes + 1) ** m < 2**63)  # base-(n + 1) digits
    assert table.words == math.ceil(length / per_word)
    query = np.full((len(probes), length), NO_ATTRIBUTE, dtype=np.int32)
    for i, combo in enumerate(probes):
        query[i, : len(combo)] = combo
    rows = table.find(query, np.array([len(c) for c in probes], dtype=np.uint8))
    expected = {combo: r for r, combo in enumerate(stored)}
    assert rows.tolist() == [expected.get(c, -1) for c in probes]


@given(table=small_tables(), length=st.integers(1, 4), drop=st.integers(0, 2**16))
def test_child_lists_are_every_one_attribute_extension(table, length, drop):
    aggregates = count_combinations(table, length)
    aggregates = drop_some(aggregates, np.random.default_rng(drop).random(len(aggregates)) < 0.8)
    combos = [tuple(int(a) for a in row[: int(n)]) for row, n in zip(aggregates.attrs, aggregates.length)]
    row_of = {combo: r for r, combo in enumerate(combos)}
    expected = {
        (row_of[parent], a, r)
        for r, combo in enumerate(combos)
        if len(combo) >= 2
        for a in combo
        if (parent := tuple(b for b in combo if b != a)) in row_of
    }
    start, child_attr, child_row = CombinationTable(aggregates).children(aggregates)
    got = {
        (p, int(child_attr[e]), int(child_row[e]))
        for p in range(len(combos))
        for e in range(start[p], start[p + 1])
    }
    assert got == expected
    assert start[-1] == len(expected)


def test_repeated_combinations_are_an_input_error(worked_example):
    exact = count_combinations(load(worked_example), 2)
    doubled = replace(
        exact,
        attrs=np.concatenate([exact.attrs, exact.attrs[:1]]),
        length=np.concatenate([exact.length, exact.length[:1]]),
        count=np.concatenate([exact.count, exact.count[:1]]),
    )
    with pytest.raises(InputError, match="more than once"):
        aggregate_seeded(doubled, rng=make_rng(0))


@given(
    values=st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=50),
    q=st.floats(0, 100),
)
def test_percentile_matches_numpy(values, q):
    buf = np.array(values, dtype=np.float64)
    got = percentile(buf.copy(), len(values), q)
    assert got == pytest.approx(np.percentile(np.array(values), q), rel=1e-12, abs=1e-9)
    assert got == reference_percentile(values, q)


# ---------------------------------------------------------------- the guarantee


@given(
    table=small_tables(),
    length=st.integers(1, 3),
    k=st.integers(1, 3),
    seed=st.integers(0, 2**32),
    use_synthetic=st.booleans(),
    q=st.sampled_from([0.0, 50.0, 95.0, 100.0]),
    drop=st.integers(0, 2**16),
)
def test_no_synthetic_combination_is_absent_from_the_aggregates(
    table, length, k, seed, use_synthetic, q, drop
):
    released = k_anonymize(count_combinations(table, length), k)
    # Also drop some combinations at random, so a sub-combination may be missing.
    keep = np.random.default_rng(drop).random(len(released)) < (0.7 if drop % 2 else 1.0)
    aggregates = drop_some(released, keep)
    synthetic = aggregate_seeded(
        aggregates, rng=make_rng(seed), use_synthetic_counts=use_synthetic, weight_selection_percentile=q
    )
    assert synthetic.schema is aggregates.schema
    assert synthetic.n_rows == aggregates.record_count
    assert synthetic_combinations(synthetic, length) <= combination_set(aggregates)


@given(
    table=small_tables(),
    length=st.integers(1, 3),
    seed=st.integers(0, 2**32),
    use_synthetic=st.booleans(),
    q=st.sampled_from([0.0, 30.0, 95.0]),
    scale=st.sampled_from([0.5, 1.0, 3.0]),
)
def test_kernel_equals_the_slow_reference(table, length, seed, use_synthetic, q, scale):
    aggregates = count_combinations(table, length)
    got = aggregate_seeded(
        aggregates,
        rng=make_rng(seed),
        weight_selection_percentile=q,
        use_synthetic_counts=use_synthetic,
        aggregate_counts_scale_factor=scale,
        fit_sweeps=0,  # the records as built (the fit has its own reference: test_aggregate_fit.py)
    )
    expected = reference_synthesis(aggregates, seed, q=q, use_synthetic=use_synthetic, scale=scale)
    np.testing.assert_array_equal(got.codes, expected)


@pytest.mark.parametrize(
    "partition, use_synthetic",
    # One partition with use_synthetic_counts: a share used up is exactly 0 (count x 1 - synthesized),
    # which must refuse the candidate (a "< 0" test let every partition overshoot by one).
    [(64, False), (64, True), (1 << 20, True)],
)
def test_reference_over_several_partitions_with_lookups_recomputed(monkeypatch, partition, use_synthetic):
    table = encode(
        pa.table(
            {f"c{i}": [str(v) for v in np.random.default_rng(i).integers(0, 3 + i, 300)] for i in range(5)}
        )
    )
    aggregates = k_anonymize(count_combinations(table, 3), 2)
    monkeypatch.setattr(module, "PARTITION_RECORDS", partition)
    monkeypatch.setattr(module, "STORE_MEMORY", 0)  # the path that looks counts up again
    got = aggregate_seeded(aggregates, rng=make_rng(11), target_number_of_records=500, fit_sweeps=0,
                           use_synthetic_counts=use_synthetic)  # fmt: skip
    expected = reference_synthesis(aggregates, 11, target=500, partition=partition,
                                   use_synthetic=use_synthetic)  # fmt: skip
    np.testing.assert_array_equal(got.codes, expected)


# ---------------------------------------------------------------- determinism


def test_same_seed_same_records_whatever_the_threads_or_memory_path(monkeypatch):
    columns = {f"c{i}": [str(v) for v in np.random.default_rng(i).integers(0, 4, 9000)] for i in range(6)}
    aggregates = k_anonymize(count_combinations(encode(pa.table(columns)), 3), 5)
    with threads(2):
        first = aggregate_seeded(aggregates, rng=make_rng(3)).codes
    assert first.shape == (6, aggregates.record_count)
    with threads(1):
        single = aggregate_seeded(aggregates, rng=make_rng(3)).codes
    monkeypatch.setattr(module, "STORE_MEMORY", 0)
    recomputed = aggregate_seeded(aggregates, rng=make_rng(3)).codes
    np.testing.assert_array_equal(first, single)
    np.testing.assert_array_equal(first, recomputed)
    assert not np.array_equal(first, aggregate_seeded(aggregates, rng=make_rng(4)).codes)


# ---------------------------------------------------------------- parameters and counts


def test_single_attribute_budgets_are_kept_exactly():
    table = encode(pa.table({"A": ["a1"] * 30 + ["a2"] * 10}))
    synthetic = aggregate_seeded(count_combinations(table, 1), rng=make_rng(1))
    assert np.bincount(synthetic.codes[0], minlength=3).tolist() == [0, 30, 10]


def test_weights_follow_pair_counts():
    # B=b1 goes with A=a1 only; B=b2 with A=a2 only: no record may mix them.
    table = encode(pa.table({"A": ["a1"] * 60 + ["a2"] * 40, "B": ["b1"] * 60 + ["b2"] * 40}))
    synthetic = aggregate_seeded(count_combinations(table, 2), rng=make_rng(5))
    pairs = {tuple(r) for r in synthetic.codes.T.tolist()}
    assert pairs <= {(1, 1), (2, 2), (1, 0), (0, 1), (2, 0), (0, 2), (0, 0)}
    assert np.bincount(synthetic.codes[0], minlength=3).tolist() == [0, 60, 40]


def test_target_and_scale_factor():
    table = encode(pa.table({"A": ["x", "y"] * 50, "B": ["1", "2", "3", "4"] * 25}))
    aggregates = count_combinations(table, 2)
    assert aggregate_seeded(aggregates, rng=make_rng(0), target_number_of_records=7).n_rows == 7
    doubled = aggregate_seeded(aggregates, rng=make_rng(0), aggregate_counts_scale_factor=2.0)
    assert doubled.n_rows == 200
    assert np.bincount(doubled.codes[0], minlength=3).tolist() == [0, 100, 100]
    assert aggregate_seeded(aggregates, rng=make_rng(0), target_number_of_records=0).codes.shape == (2, 0)


@pytest.mark.parametrize(
    "bad",
    [
        {"weight_selection_percentile": 101},
        {"weight_selection_percentile": -1},
        {"aggregate_counts_scale_factor": 0},
        {"aggregate_counts_scale_factor": float("nan")},
        {"target_number_of_records": -1},
        {"target_number_of_records": 2.5},
    ],
)
def test_bad_parameters(worked_example, bad):
    aggregates = count_combinations(load(worked_example), 2)
    with pytest.raises(ParameterError):
        aggregate_seeded(aggregates, rng=make_rng(0), **bad)


def test_dispatcher_checks_modes_and_sources(worked_example):
    table = load(worked_example)
    aggregates = count_combinations(table, 2)
    with pytest.raises(ParameterError, match="unknown synthesis mode"):
        synthesize("nope", aggregates, rng=make_rng(0))
    with pytest.raises(ParameterError, match="not from sensitive records"):
        synthesize("aggregate_seeded", table, rng=make_rng(0))
    with pytest.raises(ParameterError, match="oversampling-ratio"):
        synthesize("aggregate_seeded", aggregates, rng=make_rng(0), oversampling_ratio=0.1)
    with pytest.raises(ParameterError, match="needs a resolution"):
        synthesize("row_seeded", table, rng=make_rng(0))
    codes = synthesize("aggregate_seeded", aggregates, rng=make_rng(0), target_number_of_records=3)
    assert codes.n_rows == 3


def test_from_an_sds_tsv(tmp_path):
    columns = {f"c{i}": [str(v) for v in np.random.default_rng(i).integers(0, 3, 400)] for i in range(4)}
    released = k_anonymize(count_combinations(encode(pa.table(columns)), 2), 10)
    write_tsv(released, tmp_path / "aggregates.tsv")
    from_tsv = read_tsv(tmp_path / "aggregates.tsv")
    synthetic = aggregate_seeded(from_tsv, rng=make_rng(2))
    assert synthetic.n_rows == released.record_count
    assert synthetic_combinations(synthetic, 2) <= combination_set(from_tsv)


def test_real_data_guarantee(nist_national):
    prep = Preparation(null_markers=("N",), use_columns=["PUMA", "SEX", "MSP", "HISP", "RAC1P", "EDU"])
    table = load(nist_national, prep)
    released = k_anonymize(count_combinations(table, 3), 10)
    synthetic = aggregate_seeded(released, rng=make_rng(8))
    assert synthetic.n_rows == released.record_count
    assert synthetic_combinations(synthetic, 3) <= combination_set(released)
