"""Excel input: an .xlsx sheet counts as the same data as a CSV, --sheet picks the sheet, bad
workbooks are one-line errors that never show a cell."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys

import pytest

from showcase.engine import InputError, KAnonymity, ParameterError, Preparation, aggregate, read_parquet
from showcase.engine.ingest import read_table

from .conftest import as_dict
from .helpers import run

openpyxl = pytest.importorskip("openpyxl")

COLUMNS = ["sex", "age_band", "region"]
ROWS = [
    ["F", "18-25", "north"],
    ["F", "18-25", "south"],
    ["M", "26-40", "north"],
    ["M", "18-25", None],
    ["F", "26-40", "north"],
    ["M", "26-40", "south"],
    ["F", "18-25", "north"],
    [None, "26-40", "north"],
]
#: A cell value that must never appear in an error message.
SECRET = "Secret-Value-1234"


def workbook(path, sheets):
    """Write ``{sheet name: rows}`` (the first row is the header) as an .xlsx workbook."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def as_csv(path, columns, rows):
    lines = [",".join(columns)] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_xlsx_counts_what_the_same_csv_counts(tmp_path):
    book = workbook(tmp_path / "cases.xlsx", {"cases": [COLUMNS, *ROWS]})
    text = as_csv(tmp_path / "cases.csv", COLUMNS, ROWS)
    from_excel = aggregate(book, protection=KAnonymity(2), length=3)
    from_csv = aggregate(text, protection=KAnonymity(2), length=3)
    assert as_dict(from_excel.released) == as_dict(from_csv.released)
    assert as_dict(from_excel.exact) == as_dict(from_csv.exact)


def test_cells_are_read_as_text_as_shown(tmp_path):
    rows = [
        ["n", "x", "when", "flag", "empty"],
        [5, 2.5, datetime.date(2020, 1, 2), True, None],
        [12, 0.1, datetime.datetime(2021, 3, 4, 5, 6, 7), False, None],
        [7, 3, None, None, "e"],
    ]
    book = workbook(tmp_path / "types.xlsx", {"s": rows})
    table = read_table(book)
    got = {name: table.column(name).cast("string").to_pylist() for name in table.column_names}
    assert got == {
        "n": ["5", "12", "7"],
        "x": ["2.5", "0.1", "3"],
        "when": ["2020-01-02", "2021-03-04 05:06:07", None],
        "flag": ["true", "false", None],
        "empty": [None, None, "e"],
    }


def test_use_columns_and_record_limit_apply_to_a_sheet(tmp_path):
    book = workbook(tmp_path / "cases.xlsx", {"cases": [COLUMNS, *ROWS]})
    table = read_table(book, use_columns=["region", "sex"], record_limit=3)
    assert table.column_names == ["sex", "region"]
    assert table.column("region").cast("string").to_pylist() == ["north", "south", "north"]


def test_sheet_picks_the_sheet_through_the_cli(tmp_path, capsys):
    other = [["colour"], ["red"], ["red"], ["blue"]]
    book = workbook(tmp_path / "cases.xlsx", {"cases": [COLUMNS, *ROWS], "other": other})
    first, second = tmp_path / "first", tmp_path / "second"
    code, _, stderr = run(capsys, "aggregate", book, "-l", 1, "-k", 1, "-o", first, "--no-progress")
    assert code == 0, stderr
    assert {key[0][0] for key in as_dict(read_parquet(first / "aggregates.parquet"))} == set(COLUMNS)
    code, _, stderr = run(capsys, "aggregate", book, "-l", 1, "-k", 1, "-o", second, "--no-progress",
                          "--sheet", "other")  # fmt: skip
    assert code == 0, stderr
    colours = as_dict(read_parquet(second / "aggregates.parquet"))
    assert colours == {(("colour", "red"),): 2, (("colour", "blue"),): 1}
    first_meta = json.loads((first / "metadata.json").read_text())
    second_meta = json.loads((second / "metadata.json").read_text())
    assert "sheet" not in first_meta["preparation"] and second_meta["preparation"]["sheet"] == "other"
    assert second_meta["input"]["format"] == "xlsx"


def test_a_workbook_is_not_streamed_and_says_why(tmp_path, capsys):
    book = workbook(tmp_path / "cases.xlsx", {"cases": [COLUMNS, *ROWS]})
    code, _, stderr = run(capsys, "aggregate", book, "--stream", "-o", tmp_path / "a", "--no-progress")
    assert code == 2 and "a workbook is read whole" in stderr and not (tmp_path / "a").exists()


def test_sheet_is_refused_for_other_inputs(tmp_path):
    text = as_csv(tmp_path / "cases.csv", COLUMNS, ROWS)
    with pytest.raises(ParameterError, match="--sheet applies to Excel inputs"):
        aggregate(text, protection=KAnonymity(2), preparation=Preparation(sheet="cases"))
    with pytest.raises(ParameterError, match="--sheet applies to Excel inputs"):
        aggregate(read_table(text), protection=KAnonymity(2), preparation=Preparation(sheet="cases"))


def test_preparation_metadata_without_a_sheet_is_unchanged():
    assert "sheet" not in Preparation().describe()
    assert Preparation(sheet="cases").describe()["sheet"] == "cases"


def bad_workbooks(tmp_path):
    """Name → (path, extra options, words the one-line message holds)."""
    good = [COLUMNS, [SECRET, "18-25", "north"]]
    corrupt = tmp_path / "corrupt.xlsx"
    corrupt.write_text(f"{SECRET},a,b\n1,2,3\n", encoding="utf-8")
    duplicate = workbook(tmp_path / "duplicate.xlsx", {"s": [["A", "A"], [SECRET, "x"]]})
    blank = workbook(tmp_path / "blank.xlsx", {"s": [["A", None, "C"], [SECRET, "x", "y"]]})
    longer = workbook(tmp_path / "longer.xlsx", {"s": [["A", "B"], [SECRET, "x"], ["y", "z", "beyond"]]})
    header = workbook(tmp_path / "header.xlsx", {"s": [["A", "B"]]})
    empty = workbook(tmp_path / "empty.xlsx", {"s": []})
    book = workbook(tmp_path / "good.xlsx", {"cases": good, "more": good})
    csv = as_csv(tmp_path / "good.csv", COLUMNS, [[SECRET, "18-25", "north"]])
    return {
        "corrupt file": (corrupt, [], "not a readable .xlsx workbook"),
        "duplicate columns": (duplicate, [], "duplicate column name 'A'"),
        "empty column name": (blank, [], "column #2 has an empty name"),
        "a row longer than the header": (longer, [], "column #3 has an empty name"),
        "header only": (header, [], "no records"),
        "empty sheet": (empty, [], "empty"),
        "unknown sheet": (book, ["--sheet", "nope"], "no sheet named 'nope'; the workbook has 'cases'"),
        "unknown use_columns": (book, ["--use-columns", "sex,Q"], "'Q'"),
        "sheet for a csv": (csv, ["--sheet", "cases"], "--sheet applies to Excel inputs"),
    }


CASES = [
    "corrupt file", "duplicate columns", "empty column name", "header only", "empty sheet", "unknown sheet",
    "unknown use_columns", "sheet for a csv", "a row longer than the header",
]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_bad_workbooks_one_line_exit_2_nothing_written(tmp_path, capsys, case):
    path, extra, message = bad_workbooks(tmp_path)[case]
    out = tmp_path / "out"
    code, stdout, stderr = run(capsys, "aggregate", path, "-o", out, "--no-progress", *extra)
    assert code == 2
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), stderr
    assert message in lines[0]
    assert SECRET not in stderr and SECRET not in stdout
    assert not out.exists()


def test_errors_are_input_errors_in_the_engine(tmp_path):
    corrupt = tmp_path / "x.xlsx"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="not a readable .xlsx workbook"):
        read_table(corrupt)


def test_fastexcel_is_imported_only_to_read_a_workbook(tmp_path):
    text = as_csv(tmp_path / "cases.csv", COLUMNS, ROWS)
    book = workbook(tmp_path / "cases.xlsx", {"cases": [COLUMNS, *ROWS]})
    probe = (
        "import sys\n"
        "from showcase.engine.ingest import read_table\n"
        "from showcase.cli.main import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['aggregate', '--help'])\n"
        f"read_table({str(text)!r})\n"
        "before = 'fastexcel' in sys.modules\n"
        f"read_table({str(book)!r})\n"
        "print(before, 'fastexcel' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]
