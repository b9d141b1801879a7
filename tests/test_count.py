"""Exact counts against the brute-force reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from showcase.engine import combinations_per_record, count_combinations, encode, load
from showcase.engine import count as count_module
from showcase.engine.config import threads
from showcase.engine.prepare import Preparation

from . import naive
from .conftest import as_dict

WORKED = {
    (("A", "a1"),): 3, (("A", "a2"),): 2, (("B", "b1"),): 1, (("B", "b2"),): 3,
    (("C", "c1"),): 3, (("C", "c2"),): 1,
    (("A", "a1"), ("B", "b1")): 1, (("A", "a1"), ("B", "b2")): 2, (("A", "a1"), ("C", "c1")): 2,
    (("A", "a2"), ("B", "b2")): 1, (("A", "a2"), ("C", "c1")): 1, (("A", "a2"), ("C", "c2")): 1,
    (("B", "b1"), ("C", "c1")): 1, (("B", "b2"), ("C", "c1")): 2,
    (("A", "a1"), ("B", "b1"), ("C", "c1")): 1, (("A", "a1"), ("B", "b2"), ("C", "c1")): 1,
    (("A", "a2"), ("B", "b2"), ("C", "c1")): 1,
}  # fmt: skip


def test_worked_example(worked_example):
    aggregates = count_combinations(load(worked_example), 3)
    assert as_dict(aggregates) == WORKED
    assert aggregates.record_count == 5
    assert aggregates.by_length().tolist() == [6, 8, 3]


VALUES = st.sampled_from(["", "0", "1", "x", "y", "N", "zz"])


@st.composite
def tables(draw):
    n_cols = draw(st.integers(1, 5))
    n_rows = draw(st.integers(1, 40))
    columns = [f"c{i}" for i in range(n_cols)]
    rows = draw(st.lists(st.tuples(*[VALUES] * n_cols), min_size=n_rows, max_size=n_rows))
    return columns, rows


@given(
    table=tables(),
    length=st.integers(1, 4),
    null_n=st.booleans(),
    zeros=st.sampled_from(["none", "all", "first"]),
)
def test_counts_equal_reference(table, length, null_n, zeros):
    columns, rows = table
    markers = ("N",) if null_n else ()
    sensitive = {"none": (), "all": tuple(columns), "first": (columns[0],)}[zeros]
    arrow = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})
    encoded = encode(arrow, null_markers=markers, sensitive_zeros=list(sensitive))
    got = as_dict(count_combinations(encoded, length))
    expected = naive.count_combinations(
        rows, columns, length, null_markers=markers, sensitive_zeros=sensitive
    )
    assert got == dict(expected)


@pytest.fixture(params=["batch", "packed", "packed-small", "dense", "sparse", "rows"])
def counting_route(request, monkeypatch):
    """Force each counting route: batched sets, batched sets counted jointly in packs (large
    or tiny joint histograms, however few rows), one dense set, sorted keys, unique rows."""
    if request.param.startswith("packed"):
        monkeypatch.setattr(count_module, "PACK_SHARE", 1e9)
        monkeypatch.setattr(count_module, "PACK_BINS", 8 if request.param == "packed-small" else 1 << 14)
    if not request.param.startswith(("batch", "packed")):
        monkeypatch.setattr(count_module, "BATCH_MAX_SET_BINS", 0)
    if request.param in ("sparse", "rows"):
        monkeypatch.setattr(count_module, "DENSE_MAX_BINS", 0)
    if request.param == "rows":
        monkeypatch.setattr(count_module, "INT64_KEY_LIMIT", 0)
    return request.param


@given(table=tables(), length=st.integers(1, 4))
def test_every_route_counts_the_same(counting_route, table, length):
    columns, rows = table
    arrow = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})
    got = as_dict(count_combinations(encode(arrow), length))
    assert got == dict(naive.count_combinations(rows, columns, length))


def test_small_batches_count_the_same(monkeypatch):
    """Batches split at their size limit still give every combination once, in order."""
    arrow = pa.table({f"c{i}": [str(v % (i + 2)) for v in range(60)] for i in range(5)})
    whole = count_combinations(encode(arrow), 3)
    monkeypatch.setattr(count_module, "BATCH_BINS", 8)
    split = count_combinations(encode(arrow), 3)
    assert np.array_equal(whole.attrs, split.attrs) and np.array_equal(whole.count, split.count)


def test_counts_do_not_depend_on_thread_count():
    rng = np.random.default_rng(7)
    arrow = pa.table({f"c{i}": rng.integers(0, 6, 200_000).astype(str) for i in range(5)})
    encoded = encode(arrow)
    with threads(1):
        one = count_combinations(encoded, 3)
    with threads(2):
        many = count_combinations(encoded, 3)
    assert np.array_equal(one.attrs, many.attrs)
    assert np.array_equal(one.count, many.count)


def test_length_longer_than_columns_stops_at_column_count():
    arrow = pa.table({"a": ["1", "2"], "b": ["x", "x"]})
    aggregates = count_combinations(encode(arrow), 4)
    assert aggregates.by_length().tolist() == [3, 2, 0, 0]


@given(table=tables(), length=st.integers(1, 4))
def test_combinations_per_record(table, length):
    columns, rows = table
    arrow = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})
    got = combinations_per_record(encode(arrow), length)
    expected = [
        sum(1 for _ in __import__("itertools").combinations(attrs, length))
        for attrs in naive.attributes(rows, columns)
    ]
    assert got.tolist() == expected


def test_nist_pairs_equal_pandas_groupby(nist_national):
    aggregates = count_combinations(load(nist_national, Preparation(null_markers=("N",))), 2)
    got = as_dict(aggregates)
    frame = pd.read_csv(nist_national, dtype=str, keep_default_na=False)
    frame = frame.replace({"N": None, "": None, "0": None})
    expected = {}
    for i, a in enumerate(frame.columns):
        for value, n in frame[a].value_counts().items():
            expected[((a, value),)] = int(n)
        for b in frame.columns[i + 1 :]:
            for (va, vb), n in frame.groupby([a, b]).size().items():
                expected[((a, va), (b, vb))] = int(n)
    assert got == expected
    assert aggregates.record_count == len(frame)
