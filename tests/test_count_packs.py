"""The batched kernel's packs (sets counted jointly, then summed out) against the reference."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from showcase.engine import count as count_module
from showcase.engine import count_combinations, encode

from . import naive
from .conftest import as_dict
from .test_count import tables


@pytest.fixture(params=[1 << 14, 8])
def always_pack(request, monkeypatch):
    """Pack whenever the joint histogram fits, however few rows the table has."""
    monkeypatch.setattr(count_module, "PACK_SHARE", 1e9)
    monkeypatch.setattr(count_module, "PACK_BINS", request.param)


@given(table=tables(), length=st.integers(1, 4))
def test_packed_counts_equal_reference(always_pack, table, length):
    columns, rows = table
    arrow = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})
    got = as_dict(count_combinations(encode(arrow), length))
    assert got == dict(naive.count_combinations(rows, columns, length))


def test_packs_do_not_change_output_or_order(monkeypatch):
    rng = np.random.default_rng(3)
    arrow = pa.table({f"c{i}": rng.integers(0, 2 + i % 4, 30_000).astype(str) for i in range(9)})
    encoded = encode(arrow)
    monkeypatch.setattr(count_module, "PACK_BINS", 1)  # every unit a single set
    single = count_combinations(encoded, 3)
    monkeypatch.setattr(count_module, "PACK_BINS", 1 << 14)
    monkeypatch.setattr(count_module, "PACK_SHARE", 1e9)
    packed = count_combinations(encoded, 3)
    units, largest = count_module._units(
        np.array([[0, 1, c] for c in range(2, 9)]), np.full((7, 3), 4, dtype=np.int64), 30_000
    )
    assert len(units) - 1 < 7 and largest > 1  # packs did form
    assert np.array_equal(single.attrs, packed.attrs)
    assert np.array_equal(single.count, packed.count)
    assert np.array_equal(single.length, packed.length)
