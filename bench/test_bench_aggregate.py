"""pytest-benchmark cases for the aggregate path (not part of the test run).

python -m pytest bench/test_bench_aggregate.py --benchmark-only
"""

from __future__ import annotations

import pytest
from harness import generated_input

from showcase.engine import count_combinations, k_anonymize, load
from showcase.engine.aggregates_io import write_parquet, write_tsv


@pytest.fixture(scope="module", params=[100_000, 1_000_000], ids=lambda n: f"{n:,}rows")
def source(request):
    return generated_input(request.param, 20)


@pytest.fixture(scope="module")
def encoded(source):
    return load(source)


def test_read_and_encode(benchmark, source):
    table = benchmark.pedantic(load, args=(source,), rounds=3, iterations=1)
    assert table.n_columns == 20


@pytest.mark.parametrize("length", [3, 4])
def test_count(benchmark, encoded, length):
    count_combinations(encoded, length)  # compile outside the timing
    result = benchmark.pedantic(count_combinations, args=(encoded, length), rounds=3, iterations=1)
    assert result.record_count == encoded.n_rows


def test_protect_and_write(benchmark, encoded, tmp_path):
    released = k_anonymize(count_combinations(encoded, 3), 10)

    def write():
        write_parquet(released, tmp_path / "a.parquet")
        write_tsv(released, tmp_path / "a.tsv")

    benchmark.pedantic(write, rounds=3, iterations=1)
    assert (tmp_path / "a.tsv").stat().st_size > 0
