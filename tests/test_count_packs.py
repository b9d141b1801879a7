"""The batched kernel's packs (sets counted jointly, then summed out) change nothing.

Their counts against the reference are checked by the ``packed`` routes of test_count.py.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from showcase.engine import count as count_module
from showcase.engine import count_combinations, encode


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
