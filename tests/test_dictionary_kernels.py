"""The in-place dictionary-index kernels against Arrow's fill_null and NumPy, on sliced chunks with nulls."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from showcase.engine.encode import _chunk_indices, encode
from showcase.engine.kernels.dictionary import count_indices, remap_indices

cells = st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "", "0", "zz"])), min_size=0, max_size=80)


@settings(max_examples=150, deadline=None)
@given(cells, st.integers(0, 20), st.integers(0, 60))
def test_remap_and_count_read_slices_with_nulls(values, start, length):
    column = pa.chunked_array([pc.dictionary_encode(pa.array(values, pa.string())).slice(start, length)])
    chunk = column.chunk(0)
    reference = pc.fill_null(chunk.indices, len(chunk.dictionary)).to_numpy(zero_copy_only=False)
    remap = np.arange(10, 10 + len(chunk.dictionary) + 1, dtype=np.int32)
    (indices, validity, offset), *rest = list(_chunk_indices(column))
    assert rest == []
    out = np.zeros(len(chunk), dtype=np.int32)
    remap_indices(indices, validity, offset, remap, len(chunk.dictionary), out)
    assert out.tolist() == remap[reference].tolist()
    counts = np.zeros(len(chunk.dictionary) + 1, dtype=np.int64)
    count_indices(indices, validity, offset, len(chunk.dictionary), counts)
    assert counts.tolist() == np.bincount(reference, minlength=len(counts)).tolist()


@settings(max_examples=60, deadline=None)
@given(st.lists(cells, min_size=1, max_size=4))
def test_encoding_chunks_with_nulls_equals_encoding_plain_strings(chunks):
    """Dictionary chunks (each its own dictionary, nulls included) encode as the same strings do."""
    dictionary = pa.chunked_array([pc.dictionary_encode(pa.array(c, pa.string())) for c in chunks])
    plain = pa.chunked_array([pa.array(c, pa.string()) for c in chunks])
    ours, reference = encode(pa.table({"x": dictionary})), encode(pa.table({"x": plain.combine_chunks()}))
    assert ours.schema.dictionaries[0].to_pylist() == reference.schema.dictionaries[0].to_pylist()
    assert ours.codes.tolist() == reference.codes.tolist()
