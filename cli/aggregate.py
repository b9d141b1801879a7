"""``showcase aggregate``: count combinations and write protected aggregates."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from showcase.engine import aggregate as run_aggregate

from . import console, options


def aggregate(
    input: Path = typer.Argument(..., help="Sensitive microdata: .csv, .tsv, .parquet or .arrow."),
    length: int = typer.Option(
        3, "--length", "-l", min=1, help="Reporting length L: longest combination counted."
    ),
    resolution: int = typer.Option(
        10,
        "--resolution",
        "-k",
        min=1,
        help="k: combinations with fewer records are not reported; "
        "counts are rounded down to multiples of k.",
    ),  # fmt: skip
    out: Path = typer.Option(..., "--out", "-o", help="Release directory to create."),
    delimiter: str | None = options.DELIMITER,
    use_columns: str | None = options.USE_COLUMNS,
    record_limit: int | None = options.RECORD_LIMIT,
    null_marker: list[str] | None = options.NULL_MARKER,
    sensitive_zeros: str | None = options.SENSITIVE_ZEROS,
    unprotected: bool = typer.Option(
        False,
        "--unprotected",
        help="Write EXACT counts (sensitive_aggregates.*). They are as "
        "sensitive as the input: never publish them.",
    ),  # fmt: skip
    force: bool = typer.Option(False, "--force", help="Replace --out if it exists."),
    threads: int | None = options.THREADS,
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Count every combination of up to L attributes and release k-anonymous counts.

    Writes OUT/aggregates.parquet, OUT/aggregates.tsv (Synthetic Data Showcase
    format) and OUT/metadata.json, all at once or not at all.

    Example:

        showcase aggregate cases.csv --length 3 --resolution 10 --out release/
    """
    if unprotected:
        console.warning("--unprotected: the release holds exact counts, as sensitive as the input data.")
    prep = options.preparation(delimiter, use_columns, record_limit, null_marker, sensitive_zeros)
    started = time.perf_counter()
    with console.stage_progress(progress) as report:
        result = run_aggregate(
            input,
            length=length,
            resolution=resolution,
            out=out,
            preparation=prep,
            unprotected=unprotected,
            force=force,
            threads=threads,
            progress=report,
        )
    elapsed = time.perf_counter() - started
    released, exact = result.released, result.exact
    by_length = released.by_length()
    rare = result.rare_by_length
    rows = [["records", f"{exact.record_count:,}", "", ""]]
    rows += [
        [f"length {k + 1}", f"{exact.by_length()[k]:,}", f"{by_length[k]:,}", f"{rare[k]:,}"]
        for k in range(released.reporting_length)
    ]
    rows.append(["total", f"{len(exact):,}", f"{len(released):,}", f"{int(rare.sum()):,}"])
    console.table(
        f"Aggregates written to {out} in {elapsed:.1f} s",
        ["", "combinations", "released", f"rare (< {resolution})"],
        rows,
    )
