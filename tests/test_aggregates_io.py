"""Parquet and SDS TSV round trips, and what a release file may contain."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from showcase.engine import count_combinations, encode, k_anonymize, read_parquet, read_tsv
from showcase.engine.aggregates_io import to_arrow, write_parquet, write_tsv
from showcase.engine.labels import escape_column, parse_label

from .conftest import as_dict

AWKWARD = st.text(alphabet="ab;:\\\t\n\r\"' é", min_size=1, max_size=4)


@given(name=st.text(alphabet='ab;:\\\t"é', min_size=1, max_size=4), value=AWKWARD)
def test_labels_round_trip(name, value):
    from showcase.engine.labels import escape_values

    label = escape_column(name) + ":" + escape_values(pa.array([value])).to_pylist()[0]
    assert parse_label(label) == (name, value)


@given(
    columns=st.lists(
        st.text(alphabet="ab;:\\ é", min_size=1, max_size=3), min_size=1, max_size=4, unique=True
    ),
    data=st.data(),
    length=st.integers(1, 3),
    k=st.integers(1, 3),
)
def test_parquet_and_tsv_round_trip(tmp_path_factory, columns, data, length, k):
    n_rows = data.draw(st.integers(1, 25))
    values = st.sampled_from(["", "x", "y;z", "a:b", "t\tab", "back\\slash", "é"])
    table = pa.table({c: data.draw(st.lists(values, min_size=n_rows, max_size=n_rows)) for c in columns})
    released = k_anonymize(count_combinations(encode(table), length), k)
    folder = tmp_path_factory.mktemp("rt")
    write_parquet(released, folder / "a.parquet")
    write_tsv(released, folder / "a.tsv")
    from_parquet = read_parquet(folder / "a.parquet")
    from_tsv = read_tsv(folder / "a.tsv", reporting_length=length, columns=list(columns))
    assert as_dict(from_parquet) == as_dict(released)
    assert as_dict(from_tsv) == as_dict(released)
    assert from_parquet.record_count == from_tsv.record_count == released.record_count
    assert to_arrow(from_tsv).equals(to_arrow(from_parquet))


def test_tsv_column_order_is_inferred_without_metadata(tmp_path):
    text = "selections\tprotected_count\nrecord_count\t9\nB:1\t5\nA:x;B:1\t3\nA:x\t4\n"
    (tmp_path / "sds.tsv").write_text(text)
    read = read_tsv(tmp_path / "sds.tsv")
    assert read.schema.columns == ("A", "B")
    assert as_dict(read) == {(("B", "1"),): 5, (("A", "x"), ("B", "1")): 3, (("A", "x"),): 4}
    assert read.reporting_length == 2


def test_suppressed_values_never_reach_the_files(tmp_path):
    rows = ["common"] * 20 + ["RAREVALUE"]
    released = k_anonymize(count_combinations(encode(pa.table({"a": rows, "b": ["z"] * 21})), 2), 5)
    write_parquet(released, tmp_path / "a.parquet")
    write_tsv(released, tmp_path / "a.tsv")
    for name in ("a.parquet", "a.tsv"):
        assert b"RAREVALUE" not in (tmp_path / name).read_bytes()
    assert np.all(released.count >= 5)
