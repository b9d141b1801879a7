"""The resource guard: its bound holds, it refuses wide jobs in one line, and lets normal ones run."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from showcase.cli.main import main
from showcase.datasets.table import generate_table
from showcase.engine import Exact, KAnonymity, ParameterError, aggregate, count_combinations, encode
from showcase.engine.resources import (
    Resources,
    combination_bound,
    estimate,
    parse_memory_limit,
    parse_scheduler,
    physical_memory,
)


def naive_bound(cards: list[int], n_rows: int, length: int) -> int:
    """Sum over every column set of 1..length columns of min(product of values, rows)."""
    return sum(
        min(math.prod(s), n_rows)
        for k in range(1, min(length, len(cards)) + 1)
        for s in itertools.combinations(cards, k)
    )


@given(st.lists(st.integers(0, 40), min_size=1, max_size=9), st.integers(0, 10**6), st.integers(1, 5))
def test_bound_is_the_sum_over_column_sets(cards, n_rows, length):
    assert combination_bound(cards, n_rows, length) == naive_bound(cards, n_rows, length)


@given(st.lists(st.integers(1, 30), min_size=2, max_size=9), st.integers(1, 10**5), st.integers(1, 5))
def test_wide_bound_by_symmetric_polynomials_is_never_lower(cards, n_rows, length):
    import showcase.engine.resources as resources

    exact = naive_bound(cards, n_rows, length)
    saved = resources.ENUMERATE_SETS
    resources.ENUMERATE_SETS = 0  # force the per-length bound
    try:
        wide = combination_bound(cards, n_rows, length)
    finally:
        resources.ENUMERATE_SETS = saved
    assert wide >= exact
    assert wide <= sum(math.prod(s) for k in range(1, length + 1) for s in itertools.combinations(cards, k))


@given(
    st.integers(1, 5),
    st.lists(st.lists(st.sampled_from(["", "a", "b", "c", "d", "0"]), min_size=4, max_size=4), max_size=40),
)
def test_bound_holds_on_data(length, rows):
    rows = rows or [["a"] * 4]
    table = encode(pa.table({f"c{j}": [r[j] for r in rows] for j in range(4)}))
    counted = count_combinations(table, length)
    cards = [len(d) for d in table.schema.dictionaries]
    assert len(counted) <= combination_bound(cards, table.n_rows, length)
    assert estimate(cards, table.n_rows, length).bytes >= len(counted) * (4 * length + 9)


def wide_table(rows: int = 2000, columns: int = 40, values: int = 50) -> pa.Table:
    rng = np.random.default_rng(3)
    return pa.table({f"c{j}": rng.integers(0, values, rows).astype(str) for j in range(columns)})


def test_guard_refuses_a_wide_table_at_a_large_length_and_says_why(tmp_path):
    out = tmp_path / "release"
    with pytest.raises(ParameterError) as refused:
        aggregate(wide_table(), length=6, out=out, resources=Resources(memory_limit="1GiB"))
    message = str(refused.value)
    assert "\n" not in message
    assert "may make up to" in message and "combinations" in message and "1.0 GiB" in message
    assert "--length" in message and "--use-columns" in message and "--no-resource-guard" in message
    assert not out.exists()


def test_guard_off_lets_the_job_run():
    small = wide_table(rows=50, columns=6, values=40)
    with pytest.raises(ParameterError):
        aggregate(small, length=3, protection=Exact(), resources=Resources(memory_limit=10_000))
    result = aggregate(
        small, length=3, protection=Exact(), resources=Resources(memory_limit=10_000, guard=False)
    )
    assert result.exact.record_count == 50


def test_guard_passes_the_normal_inputs(nist_national):
    # Default limit (half the machine's memory): the test inputs and the real data pass.
    for source in (generate_table(5000, 20, seed=1), nist_national):
        result = aggregate(source, length=3, protection=KAnonymity(10), resources=Resources())
        assert len(result.released) > 0


def test_guard_under_dp_counts_zero_cells_too():
    # 8 columns of 50 values: candidates of length 3 include absent combinations, so the DP bound
    # is the product bound, far above the capped one.
    cards = [50] * 8
    assert estimate(cards, 100, 3, dp=True).combinations > 100 * estimate(cards, 100, 3).combinations


@pytest.mark.parametrize(
    ("text", "expected"),
    [("6GiB", 6 << 30), ("500MB", 500 * 10**6), ("1.5 gib", int(1.5 * (1 << 30))), (4096, 4096)],
)
def test_memory_limits(text, expected):
    assert parse_memory_limit(text) == expected


def test_memory_limit_share_of_memory():
    assert parse_memory_limit("50%") == int(physical_memory() * 0.5)
    assert parse_memory_limit(None) == int(physical_memory() * 0.5)


@pytest.mark.parametrize("text", ["0", "0%", "-1GiB", "lots", "6 parsecs", "120%", True])
def test_bad_memory_limits(text):
    with pytest.raises(ParameterError, match="--memory-limit"):
        parse_memory_limit(text)


def test_schedulers():
    assert parse_scheduler("local[2]") == ("local", 2)
    assert parse_scheduler("tcp://10.0.0.5:8786") == ("tcp", "tcp://10.0.0.5:8786")
    for bad in ("nonsense", "local[0]", "local[]", "tcp://host", "tcp://host:0", "http://h:1"):
        with pytest.raises(ParameterError, match="--scheduler"):
            parse_scheduler(bad)
    with pytest.raises(ParameterError, match="cannot load it whole"):
        Resources(scheduler="local[2]", stream=False)


@pytest.mark.parametrize(
    "flags",
    [["--scheduler", "nonsense"], ["--memory-limit", "0"], ["--memory-limit", "lots"]],
)
def test_cli_bad_options_one_line_exit_2_nothing_written(tmp_path, capsys, flags):
    data = tmp_path / "in.csv"
    data.write_text("a,b\nx,y\nx,z\n")
    out = tmp_path / "out"
    code = main(["aggregate", str(data), "-o", str(out), "--no-progress", *flags])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and flags[0] in err
    assert not out.exists()


def test_cli_guard_refuses_and_no_resource_guard_runs(tmp_path, capsys):
    data = tmp_path / "wide.csv"
    wide_table(rows=60, columns=6, values=30).to_pandas().to_csv(data, index=False)
    out = tmp_path / "out"
    assert main(["aggregate", str(data), "-o", str(out), "--no-progress", "--memory-limit", "20KB"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "may make up to" in err
    assert not out.exists()
    flags = ["--memory-limit", "20KB", "--no-resource-guard"]
    assert main(["aggregate", str(data), "-o", str(out), "--no-progress", *flags]) == 0
    assert (out / "aggregates.parquet").exists()


def test_run_guards_its_k_anonymous_counting_too(tmp_path, capsys):
    """showcase run counts before it synthesizes: the same guard, one line, nothing written; a DP run
    refuses the guard's options, and a run never streams."""
    from showcase.engine import DifferentialPrivacy, run

    data = tmp_path / "wide.csv"
    wide_table(rows=60, columns=6, values=30).to_pandas().to_csv(data, index=False)
    out = tmp_path / "out"
    assert main(["run", str(data), "-k", "2", "-o", str(out), "--no-progress", "--memory-limit", "20KB"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "may make up to" in err and "--no-resource-guard" in err
    assert not out.exists()
    flags = ["--memory-limit", "20KB", "--no-resource-guard", "--seed", "1"]
    assert main(["run", str(data), "-k", "2", "-o", str(out), "--no-progress", *flags]) == 0
    assert (out / "synthetic.csv").exists()
    dp = ["--dp", "--epsilon", "1", "--ledger", str(tmp_path / "ledger.sqlite")]
    assert (
        main(["run", str(data), *dp, "-o", str(tmp_path / "dp"), "--no-progress", "--memory-limit", "1GiB"])
        == 2
    )
    assert "apply to k-anonymous runs" in capsys.readouterr().err
    assert not (tmp_path / "dp").exists()
    with pytest.raises(ParameterError, match="a run holds the input whole: --mode aggregate_seeded"):
        run(data, resources=Resources(scheduler="local[2]"))
    with pytest.raises(ParameterError, match="apply to k-anonymous runs"):
        run(
            data,
            protection=DifferentialPrivacy(1.0, ledger=tmp_path / "l.sqlite"),
            resources=Resources(guard=False),
        )


@given(st.lists(st.integers(1, 12), min_size=1, max_size=6), st.integers(1, 3))
def test_dense_pass_bytes_count_the_index_a_dp_release_builds(cards, length):
    """The guard's dense-pass figure is the index the release builds for every column set of
    ``length`` (8 bytes an entry for index and flags), plus the threads' histograms."""
    from showcase.engine.dp.marginals import dense_index
    from showcase.engine.kernels.dp_marginals import DENSE_HITS_BYTES
    from showcase.engine.resources import DP_DENSE_HITS_BYTES, dense_pass_bytes

    assert DENSE_HITS_BYTES == DP_DENSE_HITS_BYTES
    table = encode(pa.table({f"c{i}": [f"v{j % c}" for j in range(max(cards))] for i, c in enumerate(cards)}))
    length = min(length, len(cards))
    schema = table.schema
    ids = [np.arange(schema.offsets[c], schema.offsets[c + 1]) for c in range(len(cards))]
    candidates = np.array(
        [sorted(p) for cols in itertools.combinations(range(len(cards)), length)
         for p in itertools.product(*(ids[c] for c in cols))], dtype=np.int32
    )  # fmt: skip
    entries = dense_index(candidates, schema).index.shape[0]
    assert dense_pass_bytes(cards, length, threads=3) == 8 * entries + min(DP_DENSE_HITS_BYTES, 12 * entries)
    # A chunked release (10 rows: one chunk) holds the dense pass on top of a whole one's figure.
    added = (
        estimate(cards, 10, length, dp=True).bytes
        - estimate(cards, 10, length, dp=True, dp_chunk_rows=None).bytes
    )
    assert added == dense_pass_bytes(cards, length)
