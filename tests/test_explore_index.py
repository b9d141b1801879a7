"""The explorer's selection engine: kernels against slow references, indexes against pandas."""

from __future__ import annotations

import json
import os
import random

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from showcase.engine.encode import encode
from showcase.engine.errors import ParameterError
from showcase.engine.explore.index import AggregatesIndex, RecordsIndex, noise_interval, open_release
from showcase.engine.kernels import selection as kernels

# --- slow references ------------------------------------------------------------------------


def naive_bitsets(codes: np.ndarray, offsets: np.ndarray, n_attributes: int) -> np.ndarray:
    n = codes.shape[1]
    bits = [[0] * ((n + 63) // 64) for _ in range(n_attributes)]
    for c in range(codes.shape[0]):
        for r in range(n):
            v = int(codes[c, r])
            if v:
                bits[int(offsets[c]) + v - 1][r // 64] |= 1 << (r % 64)
    return np.array(bits, dtype=np.uint64).reshape(n_attributes, (n + 63) // 64)


def naive_popcount(x: int) -> int:
    return bin(int(x)).count("1")


def words(draw_rows: int, rng: np.random.Generator, k: int) -> np.ndarray:
    return rng.integers(0, 2**64, size=(k, (draw_rows + 63) // 64), dtype=np.uint64, endpoint=False)


# --- kernels --------------------------------------------------------------------------------


@seed(11)
@settings(max_examples=40)
@given(
    n=st.integers(0, 300),
    sizes=st.lists(st.integers(0, 5), min_size=1, max_size=4),
    salt=st.integers(0, 2**31),
)
def test_bitsets_equal_a_slow_reference(n, sizes, salt):
    rng = np.random.default_rng(salt)
    codes = np.stack([rng.integers(0, s + 1, size=n) for s in sizes]).astype(np.uint8)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    bits = kernels.build_bitsets(codes, offsets, int(offsets[-1]))
    assert bits.dtype == np.uint64 and bits.shape == (int(offsets[-1]), (n + 63) // 64)
    assert np.array_equal(bits, naive_bitsets(codes, offsets, int(offsets[-1])))


def test_bitsets_span_several_parallel_blocks():
    rng = np.random.default_rng(4)
    n = kernels.BLOCK * 64 * 2 + 77
    codes = rng.integers(0, 4, size=(2, n)).astype(np.uint8)
    offsets = np.array([0, 3, 6], dtype=np.int64)
    bits = kernels.build_bitsets(codes, offsets, 6)
    for c in range(2):
        for v in range(1, 4):
            rows = np.flatnonzero(codes[c] == v)
            want = np.zeros(bits.shape[1], dtype=np.uint64)
            np.bitwise_or.at(want, rows // 64, np.left_shift(np.uint64(1), (rows % 64).astype(np.uint64)))
            assert np.array_equal(bits[offsets[c] + v - 1], want)
    total = kernels.masked_counts(bits, np.full((1, bits.shape[1]), ~np.uint64(0)), np.zeros(6, np.int64))
    assert total.tolist() == [int(np.count_nonzero(codes[c] == v)) for c in range(2) for v in range(1, 4)]


@seed(12)
@settings(max_examples=60)
@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=50))
def test_popcount_equals_a_slow_reference(values):
    x = np.array(values, dtype=np.uint64)
    ones = np.full((1, len(values)), ~np.uint64(0))
    got = kernels.masked_counts(x.reshape(1, -1), ones, np.zeros(1, np.int64))
    assert int(got[0]) == sum(naive_popcount(v) for v in values)
    for v in values[:5] + [0, 1, 2**63, 2**64 - 1]:
        assert kernels.count_bits(np.array([v], np.uint64), 64) == naive_popcount(v)


@seed(13)
@settings(max_examples=40)
@given(k=st.integers(0, 6), n=st.integers(1, 400), salt=st.integers(0, 2**31))
def test_or_and_and_leave_one_out_equal_slow_references(k, n, salt):
    rng = np.random.default_rng(salt)
    masks = words(n, rng, k)
    loo = kernels.leave_one_out(masks)
    ones = np.full(masks.shape[1], ~np.uint64(0))
    assert np.array_equal(loo[0], np.bitwise_and.reduce(masks, axis=0) if k else ones)
    assert np.array_equal(kernels.and_rows(masks), loo[0])
    for i in range(k):
        rest = np.delete(masks, i, axis=0)
        assert np.array_equal(loo[i + 1], np.bitwise_and.reduce(rest, axis=0) if k > 1 else ones)
    bits = words(n, rng, 5)
    ids = np.array(rng.choice(5, size=min(k, 5), replace=False), dtype=np.int64)
    want = np.bitwise_or.reduce(bits[ids], axis=0) if len(ids) else np.zeros(bits.shape[1], np.uint64)
    assert np.array_equal(kernels.or_rows(bits, ids), want)
    starts = np.array([0, len(ids) // 2, len(ids)], dtype=np.int64)
    both = kernels.column_masks(bits, starts, ids)
    assert np.array_equal(both[1], np.bitwise_or.reduce(bits[ids[starts[1] :]], axis=0) if len(ids) else
                          np.zeros(bits.shape[1], np.uint64))  # fmt: skip
    which = rng.integers(-1, k + 1, size=5)
    counts = kernels.masked_counts(bits, loo, which)
    for a in range(5):
        want = 0 if which[a] < 0 else sum(naive_popcount(x) for x in (bits[a] & loo[which[a]]).tolist())
        assert counts[a] == want
    tail = kernels.count_bits(loo[0], n)
    assert tail == sum(naive_popcount(x) for x in loo[0].tolist()) - sum(
        (int(loo[0][r // 64]) >> (r % 64)) & 1 for r in range(n, masks.shape[1] * 64)
    )


# --- releases -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    """A DP linked release (multi-value and perp_* columns), a k-anonymous one, a --multi-value one."""
    from showcase.cli.main import main

    folder = tmp_path_factory.mktemp("explore")
    os.environ["SHOWCASE_LEDGER"] = str(folder / "ledger.sqlite")
    cases = folder / "cases"
    assert main(["datasets", "generate", "cases", "--rows", "1200", "--seed", "3", "--out", str(cases)]) == 0
    victims, book = cases / "victims.csv", cases / "codebook.yaml"
    dp, kanon, multi = folder / "dp", folder / "kanon", folder / "multi"
    assert main(["run", str(victims), "--codebook", str(book), "--dp", "--epsilon", "6", "-o", str(dp),
                 "--seed", "1", "--no-progress"]) == 0  # fmt: skip
    assert main(["run", str(victims), "--codebook", str(book), "-k", "4", "-l", "3", "-o", str(kanon),
                 "--seed", "2", "--no-progress"]) == 0  # fmt: skip
    rng = random.Random(5)
    tags = ["a", "b", "c", "d"]
    frame = pd.DataFrame({
        "colour": [rng.choice(["red", "green", "blue", ""]) for _ in range(600)],
        "tags": [";".join(sorted(set(rng.sample(tags, rng.randint(0, 3))))) for _ in range(600)],
        "size": [rng.choice(["S", "M", "L"]) for _ in range(600)],
    })  # fmt: skip
    frame.to_csv(folder / "plain.csv", index=False)
    assert main(["run", str(folder / "plain.csv"), "--multi-value", "tags", "-k", "3", "-l", "3",
                 "-o", str(multi), "--seed", "3", "--no-progress"]) == 0  # fmt: skip
    (dp / "victims.csv").write_bytes(victims.read_bytes())  # a sensitive input beside a release
    return {"dp": dp, "kanon": kanon, "multi": multi}


@pytest.fixture(scope="module")
def opened(releases):
    return {name: open_release(folder) for name, folder in releases.items()}


def frame_of(release) -> tuple[pd.DataFrame, dict[str, str]]:
    frame = pd.read_csv(release / "synthetic.csv", dtype=str, keep_default_na=False)
    meta = json.loads((release / "metadata.json").read_text())
    return frame, dict(meta["aggregates"].get("multi_value", []))


def holds(frame, column, values, multi) -> pd.Series:
    if column in multi:
        return (
            frame[column]
            .str.split(multi[column], regex=False)
            .apply(lambda cell: bool(set(cell) & set(values)))
        )
    return frame[column].isin(values)


def reference_counts(frame, multi, selection, column, values) -> list[int]:
    mask = pd.Series(True, index=frame.index)
    for other, chosen in selection.items():
        if other != column and chosen:
            mask &= holds(frame, other, chosen, multi)
    return [int((mask & holds(frame, column, [v], multi)).sum()) for v in values]


def random_selection(rng: random.Random, columns, most: int = 4) -> dict[str, list[str]]:
    usable = [c for c in columns if c.values]
    picked = rng.sample(usable, rng.randint(0, min(most, len(usable))))
    return {c.name: rng.sample(c.values, min(len(c.values), rng.randint(1, 2))) for c in picked}


@pytest.mark.parametrize("name", ["dp", "kanon", "multi"])
def test_records_counts_and_total_equal_a_pandas_reference(opened, releases, name):
    records, _, _ = opened[name]
    frame, multi = frame_of(releases[name])
    assert records.n_rows == len(frame)
    assert {c.name for c in records.columns} == set(frame.columns)
    assert {c.name for c in records.columns if c.multi_value} == set(multi)
    for column in records.columns:  # every value the records hold is a value of the explorer
        cells = frame[column.name]
        held = set(cells.str.split(multi[column.name]).explode()) if column.name in multi else set(cells)
        assert held - {""} <= set(column.values), column.name
    rng = random.Random(7)
    for _ in range(12):
        selection = random_selection(rng, records.columns)
        counts = records.counts(selection)
        matching = np.ones(len(frame), dtype=bool)
        for c, v in selection.items():
            matching &= holds(frame, c, v, multi).to_numpy()
        assert records.total(selection) == int(matching.sum())
        assert records.query(selection) == (counts, records.total(selection))
        for column in records.columns:
            want = reference_counts(frame, multi, selection, column.name, column.values)
            assert counts[column.name] == want, (column.name, selection)


def test_the_sides_of_a_linked_release(opened):
    records, _, _ = opened["dp"]
    sides = {c.name: c.side for c in records.columns}
    assert sides["perp_gender"] == "perpetrator" and sides["gender"] == "victim"
    assert {c.side for c in opened["multi"][0].columns} == {""}


def aggregate_reference(release) -> dict[frozenset, int]:
    table = pq.read_table(release / "aggregates.parquet").to_pandas()
    labels = [c for c in table.columns if c.startswith("attribute_")]
    out = {}
    for row in table.itertuples(index=False):
        parts = row._asdict()
        out[frozenset(str(parts[c]) for c in labels if isinstance(parts[c], str))] = int(parts["count"])
    return out


@pytest.mark.parametrize("name", ["dp", "kanon", "multi"])
def test_aggregate_counts_equal_a_reference_from_the_parquet_table(opened, releases, name):
    records, aggregates, metadata = opened[name]
    want = aggregate_reference(releases[name])
    length = metadata["aggregates"]["reporting_length"]
    rng = random.Random(9)
    columns = records.columns
    for combo, count in rng.sample(sorted(want.items(), key=lambda kv: sorted(kv[0])), 40):
        pairs = [tuple(label.split(":", 1)) for label in combo]
        assert aggregates.count(pairs) == count
    assert aggregates.count([]) == metadata["aggregates"]["record_count"]
    for _ in range(25):
        selection = random_selection(rng, columns, most=length)
        for column in columns:
            got = aggregates.counts_for(selection, column.name)
            assert len(got) == len(column.values)
            others = {c: v for c, v in selection.items() if c != column.name}
            defined = all(len(v) == 1 for v in others.values()) and 1 + len(others) <= length
            fixed = [f"{c}:{v[0]}" for c, v in others.items()]
            for value, count in zip(column.values, got):
                expected = want.get(frozenset([f"{column.name}:{value}", *fixed])) if defined else None
                assert count == expected, (column.name, value, selection)
                if defined:
                    pairs = [(column.name, value), *[(c, v[0]) for c, v in others.items()]]
                    assert aggregates.count(pairs) == expected
    many = [(c.name, v) for c in columns if c.multi_value for v in c.values]
    many += [(c.name, c.values[0]) for c in columns if c.values and not c.multi_value]
    too_long = many[: length + 1]
    assert len(too_long) == length + 1
    assert aggregates.count(too_long) is None


def test_malformed_selections_raise_a_parameter_error_naming_it(opened):
    records, aggregates, _ = opened["dp"]
    gender = next(c for c in records.columns if c.name == "gender")
    for bad, word in [
        ({"nope": ["x"]}, "nope"),
        ({"gender": ["no such value"]}, "no such value"),
        ({"gender": "Female"}, "gender"),
        ({"gender": [3]}, "3"),
        (["gender"], "selection"),
    ]:
        for call in (records.counts, records.total, lambda s: aggregates.counts_for(s, "gender")):
            with pytest.raises(ParameterError, match=word) as error:
                call(bad)
            assert "\n" not in str(error.value)
    with pytest.raises(ParameterError, match="nope"):
        aggregates.counts_for({}, "nope")
    with pytest.raises(ParameterError, match="nope"):
        aggregates.count([("nope", "x")])
    assert aggregates.count([("gender", "no such value")]) is None
    assert records.counts({"gender": []}) == records.counts({})  # an empty list selects nothing
    assert records.total({}) == records.n_rows and sum(records.counts({})["gender"]) <= records.n_rows
    assert len(gender.values) == len(records.counts({})["gender"])


def test_noise_intervals_follow_the_formula(opened):
    _, _, meta = opened["dp"]
    privacy = meta["privacy"]
    for length in (1, 2):
        half = 1.96 * privacy["sigmas"][length - 1] * privacy["sensitivity_bounds"][length - 1] ** 0.5
        assert noise_interval(meta, length, 40) == pytest.approx((40 - half, 40 + half))
    with pytest.raises(ParameterError):
        noise_interval(meta, len(privacy["sigmas"]) + 1, 3)
    _, _, meta = opened["kanon"]
    assert noise_interval(meta, 2, 12) == (12.0, 15.0)  # k = 4: rounded down to a multiple of 4
    assert noise_interval({"aggregates": {"protection": "none"}}, 1, 7) == (7.0, 7.0)


def test_open_release_reads_only_the_release_files(releases, tmp_path):
    folder = tmp_path / "release"
    folder.mkdir()
    source = releases["kanon"]
    for name in ("metadata.json", "aggregates.parquet", "synthetic.csv"):
        (folder / name).write_bytes((source / name).read_bytes())
    (folder / "synthetic.parquet").symlink_to(releases["dp"] / "victims.csv")  # a link is never followed
    records, aggregates, meta = open_release(folder)
    assert records.n_rows == len(pd.read_csv(source / "synthetic.csv")) and aggregates is not None
    (folder / "synthetic.csv").unlink()
    records, aggregates, _ = open_release(folder)
    assert records is None and aggregates.count([]) == meta["aggregates"]["record_count"]


def test_an_index_of_an_encoded_table(tmp_path):
    import pyarrow as pa

    table = encode(pa.table({"a": ["x", "y", "x", ""], "b": ["1", "2", "2", "1"]}))
    index = RecordsIndex.from_table(table)
    assert [(c.name, c.values, c.multi_value, c.side) for c in index.columns] == [
        ("a", ["x", "y"], False, ""),
        ("b", ["1", "2"], False, ""),
    ]
    assert index.counts({"a": ["x"]}) == {"a": [2, 1], "b": [1, 1]}
    assert index.counts({"a": ["x"], "b": ["2"]}) == {"a": [1, 1], "b": [1, 1]}
    assert index.total({"a": ["x", "y"], "b": ["2"]}) == 2
    assert AggregatesIndex  # built from Aggregates in the release tests


def test_records_values_the_aggregates_never_report_extend_their_schema():
    import pyarrow as pa

    from showcase.engine.encode import EncodedTable, Schema
    from showcase.engine.explore.index import extend_onto

    one = [pa.array([v]) for v in "ac"]
    base = Schema(("x", "G:a", "G:c"), (pa.array(["p"]), *one), (("G", ";"),))
    own = Schema(
        ("x", "G:a", "G:b", "G:d"), (pa.array(["p", "q"]), *[pa.array([v]) for v in "abd"]), (("G", ";"),)
    )
    codes = np.array([[1, 2, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.uint8)
    table = extend_onto(EncodedTable(own, codes), base)
    assert table.schema.columns == ("x", "G:a", "G:b", "G:c", "G:d")
    assert [d.to_pylist() for d in table.schema.dictionaries] == [["p", "q"], ["a"], ["b"], ["c"], ["d"]]
    assert table.codes.tolist() == [[1, 2, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]]
    index = RecordsIndex.from_table(table)
    assert [(c.name, c.values, c.multi_value) for c in index.columns] == [
        ("x", ["p", "q"], False),
        ("G", ["a", "b", "c", "d"], True),
    ]
    assert index.counts({"G": ["a", "d"]}) == {"x": [1, 0], "G": [1, 1, 0, 1]}
