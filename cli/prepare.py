"""``showcase prepare``: the input as showcase prepares it, to check before any release."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from . import console, options


@options.command
def prepare(
    input: Path = options.INPUT,
    out: Path = typer.Option(
        ..., "--out", "-o", help="Directory to create: prepared.parquet, metadata.json."
    ),
    read: options.Read = options.READ,
    join_multi_value: bool = typer.Option(
        True,
        "--join-multi-value/--flag-multi-value",
        help="Write each multi-value column as one cell of its values, or as one 0/1 column per value.",
    ),  # fmt: skip
    seed: int | None = typer.Option(
        None,
        "--seed",
        min=0,
        help="Seed for which linked rows are dropped beyond --max-linked, to repeat "
        "a preparation exactly. Default: the OS's secure randomness.",
    ),  # fmt: skip
    force: bool = options.FORCE,
    progress: bool = options.PROGRESS,
) -> None:
    """Prepare sensitive case data as every release would, and write it to check.

    Merges each subject's rows, splits multi-value cells, bins numbers, joins
    a linked table and checks values against the codebook; writes the
    subject-level table (prepared.parquet) and what changed (metadata.json).
    Both are as sensitive as the input.

    Example:

    \b
        showcase codebook infer victims.csv --link perpetrators.csv \\
            --on victim_id --out codebook.yaml
        showcase prepare victims.csv --codebook codebook.yaml --out prepared/
    """
    from showcase.engine import prepare_input

    started = time.perf_counter()
    with console.stage_progress(progress) as bar:
        loaded = prepare_input(input, out=out, preparation=read.preparation(), seed=seed, force=force,
                               join_multi_value=join_multi_value, progress=bar)  # fmt: skip
    options.report_preparation(loaded)
    changes = loaded.changes
    for name, n in changes.get("dropped_unknown", {}).items():
        console.note(f"column {name!r}: dropped {n:,} value(s) outside the codebook")
    for name, cells in changes.get("split_cells", {}).items():
        if cells:
            console.note(f"column {name!r}: {cells:,} cell(s) held several values")
    for name, bins in changes.get("binned", {}).items():
        console.note(f"column {name!r} binned at {bins['edges']}")
    # The columns of the file as written (the subject id, and indicator columns with
    # --flag-multi-value, included), as its metadata lists them.
    columns = json.loads((out / "metadata.json").read_text(encoding="utf-8"))["columns"]
    console.out.print(
        f"Wrote {loaded.table.n_rows:,} records × {len(columns)} columns to {out} in "
        f"{time.perf_counter() - started:.1f} s (as sensitive as the input)",
        soft_wrap=True,
    )
