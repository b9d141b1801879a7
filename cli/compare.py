"""``showcase compare``: mechanisms side by side on the same metrics."""

from __future__ import annotations

from pathlib import Path

import typer

from showcase.engine.compare import MECHANISMS
from showcase.engine.comparison_job import compare as run_compare

from . import console, options


def compare(
    sensitive: Path = typer.Argument(..., help="The sensitive microdata."),
    mechanism: list[str] = typer.Option(
        ...,
        "--mechanism",
        "-m",
        help="NAME[:key=value,...], repeatable. Names: "
        + ", ".join(MECHANISMS)
        + ". E.g. row_seeded:k=10, aggregate:k=5, pac-synth:epsilon=4.",
    ),  # fmt: skip
    out: Path = typer.Option(..., "--out", "-o", help="Directory for the comparison."),
    length: int = typer.Option(3, "--length", "-l", min=1, help="Longest combination compared."),
    resolution: int = typer.Option(10, "--resolution", "-k", min=1, help="k for rare combinations."),
    seed: int | None = typer.Option(
        None,
        "--seed",
        min=0,
        help="Seed for every mechanism (for testing: the outputs say 'seeded', never the seed); "
        "default: OS randomness.",
    ),
    group_column: str | None = typer.Option(
        None, "--group-column", help="Column added to every k-marginal (default: PUMA if present)."
    ),
    delimiter: str | None = options.DELIMITER,
    use_columns: str | None = options.USE_COLUMNS,
    record_limit: int | None = options.RECORD_LIMIT,
    null_marker: list[str] | None = options.NULL_MARKER,
    sensitive_zeros: str | None = options.SENSITIVE_ZEROS,
    force: bool = options.FORCE,
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
) -> None:
    """Run several mechanisms and compare their releases with the same metrics.

    Writes comparison.csv, comparison.json (with whether each mechanism was
    seeded and its full evaluation) and report.html. Peers (pac-synth, SmartNoise mst/aim) run
    only when installed.

    Example:

        showcase compare cases.csv -m aggregate:k=10 -m row_seeded:k=10 -m pac-synth:epsilon=4 --out cmp/
    """
    prep = options.preparation(delimiter, use_columns, record_limit, null_marker, sensitive_zeros)
    with console.stage_progress(progress) as report:
        result = run_compare(sensitive, mechanism, length=length, resolution=resolution, out=out,
                             preparation=prep, seed=seed, group=group_column, force=force,
                             progress=report)  # fmt: skip
    rows = [[r["mechanism"], f"{r['seconds']:.1f}", f"{r['record_expansion']:.3f}",
             "–" if r["k_marginal"] is None else f"{r['k_marginal']:.1f}",
             f"{r['preserved_pct']:.1f}", f"{r['fabricated_pct']:.1f}",
             f"{r['mean_absolute_error']:.2f}"] for r in result["summary"]]  # fmt: skip
    console.table(f"Comparison written to {out}",
                  ["mechanism", "seconds", "expansion", "k-marginal", "preserved %",
                   "fabricated %", "MAE"], rows)  # fmt: skip
