"""Contingency tables rebuilt from exact counts equal those counted on the records."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from showcase.cli.main import main
from showcase.datasets.table import generate_table
from showcase.engine import count_combinations, encode
from showcase.engine.contingency import CountIndex, column_counts, marginal_from_counts
from showcase.engine.count import marginal_counts


@st.composite
def tables(draw):
    n_cols = draw(st.integers(1, 5))
    n_rows = draw(st.integers(1, 60))
    columns = {}
    for c in range(n_cols):
        values = draw(st.lists(st.sampled_from(["", "a", "b", "c", "d"]), min_size=n_rows, max_size=n_rows))
        columns[f"C{c}"] = values
    return pa.table(columns)


@settings(max_examples=60, deadline=None)
@given(raw=tables(), data=st.data())
def test_marginals_from_counts_equal_marginals_of_the_records(raw, data):
    table = encode(raw)
    n_cols = table.n_columns
    length = min(3, n_cols)
    index = CountIndex(count_combinations(table, length))
    m = data.draw(st.integers(1, length))
    cols = tuple(data.draw(st.permutations(range(n_cols)))[:m])  # any order: keys follow it
    keys, counts = marginal_from_counts(index, cols)
    want_keys, want_counts = marginal_counts(table, cols)
    np.testing.assert_array_equal(keys, want_keys)
    np.testing.assert_array_equal(counts, want_counts)
    c = cols[0]
    radix = len(table.schema.dictionaries[c]) + 1
    np.testing.assert_array_equal(column_counts(index, c), np.bincount(table.codes[c], minlength=radix))


def _evaluation(path):
    document = json.loads(path.read_text())
    for key in ("seconds", "sensitive", "created", "software", "job"):
        document.pop(key, None)
    return document


def test_evaluating_a_streamed_input_equals_evaluating_it_whole(tmp_path, capsys):
    table = generate_table(3000, 6, seed=4)
    whole = tmp_path / "whole.parquet"
    pq.write_table(table, whole)
    parts = tmp_path / "parts"
    parts.mkdir()
    pq.write_table(table.slice(0, 1000), parts / "a.parquet")
    pq.write_table(table.slice(1000), parts / "b.parquet", row_group_size=700)
    release = tmp_path / "release"
    argv = ["synthesize", str(whole), "-k", "5", "--seed", "1", "-o", str(release), "--no-progress"]
    assert main(argv) == 0
    for name, source in (("whole", whole), ("parts", parts)):
        argv = ["evaluate", str(source), str(release / "synthetic.parquet"), "-l", "2", "-k", "5",
                "-o", str(tmp_path / f"eval-{name}"), "--no-progress"]  # fmt: skip
        assert main(argv) == 0, capsys.readouterr().err
    whole_doc = _evaluation(tmp_path / "eval-whole" / "evaluation.json")
    assert "k_marginal" in whole_doc
    assert _evaluation(tmp_path / "eval-parts" / "evaluation.json") == whole_doc
