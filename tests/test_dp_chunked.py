"""A DP release read a chunk of records at a time is the whole-records release, byte for byte, for a seed."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from showcase.engine import DifferentialPrivacy, aggregate
from showcase.engine.dp import marginals as marginals_module
from showcase.engine.dp.marginals import ChunkedRecords, dense_index, dp_aggregate
from showcase.engine.dp.noise import RandomSource, WordStream
from showcase.engine.encode import EncodedTable, Schema
from showcase.engine.errors import ParameterError
from showcase.engine.kernels.dp_marginals import dense_candidate_counts, dense_counts_of_rows
from showcase.engine.resources import (
    DP_BYTES_PER_ATTRIBUTE,
    DP_BYTES_PER_RECORD,
    DP_CHUNK_ROWS,
    Resources,
    dense_pass_bytes,
    estimate,
)

from .test_stream import same, whole_file, write_parts


def coded_table(draw, max_rows: int = 80) -> EncodedTable:
    """Codes of random shape; the schema may hold values no record has (absent values)."""
    n_columns = draw(st.integers(1, 5))
    sizes = draw(st.lists(st.integers(1, 4), min_size=n_columns, max_size=n_columns))
    n = draw(st.integers(0, max_rows))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    codes = np.zeros((n_columns, n), dtype=np.uint8)
    for c, size in enumerate(sizes):
        used = rng.integers(1, size + 1)  # only codes 0..used: the values above are absent
        codes[c] = rng.integers(0, used + 1, n)
    schema = Schema(
        tuple(f"c{c}" for c in range(n_columns)),
        tuple(pa.array([f"v{v}" for v in range(size)], pa.string()) for size in sizes),
    )
    return EncodedTable(schema, codes)


tables = st.composite(coded_table)


def same_release(a, b) -> None:
    (x, rx), (y, ry) = a, b
    np.testing.assert_array_equal(x.attrs, y.attrs)
    np.testing.assert_array_equal(x.length, y.length)
    np.testing.assert_array_equal(x.count, y.count)
    assert x.record_count == y.record_count
    assert rx.deltas == ry.deltas
    assert rx.candidates == ry.candidates and rx.released == ry.released


@settings(max_examples=60, deadline=None)
@given(
    table=tables(),
    chunk=st.integers(1, 90),
    dense=st.booleans(),
    length=st.integers(1, 3),
    percentile=st.sampled_from([30.0, 60.0, 99.0]),
    public=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_chunked_release_equals_the_whole_release(table, chunk, dense, length, percentile, public, seed):
    """Random tables (empty ones, absent values), chunk sizes and both ways of finding candidates.

    A low percentile trims many records, so the partitions' random words are
    carried across chunk boundaries.
    """
    options = dict(epsilon=2.0, delta=1e-6, length=length, percentile=percentile, public_domain=public)
    whole = dp_aggregate(table, chunk_rows=None, source=RandomSource(seed), **options)
    chunked = dp_aggregate(table, chunk_rows=chunk, dense=dense, source=RandomSource(seed), **options)
    same_release(whole, chunked)


def skewed_table(n: int = 600, seed: int = 4) -> EncodedTable:
    """Five columns, most records full: at the median, half the records are trimmed."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(1, 4, (5, n)).astype(np.uint8)
    codes[:, ::3] *= rng.integers(0, 2, (5, (n + 2) // 3)).astype(np.uint8)
    schema = Schema(tuple("abcde"), tuple(pa.array(["p", "q", "r"], pa.string()) for _ in range(5)))
    return EncodedTable(schema, codes)


@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("chunk", [1, 7, 599, 600, 10_000])
def test_tiny_and_large_chunks_match(chunk, dense):
    table = skewed_table()
    options = dict(epsilon=4.0, delta=1e-6, length=3, percentile=50.0)
    whole = dp_aggregate(table, chunk_rows=None, source=RandomSource(11), **options)
    assert whole[1].deltas[1] < 10  # pairs: records above the bound draw random words
    chunked = dp_aggregate(table, chunk_rows=chunk, dense=dense, source=RandomSource(11), **options)
    same_release(whole, chunked)


@pytest.mark.parametrize("words", [1, 50, 1 << 23])
def test_trimming_in_chunks_of_few_words_is_the_same_release(monkeypatch, words):
    """The records above the bound are trimmed a bounded number of words at a time (all of them at
    once held 2 GiB of words at 100M rows): the release is the same whatever that number."""
    table = skewed_table()
    options = dict(epsilon=4.0, delta=1e-6, length=3, percentile=50.0)
    whole = dp_aggregate(table, chunk_rows=None, source=RandomSource(11), **options)
    monkeypatch.setattr(marginals_module, "TRIM_WORDS", words)
    chunked = dp_aggregate(table, chunk_rows=600, source=RandomSource(11), **options)
    same_release(whole, chunked)


def test_the_words_carry_over_from_chunk_to_chunk(monkeypatch):
    """Restart each partition's words at every chunk (the bug this guards against): the release changes."""
    table = skewed_table()
    options = dict(epsilon=4.0, delta=1e-6, length=3, percentile=50.0)
    whole = dp_aggregate(table, chunk_rows=None, source=RandomSource(11), **options)
    monkeypatch.setattr(marginals_module._Forward, "advance", lambda self, used: None)
    restarted = dp_aggregate(table, chunk_rows=50, source=RandomSource(11), **options)
    with pytest.raises(AssertionError):
        same_release(whole, restarted)


def test_word_windows_are_the_stream_read_from_its_start():
    for label in (b"showcase-noise/5/1", None):
        stream = WordStream(label)
        whole = stream.words(5000) if label is not None else None
        forward = WordStream(label)
        got, at = [], 0
        for n in (3, 0, 700, 1, 2000, 17, 2279):
            got.append(forward.window(at, n))
            at += n
            forward.forget(at - n // 2)  # keep the second half: it can be read again
            np.testing.assert_array_equal(forward.window(at - n // 2, n // 2), got[-1][n - n // 2 :])
        assert sum(len(g) for g in got) == 5000
        if whole is not None:
            np.testing.assert_array_equal(np.concatenate(got), whole)
        with pytest.raises(ValueError):
            forward.window(0, 1)


# --- the dense kernels against a pure-Python reference ----------------------------------------


def reference_per_record(table: EncodedTable, candidates: set, k: int) -> list[int]:
    """Per record: how many of its k-combinations (one id per column) are candidates."""
    offsets = table.schema.offsets
    out = []
    for r in range(table.codes.shape[1]):
        ids = [int(offsets[c] + code - 1) for c, code in enumerate(table.codes[:, r]) if code]
        out.append(sum(tuple(combo) in candidates for combo in itertools.combinations(ids, k)))
    return out


@settings(max_examples=80, deadline=None)
@given(table=tables(max_rows=40), k=st.integers(1, 3), data=st.data())
def test_dense_kernels_match_a_reference(table, k, data):
    schema = table.schema
    column = schema.attribute_columns
    every = [c for c in itertools.combinations(range(schema.n_attributes), k)
             if len({int(column[a]) for a in c}) == k]  # fmt: skip
    if not every:
        return
    chosen = sorted(data.draw(st.sets(st.sampled_from(every), min_size=1)))
    candidates = np.array(chosen, dtype=np.int32)
    dense = dense_index(candidates, schema)
    n = table.codes.shape[1]
    lo = data.draw(st.integers(0, n))
    hi = data.draw(st.integers(lo, n))
    per_record = reference_per_record(table, set(chosen), k)
    index = {c: i for i, c in enumerate(chosen)}
    offsets = schema.offsets

    def reference_counts(rows) -> list[int]:
        expected = [0] * len(chosen)
        for r in rows:
            ids = [int(offsets[c] + code - 1) for c, code in enumerate(table.codes[:, r]) if code]
            for combo in itertools.combinations(ids, k):
                if combo in index:
                    expected[index[combo]] += 1
        return expected

    threads = data.draw(st.integers(1, 3))
    got, counts = dense_candidate_counts(table.codes, dense, lo, hi, len(chosen), threads)
    assert got.tolist() == per_record[lo:hi]
    assert counts.tolist() == reference_counts(range(lo, hi))
    rows = np.array(sorted(data.draw(st.sets(st.integers(0, max(n - 1, 0))))) if n else [], dtype=np.int64)
    assert dense_counts_of_rows(table.codes, dense, rows, len(chosen)).tolist() == reference_counts(rows)


def test_a_dense_index_above_its_limit_is_not_built():
    table = skewed_table()
    candidates = np.array([[0, 3, 6]], dtype=np.int32)
    assert dense_index(candidates, table.schema, limit=4**3 - 1) is None
    assert dense_index(candidates, table.schema, limit=4**3) is not None


def test_chunk_rows_is_checked():
    with pytest.raises(ParameterError, match="chunk_rows"):
        ChunkedRecords(skewed_table(), chunk_rows=0)


# --- streamed inputs, end to end ----------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(1, 400),
    seed=st.integers(0, 2**31),
    cuts=st.lists(st.integers(0, 400), max_size=6),
    batch=st.integers(1, 50),
    chunk=st.integers(1, 120),
    dense=st.booleans(),
)
def test_streamed_dp_in_chunks_equals_the_whole_records_release(tmp_path_factory, n, seed, cuts, batch, chunk,
                                                                dense):  # fmt: skip
    """Random partitionings (parts with no rows, values absent from parts), read in small chunks.

    The reference is the in-memory job with every record's attribute list
    built at once (:class:`WholeRecords`, the release before chunking). Half
    the records hold every column and the bound is a low percentile, so many
    records are trimmed and the partitions' words cross chunk boundaries.
    """
    rng = np.random.default_rng(seed)
    rows = rng.choice(["a", "b", "c", "d", "é"], size=(n, 4)).tolist()
    for r in range(0, n, 2):
        for j in rng.choice(4, 2, replace=False):
            rows[r][j] = ""
    tmp = tmp_path_factory.mktemp("parts")
    write_parts(tmp / "parts", rows, [min(c, n) for c in cuts], "parquet")
    dp = DifferentialPrivacy(epsilon=8.0, delta=1e-6, percentile=30.0, ledger=tmp / "ledger.sqlite")
    original = marginals_module.ChunkedRecords

    class Small(original):
        def __init__(self, table, chunk_rows=chunk, dense=dense):
            super().__init__(table, chunk, dense)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(marginals_module, "ChunkedRecords", Small)
        streamed = aggregate(
            tmp / "parts", length=3, protection=dp, seed=5, resources=Resources(batch_rows=batch)
        )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            marginals_module, "ChunkedRecords", lambda table, *_: marginals_module.WholeRecords(table, None)
        )
        whole = aggregate(
            whole_file(tmp, rows, "parquet"),
            length=3,
            protection=dp,
            seed=5,
            resources=Resources(stream=False),
        )
    same(whole.released, streamed.released)
    assert whole.privacy["sensitivity_bounds"] == streamed.privacy["sensitivity_bounds"]


def test_the_guard_counts_one_chunk_of_attribute_lists_under_dp():
    """100M × 20 under DP: 4 bytes a record and one chunk's lists, not every record's (subjects: all)."""
    cards, n = [5] * 20, 100_000_000
    chunked = estimate(cards, n, 3, dp=True, resident=n * 20)
    whole = estimate(cards, n, 3, dp=True, resident=n * 20, dp_chunk_rows=None)
    # A chunked release also holds its dense pass (the whole-records one enumerates lists instead).
    dense = dense_pass_bytes(cards, 3)
    assert dense > 0
    assert whole.bytes - chunked.bytes == DP_BYTES_PER_ATTRIBUTE * 20 * (n - DP_CHUNK_ROWS) - dense
    counts_only = estimate(cards, n, 3, dp=True, resident=n * 20, dp_chunk_rows=0)
    assert chunked.bytes - counts_only.bytes == DP_BYTES_PER_ATTRIBUTE * 20 * DP_CHUNK_ROWS
    assert (
        counts_only.bytes - estimate(cards, n, 3, dp=False, resident=n * 20).bytes >= DP_BYTES_PER_RECORD * n
    )
    assert chunked.bytes < 3 << 30  # under the default limit (half of a 24 GiB machine)
