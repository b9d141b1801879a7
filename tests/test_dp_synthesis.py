"""Synthesis from released aggregates that completes every record: tree and pairwise."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pytest

from showcase.datasets import generate_table
from showcase.engine import ParameterError, count_combinations, encode, k_anonymize
from showcase.engine.config import threads
from showcase.engine.dp.marginals import dp_aggregate
from showcase.engine.dp.noise import RandomSource
from showcase.engine.encode import decode as decode_table
from showcase.engine.evaluate import k_marginal_score
from showcase.engine.randomness import make_rng
from showcase.engine.synthesize.pairwise import pairwise
from showcase.engine.synthesize.tree import mutual_information, spanning_tree, tree

from .helpers import run

SYNTHESIZERS = {"tree": tree, "pairwise": pairwise}


@pytest.fixture(scope="module")
def cases():
    table = generate_table(6000, 8, seed=8)
    return encode(table.cast(pa.schema([(n, pa.string()) for n in table.column_names])))


def released_values(aggregates) -> set[tuple[str, str]]:
    """(column, value) of every attribute some released combination uses."""
    values = aggregates.schema.attribute_values().to_pylist()
    columns = [aggregates.schema.columns[c] for c in aggregates.schema.attribute_columns]
    used = np.unique(aggregates.attrs[aggregates.attrs >= 0])
    return {(columns[a], values[a]) for a in used}


def onto(synthetic, schema):
    return encode(decode_table(synthetic), sensitive_zeros="all", schema=schema)


@pytest.mark.parametrize("mode", SYNTHESIZERS)
def test_records_are_complete_reproducible_and_thread_independent(cases, mode):
    synthesize = SYNTHESIZERS[mode]
    released, _ = dp_aggregate(cases, epsilon=4, length=2, source=RandomSource(1))
    with threads(1):
        one = synthesize(released, rng=make_rng(7))
    with threads(2):
        two = synthesize(released, rng=make_rng(7))
    assert np.array_equal(one.codes, two.codes)
    assert not np.array_equal(one.codes, synthesize(released, rng=make_rng(8)).codes)
    assert one.n_rows == released.record_count
    # Columns never missing in the input are (almost) never missing in the synthesis.
    full = [c for c in range(cases.n_columns) if (cases.codes[c] != 0).all()]
    assert np.mean(np.all(onto(one, cases.schema).codes[full] != 0, axis=0)) > 0.95


@pytest.mark.parametrize("mode", SYNTHESIZERS)
@pytest.mark.parametrize("protect", ["dp", "k-anonymity"])
def test_only_released_values_appear(cases, mode, protect):
    """Values the release suppressed (unselected under DP, rarer than k) never reach a record."""
    small = type(cases)(cases.schema, np.ascontiguousarray(cases.codes[:, :1500]))
    if protect == "dp":
        released, _ = dp_aggregate(small, epsilon=0.3, length=2, source=RandomSource(2))
    else:
        released = k_anonymize(count_combinations(small, 2), 25)
    allowed = released_values(released)
    everything = {(small.schema.columns[c], v) for c, d in enumerate(small.schema.dictionaries)
                  for v in d.to_pylist()}  # fmt: skip
    assert allowed < everything  # the test means something: some values were suppressed
    synthetic = decode_table(SYNTHESIZERS[mode](released, rng=make_rng(3)))
    seen = {(name, v) for name in synthetic.column_names for v in synthetic.column(name).to_pylist()
            if v is not None}  # fmt: skip
    assert seen <= allowed


@pytest.mark.parametrize("mode", SYNTHESIZERS)
def test_keeps_pairwise_structure_beyond_independent_columns(cases, mode):
    exact = k_anonymize(count_combinations(cases, 2), 1)
    synthetic = onto(SYNTHESIZERS[mode](exact, rng=make_rng(1)), cases.schema)
    rng = np.random.default_rng(0)
    independent = type(cases)(cases.schema, np.stack([rng.permutation(c) for c in cases.codes]))
    ours = k_marginal_score(cases, synthetic)["score"]
    assert ours > k_marginal_score(cases, independent)["score"] + 10


def chain_table(n: int, seed: int) -> pa.Table:
    """Columns a -> b -> c -> d, each a noisy copy of the previous; e independent."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, n)
    b = np.where(rng.random(n) < 0.8, a, rng.integers(0, 4, n))
    c = np.where(rng.random(n) < 0.7, b, rng.integers(0, 4, n))
    d = np.where(rng.random(n) < 0.9, c, rng.integers(0, 4, n))
    e = rng.integers(0, 3, n)
    return pa.table({k: pa.array([f"v{x}" for x in v]) for k, v in zip("abcde", (a, b, c, d, e))})


def test_tree_recovers_a_chain_and_its_pair_distributions():
    data = encode(chain_table(20_000, 4), sensitive_zeros="all")
    exact = k_anonymize(count_combinations(data, 2), 1)
    synthetic = tree(exact, rng=make_rng(5))
    assert synthetic.schema.columns == data.schema.columns
    codes = onto(synthetic, data.schema).codes
    for x, y in itertools.combinations(range(4), 2):
        # Chain pairs and pairs implied through the chain: joint frequencies within 0.015.
        real = np.histogram2d(data.codes[x], data.codes[y], bins=[np.arange(6)] * 2)[0] / data.n_rows
        fake = np.histogram2d(codes[x], codes[y], bins=[np.arange(6)] * 2)[0] / synthetic.n_rows
        assert np.abs(real - fake).max() < 0.015, (x, y)
    # e is independent of everything, in the data and in the synthesis.
    independent = np.histogram2d(codes[0], codes[4], bins=[np.arange(6)] * 2)[0] / synthetic.n_rows
    expected = np.outer(independent.sum(1), independent.sum(0))
    assert np.abs(independent - expected).max() < 0.01


def test_spanning_tree_is_maximal():
    """Prim's tree weighs as much as the best of all trees (Kruskal, by brute force over edge sets)."""
    rng = np.random.default_rng(11)
    for n in (2, 3, 5, 6):
        weights = rng.random((n, n))
        weights = (weights + weights.T) / 2
        order, parent = spanning_tree(weights)
        assert sorted(order.tolist()) == list(range(n)) and parent[order[0]] == -1
        assert all(np.flatnonzero(order == parent[c])[0] < np.flatnonzero(order == c)[0] for c in order[1:])
        ours = sum(weights[c, parent[c]] for c in range(n) if parent[c] >= 0)
        best = 0.0
        edges = list(itertools.combinations(range(n), 2))
        for chosen in itertools.combinations(edges, n - 1):
            root = list(range(n))

            def find(x, root=root):
                while root[x] != x:
                    x = root[x]
                return x

            acyclic = True
            for u, v in chosen:
                ru, rv = find(u), find(v)
                if ru == rv:
                    acyclic = False
                    break
                root[ru] = rv
            if acyclic:
                best = max(best, sum(weights[u, v] for u, v in chosen))
        assert ours == pytest.approx(best)


def test_mutual_information_against_its_definition():
    table = np.array([[30.0, 10.0, 5.0], [2.0, 40.0, 13.0]])
    p = table / table.sum()
    expected = sum(
        p[i, j] * np.log(p[i, j] / (p[i].sum() * p[:, j].sum())) for i in range(2) for j in range(3)
    )
    assert mutual_information(table) == pytest.approx(expected)
    assert mutual_information(np.outer([1.0, 2.0], [3.0, 4.0, 5.0])) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("mode", SYNTHESIZERS)
def test_needs_pairs(mode):
    released = k_anonymize(count_combinations(encode(pa.table({"a": ["x", "y"], "b": ["u", "v"]})), 1), 1)
    with pytest.raises(ParameterError, match="length 2"):
        SYNTHESIZERS[mode](released, rng=make_rng(1))


def test_run_dp_and_synthesize_from_dp_aggregates(tmp_path, monkeypatch, capsys):
    import json

    from showcase.datasets import write_table

    monkeypatch.setenv("SHOWCASE_LEDGER", str(tmp_path / "ledger.sqlite"))
    data = tmp_path / "cases.csv"
    write_table(generate_table(3000, 6, seed=2), data)
    out = tmp_path / "dp"
    code, _, stderr = run(capsys, "run", data, "--dp", "--epsilon", 4, "-l", 2, "-o", out, "--seed", 1,
                          "--no-progress")  # fmt: skip
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "aggregates.parquet", "aggregates.tsv", "metadata.json", "synthetic.csv",
        "synthetic.parquet"]  # fmt: skip
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["synthesis"]["mode"] == "fitted"  # run --dp: aim, then fitted synthesis
    assert meta["privacy"]["mechanism"] == "differential-privacy"
    from_release = ["synthesize", "--from-aggregates", out, "--seed", 1, "--no-progress"]
    again = tmp_path / "again"
    assert run(capsys, *from_release, "-o", again)[0] == 0
    # The release keeps what aim measured, so it is fitted again from the files alone.
    assert json.loads((again / "metadata.json").read_text())["parameters"]["mode"] == "fitted"
    twice = tmp_path / "twice"
    assert run(capsys, *from_release, "-o", twice)[0] == 0
    assert (again / "synthetic.csv").read_bytes() == (twice / "synthetic.csv").read_bytes()
    tree = tmp_path / "tree"
    assert run(capsys, *from_release, "--mode", "tree", "-o", tree)[0] == 0
    assert json.loads((tree / "metadata.json").read_text())["parameters"]["mode"] == "tree"
    code, _, stderr = run(capsys, "run", data, "--epsilon", 4, "-o", tmp_path / "x", "--no-progress")
    assert code == 2 and "--epsilon: DP options, used with --dp only" in stderr


def test_tree_of_one_column_draws_its_released_values():
    """One column has no pair: the tree is its 1-way counts (it read a second attribute that a
    one-column release does not have, an IndexError)."""
    data = encode(pa.table({"a": ["x"] * 60 + ["y"] * 30 + ["z"] * 2}))
    released = k_anonymize(count_combinations(data, 1), 5)
    synthetic = tree(released, rng=make_rng(3))
    values = decode_table(synthetic).column("a").to_pylist()
    assert len(values) == released.record_count == 90
    assert set(values) == {"x", "y"} and 45 < values.count("x") < 75
