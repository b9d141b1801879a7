"""Reading every format, preparation options, and one-line errors for bad input."""

from __future__ import annotations

import gzip

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from showcase.engine import InputError, ParameterError, encode, read_table

from .conftest import write_csv

COLUMNS = ["A", "B", "C"]
ROWS = [("a1", "0", "N"), ("a2", "1", "c1"), ("", "1", "c2")]


def test_csv_keeps_spellings_as_strings(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["id", "x"], [("007", "1.50"), ("10", "2")])
    table = read_table(path)
    assert table.column("id").to_pylist() == ["007", "10"]
    assert table.column("x").to_pylist() == ["1.50", "2"]


@pytest.mark.parametrize(
    "delimiter,suffix,option",
    [("\t", ".tsv", None), (";", ".csv", ";"), ("|", ".txt", "|"), ("\t", ".csv", "tab")],
)
def test_delimiters(tmp_path, delimiter, suffix, option):
    path = write_csv(tmp_path / f"t{suffix}", COLUMNS, ROWS, delimiter)
    table = read_table(path, delimiter=option)
    assert table.column_names == COLUMNS
    assert table.column("C").to_pylist() == ["N", "c1", "c2"]


def test_parquet_and_arrow_match_csv(tmp_path):
    csv = read_table(write_csv(tmp_path / "t.csv", COLUMNS, ROWS))
    pq.write_table(csv, tmp_path / "t.parquet")
    feather.write_feather(csv, tmp_path / "t.arrow")
    for other in (read_table(tmp_path / "t.parquet"), read_table(tmp_path / "t.arrow")):
        assert other.to_pylist() == csv.to_pylist()
        assert other.schema == csv.schema


@pytest.mark.parametrize("distinct", [3, 70_000])
def test_parquet_row_groups_read_as_one_dictionary_per_column(tmp_path, distinct):
    """Text read dictionary-encoded per row group encodes exactly as the plain strings do.

    A column of many distinct values (ids) is re-encoded as one chunk rather
    than unified over its row groups' dictionaries.
    """
    rows = 140_000
    plain = pa.table(
        {
            "v": pa.array([f"v{(i * 7919) % distinct}" for i in range(rows)]),
            "w": pa.array([None if i % 5 == 0 else ("" if i % 7 == 0 else f"w{i % 4}") for i in range(rows)]),
            "n": pa.array([i % 3 for i in range(rows)]),
        }
    )
    path = tmp_path / "groups.parquet"
    pq.write_table(plain, path, row_group_size=10_000)
    read = read_table(path)
    assert read.column("v").num_chunks == (1 if distinct > 65_536 else pq.ParquetFile(path).num_row_groups)
    assert read.column("v").to_pylist() == plain.column("v").to_pylist()
    assert read.column("w").to_pylist() == plain.column("w").to_pylist()
    ours, reference = (
        encode(read),
        encode(plain.cast(pa.schema([(n, pa.string()) for n in plain.column_names]))),
    )
    assert [d.to_pylist() for d in ours.schema.dictionaries] == [
        d.to_pylist() for d in reference.schema.dictionaries
    ]
    assert (ours.codes == reference.codes).all()


def test_typed_parquet_is_read_as_text(tmp_path):
    table = pa.table({"n": pa.array([1, 0, None]), "f": pa.array([1.5, 0.0, 2.0])})
    pq.write_table(table, tmp_path / "typed.parquet")
    read = read_table(tmp_path / "typed.parquet")
    assert read.column("n").to_pylist() == ["1", "0", None]
    encoded = encode(read)
    assert encoded.codes[0].tolist() == [1, 0, 0]  # 0 and null are "no attribute"


def test_unused_dictionary_values_are_not_attributes():
    values = pa.DictionaryArray.from_arrays(pa.array([0, 0, 2], pa.int32()), ["a", "unused", "c"])
    encoded = encode(pa.table({"x": values}))
    assert encoded.schema.dictionaries[0].to_pylist() == ["a", "c"]
    assert encoded.codes[0].tolist() == [1, 1, 2]


def test_use_columns_keeps_file_order_and_record_limit(tmp_path):
    path = write_csv(tmp_path / "t.csv", COLUMNS, ROWS)
    table = read_table(path, use_columns=["C", "A"], record_limit=2)
    assert table.column_names == ["A", "C"]
    assert table.num_rows == 2


def test_null_markers_and_zero_rule():
    table = pa.table({"A": ["x", "N", "", "0"], "Z": ["0", "1", "0", ""]})
    plain = encode(table, null_markers=["N"])
    assert plain.codes.tolist() == [[1, 0, 0, 0], [0, 1, 0, 0]]
    zeros = encode(table, null_markers=["N"], sensitive_zeros=["Z"])
    assert zeros.schema.dictionaries[1].to_pylist() == ["0", "1"]
    assert zeros.codes[1].tolist() == [1, 2, 1, 0]
    assert encode(table, sensitive_zeros="all").schema.dictionaries[0].to_pylist() == ["0", "N", "x"]


def test_unknown_sensitive_zero_column():
    with pytest.raises(ParameterError, match="sensitive_zeros"):
        encode(pa.table({"A": ["1"]}), sensitive_zeros=["B"])


BAD_FILES = {
    "empty": (b"", "empty"),
    "header only": (b"A,B\n", "no records"),
    "ragged": (b"A,B\n1,2\n3\n", "ragged rows"),
    "not utf-8": (b"A,B\n\xff\xfe,2\n", "UTF-8"),
    "not utf-8 header": (b"A\xff,B\n1,2\n", "UTF-8"),
    "duplicate names": (b"A,A\n1,2\n", "duplicate column name"),
    "tab-separated read as comma-separated": (b"A\tB\tC\nx\t1\t2\n", "--delimiter tab"),
    "semicolon-separated read as comma-separated": (b"A;B\nx;1\n", "--delimiter ';'"),
    "a quoted name spanning lines": (b'"A\nB",C\nx,y\n', "unclosed quote"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_raise_one_line(tmp_path, case):
    content, message = BAD_FILES[case]
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as error:
        read_table(path)
    assert "\n" not in str(error.value)


def test_error_never_echoes_row_content(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"A,B\n1,2\nSECRET-VALUE\n")
    with pytest.raises(InputError) as error:
        read_table(path)
    assert "SECRET" not in str(error.value)


def test_missing_file_unknown_columns_and_types(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "nope.csv")
    path = write_csv(tmp_path / "t.csv", COLUMNS, ROWS)
    with pytest.raises(ParameterError, match="'D'"):
        read_table(path, use_columns=["A", "D"])
    other = tmp_path / "t.docx"
    other.write_bytes(b"x")
    with pytest.raises(InputError, match="unknown file type"):
        read_table(other)
    fake = tmp_path / "t.parquet"
    fake.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="not a readable parquet"):
        read_table(fake)


def test_a_quote_inside_a_header_name_still_reads(tmp_path):
    path = tmp_path / "q.csv"
    path.write_bytes(b'A,B"x,"C,1"\n1,2,3\n')
    assert read_table(path).column_names == ["A", 'B"x', "C,1"]


def test_one_column_with_the_delimiter_given_is_a_hint_too(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"A|B\nx|1\n")
    with pytest.raises(InputError, match=r"give --delimiter '\|'"):
        read_table(path, delimiter=",")
    assert read_table(path, delimiter="|").column_names == ["A", "B"]


def test_a_column_name_with_a_line_break_is_refused_in_every_format(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"A": ["x"], "B\nC": ["y"]}), path)
    with pytest.raises(InputError, match="column #2's name holds a line break"):
        read_table(path)


@pytest.mark.parametrize("damage", ["cut short", "not its codec"])
def test_a_damaged_compressed_file_is_one_line(tmp_path, damage):
    text = "A,B\n" + "".join(f"a{i % 997},b{i * 7919 % 1009}\n" for i in range(50_000))
    packed = gzip.compress(text.encode())
    path = tmp_path / "t.csv.gz"
    path.write_bytes(packed[: len(packed) // 2] if damage == "cut short" else b"plain text, not gzip\n")
    with pytest.raises(InputError, match="t.csv.gz: the .gz file is damaged or cut short") as error:
        read_table(path)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("streamed", [False, True])
def test_a_float_nan_is_no_attribute_not_a_value(tmp_path, streamed):
    from showcase.engine import Exact, Resources, aggregate

    path = tmp_path / "typed.parquet"
    pq.write_table(pa.table({"f": [1.5, float("nan"), None, 2.0] * 5, "g": ["a", "b"] * 10}), path)
    result = aggregate(path, protection=Exact(), length=1, resources=Resources(stream=streamed))
    assert result.exact.schema.dictionaries[0].to_pylist() == ["1.5", "2"]  # no "nan"


@pytest.mark.parametrize("streamed", [False, True])
def test_an_input_with_no_attribute_at_all_is_one_line(tmp_path, streamed):
    from showcase.engine import KAnonymity, Resources, aggregate

    path = write_csv(tmp_path / "empty.csv", COLUMNS, [("", "0", ""), ("", "", "")] * 5)
    with pytest.raises(InputError, match="nothing to count"):
        aggregate(path, protection=KAnonymity(2), length=2, resources=Resources(stream=streamed))
    # Under DP the release goes on: a refusal would tell this input from its neighbour with one value.
    from showcase.engine import DifferentialPrivacy

    dp = DifferentialPrivacy(2.0, delta=1e-6, ledger=tmp_path / "ledger.sqlite")
    assert len(aggregate(path, protection=dp, length=2, resources=Resources(stream=streamed)).released) == 0


def test_a_binary_or_utf16_file_is_not_taken_for_a_delimiter_problem(tmp_path):
    path = tmp_path / "cases.csv"
    path.write_bytes("sex,age\nF,30\n".encode("utf-16-le"))
    with pytest.raises(InputError, match="NUL bytes: not UTF-8 text"):
        read_table(path)


def test_use_columns_match_names_exactly_before_ignoring_spaces(tmp_path, capsys):
    """``--use-columns 'sp '`` released the column ``sp`` beside it: names were stripped first."""
    from .helpers import run

    path = tmp_path / "names.parquet"
    pq.write_table(
        pa.table({"sp": ["A", "B"], "sp ": ["n1", "n2"], "age": ["1", "2"], " z": ["x", "y"]}), path
    )
    assert read_table(path, use_columns=["sp "]).column_names == ["sp "]
    assert read_table(path, use_columns=["sp"]).column_names == ["sp"]
    assert read_table(path, use_columns=[" age", "z"]).column_names == ["age", " z"]  # spaces ignored
    with pytest.raises(ParameterError, match="once spaces are ignored"):
        read_table(path, use_columns=[" sp  "])
    code, _, stderr = run(capsys, "aggregate", path, "--use-columns", "sp ,age", "-k", "1", "-l", "1",
                          "-o", tmp_path / "out", "--no-progress")  # fmt: skip
    assert code == 0, stderr
    header = (tmp_path / "out" / "aggregates.tsv").read_text()
    assert "sp :n1" in header and "sp:A" not in header


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("streamed", [False, True])
def test_every_line_ending_reads_alike(tmp_path, ending, streamed):
    """LF, CRLF and a lone CR (old Mac files) end lines alike; a lone CR had made the whole file one
    header line and an 'unexpected' error."""
    from showcase.engine import Exact, aggregate
    from showcase.engine.aggregates_io import read_aggregates
    from showcase.engine.resources import Resources

    path = tmp_path / "cases.csv"
    path.write_bytes(ending.join(["A,B", "a,x", "a,x", "b,y", ""]).encode())
    aggregate(path, protection=Exact(), length=2, out=tmp_path / "out", resources=Resources(stream=streamed))
    released, _ = read_aggregates(tmp_path / "out" / "sensitive_aggregates.parquet")
    assert released.record_count == 3 and sorted(released.count.tolist()) == [1, 1, 1, 2, 2, 2]


@pytest.mark.parametrize("streamed", [False, True])
def test_bad_utf8_names_its_column_never_its_bytes(tmp_path, streamed):
    """The message names the column by its header (pyarrow numbers columns from 0, which read as
    the wrong one) and never repeats the bytes."""
    from showcase.engine import Exact, aggregate
    from showcase.engine.resources import Resources

    path = tmp_path / "latin1.csv"
    path.write_bytes("A,B,C\na,x,u\nb,café,v\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"invalid UTF-8 text in column 'B'; re-save") as caught:
        aggregate(path, protection=Exact(), length=1, resources=Resources(stream=streamed))
    assert "caf" not in str(caught.value)


def test_sensitive_zeros_match_names_as_use_columns_do(tmp_path, capsys):
    """``--sensitive-zeros ' sp'`` named no column: the list was stripped before it was matched."""
    from .helpers import run

    table = pa.table({" sp": ["0", "0", "1"], "sp": ["0", "1", "1"], "b": ["0", "x", "0"]})
    zeros = {name: encode(table, sensitive_zeros=[name]).schema.dictionaries for name in (" sp", "sp", " b")}
    assert zeros[" sp"][0].to_pylist() == ["0", "1"] and zeros[" sp"][1].to_pylist() == ["1"]
    assert zeros["sp"][0].to_pylist() == ["1"] and zeros["sp"][1].to_pylist() == ["0", "1"]
    assert zeros[" b"][2].to_pylist() == ["0", "x"]  # no exact match: matched with spaces ignored
    with pytest.raises(ParameterError, match="once spaces are ignored"):
        encode(table, sensitive_zeros=[" sp "])
    path = tmp_path / "in.parquet"
    pq.write_table(table, path)
    code, _, stderr = run(capsys, "aggregate", path, "--sensitive-zeros", " sp", "-k", "1", "-l", "1",
                          "-o", tmp_path / "out", "--no-progress")  # fmt: skip
    assert code == 0, stderr
    assert " sp:0\t2" in (tmp_path / "out" / "aggregates.tsv").read_text()
