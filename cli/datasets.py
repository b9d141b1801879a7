"""``showcase datasets generate``: realistic fake data for trying things out."""

from __future__ import annotations

import contextlib
from pathlib import Path

import typer

from . import console, options

app = options.typer_app("Generate realistic fake datasets.")
generate = options.typer_app("Generate a dataset of a given kind.")
app.add_typer(generate, name="generate")
SUFFIXES = (".csv", ".tsv", ".parquet")


@generate.command("table", short_help="Fake case records: one table, CSV, TSV or Parquet.")
def table(
    rows: int = typer.Option(10_000, "--rows", "-n", min=1, help="Number of records."),
    columns: int = typer.Option(20, "--columns", "-c", min=1, help="Number of categorical columns."),
    seed: int = typer.Option(0, "--seed", "-s", min=0, help="Seed: the same seed gives the same file."),
    out: Path = typer.Option(..., "--out", "-o", help="File to write: .csv, .tsv or .parquet."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Replace --out if showcase wrote it and nobody changed it since (never your own file).",
    ),
) -> None:
    """Fake case records: dependent categorical columns with rare combinations.

    Example:

    \b
        showcase datasets generate table --rows 100000 --columns 20 --seed 1 \\
            --out cases.csv
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


@generate.command("cases", short_help="Fake CTDC-shaped victims, perpetrators, codebook.")
def cases(
    rows: int = typer.Option(10_000, "--rows", "-n", help="Number of victims (1,000 to 10,000,000)."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Folder to write victims.FMT, perpetrators.FMT and codebook.yaml into."
    ),
    seed: int = typer.Option(0, "--seed", "-s", min=0, help="Seed: the same seed gives the same files."),
    format: str = typer.Option("csv", "--format", "-f", help="csv or parquet."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Write into an existing non-empty folder, replacing the three files only if showcase "
        "wrote them and nobody changed them since.",
    ),
) -> None:
    """Fake trafficking cases shaped like CTDC: a victims table and a perpetrators table.

    Victims have dependent columns (latent case profiles), numeric age and
    months trafficked, means of control and exploitation as flags and as
    ;-joined multi-value columns; each victim has 0 to 30 perpetrators.

    Example:

    \b
        showcase datasets generate cases --rows 100000 --seed 1 \\
            --out cases/ --format parquet
    """
    from showcase.datasets import CODEBOOK_NAME, case_file_names, check_victims, write_cases, write_codebook
    from showcase.engine import ParameterError, lock_output, release_locks, staged_file

    check_victims(rows)
    names = (*case_file_names(format.lower()), CODEBOOK_NAME)
    created = False
    try:
        if out.is_symlink() and not out.is_dir():
            raise ParameterError(f"{out} is a broken symbolic link; give a folder")
        if out.exists() and not out.is_dir():
            raise ParameterError(f"{out} exists and is not a folder; give a folder for the two files")
        if not out.exists() and out.suffix.lower() in (*SUFFIXES, ".yaml", ".yml", ".json"):
            raise ParameterError(
                f"--out {out} names a file, and cases writes a folder of files: give a folder such as "
                f"{out.with_suffix('')}/"
            )
        if out.is_dir() and any(out.iterdir()) and not force:
            raise ParameterError(
                f"{out} is not empty; choose another --out or pass --force to replace {', '.join(names)}"
            )
        if not out.exists():
            if not out.parent.is_dir():
                raise ParameterError(f"{out.parent} does not exist or is not a folder; create it first")
            out.mkdir()
            created = True
        targets = [out / name for name in names]
        for target in targets:
            if target.is_symlink() or (target.exists() and not target.is_file()):
                raise ParameterError(f"{target} exists and is not a regular file; move it away first")
            lock_output(target, target)
        with (
            staged_file(targets[0], force) as victims_stage,
            staged_file(targets[1], force) as perpetrators_stage,
            staged_file(targets[2], force) as codebook_stage,
        ):
            victims, perpetrators = write_cases(rows, seed, victims_stage, perpetrators_stage)
            write_codebook(codebook_stage, names[1])
    except BaseException:
        release_locks()
        if created:
            with contextlib.suppress(OSError):
                out.rmdir()  # only the folder this run made, and only while it is empty
        raise
    finally:
        release_locks()
    console.out.print(
        f"Wrote {victims:,} victims and {perpetrators:,} perpetrator rows to {out} ({names[0]}, {names[1]}, "
        f"and their public codebook {names[2]})",
        soft_wrap=True,
    )
