"""One-line refusals: options a command would not use, and inputs or outputs it cannot use as given."""

from __future__ import annotations

import errno

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from showcase.datasets import generate_table, write_table

from .helpers import compare, run


@pytest.fixture
def cases(tmp_path):
    path = tmp_path / "cases.csv"
    write_table(generate_table(300, 4, seed=2), path)
    return path


def error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.mark.parametrize(
    "extra, flag",
    [(["--use-columns", "sex"], "--use-columns"), (["--delimiter", ";"], "--delimiter"),
     (["--record-limit", "5"], "--record-limit"), (["--null-marker", "N"], "--null-marker")],
)  # fmt: skip
def test_synthesis_from_aggregates_alone_refuses_options_for_reading_an_input(
    tmp_path, capsys, cases, extra, flag
):
    release = tmp_path / "r"
    assert run(capsys, "aggregate", cases, "-k", 2, "-l", 2, "-o", release, "--no-progress")[0] == 0
    out = tmp_path / "s"
    code, _, stderr = run(
        capsys, "synthesize", "--from-aggregates", release, *extra, "-o", out, "--no-progress"
    )
    assert code == 2 and flag in error_line(stderr) and "reads none" in stderr
    assert not out.exists()
    assert run(capsys, "synthesize", "--from-aggregates", release, "-o", out, "--no-progress")[0] == 0


def test_a_delimiter_for_a_parquet_input_is_refused(tmp_path, capsys, cases):
    parquet = tmp_path / "cases.parquet"
    pq.write_table(pacsv.read_csv(cases), parquet)
    code, _, stderr = run(
        capsys, "aggregate", parquet, "--delimiter", ";", "-o", tmp_path / "a", "--no-progress"
    )
    assert code == 2 and "--delimiter applies to .csv and .tsv inputs only" in error_line(stderr)
    assert run(capsys, "aggregate", parquet, "-o", tmp_path / "b", "--no-progress")[0] == 0


def test_a_multi_value_column_with_an_empty_delimiter_is_refused(tmp_path, capsys, cases):
    code, _, stderr = run(
        capsys, "aggregate", cases, "--multi-value", "sex=", "-o", tmp_path / "a", "--no-progress"
    )
    assert code == 2 and "COLUMN=DELIMITER" in stderr and "Traceback" not in stderr


def test_an_epsilon_sweep_needs_a_mechanism_that_takes_one(tmp_path, capsys, cases):
    code, _, stderr = compare(capsys, cases, tmp_path / "c", ["aggregate:k=5"], "-l", 2, "--epsilon", 1)
    assert code == 2 and "none of these does" in error_line(stderr)
    assert not (tmp_path / "c").exists()


def test_cases_refuses_an_out_that_names_a_file(tmp_path, capsys):
    code, _, stderr = run(capsys, "datasets", "generate", "cases", "--rows", 1000, "-o", tmp_path / "c.csv")
    assert code == 2 and "cases writes a folder" in error_line(stderr)
    assert not (tmp_path / "c.csv").exists()


def test_ledger_show_of_a_missing_input_says_so(tmp_path, capsys):
    code, _, stderr = run(capsys, "ledger", "show", tmp_path / "nope.csv")
    assert code == 2 and "no such file" in error_line(stderr)


def test_a_codebook_missing_many_columns_lists_a_few(tmp_path, capsys, cases):
    book = tmp_path / "book.yaml"
    columns = "".join(f"  c{i}: {{values: [a]}}\n" for i in range(20))
    book.write_text(f"showcase_codebook: 1\ncolumns:\n{columns}", encoding="utf-8")
    code, _, stderr = run(capsys, "codebook", "check", book, cases)
    assert code == 2 and "and 12 more" in error_line(stderr)


def test_a_full_disk_is_one_line_that_says_where(tmp_path, capsys, cases, monkeypatch):
    from showcase.engine.jobs import skeleton

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(skeleton.Job, "write", full)
    code, _, stderr = run(capsys, "aggregate", cases, "-o", tmp_path / "a", "--no-progress")
    assert code == 1 and "free space on the disk of --out" in error_line(stderr)
