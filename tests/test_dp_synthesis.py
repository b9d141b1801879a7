"""Pairwise-conditional synthesis from released aggregates."""

from __future__ import annotations

import numba
import numpy as np
import pyarrow as pa
import pytest

from showcase.datasets import generate_table
from showcase.engine import ParameterError, count_combinations, encode, k_anonymize
from showcase.engine.dp.marginals import dp_aggregate
from showcase.engine.dp.noise import RandomSource
from showcase.engine.dp.synthesis import pairwise_synthesis
from showcase.engine.evaluate import k_marginal_score
from showcase.engine.randomness import make_rng


@pytest.fixture(scope="module")
def cases():
    table = generate_table(6000, 8, seed=8)
    return encode(table.cast(pa.schema([(n, pa.string()) for n in table.column_names])))


def test_records_are_complete_reproducible_and_thread_independent(cases):
    released, _ = dp_aggregate(cases, epsilon=4, length=2, source=RandomSource(1))
    numba.set_num_threads(1)
    one = pairwise_synthesis(released, rng=make_rng(7))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    two = pairwise_synthesis(released, rng=make_rng(7))
    assert np.array_equal(one.codes, two.codes)
    assert not np.array_equal(one.codes, pairwise_synthesis(released, rng=make_rng(8)).codes)
    assert one.n_rows == released.record_count
    assert one.schema is released.schema  # only released values can appear
    # Columns never missing in the input are (almost) never missing in the synthesis.
    full = [c for c in range(cases.n_columns) if (cases.codes[c] != 0).all()]
    assert np.mean(np.all(one.codes[full] != 0, axis=0)) > 0.95


def test_keeps_pairwise_structure_beyond_independent_columns(cases):
    exact = k_anonymize(count_combinations(cases, 2), 1)
    synthetic = pairwise_synthesis(exact, rng=make_rng(1))
    onto = encode(
        pa.table(
            {
                n: synthetic.schema.dictionaries[c].to_pylist()
                and [([None] + synthetic.schema.dictionaries[c].to_pylist())[v] for v in synthetic.codes[c]]
                for c, n in enumerate(synthetic.schema.columns)
            }
        ),
        sensitive_zeros="all",
        schema=cases.schema,
    )
    rng = np.random.default_rng(0)
    independent = type(cases)(cases.schema, np.stack([rng.permutation(c) for c in cases.codes]))
    ours = k_marginal_score(cases, onto)["score"]
    assert ours > k_marginal_score(cases, independent)["score"] + 10


def test_needs_pairs():
    released = k_anonymize(count_combinations(encode(pa.table({"a": ["x", "y"]})), 1), 1)
    with pytest.raises(ParameterError, match="length 2"):
        pairwise_synthesis(released, rng=make_rng(1))


def test_run_dp_and_synthesize_from_dp_aggregates(tmp_path, monkeypatch, capsys):
    import json

    from showcase.cli.main import main
    from showcase.datasets import write_table

    monkeypatch.setenv("SHOWCASE_LEDGER", str(tmp_path / "ledger.sqlite"))
    data = tmp_path / "cases.csv"
    write_table(generate_table(3000, 6, seed=2), data)
    out = tmp_path / "dp"
    assert (
        main(
            [
                "run",
                str(data),
                "--dp",
                "--epsilon",
                "4",
                "-l",
                "2",
                "-o",
                str(out),
                "--seed",
                "1",
                "--no-progress",
            ]
        )
        == 0
    ), capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [
        "aggregates.parquet", "aggregates.tsv", "metadata.json", "synthetic.csv",
        "synthetic.parquet"]  # fmt: skip
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["synthesis"]["mode"] == "pairwise"
    assert meta["privacy"]["mechanism"] == "differential-privacy"
    again = tmp_path / "again"
    assert (
        main(["synthesize", "--from-aggregates", str(out), "-o", str(again), "--seed", "1", "--no-progress"])
        == 0
    )
    assert json.loads((again / "metadata.json").read_text())["parameters"]["mode"] == "pairwise"
    twice = tmp_path / "twice"
    assert (
        main(["synthesize", "--from-aggregates", str(out), "-o", str(twice), "--seed", "1", "--no-progress"])
        == 0
    )
    assert (again / "synthetic.csv").read_bytes() == (twice / "synthetic.csv").read_bytes()
    code = main(["run", str(data), "--epsilon", "4", "-o", str(tmp_path / "x"), "--no-progress"])
    assert code == 2 and "--dp and --epsilon" in capsys.readouterr().err
