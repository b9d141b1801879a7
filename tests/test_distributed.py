"""Counting on a Dask LocalCluster of 2 worker processes gives the single-process counts exactly."""

from __future__ import annotations

import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

from showcase.cli.main import main
from showcase.datasets.table import generate_table
from showcase.engine import DifferentialPrivacy, Exact, ParameterError, aggregate
from showcase.engine.resources import Resources


def test_local_cluster_of_two_workers_equals_one_process(tmp_path, capsys):
    table = generate_table(6000, 8, seed=5)
    parts = tmp_path / "parts"
    parts.mkdir()
    # Three files, one with several row groups (split between workers), one with no rows.
    pq.write_table(table.slice(0, 4000), parts / "a.parquet", row_group_size=1000)
    pq.write_table(table.slice(4000, 2000), parts / "b.parquet")
    pq.write_table(table.slice(0, 0), parts / "c.parquet")
    whole = tmp_path / "whole.parquet"
    pq.write_table(table, whole)
    alone = aggregate(whole, length=3, protection=Exact(), resources=Resources(stream=False))
    out = tmp_path / "release"
    flags = ["--length", "3", "--resolution", "5", "--scheduler", "local[2]", "--no-progress"]
    assert main(["aggregate", str(parts), "-o", str(out), *flags]) == 0
    capsys.readouterr()
    from showcase.engine import k_anonymize, read_parquet

    released = read_parquet(out / "aggregates.parquet")
    expected = k_anonymize(alone.exact, 5)
    assert released.record_count == expected.record_count == 6000
    assert len(released) == len(expected)
    np.testing.assert_array_equal(np.sort(released.count), np.sort(expected.count))


def test_dp_is_not_counted_on_a_cluster(tmp_path):
    parts = tmp_path / "parts"
    parts.mkdir()
    pq.write_table(generate_table(100, 4, seed=1), parts / "a.parquet")
    dp = DifferentialPrivacy(epsilon=1.0, ledger=tmp_path / "ledger.sqlite")
    with pytest.raises(ParameterError, match="DP bounds each record"):
        aggregate(parts, protection=dp, resources=Resources(scheduler="local[2]"))


def test_missing_dask_is_one_line(tmp_path, monkeypatch):
    parts = tmp_path / "parts"
    parts.mkdir()
    pq.write_table(generate_table(100, 4, seed=1), parts / "a.parquet")
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as when not installed
    with pytest.raises(ParameterError, match=r"pip install 'showcase\[distributed\]'"):
        aggregate(parts, resources=Resources(scheduler="local[2]"))
