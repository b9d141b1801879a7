"""The fake-data generator: deterministic, dependent columns, rare combinations."""

from __future__ import annotations

import pyarrow as pa

from showcase.datasets import generate_table, write_table
from showcase.engine import count_combinations, encode, read_table


def test_same_seed_same_table_other_seed_other_table():
    assert generate_table(500, 8, seed=3).equals(generate_table(500, 8, seed=3))
    assert not generate_table(500, 8, seed=3).equals(generate_table(500, 8, seed=4))


def test_shape_names_and_cycling():
    table = generate_table(50, 25, seed=1)
    assert table.num_rows == 50 and table.num_columns == 25
    assert len(set(table.column_names)) == 25
    assert "sex_2" in table.column_names


def test_has_dependence_missing_values_and_rare_combinations():
    table = generate_table(20_000, 20, seed=0)
    assert table.column("industry").null_count > 0
    exact = count_combinations(
        encode(table.cast(pa.schema([(n, pa.string()) for n in table.column_names]))), 3
    )
    assert exact.rare_by_length(10)[2] > 0  # rare 3-combinations exist
    # Dependence: the joint of two columns differs from the product of marginals.
    frame = table.select(["sex", "exploitation_type"]).to_pandas().astype(str)
    joint = frame.value_counts(normalize=True)
    ps = frame["sex"].value_counts(normalize=True)
    pe = frame["exploitation_type"].value_counts(normalize=True)
    gap = max(abs(p - ps[s] * pe[e]) for (s, e), p in joint.items())
    assert gap > 0.01


def test_csv_and_parquet_files_read_back_identically(tmp_path):
    table = generate_table(300, 6, seed=2)
    write_table(table, tmp_path / "t.csv")
    write_table(table, tmp_path / "t.parquet")
    from_csv = encode(read_table(tmp_path / "t.csv"))
    from_parquet = encode(read_table(tmp_path / "t.parquet"))
    assert (from_csv.codes == from_parquet.codes).all()
    assert from_csv.schema.attribute_values().equals(from_parquet.schema.attribute_values())
