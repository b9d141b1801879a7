"""``showcase datasets generate``: realistic fake data for trying things out."""

from __future__ import annotations

from pathlib import Path

import typer

from . import console, options

app = options.typer_app("Generate realistic fake datasets.")
generate = options.typer_app("Generate a dataset of a given kind.")
app.add_typer(generate, name="generate")
SUFFIXES = (".csv", ".tsv", ".parquet")


@generate.command("table")
def table(
    rows: int = typer.Option(10_000, "--rows", "-n", min=1, help="Number of records."),
    columns: int = typer.Option(20, "--columns", "-c", min=1, help="Number of categorical columns."),
    seed: int = typer.Option(0, "--seed", "-s", min=0, help="Seed: the same seed gives the same file."),
    out: Path = typer.Option(..., "--out", "-o", help="File to write: .csv, .tsv or .parquet."),
    force: bool = typer.Option(False, "--force", help="Replace --out if it is an existing file."),
) -> None:
    """Fake case records: dependent categorical columns with rare combinations.

    Example:

    \b
        showcase datasets generate table --rows 100000 --columns 20 --seed 1 --out cases.csv
    """
    from showcase.datasets import check_size, generate_table, write_table
    from showcase.engine import ParameterError, check_output_file, release_locks, staged_file

    check_size(rows, columns)
    try:
        check_output_file(out, force)
        if out.suffix.lower() not in SUFFIXES:
            raise ParameterError(f"{out.name}: write .csv, .tsv or .parquet")
        with staged_file(out, force) as partial:
            write_table(generate_table(rows, columns, seed), partial)
    finally:
        release_locks()
    console.out.print(f"Wrote {rows:,} records × {columns} columns to {out}")
