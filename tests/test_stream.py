"""Streamed inputs (directories, globs, batches) count exactly what the whole input counts in memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from showcase.engine import DifferentialPrivacy, Exact, InputError, KAnonymity, ParameterError, aggregate
from showcase.engine.kernels.keys import key_layout, pack_rows
from showcase.engine.resources import Resources
from showcase.engine.stream import CountSum, should_stream, sum_by_key, unpack_keys

from .conftest import as_dict

VALUES = ["", "a", "b", "c", "0", "N", "é", "1"]
COLUMNS = ["x", "y", "z", "w"]


def write_parts(folder: Path, rows: list[list[str]], cuts: list[int], kind: str) -> None:
    """The rows cut at ``cuts`` into files part-000.* ... (some may hold no rows)."""
    folder.mkdir()
    bounds = [0, *sorted(cuts), len(rows)]
    for i, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        table = table_of(rows[lo:hi])
        write_as(table, folder / f"part-{i:03d}.{kind}", kind)


def write_as(table: pa.Table, path: Path, kind: str) -> None:
    """``table`` written as CSV, Parquet, an Arrow IPC file (``arrow``) or an IPC stream (``arrows``)."""
    if kind == "parquet":
        pq.write_table(table, path)
    elif kind == "arrow":
        with pa.ipc.new_file(path, table.schema) as writer:
            for batch in table.to_batches(max_chunksize=7):  # several batches, read by index
                writer.write_batch(batch)
    elif kind == "arrows":
        with pa.ipc.new_stream(path, table.schema) as writer:
            writer.write_table(table, max_chunksize=7)
    else:
        pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))


def table_of(rows: list[list[str]]) -> pa.Table:
    return pa.table({name: pa.array([r[j] for r in rows], pa.string()) for j, name in enumerate(COLUMNS)})


def whole_file(tmp: Path, rows: list[list[str]], kind: str) -> Path:
    path = tmp / f"whole.{kind}"
    write_as(table_of(rows), path, kind)
    return path


def same(a, b) -> None:
    """Equal aggregates: the same combinations in the same order, the same counts and schema."""
    assert a.schema.columns == b.schema.columns
    assert [d.to_pylist() for d in a.schema.dictionaries] == [d.to_pylist() for d in b.schema.dictionaries]
    assert a.record_count == b.record_count
    np.testing.assert_array_equal(a.attrs, b.attrs)
    np.testing.assert_array_equal(a.length, b.length)
    np.testing.assert_array_equal(a.count, b.count)


def nothing_to_count(rows: list[list[str]]) -> bool:
    """Every cell empty or 0 (no attribute by default): an input that every read path refuses."""
    return all(value in ("", "0") for row in rows for value in row)


partitioned = st.integers(1, 60).flatmap(
    lambda n: st.tuples(
        st.lists(st.lists(st.sampled_from(VALUES), min_size=4, max_size=4), min_size=n, max_size=n),
        st.lists(st.integers(0, n), max_size=5),
        st.integers(1, 7),
    )
)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
@given(case=partitioned, length=st.integers(1, 4))
def test_streamed_counts_equal_in_memory(tmp_path_factory, kind, case, length):
    rows, cuts, batch = case
    tmp = tmp_path_factory.mktemp("parts")
    write_parts(tmp / "parts", rows, cuts, kind)
    options = dict(length=length, protection=Exact())
    if nothing_to_count(rows):  # every path refuses it alike
        for source, resources in ((whole_file(tmp, rows, kind), Resources(stream=False)),
                                  (tmp / "parts", Resources(batch_rows=batch))):  # fmt: skip
            with pytest.raises(InputError, match="nothing to count"):
                aggregate(source, resources=resources, **options)
        return
    whole = aggregate(whole_file(tmp, rows, kind), resources=Resources(stream=False), **options)
    streamed = aggregate(tmp / "parts", resources=Resources(batch_rows=batch), **options)
    same(whole.exact, streamed.exact)
    # A single file streamed in batches is the same too.
    batched = aggregate(
        whole_file(tmp, rows, kind), resources=Resources(stream=True, batch_rows=batch), **options
    )
    same(whole.exact, batched.exact)


@given(case=partitioned)
def test_streamed_k_anonymity_and_dp_equal_in_memory(tmp_path_factory, case):
    rows, cuts, batch = case
    tmp = tmp_path_factory.mktemp("parts")
    write_parts(tmp / "parts", rows, cuts, "csv")
    whole = whole_file(tmp, rows, "csv")
    if nothing_to_count(rows):  # refused under k-anonymity; under DP a refusal would be a tell
        for source, resources in (
            (whole, Resources(stream=False)),
            (tmp / "parts", Resources(batch_rows=batch)),
        ):
            with pytest.raises(InputError, match="nothing to count"):
                aggregate(source, length=3, protection=KAnonymity(3), resources=resources)
    else:
        k = aggregate(whole, length=3, protection=KAnonymity(3), resources=Resources(stream=False))
        ks = aggregate(
            tmp / "parts", length=3, protection=KAnonymity(3), resources=Resources(batch_rows=batch)
        )
        same(k.released, ks.released)
    dp = DifferentialPrivacy(epsilon=3.0, delta=1e-6, ledger=tmp / "ledger.sqlite")
    d = aggregate(whole, length=3, protection=dp, seed=7, resources=Resources(stream=False))
    ds = aggregate(tmp / "parts", length=3, protection=dp, seed=7, resources=Resources(batch_rows=batch))
    same(d.released, ds.released)
    assert d.privacy["sensitivity_bounds"] == ds.privacy["sensitivity_bounds"]


def test_glob_and_options(tmp_path):
    rng = np.random.default_rng(0)
    rows = [[str(v) for v in rng.choice(VALUES, 4)] for _ in range(300)]
    write_parts(tmp_path / "parts", rows, [50, 50, 170], "csv")
    options = dict(length=2, protection=Exact())
    from showcase.engine import Preparation

    preparation = Preparation(
        use_columns=["x", "z"], null_markers=("N",), sensitive_zeros=["x"], record_limit=120
    )
    whole = aggregate(whole_file(tmp_path, rows, "csv"), preparation=preparation, **options)
    glob = aggregate(str(tmp_path / "parts" / "part-*.csv"), preparation=preparation,
                     resources=Resources(batch_rows=16), **options)  # fmt: skip
    same(whole.exact, glob.exact)
    assert as_dict(glob.exact)  # some combinations


@pytest.mark.parametrize(
    "hidden", ["_temporary/attempt-0", ".staging", "year=2021/_temporary", "_SUCCESS_dir"]
)
def test_hidden_folders_under_a_directory_input_are_not_read(tmp_path, hidden):
    """Spark leaves half-written copies in _temporary/: reading them would count records twice."""
    rng = np.random.default_rng(1)
    rows = [[str(v) for v in rng.choice(VALUES, 4)] for _ in range(200)]
    write_parts(tmp_path / "parts", rows, [80], "csv")
    expected = aggregate(tmp_path / "parts", length=2, protection=Exact()).exact
    copy = tmp_path / "parts" / hidden
    copy.mkdir(parents=True)
    for part in (tmp_path / "parts").glob("part-*.csv"):
        (copy / part.name).write_bytes(part.read_bytes())
    again = aggregate(tmp_path / "parts", length=2, protection=Exact()).exact
    same(expected, again)


def test_codebook_schema_and_unknown_values(tmp_path):
    write_parts(tmp_path / "parts", [["a", "b", "c", "a"], ["b", "b", "", "0"]], [1], "csv")
    book = tmp_path / "book.csv"
    book.write_text("column,value\n" + "".join(f"{c},{v}\n" for c in COLUMNS for v in ("a", "b", "c")))
    from showcase.engine import Preparation

    whole = aggregate(whole_file(tmp_path, [["a", "b", "c", "a"], ["b", "b", "", "0"]], "csv"),
                      preparation=Preparation(codebook=book), length=2, protection=Exact())  # fmt: skip
    streamed = aggregate(
        tmp_path / "parts", preparation=Preparation(codebook=book), length=2, protection=Exact()
    )
    same(whole.exact, streamed.exact)
    assert streamed.exact.schema.n_attributes == 12  # the codebook's values, used or not
    (tmp_path / "parts" / "part-002.csv").write_text("x,y,z,w\na,secret,b,b\n")
    # Streamed or whole, the sensitive value is counted, never printed.
    for source in (tmp_path / "parts", whole_file(tmp_path, [["a", "secret", "b", "b"]], "csv")):
        with pytest.raises(InputError, match=r"'y' has 1 value\(s\) outside the codebook: add them") as error:
            aggregate(source, preparation=Preparation(codebook=book), length=2)
        assert "secret" not in str(error.value)


def test_streaming_refuses_what_needs_every_row(tmp_path):
    write_parts(tmp_path / "parts", [["a", "b", "c", "a"]], [], "csv")
    from showcase.engine import Preparation

    for preparation, named in [
        (Preparation(subject_id="x"), "--subject-id"),
        (Preparation(multi_value={"y": ";"}), "--multi-value"),
        (Preparation(bins={"x": "width:10"}), "--bin"),
    ]:
        with pytest.raises(ParameterError, match=named):
            aggregate(tmp_path / "parts", preparation=preparation)


def test_bad_streamed_inputs(tmp_path):
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "a.csv").write_text("x,y\n1,2\n")
    pq.write_table(pa.table({"x": ["1"], "y": ["2"]}), tmp_path / "mixed" / "b.parquet")
    with pytest.raises(InputError, match="one format"):
        aggregate(tmp_path / "mixed")
    (tmp_path / "cols").mkdir()
    (tmp_path / "cols" / "a.csv").write_text("x,y\n1,2\n")
    (tmp_path / "cols" / "b.csv").write_text("x,z\n1,2\n")
    with pytest.raises(InputError, match="other columns"):
        aggregate(tmp_path / "cols")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no non-empty input files"):
        aggregate(tmp_path / "empty")
    with pytest.raises(InputError, match="no such file"):
        aggregate(str(tmp_path / "nothing-*.csv"))


@pytest.mark.parametrize("kind", ["arrow", "arrows"])
def test_arrow_ipc_files_and_streams_stream_as_they_read_whole(tmp_path, kind):
    """An Arrow IPC file (``.arrow``, ``.feather``) is read batch by batch by index, a stream in order."""
    rng = np.random.default_rng(4)
    rows = [[str(v) for v in rng.choice(VALUES, 4)] for _ in range(150)]
    write_parts(tmp_path / "parts", rows, [40, 40, 111], kind)  # one part holds no rows
    file, options = whole_file(tmp_path, rows, kind), dict(length=3, protection=Exact())
    whole = aggregate(file, **options)
    for resources in (Resources(batch_rows=16), Resources(stream=True, batch_rows=5)):
        same(whole.exact, aggregate(tmp_path / "parts", resources=resources, **options).exact)
        same(whole.exact, aggregate(file, resources=resources, **options).exact)


def test_linked_parts_are_read_once_and_missing_or_empty_ones_are_refused(tmp_path):
    """A folder of links (yearly folders linked in) counts every record once, as the whole does;
    a link to nothing, an empty Parquet file or a cut Arrow stream is named, never left out."""
    rng = np.random.default_rng(3)
    rows = [[str(v) for v in rng.choice(VALUES, 4)] for _ in range(240)]
    expected = aggregate(whole_file(tmp_path, rows, "parquet"), length=2, protection=Exact()).exact
    elsewhere, parts = tmp_path / "elsewhere", tmp_path / "parts"
    (elsewhere / "2021").mkdir(parents=True)
    parts.mkdir()
    pq.write_table(table_of(rows[:100]), parts / "part-0.parquet")
    pq.write_table(table_of(rows[100:150]), elsewhere / "part-1.parquet")
    pq.write_table(table_of(rows[150:]), elsewhere / "2021" / "part-2.parquet")
    (parts / "part-1.parquet").symlink_to(elsewhere / "part-1.parquet")
    (parts / "2021").symlink_to(elsewhere / "2021", target_is_directory=True)
    (parts / "again").symlink_to(parts / "2021", target_is_directory=True)  # the same folder twice
    same(expected, aggregate(parts, length=2, protection=Exact()).exact)
    (parts / "gone.parquet").symlink_to(elsewhere / "gone.parquet")
    with pytest.raises(InputError, match="gone.parquet: a link to a file that is not there"):
        aggregate(parts, length=2, protection=Exact())
    (parts / "gone.parquet").unlink()
    (parts / "empty.parquet").write_bytes(b"")
    with pytest.raises(InputError, match="empty.parquet: the file is empty"):
        aggregate(parts, length=2, protection=Exact())
    cut = tmp_path / "cut"
    write_parts(cut, rows, [120], "arrows")
    data = (cut / "part-001.arrows").read_bytes()
    (cut / "part-001.arrows").write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(InputError, match="part-001.arrows: not a readable arrow file"):
        aggregate(cut, length=2, protection=Exact())


def test_an_output_inside_an_input_folder_is_refused(tmp_path):
    """Every file of a directory input is read: a release written inside it would spoil the next run."""
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "a.csv").write_text("x,y\n1,2\n1,3\n")
    for out in (parts / "release", parts / "deeper" / "release"):
        (out.parent).mkdir(exist_ok=True)
        with pytest.raises(ParameterError, match="inside the input folder"):
            aggregate(parts, length=1, protection=Exact(), out=out)
        assert not out.exists()
    aggregate(parts, length=1, protection=Exact(), out=tmp_path / "release")  # beside it: fine


def test_when_streaming_is_chosen(tmp_path):
    data = tmp_path / "a.csv"
    data.write_text("x\n1\n")
    assert should_stream(tmp_path, None) and should_stream(str(tmp_path / "*.csv"), None)
    assert not should_stream(data, None) and should_stream(data, True)
    assert not should_stream(pa.table({"x": ["1"]}), True)  # a table in memory is counted in memory


@given(
    st.integers(1, 200_000),
    st.integers(1, 5),
    st.lists(st.lists(st.integers(0, 10**9), min_size=5, max_size=5), min_size=1, max_size=30),
)
def test_packed_keys_round_trip_and_sum(n_attributes, length, raw):
    # Sorted distinct ids below n_attributes, of lengths 1..length (several words when n_attributes is large).
    combos = np.full((len(raw), length), -1, dtype=np.int32)
    lengths = np.zeros(len(raw), dtype=np.int64)
    for i, row in enumerate(raw):
        ids = sorted({v % n_attributes for v in row[: 1 + row[0] % length]})
        combos[i, : len(ids)] = ids
        lengths[i] = len(ids)
    radix, per_word, n_words = key_layout(n_attributes, length)
    keys = pack_rows(combos, lengths, radix, per_word, n_words)
    attrs, back = unpack_keys(keys, radix, per_word, length)
    np.testing.assert_array_equal(attrs, combos)
    np.testing.assert_array_equal(back, lengths)
    doubled, counts = sum_by_key(np.concatenate([keys, keys]), np.ones(2 * len(keys), dtype=np.int64))
    expected: dict = {}
    for row in map(tuple, keys.tolist()):
        expected[row] = expected.get(row, 0) + 2
    assert dict(zip(map(tuple, doubled.tolist()), counts.tolist())) == expected


def test_count_sum_of_nothing(tmp_path):
    from showcase.engine import encode

    schema = encode(pa.table({"x": ["a"]})).schema
    empty = CountSum(schema, 2).aggregates()
    assert len(empty) == 0 and empty.record_count == 0


def test_hive_partitioned_folders_add_their_columns(tmp_path):
    """key=value folders (as pyarrow.dataset writes) become columns; counts equal the whole table's."""
    import pyarrow.dataset as ds

    from showcase.engine import count_combinations, encode
    from showcase.engine.resources import Resources

    rng = np.random.default_rng(3)
    n = 900
    table = pa.table({
        "a": pa.array(rng.choice(["x", "y", "z"], n)),
        "b": pa.array(rng.choice(["p", "q"], n)),
        "region": pa.array(rng.choice(["north", "south west", None], n)),
        "year": pa.array(rng.choice(["2021", "2022"], n)),
    })  # fmt: skip
    root = tmp_path / "hive"
    partitioning = ds.partitioning(pa.schema([("region", pa.string()), ("year", pa.string())]), flavor="hive")
    ds.write_dataset(table, root, format="parquet", partitioning=partitioning)
    assert any("region=" in str(p) for p in root.rglob("*.parquet"))
    streamed = aggregate(root, length=3, protection=Exact(), resources=Resources(stream=True)).exact
    whole = count_combinations(encode(table), 3)
    assert streamed.schema.columns == ("a", "b", "region", "year")
    assert streamed.record_count == whole.record_count == n
    assert sorted(zip(_labels(streamed), streamed.count.tolist())) == sorted(
        zip(_labels(whole), whole.count.tolist())
    )


def _labels(aggregates):
    from showcase.engine.aggregates_io import selections

    return selections(aggregates).to_pylist()


def test_the_guard_counts_streamed_dp_codes_at_their_width(tmp_path):
    """Over 255 values in a column need 2-byte codes: the guard's figure for the records a
    streamed DP release keeps is rows × columns × 2, to the byte."""
    from showcase.engine.resources import estimate

    n = 2000
    rows = [[f"v{i % 300}", "a", "b", "c"] for i in range(n)]
    write_parts(tmp_path / "parts", rows, [700], "csv")
    dp = DifferentialPrivacy(epsilon=3.0, delta=1e-6, ledger=tmp_path / "ledger.sqlite")
    figure = estimate([300, 1, 1, 1], n, 1, resident=n * 4 * 2, dp=True).bytes
    options = dict(length=1, protection=dp)
    with pytest.raises(ParameterError, match="above the memory limit"):
        aggregate(tmp_path / "parts", **options, resources=Resources(memory_limit=figure - 1))
    released = aggregate(tmp_path / "parts", **options, resources=Resources(memory_limit=figure))
    assert released.released.record_count > 0


@settings(max_examples=12)
@given(case=partitioned)
def test_a_run_streams_its_parts(tmp_path_factory, case):
    """``run PARTS/`` equals ``run WHOLE.csv`` for a seed: the same aggregates and the same records,
    k-anonymous and DP; row_seeded (the default) keeps every record's codes, read in batches."""
    from showcase.engine import run

    rows, cuts, batch = case
    tmp = tmp_path_factory.mktemp("parts")
    write_parts(tmp / "parts", rows, cuts, "csv")
    whole = whole_file(tmp, rows, "csv")
    dp = DifferentialPrivacy(epsilon=3.0, delta=1e-6, ledger=tmp / "ledger.sqlite")

    def outcome(source, resources, **options):
        try:
            return run(source, **options, length=2, seed=5, resources=resources)
        except (ParameterError, InputError) as refused:  # e.g. nothing to synthesize: refused alike
            return str(refused).replace(str(source), "INPUT")

    modes = ((KAnonymity(2), "aggregate_seeded"), (KAnonymity(2), "tree"), (dp, None), (KAnonymity(2), None))
    for protection, mode in modes:
        one = outcome(whole, Resources(stream=False), protection=protection, mode=mode)
        parts = outcome(tmp / "parts", Resources(batch_rows=batch), protection=protection, mode=mode)
        if isinstance(one, str) or isinstance(parts, str):
            assert one == parts
            continue
        same(one.aggregate.released, parts.aggregate.released)
        np.testing.assert_array_equal(one.synthesis.synthetic.codes, parts.synthesis.synthetic.codes)
        assert one.synthesis.input_records == parts.synthesis.input_records
    with pytest.raises(ParameterError, match="mode row_seeded synthesizes from every record"):
        run(tmp / "parts", protection=KAnonymity(2), resources=Resources(scheduler="local[1]"))


@pytest.mark.parametrize("change", ["grow", "shrink", "rewrite"])
@pytest.mark.parametrize("dp", [False, True])
def test_a_part_that_changes_between_the_passes_is_refused(tmp_path, monkeypatch, change, dp):
    """An export still writing into the folder: pass 2 must read what pass 1 planned, or stop.

    Grown, its new values were counted as no attribute (k-anonymity) or overflowed the codes (DP);
    shrunk, the codes' tail was never written.
    """
    import os

    from showcase.engine import stream

    rng = np.random.default_rng(5)
    rows = [[str(v) for v in rng.choice(["a", "b", "c"], 4)] for _ in range(200)]
    write_parts(tmp_path / "parts", rows, [100], "csv")
    part = tmp_path / "parts" / "part-001.csv"
    planned = stream.plan

    def plan_then_change(*args, **kwargs):
        found = planned(*args, **kwargs)
        text = part.read_text()
        if change == "grow":
            part.write_text(text + "NEW,NEW,NEW,NEW\n" * 5)
        elif change == "shrink":
            part.write_text("\n".join(text.splitlines()[:50]) + "\n")
        else:  # the same size and rows, other values, later
            part.write_text(text.replace("a", "b"))
            os.utime(part, ns=(found.stream.parts[1].mtime + 10**9,) * 2)
        return found

    monkeypatch.setattr(stream, "plan", plan_then_change)
    protection = DifferentialPrivacy(3.0, delta=1e-6, ledger=tmp_path / "l.sqlite") if dp else KAnonymity(2)
    with pytest.raises(InputError, match="changed while it was read"):
        aggregate(
            tmp_path / "parts", length=2, protection=protection, seed=1, resources=Resources(batch_rows=16)
        )


def test_nan_in_a_dictionary_encoded_float_column_is_no_attribute_when_streamed(tmp_path):
    """NaN means "missing" (pandas, NumPy) in memory; a dictionary of floats streamed made it "nan"."""
    scores = pa.array([1.5, float("nan"), 2.0, float("nan"), 1.5] * 20).dictionary_encode()
    table = pa.table({"score": scores, "x": pa.array(["a", "b"] * 50)})
    with pa.ipc.new_stream(tmp_path / "t.arrows", table.schema) as writer:
        writer.write_table(table)
    whole = aggregate(tmp_path / "t.arrows", length=1, protection=Exact(), resources=Resources(stream=False))
    streamed = aggregate(
        tmp_path / "t.arrows", length=1, protection=Exact(), resources=Resources(stream=True)
    )
    same(whole.exact, streamed.exact)
    assert "nan" not in whole.exact.schema.dictionaries[0].to_pylist()


def test_quoted_line_breaks_read_alike_wherever_the_reader_cuts_its_blocks(tmp_path):
    """Free text holds line breaks: a quoted one across a block boundary failed as a ragged row, so
    a file was refused or read depending on the reader's block size (in memory, streamed)."""
    rng = np.random.default_rng(6)
    lines = ["sex,note,region"]
    for i in range(120_000):  # about 5 MiB: more than one block in memory (4 MiB) and streamed (1 MiB)
        note = '"line one\nline two"' if i % 3 else "plain"
        lines.append(f"{rng.choice(['F', 'M'])},{note},{rng.choice(['north', 'south', 'east'])}")
    (tmp_path / "notes.csv").write_text("\n".join(lines) + "\n")
    options = dict(length=2, protection=Exact())
    whole = aggregate(tmp_path / "notes.csv", resources=Resources(stream=False), **options)
    streamed = aggregate(tmp_path / "notes.csv", resources=Resources(stream=True, batch_rows=4096), **options)
    same(whole.exact, streamed.exact)
    assert whole.exact.record_count == 120_000


def test_drop_unknown_is_refused_with_a_codebook_that_cannot_drop(tmp_path):
    """A column,value codebook refuses values outside it: --drop-unknown was silently ignored there."""
    from showcase.engine import Preparation

    (tmp_path / "book.csv").write_text("column,value\nx,a\n")
    with pytest.raises(ParameterError, match="--drop-unknown applies to a YAML/JSON codebook"):
        Preparation(codebook=tmp_path / "book.csv", drop_unknown=True)
