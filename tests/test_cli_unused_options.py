"""An option the command would not use is refused in one line, not silently ignored."""

from __future__ import annotations

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
