"""k-anonymity protection as properties."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from showcase.engine import ParameterError, count_combinations, encode, k_anonymize
from showcase.engine.guarantees import aggregates_guarantee

from .conftest import as_dict
from .test_count import tables


@given(table=tables(), length=st.integers(1, 3), k=st.integers(1, 6))
def test_k_anonymity_properties(table, length, k):
    columns, rows = table
    arrow = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})
    exact = count_combinations(encode(arrow), length)
    protected = k_anonymize(exact, k)
    exact_counts, released = as_dict(exact), as_dict(protected)
    # Exactly the combinations with count >= k are released, rounded down to a multiple of k.
    assert set(released) == {c for c, n in exact_counts.items() if n >= k}
    for combo, n in released.items():
        assert n == (exact_counts[combo] // k) * k
        assert n >= k and n % k == 0
    assert protected.record_count == (len(rows) // k) * k
    # The protected table holds no rare combination; the exact one's rare counts by
    # length (the headline risk statistic) match the reference.
    assert protected.rare_by_length(k).tolist() == [0] * length
    expected_rare = np.zeros(length, dtype=np.int64)
    for combo, n in exact_counts.items():
        if n < k:
            expected_rare[len(combo) - 1] += 1
    assert exact.rare_by_length(k).tolist() == expected_rare.tolist()


def test_invalid_resolution_and_double_protection():
    exact = count_combinations(encode(pa.table({"a": ["x"]})), 1)
    for bad in (0, -3, 1.5, True):
        with pytest.raises(ParameterError, match="resolution"):
            k_anonymize(exact, bad)
    with pytest.raises(ParameterError, match="already protected"):
        k_anonymize(k_anonymize(exact, 1), 1)


def test_the_guarantee_text_says_what_the_counts_are():
    exact = count_combinations(encode(pa.table({"a": ["x", "x", "y"], "b": ["u", "v", "v"]})), 2)
    assert aggregates_guarantee(exact).startswith("NONE: these are exact counts")
    text = aggregates_guarantee(k_anonymize(exact, 2))
    assert text.startswith("k-anonymity with k=2:") and "up to 2 attributes" in text and "NONE" not in text
    assert aggregates_guarantee(k_anonymize(exact, 1)).startswith("NONE in effect: k-anonymity with k=1")
